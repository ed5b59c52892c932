/* SPDX-License-Identifier: MIT */
/* fetchall: shared declarations of the command's modules. */
#ifndef FETCHALL_H
#define FETCHALL_H

#include <pthread.h>
#include <signal.h>
#include <stdint.h>
#include <stdio.h>
#include <sys/queue.h>
#include <sys/types.h>

#include "libfetch.h"

struct event;
struct event_base;
struct evbuffer;

/* input.c: URLs from the command line, then from each -i FILE (or stdin)
   in turn, one a line. A pipe or terminal is read only when it is
   readable, so that waiting for input never blocks the loop. */
typedef struct input {
    char **args; /* URLs given as arguments */
    int nargs, next_arg;
    const char *const *paths; /* -i FILE ...; "-" is stdin */
    int npaths, next_path;
    int fd;               /* the one being read, or -1 */
    int direct;           /* read it without waiting (a file, /dev/null) */
    int eof;              /* it has no more */
    struct evbuffer *buf; /* read, not yet made lines */
    char *line;           /* the URL handed out last */
    size_t line_no;       /* its line number in the file being read */
    size_t bad_len;       /* INPUT_BAD: the line's length */
    int failed;           /* a read error ended the input early (said so) */
} input;

enum { INPUT_URL, INPUT_BAD, INPUT_WAIT, INPUT_END };

/* Checks that every FILE can be opened and is not a directory. 0, or -1
   with a message on stderr. */
int input_open(input *in, char **args, int nargs, const char *const *paths,
               int npaths);
/* The next URL (*url valid until the next call): INPUT_URL; INPUT_BAD
   for a line that cannot be a URL (a NUL byte in it: *url is the line,
   in->bad_len long); INPUT_WAIT when a pipe has no whole line yet (wait
   until input_fd() is readable, then input_fill()); INPUT_END at the end,
   or after a read error. A UTF-8 byte order mark at the start of a file is
   dropped. */
int input_next(input *in, const char **url);
int input_fd(const input *in);
/* The file ("stdin" for -) and line number of the line handed out last. */
void input_where(const input *in, const char **path, size_t *line);
/* After input_fd() turned readable: read what is there. */
void input_fill(input *in);
/* Can input_fd() be waited for with an event (no: files, /dev/null)? */
void input_wait_failed(input *in);
void input_close(input *in);

/* How many URLs the input holds, when it is arguments and regular files
   only (it is read once more for this), else (size_t)-1. */
size_t input_count(char **args, int nargs, const char *const *paths,
                   int npaths);

/* journal.c: --journal FILE, what has finished (see there). */
typedef struct journal {
    int fd;
    const char *path;
    struct evbuffer *pending; /* lines whose results are not in place yet */
    int header, torn, dirty;
    int earlier; /* it was there, of the same options: an earlier run's */
    size_t cap, recorded, failed; /* requests recorded, failed of them */
    uint32_t *hash;               /* by index: its URL's hash */
    unsigned char *state;         /* by index: 0 none, 1 ok, 2 failed */
} journal;

enum { JOURNAL_RUN, JOURNAL_SKIP, JOURNAL_CHANGED };

/* Open (or create) the journal and read what it holds; a journal of
   other options (fingerprint) is refused. 0, or -1 with why. */
int journal_open(journal *j, const char *path, const char *fingerprint,
                 char *why, size_t len);
/* Request index is url: JOURNAL_SKIP when it finished (a failure too,
   unless again), JOURNAL_CHANGED when the journal has another URL there. */
int journal_check(journal *j, size_t index, const char *url, int again);
/* Record a result whose output is written (pending until the flush). */
void journal_add(journal *j, size_t index, const char *url, const char *method,
                 const fetch_response *r, int ok);
/* Once the output is flushed: the pending lines, one write(). 0, or an
   errno value (ENOSPC: a full disk). */
int journal_flush(journal *j);
/* fdatasync() if anything was written since the last. 0 or an errno. */
int journal_sync(journal *j);
void journal_close(journal *j);

/* outdir.c: -o DIR, where body N becomes DIR/N only once complete. */
typedef struct part {
    int fd; /* -1 until the first byte */
    int listed;
    char name[48]; /* ".N.RANDOM.part" in DIR */
    LIST_ENTRY(part) link;
} part;

