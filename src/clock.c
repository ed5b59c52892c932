/* SPDX-License-Identifier: MIT */
/* The one clock: monotonic seconds, and seconds as libevent takes them. */
#include <math.h>
#include <time.h>

#include "fetch-internal.h"

double fetch__now(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (double)ts.tv_sec + (double)ts.tv_nsec / 1e9;
}

/* Seconds as a timeval for libevent, rounded up (a timer must not go off
   before its time); beyond ten years is "never" anyway. */
void fetch__timeval(struct timeval *tv, double s)
{
    if (s > 3e8)
        s = 3e8;
    if (s < 0)
        s = 0;
    tv->tv_sec = (time_t)s;
    tv->tv_usec = (suseconds_t)ceil((s - (double)tv->tv_sec) * 1e6);
    if (tv->tv_usec >= 1000000) {
        tv->tv_sec++;
        tv->tv_usec -= 1000000;
    }
}
