/*
 * The C process of the vanished-file tests: records into a shared registry file until
 * SIGTERM, through a handle resolved once (kept across moves of the registry) and
 * through a lookup per recording (which follows the registry to a new file).
 *
 *   recorder FILE
 *
 *   faults_held_total{lang="c"}     through the handle resolved at start
 *   faults_looked_total{lang="c"}   through a lookup per recording
 *
 * Prints "ready" once both exist.
 */
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "metricore.h"

static volatile sig_atomic_t stop;

static void on_term(int sig) {
    (void)sig;
    stop = 1;
}

static void check(metricore_status status, const char *what) {
    if (status != METRICORE_STATUS_OK) {
        fprintf(stderr, "recorder: %s failed (status %d): %s\n", what, (int)status,
                metricore_last_error());
        exit(1);
    }
}

int main(int argc, char **argv) {
    if (argc != 2) {
        fprintf(stderr, "usage: recorder FILE\n");
        return 2;
    }
    signal(SIGTERM, on_term);
    metricore_str path = {argv[1], strlen(argv[1])};
    metricore_registry *registry = NULL;
    check(metricore_registry_open_shared(path, NULL, &registry), "open_shared");
    metricore_str lang_name[] = {METRICORE_LIT("lang")};
    metricore_str lang[] = {METRICORE_LIT("c")};
    metricore_counter_family *held_family = NULL, *looked_family = NULL;
    check(metricore_counter_family_new(registry, METRICORE_LIT("faults_held"),
                                       METRICORE_LIT("Recorded through one handle."), lang_name,
                                       1, NULL, &held_family),
          "held family");
    check(metricore_counter_family_new(registry, METRICORE_LIT("faults_looked"),
                                       METRICORE_LIT("Recorded through a lookup each time."),
                                       lang_name, 1, NULL, &looked_family),
          "looked family");
    metricore_counter held = NULL, looked = NULL;
    check(metricore_counter_family_labels(held_family, lang, 1, &held), "held labels");
    check(metricore_counter_family_labels(looked_family, lang, 1, &looked), "looked labels");
    printf("ready\n");
    fflush(stdout);
    struct timespec pause = {0, 1000000L};
    while (!stop) {
        for (int i = 0; i < 100; i++) {
            check(metricore_counter_inc(held), "held inc");
            check(metricore_counter_family_labels(looked_family, lang, 1, &looked), "labels");
            check(metricore_counter_inc(looked), "looked inc");
        }
        nanosleep(&pause, NULL);
    }
    check(metricore_registry_free(registry), "free");
    printf("done\n");
    return 0;
}
