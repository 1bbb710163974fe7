/* Host controllers: a reconcile callback that re-enters the API, requeues, errors (with
   retries counted), terminal errors, bad return values, and userdata ownership. */
#include <stdatomic.h>

#include "check.h"

struct host {
    steady_engine *engine;
    atomic_int reconciles;
    atomic_int freed;
    atomic_int failures_left; /* fail this many times first */
    atomic_uint max_retries;
    atomic_int refused_free;
    atomic_int gone;
    atomic_int found_existing; /* reconciles that found the ConfigMap already there */
    int action; /* what to return once the work is done */
};

/* Every Widget gets a ConfigMap of the same name (owned by it) and status.ready. */
static int32_t reconcile_widget(void *userdata, const steady_reconcile_request *req,
                                steady_reconcile_reply *reply) {
    struct host *h = userdata;
    atomic_fetch_add(&h->reconciles, 1);
    unsigned r = req->retries;
    if (r > atomic_load(&h->max_retries)) atomic_store(&h->max_retries, r);
    if (strcmp(req->controller, "widgets") != 0 || strcmp(req->kind, "Widget") != 0 ||
        strcmp(req->api_version, "example.com/v1") != 0 || req->ns == NULL ||
        strcmp(req->ns, "default") != 0) {
        steady_reconcile_reply_error(reply, "unexpected request");
        return STEADY_RECONCILE_TERMINAL_ERROR;
    }
    if (atomic_fetch_sub(&h->failures_left, 1) > 0) {
        steady_reconcile_reply_error(reply, "the database is not reachable yet");
        return STEADY_RECONCILE_ERROR;
    }
    /* Freeing the engine from inside a callback is refused; the engine goes on. */
    steady_engine_free(h->engine);
    if (strstr(steady_last_error(), "refused")) atomic_fetch_add(&h->refused_free, 1);

    char *widget = NULL;
    steady_result rc = steady_engine_get(h->engine, "example.com/v1/Widget", req->ns, req->name, &widget);
    if (rc == STEADY_NOT_FOUND) {
        atomic_fetch_add(&h->gone, 1);
        return STEADY_RECONCILE_DONE;
    }
    if (rc != STEADY_OK) {
        steady_reconcile_reply_error(reply, steady_last_error());
        return STEADY_RECONCILE_ERROR;
    }
    const char *uid = strstr(widget, "\"uid\":\"");
    char uid_value[64] = "";
    if (uid) sscanf(uid + 7, "%63[^\"]", uid_value);
    steady_string_free(widget);

    char cm[512];
    snprintf(cm, sizeof cm,
             "{\"apiVersion\": \"v1\", \"kind\": \"ConfigMap\", \"metadata\": {\"name\": \"%s\","
             " \"namespace\": \"%s\", \"ownerReferences\": [{\"apiVersion\": \"example.com/v1\","
             " \"kind\": \"Widget\", \"name\": \"%s\", \"uid\": \"%s\", \"controller\": true}]}}",
             req->name, req->ns, req->name, uid_value);
    rc = steady_engine_create(h->engine, cm, NULL);
    if (rc == STEADY_ALREADY_EXISTS) atomic_fetch_add(&h->found_existing, 1);
    if (rc != STEADY_OK && rc != STEADY_ALREADY_EXISTS) {
        steady_reconcile_reply_error(reply, steady_last_error());
        return STEADY_RECONCILE_ERROR;
    }
    rc = steady_engine_patch(h->engine, "example.com/v1/Widget", req->ns, req->name,
                             "{\"status\": {\"ready\": true}}", true, NULL);
    if (rc != STEADY_OK && rc != STEADY_NOT_FOUND) {
        steady_reconcile_reply_error(reply, steady_last_error());
        return STEADY_RECONCILE_ERROR;
    }
    if (h->action == STEADY_RECONCILE_REQUEUE) steady_reconcile_reply_requeue_after(reply, 1);
    return h->action;
}

static void release_host(void *userdata) {
    struct host *h = userdata;
    atomic_fetch_add(&h->freed, 1);
}

static int has_ready_status(steady_engine *e, const char *name) {
    char *json = NULL;
    if (steady_engine_get(e, "example.com/v1/Widget", NULL, name, &json) != STEADY_OK) return 0;
    int ready = strstr(json, "\"ready\":true") != NULL;
    steady_string_free(json);
    return ready;
}

static int exists(steady_engine *e, const char *kind, const char *name) {
    char *json = NULL;
    if (steady_engine_get(e, kind, NULL, name, &json) != STEADY_OK) return 0;
    steady_string_free(json);
    return 1;
}

static int metrics_contain(steady_engine *e, const char *text) {
    char *metrics = NULL;
    if (steady_engine_metrics(e, &metrics) != STEADY_OK) return 0;
    int found = strstr(metrics, text) != NULL;
    steady_string_free(metrics);
    return found;
}

