/* SPDX-License-Identifier: MIT */
/*
 * robots.txt as RFC 9309 reads it. A file is lines of "key: value"
 * (# starts a comment); a group is one or more user-agent lines and the
 * rules after them. The crawler's groups are those whose user-agent
 * matches its product token, case-insensitively, combined; failing those,
 * the groups of "*". A rule's path may hold * (any run of octets) and a
 * final $ (the end). Paths and patterns are compared in one normal form
 * (2.2.2): %XX of an unreserved character decoded, other %xx in upper
 * case, octets outside US-ASCII percent-encoded. The longest matching
 * pattern wins, Allow when an Allow and a Disallow are as long.
 * Crawl-delay is not in the RFC; crawlers honour it, so the group's is
 * kept.
 */
#define _GNU_SOURCE /* strncasecmp, tdestroy */
#include <ctype.h>
#include <search.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

#include "robots.h"

struct rule {
    char *pattern; /* normalized */
    size_t len;
    int allow;
};

struct fetch__robots {
    struct rule *rules;
    size_t n, cap;
    double delay;
    int all; /* no file: -1 nothing allowed, 1 everything */
};

static int unreserved(int c)
{
    return isalnum(c) || c == '-' || c == '.' || c == '_' || c == '~';
}

static int hex(int c)
{
    return isdigit(c) ? c - '0' : tolower(c) - 'a' + 10;
}

/* s[0..len) in the normal form, malloc'd (NULL: out of memory). */
static char *normal(const char *s, size_t len, size_t *out_len)
{
    static const char digits[] = "0123456789ABCDEF";
    char *o = malloc(3 * len + 1), *p = o;
    if (!o)
        return NULL;
    for (size_t i = 0; i < len; i++) {
        unsigned char c = (unsigned char)s[i];
        if (c == '%' && i + 2 < len && isxdigit((unsigned char)s[i + 1]) &&
            isxdigit((unsigned char)s[i + 2])) {
            int v = hex((unsigned char)s[i + 1]) * 16 +
                    hex((unsigned char)s[i + 2]);
            if (v < 0x80 && unreserved(v)) {
                *p++ = (char)v;
            } else {
                *p++ = '%';
                *p++ = digits[v >> 4];
                *p++ = digits[v & 15];
            }
            i += 2;
        } else if (c >= 0x80) {
            *p++ = '%';
            *p++ = digits[c >> 4];
            *p++ = digits[c & 15];
        } else {
            *p++ = (char)c;
        }
    }
    *p = '\0';
    *out_len = (size_t)(p - o);
    return o;
}

/* Does pattern (with * and a final $) match the start of path? */
static int match(const char *pat, size_t plen, const char *path)
{
    size_t n = strlen(path);
    /* positions of path a prefix of the pattern can end at, as a set:
       the classic two-row walk, O(plen * n) at worst */
    unsigned char *at = calloc(n + 1, 1), *next = calloc(n + 1, 1);
    int ok = 0;
    if (!at || !next)
        goto done;
    at[0] = 1;
    for (size_t i = 0; i < plen; i++) {
        char c = pat[i];
        if (c == '$' && i + 1 == plen) { /* the end of the path */
            ok = at[n];
            goto done;
        }
        memset(next, 0, n + 1);
        int any = 0;
        if (c == '*') {
            for (size_t j = 0, on = 0; j <= n; j++) {
                on |= at[j];
                next[j] = (unsigned char)on;
                any |= on;
            }
        } else {
            for (size_t j = 0; j < n; j++)
                if (at[j] && path[j] == c)
                    next[j + 1] = 1, any = 1;
        }
        unsigned char *t = at;
        at = next;
        next = t;
        if (!any)
            goto done;
    }
    ok = 1; /* the pattern is a prefix of the path, * aside */
done:
    free(at);
    free(next);
    return ok;
}

static int add_rule(struct fetch__robots *r, const char *v, size_t len,
                    int allow)
{
    if (r->n == r->cap) {
        size_t cap = r->cap ? 2 * r->cap : 16;
        struct rule *rules = realloc(r->rules, cap * sizeof *rules);
        if (!rules)
            return -1;
        r->rules = rules;
        r->cap = cap;
    }
    struct rule *u = &r->rules[r->n];
    if (!(u->pattern = normal(v, len, &u->len)))
        return -1;
    u->allow = allow;
    r->n++;
    return 0;
}

/* Does a user-agent line's value name the agent? Its product token is
   compared, case-insensitively. */
static int names(const char *v, size_t len, const char *agent)
{
    size_t t = 0;
    while (t < len &&
           (isalnum((unsigned char)v[t]) || v[t] == '_' || v[t] == '-'))
        t++;
    return t && t == strlen(agent) && !strncasecmp(v, agent, t);
}

static char *trimmed(char *s, char *end, char **vend)
{
    while (s < end && (*s == ' ' || *s == '\t'))
        s++;
    while (end > s && (end[-1] == ' ' || end[-1] == '\t'))
        end--;
    *vend = end;
    return s;
}

/* One pass over the lines for groups that match: by agent, or (agent
   NULL) those of "*". Returns how many groups matched, -1 out of
   memory. */
