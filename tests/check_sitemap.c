/* SPDX-License-Identifier: MIT */
/*
 * fetchall --sitemap against nginx: sitemaps, sitemap indexes and .xml.gz,
 * fetched or local, their URLs run in sitemap order; malformed XML named
 * with its line, the URLs before it kept; robots.txt's Sitemap: lines.
 * What was requested is judged by nginx's own log. Skipped (77) when
 * nginx is not installed.
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

static void put(const char *name, const char *text)
{
    FILE *f = fopen(nginx_path(&ng, name), "w");
    ck_assert_ptr_nonnull(f);
    fputs(text, f);
    fclose(f);
    chmod(nginx_path(&ng, name), 0644);
}

/* name.gz: text compressed by gzip(1). */
static void put_gz(const char *name, const char *text)
{
    char cmd[4200];
    snprintf(cmd, sizeof cmd, "gzip -c > '%s'", nginx_path(&ng, name));
    FILE *f = popen(cmd, "w");
    ck_assert_ptr_nonnull(f);
    fputs(text, f);
    ck_assert_int_eq(pclose(f), 0);
    chmod(nginx_path(&ng, name), 0644);
}

static const char *url(const char *path)
{
    static char bufs[16][128];
    static int next;
    char *b = bufs[next++ % 16];
    snprintf(b, 128, "http://127.0.0.1:%d%s", ng.port, path);
    return b;
}

/* A <urlset> of the paths (NULL-ended), on nginx. */
static char *urlset(const char *const *paths)
{
    char *x = NULL;
    size_t len = 0;
    FILE *f = open_memstream(&x, &len);
    fprintf(f, "<?xml version=\"1.0\" encoding=\"UTF-8\"?>\n"
               "<urlset xmlns=\"http://www.sitemaps.org/schemas/sitemap/0.9\">"
               "\n");
    for (; *paths; paths++)
        fprintf(f, "  <url><loc>%s</loc><lastmod>2026-01-01</lastmod></url>\n",
                url(*paths));
    fprintf(f, "</urlset>\n");
    fclose(f);
    return x;
}

static void setup(void)
{
    cli_setup(); /* the command; its test server is not used here */
    nginx_init(&ng);
    for (int i = 1; i <= 9; i++) {
        char name[16], body[16];
        snprintf(name, sizeof name, "www/%d", i);
        snprintf(body, sizeof body, "%d\n", i);
        put(name, body);
    }
    nginx_run(&ng, "", "  log_format m '$request_uri $status';\n", "",
              "    location = /moved.xml { return 301 /sitemap.xml; }\n");
}

static void teardown(void)
{
    nginx_stop(&ng);
    srv_teardown();
}

/* The paths nginx was asked for, in the order it answered them, one a
   line. */
static char *asked(void)
{
    size_t len;
    return nginx_log(&ng, &len);
}

static const char *body(const char *dir, int n)
{
    static char buf[4][64];
    static int next;
    char path[4200];
    char *b = buf[next++ % 4];
    snprintf(path, sizeof path, "%s/%d", dir, n);
    FILE *f = fopen(path, "r");
    if (!f)
        return "(none)";
    size_t k = fread(b, 1, sizeof buf[0] - 1, f);
    b[k] = '\0';
    fclose(f);
    return b;
}

/* A fetched sitemap's URLs come after -i's, in the sitemap's order, and
   -o numbers them on from there. */
START_TEST(urls_in_sitemap_order_after_the_input)
{
    const char *paths[] = {"/5", "/3", "/4", "/1", NULL};
    char *x = urlset(paths);
    put("www/sitemap.xml", x);
    free(x);
    char in[256], dir[4200];
    snprintf(in, sizeof in, "%s\n%s\n", url("/9"), url("/8"));
    snprintf(dir, sizeof dir, "%s", nginx_path(&ng, "out"));
    run_result r;
    RUN(&r, in, "-i", "-", "--sitemap", url("/sitemap.xml"), "-o", dir, "-j",
        "3");
    ck_assert_msg(r.status == 0, "exit %d: %s", r.status, r.err);
    run_free(&r);
    const char *want[] = {"9\n", "8\n", "5\n", "3\n", "4\n", "1\n"};
    for (int i = 0; i < 6; i++)
        ck_assert_str_eq(body(dir, i + 1), want[i]);
    ck_assert_str_eq(body(dir, 7), "(none)");
    /* behind a redirect, as sitemaps often are */
    RUN(&r, NULL, "--sitemap", url("/moved.xml"));
    ck_assert_int_eq(r.status, 0);
    ck_assert_str_eq(r.out, "5\n3\n4\n1\n");
    run_free(&r);
    char *log = asked();
    ck_assert_uint_eq(count_str(log, "/moved.xml 301"), 1);
    ck_assert_uint_eq(count_str(log, "/sitemap.xml 200"), 2);
    free(log);
}
END_TEST

