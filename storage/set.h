/* Set values: the value of an OBJ_SET record, in one of Redis 7.0's two
 * encodings.
 *
 * - OBJ_ENC_INTSET: kv->v.ptr is a struct intset (storage/intset.h), used
 *   while every member is a canonical integer and the set has at most
 *   'max_intset' members (the set-max-intset-entries directive).
 * - OBJ_ENC_HT: kv->v.ptr is a table: a dict for lookups plus a dense array
 *   of the members. The array gives every member a position, so positional
 *   access (random picks, iteration) does not depend on hash-table layout,
 *   whose order differs per process. Two members that applied the same
 *   writes therefore hold their members in the same order, and a write that
 *   picks "the member at position i" (SPOP) picks the same one everywhere.
 *
 * Conversion is one-way, intset -> table, as in Redis. Positions: an intset
 * is in ascending order; a table is in insertion order, except that removing
 * the member at position i moves the last member to i.
 *
 * Members are binary-safe byte strings. Functions that return member bytes
 * borrow them from the set (valid until the set changes) or format integers
 * into a caller buffer of SET_INT_BUF bytes. */
#ifndef KR_STORAGE_SET_H
#define KR_STORAGE_SET_H

#include "storage/object.h"

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#define SET_INT_BUF 24

/* Returns an owned OBJ_SET record for 'key' holding an empty set of
 * encoding 'enc' (OBJ_ENC_INTSET or OBJ_ENC_HT), or NULL. */
struct kv *set_new(const char *key, size_t keylen, enum obj_encoding enc);
/* The encoding Redis 7.0 gives a new set whose first member is 'm': intset
 * for a canonical integer, else hashtable. */
enum obj_encoding set_encoding_for(const char *m, size_t len);

/* Adds member 'm' to set record 'kv'. Converts to a table when 'm' is not an
 * integer or the intset would exceed 'max_intset' members. Returns 1 if
 * added, 0 if present, or STORAGE_ENOMEM (the members are unchanged, though
 * the set may have been converted). */
int set_add(struct kv *kv, const char *m, size_t len, size_t max_intset);
/* Removes 'm'; returns whether it was a member. */
bool set_remove(struct kv *kv, const char *m, size_t len);
bool set_contains(const struct kv *kv, const char *m, size_t len);
size_t set_size(const struct kv *kv);

/* The member at position 'pos' (< set_size): borrowed bytes, or an integer
 * formatted into 'buf'. Sets '*len'. */
const char *set_at(const struct kv *kv, size_t pos, char buf[SET_INT_BUF], size_t *len);
/* Removes the member at position 'pos' (see the position rules above). */
void set_remove_at(struct kv *kv, size_t pos);

/* SSCAN: calls 'fn' on members of one step and returns the next cursor (0
 * when done). An intset is returned whole in one step. A table follows the
 * dict_scan guarantee. 'fn' must not modify the set. */
typedef void (*set_scan_cb)(const char *m, size_t len, void *arg);
uint64_t set_scan(const struct kv *kv, uint64_t cursor, set_scan_cb fn, void *arg);

/* Frees a set record's value (registered with obj_register_free). */
void set_free_value(struct kv *kv);
/* Bytes of a set record's value (registered with obj_register_size). */
size_t set_mem_bytes(const struct kv *kv);
/* A deep copy of a set record's value, same encoding and member order
 * (registered with obj_register_dup); NULL when out of memory. */
void *set_dup_value(const struct kv *kv);
/* Registers the three functions above for OBJ_SET. */
void set_register(void);

#endif
