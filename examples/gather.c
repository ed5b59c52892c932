/* SPDX-License-Identifier: MIT */
/* gather: fetch three URLs that answer after 3, 1 and 2 units of delay and
   print the bodies in request order (asyncio.gather). The whole run takes
   about as long as the slowest, not the sum.  Usage: gather BASE_URL
   (BASE_URL/delay/MS must answer after MS milliseconds). */
#include <stdio.h>
#include <time.h>

#include <libfetch.h>

static double now(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (double)ts.tv_sec + (double)ts.tv_nsec / 1e9;
}

int main(int argc, char **argv)
{
    const int delays_ms[] = {300, 100, 200};
    fetch_task *tasks[3];
    char url[512];

    if (argc != 2) {
        fprintf(stderr, "usage: gather BASE_URL\n");
        return 2;
    }
    fetch_client *client = fetch_client_new(NULL, NULL, NULL);
    if (!client)
        return 1;
    double start = now();
    for (int i = 0; i < 3; i++) {
        snprintf(url, sizeof url, "%s/delay/%d", argv[1], delays_ms[i]);
        tasks[i] = fetch_get(client, url, NULL, NULL, NULL); /* create_task */
    }
    int failed = fetch_gather(client, tasks, 3, FETCH_WAIT_FOREVER,
                              FETCH_GATHER_ALL); /* no deadline */
    double took = now() - start;
    for (int i = 0; i < 3; i++) { /* request order, whatever finished first */
        const fetch_response *r = fetch_task_response(tasks[i]);
        if (r->error == FETCH_OK)
            printf("%d: %s", i + 1, r->body);
        else
            printf("%d: error: %s\n", i + 1, r->message);
        fetch_task_free(tasks[i]);
    }
    printf("took %.2f s for delays summing to 0.60 s\n", took);
    fetch_client_free(client);
    return failed ? 1 : 0;
}
