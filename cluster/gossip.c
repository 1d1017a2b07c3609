/* The cluster bus protocol's rules (see gossip.h): processing of received
 * messages, the cron, failure reports, slot ownership by config epoch,
 * epoch collisions, the FORGET ban list and gossip entry selection. The
 * rules follow Redis 7.0's cluster.c (clusterProcessPacket,
 * clusterProcessGossipSection, clusterUpdateSlotsConfigWith,
 * clusterHandleConfigEpochCollision, markNodeAsFailingIfNeeded,
 * clearNodeFailureIfNeeded, clusterCron, clusterSendPing); the code is
 * keyraft's own.
 *
 * It owns no sockets: sending and logging go through struct gossip_ops. */
#include "cluster/gossip.h"

#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

struct failure_report {
    const struct cluster_node *about, *reporter;
    int64_t time_ms;
};

struct ban {
    char id[CLUSTER_ID_LEN + 1];
    int64_t until_ms;
};

struct gossip {
    struct gossip_ops ops;
    struct gossip_config config;
    uint64_t rng;
    uint64_t iteration; /* cron ticks */
    size_t pfail_nodes; /* PFAIL nodes seen by the last cron */
    struct failure_report *reports;
    size_t report_count, report_cap;
    struct ban *bans;
    size_t ban_count, ban_cap;
};

/* ---- Context ---- */

struct gossip *gossip_new(const struct gossip_ops *ops, uint64_t seed) {
    struct gossip *g = calloc(1, sizeof(*g));
    if (g == NULL)
        return NULL;
    g->ops = *ops;
    g->rng = seed ? seed : 0x9e3779b97f4a7c15ULL;
    g->config.node_timeout_ms = 15000;
    g->config.allow_replica_migration = true;
    return g;
}

void gossip_free(struct gossip *g) {
    if (g == NULL)
        return;
    free(g->reports);
    free(g->bans);
    free(g);
}

void gossip_configure(struct gossip *g, const struct gossip_config *config) {
    g->config = *config;
}

/* xorshift64*: gossip choices only, never data. */
static uint64_t next_random(struct gossip *g) {
    g->rng ^= g->rng >> 12;
    g->rng ^= g->rng << 25;
    g->rng ^= g->rng >> 27;
    return g->rng * 0x2545f4914f6cdd1dULL;
}

void gossip_random_id(struct gossip *g, char *id) {
    static const char hex[] = "0123456789abcdef";
    for (int i = 0; i < CLUSTER_ID_LEN; i++)
        id[i] = hex[next_random(g) >> 60];
    id[CLUSTER_ID_LEN] = '\0';
}

static void note(struct gossip *g, enum gossip_log_level level, const char *fmt, ...)
    __attribute__((format(printf, 3, 4)));
static void note(struct gossip *g, enum gossip_log_level level, const char *fmt, ...) {
    char text[256];
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(text, sizeof(text), fmt, ap);
    va_end(ap);
    g->ops.log(g->ops.arg, level, text);
}

static bool is_master(const struct cluster_node *n) {
    return (n->flags & CNODE_MASTER) != 0;
}

/* ---- Wire flags ---- */

static const struct {
    uint32_t node, wire;
} flag_map[] = {
    {CNODE_MASTER, BUSMSG_NODE_MASTER},         {CNODE_SLAVE, BUSMSG_NODE_SLAVE},
    {CNODE_PFAIL, BUSMSG_NODE_PFAIL},           {CNODE_FAIL, BUSMSG_NODE_FAIL},
    {CNODE_HANDSHAKE, BUSMSG_NODE_HANDSHAKE},   {CNODE_NOADDR, BUSMSG_NODE_NOADDR},
    {CNODE_NOFAILOVER, BUSMSG_NODE_NOFAILOVER},
};

static uint32_t to_wire(uint32_t flags) {
    uint32_t wire = 0;
    for (size_t i = 0; i < sizeof(flag_map) / sizeof(flag_map[0]); i++)
        if (flags & flag_map[i].node)
            wire |= flag_map[i].wire;
    return wire;
}

static uint32_t from_wire(uint32_t wire) {
    uint32_t flags = 0;
    for (size_t i = 0; i < sizeof(flag_map) / sizeof(flag_map[0]); i++)
        if (wire & flag_map[i].wire)
            flags |= flag_map[i].node;
    return flags;
}

/* ---- Ban list (CLUSTER FORGET) ---- */

static void expire_bans(struct gossip *g, int64_t now_ms) {
    size_t kept = 0;
    for (size_t i = 0; i < g->ban_count; i++)
        if (g->bans[i].until_ms > now_ms)
            g->bans[kept++] = g->bans[i];
    g->ban_count = kept;
}

