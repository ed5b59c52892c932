/* SPDX-License-Identifier: MIT */
/*
 * --sitemap SOURCE (sitemaps.org, protocol 0.9): <urlset><url><loc> gives
 * a URL, <sitemapindex><sitemap><loc> another sitemap, read after the
 * index, in its order. Each is parsed with libxml2's SAX parser, which
 * also opens gzip'd files, so a 50 MB sitemap costs no more memory than a
 * small one; a fetched sitemap goes to a temporary file first. Nothing in
 * the XML can make it read a file or the network (no DTD, no entities).
 */
#define _DEFAULT_SOURCE /* mkstemp's friends */
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <unistd.h>

#include <curl/curl.h>
#include <libxml/SAX2.h>
#include <libxml/parser.h>
#include <libxml/parserInternals.h>
#include <zlib.h>

#include "message.h"
#include "options.h"
#include "sitemap.h"
#include "util.h"

/* A sitemap index names sitemaps, not indexes (the protocol says so);
   indexes that do are followed this deep, no deeper, so a loop ends. */
#define DEPTH_MAX 3
/* The protocol's URLs are under 2,048 bytes; a longer <loc> is skipped
   rather than held whole. */
#define LOC_MAX 65536

typedef struct collect {
    FILE *out; /* the URLs */
    const fetch_options *fo;
    fetch_client *client; /* made at the first URL */
    int quiet;
    size_t urls;
    char **read; /* the sources read so far: each is read once */
    size_t n_read;
} collect;

/* web: source was named by a document from the web, which may name no
   file here */
static int read_source(collect *c, const char *source, int depth, int web);

/* A temporary file of no name: its descriptor, or -1. */
static int anonymous(void)
{
    const char *dir = getenv("TMPDIR");
    char path[4096];
    snprintf(path, sizeof path, "%s/fetchall-sitemap.XXXXXX",
             dir && *dir ? dir : "/tmp");
    int fd = mkstemp(path);
    if (fd >= 0)
        unlink(path);
    return fd;
}

static void say(const collect *c, const char *source, const char *what)
{
    if (c->quiet)
        return;
    char *s = escaped_text(source), *w = escaped_text(what);
    message_above();
    fprintf(stderr, "fetchall: --sitemap %s: %s\n", s ? s : "", w ? w : "");
    message_below();
    free(s);
    free(w);
}

static int to_file(fetch_task *t, const char *p, size_t len, void *arg)
{
    int fd = *(int *)arg;
    (void)t;
    if (!p) /* the attempt is retried: from the start */
        return ftruncate(fd, 0) == 0 && lseek(fd, 0, SEEK_SET) == 0 ? 0 : errno;
    return write_all(fd, p, len);
}

/* Fetch url into a temporary file: its descriptor, or -1 (said); with
   missing_ok, -2 (unsaid) for a 4xx: not there. */
static int fetch(collect *c, const char *url, int missing_ok)
{
    int err, fd = anonymous();
    if (fd < 0) {
        say(c, url, strerror(errno));
        return -1;
    }
    if (!c->client) {
        fetch_options o = *c->fo;
        o.loops = 1;
        o.robots = 0; /* a sitemap is what a site asks to be read */
        if (!(c->client = fetch_client_new(&o, NULL, &err))) {
            say(c, url, fetch_strerror(err));
            close(fd);
            return -1;
        }
    }
    fetch_request req;
    fetch_request_init(&req);
    req.url = url;
    req.on_data = to_file;
    req.data_arg = &fd;
    req.fail_on_http_error = 1;
    req.follow_redirects = 1; /* as crawlers do: http:// to https:// */
    fetch_task *t = fetch_submit(c->client, &req, NULL, NULL, &err);
    if (!t) {
        say(c, url, fetch_strerror(err));
        close(fd);
        return -1;
    }
    int rc = fetch_wait_for(t, -1);
    long status = fetch_task_response(t)->status;
    if (rc == FETCH_OK && status / 100 != 2) { /* a 1xx or 3xx is no body */
        char why[64];
        snprintf(why, sizeof why, "HTTP status %ld", status);
        say(c, url, why);
        close(fd);
        fd = -1;
    } else if (rc != FETCH_OK) {
        const fetch_response *res = fetch_task_response(t);
        int missing = missing_ok && res->status >= 400 && res->status < 500;
        if (!missing)
            say(c, url, res->message ? res->message : fetch_strerror(rc));
        close(fd);
        fd = missing ? -2 : -1;
    }
    fetch_task_free(t);
    return fd;
}

