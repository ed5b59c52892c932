/* SPDX-License-Identifier: MIT */
/*
 * The fault suite: output and input a user can trust. fetchall with real
 * files, signals and hostile servers (tests/server/faultserver), and the
 * library with bad arguments and hostile text.
 */
#define _GNU_SOURCE
#include <arpa/inet.h>
#include <check.h>
#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <jansson.h>
#include <math.h>
#include <netinet/in.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sched.h>
#include <sys/mount.h>
#include <sys/resource.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <unistd.h>

#include <event2/event.h>

#include "harness.h"
#include "libfetch.h"

static test_server fs; /* the fault server; srv is the well-behaved one */

static void setup(void)
{
    cli_setup();
    fs_start(&fs);
}

static void teardown(void)
{
    ts_stop(&fs);
    srv_teardown();
}

#define ARGV FETCHALL_ARGV

/* A temporary file holding text, opened with flags; its path in path. */
static int temp_file(char *path, const char *text, int flags)
{
    strcpy(path, "/tmp/fetchall-fault-XXXXXX");
    int fd = mkstemp(path);
    ck_assert_int_ge(fd, 0);
    ck_assert_int_eq(write(fd, text, strlen(text)), (ssize_t)strlen(text));
    close(fd);
    fd = open(path, flags);
    ck_assert_int_ge(fd, 0);
    return fd;
}

/* Wait until the file behind fd has at least n bytes (30 s at most). */
static void wait_size(int fd, off_t n)
{
    struct stat st;
    double give_up = now_s() + 30;
    for (;;) {
        ck_assert_int_eq(fstat(fd, &st), 0);
        if (st.st_size >= n)
            return;
        ck_assert_msg(now_s() < give_up, "file stayed at %ld bytes",
                      (long)st.st_size);
        usleep(5000);
    }
}

/* Every byte is printable, or a newline ending a line. */
static void assert_safe_text(const char *s, size_t len)
{
    for (size_t i = 0; i < len; i++) {
        unsigned char c = (unsigned char)s[i];
        ck_assert_msg(c == '\n' || (c >= 0x20 && c != 0x7F && c < 0x80),
                      "byte 0x%02x at %zu of: %s", c, i, s);
    }
}

static void rm_rf(const char *dir)
{
    DIR *d = opendir(dir);
    struct dirent *e;
    char path[4096];
    if (!d)
        return;
    while ((e = readdir(d))) {
        if (!strcmp(e->d_name, ".") || !strcmp(e->d_name, ".."))
            continue;
        snprintf(path, sizeof path, "%s/%s", dir, e->d_name);
        if (unlink(path) != 0)
            rm_rf(path);
    }
    closedir(d);
    rmdir(dir);
}

/* ---- output files ---- */

START_TEST(append_keeps_what_the_file_held)
{
    char path[64];
    const char *variants[][2] = {
        {"--threads", "1"}, {"--threads", "3"}, {"--jsonl", "-q"}};
    for (int v = 0; v < 3; v++) {
        int fd = temp_file(path, "before\n", O_WRONLY | O_APPEND);
        /* the first fails at once, the third after part of its body */
        pid_t pid =
            run_spawn(ARGV("-q", "-t", "1", variants[v][0], variants[v][1],
                           "http://127.0.0.1:1/", ts_url(&srv, "/bytes/3"),
                           ts_url(&srv, "/drip/100"), ts_url(&srv, "/bytes/4")),
                      -1, fd, -1, 0);
        ck_assert_int_eq(run_reap(pid), 1);
        close(fd);
        size_t len;
        char *got = slurp(path, &len);
        ck_assert(strncmp(got, "before\n", 7) == 0);
        if (v < 2)
            ck_assert_str_eq(got, "before\nabcabcd");
        else /* four JSON lines after it */
            ck_assert_uint_eq(count_str(got, "\n"), 5);
        free(got);
        unlink(path);
    }
}
END_TEST

START_TEST(stdout_and_stderr_one_file)
{
    char path[64];
    int modes[] = {O_WRONLY | O_TRUNC, O_WRONLY | O_APPEND};
    for (int m = 0; m < 2; m++) {
        /* > file 2>&1 and >> file 2>&1: one open file on both */
        int fd = temp_file(path, m ? "before\n" : "", modes[m]);
        pid_t pid = run_spawn(
            ARGV("-t", "1", ts_url(&srv, "/bytes/2"), ts_url(&srv, "/drip/100"),
                 "http://127.0.0.1:1/x", ts_url(&srv, "/bytes/3")),
            -1, fd, fd, 0);
        ck_assert_int_eq(run_reap(pid), 1);
        close(fd);
        size_t len;
        char *got = slurp(path, &len);
        char *drip = strstr(got, "fetchall: [2] ");
        char *refused = strstr(got, "fetchall: [3] ");
        ck_assert_msg(drip && refused, "got: %s", got);
        ck_assert(strncmp(got, m ? "before\nab" : "ab", m ? 9 : 2) == 0);
        ck_assert_ptr_nonnull(strstr(drip, "timed out"));
        ck_assert_ptr_nonnull(strstr(refused, "127.0.0.1:1/x: "));
        ck_assert_str_eq(got + len - 3, "abc");        /* after both lines */
        ck_assert_ptr_null(strstr(got, "abcdefghij")); /* no drip bytes */
        free(got);
        unlink(path);
    }
}
END_TEST

/* What the file may hold after a signal: "before\n" and whole bodies. */
static const char *signal_urls[4];
static size_t signal_sizes[] = {3000, 0, 20000, 0};

static void signal_run(int sig, double after, int random_moment)
{
    char path[64];
    int fd = temp_file(path, "before\n", O_WRONLY | O_APPEND);
    signal_urls[0] = ts_url(&srv, "/bytes/3000");
    signal_urls[1] = ts_url(&fs, "/fill/4000/B/5");
    signal_urls[2] = ts_url(&srv, "/bytes/20000");
    signal_urls[3] = ts_url(&fs, "/fill/100000/D/10");
    signal_sizes[1] = 4000;
    signal_sizes[3] = 100000;
    pid_t pid = run_spawn(ARGV("-q", signal_urls[0], signal_urls[1],
                               signal_urls[2], signal_urls[3]),
                          -1, fd, -1, 0);
    if (random_moment)
        usleep((useconds_t)(after * 1e6));
    else /* part of the last body is in the file */
        wait_size(fd, 7 + 3000 + 4000 + 20000 + 500);
    kill(pid, sig);
    ck_assert_int_eq(run_reap(pid), 128 + sig);
    close(fd);
    size_t len, at = 7, k = 0;
    char *got = slurp(path, &len);
    ck_assert(strncmp(got, "before\n", 7) == 0);
    /* whole bodies, each in its place, and nothing after the last */
    while (at < len && k < 4) {
        ck_assert_uint_le(at + signal_sizes[k], len);
        char want = k == 1 ? 'B' : k == 3 ? 'D' : 0;
        for (size_t i = 0; i < signal_sizes[k]; i++)
            ck_assert_int_eq(got[at + i], want ? want : 'a' + (int)(i % 26));
        at += signal_sizes[k++];
    }
    ck_assert_uint_eq(at, len);
    if (!random_moment)
        ck_assert_uint_eq(k, 3);
    free(got);
    unlink(path);
}

START_TEST(signal_into_a_file_leaves_whole_bodies)
{
    int sigs[] = {SIGINT, SIGTERM, SIGHUP};
    for (int i = 0; i < 3; i++)
        signal_run(sigs[i], 0, 0);
    test_seed("signal_into_a_file_leaves_whole_bodies");
    for (int i = 0; i < 4; i++) /* at a random moment */
        signal_run(sigs[i % 3], 0.05 + (double)(rand() % 1500) / 1000, 1);
}
END_TEST

