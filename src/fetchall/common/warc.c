/* SPDX-License-Identifier: MIT */
/*
 * --warc FILE: WARC/1.1 (ISO 28500:2017). A hop (the first request, each
 * redirect, each retry) becomes a request record and a response record
 * (a revisit for a 304), linked by WARC-Concurrent-To; a task that failed
 * adds a metadata record with the error. The pieces come from the
 * library's wire callback as they cross the wire (content-encoded, and
 * over HTTP/1.1 with their chunked framing), so a record is what the
 * server sent; WARC-Payload-Digest is taken over the entity body, i.e.
 * with the chunked framing removed (RFC 9112 7.1), as WARC 1.1 6.3.2 and
 * the readers that check it (warcio) take it.
 */
#define _GNU_SOURCE /* asprintf */
#include "warc.h"
#include "util.h"

#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <sys/random.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>

#include <event2/buffer.h>
#include <openssl/evp.h>
#include <zlib.h>

#define SPOOL_MEM (64u << 10) /* a piece spills to a file past this */
#define BLOCK (64u << 10)

/* Bytes of one record's block: in memory, then in an unlinked file. */
typedef struct spool {
    struct evbuffer *mem;
    int fd; /* -1 until it spills */
    off_t len;
    EVP_MD_CTX *sha; /* WARC-Block-Digest, as the bytes come */
} spool;

/* The entity body inside a chunked message, for WARC-Payload-Digest. */
enum {
    CK_SIZE,
    CK_EXT,
    CK_DATA,
    CK_DATA_END,
    CK_TRAILER,
    CK_LINE,
    CK_DONE,
    CK_BAD
};

typedef struct hop {
    struct hop *next;
    char *url; /* the hop's, credentials redacted */
    char ip[64];
    struct timespec date, rdate; /* request sent, response begun */
    spool req, resp;
    EVP_MD_CTX *req_payload, *payload;
    int head_req; /* a HEAD: no body comes */
    int req_done; /* the request head ended (CR LF CR LF) */
    int head;     /* response head: 0 none yet, 1 coming, 2 ended */
    long status;
    int chunked;
    long long clen; /* Content-Length, or -1 */
    long long body; /* body bytes on the wire */
    int ck, ck_digits;
    unsigned long long ck_left;
} hop;

struct warc_xfer {
    warc *w;
    hop *first, *last;
};

struct warc {
    warc_config c;
    char *stem, *suffix; /* FILE-NNNNN + suffix with max_size */
    char *dir;           /* where spools go */
    char *args;          /* the command line, for each warcinfo */
    char *path;          /* the file being written */
    int index;           /* its number, with max_size */
    int fd, gz;
    off_t off, whole; /* bytes written; ... up to the last whole record */
    char info_id[64]; /* its warcinfo record's id */
    z_stream z;
    struct evbuffer *out;
    struct evbuffer *fields; /* the next record's own header fields */
};

/* ---- small things ---- */

static void new_id(char id[64])
{
    unsigned char b[16];
    size_t got = 0;
    while (got < sizeof b) {
        ssize_t n = getrandom(b + got, sizeof b - got, 0);
        if (n > 0)
            got += (size_t)n;
        else if (errno != EINTR)
            abort(); /* a kernel without getrandom: none we build for */
    }
    b[6] = (unsigned char)((b[6] & 0x0f) | 0x40); /* version 4 */
    b[8] = (unsigned char)((b[8] & 0x3f) | 0x80); /* RFC 4122 variant */
    snprintf(id, 64,
             "<urn:uuid:%02x%02x%02x%02x-%02x%02x-%02x%02x-%02x%02x-"
             "%02x%02x%02x%02x%02x%02x>",
             b[0], b[1], b[2], b[3], b[4], b[5], b[6], b[7], b[8], b[9], b[10],
             b[11], b[12], b[13], b[14], b[15]);
}

static void iso_date(const struct timespec *t, char out[32])
{
    struct tm tm;
    gmtime_r(&t->tv_sec, &tm);
    strftime(out, 32, "%Y-%m-%dT%H:%M:%SZ", &tm);
}

