/* Cluster shards as Raft groups (see cluster_shard.h): keeps the cluster
 * view's roles and the shard's slot ownership in step with this node's
 * Raft group, and carries out CLUSTER REPLICATE (join the master's group)
 * and CLUSTER FAILOVER (ask the leader for a leadership transfer).
 *
 * A new leader also commits its new config epoch to the shard's log
 * (KEYRAFT SHARDEPOCH <node-id> <epoch>), so every member of the shard,
 * including an old master that comes back, learns the shard's ownership and
 * epoch from Raft. Other nodes learn them through gossip
 * (node/cluster_bus.c). Joining itself is node/replication.c's KEYRAFT JOIN
 * machinery. */
#include "node/cluster_shard.h"

#include "cluster/nodes.h"
#include "node/cluster_mode.h"
#include "node/cmd_handlers.h"
#include "node/command.h"
#include "node/config.h"
#include "node/exec.h"
#include "node/log.h"
#include "node/propose.h"
#include "node/replication.h"
#include "storage/object.h"
#include "node/server.h"
#include "node/shard.h"
#include "raft/group.h"

#include <inttypes.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#define SYNC_INTERVAL_MS 50
#define MAX_MEMBERS      64

static uv_timer_t sync_timer;
static bool started;

struct cluster_node *cluster_shard_node_of_member(unsigned long long member_id) {
    struct cluster_state *cs = cluster_mode_state();
    if (cs == NULL || member_id == 0)
        return NULL;
    for (size_t i = 0; i < cs->node_count; i++) {
        struct cluster_node *n = cs->nodes[i];
        if (!(n->flags & CNODE_HANDSHAKE) && shard_node_member_id(n->id) == member_id)
            return n;
    }
    return NULL;
}

bool cluster_shard_led_by(const struct cluster_node *n) {
    struct group *g = shard_group();
    return g != NULL && !replication_join_pending() &&
           group_leader(g, NULL) == shard_node_member_id(n->id);
}

/* ---- Roles follow Raft ---- */

/* This node's group as cluster nodes (members the view does not know are
 * left out). */
struct shard_members {
    struct cluster_node *leader;
    struct cluster_node *nodes[MAX_MEMBERS];
    size_t count;
};

/* The slots this shard owned when last seen: gossip may unassign the old
 * master's slots (it announced itself a replica) before the new leader
 * claims them, and the new leader must still know what to claim. */
static uint8_t remembered[SLOT_COUNT / 8];
/* The leader the view was last aligned to (0: none yet). */
static uint64_t aligned_leader;

static bool is_remembered(unsigned slot) {
    return (remembered[slot / 8] >> (slot % 8)) & 1;
}

static void set_remembered(unsigned slot, bool on) {
    if (on)
        remembered[slot / 8] |= (uint8_t)(1u << (slot % 8));
    else
        remembered[slot / 8] &= (uint8_t) ~(1u << (slot % 8));
}

/* Members this member dropped when it continued alone (a shard of two):
 * they still belong to the shard and are added back once reachable. */
static struct {
    uint64_t id;
    char address[128];
    bool adding; /* a group_add_member is under way */
} dropped[MAX_MEMBERS];
static size_t dropped_count;

static void load_members(struct group *g, struct shard_members *sm) {
    struct group_member_info m[MAX_MEMBERS];
    size_t n = group_members(g, m, MAX_MEMBERS);
    sm->leader = cluster_shard_node_of_member(group_leader(g, NULL));
    sm->count = 0;
    for (size_t i = 0; i < n && i < MAX_MEMBERS; i++) {
        struct cluster_node *node = cluster_shard_node_of_member(m[i].id);
        if (node != NULL)
            sm->nodes[sm->count++] = node;
    }
    for (size_t i = 0; i < dropped_count && sm->count < MAX_MEMBERS; i++) {
        struct cluster_node *node = cluster_shard_node_of_member(dropped[i].id);
        if (node != NULL)
            sm->nodes[sm->count++] = node;
    }
}

static bool is_member(const struct shard_members *sm, const struct cluster_node *n) {
    for (size_t i = 0; i < sm->count; i++)
        if (sm->nodes[i] == n)
            return true;
    return false;
}

