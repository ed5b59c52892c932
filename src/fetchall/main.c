/* SPDX-License-Identifier: MIT */
/*
 * fetchall: fetch many URLs concurrently and write the results in request
 * order, each as soon as it and everything before it are complete.
 */
#define _GNU_SOURCE /* asprintf */
#include <errno.h>
#include <getopt.h>
#include <langinfo.h>
#include <locale.h>
#include <math.h>
#include <signal.h>
#include <stdlib.h>
#include <string.h>
#include <sys/resource.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>

#include <openssl/evp.h>

#include "fetchall.h"

static const char usage_text[] =
    "Usage: fetchall [OPTIONS] URL...\n"
    "Fetch many HTTP(S) URLs concurrently; write the bodies to stdout in\n"
    "request order.\n"
    "\n"
    "Input and output:\n"
    "  -i, --input FILE          read URLs from FILE, one a line (- = stdin;\n"
    "                            repeatable: each in turn)\n"
    "  -o, --output-dir DIR      write body N to DIR/N instead of stdout\n"
    "      --clobber             -o: replace results of an earlier run\n"
    "      --jsonl               one JSON object per URL on stdout\n"
    "      --as-completed        write results in completion order\n"
    "  -N, --no-buffer           write the oldest body as it arrives\n"
    "      --fail                treat HTTP status >= 400 as a failure\n"
    "      --fail-early          stop at the first failed request\n"
    "      --include-headers     --jsonl: the response headers too\n"
    "      --journal FILE        record what finished in FILE; run again\n"
    "                            with it to resume after a crash or a kill\n"
    "      --journal-fsync SECONDS  sync FILE to disk this often (default 1;\n"
    "                            0: after every write)\n"
    "      --retry-failed        resuming: run the recorded failures again\n"
    "  -q, --quiet               no error lines on stderr\n"
    "      --progress MODE       auto (a bar when stderr is a terminal),\n"
    "                            bar, plain (a line every 10 s) or none\n"
    "Concurrency and time (SECONDS may be decimal):\n"
    "  -j, --concurrency N       requests in flight at once (default 100)\n"
    "      --per-host N          requests in flight per host (default: any)\n"
    "  -t, --timeout SECONDS     per request, from its start (default 30)\n"
    "      --connect-timeout SECONDS  (default 10)\n"
    "  -T, --deadline SECONDS    end everything still running after SECONDS\n"
    "      --threads N           event loops (default: one per core)\n"
    "Retries (a failure that may pass: see fetchall(1)):\n"
    "      --retry N             attempts after the first (default 2)\n"
    "      --retry-delay SECONDS back-off base: retry k waits up to\n"
    "                            SECONDS * 2^(k-1), at random (default 1)\n"
    "      --retry-max-time SECONDS  no retry starts later than this after\n"
    "                            its request was read\n"
    "      --retry-all-errors    retry every failure, any method\n"
    "      --retry-on CODES      HTTP statuses to retry (default\n"
    "                            408,429,500,502,503,504)\n"
    "Politeness:\n"
    "      --rate N[/s|/m|/h]    most requests started, in all (default /s)\n"
    "      --host-rate N[/s|/m|/h]  most requests started to each host\n"
    "      --delay SECONDS       between two starts to the same host\n"
    "      --random-delay        each --delay times 0.5 to 1.5\n"
    "Requests:\n"
    "  -X, --request METHOD      GET, HEAD, POST, PUT, PATCH, DELETE ...\n"
    "  -d, --data DATA           request body (@FILE: from FILE, CR LF out)\n"
    "      --data-binary DATA    request body exactly as given (@FILE too)\n"
    "  -H, --header 'Name: value'  extra request header (repeatable)\n"
    "  -A, --user-agent STRING   User-Agent (default libfetch/VERSION)\n"
    "      --max-redirs N        most redirects followed (default 10)\n"
    "      --max-filesize SIZE   fail a response with a larger body\n"
    "                            (bytes, or with K, M or G: KiB, MiB, GiB)\n"
    "  -b, --cookie FILE|'N=V'   cookies to send: a cookie file, or a string\n"
    "  -c, --cookie-jar FILE     write the cookies to FILE at the end\n"
    "      --compressed          accepted; decompression is always on\n"
    "  -x, --proxy URL           proxy (default: $http_proxy, $https_proxy)\n"
    "      --cacert FILE         CA certificates to verify servers with\n"
    "  -k, --insecure            do not verify TLS certificates\n"
    "  -E, --cert FILE           TLS client certificate (PEM)\n"
    "      --key FILE            its private key (PEM)\n"
    "\n"
    "Across machines, on a Redis stream (see fetchall(1), ACROSS MACHINES):\n"
    "  fetchall enqueue --redis URL [--queue NAME] [-i FILE] [URL...]\n"
    "  fetchall worker --redis URL [--queue NAME] [fetch options]\n"
    "  fetchall results --redis URL [--queue NAME] [--as-completed]\n"
    "      --redis URL           redis://HOST[:PORT][/DB] or unix:///PATH\n"
    "      --queue NAME          the queue (default fetchall)\n"
    "      --chunk N             enqueue: URLs an entry (default 256)\n"
    "      --max-queued N        enqueue: wait while more URLs than N are\n"
    "                            not done (default 1000000)\n"
    "      --name NAME           worker: its name (default HOST:PID)\n"
    "      --claim-idle SECONDS  worker: take over chunks another worker\n"
    "                            has not shown life for (default 30)\n"
    "      --max-deliveries K    worker: a chunk taken over more often is\n"
    "                            a dead letter (default 5)\n"
    "      --follow              worker: wait for more work at the end\n"
    "\n"
    "  -h, --help                this text\n"
    "  -V, --version             print the version\n"
    "\n"
    "Exit status: 0 all succeeded, 1 some request failed, 2 usage error.\n";

