/* SPDX-License-Identifier: MIT */
/*
 * The one-machine run (fetchall URL...): the run and its signals, the
 * request-order writer, the oldest body streaming to stdout, the sink, the
 * journal, the progress bar. Uses common/ and the public header only.
 */
#ifndef FETCHALL_LOCAL_H
#define FETCHALL_LOCAL_H

#include <pthread.h>
#include <signal.h>
#include <stdint.h>
#include <stdio.h>
#include <sys/types.h>

#include "libfetch.h"
#include "../common/input.h"
#include "../common/options.h"
#include "../common/outdir.h"
#include "../common/record.h"
#include "../common/warc.h"

struct event;
struct event_base;
struct evbuffer;

/* fetch.c: fetchall URL...: opens the input, the journal and -o DIR, and
   runs. Returns the exit status. */
int local_main(cmdline *c);

/* journal.c: --journal FILE, what has finished (see there). */
struct json_t;
/* A request's line read back: its index, its URL's hash, the line. */
typedef void (*journal_line_cb)(void *arg, size_t index, uint32_t url_hash,
                                struct json_t *line);
typedef struct journal {
    journal_line_cb each; /* journal_read(): called for each request line */
    void *each_arg;
    int fd;
    const char *path;
    struct evbuffer *pending; /* lines whose results are not in place yet */
    int header, torn, dirty;
    int earlier; /* it was there, of the same options: an earlier run's */
    size_t cap, recorded, failed; /* requests recorded, failed of them */
    uint32_t *hash;               /* by index: its URL's hash */
    unsigned char *state;         /* by index: 0 none, 1 ok, 2 failed */
} journal;

enum { JOURNAL_RUN, JOURNAL_SKIP, JOURNAL_CHANGED };

/* Open (or create) the journal and read what it holds; a journal of
   other options (fingerprint) is refused. 0, or -1 with why. */
int journal_open(journal *j, const char *path, const char *fingerprint,
                 char *why, size_t len);
/* Read the journal at path, calling each for every request line (an
   earlier line of an index first; a torn last line left out); it is not
   changed. 0, or -1 with why. */
int journal_read(const char *path, journal_line_cb each, void *arg, char *why,
                 size_t len);
/* The hash of a URL as read that a journal line carries ("h"); never 0. */
uint32_t journal_url_hash(const char *url);
/* Request index is url: JOURNAL_SKIP when it finished (a failure too,
   unless again), JOURNAL_CHANGED when the journal has another URL there. */
int journal_check(journal *j, size_t index, const char *url, int again);
/* What a line keeps for --revalidate: the validators, -o's file (absolute
   path); each may be NULL. */
typedef struct journal_kept {
    const char *etag, *last_modified, *file;
} journal_kept;
/* Record a result whose output is written (pending until the flush);
   kept may be NULL. */
void journal_add(journal *j, size_t index, const char *url, const char *method,
                 const fetch_response *r, int ok, const journal_kept *kept);
/* Once the output is flushed: the pending lines, one write(). 0, or an
   errno value (ENOSPC: a full disk). */
int journal_flush(journal *j);
/* fdatasync() if anything was written since the last. 0 or an errno. */
int journal_sync(journal *j);
void journal_close(journal *j);

/* revalidate.c: --revalidate OLD_JOURNAL, an earlier run's validators. */
typedef struct validators {
    size_t cap;
    uint32_t *hash; /* by index: its URL's hash, 0: no line */
    size_t *at;     /* by index, 3 each: etag, last_modified, file, as
                       offset + 1 into text (0: none) */
    char *text;     /* the strings, NUL-terminated */
    size_t len, size;
    char *dir; /* the directory its files are in, or NULL */
} validators;

/* Read OLD_JOURNAL. 0, or -1 with why. */
int validators_load(validators *v, const char *path, char *why, size_t len);
/* Has the old journal a validator for request index, and is it url?
   Then 1, with *out pointing into v (valid until validators_free()). */
int validators_get(const validators *v, size_t index, const char *url,
                   journal_kept *out);
void validators_free(validators *v);

/* progress.c: --progress. */
typedef struct runner runner;
typedef struct progress {
    runner *r;
    int mode;
    struct event *timer;
    double t0, last_t, next_plain;
    size_t last_done;
    unsigned long long last_bytes;
    double rate, byte_rate; /* requests and bytes a second, of late */
    int rated;
    int drawn;     /* a bar is on the screen */
    int drawn_len; /* ... this long */
    int tty;       /* stderr is a terminal: escape sequences may clear */
} progress;

/* --progress as given (PROGRESS_AUTO too): PROGRESS_NONE, BAR or PLAIN
   for this run (auto: a bar when stderr is a terminal, unless quiet). */
int progress_mode(int given, int quiet);
void progress_start(runner *r, progress *p, int mode);
/* Around a line written to stderr while a bar is on: clear it, then
   draw it again below the line (the messages' guard, message_guard()). */
void progress_above(void);
void progress_below(void);
/* The end: the bar cleared, a summary line in its place. */
void progress_end(runner *r);

