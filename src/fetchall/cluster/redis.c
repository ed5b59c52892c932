/* SPDX-License-Identifier: MIT */
/*
 * --redis URL: where the queue lives, and the connections to it.
 *
 * enqueue and results speak to Redis in turn with hiredis' blocking API
 * (they have nothing else to do meanwhile). A worker's connections are
 * hiredis async contexts on the event_base that carries its transfers
 * (hiredis' libevent adapter). hiredis 0.14 has no timeouts of its own
 * in async mode: a libevent timer drops a connection whose reply is late,
 * and a dropped connection is made again after a jittered, growing pause.
 * A host name is resolved once, at the start: hiredis would resolve it
 * with a blocking lookup on every connect.
 */
#define _DEFAULT_SOURCE /* random, strdup, strndup, getaddrinfo */
#include <ctype.h>
#include <errno.h>
#include <stdio.h>
#include <netdb.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include <event2/event.h>
#include <hiredis/adapters/libevent.h>
#include <hiredis/async.h>
#include <hiredis/hiredis.h>

#include "../common/message.h"
#include "../common/util.h"
#include "cluster.h"

/* A database number, 0-1000000. 0, or -1 when it is not one. */
static int parse_db(const char *s, int *db)
{
    char *end;
    errno = 0;
    long v = strtol(s, &end, 10);
    if (errno || end == s || *end || v < 0 || v > 1000000)
        return -1;
    *db = (int)v;
    return 0;
}

/* len bytes of s, %XX decoded, into dst (size bytes). 0, or -1. */
static int decode(char *dst, size_t size, const char *s, size_t len)
{
    size_t n = 0;
    for (size_t i = 0; i < len; i++) {
        char c = s[i];
        if (c == '%') {
            if (i + 2 >= len || !isxdigit((unsigned char)s[i + 1]) ||
                !isxdigit((unsigned char)s[i + 2]))
                return -1;
            char hex[3] = {s[i + 1], s[i + 2], 0};
            c = (char)strtol(hex, NULL, 16);
            i += 2;
        }
        if (n + 1 >= size)
            return -1;
        dst[n++] = c;
    }
    dst[n] = '\0';
    return 0;
}

/* The credentials before an authority's '@': "[USER]:PASSWORD" or
   "PASSWORD". 0, or -1 with why. */
static int credentials(redis_url *u, const char *s, size_t len, char *why,
                       size_t wlen)
{
    const char *colon = memchr(s, ':', len);
    if ((colon && decode(u->user, sizeof u->user, s, (size_t)(colon - s))) ||
        decode(u->pass, sizeof u->pass, colon ? colon + 1 : s,
               colon ? len - (size_t)(colon + 1 - s) : len)) {
        snprintf(why, wlen, "the user or password is malformed or too long");
        return -1;
    }
    return 0;
}

