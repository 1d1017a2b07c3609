/* SHA-256 (FIPS 180-4), for ACL password hashes. Incremental: init,
 * update any number of times, final. */
#ifndef KR_STORAGE_SHA256_H
#define KR_STORAGE_SHA256_H

#include <stddef.h>
#include <stdint.h>

#define SHA256_DIGEST_LEN 32

struct sha256 {
    /* private */
    uint32_t state[8];
    uint64_t total_bytes;
    uint8_t block[64];
    size_t block_len;
};

void sha256_init(struct sha256 *s);
void sha256_update(struct sha256 *s, const void *data, size_t len);
/* Writes the digest; 's' must be initialised again before reuse. */
void sha256_final(struct sha256 *s, uint8_t digest[SHA256_DIGEST_LEN]);
/* The lowercase hex digest of 'data' into 'hex' (64 chars plus NUL). */
void sha256_hex(const void *data, size_t len, char hex[2 * SHA256_DIGEST_LEN + 1]);

#endif
