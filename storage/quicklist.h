/* quicklist: the list value, a doubly linked list of listpack nodes
 * (OBJECT ENCODING "quicklist", as Redis 7.0 reports for every list).
 *
 * Each node holds a listpack (storage/listpack.h) of consecutive elements,
 * bounded by the list's 'fill' (the list-max-listpack-size directive, read
 * when the list is created): a positive fill caps the entries per node (and
 * a node at 8 KB, Redis's safety limit); -1..-5 cap a node's bytes at 4, 8,
 * 16, 32 or 64 KB (values below -5 act as -5). Pushes and pops at either end
 * touch one node, so they stay O(1) however long the list is; access by
 * index walks nodes from the nearer end. Empty nodes are removed at once.
 *
 * Elements are binary-safe byte strings; a canonical decimal integer is
 * stored as an integer by the listpack and reads back identically. Bytes
 * read from a list are borrowed until the list changes. */
#ifndef KR_STORAGE_QUICKLIST_H
#define KR_STORAGE_QUICKLIST_H

#include "storage/listpack.h"
#include "storage/object.h"

#include <stdbool.h>
#include <stddef.h>

struct quicklist;
struct quicklist_node;

/* Returns an owned, empty list (free with quicklist_free), or NULL. */
struct quicklist *quicklist_new(int fill);
void quicklist_free(struct quicklist *ql);
/* Returns an owned deep copy of 'ql', or NULL. */
struct quicklist *quicklist_dup(const struct quicklist *ql);

size_t quicklist_count(const struct quicklist *ql);
size_t quicklist_node_count(const struct quicklist *ql);
/* Bytes of the list: header, nodes and listpacks (MEMORY USAGE). */
size_t quicklist_mem_bytes(const struct quicklist *ql);

/* Pushes 's'/'len' at the head or the tail. Returns 0 or STORAGE_ENOMEM
 * (the list is unchanged). */
int quicklist_push(struct quicklist *ql, bool at_head, const char *s, size_t len);
/* The element at the head or tail (the list must not be empty): see
 * lp_get_str for 'buf' and '*len'. */
const char *quicklist_peek(const struct quicklist *ql, bool at_head, char buf[LP_INTBUF],
                           size_t *len);
/* Removes the element at the head or tail (the list must not be empty). */
void quicklist_pop(struct quicklist *ql, bool at_head);
/* Deletes 'count' elements from index 'start' (0-based from the head,
 * start + count <= quicklist_count). */
void quicklist_delete_range(struct quicklist *ql, size_t start, size_t count);

/* An iterator over the elements from some index towards the tail
 * ('forward') or the head. It stays valid across quicklist_iter_delete and
 * quicklist_iter_replace; any other change to the list invalidates it. */
struct quicklist_iter {
    /* private */
    struct quicklist *ql;
    struct quicklist_node *node; /* node of the current element */
    unsigned char *p;            /* current element in node's listpack; NULL when done */
    bool forward;
};

/* Positions 'it' at 'index' (negative counts from the tail, -1 = last);
 * the iterator is done at once when the index is out of range. */
void quicklist_iter_init(struct quicklist_iter *it, struct quicklist *ql, long index, bool forward);
static inline bool quicklist_iter_done(const struct quicklist_iter *it) {
    return it->p == NULL;
}
/* The current element's bytes (see lp_get_str). */
const char *quicklist_iter_get(const struct quicklist_iter *it, char buf[LP_INTBUF], size_t *len);
/* Whether the current element equals 's'/'len'. */
bool quicklist_iter_equal(const struct quicklist_iter *it, const char *s, size_t len);
/* Moves to the next element in the iterator's direction. */
void quicklist_iter_next(struct quicklist_iter *it);
/* Deletes the current element and moves to the next in the direction. */
void quicklist_iter_delete(struct quicklist_iter *it);
/* Replaces the current element by 's'/'len' (Redis 7.0 LSET: in place,
 * whatever the node's size). Returns 0 or STORAGE_ENOMEM (unchanged). */
int quicklist_iter_replace(struct quicklist_iter *it, const char *s, size_t len);
/* Inserts 's'/'len' before or after the current element; the iterator is
 * invalid afterwards. Splits a full node. Returns 0 or STORAGE_ENOMEM (the
 * list is unchanged). */
int quicklist_iter_insert(struct quicklist_iter *it, bool after, const char *s, size_t len);

/* Frees a list record's value, reports its bytes, and deep-copies it
 * (NULL when out of memory); registered for OBJ_LIST by quicklist_register. */
void quicklist_free_value(struct kv *kv);
size_t quicklist_value_bytes(const struct kv *kv);
void *quicklist_dup_value(const struct kv *kv);
void quicklist_register(void);

#endif
