/*
 * AES-GCM for mbedTLS 2.28 (MBEDTLS_GCM_ALT), x86_64: AES-NI counter mode with
 * eight blocks in flight and PCLMULQDQ GHASH over four blocks per reduction.
 *
 * Why: mbedTLS 2.28's gcm.c calls the cipher layer once per 16-byte block and
 * reduces after every GHASH multiplication, which held the agent's TLS tunnel
 * to 1.1-1.6 Gbit/s per core (77% of its CPU in `perf`); docs/TOOLCHAINS.md.
 *
 * Same API and results as 2.28's gcm.c, including its per-call rules (every
 * mbedtls_gcm_update but the last should be a multiple of 16 bytes: a short
 * call pads its last block into GHASH and uses up its counter, as gcm.c
 * does), its limits and error codes. CPUs without AES-NI, PCLMULQDQ, SSSE3
 * or SSE4.1 (checked once with CPUID) take a software path: gcm.c's own
 * 4-bit-table GHASH with mbedtls_aes_crypt_ecb.
 *
 * GHASH works on byte-reversed blocks, multiplied and reduced as in mbedTLS's
 * aesni.c ([CLMUL-WP] algorithms 1 and 5, with the one-bit shift of eq. 27).
 * Shift and reduction are linear, so four unreduced products X1*H^4 + X2*H^3
 * + X3*H^2 + X4*H are summed first and reduced once ([CLMUL-WP] section 4.2,
 * aggregated reduction).
 * [CLMUL-WP] https://www.intel.com/content/www/us/en/develop/download/intel-carry-less-multiplication-instruction-and-its-usage-for-computing-the-gcm-mode.html
 *
 * Checked against mbedTLS's GCM vectors, OpenSSL (python3-cryptography) and
 * 2.28's own gcm.c, on both paths: Toolchains/mbedtls/tests/run.sh.
 */
#if !defined(MBEDTLS_CONFIG_FILE)
#include "mbedtls/config.h"
#else
#include MBEDTLS_CONFIG_FILE
#endif

#if defined(MBEDTLS_GCM_C) && defined(MBEDTLS_GCM_ALT)

#include "mbedtls/gcm.h"
#include "mbedtls/aes.h"
#include "mbedtls/cipher.h"
#include "mbedtls/platform_util.h"

#include <string.h>
#include <cpuid.h>
#include <immintrin.h>

static uint32_t get_be32(const unsigned char *p)
{
    return (uint32_t) p[0] << 24 | (uint32_t) p[1] << 16 | (uint32_t) p[2] << 8 | p[3];
}

static void put_be32(uint32_t v, unsigned char *p)
{
    p[0] = (unsigned char) (v >> 24);
    p[1] = (unsigned char) (v >> 16);
    p[2] = (unsigned char) (v >> 8);
    p[3] = (unsigned char) v;
}

static int force_software = 0;

void camagent_gcm_force_software(int on)
{
    force_software = on;
}

static int cpu_has_gcm_instructions(void)
{
    static int known = 0, has = 0;
    if (!known) {
        const unsigned need = bit_AES | bit_PCLMUL | bit_SSSE3 | bit_SSE4_1;
        unsigned a, b, c, d;
        has = __get_cpuid(1, &a, &b, &c, &d) && (c & need) == need;
        known = 1;
    }
    return has;
}

/* ---- software path: mbedTLS 2.28 gcm.c's Shoup 4-bit tables ---- */

static void soft_gen_table(mbedtls_gcm_context *ctx, const unsigned char h[16])
{
    int i, j;
    uint64_t vh = (uint64_t) get_be32(h) << 32 | get_be32(h + 4);
    uint64_t vl = (uint64_t) get_be32(h + 8) << 32 | get_be32(h + 12);

    /* 8 = 1000 corresponds to 1 in GF(2^128) */
    ctx->HL[8] = vl;
    ctx->HH[8] = vh;
    ctx->HH[0] = 0;
    ctx->HL[0] = 0;

    for (i = 4; i > 0; i >>= 1) {
        uint32_t T = (vl & 1) * 0xe1000000U;
        vl = (vh << 63) | (vl >> 1);
        vh = (vh >> 1) ^ ((uint64_t) T << 32);
        ctx->HL[i] = vl;
        ctx->HH[i] = vh;
    }

    for (i = 2; i <= 8; i *= 2) {
        uint64_t *HiL = ctx->HL + i, *HiH = ctx->HH + i;
        vh = *HiH;
        vl = *HiL;
        for (j = 1; j < i; j++) {
            HiH[j] = vh ^ ctx->HH[j];
            HiL[j] = vl ^ ctx->HL[j];
        }
    }
}