bool gossip_is_banned(struct gossip *g, const char *id, int64_t now_ms) {
    expire_bans(g, now_ms);
    for (size_t i = 0; i < g->ban_count; i++)
        if (memcmp(g->bans[i].id, id, CLUSTER_ID_LEN) == 0)
            return true;
    return false;
}

static void ban(struct gossip *g, const char *id, int64_t now_ms) {
    expire_bans(g, now_ms);
    for (size_t i = 0; i < g->ban_count; i++) {
        if (memcmp(g->bans[i].id, id, CLUSTER_ID_LEN) == 0) {
            g->bans[i].until_ms = now_ms + GOSSIP_FORGET_BAN_MS;
            return;
        }
    }
    if (g->ban_count == g->ban_cap) {
        size_t cap = g->ban_cap ? g->ban_cap * 2 : 8;
        struct ban *grown = realloc(g->bans, cap * sizeof(*grown));
        if (grown == NULL)
            return; /* out of memory: the node may come back through gossip */
        g->bans = grown;
        g->ban_cap = cap;
    }
    memcpy(g->bans[g->ban_count].id, id, CLUSTER_ID_LEN + 1);
    g->bans[g->ban_count].until_ms = now_ms + GOSSIP_FORGET_BAN_MS;
    g->ban_count++;
}

/* ---- Failure reports ---- */

void gossip_node_deleted(struct gossip *g, const struct cluster_node *n) {
    size_t kept = 0;
    for (size_t i = 0; i < g->report_count; i++)
        if (g->reports[i].about != n && g->reports[i].reporter != n)
            g->reports[kept++] = g->reports[i];
    g->report_count = kept;
}

static void delete_node(struct gossip *g, struct cluster_state *cs, struct cluster_node *n) {
    gossip_node_deleted(g, n);
    cluster_node_delete(cs, n);
}

unsigned gossip_failure_reports(struct gossip *g, struct cluster_node *n, int64_t now_ms) {
    int64_t validity = g->config.node_timeout_ms * GOSSIP_REPORT_VALIDITY_MULT;
    size_t kept = 0;
    unsigned count = 0;
    for (size_t i = 0; i < g->report_count; i++) {
        struct failure_report *r = &g->reports[i];
        if (r->about == n && now_ms - r->time_ms > validity)
            continue;
        if (r->about == n)
            count++;
        g->reports[kept++] = *r;
    }
    g->report_count = kept;
    n->failure_reports = count;
    return count;
}

/* Records (or refreshes) 'reporter's report that 'about' is failing. */
static void add_report(struct gossip *g, struct cluster_node *about,
                       const struct cluster_node *reporter, int64_t now_ms) {
    for (size_t i = 0; i < g->report_count; i++) {
        if (g->reports[i].about == about && g->reports[i].reporter == reporter) {
            g->reports[i].time_ms = now_ms;
            return;
        }
    }
    if (g->report_count == g->report_cap) {
        size_t cap = g->report_cap ? g->report_cap * 2 : 16;
        struct failure_report *grown = realloc(g->reports, cap * sizeof(*grown));
        if (grown == NULL)
            return; /* out of memory: failure detection waits for other reports */
        g->reports = grown;
        g->report_cap = cap;
    }
    g->reports[g->report_count++] = (struct failure_report){about, reporter, now_ms};
    about->failure_reports++;
}

static void del_report(struct gossip *g, struct cluster_node *about,
                       const struct cluster_node *reporter) {
    for (size_t i = 0; i < g->report_count; i++) {
        if (g->reports[i].about == about && g->reports[i].reporter == reporter) {
            g->reports[i] = g->reports[--g->report_count];
            if (about->failure_reports > 0)
                about->failure_reports--;
            return;
        }
    }
}

/* markNodeAsFailingIfNeeded: a PFAIL node becomes FAIL once a majority of
 * the masters serving slots (myself included, when a master) reported it. */
static int mark_failing_if_needed(struct gossip *g, struct cluster_state *cs,
                                  struct cluster_node *n, int64_t now_ms) {
    if (!(n->flags & CNODE_PFAIL) || (n->flags & CNODE_FAIL))
        return 0;
    unsigned quorum = (unsigned)cs->size / 2 + 1;
    unsigned failures = gossip_failure_reports(g, n, now_ms);
    if (is_master(cs->myself))
        failures++;
    if (failures < quorum)
        return 0;
    note(g, GOSSIP_LOG_NOTICE, "Marking node %.40s as failing (quorum reached).", n->id);
    n->flags = (n->flags & ~(uint32_t)CNODE_PFAIL) | CNODE_FAIL;
    n->fail_time_ms = now_ms;
    g->ops.send_fail(g->ops.arg, n);
    return GOSSIP_SAVE | GOSSIP_STATE;
}

