/* SPDX-License-Identifier: MIT */
/* fetchall --journal: a run killed at any moment resumes where it was. No
   finished request is lost from the journal, none is skipped that did not
   finish, and a journal never serves other input or other options. */
#define _GNU_SOURCE
#include <check.h>
#include <errno.h>
#include <fcntl.h>
#include <jansson.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/file.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>

#include "harness.h"

/* A scratch directory and names in it. */
static char dir[64];
static char *in_dir(const char *name)
{
    static char path[4][128];
    static int k;
    char *p = path[k++ % 4];
    snprintf(p, 128, "%s/%s", dir, name);
    return p;
}

static void scratch(void)
{
    snprintf(dir, sizeof dir, "/tmp/fetchall-journal-XXXXXX");
    ck_assert_ptr_nonnull(mkdtemp(dir));
}

static void scratch_free(void)
{
    char cmd[160];
    snprintf(cmd, sizeof cmd, "rm -rf '%s'", dir);
    ck_assert_int_eq(system(cmd), 0);
}

/* The journal's request lines: done[i] = 1 (ok) or 2 (failed) for index i;
   every line whole and valid, none twice unless a failure was retried.
   Returns how many. */
static size_t read_journal(const char *path, unsigned char *done, size_t n)
{
    FILE *f = fopen(path, "r");
    char *line = NULL;
    size_t cap = 0, count = 0, lines = 0;
    ssize_t len;
    ck_assert_ptr_nonnull(f);
    memset(done, 0, n + 1);
    while ((len = getline(&line, &cap, f)) > 0) {
        json_error_t je;
        ck_assert_int_eq(line[len - 1], '\n'); /* no torn line is left */
        json_t *o = json_loads(line, 0, &je);
        ck_assert_msg(o != NULL, "journal line %zu: %s", lines, je.text);
        if (lines++ == 0) {
            ck_assert_int_eq(
                json_integer_value(json_object_get(o, "fetchall_journal")), 1);
        } else {
            json_int_t i = json_integer_value(json_object_get(o, "index"));
            ck_assert(i >= 1 && (size_t)i <= n);
            ck_assert_msg(!done[i] || done[i] == 2, "index %d twice", (int)i);
            count += !done[i];
            done[i] = json_is_true(json_object_get(o, "ok")) ? 1 : 2;
        }
        json_decref(o);
    }
    free(line);
    fclose(f);
    return count;
}

/* The URLs: /delay/MS?i=N, MS pseudo-random in 0-300. */
static char *urls(size_t n)
{
    char *all = malloc(n * 96);
    all[0] = '\0';
    for (size_t i = 1; i <= n; i++)
        strcat(all, ts_url(&srv, "/delay/%zu?i=%zu\n", (i * 7919) % 301, i));
    return all;
}

/* Until another process holds path's lock (flock, as fetchall takes it):
   the run is under way (valgrind may take a second to get there). */
static void wait_locked(const char *path)
{
    double give_up = now_s() + 30;
    for (;;) {
        int fd = open(path, O_RDONLY);
        if (fd < 0 && errno == ENOENT) { /* not made yet */
            ck_assert_double_lt(now_s(), give_up);
            usleep(10000);
            continue;
        }
        ck_assert_int_ge(fd, 0);
        int free_now = flock(fd, LOCK_EX | LOCK_NB) == 0;
        close(fd); /* and with it our lock, if we got it */
        if (!free_now)
            return;
        ck_assert_double_lt(now_s(), give_up);
        usleep(10000);
    }
}

/* Until the journal records at least n requests (its header is a line
   too). */
static void wait_recorded(const char *path, size_t n)
{
    double give_up = now_s() + 60;
    for (;;) {
        FILE *f = fopen(path, "r");
        size_t lines = 0;
        int c;
        while (f && (c = getc(f)) != EOF)
            lines += c == '\n';
        if (f)
            fclose(f);
        if (lines > n)
            return;
        ck_assert_double_lt(now_s(), give_up);
        usleep(10000);
    }
}

static void write_file(const char *path, const char *text)
{
    FILE *f = fopen(path, "w");
    ck_assert_ptr_nonnull(f);
    fputs(text, f);
    fclose(f);
}