enum {
    OPT_PER_HOST = 256,
    OPT_CONNECT_TIMEOUT,
    OPT_MAX_REDIRS,
    OPT_MAX_FILESIZE,
    OPT_JSONL,
    OPT_AS_COMPLETED,
    OPT_FAIL,
    OPT_CACERT,
    OPT_COMPRESSED,
    OPT_THREADS,
    OPT_DATA_BINARY,
    OPT_CLOBBER,
    OPT_RETRY,
    OPT_RETRY_DELAY,
    OPT_RETRY_MAX_TIME,
    OPT_RETRY_ALL_ERRORS,
    OPT_RETRY_ON,
    OPT_RATE,
    OPT_HOST_RATE,
    OPT_DELAY,
    OPT_RANDOM_DELAY,
    OPT_FAIL_EARLY,
    OPT_INCLUDE_HEADERS,
    OPT_KEY,
    OPT_JOURNAL,
    OPT_JOURNAL_FSYNC,
    OPT_RETRY_FAILED,
    OPT_PROGRESS,
    OPT_REDIS,
    OPT_QUEUE,
    OPT_CHUNK,
    OPT_MAX_QUEUED,
    OPT_NAME,
    OPT_CLAIM_IDLE,
    OPT_MAX_DELIVERIES,
    OPT_FOLLOW,
    OPT_END
};

static const struct option long_options[] = {
    {"input", required_argument, NULL, 'i'},
    {"concurrency", required_argument, NULL, 'j'},
    {"per-host", required_argument, NULL, OPT_PER_HOST},
    {"timeout", required_argument, NULL, 't'},
    {"connect-timeout", required_argument, NULL, OPT_CONNECT_TIMEOUT},
    {"deadline", required_argument, NULL, 'T'},
    {"user-agent", required_argument, NULL, 'A'},
    {"header", required_argument, NULL, 'H'},
    {"max-redirs", required_argument, NULL, OPT_MAX_REDIRS},
    {"output-dir", required_argument, NULL, 'o'},
    {"max-filesize", required_argument, NULL, OPT_MAX_FILESIZE},
    {"request", required_argument, NULL, 'X'},
    {"method", required_argument, NULL, 'X'},
    {"data", required_argument, NULL, 'd'},
    {"data-binary", required_argument, NULL, OPT_DATA_BINARY},
    {"clobber", no_argument, NULL, OPT_CLOBBER},
    {"cacert", required_argument, NULL, OPT_CACERT},
    {"insecure", no_argument, NULL, 'k'},
    {"proxy", required_argument, NULL, 'x'},
    {"compressed", no_argument, NULL, OPT_COMPRESSED},
    {"jsonl", no_argument, NULL, OPT_JSONL},
    {"as-completed", no_argument, NULL, OPT_AS_COMPLETED},
    {"no-buffer", no_argument, NULL, 'N'},
    {"threads", required_argument, NULL, OPT_THREADS},
    {"fail", no_argument, NULL, OPT_FAIL},
    {"fail-early", no_argument, NULL, OPT_FAIL_EARLY},
    {"include-headers", no_argument, NULL, OPT_INCLUDE_HEADERS},
    {"cookie", required_argument, NULL, 'b'},
    {"cookie-jar", required_argument, NULL, 'c'},
    {"cert", required_argument, NULL, 'E'},
    {"key", required_argument, NULL, OPT_KEY},
    {"journal", required_argument, NULL, OPT_JOURNAL},
    {"journal-fsync", required_argument, NULL, OPT_JOURNAL_FSYNC},
    {"retry-failed", no_argument, NULL, OPT_RETRY_FAILED},
    {"progress", required_argument, NULL, OPT_PROGRESS},
    {"retry", required_argument, NULL, OPT_RETRY},
    {"retry-delay", required_argument, NULL, OPT_RETRY_DELAY},
    {"retry-max-time", required_argument, NULL, OPT_RETRY_MAX_TIME},
    {"retry-all-errors", no_argument, NULL, OPT_RETRY_ALL_ERRORS},
    {"retry-on", required_argument, NULL, OPT_RETRY_ON},
    {"rate", required_argument, NULL, OPT_RATE},
    {"host-rate", required_argument, NULL, OPT_HOST_RATE},
    {"delay", required_argument, NULL, OPT_DELAY},
    {"random-delay", no_argument, NULL, OPT_RANDOM_DELAY},
    {"redis", required_argument, NULL, OPT_REDIS},
    {"queue", required_argument, NULL, OPT_QUEUE},
    {"chunk", required_argument, NULL, OPT_CHUNK},
    {"max-queued", required_argument, NULL, OPT_MAX_QUEUED},
    {"name", required_argument, NULL, OPT_NAME},
    {"claim-idle", required_argument, NULL, OPT_CLAIM_IDLE},
    {"max-deliveries", required_argument, NULL, OPT_MAX_DELIVERIES},
    {"follow", no_argument, NULL, OPT_FOLLOW},
    {"quiet", no_argument, NULL, 'q'},
    {"help", no_argument, NULL, 'h'},
    {"version", no_argument, NULL, 'V'},
    {NULL, 0, NULL, 0},
};