/* Records which slots the shard owns in the view: those of a member, of
 * myself, or of the master the view has me replicate (a member that just
 * joined may not have the configuration yet). An unassigned slot keeps its
 * memory, except while this node is the settled master (then a slot it no
 * longer owns was deleted on purpose). */
static void remember_slots(const struct cluster_state *cs, const struct shard_members *sm,
                           bool settled_master) {
    const struct cluster_node *me = cs->myself;
    const struct cluster_node *my_master = (me->flags & CNODE_SLAVE) ? me->master : NULL;
    for (unsigned slot = 0; slot < SLOT_COUNT; slot++) {
        const struct cluster_node *owner = slotmap_owner(&cs->slots, slot);
        if (owner != NULL)
            set_remembered(slot, owner == me || owner == my_master || is_member(sm, owner));
        else if (settled_master)
            set_remembered(slot, false);
    }
}

/* Gives 'leader' the shard's slots: those another member owns, and those
 * unassigned that the shard owned. Returns how many moved; '*epoch' gets
 * the greatest config epoch they had. */
static unsigned claim_slots(struct cluster_state *cs, const struct shard_members *sm,
                            struct cluster_node *leader, uint64_t *epoch) {
    unsigned moved = 0;
    *epoch = 0;
    for (unsigned slot = 0; slot < SLOT_COUNT; slot++) {
        struct cluster_node *owner = slotmap_owner(&cs->slots, slot);
        if (owner == leader || (owner == NULL ? !is_remembered(slot) : !is_member(sm, owner)))
            continue;
        if (owner != NULL && cluster_node_epoch(owner) > *epoch)
            *epoch = cluster_node_epoch(owner);
        cluster_slot_assign(cs, slot, leader);
        moved++;
    }
    return moved;
}

/* Commits "'me' leads the shard with 'epoch'" to the shard's log. */
static void propose_shard_epoch(const struct cluster_node *me, uint64_t epoch) {
    struct command *parent = command_lookup("keyraft", 7);
    const struct command *cmd =
        parent != NULL ? command_lookup_sub(parent, "shardepoch", 10) : NULL;
    if (cmd == NULL)
        return;
    char epoch_text[24];
    int epoch_len = snprintf(epoch_text, sizeof(epoch_text), "%" PRIu64, epoch);
    char *argv[4] = {"KEYRAFT", "SHARDEPOCH", (char *)me->id, epoch_text};
    size_t argvlen[4] = {7, 10, CLUSTER_ID_LEN, (size_t)epoch_len};
    struct resp_out sink;
    resp_out_init_discard(&sink);
    struct exec_ctx ctx = {.out = &sink, .cmd = cmd, .argc = 4, .argv = argv, .argvlen = argvlen};
    propose_write(&ctx);
    resp_out_close(&sink);
}

/* The view's side of a change of leader: 'sm->leader' becomes the shard's
 * master and owns its slots. On the new leader itself, after another led,
 * while the view had it as a replica, or when it had to claim slots (gossip
 * may have made it a slot-less master first), that is a won failover:
 * Redis 7.0's clusterFailoverReplaceYourMaster with the epoch of a won
 * election (currentEpoch+1), committed to the log. Elsewhere the leader
 * keeps at least the epoch its slots had here until its own (higher) one
 * arrives through the log or gossip. */
static void align_to_new_leader(struct cluster_state *cs, const struct shard_members *sm) {
    struct cluster_node *me = cs->myself;
    struct cluster_node *leader = sm->leader;
    bool was_replica = (me->flags & CNODE_SLAVE) != 0;
    if (leader->flags & CNODE_SLAVE)
        cluster_node_set_master(cs, leader, NULL);
    uint64_t epoch;
    unsigned claimed = claim_slots(cs, sm, leader, &epoch);
    bool won = leader == me && (was_replica || aligned_leader != 0 || claimed > 0);
    if (won) {
        uint64_t max_epoch = cluster_max_epoch(cs);
        cs->current_epoch = (max_epoch > cs->current_epoch ? max_epoch : cs->current_epoch) + 1;
        me->config_epoch = cs->current_epoch;
        log_warning("Failover election won: I'm the new master.");
        log_warning("configEpoch set to %" PRIu64 " after successful failover", me->config_epoch);
        propose_shard_epoch(me, me->config_epoch);
    } else if (leader != me) {
        if (leader->config_epoch < epoch)
            leader->config_epoch = epoch;
        log_notice("Raft leader of my shard is %.40s: it is the shard's master", leader->id);
    }
}

