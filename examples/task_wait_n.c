/* SPDX-License-Identifier: MIT */
/* task_wait_n: wait_n through explicit task handles (asyncio's
   task_wait_n): every task is created first and kept in an array; each
   one's completion callback records its delay as it finishes; one gather
   waits for them all. The delays come back shortest first, unsorted.
   Usage: task_wait_n BASE_URL [N] [MAX_DELAY_SECONDS] */
#include <stdio.h>
#include <stdlib.h>
#include <time.h>

#include <libfetch.h>

struct order {
    double *delay; /* in completion order */
    int n;
};

static struct order done;

/* Completion callback: runs once per task, in the order they finish. */
static void finished(fetch_task *task, void *arg)
{
    if (fetch_task_response(task)->error == FETCH_OK)
        done.delay[done.n++] = *(double *)arg;
}

int main(int argc, char **argv)
{
    if (argc < 2) {
        fprintf(stderr,
                "usage: task_wait_n BASE_URL [N] [MAX_DELAY_SECONDS]\n");
        return 2;
    }
    int n = argc > 2 ? atoi(argv[2]) : 5;
    double max_delay = argc > 3 ? atof(argv[3]) : 1.0;
    fetch_client *client = fetch_client_new(NULL, NULL, NULL);
    fetch_task **tasks = calloc((size_t)(n > 0 ? n : 1), sizeof *tasks);
    double *delay = calloc((size_t)(n > 0 ? n : 1), sizeof *delay);
    done.delay = calloc((size_t)(n > 0 ? n : 1), sizeof *done.delay);
    if (n < 1 || !client || !tasks || !delay || !done.delay)
        return 2;
    srand((unsigned)time(NULL));
    /* distinct delays (steps of max_delay / n), shuffled */
    for (int i = 0; i < n; i++)
        delay[i] = max_delay * i / n;
    for (int i = n - 1; i > 0; i--) {
        int j = rand() % (i + 1);
        double d = delay[i];
        delay[i] = delay[j];
        delay[j] = d;
    }
    char url[512];
    for (int i = 0; i < n; i++) { /* asyncio.create_task, n times */
        snprintf(url, sizeof url, "%s/delay/%d", argv[1],
                 (int)(delay[i] * 1000));
        tasks[i] = fetch_get(client, url, finished, &delay[i], NULL);
    }
    int failed = fetch_gather(client, tasks, (size_t)n, FETCH_WAIT_FOREVER,
                              FETCH_GATHER_ALL);
    for (int i = 0; i < done.n; i++)
        printf("%.3f\n", done.delay[i]);
    for (int i = 0; i < n; i++)
        fetch_task_free(tasks[i]);
    fetch_client_free(client);
    free(tasks);
    free(delay);
    free(done.delay);
    return failed ? 1 : 0;
}
