/* Writing results: bodies to stdout, JSON lines, error lines. */
#include <stdlib.h>
#include <string.h>

#include <jansson.h>
#include <openssl/evp.h>

#include "fetchall.h"

/* s escaped for a terminal, malloc'd (NULL when out of memory). */
static char *escaped(const char *s)
{
    size_t len = strlen(s);
    size_t n = fetch_text_escape(NULL, 0, s, len, FETCH_TEXT_TERMINAL);
    char *e = malloc(n + 1);
    if (e)
        fetch_text_escape(e, n + 1, s, len, FETCH_TEXT_TERMINAL);
    return e;
}

void output_error(const output *o, size_t index, const char *what)
{
    if (o->quiet)
        return;
    if (o->err_is_out) /* 2>&1: what came before goes first */
        fflush(stdout);
    fprintf(stderr, "fetchall: [%zu] %s\n", index, what);
}

/* Untrusted text as a JSON string: valid UTF-8 as it is, any other byte
   replaced by U+FFFD, never a missing member; URLs without credentials. */
static json_t *text(const char *s, int url)
{
    char *red = NULL, *fixed = NULL;
    json_t *j;
    if (!s)
        return json_null();
    if (url) {
        size_t n = fetch_url_redact(NULL, 0, s);
        if (!(red = malloc(n + 1)))
            return json_null();
        fetch_url_redact(red, n + 1, s);
        s = red;
    }
    if (!(j = json_string(s))) { /* not UTF-8 */
        size_t len = strlen(s);
        size_t n = fetch_text_escape(NULL, 0, s, len, FETCH_TEXT_UTF8);
        if ((fixed = malloc(n + 1))) {
            fetch_text_escape(fixed, n + 1, s, len, FETCH_TEXT_UTF8);
            j = json_string(fixed);
        }
    }
    free(red);
    free(fixed);
    return j ? j : json_null();
}

static void body_json(json_t *obj, const fetch_response *r)
{
    json_t *body = json_stringn(r->body, r->body_len); /* NULL unless UTF-8 */
    if (body) {
        json_object_set_new(obj, "body", body);
    } else {
        size_t n = 4 * ((r->body_len + 2) / 3) + 1;
        unsigned char *b64 = malloc(n);
        if (!b64)
            return;
        EVP_EncodeBlock(b64, (const unsigned char *)r->body, (int)r->body_len);
        json_object_set_new(obj, "body_base64", json_string((char *)b64));
        free(b64);
    }
}

static int write_json(const output *o, size_t index, const fetch_response *r,
                      const char *error)
{
    json_t *obj = json_object();
    int ok = !error;

    json_object_set_new(obj, "index", json_integer((json_int_t)index));
    json_object_set_new(obj, "url", text(r->url, 1));
    json_object_set_new(obj, "effective_url", text(r->effective_url, 1));
    json_object_set_new(obj, "status", json_integer(r->status));
    json_object_set_new(obj, "ok", json_boolean(ok));
    json_object_set_new(obj, "error", text(error, 0));
    json_object_set_new(obj, "bytes", json_integer((json_int_t)r->bytes));
    json_object_set_new(obj, "content_type", text(r->content_type, 0));
    json_object_set_new(obj, "time_queued", json_real(r->time_queued));
    json_object_set_new(obj, "time_connect", json_real(r->time_connect));
    json_object_set_new(obj, "time_first_byte", json_real(r->time_first_byte));
    json_object_set_new(obj, "time_total", json_real(r->time_total));
    if (o->dir) {
        char path[4096];
        snprintf(path, sizeof path, "%s/%zu", o->dir->path, index);
        json_object_set_new(obj, "file", ok ? text(path, 0) : json_null());
    } else if (ok) {
        body_json(obj, r);
    }
    int rc = json_dumpf(
        obj, stdout, JSON_COMPACT | JSON_ENSURE_ASCII | JSON_REAL_PRECISION(6));
    json_decref(obj);
    return rc == 0 && putchar('\n') != EOF ? 0 : -1;
}

int output_write(const output *o, size_t index, const fetch_response *r,
                 int file_error, const char *note)
{
    char buf[4200], *dir = NULL;
    const char *error = r->message; /* composed by libfetch, safe to show */
    if (r->error == FETCH_OK && file_error) {
        dir = escaped(o->dir->path); /* the user's own, but still */
        snprintf(buf, sizeof buf, "%s/%zu: %s", dir ? dir : "DIR", index,
                 strerror(file_error));
        error = buf;
    }
    char *line = NULL;
    if (error && note && (line = malloc(strlen(error) + strlen(note) + 2)))
        sprintf(line, "%s %s", error, note);
    if (error)
        output_error(o, index, line ? line : error);
    free(line);
    free(dir);
    if (o->jsonl)
        return write_json(o, index, r, error);
    if (o->dir || error)
        return 0;
    return fwrite(r->body, 1, r->body_len, stdout) == r->body_len ? 0 : -1;
}
