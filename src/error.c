/* Result codes: their text, and how libcurl's codes map onto them. */
#include "fetch-internal.h"

static const struct {
    int code;
    const char *text;
} fetch_errors[] = {
    {FETCH_OK, "ok"},
    {FETCH_E_TIMEOUT, "timed out"},
    {FETCH_E_CANCELLED, "cancelled"},
    {FETCH_E_URL, "malformed URL"},
    {FETCH_E_PROTOCOL, "unsupported protocol"},
    {FETCH_E_RESOLVE, "could not resolve host"},
    {FETCH_E_CONNECT, "could not connect"},
    {FETCH_E_TLS, "TLS failure"},
    {FETCH_E_HTTP, "HTTP error status"},
    {FETCH_E_TOO_MANY_REDIRECTS, "too many redirects"},
    {FETCH_E_TRANSFER, "transfer failed"},
    {FETCH_E_TOO_LARGE, "response too large"},
    {FETCH_E_OTHER, "request failed"},
    {FETCH_E_WRITE, "could not write the body"},
    {FETCH_E_NOFD, "out of file descriptors"},
    {FETCH_E_INVAL, "invalid argument"},
    {FETCH_E_NOMEM, "out of memory"},
    {FETCH_E_BUSY, "blocking call from inside the event loop"},
    {FETCH_E_LOOP, "event loop failure"},
};

const char *fetch_strerror(int code)
{
    for (size_t i = 0; i < sizeof fetch_errors / sizeof fetch_errors[0]; i++)
        if (fetch_errors[i].code == code)
            return fetch_errors[i].text;
    return "unknown error";
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
