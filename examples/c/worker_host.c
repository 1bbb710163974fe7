/*
 * A C host running its own workers and its own controller on steady.
 *
 * The workers: image "echo-server" runs in-process, one start callback per container
 * instance. Each reports ready, heartbeats (a heartbeat liveness probe watches it), logs,
 * and returns when asked to stop, or with exit code 1 when the host makes it crash.
 * The controller: every EchoPool (a custom kind, example.com/v1) gets spec.replicas pods
 * "<pool>-0", "<pool>-1", ... running the worker on the engine's node (there is no scheduler:
 * pods name their node), owned by the pool.
 * The host: applies a pool and a Service in front of it, waits until the pods are ready,
 * resolves the Service to ready workers, crashes one worker and watches it restart, reads its
 * logs, and shuts down (which stops every worker and waits for it).
 *
 * Build and run (README.md, "Using steady from C", says more):
 *   cargo build --release
 *   cc examples/c/worker_host.c -Iinclude -Ltarget/release -Wl,-rpath,$PWD/target/release \
 *      -lsteady -o worker_host && ./worker_host
 */
#include <stdatomic.h>
#include <stdio.h>
#include <string.h>

#include "steady.h"

struct host {
    steady_engine *engine;
    char node[256];             /* where the pods run */
    _Atomic(int) crash_pod;     /* index of the pod whose worker should crash, or -1 */
};

/* The number after `"key":` in `json`, or -1. (A real host would use its JSON library.) */
static long json_int(const char *json, const char *key) {
    char pattern[64];
    snprintf(pattern, sizeof pattern, "\"%s\":", key);
    const char *at = strstr(json, pattern);
    long n = -1;
    if (at != NULL) sscanf(at + strlen(pattern), "%ld", &n);
    return n;
}

/* ---- the worker: runs on a thread of its own per container instance ---- */

static int32_t echo_start(void *userdata, const steady_worker *w) {
    struct host *host = userdata;
    const char *pod = steady_worker_pod_name(w);
    char *port = NULL;
    char line[256];
    snprintf(line, sizeof line, "echo server %s up on %s", pod, steady_worker_node_name(w));
    steady_worker_log(w, line);
    if (steady_worker_env(w, "PORT", &port) == STEADY_OK) {
        snprintf(line, sizeof line, "listening on port %s", port);
        steady_worker_log(w, line);
        steady_string_free(port);
    }
    steady_worker_ready(w); /* the pod turns Ready and joins the Service */
    int index = pod[strlen(pod) - 1] - '0';
    /* The idle loop: wakes at once when asked to stop. */
    while (steady_worker_wait_stop(w, 50) == STEADY_TIMEOUT) {
        steady_worker_heartbeat(w);
        int expected = index;
        if (atomic_compare_exchange_strong(&host->crash_pod, &expected, -1)) {
            steady_worker_exit_message(w, "lost its connection to the game database");
            return 1; /* a failure: the container is restarted */
        }
    }
    return 0;
}

/* Called on an engine thread when an instance must stop, while echo_start still runs. The
   start callback notices through steady_worker_wait_stop; a worker blocked elsewhere would
   be woken here. */
static void echo_stop(void *userdata, const steady_worker *w) {
    (void)userdata;
    printf("stopping %s\n", steady_worker_pod_name(w));
}

/* ---- the controller: runs on the engine's worker threads ---- */

static int32_t reconcile_pool(void *userdata, const steady_reconcile_request *req,
                              steady_reconcile_reply *reply) {
    struct host *host = userdata;
    char *pool = NULL;
    steady_result rc = steady_engine_get(host->engine, "example.com/v1/EchoPool", req->ns,
                                         req->name, &pool);
    if (rc == STEADY_NOT_FOUND) return STEADY_RECONCILE_DONE; /* its pods go with it */
    if (rc != STEADY_OK) {
        steady_reconcile_reply_error(reply, steady_last_error());
        return STEADY_RECONCILE_ERROR;
    }
    long replicas = json_int(pool, "replicas");
    char uid[64] = "";
    const char *at = strstr(pool, "\"uid\":\"");
    if (at) sscanf(at + 7, "%63[^\"]", uid);
    steady_string_free(pool);
    for (long i = 0; i < replicas && i < 10; i++) {
        char pod[1024];
        snprintf(pod, sizeof pod,
                 "{\"apiVersion\": \"v1\", \"kind\": \"Pod\","
                 " \"metadata\": {\"name\": \"%s-%ld\", \"namespace\": \"%s\","
                 "  \"labels\": {\"pool\": \"%s\"},"
                 "  \"ownerReferences\": [{\"apiVersion\": \"example.com/v1\", \"kind\": \"EchoPool\","
                 "   \"name\": \"%s\", \"uid\": \"%s\", \"controller\": true}]},"
                 " \"spec\": {\"nodeName\": \"%s\", \"terminationGracePeriodSeconds\": 5,"
                 "  \"containers\": [{\"name\": \"echo\", \"image\": \"echo-server\","
                 "   \"env\": [{\"name\": \"PORT\", \"value\": \"7000\"}],"
                 "   \"ports\": [{\"name\": \"echo\", \"containerPort\": 7000}],"
                 "   \"livenessProbe\": {\"heartbeat\": {}, \"periodSeconds\": 5}}]}}",
                 req->name, i, req->ns, req->name, req->name, uid, host->node);
        rc = steady_engine_create(host->engine, pod, NULL);
        if (rc != STEADY_OK && rc != STEADY_ALREADY_EXISTS) {
            steady_reconcile_reply_error(reply, steady_last_error());
            return STEADY_RECONCILE_ERROR; /* retried with backoff */
        }
    }
    return STEADY_RECONCILE_DONE;
}

