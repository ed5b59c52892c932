/* SPDX-License-Identifier: MIT */
/* Test helpers: start/stop the test server, run commands, read /stats. */
#define _GNU_SOURCE
#include <check.h>
#include <event2/event.h>
#include <curl/curl.h>
#include <errno.h>
#include <stdarg.h>
#include <stdio.h>
#include <signal.h>
#include <stdlib.h>
#include <string.h>
#include <fcntl.h>
#include <arpa/inet.h>
#include <netinet/in.h>
#include <sys/prctl.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

#include "harness.h"
#include "libfetch.h"

test_server srv;

/* The clients of the test under way. */
static fetch_client *live[16];
static size_t nlive;

void srv_setup(void)
{
    ts_start(&srv);
}

void srv_teardown(void)
{
    ts_stop(&srv);
    ck_assert_msg(nlive == 0, "the test left %zu client(s) behind", nlive);
}

int run_suite(Suite *s)
{
    SRunner *sr = srunner_create(s);
    srunner_run_all(sr, CK_NORMAL);
    int failed = srunner_ntests_failed(sr);
    srunner_free(sr);
    return failed ? 1 : 0;
}

int test_loops = 1;

int run_suite_loops(Suite *(*make)(void))
{
    static const int loops[] = {1, 3};
    int failed = 0;
    for (size_t i = 0; i < sizeof loops / sizeof loops[0]; i++) {
        test_loops = loops[i];
        printf("with %d event loop%s:\n", loops[i], loops[i] > 1 ? "s" : "");
        fflush(stdout);
        failed |= run_suite(make());
    }
    return failed;
}

void test_options(fetch_options *o)
{
    fetch_options_init(o);
    o->loops = test_loops;
}

double now_s(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (double)ts.tv_sec + (double)ts.tv_nsec / 1e9;
}

unsigned test_seed(const char *test)
{
    const char *env = getenv("FETCH_TEST_SEED");
    unsigned seed = env && *env ? (unsigned)strtoul(env, NULL, 10)
                                : (unsigned)time(NULL) ^ (unsigned)getpid();
    printf("%s: seed %u (FETCH_TEST_SEED=%u replays it)\n", test, seed, seed);
    fflush(stdout);
    srand(seed);
    return seed;
}

fetch_client *client_new(const fetch_options *o, struct event_base *base)
{
    int err = -1;
    fetch_client *c = fetch_client_new(o, base, &err);
    ck_assert_ptr_nonnull(c);
    ck_assert_int_eq(err, FETCH_OK);
    ck_assert_uint_lt(nlive, sizeof live / sizeof live[0]);
    live[nlive++] = c;
    return c;
}

fetch_client *client_with(int concurrency, int per_host, double timeout)
{
    fetch_options o;
    test_options(&o);
    o.max_concurrency = concurrency;
    o.max_per_host = per_host;
    o.timeout = timeout;
    return client_new(&o, NULL);
}

void assert_idle(fetch_client *c)
{
    fetch_stats st;
    fetch_client_stats(c, &st);
    ck_assert_uint_eq(st.queued, 0);
    ck_assert_uint_eq(st.running, 0);
    /* libcurl may have a timer of its own to run after the last transfer
       (closing a connection), and a loop thread takes a cancelled transfer
       out a moment later: let them, for a bounded while */
    double start = now_s(), give_up = start + 5;
    while ((st.sockets || st.timers) && now_s() < give_up) {
        if (st.loops == 1)
            event_base_loop(fetch_client_base(c), EVLOOP_NONBLOCK);
        usleep(1000);
        fetch_client_stats(c, &st);
    }
    if (getenv("FETCH_TEST_SETTLE") && now_s() - start > 0.001)
        fprintf(stderr, "settled in %.3f s\n", now_s() - start);
    ck_assert_msg(st.sockets == 0, "%zu sockets still watched", st.sockets);
    ck_assert_msg(st.timers == 0, "%zu timers still pending (%zu loops)",
                  st.timers, st.loops);
}

static void forget(fetch_client *c)
{
    for (size_t i = 0; i < nlive; i++)
        if (live[i] == c) {
            live[i] = live[--nlive];
            return;
        }
    ck_abort_msg("not a client of this test");
}

