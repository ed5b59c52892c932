/* SPDX-License-Identifier: MIT */
/*
 * libfetch: fetch many HTTP(S) URLs concurrently, the asyncio/aiohttp way.
 *
 * One fetch_client (aiohttp's ClientSession) owns a scheduler and one or
 * more event loops, each a libcurl multi handle driven by libevent. Every
 * request is a fetch_task that is scheduled as soon as it is submitted
 * (asyncio.create_task). Waiting is done with fetch_gather() (asyncio.gather,
 * results in request order), fetch_wait_for() (asyncio.wait_for) and
 * fetch_as_completed(), or, inside a libevent loop you run yourself, with a
 * completion callback.
 *
 * Units: every duration is in seconds, as a double.
 *
 * Numbers, one rule for the whole API:
 * - Limits (fetch_options, fetch_client_set_deadline()): 0 means none
 *   (no timeout, no limit per host, no size limit); negative, NaN or
 *   infinite: FETCH_E_INVAL.
 * - Overrides (fetch_request): a negative value, what fetch_request_init()
 *   sets, means "the client's"; 0 means none; positive, this value. NaN or
 *   infinite: FETCH_E_INVAL.
 * - Waits (fetch_wait_for(), fetch_gather(), fetch_as_completed()):
 *   FETCH_WAIT_FOREVER (any negative value) waits without limit, 0 does not
 *   wait at all, positive waits that long. NaN or infinite: FETCH_E_INVAL.
 *
 * Errors: calls return FETCH_OK (0) or a negative FETCH_E_* code; calls that
 * return a pointer return NULL and put the code in their int *err. A
 * finished task carries its own result code in its fetch_response;
 * fetch_strerror() gives the text of any code, fetch_err_name() a stable
 * name for programs.
 *
 * Untrusted text: URLs, header values and server messages come from the
 * web. Every message libfetch composes (fetch_response.message) is safe to
 * print: credentials in URLs are redacted, a long URL is shortened in the
 * middle, and control bytes, bytes that are not UTF-8 and characters that
 * reorder text are escaped (fetch_text_escape()). Strings handed back as
 * they came (fetch_response.url, effective_url, content_type, headers) are
 * not: escape them with fetch_text_escape() before printing them.
 *
 * Retries (fetch_options.retries; off by default), as urllib3's Retry: a
 * failed attempt is tried again after a wait when it failed in a way that
 * may pass, and the request is one that may be sent twice:
 * - not sent at all (could not resolve, could not connect, a connect
 *   timeout, a TLS handshake that broke off): always;
 * - sent, then the answer broke off (reset, nothing back, a short body, an
 *   HTTP/2 stream error, the per-request timeout): idempotent methods only
 *   (GET, HEAD, PUT, DELETE, OPTIONS, TRACE), unless retry_all_errors;
 * - an HTTP status in retry_statuses (408 429 500 502 503 504): idempotent
 *   methods only, unless retry_all_errors (which retries every status
 *   >= 400, as curl --retry-all-errors with --fail);
 * - never: a certificate that does not verify, a malformed URL, an
 *   unsupported scheme, too many redirects, other statuses, a body over
 *   the limit, a body that could not be kept, a cancel, and the timeouts
 *   that end the whole task (fetch_wait_for(), fetch_gather()'s deadline,
 *   fetch_client_set_deadline()).
 * The wait before retry k (1, 2, ...) is "full jitter" back-off, a random
 * time in [0, min(retry_backoff_max, retry_backoff * 2^(k-1))], or the
 * server's Retry-After (seconds or an HTTP date; a date in the past is 0;
 * at most retry_after_max) when that is longer. A retry waits in the
 * scheduler, not in a sleep, and then goes ahead of the requests queued to
 * its host after it. A retry that could not start within retry_max_time of
 * the submission, or before the client's deadline, is not made: the task
 * fails at once with its last attempt's error, and its message says why.
 * A run of failures cannot multiply the load: retries are paid from a
 * budget (retry_budget). fetch_response.attempts counts the attempts; the
 * response is the last attempt's. The body of a failed attempt is never
 * delivered: a buffered one is dropped; a status that will be retried is
 * held back, not streamed (up to 1 MiB; a larger one streams and is taken
 * back as follows); a streamed body cut off after some bytes restarts
 * cleanly (sink_path: truncated; sink_fd: truncated back if it is a
 * regular file, else not retried; on_data: called with NULL, 0 to discard
 * what it got, and not retried if it returns non-zero). A retry that is
 * not made after all (attempts used up, retry_max_time, the deadline, the
 * budget) leaves its last answer as the result in every sink alike: a body
 * held back is delivered then (to on_data on the client's thread, just
 * before the completion callback).
 *
 * Hosts (scheme, host and port) are scheduled apart (max_per_host, rate
 * and delay limits). Without max_per_host ready hosts take turns
 * (round-robin); with it, the host with the longest chain of requests
 * ahead goes first (its queued requests in rounds of max_per_host, times
 * its learned latency), as a makespan scheduler orders its longest jobs. A
 * host's first request goes alone until its connection is up, so that the
 * others find its name in the DNS cache (one lookup per host) and, over
 * HTTP/2, a connection to multiplex on. What one host answers holds its
 * other requests:
 * a 429 that will be retried or has a Retry-After, and a 503 with a
 * Retry-After, pause the host for Retry-After (or the back-off base,
 * jittered); then one request probes it alone, and its answer opens the
 * host again (a 503 without Retry-After holds back only its own request:
 * a server that fails one request in ten must not stall the rest). After
 * breaker_threshold attempts in a row that could not reach the host its
 * circuit breaker opens: the host is paused for breaker_pause, jittered
 * 0.5-1.5x, doubling each time up to breaker_max_pause, then probed once;
 * when the probe fails too, every request queued for the host fails at
 * once with "host down ..." (new ones wait for the next probe). Only
 * failures to reach it count: no such name, refused, unreachable, a
 * connect timeout, a TLS handshake that did not complete. An attempt whose
 * request went out on a connection the host accepted is an answer, however
 * it ended (a read timeout, a reset, a status), and closes the breaker.
 *
 * Threads: a client and its tasks belong to the thread that runs the
 * client's event_base; completion callbacks run there. With
 * fetch_options.loops above 1 the client runs more event loops, each in a
 * thread of its own, to carry transfers; data callbacks and the on_started
 * and on_first_byte trace hooks then run on those threads. libfetch keeps
 * no global state of its own apart from libcurl's global init (done once,
 * thread-safely, by the first fetch_client_new()), and changes nothing of
 * the process: no signal disposition (every transfer sets
 * CURLOPT_NOSIGNAL and libcurl sends with MSG_NOSIGNAL, its TLS layer too,
 * so that a server closing on a request raises no SIGPIPE; a program that
 * writes to pipes itself chooses its own), no locale, no limits.
 *
 * ABI: the structs a program fills (fetch_options, fetch_request) or has
 * filled (fetch_stats) grow only at their end, and carry their size: the
 * macros fetch_options_init(), fetch_request_init() and fetch_client_stats()
 * pass the program's sizeof, so that a program built against an older
 * header keeps working with a newer library (the fields it does not know of
 * keep their defaults). fetch_response is the library's and only grows.
 */
