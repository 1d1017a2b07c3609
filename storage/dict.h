/* Hash table of element pointers, keyed by bytes each element carries.
 *
 * Open addressing with linear probing. Each slot holds the element pointer
 * with 16 bits of its hash in the unused top bits, so most probes that miss
 * never touch the element. Elements are owned by the caller: the table only
 * stores pointers, which keeps one allocation per key in the keyspace.
 *
 * Removal leaves a tombstone, so elements never move except when the table
 * is rebuilt; that makes dict_scan's guarantee hold (an element present for
 * a whole scan is returned at least once). Rebuilds happen on insert (grow)
 * and on removal (shrink) unless resizing is paused by an iterator.
 *
 * Not thread-safe; nothing here allocates except the slot array. */
#ifndef KR_STORAGE_DICT_H
#define KR_STORAGE_DICT_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

struct dict_type {
    /* The key bytes of an element (borrowed from it). */
    const char *(*key_of)(const void *elem, size_t *len);
    bool nocase; /* compare and hash ASCII case-insensitively */
};

struct dict {
    /* private */
    const struct dict_type *type;
    uintptr_t *slots;
    size_t cap; /* 0 or a power of two */
    size_t used;
    size_t tombs;
    int pause_resize;
};

void dict_init(struct dict *d, const struct dict_type *type);
/* Frees the slot array; calls 'free_elem' (may be NULL) on each element. */
void dict_close(struct dict *d, void (*free_elem)(void *elem));

static inline size_t dict_size(const struct dict *d) {
    return d->used;
}
/* Bytes used by the slot array (for MEMORY USAGE / used_memory reports). */
size_t dict_mem_bytes(const struct dict *d);

void *dict_find(const struct dict *d, const char *key, size_t len);
/* Inserts 'elem', whose key must not be present. Returns 0 or STORAGE_ENOMEM. */
int dict_add(struct dict *d, void *elem);
/* Removes the element with 'key'; returns it (caller frees) or NULL. */
void *dict_remove(struct dict *d, const char *key, size_t len);
/* Replaces 'old' by 'repl' (same key) in place. Returns false if 'old' is absent. */
bool dict_replace(struct dict *d, const void *old, void *repl);

/* ---- Prefetching: warm the cache for lookups about to happen ----
 * A lookup is a chain of dependent loads (slot array, element); callers
 * with many lookups ahead issue each step for all keys before the next
 * step, so the cache misses overlap. None of these change the table. */

/* The hash dict_find uses for 'key' (to compute it once per lookup). */
uint64_t dict_hash(const struct dict *d, const char *key, size_t len);
/* Starts loading the slot where the probe for 'hash' begins. */
void dict_prefetch_home(const struct dict *d, uint64_t hash);
/* The element the probe for 'hash' most likely ends at (the first one in
 * its run whose stored hash bits match), without reading any element; NULL
 * if the run has none. A guess only: use dict_find for the answer. */
void *dict_probable(const struct dict *d, uint64_t hash);

/* Reverse-binary cursor scan, as SCAN: calls 'fn' on the elements of one
 * bucket group and returns the next cursor (0 when done). 'fn' must not
 * modify the table. */
uint64_t dict_scan(const struct dict *d, uint64_t cursor, void (*fn)(void *elem, void *arg),
                   void *arg);
/* An element chosen with the caller's randomness 'rnd', or NULL when empty. */
void *dict_random(const struct dict *d, uint64_t rnd);

/* Iteration in table order. Removing the current element (dict_remove) is
 * allowed; adding is not. dict_iter_close must be called to resume resizing. */
struct dict_iter {
    struct dict *d;
    size_t index;
};
void dict_iter_init(struct dict_iter *it, struct dict *d);
void *dict_iter_next(struct dict_iter *it);
void dict_iter_close(struct dict_iter *it);

#endif
