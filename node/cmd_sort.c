/* SORT and SORT_RO with Redis 7.0's options, replies and errors: BY (key
 * patterns, "->" hash fields, and a pattern without '*' that skips
 * sorting), LIMIT, GET (incl. "#"), ASC/DESC, ALPHA and STORE (SORT only),
 * over lists, sets and sorted sets. The collections are read through
 * storage/quicklist, storage/set and storage/zset; this file owns the
 * pattern substitution, the ordering and the output.
 *
 * Order and determinism. Like Redis (glibc's stable qsort), elements that
 * compare equal keep their load order: a list's order, a sorted set's
 * order, and for a set the position order of storage/set, which is the
 * same on every member of a shard (Redis uses its hash-table order there,
 * which differs per process). So SORT ... BY nosort on a set returns the
 * members in storage/set's position order (intsets: ascending), and with
 * STORE it sorts them ALPHA first, as Redis does. When BY and LIMIT are
 * both given Redis sorts only the range with its partial quicksort, which
 * is not stable; storage/pqsort reproduces it, ties included.
 *
 * Redis 7.0 converts a listpack sorted set to a skiplist when SORT reads
 * it; SORT (a write, applied on every member) does the same so OBJECT
 * ENCODING agrees, SORT_RO (a read on one member) leaves it alone. */
#include "node/cmd_handlers.h"
#include "node/config.h"
#include "node/db.h"
#include "node/exec.h"
#include "node/notify.h"
#include "storage/pqsort.h"
#include "storage/quicklist.h"
#include "storage/set.h"
#include "storage/thash.h"
#include "storage/zset.h"

#include <errno.h>
#include <limits.h>
#include <math.h>
#include <stdlib.h>
#include <string.h>

static void reply_oom(struct exec_ctx *ctx) {
    resp_add_error(ctx->out, "OOM command not allowed when used memory > 'maxmemory'.");
}

/* ---- Pattern lookups ---- */

/* A value found through a pattern: borrowed bytes, or an integer
 * formatted into 'buf'. */
struct pattern_value {
    const char *p;
    size_t len;
    char buf[32];
};

/* The bytes of 's' up to its first NUL: Redis handles patterns as C
 * strings when it searches them. */
static size_t cstr_len(const char *s, size_t len) {
    const char *nul = memchr(s, '\0', len);
    return nul != NULL ? (size_t)(nul - s) : len;
}

/* Redis 7.0 lookupKeyByPattern: "#" is the element itself; otherwise the
 * first '*' of 'pat' is replaced by the element, and "->field" after it
 * reads a hash field instead of a string. False when the pattern has no
 * '*', the key is missing or of another type, or the field is missing. */
static bool lookup_by_pattern(struct exec_ctx *ctx, const char *pat, size_t plen, const char *elem,
                              size_t elen, struct pattern_value *out) {
    if (plen >= 1 && pat[0] == '#' && (plen == 1 || pat[1] == '\0')) {
        out->p = elem;
        out->len = elen;
        return true;
    }
    size_t clen = cstr_len(pat, plen);
    const char *star = memchr(pat, '*', clen);
    if (star == NULL)
        return false;
    size_t prefix = (size_t)(star - pat);
    const char *field = NULL;
    size_t field_len = 0;
    for (const char *f = star + 1; f + 1 < pat + clen; f++) {
        if (f[0] == '-' && f[1] == '>') {
            if (f + 2 < pat + clen) { /* "->" must be followed by a field */
                field = f + 2;
                field_len = plen - (size_t)(field - pat);
            }
            break;
        }
    }
    size_t postfix = plen - prefix - 1 - (field != NULL ? field_len + 2 : 0);
    size_t keylen = prefix + elen + postfix;
    char small[256];
    char *key = keylen <= sizeof(small) ? small : malloc(keylen);
    if (key == NULL)
        return false;
    memcpy(key, pat, prefix);
    memcpy(key + prefix, elem, elen);
    memcpy(key + prefix + elen, star + 1, postfix);
    struct kv *kv = db_lookup_read(ctx, key, keylen);
    if (key != small)
        free(key);
    if (kv == NULL)
        return false;
    if (field != NULL) {
        struct thash_str v;
        if (kv->type != OBJ_HASH || !thash_get(kv, field, field_len, &v))
            return false;
        out->len = v.len;
        if (v.p == v.buf) {
            memcpy(out->buf, v.buf, v.len);
            out->p = out->buf;
        } else {
            out->p = v.p;
        }
        return true;
    }
    if (kv->type != OBJ_STRING)
        return false;
    out->p = kv_string(kv, out->buf, &out->len);
    return true;
}

