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
#include <sys/resource.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>

#include "fetchall.h"

static const char usage_text[] =
    "Usage: fetchall [OPTIONS] URL...\n"
    "Fetch many HTTP(S) URLs concurrently; write the bodies to stdout in\n"
    "request order.\n"
    "\n"
    "Input and output:\n"
    "  -i, --input FILE          read URLs from FILE, one a line (- = stdin)\n"
    "  -o, --output-dir DIR      write body N to DIR/N instead of stdout\n"
    "      --jsonl               one JSON object per URL on stdout\n"
    "      --as-completed        write results in completion order\n"
    "  -N, --no-buffer           write the oldest body as it arrives\n"
    "      --fail                treat HTTP status >= 400 as a failure\n"
    "  -q, --quiet               no error lines on stderr\n"
    "Concurrency and time (SECONDS may be decimal):\n"
    "  -j, --concurrency N       requests in flight at once (default 100)\n"
    "      --per-host N          requests in flight per host (default: any)\n"
    "  -t, --timeout SECONDS     per request, from its start (default 30)\n"
    "      --connect-timeout SECONDS  (default 10)\n"
    "  -T, --deadline SECONDS    end everything still running after SECONDS\n"
    "      --threads N           event loops (default: one per core)\n"
    "Requests:\n"
    "  -X, --request METHOD      GET, HEAD, POST, PUT, PATCH, DELETE ...\n"
    "  -d, --data DATA           request body (@FILE: read it from FILE)\n"
    "  -H, --header 'Name: value'  extra request header (repeatable)\n"
    "  -A, --user-agent STRING   User-Agent (default libfetch/VERSION)\n"
    "      --max-redirs N        most redirects followed (default 10)\n"
    "      --max-filesize BYTES  fail a response with a larger body\n"
    "      --compressed          accepted; decompression is always on\n"
    "  -x, --proxy URL           proxy (default: $http_proxy, $https_proxy)\n"
    "      --cacert FILE         CA certificates to verify servers with\n"
    "  -k, --insecure            do not verify TLS certificates\n"
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
    OPT_THREADS
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
    {"cacert", required_argument, NULL, OPT_CACERT},
    {"insecure", no_argument, NULL, 'k'},
    {"proxy", required_argument, NULL, 'x'},
    {"compressed", no_argument, NULL, OPT_COMPRESSED},
    {"jsonl", no_argument, NULL, OPT_JSONL},
    {"as-completed", no_argument, NULL, OPT_AS_COMPLETED},
    {"no-buffer", no_argument, NULL, 'N'},
    {"threads", required_argument, NULL, OPT_THREADS},
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

