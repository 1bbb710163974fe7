/* Blocking watches (steady_watch) and callback watches (steady_subscription). */
#include <pthread.h>
#include <stdatomic.h>

#include "check.h"

static char *cm(const char *name, const char *tier) {
    static char buf[256];
    snprintf(buf, sizeof buf,
             "{\"apiVersion\": \"v1\", \"kind\": \"ConfigMap\","
             " \"metadata\": {\"name\": \"%s\", \"labels\": {\"tier\": \"%s\"}}}",
             name, tier);
    return buf;
}

/* The event's type, from its JSON. */
static const char *type_of(const char *event) {
    if (strstr(event, "\"type\":\"ADDED\"")) return "ADDED";
    if (strstr(event, "\"type\":\"MODIFIED\"")) return "MODIFIED";
    if (strstr(event, "\"type\":\"DELETED\"")) return "DELETED";
    if (strstr(event, "\"type\":\"ERROR\"")) return "ERROR";
    return "?";
}

static void blocking_watch(void) {
    steady_engine *e = NULL;
    CHECK_OK(steady_engine_new("{\"workers\": 1}", &e));
    CHECK_OK(steady_engine_create(e, cm("a", "front"), NULL));

    /* From now: a synthetic ADDED per current object, then live changes. */
    steady_watch *w = NULL;
    CHECK_OK(steady_watch_new(e, "ConfigMap", NULL, NULL, -1, &w));
    char *ev = NULL;
    CHECK_OK(steady_watch_next(w, 5000, &ev));
    CHECK(ev && strcmp(type_of(ev), "ADDED") == 0);
    CHECK_CONTAINS(ev, "\"name\":\"a\"");
    steady_string_free(ev);
    char *untouched = (char *)"untouched";
    ev = untouched;
    CHECK_RC(steady_watch_next(w, 0, &ev), STEADY_TIMEOUT);
    CHECK_RC(steady_watch_next(w, 20, &ev), STEADY_TIMEOUT);
    CHECK(ev == untouched);
    CHECK_OK(steady_engine_patch(e, "ConfigMap", NULL, "a", "{\"data\": {\"k\": \"v\"}}", false, NULL));
    ev = NULL;
    CHECK_OK(steady_watch_next(w, 5000, &ev));
    CHECK(ev && strcmp(type_of(ev), "MODIFIED") == 0);
    steady_string_free(ev);
    /* Blocking without a limit returns as soon as an event arrives. */
    CHECK_OK(steady_engine_delete(e, "ConfigMap", NULL, "a", NULL, NULL));
    ev = NULL;
    CHECK_OK(steady_watch_next(w, -1, &ev));
    CHECK(ev && strcmp(type_of(ev), "DELETED") == 0);
    steady_string_free(ev);

    /* From a resourceVersion: replayed history, filtered by namespace and selector. */
    char *list = NULL;
    CHECK_OK(steady_engine_list(e, "ConfigMap", NULL, NULL, &list));
    const char *rv = strstr(list, "\"resourceVersion\":\"");
    long since = rv ? strtol(rv + strlen("\"resourceVersion\":\""), NULL, 10) : 0;
    CHECK(since > 0);
    steady_string_free(list);
    CHECK_OK(steady_engine_create(e, cm("back-1", "back"), NULL));
    CHECK_OK(steady_engine_create(e, cm("front-1", "front"), NULL));
    steady_watch *front = NULL;
    CHECK_OK(steady_watch_new(e, "v1/ConfigMap", "default", "tier=front", since, &front));
    ev = NULL;
    CHECK_OK(steady_watch_next(front, 5000, &ev));
    CHECK_CONTAINS(ev, "\"name\":\"front-1\"");
    steady_string_free(ev);
    CHECK_RC(steady_watch_next(front, 0, &ev), STEADY_TIMEOUT);
    /* A label change moves an object into the selection: ADDED. */
    CHECK_OK(steady_engine_patch(e, "ConfigMap", NULL, "back-1",
                                 "{\"metadata\": {\"labels\": {\"tier\": \"front\"}}}", false, NULL));
    ev = NULL;
    CHECK_OK(steady_watch_next(front, 5000, &ev));
    CHECK(ev && strcmp(type_of(ev), "ADDED") == 0);
    CHECK_CONTAINS(ev, "\"name\":\"back-1\"");
    steady_string_free(ev);
    steady_watch_free(front);

    /* A bad selector. */
    steady_watch *bad = NULL;
    CHECK_RC(steady_watch_new(e, "ConfigMap", NULL, "tier in (", -1, &bad), STEADY_INVALID);
    CHECK(bad == NULL);

    /* The watch outlives its engine: it delivers what was queued (two creations and a
       patch), then reports CLOSED, for good. */
    steady_engine_free(e);
    int queued = 0;
    steady_result rc;
    for (;;) {
        ev = NULL;
        rc = steady_watch_next(w, 5000, &ev);
        if (rc != STEADY_OK) break;
        queued++;
        steady_string_free(ev);
    }
    CHECK(queued == 3);
    CHECK(rc == STEADY_CLOSED);
    CHECK_ERROR_MENTIONS("shut down");
    ev = NULL;
    CHECK_RC(steady_watch_next(w, -1, &ev), STEADY_CLOSED);
    CHECK(ev == NULL);
    steady_watch_free(w);
}

