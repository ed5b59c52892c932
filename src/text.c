/* SPDX-License-Identifier: MIT */
/*
 * Untrusted text: URLs, header values and server messages come from the web
 * and may hold control bytes, bytes that are not UTF-8, or credentials. Every
 * message libfetch composes goes through here before anyone can print it.
 */
#include <ctype.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

#include "fetch-internal.h"

/* Length of the valid UTF-8 sequence at p (1-4), its code point in *cp; 0
   when the bytes there are not one (overlong, surrogate, > U+10FFFF,
   truncated, stray continuation byte). */
static size_t utf8_seq(const unsigned char *p, size_t n, unsigned *cp)
{
    static const unsigned min[] = {0, 0, 0x80, 0x800, 0x10000};
    size_t len;
    unsigned c = p[0];
    if (c < 0x80) {
        *cp = c;
        return 1;
    }
    if (c >= 0xC2 && c <= 0xDF)
        len = 2, c &= 0x1F;
    else if (c >= 0xE0 && c <= 0xEF)
        len = 3, c &= 0x0F;
    else if (c >= 0xF0 && c <= 0xF4)
        len = 4, c &= 0x07;
    else
        return 0;
    if (n < len)
        return 0;
    for (size_t i = 1; i < len; i++) {
        if ((p[i] & 0xC0) != 0x80)
            return 0;
        c = (c << 6) | (p[i] & 0x3F);
    }
    if (c < min[len] || c > 0x10FFFF || (c >= 0xD800 && c <= 0xDFFF))
        return 0;
    *cp = c;
    return len;
}

/* Code points a terminal acts on or that reorder or hide text: C1
   controls, bidirectional overrides and isolates ("Trojan Source"), line
   and paragraph separators, zero-width characters. */
static int hidden(unsigned cp)
{
    return (cp >= 0x80 && cp <= 0x9F) || cp == 0x061C ||
           (cp >= 0x200B && cp <= 0x200F) || (cp >= 0x2028 && cp <= 0x202E) ||
           (cp >= 0x2060 && cp <= 0x2069) || cp == 0xFEFF;
}

/* Output to dst of size bytes as snprintf does: at counts every byte the
   whole text needs; only whole units are written, none after one that did
   not fit, so a cut never splits an escape or a character. */
struct out {
    char *dst;
    size_t size, at, end;
};

static void put(struct out *o, const char *u, size_t n)
{
    if (o->at == o->end && o->end + n < o->size) {
        memcpy(o->dst + o->end, u, n);
        o->end += n;
    }
    o->at += n;
}

/* put(), lower-cased (a host key's scheme and host). */
static void put_lower(struct out *o, const char *u, size_t n)
{
    size_t end = o->end;
    put(o, u, n);
    for (size_t i = end; i < o->end; i++)
        o->dst[i] = (char)tolower((unsigned char)o->dst[i]);
}

static size_t done(struct out *o)
{
    if (o->size)
        o->dst[o->end] = '\0';
    return o->at;
}

size_t fetch_text_escape(char *dst, size_t size, const char *src, size_t len,
                         int flags)
{
    if (!src)
        len = 0;
    const unsigned char *p = (const unsigned char *)src;
    struct out o = {dst, size, 0, 0};
    char u[16];
    for (size_t i = 0; i < len;) {
        unsigned cp;
        size_t n = utf8_seq(p + i, len - i, &cp), un;
        const char *unit = u;
        if (flags & FETCH_TEXT_UTF8) { /* only repair: for JSON */
            if (n) {
                unit = (const char *)p + i, un = n;
            } else {
                unit = "\xEF\xBF\xBD", un = 3; /* U+FFFD */
                n = 1;
            }
        } else if (n == 0) {
            un = (size_t)snprintf(u, sizeof u, "\\x%02X", p[i]);
            n = 1;
        } else if (cp == '\\') {
            unit = "\\\\", un = 2;
        } else if (cp == '\n' || cp == '\r' || cp == '\t') {
            u[0] = '\\', u[1] = cp == '\n' ? 'n' : cp == '\r' ? 'r' : 't';
            un = 2;
        } else if (cp < 0x20 || cp == 0x7F) {
            un = (size_t)snprintf(u, sizeof u, "\\x%02X", cp);
        } else if (hidden(cp)) {
            un = (size_t)snprintf(u, sizeof u, "\\u%04X", cp);
        } else {
            unit = (const char *)p + i, un = n;
        }
        put(&o, unit, un);
        i += n;
    }
    return done(&o);
}

