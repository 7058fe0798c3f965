/* A minimal test harness: CHECK macros count failures of the running test. */
#ifndef METRICORE_TEST_HARNESS_H
#define METRICORE_TEST_HARNESS_H

#include <stdio.h>
#include <string.h>

#include "metricore.h"

#ifdef __cplusplus
extern "C" {
#endif

/* Failed checks of the running test. */
extern int test_failures;

#ifdef __cplusplus
}
#endif

#define CHECK(cond)                                                                  \
    do {                                                                             \
        if (!(cond)) {                                                               \
            fprintf(stderr, "  %s:%d: CHECK(%s) failed (last error: %s)\n", __FILE__, \
                    __LINE__, #cond, metricore_last_error());                        \
            test_failures++;                                                         \
        }                                                                            \
    } while (0)

/* Checks that `expr` returns `want`, printing the status and message otherwise. */
#define CHECK_STATUS(expr, want)                                                     \
    do {                                                                             \
        metricore_status got_ = (expr);                                              \
        if (got_ != (want)) {                                                        \
            fprintf(stderr, "  %s:%d: %s returned %d, expected %d (last error: %s)\n", \
                    __FILE__, __LINE__, #expr, (int)got_, (int)(want),               \
                    metricore_last_error());                                         \
            test_failures++;                                                         \
        }                                                                            \
    } while (0)

#define CHECK_OK(expr) CHECK_STATUS(expr, METRICORE_STATUS_OK)

/* Checks that the thread's last error message contains `needle`. */
#define CHECK_ERROR_HAS(needle) CHECK(strstr(metricore_last_error(), (needle)) != NULL)

/* Checks that `text` contains `needle`, printing the text otherwise. */
#define CHECK_HAS(text, needle)                                                      \
    do {                                                                             \
        if (strstr((text), (needle)) == NULL) {                                      \
            fprintf(stderr, "  %s:%d: text does not contain \"%s\":\n%s\n", __FILE__, \
                    __LINE__, (needle), (text));                                     \
            test_failures++;                                                         \
        }                                                                            \
    } while (0)

#define CHECK_LACKS(text, needle)                                                    \
    do {                                                                             \
        if (strstr((text), (needle)) != NULL) {                                      \
            fprintf(stderr, "  %s:%d: text contains \"%s\":\n%s\n", __FILE__,       \
                    __LINE__, (needle), (text));                                     \
            test_failures++;                                                         \
        }                                                                            \
    } while (0)

#ifdef __cplusplus
extern "C" {
#endif

/* An in-process registry with small capacities, for tests. */
metricore_registry *test_registry(void);

/* The registry rendered in `format`, freed with metricore_string_free. */
char *test_render(const metricore_registry *registry, uint32_t format);

/* A metricore_str viewing a NUL-terminated string. */
metricore_str test_str(const char *s);

#ifdef __cplusplus
}
#endif

#endif
