/* Families and handles of every kind. */
#include <malloc.h>
#include <math.h>
#include <stdlib.h>
#include <string.h>
#include <stdio.h>
#include <time.h>

#include "harness.h"
#include "tests.h"

void test_counter(void) {
    metricore_registry *r = test_registry();
    metricore_str labels[] = {METRICORE_LIT("model"), METRICORE_LIT("namespace")};
    metricore_counter_family *f = NULL;
    CHECK_OK(metricore_counter_family_new(r, METRICORE_LIT("requests"), METRICORE_LIT("Requests served."),
                                          labels, 2, NULL, &f));
    CHECK(f != NULL);
    /* The same definition again gives the same family. */
    metricore_counter_family *again = NULL;
    CHECK_OK(metricore_counter_family_new(r, METRICORE_LIT("requests_total"),
                                          METRICORE_LIT("Requests served."), labels, 2, NULL, &again));

    metricore_str v[] = {METRICORE_LIT("gpt-4"), METRICORE_LIT("wechat")};
    metricore_counter c = NULL, c2 = NULL;
    CHECK_OK(metricore_counter_family_labels(f, v, 2, &c));
    CHECK(c != NULL);
    CHECK_OK(metricore_counter_family_labels(again, v, 2, &c2));
    CHECK_OK(metricore_counter_inc(c));
    CHECK_OK(metricore_counter_inc_by(c2, 41));
    CHECK_OK(metricore_counter_inc_by_f64(c, 0.5));
    CHECK_OK(metricore_counter_inc_by_f64(c, 2.0)); /* whole: the integer path */
    double got = 0;
    CHECK_OK(metricore_counter_get(c, &got));
    CHECK(got == 44.5);
    CHECK_OK(metricore_counter_get(c2, &got));
    CHECK(got == 44.5);

    /* Label values with characters that need escaping, and non-ASCII text. */
    metricore_str odd[] = {METRICORE_LIT("a\"b\\c\nd"), METRICORE_LIT("\xe5\xbe\xae\xe4\xbf\xa1")};
    metricore_counter c3;
    CHECK_OK(metricore_counter_family_labels(f, odd, 2, &c3));
    CHECK_OK(metricore_counter_inc(c3));

    char *text = test_render(r, METRICORE_FORMAT_PROMETHEUS);
    CHECK_HAS(text, "# HELP requests_total Requests served.\n# TYPE requests_total counter\n");
    CHECK_HAS(text, "requests_total{model=\"gpt-4\",namespace=\"wechat\"} 44.5\n");
    CHECK_HAS(text, "requests_total{model=\"a\\\"b\\\\c\\nd\",namespace=\"\xe5\xbe\xae\xe4\xbf\xa1\"} 1\n");
    metricore_string_free(text);

    /* Values are refused, not recorded. */
    CHECK_STATUS(metricore_counter_inc_by_f64(c, -1.0), METRICORE_STATUS_INVALID_VALUE);
    CHECK_ERROR_HAS("-1");
    CHECK_STATUS(metricore_counter_inc_by_f64(c, NAN), METRICORE_STATUS_INVALID_VALUE);
    CHECK_STATUS(metricore_counter_inc_by_f64(c, INFINITY), METRICORE_STATUS_INVALID_VALUE);
    CHECK_OK(metricore_counter_get(c, &got));
    CHECK(got == 44.5);
    CHECK_OK(metricore_registry_free(r));
}

void test_counter_past_u64_max(void) {
    metricore_registry *r = test_registry();
    metricore_counter_family *f = NULL;
    CHECK_OK(metricore_counter_family_new(r, METRICORE_LIT("bytes"), METRICORE_LIT("Bytes."), NULL, 0, NULL, &f));
    metricore_counter c = NULL;
    CHECK_OK(metricore_counter_family_labels(f, NULL, 0, &c));
    CHECK_OK(metricore_counter_inc_by(c, UINT64_MAX));
    CHECK_OK(metricore_counter_inc_by(c, 2));
    /* 2^64 + 1: the wrap carried, the count never went back. */
    double got = 0;
    CHECK_OK(metricore_counter_get(c, &got));
    CHECK(got == 18446744073709551616.0);
    char *text = test_render(r, METRICORE_FORMAT_PROMETHEUS);
    CHECK_HAS(text, "bytes_total 1.8446744073709552e19\n");
    metricore_string_free(text);

    /* A label value past the limit (4 KiB by default) is refused and counted. */
    metricore_str labels[] = {METRICORE_LIT("path")};
    metricore_counter_family *g = NULL;
    CHECK_OK(metricore_counter_family_new(r, METRICORE_LIT("hits"), METRICORE_LIT("Hits."), labels, 1, NULL, &g));
    char *long_value = malloc(5000);
    CHECK(long_value != NULL);
    memset(long_value, 'x', 5000);
    metricore_str v[] = {{long_value, 5000}};
    CHECK_STATUS(metricore_counter_family_inc_by(g, v, 1, 1), METRICORE_STATUS_INVALID_ARGUMENT);
    CHECK_ERROR_HAS("5000 bytes");
    free(long_value);
    text = test_render(r, METRICORE_FORMAT_PROMETHEUS);
    CHECK_HAS(text, "metricore_errors_total 1\n");
    metricore_string_free(text);
    CHECK_OK(metricore_registry_free(r));
}

void test_counter_family_recording(void) {
    metricore_registry *r = test_registry();
    metricore_str labels[] = {METRICORE_LIT("status")};
    metricore_counter_family *f = NULL;
    CHECK_OK(metricore_counter_family_new(r, METRICORE_LIT("responses"), METRICORE_LIT("Responses."),
                                          labels, 1, NULL, &f));
    metricore_str ok[] = {METRICORE_LIT("200")};
    metricore_str err[] = {METRICORE_LIT("500")};
    for (int i = 0; i < 10; i++) {
        CHECK_OK(metricore_counter_family_inc_by(f, ok, 1, 2));
    }
    CHECK_OK(metricore_counter_family_inc_by_f64(f, err, 1, 0.25));
    CHECK_STATUS(metricore_counter_family_inc_by_f64(f, err, 1, -0.25), METRICORE_STATUS_INVALID_VALUE);
    CHECK_STATUS(metricore_counter_family_inc_by(f, NULL, 0, 1), METRICORE_STATUS_LABEL_COUNT);
    metricore_counter h;
    CHECK_OK(metricore_counter_family_labels(f, ok, 1, &h));
    double v = 0;
    CHECK_OK(metricore_counter_get(h, &v));
    CHECK(v == 20.0);
    char *text = test_render(r, METRICORE_FORMAT_PROMETHEUS);
    CHECK_HAS(text, "responses_total{status=\"200\"} 20\n");
    CHECK_HAS(text, "responses_total{status=\"500\"} 0.25\n");
    metricore_string_free(text);
    CHECK_OK(metricore_registry_free(r));
}

