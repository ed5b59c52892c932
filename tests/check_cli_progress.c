/* SPDX-License-Identifier: MIT */
/* fetchall --progress: a bar on a terminal (a pseudo-terminal here), as
   wide as the terminal, error lines above it, a summary in its place at
   the end; nothing of it in a pipe unless asked for plain lines. */
#define _GNU_SOURCE
#include <check.h>
#include <errno.h>
#include <fcntl.h>
#include <poll.h>
#include <pty.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/ioctl.h>
#include <sys/wait.h>
#include <unistd.h>

#include "harness.h"

/* fetchall with stderr on a pseudo-terminal of cols columns (stdout to
   /dev/null): what it drew, until it exits. resize_to: once the first bar
   is drawn, make the terminal that wide (0: never). */
static char *on_terminal(const char *term, int cols, int resize_to,
                         const char *const argv[], int *status)
{
    struct winsize ws = {.ws_row = 24, .ws_col = (unsigned short)cols};
    int master;
    pid_t pid = forkpty(&master, NULL, NULL, &ws);
    ck_assert_int_ge(pid, 0);
    if (pid == 0) {
        int null = open("/dev/null", O_WRONLY);
        dup2(null, STDOUT_FILENO);
        setenv("TERM", term, 1);
        execv(argv[0], (char *const *)argv);
        _exit(127);
    }
    size_t len = 0, cap = 1 << 16;
    char *out = malloc(cap);
    int resized = 0;
    for (;;) {
        struct pollfd p = {master, POLLIN, 0};
        if (poll(&p, 1, 30000) <= 0)
            break;
        if (len + 4096 > cap)
            out = realloc(out, cap *= 2);
        ssize_t n = read(master, out + len, 4096);
        if (n <= 0) /* EIO: the last process with the terminal is gone */
            break;
        len += (size_t)n;
        out[len] = '\0';
        if (resize_to && !resized && strstr(out, " done | ")) {
            ws.ws_col = (unsigned short)resize_to;
            ck_assert_int_eq(ioctl(master, TIOCSWINSZ, &ws), 0);
            resized = 1;
            out[len] = '\0';
            len += (size_t)snprintf(out + len, cap - len, "<RESIZED>");
        }
    }
    out[len] = '\0';
    close(master);
    int st;
    ck_assert_int_eq(waitpid(pid, &st, 0), pid);
    *status = WIFEXITED(st) ? WEXITSTATUS(st) : 128 + WTERMSIG(st);
    return out;
}

/* The widest bar drawn after the mark (NULL: from the start): the text
   between a CR and the clear-to-end-of-line that follows it. */
static size_t widest_bar(const char *out, const char *mark)
{
    size_t most = 0;
    const char *p = mark ? strstr(out, mark) : out;
    ck_assert_ptr_nonnull(p);
    while ((p = strchr(p, '\r'))) {
        const char *end = strstr(p, "\033[K");
        if (!end)
            break;
        if ((size_t)(end - p - 1) > most && strstr(p, " done | ") &&
            strstr(p, " done | ") < end)
            most = (size_t)(end - p - 1);
        p = end;
    }
    return most;
}

START_TEST(a_bar_on_a_terminal)
{
    int status;
    /* the second times out after the bar is up */
    const char *argv[] = {fetchall,
                          "--retry",
                          "0",
                          "-t",
                          "0.7",
                          ts_url(&srv, "/delay/300"),
                          ts_url(&srv, "/delay/5000"),
                          ts_url(&srv, "/delay/500"),
                          NULL};
    char *out = on_terminal("xterm", 200, 0, argv, &status);
    ck_assert_int_eq(status, 1);
    /* redrawn in place, with what was done and how */
    ck_assert_ptr_nonnull(strstr(out, "/3 ("));
    ck_assert_ptr_nonnull(strstr(out, " ok, "));
    ck_assert_ptr_nonnull(strstr(out, " in flight, "));
    ck_assert_ptr_nonnull(strstr(out, " hosts paused"));
    ck_assert_uint_ge(count_str(out, "\r"), 3);
    /* the error line: on a line of its own, the bar cleared first */
    const char *err = strstr(out, "fetchall: [2] http://127.0.0.1:");
    ck_assert_ptr_nonnull(err);
    ck_assert_int_eq(err[-1], 'K'); /* ... "\r\033[K" just before it */
    ck_assert_int_eq(err[-3], '\033');
    /* at the end the bar is gone and the summary is the last line */
    const char *sum = strstr(out, "fetchall: 3 done in ");
    ck_assert_ptr_nonnull(sum);
    ck_assert_ptr_nonnull(strstr(sum, "2 ok, 1 failed"));
    ck_assert_ptr_null(strstr(sum, " done | "));
    ck_assert_int_eq(sum[-1], 'K');
    free(out);
}
END_TEST