#ifndef LIBFETCH_H
#define LIBFETCH_H

#include <stddef.h>

#ifdef __cplusplus
extern "C" {
#endif

#define LIBFETCH_VERSION_MAJOR 0
#define LIBFETCH_VERSION_MINOR 2
#define LIBFETCH_VERSION_PATCH 0
#define LIBFETCH_VERSION_STRING "0.2.0"

struct event_base;
struct fetch_response;

/** A client: options, the scheduler, one or more event loops. */
typedef struct fetch_client fetch_client;
/** One request, from submission until fetch_task_free(). */
typedef struct fetch_task fetch_task;

/**
 * Every result and error code, once: X(symbol, value, name, text). The
 * first group describes a finished request, the second a call made wrongly.
 * name is stable (fetch_err_name(), e.g. for JSON); text is for people
 * (fetch_strerror()).
 */
#define FETCH_ERRORS(X)                                                        \
    X(FETCH_OK, 0, "ok", "ok")                                                 \
    X(FETCH_E_TIMEOUT, -1, "timeout", "timed out")                             \
    X(FETCH_E_CANCELLED, -2, "cancelled", "cancelled")                         \
    X(FETCH_E_URL, -3, "url", "malformed URL")                                 \
    X(FETCH_E_PROTOCOL, -4, "protocol", "unsupported protocol")                \
    X(FETCH_E_RESOLVE, -5, "resolve", "could not resolve host")                \
    X(FETCH_E_CONNECT, -6, "connect", "could not connect")                     \
    X(FETCH_E_TLS, -7, "tls", "TLS failure")                                   \
    X(FETCH_E_HTTP, -8, "http", "HTTP error status")                           \
    X(FETCH_E_TOO_MANY_REDIRECTS, -9, "too_many_redirects",                    \
      "too many redirects")                                                    \
    X(FETCH_E_TRANSFER, -10, "transfer", "transfer failed")                    \
    X(FETCH_E_TOO_LARGE, -11, "too_large", "response too large")               \
    X(FETCH_E_OTHER, -12, "other", "request failed")                           \
    X(FETCH_E_WRITE, -13, "write", "could not write the body")                 \
    X(FETCH_E_NOFD, -14, "nofd", "out of file descriptors")                    \
    X(FETCH_E_ROBOTS, -15, "robots", "disallowed by robots.txt")               \
    X(FETCH_E_INVAL, -20, "inval", "invalid argument")                         \
    X(FETCH_E_NOMEM, -21, "nomem", "out of memory")                            \
    X(FETCH_E_BUSY, -22, "busy", "blocking call from inside the event loop")   \
    X(FETCH_E_LOOP, -23, "loop", "event loop failure")

/**
 * Result and error codes, FETCH_OK (0) or negative:
 * FETCH_E_TIMEOUT per-request timeout, deadline or wait_for;
 * FETCH_E_CANCELLED fetch_task_cancel(), a data callback, client teardown;
 * FETCH_E_URL malformed URL; FETCH_E_PROTOCOL scheme other than http/https
 * (also on redirects); FETCH_E_RESOLVE unknown host; FETCH_E_CONNECT
 * refused or unreachable; FETCH_E_TLS handshake or certificate;
 * FETCH_E_HTTP status >= 400 with fail_on_http_error;
 * FETCH_E_TOO_MANY_REDIRECTS; FETCH_E_TRANSFER connection broken, bad
 * response, short body; FETCH_E_TOO_LARGE body over the limit;
 * FETCH_E_OTHER any other libcurl failure (see curl_code); FETCH_E_WRITE
 * the body could not be kept (file sink, data callback); FETCH_E_NOFD out
 * of file descriptors; FETCH_E_ROBOTS never requested: its host's
 * robots.txt disallows it (fetch_options.robots). Calls: FETCH_E_INVAL,
 * FETCH_E_NOMEM, FETCH_E_BUSY (a blocking call from inside the client's loop),
 * FETCH_E_LOOP (the event loop failed or ran dry).
 */
typedef enum fetch_error {
#define FETCH_ERROR_ENUM_(sym, value, name, text) sym = value,
    FETCH_ERRORS(FETCH_ERROR_ENUM_)
#undef FETCH_ERROR_ENUM_
} fetch_error;

/**
 * Text of a code, e.g. "timed out". Never NULL; unknown codes give
 * "unknown error". The string is static.
 */
const char *fetch_strerror(int code);

/**
 * Stable name of a code, e.g. "timeout" for FETCH_E_TIMEOUT (as libuv's
 * uv_err_name()): lower case, never changed once released, for programs and
 * JSON. Unknown codes give "unknown". The string is static.
 */
const char *fetch_err_name(int code);

/** The library's version, "MAJOR.MINOR.PATCH" (static string). */
const char *fetch_version(void);

/* ------------------------------------------------------------------ */
/* Client                                                              */
/* ------------------------------------------------------------------ */

/**
 * Tracing hooks, each optional (NULL), as aiohttp's TraceConfig. They
 * observe, they do not steer: a hook may read the task (fetch_task_url(),
 * and fetch_task_response() in on_finished) but must not submit, cancel,
 * free (a task or the client) or wait. Times are seconds since the task was
 * submitted. on_queued, on_retry and on_finished run on the client's thread;
 * on_started and on_first_byte on the loop that carries the transfer (the
 * client's thread too when loops is 1).
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
    /** an attempt failed and will be retried after delay seconds;
     *  attempt is that attempt's response (its error, message, status;
     *  attempts = its number, 1 for the first), valid during the call */
    void (*on_retry)(fetch_task *task, const struct fetch_response *attempt,
                     double delay, void *arg);
} fetch_trace;

