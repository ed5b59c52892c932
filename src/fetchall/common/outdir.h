/* SPDX-License-Identifier: MIT */
/* -o DIR, where body N becomes DIR/N only once complete. */
#ifndef FETCHALL_OUTDIR_H
#define FETCHALL_OUTDIR_H

#include <pthread.h>
#include <stddef.h>
#include <sys/queue.h>

typedef struct part {
    int fd; /* -1 until the first byte */
    int listed;
    char name[48]; /* ".N.RANDOM.part" in DIR */
    LIST_ENTRY(part) link;
} part;

typedef struct outdir {
    int fd; /* DIR, opened once: every name is resolved from it */
    const char *path;
    char *abs;   /* DIR's absolute path (what a journal records) */
    int clobber; /* --clobber: replace an earlier run's results */
    pthread_mutex_t lock;
    int stopped; /* a signal came: no new temporary files */
    LIST_HEAD(, part) parts;
} outdir;

/* Create DIR and its parents; refuse one that holds results of an earlier
   run unless clobber. 0, or -1 with the reason in why. */
int outdir_open(outdir *d, const char *path, int clobber, char *why,
                size_t len);
void outdir_close(outdir *d);
/* Body index's temporary file. These return 0 or an errno value. */
int part_open(outdir *d, part *p, size_t index);
int part_write(part *p, const char *data, size_t len);
/* A failed attempt's bytes out again (the request is retried). */
int part_truncate(part *p);
/* A chunk of body index (a fetch_data_cb's): into its temporary file,
   opened at the first; NULL: the attempt failed and is retried, so the
   file is emptied again. 0 or an errno value. */
int part_data(outdir *d, part *p, size_t index, const char *data, size_t len);
/* Complete: rename it to DIR/N (an empty body creates it first). */
int part_commit(outdir *d, part *p, size_t index);
/* Failed: remove it, and with --clobber an earlier run's DIR/N. */
void part_discard(outdir *d, part *p, size_t index);
/* Remove the temporary file only (DIR/N stays as it is). */
void part_discard_temp(outdir *d, part *p);
/* The earlier body at path earlier becomes DIR/N (--revalidate: a 304, or
   a failure that keeps it): nothing to do when DIR/N is that file;
   otherwise hard-linked, or copied to another filesystem, and renamed
   into place. 0 or an errno value. */
int part_keep(outdir *d, part *p, size_t index, const char *earlier);
/* A signal: remove every temporary file, open no more. */
void outdir_abort(outdir *d);

#endif
