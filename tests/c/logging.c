/* The engine's log messages reach the host: steady_set_log_callback. */
#include <stdatomic.h>

#include "check.h"

static atomic_int messages;
static atomic_int errors_seen;
static atomic_int good_target;
static atomic_int reentry_refused;
static char first_error[512];
static atomic_flag first_taken = ATOMIC_FLAG_INIT;

static void on_log(void *userdata, steady_log_level level, const char *target, const char *message) {
    CHECK(userdata == &messages);
    atomic_fetch_add(&messages, 1);
    if (level == STEADY_LOG_ERROR && strstr(message, "the spec can never work")) {
        if (!atomic_flag_test_and_set(&first_taken)) {
            snprintf(first_error, sizeof first_error, "%s", message);
        }
        if (strncmp(target, "steady", 6) == 0) atomic_fetch_add(&good_target, 1);
        /* Replacing the callback from inside it would wait for itself: refused. */
        if (steady_set_log_callback(STEADY_LOG_WARN, on_log, userdata) == STEADY_INVALID) {
            atomic_fetch_add(&reentry_refused, 1);
        }
        atomic_fetch_add(&errors_seen, 1);
    }
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

int main(void) {
    CHECK_RC(steady_set_log_callback(9, on_log, &messages), STEADY_INVALID);
    CHECK_ERROR_MENTIONS("level: 9 is not a steady_log_level");
    CHECK_OK(steady_set_log_callback(STEADY_LOG_WARN, on_log, &messages));

    steady_engine *e = NULL;
    CHECK_OK(steady_engine_new("{\"kinds\": [{\"apiVersion\": \"example.com/v1\", \"kind\": \"Gadget\"}]}", &e));
    CHECK_OK(steady_engine_add_controller(e, "final", "example.com/v1/Gadget", NULL, fails_terminally, NULL, NULL));
    CHECK_OK(steady_engine_apply(e, "apiVersion: example.com/v1\nkind: Gadget\nmetadata: {name: g}\n", NULL));
    /* The runtime logs a terminal reconcile error: it arrives, at ERROR, from steady. */
    EVENTUALLY(atomic_load(&errors_seen) == 1, 20);
    CHECK(strstr(first_error, "controller final: reconcile") != NULL);
    CHECK(atomic_load(&good_target) == 1);
    CHECK(atomic_load(&reentry_refused) == 1);

    /* Removed: nothing more arrives, although the next object fails too. */
    CHECK_OK(steady_set_log_callback(STEADY_LOG_OFF, NULL, NULL));
    int before = atomic_load(&messages);
    CHECK_OK(steady_engine_apply(e, "apiVersion: example.com/v1\nkind: Gadget\nmetadata: {name: h}\n", NULL));
    EVENTUALLY(atomic_load(&terminal_calls) == 2, 20);
    steady_engine_free(e);
    CHECK(atomic_load(&messages) == before);
    TEST_DONE();
}
