/* Evictions and node maintenance: an eviction a PodDisruptionBudget refuses is
   STEADY_UNAVAILABLE with Kubernetes' message, one it allows deletes the pod; cordon and
   uncordon flip spec.unschedulable; a drain evicts the node's pods (workers that report
   ready) within their budget and reports them as JSON; bad arguments are named. */
#include "check.h"

static const char *BAD = "caf\xc3("; /* invalid UTF-8 */

/* A worker that is ready until it is told to stop. */
static int32_t start_ready(void *userdata, const steady_worker *w) {
    (void)userdata;
    steady_worker_ready(w);
    while (steady_worker_wait_stop(w, 5) == STEADY_TIMEOUT) {
    }
    return 0;
}

static char node[256];

static void create_pod(steady_engine *e, const char *name) {
    char pod[1024];
    snprintf(pod, sizeof pod,
             "{\"apiVersion\": \"v1\", \"kind\": \"Pod\", \"metadata\": {\"name\": \"%s\","
             " \"labels\": {\"app\": \"web\"}},"
             " \"spec\": {\"nodeName\": \"%s\", \"terminationGracePeriodSeconds\": 1,"
             "  \"containers\": [{\"name\": \"main\", \"image\": \"ready\"}]}}",
             name, node);
    CHECK_OK(steady_engine_create(e, pod, NULL));
}

/* The budget's status says `needle`. */
static int budget_says(steady_engine *e, const char *needle) {
    char *json = NULL;
    int found = steady_engine_get(e, "PodDisruptionBudget", NULL, "web", &json) == STEADY_OK &&
                strstr(json, needle) != NULL;
    steady_string_free(json);
    return found;
}

static int exists(steady_engine *e, const char *name) {
    char *json = NULL;
    steady_result rc = steady_engine_get(e, "Pod", NULL, name, &json);
    steady_string_free(json);
    return rc == STEADY_OK;
}

int main(void) {
    steady_engine *e = NULL;
    CHECK_OK(steady_engine_new("{\"workers\": 2}", &e));
    char *names = NULL;
    CHECK_OK(steady_engine_node_names(e, &names));
    CHECK(names != NULL && sscanf(names, "[\"%255[^\"]\"]", node) == 1);
    steady_string_free(names);
    CHECK_OK(steady_engine_register_worker(e, "ready", start_ready, NULL, NULL, NULL));

    create_pod(e, "web-0");
    create_pod(e, "web-1");
    CHECK_OK(steady_engine_apply(e,
        "{\"apiVersion\": \"policy/v1\", \"kind\": \"PodDisruptionBudget\","
        " \"metadata\": {\"name\": \"web\"},"
        " \"spec\": {\"minAvailable\": 2, \"selector\": {\"matchLabels\": {\"app\": \"web\"}}}}",
        NULL));
    EVENTUALLY(budget_says(e, "\"currentHealthy\":2"), 20);
    CHECK(budget_says(e, "\"disruptionsAllowed\":0"));

    /* Refused: STEADY_UNAVAILABLE, Kubernetes' words, nothing written. */
    char *out = (char *)"untouched";
    CHECK_RC(steady_engine_evict(e, NULL, "web-0", NULL, &out), STEADY_UNAVAILABLE);
    CHECK_ERROR_MENTIONS("Cannot evict pod as it would violate the pod's disruption budget.");
    CHECK_ERROR_MENTIONS("The disruption budget web needs 2 healthy pods and has 2 currently");
    CHECK(strcmp(out, "untouched") == 0);
    CHECK(exists(e, "web-0"));

    /* A drain that the budget blocks gives up at its timeout and says so. */
    CHECK_OK(steady_engine_drain(e, node, "{\"timeoutSeconds\": 0.2, \"retryIntervalSeconds\": 0.05}", &out));
    CHECK_CONTAINS(out, "\"evicted\":[]");
    CHECK_CONTAINS(out, "\"failed\":[{");
    CHECK_CONTAINS(out, "disruption budget");
    steady_string_free(out);
    char *n = NULL;
    CHECK_OK(steady_engine_get(e, "Node", NULL, node, &n));
    CHECK_CONTAINS(n, "\"unschedulable\":true");
    steady_string_free(n);
    CHECK_OK(steady_engine_uncordon(e, node));
    n = NULL;
    CHECK_OK(steady_engine_get(e, "Node", NULL, node, &n));
    CHECK(n != NULL && strstr(n, "unschedulable") == NULL);
    steady_string_free(n);
    CHECK_OK(steady_engine_cordon(e, node));

    /* The budget loosened (an integer: these bare pods have no controller to scale a
       maxUnavailable against): the drain evicts both pods and waits for them to be gone. */
    CHECK_OK(steady_engine_apply(e,
        "{\"apiVersion\": \"policy/v1\", \"kind\": \"PodDisruptionBudget\","
        " \"metadata\": {\"name\": \"web\"},"
        " \"spec\": {\"minAvailable\": 0, \"selector\": {\"matchLabels\": {\"app\": \"web\"}}}}",
        NULL));
    EVENTUALLY(budget_says(e, "\"disruptionsAllowed\":2"), 20);
    out = NULL;
    CHECK_OK(steady_engine_drain(e, node, "{\"timeoutSeconds\": 60}", &out));
    CHECK_CONTAINS(out, "{\"name\":\"web-0\",\"namespace\":\"default\"}");
    CHECK_CONTAINS(out, "{\"name\":\"web-1\",\"namespace\":\"default\"}");
    CHECK_CONTAINS(out, "\"failed\":[]");
    steady_string_free(out);
    CHECK(!exists(e, "web-0") && !exists(e, "web-1"));

    /* Evicting a missing pod; bad arguments. */
    CHECK_RC(steady_engine_evict(e, NULL, "web-0", NULL, NULL), STEADY_NOT_FOUND);
    CHECK_RC(steady_engine_evict(NULL, NULL, "web-0", NULL, NULL), STEADY_NULL_PARAMETER);
    CHECK_RC(steady_engine_evict(e, NULL, NULL, NULL, NULL), STEADY_NULL_PARAMETER);
    CHECK_ERROR_MENTIONS("parameter name is NULL");
    CHECK_RC(steady_engine_evict(e, BAD, "x", NULL, NULL), STEADY_INVALID_UTF8);
    CHECK_RC(steady_engine_cordon(e, "no-such-node"), STEADY_NOT_FOUND);
    CHECK_RC(steady_engine_uncordon(e, NULL), STEADY_NULL_PARAMETER);
    CHECK_RC(steady_engine_drain(e, "no-such-node", NULL, NULL), STEADY_NOT_FOUND);
    CHECK_RC(steady_engine_drain(e, node, "{\"timeout\": 1}", NULL), STEADY_INVALID);
    CHECK_ERROR_MENTIONS("unknown key \"timeout\"");

    steady_engine_free(e);
    TEST_DONE();
}
