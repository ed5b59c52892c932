/* fetchall's retries and politeness: what the user sees (bodies in order,
   nothing from a failed attempt) and what the servers see (their own
   logs: how many requests, when). */
#define _GNU_SOURCE
#include <check.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "harness.h"

START_TEST(retries_by_default)
{
    run_result r;
    char *want = expected_bytes(1000);
    RUN(&r, NULL, "--retry-delay", "0.01", ts_url(&srv, "/flaky/a?fail=2"));
    ck_assert_int_eq(r.status, 0);
    ck_assert_str_eq(r.out, want); /* the third answer, alone */
    ck_assert_str_eq(r.err, "");
    ck_assert_uint_eq(ts_seen(&srv, "/flaky/a"), 3);
    run_free(&r);
    /* two retries, then the last answer stands; with --fail it fails and
       says how often it was tried */
    RUN(&r, NULL, "--retry-delay", "0.01", "--fail",
        ts_url(&srv, "/flaky/b?fail=5"), ts_url(&srv, "/bytes/3"));
    ck_assert_int_eq(r.status, 1);
    ck_assert_str_eq(r.out, "abc");
    ck_assert_ptr_nonnull(strstr(r.err, "[1] "));
    ck_assert_ptr_nonnull(strstr(r.err, "HTTP status 503 (3 attempts)"));
    ck_assert_uint_eq(ts_seen(&srv, "/flaky/b"), 3);
    run_free(&r);
    RUN(&r, NULL, "--retry", "0", "--fail", ts_url(&srv, "/flaky/c?fail=1"));
    ck_assert_int_eq(r.status, 1);
    ck_assert_uint_eq(ts_seen(&srv, "/flaky/c"), 1);
    run_free(&r);
    free(want);
}
END_TEST

START_TEST(retried_bodies_stay_in_order_and_whole)
{
    enum { N = 12 };
    char in[N * 128] = "", *want = expected_bytes(1000);
    for (int i = 0; i < N; i++) /* broken off, refused, or fine */
        strcat(in,
               ts_url(&srv, "/flaky/o%d?fail=%d&cut=%d\n", i, i % 3, i % 2));
    char *all = malloc(N * 1000 + 1);
    for (int i = 0; i < N; i++)
        memcpy(all + 1000 * i, want, 1000);
    all[N * 1000] = 0;
    /* into a pipe, buffered */
    run_result r;
    RUN(&r, in, "--retry-delay", "0.01", "-j", "4", "-i", "-");
    ck_assert_int_eq(r.status, 0);
    ck_assert_uint_eq(r.out_len, N * 1000);
    ck_assert_str_eq(r.out, all);
    run_free(&r);
    /* into a regular file it streams: a broken body is cut back out */
    ts_reset(&srv);
    char path[] = "/tmp/fetchall-retry-XXXXXX";
    int fd = mkstemp(path), inp[2];
    ck_assert_int_eq(write(fd, "before\n", 7), 7);
    ck_assert_int_eq(pipe(inp), 0);
    ck_assert_int_eq(write(inp[1], in, strlen(in)), (ssize_t)strlen(in));
    close(inp[1]);
    pid_t pid =
        run_spawn((const char *const[]){fetchall, "--retry-delay", "0.01", "-j",
                                        "4", "-i", "-", NULL},
                  inp[0], fd, -1, 0);
    close(inp[0]);
    ck_assert_int_eq(run_reap(pid), 0);
    struct stat st;
    ck_assert_int_eq(fstat(fd, &st), 0);
    ck_assert_int_eq(st.st_size, 7 + N * 1000);
    char *file = malloc(7 + N * 1000);
    ck_assert_int_eq(pread(fd, file, 7 + N * 1000, 0), 7 + N * 1000);
    ck_assert(!memcmp(file, "before\n", 7));
    ck_assert(!memcmp(file + 7, all, N * 1000));
    close(fd);
    unlink(path);
    /* and -o DIR: each file the last attempt's body */
    char dir[] = "/tmp/fetchall-retry-dir-XXXXXX";
    ck_assert_ptr_nonnull(mkdtemp(dir));
    ts_reset(&srv);
    RUN(&r, in, "--retry-delay", "0.01", "-o", dir, "-i", "-");
    ck_assert_int_eq(r.status, 0);
    for (int i = 1; i <= N; i++) {
        char name[128], buf[2048];
        snprintf(name, sizeof name, "%s/%d", dir, i);
        fd = open(name, O_RDONLY);
        ck_assert_int_ge(fd, 0);
        ck_assert_int_eq(read(fd, buf, sizeof buf), 1000);
        ck_assert(!memcmp(buf, want, 1000));
        close(fd);
        unlink(name);
    }
    ck_assert_int_eq(rmdir(dir), 0); /* nothing else left in it */
    run_free(&r);
    free(file);
    free(all);
    free(want);
}
END_TEST

