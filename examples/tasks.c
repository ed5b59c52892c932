/* SPDX-License-Identifier: MIT */
/* tasks: create tasks, cancel one, wait_for one with a short timeout, and
   gather the rest (task.cancel, asyncio.wait_for, asyncio.gather).
   Usage: tasks BASE_URL */
#include <stdio.h>

#include <libfetch.h>

int main(int argc, char **argv)
{
    char url[4][512];
    fetch_task *t[4];
    if (argc != 2) {
        fprintf(stderr, "usage: tasks BASE_URL\n");
        return 2;
    }
    fetch_client *client = fetch_client_new(NULL, NULL, NULL);
    if (!client)
        return 1;
    const char *paths[] = {"/delay/100", "/delay/5000", "/delay/2000",
                           "/bytes/12"};
    for (int i = 0; i < 4; i++) { /* create_task: all scheduled now */
        snprintf(url[i], sizeof url[i], "%s%s", argv[1], paths[i]);
        t[i] = fetch_get(client, url[i], NULL, NULL, NULL);
    }

    fetch_task_cancel(t[1]); /* task.cancel() */
    printf("cancelled task 2: %s\n",
           fetch_strerror(fetch_task_response(t[1])->error));

    /* asyncio.wait_for(task, 0.3): too short for a 2 s answer */
    int rc = fetch_wait_for(t[2], 0.3);
    printf("wait_for task 3 with 0.3 s: %s\n", fetch_strerror(rc));

    /* gather the rest: results in request order */
    fetch_task *rest[] = {t[0], t[3]};
    fetch_gather(client, rest, 2, FETCH_WAIT_FOREVER, FETCH_GATHER_ALL);
    printf("task 1: %s", fetch_task_response(t[0])->body);
    printf("task 4: %s\n", fetch_task_response(t[3])->body);

    for (int i = 0; i < 4; i++)
        fetch_task_free(t[i]);
    fetch_client_free(client);
    return 0;
}
