/* Recording from several pthreads at once: totals come out exact. */
#include <pthread.h>
#include <stdlib.h>

#include "harness.h"
#include "tests.h"

enum { THREADS = 4, ROUNDS = 100000 };

struct counters {
    metricore_counter ones, threes, halves;
};

static void *count(void *arg) {
    const struct counters *c = (const struct counters *)arg;
    for (int i = 0; i < ROUNDS; i++) {
        metricore_counter_inc(c->ones);
        if (i % 10 == 0) {
            metricore_counter_inc_by(c->threes, 3);
            metricore_counter_inc_by_f64(c->halves, 0.5);
        }
    }
    return NULL;
}

void test_threads_counter(void) {
    metricore_registry *r = test_registry();
    metricore_str labels[] = {METRICORE_LIT("kind")};
    metricore_counter_family *f = NULL;
    CHECK_OK(metricore_counter_family_new(r, METRICORE_LIT("work"), METRICORE_LIT("Work."), labels, 1, NULL, &f));
    struct counters c;
    metricore_str ones[] = {METRICORE_LIT("ones")}, threes[] = {METRICORE_LIT("threes")},
                  halves[] = {METRICORE_LIT("halves")};
    CHECK_OK(metricore_counter_family_labels(f, ones, 1, &c.ones));
    CHECK_OK(metricore_counter_family_labels(f, threes, 1, &c.threes));
    CHECK_OK(metricore_counter_family_labels(f, halves, 1, &c.halves));

    pthread_t t[THREADS];
    for (int i = 0; i < THREADS; i++) {
        CHECK(pthread_create(&t[i], NULL, count, &c) == 0);
    }
    for (int i = 0; i < THREADS; i++) {
        pthread_join(t[i], NULL);
    }
    double v = 0;
    CHECK_OK(metricore_counter_get(c.ones, &v));
    CHECK(v == (double)THREADS * ROUNDS);
    CHECK_OK(metricore_counter_get(c.threes, &v));
    CHECK(v == 3.0 * THREADS * (ROUNDS / 10));
    CHECK_OK(metricore_counter_get(c.halves, &v));
    CHECK(v == 0.5 * THREADS * (ROUNDS / 10));
    char *text = test_render(r, METRICORE_FORMAT_PROMETHEUS);
    CHECK_HAS(text, "work_total{kind=\"ones\"} 400000\n");
    CHECK_HAS(text, "work_total{kind=\"threes\"} 120000\n");
    CHECK_HAS(text, "work_total{kind=\"halves\"} 20000.0\n");
    metricore_string_free(text);
    CHECK_OK(metricore_registry_free(r));
}

struct observed {
    metricore_histogram histogram;
    metricore_summary summary;
    metricore_gauge gauge;
};

static void *observe(void *arg) {
    const struct observed *o = (const struct observed *)arg;
    for (int i = 0; i < ROUNDS; i++) {
        double v = (i % 4) * 0.25; /* 0, 0.25, 0.5, 0.75: sums are exact */
        metricore_histogram_observe(o->histogram, v);
        if (i % 4 == 0) {
            metricore_summary_observe(o->summary, v + 1);
            metricore_gauge_add(o->gauge, 2);
            metricore_gauge_dec(o->gauge);
        }
    }
    return NULL;
}

void test_threads_histogram_and_gauge(void) {
    metricore_registry *r = test_registry();
    const double bounds[] = {0.25, 0.5};
    metricore_histogram_family *hf = NULL;
    metricore_summary_family *sf = NULL;
    metricore_gauge_family *gf = NULL;
    CHECK_OK(metricore_histogram_family_new(r, METRICORE_LIT("h"), METRICORE_LIT("H."), NULL, 0, bounds, 2, NULL, &hf));
    CHECK_OK(metricore_summary_family_new(r, METRICORE_LIT("s"), METRICORE_LIT("S."), NULL, 0, NULL, &sf));
    CHECK_OK(metricore_gauge_family_new(r, METRICORE_LIT("g"), METRICORE_LIT("G."), NULL, 0, METRICORE_LIT(""),
                                        NULL, &gf));
    struct observed o;
    CHECK_OK(metricore_histogram_family_labels(hf, NULL, 0, &o.histogram));
    CHECK_OK(metricore_summary_family_labels(sf, NULL, 0, &o.summary));
    CHECK_OK(metricore_gauge_family_labels(gf, NULL, 0, &o.gauge));
    pthread_t t[THREADS];
    for (int i = 0; i < THREADS; i++) {
        CHECK(pthread_create(&t[i], NULL, observe, &o) == 0);
    }
    for (int i = 0; i < THREADS; i++) {
        pthread_join(t[i], NULL);
    }
    char *text = test_render(r, METRICORE_FORMAT_PROMETHEUS);
    /* Per thread: 25000 each of 0, 0.25, 0.5, 0.75. */
    CHECK_HAS(text, "h_bucket{le=\"0.25\"} 200000\n");
    CHECK_HAS(text, "h_bucket{le=\"0.5\"} 300000\n");
    CHECK_HAS(text, "h_bucket{le=\"+Inf\"} 400000\n");
    CHECK_HAS(text, "h_count 400000\n");
    CHECK_HAS(text, "h_sum 150000.0\n");
    CHECK_HAS(text, "s_count 100000\n");
    CHECK_HAS(text, "s_sum 100000.0\n");
    CHECK_HAS(text, "g 100000.0\n");
    metricore_string_free(text);
    CHECK_OK(metricore_registry_free(r));
}

