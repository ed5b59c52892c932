/* SPDX-License-Identifier: MIT */
/* What the command says: on stderr, made safe to show, kept clear of a
   progress bar; and the end of a run whose stdout went away. */
#ifndef FETCHALL_MESSAGE_H
#define FETCHALL_MESSAGE_H

/* "fetchall: what" on stderr, and exit status 1 (out of memory and the
   like: nothing to go on with). */
void fatal(const char *what);
/* s escaped for a terminal (fetch_text_escape()), malloc'd; NULL when out
   of memory. The one escaper for text from the command line or the web. */
char *escaped_text(const char *s);

/* Whoever keeps a line of its own at the bottom of stderr (the progress
   bar) is told before and after each message, to clear it and draw it
   again below; NULL, NULL: nobody. */
void message_guard(void (*above)(void), void (*below)(void));
/* Around a line written to stderr. */
void message_above(void);
void message_below(void);

/* stdout went away (e.g. `| head`): end the way a pipeline expects (by
   SIGPIPE for EPIPE), else with the error and exit status 1. */
void stdout_failed(void);
/* fflush(stdout), or stdout_failed(). */
void flush_stdout(void);

#endif
