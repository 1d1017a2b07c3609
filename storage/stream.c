/* Stream values (see stream.h). Owns the entry log, its listpack nodes and
 * the consumer-group bookkeeping; it knows nothing of commands or replies. */
#include "storage/stream.h"

#include "storage/listpack.h"
#include "storage/mem.h"
#include "storage/object.h"
#include "storage/storage.h"

#include <stdio.h>
#include <string.h>

/* Fixed elements of an entry besides its fields and values:
 * flag, ms-delta, seq-delta, nfv ... count. */
#define ENTRY_OVERHEAD 5
#define FLAG_LIVE      0
#define FLAG_DELETED   1

struct stream_node {
    struct stream_id master; /* ID the deltas are relative to */
    struct stream_id last;   /* ID of the last entry appended */
    unsigned char *lp;
    uint32_t entries; /* including deleted ones */
    uint32_t deleted;
};

static int push_node(struct stream *s, struct stream_node *n);

struct stream *stream_new(void) {
    struct stream *s = mem_alloc(sizeof(*s));
    if (s != NULL)
        memset(s, 0, sizeof(*s));
    return s;
}

static void free_node(struct stream_node *n) {
    lp_free(n->lp);
    mem_free(n);
}

void stream_free(struct stream *s) {
    if (s == NULL)
        return;
    for (size_t i = 0; i < s->nnodes; i++)
        free_node(s->nodes[i]);
    mem_free(s->nodes);
    while (s->ngroups > 0)
        stream_group_destroy(s, s->groups[0]);
    mem_free(s->groups);
    mem_free(s);
}

static struct stream_node *dup_node(const struct stream_node *n) {
    struct stream_node *copy = mem_alloc(sizeof(*copy));
    unsigned char *lp = mem_alloc(lp_bytes(n->lp));
    if (copy == NULL || lp == NULL) {
        mem_free(copy);
        mem_free(lp);
        return NULL;
    }
    *copy = *n;
    memcpy(lp, n->lp, lp_bytes(n->lp));
    copy->lp = lp;
    return copy;
}

/* Copies the groups of 'from' into 'to' (which has none). */
static bool dup_groups(struct stream *to, const struct stream *from) {
    for (size_t i = 0; i < from->ngroups; i++) {
        const struct stream_group *g = from->groups[i];
        bool oom, created;
        struct stream_group *cg =
            stream_group_create(to, g->name, g->namelen, &g->last_id, g->entries_read, &oom);
        if (cg == NULL)
            return false;
        for (size_t j = 0; j < g->nconsumers; j++) {
            const struct stream_consumer *c = g->consumers[j];
            struct stream_consumer *cc =
                stream_consumer_get(cg, c->name, c->namelen, c->seen_time_ms, &created);
            if (cc == NULL)
                return false;
            for (struct idmap_node *p = idmap_seek(c->pel, NULL); p; p = idmap_next(p)) {
                const struct stream_nack *nack = idmap_node_value(p);
                struct stream_nack *copy = stream_pel_add(cg, cc, idmap_node_id(p));
                if (copy == NULL)
                    return false;
                copy->delivery_time_ms = nack->delivery_time_ms;
                copy->delivery_count = nack->delivery_count;
            }
        }
    }
    return true;
}

struct stream *stream_dup(const struct stream *s) {
    struct stream *copy = stream_new();
    if (copy == NULL)
        return NULL;
    for (size_t i = 0; i < s->nnodes; i++) {
        struct stream_node *n = dup_node(s->nodes[i]);
        if (n == NULL || push_node(copy, n) != STORAGE_OK) {
            if (n != NULL)
                free_node(n);
            goto err;
        }
    }
    copy->length = s->length;
    copy->last_id = s->last_id;
    copy->first_id = s->first_id;
    copy->max_deleted_id = s->max_deleted_id;
    copy->entries_added = s->entries_added;
    if (!dup_groups(copy, s))
        goto err;
    return copy;
err:
    stream_free(copy);
    return NULL;
}

