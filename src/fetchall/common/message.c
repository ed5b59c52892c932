/* SPDX-License-Identifier: MIT */
/* What the command says: on stderr, made safe to show, kept clear of a
   progress bar; and the end of a run whose stdout went away. */
#include <errno.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "libfetch.h"
#include "message.h"

static void (*guard_above)(void), (*guard_below)(void);

void fatal(const char *what)
{
    message_above();
    fprintf(stderr, "fetchall: %s\n", what);
    exit(1);
}

char *escaped_text(const char *s)
{
    size_t len = strlen(s);
    size_t n = fetch_text_escape(NULL, 0, s, len, FETCH_TEXT_TERMINAL);
    char *e = malloc(n + 1);
    if (e)
        fetch_text_escape(e, n + 1, s, len, FETCH_TEXT_TERMINAL);
    return e;
}

void message_guard(void (*above)(void), void (*below)(void))
{
    guard_above = above;
    guard_below = below;
}

void message_above(void)
{
    if (guard_above)
        guard_above();
}

void message_below(void)
{
    if (guard_below)
        guard_below();
}

void stdout_failed(void)
{
    int err = errno;
    if (err == EPIPE) {
        signal(SIGPIPE, SIG_DFL);
        raise(SIGPIPE);
    }
    message_above();
    fprintf(stderr, "fetchall: stdout: %s\n", strerror(err));
    exit(1);
}

void flush_stdout(void)
{
    if (fflush(stdout) != 0)
        stdout_failed();
}
