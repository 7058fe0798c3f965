/* Shared registry files: several registries and processes record into one file. */
#include <fcntl.h>
#include <stdlib.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <unistd.h>

#include "harness.h"
#include "tests.h"

/* A file name under the temporary directory, unique to this process and `tag`. */
static void temp_path(char *out, size_t size, const char *tag) {
    const char *dir = getenv("TMPDIR");
    snprintf(out, size, "%s/metricore-ctest-%d-%s", dir && *dir ? dir : "/tmp", (int)getpid(), tag);
    unlink(out);
}

static metricore_options small_options(void) {
    metricore_options o;
    memset(&o, 0, sizeof o);
    o.shards = 2;
    o.cells_per_shard = 4096;
    o.series_capacity = 256;
    o.family_capacity = 16;
    o.process_capacity = 16;
    o.arena_bytes = 1 << 16;
    return o;
}

void test_shared_file(void) {
    char path[256];
    temp_path(path, sizeof path, "file");
    metricore_options o = small_options();
    o.file_mode = 0640;
    metricore_registry *a = NULL, *b = NULL, *c = NULL;
    CHECK_OK(metricore_registry_open_shared(test_str(path), &o, &a));
    struct stat st;
    CHECK(stat(path, &st) == 0 && (st.st_mode & 0777) == 0640);
    /* Opening again finds the file, whatever the options say. */
    CHECK_OK(metricore_registry_open_shared(test_str(path), NULL, &b));
    CHECK_OK(metricore_registry_open_existing(test_str(path), &c));
    metricore_stats s;
    CHECK_OK(metricore_registry_stats(c, &s));
    CHECK(s.shards == 2 && s.series_capacity == 256);

    metricore_str labels[] = {METRICORE_LIT("model")};
    metricore_str v[] = {METRICORE_LIT("gpt-4")};
    metricore_counter_family *fa = NULL, *fb = NULL;
    CHECK_OK(metricore_counter_family_new(a, METRICORE_LIT("jobs"), METRICORE_LIT("Jobs."), labels, 1, NULL, &fa));
    CHECK_OK(metricore_counter_family_new(b, METRICORE_LIT("jobs"), METRICORE_LIT("Jobs."), labels, 1, NULL, &fb));
    metricore_counter ca, cb;
    CHECK_OK(metricore_counter_family_labels(fa, v, 1, &ca));
    CHECK_OK(metricore_counter_family_labels(fb, v, 1, &cb));
    CHECK_OK(metricore_counter_inc_by(ca, 2));
    CHECK_OK(metricore_counter_inc(cb));
    char *text = test_render(c, METRICORE_FORMAT_PROMETHEUS);
    CHECK_HAS(text, "jobs_total{model=\"gpt-4\"} 3\n");
    metricore_string_free(text);
    CHECK_OK(metricore_registry_free(a));
    CHECK_OK(metricore_registry_free(b));
    CHECK_OK(metricore_registry_free(c));

    /* The values outlive every process that had the file open. */
    CHECK_OK(metricore_registry_open_existing(test_str(path), &a));
    text = test_render(a, METRICORE_FORMAT_OPEN_METRICS);
    CHECK_HAS(text, "jobs_total{model=\"gpt-4\"} 3\n");
    metricore_string_free(text);
    CHECK_OK(metricore_registry_free(a));
    unlink(path);
}

enum { CHILDREN = 3, CHILD_ROUNDS = 20000 };