static const uint64_t last4[16] = {
    0x0000, 0x1c20, 0x3840, 0x2460, 0x7080, 0x6ca0, 0x48c0, 0x54e0,
    0xe100, 0xfd20, 0xd940, 0xc560, 0x9180, 0x8da0, 0xa9c0, 0xb5e0
};

/* output = x times H (output may be x) */
static void soft_mult(const mbedtls_gcm_context *ctx, const unsigned char x[16],
                      unsigned char output[16])
{
    int i;
    unsigned char lo, hi, rem;
    uint64_t zh, zl;

    lo = x[15] & 0xf;
    zh = ctx->HH[lo];
    zl = ctx->HL[lo];

    for (i = 15; i >= 0; i--) {
        lo = x[i] & 0xf;
        hi = (x[i] >> 4) & 0xf;
        if (i != 15) {
            rem = (unsigned char) zl & 0xf;
            zl = (zh << 60) | (zl >> 4);
            zh = (zh >> 4);
            zh ^= (uint64_t) last4[rem] << 48;
            zh ^= ctx->HH[lo];
            zl ^= ctx->HL[lo];
        }
        rem = (unsigned char) zl & 0xf;
        zl = (zh << 60) | (zl >> 4);
        zh = (zh >> 4);
        zh ^= (uint64_t) last4[rem] << 48;
        zh ^= ctx->HH[hi];
        zl ^= ctx->HL[hi];
    }

    put_be32((uint32_t) (zh >> 32), output);
    put_be32((uint32_t) zh, output + 4);
    put_be32((uint32_t) (zl >> 32), output + 8);
    put_be32((uint32_t) zl, output + 12);
}

/* acc = GHASH of acc and data, the last block zero-padded */
static void soft_ghash(const mbedtls_gcm_context *ctx, unsigned char acc[16],
                       const unsigned char *data, size_t len)
{
    while (len > 0) {
        size_t use_len = len < 16 ? len : 16, i;
        for (i = 0; i < use_len; i++) {
            acc[i] ^= data[i];
        }
        soft_mult(ctx, acc, acc);
        len -= use_len;
        data += use_len;
    }
}

static int soft_update(mbedtls_gcm_context *ctx, size_t length,
                       const unsigned char *input, unsigned char *output)
{
    unsigned char ectr[16];
    int ret;

    while (length > 0) {
        size_t use_len = length < 16 ? length : 16, i;

        for (i = 16; i > 12; i--) {
            if (++ctx->y[i - 1] != 0) {
                break;
            }
        }
        if ((ret = mbedtls_aes_crypt_ecb(&ctx->aes, MBEDTLS_AES_ENCRYPT, ctx->y, ectr)) != 0) {
            return ret;
        }
        for (i = 0; i < use_len; i++) {
            if (ctx->mode == MBEDTLS_GCM_DECRYPT) {
                ctx->buf[i] ^= input[i];
            }
            output[i] = ectr[i] ^ input[i];
            if (ctx->mode == MBEDTLS_GCM_ENCRYPT) {
                ctx->buf[i] ^= output[i];
            }
        }
        soft_mult(ctx, ctx->buf, ctx->buf);

        length -= use_len;
        input += use_len;
        output += use_len;
    }
    mbedtls_platform_zeroize(ectr, sizeof(ectr));
    return 0;
}

/* ---- hardware path: AES-NI, PCLMULQDQ ---- */

#define HW __attribute__((target("aes,pclmul,ssse3,sse4.1")))
#define HW_INLINE static inline __attribute__((always_inline)) HW

HW_INLINE __m128i reverse_bytes(__m128i x)
{
    return _mm_shuffle_epi8(x, _mm_set_epi8(0, 1, 2, 3, 4, 5, 6, 7, 8, 9, 10, 11, 12, 13, 14, 15));
}

/* hi:mid:lo += a * b, carry-less, unreduced ([CLMUL-WP] algorithm 1) */
HW_INLINE void clmul_add(__m128i a, __m128i b, __m128i *lo, __m128i *mid, __m128i *hi)
{
    *lo = _mm_xor_si128(*lo, _mm_clmulepi64_si128(a, b, 0x00));
    *hi = _mm_xor_si128(*hi, _mm_clmulepi64_si128(a, b, 0x11));
    *mid = _mm_xor_si128(*mid, _mm_xor_si128(_mm_clmulepi64_si128(a, b, 0x10),
                                              _mm_clmulepi64_si128(a, b, 0x01)));
}

