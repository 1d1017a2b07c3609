/* The node table, epochs, cluster state and node descriptions (see
 * nodes.h). Follows Redis 7.0's cluster.c rules for each; it holds no
 * sockets and no files, and reads no clock. */
#include "cluster/nodes.h"

#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

/* Redis 7.0: CLUSTER_WRITABLE_DELAY and the rejoin delay clamp. */
#define WRITABLE_DELAY_MS   2000
#define MIN_REJOIN_DELAY_MS 500
#define MAX_REJOIN_DELAY_MS 5000

struct cluster_state *cluster_state_new(const char *my_id, int64_t now_ms) {
    struct cluster_state *cs = calloc(1, sizeof(*cs));
    if (cs == NULL)
        return NULL;
    slotmap_init(&cs->slots);
    cs->start_ms = now_ms;
    cs->last_change_ms = now_ms;
    cs->state_dirty = true;
    /* Redis's clusterInit starts with size 1 until the first state update. */
    cs->size = 1;
    cs->myself = cluster_node_add(cs, my_id, CNODE_MYSELF | CNODE_MASTER, now_ms);
    if (cs->myself == NULL) {
        free(cs);
        return NULL;
    }
    return cs;
}

void cluster_state_free(struct cluster_state *cs) {
    if (cs == NULL)
        return;
    for (size_t i = 0; i < cs->node_count; i++)
        free(cs->nodes[i]);
    free(cs->nodes);
    free(cs);
}

void cluster_state_set_delete_cb(struct cluster_state *cs, cluster_node_delete_cb cb, void *arg) {
    cs->on_delete = cb;
    cs->on_delete_arg = arg;
}

bool cluster_id_is_valid(const char *id, size_t len) {
    if (len != CLUSTER_ID_LEN)
        return false;
    for (size_t i = 0; i < len; i++) {
        char ch = id[i];
        if (!((ch >= 'a' && ch <= 'z') || (ch >= '0' && ch <= '9')))
            return false;
    }
    return true;
}

struct cluster_node *cluster_node_lookup(const struct cluster_state *cs, const char *id,
                                         size_t len) {
    if (len != CLUSTER_ID_LEN)
        return NULL;
    for (size_t i = 0; i < cs->node_count; i++)
        if (memcmp(cs->nodes[i]->id, id, CLUSTER_ID_LEN) == 0)
            return cs->nodes[i];
    return NULL;
}

struct cluster_node *cluster_node_add(struct cluster_state *cs, const char *id, uint32_t flags,
                                      int64_t now_ms) {
    if (cs->node_count == cs->node_cap) {
        size_t cap = cs->node_cap ? cs->node_cap * 2 : 8;
        struct cluster_node **grown = realloc(cs->nodes, cap * sizeof(*grown));
        if (grown == NULL)
            return NULL;
        cs->nodes = grown;
        cs->node_cap = cap;
    }
    struct cluster_node *n = calloc(1, sizeof(*n));
    if (n == NULL)
        return NULL;
    memcpy(n->id, id, CLUSTER_ID_LEN);
    n->flags = flags;
    n->ctime_ms = now_ms;
    cs->nodes[cs->node_count++] = n;
    return n;
}

void cluster_node_delete(struct cluster_state *cs, struct cluster_node *n) {
    if (n == cs->myself)
        return;
    if (cs->on_delete != NULL)
        cs->on_delete(cs->on_delete_arg, n);
    for (size_t i = 0; i < cs->node_count; i++)
        if (cs->nodes[i]->master == n)
            cs->nodes[i]->master = NULL;
    slotmap_forget(&cs->slots, n);
    for (size_t i = 0; i < cs->node_count; i++) {
        if (cs->nodes[i] == n) {
            memmove(&cs->nodes[i], &cs->nodes[i + 1],
                    (cs->node_count - i - 1) * sizeof(cs->nodes[0]));
            cs->node_count--;
            break;
        }
    }
    free(n);
}

