/* SPDX-License-Identifier: MIT */
/*
 * The command line. Every option is written once, in opt_table: its names,
 * argument, the commands that take it, its help and what completion offers
 * for it. getopt_long's array and short options, each command's --help,
 * and the check that a command takes an option are made from the table;
 * cmdline_parse() then says what each one means. fetchall(1) documents
 * the same options (tests/options.sh compares the two).
 */
#define _GNU_SOURCE /* asprintf */
#include <errno.h>
#include <getopt.h>
#include <math.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "message.h"
#include "options.h"

#define F CMD_FETCH
#define E CMD_ENQUEUE
#define W CMD_WORKER
#define R CMD_RESULTS
#define FW (F | W)

const opt_def opt_table[] = {
    {0, 0, NULL, NULL, F | E | W | R, NULL, "Input and output:"},
    {OPT_INPUT, 'i', "input", "FILE", F | E, "FILE",
     "read URLs from FILE, one a line (- = stdin;\nrepeatable: each in turn)"},
    {OPT_SITEMAP, 0, "sitemap", "SOURCE", F | E, "FILE",
     "the URLs of a sitemap: a URL or a file,\nXML or text, gzip'd or not; "
     "an index's\nsitemaps too; robots: those the\nrobots.txt of the URL "
     "arguments' sites\nname (with --robots; repeatable; after -i)"},
    {OPT_OUTPUT_DIR, 'o', "output-dir", "DIR", FW, "DIR",
     "write body N to DIR/N instead of stdout"},
    {OPT_CLOBBER, 0, "clobber", NULL, FW, NULL,
     "-o: replace results of an earlier run;\n--warc: replace FILE"},
    {OPT_JSONL, 0, "jsonl", NULL, F, NULL, "one JSON object per URL on stdout"},
    {OPT_AS_COMPLETED, 0, "as-completed", NULL, F | R, NULL,
     "write results in completion order"},
    {OPT_NO_BUFFER, 'N', "no-buffer", NULL, F, NULL,
     "write the oldest body as it arrives"},
    {OPT_FAIL, 0, "fail", NULL, FW, NULL,
     "treat HTTP status >= 400 as a failure"},
    {OPT_FAIL_EARLY, 0, "fail-early", NULL, F, NULL,
     "stop at the first failed request"},
    {OPT_INCLUDE_HEADERS, 0, "include-headers", NULL, FW, NULL,
     "--jsonl: the response headers too"},
    {OPT_JOURNAL, 0, "journal", "FILE", F, "FILE",
     "record what finished in FILE; run again\nwith it to resume after a "
     "crash or a kill"},
    {OPT_JOURNAL_FSYNC, 0, "journal-fsync", "SECONDS", F, NULL,
     "sync FILE to disk this often (default 1;\n0: after every write)"},
    {OPT_RETRY_FAILED, 0, "retry-failed", NULL, F, NULL,
     "resuming: run the recorded failures again"},
    {OPT_REVALIDATE, 0, "revalidate", "OLD_JOURNAL", F, "FILE",
     "ask \"changed since?\" for each URL that\nOLD_JOURNAL has a validator "
     "of; a 304\nkeeps the earlier body"},
    {OPT_WARC, 0, "warc", "FILE", F, "FILE",
     "record every request and response in FILE,\na WARC/1.1 archive "
     "(compressed when FILE\nends in .gz)"},
    {OPT_WARC_MAX_SIZE, 0, "warc-max-size", "SIZE", F, NULL,
     "--warc: a new file past SIZE bytes (K, M,\nG): FILE-00000.warc.gz, "
     "-00001 ..."},
    {OPT_QUIET, 'q', "quiet", NULL, F | E | W | R, NULL,
     "no error lines on stderr"},
    {OPT_PROGRESS, 0, "progress", "MODE", F, "auto bar plain none",
     "auto (a bar when stderr is a terminal),\nbar, plain (a line every 10 "
     "s) or none"},
    {0, 0, NULL, NULL, FW | R, NULL,
     "Concurrency and time (SECONDS may be decimal):"},
    {OPT_CONCURRENCY, 'j', "concurrency", "N", FW, NULL,
     "requests in flight at once (default 100)"},
    {OPT_PER_HOST, 0, "per-host", "N", FW, NULL,
     "requests in flight per host (default: any)"},
    {OPT_TIMEOUT, 't', "timeout", "SECONDS", FW, NULL,
     "per request, from its start (default 30)"},
    {OPT_CONNECT_TIMEOUT, 0, "connect-timeout", "SECONDS", FW, NULL,
     "connect and TLS handshake (default 10)"},
    {OPT_DEADLINE, 'T', "deadline", "SECONDS", F | R, NULL,
     "end everything still running after SECONDS"},
    {OPT_THREADS, 0, "threads", "N", FW, NULL,
     "event loops (default: one per core)"},
    {0, 0, NULL, NULL, FW, NULL,
     "Retries (a failure that may pass: see fetchall(1)):"},
    {OPT_RETRY, 0, "retry", "N", FW, NULL,
     "attempts after the first (default 2)"},
    {OPT_RETRY_DELAY, 0, "retry-delay", "SECONDS", FW, NULL,
     "back-off base: retry k waits up to\nSECONDS * 2^(k-1), at random "
     "(default 1)"},
    {OPT_RETRY_MAX_TIME, 0, "retry-max-time", "SECONDS", FW, NULL,
     "no retry starts later than this after\nits request was read"},
    {OPT_RETRY_ALL_ERRORS, 0, "retry-all-errors", NULL, FW, NULL,
     "retry every failure, any method"},
    {OPT_RETRY_ON, 0, "retry-on", "CODES", FW, NULL,
     "HTTP statuses to retry (default\n408,429,500,502,503,504)"},
    {0, 0, NULL, NULL, FW, NULL, "Politeness:"},
    {OPT_RATE, 0, "rate", "N[/s|/m|/h]", FW, NULL,
     "most requests started, in all (default /s)"},
    {OPT_HOST_RATE, 0, "host-rate", "N[/s|/m|/h]", FW, NULL,
     "most requests started to each host"},
    {OPT_DELAY, 0, "delay", "SECONDS", FW, NULL,
     "between two starts to the same host"},
    {OPT_RANDOM_DELAY, 0, "random-delay", NULL, FW, NULL,
     "each --delay times 0.5 to 1.5"},
    {OPT_ROBOTS, 0, "robots", NULL, FW, NULL,
     "obey robots.txt (RFC 9309): a host's is\nread first; what it disallows "
     "is "
     "not\nrequested; its Crawl-delay is kept"},
    {0, 0, NULL, NULL, FW, NULL, "Requests:"},
    {OPT_REQUEST, 'X', "request", "METHOD", FW, NULL,
     "GET, HEAD, POST, PUT, PATCH, DELETE ..."},
    {OPT_DATA, 'd', "data", "DATA", FW, NULL,
     "request body (@FILE: from FILE, CR LF out)"},
    {OPT_DATA_BINARY, 0, "data-binary", "DATA", FW, NULL,
     "request body exactly as given (@FILE too)"},
    {OPT_HEADER, 'H', "header", "'Name: value'", FW, NULL,
     "extra request header (repeatable)"},
    {OPT_USER_AGENT, 'A', "user-agent", "STRING", FW, NULL,
     "User-Agent (default libfetch/VERSION)"},
    {OPT_MAX_REDIRS, 0, "max-redirs", "N", FW, NULL,
     "most redirects followed (default 10)"},
    {OPT_MAX_FILESIZE, 0, "max-filesize", "SIZE", FW, NULL,
     "fail a response with a larger body\n(bytes, or with K, M or G: KiB, "
     "MiB, GiB)"},
    {OPT_COOKIE, 'b', "cookie", "FILE|'N=V'", FW, "FILE",
     "cookies to send: a cookie file, or a string"},
    {OPT_COOKIE_JAR, 'c', "cookie-jar", "FILE", FW, "FILE",
     "write the cookies to FILE at the end"},
    {OPT_COMPRESSED, 0, "compressed", NULL, FW, NULL,
     "accepted; decompression is always on"},
    {OPT_PROXY, 'x', "proxy", "URL", FW, NULL,
     "proxy (default: $http_proxy, $https_proxy)"},
    {OPT_CACERT, 0, "cacert", "FILE", FW, "FILE",
     "CA certificates to verify servers with"},
    {OPT_INSECURE, 'k', "insecure", NULL, FW, NULL,
     "do not verify TLS certificates"},
    {OPT_CERT, 'E', "cert", "FILE", FW, "FILE", "TLS client certificate (PEM)"},
    {OPT_KEY, 0, "key", "FILE", FW, "FILE", "its private key (PEM)"},
    {0, 0, NULL, NULL, E | W | R, NULL,
     "Across machines, on a Redis stream (fetchall(1), ACROSS MACHINES):"},
    {OPT_REDIS, 0, "redis", "URL", E | W | R, NULL,
     "redis://[[USER]:PASSWORD@]HOST[:PORT][/DB]\nor unix://[:PASSWORD@]/PATH"
     "[?db=N]"},
    {OPT_REDIS_PASSWORD_FILE, 0, "redis-password-file", "FILE", E | W | R,
     "FILE",
     "Redis' password from FILE's first line\n(or $REDISCLI_AUTH): "
     "not in ps"},
    {OPT_QUEUE, 0, "queue", "NAME", E | W | R, NULL,
     "the queue (default fetchall)"},
    {OPT_CHUNK, 0, "chunk", "N", E, NULL, "URLs an entry (default 256)"},
    {OPT_MAX_QUEUED, 0, "max-queued", "N", E, NULL,
     "wait while more URLs than N are not done\n(default 1000000)"},
    {OPT_NAME, 0, "name", "NAME", W, NULL, "its name (default HOST:PID)"},
    {OPT_CLAIM_IDLE, 0, "claim-idle", "SECONDS", W, NULL,
     "take over chunks another worker has not\nshown life for (default 30)"},
    {OPT_MAX_DELIVERIES, 0, "max-deliveries", "K", W, NULL,
     "a chunk taken over more often is a dead\nletter (default 5)"},
    {OPT_FOLLOW, 0, "follow", NULL, W, NULL, "wait for more work at the end"},
    {OPT_MAX_RESULTS, 0, "max-results", "N", W, NULL,
     "take no chunk while more than N results\nwait for fetchall results "
     "(default\n1000000; 0: no bound)"},
    {OPT_FSYNC, 0, "fsync", "SECONDS", R, NULL,
     "stdout a regular file: sync it this often;\nthen what it holds leaves "
     "Redis (default 1;\n0: after every write)"},
    {0, 0, NULL, NULL, F | E | W | R, NULL, ""},
    {OPT_HELP, 'h', "help", NULL, F | E | W | R, NULL, "this text"},
    {OPT_VERSION, 'V', "version", NULL, F | E | W | R, NULL,
     "the versions of fetchall, libfetch and\nwhat they are built with"},
    {-1, 0, NULL, NULL, 0, NULL, NULL},
};

