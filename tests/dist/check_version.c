/*
 * Built with `pkg-config --cflags --libs metricore` against an installed libmetricore:
 * the header's version is the library's, and the library records and renders.
 */
#include <stdio.h>
#include <string.h>

#include <metricore.h>

int main(void) {
    if (strcmp(metricore_version(), METRICORE_VERSION) != 0) {
        fprintf(stderr, "library %s, header %s\n", metricore_version(), METRICORE_VERSION);
        return 1;
    }
    metricore_registry *registry = NULL;
    metricore_counter_family *requests = NULL;
    metricore_counter all = NULL;
    char *text = NULL;
    if (metricore_registry_new(NULL, &registry) != METRICORE_STATUS_OK ||
        metricore_counter_family_new(registry, METRICORE_LIT("dist_requests"),
                                     METRICORE_LIT("Requests."), NULL, 0, NULL,
                                     &requests) != METRICORE_STATUS_OK ||
        metricore_counter_family_labels(requests, NULL, 0, &all) != METRICORE_STATUS_OK ||
        metricore_counter_inc_by(all, 3) != METRICORE_STATUS_OK ||
        metricore_registry_render_alloc(registry, METRICORE_FORMAT_PROMETHEUS, &text, NULL) !=
            METRICORE_STATUS_OK) {
        fprintf(stderr, "failed: %s\n", metricore_last_error());
        return 1;
    }
    int found = strstr(text, "\ndist_requests_total 3\n") != NULL;
    metricore_string_free(text);
    metricore_registry_free(registry);
    if (!found) {
        fprintf(stderr, "dist_requests_total 3 is not in the rendered text\n");
        return 1;
    }
    printf("libmetricore %s: ok\n", metricore_version());
    return 0;
}
