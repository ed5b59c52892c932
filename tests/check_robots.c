/* SPDX-License-Identifier: MIT */
/*
 * The robots.txt parser alone, built from its source: the examples of
 * RFC 9309 and the cases widely used parsers test (the facts, in tests of
 * our own).
 */
#include <check.h>
#include <stdlib.h>
#include <string.h>

#include "harness.h"
#include "robots.h"

/* Is path allowed for agent by text? */
static int allowed(const char *text, const char *agent, const char *path)
{
    struct fetch__robots *r = fetch__robots_parse(text, strlen(text), agent);
    ck_assert_ptr_nonnull(r);
    int ok = fetch__robots_allowed(r, path);
    fetch__robots_free(r);
    return ok;
}

#define ALLOWED(t, a, p) ck_assert_msg(allowed(t, a, p), "%s: %s refused", a, p)
#define REFUSED(t, a, p)                                                       \
    ck_assert_msg(!allowed(t, a, p), "%s: %s allowed", a, p)

/* RFC 9309, 5.1: groups by product token, combined user-agent lines, an
   empty group, and "*" for the rest. */
static const char *const rfc_example = "User-Agent: *\n"
                                       "Disallow: *.gif$\n"
                                       "Disallow: /example/\n"
                                       "Allow: /publications/\n"
                                       "\n"
                                       "User-Agent: foobot\n"
                                       "Disallow:/\n"
                                       "Allow:/example/page.html\n"
                                       "Allow:/example/allowed.gif\n"
                                       "\n"
                                       "User-Agent: barbot\n"
                                       "User-Agent: bazbot\n"
                                       "Disallow: /example/page.html\n"
                                       "\n"
                                       "User-Agent: quxbot\n"
                                       "\n"
                                       "EOF\n";

START_TEST(rfc_9309_example)
{
    const char *t = rfc_example;
    ALLOWED(t, "foobot", "/example/page.html");
    ALLOWED(t, "foobot", "/example/allowed.gif");
    REFUSED(t, "foobot", "/example/other.html");
    REFUSED(t, "foobot", "/");
    REFUSED(t, "barbot", "/example/page.html");
    REFUSED(t, "bazbot", "/example/page.html");
    ALLOWED(t, "barbot", "/example/other.html");
    ALLOWED(t, "bazbot", "/a.gif");             /* its group, not "*" */
    ALLOWED(t, "quxbot", "/example/page.html"); /* an empty group */
    ALLOWED(t, "quxbot", "/a.gif");
    REFUSED(t, "otherbot", "/a.gif");
    REFUSED(t, "otherbot", "/example/x");
    ALLOWED(t, "otherbot", "/publications/x");
    ALLOWED(t, "otherbot", "/a.gif.html"); /* $: the end */
    ALLOWED(t, "otherbot", "/");
    /* the product token, case-insensitively */
    REFUSED(t, "FooBot", "/x");
    ALLOWED(t, "FOOBOT", "/example/page.html");
}
END_TEST

/* 2.2.3: * and $. */
START_TEST(special_characters)
{
    const char *t = "user-agent: *\ndisallow: /fish\n";
    REFUSED(t, "a", "/fish");
    REFUSED(t, "a", "/fish.html");
    REFUSED(t, "a", "/fish/salmon.html");
    REFUSED(t, "a", "/fishheads");
    REFUSED(t, "a", "/fish.php?id=anything");
    ALLOWED(t, "a", "/Fish.asp"); /* paths are case-sensitive */
    ALLOWED(t, "a", "/catfish");
    ALLOWED(t, "a", "/?id=fish");
    t = "user-agent: *\ndisallow: /fish*\n"; /* the same as /fish */
    REFUSED(t, "a", "/fish");
    REFUSED(t, "a", "/fishheads/yummy.html");
    ALLOWED(t, "a", "/Fish.bar");
    t = "user-agent: *\ndisallow: /fish/\n";
    REFUSED(t, "a", "/fish/");
    REFUSED(t, "a", "/fish/?id=anything");
    ALLOWED(t, "a", "/fish");
    ALLOWED(t, "a", "/fish.html");
    t = "user-agent: *\ndisallow: /*.php\n";
    REFUSED(t, "a", "/filename.php");
    REFUSED(t, "a", "/folder/filename.php?parameters");
    REFUSED(t, "a", "/filename.php/");
    ALLOWED(t, "a", "/");
    ALLOWED(t, "a", "/windows.PHP");
    t = "user-agent: *\ndisallow: /*.php$\n";
    REFUSED(t, "a", "/filename.php");
    REFUSED(t, "a", "/folder/filename.php");
    ALLOWED(t, "a", "/filename.php?parameters");
    ALLOWED(t, "a", "/filename.php/");
    ALLOWED(t, "a", "/filename.php5");
    t = "user-agent: *\ndisallow: /fish*.php\n";
    REFUSED(t, "a", "/fish.php");
    REFUSED(t, "a", "/fishheads/catfish.php?parameters");
    ALLOWED(t, "a", "/Fish.PHP");
    t = "user-agent: *\ndisallow: /**a**b*c\n"; /* runs of * */
    REFUSED(t, "a", "/xxaybzc");
    ALLOWED(t, "a", "/xxaybz");
    t = "user-agent: *\ndisallow: /$\n"; /* the root alone */
    REFUSED(t, "a", "/");
    ALLOWED(t, "a", "/a");
}
END_TEST