/* ---- the host ---- */

/* Ready pods of the pool and their restarts, read from the pod list. */
static void pool_state(steady_engine *engine, int *ready, long *restarts) {
    char *list = NULL;
    *ready = 0;
    *restarts = 0;
    if (steady_engine_list(engine, "Pod", NULL, "pool=web", &list) != STEADY_OK) return;
    for (const char *at = list; (at = strstr(at, "\"restartCount\":")) != NULL; at++) {
        long n = json_int(at, "restartCount");
        if (n > 0) *restarts += n;
    }
    for (const char *at = list; (at = strstr(at, "\"status\":\"True\",\"type\":\"Ready\"")) != NULL; at++)
        (*ready)++;
    steady_string_free(list);
}

/* Sleeps until the next change of the pool's pods, or `ms` milliseconds. */
static void wait_for_change(steady_watch *pods, int64_t ms) {
    char *event = NULL;
    if (steady_watch_next(pods, ms, &event) == STEADY_OK) steady_string_free(event);
}

/* Waits (on the pod watch, level-triggered) until `want` pods are ready with at least
   `restarts` restarts in all. */
static int wait_pool(steady_engine *engine, steady_watch *pods, int want, long restarts) {
    for (int waits = 0; waits < 200; waits++) {
        int ready;
        long got;
        pool_state(engine, &ready, &got);
        if (ready == want && got >= restarts) {
            printf("pool web: %d of %d ready, %ld restart(s)\n", ready, want, got);
            return 1;
        }
        wait_for_change(pods, 100);
    }
    fprintf(stderr, "pool web never got %d ready pods\n", want);
    return 0;
}

int main(void) {
    steady_engine *engine = NULL;
    /* The custom kind must be registered before a controller can reconcile it. */
    if (steady_engine_new("{\"kinds\": [{\"apiVersion\": \"example.com/v1\", \"kind\": \"EchoPool\"}]}",
                          &engine) != STEADY_OK) {
        fprintf(stderr, "engine: %s\n", steady_last_error());
        return 1;
    }
    struct host host = {.engine = engine};
    atomic_init(&host.crash_pod, -1);
    char *names = NULL;
    int ok = steady_engine_node_names(engine, &names) == STEADY_OK &&
             sscanf(names, "[\"%255[^\"]\"]", host.node) == 1;
    steady_string_free(names);

    ok = ok && steady_engine_register_worker(engine, "echo-server", echo_start, echo_stop,
                                             &host, NULL) == STEADY_OK;
    ok = ok && steady_engine_add_controller(engine, "echo-pools", "example.com/v1/EchoPool",
                                            "{\"owns\": [\"Pod\"]}", reconcile_pool, &host,
                                            NULL) == STEADY_OK;
    steady_watch *pods = NULL;
    ok = ok && steady_watch_new(engine, "Pod", NULL, "pool=web", -1, &pods) == STEADY_OK;
    ok = ok && steady_engine_apply(engine,
                                   "apiVersion: example.com/v1\nkind: EchoPool\n"
                                   "metadata: {name: web}\nspec: {replicas: 2}\n---\n"
                                   "apiVersion: v1\nkind: Service\nmetadata: {name: web}\n"
                                   "spec:\n  selector: {pool: web}\n"
                                   "  ports: [{name: echo, port: 80, targetPort: echo}]\n",
                                   NULL) == STEADY_OK;
    ok = ok && wait_pool(engine, pods, 2, 0);

    /* The Service routes to ready workers, taking turns (once both are in its endpoints). */
    char first[64] = "";
    int distinct = 0;
    for (int tries = 0; ok && distinct < 2 && tries < 200; tries++) {
        char *address = NULL;
        steady_result rc = steady_engine_resolve(engine, NULL, "web", "echo", &address);
        if (rc == STEADY_OK) {
            if (strcmp(first, address) != 0) {
                printf("service web -> %s\n", address);
                snprintf(first, sizeof first, "%s", address);
                distinct++;
            }
            steady_string_free(address);
        } else if (rc != STEADY_UNAVAILABLE) {
            ok = 0; /* STEADY_UNAVAILABLE: no ready endpoint yet */
        }
        if (distinct < 2) wait_for_change(pods, 10);
    }
    ok = ok && distinct == 2;

    /* One worker crashes: its container restarts, and its last words are in its log. */
    atomic_store(&host.crash_pod, 0);
    ok = ok && wait_pool(engine, pods, 2, 1);
    char *logs = NULL;
    if (ok && steady_engine_logs(engine, NULL, "web-0", NULL, true, &logs) == STEADY_OK) {
        printf("logs of the crashed instance of web-0:\n%s", logs);
        steady_string_free(logs);
    }
    if (!ok) fprintf(stderr, "failed: %s\n", steady_last_error());
    steady_watch_free(pods);
    steady_engine_free(engine); /* stops every worker (echo_stop), waits for it */
    printf("engine stopped\n");
    return ok ? 0 : 1;
}
