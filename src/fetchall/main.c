/* SPDX-License-Identifier: MIT */
/*
 * fetchall: fetch many URLs concurrently and write the results in request
 * order (local/), or share the work with other machines over a Redis queue
 * (cluster/: fetchall enqueue, worker, results). This picks the command;
 * common/ holds what both take: the options, messages, input, -o DIR, the
 * result record.
 */
#include <langinfo.h>
#include <locale.h>
#include <signal.h>
#include <stdio.h>
#include <string.h>

#include "common/completion.h"
#include "common/options.h"
#include "common/version.h"
#include "local/local.h"
#ifdef WITH_REDIS
#include "cluster/cluster.h"
#endif

/* fetchall help [COMMAND]: that command's usage and options. */
static int help(int argc, char **argv)
{
    int command = argc > 2 ? command_of(argv[2]) : CMD_FETCH;
    if (!command || argc > 3)
        return usage_error(CMD_FETCH,
                           "help takes a command: enqueue, worker or "
                           "results ('%s'%s)",
                           argv[argc > 3 ? 3 : 2], argc > 3 ? ": one" : "");
    options_help(command, stdout);
    return 0;
}

int main(int argc, char **argv)
{
    cmdline c;
    int command = CMD_FETCH, status;
    /* a closed stdout is an EPIPE to end on as a pipeline expects (see
       stdout_failed()), a closed socket a request's error */
    signal(SIGPIPE, SIG_IGN);
    /* Host names that are not ASCII (IDN) are converted by libcurl's
       libidn2 from the locale's encoding, as curl does: the user's, or
       UTF-8 (what web pages and URL lists use) when that is plain ASCII */
    if (!setlocale(LC_CTYPE, "") || strcmp(nl_langinfo(CODESET), "UTF-8"))
        setlocale(LC_CTYPE, "C.UTF-8");
    /* a host named so is still fetched: as http://worker and the like */
    if (argc > 1 && !strcmp(argv[1], "help"))
        return help(argc, argv);
    if (argc > 1 && (command = command_of(argv[1]))) {
        argc--;
        argv++;
    } else {
        command = CMD_FETCH;
    }
    if (argc > 1 && !strcmp(argv[1], "completion"))
        return completion(argc, argv);
    status = cmdline_parse(&c, command, argc, argv);
    if (status == 0 && c.version)
        version_print(stdout);
    if (status < 0 && command == CMD_FETCH)
        status = local_main(&c);
    else if (status < 0)
#ifdef WITH_REDIS
        status = cluster_main(&c);
#else
        status = usage_error(command,
                             "this fetchall was built without Redis: fetchall "
                             "%s needs it (./configure --with-redis)%s",
                             command_name(command), "");
#endif
    cmdline_free(&c);
    return status;
}