void test_gauge(void) {
    metricore_registry *r = test_registry();
    metricore_str labels[] = {METRICORE_LIT("api")};
    metricore_gauge_family *f = NULL;
    CHECK_OK(metricore_gauge_family_new(r, METRICORE_LIT("in_flight"), METRICORE_LIT("Requests in flight."),
                                        labels, 1, METRICORE_LIT(""), NULL, &f));
    metricore_str v[] = {METRICORE_LIT("chat")};
    metricore_gauge g;
    CHECK_OK(metricore_gauge_family_labels(f, v, 1, &g));
    double got = -1;
    CHECK_OK(metricore_gauge_get(g, &got));
    CHECK(got == 0.0);
    CHECK_OK(metricore_gauge_set(g, 10));
    CHECK_OK(metricore_gauge_add(g, 2.5));
    CHECK_OK(metricore_gauge_sub(g, 0.5));
    CHECK_OK(metricore_gauge_inc(g));
    CHECK_OK(metricore_gauge_dec(g));
    CHECK_OK(metricore_gauge_dec(g));
    CHECK_OK(metricore_gauge_get(g, &got));
    CHECK(got == 11.0);

    metricore_str v2[] = {METRICORE_LIT("embed")};
    CHECK_OK(metricore_gauge_family_set(f, v2, 1, -3));
    CHECK_OK(metricore_gauge_family_add(f, v2, 1, 1));
    char *text = test_render(r, METRICORE_FORMAT_PROMETHEUS);
    CHECK_HAS(text, "# TYPE in_flight gauge\n");
    CHECK_HAS(text, "in_flight{api=\"chat\"} 11.0\n");
    CHECK_HAS(text, "in_flight{api=\"embed\"} -2.0\n");
    metricore_string_free(text);

    CHECK_OK(metricore_gauge_set_to_current_time(g));
    CHECK_OK(metricore_gauge_get(g, &got));
    CHECK(got > 1.7e9 && got < 1e10);
    CHECK_OK(metricore_registry_free(r));
}

void test_gauge_modes(void) {
    metricore_registry *r = test_registry();
    metricore_gauge_family *f = NULL;
    CHECK_OK(metricore_gauge_family_new(r, METRICORE_LIT("workers"), METRICORE_LIT("Workers."), NULL, 0,
                                        METRICORE_LIT("livesum"), NULL, &f));
    metricore_gauge g;
    CHECK_OK(metricore_gauge_family_labels(f, NULL, 0, &g));
    CHECK_OK(metricore_gauge_set(g, 3));
    char *text = test_render(r, METRICORE_FORMAT_PROMETHEUS);
    CHECK_HAS(text, "workers 3.0\n");
    metricore_string_free(text);

    /* The same name with another mode conflicts; unknown modes are refused. */
    metricore_gauge_family *f2 = NULL;
    CHECK_STATUS(metricore_gauge_family_new(r, METRICORE_LIT("workers"), METRICORE_LIT("Workers."), NULL,
                                            0, METRICORE_LIT("max"), NULL, &f2),
                 METRICORE_STATUS_CONFLICT);
    CHECK_STATUS(metricore_gauge_family_new(r, METRICORE_LIT("other"), METRICORE_LIT("Other."), NULL, 0,
                                            METRICORE_LIT("average"), NULL, &f2),
                 METRICORE_STATUS_INVALID_OPTIONS);
    CHECK_ERROR_HAS("average");
    /* "pid" is reserved in the "all" mode. */
    metricore_str pid[] = {METRICORE_LIT("pid")};
    CHECK_STATUS(metricore_gauge_family_new(r, METRICORE_LIT("per_pid"), METRICORE_LIT("P."), pid, 1,
                                            METRICORE_LIT("all"), NULL, &f2),
                 METRICORE_STATUS_DUPLICATE_LABEL);
    CHECK_OK(metricore_gauge_family_new(r, METRICORE_LIT("per_pid"), METRICORE_LIT("P."), NULL, 0,
                                        METRICORE_LIT("all"), NULL, &f2));
    CHECK_OK(metricore_registry_free(r));
}

void test_buckets(void) {
    const double *def = NULL;
    size_t n = 0;
    CHECK_OK(metricore_buckets_default(&def, &n));
    CHECK(n == 14 && def[0] == 0.005 && def[13] == 10.0);
    CHECK_STATUS(metricore_buckets_default(NULL, &n), METRICORE_STATUS_NULL_POINTER);
    CHECK_STATUS(metricore_buckets_default(&def, NULL), METRICORE_STATUS_NULL_POINTER);

    double lin[4] = {0};
    CHECK_OK(metricore_buckets_linear(1, 0.5, 4, lin));
    CHECK(lin[0] == 1 && lin[1] == 1.5 && lin[2] == 2 && lin[3] == 2.5);
    CHECK_STATUS(metricore_buckets_linear(1, 0, 4, lin), METRICORE_STATUS_INVALID_BUCKETS);
    CHECK_STATUS(metricore_buckets_linear(1, 1, 0, lin), METRICORE_STATUS_INVALID_BUCKETS);
    CHECK_STATUS(metricore_buckets_linear(1, 1, 4, NULL), METRICORE_STATUS_NULL_POINTER);

    double exp[3] = {0};
    CHECK_OK(metricore_buckets_exponential(0.001, 10, 3, exp));
    CHECK(exp[0] == 0.001 && fabs(exp[1] - 0.01) < 1e-15 && fabs(exp[2] - 0.1) < 1e-15);
    CHECK_STATUS(metricore_buckets_exponential(0, 2, 3, exp), METRICORE_STATUS_INVALID_BUCKETS);
    CHECK_STATUS(metricore_buckets_exponential(1, 1, 3, exp), METRICORE_STATUS_INVALID_BUCKETS);
    CHECK_STATUS(metricore_buckets_exponential(1, 2, 200, exp), METRICORE_STATUS_INVALID_BUCKETS);
    CHECK_STATUS(metricore_buckets_exponential(1, 2, 3, NULL), METRICORE_STATUS_NULL_POINTER);
}

