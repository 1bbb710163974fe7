/* Every entry point with NULL pointers, invalid UTF-8, malformed JSON and unknown kinds:
   each gets a code and a message naming the parameter, outputs stay untouched, and the
   engine keeps working. */
#include "check.h"

static const char *BAD = "caf\xc3("; /* invalid UTF-8 */
static char *UNTOUCHED = (char *)"untouched";

static int32_t never_called_watch(void *u, const char *ev) { (void)u; (void)ev; return 1; }
static int32_t never_called_reconcile(void *u, const steady_reconcile_request *r,
                                      steady_reconcile_reply *p) {
    (void)u; (void)r; (void)p;
    return STEADY_RECONCILE_DONE;
}

#define CHECK_NULL_PARAM(call, param)                                                  \
    do {                                                                               \
        CHECK_RC(call, STEADY_NULL_PARAMETER);                                         \
        CHECK_ERROR_MENTIONS("parameter " param " is NULL");                           \
    } while (0)

#define CHECK_BAD_UTF8(call, param)                                                    \
    do {                                                                               \
        CHECK_RC(call, STEADY_INVALID_UTF8);                                           \
        CHECK_ERROR_MENTIONS("parameter " param " is not valid UTF-8");                \
    } while (0)

#define CHECK_UNKNOWN_KIND(call)                                                       \
    do {                                                                               \
        CHECK_RC(call, STEADY_INVALID);                                                \
        CHECK_ERROR_MENTIONS("unknown kind \"Widget\"");                               \
    } while (0)

static const char *CM = "{\"apiVersion\": \"v1\", \"kind\": \"ConfigMap\", \"metadata\": {\"name\": \"c\"}}";

