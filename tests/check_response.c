/* SPDX-License-Identifier: MIT */
/* Responses: bodies (exact, too large, streamed, to files), headers,
   redirects, broken transfers and HTTP errors. */
#define _GNU_SOURCE
#include <check.h>
#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include <event2/event.h>

#include "harness.h"
#include "libfetch.h"

START_TEST(redirects_followed_and_limited)
{
    fetch_client *c = client_with(10, 0, 5);
    fetch_task *t = get_one(c, ts_url(&srv, "/redirect/3"));
    const fetch_response *r = fetch_task_response(t);
    ck_assert_int_eq(r->error, FETCH_OK);
    ck_assert_int_eq(r->redirects, 3);
    ck_assert_str_eq(r->body, "redirected\n");
    ck_assert_str_eq(r->effective_url, ts_url(&srv, "/redirect/0"));
    fetch_task_free(t);

    t = get_one(c, ts_url(&srv, "/redirect/11")); /* default limit 10 */
    ck_assert_int_eq(fetch_task_response(t)->error, FETCH_E_TOO_MANY_REDIRECTS);
    fetch_task_free(t);

    /* a redirect may not leave http/https */
    t = get_one(c, ts_url(&srv, "/redirect-to?url=file:///etc/passwd"));
    ck_assert_int_eq(fetch_task_response(t)->error, FETCH_E_PROTOCOL);
    fetch_task_free(t);
    client_free(c);

    fetch_options o;
    test_options(&o);
    o.follow_redirects = 0;
    c = client_new(&o, NULL);
    t = get_one(c, ts_url(&srv, "/redirect/3"));
    ck_assert_int_eq(fetch_task_response(t)->error, FETCH_OK);
    ck_assert_int_eq(fetch_task_response(t)->status, 302);
    fetch_task_free(t);
    client_free(c);
}
END_TEST

START_TEST(broken_transfers_and_http_errors)
{
    fetch_options o;
    test_options(&o);
    fetch_client *c = client_new(&o, NULL);
    fetch_task *t = get_one(c, ts_url(&srv, "/close/1000"));
    ck_assert_int_eq(fetch_task_response(t)->error, FETCH_E_TRANSFER);
    fetch_task_free(t);
    t = get_one(c, ts_url(&srv, "/status/404")); /* a status is a result */
    ck_assert_int_eq(fetch_task_response(t)->error, FETCH_OK);
    ck_assert_int_eq(fetch_task_response(t)->status, 404);
    ck_assert_str_eq(fetch_task_response(t)->body, "status 404\n");
    fetch_task_free(t);
    client_free(c);

    o.fail_on_http_error = 1; /* aiohttp's raise_for_status */
    c = client_new(&o, NULL);
    t = get_one(c, ts_url(&srv, "/status/503"));
    ck_assert_int_eq(fetch_task_response(t)->error, FETCH_E_HTTP);
    ck_assert_ptr_nonnull(strstr(fetch_task_response(t)->message, "503"));
    fetch_task_free(t);
    client_free(c);
}
END_TEST

START_TEST(large_body_exact)
{
    fetch_client *c = client_with(4, 0, 0);
    fetch_task *t = get_one(c, ts_url(&srv, "/bytes/3000000"));
    const fetch_response *r = fetch_task_response(t);
    char *want = expected_bytes(3000000);
    ck_assert_int_eq(r->error, FETCH_OK);
    ck_assert_uint_eq(r->body_len, 3000000);
    ck_assert(memcmp(r->body, want, 3000000) == 0);
    ck_assert_int_eq(r->body[r->body_len], '\0');
    ck_assert_str_eq(r->content_type, "application/octet-stream");
    ck_assert_double_gt(r->time_total, 0);
    ck_assert_double_ge(r->time_total, r->time_first_byte);
    free(want);
    fetch_task_free(t);
    client_free(c);
}
END_TEST

