/* The C writer of the native histogram test (tests/prometheus/test_native.py): opens
 * the registry file argv[1], registers the native histogram llm_latency_seconds
 * (schema 3, zero threshold 0.001, 120 buckets per sign, as the other writers) and
 * observes each value of the file argv[2], one a line. Prints "done N". */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "metricore.h"

static void check(metricore_status s, const char *what) {
    if (s != METRICORE_STATUS_OK) {
        fprintf(stderr, "%s: %s\n", what, metricore_last_error());
        exit(1);
    }
}

int main(int argc, char **argv) {
    if (argc != 3) {
        fprintf(stderr, "usage: recorder FILE VALUES\n");
        return 2;
    }
    metricore_registry *r = NULL;
    metricore_str path = {argv[1], strlen(argv[1])};
    check(metricore_registry_open_shared(path, NULL, &r), "open");
    metricore_histogram_family *f = NULL;
    check(metricore_histogram_family_new_native(r, METRICORE_LIT("llm_latency_seconds"), METRICORE_LIT("Latency."),
                                                NULL, 0, 3, 0.001, 120, NULL, 0, NULL, &f),
          "family");
    metricore_histogram h;
    check(metricore_histogram_family_labels(f, NULL, 0, &h), "series");
    FILE *in = fopen(argv[2], "r");
    if (!in) {
        perror(argv[2]);
        return 1;
    }
    double v;
    long n = 0;
    while (fscanf(in, "%lf", &v) == 1) {
        check(metricore_histogram_observe(h, v), "observe");
        n++;
    }
    fclose(in);
    printf("done %ld\n", n);
    check(metricore_registry_free(r), "free");
    return 0;
}
