/* The cluster's node table and its view of the cluster: every known node
 * (this one included), the slot map, the epochs, and the derived cluster
 * state (ok/fail) and size, with Redis 7.0's rules for each.
 *
 * Pure data: no sockets, no clock reads (times come in as arguments), no
 * logging, no files (nodes.conf is cluster/nodesconf.c). The node layer owns
 * the one instance and decides when to persist it. */
#ifndef KR_CLUSTER_NODES_H
#define KR_CLUSTER_NODES_H

#include "cluster/slotmap.h"

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#define CLUSTER_ID_LEN       40 /* lowercase hex characters */
#define CLUSTER_IP_LEN       46 /* INET6_ADDRSTRLEN */
#define CLUSTER_HOSTNAME_LEN 256
#define CLUSTER_PORT_INCR    10000 /* default bus port = port + 10000 */

/* Node flags, printed in this order by CLUSTER NODES. */
enum cluster_node_flag {
    CNODE_MYSELF = 1 << 0,
    CNODE_MASTER = 1 << 1,
    CNODE_SLAVE = 1 << 2,
    CNODE_PFAIL = 1 << 3, /* "fail?" */
    CNODE_FAIL = 1 << 4,
    CNODE_HANDSHAKE = 1 << 5,
    CNODE_NOADDR = 1 << 6,
    CNODE_NOFAILOVER = 1 << 7,
    CNODE_MEET = 1 << 8, /* send a MEET when the bus connects; never printed */
};

/* One known node. Owned by the table; fields are public to read, changed
 * only through the functions below (which keep the slot map in step). */
struct cluster_node {
    char id[CLUSTER_ID_LEN + 1];
    char ip[CLUSTER_IP_LEN]; /* "" until known (a fresh node's own ip) */
    int port, cport;
    char hostname[CLUSTER_HOSTNAME_LEN]; /* "" if none announced */
    /* The address clients are told (cluster-announce-client-ipv4 and
     * -client-port, Valkey 8), when it differs from the bus-side 'ip' and
     * 'port' that nodes use among themselves: "" / 0 when not announced.
     * Learned from the node's own bus messages; not in nodes.conf. */
    char client_ip[CLUSTER_IP_LEN];
    int client_port;
    uint32_t flags;                     /* CNODE_* */
    struct cluster_node *master;        /* a replica's master, or NULL */
    int64_t ctime_ms;                   /* when the entry was created */
    int64_t ping_sent_ms, pong_recv_ms; /* 0 = none */
    uint64_t config_epoch;
    bool link_connected;      /* bus link state as seen from here */
    unsigned slot_count;      /* slots it owns in the slot map */
    unsigned failure_reports; /* masters that flagged it PFAIL */
    int64_t fail_time_ms;     /* when it was flagged FAIL (cluster/gossip.c) */
    int64_t data_recv_ms;     /* last bus message from it (cluster/gossip.c) */
    void *bus_link;           /* private: its outbound bus link (node layer) */
};

/* Called by cluster_node_delete just before 'n' is freed (the node layer
 * closes its bus link). */
typedef void (*cluster_node_delete_cb)(void *arg, struct cluster_node *n);

/* The whole view. Caller-allocated via cluster_state_new (it embeds the
 * ~400 KB slot map). Fields are read-only outside cluster/. */
struct cluster_state {
    struct cluster_node *myself;
    struct cluster_node **nodes; /* node_count entries, in insertion order */
    size_t node_count, node_cap;
    uint64_t current_epoch, last_vote_epoch;
    struct slotmap slots;

    /* Derived state (cluster_update_state). */
    bool state_ok;
    int size; /* masters serving at least one slot */
    /* private: when the state must be recomputed, and Redis's delays */
    bool state_dirty;
    bool in_minority;
    bool full_coverage_used; /* the setting the last evaluation used */
    int64_t start_ms, last_change_ms, among_minority_ms, recheck_ms;
    cluster_node_delete_cb on_delete;
    void *on_delete_arg;
};

/* Returns an owned state holding only 'myself' (a master with no slots, id
 * 'my_id', 40 hex chars), or NULL when out of memory. 'now_ms' is the start
 * time Redis's writable delay counts from. Free with cluster_state_free. */
struct cluster_state *cluster_state_new(const char *my_id, int64_t now_ms);
void cluster_state_free(struct cluster_state *cs);

/* Registers 'cb' (NULL: none) to run before any node is deleted. */
void cluster_state_set_delete_cb(struct cluster_state *cs, cluster_node_delete_cb cb, void *arg);