static const struct command {
    int bit;
    const char *name, *usage;
} commands[] = {
    {CMD_FETCH, "",
     "Usage: fetchall [OPTIONS] URL...\n"
     "Fetch many HTTP(S) URLs concurrently; write the bodies to stdout in\n"
     "request order.\n"},
    {CMD_ENQUEUE, "enqueue",
     "Usage: fetchall enqueue --redis URL [OPTIONS] [URL...]\n"
     "Put URLs on a queue in Redis, for fetchall workers on any machine\n"
     "(the same input again adds nothing).\n"},
    {CMD_WORKER, "worker",
     "Usage: fetchall worker --redis URL [OPTIONS]\n"
     "Fetch a Redis queue's URLs, beside other workers on any machine, and\n"
     "store their results there (limits and rates hold over all workers).\n"},
    {CMD_RESULTS, "results",
     "Usage: fetchall results --redis URL [OPTIONS]\n"
     "Print a Redis queue's results as JSON lines, in request order.\n"},
};

static const struct command *command_entry(int command)
{
    for (size_t i = 0; i < sizeof commands / sizeof *commands; i++)
        if (commands[i].bit == command)
            return &commands[i];
    return &commands[0];
}

const char *command_name(int command)
{
    return command_entry(command)->name;
}

int command_of(const char *name)
{
    for (size_t i = 1; i < sizeof commands / sizeof *commands; i++)
        if (!strcmp(name, commands[i].name))
            return commands[i].bit;
    return 0;
}

