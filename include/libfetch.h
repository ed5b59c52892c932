/*
 * libfetch: fetch many HTTP(S) URLs concurrently, the asyncio/aiohttp way.
 *
 * One fetch_client (aiohttp's ClientSession) owns one libcurl multi handle
 * driven by libevent. Every request is a fetch_task that is scheduled as soon
 * as it is submitted (asyncio.create_task). Waiting is done with
 * fetch_gather() (asyncio.gather, results in request order) and
 * fetch_wait_for() (asyncio.wait_for), or, inside a libevent loop you run
 * yourself, with a completion callback.
 *
 * Units: every duration is in seconds, as a double.
 *
 * Errors: calls return FETCH_OK (0) or a negative FETCH_E_* code; calls that
 * return a pointer return NULL on failure. A finished task carries its own
 * result code in its fetch_response; fetch_strerror() gives the text of any
 * code.
 *
 * Untrusted text: URLs, header values and server messages come from the
 * web. Every message libfetch composes (fetch_response.message) is safe to
 * print: credentials in URLs are redacted, a long URL is shortened in the
 * middle, and control bytes, bytes that are not UTF-8 and characters that
 * reorder text are escaped (fetch_text_escape()). Strings handed back as
 * they came (fetch_response.url, effective_url, content_type, headers) are
 * not: escape them with fetch_text_escape() before printing them.
 *
 * Threads: a client and its tasks belong to one thread and one event_base.
 * Use one client per thread; libfetch keeps no global state of its own apart
 * from libcurl's global init (done once, thread-safely, by the first
 * fetch_client_new()).
 */
#ifndef LIBFETCH_H
#define LIBFETCH_H

#include <stddef.h>

