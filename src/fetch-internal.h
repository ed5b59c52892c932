/* SPDX-License-Identifier: MIT */
/*
 * What the library's files share. Not installed. Each file keeps its own
 * private structs; the layers, top to bottom, with no call upwards except
 * through the hooks in fetch_client:
 *
 *   wait.c      gather, wait_for, as_completed: conditions over the loop
 *   client.c    options, new/free, deadline, stats
 *   task.c      submit, finish, cancel, free, accessors; the client's side
 *               of the hand-offs (kick, returned tasks)
 *   loop.c      the event loops: libevent <-> curl_multi_socket_action,
 *               dispatch from the scheduler, threads and their mailboxes
 *   easy.c      easy handles: pool, options -> CURLOPT
 *   response.c  the body on its way in, what libcurl knew at the end, the
 *               fetch_response
 *   retry.c     which failed attempts are retried, and after how long
 *   queue.c     the scheduler (no libcurl, no libevent)
 *   text.c, error.c, clock.c
 */
#ifndef FETCH_INTERNAL_H
#define FETCH_INTERNAL_H

#include <curl/curl.h>
#include <event2/buffer.h>
#include <event2/event.h>
#include <event2/event_struct.h>
#include <pthread.h>
#include <sys/queue.h>

#include "libfetch.h"
#include "queue.h"

enum fetch__state {
    FETCH__QUEUED,     /* in the scheduler */
    FETCH__DOOMED,     /* failed before it could start; ends at the kick */
    FETCH__DISPATCHED, /* handed to a loop, not started yet */
    FETCH__RUNNING,    /* started by its loop */
    FETCH__DONE
};

/* The User-Agent sent when fetch_options.user_agent is NULL. */
#define FETCH_USER_AGENT "libfetch/" LIBFETCH_VERSION_STRING

struct fetch__loop;

struct fetch__header {
    const char *name, *value;
};

/* A pooled easy handle with the storage libcurl writes into. */
struct fetch__handle {
    CURL *easy;
    int dirty;      /* a custom request changed options a plain GET resets */
    int sock_errno; /* socket() failed with this in the last transfer */
    fetch_client *client; /* whose options it carries */
    char errbuf[CURL_ERROR_SIZE];
};

/* What a task asks for, resolved once at submission: the request's value,
   else the client's. */
struct fetch__settings {
    /* the client's options, read by the loop (the task's client pointer
       is the client thread's: the teardown clears it) */
    const fetch_options *opts;
    const char *method; /* NULL: GET */
    const void *body;   /* NULL: none */
    size_t body_len;
    struct curl_slist *headers; /* the client's, or the merged copy */
    double timeout;
    int follow_redirects;
    int max_redirects;
    size_t max_body_size;
    int fail_on_http_error;
    fetch_data_cb on_data;
    void *data_arg;
    fetch_wire_cb on_wire;
    void *wire_arg;
    int sink_fd;
    const char *sink_path;
    int custom;     /* anything but a plain GET with the client's options */
    int retries;    /* attempts after the first */
    int idempotent; /* its method may be sent twice */
    const unsigned char *retry_status; /* the client's table */
};

/* What the loop carrying a transfer owns, from dispatch until it hands the
   task back; the client's side reads it only then. */
struct fetch__xfer {
    struct fetch__loop *loop;
    pthread_mutex_t *data_lock; /* the loop's, when it is a thread */
    struct fetch__handle *h;    /* while in the loop's multi handle */
    struct evbuffer *body;
    struct evbuffer *held; /* a streamed answer that will be retried, held
                              back: its retry may not be made after all */
    size_t bytes;
    int stop; /* why the body sink (or the wire callback) stopped the
                 transfer, or 0 */
    int sink_errno;
    int drop_body; /* an HTTP error that fails the task: stream none */
    int first_byte_seen;
    int sink_fd;     /* opened from sink_path, or the request's */
    int cancelled;   /* under the loop's data lock: no more streaming */
    int cancel_code; /* why the client stopped it, when it did */
    double t_start;
    /* the outcome, read from libcurl on the loop */
    int code;
    CURLcode cc;
    char *detail; /* malloc'd, or NULL: the code's text */
    long status, redirects, http_version;
    double time_connect, time_tls, time_first_byte, time_total;
    char *effective_url, *content_type;
    struct fetch__header *headers; /* one block: array, then the strings */
    size_t n_headers;
    /* for the retry (retry.c) */
    int sent;             /* the request went out, some of it at least */
    int requests;         /* requests sent on a connection that was up (TCP, and
                             TLS for https): > 0 means the host was reached */
    double retry_after;   /* the server's Retry-After, >= 0, or -1 */
    long long sink_start; /* a regular sink_fd's size or offset at the
                             start (to truncate back to), or -1 */
    int host_down;        /* its host's probe failed: the host is down */
};

