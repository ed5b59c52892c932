/* SPDX-License-Identifier: MIT */
/*
 * robots.txt obeyed (fetch_options.robots, fetchall --robots) against
 * nginx: what is requested, in which order and how far apart is judged by
 * nginx's own log. Skipped (77) when nginx is not installed.
 */
#define _GNU_SOURCE
#include <check.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>

#include "harness.h"
#include "libfetch.h"

static nginx ng;
static int port503, port404; /* servers answering robots.txt so */
static int port5, port6;     /* ... after 5 redirects, and 6 */

static void put(const char *name, const char *text)
{
    FILE *f = fopen(nginx_path(&ng, name), "w");
    ck_assert_ptr_nonnull(f);
    fputs(text, f);
    fclose(f);
    chmod(nginx_path(&ng, name), 0644);
}

static void setup(void)
{
    char http[4096];
    cli_setup(); /* the command; its test server is not used here */
    nginx_init(&ng);
    ck_assert_int_eq(mkdir(nginx_path(&ng, "www/private"), 0755), 0);
    put("www/a", "a\n");
    put("www/b", "b\n");
    put("www/private/x", "x\n");
    put("www/rules", "User-agent: *\nDisallow: /private/\n");
    int *ports[] = {&port503, &port404, &port5, &port6};
    for (size_t i = 0; i < 4; i++) { /* four ports, none the same */
        int taken;
        do {
            *ports[i] = closed_port();
            taken = 0;
            for (size_t j = 0; j < i; j++)
                taken |= *ports[j] == *ports[i];
        } while (taken);
    }
    /* robots.txt -> /r/1 -> ... -> /r/HOPS-1 -> /rules: HOPS redirects */
    char chain[2][1024];
    for (int k = 0; k < 2; k++) {
        int hops = 5 + k, at = 0;
        at += snprintf(chain[k] + at, sizeof chain[k] - (size_t)at,
                       "    location = /robots.txt { return 302 /r/1; }\n");
        for (int i = 1; i < hops; i++)
            at += snprintf(chain[k] + at, sizeof chain[k] - (size_t)at,
                           "    location = /r/%d { return 302 %s%d; }\n", i,
                           i + 1 < hops ? "/r/" : "/rules?", i + 1);
    }
    snprintf(http, sizeof http,
             "  log_format m '$msec $request_time $server_port $request_uri "
             "$status';\n"
             "  server { listen 127.0.0.1:%d; root %s/www;\n"
             "    location = /robots.txt { return 503; } }\n"
             "  server { listen 127.0.0.1:%d; root %s/www;\n"
             "    location = /robots.txt { return 404; } }\n"
             "  server { listen 127.0.0.1:%d; root %s/www;\n%s  }\n"
             "  server { listen 127.0.0.1:%d; root %s/www;\n%s  }\n",
             port503, ng.dir, port404, ng.dir, port5, ng.dir, chain[0], port6,
             ng.dir, chain[1]);
    nginx_run(&ng, "", http, "", "");
}

static void teardown(void)
{
    nginx_stop(&ng);
    srv_teardown();
}

static const char *url(int port, const char *path)
{
    static char bufs[16][128];
    static int next;
    char *b = bufs[next++ % 16];
    snprintf(b, 128, "http://127.0.0.1:%d%s", port, path);
    return b;
}

/* nginx's log: one entry a request, in the order answered. */
typedef struct hit {
    double at, took;
    int port, status;
    char path[64];
} hit;

static size_t hits(hit *h, size_t max)
{
    size_t n = 0, len;
    char *text = nginx_log(&ng, &len), *save = NULL;
    for (char *line = strtok_r(text, "\n", &save); n < max && line;
         line = strtok_r(NULL, "\n", &save))
        if (sscanf(line, "%lf %lf %d %63s %d", &h[n].at, &h[n].took, &h[n].port,
                   h[n].path, &h[n].status) == 5)
            n++;
    free(text);
    return n;
}

static size_t requests_of(const hit *h, size_t n, int port, const char *path)
{
    size_t k = 0;
    for (size_t i = 0; i < n; i++)
        k += h[i].port == port && !strncmp(h[i].path, path, strlen(path));
    return k;
}

/* Disallowed URLs are results of their own, never requested; the
   robots.txt goes first, once. */