/* An index's sitemaps are read in its order; .xml.gz is uncompressed;
   a local file works as a fetched one, with CDATA, spaces around the URL
   and a namespace prefix. */
START_TEST(an_index_of_gzipped_and_plain_sitemaps)
{
    const char *one[] = {"/2", "/7", NULL}, *two[] = {"/6", NULL};
    char *x = urlset(one);
    put_gz("www/one.xml.gz", x);
    free(x);
    x = urlset(two);
    put("www/two.xml", x);
    free(x);
    char idx[1024];
    snprintf(idx, sizeof idx,
             "<?xml version=\"1.0\"?>\n"
             "<sitemapindex "
             "xmlns=\"http://www.sitemaps.org/schemas/sitemap/0.9\">\n"
             "<sitemap><loc>%s</loc></sitemap>\n"
             "<sitemap><loc>%s</loc></sitemap>\n"
             "</sitemapindex>\n",
             url("/one.xml.gz"), url("/two.xml"));
    put("www/index.xml", idx);
    char local[1024];
    snprintf(
        local, sizeof local,
        "<?xml version=\"1.0\"?>\n"
        "<s:urlset xmlns:s=\"http://www.sitemaps.org/schemas/sitemap/0.9\">"
        "\n<s:url><s:loc>\n   %s\n</s:loc></s:url>\n"
        "<s:url><s:loc><![CDATA[%s]]></s:loc></s:url>\n</s:urlset>\n",
        url("/9"), url("/8"));
    put("local.xml", local);
    run_result r;
    RUN(&r, NULL, "--sitemap", url("/index.xml"), "--sitemap",
        nginx_path(&ng, "local.xml"));
    ck_assert_msg(r.status == 0, "exit %d: %s", r.status, r.err);
    ck_assert_str_eq(r.out, "2\n7\n6\n9\n8\n");
    run_free(&r);
}
END_TEST

/* A text sitemap (a URL a line, sitemaps.org allows it), gzip'd or not,
   from a file or fetched; a BOM, blank lines and spaces are no URLs. */
START_TEST(a_text_sitemap)
{
    char text[512];
    snprintf(text, sizeof text, "\xef\xbb\xbf  %s\r\n\n  %s  \n%s", url("/3"),
             url("/1"), url("/2"));
    put_gz("www/urls.txt.gz", text);
    put("list.txt", text);
    run_result r;
    RUN(&r, NULL, "--sitemap", url("/urls.txt.gz"), "--sitemap",
        nginx_path(&ng, "list.txt"));
    ck_assert_msg(r.status == 0, "exit %d: %s", r.status, r.err);
    ck_assert_str_eq(r.out, "3\n1\n2\n3\n1\n2\n");
    run_free(&r);
}
END_TEST

/* A <loc> longer than 64 KiB is skipped and said, not held whole; the
   next one is read. */
START_TEST(an_overlong_loc_is_skipped)
{
    size_t big = 70000;
    char *x = malloc(big + 512);
    ck_assert_ptr_nonnull(x);
    int at = snprintf(x, 512, "<urlset><url><loc>%s", url("/"));
    memset(x + at, 'a', big);
    snprintf(x + at + big, 512,
             "</loc></url>\n<url><loc>%s</loc></url></urlset>\n", url("/4"));
    put("long.xml", x);
    free(x);
    run_result r;
    RUN(&r, NULL, "--sitemap", nginx_path(&ng, "long.xml"));
    ck_assert_int_eq(r.status, 0);
    ck_assert_str_eq(r.out, "4\n");
    ck_assert_ptr_nonnull(
        strstr(r.err, "line 1: a <loc> over 64 KiB: skipped"));
    run_free(&r);
}
END_TEST