/* Makes member 'n' a replica of 'leader' in the view. A member that owns
 * slots here (the shard's went to the leader), or that replicates a node
 * outside this group, left the group for another shard without being
 * removed from its configuration: gossip knows better. Returns true if the
 * view changed. */
static bool follow(struct cluster_state *cs, const struct shard_members *sm,
                   struct cluster_node *n) {
    struct cluster_node *leader = sm->leader;
    if (n == leader || ((n->flags & CNODE_SLAVE) && n->master == leader))
        return false;
    if (n->slot_count > 0 ||
        ((n->flags & CNODE_SLAVE) && n->master != NULL && !is_member(sm, n->master)))
        return false;
    cluster_node_set_master(cs, n, leader);
    if (n == cs->myself)
        log_notice("I'm a replica of %.40s, the Raft leader of my shard", leader->id);
    return true;
}

/* Members that replicate a node outside the group: since when (by id). */
static struct {
    uint64_t id;
    int64_t since_ms;
} departing[MAX_MEMBERS];
static size_t departing_count;

static void on_departed_removed(void *arg, int status) {
    uint64_t id = (uint64_t)(uintptr_t)arg;
    if (status == GROUP_OK)
        log_notice("Member %" PRIu64 " replicates another shard now: removed from my Raft group",
                   id);
}

/* On the leader: a member the view has replicating a node outside this
 * group (CLUSTER REPLICATE elsewhere, redis-cli del-node re-pointing
 * replicas) left the shard without telling it. It still counts as a voter
 * here, which weakens the majority (and stalls a shard of two), so once
 * that has held for a node timeout it is removed from the configuration. */
static void remove_departed(struct group *g, const struct shard_members *sm) {
    if (!group_is_leader(g)) {
        departing_count = 0;
        return;
    }
    struct group_member_info m[MAX_MEMBERS];
    size_t n = group_members(g, m, MAX_MEMBERS);
    int64_t now = server_now_ms();
    uint64_t ids[MAX_MEMBERS];
    int64_t since[MAX_MEMBERS];
    size_t kept = 0;
    for (size_t i = 0; i < n && i < MAX_MEMBERS; i++) {
        struct cluster_node *node = cluster_shard_node_of_member(m[i].id);
        if (node == NULL || node == sm->leader || !(node->flags & CNODE_SLAVE) ||
            node->master == NULL || is_member(sm, node->master))
            continue;
        ids[kept] = m[i].id;
        since[kept] = now;
        for (size_t j = 0; j < departing_count; j++)
            if (departing[j].id == m[i].id)
                since[kept] = departing[j].since_ms;
        if (now - since[kept] >= cfg.cluster_node_timeout &&
            group_remove_member(g, m[i].id, on_departed_removed, (void *)(uintptr_t)m[i].id) ==
                GROUP_OK)
            since[kept] = now; /* under way: give it another node timeout */
        kept++;
    }
    for (size_t i = 0; i < kept; i++) {
        departing[i].id = ids[i];
        departing[i].since_ms = since[i];
    }
    departing_count = kept;
}