/**
 * Client options. Fill with fetch_options_init(), then change fields.
 * Strings and the header array are copied by fetch_client_new(); the
 * caller keeps ownership.
 */
typedef struct fetch_options {
    /** sizeof the struct as the program knows it; set by
     *  fetch_options_init(), do not change */
    size_t size;
    /** Most requests in flight at once, over every loop
     *  (asyncio.Semaphore / aiohttp TCPConnector(limit)). Default 100;
     *  must be >= 1. */
    int max_concurrency;
    /** Most requests in flight to one host (scheme + host + port), over
     *  every loop (TCPConnector(limit_per_host)). Default 0 = no limit. */
    int max_per_host;
    /** Event loops that carry the transfers. Default 1: the client's own
     *  event_base, in the caller's thread, asyncio's model. N > 1: N loops,
     *  each a thread with its own event_base and libcurl multi handle,
     *  sharing one scheduler (the limits hold over all of them, and a
     *  request starts on whichever loop has a free slot), one cookie jar,
     *  DNS cache and TLS session cache; completion callbacks still run on
     *  the client's base. 0: one loop per core. At most 64. */
    int loops;
    /** Per-request timeout in seconds, counted from the moment the request
     *  leaves the queue and starts (time spent queued is not charged).
     *  Mirrors asyncio.wait_for: the transfer is stopped and its result is
     *  FETCH_E_TIMEOUT. Default 0 = none. */
    double timeout;
    /** Connect timeout in seconds (TCP + TLS). Default 10; 0 = none. */
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
     *  freed. Default NULL = never. See also cookie_file. */
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

    /** Tracing hooks (aiohttp TraceConfig); see fetch_trace. Default: none.
     *  Copied. */
    fetch_trace trace;

    /* ---- retries: see "Retries" at the top (urllib3's Retry) ---- */
    /** Attempts after the first (urllib3's total, curl's --retry).
     *  Default 0: none. */
    int retries;
    /** Back-off base in seconds: retry k waits a random time up to
     *  retry_backoff * 2^(k-1) (full jitter). Default 1; 0: no wait. */
    double retry_backoff;
    /** Longest back-off wait in seconds. Default 30; 0: no cap. */
    double retry_backoff_max;
    /** Longest Retry-After honoured, in seconds: a longer one waits this
     *  long. Default 300; 0: Retry-After is ignored. */
    double retry_after_max;
    /** Seconds from submission after which no retry starts (curl's
     *  --retry-max-time): a retry whose wait would end later is not made.
     *  Default 0: no limit. */
    double retry_max_time;
    /** HTTP statuses that are retried (urllib3's status_forcelist): array
     *  of n_retry_statuses, each 100-599; copied. Default NULL/0: 408, 429,
     *  500, 502, 503, 504. */
    const int *retry_statuses;
    size_t n_retry_statuses;
    /** Retry every failure that may pass, for every method (curl's
     *  --retry-all-errors): also errors after the request was sent for
     *  methods that are not idempotent, and every status >= 400. Default
     *  0. */
    int retry_all_errors;
    /** The retry budget: retries may add at most this share of the
     *  requests made (a token bucket: each request's first attempt adds
     *  retry_budget tokens, each retry takes one; it starts with 10 and
     *  holds at most 10 + retry_budget * max_concurrency * 10). A retry
     *  without a token is not made: the task fails with its last error
     *  ("retry budget exhausted"). Default 0.2; 0: no budget. */
    double retry_budget;
    /** Attempts in a row that could not reach a host after which its
     *  circuit breaker opens (see "Hosts" at the top). Default 5; 0:
     *  never. */
    int breaker_threshold;
    /** The breaker's first pause, in seconds, doubled each time it opens
     *  again without an answer in between, up to breaker_max_pause; each
     *  pause jittered 0.5-1.5x. Defaults 1 and 60; must be > 0. */
    double breaker_pause;
    double breaker_max_pause;

    /* ---- politeness: the scheduler's token buckets (no bursts: starts
       are spaced evenly); exact over every loop ---- */
    /** Most requests started a second, in all. Default 0: no limit. */
    double rate;
    /** Most requests started a second to each host. Default 0: no limit.
     *  A start takes a token of both buckets or of neither. */
    double host_rate;
    /** Seconds between the starts of two requests to the same host
     *  (Scrapy's DOWNLOAD_DELAY, wget's --wait). Default 0. */
    double host_delay;
    /** Each host_delay times a random 0.5-1.5 (Scrapy's
     *  RANDOMIZE_DOWNLOAD_DELAY, wget's --random-wait). Default 0. */
    int random_delay;

    /** Cookies to start with: a file in the Netscape format (as curl -b
     *  and cookie_jar write it) or of Set-Cookie lines, read once when the
     *  client is created, into the jar every request shares. Needs cookies
     *  on. Default NULL. A file that cannot be read: FETCH_E_INVAL. */
    const char *cookie_file;

    /** Obey robots.txt (RFC 9309), as crawlers do. Before a host's first
     *  request its /robots.txt is fetched once (the host key of
     *  fetch_host_key(3): scheme, host and port), with the client's
     *  options (up to 5 redirects followed, RFC 9309 2.3.1.2; at most 500 KiB
     *  of it read), and the host's requests wait for it in the scheduler;
     *  its rules are kept for the client's life, fetched again after 24 h.
     *  The group of the user agent's product token ("libfetch", or
     *  user_agent's first word), case-insensitively, else "*", decides by
     *  the longest matching Allow or Disallow; a URL it disallows ends
     *  with FETCH_E_ROBOTS, never requested. A 4xx robots.txt (404
     *  included) allows everything; a 5xx, or a host that cannot be
     *  reached, disallows everything (RFC 9309 2.3.1.3, 2.3.1.4).
     *  Crawl-delay (not in the RFC; most crawlers honour it) becomes the
     *  host's seconds between starts when longer than host_delay, at most
     *  30. The robots.txt requests count in fetch_client_stats() like any
     *  other. Default 0: not read. */
    int robots;
} fetch_options;