struct resolving {
    const metricore_counter_family *family;
    metricore_counter handles[THREADS][8];
};

static const char *const MODELS[8] = {"a", "b", "c", "d", "e", "f", "g", "h"};

struct resolver_arg {
    struct resolving *shared;
    int index;
};

static void *resolve(void *arg) {
    const struct resolver_arg *a = (const struct resolver_arg *)arg;
    for (int round = 0; round < 2000; round++) {
        for (int m = 0; m < 8; m++) {
            metricore_str v[] = {test_str(MODELS[m])};
            metricore_counter_family_inc_by(a->shared->family, v, 1, 1);
        }
    }
    for (int m = 0; m < 8; m++) {
        metricore_str v[] = {test_str(MODELS[m])};
        metricore_counter_family_labels(a->shared->family, v, 1, &a->shared->handles[a->index][m]);
        metricore_counter_inc(a->shared->handles[a->index][m]);
    }
    return NULL;
}

void test_threads_resolve(void) {
    metricore_registry *r = test_registry();
    metricore_str labels[] = {METRICORE_LIT("model")};
    metricore_counter_family *f = NULL;
    CHECK_OK(metricore_counter_family_new(r, METRICORE_LIT("calls"), METRICORE_LIT("Calls."), labels, 1, NULL, &f));
    struct resolving shared;
    memset(&shared, 0, sizeof shared);
    shared.family = f;
    pthread_t t[THREADS];
    struct resolver_arg args[THREADS];
    for (int i = 0; i < THREADS; i++) {
        args[i].shared = &shared;
        args[i].index = i;
        CHECK(pthread_create(&t[i], NULL, resolve, &args[i]) == 0);
    }
    for (int i = 0; i < THREADS; i++) {
        pthread_join(t[i], NULL);
    }
    metricore_stats st;
    CHECK_OK(metricore_registry_stats(r, &st));
    CHECK(st.series == 8);
    for (int m = 0; m < 8; m++) {
        double v = 0;
        CHECK_OK(metricore_counter_get(shared.handles[0][m], &v));
        CHECK(v == THREADS * 2001.0);
        for (int i = 1; i < THREADS; i++) {
            double w = 0;
            CHECK_OK(metricore_counter_get(shared.handles[i][m], &w));
            CHECK(w == v);
            /* Resolved on several threads at once, still one handle per series. */
            CHECK(shared.handles[i][m] == shared.handles[0][m]);
        }
    }
    CHECK_OK(metricore_registry_free(r));
}

static void *fresh_thread(void *arg) {
    /* A thread starts with an empty message, whatever failed on other threads. */
    const char **seen = (const char **)arg;
    seen[0] = strdup(metricore_last_error());
    metricore_counter none = NULL;
    metricore_counter_inc(none);
    seen[1] = strdup(metricore_last_error());
    return NULL;
}

void test_last_error_is_per_thread(void) {
    metricore_registry *r = NULL;
    CHECK_STATUS(metricore_registry_new(NULL, NULL), METRICORE_STATUS_NULL_POINTER);
    const char *mine = metricore_last_error();
    CHECK(mine != NULL && strcmp(mine, "out is NULL") == 0);
    const char *seen[2] = {NULL, NULL};
    pthread_t t;
    CHECK(pthread_create(&t, NULL, fresh_thread, seen) == 0);
    pthread_join(t, NULL);
    CHECK(seen[0] != NULL && strcmp(seen[0], "") == 0);
    CHECK(seen[1] != NULL && strcmp(seen[1], "handle is NULL") == 0);
    free((void *)seen[0]);
    free((void *)seen[1]);
    /* This thread's message is unchanged, and successful calls leave it alone. */
    CHECK(strcmp(metricore_last_error(), "out is NULL") == 0);
    r = test_registry();
    CHECK(strcmp(metricore_last_error(), "out is NULL") == 0);
    CHECK_OK(metricore_registry_free(r));
}
