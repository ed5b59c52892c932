/* SPDX-License-Identifier: MIT */
/* Test helpers: the loopback test server and running commands. */
#ifndef HARNESS_H
#define HARNESS_H

#include <stddef.h>
#include <sys/types.h>

/* One tests/server/testserver process on an ephemeral 127.0.0.1 port. */
typedef struct test_server {
    pid_t pid;
    int stdin_fd; /* closing it makes the server exit */
    int port;
    char base[64]; /* "http://127.0.0.1:PORT" */
} test_server;

void ts_start(test_server *s);
/* tests/server/faultserver instead: the endpoints that misbehave. */
void fs_start(test_server *s);
/* The same over HTTPS with cert/key (see tls_files); base is https://. */
void ts_start_tls(test_server *s, const char *cert, const char *key);
/* ... and asks each client for a certificate signed by client_ca. */
void ts_start_tls_client_ca(test_server *s, const char *cert, const char *key,
                            const char *client_ca);
/* A self-signed certificate for 127.0.0.1 and localhost, made with the
   openssl command in dir: dir/cert.pem, dir/key.pem. */
void tls_files(const char *dir, char *cert, char *key, size_t len);
void ts_stop(test_server *s);

/* nginx, as Debian ships it, on a port of its own on 127.0.0.1, with a
   directory of its own (dir): nginx.conf, error.log, access.log (in
   log_format m, which http must define), tmp/ and www/, the root. */
typedef struct nginx {
    char dir[64];
    pid_t pid;
    int port;
} nginx;
#define NGINX_BIN "/usr/sbin/nginx"
#define NGINX_ECHO "/usr/lib/nginx/modules/ngx_http_echo_module.so"
/* Is nginx there (and, if echo, its echo module)? */
int nginx_installed(int echo);
/* Make dir, dir/tmp and dir/www: files go there before nginx_run(). */
void nginx_init(nginx *n);
/* Start it, for at most ten minutes, ending with the test: top goes
   before events (load_module), http into http {}, listen after the
   address and port ("ssl http2"), server into server {}. */
void nginx_run(nginx *n, const char *top, const char *http, const char *listen,
               const char *server);
/* Its access log (to free; *len its bytes), once every request it has
   answered is in it (a request of the harness's own, /.settle, waits for
   that; its lines are left out). For nginx with one worker and http. */
char *nginx_log(const nginx *n, size_t *len);
/* Stop it and remove dir. */
void nginx_stop(nginx *n);
/* dir/name, into a static rotating buffer (valid for 16 calls). */
const char *nginx_path(const nginx *n, const char *name);

/* base + path into a static rotating buffer (valid for 64 calls). */
const char *ts_url(const test_server *s, const char *fmt, ...)
    __attribute__((format(printf, 2, 3)));
/* The server's counters: requests being answered now, most at once, total. */
void ts_stats(const test_server *s, long *inflight, long *max, long *total);
void ts_reset(const test_server *s);
/* The server's /log since the last reset: each request as it arrived. */
typedef struct ts_entry {
    double at; /* the server's monotonic clock */
    char host[64], method[8], path[192];
} ts_entry;
/* The entries (malloc'd array, free() it) and how many. */
size_t ts_log(const test_server *s, ts_entry **out);
/* A 127.0.0.1 port where nothing listens (connecting is refused). */
int closed_port(void);
/* How many requests the server logged whose path starts with prefix. */
size_t ts_seen(const test_server *s, const char *prefix);
/* Seconds between the first two of them. */
double ts_gap(const test_server *s, const char *prefix);
/* The gaps between consecutive requests the server logged (malloc'd);
 *n of them. */
double *ts_gaps(const test_server *s, size_t *n);
/* The n gaps g show starts at least gap seconds apart, allowing for the
   lag of single requests on their way to the server (see harness.c).
   Returns the mean gap (the first three left out). */
double assert_spaced(const double *g, size_t n, double gap);

/* The command suites: the fetchall under test ($FETCHALL, else the
   build's), set by cli_setup(), a fixture that also starts `srv`. */