int main(void) {
    steady_engine *e = NULL;
    CHECK_OK(steady_engine_new("{\"workers\": 1}", &e));
    CHECK_OK(steady_engine_create(e, CM, NULL));
    char *out = UNTOUCHED;
    steady_watch *w = (steady_watch *)UNTOUCHED;
    steady_subscription *s = (steady_subscription *)UNTOUCHED;

    /* NULL pointers. */
    CHECK_NULL_PARAM(steady_engine_apply(NULL, "a: b", NULL), "engine");
    CHECK_NULL_PARAM(steady_engine_apply(e, NULL, NULL), "manifest");
    CHECK_NULL_PARAM(steady_engine_get(NULL, "ConfigMap", NULL, "c", &out), "engine");
    CHECK_NULL_PARAM(steady_engine_get(e, NULL, NULL, "c", &out), "kind");
    CHECK_NULL_PARAM(steady_engine_get(e, "ConfigMap", NULL, NULL, &out), "name");
    CHECK_NULL_PARAM(steady_engine_get(e, "ConfigMap", NULL, "c", NULL), "out_json");
    CHECK_NULL_PARAM(steady_engine_list(NULL, "ConfigMap", NULL, NULL, &out), "engine");
    CHECK_NULL_PARAM(steady_engine_list(e, NULL, NULL, NULL, &out), "kind");
    CHECK_NULL_PARAM(steady_engine_list(e, "ConfigMap", NULL, NULL, NULL), "out_json");
    CHECK_NULL_PARAM(steady_engine_create(NULL, CM, NULL), "engine");
    CHECK_NULL_PARAM(steady_engine_create(e, NULL, NULL), "object_json");
    CHECK_NULL_PARAM(steady_engine_update(e, NULL, NULL), "object_json");
    CHECK_NULL_PARAM(steady_engine_update_status(e, NULL, NULL), "object_json");
    CHECK_NULL_PARAM(steady_engine_patch(NULL, "ConfigMap", NULL, "c", "{}", false, NULL), "engine");
    CHECK_NULL_PARAM(steady_engine_patch(e, NULL, NULL, "c", "{}", false, NULL), "kind");
    CHECK_NULL_PARAM(steady_engine_patch(e, "ConfigMap", NULL, NULL, "{}", false, NULL), "name");
    CHECK_NULL_PARAM(steady_engine_patch(e, "ConfigMap", NULL, "c", NULL, false, NULL), "patch_json");
    CHECK_NULL_PARAM(steady_engine_delete(NULL, "ConfigMap", NULL, "c", NULL, NULL), "engine");
    CHECK_NULL_PARAM(steady_engine_delete(e, NULL, NULL, "c", NULL, NULL), "kind");
    CHECK_NULL_PARAM(steady_engine_delete(e, "ConfigMap", NULL, NULL, NULL, NULL), "name");
    CHECK_NULL_PARAM(steady_engine_metrics(NULL, &out), "engine");
    CHECK_NULL_PARAM(steady_watch_new(NULL, "ConfigMap", NULL, NULL, -1, &w), "engine");
    CHECK_NULL_PARAM(steady_watch_new(e, NULL, NULL, NULL, -1, &w), "kind");
    CHECK_NULL_PARAM(steady_watch_new(e, "ConfigMap", NULL, NULL, -1, NULL), "out_watch");
    CHECK_NULL_PARAM(steady_watch_next(NULL, 0, &out), "watch");
    CHECK_NULL_PARAM(steady_subscription_new(NULL, "ConfigMap", NULL, NULL, -1, never_called_watch, NULL, NULL, &s), "engine");
    CHECK_NULL_PARAM(steady_subscription_new(e, NULL, NULL, NULL, -1, never_called_watch, NULL, NULL, &s), "kind");
    CHECK_NULL_PARAM(steady_subscription_new(e, "ConfigMap", NULL, NULL, -1, NULL, NULL, NULL, &s), "callback");
    CHECK_NULL_PARAM(steady_subscription_new(e, "ConfigMap", NULL, NULL, -1, never_called_watch, NULL, NULL, NULL), "out_subscription");
    CHECK_NULL_PARAM(steady_engine_add_controller(NULL, "c", "ConfigMap", NULL, never_called_reconcile, NULL, NULL), "engine");
    CHECK_NULL_PARAM(steady_engine_add_controller(e, NULL, "ConfigMap", NULL, never_called_reconcile, NULL, NULL), "name");
    CHECK_NULL_PARAM(steady_engine_add_controller(e, "c", NULL, NULL, never_called_reconcile, NULL, NULL), "kind");
    CHECK_NULL_PARAM(steady_engine_add_controller(e, "c", "ConfigMap", NULL, NULL, NULL, NULL), "reconcile");
    CHECK_NULL_PARAM(steady_reconcile_reply_requeue_after(NULL, 5), "reply");
    CHECK_NULL_PARAM(steady_reconcile_reply_error(NULL, "x"), "reply");

    /* Invalid UTF-8 in every string parameter. */
    CHECK_BAD_UTF8(steady_engine_apply(e, BAD, NULL), "manifest");
    CHECK_BAD_UTF8(steady_engine_get(e, BAD, NULL, "c", &out), "kind");
    CHECK_BAD_UTF8(steady_engine_get(e, "ConfigMap", BAD, "c", &out), "ns");
    CHECK_BAD_UTF8(steady_engine_get(e, "ConfigMap", NULL, BAD, &out), "name");
    CHECK_BAD_UTF8(steady_engine_list(e, "ConfigMap", BAD, NULL, &out), "ns");
    CHECK_BAD_UTF8(steady_engine_list(e, "ConfigMap", NULL, BAD, &out), "label_selector");
    CHECK_BAD_UTF8(steady_engine_create(e, BAD, NULL), "object_json");
    CHECK_BAD_UTF8(steady_engine_update(e, BAD, NULL), "object_json");
    CHECK_BAD_UTF8(steady_engine_update_status(e, BAD, NULL), "object_json");
    CHECK_BAD_UTF8(steady_engine_patch(e, "ConfigMap", NULL, "c", BAD, false, NULL), "patch_json");
    CHECK_BAD_UTF8(steady_engine_delete(e, "ConfigMap", NULL, "c", BAD, NULL), "options_json");
    CHECK_BAD_UTF8(steady_watch_new(e, "ConfigMap", NULL, BAD, -1, &w), "label_selector");
    CHECK_BAD_UTF8(steady_subscription_new(e, "ConfigMap", BAD, NULL, -1, never_called_watch, NULL, NULL, &s), "ns");
    CHECK_BAD_UTF8(steady_engine_add_controller(e, BAD, "ConfigMap", NULL, never_called_reconcile, NULL, NULL), "name");
    CHECK_BAD_UTF8(steady_engine_add_controller(e, "c", "ConfigMap", BAD, never_called_reconcile, NULL, NULL), "options_json");

    /* Malformed JSON in every JSON parameter. */
    CHECK_RC(steady_engine_create(e, "{\"kind\": ", NULL), STEADY_INVALID);
    CHECK_ERROR_MENTIONS("object_json: malformed JSON");
    CHECK_RC(steady_engine_update(e, "[1,", NULL), STEADY_INVALID);
    CHECK_ERROR_MENTIONS("object_json: malformed JSON");
    CHECK_RC(steady_engine_update_status(e, "nope", NULL), STEADY_INVALID);
    CHECK_ERROR_MENTIONS("object_json: malformed JSON");
    CHECK_RC(steady_engine_create(e, "[1]", NULL), STEADY_INVALID);
    CHECK_ERROR_MENTIONS("expected a JSON object");
    CHECK_RC(steady_engine_create(e, "{\"kind\": \"ConfigMap\", \"metadata\": {\"name\": \"x\"}}", NULL), STEADY_INVALID);
    CHECK_ERROR_MENTIONS("apiVersion is required");
    CHECK_RC(steady_engine_patch(e, "ConfigMap", NULL, "c", "{", false, NULL), STEADY_INVALID);
    CHECK_ERROR_MENTIONS("patch_json: malformed JSON");
    CHECK_RC(steady_engine_delete(e, "ConfigMap", NULL, "c", "{", NULL), STEADY_INVALID);
    CHECK_ERROR_MENTIONS("delete options: malformed JSON");
    CHECK_RC(steady_engine_add_controller(e, "c", "ConfigMap", "{", never_called_reconcile, NULL, NULL), STEADY_INVALID);
    CHECK_ERROR_MENTIONS("controller options: malformed JSON");
    CHECK_RC(steady_engine_add_controller(e, "c", "ConfigMap", "{\"own\": []}", never_called_reconcile, NULL, NULL), STEADY_INVALID);
    CHECK_ERROR_MENTIONS("unknown key \"own\"");

    /* Unknown kinds, and kinds that are not kind names. */
    CHECK_UNKNOWN_KIND(steady_engine_get(e, "Widget", NULL, "c", &out));
    CHECK_UNKNOWN_KIND(steady_engine_list(e, "Widget", NULL, NULL, &out));
    CHECK_UNKNOWN_KIND(steady_engine_patch(e, "Widget", NULL, "c", "{}", false, NULL));
    CHECK_UNKNOWN_KIND(steady_engine_delete(e, "Widget", NULL, "c", NULL, NULL));
    CHECK_UNKNOWN_KIND(steady_watch_new(e, "Widget", NULL, NULL, -1, &w));
    CHECK_UNKNOWN_KIND(steady_subscription_new(e, "Widget", NULL, NULL, -1, never_called_watch, NULL, NULL, &s));
    CHECK_UNKNOWN_KIND(steady_engine_add_controller(e, "c", "Widget", NULL, never_called_reconcile, NULL, NULL));
    CHECK_UNKNOWN_KIND(steady_engine_add_controller(e, "c", "ConfigMap", "{\"owns\": [\"Widget\"]}", never_called_reconcile, NULL, NULL));
    CHECK_RC(steady_engine_get(e, "configmaps", NULL, "c", &out), STEADY_INVALID);
    CHECK_ERROR_MENTIONS("expected \"Kind\" or \"apiVersion/Kind\"");
    CHECK_RC(steady_engine_get(e, "/ConfigMap", NULL, "c", &out), STEADY_INVALID);
    CHECK_RC(steady_engine_get(e, "v2/ConfigMap", NULL, "c", &out), STEADY_INVALID);
    CHECK_ERROR_MENTIONS("ConfigMap is served as \"v1\", not \"v2\"");

    /* A resourceVersion beyond the engine's, as kube-apiserver refuses it. */
    CHECK_RC(steady_watch_new(e, "ConfigMap", NULL, NULL, 1000000000, &w), STEADY_INVALID);
    CHECK_ERROR_MENTIONS("too large resource version: 1000000000, current: ");
    CHECK_RC(steady_subscription_new(e, "ConfigMap", NULL, NULL, 1000000000, never_called_watch, NULL, NULL, &s), STEADY_INVALID);
    CHECK_ERROR_MENTIONS("too large resource version");

    /* Nothing was written through the outputs. */
    CHECK(out == UNTOUCHED);
    CHECK(w == (steady_watch *)UNTOUCHED);
    CHECK(s == (steady_subscription *)UNTOUCHED);

    /* The engine still works. */
    out = NULL;
    CHECK_OK(steady_engine_get(e, "ConfigMap", NULL, "c", &out));
    CHECK_CONTAINS(out, "\"name\":\"c\"");
    steady_string_free(out);
    steady_engine_free(e);
    TEST_DONE();
}
