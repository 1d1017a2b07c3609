/* The sorted-set skiplist (see skiplist.h): insertion, removal, score
 * updates, rank queries and range lookups. It does not know about the
 * member -> node dict or the listpack encoding; storage/zset.c combines them. */
#include "storage/skiplist.h"

#include "storage/mem.h"
#include "storage/storage.h"

#include <string.h>

/* ---- Nodes ---- */

/* A geometric height (p = 1/4) from a fixed hash of the member: the same
 * on every member of a shard, without any random source. */
static uint8_t height_for(const char *m, size_t len) {
    uint64_t h = 0xcbf29ce484222325ULL; /* FNV-1a, then a splitmix64 finaliser */
    for (size_t i = 0; i < len; i++)
        h = (h ^ (unsigned char)m[i]) * 0x100000001b3ULL;
    h = (h ^ (h >> 30)) * 0xBF58476D1CE4E5B9ULL;
    h = (h ^ (h >> 27)) * 0x94D049BB133111EBULL;
    h ^= h >> 31;
    uint8_t height = 1;
    while ((h & 3) == 0 && height < ZSL_MAX_LEVEL) {
        height++;
        h >>= 2;
    }
    return height;
}

static struct zsl_node *node_new(uint8_t height, double score, const char *m, size_t len) {
    struct zsl_node *n = mem_alloc(sizeof(*n) + height * sizeof(struct zsl_level) + len);
    if (n == NULL)
        return NULL;
    n->score = score;
    n->backward = NULL;
    n->mlen = (uint32_t)len;
    n->height = height;
    for (uint8_t i = 0; i < height; i++) {
        n->level[i].forward = NULL;
        n->level[i].span = 0;
    }
    if (len)
        memcpy((char *)zsl_node_member(n), m, len);
    return n;
}

int zsl_cmp_member(const char *a, size_t alen, const char *b, size_t blen) {
    size_t n = alen < blen ? alen : blen;
    int c = n ? memcmp(a, b, n) : 0;
    if (c != 0)
        return c;
    return alen < blen ? -1 : alen > blen ? 1 : 0;
}

/* True if node 'x' sorts before (score, m). */
static bool node_before(const struct zsl_node *x, double score, const char *m, size_t len) {
    return x->score < score ||
           (x->score == score && zsl_cmp_member(zsl_node_member(x), x->mlen, m, len) < 0);
}

/* ---- Linking ---- */

/* Finds, per level, the last node before (score, m); fills 'rank' with the
 * rank of those nodes when it is not NULL. */
static void find_update(const struct zsl *zsl, double score, const char *m, size_t len,
                        struct zsl_node **update, size_t *rank) {
    struct zsl_node *x = zsl->header;
    for (int i = zsl->level - 1; i >= 0; i--) {
        size_t r = i == zsl->level - 1 ? 0 : rank ? rank[i + 1] : 0;
        while (x->level[i].forward && node_before(x->level[i].forward, score, m, len)) {
            r += x->level[i].span;
            x = x->level[i].forward;
        }
        if (rank)
            rank[i] = r;
        update[i] = x;
    }
}

static void link_node(struct zsl *zsl, struct zsl_node *node) {
    struct zsl_node *update[ZSL_MAX_LEVEL];
    size_t rank[ZSL_MAX_LEVEL];
    find_update(zsl, node->score, zsl_node_member(node), node->mlen, update, rank);
    int height = node->height;
    if (height > zsl->level) {
        for (int i = zsl->level; i < height; i++) {
            rank[i] = 0;
            update[i] = zsl->header;
            update[i]->level[i].span = zsl->length;
        }
        zsl->level = height;
    }
    for (int i = 0; i < height; i++) {
        node->level[i].forward = update[i]->level[i].forward;
        update[i]->level[i].forward = node;
        node->level[i].span = update[i]->level[i].span - (rank[0] - rank[i]);
        update[i]->level[i].span = (rank[0] - rank[i]) + 1;
    }
    for (int i = height; i < zsl->level; i++)
        update[i]->level[i].span++;
    node->backward = update[0] == zsl->header ? NULL : update[0];
    if (node->level[0].forward)
        node->level[0].forward->backward = node;
    else
        zsl->tail = node;
    zsl->length++;
}

