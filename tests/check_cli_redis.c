/* SPDX-License-Identifier: MIT */
/* fetchall enqueue, worker and results against a redis-server of the
   test's own (a unix socket in a scratch directory): chunks of a killed
   worker are taken over, results are stored exactly once however workers
   die, dead letters, a Redis restart in the middle, enqueue idempotence,
   results in request order. */
#define _GNU_SOURCE
#include <check.h>
#include <arpa/inet.h>
#include <errno.h>
#include <fcntl.h>
#include <hiredis/hiredis.h>
#include <jansson.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <netinet/in.h>
#include <sys/socket.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

#include "harness.h"

static char dir[64], sock[128], redis_arg[160];
static pid_t redis_pid;

static char *in_dir(const char *name)
{
    static char path[8][160];
    static int k;
    char *p = path[k++ % 8];
    snprintf(p, 160, "%s/%s", dir, name);
    return p;
}

/* redis-server on dir/redis.sock; persist: an append-only file synced at
   every write (to survive a restart), else nothing on disk. */
static void redis_start(int persist)
{
    redis_pid = fork();
    ck_assert_int_ge(redis_pid, 0);
    if (redis_pid == 0) {
        int null = open("/dev/null", O_RDWR);
        dup2(null, STDOUT_FILENO);
        dup2(null, STDERR_FILENO);
        execlp("redis-server", "redis-server", "--port", "0", "--unixsocket",
               sock, "--dir", dir, "--save", "", "--appendonly",
               persist ? "yes" : "no", "--appendfsync", "always", NULL);
        _exit(127);
    }
    double give_up = now_s() + 20;
    for (;;) { /* until it answers */
        redisContext *c = redisConnectUnix(sock);
        int up = c && !c->err;
        redisFree(c);
        if (up)
            return;
        ck_assert_msg(now_s() < give_up, "redis-server did not start");
        usleep(20000);
    }
}

static void redis_stop(void)
{
    kill(redis_pid, SIGTERM);
    waitpid(redis_pid, NULL, 0);
}

static redisContext *rc(void)
{
    redisContext *c = redisConnectUnix(sock);
    ck_assert(c && !c->err);
    return c;
}

static long long redis_int(const char *fmt, const char *arg)
{
    redisContext *c = rc();
    redisReply *r = redisCommand(c, fmt, arg);
    ck_assert_ptr_nonnull(r);
    long long v = r->type == REDIS_REPLY_INTEGER ? r->integer
                  : r->type == REDIS_REPLY_ARRAY ? (long long)r->elements
                                                 : -1;
    freeReplyObject(r);
    redisFree(c);
    return v;
}

/* Entries ever added to a stream (XINFO STREAM's entries-added): what
   was stored, also once fetchall results has consumed it. */
static long long stream_added(const char *key)
{
    redisContext *c = rc();
    redisReply *r = redisCommand(c, "XINFO STREAM %s", key);
    long long v = -1;
    ck_assert_ptr_nonnull(r);
    for (size_t i = 0; r->type == REDIS_REPLY_ARRAY && i + 1 < r->elements;
         i += 2)
        if (!strcmp(r->element[i]->str, "entries-added"))
            v = r->element[i + 1]->integer;
    freeReplyObject(r);
    redisFree(c);
    return v;
}

static void setup(void)
{
    cli_setup();
    snprintf(dir, sizeof dir, "/tmp/fetchall-redis-XXXXXX");
    ck_assert_ptr_nonnull(mkdtemp(dir));
    snprintf(sock, sizeof sock, "%s/redis.sock", dir);
    snprintf(redis_arg, sizeof redis_arg, "unix://%s", sock);
    redis_start(0);
}

static void teardown(void)
{
    char cmd[160];
    redis_stop();
    snprintf(cmd, sizeof cmd, "rm -rf '%s'", dir);
    ck_assert_int_eq(system(cmd), 0);
    srv_teardown();
}

/* n URLs /delay/MS?i=N, MS from 0 to ms_max, into dir/name. */
static const char *url_file(const char *name, size_t n, int ms_max)
{
    const char *path = in_dir(name);
    FILE *f = fopen(path, "w");
    ck_assert_ptr_nonnull(f);
    for (size_t i = 1; i <= n; i++)
        fprintf(f, "%s\n",
                ts_url(&srv, "/delay/%zu?i=%zu", (i * 7919) % (ms_max + 1), i));
    fclose(f);
    return path;
}

/* dir/name's text (a static buffer). */
static const char *text_of(const char *name)
{
    static char text[8192];
    FILE *f = fopen(in_dir(name), "r");
    ck_assert_ptr_nonnull(f);
    size_t len = fread(text, 1, sizeof text - 1, f);
    fclose(f);
    text[len] = '\0';
    return text;
}

/* fetchall enqueue of the URLs in path, chunk URLs an entry. */
static void enqueue(const char *chunk, const char *path)
{
    run_result r;
    RUN(&r, NULL, "enqueue", "--redis", redis_arg, "--chunk", chunk, "-i",
        path);
    ck_assert_int_eq(r.status, 0);
    run_free(&r);
}

/* ... refused (exit 2), saying so. */
static void enqueue_refused(const char *chunk, const char *path,
                            const char *says)
{
    run_result r;
    RUN(&r, NULL, "enqueue", "--redis", redis_arg, "--chunk", chunk, "-i",
        path);
    ck_assert_int_eq(r.status, 2);
    ck_assert_ptr_nonnull(strstr(r.err, says));
    run_free(&r);
}

static pid_t worker(const char *name, const char *err_file, const char *j,
                    const char *claim_idle, const char *max_deliveries)
{
    int err = err_file ? open(in_dir(err_file), O_WRONLY | O_CREAT, 0644) : -1;
    pid_t pid =
        run_spawn(FETCHALL_ARGV("worker", "--redis", redis_arg, "--name", name,
                                "-j", j, "--claim-idle", claim_idle,
                                "--max-deliveries", max_deliveries),
                  -1, -1, err, 0);
    if (err >= 0)
        close(err);
    return pid;
}

/* Until the group's pending list holds something (a worker took work). */
static void wait_pending(void)
{
    double give_up = now_s() + 30;
    while (redis_int("XPENDING %s workers - + 1000", "{fetchall}:work") <= 0) {
        ck_assert_msg(now_s() < give_up, "no worker took anything");
        usleep(10000);
    }
}