/* clearNodeFailureIfNeeded: a FAIL node that answers again loses the flag
 * at once when it serves no slots, or after twice the node timeout when
 * it still does (nobody took its slots over). */
static int clear_failure_if_needed(struct gossip *g, struct cluster_node *n, int64_t now_ms) {
    if (!(n->flags & CNODE_FAIL))
        return 0;
    if ((n->flags & CNODE_SLAVE) || n->slot_count == 0) {
        note(g, GOSSIP_LOG_NOTICE, "Clear FAIL state for node %.40s: %s is reachable again.", n->id,
             (n->flags & CNODE_SLAVE) ? "replica" : "master without slots");
    } else if (now_ms - n->fail_time_ms > g->config.node_timeout_ms * GOSSIP_FAIL_UNDO_MULT) {
        note(g, GOSSIP_LOG_NOTICE,
             "Clear FAIL state for node %.40s: is reachable again and nobody is serving its "
             "slots after some time.",
             n->id);
    } else {
        return 0;
    }
    n->flags &= ~(uint32_t)CNODE_FAIL;
    return GOSSIP_SAVE | GOSSIP_STATE;
}

/* ---- Slots and epochs ---- */

void gossip_node_slots(const struct cluster_state *cs, const struct cluster_node *n,
                       uint8_t *bits) {
    memset(bits, 0, BUSMSG_SLOT_BYTES);
    if (n == NULL || n->slot_count == 0)
        return;
    for (unsigned slot = 0; slot < SLOT_COUNT; slot++)
        if (slotmap_owner(&cs->slots, slot) == n)
            busmsg_slot_set(bits, slot);
}

static bool slots_differ(const struct cluster_state *cs, const struct cluster_node *n,
                         const uint8_t *bits) {
    for (unsigned slot = 0; slot < SLOT_COUNT; slot++)
        if ((slotmap_owner(&cs->slots, slot) == n) != busmsg_slot_test(bits, slot))
            return true;
    return false;
}

/* clusterUpdateSlotsConfigWith: 'sender' claims 'bits' with 'epoch'. Every
 * claimed slot whose owner is unknown or has a smaller config epoch moves
 * to it (slots being imported stay). If myself's master (or myself) lost
 * its last slot that way, myself follows 'sender'. Keys left in slots
 * myself lost are not deleted here: keyraft deletes data only through its
 * shard's log, and the shard layer follows the new master (issue 6). */
static int update_slots_config_with(struct gossip *g, struct cluster_state *cs,
                                    struct cluster_node *sender, uint64_t epoch,
                                    const uint8_t *bits) {
    struct cluster_node *me = cs->myself;
    if (sender == me)
        return 0;
    struct cluster_node *curmaster = is_master(me) ? me : me->master;
    bool took_ours = false;
    unsigned claimed = 0, moved_ours = 0;
    int changed = 0;
    for (unsigned slot = 0; slot < SLOT_COUNT; slot++) {
        if (!busmsg_slot_test(bits, slot))
            continue;
        claimed++;
        struct cluster_node *owner = slotmap_owner(&cs->slots, slot);
        if (owner == sender || cs->slots.importing_from[slot] != NULL)
            continue;
        if (owner != NULL && owner->config_epoch >= epoch)
            continue;
        if (owner != NULL && owner == curmaster) {
            took_ours = true;
            moved_ours++;
        }
        cluster_slot_assign(cs, slot, sender);
        changed = GOSSIP_SAVE | GOSSIP_STATE;
    }
    if (took_ours && curmaster->slot_count == 0 &&
        (g->config.allow_replica_migration || claimed == moved_ours)) {
        note(g, GOSSIP_LOG_WARNING,
             "Configuration change detected. Reconfiguring myself as a replica of %.40s",
             sender->id);
        cluster_node_set_master(cs, me, sender);
        if (g->ops.myself_replica_of != NULL)
            g->ops.myself_replica_of(g->ops.arg, sender);
        changed = GOSSIP_SAVE | GOSSIP_STATE;
    }
    return changed;
}

/* clusterHandleConfigEpochCollision: two masters with the same config
 * epoch; the one with the smaller node id takes a new epoch. */
static int handle_epoch_collision(struct gossip *g, struct cluster_state *cs,
                                  const struct cluster_node *sender) {
    struct cluster_node *me = cs->myself;
    if (sender->config_epoch != me->config_epoch || !is_master(sender) || !is_master(me))
        return 0;
    if (memcmp(sender->id, me->id, CLUSTER_ID_LEN) <= 0)
        return 0;
    cs->current_epoch++;
    me->config_epoch = cs->current_epoch;
    note(g, GOSSIP_LOG_VERBOSE,
         "WARNING: configEpoch collision with node %.40s. configEpoch set to %llu", sender->id,
         (unsigned long long)me->config_epoch);
    return GOSSIP_SAVE;
}

