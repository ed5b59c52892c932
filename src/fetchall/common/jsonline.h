/* SPDX-License-Identifier: MIT */
/* One JSON object a line, members in the order added. */
#ifndef FETCHALL_JSONLINE_H
#define FETCHALL_JSONLINE_H

#include <stddef.h>

#include "libfetch.h"

struct evbuffer;

typedef struct jline {
    struct evbuffer *b;
    int members;
} jline;
#define JL_URL 1 /* jl_text: a URL: its credentials are shown as *** */
void jl_begin(jline *j);
void jl_int(jline *j, const char *name, long long v);
void jl_seconds(jline *j, const char *name, double s); /* 0.000123 */
void jl_bool(jline *j, const char *name, int v);
void jl_null(jline *j, const char *name);
/* Untrusted text (NULL: null); not UTF-8: each bad byte U+FFFD. */
void jl_text(jline *j, const char *name, const char *s, int flags);
/* "body" when it is UTF-8, else "body_base64". */
void jl_body(jline *j, const char *body, size_t len);
/* The task's response headers: [[name, value], ...] in order received. */
void jl_headers(jline *j, const char *name, const fetch_task *t);
/* The line, "}\n" included (malloc'd; *len its length). */
char *jl_end(jline *j, size_t *len);

#endif