/* "sha1:" and the digest in base32 (RFC 4648), as WARC tools write it. */
static void digest_text(EVP_MD_CTX *ctx, char out[48])
{
    static const char abc[] = "ABCDEFGHIJKLMNOPQRSTUVWXYZ234567";
    unsigned char md[EVP_MAX_MD_SIZE];
    unsigned int n = 0, bits = 0, acc = 0;
    char *p = out + 5;
    memcpy(out, "sha1:", 5);
    EVP_DigestFinal_ex(ctx, md, &n);
    for (unsigned i = 0; i < n; i++) {
        acc = (acc << 8) | md[i];
        for (bits += 8; bits >= 5; bits -= 5)
            *p++ = abc[(acc >> (bits - 5)) & 31];
    }
    if (bits)
        *p++ = abc[(acc << (5 - bits)) & 31];
    *p = '\0';
}

static EVP_MD_CTX *sha1_new(void)
{
    EVP_MD_CTX *ctx = EVP_MD_CTX_new();
    if (ctx && !EVP_DigestInit_ex(ctx, EVP_sha1(), NULL)) {
        EVP_MD_CTX_free(ctx);
        ctx = NULL;
    }
    return ctx;
}

/* A URI for a header field: bytes a field cannot hold percent-encoded
   (a URL that was never sent may have them). */
static char *field_uri(const char *url)
{
    char red[8192];
    size_t n = fetch_url_redact(red, sizeof red, url);
    if (n >= sizeof red)
        n = sizeof red - 1;
    char *out = malloc(3 * n + 1), *p = out;
    if (!out)
        return NULL;
    for (size_t i = 0; i < n; i++) {
        unsigned char ch = (unsigned char)red[i];
        if (ch > 0x20 && ch < 0x7f)
            *p++ = (char)ch;
        else
            p += sprintf(p, "%%%02X", ch);
    }
    *p = '\0';
    return out;
}

/* ---- spools ---- */

static int spool_init(spool *s)
{
    s->fd = -1;
    s->len = 0;
    s->mem = evbuffer_new();
    s->sha = sha1_new();
    return s->mem && s->sha ? 0 : ENOMEM;
}

static void spool_free(spool *s)
{
    if (s->mem)
        evbuffer_free(s->mem);
    if (s->fd >= 0)
        close(s->fd);
    EVP_MD_CTX_free(s->sha);
    s->mem = NULL;
    s->sha = NULL;
    s->fd = -1;
}

static int spool_add(const warc *w, spool *s, const char *p, size_t len)
{
    EVP_DigestUpdate(s->sha, p, len);
    s->len += (off_t)len;
    if (s->fd < 0 && evbuffer_get_length(s->mem) + len <= SPOOL_MEM)
        return evbuffer_add(s->mem, p, len) == 0 ? 0 : ENOMEM;
    if (s->fd < 0) { /* spill: what is held, then the rest, to a file */
        char *tmp = NULL;
        if (asprintf(&tmp, "%s/.fetchall-warc.XXXXXX", w->dir) < 0)
            return ENOMEM;
        s->fd = mkostemp(tmp, O_CLOEXEC);
        int err = s->fd < 0 ? errno : 0;
        if (s->fd >= 0)
            unlink(tmp);
        free(tmp);
        if (err)
            return err;
        size_t held = evbuffer_get_length(s->mem);
        int rc =
            write_all(s->fd, (const char *)evbuffer_pullup(s->mem, -1), held);
        evbuffer_drain(s->mem, held);
        if (rc)
            return rc;
    }
    return write_all(s->fd, p, len);
}

/* A new response head replaces an interim (1xx) one, while in memory. */
static void spool_reset(spool *s)
{
    if (s->fd >= 0)
        return;
    evbuffer_drain(s->mem, evbuffer_get_length(s->mem));
    s->len = 0;
    EVP_DigestInit_ex(s->sha, EVP_sha1(), NULL);
}

/* ---- the wire ---- */

