/* Host workers: a C start callback runs each instance of a pod's container, reports ready
   and heartbeats, reads its identity and environment, re-enters the API (reads its own
   pod), logs, fails with an exit code and is restarted, is stopped through its stop
   callback with the same handle; a second registration of an image replaces the first
   (whose userdata is freed once its last instance returned); freeing the engine waits for
   every instance; and every worker function's bad input. */
#include <stdatomic.h>

#include "check.h"

static const char *BAD = "caf\xc3("; /* invalid UTF-8 */

struct host {
    steady_engine *engine;
    atomic_int starts;
    atomic_int returns;
    atomic_int stops;
    atomic_int freed;
    atomic_int bad;           /* checks that failed inside a callback */
    atomic_int reentered;     /* start callbacks that read their own pod */
    atomic_int refused_free;  /* steady_engine_free refused from inside start */
    atomic_int fail_next;     /* the next wait round of any instance fails with code 3 */
    atomic_int same_handle;   /* stop callbacks that got the start callback's handle */
    atomic_int stopping_in_stop; /* stop callbacks that saw stopping() already true */
    _Atomic(const steady_worker *) current; /* the handle of the running instance */
    int quit_at_once;         /* return 0 without waiting */
};

static void init_host(struct host *h, steady_engine *e) {
    memset(h, 0, sizeof *h);
    h->engine = e;
}

