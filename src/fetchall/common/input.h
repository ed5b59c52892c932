/* SPDX-License-Identifier: MIT */
/* URLs from the command line, then from each -i FILE (or stdin) in turn,
   one a line. A pipe or terminal is read only when it is readable, so that
   waiting for input never blocks the loop. */
#ifndef FETCHALL_INPUT_H
#define FETCHALL_INPUT_H

#include <stddef.h>

struct evbuffer;

typedef struct input {
    char **args; /* URLs given as arguments */
    int nargs, next_arg;
    const char *const *paths; /* -i FILE ...; "-" is stdin */
    int npaths, next_path;
    int fd;               /* the one being read, or -1 */
    int direct;           /* read it without waiting (a file, /dev/null) */
    int eof;              /* it has no more */
    struct evbuffer *buf; /* read, not yet made lines */
    char *line;           /* the URL handed out last */
    size_t line_no;       /* its line number in the file being read */
    size_t bad_len;       /* INPUT_BAD: the line's length */
    int failed;           /* a read error ended the input early (said so) */
} input;

enum { INPUT_URL, INPUT_BAD, INPUT_WAIT, INPUT_END };

/* Checks that every FILE can be opened and is not a directory. 0, or -1
   with a message on stderr. */
int input_open(input *in, char **args, int nargs, const char *const *paths,
               int npaths);
/* The next URL (*url valid until the next call): INPUT_URL; INPUT_BAD
   for a line that cannot be a URL (a NUL byte in it: *url is the line,
   in->bad_len long); INPUT_WAIT when a pipe has no whole line yet (wait
   until input_fd() is readable, then input_fill()); INPUT_END at the end,
   or after a read error. A UTF-8 byte order mark at the start of a file is
   dropped. */
int input_next(input *in, const char **url);
int input_fd(const input *in);
/* The file ("stdin" for -) and line number of the line handed out last. */
void input_where(const input *in, const char **path, size_t *line);
/* After input_fd() turned readable: read what is there. */
void input_fill(input *in);
/* Can input_fd() be waited for with an event (no: files, /dev/null)? */
void input_wait_failed(input *in);
void input_close(input *in);

/* How many URLs the input holds, when it is arguments and regular files
   only (it is read once more for this), else (size_t)-1. */
size_t input_count(char **args, int nargs, const char *const *paths,
                   int npaths);

#endif