static const opt_def *by_id(int id)
{
    const opt_def *o = opt_table;
    while (o->id >= 0 && o->id != id)
        o++;
    return o->id >= 0 ? o : NULL;
}

/* Column of the help texts: what fits beside "  -x, --longest ARG". */
#define HELP_COLUMN 28

void options_help(int command, FILE *f)
{
    fputs(command_entry(command)->usage, f);
    const opt_def *heading = NULL;
    for (const opt_def *o = opt_table; o->id >= 0; o++) {
        if (!(o->commands & command))
            continue;
        if (!o->id) { /* printed with the first of its options */
            heading = o;
            continue;
        }
        if (heading) {
            fprintf(f, "\n%s%s", heading->help, *heading->help ? "\n" : "");
            heading = NULL;
        }
        char left[64];
        int n = snprintf(left, sizeof left, "  %c%c%s--%s%s%s",
                         o->letter ? '-' : ' ', o->letter ? o->letter : ' ',
                         o->letter ? ", " : "  ", o->name, o->arg ? " " : "",
                         o->arg ? o->arg : "");
        const char *h = o->help, *nl;
        /* beside it when there is room, else on a line of its own */
        if (n < HELP_COLUMN - 1)
            fprintf(f, "%-*s", HELP_COLUMN, left);
        else
            fprintf(f, "%s\n%*s", left, HELP_COLUMN, "");
        while ((nl = strchr(h, '\n'))) {
            fprintf(f, "%.*s\n%*s", (int)(nl - h), h, HELP_COLUMN, "");
            h = nl + 1;
        }
        fprintf(f, "%s\n", h);
    }
    if (command == CMD_FETCH)
        fputs("\nAcross machines: fetchall enqueue, worker and results; "
              "'fetchall help\nCOMMAND' shows a command's options. 'fetchall "
              "completion bash|zsh' prints\na completion script.\n",
              f);
    fputs("\nExit status: 0 all succeeded, 1 some request failed, 2 usage "
          "error.\n",
          f);
}