/* What one parse keeps: its place, the <loc> being read, the first
   error, and an index's sitemaps (read after it, in its order). */
typedef struct parsing {
    collect *c;
    const char *source;
    xmlParserCtxtPtr ctxt;
    int in_index, in_loc, line, failed;
    char *loc;
    size_t loc_len;
    char error[512];
    int error_line;
    char **children;
    size_t n_children;
} parsing;

static void on_start(void *arg, const xmlChar *name, const xmlChar *prefix,
                     const xmlChar *uri, int nns, const xmlChar **ns, int na,
                     int nd, const xmlChar **attrs)
{
    parsing *p = arg;
    (void)prefix, (void)uri, (void)nns, (void)ns, (void)na, (void)nd,
        (void)attrs;
    if (!strcmp((const char *)name, "sitemapindex"))
        p->in_index = 1;
    else if (!strcmp((const char *)name, "loc")) {
        p->in_loc = 1;
        p->loc_len = 0;
        p->line = xmlSAX2GetLineNumber(p->ctxt);
    }
}

static void on_text(void *arg, const xmlChar *v, int n)
{
    parsing *p = arg;
    if (!p->in_loc || n <= 0)
        return;
    if (p->loc_len + (size_t)n > LOC_MAX) { /* memory stays flat */
        p->loc_len = LOC_MAX + 1;
        return;
    }
    char *grown = realloc(p->loc, p->loc_len + (size_t)n + 1);
    if (!grown)
        fatal("out of memory");
    p->loc = grown;
    memcpy(p->loc + p->loc_len, v, (size_t)n);
    p->loc_len += (size_t)n;
    p->loc[p->loc_len] = '\0';
}

/* One <loc>'s text, trimmed: a URL (or, in an index, a sitemap). */
static void take_loc(parsing *p)
{
    if (p->loc_len > LOC_MAX) {
        char why[64];
        snprintf(why, sizeof why, "line %d: a <loc> over 64 KiB: skipped",
                 p->line);
        say(p->c, p->source, why);
        return;
    }
    char *s = p->loc, *end = p->loc + p->loc_len;
    while (*s == ' ' || *s == '\t' || *s == '\n' || *s == '\r')
        s++;
    while (end > s && (end[-1] == ' ' || end[-1] == '\t' || end[-1] == '\n' ||
                       end[-1] == '\r'))
        end--;
    *end = '\0';
    if (!*s)
        return;
    if (strpbrk(s, "\r\n")) {
        char why[64];
        snprintf(why, sizeof why, "line %d: a <loc> of two lines: skipped",
                 p->line);
        say(p->c, p->source, why);
        return;
    }
    if (p->in_index) {
        char **grown =
            realloc(p->children, (p->n_children + 1) * sizeof *grown);
        if (!grown || !(grown[p->n_children] = strdup(s)))
            fatal("out of memory");
        p->children = grown;
        p->n_children++;
        return;
    }
    p->c->urls++;
    if (fputs(s, p->c->out) < 0 || fputc('\n', p->c->out) < 0)
        p->failed = 1;
}

static void on_end(void *arg, const xmlChar *name, const xmlChar *prefix,
                   const xmlChar *uri)
{
    parsing *p = arg;
    (void)prefix, (void)uri;
    if (p->in_loc && !strcmp((const char *)name, "loc")) {
        p->in_loc = 0;
        if (p->loc_len)
            take_loc(p);
    }
}

