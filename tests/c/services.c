/* Resolving a Service: NotFound for an unknown Service, Unavailable while no pod behind it
   is ready, Invalid for an unknown port name, and the ready pods' addresses in turn once
   C workers report ready (and not after one withdraws readiness). */
#include <stdatomic.h>

#include "check.h"

static const char *BAD = "caf\xc3("; /* invalid UTF-8 */

/* Pod names whose worker is ready ("api-0" -> ready[0]). */
static atomic_int ready[2];

static int32_t start_api(void *userdata, const steady_worker *w) {
    (void)userdata;
    int i = steady_worker_pod_name(w)[4] - '0';
    int was = -1;
    while (steady_worker_wait_stop(w, 2) == STEADY_TIMEOUT) {
        int now = atomic_load(&ready[i]);
        if (now != was) {
            if (now) steady_worker_ready(w); else steady_worker_not_ready(w);
            was = now;
        }
    }
    return 0;
}

static char node[256];

static void create_pod(steady_engine *e, const char *name) {
    char pod[1024];
    snprintf(pod, sizeof pod,
             "{\"apiVersion\": \"v1\", \"kind\": \"Pod\", \"metadata\": {\"name\": \"%s\","
             " \"labels\": {\"app\": \"api\"}},"
             " \"spec\": {\"nodeName\": \"%s\", \"containers\": [{\"name\": \"api\","
             "  \"image\": \"api\", \"ports\": [{\"name\": \"http\", \"containerPort\": 9000},"
             "  {\"name\": \"admin\", \"containerPort\": 9100}]}]}}",
             name, node);
    CHECK_OK(steady_engine_create(e, pod, NULL));
}

/* Resolves the Service once, copying the address into `got` on success. */
static steady_result resolve(steady_engine *e, const char *port, char *got, size_t size) {
    char *address = NULL;
    steady_result rc = steady_engine_resolve(e, NULL, "api", port, &address);
    if (rc == STEADY_OK) {
        snprintf(got, size, "%s", address);
        steady_string_free(address);
    }
    return rc;
}

int main(void) {
    steady_engine *e = NULL;
    CHECK_OK(steady_engine_new("{\"workers\": 2}", &e));
    char *names = NULL;
    CHECK_OK(steady_engine_node_names(e, &names));
    CHECK(names != NULL && sscanf(names, "[\"%255[^\"]\"]", node) == 1);
    steady_string_free(names);
    CHECK_OK(steady_engine_register_worker(e, "api", start_api, NULL, NULL, NULL));

    char *out = (char *)"untouched";
    CHECK_RC(steady_engine_resolve(NULL, NULL, "api", NULL, &out), STEADY_NULL_PARAMETER);
    CHECK_RC(steady_engine_resolve(e, NULL, NULL, NULL, &out), STEADY_NULL_PARAMETER);
    CHECK_ERROR_MENTIONS("parameter service is NULL");
    CHECK_RC(steady_engine_resolve(e, NULL, "api", NULL, NULL), STEADY_NULL_PARAMETER);
    CHECK_ERROR_MENTIONS("parameter out_address is NULL");
    CHECK_RC(steady_engine_resolve(e, BAD, "api", NULL, &out), STEADY_INVALID_UTF8);
    CHECK_RC(steady_engine_resolve(e, NULL, BAD, NULL, &out), STEADY_INVALID_UTF8);
    CHECK_RC(steady_engine_resolve(e, NULL, "api", BAD, &out), STEADY_INVALID_UTF8);
    CHECK_ERROR_MENTIONS("parameter port is not valid UTF-8");
    CHECK_RC(steady_engine_resolve(e, NULL, "api", NULL, &out), STEADY_NOT_FOUND);
    CHECK_ERROR_MENTIONS("\"default/api\"");
    CHECK(strcmp(out, "untouched") == 0);

    CHECK_OK(steady_engine_apply(e,
        "apiVersion: v1\nkind: Service\nmetadata: {name: api}\n"
        "spec:\n  selector: {app: api}\n  ports:\n"
        "  - {name: http, port: 80, targetPort: http}\n"
        "  - {name: admin, port: 81, targetPort: admin}\n", NULL));
    create_pod(e, "api-0");
    create_pod(e, "api-1");
    char got[64] = "";
    /* Running, but no worker is ready: Unavailable, until one is. */
    CHECK_RC(resolve(e, NULL, got, sizeof got), STEADY_UNAVAILABLE);
    CHECK_RC(resolve(e, "nope", got, sizeof got), STEADY_INVALID);
    CHECK_ERROR_MENTIONS("no port named \"nope\"");

    atomic_store(&ready[0], 1);
    EVENTUALLY(resolve(e, NULL, got, sizeof got) == STEADY_OK, 60);
    CHECK_CONTAINS(got, ":9000");
    CHECK_OK(resolve(e, "admin", got, sizeof got));
    CHECK_CONTAINS(got, ":9100");

    /* Both ready: the resolver takes turns between the two addresses. */
    atomic_store(&ready[1], 1);
    char seen[2][64] = {"", ""};
    double deadline = now_s() + 60;
    while (now_s() < deadline && (!seen[0][0] || !seen[1][0] || strcmp(seen[0], seen[1]) == 0)) {
        if (resolve(e, "http", got, sizeof got) == STEADY_OK) {
            if (!seen[0][0]) snprintf(seen[0], sizeof seen[0], "%s", got);
            else snprintf(seen[1], sizeof seen[1], "%s", got);
        }
        sleep_ms(2);
    }
    CHECK(seen[0][0] && seen[1][0] && strcmp(seen[0], seen[1]) != 0);

    /* Neither ready again: Unavailable. */
    atomic_store(&ready[0], 0);
    atomic_store(&ready[1], 0);
    EVENTUALLY(resolve(e, NULL, got, sizeof got) == STEADY_UNAVAILABLE, 60);
    CHECK_ERROR_MENTIONS("no ready endpoints");
    steady_engine_free(e);
    TEST_DONE();
}
