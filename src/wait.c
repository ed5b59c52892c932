/*
 * Blocking waits: gather and wait_for. Built only on task completion: they
 * run the client's loop one turn at a time and look at the tasks they wait
 * for, nothing else.
 */
#include <stdio.h>

#include "fetch-internal.h"

/* End an unfinished task with FETCH_E_TIMEOUT, saying which clock ran out. */
void fetch__task_expire(fetch_task *t, const char *what, double seconds)
{
    char detail[128];
    snprintf(detail, sizeof detail, "%s of %g s reached while %s", what,
             seconds, t->state == FETCH__RUNNING ? "running" : "queued");
    fetch__task_finish(t, FETCH_E_TIMEOUT, CURLE_OK, detail);
}

static void on_fired(evutil_socket_t fd, short ev, void *arg)
{
    (void)fd;
    (void)ev;
    *(int *)arg = 1;
}

static void arm(struct event *timer, fetch_client *c, int *fired, double s)
{
    struct timeval tv = {(time_t)s,
                         (suseconds_t)((s - (double)(time_t)s) * 1e6)};
    evtimer_assign(timer, c->base, on_fired, fired);
    evtimer_add(timer, &tv);
}

int fetch_wait_for(fetch_task *t, double timeout)
{
    struct event timer;
    int fired = 0, rc = FETCH_OK;
    fetch_client *c;

    if (!t)
        return FETCH_E_INVAL;
    if (t->state == FETCH__DONE)
        return t->resp.error;
    c = t->client;
    if (timeout > 0)
        arm(&timer, c, &fired, timeout);
    else if (timeout == 0)
        fired = 1;
    while (t->state != FETCH__DONE && !fired && rc == FETCH_OK)
        rc = fetch__loop_once(c);
    if (timeout > 0)
        evtimer_del(&timer);
    if (rc != FETCH_OK)
        return rc;
    if (t->state != FETCH__DONE) /* asyncio.wait_for cancels on timeout */
        fetch__task_expire(t, "wait_for timeout", timeout);
    return t->resp.error;
}

int fetch_gather(fetch_client *c, fetch_task *const *tasks, size_t n,
                 double deadline)
{
    struct event timer;
    int fired = 0, rc = FETCH_OK, failed = 0;
    double first = 0;
    size_t i, next = 0;

    if (!c || (n && !tasks))
        return FETCH_E_INVAL;
    for (i = 0; i < n; i++) {
        const fetch_task *t = tasks[i];
        if (!t || (t->state != FETCH__DONE && t->client != c))
            return FETCH_E_INVAL;
        if (i == 0 || t->t_submit < first)
            first = t->t_submit;
    }
    if (deadline > 0) {
        double left = first + deadline - fetch__now();
        if (left > 0)
            arm(&timer, c, &fired, left);
        else
            fired = 1;
    }
    /* next only moves forward: O(n) checks in all, however results arrive */
    for (;;) {
        while (next < n && tasks[next]->state == FETCH__DONE)
            next++;
        if (next == n || fired || rc != FETCH_OK)
            break;
        rc = fetch__loop_once(c);
    }
    if (deadline > 0 && !fired)
        evtimer_del(&timer);
    if (rc != FETCH_OK)
        return rc;
    for (i = next; i < n; i++)
        if (tasks[i]->state != FETCH__DONE)
            fetch__task_expire(tasks[i], "gather deadline", deadline);
    for (i = 0; i < n; i++)
        failed += tasks[i]->resp.error != FETCH_OK;
    return failed;
}