int redis_parse(redis_url *u, const char *url, char *why, size_t len)
{
    memset(u, 0, sizeof *u);
    u->port = 6379;
    if (strlen(url) >= sizeof u->path) {
        snprintf(why, len, "too long");
        return -1;
    }
    if (!strncmp(url, "unix://", 7)) {
        const char *p = url + 7, *at = strchr(p, '@'), *slash = strchr(p, '/');
        if (at && slash && at < slash) { /* unix://:PASSWORD@/PATH */
            if (credentials(u, p, (size_t)(at - p), why, len))
                return -1;
            p = at + 1;
        }
        const char *q = strchr(p, '?');
        size_t n = q ? (size_t)(q - p) : strlen(p);
        if (p[0] != '/') {
            snprintf(why, len, "unix:///PATH takes an absolute PATH");
            return -1;
        }
        memcpy(u->path, p, n);
        u->path[n] = '\0';
        if (q && (strncmp(q, "?db=", 4) || parse_db(q + 4, &u->db))) {
            snprintf(why, len, "unix:///PATH takes only ?db=N");
            return -1;
        }
        return 0;
    }
    if (strncmp(url, "redis://", 8)) {
        snprintf(why, len, "not redis://HOST[:PORT][/DB] or unix:///PATH");
        return -1;
    }
    const char *p = url + 8, *end = p + strcspn(p, "/"), *colon;
    const char *at = NULL;
    for (const char *x = p; x < end; x++) /* the last '@': passwords may hold
                                             one, percent-encoded or not */
        if (*x == '@')
            at = x;
    if (at) {
        if (credentials(u, p, (size_t)(at - p), why, len))
            return -1;
        p = at + 1;
    }
    if (*p == '[') { /* [IPv6]:PORT */
        const char *close = memchr(p, ']', (size_t)(end - p));
        if (!close) {
            snprintf(why, len, "no ']' after an IPv6 address");
            return -1;
        }
        memcpy(u->host, p + 1, (size_t)(close - p - 1));
        colon = close + 1 < end && close[1] == ':' ? close + 1 : NULL;
    } else {
        colon = memchr(p, ':', (size_t)(end - p));
        size_t n = (size_t)((colon ? colon : end) - p);
        memcpy(u->host, p, n);
    }
    if (!u->host[0])
        strcpy(u->host, "127.0.0.1");
    if (colon) {
        char *e;
        long port = strtol(colon + 1, &e, 10);
        if (e != end || port < 1 || port > 65535) {
            snprintf(why, len, "the port is not 1-65535");
            return -1;
        }
        u->port = (int)port;
    }
    if (*end == '/' && end[1] && parse_db(end + 1, &u->db)) {
        snprintf(why, len, "the database is not a number");
        return -1;
    }
    return 0;
}

int redis_password(redis_url *u, const char *password_file, char *why,
                   size_t len)
{
    if (u->pass[0])
        return 0;
    if (password_file) {
        FILE *f = fopen(password_file, "r");
        char line[sizeof u->pass + 2];
        if (!f || !fgets(line, sizeof line, f)) {
            snprintf(why, len, "--redis-password-file: %s",
                     f ? "empty" : strerror(errno));
            if (f)
                fclose(f);
            return -1;
        }
        fclose(f);
        line[strcspn(line, "\r\n")] = '\0';
        if (strlen(line) >= sizeof u->pass) {
            snprintf(why, len,
                     "--redis-password-file: the password is too "
                     "long");
            return -1;
        }
        strcpy(u->pass, line);
        return 0;
    }
    const char *env = getenv("REDISCLI_AUTH");
    if (env && *env) {
        if (strlen(env) >= sizeof u->pass) {
            snprintf(why, len, "REDISCLI_AUTH: too long");
            return -1;
        }
        strcpy(u->pass, env);
    }
    return 0;
}

int redis_resolve(redis_url *u, char *why, size_t len)
{
    struct addrinfo hints = {.ai_socktype = SOCK_STREAM}, *ai;
    if (u->path[0])
        return 0;
    int rc = getaddrinfo(u->host, NULL, &hints, &ai);
    if (rc) {
        snprintf(why, len, "%s", gai_strerror(rc));
        return -1;
    }
    rc = getnameinfo(ai->ai_addr, ai->ai_addrlen, u->host, sizeof u->host, NULL,
                     0, NI_NUMERICHOST);
    freeaddrinfo(ai);
    if (rc) {
        snprintf(why, len, "%s", gai_strerror(rc));
        return -1;
    }
    return 0;
}

void redis_describe(const redis_url *u, char *buf, size_t len)
{
    const char *creds = u->pass[0] ? "***@" : ""; /* never the password */
    if (u->path[0])
        snprintf(buf, len, "unix://%s%s", creds, u->path);
    else if (strchr(u->host, ':'))
        snprintf(buf, len, "redis://%s[%s]:%d", creds, u->host, u->port);
    else
        snprintf(buf, len, "redis://%s%s:%d", creds, u->host, u->port);
}

int redis_auth_error(const char *err)
{
    if (!err)
        return REDIS_AUTH_OK;
    if (!strncmp(err, "NOAUTH", 6) || strstr(err, "unauthenticated multibulk"))
        return REDIS_AUTH_WANTED;
    if (!strncmp(err, "WRONGPASS", 9) || !strncmp(err, "NOPERM", 6) ||
        strstr(err, "invalid password") || strstr(err, "invalid username") ||
        (strstr(err, "AUTH") && strstr(err, "no password is set")))
        return REDIS_AUTH_REFUSED;
    return REDIS_AUTH_OK;
}

