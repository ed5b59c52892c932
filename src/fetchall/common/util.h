/* SPDX-License-Identifier: MIT */
/* Small utilities every room of the command uses. */
#ifndef FETCHALL_UTIL_H
#define FETCHALL_UTIL_H

#include <stddef.h>
#include <stdint.h>
#include <sys/time.h>

#include "libfetch.h"

/* Monotonic seconds. */
double monotonic(void);
/* Sleep, for commands that have nothing else to do (not a loop). */
void sleep_seconds(double s);
/* Seconds as libevent and hiredis take them, rounded up to the microsecond
   (a timer must not go off before its time, as the library's own). */
struct timeval seconds_tv(double s);
/* FNV-1a of len bytes: 32 bits (hash tables, the journal's URL hashes),
   64 bits (a chunk's URLs). */
uint32_t fnv1a32(const void *data, size_t len);
uint64_t fnv1a64(const void *data, size_t len);

/* Every request in flight holds a socket, and while its host name is
   looked up the resolver's two; with -o (files) a file too. Raise the soft
   open-file limit to the hard one, and keep -j within it, saying so. */
void limit_concurrency(fetch_options *fo, int files);
/* Event loops for a run: one per core (two per core from -j 1000 on), at
   most 16, no more than the URLs given when that is all (n_urls, or 0:
   a list or a queue). */
int default_threads(const fetch_options *fo, int n_urls);

/* Write all of len bytes to fd: 0, or the errno of why not (a short write
   is followed by another, which says why: a full disk's ENOSPC). */
int write_all(int fd, const char *p, size_t len);

/* Whether sig was ignored when the command started: nohup ignores SIGHUP,
   a non-interactive shell's "cmd &" SIGINT. A signal ignored then stays
   ignored (as every Unix tool does), so the command never stops on it. */
int signal_ignored(int sig);

#endif
