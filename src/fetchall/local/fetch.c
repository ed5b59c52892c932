/* SPDX-License-Identifier: MIT */
/*
 * fetchall URL...: the input, the journal (its fingerprint of the options
 * that change results) and -o DIR opened, the run sized, then run.
 */
#define _DEFAULT_SOURCE /* realpath */
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include <event2/buffer.h>
#include <openssl/evp.h>

#include "../common/message.h"
#include "../common/sitemap.h"
#include "../common/util.h"
#include "local.h"

static void field(EVP_MD_CTX *ctx, const char *s)
{
    if (!s)
        s = "-";
    EVP_DigestUpdate(ctx, s, strlen(s) + 1);
}

/* What would make a resumed run's results differ from the first run's:
   a fingerprint of those options, for the journal's header. */
static void fingerprint(const cmdline *a, char *hex, size_t len)
{
    const config *cfg = &a->cfg;
    unsigned char md[EVP_MAX_MD_SIZE];
    unsigned int mdlen = 0;
    EVP_MD_CTX *ctx = EVP_MD_CTX_new();
    char num[128];
    if (!ctx || !EVP_DigestInit_ex(ctx, EVP_sha256(), NULL))
        fatal("out of memory");
    field(ctx, cfg->req.method);
    EVP_DigestUpdate(ctx, cfg->req.body ? cfg->req.body : "",
                     cfg->req.body_len);
    for (int i = 0; i < a->n_headers; i++)
        field(ctx, a->headers[i]);
    field(ctx, cfg->fo.user_agent);
    field(ctx, a->output_dir);
    snprintf(num, sizeof num, "%d %d %d %zu %d", cfg->fo.fail_on_http_error,
             cfg->out.jsonl, cfg->out.headers, cfg->fo.max_body_size,
             cfg->fo.max_redirects);
    field(ctx, num);
    EVP_DigestFinal_ex(ctx, md, &mdlen);
    EVP_MD_CTX_free(ctx);
    for (unsigned i = 0; i < 8 && 2 * i + 2 < len; i++)
        snprintf(hex + 2 * i, 3, "%02x", md[i]);
}

/* 2>&1: stderr is the same file as stdout. */
static int same_file(int x, int y)
{
    struct stat sx, sy;
    return fstat(x, &sx) == 0 && fstat(y, &sy) == 0 && sx.st_dev == sy.st_dev &&
           sx.st_ino == sy.st_ino;
}

/* --revalidate into the earlier run's own DIR (its journal's files are
   there): DIR's results are that run's, not to be refused. */
static int same_dir(const validators *old, const char *path)
{
    char *abs = old->dir ? realpath(path, NULL) : NULL;
    int same = abs && !strcmp(abs, old->dir);
    free(abs);
    return same;
}

/* The command line for the WARC's warcinfo record: one line, each
   argument escaped, quoted when it is not a plain word. */
static char *arguments(const cmdline *a)
{
    struct evbuffer *b = evbuffer_new();
    char *out = NULL;
    if (!b)
        return NULL;
    evbuffer_add_printf(b, "fetchall");
    for (int i = 1; i < a->argc; i++) {
        char *e = escaped_text(a->argv[i]);
        int plain = e && *e &&
                    strspn(e, "abcdefghijklmnopqrstuvwxyz"
                              "ABCDEFGHIJKLMNOPQRSTUVWXYZ"
                              "0123456789_./:=@%+,-") == strlen(e);
        evbuffer_add_printf(b, plain ? " %s" : " '%s'", e ? e : "");
        free(e);
    }
    size_t n = evbuffer_get_length(b);
    if ((out = malloc(n + 1))) {
        evbuffer_remove(b, out, n);
        out[n] = '\0';
    }
    evbuffer_free(b);
    return out;
}

