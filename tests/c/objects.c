/* apply, get, list, create, update, update_status, patch, delete and metrics, with the
   errors each can give. */
#include <pthread.h>

#include "check.h"

static const char *WEB =
    "apiVersion: apps/v1\n"
    "kind: Deployment\n"
    "metadata: {name: web, labels: {app: web}}\n"
    "spec:\n"
    "  replicas: 3\n"
    "  selector: {matchLabels: {app: web}}\n"
    "  template:\n"
    "    metadata: {labels: {app: web}}\n"
    "    spec:\n"
    "      containers: [{name: web, image: nginx:1.25}]\n"
    "---\n"
    "apiVersion: v1\n"
    "kind: Namespace\n"
    "metadata: {name: prod}\n"
    "---\n"
    "apiVersion: v1\n"
    "kind: ConfigMap\n"
    "metadata: {name: settings, namespace: prod, labels: {tier: front}}\n"
    "data: {color: blue}\n";

/* Nothing is accepted silently: an unserved kind is refused and nothing of its manifest
   applies; a CustomResourceDefinition serves its kind in the same apply; fields kept but not
   implemented are warned about; immutable fields are refused on update. */
static void manifests_mean_what_they_say(steady_engine *e) {
    CHECK_RC(steady_engine_apply(e,
                                 "apiVersion: v1\nkind: ConfigMap\nmetadata: {name: before-cron}\n---\n"
                                 "apiVersion: networking.k8s.io/v1\nkind: Ingress\nmetadata: {name: nightly}\n",
                                 NULL),
             STEADY_INVALID);
    CHECK_ERROR_MENTIONS("no matches for kind \"Ingress\" in version \"networking.k8s.io/v1\"");
    char *json = NULL;
    CHECK_RC(steady_engine_get(e, "ConfigMap", NULL, "before-cron", &json), STEADY_NOT_FOUND);
    char *report = NULL;
    CHECK_OK(steady_engine_apply(e,
                                 "apiVersion: apiextensions.k8s.io/v1\nkind: CustomResourceDefinition\n"
                                 "metadata: {name: crontabs.stable.example.com}\n"
                                 "spec: {group: stable.example.com, scope: Namespaced,\n"
                                 "  names: {kind: CronTab, plural: crontabs},\n"
                                 "  versions: [{name: v1, served: true, storage: true}]}\n---\n"
                                 "apiVersion: stable.example.com/v1\nkind: CronTab\nmetadata: {name: t}\n---\n"
                                 "apiVersion: v1\nkind: Pod\nmetadata: {name: limited}\n"
                                 "spec: {containers: [{name: a, image: x, resources: {limits: {memory: 1Gi, ephemeral-storage: 1Gi}}}]}\n",
                                 &report));
    CHECK_CONTAINS(report, "spec.containers[0].resources.limits.ephemeral-storage: kept but not implemented by steady");
    steady_string_free(report);
    CHECK_OK(steady_engine_get(e, "stable.example.com/v1/CronTab", NULL, "t", &json));
    steady_string_free(json);
    json = NULL;
    CHECK_RC(steady_engine_patch(e, "Deployment", NULL, "web",
                                 "{\"spec\": {\"selector\": {\"matchLabels\": {\"app\": \"other\"}}}}",
                                 0, &json),
             STEADY_INVALID);
    CHECK_ERROR_MENTIONS("spec.selector: field is immutable");
}

static void apply_reports_what_it_did(steady_engine *e) {
    char *report = NULL;
    CHECK_OK(steady_engine_apply(e, WEB, &report));
    CHECK_CONTAINS(report, "\"kind\":\"Deployment\"");
    CHECK_CONTAINS(report, "\"action\":\"created\"");
    CHECK_CONTAINS(report, "\"namespace\":\"prod\"");
    steady_string_free(report);
    /* The same manifest again changes nothing. */
    report = NULL;
    CHECK_OK(steady_engine_apply(e, WEB, &report));
    CHECK_CONTAINS(report, "\"action\":\"unchanged\"");
    CHECK(strstr(report, "\"created\"") == NULL);
    steady_string_free(report);
    /* JSON manifests too; the report is optional. */
    CHECK_OK(steady_engine_apply(
        e, "{\"apiVersion\": \"v1\", \"kind\": \"ConfigMap\", \"metadata\": {\"name\": \"j\"}}", NULL));
    /* A bad document is refused as a whole, naming the document and line. */
    char *untouched = (char *)"untouched";
    report = untouched;
    CHECK_RC(steady_engine_apply(e,
                                 "apiVersion: v1\nkind: ConfigMap\nmetadata: {name: fine}\n---\n"
                                 "apiVersion: apps/v1\nkind: Deployment\nmetadata: {name: x}\n"
                                 "spec: {replicas: many}\n",
                                 &report),
             STEADY_INVALID);
    CHECK(report == untouched);
    CHECK_ERROR_MENTIONS("document 2");
    CHECK_ERROR_MENTIONS("spec.replicas");
    char *json = NULL;
    CHECK_RC(steady_engine_get(e, "ConfigMap", NULL, "fine", &json), STEADY_NOT_FOUND);
    CHECK_RC(steady_engine_apply(e, "key: [unclosed", NULL), STEADY_INVALID);
    CHECK_ERROR_MENTIONS("document 1");
}