void client_free(fetch_client *c)
{
    assert_idle(c);
    forget(c);
    fetch_client_free(c);
}

/* Wait for t and check what the wait says: its result, no call error. */
static void wait_result(fetch_task *t)
{
    ck_assert_ptr_nonnull(t);
    int rc = fetch_wait_for(t, 60);
    ck_assert_msg(fetch_task_done(t), "the wait returned %d early", rc);
    ck_assert_int_eq(rc, fetch_task_response(t)->error);
}

fetch_task *get_one(fetch_client *c, const char *url)
{
    fetch_task *t = fetch_get(c, url, NULL, NULL, NULL);
    wait_result(t);
    return t;
}

fetch_task *submit_wait(fetch_client *c, const fetch_request *r)
{
    fetch_task *t = fetch_submit(c, r, NULL, NULL, NULL);
    wait_result(t);
    return t;
}

char *get_body(fetch_client *c, const char *url)
{
    fetch_task *t = get_one(c, url);
    char *b = strdup(fetch_task_response(t)->body);
    fetch_task_free(t);
    return b;
}

void free_all(fetch_task **tasks, size_t n)
{
    for (size_t i = 0; i < n; i++)
        fetch_task_free(tasks[i]);
}

int done_order[16], n_done;

void record(fetch_task *t, void *arg)
{
    (void)t;
    done_order[n_done++] = (int)(long)arg;
}

void client_drop(fetch_client *c)
{
    forget(c);
    fetch_client_free(c);
}

static const char *env_or(const char *name, const char *fallback)
{
    const char *v = getenv(name);
    return v && *v ? v : fallback;
}

static void start_prog(test_server *s, const char *prog_env,
                       const char *prog_default, const char *cert,
                       const char *key, const char *client_ca)
{
    /* loopback only: no proxy from the environment may come between */
    const char *proxies[] = {"http_proxy",  "https_proxy", "all_proxy",
                             "HTTPS_PROXY", "ALL_PROXY",   "no_proxy",
                             "NO_PROXY"};
    for (size_t i = 0; i < sizeof proxies / sizeof proxies[0]; i++)
        unsetenv(proxies[i]);
    int in[2], out[2];
    char buf[32] = {0};
    ck_assert_int_eq(pipe(in), 0);
    ck_assert_int_eq(pipe(out), 0);
    s->pid = fork();
    ck_assert_int_ge(s->pid, 0);
    if (s->pid == 0) {
        dup2(in[0], STDIN_FILENO);
        dup2(out[1], STDOUT_FILENO);
        close(in[1]);
        close(out[0]);
        const char *prog = env_or(prog_env, prog_default);
        if (client_ca)
            execl(prog, prog, "--lifetime", "900", "--tls", cert, key,
                  "--client-ca", client_ca, (char *)NULL);
        else if (cert)
            execl(prog, prog, "--lifetime", "900", "--tls", cert, key,
                  (char *)NULL);
        else
            execl(prog, prog, "--lifetime", "900", (char *)NULL);
        _exit(127);
    }
    close(in[0]);
    close(out[1]);
    s->stdin_fd = in[1];
    ssize_t n = 0, r;
    while (n < (ssize_t)sizeof buf - 1 && !strchr(buf, '\n') &&
           (r = read(out[0], buf + n, sizeof buf - 1 - (size_t)n)) > 0)
        n += r;
    close(out[0]);
    s->port = atoi(buf);
    ck_assert_msg(s->port > 0, "test server did not start");
    snprintf(s->base, sizeof s->base, "%s://127.0.0.1:%d",
             cert ? "https" : "http", s->port);
}

static void start(test_server *s, const char *cert, const char *key,
                  const char *client_ca)
{
    start_prog(s, "TESTSERVER", "tests/server/testserver", cert, key,
               client_ca);
}

void ts_start(test_server *s)
{
    start(s, NULL, NULL, NULL);
}

void fs_start(test_server *s)
{
    start_prog(s, "FAULTSERVER", "tests/server/faultserver", NULL, NULL, NULL);
}

void ts_start_tls(test_server *s, const char *cert, const char *key)
{
    start(s, cert, key, NULL);
}

void ts_start_tls_client_ca(test_server *s, const char *cert, const char *key,
                            const char *client_ca)
{
    start(s, cert, key, client_ca);
}

