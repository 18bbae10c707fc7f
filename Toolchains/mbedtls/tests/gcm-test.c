/*
 * Checks the x86_64 AES-GCM (Toolchains/mbedtls/gcm_alt_x86.c) against
 *   - mbedTLS's own GCM self-test vectors (mbedtls_gcm_self_test, NIST);
 *   - a case file from gcm-cases.py: OpenSSL's ciphertext and tag (python3-
 *     cryptography) for random keys, IVs, AAD and texts, checked one-shot,
 *     in chunks, in place, unaligned, decrypting, and with a tampered tag,
 *     ciphertext or AAD (which must be refused and the output wiped);
 *   - mbedTLS 2.28's own gcm.c (gcm-reference.c) on the same cases and on
 *     irregular chunkings OpenSSL cannot express (updates that are not
 *     multiples of 16), on IVs shorter than OpenSSL's 8 bytes, and on the
 *     API's error cases.
 *
 *   gcm-test [--software] --expect-hardware 0|1 CASES
 *
 * --software forces the software path (camagent_gcm_force_software);
 * --expect-hardware says which path this CPU must take, so a run can never
 * test the other path by mistake. Prints one line per failure (at most 20)
 * and exits 1 on any; 0 and a summary when everything matched.
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "mbedtls/gcm.h"
#include "gcm-reference.h"

int mbedtls_gcm_self_test(int verbose);

static int failures = 0;
static unsigned long checks = 0;

#define CHECK(cond, ...) do { \
        checks++; \
        if (!(cond)) { \
            if (++failures <= 20) { fprintf(stderr, "FAIL: " __VA_ARGS__); fputc('\n', stderr); } \
        } \
    } while (0)

static uint64_t rng_state = 0x9e3779b97f4a7c15ull;
static uint64_t rng(void)
{
    rng_state ^= rng_state << 13;
    rng_state ^= rng_state >> 7;
    rng_state ^= rng_state << 17;
    return rng_state;
}

static int hexval(int c)
{
    if (c >= '0' && c <= '9') return c - '0';
    if (c >= 'a' && c <= 'f') return c - 'a' + 10;
    return -1;
}

/* "-" is empty, "?" unknown (returns -2); else hex into a fresh buffer */
static long parse_hex(const char *s, unsigned char **out)
{
    size_t n = strlen(s), i;
    *out = malloc(n / 2 + 1);
    if (strcmp(s, "-") == 0) return 0;
    if (strcmp(s, "?") == 0) return -2;
    if (n % 2) return -1;
    for (i = 0; i < n / 2; i++) {
        int hi = hexval(s[2 * i]), lo = hexval(s[2 * i + 1]);
        if (hi < 0 || lo < 0) return -1;
        (*out)[i] = (unsigned char) (hi << 4 | lo);
    }
    return (long) (n / 2);
}

static int is_zero(const unsigned char *p, size_t n)
{
    unsigned char acc = 0;
    while (n--) acc |= *p++;
    return acc == 0;
}

/* starts, one update per chunk, finish, with our implementation */
static int ours_run(int mode, const unsigned char *key, unsigned keybits, const unsigned char *iv, size_t iv_len,
                    const unsigned char *aad, size_t aad_len, const unsigned char *in, unsigned char *out,
                    const size_t *chunks, size_t nchunks, unsigned char *tag, size_t tag_len, int expect_hw)
{
    mbedtls_gcm_context ctx;
    size_t i, done = 0;
    int ret;
    mbedtls_gcm_init(&ctx);
    ret = mbedtls_gcm_setkey(&ctx, MBEDTLS_CIPHER_ID_AES, key, keybits);
    CHECK(ret != 0 || ctx.hardware == expect_hw, "path: hardware=%d, expected %d", ctx.hardware, expect_hw);
    if (ret == 0) ret = mbedtls_gcm_starts(&ctx, mode, iv, iv_len, aad, aad_len);
    for (i = 0; ret == 0 && i < nchunks; i++) {
        ret = mbedtls_gcm_update(&ctx, chunks[i], in + done, out + done);
        done += chunks[i];
    }
    if (ret == 0) ret = mbedtls_gcm_finish(&ctx, tag, tag_len);
    mbedtls_gcm_free(&ctx);
    return ret;
}