/* s made safe to show (an argument may come from a web page too). */
static char *shown(const char *s)
{
    size_t n = fetch_text_escape(NULL, 0, s, strlen(s), FETCH_TEXT_TERMINAL);
    char *e = malloc(n + 1);
    if (e)
        fetch_text_escape(e, n + 1, s, strlen(s), FETCH_TEXT_TERMINAL);
    return e;
}

static int usage_error(const char *fmt, const char *a, const char *b)
{
    char *sa = a ? shown(a) : NULL, *sb = b ? shown(b) : NULL;
    fprintf(stderr, "fetchall: ");
    fprintf(stderr, fmt, sa ? sa : "", sb ? sb : "");
    fprintf(stderr, "\nTry 'fetchall --help' for more information.\n");
    free(sa);
    free(sb);
    return 2;
}

/* The name a user typed an option by, for messages: --long. */
static const char *option_name(int c);

static int parse_int(const char *s, int min, int *out)
{
    char *end;
    errno = 0;
    long v = strtol(s, &end, 10);
    if (errno || end == s || *end || v < min || v > 1000000)
        return -1;
    *out = (int)v;
    return 0;
}

/* BYTES, or with a suffix K, M or G (KiB, MiB, GiB, as curl takes it). */
static int parse_size(const char *s, size_t *out)
{
    char *end;
    errno = 0;
    unsigned long long v = strtoull(s, &end, 10), unit = 1;
    if (errno || end == s || s[0] == '-' || v == 0)
        return -1;
    if (*end) {
        const char *units = "KMG", *u = strchr(units, *end & ~0x20);
        if (!u || !*u || end[1])
            return -1;
        unit = 1ULL << (10 * (u - units + 1));
        if (v > ~0ULL / unit)
            return -1;
    }
    *out = (size_t)(v * unit);
    return 0;
}

static int parse_seconds(const char *s, double *out)
{
    char *end;
    errno = 0;
    double v = strtod(s, &end);
    if (errno || end == s || *end || !isfinite(v) || v < 0 || v > 1e9)
        return -1;
    *out = v;
    return 0;
}

/* N[/s|/m|/h]: requests a second (wget's and Scrapy's rates are per
   second, minute or hour too). */
static int parse_rate(const char *s, double *out)
{
    char *end;
    errno = 0;
    double v = strtod(s, &end), per = 1;
    if (errno || end == s || !isfinite(v) || v <= 0)
        return -1;
    if (*end == '/') {
        const char *u = end + 1;
        per = !strcmp(u, "s")   ? 1
              : !strcmp(u, "m") ? 60
              : !strcmp(u, "h") ? 3600
                                : 0;
        if (!per)
            return -1;
    } else if (*end) {
        return -1;
    }
    *out = v / per;
    return 0;
}

/* "429,503": statuses 100-599, into the array *list of *n. */
static int parse_statuses(const char *s, int **list, size_t *n)
{
    *n = 0;
    for (const char *p = s;;) {
        char *end;
        errno = 0;
        long v = strtol(p, &end, 10);
        if (errno || end == p || v < 100 || v > 599 || (*end && *end != ','))
            return -1;
        int *l = realloc(*list, (*n + 1) * sizeof *l);
        if (!l)
            return -1;
        l[(*n)++] = (int)v;
        *list = l;
        if (!*end)
            return 0;
        p = end + 1;
    }
}

/* Every request in flight holds a socket, and while its host name is
   looked up the resolver's two; with -o a file too. Raise the soft
   open-file limit to the hard one, and keep -j within it (with room for
   the rest). */
