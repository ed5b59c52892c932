/* SPDX-License-Identifier: MIT */
/*
 * HTTP/2 as production servers speak it: nginx over HTTPS with
 * keepalive_requests 50 sends GOAWAY after every 50 streams. The streams
 * above its last stream id were never processed (RFC 9113 6.8), so
 * sending them again is safe for any method, and routine: every request
 * must succeed at its first attempt of ours, each processed once (nginx's
 * own log). Skipped (77) when nginx or its echo module is not installed
 * (bootstrap and .ci/run install them).
 */
#define _GNU_SOURCE
#include <check.h>
#include <netinet/in.h>
#include <fcntl.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/prctl.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <unistd.h>

#include "harness.h"

#define NGINX "/usr/sbin/nginx"
#define ECHO_MODULE "/usr/lib/nginx/modules/ngx_http_echo_module.so"

static char dir[] = "/tmp/fetchall-h2-XXXXXX";
static pid_t nginx_pid;
static int port;

static int free_port(void)
{
    struct sockaddr_in a = {.sin_family = AF_INET};
    socklen_t len = sizeof a;
    int fd = socket(AF_INET, SOCK_STREAM, 0);
    a.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
    ck_assert_int_eq(bind(fd, (struct sockaddr *)&a, len), 0);
    ck_assert_int_eq(getsockname(fd, (struct sockaddr *)&a, &len), 0);
    close(fd);
    return ntohs(a.sin_port);
}

static int listening(int p)
{
    struct sockaddr_in a = {.sin_family = AF_INET};
    int fd = socket(AF_INET, SOCK_STREAM, 0);
    a.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
    a.sin_port = htons((unsigned short)p);
    int ok = connect(fd, (struct sockaddr *)&a, sizeof a) == 0;
    close(fd);
    return ok;
}

static void write_file(const char *name, const char *text)
{
    char path[256];
    snprintf(path, sizeof path, "%s/%s", dir, name);
    FILE *f = fopen(path, "w");
    ck_assert_ptr_nonnull(f);
    fputs(text, f);
    fclose(f);
    chmod(path, 0644);
}

/* nginx on a port of its own, for at most ten minutes (timeout(1)). */
static void nginx_start(void)
{
    char cert[256], key[256], conf[4096], path[512], errlog[512], body[1025];
    ck_assert_ptr_nonnull(mkdtemp(dir));
    chmod(dir, 0755);
    snprintf(path, sizeof path, "%s/tmp", dir);
    mkdir(path, 0777);
    chmod(path, 0777);
    tls_files(dir, cert, key, sizeof cert);
    chmod(key, 0644);
    memset(body, 'x', 1024);
    body[1024] = '\0';
    write_file("1k", body);
    for (int attempt = 0; attempt < 5; attempt++) {
        port = free_port();
        snprintf(conf, sizeof conf,
                 "load_module " ECHO_MODULE ";\n"
                 "daemon off;\n"
                 "worker_processes 1;\n"
                 "pid %s/nginx.pid;\n"
                 "error_log %s/error.log;\n"
                 "events { worker_connections 1024; }\n"
                 "http {\n"
                 "  log_format m '$request $status';\n"
                 "  access_log %s/access.log m;\n"
                 "  client_body_temp_path %s/tmp;\n"
                 "  proxy_temp_path %s/tmp;\n"
                 "  fastcgi_temp_path %s/tmp;\n"
                 "  uwsgi_temp_path %s/tmp;\n"
                 "  scgi_temp_path %s/tmp;\n"
                 "  keepalive_requests 50;\n" /* a GOAWAY every 50 streams */
                 "  server {\n"
                 "    listen 127.0.0.1:%d ssl http2;\n"
                 "    ssl_certificate %s;\n"
                 "    ssl_certificate_key %s;\n"
                 "    root %s;\n"
                 /* a POST's body is read, then answered (as an
                    application would) */
                 "    location /post { echo_read_request_body;\n"
                 "      echo $echo_request_body; }\n"
                 "  }\n"
                 "}\n",
                 dir, dir, dir, dir, dir, dir, dir, dir, port, cert, key, dir);
        write_file("nginx.conf", conf);
        snprintf(path, sizeof path, "%s/nginx.conf", dir);
        snprintf(errlog, sizeof errlog, "%s/error.log", dir);
        pid_t pid = fork();
        ck_assert_int_ge(pid, 0);
        if (pid == 0) {
            /* it ends with this test, whatever becomes of the test */
            prctl(PR_SET_PDEATHSIG, SIGTERM);
            int null = open("/dev/null", O_RDWR);
            dup2(null, STDIN_FILENO);
            dup2(null, STDOUT_FILENO);
            dup2(null, STDERR_FILENO);
            execl("/usr/bin/timeout", "timeout", "600", NGINX, "-q", "-c", path,
                  "-p", dir, "-e", errlog, (char *)NULL);
            _exit(127);
        }
        for (int i = 0; i < 200 && !listening(port); i++)
            usleep(25000);
        if (listening(port)) {
            nginx_pid = pid;
            return;
        }
        kill(pid, SIGTERM); /* the port was taken meanwhile: another */
        run_reap(pid);
    }
    ck_abort_msg("nginx did not start");
}