/* ---- Processing ---- */

bool gossip_sender_known(const struct cluster_state *cs, const struct busmsg *m) {
    const struct cluster_node *n = cluster_node_lookup(cs, m->sender, CLUSTER_ID_LEN);
    return n != NULL && !(n->flags & CNODE_HANDSHAKE);
}

static void copy_ip(char *dst, const char *src) {
    snprintf(dst, CLUSTER_IP_LEN, "%s", src != NULL ? src : "");
}

/* The address a message's sender is at: what it announces, else where the
 * message came from (Redis's nodeIp2String). */
static const char *sender_ip(const struct busmsg *m, const struct gossip_link *link) {
    return m->ip[0] != '\0' ? m->ip : (link->peer_ip != NULL ? link->peer_ip : "");
}

/* nodeUpdateAddressIfNeeded: a known node pinged us from a new address. */
static bool update_address(struct gossip *g, struct cluster_state *cs, struct cluster_node *n,
                           const struct busmsg *m, const struct gossip_link *link) {
    if (n == cs->myself || link->node == n)
        return false;
    const char *ip = sender_ip(m, link);
    if (strcmp(n->ip, ip) == 0 && n->port == m->port && n->cport == m->cport)
        return false;
    copy_ip(n->ip, ip);
    n->port = m->port;
    n->cport = m->cport;
    n->flags &= ~(uint32_t)CNODE_NOADDR;
    g->ops.drop_link(g->ops.arg, n);
    note(g, GOSSIP_LOG_NOTICE, "Address updated for node %.40s, now %s:%d", n->id, n->ip, n->port);
    return true;
}

/* Every header carries the sender's announced hostname and client address
 * (which may change with CONFIG SET): keep them current. The hostname is
 * saved in nodes.conf, the client address is not. */
static int update_announced(struct cluster_node *n, const struct busmsg *m) {
    int changed = 0;
    if (n->flags & CNODE_MYSELF)
        return 0;
    if (strcmp(n->hostname, m->hostname) != 0) {
        snprintf(n->hostname, sizeof(n->hostname), "%s", m->hostname);
        changed |= GOSSIP_SAVE;
    }
    copy_ip(n->client_ip, m->client_ip);
    n->client_port = m->client_port;
    return changed;
}

/* clusterProcessGossipSection. 'sender' may be NULL (a MEET from a node
 * not known yet): then only pong times are taken. */
static int process_gossip(struct gossip *g, struct cluster_state *cs, const struct busmsg *m,
                          struct cluster_node *sender, int64_t now_ms) {
    int changed = 0;
    for (size_t i = 0; i < m->gossip_count; i++) {
        const struct busmsg_gossip *e = &m->gossip[i];
        struct cluster_node *n = cluster_node_lookup(cs, e->id, CLUSTER_ID_LEN);
        bool reports_failure = (e->flags & (BUSMSG_NODE_PFAIL | BUSMSG_NODE_FAIL)) != 0;
        if (n == NULL) {
            /* A node we do not know: add it, unless it was forgotten
             * recently or has no address. */
            if (sender == NULL || (e->flags & BUSMSG_NODE_NOADDR) || e->ip[0] == '\0' ||
                e->port == 0 || e->cport == 0 || gossip_is_banned(g, e->id, now_ms))
                continue;
            uint32_t flags = from_wire(e->flags) & (CNODE_MASTER | CNODE_SLAVE | CNODE_NOFAILOVER);
            n = cluster_node_add(cs, e->id, flags, now_ms);
            if (n == NULL)
                continue; /* out of memory: a later message brings it again */
            copy_ip(n->ip, e->ip);
            n->port = e->port;
            n->cport = e->cport;
            changed |= GOSSIP_SAVE;
            continue;
        }
        if (sender != NULL && is_master(sender) && n != cs->myself) {
            if (reports_failure) {
                add_report(g, n, sender, now_ms);
                changed |= mark_failing_if_needed(g, cs, n, now_ms);
            } else {
                del_report(g, n, sender);
            }
        }
        /* Redis 7.0: a peer that heard from the node recently is as good as
         * our own pong, while we have no ping of our own in flight. */
        if (!reports_failure && n->ping_sent_ms == 0 && gossip_failure_reports(g, n, now_ms) == 0) {
            int64_t pong_ms = (int64_t)e->pong_recv_s * 1000;
            if (pong_ms <= now_ms + 500 && pong_ms > n->pong_recv_ms)
                n->pong_recv_ms = pong_ms;
        }
        /* A node we cannot reach that a peer reaches at another address:
         * take that address and reconnect. */
        if ((n->flags & (CNODE_FAIL | CNODE_PFAIL)) && n != cs->myself &&
            !(e->flags & BUSMSG_NODE_NOADDR) && !reports_failure && e->ip[0] != '\0' &&
            (strcmp(n->ip, e->ip) != 0 || n->port != e->port || n->cport != e->cport)) {
            g->ops.drop_link(g->ops.arg, n);
            copy_ip(n->ip, e->ip);
            n->port = e->port;
            n->cport = e->cport;
            n->flags &= ~(uint32_t)CNODE_NOADDR;
            changed |= GOSSIP_SAVE;
        }
    }
    return changed;
}