void cluster_node_rename_myself(struct cluster_state *cs, const char *new_id) {
    memcpy(cs->myself->id, new_id, CLUSTER_ID_LEN);
    cs->myself->id[CLUSTER_ID_LEN] = '\0';
}

void cluster_node_set_master(struct cluster_state *cs, struct cluster_node *n,
                             struct cluster_node *master) {
    if (master == NULL) {
        n->flags = (n->flags & ~(uint32_t)CNODE_SLAVE) | CNODE_MASTER;
        n->master = NULL;
        return;
    }
    for (unsigned slot = 0; slot < SLOT_COUNT && n->slot_count > 0; slot++)
        if (slotmap_owner(&cs->slots, slot) == n)
            cluster_slot_unassign(cs, slot);
    n->flags = (n->flags & ~(uint32_t)CNODE_MASTER) | CNODE_SLAVE;
    n->master = master;
}

size_t cluster_node_replicas(const struct cluster_state *cs, const struct cluster_node *master,
                             struct cluster_node **out, size_t max) {
    size_t count = 0;
    for (size_t i = 0; i < cs->node_count; i++) {
        if (cs->nodes[i]->master != master || !(cs->nodes[i]->flags & CNODE_SLAVE))
            continue;
        if (count < max)
            out[count] = cs->nodes[i];
        count++;
    }
    return count;
}

uint64_t cluster_node_epoch(const struct cluster_node *n) {
    if ((n->flags & CNODE_SLAVE) && n->master != NULL)
        return n->master->config_epoch;
    return n->config_epoch;
}

void cluster_slot_assign(struct cluster_state *cs, unsigned slot, struct cluster_node *n) {
    struct cluster_node *old = slotmap_set_owner(&cs->slots, slot, n);
    if (old != NULL)
        old->slot_count--;
    if (n != NULL)
        n->slot_count++;
}

void cluster_slot_unassign(struct cluster_state *cs, unsigned slot) {
    cluster_slot_assign(cs, slot, NULL);
}

/* ---- Epochs ---- */

uint64_t cluster_max_epoch(const struct cluster_state *cs) {
    uint64_t max = cs->current_epoch;
    for (size_t i = 0; i < cs->node_count; i++)
        if (cs->nodes[i]->config_epoch > max)
            max = cs->nodes[i]->config_epoch;
    return max;
}

bool cluster_bump_epoch(struct cluster_state *cs) {
    uint64_t max = cluster_max_epoch(cs);
    if (cs->myself->config_epoch != 0 && cs->myself->config_epoch == max)
        return false;
    cs->current_epoch++;
    cs->myself->config_epoch = cs->current_epoch;
    return true;
}

/* ---- State ---- */

void cluster_state_changed(struct cluster_state *cs, int64_t now_ms) {
    cs->state_dirty = true;
    cs->last_change_ms = now_ms;
}