static void nginx_stop(void)
{
    char cmd[256];
    if (nginx_pid > 0) {
        kill(nginx_pid, SIGTERM); /* timeout passes it on to nginx */
        run_reap(nginx_pid);
        nginx_pid = 0;
    }
    snprintf(cmd, sizeof cmd, "rm -rf %s", dir);
    ck_assert_int_eq(system(cmd), 0);
    strcpy(dir, "/tmp/fetchall-h2-XXXXXX");
}

static void setup(void)
{
    cli_setup(); /* the command; its test server is not used here */
    nginx_start();
}

static void teardown(void)
{
    nginx_stop();
    srv_teardown();
}

/* How many requests of method nginx's access log has, answered 200
   ("POST /1k?i=1 HTTP/2.0 200": the request line as it came, before an
   error_page turned it into a GET). */
static size_t logged(const char *method)
{
    char path[256], buf[256];
    size_t n = 0, m = strlen(method);
    snprintf(path, sizeof path, "%s/access.log", dir);
    FILE *f = fopen(path, "r");
    ck_assert_ptr_nonnull(f);
    while (fgets(buf, sizeof buf, f)) {
        size_t len = strlen(buf);
        n += !strncmp(buf, method, m) && buf[m] == ' ' && len > 5 &&
             !strcmp(buf + len - 5, " 200\n");
    }
    fclose(f);
    return n;
}

static void goaway_run(const char *method)
{
    enum { N = 2000 };
    char *in = malloc(N * 64);
    size_t at = 0;
    int post = !strcmp(method, "POST");
    for (int i = 1; i <= N; i++)
        at += (size_t)sprintf(in + at, "https://127.0.0.1:%d/%s?i=%d\n", port,
                              post ? "post" : "1k", i);
    run_result r;
    if (post)
        RUN(&r, in, "-k", "-j", "100", "--jsonl", "-d", "a=1", "-i", "-");
    else
        RUN(&r, in, "-k", "-j", "100", "--jsonl", "-i", "-");
    ck_assert_msg(r.status == 0, "exit %d: %.2000s", r.status, r.err);
    ck_assert_str_eq(r.err, "");
    ck_assert_uint_eq(count_str(r.out, "\n"), N);
    ck_assert_uint_eq(count_str(r.out, "\"ok\":true"), N);
    /* none retried by us: libcurl sent the refused streams again */
    ck_assert_uint_eq(count_str(r.out, "\"attempts\":1,"), N);
    ck_assert_uint_eq(count_str(r.out, "\"http_version\":\"2\""), N);
    if (post) /* each answer is its own request's body */
        ck_assert_uint_eq(count_str(r.out, "\"body\":\"a=1\\n\""), N);
    ck_assert_uint_eq(logged(method), N); /* each processed once */
    run_free(&r);
    free(in);
}

START_TEST(goaway_every_50_streams_posts)
{
    goaway_run("POST");
}
END_TEST

START_TEST(goaway_every_50_streams_gets)
{
    goaway_run("GET");
}
END_TEST

static Suite *h2_suite(void)
{
    Suite *s = suite_create("HTTP/2 against nginx");
    TCase *tc = tcase_create("goaway");
    tcase_add_checked_fixture(tc, setup, teardown);
    tcase_set_timeout(tc, 300);
    tcase_add_test(tc, goaway_every_50_streams_posts);
    tcase_add_test(tc, goaway_every_50_streams_gets);
    suite_add_tcase(s, tc);
    return s;
}

int main(void)
{
    if (access(NGINX, X_OK) != 0 || access(ECHO_MODULE, R_OK) != 0) {
        printf("nginx is not installed (apt-get install nginx-light "
               "libnginx-mod-http-echo): skipped\n");
        return 77;
    }
    return run_suite(h2_suite());
}