static void unlink_node(struct zsl *zsl, struct zsl_node *node) {
    struct zsl_node *update[ZSL_MAX_LEVEL];
    find_update(zsl, node->score, zsl_node_member(node), node->mlen, update, NULL);
    for (int i = 0; i < zsl->level; i++) {
        if (update[i]->level[i].forward == node) {
            update[i]->level[i].span += node->level[i].span - 1;
            update[i]->level[i].forward = node->level[i].forward;
        } else {
            update[i]->level[i].span--;
        }
    }
    if (node->level[0].forward)
        node->level[0].forward->backward = node->backward;
    else
        zsl->tail = node->backward;
    while (zsl->level > 1 && zsl->header->level[zsl->level - 1].forward == NULL)
        zsl->level--;
    zsl->length--;
}

/* ---- Public API ---- */

int zsl_init(struct zsl *zsl) {
    zsl->header = node_new(ZSL_MAX_LEVEL, 0, NULL, 0);
    if (zsl->header == NULL)
        return STORAGE_ENOMEM;
    zsl->tail = NULL;
    zsl->length = 0;
    zsl->level = 1;
    return STORAGE_OK;
}

void zsl_close(struct zsl *zsl) {
    struct zsl_node *x = zsl->header->level[0].forward;
    while (x) {
        struct zsl_node *next = x->level[0].forward;
        mem_free(x);
        x = next;
    }
    mem_free(zsl->header);
    zsl->header = NULL;
}

struct zsl_node *zsl_insert(struct zsl *zsl, double score, const char *m, size_t len) {
    struct zsl_node *node = node_new(height_for(m, len), score, m, len);
    if (node != NULL)
        link_node(zsl, node);
    return node;
}

void zsl_delete_node(struct zsl *zsl, struct zsl_node *node) {
    unlink_node(zsl, node);
    mem_free(node);
}

void zsl_update_score(struct zsl *zsl, struct zsl_node *node, double score) {
    const char *m = zsl_node_member(node);
    struct zsl_node *next = node->level[0].forward;
    /* Still between its neighbours: change the score in place. */
    if ((node->backward == NULL || node_before(node->backward, score, m, node->mlen)) &&
        (next == NULL || !node_before(next, score, m, node->mlen))) {
        node->score = score;
        return;
    }
    unlink_node(zsl, node);
    node->score = score;
    link_node(zsl, node);
}

size_t zsl_rank(const struct zsl *zsl, const struct zsl_node *node) {
    const struct zsl_node *x = zsl->header;
    size_t rank = 0;
    const char *m = zsl_node_member(node);
    for (int i = zsl->level - 1; i >= 0; i--) {
        while (x->level[i].forward &&
               (x->level[i].forward == node ||
                node_before(x->level[i].forward, node->score, m, node->mlen))) {
            rank += x->level[i].span;
            x = x->level[i].forward;
        }
        if (x == node)
            return rank;
    }
    return 0;
}

struct zsl_node *zsl_by_rank(const struct zsl *zsl, size_t rank) {
    struct zsl_node *x = zsl->header;
    size_t traversed = 0;
    if (rank == 0 || rank > zsl->length)
        return NULL;
    for (int i = zsl->level - 1; i >= 0; i--) {
        while (x->level[i].forward && traversed + x->level[i].span <= rank) {
            traversed += x->level[i].span;
            x = x->level[i].forward;
        }
        if (traversed == rank)
            return x;
    }
    return NULL;
}

/* ---- Ranges ---- */

bool zscore_gte_min(double v, const struct zscore_range *r) {
    return r->minex ? v > r->min : v >= r->min;
}

bool zscore_lte_max(double v, const struct zscore_range *r) {
    return r->maxex ? v < r->max : v <= r->max;
}

bool zscore_range_is_empty(const struct zscore_range *r) {
    return r->min > r->max || (r->min == r->max && (r->minex || r->maxex));
}