START_TEST(retry_after_and_the_retry_options)
{
    run_result r;
    RUN(&r, NULL, "--retry-delay", "0.001",
        ts_url(&srv, "/flaky/d?fail=1&after=1"));
    ck_assert_int_eq(r.status, 0);
    ck_assert_double_ge(ts_gap(&srv, "/flaky/d"), 0.99);
    run_free(&r);
    /* --retry-on: only these statuses */
    RUN(&r, NULL, "--retry-delay", "0.001", "--retry-on", "500,502",
        ts_url(&srv, "/flaky/e?fail=1"),
        ts_url(&srv, "/flaky/f?fail=1&status=502"));
    ck_assert_int_eq(r.status, 0);
    ck_assert_uint_eq(ts_seen(&srv, "/flaky/e"), 1); /* a 503: not retried */
    ck_assert_uint_eq(ts_seen(&srv, "/flaky/f"), 2);
    run_free(&r);
    /* --retry-max-time: a retry 5 s away would start too late */
    double t0 = now_s();
    RUN(&r, NULL, "--fail", "--retry-max-time", "1",
        ts_url(&srv, "/flaky/g?fail=1&after=5"));
    ck_assert_int_eq(r.status, 1);
    ck_assert_double_lt(now_s() - t0, 4);
    ck_assert_ptr_nonnull(strstr(r.err, "not retried: a retry in 5 s"));
    run_free(&r);
    /* a POST is not sent twice unless asked */
    RUN(&r, NULL, "--retry-delay", "0.001", "-d", "x",
        ts_url(&srv, "/flaky/h?fail=1"));
    ck_assert_uint_eq(ts_seen(&srv, "/flaky/h"), 1);
    run_free(&r);
    RUN(&r, NULL, "--retry-delay", "0.001", "-d", "x", "--retry-all-errors",
        ts_url(&srv, "/flaky/i?fail=1"));
    ck_assert_uint_eq(ts_seen(&srv, "/flaky/i"), 2);
    ck_assert_uint_eq(r.out_len, 1000);
    run_free(&r);
}
END_TEST

/* The server saw want requests, spaced by gap at least; their mean
   gap (see assert_spaced()). */
static double spaced(const test_server *s, size_t want, double gap)
{
    size_t n;
    double *g = ts_gaps(s, &n);
    ck_assert_uint_eq(n, want - 1);
    double mean = assert_spaced(g, n, gap);
    free(g);
    return mean;
}