/* fetchall results' stdout: each index 1..n exactly once, in order unless
   any_order; returns how many records are ok, and counts workers' names
   other than "" in *named. */
static size_t check_results(const char *out, size_t n, int any_order,
                            size_t *dead)
{
    unsigned char *seen = calloc(n + 1, 1);
    size_t lines = 0, ok = 0, expect = 1;
    *dead = 0;
    for (const char *p = out; *p;) {
        const char *nl = strchr(p, '\n');
        ck_assert_ptr_nonnull(nl);
        json_error_t je;
        json_t *o = json_loadb(p, (size_t)(nl - p), 0, &je);
        ck_assert_msg(o != NULL, "line %zu: %s", lines, je.text);
        json_int_t i = json_integer_value(json_object_get(o, "index"));
        ck_assert(i >= 1 && (size_t)i <= n);
        ck_assert_msg(!seen[i], "index %d twice", (int)i);
        seen[i] = 1;
        if (!any_order)
            ck_assert_int_eq(i, expect++);
        ck_assert_int_eq(json_integer_value(json_object_get(o, "schema")), 1);
        ck_assert_ptr_nonnull(json_object_get(o, "worker"));
        ck_assert_ptr_nonnull(json_object_get(o, "time_total"));
        if (json_is_true(json_object_get(o, "ok")))
            ok++;
        const char *kind = json_string_value(json_object_get(o, "error_kind"));
        if (kind && !strcmp(kind, "dead_letter"))
            ++*dead;
        json_decref(o);
        lines++;
        p = nl + 1;
    }
    ck_assert_uint_eq(lines, n);
    free(seen);
    return ok;
}

/* fetchall results: n records, each position once, in order, all ok. */
static void all_ok(size_t n)
{
    run_result r;
    size_t dead;
    RUN(&r, NULL, "results", "--redis", redis_arg);
    ck_assert_msg(r.status == 0, "results: exit %d: %s", r.status, r.err);
    ck_assert_uint_eq(check_results(r.out, n, 0, &dead), n);
    run_free(&r);
}

START_TEST(enqueue_is_idempotent)
{
    run_result r;
    const char *list = url_file("urls", 600, 10);
    RUN(&r, NULL, "enqueue", "--redis", redis_arg, "--chunk", "50", "-i", list);
    ck_assert_int_eq(r.status, 0);
    ck_assert_ptr_nonnull(strstr(r.err, "600 URLs"));
    ck_assert_ptr_nonnull(strstr(r.err, "12 chunks added, 0 there already"));
    run_free(&r);
    ck_assert_int_eq(redis_int("XLEN %s", "{fetchall}:work"), 12);
    /* again: nothing added */
    RUN(&r, NULL, "enqueue", "--redis", redis_arg, "--chunk", "50", "-i", list);
    ck_assert_int_eq(r.status, 0);
    ck_assert_ptr_nonnull(strstr(r.err, "0 chunks added, 12 there already"));
    run_free(&r);
    ck_assert_int_eq(redis_int("XLEN %s", "{fetchall}:work"), 12);
    /* another chunk size, other URLs, another length: refused */
    enqueue_refused("40", list, "filled with --chunk 50");
    enqueue_refused("50", url_file("other", 600, 11),
                    "holds other URLs at position 1");
    enqueue_refused("50", url_file("shorter", 500, 10),
                    "input of another length");
    ck_assert_int_eq(redis_int("XLEN %s", "{fetchall}:work"), 12);
    /* another queue takes it; stdin works too */
    RUN(&r, "http://127.0.0.1:1/a\nhttp://127.0.0.1:1/b\n", "enqueue",
        "--redis", redis_arg, "--queue", "other");
    ck_assert_int_eq(r.status, 0);
    run_free(&r);
    ck_assert_int_eq(redis_int("XLEN %s", "{other}:work"), 1);
}
END_TEST

/* enqueue --sitemap: a sitemap's URLs after -i's, in sitemap order;
   a malformed one queues what came before its error, exit 2. */
START_TEST(enqueue_reads_sitemaps)
{
    FILE *f = fopen(in_dir("sitemap.xml"), "w");
    ck_assert_ptr_nonnull(f);
    fprintf(f, "<?xml version=\"1.0\"?>\n<urlset "
               "xmlns=\"http://www.sitemaps.org/schemas/sitemap/0.9\">\n");
    for (int i = 3; i >= 1; i--)
        fprintf(f, "<url><loc>%s</loc></url>\n", ts_url(&srv, "/echo/s%d", i));
    fprintf(f, "<url><loc>%s</loc></url\n<url>\n", ts_url(&srv, "/echo/s0"));
    fclose(f);
    run_result r;
    RUN(&r, NULL, "enqueue", "--redis", redis_arg, "-i", url_file("urls", 2, 0),
        "--sitemap", in_dir("sitemap.xml"));
    ck_assert_int_eq(r.status, 2);
    ck_assert_ptr_nonnull(
        strstr(r.err, "sitemap.xml: line 7: not well-formed"));
    ck_assert_ptr_nonnull(strstr(r.err, "6 URLs"));
    run_free(&r);
    ck_assert_int_eq(run_reap(worker("a", NULL, "4", "30", "5")), 0);
    RUN(&r, NULL, "results", "--redis", redis_arg);
    ck_assert_int_eq(r.status, 0);
    const char *want[] = {"/delay/",  "/delay/",  "/echo/s3",
                          "/echo/s2", "/echo/s1", "/echo/s0"};
    const char *p = r.out;
    for (size_t i = 0; i < 6; i++) { /* one record a line, in order */
        const char *nl = strchr(p, '\n');
        ck_assert_ptr_nonnull(nl);
        json_t *o = json_loadb(p, (size_t)(nl - p), 0, NULL);
        ck_assert_ptr_nonnull(o);
        const char *u = json_string_value(json_object_get(o, "url"));
        ck_assert_msg(u && strstr(u, want[i]), "record %zu: %s, not %s", i + 1,
                      u ? u : "(none)", want[i]);
        json_decref(o);
        p = nl + 1;
    }
    ck_assert_str_eq(p, "");
    run_free(&r);
}
END_TEST