static int pass(struct fetch__robots *r, char *text, size_t len,
                const char *agent)
{
    char *p = text, *end = text + len;
    int in_agents = 0, matched = 0, groups = 0;
    while (p < end) {
        char *eol = p;
        while (eol < end && *eol != '\n' && *eol != '\r')
            eol++;
        char *hash = memchr(p, '#', (size_t)(eol - p));
        char *line_end = hash ? hash : eol,
             *colon = memchr(p, ':', (size_t)(line_end - p));
        char *next = eol < end ? eol + 1 : eol;
        if (!colon) {
            p = next;
            continue; /* no key: not a line of the format */
        }
        char *kend, *vend;
        char *k = trimmed(p, colon, &kend),
             *v = trimmed(colon + 1, line_end, &vend);
        size_t klen = (size_t)(kend - k), vlen = (size_t)(vend - v);
        p = next;
        if (klen == 10 && !strncasecmp(k, "user-agent", 10)) {
            if (!in_agents) { /* a new group */
                in_agents = 1;
                matched = 0;
            }
            int star = vlen == 1 && *v == '*';
            if (agent ? names(v, vlen, agent) : star) {
                if (!matched)
                    groups++;
                matched = 1;
            }
            continue;
        }
        int allow = klen == 5 && !strncasecmp(k, "allow", 5),
            disallow = klen == 8 && !strncasecmp(k, "disallow", 8),
            delay = klen == 11 && !strncasecmp(k, "crawl-delay", 11);
        if (!allow && !disallow && !delay)
            continue; /* sitemap and others: not rules of a group */
        in_agents = 0;
        if (!matched)
            continue;
        if (delay) {
            char num[32];
            size_t nl = vlen < sizeof num - 1 ? vlen : sizeof num - 1;
            memcpy(num, v, nl);
            num[nl] = '\0';
            char *stop;
            double d = strtod(num, &stop);
            if (stop != num && d > 0 && d == d)
                r->delay =
                    d > FETCH__ROBOTS_DELAY_MAX ? FETCH__ROBOTS_DELAY_MAX : d;
        } else if (vlen && add_rule(r, v, vlen, allow) != 0) {
            return -1; /* an empty Disallow allows: no rule */
        }
    }
    return groups;
}

struct fetch__robots *fetch__robots_parse(const char *text, size_t len,
                                          const char *agent)
{
    struct fetch__robots *r = calloc(1, sizeof *r);
    if (len > FETCH__ROBOTS_MAX)
        len = FETCH__ROBOTS_MAX;
    char *copy = r ? malloc(len + 1) : NULL;
    if (!copy) {
        free(r);
        return NULL;
    }
    memcpy(copy, text, len);
    copy[len] = '\0';
    char *start = copy;
    if (len >= 3 && !memcmp(start, "\xEF\xBB\xBF", 3)) { /* a BOM */
        start += 3;
        len -= 3;
    }
    int found = agent && *agent ? pass(r, start, len, agent) : 0;
    if (found == 0)
        found = pass(r, start, len, NULL);
    free(copy);
    if (found < 0) {
        fetch__robots_free(r);
        return NULL;
    }
    return r;
}

struct fetch__robots *fetch__robots_all(int allow)
{
    struct fetch__robots *r = calloc(1, sizeof *r);
    if (r)
        r->all = allow ? 1 : -1;
    return r;
}

int fetch__robots_allowed(const struct fetch__robots *r, const char *path)
{
    if (!strcmp(path, "/robots.txt"))
        return 1;
    if (r->all)
        return r->all > 0;
    size_t plen;
    char *p = normal(path, strlen(path), &plen);
    if (!p)
        return 0; /* out of memory: not a reason to fetch */
    size_t best = 0;
    int allowed = 1, any = 0;
    for (size_t i = 0; i < r->n; i++) {
        const struct rule *u = &r->rules[i];
        if (any && (u->len < best || (u->len == best && !u->allow)))
            continue; /* cannot change the answer */
        if (!match(u->pattern, u->len, p))
            continue;
        if (!any || u->len > best || u->allow) {
            best = u->len;
            allowed = u->allow;
            any = 1;
        }
    }
    free(p);
    return allowed;
}

double fetch__robots_delay(const struct fetch__robots *r)
{
    return r->delay;
}

void fetch__robots_free(struct fetch__robots *r)
{
    if (!r)
        return;
    for (size_t i = 0; i < r->n; i++)
        free(r->rules[i].pattern);
    free(r->rules);
    free(r);
}

size_t fetch__robots_token(const char *user_agent, char *out, size_t len)
{
    size_t t = 0;
    while (user_agent && (isalnum((unsigned char)user_agent[t]) ||
                          user_agent[t] == '_' || user_agent[t] == '-'))
        t++;
    if (!len)
        return t;
    size_t n = t < len - 1 ? t : len - 1;
    memcpy(out, user_agent ? user_agent : "", n);
    out[n] = '\0';
    return t;
}

static int entry_cmp(const void *a, const void *b)
{
    return strcmp(((const struct fetch__robots_entry *)a)->key,
                  ((const struct fetch__robots_entry *)b)->key);
}

struct fetch__robots_entry *fetch__robots_entry(void **tree, const char *key,
                                                int make)
{
    struct fetch__robots_entry probe = {.key = key}, *e, **found;
    if ((found = tfind(&probe, tree, entry_cmp)))
        return *found;
    size_t len = strlen(key);
    if (!make || !(e = calloc(1, sizeof *e + len + 1)))
        return NULL;
    e->key = memcpy(e + 1, key, len + 1);
    if (!tsearch(e, tree, entry_cmp)) {
        free(e);
        return NULL;
    }
    return e;
}

static void entry_free(void *p)
{
    struct fetch__robots_entry *e = p;
    fetch__robots_free(e->rules);
    free(e);
}

void fetch__robots_cache_free(void **tree)
{
    tdestroy(*tree, entry_free);
    *tree = NULL;
}
