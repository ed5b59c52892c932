/* SPDX-License-Identifier: MIT */
/*
 * fetchall --warc against nginx: every file read back with warcio (npm,
 * in tests/warc; tests/warc/check.mjs checks ids, dates, target URIs,
 * links and both digests of every record), a small crawl compared record
 * by record with wget --warc-file, redirects hop by hop, a POST's body,
 * 304s of --revalidate as revisits, failures as what they got and a
 * metadata record, --warc-max-size, bytes the user had left alone, and
 * flat memory for a large body. Skipped (77) without nginx, wget, node or
 * warcio (.ci/run and bootstrap install them).
 */
#define _GNU_SOURCE
#include <check.h>
#include <dirent.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/resource.h>
#include <sys/stat.h>
#include <unistd.h>

#include "harness.h"

static nginx ng;
static char checker[4096]; /* tests/warc/check.mjs */

static void put_bytes(const char *name, size_t n, unsigned seed)
{
    FILE *f = fopen(nginx_path(&ng, name), "w");
    ck_assert_ptr_nonnull(f);
    srand(seed);
    for (size_t i = 0; i < n; i++)
        fputc(rand() & 0xff, f);
    fclose(f);
    chmod(nginx_path(&ng, name), 0644);
}

static void put_text(const char *name, int lines)
{
    FILE *f = fopen(nginx_path(&ng, name), "w");
    ck_assert_ptr_nonnull(f);
    for (int i = 0; i < lines; i++)
        fprintf(f, "line %d of %s\n", i, name);
    fclose(f);
    chmod(nginx_path(&ng, name), 0644);
}

static const char *url(const char *path)
{
    static char bufs[32][128];
    static int next;
    char *b = bufs[next++ % 32];
    snprintf(b, 128, "http://127.0.0.1:%d%s", ng.port, path);
    return b;
}

static void setup(void)
{
    cli_setup();
    nginx_init(&ng);
    put_text("www/a.txt", 2000);          /* gzip'd by nginx, chunked */
    put_text("www/b.txt", 10);            /* too short for gzip_min_length */
    put_bytes("www/c.bin", 300000, 3);    /* spills past the spool's memory */
    put_bytes("www/slow.bin", 300000, 4); /* at 20 KB/s */
    FILE *f = fopen(nginx_path(&ng, "www/index.html"), "w");
    ck_assert_ptr_nonnull(f);
    fputs("<html><body>index</body></html>\n", f);
    fclose(f);
    chmod(nginx_path(&ng, "www/index.html"), 0644);
    nginx_run(&ng, "",
              "  log_format m '$request_method $request_uri $status';\n"
              "  gzip on; gzip_types text/plain; gzip_min_length 1000;\n",
              "",
              "    location = /hop1 { return 302 /hop2; }\n"
              "    location = /hop2 { return 301 /a.txt; }\n"
              "    location = /form { return 200 \"got it\\n\"; }\n"
              "    location = /slow.bin { limit_rate 20k; }\n"
              "    location = /huge.bin { gzip off; }\n");
    snprintf(checker, sizeof checker, "%s/tests/warc/check.mjs",
             getenv("srcdir") ? getenv("srcdir") : ".");
}

static void teardown(void)
{
    nginx_stop(&ng);
    srv_teardown();
}

/* What the checker said was wrong, the last time (static). */
static char checker_said[2048];

/* node check.mjs [--wget] files: its lines (to free); the status in
 *status, what it said on stderr in checker_said. */
static char *check_warc(const char *flags, const char *files, int *status)
{
    char cmd[8192], *out = NULL;
    size_t len = 0;
    snprintf(cmd, sizeof cmd, "node '%s' %s %s 2>'%s'", checker, flags, files,
             nginx_path(&ng, "checker.err"));
    FILE *p = popen(cmd, "r");
    ck_assert_ptr_nonnull(p);
    FILE *m = open_memstream(&out, &len);
    char buf[4096];
    size_t n;
    while ((n = fread(buf, 1, sizeof buf, p)) > 0)
        fwrite(buf, 1, n, m);
    fclose(m);
    int st = pclose(p);
    *status = WIFEXITED(st) ? WEXITSTATUS(st) : 128;
    size_t n_err;
    char *err = slurp(nginx_path(&ng, "checker.err"), &n_err);
    snprintf(checker_said, sizeof checker_said, "%s", err ? err : "");
    free(err);
    return out;
}

