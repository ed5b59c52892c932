/* SPDX-License-Identifier: MIT */
/* fetchall, run as a command against the loopback test server. */
#define _GNU_SOURCE
#include <check.h>
#include <dirent.h>
#include <jansson.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <poll.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <unistd.h>

#include "harness.h"

START_TEST(bodies_in_request_order)
{
    run_result r;
    /* the first answers last */
    RUN(&r, NULL, ts_url(&srv, "/delay/300"), ts_url(&srv, "/bytes/5"),
        ts_url(&srv, "/delay/100"), ts_url(&srv, "/bytes/3"));
    ck_assert_int_eq(r.status, 0);
    ck_assert_str_eq(r.out, "delay 300\nabcdedelay 100\nabc");
    ck_assert_str_eq(r.err, "");
    run_free(&r);
}
END_TEST

START_TEST(order_holds_for_any_number_of_loops)
{
    const char *threads[] = {"1", "2", "3", "5"};
    for (int i = 0; i < 4; i++) {
        run_result r;
        RUN(&r, NULL, "--threads", threads[i], ts_url(&srv, "/delay/200"),
            ts_url(&srv, "/bytes/2"), ts_url(&srv, "/delay/100"),
            ts_url(&srv, "/bytes/3"), ts_url(&srv, "/delay/50"),
            ts_url(&srv, "/bytes/1"));
        ck_assert_int_eq(r.status, 0);
        ck_assert_str_eq(r.out, "delay 200\nabdelay 100\nabcdelay 50\na");
        run_free(&r);
    }
}
END_TEST

START_TEST(failures_are_per_request)
{
    run_result r;
    RUN(&r, NULL, ts_url(&srv, "/bytes/2"), "http://exa mple/",
        "http://127.0.0.1:1/", "file:///etc/passwd", ts_url(&srv, "/close/50"),
        ts_url(&srv, "/bytes/4"));
    ck_assert_int_eq(r.status, 1);
    ck_assert_str_eq(r.out, "ababcd"); /* the good ones, untouched */
    ck_assert_ptr_nonnull(
        strstr(r.err, "fetchall: [2] http://exa mple/: malformed URL"));
    ck_assert_ptr_nonnull(strstr(r.err, "fetchall: [3] http://127.0.0.1:1/: "));
    ck_assert_ptr_nonnull(
        strstr(r.err, "fetchall: [4] file:///etc/passwd: unsupported scheme"));
    ck_assert_ptr_nonnull(strstr(r.err, "fetchall: [5] "));
    ck_assert_uint_eq(count_str(r.err, "\n"), 4);
    run_free(&r);

    RUN(&r, NULL, "-q", "http://127.0.0.1:1/"); /* quiet: status only */
    ck_assert_int_eq(r.status, 1);
    ck_assert_str_eq(r.err, "");
    run_free(&r);
}
END_TEST

START_TEST(input_file_and_stdin)
{
    char path[] = "/tmp/fetchall-input-XXXXXX";
    int fd = mkstemp(path);
    FILE *f = fdopen(fd, "w");
    fprintf(f, "# a comment\n\n  %s  \r\n%s\n", ts_url(&srv, "/bytes/2"),
            ts_url(&srv, "/bytes/3"));
    fclose(f);
    run_result r;
    /* arguments come first, then the file */
    RUN(&r, NULL, "-i", path, ts_url(&srv, "/bytes/1"));
    ck_assert_int_eq(r.status, 0);
    ck_assert_str_eq(r.out, "aababc");
    run_free(&r);
    unlink(path);

    char in[256];
    snprintf(in, sizeof in, "%s\n#skip\n%s\n", ts_url(&srv, "/bytes/4"),
             ts_url(&srv, "/bytes/1"));
    RUN(&r, in, "--input", "-");
    ck_assert_int_eq(r.status, 0);
    ck_assert_str_eq(r.out, "abcda");
    run_free(&r);

    const char *argv[] = {fetchall, NULL}; /* a pipe on stdin, no -i */
    run_cmd(&r, in, argv);
    ck_assert_int_eq(r.status, 0);
    ck_assert_str_eq(r.out, "abcda");
    run_free(&r);
}
END_TEST

