/*
 * fetchall: fetch many URLs concurrently and write the results in request
 * order, each as soon as it and everything before it are complete.
 */
#include <errno.h>
#include <getopt.h>
#include <math.h>
#include <signal.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>

#include "fetchall.h"

static const char usage_text[] =
    "Usage: fetchall [OPTIONS] URL...\n"
    "Fetch many HTTP(S) URLs concurrently; write the bodies to stdout in\n"
    "request order.\n"
    "\n"
    "  -i, --input FILE          read URLs from FILE, one a line ('-' = "
    "stdin)\n"
    "  -j, --concurrency N       requests in flight at once (default 100)\n"
    "      --per-host N          requests in flight per host (default no "
    "limit)\n"
    "  -t, --timeout SECONDS     per-request timeout, counted from its start\n"
    "                            (default 30; 0 = none)\n"
    "      --connect-timeout SECONDS  (default 10)\n"
    "  -T, --deadline SECONDS    end everything still running after SECONDS\n"
    "  -A, --user-agent STRING   User-Agent (default libfetch/VERSION)\n"
    "  -H, --header 'Name: value'  extra request header (repeatable)\n"
    "      --max-redirs N        most redirects followed (default 10)\n"
    "  -o, --output-dir DIR      write body N to DIR/N instead of stdout\n"
    "      --jsonl               one JSON object per URL on stdout\n"
    "      --fail                treat HTTP status >= 400 as a failure\n"
    "  -q, --quiet               no error lines on stderr\n"
    "  -h, --help                this text\n"
    "  -V, --version             print the version\n"
    "\n"
    "Exit status: 0 all succeeded, 1 some request failed, 2 usage error.\n";

enum {
    OPT_PER_HOST = 256,
    OPT_CONNECT_TIMEOUT,
    OPT_MAX_REDIRS,
    OPT_JSONL,
    OPT_FAIL
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
    {"jsonl", no_argument, NULL, OPT_JSONL},
    {"fail", no_argument, NULL, OPT_FAIL},
    {"quiet", no_argument, NULL, 'q'},
    {"help", no_argument, NULL, 'h'},
    {"version", no_argument, NULL, 'V'},
    {NULL, 0, NULL, 0},
};

