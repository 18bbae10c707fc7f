/*
 * mbedTLS 2.28's own library/gcm.c under other names (ref_gcm_*), compiled
 * with gcm-reference-config.h, so gcm-test.c can run it beside the
 * MBEDTLS_GCM_ALT implementation in one program. run.sh passes
 * -I <mbedTLS source>/library for gcm.c and its common.h.
 */
#define mbedtls_gcm_context ref_gcm_context
#define mbedtls_gcm_init ref_gcm_init
#define mbedtls_gcm_setkey ref_gcm_setkey
#define mbedtls_gcm_starts ref_gcm_starts
#define mbedtls_gcm_update ref_gcm_update
#define mbedtls_gcm_finish ref_gcm_finish
#define mbedtls_gcm_crypt_and_tag ref_gcm_crypt_and_tag
#define mbedtls_gcm_auth_decrypt ref_gcm_auth_decrypt
#define mbedtls_gcm_free ref_gcm_free
#define mbedtls_gcm_self_test ref_gcm_self_test

#include "gcm.c"

#include "gcm-reference.h"

int ref_gcm_run(int mode, const unsigned char *key, unsigned keybits,
                const unsigned char *iv, size_t iv_len, const unsigned char *aad, size_t aad_len,
                const unsigned char *input, unsigned char *output, const size_t *chunks, size_t nchunks,
                unsigned char *tag, size_t tag_len)
{
    ref_gcm_context ctx;
    size_t i, done = 0;
    int ret;
    ref_gcm_init(&ctx);
    ret = ref_gcm_setkey(&ctx, MBEDTLS_CIPHER_ID_AES, key, keybits);
    if (ret == 0) {
        ret = ref_gcm_starts(&ctx, mode, iv, iv_len, aad, aad_len);
    }
    for (i = 0; ret == 0 && i < nchunks; i++) {
        ret = ref_gcm_update(&ctx, chunks[i], input + done, output + done);
        done += chunks[i];
    }
    if (ret == 0) {
        ret = ref_gcm_finish(&ctx, tag, tag_len);
    }
    ref_gcm_free(&ctx);
    return ret;
}

int ref_gcm_unkeyed(int iv_len, size_t length)
{
    ref_gcm_context ctx;
    unsigned char iv[16] = { 0 }, buf[32] = { 0 };
    int ret;
    ref_gcm_init(&ctx);
    ret = ref_gcm_starts(&ctx, MBEDTLS_GCM_ENCRYPT, iv, (size_t) iv_len, NULL, 0);
    if (ret == 0) {
        ret = ref_gcm_update(&ctx, length, buf, buf);
    }
    ref_gcm_free(&ctx);
    return ret;
}