void test_histogram(void) {
    metricore_registry *r = test_registry();
    metricore_str labels[] = {METRICORE_LIT("model")};
    const double bounds[] = {0.1, 0.5, 1};
    metricore_histogram_family *f = NULL;
    CHECK_OK(metricore_histogram_family_new(r, METRICORE_LIT("latency_seconds"), METRICORE_LIT("Latency."),
                                            labels, 1, bounds, 3, NULL, &f));
    metricore_str v[] = {METRICORE_LIT("gpt-4")};
    metricore_histogram h;
    CHECK_OK(metricore_histogram_family_labels(f, v, 1, &h));
    CHECK_OK(metricore_histogram_observe(h, 0.05));
    CHECK_OK(metricore_histogram_observe(h, 0.1)); /* upper bounds are inclusive */
    CHECK_OK(metricore_histogram_observe(h, 0.7));
    CHECK_OK(metricore_histogram_observe(h, 3));
    CHECK_OK(metricore_histogram_family_observe(f, v, 1, -1));
    CHECK_STATUS(metricore_histogram_observe(h, NAN), METRICORE_STATUS_INVALID_VALUE);
    CHECK_STATUS(metricore_histogram_family_observe(f, v, 1, NAN), METRICORE_STATUS_INVALID_VALUE);
    CHECK_ERROR_HAS("NaN");

    char *text = test_render(r, METRICORE_FORMAT_PROMETHEUS);
    CHECK_HAS(text, "# TYPE latency_seconds histogram\n");
    CHECK_HAS(text, "latency_seconds_bucket{model=\"gpt-4\",le=\"0.1\"} 3\n");
    CHECK_HAS(text, "latency_seconds_bucket{model=\"gpt-4\",le=\"0.5\"} 3\n");
    CHECK_HAS(text, "latency_seconds_bucket{model=\"gpt-4\",le=\"1.0\"} 4\n");
    CHECK_HAS(text, "latency_seconds_bucket{model=\"gpt-4\",le=\"+Inf\"} 5\n");
    CHECK_HAS(text, "latency_seconds_count{model=\"gpt-4\"} 5\n");
    CHECK_HAS(text, "latency_seconds_sum{model=\"gpt-4\"} 2.85\n");
    metricore_string_free(text);

    /* Default buckets, and bounds the core refuses. */
    const double *def;
    size_t n;
    CHECK_OK(metricore_buckets_default(&def, &n));
    metricore_histogram_family *f2 = NULL;
    CHECK_OK(metricore_histogram_family_new(r, METRICORE_LIT("ttft"), METRICORE_LIT("TTFT."), NULL, 0, def,
                                            n, NULL, &f2));
    CHECK_OK(metricore_histogram_family_labels(f2, NULL, 0, &h));
    CHECK_OK(metricore_histogram_observe(h, 0.3));
    text = test_render(r, METRICORE_FORMAT_OPEN_METRICS);
    CHECK_HAS(text, "ttft_bucket{le=\"0.25\"} 0\nttft_bucket{le=\"0.5\"} 1\n");
    metricore_string_free(text);
    const double unsorted[] = {1, 0.5};
    CHECK_STATUS(metricore_histogram_family_new(r, METRICORE_LIT("bad"), METRICORE_LIT("B."), NULL, 0,
                                                unsorted, 2, NULL, &f2),
                 METRICORE_STATUS_INVALID_BUCKETS);
    /* No finite bound: a histogram needs a bucket besides +Inf. */
    CHECK_STATUS(metricore_histogram_family_new(r, METRICORE_LIT("bad"), METRICORE_LIT("B."), NULL, 0,
                                                unsorted, 0, NULL, &f2),
                 METRICORE_STATUS_INVALID_BUCKETS);
    CHECK_STATUS(metricore_histogram_family_new(r, METRICORE_LIT("bad"), METRICORE_LIT("B."), NULL, 0,
                                                NULL, 2, NULL, &f2),
                 METRICORE_STATUS_NULL_POINTER);
    metricore_str le[] = {METRICORE_LIT("le")};
    CHECK_STATUS(metricore_histogram_family_new(r, METRICORE_LIT("bad"), METRICORE_LIT("B."), le, 1,
                                                bounds, 3, NULL, &f2),
                 METRICORE_STATUS_DUPLICATE_LABEL);
    /* Other bounds for a registered name conflict. */
    CHECK_STATUS(metricore_histogram_family_new(r, METRICORE_LIT("ttft"), METRICORE_LIT("TTFT."), NULL, 0,
                                                bounds, 3, NULL, &f2),
                 METRICORE_STATUS_CONFLICT);

    /* A native histogram: schema 0, buckets (2^(i-1), 2^i]; 0.5 is the zero threshold. */
    metricore_histogram_family *nf = NULL;
    CHECK_OK(metricore_histogram_family_new_native(r, METRICORE_LIT("tokens"), METRICORE_LIT("Tokens."),
                                                   labels, 1, 0, 0.5, 8, NULL, 0, NULL, &nf));
    CHECK_OK(metricore_histogram_family_labels(nf, v, 1, &h));
    CHECK_OK(metricore_histogram_observe(h, 0.25));
    CHECK_OK(metricore_histogram_observe(h, 3));
    CHECK_OK(metricore_histogram_family_observe(nf, v, 1, 1e12)); /* the outermost bucket */
    text = test_render(r, METRICORE_FORMAT_PROMETHEUS);
    CHECK_HAS(text, "tokens_bucket{model=\"gpt-4\",le=\"+Inf\"} 3\ntokens_count{model=\"gpt-4\"} 3\n");
    metricore_string_free(text);
    size_t len = 0;
    CHECK_STATUS(metricore_registry_render(r, METRICORE_FORMAT_PROTOBUF, NULL, 0, &len),
                 METRICORE_STATUS_BUFFER_TOO_SMALL);
    CHECK(len > 0);
    CHECK_STATUS(metricore_histogram_family_new_native(r, METRICORE_LIT("bad"), METRICORE_LIT("B."), NULL, 0,
                                                       9, 0.5, 8, NULL, 0, NULL, &nf),
                 METRICORE_STATUS_INVALID_BUCKETS);
    CHECK_STATUS(metricore_histogram_family_new_native(r, METRICORE_LIT("bad"), METRICORE_LIT("B."), NULL, 0,
                                                       0, 0.5, 127, def, n, NULL, &nf),
                 METRICORE_STATUS_INVALID_BUCKETS);
    CHECK_OK(metricore_registry_free(r));
}