START_TEST(jsonl_output)
{
    run_result r;
    RUN(&r, NULL, "--jsonl", "--retry", "1", "--retry-delay", "0.01",
        ts_url(&srv, "/redirect/2"), ts_url(&srv, "/binary/300"),
        "http://127.0.0.1:1/", ts_url(&srv, "/status/404"));
    ck_assert_int_eq(r.status, 1);
    ck_assert_uint_eq(count_str(r.out, "\n"), 4);
    char *line = r.out;
    for (int i = 1; i <= 4; i++) {
        char *nl = strchr(line, '\n');
        json_error_t je;
        json_t *o = json_loadb(line, (size_t)(nl - line), 0, &je);
        ck_assert_msg(o != NULL, "line %d: %s", i, je.text);
        ck_assert_int_eq(json_integer_value(json_object_get(o, "index")), i);
        ck_assert(json_is_string(json_object_get(o, "url")));
        ck_assert(json_is_real(json_object_get(o, "time_total")));
        ck_assert(json_is_real(json_object_get(o, "time_queued")));
        ck_assert(json_is_real(json_object_get(o, "time_connect")));
        ck_assert(json_is_real(json_object_get(o, "time_first_byte")));
        ck_assert(json_is_real(json_object_get(o, "time_tls")));
        ck_assert(json_object_get(o, "content_type") != NULL);
        /* schema 1: its members, all of them, always */
        ck_assert_int_eq(json_integer_value(json_object_get(o, "schema")), 1);
        ck_assert(json_is_integer(json_object_get(o, "attempts")));
        ck_assert(json_object_get(o, "error_kind") != NULL);
        ck_assert(json_object_get(o, "http_version") != NULL);
        /* numbers plainly: no exponent, whatever the time */
        for (const char *k = strstr(line, "\"time_"); k && k < nl;
             k = strstr(k + 1, "\"time_")) {
            const char *v = strchr(k, ':') + 1;
            ck_assert_uint_eq(strspn(v, "0123456789."), strcspn(v, ",}"));
        }
        if (i == 1) {
            ck_assert(json_is_true(json_object_get(o, "ok")));
            ck_assert(json_is_null(json_object_get(o, "error")));
            ck_assert_int_eq(json_integer_value(json_object_get(o, "status")),
                             200);
            ck_assert_str_eq(json_string_value(json_object_get(o, "body")),
                             "redirected\n");
            ck_assert_str_eq(
                json_string_value(json_object_get(o, "effective_url")),
                ts_url(&srv, "/redirect/0"));
            ck_assert_int_eq(json_integer_value(json_object_get(o, "bytes")),
                             11);
            ck_assert_str_eq(
                json_string_value(json_object_get(o, "http_version")), "1.1");
            ck_assert(json_is_null(json_object_get(o, "error_kind")));
            ck_assert_int_eq(json_integer_value(json_object_get(o, "attempts")),
                             1);
        } else if (i == 2) { /* not UTF-8: base64 */
            ck_assert_ptr_null(json_object_get(o, "body"));
            const char *b64 =
                json_string_value(json_object_get(o, "body_base64"));
            ck_assert_ptr_nonnull(b64);
            ck_assert_uint_eq(strlen(b64), 400);
            ck_assert(strncmp(b64, "AAECAwQF", 8) == 0); /* bytes 0,1,2,3,4,5 */
        } else if (i == 3) {
            ck_assert(json_is_false(json_object_get(o, "ok")));
            ck_assert(json_is_string(json_object_get(o, "error")));
            ck_assert_str_eq(
                json_string_value(json_object_get(o, "error_kind")), "connect");
            ck_assert(json_is_null(json_object_get(o, "http_version")));
            ck_assert_int_eq(json_integer_value(json_object_get(o, "attempts")),
                             2);
            ck_assert_ptr_null(json_object_get(o, "body"));
        } else { /* a 404 is a result unless --fail */
            ck_assert(json_is_true(json_object_get(o, "ok")));
            ck_assert_int_eq(json_integer_value(json_object_get(o, "status")),
                             404);
        }
        json_decref(o);
        line = nl + 1;
    }
    run_free(&r);
}
END_TEST

START_TEST(output_dir_files_complete)
{
    char dir[] = "/tmp/fetchall-out-XXXXXX";
    ck_assert_ptr_nonnull(mkdtemp(dir));
    run_result r;
    RUN(&r, NULL, "-o", dir, ts_url(&srv, "/bytes/70000"),
        ts_url(&srv, "/close/5000"), ts_url(&srv, "/delay/10"));
    ck_assert_int_eq(r.status, 1);
    ck_assert_str_eq(r.out, "");
    run_free(&r);

    char path[512], *want = expected_bytes(70000);
    snprintf(path, sizeof path, "%s/1", dir);
    FILE *f = fopen(path, "rb");
    ck_assert_ptr_nonnull(f);
    char *got = calloc(1, 80000);
    ck_assert_uint_eq(fread(got, 1, 80000, f), 70000);
    ck_assert(memcmp(got, want, 70000) == 0);
    fclose(f);
    free(got);
    free(want);
    snprintf(path, sizeof path, "%s/3", dir);
    ck_assert_int_eq(access(path, F_OK), 0);
    /* the broken transfer left nothing, and no .part anywhere */
    DIR *d = opendir(dir);
    struct dirent *e;
    int files = 0;
    while ((e = readdir(d))) {
        if (e->d_name[0] == '.')
            continue;
        ck_assert_ptr_null(strstr(e->d_name, ".part"));
        ck_assert_str_ne(e->d_name, "2");
        snprintf(path, sizeof path, "%s/%s", dir, e->d_name);
        unlink(path);
        files++;
    }
    closedir(d);
    ck_assert_int_eq(files, 2);

    /* with --jsonl: a file field instead of the body */
    RUN(&r, NULL, "-o", dir, "--jsonl", ts_url(&srv, "/bytes/5"));
    ck_assert_int_eq(r.status, 0);
    snprintf(path, sizeof path, "\"file\":\"%s/1\"", dir);
    ck_assert_ptr_nonnull(strstr(r.out, path));
    ck_assert_ptr_null(strstr(r.out, "\"body\""));
    run_free(&r);
    snprintf(path, sizeof path, "%s/1", dir);
    unlink(path);
    rmdir(dir);
}
END_TEST