/* 2.2.2: the longest match decides; Allow when as long. */
START_TEST(longest_match_decides)
{
    const char *t = "user-agent: *\nallow: /p\ndisallow: /\n";
    ALLOWED(t, "a", "/page");
    REFUSED(t, "a", "/x");
    t = "user-agent: *\nallow: /folder\ndisallow: /folder\n";
    ALLOWED(t, "a", "/folder/page");
    t = "user-agent: *\ndisallow: /folder\nallow: /folder\n"; /* order */
    ALLOWED(t, "a", "/folder/page");
    t = "user-agent: *\nallow: /page\ndisallow: /*.htm\n";
    REFUSED(t, "a", "/page.htm");  /* 6 octets against 5 */
    REFUSED(t, "a", "/page.html"); /* its start matches: 6 octets again */
    ALLOWED(t, "a", "/page");
    t = "user-agent: *\nallow: /$\ndisallow: /\n";
    ALLOWED(t, "a", "/");
    REFUSED(t, "a", "/page.htm");
    t = "user-agent: *\ndisallow: /x/\nallow: /x/y/\ndisallow: /x/y/z\n";
    REFUSED(t, "a", "/x/a");
    ALLOWED(t, "a", "/x/y/a");
    REFUSED(t, "a", "/x/y/z");
}
END_TEST

/* 2.2.2: percent-encoding in one normal form on both sides. */
START_TEST(percent_encoding_is_normalized)
{
    const char *t = "user-agent: *\ndisallow: /foo/bar/\xE3\x83\x84\n";
    REFUSED(t, "a", "/foo/bar/%E3%83%84");
    REFUSED(t, "a", "/foo/bar/%e3%83%84"); /* hex digits in any case */
    ALLOWED(t, "a", "/foo/bar/");
    t = "user-agent: *\ndisallow: /foo/bar/%E3%83%84\n";
    REFUSED(t, "a", "/foo/bar/%E3%83%84");
    REFUSED(t, "a", "/foo/bar/\xE3\x83\x84");
    t = "user-agent: *\ndisallow: /foo/bar/%62%61%7A\n"; /* unreserved */
    REFUSED(t, "a", "/foo/bar/baz");
    t = "user-agent: *\ndisallow: /foo/bar/baz\n";
    REFUSED(t, "a", "/foo/bar/%62%61%7A");
    t = "user-agent: *\ndisallow: /a%2Fb\n"; /* reserved: kept encoded */
    REFUSED(t, "a", "/a%2fb");
    ALLOWED(t, "a", "/a/b");
    t = "user-agent: *\ndisallow: /foo/bar?baz=quz\n";
    REFUSED(t, "a", "/foo/bar?baz=quz");
    ALLOWED(t, "a", "/foo/bar?baz=other");
}
END_TEST

/* Lines as files have them: case, spaces, comments, CR LF, a BOM; groups
   that end at the next user-agent after rules; sitemap lines in a group;
   rules before any group; empty Disallow. */