struct fetch_task {
    fetch_client *client;             /* NULL once detached by the teardown */
    TAILQ_ENTRY(fetch_task) all_link; /* client->tasks: every live task */
    TAILQ_ENTRY(fetch_task) u_link;   /* client->unfinished */
    TAILQ_ENTRY(fetch_task) d_link;   /* client->completed (as_completed) */
    TAILQ_ENTRY(fetch_task) m_link;   /* doomed, a loop's inbox, outbox */
    TAILQ_ENTRY(fetch_task) c_link;   /* a loop's list of cancels */
    struct fetch__qnode q;            /* in the scheduler */
    unsigned long seq;                /* submission number */
    unsigned magic;                   /* FETCH__TASK_LIVE until freed */
    enum fetch__state state;          /* under the client's lock */
    int on_loop;      /* a loop holds it (dispatched, not handed back) */
    int in_cancels;   /* on its loop's list of cancels */
    int in_outbox;    /* handed back, not yet taken by the client */
    int freeing;      /* inside fetch_task_free() */
    int user_freed;   /* freed while a loop held it: free when it returns */
    int in_completed; /* in client->completed */
    int done;         /* finished: set and read on the client's side only */
    int https;
    int internal; /* the client's own: a host's robots.txt */
    struct fetch__settings s;
    char *url;    /* as submitted */
    char *target; /* what libcurl gets: url, or "http://" url */
    /* a fetch_submit() request's own copies */
    char *own_method, *own_sink_path;
    void *own_body;
    struct curl_slist *own_headers;
    fetch_done_cb cb;
    void *cb_arg;
    double t_submit;
    double t_start; /* when it was dispatched (under the lock) */
    int attempt;    /* the current attempt's number, from 1 */
    struct fetch__xfer x;
    fetch_response resp;
    char *message; /* resp.message */
};

TAILQ_HEAD(fetch__task_list, fetch_task);

#define FETCH__TASK_LIVE 0x7461736bu
/* Longest URL sent: libcurl 7.88 builds the request line and headers in
   a buffer of 1 MiB (and takes no URL over 8 MB). */
#define FETCH__URL_MAX 1000000
/* Longest URL a message shows whole; a longer one is cut in the middle. */
#define FETCH__URL_SHOWN 200
/* Most bytes of a streamed answer held back for its retry (see
   fetch__on_body); beyond, it streams and a retry takes it back. */
#define FETCH__HOLD_MAX (1u << 20)
/* Most loops a client runs. */
#define FETCH__MAX_LOOPS 64

struct fetch_client {
    fetch_options opts; /* strings point into owned copies (strs) */
    char *strs[9];
    int env_proxy; /* a proxy variable was set when the client was made */
    struct curl_slist *headers;
    CURLSH *share; /* cookies (and, over loops, DNS and TLS sessions) */
    pthread_mutex_t share_lock[CURL_LOCK_DATA_LAST];

    struct event_base *base; /* the client's: callbacks run here */
    int own_base;
    struct event *kick;        /* deferred dispatch and doomed tasks */
    struct event *sched_timer; /* the scheduler's next time (wake_at) */
    double wake_at;            /* under lock: what it is set for, or -1 */
    int rearm;                 /* under lock: a loop asks the client to
                                  set it earlier */
    struct event *deadline;    /* fetch_client_set_deadline(), or NULL */
    double deadline_s;
    double deadline_at; /* fetch__now() when it passes, or 0 */
    int deadline_passed;

    struct fetch__loop **loops;
    size_t nloops;
    int threaded; /* loops run in threads: take lock */
    pthread_mutex_t lock;
    struct fetch__sched sched;             /* under lock */
    void *robots;                          /* host key -> robots.txt */
    char robots_agent[64];                 /* our product token */
    unsigned char retry_status[600];       /* 1: a status that is retried */
    double retry_tokens, retry_tokens_max; /* the retry budget */
    size_t retries_made;
    struct fetch__task_list outbox; /* under lock: handed back */
    size_t outbox_len, batch;       /* poke the client per batch */
    int poked;                      /* under lock */
    int pipe[2];                    /* loops poke the client here */
    struct event *wake;             /* ... and it reads it here */

