// TLS 1.2 client sessions for the agent, on mbedTLS 2.28 (Debian's version;
// the cross builds compile the same release from Debian's source package).
#include "camshim.h"

#include <errno.h>
#include <stdlib.h>
#include <string.h>
#include <sys/random.h>
#include <sys/socket.h>

#include <mbedtls/aesni.h>  // MBEDTLS_HAVE_X86_64 and the CPUID check, when MBEDTLS_AESNI_C is on
#include <mbedtls/ctr_drbg.h>
#include <mbedtls/entropy.h>
#include <mbedtls/net_sockets.h>  // error codes only; the socket I/O is ours
#include <mbedtls/ssl.h>
#include <mbedtls/x509_crt.h>

// Two control links plus one data link per tunnel; the agent's tunnel limit is 64.
#define MAX_SESSIONS 72

struct session {
    mbedtls_ssl_context ssl;
    int fd;
    unsigned int verify_flags;
    // Length of the caller's bytes already sealed into a record the socket has
    // not taken whole (0: none). mbedtls_ssl_write then returns min(len, max
    // record) once the record is out, not what it sealed: a caller whose
    // buffer grew in between (a queue refilled) would count unsent bytes as sent.
    size_t sealed_unsent;
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

// The agent's suites, in its order of preference; the server is expected to
// honour the client's order (BoringSSL and OpenSSL do unless told otherwise;
// Tests/EndToEndTests/TLSTests.swift checks the servers). AES-GCM first only
// where AES and GHASH run in hardware: in software, ChaCha20-Poly1305 is
// faster and has no cache-timing side channel. Within a cipher, ECDSA before
// RSA is only the order; the server's certificate decides which it can take.
static const int suites_aes_first[] = {
    MBEDTLS_TLS_ECDHE_ECDSA_WITH_AES_128_GCM_SHA256,       MBEDTLS_TLS_ECDHE_RSA_WITH_AES_128_GCM_SHA256,
    MBEDTLS_TLS_ECDHE_ECDSA_WITH_CHACHA20_POLY1305_SHA256, MBEDTLS_TLS_ECDHE_RSA_WITH_CHACHA20_POLY1305_SHA256,
    MBEDTLS_TLS_ECDHE_ECDSA_WITH_AES_256_GCM_SHA384,       MBEDTLS_TLS_ECDHE_RSA_WITH_AES_256_GCM_SHA384,
    0,
};
static const int suites_chacha_first[] = {
    MBEDTLS_TLS_ECDHE_ECDSA_WITH_CHACHA20_POLY1305_SHA256, MBEDTLS_TLS_ECDHE_RSA_WITH_CHACHA20_POLY1305_SHA256,
    MBEDTLS_TLS_ECDHE_ECDSA_WITH_AES_128_GCM_SHA256,       MBEDTLS_TLS_ECDHE_RSA_WITH_AES_128_GCM_SHA256,
    MBEDTLS_TLS_ECDHE_ECDSA_WITH_AES_256_GCM_SHA384,       MBEDTLS_TLS_ECDHE_RSA_WITH_AES_256_GCM_SHA384,
    0,
};

// mbedTLS 2.28 accelerates AES only with AES-NI (x86_64); it has no ARMv8
// crypto-extension code (that came in 3.x), so ARM is software either way.
static int aes_in_hardware(void) {
#if defined(MBEDTLS_AESNI_C) && defined(MBEDTLS_HAVE_X86_64)
    return mbedtls_aesni_has_support(MBEDTLS_AESNI_AES) && mbedtls_aesni_has_support(MBEDTLS_AESNI_CLMUL);
#else
    return 0;
#endif
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
    // Exactly these, in this order, also where the library has more (the host's Debian build).
    mbedtls_ssl_conf_ciphersuites(&tls.conf, aes_in_hardware() ? suites_aes_first : suites_chacha_first);
    tls.configured = 1;
    return 0;
}

struct text_buffer {
    char *at, *end;
};

static void append(struct text_buffer *b, const char *text) {
    while (*text && b->at < b->end) *b->at++ = *text++;
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
    if (len < 0) return -EINVAL;
    size_t chunk = (size_t)len;
    if (s->sealed_unsent) {
        // The caller's contract: the same bytes first, maybe more behind them.
        if (chunk < s->sealed_unsent) return -EINVAL;
        chunk = s->sealed_unsent;
    } else {
        int max = mbedtls_ssl_get_max_out_record_payload(&s->ssl);
        if (max > 0 && chunk > (size_t)max) chunk = (size_t)max;
    }
    int rc = mbedtls_ssl_write(&s->ssl, buf, chunk);
    if (rc >= 0) {
        s->sealed_unsent = 0;
        return rc;
    }
    if (rc == MBEDTLS_ERR_SSL_WANT_READ || rc == MBEDTLS_ERR_SSL_WANT_WRITE) {
        if (s->ssl.out_left != 0) s->sealed_unsent = chunk;
        return CS_EAGAIN_RESULT;
    }
    return tls_error(rc);
}

int cs_tls_pending(int handle) {
    struct session *s = lookup(handle);
    if (!s) return 0;
    return mbedtls_ssl_get_bytes_avail(&s->ssl) > 0 || mbedtls_ssl_check_pending(&s->ssl);
}

long cs_tls_session_info(int handle, unsigned char *buf, long cap) {
    struct session *s = lookup(handle);
    if (!s || cap <= 0) return 0;
    // Both names come from mbedTLS's own tables ("TLSv1.2", "TLS-ECDHE-...").
    struct text_buffer b = {(char *)buf, (char *)buf + cap};
    append(&b, mbedtls_ssl_get_version(&s->ssl));
    append(&b, ", ");
    append(&b, mbedtls_ssl_get_ciphersuite(&s->ssl));
    return (long)(b.at - (char *)buf);
}

void cs_tls_close(int handle) {
    struct session *s = lookup(handle);
    if (!s) return;
    mbedtls_ssl_close_notify(&s->ssl);  // best effort: non-blocking, may not go out
    mbedtls_ssl_free(&s->ssl);
    free(s);
    tls.sessions[handle] = NULL;
}

// Error texts of our own instead of mbedtls_x509_crt_verify_info and
// mbedtls_strerror: both go through snprintf, whose printf core (with the
// soft-float double formatting) costs ~10 KB on armv5, and the cross builds
// leave mbedtls_strerror empty (MBEDTLS_ERROR_STRERROR_DUMMY) to drop the
// error table. Only codes the agent can meet as a TLS client; anything else
// is named by its hex code. The same texts on the host (Debian's mbedTLS).
struct code_text {
    int code;
    const char *text;
};

static const struct code_text verify_flag_texts[] = {
    {MBEDTLS_X509_BADCERT_EXPIRED, "the certificate validity has expired"},
    {MBEDTLS_X509_BADCERT_FUTURE, "the certificate validity starts in the future"},
    {MBEDTLS_X509_BADCERT_CN_MISMATCH, "the certificate Common Name (CN) does not match the expected CN"},
    {MBEDTLS_X509_BADCERT_NOT_TRUSTED, "the certificate is not correctly signed by the trusted CA"},
    {MBEDTLS_X509_BADCERT_MISSING, "certificate missing"},
    {MBEDTLS_X509_BADCERT_KEY_USAGE, "usage does not match the keyUsage extension"},
    {MBEDTLS_X509_BADCERT_EXT_KEY_USAGE, "usage does not match the extendedKeyUsage extension"},
    {MBEDTLS_X509_BADCERT_NS_CERT_TYPE, "usage does not match the nsCertType extension"},
    {MBEDTLS_X509_BADCERT_BAD_MD, "signed with an unacceptable hash"},
    {MBEDTLS_X509_BADCERT_BAD_PK, "signed with an unacceptable public key algorithm"},
    {MBEDTLS_X509_BADCERT_BAD_KEY, "signed with an unacceptable key (curve, RSA size)"},
    {MBEDTLS_X509_BADCERT_OTHER, "other reason"},
};

// mbedTLS codes are a high-level part (SSL, X.509, PK: multiples of 0x80)
// plus an optional low-level part (bignum, ECP, RSA, net: below 0x80, or an
// ECP/RSA code reported on its own).
static const struct code_text error_texts[] = {
    {MBEDTLS_ERR_SSL_FATAL_ALERT_MESSAGE, "the server sent a fatal alert"},
    {MBEDTLS_ERR_SSL_CONN_EOF, "connection closed during the handshake"},
    {MBEDTLS_ERR_SSL_INVALID_RECORD, "invalid TLS record"},
    {MBEDTLS_ERR_SSL_INVALID_MAC, "record authentication (MAC) failed"},
    {MBEDTLS_ERR_SSL_UNEXPECTED_MESSAGE, "unexpected handshake message"},
    {MBEDTLS_ERR_SSL_UNEXPECTED_RECORD, "unexpected record"},
    {MBEDTLS_ERR_SSL_NO_USABLE_CIPHERSUITE, "no cipher suite in common with the server"},
    {MBEDTLS_ERR_SSL_BAD_HS_PROTOCOL_VERSION, "the server does not speak TLS 1.2"},
    {MBEDTLS_ERR_SSL_BAD_HS_SERVER_HELLO, "bad ServerHello"},
    {MBEDTLS_ERR_SSL_BAD_HS_CERTIFICATE, "bad server Certificate message"},
    {MBEDTLS_ERR_SSL_BAD_HS_CERTIFICATE_REQUEST, "bad CertificateRequest"},
    {MBEDTLS_ERR_SSL_BAD_HS_SERVER_KEY_EXCHANGE, "bad ServerKeyExchange"},
    {MBEDTLS_ERR_SSL_BAD_HS_SERVER_HELLO_DONE, "bad ServerHelloDone"},
    {MBEDTLS_ERR_SSL_BAD_HS_CHANGE_CIPHER_SPEC, "bad ChangeCipherSpec"},
    {MBEDTLS_ERR_SSL_BAD_HS_FINISHED, "bad Finished message"},
    {MBEDTLS_ERR_SSL_PK_TYPE_MISMATCH, "server key type does not match the cipher suite"},
    {MBEDTLS_ERR_SSL_PEER_VERIFY_FAILED, "server verification failed"},
    {MBEDTLS_ERR_SSL_ALLOC_FAILED, "out of memory"},
    {MBEDTLS_ERR_SSL_BAD_INPUT_DATA, "bad input to TLS"},
    {MBEDTLS_ERR_SSL_FEATURE_UNAVAILABLE, "feature not available"},
    {MBEDTLS_ERR_SSL_INTERNAL_ERROR, "internal error"},
    {MBEDTLS_ERR_SSL_BUFFER_TOO_SMALL, "buffer too small"},
    {MBEDTLS_ERR_SSL_TIMEOUT, "timeout"},
    {MBEDTLS_ERR_SSL_PEER_CLOSE_NOTIFY, "the server closed the TLS session"},
    {MBEDTLS_ERR_X509_CERT_VERIFY_FAILED, "server certificate rejected"},
    {MBEDTLS_ERR_X509_INVALID_FORMAT, "malformed certificate"},
    {MBEDTLS_ERR_X509_INVALID_DATE, "certificate with invalid dates"},
    {MBEDTLS_ERR_X509_INVALID_SIGNATURE, "certificate with an invalid signature"},
    {MBEDTLS_ERR_X509_INVALID_EXTENSIONS, "certificate with invalid extensions"},
    {MBEDTLS_ERR_X509_UNKNOWN_SIG_ALG, "certificate signed with an unknown algorithm"},
    {MBEDTLS_ERR_X509_SIG_MISMATCH, "certificate signature algorithms do not match"},
    {MBEDTLS_ERR_X509_CERT_UNKNOWN_FORMAT, "not a certificate (neither PEM nor DER)"},
    {MBEDTLS_ERR_X509_ALLOC_FAILED, "out of memory"},
    {MBEDTLS_ERR_PK_UNKNOWN_PK_ALG, "unknown public key algorithm"},
    {MBEDTLS_ERR_PK_UNKNOWN_NAMED_CURVE, "unsupported elliptic curve"},
    {MBEDTLS_ERR_PK_INVALID_PUBKEY, "invalid public key"},
    {MBEDTLS_ERR_PK_SIG_LEN_MISMATCH, "signature length mismatch"},
    {MBEDTLS_ERR_ECP_VERIFY_FAILED, "ECDSA signature verification failed"},
    {MBEDTLS_ERR_ECP_FEATURE_UNAVAILABLE, "unsupported elliptic curve"},
    {MBEDTLS_ERR_ECP_INVALID_KEY, "invalid elliptic curve key"},
    {MBEDTLS_ERR_ECP_BAD_INPUT_DATA, "bad elliptic curve input"},
    {MBEDTLS_ERR_ECP_ALLOC_FAILED, "out of memory"},
    {MBEDTLS_ERR_RSA_VERIFY_FAILED, "RSA signature verification failed"},
    {MBEDTLS_ERR_RSA_INVALID_PADDING, "bad RSA padding"},
    {MBEDTLS_ERR_RSA_BAD_INPUT_DATA, "bad RSA input"},
    {MBEDTLS_ERR_RSA_PUBLIC_FAILED, "RSA public key operation failed"},
    {MBEDTLS_ERR_NET_RECV_FAILED, "receive failed"},
    {MBEDTLS_ERR_NET_SEND_FAILED, "send failed"},
    {MBEDTLS_ERR_NET_CONN_RESET, "connection reset"},
    {MBEDTLS_ERR_MPI_ALLOC_FAILED, "out of memory"},
    {MBEDTLS_ERR_MPI_BAD_INPUT_DATA, "bad big number input"},
    {MBEDTLS_ERR_ENTROPY_SOURCE_FAILED, "no entropy"},
};

static const char *text_for_code(int code) {
    for (size_t i = 0; i < sizeof(error_texts) / sizeof(error_texts[0]); i++)
        if (error_texts[i].code == code) return error_texts[i].text;
    return NULL;
}

// "-0x7780", as mbedTLS's own messages and documentation spell codes.
static void append_code(struct text_buffer *b, int code) {
    static const char digits[] = "0123456789ABCDEF";
    char hex[8] = {'-', '0', 'x'};
    unsigned value = (unsigned)-code;
    for (int i = 0; i < 4; i++) hex[3 + i] = digits[(value >> (12 - 4 * i)) & 0xF];
    hex[7] = 0;
    append(b, hex);
}

long cs_tls_error_text(int handle, int code, unsigned char *buf, long cap) {
    char text[512];
    struct text_buffer b = {text, text + sizeof(text)};
    int mbedtls_code = -(-code - CS_TLS_ERROR_BASE);
    struct session *s = lookup(handle);
    if (mbedtls_code == MBEDTLS_ERR_X509_CERT_VERIFY_FAILED && s && s->verify_flags) {
        append(&b, "server certificate rejected:");
        const char *separator = " ";
        for (size_t i = 0; i < sizeof(verify_flag_texts) / sizeof(verify_flag_texts[0]); i++) {
            if (!(s->verify_flags & (unsigned)verify_flag_texts[i].code)) continue;
            append(&b, separator);
            append(&b, verify_flag_texts[i].text);
            separator = "; ";
        }
    } else {
        int high = -(-mbedtls_code & 0xFF80), low = -(-mbedtls_code & 0x7F);
        const char *whole = text_for_code(mbedtls_code);
        const char *high_text = high ? text_for_code(high) : NULL, *low_text = low ? text_for_code(low) : NULL;
        if (whole) {
            append(&b, whole);
        } else if (high_text || low_text) {
            append(&b, high_text ? high_text : "TLS error");
            if (low_text) {
                append(&b, ": ");
                append(&b, low_text);
            }
        } else {
            append(&b, "TLS error");
        }
        append(&b, " (");
        append_code(&b, mbedtls_code);
        append(&b, ")");
    }
    long len = (long)(b.at - text);
    if (len > cap) len = cap;
    memcpy(buf, text, (size_t)len);
    return len;
}
