/* One database: keys organised per hash slot, plus an index of keys that
 * carry an expiry.
 *
 * Each of the 16384 slots has its own table, allocated on first use, so a
 * slot's keys can be counted in O(1) and listed in O(keys in slot) (cluster
 * GETKEYSINSLOT, migration, FLUSHSLOTS), and no table is ever large enough
 * for a rebuild to stall the loop in normal use. A Fenwick tree over slot
 * sizes picks a uniformly random key in O(log slots).
 *
 * Records are owned by the keyspace once added; keyspace_remove hands
 * ownership back. No expiry semantics live here: whether an expired key is
 * visible is decided by the caller, which knows "now". */
#ifndef KR_STORAGE_KEYSPACE_H
#define KR_STORAGE_KEYSPACE_H

#include "storage/object.h"

#include <stddef.h>
#include <stdint.h>

struct keyspace;

/* Returns an owned keyspace (free with keyspace_free), or NULL. */
struct keyspace *keyspace_new(void);
void keyspace_free(struct keyspace *ks);
/* Frees every record. */
void keyspace_clear(struct keyspace *ks);

size_t keyspace_size(const struct keyspace *ks);
size_t keyspace_expires_size(const struct keyspace *ks);
/* Bytes of the tables themselves (not records). */
size_t keyspace_overhead_bytes(const struct keyspace *ks);

struct kv *keyspace_find(const struct keyspace *ks, const char *key, size_t len);
/* Takes ownership of 'kv' on success; its key must be absent. */
int keyspace_add(struct keyspace *ks, struct kv *kv);
/* Unlinks the record for 'key' and returns it (caller owns it), or NULL. */
struct kv *keyspace_remove(struct keyspace *ks, const char *key, size_t len);
/* Swaps 'old' (present) for 'repl' (same key); takes ownership of 'repl' and
 * returns ownership of 'old' to the caller. Keeps the expiry index in step. */
int keyspace_replace(struct keyspace *ks, struct kv *old, struct kv *repl);
/* keyspace_add or keyspace_replace, whichever the key needs, with its slot
 * computed once (the SET path). Takes ownership of 'kv' on success and sets
 * '*old' to the record it replaced (the caller owns it) or NULL. On failure
 * nothing changes and '*old' is NULL. */
int keyspace_set(struct keyspace *ks, struct kv *kv, struct kv **old);

size_t keyspace_slot_size(const struct keyspace *ks, unsigned slot);
/* Calls 'fn' on up to 'max' records of 'slot'; returns how many. 'fn' must
 * not modify the keyspace. */
size_t keyspace_slot_each(const struct keyspace *ks, unsigned slot, size_t max,
                          void (*fn)(struct kv *kv, void *arg), void *arg);

/* SCAN over all slots. The cursor's low 14 bits are the slot, the rest the
 * slot table's own cursor. Returns the next cursor, 0 when done. */
uint64_t keyspace_scan(const struct keyspace *ks, uint64_t cursor,
                       void (*fn)(struct kv *kv, void *arg), void *arg);
/* A uniformly chosen slot, then an element in it, from randomness 'rnd'. */
struct kv *keyspace_random(const struct keyspace *ks, uint64_t rnd);
/* A record from the expiry index, or NULL when no key has an expiry. */
struct kv *keyspace_random_expiring(const struct keyspace *ks, uint64_t rnd);

/* Warms the cache for a batch of lookups about to happen (the commands of
 * a Raft entry): each step of a lookup (the slot's table, the probe's first
 * slot, the record, a collection's value) is issued for every key before
 * the next step, so their cache misses overlap instead of following one
 * another. Changes nothing; an absent key costs a few loads. */
struct keyspace_prefetch {
    const struct keyspace *ks; /* NULL: nothing to do for this key */
    const char *key;           /* borrowed for the call */
    size_t len;
    /* private */
    unsigned slot;
    uint64_t hash;
    const struct kv *kv;
};
void keyspace_prefetch(struct keyspace_prefetch *keys, size_t n);

/* Iterates over every record. Removing the current record is allowed. */
struct keyspace_iter {
    struct keyspace *ks;
    unsigned slot;
    int started;
    _Alignas(void *) char it[32]; /* private: a struct dict_iter */
};
void keyspace_iter_init(struct keyspace_iter *it, struct keyspace *ks);
struct kv *keyspace_iter_next(struct keyspace_iter *it);
void keyspace_iter_close(struct keyspace_iter *it);

#endif