static hop *hop_new(warc_xfer *x, const fetch_wire *wire)
{
    hop *h = calloc(1, sizeof *h);
    if (!h || !(h->url = field_uri(wire->url)) || spool_init(&h->req) ||
        spool_init(&h->resp) || !(h->req_payload = sha1_new()) ||
        !(h->payload = sha1_new())) {
        if (h) {
            free(h->url);
            spool_free(&h->req);
            spool_free(&h->resp);
            EVP_MD_CTX_free(h->req_payload);
            free(h);
        }
        return NULL;
    }
    snprintf(h->ip, sizeof h->ip, "%s", wire->ip ? wire->ip : "");
    clock_gettime(CLOCK_REALTIME, &h->date);
    h->head_req = wire->len >= 5 && !memcmp(wire->data, "HEAD ", 5);
    h->clen = -1;
    if (x->last)
        x->last->next = h;
    else
        x->first = h;
    x->last = h;
    return h;
}

/* A response head line: what the records need to know of it. */
static void head_line(hop *h, const char *p, size_t len)
{
    if (len >= 5 && !memcmp(p, "HTTP/", 5)) {
        const char *sp = memchr(p, ' ', len);
        h->status = sp ? strtol(sp + 1, NULL, 10) : 0;
        return;
    }
    if (len > 18 && !strncasecmp(p, "transfer-encoding:", 18)) {
        for (size_t i = 18; i + 7 <= len; i++)
            if (!strncasecmp(p + i, "chunked", 7))
                h->chunked = 1;
    } else if (len > 15 && !strncasecmp(p, "content-length:", 15)) {
        char num[32];
        size_t n = len - 15 < sizeof num - 1 ? len - 15 : sizeof num - 1;
        memcpy(num, p + 15, n);
        num[n] = '\0';
        h->clen = strtoll(num, NULL, 10);
    }
}

/* The entity body out of the chunked framing, into the payload digest. */
static void dechunk(hop *h, const char *p, size_t len)
{
    while (len && h->ck != CK_DONE && h->ck != CK_BAD) {
        char ch = *p;
        switch (h->ck) {
        case CK_SIZE: {
            int v = ch >= '0' && ch <= '9'   ? ch - '0'
                    : ch >= 'a' && ch <= 'f' ? ch - 'a' + 10
                    : ch >= 'A' && ch <= 'F' ? ch - 'A' + 10
                                             : -1;
            if (v >= 0 && h->ck_digits < 15) {
                h->ck_left = h->ck_left * 16 + (unsigned)v;
                h->ck_digits++;
            } else if (ch == '\n' && h->ck_digits) {
                h->ck = h->ck_left ? CK_DATA : CK_TRAILER;
            } else if (h->ck_digits &&
                       (ch == ';' || ch == ' ' || ch == '\t' || ch == '\r')) {
                h->ck = CK_EXT;
            } else {
                h->ck = CK_BAD;
            }
            p++, len--;
            break;
        }
        case CK_EXT: /* chunk extensions, up to the end of the line */
            if (ch == '\n')
                h->ck = h->ck_left ? CK_DATA : CK_TRAILER;
            p++, len--;
            break;
        case CK_DATA: {
            size_t n = len < h->ck_left ? len : (size_t)h->ck_left;
            EVP_DigestUpdate(h->payload, p, n);
            h->ck_left -= n;
            p += n, len -= n;
            if (!h->ck_left)
                h->ck = CK_DATA_END;
            break;
        }
        case CK_DATA_END: /* the CR LF after the data */
            if (ch == '\n') {
                h->ck = CK_SIZE;
                h->ck_digits = 0;
            } else if (ch != '\r') {
                h->ck = CK_BAD;
            }
            p++, len--;
            break;
        case CK_TRAILER: /* a trailer line, or the blank line that ends */
            if (ch == '\n')
                h->ck = CK_DONE;
            else if (ch != '\r')
                h->ck = CK_LINE;
            p++, len--;
            break;
        case CK_LINE:
            if (ch == '\n')
                h->ck = CK_TRAILER;
            p++, len--;
            break;
        }
    }
}