static void get_reads_one_object(steady_engine *e) {
    char *json = NULL;
    CHECK_OK(steady_engine_get(e, "Deployment", NULL, "web", &json));
    CHECK_CONTAINS(json, "\"replicas\":3");
    CHECK_CONTAINS(json, "\"apiVersion\":\"apps/v1\"");
    steady_string_free(json);
    json = NULL;
    CHECK_OK(steady_engine_get(e, "apps/v1/Deployment", "default", "web", &json));
    CHECK_CONTAINS(json, "\"name\":\"web\"");
    steady_string_free(json);
    json = NULL;
    CHECK_OK(steady_engine_get(e, "ConfigMap", "prod", "settings", &json));
    CHECK_CONTAINS(json, "\"color\":\"blue\"");
    steady_string_free(json);

    char *untouched = (char *)"untouched";
    json = untouched;
    CHECK_RC(steady_engine_get(e, "ConfigMap", NULL, "settings", &json), STEADY_NOT_FOUND);
    CHECK_ERROR_MENTIONS("ConfigMap \"default/settings\" not found");
    CHECK(json == untouched);
}

static void list_filters_by_namespace_and_selector(steady_engine *e) {
    char *json = NULL;
    CHECK_OK(steady_engine_list(e, "ConfigMap", NULL, NULL, &json));
    CHECK_CONTAINS(json, "\"kind\":\"ConfigMapList\"");
    CHECK_CONTAINS(json, "\"resourceVersion\":\"");
    CHECK_CONTAINS(json, "\"settings\"");
    CHECK_CONTAINS(json, "\"name\":\"j\"");
    steady_string_free(json);
    json = NULL;
    CHECK_OK(steady_engine_list(e, "ConfigMap", "default", NULL, &json));
    CHECK(json != NULL && strstr(json, "settings") == NULL);
    steady_string_free(json);
    json = NULL;
    CHECK_OK(steady_engine_list(e, "ConfigMap", NULL, "tier in (front, back)", &json));
    CHECK_CONTAINS(json, "\"settings\"");
    CHECK(json != NULL && strstr(json, "\"name\":\"j\"") == NULL);
    steady_string_free(json);
    json = NULL;
    CHECK_OK(steady_engine_list(e, "example.com/v1/Gadget", NULL, NULL, &json));
    CHECK_CONTAINS(json, "\"items\":[]");
    steady_string_free(json);
    json = NULL;
    /* A kind the engine does not serve is refused, naming it: never made up on first use. */
    CHECK_RC(steady_engine_list(e, "example.com/v1/Nothing", NULL, NULL, &json), STEADY_INVALID);
    CHECK_ERROR_MENTIONS("no matches for kind \"Nothing\" in version \"example.com/v1\"");
    CHECK_RC(steady_engine_list(e, "ConfigMap", NULL, "tier in (front", &json), STEADY_INVALID);
    CHECK_ERROR_MENTIONS("invalid label selector");
}

static const char *WIDGET =
    "{\"apiVersion\": \"example.com/v1\", \"kind\": \"Widget\","
    " \"metadata\": {\"name\": \"blue\", \"labels\": {\"color\": \"blue\"}},"
    " \"spec\": {\"size\": 3}}";

