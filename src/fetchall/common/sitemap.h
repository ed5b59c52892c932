/* SPDX-License-Identifier: MIT */
/* --sitemap SOURCE: the URLs of sitemaps (sitemaps.org 0.9), as input. */
#ifndef FETCHALL_SITEMAP_H
#define FETCHALL_SITEMAP_H

#include <stddef.h>

#include "libfetch.h"

/* The URLs of each source in turn (an http(s) URL, fetched with fo, or a
   file; XML, or XML compressed with gzip; a sitemap index's sitemaps in
   its order; "robots": the Sitemap: lines of the robots.txt of each site
   of seeds, an array of n_seeds URLs), one a line, into a temporary file of no
   name, open as *fd; path (len bytes) gets a name that opens it again
   (/dev/fd/N). Returns 0; or -1 when a source could not be read or is not
   well-formed XML (said on stderr, naming it and the line): the URLs read
   before stay in the file. Memory stays flat: sitemaps are streamed from files
   (xmlTextReader), fetched ones stored in a temporary file first. */
int sitemap_collect(const char *const *sources, int n, char *const *seeds,
                    int n_seeds, const fetch_options *fo, int quiet, int *fd,
                    char *path, size_t len);

#endif