/* The sender's role as announced: a master, or a replica of 'm->master'. */
static int process_role(struct cluster_state *cs, struct cluster_node *sender,
                        const struct busmsg *m) {
    if (m->master[0] == '\0') {
        if (is_master(sender))
            return 0;
        cluster_node_set_master(cs, sender, NULL);
        return GOSSIP_SAVE | GOSSIP_STATE;
    }
    struct cluster_node *master = cluster_node_lookup(cs, m->master, CLUSTER_ID_LEN);
    int changed = 0;
    if (is_master(sender)) {
        /* A master turned replica: it serves nothing any more. */
        for (unsigned slot = 0; slot < SLOT_COUNT && sender->slot_count > 0; slot++)
            if (slotmap_owner(&cs->slots, slot) == sender)
                cluster_slot_unassign(cs, slot);
        sender->flags = (sender->flags & ~(uint32_t)CNODE_MASTER) | CNODE_SLAVE;
        changed = GOSSIP_SAVE | GOSSIP_STATE;
    }
    if (master != NULL && master != sender && sender->master != master) {
        cluster_node_set_master(cs, sender, master);
        changed |= GOSSIP_SAVE;
    }
    return changed;
}

/* The handshake side of a MEET/PING/PONG on an outbound link. Returns the
 * node the message is from when the link's node is (now) it, else NULL
 * after setting link->close where needed. */
static struct cluster_node *resolve_link_node(struct gossip *g, struct cluster_state *cs,
                                              const struct busmsg *m, struct gossip_link *link,
                                              struct cluster_node *sender, int64_t now_ms,
                                              int *changed) {
    struct cluster_node *n = link->node;
    if (n->flags & CNODE_HANDSHAKE) {
        if (sender != NULL) {
            /* We already know that node under its real id: the handshake
             * entry was a duplicate. */
            if (update_address(g, cs, sender, m, link))
                *changed |= GOSSIP_SAVE | GOSSIP_STATE;
            delete_node(g, cs, n);
            link->node = NULL;
            link->close = true;
            *changed |= GOSSIP_SAVE;
            return NULL;
        }
        memcpy(n->id, m->sender, CLUSTER_ID_LEN + 1);
        n->flags &= ~(uint32_t)(CNODE_HANDSHAKE | CNODE_MEET);
        n->flags |= from_wire(m->flags) & (CNODE_MASTER | CNODE_SLAVE);
        n->ctime_ms = now_ms;
        note(g, GOSSIP_LOG_VERBOSE, "Handshake with node %.40s completed.", n->id);
        *changed |= GOSSIP_SAVE;
        return n;
    }
    if (memcmp(n->id, m->sender, CLUSTER_ID_LEN) != 0) {
        /* The address now belongs to another node: forget the address
         * until gossip tells us the right one. */
        note(g, GOSSIP_LOG_VERBOSE,
             "PONG contains mismatching sender ID. About node %.40s added %d ms ago, having "
             "flags %u",
             n->id, (int)(now_ms - n->ctime_ms), n->flags);
        n->flags |= CNODE_NOADDR;
        n->ip[0] = '\0';
        n->port = n->cport = 0;
        link->node = NULL;
        link->close = true;
        *changed |= GOSSIP_SAVE;
        return NULL;
    }
    return sender;
}

