/* SPDX-License-Identifier: MIT */
/*
 * URL input: arguments first, then one URL a line from each -i FILE (or
 * stdin) in the order given. A regular file is read as it is needed; a
 * pipe or terminal only after the event loop says it is readable, one
 * read() at a time, so that a slow writer never holds up the deadline, the
 * timeouts or the output.
 */
#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/epoll.h>
#include <sys/stat.h>
#include <unistd.h>

#include <event2/buffer.h>

#include "input.h"

/* Open path ("-": stdin) for reading; a directory is refused. */
static int open_path(const char *path)
{
    struct stat st;
    int fd = strcmp(path, "-") ? open(path, O_RDONLY | O_CLOEXEC) : 0;
    if (fd >= 0 && fstat(fd, &st) == 0 && S_ISDIR(st.st_mode)) {
        if (fd != 0)
            close(fd);
        errno = EISDIR;
        return -1;
    }
    return fd;
}

static void close_fd(input *in)
{
    if (in->fd > 0)
        close(in->fd);
    in->fd = -1;
}

int input_open(input *in, char **args, int nargs, const char *const *paths,
               int npaths)
{
    memset(in, 0, sizeof *in);
    in->args = args;
    in->nargs = nargs;
    in->paths = paths;
    in->npaths = npaths;
    in->fd = -1;
    if (!(in->buf = evbuffer_new()))
        return -1;
    /* every file now: a typo in the third is a usage error, not a surprise
       after the first two were fetched */
    for (int i = 0; i < npaths; i++) {
        int fd = open_path(paths[i]);
        if (fd < 0) {
            fprintf(stderr, "fetchall: %s: %s\n", paths[i], strerror(errno));
            return -1;
        }
        if (fd != 0)
            close(fd);
    }
    return 0;
}

/* Can the event loop wait for fd? epoll takes pipes, sockets and
   terminals, not regular files nor /dev/null (EPERM); libevent would
   only find out at its next dispatch, and never report it readable. */
static int pollable(int fd)
{
    struct epoll_event ev = {.events = EPOLLIN};
    int ep = epoll_create1(EPOLL_CLOEXEC), ok;
    if (ep < 0)
        return 1;
    ok = epoll_ctl(ep, EPOLL_CTL_ADD, fd, &ev) == 0 || errno != EPERM;
    close(ep);
    return ok;
}

/* The next input, if any. 0, or -1 at the end or on an error. */
static int next_file(input *in)
{
    struct stat st;
    if (in->next_path == in->npaths || in->failed)
        return -1;
    const char *path = in->paths[in->next_path++];
    if ((in->fd = open_path(path)) < 0) {
        fprintf(stderr, "fetchall: %s: %s\n", path, strerror(errno));
        in->failed = 1;
        return -1;
    }
    in->eof = 0;
    in->line_no = 0;
    in->direct =
        (fstat(in->fd, &st) == 0 && S_ISREG(st.st_mode)) || !pollable(in->fd);
    return 0;
}

void input_fill(input *in)
{
    int n = evbuffer_read(in->buf, in->fd, 1 << 16);
    if (n == 0) {
        in->eof = 1;
    } else if (n < 0 && errno != EINTR && errno != EAGAIN) {
        fprintf(stderr, "fetchall: %s: %s\n", in->paths[in->next_path - 1],
                strerror(errno));
        in->failed = in->eof = 1;
    }
}

/* A line: blank ones and comments are skipped, white space around taken
   off. Returns it, or NULL to skip. */
static char *url_of(char *s)
{
    char *e;
    s += strspn(s, " \t\r\n");
    e = s + strlen(s);
    while (e > s && strchr(" \t\r\n", e[-1]))
        *--e = '\0';
    return *s && *s != '#' ? s : NULL;
}

int input_next(input *in, const char **url)
{
    if (in->next_arg < in->nargs) {
        *url = in->args[in->next_arg++];
        return INPUT_URL;
    }
    for (;;) {
        size_t n;
        char *s;
        if (in->fd < 0 && next_file(in) != 0)
            return INPUT_END;
        free(in->line);
        in->line = evbuffer_readln(in->buf, &n, EVBUFFER_EOL_LF);
        if (!in->line && in->eof && evbuffer_get_length(in->buf)) {
            n = evbuffer_get_length(in->buf); /* the last, without a LF */
            if ((in->line = malloc(n + 1))) {
                evbuffer_remove(in->buf, in->line, n);
                in->line[n] = '\0';
            }
        }
        if (in->line) {
            s = in->line;
            /* a byte order mark (Windows editors save one) is no URL */
            if (in->line_no++ == 0 && n >= 3 && !memcmp(s, "\xEF\xBB\xBF", 3))
                s += 3, n -= 3;
            if (memchr(s, '\0', n)) { /* a URL would be cut off there */
                *url = s;
                in->bad_len = n;
                return INPUT_BAD;
            }
            if ((s = url_of(s))) {
                *url = s;
                return INPUT_URL;
            }
            continue;
        }
        if (in->eof) {
            close_fd(in);
            continue;
        }
        if (!in->direct)
            return INPUT_WAIT;
        input_fill(in); /* a file: reading it does not wait for anyone */
    }
}

int input_fd(const input *in)
{
    return in->fd;
}

void input_where(const input *in, const char **path, size_t *line)
{
    *path = in->next_path ? in->paths[in->next_path - 1] : "-";
    if (!strcmp(*path, "-"))
        *path = "stdin";
    *line = in->line_no;
}

void input_wait_failed(input *in)
{
    in->direct = 1; /* epoll takes no /dev/null: read it straight away */
}

void input_close(input *in)
{
    close_fd(in);
    if (in->buf)
        evbuffer_free(in->buf);
    free(in->line);
}

size_t input_count(char **args, int nargs, const char *const *paths, int npaths)
{
    size_t n = (size_t)nargs;
    (void)args;
    for (int i = 0; i < npaths; i++) {
        struct stat st;
        char *line = NULL;
        size_t cap = 0;
        FILE *f = strcmp(paths[i], "-") ? fopen(paths[i], "r") : NULL;
        if (!f || fstat(fileno(f), &st) != 0 || !S_ISREG(st.st_mode)) {
            if (f)
                fclose(f);
            return (size_t)-1;
        }
        ssize_t len;
        size_t number = 0;
        while ((len = getline(&line, &cap, f)) >=
               0) { /* input_next()'s rules */
            char *s = line;
            if (number++ == 0 && len >= 3 && !memcmp(s, "\xEF\xBB\xBF", 3))
                s += 3, len -= 3;
            n += memchr(s, '\0', (size_t)len) || url_of(s);
        }
        free(line);
        fclose(f);
    }
    return n;
}