/* Length of the "scheme://" that url starts with, or 0 (RFC 3986: a
   letter, then letters, digits, + - or .). */
size_t fetch__scheme_len(const char *url)
{
    size_t n = 0; /* a loop, not strspn(): it runs twice per request */
    if (!isalpha((unsigned char)url[0]))
        return 0;
    while (isalnum((unsigned char)url[n]) || url[n] == '+' || url[n] == '-' ||
           url[n] == '.')
        n++;
    return !strncmp(url + n, "://", 3) ? n + 3 : 0;
}

size_t fetch__bare_scheme_len(const char *url)
{
    size_t n = 0;
    if (!isalpha((unsigned char)url[0]))
        return 0;
    while (isalnum((unsigned char)url[n]) || url[n] == '+' || url[n] == '-' ||
           url[n] == '.')
        n++;
    if (url[n] != ':' || !strncmp(url + n, "://", 3))
        return 0;
    const char *rest = url + n + 1;
    size_t digits = strspn(rest, "0123456789");
    if (digits && strchr("/?#", rest[digits])) /* "host:8080/...": a port */
        return 0;
    if (memchr(rest, '@', strcspn(rest, "/?#"))) /* "user:password@host" */
        return 0;
    return n;
}

/* Where the authority of url begins and ends: after "scheme://" (or at the
   start of a URL without one), up to the first / ? # or \. */
static void authority(const char *url, size_t *begin, size_t *end)
{
    *begin = fetch__scheme_len(url);
    *end = *begin + strcspn(url + *begin, "/?#\\");
}

/* A hand parse of the authority, far cheaper than curl_url() (it runs for
   every request); a malformed URL gets some key and fails later, when
   libcurl parses it. */
size_t fetch_host_key(char *dst, size_t size, const char *url)
{
    struct out o = {dst, dst ? size : 0, 0, 0};
    if (!url)
        url = "";
    size_t b, e, n = fetch__scheme_len(url);
    const char *host, *port = NULL;
    authority(url, &b, &e);
    for (size_t i = b; i < e; i++) /* after any credentials */
        if (url[i] == '@')
            b = i + 1;
    host = url + b;
    if (*host == '[') { /* an IPv6 literal */
        const char *close = memchr(host, ']', e - b);
        if (close && close + 1 < url + e && close[1] == ':')
            port = close + 2;
    } else {
        const char *colon = memchr(host, ':', e - b);
        if (colon)
            port = colon + 1;
    }
    size_t hlen = (size_t)((port ? port - 1 : url + e) - host);
    size_t slen = n ? n - 3 : 4;
    const char *scheme = n ? url : "http";
    const char *dflt = slen == 5 && !strncasecmp(scheme, "https", 5)  ? "443"
                       : slen == 4 && !strncasecmp(scheme, "http", 4) ? "80"
                                                                      : "";
    size_t plen = port ? (size_t)(url + e - port) : 0;
    if (!plen)
        port = dflt, plen = strlen(dflt);
    put_lower(&o, scheme, slen);
    put(&o, "://", 3);
    put_lower(&o, host, hlen);
    put(&o, ":", 1);
    put(&o, port, plen);
    return done(&o);
}

