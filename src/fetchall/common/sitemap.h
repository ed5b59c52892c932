/* SPDX-License-Identifier: MIT */
/* --sitemap SOURCE: the URLs of sitemaps (sitemaps.org 0.9), as input. */
#ifndef FETCHALL_SITEMAP_H
#define FETCHALL_SITEMAP_H

#include <stddef.h>

#include "options.h"

/* --sitemap SOURCE ...: the URLs of each of a->sitemaps in turn (an
   http(s) URL, fetched with a->cfg.fo, or a file; XML or text, gzip'd or
   not; a sitemap index's sitemaps in its order; "robots": the Sitemap:
   lines of the robots.txt of each site of the URL arguments), one a line,
   into a temporary file of no name, added to a->inputs after the -i files
   under a name that opens it again (/dev/fd/N, written into path, len
   bytes, which must outlive the input). *fd is that file's descriptor, to
   close after the run, or -1. Returns 0 (also when there are no
   sitemaps); 1 when a sitemap could not be read or is not well-formed
   (said on stderr, naming it and the line): the URLs read before it are
   in the file; -1 when the file could not be made (said). Memory stays
   flat: sitemaps are parsed as a stream (SAX), fetched ones stored in a
   temporary file first. */
int sitemap_inputs(cmdline *a, int *fd, char *path, size_t len);

#endif