int usage_error(int command, const char *fmt, const char *a, const char *b)
{
    char *sa = a ? escaped_text(a) : NULL, *sb = b ? escaped_text(b) : NULL;
    const char *name = command_name(command);
    fprintf(stderr, "fetchall: ");
    fprintf(stderr, fmt, sa ? sa : "", sb ? sb : "");
    fprintf(stderr, "\nTry 'fetchall %s%s--help' for more information.\n", name,
            *name ? " " : "");
    free(sa);
    free(sb);
    return 2;
}

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

/* getopt_long's array and short options, made from the table once. */
static struct option long_options[OPT_END - OPT_INPUT + 1];
static char short_options[2 * (OPT_END - OPT_INPUT) + 1];

static void make_getopt(void)
{
    size_t n = 0, s = 0;
    if (long_options[0].name)
        return;
    for (const opt_def *o = opt_table; o->id >= 0; o++) {
        if (!o->id)
            continue;
        long_options[n++] = (struct option){
            o->name, o->arg ? required_argument : no_argument, NULL, o->id};
        if (o->letter) {
            short_options[s++] = o->letter;
            if (o->arg)
                short_options[s++] = ':';
        }
    }
}

/* The option getopt_long returned: a long one's id, a short one's by
   its letter. */
static const opt_def *returned(int c)
{
    if (c >= OPT_INPUT)
        return by_id(c);
    for (const opt_def *o = opt_table; o->id >= 0; o++)
        if (o->id && o->letter == c)
            return o;
    return NULL;
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

/* What option o with its argument arg means. Returns 0, 1 when arg is no
   value for it, or an exit status + 2 (done: --help, or an error said). */
static int take(cmdline *a, const opt_def *o, const char *arg)
{
    config *cfg = &a->cfg;
    switch (o->id) {
    case OPT_INPUT:
        return append(&a->inputs, &a->n_inputs, arg) ? 3 : 0;
    case OPT_SITEMAP:
        return append(&a->sitemaps, &a->n_sitemaps, arg) ? 3 : 0;
    case OPT_OUTPUT_DIR:
        a->output_dir = arg;
        return 0;
    case OPT_CLOBBER:
        a->clobber = 1;
        return 0;
    case OPT_JSONL:
        cfg->out.jsonl = 1;
        return 0;
    case OPT_AS_COMPLETED:
        cfg->as_completed = 1;
        return 0;
    case OPT_NO_BUFFER:
        cfg->no_buffer = 1;
        return 0;
    case OPT_FAIL:
        cfg->fo.fail_on_http_error = 1;
        return 0;
    case OPT_FAIL_EARLY:
        cfg->fail_early = 1;
        return 0;
    case OPT_INCLUDE_HEADERS:
        cfg->out.headers = 1;
        cfg->fo.keep_headers = 1;
        return 0;
    case OPT_JOURNAL:
        cfg->journal = arg;
        cfg->fo.keep_headers = 1; /* the validators it keeps */
        return 0;
    case OPT_REVALIDATE:
        cfg->revalidate = arg;
        cfg->out.revalidate = 1;
        cfg->fo.keep_headers = 1;
        return 0;
    case OPT_JOURNAL_FSYNC:
        return parse_seconds(arg, &cfg->journal_fsync) != 0;
    case OPT_WARC:
        cfg->warc = arg;
        return 0;
    case OPT_WARC_MAX_SIZE:
        return parse_size(arg, &cfg->warc_max_size) != 0;
    case OPT_RETRY_FAILED:
        cfg->retry_failed = 1;
        return 0;
    case OPT_QUIET:
        cfg->out.quiet = 1;
        return 0;
    case OPT_PROGRESS:
        cfg->progress = !strcmp(arg, "auto")    ? PROGRESS_AUTO
                        : !strcmp(arg, "none")  ? PROGRESS_NONE
                        : !strcmp(arg, "bar")   ? PROGRESS_BAR
                        : !strcmp(arg, "plain") ? PROGRESS_PLAIN
                                                : -1;
        return cfg->progress < 0;
    case OPT_CONCURRENCY:
        return parse_int(arg, 1, &cfg->fo.max_concurrency) != 0;
    case OPT_PER_HOST:
        return parse_int(arg, 1, &cfg->fo.max_per_host) != 0;
    case OPT_TIMEOUT:
        return parse_seconds(arg, &cfg->fo.timeout) != 0;
    case OPT_CONNECT_TIMEOUT:
        return parse_seconds(arg, &cfg->fo.connect_timeout) != 0;
    case OPT_DEADLINE:
        return parse_seconds(arg, &cfg->deadline) != 0;
    case OPT_THREADS:
        return parse_int(arg, 1, &a->threads) != 0;
    case OPT_RETRY:
        return parse_int(arg, 0, &cfg->fo.retries) != 0;
    case OPT_RETRY_DELAY:
        return parse_seconds(arg, &cfg->fo.retry_backoff) != 0;
    case OPT_RETRY_MAX_TIME:
        return parse_seconds(arg, &cfg->fo.retry_max_time) != 0;
    case OPT_RETRY_ALL_ERRORS:
        cfg->fo.retry_all_errors = 1;
        return 0;
    case OPT_RETRY_ON:
        cfg->fo.retry_statuses = NULL; /* until it is whole */
        if (parse_statuses(arg, &a->statuses, &cfg->fo.n_retry_statuses))
            return 1;
        cfg->fo.retry_statuses = a->statuses;
        return 0;
    case OPT_RATE:
        return parse_rate(arg, &cfg->fo.rate) != 0;
    case OPT_HOST_RATE:
        return parse_rate(arg, &cfg->fo.host_rate) != 0;
    case OPT_DELAY:
        return parse_seconds(arg, &cfg->fo.host_delay) != 0;
    case OPT_RANDOM_DELAY:
        cfg->fo.random_delay = 1;
        return 0;
    case OPT_ROBOTS:
        cfg->fo.robots = 1;
        return 0;
    case OPT_REQUEST:
        if (fetch_method_check(arg) != FETCH_OK)
            return 2 + usage_error(a->command,
                                   "--request: invalid method '%s' (want a "
                                   "token such as GET or POST)",
                                   arg, NULL);
        cfg->req.method = arg;
        return 0;
    case OPT_DATA:
    case OPT_DATA_BINARY:
        if (load_data(cfg, arg, o->id == OPT_DATA_BINARY, &a->data) == 0)
            return 0;
        if (arg[0] != '@')
            return 2 + usage_error(a->command,
                                   "--data: a CR or LF in '%s'; use "
                                   "--data-binary to send it as it is",
                                   arg, NULL);
        fprintf(stderr, "fetchall: %s: %s\n", arg + 1, strerror(errno));
        return 4;
    case OPT_HEADER:
        if (fetch_header_check(arg) != FETCH_OK)
            return 2 + usage_error(a->command,
                                   "--header: invalid header '%s' (want "
                                   "'Name: value' on one line)",
                                   arg, NULL);
        return append(&a->headers, &a->n_headers, arg) ? 3 : 0;
    case OPT_USER_AGENT:
        if (strpbrk(arg, "\r\n"))
            return 2 + usage_error(a->command,
                                   "--user-agent: a CR or LF in '%s' would "
                                   "inject a header",
                                   arg, NULL);
        cfg->fo.user_agent = arg;
        return 0;
    case OPT_MAX_REDIRS:
        return parse_int(arg, 0, &cfg->fo.max_redirects) != 0;
    case OPT_MAX_FILESIZE:
        return parse_size(arg, &cfg->fo.max_body_size) != 0;
    case OPT_COOKIE: /* NAME=VALUE[; ...] is sent as it is, else a file */
        if (strchr(arg, '=')) {
            if (strpbrk(arg, "\r\n"))
                return 2 + usage_error(a->command,
                                       "--cookie: a CR or LF in '%s' would "
                                       "inject a header",
                                       arg, NULL);
            free(a->cookie_header);
            if (asprintf(&a->cookie_header, "Cookie: %s", arg) < 0 ||
                append(&a->headers, &a->n_headers, a->cookie_header) != 0)
                return 3;
        } else if (access(arg, R_OK) != 0) {
            char *f = escaped_text(arg);
            fprintf(stderr, "fetchall: --cookie %s: %s\n", f ? f : "",
                    strerror(errno));
            free(f);
            return 4;
        } else {
            cfg->fo.cookie_file = arg;
        }
        return 0;
    case OPT_COOKIE_JAR:
        cfg->fo.cookie_jar = arg;
        return 0;
    case OPT_COMPRESSED: /* always on; accepted as curl users type it */
        return 0;
    case OPT_PROXY:
        cfg->fo.proxy = arg;
        return 0;
    case OPT_CACERT:
        cfg->fo.ca_file = arg;
        return 0;
    case OPT_INSECURE:
        cfg->fo.insecure = 1;
        return 0;
    case OPT_CERT:
        cfg->fo.client_cert = arg;
        return 0;
    case OPT_KEY:
        cfg->fo.client_key = arg;
        return 0;
    case OPT_REDIS:
        a->cl.redis = arg;
        return 0;
    case OPT_REDIS_PASSWORD_FILE:
        a->cl.password_file = arg;
        return 0;
    case OPT_QUEUE:
        a->cl.queue = arg;
        return !*arg || strlen(arg) > 200 || strpbrk(arg, "{}\r\n") != NULL;
    case OPT_CHUNK:
        return parse_int(arg, 1, &a->cl.chunk) != 0;
    case OPT_MAX_QUEUED:
        return parse_size(arg, &a->cl.max_queued) != 0;
    case OPT_NAME:
        a->cl.name = arg;
        return !*arg || strlen(arg) > 200;
    case OPT_CLAIM_IDLE:
        return parse_seconds(arg, &a->cl.claim_idle) || a->cl.claim_idle < 0.1;
    case OPT_MAX_DELIVERIES:
        return parse_int(arg, 1, &a->cl.max_deliveries) != 0;
    case OPT_FOLLOW:
        a->cl.follow = 1;
        return 0;
    case OPT_MAX_RESULTS: /* 0: no bound */
        a->cl.max_results = 0;
        return strcmp(arg, "0") && parse_size(arg, &a->cl.max_results) != 0;
    case OPT_FSYNC:
        return parse_seconds(arg, &a->cl.fsync) != 0;
    case OPT_HELP:
        options_help(a->command, stdout);
        return 2;
    case OPT_VERSION: /* main prints it: the libraries' versions too */
        a->version = 1;
        return 2;
    default:
        return 0;
    }
}

int cmdline_parse(cmdline *a, int command, int argc, char **argv)
{
    config *cfg = &a->cfg;
    int c;
    memset(a, 0, sizeof *a);
    a->command = command;
    a->argc = argc;
    a->argv = argv;
    fetch_options_init(&cfg->fo);
    fetch_request_init(&cfg->req);
    cfg->fo.timeout = 30;
    cfg->fo.keep_headers = 0; /* read only for --include-headers, --journal
                                  and --revalidate */
    cfg->fo.retries = 2;
    cfg->journal_fsync = 1;
    a->cl.claim_idle = 30;
    a->cl.max_deliveries = 5;
    a->cl.chunk = 256;
    a->cl.max_queued = 1000000;
    a->cl.max_results = 1000000;
    a->cl.fsync = 1;
    make_getopt();
    optind = 1;
    while ((c = getopt_long(argc, argv, short_options, long_options, NULL)) !=
           -1) {
        const opt_def *o = returned(c);
        if (!o) { /* getopt_long said why */
            const char *name = command_name(command);
            fprintf(stderr, "Try 'fetchall %s%s--help' for more information.\n",
                    name, *name ? " " : "");
            return 2;
        }
        a->given[o->id - OPT_INPUT] = 1;
        int rc = take(a, o, optarg);
        if (rc == 1)
            return usage_error(command, "invalid value '%s' for --%s", optarg,
                               o->name);
        if (rc >= 2)
            return rc - 2;
    }
    a->urls = argv + optind;
    a->n_urls = argc - optind;
    for (const opt_def *o = opt_table; o->id >= 0; o++)
        if (o->id && a->given[o->id - OPT_INPUT] && !(o->commands & command))
            return usage_error(
                command,
                command != CMD_FETCH ? "--%s does not go with fetchall %s"
                : o->commands & CMD_FETCH
                    ? "--%s does not go with fetchall%s"
                    : "--%s goes with fetchall enqueue, worker or results%s",
                o->name, command_name(command));
    if ((command & CMD_CLUSTER) && !a->cl.redis)
        return usage_error(command, "fetchall %s needs --redis URL%s",
                           command_name(command), "");
    if (command == CMD_WORKER)
        cfg->out.jsonl = 1; /* its records are JSON lines */
    if (cfg->req.body && !cfg->req.method)
        cfg->req.method = "POST"; /* as curl -d */
    cfg->fo.headers = a->headers;
    cfg->fo.n_headers = (size_t)a->n_headers;
    if (a->clobber && !a->output_dir && !cfg->warc)
        return usage_error(command, "--clobber goes with -o DIR or --warc FILE",
                           NULL, NULL);
    if (cfg->warc_max_size && !cfg->warc)
        return usage_error(command, "--warc-max-size goes with --warc FILE",
                           NULL, NULL);
    if (cfg->retry_failed && !cfg->journal)
        return usage_error(command, "--retry-failed goes with --journal FILE",
                           NULL, NULL);
    if (cfg->revalidate && cfg->req.method && strcmp(cfg->req.method, "GET") &&
        strcmp(cfg->req.method, "HEAD"))
        return usage_error(command,
                           "--revalidate goes with GET and HEAD, not %s",
                           cfg->req.method, NULL);
    if (cfg->out.headers && !cfg->out.jsonl)
        return usage_error(command, "--include-headers goes with --jsonl", NULL,
                           NULL);
    if (cfg->fo.random_delay && !cfg->fo.host_delay)
        return usage_error(command, "--random-delay goes with --delay SECONDS",
                           NULL, NULL);
    for (int i = 0; i < a->n_sitemaps; i++)
        for (int k = 0; !strcmp(a->sitemaps[i], "-") && k < a->n_inputs; k++)
            if (!strcmp(a->inputs[k], "-"))
                return usage_error(command,
                                   "--sitemap - and -i - both read standard "
                                   "input: give one of them",
                                   NULL, NULL);
    for (int i = 0; i < a->n_sitemaps; i++)
        if (!strcmp(a->sitemaps[i], "robots") && !cfg->fo.robots &&
            command == CMD_FETCH) /* enqueue: the workers' --robots */
            return usage_error(command, "--sitemap robots goes with --robots",
                               NULL, NULL);
        else if (!strcmp(a->sitemaps[i], "robots") && !a->n_urls)
            return usage_error(command,
                               "--sitemap robots reads the robots.txt of the "
                               "sites of the URL arguments: none given",
                               NULL, NULL);
    /* no URL arguments and no -i: read a pipe on stdin, as filters do */
    if ((command & (CMD_FETCH | CMD_ENQUEUE)) && !a->n_urls && !a->n_inputs &&
        !a->n_sitemaps && isatty(STDIN_FILENO))
        return usage_error(command, "no URLs given", NULL, NULL);
    return -1;
}

void cmdline_free(cmdline *a)
{
    free(a->inputs);
    free(a->sitemaps);
    free(a->headers);
    free(a->data);
    free(a->statuses);
    free(a->cookie_header);
}
