/* The cluster bus protocol's rules (Redis 7.0's cluster.c, written anew):
 * what a received MEET/PING/PONG/FAIL/UPDATE does to the view, what the
 * 100 ms cron does (handshake expiry, pings, PFAIL), failure reports and
 * the FAIL quorum, slot ownership by config epoch, epoch collisions, the
 * FORGET ban list, and which gossip entries a message carries.
 *
 * Pure logic on a struct cluster_state: no sockets, no clock (times come in
 * as 'now_ms'), no printing. What must go on the wire (a PONG reply, a FAIL
 * broadcast, an UPDATE, a PING) and what to log goes out through struct
 * gossip_ops, implemented by the node layer (node/cluster_bus.c). Returns
 * say whether the view changed, so the caller saves nodes.conf and
 * recomputes the cluster state. */
#ifndef KR_CLUSTER_GOSSIP_H
#define KR_CLUSTER_GOSSIP_H

#include "cluster/busmsg.h"
#include "cluster/nodes.h"

#include <stdbool.h>
#include <stdint.h>

/* Redis 7.0: CLUSTER_FAIL_REPORT_VALIDITY_MULT, CLUSTER_FAIL_UNDO_TIME_MULT,
 * CLUSTER_BLACKLIST_TTL. */
#define GOSSIP_REPORT_VALIDITY_MULT 2
#define GOSSIP_FAIL_UNDO_MULT       2
#define GOSSIP_FORGET_BAN_MS        60000

/* What a call changed (bit mask). */
enum gossip_change {
    GOSSIP_SAVE = 1 << 0,  /* the view changed: save nodes.conf */
    GOSSIP_STATE = 1 << 1, /* recompute the cluster state */
};

enum gossip_log_level { GOSSIP_LOG_VERBOSE, GOSSIP_LOG_NOTICE, GOSSIP_LOG_WARNING };

/* The node layer's side. Every callback must be set except
 * 'myself_replica_of'. Nodes passed in are borrowed for the call. */
struct gossip_ops {
    void *arg;
    /* Send a PING to 'to' on its outbound link (the callee records
     * to->ping_sent_ms). Only for nodes whose link_age_ms is >= 0. */
    void (*send_ping)(void *arg, struct cluster_node *to);
    /* Send a FAIL about 'failing' to every node with a link. */
    void (*send_fail)(void *arg, const struct cluster_node *failing);
    /* Send 'to' an UPDATE carrying 'about's config epoch and slots. */
    void (*send_update)(void *arg, struct cluster_node *to, const struct cluster_node *about);
    /* Close 'n's outbound link; the node layer reconnects later. */
    void (*drop_link)(void *arg, struct cluster_node *n);
    /* How long 'n's outbound link has existed (connecting counts), or -1
     * when it has none. */
    int64_t (*link_age_ms)(void *arg, const struct cluster_node *n);
    /* A line for the log. */
    void (*log)(void *arg, enum gossip_log_level level, const char *text);
    /* Optional: myself just became a replica of 'master' because 'master'
     * took all of its slots. */
    void (*myself_replica_of)(void *arg, struct cluster_node *master);
};

struct gossip_config {
    int64_t node_timeout_ms; /* cluster-node-timeout */
    bool announce_ip;        /* cluster-announce-ip set: send myself's ip and never relearn it */
    bool allow_replica_migration; /* cluster-allow-replica-migration */
};

/* The connection a message came in on. */
struct gossip_link {
    /* in/out: the node of an outbound link, NULL for an inbound one. Set to
     * NULL when processing deleted or disowned that node. */
    struct cluster_node *node;
    const char *peer_ip;  /* the other end's address */
    const char *local_ip; /* this end's address */
    /* out */
    bool reply_pong; /* answer on this link with a PONG */
    bool close;      /* close this link */
};

struct gossip; /* opaque: failure reports, ban list, PRNG, counters */

/* Returns an owned gossip context seeded with 'seed' (free with
 * gossip_free), or NULL when out of memory. */
struct gossip *gossip_new(const struct gossip_ops *ops, uint64_t seed);
void gossip_free(struct gossip *g);
/* Sets the settings the rules use (any time). */
void gossip_configure(struct gossip *g, const struct gossip_config *config);

/* Applies message 'm' received on 'link' at 'now_ms' to 'cs'. PUBLISH
 * messages change nothing here (the caller delivers them when
 * gossip_sender_known says so). Returns GOSSIP_* bits. */
int gossip_process(struct gossip *g, struct cluster_state *cs, const struct busmsg *m,
                   struct gossip_link *link, int64_t now_ms);
/* True when 'm's sender is a known node that finished its handshake
 * (Redis ignores FAIL, UPDATE and PUBLISH from anyone else). */
bool gossip_sender_known(const struct cluster_state *cs, const struct busmsg *m);

/* The 100 ms cron (Redis's clusterCron, minus connecting links, which the
 * caller does first): expires handshakes, pings, drops silent links, flags
 * PFAIL. Returns GOSSIP_* bits. */
int gossip_cron(struct gossip *g, struct cluster_state *cs, int64_t now_ms);

/* Fills 'm' (initialised by the caller) with myself's header for a message
 * of 'type' (slots only for MEET/PING/PONG) and, for those, gossip entries about a tenth of
 * the other nodes (at least 3 when there are) plus every PFAIL node.
 * Type-specific payloads are the caller's. Returns BUSMSG_OK or
 * BUSMSG_ENOMEM. */
int gossip_build(struct gossip *g, const struct cluster_state *cs, enum busmsg_type type,
                 struct busmsg *m);
/* Writes 'n's slots as a bus bitmap ('bits': BUSMSG_SLOT_BYTES). */
void gossip_node_slots(const struct cluster_state *cs, const struct cluster_node *n, uint8_t *bits);

/* CLUSTER FORGET: deletes 'n' (not myself) and bans its id for
 * GOSSIP_FORGET_BAN_MS so gossip does not bring it back. */
void gossip_forget(struct gossip *g, struct cluster_state *cs, struct cluster_node *n,
                   int64_t now_ms);
/* True while 'id' is banned. */
bool gossip_is_banned(struct gossip *g, const char *id, int64_t now_ms);
/* Drops failure reports by or about 'n' (call before 'n' is freed). */
void gossip_node_deleted(struct gossip *g, const struct cluster_node *n);
/* Valid failure reports about 'n' (expired ones are dropped first); also
 * stored in n->failure_reports. */
unsigned gossip_failure_reports(struct gossip *g, struct cluster_node *n, int64_t now_ms);

/* A random 40-character node id from the context's PRNG. */
void gossip_random_id(struct gossip *g, char *id);

#endif