/* The 256-bit sum of products, shifted and reduced: aesni.c's gcm_shift,
 * gcm_reduce and gcm_mix, step for step. */
HW_INLINE __m128i gf_reduce(__m128i lo, __m128i mid, __m128i hi)
{
    __m128i cc = _mm_xor_si128(lo, _mm_slli_si128(mid, 8));
    __m128i dd = _mm_xor_si128(hi, _mm_srli_si128(mid, 8));

    /* dd:cc <<= 1 ([CLMUL-WP] eq. 27: the operands are bit-reflected) */
    __m128i cc_lo = _mm_slli_epi64(cc, 1);
    __m128i dd_lo = _mm_slli_epi64(dd, 1);
    __m128i cc_hi = _mm_srli_epi64(cc, 63);
    __m128i dd_hi = _mm_srli_epi64(dd, 63);
    __m128i carry = _mm_srli_si128(cc_hi, 8);
    cc_hi = _mm_slli_si128(cc_hi, 8);
    dd_hi = _mm_slli_si128(dd_hi, 8);
    cc = _mm_or_si128(cc_lo, cc_hi);
    dd = _mm_or_si128(_mm_or_si128(dd_lo, dd_hi), carry);

    /* [CLMUL-WP] algorithm 5 step 2 */
    __m128i a = _mm_slli_epi64(cc, 63);
    __m128i b = _mm_slli_epi64(cc, 62);
    __m128i c = _mm_slli_epi64(cc, 57);
    __m128i dx = _mm_xor_si128(_mm_slli_si128(_mm_xor_si128(_mm_xor_si128(a, b), c), 8), cc);

    /* steps 3 and 4 */
    __m128i e = _mm_srli_epi64(dx, 1);
    __m128i f = _mm_srli_epi64(dx, 2);
    __m128i g = _mm_srli_epi64(dx, 7);
    __m128i eh = _mm_slli_epi64(dx, 63);
    __m128i fh = _mm_slli_epi64(dx, 62);
    __m128i gh = _mm_slli_epi64(dx, 57);
    __m128i hh = _mm_srli_si128(_mm_xor_si128(_mm_xor_si128(eh, fh), gh), 8);
    __m128i xh = _mm_xor_si128(_mm_xor_si128(_mm_xor_si128(_mm_xor_si128(e, f), g), hh), dx);
    return _mm_xor_si128(xh, dd);
}

HW_INLINE __m128i gf_mul(__m128i a, __m128i b)
{
    __m128i lo = _mm_setzero_si128(), mid = lo, hi = lo;
    clmul_add(a, b, &lo, &mid, &hi);
    return gf_reduce(lo, mid, hi);
}

/* x = (x + c0)*H^4 + c1*H^3 + c2*H^2 + c3*H: four GHASH steps, one reduction.
 * c holds byte-reversed blocks, hp H^1..H^4. */
HW_INLINE __m128i ghash4(__m128i x, const __m128i c[4], const __m128i hp[4])
{
    __m128i lo = _mm_setzero_si128(), mid = lo, hi = lo;
    clmul_add(_mm_xor_si128(x, c[0]), hp[3], &lo, &mid, &hi);
    clmul_add(c[1], hp[2], &lo, &mid, &hi);
    clmul_add(c[2], hp[1], &lo, &mid, &hi);
    clmul_add(c[3], hp[0], &lo, &mid, &hi);
    return gf_reduce(lo, mid, hi);
}

HW static void hw_gen_powers(mbedtls_gcm_context *ctx, const unsigned char h[16])
{
    __m128i h1 = reverse_bytes(_mm_loadu_si128((const __m128i *) h));
    __m128i hn = h1;
    int i;
    for (i = 0; i < 4; i++) {
        _mm_storeu_si128((__m128i *) ctx->h_pow[i], hn);
        hn = gf_mul(hn, h1);
    }
}

