/* SPDX-License-Identifier: MIT */
/*
 * --revalidate OLD_JOURNAL: what an earlier run's journal knows of each
 * request (its URL's hash, ETag, Last-Modified, -o's file), so that this
 * run asks "changed since?" (If-None-Match, If-Modified-Since; RFC 9110
 * 13.1) and a 304 keeps the earlier body. The strings live in one buffer,
 * found by offset, so a journal of millions of lines costs few allocations.
 */
#define _DEFAULT_SOURCE /* strndup */
#include <limits.h>
#include <stdlib.h>
#include <string.h>

#include <jansson.h>

#include "../common/message.h"
#include "local.h"

/* Room for index in the arrays. */
static void grow(validators *v, size_t index)
{
    if (index < v->cap)
        return;
    size_t cap = v->cap ? v->cap : 1024;
    while (cap <= index)
        cap *= 2;
    uint32_t *h = realloc(v->hash, cap * sizeof *h);
    if (h)
        v->hash = h;
    size_t *at = h ? realloc(v->at, cap * 3 * sizeof *at) : NULL;
    if (!at)
        fatal("out of memory");
    v->at = at;
    memset(h + v->cap, 0, (cap - v->cap) * sizeof *h);
    memset(at + 3 * v->cap, 0, (cap - v->cap) * 3 * sizeof *at);
    v->cap = cap;
}

/* s into the text buffer: its offset + 1, or 0 for none. */
static size_t keep(validators *v, const char *s)
{
    if (!s || !*s)
        return 0;
    size_t n = strlen(s) + 1;
    if (v->len + n > v->size) {
        size_t size = v->size ? v->size : 1 << 16;
        while (size < v->len + n)
            size *= 2;
        char *t = realloc(v->text, size);
        if (!t)
            fatal("out of memory");
        v->text = t;
        v->size = size;
    }
    memcpy(v->text + v->len, s, n);
    v->len += n;
    return v->len - n + 1;
}

static void take(void *arg, size_t index, uint32_t url_hash, json_t *line)
{
    validators *v = arg;
    const char *etag = json_string_value(json_object_get(line, "etag")),
               *modified =
                   json_string_value(json_object_get(line, "last_modified")),
               *file = json_string_value(json_object_get(line, "file"));
    grow(v, index);
    v->hash[index] = url_hash; /* a later line of an index holds */
    size_t *at = v->at + 3 * index;
    at[0] = keep(v, etag);
    at[1] = keep(v, modified);
    at[2] = keep(v, file);
    if (file && !v->dir) { /* the directory of its files */
        const char *slash = strrchr(file, '/');
        if (slash && slash > file &&
            (v->dir = strndup(file, (size_t)(slash - file))) == NULL)
            fatal("out of memory");
    }
}

int validators_load(validators *v, const char *path, char *why, size_t len)
{
    memset(v, 0, sizeof *v);
    return journal_read(path, take, v, why, len);
}

static const char *text_at(const validators *v, size_t at)
{
    return at ? v->text + at - 1 : NULL;
}

int validators_get(const validators *v, size_t index, const char *url,
                   journal_kept *out)
{
    memset(out, 0, sizeof *out);
    if (!v || index >= v->cap || !v->hash[index] ||
        v->hash[index] != journal_url_hash(url))
        return 0; /* not there, or another URL in that place */
    const size_t *at = v->at + 3 * index;
    out->etag = text_at(v, at[0]);
    out->last_modified = text_at(v, at[1]);
    out->file = text_at(v, at[2]);
    return out->etag || out->last_modified;
}

void validators_free(validators *v)
{
    free(v->hash);
    free(v->at);
    free(v->text);
    free(v->dir);
    memset(v, 0, sizeof *v);
}