/* Malformed XML: one message naming the sitemap and the line; the URLs
   before the error are fetched, none after; exit 2. */
START_TEST(malformed_xml_keeps_the_urls_before_it)
{
    char x[1024];
    snprintf(x, sizeof x,
             "<?xml version=\"1.0\"?>\n"
             "<urlset xmlns=\"http://www.sitemaps.org/schemas/sitemap/0.9\">\n"
             "<url><loc>%s</loc></url>\n"
             "<url><loc>%s</loc></url\n"
             "<url><loc>%s</loc></url>\n"
             "</urlset>\n",
             url("/1"), url("/2"), url("/3"));
    put("www/bad.xml", x);
    run_result r;
    RUN(&r, NULL, "--sitemap", url("/bad.xml"));
    ck_assert_int_eq(r.status, 2);
    ck_assert_str_eq(r.out, "1\n2\n");
    ck_assert_ptr_nonnull(strstr(r.err, "/bad.xml: line 5: not well-formed"));
    ck_assert_uint_eq(count_str(r.err, "\n"), 1);
    run_free(&r);
    char *log = asked();
    ck_assert_ptr_null(strstr(log, "/3 "));
    free(log);
    /* a sitemap that is not there: named, nothing else fetched */
    RUN(&r, NULL, "--sitemap", url("/none.xml"), "--retry", "0");
    ck_assert_int_eq(r.status, 2);
    ck_assert_str_eq(r.out, "");
    ck_assert_ptr_nonnull(strstr(r.err, "/none.xml: "));
    ck_assert_ptr_nonnull(strstr(r.err, "404"));
    run_free(&r);
    /* nor a local file */
    RUN(&r, NULL, "--sitemap", nginx_path(&ng, "nothing.xml"));
    ck_assert_int_eq(r.status, 2);
    ck_assert_ptr_nonnull(strstr(r.err, "nothing.xml: No such file"));
    run_free(&r);
}
END_TEST

/* The XML cannot make fetchall read a file: an external entity is not
   loaded (its URL would be requested if it were). */
START_TEST(no_entity_is_loaded)
{
    char secret[256], x[2048];
    snprintf(secret, sizeof secret, "%s", url("/secret"));
    put("secret.txt", secret);
    snprintf(x, sizeof x,
             "<?xml version=\"1.0\"?>\n"
             "<!DOCTYPE urlset [<!ENTITY s SYSTEM \"file://%s\">]>\n"
             "<urlset xmlns=\"http://www.sitemaps.org/schemas/sitemap/0.9\">\n"
             "<url><loc>%s</loc></url>\n"
             "<url><loc>&s;</loc></url>\n"
             "</urlset>\n",
             nginx_path(&ng, "secret.txt"), url("/1"));
    put("www/xxe.xml", x);
    run_result r;
    RUN(&r, NULL, "--sitemap", url("/xxe.xml"));
    ck_assert_str_eq(r.out, "1\n");
    run_free(&r);
    char *log = asked();
    ck_assert_ptr_null(strstr(log, "/secret"));
    free(log);
}
END_TEST

/* A sitemap from the web names no file here: an index fetched from nginx
   that names a local sitemap (by path or file://) has it skipped, said,
   exit 2, its URLs never requested; a local index may name local files;
   standard input is a source too. */
