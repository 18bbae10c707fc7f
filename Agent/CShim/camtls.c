// TLS 1.2 client sessions for the agent, on mbedTLS 2.28 (Debian's version;
// the cross builds compile the same release from Debian's source package).
#include "camshim.h"

#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/random.h>
#include <sys/socket.h>

#include <mbedtls/ctr_drbg.h>
#include <mbedtls/entropy.h>
#include <mbedtls/error.h>
#include <mbedtls/net_sockets.h>  // error codes only; the socket I/O is ours
#include <mbedtls/ssl.h>
#include <mbedtls/x509_crt.h>

// Two control links plus one data link per tunnel; the agent's tunnel limit is 64.
#define MAX_SESSIONS 72

struct session {
    mbedtls_ssl_context ssl;
    int fd;
    unsigned int verify_flags;
};

static struct {
    int configured;
    mbedtls_ssl_config conf;
    mbedtls_x509_crt ca;
    mbedtls_ctr_drbg_context drbg;
    mbedtls_entropy_context entropy;
    struct session *sessions[MAX_SESSIONS];
} tls;

static int tls_error(int mbedtls_code) { return -(CS_TLS_ERROR_BASE + (-mbedtls_code)); }

static int entropy_from_getrandom(void *data, unsigned char *output, size_t len, size_t *olen) {
    (void)data;
    if (cs_random(output, (long)len) != 0) return MBEDTLS_ERR_ENTROPY_SOURCE_FAILED;
    *olen = len;
    return 0;
}

static int bio_send(void *ctx, const unsigned char *buf, size_t len) {
    struct session *s = ctx;
    long n = cs_write(s->fd, buf, (long)len);
    if (n >= 0) return (int)n;
    if (n == CS_EAGAIN_RESULT) return MBEDTLS_ERR_SSL_WANT_WRITE;
    return MBEDTLS_ERR_NET_SEND_FAILED;
}

static int bio_recv(void *ctx, unsigned char *buf, size_t len) {
    struct session *s = ctx;
    long n = cs_read(s->fd, buf, (long)len);
    if (n > 0) return (int)n;
    if (n == 0) return MBEDTLS_ERR_NET_CONN_RESET;
    if (n == CS_EAGAIN_RESULT) return MBEDTLS_ERR_SSL_WANT_READ;
    return MBEDTLS_ERR_NET_RECV_FAILED;
}

// A CA bundle larger than this is not a camera's; refusing it bounds the read.
#define MAX_CA_BUNDLE (512 * 1024)

int cs_tls_configure(const unsigned char *ca_path, long ca_path_len) {
    if (tls.configured) return 0;
    // Read here rather than with mbedtls_x509_crt_parse_file: the trimmed
    // target config has no file-system layer.
    unsigned char *pem = malloc(MAX_CA_BUNDLE + 1);
    if (!pem) return -ENOMEM;
    long pem_len = cs_read_file(ca_path, ca_path_len, pem, MAX_CA_BUNDLE);
    if (pem_len < 0) {
        free(pem);
        return (int)pem_len;
    }
    pem[pem_len] = 0;

    mbedtls_ssl_config_init(&tls.conf);
    mbedtls_x509_crt_init(&tls.ca);
    mbedtls_ctr_drbg_init(&tls.drbg);
    mbedtls_entropy_init(&tls.entropy);
    int rc = mbedtls_entropy_add_source(&tls.entropy, entropy_from_getrandom, NULL, 32, MBEDTLS_ENTROPY_SOURCE_STRONG);
    if (rc == 0) {
        static const unsigned char personalization[] = "camagent tls";
        rc = mbedtls_ctr_drbg_seed(&tls.drbg, mbedtls_entropy_func, &tls.entropy, personalization,
                                   sizeof(personalization) - 1);
    }
    if (rc == 0) {
        // The whole file must parse: a half-loaded bundle would fail later, confusingly.
        rc = mbedtls_x509_crt_parse(&tls.ca, pem, (size_t)pem_len + 1);
        if (rc > 0) rc = MBEDTLS_ERR_X509_CERT_UNKNOWN_FORMAT;
    }
    free(pem);
    if (rc == 0) {
        rc = mbedtls_ssl_config_defaults(&tls.conf, MBEDTLS_SSL_IS_CLIENT, MBEDTLS_SSL_TRANSPORT_STREAM,
                                         MBEDTLS_SSL_PRESET_DEFAULT);
    }
    if (rc != 0) return tls_error(rc);
    mbedtls_ssl_conf_authmode(&tls.conf, MBEDTLS_SSL_VERIFY_REQUIRED);
    mbedtls_ssl_conf_ca_chain(&tls.conf, &tls.ca, NULL);
    mbedtls_ssl_conf_rng(&tls.conf, mbedtls_ctr_drbg_random, &tls.drbg);
    mbedtls_ssl_conf_min_version(&tls.conf, MBEDTLS_SSL_MAJOR_VERSION_3, MBEDTLS_SSL_MINOR_VERSION_3);
    tls.configured = 1;
    return 0;
}