START_TEST(results_in_request_order_each_once)
{
    enum { N = 1000 };
    run_result r;
    size_t dead;
    enqueue("64", url_file("urls", N, 60));
    /* results waits while two workers fetch */
    pid_t a = worker("a", NULL, "30", "30", "5"),
          b = worker("b", NULL, "30", "30", "5");
    RUN(&r, NULL, "results", "--redis", redis_arg);
    ck_assert_int_eq(r.status, 0);
    ck_assert_uint_eq(check_results(r.out, N, 0, &dead), N);
    ck_assert_ptr_nonnull(strstr(r.err, "1000 URLs: 1000 ok, 0 failed"));
    run_free(&r);
    ck_assert_int_eq(run_reap(a), 0); /* both end when the queue is done */
    ck_assert_int_eq(run_reap(b), 0);
    ck_assert_uint_eq(ts_seen(&srv, "/delay/"), N);
    ck_assert_int_eq(redis_int("XLEN %s", "{fetchall}:work"), 0);
    /* results consumed what it wrote out: a second one has nothing more,
       and says what the first wrote */
    ck_assert_int_eq(redis_int("XLEN %s", "{fetchall}:results"), 0);
    RUN(&r, NULL, "results", "--redis", redis_arg);
    ck_assert_int_eq(r.status, 0);
    ck_assert_str_eq(r.out, "");
    ck_assert_ptr_nonnull(strstr(r.err, "1000 URLs: 1000 ok, 0 failed"));
    ck_assert_ptr_nonnull(strstr(r.err, "1000 written out by an earlier run"));
    run_free(&r);
}
END_TEST

/* --as-completed: as the chunks came, each position once. */
START_TEST(results_as_completed_each_once)
{
    enum { N = 600 };
    run_result r;
    size_t dead;
    enqueue("50", url_file("urls", N, 60));
    pid_t a = worker("a", NULL, "30", "30", "5"),
          b = worker("b", NULL, "30", "30", "5");
    RUN(&r, NULL, "results", "--redis", redis_arg, "--as-completed");
    ck_assert_int_eq(r.status, 0);
    ck_assert_uint_eq(check_results(r.out, N, 1, &dead), N);
    run_free(&r);
    ck_assert_int_eq(run_reap(a), 0);
    ck_assert_int_eq(run_reap(b), 0);
    ck_assert_int_eq(redis_int("XLEN %s", "{fetchall}:results"), 0);
}
END_TEST

START_TEST(a_killed_workers_chunks_are_taken_over)
{
    enum { N = 300 };
    enqueue("25", url_file("urls", N, 300));
    pid_t a = worker("a", NULL, "10", "1", "5");
    wait_pending();
    kill(a, SIGKILL);
    run_reap(a);
    long long held =
        redis_int("XPENDING %s workers - + 1000 a", "{fetchall}:work");
    ck_assert_int_gt(held, 0);
    pid_t b = worker("b", "b.err", "40", "1", "5");
    all_ok(N);
    ck_assert_int_eq(run_reap(b), 0);
    ck_assert_int_eq(redis_int("XLEN %s", "{fetchall}:work"), 0);
    ck_assert_int_eq(stream_added("{fetchall}:results"), N / 25);
    ck_assert_int_eq(redis_int("XLEN %s", "{fetchall}:results"), 0);
    /* b fetched what a held: at least once */
    ck_assert_uint_ge(ts_seen(&srv, "/delay/"), N);
}
END_TEST

START_TEST(exactly_once_with_3_workers_and_a_kill_9)
{
    enum { N = 400, ROUNDS = 3 };
    test_seed("exactly_once_with_3_workers_and_a_kill_9");
    for (int round = 0; round < ROUNDS; round++) {
        run_result r;
        char queue_flush[64];
        snprintf(queue_flush, sizeof queue_flush, "FLUSHALL");
        redisContext *c = rc();
        freeReplyObject(redisCommand(c, queue_flush));
        redisFree(c);
        ts_reset(&srv);
        RUN(&r, NULL, "enqueue", "--redis", redis_arg, "--chunk", "20", "-i",
            url_file("urls", N, 300));
        ck_assert_int_eq(r.status, 0);
        run_free(&r);
        pid_t w[3] = {worker("w1", NULL, "10", "1", "5"),
                      worker("w2", NULL, "10", "1", "5"),
                      worker("w3", NULL, "10", "1", "5")};
        /* one of them dies at a random moment of the run (about 3 s) */
        int victim = rand() % 3;
        usleep((useconds_t)(100000 + rand() % 1900000));
        kill(w[victim], SIGKILL);
        all_ok(N);
        for (int i = 0; i < 3; i++) {
            int status = run_reap(w[i]);
            if (i != victim)
                ck_assert_int_eq(status, 0);
        }
        /* one record per chunk, however often a chunk was fetched */
        ck_assert_int_eq(stream_added("{fetchall}:results"), N / 20);
        ck_assert_int_eq(redis_int("XLEN %s", "{fetchall}:results"), 0);
        ck_assert_int_eq(redis_int("SCARD %s", "{fetchall}:done"), N / 20);
        ck_assert_int_eq(redis_int("XLEN %s", "{fetchall}:work"), 0);
        ck_assert_uint_ge(ts_seen(&srv, "/delay/"), N);
    }
}
END_TEST

