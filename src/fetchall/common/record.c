/* SPDX-License-Identifier: MIT */
/* A result as the command shows it: its JSON line (schema 1), its error
   line. */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "jsonline.h"
#include "message.h"
#include "outdir.h"
#include "record.h"

void output_error(const output *o, size_t index, const char *what)
{
    if (o->quiet)
        return;
    if (o->err_is_out) /* 2>&1: what came before goes first */
        fflush(stdout);
    message_above();
    fprintf(stderr, "fetchall: [%zu] %s\n", index, what);
    message_below();
}

/* The version of the JSON lines' schema (fetchall(1), JSON LINES): a
   member added keeps it, one changed or removed raises it. */
#define SCHEMA 1

static const char *http_version(long v)
{
    switch (v) {
    case 10:
        return "1.0";
    case 11:
        return "1.1";
    case 20:
        return "2";
    case 30:
        return "3";
    default:
        return NULL;
    }
}

/* Every member of schema 1, in its order; what a result does not have is
   null (error_kind "dead_letter" and such records have no task). */
static void record_head(jline *j, size_t index, const char *url)
{
    jl_begin(j);
    jl_int(j, "schema", SCHEMA);
    jl_int(j, "index", (long long)index);
    jl_text(j, "url", url, JL_URL);
}

char *output_record(const output *o, size_t index, const fetch_task *t,
                    const char *error, const char *worker, size_t *len)
{
    const fetch_response *r = fetch_task_response(t);
    int ok = !error;
    jline j;
    record_head(&j, index, r->url);
    jl_text(&j, "effective_url", r->effective_url, JL_URL);
    jl_int(&j, "status", r->status);
    if (o->revalidate) /* a 304: the earlier body holds */
        jl_bool(&j, "not_modified", ok && r->status == 304);
    jl_bool(&j, "ok", ok);
    jl_text(&j, "error", error, 0);
    jl_text(&j, "error_kind", ok ? NULL : fetch_err_name(r->error), 0);
    jl_int(&j, "attempts", r->attempts);
    jl_text(&j, "http_version", http_version(r->http_version), 0);
    jl_int(&j, "bytes", (long long)r->bytes);
    jl_text(&j, "content_type", r->content_type, 0);
    jl_seconds(&j, "time_queued", r->time_queued);
    jl_seconds(&j, "time_connect", r->time_connect);
    jl_seconds(&j, "time_tls", r->time_tls);
    jl_seconds(&j, "time_first_byte", r->time_first_byte);
    jl_seconds(&j, "time_total", r->time_total);
    if (o->headers)
        jl_headers(&j, "headers", t);
    if (o->dir) {
        char path[4096];
        snprintf(path, sizeof path, "%s/%zu", o->dir->path, index);
        jl_text(&j, "file", ok ? path : NULL, 0);
    } else if (ok && !worker) {
        jl_body(&j, r->body, r->body_len);
    }
    if (worker)
        jl_text(&j, "worker", worker, 0);
    return jl_end(&j, len);
}

char *output_failure(size_t index, const char *url, const char *error,
                     const char *kind, size_t *len)
{
    static const char *const times[] = {"time_queued", "time_connect",
                                        "time_tls", "time_first_byte",
                                        "time_total"};
    jline j;
    record_head(&j, index, url);
    jl_null(&j, "effective_url");
    jl_int(&j, "status", 0);
    jl_bool(&j, "ok", 0);
    jl_text(&j, "error", error, 0);
    jl_text(&j, "error_kind", kind, 0);
    jl_int(&j, "attempts", 0);
    jl_null(&j, "http_version");
    jl_int(&j, "bytes", 0);
    jl_null(&j, "content_type");
    for (size_t i = 0; i < sizeof times / sizeof *times; i++)
        jl_seconds(&j, times[i], 0);
    jl_null(&j, "worker");
    return jl_end(&j, len);
}

const char *output_failed(const output *o, size_t index, const fetch_task *t,
                          int file_error, const char *note, char *buf,
                          size_t size)
{
    const fetch_response *r = fetch_task_response(t);
    const char *error = r->message; /* composed by libfetch, safe to show */
    char *dir = NULL;
    if (r->error == FETCH_OK && file_error) {
        dir = escaped_text(o->dir->path); /* the user's own, but still */
        snprintf(buf, size, "%s/%zu: %s", dir ? dir : "DIR", index,
                 strerror(file_error));
        error = buf;
    }
    char *line = NULL;
    if (error && note && (line = malloc(strlen(error) + strlen(note) + 2)))
        sprintf(line, "%s %s", error, note);
    if (error)
        output_error(o, index, line ? line : error);
    free(line);
    free(dir);
    return error;
}