size_t stream_node_count(const struct stream *s) {
    return s->nnodes;
}

size_t stream_mem_bytes(const struct stream *s) {
    size_t bytes = mem_usable(s) + mem_usable(s->nodes) + mem_usable(s->groups);
    for (size_t i = 0; i < s->nnodes; i++)
        bytes += mem_usable(s->nodes[i]) + lp_bytes(s->nodes[i]->lp);
    for (size_t i = 0; i < s->ngroups; i++) {
        const struct stream_group *g = s->groups[i];
        bytes += mem_usable(g) + mem_usable(g->name) + idmap_mem_bytes(g->pel) +
                 idmap_len(g->pel) * sizeof(struct stream_nack);
        for (size_t j = 0; j < g->nconsumers; j++)
            bytes += mem_usable(g->consumers[j]) + idmap_mem_bytes(g->consumers[j]->pel);
    }
    return bytes;
}

/* ---- Entry encoding ---- */

static uint64_t read_u64(const unsigned char *p) {
    struct lp_value v;
    lp_get(p, &v);
    if (v.str == NULL)
        return (uint64_t)v.ll;
    uint64_t x = 0; /* deltas above INT64_MAX are kept as decimal strings */
    for (size_t i = 0; i < v.len; i++)
        x = x * 10 + (uint64_t)(v.str[i] - '0');
    return x;
}

static int append_u64(unsigned char **lp, uint64_t v) {
    char buf[24];
    int n = snprintf(buf, sizeof(buf), "%llu", (unsigned long long)v);
    return lp_append(lp, buf, (size_t)n);
}

/* Decodes the entry whose flag is at 'p': its ID, field count, and the
 * position of its first field. Returns the position after the entry. */
static unsigned char *decode_entry(const struct stream_node *n, unsigned char *p, int *flag,
                                   struct stream_id *id, size_t *nfv, unsigned char **fv) {
    struct lp_value v;
    lp_get(p, &v);
    *flag = (int)v.ll;
    p = lp_next(n->lp, p);
    id->ms = n->master.ms + read_u64(p);
    p = lp_next(n->lp, p);
    id->seq = n->master.seq + read_u64(p);
    p = lp_next(n->lp, p);
    lp_get(p, &v);
    *nfv = (size_t)v.ll;
    *fv = lp_next(n->lp, p);
    p = *fv;
    for (size_t i = 0; i < *nfv; i++)
        p = lp_next(n->lp, p);
    return lp_next(n->lp, p); /* skip the trailing count */
}

/* The flag position of the entry ending just before 'after' (NULL: the
 * node's last entry), or NULL when there is none. */
static unsigned char *entry_before(const struct stream_node *n, unsigned char *after) {
    unsigned char *p = after ? lp_prev(n->lp, after) : lp_last(n->lp);
    if (p == NULL)
        return NULL;
    struct lp_value v;
    lp_get(p, &v);
    for (long long i = 1; i < v.ll; i++)
        p = lp_prev(n->lp, p);
    return p;
}

static int push_node(struct stream *s, struct stream_node *n) {
    if (s->nnodes == s->cap) {
        size_t cap = s->cap ? s->cap * 2 : 4;
        struct stream_node **nodes = mem_realloc(s->nodes, cap * sizeof(*nodes));
        if (nodes == NULL)
            return STORAGE_ENOMEM;
        s->nodes = nodes;
        s->cap = cap;
    }
    s->nodes[s->nnodes++] = n;
    return STORAGE_OK;
}

