/* SPDX-License-Identifier: MIT */
/*
 * Blocking waits: gather, wait_for, as_completed. Built only on task
 * completion: they
 * run the client's loop one turn at a time and look at the tasks they wait
 * for, nothing else.
 */
#include <stdio.h>

#include "fetch-internal.h"

static void on_fired(evutil_socket_t fd, short ev, void *arg)
{
    (void)fd;
    (void)ev;
    *(int *)arg = 1;
}

static void arm(struct event *timer, fetch_client *c, int *fired, double s)
{
    struct timeval tv;
    fetch__timeval(&tv, s);
    evtimer_assign(timer, c->base, on_fired, fired);
    evtimer_add(timer, &tv);
}

/* One turn of c's loop for a wait; refused when the wait was called from
   inside a callback (nested): a loop cannot run inside itself. */
static int turn(fetch_client *c, int nested)
{
    return nested ? FETCH_E_BUSY : fetch__loop_once(c);
}

/* A callback freed the client during the wait: end what is left now, so
   that the wait can return before the client goes. */
static int client_going(fetch_client *c)
{
    if (!c->free_pending)
        return 0;
    fetch_client_cancel_all(c);
    return 1;
}

int fetch_wait_for(fetch_task *t, double timeout)
{
    struct event timer;
    int fired = 0, rc = FETCH_OK;
    fetch_client *c;

    if (!t || !fetch__seconds_ok(timeout))
        return FETCH_E_INVAL;
    if (t->done)
        return t->resp.error;
    c = t->client;
    int nested = c->depth > 0;
    fetch__enter(c);
    if (timeout > 0)
        arm(&timer, c, &fired, timeout);
    else if (timeout == 0)
        fired = 1;
    while (!t->done && !fired && rc == FETCH_OK && !client_going(c))
        rc = turn(c, nested);
    if (timeout > 0)
        evtimer_del(&timer);
    /* asyncio.wait_for cancels on timeout */
    if (rc == FETCH_OK && !t->done)
        fetch__task_expire(t, "wait_for timeout", timeout);
    fetch__leave(c);
    return rc != FETCH_OK ? rc : t->resp.error;
}

/* Fail-fast: has any task of the array failed? Called only when the
   client's failure count moved, so not on every loop turn. */
static int any_failed(fetch_task *const *tasks, size_t n)
{
    for (size_t i = 0; i < n; i++)
        if (tasks[i]->done && tasks[i]->resp.error != FETCH_OK)
            return 1;
    return 0;
}

int fetch_gather(fetch_client *c, fetch_task *const *tasks, size_t n,
                 double deadline, int flags)
{
    struct event timer;
    int fired = 0, rc = FETCH_OK, failed = 0, stop = 0;
    double first = 0;
    size_t i, next = 0, failures = (size_t)-1;

    if (!c || (n && !tasks) || !fetch__seconds_ok(deadline))
        return FETCH_E_INVAL;
    for (i = 0; i < n; i++) {
        const fetch_task *t = tasks[i];
        if (!t || (!t->done && t->client != c))
            return FETCH_E_INVAL;
        if (i == 0 || t->t_submit < first)
            first = t->t_submit;
    }
    int nested = c->depth > 0;
    fetch__enter(c);
    int timed = deadline >= 0; /* negative: FETCH_WAIT_FOREVER */
    if (timed) {
        double left = first + deadline - fetch__now();
        if (left > 0)
            arm(&timer, c, &fired, left);
        else
            fired = 1;
    }
    /* next only moves forward: O(n) checks in all, however results arrive */
    for (;;) {
        while (next < n && tasks[next]->done)
            next++;
        if ((flags & FETCH_GATHER_FAIL_FAST) && c->failures != failures) {
            failures = c->failures;
            stop = any_failed(tasks, n);
        }
        if (next == n || fired || stop || rc != FETCH_OK || client_going(c))
            break;
        rc = turn(c, nested);
    }
    if (timed && !fired)
        evtimer_del(&timer);
    if (rc != FETCH_OK) {
        fetch__leave(c);
        return rc;
    }
    for (i = next; i < n; i++) {
        if (tasks[i]->done)
            continue;
        if (stop) /* plain asyncio.gather: the first failure ends the rest */
            fetch__task_finish(tasks[i], FETCH_E_CANCELLED, CURLE_OK,
                               "cancelled: another task of the gather failed");
        else
            fetch__task_expire(tasks[i], "gather deadline", deadline);
    }
    for (i = 0; i < n; i++)
        failed += tasks[i]->resp.error != FETCH_OK;
    fetch__leave(c);
    return failed;
}

fetch_task *fetch_as_completed(fetch_client *c, double timeout, int *err)
{
    struct event timer;
    int fired = timeout == 0, rc = FETCH_OK;
    fetch_task *t = NULL;

    if (!c || !fetch__seconds_ok(timeout)) {
        rc = FETCH_E_INVAL;
        goto out;
    }
    int nested = c->depth > 0;
    fetch__enter(c);
    if (timeout > 0)
        arm(&timer, c, &fired, timeout);
    for (;;) {
        if ((t = TAILQ_FIRST(&c->completed))) {
            fetch__completed_remove(c, t);
            break;
        }
        if (TAILQ_EMPTY(&c->unfinished) || client_going(c))
            break; /* nothing left to wait for */
        if (fired) {
            rc = FETCH_E_TIMEOUT;
            break;
        }
        if ((rc = turn(c, nested)) != FETCH_OK)
            break;
    }
    if (timeout > 0)
        evtimer_del(&timer);
    fetch__leave(c);
out:
    if (err)
        *err = rc;
    return t;
}
