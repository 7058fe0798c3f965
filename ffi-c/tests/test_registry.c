/* Registries: options, rendering, statistics, scopes, closing, callbacks, formats. */
#include <stdlib.h>

#include "harness.h"
#include "tests.h"

void test_options_and_registry_new(void) {
    metricore_options o;
    memset(&o, 0xff, sizeof o);
    CHECK_OK(metricore_options_init(&o));
    CHECK(o.shards == 0); /* twice the CPUs */
    CHECK(o.cells_per_shard == 1u << 18);
    CHECK(o.series_capacity == 1u << 16);
    CHECK(o.family_capacity == 4096);
    CHECK(o.process_capacity == 1024);
    CHECK(o.file_mode == 0600);
    CHECK(o.arena_bytes == 16u << 20);

    /* NULL options: the defaults. */
    metricore_registry *r = NULL;
    CHECK_OK(metricore_registry_new(NULL, &r));
    CHECK(r != NULL);
    metricore_stats s;
    CHECK_OK(metricore_registry_stats(r, &s));
    CHECK(s.series_capacity == 1u << 16);
    CHECK(s.cells_total == 1u << 18);
    CHECK_OK(metricore_registry_free(r));

    /* Explicit options, zero fields defaulted. */
    memset(&o, 0, sizeof o);
    o.shards = 3; /* rounded up to 4 */
    o.series_capacity = 1000; /* rounded up to 1024 */
    o.cells_per_shard = 5000;
    o.arena_bytes = 1 << 16;
    CHECK_OK(metricore_registry_new(&o, &r));
    CHECK_OK(metricore_registry_stats(r, &s));
    CHECK(s.shards == 4);
    CHECK(s.series_capacity == 1024);
    CHECK(s.cells_total == 5000);
    CHECK(s.arena_bytes_total == 1 << 16);
    CHECK_OK(metricore_registry_free(r));

    /* Options the core refuses. */
    o.cells_per_shard = 10; /* below the sink cells */
    r = (metricore_registry *)&o; /* must stay untouched on failure */
    CHECK_STATUS(metricore_registry_new(&o, &r), METRICORE_STATUS_INVALID_OPTIONS);
    CHECK(r == (metricore_registry *)&o);
    CHECK_ERROR_HAS("cells_per_shard");

    /* Freeing NULL is fine. */
    CHECK_OK(metricore_registry_free(NULL));
}

void test_render_buffer(void) {
    metricore_registry *r = test_registry();
    metricore_counter_family *f = NULL;
    CHECK_OK(metricore_counter_family_new(r, METRICORE_LIT("jobs"), METRICORE_LIT("Jobs done."),
                                          NULL, 0, NULL, &f));
    metricore_counter c = NULL;
    CHECK_OK(metricore_counter_family_labels(f, NULL, 0, &c));
    CHECK_OK(metricore_counter_inc_by(c, 7));

    /* Ask for the length with no buffer. */
    size_t len = 0;
    CHECK_STATUS(metricore_registry_render(r, METRICORE_FORMAT_PROMETHEUS, NULL, 0, &len),
                 METRICORE_STATUS_BUFFER_TOO_SMALL);
    CHECK_ERROR_HAS("buffer");
    CHECK(len > 0);

    /* One byte short (no room for the NUL): refused, buffer untouched. */
    char *buf = malloc(len + 1);
    memset(buf, 'x', len + 1);
    size_t len2 = 0;
    CHECK_STATUS(metricore_registry_render(r, METRICORE_FORMAT_PROMETHEUS, buf, len, &len2),
                 METRICORE_STATUS_BUFFER_TOO_SMALL);
    CHECK(len2 == len);
    CHECK(buf[0] == 'x');

    /* Exactly enough. */
    CHECK_OK(metricore_registry_render(r, METRICORE_FORMAT_PROMETHEUS, buf, len + 1, &len2));
    CHECK(len2 == len);
    CHECK(buf[len] == '\0');
    CHECK(strlen(buf) == len);
    CHECK_HAS(buf, "# HELP jobs_total Jobs done.\n# TYPE jobs_total counter\njobs_total 7\n");

    /* The same text as the allocating variant. */
    char *alloc = NULL;
    size_t alloc_len = 0;
    CHECK_OK(metricore_registry_render_alloc(r, METRICORE_FORMAT_PROMETHEUS, &alloc, &alloc_len));
    CHECK(alloc_len == len);
    CHECK(strcmp(alloc, buf) == 0);
    metricore_string_free(alloc);
    metricore_string_free(NULL);
    free(buf);

    /* A non-NULL capacity with a NULL buffer, and a NULL len. */
    CHECK_STATUS(metricore_registry_render(r, METRICORE_FORMAT_PROMETHEUS, NULL, 1 << 20, &len),
                 METRICORE_STATUS_NULL_POINTER);
    CHECK_ERROR_HAS("buf");
    char small[8];
    CHECK_STATUS(metricore_registry_render(r, METRICORE_FORMAT_PROMETHEUS, small, sizeof small, NULL),
                 METRICORE_STATUS_NULL_POINTER);
    CHECK_ERROR_HAS("len");
    CHECK_OK(metricore_registry_free(r));
}

