/* Keyspace records: one allocation holding a key, its expiry and its value.
 *
 * Small strings (up to OBJ_EMBSTR_MAX bytes) and integers live inside the
 * record itself; bigger strings and collections hang off 'v.ptr'. Keeping
 * key and small value together is what lets a small string key cost less
 * memory than in Redis (one allocation instead of dictEntry + key + robj).
 *
 * Layout of data[]: [int64 expire_ms, if has_expire][key][embedded value].
 * A record never changes size in place: operations that would (set an expiry,
 * change an embedded value) build a new record, and the keyspace swaps it in.
 *
 * Type and encoding numbers follow Redis so OBJECT ENCODING and DUMP can use
 * the same names and codes. */
#ifndef KR_STORAGE_OBJECT_H
#define KR_STORAGE_OBJECT_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <string.h>

#define OBJ_EMBSTR_MAX 44 /* Redis's OBJ_ENCODING_EMBSTR_SIZE_LIMIT */

enum obj_type {
    OBJ_STRING = 0,
    OBJ_LIST = 1,
    OBJ_SET = 2,
    OBJ_ZSET = 3,
    OBJ_HASH = 4,
    OBJ_STREAM = 6,
};

enum obj_encoding {
    OBJ_ENC_RAW = 0,
    OBJ_ENC_INT = 1,
    OBJ_ENC_HT = 2,
    OBJ_ENC_INTSET = 6,
    OBJ_ENC_SKIPLIST = 7,
    OBJ_ENC_EMBSTR = 8,
    OBJ_ENC_QUICKLIST = 9,
    OBJ_ENC_STREAM = 10,
    OBJ_ENC_LISTPACK = 11,
};

struct kv {
    union {
        void *ptr;         /* RAW strings and collections: owned value */
        long long ll;      /* INT strings */
        size_t embstr_len; /* EMBSTR: value bytes follow the key in data[] */
    } v;
    uint32_t keylen : 30;
    uint32_t has_expire : 1;
    uint32_t spare : 1;
    uint32_t lru : 24; /* access clock (LRU seconds, or LFU counter) */
    uint32_t type : 4;
    uint32_t encoding : 4;
    char data[];
};

/* A RAW string value: binary-safe bytes with spare capacity for APPEND. */
struct raw_string {
    size_t len;
    size_t cap;
    char data[];
};

/* Releases a collection value; each value type registers its destructor. */
typedef void (*obj_free_fn)(struct kv *kv);
void obj_register_free(enum obj_type type, obj_free_fn fn);
/* Memory of a collection value for MEMORY USAGE; types register it too. */
typedef size_t (*obj_size_fn)(const struct kv *kv);
void obj_register_size(enum obj_type type, obj_size_fn fn);
/* A deep copy of a collection value (COPY): returns an owned value for a new
 * record of the same type and encoding, or NULL on allocation failure. Every
 * collection type must register one. */
typedef void *(*obj_dup_fn)(const struct kv *kv);
void obj_register_dup(enum obj_type type, obj_dup_fn fn);

/* Names as Redis reports them: TYPE ("string", "list", ...; "none" is the
 * caller's) and OBJECT ENCODING ("raw", "int", "embstr", "hashtable",
 * "intset", "listpack", "quicklist", "skiplist", "stream"). Static strings;
 * "unknown" for numbers keyraft never stores. */
const char *obj_type_name(unsigned type);
const char *obj_encoding_name(unsigned encoding);

static inline const char *kv_key(const struct kv *kv) {
    return kv->data + (kv->has_expire ? 8 : 0);
}

static inline int64_t kv_expire(const struct kv *kv) {
    int64_t when = -1;
    if (kv->has_expire)
        memcpy(&when, kv->data, 8);
    return when;
}

/* For dict_type.key_of. */
const char *kv_key_of(const void *elem, size_t *len);

/* A new record for a string value; picks INT, EMBSTR or RAW like Redis
 * (INT only for canonical integers of at most 20 chars). 'expire_ms' < 0
 * means none. Returns NULL on allocation failure. */
struct kv *kv_new_string(const char *key, size_t keylen, const char *val, size_t vallen,
                         int64_t expire_ms);
/* A new record for a string value stored as EMBSTR or RAW, never INT (Redis's
 * createStringObject: values a command computed, such as INCRBYFLOAT's). */
struct kv *kv_new_string_unencoded(const char *key, size_t keylen, const char *val, size_t vallen,
                                   int64_t expire_ms);
/* A new record for a RAW string of 'vallen' bytes: a copy of 'val', or zeroes
 * when 'val' is NULL (Redis's createObject over an sds: SETRANGE, SETBIT, BITOP). */
struct kv *kv_new_raw(const char *key, size_t keylen, const char *val, size_t vallen,
                      int64_t expire_ms);
/* Grows the RAW string value of 'kv' in place to at least 'len' bytes,
 * zero-filling the new bytes. Capacity grows like Redis's sds (double below
 * 1 MB, then 1 MB more) so repeated APPENDs are amortised O(1). Returns false
 * on allocation failure, with the value unchanged. */
bool kv_raw_grow(struct kv *kv, size_t len);
/* A new record holding a collection (or any 'ptr' value) of 'type'/'encoding'. */
struct kv *kv_new_ptr(const char *key, size_t keylen, enum obj_type type, enum obj_encoding enc,
                      void *ptr, int64_t expire_ms);
/* A new record for an integer string value. */
struct kv *kv_new_int(const char *key, size_t keylen, long long v, int64_t expire_ms);
/* A new record with the value of 'kv' moved into it (not copied) and another
 * expiry. 'kv' is left as it is: once it is swapped out of the keyspace,
 * free it with kv_free_shell (its value now belongs to the new record). */
struct kv *kv_with_expire(const struct kv *kv, int64_t expire_ms);
/* A new record with the value of 'kv' moved into it under another key;
 * 'kv' is left as it is, as with kv_with_expire. */
struct kv *kv_rename(const struct kv *kv, const char *key, size_t keylen);
/* A new record under 'key' with a deep copy of the value of 'kv' (same type
 * and encoding) and expiry 'expire_ms' (< 0: none). 'kv' is only read.
 * Returns NULL on allocation failure or when a collection type registered no
 * dup function. */
struct kv *kv_copy(const struct kv *kv, const char *key, size_t keylen, int64_t expire_ms);
/* Overwrites the string value of 'kv' in place with 'val' and expiry
 * 'expire_ms' (< 0: none) when that gives exactly the record kv_new_string
 * would build (same encoding; the same embedded length; a RAW buffer that
 * fits without wasting more than its size; an expiry where there was one).
 * Returns false, changing nothing, otherwise. Saves an allocation and a
 * table update on the common overwrite of a small value. */
bool kv_overwrite_string(struct kv *kv, const char *val, size_t len, int64_t expire_ms);
/* Frees the record and its value. */
void kv_free(struct kv *kv);
/* Frees the record only (its value was moved elsewhere). */
void kv_free_shell(struct kv *kv);
/* Bytes used by the record and its value (MEMORY USAGE). */
size_t kv_mem_bytes(const struct kv *kv);

/* A string value's bytes: EMBSTR/RAW point into the record; INT is
 * formatted into 'buf' (at least 21 bytes). */
const char *kv_string(const struct kv *kv, char *buf, size_t *len);

/* Redis's string2ll: strict decimal, no spaces, no leading zeros or '+'. */
bool obj_parse_ll(const char *s, size_t len, long long *out);

#endif