static void expired_history(void) {
    steady_engine *e = NULL;
    CHECK_OK(steady_engine_new("{\"workers\": 1, \"history_limit\": 2}", &e));
    for (int i = 0; i < 6; i++) {
        char name[16];
        snprintf(name, sizeof name, "c%d", i);
        CHECK_OK(steady_engine_create(e, cm(name, "x"), NULL));
    }
    steady_watch *w = NULL;
    CHECK_RC(steady_watch_new(e, "ConfigMap", NULL, NULL, 1, &w), STEADY_EXPIRED);
    CHECK_ERROR_MENTIONS("too old resource version");
    CHECK(w == NULL);
    steady_engine_free(e);
}

/* Callback watches. */
struct seen {
    atomic_int events;
    atomic_int modified;
    atomic_int errors;
    atomic_int freed;
    atomic_int reentered;
    int stop_after; /* stop by returning nonzero after this many events (0: never) */
    steady_engine *engine;
    char last_error_event[512];
};

static int32_t on_event(void *userdata, const char *event) {
    struct seen *s = userdata;
    int n = atomic_fetch_add(&s->events, 1) + 1;
    if (strcmp(type_of(event), "MODIFIED") == 0) atomic_fetch_add(&s->modified, 1);
    if (strcmp(type_of(event), "ERROR") == 0) {
        atomic_fetch_add(&s->errors, 1);
        snprintf(s->last_error_event, sizeof s->last_error_event, "%s", event);
    }
    /* Re-enter the API from the callback: read the object the event is about. */
    if (s->engine && strstr(event, "\"name\":\"sub\"") && strcmp(type_of(event), "ERROR") != 0) {
        char *json = NULL;
        if (steady_engine_get(s->engine, "ConfigMap", NULL, "sub", &json) == STEADY_OK) {
            atomic_fetch_add(&s->reentered, 1);
            steady_string_free(json);
        }
    }
    return (s->stop_after && n >= s->stop_after) ? 1 : 0;
}

static void free_seen(void *userdata) {
    struct seen *s = userdata;
    atomic_fetch_add(&s->freed, 1);
}

static void subscriptions(void) {
    steady_engine *e = NULL;
    CHECK_OK(steady_engine_new("{\"workers\": 1}", &e));
    CHECK_OK(steady_engine_create(e, cm("sub", "x"), NULL));

    /* Events arrive on the subscription's thread; the callback re-enters the API. */
    static struct seen all;
    all.engine = e;
    steady_subscription *s = NULL;
    CHECK_OK(steady_subscription_new(e, "ConfigMap", NULL, NULL, -1, on_event, &all, free_seen, &s));
    EVENTUALLY(atomic_load(&all.events) == 1, 10);
    CHECK_OK(steady_engine_patch(e, "ConfigMap", NULL, "sub", "{\"data\": {\"a\": \"1\"}}", false, NULL));
    CHECK_OK(steady_engine_patch(e, "ConfigMap", NULL, "sub", "{\"data\": {\"a\": \"2\"}}", false, NULL));
    EVENTUALLY(atomic_load(&all.modified) == 2, 10);
    EVENTUALLY(atomic_load(&all.reentered) == 3, 10);

    /* A callback that stops itself: no events after it returned nonzero. */
    static struct seen two;
    two.stop_after = 2;
    steady_subscription *s2 = NULL;
    CHECK_OK(steady_subscription_new(e, "ConfigMap", NULL, NULL, -1, on_event, &two, free_seen, &s2));
    CHECK_OK(steady_engine_patch(e, "ConfigMap", NULL, "sub", "{\"data\": {\"a\": \"3\"}}", false, NULL));
    CHECK_OK(steady_engine_patch(e, "ConfigMap", NULL, "sub", "{\"data\": {\"a\": \"4\"}}", false, NULL));
    EVENTUALLY(atomic_load(&two.freed) == 1, 10);
    CHECK(atomic_load(&two.events) == 2);
    steady_subscription_free(s2);
    CHECK(atomic_load(&two.freed) == 1);

    /* Freeing a subscription: the callback is not called after free returns, and its
       userdata is released once. */
    steady_subscription_free(s);
    CHECK(atomic_load(&all.freed) == 1);
    int events = atomic_load(&all.events);
    CHECK_OK(steady_engine_patch(e, "ConfigMap", NULL, "sub", "{\"data\": {\"a\": \"5\"}}", false, NULL));
    sleep_ms(100);
    CHECK(atomic_load(&all.events) == events);

    /* Freeing the engine ends the remaining subscriptions with an ERROR event (reason Closed)
       and releases their userdata before it returns; the handle is still freed after. */
    static struct seen last;
    steady_subscription *s3 = NULL;
    CHECK_OK(steady_subscription_new(e, "ConfigMap", NULL, NULL, -1, on_event, &last, free_seen, &s3));
    EVENTUALLY(atomic_load(&last.events) == 1, 10);
    steady_engine_free(e);
    CHECK(atomic_load(&last.errors) == 1);
    CHECK_CONTAINS(last.last_error_event, "\"reason\":\"Closed\"");
    CHECK(atomic_load(&last.freed) == 1);
    steady_subscription_free(s3);
    CHECK(atomic_load(&last.freed) == 1);
}