HW static void hw_ghash(const mbedtls_gcm_context *ctx, unsigned char acc[16],
                        const unsigned char *data, size_t len)
{
    __m128i hp[4], c[4];
    __m128i x = reverse_bytes(_mm_loadu_si128((const __m128i *) acc));
    int i;
    for (i = 0; i < 4; i++) {
        hp[i] = _mm_loadu_si128((const __m128i *) ctx->h_pow[i]);
    }
    for (; len >= 64; len -= 64, data += 64) {
        for (i = 0; i < 4; i++) {
            c[i] = reverse_bytes(_mm_loadu_si128((const __m128i *) (data + 16 * i)));
        }
        x = ghash4(x, c, hp);
    }
    while (len > 0) {
        unsigned char block[16] = { 0 };
        size_t use_len = len < 16 ? len : 16;
        memcpy(block, data, use_len);
        x = gf_mul(_mm_xor_si128(x, reverse_bytes(_mm_loadu_si128((const __m128i *) block))), hp[0]);
        len -= use_len;
        data += use_len;
    }
    _mm_storeu_si128((__m128i *) acc, reverse_bytes(x));
}

/* n (1, 4 or 8) whole blocks: counter mode with every block's AES rounds
 * interleaved, then GHASH of the ciphertext. All input is loaded before any
 * output is stored, so in-place and backward-overlapping buffers work, as
 * they do with gcm.c. Returns the new GHASH accumulator. */
HW_INLINE __m128i hw_blocks(const __m128i *rk, int nr, __m128i counter_block, uint32_t *ctr,
                            const __m128i hp[4], __m128i x, int decrypt,
                            const unsigned char *in, unsigned char *out, const int n)
{
    __m128i t[8], b[8], c[8];
    int i, r;
    for (i = 0; i < n; i++) {
        t[i] = _mm_loadu_si128((const __m128i *) (in + 16 * i));
        /* inc32: only the last 32 bits count, big-endian, wrapping */
        b[i] = _mm_insert_epi32(counter_block, (int) __builtin_bswap32(*ctr + 1 + (uint32_t) i), 3);
        b[i] = _mm_xor_si128(b[i], rk[0]);
    }
    *ctr += (uint32_t) n;
    for (r = 1; r < nr; r++) {
        for (i = 0; i < n; i++) {
            b[i] = _mm_aesenc_si128(b[i], rk[r]);
        }
    }
    for (i = 0; i < n; i++) {
        b[i] = _mm_xor_si128(_mm_aesenclast_si128(b[i], rk[nr]), t[i]);
        _mm_storeu_si128((__m128i *) (out + 16 * i), b[i]);
        c[i] = reverse_bytes(decrypt ? t[i] : b[i]);
    }
    for (i = 0; i + 4 <= n; i += 4) {
        x = ghash4(x, c + i, hp);
    }
    for (; i < n; i++) {
        x = gf_mul(_mm_xor_si128(x, c[i]), hp[0]);
    }
    return x;
}

HW static void hw_update(mbedtls_gcm_context *ctx, size_t length,
                         const unsigned char *input, unsigned char *output)
{
    __m128i rk[15], hp[4];
    const int nr = ctx->aes.nr;
    const int decrypt = ctx->mode == MBEDTLS_GCM_DECRYPT;
    const __m128i counter_block = _mm_loadu_si128((const __m128i *) ctx->y);
    uint32_t ctr = get_be32(ctx->y + 12);
    __m128i x = reverse_bytes(_mm_loadu_si128((const __m128i *) ctx->buf));
    int i;

    for (i = 0; i <= nr; i++) {
        rk[i] = _mm_loadu_si128((const __m128i *) ((const unsigned char *) ctx->aes.rk + 16 * i));
    }
    for (i = 0; i < 4; i++) {
        hp[i] = _mm_loadu_si128((const __m128i *) ctx->h_pow[i]);
    }

    for (; length >= 128; length -= 128, input += 128, output += 128) {
        x = hw_blocks(rk, nr, counter_block, &ctr, hp, x, decrypt, input, output, 8);
    }
    if (length >= 64) {
        x = hw_blocks(rk, nr, counter_block, &ctr, hp, x, decrypt, input, output, 4);
        length -= 64, input += 64, output += 64;
    }
    for (; length >= 16; length -= 16, input += 16, output += 16) {
        x = hw_blocks(rk, nr, counter_block, &ctr, hp, x, decrypt, input, output, 1);
    }
    if (length > 0) {
        /* A short last block: zero-padded into GHASH, its counter used up. */
        unsigned char in_block[16] = { 0 }, out_block[16];
        memcpy(in_block, input, length);
        __m128i ks = _mm_insert_epi32(counter_block, (int) __builtin_bswap32(ctr + 1), 3);
        ctr += 1;
        ks = _mm_xor_si128(ks, rk[0]);
        for (i = 1; i < nr; i++) {
            ks = _mm_aesenc_si128(ks, rk[i]);
        }
        ks = _mm_aesenclast_si128(ks, rk[nr]);
        _mm_storeu_si128((__m128i *) out_block,
                         _mm_xor_si128(ks, _mm_loadu_si128((const __m128i *) in_block)));
        memcpy(output, out_block, length);
        if (!decrypt) {
            memset(out_block + length, 0, 16 - length);
        }
        __m128i c = reverse_bytes(_mm_loadu_si128((const __m128i *) (decrypt ? in_block : out_block)));
        x = gf_mul(_mm_xor_si128(x, c), hp[0]);
        mbedtls_platform_zeroize(out_block, sizeof(out_block));
        mbedtls_platform_zeroize(in_block, sizeof(in_block));
    }

    _mm_storeu_si128((__m128i *) ctx->buf, reverse_bytes(x));
    put_be32(ctr, ctx->y + 12);
}

