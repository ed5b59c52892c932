/* SPDX-License-Identifier: MIT */
/* fetchall enqueue, worker, results: the Redis URL parsed, the input or
   -o DIR opened, then the command. */
#include <stdlib.h>
#include <unistd.h>

#include "../common/message.h"
#include "../common/sitemap.h"
#include "../common/util.h"
#include "cluster.h"

int cluster_main(cmdline *a)
{
    char **urls = a->urls;
    int n_urls = a->n_urls;
    static const char *const stdin_only[] = {"-"};
    config *cfg = &a->cfg;
    cluster given = {.redis_arg = a->cl.redis,
                     .queue = a->cl.queue ? a->cl.queue : "fetchall",
                     .name = a->cl.name,
                     .follow = a->cl.follow,
                     .claim_idle = a->cl.claim_idle,
                     .max_deliveries = a->cl.max_deliveries,
                     .chunk = a->cl.chunk,
                     .max_queued = a->cl.max_queued,
                     .max_results = a->cl.max_results,
                     .fsync = a->cl.fsync},
            *cl = &given;
    char why[256];
    int status;
    if (redis_parse(&cl->redis, cl->redis_arg, why, sizeof why) != 0) {
        char shown[600]; /* never the password */
        fetch_url_redact(shown, sizeof shown, cl->redis_arg);
        return usage_error(a->command, "invalid value '%s' for --redis: %s",
                           shown, why);
    }
    if (redis_password(&cl->redis, a->cl.password_file, why, sizeof why) != 0)
        return usage_error(a->command, "%s%s", why, "");
    if (a->command != CMD_ENQUEUE && n_urls)
        return usage_error(a->command, "fetchall %s takes no URLs ('%s')",
                           command_name(a->command), urls[0]);
    if (a->command == CMD_RESULTS)
        return results_run(cl, cfg);
    if (a->command == CMD_ENQUEUE) {
        input in;
        int sitemap_fd, sitemap_failed;
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
            if (sitemap_fd >= 0)
                close(sitemap_fd);
            return 2;
        }
        status = enqueue_run(cl, &in, cfg->out.quiet);
        input_close(&in);
        if (sitemap_fd >= 0)
            close(sitemap_fd);
        /* what the sitemaps held is queued; the input was bad */
        return sitemap_failed && status == 0 ? 2 : status;
    }
    outdir dir;
    if (a->output_dir) {
        /* results by input position: a chunk fetched again replaces its
           own files, and workers on one machine may share DIR */
        if (outdir_open(&dir, a->output_dir, 1, why, sizeof why)) {
            char *d = escaped_text(a->output_dir);
            fprintf(stderr, "fetchall: -o %s: %s\n", d ? d : "", why);
            free(d);
            return 2;
        }
        cfg->out.dir = &dir;
    }
    limit_concurrency(&cfg->fo, a->output_dir != NULL);
    status = worker_run(cl, cfg,
                        a->threads ? a->threads : default_threads(&cfg->fo, 0));
    if (cfg->out.dir)
        outdir_close(cfg->out.dir);
    return status;
}
