/*
 * camagent's mbedTLS 2.28 configuration (Debian bookworm's source package).
 *
 * Used instead of include/mbedtls/config.h through
 *   -DMBEDTLS_CONFIG_FILE='"camagent-mbedtls-config.h"'
 * by Toolchains/make-sysroot, for every cross target; anything that includes
 * an mbedTLS header must define the same macro (the SDK toolsets and
 * Scripts/cross-build do).
 *
 * What the agent needs and nothing else (DESIGN.md section 3, 4):
 *   - TLS 1.2, client only. No server, no DTLS, no renegotiation, no
 *     session tickets or cache, no TLS 1.3 (experimental in 2.28).
 *   - Key exchange ECDHE-ECDSA and ECDHE-RSA: X25519, P-256, P-384.
 *   - AEAD: AES-GCM (128 and 256) and ChaCha20-Poly1305. No CBC, no CCM.
 *   - X.509 verification against the CA flashed into the camera (PEM or DER),
 *     with host name check (SNI) and validity dates (HAVE_TIME_DATE).
 *     RSA (PKCS#1 v1.5) and ECDSA signatures; SHA-256 and SHA-384/512.
 *   - CTR-DRBG, seeded through the entropy pool from one strong source the
 *     C shim adds (getrandom(2), mbedtls_entropy_add_source). No platform
 *     entropy (MBEDTLS_NO_PLATFORM_ENTROPY): entropy_poll.c's /dev/urandom
 *     fallback would pull in stdio.
 *   - No file system (MBEDTLS_FS_IO): read the CA file yourself (cs_read_file)
 *     and hand the bytes to mbedtls_x509_crt_parse. No net_sockets (the agent
 *     owns its sockets and passes send/recv callbacks), no threading, no
 *     timing, no PSA, no debug, no self tests. No X.509 *_info text:
 *     MBEDTLS_X509_REMOVE_INFO is a 3.x option that 2.28 ignores, so
 *     mbedtls_x509_crt_verify_info still exists; the C shim must not call it
 *     (nor anything else that uses snprintf: musl's printf core is ~10 KB on
 *     armv5) and names the MBEDTLS_X509_BADCERT_* flags itself, so
 *     --gc-sections drops it. mbedtls_strerror exists but writes an empty
 *     string (MBEDTLS_ERROR_STRERROR_DUMMY): the shim has its own short table
 *     of the codes a TLS client meets (camtls.c).
 *
 * Size over speed where it is cheap (but see the per-target part below): AES with one table instead of four
 * (tables built in RAM at first use, nothing in flash), SHA-256/512 in their
 * small variants, ECP window 2 without the fixed-point comb cache. The NIST
 * curve fast reduction stays: an ARM926 at 300-500 MHz would otherwise spend
 * noticeably longer per handshake.
 */
#ifndef CAMAGENT_MBEDTLS_CONFIG_H
#define CAMAGENT_MBEDTLS_CONFIG_H

/* --- system support --- */
#define MBEDTLS_HAVE_ASM
#define MBEDTLS_HAVE_TIME
#define MBEDTLS_HAVE_TIME_DATE      /* certificate validity: musl's gmtime_r */
#define MBEDTLS_DEPRECATED_REMOVED
#define MBEDTLS_ERROR_STRERROR_DUMMY

/* --- symmetric crypto --- */
#define MBEDTLS_AES_C
#define MBEDTLS_AES_FEWER_TABLES
#define MBEDTLS_GCM_C
#define MBEDTLS_CHACHA20_C
#define MBEDTLS_POLY1305_C
#define MBEDTLS_CHACHAPOLY_C
#define MBEDTLS_CIPHER_C
#define MBEDTLS_CTR_DRBG_C
#define MBEDTLS_ENTROPY_C
#define MBEDTLS_NO_PLATFORM_ENTROPY

/* --- hashes --- */
#define MBEDTLS_MD_C
#define MBEDTLS_SHA256_C
#define MBEDTLS_SHA256_SMALLER
#define MBEDTLS_SHA512_C            /* SHA-384: *_GCM_SHA384 suites, P-384 CAs */
#define MBEDTLS_SHA512_SMALLER

