/* Sorted-set values in their two encodings (see zset.h): adds with Redis's
 * NX/XX/GT/LT/INCR rules, removal, ranks, ordered walks, range counts and
 * deletes, conversion between listpack and skiplist, sampling and scans.
 * Argument parsing, set algebra (ZUNION...) and replies are node/cmd_zset.c's. */
#include "storage/zset.h"

#include "storage/mem.h"
#include "storage/storage.h"

#include <limits.h>
#include <math.h>
#include <string.h>

#define SCORE_TAG       'D'
#define SCORE_BYTES     9
#define INT_SCORE_LIMIT ((double)(LLONG_MAX / 2)) /* Redis's double2ll range */

/* ---- Listpack encoding ---- */

static double lp_score_at(const unsigned char *p) {
    struct lp_value v;
    lp_get(p, &v);
    if (v.str == NULL)
        return (double)v.ll;
    double d = 0;
    if (v.len == SCORE_BYTES)
        memcpy(&d, v.str + 1, sizeof(d));
    return d;
}

/* Inserts 'score' before position 'p' (NULL: at the end). */
static int lp_insert_score(unsigned char **lpp, unsigned char *p, double score,
                           unsigned char **newp) {
    /* Redis's d2string stores integral scores as integers (so -0 becomes 0). */
    if (score >= -INT_SCORE_LIMIT && score <= INT_SCORE_LIMIT && score == floor(score))
        return lp_insert_int(lpp, p, (long long)score, newp);
    char buf[SCORE_BYTES];
    buf[0] = SCORE_TAG;
    memcpy(buf + 1, &score, sizeof(score));
    return lp_insert(lpp, p, buf, sizeof(buf), newp);
}

static void lp_member_at(const unsigned char *lp, const unsigned char *p, struct zset_member *out) {
    out->p = lp_get_str(p, out->buf, &out->len);
    out->score = lp_score_at(lp_next(lp, p));
}

static unsigned char *lp_find_member(const unsigned char *lp, const char *m, size_t len) {
    return lp_find(lp, lp_first(lp), m, len, 1);
}

/* Inserts the pair in order. Returns 0 or STORAGE_ENOMEM (unchanged). */
static int lp_insert_pair(unsigned char **lpp, double score, const char *m, size_t len) {
    unsigned char *lp = *lpp;
    unsigned char *p = lp_first(lp);
    while (p != NULL) {
        struct zset_member cur;
        lp_member_at(lp, p, &cur);
        if (cur.score > score || (cur.score == score && zsl_cmp_member(cur.p, cur.len, m, len) > 0))
            break;
        p = lp_next(lp, lp_next(lp, p));
    }
    unsigned char *mp;
    int rc = lp_insert(lpp, p, m, len, &mp);
    if (rc != STORAGE_OK)
        return rc;
    rc = lp_insert_score(lpp, lp_next(*lpp, mp), score, NULL);
    if (rc != STORAGE_OK)
        lp_delete(lpp, mp, 1, NULL);
    return rc;
}

/* ---- Skiplist encoding ---- */

static const char *node_key(const void *elem, size_t *len) {
    const struct zsl_node *n = elem;
    *len = n->mlen;
    return zsl_node_member(n);
}

static const struct dict_type node_dict_type = {.key_of = node_key};

static struct zset *zs_new(void) {
    struct zset *zs = mem_alloc(sizeof(*zs));
    if (zs == NULL)
        return NULL;
    if (zsl_init(&zs->zsl) != STORAGE_OK) {
        mem_free(zs);
        return NULL;
    }
    dict_init(&zs->dict, &node_dict_type);
    return zs;
}

static void zs_free(struct zset *zs) {
    dict_close(&zs->dict, NULL);
    zsl_close(&zs->zsl);
    mem_free(zs);
}

