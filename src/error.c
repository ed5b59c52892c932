/* SPDX-License-Identifier: MIT */
/* Result codes: their names and texts, from the one list in libfetch.h, and
   how libcurl's codes map onto them. */
#include "fetch-internal.h"

static const struct {
    int code;
    const char *name, *text;
} fetch_errors[] = {
#define FETCH_ERROR_ROW_(sym, value, name, text) {sym, name, text},
    FETCH_ERRORS(FETCH_ERROR_ROW_)
#undef FETCH_ERROR_ROW_
};

#define N_ERRORS (sizeof fetch_errors / sizeof fetch_errors[0])

const char *fetch_strerror(int code)
{
    for (size_t i = 0; i < N_ERRORS; i++)
        if (fetch_errors[i].code == code)
            return fetch_errors[i].text;
    return "unknown error";
}

const char *fetch_err_name(int code)
{
    for (size_t i = 0; i < N_ERRORS; i++)
        if (fetch_errors[i].code == code)
            return fetch_errors[i].name;
    return "unknown";
}

const char *fetch_version(void)
{
    return LIBFETCH_VERSION_STRING;
}

int fetch__from_curl(CURLcode cc)
{
    switch (cc) {
    case CURLE_OK:
        return FETCH_OK;
    case CURLE_OPERATION_TIMEDOUT:
        return FETCH_E_TIMEOUT;
    case CURLE_URL_MALFORMAT:
        return FETCH_E_URL;
    case CURLE_UNSUPPORTED_PROTOCOL:
        return FETCH_E_PROTOCOL;
    case CURLE_COULDNT_RESOLVE_HOST:
    case CURLE_COULDNT_RESOLVE_PROXY:
        return FETCH_E_RESOLVE;
    case CURLE_COULDNT_CONNECT:
        return FETCH_E_CONNECT;
    case CURLE_SSL_CONNECT_ERROR:
    case CURLE_PEER_FAILED_VERIFICATION:
    case CURLE_SSL_CERTPROBLEM:
    case CURLE_SSL_CIPHER:
    case CURLE_SSL_CACERT_BADFILE:
    case CURLE_SSL_ENGINE_NOTFOUND:
    case CURLE_SSL_ENGINE_SETFAILED:
    case CURLE_SSL_ENGINE_INITFAILED:
    case CURLE_SSL_SHUTDOWN_FAILED:
    case CURLE_SSL_CRL_BADFILE:
    case CURLE_SSL_ISSUER_ERROR:
    case CURLE_SSL_PINNEDPUBKEYNOTMATCH:
    case CURLE_SSL_INVALIDCERTSTATUS:
    case CURLE_SSL_CLIENTCERT:
    case CURLE_USE_SSL_FAILED:
        return FETCH_E_TLS;
    case CURLE_HTTP_RETURNED_ERROR:
        return FETCH_E_HTTP;
    case CURLE_TOO_MANY_REDIRECTS:
        return FETCH_E_TOO_MANY_REDIRECTS;
    case CURLE_FILESIZE_EXCEEDED:
        return FETCH_E_TOO_LARGE;
    case CURLE_PARTIAL_FILE:
    case CURLE_RECV_ERROR:
    case CURLE_SEND_ERROR:
    case CURLE_GOT_NOTHING:
    case CURLE_WEIRD_SERVER_REPLY:
    case CURLE_HTTP2:
    case CURLE_HTTP2_STREAM:
    case CURLE_HTTP3:
    case CURLE_BAD_CONTENT_ENCODING:
    case CURLE_READ_ERROR:
        return FETCH_E_TRANSFER;
    default:
        return FETCH_E_OTHER;
    }
}
