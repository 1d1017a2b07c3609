/* CLIENT PAUSE: holding back clients' commands for a while.
 *
 * While a pause is in force, dispatch asks pause_postpones() before running
 * a command; if it says yes, pause_postpone() parks the client with a copy
 * of the command (the client stops reading further commands, as when
 * blocked). When the pause ends (its deadline, or CLIENT UNPAUSE), the
 * parked commands run through dispatch again in the order they arrived, on
 * the next loop iteration, and each client then continues its pipeline.
 * Redis 7.0: a WRITE pause holds only commands flagged write or
 * may_replicate, and an EXEC whose queue holds one; an ALL pause holds every
 * command; monitors (replicas in Redis) are never held. */
#ifndef KR_NODE_PAUSE_H
#define KR_NODE_PAUSE_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

struct client;
struct command;

enum pause_type { PAUSE_OFF = 0, PAUSE_WRITE, PAUSE_ALL };

/* Starts or extends a pause until 'end_ms' (unix ms). As Redis, a pause
 * already in force keeps the stronger type and the later end. */
void pause_start(enum pause_type type, int64_t end_ms);
/* Ends the pause now (CLIENT UNPAUSE); held clients resume next iteration. */
void pause_end(void);
/* The pause in force at this moment (PAUSE_OFF once the deadline passed). */
enum pause_type pause_current(void);
/* Whether client 'c' must wait before running 'cmd', called with 'flags'
 * (script_command_flags). */
bool pause_postpones(const struct client *c, const struct command *cmd, uint32_t flags);
/* Parks 'c' with a copy of its command ('argv' borrowed). Returns false when
 * out of memory; the caller then runs the command at once. */
bool pause_postpone(struct client *c, int argc, char **argv, const size_t *argvlen);
/* Drops the held command of a closing client. */
void pause_client_closed(struct client *c);

#endif
