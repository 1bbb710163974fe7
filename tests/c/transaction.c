/* Transactions: several writes commit together or not at all; compare-and-swap
   preconditions, checks and deletes; malformed operations named by their index. */
#include "check.h"

static const char *BAD = "caf\xc3("; /* invalid UTF-8 */

/* The resourceVersion in `json` (the first one). */
static void resource_version(const char *json, char *out, size_t size) {
    out[0] = '\0';
    const char *at = json ? strstr(json, "\"resourceVersion\":\"") : NULL;
    if (at) snprintf(out, size, "%.*s", (int)strcspn(at + 19, "\""), at + 19);
}

static int exists(steady_engine *e, const char *kind, const char *name) {
    char *json = NULL;
    steady_result rc = steady_engine_get(e, kind, NULL, name, &json);
    steady_string_free(json);
    return rc == STEADY_OK;
}

#define W "example.com/v1/Widget"

int main(void) {
    steady_engine *e = NULL;
    CHECK_OK(steady_engine_new("{\"workers\": 1, \"kinds\": [{\"apiVersion\": \"example.com/v1\", \"kind\": \"Widget\"}, {\"apiVersion\": \"example.com/v1\", \"kind\": \"Gadget\"}]}", &e));

    /* Two creates of two kinds in one transaction: both, at one revision. */
    char *out = NULL;
    CHECK_OK(steady_engine_transaction(e,
        "[{\"op\": \"create\", \"object\": {\"apiVersion\": \"v1\", \"kind\": \"ConfigMap\","
        "  \"metadata\": {\"name\": \"a\"}, \"data\": {\"n\": \"1\"}}},"
        " {\"op\": \"create\", \"object\": {\"apiVersion\": \"example.com/v1\", \"kind\": \"Widget\","
        "  \"metadata\": {\"name\": \"w\"}, \"spec\": {\"size\": 1}}}]", &out));
    CHECK(out != NULL && out[0] == '[');
    CHECK_CONTAINS(out, "\"name\":\"a\"");
    CHECK_CONTAINS(out, "\"kind\":\"Widget\"");
    char rv_a[32], rv_w[32];
    resource_version(out, rv_a, sizeof rv_a);
    resource_version(strstr(out, "Widget"), rv_w, sizeof rv_w);
    CHECK(rv_a[0] && strcmp(rv_a, rv_w) == 0); /* one revision */
    steady_string_free(out);

    /* A compare-and-swap that fails takes the whole transaction down: the other write does
       not happen either. */
    char ops[1024];
    snprintf(ops, sizeof ops,
             "[{\"op\": \"updateStatus\", \"object\": {\"apiVersion\": \"example.com/v1\","
             "  \"kind\": \"Widget\", \"metadata\": {\"name\": \"w\", \"resourceVersion\": \"%s\"},"
             "  \"status\": {\"owner\": \"x\"}}},"
             " {\"op\": \"update\", \"object\": {\"apiVersion\": \"v1\", \"kind\": \"ConfigMap\","
             "  \"metadata\": {\"name\": \"a\", \"resourceVersion\": \"1\"}, \"data\": {\"n\": \"2\"}}}]",
             rv_w);
    out = (char *)"untouched";
    CHECK_RC(steady_engine_transaction(e, ops, &out), STEADY_CONFLICT);
    CHECK_ERROR_MENTIONS("\"default/a\"");
    CHECK(strcmp(out, "untouched") == 0);
    char *w = NULL;
    CHECK_OK(steady_engine_get(e, W, NULL, "w", &w));
    CHECK(w != NULL && strstr(w, "owner") == NULL);
    steady_string_free(w);

    /* With the current versions both commit; out may be NULL. */
    snprintf(ops, sizeof ops,
             "[{\"op\": \"updateStatus\", \"object\": {\"apiVersion\": \"example.com/v1\","
             "  \"kind\": \"Widget\", \"metadata\": {\"name\": \"w\", \"resourceVersion\": \"%s\"},"
             "  \"status\": {\"owner\": \"x\"}}},"
             " {\"op\": \"update\", \"object\": {\"apiVersion\": \"v1\", \"kind\": \"ConfigMap\","
             "  \"metadata\": {\"name\": \"a\", \"resourceVersion\": \"%s\"}, \"data\": {\"n\": \"2\"}}}]",
             rv_w, rv_a);
    CHECK_OK(steady_engine_transaction(e, ops, NULL));
    w = NULL;
    CHECK_OK(steady_engine_get(e, W, NULL, "w", &w));
    CHECK_CONTAINS(w, "\"owner\":\"x\"");
    steady_string_free(w);

    /* A check (the Widget must be at its version; "gone" must not exist) with a delete. */
    char rv_now[32];
    w = NULL;
    CHECK_OK(steady_engine_get(e, W, NULL, "w", &w));
    resource_version(w, rv_now, sizeof rv_now);
    steady_string_free(w);
    snprintf(ops, sizeof ops,
             "[{\"op\": \"check\", \"kind\": \"" W "\", \"name\": \"w\", \"resourceVersion\": \"%s\"},"
             " {\"op\": \"check\", \"kind\": \"ConfigMap\", \"namespace\": \"default\","
             "  \"name\": \"gone\", \"resourceVersion\": null},"
             " {\"op\": \"delete\", \"kind\": \"ConfigMap\", \"name\": \"a\","
             "  \"options\": {\"propagationPolicy\": \"Background\"}}]",
             rv_now);
    out = NULL;
    CHECK_OK(steady_engine_transaction(e, ops, &out));
    CHECK(out != NULL && strstr(out, ",null,") != NULL); /* the absent object checked */
    steady_string_free(out);
    CHECK(!exists(e, "ConfigMap", "a"));
    CHECK(exists(e, W, "w"));
    /* A stale version fails the check; so does "must not exist" for an object that does. */
    CHECK_RC(steady_engine_transaction(e,
        "[{\"op\": \"check\", \"kind\": \"" W "\", \"name\": \"w\", \"resourceVersion\": \"1\"}]",
        NULL), STEADY_CONFLICT);
    CHECK_RC(steady_engine_transaction(e,
        "[{\"op\": \"check\", \"kind\": \"" W "\", \"name\": \"w\", \"resourceVersion\": null}]",
        NULL), STEADY_ALREADY_EXISTS);
    CHECK_RC(steady_engine_transaction(e,
        "[{\"op\": \"delete\", \"kind\": \"ConfigMap\", \"name\": \"a\"}]", NULL), STEADY_NOT_FOUND);

    /* Bad input: each named. */
    CHECK_RC(steady_engine_transaction(NULL, "[]", NULL), STEADY_NULL_PARAMETER);
    CHECK_ERROR_MENTIONS("parameter engine is NULL");
    CHECK_RC(steady_engine_transaction(e, NULL, NULL), STEADY_NULL_PARAMETER);
    CHECK_ERROR_MENTIONS("parameter ops_json is NULL");
    CHECK_RC(steady_engine_transaction(e, BAD, NULL), STEADY_INVALID_UTF8);
    CHECK_RC(steady_engine_transaction(e, "[", NULL), STEADY_INVALID);
    CHECK_ERROR_MENTIONS("ops_json: malformed JSON");
    CHECK_RC(steady_engine_transaction(e, "{}", NULL), STEADY_INVALID);
    CHECK_ERROR_MENTIONS("expected a JSON array");
    CHECK_RC(steady_engine_transaction(e, "[]", NULL), STEADY_INVALID);
    CHECK_ERROR_MENTIONS("at least one operation");
    CHECK_RC(steady_engine_transaction(e, "[{\"op\": \"upsert\"}]", NULL), STEADY_INVALID);
    CHECK_ERROR_MENTIONS("ops_json[0]: \"op\": \"upsert\" is not one of create");
    CHECK_RC(steady_engine_transaction(e,
        "[{\"op\": \"check\", \"kind\": \"" W "\", \"name\": \"w\", \"resourceVersion\": null},"
        " {\"op\": \"delete\", \"kind\": \"ConfigMap\", \"name\": \"a\", \"force\": true}]", NULL),
        STEADY_INVALID);
    CHECK_ERROR_MENTIONS("ops_json[1]: unknown key \"force\"");
    CHECK_RC(steady_engine_transaction(e,
        "[{\"op\": \"check\", \"kind\": \"" W "\", \"name\": \"w\"}]", NULL), STEADY_INVALID);
    CHECK_ERROR_MENTIONS("ops_json[0]: \"resourceVersion\" is required");
    CHECK_RC(steady_engine_transaction(e,
        "[{\"op\": \"create\", \"object\": {\"kind\": \"ConfigMap\"}}]", NULL), STEADY_INVALID);
    CHECK_ERROR_MENTIONS("ops_json[0].object: apiVersion is required");
    CHECK_RC(steady_engine_transaction(e,
        "[{\"op\": \"delete\", \"kind\": \"Widget\", \"name\": \"w\"}]", NULL), STEADY_INVALID);
    CHECK_ERROR_MENTIONS("ops_json[0]: unknown kind \"Widget\"");
    CHECK_RC(steady_engine_transaction(e,
        "[{\"op\": \"delete\", \"kind\": \"ConfigMap\", \"name\": 7}]", NULL), STEADY_INVALID);
    CHECK_ERROR_MENTIONS("ops_json[0]: \"name\": expected a string");
    CHECK_RC(steady_engine_transaction(e,
        "[{\"op\": \"delete\", \"kind\": \"ConfigMap\", \"name\": \"a\","
        "  \"options\": {\"propagationPolicy\": \"Sometimes\"}}]", NULL), STEADY_INVALID);
    CHECK_ERROR_MENTIONS("ops_json[0]: \"options\": ");
    /* The same object twice. */
    snprintf(ops, sizeof ops,
             "[{\"op\": \"check\", \"kind\": \"" W "\", \"name\": \"w\", \"resourceVersion\": \"%s\"},"
             " {\"op\": \"delete\", \"kind\": \"" W "\", \"name\": \"w\"}]",
             rv_now);
    CHECK_RC(steady_engine_transaction(e, ops, NULL), STEADY_INVALID);
    CHECK_ERROR_MENTIONS("only once");
    CHECK(exists(e, W, "w"));

    steady_engine_free(e);
    TEST_DONE();
}
