/* SPDX-License-Identifier: MIT */
/* basic: fetch one URL, print its status and length (session.get +
   response.text). Usage: basic URL */
#include <stdio.h>

#include <libfetch.h>

int main(int argc, char **argv)
{
    if (argc != 2) {
        fprintf(stderr, "usage: basic URL\n");
        return 2;
    }
    fetch_client *client = fetch_client_new(NULL, NULL, NULL);
    if (!client)
        return 1;
    fetch_task *task = fetch_get(client, argv[1], NULL, NULL, NULL);
    int rc = fetch_wait_for(task, FETCH_WAIT_FOREVER);
    const fetch_response *r = fetch_task_response(task);
    if (rc == FETCH_OK)
        printf("status %ld, %zu bytes\n", r->status, r->body_len);
    else
        fprintf(stderr, "basic: %s\n", r ? r->message : fetch_strerror(rc));
    fetch_task_free(task);
    fetch_client_free(client);
    return rc == FETCH_OK ? 0 : 1;
}
