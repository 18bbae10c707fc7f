/* gcm-reference.c: mbedTLS 2.28's gcm.c, one whole operation per call. */
#include <stddef.h>

/* starts, one update per chunk (chunks sum to the text's length), finish */
int ref_gcm_run(int mode, const unsigned char *key, unsigned keybits,
                const unsigned char *iv, size_t iv_len, const unsigned char *aad, size_t aad_len,
                const unsigned char *input, unsigned char *output, const size_t *chunks, size_t nchunks,
                unsigned char *tag, size_t tag_len);

/* starts (IV of iv_len zero bytes) and one update of length, without a key */
int ref_gcm_unkeyed(int iv_len, size_t length);