START_TEST(dead_letters)
{
    enum { N = 100 };
    run_result r;
    size_t dead;
    enqueue("10", url_file("urls", N, 500));
    /* a takes chunks and dies; with --max-deliveries 1 what it held is
       given up when b takes it over */
    pid_t a = worker("a", NULL, "5", "1", "1");
    wait_pending();
    kill(a, SIGKILL);
    run_reap(a);
    long long held =
        redis_int("XPENDING %s workers - + 1000 a", "{fetchall}:work");
    ck_assert_int_gt(held, 0);
    /* and an entry that is no chunk at all */
    redisContext *c = rc();
    freeReplyObject(redisCommand(c, "XADD {fetchall}:work * junk \x1b[31mred"));
    redisFree(c);
    pid_t b = worker("b", "b.err", "20", "1", "1");
    RUN(&r, NULL, "results", "--redis", redis_arg);
    ck_assert_int_eq(r.status, 1);
    size_t ok = check_results(r.out, N, 0, &dead);
    ck_assert_uint_gt(dead, 0);
    ck_assert_uint_eq(ok + dead, N);
    ck_assert_ptr_nonnull(strstr(r.err, "dead letter: delivered 2 times"));
    run_free(&r);
    ck_assert_int_eq(run_reap(b), 0);
    /* the dead-letter stream has each, with its reason; the junk too */
    c = rc();
    redisReply *d = redisCommand(c, "XRANGE {fetchall}:dead - +");
    ck_assert_uint_eq(d->elements * 10 - 10, dead);
    int junk = 0;
    for (size_t i = 0; i < d->elements; i++) {
        redisReply *f = d->element[i]->element[1];
        for (size_t k = 0; k + 1 < f->elements; k += 2)
            if (!strcmp(f->element[k]->str, "reason") &&
                strstr(f->element[k + 1]->str, "not a chunk"))
                junk++;
    }
    ck_assert_int_eq(junk, 1);
    freeReplyObject(d);
    redisFree(c);
    /* the worker said so, escaped */
    const char *text = text_of("b.err");
    ck_assert_ptr_nonnull(strstr(text, "is a dead letter: not a chunk"));
    ck_assert_ptr_null(strchr(text, '\x1b'));
}
END_TEST

START_TEST(redis_restarted_mid_run)
{
    enum { N = 300 };
    redis_stop();
    redis_start(1);
    enqueue("10", url_file("urls", N, 300));
    pid_t a = worker("a", "a.err", "10", "5", "5");
    /* until some results are stored, then Redis goes away for a while */
    double give_up = now_s() + 30;
    while (redis_int("XLEN %s", "{fetchall}:results") < 3) {
        ck_assert(now_s() < give_up);
        usleep(10000);
    }
    kill(redis_pid, SIGKILL);
    waitpid(redis_pid, NULL, 0);
    usleep(1500000);
    redis_start(1);
    all_ok(N);
    ck_assert_int_eq(run_reap(a), 0);
    const char *text = text_of("a.err");
    ck_assert_ptr_nonnull(strstr(text, "results wait until it is back"));
    ck_assert_ptr_nonnull(strstr(text, "Redis is back after"));
}
END_TEST

START_TEST(rates_hold_across_workers)
{
    enum { N = 24 };
    FILE *f = fopen(in_dir("urls"), "w");
    for (int i = 1; i <= N; i++)
        fprintf(f, "%s\n", ts_url(&srv, "/bytes/10?i=%d", i));
    fclose(f);
    enqueue("3", in_dir("urls"));
    /* three workers, one host, 8 a second in all: a request reaches the
       server some time after Redis timed its start, later from a worker
       the machine runs late (three under valgrind on two cores: up to
       0.15 s), so the gap is wide enough for that lag not to look like a
       burst */
    pid_t w[3];
    for (int i = 0; i < 3; i++)
        w[i] = run_spawn(
            FETCHALL_ARGV("worker", "--redis", redis_arg, "--host-rate", "8"),
            -1, -1, -1, 0);
    all_ok(N);
    for (int i = 0; i < 3; i++)
        ck_assert_int_eq(run_reap(w[i]), 0);
    size_t n;
    double *g = ts_gaps(&srv, &n);
    ck_assert_uint_eq(n, N - 1);
    assert_spaced(g, n, 0.125);
    free(g);
}
END_TEST

START_TEST(per_host_holds_across_workers)
{
    enum { N = 24 };
    enqueue("4", url_file("urls", N, 400));
    /* three workers, 2 in flight on the host in all */
    pid_t w[3];
    for (int i = 0; i < 3; i++)
        w[i] = run_spawn(FETCHALL_ARGV("worker", "--redis", redis_arg,
                                       "--per-host", "2", "--claim-idle", "2"),
                         -1, -1, -1, 0);
    all_ok(N);
    for (int i = 0; i < 3; i++)
        ck_assert_int_eq(run_reap(w[i]), 0);
    long inflight, max, total;
    ts_stats(&srv, &inflight, &max, &total);
    ck_assert_int_eq(total, N);
    ck_assert_int_le(max, 2);
    /* the slots were given back */
    char slots[128];
    snprintf(slots, sizeof slots, "{fetchall}:slots:http://127.0.0.1:%d",
             srv.port);
    ck_assert_int_eq(redis_int("EXISTS %s", slots), 0);
}
END_TEST

/* A host is the library's host key (fetch_host_key(): scheme, host and
   port): "LocalHost" and "localhost" are one host, so --per-host 1 holds
   over both spellings, and the rate's schedule in Redis is the key's. */
START_TEST(per_host_counts_as_the_library_does)
{
    enum { N = 16 };
    FILE *f = fopen(in_dir("urls"), "w");
    for (int i = 1; i <= N; i++)
        fprintf(f, "http://%s:%d/delay/100?i=%d\n",
                i % 2 ? "localhost" : "LocalHost", srv.port, i);
    fclose(f);
    enqueue("4", in_dir("urls"));
    pid_t w[2];
    for (int i = 0; i < 2; i++)
        w[i] = run_spawn(FETCHALL_ARGV("worker", "--redis", redis_arg,
                                       "--per-host", "1", "--host-rate", "100"),
                         -1, -1, -1, 0);
    all_ok(N);
    for (int i = 0; i < 2; i++)
        ck_assert_int_eq(run_reap(w[i]), 0);
    long inflight, max, total;
    ts_stats(&srv, &inflight, &max, &total);
    ck_assert_int_eq(total, N);
    ck_assert_int_eq(max, 1);
    char key[128];
    snprintf(key, sizeof key, "{fetchall}:host:http://localhost:%d", srv.port);
    ck_assert_int_eq(redis_int("EXISTS %s", key), 1);
    ck_assert_int_eq(redis_int("EXISTS %s", "{fetchall}:host:localhost"), 0);
}
END_TEST

/* Until dir/name says what (a worker's stderr). */
static void wait_text(const char *name, const char *what)
{
    double give_up = now_s() + 60;
    while (!strstr(text_of(name), what)) {
        ck_assert_msg(now_s() < give_up, "%s never said \"%s\": %s", name, what,
                      text_of(name));
        usleep(20000);
    }
}

/* With nobody reading the results, a worker stops taking chunks once
   --max-results records wait, says so, and goes on once they are read. */