/* True if 'id'[0..len) is a well-formed node id (40 chars of [0-9a-z], as
 * Redis 7.0's verifyClusterNodeId). */
bool cluster_id_is_valid(const char *id, size_t len);

/* The node with id 'id'[0..len), or NULL. */
struct cluster_node *cluster_node_lookup(const struct cluster_state *cs, const char *id,
                                         size_t len);
/* Adds a node with 'id' (valid, not yet known) and 'flags'. Returns it
 * (owned by the table), or NULL when out of memory. */
struct cluster_node *cluster_node_add(struct cluster_state *cs, const char *id, uint32_t flags,
                                      int64_t now_ms);
/* Removes and frees 'n' (not myself): its slots become unassigned, open
 * slots pointing at it close, and its replicas lose their master. */
void cluster_node_delete(struct cluster_state *cs, struct cluster_node *n);
/* Gives 'myself' a new id (CLUSTER RESET HARD). */
void cluster_node_rename_myself(struct cluster_state *cs, const char *new_id);

/* Makes 'n' a replica of 'master' (master != n), or a master when 'master'
 * is NULL. A node that becomes a replica keeps no slots. */
void cluster_node_set_master(struct cluster_state *cs, struct cluster_node *n,
                             struct cluster_node *master);
/* Number of replicas of 'master'; fills up to 'max' of them into 'out'. */
size_t cluster_node_replicas(const struct cluster_state *cs, const struct cluster_node *master,
                             struct cluster_node **out, size_t max);
/* The configEpoch printed for 'n': its master's for a replica (nodeEpoch). */
uint64_t cluster_node_epoch(const struct cluster_node *n);

/* Assigns 'slot' to 'n' (any previous owner loses it). */
void cluster_slot_assign(struct cluster_state *cs, unsigned slot, struct cluster_node *n);
/* Unassigns 'slot' (no-op if it has no owner). */
void cluster_slot_unassign(struct cluster_state *cs, unsigned slot);

/* ---- Epochs (Redis 7.0) ---- */

/* The greatest of currentEpoch and every node's configEpoch. */
uint64_t cluster_max_epoch(const struct cluster_state *cs);
/* clusterBumpConfigEpochWithoutConsensus: if myself's epoch is 0 or not the
 * greatest, takes currentEpoch+1 and returns true; else returns false. */
bool cluster_bump_epoch(struct cluster_state *cs);

/* ---- State ---- */

/* Records that the view changed at 'now_ms' (slots, nodes, roles): the
 * state is recomputed at the next cluster_update_state. */
void cluster_state_changed(struct cluster_state *cs, int64_t now_ms);
/* Redis 7.0's clusterUpdateState, evaluated lazily: ok when (with
 * 'require_full_coverage') every slot has a non-failed owner and a majority
 * of the masters serving slots is reachable. A master does not turn ok in
 * its first 2 s, nor within the rejoin delay (node timeout clamped to
 * 500..5000 ms) after it stopped being in a minority. */
void cluster_update_state(struct cluster_state *cs, int64_t now_ms, bool require_full_coverage,
                          int64_t node_timeout_ms);

/* Forgets every other node and all slots and open slots; myself becomes a
 * master. With 'hard', the epochs go to 0 (the caller renames myself). */
void cluster_reset(struct cluster_state *cs, bool hard);

/* ---- Descriptions (CLUSTER NODES, nodes.conf) ---- */

/* One CLUSTER NODES line for 'n' without the trailing newline, open slots
 * included for myself. Returns an owned NUL-terminated string (free with
 * free()) and its length in '*len', or NULL when out of memory. */
char *cluster_node_describe(const struct cluster_state *cs, const struct cluster_node *n,
                            size_t *len);
/* Every node's line, each ending in "\n", skipping nodes with any of the
 * flags in 'skip'. Same ownership as cluster_node_describe. */
char *cluster_describe_all(const struct cluster_state *cs, uint32_t skip, size_t *len);

/* What clients are told (CLUSTER NODES/SLOTS/SHARDS, MOVED, ASK): the
 * node's announced client address where it has one, else its 'ip'/'port'.
 * The *_for_clients descriptions print that address ("ip:port@cport"); the
 * plain ones print the bus-side address nodes.conf keeps. */
const char *cluster_node_client_ip(const struct cluster_node *n);
int cluster_node_client_port(const struct cluster_node *n);
char *cluster_node_describe_for_clients(const struct cluster_state *cs,
                                        const struct cluster_node *n, size_t *len);
char *cluster_describe_all_for_clients(const struct cluster_state *cs, uint32_t skip, size_t *len);

#endif