START_TEST(max_body_size_stops_the_transfer)
{
    fetch_client *c = client_with(4, 0, 0);
    fetch_request r;
    const char *paths[] = {"/bytes/50000", "/chunked/50000"};
    for (int i = 0; i < 2; i++) { /* with and without Content-Length */
        fetch_request_init(&r);
        r.url = ts_url(&srv, "%s", paths[i]);
        r.max_body_size = 10000;
        fetch_task *t = submit_wait(c, &r);
        ck_assert_int_eq(fetch_task_response(t)->error, FETCH_E_TOO_LARGE);
        ck_assert_ptr_nonnull(strstr(fetch_task_response(t)->message, "10000"));
        ck_assert_uint_le(fetch_task_response(t)->body_len, 10000);
        fetch_task_free(t);
    }
    fetch_request_init(&r);
    r.url = ts_url(&srv, "/chunked/9000");
    r.max_body_size = 10000;
    fetch_task *t = submit_wait(c, &r);
    ck_assert_int_eq(fetch_task_response(t)->error, FETCH_OK);
    fetch_task_free(t);
    client_free(c);
}
END_TEST

/* ---- streaming ---- */

struct chunks {
    size_t n, bytes, stop_after;
    int bad;
};
static int on_chunk(fetch_task *t, const char *data, size_t len, void *arg)
{
    struct chunks *ch = arg;
    (void)t;
    for (size_t i = 0; i < len; i++) /* the bytes are the body's, in order */
        ch->bad |= data[i] != (char)('a' + (ch->bytes + i) % 26);
    ch->n++;
    ch->bytes += len;
    return ch->stop_after && ch->n >= ch->stop_after ? -1 : 0;
}

START_TEST(data_callback_streams_and_can_stop)
{
    fetch_client *c = client_with(4, 0, 0);
    struct chunks ch = {0};
    fetch_request r;
    fetch_request_init(&r);
    r.url = ts_url(&srv, "/drip/5");
    r.on_data = on_chunk;
    r.data_arg = &ch;
    fetch_task *t = submit_wait(c, &r);
    const fetch_response *resp = fetch_task_response(t);
    ck_assert_int_eq(resp->error, FETCH_OK);
    ck_assert_uint_eq(ch.bytes, 500);
    ck_assert_uint_ge(ch.n, 5); /* one chunk per 50 ms drip at least */
    ck_assert_int_eq(ch.bad, 0);
    ck_assert_uint_eq(resp->bytes, 500);
    ck_assert_uint_eq(resp->body_len, 0); /* nothing buffered */
    fetch_task_free(t);

    struct chunks stop = {.stop_after = 2};
    r.url = ts_url(&srv, "/drip/40");
    r.data_arg = &stop;
    t = submit_wait(c, &r);
    ck_assert_int_eq(fetch_task_response(t)->error, FETCH_E_CANCELLED);
    ck_assert_ptr_nonnull(strstr(fetch_task_response(t)->message,
                                 "stopped by the data callback"));
    /* the transfer stopped there: no third chunk came to the callback */
    ck_assert_uint_eq(stop.n, 2);
    fetch_task_free(t);

    /* an error page is data like any other... */
    struct chunks page = {0};
    r.url = ts_url(&srv, "/status/404");
    r.data_arg = &page;
    t = submit_wait(c, &r);
    ck_assert_int_eq(fetch_task_response(t)->status, 404);
    ck_assert_uint_eq(page.bytes, strlen("status 404\n"));
    fetch_task_free(t);
    /* ...unless it fails the task: then none of it is streamed (curl -f) */
    struct chunks none = {0};
    r.data_arg = &none;
    r.fail_on_http_error = 1;
    t = submit_wait(c, &r);
    ck_assert_int_eq(fetch_task_response(t)->error, FETCH_E_HTTP);
    ck_assert_uint_eq(none.n, 0);
    fetch_task_free(t);
    assert_idle(c);
    client_free(c);
}
END_TEST

/* What a wire callback saw. */
struct wire_log {
    int requests, blank_lines, fail_at_body;
    char urls[4][128], ips[4][64], status[4][32];
    size_t head_lines, body, req_body;
    char raw[16384]; /* the first bytes of the bodies, as on the wire */
    char sent[256];  /* the request body */
};