/* ---- The sorting vector ---- */

struct sort_item {
    char *elem; /* owned copy, NUL-terminated */
    size_t len;
    double score;
    char *cmp; /* ALPHA with BY: owned copy of the BY value, or NULL if missing */
    size_t cmp_len;
    size_t seq; /* load order: the tie-break of a stable sort */
};

struct sort_vector {
    struct sort_item *items;
    size_t used;
    bool failed;
};

static char *dup_bytes(const char *p, size_t len) {
    char *c = malloc(len + 1);
    if (c != NULL) {
        memcpy(c, p, len);
        c[len] = '\0';
    }
    return c;
}

static void vector_push(struct sort_vector *v, const char *p, size_t len) {
    struct sort_item *it = &v->items[v->used];
    it->elem = dup_bytes(p, len);
    if (it->elem == NULL) {
        v->failed = true;
        return;
    }
    it->len = len;
    it->score = 0;
    it->cmp = NULL;
    it->cmp_len = 0;
    it->seq = v->used;
    v->used++;
}

static void vector_free(struct sort_vector *v) {
    for (size_t i = 0; i < v->used; i++) {
        free(v->items[i].elem);
        free(v->items[i].cmp);
    }
    free(v->items);
}

/* How the comparison goes (Redis's server.sort_* globals). */
struct sort_order {
    bool desc, alpha, by_pattern, store;
};

/* Redis compareStringObjects: memcmp, then the shorter first. */
static int compare_binary(const char *a, size_t alen, const char *b, size_t blen) {
    int cmp = memcmp(a, b, alen < blen ? alen : blen);
    if (cmp != 0)
        return cmp;
    return alen < blen ? -1 : alen > blen ? 1 : 0;
}

/* Redis 7.0 sortCompare. */
static int compare_items(const struct sort_item *a, const struct sort_item *b,
                         const struct sort_order *o) {
    int cmp;
    if (!o->alpha) {
        if (a->score > b->score)
            cmp = 1;
        else if (a->score < b->score)
            cmp = -1;
        else /* equal scores: the elements decide, so the order is total */
            cmp = compare_binary(a->elem, a->len, b->elem, b->len);
    } else if (o->by_pattern) {
        if (a->cmp == NULL || b->cmp == NULL)
            cmp = a->cmp == b->cmp ? 0 : a->cmp == NULL ? -1 : 1;
        else if (o->store)
            cmp = compare_binary(a->cmp, a->cmp_len, b->cmp, b->cmp_len);
        else
            cmp = strcoll(a->cmp, b->cmp);
    } else if (o->store) {
        cmp = compare_binary(a->elem, a->len, b->elem, b->len);
    } else {
        cmp = strcoll(a->elem, b->elem);
    }
    return o->desc ? -cmp : cmp;
}

static int compare_partial(const void *a, const void *b, void *order) {
    return compare_items(a, b, order);
}

/* qsort has no context argument; a sort runs to completion within one
 * command on the loop thread, so the order lives here meanwhile. */
static const struct sort_order *current_order;

/* compare_items with ties kept in load order: glibc's qsort, which Redis
 * uses for a full sort, is a stable merge sort. */
static int compare_stable(const void *pa, const void *pb) {
    const struct sort_item *a = pa, *b = pb;
    int cmp = compare_items(a, b, current_order);
    if (cmp != 0)
        return cmp;
    return a->seq < b->seq ? -1 : a->seq > b->seq ? 1 : 0;
}

/* Redis's strtod check for a sort weight: anything after the number, a
 * range error or NaN is a conversion error (an empty string is 0). */