void test_render_alloc_and_formats(void) {
    metricore_registry *r = test_registry();
    metricore_counter_family *f = NULL;
    CHECK_OK(metricore_counter_family_new(r, METRICORE_LIT("requests_total"),
                                          METRICORE_LIT("Requests."), NULL, 0, NULL, &f));
    char *om = test_render(r, METRICORE_FORMAT_OPEN_METRICS);
    CHECK_HAS(om, "# TYPE requests counter\n");
    CHECK_HAS(om, "requests_total 0\n");
    CHECK(strlen(om) >= 6 && strcmp(om + strlen(om) - 6, "# EOF\n") == 0);
    metricore_string_free(om);
    char *prom = test_render(r, METRICORE_FORMAT_PROMETHEUS);
    CHECK_HAS(prom, "# TYPE requests_total counter\n");
    CHECK_LACKS(prom, "# EOF");
    metricore_string_free(prom);

    /* Unknown format codes. */
    char *text = NULL;
    CHECK_STATUS(metricore_registry_render_alloc(r, 7, &text, NULL), METRICORE_STATUS_INVALID_ARGUMENT);
    CHECK(text == NULL);
    CHECK_ERROR_HAS("unknown format 7");
    size_t len;
    CHECK_STATUS(metricore_registry_render(r, 7, NULL, 0, &len), METRICORE_STATUS_INVALID_ARGUMENT);
    CHECK_STATUS(metricore_registry_render_alloc(r, METRICORE_FORMAT_PROMETHEUS, NULL, NULL),
                 METRICORE_STATUS_NULL_POINTER);

    /* Accept header negotiation and content types. */
    uint32_t fmt = 99;
    CHECK_OK(metricore_format_from_accept(
        METRICORE_LIT("application/openmetrics-text; version=1.0.0; charset=utf-8,text/plain;q=0.5"), &fmt));
    CHECK(fmt == METRICORE_FORMAT_OPEN_METRICS);
    CHECK_OK(metricore_format_from_accept(METRICORE_LIT("text/plain"), &fmt));
    CHECK(fmt == METRICORE_FORMAT_PROMETHEUS);
    metricore_str empty = {NULL, 0};
    CHECK_OK(metricore_format_from_accept(empty, &fmt));
    CHECK(fmt == METRICORE_FORMAT_PROMETHEUS);
    CHECK_OK(metricore_format_from_accept(METRICORE_LIT("application/openmetrics-text;q=0"), &fmt));
    CHECK(fmt == METRICORE_FORMAT_PROMETHEUS);
    CHECK_OK(metricore_format_from_accept(
        METRICORE_LIT("application/vnd.google.protobuf;proto=io.prometheus.client.MetricFamily;"
                      "encoding=delimited;q=0.8,text/plain;version=0.0.4;q=0.2"), &fmt));
    CHECK(fmt == METRICORE_FORMAT_PROTOBUF);
    CHECK_STATUS(metricore_format_from_accept(METRICORE_LIT("text/plain"), NULL),
                 METRICORE_STATUS_NULL_POINTER);

    metricore_str ct = {NULL, 0};
    CHECK_OK(metricore_format_content_type(METRICORE_FORMAT_PROMETHEUS, &ct));
    CHECK(ct.len == strlen("text/plain; version=0.0.4; charset=utf-8"));
    CHECK(memcmp(ct.ptr, "text/plain; version=0.0.4; charset=utf-8", ct.len) == 0);
    CHECK_OK(metricore_format_content_type(METRICORE_FORMAT_OPEN_METRICS, &ct));
    CHECK(ct.len > 28 && memcmp(ct.ptr, "application/openmetrics-text", 28) == 0);
    CHECK_OK(metricore_format_content_type(METRICORE_FORMAT_PROTOBUF, &ct));
    CHECK(ct.len > 31 && memcmp(ct.ptr, "application/vnd.google.protobuf", 31) == 0);
    CHECK_STATUS(metricore_format_content_type(5, &ct), METRICORE_STATUS_INVALID_ARGUMENT);
    CHECK_STATUS(metricore_format_content_type(0, NULL), METRICORE_STATUS_NULL_POINTER);
    CHECK_OK(metricore_registry_free(r));
}

