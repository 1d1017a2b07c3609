/* From a parsed request to a reply: command lookup, arity and
 * authentication checks, statistics, then execution (reads at once, writes
 * through node/propose). Also the connection lifecycle hooks other modules
 * need (MONITOR, pub/sub, MULTI cleanup). */
#ifndef KR_NODE_DISPATCH_H
#define KR_NODE_DISPATCH_H

#include <stdbool.h>
#include <stddef.h>

struct client;

/* Handles one command. 'argv' entries are borrowed for the call only. */
void dispatch_command(struct client *c, int argc, char **argv, size_t *argvlen);
/* Whether a command may be dispatched while the client's earlier writes
 * wait for their commit: a plain write outside MULTI with replies on. Its
 * entry applies after theirs, so its reply follows theirs; any other
 * command waits, so a client always reads its own writes. */
bool dispatch_joins_pending_writes(const struct client *c, int argc, char **argv, size_t *argvlen);
/* Whether 'c' may run commands beyond AUTH/HELLO (requirepass satisfied). */
bool dispatch_is_authenticated(const struct client *c);
void dispatch_client_connected(struct client *c);
void dispatch_client_closed(struct client *c);
/* RESET: drops the per-connection state other modules keep for 'c'
 * (MONITOR; MULTI and pub/sub add theirs here). */
void dispatch_client_reset(struct client *c);

#endif
