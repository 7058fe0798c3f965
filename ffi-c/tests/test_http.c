/* The /metrics endpoint, scraped over a plain socket on the loopback address. */
#include <arpa/inet.h>
#include <netinet/in.h>
#include <stdlib.h>
#include <sys/socket.h>
#include <unistd.h>

#include "harness.h"
#include "tests.h"

/* Sends `request` to 127.0.0.1:`port` and returns the whole response (malloc'd), or NULL. */
static char *http_get(uint16_t port, const char *request) {
    int fd = socket(AF_INET, SOCK_STREAM, 0);
    if (fd < 0) {
        return NULL;
    }
    struct sockaddr_in sa;
    memset(&sa, 0, sizeof sa);
    sa.sin_family = AF_INET;
    sa.sin_port = htons(port);
    sa.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
    if (connect(fd, (struct sockaddr *)&sa, sizeof sa) != 0 ||
        write(fd, request, strlen(request)) != (ssize_t)strlen(request)) {
        close(fd);
        return NULL;
    }
    size_t cap = 1 << 16, len = 0;
    char *buf = malloc(cap);
    ssize_t n;
    while ((n = read(fd, buf + len, cap - len - 1)) > 0) {
        len += (size_t)n;
        if (len + 1 == cap) {
            cap *= 2;
            buf = realloc(buf, cap);
        }
    }
    buf[len] = '\0';
    close(fd);
    return buf;
}

void test_http(void) {
    metricore_registry *a = test_registry();
    metricore_registry *b = test_registry();
    metricore_counter_family *fa = NULL, *fb = NULL;
    CHECK_OK(metricore_counter_family_new(a, METRICORE_LIT("served_a"), METRICORE_LIT("A."), NULL, 0, NULL, &fa));
    CHECK_OK(metricore_counter_family_new(b, METRICORE_LIT("served_b"), METRICORE_LIT("B."), NULL, 0, NULL, &fb));
    CHECK_OK(metricore_counter_family_inc_by(fa, NULL, 0, 4));
    CHECK_OK(metricore_counter_family_inc_by(fb, NULL, 0, 5));

    const metricore_registry *both[] = {a, b};
    metricore_http_server *server = NULL;
    CHECK_OK(metricore_http_start(both, 2, METRICORE_LIT("127.0.0.1:0"), &server));
    uint16_t port = 0;
    CHECK_OK(metricore_http_port(server, &port));
    CHECK(port != 0);

    char *resp = http_get(port, "GET /metrics HTTP/1.1\r\nHost: localhost\r\nConnection: close\r\n\r\n");
    CHECK(resp != NULL);
    if (resp) {
        CHECK_HAS(resp, "HTTP/1.1 200 OK\r\n");
        CHECK_HAS(resp, "text/plain; version=0.0.4");
        CHECK_HAS(resp, "served_a_total 4\n");
        CHECK_HAS(resp, "served_b_total 5\n");
        free(resp);
    }
    resp = http_get(port,
                    "GET /metrics HTTP/1.1\r\nHost: localhost\r\nAccept: application/openmetrics-text; "
                    "version=1.0.0\r\nConnection: close\r\n\r\n");
    CHECK(resp != NULL);
    if (resp) {
        CHECK_HAS(resp, "application/openmetrics-text");
        CHECK_HAS(resp, "# EOF\n");
        free(resp);
    }

    /* The port is taken now. */
    char addr[32];
    snprintf(addr, sizeof addr, "127.0.0.1:%u", (unsigned)port);
    metricore_http_server *second = NULL;
    CHECK_STATUS(metricore_http_start(both, 1, test_str(addr), &second), METRICORE_STATUS_LISTEN);
    CHECK_ERROR_HAS("cannot listen");
    CHECK(second == NULL);

    /* The server serves on after the registries are freed, until stopped. */
    CHECK_OK(metricore_registry_free(a));
    CHECK_OK(metricore_registry_free(b));
    resp = http_get(port, "GET /metrics HTTP/1.1\r\nHost: localhost\r\nConnection: close\r\n\r\n");
    CHECK(resp != NULL && strstr(resp, "served_b_total 5\n") != NULL);
    free(resp);
    CHECK_OK(metricore_http_stop(server));
    CHECK_OK(metricore_http_stop(NULL));
}

