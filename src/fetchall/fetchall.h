/* fetchall: shared declarations of the command's modules. */
#ifndef FETCHALL_H
#define FETCHALL_H

#include <stdio.h>

#include "libfetch.h"

/* input.c: URLs from the command line, then from a file or stdin. */
typedef struct input {
    char **args; /* URLs given as arguments */
    int nargs, next_arg;
    FILE *file; /* -i FILE, or stdin; NULL when none */
    int close_file;
    char *line;
    size_t cap;
} input;

int input_open(input *in, char **args, int nargs, const char *path);
/* The next URL (valid until the next call), or NULL at the end. */
const char *input_next(input *in);
void input_close(input *in);

/* output.c: what fetchall writes for each finished request. */
typedef struct output {
    int jsonl;       /* --jsonl */
    const char *dir; /* -o DIR, or NULL for stdout */
    int quiet;       /* -q */
    double deadline; /* -T, to name it in messages */
} output;

/* DIR/N, or DIR/N.part while it is being written. */
void output_path(char *buf, size_t len, const output *o, size_t index,
                 int part);
/* Body N's file is complete (ok) or not: rename DIR/N.part to DIR/N, or
   remove it. 0, or -1 with a message. */
int output_file_done(const output *o, size_t index, int ok);
/* Write request index's result: body or JSON line on stdout, error line on
   stderr. deadline_hit: the run's deadline ended it. Returns 0, or -1 when
   stdout failed. */
int output_write(const output *o, size_t index, const fetch_response *r,
                 int deadline_hit);

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

/* Returns the exit status: 0, 1 (a request failed), 2 (no URLs). */
int run(const config *cfg, input *in);

#endif