START_TEST(fail_option)
{
    run_result r;
    RUN(&r, NULL, ts_url(&srv, "/status/404"), ts_url(&srv, "/bytes/1"));
    ck_assert_int_eq(r.status, 0); /* as curl: a 404 body is still a body */
    ck_assert_str_eq(r.out, "status 404\na");
    run_free(&r);
    RUN(&r, NULL, "--fail", ts_url(&srv, "/status/404"),
        ts_url(&srv, "/bytes/1"));
    ck_assert_int_eq(r.status, 1);
    ck_assert_str_eq(r.out, "a");
    ck_assert_ptr_nonnull(strstr(r.err, "[1] "));
    ck_assert_ptr_nonnull(strstr(r.err, "HTTP status 404"));
    run_free(&r);
}
END_TEST

/* Read from fd into buf until it holds at least want bytes or EOF; a
   30 s silence fails the test rather than hanging it. */
static size_t read_at_least(int fd, char *buf, size_t cap, size_t have,
                            size_t want)
{
    while (have < want && have < cap) {
        struct pollfd p = {.fd = fd, .events = POLLIN};
        ck_assert_int_eq(poll(&p, 1, 30000), 1);
        ssize_t n = read(fd, buf + have, cap - have);
        ck_assert_int_ge(n, 0);
        if (n == 0)
            break;
        have += (size_t)n;
    }
    return have;
}

START_TEST(no_buffer_streams_the_oldest_body)
{
    const char *threads[] = {"1", "3"};
    run_result r;
    for (int i = 0; i < 2; i++) { /* the same bytes as without -N */
        RUN(&r, NULL, "-N", "--threads", threads[i], ts_url(&srv, "/delay/200"),
            ts_url(&srv, "/bytes/2"), ts_url(&srv, "/delay/100"),
            ts_url(&srv, "/status/404"));
        ck_assert_int_eq(r.status, 0);
        ck_assert_str_eq(r.out, "delay 200\nabdelay 100\nstatus 404\n");
        run_free(&r);
    }
    RUN(&r, NULL, "-N", "--fail", ts_url(&srv, "/status/404"),
        ts_url(&srv, "/bytes/1"));
    ck_assert_int_eq(r.status, 1);
    ck_assert_str_eq(r.out, "a"); /* no error page, as curl -f */
    run_free(&r);

    /* The server drips 100 bytes per 50 ms for 50 s: the oldest body comes
       out while it arrives (buffered, the test would wait in vain). When
       the 3 s timeout ends it, what was written stays, the error says so
       and the next body follows. */
    char drip[256], *buf = malloc(1 << 20), err[4096];
    snprintf(drip, sizeof drip, "%s", ts_url(&srv, "/drip/1000"));
    int out[2], errp[2];
    ck_assert_int_eq(pipe(out), 0);
    ck_assert_int_eq(pipe(errp), 0);
    pid_t pid = fork();
    ck_assert_int_ge(pid, 0);
    if (pid == 0) {
        dup2(out[1], STDOUT_FILENO);
        dup2(errp[1], STDERR_FILENO);
        close(out[0]);
        close(errp[0]);
        execl(fetchall, fetchall, "-N", "-t", "3", drip,
              ts_url(&srv, "/bytes/2"), (char *)NULL);
        _exit(127);
    }
    close(out[1]);
    close(errp[1]);
    size_t got = read_at_least(out[0], buf, 1 << 20, 0, 200);
    ck_assert_uint_ge(got, 200); /* and the run is still going */
    got = read_at_least(out[0], buf, 1 << 20, got, 1 << 20);
    size_t elen = read_at_least(errp[0], err, sizeof err - 1, 0, sizeof err);
    err[elen] = 0;
    int status;
    ck_assert_int_eq(waitpid(pid, &status, 0), pid);
    ck_assert_int_eq(WEXITSTATUS(status), 1);
    ck_assert_uint_gt(got, 200);
    for (size_t i = 0; i < got - 2; i++)
        ck_assert_int_eq(buf[i], 'a' + (int)(i % 26));
    ck_assert_int_eq(memcmp(buf + got - 2, "ab", 2), 0);
    ck_assert_ptr_nonnull(strstr(err, "[1] "));
    ck_assert_ptr_nonnull(strstr(err, "timed out"));
    ck_assert_ptr_nonnull(strstr(err, "bytes of its body were written"));
    /* out in a pipe, they cannot be taken back: not retried (--retry 2) */
    ck_assert_ptr_nonnull(strstr(err, "not retried"));
    ck_assert_uint_eq(count_str(err, "\n"), 1);
    close(out[0]);
    close(errp[0]);
    free(buf);
}
END_TEST

/* stdout a regular file: the oldest body goes into it as it arrives (no
   memory for a large one), and a body that then fails is cut off again */