static int zs_insert(struct zset *zs, double score, const char *m, size_t len) {
    struct zsl_node *n = zsl_insert(&zs->zsl, score, m, len);
    if (n == NULL)
        return STORAGE_ENOMEM;
    if (dict_add(&zs->dict, n) != STORAGE_OK) {
        zsl_delete_node(&zs->zsl, n);
        return STORAGE_ENOMEM;
    }
    return STORAGE_OK;
}

static void zs_delete_node(struct zset *zs, struct zsl_node *n) {
    dict_remove(&zs->dict, zsl_node_member(n), n->mlen);
    zsl_delete_node(&zs->zsl, n);
}

static void node_member(const struct zsl_node *n, struct zset_member *out) {
    out->p = zsl_node_member(n);
    out->len = n->mlen;
    out->score = n->score;
}

/* ---- Creation and conversion ---- */

struct kv *zset_new(const char *key, size_t keylen, size_t size_hint, size_t len_hint,
                    const struct zset_limits *lim) {
    bool small = size_hint <= lim->max_entries && len_hint <= lim->max_value;
    void *value = small ? (void *)lp_new() : (void *)zs_new();
    if (value == NULL)
        return NULL;
    struct kv *kv =
        kv_new_ptr(key, keylen, OBJ_ZSET, small ? OBJ_ENC_LISTPACK : OBJ_ENC_SKIPLIST, value, -1);
    if (kv == NULL) {
        if (small)
            lp_free(value);
        else
            zs_free(value);
    }
    return kv;
}

int zset_convert_to_skiplist(struct kv *kv) {
    if (kv->encoding != OBJ_ENC_LISTPACK)
        return STORAGE_OK;
    unsigned char *lp = kv->v.ptr;
    struct zset *zs = zs_new();
    if (zs == NULL)
        return STORAGE_ENOMEM;
    for (unsigned char *p = lp_first(lp); p; p = lp_next(lp, lp_next(lp, p))) {
        struct zset_member m;
        lp_member_at(lp, p, &m);
        if (zs_insert(zs, m.score, m.p, m.len) != STORAGE_OK) {
            zs_free(zs);
            return STORAGE_ENOMEM;
        }
    }
    lp_free(lp);
    kv->v.ptr = zs;
    kv->encoding = OBJ_ENC_SKIPLIST;
    return STORAGE_OK;
}

void zset_fit_listpack(struct kv *kv, const struct zset_limits *lim) {
    if (kv->encoding == OBJ_ENC_LISTPACK)
        return;
    struct zset *zs = kv->v.ptr;
    if (zs->zsl.length > lim->max_entries)
        return;
    for (struct zsl_node *n = zsl_first(&zs->zsl); n; n = n->level[0].forward)
        if (n->mlen > lim->max_value)
            return;
    unsigned char *lp = lp_new();
    if (lp == NULL)
        return;
    for (struct zsl_node *n = zsl_first(&zs->zsl); n; n = n->level[0].forward) {
        if (lp_append(&lp, zsl_node_member(n), n->mlen) != STORAGE_OK ||
            lp_insert_score(&lp, NULL, n->score, NULL) != STORAGE_OK) {
            lp_free(lp);
            return;
        }
    }
    zs_free(zs);
    kv->v.ptr = lp;
    kv->encoding = OBJ_ENC_LISTPACK;
}

/* ---- Lookups and updates ---- */

size_t zset_len(const struct kv *kv) {
    if (kv->encoding == OBJ_ENC_LISTPACK)
        return lp_len(kv->v.ptr) / 2;
    return ((const struct zset *)kv->v.ptr)->zsl.length;
}

bool zset_score(const struct kv *kv, const char *m, size_t len, double *score) {
    if (kv->encoding == OBJ_ENC_LISTPACK) {
        const unsigned char *lp = kv->v.ptr;
        unsigned char *p = lp_find_member(lp, m, len);
        if (p == NULL)
            return false;
        *score = lp_score_at(lp_next(lp, p));
        return true;
    }
    const struct zsl_node *n = dict_find(&((const struct zset *)kv->v.ptr)->dict, m, len);
    if (n == NULL)
        return false;
    *score = n->score;
    return true;
}