void redis_auth_fatal(const redis_url *u, int what, const char *who,
                      const char *err)
{
    char where[600], shown[600];
    redis_describe(u, where, sizeof where);
    fetch_text_escape(shown, sizeof shown, err ? err : "",
                      err ? strlen(err) : 0, FETCH_TEXT_TERMINAL);
    message_above();
    if (what == REDIS_AUTH_WANTED)
        fprintf(stderr,
                "fetchall: %s: Redis at %s wants a password (%s): give it in "
                "--redis redis://[USER:]PASSWORD@HOST, "
                "--redis-password-file FILE or $REDISCLI_AUTH\n",
                who, where, shown);
    else
        fprintf(stderr,
                "fetchall: %s: Redis at %s refused the user or password (%s)\n",
                who, where, shown);
    exit(2);
}

/* ---- blocking: enqueue, results ---- */

redisContext *redis_connect(const redis_url *u, const char *who, double timeout,
                            char *why, size_t len)
{
    struct timeval tv = seconds_tv(timeout);
    redisContext *c = u->path[0]
                          ? redisConnectUnixWithTimeout(u->path, tv)
                          : redisConnectWithTimeout(u->host, u->port, tv);
    if (!c) {
        snprintf(why, len, "out of memory");
        return NULL;
    }
    if (c->err || redisSetTimeout(c, tv) != REDIS_OK) {
        snprintf(why, len, "%s", c->errstr[0] ? c->errstr : strerror(errno));
        redisFree(c);
        return NULL;
    }
    /* AUTH, then SELECT, before anything else; a PING says it answers */
    char db[24];
    snprintf(db, sizeof db, "%d", u->db);
    const char *auth[3] = {"AUTH"}, *select[] = {"SELECT", db},
               *ping[] = {"PING"};
    int an = 1;
    if (u->user[0])
        auth[an++] = u->user;
    auth[an++] = u->pass;
    if (u->pass[0])
        redisAppendCommandArgv(c, an, auth, NULL);
    if (u->db)
        redisAppendCommandArgv(c, 2, select, NULL);
    redisAppendCommandArgv(c, 1, ping, NULL);
    int replies = !!u->pass[0] + !!u->db + 1, err = 0;
    for (int i = 0; i < replies; i++) {
        redisReply *r = NULL;
        if (redisGetReply(c, (void **)&r) != REDIS_OK) {
            snprintf(why, len, "%s", c->errstr[0] ? c->errstr : "no reply");
            redisFree(c);
            return NULL;
        }
        if (r->type == REDIS_REPLY_ERROR && !err) {
            int a = redis_auth_error(r->str);
            if (a != REDIS_AUTH_OK)
                redis_auth_fatal(u, a, who, r->str);
            snprintf(why, len, "%s", r->str);
            err = 1;
        }
        freeReplyObject(r);
    }
    if (err) {
        redisFree(c);
        return NULL;
    }
    redis_load_scripts(c);
    return c;
}

void redis_load_scripts(redisContext *c)
{
    for (int i = 0; i < SCRIPTS; i++)
        redisAppendCommand(c, "SCRIPT LOAD %s", rqueue_script_text[i]);
    for (int i = 0; i < SCRIPTS; i++) {
        redisReply *r = NULL;
        if (redisGetReply(c, (void **)&r) != REDIS_OK)
            return; /* the connection is gone: the caller finds out */
        freeReplyObject(r);
    }
}

int redis_noscript(const redisReply *r)
{
    return r && r->type == REDIS_REPLY_ERROR && !strncmp(r->str, "NOSCRIPT", 8);
}

