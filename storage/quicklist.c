/* quicklist (see quicklist.h): owns the node chain, the fill rules that
 * decide when a node is full, node splits on insert, and positional access.
 * The entry encoding is storage/listpack.c's; list commands (index
 * normalisation, reply shapes) are node/cmd_list.c's. */
#include "storage/quicklist.h"

#include "storage/mem.h"
#include "storage/storage.h"

#include <string.h>

/* Redis 7.0 quicklist.c: byte limits for fill -1..-5, the byte cap that
 * also applies to a positive (count) fill, and the per-entry overhead it
 * assumes when estimating a node's size after an insert. */
static const size_t fill_byte_limits[] = {4096, 8192, 16384, 32768, 65536};
#define SIZE_SAFETY_LIMIT      8192
#define SIZE_ESTIMATE_OVERHEAD 11

struct quicklist_node {
    struct quicklist_node *prev, *next;
    unsigned char *lp; /* never empty while linked */
};

struct quicklist {
    struct quicklist_node *head, *tail;
    size_t count; /* elements in all nodes */
    size_t nodes;
    int fill;
};

/* ---- Nodes ---- */

static struct quicklist_node *node_new(void) {
    struct quicklist_node *n = mem_alloc(sizeof(*n));
    if (n == NULL)
        return NULL;
    n->lp = lp_new();
    if (n->lp == NULL) {
        mem_free(n);
        return NULL;
    }
    n->prev = n->next = NULL;
    return n;
}

static void node_free(struct quicklist_node *n) {
    lp_free(n->lp);
    mem_free(n);
}

/* Whether node 'n' may take one more element of 'len' bytes. */
static bool node_allows(const struct quicklist *ql, const struct quicklist_node *n, size_t len) {
    if (n == NULL)
        return false;
    size_t new_bytes = lp_bytes(n->lp) + len + SIZE_ESTIMATE_OVERHEAD;
    if (ql->fill < 0) {
        size_t level = (size_t)(-(long)ql->fill) - 1;
        size_t levels = sizeof(fill_byte_limits) / sizeof(fill_byte_limits[0]);
        return new_bytes <= fill_byte_limits[level < levels ? level : levels - 1];
    }
    return new_bytes <= SIZE_SAFETY_LIMIT && lp_len(n->lp) < (size_t)ql->fill;
}

/* Links 'n' after 'at', or at the head when 'at' is NULL. */
static void link_after(struct quicklist *ql, struct quicklist_node *at, struct quicklist_node *n) {
    n->prev = at;
    n->next = at != NULL ? at->next : ql->head;
    if (n->next != NULL)
        n->next->prev = n;
    else
        ql->tail = n;
    if (at != NULL)
        at->next = n;
    else
        ql->head = n;
    ql->nodes++;
}

static void unlink_free(struct quicklist *ql, struct quicklist_node *n) {
    if (n->prev != NULL)
        n->prev->next = n->next;
    else
        ql->head = n->next;
    if (n->next != NULL)
        n->next->prev = n->prev;
    else
        ql->tail = n->prev;
    ql->nodes--;
    node_free(n);
}

/* A new node holding only 's'/'len', or NULL. */
static struct quicklist_node *node_with(const char *s, size_t len) {
    struct quicklist_node *n = node_new();
    if (n != NULL && lp_append(&n->lp, s, len) != 0) {
        node_free(n);
        n = NULL;
    }
    return n;
}

/* The node holding element 'index' (< count) and the index within it,
 * walking from the nearer end. */
static struct quicklist_node *locate(const struct quicklist *ql, size_t index, size_t *offset) {
    struct quicklist_node *n;
    if (index < ql->count / 2) {
        n = ql->head;
        while (index >= lp_len(n->lp)) {
            index -= lp_len(n->lp);
            n = n->next;
        }
        *offset = index;
    } else {
        size_t from_tail = ql->count - 1 - index;
        n = ql->tail;
        while (from_tail >= lp_len(n->lp)) {
            from_tail -= lp_len(n->lp);
            n = n->prev;
        }
        *offset = lp_len(n->lp) - 1 - from_tail;
    }
    return n;
}

/* ---- Lists ---- */

struct quicklist *quicklist_new(int fill) {
    struct quicklist *ql = mem_alloc(sizeof(*ql));
    if (ql == NULL)
        return NULL;
    ql->head = ql->tail = NULL;
    ql->count = ql->nodes = 0;
    ql->fill = fill;
    return ql;
}