START_TEST(lines_and_groups)
{
    const char *t = "\xEF\xBB\xBFUSER-AGENT : FooBot # us\r\n"
                    "DisAllow:   /x   # no x\r\n"
                    "sitemap: https://example.com/sitemap.xml\r\n"
                    "disallow: /y\r\n";
    REFUSED(t, "foobot", "/x");
    REFUSED(t, "foobot", "/y"); /* a sitemap line ends no group */
    ALLOWED(t, "foobot", "/z");
    t = "disallow: /early\nuser-agent: a\ndisallow: /x\nuser-agent: b\n"
        "disallow: /y\n";
    ALLOWED(t, "a", "/early");
    REFUSED(t, "a", "/x");
    ALLOWED(t, "a", "/y");
    REFUSED(t, "b", "/y");
    ALLOWED(t, "b", "/x");
    t = "user-agent: a\ndisallow: /x\nuser-agent: *\ndisallow: /\n"
        "user-agent: a\ndisallow: /y\n"; /* a's two groups combined */
    REFUSED(t, "a", "/x");
    REFUSED(t, "a", "/y");
    ALLOWED(t, "a", "/z");
    t = "user-agent: *\ndisallow:\n"; /* an empty Disallow: nothing */
    ALLOWED(t, "a", "/anything");
    t = "user-agent: *\ndisallow /x\nfoo: bar\n"; /* no colon, unknown */
    ALLOWED(t, "a", "/x");
    t = "user-agent: foobot/2.1\ndisallow: /\n"; /* its product token */
    REFUSED(t, "foobot", "/x");
    t = "user-agent: foo\ndisallow: /\n"; /* a prefix is not a match */
    ALLOWED(t, "foobot", "/x");
    t = "user-agent: a\rdisallow: /cr\r"; /* CR alone ends lines too */
    REFUSED(t, "a", "/cr");
    ALLOWED(t, "a", "/robots.txt");
    t = "user-agent: *\ndisallow: /\n";
    ALLOWED(t, "a", "/robots.txt"); /* always */
    ALLOWED("", "a", "/x");
}
END_TEST

/* 2.5: at most 500 KiB are parsed. */
START_TEST(only_500_kib_are_parsed)
{
    size_t n = FETCH__ROBOTS_MAX + 100;
    char *t = malloc(n + 64);
    ck_assert_ptr_nonnull(t);
    strcpy(t, "user-agent: *\ndisallow: /a\n");
    size_t at = strlen(t);
    memset(t + at, '#', FETCH__ROBOTS_MAX - at - 5);
    at = FETCH__ROBOTS_MAX - 5;
    strcpy(t + at, "\ndisallow: /b\n");
    REFUSED(t, "x", "/a");
    ALLOWED(t, "x", "/b"); /* past the limit */
    free(t);
}
END_TEST

START_TEST(crawl_delay_and_files_that_are_not_there)
{
    struct fetch__robots *r;
    const char *t = "user-agent: *\ncrawl-delay: 2.5\nuser-agent: slow\n"
                    "crawl-delay: 100\n";
    r = fetch__robots_parse(t, strlen(t), "a");
    ck_assert_double_eq(fetch__robots_delay(r), 2.5);
    fetch__robots_free(r);
    r = fetch__robots_parse(t, strlen(t), "slow");
    ck_assert_double_eq(fetch__robots_delay(r), FETCH__ROBOTS_DELAY_MAX);
    fetch__robots_free(r);
    r = fetch__robots_parse("user-agent: *\n", 14, "a");
    ck_assert_double_eq(fetch__robots_delay(r), 0);
    fetch__robots_free(r);
    r = fetch__robots_all(0); /* 5xx or unreachable */
    ck_assert(!fetch__robots_allowed(r, "/"));
    ck_assert(fetch__robots_allowed(r, "/robots.txt"));
    fetch__robots_free(r);
    r = fetch__robots_all(1); /* 4xx */
    ck_assert(fetch__robots_allowed(r, "/anything"));
    fetch__robots_free(r);
}
END_TEST

START_TEST(product_tokens)
{
    char tok[32];
    ck_assert_uint_eq(
        fetch__robots_token("MyBot/1.0 (+https://x)", tok, sizeof tok), 5);
    ck_assert_str_eq(tok, "MyBot");
    fetch__robots_token("libfetch/0.2.0", tok, sizeof tok);
    ck_assert_str_eq(tok, "libfetch");
    ck_assert_uint_eq(fetch__robots_token("(none)", tok, sizeof tok), 0);
    ck_assert_str_eq(tok, "");
}
END_TEST

static Suite *robots_suite(void)
{
    Suite *s = suite_create("robots.txt");
    TCase *tc = tcase_create("parser");
    tcase_add_test(tc, rfc_9309_example);
    tcase_add_test(tc, special_characters);
    tcase_add_test(tc, longest_match_decides);
    tcase_add_test(tc, percent_encoding_is_normalized);
    tcase_add_test(tc, lines_and_groups);
    tcase_add_test(tc, only_500_kib_are_parsed);
    tcase_add_test(tc, crawl_delay_and_files_that_are_not_there);
    tcase_add_test(tc, product_tokens);
    suite_add_tcase(s, tc);
    return s;
}

int main(void)
{
    return run_suite(robots_suite());
}