void tls_files(const char *dir, char *cert, char *key, size_t len)
{
    char cmd[2048];
    snprintf(cert, len, "%s/cert.pem", dir);
    snprintf(key, len, "%s/key.pem", dir);
    snprintf(cmd, sizeof cmd,
             "openssl req -x509 -newkey rsa:2048 -nodes -days 2 -subj "
             "/CN=localhost -addext subjectAltName=IP:127.0.0.1,DNS:localhost "
             "-keyout %s -out %s 2>/dev/null",
             key, cert);
    ck_assert_msg(system(cmd) == 0, "openssl could not make a certificate");
}

int nginx_installed(int echo)
{
    return access(NGINX_BIN, X_OK) == 0 &&
           (!echo || access(NGINX_ECHO, R_OK) == 0);
}

const char *nginx_path(const nginx *n, const char *name)
{
    static char bufs[16][256];
    static int next;
    char *b = bufs[next++ % 16];
    snprintf(b, 256, "%s/%s", n->dir, name);
    return b;
}

void nginx_init(nginx *n)
{
    memset(n, 0, sizeof *n);
    snprintf(n->dir, sizeof n->dir, "/tmp/fetchall-nginx-XXXXXX");
    ck_assert_ptr_nonnull(mkdtemp(n->dir));
    chmod(n->dir, 0755); /* its workers run as nobody */
    ck_assert_int_eq(mkdir(nginx_path(n, "tmp"), 0777), 0);
    chmod(nginx_path(n, "tmp"), 0777);
    ck_assert_int_eq(mkdir(nginx_path(n, "www"), 0755), 0);
}

static int nginx_listening(int p)
{
    struct sockaddr_in a = {.sin_family = AF_INET};
    int fd = socket(AF_INET, SOCK_STREAM, 0);
    a.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
    a.sin_port = htons((unsigned short)p);
    int ok = connect(fd, (struct sockaddr *)&a, sizeof a) == 0;
    close(fd);
    return ok;
}

void nginx_run(nginx *n, const char *top, const char *http, const char *listen,
               const char *server)
{
    const char *d = n->dir;
    for (int attempt = 0; attempt < 5; attempt++) {
        n->port = closed_port();
        FILE *f = fopen(nginx_path(n, "nginx.conf"), "w");
        ck_assert_ptr_nonnull(f);
        fprintf(f,
                "%s\ndaemon off;\nworker_processes 1;\npid %s/nginx.pid;\n"
                "error_log %s/error.log;\n"
                "events { worker_connections 1024; }\n"
                "http {\n%s\n  access_log %s/access.log m;\n"
                "  client_body_temp_path %s/tmp;\n  proxy_temp_path %s/tmp;\n"
                "  fastcgi_temp_path %s/tmp;\n  uwsgi_temp_path %s/tmp;\n"
                "  scgi_temp_path %s/tmp;\n"
                "  server {\n    listen 127.0.0.1:%d %s;\n    root %s/www;\n"
                "%s\n  }\n}\n",
                top, d, d, http, d, d, d, d, d, d, n->port, listen, d, server);
        fclose(f);
        pid_t pid = fork();
        ck_assert_int_ge(pid, 0);
        if (pid == 0) {
            /* it ends with this test, whatever becomes of the test */
            prctl(PR_SET_PDEATHSIG, SIGTERM);
            int null = open("/dev/null", O_RDWR);
            dup2(null, STDIN_FILENO);
            dup2(null, STDOUT_FILENO);
            dup2(null, STDERR_FILENO);
            execl("/usr/bin/timeout", "timeout", "600", NGINX_BIN, "-q", "-c",
                  nginx_path(n, "nginx.conf"), "-p", d, "-e",
                  nginx_path(n, "error.log"), (char *)NULL);
            _exit(127);
        }
        for (int i = 0; i < 200 && !nginx_listening(n->port); i++)
            usleep(25000);
        if (nginx_listening(n->port)) {
            n->pid = pid;
            return;
        }
        kill(pid, SIGTERM); /* the port was taken meanwhile: another */
        run_reap(pid);
    }
    ck_abort_msg("nginx did not start: %s", nginx_path(n, "error.log"));
}

/* nginx writes a request's log line as it finishes the request, in the
   same event as its last bytes, so a client can be done before the line
   is there. With one worker, once it has answered a request of ours,
   every request it answered before is logged. */