static void limit_concurrency(fetch_options *fo, int files)
{
    struct rlimit rl;
    const rlim_t spare = 64, each = 3 + (rlim_t)files;
    if (getrlimit(RLIMIT_NOFILE, &rl) != 0)
        return;
    if (rl.rlim_cur < rl.rlim_max) {
        rl.rlim_cur = rl.rlim_max;
        setrlimit(RLIMIT_NOFILE, &rl);
        getrlimit(RLIMIT_NOFILE, &rl);
    }
    if (rl.rlim_cur == RLIM_INFINITY ||
        (rlim_t)fo->max_concurrency * each + spare <= rl.rlim_cur)
        return;
    int most =
        rl.rlim_cur > spare + each ? (int)((rl.rlim_cur - spare) / each) : 1;
    fprintf(stderr,
            "fetchall: -j %d needs more open files than the limit of %lu "
            "(%lu a request%s); using -j %d\n",
            fo->max_concurrency, (unsigned long)rl.rlim_cur,
            (unsigned long)each, files ? ", with -o" : "", most);
    fo->max_concurrency = most;
}

/* -d DATA, -d @FILE (CR and LF taken out, as curl does), --data-binary
   DATA or @FILE (as they are): the request body, read once. A CR or LF in
   a -d given on the command line is refused: curl would send it, a form
   would not; --data-binary says it is meant. */
static int load_data(config *cfg, const char *arg, int binary, char **owned)
{
    if (arg[0] != '@') {
        if (!binary && strpbrk(arg, "\r\n")) {
            errno = EINVAL;
            return -1;
        }
        cfg->req.body = arg;
        cfg->req.body_len = strlen(arg);
        return 0;
    }
    FILE *f = strcmp(arg + 1, "-") ? fopen(arg + 1, "rb") : stdin;
    size_t cap = 0, len = 0;
    if (!f)
        return -1;
    free(*owned);
    *owned = NULL;
    for (;;) {
        if (len == cap && !(*owned = realloc(*owned, cap = cap * 2 + 4096)))
            return -1;
        size_t n = fread(*owned + len, 1, cap - len, f);
        if (n == 0)
            break;
        len += n;
    }
    int err = ferror(f);
    if (f != stdin)
        fclose(f);
    if (!binary) {
        size_t kept = 0;
        for (size_t i = 0; i < len; i++)
            if ((*owned)[i] != '\r' && (*owned)[i] != '\n')
                (*owned)[kept++] = (*owned)[i];
        len = kept;
    }
    cfg->req.body = *owned;
    cfg->req.body_len = len;
    return err ? -1 : 0;
}

/* Length of the HTTP token (a method, a header name) s starts with. */
static size_t token_len(const char *s)
{
    return strspn(s, "!#$%&'*+-.^_`|~0123456789abcdefghijklmnopqrstuvwxyz"
                     "ABCDEFGHIJKLMNOPQRSTUVWXYZ");
}

/* "Name: value" with a token for a name, on one line. */
static int header_ok(const char *h)
{
    size_t name = token_len(h);
    return name && (h[name] == ':' || h[name] == ';') && !strpbrk(h, "\r\n");
}

/* 2>&1: stderr is the same file as stdout. */
static int same_file(int a, int b)
{
    struct stat sa, sb;
    return fstat(a, &sa) == 0 && fstat(b, &sb) == 0 && sa.st_dev == sb.st_dev &&
           sa.st_ino == sb.st_ino;
}

/* What the command line asks for. The arrays point into argv; main frees
   them, whatever the way out. */
typedef struct args {
    config cfg;
    const char **inputs, **headers;
    int n_inputs, n_headers;
    const char *output_dir;
    int clobber;
    int threads;         /* --threads; 0: from the cores and -j */
    char *data;          /* -d @FILE's bytes */
    int *statuses;       /* --retry-on */
    char *cookie_header; /* -b NAME=VALUE */
    const char *journal_path;
    const char *progress;         /* --progress MODE, or NULL: auto */
    int command;                  /* COMMAND_ */
    cluster cl;                   /* enqueue, worker, results */
    unsigned char given[OPT_END]; /* the options on the command line */
} args;

/* fetchall, or one of the commands across machines (fetchall enqueue ...);
   a host named so is still fetched as http://worker and the like. */
enum { COMMAND_FETCH, COMMAND_ENQUEUE, COMMAND_WORKER, COMMAND_RESULTS };
static const char *const command_names[] = {"", "enqueue", "worker", "results"};

/* The options each command takes (0-terminated); fetchall itself takes
   every option but the cluster ones. */
static const int enqueue_takes[] = {
    'i', 'q', OPT_REDIS, OPT_QUEUE, OPT_CHUNK, OPT_MAX_QUEUED, 0};
static const int results_takes[] = {
    'q', 'T', OPT_REDIS, OPT_QUEUE, OPT_AS_COMPLETED, 0};
static const int worker_refuses[] = {'i',
                                     'N',
                                     'T',
                                     OPT_AS_COMPLETED,
                                     OPT_JSONL,
                                     OPT_FAIL_EARLY,
                                     OPT_JOURNAL,
                                     OPT_JOURNAL_FSYNC,
                                     OPT_RETRY_FAILED,
                                     OPT_PROGRESS,
                                     OPT_CHUNK,
                                     OPT_MAX_QUEUED,
                                     0};