static int on_wire(fetch_task *t, const fetch_wire *w, void *arg)
{
    struct wire_log *l = arg;
    (void)t;
    switch (w->kind) {
    case FETCH_WIRE_REQUEST:
        if (l->requests < 4) {
            snprintf(l->urls[l->requests], 128, "%s", w->url);
            snprintf(l->ips[l->requests], 64, "%s", w->ip);
        }
        l->requests++;
        break;
    case FETCH_WIRE_REQUEST_BODY:
        if (l->req_body + w->len < sizeof l->sent)
            memcpy(l->sent + l->req_body, w->data, w->len);
        l->req_body += w->len;
        break;
    case FETCH_WIRE_RESPONSE_HEAD:
        if (w->len >= 5 && !memcmp(w->data, "HTTP/", 5) && l->requests &&
            l->requests <= 4)
            snprintf(l->status[l->requests - 1], 32, "%.*s", (int)(w->len - 2),
                     w->data);
        l->blank_lines += w->len == 2 && !memcmp(w->data, "\r\n", 2);
        l->head_lines++;
        break;
    case FETCH_WIRE_RESPONSE_BODY:
        if (l->fail_at_body)
            return EIO;
        if (l->body + w->len < sizeof l->raw)
            memcpy(l->raw + l->body, w->data, w->len);
        l->body += w->len;
        break;
    }
    return 0;
}

/* on_wire sees every hop as it crossed the wire: the request heads with
   each hop's URL and peer, the response heads line by line, the body
   with its chunked framing, a request body as sent; a failure there
   stops the transfer. */
START_TEST(the_wire_of_every_hop)
{
    fetch_client *c = client_with(4, 0, 5);
    struct wire_log l = {0};
    fetch_request r;
    fetch_request_init(&r);
    r.url = ts_url(&srv, "/redirect/2");
    r.on_wire = on_wire;
    r.wire_arg = &l;
    fetch_task *t = submit_wait(c, &r);
    ck_assert_int_eq(fetch_task_response(t)->error, FETCH_OK);
    ck_assert_int_eq(l.requests, 3);
    ck_assert_int_eq(l.blank_lines, 3);
    for (int i = 0; i < 3; i++) {
        char path[32];
        snprintf(path, sizeof path, "/redirect/%d", 2 - i);
        ck_assert_str_eq(l.urls[i], ts_url(&srv, "%s", path));
        ck_assert_str_eq(l.ips[i], "127.0.0.1");
        ck_assert_int_eq(
            strncmp(l.status[i], i < 2 ? "HTTP/1.1 302 " : "HTTP/1.1 200 ", 13),
            0);
    }
    fetch_task_free(t);

    struct wire_log ch = {0};
    r.url = ts_url(&srv, "/chunked/5000");
    r.wire_arg = &ch;
    t = submit_wait(c, &r);
    const fetch_response *resp = fetch_task_response(t);
    ck_assert_int_eq(resp->error, FETCH_OK);
    ck_assert_uint_eq(resp->body_len, 5000); /* decoded for the sink */
    ck_assert_uint_gt(ch.body, 5000);        /* framed on the wire */
    ck_assert(!strncmp(ch.raw, "3e8\r\n", 5) || !strncmp(ch.raw, "3E8\r\n", 5));
    fetch_task_free(t);

    struct wire_log post = {0};
    r.url = ts_url(&srv, "/echo");
    r.method = "POST";
    r.body = "name=value";
    r.body_len = 10;
    r.wire_arg = &post;
    t = submit_wait(c, &r);
    ck_assert_int_eq(fetch_task_response(t)->error, FETCH_OK);
    ck_assert_uint_eq(post.req_body, 10);
    ck_assert(!memcmp(post.sent, "name=value", 10));
    fetch_task_free(t);

    struct wire_log fails = {.fail_at_body = 1};
    r.url = ts_url(&srv, "/bytes/100000");
    r.method = NULL;
    r.body = NULL;
    r.body_len = 0;
    r.wire_arg = &fails;
    t = submit_wait(c, &r);
    ck_assert_int_eq(fetch_task_response(t)->error, FETCH_E_WRITE);
    ck_assert_ptr_nonnull(strstr(fetch_task_response(t)->message,
                                 "recording the transfer failed"));
    fetch_task_free(t);
    assert_idle(c);
    client_free(c);
}
END_TEST