/* Sets the score of a present member. */
static int change_score(struct kv *kv, const char *m, size_t len, double score) {
    if (kv->encoding == OBJ_ENC_LISTPACK) {
        unsigned char *lp = kv->v.ptr;
        unsigned char *p = lp_find_member(lp, m, len);
        /* Remove and re-insert in order; on failure put the old pair back.
         * (Only if that fails too, under allocation failure, is the member
         * lost: a listpack cannot reserve room in advance.) */
        double old = lp_score_at(lp_next(lp, p));
        lp_delete(&lp, p, 2, NULL);
        int rc = lp_insert_pair(&lp, score, m, len);
        if (rc != STORAGE_OK)
            (void)lp_insert_pair(&lp, old, m, len);
        kv->v.ptr = lp;
        return rc;
    }
    struct zset *zs = kv->v.ptr;
    zsl_update_score(&zs->zsl, dict_find(&zs->dict, m, len), score);
    return STORAGE_OK;
}

int zset_add(struct kv *kv, double score, const char *m, size_t len, int in_flags, int *out_flags,
             double *newscore, const struct zset_limits *lim) {
    bool incr = in_flags & ZADD_IN_INCR, nx = in_flags & ZADD_IN_NX;
    bool xx = in_flags & ZADD_IN_XX, gt = in_flags & ZADD_IN_GT, lt = in_flags & ZADD_IN_LT;
    *out_flags = 0;
    if (isnan(score)) {
        *out_flags = ZADD_OUT_NAN;
        return STORAGE_OK;
    }
    double cur;
    if (zset_score(kv, m, len, &cur)) {
        if (nx) {
            *out_flags |= ZADD_OUT_NOP;
            return STORAGE_OK;
        }
        if (incr) {
            score += cur;
            if (isnan(score)) {
                *out_flags |= ZADD_OUT_NAN;
                return STORAGE_OK;
            }
        }
        if ((lt && score >= cur) || (gt && score <= cur)) {
            *out_flags |= ZADD_OUT_NOP;
            return STORAGE_OK;
        }
        *newscore = score;
        if (score != cur) {
            int rc = change_score(kv, m, len, score);
            if (rc != STORAGE_OK)
                return rc;
            *out_flags |= ZADD_OUT_UPDATED;
        }
        return STORAGE_OK;
    }
    if (xx) {
        *out_flags |= ZADD_OUT_NOP;
        return STORAGE_OK;
    }
    if (kv->encoding == OBJ_ENC_LISTPACK &&
        (zset_len(kv) + 1 > lim->max_entries || len > lim->max_value)) {
        int rc = zset_convert_to_skiplist(kv);
        if (rc != STORAGE_OK)
            return rc;
    }
    int rc;
    if (kv->encoding == OBJ_ENC_LISTPACK) {
        unsigned char *lp = kv->v.ptr;
        rc = lp_insert_pair(&lp, score, m, len);
        kv->v.ptr = lp;
    } else {
        rc = zs_insert(kv->v.ptr, score, m, len);
    }
    if (rc != STORAGE_OK)
        return rc;
    *newscore = score;
    *out_flags |= ZADD_OUT_ADDED;
    return STORAGE_OK;
}

bool zset_delete(struct kv *kv, const char *m, size_t len) {
    if (kv->encoding == OBJ_ENC_LISTPACK) {
        unsigned char *lp = kv->v.ptr;
        unsigned char *p = lp_find_member(lp, m, len);
        if (p == NULL)
            return false;
        lp_delete(&lp, p, 2, NULL);
        kv->v.ptr = lp;
        return true;
    }
    struct zset *zs = kv->v.ptr;
    struct zsl_node *n = dict_find(&zs->dict, m, len);
    if (n == NULL)
        return false;
    zs_delete_node(zs, n);
    return true;
}