/** Fill opts with the defaults documented in fetch_options; use the macro
 *  fetch_options_init(opts), which passes sizeof *opts as size. NULL is a
 *  no-op. */
void fetch_options_init_size(fetch_options *opts, size_t size);
#define fetch_options_init(opts) fetch_options_init_size((opts), sizeof *(opts))

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
 *              FETCH_E_INVAL (an option out of range, see fetch_options),
 *              FETCH_E_NOMEM, FETCH_E_LOOP (a loop thread could not start).
 * @return a client to free with fetch_client_free(), or NULL.
 */
fetch_client *fetch_client_new(const fetch_options *opts,
                               struct event_base *base, int *err);

/**
 * Free a client. Every unfinished task ends with FETCH_E_CANCELLED (its
 * callback runs, exactly once); tasks stay valid until you free them, but
 * are detached from the client. Every event and socket the client added to
 * the event_base is removed, and its loop threads are joined. NULL is a
 * no-op.
 *
 * From inside a completion callback of this client (or a data callback,
 * when loops is 1) the free is deferred, as hiredis' redisAsyncFree() is:
 * the client takes no new task from then on (fetch_get() and
 * fetch_submit() return NULL), and it is freed when control leaves
 * libfetch, i.e. when the callback and the libfetch call or event that ran
 * it have returned. A blocking wait that ran the callback then cancels what
 * is left and returns at once. Do not use the client after that call
 * returns. Freeing a client twice is undefined, as free().
 */