/* A failed subscription keeps the caller's userdata: the destructor is not called. */
static void failed_subscription_keeps_userdata(void) {
    steady_engine *e = NULL;
    CHECK_OK(steady_engine_new("{\"workers\": 1, \"history_limit\": 1}", &e));
    CHECK_OK(steady_engine_create(e, cm("a", "x"), NULL));
    CHECK_OK(steady_engine_create(e, cm("b", "x"), NULL));
    CHECK_OK(steady_engine_create(e, cm("c", "x"), NULL));
    static struct seen kept;
    steady_subscription *s = NULL;
    CHECK_RC(steady_subscription_new(e, "ConfigMap", NULL, NULL, 1, on_event, &kept, free_seen, &s),
             STEADY_EXPIRED);
    CHECK(s == NULL);
    CHECK(atomic_load(&kept.freed) == 0);
    steady_engine_free(e);
    CHECK(atomic_load(&kept.freed) == 0);
}

/* A callback that frees its own subscription: it is not called again, and the engine still
   joins its thread when freed. */
struct self_freeing {
    _Atomic(steady_subscription *) handle;
    atomic_int events;
    atomic_int freed;
};

static int32_t free_myself(void *userdata, const char *event) {
    (void)event;
    struct self_freeing *s = userdata;
    atomic_fetch_add(&s->events, 1);
    while (atomic_load(&s->handle) == NULL) sleep_ms(1); /* set by the creator once it returns */
    steady_subscription_free(atomic_load(&s->handle));
    return 0;
}

static void free_self_sub(void *userdata) {
    struct self_freeing *s = userdata;
    atomic_fetch_add(&s->freed, 1);
}

static void a_callback_frees_its_own_subscription(void) {
    steady_engine *e = NULL;
    CHECK_OK(steady_engine_new("{\"workers\": 1}", &e));
    CHECK_OK(steady_engine_create(e, cm("a", "x"), NULL));
    CHECK_OK(steady_engine_create(e, cm("b", "x"), NULL));
    static struct self_freeing s;
    steady_subscription *handle = NULL;
    CHECK_OK(steady_subscription_new(e, "ConfigMap", NULL, NULL, -1, free_myself, &s, free_self_sub, &handle));
    atomic_store(&s.handle, handle);
    EVENTUALLY(atomic_load(&s.freed) == 1, 10);
    CHECK(atomic_load(&s.events) == 1);
    steady_engine_free(e);
    CHECK(atomic_load(&s.freed) == 1);
}

/* Two threads reading one watch: each event goes to exactly one of them. */
static steady_watch *shared_watch;
static atomic_int shared_events;
static void *reader(void *arg) {
    (void)arg;
    for (;;) {
        char *ev = NULL;
        steady_result rc = steady_watch_next(shared_watch, 2000, &ev);
        if (rc != STEADY_OK) break;
        atomic_fetch_add(&shared_events, 1);
        steady_string_free(ev);
    }
    return NULL;
}

static void one_watch_two_readers(void) {
    steady_engine *e = NULL;
    CHECK_OK(steady_engine_new("{\"workers\": 1}", &e));
    CHECK_OK(steady_watch_new(e, "ConfigMap", NULL, NULL, -1, &shared_watch));
    pthread_t t1, t2;
    pthread_create(&t1, NULL, reader, NULL);
    pthread_create(&t2, NULL, reader, NULL);
    for (int i = 0; i < 20; i++) {
        char name[16];
        snprintf(name, sizeof name, "r%d", i);
        CHECK_OK(steady_engine_create(e, cm(name, "x"), NULL));
    }
    EVENTUALLY(atomic_load(&shared_events) == 20, 20);
    steady_engine_free(e); /* the readers see CLOSED and stop */
    pthread_join(t1, NULL);
    pthread_join(t2, NULL);
    CHECK(atomic_load(&shared_events) == 20);
    steady_watch_free(shared_watch);
}

int main(void) {
    blocking_watch();
    expired_history();
    subscriptions();
    failed_subscription_keeps_userdata();
    a_callback_frees_its_own_subscription();
    one_watch_two_readers();
    TEST_DONE();
}
