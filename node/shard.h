/* The Raft group this node's data belongs to: opening it at startup,
 * joining another node's group, knowing whether writes go through it, and
 * whether the node is still replaying its log.
 *
 * With `appendonly yes` every write is a Raft entry: <dir>/raft holds the
 * log (the AOF of keyraft) and a fresh directory is bootstrapped as a group
 * of one. A node that joined a master's group (REPLICAOF) is a member of
 * that group instead. With neither, writes apply at once and nothing is
 * persisted, as with Redis without AOF.
 *
 * <dir>/keyraft.member records this node's member id and whether it
 * bootstrapped its group or joined one (keyraft's files never go inside
 * <dir>/raft, which belongs to the Raft library). */
#ifndef KR_NODE_SHARD_H
#define KR_NODE_SHARD_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

struct group;

/* Opens the group if the configuration or the member file asks for one.
 * Returns 0, or -1 after logging why. */
int shard_init(void);
/* Closes the group; returns once its files are closed. */
void shard_close(void);
/* The group writes go through, or NULL when they apply at once. */
struct group *shard_group(void);
/* True while a restarted node has not yet applied the log it had. */
bool shard_is_loading(void);
/* Called after each applied entry (loading progress). */
void shard_note_applied(void);

/* This node's member id (created on first use). */
uint64_t shard_member_id(void);
/* Picks a new member id for joining another group (the current one may be
 * known to the group this node leaves). The open group keeps its own. */
void shard_new_member_id(void);
/* The address this node's Raft transport listens on ("ip:port"). */
const char *shard_raft_address(void);
/* Makes sure writes go through a group, bootstrapping a group of one when
 * there is none (a master taking its first replica). Fails (-1) when the
 * node has data that is not in a log yet. */
int shard_ensure_group(void);
/* Drops this node's data and log and becomes an empty member of the group
 * whose leader just accepted it; the leader then sends it the log. */
int shard_become_joined_member(void);
/* Leaves the group: writes apply at once again, data is kept. */
void shard_leave_group(void);
/* The client address ("ip", port) of a member from its Raft address. */
bool shard_client_address(const char *raft_address, char *ip, size_t iplen, long long *port);

#endif