void fetch_client_free(fetch_client *client);

/** The event_base the client runs on (its own, or the one passed in). You
 *  may add events of your own to it. */
struct event_base *fetch_client_base(const fetch_client *client);

/** Counters for a client, e.g. to check nothing is left pending. */
typedef struct fetch_stats {
    /** sizeof the struct as the program knows it; set by the macro
     *  fetch_client_stats() */
    size_t size;
    size_t tasks;    /**< tasks alive (submitted and not yet freed) */
    size_t queued;   /**< waiting in the scheduler */
    size_t running;  /**< left the scheduler, not finished */
    size_t sockets;  /**< sockets libcurl asked the loops to watch */
    size_t finished; /**< tasks finished since the client was created */
    size_t timers;   /**< timers pending: libcurl's, the scheduler's, the
                          deadline (none when the client is idle) */
    size_t loops;    /**< event loops carrying transfers */
    /** free slots that no queued request may take now, each waiting for
     *  its host (its max_per_host, or a time): a producer that holds more
     *  requests back could submit them */
    size_t idle_slots;
    size_t retrying;     /**< failed, waiting to be tried again (also in
                              queued) */
    size_t hosts_paused; /**< hosts paused by a pushback or the breaker */
    size_t retries;      /**< retries made since the client was created */
} fetch_stats;