void test_summary(void) {
    metricore_registry *r = test_registry();
    metricore_str labels[] = {METRICORE_LIT("op")};
    metricore_summary_family *f = NULL;
    CHECK_OK(metricore_summary_family_new(r, METRICORE_LIT("payload_bytes"), METRICORE_LIT("Payload."),
                                          labels, 1, NULL, &f));
    metricore_str v[] = {METRICORE_LIT("read")};
    metricore_summary s;
    CHECK_OK(metricore_summary_family_labels(f, v, 1, &s));
    CHECK_OK(metricore_summary_observe(s, 100));
    CHECK_OK(metricore_summary_observe(s, 28));
    CHECK_OK(metricore_summary_family_observe(f, v, 1, 0.5));
    CHECK_STATUS(metricore_summary_observe(s, NAN), METRICORE_STATUS_INVALID_VALUE);
    CHECK_STATUS(metricore_summary_family_observe(f, v, 1, NAN), METRICORE_STATUS_INVALID_VALUE);
    char *text = test_render(r, METRICORE_FORMAT_PROMETHEUS);
    CHECK_HAS(text, "# TYPE payload_bytes summary\n");
    CHECK_HAS(text, "payload_bytes_count{op=\"read\"} 3\n");
    CHECK_HAS(text, "payload_bytes_sum{op=\"read\"} 128.5\n");
    metricore_string_free(text);
    metricore_str q[] = {METRICORE_LIT("quantile")};
    CHECK_STATUS(metricore_summary_family_new(r, METRICORE_LIT("bad"), METRICORE_LIT("B."), q, 1, NULL, &f),
                 METRICORE_STATUS_DUPLICATE_LABEL);
    CHECK_OK(metricore_registry_free(r));
}

void test_state_set(void) {
    metricore_registry *r = test_registry();
    metricore_str labels[] = {METRICORE_LIT("backend")};
    metricore_str states[] = {METRICORE_LIT("starting"), METRICORE_LIT("ready"), METRICORE_LIT("draining")};
    metricore_state_set_family *f = NULL;
    CHECK_OK(metricore_state_set_family_new(r, METRICORE_LIT("backend_state"), METRICORE_LIT("State."),
                                            labels, 1, states, 3, NULL, &f));
    metricore_str v[] = {METRICORE_LIT("vllm-0")};
    metricore_state_set s;
    CHECK_OK(metricore_state_set_family_labels(f, v, 1, &s));
    metricore_str cur = {NULL, 0};
    CHECK_OK(metricore_state_set_get(s, &cur));
    CHECK(cur.len == 8 && memcmp(cur.ptr, "starting", 8) == 0);
    CHECK_OK(metricore_state_set_set(s, METRICORE_LIT("ready")));
    CHECK_OK(metricore_state_set_get(s, &cur));
    CHECK(cur.len == 5 && memcmp(cur.ptr, "ready", 5) == 0);
    CHECK_STATUS(metricore_state_set_set(s, METRICORE_LIT("gone")), METRICORE_STATUS_INVALID_STATE);
    CHECK_ERROR_HAS("gone");
    CHECK_STATUS(metricore_state_set_get(s, NULL), METRICORE_STATUS_NULL_POINTER);

    metricore_str v2[] = {METRICORE_LIT("vllm-1")};
    CHECK_OK(metricore_state_set_family_set(f, v2, 1, METRICORE_LIT("draining")));
    CHECK_STATUS(metricore_state_set_family_set(f, v2, 1, METRICORE_LIT("nope")), METRICORE_STATUS_INVALID_STATE);
    char *text = test_render(r, METRICORE_FORMAT_OPEN_METRICS);
    CHECK_HAS(text, "# TYPE backend_state stateset\n");
    CHECK_HAS(text, "backend_state{backend=\"vllm-0\",backend_state=\"ready\"} 1\n");
    CHECK_HAS(text, "backend_state{backend=\"vllm-0\",backend_state=\"starting\"} 0\n");
    CHECK_HAS(text, "backend_state{backend=\"vllm-1\",backend_state=\"draining\"} 1\n");
    metricore_string_free(text);

    metricore_state_set_family *bad = NULL;
    CHECK_STATUS(metricore_state_set_family_new(r, METRICORE_LIT("no_states"), METRICORE_LIT("N."), NULL, 0,
                                                NULL, 0, NULL, &bad),
                 METRICORE_STATUS_INVALID_STATE);
    metricore_str twice[] = {METRICORE_LIT("a"), METRICORE_LIT("a")};
    CHECK_STATUS(metricore_state_set_family_new(r, METRICORE_LIT("twice"), METRICORE_LIT("T."), NULL, 0,
                                                twice, 2, NULL, &bad),
                 METRICORE_STATUS_INVALID_STATE);
    metricore_str bad_utf8[] = {{"\xc3", 1}};
    CHECK_STATUS(metricore_state_set_family_new(r, METRICORE_LIT("u"), METRICORE_LIT("U."), NULL, 0,
                                                bad_utf8, 1, NULL, &bad),
                 METRICORE_STATUS_INVALID_UTF8);
    CHECK_ERROR_HAS("states[0]");
    CHECK(bad == NULL);
    CHECK_OK(metricore_registry_free(r));
}