void cluster_update_state(struct cluster_state *cs, int64_t now_ms, bool require_full_coverage,
                          int64_t node_timeout_ms) {
    if (require_full_coverage != cs->full_coverage_used)
        cs->state_dirty = true;
    if (!cs->state_dirty && (cs->state_ok || now_ms < cs->recheck_ms))
        return;
    bool myself_master = (cs->myself->flags & CNODE_MASTER) != 0;
    /* A master waits a little after startup before it accepts writes. */
    if (myself_master && !cs->state_ok && now_ms - cs->start_ms < WRITABLE_DELAY_MS) {
        cs->recheck_ms = cs->start_ms + WRITABLE_DELAY_MS;
        cs->state_dirty = true;
        return;
    }
    cs->state_dirty = false;
    cs->recheck_ms = INT64_MAX;
    cs->full_coverage_used = require_full_coverage;

    bool ok = true;
    if (require_full_coverage) {
        for (unsigned slot = 0; slot < SLOT_COUNT && ok; slot++) {
            const struct cluster_node *owner = slotmap_owner(&cs->slots, slot);
            if (owner == NULL || (owner->flags & CNODE_FAIL))
                ok = false;
        }
    }
    int size = 0, reachable = 0;
    for (size_t i = 0; i < cs->node_count; i++) {
        const struct cluster_node *n = cs->nodes[i];
        if ((n->flags & CNODE_MASTER) && n->slot_count > 0) {
            size++;
            if (!(n->flags & (CNODE_FAIL | CNODE_PFAIL)))
                reachable++;
        }
    }
    cs->size = size;
    /* Redis refreshes among_minority_time on every cron tick while in a
     * minority; evaluated lazily, the minority ended with the last change. */
    if (reachable < size / 2 + 1) {
        ok = false;
        cs->in_minority = true;
        cs->among_minority_ms = now_ms;
    } else if (cs->in_minority) {
        cs->in_minority = false;
        cs->among_minority_ms = cs->last_change_ms;
    }
    if (ok && !cs->state_ok && myself_master) {
        int64_t rejoin_ms = node_timeout_ms;
        if (rejoin_ms > MAX_REJOIN_DELAY_MS)
            rejoin_ms = MAX_REJOIN_DELAY_MS;
        if (rejoin_ms < MIN_REJOIN_DELAY_MS)
            rejoin_ms = MIN_REJOIN_DELAY_MS;
        if (now_ms - cs->among_minority_ms < rejoin_ms) {
            cs->recheck_ms = cs->among_minority_ms + rejoin_ms;
            return;
        }
    }
    cs->state_ok = ok;
}

void cluster_reset(struct cluster_state *cs, bool hard) {
    if (cs->myself->flags & CNODE_SLAVE)
        cluster_node_set_master(cs, cs->myself, NULL);
    for (unsigned slot = 0; slot < SLOT_COUNT; slot++) {
        slotmap_set_migrating(&cs->slots, slot, NULL);
        slotmap_set_importing(&cs->slots, slot, NULL);
        cluster_slot_unassign(cs, slot);
    }
    while (cs->node_count > 1) {
        struct cluster_node *victim = cs->nodes[0] == cs->myself ? cs->nodes[1] : cs->nodes[0];
        cluster_node_delete(cs, victim);
    }
    if (hard) {
        cs->current_epoch = 0;
        cs->last_vote_epoch = 0;
        cs->myself->config_epoch = 0;
    }
}

/* ---- Descriptions ---- */

struct text {
    char *buf;
    size_t len, cap;
    bool failed;
};

static void text_append(struct text *t, const char *s, size_t n) {
    if (t->failed)
        return;
    if (t->len + n + 1 > t->cap) {
        size_t cap = t->cap ? t->cap : 256;
        while (cap < t->len + n + 1)
            cap *= 2;
        char *grown = realloc(t->buf, cap);
        if (grown == NULL) {
            t->failed = true;
            return;
        }
        t->buf = grown;
        t->cap = cap;
    }
    memcpy(t->buf + t->len, s, n);
    t->len += n;
    t->buf[t->len] = '\0';
}

static void text_printf(struct text *t, const char *fmt, ...) __attribute__((format(printf, 2, 3)));
static void text_printf(struct text *t, const char *fmt, ...) {
    char small[512];
    va_list ap;
    va_start(ap, fmt);
    int n = vsnprintf(small, sizeof(small), fmt, ap);
    va_end(ap);
    if (n < 0) {
        t->failed = true;
        return;
    }
    text_append(t, small, (size_t)n < sizeof(small) ? (size_t)n : sizeof(small) - 1);
}

static const struct {
    uint32_t flag;
    const char *name;
} flag_names[] = {
    {CNODE_MYSELF, "myself"}, {CNODE_MASTER, "master"},
    {CNODE_SLAVE, "slave"},   {CNODE_PFAIL, "fail?"},
    {CNODE_FAIL, "fail"},     {CNODE_HANDSHAKE, "handshake"},
    {CNODE_NOADDR, "noaddr"}, {CNODE_NOFAILOVER, "nofailover"},
};