/* The first error says it; after a fatal one the parser calls nothing
   more, so what came before it is kept and nothing after. */
static void on_error(void *arg, xmlErrorPtr err)
{
    parsing *p = arg;
    if (p->error[0] || !err || err->level < XML_ERR_ERROR)
        return;
    snprintf(p->error, sizeof p->error, "%s",
             err->message ? err->message : "not XML");
    size_t n = strlen(p->error);
    while (n && (p->error[n - 1] == '\n' || p->error[n - 1] == ' '))
        p->error[--n] = '\0';
    p->error_line = err->line;
}

/* The XML sitemap (or index) in the file at path. SAX, so memory stays flat
   however long the file; libxml2 opens gzip'd files as they are. Only these
   callbacks are set: no DTD is loaded and no entity is defined or fetched. */
static int parse_xml(collect *c, const char *source, const char *path,
                     int depth, int web)
{
    xmlSAXHandler sax;
    memset(&sax, 0, sizeof sax);
    sax.initialized = XML_SAX2_MAGIC;
    sax.startElementNs = on_start;
    sax.endElementNs = on_end;
    sax.characters = on_text;
    sax.cdataBlock = on_text;
    sax.serror = on_error;
    parsing p = {.c = c, .source = source};
    p.ctxt = xmlCreateURLParserCtxt(path, XML_PARSE_NONET);
    if (!p.ctxt) {
        say(c, source, "cannot be read");
        return -1;
    }
    xmlFree(p.ctxt->sax);
    p.ctxt->sax = &sax;
    p.ctxt->userData = &p;
    xmlParseDocument(p.ctxt);
    int well_formed = p.ctxt->wellFormed;
    p.ctxt->sax = NULL; /* ours, on the stack */
    xmlFreeParserCtxt(p.ctxt);
    if (!well_formed || p.error[0]) {
        char why[640];
        snprintf(why, sizeof why,
                 "line %d: not well-formed XML (%s); the URLs before it are "
                 "kept",
                 p.error_line, p.error[0] ? p.error : "a parse error");
        say(c, source, why);
        p.failed = 1;
    }
    free(p.loc);
    for (size_t i = 0; i < p.n_children; i++) {
        p.failed |= read_source(c, p.children[i], depth + 1, web) != 0;
        free(p.children[i]);
    }
    free(p.children);
    return p.failed ? -1 : 0;
}

/* A text sitemap (sitemaps.org allows one): a URL a line, blank lines
   skipped. */
static int parse_text(collect *c, const char *source, gzFile g)
{
    char buf[8192], *line = NULL;
    size_t len = 0;
    int failed = 0, first = 1;
    for (;;) {
        char *got = gzgets(g, buf, sizeof buf);
        size_t n = got ? strlen(buf) : 0;
        if (n) { /* a line may take several reads */
            char *grown = realloc(line, len + n + 1);
            if (!grown)
                fatal("out of memory");
            line = grown;
            memcpy(line + len, buf, n + 1);
            len += n;
            if (line[len - 1] != '\n' && !gzeof(g))
                continue;
        }
        if (!len && !got)
            break;
        char *u = line;
        if (first && !strncmp(u, "\xef\xbb\xbf", 3))
            u += 3; /* a BOM */
        first = 0;
        u += strspn(u, " \t\r\n");
        u[strcspn(u, "\r\n")] = '\0';
        for (size_t k = strlen(u); k && (u[k - 1] == ' ' || u[k - 1] == '\t');)
            u[--k] = '\0';
        if (*u) {
            c->urls++;
            if (fputs(u, c->out) < 0 || fputc('\n', c->out) < 0)
                failed = 1;
        }
        len = 0;
        if (!got)
            break;
    }
    int err;
    if (!gzeof(g) && gzerror(g, &err) && err != Z_OK) {
        say(c, source, err == Z_ERRNO ? strerror(errno) : gzerror(g, &err));
        failed = 1;
    }
    free(line);
    return failed ? -1 : 0;
}

