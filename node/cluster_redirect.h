/* Cluster redirection of client commands (Redis 7.0's processCommand step
 * that calls getNodeByQuery), and the connection flags it depends on:
 * ASKING, READONLY and READWRITE. */
#ifndef KR_NODE_CLUSTER_REDIRECT_H
#define KR_NODE_CLUSTER_REDIRECT_H

#include <stdbool.h>
#include <stddef.h>

struct client;
struct command;

/* Decides whether 'cmd' from 'c' may run on this node in cluster mode.
 * Returns false to run it, or true with the error to reject it with in
 * 'msg' (MOVED, ASK, TRYAGAIN, CROSSSLOT, CLUSTERDOWN, without the '-').
 * For EXEC the keys of every queued command count, and a redirected EXEC
 * discards the transaction first (Redis's discardTransaction). Consumes the
 * client's ASKING flag (it covers one command, or one whole transaction).
 * Call for every command that passed lookup, arity, auth and ACL checks. */
bool cluster_redirect(struct client *c, const struct command *cmd, int argc, char **argv,
                      size_t *argvlen, char *msg, size_t msglen);

#endif
