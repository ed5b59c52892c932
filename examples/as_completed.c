/* SPDX-License-Identifier: MIT */
/* as_completed: the gather URLs again (3, 1 and 2 units of delay), printed
   as each finishes (asyncio.as_completed): they come out sorted by delay,
   without any sorting.  Usage: as_completed BASE_URL */
#include <stdio.h>

#include <libfetch.h>

int main(int argc, char **argv)
{
    const int delays_ms[] = {300, 100, 200};
    char url[512];
    int err;

    if (argc != 2) {
        fprintf(stderr, "usage: as_completed BASE_URL\n");
        return 2;
    }
    fetch_client *client = fetch_client_new(NULL, NULL, NULL);
    if (!client)
        return 1;
    for (long i = 0; i < 3; i++) {
        snprintf(url, sizeof url, "%s/delay/%d", argv[1], delays_ms[i]);
        fetch_get(client, url, NULL, (void *)i, NULL); /* arg: request number */
    }
    fetch_task *t;
    while ((t = fetch_as_completed(client, 10.0, &err))) {
        const fetch_response *r = fetch_task_response(t);
        long i = (long)fetch_task_data(t);
        printf("request %ld finished: %s", i + 1,
               r->error == FETCH_OK ? r->body : "failed\n");
        fetch_task_free(t);
    }
    fetch_client_free(client);
    return err == FETCH_OK ? 0 : 1; /* FETCH_OK: nothing left */
}