size_t fetch_url_redact(char *dst, size_t size, const char *url)
{
    struct out o = {dst, size, 0, 0};
    if (!url)
        url = "";
    const char *at = NULL;
    size_t b, e;
    authority(url, &b, &e);
    for (size_t i = b; i < e; i++) /* the last @: parsers split there */
        if (url[i] == '@')
            at = url + i;
    if (!at)
        b = 0;
    put(&o, url, b);
    if (at)
        put(&o, "***", 3);
    e = at ? (size_t)(at - url) : 0;
    put(&o, url + e, strlen(url + e));
    return done(&o);
}

/* Step back from i to the start of the UTF-8 character it is in. */
static size_t char_start(const char *s, size_t i)
{
    while (i > 0 && ((unsigned char)s[i] & 0xC0) == 0x80)
        i--;
    return i;
}

/* "URL: detail" for a message: credentials redacted, a URL longer than
   FETCH__URL_SHOWN bytes cut in the middle (the detail never is), then the
   whole of it escaped for a terminal. Returns malloc'd text or NULL. */
char *fetch__message(const char *url, const char *detail)
{
    size_t rlen = fetch_url_redact(NULL, 0, url);
    char *red = malloc(rlen + 1), *shown = NULL, *msg = NULL;
    if (!red)
        return NULL;
    fetch_url_redact(red, rlen + 1, url);
    if (rlen > FETCH__URL_SHOWN) {
        size_t head = char_start(red, FETCH__URL_SHOWN * 2 / 3);
        size_t tail = char_start(red, rlen - FETCH__URL_SHOWN / 3);
        size_t n = (size_t)snprintf(NULL, 0, "%.*s...(%zu bytes)...%s",
                                    (int)head, red, tail - head, red + tail);
        if ((shown = malloc(n + 1)))
            snprintf(shown, n + 1, "%.*s...(%zu bytes)...%s", (int)head, red,
                     tail - head, red + tail);
    } else {
        shown = red;
        red = NULL;
    }
    if (!shown)
        goto out;
    size_t ulen = strlen(shown), dlen = strlen(detail);
    size_t eu = fetch_text_escape(NULL, 0, shown, ulen, 0);
    size_t ed = fetch_text_escape(NULL, 0, detail, dlen, 0);
    if ((msg = malloc(eu + ed + 3))) {
        fetch_text_escape(msg, eu + 1, shown, ulen, 0);
        memcpy(msg + eu, ": ", 2);
        fetch_text_escape(msg + eu + 2, ed + 1, detail, dlen, 0);
    }
out:
    free(red);
    free(shown);
    return msg;
}

/* Seconds as the API takes them: a number, not NaN or infinite. */
int fetch__seconds_ok(double s)
{
    return isfinite(s);
}

/* A header line or similar that goes on the wire: no CR, LF or NUL. */
int fetch__one_line(const char *s)
{
    return s && !strpbrk(s, "\r\n");
}

/* An HTTP token (RFC 9110 tchar), e.g. a method or a header name. */
int fetch__token(const char *s, size_t len)
{
    static const char tchar[] = "!#$%&'*+-.^_`|~0123456789"
                                "abcdefghijklmnopqrstuvwxyz"
                                "ABCDEFGHIJKLMNOPQRSTUVWXYZ";
    if (!len)
        return 0;
    for (size_t i = 0; i < len; i++)
        if (!s[i] || !strchr(tchar, s[i]))
            return 0;
    return 1;
}

/* "Name: value", "Name:" (remove) or "Name;" (empty), as CURLOPT_HTTPHEADER
   takes them, on one line. */
int fetch__header_ok(const char *h)
{
    if (!fetch__one_line(h))
        return 0;
    size_t n = strcspn(h, ":;");
    return h[n] && fetch__token(h, n);
}

int fetch_header_check(const char *header)
{
    return header && fetch__header_ok(header) ? FETCH_OK : FETCH_E_INVAL;
}

int fetch_method_check(const char *method)
{
    return method && fetch__token(method, strlen(method)) ? FETCH_OK
                                                          : FETCH_E_INVAL;
}
