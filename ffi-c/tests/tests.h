/* The tests the runner knows, one function each. */
#ifndef METRICORE_TESTS_H
#define METRICORE_TESTS_H

#ifdef __cplusplus
extern "C" {
#endif

/* test_registry.c */
void test_options_and_registry_new(void);
void test_render_buffer(void);
void test_render_alloc_and_formats(void);
void test_stats(void);
void test_scopes(void);
void test_close(void);
void test_callbacks(void);

/* test_metrics.c */
void test_counter(void);
void test_counter_family_recording(void);
void test_counter_past_u64_max(void);
void test_gauge(void);
void test_gauge_modes(void);
void test_buckets(void);
void test_histogram(void);
void test_summary(void);
void test_state_set(void);
void test_info(void);
void test_family_options(void);
void test_family_expiry(void);
void test_remove_and_clear(void);
void test_series_made_in_reused_space_get_handles_of_their_own(void);
void test_handles_kept_once(void);
void test_handles_given_back(void);
void test_exemplars(void);

/* test_errors.c */
void test_null_pointers(void);
void test_invalid_utf8(void);
void test_label_counts(void);
void test_invalid_names_and_conflicts(void);
void test_invalid_values(void);
void test_overflow(void);

/* test_threads.c */
void test_threads_counter(void);
void test_threads_histogram_and_gauge(void);
void test_threads_resolve(void);
void test_last_error_is_per_thread(void);

/* test_shared.c */
void test_shared_file(void);
void test_shared_fork(void);
void test_shared_follow_file(void);
void test_shared_bad_files(void);
void test_shared_trust(void);

/* test_http.c */
void test_http(void);
void test_http_bad_input(void);
void test_http_web_config(void);

/* test_version.c */
void test_version(void);

/* test_cxx.cpp */
void test_cxx(void);

#ifdef __cplusplus
}
#endif

#endif
