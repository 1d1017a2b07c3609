/* The Raft group this node's data belongs to: opening it at startup,
 * joining another node's group, knowing whether writes go through it, and
 * whether the node is still replaying its log.
 *
 * With `appendonly yes`, and always in cluster mode (a shard is a Raft
 * group), every write is a Raft entry: <dir>/raft holds the log (the AOF of
 * keyraft) and a fresh directory is bootstrapped as a group of one. A node
 * that joined a master's group (REPLICAOF, CLUSTER REPLICATE) is a member
 * of that group instead. With none of these, writes apply at once and
 * nothing is persisted, as with Redis without AOF.
 *
 * The group's transport listens on the cluster bus port (cluster-port, else
 * port+10000; bound to the first `bind` address), shared with the cluster
 * bus (design.md, contract point 5): connections that open with the bus
 * preamble go to the receiver set with shard_set_bus_receiver. In cluster
 * mode the port listens from startup.
 *
 * In cluster mode a member's Raft id is derived from its cluster node id
 * (shard_node_member_id), so every member can tell which cluster node is
 * the leader.
 *
 * <dir>/keyraft.member records this node's member id and whether it
 * bootstrapped its group or joined one (keyraft's files never go inside
 * <dir>/raft, which belongs to the Raft library). */
#ifndef KR_NODE_SHARD_H
#define KR_NODE_SHARD_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "raft/transport.h"

struct group;

/* Opens the group if the configuration or the member file asks for one.
 * In cluster mode, call after cluster_mode_start (the member id comes from
 * the node id). Returns 0, or -1 after logging why. */
int shard_init(void);
/* Closes the group; returns once its files are closed. */
void shard_close(void);
/* The group writes go through, or NULL when they apply at once. */
struct group *shard_group(void);
/* True while a restarted node has not yet applied the log it had. */
bool shard_is_loading(void);
/* True while shard_close runs the loop to close the group: there is no
 * group, and writes must wait for the next one (not apply at once). */
bool shard_is_swapping(void);
/* Called after each applied entry (loading progress). */
void shard_note_applied(void);

/* Routes every connection that opens with the bus preamble ("KRBUS001")
 * to 'cb' (see transport_bus_cb: it takes ownership of the stream); NULL
 * closes them. The registration survives the group being closed and
 * reopened (REPLICAOF, CLUSTER REPLICATE). Any time. */
void shard_set_bus_receiver(transport_bus_cb cb, void *arg);

/* This node's member id: in cluster mode, shard_node_member_id of its node
 * id; otherwise random, created on first use. */
uint64_t shard_member_id(void);
/* The Raft member id of the cluster node 'node_id' (40 hex characters):
 * non-zero, fits a positive long long. */
uint64_t shard_node_member_id(const char *node_id);
/* Picks a new member id for joining another group (the current one may be
 * known to the group this node leaves). The open group keeps its own. No
 * effect in cluster mode, where the id follows the node id. */
void shard_new_member_id(void);
/* The address this node's Raft transport listens on ("ip:port"). */
const char *shard_raft_address(void);
/* CONFIG SET appendonly: turning it on opens a group of one, which only an
 * empty dataset can start (returns -1 with the reason in 'err' otherwise). */
int shard_apply_appendonly(char *err, size_t errlen);
/* Makes sure writes go through a group, bootstrapping a group of one when
 * there is none (a master taking its first replica). Fails (-1) when the
 * node has data that is not in a log yet. */
int shard_ensure_group(void);
/* Drops this node's data and log and becomes an empty member of the group
 * whose leader just accepted it; the leader then sends it the log. */
int shard_become_joined_member(void);
/* Leaves the group, drops this node's data and log, and bootstraps a new
 * group of one with the current member id (CLUSTER RESET: the node becomes
 * an empty master, possibly with a new id). Returns 0 or -1 (logged). */
int shard_start_alone(void);
/* Disaster recovery for a shard of two whose other member is gone for
 * good (design.md "Cluster": only once a majority of masters agrees it
 * failed): reopens the group with a configuration of this member alone
 * (raft_recover) and replays the log into a cleared keyspace. Every entry
 * the lost member could have had committed is in this member's log (a
 * commit needed both). Returns 0 or -1 (logged). */
int shard_continue_alone(void);
/* Leaves the group: writes apply at once again, data is kept. */
void shard_leave_group(void);
/* The client address ("ip", port) of a member from its Raft address. */
bool shard_client_address(const char *raft_address, char *ip, size_t iplen, long long *port);

#endif