START_TEST(file_stdout_streams_and_cuts_off_a_failed_body)
{
    char path[] = "/tmp/fetchall-stdout-XXXXXX", drip[256], buf[64];
    int fd = mkstemp(path);
    ck_assert_int_ge(fd, 0);
    ck_assert_int_eq(write(fd, "before\n", 7), 7); /* as with >> */
    snprintf(drip, sizeof drip, "%s", ts_url(&srv, "/drip/1000"));
    pid_t pid = fork();
    ck_assert_int_ge(pid, 0);
    if (pid == 0) {
        dup2(fd, STDOUT_FILENO);
        execl(fetchall, fetchall, "-q", "-t", "3", "--retry", "0",
              ts_url(&srv, "/bytes/2"), drip, ts_url(&srv, "/bytes/3"),
              (char *)NULL);
        _exit(127);
    }
    /* the drip lasts 50 s: its bytes in the file now mean streaming */
    struct stat st;
    double give_up = now_s() + 30;
    do {
        ck_assert_int_eq(fstat(fd, &st), 0);
        ck_assert_double_lt(now_s(), give_up);
        usleep(10000);
    } while (st.st_size < 7 + 2 + 200);
    int status;
    ck_assert_int_eq(waitpid(pid, &status, 0), pid);
    ck_assert_int_eq(WEXITSTATUS(status), 1); /* the drip timed out */
    ck_assert_int_eq(pread(fd, buf, sizeof buf, 0), 7 + 2 + 3);
    ck_assert_int_eq(memcmp(buf, "before\nababc", 12), 0);
    close(fd);
    unlink(path);
}
END_TEST

START_TEST(timeout_and_deadline)
{
    run_result r;
    RUN(&r, NULL, "-t", "0.3", ts_url(&srv, "/delay/5000"),
        ts_url(&srv, "/bytes/2"));
    ck_assert_int_eq(r.status, 1);
    ck_assert_str_eq(r.out, "ab");
    ck_assert_ptr_nonnull(strstr(r.err, "[1] "));
    ck_assert_ptr_nonnull(strstr(r.err, "timed out"));
    run_free(&r);

    /* the deadline ends what is running and what is still queued */
    RUN(&r, NULL, "-j", "2", "-T", "2", ts_url(&srv, "/bytes/2"),
        ts_url(&srv, "/delay/20000"), ts_url(&srv, "/delay/20000?b"),
        ts_url(&srv, "/delay/20000?c"));
    ck_assert_int_eq(r.status, 1);
    ck_assert_str_eq(r.out, "ab");
    ck_assert_uint_eq(count_str(r.err, "deadline of 2 s reached"), 3);
    run_free(&r);
}
END_TEST

START_TEST(headers_user_agent_redirects)
{
    run_result r;
    RUN(&r, NULL, ts_url(&srv, "/headers"));
    ck_assert_ptr_nonnull(strstr(r.out, "User-Agent: libfetch/"));
    run_free(&r);
    RUN(&r, NULL, "-A", "probe/1", "-H", "X-One: 1", "--header", "X-Two: 2",
        ts_url(&srv, "/headers"));
    ck_assert_int_eq(r.status, 0);
    ck_assert_ptr_nonnull(strstr(r.out, "User-Agent: probe/1\n"));
    ck_assert_ptr_nonnull(strstr(r.out, "X-One: 1\n"));
    ck_assert_ptr_nonnull(strstr(r.out, "X-Two: 2\n"));
    run_free(&r);
    RUN(&r, NULL, "--max-redirs", "1", ts_url(&srv, "/redirect/2"),
        ts_url(&srv, "/redirect/1"));
    ck_assert_int_eq(r.status, 1);
    ck_assert_str_eq(r.out, "redirected\n");
    ck_assert_ptr_nonnull(strstr(r.err, "[1] "));
    run_free(&r);
}
END_TEST

START_TEST(concurrency_and_per_host_options)
{
    enum { N = 300 };
    char *in = malloc(N * 64);
    in[0] = '\0';
    for (int i = 0; i < N; i++)
        strcat(in, ts_url(&srv, "/delay/10?i=%d\n", i));
    run_result r;
    RUN(&r, in, "-j", "7", "-i", "-");
    ck_assert_int_eq(r.status, 0);
    ck_assert_uint_eq(count_str(r.out, "delay 10\n"), N);
    long inflight, max, total;
    ts_stats(&srv, &inflight, &max, &total);
    ck_assert_int_eq(total, N);
    ck_assert_int_le(max, 7);
    ck_assert_int_ge(max, 4);
    run_free(&r);
    ts_reset(&srv);
    RUN(&r, in, "--per-host", "3", "-i", "-");
    ck_assert_int_eq(r.status, 0);
    ts_stats(&srv, &inflight, &max, &total);
    ck_assert_int_eq(max, 3);
    run_free(&r);
    free(in);
}
END_TEST

START_TEST(usage_errors_exit_2)
{
    const char *cases[][3] = {
        {"--no-such-option", NULL, NULL},
        {"-j", "abc", "http://127.0.0.1:1/"},
        {"-j", "0", "http://127.0.0.1:1/"},
        {"-t", "-1", "http://127.0.0.1:1/"},
        {"--per-host", "x", "http://127.0.0.1:1/"},
        {"-H", "no-colon", "http://127.0.0.1:1/"},
        {"-i", "/dev/null", NULL}, /* no URLs (epoll cannot wait for it) */
    };
    run_result r;
    for (size_t i = 0; i < sizeof cases / sizeof cases[0]; i++) {
        const char *argv[] = {fetchall, cases[i][0], cases[i][1], cases[i][2],
                              NULL};
        run_cmd(&r, NULL, argv);
        ck_assert_msg(r.status == 2, "case %zu: exit %d", i, r.status);
        ck_assert_ptr_nonnull(strstr(r.err, "--help"));
        ck_assert_str_eq(r.out, "");
        run_free(&r);
    }
    const char *none[] = {fetchall, NULL}; /* empty stdin: no URLs */
    run_cmd(&r, "", none);
    ck_assert_int_eq(r.status, 2);
    ck_assert_ptr_nonnull(strstr(r.err, "no URLs"));
    run_free(&r);
    RUN(&r, NULL, "-i", "/nonexistent/urls.txt");
    ck_assert_int_eq(r.status, 2);
    ck_assert_ptr_nonnull(strstr(r.err, "/nonexistent/urls.txt"));
    run_free(&r);
    RUN(&r, NULL, "--help");
    ck_assert_int_eq(r.status, 0);
    ck_assert_ptr_nonnull(strstr(r.out, "--concurrency"));
    run_free(&r);
    RUN(&r, NULL, "-V");
    ck_assert_int_eq(r.status, 0);
    ck_assert(strncmp(r.out, "fetchall ", 9) == 0);
    run_free(&r);
}
END_TEST