/** Fill *stats for client; use the macro fetch_client_stats(client, stats),
 *  which passes sizeof *stats as size. A NULL client gives all zeros; a
 *  NULL stats is a no-op. */
void fetch_client_stats_size(const fetch_client *client, fetch_stats *stats,
                             size_t size);
#define fetch_client_stats(client, stats)                                      \
    fetch_client_stats_size((client), (stats), sizeof *(stats))

/* ------------------------------------------------------------------ */
/* Tasks                                                               */
/* ------------------------------------------------------------------ */

/**
 * Completion callback. Runs exactly once per task (hiredis' rule) on the
 * client's event_base, never from inside the call that submitted the task:
 * on success, error, timeout, cancel or client teardown. The task is
 * finished when it runs (fetch_task_response() is valid). The callback may
 * free the task, submit new tasks and cancel others; it may free the client
 * (the free is deferred until the callback returns; see
 * fetch_client_free()).
 */
typedef void (*fetch_done_cb)(fetch_task *task, void *arg);

/**
 * Streaming body callback (aiohttp's iter_chunked): receives each chunk of
 * the body as it arrives, instead of buffering it. data is valid only during
 * the call. Return 0 to go on; anything else stops the transfer: a positive
 * errno value says the data could not be kept (the task ends with
 * FETCH_E_WRITE, or FETCH_E_NOFD for EMFILE and ENFILE, "writing the body:"
 * and that error's text), a negative one that it is not wanted
 * (FETCH_E_CANCELLED, "stopped by the data callback"). Runs inside libcurl,
 * on the loop that carries the transfer: it must not submit, cancel, free
 * a task or wait. It never runs after the task's completion callback has
 * begun. An answer held back for a retry that is then not made (see
 * "Retries") is delivered on the client's thread, just before the
 * completion callback.
 */
typedef int (*fetch_data_cb)(fetch_task *task, const char *data, size_t len,
                             void *arg);

/** What a wire callback is shown (fetch_request.on_wire). */
typedef enum fetch_wire_kind {
    /** A request head as it went out, whole: a hop begins (the first
     *  request, each redirect followed, each retry). url and ip are set. */
    FETCH_WIRE_REQUEST = 1,
    /** Bytes of the request body as they went out. */
    FETCH_WIRE_REQUEST_BODY,
    /** One line of the response head as it came in, with its CR LF: the
     *  status line first, the blank line last. An interim (1xx) head comes
     *  whole before the final one. Over HTTP/2, as libcurl renders it in
     *  HTTP/1.1 form ("HTTP/2 200"). */
    FETCH_WIRE_RESPONSE_HEAD,
    /** Bytes of the response body as they came off the wire: a
     *  Content-Encoding is not decoded, and over HTTP/1.1 the chunked
     *  transfer coding is kept (chunk sizes and all); over HTTP/2, the
     *  DATA frames' payload. What the body sinks get is decoded as ever. */
    FETCH_WIRE_RESPONSE_BODY
} fetch_wire_kind;

/** One piece of a transfer on the wire, valid during the call only. */
typedef struct fetch_wire {
    fetch_wire_kind kind;
    const char *data; /**< the bytes, len of them (not NUL-terminated) */
    size_t len;
    /** FETCH_WIRE_REQUEST only (else NULL): the hop's URL, and the numeric
     *  address of the peer it went to ("" when libcurl has none) */
    const char *url;
    const char *ip;
} fetch_wire;

