/* SPDX-License-Identifier: MIT */
/*
 * robots.txt (RFC 9309): the rules of one host for one crawler, parsed
 * and matched. It knows nothing of libcurl or libevent: plain text in,
 * answers out, so its tests give it the RFC's examples directly.
 */
#ifndef FETCH_ROBOTS_H
#define FETCH_ROBOTS_H

#include <stddef.h>

/* At most this much of a robots.txt is parsed (RFC 9309 2.5: at least
   500 KiB); the rest is ignored. */
#define FETCH__ROBOTS_MAX (500 * 1024)

/* Crawl-delay is honoured up to this many seconds. */
#define FETCH__ROBOTS_DELAY_MAX 30.0

struct fetch__robots;

/* The rules for the crawler whose product token is agent ("libfetch";
   compared case-insensitively) in text[0..len) (only the first
   FETCH__ROBOTS_MAX bytes are read): the groups naming it, combined, or
   else those of "*", or else none (everything allowed). NULL: out of
   memory. */
struct fetch__robots *fetch__robots_parse(const char *text, size_t len,
                                          const char *agent);
/* Rules that allow everything (allow 1: a robots.txt answered 4xx) or
   nothing (0: 5xx, or the host could not be reached; RFC 9309 2.3.1.3,
   2.3.1.4). NULL: out of memory. */
struct fetch__robots *fetch__robots_all(int allow);
/* May path (the URL's path and query, "/a/b?x", as sent) be fetched? The
   longest matching rule decides, Allow over Disallow when as long;
   /robots.txt is always allowed. 1 or 0. */
int fetch__robots_allowed(const struct fetch__robots *r, const char *path);
/* The group's Crawl-delay in seconds, at most FETCH__ROBOTS_DELAY_MAX, or
   0 when it has none. */
double fetch__robots_delay(const struct fetch__robots *r);
void fetch__robots_free(struct fetch__robots *r);

/* What a client knows of a host's robots.txt: its rules once fetched
   (NULL while its fetch is under way), and when. */
struct fetch__robots_entry {
    struct fetch__robots *rules;
    double fetched;  /* fetch__now() of its answer */
    int pending;     /* its fetch is under way */
    const char *key; /* the host key, stored after the struct */
};

/* The entry of host key in *tree (a tsearch() tree), made (empty) when
   there is none and make is set. NULL: none, or out of memory. */
struct fetch__robots_entry *fetch__robots_entry(void **tree, const char *key,
                                                int make);
/* Free every entry of *tree and their rules. */
void fetch__robots_cache_free(void **tree);

/* The product token of a User-Agent ("MyBot/1.0 (+https://x)" -> "MyBot":
   its leading letters, digits, '_' and '-') into out (len bytes, NUL
   included). Returns its length (0: none). */
size_t fetch__robots_token(const char *user_agent, char *out, size_t len);

#endif