/* Started as nohup starts it, with SIGHUP ignored: a SIGHUP does not stop
   the run, a later SIGTERM does (pending signals are taken lowest number
   first, so a SIGHUP taken would end it with 129). */
START_TEST(a_signal_ignored_at_the_start_stays_ignored)
{
    char path[64];
    int fd = temp_file(path, "", O_WRONLY | O_TRUNC);
    pid_t pid = run_spawn_ignoring(ARGV("-q", ts_url(&srv, "/bytes/3000"),
                                        ts_url(&fs, "/fill/100000/D/10")),
                                   fd, SIGHUP);
    wait_size(fd, 3000 + 500);
    ck_assert_int_eq(kill(pid, SIGHUP), 0);
    wait_size(fd, 3000 + 1500); /* still fetching */
    ck_assert_int_eq(kill(pid, SIGTERM), 0);
    ck_assert_int_eq(run_reap(pid), 128 + SIGTERM);
    close(fd);
    unlink(path);
}
END_TEST

START_TEST(signal_with_output_dir_leaves_no_partial_file)
{
    char dir[] = "/tmp/fetchall-fault-dir-XXXXXX", path[600];
    ck_assert_ptr_nonnull(mkdtemp(dir));
    int sigs[] = {SIGINT, SIGTERM, SIGHUP};
    for (int i = 0; i < 3; i++) {
        char sub[256];
        snprintf(sub, sizeof sub, "%s/run%d", dir, i);
        pid_t pid = run_spawn(ARGV("-q", "-o", sub, ts_url(&srv, "/bytes/10"),
                                   ts_url(&fs, "/fill/30000/C/10"),
                                   ts_url(&srv, "/bytes/20"),
                                   ts_url(&fs, "/fill/30000/E/10")),
                              -1, -1, -1, 0);
        /* both fast bodies are done and both slow ones have begun */
        double give_up = now_s() + 60;
        int parts = 0, done = 0;
        while (parts < 2 || done < 2) {
            DIR *d = opendir(sub);
            struct dirent *e;
            parts = done = 0;
            while (d && (e = readdir(d))) {
                parts += strstr(e->d_name, ".part") != NULL;
                done += !strcmp(e->d_name, "1") || !strcmp(e->d_name, "3");
            }
            if (d)
                closedir(d);
            ck_assert(now_s() < give_up);
            usleep(5000);
        }
        kill(pid, sigs[i]);
        ck_assert_int_eq(run_reap(pid), 128 + sigs[i]);
        DIR *d = opendir(sub);
        struct dirent *e;
        int files = 0;
        while ((e = readdir(d))) {
            if (e->d_name[0] == '.' && (!e->d_name[1] || e->d_name[1] == '.'))
                continue;
            ck_assert_msg(!strchr(e->d_name, '.'), "left: %s", e->d_name);
            /* what is there is whole: 1 and 3 only */
            ck_assert(!strcmp(e->d_name, "1") || !strcmp(e->d_name, "3"));
            snprintf(path, sizeof path, "%s/%s", sub, e->d_name);
            size_t len;
            char *got = slurp(path, &len);
            char *want = expected_bytes(e->d_name[0] == '1' ? 10 : 20);
            ck_assert_str_eq(got, want);
            free(got);
            free(want);
            files++;
        }
        closedir(d);
        ck_assert_int_eq(files, 2);
    }
    rm_rf(dir);
}
END_TEST

START_TEST(output_dir_is_never_followed_or_stale)
{
    char dir[] = "/tmp/fetchall-fault-dir-XXXXXX", path[600], victim[256];
    ck_assert_ptr_nonnull(mkdtemp(dir));
    snprintf(victim, sizeof victim, "%s.victim", dir);
    FILE *f = fopen(victim, "w");
    fputs("precious\n", f);
    fclose(f);
    char out[256];
    snprintf(out, sizeof out, "%s/a/b", dir); /* parents are created */
    run_result r;
    RUN(&r, NULL, "-o", out, ts_url(&srv, "/bytes/3"));
    ck_assert_int_eq(r.status, 0);
    run_free(&r);
    /* an earlier run's result, and a symlink planted at a result name */
    snprintf(path, sizeof path, "%s/2", out);
    ck_assert_int_eq(symlink(victim, path), 0);
    RUN(&r, NULL, "-o", out, ts_url(&srv, "/bytes/5"),
        ts_url(&srv, "/bytes/6"));
    ck_assert_int_eq(r.status, 2); /* refused: nothing fetched */
    ck_assert_ptr_nonnull(strstr(r.err, "--clobber"));
    run_free(&r);
    RUN(&r, NULL, "--clobber", "-o", out, ts_url(&srv, "/bytes/5"),
        ts_url(&srv, "/bytes/6"));
    ck_assert_int_eq(r.status, 0);
    run_free(&r);
    size_t len;
    char *got = slurp(victim, &len);
    ck_assert_str_eq(got, "precious\n"); /* not followed */
    free(got);
    struct stat st;
    ck_assert_int_eq(lstat(path, &st), 0);
    ck_assert(S_ISREG(st.st_mode)); /* the link itself was replaced */
    got = slurp(path, &len);
    ck_assert_str_eq(got, "abcdef");
    free(got);
    /* a request that fails this time leaves no older DIR/N behind */
    RUN(&r, NULL, "-q", "--clobber", "-o", out, ts_url(&srv, "/bytes/1"),
        "http://127.0.0.1:1/");
    ck_assert_int_eq(r.status, 1);
    run_free(&r);
    ck_assert_int_ne(access(path, F_OK), 0);
    unlink(victim);
    rm_rf(dir);
}
END_TEST

START_TEST(two_runs_into_one_dir_never_mix)
{
    char dir[] = "/tmp/fetchall-fault-dir-XXXXXX", path[600];
    ck_assert_ptr_nonnull(mkdtemp(dir));
    enum { N = 6, SIZE = 3000 };
    const char *a[N + 5], *b[N + 5];
    a[0] = b[0] = fetchall;
    a[1] = b[1] = "--clobber";
    a[2] = b[2] = "-o";
    a[3] = b[3] = dir;
    for (int i = 0; i < N; i++) { /* the same names, other bytes */
        a[4 + i] = ts_url(&fs, "/fill/%d/A/5?%d", SIZE, i);
        b[4 + i] = ts_url(&fs, "/fill/%d/B/7?%d", SIZE, i);
    }
    a[4 + N] = b[4 + N] = NULL;
    pid_t pa = run_spawn(a, -1, -1, -1, 0), pb = run_spawn(b, -1, -1, -1, 0);
    ck_assert_int_eq(run_reap(pa), 0);
    ck_assert_int_eq(run_reap(pb), 0);
    for (int i = 1; i <= N; i++) {
        snprintf(path, sizeof path, "%s/%d", dir, i);
        size_t len;
        char *got = slurp(path, &len);
        ck_assert_uint_eq(len, SIZE);
        for (size_t k = 1; k < len; k++)
            ck_assert_int_eq(got[k], got[0]);
        ck_assert(got[0] == 'A' || got[0] == 'B');
        free(got);
    }
    rm_rf(dir);
}
END_TEST