#define IN_CALLBACK_CHECK(h, cond)                                                    \
    do {                                                                              \
        if (!(cond)) {                                                                \
            fprintf(stderr, "%s:%d: in a callback: check failed: %s (last error: %s)\n", \
                    __FILE__, __LINE__, #cond, steady_last_error());                  \
            atomic_fetch_add(&(h)->bad, 1);                                           \
        }                                                                             \
    } while (0)

static int32_t start_echo(void *userdata, const steady_worker *w) {
    struct host *h = userdata;
    atomic_fetch_add(&h->starts, 1);
    atomic_store(&h->current, w);
    const char *pod = steady_worker_pod_name(w);
    const char *ns = steady_worker_namespace(w);
    IN_CALLBACK_CHECK(h, pod != NULL && ns != NULL && strcmp(ns, "default") == 0);
    IN_CALLBACK_CHECK(h, steady_worker_node_name(w) != NULL && steady_worker_node_name(w)[0]);
    IN_CALLBACK_CHECK(h, strcmp(steady_worker_container_name(w), "c") == 0);
    IN_CALLBACK_CHECK(h, strlen(steady_worker_pod_uid(w)) > 0);

    /* The environment: the container's own variables and the ones steady sets. */
    char *value = NULL;
    IN_CALLBACK_CHECK(h, steady_worker_env(w, "GREETING", &value) == STEADY_OK &&
                             strcmp(value, "hello") == 0);
    steady_string_free(value);
    value = NULL;
    IN_CALLBACK_CHECK(h, steady_worker_env(w, "POD_NAME", &value) == STEADY_OK &&
                             strcmp(value, pod) == 0);
    steady_string_free(value);
    value = (char *)"untouched";
    IN_CALLBACK_CHECK(h, steady_worker_env(w, "MISSING", &value) == STEADY_NOT_FOUND &&
                             strstr(steady_last_error(), "MISSING") != NULL &&
                             strcmp(value, "untouched") == 0);
    IN_CALLBACK_CHECK(h, steady_worker_mount(w, "/data", &value) == STEADY_NOT_FOUND);

    /* Bad input from inside: a code and a message, and the instance goes on. */
    IN_CALLBACK_CHECK(h, steady_worker_log(w, NULL) == STEADY_NULL_PARAMETER &&
                             strstr(steady_last_error(), "parameter line is NULL"));
    IN_CALLBACK_CHECK(h, steady_worker_log(w, BAD) == STEADY_INVALID_UTF8 &&
                             strstr(steady_last_error(), "parameter line is not valid UTF-8"));
    IN_CALLBACK_CHECK(h, steady_worker_env(w, NULL, &value) == STEADY_NULL_PARAMETER);
    IN_CALLBACK_CHECK(h, steady_worker_env(w, "X", NULL) == STEADY_NULL_PARAMETER);
    IN_CALLBACK_CHECK(h, steady_worker_env(w, BAD, &value) == STEADY_INVALID_UTF8);
    IN_CALLBACK_CHECK(h, steady_worker_mount(w, NULL, &value) == STEADY_NULL_PARAMETER);
    IN_CALLBACK_CHECK(h, steady_worker_mount(w, "/data", NULL) == STEADY_NULL_PARAMETER);
    IN_CALLBACK_CHECK(h, steady_worker_exit_message(w, NULL) == STEADY_NULL_PARAMETER);

    /* Re-entering the API: the worker reads its own pod. */
    char *json = NULL;
    if (steady_engine_get(h->engine, "Pod", ns, pod, &json) == STEADY_OK) {
        if (strstr(json, pod) && strstr(json, "\"image\":\"echo\"")) atomic_fetch_add(&h->reentered, 1);
        steady_string_free(json);
    }
    /* Freeing the engine from inside a worker is refused; the engine goes on. */
    steady_engine_free(h->engine);
    if (strstr(steady_last_error(), "refused")) atomic_fetch_add(&h->refused_free, 1);

    char line[128];
    snprintf(line, sizeof line, "hello from %s", pod);
    IN_CALLBACK_CHECK(h, steady_worker_log(w, line) == STEADY_OK);
    IN_CALLBACK_CHECK(h, steady_worker_wait_stop(w, 0) == STEADY_TIMEOUT);
    IN_CALLBACK_CHECK(h, !steady_worker_stopping(w));
    if (h->quit_at_once) {
        atomic_fetch_add(&h->returns, 1);
        return 0;
    }
    IN_CALLBACK_CHECK(h, steady_worker_ready(w) == STEADY_OK);
    for (;;) {
        steady_result rc = steady_worker_wait_stop(w, 5);
        if (rc == STEADY_OK) break;
        IN_CALLBACK_CHECK(h, rc == STEADY_TIMEOUT);
        IN_CALLBACK_CHECK(h, steady_worker_heartbeat(w) == STEADY_OK);
        int one = 1;
        if (atomic_compare_exchange_strong(&h->fail_next, &one, 0)) {
            steady_worker_not_ready(w);
            steady_worker_exit_message(w, "told to fail");
            atomic_store(&h->current, NULL);
            atomic_fetch_add(&h->returns, 1);
            return 3;
        }
    }
    IN_CALLBACK_CHECK(h, steady_worker_stopping(w));
    atomic_store(&h->current, NULL);
    atomic_fetch_add(&h->returns, 1);
    return 0;
}

static void stop_echo(void *userdata, const steady_worker *w) {
    struct host *h = userdata;
    atomic_fetch_add(&h->stops, 1);
    if (w == atomic_load(&h->current)) atomic_fetch_add(&h->same_handle, 1);
    if (steady_worker_stopping(w)) atomic_fetch_add(&h->stopping_in_stop, 1);
    IN_CALLBACK_CHECK(h, steady_worker_pod_name(w) != NULL);
}

static void free_host(void *userdata) {
    struct host *h = userdata;
    atomic_fetch_add(&h->freed, 1);
}

static char node[256];

static void create_pod(steady_engine *e, const char *name, const char *image, const char *policy) {
    char pod[1024];
    snprintf(pod, sizeof pod,
             "{\"apiVersion\": \"v1\", \"kind\": \"Pod\", \"metadata\": {\"name\": \"%s\"},"
             " \"spec\": {\"nodeName\": \"%s\", \"restartPolicy\": \"%s\","
             "  \"terminationGracePeriodSeconds\": 5,"
             "  \"containers\": [{\"name\": \"c\", \"image\": \"%s\","
             "   \"env\": [{\"name\": \"GREETING\", \"value\": \"hello\"}]}]}}",
             name, node, policy, image);
    CHECK_OK(steady_engine_create(e, pod, NULL));
}

/* The pod's JSON contains `text`. */
static int pod_has(steady_engine *e, const char *name, const char *text) {
    char *json = NULL;
    if (steady_engine_get(e, "Pod", NULL, name, &json) != STEADY_OK) return 0;
    int found = strstr(json, text) != NULL;
    steady_string_free(json);
    return found;
}

static int pod_gone(steady_engine *e, const char *name) {
    char *json = NULL;
    steady_result rc = steady_engine_get(e, "Pod", NULL, name, &json);
    if (rc == STEADY_OK) steady_string_free(json);
    return rc == STEADY_NOT_FOUND;
}

static int logs_have(steady_engine *e, const char *pod, bool previous, const char *text) {
    char *logs = NULL;
    if (steady_engine_logs(e, NULL, pod, NULL, previous, &logs) != STEADY_OK) return 0;
    int found = strstr(logs, text) != NULL;
    steady_string_free(logs);
    return found;
}

#define READY "\"status\":\"True\",\"type\":\"Ready\"" /* keys are sorted */
#define SECS 60

static void bad_input(steady_engine *e) {
    struct host h;
    init_host(&h, e);
    char *out = (char *)"untouched";
    CHECK_RC(steady_engine_register_worker(NULL, "x", start_echo, NULL, &h, free_host), STEADY_NULL_PARAMETER);
    CHECK_ERROR_MENTIONS("parameter engine is NULL");
    CHECK_RC(steady_engine_register_worker(e, NULL, start_echo, NULL, &h, free_host), STEADY_NULL_PARAMETER);
    CHECK_ERROR_MENTIONS("parameter image is NULL");
    CHECK_RC(steady_engine_register_worker(e, "x", NULL, NULL, &h, free_host), STEADY_NULL_PARAMETER);
    CHECK_ERROR_MENTIONS("parameter start is NULL");
    CHECK_RC(steady_engine_register_worker(e, BAD, start_echo, NULL, &h, free_host), STEADY_INVALID_UTF8);
    CHECK_ERROR_MENTIONS("parameter image is not valid UTF-8");
    CHECK_RC(steady_engine_register_worker(e, "", start_echo, NULL, &h, free_host), STEADY_INVALID);
    CHECK_ERROR_MENTIONS("image");
    CHECK(atomic_load(&h.freed) == 0); /* a failed registration keeps the userdata */

    CHECK_RC(steady_worker_ready(NULL), STEADY_NULL_PARAMETER);
    CHECK_ERROR_MENTIONS("parameter worker is NULL");
    CHECK_RC(steady_worker_not_ready(NULL), STEADY_NULL_PARAMETER);
    CHECK_RC(steady_worker_heartbeat(NULL), STEADY_NULL_PARAMETER);
    CHECK_RC(steady_worker_wait_stop(NULL, 0), STEADY_NULL_PARAMETER);
    CHECK_RC(steady_worker_log(NULL, "x"), STEADY_NULL_PARAMETER);
    CHECK_RC(steady_worker_exit_message(NULL, "x"), STEADY_NULL_PARAMETER);
    CHECK_RC(steady_worker_env(NULL, "X", &out), STEADY_NULL_PARAMETER);
    CHECK_RC(steady_worker_mount(NULL, "/x", &out), STEADY_NULL_PARAMETER);
    CHECK(steady_worker_stopping(NULL)); /* a loop on a NULL worker ends */
    CHECK_ERROR_MENTIONS("parameter worker is NULL");
    CHECK(steady_worker_pod_name(NULL) == NULL);
    CHECK(steady_worker_namespace(NULL) == NULL);
    CHECK(steady_worker_pod_uid(NULL) == NULL);
    CHECK(steady_worker_node_name(NULL) == NULL);
    CHECK(steady_worker_container_name(NULL) == NULL);
    CHECK_ERROR_MENTIONS("parameter worker is NULL");

    CHECK_RC(steady_engine_node_names(NULL, &out), STEADY_NULL_PARAMETER);
    CHECK_RC(steady_engine_node_names(e, NULL), STEADY_NULL_PARAMETER);
    CHECK_ERROR_MENTIONS("parameter out_json is NULL");
    CHECK_RC(steady_engine_logs(NULL, NULL, "p", NULL, false, &out), STEADY_NULL_PARAMETER);
    CHECK_RC(steady_engine_logs(e, NULL, NULL, NULL, false, &out), STEADY_NULL_PARAMETER);
    CHECK_ERROR_MENTIONS("parameter pod is NULL");
    CHECK_RC(steady_engine_logs(e, NULL, "p", NULL, false, NULL), STEADY_NULL_PARAMETER);
    CHECK_ERROR_MENTIONS("parameter out_text is NULL");
    CHECK_RC(steady_engine_logs(e, BAD, "p", NULL, false, &out), STEADY_INVALID_UTF8);
    CHECK_ERROR_MENTIONS("parameter ns is not valid UTF-8");
    CHECK_RC(steady_engine_logs(e, NULL, BAD, NULL, false, &out), STEADY_INVALID_UTF8);
    CHECK_RC(steady_engine_logs(e, NULL, "p", BAD, false, &out), STEADY_INVALID_UTF8);
    CHECK_ERROR_MENTIONS("parameter container is not valid UTF-8");
    CHECK_RC(steady_engine_logs(e, NULL, "ghost", NULL, false, &out), STEADY_NOT_FOUND);
    CHECK_ERROR_MENTIONS("ghost");
    CHECK(strcmp(out, "untouched") == 0);
}

int main(void) {
    steady_engine *e = NULL;
    CHECK_OK(steady_engine_new("{\"workers\": 2}", &e));
    bad_input(e);

    /* The engine's node: where pods run without a scheduler. */
    char *names = NULL;
    CHECK_OK(steady_engine_node_names(e, &names));
    CHECK(names != NULL && sscanf(names, "[\"%255[^\"]\"]", node) == 1);
    steady_string_free(names);

    struct host a;
    init_host(&a, e);
    CHECK_OK(steady_engine_register_worker(e, "echo", start_echo, stop_echo, &a, free_host));
    create_pod(e, "p1", "echo", "Always");
    EVENTUALLY(pod_has(e, "p1", READY), SECS);
    CHECK(pod_has(e, "p1", "\"phase\":\"Running\""));
    CHECK(atomic_load(&a.starts) == 1);
    CHECK(atomic_load(&a.reentered) == 1);
    CHECK(atomic_load(&a.refused_free) == 1);

    /* Its log, by container name too; and what is not there. */
    EVENTUALLY(logs_have(e, "p1", false, "hello from p1"), SECS);
    char *logs = (char *)"untouched";
    CHECK_OK(steady_engine_logs(e, "default", "p1", "c", false, &logs));
    CHECK_CONTAINS(logs, "hello from p1");
    steady_string_free(logs);
    logs = (char *)"untouched";
    CHECK_RC(steady_engine_logs(e, NULL, "p1", "nope", false, &logs), STEADY_INVALID);
    CHECK_ERROR_MENTIONS("\"nope\"");
    CHECK_RC(steady_engine_logs(e, NULL, "p1", NULL, true, &logs), STEADY_INVALID);
    CHECK_ERROR_MENTIONS("previous");
    CHECK(strcmp(logs, "untouched") == 0);

    /* A failed exit: its code and message in the pod status; restarted (at once, the first
       time); the previous instance's log keeps the failure. */
    atomic_store(&a.fail_next, 1);
    EVENTUALLY(pod_has(e, "p1", "\"restartCount\":1") && pod_has(e, "p1", READY), SECS);
    CHECK(pod_has(e, "p1", "\"exitCode\":3"));
    CHECK(pod_has(e, "p1", "told to fail"));
    CHECK(atomic_load(&a.starts) == 2);
    CHECK(logs_have(e, "p1", true, "told to fail"));
    CHECK(logs_have(e, "p1", true, "hello from p1"));
    CHECK(atomic_load(&a.stops) == 0);

    /* Deleting the pod stops the instance through the stop callback, with the same handle,
       before stopping() turns true. */
    CHECK_OK(steady_engine_delete(e, "Pod", NULL, "p1", NULL, NULL));
    EVENTUALLY(pod_gone(e, "p1"), SECS);
    CHECK(atomic_load(&a.stops) == 1);
    CHECK(atomic_load(&a.same_handle) == 1);
    CHECK(atomic_load(&a.stopping_in_stop) == 0);
    EVENTUALLY(atomic_load(&a.returns) == 2, SECS);

    /* A worker that returns 0 at once under restartPolicy Never: the pod Succeeded. */
    struct host quick;
    init_host(&quick, e);
    quick.quit_at_once = 1;
    CHECK_OK(steady_engine_register_worker(e, "echo-once", start_echo, NULL, &quick, free_host));
    create_pod(e, "once", "echo-once", "Never");
    EVENTUALLY(pod_has(e, "once", "\"phase\":\"Succeeded\""), SECS);
    CHECK(atomic_load(&quick.starts) == 1);

    /* Registering the image again replaces the worker. No instance of the first one runs:
       its userdata is freed at once. New pods run the second one. */
    struct host b;
    init_host(&b, e);
    CHECK_OK(steady_engine_register_worker(e, "echo", start_echo, stop_echo, &b, free_host));
    CHECK(atomic_load(&a.freed) == 1);
    create_pod(e, "p2", "echo", "Always");
    EVENTUALLY(pod_has(e, "p2", READY), SECS);
    CHECK(atomic_load(&b.starts) == 1);
    CHECK(atomic_load(&a.starts) == 2);

    /* Replaced while an instance runs: the old userdata lives until that instance ends. */
    struct host c, d;
    init_host(&c, e);
    init_host(&d, e);
    CHECK_OK(steady_engine_register_worker(e, "slow", start_echo, stop_echo, &c, free_host));
    create_pod(e, "p3", "slow", "Always");
    EVENTUALLY(pod_has(e, "p3", READY), SECS);
    CHECK_OK(steady_engine_register_worker(e, "slow", start_echo, stop_echo, &d, free_host));
    CHECK(atomic_load(&c.freed) == 0);
    CHECK_OK(steady_engine_delete(e, "Pod", NULL, "p3", NULL, NULL));
    EVENTUALLY(atomic_load(&c.freed) == 1, SECS);
    CHECK(atomic_load(&c.returns) == 1 && atomic_load(&c.stops) == 1);
    CHECK(atomic_load(&d.starts) == 0);

    /* Freeing the engine stops p2's instance and waits for it; every destructor ran once. */
    steady_engine_free(e);
    CHECK(atomic_load(&b.stops) == 1);
    CHECK(atomic_load(&b.returns) == 1);
    CHECK(atomic_load(&b.freed) == 1);
    CHECK(atomic_load(&d.freed) == 1);
    CHECK(atomic_load(&quick.freed) == 1);
    CHECK(atomic_load(&a.freed) == 1 && atomic_load(&c.freed) == 1);
    CHECK(atomic_load(&a.bad) + atomic_load(&b.bad) + atomic_load(&c.bad) +
              atomic_load(&quick.bad) == 0);
    TEST_DONE();
}