static const int cluster_only[] = {
    OPT_REDIS,          OPT_QUEUE,  OPT_CHUNK,
    OPT_MAX_QUEUED,     OPT_NAME,   OPT_CLAIM_IDLE,
    OPT_MAX_DELIVERIES, OPT_FOLLOW, 0};
static int listed(const int *list, int c)
{
    while (*list && *list != c)
        list++;
    return *list != 0;
}

/* Does the command take option c? */
static int takes(int command, int c)
{
    switch (command) {
    case COMMAND_ENQUEUE:
        return listed(enqueue_takes, c);
    case COMMAND_RESULTS:
        return listed(results_takes, c);
    case COMMAND_WORKER:
        return !listed(worker_refuses, c);
    default:
        return !listed(cluster_only, c);
    }
}

/* Append s to the array *list of *n. */
static int append(const char ***list, int *n, const char *s)
{
    const char **l = realloc(*list, (size_t)(*n + 1) * sizeof *l);
    if (!l)
        return -1;
    l[(*n)++] = s;
    *list = l;
    return 0;
}

/* Read the options into a. Returns -1 to go on, or an exit status. */
static int parse(args *a, int argc, char **argv)
{
    config *cfg = &a->cfg;
    int c;
    fetch_options_init(&cfg->fo);
    fetch_request_init(&cfg->req);
    cfg->fo.timeout = 30;
    cfg->fo.keep_headers = 0; /* the command never reads them */
    cfg->fo.retries = 2;
    cfg->journal_fsync = 1;
    while ((c = getopt_long(argc, argv, "i:j:t:T:A:H:o:X:d:x:b:c:E:kqhVN",
                            long_options, NULL)) != -1) {
        int bad = 0;
        if (c > 0 && c < OPT_END)
            a->given[c] = 1;
        switch (c) {
        case 'i':
            if (append(&a->inputs, &a->n_inputs, optarg) != 0)
                return 1;
            break;
        case 'j':
            bad = parse_int(optarg, 1, &cfg->fo.max_concurrency);
            break;
        case OPT_PER_HOST:
            bad = parse_int(optarg, 1, &cfg->fo.max_per_host);
            break;
        case 't':
            bad = parse_seconds(optarg, &cfg->fo.timeout);
            break;
        case OPT_CONNECT_TIMEOUT:
            bad = parse_seconds(optarg, &cfg->fo.connect_timeout);
            break;
        case 'T':
            bad = parse_seconds(optarg, &cfg->deadline);
            break;
        case 'A':
            if (strpbrk(optarg, "\r\n"))
                return usage_error("--user-agent: a CR or LF in '%s' would "
                                   "inject a header",
                                   optarg, NULL);
            cfg->fo.user_agent = optarg;
            break;
        case 'H':
            if (!header_ok(optarg))
                return usage_error("--header: invalid header '%s' (want "
                                   "'Name: value' on one line)",
                                   optarg, NULL);
            if (append(&a->headers, &a->n_headers, optarg) != 0)
                return 1;
            break;
        case OPT_MAX_REDIRS:
            bad = parse_int(optarg, 0, &cfg->fo.max_redirects);
            break;
        case OPT_MAX_FILESIZE:
            bad = parse_size(optarg, &cfg->fo.max_body_size);
            break;
        case 'X':
            if (!token_len(optarg) || optarg[token_len(optarg)])
                return usage_error("--request: invalid method '%s' (want a "
                                   "token such as GET or POST)",
                                   optarg, NULL);
            cfg->req.method = optarg;
            break;
        case 'd':
        case OPT_DATA_BINARY:
            if (load_data(cfg, optarg, c == OPT_DATA_BINARY, &a->data) == 0)
                break;
            if (optarg[0] != '@')
                return usage_error("--data: a CR or LF in '%s'; use "
                                   "--data-binary to send it as it is",
                                   optarg, NULL);
            fprintf(stderr, "fetchall: %s: %s\n", optarg + 1, strerror(errno));
            return 2;
        case OPT_CACERT:
            cfg->fo.ca_file = optarg;
            break;
        case 'k':
            cfg->fo.insecure = 1;
            break;
        case 'x':
            cfg->fo.proxy = optarg;
            break;
        case OPT_COMPRESSED: /* always on; accepted as curl users type it */
            break;
        case 'o':
            a->output_dir = optarg;
            break;
        case OPT_CLOBBER:
            a->clobber = 1;
            break;
        case OPT_JSONL:
            cfg->out.jsonl = 1;
            break;
        case OPT_AS_COMPLETED:
            cfg->as_completed = 1;
            break;
        case 'N':
            cfg->no_buffer = 1;
            break;
        case OPT_THREADS: {
            int n;
            bad = parse_int(optarg, 1, &n);
            a->threads = n;
            break;
        }
        case OPT_FAIL:
            cfg->fo.fail_on_http_error = 1;
            break;
        case OPT_FAIL_EARLY:
            cfg->fail_early = 1;
            break;
        case OPT_INCLUDE_HEADERS:
            cfg->out.headers = 1;
            cfg->fo.keep_headers = 1;
            break;
        case 'b': /* NAME=VALUE[; ...] is sent as it is, else a file */
            if (strchr(optarg, '=')) {
                if (strpbrk(optarg, "\r\n"))
                    return usage_error("--cookie: a CR or LF in '%s' would "
                                       "inject a header",
                                       optarg, NULL);
                if (asprintf(&a->cookie_header, "Cookie: %s", optarg) < 0 ||
                    append(&a->headers, &a->n_headers, a->cookie_header) != 0)
                    return 1;
            } else if (access(optarg, R_OK) != 0) {
                char *f = shown(optarg);
                fprintf(stderr, "fetchall: --cookie %s: %s\n", f ? f : "",
                        strerror(errno));
                free(f);
                return 2;
            } else {
                cfg->fo.cookie_file = optarg;
            }
            break;
        case 'c':
            cfg->fo.cookie_jar = optarg;
            break;
        case 'E':
            cfg->fo.client_cert = optarg;
            break;
        case OPT_KEY:
            cfg->fo.client_key = optarg;
            break;
        case OPT_JOURNAL:
            a->journal_path = optarg;
            break;
        case OPT_JOURNAL_FSYNC:
            bad = parse_seconds(optarg, &cfg->journal_fsync);
            break;
        case OPT_RETRY_FAILED:
            cfg->retry_failed = 1;
            break;
        case OPT_PROGRESS:
            a->progress = optarg;
            bad = progress_mode(optarg, 0) < 0;
            break;
        case OPT_RETRY:
            bad = parse_int(optarg, 0, &cfg->fo.retries);
            break;
        case OPT_RETRY_DELAY:
            bad = parse_seconds(optarg, &cfg->fo.retry_backoff);
            break;
        case OPT_RETRY_MAX_TIME:
            bad = parse_seconds(optarg, &cfg->fo.retry_max_time);
            break;
        case OPT_RETRY_ALL_ERRORS:
            cfg->fo.retry_all_errors = 1;
            break;
        case OPT_RETRY_ON:
            bad =
                parse_statuses(optarg, &a->statuses, &cfg->fo.n_retry_statuses);
            cfg->fo.retry_statuses = a->statuses;
            break;
        case OPT_RATE:
            bad = parse_rate(optarg, &cfg->fo.rate);
            break;
        case OPT_HOST_RATE:
            bad = parse_rate(optarg, &cfg->fo.host_rate);
            break;
        case OPT_DELAY:
            bad = parse_seconds(optarg, &cfg->fo.host_delay);
            break;
        case OPT_RANDOM_DELAY:
            cfg->fo.random_delay = 1;
            break;
        case OPT_REDIS:
            a->cl.redis_arg = optarg;
            break;
        case OPT_QUEUE:
            a->cl.queue = optarg;
            bad = !*optarg || strlen(optarg) > 200 ||
                  strpbrk(optarg, "{}\r\n") != NULL;
            break;
        case OPT_CHUNK:
            bad = parse_int(optarg, 1, &a->cl.chunk);
            break;
        case OPT_MAX_QUEUED:
            bad = parse_size(optarg, &a->cl.max_queued);
            break;
        case OPT_NAME:
            a->cl.name = optarg;
            bad = !*optarg || strlen(optarg) > 200;
            break;
        case OPT_CLAIM_IDLE:
            bad = parse_seconds(optarg, &a->cl.claim_idle) ||
                  a->cl.claim_idle < 0.1;
            break;
        case OPT_MAX_DELIVERIES:
            bad = parse_int(optarg, 1, &a->cl.max_deliveries);
            break;
        case OPT_FOLLOW:
            a->cl.follow = 1;
            break;
        case 'q':
            cfg->out.quiet = 1;
            break;
        case 'h':
            fputs(usage_text, stdout);
            return 0;
        case 'V':
            printf("fetchall %s (libfetch %s)\n", LIBFETCH_VERSION_STRING,
                   fetch_version());
            return 0;
        default: /* getopt_long printed the reason */
            fprintf(stderr, "Try 'fetchall --help' for more information.\n");
            return 2;
        }
        if (bad)
            return usage_error("invalid value '%s' for --%s", optarg,
                               option_name(c));
    }
    for (int o = 1; o < OPT_END; o++)
        if (a->given[o] && !takes(a->command, o))
            return usage_error(
                a->command ? "--%s does not go with fetchall %s"
                           : "--%s goes with fetchall enqueue, worker or "
                             "results%s",
                option_name(o), command_names[a->command]);
    if (a->command && !a->cl.redis_arg)
        return usage_error("fetchall %s needs --redis URL%s",
                           command_names[a->command], "");
    if (a->command == COMMAND_WORKER)
        cfg->out.jsonl = 1; /* its records are JSON lines */
    if (cfg->req.body && !cfg->req.method)
        cfg->req.method = "POST"; /* as curl -d */
    cfg->fo.headers = a->headers;
    cfg->fo.n_headers = (size_t)a->n_headers;
    if (a->clobber && !a->output_dir)
        return usage_error("--clobber goes with -o DIR", NULL, NULL);
    cfg->progress = progress_mode(a->progress, cfg->out.quiet);
    if (cfg->retry_failed && !a->journal_path)
        return usage_error("--retry-failed goes with --journal FILE", NULL,
                           NULL);
    if (cfg->out.headers && !cfg->out.jsonl)
        return usage_error("--include-headers goes with --jsonl", NULL, NULL);
    if (cfg->fo.random_delay && !cfg->fo.host_delay)
        return usage_error("--random-delay goes with --delay SECONDS", NULL,
                           NULL);
    /* no URL arguments and no -i: read a pipe on stdin, as filters do */
    if ((!a->command || a->command == COMMAND_ENQUEUE) && optind == argc &&
        !a->n_inputs && isatty(STDIN_FILENO))
        return usage_error("no URLs given", NULL, NULL);
    return -1;
}

