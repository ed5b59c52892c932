/* SPDX-License-Identifier: MIT */
/*
 * Across machines (fetchall enqueue, worker, results): the Redis URL and
 * connections, the queue's keys and scripts, the host gate that holds
 * rates and per-host limits over all workers, and the three commands.
 * Uses common/ and the public header only; built only with Redis.
 */
#ifndef FETCHALL_CLUSTER_H
#define FETCHALL_CLUSTER_H

#include <stddef.h>

#include "libfetch.h"
#include "../common/input.h"
#include "../common/options.h"
#include "../common/outdir.h"
#include "../common/record.h"

struct event;
struct event_base;

/* cluster.c: fetchall enqueue, worker, results. Returns the exit
   status. */
int cluster_main(cmdline *c);

/* redis.c: --redis URL and the connections to it. */
struct redisContext;
struct redisAsyncContext;
typedef struct redis_url {
    char host[256]; /* redis://HOST: a name, or an address once resolved */
    char path[256]; /* unix:///PATH */
    int port, db;
    char user[128]; /* AUTH user password (Redis 6 ACL), or empty */
    char pass[512]; /* AUTH password, or empty: none */
} redis_url;

/* redis://[[USER]:PASSWORD@]HOST[:PORT][/DB] (PASSWORD@ alone too) or
   unix://[:PASSWORD@]/PATH[?db=N], credentials percent-decoded. 0, or -1
   with why. */
int redis_parse(redis_url *u, const char *url, char *why, size_t len);
/* No password in the URL: from password_file (its first line), else from
   $REDISCLI_AUTH, as redis-cli reads it. 0, or -1 with why. */
int redis_password(redis_url *u, const char *password_file, char *why,
                   size_t len);
/* HOST to an address, once (hiredis would look it up at every connect,
   blocking the loop). 0, or -1 with why. */
int redis_resolve(redis_url *u, char *why, size_t len);
/* The URL, to show. */
void redis_describe(const redis_url *u, char *buf, size_t len);
/* A blocking connection: AUTH (with a password), SELECT (a database
   other than 0), then a PING answered, timeout seconds for every reply;
   or NULL with why. A password refused or wanted ends the process (exit
   2, saying so as who: retrying cannot help). */
struct redisContext *redis_connect(const redis_url *u, const char *who,
                                   double timeout, char *why, size_t len);
/* What a Redis error says of our credentials: REDIS_AUTH_OK (nothing),
   _WANTED (NOAUTH: it wants one), _REFUSED (WRONGPASS and the like). */
enum { REDIS_AUTH_OK, REDIS_AUTH_WANTED, REDIS_AUTH_REFUSED };
int redis_auth_error(const char *err);
/* Say so as who, the password never shown, and exit 2. */
void redis_auth_fatal(const redis_url *u, int what, const char *who,
                      const char *err);
/* SCRIPT LOAD every script of the queue on c (done by redis_connect()). */
void redis_load_scripts(struct redisContext *c);
/* Is r Redis' NOSCRIPT error? */
struct redisReply;
int redis_noscript(const struct redisReply *r);
/* EVALSHA of script with argv (numkeys, keys, args; argvlen NULL: strlen),
   loaded again if Redis lost it. The reply, or NULL when the connection
   broke. */
struct redisReply *redis_script(struct redisContext *c, int script, int argc,
                                const char **argv, const size_t *argvlen);
/* Free c (may be NULL) and connect again, as long as it takes (a jittered
   pause growing from 0.1 to 5 s), saying so once on stderr as who unless
   quiet: an outage only delays enqueue and results. */
struct redisContext *redis_reconnect(struct redisContext *c, const redis_url *u,
                                     const char *who, int quiet);

/* An async connection on an event_base that comes back by itself. It
   sends AUTH and SELECT first, and is up once a PING has come back (a
   frozen Redis still accepts connections). Each reply owed has its own
   deadline (reply_timeout, more for a BLOCK), and the oldest one's
   decides: a late reply drops the connection, which is made again after a
   jittered pause growing from 0.1 to 5 s. A password refused or wanted
   ends the process (exit 2). */
typedef struct rconn rconn;
struct rconn {
    struct event_base *base;
    const redis_url *url;
    const char *who;              /* for messages: "worker" */
    struct redisAsyncContext *ac; /* NULL while down */
    int connected; /* the socket is: hiredis calls on_disconnect */
    int up;        /* a PING came back since it connected */
    int closing, late;
    double *due; /* ring: each reply owed, its deadline, oldest first */
    size_t first, owed, cap;
    double reply_timeout; /* seconds; default 10 */
    double down_since, pause;
    struct event *retry, *timeout;
    void (*on_up)(rconn *rc, double down_for);   /* down_for 0: first time */
    void (*on_down)(rconn *rc, const char *why); /* once an outage */
    void *data;
};
typedef void rconn_cb(struct redisAsyncContext *ac, void *reply, void *arg);
/* 0, or -1 out of memory. Set on_up, on_down and data, then start. */
int rconn_init(rconn *rc, struct event_base *base, const redis_url *u);
void rconn_start(rconn *rc);
/* Sends a command (extra: seconds the reply may take beyond
   reply_timeout, e.g. a BLOCK). cb gets NULL when the connection went
   down first; it must call rconn_replied(). 0, or -1 when down. */
