/* SPDX-License-Identifier: MIT */
/*
 * Re-crawls: fetchall --revalidate OLD_JOURNAL asks "changed since?" with
 * the validators an earlier run's journal kept, against nginx serving
 * files as Debian ships it (ETag and Last-Modified by default). What was
 * asked and answered is judged by nginx's own log. Skipped (77) when nginx
 * is not installed (bootstrap and .ci/run install it).
 */
#define _GNU_SOURCE
#include <check.h>
#include <jansson.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <sys/time.h>
#include <unistd.h>

#include "harness.h"

enum { N = 20 };

static nginx ng;

/* www/NAME holds text, modified at mtime (seconds since the epoch; 0:
   now). */
static void put(const char *name, const char *text, time_t mtime)
{
    FILE *f = fopen(nginx_path(&ng, name), "w");
    ck_assert_ptr_nonnull(f);
    fputs(text, f);
    fclose(f);
    chmod(nginx_path(&ng, name), 0644);
    if (mtime) {
        struct timeval tv[2] = {{mtime, 0}, {mtime, 0}};
        ck_assert_int_eq(utimes(nginx_path(&ng, name), tv), 0);
    }
}

static void setup(void)
{
    char name[64], text[128];
    cli_setup(); /* the command; its test server is not used here */
    nginx_init(&ng);
    ck_assert_int_eq(mkdir(nginx_path(&ng, "www/noetag"), 0755), 0);
    for (int i = 1; i <= N; i++) {
        snprintf(name, sizeof name, "www/f%d", i);
        snprintf(text, sizeof text, "file %d, first version\n", i);
        put(name, text, 1700000000);
        snprintf(name, sizeof name, "www/noetag/f%d", i);
        put(name, text, 1700000000);
    }
    nginx_run(&ng, "",
              "  log_format m '$request_uri $status $body_bytes_sent "
              "[$http_if_none_match] [$http_if_modified_since] "
              "[$http_x_evil]';",
              "", "    location /noetag/ { etag off; }\n");
}

static void teardown(void)
{
    nginx_stop(&ng);
    srv_teardown();
}

/* The URL list: www/PREFIXf1 .. f<N>, into a file. */
static const char *urls(const char *prefix)
{
    const char *path = nginx_path(&ng, "urls.txt");
    FILE *f = fopen(path, "w");
    ck_assert_ptr_nonnull(f);
    for (int i = 1; i <= N; i++)
        fprintf(f, "http://127.0.0.1:%d/%sf%d\n", ng.port, prefix, i);
    fclose(f);
    return path;
}

/* nginx's log since the last call (malloc'd); the log is emptied. */
static char *log_text(void)
{
    size_t len;
    char *text = nginx_log(&ng, &len);
    ck_assert_int_eq(truncate(nginx_path(&ng, "access.log"), 0), 0);
    return text;
}

/* ... its lines with status, and all its lines. */
static size_t answered(int status, size_t *all)
{
    char code[8];
    snprintf(code, sizeof code, " %d ", status);
    char *text = log_text();
    size_t n = count_str(text, code);
    *all = count_str(text, "\n");
    free(text);
    return n;
}

/* The journal's line for request index, parsed (a new reference). */
static json_t *journal_line(const char *path, int index)
{
    char line[8192];
    json_t *found = NULL;
    FILE *f = fopen(path, "r");
    ck_assert_ptr_nonnull(f);
    while (fgets(line, sizeof line, f)) {
        json_t *o = json_loads(line, 0, NULL);
        ck_assert_ptr_nonnull(o);
        if (json_integer_value(json_object_get(o, "index")) == index) {
            json_decref(found); /* a later line holds */
            found = o;
        } else {
            json_decref(o);
        }
    }
    fclose(f);
    ck_assert_msg(found != NULL, "%s has no line %d", path, index);
    return found;
}

static const char *member(json_t *o, const char *name)
{
    return json_string_value(json_object_get(o, name));
}

/* D/i of every request: the text, and its inode. */
typedef struct copy {
    char *text[N + 1];
    ino_t ino[N + 1];
} copy;

static void take_copy(copy *c, const char *dir)
{
    char path[512];
    for (int i = 1; i <= N; i++) {
        struct stat st;
        size_t len;
        snprintf(path, sizeof path, "%s/%d", dir, i);
        ck_assert_int_eq(stat(path, &st), 0);
        c->ino[i] = st.st_ino;
        c->text[i] = slurp(path, &len);
    }
}

static void drop_copy(copy *c)
{
    for (int i = 1; i <= N; i++)
        free(c->text[i]);
}

