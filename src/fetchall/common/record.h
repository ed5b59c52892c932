/* SPDX-License-Identifier: MIT */
/* A result as the command shows it: its JSON line (schema 1, fetchall(1)),
   its error line. */
#ifndef FETCHALL_RECORD_H
#define FETCHALL_RECORD_H

#include <stddef.h>

#include "libfetch.h"

struct outdir;

/* How results are shown. */
typedef struct output {
    int jsonl;          /* --jsonl */
    int headers;        /* --include-headers: with --jsonl */
    struct outdir *dir; /* -o DIR, or NULL for stdout */
    int quiet;          /* -q */
    int err_is_out;     /* stderr is the same file as stdout (2>&1) */
    int revalidate;     /* --revalidate: records say not_modified */
} output;

/* Print "fetchall: [N] what" on stderr (unless -q); what must be safe to
   show (libfetch's messages are). */
void output_error(const output *o, size_t index, const char *what);
/* The error line of a failed result on stderr (note added to it), and its
   text (NULL: it succeeded; buf holds a -o error). file_error: -o could
   not make DIR/N (an errno value), or 0. */
const char *output_failed(const output *o, size_t index, const fetch_task *t,
                          int file_error, const char *note, char *buf,
                          size_t size);
/* A result's JSON line (error from output_failed; worker: the name of the
   worker, which leaves the body out). malloc'd, *len long. */
char *output_record(const output *o, size_t index, const fetch_task *t,
                    const char *error, const char *worker, size_t *len);
/* The JSON line of a URL that was never fetched (a dead letter, a line of
   input that is no URL): every member, ok false, error and error_kind as
   given. */
char *output_failure(size_t index, const char *url, const char *error,
                     const char *kind, size_t *len);

#endif
