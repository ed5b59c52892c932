/* SPDX-License-Identifier: MIT */
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
        /* side by side: one rate over both would space each host's
           requests 0.1 s apart at the least */
        ck_assert_double_lt(spaced(&srv, N, 0.05), 0.095);
        ck_assert_double_lt(spaced(&other, N, 0.05), 0.095);
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

/* Read timeouts on connections the host accepted do not call it down:
   the 200 requests after them are all made and all answered. */
START_TEST(a_host_that_answers_is_not_called_down)
{
    enum { SLOW = 10, FAST = 200 };
    char *in = malloc((SLOW + FAST) * 96);
    in[0] = '\0';
    for (int i = 0; i < SLOW + FAST; i++)
        strcat(in, i < SLOW ? ts_url(&srv, "/delay/5000?i=%d\n", i)
                            : ts_url(&srv, "/delay/20?i=%d\n", i));
    run_result r;
    RUN(&r, in, "-t", "1", "-j", "10", "--retry-delay", "0", "-i", "-");
    ck_assert_int_eq(r.status, 1);
    ck_assert_uint_eq(count_str(r.err, "\n"), SLOW);
    ck_assert_uint_eq(count_str(r.err, "timed out"), SLOW);
    ck_assert_ptr_null(strstr(r.err, "host down"));
    ck_assert_uint_eq(count_str(r.out, "delay 20\n"), FAST);
    ck_assert_uint_eq(ts_seen(&srv, "/delay/20"), FAST);
    run_free(&r);
    free(in);
}
END_TEST

/* ---- a retry that is not made: the last answer is the result, in
   every sink alike ---- */

enum { PIPE, FILE_NEW, FILE_APPEND, OUT_DIR, N_PIPE, N_FILE, SINKS };
static const char *const sink_name[] = {"| cat",  "> file",   ">> file",
                                        "-o DIR", "-N | cat", "-N > file"};

/* What a run left: exit status, the bytes its sink got (for >> file, after
   what the file held; for -o DIR, DIR/1, DIR/2 ... in order) and stderr. */
typedef struct outcome {
    int status;
    char *out, *err;
    size_t out_len;
} outcome;

static char *read_fd_all(int fd, size_t *len)
{
    char *buf = NULL;
    size_t cap = 0;
    ssize_t n;
    *len = 0;
    lseek(fd, 0, SEEK_SET);
    do {
        if (*len + 4096 > cap)
            ck_assert_ptr_nonnull(buf = realloc(buf, cap = 2 * cap + 8192));
        n = read(fd, buf + *len, cap - *len - 1);
        ck_assert_int_ge(n, 0);
        *len += (size_t)n;
    } while (n > 0);
    buf[*len] = '\0';
    return buf;
}

static int temp_fd(const char *text, int flags)
{
    char path[] = "/tmp/fetchall-sink-XXXXXX";
    int fd = mkstemp(path);
    ck_assert_int_ge(fd, 0);
    ck_assert_int_eq(write(fd, text, strlen(text)), (ssize_t)strlen(text));
    close(fd);
    fd = open(path, flags);
    ck_assert_int_ge(fd, 0);
    unlink(path);
    return fd;
}

/* fetchall args... with its output into sink, the server's log reset
   first (so that /flaky/ starts afresh). */