static bool weight_of(const char *p, size_t len, double *out) {
    char small[128];
    char *buf = len < sizeof(small) ? small : malloc(len + 1);
    if (buf == NULL)
        return false;
    memcpy(buf, p, len);
    buf[len] = '\0';
    char *end;
    errno = 0;
    *out = strtod(buf, &end);
    bool ok = *end == '\0' && errno != ERANGE && !isnan(*out);
    if (buf != small)
        free(buf);
    return ok;
}

/* ---- Loading ---- */

/* Loads the elements of 'kv' (NULL: none) into 'v'. With 'dontsort' a list
 * or sorted set loads only [*start, *end] in output order (reversed for
 * 'desc') and the range is rebased to 0, as Redis does. */
static void load_elements(struct kv *kv, bool dontsort, bool desc, long *start, long *end,
                          size_t vectorlen, struct sort_vector *v) {
    if (kv == NULL)
        return;
    if (kv->type == OBJ_LIST) {
        struct quicklist *ql = kv->v.ptr;
        long first = 0;
        bool forward = true;
        if (dontsort) {
            if (*end < *start)
                return;
            first = desc ? (long)quicklist_count(ql) - *start - 1 : *start;
            forward = !desc;
            *end -= *start;
            *start = 0;
        }
        struct quicklist_iter it;
        quicklist_iter_init(&it, ql, first, forward);
        for (; v->used < vectorlen && !v->failed && !quicklist_iter_done(&it);
             quicklist_iter_next(&it)) {
            char buf[LP_INTBUF];
            size_t len;
            const char *p = quicklist_iter_get(&it, buf, &len);
            vector_push(v, p, len);
        }
    } else if (kv->type == OBJ_SET) {
        for (size_t pos = 0; pos < vectorlen && !v->failed; pos++) {
            char buf[SET_INT_BUF];
            size_t len;
            const char *p = set_at(kv, pos, buf, &len);
            vector_push(v, p, len);
        }
    } else {
        size_t first = 0;
        bool reverse = false;
        if (dontsort) {
            first = (size_t)*start;
            reverse = desc;
            *end -= *start;
            *start = 0;
        }
        struct zset_iter it;
        zset_iter_at_rank(&it, kv, first, reverse);
        for (; v->used < vectorlen && !v->failed && zset_iter_valid(&it); zset_iter_next(&it)) {
            struct zset_member m;
            zset_iter_get(&it, &m);
            vector_push(v, m.p, m.len);
        }
    }
}

static size_t collection_len(const struct kv *kv) {
    if (kv == NULL)
        return 0;
    if (kv->type == OBJ_LIST)
        return quicklist_count(kv->v.ptr);
    if (kv->type == OBJ_SET)
        return set_size(kv);
    return zset_len(kv);
}

/* Fills the scores (or ALPHA BY values) of the loaded elements. Returns
 * false if a weight does not convert to a double ('*conv_error' set) or
 * memory ran out. */
static bool load_weights(struct exec_ctx *ctx, struct sort_vector *v, int by_i,
                         const struct sort_order *o, bool *conv_error) {
    for (size_t j = 0; j < v->used; j++) {
        struct sort_item *it = &v->items[j];
        struct pattern_value by;
        if (by_i) {
            if (!lookup_by_pattern(ctx, ctx->argv[by_i], ctx->argvlen[by_i], it->elem, it->len,
                                   &by))
                continue; /* missing: score 0, or NULL for ALPHA */
        } else {
            by.p = it->elem;
            by.len = it->len;
        }
        if (o->alpha) {
            if (by_i) {
                it->cmp = dup_bytes(by.p, by.len);
                if (it->cmp == NULL)
                    return false;
                it->cmp_len = by.len;
            }
        } else if (!weight_of(by.p, by.len, &it->score)) {
            *conv_error = true;
        }
    }
    return true;
}

/* ---- Output ---- */

static struct kv *new_list(const char *key, size_t keylen) {
    long long fill = cfg.list_max_listpack_size;
    struct quicklist *ql = quicklist_new(fill < INT_MIN ? INT_MIN : (int)fill);
    if (ql == NULL)
        return NULL;
    struct kv *kv = kv_new_ptr(key, keylen, OBJ_LIST, OBJ_ENC_QUICKLIST, ql, -1);
    if (kv == NULL)
        quicklist_free(ql);
    return kv;
}