/* The first run: -o D --journal J1, every file fetched. */
static void first_run(const char *prefix)
{
    run_result r;
    size_t all;
    RUN(&r, NULL, "-q", "-o", nginx_path(&ng, "D"), "--journal",
        nginx_path(&ng, "J1"), "-i", urls(prefix));
    ck_assert_msg(r.status == 0, "exit %d: %s", r.status, r.err);
    run_free(&r);
    ck_assert_uint_eq(answered(200, &all), N);
}

START_TEST(the_journal_keeps_validators_and_files)
{
    first_run("");
    char *dir = realpath(nginx_path(&ng, "D"), NULL), file[600];
    for (int i = 1; i <= N; i++) {
        json_t *o = journal_line(nginx_path(&ng, "J1"), i);
        ck_assert_ptr_nonnull(member(o, "etag"));
        ck_assert_int_eq(member(o, "etag")[0], '"'); /* as nginx sent it */
        ck_assert_ptr_nonnull(
            strstr(member(o, "last_modified"), "14 Nov 2023 22:13:20 GMT"));
        snprintf(file, sizeof file, "%s/%d", dir, i);
        ck_assert_str_eq(member(o, "file"), file);
        json_decref(o);
    }
    free(dir);
}
END_TEST

/* Nothing changed: every request is asked "changed since?", answered 304,
   and D is left as it was, file by file (same inode, same bytes), with no
   --clobber needed for the earlier run's own D. The new journal carries
   the validators on: a third run chains from it. */
START_TEST(nothing_changed_every_answer_is_304_and_dir_is_untouched)
{
    first_run("");
    copy before, after;
    take_copy(&before, nginx_path(&ng, "D"));
    const char *old = nginx_path(&ng, "J1");
    for (int round = 2; round <= 3; round++) {
        char now[16];
        run_result r;
        size_t all;
        snprintf(now, sizeof now, "J%d", round);
        RUN(&r, NULL, "-o", nginx_path(&ng, "D"), "--revalidate", old,
            "--journal", nginx_path(&ng, now), "-i", urls(""));
        ck_assert_msg(r.status == 0, "exit %d: %s", r.status, r.err);
        ck_assert_str_eq(r.err, "");
        run_free(&r);
        ck_assert_uint_eq(answered(304, &all), N);
        ck_assert_uint_eq(all, N);
        take_copy(&after, nginx_path(&ng, "D"));
        for (int i = 1; i <= N; i++) {
            ck_assert_str_eq(after.text[i], before.text[i]);
            ck_assert_uint_eq(after.ino[i], before.ino[i]);
            json_t *a = journal_line(old, i),
                   *b = journal_line(nginx_path(&ng, now), i);
            ck_assert_str_eq(member(b, "etag"), member(a, "etag"));
            ck_assert_str_eq(member(b, "last_modified"),
                             member(a, "last_modified"));
            ck_assert_str_eq(member(b, "file"), member(a, "file"));
            ck_assert_int_eq(json_integer_value(json_object_get(b, "status")),
                             304);
            json_decref(a);
            json_decref(b);
        }
        drop_copy(&after);
        old = nginx_path(&ng, now);
    }
    drop_copy(&before);
}
END_TEST

/* Three files changed: exactly those are fetched again (200), their new
   bodies replace D/i, their new validators go into the new journal. */
START_TEST(only_what_changed_is_fetched_again)
{
    static const int changed[] = {2, 11, 20};
    first_run("");
    copy before, after;
    take_copy(&before, nginx_path(&ng, "D"));
    for (size_t k = 0; k < 3; k++) {
        char name[32], text[64];
        snprintf(name, sizeof name, "www/f%d", changed[k]);
        snprintf(text, sizeof text, "file %d, the second version\n",
                 changed[k]);
        put(name, text, 1700000100);
    }
    run_result r;
    size_t all;
    RUN(&r, NULL, "-q", "-o", nginx_path(&ng, "D"), "--revalidate",
        nginx_path(&ng, "J1"), "--journal", nginx_path(&ng, "J2"), "-i",
        urls(""));
    ck_assert_msg(r.status == 0, "exit %d: %s", r.status, r.err);
    run_free(&r);
    ck_assert_uint_eq(answered(200, &all), 3);
    ck_assert_uint_eq(all, N);
    take_copy(&after, nginx_path(&ng, "D"));
    for (int i = 1; i <= N; i++) {
        int is = i == 2 || i == 11 || i == 20;
        json_t *a = journal_line(nginx_path(&ng, "J1"), i),
               *b = journal_line(nginx_path(&ng, "J2"), i);
        if (is) {
            ck_assert_ptr_nonnull(strstr(after.text[i], "second version"));
            ck_assert_str_ne(member(b, "etag"), member(a, "etag"));
        } else {
            ck_assert_str_eq(after.text[i], before.text[i]);
            ck_assert_uint_eq(after.ino[i], before.ino[i]);
            ck_assert_str_eq(member(b, "etag"), member(a, "etag"));
        }
        json_decref(a);
        json_decref(b);
    }
    drop_copy(&before);
    drop_copy(&after);
}
END_TEST

