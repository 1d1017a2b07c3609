/* MONITOR: clients that receive a line for every command the server runs.
 *
 * A line is Redis 7.0's replicationFeedMonitors format, sent as a status
 * reply in both protocols:
 *   +<unix seconds>.<microseconds> [<db> <peer addr>] "arg" "arg" ...
 * with each argument quoted like sdscatrepr. Commands flagged admin or
 * skip_monitor are never shown, and arguments the command redacted (the
 * secrets of AUTH and HELLO AUTH) show as "(redacted)". */
#ifndef KR_NODE_MONITOR_H
#define KR_NODE_MONITOR_H

#include <stdbool.h>
#include <stddef.h>

struct client;
struct command;

/* Marks argument 'index' of the command being executed to be shown as
 * "(redacted)" (Redis's redactClientCommandArgument: AUTH and HELLO call it
 * for secrets as they parse them). The marks apply to the next
 * monitor_feed, which drops them. */
void monitor_redact_arg(int index);
/* Makes 'c' a monitor (idempotent). */
void monitor_add(struct client *c);
/* Stops 'c' being a monitor (idempotent; called on RESET and on close). */
void monitor_remove(struct client *c);
/* Sends the command 'cmd' that client 'c' just ran ('argv' borrowed, 'dbid'
 * the database it ran in, after the command: SELECT 3 shows 3) to every
 * monitor. Call it after the command executed, once per executed command
 * (EXEC calls it for each queued command it runs, then dispatch for EXEC
 * itself); never for rejected or merely queued commands. Cheap when nobody
 * monitors. */
void monitor_feed(const struct client *c, const struct command *cmd, int dbid, int argc,
                  char **argv, const size_t *argvlen);

#endif