bool zset_rank(const struct kv *kv, const char *m, size_t len, bool reverse, size_t *rank) {
    size_t n = zset_len(kv), r = 0;
    if (kv->encoding == OBJ_ENC_LISTPACK) {
        const unsigned char *lp = kv->v.ptr;
        unsigned char *p = lp_first(lp);
        while (p != NULL && !lp_equal(p, m, len)) {
            p = lp_next(lp, lp_next(lp, p));
            r++;
        }
        if (p == NULL)
            return false;
    } else {
        const struct zset *zs = kv->v.ptr;
        const struct zsl_node *node = dict_find(&zs->dict, m, len);
        if (node == NULL)
            return false;
        r = zsl_rank(&zs->zsl, node) - 1;
    }
    *rank = reverse ? n - 1 - r : r;
    return true;
}

/* ---- Iteration ---- */

static void iter_start(struct zset_iter *it, struct kv *kv, bool reverse) {
    it->kv = kv;
    it->reverse = reverse;
    it->p = NULL;
    it->node = NULL;
}

void zset_iter_at_rank(struct zset_iter *it, struct kv *kv, size_t rank, bool reverse) {
    iter_start(it, kv, reverse);
    size_t n = zset_len(kv);
    if (rank >= n)
        return;
    size_t index = reverse ? n - 1 - rank : rank;
    if (kv->encoding == OBJ_ENC_LISTPACK)
        it->p = lp_seek(kv->v.ptr, (long)(index * 2));
    else
        it->node = zsl_by_rank(&((struct zset *)kv->v.ptr)->zsl, index + 1);
}

bool zset_iter_valid(const struct zset_iter *it) {
    return it->p != NULL || it->node != NULL;
}

void zset_iter_get(const struct zset_iter *it, struct zset_member *out) {
    if (it->p != NULL)
        lp_member_at(it->kv->v.ptr, it->p, out);
    else
        node_member(it->node, out);
}

void zset_iter_next(struct zset_iter *it) {
    if (it->p != NULL) {
        const unsigned char *lp = it->kv->v.ptr;
        if (it->reverse) {
            unsigned char *score = lp_prev(lp, it->p);
            it->p = score ? lp_prev(lp, score) : NULL;
        } else {
            it->p = lp_next(lp, lp_next(lp, it->p));
        }
    } else if (it->node != NULL) {
        it->node = it->reverse ? it->node->backward : it->node->level[0].forward;
    }
}

/* Walks a listpack from the walk's start to the first member for which
 * 'enter' holds, then keeps it only if 'stay' holds too (Redis's
 * zzlFirstInRange / zzlLastInRange). */
typedef bool (*member_test)(const struct zset_member *m, const void *range);

static void lp_seek_range(struct zset_iter *it, member_test enter, member_test stay,
                          const void *range) {
    const unsigned char *lp = it->kv->v.ptr;
    unsigned char *p = it->reverse ? lp_last(lp) : lp_first(lp);
    if (p != NULL && it->reverse)
        p = lp_prev(lp, p); /* from the last score to the last member */
    it->p = p;
    while (zset_iter_valid(it)) {
        struct zset_member m;
        zset_iter_get(it, &m);
        if (enter(&m, range)) {
            if (!stay(&m, range))
                it->p = NULL;
            return;
        }
        zset_iter_next(it);
    }
}

static bool m_gte_min(const struct zset_member *m, const void *r) {
    return zscore_gte_min(m->score, r);
}
static bool m_lte_max(const struct zset_member *m, const void *r) {
    return zscore_lte_max(m->score, r);
}
static bool m_lex_gte_min(const struct zset_member *m, const void *r) {
    return zlex_gte_min(m->p, m->len, r);
}
static bool m_lex_lte_max(const struct zset_member *m, const void *r) {
    return zlex_lte_max(m->p, m->len, r);
}