int warc_on_wire(fetch_task *task, const fetch_wire *wire, void *arg)
{
    warc_xfer *x = arg;
    hop *h = x->last;
    (void)task;
    switch (wire->kind) {
    case FETCH_WIRE_REQUEST:
        /* a new hop, unless it is the rest of a head libcurl sent in
           parts */
        if ((!h || h->head || h->req_done) && !(h = hop_new(x, wire)))
            return ENOMEM;
        h->req_done = wire->len >= 4 &&
                      !memcmp(wire->data + wire->len - 4, "\r\n\r\n", 4);
        return spool_add(x->w, &h->req, wire->data, wire->len);
    case FETCH_WIRE_REQUEST_BODY:
        if (!h)
            return 0;
        h->req_done = 1;
        EVP_DigestUpdate(h->req_payload, wire->data, wire->len);
        return spool_add(x->w, &h->req, wire->data, wire->len);
    case FETCH_WIRE_RESPONSE_HEAD:
        if (!h)
            return 0;
        if (h->head == 2 && h->body == 0 && h->status >= 100 &&
            h->status < 200 && wire->len >= 5 &&
            !memcmp(wire->data, "HTTP/", 5)) {
            spool_reset(&h->resp); /* the final head after a 1xx */
            h->chunked = 0;
            h->clen = -1;
        }
        if (h->head != 1) {
            h->head = 1;
            clock_gettime(CLOCK_REALTIME, &h->rdate);
        }
        head_line(h, wire->data, wire->len);
        if (wire->len <= 2 && (wire->len == 1 || wire->data[0] == '\r'))
            h->head = 2;
        return spool_add(x->w, &h->resp, wire->data, wire->len);
    case FETCH_WIRE_RESPONSE_BODY:
        if (!h)
            return 0;
        h->body += (long long)wire->len;
        if (h->chunked)
            dechunk(h, wire->data, wire->len);
        else
            EVP_DigestUpdate(h->payload, wire->data, wire->len);
        return spool_add(x->w, &h->resp, wire->data, wire->len);
    }
    return 0;
}

warc_xfer *warc_xfer_new(warc *w)
{
    warc_xfer *x = calloc(1, sizeof *x);
    if (x)
        x->w = w;
    return x;
}

void warc_xfer_free(warc_xfer *x)
{
    if (!x)
        return;
    for (hop *h = x->first, *next; h; h = next) {
        next = h->next;
        free(h->url);
        spool_free(&h->req);
        spool_free(&h->resp);
        EVP_MD_CTX_free(h->req_payload);
        EVP_MD_CTX_free(h->payload);
        free(h);
    }
    free(x);
}

/* ---- the file ---- */

/* Bytes of the record being written: compressed into out, or as they are. */
static int emit(warc *w, const void *p, size_t len)
{
    if (!w->gz)
        return evbuffer_add(w->out, p, len) == 0 ? 0 : ENOMEM;
    w->z.next_in = (Bytef *)p;
    w->z.avail_in = (uInt)len;
    while (w->z.avail_in) {
        struct evbuffer_iovec v;
        if (evbuffer_reserve_space(w->out, BLOCK, &v, 1) < 1)
            return ENOMEM;
        w->z.next_out = v.iov_base;
        w->z.avail_out = (uInt)v.iov_len;
        deflate(&w->z, Z_NO_FLUSH);
        v.iov_len -= w->z.avail_out;
        evbuffer_commit_space(w->out, &v, 1);
    }
    return 0;
}

/* The end of a record: its gzip member closed. */
static int end_record(warc *w)
{
    int rc = emit(w, "\r\n\r\n", 4);
    if (rc || !w->gz)
        return rc;
    for (int z = Z_OK; z != Z_STREAM_END;) {
        struct evbuffer_iovec v;
        if (evbuffer_reserve_space(w->out, BLOCK, &v, 1) < 1)
            return ENOMEM;
        w->z.next_out = v.iov_base;
        w->z.avail_out = (uInt)v.iov_len;
        z = deflate(&w->z, Z_FINISH);
        v.iov_len -= w->z.avail_out;
        evbuffer_commit_space(w->out, &v, 1);
        if (z == Z_STREAM_ERROR)
            return EIO;
    }
    deflateReset(&w->z);
    return 0;
}