/* The sitemap (or index) in the file at path (source: what to call it):
   XML, or text when its first character (past a BOM and spaces) is not
   '<'; either may be gzip'd. */
static int parse(collect *c, const char *source, const char *path, int depth,
                 int web)
{
    gzFile g = gzopen(path, "rb");
    if (!g) {
        say(c, source, errno ? strerror(errno) : "cannot be read");
        return -1;
    }
    unsigned char head[64];
    int n = gzread(g, head, sizeof head), at = 0;
    if (n >= 3 && head[0] == 0xef && head[1] == 0xbb && head[2] == 0xbf)
        at = 3;
    while (at < n && strchr(" \t\r\n", head[at]))
        at++;
    if (n > 0 && at < n && head[at] != '<') {
        gzrewind(g);
        int rc = parse_text(c, source, g);
        gzclose(g);
        return rc;
    }
    gzclose(g);
    return parse_xml(c, source, path, depth, web);
}

/* --sitemap -: standard input, copied to a temporary file (the parser
   opens a file by name, and looks at its start twice). */
static int from_stdin(collect *c, int depth)
{
    int fd = anonymous();
    if (fd < 0) {
        say(c, "-", strerror(errno));
        return -1;
    }
    char buf[65536];
    ssize_t n;
    while ((n = read(STDIN_FILENO, buf, sizeof buf)) != 0) {
        if (n < 0 && errno == EINTR)
            continue;
        if (n < 0 || to_file(NULL, buf, (size_t)n, &fd) != 0) {
            say(c, "-", strerror(errno));
            close(fd);
            return -1;
        }
    }
    char path[64];
    snprintf(path, sizeof path, "/dev/fd/%d", fd);
    int rc = parse(c, "-", path, depth, 0);
    close(fd);
    return rc;
}

static int read_source(collect *c, const char *source, int depth, int web)
{
    for (size_t i = 0; i < c->n_read; i++)
        if (!strcmp(c->read[i], source))
            return 0; /* named again: its URLs are in already */
    char **grown = realloc(c->read, (c->n_read + 1) * sizeof *grown);
    if (!grown || !(grown[c->n_read] = strdup(source)))
        fatal("out of memory");
    c->read = grown;
    c->n_read++;
    if (depth > DEPTH_MAX) {
        say(c, source, "sitemap indexes nested too deep: skipped");
        return -1;
    }
    int remote = !strncasecmp(source, "http://", 7) ||
                 !strncasecmp(source, "https://", 8);
    if (!remote && web) {
        say(c, source, "not an http(s) URL: skipped");
        return -1;
    }
    if (!strcmp(source, "-") && !depth)
        return from_stdin(c, depth);
    if (!remote)
        return parse(c, source, source, depth, 0);
    int fd = fetch(c, source, 0);
    if (fd < 0)
        return -1;
    char path[64];
    snprintf(path, sizeof path, "/dev/fd/%d", fd);
    int rc = parse(c, source, path, depth, 1);
    close(fd);
    return rc;
}

/* The origin (scheme://host[:port]) of url, for its robots.txt: 0, or
   -1 if it has none. */
static int origin_of(const char *url, char *out, size_t len)
{
    CURLU *u = curl_url();
    char *scheme = NULL, *host = NULL, *port = NULL;
    int rc = -1;
    if (u && !curl_url_set(u, CURLUPART_URL, url, 0) &&
        !curl_url_get(u, CURLUPART_SCHEME, &scheme, 0) &&
        !curl_url_get(u, CURLUPART_HOST, &host, 0)) {
        curl_url_get(u, CURLUPART_PORT, &port, 0);
        rc = (size_t)snprintf(out, len, "%s://%s%s%s", scheme, host,
                              port ? ":" : "", port ? port : "") < len
                 ? 0
                 : -1;
    }
    curl_free(scheme);
    curl_free(host);
    curl_free(port);
    curl_url_cleanup(u);
    return rc;
}