/* Occurrences of needle in len bytes (a record's body may hold NULs). */
static size_t count_mem(const char *hay, size_t len, const char *needle)
{
    size_t n = 0, k = strlen(needle);
    for (const char *p = hay;
         (p = memmem(p, len - (size_t)(p - hay), needle, k)); p += k)
        n++;
    return n;
}

/* A .warc.gz's records as text (gzip(1) reads its members one after
   another), to free; *len its bytes. */
static char *unzipped(const char *warc, size_t *len)
{
    char cmd[9000];
    snprintf(cmd, sizeof cmd, "zcat '%s' > '%s'", warc,
             nginx_path(&ng, "unzipped.warc"));
    ck_assert_int_eq(system(cmd), 0);
    return slurp(nginx_path(&ng, "unzipped.warc"), len);
}

static int by_text(const void *a, const void *b)
{
    return strcmp(*(char *const *)a, *(char *const *)b);
}

/* The checker's lines of these types, sorted, one string. */
static char *lines_of(const char *all, const char *types)
{
    char *copy = strdup(all), *save = NULL, **v = NULL, *out = NULL;
    size_t n = 0, len = 0;
    for (char *l = strtok_r(copy, "\n", &save); l;
         l = strtok_r(NULL, "\n", &save)) {
        char type[32];
        if (sscanf(l, "%31[^\t]", type) != 1)
            continue;
        char word[40];
        snprintf(word, sizeof word, " %s ", type);
        char list[256];
        snprintf(list, sizeof list, " %s ", types);
        if (!strstr(list, word))
            continue;
        v = realloc(v, (n + 1) * sizeof *v);
        v[n++] = l;
    }
    qsort(v, n, sizeof *v, by_text);
    FILE *m = open_memstream(&out, &len);
    for (size_t i = 0; i < n; i++)
        fprintf(m, "%s\n", v[i]);
    fclose(m);
    free(v);
    free(copy);
    return out;
}

/* The WARC and wget's of the same small crawl hold the same requests and
   responses: types, target URIs, statuses and (decoded) payloads. */