START_TEST(workers_wait_for_their_results_to_be_read)
{
    enum { N = 400 };
    enqueue("10", url_file("urls", N, 100));
    int err = open(in_dir("w.err"), O_WRONLY | O_CREAT, 0644);
    pid_t w = run_spawn(FETCHALL_ARGV("worker", "--redis", redis_arg, "-j",
                                      "10", "--max-results", "50"),
                        -1, -1, err, 0);
    close(err);
    wait_text("w.err", "taking no more chunks until they are read");
    /* it stopped short: chunks not taken, far from all fetched */
    ck_assert_int_gt(redis_int("XLEN %s", "{fetchall}:work"), 0);
    ck_assert_uint_lt(ts_seen(&srv, "/delay/"), N);
    ck_assert_int_ge(redis_int("XLEN %s", "{fetchall}:results") * 10, 50);
    all_ok(N); /* reading lets it go on, to the end */
    ck_assert_int_eq(run_reap(w), 0);
    ck_assert_ptr_nonnull(strstr(text_of("w.err"), "going on"));
    ck_assert_uint_eq(ts_seen(&srv, "/delay/"), N);
}
END_TEST

/* The last chunk stored takes the backlog past --max-results: nothing is
   left to take, so the worker ends as a drained queue's workers do. */
START_TEST(a_worker_past_max_results_ends_when_the_work_is_done)
{
    enum { N = 100 };
    enqueue("10", url_file("urls", N, 10));
    int err = open(in_dir("w.err"), O_WRONLY | O_CREAT, 0644);
    pid_t w = run_spawn(FETCHALL_ARGV("worker", "--redis", redis_arg, "-j",
                                      "10", "--max-results", "100"),
                        -1, -1, err, 0);
    close(err);
    ck_assert_int_eq(run_reap(w), 0);
    ck_assert_int_eq(redis_int("XLEN %s", "{fetchall}:results"), N / 10);
    all_ok(N);
}
END_TEST

/* fetchall results started before enqueue waits for it, as workers do. */
START_TEST(results_started_before_enqueue_waits_for_it)
{
    enum { N = 60 };
    int out = open(in_dir("r.out"), O_WRONLY | O_CREAT, 0644),
        err = open(in_dir("r.err"), O_WRONLY | O_CREAT, 0644);
    pid_t r = run_spawn(FETCHALL_ARGV("results", "--redis", redis_arg), -1, out,
                        err, 0);
    close(out);
    close(err);
    wait_text("r.err", "waiting for fetchall enqueue");
    enqueue("10", url_file("urls", N, 10));
    pid_t w = worker("a", NULL, "10", "30", "5");
    ck_assert_int_eq(run_reap(r), 0);
    ck_assert_int_eq(run_reap(w), 0);
    size_t dead, len;
    char *got = slurp(in_dir("r.out"), &len);
    ck_assert_uint_eq(check_results(got, N, 0, &dead), N);
    free(got);
}
END_TEST

/* fetchall results killed (kill -9) at random moments and started again,
   appending to one file: every position once in the file, in order (and
   as they came with --as-completed). */
START_TEST(results_killed_and_started_again_write_each_position_once)
{
    enum { N = 1500 };
    test_seed("results_killed_and_started_again_write_each_position_once");
    for (int mode = 0; mode < 2; mode++) {
        redisContext *c = rc();
        freeReplyObject(redisCommand(c, "FLUSHALL"));
        redisFree(c);
        ts_reset(&srv);
        char path[600];
        snprintf(path, sizeof path, "%s", in_dir("out.jsonl"));
        int fd = open(path, O_WRONLY | O_CREAT | O_TRUNC | O_APPEND, 0644);
        ck_assert_int_ge(fd, 0);
        enqueue("15", url_file("urls", N, 100));
        pid_t a = worker("a", NULL, "40", "30", "5"),
              b = worker("b", NULL, "40", "30", "5");
        const char *const in_order[] = {fetchall,  "results", "--redis",
                                        redis_arg, "-q",      "--fsync",
                                        "0.05",    NULL};
        const char *const as_completed[] = {
            fetchall,  "results", "--redis",        redis_arg, "-q",
            "--fsync", "0.05",    "--as-completed", NULL};
        const char *const *argv = mode ? as_completed : in_order;
        for (int kill_at = 0; kill_at < 4; kill_at++) {
            pid_t r = run_spawn(argv, -1, fd, -1, 0);
            usleep((useconds_t)(100000 + rand() % 800000));
            kill(r, SIGKILL);
            run_reap(r);
        }
        pid_t r = run_spawn(argv, -1, fd, -1, 0);
        ck_assert_int_eq(run_reap(r), 0);
        close(fd);
        ck_assert_int_eq(run_reap(a), 0);
        ck_assert_int_eq(run_reap(b), 0);
        size_t len, dead;
        char *got = slurp(path, &len);
        ck_assert_uint_eq(check_results(got, N, mode, &dead), N);
        free(got);
        ck_assert_int_eq(redis_int("XLEN %s", "{fetchall}:results"), 0);
    }
}
END_TEST

/* One reader at a time: a second results, while the first waits for
   work, says who reads the queue, exit 2. */
START_TEST(one_results_reader_at_a_time)
{
    enqueue("10", url_file("urls", 20, 10));
    pid_t first = run_spawn(
        FETCHALL_ARGV("results", "--redis", redis_arg, "-q"), -1, -1, -1, 0);
    double give_up = now_s() + 30;
    while (redis_int("EXISTS %s", "{fetchall}:reader") != 1) {
        ck_assert(now_s() < give_up);
        usleep(10000);
    }
    run_result r;
    RUN(&r, NULL, "results", "--redis", redis_arg);
    ck_assert_int_eq(r.status, 2);
    ck_assert_ptr_nonnull(
        strstr(r.err, "is being read by another fetchall results"));
    run_free(&r);
    /* the first one still reads it all, then gives the lease back */
    pid_t w = worker("w", NULL, "10", "30", "5");
    ck_assert_int_eq(run_reap(first), 0);
    ck_assert_int_eq(run_reap(w), 0);
    ck_assert_int_eq(redis_int("EXISTS %s", "{fetchall}:reader"), 0);
}
END_TEST