START_TEST(low_open_file_limit_with_output_dir)
{
    char dir[] = "/tmp/fetchall-fault-dir-XXXXXX", list[64];
    ck_assert_ptr_nonnull(mkdtemp(dir));
    enum { N = 300 };
    char *urls = malloc(N * 80);
    urls[0] = '\0';
    for (int i = 0; i < N; i++)
        strcat(urls, ts_url(&srv, "/delay/20?i=%d\n", i));
    int in = temp_file(list, urls, O_RDONLY);
    int err[2];
    ck_assert_int_eq(pipe(err), 0);
    pid_t pid = run_spawn(ARGV("--clobber", "-j", "500", "-o", dir, "-i", "-"),
                          in, -1, err[1], 256);
    close(err[1]);
    char msg[8192] = {0};
    ssize_t n, have = 0;
    while ((n = read(err[0], msg + have, sizeof msg - 1 - (size_t)have)) > 0)
        have += n;
    ck_assert_int_eq(run_reap(pid), 0);
    ck_assert_msg(strstr(msg, "using -j"), "stderr: %s", msg);
    ck_assert_uint_eq(count_str(msg, "\n"), 1); /* that line only */
    DIR *d = opendir(dir);
    int files = 0;
    while (readdir(d))
        files++;
    closedir(d);
    ck_assert_int_eq(files, N + 2);
    close(in);
    close(err[0]);
    unlink(list);
    free(urls);
    rm_rf(dir);
}
END_TEST

/* ---- untrusted text ---- */

START_TEST(control_bytes_never_reach_the_terminal)
{
    const char *urls[] = {
        "http://127.0.0.1:1/\x1b[2J\x1b]0;title\x07",
        "http://127.0.0.1:1/a\r\nfetchall: [9] forged",
        "http://127.0.0.1:1/\x7f\x9b\xc2\x9b[31m",
        "http://127.0.0.1:1/\xe2\x80\xae"
        "txt.exe",
        "http://127.0.0.1:1/\xff\xfe",
        "http://exa\x1bmple/",
    };
    enum { N = 6 };
    run_result r;
    RUN(&r, NULL, urls[0], urls[1], urls[2], urls[3], urls[4], urls[5],
        ts_url(&fs, "/redirect-scheme"), ts_url(&fs, "/evil-type"),
        ts_url(&fs, "/garbage"));
    ck_assert_int_eq(r.status, 1);
    assert_safe_text(r.err, r.err_len);
    /* one line each, none forged: every line is fetchall's own */
    ck_assert_uint_eq(count_str(r.err, "\n"), N + 2);
    ck_assert_uint_eq(count_str(r.err, "\nfetchall: ["), N + 1);
    ck_assert(strncmp(r.err, "fetchall: [", 11) == 0);
    ck_assert_ptr_nonnull(strstr(r.err, "\\r\\nfetchall: [9] forged"));
    for (int i = 1; i <= N; i++) {
        char tag[32];
        snprintf(tag, sizeof tag, "fetchall: [%d] http://", i);
        ck_assert_ptr_nonnull(strstr(r.err, tag));
    }
    ck_assert_str_eq(r.out, "ok"); /* the evil Content-Type's body */
    run_free(&r);
}
END_TEST

START_TEST(long_urls_keep_their_reason)
{
    size_t n = 100000;
    char *url = malloc(n + 32);
    strcpy(url, "http://127.0.0.1:1/");
    memset(url + strlen(url), 'a', n);
    url[n + 19] = '\0';
    run_result r;
    RUN(&r, NULL, url);
    ck_assert_int_eq(r.status, 1);
    ck_assert_uint_lt(r.err_len, 600);
    ck_assert_ptr_nonnull(strstr(r.err, "...("));
    ck_assert_ptr_nonnull(
        strstr(r.err, "Couldn't connect to server (3 attempts)\n"));
    run_free(&r);
    fetch_client *c = client_with(2, 0, 0);
    fetch_task *t = fetch_get(c, url, NULL, NULL, NULL);
    ck_assert_int_eq(fetch_wait_for(t, FETCH_WAIT_FOREVER), FETCH_E_CONNECT);
    const char *m = fetch_task_response(t)->message;
    ck_assert_uint_lt(strlen(m), 600);
    ck_assert_ptr_nonnull(strstr(m, "aaa: Failed to connect"));
    fetch_task_free(t);
    assert_idle(c);
    client_free(c);
    free(url);
}
END_TEST

static const char *const members[] = {
    "index",       "url",          "effective_url",   "status",
    "ok",          "error",        "bytes",           "content_type",
    "time_queued", "time_connect", "time_first_byte", "time_total"};

static json_t *parse_line(char **at)
{
    char *nl = strchr(*at, '\n');
    ck_assert_ptr_nonnull(nl);
    json_error_t je;
    json_t *o = json_loadb(*at, (size_t)(nl - *at), JSON_ALLOW_NUL, &je);
    ck_assert_msg(o != NULL, "%s in: %.*s", je.text, (int)(nl - *at), *at);
    for (size_t i = 0; i < sizeof members / sizeof members[0]; i++)
        ck_assert_msg(json_object_get(o, members[i]), "no %s", members[i]);
    *at = nl + 1;
    return o;
}

START_TEST(jsonl_is_always_valid)
{
    run_result r;
    RUN(&r, NULL, "--jsonl", "http://127.0.0.1:1/\xff\xfe\x1b\x01",
        "http://127.0.0.1:1/caf\xc3\xa9", ts_url(&fs, "/redirect-evil"),
        ts_url(&fs, "/evil-type"), ts_url(&fs, "/redirect-scheme"),
        ts_url(&fs, "/garbage"), ts_url(&srv, "/binary/10"));
    ck_assert_int_eq(r.status, 1);
    ck_assert_uint_eq(count_str(r.out, "\n"), 7);
    char *at = r.out;
    for (int i = 1; i <= 7; i++) {
        json_t *o = parse_line(&at);
        ck_assert_int_eq(json_integer_value(json_object_get(o, "index")), i);
        const char *url = json_string_value(json_object_get(o, "url"));
        if (i == 1) /* each byte that is not UTF-8 is U+FFFD */
            ck_assert_str_eq(url, "http://127.0.0.1:1/\xef\xbf\xbd\xef\xbf\xbd"
                                  "\x1b\x01");
        if (i == 2)
            ck_assert_str_eq(url, "http://127.0.0.1:1/caf\xc3\xa9");
        if (i == 4)
            ck_assert_str_eq(
                json_string_value(json_object_get(o, "content_type")),
                "text/\x1b]0;pwned\x07\xef\xbf\xbd");
        json_decref(o);
    }
    run_free(&r);
}
END_TEST

START_TEST(credentials_are_never_printed)
{
    char redirect[512];
    /* percent-encoded here; the Location carries it as credentials */
    snprintf(redirect, sizeof redirect,
             "/redirect-to?url=http://u:%%73%%33cr3t@%s", srv.base + 7);
    strcat(redirect, "/bytes/2");
    const char *urls[] = {"http://user:s3cr3t@127.0.0.1:1/",
                          ts_url(&srv, "/status/404"), ts_url(&srv, "/bytes/3"),
                          ts_url(&srv, "%s", redirect),
                          "user:s3cr3t@127.0.0.1:1/x"};
    char with[2][256];
    snprintf(with[0], sizeof with[0], "http://u:s3cr3t@%s", urls[1] + 7);
    snprintf(with[1], sizeof with[1], "http://u:s3cr3t@%s", urls[2] + 7);
    for (int jsonl = 0; jsonl < 2; jsonl++) {
        run_result r;
        RUN(&r, NULL, jsonl ? "--jsonl" : "--fail", "--fail", urls[0], with[0],
            with[1], urls[3], urls[4]);
        ck_assert_int_eq(r.status, 1);
        ck_assert_ptr_null(strstr(r.out, "s3cr3t"));
        ck_assert_ptr_null(strstr(r.err, "s3cr3t"));
        ck_assert_ptr_nonnull(strstr(r.err, "http://***@127.0.0.1:1/"));
        ck_assert_ptr_nonnull(strstr(r.err, "***@127.0.0.1:1/x"));
        if (jsonl)
            ck_assert_uint_ge(count_str(r.out, "***@"), 5); /* a line each */
        run_free(&r);
    }
}
END_TEST