START_TEST(the_web_names_no_local_file)
{
    const char *paths[] = {"/7", NULL};
    char *x = urlset(paths);
    put("local.xml", x);
    free(x);
    char idx[2048];
    snprintf(idx, sizeof idx,
             "<sitemapindex "
             "xmlns=\"http://www.sitemaps.org/schemas/sitemap/0.9\">\n"
             "<sitemap><loc>%s</loc></sitemap>\n"
             "<sitemap><loc>file://%s</loc></sitemap>\n"
             "</sitemapindex>\n",
             nginx_path(&ng, "local.xml"), nginx_path(&ng, "local.xml"));
    put("www/index.xml", idx);
    put("index.xml", idx);
    run_result r;
    RUN(&r, NULL, "--sitemap", url("/index.xml"));
    ck_assert_int_eq(r.status, 2);
    ck_assert_uint_eq(count_str(r.err, "not an http(s) URL: skipped"), 2);
    ck_assert_str_eq(r.out, "");
    run_free(&r);
    char *log = asked();
    ck_assert_ptr_null(strstr(log, "/7 "));
    free(log);
    /* the same index from a file: its local sitemap is read */
    RUN(&r, NULL, "--sitemap", nginx_path(&ng, "index.xml"));
    ck_assert_int_eq(r.status, 2); /* file:// is no file name */
    ck_assert_str_eq(r.out, "7\n");
    run_free(&r);
    /* standard input, once */
    const char *two[] = {"/2", "/1", NULL};
    x = urlset(two);
    RUN(&r, x, "--sitemap", "-");
    ck_assert_int_eq(r.status, 0);
    ck_assert_str_eq(r.out, "2\n1\n");
    run_free(&r);
    free(x);
    RUN(&r, NULL, "--sitemap", "-", "-i", "-");
    ck_assert_int_eq(r.status, 2);
    ck_assert_ptr_nonnull(strstr(r.err, "both read standard input"));
    run_free(&r);
}
END_TEST

/* --sitemap robots: the Sitemap: lines of each site's robots.txt, each
   site once; with --robots only. */
START_TEST(sitemaps_named_by_robots_txt)
{
    const char *paths[] = {"/4", "/5", NULL};
    char *x = urlset(paths);
    put("www/from-robots.xml", x);
    free(x);
    char robots[512];
    snprintf(robots, sizeof robots,
             "User-agent: *\nDisallow: /5\n\n"
             "Sitemap: %s\nsitemap:%s # again\n",
             url("/from-robots.xml"), url("/from-robots.xml"));
    put("www/robots.txt", robots);
    run_result r;
    RUN(&r, NULL, "--robots", "--sitemap", "robots", "--jsonl", url("/1"),
        url("/2"));
    ck_assert_int_eq(r.status, 1);                /* /5 is disallowed */
    ck_assert_uint_eq(count_str(r.out, "\n"), 4); /* named twice, read once */
    ck_assert_uint_eq(count_str(r.out, "\"error_kind\":\"robots\""), 1);
    ck_assert_uint_eq(count_str(r.out, "\"ok\":true"), 3);
    run_free(&r);
    char *log = asked();
    ck_assert_uint_eq(count_str(log, "/from-robots.xml 200"), 1);
    ck_assert_ptr_null(strstr(log, "/5 "));
    free(log);
    RUN(&r, NULL, "--sitemap", "robots", url("/1"));
    ck_assert_int_eq(r.status, 2);
    ck_assert_ptr_nonnull(strstr(r.err, "--sitemap robots goes with --robots"));
    run_free(&r);
    /* no robots.txt (404): no sitemap, said; the URL arguments run */
    unlink(nginx_path(&ng, "www/robots.txt"));
    RUN(&r, NULL, "--robots", "--sitemap", "robots", url("/1"));
    ck_assert_int_eq(r.status, 0);
    ck_assert_str_eq(r.out, "1\n");
    ck_assert_ptr_nonnull(strstr(r.err, "not there: no sitemap named"));
    run_free(&r);
}
END_TEST

static Suite *sitemap_suite(void)
{
    Suite *s = suite_create("--sitemap against nginx");
    TCase *tc = tcase_create("sitemap");
    tcase_add_checked_fixture(tc, setup, teardown);
    tcase_set_timeout(tc, 120);
    tcase_add_test(tc, urls_in_sitemap_order_after_the_input);
    tcase_add_test(tc, an_index_of_gzipped_and_plain_sitemaps);
    tcase_add_test(tc, a_text_sitemap);
    tcase_add_test(tc, an_overlong_loc_is_skipped);
    tcase_add_test(tc, malformed_xml_keeps_the_urls_before_it);
    tcase_add_test(tc, no_entity_is_loaded);
    tcase_add_test(tc, the_web_names_no_local_file);
    tcase_add_test(tc, sitemaps_named_by_robots_txt);
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
    return run_suite(sitemap_suite());
}
