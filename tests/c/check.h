/* A tiny test harness for the C programs under tests/c (run by tests/c_api.rs). */
#ifndef STEADY_TEST_CHECK_H
#define STEADY_TEST_CHECK_H


#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "steady.h"

static int check_failures = 0;

#define CHECK(cond)                                                                   \
    do {                                                                              \
        if (!(cond)) {                                                                \
            fprintf(stderr, "%s:%d: check failed: %s (last error: %s)\n", __FILE__,   \
                    __LINE__, #cond, steady_last_error());                            \
            check_failures++;                                                         \
        }                                                                             \
    } while (0)

/* Checks a call's result code, printing the name of both codes on a mismatch. */
#define CHECK_RC(call, expected)                                                      \
    do {                                                                              \
        steady_result rc_ = (call);                                                   \
        if (rc_ != (expected)) {                                                      \
            fprintf(stderr, "%s:%d: %s returned %s, expected %s (last error: %s)\n",  \
                    __FILE__, __LINE__, #call, steady_result_name(rc_),               \
                    steady_result_name(expected), steady_last_error());               \
            check_failures++;                                                         \
        }                                                                             \
    } while (0)

#define CHECK_OK(call) CHECK_RC(call, STEADY_OK)

/* The thread's last error contains `text`. */
#define CHECK_ERROR_MENTIONS(text)                                                    \
    do {                                                                              \
        if (strstr(steady_last_error(), (text)) == NULL) {                            \
            fprintf(stderr, "%s:%d: last error \"%s\" does not mention \"%s\"\n",     \
                    __FILE__, __LINE__, steady_last_error(), (text));                 \
            check_failures++;                                                         \
        }                                                                             \
    } while (0)

/* `haystack` (a string, possibly NULL) contains `needle`. */
#define CHECK_CONTAINS(haystack, needle)                                              \
    do {                                                                              \
        const char *h_ = (haystack);                                                  \
        if (h_ == NULL || strstr(h_, (needle)) == NULL) {                             \
            fprintf(stderr, "%s:%d: \"%s\" does not contain \"%s\"\n", __FILE__,      \
                    __LINE__, h_ ? h_ : "(null)", (needle));                          \
            check_failures++;                                                         \
        }                                                                             \
    } while (0)

static inline void sleep_ms(long ms) {
    struct timespec ts = {ms / 1000, (ms % 1000) * 1000000L};
    nanosleep(&ts, NULL);
}

static inline double now_s(void) {
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (double)ts.tv_sec + (double)ts.tv_nsec / 1e9;
}

/* Polls `cond` until it holds or `secs` pass (engine threads make progress on their own;
   nothing here waits out a backoff). Under valgrind everything is ~30x slower. */
#define EVENTUALLY(cond, secs)                                                        \
    do {                                                                              \
        double deadline_ = now_s() + (secs);                                          \
        while (!(cond) && now_s() < deadline_) sleep_ms(2);                           \
        CHECK(cond);                                                                  \
    } while (0)

#define TEST_DONE()                                                                   \
    do {                                                                              \
        if (check_failures) {                                                         \
            fprintf(stderr, "%d check(s) failed\n", check_failures);                  \
            return 1;                                                                 \
        }                                                                             \
        printf("ok\n");                                                               \
        return 0;                                                                     \
    } while (0)

#endif