/* A child process: opens the file, records, exits with the number of failures. */
static int child(const char *path) {
    metricore_registry *r = NULL;
    if (metricore_registry_open_existing(test_str(path), &r) != METRICORE_STATUS_OK) {
        return 1;
    }
    metricore_counter_family *f = NULL;
    metricore_histogram_family *hf = NULL;
    const double bounds[] = {1};
    int bad = 0;
    bad += metricore_counter_family_new(r, METRICORE_LIT("work"), METRICORE_LIT("Work."), NULL, 0, NULL, &f) != 0;
    bad += metricore_histogram_family_new(r, METRICORE_LIT("size"), METRICORE_LIT("Size."), NULL, 0, bounds, 1,
                                          NULL, &hf) != 0;
    metricore_counter c = NULL;
    metricore_histogram h = NULL;
    bad += metricore_counter_family_labels(f, NULL, 0, &c) != 0;
    bad += metricore_histogram_family_labels(hf, NULL, 0, &h) != 0;
    for (int i = 0; i < CHILD_ROUNDS; i++) {
        bad += metricore_counter_inc(c) != 0;
        bad += metricore_histogram_observe(h, i % 2 ? 0.5 : 2) != 0;
    }
    bad += metricore_registry_free(r) != 0;
    return bad;
}

void test_shared_fork(void) {
    char path[256];
    temp_path(path, sizeof path, "fork");
    metricore_options o = small_options();
    metricore_registry *r = NULL;
    CHECK_OK(metricore_registry_open_shared(test_str(path), &o, &r));
    metricore_counter_family *f = NULL;
    CHECK_OK(metricore_counter_family_new(r, METRICORE_LIT("work"), METRICORE_LIT("Work."), NULL, 0, NULL, &f));
    metricore_counter c;
    CHECK_OK(metricore_counter_family_labels(f, NULL, 0, &c));
    CHECK_OK(metricore_counter_inc_by(c, 5));

    fflush(NULL);
    pid_t pids[CHILDREN];
    for (int i = 0; i < CHILDREN; i++) {
        pids[i] = fork();
        if (pids[i] == 0) {
            _exit(child(path));
        }
        CHECK(pids[i] > 0);
    }
    for (int i = 0; i < CHILDREN; i++) {
        int status = 0;
        CHECK(waitpid(pids[i], &status, 0) == pids[i]);
        CHECK(WIFEXITED(status) && WEXITSTATUS(status) == 0);
    }
    double v = 0;
    CHECK_OK(metricore_counter_get(c, &v));
    CHECK(v == 5.0 + CHILDREN * CHILD_ROUNDS);
    char *text = test_render(r, METRICORE_FORMAT_PROMETHEUS);
    CHECK_HAS(text, "work_total 60005\n");
    CHECK_HAS(text, "size_bucket{le=\"1.0\"} 30000\n");
    CHECK_HAS(text, "size_count 60000\n");
    CHECK_HAS(text, "size_sum 75000.0\n");
    metricore_string_free(text);
    metricore_stats s;
    CHECK_OK(metricore_registry_stats(r, &s));
    CHECK(s.processes_alive >= 1);
    CHECK_OK(metricore_registry_free(r));
    unlink(path);
}

void test_shared_follow_file(void) {
    char path[256];
    temp_path(path, sizeof path, "follow");
    metricore_options o = small_options();
    metricore_registry *r = NULL;
    CHECK_OK(metricore_registry_open_shared(test_str(path), &o, &r));
    metricore_str label[] = {METRICORE_LIT("k")}, value[] = {METRICORE_LIT("a")};
    metricore_counter_family *f = NULL;
    CHECK_OK(metricore_counter_family_new(r, METRICORE_LIT("jobs"), METRICORE_LIT("Jobs."), label, 1, NULL, &f));
    metricore_counter before = NULL, after = NULL;
    CHECK_OK(metricore_counter_family_labels(f, value, 1, &before));
    uint64_t generation = 99;
    CHECK_OK(metricore_registry_follow_file(r, &generation));
    CHECK(generation == 0);

    /* The file is removed: the registry makes a new one and moves there. */
    CHECK(unlink(path) == 0);
    CHECK_OK(metricore_registry_follow_file(r, &generation));
    CHECK(generation == 1);
    CHECK_OK(metricore_registry_follow_file(r, NULL));
    CHECK_OK(metricore_counter_family_labels(f, value, 1, &after));
    CHECK(after != before);
    CHECK_OK(metricore_counter_inc_by(after, 3));
    CHECK_OK(metricore_counter_inc_by(before, 5)); /* into the old file: lost */
    metricore_registry *reader = NULL;
    CHECK_OK(metricore_registry_open_existing(test_str(path), &reader));
    CHECK_OK(metricore_registry_follow_file(r, NULL)); /* counts what the old file got */
    char *text = test_render(reader, METRICORE_FORMAT_PROMETHEUS);
    CHECK_HAS(text, "jobs_total{k=\"a\"} 3\n");
    CHECK_HAS(text, "metricore_lost_recordings_total 5\n");
    metricore_string_free(text);
    CHECK_OK(metricore_registry_free(reader));
    CHECK_OK(metricore_registry_free(r));

    /* An in-process registry has no file to follow. */
    CHECK_OK(metricore_registry_new(NULL, &r));
    CHECK_OK(metricore_registry_follow_file(r, &generation));
    CHECK(generation == 0);
    CHECK_OK(metricore_registry_free(r));
    CHECK_STATUS(metricore_registry_follow_file(NULL, &generation), METRICORE_STATUS_NULL_POINTER);
    unlink(path);
}

