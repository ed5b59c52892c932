/* SPDX-License-Identifier: MIT */
/*
 * The header's promise: a program built against an older, shorter
 * fetch_options, fetch_request or fetch_stats keeps working with this
 * library. Here the structs are as such a program has them: exactly as
 * long as an earlier header made them (ending before members added
 * since), each in a heap block of that size, so that a read or write past
 * it is caught (ASan, valgrind), and followed by a canary.
 */
#include <check.h>
#include <stddef.h>
#include <stdlib.h>
#include <string.h>

#include "harness.h"
#include "libfetch.h"

#define CANARY 0xA5

/* A block of size bytes (what the old program allocated), then 64 bytes
   of canary in a block of their own. */
static void *old_struct(size_t size, unsigned char **canary)
{
    void *p = malloc(size);
    ck_assert_ptr_nonnull(p);
    memset(p, 0, size);
    *canary = malloc(64);
    memset(*canary, CANARY, 64);
    return p;
}

static void canary_intact(const unsigned char *c)
{
    for (int i = 0; i < 64; i++)
        ck_assert_int_eq(c[i], CANARY);
}

START_TEST(structs_from_an_older_header)
{
    /* fetch_options as it was before tracing (and all after it) came */
    size_t osize = offsetof(fetch_options, trace);
    unsigned char *oc, *rc, *sc;
    fetch_options *o = old_struct(osize, &oc);
    fetch_options_init_size(o, osize);
    ck_assert_uint_eq(o->size, osize);
    ck_assert_int_eq(o->max_concurrency, 100);
    o->max_concurrency = 3;
    o->loops = test_loops;
    int err = -1;
    fetch_client *c = client_new(o, NULL); /* the harness's: idle at the end */
    free(o);

    /* fetch_request before per-request retries */
    size_t rsize = offsetof(fetch_request, retries);
    fetch_request *r = old_struct(rsize, &rc);
    fetch_request_init_size(r, rsize);
    ck_assert_uint_eq(r->size, rsize);
    ck_assert_int_eq(r->sink_fd, -1);
    r->url = ts_url(&srv, "/flaky/abi?fail=1");
    fetch_task *t = fetch_submit(c, r, NULL, NULL, &err);
    ck_assert_ptr_nonnull(t);
    free(r);
    ck_assert_int_eq(fetch_wait_for(t, FETCH_WAIT_FOREVER), FETCH_OK);
    /* retries are the newer fields' default: none, so the 503 stands */
    ck_assert_int_eq(fetch_task_response(t)->status, 503);
    ck_assert_int_eq(fetch_task_response(t)->attempts, 1);
    fetch_task_free(t);

    /* fetch_stats before idle_slots */
    size_t ssize = offsetof(fetch_stats, idle_slots);
    fetch_stats *st = old_struct(ssize, &sc);
    fetch_client_stats_size(c, st, ssize);
    ck_assert_uint_eq(st->size, ssize);
    ck_assert_uint_eq(st->finished, 1);
    ck_assert_uint_eq(st->running, 0);
    free(st);

    canary_intact(oc);
    canary_intact(rc);
    canary_intact(sc);
    free(oc);
    free(rc);
    free(sc);
    client_free(c);
}
END_TEST

static Suite *abi_suite(void)
{
    Suite *s = suite_create("ABI");
    TCase *tc = tcase_create("older header");
    tcase_add_checked_fixture(tc, srv_setup, srv_teardown);
    tcase_add_test(tc, structs_from_an_older_header);
    suite_add_tcase(s, tc);
    return s;
}

int main(void)
{
    return run_suite_loops(abi_suite);
}