const char *cluster_node_client_ip(const struct cluster_node *n) {
    return n->client_ip[0] != '\0' ? n->client_ip : n->ip;
}

int cluster_node_client_port(const struct cluster_node *n) {
    return n->client_port != 0 ? n->client_port : n->port;
}

static void describe(struct text *t, const struct cluster_state *cs, const struct cluster_node *n,
                     bool for_clients) {
    text_append(t, n->id, CLUSTER_ID_LEN);
    if (for_clients)
        text_printf(t, " %s:%d@%d", cluster_node_client_ip(n), cluster_node_client_port(n),
                    n->cport);
    else
        text_printf(t, " %s:%d@%d", n->ip, n->port, n->cport);
    if (n->hostname[0] != '\0')
        text_printf(t, ",%s", n->hostname);
    text_append(t, " ", 1);
    bool any = false;
    for (size_t i = 0; i < sizeof(flag_names) / sizeof(flag_names[0]); i++) {
        if (!(n->flags & flag_names[i].flag))
            continue;
        if (any)
            text_append(t, ",", 1);
        text_printf(t, "%s", flag_names[i].name);
        any = true;
    }
    if (!any)
        text_printf(t, "noflags");
    if (n->master != NULL)
        text_printf(t, " %s", n->master->id);
    else
        text_append(t, " -", 2);
    text_printf(t, " %lld %lld %llu %s", (long long)n->ping_sent_ms, (long long)n->pong_recv_ms,
                (unsigned long long)cluster_node_epoch(n),
                n->link_connected || (n->flags & CNODE_MYSELF) ? "connected" : "disconnected");
    unsigned cursor = 0, start, end;
    while (n->slot_count > 0 && slotmap_next_range(&cs->slots, n, &cursor, &start, &end)) {
        char token[24];
        int len = slotmap_format_range(token, sizeof(token), start, end);
        text_append(t, " ", 1);
        text_append(t, token, (size_t)len);
    }
    if (n->flags & CNODE_MYSELF) {
        for (unsigned slot = 0; slot < SLOT_COUNT; slot++) {
            if (cs->slots.migrating_to[slot] != NULL)
                text_printf(t, " [%u->-%s]", slot, cs->slots.migrating_to[slot]->id);
            else if (cs->slots.importing_from[slot] != NULL)
                text_printf(t, " [%u-<-%s]", slot, cs->slots.importing_from[slot]->id);
        }
    }
}

static char *finish(struct text *t, size_t *len) {
    if (t->buf == NULL && !t->failed)
        text_append(t, "", 0);
    if (t->failed) {
        free(t->buf);
        return NULL;
    }
    *len = t->len;
    return t->buf;
}

char *cluster_node_describe(const struct cluster_state *cs, const struct cluster_node *n,
                            size_t *len) {
    struct text t = {0};
    describe(&t, cs, n, false);
    return finish(&t, len);
}

char *cluster_node_describe_for_clients(const struct cluster_state *cs,
                                        const struct cluster_node *n, size_t *len) {
    struct text t = {0};
    describe(&t, cs, n, true);
    return finish(&t, len);
}

static char *describe_all(const struct cluster_state *cs, uint32_t skip, size_t *len,
                          bool for_clients) {
    struct text t = {0};
    for (size_t i = 0; i < cs->node_count; i++) {
        if (cs->nodes[i]->flags & skip)
            continue;
        describe(&t, cs, cs->nodes[i], for_clients);
        text_append(&t, "\n", 1);
    }
    return finish(&t, len);
}

char *cluster_describe_all(const struct cluster_state *cs, uint32_t skip, size_t *len) {
    return describe_all(cs, skip, len, false);
}

char *cluster_describe_all_for_clients(const struct cluster_state *cs, uint32_t skip, size_t *len) {
    return describe_all(cs, skip, len, true);
}
