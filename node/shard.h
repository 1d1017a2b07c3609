/* The Raft group this node's data belongs to: opening it at startup,
 * knowing whether writes go through it, and whether the node is still
 * replaying its log.
 *
 * With `appendonly yes` every write is a Raft entry: <dir>/raft holds the
 * log (the AOF of keyraft) and a fresh directory is bootstrapped as a group
 * of one. With `appendonly no` and no group to replicate to, writes apply
 * at once and nothing is persisted, as with Redis without AOF. */
#ifndef KR_NODE_SHARD_H
#define KR_NODE_SHARD_H

#include <stdbool.h>
#include <stdint.h>

struct group;

/* Opens the group if the configuration asks for one. Returns 0, or -1
 * after logging why. */
int shard_init(void);
/* Closes the group; returns once its files are closed. */
void shard_close(void);
/* The group writes go through, or NULL when they apply at once. */
struct group *shard_group(void);
/* True while a restarted node has not yet applied the log it had. */
bool shard_is_loading(void);
/* Called after each applied entry (loading progress). */
void shard_note_applied(void);

#endif
