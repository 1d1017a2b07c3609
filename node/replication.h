/* Standalone replication on Raft (REPLICAOF, ROLE, WAIT, INFO replication);
 * see replication.c for how a replica joins its master's Raft group. */
#ifndef KR_NODE_REPLICATION_H
#define KR_NODE_REPLICATION_H

#include <stdbool.h>
#include <stddef.h>

struct client;

/* True on a group member that is not the leader (or waiting to join). */
bool replication_is_replica(void);
/* Forgets a closing client (pending WAIT). */
void replication_client_closed(struct client *c);
/* Writes the INFO replication fields (after the section header) into
 * 'buf'; returns their length. 'replid' is the replication id to report. */
size_t replication_info(char *buf, size_t len, const char *replid);

#endif