/* Orders two bounds, "-" below and "+" above every string. */
static int bound_cmp(const char *a, size_t alen, enum zlex_kind akind, const struct zlex_bound *b) {
    bool a_inf = akind == ZLEX_NEG_INF || akind == ZLEX_POS_INF;
    bool b_inf = b->kind == ZLEX_NEG_INF || b->kind == ZLEX_POS_INF;
    if (a_inf && b_inf && akind == b->kind)
        return 0;
    if (akind == ZLEX_NEG_INF || b->kind == ZLEX_POS_INF)
        return -1;
    if (akind == ZLEX_POS_INF || b->kind == ZLEX_NEG_INF)
        return 1;
    return zsl_cmp_member(a, alen, b->p, b->len);
}

bool zlex_gte_min(const char *m, size_t len, const struct zlex_range *r) {
    int c = bound_cmp(m, len, ZLEX_INCL, &r->min);
    return r->min.kind == ZLEX_EXCL ? c > 0 : c >= 0;
}

bool zlex_lte_max(const char *m, size_t len, const struct zlex_range *r) {
    int c = bound_cmp(m, len, ZLEX_INCL, &r->max);
    return r->max.kind == ZLEX_EXCL ? c < 0 : c <= 0;
}

bool zlex_range_is_empty(const struct zlex_range *r) {
    int c = bound_cmp(r->min.p, r->min.len, r->min.kind, &r->max);
    return c > 0 || (c == 0 && (r->min.kind == ZLEX_EXCL || r->max.kind == ZLEX_EXCL));
}

struct zsl_node *zsl_first_in_score(const struct zsl *zsl, const struct zscore_range *r) {
    if (zscore_range_is_empty(r))
        return NULL;
    struct zsl_node *x = zsl->header;
    for (int i = zsl->level - 1; i >= 0; i--)
        while (x->level[i].forward && !zscore_gte_min(x->level[i].forward->score, r))
            x = x->level[i].forward;
    x = x->level[0].forward;
    return x && zscore_lte_max(x->score, r) ? x : NULL;
}

struct zsl_node *zsl_last_in_score(const struct zsl *zsl, const struct zscore_range *r) {
    if (zscore_range_is_empty(r))
        return NULL;
    struct zsl_node *x = zsl->header;
    for (int i = zsl->level - 1; i >= 0; i--)
        while (x->level[i].forward && zscore_lte_max(x->level[i].forward->score, r))
            x = x->level[i].forward;
    return x != zsl->header && zscore_gte_min(x->score, r) ? x : NULL;
}

struct zsl_node *zsl_first_in_lex(const struct zsl *zsl, const struct zlex_range *r) {
    if (zlex_range_is_empty(r))
        return NULL;
    struct zsl_node *x = zsl->header;
    for (int i = zsl->level - 1; i >= 0; i--)
        while (x->level[i].forward &&
               !zlex_gte_min(zsl_node_member(x->level[i].forward), x->level[i].forward->mlen, r))
            x = x->level[i].forward;
    x = x->level[0].forward;
    return x && zlex_lte_max(zsl_node_member(x), x->mlen, r) ? x : NULL;
}

struct zsl_node *zsl_last_in_lex(const struct zsl *zsl, const struct zlex_range *r) {
    if (zlex_range_is_empty(r))
        return NULL;
    struct zsl_node *x = zsl->header;
    for (int i = zsl->level - 1; i >= 0; i--)
        while (x->level[i].forward &&
               zlex_lte_max(zsl_node_member(x->level[i].forward), x->level[i].forward->mlen, r))
            x = x->level[i].forward;
    return x != zsl->header && zlex_gte_min(zsl_node_member(x), x->mlen, r) ? x : NULL;
}

size_t zsl_mem_bytes(const struct zsl *zsl) {
    size_t bytes = mem_usable(zsl->header);
    for (const struct zsl_node *x = zsl->header->level[0].forward; x; x = x->level[0].forward)
        bytes += mem_usable(x);
    return bytes;
}
