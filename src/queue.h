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

/* A request in the scheduler, embedded in its task. */
struct fetch__qnode {
    TAILQ_ENTRY(fetch__qnode) link; /* in its host's FIFO */
    struct fetch__host *host;       /* from push until done */
};

TAILQ_HEAD(fetch__qlist, fetch__qnode);

struct fetch__sched {
    size_t limit;    /* most in flight; >= 1 */
    size_t per_host; /* most in flight to one host; 0 = no limit */
    size_t queued, running, hosts;
    size_t startable; /* what the ready hosts may start now, in all */
    void *tree;       /* tsearch() tree of hosts by key */
    TAILQ_HEAD(, fetch__host) ready; /* may start one now: round-robin */
    struct fetch__host **heap;       /* waiting for a time, earliest on top */
    size_t heap_len, heap_cap;
    unsigned long steps; /* heap levels walked: tests check O(log hosts) */
};

void fetch__sched_init(struct fetch__sched *s, size_t limit, size_t per_host);
void fetch__sched_free(struct fetch__sched *s);
/* Queue n behind the others of host key. 0, or -1 out of memory. */
int fetch__sched_push(struct fetch__sched *s, struct fetch__qnode *n,
                      const char *key);
/* Take a queued n out (cancelled before it started). */
void fetch__sched_remove(struct fetch__sched *s, struct fetch__qnode *n);
/* The next request that may start at time now, counted as running from
   here on, or NULL: every limit is reached, or nothing is eligible. Hosts
   take turns (round-robin), each in its own FIFO order. */
struct fetch__qnode *fetch__sched_next(struct fetch__sched *s, double now);
/* A request that next() gave out has ended: its slots are free again. */
void fetch__sched_done(struct fetch__sched *s, struct fetch__qnode *n);
/* n's host may start nothing before time until (a back-off, a rate). */
void fetch__sched_defer(struct fetch__sched *s, struct fetch__qnode *n,
                        double until);
/* Free slots that the queued requests cannot fill now (they wait for their
   hosts: the limit per host, or a time): more requests could use them. */
size_t fetch__sched_idle(const struct fetch__sched *s);
/* When the earliest waiting host becomes eligible, or -1 when none waits. */
double fetch__sched_wake_at(const struct fetch__sched *s);

#endif