int rconn_command(rconn *rc, rconn_cb *cb, void *arg, double extra, int argc,
                  const char **argv, const size_t *argvlen);
void rconn_replied(rconn *rc);
/* A command whose reply does not matter (lost when down). */
void rconn_send(rconn *rc, int argc, const char **argv, const size_t *argvlen);
/* A script by EVALSHA (argv: numkeys, keys, args; copied), as
   rconn_command() otherwise: cb (NULL: the reply does not matter) gets
   the reply, after the script was loaded again if Redis answered
   NOSCRIPT. 0, or -1 when down. */
int rconn_script(rconn *rc, int script, rconn_cb *cb, void *arg, double extra,
                 int argc, const char **argv, const size_t *argvlen);
/* Pending callbacks run with NULL; then it is gone. */
void rconn_close(rconn *rc);

/* rqueue.c: the queue's keys in Redis and the scripts that change them. */
typedef struct rqueue {
    const char *name;
    char work[300], chunks[300], meta[300], done[300], results[300], dead[300];
    char printed[300], printed_set[300], reader[300];
} rqueue;
void rqueue_keys(rqueue *q, const char *name);
extern const char *const rqueue_group;
/* The scripts (scripts/NAME.lua; what each takes: there). */
enum {
    SCRIPT_ENQUEUE,
    SCRIPT_FINISH,
    SCRIPT_ACK,
    SCRIPT_RECLAIM,
    SCRIPT_DEAD,
    SCRIPT_STATE,
    SCRIPT_LEASE,
    SCRIPT_ACQUIRE,
    SCRIPT_RENEW,
    SCRIPT_CHECK,
    SCRIPT_CONSUME,
    SCRIPT_READER,
    SCRIPTS
};
/* Their texts (lua.gen.c, made by embed.sh). */
extern const char *const rqueue_script_text[SCRIPTS];
/* A script's SHA-1 as EVALSHA takes it (40 hex digits, static). */
const char *rqueue_sha(int script);

/* hostgate.c: --rate, --host-rate, --delay and --per-host over all workers
   of a queue (start times and slots leased from Redis; see there). NULL
   when fo sets none. holder: the worker's name; slot_ttl: seconds a slot
   lease lasts unless renewed. */
typedef struct hostgate hostgate;
hostgate *hostgate_new(struct event_base *base, rconn *rc, const rqueue *q,
                       const fetch_options *fo, const char *holder,
                       double slot_ttl, void (*start)(void *item, void *arg),
                       void *arg);
/* item waits for its URL's host's turn; then start(item, arg). Returns
   the host, for hostgate_done(). */
typedef struct gate_host gate_host;
gate_host *hostgate_add(hostgate *g, const char *url, void *item);
/* A request started by the gate finished: its slot carries the host's
   next one, or goes back. */
void hostgate_done(hostgate *g, gate_host *h);
/* Renew the slots held (each tick). */
void hostgate_renew(hostgate *g);
/* Items waiting for their host's turn (0 for NULL). */
size_t hostgate_waiting(const hostgate *g);
/* rc is back: lease what went unanswered. */
void hostgate_kick(hostgate *g);
void hostgate_free(hostgate *g);

/* What the commands across machines take: the options as given (common/
   options.h), the Redis URL parsed. */
typedef struct cluster {
    redis_url redis;
    const char *redis_arg; /* as given, to show */
    const char *queue;     /* --queue NAME; default "fetchall" */
    const char *name;      /* worker --name; default HOST:PID */
    int follow;            /* worker --follow: wait for more */
    double claim_idle;     /* worker --claim-idle SECONDS (default 30) */
    int max_deliveries;    /* worker --max-deliveries K (default 5) */
    int chunk;             /* enqueue --chunk N (default 256) */
    size_t max_queued;     /* enqueue --max-queued N URLs (1,000,000) */
    size_t max_results;    /* worker --max-results N (1,000,000; 0: any) */
    double fsync;          /* results --fsync SECONDS (default 1) */
} cluster;

/* enqueue.c, worker.c, results.c: exit statuses as fetchall's. */
int enqueue_run(const cluster *cl, input *in, int quiet);
int worker_run(const cluster *cl, const config *cfg, int threads);
int results_run(const cluster *cl, const config *cfg);

#endif