typedef struct outdir {
    int fd; /* DIR, opened once: every name is resolved from it */
    const char *path;
    int clobber; /* --clobber: replace an earlier run's results */
    pthread_mutex_t lock;
    int stopped; /* a signal came: no new temporary files */
    LIST_HEAD(, part) parts;
} outdir;

/* Create DIR and its parents; refuse one that holds results of an earlier
   run unless clobber. 0, or -1 with the reason in why. */
int outdir_open(outdir *d, const char *path, int clobber, char *why,
                size_t len);
void outdir_close(outdir *d);
/* Body index's temporary file. These return 0 or an errno value. */
int part_open(outdir *d, part *p, size_t index);
int part_write(part *p, const char *data, size_t len);
/* A failed attempt's bytes out again (the request is retried). */
int part_truncate(part *p);
/* A chunk of body index (a fetch_data_cb's): into its temporary file,
   opened at the first; NULL: the attempt failed and is retried, so the
   file is emptied again. 0 or an errno value. */
int part_data(outdir *d, part *p, size_t index, const char *data, size_t len);
/* Complete: rename it to DIR/N (an empty body creates it first). */
int part_commit(outdir *d, part *p, size_t index);
/* Failed: remove it, and with --clobber an earlier run's DIR/N. */
void part_discard(outdir *d, part *p, size_t index);
/* A signal: remove every temporary file, open no more. */
void outdir_abort(outdir *d);

/* jsonline.c: one JSON object a line, members in the order added. */
typedef struct jline {
    struct evbuffer *b;
    int members;
} jline;
#define JL_URL 1 /* jl_text: a URL: its credentials are shown as *** */
void jl_begin(jline *j);
void jl_int(jline *j, const char *name, long long v);
void jl_seconds(jline *j, const char *name, double s); /* 0.000123 */
void jl_bool(jline *j, const char *name, int v);
void jl_null(jline *j, const char *name);
/* Untrusted text (NULL: null); not UTF-8: each bad byte U+FFFD. */
void jl_text(jline *j, const char *name, const char *s, int flags);
/* "body" when it is UTF-8, else "body_base64". */
void jl_body(jline *j, const char *body, size_t len);
/* The task's response headers: [[name, value], ...] in order received. */
void jl_headers(jline *j, const char *name, const fetch_task *t);
void jl_raw(jline *j, const char *name, const char *json);
/* The line, "}\n" included (malloc'd; *len its length). */
char *jl_end(jline *j, size_t *len);

/* progress.c: --progress. */
enum { PROGRESS_NONE, PROGRESS_BAR, PROGRESS_PLAIN };
typedef struct runner runner;
typedef struct progress {
    runner *r;
    int mode;
    struct event *timer;
    double t0, last_t, next_plain;
    size_t last_done;
    unsigned long long last_bytes;
    double rate, byte_rate; /* requests and bytes a second, of late */
    int rated;
    int drawn;     /* a bar is on the screen */
    int drawn_len; /* ... this long */
    int tty;       /* stderr is a terminal: escape sequences may clear */
} progress;

/* --progress=ARG (NULL: auto): a PROGRESS_ mode, or -1 for a bad ARG. */
int progress_mode(const char *arg, int quiet);
void progress_start(runner *r, progress *p, int mode);
/* Around a line written to stderr while a bar is on: clear it, then
   draw it again below the line. */
void progress_above(void);
void progress_below(void);
/* The end: the bar cleared, a summary line in its place. */
void progress_end(runner *r);

/* output.c: what fetchall writes for each finished request. */
typedef struct output {
    int jsonl;      /* --jsonl */
    int headers;    /* --include-headers: with --jsonl */
    outdir *dir;    /* -o DIR, or NULL for stdout */
    int quiet;      /* -q */
    int err_is_out; /* stderr is the same file as stdout (2>&1) */
} output;

/* s escaped for a terminal, malloc'd (NULL when out of memory). */
char *escaped_text(const char *s);
/* Print "fetchall: [N] what" on stderr (unless -q); what must be safe to
   show (libfetch's messages are). */
void output_error(const output *o, size_t index, const char *what);
/* Write request index's result: body or JSON line on stdout, error line on
   stderr (note, when not NULL, is added to it). file_error: -o could not
   make DIR/N (an errno value), or 0. Returns 0, or -1 when stdout
   failed. */
int output_write(const output *o, size_t index, const fetch_task *t,
                 int file_error, const char *note);
/* The error line of a failed result on stderr (note added to it), and its
   text (NULL: it succeeded; buf holds a -o error). */