void test_stats(void) {
    metricore_registry *r = test_registry();
    metricore_stats s;
    memset(&s, 0, sizeof s);
    CHECK_OK(metricore_registry_stats(r, &s));
    CHECK(s.created_unix_ns > 0);
    CHECK(s.shards == 4);
    CHECK(s.series == 0);
    CHECK(s.families == 0);
    CHECK(s.region_bytes_used > 0 && s.region_bytes_used <= s.region_bytes_total);
    CHECK(s.arena_bytes_used <= s.arena_bytes_total);
    CHECK(s.cells_used <= s.cells_total);
    CHECK(s.processes == 1 && s.processes_alive == 1);

    metricore_str labels[] = {METRICORE_LIT("model")};
    metricore_counter_family *f = NULL;
    CHECK_OK(metricore_counter_family_new(r, METRICORE_LIT("tokens"), METRICORE_LIT("Tokens."),
                                          labels, 1, NULL, &f));
    metricore_str v[] = {METRICORE_LIT("a")};
    metricore_counter c;
    CHECK_OK(metricore_counter_family_labels(f, v, 1, &c));
    v[0] = METRICORE_LIT("b");
    CHECK_OK(metricore_counter_family_labels(f, v, 1, &c));
    /* A wrong label count is refused and counted as an error. */
    CHECK_STATUS(metricore_counter_family_labels(f, v, 0, &c), METRICORE_STATUS_LABEL_COUNT);
    CHECK_OK(metricore_registry_stats(r, &s));
    CHECK(s.families == 1);
    CHECK(s.series == 2);
    CHECK(s.errors == 1);
    CHECK(s.overflows == 0);
    CHECK_STATUS(metricore_registry_stats(r, NULL), METRICORE_STATUS_NULL_POINTER);
    CHECK_OK(metricore_registry_free(r));
}