static void nginx_settle(const nginx *n)
{
    struct sockaddr_in a = {.sin_family = AF_INET};
    a.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
    a.sin_port = htons((unsigned short)n->port);
    int fd = socket(AF_INET, SOCK_STREAM, 0);
    ck_assert_int_ge(fd, 0);
    ck_assert_int_eq(connect(fd, (struct sockaddr *)&a, sizeof a), 0);
    static const char req[] = "GET /.settle HTTP/1.0\r\n\r\n";
    ck_assert(write(fd, req, sizeof req - 1) == (ssize_t)(sizeof req - 1));
    char buf[4096];
    while (read(fd, buf, sizeof buf) > 0) /* until nginx closes: answered */
        ;
    close(fd);
}

char *nginx_log(const nginx *n, size_t *len)
{
    nginx_settle(n);
    size_t all;
    char *text = slurp(nginx_path(n, "access.log"), &all), *out = text;
    for (char *line = text, *end; *line; line = end) {
        end = strchr(line, '\n');
        end = end ? end + 1 : line + strlen(line);
        if (!memmem(line, (size_t)(end - line), "/.settle", 8)) {
            memmove(out, line, (size_t)(end - line));
            out += end - line;
        }
    }
    *out = '\0';
    *len = (size_t)(out - text);
    return text;
}

void nginx_stop(nginx *n)
{
    char cmd[256];
    if (n->pid > 0) {
        kill(n->pid, SIGTERM); /* timeout passes it on to nginx */
        run_reap(n->pid);
        n->pid = 0;
    }
    if (n->dir[0]) {
        snprintf(cmd, sizeof cmd, "rm -rf %s", n->dir);
        ck_assert_int_eq(system(cmd), 0);
        n->dir[0] = '\0';
    }
}

void ts_stop(test_server *s)
{
    if (s->pid <= 0)
        return;
    close(s->stdin_fd);
    waitpid(s->pid, NULL, 0);
    s->pid = 0;
}

const char *ts_url(const test_server *s, const char *fmt, ...)
{
    static char bufs[64][256];
    static int next;
    char *b = bufs[next++ % 64];
    int n = snprintf(b, 256, "%s", s->base);
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(b + n, 256 - (size_t)n, fmt, ap);
    va_end(ap);
    return b;
}

static size_t collect(char *p, size_t size, size_t n, void *arg)
{
    char **buf = arg;
    size_t old = *buf ? strlen(*buf) : 0;
    *buf = realloc(*buf, old + size * n + 1);
    memcpy(*buf + old, p, size * n);
    (*buf)[old + size * n] = '\0';
    return size * n;
}

/* A plain blocking libcurl GET: the counters are read outside libfetch. */
static char *http_get(const test_server *s, const char *path)
{
    char *body = NULL;
    CURL *e = curl_easy_init();
    curl_easy_setopt(e, CURLOPT_URL, ts_url(s, "%s", path));
    curl_easy_setopt(e, CURLOPT_WRITEFUNCTION, collect);
    curl_easy_setopt(e, CURLOPT_WRITEDATA, &body);
    ck_assert_int_eq(curl_easy_perform(e), CURLE_OK);
    curl_easy_cleanup(e);
    return body ? body : strdup(""); /* an empty log */
}

void ts_stats(const test_server *s, long *inflight, long *max, long *total)
{
    char *body = http_get(s, "/stats");
    ck_assert_int_eq(
        sscanf(body, "inflight %ld max %ld total %ld", inflight, max, total),
        3);
    free(body);
}

void ts_reset(const test_server *s)
{
    free(http_get(s, "/reset"));
}

size_t ts_log(const test_server *s, ts_entry **out)
{
    char *body = http_get(s, "/log"), *line, *save = NULL;
    size_t n = 0;
    *out = NULL;
    for (line = strtok_r(body, "\n", &save); line;
         line = strtok_r(NULL, "\n", &save)) {
        *out = realloc(*out, (n + 1) * sizeof **out);
        ts_entry *e = &(*out)[n++];
        ck_assert_int_eq(sscanf(line, "%lf %63s %7s %191s", &e->at, e->host,
                                e->method, e->path),
                         4);
    }
    free(body);
    return n;
}