/* --- public key --- */
#define MBEDTLS_BIGNUM_C
#define MBEDTLS_MPI_WINDOW_SIZE 2
#define MBEDTLS_MPI_MAX_SIZE 512    /* RSA up to 4096 bits */
#define MBEDTLS_RSA_C
#define MBEDTLS_PKCS1_V15
#define MBEDTLS_ECP_C
#define MBEDTLS_ECP_DP_SECP256R1_ENABLED
#define MBEDTLS_ECP_DP_SECP384R1_ENABLED
#define MBEDTLS_ECP_DP_CURVE25519_ENABLED
#define MBEDTLS_ECP_NIST_OPTIM
#define MBEDTLS_ECP_WINDOW_SIZE 2
#define MBEDTLS_ECP_FIXED_POINT_OPTIM 0
#define MBEDTLS_ECDH_C
#define MBEDTLS_ECDSA_C
#define MBEDTLS_PK_C
#define MBEDTLS_PK_PARSE_C
#define MBEDTLS_ASN1_PARSE_C
#define MBEDTLS_ASN1_WRITE_C        /* required by ECDSA_C */
#define MBEDTLS_OID_C

/* --- X.509 --- */
#define MBEDTLS_X509_USE_C
#define MBEDTLS_X509_CRT_PARSE_C
#define MBEDTLS_X509_REMOVE_INFO
#define MBEDTLS_PEM_PARSE_C
#define MBEDTLS_BASE64_C

/* --- TLS --- */
#define MBEDTLS_SSL_TLS_C
#define MBEDTLS_SSL_CLI_C
#define MBEDTLS_SSL_PROTO_TLS1_2
#define MBEDTLS_KEY_EXCHANGE_ECDHE_ECDSA_ENABLED
#define MBEDTLS_KEY_EXCHANGE_ECDHE_RSA_ENABLED
#define MBEDTLS_SSL_SERVER_NAME_INDICATION
#define MBEDTLS_SSL_EXTENDED_MASTER_SECRET
#define MBEDTLS_SSL_MAX_FRAGMENT_LENGTH
/*
 * Per target, from the compiler's own architecture macros, so that mbedTLS,
 * the C shim and the SDK bundles' builds cannot disagree:
 *   x86_64   AES-NI (AES rounds and, for GCM, PCLMULQDQ; chosen at run time
 *            by CPUID, software AES on a CPU without it) and 16 KiB records
 *            out: a tunnel's bytes go in one record per queue-full instead of
 *            four, with one send(2) each. 12 KiB more per TLS session.
 *   aarch64  16 KiB records out. mbedTLS 2.28 has no ARMv8 crypto-extension
 *            AES (MBEDTLS_AESCE_C came in 3.x), so AES stays software and the
 *            agent puts ChaCha20-Poly1305 first (camtls.c).
 *   32-bit ARM, MIPS: 4 KiB records out. RAM is the scarce thing there; the
 *            crypto dominates a record's cost, not its per-record overhead.
 * Records in are always up to 16 KiB: the server decides their size.
 */
#if defined(__x86_64__)
#define MBEDTLS_AESNI_C
/* Our AES-GCM (gcm_alt_x86.c, context in gcm_alt.h, compiled into x86_64's
 * libmbedcrypto.a by make-sysroot): 2.28's gcm.c goes one block at a time,
 * a cipher-layer call and a full GHASH reduction per 16 bytes, and held the
 * TLS tunnel to ~1.3 Gbit/s. This one runs eight AES-NI blocks in flight and
 * PCLMULQDQ GHASH with one reduction per four blocks; without AES-NI or
 * PCLMULQDQ (CPUID at setkey) it falls back to gcm.c's table GHASH. Same
 * API and results as 2.28's gcm.c, checked against its vectors, OpenSSL and
 * gcm.c itself on both paths (Toolchains/mbedtls/tests/run.sh). */
#define MBEDTLS_GCM_ALT
#endif
#if defined(__x86_64__) || defined(__aarch64__)
#define MBEDTLS_SSL_OUT_CONTENT_LEN 16384
#else
#define MBEDTLS_SSL_OUT_CONTENT_LEN 4096   /* the agent's frames are small; tunnels pay a record per 4 KiB */
#endif
/* The order the agent offers is set at run time (camtls.c: AES-GCM first only
 * with AES hardware); this list only says which suites are compiled in. */
#define MBEDTLS_SSL_CIPHERSUITES \
    MBEDTLS_TLS_ECDHE_ECDSA_WITH_CHACHA20_POLY1305_SHA256, \
    MBEDTLS_TLS_ECDHE_RSA_WITH_CHACHA20_POLY1305_SHA256, \
    MBEDTLS_TLS_ECDHE_ECDSA_WITH_AES_128_GCM_SHA256, \
    MBEDTLS_TLS_ECDHE_RSA_WITH_AES_128_GCM_SHA256, \
    MBEDTLS_TLS_ECDHE_ECDSA_WITH_AES_256_GCM_SHA384, \
    MBEDTLS_TLS_ECDHE_RSA_WITH_AES_256_GCM_SHA384

#include "mbedtls/check_config.h"

#endif /* CAMAGENT_MBEDTLS_CONFIG_H */