const char *output_failed(const output *o, size_t index, const fetch_task *t,
                          int file_error, const char *note, char *buf,
                          size_t size);
/* A result's JSON line (schema 1; error from output_failed; worker: the
   name of the worker, which leaves the body out). malloc'd, *len long. */
char *output_record(const output *o, size_t index, const fetch_task *t,
                    const char *error, const char *worker, size_t *len);
/* The JSON line of a URL that was never fetched (a dead letter, a line of
   input that is no URL): every member, ok false, error and error_kind as
   given. */
char *output_failure(size_t index, const char *url, const char *error,
                     const char *kind, size_t *len);

/* What the command line asks for (main.c). */
typedef struct config {
    fetch_options fo;
    fetch_request req; /* method, body: the same for every URL */
    output out;
    double deadline;      /* -T; 0 = none */
    int as_completed;     /* --as-completed */
    int no_buffer;        /* -N: the oldest body goes out as it arrives */
    int fail_early;       /* --fail-early: stop at the first failure */
    journal *journal;     /* --journal FILE, or NULL */
    int retry_failed;     /* --retry-failed: run the journal's failures again */
    double journal_fsync; /* --journal-fsync SECONDS; 0: every write */
    int progress;         /* PROGRESS_ */
    size_t total;         /* URLs in the input, or (size_t)-1: unknown */
} config;

/* One request from the moment it is read until its result is written. */
typedef struct slot {
    runner *r;
    size_t index; /* 1-based position in the input */
    char *url;
    fetch_task *task; /* NULL for input that is no URL (see refused) */
    char *refused;    /* ... and why it was not fetched, safe to show */
    int done;
    int recorded;          /* --journal has it */
    int file_error;        /* -o: DIR/N could not be made (errno) */
    part part;             /* -o: the body's temporary file */
    struct evbuffer *body; /* streaming: what arrived, not written yet */
    off_t start;           /* streaming into a file: where the body begins */
    size_t streamed;       /* ... and how much of it went out */
} slot;

/* run.c: the run, shared by writer.c and stream.c. */
struct runner {
    const config *cfg;
    input *in;
    fetch_client *client;
    struct event_base *base;
    struct event *readable;              /* the input pipe has something */
    struct event *deadline;              /* -T: stop reading */
    struct event *flush;                 /* flush stdout after this loop turn */
    size_t read, submitted, outstanding; /* read: URLs, skipped ones too */
    size_t done_ok, done_failed;         /* finished in this run */
    unsigned long long bytes;            /* their bodies */
    progress *progress;
    size_t skipped, skipped_failed; /* --journal: finished before */
    int input_changed;              /* ... and the input is not the
                                       journal's */
    double t0;                      /* the run's start */
    struct event *sync;             /* --journal-fsync's timer */
    size_t window, window_max;      /* unwritten URLs read ahead, and beyond
                                       while slots stand idle (--per-host) */
    int input_done;
    int input_cut;     /* the deadline came before the input ended */
    size_t stopped_at; /* --fail-early: the request that failed, or 0 */
    size_t cancelled;  /* ... and how many were cancelled then */
    int failed;
    int plain; /* GET, no body, no -o, no streaming: fetch_get() */
    /* writer.c: request order */
    slot **ring; /* window_max slots, oldest at head */
    size_t head;
    /* stream.c: the oldest body to stdout as it arrives */
    int stream;   /* -N, or stdout a file fetchall writes at the end of */
    int seekable; /* stdout is a regular file we write at the end of */
    int append;   /* ... opened with O_APPEND (>>) */
    int retract;  /* ... and a failed body is cut off again (not -N) */
    pthread_mutex_t out_lock; /* every use of stdout */
    slot *streaming;          /* under out_lock: the body going out now */
    /* run.c: signals */
    sigset_t signals;
    pthread_t signal_thread;
};

/* Returns the exit status: 0, 1 (a request failed), 2 (no URLs, or the
   input could not be read). threads: event loops. */
int run(const config *cfg, input *in, int threads);
void fatal(const char *what);
/* Monotonic seconds. */
double monotonic(void);
/* Sleep, for commands that have nothing else to do (not a loop). */
void sleep_seconds(double s);
/* stdout went away (e.g. `| head`): end the way a pipeline expects. */
void stdout_failed(void);
void flush_stdout(void);

