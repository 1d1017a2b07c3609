/* Seeded keyed hash (SipHash-1-3) for hash tables. The seed is set once at
 * startup from a random source, so bucket order differs per process and hash
 * flooding cannot be precomputed. Nothing may depend on that order for
 * correctness across members (design: write path, point 6). */
#ifndef KR_STORAGE_HASH_H
#define KR_STORAGE_HASH_H

#include <stddef.h>
#include <stdint.h>

void hash_set_seed(const uint8_t seed[16]);
uint64_t hash_bytes(const void *data, size_t len);
/* The same hash over the ASCII-lowercased bytes (case-insensitive tables). */
uint64_t hash_bytes_nocase(const void *data, size_t len);

#endif