void test_scopes(void) {
    metricore_registry *r = test_registry();
    metricore_registry *ns = NULL, *endpoint = NULL;
    CHECK_OK(metricore_registry_scope(r, METRICORE_LIT("namespace"), METRICORE_LIT("dynamo"), &ns));
    CHECK_OK(metricore_registry_scope(ns, METRICORE_LIT("endpoint"), METRICORE_LIT("generate"), &endpoint));

    metricore_str labels[] = {METRICORE_LIT("model")};
    metricore_counter_family *f = NULL;
    CHECK_OK(metricore_counter_family_new(endpoint, METRICORE_LIT("requests"), METRICORE_LIT("Requests."),
                                          labels, 1, NULL, &f));
    metricore_str v[] = {METRICORE_LIT("gpt-4")};
    metricore_counter c;
    CHECK_OK(metricore_counter_family_labels(f, v, 1, &c));
    CHECK_OK(metricore_counter_inc(c));

    /* Rendering the root shows the scope's families. */
    char *text = test_render(r, METRICORE_FORMAT_PROMETHEUS);
    CHECK_HAS(text, "requests_total{namespace=\"dynamo\",endpoint=\"generate\",model=\"gpt-4\"} 1\n");
    metricore_string_free(text);

    /* A label the scope already sets, and invalid scope names. */
    metricore_registry *bad = NULL;
    CHECK_STATUS(metricore_registry_scope(endpoint, METRICORE_LIT("namespace"), METRICORE_LIT("x"), &bad),
                 METRICORE_STATUS_DUPLICATE_LABEL);
    CHECK_STATUS(metricore_registry_scope(r, METRICORE_LIT("__x"), METRICORE_LIT("x"), &bad),
                 METRICORE_STATUS_INVALID_NAME);
    CHECK(bad == NULL);
    CHECK_STATUS(metricore_registry_scope(r, METRICORE_LIT("ok"), METRICORE_LIT("x"), NULL),
                 METRICORE_STATUS_NULL_POINTER);

    /* Freeing the root first: the scopes stay allocated but closed. */
    CHECK_OK(metricore_registry_free(r));
    CHECK_STATUS(metricore_counter_family_labels(f, v, 1, &c), METRICORE_STATUS_CLOSED);
    CHECK_STATUS(metricore_registry_scope(ns, METRICORE_LIT("a"), METRICORE_LIT("b"), &bad),
                 METRICORE_STATUS_CLOSED);
    /* The handle still records into memory the scopes keep mapped. */
    CHECK_OK(metricore_counter_inc(c));
    CHECK_OK(metricore_registry_free(endpoint));
    CHECK_OK(metricore_registry_free(ns));
}

void test_close(void) {
    metricore_registry *r = test_registry();
    metricore_registry *scope = NULL;
    CHECK_OK(metricore_registry_scope(r, METRICORE_LIT("zone"), METRICORE_LIT("a"), &scope));
    metricore_counter_family *f = NULL;
    CHECK_OK(metricore_counter_family_new(r, METRICORE_LIT("c"), METRICORE_LIT("C."), NULL, 0, NULL, &f));
    metricore_gauge_family *g = NULL;
    CHECK_OK(metricore_gauge_family_new(scope, METRICORE_LIT("g"), METRICORE_LIT("G."), NULL, 0,
                                        METRICORE_LIT(""), NULL, &g));
    metricore_counter c;
    CHECK_OK(metricore_counter_family_labels(f, NULL, 0, &c));

    CHECK_OK(metricore_registry_close(r));
    CHECK_OK(metricore_registry_close(r)); /* twice is fine */
    CHECK_STATUS(metricore_registry_close(NULL), METRICORE_STATUS_NULL_POINTER);

    /* Everything that takes the registry, its scope or their families is refused. */
    char *text = NULL;
    size_t len = 0;
    metricore_stats s;
    metricore_registry *scope2 = NULL;
    metricore_counter_family *f2 = NULL;
    CHECK_STATUS(metricore_registry_render_alloc(r, 0, &text, &len), METRICORE_STATUS_CLOSED);
    CHECK_ERROR_HAS("closed");
    CHECK_STATUS(metricore_registry_render(scope, 0, NULL, 0, &len), METRICORE_STATUS_CLOSED);
    CHECK_STATUS(metricore_registry_stats(r, &s), METRICORE_STATUS_CLOSED);
    CHECK_STATUS(metricore_registry_scope(r, METRICORE_LIT("x"), METRICORE_LIT("y"), &scope2),
                 METRICORE_STATUS_CLOSED);
    CHECK_STATUS(metricore_counter_family_new(scope, METRICORE_LIT("d"), METRICORE_LIT("D."), NULL, 0,
                                              NULL, &f2),
                 METRICORE_STATUS_CLOSED);
    CHECK_STATUS(metricore_counter_family_labels(f, NULL, 0, &c), METRICORE_STATUS_CLOSED);
    CHECK_STATUS(metricore_counter_family_inc_by(f, NULL, 0, 1), METRICORE_STATUS_CLOSED);
    CHECK_STATUS(metricore_counter_family_clear(f), METRICORE_STATUS_CLOSED);
    CHECK_STATUS(metricore_gauge_family_set(g, NULL, 0, 1.0), METRICORE_STATUS_CLOSED);
    CHECK(text == NULL && scope2 == NULL && f2 == NULL);

    /* Handles keep working until the registry is freed. */
    CHECK_OK(metricore_counter_inc(c));
    double v = 0;
    CHECK_OK(metricore_counter_get(c, &v));
    CHECK(v == 1.0);
    CHECK_OK(metricore_registry_free(scope));
    CHECK_OK(metricore_registry_free(r));
}

