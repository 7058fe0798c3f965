/* Bad input: each kind gets its own status code and a message, never a crash. */
#include <math.h>
#include <stdlib.h>

#include "harness.h"
#include "tests.h"

void test_null_pointers(void) {
    metricore_registry *r = test_registry();
    metricore_counter_family *cf = NULL;
    CHECK_OK(metricore_counter_family_new(r, METRICORE_LIT("n"), METRICORE_LIT("N."), NULL, 0, NULL, &cf));

    /* NULL objects and out parameters. */
    CHECK_STATUS(metricore_options_init(NULL), METRICORE_STATUS_NULL_POINTER);
    CHECK_ERROR_HAS("out is NULL");
    CHECK_STATUS(metricore_registry_new(NULL, NULL), METRICORE_STATUS_NULL_POINTER);
    CHECK_STATUS(metricore_registry_stats(NULL, NULL), METRICORE_STATUS_NULL_POINTER);
    CHECK_ERROR_HAS("registry is NULL");
    metricore_counter_family *f = NULL;
    CHECK_STATUS(metricore_counter_family_new(NULL, METRICORE_LIT("x"), METRICORE_LIT("X."), NULL, 0, NULL, &f),
                 METRICORE_STATUS_NULL_POINTER);
    CHECK_STATUS(metricore_counter_family_new(r, METRICORE_LIT("x"), METRICORE_LIT("X."), NULL, 0, NULL, NULL),
                 METRICORE_STATUS_NULL_POINTER);
    metricore_gauge_family *gf = NULL;
    CHECK_STATUS(metricore_gauge_family_new(r, METRICORE_LIT("x"), METRICORE_LIT("X."), NULL, 0,
                                            METRICORE_LIT(""), NULL, NULL),
                 METRICORE_STATUS_NULL_POINTER);
    CHECK_STATUS(metricore_summary_family_new(NULL, METRICORE_LIT("x"), METRICORE_LIT("X."), NULL, 0, NULL, NULL),
                 METRICORE_STATUS_NULL_POINTER);
    CHECK_STATUS(metricore_info_family_new(r, METRICORE_LIT("x"), METRICORE_LIT("X."), NULL, 0, NULL, NULL),
                 METRICORE_STATUS_NULL_POINTER);
    CHECK(gf == NULL && f == NULL);

    metricore_counter c;
    CHECK_STATUS(metricore_counter_family_labels(NULL, NULL, 0, &c), METRICORE_STATUS_NULL_POINTER);
    CHECK_ERROR_HAS("family is NULL");
    CHECK_STATUS(metricore_counter_family_labels(cf, NULL, 0, NULL), METRICORE_STATUS_NULL_POINTER);
    CHECK_STATUS(metricore_gauge_family_labels(NULL, NULL, 0, NULL), METRICORE_STATUS_NULL_POINTER);
    CHECK_STATUS(metricore_histogram_family_labels(NULL, NULL, 0, NULL), METRICORE_STATUS_NULL_POINTER);
    CHECK_STATUS(metricore_summary_family_labels(NULL, NULL, 0, NULL), METRICORE_STATUS_NULL_POINTER);
    CHECK_STATUS(metricore_state_set_family_labels(NULL, NULL, 0, NULL), METRICORE_STATUS_NULL_POINTER);
    CHECK_STATUS(metricore_counter_family_clear(NULL), METRICORE_STATUS_NULL_POINTER);
    CHECK_STATUS(metricore_gauge_family_clear(NULL), METRICORE_STATUS_NULL_POINTER);
    CHECK_STATUS(metricore_histogram_family_clear(NULL), METRICORE_STATUS_NULL_POINTER);
    CHECK_STATUS(metricore_summary_family_clear(NULL), METRICORE_STATUS_NULL_POINTER);
    CHECK_STATUS(metricore_state_set_family_clear(NULL), METRICORE_STATUS_NULL_POINTER);
    CHECK_STATUS(metricore_counter_family_remove(NULL, NULL, 0, NULL), METRICORE_STATUS_NULL_POINTER);
    CHECK_STATUS(metricore_counter_family_inc_by(NULL, NULL, 0, 1), METRICORE_STATUS_NULL_POINTER);
    CHECK_STATUS(metricore_counter_family_inc_by_f64(NULL, NULL, 0, 1), METRICORE_STATUS_NULL_POINTER);
    CHECK_STATUS(metricore_gauge_family_set(NULL, NULL, 0, 1), METRICORE_STATUS_NULL_POINTER);
    CHECK_STATUS(metricore_gauge_family_add(NULL, NULL, 0, 1), METRICORE_STATUS_NULL_POINTER);
    CHECK_STATUS(metricore_histogram_family_observe(NULL, NULL, 0, 1), METRICORE_STATUS_NULL_POINTER);
    CHECK_STATUS(metricore_summary_family_observe(NULL, NULL, 0, 1), METRICORE_STATUS_NULL_POINTER);
    CHECK_STATUS(metricore_state_set_family_set(NULL, NULL, 0, METRICORE_LIT("a")), METRICORE_STATUS_NULL_POINTER);

    /* A label array or string with a length but no pointer. */
    CHECK_STATUS(metricore_counter_family_labels(cf, NULL, 2, &c), METRICORE_STATUS_NULL_POINTER);
    CHECK_ERROR_HAS("label_values: NULL array with length 2");
    metricore_str dangling = {NULL, 3};
    CHECK_STATUS(metricore_counter_family_new(r, dangling, METRICORE_LIT("X."), NULL, 0, NULL, &f),
                 METRICORE_STATUS_NULL_POINTER);
    CHECK_ERROR_HAS("name: NULL pointer with length 3");

    /* NULL handles. */
    metricore_counter zc = NULL;
    metricore_gauge zg = NULL;
    metricore_histogram zh = NULL;
    metricore_summary zs = NULL;
    metricore_state_set zss = NULL;
    double d;
    metricore_str s;
    CHECK_STATUS(metricore_counter_inc(zc), METRICORE_STATUS_NULL_POINTER);
    CHECK_ERROR_HAS("handle is NULL");
    CHECK_STATUS(metricore_counter_inc_by(zc, 1), METRICORE_STATUS_NULL_POINTER);
    CHECK_STATUS(metricore_counter_inc_by_f64(zc, 1), METRICORE_STATUS_NULL_POINTER);
    CHECK_STATUS(metricore_counter_get(zc, &d), METRICORE_STATUS_NULL_POINTER);
    CHECK_STATUS(metricore_gauge_set(zg, 1), METRICORE_STATUS_NULL_POINTER);
    CHECK_STATUS(metricore_gauge_add(zg, 1), METRICORE_STATUS_NULL_POINTER);
    CHECK_STATUS(metricore_gauge_sub(zg, 1), METRICORE_STATUS_NULL_POINTER);
    CHECK_STATUS(metricore_gauge_inc(zg), METRICORE_STATUS_NULL_POINTER);
    CHECK_STATUS(metricore_gauge_dec(zg), METRICORE_STATUS_NULL_POINTER);
    CHECK_STATUS(metricore_gauge_set_to_current_time(zg), METRICORE_STATUS_NULL_POINTER);
    CHECK_STATUS(metricore_gauge_get(zg, &d), METRICORE_STATUS_NULL_POINTER);
    CHECK_STATUS(metricore_histogram_observe(zh, 1), METRICORE_STATUS_NULL_POINTER);
    CHECK_STATUS(metricore_summary_observe(zs, 1), METRICORE_STATUS_NULL_POINTER);
    CHECK_STATUS(metricore_state_set_set(zss, METRICORE_LIT("a")), METRICORE_STATUS_NULL_POINTER);
    CHECK_STATUS(metricore_state_set_get(zss, &s), METRICORE_STATUS_NULL_POINTER);

    /* NULL out parameters of getters. */
    CHECK_OK(metricore_counter_family_labels(cf, NULL, 0, &c));
    CHECK_STATUS(metricore_counter_get(c, NULL), METRICORE_STATUS_NULL_POINTER);
    CHECK_OK(metricore_registry_free(r));
}