/* ---- mbedTLS 2.28 API ---- */

static void ghash(const mbedtls_gcm_context *ctx, unsigned char acc[16],
                  const unsigned char *data, size_t len)
{
    if (ctx->hardware) {
        hw_ghash(ctx, acc, data, len);
    } else {
        soft_ghash(ctx, acc, data, len);
    }
}

void mbedtls_gcm_init(mbedtls_gcm_context *ctx)
{
    memset(ctx, 0, sizeof(*ctx));
    mbedtls_aes_init(&ctx->aes);
}

int mbedtls_gcm_setkey(mbedtls_gcm_context *ctx, mbedtls_cipher_id_t cipher,
                       const unsigned char *key, unsigned int keybits)
{
    unsigned char h[16] = { 0 };
    int ret;

    /* gcm.c answers MBEDTLS_ERR_GCM_BAD_INPUT when the cipher layer has no
     * such cipher; this build has AES only. */
    if (cipher != MBEDTLS_CIPHER_ID_AES || (keybits != 128 && keybits != 192 && keybits != 256)) {
        return MBEDTLS_ERR_GCM_BAD_INPUT;
    }
    mbedtls_aes_free(&ctx->aes);
    mbedtls_aes_init(&ctx->aes);
    if ((ret = mbedtls_aes_setkey_enc(&ctx->aes, key, keybits)) != 0) {
        return ret;
    }
    if ((ret = mbedtls_aes_crypt_ecb(&ctx->aes, MBEDTLS_AES_ENCRYPT, h, h)) != 0) {
        return ret;
    }
    ctx->hardware = !force_software && cpu_has_gcm_instructions();
    if (ctx->hardware) {
        hw_gen_powers(ctx, h);
    } else {
        soft_gen_table(ctx, h);
    }
    mbedtls_platform_zeroize(h, sizeof(h));
    return 0;
}

int mbedtls_gcm_starts(mbedtls_gcm_context *ctx, int mode,
                       const unsigned char *iv, size_t iv_len,
                       const unsigned char *add, size_t add_len)
{
    unsigned char len_block[16] = { 0 };

    /* IV and AD are limited to 2^64 bits, so 2^61 bytes; no empty IV */
    if (iv_len == 0 || ((uint64_t) iv_len) >> 61 != 0 || ((uint64_t) add_len) >> 61 != 0) {
        return MBEDTLS_ERR_GCM_BAD_INPUT;
    }

    memset(ctx->y, 0, sizeof(ctx->y));
    memset(ctx->buf, 0, sizeof(ctx->buf));
    ctx->mode = mode;
    ctx->len = 0;
    ctx->add_len = 0;
    /* No key yet: gcm.c's cipher layer answers this (and nothing crashes). */
    if (ctx->aes.nr == 0) {
        return MBEDTLS_ERR_CIPHER_BAD_INPUT_DATA;
    }

    if (iv_len == 12) {
        memcpy(ctx->y, iv, 12);
        ctx->y[15] = 1;
    } else {
        uint64_t iv_bits = (uint64_t) iv_len * 8;
        put_be32((uint32_t) (iv_bits >> 32), len_block + 8);
        put_be32((uint32_t) iv_bits, len_block + 12);
        ghash(ctx, ctx->y, iv, iv_len);
        ghash(ctx, ctx->y, len_block, 16);
    }

    int ret = mbedtls_aes_crypt_ecb(&ctx->aes, MBEDTLS_AES_ENCRYPT, ctx->y, ctx->base_ectr);
    if (ret != 0) {
        return ret;
    }

    ctx->add_len = add_len;
    ghash(ctx, ctx->buf, add, add_len);
    return 0;
}