/* What out holds, to the file. */
static int drain(warc *w)
{
    while (evbuffer_get_length(w->out)) {
        int n = evbuffer_write(w->out, w->fd);
        if (n < 0 && errno == EINTR)
            continue;
        if (n <= 0)
            return n < 0 ? errno : EIO;
        w->off += n;
    }
    return 0;
}

static int emit_spool(warc *w, spool *s)
{
    if (s->fd < 0) {
        size_t n = evbuffer_get_length(s->mem);
        return emit(w, evbuffer_pullup(s->mem, -1), n);
    }
    static char buf[BLOCK];
    for (off_t at = 0; at < s->len;) {
        ssize_t n = pread(s->fd, buf, sizeof buf, at);
        if (n < 0 && errno == EINTR)
            continue;
        if (n <= 0)
            return n < 0 ? errno : EIO;
        int rc = emit(w, buf, (size_t)n);
        if (!rc && evbuffer_get_length(w->out) >= 4 * BLOCK)
            rc = drain(w);
        if (rc)
            return rc;
        at += n;
    }
    return 0;
}

/* "Name: value" CR LF among the next record's fields; none for an empty
   value. */
static void field(warc *w, const char *name, const char *value)
{
    if (value && *value)
        evbuffer_add_printf(w->fields, "%s: %s\r\n", name, value);
}

/* One record: the fields every record has, those field() gathered, then
   the block, from a spool or from memory. */
static int record(warc *w, const char *type, const char *id,
                  const struct timespec *date, const char *content_type,
                  spool *block, const char *mem, size_t mem_len)
{
    char when[32], head[320];
    iso_date(date, when);
    int n = snprintf(head, sizeof head,
                     "WARC/1.1\r\nWARC-Type: %s\r\nWARC-Record-ID: %s\r\n"
                     "WARC-Date: %s\r\n",
                     type, id, when);
    if (*w->info_id) /* every record but the warcinfo */
        n += snprintf(head + n, sizeof head - (size_t)n,
                      "WARC-Warcinfo-ID: %s\r\n", w->info_id);
    field(w, "Content-Type", content_type);
    evbuffer_add_printf(w->fields, "Content-Length: %lld\r\n\r\n",
                        block ? (long long)block->len : (long long)mem_len);
    int rc = emit(w, head, (size_t)n);
    if (!rc)
        rc = emit(w, evbuffer_pullup(w->fields, -1),
                  evbuffer_get_length(w->fields));
    evbuffer_drain(w->fields, evbuffer_get_length(w->fields));
    if (!rc)
        rc = block ? emit_spool(w, block) : emit(w, mem, mem_len);
    return rc ? rc : end_record(w);
}

static int warcinfo(warc *w)
{
    char *block = NULL;
    const char *base = strrchr(w->path, '/');
    struct timespec now;
    clock_gettime(CLOCK_REALTIME, &now);
    *w->info_id = '\0';
    char id[64];
    new_id(id);
    int n = asprintf(&block,
                     "software: fetchall/%s (libfetch %s)\r\n"
                     "format: WARC File Format 1.1\r\n"
                     "conformsTo: "
                     "http://iipc.github.io/warc-specifications/specifications/"
                     "warc-format/warc-1.1/\r\n"
                     "robots: %s\r\n"
                     "fetchall-arguments: %s\r\n",
                     LIBFETCH_VERSION_STRING, fetch_version(),
                     w->c.robots ? "obey" : "ignore", w->args ? w->args : "");
    if (n < 0)
        return ENOMEM;
    field(w, "WARC-Filename", base ? base + 1 : w->path);
    int rc = record(w, "warcinfo", id, &now, "application/warc-fields", NULL,
                    block, (size_t)n);
    free(block);
    memcpy(w->info_id, id, sizeof id);
    if (!rc)
        rc = drain(w);
    if (!rc)
        w->whole = w->off;
    return rc;
}

/* The next file: FILE, or FILE-NNNNN with max_size, begun with its
   warcinfo record. 0, or an errno value. */