void test_invalid_utf8(void) {
    metricore_registry *r = test_registry();
    metricore_str bad = {"ok\xc3\x28", 4};
    metricore_counter_family *f = NULL;
    CHECK_STATUS(metricore_counter_family_new(r, bad, METRICORE_LIT("X."), NULL, 0, NULL, &f),
                 METRICORE_STATUS_INVALID_UTF8);
    CHECK_ERROR_HAS("name is not valid UTF-8");
    CHECK_STATUS(metricore_counter_family_new(r, METRICORE_LIT("x"), bad, NULL, 0, NULL, &f),
                 METRICORE_STATUS_INVALID_UTF8);
    CHECK_ERROR_HAS("help is not valid UTF-8");
    metricore_str labels[] = {METRICORE_LIT("a"), bad};
    CHECK_STATUS(metricore_counter_family_new(r, METRICORE_LIT("x"), METRICORE_LIT("X."), labels, 2, NULL, &f),
                 METRICORE_STATUS_INVALID_UTF8);
    CHECK_ERROR_HAS("label_names[1]");
    CHECK(f == NULL);

    CHECK_OK(metricore_counter_family_new(r, METRICORE_LIT("x"), METRICORE_LIT("X."), labels, 1, NULL, &f));
    metricore_str values[] = {bad};
    metricore_counter c = NULL;
    CHECK_STATUS(metricore_counter_family_labels(f, values, 1, &c), METRICORE_STATUS_INVALID_UTF8);
    CHECK_ERROR_HAS("label_values[0]");
    CHECK(c == NULL);
    CHECK_STATUS(metricore_counter_family_inc_by(f, values, 1, 1), METRICORE_STATUS_INVALID_UTF8);
    CHECK_STATUS(metricore_counter_family_remove(f, values, 1, NULL), METRICORE_STATUS_INVALID_UTF8);

    metricore_registry *scope = NULL;
    CHECK_STATUS(metricore_registry_scope(r, METRICORE_LIT("a"), bad, &scope), METRICORE_STATUS_INVALID_UTF8);
    CHECK_ERROR_HAS("scope value");
    CHECK_STATUS(metricore_registry_scope(r, bad, METRICORE_LIT("a"), &scope), METRICORE_STATUS_INVALID_UTF8);
    uint32_t fmt;
    CHECK_STATUS(metricore_format_from_accept(bad, &fmt), METRICORE_STATUS_INVALID_UTF8);
    metricore_gauge_family *g = NULL;
    CHECK_STATUS(metricore_gauge_family_new(r, METRICORE_LIT("g"), METRICORE_LIT("G."), NULL, 0, bad, NULL, &g),
                 METRICORE_STATUS_INVALID_UTF8);
    CHECK_ERROR_HAS("mode");
    /* Valid UTF-8 with a NUL byte is a valid label value. */
    metricore_str nul[] = {{"a\0b", 3}};
    CHECK_OK(metricore_counter_family_labels(f, nul, 1, &c));
    CHECK_OK(metricore_counter_inc(c));
    size_t len = 0;
    char *text = NULL;
    CHECK_OK(metricore_registry_render_alloc(r, METRICORE_FORMAT_PROMETHEUS, &text, &len));
    CHECK(len > strlen(text)); /* the NUL is in the text */
    metricore_string_free(text);
    CHECK_OK(metricore_registry_free(r));
}

