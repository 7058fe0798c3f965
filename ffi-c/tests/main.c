/* The test runner: runs every test, reports each, and ends with "N passed, N failed". */
#include <stdlib.h>

#include "harness.h"
#include "tests.h"

int test_failures = 0;

metricore_registry *test_registry(void) {
    metricore_options o;
    memset(&o, 0, sizeof o);
    o.shards = 4;
    o.cells_per_shard = 1 << 14;
    o.series_capacity = 1 << 12;
    o.family_capacity = 64;
    o.process_capacity = 8;
    o.arena_bytes = 1 << 20;
    metricore_registry *r = NULL;
    if (metricore_registry_new(&o, &r) != METRICORE_STATUS_OK) {
        fprintf(stderr, "cannot make a test registry: %s\n", metricore_last_error());
        exit(2);
    }
    return r;
}

char *test_render(const metricore_registry *registry, uint32_t format) {
    char *text = NULL;
    if (metricore_registry_render_alloc(registry, format, &text, NULL) != METRICORE_STATUS_OK) {
        fprintf(stderr, "cannot render: %s\n", metricore_last_error());
        exit(2);
    }
    return text;
}

metricore_str test_str(const char *s) {
    metricore_str out = {s, strlen(s)};
    return out;
}

struct test {
    const char *name;
    void (*run)(void);
};

#define TEST(name) {#name, name}

static const struct test TESTS[] = {
    TEST(test_options_and_registry_new),
    TEST(test_render_buffer),
    TEST(test_render_alloc_and_formats),
    TEST(test_stats),
    TEST(test_scopes),
    TEST(test_close),
    TEST(test_callbacks),
    TEST(test_counter),
    TEST(test_counter_family_recording),
    TEST(test_counter_past_u64_max),
    TEST(test_gauge),
    TEST(test_gauge_modes),
    TEST(test_buckets),
    TEST(test_histogram),
    TEST(test_summary),
    TEST(test_state_set),
    TEST(test_info),
    TEST(test_family_options),
    TEST(test_family_expiry),
    TEST(test_remove_and_clear),
    TEST(test_series_made_in_reused_space_get_handles_of_their_own),
    TEST(test_handles_kept_once),
    TEST(test_handles_given_back),
    TEST(test_exemplars),
    TEST(test_null_pointers),
    TEST(test_invalid_utf8),
    TEST(test_label_counts),
    TEST(test_invalid_names_and_conflicts),
    TEST(test_invalid_values),
    TEST(test_overflow),
    TEST(test_threads_counter),
    TEST(test_threads_histogram_and_gauge),
    TEST(test_threads_resolve),
    TEST(test_last_error_is_per_thread),
    TEST(test_shared_file),
    TEST(test_shared_fork),
    TEST(test_shared_follow_file),
    TEST(test_shared_bad_files),
    TEST(test_shared_trust),
    TEST(test_http),
    TEST(test_http_bad_input),
    TEST(test_http_web_config),
    TEST(test_version),
    TEST(test_cxx),
};

int main(void) {
    int passed = 0, failed = 0;
    for (size_t i = 0; i < sizeof TESTS / sizeof TESTS[0]; i++) {
        test_failures = 0;
        TESTS[i].run();
        if (test_failures == 0) {
            printf("ok   %s\n", TESTS[i].name);
            passed++;
        } else {
            printf("FAIL %s (%d failed checks)\n", TESTS[i].name, test_failures);
            failed++;
        }
        fflush(stdout);
    }
    printf("%d passed, %d failed\n", passed, failed);
    return failed == 0 ? 0 : 1;
}
