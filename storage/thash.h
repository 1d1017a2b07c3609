/* Hash values (the Redis HASH type): field -> value maps in one of two
 * encodings, as Redis 7.0 keeps them.
 *
 * OBJ_ENC_LISTPACK: kv->v.ptr is a listpack of field, value, field, value...
 * in insertion order. OBJ_ENC_HT: kv->v.ptr is a 'struct dict' whose
 * elements are 'struct thash_entry' (field and value in one allocation).
 * A hash starts as a listpack and becomes a table when it holds more than
 * 'max_entries' fields or a field or value longer than 'max_value' bytes
 * (hash-max-listpack-entries / -value); it never converts back.
 *
 * Functions take the record ('kv') because a conversion replaces both
 * kv->v.ptr and kv->encoding. On failure (STORAGE_ENOMEM) the hash is
 * unchanged. Values read back are borrowed until the hash changes. */
#ifndef KR_STORAGE_THASH_H
#define KR_STORAGE_THASH_H

#include "storage/dict.h"
#include "storage/listpack.h"
#include "storage/object.h"

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

struct thash_limits {
    size_t max_entries;
    size_t max_value;
};

/* A table element: 'flen' field bytes followed by 'vlen' value bytes. */
struct thash_entry {
    uint32_t flen;
    uint32_t vlen;
    char data[];
};

/* A borrowed string: listpack integers are formatted into 'buf'. */
struct thash_str {
    const char *p;
    size_t len;
    char buf[LP_INTBUF];
};

/* Registers the HASH destructor and size function with storage/object. */
void thash_register(void);

/* A new record 'key' holding an empty listpack hash, or NULL. */
struct kv *thash_new(const char *key, size_t keylen);
size_t thash_len(const struct kv *kv);
/* Fills 'val' and returns true if 'field' exists. */
bool thash_get(const struct kv *kv, const char *field, size_t flen, struct thash_str *val);
bool thash_exists(const struct kv *kv, const char *field, size_t flen);

/* Converts a listpack hash to a table if 'longest' (the length of the
 * longest string about to be written) exceeds lim->max_value: Redis's
 * hashTypeTryConversion, done before a write. Returns 0 or STORAGE_ENOMEM. */
int thash_prepare(struct kv *kv, size_t longest, const struct thash_limits *lim);
/* Sets 'field' to 'val'; '*is_new' tells whether the field was added. A
 * listpack becomes a table first if 'field' or 'val' is longer than
 * lim->max_value, and after if it grows beyond lim->max_entries. */
int thash_set(struct kv *kv, const char *field, size_t flen, const char *val, size_t vlen,
              const struct thash_limits *lim, bool *is_new);
/* Deletes 'field'; returns whether it existed. */
bool thash_delete(struct kv *kv, const char *field, size_t flen);
/* Converts a listpack hash to a table (no-op if it is one already). */
int thash_convert_to_table(struct kv *kv);

/* Iteration in storage order (listpack: insertion order). The hash must
 * not change during iteration. */
struct thash_iter {
    struct kv *kv;
    unsigned char *p;
    struct dict_iter di;
};
void thash_iter_init(struct thash_iter *it, struct kv *kv);
bool thash_iter_next(struct thash_iter *it, struct thash_str *field, struct thash_str *val);
void thash_iter_close(struct thash_iter *it);

/* A random pair chosen with the caller's randomness 'rnd'. The hash must
 * not be empty. */
void thash_pick(const struct kv *kv, uint64_t rnd, struct thash_str *field, struct thash_str *val);

/* One SCAN step (HSCAN): calls 'fn' on some pairs and returns the next
 * cursor, 0 when done. A listpack hash is returned whole in one step. */
typedef void (*thash_scan_cb)(const char *f, size_t flen, const char *v, size_t vlen, void *arg);
uint64_t thash_scan(const struct kv *kv, uint64_t cursor, thash_scan_cb fn, void *arg);

/* Frees the value (not the record). */
void thash_free_value(struct kv *kv);
/* Bytes used by the value. */
size_t thash_mem_bytes(const struct kv *kv);

#endif