START_TEST(file_sinks)
{
    char path[] = "/tmp/fetch-sink-XXXXXX", path2[64];
    int fd = mkstemp(path);
    snprintf(path2, sizeof path2, "%s.b", path);
    fetch_client *c = client_with(4, 0, 0);
    fetch_request r;
    fetch_request_init(&r);
    r.url = ts_url(&srv, "/chunked/123456");
    r.sink_fd = fd;
    fetch_task *t = submit_wait(c, &r);
    ck_assert_int_eq(fetch_task_response(t)->error, FETCH_OK);
    ck_assert_uint_eq(fetch_task_response(t)->bytes, 123456);
    ck_assert_uint_eq(fetch_task_response(t)->body_len, 0);
    fetch_task_free(t);
    fetch_request_init(&r);
    r.url = ts_url(&srv, "/bytes/70000");
    r.sink_path = path2;
    t = submit_wait(c, &r);
    ck_assert_int_eq(fetch_task_response(t)->error, FETCH_OK);
    fetch_task_free(t);

    char *want = expected_bytes(123456), *got = malloc(200000);
    ck_assert_int_eq(pread(fd, got, 200000, 0), 123456);
    ck_assert(memcmp(got, want, 123456) == 0);
    int fd2 = open(path2, O_RDONLY);
    ck_assert_int_eq(read(fd2, got, 200000), 70000);
    ck_assert(memcmp(got, want, 70000) == 0);
    close(fd2);
    close(fd); /* the caller's fd stays the caller's */

    fetch_request_init(&r); /* an unwritable path is that task's error */
    r.url = ts_url(&srv, "/bytes/10");
    r.sink_path = "/nonexistent-dir/x";
    t = submit_wait(c, &r);
    ck_assert_int_eq(fetch_task_response(t)->error, FETCH_E_WRITE);
    fetch_task_free(t);
    r.sink_fd = 1; /* two sinks at once: refused */
    ck_assert_ptr_null(fetch_submit(c, &r, NULL, NULL, NULL));
    client_free(c);
    unlink(path);
    unlink(path2);
    free(want);
    free(got);
}
END_TEST

/* ---- headers, cookies ---- */

START_TEST(response_headers)
{
    fetch_client *c = client_with(4, 0, 0);
    fetch_task *t = fetch_get(c, ts_url(&srv, "/multi"), NULL, NULL, NULL);
    ck_assert_ptr_null(fetch_task_header(t, "X-Multi", 0)); /* not done */
    fetch_wait_for(t, 10);
    ck_assert_str_eq(fetch_task_header(t, "X-Multi", 0), "a");
    ck_assert_str_eq(fetch_task_header(t, "x-multi", 1), "b");
    ck_assert_ptr_null(fetch_task_header(t, "X-Multi", 2));
    ck_assert_ptr_null(fetch_task_header(t, "X-None", 0));
    const char *name, *value;
    int seen_type = 0, multi = 0;
    size_t i;
    for (i = 0; fetch_task_header_at(t, i, &name, &value); i++) {
        seen_type |= !strcasecmp(name, "Content-Type");
        multi += !strcmp(name, "X-Multi");
    }
    ck_assert(seen_type);
    ck_assert_int_eq(multi, 2);
    ck_assert_uint_ge(i, 4);
    fetch_task_free(t);
    /* after redirects: the last response's headers and the chain length */
    t = fetch_get(c, ts_url(&srv, "/redirect/2"), NULL, NULL, NULL);
    fetch_wait_for(t, 10);
    ck_assert_ptr_null(fetch_task_header(t, "Location", 0));
    ck_assert_int_eq(fetch_task_response(t)->redirects, 2);
    fetch_task_free(t);
    client_free(c);
}
END_TEST

static Suite *response_suite(void)
{
    Suite *s = suite_create("response");
    TCase *tc = tcase_create("response");
    tcase_add_checked_fixture(tc, srv_setup, srv_teardown);
    tcase_set_timeout(tc, 120);
    tcase_add_test(tc, redirects_followed_and_limited);
    tcase_add_test(tc, broken_transfers_and_http_errors);
    tcase_add_test(tc, large_body_exact);
    tcase_add_test(tc, max_body_size_stops_the_transfer);
    tcase_add_test(tc, data_callback_streams_and_can_stop);
    tcase_add_test(tc, the_wire_of_every_hop);
    tcase_add_test(tc, file_sinks);
    tcase_add_test(tc, response_headers);
    suite_add_tcase(s, tc);
    return s;
}

int main(void)
{
    return run_suite_loops(response_suite);
}