static int next_file(warc *w)
{
    free(w->path);
    w->path = NULL;
    if (w->c.max_size
            ? asprintf(&w->path, "%s-%05d%s", w->stem, w->index, w->suffix) < 0
            : !(w->path = strdup(w->c.path)))
        return ENOMEM;
    w->index++;
    w->fd =
        open(w->path,
             O_WRONLY | O_CREAT | O_CLOEXEC | (w->c.clobber ? O_TRUNC : O_EXCL),
             0666);
    if (w->fd < 0)
        return errno;
    w->off = w->whole = 0;
    return warcinfo(w);
}

warc *warc_open(const warc_config *c, char *why, size_t len)
{
    warc *w = calloc(1, sizeof *w);
    if (!w || !(w->out = evbuffer_new()) || !(w->fields = evbuffer_new())) {
        if (w && w->out)
            evbuffer_free(w->out);
        free(w);
        snprintf(why, len, "out of memory");
        return NULL;
    }
    w->c = *c;
    w->c.arguments = NULL; /* its own copy: each new file's warcinfo */
    w->fd = -1;
    size_t n = strlen(c->path);
    w->gz = n > 3 && !strcmp(c->path + n - 3, ".gz");
    /* FILE-NNNNN.warc.gz for x.warc.gz, as wget names its parts */
    const char *ext =
        n > 8 && !strcmp(c->path + n - 8, ".warc.gz") ? c->path + n - 8
        : n > 5 && !strcmp(c->path + n - 5, ".warc")  ? c->path + n - 5
        : w->gz                                       ? c->path + n - 3
                                                      : c->path + n;
    const char *slash = strrchr(c->path, '/');
    w->stem = strndup(c->path, (size_t)(ext - c->path));
    w->suffix = strdup(ext);
    w->dir = slash ? strndup(c->path, (size_t)(slash - c->path)) : strdup(".");
    if (w->dir && !*w->dir) { /* "/x.warc" */
        free(w->dir);
        w->dir = strdup("/");
    }
    if ((c->arguments && !(w->args = strdup(c->arguments))) || !w->stem ||
        !w->suffix || !w->dir ||
        (w->gz && deflateInit2(&w->z, Z_DEFAULT_COMPRESSION, Z_DEFLATED,
                               15 + 16, 8, Z_DEFAULT_STRATEGY) != Z_OK)) {
        w->gz = 0;
        warc_close(w);
        snprintf(why, len, "out of memory");
        return NULL;
    }
    int rc = next_file(w);
    if (rc) {
        snprintf(why, len, "%s%s%s%s", w->path ? w->path : "", ": ",
                 strerror(rc),
                 rc == EEXIST ? " (remove it, or give --clobber)" : "");
        if (w->fd >= 0) /* made, but its first record failed */
            unlink(w->path);
        warc_close(w);
        return NULL;
    }
    return w;
}

const char *warc_path(const warc *w)
{
    return w->path;
}

static const char *truncated(const fetch_response *r)
{
    switch (r->error) {
    case FETCH_E_TIMEOUT:
        return "time";
    case FETCH_E_TOO_LARGE:
        return "length";
    default:
        return "disconnect";
    }
}

/* Did the body come whole? */
static int complete(const hop *h, int last, const fetch_response *r)
{
    if (h->head != 2)
        return 0;
    if (h->head_req || h->status == 204 || h->status == 304 ||
        (h->status >= 100 && h->status < 200))
        return 1;
    if (h->chunked)
        return h->ck == CK_DONE;
    if (h->clen >= 0)
        return h->body >= h->clen;
    return !(last && r->error != FETCH_OK); /* up to the close */
}

/* A hop's records; link gets the id a metadata record refers to (the
   response's, else the request's, else ""). */