void test_label_counts(void) {
    metricore_registry *r = test_registry();
    metricore_str labels[] = {METRICORE_LIT("a"), METRICORE_LIT("b")};
    metricore_counter_family *f = NULL;
    CHECK_OK(metricore_counter_family_new(r, METRICORE_LIT("x"), METRICORE_LIT("X."), labels, 2, NULL, &f));
    metricore_str v[20];
    for (int i = 0; i < 20; i++) {
        v[i] = METRICORE_LIT("v");
    }
    metricore_counter c = NULL;
    CHECK_STATUS(metricore_counter_family_labels(f, v, 1, &c), METRICORE_STATUS_LABEL_COUNT);
    CHECK_ERROR_HAS("expects 2 label values, got 1");
    CHECK_STATUS(metricore_counter_family_labels(f, v, 3, &c), METRICORE_STATUS_LABEL_COUNT);
    CHECK_STATUS(metricore_counter_family_labels(f, v, 20, &c), METRICORE_STATUS_LABEL_COUNT);
    CHECK_ERROR_HAS("got 20");
    CHECK(c == NULL);

    /* A scope's labels are not passed again. */
    metricore_registry *scope = NULL;
    CHECK_OK(metricore_registry_scope(r, METRICORE_LIT("zone"), METRICORE_LIT("eu"), &scope));
    metricore_gauge_family *g = NULL;
    CHECK_OK(metricore_gauge_family_new(scope, METRICORE_LIT("g"), METRICORE_LIT("G."), labels, 1,
                                        METRICORE_LIT(""), NULL, &g));
    metricore_gauge h;
    CHECK_STATUS(metricore_gauge_family_labels(g, v, 2, &h), METRICORE_STATUS_LABEL_COUNT);
    CHECK_OK(metricore_gauge_family_labels(g, v, 1, &h));
    CHECK_STATUS(metricore_gauge_family_set(g, v, 0, 1), METRICORE_STATUS_LABEL_COUNT);

    /* Too many label names for a family. */
    metricore_str many[17];
    char names[17][4];
    for (int i = 0; i < 17; i++) {
        snprintf(names[i], sizeof names[i], "l%d", i);
        many[i] = test_str(names[i]);
    }
    metricore_counter_family *f2 = NULL;
    CHECK_STATUS(metricore_counter_family_new(r, METRICORE_LIT("wide"), METRICORE_LIT("W."), many, 17, NULL, &f2),
                 METRICORE_STATUS_TOO_MANY_LABELS);
    CHECK_OK(metricore_counter_family_new(r, METRICORE_LIT("wide"), METRICORE_LIT("W."), many, 16, NULL, &f2));
    /* With the scope's label, 16 own labels are one too many. */
    CHECK_STATUS(metricore_counter_family_new(scope, METRICORE_LIT("wide2"), METRICORE_LIT("W."), many, 16,
                                              NULL, &f2),
                 METRICORE_STATUS_TOO_MANY_LABELS);
    CHECK_OK(metricore_registry_free(scope));
    CHECK_OK(metricore_registry_free(r));
}