static int parse_size(const char *s, size_t *out)
{
    char *end;
    errno = 0;
    unsigned long long v = strtoull(s, &end, 10);
    if (errno || end == s || *end || s[0] == '-' || v == 0)
        return -1;
    *out = (size_t)v;
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

/* Every request in flight holds a socket: raise the soft open-file limit to
   the hard one, and keep -j within it (with room for files and the rest). */
static void limit_concurrency(fetch_options *fo)
{
    struct rlimit rl;
    const rlim_t spare = 64;
    if (getrlimit(RLIMIT_NOFILE, &rl) != 0)
        return;
    if (rl.rlim_cur < rl.rlim_max) {
        rl.rlim_cur = rl.rlim_max;
        setrlimit(RLIMIT_NOFILE, &rl);
        getrlimit(RLIMIT_NOFILE, &rl);
    }
    if (rl.rlim_cur == RLIM_INFINITY ||
        (rlim_t)fo->max_concurrency + spare <= rl.rlim_cur)
        return;
    int most = rl.rlim_cur > spare ? (int)(rl.rlim_cur - spare) : 1;
    fprintf(stderr,
            "fetchall: -j %d needs more open files than the limit of %lu; "
            "using -j %d\n",
            fo->max_concurrency, (unsigned long)rl.rlim_cur, most);
    fo->max_concurrency = most;
}

/* -d DATA, or -d @FILE: the request body, read once. */
static int load_data(config *cfg, const char *arg, char **owned)
{
    if (arg[0] != '@') {
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
    cfg->req.body = *owned;
    cfg->req.body_len = len;
    return err ? -1 : 0;
}

int main(int argc, char **argv)
{
    config cfg = {0};
    const char *input_path = NULL;
    const char **headers = NULL;
    char *data = NULL;
    int c, n_headers = 0;

    fetch_options_init(&cfg.fo);
    fetch_request_init(&cfg.req);
    cfg.fo.timeout = 30;
    cfg.fo.keep_headers = 0; /* the command never reads them */
    cfg.threads = 0;         /* by default, from the cores and -j, below */
    while ((c = getopt_long(argc, argv, "i:j:t:T:A:H:o:X:d:x:kqhVN",
                            long_options, NULL)) != -1) {
        int bad = 0;
        switch (c) {
        case 'i':
            input_path = optarg;
            break;
        case 'j':
            bad = parse_int(optarg, 1, &cfg.fo.max_concurrency);
            break;
        case OPT_PER_HOST:
            bad = parse_int(optarg, 1, &cfg.fo.max_per_host);
            break;
        case 't':
            bad = parse_seconds(optarg, &cfg.fo.timeout);
            break;
        case OPT_CONNECT_TIMEOUT:
            bad = parse_seconds(optarg, &cfg.fo.connect_timeout);
            break;
        case 'T':
            bad = parse_seconds(optarg, &cfg.deadline);
            break;
        case 'A':
            cfg.fo.user_agent = optarg;
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
            bad = parse_int(optarg, 0, &cfg.fo.max_redirects);
            break;
        case OPT_MAX_FILESIZE:
            bad = parse_size(optarg, &cfg.fo.max_body_size);
            break;
        case 'X':
            cfg.req.method = optarg;
            break;
        case 'd':
            if (load_data(&cfg, optarg, &data) != 0) {
                fprintf(stderr, "fetchall: %s: %s\n", optarg + 1,
                        strerror(errno));
                return 2;
            }
            break;
        case OPT_CACERT:
            cfg.fo.ca_file = optarg;
            break;
        case 'k':
            cfg.fo.insecure = 1;
            break;
        case 'x':
            cfg.fo.proxy = optarg;
            break;
        case OPT_COMPRESSED: /* always on; accepted as curl users type it */
            break;
        case 'o':
            cfg.out.dir = optarg;
            break;
        case OPT_JSONL:
            cfg.out.jsonl = 1;
            break;
        case OPT_AS_COMPLETED:
            cfg.as_completed = 1;
            break;
        case 'N':
            cfg.no_buffer = 1;
            break;
        case OPT_THREADS: {
            int n;
            bad = parse_int(optarg, 1, &n);
            cfg.threads = (size_t)n;
            break;
        }
        case OPT_FAIL:
            cfg.fo.fail_on_http_error = 1;
            break;
        case 'q':
            cfg.out.quiet = 1;
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
        if (bad) {
            const struct option *lo = long_options;
            while (lo->name && lo->val != c)
                lo++;
            return usage_error("invalid value '%s' for --%s", optarg, lo->name);
        }
    }
    if (cfg.req.body && !cfg.req.method)
        cfg.req.method = "POST"; /* as curl -d */
    cfg.fo.headers = headers;
    cfg.fo.n_headers = (size_t)n_headers;
    cfg.out.deadline = cfg.deadline;

    /* no URL arguments and no -i: read a pipe on stdin, as filters do */
    if (optind == argc && !input_path) {
        if (isatty(STDIN_FILENO))
            return usage_error("no URLs given", NULL, NULL);
        input_path = "-";
    }
    if (cfg.out.dir && mkdir(cfg.out.dir, 0777) != 0 && errno != EEXIST) {
        fprintf(stderr, "fetchall: %s: %s\n", cfg.out.dir, strerror(errno));
        return 2;
    }
    input in;
    if (input_open(&in, argv + optind, argc - optind, input_path) != 0) {
        fprintf(stderr, "fetchall: %s: %s\n", input_path, strerror(errno));
        return 2;
    }
    limit_concurrency(&cfg.fo);
    if (!cfg.threads) {
        /* a loop per core; opening thousands of connections at once
           overlaps better over two per core (measured: W2 in bench/run) */
        long cores = sysconf(_SC_NPROCESSORS_ONLN);
        cfg.threads = cores > 1 ? (size_t)cores : 1;
        if (cfg.fo.max_concurrency >= 1000)
            cfg.threads *= 2;
        if (cfg.threads > 16)
            cfg.threads = 16;
    }
    /* bodies go out in big writes, not 4 KiB ones */
    static char stdout_buf[1 << 16];
    setvbuf(stdout, stdout_buf, _IOFBF, sizeof stdout_buf);
    int status = run(&cfg, &in);
    input_close(&in);
    free(headers);
    free(data);
    if (status == 2)
        return usage_error("no URLs given", NULL, NULL);
    return status;
}