static struct session *lookup(int handle) {
    if (handle < 0 || handle >= MAX_SESSIONS) return NULL;
    return tls.sessions[handle];
}

int cs_tls_open(int fd, const unsigned char *host, long host_len) {
    char name[256];
    if (!tls.configured) return -EINVAL;
    if (host_len <= 0 || host_len >= (long)sizeof(name)) return -EINVAL;
    memcpy(name, host, (size_t)host_len);
    name[host_len] = 0;
    int handle = 0;
    while (handle < MAX_SESSIONS && tls.sessions[handle]) handle++;
    if (handle == MAX_SESSIONS) return -EMFILE;
    struct session *s = calloc(1, sizeof(*s));
    if (!s) return -ENOMEM;
    s->fd = fd;
    mbedtls_ssl_init(&s->ssl);
    int rc = mbedtls_ssl_setup(&s->ssl, &tls.conf);
    if (rc == 0) rc = mbedtls_ssl_set_hostname(&s->ssl, name);
    if (rc != 0) {
        mbedtls_ssl_free(&s->ssl);
        free(s);
        return tls_error(rc);
    }
    mbedtls_ssl_set_bio(&s->ssl, s, bio_send, bio_recv, NULL);
    tls.sessions[handle] = s;
    return handle;
}

int cs_tls_handshake(int handle) {
    struct session *s = lookup(handle);
    if (!s) return -EBADF;
    int rc = mbedtls_ssl_handshake(&s->ssl);
    if (rc == 0) return 0;
    if (rc == MBEDTLS_ERR_SSL_WANT_READ) return CS_TLS_WANT_READ;
    if (rc == MBEDTLS_ERR_SSL_WANT_WRITE) return CS_TLS_WANT_WRITE;
    s->verify_flags = mbedtls_ssl_get_verify_result(&s->ssl);
    return tls_error(rc);
}

long cs_tls_read(int handle, unsigned char *buf, long len) {
    struct session *s = lookup(handle);
    if (!s) return -EBADF;
    int rc = mbedtls_ssl_read(&s->ssl, buf, (size_t)len);
    if (rc > 0) return rc;
    if (rc == 0 || rc == MBEDTLS_ERR_SSL_PEER_CLOSE_NOTIFY || rc == MBEDTLS_ERR_NET_CONN_RESET) return 0;
    if (rc == MBEDTLS_ERR_SSL_WANT_READ || rc == MBEDTLS_ERR_SSL_WANT_WRITE) return CS_EAGAIN_RESULT;
    return tls_error(rc);
}

long cs_tls_write(int handle, const unsigned char *buf, long len) {
    struct session *s = lookup(handle);
    if (!s) return -EBADF;
    int rc = mbedtls_ssl_write(&s->ssl, buf, (size_t)len);
    if (rc >= 0) return rc;
    if (rc == MBEDTLS_ERR_SSL_WANT_READ || rc == MBEDTLS_ERR_SSL_WANT_WRITE) return CS_EAGAIN_RESULT;
    return tls_error(rc);
}

int cs_tls_pending(int handle) {
    struct session *s = lookup(handle);
    if (!s) return 0;
    return mbedtls_ssl_get_bytes_avail(&s->ssl) > 0 || mbedtls_ssl_check_pending(&s->ssl);
}

void cs_tls_close(int handle) {
    struct session *s = lookup(handle);
    if (!s) return;
    mbedtls_ssl_close_notify(&s->ssl);  // best effort: non-blocking, may not go out
    mbedtls_ssl_free(&s->ssl);
    free(s);
    tls.sessions[handle] = NULL;
}

long cs_tls_error_text(int handle, int code, unsigned char *buf, long cap) {
    char text[512];
    int mbedtls_code = -(-code - CS_TLS_ERROR_BASE);
    struct session *s = lookup(handle);
    if (mbedtls_code == MBEDTLS_ERR_X509_CERT_VERIFY_FAILED && s && s->verify_flags) {
        int n = snprintf(text, sizeof(text), "server certificate rejected:");
        // mbedtls_x509_crt_verify_info writes one reason per line; join them.
        mbedtls_x509_crt_verify_info(text + n, sizeof(text) - (size_t)n, " ", s->verify_flags);
        for (char *p = text; *p; p++) if (*p == '\n') *p = ';';
    } else {
        mbedtls_strerror(mbedtls_code, text, sizeof(text));
    }
    long len = (long)strlen(text);
    while (len > 0 && (text[len - 1] == ';' || text[len - 1] == ' ')) len--;
    if (len > cap) len = cap;
    memcpy(buf, text, (size_t)len);
    return len;
}