int stream_append(struct stream *s, const struct stream_id *id, int nfv, char *const *fv,
                  const size_t *fvlen, size_t node_max_bytes, size_t node_max_entries) {
    size_t total = 0;
    for (int i = 0; i < nfv; i++)
        total += fvlen[i];
    struct stream_node *n = s->nnodes ? s->nodes[s->nnodes - 1] : NULL;
    /* Redis 7.0 starts a new node when this entry would reach the byte bound
     * or the node already holds the maximum number of entries. */
    if (n != NULL && ((node_max_bytes && lp_bytes(n->lp) + total >= node_max_bytes) ||
                      (node_max_entries && n->entries >= node_max_entries)))
        n = NULL;
    bool fresh = n == NULL;
    if (fresh) {
        n = mem_alloc(sizeof(*n));
        unsigned char *lp = lp_new();
        if (n == NULL || lp == NULL) {
            mem_free(n);
            lp_free(lp);
            return STORAGE_ENOMEM;
        }
        memset(n, 0, sizeof(*n));
        n->lp = lp;
        n->master = *id;
    }
    /* Build the entry on a copy so a failure leaves the node untouched. */
    size_t before = lp_len(n->lp);
    int rc = lp_append_int(&n->lp, FLAG_LIVE);
    rc = rc ? rc : append_u64(&n->lp, id->ms - n->master.ms);
    rc = rc ? rc : append_u64(&n->lp, id->seq - n->master.seq);
    rc = rc ? rc : lp_append_int(&n->lp, nfv);
    for (int i = 0; i < nfv && rc == 0; i++)
        rc = lp_append(&n->lp, fv[i], fvlen[i]);
    rc = rc ? rc : lp_append_int(&n->lp, nfv + ENTRY_OVERHEAD);
    if (rc == 0 && fresh)
        rc = push_node(s, n);
    if (rc != 0) {
        lp_delete_range(&n->lp, (long)before, lp_len(n->lp) - before);
        if (fresh)
            free_node(n);
        return rc;
    }
    n->entries++;
    n->last = *id;
    if (s->length == 0)
        s->first_id = *id;
    s->length++;
    s->entries_added++;
    s->last_id = *id;
    return STORAGE_OK;
}

/* ---- Finding entries ---- */

/* Index of the first node whose last ID >= 'id' (nnodes if none). */
static size_t node_at_or_after(const struct stream *s, const struct stream_id *id) {
    size_t lo = 0, hi = s->nnodes;
    while (lo < hi) {
        size_t mid = lo + (hi - lo) / 2;
        if (stream_id_cmp(&s->nodes[mid]->last, id) < 0)
            lo = mid + 1;
        else
            hi = mid;
    }
    return lo;
}

/* Finds the live-or-deleted entry 'id': its node index and flag position. */
static bool locate(const struct stream *s, const struct stream_id *id, size_t *node,
                   unsigned char **flagpos) {
    size_t i = node_at_or_after(s, id);
    if (i == s->nnodes || stream_id_cmp(&s->nodes[i]->master, id) > 0)
        return false;
    struct stream_node *n = s->nodes[i];
    for (unsigned char *p = lp_first(n->lp); p != NULL;) {
        int flag;
        struct stream_id eid;
        size_t nfv;
        unsigned char *fv;
        unsigned char *next = decode_entry(n, p, &flag, &eid, &nfv, &fv);
        int cmp = stream_id_cmp(&eid, id);
        if (cmp == 0 && flag == FLAG_LIVE) {
            *node = i;
            *flagpos = p;
            return true;
        }
        if (cmp > 0)
            break;
        p = next;
    }
    return false;
}

bool stream_contains(const struct stream *s, const struct stream_id *id) {
    size_t node;
    unsigned char *p;
    return locate(s, id, &node, &p);
}

static void remove_node(struct stream *s, size_t i) {
    free_node(s->nodes[i]);
    memmove(s->nodes + i, s->nodes + i + 1, (s->nnodes - i - 1) * sizeof(*s->nodes));
    s->nnodes--;
}

/* Recomputes first_id: the first live entry's ID (0-0 when empty). */
static void refresh_first_id(struct stream *s) {
    struct stream_iter it;
    struct stream_id id;
    size_t nfv;
    stream_iter_init(&it, s, NULL, NULL, false);
    if (stream_iter_next(&it, &id, &nfv))
        s->first_id = id;
    else
        memset(&s->first_id, 0, sizeof(s->first_id));
}

