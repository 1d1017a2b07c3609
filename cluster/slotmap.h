/* The slot map: which node owns each of the 16384 hash slots, and which
 * slots this node is migrating to or importing from another node.
 *
 * The map only stores node pointers; it never dereferences them, so it does
 * not know what a node is. Keeping the map consistent with the node table
 * (a deleted node owns nothing) is cluster/nodes.c's job. */
#ifndef KR_CLUSTER_SLOTMAP_H
#define KR_CLUSTER_SLOTMAP_H

#include "storage/keyslot.h"

#include <stdbool.h>
#include <stddef.h>

struct cluster_node;

/* Caller-allocated (it is about 400 KB: embed it in a heap object). All
 * fields are read-only outside slotmap.c. */
struct slotmap {
    struct cluster_node *owner[SLOT_COUNT];
    struct cluster_node *migrating_to[SLOT_COUNT];
    struct cluster_node *importing_from[SLOT_COUNT];
    unsigned assigned; /* slots with an owner */
};

/* Empties the map: no slot has an owner, no slot is open. */
void slotmap_init(struct slotmap *sm);

static inline struct cluster_node *slotmap_owner(const struct slotmap *sm, unsigned slot) {
    return sm->owner[slot];
}
/* Sets (or clears, with NULL) the owner of 'slot'. Returns the previous owner. */
struct cluster_node *slotmap_set_owner(struct slotmap *sm, unsigned slot, struct cluster_node *n);
void slotmap_set_migrating(struct slotmap *sm, unsigned slot, struct cluster_node *target);
void slotmap_set_importing(struct slotmap *sm, unsigned slot, struct cluster_node *source);

/* True when every slot has an owner. */
static inline bool slotmap_is_covered(const struct slotmap *sm) {
    return sm->assigned == SLOT_COUNT;
}

/* Removes every reference to 'n': the slots it owns become unassigned, and
 * slots migrating to or importing from it are closed. */
void slotmap_forget(struct slotmap *sm, const struct cluster_node *n);

/* Iterates the slots owned by 'n' as maximal ascending ranges. Start with
 * '*cursor' = 0; each call that returns true sets 'start'..'end' (inclusive)
 * and advances '*cursor'. Returns false when there are no more ranges. */
bool slotmap_next_range(const struct slotmap *sm, const struct cluster_node *n, unsigned *cursor,
                        unsigned *start, unsigned *end);

/* Writes "start-end", or "start" when they are equal (Redis's slot-spec
 * token), NUL-terminated. Returns the length (at most 11), like snprintf. */
int slotmap_format_range(char *buf, size_t len, unsigned start, unsigned end);

#endif