START_TEST(a_crawl_matches_wget_record_by_record)
{
    const char *paths[] = {"/a.txt",      "/b.txt", "/c.bin",
                           "/index.html", "/hop1",  "/nope"};
    char in[2048] = "";
    for (size_t i = 0; i < sizeof paths / sizeof *paths; i++)
        snprintf(in + strlen(in), sizeof in - strlen(in), "%s\n",
                 url(paths[i]));
    FILE *f = fopen(nginx_path(&ng, "urls"), "w");
    fputs(in, f);
    fclose(f);
    char warc[4200], wgetw[4200], cmd[9000];
    snprintf(warc, sizeof warc, "%s", nginx_path(&ng, "crawl.warc.gz"));
    run_result r;
    RUN(&r, in, "-i", "-", "--warc", warc, "-j", "4");
    ck_assert_msg(r.status == 0, "exit %d: %s", r.status, r.err);
    /* stdout has the bodies decoded, as without --warc */
    size_t alen;
    char *a = slurp(nginx_path(&ng, "www/a.txt"), &alen);
    ck_assert(r.out_len > 2 * alen + 300000);
    ck_assert_ptr_nonnull(memmem(r.out, r.out_len, a, alen));
    free(a);
    run_free(&r);
    snprintf(wgetw, sizeof wgetw, "%s", nginx_path(&ng, "wget"));
    snprintf(cmd, sizeof cmd,
             "wget -q --warc-file='%s' -O /dev/null -i '%s' >/dev/null 2>&1",
             wgetw, nginx_path(&ng, "urls"));
    ck_assert_int_eq(system(cmd), 8 << 8); /* wget: 8, the server said 404 */
    int st;
    char *ours = check_warc("", warc, &st);
    ck_assert_msg(st == 0, "the checker: %s", checker_said);
    snprintf(cmd, sizeof cmd, "%s.warc.gz", wgetw);
    char *theirs = check_warc("--wget", cmd, &st);
    ck_assert_msg(st == 0, "the checker on wget's: %s", checker_said);
    char *o = lines_of(ours, "request response"),
         *t = lines_of(theirs, "request response");
    ck_assert_str_eq(o, t);
    /* 6 URLs, 2 of them redirected twice: 8 hops, 16 records */
    ck_assert_uint_eq(count_str(o, "\n"), 16);
    ck_assert_uint_eq(count_str(o, "response\t"), 8);
    ck_assert_uint_eq(count_str(ours, "warcinfo\t"), 1);
    /* the gzip'd, chunked answer was recorded as it came */
    size_t rawlen;
    char *raw = unzipped(warc, &rawlen);
    /* a.txt, twice (once after the redirects) */
    ck_assert_uint_ge(count_mem(raw, rawlen, "Content-Encoding: gzip\r\n"), 2);
    ck_assert_uint_ge(count_mem(raw, rawlen, "Transfer-Encoding: chunked\r\n"),
                      2);
    ck_assert_uint_eq(count_mem(raw, rawlen, "WARC-Target-URI: <"), 0);
    free(raw);
    free(o);
    free(t);
    free(ours);
    free(theirs);
}
END_TEST

/* A redirect chain is a request and a response per hop; a POST's body is
   in its request record. An uncompressed FILE (no .gz) reads back too. */
START_TEST(hops_and_request_bodies)
{
    char warc[4200];
    snprintf(warc, sizeof warc, "%s", nginx_path(&ng, "post.warc"));
    run_result r;
    RUN(&r, NULL, "--warc", warc, "-d", "name=value&x=1", url("/form"));
    ck_assert_msg(r.status == 0, "exit %d: %s", r.status, r.err);
    ck_assert_str_eq(r.out, "got it\n");
    run_free(&r);
    size_t len;
    char *raw = slurp(warc, &len);
    ck_assert_ptr_nonnull(strstr(raw, "POST /form HTTP/1.1\r\n"));
    ck_assert_ptr_nonnull(strstr(raw, "\r\n\r\nname=value&x=1"));
    free(raw);
    int st;
    char *out = check_warc("", warc, &st);
    ck_assert_msg(st == 0, "%s", checker_said);
    ck_assert_uint_eq(count_str(out, "request\t"), 1);
    free(out);

    snprintf(warc, sizeof warc, "%s", nginx_path(&ng, "hops.warc.gz"));
    RUN(&r, NULL, "--warc", warc, url("/hop1"));
    ck_assert_int_eq(r.status, 0);
    run_free(&r);
    out = check_warc("", warc, &st);
    ck_assert_msg(st == 0, "%s", checker_said);
    char want[1024];
    snprintf(want, sizeof want,
             "warcinfo\t-\t-\t-\n"
             "request\t%s\t-\t-\nresponse\t%s\t302\t",
             url("/hop1"), url("/hop1"));
    ck_assert_msg(!strncmp(out, want, strlen(want)), "%.1000s", out);
    ck_assert_uint_eq(count_str(out, "\t301\t"), 1);
    ck_assert_uint_eq(count_str(out, "\t200\t"), 1);
    ck_assert_uint_eq(count_str(out, "request\t"), 3);
    free(out);
}
END_TEST