bool stream_delete(struct stream *s, const struct stream_id *id) {
    size_t i;
    unsigned char *p;
    if (!locate(s, id, &i, &p))
        return false;
    struct stream_node *n = s->nodes[i];
    lp_replace_int(&n->lp, &p, FLAG_DELETED); /* same size: cannot fail */
    n->deleted++;
    s->length--;
    if (stream_id_cmp(id, &s->max_deleted_id) > 0)
        s->max_deleted_id = *id;
    if (n->deleted == n->entries)
        remove_node(s, i);
    if (stream_id_cmp(id, &s->first_id) == 0)
        refresh_first_id(s);
    return true;
}

size_t stream_trim(struct stream *s, enum stream_trim_strategy strategy, size_t maxlen,
                   const struct stream_id *minid, bool approx, size_t limit) {
    size_t removed = 0;
    while (s->nnodes > 0) {
        if (strategy == STREAM_TRIM_MAXLEN && s->length <= maxlen)
            break;
        struct stream_node *n = s->nodes[0];
        size_t live = n->entries - n->deleted;
        bool whole = strategy == STREAM_TRIM_MAXLEN ? s->length - live >= maxlen
                                                    : stream_id_cmp(&n->last, minid) < 0;
        if (whole) {
            if (limit && removed + live > limit)
                break;
            removed += live;
            s->length -= live;
            remove_node(s, 0);
            continue;
        }
        if (approx)
            break; /* '~' never splits a node */
        /* Exact trimming: flag entries of the first node one by one. */
        for (unsigned char *p = lp_first(n->lp); p != NULL;) {
            if (strategy == STREAM_TRIM_MAXLEN && s->length <= maxlen)
                break;
            int flag;
            struct stream_id id;
            size_t nfv;
            unsigned char *fv;
            unsigned char *next = decode_entry(n, p, &flag, &id, &nfv, &fv);
            if (strategy == STREAM_TRIM_MINID && stream_id_cmp(&id, minid) >= 0)
                break;
            if (flag == FLAG_LIVE) {
                if (limit && removed >= limit)
                    break;
                size_t off = (size_t)(next ? next - n->lp : 0);
                lp_replace_int(&n->lp, &p, FLAG_DELETED);
                next = next ? n->lp + off : NULL;
                n->deleted++;
                s->length--;
                removed++;
            }
            p = next;
        }
        if (n->deleted == n->entries)
            remove_node(s, 0);
        break;
    }
    if (removed > 0)
        refresh_first_id(s);
    return removed;
}

/* ---- Iteration ---- */

void stream_iter_init(struct stream_iter *it, const struct stream *s, const struct stream_id *start,
                      const struct stream_id *end, bool rev) {
    memset(it, 0, sizeof(*it));
    it->s = s;
    it->rev = rev;
    if (start != NULL)
        it->start = *start;
    if (end != NULL)
        it->end = *end;
    else
        it->end.ms = it->end.seq = UINT64_MAX;
    if (stream_id_cmp(&it->start, &it->end) > 0 || s->nnodes == 0) {
        it->done = true;
        return;
    }
    if (!rev) {
        it->node = node_at_or_after(s, &it->start);
        it->done = it->node == s->nnodes;
        if (!it->done)
            it->pos = lp_first(s->nodes[it->node]->lp);
    } else {
        size_t i = node_at_or_after(s, &it->end);
        /* Walk back from the node that may hold 'end' (or the last node). */
        it->node = i == s->nnodes ? s->nnodes - 1 : i;
        it->pos = entry_before(s->nodes[it->node], NULL);
    }
}