static void a_controller_reconciles_and_reenters_the_api(void) {
    steady_engine *e = NULL;
    CHECK_OK(steady_engine_new("{\"workers\": 2, \"kinds\": [{\"apiVersion\": \"example.com/v1\", \"kind\": \"Widget\"}, {\"apiVersion\": \"example.com/v1\", \"kind\": \"Gadget\"}]}", &e));
    /* An object that exists before the controller is reconciled first. */
    CHECK_OK(steady_engine_apply(e, "apiVersion: example.com/v1\nkind: Widget\nmetadata: {name: early}\n", NULL));
    static struct host h;
    h.engine = e;
    h.action = STEADY_RECONCILE_DONE;
    atomic_store(&h.failures_left, 2);
    CHECK_OK(steady_engine_add_controller(e, "widgets", "example.com/v1/Widget",
                                          "{\"owns\": [\"ConfigMap\"]}", reconcile_widget, &h,
                                          release_host));
    /* It failed twice (retried with backoff, retries counted), then succeeded. */
    EVENTUALLY(has_ready_status(e, "early"), 20);
    CHECK(exists(e, "ConfigMap", "early"));
    CHECK(atomic_load(&h.max_retries) == 2);
    CHECK(atomic_load(&h.refused_free) >= 1);
    /* A reconcile after early's ConfigMap exists can only come from the ConfigMap informer:
       once seen, that informer is watching (add_controller returns before its informers
       have opened their watches; a child created and deleted in between would be missed). */
    EVENTUALLY(atomic_load(&h.found_existing) >= 1, 20);

    CHECK_OK(steady_engine_apply(e, "apiVersion: example.com/v1\nkind: Widget\nmetadata: {name: late}\n", NULL));
    EVENTUALLY(has_ready_status(e, "late"), 20);
    CHECK(exists(e, "ConfigMap", "late"));

    /* Deleting an owned ConfigMap wakes its owner, which puts it back. */
    CHECK_OK(steady_engine_delete(e, "ConfigMap", NULL, "late", NULL, NULL));
    EVENTUALLY(exists(e, "ConfigMap", "late"), 20);

    /* A deleted object is reconciled once more and found gone. */
    CHECK_OK(steady_engine_delete(e, "example.com/v1/Widget", NULL, "early", NULL, NULL));
    EVENTUALLY(atomic_load(&h.gone) >= 1, 20);

    /* The metrics count the controller's reconciles and errors. */
    char *metrics = NULL;
    CHECK_OK(steady_engine_metrics(e, &metrics));
    CHECK_CONTAINS(metrics, "controller_runtime_reconcile_total{controller=\"widgets\",result=\"error\"} 2");
    CHECK_CONTAINS(metrics, "controller_runtime_reconcile_total{controller=\"widgets\",result=\"success\"}");
    steady_string_free(metrics);

    /* A second controller of the same name is refused; its userdata stays the caller's. */
    static struct host other;
    CHECK_RC(steady_engine_add_controller(e, "widgets", "example.com/v1/Widget", NULL,
                                          reconcile_widget, &other, release_host),
             STEADY_ALREADY_EXISTS);
    CHECK(atomic_load(&other.freed) == 0);

    /* The userdata is released once, when the engine is freed. */
    CHECK(atomic_load(&h.freed) == 0);
    steady_engine_free(e);
    CHECK(atomic_load(&h.freed) == 1);
    CHECK(atomic_load(&other.freed) == 0);
}

static atomic_int requeues;
static int32_t always_requeue(void *userdata, const steady_reconcile_request *req,
                              steady_reconcile_reply *reply) {
    (void)userdata;
    (void)req;
    atomic_fetch_add(&requeues, 1);
    steady_reconcile_reply_requeue_after(reply, 1);
    return STEADY_RECONCILE_REQUEUE;
}

static atomic_int odd_calls;
static atomic_uint odd_retries;
static int32_t returns_nonsense(void *userdata, const steady_reconcile_request *req,
                                steady_reconcile_reply *reply) {
    (void)userdata;
    (void)reply;
    atomic_fetch_add(&odd_calls, 1);
    atomic_store(&odd_retries, req->retries);
    return 42;
}

static atomic_int terminal_calls;
static int32_t fails_terminally(void *userdata, const steady_reconcile_request *req,
                                steady_reconcile_reply *reply) {
    (void)userdata;
    (void)req;
    atomic_fetch_add(&terminal_calls, 1);
    steady_reconcile_reply_error(reply, "the spec can never work");
    return STEADY_RECONCILE_TERMINAL_ERROR;
}

static void actions_requeue_terminal_and_nonsense(void) {
    steady_engine *e = NULL;
    CHECK_OK(steady_engine_new("{\"workers\": 2, \"kinds\": [{\"apiVersion\": \"example.com/v1\", \"kind\": \"Widget\"}, {\"apiVersion\": \"example.com/v1\", \"kind\": \"Gadget\"}]}", &e));
    CHECK_OK(steady_engine_apply(e, "apiVersion: v1\nkind: ConfigMap\nmetadata: {name: poll}\n", NULL));
    CHECK_OK(steady_engine_add_controller(e, "poller", "ConfigMap", NULL, always_requeue, NULL, NULL));
    /* Requeue after 1 ms: reconciled again and again without any change. */
    EVENTUALLY(atomic_load(&requeues) >= 5, 20);

    CHECK_OK(steady_engine_apply(e, "apiVersion: example.com/v1\nkind: Gadget\nmetadata: {name: g}\n", NULL));
    /* A return value that is not an action is a retried error. */
    CHECK_OK(steady_engine_add_controller(e, "odd", "example.com/v1/Gadget", NULL, returns_nonsense, NULL, NULL));
    EVENTUALLY(atomic_load(&odd_retries) >= 2, 20);
    /* A terminal error is not retried until the object changes. */
    CHECK_OK(steady_engine_add_controller(e, "final", "example.com/v1/Gadget", NULL, fails_terminally, NULL, NULL));
    EVENTUALLY(atomic_load(&terminal_calls) == 1, 20);
    EVENTUALLY(metrics_contain(e, "controller_runtime_terminal_reconcile_errors_total{controller=\"final\"} 1"), 20);
    sleep_ms(50);
    CHECK(atomic_load(&terminal_calls) == 1);
    steady_engine_free(e);
}

int main(void) {
    a_controller_reconciles_and_reenters_the_api();
    actions_requeue_terminal_and_nonsense();
    TEST_DONE();
}