START_TEST(line_breaks_in_header_options_are_refused)
{
    const char *cases[][3] = {
        {"-H", "X-A: 1\r\nX-B: 2", "--header"},
        {"-H", "X-A: 1\nX-B: 2", "--header"},
        {"--header", "X-A\r\n: 1", "--header"},
        {"-A", "ua\r\nX-B: 2", "--user-agent"},
        {"--user-agent", "ua\nX-B: 2", "--user-agent"},
        {"-X", "GET\r\nX-B:", "--request"},
        {"-X", "GET /x HTTP/1.1", "--request"},
        {"-d", "a=1\r\nX-B: 2", "--data"},
        {"--data", "a\nb", "--data"},
    };
    for (size_t i = 0; i < sizeof cases / sizeof cases[0]; i++) {
        run_result r;
        RUN(&r, NULL, cases[i][0], cases[i][1], ts_url(&srv, "/headers"));
        ck_assert_msg(r.status == 2, "case %zu: exit %d", i, r.status);
        ck_assert_str_eq(r.out, "");
        ck_assert_msg(strstr(r.err, cases[i][2]), "case %zu: %s", i, r.err);
        assert_safe_text(r.err, r.err_len);
        run_free(&r);
    }
    long inflight, max, total;
    ts_stats(&srv, &inflight, &max, &total);
    ck_assert_int_eq(total, 0); /* nothing was sent */
}
END_TEST

/* ---- input ---- */

START_TEST(input_files_directories_and_schemes)
{
    run_result r;
    RUN(&r, NULL, "-i", "/tmp");
    ck_assert_int_eq(r.status, 2);
    ck_assert_ptr_nonnull(strstr(r.err, "/tmp: Is a directory"));
    run_free(&r);
    char a[64], b[64], text[256];
    snprintf(text, sizeof text, "%s\n", ts_url(&srv, "/bytes/1"));
    close(temp_file(a, text, O_RDONLY));
    snprintf(text, sizeof text, "%s\n%s\n", ts_url(&srv, "/bytes/2"),
             ts_url(&srv, "/bytes/3"));
    close(temp_file(b, text, O_RDONLY));
    RUN(&r, NULL, "-i", a, "-i", b, "-i", a);
    ck_assert_int_eq(r.status, 0);
    ck_assert_str_eq(r.out, "aababca");
    run_free(&r);
    RUN(&r, NULL, "-i", a, "-i", "/nonexistent/list");
    ck_assert_int_eq(r.status, 2);
    ck_assert_str_eq(r.out, ""); /* checked before anything is fetched */
    run_free(&r);
    unlink(a);
    unlink(b);
    /* no scheme: http://, also for a host named ftp.something (through
       the test server as a proxy, so that nothing is looked up) */
    RUN(&r, NULL, "-x", srv.base, "ftp.example/x", "example.org:8080/y");
    ck_assert_int_eq(r.status, 0);
    ck_assert_str_eq(r.out, "proxied http://ftp.example/x\n"
                            "proxied http://example.org:8080/y\n");
    run_free(&r);
}
END_TEST

START_TEST(hostile_servers_fail_one_request_each)
{
    char tls[256];
    snprintf(tls, sizeof tls, "https://127.0.0.1:%d/", fs.port);
    run_result r;
    RUN(&r, NULL, "-t", "2", "--max-filesize", "1000000",
        ts_url(&srv, "/bytes/1"), ts_url(&fs, "/reset/5000"),
        ts_url(&srv, "/bytes/2"), ts_url(&fs, "/stall/100"),
        ts_url(&fs, "/garbage"), ts_url(&fs, "/huge-header/300"),
        ts_url(&fs, "/gzip-bomb/100"), tls, ts_url(&fs, "/redirect-file"),
        ts_url(&srv, "/drip/3"), ts_url(&srv, "/bytes/3"));
    ck_assert_int_eq(r.status, 1);
    char *drip = expected_bytes(300), want[400];
    snprintf(want, sizeof want, "aab%sabc", drip); /* the good ones only */
    free(drip);
    ck_assert_str_eq(r.out, want);
    assert_safe_text(r.err, r.err_len);
    ck_assert_uint_eq(count_str(r.err, "\n"), 7);
    ck_assert_ptr_nonnull(strstr(r.err, "[4] "));
    ck_assert_ptr_nonnull(strstr(r.err, "timed out"));
    ck_assert_ptr_nonnull(strstr(r.err, "body larger than 1000000 bytes"));
    ck_assert_ptr_nonnull(strstr(r.err, "[9] "));
    ck_assert_ptr_nonnull(strstr(r.err, "Protocol \"file\" not supported"));
    run_free(&r);
}
END_TEST

/* ---- the library ---- */

START_TEST(library_rejects_bad_arguments)
{
    const double bad[] = {NAN, INFINITY, -INFINITY, -1};
    fetch_options o;
    int err;
    for (int i = 0; i < 4; i++) {
        test_options(&o);
        o.timeout = bad[i];
        err = 0;
        ck_assert_ptr_null(fetch_client_new(&o, NULL, &err));
        ck_assert_int_eq(err, FETCH_E_INVAL);
        test_options(&o);
        o.connect_timeout = bad[i];
        ck_assert_ptr_null(fetch_client_new(&o, NULL, &err));
        ck_assert_int_eq(err, FETCH_E_INVAL);
    }
    const char *headers[][2] = {{"X-A: 1", NULL},
                                {"X-A: 1\r\nX-B: 2", "X-C: 3"},
                                {"X-A: 1\n", "X-C: 3"},
                                {"no colon", "X-C: 3"},
                                {": no name", "X-C: 3"}};
    for (int i = 0; i < 5; i++) {
        test_options(&o);
        o.headers = headers[i];
        o.n_headers = 2;
        ck_assert_ptr_null(fetch_client_new(&o, NULL, &err));
        ck_assert_int_eq(err, FETCH_E_INVAL);
    }
    test_options(&o);
    o.user_agent = "ua\r\nX-B: 1";
    ck_assert_ptr_null(fetch_client_new(&o, NULL, &err));
    ck_assert_int_eq(err, FETCH_E_INVAL);
    test_options(&o);
    o.accept_encoding = "gzip\n";
    ck_assert_ptr_null(fetch_client_new(&o, NULL, &err));
    ck_assert_int_eq(err, FETCH_E_INVAL);

    fetch_client *c = client_with(4, 0, 0);
    fetch_request req;
    const char *methods[] = {"GET /x", "GET\r\nX: 1", "", "G\x7f"};
    for (int i = 0; i < 4; i++) {
        fetch_request_init(&req);
        req.url = ts_url(&srv, "/echo");
        req.method = methods[i];
        err = 0;
        ck_assert_ptr_null(fetch_submit(c, &req, NULL, NULL, &err));
        ck_assert_int_eq(err, FETCH_E_INVAL);
    }
    for (int i = 0; i < 5; i++) {
        fetch_request_init(&req);
        req.url = ts_url(&srv, "/echo");
        req.headers = headers[i];
        req.n_headers = 2;
        ck_assert_ptr_null(fetch_submit(c, &req, NULL, NULL, &err));
        ck_assert_int_eq(err, FETCH_E_INVAL);
    }
    for (int i = 0; i < 3; i++) { /* negative is "the client's" here */
        fetch_request_init(&req);
        req.url = ts_url(&srv, "/echo");
        req.timeout = bad[i];
        ck_assert_ptr_null(fetch_submit(c, &req, NULL, NULL, &err));
        ck_assert_int_eq(err, FETCH_E_INVAL);
    }
    fetch_request_init(&req);
    ck_assert_ptr_null(fetch_submit(c, &req, NULL, NULL, &err)); /* no url */
    ck_assert_int_eq(err, FETCH_E_INVAL);
    ck_assert_ptr_null(fetch_submit(c, NULL, NULL, NULL, &err));
    ck_assert_int_eq(err, FETCH_E_INVAL);

    fetch_task *t = fetch_get(c, ts_url(&srv, "/bytes/2"), NULL, NULL, NULL);
    ck_assert_int_eq(fetch_wait_for(t, NAN), FETCH_E_INVAL);
    ck_assert_int_eq(fetch_wait_for(t, INFINITY), FETCH_E_INVAL);
    ck_assert_int_eq(fetch_gather(c, &t, 1, NAN, 0), FETCH_E_INVAL);
    ck_assert_int_eq(fetch_gather(c, &t, 1, INFINITY, 0), FETCH_E_INVAL);
    ck_assert_ptr_null(fetch_as_completed(c, NAN, &err));
    ck_assert_int_eq(err, FETCH_E_INVAL);
    ck_assert_int_eq(fetch_client_set_deadline(c, NAN), FETCH_E_INVAL);
    ck_assert_int_eq(fetch_client_set_deadline(c, -1), FETCH_E_INVAL);
    ck_assert_int_eq(fetch_client_set_deadline(NULL, 1), FETCH_E_INVAL);
    /* still fine after all that; a huge timeout is no timeout */
    ck_assert_int_eq(fetch_wait_for(t, 1e300), FETCH_OK);
    ck_assert_str_eq(fetch_task_response(t)->body, "ab");
    fetch_request_init(&req);
    req.url = ts_url(&srv, "/echo");
    req.method = "PATCH";
    req.timeout = 1e300;
    fetch_task *p = fetch_submit(c, &req, NULL, NULL, &err);
    ck_assert_int_eq(err, FETCH_OK);
    ck_assert_int_eq(fetch_wait_for(p, FETCH_WAIT_FOREVER), FETCH_OK);
    ck_assert_str_eq(fetch_task_response(p)->body, "PATCH\n");
    fetch_task_free(t);
    fetch_task_free(p);
    assert_idle(c);
    client_free(c);
}
END_TEST

