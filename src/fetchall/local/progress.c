/* SPDX-License-Identifier: MIT */
/*
 * --progress: on a terminal, one line on stderr redrawn five times a
 * second (done/total, ok/failed/retrying, in flight/queued, hosts paused,
 * rates, elapsed, ETA), as wide as the terminal is now (read at each
 * redraw: a resize shows at the next one; 80 columns and no escape
 * sequences when stderr is not a terminal), cleared for each error line
 * and at the end, where a one-line summary replaces it. --progress=plain
 * writes the same as a plain line every 10 s instead, for logs. The line
 * is drawn by a timer on the client's event_base, the thread that writes
 * the error lines too, so the two never interleave.
 */
#include <stdlib.h>
#include <string.h>
#include <sys/ioctl.h>
#include <unistd.h>

#include <event2/event.h>

#include "../common/message.h"
#include "../common/util.h"
#include "local.h"

#define BAR_EVERY 0.2
#define PLAIN_EVERY 10.0

/* The bar on the screen (one a process), for the error lines to keep
   above it. */
static progress *active;

int progress_mode(int given, int quiet)
{
    const char *term = getenv("TERM");
    if (given != PROGRESS_AUTO)
        return given;
    return !quiet && isatty(STDERR_FILENO) && term && *term &&
                   strcmp(term, "dumb")
               ? PROGRESS_BAR
               : PROGRESS_NONE;
}

/* "1:02:03" or "2:03". */
static void clock_text(char *buf, size_t len, double s)
{
    long t = s < 0 ? 0 : (long)(s + 0.5);
    if (t >= 3600)
        snprintf(buf, len, "%ld:%02ld:%02ld", t / 3600, t / 60 % 60, t % 60);
    else
        snprintf(buf, len, "%ld:%02ld", t / 60, t % 60);
}

/* Bytes as "512 B", "1.2 KiB", "3.4 MiB", "5.6 GiB". */
static void size_text(char *buf, size_t len, double b)
{
    const char *unit[] = {"B", "KiB", "MiB", "GiB", "TiB"};
    int u = 0;
    while (b >= 1024 && u < 4) {
        b /= 1024;
        u++;
    }
    snprintf(buf, len, u ? "%.1f %s" : "%.0f %s", b, unit[u]);
}

/* The terminal's width now, or 80. */
static int width(void)
{
    struct winsize ws;
    if (ioctl(STDERR_FILENO, TIOCGWINSZ, &ws) == 0 && ws.ws_col > 0)
        return ws.ws_col;
    return 80;
}

/* What the run has done so far, as one line of at most len - 1 bytes:
   the parts that matter most first, so that a narrow terminal cuts off
   the least useful. */
static void status_line(runner *r, char *line, size_t len, int bar)
{
    progress *p = r->progress;
    fetch_stats st;
    double now = monotonic(), elapsed = now - p->t0;
    size_t done = r->done_ok + r->done_failed + r->skipped;
    char el[32], eta[48] = "", bytes[32], rate_b[32], total[48] = "";
    fetch_client_stats(r->client, &st);
    /* rates over the last seconds: an average that forgets */
    double dt = now - p->last_t;
    if (dt >= 1) {
        double rate = (double)(done - p->last_done) / dt;
        double brate = (double)(r->bytes - p->last_bytes) / dt;
        p->rate = p->rated ? 0.7 * p->rate + 0.3 * rate : rate;
        p->byte_rate = p->rated ? 0.7 * p->byte_rate + 0.3 * brate : brate;
        p->rated = 1;
        p->last_t = now;
        p->last_done = done;
        p->last_bytes = r->bytes;
    }
    clock_text(el, sizeof el, elapsed);
    size_text(bytes, sizeof bytes, (double)r->bytes);
    size_text(rate_b, sizeof rate_b, p->byte_rate);
    size_t all = r->total;
    if (all != (size_t)-1 && all >= done) {
        snprintf(total, sizeof total, "/%zu (%.0f%%)", all,
                 all ? 100.0 * (double)done / (double)all : 100.0);
        if (p->rate > 0 && done < all) {
            char t[32];
            clock_text(t, sizeof t, (double)(all - done) / p->rate);
            snprintf(eta, sizeof eta, " ETA %s", t);
        }
    }
    char robots[48] = ""; /* of the failed */
    if (r->cfg->fo.robots)
        snprintf(robots, sizeof robots, " (%zu by robots.txt)", r->disallowed);
    snprintf(line, len,
             "%s%zu%s done | %zu ok, %zu failed%s, %zu retrying | %s%s | "
             "%.1f/s, %s/s | %zu in flight, %zu queued, %zu hosts paused | %s",
             bar ? "" : "fetchall: progress: ", done, total, r->done_ok,
             r->done_failed, robots, st.retrying, el, eta, p->rate, rate_b,
             st.running, st.queued, st.hosts_paused, bytes);
}