static int usage_error(const char *fmt, const char *a, const char *b)
{
    fprintf(stderr, "fetchall: ");
    fprintf(stderr, fmt, a, b);
    fprintf(stderr, "\nTry 'fetchall --help' for more information.\n");
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

static double now(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (double)ts.tv_sec + (double)ts.tv_nsec / 1e9;
}

/* One request in the window of those submitted and not yet written. */
typedef struct slot {
    fetch_task *task;
    size_t index; /* 1-based position in the input */
    const output *out;
    int save_failed;
} slot;

/* With -o a body is saved the moment it completes, in any order. */
static void on_done(fetch_task *task, void *arg)
{
    slot *s = arg;
    const fetch_response *r = fetch_task_response(task);
    s->save_failed =
        r->error == FETCH_OK && output_save(s->out, s->index, r) != 0;
}

/* stdout went away (e.g. `| head`): end the way a pipeline expects. */
static void stdout_failed(void)
{
    if (errno == EPIPE) {
        signal(SIGPIPE, SIG_DFL);
        raise(SIGPIPE);
    }
    perror("fetchall: stdout");
    exit(1);
}

int main(int argc, char **argv)
{
    fetch_options fo;
    output out = {0};
    const char *input_path = NULL;
    const char **headers = NULL;
    double deadline = 0;
    int c, n_headers = 0, failed = 0;

    fetch_options_init(&fo);
    fo.timeout = 30;
    while ((c = getopt_long(argc, argv, "i:j:t:T:A:H:o:qhV", long_options,
                            NULL)) != -1) {
        int bad = 0;
        switch (c) {
        case 'i':
            input_path = optarg;
            break;
        case 'j':
            bad = parse_int(optarg, 1, &fo.max_concurrency);
            break;
        case OPT_PER_HOST:
            bad = parse_int(optarg, 1, &fo.max_per_host);
            break;
        case 't':
            bad = parse_seconds(optarg, &fo.timeout);
            break;
        case OPT_CONNECT_TIMEOUT:
            bad = parse_seconds(optarg, &fo.connect_timeout);
            break;
        case 'T':
            bad = parse_seconds(optarg, &deadline);
            break;
        case 'A':
            fo.user_agent = optarg;
            break;
        case 'H':
            if (!strchr(optarg, ':'))
                return usage_error("invalid header '%s' (want 'Name: value')",
                                   optarg, NULL);
            headers =
                realloc(headers, (size_t)(n_headers + 1) * sizeof *headers);
            if (!headers)
                return 1;
            headers[n_headers++] = optarg;
            break;
        case OPT_MAX_REDIRS:
            bad = parse_int(optarg, 0, &fo.max_redirects);
            break;
        case 'o':
            out.dir = optarg;
            break;
        case OPT_JSONL:
            out.jsonl = 1;
            break;
        case OPT_FAIL:
            fo.fail_on_http_error = 1;
            break;
        case 'q':
            out.quiet = 1;
            break;
        case 'h':
            fputs(usage_text, stdout);
            return 0;
        case 'V':
            printf("fetchall %s (libfetch %s, %s)\n", LIBFETCH_VERSION_STRING,
                   fetch_version(), "libcurl + libevent");
            return 0;
        default: /* getopt_long printed the reason */
            fprintf(stderr, "Try 'fetchall --help' for more information.\n");
            return 2;
        }
        if (bad) {
            const struct option *lo = long_options;
            while (lo->name && lo->val != c)
                lo++;
            return usage_error("invalid value '%s' for --%s", optarg, lo->name);
        }
    }
    fo.headers = headers;
    fo.n_headers = (size_t)n_headers;
    out.deadline = deadline;

    /* no URL arguments and no -i: read a pipe on stdin, as filters do */
    if (optind == argc && !input_path) {
        if (isatty(STDIN_FILENO))
            return usage_error("no URLs given", NULL, NULL);
        input_path = "-";
    }
    if (out.dir && mkdir(out.dir, 0777) != 0 && errno != EEXIST) {
        fprintf(stderr, "fetchall: %s: %s\n", out.dir, strerror(errno));
        return 2;
    }
    input in;
    if (input_open(&in, argv + optind, argc - optind, input_path) != 0) {
        fprintf(stderr, "fetchall: %s: %s\n", input_path, strerror(errno));
        return 2;
    }

    int err;
    fetch_client *client = fetch_client_new(&fo, NULL, &err);
    if (!client) {
        fprintf(stderr, "fetchall: %s\n", fetch_strerror(err));
        return 1;
    }

    /* Submit ahead of the oldest unwritten request, within a window, so that
       memory follows the window and not the length of the input. */
    size_t window = (size_t)fo.max_concurrency * 4;
    if (window < 1024)
        window = 1024;
    slot *ring = calloc(window, sizeof *ring);
    size_t head = 0, count = 0, submitted = 0;
    double end_at = now() + deadline;
    const char *url = "";

    while (ring) {
        while (count < window && url && (url = input_next(&in))) {
            slot *s = &ring[(head + count) % window];
            s->index = ++submitted;
            s->out = &out;
            s->save_failed = 0;
            s->task = fetch_get(client, url, out.dir ? on_done : NULL, s);
            if (!s->task) {
                fprintf(stderr, "fetchall: out of memory\n");
                return 1;
            }
            count++;
        }
        if (count == 0)
            break;
        slot *s = &ring[head];
        double wait = FETCH_WAIT_FOREVER;
        if (deadline > 0)
            wait = fmax(0, end_at - now());
        if (!fetch_task_done(s->task) && fflush(stdout) != 0)
            stdout_failed();
        int rc = fetch_wait_for(s->task, wait);
        if (rc == FETCH_E_BUSY || rc == FETCH_E_LOOP || rc == FETCH_E_INVAL) {
            fprintf(stderr, "fetchall: %s\n", fetch_strerror(rc));
            return 1;
        }
        const fetch_response *r = fetch_task_response(s->task);
        int deadline_hit =
            deadline > 0 && r->error == FETCH_E_TIMEOUT && r->curl_code == 0;
        failed |= r->error != FETCH_OK || s->save_failed;
        if (output_write(&out, s->index, r, deadline_hit) != 0)
            stdout_failed();
        fetch_task_free(s->task);
        s->task = NULL;
        head = (head + 1) % window;
        count--;
    }
    if (fflush(stdout) != 0)
        stdout_failed();
    fetch_client_free(client);
    input_close(&in);
    free(ring);
    free(headers);
    if (submitted == 0)
        return usage_error("no URLs given", NULL, NULL);
    return failed ? 1 : 0;
}
