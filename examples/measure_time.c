/* SPDX-License-Identifier: MIT */
/* measure_time: fetch N URLs that each answer after 200 ms, one after the
   other and then all at once; print both times, the speed-up, and the
   concurrent run's total / n (asyncio's measure_time(n, max_delay)).
   Usage: measure_time BASE_URL [N] */
#include <stdio.h>
#include <stdlib.h>
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
    if (argc < 2) {
        fprintf(stderr, "usage: measure_time BASE_URL [N]\n");
        return 2;
    }
    int n = argc > 2 ? atoi(argv[2]) : 10, failed = 0;
    char url[512];
    fetch_task **tasks = calloc((size_t)n, sizeof *tasks);
    fetch_client *client = fetch_client_new(NULL, NULL, NULL);
    if (!client || !tasks)
        return 1;

    double start = now(); /* sequential: await each before the next */
    for (int i = 0; i < n; i++) {
        snprintf(url, sizeof url, "%s/delay/200?seq=%d", argv[1], i);
        fetch_task *t = fetch_get(client, url, NULL, NULL, NULL);
        failed += fetch_wait_for(t, FETCH_WAIT_FOREVER) != FETCH_OK;
        fetch_task_free(t);
    }
    double sequential = now() - start;

    start = now(); /* concurrent: create every task, then gather */
    for (int i = 0; i < n; i++) {
        snprintf(url, sizeof url, "%s/delay/200?con=%d", argv[1], i);
        tasks[i] = fetch_get(client, url, NULL, NULL, NULL);
    }
    failed += fetch_gather(client, tasks, (size_t)n, FETCH_WAIT_FOREVER,
                           FETCH_GATHER_ALL);
    double concurrent = now() - start;
    for (int i = 0; i < n; i++)
        fetch_task_free(tasks[i]);

    printf("%d URLs of 0.2 s each\n", n);
    printf("sequential: %.2f s\n", sequential);
    printf("concurrent: %.2f s\n", concurrent);
    printf("speed-up:   %.1fx\n", sequential / concurrent);
    printf("total / n:  %.3f s\n", concurrent / n);
    printf("failed:     %d of %d\n", failed, 2 * n);
    fetch_client_free(client);
    free(tasks);
    return failed ? 1 : 0;
}