START_TEST(resume_after_kill_9_at_random_moments)
{
    enum { N = 150, ROUNDS = 4 };
    unsigned char before[N + 1], after[N + 1];
    unsigned seed = test_seed("resume_after_kill_9_at_random_moments");
    for (int round = 0; round < ROUNDS; round++) {
        scratch();
        char *list = urls(N);
        write_file(in_dir("urls"), list);
        const char *journal = in_dir("journal"), *out = in_dir("out");
        /* kill -9 somewhere in the run (it takes about 1.5 s) */
        pid_t pid = run_spawn(
            (const char *const[]){fetchall, "-j", "20", "--journal", journal,
                                  "-o", out, "-i", in_dir("urls"), NULL},
            -1, -1, -1, 0);
        wait_locked(journal);
        usleep((useconds_t)(rand() % 1300000));
        kill(pid, SIGKILL);
        run_reap(pid);
        size_t k = read_journal(journal, before, N);
        /* what is in DIR is in the journal, but for what was in flight:
           a result is recorded once renamed, not when its turn comes */
        size_t files = 0;
        for (size_t i = 1; i <= N; i++) {
            char name[160];
            snprintf(name, sizeof name, "%s/%zu", out, i);
            files += access(name, F_OK) == 0;
        }
        ck_assert_msg(files <= k + 20,
                      "round %d (seed %u): %zu files in DIR, %zu recorded",
                      round, seed, files, k);
        /* every request recorded is in DIR, whole */
        for (size_t i = 1; i <= N; i++) {
            if (!before[i])
                continue;
            char name[160], body[64], want[64];
            snprintf(name, sizeof name, "%s/%zu", out, i);
            int fd = open(name, O_RDONLY);
            ck_assert_msg(fd >= 0, "round %d (seed %u): %zu recorded, no file",
                          round, seed, i);
            ssize_t len = read(fd, body, sizeof body - 1);
            close(fd);
            ck_assert_int_gt(len, 0);
            body[len] = '\0';
            snprintf(want, sizeof want, "delay %zu\n", (i * 7919) % 301);
            ck_assert_str_eq(body, want);
        }
        /* resume */
        ts_reset(&srv);
        run_result r;
        RUN(&r, NULL, "-j", "20", "--journal", journal, "-o", out, "-i",
            in_dir("urls"));
        ck_assert_int_eq(r.status, 0);
        if (k) {
            char says[64];
            snprintf(says, sizeof says, "resuming: %zu of %d done", k, N);
            ck_assert_ptr_nonnull(strstr(r.err, says));
        }
        run_free(&r);
        ck_assert_uint_eq(read_journal(journal, after, N), N);
        /* nothing recorded was fetched again; everything else was */
        ts_entry *log;
        size_t n = ts_log(&srv, &log);
        ck_assert_uint_eq(n, N - k);
        for (size_t e = 0; e < n; e++) {
            size_t i = (size_t)atol(strstr(log[e].path, "?i=") + 3);
            ck_assert_msg(!before[i], "round %d (seed %u): %zu fetched twice",
                          round, seed, i);
        }
        free(log);
        for (size_t i = 1; i <= N; i++)
            ck_assert_int_eq(after[i], 1);
        free(list);
        scratch_free();
    }
}
END_TEST

START_TEST(stdout_and_stdin_resume_too)
{
    enum { N = 60 };
    unsigned char done[N + 1];
    scratch();
    char *list = urls(N);
    const char *journal = in_dir("journal");
    /* JSON lines on stdout, URLs on stdin; killed midway */
    int in[2], outfd = open(in_dir("out1"), O_WRONLY | O_CREAT, 0644);
    ck_assert_int_eq(pipe(in), 0);
    pid_t pid =
        run_spawn((const char *const[]){fetchall, "-j", "10", "--jsonl",
                                        "--journal", journal, "-i", "-", NULL},
                  in[0], outfd, -1, 0);
    close(in[0]);
    ck_assert_int_eq(write(in[1], list, strlen(list)), (ssize_t)strlen(list));
    close(in[1]);
    wait_recorded(journal, 5); /* midway: some done, not all */
    kill(pid, SIGKILL);
    run_reap(pid);
    close(outfd);
    size_t k = read_journal(journal, done, N);
    /* every request the journal has is a whole line of that output */
    FILE *f = fopen(in_dir("out1"), "r");
    char *line = NULL;
    size_t cap = 0, whole = 0;
    unsigned char seen[N + 1] = {0};
    while (getline(&line, &cap, f) > 0) {
        json_t *o = json_loads(line, 0, NULL);
        if (!o)
            break; /* the torn end of a killed run's output */
        seen[json_integer_value(json_object_get(o, "index"))] = 1;
        whole++;
        json_decref(o);
    }
    free(line);
    fclose(f);
    for (size_t i = 1; i <= N; i++)
        if (done[i])
            ck_assert_msg(seen[i], "%zu in the journal, not in the output", i);
    /* the same input again: the rest */
    run_result r;
    RUN(&r, list, "-j", "10", "--jsonl", "--journal", journal, "-i", "-");
    ck_assert_int_eq(r.status, 0);
    ck_assert_uint_eq(count_str(r.out, "\n"), N - k);
    ck_assert_ptr_nonnull(strstr(r.err, "resuming: "));
    run_free(&r);
    ck_assert_uint_eq(read_journal(journal, done, N), N);
    /* other input: refused, nothing fetched */
    ts_reset(&srv);
    char *other = urls(N);
    size_t at = strlen(ts_url(&srv, "/delay/")); /* the first URL differs */
    other[at] = other[at] == '1' ? '2' : '1';
    RUN(&r, other, "--jsonl", "--journal", journal, "-i", "-");
    ck_assert_int_eq(r.status, 2);
    ck_assert_ptr_nonnull(strstr(r.err, "the input has changed"));
    ck_assert_str_eq(r.out, "");
    run_free(&r);
    long inflight, max, total;
    ts_stats(&srv, &inflight, &max, &total);
    ck_assert_int_eq(total, 0);
    /* other options: refused */
    RUN(&r, list, "--journal", journal, "-i", "-");
    ck_assert_int_eq(r.status, 2);
    ck_assert_ptr_nonnull(strstr(r.err, "other options"));
    run_free(&r);
    free(other);
    free(list);
    scratch_free();
}
END_TEST

