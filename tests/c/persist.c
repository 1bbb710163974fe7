/* An engine that keeps its state in a data dir (configuration key "persist"): what it wrote
 * is there after it is freed and a new engine opens the dir; two engines never share one dir;
 * bad settings name the key. */
#include "check.h"
#include <stdlib.h>

/* The value of "key": in `json` (a number or a quoted string), copied into `out`. */
static void field(const char *json, const char *key, char *out, size_t n) {
    out[0] = '\0';
    const char *p = json ? strstr(json, key) : NULL;
    if (!p) return;
    p += strlen(key);
    while (*p == '"' || *p == ':') p++;
    size_t i = 0;
    while (p[i] && p[i] != '"' && p[i] != ',' && p[i] != '}' && i + 1 < n) {
        out[i] = p[i];
        i++;
    }
    out[i] = '\0';
}

int main(void) {
    char dir[] = "/tmp/steady-c-persist-XXXXXX";
    CHECK(mkdtemp(dir) != NULL);
    char config[512];
    snprintf(config, sizeof config,
             "{\"workers\": 1, \"persist\": {\"dir\": \"%s\", \"durability\": \"sync\","
             " \"snapshot_every\": 100}}",
             dir);

    steady_engine *engine = NULL;
    CHECK_OK(steady_engine_new(config, &engine));
    char *json = NULL;
    CHECK_OK(steady_engine_recovery_report(engine, &json));
    CHECK_CONTAINS(json, "\"fresh\":true");
    steady_string_free(json);
    json = NULL;
    CHECK_OK(steady_engine_create(engine,
                                  "{\"apiVersion\": \"v1\", \"kind\": \"ConfigMap\","
                                  " \"metadata\": {\"name\": \"kept\"}, \"data\": {\"k\": \"v\"}}",
                                  &json));
    char rv[32], uid[64];
    field(json, "\"resourceVersion\"", rv, sizeof rv);
    field(json, "\"uid\"", uid, sizeof uid);
    CHECK(rv[0] != '\0' && uid[0] != '\0');
    steady_string_free(json);

    /* A second engine on the same dir is refused while the first runs. */
    steady_engine *second = (steady_engine *)&check_failures;
    CHECK_RC(steady_engine_new(config, &second), STEADY_STORAGE);
    CHECK(second == (steady_engine *)&check_failures);
    CHECK_ERROR_MENTIONS("in use by another engine");
    CHECK(strcmp(steady_result_name(STEADY_STORAGE), "STEADY_STORAGE") == 0);
    steady_engine_free(engine);

    /* A new engine on the dir finds the object as it was. */
    engine = NULL;
    CHECK_OK(steady_engine_new(config, &engine));
    json = NULL;
    CHECK_OK(steady_engine_recovery_report(engine, &json));
    CHECK_CONTAINS(json, "\"fresh\":false");
    CHECK_CONTAINS(json, "\"truncation\":null");
    steady_string_free(json);
    json = NULL;
    CHECK_OK(steady_engine_get(engine, "ConfigMap", NULL, "kept", &json));
    char rv2[32], uid2[64];
    field(json, "\"resourceVersion\"", rv2, sizeof rv2);
    field(json, "\"uid\"", uid2, sizeof uid2);
    CHECK(strcmp(rv, rv2) == 0);
    CHECK(strcmp(uid, uid2) == 0);
    CHECK_CONTAINS(json, "\"k\":\"v\"");
    steady_string_free(json);
    steady_engine_free(engine);

    /* Without "persist" there is no report. */
    engine = NULL;
    CHECK_OK(steady_engine_new("{\"workers\": 1}", &engine));
    json = NULL;
    CHECK_RC(steady_engine_recovery_report(engine, &json), STEADY_NOT_FOUND);
    CHECK_ERROR_MENTIONS("persist");
    CHECK(json == NULL);
    steady_engine_free(engine);

    /* Bad settings name the key. */
    engine = NULL;
    CHECK_RC(steady_engine_new("{\"persist\": {\"durability\": \"sync\"}}", &engine), STEADY_INVALID);
    CHECK_ERROR_MENTIONS("persist.dir");
    CHECK_RC(steady_engine_new("{\"persist\": {\"dir\": \"/tmp/x\", \"durability\": \"often\"}}", &engine),
             STEADY_INVALID);
    CHECK_ERROR_MENTIONS("persist.durability");
    CHECK(engine == NULL);

    char cmd[128];
    snprintf(cmd, sizeof cmd, "rm -rf '%s'", dir);
    CHECK(system(cmd) == 0);
    TEST_DONE();
}