/* Back to the start of the bar's line, the line empty: with an escape
   sequence on a terminal; elsewhere (a log, --progress bar into a file,
   as curl -# and wget's bar:force) with CR and spaces only. */
static void wipe(const progress *p)
{
    if (p->tty)
        fprintf(stderr, "\r\033[K");
    else
        fprintf(stderr, "\r%*s\r", p->drawn_len, "");
}

static void draw(runner *r)
{
    progress *p = r->progress;
    char line[512];
    int w = width();
    status_line(r, line, sizeof line, 1);
    if ((int)strlen(line) > w - 1) /* never wrap: a wrapped line stays */
        line[w > 1 ? w - 1 : 0] = '\0';
    int len = (int)strlen(line);
    if (p->tty) /* the rest of the line cleared */
        fprintf(stderr, "\r%s\033[K", line);
    else /* spaces over what the last one had beyond this one */
        fprintf(stderr, "\r%s%*s", line,
                p->drawn_len > len ? p->drawn_len - len : 0, "");
    fflush(stderr);
    p->drawn = 1;
    p->drawn_len = len;
}

static void on_tick(evutil_socket_t fd, short ev, void *arg)
{
    runner *r = arg;
    progress *p = r->progress;
    (void)fd;
    (void)ev;
    if (p->mode == PROGRESS_BAR) {
        draw(r);
    } else if (monotonic() >= p->next_plain - 0.5) { /* this tick's */
        char line[512];
        status_line(r, line, sizeof line, 0);
        fprintf(stderr, "%s\n", line);
        p->next_plain += PLAIN_EVERY;
    }
}

void progress_start(runner *r, progress *p, int mode)
{
    memset(p, 0, sizeof *p);
    r->progress = p;
    p->r = r;
    p->mode = mode;
    p->t0 = p->last_t = monotonic();
    p->tty = isatty(STDERR_FILENO);
    p->next_plain = p->t0 + PLAIN_EVERY;
    if (mode == PROGRESS_NONE)
        return;
    if (mode == PROGRESS_BAR) { /* every message goes above it */
        active = p;
        message_guard(progress_above, progress_below);
    }
    struct timeval tv = seconds_tv(mode == PROGRESS_BAR ? BAR_EVERY : 1);
    if (!(p->timer = event_new(r->base, -1, EV_PERSIST, on_tick, r)) ||
        event_add(p->timer, &tv) != 0)
        fatal("out of memory");
}

void progress_above(void)
{
    if (active && active->drawn)
        wipe(active); /* the line above the bar is next */
}

void progress_below(void)
{
    if (active && active->drawn)
        draw(active->r);
}

void progress_end(runner *r)
{
    progress *p = r->progress;
    if (!p || p->mode == PROGRESS_NONE)
        return;
    event_free(p->timer);
    p->timer = NULL;
    progress_above();
    p->drawn = 0;
    active = NULL;
    message_guard(NULL, NULL);
    double took = monotonic() - p->t0;
    size_t done = r->done_ok + r->done_failed;
    char bytes[32], el[32];
    size_text(bytes, sizeof bytes, (double)r->bytes);
    clock_text(el, sizeof el, took);
    fetch_stats st;
    fetch_client_stats(r->client, &st);
    char robots[48] = "";
    if (r->cfg->fo.robots)
        snprintf(robots, sizeof robots, " (%zu by robots.txt)", r->disallowed);
    fprintf(stderr,
            "fetchall: %zu done in %s: %zu ok, %zu failed%s, %zu retries%s; "
            "%.1f requests/s, %s\n",
            done, el, r->done_ok, r->done_failed, robots, st.retries,
            r->skipped ? " (more done before: --journal)" : "",
            took > 0 ? (double)done / took : 0.0, bytes);
    fflush(stderr);
}