START_TEST(as_completed_order)
{
    run_result r;
    RUN(&r, NULL, "--as-completed", ts_url(&srv, "/delay/300"),
        ts_url(&srv, "/delay/10"), ts_url(&srv, "/delay/150"));
    ck_assert_int_eq(r.status, 0);
    ck_assert_str_eq(r.out, "delay 10\ndelay 150\ndelay 300\n");
    run_free(&r);
    RUN(&r, NULL, "--as-completed", "--jsonl", "--retry", "0",
        ts_url(&srv, "/delay/200"), "http://127.0.0.1:1/");
    ck_assert_int_eq(r.status, 1);
    char *second = strchr(r.out, '\n') + 1; /* the refused one came first */
    ck_assert(strncmp(r.out, "{\"schema\":1,\"index\":2,", 22) == 0);
    ck_assert(strncmp(second, "{\"schema\":1,\"index\":1,", 22) == 0);
    run_free(&r);
    /* the deadline in completion order too */
    /* 2 s: room for a slow machine (valgrind) to fetch the fast one */
    RUN(&r, NULL, "--as-completed", "-T", "2", ts_url(&srv, "/delay/20000"),
        ts_url(&srv, "/bytes/2"));
    ck_assert_int_eq(r.status, 1);
    ck_assert_str_eq(r.out, "ab");
    ck_assert_ptr_nonnull(strstr(r.err, "[1] "));
    ck_assert_ptr_nonnull(strstr(r.err, "deadline of 2 s reached"));
    run_free(&r);
}
END_TEST

START_TEST(methods_and_data)
{
    run_result r;
    RUN(&r, NULL, "-d", "a=1", ts_url(&srv, "/echo"), ts_url(&srv, "/echo"));
    ck_assert_int_eq(r.status, 0);
    ck_assert_str_eq(r.out, "POST\na=1POST\na=1"); /* -d means POST */
    run_free(&r);
    RUN(&r, NULL, "-X", "PUT", "--data", "x", ts_url(&srv, "/echo"));
    ck_assert_str_eq(r.out, "PUT\nx");
    run_free(&r);
    RUN(&r, NULL, "--request", "DELETE", ts_url(&srv, "/echo"));
    ck_assert_str_eq(r.out, "DELETE\n");
    run_free(&r);
    char path[] = "/tmp/fetchall-data-XXXXXX";
    int fd = mkstemp(path);
    ck_assert_int_eq(write(fd, "from\nfile", 9), 9);
    close(fd);
    char at[64];
    snprintf(at, sizeof at, "@%s", path);
    /* -d @FILE takes CR and LF out, as curl does; --data-binary keeps them */
    RUN(&r, NULL, "-X", "PATCH", "-d", at, ts_url(&srv, "/echo"));
    ck_assert_str_eq(r.out, "PATCH\nfromfile");
    run_free(&r);
    RUN(&r, NULL, "-X", "PATCH", "--data-binary", at, ts_url(&srv, "/echo"));
    ck_assert_str_eq(r.out, "PATCH\nfrom\nfile");
    run_free(&r);
    unlink(path);
    RUN(&r, NULL, "-d", "@/nonexistent/body", ts_url(&srv, "/echo"));
    ck_assert_int_eq(r.status, 2);
    ck_assert_ptr_nonnull(strstr(r.err, "/nonexistent/body"));
    run_free(&r);
}
END_TEST

START_TEST(max_filesize_and_proxy)
{
    run_result r;
    RUN(&r, NULL, "--max-filesize", "1000", ts_url(&srv, "/bytes/999"),
        ts_url(&srv, "/chunked/5000"), ts_url(&srv, "/bytes/1001"));
    ck_assert_int_eq(r.status, 1);
    ck_assert_uint_eq(r.out_len, 999);
    ck_assert_uint_eq(count_str(r.err, "body larger than 1000 bytes"), 2);
    run_free(&r);
    /* the test server answers a proxy request with the URL it was given */
    RUN(&r, NULL, "-x", srv.base, "http://example.invalid/page");
    ck_assert_int_eq(r.status, 0);
    ck_assert_str_eq(r.out, "proxied http://example.invalid/page\n");
    run_free(&r);
    /* curl's environment variables: http_proxy, and no_proxy over it */
    char direct[256];
    snprintf(direct, sizeof direct, "%s", ts_url(&srv, "/bytes/3"));
    setenv("http_proxy", srv.base, 1);
    RUN(&r, NULL, direct);
    ck_assert_int_eq(r.status, 0);
    ck_assert_ptr_nonnull(strstr(r.out, "proxied http://127.0.0.1:"));
    run_free(&r);
    setenv("no_proxy", "127.0.0.1", 1);
    RUN(&r, NULL, direct);
    unsetenv("http_proxy");
    unsetenv("no_proxy");
    ck_assert_int_eq(r.status, 0);
    ck_assert_str_eq(r.out, "abc");
    run_free(&r);
}
END_TEST

