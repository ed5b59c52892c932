/* SPDX-License-Identifier: MIT */
/* Small utilities every room of the command uses. */
#include <errno.h>
#include <math.h>
#include <signal.h>
#include <stdio.h>
#include <sys/resource.h>
#include <time.h>
#include <unistd.h>

#include "util.h"

double monotonic(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (double)ts.tv_sec + (double)ts.tv_nsec / 1e9;
}

void sleep_seconds(double s)
{
    struct timeval tv = seconds_tv(s);
    struct timespec ts = {tv.tv_sec, tv.tv_usec * 1000L};
    while (nanosleep(&ts, &ts) != 0 && errno == EINTR)
        ;
}

struct timeval seconds_tv(double s)
{
    struct timeval tv;
    if (!(s > 0)) /* NaN too */
        s = 0;
    if (s > 3e8) /* ten years: never */
        s = 3e8;
    tv.tv_sec = (time_t)s;
    tv.tv_usec = (suseconds_t)ceil((s - (double)tv.tv_sec) * 1e6);
    if (tv.tv_usec >= 1000000) {
        tv.tv_sec++;
        tv.tv_usec -= 1000000;
    }
    return tv;
}

uint32_t fnv1a32(const void *data, size_t len)
{
    const unsigned char *p = data;
    uint32_t h = 2166136261u;
    for (size_t i = 0; i < len; i++)
        h = (h ^ p[i]) * 16777619u;
    return h;
}

uint64_t fnv1a64(const void *data, size_t len)
{
    const unsigned char *p = data;
    uint64_t h = 14695981039346656037ull;
    for (size_t i = 0; i < len; i++)
        h = (h ^ p[i]) * 1099511628211ull;
    return h;
}

void limit_concurrency(fetch_options *fo, int files)
{
    struct rlimit rl;
    const rlim_t spare = 64, each = 3 + (rlim_t)files;
    if (getrlimit(RLIMIT_NOFILE, &rl) != 0)
        return;
    if (rl.rlim_cur < rl.rlim_max) {
        rl.rlim_cur = rl.rlim_max;
        setrlimit(RLIMIT_NOFILE, &rl);
        getrlimit(RLIMIT_NOFILE, &rl);
    }
    if (rl.rlim_cur == RLIM_INFINITY ||
        (rlim_t)fo->max_concurrency * each + spare <= rl.rlim_cur)
        return;
    int most =
        rl.rlim_cur > spare + each ? (int)((rl.rlim_cur - spare) / each) : 1;
    fprintf(stderr,
            "fetchall: -j %d needs more open files than the limit of %lu "
            "(%lu a request%s); using -j %d\n",
            fo->max_concurrency, (unsigned long)rl.rlim_cur,
            (unsigned long)each, files ? ", with -o or --warc" : "", most);
    fo->max_concurrency = most;
}

int default_threads(const fetch_options *fo, int n_urls)
{
    /* two per core from -j 1000: opening thousands of connections at once
       overlaps better (measured on W2 in bench/run) */
    long cores = sysconf(_SC_NPROCESSORS_ONLN);
    int threads = cores > 1 ? (int)cores : 1;
    if (fo->max_concurrency >= 1000)
        threads *= 2;
    if (threads > 16)
        threads = 16;
    if (n_urls && threads > n_urls)
        threads = n_urls;
    return threads;
}

int signal_ignored(int sig)
{
    struct sigaction now;
    return sigaction(sig, NULL, &now) == 0 && now.sa_handler == SIG_IGN;
}

int write_all(int fd, const char *p, size_t len)
{
    while (len) {
        ssize_t n = write(fd, p, len);
        if (n < 0 && errno == EINTR)
            continue;
        if (n <= 0)
            return n < 0 ? errno : EIO;
        p += n;
        len -= (size_t)n;
    }
    return 0;
}