static void field(EVP_MD_CTX *ctx, const char *s)
{
    if (!s)
        s = "-";
    EVP_DigestUpdate(ctx, s, strlen(s) + 1);
}

/* What would make a resumed run's results differ from the first run's:
   a fingerprint of those options, for the journal's header. */
static void fingerprint(const args *a, char *hex, size_t len)
{
    const config *cfg = &a->cfg;
    unsigned char md[EVP_MAX_MD_SIZE];
    unsigned int mdlen = 0;
    EVP_MD_CTX *ctx = EVP_MD_CTX_new();
    char num[128];
    if (!ctx || !EVP_DigestInit_ex(ctx, EVP_sha256(), NULL))
        fatal("out of memory");
    field(ctx, cfg->req.method);
    EVP_DigestUpdate(ctx, cfg->req.body ? cfg->req.body : "",
                     cfg->req.body_len);
    for (int i = 0; i < a->n_headers; i++)
        field(ctx, a->headers[i]);
    field(ctx, cfg->fo.user_agent);
    field(ctx, a->output_dir);
    snprintf(num, sizeof num, "%d %d %d %zu %d", cfg->fo.fail_on_http_error,
             cfg->out.jsonl, cfg->out.headers, cfg->fo.max_body_size,
             cfg->fo.max_redirects);
    field(ctx, num);
    EVP_DigestFinal_ex(ctx, md, &mdlen);
    EVP_MD_CTX_free(ctx);
    for (unsigned i = 0; i < 8 && 2 * i + 2 < len; i++)
        snprintf(hex + 2 * i, 3, "%02x", md[i]);
}