START_TEST(library_messages_are_safe)
{
    fetch_client *c = client_with(4, 0, 0);
    const char *urls[] = {"http://u:s3cr3t@127.0.0.1:1/\x1b[2J\x07\xff",
                          "http://127.0.0.1:1/\r\nX: 1",
                          "u:s3cr3t@127.0.0.1:1/"};
    fetch_task *t[3];
    for (int i = 0; i < 3; i++)
        t[i] = fetch_get(c, urls[i], NULL, NULL, NULL);
    ck_assert_int_eq(fetch_gather(c, t, 3, FETCH_WAIT_FOREVER, 0), 3);
    for (int i = 0; i < 3; i++) {
        const fetch_response *r = fetch_task_response(t[i]);
        assert_safe_text(r->message, strlen(r->message));
        ck_assert_ptr_null(strstr(r->message, "s3cr3t"));
        ck_assert_str_eq(r->url, urls[i]); /* the data stays as given */
        fetch_task_free(t[i]);
    }
    char b[64];
    ck_assert_uint_eq(fetch_text_escape(b, sizeof b, "a\x1b\n\\\xff", 5, 0),
                      strlen("a\\x1B\\n\\\\\\xFF"));
    ck_assert_str_eq(b, "a\\x1B\\n\\\\\\xFF");
    ck_assert_uint_eq(fetch_text_escape(b, 4, "a\x1b", 2, 0), 5);
    ck_assert_str_eq(b, "a"); /* never half an escape */
    fetch_text_escape(b, sizeof b, "\xe2\x80\xae\xc2\x9b", 5, 0);
    ck_assert_str_eq(b, "\\u202E\\u009B");
    fetch_text_escape(b, sizeof b, "x\xff\xc3\xa9", 4, FETCH_TEXT_UTF8);
    ck_assert_str_eq(b, "x\xef\xbf\xbd\xc3\xa9");
    ck_assert_uint_eq(fetch_url_redact(b, sizeof b, "https://a:b@h/p@q"),
                      strlen("https://***@h/p@q"));
    ck_assert_str_eq(b, "https://***@h/p@q");
    fetch_url_redact(b, sizeof b, "https://h/p?x=@y");
    ck_assert_str_eq(b, "https://h/p?x=@y");
    assert_idle(c);
    client_free(c);
}
END_TEST

START_TEST(library_scheme_less_url_is_http)
{
    fetch_options o;
    test_options(&o);
    o.proxy = srv.base; /* nothing is looked up */
    fetch_client *c = client_new(&o, NULL);
    fetch_task *t = fetch_get(c, "ftp.example/x", NULL, NULL, NULL);
    ck_assert_int_eq(fetch_wait_for(t, FETCH_WAIT_FOREVER), FETCH_OK);
    ck_assert_str_eq(fetch_task_response(t)->body,
                     "proxied http://ftp.example/x\n");
    ck_assert_str_eq(fetch_task_url(t), "ftp.example/x");
    fetch_task_free(t);
    assert_idle(c);
    client_free(c);
}
END_TEST

/* Freeing the client from inside callbacks. */
static int calls[8];
static fetch_client *victim;
static void free_client_cb(fetch_task *t, void *arg)
{
    calls[(long)arg]++;
    if (fetch_task_response(t)->error == FETCH_OK && victim) {
        client_drop(victim); /* deferred: it is inside a callback */
        ck_assert_ptr_null(fetch_get(victim, "http://127.0.0.1:1/", NULL, NULL,
                                     NULL)); /* it takes no new work */
        victim = NULL;
    }
}

START_TEST(library_client_freed_from_a_callback)
{
    /* blocking: the gather that ran the callback returns at once */
    fetch_client *c = client_with(2, 0, 0);
    fetch_task *t[4];
    memset(calls, 0, sizeof calls);
    for (long i = 0; i < 4; i++)
        t[i] = fetch_get(
            c, ts_url(&srv, i ? "/delay/5000?%ld" : "/bytes/%ld", i + 1),
            free_client_cb, (void *)i, NULL);
    victim = c;
    /* it returns at once: the 5 s requests end cancelled (below) */
    ck_assert_int_eq(fetch_gather(c, t, 4, FETCH_WAIT_FOREVER, 0), 3);
    for (int i = 0; i < 4; i++) {
        ck_assert_int_eq(calls[i], 1);
        ck_assert_int_eq(fetch_task_response(t[i])->error,
                         i ? FETCH_E_CANCELLED : FETCH_OK);
        fetch_task_free(t[i]); /* detached: freed without the client */
    }
    /* embedded: the client is gone once the event that ran it returns */
    struct event_base *base = event_base_new();
    c = client_new(NULL, base);
    memset(calls, 0, sizeof calls);
    for (long i = 0; i < 3; i++)
        t[i] = fetch_get(
            c, ts_url(&srv, i ? "/delay/5000?%ld" : "/bytes/%ld", i + 1),
            free_client_cb, (void *)i, NULL);
    victim = c;
    /* it ran out of events: the client left none behind */
    ck_assert_int_eq(event_base_dispatch(base), 1);
    ck_assert_int_eq(event_base_get_num_events(base, EVENT_BASE_COUNT_ADDED),
                     0);
    for (int i = 0; i < 3; i++) {
        ck_assert_int_eq(calls[i], 1);
        fetch_task_free(t[i]);
    }
    event_base_free(base);
}
END_TEST

#if defined(__SANITIZE_ADDRESS__) || defined(__SANITIZE_THREAD__)
#define ASAN 1
#elif defined(__has_feature)
#if __has_feature(address_sanitizer)
#define ASAN 1
#endif
#endif

START_TEST(library_task_freed_twice_aborts)
{
#ifdef ASAN /* the sanitizer reports the use after free itself */
    raise(SIGABRT);
#else
    if (getenv("FETCH_VALGRIND")) /* and so does valgrind */
        raise(SIGABRT);
    fetch_client *c = client_with(1, 0, 0);
    fetch_task *t = fetch_get(c, ts_url(&srv, "/bytes/1"), NULL, NULL, NULL);
    fetch_wait_for(t, FETCH_WAIT_FOREVER);
    fetch_task_free(t);
    fetch_task_free(t); /* aborts with a message */
    client_free(c);
#endif
}
END_TEST

