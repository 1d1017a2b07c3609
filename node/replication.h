/* Standalone replication on Raft (REPLICAOF, ROLE, WAIT, INFO replication);
 * see replication.c for how a replica joins its master's Raft group. */
#ifndef KR_NODE_REPLICATION_H
#define KR_NODE_REPLICATION_H

#include <stdbool.h>
#include <stddef.h>

struct client;

/* True on a group member that is not the leader (or waiting to join). */
bool replication_is_replica(void);
/* Starts joining the Raft group whose leader serves clients at 'host':'port'
 * (KEYRAFT JOIN, retried every second until accepted); once accepted, this
 * node drops its data and log and becomes an empty member. Replaces any
 * join under way. */
void replication_join(const char *host, long long port);
/* Stops a join under way (or forgets a completed one). */
void replication_cancel_join(void);
/* True from replication_join until the master accepted this node. */
bool replication_join_pending(void);
/* Forgets a closing client (pending WAIT). */
void replication_client_closed(struct client *c);
/* Writes the INFO replication fields (after the section header) into
 * 'buf'; returns their length. 'replid' is the replication id to report. */
size_t replication_info(char *buf, size_t len, const char *replid);

#endif
