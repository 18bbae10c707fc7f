/*
 * camagent's AES-GCM context for MBEDTLS_GCM_ALT (x86_64 only; see
 * camagent-mbedtls-config.h and gcm_alt_x86.c).
 *
 * mbedtls/gcm.h includes this file in place of its own context when
 * MBEDTLS_GCM_ALT is defined; the functions keep mbedTLS 2.28's gcm.h
 * declarations and semantics. make-sysroot installs it next to the config.
 */
#ifndef CAMAGENT_GCM_ALT_H
#define CAMAGENT_GCM_ALT_H

#include <stdint.h>
#include "mbedtls/aes.h"

#ifdef __cplusplus
extern "C" {
#endif

typedef struct mbedtls_gcm_context {
    /* Encryption key schedule: with AES-NI present, mbedtls_aes_setkey_enc
     * writes the round keys in the order AESENC takes them. */
    mbedtls_aes_context aes;
    /* H^1..H^4, byte-reversed, for PCLMULQDQ (hardware path only). */
    unsigned char h_pow[4][16];
    /* Shoup's 4-bit table of multiples of H, as mbedTLS's gcm.c (software path). */
    uint64_t HL[16];
    uint64_t HH[16];
    uint64_t len;                 /* bytes of text so far */
    uint64_t add_len;             /* bytes of additional data */
    unsigned char base_ectr[16];  /* E(K, J0), masks the tag */
    unsigned char y[16];          /* last counter block used */
    unsigned char buf[16];        /* GHASH accumulator */
    int mode;                     /* MBEDTLS_GCM_ENCRYPT or MBEDTLS_GCM_DECRYPT */
    int hardware;                 /* AES-NI + PCLMULQDQ path, chosen at setkey */
} mbedtls_gcm_context;

/* Tests only: nonzero makes later mbedtls_gcm_setkey calls take the software
 * path even on a CPU with AES-NI and PCLMULQDQ. */
void camagent_gcm_force_software(int on);

#ifdef __cplusplus
}
#endif

#endif /* CAMAGENT_GCM_ALT_H */