/* How many event loops: one per core (two per core from -j 1000 on:
   opening thousands of connections at once overlaps better, measured on
   W2 in bench/run), at most 16, no more than URLs given. */
static int default_threads(const fetch_options *fo, int n_inputs, int n_urls)
{
    long cores = sysconf(_SC_NPROCESSORS_ONLN);
    int threads = cores > 1 ? (int)cores : 1;
    if (fo->max_concurrency >= 1000)
        threads *= 2;
    if (threads > 16)
        threads = 16;
    if (!n_inputs && n_urls && threads > n_urls)
        threads = n_urls;
    return threads;
}

/* Open the input and -o DIR, size the run, run it. */
static int fetch_all(args *a, char **urls, int n_urls)
{
    static const char *const stdin_only[] = {"-"};
    config *cfg = &a->cfg;
    outdir dir;
    input in;
    int status;
    if (input_open(&in, urls, n_urls,
                   a->n_inputs ? a->inputs
                   : n_urls    ? NULL
                               : stdin_only,
                   a->n_inputs ? a->n_inputs : !n_urls) != 0) {
        input_close(&in);
        return 2;
    }
    static journal jr;
    int resuming = 0;
    cfg->total = (size_t)-1;
    if (cfg->progress != PROGRESS_NONE || a->journal_path)
        cfg->total = input_count(urls, n_urls,
                                 a->n_inputs ? a->inputs
                                 : n_urls    ? NULL
                                             : stdin_only,
                                 a->n_inputs ? a->n_inputs : !n_urls);
    if (a->journal_path) {
        char why[512], fp[17] = "";
        fingerprint(a, fp, sizeof fp);
        if (journal_open(&jr, a->journal_path, fp, why, sizeof why) != 0) {
            char *p = shown(a->journal_path);
            fprintf(stderr, "fetchall: --journal %s: %s\n", p ? p : "", why);
            free(p);
            journal_close(&jr);
            input_close(&in);
            return 2;
        }
        cfg->journal = &jr;
        /* an earlier run of this command: DIR holds its results, also
           one renamed into place just before a kill could record it */
        resuming = jr.earlier;
        if (resuming && !cfg->out.quiet) {
            char of[64] = "";
            if (cfg->total != (size_t)-1)
                snprintf(of, sizeof of, " of %zu", cfg->total);
            fprintf(stderr,
                    "fetchall: resuming: %zu%s done (%zu of them failed%s)%s\n",
                    jr.recorded, of, jr.failed,
                    jr.failed && !cfg->retry_failed
                        ? "; --retry-failed runs them again"
                        : "",
                    jr.torn ? "; a torn last line was dropped" : "");
        }
    }
    if (a->output_dir) {
        char why[512];
        /* resuming, DIR holds this run's own results */
        if (outdir_open(&dir, a->output_dir, a->clobber || resuming, why,
                        sizeof why)) {
            char *d = shown(a->output_dir);
            fprintf(stderr, "fetchall: -o %s: %s\n", d ? d : "", why);
            free(d);
            input_close(&in);
            if (cfg->journal)
                journal_close(cfg->journal);
            return 2;
        }
        cfg->out.dir = &dir;
    }
    cfg->out.err_is_out = same_file(STDOUT_FILENO, STDERR_FILENO);
    limit_concurrency(&cfg->fo, a->output_dir != NULL);
    if (!a->threads)
        a->threads = default_threads(&cfg->fo, a->n_inputs, n_urls);
    /* bodies go out in big writes, not 4 KiB ones */
    static char stdout_buf[1 << 16];
    setvbuf(stdout, stdout_buf, _IOFBF, sizeof stdout_buf);
    status = run(cfg, &in, a->threads);
    if (status == 2 && !in.failed)
        status = usage_error("no URLs given", NULL, NULL);
    input_close(&in);
    if (cfg->out.dir)
        outdir_close(cfg->out.dir);
    if (cfg->journal)
        journal_close(cfg->journal);
    return status;
}

