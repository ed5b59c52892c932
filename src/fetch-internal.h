/* Internal declarations shared by the library's modules. Not installed. */
#ifndef FETCH_INTERNAL_H
#define FETCH_INTERNAL_H

#include <curl/curl.h>
#include <event2/event.h>
#include <event2/buffer.h>
#include <event2/event_struct.h>
#include <sys/queue.h>

#include "libfetch.h"

enum fetch__state {
    FETCH__QUEUED,  /* in the client's queue or a host's blocked list */
    FETCH__DOOMED,  /* failed before starting; finishes at the next kick */
    FETCH__RUNNING, /* easy handle in the multi */
    FETCH__DONE
};

struct fetch__host;

/* A pooled easy handle with the storage libcurl writes into. */
struct fetch__handle {
    CURL *easy;
    int dirty;      /* a fetch_request changed options a plain GET must reset */
    int sock_errno; /* socket() failed with this in the last transfer */
    char errbuf[CURL_ERROR_SIZE];
};

struct fetch__header {
    const char *name, *value;
};

struct fetch_task {
    fetch_client *client;             /* NULL once detached by client_free */
    TAILQ_ENTRY(fetch_task) all_link; /* client->tasks: every live task */
    TAILQ_ENTRY(fetch_task) q_link;   /* queue, host->blocked or doomed */
    TAILQ_ENTRY(fetch_task) u_link;   /* client->unfinished */
    TAILQ_ENTRY(fetch_task) d_link;   /* client->completed (as_completed) */
    unsigned long seq;                /* submission number */
    unsigned magic;                   /* FETCH__TASK_LIVE until freed */
    enum fetch__state state;
    int blocked;      /* QUEUED in host->blocked, not client->queue */
    int freeing;      /* inside fetch_task_free() */
    int in_completed; /* in client->completed */
    int https;        /* scheme https: HTTP/2 may multiplex */
    int first_byte_seen;
    int stop;      /* why on_body stopped the transfer, or 0 */
    int drop_body; /* an HTTP error that fails the task: stream none of it */
    int sink_errno;
    size_t max_body_size; /* in force for this transfer; 0 = none */
    /* a fetch_submit() request, copied, with "the client's" values resolved
       and its strings owned; NULL for a plain fetch_get() */
    fetch_request *req;
    struct curl_slist *req_headers; /* the client's, then the request's */
    struct fetch__host *host; /* per-host accounting; NULL when unlimited */
    char *url;                /* as submitted */
    char *target;             /* what libcurl gets: url, or "http://" url */
    struct fetch__handle *h;  /* only while RUNNING */
    struct evbuffer *body;
    fetch_done_cb cb;
    void *cb_arg;
    double t_submit, t_start;
    fetch_response resp;
    char *message; /* resp.message storage */
    char *effective_url;
    char *content_type;
    struct fetch__header *headers; /* one block: array, then the strings */
    size_t n_headers;
};

TAILQ_HEAD(fetch__task_list, fetch_task);

#define FETCH__TASK_LIVE 0x7461736bu
/* Longest URL a message shows whole; a longer one is cut in the middle. */
#define FETCH__URL_SHOWN 200

/* Per scheme+host+port admission state (only with max_per_host). */
struct fetch__host {
    char *key;
    int running;
    size_t refs; /* tasks queued or running for this host */
    struct fetch__task_list blocked;
    int in_ready;
    TAILQ_ENTRY(fetch__host) ready_link;
};

struct fetch__sock {
    struct event ev;
    curl_socket_t fd;
    int what; /* CURL_POLL_* currently armed */
    fetch_client *client;
    TAILQ_ENTRY(fetch__sock) link;
};

struct fetch_client {
    fetch_options opts; /* strings point into owned copies (strs) */
    char *strs[8];
    int env_proxy; /* a proxy variable was set when the client was made */
    struct curl_slist *headers;
    fetch_trace trace;
    CURLSH *share; /* cookies shared by every handle */

    struct event_base *base;
    int own_base;
    CURLM *multi;
    struct event *timer; /* libcurl's single timeout */
    struct event *kick;  /* deferred admission and doomed-task completion */

    struct fetch__task_list tasks;      /* every live task */
    struct fetch__task_list unfinished; /* submitted, not finished */
    struct fetch__task_list completed;  /* finished, not yet handed out by
                                           fetch_as_completed */
    struct fetch__task_list queue;      /* waiting for a slot, FIFO */
    struct fetch__task_list doomed;     /* failed at submission */
    /* hosts with a blocked task and a free per-host slot */
    TAILQ_HEAD(, fetch__host) ready_hosts;
    void *hosts; /* tsearch() tree of fetch__host */
    TAILQ_HEAD(, fetch__sock) socks;

    struct fetch__handle **pool; /* idle easy handles, reused */
    size_t pool_len;

    size_t ntasks, queued, running, nsocks, finished, failures;
    unsigned long next_seq;
    size_t idle; /* HTTP/1.1 connections likely idle in libcurl's cache */
    int closing; /* fetch_client_free() under way: no new work */
    /* libfetch frames on the stack that may run the caller's callbacks:
       blocking waits are refused inside one, and a fetch_client_free()
       from a callback waits until the last one returns */
    int depth;
    int free_pending;
    int destroying;         /* the teardown runs: finished tasks are detached */
    struct event *deadline; /* fetch_client_set_deadline(), or NULL */
    double deadline_s;      /* its length, for messages */
    int deadline_passed;
};

/* text.c */
char *fetch__message(const char *url, const char *detail);
size_t fetch__scheme_len(const char *url);
int fetch__one_line(const char *s);
int fetch__token(const char *s, size_t len);
int fetch__header_ok(const char *h);
int fetch__seconds_ok(double s);

/* wait.c */
void fetch__task_expire(fetch_task *t, const char *what, double seconds);

/* loop.c: monotonic clock in seconds; seconds as a timeval */
double fetch__now(void);
void fetch__timeval(struct timeval *tv, double seconds);

/* error.c */
int fetch__from_curl(CURLcode cc);

/* task.c */
struct fetch__handle *fetch__handle_new(fetch_client *c);
void fetch__handle_free(struct fetch__handle *h);
void fetch__task_start(fetch_task *t, struct fetch__handle *h);
void fetch__task_finish(fetch_task *t, int code, CURLcode cc,
                        const char *detail);
void fetch__task_complete(fetch_task *t, CURLcode cc);
void fetch__completed_remove(fetch_client *c, fetch_task *t);

/* client.c */
void fetch__enter(fetch_client *c);
int fetch__leave(fetch_client *c);
int fetch__slist_append(struct curl_slist **list, const char *s);
size_t fetch__client_admit(fetch_client *c);
void fetch__client_kick(fetch_client *c);
struct fetch__host *fetch__client_host(fetch_client *c, const char *key);
void fetch__client_enqueue(fetch_client *c, fetch_task *t);
void fetch__client_unqueue(fetch_client *c, fetch_task *t);
void fetch__client_release(fetch_client *c, fetch_task *t);

/* loop.c */
int fetch__loop_init(fetch_client *c);
void fetch__loop_free(fetch_client *c);
void fetch__loop_process(fetch_client *c);
int fetch__loop_once(fetch_client *c);

#endif