void test_info(void) {
    metricore_registry *r = test_registry();
    metricore_str labels[] = {METRICORE_LIT("instance")};
    metricore_info_family *f = NULL;
    CHECK_OK(metricore_info_family_new(r, METRICORE_LIT("build_info"), METRICORE_LIT("Build."), labels, 1,
                                       NULL, &f));
    metricore_str v[] = {METRICORE_LIT("a")};
    metricore_str names[] = {METRICORE_LIT("version"), METRICORE_LIT("commit")};
    metricore_str values[] = {METRICORE_LIT("1.2.3"), METRICORE_LIT("abc")};
    CHECK_OK(metricore_info_family_set(f, v, 1, names, values, 2));
    char *text = test_render(r, METRICORE_FORMAT_OPEN_METRICS);
    CHECK_HAS(text, "# TYPE build info\n");
    CHECK_HAS(text, "build_info{instance=\"a\",version=\"1.2.3\",commit=\"abc\"} 1\n");
    metricore_string_free(text);

    /* Setting again replaces. */
    values[0] = METRICORE_LIT("1.2.4");
    CHECK_OK(metricore_info_family_set(f, v, 1, names, values, 1));
    text = test_render(r, METRICORE_FORMAT_PROMETHEUS);
    CHECK_HAS(text, "build_info{instance=\"a\",version=\"1.2.4\"} 1\n");
    CHECK_LACKS(text, "1.2.3");
    metricore_string_free(text);

    /* Pair names clash with the family's labels or each other, or are invalid. */
    metricore_str clash[] = {METRICORE_LIT("instance")};
    CHECK_STATUS(metricore_info_family_set(f, v, 1, clash, values, 1), METRICORE_STATUS_DUPLICATE_LABEL);
    metricore_str same[] = {METRICORE_LIT("x"), METRICORE_LIT("x")};
    CHECK_STATUS(metricore_info_family_set(f, v, 1, same, values, 2), METRICORE_STATUS_DUPLICATE_LABEL);
    metricore_str invalid[] = {METRICORE_LIT("__x")};
    CHECK_STATUS(metricore_info_family_set(f, v, 1, invalid, values, 1), METRICORE_STATUS_INVALID_NAME);
    metricore_str bad_utf8[] = {{"\xff", 1}};
    CHECK_STATUS(metricore_info_family_set(f, v, 1, names, bad_utf8, 1), METRICORE_STATUS_INVALID_UTF8);
    CHECK_ERROR_HAS("pair_values[0]");
    CHECK_STATUS(metricore_info_family_set(f, v, 1, NULL, values, 1), METRICORE_STATUS_NULL_POINTER);
    CHECK_STATUS(metricore_info_family_set(f, NULL, 0, names, values, 1), METRICORE_STATUS_LABEL_COUNT);

    CHECK_OK(metricore_info_family_clear(f));
    text = test_render(r, METRICORE_FORMAT_PROMETHEUS);
    CHECK_LACKS(text, "build_info{");
    metricore_string_free(text);
    CHECK_STATUS(metricore_info_family_clear(NULL), METRICORE_STATUS_NULL_POINTER);
    CHECK_OK(metricore_registry_close(r));
    CHECK_STATUS(metricore_info_family_set(f, v, 1, names, values, 1), METRICORE_STATUS_CLOSED);
    CHECK_STATUS(metricore_info_family_clear(f), METRICORE_STATUS_CLOSED);
    CHECK_OK(metricore_registry_free(r));
}

void test_family_options(void) {
    metricore_registry *r = test_registry();
    metricore_family_options o = {METRICORE_LIT("seconds"), 0, 0};
    metricore_histogram_family *f = NULL;
    const double bounds[] = {1};
    CHECK_OK(metricore_histogram_family_new(r, METRICORE_LIT("wait"), METRICORE_LIT("Wait."), NULL, 0,
                                            bounds, 1, &o, &f));
    char *text = test_render(r, METRICORE_FORMAT_OPEN_METRICS);
    CHECK_HAS(text, "# TYPE wait_seconds histogram\n# UNIT wait_seconds seconds\n");
    metricore_string_free(text);

    metricore_family_options bad = {METRICORE_LIT("per second"), 0, 0};
    metricore_counter_family *c = NULL;
    CHECK_STATUS(metricore_counter_family_new(r, METRICORE_LIT("x"), METRICORE_LIT("X."), NULL, 0, &bad, &c),
                 METRICORE_STATUS_INVALID_NAME);
    metricore_family_options bad_utf8 = {{"\xfe", 1}, 0, 0};
    CHECK_STATUS(metricore_counter_family_new(r, METRICORE_LIT("x"), METRICORE_LIT("X."), NULL, 0, &bad_utf8, &c),
                 METRICORE_STATUS_INVALID_UTF8);
    CHECK_ERROR_HAS("options.unit");
    CHECK(c == NULL);
    CHECK_OK(metricore_registry_free(r));
}

void test_family_expiry(void) {
    metricore_registry *r = test_registry();
    metricore_str labels[] = {METRICORE_LIT("k")};
    metricore_family_options o = {{NULL, 0}, 0, 100};
    metricore_counter_family *f = NULL;
    CHECK_OK(metricore_counter_family_new(r, METRICORE_LIT("jobs"), METRICORE_LIT("Jobs."), labels, 1, &o, &f));
    metricore_str idle[] = {METRICORE_LIT("idle")}, busy[] = {METRICORE_LIT("busy")};
    metricore_counter held;
    CHECK_OK(metricore_counter_family_labels(f, idle, 1, &held));
    CHECK_OK(metricore_counter_inc_by(held, 5));
    /* Each render sweeps: "busy", written before each, stays; "idle" goes. */
    int gone = 0;
    for (int i = 0; i < 1000 && !gone; i++) {
        CHECK_OK(metricore_counter_family_inc_by(f, busy, 1, 1));
        char *text = test_render(r, METRICORE_FORMAT_PROMETHEUS);
        CHECK_HAS(text, "jobs_total{k=\"busy\"}");
        gone = strstr(text, "k=\"idle\"") == NULL;
        metricore_string_free(text);
        if (!gone) {
            struct timespec ms10 = {0, 10 * 1000 * 1000};
            nanosleep(&ms10, NULL);
        }
    }
    CHECK(gone);
    /* The handle kept from before records nothing; a lookup makes the series anew. */
    CHECK_OK(metricore_counter_inc(held));
    CHECK_OK(metricore_counter_family_inc_by(f, idle, 1, 2));
    char *text = test_render(r, METRICORE_FORMAT_PROMETHEUS);
    CHECK_HAS(text, "jobs_total{k=\"idle\"} 2\n");
    CHECK_HAS(text, "metricore_series_expired_total 1\n");
    CHECK_HAS(text, "metricore_stale_recordings_total 1\n");
    metricore_string_free(text);

    /* Another idle time is another definition; none for a family without labels. */
    metricore_counter_family *other = NULL;
    o.expire_ms = 200;
    CHECK_STATUS(metricore_counter_family_new(r, METRICORE_LIT("jobs"), METRICORE_LIT("Jobs."), labels, 1, &o, &other),
                 METRICORE_STATUS_CONFLICT);
    CHECK_STATUS(metricore_counter_family_new(r, METRICORE_LIT("one"), METRICORE_LIT("One."), NULL, 0, &o, &other),
                 METRICORE_STATUS_INVALID_OPTIONS);
    CHECK_ERROR_HAS("idle time");
    CHECK(other == NULL);
    CHECK_OK(metricore_registry_free(r));
}