START_TEST(tls_options)
{
    char dir[] = "/tmp/fetchall-tls-XXXXXX", cert[128], key[128];
    ck_assert_ptr_nonnull(mkdtemp(dir));
    tls_files(dir, cert, key, sizeof cert);
    test_server tls;
    ts_start_tls(&tls, cert, key);
    run_result r;
    RUN(&r, NULL, ts_url(&tls, "/bytes/3"));
    ck_assert_int_eq(r.status, 1);
    ck_assert_ptr_nonnull(strstr(r.err, "certificate"));
    run_free(&r);
    RUN(&r, NULL, "--cacert", cert, ts_url(&tls, "/bytes/3"));
    ck_assert_int_eq(r.status, 0);
    ck_assert_str_eq(r.out, "abc");
    run_free(&r);
    RUN(&r, NULL, "-k", ts_url(&tls, "/bytes/3"));
    ck_assert_int_eq(r.status, 0);
    ck_assert_str_eq(r.out, "abc");
    run_free(&r);
    RUN(&r, NULL, "--insecure", "--compressed", ts_url(&tls, "/bytes/2"));
    ck_assert_int_eq(r.status, 0);
    run_free(&r);
    ts_stop(&tls);
    /* --cert and --key for a server that wants a client certificate */
    char cdir[] = "/tmp/fetchall-tls-client-XXXXXX", ccert[128], ckey[128];
    ck_assert_ptr_nonnull(mkdtemp(cdir));
    tls_files(cdir, ccert, ckey, sizeof ccert);
    ts_start_tls_client_ca(&tls, cert, key, ccert);
    RUN(&r, NULL, "--retry", "0", "--cacert", cert, ts_url(&tls, "/bytes/3"));
    ck_assert_int_eq(r.status, 1);
    run_free(&r);
    RUN(&r, NULL, "--cacert", cert, "--cert", ccert, "--key", ckey,
        ts_url(&tls, "/bytes/3"));
    ck_assert_int_eq(r.status, 0);
    ck_assert_str_eq(r.out, "abc");
    run_free(&r);
    ts_stop(&tls);
    unlink(ccert);
    unlink(ckey);
    rmdir(cdir);
    unlink(cert);
    unlink(key);
    rmdir(dir);
}
END_TEST

/* The limits are the run's, whatever the number of loops, counted by the
   servers: never exceeded, and reached (no slot left idle or held behind
   another loop's slow request). */
START_TEST(limits_hold_over_any_number_of_loops)
{
    test_server other;
    ts_start(&other);
    const char *loops[] = {"1", "2", "8"};
    char *same = malloc(64 * 100), *mixed = malloc(64 * 100),
         *two = malloc(64 * 100);
    same[0] = mixed[0] = two[0] = '\0';
    for (int i = 0; i < 30; i++)
        strcat(same, ts_url(&srv, "/delay/100?i=%d\n", i));
    for (int i = 0; i < 4; i++) { /* slow ones and fast ones, alternating */
        strcat(mixed, ts_url(&srv, "/delay/600?i=%d\n", i));
        strcat(mixed, ts_url(&other, "/delay/10?i=%d\n", i));
    }
    for (int i = 0; i < 16; i++) {
        strcat(two, ts_url(&srv, "/delay/50?i=%d\n", i));
        strcat(two, ts_url(&other, "/delay/50?i=%d\n", i));
    }
    for (int k = 0; k < 3; k++) {
        run_result r;
        long inflight, max, total, omax;
        ts_reset(&srv);
        RUN(&r, same, "--threads", loops[k], "-j", "3", "-i", "-");
        ck_assert_int_eq(r.status, 0);
        ts_stats(&srv, &inflight, &max, &total);
        ck_assert_msg(max == 3, "%s loops, -j 3: %ld at once", loops[k], max);
        run_free(&r);

        /* -j 2: when a fast one ends, its slot takes the next slow one */
        ts_reset(&srv);
        RUN(&r, mixed, "--threads", loops[k], "-j", "2", "-i", "-");
        ck_assert_int_eq(r.status, 0);
        ts_stats(&srv, &inflight, &max, &total);
        ck_assert_msg(max == 2, "%s loops: %ld slow at once", loops[k], max);
        run_free(&r);

        ts_reset(&srv);
        ts_reset(&other);
        RUN(&r, two, "--threads", loops[k], "--per-host", "2", "-i", "-");
        ck_assert_int_eq(r.status, 0);
        ts_stats(&srv, &inflight, &max, &total);
        ts_stats(&other, &inflight, &omax, &total);
        ck_assert_msg(max == 2 && omax == 2, "%s loops, --per-host 2: %ld, %ld",
                      loops[k], max, omax);
        run_free(&r);
    }
    free(same);
    free(mixed);
    free(two);
    ts_stop(&other);
}
END_TEST

/* fetchall with its stdin, stdout and stderr as pipes of the test's. */
struct piped {
    pid_t pid;
    int in, out, err;
};