START_TEST(library_deadline_ends_everything)
{
    fetch_client *c = client_with(1, 0, 0);
    fetch_task *t[3];
    for (int i = 0; i < 3; i++)
        t[i] =
            fetch_get(c, ts_url(&srv, "/delay/5000?%d", i), NULL, NULL, NULL);
    ck_assert_int_eq(fetch_client_set_deadline(c, 0.3), FETCH_OK);
    /* the 5 s answers are never waited for: each ends at the deadline */
    ck_assert_int_eq(fetch_gather(c, t, 3, FETCH_WAIT_FOREVER, 0), 3);
    for (int i = 0; i < 3; i++) {
        const fetch_response *r = fetch_task_response(t[i]);
        ck_assert_int_eq(r->error, FETCH_E_TIMEOUT);
        ck_assert_ptr_nonnull(strstr(r->message, "deadline of 0.3 s reached"));
        ck_assert_ptr_nonnull(strstr(r->message, i ? "queued" : "running"));
        fetch_task_free(t[i]);
    }
    /* after the deadline, new tasks end at once, from the loop */
    fetch_task *late = fetch_get(c, ts_url(&srv, "/bytes/1"), NULL, NULL, NULL);
    ck_assert(!fetch_task_done(late));
    ck_assert_int_eq(fetch_wait_for(late, 5), FETCH_E_TIMEOUT);
    ck_assert_ptr_nonnull(
        strstr(fetch_task_response(late)->message, "deadline"));
    fetch_task_free(late);
    /* cleared, the client works again */
    ck_assert_int_eq(fetch_client_set_deadline(c, 0), FETCH_OK);
    late = fetch_get(c, ts_url(&srv, "/bytes/1"), NULL, NULL, NULL);
    ck_assert_int_eq(fetch_wait_for(late, 5), FETCH_OK);
    fetch_task_free(late);
    assert_idle(c);
    client_free(c);
}
END_TEST

START_TEST(library_out_of_descriptors_is_reported_as_such)
{
    struct rlimit old, low;
    enum { N = 40 };
    fetch_client *c = client_with(N, 0, 0); /* its own descriptors first */
    getrlimit(RLIMIT_NOFILE, &old);
    int probe = open("/dev/null", O_RDONLY); /* the lowest free one */
    close(probe);
    low.rlim_cur = (rlim_t)probe + 12;
    low.rlim_max = old.rlim_max;
    ck_assert_int_eq(setrlimit(RLIMIT_NOFILE, &low), 0);
    fetch_task *t[N];
    for (int i = 0; i < N; i++)
        t[i] = fetch_get(c, ts_url(&srv, "/delay/200?%d", i), NULL, NULL, NULL);
    fetch_gather(c, t, N, FETCH_WAIT_FOREVER, 0);
    int ok = 0, nofd = 0;
    for (int i = 0; i < N; i++) {
        const fetch_response *r = fetch_task_response(t[i]);
        ok += r->error == FETCH_OK;
        if (r->error == FETCH_E_NOFD) {
            nofd++;
            ck_assert_ptr_nonnull(strstr(r->message, "file descriptors"));
        }
        ck_assert_msg(r->error == FETCH_OK || r->error == FETCH_E_NOFD,
                      "%d: %s", i, r->message);
        fetch_task_free(t[i]);
    }
    ck_assert_int_gt(ok, 0);
    ck_assert_int_gt(nofd, 0);
    assert_idle(c);
    client_free(c);
    setrlimit(RLIMIT_NOFILE, &old);
}
END_TEST

static int refuse_with(fetch_task *t, const char *d, size_t n, void *arg)
{
    (void)t;
    (void)d;
    (void)n;
    return (int)(long)arg;
}

START_TEST(library_data_callback_says_why)
{
    fetch_client *c = client_with(2, 0, 0);
    const int why[] = {ENOSPC, EMFILE, -1};
    const int want[] = {FETCH_E_WRITE, FETCH_E_NOFD, FETCH_E_CANCELLED};
    for (int i = 0; i < 3; i++) {
        fetch_request r;
        fetch_request_init(&r);
        r.url = ts_url(&srv, "/bytes/100");
        r.on_data = refuse_with;
        r.data_arg = (void *)(long)why[i];
        fetch_task *t = fetch_submit(c, &r, NULL, NULL, NULL);
        ck_assert_int_eq(fetch_wait_for(t, FETCH_WAIT_FOREVER), want[i]);
        if (why[i] > 0)
            ck_assert_ptr_nonnull(
                strstr(fetch_task_response(t)->message, strerror(why[i])));
        fetch_task_free(t);
    }
    assert_idle(c);
    client_free(c);
}
END_TEST

/* A scheme without "//" is a scheme (RFC 3986): "file:/etc/passwd" is
   refused as such, not taken for a host named file; a host and port, or
   credentials, without a scheme are still http://. Nothing is sent for a
   refused one. */
START_TEST(schemes_without_slashes_are_schemes)
{
    run_result r;
    char hostport[128], creds[160];
    snprintf(hostport, sizeof hostport, "127.0.0.1:%d/bytes/3", srv.port);
    snprintf(creds, sizeof creds, "u:p@127.0.0.1:%d/bytes/4", srv.port);
    RUN(&r, NULL, "file:/etc/passwd", "mailto:someone", "javascript:alert(1)",
        "FILE:etc", hostport, creds);
    ck_assert_int_eq(r.status, 1);
    ck_assert_str_eq(r.out, "abcabcd");
    ck_assert_ptr_nonnull(strstr(r.err, "[1] file:/etc/passwd: unsupported "
                                        "scheme \"file\" (only http and "
                                        "https)\n"));
    ck_assert_ptr_nonnull(strstr(r.err, "unsupported scheme \"mailto\""));
    ck_assert_ptr_nonnull(strstr(r.err, "unsupported scheme \"javascript\""));
    ck_assert_ptr_nonnull(strstr(r.err, "unsupported scheme \"FILE\""));
    ck_assert_uint_eq(count_str(r.err, "\n"), 4); /* tried once, none again */
    ck_assert_uint_eq(ts_seen(&srv, "/"), 2);
    run_free(&r);
}
END_TEST

/* Input as editors and programs leave it: a byte order mark at the start
   is dropped; a line with a NUL byte is that line's own error, naming the
   file and line, never a URL cut short; the others are fetched. */
START_TEST(byte_order_marks_and_nul_bytes_in_input)
{
    char path[64], text[512];
    snprintf(text, sizeof text, "\xEF\xBB\xBF%s\n%s", ts_url(&srv, "/bytes/3"),
             ts_url(&srv, "/bytes/4"));
    size_t at = strlen(text);
    snprintf(text + at + 1, sizeof text - at - 1, "x\n%s\n",
             ts_url(&srv, "/bytes/5")); /* "/bytes/4" NUL "x" */
    size_t len = at + 1 + strlen(text + at + 1);
    strcpy(path, "/tmp/fetchall-fault-XXXXXX");
    int fd = mkstemp(path);
    ck_assert_int_eq(write(fd, text, len), (ssize_t)len);
    close(fd);
    run_result r;
    RUN(&r, NULL, "-i", path);
    ck_assert_int_eq(r.status, 1);
    ck_assert_str_eq(r.out, "abcabcde");
    char want[256];
    snprintf(want, sizeof want, "[2] %s\\x00x: a NUL byte in line 2 of %s",
             ts_url(&srv, "/bytes/4"), path);
    ck_assert_msg(strstr(r.err, want), "%s", r.err);
    ck_assert_uint_eq(count_str(r.err, "\n"), 1);
    ck_assert_uint_eq(ts_seen(&srv, "/bytes/"), 2); /* not /bytes/4 */
    run_free(&r);
    /* JSON lines: a record for it too, in its place */
    RUN(&r, NULL, "--jsonl", "-i", path);
    ck_assert_uint_eq(count_str(r.out, "\n"), 3);
    ck_assert_ptr_nonnull(strstr(r.out, "\"index\":2,"));
    ck_assert_ptr_nonnull(strstr(r.out, "\"error_kind\":\"url\""));
    run_free(&r);
    unlink(path);
}
END_TEST