extern const char *fetchall;
void cli_setup(void);
#define FETCHALL_ARGV(...) ((const char *const[]){fetchall, __VA_ARGS__, NULL})
#define RUN(r, input, ...) run_cmd(r, input, FETCHALL_ARGV(__VA_ARGS__))

/* The fixture every suite uses: one server per test, in `srv`. */
extern test_server srv;
void srv_setup(void);
void srv_teardown(void);

/* Run a suite; the exit status for main(): 0 when every test passed. */
struct Suite;
int run_suite(struct Suite *s);
/* Run the library's suite twice: its clients with one event loop (the
   client's thread), then with three (threads of their own). */
int run_suite_loops(struct Suite *(*make)(void));
/* The loops of the run under way: test_options() and client_with() use
   them. */
extern int test_loops;
struct fetch_options;
void test_options(struct fetch_options *o);

/* Monotonic seconds. */
double now_s(void);

/* Seed the random choices of a test (srand) from $FETCH_TEST_SEED, or
   from the clock when it is not set, and say which on stdout (the test's
   log), so that a failure can be replayed: FETCH_TEST_SEED=N make check.
   Returns the seed. */
unsigned test_seed(const char *test);

/* A command's outcome. */
typedef struct run_result {
    int status; /* exit status, or 128 + signal */
    char *out, *err;
    size_t out_len, err_len;
} run_result;

/* Run argv (argv[0] = program path) with stdin_data on stdin (NULL: empty),
   under $FETCH_VALGRIND when set. */
void run_cmd(run_result *r, const char *stdin_data, const char *const argv[]);
void run_free(run_result *r);
/* Start argv with these descriptors as its stdin, stdout and stderr (-1:
   /dev/null), its open-file limit set to nofile when not 0, under
   $FETCH_VALGRIND when set. */
pid_t run_spawn(const char *const argv[], int in, int out, int err,
                unsigned long nofile);
/* The same, stdin and stderr /dev/null, with sig ignored (as nohup
   starts a command with SIGHUP ignored). */
pid_t run_spawn_ignoring(const char *const argv[], int out, int sig);
/* Wait for it: its exit status, or 128 + the signal that ended it. */
int run_reap(pid_t pid);

/* The whole file at path (NUL-terminated; *len its bytes), to free. */
char *slurp(const char *path, size_t *len);

/* Expected body of /bytes/N. */
char *expected_bytes(size_t n);
/* Count occurrences of needle in haystack. */
size_t count_str(const char *haystack, const char *needle);

/* libfetch helpers for the library suites. Every client a test makes
   goes through client_new() and ends with client_free(), which asserts it
   idle; the fixture's teardown fails a test that left one behind (as
   libuv's tests assert uv_loop_close() == 0). */
struct fetch_client;
struct event_base;
struct fetch_client *client_new(const struct fetch_options *o,
                                struct event_base *base);
/* A client with these limits (timeout in seconds, 0 = none). */
struct fetch_client *client_with(int concurrency, int per_host, double timeout);
/* Nothing queued or running, no socket watched, no timer pending (a loop
   thread has a moment to take a cancelled transfer out). */
void assert_idle(struct fetch_client *c);
void client_free(struct fetch_client *c);
/* A request and its result, the wait's return checked (the task's own
   result, never a call error). */
struct fetch_task;
struct fetch_request;
struct fetch_task *get_one(struct fetch_client *c, const char *url);
struct fetch_task *submit_wait(struct fetch_client *c,
                               const struct fetch_request *r);
/* get_one()'s body, malloc'd; the task is freed. */
char *get_body(struct fetch_client *c, const char *url);
void free_all(struct fetch_task **tasks, size_t n);
/* A completion callback that records its arg (an int) in done_order. */
extern int done_order[16], n_done;
void record(struct fetch_task *t, void *arg);
/* Free a client that still has work, on purpose (it is the test). */
void client_drop(struct fetch_client *c);

#endif