START_TEST(disallowed_urls_are_never_requested)
{
    put("www/robots.txt", "User-agent: *\nDisallow: /private/\n");
    run_result r;
    RUN(&r, NULL, "--robots", "--jsonl", "-j", "4", url(ng.port, "/a"),
        url(ng.port, "/private/x"), url(ng.port, "/b"),
        url(ng.port, "/private/y"));
    ck_assert_int_eq(r.status, 1);
    ck_assert_uint_eq(count_str(r.out, "\"error_kind\":\"robots\""), 2);
    ck_assert_uint_eq(count_str(r.out, "\"ok\":true"), 2);
    ck_assert_uint_eq(count_str(r.err, "disallowed by robots.txt"), 2);
    ck_assert_ptr_nonnull(strstr(r.err, "[2] "));
    ck_assert_ptr_nonnull(strstr(r.err, "[4] "));
    ck_assert_uint_eq(count_str(r.err, "\n"), 2);
    run_free(&r);
    hit h[16];
    size_t n = hits(h, 16);
    ck_assert_uint_eq(n, 3);
    ck_assert_str_eq(h[0].path, "/robots.txt");
    ck_assert_uint_eq(requests_of(h, n, ng.port, "/private"), 0);
    ck_assert_uint_eq(requests_of(h, n, ng.port, "/a"), 1);
    ck_assert_uint_eq(requests_of(h, n, ng.port, "/b"), 1);
}
END_TEST

/* Crawl-delay spaces a host's starts, counted from its robots.txt. nginx
   logs a request when it ends; the start is that less its request time. */
START_TEST(crawl_delay_spaces_the_host)
{
    put("www/robots.txt", "User-agent: *\nCrawl-delay: 0.3\n");
    char in[512];
    size_t at = 0;
    for (int i = 0; i < 9; i++)
        at += (size_t)snprintf(in + at, sizeof in - at, "%s\n",
                               url(ng.port, i % 2 ? "/a?odd" : "/a?even"));
    run_result r;
    RUN(&r, in, "--robots", "-q", "-j", "4", "-i", "-");
    ck_assert_int_eq(r.status, 0);
    run_free(&r);
    hit h[16];
    size_t n = hits(h, 16);
    ck_assert_uint_eq(n, 10);
    ck_assert_str_eq(h[0].path, "/robots.txt");
    double g[9];
    for (size_t i = 1; i < n; i++)
        g[i - 1] = (h[i].at - h[i].took) - (h[i - 1].at - h[i - 1].took);
    assert_spaced(g, n - 1, 0.3);
}
END_TEST

/* RFC 9309 2.3.1: a 4xx robots.txt allows everything; a 5xx, or a host
   that cannot be reached, disallows everything. */
START_TEST(a_4xx_allows_and_a_5xx_or_no_answer_disallows)
{
    run_result r;
    RUN(&r, NULL, "--robots", "--retry", "0", "-q", url(port404, "/a"),
        url(port404, "/private/x"));
    ck_assert_int_eq(r.status, 0);
    ck_assert_str_eq(r.out, "a\nx\n");
    run_free(&r);
    RUN(&r, NULL, "--robots", "--retry", "0", "--jsonl", url(port503, "/a"),
        url(port503, "/b"));
    ck_assert_int_eq(r.status, 1);
    ck_assert_uint_eq(count_str(r.out, "\"error_kind\":\"robots\""), 2);
    run_free(&r);
    hit h[16];
    size_t n = hits(h, 16);
    ck_assert_uint_eq(requests_of(h, n, port404, "/robots.txt"), 1);
    ck_assert_uint_eq(requests_of(h, n, port503, "/robots.txt"), 1);
    ck_assert_uint_eq(requests_of(h, n, port503, "/a"), 0);
    ck_assert_uint_eq(requests_of(h, n, port503, "/b"), 0);
    RUN(&r, NULL, "--robots", "--retry", "0", "--jsonl",
        url(closed_port(), "/a"));
    ck_assert_int_eq(r.status, 1);
    ck_assert_uint_eq(count_str(r.out, "\"error_kind\":\"robots\""), 1);
    run_free(&r);
}
END_TEST

/* Five redirects are followed to the rules (RFC 9309 2.3.1.2); past
   five, no robots.txt: everything allowed. */
START_TEST(five_redirects_are_followed)
{
    run_result r;
    RUN(&r, NULL, "--robots", "--jsonl", url(port5, "/a"),
        url(port5, "/private/x"));
    ck_assert_int_eq(r.status, 1);
    ck_assert_uint_eq(count_str(r.out, "\"error_kind\":\"robots\""), 1);
    run_free(&r);
    RUN(&r, NULL, "--robots", "-q", url(port6, "/a"), url(port6, "/private/x"));
    ck_assert_int_eq(r.status, 0);
    ck_assert_str_eq(r.out, "a\nx\n");
    run_free(&r);
    hit h[32];
    size_t n = hits(h, 32);
    ck_assert_uint_eq(requests_of(h, n, port5, "/rules"), 1);
    ck_assert_uint_eq(requests_of(h, n, port6, "/rules"), 0);
    ck_assert_uint_eq(requests_of(h, n, port6, "/r/5"), 1); /* the 6th */
}
END_TEST

/* Scheme, host and port are the key: 127.0.0.1 and localhost are two
   hosts, each asked once however many of its URLs run at once. */