/* Open the input, the journal and -o DIR, size the run, run it. */
int local_main(cmdline *a)
{
    char **urls = a->urls;
    int n_urls = a->n_urls;
    static const char *const stdin_only[] = {"-"};
    config *cfg = &a->cfg;
    outdir dir;
    input in;
    int status, sitemap_fd = -1, sitemap_failed = 0;
    char sitemap_path[64];
    sitemap_failed = sitemap_inputs(a, &sitemap_fd, sitemap_path,
                                    sizeof sitemap_path); /* after -i's */
    if (sitemap_failed < 0)
        return 2;
    if (input_open(&in, urls, n_urls,
                   a->n_inputs ? a->inputs
                   : n_urls    ? NULL
                               : stdin_only,
                   a->n_inputs ? a->n_inputs : !n_urls) != 0) {
        input_close(&in);
        return 2;
    }
    static journal jr;
    int resuming = 0;
    job jb = {.cfg = cfg, .in = &in, .total = (size_t)-1};
    jb.progress = progress_mode(cfg->progress, cfg->out.quiet);
    if (jb.progress != PROGRESS_NONE || cfg->journal)
        jb.total = input_count(urls, n_urls,
                               a->n_inputs ? a->inputs
                               : n_urls    ? NULL
                                           : stdin_only,
                               a->n_inputs ? a->n_inputs : !n_urls);
    if (cfg->journal) {
        char why[512], fp[17] = "";
        fingerprint(a, fp, sizeof fp);
        if (journal_open(&jr, cfg->journal, fp, why, sizeof why) != 0) {
            char *p = escaped_text(cfg->journal);
            fprintf(stderr, "fetchall: --journal %s: %s\n", p ? p : "", why);
            free(p);
            journal_close(&jr);
            input_close(&in);
            return 2;
        }
        jb.journal = &jr;
        /* an earlier run of this command: DIR holds its results, also
           one renamed into place just before a kill could record it */
        resuming = jr.earlier;
        if (resuming && !cfg->out.quiet) {
            char of[64] = "";
            if (jb.total != (size_t)-1)
                snprintf(of, sizeof of, " of %zu", jb.total);
            fprintf(stderr,
                    "fetchall: resuming: %zu%s done (%zu of them failed%s)%s\n",
                    jr.recorded, of, jr.failed,
                    jr.failed && !cfg->retry_failed
                        ? "; --retry-failed runs them again"
                        : "",
                    jr.torn ? "; a torn last line was dropped" : "");
        }
    }
    static validators old;
    if (cfg->revalidate) {
        char why[512];
        struct stat o, n;
        if (validators_load(&old, cfg->revalidate, why, sizeof why) != 0 ||
            (cfg->journal && stat(cfg->revalidate, &o) == 0 &&
             stat(cfg->journal, &n) == 0 && o.st_dev == n.st_dev &&
             o.st_ino == n.st_ino &&
             snprintf(why, sizeof why,
                      "is the --journal of this run too: give the new run "
                      "a journal of its own") > 0)) {
            char *p = escaped_text(cfg->revalidate);
            fprintf(stderr, "fetchall: --revalidate %s: %s\n", p ? p : "", why);
            free(p);
            validators_free(&old);
            if (jb.journal)
                journal_close(jb.journal);
            input_close(&in);
            return 2;
        }
        jb.old = &old;
    }
    if (a->output_dir) {
        char why[512];
        /* resuming, DIR holds this run's own results; revalidating, the
           earlier run's, whose journal this is */
        if (outdir_open(&dir, a->output_dir,
                        a->clobber || resuming || same_dir(&old, a->output_dir),
                        why, sizeof why)) {
            char *d = escaped_text(a->output_dir);
            fprintf(stderr, "fetchall: -o %s: %s\n", d ? d : "", why);
            free(d);
            input_close(&in);
            if (jb.journal)
                journal_close(jb.journal);
            validators_free(&old);
            return 2;
        }
        cfg->out.dir = &dir;
    }
    if (cfg->warc) {
        char why[768];
        char *args = arguments(a);
        warc_config wc = {.path = cfg->warc,
                          .max_size = cfg->warc_max_size,
                          .clobber = a->clobber,
                          .arguments = args,
                          .robots = cfg->fo.robots};
        jb.warc = warc_open(&wc, why, sizeof why);
        free(args);
        if (!jb.warc) {
            char *p = escaped_text(why);
            fprintf(stderr, "fetchall: --warc %s\n", p ? p : "");
            free(p);
            if (cfg->out.dir)
                outdir_close(cfg->out.dir);
            input_close(&in);
            if (jb.journal)
                journal_close(jb.journal);
            validators_free(&old);
            return 2;
        }
    }
    cfg->out.err_is_out = same_file(STDOUT_FILENO, STDERR_FILENO);
    /* a descriptor a request for -o's file, one for a WARC spool */
    limit_concurrency(&cfg->fo, (a->output_dir != NULL) + (jb.warc != NULL));
    jb.threads = a->threads
                     ? a->threads
                     : default_threads(&cfg->fo, a->n_inputs ? 0 : n_urls);
    /* bodies go out in big writes, not 4 KiB ones */
    static char stdout_buf[1 << 16];
    setvbuf(stdout, stdout_buf, _IOFBF, sizeof stdout_buf);
    status = run(&jb);
    if (status == 2 && !in.failed && !sitemap_failed)
        status = usage_error(CMD_FETCH, "no URLs given", NULL, NULL);
    if (sitemap_failed) /* what it held was fetched; the input was bad */
        status = 2;
    if (sitemap_fd >= 0)
        close(sitemap_fd);
    if (jb.warc) {
        char *p = escaped_text(warc_path(jb.warc));
        int err = warc_close(jb.warc);
        if (err) {
            fprintf(stderr, "fetchall: --warc %s: %s\n", p ? p : "",
                    strerror(err));
            status = status ? status : 1;
        }
        free(p);
    }
    input_close(&in);
    if (cfg->out.dir)
        outdir_close(cfg->out.dir);
    if (jb.journal)
        journal_close(jb.journal);
    validators_free(&old);
    return status;
}
