/* Engine creation from configuration, freeing, version, result names, last error. */
#include "check.h"

int main(void) {
    /* Version: the library is the one the header describes. */
    char expected[32];
    snprintf(expected, sizeof expected, "%d.%d.%d", STEADY_VERSION_MAJOR, STEADY_VERSION_MINOR,
             STEADY_VERSION_PATCH);
    CHECK(strcmp(steady_version(), expected) == 0);
    CHECK(steady_version_number() == STEADY_VERSION_NUMBER);
    CHECK(STEADY_VERSION_NUMBER == STEADY_VERSION_MAJOR * 1000000 + STEADY_VERSION_MINOR * 1000 +
                                       STEADY_VERSION_PATCH);
#if STEADY_VERSION_NUMBER < 1000
#error "STEADY_VERSION_NUMBER is usable in #if"
#endif

    /* Result names, including a value that is not a code. */
    CHECK(strcmp(steady_result_name(STEADY_NOT_FOUND), "STEADY_NOT_FOUND") == 0);
    CHECK(strcmp(steady_result_name(STEADY_PANIC), "STEADY_PANIC") == 0);
    CHECK(strcmp(steady_result_name(12345), "STEADY_UNKNOWN") == 0);

    /* The last error starts empty on a fresh thread and is never NULL. */
    CHECK(steady_last_error() != NULL);
    CHECK(strcmp(steady_last_error(), "") == 0);

    /* NULL configuration: the embedded default. */
    steady_engine *engine = NULL;
    CHECK_OK(steady_engine_new(NULL, &engine));
    CHECK(engine != NULL);
    steady_engine_free(engine);

    /* Every documented key. */
    engine = NULL;
    CHECK_OK(steady_engine_new("{\"workers\": 2, \"history_limit\": 100, \"watch_capacity\": 1000,"
                               " \"max_object_bytes\": 65536, \"shutdown_grace_ms\": 1000,"
                               " \"kinds\": [{\"apiVersion\": \"example.com/v1\","
                               " \"kind\": \"Cluster\", \"namespaced\": false}]}",
                               &engine));
    CHECK(engine != NULL);
    /* The cluster-scoped custom kind ignores namespaces. */
    CHECK_OK(steady_engine_create(engine,
                                  "{\"apiVersion\": \"example.com/v1\", \"kind\": \"Cluster\","
                                  " \"metadata\": {\"name\": \"big\"}}",
                                  NULL));
    char *json = NULL;
    CHECK_OK(steady_engine_get(engine, "example.com/v1/Cluster", "ignored", "big", &json));
    CHECK_CONTAINS(json, "\"name\":\"big\"");
    CHECK(json != NULL && strstr(json, "\"namespace\"") == NULL);
    steady_string_free(json);
    /* max_object_bytes is in force. */
    char big[70000];
    memset(big, 'x', sizeof big);
    const char *prefix = "{\"apiVersion\": \"v1\", \"kind\": \"ConfigMap\","
                         " \"metadata\": {\"name\": \"huge\"}, \"data\": {\"k\": \"";
    memcpy(big, prefix, strlen(prefix));
    strcpy(big + sizeof big - 5, "\"}}");
    CHECK_RC(steady_engine_create(engine, big, NULL), STEADY_TOO_LARGE);
    CHECK_ERROR_MENTIONS("over the size limit of 65536 bytes");
    steady_engine_free(engine);

    /* The Kubernetes API server, and its kubeconfig for kubectl. */
    engine = NULL;
    CHECK_OK(steady_engine_new("{\"workers\": 1, \"api_server\": {\"bind\": \"127.0.0.1:0\"}}", &engine));
    json = NULL;
    CHECK_OK(steady_engine_kubeconfig(engine, &json));
    CHECK_CONTAINS(json, "server: https://127.0.0.1:");
    CHECK_CONTAINS(json, "certificate-authority-data: ");
    CHECK_CONTAINS(json, "token: ");
    steady_string_free(json);
    steady_engine_free(engine);
    engine = NULL;
    CHECK_OK(steady_engine_new(NULL, &engine));
    json = NULL;
    CHECK_RC(steady_engine_kubeconfig(engine, &json), STEADY_NOT_FOUND);
    CHECK_ERROR_MENTIONS("api_server");
    steady_engine_free(engine);
    engine = NULL;
    CHECK_RC(steady_engine_new("{\"api_server\": {\"bind\": \"0.0.0.0:0\", \"tls\": false}}", &engine),
             STEADY_INVALID);
    CHECK_ERROR_MENTIONS("needs TLS");
    CHECK_RC(steady_engine_new("{\"api_server\": {\"bind\": \"here\"}}", &engine), STEADY_INVALID);
    CHECK_ERROR_MENTIONS("api_server.bind");

    /* Bad configurations: the output is untouched, the message names the key. */
    steady_engine *sentinel = (steady_engine *)&check_failures;
    engine = sentinel;
    CHECK_RC(steady_engine_new("{\"wrokers\": 2}", &engine), STEADY_INVALID);
    CHECK(engine == sentinel);
    CHECK_ERROR_MENTIONS("unknown key \"wrokers\"");
    CHECK_RC(steady_engine_new("{\"workers\": 0}", &engine), STEADY_INVALID);
    CHECK_ERROR_MENTIONS("\"workers\": expected an integer >= 1");
    CHECK_RC(steady_engine_new("{\"workers\": ", &engine), STEADY_INVALID);
    CHECK_ERROR_MENTIONS("malformed JSON");
    CHECK_RC(steady_engine_new("[]", &engine), STEADY_INVALID);
    CHECK_RC(steady_engine_new("{\"kinds\": [{\"apiVersion\": \"x/v1\", \"kind\": \"lower\"}]}",
                               &engine),
             STEADY_INVALID);
    CHECK_ERROR_MENTIONS("kinds[0]");
    CHECK_RC(steady_engine_new("{\"w\xff\": 1}", &engine), STEADY_INVALID_UTF8);
    CHECK_ERROR_MENTIONS("parameter config_json is not valid UTF-8");
    CHECK(engine == sentinel);
    CHECK_RC(steady_engine_new(NULL, NULL), STEADY_NULL_PARAMETER);
    CHECK_ERROR_MENTIONS("parameter out_engine is NULL");

    /* Every free accepts NULL. */
    steady_engine_free(NULL);
    steady_watch_free(NULL);
    steady_subscription_free(NULL);
    steady_string_free(NULL);

    /* Several engines live side by side. */
    steady_engine *a = NULL, *b = NULL;
    CHECK_OK(steady_engine_new("{\"workers\": 1}", &a));
    CHECK_OK(steady_engine_new("{\"workers\": 1}", &b));
    CHECK_OK(steady_engine_apply(a, "apiVersion: v1\nkind: ConfigMap\nmetadata: {name: only-a}\n", NULL));
    json = NULL;
    CHECK_RC(steady_engine_get(b, "ConfigMap", NULL, "only-a", &json), STEADY_NOT_FOUND);
    CHECK(json == NULL);
    steady_engine_free(b);

    /* Metrics and usage a host reports for its pods (read by HorizontalPodAutoscalers). */
    CHECK_OK(steady_engine_report_pod_metric(a, NULL, "web-0", "requests_per_second", 12.5));
    CHECK_OK(steady_engine_report_pod_usage(a, "default", "web-0", "cpu", "250m"));
    CHECK_RC(steady_engine_report_pod_usage(a, NULL, "web-0", "memory", "lots"), STEADY_INVALID);
    CHECK_ERROR_MENTIONS("usage of memory by pod default/web-0");
    CHECK_RC(steady_engine_report_pod_metric(a, NULL, "web-0", "rps", 0.0 / 0.0), STEADY_INVALID);
    CHECK_ERROR_MENTIONS("not a finite number");
    CHECK_RC(steady_engine_report_pod_metric(a, NULL, NULL, "rps", 1.0), STEADY_NULL_PARAMETER);
    steady_engine_free(a);

    TEST_DONE();
}