redisReply *redis_script(redisContext *c, int script, int argc,
                         const char **argv, const size_t *argvlen)
{
    const char **full = malloc((size_t)(argc + 2) * sizeof *full);
    size_t *lens = malloc((size_t)(argc + 2) * sizeof *lens);
    redisReply *r = NULL;
    if (!full || !lens)
        fatal("out of memory");
    full[0] = "EVALSHA";
    full[1] = rqueue_sha(script);
    lens[0] = 7;
    lens[1] = 40;
    for (int i = 0; i < argc; i++) {
        full[i + 2] = argv[i];
        lens[i + 2] = argvlen ? argvlen[i] : strlen(argv[i]);
    }
    for (int tries = 0;; tries++) {
        r = redisCommandArgv(c, argc + 2, full, lens);
        if (!redis_noscript(r) || tries)
            break;
        freeReplyObject(r); /* Redis lost it: load it again */
        freeReplyObject(
            redisCommand(c, "SCRIPT LOAD %s", rqueue_script_text[script]));
    }
    free(full);
    free(lens);
    return r;
}

redisContext *redis_reconnect(redisContext *c, const redis_url *u,
                              const char *who, int quiet)
{
    double pause = 0.1, down = 0;
    char why[256], where[300];
    if (c)
        redisFree(c);
    redis_describe(u, where, sizeof where);
    while (!(c = redis_connect(u, who, 10, why, sizeof why))) {
        if (!down && !quiet)
            fprintf(stderr, "fetchall: %s: Redis at %s: %s; trying again\n",
                    who, where, why);
        double d = pause * (0.5 + (double)random() / RAND_MAX);
        sleep_seconds(d);
        down += d;
        if (pause < 5)
            pause *= 2;
    }
    if (down && !quiet)
        fprintf(stderr, "fetchall: %s: Redis is back after %.1f s\n", who,
                down);
    return c;
}

/* ---- async: a worker ---- */

static void rconn_connect(rconn *rc);

/* Between 0.5x and 1.5x of d. */
static double jitter(double d)
{
    return d * (0.5 + (double)random() / RAND_MAX);
}

static void set_timer(struct event *ev, double s)
{
    struct timeval tv = seconds_tv(s);
    evtimer_add(ev, &tv);
}

/* The replies a connection owes, oldest first: each its own deadline
   (replies come in the order sent), and the oldest one's decides when the
   connection counts as dead. */
static void arm(rconn *rc)
{
    if (!rc->owed)
        evtimer_del(rc->timeout);
    else
        set_timer(rc->timeout, rc->due[rc->first] - monotonic());
}

static void owe(rconn *rc, double extra)
{
    if (rc->owed == rc->cap) { /* grow the ring, oldest first again */
        size_t cap = rc->cap ? 2 * rc->cap : 64;
        double *d = malloc(cap * sizeof *d);
        if (!d)
            fatal("out of memory");
        for (size_t i = 0; i < rc->owed; i++)
            d[i] = rc->due[(rc->first + i) % rc->cap];
        free(rc->due);
        rc->due = d;
        rc->cap = cap;
        rc->first = 0;
    }
    rc->due[(rc->first + rc->owed++) % rc->cap] =
        monotonic() + rc->reply_timeout + extra;
    if (rc->owed == 1)
        arm(rc);
}

void rconn_replied(rconn *rc)
{
    if (!rc->owed)
        return; /* a reply of a connection since dropped */
    rc->first = (rc->first + 1) % rc->cap;
    rc->owed--;
    arm(rc);
}

/* The connection is gone (or never came): say so once, try again later. */
static void lost(rconn *rc, const char *err)
{
    rc->ac = NULL;
    rc->connected = 0;
    rc->owed = 0;
    evtimer_del(rc->timeout);
    if (!rc->down_since) {
        rc->down_since = monotonic();
        rc->pause = 0.1;
        if (rc->on_down)
            rc->on_down(rc, err);
    } else if (rc->pause < 5) {
        rc->pause *= 2;
    }
    set_timer(rc->retry, jitter(rc->pause));
}

/* Send, owing a reply, whether or not the connection is up yet. */
static int send_owed(rconn *rc, rconn_cb *cb, void *arg, double extra, int argc,
                     const char **argv, const size_t *argvlen)
{
    if (!rc->ac ||
        redisAsyncCommandArgv(rc->ac, cb, arg, argc, argv, argvlen) != REDIS_OK)
        return -1;
    owe(rc, extra);
    return 0;
}