size_t ts_seen(const test_server *s, const char *prefix)
{
    ts_entry *log;
    size_t n = ts_log(s, &log), k = 0;
    for (size_t i = 0; i < n; i++)
        k += !strncmp(log[i].path, prefix, strlen(prefix));
    free(log);
    return k;
}

double ts_gap(const test_server *s, const char *prefix)
{
    ts_entry *log;
    size_t n = ts_log(s, &log), k = 0;
    double at[2] = {0, 0};
    for (size_t i = 0; i < n && k < 2; i++)
        if (!strncmp(log[i].path, prefix, strlen(prefix)))
            at[k++] = log[i].at;
    free(log);
    ck_assert_uint_eq(k, 2);
    return at[1] - at[0];
}

double *ts_gaps(const test_server *s, size_t *n)
{
    ts_entry *log;
    size_t k = ts_log(s, &log);
    double *g = calloc(k ? k : 1, sizeof *g);
    for (size_t i = 1; i < k; i++)
        g[i - 1] = log[i].at - log[i - 1].at;
    *n = k ? k - 1 : 0;
    free(log);
    return g;
}

const char *fetchall;

void cli_setup(void)
{
    fetchall = getenv("FETCHALL");
    if (!fetchall)
        fetchall = "src/fetchall/fetchall";
    srv_setup();
}

int closed_port(void)
{
    struct sockaddr_in a = {.sin_family = AF_INET};
    socklen_t len = sizeof a;
    int fd = socket(AF_INET, SOCK_STREAM, 0);
    a.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
    ck_assert_int_eq(bind(fd, (struct sockaddr *)&a, len), 0);
    ck_assert_int_eq(getsockname(fd, (struct sockaddr *)&a, &len), 0);
    close(fd); /* bound, never listened: connecting is refused */
    return ntohs(a.sin_port);
}

static void read_all(int fd, char **buf, size_t *len)
{
    size_t cap = 4096;
    *buf = malloc(cap);
    *len = 0;
    for (;;) {
        if (*len + 1 >= cap)
            *buf = realloc(*buf, cap *= 2);
        ssize_t n = read(fd, *buf + *len, cap - *len - 1);
        if (n < 0 && errno == EINTR)
            continue;
        if (n <= 0)
            break;
        *len += (size_t)n;
    }
    (*buf)[*len] = '\0';
}

static pid_t spawn(const char *const argv[], int in, int out, int err,
                   unsigned long nofile, int ignored)
{
    const char *vg = getenv("FETCH_VALGRIND");
    pid_t pid = fork();
    ck_assert_int_ge(pid, 0);
    if (pid > 0)
        return pid;
    /* the command starts as from a shell, whatever ran the tests (nohup
       ignores SIGHUP, "make check &" SIGINT): only what the test asks */
    static const int sigs[] = {SIGINT, SIGTERM, SIGHUP, SIGQUIT, SIGPIPE};
    sigset_t none;
    for (size_t i = 0; i < sizeof sigs / sizeof *sigs; i++)
        signal(sigs[i], sigs[i] == ignored ? SIG_IGN : SIG_DFL);
    sigemptyset(&none);
    sigprocmask(SIG_SETMASK, &none, NULL);
    const char *full[128];
    char ulimit[64];
    int n = 0, null = open("/dev/null", O_RDWR);
    char *copy = vg && *vg ? strdup(vg) : NULL;
    if (nofile) { /* a shell sets it: under valgrind, setrlimit() here
                     would only be emulated, and lost at exec */
        snprintf(ulimit, sizeof ulimit, "ulimit -n %lu && exec \"$@\"", nofile);
        full[n++] = "/bin/sh";
        full[n++] = "-c";
        full[n++] = ulimit;
        full[n++] = "sh";
    }
    for (char *tok = copy ? strtok(copy, " ") : NULL; tok;
         tok = strtok(NULL, " "))
        full[n++] = tok;
    for (int i = 0; argv[i] && n < 127; i++)
        full[n++] = argv[i];
    full[n] = NULL;
    dup2(in >= 0 ? in : null, STDIN_FILENO);
    dup2(out >= 0 ? out : null, STDOUT_FILENO);
    dup2(err >= 0 ? err : null, STDERR_FILENO);
    for (int fd = 3; fd < 1024; fd++) /* only what the test gave it */
        close(fd);
    execvp(full[0], (char *const *)full);
    _exit(127);
}

