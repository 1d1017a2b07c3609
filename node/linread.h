/* Linearizable reads (the linearizable-reads directive).
 *
 * Reads normally run at once against the applied state. On the leader of a
 * Raft group that state may lag: an entry committed by a majority may not
 * have applied here yet, and a leader cut off from the others may not know
 * it was deposed. With linearizable-reads yes, a read command (flagged
 * readonly, or an EXEC whose queue holds no write) arriving on the leader is
 * parked with a copy of its arguments; at the end of the loop iteration ONE
 * Raft barrier is issued for every read parked during it, and once the
 * barrier has applied here the reads run through dispatch again, in arrival
 * order. A read therefore sees every write acknowledged before it arrived,
 * on any connection. Reads pipelined behind a parked read that had already
 * arrived when its barrier was issued run right after it, on that barrier.
 *
 * If leadership is lost before the barrier applies, the parked reads get
 * "-TRYAGAIN" (cluster clients retry it) rather than a possibly stale
 * answer. Followers (possibly stale by design), nodes without a group, and
 * commands inside MULTI (they run at EXEC) are never parked. */
#ifndef KR_NODE_LINREAD_H
#define KR_NODE_LINREAD_H

#include <stdbool.h>
#include <stddef.h>

struct client;
struct command;

/* Whether 'cmd' from 'c' must wait for a barrier before it runs. False for
 * the command being re-run once its barrier applied. */
bool linread_postpones(const struct client *c, const struct command *cmd);
/* Parks 'c' (it reads no further command meanwhile) with a copy of its
 * command ('argv' borrowed). When out of memory the client gets Redis's OOM
 * error instead and is not parked. */
void linread_postpone(struct client *c, int argc, char **argv, const size_t *argvlen);
/* Forgets a closing client's parked read. */
void linread_client_closed(struct client *c);

#endif