static void sink_run(int sink, const char *const *args, outcome *o)
{
    const char *argv[64];
    char dir[] = "/tmp/fetchall-sink-dir-XXXXXX";
    int n = 0;
    argv[n++] = fetchall;
    if (sink == N_PIPE || sink == N_FILE)
        argv[n++] = "-N";
    if (sink == OUT_DIR) {
        ck_assert_ptr_nonnull(mkdtemp(dir));
        ck_assert_int_eq(rmdir(dir), 0); /* fetchall makes it */
        argv[n++] = "-o";
        argv[n++] = dir;
    }
    while (*args && n < 63)
        argv[n++] = *args++;
    argv[n] = NULL;
    ts_reset(&srv);
    memset(o, 0, sizeof *o);
    if (sink == PIPE || sink == N_PIPE) {
        run_result r;
        run_cmd(&r, NULL, argv);
        o->status = r.status;
        o->out = r.out;
        o->out_len = r.out_len;
        o->err = r.err;
        return;
    }
    int append = sink == FILE_APPEND;
    int out = temp_fd(append ? "before\n" : "",
                      O_RDWR | (append ? O_APPEND : O_TRUNC));
    int err = temp_fd("", O_RDWR | O_TRUNC);
    o->status =
        run_reap(run_spawn(argv, -1, sink == OUT_DIR ? -1 : out, err, 0));
    size_t len;
    o->err = read_fd_all(err, &len);
    o->out = read_fd_all(out, &o->out_len);
    if (append) { /* what it held is still there, the rest is the run's */
        ck_assert_uint_ge(o->out_len, 7);
        ck_assert(!memcmp(o->out, "before\n", 7));
        memmove(o->out, o->out + 7, o->out_len - 6);
        o->out_len -= 7;
    }
    close(out);
    close(err);
    if (sink != OUT_DIR)
        return;
    for (int i = 1;; i++) { /* DIR/1, DIR/2 ... until none is left */
        char name[128];
        snprintf(name, sizeof name, "%s/%d", dir, i);
        int fd = open(name, O_RDONLY);
        if (fd < 0) {
            /* a failed request has no file, but later ones may */
            snprintf(name, sizeof name, "%s/%d", dir, i + 1);
            if (access(name, F_OK) != 0 && i > 64)
                break;
            continue;
        }
        char *body = read_fd_all(fd, &len);
        close(fd);
        snprintf(name, sizeof name, "%s/%d", dir, i);
        unlink(name);
        ck_assert_ptr_nonnull(o->out = realloc(o->out, o->out_len + len + 1));
        memcpy(o->out + o->out_len, body, len + 1);
        o->out_len += len;
        free(body);
    }
    ck_assert_int_eq(rmdir(dir), 0); /* nothing else was left in it */
}

static void outcome_free(outcome *o)
{
    free(o->out);
    free(o->err);
}

/* One way a retry is not made, and what the pipe must get from it. */
typedef struct way {
    const char *name;
    const char *args[8];
    int urls; /* /flaky/k1 ... /flaky/kN with query */
    const char *query;
    const char *body;   /* what one URL's answer leaves in a pipe */
    size_t requests;    /* what the server sees (0: not checked) */
    const char *failed; /* with --fail: in the error line */
} way;

static const way ways[] = {
    {"attempts used up",
     {"--retry", "1", "--retry-delay", "0"},
     1,
     "fail=9",
     "failure 2 of 9\n",
     2,
     "HTTP status 503 (2 attempts)"},
    {"-T",
     {"-T", "2"},
     1,
     "fail=9&after=99999",
     "failure 1 of 9\n",
     1,
     "past the deadline"},
    {"--retry-max-time",
     {"--retry-max-time", "1"},
     1,
     "fail=9&after=5",
     "failure 1 of 9\n",
     1,
     "past the retry time of 1 s"},
    /* one at a time, so that the budget runs out at the same request in
       every run: 10 tokens and 0.2 a request, five retries each */
    {"the retry budget",
     {"-j", "1", "--retry", "5", "--retry-delay", "0"},
     40,
     "fail=9",
     NULL,
     0,
     "the retry budget is spent"},
    {"a POST",
     {"-d", "a=1"},
     1,
     "fail=9",
     "failure 1 of 9\n",
     1,
     "HTTP status 503"},
    {"a POST cut off",
     {"-d", "a=1"},
     1,
     "fail=1&cut=1",
     "",
     1,
     "1000 bytes remaining"},
    {"a body cut off (-N: not taken back)",
     {"--retry-delay", "0"},
     1,
     "fail=1&cut=1",
     NULL,
     0,
     NULL},
};