/* Into a new DIR, a 304's earlier body is hard-linked there. */
START_TEST(into_a_new_dir_the_earlier_files_are_linked)
{
    first_run("");
    copy before, after;
    take_copy(&before, nginx_path(&ng, "D"));
    run_result r;
    size_t all;
    RUN(&r, NULL, "-o", nginx_path(&ng, "E"), "--revalidate",
        nginx_path(&ng, "J1"), "-i", urls(""));
    ck_assert_msg(r.status == 0, "exit %d: %s", r.status, r.err);
    run_free(&r);
    ck_assert_uint_eq(answered(304, &all), N);
    take_copy(&after, nginx_path(&ng, "E"));
    for (int i = 1; i <= N; i++) {
        ck_assert_str_eq(after.text[i], before.text[i]);
        ck_assert_uint_eq(after.ino[i], before.ino[i]);
    }
    drop_copy(&before);
    drop_copy(&after);
    /* a DIR holding other results is still refused without --clobber */
    RUN(&r, NULL, "-o", nginx_path(&ng, "E"), "--revalidate",
        nginx_path(&ng, "J1"), "-i", urls(""));
    ck_assert_int_eq(r.status, 2);
    ck_assert_ptr_nonnull(strstr(r.err, "holds results of an earlier run"));
    run_free(&r);
}
END_TEST

/* A request that fails this time keeps the earlier body, and says so;
   the new journal records the failure with the earlier validators, so a
   later re-crawl still asks with them. */
START_TEST(a_failure_keeps_the_earlier_file)
{
    first_run("");
    chmod(nginx_path(&ng, "www/f3"), 0); /* nginx: 403 */
    run_result r;
    size_t all;
    RUN(&r, NULL, "--fail", "-o", nginx_path(&ng, "D"), "--revalidate",
        nginx_path(&ng, "J1"), "--journal", nginx_path(&ng, "J2"), "-i",
        urls(""));
    ck_assert_int_eq(r.status, 1);
    ck_assert_ptr_nonnull(strstr(r.err, "[3] "));
    ck_assert_ptr_nonnull(strstr(r.err, "403"));
    ck_assert_ptr_nonnull(strstr(r.err, "(the earlier body is kept)"));
    ck_assert_uint_eq(count_str(r.err, "\n"), 1);
    run_free(&r);
    ck_assert_uint_eq(answered(304, &all), N - 1);
    size_t len;
    char *text = slurp(nginx_path(&ng, "D/3"), &len);
    ck_assert_str_eq(text, "file 3, first version\n");
    free(text);
    json_t *a = journal_line(nginx_path(&ng, "J1"), 3),
           *b = journal_line(nginx_path(&ng, "J2"), 3);
    ck_assert(json_is_false(json_object_get(b, "ok")));
    ck_assert_str_eq(member(b, "etag"), member(a, "etag"));
    json_decref(a);
    json_decref(b);
}
END_TEST

/* Without -o: a 304 writes no body; --jsonl says not_modified. */
START_TEST(without_o_a_304_writes_no_body)
{
    run_result r;
    size_t all;
    RUN(&r, NULL, "--journal", nginx_path(&ng, "J1"), "-i", urls(""));
    ck_assert_int_eq(r.status, 0);
    ck_assert_uint_eq(count_str(r.out, "first version"), N);
    run_free(&r);
    ck_assert_uint_eq(answered(200, &all), N);
    json_t *o = journal_line(nginx_path(&ng, "J1"), 1);
    ck_assert_ptr_null(json_object_get(o, "file"));
    json_decref(o);
    RUN(&r, NULL, "--revalidate", nginx_path(&ng, "J1"), "-i", urls(""));
    ck_assert_int_eq(r.status, 0);
    ck_assert_str_eq(r.out, "");
    run_free(&r);
    RUN(&r, NULL, "--jsonl", "--revalidate", nginx_path(&ng, "J1"), "-i",
        urls(""));
    ck_assert_int_eq(r.status, 0);
    ck_assert_uint_eq(count_str(r.out, "\"status\":304,\"not_modified\":true,"),
                      N);
    ck_assert_uint_eq(count_str(r.out, "\"body\":\"\""), N);
    run_free(&r);
    ck_assert_uint_eq(answered(304, &all), 2 * N);
}
END_TEST