int mbedtls_gcm_update(mbedtls_gcm_context *ctx, size_t length,
                       const unsigned char *input, unsigned char *output)
{
    if (output > input && (size_t) (output - input) < length) {
        return MBEDTLS_ERR_GCM_BAD_INPUT;
    }
    /* Total length is restricted to 2^39 - 256 bits, ie 2^36 - 2^5 bytes */
    if (ctx->len + length < ctx->len || (uint64_t) ctx->len + length > 0xFFFFFFFE0ull) {
        return MBEDTLS_ERR_GCM_BAD_INPUT;
    }
    ctx->len += length;
    if (length == 0) {
        return 0;
    }
    if (ctx->aes.nr == 0) {
        return MBEDTLS_ERR_CIPHER_BAD_INPUT_DATA;
    }
    if (ctx->hardware) {
        hw_update(ctx, length, input, output);
        return 0;
    }
    return soft_update(ctx, length, input, output);
}

int mbedtls_gcm_finish(mbedtls_gcm_context *ctx, unsigned char *tag, size_t tag_len)
{
    unsigned char len_block[16];
    uint64_t orig_len = ctx->len * 8;
    uint64_t orig_add_len = ctx->add_len * 8;
    size_t i;

    if (tag_len > 16 || tag_len < 4) {
        return MBEDTLS_ERR_GCM_BAD_INPUT;
    }

    memcpy(tag, ctx->base_ectr, tag_len);

    if (orig_len || orig_add_len) {
        put_be32((uint32_t) (orig_add_len >> 32), len_block);
        put_be32((uint32_t) orig_add_len, len_block + 4);
        put_be32((uint32_t) (orig_len >> 32), len_block + 8);
        put_be32((uint32_t) orig_len, len_block + 12);
        ghash(ctx, ctx->buf, len_block, 16);
        for (i = 0; i < tag_len; i++) {
            tag[i] ^= ctx->buf[i];
        }
    }
    return 0;
}

int mbedtls_gcm_crypt_and_tag(mbedtls_gcm_context *ctx, int mode, size_t length,
                              const unsigned char *iv, size_t iv_len,
                              const unsigned char *add, size_t add_len,
                              const unsigned char *input, unsigned char *output,
                              size_t tag_len, unsigned char *tag)
{
    int ret;
    if ((ret = mbedtls_gcm_starts(ctx, mode, iv, iv_len, add, add_len)) != 0) {
        return ret;
    }
    if ((ret = mbedtls_gcm_update(ctx, length, input, output)) != 0) {
        return ret;
    }
    return mbedtls_gcm_finish(ctx, tag, tag_len);
}

int mbedtls_gcm_auth_decrypt(mbedtls_gcm_context *ctx, size_t length,
                             const unsigned char *iv, size_t iv_len,
                             const unsigned char *add, size_t add_len,
                             const unsigned char *tag, size_t tag_len,
                             const unsigned char *input, unsigned char *output)
{
    unsigned char check_tag[16];
    size_t i;
    int ret, diff;

    if ((ret = mbedtls_gcm_crypt_and_tag(ctx, MBEDTLS_GCM_DECRYPT, length, iv, iv_len,
                                         add, add_len, input, output, tag_len, check_tag)) != 0) {
        return ret;
    }

    /* Every byte compared, whatever the first difference: no timing signal. */
    for (diff = 0, i = 0; i < tag_len; i++) {
        diff |= tag[i] ^ check_tag[i];
    }
    mbedtls_platform_zeroize(check_tag, sizeof(check_tag));

    if (diff != 0) {
        mbedtls_platform_zeroize(output, length);
        return MBEDTLS_ERR_GCM_AUTH_FAILED;
    }
    return 0;
}

void mbedtls_gcm_free(mbedtls_gcm_context *ctx)
{
    if (ctx == NULL) {
        return;
    }
    mbedtls_aes_free(&ctx->aes);
    mbedtls_platform_zeroize(ctx, sizeof(*ctx));
}

#endif /* MBEDTLS_GCM_C && MBEDTLS_GCM_ALT */
