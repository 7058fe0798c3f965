/*
 * Records a few metrics through the C API and prints them as Prometheus text.
 *
 *   example              an in-process registry
 *   example FILE         a registry shared through FILE (such as /dev/shm/app.metricore):
 *                        run it several times and the counts add up
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "metricore.h"

/* Prints the failed call's message and exits. */
static void check(metricore_status status, const char *what) {
    if (status != METRICORE_STATUS_OK) {
        fprintf(stderr, "%s failed (status %d): %s\n", what, (int)status, metricore_last_error());
        exit(1);
    }
}

int main(int argc, char **argv) {
    metricore_registry *registry = NULL;
    if (argc > 1) {
        metricore_str path = {argv[1], strlen(argv[1])};
        check(metricore_registry_open_shared(path, NULL, &registry), "open_shared");
    } else {
        check(metricore_registry_new(NULL, &registry), "registry_new");
    }

    /* Families are made once; handles are resolved once and then cost one atomic add. */
    metricore_str labels[] = {METRICORE_LIT("model"), METRICORE_LIT("namespace")};
    metricore_counter_family *requests = NULL;
    check(metricore_counter_family_new(registry, METRICORE_LIT("model_requests"),
                                       METRICORE_LIT("Requests by model and namespace."), labels, 2,
                                       NULL, &requests),
          "counter_family_new");
    metricore_str values[] = {METRICORE_LIT("gpt-4"), METRICORE_LIT("wechat")};
    metricore_counter gpt4 = NULL;
    check(metricore_counter_family_labels(requests, values, 2, &gpt4), "counter_family_labels");

    const double *bounds = NULL;
    size_t bounds_len = 0;
    check(metricore_buckets_default(&bounds, &bounds_len), "buckets_default");
    metricore_histogram_family *latency = NULL;
    check(metricore_histogram_family_new(registry, METRICORE_LIT("model_request_duration_seconds"),
                                         METRICORE_LIT("Request latency."), NULL, 0, bounds,
                                         bounds_len, NULL, &latency),
          "histogram_family_new");
    metricore_histogram all = NULL;
    check(metricore_histogram_family_labels(latency, NULL, 0, &all), "histogram_family_labels");

    for (int i = 0; i < 100; i++) {
        metricore_counter_inc(gpt4);
        metricore_histogram_observe(all, 0.01 * (i % 50));
    }
    /* Label values that change per call: record without keeping a handle. */
    metricore_str other[] = {METRICORE_LIT("llama-3"), METRICORE_LIT("search")};
    check(metricore_counter_family_inc_by(requests, other, 2, 5), "counter_family_inc_by");

    char *text = NULL;
    check(metricore_registry_render_alloc(registry, METRICORE_FORMAT_PROMETHEUS, &text, NULL),
          "render_alloc");
    fputs(text, stdout);
    metricore_string_free(text);
    check(metricore_registry_free(registry), "registry_free");
    return 0;
}