/* stream.c */
void stream_setup(runner *r);
/* fetch_data_cb for a body that may stream to stdout (on a loop thread).
   NULL: the attempt failed and will be retried: what it wrote must go
   (held back, or cut out of a file; with -N into a pipe it cannot: then
   the request is not retried). */
int stream_chunk(fetch_task *task, const char *p, size_t len, void *arg);
/* s is the oldest unwritten now: its chunks go to stdout from here on */
void stream_begin(runner *r, slot *s);
/* Under out_lock, s finished: stop streaming it; a failed body is cut
   back out of a file. note gets what the error line should add, if
   anything. Then what did not stream yet is written if ok. */
void stream_end(runner *r, slot *s, int ok, char *note, size_t len);
/* Under out_lock, a signal: take a half body back out of the file. */
void stream_abort(runner *r);
/* Under out_lock: write what b holds for slot s. */
void stream_buffer(slot *s, struct evbuffer *b);

/* writer.c */
/* A slot's request finished: write, in order, what may be written. */
void writer_done(runner *r, slot *s);
/* A new slot was read (request order keeps a ring of them). */
void writer_add(runner *r, slot *s);
/* --journal: s's result is in place (renamed into -o DIR, or written):
   record it, once. */
void writer_record(runner *r, slot *s);

/* redis.c: --redis URL and the connections to it. */
struct redisContext;
struct redisAsyncContext;
typedef struct redis_url {
    char host[256]; /* redis://HOST: a name, or an address once resolved */
    char path[256]; /* unix:///PATH */
    int port, db;
} redis_url;

/* redis://HOST[:PORT][/DB] or unix:///PATH[?db=N]. 0, or -1 with why. */
int redis_parse(redis_url *u, const char *url, char *why, size_t len);
/* HOST to an address, once (hiredis would look it up at every connect,
   blocking the loop). 0, or -1 with why. */
int redis_resolve(redis_url *u, char *why, size_t len);
/* The URL, to show. */
void redis_describe(const redis_url *u, char *buf, size_t len);
/* A blocking connection, SELECTed, with timeout seconds for every reply;
   or NULL with why. */
struct redisContext *redis_connect(const redis_url *u, double timeout,
                                   char *why, size_t len);
/* Free c (may be NULL) and connect again, as long as it takes (a jittered
   pause growing from 0.1 to 5 s), saying so once on stderr as who unless
   quiet: an outage only delays enqueue and results. */
struct redisContext *redis_reconnect(struct redisContext *c, const redis_url *u,
                                     const char *who, int quiet);

/* An async connection on an event_base that comes back by itself: a late
   reply (reply_timeout) drops it, a dropped one is made again after a
   jittered pause growing from 0.1 to 5 s. */
typedef struct rconn rconn;
struct rconn {
    struct event_base *base;
    const redis_url *url;
    int db;
    struct redisAsyncContext *ac; /* NULL while down */
    int up, closing, late;
    size_t outstanding;   /* commands sent, not answered */
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
/* Pending callbacks run with NULL; then it is gone. */
void rconn_close(rconn *rc);

/* rqueue.c: the queue's keys in Redis and the scripts that change them. */
typedef struct rqueue {
    const char *name;
    char work[300], chunks[300], meta[300], done[300], results[300], dead[300];
} rqueue;
void rqueue_keys(rqueue *q, const char *name);
extern const char *const rqueue_group;
extern const char rqueue_enqueue[], rqueue_finish[], rqueue_ack[],
    rqueue_reclaim[], rqueue_dead[], rqueue_state[];

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

/* What the commands across machines take (main.c). */
typedef struct cluster {
    redis_url redis;
    const char *redis_arg; /* as given, to show */
    const char *queue;     /* --queue NAME; default "fetchall" */
    const char *name;      /* worker --name; default HOST:PID */
    int follow;            /* worker, results --follow: wait for more */
    double claim_idle;     /* worker --claim-idle SECONDS (default 30) */
    int max_deliveries;    /* worker --max-deliveries K (default 5) */
    int chunk;             /* enqueue --chunk N (default 256) */
    size_t max_queued;     /* enqueue --max-queued N URLs (1,000,000) */
} cluster;

/* enqueue.c, worker.c, results.c: exit statuses as fetchall's. */
int enqueue_run(const cluster *cl, input *in, int quiet);
int worker_run(const cluster *cl, const config *cfg, int threads);
int results_run(const cluster *cl, const config *cfg);

#endif
