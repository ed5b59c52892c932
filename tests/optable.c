/* SPDX-License-Identifier: MIT */
/* fetchall's option table as lines "LONG SHORT ARG COMMANDS VALUES" (- for
   none; COMMANDS: fetch,enqueue,worker,results), for the check that
   fetchall(1) documents the same options. */
#include <stdio.h>

#include "options.h"

int main(void)
{
    static const char *const names[] = {"fetch", "enqueue", "worker",
                                        "results"};
    for (const opt_def *o = opt_table; o->id >= 0; o++) {
        if (!o->id)
            continue;
        char letter[2] = {o->letter ? o->letter : '-', 0};
        printf("%s %s %s ", o->name, letter, o->arg ? "ARG" : "-");
        const char *sep = "";
        for (int i = 0; i < 4; i++)
            if (o->commands & (1u << i)) {
                printf("%s%s", sep, names[i]);
                sep = ",";
            }
        printf(" %s\n", o->values ? o->values : "-");
    }
    return 0;
}