/* How many names in dir/out hold "part" (a body being written). */
static int parts(void)
{
    char cmd[300];
    snprintf(cmd, sizeof cmd, "ls -a '%s' 2>/dev/null | grep -c part",
             in_dir("out"));
    FILE *p = popen(cmd, "r");
    int n = 0;
    ck_assert_int_eq(fscanf(p, "%d", &n), 1);
    pclose(p);
    return n;
}

START_TEST(a_signal_leaves_no_part_files)
{
    enum { N = 40 };
    FILE *f = fopen(in_dir("urls"), "w");
    for (int i = 1; i <= N; i++) /* bodies that take 2 s to come */
        fprintf(f, "%s\n", ts_url(&srv, "/drip/40?i=%d", i));
    fclose(f);
    enqueue("20", in_dir("urls"));
    int err = open(in_dir("a.err"), O_WRONLY | O_CREAT, 0644);
    pid_t a = run_spawn(FETCHALL_ARGV("worker", "--redis", redis_arg, "--name",
                                      "a", "-o", in_dir("out")),
                        -1, -1, err, 0);
    close(err);
    double give_up = now_s() + 30;
    while (parts() == 0) { /* until bodies are being written */
        ck_assert(now_s() < give_up);
        usleep(10000);
    }
    kill(a, SIGTERM);
    ck_assert_int_eq(run_reap(a), 128 + SIGTERM);
    ck_assert_int_eq(parts(), 0);
    const char *text = text_of("a.err");
    ck_assert_ptr_nonnull(strstr(text, "its 2 chunks go to other workers"));
}
END_TEST

START_TEST(usage_errors)
{
    run_result r;
    RUN(&r, NULL, "worker");
    ck_assert_int_eq(r.status, 2);
    ck_assert_ptr_nonnull(strstr(r.err, "fetchall worker needs --redis URL"));
    run_free(&r);
    RUN(&r, NULL, "results", "--redis", "http://x");
    ck_assert_int_eq(r.status, 2);
    ck_assert_ptr_nonnull(
        strstr(r.err, "invalid value 'http://x' for --redis"));
    run_free(&r);
    RUN(&r, NULL, "worker", "--redis", redis_arg, "--journal", "j");
    ck_assert_int_eq(r.status, 2);
    ck_assert_ptr_nonnull(
        strstr(r.err, "--journal does not go with fetchall worker"));
    run_free(&r);
    RUN(&r, NULL, "enqueue", "--redis", redis_arg, "-j", "5", "http://a/");
    ck_assert_int_eq(r.status, 2);
    ck_assert_ptr_nonnull(
        strstr(r.err, "--concurrency does not go with fetchall enqueue"));
    run_free(&r);
    RUN(&r, NULL, "--redis", redis_arg, "http://a/");
    ck_assert_int_eq(r.status, 2);
    ck_assert_ptr_nonnull(
        strstr(r.err, "--redis goes with fetchall enqueue, worker or results"));
    run_free(&r);
    RUN(&r, NULL, "results", "--redis", redis_arg, "--queue", "none", "-T",
        "0.5");
    ck_assert_int_eq(r.status, 2);
    ck_assert_ptr_nonnull(strstr(r.err, "nothing was enqueued on queue none"));
    run_free(&r);
    RUN(&r, NULL, "worker", "--redis", redis_arg, "http://a/");
    ck_assert_int_eq(r.status, 2);
    ck_assert_ptr_nonnull(strstr(r.err, "fetchall worker takes no URLs"));
    run_free(&r);
}
END_TEST

/* The scripts are called by their SHA-1 (EVALSHA), never sent whole
   (EVAL); a Redis that lost them (SCRIPT FLUSH under way) gets them again
   and every position has its record once. */
START_TEST(scripts_by_sha_and_loaded_again)
{
    enum { N = 120 };
    enqueue("10", url_file("urls", N, 50));
    ck_assert_int_eq(redis_int("CONFIG RESETSTAT%s", ""), -1);
    pid_t w = worker("w1", NULL, "4", "30", "5");
    /* once some chunks are done, Redis forgets every script */
    double give_up = now_s() + 60;
    while (redis_int("XLEN %s", "{fetchall}:results") < 2) {
        ck_assert_msg(now_s() < give_up, "no chunk done");
        usleep(10000);
    }
    redisContext *c = rc();
    freeReplyObject(redisCommand(c, "SCRIPT FLUSH"));
    ck_assert_int_eq(run_reap(w), 0);
    run_result r;
    RUN(&r, NULL, "results", "--redis", redis_arg);
    ck_assert_int_eq(r.status, 0);
    size_t dead;
    ck_assert_uint_eq(check_results(r.out, N, 0, &dead), N);
    run_free(&r);
    redisReply *info = redisCommand(c, "INFO commandstats");
    ck_assert_ptr_nonnull(info);
    ck_assert_ptr_nonnull(strstr(info->str, "cmdstat_evalsha:"));
    ck_assert_ptr_null(strstr(info->str, "cmdstat_eval:"));
    freeReplyObject(info);
    redisFree(c);
}
END_TEST

/* A command's exit status and stderr, run with extra environment. */
static int run_env(const char *env, char **err, const char *const argv[])
{
    run_result r;
    if (env)
        putenv((char *)env);
    run_cmd(&r, NULL, argv);
    if (env) {
        char name[64];
        snprintf(name, sizeof name, "%.*s", (int)strcspn(env, "="), env);
        unsetenv(name);
    }
    *err = r.err;
    free(r.out);
    return r.status;
}

/* A Redis that wants a password: each command says it wants one, or that
   it refused the one given, at once (exit 2, never a hang), never
   printing it; given it in the URL, a file or $REDISCLI_AUTH, the whole
   queue goes through. */