void quicklist_free(struct quicklist *ql) {
    struct quicklist_node *n = ql->head;
    while (n != NULL) {
        struct quicklist_node *next = n->next;
        node_free(n);
        n = next;
    }
    mem_free(ql);
}

struct quicklist *quicklist_dup(const struct quicklist *ql) {
    struct quicklist *copy = quicklist_new(ql->fill);
    if (copy == NULL)
        return NULL;
    for (const struct quicklist_node *n = ql->head; n != NULL; n = n->next) {
        struct quicklist_node *c = mem_alloc(sizeof(*c));
        unsigned char *lp = mem_alloc(lp_bytes(n->lp));
        if (c == NULL || lp == NULL) {
            mem_free(c);
            mem_free(lp);
            quicklist_free(copy);
            return NULL;
        }
        memcpy(lp, n->lp, lp_bytes(n->lp));
        c->lp = lp;
        link_after(copy, copy->tail, c);
    }
    copy->count = ql->count;
    return copy;
}

size_t quicklist_count(const struct quicklist *ql) {
    return ql->count;
}

size_t quicklist_node_count(const struct quicklist *ql) {
    return ql->nodes;
}

size_t quicklist_mem_bytes(const struct quicklist *ql) {
    size_t bytes = mem_usable(ql);
    for (const struct quicklist_node *n = ql->head; n != NULL; n = n->next)
        bytes += mem_usable(n) + mem_usable(n->lp);
    return bytes;
}

int quicklist_push(struct quicklist *ql, bool at_head, const char *s, size_t len) {
    struct quicklist_node *n = at_head ? ql->head : ql->tail;
    if (node_allows(ql, n, len)) {
        int rc = at_head ? lp_prepend(&n->lp, s, len) : lp_append(&n->lp, s, len);
        if (rc != 0)
            return STORAGE_ENOMEM;
    } else {
        n = node_with(s, len);
        if (n == NULL)
            return STORAGE_ENOMEM;
        link_after(ql, at_head ? NULL : ql->tail, n);
    }
    ql->count++;
    return 0;
}

const char *quicklist_peek(const struct quicklist *ql, bool at_head, char buf[LP_INTBUF],
                           size_t *len) {
    const unsigned char *p = at_head ? lp_first(ql->head->lp) : lp_last(ql->tail->lp);
    return lp_get_str(p, buf, len);
}

void quicklist_pop(struct quicklist *ql, bool at_head) {
    struct quicklist_node *n = at_head ? ql->head : ql->tail;
    lp_delete(&n->lp, at_head ? lp_first(n->lp) : lp_last(n->lp), 1, NULL);
    ql->count--;
    if (lp_len(n->lp) == 0)
        unlink_free(ql, n);
}

void quicklist_delete_range(struct quicklist *ql, size_t start, size_t count) {
    if (count == 0)
        return;
    size_t offset;
    struct quicklist_node *n = locate(ql, start, &offset);
    ql->count -= count;
    while (count > 0) {
        struct quicklist_node *next = n->next;
        size_t in_node = lp_len(n->lp) - offset;
        size_t del = in_node < count ? in_node : count;
        if (offset == 0 && del == lp_len(n->lp))
            unlink_free(ql, n);
        else
            lp_delete_range(&n->lp, (long)offset, del);
        count -= del;
        offset = 0;
        n = next;
    }
}

/* ---- Iteration ---- */

void quicklist_iter_init(struct quicklist_iter *it, struct quicklist *ql, long index,
                         bool forward) {
    it->ql = ql;
    it->forward = forward;
    it->node = NULL;
    it->p = NULL;
    long count = (long)ql->count;
    if (index < 0)
        index += count;
    if (index < 0 || index >= count)
        return;
    size_t offset;
    it->node = locate(ql, (size_t)index, &offset);
    it->p = lp_seek(it->node->lp, (long)offset);
}

const char *quicklist_iter_get(const struct quicklist_iter *it, char buf[LP_INTBUF], size_t *len) {
    return lp_get_str(it->p, buf, len);
}

bool quicklist_iter_equal(const struct quicklist_iter *it, const char *s, size_t len) {
    return lp_equal(it->p, s, len);
}

/* Moves to the first element of the neighbouring node in the direction. */
static void step_node(struct quicklist_iter *it, struct quicklist_node *from) {
    it->node = it->forward ? from->next : from->prev;
    if (it->node == NULL)
        it->p = NULL;
    else
        it->p = it->forward ? lp_first(it->node->lp) : lp_last(it->node->lp);
}