/* Writes `len` bytes of `data` to a new file at `path`. */
static void write_file(const char *path, const void *data, size_t len) {
    int fd = open(path, O_CREAT | O_TRUNC | O_WRONLY, 0600);
    CHECK(fd >= 0);
    CHECK(write(fd, data, len) == (ssize_t)len);
    close(fd);
}

/* Overwrites the 8-byte word `index` of the file at `path` with `value`. */
static void patch_word(const char *path, int index, uint64_t value) {
    int fd = open(path, O_WRONLY);
    CHECK(fd >= 0);
    CHECK(pwrite(fd, &value, sizeof value, (off_t)index * 8) == 8);
    close(fd);
}

void test_shared_bad_files(void) {
    char path[256], link_path[300];
    temp_path(path, sizeof path, "bad");
    metricore_registry *r = NULL;

    /* Missing, empty name, NULL name. */
    CHECK_STATUS(metricore_registry_open_existing(test_str(path), &r), METRICORE_STATUS_IO);
    CHECK_ERROR_HAS(path);
    metricore_str empty = {"", 0}, dangling = {NULL, 4};
    CHECK_STATUS(metricore_registry_open_existing(empty, &r), METRICORE_STATUS_INVALID_ARGUMENT);
    CHECK_STATUS(metricore_registry_open_shared(empty, NULL, &r), METRICORE_STATUS_INVALID_ARGUMENT);
    CHECK_STATUS(metricore_registry_open_shared(dangling, NULL, &r), METRICORE_STATUS_NULL_POINTER);
    CHECK_STATUS(metricore_registry_open_shared(test_str(path), NULL, NULL), METRICORE_STATUS_NULL_POINTER);
    CHECK(access(path, F_OK) != 0); /* nothing was created */

    /* Not a registry: too short, then long enough with a bad magic number. */
    write_file(path, "hello", 5);
    CHECK_STATUS(metricore_registry_open_existing(test_str(path), &r), METRICORE_STATUS_NOT_A_REGISTRY);
    CHECK_ERROR_HAS("shorter than a header");
    CHECK_STATUS(metricore_registry_open_shared(test_str(path), NULL, &r), METRICORE_STATUS_NOT_A_REGISTRY);
    char zeros[4096];
    memset(zeros, 0, sizeof zeros);
    write_file(path, zeros, sizeof zeros);
    CHECK_STATUS(metricore_registry_open_existing(test_str(path), &r), METRICORE_STATUS_NOT_A_REGISTRY);
    CHECK_ERROR_HAS("magic");
    unlink(path);

    /* Another layout version, and a header that does not add up. */
    metricore_options o;
    memset(&o, 0, sizeof o);
    o.shards = 1;
    o.cells_per_shard = 1024;
    o.series_capacity = 64;
    o.family_capacity = 4;
    o.process_capacity = 2;
    o.arena_bytes = 4096;
    CHECK_OK(metricore_registry_open_shared(test_str(path), &o, &r));
    CHECK_OK(metricore_registry_free(r));
    patch_word(path, 1, 999);
    CHECK_STATUS(metricore_registry_open_existing(test_str(path), &r), METRICORE_STATUS_VERSION);
    CHECK_ERROR_HAS("version 999");
    patch_word(path, 1, 3); /* this build's layout version again */
    CHECK_OK(metricore_registry_open_existing(test_str(path), &r));
    CHECK_OK(metricore_registry_free(r));
    patch_word(path, 3, 8); /* the shard count, without fixing the checksum */
    CHECK_STATUS(metricore_registry_open_existing(test_str(path), &r), METRICORE_STATUS_CORRUPT);
    CHECK_ERROR_HAS("corrupt");

    /* Symbolic links are refused. */
    snprintf(link_path, sizeof link_path, "%s.link", path);
    unlink(link_path);
    CHECK(symlink(path, link_path) == 0);
    CHECK_STATUS(metricore_registry_open_shared(test_str(link_path), NULL, &r), METRICORE_STATUS_SYMLINK);
    CHECK_STATUS(metricore_registry_open_existing(test_str(link_path), &r), METRICORE_STATUS_SYMLINK);
    CHECK_ERROR_HAS("symbolic link");
    unlink(link_path);
    unlink(path);
}

