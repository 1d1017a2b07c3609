/* Cluster shards as Raft groups (design.md "Cluster", issue 6): this node's
 * Raft group is its shard. The group's leader is the shard's master and
 * owns the shard's slots in the view; its other members are `slave
 * <leader-id>`. A follower that wins an election takes over its old
 * master's slots with a new config epoch (currentEpoch+1, as Redis's
 * failover does) and commits that epoch to the shard's log (KEYRAFT
 * SHARDEPOCH), so every member learns it from Raft; gossip spreads it to
 * the other shards.
 *
 * A shard of two cannot elect or commit without both members: once a
 * majority of masters flagged the other member FAIL (gossip's quorum) for a
 * node timeout, the survivor continues alone (shard_continue_alone) and adds
 * the other back when it is reachable again.
 *
 * Raft member ids map to cluster node ids with shard_node_member_id, so
 * every member tells which cluster node leads from Raft alone.
 *
 * Also here: what CLUSTER REPLICATE and CLUSTER FAILOVER do once their
 * checks passed (node/cmd_cluster.c replies). Does nothing outside cluster
 * mode. */
#ifndef KR_NODE_CLUSTER_SHARD_H
#define KR_NODE_CLUSTER_SHARD_H

#include <stdbool.h>

struct cluster_node;

/* Starts keeping the view in step with the group (a timer, plus the calls
 * below at the moments that matter). After shard_init. Returns 0. */
int cluster_shard_start(void);
/* Brings the view in line with the group's leader and members now: roles,
 * the shard's slots and, on a new leader, its config epoch. Saves
 * nodes.conf when something changed. */
void cluster_shard_sync(void);

/* CLUSTER REPLICATE <master> after its checks: myself becomes `slave
 * <master>` in the view at once and joins the master's Raft group
 * (KEYRAFT JOIN to its client address), unless it is a member already. */
void cluster_shard_replicate(struct cluster_node *master);
/* CLUSTER FAILOVER on a replica: asks the shard's leader (KEYRAFT TRANSFER,
 * asynchronously) to hand leadership to this member. */
void cluster_shard_failover(void);
/* CLUSTER RESET: forgets a join under way. */
void cluster_shard_reset(void);

/* True if 'n' is the current Raft leader of this node's group. */
bool cluster_shard_led_by(const struct cluster_node *n);
/* The cluster node whose member id is 'member_id', or NULL. */
struct cluster_node *cluster_shard_node_of_member(unsigned long long member_id);

#endif