/**
 * Called with every piece of a transfer as it crosses the wire, in order,
 * on the loop that carries the transfer (as a data callback), never after
 * the task's completion callback. For archiving (WARC) and debugging;
 * libcurl's CURLOPT_DEBUGFUNCTION is its source, so a transfer with one
 * costs libcurl's verbose bookkeeping. Return 0 to go on; non-zero stops
 * the transfer at its next step with FETCH_E_WRITE ("recording the
 * transfer failed"), errno's value if the return is positive.
 */
typedef int (*fetch_wire_cb)(fetch_task *task, const fetch_wire *w, void *arg);

/**
 * One request's description, for fetch_submit(). Fill with
 * fetch_request_init(), then set url and what differs from the client's
 * options. Everything is copied at submission.
 */
typedef struct fetch_request {
    /** sizeof the struct as the program knows it; set by
     *  fetch_request_init(), do not change */
    size_t size;
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
    /** Per-request timeout in seconds (as fetch_options.timeout):
     *  negative (default) = the client's, 0 = none. */
    double timeout;
    /** Follow redirects: negative (default) = the client's, 0 no, 1 yes. */
    int follow_redirects;
    /** Largest body in bytes: negative (default) = the client's, 0 = no
     *  limit. */
    long long max_body_size;
    /** HTTP status >= 400 is FETCH_E_HTTP: negative (default) = the
     *  client's, 0 no, 1 yes. */
    int fail_on_http_error;
    /** Stream the body to this callback instead of buffering it. */
    fetch_data_cb on_data;
    void *data_arg;
    /** Or write the body to this open file descriptor (not closed) ... */
    int sink_fd; /**< default -1 = none */
    /** ... or to this file, created or truncated when the transfer starts
     *  (each attempt) and closed when it ends. */
    const char *sink_path;
    /** Attempts after the first: negative (default) = the client's
     *  retries, 0 = none. */
    int retries;
    /** Show every hop's request and response as they cross the wire
     *  (see fetch_wire_cb), with wire_arg. Default NULL = none. */
    fetch_wire_cb on_wire;
    void *wire_arg;
} fetch_request;

/** Fill req with the defaults documented in fetch_request (url NULL); use
 *  the macro fetch_request_init(req), which passes sizeof *req as size.
 *  NULL is a no-op. */
void fetch_request_init_size(fetch_request *req, size_t size);
#define fetch_request_init(req) fetch_request_init_size((req), sizeof *(req))

/**
 * Submit a GET for url and return its task, already scheduled
 * (asyncio.create_task(session.get(url))). The request starts when a
 * concurrency slot is free; until then it waits in libfetch's scheduler and
 * costs no connection or curl handle.
 *
 * A malformed URL or a scheme other than http/https is not a submit error:
 * the task finishes with FETCH_E_URL or FETCH_E_PROTOCOL like any other
 * failed request, so a batch of URLs is never aborted by one bad entry (a
 * CR, LF or space in it is malformed: it is never sent). A URL without a
 * scheme is taken as http:// (never guessed from the host name:
 * "ftp.example/x" is http://ftp.example/x).
 *
 * @param client  the client.
 * @param url     the URL; copied.
 * @param cb      completion callback, or NULL.
 * @param arg     passed to cb, and kept: fetch_task_data().
 * @param err     if not NULL, receives FETCH_OK, or with NULL the reason:
 *                FETCH_E_INVAL (NULL client or url, or the client is being
 *                freed), FETCH_E_NOMEM.
 * @return a task owned by the caller (free with fetch_task_free()), or NULL;
 *         then no callback runs.
 */
fetch_task *fetch_get(fetch_client *client, const char *url, fetch_done_cb cb,
                      void *arg, int *err);

/**
 * Submit a request described by req (any method, body, headers, per-request
 * options, streaming). Otherwise exactly as fetch_get().
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
 * transfer is removed from libcurl and its connection closed (with loops
 * above 1, by its loop, a moment later; its data callback is not called
 * again).
 * @return FETCH_OK, or FETCH_E_INVAL if the task is NULL or had already
 *         finished.
 */
int fetch_task_cancel(fetch_task *task);

