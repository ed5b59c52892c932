/* SPDX-License-Identifier: MIT */
/* TLS: verification, CA files, client certificates. */
#define _GNU_SOURCE
#include <check.h>
#include <stdlib.h>
#include <unistd.h>

#include "harness.h"
#include "libfetch.h"

/* ---- TLS ---- */

START_TEST(tls_verification)
{
    char dir[] = "/tmp/fetch-tls-XXXXXX", cert[128], key[128];
    ck_assert_ptr_nonnull(mkdtemp(dir));
    tls_files(dir, cert, key, sizeof cert);
    test_server tls;
    ts_start_tls(&tls, cert, key);
    fetch_options o;
    test_options(&o);

    o.retries = 3; /* a certificate that does not verify: never retried */
    fetch_client *c = client_new(&o, NULL); /* system CAs */
    fetch_task *t = fetch_get(c, ts_url(&tls, "/bytes/5"), NULL, NULL, NULL);
    ck_assert_int_eq(fetch_wait_for(t, 10), FETCH_E_TLS);
    ck_assert_int_eq(fetch_task_response(t)->attempts, 1);
    fetch_task_free(t);
    client_free(c);
    o.retries = 0;

    o.ca_file = cert; /* --cacert */
    c = client_new(&o, NULL);
    t = fetch_get(c, ts_url(&tls, "/bytes/5"), NULL, NULL, NULL);
    ck_assert_int_eq(fetch_wait_for(t, 10), FETCH_OK);
    ck_assert_str_eq(fetch_task_response(t)->body, "abcde");
    ck_assert_double_gt(fetch_task_response(t)->time_tls, 0);
    fetch_task_free(t);
    client_free(c);

    o.ca_file = NULL; /* -k */
    o.insecure = 1;
    c = client_new(&o, NULL);
    t = fetch_get(c, ts_url(&tls, "/bytes/5"), NULL, NULL, NULL);
    ck_assert_int_eq(fetch_wait_for(t, 10), FETCH_OK);
    fetch_task_free(t);
    client_free(c);
    ts_stop(&tls);

    /* a server that wants a client certificate (self-signed: its own CA) */
    char cdir[] = "/tmp/fetch-tls-client-XXXXXX", ccert[128], ckey[128];
    ck_assert_ptr_nonnull(mkdtemp(cdir));
    tls_files(cdir, ccert, ckey, sizeof ccert);
    ts_start_tls_client_ca(&tls, cert, key, ccert);
    o.insecure = 0;
    o.ca_file = cert;
    c = client_new(&o, NULL);
    t = fetch_get(c, ts_url(&tls, "/bytes/5"), NULL, NULL, NULL);
    /* none given: refused, in the handshake or (TLS 1.3) right after it */
    ck_assert_int_ne(fetch_wait_for(t, 10), FETCH_OK);
    ck_assert_int_eq(fetch_task_response(t)->status, 0);
    fetch_task_free(t);
    client_free(c);
    o.client_cert = ccert;
    o.client_key = ckey;
    c = client_new(&o, NULL);
    t = fetch_get(c, ts_url(&tls, "/bytes/5"), NULL, NULL, NULL);
    ck_assert_int_eq(fetch_wait_for(t, 10), FETCH_OK);
    ck_assert_str_eq(fetch_task_response(t)->body, "abcde");
    fetch_task_free(t);
    client_free(c);
    ts_stop(&tls);
    unlink(ccert);
    unlink(ckey);
    rmdir(cdir);
    unlink(cert);
    unlink(key);
    rmdir(dir);
}
END_TEST

static Suite *tls_suite(void)
{
    Suite *s = suite_create("tls");
    TCase *tc = tcase_create("tls");
    tcase_add_checked_fixture(tc, srv_setup, srv_teardown);
    tcase_set_timeout(tc, 120);
    tcase_add_test(tc, tls_verification);
    suite_add_tcase(s, tc);
    return s;
}

int main(void)
{
    return run_suite_loops(tls_suite);
}
