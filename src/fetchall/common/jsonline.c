/* SPDX-License-Identifier: MIT */
/*
 * One JSON object on one line, its members in the order they are added:
 * strings escaped by jansson (ASCII only; bytes that are not UTF-8 become
 * U+FFFD first), numbers written plainly (never an exponent), so that a
 * line is valid JSON whatever the web sent, and easy to read with grep.
 */
#include <inttypes.h>
#include <stdlib.h>
#include <string.h>

#include <event2/buffer.h>
#include <jansson.h>
#include <openssl/evp.h>

#include "jsonline.h"
#include "message.h"

void jl_begin(jline *j)
{
    j->b = evbuffer_new();
    j->members = 0;
    if (!j->b)
        fatal("out of memory");
    evbuffer_add(j->b, "{", 1);
}

/* Members are added without printf: a worker writes one record per
   request, and formatting was a tenth of its time. */
static void key(jline *j, const char *name)
{
    if (j->members++)
        evbuffer_add(j->b, ",", 1);
    evbuffer_add(j->b, "\"", 1);
    evbuffer_add(j->b, name, strlen(name));
    evbuffer_add(j->b, "\":", 2);
}

void jl_int(jline *j, const char *name, long long v)
{
    char digits[24], *p = digits + sizeof digits;
    unsigned long long u =
        v < 0 ? 0 - (unsigned long long)v : (unsigned long long)v;
    key(j, name);
    do
        *--p = (char)('0' + u % 10);
    while (u /= 10);
    if (v < 0)
        *--p = '-';
    evbuffer_add(j->b, p, (size_t)(digits + sizeof digits - p));
}

void jl_seconds(jline *j, const char *name, double s)
{
    char text[64];
    if (!(s >= 0 && s < 1e9)) { /* never, for times of a run */
        key(j, name);
        int n = snprintf(text, sizeof text, "%.6f", s);
        evbuffer_add(j->b, text, n > 0 ? (size_t)n : 0);
        return;
    }
    /* "%.6f" as whole microseconds: seconds, a point, six digits */
    long long us = (long long)(s * 1e6 + 0.5);
    jl_int(j, name, us / 1000000);
    char *p = text + 7;
    *p = '\0';
    for (int i = 0; i < 6; i++, us /= 10)
        *--p = (char)('0' + us % 10);
    *--p = '.';
    evbuffer_add(j->b, p, 7);
}

void jl_bool(jline *j, const char *name, int v)
{
    key(j, name);
    evbuffer_add(j->b, v ? "true" : "false", v ? 4 : 5);
}

void jl_null(jline *j, const char *name)
{
    key(j, name);
    evbuffer_add(j->b, "null", 4);
}

/* len bytes as a JSON string; 0 when they are not UTF-8. Printable ASCII
   without a quote or a backslash is its own encoding (jansson's too), so
   most URLs and types are copied; the rest is jansson's to escape. */
static int add_string(jline *j, const char *s, size_t len)
{
    size_t plain = 0;
    while (plain < len && s[plain] >= 0x20 && s[plain] < 0x7f &&
           s[plain] != '"' && s[plain] != '\\')
        plain++;
    if (plain == len) {
        evbuffer_add(j->b, "\"", 1);
        evbuffer_add(j->b, s, len);
        evbuffer_add(j->b, "\"", 1);
        return 1;
    }
    json_t *str = json_stringn(s, len);
    char *enc;
    if (!str)
        return 0;
    if (!(enc = json_dumps(str, JSON_ENCODE_ANY | JSON_ENSURE_ASCII)))
        fatal("out of memory");
    evbuffer_add(j->b, enc, strlen(enc));
    free(enc);
    json_decref(str);
    return 1;
}

/* Untrusted text as a JSON string, made UTF-8 first. */
static void element(jline *j, const char *s)
{
    size_t len = strlen(s);
    if (add_string(j, s, len))
        return;
    size_t n = fetch_text_escape(NULL, 0, s, len, FETCH_TEXT_UTF8);
    char *fixed = malloc(n + 1);
    if (!fixed)
        fatal("out of memory");
    fetch_text_escape(fixed, n + 1, s, len, FETCH_TEXT_UTF8);
    add_string(j, fixed, n);
    free(fixed);
}

void jl_text(jline *j, const char *name, const char *s, int flags)
{
    char *red = NULL;
    if (!s) {
        jl_null(j, name);
        return;
    }
    if (flags & JL_URL) { /* credentials never shown */
        size_t n = fetch_url_redact(NULL, 0, s);
        if (!(red = malloc(n + 1)))
            fatal("out of memory");
        fetch_url_redact(red, n + 1, s);
        s = red;
    }
    key(j, name);
    element(j, s);
    free(red);
}

void jl_body(jline *j, const char *body, size_t len)
{
    json_t *utf8 = json_stringn(body, len); /* NULL unless UTF-8 */
    if (utf8) {
        json_decref(utf8);
        key(j, "body");
        add_string(j, body, len);
        return;
    }
    size_t n = 4 * ((len + 2) / 3) + 1;
    unsigned char *b64 = malloc(n);
    if (!b64)
        fatal("out of memory");
    EVP_EncodeBlock(b64, (const unsigned char *)body, (int)len);
    key(j, "body_base64");
    evbuffer_add_printf(j->b, "\"%s\"", (char *)b64);
    free(b64);
}

void jl_headers(jline *j, const char *name, const fetch_task *t)
{
    const char *hn, *hv;
    key(j, name);
    evbuffer_add(j->b, "[", 1);
    for (size_t i = 0; fetch_task_header_at(t, i, &hn, &hv); i++) {
        evbuffer_add(j->b, i ? ",[" : "[", i ? 2 : 1);
        element(j, hn);
        evbuffer_add(j->b, ",", 1);
        element(j, hv);
        evbuffer_add(j->b, "]", 1);
    }
    evbuffer_add(j->b, "]", 1);
}

char *jl_end(jline *j, size_t *len)
{
    evbuffer_add(j->b, "}\n", 2);
    *len = evbuffer_get_length(j->b);
    char *line = malloc(*len + 1);
    if (!line)
        fatal("out of memory");
    evbuffer_remove(j->b, line, *len);
    line[*len] = '\0';
    evbuffer_free(j->b);
    j->b = NULL;
    return line;
}