static void create_update_and_status(steady_engine *e) {
    char *json = NULL;
    CHECK_OK(steady_engine_create(e, WIDGET, &json));
    CHECK_CONTAINS(json, "\"uid\":");
    CHECK_CONTAINS(json, "\"namespace\":\"default\"");
    CHECK_CONTAINS(json, "\"generation\":1");
    steady_string_free(json);
    CHECK_RC(steady_engine_create(e, WIDGET, NULL), STEADY_ALREADY_EXISTS);
    CHECK_ERROR_MENTIONS("Widget \"default/blue\" already exists");

    /* Update with a stale resourceVersion: a conflict. */
    const char *stale =
        "{\"apiVersion\": \"example.com/v1\", \"kind\": \"Widget\","
        " \"metadata\": {\"name\": \"blue\", \"resourceVersion\": \"1\"}, \"spec\": {\"size\": 4}}";
    CHECK_RC(steady_engine_update(e, stale, NULL), STEADY_CONFLICT);
    CHECK_ERROR_MENTIONS("conflict");
    /* Without one: last write wins; the spec change bumps the generation. */
    const char *fresh =
        "{\"apiVersion\": \"example.com/v1\", \"kind\": \"Widget\","
        " \"metadata\": {\"name\": \"blue\"}, \"spec\": {\"size\": 4}}";
    json = NULL;
    CHECK_OK(steady_engine_update(e, fresh, &json));
    CHECK_CONTAINS(json, "\"size\":4");
    CHECK_CONTAINS(json, "\"generation\":2");
    steady_string_free(json);
    CHECK_RC(steady_engine_update(e,
                                  "{\"apiVersion\": \"example.com/v1\", \"kind\": \"Widget\","
                                  " \"metadata\": {\"name\": \"missing\"}}",
                                  NULL),
             STEADY_NOT_FOUND);

    /* Status is a subresource: update ignores it, update_status changes only it. */
    const char *with_status =
        "{\"apiVersion\": \"example.com/v1\", \"kind\": \"Widget\","
        " \"metadata\": {\"name\": \"blue\"}, \"spec\": {\"size\": 99}, \"status\": {\"ready\": true}}";
    json = NULL;
    CHECK_OK(steady_engine_update_status(e, with_status, &json));
    CHECK_CONTAINS(json, "\"ready\":true");
    CHECK_CONTAINS(json, "\"size\":4");
    steady_string_free(json);

    /* Built-in kinds go through the same calls and their validation. */
    CHECK_RC(steady_engine_create(e,
                                  "{\"apiVersion\": \"v1\", \"kind\": \"Pod\", \"metadata\":"
                                  " {\"name\": \"Bad_Name\"}, \"spec\": {\"containers\": []}}",
                                  NULL),
             STEADY_INVALID);
    CHECK_ERROR_MENTIONS("metadata.name");
    CHECK_RC(steady_engine_create(e,
                                  "{\"apiVersion\": \"apps/v2\", \"kind\": \"Deployment\","
                                  " \"metadata\": {\"name\": \"x\"}}",
                                  NULL),
             STEADY_INVALID);
    CHECK_ERROR_MENTIONS("served as \"apps/v1\"");
}

static void patch_merges(steady_engine *e) {
    char *json = NULL;
    CHECK_OK(steady_engine_patch(e, "example.com/v1/Widget", NULL, "blue",
                                 "{\"spec\": {\"size\": 5, \"shape\": \"round\"},"
                                 " \"metadata\": {\"labels\": {\"color\": null}}}",
                                 false, &json));
    CHECK_CONTAINS(json, "\"size\":5");
    CHECK_CONTAINS(json, "\"shape\":\"round\"");
    CHECK(json != NULL && strstr(json, "\"color\"") == NULL);
    steady_string_free(json);
    json = NULL;
    CHECK_OK(steady_engine_patch(e, "example.com/v1/Widget", "default", "blue",
                                 "{\"status\": {\"ready\": false}}", true, &json));
    CHECK_CONTAINS(json, "\"ready\":false");
    steady_string_free(json);
    CHECK_OK(steady_engine_patch(e, "Deployment", NULL, "web", "{\"spec\": {\"replicas\": 5}}",
                                 false, NULL));
    CHECK_RC(steady_engine_patch(e, "Deployment", NULL, "web", "{\"spec\": {\"replicas\": \"five\"}}",
                                 false, NULL),
             STEADY_INVALID);
    CHECK_ERROR_MENTIONS("spec.replicas");
    CHECK_RC(steady_engine_patch(e, "Deployment", NULL, "gone", "{}", false, NULL), STEADY_NOT_FOUND);
    CHECK_RC(steady_engine_patch(e, "Deployment", NULL, "web", "{\"spec\":", false, NULL),
             STEADY_INVALID);
    CHECK_ERROR_MENTIONS("patch_json: malformed JSON");
}