void test_invalid_names_and_conflicts(void) {
    metricore_registry *r = test_registry();
    metricore_counter_family *f = NULL;
    CHECK_STATUS(metricore_counter_family_new(r, METRICORE_LIT(""), METRICORE_LIT("X."), NULL, 0, NULL, &f),
                 METRICORE_STATUS_INVALID_NAME);
    CHECK_ERROR_HAS("invalid metric name \"\"");
    CHECK_STATUS(metricore_counter_family_new(r, METRICORE_LIT("metricore_mine"), METRICORE_LIT("X."), NULL, 0,
                                              NULL, &f),
                 METRICORE_STATUS_INVALID_NAME);
    metricore_str bad_label[] = {METRICORE_LIT("__a")};
    CHECK_STATUS(metricore_counter_family_new(r, METRICORE_LIT("x"), METRICORE_LIT("X."), bad_label, 1, NULL, &f),
                 METRICORE_STATUS_INVALID_NAME);
    metricore_str dup[] = {METRICORE_LIT("a"), METRICORE_LIT("a")};
    CHECK_STATUS(metricore_counter_family_new(r, METRICORE_LIT("x"), METRICORE_LIT("X."), dup, 2, NULL, &f),
                 METRICORE_STATUS_DUPLICATE_LABEL);
    CHECK(f == NULL);

    /* The same name as another kind, or with other labels. */
    CHECK_OK(metricore_counter_family_new(r, METRICORE_LIT("x"), METRICORE_LIT("X."), NULL, 0, NULL, &f));
    metricore_gauge_family *g = NULL;
    CHECK_STATUS(metricore_gauge_family_new(r, METRICORE_LIT("x"), METRICORE_LIT("X."), NULL, 0,
                                            METRICORE_LIT(""), NULL, &g),
                 METRICORE_STATUS_CONFLICT);
    CHECK_ERROR_HAS("already registered");
    CHECK_STATUS(metricore_counter_family_new(r, METRICORE_LIT("x"), METRICORE_LIT("X."), dup, 1, NULL, &f),
                 METRICORE_STATUS_CONFLICT);
    CHECK(g == NULL);

    /* Any other UTF-8 name is accepted; a scraper that does not ask for UTF-8 names
     * gets them with underscores. */
    metricore_counter_family *u = NULL;
    metricore_str dotted[] = {METRICORE_LIT("http.method")};
    CHECK_OK(metricore_counter_family_new(r, METRICORE_LIT("http.requests"), METRICORE_LIT("R."), dotted, 1, NULL,
                                          &u));
    metricore_str get[] = {METRICORE_LIT("GET")};
    metricore_counter uc;
    CHECK_OK(metricore_counter_family_labels(u, get, 1, &uc));
    CHECK_OK(metricore_counter_inc(uc));
    char *text = test_render(r, METRICORE_FORMAT_PROMETHEUS);
    CHECK_HAS(text, "\nhttp_requests_total{http_method=\"GET\"} 1\n");
    metricore_string_free(text);
    CHECK_OK(metricore_registry_free(r));
}