void cluster_shard_sync(void) {
    struct group *g = shard_group();
    if (!cfg.cluster_enabled || g == NULL || replication_join_pending())
        return;
    struct cluster_state *cs = cluster_mode_state();
    if (cs == NULL)
        return; /* shutting down: the view is gone */
    struct cluster_node *me = cs->myself;
    struct shard_members sm;
    load_members(g, &sm);
    bool settled = aligned_leader == shard_member_id() && !(me->flags & CNODE_SLAVE);
    remember_slots(cs, &sm, settled); /* before gossip can take them away */
    /* The view made myself a replica of a node outside this group (a
     * master whose last slot migrated away follows the node that took it,
     * as in Redis), or myself's master did so (its replicas follow it,
     * cluster-compat.md 2.7; the group may have no leader left): join that
     * node's group. */
    struct cluster_node *outside = NULL;
    /* (A member that just joined has no configuration until the leader
     * sends it: nothing is known to be outside yet.) */
    if ((me->flags & CNODE_SLAVE) && me->master != NULL && is_member(&sm, me)) {
        struct cluster_node *m = me->master;
        if (!is_member(&sm, m))
            outside = m;
        else if ((m->flags & CNODE_SLAVE) && m->master != NULL && m->master != me &&
                 !is_member(&sm, m->master))
            outside = m->master;
    }
    if (outside != NULL) {
        cluster_shard_replicate(outside);
        return;
    }
    if (sm.leader == NULL)
        return; /* no leader yet, or not a node this view knows */
    uint64_t leader_id = shard_node_member_id(sm.leader->id);
    bool changed = false;
    if (leader_id != aligned_leader) {
        align_to_new_leader(cs, &sm);
        aligned_leader = leader_id;
        changed = true;
    } else if (sm.leader->flags & CNODE_SLAVE) {
        cluster_node_set_master(cs, sm.leader, NULL); /* a stale gossip header */
        changed = true;
    }
    for (size_t i = 0; i < sm.count; i++)
        changed |= follow(cs, &sm, sm.nodes[i]);
    remove_departed(g, &sm);
    if (changed)
        cluster_mode_changed();
}

/* KEYRAFT SHARDEPOCH <node-id> <epoch>: applied on every member of the
 * shard. The node leads the shard with config epoch 'epoch': unless the
 * view already has the shard's slots at that epoch or a higher one (an old
 * entry replayed after a restart), it becomes the master owning them, and
 * myself its replica. currentEpoch never goes back. */
void cmd_keyraft_shardepoch(struct exec_ctx *ctx) {
    struct cluster_state *cs = cluster_mode_state();
    long long epoch;
    if (!obj_parse_ll(ctx->argv[3], ctx->argvlen[3], &epoch) || epoch < 0) {
        resp_add_error(ctx->out, "ERR invalid config epoch");
        return;
    }
    struct group *g = shard_group();
    if (cs == NULL || g == NULL) {
        exec_reply_ok(ctx);
        return;
    }
    if (cs->current_epoch < (uint64_t)epoch)
        cs->current_epoch = (uint64_t)epoch;
    struct cluster_node *leader = cluster_node_lookup(cs, ctx->argv[2], ctx->argvlen[2]);
    struct cluster_node *me = cs->myself;
    struct cluster_node *shard_master = (me->flags & CNODE_SLAVE) ? me->master : me;
    if (leader != NULL && leader != me && shard_master != NULL &&
        (uint64_t)epoch > cluster_node_epoch(shard_master)) {
        struct shard_members sm;
        load_members(g, &sm);
        sm.leader = leader;
        if (leader->flags & CNODE_SLAVE)
            cluster_node_set_master(cs, leader, NULL);
        uint64_t old_epoch;
        claim_slots(cs, &sm, leader, &old_epoch);
        if (!(me->flags & CNODE_SLAVE) || me->master != leader)
            cluster_node_set_master(cs, me, leader);
        leader->config_epoch = (uint64_t)epoch;
    } else if (leader == me && me->config_epoch < (uint64_t)epoch) {
        me->config_epoch = (uint64_t)epoch;
    }
    cluster_mode_changed();
    exec_reply_ok(ctx);
}

/* ---- A shard of two (design.md "Cluster") ---- */

static int64_t leaderless_since_ms; /* 0: not waiting to continue alone */

/* A 2-voter group can neither elect nor commit without both members. Once
 * a majority of masters flagged the other member FAIL (gossip's quorum: the
 * authorisation design.md asks for) and it stayed so for a node timeout
 * (while this member is the leader, or no leader is known), this member
 * continues alone. No acknowledged write is lost: a commit needed both
 * members, so this one has every committed entry. */