START_TEST(rates_hold_as_the_servers_see_them)
{
    enum { N = 16 };
    const char *threads[] = {"1", "3"};
    char in[N * 2 * 96] = "";
    test_server other;
    ts_start(&other);
    for (int i = 0; i < N; i++)
        strcat(in, ts_url(&srv, "/bytes/10?i=%d\n", i));
    for (int k = 0; k < 2; k++) {
        run_result r;
        ts_reset(&srv);
        RUN(&r, in, "--threads", threads[k], "--rate", "20/s", "-i", "-");
        ck_assert_int_eq(r.status, 0);
        spaced(&srv, N, 0.05); /* 20 a second */
        run_free(&r);
        /* 1200/m is 20/s too */
        ts_reset(&srv);
        RUN(&r, in, "--threads", threads[k], "--rate", "1200/m", "-i", "-");
        ck_assert_int_eq(r.status, 0);
        spaced(&srv, N, 0.05);
        run_free(&r);
    }
    /* per host: two hosts side by side, each at its rate */
    char two[N * 2 * 96] = "";
    for (int i = 0; i < 2 * N; i++)
        strcat(two, ts_url(i % 2 ? &other : &srv, "/bytes/10?i=%d\n", i));
    for (int k = 0; k < 2; k++) {
        run_result r;
        ts_reset(&srv);
        ts_reset(&other);
        RUN(&r, two, "--threads", threads[k], "--host-rate", "20", "-i", "-");
        ck_assert_int_eq(r.status, 0);
        /* side by side: 50 ms apart, not the 100 of one rate over both */
        ck_assert_double_lt(spaced(&srv, N, 0.05), 0.08);
        ck_assert_double_lt(spaced(&other, N, 0.05), 0.08);
        run_free(&r);
    }
    ts_stop(&other);
}
END_TEST

START_TEST(delay_between_starts_to_a_host)
{
    enum { N = 16 };
    char in[N * 96] = "";
    for (int i = 0; i < N; i++)
        strcat(in, ts_url(&srv, "/bytes/10?i=%d\n", i));
    run_result r;
    RUN(&r, in, "--delay", "0.1", "-i", "-");
    ck_assert_int_eq(r.status, 0);
    spaced(&srv, N, 0.1);
    run_free(&r);
    ts_reset(&srv);
    RUN(&r, in, "--delay", "0.1", "--random-delay", "-i", "-");
    ck_assert_int_eq(r.status, 0);
    /* 0.5 to 1.5 x 0.1 s: 0.1 s on average, at least 0.05 s */
    ck_assert_double_ge(spaced(&srv, N, 0.05), 0.065);
    run_free(&r);
}
END_TEST

START_TEST(bad_retry_and_rate_options)
{
    const char *bad[][2] = {
        {"--retry", "-1"},
        {"--retry", "x"},
        {"--retry-delay", "-2"},
        {"--retry-on", "600"},
        {"--retry-on", "503,"},
        {"--retry-on", "abc"},
        {"--rate", "0"},
        {"--rate", "5/d"},
        {"--host-rate", "-1/s"},
        {"--delay", "nan"},
        {"--retry-max-time", "inf"},
    };
    for (size_t i = 0; i < sizeof bad / sizeof bad[0]; i++) {
        run_result r;
        RUN(&r, NULL, bad[i][0], bad[i][1], "http://127.0.0.1:1/");
        ck_assert_int_eq(r.status, 2);
        ck_assert_ptr_nonnull(strstr(r.err, bad[i][0]));
        run_free(&r);
    }
    run_result r;
    RUN(&r, NULL, "--random-delay", "http://127.0.0.1:1/");
    ck_assert_int_eq(r.status, 2);
    ck_assert_ptr_nonnull(strstr(r.err, "--delay"));
    run_free(&r);
}
END_TEST

static Suite *cli_retry_suite(void)
{
    Suite *s = suite_create("fetchall retries and politeness");
    TCase *tc = tcase_create("cli");
    tcase_add_checked_fixture(tc, cli_setup, srv_teardown);
    tcase_set_timeout(tc, 120);
    tcase_add_test(tc, retries_by_default);
    tcase_add_test(tc, retried_bodies_stay_in_order_and_whole);
    tcase_add_test(tc, retry_after_and_the_retry_options);
    tcase_add_test(tc, rates_hold_as_the_servers_see_them);
    tcase_add_test(tc, delay_between_starts_to_a_host);
    tcase_add_test(tc, bad_retry_and_rate_options);
    suite_add_tcase(s, tc);
    return s;
}

int main(void)
{
    return run_suite(cli_retry_suite());
}