/* One request from the moment it is read until its result is written. */
typedef struct slot {
    runner *r;
    size_t index; /* 1-based position in the input */
    char *url;
    fetch_task *task; /* NULL for input that is no URL (see refused) */
    char *refused;    /* ... and why it was not fetched, safe to show */
    int done;
    int recorded;          /* --journal has it */
    int file_error;        /* -o: DIR/N could not be made (errno) */
    part part;             /* -o: the body's temporary file */
    struct evbuffer *body; /* streaming: what arrived, not written yet */
    off_t start;           /* streaming into a file: where the body begins */
    size_t streamed;       /* ... and how much of it went out */
    journal_kept was;      /* --revalidate: the old journal's of it */
    int conditional;       /* ... and it was asked "changed since?" */
    int kept;              /* ... failed, and DIR/N is the earlier body */
    warc_xfer *wx;         /* --warc: its hops, spooled */
} slot;

/* What a one-machine run works with, opened by fetch.c. */
typedef struct job {
    const config *cfg;
    input *in;
    journal *journal;      /* --journal, open, or NULL */
    const validators *old; /* --revalidate, read, or NULL */
    warc *warc;            /* --warc, open, or NULL */
    size_t total;          /* URLs in the input, or (size_t)-1: unknown */
    int progress;          /* PROGRESS_NONE, BAR or PLAIN */
    int threads;           /* event loops */
} job;

/* run.c: the run, shared by writer.c and stream.c. */
struct runner {
    const config *cfg;
    input *in;
    journal *journal;
    const validators *old;
    warc *warc;
    size_t total;
    fetch_client *client;
    struct event_base *base;
    struct event *readable;              /* the input pipe has something */
    struct event *deadline;              /* -T: stop reading */
    struct event *flush;                 /* flush stdout after this loop turn */
    size_t read, submitted, outstanding; /* read: URLs, skipped ones too */
    size_t done_ok, done_failed;         /* finished in this run */
    size_t disallowed;                   /* ... failed: robots.txt said no */
    unsigned long long bytes;            /* their bodies */
    progress *progress;
    size_t skipped, skipped_failed; /* --journal: finished before */
    int input_changed;              /* ... and the input is not the
                                       journal's */
    double t0;                      /* the run's start */
    struct event *sync;             /* --journal-fsync's timer */
    size_t window, window_max;      /* unwritten URLs read ahead, and beyond
                                       while slots stand idle (--per-host) */
    int input_done;
    int input_cut;     /* the deadline came before the input ended */
    size_t stopped_at; /* --fail-early: the request that failed, or 0 */
    size_t cancelled;  /* ... and how many were cancelled then */
    int failed;
    int plain; /* GET, no body, no -o, no streaming: fetch_get() */
    /* writer.c: request order */
    slot **ring; /* window_max slots, oldest at head */
    size_t head;
    /* stream.c: the oldest body to stdout as it arrives */
    int stream;   /* -N, or stdout a file fetchall writes at the end of */
    int seekable; /* stdout is a regular file we write at the end of */
    int append;   /* ... opened with O_APPEND (>>) */
    int retract;  /* ... and a failed body is cut off again (not -N) */
    pthread_mutex_t out_lock; /* every use of stdout */
    slot *streaming;          /* under out_lock: the body going out now */
    /* run.c: signals */
    sigset_t signals;
    pthread_t signal_thread;
};

/* Returns the exit status: 0, 1 (a request failed), 2 (no URLs, or the
   input could not be read). */
int run(const job *jb);

/* stream.c */
void stream_setup(runner *r);
/* fetch_data_cb for a body that may stream to stdout (on a loop thread).
   NULL: the attempt failed and will be retried: what it wrote must go
   (held back, or cut out of a file; with -N into a pipe it cannot: then
   the request is not retried). */
int stream_chunk(fetch_task *task, const char *p, size_t len, void *arg);
/* s is the oldest unwritten now: its chunks go to stdout from here on */
void stream_begin(runner *r, slot *s);
/* Under out_lock, s finished: stop streaming it; a failed body is cut
   back out of a file. note gets what the error line should add, if
   anything. Then what did not stream yet is written if ok. */
void stream_end(runner *r, slot *s, int ok, char *note, size_t len);
/* Under out_lock, a signal: take a half body back out of the file. */
void stream_abort(runner *r);
/* Under out_lock: write what b holds for slot s. */
void stream_buffer(slot *s, struct evbuffer *b);

/* sink.c: a result on stdout. */
/* Write request index's result: body or JSON line on stdout, error line on
   stderr (note, when not NULL, is added to it). file_error: -o could not
   make DIR/N (an errno value), or 0. Returns 0, or -1 when stdout
   failed. */
int sink_write(const output *o, size_t index, const fetch_task *t,
               int file_error, const char *note);

/* writer.c */
/* A slot's request finished: write, in order, what may be written. */
void writer_done(runner *r, slot *s);
/* A new slot was read (request order keeps a ring of them). */
void writer_add(runner *r, slot *s);
/* --journal: s's result is in place (renamed into -o DIR, or written):
   record it, once. */
void writer_record(runner *r, slot *s);

#endif