/* A URL longer than libcurl can send is refused as too long, not "out of
   memory"; nothing is sent. */
START_TEST(a_url_too_long_to_send_says_so)
{
    size_t n = 5 * 1000 * 1000;
    const char *base = ts_url(&srv, "/bytes/1?");
    char *url = malloc(n + 2);
    size_t b = strlen(base);
    memcpy(url, base, b);
    memset(url + b, 'a', n - b);
    url[n] = '\n';
    url[n + 1] = '\0';
    char path[64];
    close(temp_file(path, url, O_RDONLY));
    run_result r;
    RUN(&r, NULL, "-i", path);
    ck_assert_int_eq(r.status, 1);
    ck_assert_ptr_nonnull(strstr(r.err, "URL too long to send (5000000 bytes"));
    ck_assert_ptr_null(strstr(r.err, "emory"));
    ck_assert_uint_eq(ts_seen(&srv, "/"), 0);
    run_free(&r);
    unlink(path);
    free(url);
}
END_TEST

/* An authority longer than any host key (a port of 2,000 digits, a
   scheme of 2,000 letters, a host of 5,000) is that URL's failure, and
   the URLs after it are fetched. */
START_TEST(an_authority_of_any_length_fails_alone)
{
    char *port = malloc(2100), *scheme = malloc(2100), *host = malloc(5100);
    snprintf(port, 2100, "http://127.0.0.1:%0*d/x", 2000, 1);
    memset(scheme, 'h', 2000);
    snprintf(scheme + 2000, 100, "://a/x");
    memcpy(host, "http://", 7);
    memset(host + 7, 'a', 5000);
    snprintf(host + 5007, 90, ":1/x");
    run_result r;
    RUN(&r, NULL, "-q", port, scheme, host, ts_url(&srv, "/bytes/3"));
    ck_assert_int_eq(r.status, 1);
    ck_assert_str_eq(r.out, "abc");
    run_free(&r);
    free(port);
    free(scheme);
    free(host);
}
END_TEST

/* --progress bar into a file (a log): carriage returns, no escape
   sequence. */
START_TEST(a_bar_into_a_file_has_no_escape_sequences)
{
    char path[64];
    int fd = temp_file(path, "", O_WRONLY | O_TRUNC);
    pid_t pid = run_spawn(
        ARGV("--progress", "bar", "-j", "2", ts_url(&srv, "/delay/700?i=1"),
             ts_url(&srv, "/delay/700?i=2"), "http://127.0.0.1:1/"),
        -1, -1, fd, 0);
    ck_assert_int_eq(run_reap(pid), 1);
    close(fd);
    size_t len;
    char *got = slurp(path, &len);
    ck_assert_ptr_null(memchr(got, '\033', len));
    ck_assert_ptr_nonnull(memchr(got, '\r', len));
    ck_assert_ptr_nonnull(strstr(got, "3 done in "));
    ck_assert_ptr_nonnull(strstr(got, "fetchall: [3] "));
    free(got);
    unlink(path);
}
END_TEST

/* The journal on a full filesystem says so and names the journal, and
   never records what is not in place (a tmpfs of 64 KiB in a mount
   namespace of the test's own; as root only). */
START_TEST(a_full_disk_is_named_as_such)
{
    if (geteuid() != 0) {
        printf("a_full_disk_is_named_as_such: not root, not run\n");
        return;
    }
    char dir[] = "/tmp/fetchall-full-XXXXXX", journal[128], out[128];
    ck_assert_ptr_nonnull(mkdtemp(dir));
    ck_assert_int_eq(unshare(CLONE_NEWNS), 0);
    ck_assert_int_eq(mount("none", "/", "none", MS_REC | MS_PRIVATE, NULL), 0);
    ck_assert_int_eq(mount("tmpfs", dir, "tmpfs", 0, "size=64k"), 0);
    snprintf(journal, sizeof journal, "%s/journal", dir);
    snprintf(out, sizeof out, "%s/out", dir);
    char *in = malloc(400 * 96);
    in[0] = '\0';
    for (int i = 1; i <= 400; i++)
        strcat(in, ts_url(&srv, "/bytes/1000?i=%d\n", i));
    run_result r;
    RUN(&r, in, "--journal", journal, "-o", out, "-i", "-");
    ck_assert_int_eq(r.status, 1);
    char want[192];
    snprintf(want, sizeof want, "--journal %s: No space left on device",
             journal);
    ck_assert_msg(strstr(r.err, want), "%s", r.err);
    ck_assert_ptr_null(strstr(r.err, "Success"));
    run_free(&r);
    /* what it recorded is in place */
    FILE *f = fopen(journal, "r");
    char line[1024];
    ck_assert_ptr_nonnull(fgets(line, sizeof line, f)); /* the header */
    while (fgets(line, sizeof line, f)) {
        if (!strchr(line, '\n'))
            break; /* the torn end a full disk leaves */
        char *ix = strstr(line, "\"index\":"), name[160];
        ck_assert_ptr_nonnull(ix);
        snprintf(name, sizeof name, "%s/%ld", out, atol(ix + 8));
        if (strstr(line, "\"ok\":true"))
            ck_assert_msg(access(name, F_OK) == 0, "%s recorded", name);
    }
    fclose(f);
    ck_assert_int_eq(umount(dir), 0);
    rmdir(dir);
    free(in);
}
END_TEST

/* The library changes nothing of the process: with SIGPIPE at its
   default (fatal) a server that closes while a large body is still being
   sent (every write after that fails with EPIPE) is that request's error,
   nothing more. The server: a child that reads a little and closes. */
START_TEST(library_raises_no_sigpipe)
{
    signal(SIGPIPE, SIG_DFL);
    enum { BODY = 16 << 20, N = 3 };
    struct sockaddr_in a = {.sin_family = AF_INET};
    socklen_t alen = sizeof a;
    int lfd = socket(AF_INET, SOCK_STREAM, 0);
    a.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
    ck_assert_int_eq(bind(lfd, (struct sockaddr *)&a, alen), 0);
    ck_assert_int_eq(listen(lfd, 16), 0);
    ck_assert_int_eq(getsockname(lfd, (struct sockaddr *)&a, &alen), 0);
    pid_t pid = fork();
    ck_assert_int_ge(pid, 0);
    if (pid == 0) {
        for (int i = 0; i < N; i++) {
            char buf[4096];
            int fd = accept(lfd, NULL, NULL);
            if (fd < 0 || read(fd, buf, sizeof buf) < 0)
                _exit(1);
            close(fd);
        }
        _exit(0);
    }
    close(lfd);
    char *body = malloc(BODY);
    memset(body, 'x', BODY);
    fetch_client *c = client_with(1, 0, 10);
    fetch_request q;
    fetch_request_init(&q);
    q.method = "POST";
    q.body = body;
    q.body_len = BODY;
    char url[64];
    snprintf(url, sizeof url, "http://127.0.0.1:%d/upload", ntohs(a.sin_port));
    q.url = url;
    fetch_task *t[N];
    for (int i = 0; i < N; i++)
        ck_assert_ptr_nonnull(t[i] = fetch_submit(c, &q, NULL, NULL, NULL));
    ck_assert_int_eq(
        fetch_gather(c, t, N, FETCH_WAIT_FOREVER, FETCH_GATHER_ALL), N);
    for (int i = 0; i < N; i++)
        ck_assert_int_eq(fetch_task_response(t[i])->error, FETCH_E_TRANSFER);
    free_all(t, N);
    assert_idle(c);
    client_free(c);
    free(body);
    ck_assert_int_eq(run_reap(pid), 0);
}
END_TEST