static void continue_alone_if_authorised(struct cluster_state *cs, struct group *g) {
    bool leader = group_is_leader(g);
    if ((!leader && group_leader(g, NULL) != 0) || replication_join_pending()) {
        leaderless_since_ms = 0;
        return;
    }
    struct group_member_info m[3];
    size_t n = group_members(g, m, 3);
    uint64_t self = shard_member_id();
    if (n != 2 || m[0].role != GROUP_ROLE_VOTER || m[1].role != GROUP_ROLE_VOTER ||
        (m[0].id != self && m[1].id != self)) {
        leaderless_since_ms = 0;
        return;
    }
    const struct group_member_info *other = m[0].id == self ? &m[1] : &m[0];
    struct cluster_node *me = cs->myself;
    struct cluster_node *peer = cluster_shard_node_of_member(other->id);
    bool peer_is_my_master = (me->flags & CNODE_SLAVE) && me->master == peer;
    bool peer_is_my_replica = peer != NULL && (peer->flags & CNODE_SLAVE) && peer->master == me;
    if (peer == NULL || !(peer->flags & CNODE_FAIL) || !(peer_is_my_master || peer_is_my_replica)) {
        leaderless_since_ms = 0;
        return;
    }
    int64_t now = server_now_ms();
    if (leaderless_since_ms == 0)
        leaderless_since_ms = now;
    if (now - leaderless_since_ms < cfg.cluster_node_timeout)
        return;
    leaderless_since_ms = 0;
    log_warning("Shard of two: my %s %.40s failed (a majority of masters agrees) and the Raft "
                "group cannot go on without it: continuing alone",
                peer_is_my_master ? "master" : "replica", peer->id);
    if (dropped_count < MAX_MEMBERS) {
        dropped[dropped_count].id = other->id;
        snprintf(dropped[dropped_count].address, sizeof(dropped[0].address), "%s", other->address);
        dropped[dropped_count].adding = false;
        dropped_count++;
    }
    if (shard_continue_alone() != 0)
        log_warning("Could not continue alone: see above");
}

static void forget_dropped(size_t i) {
    dropped[i] = dropped[--dropped_count];
}

static void on_dropped_added(void *arg, int status) {
    uint64_t id = (uint64_t)(uintptr_t)arg;
    for (size_t i = 0; i < dropped_count; i++) {
        if (dropped[i].id != id)
            continue;
        if (status == GROUP_OK) {
            log_notice("Member %" PRIu64 " is back: added to my Raft group again", id);
            forget_dropped(i);
        } else {
            dropped[i].adding = false; /* retried by the next sync */
        }
        return;
    }
}

/* On the leader: adds back dropped members whose node is reachable again
 * (bus link up, not failing). The Raft log then overwrites whatever the
 * returning member had beyond what was committed. */
static void add_back_dropped(struct group *g) {
    if (!group_is_leader(g))
        return;
    for (size_t i = 0; i < dropped_count; i++) {
        struct cluster_node *n = cluster_shard_node_of_member(dropped[i].id);
        if (dropped[i].adding || n == NULL || !n->link_connected ||
            (n->flags & (CNODE_FAIL | CNODE_PFAIL)))
            continue;
        dropped[i].adding = true;
        int rc = group_add_member(g, dropped[i].id, dropped[i].address, on_dropped_added, NULL,
                                  (void *)(uintptr_t)dropped[i].id);
        if (rc != GROUP_OK)
            dropped[i].adding = false;
    }
}

/* Members that asked to leave (KEYRAFT LEAVE) while another membership
 * change was under way (the library takes one at a time, e.g. while it
 * promotes a member that just joined): removed as soon as it takes one. */
static uint64_t leaving[MAX_MEMBERS];
static size_t leaving_count;

static void remove_leaving(struct group *g) {
    if (!group_is_leader(g)) {
        leaving_count = 0; /* the next leader hears from remove_departed */
        return;
    }
    size_t kept = 0;
    for (size_t i = 0; i < leaving_count; i++)
        if (group_remove_member(g, leaving[i], on_departed_removed,
                                (void *)(uintptr_t)leaving[i]) == GROUP_ECHANGING)
            leaving[kept++] = leaving[i];
    leaving_count = kept;
}

static void on_sync_timer(uv_timer_t *t) {
    (void)t;
    struct cluster_state *cs = cluster_mode_state();
    struct group *g = shard_group();
    if (cs == NULL || g == NULL)
        return;
    continue_alone_if_authorised(cs, g);
    g = shard_group();
    if (g == NULL)
        return;
    add_back_dropped(g);
    remove_leaving(g);
    cluster_shard_sync();
}

int cluster_shard_start(void) {
    if (!cfg.cluster_enabled || started)
        return 0;
    uv_timer_init(server.loop, &sync_timer);
    uv_timer_start(&sync_timer, on_sync_timer, SYNC_INTERVAL_MS, SYNC_INTERVAL_MS);
    uv_unref((uv_handle_t *)&sync_timer); /* never keeps the loop alive alone */
    started = true;
    return 0;
}

