/*
 * The agent's mbedTLS configuration without MBEDTLS_GCM_ALT: gcm-reference.c
 * compiles mbedTLS 2.28's own gcm.c with it, as the reference that
 * gcm_alt_x86.c must match byte for byte (gcm-test.c).
 */
#include "camagent-mbedtls-config.h"
#undef MBEDTLS_GCM_ALT
