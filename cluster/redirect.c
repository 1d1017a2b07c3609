/* Redirect decisions (see redirect.h), following Redis 7.0's getNodeByQuery
 * and clusterRedirectClient line by line. It does not find a command's keys
 * (the node layer does) and does not write replies. */
#include "cluster/redirect.h"

#include "cluster/nodes.h"
#include "storage/keyslot.h"

#include <stdio.h>
#include <string.h>

void redirect_query_init(struct redirect_query *q, const struct cluster_state *cs,
                         redirect_key_exists_cb exists, void *exists_arg) {
    memset(q, 0, sizeof(*q));
    q->cs = cs;
    q->exists = exists;
    q->exists_arg = exists_arg;
}

bool redirect_add_key(struct redirect_query *q, const char *key, size_t len) {
    if (q->early != REDIRECT_NONE)
        return false;
    const struct cluster_state *cs = q->cs;
    unsigned slot = keyslot_of(key, len);
    if (!q->has_key) {
        q->has_key = true;
        q->first_key = key;
        q->first_len = len;
        q->slot = slot;
        q->owner = slotmap_owner(&cs->slots, slot);
        if (q->owner == NULL) {
            q->early = REDIRECT_DOWN_UNBOUND;
            return false;
        }
        if (q->owner == cs->myself && cs->slots.migrating_to[slot] != NULL)
            q->migrating = true;
        else if (cs->slots.importing_from[slot] != NULL)
            q->importing = true;
    } else if (len != q->first_len || memcmp(key, q->first_key, len) != 0) {
        if (slot != q->slot) {
            q->early = REDIRECT_CROSSSLOT;
            return false;
        }
        q->multiple_keys = true;
    }
    if ((q->migrating || q->importing) && !q->exists(key, len, q->exists_arg))
        q->missing_keys++;
    return true;
}

struct redirect_result redirect_decide(const struct redirect_query *q, unsigned flags) {
    const struct cluster_state *cs = q->cs;
    struct redirect_result r = {.kind = REDIRECT_NONE, .slot = q->slot};
    if (q->early != REDIRECT_NONE) {
        r.kind = q->early;
        return r;
    }
    if (!q->has_key)
        return r;
    if (!cs->state_ok) {
        if (!(flags & REDIRECT_F_READS_WHEN_DOWN)) {
            r.kind = REDIRECT_DOWN_STATE;
            return r;
        }
        if (flags & REDIRECT_F_WRITE) {
            r.kind = REDIRECT_DOWN_RO_STATE;
            return r;
        }
    }
    if ((q->migrating || q->importing) && (flags & REDIRECT_F_MIGRATE))
        return r;
    if (q->migrating && q->missing_keys > 0) {
        if (q->multiple_keys) {
            r.kind = REDIRECT_TRYAGAIN;
        } else {
            r.kind = REDIRECT_ASK;
            r.target = cs->slots.migrating_to[q->slot];
        }
        return r;
    }
    if (q->importing && (flags & REDIRECT_F_ASKING)) {
        if (q->multiple_keys && q->missing_keys > 0)
            r.kind = REDIRECT_TRYAGAIN;
        return r;
    }
    const struct cluster_node *me = cs->myself;
    if ((flags & REDIRECT_F_READONLY) && !(flags & REDIRECT_F_WRITE) && (me->flags & CNODE_SLAVE) &&
        me->master == q->owner)
        return r;
    if (q->owner != me) {
        r.kind = REDIRECT_MOVED;
        r.target = q->owner;
    }
    return r;
}

int redirect_format(const struct redirect_result *r, char *buf, size_t len) {
    switch (r->kind) {
    case REDIRECT_CROSSSLOT:
        return snprintf(buf, len, "CROSSSLOT Keys in request don't hash to the same slot");
    case REDIRECT_TRYAGAIN:
        return snprintf(buf, len, "TRYAGAIN Multiple keys request during rehashing of slot");
    case REDIRECT_DOWN_STATE:
        return snprintf(buf, len, "CLUSTERDOWN The cluster is down");
    case REDIRECT_DOWN_RO_STATE:
        return snprintf(buf, len, "CLUSTERDOWN The cluster is down and only accepts read commands");
    case REDIRECT_DOWN_UNBOUND:
        return snprintf(buf, len, "CLUSTERDOWN Hash slot not served");
    case REDIRECT_MOVED:
    case REDIRECT_ASK:
        return snprintf(buf, len, "%s %u %s:%d", r->kind == REDIRECT_ASK ? "ASK" : "MOVED", r->slot,
                        cluster_node_client_ip(r->target), cluster_node_client_port(r->target));
    case REDIRECT_NONE:
        break;
    }
    return snprintf(buf, len, "%s", "");
}
