/* Dataset digests: Redis 7.0's DEBUG DIGEST and DEBUG DIGEST-VALUE.
 *
 * A digest is 20 bytes built from SHA-1s so that it depends only on the
 * logical contents of the data, never on insertion order, encoding or table
 * layout: unordered collections (keys, set members, hash fields, sorted-set
 * members) are combined with XOR, ordered ones (list elements, stream
 * entries) by feeding the running digest back into SHA-1. Two members of a
 * shard that applied the same log prefix have the same digest.
 *
 * The algorithm is Redis 7.0's (debug.c: xorDigest, mixDigest,
 * xorObjectDigest, computeDatasetDigest), so a keyraft node and a
 * redis-server 7.0 holding the same data print the same 40 hex digits.
 * Logically expired keys that are still stored count, as in Redis: only
 * the fact that a key has an expiry enters the digest, not its time. */
#ifndef KR_STORAGE_DIGEST_H
#define KR_STORAGE_DIGEST_H

#include "storage/keyspace.h"
#include "storage/sha1.h"

#include <stdint.h>

#define DIGEST_LEN     SHA1_DIGEST_LEN
#define DIGEST_HEX_LEN (2 * DIGEST_LEN)

/* Redis 7.0 xorObjectDigest: mixes the type and value of record 'kv' into
 * 'digest' (which the caller zeroes first for a value of its own), then XORs
 * in the expiry marker if the record has an expiry. The key is not part of
 * it (DEBUG DIGEST-VALUE). 'kv' is only read. */
void digest_value(const struct kv *kv, uint8_t digest[DIGEST_LEN]);

/* Redis 7.0 computeDatasetDigest, one database at a time: for a non-empty
 * 'ks', mixes database number 'dbid' into 'dataset' and XORs in the digest
 * of every key with its value. Start from 20 zero bytes and call it for
 * databases 0, 1, 2 ... in order; an empty dataset stays all zeroes. */
void digest_keyspace(uint8_t dataset[DIGEST_LEN], unsigned dbid, struct keyspace *ks);

/* Writes 'digest' as 40 lowercase hex digits and a NUL into 'hex'. */
void digest_hex(const uint8_t digest[DIGEST_LEN], char hex[DIGEST_HEX_LEN + 1]);

#endif