START_TEST(passwords_are_asked_for_and_never_shown)
{
    enum { N = 40 };
    const char *pass = "pw@1:x"; /* in a URL: pw%401%3Ax */
    redisContext *c = rc();
    freeReplyObject(redisCommand(c, "CONFIG SET requirepass %s", pass));
    redisFree(c);
    const char *list = url_file("urls", N, 20);
    char good[200], wrong[200], *err;
    snprintf(good, sizeof good, "unix://:pw%%401%%3Ax@%s", sock);
    snprintf(wrong, sizeof wrong, "unix://:not-it@%s", sock);
    const char *commands[] = {"enqueue", "worker", "results"};
    for (int i = 0; i < 3; i++) {
        const char *in = i ? NULL : "-i"; /* enqueue's input */
        ck_assert_int_eq(
            run_env(NULL, &err,
                    FETCHALL_ARGV(commands[i], "--redis", redis_arg, in, list)),
            2);
        ck_assert_msg(strstr(err, "wants a password"), "%s: %s", commands[i],
                      err);
        free(err);
        ck_assert_int_eq(
            run_env(NULL, &err,
                    FETCHALL_ARGV(commands[i], "--redis", wrong, in, list)),
            2);
        ck_assert_msg(strstr(err, "refused the user or password"), "%s: %s",
                      commands[i], err);
        ck_assert_ptr_null(strstr(err, "not-it"));
        free(err);
    }
    /* the URL's, a file's, the environment's */
    ck_assert_int_eq(run_env(NULL, &err,
                             FETCHALL_ARGV("enqueue", "--redis", good, "-i",
                                           list, "--chunk", "8")),
                     0);
    ck_assert_ptr_null(strstr(err, pass));
    free(err);
    const char *file = in_dir("password");
    FILE *f = fopen(file, "w");
    fprintf(f, "%s\n", pass);
    fclose(f);
    ck_assert_int_eq(run_env(NULL, &err,
                             FETCHALL_ARGV("worker", "--redis", redis_arg,
                                           "--redis-password-file", file)),
                     0);
    ck_assert_ptr_null(strstr(err, pass));
    free(err);
    run_result r;
    putenv("REDISCLI_AUTH=pw@1:x");
    RUN(&r, NULL, "results", "--redis", redis_arg);
    unsetenv("REDISCLI_AUTH");
    ck_assert_int_eq(r.status, 0);
    size_t dead;
    ck_assert_uint_eq(check_results(r.out, N, 0, &dead), N);
    ck_assert_ptr_null(strstr(r.err, pass));
    run_free(&r);
    c = rc();
    freeReplyObject(redisCommand(c, "AUTH %s", pass));
    freeReplyObject(redisCommand(c, "CONFIG SET requirepass %s", ""));
    redisFree(c);
}
END_TEST

/* A 127.0.0.1 port nothing listens on now. */
static int free_tcp_port(void)
{
    struct sockaddr_in a = {.sin_family = AF_INET};
    socklen_t len = sizeof a;
    int fd = socket(AF_INET, SOCK_STREAM, 0);
    a.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
    ck_assert_int_eq(bind(fd, (struct sockaddr *)&a, len), 0);
    ck_assert_int_eq(getsockname(fd, (struct sockaddr *)&a, &len), 0);
    close(fd);
    return ntohs(a.sin_port);
}

/* Encryption through a tunnel: Redis speaks TLS only (tls-port), an
   stunnel client on 127.0.0.1 carries the worker's and results'
   connections to it, as an ACL user with a password. */
START_TEST(through_a_tls_tunnel)
{
    enum { N = 30 };
    if (system("command -v stunnel4 >/dev/null || command -v stunnel "
               ">/dev/null") != 0) {
        printf("through_a_tls_tunnel: stunnel4 not installed: not run\n");
        return;
    }
    char cert[256], key[256], conf[1024], url[200], tport[16];
    tls_files(dir, cert, key, sizeof cert);
    int tls_port = free_tcp_port(), tunnel = free_tcp_port();
    snprintf(tport, sizeof tport, "%d", tls_port);
    /* this test's Redis: TLS on a port, the unix socket for the test */
    redis_stop();
    redis_pid = fork();
    ck_assert_int_ge(redis_pid, 0);
    if (redis_pid == 0) {
        int null = open("/dev/null", O_RDWR);
        dup2(null, STDOUT_FILENO);
        dup2(null, STDERR_FILENO);
        execlp("redis-server", "redis-server", "--port", "0", "--unixsocket",
               sock, "--dir", dir, "--save", "", "--appendonly", "no",
               "--tls-port", tport, "--tls-cert-file", cert, "--tls-key-file",
               key, "--tls-ca-cert-file", cert, "--tls-auth-clients", "no",
               NULL);
        _exit(127);
    }
    double give_up = now_s() + 20;
    for (;;) {
        redisContext *c = redisConnectUnix(sock);
        int up = c && !c->err;
        if (up)
            freeReplyObject(redisCommand(
                c, "ACL SETUSER fetcher on >tunnel-pw ~* &* +@all"));
        redisFree(c);
        if (up)
            break;
        ck_assert_msg(now_s() < give_up, "redis-server did not start");
        usleep(20000);
    }
    snprintf(conf, sizeof conf,
             "foreground = yes\npid =\n[redis]\nclient = yes\n"
             "accept = 127.0.0.1:%d\nconnect = 127.0.0.1:%d\nCAfile = %s\n"
             "verifyChain = yes\ncheckIP = 127.0.0.1\n",
             tunnel, tls_port, cert);
    FILE *f = fopen(in_dir("stunnel.conf"), "w");
    fputs(conf, f);
    fclose(f);
    pid_t st = fork();
    ck_assert_int_ge(st, 0);
    if (st == 0) {
        int null = open("/dev/null", O_RDWR);
        dup2(null, STDOUT_FILENO);
        dup2(null, STDERR_FILENO);
        execlp("stunnel4", "stunnel4", in_dir("stunnel.conf"), NULL);
        execlp("stunnel", "stunnel", in_dir("stunnel.conf"), NULL);
        _exit(127);
    }
    snprintf(url, sizeof url, "redis://fetcher:tunnel-pw@127.0.0.1:%d", tunnel);
    const char *list = url_file("urls", N, 20);
    run_result r;
    for (int tries = 0;; tries++) { /* until the tunnel listens */
        RUN(&r, NULL, "enqueue", "--redis", url, "-i", list, "--chunk", "5");
        if (r.status == 0 || tries == 50)
            break;
        run_free(&r);
        usleep(100000);
    }
    ck_assert_msg(r.status == 0, "%s", r.err);
    run_free(&r);
    RUN(&r, NULL, "worker", "--redis", url);
    ck_assert_msg(r.status == 0, "%s", r.err);
    ck_assert_ptr_null(strstr(r.err, "tunnel-pw"));
    run_free(&r);
    RUN(&r, NULL, "results", "--redis", url);
    ck_assert_int_eq(r.status, 0);
    size_t dead;
    ck_assert_uint_eq(check_results(r.out, N, 0, &dead), N);
    run_free(&r);
    kill(st, SIGTERM);
    run_reap(st);
}
END_TEST