/* --revalidate: a 304 is a revisit record (server-not-modified). */
START_TEST(a_304_is_a_revisit)
{
    char j1[4200], j2[4200], dir[4200], warc[4200];
    snprintf(j1, sizeof j1, "%s", nginx_path(&ng, "j1"));
    snprintf(j2, sizeof j2, "%s", nginx_path(&ng, "j2"));
    snprintf(dir, sizeof dir, "%s", nginx_path(&ng, "mirror"));
    snprintf(warc, sizeof warc, "%s", nginx_path(&ng, "again.warc.gz"));
    run_result r;
    RUN(&r, NULL, "--journal", j1, "-o", dir, url("/a.txt"), url("/b.txt"));
    ck_assert_int_eq(r.status, 0);
    run_free(&r);
    RUN(&r, NULL, "--revalidate", j1, "--journal", j2, "-o", dir, "--warc",
        warc, url("/a.txt"), url("/b.txt"));
    ck_assert_msg(r.status == 0, "exit %d: %s", r.status, r.err);
    run_free(&r);
    int st;
    char *out = check_warc("", warc, &st);
    ck_assert_msg(st == 0, "%s", checker_said);
    ck_assert_uint_eq(count_str(out, "revisit\t"), 2);
    ck_assert_uint_eq(count_str(out, "\t304\t"), 2);
    ck_assert_uint_eq(count_str(out, "response\t"), 0);
    free(out);
    size_t len;
    char *raw = unzipped(warc, &len);
    ck_assert_uint_eq(
        count_str(raw, "WARC-Profile: http://netpreserve.org/warc/1.1/revisit/"
                       "server-not-modified\r\n"),
        2);
    ck_assert_uint_eq(count_str(raw, "WARC-Refers-To-Target-URI: "), 2);
    ck_assert_uint_eq(count_str(raw, "If-None-Match: "), 2);
    free(raw);
}
END_TEST

/* A failed transfer: what it got (a body cut off by the timeout is
   WARC-Truncated: time), then a metadata record with the error; a host
   that never answered has the metadata record alone. */
START_TEST(failures_are_recorded_as_what_they_got)
{
    char warc[4200], closed[128];
    snprintf(warc, sizeof warc, "%s", nginx_path(&ng, "fail.warc"));
    snprintf(closed, sizeof closed, "http://127.0.0.1:%d/x", closed_port());
    run_result r;
    RUN(&r, NULL, "--warc", warc, "-t", "1", "--retry", "0", url("/slow.bin"),
        closed);
    ck_assert_msg(r.status == 1, "exit %d: %s", r.status, r.err);
    run_free(&r);
    int st;
    char *out = check_warc("", warc, &st);
    ck_assert_msg(st == 0, "%s", checker_said);
    ck_assert_uint_eq(count_str(out, "metadata\t"), 2);
    ck_assert_uint_eq(count_str(out, "response\t"), 1);
    free(out);
    size_t len;
    char *raw = slurp(warc, &len);
    ck_assert_uint_eq(count_mem(raw, len, "WARC-Truncated: time\r\n"), 1);
    ck_assert_uint_eq(count_mem(raw, len, "fetch-error: timeout\r\n"), 1);
    ck_assert_uint_eq(count_mem(raw, len, "fetch-error: connect\r\n"), 1);
    free(raw);
}
END_TEST

/* --warc-max-size: FILE-00000.warc.gz, -00001 ..., each opening with its
   own warcinfo, no record split; together every response once. */
START_TEST(max_size_rotates_files)
{
    char warc[4200];
    snprintf(warc, sizeof warc, "%s", nginx_path(&ng, "rot/part.warc.gz"));
    mkdir(nginx_path(&ng, "rot"), 0755);
    run_result r;
    RUN(&r, NULL, "--warc", warc, "--warc-max-size", "100K", "-j", "1",
        url("/c.bin"), url("/a.txt"), url("/c.bin"), url("/b.txt"),
        url("/c.bin"));
    ck_assert_msg(r.status == 0, "exit %d: %s", r.status, r.err);
    run_free(&r);
    char files[9000] = "";
    int n = 0;
    for (int i = 0; i < 10; i++) {
        char p[4200];
        snprintf(p, sizeof p, "%s/part-%05d.warc.gz", nginx_path(&ng, "rot"),
                 i);
        if (access(p, F_OK) != 0)
            break;
        snprintf(files + strlen(files), sizeof files - strlen(files), " '%s'",
                 p);
        n++;
    }
    ck_assert_int_ge(n, 3); /* three bodies of 300 KB, past 100K each */
    ck_assert_int_ne(access(warc, F_OK), 0);
    int st;
    char *out = check_warc("", files, &st);
    ck_assert_msg(st == 0, "%s", checker_said);
    ck_assert_uint_eq(count_str(out, "warcinfo\t"), (size_t)n);
    ck_assert_uint_eq(count_str(out, "response\t"), 5);
    free(out);
    /* no spool is left behind */
    DIR *d = opendir(nginx_path(&ng, "rot"));
    struct dirent *e;
    while ((e = readdir(d)))
        ck_assert_msg(strncmp(e->d_name, ".fetchall", 9), "%s", e->d_name);
    closedir(d);
}
END_TEST