/* A server that sends no ETag: Last-Modified alone, If-Modified-Since. */
START_TEST(last_modified_alone)
{
    first_run("noetag/");
    json_t *o = journal_line(nginx_path(&ng, "J1"), 1);
    ck_assert_ptr_null(json_object_get(o, "etag"));
    ck_assert_ptr_nonnull(member(o, "last_modified"));
    json_decref(o);
    run_result r;
    size_t all;
    RUN(&r, NULL, "-o", nginx_path(&ng, "D"), "--revalidate",
        nginx_path(&ng, "J1"), "-i", urls("noetag/"));
    ck_assert_msg(r.status == 0, "exit %d: %s", r.status, r.err);
    run_free(&r);
    ck_assert_uint_eq(answered(304, &all), N);
}
END_TEST

/* An old journal is input: a validator that would add a header line is
   never sent (the request goes without it), and a URL that is not the
   one the journal has at its position is asked without a validator. */
START_TEST(an_old_journal_cannot_inject_headers)
{
    run_result r;
    size_t all;
    RUN(&r, NULL, "-q", "--journal", nginx_path(&ng, "J1"), "-i", urls(""));
    ck_assert_int_eq(r.status, 0);
    run_free(&r);
    answered(200, &all);
    json_t *one = journal_line(nginx_path(&ng, "J1"), 1),
           *two = journal_line(nginx_path(&ng, "J1"), 2);
    const char *path = nginx_path(&ng, "J0");
    FILE *f = fopen(path, "w");
    ck_assert_ptr_nonnull(f);
    fprintf(f, "{\"fetchall_journal\":1,\"options\":\"x\"}\n");
    fprintf(f, /* another URL's hash, a good ETag */
            "{\"index\":1,\"h\":\"%08x\",\"ok\":true,\"etag\":\"%s\"}\n",
            (unsigned)strtoul(member(one, "h"), NULL, 16) ^ 1u, "\\\"x\\\"");
    fprintf(f, /* its own URL's hash, an ETag with a line break */
            "{\"index\":2,\"h\":\"%s\",\"ok\":true,"
            "\"etag\":\"\\\"a\\\"\\r\\nX-Evil: 1\"}\n",
            member(two, "h"));
    fclose(f);
    json_decref(one);
    json_decref(two);
    RUN(&r, NULL, "-q", "--revalidate", path, "-i", urls(""));
    ck_assert_msg(r.status == 0, "exit %d: %s", r.status, r.err);
    run_free(&r);
    char *log = log_text();
    ck_assert_uint_eq(count_str(log, " 200 "), N);
    ck_assert_msg(count_str(log, "[-] [-] [-]") == N, "%s", log);
    free(log);
}
END_TEST

START_TEST(usage)
{
    run_result r;
    RUN(&r, NULL, "--revalidate", nginx_path(&ng, "none"), "-i", urls(""));
    ck_assert_int_eq(r.status, 2);
    ck_assert_ptr_nonnull(strstr(r.err, "--revalidate"));
    ck_assert_ptr_nonnull(strstr(r.err, "No such file or directory"));
    run_free(&r);
    RUN(&r, NULL, "--revalidate", urls(""), "-i", urls(""));
    ck_assert_int_eq(r.status, 2);
    ck_assert_ptr_nonnull(strstr(r.err, "not a fetchall journal"));
    run_free(&r);
    RUN(&r, NULL, "-d", "a=1", "--revalidate", "J", "http://127.0.0.1:1/");
    ck_assert_int_eq(r.status, 2);
    ck_assert_ptr_nonnull(
        strstr(r.err, "--revalidate goes with GET and HEAD, not POST"));
    run_free(&r);
    first_run("");
    RUN(&r, NULL, "--revalidate", nginx_path(&ng, "J1"), "--journal",
        nginx_path(&ng, "J1"), "-o", nginx_path(&ng, "D"), "-i", urls(""));
    ck_assert_int_eq(r.status, 2);
    ck_assert_ptr_nonnull(strstr(r.err, "is the --journal of this run too"));
    run_free(&r);
}
END_TEST

static Suite *recrawl_suite(void)
{
    Suite *s = suite_create("re-crawls against nginx");
    TCase *tc = tcase_create("revalidate");
    tcase_add_checked_fixture(tc, setup, teardown);
    tcase_set_timeout(tc, 120);
    tcase_add_test(tc, the_journal_keeps_validators_and_files);
    tcase_add_test(tc,
                   nothing_changed_every_answer_is_304_and_dir_is_untouched);
    tcase_add_test(tc, only_what_changed_is_fetched_again);
    tcase_add_test(tc, into_a_new_dir_the_earlier_files_are_linked);
    tcase_add_test(tc, a_failure_keeps_the_earlier_file);
    tcase_add_test(tc, without_o_a_304_writes_no_body);
    tcase_add_test(tc, last_modified_alone);
    tcase_add_test(tc, an_old_journal_cannot_inject_headers);
    tcase_add_test(tc, usage);
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
    return run_suite(recrawl_suite());
}