void test_remove_and_clear(void) {
    metricore_registry *r = test_registry();
    metricore_str labels[] = {METRICORE_LIT("k")};
    metricore_counter_family *cf = NULL;
    metricore_gauge_family *gf = NULL;
    metricore_histogram_family *hf = NULL;
    metricore_summary_family *sf = NULL;
    metricore_state_set_family *ssf = NULL;
    metricore_str states[] = {METRICORE_LIT("on"), METRICORE_LIT("off")};
    const double bounds[] = {1};
    CHECK_OK(metricore_counter_family_new(r, METRICORE_LIT("rc"), METRICORE_LIT("C."), labels, 1, NULL, &cf));
    CHECK_OK(metricore_gauge_family_new(r, METRICORE_LIT("rg"), METRICORE_LIT("G."), labels, 1,
                                        METRICORE_LIT("shared"), NULL, &gf));
    CHECK_OK(metricore_histogram_family_new(r, METRICORE_LIT("rh"), METRICORE_LIT("H."), labels, 1, bounds,
                                            1, NULL, &hf));
    CHECK_OK(metricore_summary_family_new(r, METRICORE_LIT("rs"), METRICORE_LIT("S."), labels, 1, NULL, &sf));
    CHECK_OK(metricore_state_set_family_new(r, METRICORE_LIT("rss"), METRICORE_LIT("SS."), labels, 1, states,
                                            2, NULL, &ssf));
    metricore_str a[] = {METRICORE_LIT("a")};
    metricore_str b[] = {METRICORE_LIT("b")};
    for (int i = 0; i < 2; i++) {
        metricore_str *v = i == 0 ? a : b;
        CHECK_OK(metricore_counter_family_inc_by(cf, v, 1, 1));
        CHECK_OK(metricore_gauge_family_set(gf, v, 1, 1));
        CHECK_OK(metricore_histogram_family_observe(hf, v, 1, 1));
        CHECK_OK(metricore_summary_family_observe(sf, v, 1, 1));
        CHECK_OK(metricore_state_set_family_set(ssf, v, 1, METRICORE_LIT("off")));
    }
    metricore_counter old;
    CHECK_OK(metricore_counter_family_labels(cf, a, 1, &old));

    bool removed = false;
    CHECK_OK(metricore_counter_family_remove(cf, a, 1, &removed));
    CHECK(removed);
    CHECK_OK(metricore_counter_family_remove(cf, a, 1, &removed));
    CHECK(!removed);
    CHECK_OK(metricore_counter_family_remove(cf, a, 1, NULL));
    CHECK_OK(metricore_gauge_family_remove(gf, a, 1, &removed));
    CHECK(removed);
    CHECK_OK(metricore_histogram_family_remove(hf, a, 1, &removed));
    CHECK(removed);
    CHECK_OK(metricore_summary_family_remove(sf, a, 1, &removed));
    CHECK(removed);
    CHECK_OK(metricore_state_set_family_remove(ssf, a, 1, &removed));
    CHECK(removed);
    CHECK_STATUS(metricore_counter_family_remove(cf, NULL, 0, &removed), METRICORE_STATUS_LABEL_COUNT);
    CHECK_STATUS(metricore_gauge_family_remove(gf, NULL, 0, &removed), METRICORE_STATUS_LABEL_COUNT);
    CHECK_STATUS(metricore_histogram_family_remove(hf, NULL, 0, &removed), METRICORE_STATUS_LABEL_COUNT);
    CHECK_STATUS(metricore_summary_family_remove(sf, NULL, 0, &removed), METRICORE_STATUS_LABEL_COUNT);
    CHECK_STATUS(metricore_state_set_family_remove(ssf, NULL, 0, &removed), METRICORE_STATUS_LABEL_COUNT);

    char *text = test_render(r, METRICORE_FORMAT_PROMETHEUS);
    CHECK_LACKS(text, "k=\"a\"");
    CHECK_HAS(text, "rc_total{k=\"b\"} 1\n");
    CHECK_HAS(text, "rg{k=\"b\"} 1.0\n");
    CHECK_HAS(text, "rh_count{k=\"b\"} 1\n");
    CHECK_HAS(text, "rs_count{k=\"b\"} 1\n");
    CHECK_HAS(text, "rss{k=\"b\",rss=\"off\"} 1\n");
    metricore_string_free(text);

    /* The old handle still works but is not rendered; resolving again starts anew. */
    CHECK_OK(metricore_counter_inc(old));
    metricore_counter fresh;
    CHECK_OK(metricore_counter_family_labels(cf, a, 1, &fresh));
    double v = -1;
    CHECK_OK(metricore_counter_get(fresh, &v));
    CHECK(v == 0.0);

    CHECK_OK(metricore_counter_family_clear(cf));
    CHECK_OK(metricore_gauge_family_clear(gf));
    CHECK_OK(metricore_histogram_family_clear(hf));
    CHECK_OK(metricore_summary_family_clear(sf));
    CHECK_OK(metricore_state_set_family_clear(ssf));
    text = test_render(r, METRICORE_FORMAT_PROMETHEUS);
    CHECK_LACKS(text, "k=\"");
    CHECK_HAS(text, "# TYPE rc_total counter\n"); /* the families remain */
    metricore_string_free(text);
    CHECK_OK(metricore_registry_free(r));
}

/* Bytes the C allocator has handed out and not got back. */
static size_t heap_in_use(void) {
    struct mallinfo2 m = mallinfo2();
    return m.uordblks + m.hblkhd;
}

