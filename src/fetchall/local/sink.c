/* SPDX-License-Identifier: MIT */
/* A result on stdout: its body, or its JSON line; its error line on
   stderr. */
#include <stdio.h>
#include <stdlib.h>

#include "local.h"

int sink_write(const output *o, size_t index, const fetch_task *t,
               int file_error, const char *note)
{
    const fetch_response *r = fetch_task_response(t);
    char buf[4200];
    const char *error =
        output_failed(o, index, t, file_error, note, buf, sizeof buf);
    if (o->jsonl) {
        size_t len;
        char *line = output_record(o, index, t, error, NULL, &len);
        int rc = fwrite(line, 1, len, stdout) == len ? 0 : -1;
        free(line);
        return rc;
    }
    if (o->dir || error)
        return 0;
    return fwrite(r->body, 1, r->body_len, stdout) == r->body_len ? 0 : -1;
}
