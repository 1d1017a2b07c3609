/* The slot map (see slotmap.h): owners and open (migrating/importing) slots,
 * and the merged ascending ranges every printer of slot ownership uses, so
 * CLUSTER NODES tokenizes ranges identically on every node. It does not know
 * nodes, epochs or persistence. */
#include "cluster/slotmap.h"

#include <stdio.h>
#include <string.h>

void slotmap_init(struct slotmap *sm) {
    memset(sm, 0, sizeof(*sm));
}

struct cluster_node *slotmap_set_owner(struct slotmap *sm, unsigned slot, struct cluster_node *n) {
    struct cluster_node *old = sm->owner[slot];
    if (old == NULL && n != NULL)
        sm->assigned++;
    else if (old != NULL && n == NULL)
        sm->assigned--;
    sm->owner[slot] = n;
    return old;
}

void slotmap_set_migrating(struct slotmap *sm, unsigned slot, struct cluster_node *target) {
    sm->migrating_to[slot] = target;
}

void slotmap_set_importing(struct slotmap *sm, unsigned slot, struct cluster_node *source) {
    sm->importing_from[slot] = source;
}

void slotmap_forget(struct slotmap *sm, const struct cluster_node *n) {
    for (unsigned slot = 0; slot < SLOT_COUNT; slot++) {
        if (sm->owner[slot] == n)
            slotmap_set_owner(sm, slot, NULL);
        if (sm->migrating_to[slot] == n)
            sm->migrating_to[slot] = NULL;
        if (sm->importing_from[slot] == n)
            sm->importing_from[slot] = NULL;
    }
}

bool slotmap_next_range(const struct slotmap *sm, const struct cluster_node *n, unsigned *cursor,
                        unsigned *start, unsigned *end) {
    unsigned slot = *cursor;
    while (slot < SLOT_COUNT && sm->owner[slot] != n)
        slot++;
    if (slot >= SLOT_COUNT) {
        *cursor = SLOT_COUNT;
        return false;
    }
    *start = slot;
    while (slot + 1 < SLOT_COUNT && sm->owner[slot + 1] == n)
        slot++;
    *end = slot;
    *cursor = slot + 1;
    return true;
}

int slotmap_format_range(char *buf, size_t len, unsigned start, unsigned end) {
    if (start == end)
        return snprintf(buf, len, "%u", start);
    return snprintf(buf, len, "%u-%u", start, end);
}