/* AUTH's reply, and the PING's after it: Redis answers, it is up. */
static void on_hello(redisAsyncContext *ac, void *reply, void *arg)
{
    rconn *rc = arg;
    redisReply *r = reply;
    (void)ac;
    rconn_replied(rc);
    if (!r)
        return; /* dropped meanwhile: on_disconnect says so */
    if (r->type == REDIS_REPLY_ERROR) {
        int a = redis_auth_error(r->str);
        if (a != REDIS_AUTH_OK)
            redis_auth_fatal(rc->url, a, rc->who ? rc->who : "worker", r->str);
        return; /* SELECT's and the like: the PING decides */
    }
    if (r->type != REDIS_REPLY_STATUS || strcmp(r->str, "PONG") || rc->up)
        return;
    rc->up = 1;
    double was = rc->down_since;
    rc->down_since = 0;
    if (rc->on_up)
        rc->on_up(rc, was ? monotonic() - was : 0);
}

static void on_connect(const redisAsyncContext *ac, int status)
{
    rconn *rc = ac->data;
    const redis_url *u = rc->url;
    if (status != REDIS_OK) { /* hiredis frees ac after this */
        lost(rc, ac->errstr);
        return;
    }
    rc->connected = 1;
    /* AUTH, then SELECT, before anything else on it; the scripts, so that
       EVALSHA finds them; and a PING: it is up only once that answers (a
       frozen Redis still accepts connections) */
    char db[24];
    const char *auth[3] = {"AUTH"}, *select[] = {"SELECT", db},
               *ping[] = {"PING"};
    int an = 1;
    if (u->user[0])
        auth[an++] = u->user;
    auth[an++] = u->pass;
    snprintf(db, sizeof db, "%d", u->db);
    if (u->pass[0])
        send_owed(rc, on_hello, rc, 0, an, auth, NULL);
    if (u->db)
        send_owed(rc, on_hello, rc, 0, 2, select, NULL);
    for (int i = 0; i < SCRIPTS; i++)
        redisAsyncCommand((redisAsyncContext *)ac, NULL, NULL, "SCRIPT LOAD %s",
                          rqueue_script_text[i]);
    send_owed(rc, on_hello, rc, 0, 1, ping, NULL);
}

static void on_disconnect(const redisAsyncContext *ac, int status)
{
    rconn *rc = ac->data;
    rc->up = 0;
    if (rc->closing)
        return;
    (void)status;
    lost(rc, rc->late        ? "no reply in time"
             : ac->errstr[0] ? ac->errstr
                             : "connection closed");
}

static void on_retry(evutil_socket_t fd, short ev, void *arg)
{
    (void)fd;
    (void)ev;
    rconn_connect(arg);
}

/* The oldest reply is late: drop the connection (its callbacks get
   NULL). */
static void on_timeout(evutil_socket_t fd, short ev, void *arg)
{
    rconn *rc = arg;
    (void)fd;
    (void)ev;
    if (!rc->ac)
        return;
    int connected = rc->connected;
    rc->late = 1;
    redisAsyncFree(rc->ac); /* runs on_disconnect, once connected */
    rc->late = 0;
    if (!connected)
        lost(rc, "no answer to the connect in time");
}

static void rconn_connect(rconn *rc)
{
    const redis_url *u = rc->url;
    redisAsyncContext *ac = u->path[0] ? redisAsyncConnectUnix(u->path)
                                       : redisAsyncConnect(u->host, u->port);
    if (!ac || ac->err) {
        char why[128];
        snprintf(why, sizeof why, "%s", ac ? ac->errstr : "out of memory");
        if (ac)
            redisAsyncFree(ac);
        lost(rc, why);
        return;
    }
    ac->data = rc;
    rc->ac = ac;
    redisLibeventAttach(ac, rc->base);
    redisAsyncSetConnectCallback(ac, on_connect);
    redisAsyncSetDisconnectCallback(ac, on_disconnect);
    /* a connect that never completes is late like a reply */
    set_timer(rc->timeout, rc->reply_timeout);
}