/* ---- CLUSTER REPLICATE ---- */

static void leave_group(void);

/* True if 'master' and myself are both members of this node's group (a
 * replica that already follows it: nothing to join). */
static bool in_group_of(const struct cluster_node *master) {
    struct group *g = shard_group();
    if (g == NULL)
        return false;
    struct group_member_info m[MAX_MEMBERS];
    size_t n = group_members(g, m, MAX_MEMBERS);
    uint64_t master_id = shard_node_member_id(master->id);
    bool has_master = false, has_me = false;
    for (size_t i = 0; i < n && i < MAX_MEMBERS; i++) {
        has_master |= m[i].id == master_id;
        has_me |= m[i].id == shard_member_id();
    }
    return has_master && has_me;
}

void cluster_shard_replicate(struct cluster_node *master) {
    struct cluster_state *cs = cluster_mode_state();
    cluster_node_set_master(cs, cs->myself, master);
    cluster_mode_changed();
    if (in_group_of(master) && !replication_join_pending())
        return;
    const char *ip = master->ip[0] != '\0' ? master->ip : "127.0.0.1";
    log_notice("Joining the Raft group of %.40s (%s:%d) as a replica", master->id, ip,
               master->port);
    leave_group();
    aligned_leader = 0; /* a new group: its leaders and slots are still to be seen */
    memset(remembered, 0, sizeof(remembered));
    replication_join(ip, master->port);
}

void cluster_shard_reset(void) {
    replication_cancel_join();
    aligned_leader = 0;
    dropped_count = 0;
    memset(remembered, 0, sizeof(remembered));
}

/* ---- Requests to another node (KEYRAFT TRANSFER, KEYRAFT LEAVE) ---- */

/* One command sent to a node's client port, its one-line reply logged. */
struct node_request {
    uv_tcp_t tcp;
    uv_connect_t connect;
    uv_write_t write;
    char host[CLUSTER_IP_LEN];
    int port;
    const char *what; /* for the log: "Manual failover", ... */
    const char *done; /* logged on +OK */
    char out[128];
    char reply[128];
    size_t reply_len;
};

static void request_closed(uv_handle_t *h) {
    free(h->data);
}

static void request_end(struct node_request *nr, const char *failure) {
    if (failure != NULL)
        log_warning("%s: %s:%d answered: %s", nr->what, nr->host, nr->port, failure);
    if (!uv_is_closing((uv_handle_t *)&nr->tcp))
        uv_close((uv_handle_t *)&nr->tcp, request_closed);
}

static void on_reply_alloc(uv_handle_t *h, size_t suggested, uv_buf_t *buf) {
    (void)suggested;
    struct node_request *nr = h->data;
    *buf =
        uv_buf_init(nr->reply + nr->reply_len, (unsigned)(sizeof(nr->reply) - 1 - nr->reply_len));
}

static void on_reply(uv_stream_t *s, ssize_t n, const uv_buf_t *buf) {
    (void)buf;
    struct node_request *nr = s->data;
    if (n < 0) {
        request_end(nr, uv_strerror((int)n));
        return;
    }
    nr->reply_len += (size_t)n;
    nr->reply[nr->reply_len] = '\0';
    char *eol = strstr(nr->reply, "\r\n");
    if (eol == NULL && nr->reply_len < sizeof(nr->reply) - 1)
        return;
    if (eol != NULL)
        *eol = '\0';
    bool ok = strcmp(nr->reply, "+OK") == 0;
    if (ok)
        log_notice("%s: %s", nr->what, nr->done);
    request_end(nr, ok ? NULL : nr->reply);
}

static void on_request_sent(uv_write_t *w, int status) {
    struct node_request *nr = w->data;
    if (status < 0) {
        request_end(nr, uv_strerror(status));
        return;
    }
    uv_read_start((uv_stream_t *)&nr->tcp, on_reply_alloc, on_reply);
}