START_TEST(one_robots_txt_per_host_key)
{
    put("www/robots.txt", "User-agent: *\nDisallow: /private/\n");
    char *in = NULL;
    size_t len = 0;
    FILE *f = open_memstream(&in, &len);
    for (int i = 0; i < 20; i++)
        fprintf(f, "http://%s:%d/a?%d\n", i % 2 ? "localhost" : "127.0.0.1",
                ng.port, i);
    fclose(f);
    run_result r;
    RUN(&r, in, "--robots", "-q", "-j", "20", "-i", "-");
    ck_assert_int_eq(r.status, 0);
    ck_assert_uint_eq(count_str(r.out, "a\n"), 20);
    run_free(&r);
    free(in);
    hit h[64];
    size_t n = hits(h, 64);
    ck_assert_uint_eq(n, 22);
    ck_assert_uint_eq(requests_of(h, n, ng.port, "/robots.txt"), 2);
    ck_assert_str_eq(h[0].path, "/robots.txt");
}
END_TEST

/* The group of our product token, case-insensitively, else "*"; without
   --robots, robots.txt is not read at all. */
START_TEST(the_group_of_our_user_agent)
{
    put("www/robots.txt", "User-agent: mybot\nDisallow: /\n\n"
                          "User-agent: *\nDisallow:\n");
    run_result r;
    RUN(&r, NULL, "--robots", "-q", "-A", "MyBot/2.0 (+https://x.test)",
        url(ng.port, "/a"));
    ck_assert_int_eq(r.status, 1);
    run_free(&r);
    RUN(&r, NULL, "--robots", "-q", url(ng.port, "/a"));
    ck_assert_int_eq(r.status, 0);
    run_free(&r);
    RUN(&r, NULL, "-q", url(ng.port, "/private/x"));
    ck_assert_int_eq(r.status, 0);
    run_free(&r);
    hit h[16];
    size_t n = hits(h, 16);
    ck_assert_uint_eq(requests_of(h, n, ng.port, "/robots.txt"), 2);
    ck_assert_uint_eq(requests_of(h, n, ng.port, "/private"), 1);
}
END_TEST

/* The library: fetch_options.robots; FETCH_E_ROBOTS, "robots"; the
   client ends idle. */
START_TEST(the_library_obeys_robots_txt)
{
    put("www/robots.txt", "User-agent: *\nDisallow: /private/\n");
    fetch_options o;
    fetch_options_init(&o);
    o.robots = 1;
    fetch_client *c = client_new(&o, NULL);
    fetch_task *t[3] = {
        fetch_get(c, url(ng.port, "/a"), NULL, NULL, NULL),
        fetch_get(c, url(ng.port, "/private/x"), NULL, NULL, NULL),
        fetch_get(c, url(ng.port, "/b"), NULL, NULL, NULL)};
    ck_assert_int_eq(fetch_gather(c, t, 3, 30, FETCH_GATHER_ALL), 1);
    ck_assert_int_eq(fetch_task_response(t[0])->error, FETCH_OK);
    ck_assert_int_eq(fetch_task_response(t[1])->error, FETCH_E_ROBOTS);
    ck_assert_str_eq(fetch_err_name(FETCH_E_ROBOTS), "robots");
    ck_assert_ptr_nonnull(
        strstr(fetch_task_response(t[1])->message, "disallowed by robots.txt"));
    ck_assert_int_eq(fetch_task_response(t[1])->attempts, 0);
    ck_assert_int_eq(fetch_task_response(t[2])->error, FETCH_OK);
    free_all(t, 3);
    /* known now: a later request is decided at once */
    fetch_task *late =
        fetch_get(c, url(ng.port, "/private/y"), NULL, NULL, NULL);
    ck_assert_int_eq(fetch_wait_for(late, 30), FETCH_E_ROBOTS);
    ck_assert_int_eq(fetch_task_response(late)->error, FETCH_E_ROBOTS);
    fetch_task_free(late);
    client_free(c);
    hit h[16];
    size_t n = hits(h, 16);
    ck_assert_uint_eq(n, 3);
    ck_assert_uint_eq(requests_of(h, n, ng.port, "/robots.txt"), 1);
}
END_TEST

static Suite *robots_suite(void)
{
    Suite *s = suite_create("robots.txt against nginx");
    TCase *tc = tcase_create("robots");
    tcase_add_checked_fixture(tc, setup, teardown);
    tcase_set_timeout(tc, 120);
    tcase_add_test(tc, disallowed_urls_are_never_requested);
    tcase_add_test(tc, crawl_delay_spaces_the_host);
    tcase_add_test(tc, a_4xx_allows_and_a_5xx_or_no_answer_disallows);
    tcase_add_test(tc, five_redirects_are_followed);
    tcase_add_test(tc, one_robots_txt_per_host_key);
    tcase_add_test(tc, the_group_of_our_user_agent);
    tcase_add_test(tc, the_library_obeys_robots_txt);
    suite_add_tcase(s, tc);
    return s;
}

int main(void)
{
    if (!nginx_installed(0)) {
        printf("nginx is not installed (apt-get install nginx-light): "
               "skipped\n");
        return 77;
    }
    return run_suite(robots_suite());
}