/* An existing FILE is never touched without --clobber. */
START_TEST(an_existing_file_is_left_alone)
{
    char warc[4200];
    snprintf(warc, sizeof warc, "%s", nginx_path(&ng, "mine.warc.gz"));
    FILE *f = fopen(warc, "w");
    fputs("my bytes\n", f);
    fclose(f);
    run_result r;
    RUN(&r, NULL, "--warc", warc, url("/b.txt"));
    ck_assert_int_eq(r.status, 2);
    ck_assert_ptr_nonnull(strstr(r.err, "--warc"));
    ck_assert_ptr_nonnull(strstr(r.err, "exists"));
    ck_assert_str_eq(r.out, "");
    run_free(&r);
    size_t len;
    char *kept = slurp(warc, &len);
    ck_assert_str_eq(kept, "my bytes\n");
    free(kept);
    char *log = nginx_log(&ng, &len);
    ck_assert_uint_eq(count_str(log, "/b.txt"), 0);
    free(log);
    RUN(&r, NULL, "--warc", warc, "--clobber", url("/b.txt"));
    ck_assert_int_eq(r.status, 0);
    run_free(&r);
    int st;
    char *out = check_warc("", warc, &st);
    ck_assert_msg(st == 0, "%s", checker_said);
    free(out);
    RUN(&r, NULL, "--warc-max-size", "1M", url("/b.txt"));
    ck_assert_int_eq(r.status, 2);
    run_free(&r);
}
END_TEST

/* Over HTTPS and HTTP/2 the records read back as well: heads as libcurl
   renders them ("HTTP/2 200"), the DATA frames' payload as the body, a
   gzip'd answer kept gzip'd. */
START_TEST(http2_over_tls)
{
    nginx tls;
    char cert[256], key[256], server[1024], warc[4200];
    nginx_init(&tls);
    tls_files(tls.dir, cert, key, sizeof cert);
    chmod(key, 0644); /* its workers run as nobody */
    FILE *f = fopen(nginx_path(&tls, "www/t.txt"), "w");
    ck_assert_ptr_nonnull(f);
    for (int i = 0; i < 3000; i++)
        fprintf(f, "line %d\n", i);
    fclose(f);
    chmod(nginx_path(&tls, "www/t.txt"), 0644);
    snprintf(server, sizeof server,
             "    ssl_certificate %s;\n    ssl_certificate_key %s;\n", cert,
             key);
    nginx_run(&tls, "",
              "  log_format m '$request $status';\n"
              "  gzip on; gzip_types text/plain;\n",
              "ssl http2", server);
    snprintf(warc, sizeof warc, "%s", nginx_path(&ng, "h2.warc.gz"));
    char u1[128], u2[128];
    snprintf(u1, sizeof u1, "https://127.0.0.1:%d/t.txt", tls.port);
    snprintf(u2, sizeof u2, "https://127.0.0.1:%d/none", tls.port);
    run_result r;
    RUN(&r, NULL, "-k", "--warc", warc, u1, u2);
    ck_assert_msg(r.status == 0, "exit %d: %s", r.status, r.err);
    ck_assert(!strncmp(r.out, "line 0\nline 1\n", 14)); /* decoded */
    run_free(&r);
    int st;
    char *out = check_warc("", warc, &st);
    ck_assert_msg(st == 0, "%s", checker_said);
    ck_assert_uint_eq(count_str(out, "response\t"), 2);
    ck_assert_uint_eq(count_str(out, "\t200\t"), 1);
    ck_assert_uint_eq(count_str(out, "\t404\t"), 1);
    free(out);
    size_t len;
    char *raw = unzipped(warc, &len);
    ck_assert_uint_eq(count_mem(raw, len, "GET /t.txt HTTP/2\r\n"), 1);
    ck_assert_uint_eq(count_mem(raw, len, "HTTP/2 200"), 1);
    ck_assert_uint_ge(count_mem(raw, len, "content-encoding: gzip\r\n"), 1);
    free(raw);
    nginx_stop(&tls);
}
END_TEST