bool stream_iter_next(struct stream_iter *it, struct stream_id *id, size_t *nfv) {
    const struct stream *s = it->s;
    while (!it->done) {
        struct stream_node *n = s->nodes[it->node];
        if (it->pos == NULL) {
            if (!it->rev) {
                if (++it->node == s->nnodes)
                    break;
                it->pos = lp_first(s->nodes[it->node]->lp);
            } else {
                if (it->node == 0)
                    break;
                it->node--;
                it->pos = entry_before(s->nodes[it->node], NULL);
            }
            continue;
        }
        int flag;
        unsigned char *here = it->pos;
        unsigned char *after = decode_entry(n, here, &flag, id, nfv, &it->fv);
        it->pos = it->rev ? entry_before(n, here) : after;
        if (!it->rev && stream_id_cmp(id, &it->end) > 0)
            break;
        if (it->rev && stream_id_cmp(id, &it->start) < 0)
            break;
        if (flag != FLAG_LIVE)
            continue;
        if (!it->rev && stream_id_cmp(id, &it->start) < 0)
            continue;
        if (it->rev && stream_id_cmp(id, &it->end) > 0)
            continue;
        return true;
    }
    it->done = true;
    return false;
}

const char *stream_iter_string(struct stream_iter *it, char *buf, size_t *len) {
    const char *str = lp_get_str(it->fv, buf, len);
    it->fv = lp_next(it->s->nodes[it->node]->lp, it->fv);
    return str;
}

/* ---- Consumer groups ---- */

/* Index where 'name' is or would be in a sorted array of named things. */
#define NAMED_SEARCH(array, count, name, len, out)                                                 \
    do {                                                                                           \
        size_t lo_ = 0, hi_ = (count);                                                             \
        while (lo_ < hi_) {                                                                        \
            size_t mid_ = lo_ + (hi_ - lo_) / 2;                                                   \
            size_t ml_ = (array)[mid_]->namelen;                                                   \
            int c_ = memcmp((array)[mid_]->name, (name), ml_ < (len) ? ml_ : (len));               \
            if (c_ < 0 || (c_ == 0 && ml_ < (len)))                                                \
                lo_ = mid_ + 1;                                                                    \
            else                                                                                   \
                hi_ = mid_;                                                                        \
        }                                                                                          \
        (out) = lo_;                                                                               \
    } while (0)

static bool name_is(const char *a, size_t alen, const char *b, size_t blen) {
    return alen == blen && memcmp(a, b, alen) == 0;
}

static char *copy_name(const char *name, size_t len) {
    char *copy = mem_alloc(len + 1);
    if (copy != NULL) {
        memcpy(copy, name, len);
        copy[len] = '\0';
    }
    return copy;
}

/* Inserts 'item' at 'at' in a growable pointer array. */
static int insert_at(void ***array, size_t *count, size_t at, void *item) {
    void **grown = mem_realloc(*array, (*count + 1) * sizeof(void *));
    if (grown == NULL)
        return STORAGE_ENOMEM;
    memmove(grown + at + 1, grown + at, (*count - at) * sizeof(void *));
    grown[at] = item;
    *array = grown;
    (*count)++;
    return STORAGE_OK;
}

static void remove_at(void **array, size_t *count, size_t at) {
    memmove(array + at, array + at + 1, (*count - at - 1) * sizeof(void *));
    (*count)--;
}

struct stream_group *stream_group_find(const struct stream *s, const char *name, size_t len) {
    size_t at;
    NAMED_SEARCH(s->groups, s->ngroups, name, len, at);
    if (at < s->ngroups && name_is(s->groups[at]->name, s->groups[at]->namelen, name, len))
        return s->groups[at];
    return NULL;
}

struct stream_group *stream_group_create(struct stream *s, const char *name, size_t len,
                                         const struct stream_id *last_id, long long entries_read,
                                         bool *oom) {
    *oom = false;
    size_t at;
    NAMED_SEARCH(s->groups, s->ngroups, name, len, at);
    if (at < s->ngroups && name_is(s->groups[at]->name, s->groups[at]->namelen, name, len))
        return NULL;
    struct stream_group *g = mem_alloc(sizeof(*g));
    if (g == NULL)
        goto oom;
    memset(g, 0, sizeof(*g));
    g->name = copy_name(name, len);
    g->pel = idmap_new();
    if (g->name == NULL || g->pel == NULL ||
        insert_at((void ***)&s->groups, &s->ngroups, at, g) != STORAGE_OK) {
        mem_free(g->name);
        idmap_free(g->pel, NULL);
        mem_free(g);
        goto oom;
    }
    g->namelen = len;
    g->last_id = *last_id;
    g->entries_read = entries_read;
    return g;
oom:
    *oom = true;
    return NULL;
}