static void reply_sorted(struct exec_ctx *ctx, const struct sort_vector *v, long start, long end,
                         const int *gets, int getop, unsigned outputlen) {
    resp_add_array(ctx->out, outputlen);
    for (long j = start; j <= end; j++) {
        const struct sort_item *it = &v->items[j];
        if (!getop)
            resp_add_bulk(ctx->out, it->elem, it->len);
        for (int g = 0; g < getop; g++) {
            struct pattern_value val;
            if (lookup_by_pattern(ctx, ctx->argv[gets[g]], ctx->argvlen[gets[g]], it->elem, it->len,
                                  &val))
                resp_add_bulk(ctx->out, val.p, val.len);
            else
                resp_add_null(ctx->out);
        }
    }
}

static void store_sorted(struct exec_ctx *ctx, int store_i, const struct sort_vector *v, long start,
                         long end, const int *gets, int getop, unsigned outputlen) {
    const char *key = ctx->argv[store_i];
    size_t keylen = ctx->argvlen[store_i];
    /* Redis 7.0 sortCommandGeneric: "sortstore", or "del" when an empty
     * result removed an existing destination. */
    if (outputlen == 0) {
        if (db_delete(ctx, key, keylen))
            notify_keyspace_event(ctx, NOTIFY_GENERIC, "del", key, keylen);
        resp_add_int(ctx->out, 0);
        return;
    }
    struct kv *dst = new_list(key, keylen);
    int rc = dst == NULL ? -1 : 0;
    for (long j = start; rc == 0 && j <= end; j++) {
        const struct sort_item *it = &v->items[j];
        if (!getop)
            rc = quicklist_push(dst->v.ptr, false, it->elem, it->len);
        for (int g = 0; rc == 0 && g < getop; g++) {
            struct pattern_value val;
            if (!lookup_by_pattern(ctx, ctx->argv[gets[g]], ctx->argvlen[gets[g]], it->elem,
                                   it->len, &val)) {
                val.p = "";
                val.len = 0;
            }
            rc = quicklist_push(dst->v.ptr, false, val.p, val.len);
        }
    }
    if (rc != 0) {
        if (dst != NULL)
            kv_free(dst);
        reply_oom(ctx);
        return;
    }
    if (!db_set(ctx, dst))
        return;
    notify_keyspace_event(ctx, NOTIFY_LIST, "sortstore", key, keylen);
    resp_add_int(ctx->out, outputlen);
}

/* ---- SORT ---- */