START_TEST(as_wide_as_the_terminal_is_now)
{
    int status;
    const char *argv[] = {fetchall, ts_url(&srv, "/delay/1500"),
                          ts_url(&srv, "/delay/1400"), NULL};
    char *out = on_terminal("xterm", 200, 40, argv, &status);
    ck_assert_int_eq(status, 0);
    ck_assert_uint_gt(widest_bar(out, NULL), 40); /* 200 columns first */
    ck_assert_uint_le(widest_bar(out, "<RESIZED>"), 39);
    free(out);
}
END_TEST

START_TEST(none_where_it_does_not_belong)
{
    int status;
    const char *argv[] = {fetchall, ts_url(&srv, "/delay/600"), NULL};
    char *out = on_terminal("dumb", 80, 0, argv, &status);
    ck_assert_int_eq(status, 0);
    ck_assert_str_eq(out, ""); /* TERM=dumb: nothing */
    free(out);
    const char *quiet[] = {fetchall, "-q", ts_url(&srv, "/delay/600"), NULL};
    out = on_terminal("xterm", 80, 0, quiet, &status);
    ck_assert_str_eq(out, "");
    free(out);
    const char *none[] = {fetchall, "--progress", "none",
                          ts_url(&srv, "/delay/600"), NULL};
    out = on_terminal("xterm", 80, 0, none, &status);
    ck_assert_str_eq(out, "");
    free(out);
    /* stderr a pipe: only the error lines */
    run_result r;
    RUN(&r, NULL, "--retry", "0", ts_url(&srv, "/delay/600"),
        "http://127.0.0.1:1/");
    ck_assert_int_eq(r.status, 1);
    ck_assert_uint_eq(count_str(r.err, "\n"), 1);
    ck_assert_ptr_null(strstr(r.err, "done"));
    run_free(&r);
    RUN(&r, NULL, "--progress", "sometimes", ts_url(&srv, "/"));
    ck_assert_int_eq(r.status, 2);
    run_free(&r);
}
END_TEST

START_TEST(plain_lines_for_a_log)
{
    /* a line every 10 s, and the summary; into a pipe when asked */
    run_result r;
    RUN(&r, NULL, "--progress", "plain", ts_url(&srv, "/delay/10600"),
        ts_url(&srv, "/bytes/2"));
    ck_assert_int_eq(r.status, 0);
    ck_assert_uint_eq(count_str(r.err, "fetchall: progress: "), 1);
    ck_assert_ptr_nonnull(strstr(r.err, "fetchall: progress: 1/2 (50%) done"));
    ck_assert_ptr_nonnull(strstr(r.err, "fetchall: 2 done in 0:1"));
    ck_assert_ptr_null(strstr(r.err, "\r"));
    ck_assert_ptr_null(strstr(r.err, "\033"));
    run_free(&r);
}
END_TEST

static Suite *progress_suite(void)
{
    Suite *s = suite_create("fetchall --progress");
    TCase *tc = tcase_create("cli");
    tcase_add_checked_fixture(tc, cli_setup, srv_teardown);
    tcase_set_timeout(tc, 60);
    tcase_add_test(tc, a_bar_on_a_terminal);
    tcase_add_test(tc, as_wide_as_the_terminal_is_now);
    tcase_add_test(tc, none_where_it_does_not_belong);
    tcase_add_test(tc, plain_lines_for_a_log);
    suite_add_tcase(s, tc);
    return s;
}

int main(void)
{
    return run_suite(progress_suite());
}
