/* The write step: every write command reaches the keyspace through
 * propose_write and nowhere else.
 *
 * Without a Raft group (appendonly no, no replicas) a write applies at once
 * with the proposer's clock and a fresh seed. With one, the writes proposed
 * during a loop iteration are cut into ONE log entry at the end of that
 * iteration (group commit); each waits, its client paused, until the entry
 * commits and applies, and runs then, on every member, with the entry's
 * time and seeds. The member that proposed it routes the replies to the
 * waiting clients; the others apply into a sink. */
#ifndef KR_NODE_PROPOSE_H
#define KR_NODE_PROPOSE_H

#include <stdbool.h>
#include <stddef.h>

struct client;
struct exec_ctx;

/* Proposes ctx's command as a write; its reply reaches ctx->out when it has
 * been applied (at once, or when its entry applies). */
void propose_write(struct exec_ctx *ctx);
/* Makes client 'c' run its next command only once every write proposed so
 * far has applied (its writes may still join the log meanwhile). Returns
 * false when nothing is pending (or out of memory): it need not wait. */
bool propose_wait_for_proposed(struct client *c);
/* Cuts the current batch into a log entry (the loop's prepare phase). */
void propose_flush(void);
/* Applies one committed entry (the group's apply callback). */
void propose_apply(void *arg, const void *buf, size_t len, void **result);
/* Forgets a closing client in the batches it waits in. */
void propose_client_closed(struct client *c);
/* Fails every pending proposal (the group is closing). */
void propose_shutdown(void);

#endif