/* fetchall enqueue, worker, results. */
static int across(args *a, char **urls, int n_urls)
{
    static const char *const stdin_only[] = {"-"};
    config *cfg = &a->cfg;
    cluster *cl = &a->cl;
    char why[256];
    int status;
    if (redis_parse(&cl->redis, cl->redis_arg, why, sizeof why) != 0)
        return usage_error("invalid value '%s' for --redis: %s", cl->redis_arg,
                           why);
    if (!cl->queue)
        cl->queue = "fetchall";
    if (a->command != COMMAND_ENQUEUE && n_urls)
        return usage_error("fetchall %s takes no URLs ('%s')",
                           command_names[a->command], urls[0]);
    if (a->command == COMMAND_RESULTS)
        return results_run(cl, cfg);
    if (a->command == COMMAND_ENQUEUE) {
        input in;
        if (input_open(&in, urls, n_urls,
                       a->n_inputs ? a->inputs
                       : n_urls    ? NULL
                                   : stdin_only,
                       a->n_inputs ? a->n_inputs : !n_urls) != 0) {
            input_close(&in);
            return 2;
        }
        status = enqueue_run(cl, &in, cfg->out.quiet);
        input_close(&in);
        return status;
    }
    outdir dir;
    if (a->output_dir) {
        /* results by input position: a chunk fetched again replaces its
           own files, and workers on one machine may share DIR */
        if (outdir_open(&dir, a->output_dir, 1, why, sizeof why)) {
            char *d = shown(a->output_dir);
            fprintf(stderr, "fetchall: -o %s: %s\n", d ? d : "", why);
            free(d);
            return 2;
        }
        cfg->out.dir = &dir;
    }
    limit_concurrency(&cfg->fo, a->output_dir != NULL);
    if (!a->threads)
        a->threads = default_threads(&cfg->fo, 1, 0);
    status = worker_run(cl, cfg, a->threads);
    if (cfg->out.dir)
        outdir_close(cfg->out.dir);
    return status;
}

int main(int argc, char **argv)
{
    args a = {0};
    /* a closed stdout is an EPIPE to end on as a pipeline expects (see
       stdout_failed()), a closed socket a request's error */
    signal(SIGPIPE, SIG_IGN);
    /* Host names that are not ASCII (IDN) are converted by libcurl's
       libidn2 from the locale's encoding, as curl does: the user's, or
       UTF-8 (what web pages and URL lists use) when that is plain ASCII */
    if (!setlocale(LC_CTYPE, "") || strcmp(nl_langinfo(CODESET), "UTF-8"))
        setlocale(LC_CTYPE, "C.UTF-8");
    for (int i = 1; argc > 1 && i < 4; i++)
        if (!strcmp(argv[1], command_names[i])) {
            a.command = i;
            argc--;
            argv++;
            break;
        }
    a.cl.claim_idle = 30;
    a.cl.max_deliveries = 5;
    a.cl.chunk = 256;
    a.cl.max_queued = 1000000;
    int status = parse(&a, argc, argv);
    if (status < 0)
        status = a.command ? across(&a, argv + optind, argc - optind)
                           : fetch_all(&a, argv + optind, argc - optind);
    free(a.inputs);
    free(a.headers);
    free(a.data);
    free(a.statuses);
    free(a.cookie_header);
    return status;
}

static const char *option_name(int c)
{
    const struct option *lo = long_options;
    while (lo->name && lo->val != c)
        lo++;
    return lo->name ? lo->name : "?";
}