int rconn_init(rconn *rc, struct event_base *base, const redis_url *u)
{
    memset(rc, 0, sizeof *rc);
    rc->base = base;
    rc->url = u;
    rc->reply_timeout = 10;
    rc->retry = evtimer_new(base, on_retry, rc);
    rc->timeout = evtimer_new(base, on_timeout, rc);
    return rc->retry && rc->timeout ? 0 : -1;
}

void rconn_start(rconn *rc)
{
    rconn_connect(rc);
}

int rconn_command(rconn *rc, rconn_cb *cb, void *arg, double extra, int argc,
                  const char **argv, const size_t *argvlen)
{
    if (!rc->up)
        return -1;
    return send_owed(rc, cb, arg, extra, argc, argv, argvlen);
}

/* A reply nobody waits for. */
static void on_sent(redisAsyncContext *ac, void *reply, void *arg)
{
    (void)ac;
    (void)reply;
    rconn_replied(arg);
}

void rconn_send(rconn *rc, int argc, const char **argv, const size_t *argvlen)
{
    rconn_command(rc, on_sent, rc, 0, argc, argv, argvlen);
}

void rconn_close(rconn *rc)
{
    rc->closing = 1;
    free(rc->due);
    rc->due = NULL;
    if (rc->ac)
        redisAsyncFree(rc->ac); /* pending callbacks run with NULL */
    rc->ac = NULL;
    if (rc->retry)
        event_free(rc->retry);
    if (rc->timeout)
        event_free(rc->timeout);
    rc->retry = rc->timeout = NULL;
}

/* A script's call under way: its arguments kept for a second try. */
typedef struct script_call {
    rconn *rc;
    int script, loaded, argc;
    rconn_cb *cb;
    void *arg;
    double extra;
    const char **argv; /* EVALSHA, its sha, then the caller's: one block */
    size_t *lens;
} script_call;

static int script_send(script_call *sc);

static void on_script(redisAsyncContext *ac, void *reply, void *arg)
{
    script_call *sc = arg;
    if (redis_noscript(reply) && !sc->loaded) {
        /* Redis lost it (restarted, SCRIPT FLUSH): load it, call again */
        rconn *rc = sc->rc;
        const char *load[] = {"SCRIPT", "LOAD", rqueue_script_text[sc->script]};
        rconn_replied(rc);
        rconn_send(rc, 3, load, NULL);
        sc->loaded = 1;
        if (script_send(sc) == 0)
            return;
        reply = NULL; /* the connection went down meanwhile */
    }
    if (sc->cb)
        sc->cb(ac, reply, sc->arg);
    else
        rconn_replied(sc->rc);
    free(sc);
}

static int script_send(script_call *sc)
{
    return rconn_command(sc->rc, on_script, sc, sc->extra, sc->argc, sc->argv,
                         sc->lens);
}

int rconn_script(rconn *rc, int script, rconn_cb *cb, void *arg, double extra,
                 int argc, const char **argv, const size_t *argvlen)
{
    size_t bytes = 0, n = (size_t)argc + 2;
    for (int i = 0; i < argc; i++)
        bytes += (argvlen ? argvlen[i] : strlen(argv[i])) + 1;
    script_call *sc =
        malloc(sizeof *sc + n * (sizeof(char *) + sizeof(size_t)) + bytes);
    if (!sc)
        fatal("out of memory");
    *sc = (script_call){.rc = rc,
                        .script = script,
                        .cb = cb,
                        .arg = arg,
                        .extra = extra,
                        .argc = (int)n};
    sc->argv = (const char **)(sc + 1);
    sc->lens = (size_t *)(sc->argv + n);
    char *p = (char *)(sc->lens + n);
    sc->argv[0] = "EVALSHA";
    sc->lens[0] = 7;
    sc->argv[1] = rqueue_sha(script);
    sc->lens[1] = 40;
    for (int i = 0; i < argc; i++) { /* copies: the call may be made again */
        size_t len = argvlen ? argvlen[i] : strlen(argv[i]);
        memcpy(p, argv[i], len);
        p[len] = '\0';
        sc->argv[i + 2] = p;
        sc->lens[i + 2] = len;
        p += len + 1;
    }
    if (script_send(sc) == 0)
        return 0;
    free(sc);
    return -1;
}
