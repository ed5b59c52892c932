/* SPDX-License-Identifier: MIT */
/*
 * HTTP/2 as production servers speak it: nginx over HTTPS with
 * keepalive_requests 50 sends GOAWAY after every 50 streams. The streams
 * above its last stream id were never processed (RFC 9113 6.8), so
 * sending them again is safe for any method, and routine: every request
 * must succeed at its first attempt of ours, each processed once (nginx's
 * own log). Skipped (77) when nginx or its echo module is not installed
 * (bootstrap and .ci/run install them).
 */
#define _GNU_SOURCE
#include <check.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "harness.h"

static nginx ng;

/* nginx over HTTPS and HTTP/2, a GOAWAY every 50 streams. */
static void nginx_start(void)
{
    char cert[256], key[256], server[1024], body[1025];
    nginx_init(&ng);
    tls_files(ng.dir, cert, key, sizeof cert);
    chmod(key, 0644); /* its workers run as nobody */
    memset(body, 'x', 1024);
    body[1024] = '\0';
    FILE *f = fopen(nginx_path(&ng, "www/1k"), "w");
    ck_assert_ptr_nonnull(f);
    fputs(body, f);
    fclose(f);
    snprintf(server, sizeof server,
             "    ssl_certificate %s;\n"
             "    ssl_certificate_key %s;\n"
             /* a POST's body is read, then answered (as an application
                would) */
             "    location /post { echo_read_request_body;\n"
             "      echo $echo_request_body; }\n",
             cert, key);
    nginx_run(&ng, "load_module " NGINX_ECHO ";",
              "  log_format m '$request $status';\n"
              "  keepalive_requests 50;", /* a GOAWAY every 50 streams */
              "ssl http2", server);
}

static void setup(void)
{
    cli_setup(); /* the command; its test server is not used here */
    nginx_start();
}

static void teardown(void)
{
    nginx_stop(&ng);
    srv_teardown();
}

/* How many requests of method nginx's access log has, answered 200
   ("POST /1k?i=1 HTTP/2.0 200": the request line as it came, before an
   error_page turned it into a GET). */
static size_t logged(const char *method)
{
    char buf[256];
    size_t n = 0, m = strlen(method);
    FILE *f = fopen(nginx_path(&ng, "access.log"), "r");
    ck_assert_ptr_nonnull(f);
    while (fgets(buf, sizeof buf, f)) {
        size_t len = strlen(buf);
        n += !strncmp(buf, method, m) && buf[m] == ' ' && len > 5 &&
             !strcmp(buf + len - 5, " 200\n");
    }
    fclose(f);
    return n;
}

static void goaway_run(const char *method)
{
    enum { N = 2000 };
    char *in = malloc(N * 64);
    size_t at = 0;
    int post = !strcmp(method, "POST");
    for (int i = 1; i <= N; i++)
        at += (size_t)sprintf(in + at, "https://127.0.0.1:%d/%s?i=%d\n",
                              ng.port, post ? "post" : "1k", i);
    run_result r;
    if (post)
        RUN(&r, in, "-k", "-j", "100", "--jsonl", "-d", "a=1", "-i", "-");
    else
        RUN(&r, in, "-k", "-j", "100", "--jsonl", "-i", "-");
    ck_assert_msg(r.status == 0, "exit %d: %.2000s", r.status, r.err);
    ck_assert_str_eq(r.err, "");
    ck_assert_uint_eq(count_str(r.out, "\n"), N);
    ck_assert_uint_eq(count_str(r.out, "\"ok\":true"), N);
    /* none retried by us: libcurl sent the refused streams again */
    ck_assert_uint_eq(count_str(r.out, "\"attempts\":1,"), N);
    ck_assert_uint_eq(count_str(r.out, "\"http_version\":\"2\""), N);
    if (post) /* each answer is its own request's body */
        ck_assert_uint_eq(count_str(r.out, "\"body\":\"a=1\\n\""), N);
    ck_assert_uint_eq(logged(method), N); /* each processed once */
    run_free(&r);
    free(in);
}

START_TEST(goaway_every_50_streams_posts)
{
    goaway_run("POST");
}
END_TEST

START_TEST(goaway_every_50_streams_gets)
{
    goaway_run("GET");
}
END_TEST

static Suite *h2_suite(void)
{
    Suite *s = suite_create("HTTP/2 against nginx");
    TCase *tc = tcase_create("goaway");
    tcase_add_checked_fixture(tc, setup, teardown);
    tcase_set_timeout(tc, 300);
    tcase_add_test(tc, goaway_every_50_streams_posts);
    tcase_add_test(tc, goaway_every_50_streams_gets);
    suite_add_tcase(s, tc);
    return s;
}

int main(void)
{
    if (!nginx_installed(1)) {
        printf("nginx is not installed (apt-get install nginx-light "
               "libnginx-mod-http-echo): skipped\n");
        return 77;
    }
    return run_suite(h2_suite());
}
