/* SPDX-License-Identifier: MIT */
/* semaphore: a small scraper that fetches 12 pages with at most 3 requests
   in flight to the host (aiohttp's limit_per_host, an asyncio.Semaphore per
   host). Trace hooks count what is in flight to show the limit held.
   Usage: semaphore BASE_URL */
#include <stdio.h>

#include <libfetch.h>

static int in_flight, most;

static void on_started(fetch_task *t, double queued, void *arg)
{
    (void)t, (void)queued, (void)arg;
    if (++in_flight > most)
        most = in_flight;
}

static void on_finished(fetch_task *t, double total, void *arg)
{
    (void)t, (void)total, (void)arg;
    in_flight--;
}

int main(int argc, char **argv)
{
    enum { PAGES = 12 };
    fetch_trace trace = {.on_started = on_started, .on_finished = on_finished};
    fetch_options opts;
    fetch_task *t[PAGES];
    char url[512];

    if (argc != 2) {
        fprintf(stderr, "usage: semaphore BASE_URL\n");
        return 2;
    }
    fetch_options_init(&opts);
    opts.max_per_host = 3;
    opts.trace = trace;
    fetch_client *client = fetch_client_new(&opts, NULL, NULL);
    if (!client)
        return 1;
    for (int i = 0; i < PAGES; i++) {
        snprintf(url, sizeof url, "%s/delay/50?page=%d", argv[1], i);
        t[i] = fetch_get(client, url, NULL, NULL, NULL);
    }
    int failed =
        fetch_gather(client, t, PAGES, FETCH_WAIT_FOREVER, FETCH_GATHER_ALL);
    size_t bytes = 0;
    for (int i = 0; i < PAGES; i++) {
        bytes += fetch_task_response(t[i])->body_len;
        fetch_task_free(t[i]);
    }
    printf("%d pages, %zu bytes, %d failed\n", PAGES, bytes, failed);
    printf("most in flight to the host at once: %d (limit 3)\n", most);
    fetch_client_free(client);
    return failed ? 1 : 0;
}