void quicklist_iter_next(struct quicklist_iter *it) {
    struct quicklist_node *n = it->node;
    it->p = it->forward ? lp_next(n->lp, it->p) : lp_prev(n->lp, it->p);
    if (it->p == NULL)
        step_node(it, n);
}

void quicklist_iter_delete(struct quicklist_iter *it) {
    struct quicklist_node *n = it->node;
    bool was_first = lp_prev(n->lp, it->p) == NULL;
    unsigned char *next;
    lp_delete(&n->lp, it->p, 1, &next);
    it->ql->count--;
    if (lp_len(n->lp) == 0) {
        step_node(it, n);
        unlink_free(it->ql, n);
        return;
    }
    if (it->forward) {
        it->p = next;
        if (next == NULL)
            step_node(it, n);
    } else if (was_first) {
        step_node(it, n);
    } else {
        it->p = next != NULL ? lp_prev(n->lp, next) : lp_last(n->lp);
    }
}

int quicklist_iter_replace(struct quicklist_iter *it, const char *s, size_t len) {
    return lp_replace(&it->node->lp, &it->p, s, len) == 0 ? 0 : STORAGE_ENOMEM;
}

/* Moves entries from 'k' on out of node 'n' into a new node linked after
 * it. Returns the new node, or NULL (nothing changed). */
static struct quicklist_node *split_at(struct quicklist *ql, struct quicklist_node *n, size_t k) {
    struct quicklist_node *right = node_new();
    if (right == NULL)
        return NULL;
    for (unsigned char *p = lp_seek(n->lp, (long)k); p != NULL; p = lp_next(n->lp, p)) {
        struct lp_value v;
        lp_get(p, &v);
        int rc = v.str != NULL ? lp_append(&right->lp, (const char *)v.str, v.len)
                               : lp_append_int(&right->lp, v.ll);
        if (rc != 0) {
            node_free(right);
            return NULL;
        }
    }
    lp_delete_range(&n->lp, (long)k, lp_len(n->lp) - k);
    link_after(ql, n, right);
    return right;
}

int quicklist_iter_insert(struct quicklist_iter *it, bool after, const char *s, size_t len) {
    struct quicklist *ql = it->ql;
    struct quicklist_node *n = it->node;
    size_t k = after ? 1 : 0; /* where the element goes within the node */
    for (unsigned char *p = lp_prev(n->lp, it->p); p != NULL; p = lp_prev(n->lp, p))
        k++;
    size_t cnt = lp_len(n->lp);
    int rc = 0;
    if (node_allows(ql, n, len)) {
        unsigned char *before = after ? lp_next(n->lp, it->p) : it->p;
        rc = lp_insert(&n->lp, before, s, len, NULL);
    } else if (k == cnt && node_allows(ql, n->next, len)) {
        rc = lp_prepend(&n->next->lp, s, len);
    } else if (k == 0 && node_allows(ql, n->prev, len)) {
        rc = lp_append(&n->prev->lp, s, len);
    } else if (k == 0 || k == cnt) {
        struct quicklist_node *single = node_with(s, len);
        if (single == NULL)
            return STORAGE_ENOMEM;
        link_after(ql, k == 0 ? n->prev : n, single);
    } else {
        /* A full node, insertion inside it: split, then add to whichever
         * half has room, or between them. A failure after the split leaves
         * the same elements, only in two nodes. */
        struct quicklist_node *right = split_at(ql, n, k);
        if (right == NULL)
            return STORAGE_ENOMEM;
        if (node_allows(ql, n, len)) {
            rc = lp_append(&n->lp, s, len);
        } else if (node_allows(ql, right, len)) {
            rc = lp_prepend(&right->lp, s, len);
        } else {
            struct quicklist_node *single = node_with(s, len);
            if (single == NULL)
                return STORAGE_ENOMEM;
            link_after(ql, n, single);
        }
    }
    if (rc != 0)
        return STORAGE_ENOMEM;
    ql->count++;
    it->p = NULL;
    return 0;
}

/* ---- Type registration ---- */

void quicklist_free_value(struct kv *kv) {
    quicklist_free(kv->v.ptr);
}

size_t quicklist_value_bytes(const struct kv *kv) {
    return quicklist_mem_bytes(kv->v.ptr);
}

void *quicklist_dup_value(const struct kv *kv) {
    return quicklist_dup(kv->v.ptr);
}

void quicklist_register(void) {
    obj_register_free(OBJ_LIST, quicklist_free_value);
    obj_register_size(OBJ_LIST, quicklist_value_bytes);
    obj_register_dup(OBJ_LIST, quicklist_dup_value);
}
