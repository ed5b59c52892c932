/* SPDX-License-Identifier: MIT */
/* wait_n: n concurrent requests to an endpoint that answers after a random
   time up to max_delay; the delays come back in completion order, shortest
   first, without any sorting: asyncio's wait_n(n, max_delay) with
   as_completed.
   Usage: wait_n BASE_URL [N] [MAX_DELAY_SECONDS] */
#include <stdio.h>
#include <stdlib.h>
#include <time.h>

#include <libfetch.h>

/* n random delays up to max_delay seconds, in steps of max_delay / n and
   each a different one: two that finish within a millisecond of each other
   could come back either way. */
static void random_delays(double *delay, int n, double max_delay)
{
    for (int i = 0; i < n; i++)
        delay[i] = max_delay * i / n;
    for (int i = n - 1; i > 0; i--) { /* shuffled */
        int j = rand() % (i + 1);
        double d = delay[i];
        delay[i] = delay[j];
        delay[j] = d;
    }
}

/* Fetch base/delay/MS for each delay; write the delays in the order the
   answers came into out (array of n). 0, or -1 if a request failed. */
static int wait_n(fetch_client *client, const char *base, int n,
                  double max_delay, double *out)
{
    double *delay = malloc((size_t)n * sizeof *delay);
    char url[512];
    int got = 0, failed = 0, err;
    if (!delay)
        return -1;
    random_delays(delay, n, max_delay);
    for (int i = 0; i < n; i++) { /* the tasks start; arg: which one */
        snprintf(url, sizeof url, "%s/delay/%d", base, (int)(delay[i] * 1000));
        if (!fetch_get(client, url, NULL, &delay[i], NULL))
            failed = 1; /* the rest still come back */
    }
    fetch_task *t;
    while ((t = fetch_as_completed(client, FETCH_WAIT_FOREVER, &err))) {
        failed |= fetch_task_response(t)->error != FETCH_OK;
        out[got++] = *(double *)fetch_task_data(t);
        fetch_task_free(t);
    }
    free(delay);
    return failed || err != FETCH_OK || got != n ? -1 : 0;
}

int main(int argc, char **argv)
{
    if (argc < 2) {
        fprintf(stderr, "usage: wait_n BASE_URL [N] [MAX_DELAY_SECONDS]\n");
        return 2;
    }
    int n = argc > 2 ? atoi(argv[2]) : 5;
    double max_delay = argc > 3 ? atof(argv[3]) : 1.0;
    double *delays = calloc((size_t)(n > 0 ? n : 1), sizeof *delays);
    fetch_client *client = fetch_client_new(NULL, NULL, NULL);
    if (n < 1 || !delays || !client)
        return 2;
    srand((unsigned)time(NULL));
    int rc = wait_n(client, argv[1], n, max_delay, delays);
    for (int i = 0; i < n; i++)
        printf("%.3f\n", delays[i]);
    fetch_client_free(client);
    free(delays);
    return rc ? 1 : 0;
}