static void free_consumer(struct stream_consumer *c) {
    idmap_free(c->pel, NULL);
    mem_free(c->name);
    mem_free(c);
}

static void free_nack(void *nack) {
    mem_free(nack);
}

void stream_group_destroy(struct stream *s, struct stream_group *g) {
    for (size_t i = 0; i < s->ngroups; i++) {
        if (s->groups[i] == g) {
            remove_at((void **)s->groups, &s->ngroups, i);
            break;
        }
    }
    for (size_t i = 0; i < g->nconsumers; i++)
        free_consumer(g->consumers[i]);
    mem_free(g->consumers);
    idmap_free(g->pel, free_nack);
    mem_free(g->name);
    mem_free(g);
}

struct stream_consumer *stream_consumer_find(const struct stream_group *g, const char *name,
                                             size_t len) {
    size_t at;
    NAMED_SEARCH(g->consumers, g->nconsumers, name, len, at);
    if (at < g->nconsumers && name_is(g->consumers[at]->name, g->consumers[at]->namelen, name, len))
        return g->consumers[at];
    return NULL;
}

struct stream_consumer *stream_consumer_get(struct stream_group *g, const char *name, size_t len,
                                            int64_t now_ms, bool *created) {
    *created = false;
    size_t at;
    NAMED_SEARCH(g->consumers, g->nconsumers, name, len, at);
    if (at < g->nconsumers && name_is(g->consumers[at]->name, g->consumers[at]->namelen, name, len))
        return g->consumers[at];
    struct stream_consumer *c = mem_alloc(sizeof(*c));
    if (c == NULL)
        return NULL;
    memset(c, 0, sizeof(*c));
    c->name = copy_name(name, len);
    c->pel = idmap_new();
    if (c->name == NULL || c->pel == NULL ||
        insert_at((void ***)&g->consumers, &g->nconsumers, at, c) != STORAGE_OK) {
        free_consumer(c);
        return NULL;
    }
    c->namelen = len;
    c->seen_time_ms = now_ms;
    *created = true;
    return c;
}

size_t stream_consumer_delete(struct stream_group *g, struct stream_consumer *c) {
    size_t pending = idmap_len(c->pel);
    for (struct idmap_node *n = idmap_seek(c->pel, NULL); n != NULL; n = idmap_next(n))
        mem_free(idmap_remove(g->pel, idmap_node_id(n)));
    for (size_t i = 0; i < g->nconsumers; i++) {
        if (g->consumers[i] == c) {
            remove_at((void **)g->consumers, &g->nconsumers, i);
            break;
        }
    }
    free_consumer(c);
    return pending;
}

int stream_pel_move(struct stream_group *g, struct stream_nack *nack, const struct stream_id *id,
                    struct stream_consumer *c) {
    (void)g;
    if (nack->consumer == c)
        return STORAGE_OK;
    if (idmap_insert(c->pel, id, nack) != STORAGE_OK)
        return STORAGE_ENOMEM;
    idmap_remove(nack->consumer->pel, id);
    nack->consumer = c;
    return STORAGE_OK;
}

struct stream_nack *stream_pel_add(struct stream_group *g, struct stream_consumer *c,
                                   const struct stream_id *id) {
    struct stream_nack *nack = mem_alloc(sizeof(*nack));
    if (nack == NULL)
        return NULL;
    memset(nack, 0, sizeof(*nack));
    nack->consumer = c;
    if (idmap_insert(g->pel, id, nack) != STORAGE_OK) {
        mem_free(nack);
        return NULL;
    }
    if (idmap_insert(c->pel, id, nack) != STORAGE_OK) {
        mem_free(idmap_remove(g->pel, id));
        return NULL;
    }
    return nack;
}

