/* Sorted-set values (the Redis ZSET type) in one of two encodings, as
 * Redis 7.0 keeps them.
 *
 * OBJ_ENC_LISTPACK: kv->v.ptr is a listpack of member, score, member,
 * score... sorted by score, then member bytes. A score that is an integer
 * of magnitude <= LLONG_MAX/2 is an integer entry (so -0 reads back as 0, as
 * in Redis); any other score is
 * a 9-byte string entry 'D' + the 8 bytes of the double, so it reads back
 * exactly. OBJ_ENC_SKIPLIST: kv->v.ptr is a 'struct zset': a skiplist of
 * nodes plus a dict over the same nodes (member -> node), one allocation
 * per member.
 *
 * A sorted set becomes a skiplist when it would hold more than
 * 'max_entries' members or a member longer than 'max_value' bytes
 * (zset-max-listpack-entries / -value). Store commands (ZUNIONSTORE...)
 * convert their result back with zset_fit_listpack.
 *
 * Functions take the record because a conversion replaces kv->v.ptr and
 * kv->encoding. On failure (STORAGE_ENOMEM) the set is unchanged. Member
 * bytes handed out are borrowed until the set changes. */
#ifndef KR_STORAGE_ZSET_H
#define KR_STORAGE_ZSET_H

#include "storage/dict.h"
#include "storage/listpack.h"
#include "storage/object.h"
#include "storage/skiplist.h"

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

struct zset {
    struct dict dict; /* member -> struct zsl_node */
    struct zsl zsl;
};

struct zset_limits {
    size_t max_entries;
    size_t max_value;
};

/* A member as read back: bytes (integers formatted into 'buf') and score. */
struct zset_member {
    const char *p;
    size_t len;
    double score;
    char buf[LP_INTBUF];
};

/* Registers the ZSET destructor, size and copy functions with storage/object. */
void zset_register(void);

/* Redis 7.0 zsetTypeCreate: a new record 'key' holding an empty set, a
 * listpack unless 'size_hint' members or a first member of 'len_hint'
 * bytes exceed the limits. NULL when out of memory. */
struct kv *zset_new(const char *key, size_t keylen, size_t size_hint, size_t len_hint,
                    const struct zset_limits *lim);
int zset_convert_to_skiplist(struct kv *kv);
/* Converts a skiplist back to a listpack when it fits the limits (store
 * commands, as zsetConvertToListpackIfNeeded). Failure leaves a skiplist. */
void zset_fit_listpack(struct kv *kv, const struct zset_limits *lim);

size_t zset_len(const struct kv *kv);
bool zset_score(const struct kv *kv, const char *m, size_t len, double *score);

/* ZADD flags in ('in_flags') and results ('*out_flags'), Redis's zsetAdd. */
enum zadd_flags {
    ZADD_IN_INCR = 1 << 0,
    ZADD_IN_NX = 1 << 1,
    ZADD_IN_XX = 1 << 2,
    ZADD_IN_GT = 1 << 3,
    ZADD_IN_LT = 1 << 4,
    ZADD_OUT_NOP = 1 << 0,     /* nothing done (NX/XX/GT/LT) */
    ZADD_OUT_NAN = 1 << 1,     /* INCR made the score NaN: nothing done */
    ZADD_OUT_ADDED = 1 << 2,   /* a new member */
    ZADD_OUT_UPDATED = 1 << 3, /* an existing member's score changed */
};
/* Adds or updates member 'm' with 'score' (an increment with INCR), as
 * Redis's zsetAdd. '*newscore' receives the resulting score when not NOP
 * or NaN. Returns 0 or STORAGE_ENOMEM. */
int zset_add(struct kv *kv, double score, const char *m, size_t len, int in_flags, int *out_flags,
             double *newscore, const struct zset_limits *lim);
/* Removes 'm'; returns whether it was there. */
bool zset_delete(struct kv *kv, const char *m, size_t len);
/* 0-based rank of 'm' (from the top if 'reverse'); false if absent. */
bool zset_rank(const struct kv *kv, const char *m, size_t len, bool reverse, size_t *rank);

/* ---- Ordered walks ----
 * An iterator stands on one member and moves towards higher scores, or
 * lower ones if 'reverse'. The set must not change while it is used. */
struct zset_iter {
    struct kv *kv;
    bool reverse;
    unsigned char *p;      /* listpack: the member entry */
    struct zsl_node *node; /* skiplist */
};
/* Stands on 0-based 'rank' counted from the walk's start (the lowest
 * member, or the highest if 'reverse'). */
void zset_iter_at_rank(struct zset_iter *it, struct kv *kv, size_t rank, bool reverse);
/* Stands on the first member inside the range in walk order. */
void zset_iter_at_score(struct zset_iter *it, struct kv *kv, const struct zscore_range *r,
                        bool reverse);
void zset_iter_at_lex(struct zset_iter *it, struct kv *kv, const struct zlex_range *r,
                      bool reverse);
bool zset_iter_valid(const struct zset_iter *it);
void zset_iter_get(const struct zset_iter *it, struct zset_member *out);
void zset_iter_next(struct zset_iter *it);

/* Counts of members inside a range (ZCOUNT, ZLEXCOUNT). */
size_t zset_count_score(struct kv *kv, const struct zscore_range *r);
size_t zset_count_lex(struct kv *kv, const struct zlex_range *r);
/* Removes members by 0-based rank range [start, end] (valid indexes), by
 * score or by lex range; returns how many were removed. */
size_t zset_delete_rank_range(struct kv *kv, size_t start, size_t end);
size_t zset_delete_score_range(struct kv *kv, const struct zscore_range *r);
size_t zset_delete_lex_range(struct kv *kv, const struct zlex_range *r);

/* A member chosen with the caller's randomness 'rnd'; the set must not be empty. */
void zset_pick(const struct kv *kv, uint64_t rnd, struct zset_member *out);

/* One SCAN step (ZSCAN): calls 'fn' on some members and returns the next
 * cursor, 0 when done. A listpack set is returned whole in one step. */
typedef void (*zset_scan_cb)(const char *m, size_t len, double score, void *arg);
uint64_t zset_scan(const struct kv *kv, uint64_t cursor, zset_scan_cb fn, void *arg);

/* Frees the value (not the record) / bytes used by the value. */
void zset_free_value(struct kv *kv);
size_t zset_mem_bytes(const struct kv *kv);

#endif