static int process_ping_pong(struct gossip *g, struct cluster_state *cs, const struct busmsg *m,
                             struct gossip_link *link, struct cluster_node *sender,
                             int64_t now_ms) {
    int changed = 0;
    struct cluster_node *me = cs->myself;
    if (m->type == BUSMSG_PING || m->type == BUSMSG_MEET) {
        /* Only peers MEET us, at the address they know us by: learn our own
         * address from it (or from any PING while we know none). */
        if (!g->config.announce_ip && (m->type == BUSMSG_MEET || me->ip[0] == '\0') &&
            link->local_ip != NULL && link->local_ip[0] != '\0' &&
            strcmp(link->local_ip, me->ip) != 0) {
            copy_ip(me->ip, link->local_ip);
            note(g, GOSSIP_LOG_WARNING, "IP address for this node updated to %s", me->ip);
            changed |= GOSSIP_SAVE;
        }
        if (sender == NULL && m->type == BUSMSG_MEET) {
            char id[CLUSTER_ID_LEN + 1];
            gossip_random_id(g, id);
            struct cluster_node *n = cluster_node_add(cs, id, CNODE_HANDSHAKE, now_ms);
            if (n != NULL) {
                copy_ip(n->ip, sender_ip(m, link));
                n->port = m->port;
                n->cport = m->cport;
                changed |= GOSSIP_SAVE;
            }
            changed |= process_gossip(g, cs, m, NULL, now_ms);
        }
        link->reply_pong = true;
    }
    if (link->node != NULL) {
        struct cluster_node *resolved = resolve_link_node(g, cs, m, link, sender, now_ms, &changed);
        if (resolved == NULL)
            return changed;
        if (sender == NULL) {
            /* Just completed a handshake: the rest applies to it now. */
            sender = resolved;
            sender->data_recv_ms = now_ms;
            if (m->current_epoch > cs->current_epoch)
                cs->current_epoch = m->current_epoch;
            if (m->config_epoch > sender->config_epoch)
                sender->config_epoch = m->config_epoch;
        }
    }
    if (sender != NULL) {
        if (from_wire(m->flags) & CNODE_NOFAILOVER)
            sender->flags |= CNODE_NOFAILOVER;
        else
            sender->flags &= ~(uint32_t)CNODE_NOFAILOVER;
        if (m->type == BUSMSG_PING && update_address(g, cs, sender, m, link))
            changed |= GOSSIP_SAVE | GOSSIP_STATE;
        changed |= update_announced(sender, m);
    }
    if (link->node != NULL && m->type == BUSMSG_PONG) {
        struct cluster_node *n = link->node;
        n->pong_recv_ms = now_ms;
        n->ping_sent_ms = 0;
        if (n->flags & CNODE_PFAIL) {
            n->flags &= ~(uint32_t)CNODE_PFAIL;
            changed |= GOSSIP_STATE;
        } else {
            changed |= clear_failure_if_needed(g, n, now_ms);
        }
    }
    if (sender == NULL)
        return changed;

    changed |= process_role(cs, sender, m);

    struct cluster_node *sender_master = is_master(sender) ? sender : sender->master;
    bool dirty = sender_master != NULL && slots_differ(cs, sender_master, m->slots);
    if (dirty && is_master(sender))
        changed |= update_slots_config_with(g, cs, sender, m->config_epoch, m->slots);
    if (dirty) {
        /* The sender claims slots we know a newer owner of: tell it (one
         * UPDATE per message, as Redis). */
        for (unsigned slot = 0; slot < SLOT_COUNT; slot++) {
            if (!busmsg_slot_test(m->slots, slot))
                continue;
            struct cluster_node *owner = slotmap_owner(&cs->slots, slot);
            if (owner == NULL || owner == sender)
                continue;
            if (owner->config_epoch > m->config_epoch) {
                note(g, GOSSIP_LOG_VERBOSE,
                     "Node %.40s has old slots configuration, sending an UPDATE message about "
                     "%.40s",
                     sender->id, owner->id);
                g->ops.send_update(g->ops.arg, sender, owner);
                break;
            }
        }
    }
    if (is_master(me) && is_master(sender) && m->config_epoch == me->config_epoch)
        changed |= handle_epoch_collision(g, cs, sender);
    changed |= process_gossip(g, cs, m, sender, now_ms);
    return changed;
}

