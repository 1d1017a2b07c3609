/* HyperLogLog in Redis's string representation, so HLL values are byte-for-
 * byte interchangeable with Redis (a value written by PFADD in Redis can be
 * SET into keyraft and counted, and the reverse) and counts are identical.
 *
 * Layout: a 16-byte header ("HYLL", encoding byte: 0 dense / 1 sparse,
 * three zero bytes, 8-byte little-endian cached cardinality whose top bit
 * marks it stale) followed by 16384 registers of 6 bits, either packed
 * (dense: 12288 bytes) or run-length encoded (sparse opcodes ZERO, XZERO,
 * VAL). Elements are hashed with MurmurHash64A (seed 0xadc83b19); counts use
 * Ertl's improved estimator ("New cardinality estimation algorithms for
 * HyperLogLog sketches", 2017), as Redis 7.0 does.
 *
 * Values are struct raw_string (storage/object.h) allocated with mem_*. */
#ifndef KR_STORAGE_HYPERLOGLOG_H
#define KR_STORAGE_HYPERLOGLOG_H

#include "storage/object.h"

#include <stddef.h>
#include <stdint.h>

#define HLL_REGISTERS  16384
#define HLL_HDR_SIZE   16
#define HLL_DENSE_SIZE (HLL_HDR_SIZE + (HLL_REGISTERS * 6 + 7) / 8)

/* Whether 'buf' holds a well-formed HLL header (what PFADD checks before
 * accepting a string as an HLL; register data is validated as it is read). */
bool hll_is_valid(const char *buf, size_t len);

/* A new empty HLL (sparse), or NULL on allocation failure. */
struct raw_string *hll_new(void);

/* Adds an element. '*hll' may be reallocated (sparse growth, or promotion to
 * dense past 'sparse_max_bytes' or for a register value above 32). Returns
 * 1 if a register changed, 0 if not, STORAGE_ENOMEM or STORAGE_ECORRUPT. */
int hll_add(struct raw_string **hll, const char *ele, size_t len, size_t sparse_max_bytes);

/* Raises register i of '*hll' to max(current, regs[i]) for every i, the way
 * PFMERGE writes its result: dense stays dense, sparse stays sparse unless
 * it must be promoted. Returns 0, STORAGE_ENOMEM or STORAGE_ECORRUPT. */
int hll_merge_into(struct raw_string **hll, const uint8_t regs[HLL_REGISTERS],
                   size_t sparse_max_bytes);

/* Converts '*hll' to the dense encoding (no-op if dense). */
int hll_to_dense(struct raw_string **hll);

/* Folds the registers of the HLL in 'buf' (hll_is_valid already checked)
 * into 'regs' (regs[i] = max). Returns 0 or STORAGE_ECORRUPT. */
int hll_max_registers(const char *buf, size_t len, uint8_t regs[HLL_REGISTERS]);

/* The cached cardinality of the HLL in 'buf', if it is not stale. */
bool hll_cached_count(const char *buf, size_t len, uint64_t *count);

/* The cardinality estimate of a register array. */
uint64_t hll_count_registers(const uint8_t regs[HLL_REGISTERS]);

/* Marks the cached cardinality stale (after any change). */
void hll_invalidate_cache(struct raw_string *hll);

/* Redis's MurmurHash64A, exported for tests. */
uint64_t hll_murmur64a(const void *key, size_t len, uint64_t seed);

#endif