void test_http_bad_input(void) {
    metricore_registry *r = test_registry();
    const metricore_registry *one[] = {r};
    metricore_http_server *server = NULL;
    CHECK_STATUS(metricore_http_start(one, 1, METRICORE_LIT("localhost"), &server),
                 METRICORE_STATUS_INVALID_ARGUMENT);
    CHECK_ERROR_HAS("localhost");
    CHECK_STATUS(metricore_http_start(one, 1, METRICORE_LIT("127.0.0.1:0"), NULL), METRICORE_STATUS_NULL_POINTER);
    CHECK_STATUS(metricore_http_start(NULL, 1, METRICORE_LIT("127.0.0.1:0"), &server),
                 METRICORE_STATUS_NULL_POINTER);
    const metricore_registry *none[] = {NULL};
    CHECK_STATUS(metricore_http_start(none, 1, METRICORE_LIT("127.0.0.1:0"), &server),
                 METRICORE_STATUS_NULL_POINTER);
    metricore_str bad = {"\xff", 1};
    CHECK_STATUS(metricore_http_start(one, 1, bad, &server), METRICORE_STATUS_INVALID_UTF8);
    uint16_t port;
    CHECK_STATUS(metricore_http_port(NULL, &port), METRICORE_STATUS_NULL_POINTER);
    CHECK_OK(metricore_registry_close(r));
    CHECK_STATUS(metricore_http_start(one, 1, METRICORE_LIT("127.0.0.1:0"), &server), METRICORE_STATUS_CLOSED);
    CHECK(server == NULL);
    CHECK_OK(metricore_registry_free(r));
}

/* Writes `text` to a new temporary file and returns its path (malloc'd). */
static char *write_temp(const char *text) {
    char *path = strdup("/tmp/metricore-web-config-XXXXXX");
    int fd = mkstemp(path);
    CHECK(fd >= 0);
    if (fd >= 0) {
        CHECK(write(fd, text, strlen(text)) == (ssize_t)strlen(text));
        close(fd);
    }
    return path;
}

void test_http_web_config(void) {
    metricore_registry *r = test_registry();
    metricore_counter_family *f = NULL;
    CHECK_OK(metricore_counter_family_new(r, METRICORE_LIT("guarded"), METRICORE_LIT("G."), NULL, 0, NULL, &f));
    CHECK_OK(metricore_counter_family_inc_by(f, NULL, 0, 3));
    const metricore_registry *one[] = {r};

    /* Basic auth: the password of `scraper` is "s3cret" (bcrypt, cost 4). */
    char *path = write_temp("basic_auth_users:\n"
                            "  scraper: $2y$04$XY0rmPO2M4n7fBRZLwR3Tu6i/ngX9OjYAO4fUIUPfoN2GEpBfhV5G\n");
    metricore_http_server *server = NULL;
    CHECK_OK(metricore_http_start_with_config(one, 1, METRICORE_LIT("127.0.0.1:0"), test_str(path), &server));
    uint16_t port = 0;
    CHECK_OK(metricore_http_port(server, &port));
    char *resp = http_get(port, "GET /metrics HTTP/1.1\r\nHost: localhost\r\nConnection: close\r\n\r\n");
    CHECK(resp != NULL);
    if (resp) {
        CHECK_HAS(resp, "HTTP/1.1 401 Unauthorized\r\n");
        CHECK_HAS(resp, "www-authenticate: Basic");
        CHECK(strstr(resp, "guarded_total") == NULL);
        free(resp);
    }
    resp = http_get(port, "GET /metrics HTTP/1.1\r\nHost: localhost\r\n"
                          "Authorization: Basic c2NyYXBlcjpzM2NyZXQ=\r\nConnection: close\r\n\r\n");
    CHECK(resp != NULL);
    if (resp) {
        CHECK_HAS(resp, "HTTP/1.1 200 OK\r\n");
        CHECK_HAS(resp, "guarded_total 3\n");
        free(resp);
    }
    CHECK_OK(metricore_http_stop(server));
    unlink(path);
    free(path);

    /* A bad file is refused before anything starts, naming the key. */
    path = write_temp("basic_auth_user:\n  scraper: x\n");
    server = NULL;
    CHECK_STATUS(metricore_http_start_with_config(one, 1, METRICORE_LIT("127.0.0.1:0"), test_str(path), &server),
                 METRICORE_STATUS_INVALID_ARGUMENT);
    CHECK_ERROR_HAS("basic_auth_user");
    CHECK(server == NULL);
    unlink(path);
    free(path);

    /* No file: plain HTTP, as metricore_http_start. */
    CHECK_OK(metricore_http_start_with_config(one, 1, METRICORE_LIT("127.0.0.1:0"), METRICORE_LIT(""), &server));
    CHECK_OK(metricore_http_port(server, &port));
    resp = http_get(port, "GET /metrics HTTP/1.1\r\nHost: localhost\r\nConnection: close\r\n\r\n");
    CHECK(resp != NULL && strstr(resp, "guarded_total 3\n") != NULL);
    free(resp);
    CHECK_OK(metricore_http_stop(server));
    CHECK_OK(metricore_registry_free(r));
}
