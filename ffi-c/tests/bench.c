/*
 * Nanoseconds per call of the hot paths through the C API: counter inc and histogram
 * observe on a resolved handle (one thread, then two threads on the same series), and
 * a three-label lookup plus increment without a handle. Each figure is the best of
 * several runs. Built and run by ffi-c/bench.sh.
 */
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <time.h>

#include "metricore.h"

enum { CALLS = 20000000, LOOKUPS = 2000000, RUNS = 5, THREADS = 2 };

static metricore_counter counter;
static metricore_histogram histogram;
static const metricore_counter_family *family;
static double values[1024];

static double now_ns(void) {
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return ts.tv_sec * 1e9 + ts.tv_nsec;
}

static void *inc_loop(void *arg) {
    (void)arg;
    for (int i = 0; i < CALLS; i++) {
        metricore_counter_inc(counter);
    }
    return NULL;
}

static void *observe_loop(void *arg) {
    (void)arg;
    for (int i = 0; i < CALLS; i++) {
        metricore_histogram_observe(histogram, values[i & 1023]);
    }
    return NULL;
}

static void *lookup_loop(void *arg) {
    (void)arg;
    metricore_str labels[3] = {METRICORE_LIT("gpt-4"), METRICORE_LIT("wechat"), METRICORE_LIT("200")};
    for (int i = 0; i < LOOKUPS; i++) {
        metricore_counter_family_inc_by(family, labels, 3, 1);
    }
    return NULL;
}

/* Best ns per call of `loop` run on `threads` threads at once, each doing `calls`. */
static double best(void *(*loop)(void *), int threads, int calls) {
    double best_ns = 1e30;
    for (int run = 0; run < RUNS; run++) {
        pthread_t t[THREADS];
        double start = now_ns();
        for (int i = 0; i < threads; i++) {
            pthread_create(&t[i], NULL, loop, NULL);
        }
        for (int i = 0; i < threads; i++) {
            pthread_join(t[i], NULL);
        }
        double ns = (now_ns() - start) / calls;
        if (ns < best_ns) {
            best_ns = ns;
        }
    }
    return best_ns;
}

static void check(metricore_status s, const char *what) {
    if (s != METRICORE_STATUS_OK) {
        fprintf(stderr, "%s: %s\n", what, metricore_last_error());
        exit(1);
    }
}

int main(void) {
    metricore_registry *r = NULL;
    check(metricore_registry_new(NULL, &r), "registry_new");
    metricore_counter_family *cf = NULL;
    check(metricore_counter_family_new(r, METRICORE_LIT("bench_requests"), METRICORE_LIT("Requests."), NULL, 0,
                                       NULL, &cf),
          "counter_family_new");
    check(metricore_counter_family_labels(cf, NULL, 0, &counter), "counter_family_labels");
    const double *bounds;
    size_t n;
    check(metricore_buckets_default(&bounds, &n), "buckets_default");
    metricore_histogram_family *hf = NULL;
    check(metricore_histogram_family_new(r, METRICORE_LIT("bench_latency"), METRICORE_LIT("Latency."), NULL, 0,
                                         bounds, n, NULL, &hf),
          "histogram_family_new");
    check(metricore_histogram_family_labels(hf, NULL, 0, &histogram), "histogram_family_labels");
    metricore_str names[3] = {METRICORE_LIT("model"), METRICORE_LIT("namespace"), METRICORE_LIT("status")};
    metricore_counter_family *lf = NULL;
    check(metricore_counter_family_new(r, METRICORE_LIT("bench_labelled"), METRICORE_LIT("Labelled."), names, 3,
                                       NULL, &lf),
          "counter_family_new");
    family = lf;
    unsigned x = 12345;
    for (int i = 0; i < 1024; i++) {
        x = x * 1103515245u + 12345u;
        values[i] = (x >> 8) % 12000 / 1000.0; /* 0 to 12 s, over all buckets */
    }

    printf("C API, ns per call (best of %d):\n", RUNS);
    printf("counter inc, 1 thread:            %6.2f\n", best(inc_loop, 1, CALLS));
    printf("counter inc, %d threads:           %6.2f\n", THREADS, best(inc_loop, THREADS, CALLS));
    printf("histogram observe, 1 thread:      %6.2f\n", best(observe_loop, 1, CALLS));
    printf("histogram observe, %d threads:     %6.2f\n", THREADS, best(observe_loop, THREADS, CALLS));
    printf("3-label lookup + inc, 1 thread:   %6.2f\n", best(lookup_loop, 1, LOOKUPS));
    check(metricore_registry_free(r), "registry_free");
    return 0;
}