void test_handles_kept_once(void) {
    metricore_registry *r = test_registry();
    metricore_str labels[] = {METRICORE_LIT("k")};
    metricore_str a[] = {METRICORE_LIT("a")};
    metricore_str b[] = {METRICORE_LIT("b")};
    metricore_counter_family *cf = NULL;
    metricore_gauge_family *gf = NULL;
    metricore_histogram_family *hf = NULL;
    metricore_summary_family *sf = NULL;
    metricore_state_set_family *ssf = NULL;
    const double bounds[] = {1.0};
    metricore_str states[] = {METRICORE_LIT("on"), METRICORE_LIT("off")};
    CHECK_OK(metricore_counter_family_new(r, METRICORE_LIT("kc"), METRICORE_LIT("h"), labels, 1, NULL, &cf));
    CHECK_OK(metricore_gauge_family_new(r, METRICORE_LIT("kg"), METRICORE_LIT("h"), labels, 1,
                                        METRICORE_LIT(""), NULL, &gf));
    CHECK_OK(metricore_histogram_family_new(r, METRICORE_LIT("kh"), METRICORE_LIT("h"), labels, 1,
                                            bounds, 1, NULL, &hf));
    CHECK_OK(metricore_summary_family_new(r, METRICORE_LIT("ks"), METRICORE_LIT("h"), labels, 1, NULL, &sf));
    CHECK_OK(metricore_state_set_family_new(r, METRICORE_LIT("kss"), METRICORE_LIT("h"), labels, 1,
                                            states, 2, NULL, &ssf));

    /* Every kind: the same label values give the same handle, others another. */
    metricore_counter c1, c2, cb;
    CHECK_OK(metricore_counter_family_labels(cf, a, 1, &c1));
    CHECK_OK(metricore_counter_family_labels(cf, a, 1, &c2));
    CHECK_OK(metricore_counter_family_labels(cf, b, 1, &cb));
    CHECK(c1 == c2 && c1 != cb);
    metricore_gauge g1, g2, gb;
    CHECK_OK(metricore_gauge_family_labels(gf, a, 1, &g1));
    CHECK_OK(metricore_gauge_family_labels(gf, a, 1, &g2));
    CHECK_OK(metricore_gauge_family_labels(gf, b, 1, &gb));
    CHECK(g1 == g2 && g1 != gb);
    metricore_histogram h1, h2, hb;
    CHECK_OK(metricore_histogram_family_labels(hf, a, 1, &h1));
    CHECK_OK(metricore_histogram_family_labels(hf, a, 1, &h2));
    CHECK_OK(metricore_histogram_family_labels(hf, b, 1, &hb));
    CHECK(h1 == h2 && h1 != hb);
    metricore_summary s1, s2, sb;
    CHECK_OK(metricore_summary_family_labels(sf, a, 1, &s1));
    CHECK_OK(metricore_summary_family_labels(sf, a, 1, &s2));
    CHECK_OK(metricore_summary_family_labels(sf, b, 1, &sb));
    CHECK(s1 == s2 && s1 != sb);
    metricore_state_set ss1, ss2, ssb;
    CHECK_OK(metricore_state_set_family_labels(ssf, a, 1, &ss1));
    CHECK_OK(metricore_state_set_family_labels(ssf, a, 1, &ss2));
    CHECK_OK(metricore_state_set_family_labels(ssf, b, 1, &ssb));
    CHECK(ss1 == ss2 && ss1 != ssb);

    /* Resolving the same values over and over keeps nothing more. */
    size_t before = heap_in_use();
    int same = 1;
    for (int i = 0; i < 100000; i++) {
        metricore_counter c;
        metricore_counter_family_labels(cf, a, 1, &c);
        same &= c == c1;
    }
    CHECK(same);
    size_t after = heap_in_use();
    CHECK(after < before + 64 * 1024);

    /* A removed series resolved again is a new series with a handle of its own. */
    CHECK_OK(metricore_counter_inc(c1));
    CHECK_OK(metricore_counter_family_remove(cf, a, 1, NULL));
    metricore_counter fresh;
    CHECK_OK(metricore_counter_family_labels(cf, a, 1, &fresh));
    CHECK(fresh != c1);
    double v = -1;
    CHECK_OK(metricore_counter_get(fresh, &v));
    CHECK(v == 0.0);
    CHECK_OK(metricore_registry_free(r));
}

void test_exemplars(void) {
    metricore_registry *r = test_registry();
    metricore_counter_family *cf = NULL;
    CHECK_OK(metricore_counter_family_new(r, METRICORE_LIT("calls"), METRICORE_LIT("Calls."), NULL, 0, NULL,
                                          &cf));
    metricore_counter c;
    CHECK_OK(metricore_counter_family_labels(cf, NULL, 0, &c));
    metricore_str names[] = {METRICORE_LIT("trace_id"), METRICORE_LIT("span_id")};
    metricore_str values[] = {METRICORE_LIT("4bf92f3577b34da6"), METRICORE_LIT("00f067aa")};
    CHECK_OK(metricore_counter_inc_exemplar(c, 2, names, values, 2));

    const double bounds[] = {0.1, 1};
    metricore_histogram_family *hf = NULL;
    CHECK_OK(metricore_histogram_family_new(r, METRICORE_LIT("wait_seconds"), METRICORE_LIT("Wait."), NULL, 0,
                                            bounds, 2, NULL, &hf));
    metricore_histogram h;
    CHECK_OK(metricore_histogram_family_labels(hf, NULL, 0, &h));
    CHECK_OK(metricore_histogram_observe_exemplar(h, 0.5, names, values, 1));

    char *text = test_render(r, METRICORE_FORMAT_OPEN_METRICS);
    CHECK_HAS(text, "calls_total 2 # {trace_id=\"4bf92f3577b34da6\",span_id=\"00f067aa\"} 2.0 ");
    CHECK_HAS(text, "wait_seconds_bucket{le=\"1.0\"} 1 # {trace_id=\"4bf92f3577b34da6\"} 0.5 ");
    CHECK_LACKS(text, "wait_seconds_bucket{le=\"0.1\"} 0 #");
    metricore_string_free(text);
    text = test_render(r, METRICORE_FORMAT_PROMETHEUS);
    CHECK_LACKS(text, "trace_id");
    metricore_string_free(text);

    /* Refused labels: an error that says why, and the value still recorded. */
    metricore_str bad[] = {METRICORE_LIT("1abc")};
    CHECK_STATUS(metricore_counter_inc_exemplar(c, 1, bad, values, 1), METRICORE_STATUS_INVALID_NAME);
    char long_value[130];
    memset(long_value, 'x', sizeof long_value);
    metricore_str long_values[] = {{long_value, sizeof long_value}};
    CHECK_STATUS(metricore_histogram_observe_exemplar(h, 0.05, names, long_values, 1),
                 METRICORE_STATUS_INVALID_ARGUMENT);
    CHECK_ERROR_HAS("at most 128");
    CHECK_STATUS(metricore_counter_inc_exemplar(c, 1, NULL, NULL, 1), METRICORE_STATUS_NULL_POINTER);
    CHECK_STATUS(metricore_counter_inc_exemplar(NULL, 1, names, values, 1), METRICORE_STATUS_NULL_POINTER);
    double got = 0;
    CHECK_OK(metricore_counter_get(c, &got));
    CHECK(got == 3);
    text = test_render(r, METRICORE_FORMAT_OPEN_METRICS);
    CHECK_HAS(text, "wait_seconds_bucket{le=\"0.1\"} 1\n");
    metricore_string_free(text);
    CHECK_OK(metricore_registry_free(r));
}