/* Killed after a body was renamed into DIR, before the journal said so:
   the journal has its header only, DIR a result. The rerun takes DIR as
   its own (it is), and fetches that request again. */
START_TEST(a_result_in_place_but_not_recorded)
{
    scratch();
    char journal[128], out[128], urls[128], list[256];
    snprintf(journal, sizeof journal, "%s", in_dir("journal"));
    snprintf(out, sizeof out, "%s", in_dir("out"));
    snprintf(urls, sizeof urls, "%s", in_dir("urls"));
    snprintf(list, sizeof list, "%s", ts_url(&srv, "/bytes/5\n"));
    write_file(urls, list);
    run_result r;
    /* the first run gets as far as its journal's header */
    RUN(&r, NULL, "--journal", journal, "-o", out, "-i", "/dev/null");
    ck_assert_int_eq(r.status, 2); /* no URLs */
    run_free(&r);
    ck_assert(mkdir(out, 0755) == 0 || errno == EEXIST); /* -o made it */
    write_file(in_dir("out/1"), "half");
    RUN(&r, NULL, "--journal", journal, "-o", out, "-i", urls);
    ck_assert_msg(r.status == 0, "exit %d: %s", r.status, r.err);
    ck_assert_ptr_nonnull(strstr(r.err, "resuming: 0 of 1 done"));
    run_free(&r);
    unsigned char done[2];
    ck_assert_uint_eq(read_journal(journal, done, 1), 1);
    char *body = expected_bytes(5), got[16] = "";
    FILE *f = fopen(in_dir("out/1"), "r");
    ck_assert_ptr_nonnull(f);
    ck_assert_uint_eq(fread(got, 1, sizeof got - 1, f), 5);
    fclose(f);
    ck_assert_str_eq(got, body);
    free(body);
    /* a new journal does not make an earlier run's DIR its own */
    RUN(&r, NULL, "--journal", in_dir("other"), "-o", out, "-i", urls);
    ck_assert_int_eq(r.status, 2);
    run_free(&r);
    scratch_free();
}
END_TEST

