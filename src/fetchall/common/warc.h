/* SPDX-License-Identifier: MIT */
/*
 * --warc FILE: every request and response as it crossed the wire, in
 * WARC/1.1 (ISO 28500:2017) records. A transfer's pieces are spooled as
 * they arrive (in memory up to 64 KiB, then in an unlinked file beside the
 * WARC), with their digests taken as they go; its records are written
 * when it finishes, in completion order. FILE ending in .gz: one gzip
 * member per record, as readers that seek expect.
 */
#ifndef FETCHALL_WARC_H
#define FETCHALL_WARC_H

#include <stddef.h>

#include "libfetch.h"

typedef struct warc warc;
typedef struct warc_xfer warc_xfer;

typedef struct warc_config {
    const char *path;      /* FILE as given */
    size_t max_size;       /* --warc-max-size: a new file past it; 0: one */
    int clobber;           /* an existing FILE may be replaced */
    const char *arguments; /* the command line, for the warcinfo records
                              (copied) */
    int robots;            /* --robots: the warcinfo says so */
} warc_config;

/* Create FILE (or FILE-00000... with max_size) and write its warcinfo
   record. NULL with why (an existing file without clobber, an errno). */
warc *warc_open(const warc_config *c, char *why, size_t len);
/* The file being written, for messages. */
const char *warc_path(const warc *w);

/* One request's hops, for fetch_request.on_wire (wire_arg). NULL: out of
   memory. */
warc_xfer *warc_xfer_new(warc *w);
/* fetch_wire_cb: spool a piece (on the loop carrying the transfer). */
int warc_on_wire(fetch_task *task, const fetch_wire *wire, void *arg);
/* The task finished with r: write its records (request, response or
   revisit for each hop; metadata for a failure), on the client's thread.
   url: as submitted. 0, or an errno value: the file is cut back to its
   last whole record. */
int warc_write(warc *w, warc_xfer *x, const char *url, const fetch_response *r);
void warc_xfer_free(warc_xfer *x);

/* Cut the file back to its last whole record (a signal came). */
void warc_abort(warc *w);
/* Close it: 0, or an errno value. */
int warc_close(warc *w);

#endif