void test_series_made_in_reused_space_get_handles_of_their_own(void) {
    metricore_registry *r = test_registry();
    metricore_str labels[] = {METRICORE_LIT("k")};
    metricore_counter_family *f = NULL;
    CHECK_OK(metricore_counter_family_new(r, METRICORE_LIT("churn"), METRICORE_LIT("C."), labels, 1, NULL, &f));
    /* Far past the 256 removals after which removed series' cells and records are
     * reused (the cells also by series in fresh records): every new series records
     * what its own handle adds. */
    metricore_counter first = NULL;
    for (int i = 0; i < 2000; i++) {
        char value[16];
        int n = snprintf(value, sizeof value, "s%d", i);
        metricore_str v[] = {{value, (size_t)n}};
        metricore_counter c;
        CHECK_OK(metricore_counter_family_labels(f, v, 1, &c));
        CHECK_OK(metricore_counter_inc_by(c, 3));
        double got = -1;
        CHECK_OK(metricore_counter_get(c, &got));
        CHECK(got == 3);
        if (i == 0) {
            first = c;
        } else {
            CHECK(c != first);
        }
        CHECK_OK(metricore_counter_family_remove(f, v, 1, NULL));
    }
    char *text = test_render(r, METRICORE_FORMAT_PROMETHEUS);
    CHECK_HAS(text, "metricore_stale_recordings_total 0\n");
    metricore_string_free(text);
    metricore_registry_free(r);
}

void test_handles_given_back(void) {
    metricore_registry *r = test_registry();
    metricore_str labels[] = {METRICORE_LIT("k")};
    metricore_str a[] = {METRICORE_LIT("a")};
    metricore_counter_family *f = NULL, *other = NULL;
    metricore_gauge_family *gf = NULL;
    metricore_histogram_family *hf = NULL;
    metricore_summary_family *sf = NULL;
    metricore_state_set_family *ssf = NULL;
    const double bounds[] = {1.0};
    metricore_str states[] = {METRICORE_LIT("on"), METRICORE_LIT("off")};
    CHECK_OK(metricore_counter_family_new(r, METRICORE_LIT("given"), METRICORE_LIT("h"), labels, 1, NULL, &f));
    CHECK_OK(metricore_counter_family_new(r, METRICORE_LIT("other"), METRICORE_LIT("h"), labels, 1, NULL, &other));
    CHECK_OK(metricore_gauge_family_new(r, METRICORE_LIT("gg"), METRICORE_LIT("h"), labels, 1,
                                        METRICORE_LIT(""), NULL, &gf));
    CHECK_OK(metricore_histogram_family_new(r, METRICORE_LIT("gh"), METRICORE_LIT("h"), labels, 1,
                                            bounds, 1, NULL, &hf));
    CHECK_OK(metricore_summary_family_new(r, METRICORE_LIT("gs"), METRICORE_LIT("h"), labels, 1, NULL, &sf));
    CHECK_OK(metricore_state_set_family_new(r, METRICORE_LIT("gss"), METRICORE_LIT("h"), labels, 1,
                                            states, 2, NULL, &ssf));

    /* Written twice, given back once: the handle still records. */
    metricore_counter c1, c2;
    CHECK_OK(metricore_counter_family_labels(f, a, 1, &c1));
    CHECK_OK(metricore_counter_family_labels(f, a, 1, &c2));
    CHECK(c1 == c2);
    CHECK_OK(metricore_counter_family_release(f, c1));
    CHECK_OK(metricore_counter_inc_by(c2, 2));
    double got = -1;
    CHECK_OK(metricore_counter_get(c2, &got));
    CHECK(got == 2);

    /* Another family's handle, NULL, and a handle given back as often as it was
     * written are refused, and nothing is read through them. */
    CHECK_STATUS(metricore_counter_family_release(other, c2), METRICORE_STATUS_INVALID_ARGUMENT);
    CHECK_ERROR_HAS("not written by this family");
    CHECK_STATUS(metricore_counter_family_release(f, NULL), METRICORE_STATUS_NULL_POINTER);
    CHECK_STATUS(metricore_counter_family_release(NULL, c2), METRICORE_STATUS_NULL_POINTER);
    CHECK_OK(metricore_counter_family_release(f, c2));
    CHECK_STATUS(metricore_counter_family_release(f, c2), METRICORE_STATUS_INVALID_ARGUMENT);

    /* The series outlives its handles: resolving it again sees its value. */
    CHECK_OK(metricore_counter_family_labels(f, a, 1, &c1));
    CHECK_OK(metricore_counter_get(c1, &got));
    CHECK(got == 2);
    CHECK_OK(metricore_counter_family_release(f, c1));

    /* Every kind gives its handles back. */
    metricore_gauge g;
    CHECK_OK(metricore_gauge_family_labels(gf, a, 1, &g));
    CHECK_OK(metricore_gauge_family_release(gf, g));
    CHECK_STATUS(metricore_gauge_family_release(gf, g), METRICORE_STATUS_INVALID_ARGUMENT);
    metricore_histogram h;
    CHECK_OK(metricore_histogram_family_labels(hf, a, 1, &h));
    CHECK_OK(metricore_histogram_family_release(hf, h));
    CHECK_STATUS(metricore_histogram_family_release(hf, h), METRICORE_STATUS_INVALID_ARGUMENT);
    metricore_summary s;
    CHECK_OK(metricore_summary_family_labels(sf, a, 1, &s));
    CHECK_OK(metricore_summary_family_release(sf, s));
    CHECK_STATUS(metricore_summary_family_release(sf, s), METRICORE_STATUS_INVALID_ARGUMENT);
    metricore_state_set ss;
    CHECK_OK(metricore_state_set_family_labels(ssf, a, 1, &ss));
    CHECK_OK(metricore_state_set_family_release(ssf, ss));
    CHECK_STATUS(metricore_state_set_family_release(ssf, ss), METRICORE_STATUS_INVALID_ARGUMENT);

    /* Churn: series made, recorded into, removed and their handles given back (under
     * valgrind, a handle used after it was freed would be an error). */
    for (int i = 0; i < 3000; i++) {
        char value[16];
        int n = snprintf(value, sizeof value, "s%d", i);
        metricore_str v[] = {{value, (size_t)n}};
        metricore_counter c;
        CHECK_OK(metricore_counter_family_labels(f, v, 1, &c));
        CHECK_OK(metricore_counter_inc_by(c, 3));
        CHECK_OK(metricore_counter_get(c, &got));
        CHECK(got == 3);
        CHECK_OK(metricore_counter_family_remove(f, v, 1, NULL));
        CHECK_OK(metricore_counter_family_release(f, c));
    }
    char *text = test_render(r, METRICORE_FORMAT_PROMETHEUS);
    CHECK_HAS(text, "metricore_stale_recordings_total 0\n");
    CHECK_HAS(text, "given_total{k=\"a\"} 2\n");
    metricore_string_free(text);
    metricore_registry_free(r);
}