void zset_iter_at_score(struct zset_iter *it, struct kv *kv, const struct zscore_range *r,
                        bool reverse) {
    iter_start(it, kv, reverse);
    if (zscore_range_is_empty(r))
        return;
    if (kv->encoding == OBJ_ENC_LISTPACK) {
        if (reverse)
            lp_seek_range(it, m_lte_max, m_gte_min, r);
        else
            lp_seek_range(it, m_gte_min, m_lte_max, r);
        return;
    }
    struct zset *zs = kv->v.ptr;
    it->node = reverse ? zsl_last_in_score(&zs->zsl, r) : zsl_first_in_score(&zs->zsl, r);
}

void zset_iter_at_lex(struct zset_iter *it, struct kv *kv, const struct zlex_range *r,
                      bool reverse) {
    iter_start(it, kv, reverse);
    if (zlex_range_is_empty(r))
        return;
    if (kv->encoding == OBJ_ENC_LISTPACK) {
        if (reverse)
            lp_seek_range(it, m_lex_lte_max, m_lex_gte_min, r);
        else
            lp_seek_range(it, m_lex_gte_min, m_lex_lte_max, r);
        return;
    }
    struct zset *zs = kv->v.ptr;
    it->node = reverse ? zsl_last_in_lex(&zs->zsl, r) : zsl_first_in_lex(&zs->zsl, r);
}

/* ---- Range counts and deletes ---- */

size_t zset_count_score(struct kv *kv, const struct zscore_range *r) {
    struct zset_iter it;
    zset_iter_at_score(&it, kv, r, false);
    if (!zset_iter_valid(&it))
        return 0;
    if (kv->encoding == OBJ_ENC_SKIPLIST) {
        struct zset *zs = kv->v.ptr;
        struct zsl_node *last = zsl_last_in_score(&zs->zsl, r);
        return zsl_rank(&zs->zsl, last) - zsl_rank(&zs->zsl, it.node) + 1;
    }
    size_t n = 0;
    for (; zset_iter_valid(&it); zset_iter_next(&it)) {
        struct zset_member m;
        zset_iter_get(&it, &m);
        if (!zscore_lte_max(m.score, r))
            break;
        n++;
    }
    return n;
}

size_t zset_count_lex(struct kv *kv, const struct zlex_range *r) {
    struct zset_iter it;
    zset_iter_at_lex(&it, kv, r, false);
    if (!zset_iter_valid(&it))
        return 0;
    if (kv->encoding == OBJ_ENC_SKIPLIST) {
        struct zset *zs = kv->v.ptr;
        struct zsl_node *last = zsl_last_in_lex(&zs->zsl, r);
        return zsl_rank(&zs->zsl, last) - zsl_rank(&zs->zsl, it.node) + 1;
    }
    size_t n = 0;
    for (; zset_iter_valid(&it); zset_iter_next(&it)) {
        struct zset_member m;
        zset_iter_get(&it, &m);
        if (!zlex_lte_max(m.p, m.len, r))
            break;
        n++;
    }
    return n;
}

/* Deletes members from the iterator's position onwards while 'stay' holds. */
static size_t delete_while(struct zset_iter *it, member_test stay, const void *range) {
    size_t n = 0;
    if (it->p != NULL) {
        unsigned char *lp = it->kv->v.ptr;
        unsigned char *start = it->p;
        for (; zset_iter_valid(it); zset_iter_next(it), n++) {
            struct zset_member m;
            zset_iter_get(it, &m);
            if (!stay(&m, range))
                break;
        }
        lp_delete(&lp, start, n * 2, NULL);
        it->kv->v.ptr = lp;
        return n;
    }
    struct zset *zs = it->kv->v.ptr;
    while (it->node != NULL) {
        struct zset_member m;
        node_member(it->node, &m);
        if (!stay(&m, range))
            break;
        struct zsl_node *next = it->node->level[0].forward;
        zs_delete_node(zs, it->node);
        it->node = next;
        n++;
    }
    return n;
}

size_t zset_delete_score_range(struct kv *kv, const struct zscore_range *r) {
    struct zset_iter it;
    zset_iter_at_score(&it, kv, r, false);
    return delete_while(&it, m_lte_max, r);
}