static int hop_records(warc *w, hop *h, int last, const fetch_response *r,
                       char link[64])
{
    char req_id[64], resp_id[64] = "", block[48], payload[48];
    int rc;
    new_id(req_id);
    *link = '\0';
    if (h->head)
        new_id(resp_id);
    if (h->req.len) {
        digest_text(h->req.sha, block);
        digest_text(h->req_payload, payload);
        field(w, "WARC-Target-URI", h->url);
        field(w, "WARC-IP-Address", h->ip);
        field(w, "WARC-Concurrent-To", resp_id);
        field(w, "WARC-Block-Digest", block);
        field(w, "WARC-Payload-Digest", payload);
        if ((rc = record(w, "request", req_id, &h->date,
                         "application/http;msgtype=request", &h->req, NULL, 0)))
            return rc;
        memcpy(link, req_id, 64);
    }
    if (!h->head)
        return 0;
    int revisit = h->status == 304;
    digest_text(h->resp.sha, block);
    digest_text(h->payload, payload);
    field(w, "WARC-Target-URI", h->url);
    field(w, "WARC-IP-Address", h->ip);
    field(w, "WARC-Concurrent-To", h->req.len ? req_id : "");
    field(w, "WARC-Block-Digest", block);
    if (revisit) {
        field(w, "WARC-Profile",
              "http://netpreserve.org/warc/1.1/revisit/"
              "server-not-modified");
        field(w, "WARC-Refers-To-Target-URI", h->url);
    } else {
        field(w, "WARC-Payload-Digest", payload);
        if (!complete(h, last, r))
            field(w, "WARC-Truncated",
                  last && r->error != FETCH_OK ? truncated(r) : "disconnect");
    }
    rc = record(w, revisit ? "revisit" : "response", resp_id, &h->rdate,
                "application/http;msgtype=response", &h->resp, NULL, 0);
    if (!rc)
        memcpy(link, resp_id, 64);
    return rc;
}

/* A failed task: a metadata record of what went wrong. */
static int failure(warc *w, const char *url, const char *to,
                   const fetch_response *r)
{
    char id[64], *block = NULL, *uri = field_uri(url);
    struct timespec now;
    clock_gettime(CLOCK_REALTIME, &now);
    new_id(id);
    int n = asprintf(&block,
                     "fetch-error: %s\r\nfetch-message: %s\r\n"
                     "attempts: %d\r\n",
                     fetch_err_name(r->error),
                     r->message ? r->message : fetch_strerror(r->error),
                     r->attempts);
    int rc = ENOMEM;
    if (uri && n >= 0) {
        field(w, "WARC-Target-URI", uri);
        field(w, "WARC-Concurrent-To", to);
        rc = record(w, "metadata", id, &now, "application/warc-fields", NULL,
                    block, (size_t)n);
    }
    free(block);
    free(uri);
    return rc;
}

int warc_write(warc *w, warc_xfer *x, const char *url, const fetch_response *r)
{
    char last_id[64] = "";
    int rc = 0;
    if (w->fd < 0)
        return EBADF;
    if (w->c.max_size && w->off >= (off_t)w->c.max_size) {
        rc = close(w->fd) != 0 ? errno : 0;
        w->fd = -1;
        if (rc || (rc = next_file(w)) != 0)
            return rc;
    }
    for (hop *h = x->first; h && !rc; h = h->next)
        rc = hop_records(w, h, h->next == NULL, r, last_id);
    if (!rc && r->error != FETCH_OK)
        rc = failure(w, url, last_id, r);
    if (!rc)
        rc = drain(w);
    if (rc) { /* no half record stays */
        evbuffer_drain(w->out, evbuffer_get_length(w->out));
        evbuffer_drain(w->fields, evbuffer_get_length(w->fields));
        if (w->gz)
            deflateReset(&w->z);
        if (ftruncate(w->fd, w->whole) == 0)
            w->off = w->whole;
        return rc;
    }
    w->whole = w->off;
    return 0;
}

void warc_abort(warc *w)
{
    if (w && w->fd >= 0 && ftruncate(w->fd, w->whole) != 0)
        return;
}

int warc_close(warc *w)
{
    int rc = 0;
    if (!w)
        return 0;
    if (w->fd >= 0 && close(w->fd) != 0)
        rc = errno;
    if (w->gz)
        deflateEnd(&w->z);
    if (w->out)
        evbuffer_free(w->out);
    if (w->fields)
        evbuffer_free(w->fields);
    free(w->stem);
    free(w->args);
    free(w->suffix);
    free(w->dir);
    free(w->path);
    free(w);
    return rc;
}
