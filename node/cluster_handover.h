/* Manual failover, the master's side (CLUSTER FAILOVER on a replica sends
 * KEYRAFT TRANSFER to its master). As Redis 7.0 pauses writes on the master
 * during a manual failover so that clients see one MOVED and no error, the
 * master here holds new writes (a WRITE pause, node/pause.h), lets the
 * writes already in the log commit and apply, hands Raft leadership to the
 * replica, and ends the pause once its cluster view has the new master:
 * the held writes then run through dispatch again and get MOVED to it.
 * A write in flight at a leadership transfer would otherwise fail with an
 * error whose outcome is unknown to the client, although it commits.
 *
 * The hand-over lasts at most 5 s (Redis 7.0's CLUSTER_MF_TIMEOUT); if the
 * transfer has not finished by then, or Raft gave up on it (after an
 * election timeout), the held writes run here again. A CLIENT PAUSE in
 * force when the hand-over ends is ended with it. */
#ifndef KR_NODE_CLUSTER_HANDOVER_H
#define KR_NODE_CLUSTER_HANDOVER_H

#include <stddef.h>
#include <stdint.h>

/* On the leader of this node's group: starts handing leadership to voter
 * 'member_id'. Returns 0, or -1 with a reason in 'err' (at most 'errlen'
 * bytes, NUL-terminated) when this node is not the leader or a hand-over is
 * already under way. */
int cluster_handover_start(uint64_t member_id, char *err, size_t errlen);

#endif
