/* Writing results: bodies to stdout or files, JSON lines, error lines. */
#include <errno.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include <jansson.h>
#include <openssl/evp.h>

#include "fetchall.h"

void output_path(char *buf, size_t len, const output *o, size_t index, int part)
{
    snprintf(buf, len, "%s/%zu%s", o->dir, index, part ? ".part" : "");
}

/* Only a complete body gets the name DIR/N. */
int output_file_done(const output *o, size_t index, int ok)
{
    char part[4096], done[4096];
    output_path(part, sizeof part, o, index, 1);
    output_path(done, sizeof done, o, index, 0);
    if (!ok) {
        unlink(part);
        return 0;
    }
    if (rename(part, done) == 0)
        return 0;
    if (!o->quiet)
        fprintf(stderr, "fetchall: [%zu] %s: %s\n", index, done,
                strerror(errno));
    unlink(part);
    return -1;
}

static void body_json(json_t *obj, const fetch_response *r)
{
    json_t *text = json_stringn(r->body, r->body_len); /* NULL unless UTF-8 */
    if (text) {
        json_object_set_new(obj, "body", text);
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
    char path[4096];
    json_t *obj = json_object();
    int ok = r->error == FETCH_OK;

    json_object_set_new(obj, "index", json_integer((json_int_t)index));
    json_object_set_new(obj, "url", json_string(r->url));
    json_object_set_new(obj, "effective_url",
                        r->effective_url ? json_string(r->effective_url)
                                         : json_null());
    json_object_set_new(obj, "status", json_integer(r->status));
    json_object_set_new(obj, "ok", json_boolean(ok));
    json_object_set_new(obj, "error", error ? json_string(error) : json_null());
    json_object_set_new(obj, "bytes", json_integer((json_int_t)r->bytes));
    json_object_set_new(obj, "content_type",
                        r->content_type ? json_string(r->content_type)
                                        : json_null());
    json_object_set_new(obj, "time_queued", json_real(r->time_queued));
    json_object_set_new(obj, "time_connect", json_real(r->time_connect));
    json_object_set_new(obj, "time_first_byte", json_real(r->time_first_byte));
    json_object_set_new(obj, "time_total", json_real(r->time_total));
    if (o->dir) {
        output_path(path, sizeof path, o, index, 0);
        json_object_set_new(obj, "file", ok ? json_string(path) : json_null());
    } else if (ok) {
        body_json(obj, r);
    }
    int rc = json_dumpf(
        obj, stdout, JSON_COMPACT | JSON_ENSURE_ASCII | JSON_REAL_PRECISION(6));
    json_decref(obj);
    return rc == 0 && putchar('\n') != EOF ? 0 : -1;
}

int output_write(const output *o, size_t index, const fetch_response *r,
                 int deadline_hit)
{
    char msg[8192];
    const char *error = NULL;

    if (r->error != FETCH_OK) {
        if (deadline_hit)
            snprintf(msg, sizeof msg, "%s: deadline of %g s reached", r->url,
                     o->deadline);
        else
            snprintf(msg, sizeof msg, "%s", r->message);
        error = msg;
        if (!o->quiet)
            fprintf(stderr, "fetchall: [%zu] %s\n", index, msg);
    }
    if (o->jsonl)
        return write_json(o, index, r, error);
    if (o->dir || error)
        return 0;
    return fwrite(r->body, 1, r->body_len, stdout) == r->body_len ? 0 : -1;
}