static void start_piped(struct piped *p, const char *const argv[])
{
    int in[2], out[2], err[2];
    ck_assert_int_eq(pipe(in), 0);
    ck_assert_int_eq(pipe(out), 0);
    ck_assert_int_eq(pipe(err), 0);
    p->pid = run_spawn(argv, in[0], out[1], err[1], 0);
    close(in[0]);
    close(out[1]);
    close(err[1]);
    p->in = in[1];
    p->out = out[0];
    p->err = err[0];
}

static void send_line(struct piped *p, const char *url)
{
    char line[512];
    snprintf(line, sizeof line, "%s\n", url);
    ck_assert_int_eq(write(p->in, line, strlen(line)), (ssize_t)strlen(line));
}

/* Read fd until what it gave holds needle; 30 s of silence fails. */
static void read_until(int fd, char *buf, size_t cap, const char *needle)
{
    size_t have = strlen(buf);
    while (!strstr(buf, needle)) {
        struct pollfd pf = {.fd = fd, .events = POLLIN};
        ck_assert_msg(poll(&pf, 1, 30000) == 1, "no \"%s\" in: %s", needle,
                      buf);
        ssize_t n = read(fd, buf + have, cap - 1 - have);
        ck_assert_msg(n > 0, "no \"%s\" in: %s", needle, buf);
        have += (size_t)n;
        buf[have] = '\0';
    }
}

/* A slow pipe holds nothing up: each result, a timeout and the deadline
   come while the test still holds the pipe open, before it writes more. */
START_TEST(a_slow_pipe_holds_nothing_up)
{
    const char *orders[] = {"--as-completed", "-q"};
    for (int k = 0; k < 2; k++) {
        struct piped p;
        char out[4096] = "", err[4096] = "";
        start_piped(&p, (const char *const[]){fetchall, orders[k], "-t", "1",
                                              "--retry", "0", "-i", "-", NULL});
        send_line(&p, ts_url(&srv, "/bytes/3"));
        read_until(p.out, out, sizeof out, "abc");
        send_line(&p, ts_url(&srv, "/bytes/4"));
        read_until(p.out, out, sizeof out, "abcabcd");
        if (k == 0) { /* the per-request timeout, while the pipe is open */
            send_line(&p, ts_url(&srv, "/delay/20000"));
            read_until(p.err, err, sizeof err, "timed out");
        }
        close(p.in);
        ck_assert_int_eq(run_reap(p.pid), k == 0 ? 1 : 0);
        close(p.out);
        close(p.err);
    }
    /* -T: the run ends at its deadline, though the pipe stays open */
    struct piped p;
    char out[4096] = "", err[4096] = "";
    start_piped(&p, (const char *const[]){fetchall, "-T", "1", NULL});
    send_line(&p, ts_url(&srv, "/bytes/2"));
    send_line(&p, ts_url(&srv, "/delay/20000"));
    read_until(p.err, err, sizeof err, "while reading the input");
    ck_assert_int_eq(run_reap(p.pid), 1); /* before the pipe was closed */
    read_until(p.out, out, sizeof out, "ab");
    ck_assert_ptr_nonnull(strstr(err, "[2] "));
    ck_assert_ptr_nonnull(strstr(err, "deadline of 1 s reached while"));
    close(p.in);
    close(p.out);
    close(p.err);
}
END_TEST

START_TEST(headers_cookies_sizes_and_more)
{
    run_result r;
    /* --include-headers: [name, value] pairs in the order received */
    RUN(&r, NULL, "--jsonl", "--include-headers", ts_url(&srv, "/multi"));
    ck_assert_int_eq(r.status, 0);
    ck_assert_ptr_nonnull(
        strstr(r.out, "[\"X-Multi\",\"a\"],[\"X-Multi\",\"b\"]"));
    run_free(&r);
    RUN(&r, NULL, "--include-headers", ts_url(&srv, "/multi"));
    ck_assert_int_eq(r.status, 2);
    run_free(&r);
    /* sizes as curl takes them */
    RUN(&r, NULL, "--max-filesize", "1K", ts_url(&srv, "/bytes/1024"),
        ts_url(&srv, "/bytes/1025"));
    ck_assert_int_eq(r.status, 1);
    ck_assert_uint_eq(r.out_len, 1024);
    ck_assert_ptr_nonnull(strstr(r.err, "[2] "));
    run_free(&r);
    const char *bad_sizes[] = {"1.5K", "2X", "K", "0", "-1M", "1KB"};
    for (size_t i = 0; i < 6; i++) {
        RUN(&r, NULL, "--max-filesize", bad_sizes[i], ts_url(&srv, "/"));
        ck_assert_int_eq(r.status, 2);
        run_free(&r);
    }
    /* -b NAME=VALUE, -b FILE, -c FILE */
    RUN(&r, NULL, "-b", "a=1; b=2", ts_url(&srv, "/headers"));
    ck_assert_ptr_nonnull(strstr(r.out, "Cookie: a=1; b=2\n"));
    run_free(&r);
    char dir[] = "/tmp/fetchall-cookies-XXXXXX", in[160], jar[160];
    ck_assert_ptr_nonnull(mkdtemp(dir));
    snprintf(in, sizeof in, "%s/in.txt", dir);
    snprintf(jar, sizeof jar, "%s/jar.txt", dir);
    FILE *f = fopen(in, "w");
    fprintf(f, "127.0.0.1\tFALSE\t/\tFALSE\t0\tsid\tfromfile\n");
    fclose(f);
    RUN(&r, NULL, "-b", in, "-c", jar, ts_url(&srv, "/cookie/set?x%%3Dy"),
        ts_url(&srv, "/headers"));
    ck_assert_int_eq(r.status, 0);
    ck_assert_ptr_nonnull(strstr(r.out, "sid=fromfile"));
    run_free(&r);
    f = fopen(jar, "r");
    ck_assert_ptr_nonnull(f);
    char text[4096] = "";
    ck_assert_uint_gt(fread(text, 1, sizeof text - 1, f), 0);
    fclose(f);
    ck_assert_ptr_nonnull(strstr(text, "\tx\ty"));
    ck_assert_ptr_nonnull(strstr(text, "\tsid\tfromfile"));
    RUN(&r, NULL, "-b", "/nonexistent/cookies", ts_url(&srv, "/"));
    ck_assert_int_eq(r.status, 2);
    ck_assert_ptr_nonnull(strstr(r.err, "/nonexistent/cookies"));
    run_free(&r);
    RUN(&r, NULL, "-b", "a=1\r\nX-Evil: 1", ts_url(&srv, "/"));
    ck_assert_int_eq(r.status, 2);
    run_free(&r);
    unlink(in);
    unlink(jar);
    rmdir(dir);
    /* host names that are not ASCII, as curl sends them (punycode) */
    RUN(&r, NULL, "-x", srv.base,
        "http://b\xc3\xbc"
        "cher.example/x");
    ck_assert_int_eq(r.status, 0);
    ck_assert_str_eq(r.out, "proxied http://xn--bcher-kva.example/x\n");
    run_free(&r);
}
END_TEST