/* --sitemap robots: the Sitemap: lines of the robots.txt of each site the
   URL arguments name (each site once, in their order), read as sources. */
static int from_robots(collect *c, char *const *seeds, int n_seeds)
{
    int failed = 0;
    char **seen = calloc((size_t)n_seeds + 1, sizeof *seen);
    size_t n_seen = 0;
    if (!seen)
        fatal("out of memory");
    for (int i = 0; i < n_seeds; i++) {
        char origin[4096], robots[4200];
        if (origin_of(seeds[i], origin, sizeof origin) != 0)
            continue; /* the run says what is wrong with it */
        size_t k = 0;
        while (k < n_seen && strcmp(seen[k], origin))
            k++;
        if (k < n_seen)
            continue;
        if (!(seen[n_seen++] = strdup(origin)))
            fatal("out of memory");
        snprintf(robots, sizeof robots, "%s/robots.txt", origin);
        /* a 4xx: no robots.txt, so no sitemap named (as 0 lines) */
        int fd = fetch(c, robots, 1), named = 0;
        FILE *f = fd >= 0 ? fdopen(fd, "r") : NULL;
        if (!f) {
            if (fd >= 0)
                close(fd);
            failed |= fd != -2;
            if (fd == -2)
                say(c, robots, "not there: no sitemap named");
            continue;
        }
        rewind(f);
        char *line = NULL;
        size_t cap = 0;
        /* the first 500 KiB, as the robots.txt parser reads */
        for (long at = 0; at < 500 * 1024 && getline(&line, &cap, f) > 0;
             at = ftell(f)) {
            char *v = line + strspn(line, " \t");
            if (strncasecmp(v, "sitemap", 7))
                continue;
            v += 7 + strspn(v + 7, " \t");
            if (*v != ':')
                continue;
            v += 1 + strspn(v + 1, " \t");
            v[strcspn(v, " \t\r\n#")] = '\0';
            if (*v) {
                named++;
                failed |= read_source(c, v, 1, 1) != 0;
            }
        }
        free(line);
        fclose(f);
        if (!named)
            say(c, robots, "no Sitemap: line");
    }
    for (size_t k = 0; k < n_seen; k++)
        free(seen[k]);
    free(seen);
    return failed ? -1 : 0;
}

static int collect_all(const char *const *sources, int n, char *const *seeds,
                       int n_seeds, const fetch_options *fo, int quiet, int *fd,
                       char *path, size_t len)
{
    collect c = {.fo = fo, .quiet = quiet};
    int failed = 0;
    *fd = anonymous();
    if (*fd < 0 || !(c.out = fdopen(dup(*fd), "w"))) {
        say(&c, n ? sources[0] : "", strerror(errno));
        return -1;
    }
    LIBXML_TEST_VERSION
    for (int i = 0; i < n; i++)
        failed |= (strcmp(sources[i], "robots")
                       ? read_source(&c, sources[i], 0, 0)
                       : from_robots(&c, seeds, n_seeds)) != 0;
    if (fclose(c.out) != 0)
        failed = 1;
    if (c.client)
        fetch_client_free(c.client);
    for (size_t i = 0; i < c.n_read; i++)
        free(c.read[i]);
    free(c.read);
    snprintf(path, len, "/dev/fd/%d", *fd);
    return failed ? -1 : 0;
}

int sitemap_inputs(cmdline *a, int *fd, char *path, size_t len)
{
    *fd = -1;
    if (!a->n_sitemaps)
        return 0;
    int failed = collect_all(a->sitemaps, a->n_sitemaps, a->urls, a->n_urls,
                             &a->cfg.fo, a->cfg.out.quiet, fd, path, len);
    if (*fd < 0)
        return -1;
    const char **all =
        realloc(a->inputs, sizeof *all * (size_t)(a->n_inputs + 1));
    if (!all)
        fatal("out of memory");
    all[a->n_inputs++] = path;
    a->inputs = all;
    return failed ? 1 : 0;
}