/* Random chunk sizes, any length: 2.28's rule (multiples of 16 but the last)
 * is broken on purpose; ours must still do exactly what gcm.c does. */
static size_t irregular_chunks(size_t len, size_t *chunks, size_t max)
{
    size_t n = 0;
    while (len > 0 && n < max - 1) {
        size_t c = (size_t) (rng() % 300);
        if (c > len) c = len;
        chunks[n++] = c;
        len -= c;
    }
    if (len > 0 || n == 0) chunks[n++] = len;
    return n;
}

static void api_edges(int expect_hw)
{
    static const unsigned char key[32] = { 1, 2, 3 };
    unsigned char iv[12] = { 9 }, buf[96] = { 0 }, ref_buf[96], tag[16], ref_tag[16];
    mbedtls_gcm_context ctx;
    size_t one = 64;
    int i;

    mbedtls_gcm_init(&ctx);
    CHECK(mbedtls_gcm_setkey(&ctx, MBEDTLS_CIPHER_ID_AES, key, 100) == MBEDTLS_ERR_GCM_BAD_INPUT, "setkey 100 bits accepted");
    CHECK(mbedtls_gcm_setkey(&ctx, MBEDTLS_CIPHER_ID_NONE, key, 128) == MBEDTLS_ERR_GCM_BAD_INPUT, "setkey without AES accepted");
    CHECK(mbedtls_gcm_setkey(&ctx, MBEDTLS_CIPHER_ID_AES, key, 128) == 0, "setkey 128 failed");
    CHECK(ctx.hardware == expect_hw, "path after setkey: %d", ctx.hardware);
    CHECK(mbedtls_gcm_starts(&ctx, MBEDTLS_GCM_ENCRYPT, iv, 0, NULL, 0) == MBEDTLS_ERR_GCM_BAD_INPUT, "empty IV accepted");
    CHECK(mbedtls_gcm_starts(&ctx, MBEDTLS_GCM_ENCRYPT, iv, 12, NULL, 0) == 0, "starts failed");
    CHECK(mbedtls_gcm_update(&ctx, 32, buf, buf + 1) == MBEDTLS_ERR_GCM_BAD_INPUT, "forward-overlapping output accepted");
    CHECK(mbedtls_gcm_finish(&ctx, tag, 3) == MBEDTLS_ERR_GCM_BAD_INPUT, "3-byte tag accepted");
    CHECK(mbedtls_gcm_finish(&ctx, tag, 17) == MBEDTLS_ERR_GCM_BAD_INPUT, "17-byte tag accepted");
    mbedtls_gcm_free(&ctx);
    CHECK(is_zero((const unsigned char *) &ctx, sizeof(ctx)), "free left key material");
    mbedtls_gcm_free(NULL);

    /* Used before any key: an error, the same one gcm.c gives. */
    for (i = 0; i < 2; i++) {
        int iv_len = i ? 16 : 12, ours;
        mbedtls_gcm_init(&ctx);
        ours = mbedtls_gcm_starts(&ctx, MBEDTLS_GCM_ENCRYPT, iv, (size_t) iv_len, NULL, 0);
        if (ours == 0) ours = mbedtls_gcm_update(&ctx, 32, buf, buf);
        mbedtls_gcm_free(&ctx);
        CHECK(ours != 0 && ours == ref_gcm_unkeyed(iv_len, 32), "unkeyed use: %d, gcm.c %d", ours, ref_gcm_unkeyed(iv_len, 32));
    }

    /* Output 5 bytes before the input (backward overlap) is allowed and must
     * read every input byte before overwriting it, as gcm.c does. */
    for (i = 0; i < 96; i++) buf[i] = ref_buf[i] = (unsigned char) (i * 7 + 1);
    CHECK(ours_run(MBEDTLS_GCM_ENCRYPT, key, 256, iv, 12, NULL, 0, buf + 5, buf, &one, 1, tag, 16, expect_hw) == 0,
          "backward-overlap encrypt failed");
    CHECK(ref_gcm_run(MBEDTLS_GCM_ENCRYPT, key, 256, iv, 12, NULL, 0, ref_buf + 5, ref_buf, &one, 1, ref_tag, 16) == 0,
          "reference backward-overlap encrypt failed");
    CHECK(memcmp(buf, ref_buf, 96) == 0 && memcmp(tag, ref_tag, 16) == 0, "backward-overlap result differs from gcm.c");
}

