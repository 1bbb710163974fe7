/*
 * A C host running its own controller on steady.
 *
 * Every Widget (a custom kind, example.com/v1) gets a ConfigMap of the same name that
 * carries the Widget's color and is owned by it; the Widget's status says when it is ready.
 * The host applies two Widgets, watches ConfigMaps until both exist, changes one Widget and
 * sees its ConfigMap follow, then shuts down.
 *
 * Build and run (README.md, "Using steady from C", says more):
 *   cargo build --release
 *   cc examples/c/controller_host.c -Iinclude -Ltarget/release -Wl,-rpath,$PWD/target/release \
 *      -lsteady -o controller_host && ./controller_host
 */
#include <stdio.h>
#include <string.h>

#include "steady.h"

/* What the reconcile callback needs: the engine to read and write through. */
struct host {
    steady_engine *engine;
};

/* Copies the first JSON string value of `key` in `json` into `out` (a real host would use
   its JSON library). */
static int json_string(const char *json, const char *key, char *out, size_t size) {
    char pattern[64];
    snprintf(pattern, sizeof pattern, "\"%s\":\"", key);
    const char *at = strstr(json, pattern);
    if (at == NULL) return 0;
    at += strlen(pattern);
    size_t n = strcspn(at, "\"");
    if (n >= size) n = size - 1;
    memcpy(out, at, n);
    out[n] = '\0';
    return 1;
}

/* Called on an engine worker thread for each Widget that needs attention. Reads the Widget,
   creates or updates its ConfigMap, and reports readiness in the status. Idempotent. */
static int32_t reconcile_widget(void *userdata, const steady_reconcile_request *req,
                                steady_reconcile_reply *reply) {
    struct host *host = userdata;
    char *widget = NULL;
    steady_result rc = steady_engine_get(host->engine, "example.com/v1/Widget", req->ns, req->name, &widget);
    if (rc == STEADY_NOT_FOUND) return STEADY_RECONCILE_DONE; /* deleted: its ConfigMap goes with it */
    if (rc != STEADY_OK) {
        steady_reconcile_reply_error(reply, steady_last_error());
        return STEADY_RECONCILE_ERROR;
    }
    char uid[64] = "", color[64] = "none";
    json_string(widget, "uid", uid, sizeof uid);
    json_string(widget, "color", color, sizeof color);
    steady_string_free(widget);

    char config_map[1024];
    snprintf(config_map, sizeof config_map,
             "{\"apiVersion\": \"v1\", \"kind\": \"ConfigMap\","
             " \"metadata\": {\"name\": \"%s\", \"namespace\": \"%s\","
             "  \"ownerReferences\": [{\"apiVersion\": \"example.com/v1\", \"kind\": \"Widget\","
             "   \"name\": \"%s\", \"uid\": \"%s\", \"controller\": true}]},"
             " \"data\": {\"color\": \"%s\"}}",
             req->name, req->ns, req->name, uid, color);
    rc = steady_engine_create(host->engine, config_map, NULL);
    if (rc == STEADY_ALREADY_EXISTS) rc = steady_engine_update(host->engine, config_map, NULL);
    if (rc == STEADY_OK) {
        rc = steady_engine_patch(host->engine, "example.com/v1/Widget", req->ns, req->name,
                                 "{\"status\": {\"ready\": true}}", true, NULL);
    }
    if (rc != STEADY_OK && rc != STEADY_NOT_FOUND) {
        /* Retried with exponential backoff; the message is logged and counted. */
        steady_reconcile_reply_error(reply, steady_last_error());
        return STEADY_RECONCILE_ERROR;
    }
    return STEADY_RECONCILE_DONE;
}

/* True when the ConfigMap `name` exists with `color`. */
static int has_color(steady_engine *engine, const char *name, const char *color) {
    char *json = NULL;
    if (steady_engine_get(engine, "ConfigMap", NULL, name, &json) != STEADY_OK) return 0;
    char got[64] = "";
    json_string(json, "color", got, sizeof got);
    steady_string_free(json);
    return strcmp(got, color) == 0;
}

/* Waits until the ConfigMap `name` has `color`: checks the current state, and sleeps on the
   watch until the next ConfigMap change (level-triggered, so no event can be missed). */
static int wait_for_color(steady_engine *engine, steady_watch *watch, const char *name,
                          const char *color) {
    for (int waits = 0; waits < 100; waits++) {
        if (has_color(engine, name, color)) {
            printf("ConfigMap %s has color %s\n", name, color);
            return 1;
        }
        char *event = NULL;
        steady_result rc = steady_watch_next(watch, 100, &event);
        if (rc == STEADY_OK) {
            steady_string_free(event);
        } else if (rc != STEADY_TIMEOUT) {
            fprintf(stderr, "watch: %s: %s\n", steady_result_name(rc), steady_last_error());
            return 0;
        }
    }
    fprintf(stderr, "ConfigMap %s never got color %s\n", name, color);
    return 0;
}

int main(void) {
    printf("steady %s\n", steady_version());
    steady_engine *engine = NULL;
    /* steady serves only the kinds it is told about: Widget is registered here (a manifest
     * could define it with a CustomResourceDefinition instead). */
    if (steady_engine_new("{\"kinds\": [{\"apiVersion\": \"example.com/v1\", \"kind\": \"Widget\"}]}",
                          &engine) != STEADY_OK) {
        fprintf(stderr, "engine: %s\n", steady_last_error());
        return 1;
    }
    struct host host = {engine};
    int ok = steady_engine_add_controller(engine, "widgets", "example.com/v1/Widget",
                                          "{\"owns\": [\"ConfigMap\"]}", reconcile_widget, &host,
                                          NULL) == STEADY_OK;
    steady_watch *config_maps = NULL;
    ok = ok && steady_watch_new(engine, "ConfigMap", NULL, NULL, -1, &config_maps) == STEADY_OK;
    ok = ok && steady_engine_apply(engine,
                                   "apiVersion: example.com/v1\nkind: Widget\n"
                                   "metadata: {name: sky}\nspec: {color: blue}\n---\n"
                                   "apiVersion: example.com/v1\nkind: Widget\n"
                                   "metadata: {name: grass}\nspec: {color: green}\n",
                                   NULL) == STEADY_OK;
    ok = ok && wait_for_color(engine, config_maps, "sky", "blue") &&
         wait_for_color(engine, config_maps, "grass", "green");
    ok = ok && steady_engine_patch(engine, "example.com/v1/Widget", NULL, "sky",
                                   "{\"spec\": {\"color\": \"grey\"}}", false, NULL) == STEADY_OK;
    ok = ok && wait_for_color(engine, config_maps, "sky", "grey");
    if (!ok) fprintf(stderr, "failed: %s\n", steady_last_error());
    steady_watch_free(config_maps);
    steady_engine_free(engine); /* stops the controller and joins every engine thread */
    return ok ? 0 : 1;
}
