/* intset: a sorted array of distinct 64-bit integers in one allocation, the
 * compact encoding of small integer sets (OBJECT ENCODING "intset").
 *
 * Every element is stored with the same width, 16, 32 or 64 bits: the
 * smallest that fits all of them. Adding a value that does not fit widens
 * the whole array (as Redis's intset does); removing never narrows it.
 * Lookups are binary searches; inserts and removals move the tail.
 *
 * An intset is owned by its creator and freed with intset_free. Functions
 * that change its size may move it, so they take 'struct intset **' and
 * update the caller's pointer. */
#ifndef KR_STORAGE_INTSET_H
#define KR_STORAGE_INTSET_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

struct intset;

/* Returns an owned, empty intset (free with intset_free), or NULL. */
struct intset *intset_new(void);
void intset_free(struct intset *is);
/* Returns an owned copy of 'is', or NULL. */
struct intset *intset_dup(const struct intset *is);

/* Inserts 'v' in order. Returns 1 if added, 0 if already present, or
 * STORAGE_ENOMEM (the set is unchanged). May move '*is'. */
int intset_add(struct intset **is, int64_t v);
/* Removes 'v'; returns whether it was present. May move '*is'. */
bool intset_remove(struct intset **is, int64_t v);
/* Removes the element at 'pos' (< intset_len). May move '*is'. */
void intset_remove_at(struct intset **is, size_t pos);

bool intset_contains(const struct intset *is, int64_t v);
size_t intset_len(const struct intset *is);
/* The element at 'pos' (< intset_len), in ascending order. */
int64_t intset_get(const struct intset *is, size_t pos);
/* Bytes per element: 2, 4 or 8. */
unsigned intset_width(const struct intset *is);
/* Bytes the allocation uses (MEMORY USAGE). */
size_t intset_mem_bytes(const struct intset *is);

#endif