/* File modes, trusted groups and directories every user may replace files in. */
void test_shared_trust(void) {
    char path[300], dir[256], gid[16];
    temp_path(path, sizeof path, "trust");
    metricore_registry *r = NULL;
    metricore_options o = small_options();

    /* Only permission bits, never writable by all, group-writable only for a named group. */
    o.file_mode = 04777;
    CHECK_STATUS(metricore_registry_open_shared(test_str(path), &o, &r), METRICORE_STATUS_INVALID_OPTIONS);
    CHECK_ERROR_HAS("permission bits");
    o.file_mode = 0660;
    CHECK_STATUS(metricore_registry_open_shared(test_str(path), &o, &r), METRICORE_STATUS_INVALID_OPTIONS);
    CHECK_ERROR_HAS("group");
    o.group = METRICORE_LIT("no-such-group-anywhere");
    CHECK_STATUS(metricore_registry_open_shared(test_str(path), &o, &r), METRICORE_STATUS_INVALID_OPTIONS);
    CHECK_ERROR_HAS("no group named");
    CHECK(access(path, F_OK) != 0);

    /* A group-writable file for the caller's group, whatever the umask. */
    snprintf(gid, sizeof gid, "%u", (unsigned)getgid());
    o.group = test_str(gid);
    mode_t old = umask(077);
    CHECK_OK(metricore_registry_open_shared(test_str(path), &o, &r));
    umask(old);
    struct stat st;
    CHECK(stat(path, &st) == 0 && (st.st_mode & 07777) == 0660 && st.st_gid == getgid());
    CHECK_OK(metricore_registry_free(r));
    /* Opened without naming the group, it is not trusted. */
    CHECK_STATUS(metricore_registry_open_existing(test_str(path), &r), METRICORE_STATUS_UNTRUSTED);
    CHECK_ERROR_HAS("writable by a group");
    CHECK_ERROR_HAS("mode 0660");
    CHECK_OK(metricore_registry_open_shared(test_str(path), &o, &r));
    CHECK_OK(metricore_registry_free(r));
    unlink(path);

    /* A directory every user may write to needs the sticky bit. */
    temp_path(dir, sizeof dir, "open-dir");
    rmdir(dir);
    CHECK(mkdir(dir, 0700) == 0 && chmod(dir, 0777) == 0);
    snprintf(path, sizeof path, "%s/reg", dir);
    CHECK_STATUS(metricore_registry_open_shared(test_str(path), NULL, &r), METRICORE_STATUS_UNTRUSTED);
    CHECK_ERROR_HAS(dir);
    CHECK_ERROR_HAS("sticky");
    CHECK(chmod(dir, 01777) == 0);
    CHECK_OK(metricore_registry_open_shared(test_str(path), NULL, &r));
    CHECK_OK(metricore_registry_free(r));
    unlink(path);
    rmdir(dir);
}