START_TEST(fail_early_stops_at_the_first_failure)
{
    run_result r;
    /* one at a time: the first is done, the second fails, the rest are
       cancelled (running or not: curl -Z --fail-early, a fail-fast
       gather) */
    RUN(&r, NULL, "--fail-early", "--retry", "0", "-j", "1",
        ts_url(&srv, "/delay/100"), "http://127.0.0.1:1/",
        ts_url(&srv, "/delay/20000"), ts_url(&srv, "/delay/20000?b"),
        ts_url(&srv, "/delay/20000?c"));
    ck_assert_int_eq(r.status, 1);
    ck_assert_str_eq(r.out, "delay 100\n"); /* the 20 s ones never came */
    ck_assert_ptr_nonnull(strstr(r.err, "[2] http://127.0.0.1:1/"));
    ck_assert_ptr_nonnull(
        strstr(r.err, "stopped after request 2 failed (--fail-early)"));
    ck_assert_uint_eq(count_str(r.err, "\n"), 2); /* no line a cancel */
    run_free(&r);
}
END_TEST

/* Built without Redis (./configure --without-redis), the commands across
   machines say so, exit 2, and touch nothing; with Redis the Redis suite
   runs them. */
START_TEST(commands_without_redis_say_so)
{
    const char *with = getenv("FETCH_WITH_REDIS");
    if (!with || strcmp(with, "no"))
        return; /* tests/check_cli_redis */
    const char *commands[] = {"enqueue", "worker", "results"};
    for (int i = 0; i < 3; i++) {
        run_result r;
        RUN(&r, NULL, commands[i], "--redis", "unix:///nonexistent");
        ck_assert_int_eq(r.status, 2);
        ck_assert_ptr_nonnull(strstr(r.err, "built without Redis"));
        ck_assert_str_eq(r.out, "");
        run_free(&r);
    }
}
END_TEST

static Suite *cli_suite(void)
{
    Suite *s = suite_create("fetchall");
    TCase *tc = tcase_create("cli");
    tcase_add_checked_fixture(tc, cli_setup, srv_teardown);
    tcase_set_timeout(tc, 120);
    tcase_add_test(tc, bodies_in_request_order);
    tcase_add_test(tc, order_holds_for_any_number_of_loops);
    tcase_add_test(tc, failures_are_per_request);
    tcase_add_test(tc, input_file_and_stdin);
    tcase_add_test(tc, jsonl_output);
    tcase_add_test(tc, output_dir_files_complete);
    tcase_add_test(tc, fail_option);
    tcase_add_test(tc, timeout_and_deadline);
    tcase_add_test(tc, headers_user_agent_redirects);
    tcase_add_test(tc, concurrency_and_per_host_options);
    tcase_add_test(tc, usage_errors_exit_2);
    tcase_add_test(tc, commands_without_redis_say_so);
    tcase_add_test(tc, as_completed_order);
    tcase_add_test(tc, methods_and_data);
    tcase_add_test(tc, max_filesize_and_proxy);
    tcase_add_test(tc, no_buffer_streams_the_oldest_body);
    tcase_add_test(tc, file_stdout_streams_and_cuts_off_a_failed_body);
    tcase_add_test(tc, tls_options);
    tcase_add_test(tc, limits_hold_over_any_number_of_loops);
    tcase_add_test(tc, a_slow_pipe_holds_nothing_up);
    tcase_add_test(tc, headers_cookies_sizes_and_more);
    tcase_add_test(tc, fail_early_stops_at_the_first_failure);
    suite_add_tcase(s, tc);
    return s;
}

int main(void)
{
    return run_suite(cli_suite());
}
