/*
 * The C process of the end-to-end scenario: records a known number of events from
 * several threads into a shared registry file, beside nginx workers, Python workers and
 * the Rust program (core/examples/e2e_recorder.rs), which defines the same families.
 *
 *   recorder FILE THREADS COUNT SECONDS
 *
 * Under lang="c", each thread records COUNT events, spread over SECONDS:
 *   recorder_events_total{lang, thread}   one per event
 *   recorder_batch_size{lang}             the i-th event of a thread observes i % 40
 *   recorder_cost_usd_total{lang}         0.125 per event
 *   recorder_threads_running{lang}        livesum gauge, 1 while a thread records
 * Prints "ready" once the families exist and "done N" at the end.
 */
#include <errno.h>
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "metricore.h"

#define LANG "c"
#define TICK_NS 10000000L

static void check(metricore_status status, const char *what) {
    if (status != METRICORE_STATUS_OK) {
        fprintf(stderr, "recorder: %s failed (status %d): %s\n", what, (int)status,
                metricore_last_error());
        exit(1);
    }
}

static metricore_counter_family *events;
static metricore_histogram_family *batch;
static metricore_counter_family *cost;
static metricore_gauge_family *running;
static unsigned long long count;
static long ticks;

struct worker {
    pthread_t thread;
    int index;
};

static void sleep_until(const struct timespec *t) {
    while (clock_nanosleep(CLOCK_MONOTONIC, TIMER_ABSTIME, t, NULL) == EINTR) {
    }
}

static void *work(void *arg) {
    struct worker *w = arg;
    char thread_name[16];
    snprintf(thread_name, sizeof thread_name, "%d", w->index);

    metricore_str event_labels[] = {METRICORE_LIT(LANG), {thread_name, strlen(thread_name)}};
    metricore_str lang[] = {METRICORE_LIT(LANG)};
    metricore_counter ev = {0}, usd = {0};
    metricore_histogram size = {0};
    metricore_gauge busy = {0};
    check(metricore_counter_family_labels(events, event_labels, 2, &ev), "events labels");
    check(metricore_histogram_family_labels(batch, lang, 1, &size), "batch labels");
    check(metricore_counter_family_labels(cost, lang, 1, &usd), "cost labels");
    check(metricore_gauge_family_labels(running, lang, 1, &busy), "running labels");

    check(metricore_gauge_inc(busy), "gauge inc");
    /* Each tick brings the thread to count x tick / ticks events. */
    struct timespec next;
    clock_gettime(CLOCK_MONOTONIC, &next);
    unsigned long long done = 0;
    for (long tick = 1; tick <= ticks; tick++) {
        unsigned long long target = count * (unsigned long long)tick / (unsigned long long)ticks;
        for (unsigned long long i = done; i < target; i++) {
            check(metricore_counter_inc(ev), "counter inc");
            check(metricore_histogram_observe(size, (double)(i % 40)), "observe");
            check(metricore_counter_inc_by_f64(usd, 0.125), "counter inc_by_f64");
        }
        done = target;
        next.tv_nsec += TICK_NS;
        if (next.tv_nsec >= 1000000000L) {
            next.tv_nsec -= 1000000000L;
            next.tv_sec += 1;
        }
        sleep_until(&next);
    }
    check(metricore_gauge_dec(busy), "gauge dec");
    return NULL;
}

int main(int argc, char **argv) {
    if (argc != 5) {
        fprintf(stderr, "usage: recorder FILE THREADS COUNT SECONDS\n");
        return 2;
    }
    int threads = atoi(argv[2]);
    count = strtoull(argv[3], NULL, 10);
    double seconds = atof(argv[4]);
    ticks = (long)(seconds * 1e9 / TICK_NS + 0.5);
    if (threads < 1 || ticks < 1) {
        fprintf(stderr, "recorder: THREADS and SECONDS must be positive\n");
        return 2;
    }

    metricore_registry *registry = NULL;
    metricore_str path = {argv[1], strlen(argv[1])};
    check(metricore_registry_open_shared(path, NULL, &registry), "open_shared");

    metricore_str event_names[] = {METRICORE_LIT("lang"), METRICORE_LIT("thread")};
    metricore_str lang_name[] = {METRICORE_LIT("lang")};
    check(metricore_counter_family_new(registry, METRICORE_LIT("recorder_events"),
                                       METRICORE_LIT("Events recorded by the C and Rust programs."),
                                       event_names, 2, NULL, &events),
          "recorder_events");
    const double bounds[] = {1, 2, 4, 8, 16, 32};
    check(metricore_histogram_family_new(registry, METRICORE_LIT("recorder_batch_size"),
                                         METRICORE_LIT("Batch sizes seen by the C and Rust programs."),
                                         lang_name, 1, bounds, 6, NULL, &batch),
          "recorder_batch_size");
    check(metricore_counter_family_new(registry, METRICORE_LIT("recorder_cost_usd"),
                                       METRICORE_LIT("Cost of the events, in USD."), lang_name, 1,
                                       NULL, &cost),
          "recorder_cost_usd");
    check(metricore_gauge_family_new(registry, METRICORE_LIT("recorder_threads_running"),
                                     METRICORE_LIT("Threads recording now."), lang_name, 1,
                                     METRICORE_LIT("livesum"), NULL, &running),
          "recorder_threads_running");
    printf("ready\n");
    fflush(stdout);

    struct worker *workers = calloc((size_t)threads, sizeof *workers);
    if (!workers) {
        fprintf(stderr, "recorder: out of memory\n");
        return 1;
    }
    for (int t = 0; t < threads; t++) {
        workers[t].index = t;
        if (pthread_create(&workers[t].thread, NULL, work, &workers[t]) != 0) {
            fprintf(stderr, "recorder: pthread_create failed\n");
            return 1;
        }
    }
    for (int t = 0; t < threads; t++) {
        pthread_join(workers[t].thread, NULL);
    }
    free(workers);
    check(metricore_registry_free(registry), "registry_free");
    printf("done %llu\n", (unsigned long long)threads * count);
    return 0;
}