/** 1 when the task has finished (its response is available), else 0. */
int fetch_task_done(const fetch_task *task);

/** The arg given at submission (to fetch_get() or fetch_submit()), also
 *  when there is no callback: ties a task from fetch_as_completed() back to
 *  the caller's own data (libuv's uv_handle_get_data). */
void *fetch_task_data(const fetch_task *task);

/** The URL given at submission (owned by the task). */
const char *fetch_task_url(const fetch_task *task);

/**
 * A finished request's result. Owned by its task and valid until
 * fetch_task_free(); every pointer in it too. New members are only ever
 * added at the end.
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
    long http_version; /**< 10, 11, 20 or 30 for HTTP/1.0 ... HTTP/3; 0 if
                            no response */
    int attempts;      /**< attempts made (1 + retries); 0 if none started.
                            The rest of the response is the last one's;
                            time_queued runs from submission to its start */
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
 * This is how a program reads validators back for a conditional request
 * next time (ETag -> If-None-Match, Last-Modified -> If-Modified-Since in
 * fetch_request.headers; a 304 has status 304, FETCH_OK and no body): see
 * fetch_task_response(3), "Revalidating".
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
 * @return the number of tasks cancelled (0 for a NULL client).
 */
size_t fetch_client_cancel_all(fetch_client *client);

/**
 * Set a deadline for everything the client does (asyncio.timeout() around
 * the whole of it; fetchall's -T): seconds from now. When it passes, every
 * task still queued or running ends with FETCH_E_TIMEOUT ("deadline of S s
 * reached while queued" or "... while running"), and so does every task
 * submitted after it, at once. A later call moves it; seconds 0 clears it.
 * @return FETCH_OK, or FETCH_E_INVAL (NULL client; negative, NaN or
 *         infinite seconds), FETCH_E_NOMEM.
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
 *         FETCH_E_INVAL (NULL task, a NaN or infinite timeout),
 *         FETCH_E_BUSY (called from a callback running on the client's
 *         event_base: a loop cannot be run from inside itself),
 *         FETCH_E_LOOP (event loop failure).
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
 *        FETCH_E_TIMEOUT ("gather deadline of S s reached while ...").
 *        FETCH_WAIT_FOREVER (negative): no deadline; 0: end at once what
 *        has not finished.
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
 * @param src  len bytes, NUL bytes allowed; NULL is as len 0.
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
 * A NULL url is as "".
 */
size_t fetch_url_redact(char *dst, size_t size, const char *url);

/**
 * The host key of url, as snprintf() would (at most size bytes, NUL
 * included, whole parts only; returns the length the whole key needs; dst
 * may be NULL when size is 0): "scheme://host:port", scheme and host in
 * lower case, the port filled in for http (80) and https (443),
 * credentials left out.
 * Requests with one key are one host to the scheduler: max_per_host, the
 * rates and delays and the breaker count per key, as
 * aiohttp's TCPConnector(limit_per_host) counts per (host, port, ssl).
 * "http://Example.com/a" and "http://example.com:80/b" share
 * "http://example.com:80"; "https://example.com/" is another host.
 * A malformed URL gets some key (it fails later, when libcurl parses it).
 * A NULL url is as "". A key of a valid URL needs at most 512 bytes.
 */
size_t fetch_host_key(char *dst, size_t size, const char *url);

/**
 * Would libfetch send header as a request header (fetch_options.headers,
 * fetch_request.headers)? "Name: value", "Name:" (removes one libcurl
 * would send) or "Name;" (sends it empty), the name an HTTP token (RFC
 * 9110), nothing after a CR or LF that could start a header of its own.
 * For programs that check their input before they submit it, with the
 * library's own rule (fetchall checks -H so).
 * @return FETCH_OK, or FETCH_E_INVAL (NULL too).
 */
int fetch_header_check(const char *header);

/**
 * Is method an HTTP token (RFC 9110), as fetch_request.method must be
 * ("GET", "PROPFIND")?
 * @return FETCH_OK, or FETCH_E_INVAL (NULL, empty, a space, CR or LF ...).
 */
int fetch_method_check(const char *method);

#ifdef __cplusplus
}
#endif
#endif /* LIBFETCH_H */