#ifdef __cplusplus
extern "C" {
#endif

#define LIBFETCH_VERSION_MAJOR 0
#define LIBFETCH_VERSION_MINOR 1
#define LIBFETCH_VERSION_PATCH 0
#define LIBFETCH_VERSION_STRING "0.1.0"

struct event_base;

/** A client: options, one libcurl multi handle, one admission queue. */
typedef struct fetch_client fetch_client;
/** One request, from submission until fetch_task_free(). */
typedef struct fetch_task fetch_task;

/**
 * Result and error codes. FETCH_OK is 0, every error is negative.
 * The first group describes a finished request; the second, a call made
 * wrongly.
 */
typedef enum fetch_error {
    FETCH_OK = 0,
    FETCH_E_TIMEOUT = -1,   /**< per-request timeout, deadline or wait_for */
    FETCH_E_CANCELLED = -2, /**< fetch_task_cancel() or client teardown */
    FETCH_E_URL = -3,       /**< malformed URL */
    FETCH_E_PROTOCOL = -4, /**< scheme other than http/https (also redirects) */
    FETCH_E_RESOLVE = -5,  /**< host name could not be resolved */
    FETCH_E_CONNECT = -6,  /**< connection refused or unreachable */
    FETCH_E_TLS = -7,      /**< TLS handshake or certificate failure */
    FETCH_E_HTTP = -8,     /**< HTTP status >= 400 with fail_on_http_error */
    FETCH_E_TOO_MANY_REDIRECTS = -9, /**< more than max_redirects */
    FETCH_E_TRANSFER = -10,  /**< connection broken, bad response, short body */
    FETCH_E_TOO_LARGE = -11, /**< body larger than allowed */
    FETCH_E_OTHER = -12,     /**< any other libcurl failure; see curl_code */
    FETCH_E_WRITE = -13,     /**< the body's file sink could not be written */
    FETCH_E_NOFD = -14,      /**< out of file descriptors (EMFILE, ENFILE) */

    FETCH_E_INVAL = -20, /**< invalid argument */
    FETCH_E_NOMEM = -21, /**< out of memory */
    FETCH_E_BUSY = -22,  /**< blocking call made from inside the loop */
    FETCH_E_LOOP = -23   /**< the event loop failed or ran dry */
} fetch_error;

/**
 * Text of a code, e.g. "timed out". Never NULL; unknown codes give
 * "unknown error". The string is static.
 */
const char *fetch_strerror(int code);

/** The library's version, "MAJOR.MINOR.PATCH" (static string). */
const char *fetch_version(void);

/* ------------------------------------------------------------------ */
/* Client                                                              */
/* ------------------------------------------------------------------ */

/**
 * Client options. Fill with fetch_options_init(), then change fields.
 * Strings are copied by fetch_client_new(); the caller keeps ownership.
 */
typedef struct fetch_options {
    /** Most requests in flight at once (asyncio.Semaphore / aiohttp
     *  TCPConnector(limit)). Default 100; must be >= 1. */
    int max_concurrency;
    /** Most requests in flight to one scheme+host+port
     *  (TCPConnector(limit_per_host)). Default 0 = unlimited. */
    int max_per_host;
    /** Per-request timeout in seconds, counted from the moment the request
     *  leaves the queue and starts (time spent queued is not charged).
     *  Mirrors asyncio.wait_for: the transfer is stopped and its result is
     *  FETCH_E_TIMEOUT. Default 0 = none. Negative, NaN or infinite:
     *  FETCH_E_INVAL. */
    double timeout;
    /** Connect timeout in seconds (TCP + TLS). Default 10; 0 = libcurl's
     *  default (300 s). Negative, NaN or infinite: FETCH_E_INVAL. */
    double connect_timeout;
    /** Follow redirects (3xx with Location). Default 1. */
    int follow_redirects;
    /** Most redirects followed; more gives FETCH_E_TOO_MANY_REDIRECTS.
     *  Default 10. */
    int max_redirects;
    /** User-Agent header. Default NULL = "libfetch/VERSION". A CR or LF in
     *  it: FETCH_E_INVAL (it would inject a header). */
    const char *user_agent;
    /** Accept-Encoding. Default NULL = every encoding libcurl was built with
     *  (gzip, deflate, br, zstd ...), decoded transparently. "" also means
     *  all; set "identity" to ask for none. CR or LF: FETCH_E_INVAL. */
    const char *accept_encoding;
    /** Extra request headers, each "Name: value" ("Name:" removes one that
     *  libcurl would send, "Name;" sends it empty), the name an HTTP token;
     *  array of n_headers. A NULL entry, a CR or LF, or no name:
     *  FETCH_E_INVAL. Default NULL/0. */
    const char *const *headers;
    size_t n_headers;
    /** Treat HTTP status >= 400 as failure FETCH_E_HTTP (aiohttp
     *  raise_for_status). A buffered body is still kept; a streamed one
     *  (on_data, sink_fd, sink_path) is not delivered, as with curl
     *  --fail. Default 0. */
    int fail_on_http_error;
    /** Largest body accepted, in bytes; a larger one stops the transfer
     *  with FETCH_E_TOO_LARGE. Default 0 = no limit. */
    size_t max_body_size;

    /** Keep cookies in memory, shared by every request of this client
     *  (aiohttp's CookieJar). Default 1. Nothing is written to disk unless
     *  cookie_jar is set. */
    int cookies;
    /** Write the cookies to this file (Netscape format) when the client is
     *  freed. Default NULL = never. */
    const char *cookie_jar;

    /** TLS: a CA bundle file and/or directory to verify servers with instead
     *  of the system's. Default NULL. */
    const char *ca_file;
    const char *ca_path;
    /** TLS client certificate and key (PEM files). Default NULL. */
    const char *client_cert;
    const char *client_key;
    /** Skip server certificate and host name verification. Default 0:
     *  verification is on; set this only for testing. */
    int insecure;
    /** Proxy URL for every request, e.g. "http://127.0.0.1:3128". Default
     *  NULL = libcurl's rule: the http_proxy, https_proxy, all_proxy and
     *  no_proxy environment variables (when none is set as the client is
     *  created, later changes are not seen). */
    const char *proxy;

    /** Keep each response's headers for fetch_task_header(). Default 1;
     *  0 saves copying them (about a tenth of the CPU per small request)
     *  for programs that never look. */
    int keep_headers;

    /** Tracing hooks (aiohttp TraceConfig); see fetch_trace. Default
     *  NULL. The struct is copied. */
    const struct fetch_trace *trace;
} fetch_options;

/**
 * Tracing hooks, each optional (NULL). They observe, they do not steer: a
 * hook may read the task (fetch_task_url(), and fetch_task_response() in
 * on_finished) but must not submit, cancel, free (a task or the client) or
 * wait. Times are seconds
 * since the task was submitted.
 */
typedef struct fetch_trace {
    /** the task was submitted and entered the queue */
    void (*on_queued)(fetch_task *task, void *arg);
    /** it left the queue and its transfer started (time = queue time) */
    void (*on_started)(fetch_task *task, double time, void *arg);
    /** the first byte of the response arrived */
    void (*on_first_byte)(fetch_task *task, double time, void *arg);
    /** it finished, whatever the result; runs just before the task's
     *  completion callback */
    void (*on_finished)(fetch_task *task, double time, void *arg);
    void *arg;
} fetch_trace;

/** Fill opts with the defaults documented in fetch_options. */
void fetch_options_init(fetch_options *opts);

/**
 * Create a client.
 *
 * @param opts  options, or NULL for the defaults. Copied; may be freed after.
 * @param base  the libevent event_base to run on, or NULL for a private one.
 *              With your own base (embedding) you dispatch it yourself and
 *              learn of completions through fetch_done_cb; the blocking
 *              waits still work when called from outside the loop. The base
 *              must outlive the client.
 * @param err   if not NULL, receives FETCH_OK or the reason for NULL:
 *              FETCH_E_INVAL (bad option value), FETCH_E_NOMEM.
 * @return a client to free with fetch_client_free(), or NULL.
 */
fetch_client *fetch_client_new(const fetch_options *opts,
                               struct event_base *base, int *err);

/**
 * Free a client. Every unfinished task ends with FETCH_E_CANCELLED (its
 * callback runs, exactly once); tasks stay valid until you free them, but
 * are detached from the client. Every event and socket the client added to
 * the event_base is removed. NULL is a no-op.
 *
 * From inside a completion or data callback of this client the free is
 * deferred, as hiredis' redisAsyncFree() is: the client takes no new task from
 * then on (fetch_get() and fetch_submit() return NULL), and it is freed when
 * control leaves libfetch, i.e. when the callback and the libfetch call or
 * event that ran it have returned. A blocking wait that ran the callback
 * then cancels what is left and returns at once. Do not use the client
 * after that call returns. Freeing a client twice is undefined, as free().
 */
void fetch_client_free(fetch_client *client);

/** The event_base the client runs on (its own, or the one passed in). */
struct event_base *fetch_client_get_base(const fetch_client *client);

/** Counters for a client, e.g. to check nothing is left pending. */
typedef struct fetch_stats {
    size_t tasks;    /**< tasks alive (submitted and not yet freed) */
    size_t queued;   /**< waiting for a concurrency slot */
    size_t running;  /**< transfers in flight (easy handles in the multi) */
    size_t sockets;  /**< sockets libcurl asked us to watch */
    size_t finished; /**< tasks finished since the client was created */
} fetch_stats;

/** Fill *stats for client. */
void fetch_client_get_stats(const fetch_client *client, fetch_stats *stats);

/* ------------------------------------------------------------------ */
/* Tasks                                                               */
/* ------------------------------------------------------------------ */

/**
 * Completion callback. Runs exactly once per task (hiredis' rule) from the
 * event loop, never from inside the call that submitted the task: on
 * success, error, timeout, cancel or client teardown. The task is finished
 * when it runs (fetch_task_response() is valid). The callback may free the
 * task, submit new tasks and cancel others; it may free the client (the
 * free is deferred until the callback returns; see fetch_client_free()).
 */
typedef void (*fetch_done_cb)(fetch_task *task, void *arg);

/**
 * Streaming body callback (aiohttp's iter_chunked): receives each chunk of
 * the body as it arrives, instead of buffering it. data is valid only during
 * the call. Return 0 to go on; anything else stops the transfer: a positive
 * errno value says the data could not be kept (the task ends with
 * FETCH_E_WRITE, or FETCH_E_NOFD for EMFILE and ENFILE, "writing the body:"
 * and that error's text), a negative one that it is not wanted
 * (FETCH_E_CANCELLED, "stopped by the data callback"). Runs
 * inside libcurl: it must not submit, cancel, free a task or wait; it may
 * free the client (deferred, see fetch_client_free()).
 */
typedef int (*fetch_data_cb)(fetch_task *task, const char *data, size_t len,
                             void *arg);

/**
 * One request's description, for fetch_submit(). Fill with
 * fetch_request_init(), then set url and what differs from the client's
 * options. Everything is copied at submission.
 */
typedef struct fetch_request {
    const char *url;    /**< required */
    const char *method; /**< "GET" (default, NULL), "HEAD", "POST", "PUT",
                             "PATCH", "DELETE", or any other HTTP token;
                             anything else: FETCH_E_INVAL */
    const void *body;   /**< request body (copied), or NULL */
    size_t body_len;    /**< its length in bytes */
    /** Request headers added to the client's, each "Name: value"; a header
     *  of the same name replaces the client's; "Name:" removes one. Checked
     *  as fetch_options.headers (FETCH_E_INVAL). */
    const char *const *headers;
    size_t n_headers;
    /** Per-request timeout in seconds (as fetch_options.timeout); negative
     *  (default) = the client's, 0 = none; NaN or infinite:
     *  FETCH_E_INVAL. */
    double timeout;
    /** Follow redirects: -1 (default) = the client's, 0 no, 1 yes. */
    int follow_redirects;
    /** Largest body in bytes: 0 (default) = the client's. */
    size_t max_body_size;
    /** HTTP status >= 400 is FETCH_E_HTTP: -1 (default) = the client's. */
    int fail_on_http_error;
    /** Stream the body to this callback instead of buffering it. */
    fetch_data_cb on_data;
    void *data_arg;
    /** Or write the body to this open file descriptor (not closed) ... */
    int sink_fd; /**< default -1 = none */
    /** ... or to this file, created or truncated when the transfer starts
     *  and closed when it ends. */
    const char *sink_path;
} fetch_request;

/** Fill req with the defaults documented in fetch_request (url NULL). */
void fetch_request_init(fetch_request *req);

/**
 * Submit a request described by req (any method, body, headers, per-request
 * options, streaming). Otherwise exactly as fetch_get(): the task is
 * scheduled at once and bad URLs are the task's result.
 *
 * @param err  if not NULL, receives FETCH_OK, or with NULL the reason:
 *             FETCH_E_INVAL (NULL client, req or req->url; the client is
 *             being freed; a method that is not a token; a NULL, multi-line
 *             or nameless header; a NaN or infinite timeout; more than one
 *             of sink_fd, on_data and sink_path), FETCH_E_NOMEM.
 * @return a task owned by the caller, or NULL; then no callback runs.
 */
fetch_task *fetch_submit(fetch_client *client, const fetch_request *req,
                         fetch_done_cb cb, void *arg, int *err);

/**
 * Submit a GET for url and return its task, already scheduled
 * (asyncio.create_task(session.get(url))). The request starts when a
 * concurrency slot is free; until then it waits in libfetch's queue and costs
 * no connection or curl handle.
 *
 * A malformed URL or a scheme other than http/https is not a submit error:
 * the task finishes with FETCH_E_URL or FETCH_E_PROTOCOL like any other
 * failed request, so a batch of URLs is never aborted by one bad entry (a
 * CR, LF or space in it is malformed: it is never sent).
 *
 * @param client  the client.
 * @param url     the URL; copied.
 * @param cb      completion callback, or NULL.
 * @param arg     passed to cb.
 * A URL without a scheme is taken as http:// (never guessed from the host
 * name: "ftp.example/x" is http://ftp.example/x).
 *
 * @return a task owned by the caller (free with fetch_task_free()), or NULL
 *         for NULL client/url, a client being freed, or out of memory; then
 *         no callback runs. fetch_submit() tells these apart.
 */
fetch_task *fetch_get(fetch_client *client, const char *url, fetch_done_cb cb,
                      void *arg);

/**
 * Free a task and its response. An unfinished task is cancelled first (its
 * callback runs with FETCH_E_CANCELLED). May be called from the task's own
 * callback; must not be called on a task that a running fetch_wait_for()
 * or fetch_gather() is waiting for. NULL is a no-op.
 *
 * Freeing a task twice is a bug, as with free(); libfetch checks a marker
 * in the task and aborts with a message on stderr when it finds the task
 * already freed (it cannot tell once the memory is reused).
 */
void fetch_task_free(fetch_task *task);

/**
 * Cancel a queued or running task (task.cancel()). It finishes at once with
 * FETCH_E_CANCELLED and its callback runs before this returns; a running
 * transfer is removed from libcurl and its connection closed.
 * @return FETCH_OK, or FETCH_E_INVAL if the task had already finished.
 */
int fetch_task_cancel(fetch_task *task);

/** 1 when the task has finished (its response is available), else 0. */
int fetch_task_done(const fetch_task *task);

/** The arg given at submission (to fetch_get() or fetch_submit()), also
 *  when there is no callback: ties a task from fetch_as_completed() back to
 *  the caller's own data (libuv's uv_handle_get_data). */
void *fetch_task_get_data(const fetch_task *task);

/** The URL given at submission (owned by the task). */
const char *fetch_task_url(const fetch_task *task);

/**
 * A finished request's result. Owned by its task and valid until
 * fetch_task_free(); every pointer in it too.
 */
typedef struct fetch_response {
    int error;           /**< FETCH_OK or a FETCH_E_* result code */
    const char *message; /**< NULL when ok; else "URL: what went wrong",
                              safe to print (see "Untrusted text" above) */
    int curl_code;       /**< underlying CURLcode; 0 when libcurl did not
                              report the failure (cancel, malformed URL,
                              a wait_for or gather timeout) */
    long status;         /**< HTTP status of the last response, 0 if none */
    const char *body;    /**< body bytes, NUL-terminated (may hold NULs);
                              never NULL ("" when empty) */
    size_t body_len;     /**< body length in bytes, without the NUL */
    const char *url;     /**< the URL as submitted */
    const char *effective_url; /**< last URL after redirects, or NULL */
    const char *content_type;  /**< Content-Type header, or NULL */
    long redirects;            /**< number of redirects followed */
    double time_queued;        /**< submission -> start (left the queue) */
    double time_connect;       /**< start -> TCP connected (0 if reused/none) */
    double time_tls;           /**< start -> TLS handshake done (0 for http) */
    double time_first_byte;    /**< start -> first response byte */
    double time_total; /**< start -> finished (queue time not included) */
    size_t bytes;      /**< body bytes received, also when streamed to a
                            callback or a sink (then body_len is 0) */
} fetch_response;

/**
 * The response of a finished task, or NULL while it is queued or running.
 * Owned by the task.
 */
const fetch_response *fetch_task_response(const fetch_task *task);

/**
 * A response header of a finished task by name, case-insensitively; index
 * picks among repeated headers (0 = first). Headers of the last response
 * (after redirects) are kept, read with libcurl's curl_easy_nextheader().
 * @return the value, owned by the task, or NULL if there is no such header
 *         or the task has not finished.
 */
const char *fetch_task_header(const fetch_task *task, const char *name,
                              size_t index);

/**
 * Iterate over every response header: set *name and *value (owned by the
 * task) for header number i, in the order received.
 * @return 1 if header i exists, else 0.
 */
int fetch_task_header_at(const fetch_task *task, size_t i, const char **name,
                         const char **value);

/**
 * Cancel every unfinished task of the client (queued or running); each ends
 * with FETCH_E_CANCELLED and its callback runs before this returns.
 * @return the number of tasks cancelled.
 */
size_t fetch_client_cancel_all(fetch_client *client);

/**
 * Set a deadline for everything the client does (asyncio.timeout() around
 * the whole of it; fetchall's -T): seconds from now. When it passes, every
 * task still queued or running ends with FETCH_E_TIMEOUT ("deadline of S s
 * reached while queued" or "... while running"), and so does every task
 * submitted after it, at once. A later call moves it; seconds 0 clears it.
 * @return FETCH_OK, or FETCH_E_INVAL (NULL client; negative, NaN or
 *         infinite seconds).
 */
int fetch_client_set_deadline(fetch_client *client, double seconds);

/* ------------------------------------------------------------------ */
/* Waiting (blocking: runs the client's event loop until done)         */
/* ------------------------------------------------------------------ */

/** Pass as a wait timeout to wait without limit (asyncio's None). */
#define FETCH_WAIT_FOREVER (-1.0)

/**
 * Wait for one task, at most timeout seconds counted from this call
 * (mirrors asyncio.wait_for): if the task has not finished by then it is
 * cancelled and its result is FETCH_E_TIMEOUT. timeout 0 checks without
 * waiting; FETCH_WAIT_FOREVER (any negative value) waits until it finishes.
 * Other tasks of the client make progress meanwhile.
 *
 * @return the task's result code (FETCH_OK, FETCH_E_TIMEOUT, ...), or
 *         FETCH_E_INVAL (NULL task, a task of a freed client, a NaN or
 *         infinite timeout), FETCH_E_BUSY (called from a callback
 *         running on the client's event_base: a loop cannot be run from
 *         inside itself), FETCH_E_LOOP (event loop failure).
 */
int fetch_wait_for(fetch_task *task, double timeout);

/**
 * Wait for every task in tasks[0..n-1] (asyncio.gather with
 * return_exceptions=True): a failed request is that slot's result and does
 * not stop the others. Read the results in request order with
 * fetch_task_response(tasks[i]).
 *
 * @param deadline seconds counted from the submission of the earliest task
 *        in the array; tasks still queued or running then end with
 *        FETCH_E_TIMEOUT. 0 or negative = no deadline; NaN or infinite:
 *        FETCH_E_INVAL.
 * @param flags FETCH_GATHER_ALL or FETCH_GATHER_FAIL_FAST (below).
 * @return the number of tasks whose result is not FETCH_OK (0 = all
 *         succeeded), or FETCH_E_INVAL (NULL array or task, a task of
 *         another client, a NaN or infinite deadline), FETCH_E_BUSY,
 *         FETCH_E_LOOP.
 */
int fetch_gather(fetch_client *client, fetch_task *const *tasks, size_t n,
                 double deadline, int flags);

/**
 * Flags of fetch_gather(). FETCH_GATHER_ALL (0) collects every result, like
 * asyncio.gather(return_exceptions=True). FETCH_GATHER_FAIL_FAST stops at
 * the first failed task, in completion order, and cancels the others (they
 * end with FETCH_E_CANCELLED), as a plain asyncio.gather gives up on the
 * first exception.
 */
#define FETCH_GATHER_ALL 0
#define FETCH_GATHER_FAIL_FAST 1

/**
 * The next finished task of the client, in completion order
 * (asyncio.as_completed). Every task of the client is handed out once, in
 * the order it finished, unless it was freed first; tasks may be submitted
 * between calls (a producer/consumer loop). Waits at most timeout seconds
 * (FETCH_WAIT_FOREVER: no limit; 0: only what has already finished); a
 * timeout cancels nothing.
 *
 * @param err if not NULL, receives FETCH_OK, or with NULL the reason:
 *            FETCH_OK when nothing is left (no task unfinished or not yet
 *            handed out), FETCH_E_TIMEOUT, FETCH_E_INVAL (NULL client, a NaN
 *            or infinite timeout), FETCH_E_BUSY, FETCH_E_LOOP.
 * @return a finished task (still owned by the caller), or NULL.
 */
fetch_task *fetch_as_completed(fetch_client *client, double timeout, int *err);

/* ------------------------------------------------------------------ */
/* Untrusted text                                                      */
/* ------------------------------------------------------------------ */

/** Flags of fetch_text_escape(). */
#define FETCH_TEXT_TERMINAL 0 /**< escape for a terminal or a log line */
#define FETCH_TEXT_UTF8 1     /**< only make it valid UTF-8 (for JSON) */

/**
 * Make untrusted text safe to show, as snprintf() makes text: writes at
 * most size bytes to dst, NUL included, and returns the length the whole
 * result needs (so size 0 with dst NULL measures it). Only whole escapes
 * and whole characters are written.
 *
 * FETCH_TEXT_TERMINAL: printable ASCII and valid UTF-8 stay as they are;
 * a backslash is doubled; LF, CR and TAB become the two characters \n, \r
 * and \t; other control bytes, DEL and bytes that are not UTF-8 become
 * \xHH (two hex digits); C1 controls, bidirectional overrides and
 * isolates, line and paragraph separators and zero-width characters become
 * \uHHHH. The result is one line that cannot move the cursor, change
 * colours or reorder what a terminal shows (as OpenSSH treats text from
 * a remote host).
 *
 * FETCH_TEXT_UTF8: valid UTF-8 stays as it is, control bytes included;
 * each byte that is not part of a valid UTF-8 sequence becomes U+FFFD (the
 * replacement character), as a browser decodes it.
 *
 * @param src  len bytes, NUL bytes allowed.
 * @return the length of the whole result, without the NUL.
 */
size_t fetch_text_escape(char *dst, size_t size, const char *src, size_t len,
                         int flags);

/**
 * Copy url with the credentials of its authority ("user:password@")
 * replaced by "***", as snprintf() would (at most size bytes, NUL
 * included; returns the length the whole result needs). Works on malformed
 * URLs too: whatever stands before the last '@' between "scheme://" (or the
 * start) and the first '/', '?', '#' or backslash is taken as credentials.
 */
size_t fetch_url_redact(char *dst, size_t size, const char *url);

#ifdef __cplusplus
}
#endif
#endif /* LIBFETCH_H */