/* A 64 MB body costs the WARC 64 KiB of memory: the rest is spooled. */
START_TEST(a_large_body_costs_flat_memory)
{
#if defined(__SANITIZE_ADDRESS__)
    return; /* the sanitizer's shadow memory swamps the figure */
#endif
    if (getenv("FETCH_VALGRIND")) /* and so does valgrind */
        return;
    char dir[4200], warc[4200];
    FILE *f = fopen(nginx_path(&ng, "www/huge.bin"), "w");
    ck_assert_ptr_nonnull(f);
    char block[65536];
    for (size_t i = 0; i < sizeof block; i++)
        block[i] = (char)(i * 7);
    for (int i = 0; i < 1024; i++)
        fwrite(block, 1, sizeof block, f);
    fclose(f);
    chmod(nginx_path(&ng, "www/huge.bin"), 0644);
    snprintf(dir, sizeof dir, "%s", nginx_path(&ng, "big"));
    snprintf(warc, sizeof warc, "%s", nginx_path(&ng, "big.warc"));
    run_result r;
    RUN(&r, NULL, "-o", dir, "--warc", warc, url("/huge.bin"));
    ck_assert_msg(r.status == 0, "exit %d: %s", r.status, r.err);
    run_free(&r);
    struct rusage ru;
    getrusage(RUSAGE_CHILDREN, &ru); /* fetchall is the only one reaped */
    ck_assert_msg(ru.ru_maxrss < 40 * 1024, "peak RSS %ld KiB", ru.ru_maxrss);
    struct stat st;
    ck_assert_int_eq(stat(warc, &st), 0);
    ck_assert_int_gt(st.st_size, 64 << 20);
}
END_TEST

static Suite *suite(void)
{
    Suite *s = suite_create("warc");
    TCase *tc = tcase_create("nginx");
    tcase_add_checked_fixture(tc, setup, teardown);
    tcase_set_timeout(tc, getenv("FETCH_VALGRIND") ? 300 : 60);
    tcase_add_test(tc, a_large_body_costs_flat_memory);
    tcase_add_test(tc, a_crawl_matches_wget_record_by_record);
    tcase_add_test(tc, hops_and_request_bodies);
    tcase_add_test(tc, a_304_is_a_revisit);
    tcase_add_test(tc, failures_are_recorded_as_what_they_got);
    tcase_add_test(tc, max_size_rotates_files);
    tcase_add_test(tc, an_existing_file_is_left_alone);
    tcase_add_test(tc, http2_over_tls);
    suite_add_tcase(s, tc);
    return s;
}

int main(void)
{
    char warcio[4200];
    snprintf(warcio, sizeof warcio, "%s/tests/warc/node_modules/warcio",
             getenv("srcdir") ? getenv("srcdir") : ".");
    if (!nginx_installed(0) || access("/usr/bin/wget", X_OK) != 0 ||
        system("node --version >/dev/null 2>&1") != 0 ||
        access(warcio, F_OK) != 0) {
        printf("skipped: needs nginx, wget, node and warcio (npm ci --prefix "
               "tests/warc)\n");
        return 77;
    }
    return run_suite(suite());
}
