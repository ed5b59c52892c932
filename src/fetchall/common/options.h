/* SPDX-License-Identifier: MIT */
/*
 * The command line: one table of every option (its names, argument, the
 * commands that take it, its help text and the values completion offers),
 * from which getopt_long's array, each command's --help and the check of
 * which command takes what are made; and what the options ask for, parsed.
 */
#ifndef FETCHALL_OPTIONS_H
#define FETCHALL_OPTIONS_H

#include <stddef.h>
#include <stdio.h>

#include "libfetch.h"
#include "record.h"

/* The commands, as bits: an option says which take it. */
enum {
    CMD_FETCH = 1,   /* fetchall URL... */
    CMD_ENQUEUE = 2, /* fetchall enqueue */
    CMD_WORKER = 4,  /* fetchall worker */
    CMD_RESULTS = 8  /* fetchall results */
};
#define CMD_CLUSTER (CMD_ENQUEUE | CMD_WORKER | CMD_RESULTS)
#define CMD_ALL (CMD_FETCH | CMD_CLUSTER)

/* Every option, by its place in the table. */
enum {
    OPT_INPUT = 256,
    OPT_SITEMAP,
    OPT_OUTPUT_DIR,
    OPT_CLOBBER,
    OPT_JSONL,
    OPT_AS_COMPLETED,
    OPT_NO_BUFFER,
    OPT_FAIL,
    OPT_FAIL_EARLY,
    OPT_INCLUDE_HEADERS,
    OPT_JOURNAL,
    OPT_JOURNAL_FSYNC,
    OPT_RETRY_FAILED,
    OPT_REVALIDATE,
    OPT_WARC,
    OPT_WARC_MAX_SIZE,
    OPT_QUIET,
    OPT_PROGRESS,
    OPT_CONCURRENCY,
    OPT_PER_HOST,
    OPT_TIMEOUT,
    OPT_CONNECT_TIMEOUT,
    OPT_DEADLINE,
    OPT_THREADS,
    OPT_RETRY,
    OPT_RETRY_DELAY,
    OPT_RETRY_MAX_TIME,
    OPT_RETRY_ALL_ERRORS,
    OPT_RETRY_ON,
    OPT_RATE,
    OPT_HOST_RATE,
    OPT_DELAY,
    OPT_RANDOM_DELAY,
    OPT_ROBOTS,
    OPT_REQUEST,
    OPT_DATA,
    OPT_DATA_BINARY,
    OPT_HEADER,
    OPT_USER_AGENT,
    OPT_MAX_REDIRS,
    OPT_MAX_FILESIZE,
    OPT_COOKIE,
    OPT_COOKIE_JAR,
    OPT_COMPRESSED,
    OPT_PROXY,
    OPT_CACERT,
    OPT_INSECURE,
    OPT_CERT,
    OPT_KEY,
    OPT_REDIS,
    OPT_REDIS_PASSWORD_FILE,
    OPT_QUEUE,
    OPT_CHUNK,
    OPT_MAX_QUEUED,
    OPT_NAME,
    OPT_CLAIM_IDLE,
    OPT_MAX_DELIVERIES,
    OPT_FOLLOW,
    OPT_MAX_RESULTS,
    OPT_FSYNC,
    OPT_HELP,
    OPT_VERSION,
    OPT_END
};

/* An option, or (id 0) a heading of --help. */
typedef struct opt_def {
    int id;            /* OPT_, or 0: a heading */
    char letter;       /* its short name, or 0 */
    const char *name;  /* its long name (a heading: NULL) */
    const char *arg;   /* what it takes ("N", "FILE"), or NULL: a flag */
    unsigned commands; /* CMD_ bits: the commands that take it */
    /* what completion offers for the argument: "FILE", "DIR", or the
       values themselves ("auto bar plain none"); NULL: nothing */
    const char *values;
    const char *help; /* --help's text (a heading's title); \n: a line more */
} opt_def;

/* The table, in --help's order, ending with an entry of id -1. */
extern const opt_def opt_table[];

/* The name a command is typed by ("" for fetchall itself). */
const char *command_name(int command);
/* The command named so (CMD_), or 0. */
int command_of(const char *name);
/* A command's usage and options, as --help prints them (80 columns). */
void options_help(int command, FILE *f);

/* --progress. */
enum { PROGRESS_AUTO, PROGRESS_NONE, PROGRESS_BAR, PROGRESS_PLAIN };

/* What fetching takes, from the command line (fetchall, and a worker). */
typedef struct config {
    fetch_options fo;
    fetch_request req; /* method, body: the same for every URL */
    output out;
    double deadline;      /* -T; 0 = none */
    int as_completed;     /* --as-completed */
    int no_buffer;        /* -N: the oldest body goes out as it arrives */
    int fail_early;       /* --fail-early: stop at the first failure */
    const char *journal;  /* --journal FILE, or NULL */
    int retry_failed;     /* --retry-failed: run the journal's failures again */
    double journal_fsync; /* --journal-fsync SECONDS; 0: every write */
    const char *revalidate; /* --revalidate OLD_JOURNAL, or NULL */
    const char *warc;       /* --warc FILE, or NULL */
    size_t warc_max_size;   /* --warc-max-size; 0: one file */
    int progress;           /* --progress: PROGRESS_ */
} config;

/* What the commands across machines take, as given. */
typedef struct cluster_args {
    const char *redis;         /* --redis URL */
    const char *password_file; /* --redis-password-file FILE */
    const char *queue;         /* --queue NAME; default "fetchall" */
    const char *name;          /* worker --name; default HOST:PID */
    int follow;                /* worker --follow: wait for more */
    double claim_idle;         /* worker --claim-idle SECONDS (default 30) */
    int max_deliveries;        /* worker --max-deliveries K (default 5) */
    int chunk;                 /* enqueue --chunk N (default 256) */
    size_t max_queued;         /* enqueue --max-queued N URLs (1,000,000) */
    size_t max_results;        /* worker --max-results N (1,000,000; 0: any) */
    double fsync;              /* results --fsync SECONDS (default 1) */
} cluster_args;

/* The command line, parsed. Strings point into argv; the arrays and
   owned buffers are freed by cmdline_free(). */
typedef struct cmdline {
    int command; /* CMD_ */
    config cfg;
    cluster_args cl;
    const char **inputs, **headers; /* -i FILE ..., -H and -b N=V */
    int n_inputs, n_headers;
    const char **sitemaps; /* --sitemap SOURCE ... */
    int n_sitemaps;
    const char *output_dir; /* -o DIR */
    int clobber;            /* --clobber */
    int threads;            /* --threads; 0: from the cores and -j */
    char **urls;            /* the arguments after the options */
    int n_urls;
    char *data;                               /* -d @FILE's bytes */
    int *statuses;                            /* --retry-on */
    char *cookie_header;                      /* -b NAME=VALUE */
    unsigned char given[OPT_END - OPT_INPUT]; /* on the command line */
    int version; /* --version: print it, and that is all */
    int argc;    /* as given, for the record a WARC keeps */
    char **argv;
} cmdline;

/* Parse argv (argv[0] the program, the command's name already taken off)
   for command. Returns -1 to go on, or an exit status: 0 (--help done,
   or --version: version set), 2 (a usage error, said on stderr). */
int cmdline_parse(cmdline *c, int command, int argc, char **argv);
void cmdline_free(cmdline *c);
/* "fetchall: what" and "Try 'fetchall [COMMAND] --help' ..." on stderr;
   %s in fmt take a and b, escaped. Returns 2. */
int usage_error(int command, const char *fmt, const char *a, const char *b);

#endif