START_TEST(a_torn_line_and_failures)
{
    scratch();
    const char *journal = in_dir("journal");
    char list[512];
    snprintf(list, sizeof list, "%s%s%s", ts_url(&srv, "/bytes/1\n"),
             ts_url(&srv, "/status/500\n"), ts_url(&srv, "/bytes/2\n"));
    run_result r;
    RUN(&r, list, "--fail", "--retry", "0", "--journal", journal, "-i", "-");
    ck_assert_int_eq(r.status, 1);
    run_free(&r);
    /* a run killed in a write leaves half a line */
    int fd = open(journal, O_WRONLY | O_APPEND);
    ck_assert_int_eq(write(fd, "{\"index\":9,\"ur", 14), 14);
    close(fd);
    ts_reset(&srv);
    RUN(&r, list, "--fail", "--retry", "0", "--journal", journal, "-i", "-");
    ck_assert_int_eq(r.status, 1); /* the failure stands */
    ck_assert_ptr_nonnull(strstr(r.err, "a torn last line was dropped"));
    /* from stdin: how many there are is not known yet */
    ck_assert_ptr_nonnull(strstr(r.err, "resuming: 3 done (1 of them "
                                        "failed; --retry-failed"));
    ck_assert_str_eq(r.out, "");
    run_free(&r);
    unsigned char done[4];
    ck_assert_uint_eq(read_journal(journal, done, 3), 3);
    ck_assert_int_eq(done[2], 2);
    long inflight, max, total;
    ts_stats(&srv, &inflight, &max, &total);
    ck_assert_int_eq(total, 0);
    /* --retry-failed: that one again, and only that one */
    RUN(&r, list, "--fail", "--retry", "0", "--retry-failed", "--journal",
        journal, "-i", "-");
    ck_assert_int_eq(r.status, 1);
    run_free(&r);
    ts_stats(&srv, &inflight, &max, &total);
    ck_assert_int_eq(total, 1);
    /* one journal, one run at a time */
    int in[2];
    ck_assert_int_eq(pipe(in), 0);
    pid_t pid =
        run_spawn((const char *const[]){fetchall, "--fail", "--retry", "0",
                                        "--journal", journal, "-i", "-", NULL},
                  in[0], -1, -1, 0);
    close(in[0]);
    wait_locked(journal); /* it holds the journal, waiting for input */
    RUN(&r, list, "--fail", "--retry", "0", "--journal", journal, "-i", "-");
    ck_assert_int_eq(r.status, 2);
    ck_assert_ptr_nonnull(strstr(r.err, "in use by another fetchall"));
    run_free(&r);
    close(in[1]);
    run_reap(pid);
    RUN(&r, NULL, "--retry-failed", ts_url(&srv, "/"));
    ck_assert_int_eq(r.status, 2);
    run_free(&r);
    scratch_free();
}
END_TEST

/* A slow first request does not hold the journal back: with -o each
   result is recorded once renamed into DIR, so a run killed while the
   first still waits has the others recorded, and the rerun fetches only
   what was in flight (the server's count). */
START_TEST(a_slow_first_request_does_not_hold_the_journal_back)
{
    enum { N = 300, J = 20 };
    unsigned char done[N + 1];
    scratch();
    char *list = malloc(N * 96);
    list[0] = '\0';
    for (int i = 1; i <= N; i++)
        strcat(list,
               ts_url(&srv, i == 1 ? "/delay/20000?i=%d\n" : "/delay/10?i=%d\n",
                      i));
    write_file(in_dir("urls"), list);
    const char *journal = in_dir("journal"), *out = in_dir("out");
    pid_t pid = run_spawn((const char *const[]){fetchall, "-j", "20",
                                                "--journal", journal, "-o", out,
                                                "-i", in_dir("urls"), NULL},
                          -1, -1, -1, 0);
    /* until about 70 are in DIR (the first is still on its way) */
    double give_up = now_s() + 60;
    size_t files = 0;
    while (files < 70) {
        ck_assert_double_lt(now_s(), give_up);
        usleep(2000);
        files = 0;
        for (size_t i = 1; i <= N; i++) {
            char name[160];
            snprintf(name, sizeof name, "%s/%zu", out, i);
            files += access(name, F_OK) == 0;
        }
    }
    kill(pid, SIGKILL);
    run_reap(pid);
    size_t k = read_journal(journal, done, N);
    ck_assert_msg(k + J >= files, "%zu files in DIR, %zu recorded", files, k);
    ck_assert(!done[1]);
    ts_reset(&srv);
    run_result r;
    RUN(&r, NULL, "-j", "20", "-t", "1", "--retry", "0", "--journal", journal,
        "-o", out, "-i", in_dir("urls"));
    run_free(&r);
    /* the rest, and no more than what was in flight of the done ones */
    size_t again = ts_seen(&srv, "/delay/");
    ck_assert_uint_eq(again, N - k);
    ck_assert_uint_le(again, N - files + J);
    free(list);
    scratch_free();
}
END_TEST

static Suite *journal_suite(void)
{
    Suite *s = suite_create("fetchall --journal");
    TCase *tc = tcase_create("cli");
    tcase_add_checked_fixture(tc, cli_setup, srv_teardown);
    tcase_set_timeout(tc, 120);
    tcase_add_test(tc, resume_after_kill_9_at_random_moments);
    tcase_add_test(tc, a_slow_first_request_does_not_hold_the_journal_back);
    tcase_add_test(tc, stdout_and_stdin_resume_too);
    tcase_add_test(tc, a_torn_line_and_failures);
    tcase_add_test(tc, a_result_in_place_but_not_recorded);
    suite_add_tcase(s, tc);
    return s;
}

int main(void)
{
    return run_suite(journal_suite());
}
