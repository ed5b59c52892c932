/* fetchall: shared declarations of the command's modules. */
#ifndef FETCHALL_H
#define FETCHALL_H

#include <pthread.h>
#include <stdio.h>
#include <sys/queue.h>

#include "libfetch.h"

/* input.c: URLs from the command line, then from each -i FILE (or stdin)
   in turn. */
typedef struct input {
    char **args; /* URLs given as arguments */
    int nargs, next_arg;
    const char *const *paths; /* -i FILE ...; "-" is stdin */
    int npaths, next_path;
    FILE *file; /* the one being read, or NULL */
    char *line;
    size_t cap;
    int failed; /* a read error ended the input early (message printed) */
} input;

/* Checks that every FILE can be opened and is not a directory. 0, or -1
   with a message on stderr. */
int input_open(input *in, char **args, int nargs, const char *const *paths,
               int npaths);
/* The next URL (valid until the next call), or NULL at the end. */
const char *input_next(input *in);
void input_close(input *in);

/* outdir.c: -o DIR, where body N becomes DIR/N only once complete. */
typedef struct part {
    int fd; /* -1 until the first byte */
    int listed;
    char name[48]; /* ".N.RANDOM.part" in DIR */
    LIST_ENTRY(part) link;
} part;

typedef struct outdir {
    int fd; /* DIR, opened once: every name is resolved from it */
    const char *path;
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
/* Complete: rename it to DIR/N (an empty body creates it first). */
int part_commit(outdir *d, part *p, size_t index);
/* Failed: remove it, and with --clobber an earlier run's DIR/N. */
void part_discard(outdir *d, part *p, size_t index);
/* A signal: remove every temporary file, open no more. */
void outdir_abort(outdir *d);

/* output.c: what fetchall writes for each finished request. */
typedef struct output {
    int jsonl;      /* --jsonl */
    outdir *dir;    /* -o DIR, or NULL for stdout */
    int quiet;      /* -q */
    int err_is_out; /* stderr is the same file as stdout (2>&1) */
} output;

/* Print "fetchall: [N] what" on stderr (unless -q); what must be safe to
   show (libfetch's messages are). */
void output_error(const output *o, size_t index, const char *what);
/* Write request index's result: body or JSON line on stdout, error line on
   stderr (note, when not NULL, is added to it). file_error: -o could not
   make DIR/N (an errno value), or 0. Returns 0, or -1 when stdout
   failed. */
int output_write(const output *o, size_t index, const fetch_response *r,
                 int file_error, const char *note);

/* run.c: fetch everything, write as results come. */
typedef struct config {
    fetch_options fo;
    fetch_request req; /* method, body: the same for every URL */
    output out;
    double deadline;  /* -T; 0 = none */
    int as_completed; /* --as-completed */
    int no_buffer;    /* -N: the oldest body goes out as it arrives */
    size_t threads;   /* --threads: event loops, each its own client */
} config;

/* Returns the exit status: 0, 1 (a request failed), 2 (no URLs, or the
   input could not be read). */
int run(const config *cfg, input *in);

#endif