int gossip_process(struct gossip *g, struct cluster_state *cs, const struct busmsg *m,
                   struct gossip_link *link, int64_t now_ms) {
    struct cluster_node *me = cs->myself;
    struct cluster_node *sender = cluster_node_lookup(cs, m->sender, CLUSTER_ID_LEN);
    if (sender != NULL && (sender->flags & CNODE_HANDSHAKE))
        sender = NULL;
    if (sender == me) {
        /* We met ourselves: a handshake with our own address ends here. */
        if (m->type == BUSMSG_PING || m->type == BUSMSG_MEET)
            link->reply_pong = true;
        if (link->node != NULL && link->node != me && (link->node->flags & CNODE_HANDSHAKE)) {
            delete_node(g, cs, link->node);
            link->node = NULL;
            link->close = true;
            return GOSSIP_SAVE;
        }
        return 0;
    }
    int changed = 0;
    if (sender != NULL) {
        sender->data_recv_ms = now_ms;
        if (m->current_epoch > cs->current_epoch) {
            cs->current_epoch = m->current_epoch;
            changed |= GOSSIP_SAVE;
        }
        if (m->config_epoch > sender->config_epoch) {
            sender->config_epoch = m->config_epoch;
            changed |= GOSSIP_SAVE;
        }
    }
    switch (m->type) {
    case BUSMSG_MEET:
    case BUSMSG_PING:
    case BUSMSG_PONG:
        changed |= process_ping_pong(g, cs, m, link, sender, now_ms);
        break;
    case BUSMSG_FAIL: {
        if (sender == NULL)
            break;
        struct cluster_node *failing = cluster_node_lookup(cs, m->fail_about, CLUSTER_ID_LEN);
        if (failing == NULL || (failing->flags & (CNODE_FAIL | CNODE_MYSELF)))
            break;
        note(g, GOSSIP_LOG_NOTICE, "FAIL message received from %.40s about %.40s", sender->id,
             failing->id);
        failing->flags = (failing->flags & ~(uint32_t)CNODE_PFAIL) | CNODE_FAIL;
        failing->fail_time_ms = now_ms;
        changed |= GOSSIP_SAVE | GOSSIP_STATE;
        break;
    }
    case BUSMSG_UPDATE: {
        if (sender == NULL)
            break;
        struct cluster_node *n = cluster_node_lookup(cs, m->update_id, CLUSTER_ID_LEN);
        if (n == NULL || n == me || n->config_epoch >= m->update_config_epoch)
            break;
        if (!is_master(n))
            cluster_node_set_master(cs, n, NULL);
        n->config_epoch = m->update_config_epoch;
        changed |= GOSSIP_SAVE | GOSSIP_STATE;
        changed |= update_slots_config_with(g, cs, n, m->update_config_epoch, m->update_slots);
        break;
    }
    default: /* PUBLISH, PUBLISHSHARD: delivered by the caller */
        break;
    }
    return changed;
}

/* ---- Cron ---- */

int gossip_cron(struct gossip *g, struct cluster_state *cs, int64_t now_ms) {
    int changed = 0;
    int64_t timeout = g->config.node_timeout_ms;
    int64_t handshake_timeout = timeout > 1000 ? timeout : 1000;
    expire_bans(g, now_ms);
    g->iteration++;

    size_t pfail = 0;
    for (size_t i = 0; i < cs->node_count;) {
        struct cluster_node *n = cs->nodes[i];
        if (n->flags & (CNODE_MYSELF | CNODE_NOADDR)) {
            i++;
            continue;
        }
        if (n->flags & CNODE_PFAIL)
            pfail++;
        if ((n->flags & CNODE_HANDSHAKE) && now_ms - n->ctime_ms > handshake_timeout) {
            delete_node(g, cs, n);
            changed |= GOSSIP_SAVE;
            continue;
        }
        i++;
    }
    g->pfail_nodes = pfail;

    /* About once a second, ping the node with the oldest pong among five
     * random ones. */
    if (g->iteration % 10 == 0 && cs->node_count > 1) {
        struct cluster_node *oldest = NULL;
        for (int tries = 0; tries < 5; tries++) {
            struct cluster_node *n = cs->nodes[next_random(g) % cs->node_count];
            if (n->ping_sent_ms != 0 || (n->flags & (CNODE_MYSELF | CNODE_HANDSHAKE)) ||
                g->ops.link_age_ms(g->ops.arg, n) < 0)
                continue;
            if (oldest == NULL || n->pong_recv_ms < oldest->pong_recv_ms)
                oldest = n;
        }
        if (oldest != NULL)
            g->ops.send_ping(g->ops.arg, oldest);
    }

    for (size_t i = 0; i < cs->node_count; i++) {
        struct cluster_node *n = cs->nodes[i];
        if (n->flags & (CNODE_MYSELF | CNODE_NOADDR | CNODE_HANDSHAKE))
            continue;
        int64_t ping_delay = now_ms - n->ping_sent_ms;
        int64_t data_delay = now_ms - n->data_recv_ms;
        int64_t link_age = g->ops.link_age_ms(g->ops.arg, n);
        /* A link silent for half the timeout while a ping waits: reconnect,
         * the connection itself may be the problem. */
        if (link_age > timeout && n->ping_sent_ms != 0 && ping_delay > timeout / 2 &&
            data_delay > timeout / 2) {
            g->ops.drop_link(g->ops.arg, n);
            link_age = -1;
        }
        if (link_age >= 0 && n->ping_sent_ms == 0 && now_ms - n->pong_recv_ms > timeout / 2) {
            g->ops.send_ping(g->ops.arg, n);
            continue;
        }
        if (n->ping_sent_ms == 0)
            continue;
        /* Any data from the node counts as a sign of life, as a pong. */
        int64_t delay = ping_delay < data_delay ? ping_delay : data_delay;
        if (delay > timeout && !(n->flags & (CNODE_PFAIL | CNODE_FAIL))) {
            note(g, GOSSIP_LOG_VERBOSE, "*** NODE %.40s possibly failing", n->id);
            n->flags |= CNODE_PFAIL;
            changed |= GOSSIP_STATE;
        }
    }
    return changed;
}