/* Redis 7.0 sortCommandGeneric. */
static void sort_generic(struct exec_ctx *ctx, bool readonly) {
    struct sort_order order = {false, false, false, false};
    long limit_start = 0, limit_count = -1;
    bool dontsort = false;
    int by_i = 0, store_i = 0, getop = 0;
    int *gets = malloc((size_t)ctx->argc * sizeof(*gets));
    if (gets == NULL) {
        reply_oom(ctx);
        return;
    }
    for (int j = 2; j < ctx->argc; j++) {
        int left = ctx->argc - j - 1;
        if (exec_arg_is(ctx, j, "asc")) {
            order.desc = false;
        } else if (exec_arg_is(ctx, j, "desc")) {
            order.desc = true;
        } else if (exec_arg_is(ctx, j, "alpha")) {
            order.alpha = true;
        } else if (exec_arg_is(ctx, j, "limit") && left >= 2) {
            long long s, c;
            if (!exec_arg_ll(ctx, j + 1, &s) || !exec_arg_ll(ctx, j + 2, &c))
                goto out;
            limit_start = (long)s;
            limit_count = (long)c;
            j += 2;
        } else if (!readonly && exec_arg_is(ctx, j, "store") && left >= 1) {
            store_i = j + 1;
            j++;
        } else if (exec_arg_is(ctx, j, "by") && left >= 1) {
            by_i = j + 1;
            /* A pattern without '*' names no key: nothing to sort by. */
            if (memchr(ctx->argv[j + 1], '*', cstr_len(ctx->argv[j + 1], ctx->argvlen[j + 1])) ==
                NULL) {
                dontsort = true;
            } else if (cfg.cluster_enabled) {
                resp_add_error(ctx->out, "ERR BY option of SORT denied in Cluster mode.");
                goto out;
            }
            j++;
        } else if (exec_arg_is(ctx, j, "get") && left >= 1) {
            if (cfg.cluster_enabled) {
                resp_add_error(ctx->out, "ERR GET option of SORT denied in Cluster mode.");
                goto out;
            }
            gets[getop++] = j + 1;
            j++;
        } else {
            exec_reply_syntax_error(ctx);
            goto out;
        }
    }

    struct kv *kv = db_lookup_read(ctx, ctx->argv[1], ctx->argvlen[1]);
    if (kv != NULL && kv->type != OBJ_SET && kv->type != OBJ_LIST && kv->type != OBJ_ZSET) {
        exec_reply_wrongtype(ctx);
        goto out;
    }
    /* A stored result must not depend on set order: Redis sorts ALPHA. */
    if (dontsort && kv != NULL && kv->type == OBJ_SET && store_i) {
        dontsort = false;
        order.alpha = true;
        by_i = 0;
    }
    /* Redis 7.0 converts the sorted set (see the file comment). */
    if (!readonly && kv != NULL && kv->type == OBJ_ZSET && kv->encoding == OBJ_ENC_LISTPACK)
        (void)zset_convert_to_skiplist(kv); /* on failure it stays a listpack: same content */

    long vectorlen = (long)collection_len(kv);
    /* Redis 7.0 clamps both to the length first, so nothing overflows. */
    long start = limit_start < 0 ? 0 : limit_start > vectorlen ? vectorlen : limit_start;
    if (limit_count > vectorlen)
        limit_count = vectorlen;
    long end = limit_count < 0 ? vectorlen - 1 : start + limit_count - 1;
    if (start >= vectorlen) {
        start = vectorlen - 1;
        end = vectorlen - 2;
    }
    if (end >= vectorlen)
        end = vectorlen - 1;
    bool ordered_type = kv != NULL && (kv->type == OBJ_ZSET || kv->type == OBJ_LIST);
    if (ordered_type && dontsort && (start != 0 || end != vectorlen - 1))
        vectorlen = end - start + 1;

    struct sort_vector v = {NULL, 0, false};
    if (vectorlen > 0) {
        v.items = malloc((size_t)vectorlen * sizeof(*v.items));
        if (v.items == NULL) {
            reply_oom(ctx);
            goto out;
        }
    }
    load_elements(kv, dontsort, order.desc, &start, &end, vectorlen > 0 ? (size_t)vectorlen : 0,
                  &v);
    bool conv_error = false;
    order.by_pattern = by_i != 0;
    order.store = store_i != 0;
    if (!v.failed && !dontsort) {
        if (!load_weights(ctx, &v, by_i, &order, &conv_error))
            v.failed = true;
        else if (v.used > 1 && by_i && (start != 0 || end != vectorlen - 1)) {
            /* Redis sorts just the LIMIT range here (pqsort, not stable). */
            pqsort(v.items, v.used, sizeof(*v.items), compare_partial, &order, (size_t)start,
                   (size_t)(end + 1));
        } else if (v.used > 1) {
            current_order = &order;
            qsort(v.items, v.used, sizeof(*v.items), compare_stable);
            current_order = NULL;
        }
    }
    if (v.failed) {
        reply_oom(ctx);
        goto out_vector;
    }

    long per_get = end - start + 1; /* >= 0: end >= start - 1 after clamping */
    unsigned outputlen = (unsigned)(getop ? getop * per_get : per_get);
    if (conv_error)
        resp_add_error(ctx->out, "ERR One or more scores can't be converted into double");
    else if (!store_i)
        reply_sorted(ctx, &v, start, end, gets, getop, outputlen);
    else
        store_sorted(ctx, store_i, &v, start, end, gets, getop, outputlen);
out_vector:
    vector_free(&v);
out:
    free(gets);
}

void cmd_sort(struct exec_ctx *ctx) {
    sort_generic(ctx, false);
}

void cmd_sort_ro(struct exec_ctx *ctx) {
    sort_generic(ctx, true);
}