static void on_request_connected(uv_connect_t *c, int status) {
    struct node_request *nr = c->data;
    if (status < 0) {
        request_end(nr, uv_strerror(status));
        return;
    }
    uv_buf_t buf = uv_buf_init(nr->out, (unsigned)strlen(nr->out));
    nr->write.data = nr;
    if (uv_write(&nr->write, (uv_stream_t *)&nr->tcp, &buf, 1, on_request_sent) != 0)
        request_end(nr, "write failed");
}

/* Sends "KEYRAFT <sub> <my member id>" to 'to' (its client address);
 * 'what' and 'done' (static strings) go to the log. */
static void send_keyraft(const struct cluster_node *to, const char *sub, const char *what,
                         const char *done) {
    struct node_request *nr = calloc(1, sizeof(*nr));
    if (nr == NULL) {
        log_warning("%s: out of memory", what);
        return;
    }
    snprintf(nr->host, sizeof(nr->host), "%s", to->ip[0] != '\0' ? to->ip : "127.0.0.1");
    nr->port = to->port;
    nr->what = what;
    nr->done = done;
    char id[24];
    int idlen = snprintf(id, sizeof(id), "%" PRIu64, shard_member_id());
    snprintf(nr->out, sizeof(nr->out), "*3\r\n$7\r\nKEYRAFT\r\n$%zu\r\n%s\r\n$%d\r\n%s\r\n",
             strlen(sub), sub, idlen, id);
    struct sockaddr_storage sa;
    if (uv_ip4_addr(nr->host, nr->port, (struct sockaddr_in *)&sa) != 0 &&
        uv_ip6_addr(nr->host, nr->port, (struct sockaddr_in6 *)&sa) != 0) {
        log_warning("%s: bad address %s:%d", what, nr->host, nr->port);
        free(nr);
        return;
    }
    uv_tcp_init(server.loop, &nr->tcp);
    nr->tcp.data = nr;
    nr->connect.data = nr;
    if (uv_tcp_connect(&nr->connect, &nr->tcp, (struct sockaddr *)&sa, on_request_connected) != 0)
        request_end(nr, "connect failed");
}

void cluster_shard_failover(void) {
    struct cluster_state *cs = cluster_mode_state();
    const struct cluster_node *master = cs->myself->master;
    if (master == NULL)
        return;
    log_notice("Manual failover user request accepted: asking %.40s for Raft leadership",
               master->id);
    send_keyraft(master, "TRANSFER", "Manual failover",
                 "the master is handing leadership to this node");
}

/* Before joining another group: asks this group's leader to remove this
 * member. The leader would otherwise keep sending it this group's log,
 * which the member (same id, same address) would take into the other
 * group's. Best effort: a leader that does not answer leaves it to
 * remove_departed on whoever leads next. */
static void leave_group(void) {
    struct group *g = shard_group();
    if (g == NULL || group_is_leader(g))
        return;
    struct cluster_node *leader = cluster_shard_node_of_member(group_leader(g, NULL));
    if (leader == NULL)
        return;
    send_keyraft(leader, "LEAVE", "Leaving my Raft group", "the leader removes this member");
}

/* KEYRAFT LEAVE <member-id> (on the leader): removes the member, which is
 * joining another group. */
void cmd_keyraft_leave(struct exec_ctx *ctx) {
    long long id;
    if (!obj_parse_ll(ctx->argv[2], ctx->argvlen[2], &id) || id <= 0) {
        resp_add_error(ctx->out, "ERR invalid member id");
        return;
    }
    struct group *g = shard_group();
    if (g == NULL || !group_is_leader(g)) {
        resp_add_error(ctx->out, "ERR not the leader of a Raft group");
        return;
    }
    int rc = group_remove_member(g, (uint64_t)id, on_departed_removed, (void *)(uintptr_t)id);
    if (rc == GROUP_ECHANGING && leaving_count < MAX_MEMBERS) {
        /* Removed once the change under way commits, within milliseconds:
         * the member need not wait for that. */
        bool queued = false;
        for (size_t i = 0; i < leaving_count; i++)
            queued |= leaving[i] == (uint64_t)id;
        if (!queued)
            leaving[leaving_count++] = (uint64_t)id;
        rc = GROUP_OK;
    }
    if (rc != GROUP_OK) {
        resp_add_errorf(ctx->out, "ERR can't remove the member: %s", group_strerror(rc));
        return;
    }
    exec_reply_ok(ctx);
}