size_t zset_delete_lex_range(struct kv *kv, const struct zlex_range *r) {
    struct zset_iter it;
    zset_iter_at_lex(&it, kv, r, false);
    return delete_while(&it, m_lex_lte_max, r);
}

size_t zset_delete_rank_range(struct kv *kv, size_t start, size_t end) {
    size_t count = end - start + 1;
    if (kv->encoding == OBJ_ENC_LISTPACK) {
        unsigned char *lp = kv->v.ptr;
        lp_delete_range(&lp, (long)(start * 2), count * 2);
        kv->v.ptr = lp;
        return count;
    }
    struct zset *zs = kv->v.ptr;
    struct zsl_node *n = zsl_by_rank(&zs->zsl, start + 1);
    for (size_t i = 0; i < count && n != NULL; i++) {
        struct zsl_node *next = n->level[0].forward;
        zs_delete_node(zs, n);
        n = next;
    }
    return count;
}

/* ---- Sampling and scanning ---- */

void zset_pick(const struct kv *kv, uint64_t rnd, struct zset_member *out) {
    if (kv->encoding == OBJ_ENC_LISTPACK) {
        const unsigned char *lp = kv->v.ptr;
        lp_member_at(lp, lp_seek(lp, (long)(rnd % zset_len(kv)) * 2), out);
        return;
    }
    node_member(dict_random(&((const struct zset *)kv->v.ptr)->dict, rnd), out);
}

struct scan_adapter {
    zset_scan_cb fn;
    void *arg;
};

static void scan_node(void *elem, void *arg) {
    const struct zsl_node *n = elem;
    struct scan_adapter *a = arg;
    a->fn(zsl_node_member(n), n->mlen, n->score, a->arg);
}

uint64_t zset_scan(const struct kv *kv, uint64_t cursor, zset_scan_cb fn, void *arg) {
    if (kv->encoding == OBJ_ENC_LISTPACK) {
        const unsigned char *lp = kv->v.ptr;
        for (unsigned char *p = lp_first(lp); p; p = lp_next(lp, lp_next(lp, p))) {
            struct zset_member m;
            lp_member_at(lp, p, &m);
            fn(m.p, m.len, m.score, arg);
        }
        return 0;
    }
    struct scan_adapter a = {fn, arg};
    return dict_scan(&((const struct zset *)kv->v.ptr)->dict, cursor, scan_node, &a);
}

/* ---- Object hooks ---- */

void zset_free_value(struct kv *kv) {
    if (kv->encoding == OBJ_ENC_LISTPACK)
        lp_free(kv->v.ptr);
    else
        zs_free(kv->v.ptr);
}

size_t zset_mem_bytes(const struct kv *kv) {
    if (kv->encoding == OBJ_ENC_LISTPACK)
        return mem_usable(kv->v.ptr);
    const struct zset *zs = kv->v.ptr;
    return mem_usable(zs) + dict_mem_bytes(&zs->dict) + zsl_mem_bytes(&zs->zsl);
}

static void *dup_value(const struct kv *kv) {
    if (kv->encoding == OBJ_ENC_LISTPACK) {
        size_t n = lp_bytes(kv->v.ptr);
        unsigned char *lp = mem_alloc(n);
        if (lp != NULL)
            memcpy(lp, kv->v.ptr, n);
        return lp;
    }
    const struct zset *src = kv->v.ptr;
    struct zset *zs = zs_new();
    if (zs == NULL)
        return NULL;
    for (const struct zsl_node *n = zsl_first(&src->zsl); n; n = n->level[0].forward) {
        if (zs_insert(zs, n->score, zsl_node_member(n), n->mlen) != STORAGE_OK) {
            zs_free(zs);
            return NULL;
        }
    }
    return zs;
}

void zset_register(void) {
    obj_register_free(OBJ_ZSET, zset_free_value);
    obj_register_size(OBJ_ZSET, zset_mem_bytes);
    obj_register_dup(OBJ_ZSET, dup_value);
}