    struct fetch__task_list tasks;      /* every live task */
    struct fetch__task_list unfinished; /* submitted, not finished */
    struct fetch__task_list completed;  /* finished, not yet handed out by
                                           fetch_as_completed */
    struct fetch__task_list doomed;     /* failed at submission */
    size_t ntasks, nunfinished, ndoomed, finished, failures;
    unsigned long next_seq;
    int closing;    /* no new work: a free is under way or pending */
    int destroying; /* the teardown runs: finished tasks are detached */
    /* libfetch frames on the stack that may run the caller's callbacks:
       blocking waits are refused inside one, and a fetch_client_free()
       from a callback waits until the last one returns */
    int depth;
    int free_pending;
    /* hooks into the upper layers (set by client.c) */
    void (*destroy)(fetch_client *c); /* the real free */
    void (*returned)(fetch_task *t);  /* a loop is done with t */
};

static inline void fetch__lock(fetch_client *c)
{
    if (c->threaded)
        pthread_mutex_lock(&c->lock);
}

static inline void fetch__unlock(fetch_client *c)
{
    if (c->threaded)
        pthread_mutex_unlock(&c->lock);
}

/* A libfetch frame that may run the caller's callbacks begins ... */
static inline void fetch__enter(fetch_client *c)
{
    c->depth++;
}

/* ... and ends; the last one carries out a fetch_client_free() that a
   callback asked for. Returns 1 when the client is gone. */
static inline int fetch__leave(fetch_client *c)
{
    if (--c->depth > 0 || !c->free_pending)
        return 0;
    c->destroy(c);
    return 1;
}

/* error.c */
int fetch__from_curl(CURLcode cc);

/* retry.c */
int fetch__retry_status(const fetch_task *t, long status);
int fetch__retry_wanted(const fetch_task *t);
enum fetch__outcome fetch__retry_host(const fetch_task *t);
double fetch__retry_delay(const fetch_options *o, int attempt,
                          double retry_after, double random);

/* text.c */
char *fetch__message(const char *url, const char *detail);
size_t fetch__scheme_len(const char *url);
/* A scheme without "//" as RFC 3986 reads one ("file:/etc/passwd",
   "mailto:x"), where what follows the colon is neither a port
   ("host:8080/x") nor credentials ("user:pw@host"): its length, or 0. */
size_t fetch__bare_scheme_len(const char *url);
int fetch__one_line(const char *s);
int fetch__token(const char *s, size_t len);
int fetch__header_ok(const char *h);
int fetch__seconds_ok(double s);

/* response.c: on the loop */
size_t fetch__on_body(char *p, size_t size, size_t n, void *arg);
size_t fetch__on_header(char *p, size_t size, size_t n, void *arg);
/* CURLOPT_DEBUGFUNCTION, for a task with a wire callback */
int fetch__on_wire(CURL *e, curl_infotype type, char *p, size_t len, void *arg);
void fetch__response_collect(fetch_task *t, CURLcode cc);
void fetch__xfer_free(struct fetch__xfer *x);
/* On the client's side, once it is the result: what was held back goes to
   the sink (the loop is done with the task). 0, or an errno/callback value
   with x->code and x->detail set to say so. */
int fetch__held_release(fetch_task *t);
/* ... and on the client's side */
void fetch__response_fill(fetch_task *t);

/* easy.c */
struct fetch__handle *fetch__handle_new(fetch_client *c);
void fetch__handle_free(struct fetch__handle *h);
void fetch__handle_prepare(struct fetch__handle *h, fetch_task *t, int fresh);
/* May the handle whose transfer x is over go back to the pool? */
int fetch__handle_reusable(const struct fetch__xfer *x);
int fetch__slist_append(struct curl_slist **list, const char *s);

/* clock.c */
double fetch__now(void);
void fetch__timeval(struct timeval *tv, double seconds);

/* loop.c */
struct event_base *fetch__base_new(void);
int fetch__loops_start(fetch_client *c);
void fetch__loops_stop(fetch_client *c);
void fetch__dispatch(fetch_client *c, struct fetch__loop *self);
enum fetch__state fetch__task_detach(fetch_task *t, int code);
int fetch__loop_once(fetch_client *c);
void fetch__loops_count(fetch_client *c, size_t *sockets, size_t *timers);

/* task.c */
void fetch__kick(fetch_client *c);
void fetch__task_finish(fetch_task *t, int code, CURLcode cc,
                        const char *detail);
void fetch__task_expire(fetch_task *t, const char *what, double seconds);
void fetch__task_returned(fetch_task *t);
void fetch__completed_remove(fetch_client *c, fetch_task *t);
int fetch__task_home_init(fetch_client *c);
void fetch__task_home_free(fetch_client *c);

#endif