/* NULL where a sibling takes it; the header and method checks are the
   library's own. */
START_TEST(library_takes_null_and_checks_headers)
{
    fetch_stats st;
    memset(&st, 0xff, sizeof st);
    fetch_client_stats(NULL, &st);
    ck_assert_uint_eq(st.tasks, 0);
    ck_assert_uint_eq(st.running, 0);
    ck_assert_uint_eq(st.size, sizeof st);
    fetch_client_stats(NULL, NULL);
    ck_assert_uint_eq(fetch_client_cancel_all(NULL), 0);
    ck_assert_ptr_null(fetch_client_base(NULL));
    fetch_options_init(NULL);
    fetch_request_init(NULL);
    fetch_client_free(NULL);
    fetch_task_free(NULL);
    ck_assert_int_eq(fetch_task_cancel(NULL), FETCH_E_INVAL);
    ck_assert_int_eq(fetch_client_set_deadline(NULL, 1), FETCH_E_INVAL);
    char buf[8];
    ck_assert_uint_eq(fetch_text_escape(buf, sizeof buf, NULL, 5, 0), 0);
    ck_assert_str_eq(buf, "");
    ck_assert_uint_eq(fetch_url_redact(buf, sizeof buf, NULL), 0);
    const char *good[] = {"X-A: b", "Accept:", "X-Empty;", "X-A:b c"};
    const char *bad[] = {"X-A b",   ": v", "X-A: b\r\nX-B: c",
                         "X\nA: b", "",    NULL};
    for (size_t i = 0; i < sizeof good / sizeof *good; i++)
        ck_assert_int_eq(fetch_header_check(good[i]), FETCH_OK);
    for (size_t i = 0; i < sizeof bad / sizeof *bad; i++)
        ck_assert_int_eq(fetch_header_check(bad[i]), FETCH_E_INVAL);
    ck_assert_int_eq(fetch_method_check("PROPFIND"), FETCH_OK);
    ck_assert_int_eq(fetch_method_check("GET X"), FETCH_E_INVAL);
    ck_assert_int_eq(fetch_method_check("GET\r\n"), FETCH_E_INVAL);
    ck_assert_int_eq(fetch_method_check(""), FETCH_E_INVAL);
    ck_assert_int_eq(fetch_method_check(NULL), FETCH_E_INVAL);
}
END_TEST

/* One host to the scheduler: scheme, host and port, as fetch_host_key()
   says (the Redis mode's --per-host uses it too). */
START_TEST(library_host_keys)
{
    static const char *const cases[][2] = {
        {"http://Example.COM/a", "http://example.com:80"},
        {"HTTP://example.com:80/b?c", "http://example.com:80"},
        {"https://example.com", "https://example.com:443"},
        {"https://u:p@example.com:8443/x#y", "https://example.com:8443"},
        {"example.com/x", "http://example.com:80"},
        {"http://[::1]:8080/x", "http://[::1]:8080"},
        {"http://[::1]/x", "http://[::1]:80"},
        {"http://h:/x", "http://h:80"},
        {"ftp://h/x", "ftp://h:"},
        {"", "http://:80"},
    };
    char key[512], small[8];
    for (size_t i = 0; i < sizeof cases / sizeof *cases; i++) {
        size_t n = fetch_host_key(key, sizeof key, cases[i][0]);
        ck_assert_str_eq(key, cases[i][1]);
        ck_assert_uint_eq(n, strlen(cases[i][1]));
    }
    /* cut as snprintf() cuts; the length is the whole key's */
    ck_assert_uint_eq(fetch_host_key(small, sizeof small, "http://abcdef/"),
                      strlen("http://abcdef:80"));
    ck_assert_str_eq(small, "http://");
    ck_assert_uint_eq(fetch_host_key(NULL, 0, "http://h/"),
                      strlen("http://h:80"));
    ck_assert_uint_eq(fetch_host_key(key, sizeof key, NULL),
                      strlen("http://:80"));
    char *big = malloc(3000);
    snprintf(big, 3000, "http://h:%0*d/", 2900, 1);
    ck_assert_uint_eq(fetch_host_key(key, sizeof key, big), 7 + 1 + 1 + 2900);
    ck_assert_str_eq(key, "http://h:"); /* whole parts only */
    free(big);
}
END_TEST

/* The command's cases, once: they have no event loops of the test's. */
static Suite *fault_cli_suite(void)
{
    Suite *s = suite_create("fault: fetchall");
    TCase *cli = tcase_create("cli");
    tcase_add_checked_fixture(cli, setup, teardown);
    tcase_set_timeout(cli, 240);
    tcase_add_test(cli, append_keeps_what_the_file_held);
    tcase_add_test(cli, stdout_and_stderr_one_file);
    tcase_add_test(cli, signal_into_a_file_leaves_whole_bodies);
    tcase_add_test(cli, signal_with_output_dir_leaves_no_partial_file);
    tcase_add_test(cli, a_signal_ignored_at_the_start_stays_ignored);
    tcase_add_test(cli, output_dir_is_never_followed_or_stale);
    tcase_add_test(cli, two_runs_into_one_dir_never_mix);
    tcase_add_test(cli, low_open_file_limit_with_output_dir);
    tcase_add_test(cli, control_bytes_never_reach_the_terminal);
    tcase_add_test(cli, long_urls_keep_their_reason);
    tcase_add_test(cli, jsonl_is_always_valid);
    tcase_add_test(cli, credentials_are_never_printed);
    tcase_add_test(cli, line_breaks_in_header_options_are_refused);
    tcase_add_test(cli, input_files_directories_and_schemes);
    tcase_add_test(cli, hostile_servers_fail_one_request_each);
    tcase_add_test(cli, schemes_without_slashes_are_schemes);
    tcase_add_test(cli, byte_order_marks_and_nul_bytes_in_input);
    tcase_add_test(cli, a_url_too_long_to_send_says_so);
    tcase_add_test(cli, an_authority_of_any_length_fails_alone);
    tcase_add_test(cli, a_bar_into_a_file_has_no_escape_sequences);
    tcase_add_test(cli, a_full_disk_is_named_as_such);
    suite_add_tcase(s, cli);
    return s;
}

/* The library's, with clients of one event loop and of three. */
static Suite *fault_library_suite(void)
{
    Suite *s = suite_create("fault: the library");
    TCase *lib = tcase_create("library");
    tcase_add_checked_fixture(lib, setup, teardown);
    tcase_set_timeout(lib, 120);
    tcase_add_test(lib, library_rejects_bad_arguments);
    tcase_add_test(lib, library_messages_are_safe);
    tcase_add_test(lib, library_scheme_less_url_is_http);
    tcase_add_test(lib, library_client_freed_from_a_callback);
    tcase_add_test_raise_signal(lib, library_task_freed_twice_aborts, SIGABRT);
    tcase_add_test(lib, library_deadline_ends_everything);
    tcase_add_test(lib, library_out_of_descriptors_is_reported_as_such);
    tcase_add_test(lib, library_data_callback_says_why);
    tcase_add_test(lib, library_raises_no_sigpipe);
    tcase_add_test(lib, library_takes_null_and_checks_headers);
    tcase_add_test(lib, library_host_keys);
    suite_add_tcase(s, lib);
    return s;
}

int main(void)
{
    int failed = run_suite(fault_cli_suite());
    return run_suite_loops(fault_library_suite) | failed;
}