/* ---- Building messages ---- */

static int add_entry(struct busmsg *m, const struct cluster_node *n) {
    struct busmsg_gossip *e = busmsg_add_gossip(m);
    if (e == NULL)
        return m->gossip_count >= BUSMSG_MAX_GOSSIP ? BUSMSG_OK : BUSMSG_ENOMEM;
    memcpy(e->id, n->id, CLUSTER_ID_LEN + 1);
    copy_ip(e->ip, n->ip);
    e->port = n->port;
    e->cport = n->cport;
    e->flags = to_wire(n->flags);
    e->ping_sent_s = (uint32_t)(n->ping_sent_ms / 1000);
    e->pong_recv_s = (uint32_t)(n->pong_recv_ms / 1000);
    return BUSMSG_OK;
}

/* clusterSendPing's choice: about a tenth of the nodes (at least 3, never
 * more than the nodes other than myself and the receiver), picked at
 * random among those worth telling about, plus every PFAIL node so that
 * failure reports spread fast. */
static int add_gossip_entries(struct gossip *g, const struct cluster_state *cs, struct busmsg *m) {
    size_t count = cs->node_count;
    size_t fresh = count >= 2 ? count - 2 : 0;
    size_t wanted = count / 10;
    if (wanted < 3)
        wanted = 3;
    if (wanted > fresh)
        wanted = fresh;
    bool *chosen = count ? calloc(count, sizeof(*chosen)) : NULL;
    if (count > 0 && chosen == NULL)
        return BUSMSG_ENOMEM;
    int rc = BUSMSG_OK;
    size_t added = 0;
    for (size_t tries = wanted * 3; tries > 0 && added < wanted && rc == BUSMSG_OK; tries--) {
        size_t i = next_random(g) % count;
        const struct cluster_node *n = cs->nodes[i];
        if (chosen[i] || n == cs->myself || (n->flags & CNODE_PFAIL))
            continue;
        if ((n->flags & (CNODE_HANDSHAKE | CNODE_NOADDR)) ||
            (g->ops.link_age_ms(g->ops.arg, n) < 0 && n->slot_count == 0))
            continue;
        chosen[i] = true;
        rc = add_entry(m, n);
        added++;
    }
    for (size_t i = 0; i < count && g->pfail_nodes > 0 && rc == BUSMSG_OK; i++) {
        const struct cluster_node *n = cs->nodes[i];
        if ((n->flags & CNODE_PFAIL) && !(n->flags & (CNODE_HANDSHAKE | CNODE_NOADDR)))
            rc = add_entry(m, n);
    }
    free(chosen);
    return rc;
}

int gossip_build(struct gossip *g, const struct cluster_state *cs, enum busmsg_type type,
                 struct busmsg *m) {
    const struct cluster_node *me = cs->myself;
    const struct cluster_node *master =
        (me->flags & CNODE_SLAVE) && me->master != NULL ? me->master : me;
    m->type = type;
    memcpy(m->sender, me->id, CLUSTER_ID_LEN + 1);
    m->current_epoch = cs->current_epoch;
    m->config_epoch = master->config_epoch;
    m->flags = to_wire(me->flags);
    if (master != me)
        memcpy(m->master, master->id, CLUSTER_ID_LEN + 1);
    else
        m->master[0] = '\0';
    /* Redis sends its address only when announced; peers use the address
     * the message comes from otherwise. */
    copy_ip(m->ip, g->config.announce_ip ? me->ip : "");
    m->port = me->port;
    m->cport = me->cport;
    snprintf(m->hostname, sizeof(m->hostname), "%s", me->hostname);
    copy_ip(m->client_ip, me->client_ip);
    m->client_port = me->client_port;
    if (type != BUSMSG_MEET && type != BUSMSG_PING && type != BUSMSG_PONG) {
        /* Only MEET/PING/PONG receivers read the slots (as in Redis): the
         * other types leave them empty and skip the scan of the slot map. */
        memset(m->slots, 0, sizeof(m->slots));
        return BUSMSG_OK;
    }
    gossip_node_slots(cs, master, m->slots);
    return add_gossip_entries(g, cs, m);
}

/* ---- FORGET ---- */

void gossip_forget(struct gossip *g, struct cluster_state *cs, struct cluster_node *n,
                   int64_t now_ms) {
    if (n == cs->myself)
        return;
    ban(g, n->id, now_ms);
    delete_node(g, cs, n);
}