pid_t run_spawn(const char *const argv[], int in, int out, int err,
                unsigned long nofile)
{
    return spawn(argv, in, out, err, nofile, 0);
}

pid_t run_spawn_ignoring(const char *const argv[], int out, int sig)
{
    return spawn(argv, -1, out, -1, 0, sig);
}

int run_reap(pid_t pid)
{
    int st;
    ck_assert_int_eq(waitpid(pid, &st, 0), pid);
    return WIFEXITED(st) ? WEXITSTATUS(st) : 128 + WTERMSIG(st);
}

void run_cmd(run_result *r, const char *stdin_data, const char *const argv[])
{
    int in[2], out[2], err[2];
    memset(r, 0, sizeof *r);
    ck_assert_int_eq(pipe(in), 0);
    ck_assert_int_eq(pipe(out), 0);
    ck_assert_int_eq(pipe(err), 0);
    pid_t pid = run_spawn(argv, in[0], out[1], err[1], 0);
    close(in[0]);
    close(out[1]);
    close(err[1]);
    /* small inputs only: fits the pipe buffer, so no deadlock */
    if (stdin_data)
        ck_assert(write(in[1], stdin_data, strlen(stdin_data)) ==
                  (ssize_t)strlen(stdin_data));
    close(in[1]);
    /* stderr is small; read stdout fully first, then stderr */
    read_all(out[0], &r->out, &r->out_len);
    read_all(err[0], &r->err, &r->err_len);
    close(out[0]);
    close(err[0]);
    r->status = run_reap(pid);
}

void run_free(run_result *r)
{
    free(r->out);
    free(r->err);
}

char *expected_bytes(size_t n)
{
    char *b = malloc(n + 1);
    for (size_t i = 0; i < n; i++)
        b[i] = (char)('a' + i % 26);
    b[n] = '\0';
    return b;
}

size_t count_str(const char *h, const char *needle)
{
    size_t n = 0;
    for (const char *p = h; (p = strstr(p, needle)); p += strlen(needle))
        n++;
    return n;
}

/* Starts spaced by gap at least, as the server saw them. A request reaches
   the server a little after its start, and not always as quickly: a new
   connection, a slow machine, and under valgrind the first requests (code
   run for the first time) lag by up to 0.1 s. That moves single gaps, not
   the span of many. So: the mean gap after the first three (the span of
   the rest) at least 0.85 x gap, and every 4 gaps in a row at least 1.5 x
   gap; a limiter that let a burst through has gaps of about 0 and fails
   both. Returns that mean. */
double assert_spaced(const double *g, size_t n, double gap)
{
    double sum = 0;
    char all[2048];
    size_t at = 0;
    ck_assert_uint_ge(n, 8);
    for (size_t i = 0; i < n && at < sizeof all - 16; i++) /* for a failure */
        at += (size_t)snprintf(all + at, sizeof all - at, " %.3f", g[i]);
    for (size_t i = 3; i < n; i++)
        sum += g[i];
    ck_assert_msg(sum / (double)(n - 3) >= 0.85 * gap,
                  "mean gap %.3f < 0.85 x %.3f; gaps:%s", sum / (double)(n - 3),
                  gap, all);
    for (size_t i = 0; i + 4 <= n; i++)
        ck_assert_msg(g[i] + g[i + 1] + g[i + 2] + g[i + 3] >= 1.5 * gap,
                      "gaps %zu-%zu sum to less than 1.5 x %.3f; gaps:%s", i,
                      i + 3, gap, all);
    return sum / (double)(n - 3);
}

char *slurp(const char *path, size_t *len)
{
    FILE *f = fopen(path, "rb");
    ck_assert_ptr_nonnull(f);
    char *buf = NULL;
    size_t cap = 0;
    *len = 0;
    for (size_t n;
         (n = fread(buf ? buf + *len : NULL, 1, cap - *len, f)) || !feof(f);) {
        *len += n;
        if (*len == cap)
            ck_assert_ptr_nonnull(buf = realloc(buf, cap = cap * 2 + 4096));
    }
    fclose(f);
    buf = realloc(buf, *len + 1);
    buf[*len] = '\0';
    return buf;
}