static void check_case(unsigned long line_no, int expect_hw,
                       const unsigned char *key, long key_len, const unsigned char *iv, long iv_len,
                       const unsigned char *aad, long aad_len, const unsigned char *pt, long pt_len,
                       const unsigned char *exp_ct, long ct_len, const unsigned char *exp_tag, long tag_len,
                       const size_t *chunks, size_t nchunks)
{
    size_t len = (size_t) pt_len, k = (size_t) key_len * 8;
    size_t off = line_no % 16 + 1, irregular[64], nirregular;
    unsigned char *ct = malloc(len + 1), *back = malloc(len + 1), *work = malloc(len + 32);
    unsigned char *ref_ct = malloc(len + 1), *ref_back = malloc(len + 1), *tampered = malloc(len + 1);
    unsigned char tag[16], tag2[16], ref_tag[16], bad_tag[16];
    unsigned char *aad_bad = malloc((size_t) aad_len + 1);
    size_t whole = len, tl = (size_t) tag_len;
    int known = exp_ct != NULL, ret;
    mbedtls_gcm_context ctx;

#define CASE_CHECK(cond, what) CHECK(cond, "case at line %lu (key %zu bits, iv %ld, aad %ld, text %zu, tag %zu): %s", \
                                     line_no, k, iv_len, aad_len, len, tl, what)

    /* one shot */
    mbedtls_gcm_init(&ctx);
    ret = mbedtls_gcm_setkey(&ctx, MBEDTLS_CIPHER_ID_AES, key, (unsigned) k);
    CASE_CHECK(ret == 0 && ctx.hardware == expect_hw, "setkey / path");
    ret = mbedtls_gcm_crypt_and_tag(&ctx, MBEDTLS_GCM_ENCRYPT, len, iv, (size_t) iv_len, aad, (size_t) aad_len,
                                    pt, ct, tl, tag);
    CASE_CHECK(ret == 0, "crypt_and_tag failed");

    /* mbedTLS 2.28's gcm.c, the same chunks */
    ret = ref_gcm_run(MBEDTLS_GCM_ENCRYPT, key, (unsigned) k, iv, (size_t) iv_len, aad, (size_t) aad_len,
                      pt, ref_ct, &whole, 1, ref_tag, tl);
    CASE_CHECK(ret == 0, "reference encrypt failed");
    CASE_CHECK(memcmp(ct, ref_ct, len) == 0 && memcmp(tag, ref_tag, tl) == 0, "one-shot differs from gcm.c");
    if (known) {
        CASE_CHECK(ct_len == pt_len && memcmp(ct, exp_ct, len) == 0, "ciphertext differs from OpenSSL");
        CASE_CHECK(memcmp(tag, exp_tag, tl) == 0, "tag differs from OpenSSL");
    } else {
        exp_ct = ref_ct, exp_tag = ref_tag;
    }

    /* chunked, unaligned, in place */
    memcpy(work + off, pt, len);
    ret = ours_run(MBEDTLS_GCM_ENCRYPT, key, (unsigned) k, iv, (size_t) iv_len, aad, (size_t) aad_len,
                   work + off, work + off, chunks, nchunks, tag2, tl, expect_hw);
    CASE_CHECK(ret == 0 && memcmp(work + off, exp_ct, len) == 0 && memcmp(tag2, exp_tag, tl) == 0,
               "chunked in-place encrypt differs");

    /* chunked decrypt, unaligned, separate buffers */
    memcpy(work + off, exp_ct, len);
    ret = ours_run(MBEDTLS_GCM_DECRYPT, key, (unsigned) k, iv, (size_t) iv_len, aad, (size_t) aad_len,
                   work + off, back, chunks, nchunks, tag2, tl, expect_hw);
    CASE_CHECK(ret == 0 && memcmp(back, pt, len) == 0 && memcmp(tag2, exp_tag, tl) == 0, "chunked decrypt differs");

    /* auth_decrypt, right tag */
    memset(back, 0xa5, len);
    ret = mbedtls_gcm_auth_decrypt(&ctx, len, iv, (size_t) iv_len, aad, (size_t) aad_len, exp_tag, tl, exp_ct, back);
    CASE_CHECK(ret == 0 && memcmp(back, pt, len) == 0, "auth_decrypt refused a good message");

    /* tampered tag, ciphertext, AAD: refused, output wiped */
    memcpy(bad_tag, exp_tag, tl);
    bad_tag[rng() % tl] ^= (unsigned char) (1u << (rng() % 8));
    memset(back, 0xa5, len);
    ret = mbedtls_gcm_auth_decrypt(&ctx, len, iv, (size_t) iv_len, aad, (size_t) aad_len, bad_tag, tl, exp_ct, back);
    CASE_CHECK(ret == MBEDTLS_ERR_GCM_AUTH_FAILED && is_zero(back, len), "tampered tag accepted or output kept");
    if (len > 0) {
        memcpy(tampered, exp_ct, len);
        tampered[rng() % len] ^= (unsigned char) (1u << (rng() % 8));
        memset(back, 0xa5, len);
        ret = mbedtls_gcm_auth_decrypt(&ctx, len, iv, (size_t) iv_len, aad, (size_t) aad_len, exp_tag, tl, tampered, back);
        CASE_CHECK(ret == MBEDTLS_ERR_GCM_AUTH_FAILED && is_zero(back, len), "tampered ciphertext accepted");
    }
    if (aad_len > 0) {
        memcpy(aad_bad, aad, (size_t) aad_len);
        aad_bad[rng() % (size_t) aad_len] ^= (unsigned char) (1u << (rng() % 8));
        ret = mbedtls_gcm_auth_decrypt(&ctx, len, iv, (size_t) iv_len, aad_bad, (size_t) aad_len, exp_tag, tl, exp_ct, back);
        CASE_CHECK(ret == MBEDTLS_ERR_GCM_AUTH_FAILED, "tampered AAD accepted");
    }
    mbedtls_gcm_free(&ctx);

    /* irregular chunks: byte for byte what gcm.c does, both directions */
    nirregular = irregular_chunks(len, irregular, 64);
    ret = ours_run(MBEDTLS_GCM_ENCRYPT, key, (unsigned) k, iv, (size_t) iv_len, aad, (size_t) aad_len,
                   pt, ct, irregular, nirregular, tag, tl, expect_hw);
    CASE_CHECK(ret == 0, "irregular encrypt failed");
    ret = ref_gcm_run(MBEDTLS_GCM_ENCRYPT, key, (unsigned) k, iv, (size_t) iv_len, aad, (size_t) aad_len,
                      pt, ref_ct, irregular, nirregular, ref_tag, tl);
    CASE_CHECK(ret == 0 && memcmp(ct, ref_ct, len) == 0 && memcmp(tag, ref_tag, tl) == 0,
               "irregular-chunk encrypt differs from gcm.c");
    ret = ours_run(MBEDTLS_GCM_DECRYPT, key, (unsigned) k, iv, (size_t) iv_len, aad, (size_t) aad_len,
                   ct, back, irregular, nirregular, tag, tl, expect_hw);
    ret |= ref_gcm_run(MBEDTLS_GCM_DECRYPT, key, (unsigned) k, iv, (size_t) iv_len, aad, (size_t) aad_len,
                       ref_ct, ref_back, irregular, nirregular, ref_tag, tl);
    CASE_CHECK(ret == 0 && memcmp(back, ref_back, len) == 0 && memcmp(tag, ref_tag, tl) == 0,
               "irregular-chunk decrypt differs from gcm.c");

    free(ct), free(back), free(work), free(ref_ct), free(ref_back), free(tampered), free(aad_bad);
}