/* State for the collection callback: a gauge to refresh and a call count. */
struct collect_state {
    metricore_gauge gauge;
    int calls;
};

static void on_collect(void *user) {
    struct collect_state *st = (struct collect_state *)user;
    st->calls++;
    metricore_gauge_set(st->gauge, (double)st->calls * 10);
}

static void on_render(void *user, uint32_t format, metricore_text *text) {
    int *calls = (int *)user;
    (*calls)++;
    if (format == METRICORE_FORMAT_PROMETHEUS) {
        metricore_text_append(text, METRICORE_LIT("# TYPE backend_up gauge\nbackend_up 1\n"));
    } else {
        metricore_text_append(text, METRICORE_LIT("# TYPE backend_up gauge\nbackend_up 2\n"));
    }
    /* Invalid UTF-8 is refused and appends nothing. */
    metricore_str bad = {"\xff", 1};
    if (metricore_text_append(text, bad) != METRICORE_STATUS_INVALID_UTF8) {
        metricore_text_append(text, METRICORE_LIT("invalid UTF-8 was accepted\n"));
    }
}

void test_callbacks(void) {
    metricore_registry *r = test_registry();
    metricore_gauge_family *g = NULL;
    CHECK_OK(metricore_gauge_family_new(r, METRICORE_LIT("queue_depth"), METRICORE_LIT("Depth."), NULL,
                                        0, METRICORE_LIT(""), NULL, &g));
    struct collect_state st = {NULL, 0};
    CHECK_OK(metricore_gauge_family_labels(g, NULL, 0, &st.gauge));
    CHECK_OK(metricore_registry_on_collect(r, on_collect, &st));
    int render_calls = 0;
    CHECK_OK(metricore_registry_on_render(r, on_render, &render_calls));

    char *text = test_render(r, METRICORE_FORMAT_PROMETHEUS);
    CHECK(st.calls == 1 && render_calls == 1);
    CHECK_HAS(text, "queue_depth 10.0\n");
    CHECK_HAS(text, "backend_up 1\n");
    CHECK_LACKS(text, "invalid UTF-8");
    metricore_string_free(text);

    text = test_render(r, METRICORE_FORMAT_OPEN_METRICS);
    CHECK(st.calls == 2 && render_calls == 2);
    CHECK_HAS(text, "queue_depth 20.0\n");
    CHECK_HAS(text, "backend_up 2\n# EOF\n");
    metricore_string_free(text);

    CHECK_STATUS(metricore_registry_on_collect(r, NULL, NULL), METRICORE_STATUS_NULL_POINTER);
    CHECK_STATUS(metricore_registry_on_render(r, NULL, NULL), METRICORE_STATUS_NULL_POINTER);
    CHECK_STATUS(metricore_text_append(NULL, METRICORE_LIT("x")), METRICORE_STATUS_NULL_POINTER);
    CHECK_OK(metricore_registry_free(r));
}
