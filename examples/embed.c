/* SPDX-License-Identifier: MIT */
/* embed: a program that runs its own libevent loop, with its own timer
   ticking, and fetches in the background through completion callbacks. The
   loop never blocks on a fetch.  Usage: embed BASE_URL */
#include <stdio.h>

#include <event2/event.h>
#include <libfetch.h>

struct app {
    struct event_base *base;
    struct event *tick;
    int ticks, pending;
};

static void on_tick(evutil_socket_t fd, short ev, void *arg)
{
    struct app *app = arg;
    (void)fd;
    (void)ev;
    app->ticks++;
}

static void on_done(fetch_task *task, void *arg)
{
    struct app *app = arg;
    const fetch_response *r = fetch_task_response(task);
    if (r->error == FETCH_OK)
        printf("done: %s", r->body);
    else
        printf("failed: %s\n", r->message);
    fetch_task_free(task); /* a callback may free its own task */
    if (--app->pending == 0)
        event_base_loopexit(app->base, NULL);
}

int main(int argc, char **argv)
{
    const int delays_ms[] = {300, 100, 200};
    struct timeval every = {0, 20 * 1000};
    struct app app = {0};
    char url[512];

    if (argc != 2) {
        fprintf(stderr, "usage: embed BASE_URL\n");
        return 2;
    }
    app.base = event_base_new();
    app.tick = event_new(app.base, -1, EV_PERSIST, on_tick, &app);
    event_add(app.tick, &every);
    fetch_client *client = fetch_client_new(NULL, app.base, NULL);
    if (!client)
        return 1;
    for (int i = 0; i < 3; i++) {
        snprintf(url, sizeof url, "%s/delay/%d", argv[1], delays_ms[i]);
        fetch_get(client, url, on_done, &app, NULL); /* freed in on_done */
        app.pending++;
    }
    event_base_dispatch(app.base); /* our loop; libfetch rides on it */
    printf("ticks while fetching: %s\n", app.ticks >= 5 ? "yes" : "no");
    fetch_client_free(client);
    event_free(app.tick);
    event_base_free(app.base);
    return 0;
}
