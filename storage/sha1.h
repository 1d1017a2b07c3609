/* SHA-1 (FIPS 180-4), one-shot. EVALSHA names a script by the lowercase hex
 * SHA-1 of its body (redis.sha1hex exposes the same hash), and DEBUG DIGEST
 * builds Redis's dataset digest from raw SHA-1 digests. Not for security. */
#ifndef KR_STORAGE_SHA1_H
#define KR_STORAGE_SHA1_H

#include <stddef.h>
#include <stdint.h>

#define SHA1_DIGEST_LEN 20

/* Writes the 20-byte SHA-1 of 'data' ('len' bytes) into 'digest'. */
void sha1(const void *data, size_t len, uint8_t digest[SHA1_DIGEST_LEN]);
/* Writes the 40 lowercase hex digits of SHA-1('data', 'len') and a NUL
 * into 'hex' (41 bytes). */
void sha1_hex(const void *data, size_t len, char hex[2 * SHA1_DIGEST_LEN + 1]);

#endif
