/* Skiplist of (score, member) pairs ordered by score, then by member bytes,
 * with spans for O(log n) rank queries: the ordered half of a sorted set
 * (the other half, member -> node, is a storage/dict over the same nodes).
 *
 * Node heights are derived from a fixed (unseeded) hash of the member, so
 * every member of a shard builds the same structure without any randomness.
 *
 * Also here: score and lex ranges (ZRANGEBYSCORE "(1 5", ZRANGEBYLEX "[a +")
 * and their membership tests, shared with the listpack encoding. */
#ifndef KR_STORAGE_SKIPLIST_H
#define KR_STORAGE_SKIPLIST_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#define ZSL_MAX_LEVEL 32

struct zsl_node {
    double score;
    struct zsl_node *backward;
    uint32_t mlen;
    uint8_t height;
    struct zsl_level {
        struct zsl_node *forward;
        size_t span;
    } level[]; /* 'height' levels, then the 'mlen' member bytes */
};

struct zsl {
    /* read-only */
    struct zsl_node *header;
    struct zsl_node *tail;
    size_t length;
    int level;
};

static inline const char *zsl_node_member(const struct zsl_node *n) {
    return (const char *)&n->level[n->height];
}

/* Returns 0 or STORAGE_ENOMEM. */
int zsl_init(struct zsl *zsl);
/* Frees every node and the header. */
void zsl_close(struct zsl *zsl);

/* Inserts a new node; the member must not be present. Returns the node
 * (owned by the list) or NULL when out of memory. */
struct zsl_node *zsl_insert(struct zsl *zsl, double score, const char *m, size_t len);
/* Unlinks and frees 'node'. */
void zsl_delete_node(struct zsl *zsl, struct zsl_node *node);
/* Moves 'node' to 'score'. The node stays the same object (so a dict
 * pointing at it stays valid). */
void zsl_update_score(struct zsl *zsl, struct zsl_node *node, double score);

/* 1-based rank of 'node' (which must be in the list). */
size_t zsl_rank(const struct zsl *zsl, const struct zsl_node *node);
/* Node at 1-based 'rank', or NULL. */
struct zsl_node *zsl_by_rank(const struct zsl *zsl, size_t rank);
static inline struct zsl_node *zsl_first(const struct zsl *zsl) {
    return zsl->header->level[0].forward;
}

/* ---- Ranges ---- */

struct zscore_range {
    double min, max;
    bool minex, maxex; /* exclusive ends: "(" */
};

enum zlex_kind { ZLEX_INCL, ZLEX_EXCL, ZLEX_NEG_INF, ZLEX_POS_INF };
struct zlex_bound {
    const char *p; /* borrowed */
    size_t len;
    enum zlex_kind kind;
};
struct zlex_range {
    struct zlex_bound min, max;
};

/* Compares member bytes (memcmp, then shorter first). */
int zsl_cmp_member(const char *a, size_t alen, const char *b, size_t blen);

bool zscore_gte_min(double v, const struct zscore_range *r);
bool zscore_lte_max(double v, const struct zscore_range *r);
bool zscore_range_is_empty(const struct zscore_range *r);
bool zlex_gte_min(const char *m, size_t len, const struct zlex_range *r);
bool zlex_lte_max(const char *m, size_t len, const struct zlex_range *r);
bool zlex_range_is_empty(const struct zlex_range *r);

/* First / last node inside the range, or NULL. */
struct zsl_node *zsl_first_in_score(const struct zsl *zsl, const struct zscore_range *r);
struct zsl_node *zsl_last_in_score(const struct zsl *zsl, const struct zscore_range *r);
struct zsl_node *zsl_first_in_lex(const struct zsl *zsl, const struct zlex_range *r);
struct zsl_node *zsl_last_in_lex(const struct zsl *zsl, const struct zlex_range *r);

/* Bytes used by the list (header and nodes). */
size_t zsl_mem_bytes(const struct zsl *zsl);

#endif
