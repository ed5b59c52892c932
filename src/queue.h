/* SPDX-License-Identifier: MIT */
/*
 * The scheduler: which queued request may start next. It knows nothing of
 * libcurl, libevent or threads (its caller holds the client's lock), so its
 * tests drive it with a fake clock.
 */
#ifndef FETCH_QUEUE_H
#define FETCH_QUEUE_H

#include <stddef.h>
#include <sys/queue.h>

struct fetch__host;

/* A place in a min-heap by time. */
struct fetch__timed {
    double at;
    unsigned long turn; /* ties: the smaller first (0 in a heap by time) */
    size_t pos;         /* its index in the heap */
    int in;             /* in the heap */
};

struct fetch__heap {
    struct fetch__timed **v;
    size_t len, cap;
};

/* A request in the scheduler, embedded in its task. */
struct fetch__qnode {
    TAILQ_ENTRY(fetch__qnode)
    link;                      /* in its host's FIFO, or its list of
                                  those waiting for a time */
    struct fetch__host *host;  /* from push until done */
    struct fetch__timed later; /* waiting for a time of its own */
    int probe;                 /* started as its host's one probe */
    int opener;                /* started as its host's first: the others
                                  wait until fetch__sched_opened() */
    double started;            /* when next() gave it out */
    int bypass;                /* may start while its host is gated, and
                                  is queued at the head (its robots.txt) */
};

TAILQ_HEAD(fetch__qlist, fetch__qnode);

/* What an attempt's answer says of its host (fetch__sched_outcome). */
enum fetch__outcome {
    FETCH__HOST_OK,       /* it answered: a probe is over */
    FETCH__HOST_PUSHBACK, /* it asked for time (429, 503, Retry-After) */
    FETCH__HOST_DOWN,     /* no connection: refused, unreachable, no name */
    FETCH__HOST_OTHER     /* says nothing of the host */
};

struct fetch__sched {
    size_t limit;    /* most in flight; >= 1 */
    size_t per_host; /* most in flight to one host; 0 = no limit */
    int first_alone; /* a host's first request goes alone until
                        fetch__sched_opened() */
    size_t queued, running, hosts, later_n;
    size_t startable;           /* what the ready hosts may start now, in all */
    size_t soon;                /* ... and once their first connection is up */
    void *tree;                 /* tsearch() tree of hosts by key */
    struct fetch__heap ready;   /* hosts that may start one now, by rank */
    struct fetch__heap fresh;   /* ... those not heard from yet (per_host) */
    double latency;             /* what answers take, of late, in all */
    unsigned long turns;        /* turns handed out (round-robin's order) */
    struct fetch__heap waiting; /* hosts waiting for a time */
    struct fetch__heap later;   /* requests waiting for a time */
    /* politeness: 0 = none */
    double rate, tokens, refilled; /* starts a second, in all: one bucket */
    double host_rate;              /* ... and to each host */
    double host_delay;             /* seconds between starts to a host */
    int delay_jitter;              /* the delay times 0.5 to 1.5 */
    /* the circuit breaker: 0 = none */
    unsigned breaker;                  /* failures in a row that open it */
    double breaker_pause, breaker_max; /* its first pause, its longest */
    size_t paused;                     /* hosts pushed back or broken */
    unsigned long rng;                 /* jitter */
#ifdef FETCH_SCHED_STEPS
    unsigned long steps; /* heap levels walked: check_queue counts them */
#endif
};

void fetch__sched_init(struct fetch__sched *s, size_t limit, size_t per_host);
void fetch__sched_free(struct fetch__sched *s);
/* Queue n for host key: behind the others, or, with a time of its own (a
   retry waiting for its back-off), at their head once that time comes.
   0, or -1 out of memory. */
int fetch__sched_push(struct fetch__sched *s, struct fetch__qnode *n,
                      const char *key);
int fetch__sched_push_at(struct fetch__sched *s, struct fetch__qnode *n,
                         const char *key, double not_before);
/* Take a queued n out (cancelled before it started). */
void fetch__sched_remove(struct fetch__sched *s, struct fetch__qnode *n);
/* The next request that may start at time now, counted as running from
   here on, or NULL: every limit is reached, or nothing is eligible. Hosts
   take turns (round-robin), each in its own FIFO order; a start takes a
   token of the run's rate and of its host's, both or neither. */
struct fetch__qnode *fetch__sched_next(struct fetch__sched *s, double now);
/* What n's answer says of its host, before fetch__sched_done(n): a
   pushback pauses the host for pause seconds, then lets one request probe
   it; "down" counts towards the breaker, which pauses it for a growing,
   jittered time, then lets one probe. Returns 1 when a probe found the
   host down: its queued requests should fail (fetch__sched_drain). */
int fetch__sched_outcome(struct fetch__sched *s, struct fetch__qnode *n,
                         enum fetch__outcome what, double now, double pause);
/* n, its host's first request (next() gave it out alone), has a
   connection up: the host's other requests may start. */
void fetch__sched_opened(struct fetch__sched *s, struct fetch__qnode *n);
/* A number the caller keeps with n's host while it is known (0 at first),
   or NULL while the host has more than few running: the loop its
   connections are likely on, which matters only when it has few. */
int *fetch__sched_home(struct fetch__qnode *n, size_t few);
/* A request that next() gave out has ended: its slots are free again
   (and if it was its host's first, the others may start now). */
void fetch__sched_done(struct fetch__sched *s, struct fetch__qnode *n);
/* Move every request queued for host key to out, those waiting for a time
   of their own too (its host is down). */
void fetch__sched_drain(struct fetch__sched *s, const char *key,
                        struct fetch__qlist *out);
/* Host key (if it has anything queued or running) may start nothing
   but a bypass request while gated (its robots.txt is being fetched);
   delay, when not negative, becomes its own seconds between starts (a
   Crawl-delay; the longer of it and host_delay holds). Opened at time now
   with a delay, its next start waits that long. */
void fetch__sched_gate(struct fetch__sched *s, const char *key, int gated,
                       double delay, double now);
/* n's host may start nothing before time until (a back-off, a rate). */
void fetch__sched_defer(struct fetch__sched *s, struct fetch__qnode *n,
                        double until);
/* Free slots that the queued requests cannot fill now (they wait for their
   hosts: the limit per host, or a time): more requests could use them. */
size_t fetch__sched_idle(const struct fetch__sched *s);
/* When something waiting for a time may start, or -1 when no request
   waits (a host may still be paused: the next request for it waits). */
double fetch__sched_wake_at(const struct fetch__sched *s);
/* A number in [0, 1) for jitter. */
double fetch__sched_random(struct fetch__sched *s);

#endif