static void delete_honours_options(steady_engine *e) {
    /* A failed precondition. */
    CHECK_RC(steady_engine_delete(e, "example.com/v1/Widget", NULL, "blue",
                                  "{\"preconditions\": {\"uid\": \"not-its-uid\"}}", NULL),
             STEADY_CONFLICT);
    /* Foreground propagation keeps the object, marked for deletion, until its dependents go. */
    char *json = NULL;
    CHECK_OK(steady_engine_delete(e, "example.com/v1/Widget", NULL, "blue",
                                  "{\"propagationPolicy\": \"Foreground\"}", &json));
    CHECK_CONTAINS(json, "\"deletionTimestamp\"");
    CHECK_CONTAINS(json, "foregroundDeletion");
    steady_string_free(json);
    /* Plain delete of an object without finalizers: gone. */
    json = NULL;
    CHECK_OK(steady_engine_delete(e, "ConfigMap", "prod", "settings", NULL, &json));
    CHECK_CONTAINS(json, "\"settings\"");
    steady_string_free(json);
    json = NULL;
    CHECK_RC(steady_engine_get(e, "ConfigMap", "prod", "settings", &json), STEADY_NOT_FOUND);
    CHECK_RC(steady_engine_delete(e, "ConfigMap", "prod", "settings", NULL, NULL), STEADY_NOT_FOUND);
    CHECK_RC(steady_engine_delete(e, "ConfigMap", NULL, "j", "{\"propagationPolicy\": \"Later\"}", NULL),
             STEADY_INVALID);
    CHECK_ERROR_MENTIONS("propagationPolicy");
    CHECK_RC(steady_engine_delete(e, "ConfigMap", NULL, "j", "{\"grace\": 1}", NULL), STEADY_INVALID);
    CHECK_ERROR_MENTIONS("unknown key \"grace\"");
}

static void metrics_are_prometheus_text(steady_engine *e) {
    char *text = NULL;
    CHECK_OK(steady_engine_metrics(e, &text));
    CHECK(text != NULL);
    steady_string_free(text);
    CHECK_RC(steady_engine_metrics(e, NULL), STEADY_NULL_PARAMETER);
}

/* Several host threads write one object at once: merge patches retry internally on
   conflicts, so every thread's last write is there. */
struct writer {
    steady_engine *engine;
    int id;
    int failures;
};

static void *write_counter(void *arg) {
    struct writer *w = arg;
    for (int i = 1; i <= 50; i++) {
        char patch[128];
        snprintf(patch, sizeof patch, "{\"data\": {\"t%d\": \"%d\"}}", w->id, i);
        if (steady_engine_patch(w->engine, "ConfigMap", NULL, "shared", patch, false, NULL) != STEADY_OK)
            w->failures++;
        char *json = NULL;
        if (steady_engine_get(w->engine, "ConfigMap", NULL, "shared", &json) != STEADY_OK)
            w->failures++;
        steady_string_free(json);
    }
    return NULL;
}

static void threads_share_an_engine(steady_engine *e) {
    CHECK_OK(steady_engine_create(e, "{\"apiVersion\": \"v1\", \"kind\": \"ConfigMap\","
                                     " \"metadata\": {\"name\": \"shared\"}}", NULL));
    pthread_t threads[4];
    struct writer writers[4];
    for (int i = 0; i < 4; i++) {
        writers[i] = (struct writer){e, i, 0};
        pthread_create(&threads[i], NULL, write_counter, &writers[i]);
    }
    for (int i = 0; i < 4; i++) {
        pthread_join(threads[i], NULL);
        CHECK(writers[i].failures == 0);
    }
    char *json = NULL;
    CHECK_OK(steady_engine_get(e, "ConfigMap", NULL, "shared", &json));
    CHECK_CONTAINS(json, "\"t0\":\"50\"");
    CHECK_CONTAINS(json, "\"t1\":\"50\"");
    CHECK_CONTAINS(json, "\"t2\":\"50\"");
    CHECK_CONTAINS(json, "\"t3\":\"50\"");
    steady_string_free(json);
}

int main(void) {
    steady_engine *e = NULL;
    CHECK_OK(steady_engine_new("{\"workers\": 1, \"kinds\": [{\"apiVersion\": \"example.com/v1\", \"kind\": \"Widget\"}, {\"apiVersion\": \"example.com/v1\", \"kind\": \"Gadget\"}]}", &e));
    apply_reports_what_it_did(e);
    manifests_mean_what_they_say(e);
    get_reads_one_object(e);
    list_filters_by_namespace_and_selector(e);
    create_update_and_status(e);
    patch_merges(e);
    delete_honours_options(e);
    metrics_are_prometheus_text(e);
    threads_share_an_engine(e);
    steady_engine_free(e);
    TEST_DONE();
}