int stream_pel_deliver(struct stream_group *g, struct stream_consumer *c,
                       const struct stream_id *id, int64_t now_ms) {
    struct stream_nack *nack = idmap_find(g->pel, id);
    if (nack == NULL) {
        nack = stream_pel_add(g, c, id);
        if (nack == NULL)
            return STORAGE_ENOMEM;
    } else if (stream_pel_move(g, nack, id, c) != STORAGE_OK) {
        return STORAGE_ENOMEM;
    }
    nack->delivery_time_ms = now_ms;
    nack->delivery_count = 1;
    return STORAGE_OK;
}

bool stream_pel_ack(struct stream_group *g, const struct stream_id *id) {
    struct stream_nack *nack = idmap_remove(g->pel, id);
    if (nack == NULL)
        return false;
    idmap_remove(nack->consumer->pel, id);
    mem_free(nack);
    return true;
}

/* ---- Logical read counters (Redis 7.0 t_stream.c semantics) ---- */

bool stream_range_has_tombstones(const struct stream *s, const struct stream_id *start,
                                 const struct stream_id *end) {
    if (s->length == 0 || stream_id_is_zero(&s->max_deleted_id))
        return false;
    if (stream_id_cmp(&s->first_id, &s->max_deleted_id) > 0)
        return false; /* the latest tombstone is before the first entry */
    struct stream_id lo = {0, 0}, hi = {UINT64_MAX, UINT64_MAX};
    if (start != NULL)
        lo = *start;
    if (end != NULL)
        hi = *end;
    return stream_id_cmp(&lo, &s->max_deleted_id) <= 0 &&
           stream_id_cmp(&s->max_deleted_id, &hi) <= 0;
}

long long stream_estimate_distance(const struct stream *s, const struct stream_id *id) {
    if (s->entries_added == 0)
        return 0;
    if (s->length == 0 && stream_id_cmp(id, &s->last_id) < 1)
        return (long long)s->entries_added;
    int cmp_last = stream_id_cmp(id, &s->last_id);
    if (cmp_last == 0)
        return (long long)s->entries_added;
    if (cmp_last > 0)
        return STREAM_ENTRIES_READ_UNKNOWN;
    int cmp_first = stream_id_cmp(id, &s->first_id);
    if (stream_id_is_zero(&s->max_deleted_id) ||
        stream_id_cmp(&s->max_deleted_id, &s->first_id) < 0) {
        if (cmp_first < 0)
            return (long long)(s->entries_added - s->length);
        if (cmp_first == 0)
            return (long long)(s->entries_added - s->length + 1);
    }
    return STREAM_ENTRIES_READ_UNKNOWN;
}

void stream_group_advance(const struct stream *s, struct stream_group *g,
                          const struct stream_id *id) {
    if (stream_id_cmp(id, &g->last_id) <= 0)
        return;
    if (g->entries_read != STREAM_ENTRIES_READ_UNKNOWN && !stream_range_has_tombstones(s, id, NULL))
        g->entries_read++;
    else if (s->entries_added)
        g->entries_read = stream_estimate_distance(s, id);
    g->last_id = *id;
}

/* ---- Registration with storage/object ---- */

static void free_value(struct kv *kv) {
    stream_free(kv->v.ptr);
}

static size_t value_size(const struct kv *kv) {
    return stream_mem_bytes(kv->v.ptr);
}

static void *dup_value(const struct kv *kv) {
    return stream_dup(kv->v.ptr);
}

void stream_register(void) {
    obj_register_free(OBJ_STREAM, free_value);
    obj_register_size(OBJ_STREAM, value_size);
    obj_register_dup(OBJ_STREAM, dup_value);
}