/* A frozen Redis (SIGSTOP: it still accepts connections, answers
   nothing) is noticed by the oldest reply owed, within seconds, even
   while the worker keeps sending (its slots renewed each second); it is
   not "back" until it answers a PING; after SIGCONT every position has
   its record once. */
START_TEST(a_frozen_redis_is_noticed)
{
    enum { N = 80 };
    enqueue("5", url_file("urls", N, 200));
    int errfd = open(in_dir("w.err"), O_WRONLY | O_CREAT | O_TRUNC, 0644);
    pid_t w = run_spawn(FETCHALL_ARGV("worker", "--redis", redis_arg, "-j", "4",
                                      "--per-host", "2", "--claim-idle", "60"),
                        -1, -1, errfd, 0);
    close(errfd);
    double give_up = now_s() + 60;
    while (redis_int("XLEN %s", "{fetchall}:results") < 2) {
        ck_assert_msg(now_s() < give_up, "no chunk done");
        usleep(10000);
    }
    kill(redis_pid, SIGSTOP);
    double stopped = now_s();
    /* noticed: the reply timeout (10 s) and a little */
    while (!strstr(text_of("w.err"), "no reply in time")) {
        ck_assert_msg(now_s() < stopped + 20, "not noticed in 20 s: %s",
                      text_of("w.err"));
        usleep(50000);
    }
    /* frozen a while longer: it is not back, however it connects */
    sleep(4);
    ck_assert_msg(!strstr(text_of("w.err"), "Redis is back"), "%s",
                  text_of("w.err"));
    kill(redis_pid, SIGCONT);
    ck_assert_int_eq(run_reap(w), 0);
    ck_assert_ptr_nonnull(strstr(text_of("w.err"), "Redis is back after"));
    all_ok(N);
}
END_TEST

/* A work entry shaped like a chunk but not what enqueue put there is a
   dead letter with its reason, never fetched, and claims no positions:
   every enqueued position still has its own record, once. */
START_TEST(entries_that_are_not_chunks_are_never_fetched)
{
    enum { N = 50 };
    enqueue("10", url_file("urls", N, 10));
    const char *forged = ts_url(&srv, "/bytes/7?forged=1");
    char ten[2048] = "";
    for (int i = 0; i < 10; i++)
        snprintf(ten + strlen(ten), sizeof ten - strlen(ten), "%s%s",
                 i ? "\n" : "", ts_url(&srv, "/bytes/7?forged=%d", i + 2));
    redisContext *c = rc();
    const char *entries[][3] = {
        {"3", "1", forged},  /* off a chunk's boundary */
        {"51", "1", forged}, /* beyond the total */
        {"11", "10", ten},   /* other URLs than those enqueued there */
        {"21", "3", forged}, /* n not its URLs' count */
    };
    for (size_t i = 0; i < sizeof entries / sizeof *entries; i++)
        freeReplyObject(redisCommand(c,
                                     "XADD {fetchall}:work * first %s n %s "
                                     "urls %s",
                                     entries[i][0], entries[i][1],
                                     entries[i][2]));
    redisFree(c);
    run_result r;
    RUN(&r, NULL, "worker", "--redis", redis_arg);
    ck_assert_int_eq(r.status, 0);
    ck_assert_ptr_nonnull(strstr(r.err, "not on a chunk's boundary"));
    ck_assert_ptr_nonnull(strstr(r.err, "beyond the enqueued total"));
    ck_assert_ptr_nonnull(strstr(r.err, "not the ones enqueued"));
    ck_assert_ptr_nonnull(strstr(r.err, "n does not match"));
    run_free(&r);
    ck_assert_uint_eq(ts_seen(&srv, "/bytes/7"), 0); /* none fetched */
    ck_assert_int_eq(redis_int("XLEN %s", "{fetchall}:dead"), 4);
    all_ok(N);
}
END_TEST

int main(void)
{
    if (system("command -v redis-server >/dev/null") != 0) {
        fprintf(stderr, "redis-server not installed: skipped\n");
        return 77;
    }
    Suite *s = suite_create("fetchall across machines");
    TCase *tc = tcase_create("redis");
    tcase_add_checked_fixture(tc, setup, teardown);
    tcase_set_timeout(tc, getenv("FETCH_VALGRIND") ? 300 : 120);
    tcase_add_test(tc, enqueue_is_idempotent);
    tcase_add_test(tc, enqueue_reads_sitemaps);
    tcase_add_test(tc, results_in_request_order_each_once);
    tcase_add_test(tc, results_as_completed_each_once);
    tcase_add_test(tc, workers_wait_for_their_results_to_be_read);
    tcase_add_test(tc, a_worker_past_max_results_ends_when_the_work_is_done);
    tcase_add_test(tc, results_started_before_enqueue_waits_for_it);
    tcase_add_test(tc,
                   results_killed_and_started_again_write_each_position_once);
    tcase_add_test(tc, one_results_reader_at_a_time);
    tcase_add_test(tc, a_killed_workers_chunks_are_taken_over);
    tcase_add_test(tc, exactly_once_with_3_workers_and_a_kill_9);
    tcase_add_test(tc, dead_letters);
    tcase_add_test(tc, redis_restarted_mid_run);
    tcase_add_test(tc, rates_hold_across_workers);
    tcase_add_test(tc, per_host_holds_across_workers);
    tcase_add_test(tc, per_host_counts_as_the_library_does);
    tcase_add_test(tc, a_signal_leaves_no_part_files);
    tcase_add_test(tc, usage_errors);
    tcase_add_test(tc, scripts_by_sha_and_loaded_again);
    tcase_add_test(tc, passwords_are_asked_for_and_never_shown);
    tcase_add_test(tc, through_a_tls_tunnel);
    tcase_add_test(tc, a_frozen_redis_is_noticed);
    tcase_add_test(tc, entries_that_are_not_chunks_are_never_fetched);
    suite_add_tcase(s, tc);
    return run_suite(s);
}