void test_invalid_values(void) {
    metricore_registry *r = test_registry();
    metricore_counter_family *f = NULL;
    CHECK_OK(metricore_counter_family_new(r, METRICORE_LIT("x"), METRICORE_LIT("X."), NULL, 0, NULL, &f));
    metricore_counter c;
    CHECK_OK(metricore_counter_family_labels(f, NULL, 0, &c));
    CHECK_STATUS(metricore_counter_inc_by_f64(c, -INFINITY), METRICORE_STATUS_INVALID_VALUE);
    CHECK_ERROR_HAS("refused");
    metricore_summary_family *sf = NULL;
    CHECK_OK(metricore_summary_family_new(r, METRICORE_LIT("s"), METRICORE_LIT("S."), NULL, 0, NULL, &sf));
    metricore_summary s;
    CHECK_OK(metricore_summary_family_labels(sf, NULL, 0, &s));
    CHECK_STATUS(metricore_summary_observe(s, NAN), METRICORE_STATUS_INVALID_VALUE);
    /* Infinities are observed. */
    CHECK_OK(metricore_summary_observe(s, INFINITY));
    metricore_stats st;
    CHECK_OK(metricore_registry_stats(r, &st));
    CHECK(st.errors == 2);
    CHECK_OK(metricore_registry_free(r));
}

void test_overflow(void) {
    metricore_registry *r = test_registry();
    metricore_str labels[] = {METRICORE_LIT("user")};
    metricore_family_options o = {{NULL, 0}, 3, 0};
    metricore_counter_family *f = NULL;
    CHECK_OK(metricore_counter_family_new(r, METRICORE_LIT("logins"), METRICORE_LIT("Logins."), labels, 1, &o, &f));
    char name[16];
    for (int i = 0; i < 5; i++) {
        snprintf(name, sizeof name, "u%d", i);
        metricore_str v[] = {test_str(name)};
        CHECK_OK(metricore_counter_family_inc_by(f, v, 1, 1));
    }
    char *text = test_render(r, METRICORE_FORMAT_PROMETHEUS);
    CHECK_HAS(text, "logins_total{user=\"u2\"} 1\n");
    CHECK_LACKS(text, "user=\"u3\"");
    CHECK_HAS(text, "logins_total{otel_metric_overflow=\"true\"} 2\n");
    metricore_string_free(text);
    metricore_stats st;
    CHECK_OK(metricore_registry_stats(r, &st));
    CHECK(st.overflows == 2);
    CHECK_OK(metricore_registry_free(r));
}
