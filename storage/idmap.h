/* An ordered map from stream IDs to pointers (the pending-entry lists of
 * consumer groups): O(log n) insert, remove, find and seek, in-order walks.
 *
 * A skiplist whose node levels come from a hash of the ID, not from a
 * random generator, so every member of a shard builds the same shape. */
#ifndef KR_STORAGE_IDMAP_H
#define KR_STORAGE_IDMAP_H

#include "storage/streamid.h"

#include <stddef.h>

struct idmap;
struct idmap_node;

/* Returns an owned empty map (idmap_free), or NULL. */
struct idmap *idmap_new(void);
/* Frees the map; calls 'free_value' (may be NULL) on every value. */
void idmap_free(struct idmap *m, void (*free_value)(void *value));
size_t idmap_len(const struct idmap *m);
size_t idmap_mem_bytes(const struct idmap *m);

/* Inserts 'id' -> 'value'; the ID must be absent. Returns 0 or STORAGE_ENOMEM. */
int idmap_insert(struct idmap *m, const struct stream_id *id, void *value);
/* Removes 'id'; returns its value, or NULL when absent. */
void *idmap_remove(struct idmap *m, const struct stream_id *id);
void *idmap_find(const struct idmap *m, const struct stream_id *id);

/* The first node with an ID >= 'id' ('id' NULL: the first node), or NULL. */
struct idmap_node *idmap_seek(const struct idmap *m, const struct stream_id *id);
/* The last node with an ID <= 'id' ('id' NULL: the last node), or NULL. */
struct idmap_node *idmap_seek_rev(const struct idmap *m, const struct stream_id *id);
struct idmap_node *idmap_next(const struct idmap_node *n);
struct idmap_node *idmap_prev(const struct idmap_node *n);
const struct stream_id *idmap_node_id(const struct idmap_node *n);
void *idmap_node_value(const struct idmap_node *n);

#endif