START_TEST(a_retry_not_made_leaves_the_last_answer_in_every_sink)
{
    const way *w = &ways[_i];
    for (int fail = 0; fail < 2; fail++) {
        const char *args[64];
        char urls[40][128];
        int n = 0;
        if (fail)
            args[n++] = "--fail";
        for (int i = 0; w->args[i]; i++)
            args[n++] = w->args[i];
        for (int i = 0; i < w->urls; i++) {
            snprintf(urls[i], sizeof urls[i], "%s",
                     ts_url(&srv, "/flaky/k%d?%s", i + 1, w->query));
            args[n++] = urls[i];
        }
        args[n] = NULL;
        outcome o[SINKS];
        for (int k = 0; k < SINKS; k++) {
            sink_run(k, args, &o[k]);
            if (w->requests)
                ck_assert_msg(ts_seen(&srv, "/flaky/") == w->requests,
                              "%s, %s: the server saw %zu requests", w->name,
                              sink_name[k], ts_seen(&srv, "/flaky/"));
        }
        /* the pipe got the last answer (with --fail: none, and says so) */
        if (w->body && !fail)
            ck_assert_str_eq(o[PIPE].out, w->body);
        if (w->body && fail)
            ck_assert_uint_eq(o[PIPE].out_len, 0);
        if (!strcmp(w->query, "fail=9") && w->urls > 1 && !fail)
            ck_assert_uint_eq(count_str(o[PIPE].out, "failure "), 40);
        if (w->failed && (fail || (w->body && !*w->body)))
            ck_assert_msg(strstr(o[PIPE].err, w->failed), "%s: %s", w->name,
                          o[PIPE].err);
        if (!w->failed) { /* -N: a body cut off stays cut off, said so */
            ck_assert_uint_eq(o[N_PIPE].out_len, 1000);
            ck_assert_ptr_nonnull(strstr(o[N_PIPE].err, "1000 bytes"));
            ck_assert_int_eq(o[N_PIPE].status, 1);
            ck_assert_uint_eq(o[PIPE].out_len, 1000); /* retried */
            ck_assert_int_eq(o[PIPE].status, 0);
        }
        /* every file as the pipe: the same bytes, lines and status */
        for (int k = 0; k < SINKS; k++) {
            const outcome *want = &o[k >= N_PIPE ? N_PIPE : PIPE];
            ck_assert_msg(o[k].out_len == want->out_len &&
                              !memcmp(o[k].out, want->out, want->out_len),
                          "%s%s, %s: %zu bytes, the pipe %zu", w->name,
                          fail ? " --fail" : "", sink_name[k], o[k].out_len,
                          want->out_len);
            ck_assert_msg(!strcmp(o[k].err, want->err),
                          "%s%s, %s: stderr\n%s\nthe pipe's\n%s", w->name,
                          fail ? " --fail" : "", sink_name[k], o[k].err,
                          want->err);
            ck_assert_int_eq(o[k].status, want->status);
        }
        for (int k = 0; k < SINKS; k++)
            outcome_free(&o[k]);
    }
}
END_TEST

/* Each host name is looked up once per run: while a host's first request
   sets its connection up, its others wait for it, then find the name in
   libcurl's cache (tests/preload/gai.c counts the lookups fetchall makes;
   the test server counts the requests). */
START_TEST(each_host_name_is_looked_up_once)
{
    enum { HOSTS = 40, EACH = 5 };
    const char *preload = getenv("FETCH_GAI_PRELOAD");
    ck_assert_msg(preload && access(preload, R_OK) == 0,
                  "FETCH_GAI_PRELOAD (tests/preload/.libs/libgai.so)");
    char log[] = "/tmp/fetchall-gai-XXXXXX";
    int fd = mkstemp(log);
    ck_assert_int_ge(fd, 0);
    char *in = malloc(HOSTS * EACH * 96);
    in[0] = '\0';
    for (int i = 0; i < HOSTS * EACH; i++) /* each host's URLs together */
        sprintf(in + strlen(in), "http://h%02d.test:%d/delay/20?i=%d\n",
                i / EACH, srv.port, i);
    const char *threads[] = {"1", "2"};
    for (int k = 0; k < 2; k++) {
        ck_assert_int_eq(ftruncate(fd, 0), 0);
        ts_reset(&srv);
        setenv("LD_PRELOAD", preload, 1);
        setenv("FETCH_GAI_LOG", log, 1);
        /* under ASan the preloaded library comes before its runtime */
        setenv("ASAN_OPTIONS", "verify_asan_link_order=0", 0);
        run_result r;
        RUN(&r, in, "--threads", threads[k], "-j", "100", "-i", "-");
        unsetenv("LD_PRELOAD");
        ck_assert_msg(r.status == 0, "%s", r.err);
        ck_assert_uint_eq(ts_seen(&srv, "/delay/20"), HOSTS * EACH);
        size_t len;
        char *names = read_fd_all(fd, &len);
        ck_assert_uint_eq(count_str(names, "\n"), HOSTS);
        for (int h = 0; h < HOSTS; h++) {
            char name[32];
            snprintf(name, sizeof name, "h%02d.test\n", h);
            ck_assert_msg(count_str(names, name) == 1, "%s looked up %zu times",
                          name, count_str(names, name));
        }
        free(names);
        run_free(&r);
    }
    close(fd);
    unlink(log);
    free(in);
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
    tcase_add_test(tc, a_host_that_answers_is_not_called_down);
    tcase_add_test(tc, each_host_name_is_looked_up_once);
    tcase_add_loop_test(tc,
                        a_retry_not_made_leaves_the_last_answer_in_every_sink,
                        0, (int)(sizeof ways / sizeof ways[0]));
    suite_add_tcase(s, tc);
    return s;
}

int main(void)
{
    return run_suite(cli_retry_suite());
}
