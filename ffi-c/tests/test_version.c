/* The version: the header's macros and the library's metricore_version(). */
#include <stdio.h>
#include <string.h>

#include "harness.h"
#include "tests.h"

void test_version(void) {
    const char *version = metricore_version();
    CHECK(version != NULL);
    /* This test is built with the header of the library it runs with. */
    CHECK(strcmp(version, METRICORE_VERSION) == 0);
    char parts[64];
    snprintf(parts, sizeof parts, "%d.%d.%d", METRICORE_VERSION_MAJOR, METRICORE_VERSION_MINOR,
             METRICORE_VERSION_PATCH);
    CHECK(strcmp(METRICORE_VERSION, parts) == 0);
    /* The same static string every time. */
    CHECK(metricore_version() == version);
}
