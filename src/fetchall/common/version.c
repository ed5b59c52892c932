/* SPDX-License-Identifier: MIT */
#include "version.h"

#include <curl/curl.h>
#include <event2/event.h>
#include <jansson.h>
#include <libxml/xmlversion.h>
#include <openssl/crypto.h>
#include <zlib.h>
#ifdef WITH_REDIS
#include <hiredis/hiredis.h>
#endif

#include "libfetch.h"

/* libcurl's features that matter to fetchall, by the names curl uses. */
static void curl_features(FILE *f, const curl_version_info_data *v)
{
    static const struct {
        int bit;
        const char *name;
    } features[] = {
        {CURL_VERSION_ASYNCHDNS, "AsynchDNS"},
        {CURL_VERSION_HTTP2, "HTTP2"},
        {CURL_VERSION_HTTP3, "HTTP3"},
        {CURL_VERSION_IDN, "IDN"},
        {CURL_VERSION_IPV6, "IPv6"},
        {CURL_VERSION_LIBZ, "libz"},
        {CURL_VERSION_BROTLI, "brotli"},
        {CURL_VERSION_ZSTD, "zstd"},
        {CURL_VERSION_PSL, "PSL"},
        {CURL_VERSION_SSL, "SSL"},
        {CURL_VERSION_THREADSAFE, "threadsafe"},
    };
    fprintf(f, "  Features:");
    for (size_t i = 0; i < sizeof features / sizeof *features; i++)
        if (v->features & features[i].bit)
            fprintf(f, " %s", features[i].name);
    fprintf(f, "\n");
}

void version_print(FILE *f)
{
    const curl_version_info_data *v = curl_version_info(CURLVERSION_NOW);
    fprintf(f, "fetchall %s (libfetch %s)\n", LIBFETCH_VERSION_STRING,
            fetch_version());
    fprintf(f, "libcurl %s", v->version);
    if (v->ssl_version)
        fprintf(f, " %s", v->ssl_version);
    if (v->libz_version)
        fprintf(f, " zlib/%s", v->libz_version);
    if (v->brotli_version)
        fprintf(f, " brotli/%s", v->brotli_version);
    if (v->zstd_version)
        fprintf(f, " zstd/%s", v->zstd_version);
    if (v->libidn)
        fprintf(f, " libidn2/%s", v->libidn);
    if (v->nghttp2_version)
        fprintf(f, " nghttp2/%s", v->nghttp2_version);
    fprintf(f, "\n");
    curl_features(f, v);
    fprintf(f, "libevent %s\n", event_get_version());
#ifdef WITH_REDIS
    fprintf(f, "hiredis %d.%d.%d (fetchall enqueue, worker and results)\n",
            HIREDIS_MAJOR, HIREDIS_MINOR, HIREDIS_PATCH);
#else
    fprintf(f, "hiredis: not built in (./configure --without-redis): no "
               "enqueue, worker or results\n");
#endif
    fprintf(f, "libxml2 %s (sitemaps), jansson %s, zlib %s, %s\n",
            LIBXML_DOTTED_VERSION, JANSSON_VERSION, zlibVersion(),
            OpenSSL_version(OPENSSL_VERSION));
}