int main(int argc, char **argv)
{
    int software = 0, expect_hw = -1, i;
    const char *path = NULL;
    unsigned long line_no = 0, cases = 0, openssl_cases = 0;
    char *line = NULL;
    size_t cap = 0;
    FILE *f;

    for (i = 1; i < argc; i++) {
        if (strcmp(argv[i], "--software") == 0) software = 1;
        else if (strcmp(argv[i], "--expect-hardware") == 0 && i + 1 < argc) expect_hw = atoi(argv[++i]);
        else path = argv[i];
    }
    if (path == NULL || (expect_hw != 0 && expect_hw != 1)) {
        fprintf(stderr, "usage: gcm-test [--software] --expect-hardware 0|1 CASES\n");
        return 2;
    }
    if (software) camagent_gcm_force_software(1);

    CHECK(mbedtls_gcm_self_test(0) == 0, "mbedtls_gcm_self_test (NIST vectors)");
    api_edges(expect_hw);

    if ((f = fopen(path, "r")) == NULL) {
        perror(path);
        return 2;
    }
    /* key iv aad plaintext ciphertext tag chunks: hex, "-" empty, "?" not known */
    while (getline(&line, &cap, f) > 0) {
        char *field[7], *save = NULL, *p = line;
        unsigned char *key, *iv, *aad, *pt, *ct, *tag;
        long key_len, iv_len, aad_len, pt_len, ct_len, tag_len;
        size_t chunks[1024], nchunks = 0, sum = 0;
        int n = 0;

        line_no++;
        if (line[0] == '#' || line[0] == '\n') continue;
        while (n < 7 && (field[n] = strtok_r(p, " \n", &save)) != NULL) n++, p = NULL;
        if (n != 7) {
            CHECK(0, "line %lu: %d fields", line_no, n);
            continue;
        }
        key_len = parse_hex(field[0], &key);
        iv_len = parse_hex(field[1], &iv);
        aad_len = parse_hex(field[2], &aad);
        pt_len = parse_hex(field[3], &pt);
        ct_len = parse_hex(field[4], &ct);
        tag_len = parse_hex(field[5], &tag);
        for (p = strtok_r(field[6], ",", &save); p != NULL && nchunks < 1024; p = strtok_r(NULL, ",", &save)) {
            chunks[nchunks] = strtoul(p, NULL, 10);
            sum += chunks[nchunks++];
        }
        if (key_len < 0 || iv_len < 1 || aad_len < 0 || pt_len < 0 || (ct_len < 0 && ct_len != -2) ||
            tag_len < 4 || tag_len > 16 || sum != (size_t) pt_len) {
            CHECK(0, "line %lu: malformed case", line_no);
        } else {
            check_case(line_no, expect_hw, key, key_len, iv, iv_len, aad, aad_len, pt, pt_len,
                       ct_len == -2 ? NULL : ct, ct_len, tag, tag_len, chunks, nchunks);
            cases++;
            openssl_cases += ct_len != -2;
        }
        free(key), free(iv), free(aad), free(pt), free(ct), free(tag);
    }
    fclose(f);
    free(line);

    if (cases == 0) CHECK(0, "no cases in %s", path);
    if (failures) {
        fprintf(stderr, "gcm-test: %s path: %d of %lu checks FAILED\n", expect_hw ? "hardware" : "software", failures, checks);
        return 1;
    }
    printf("gcm-test: %s path%s: self-test vectors, API edges and %lu cases (%lu against OpenSSL, all against gcm.c): %lu checks passed\n",
           expect_hw ? "hardware (AES-NI, PCLMULQDQ)" : "software", software ? " (forced)" : "", cases, openssl_cases, checks);
    return 0;
}
