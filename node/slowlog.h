/* The slow log: the last 'slowlog-max-len' commands that ran for at least
 * 'slowlog-log-slower-than' microseconds, as Redis 7.0 keeps them, and the
 * SLOWLOG command (handlers cmd_slowlog_* in slowlog.c). */
#ifndef KR_NODE_SLOWLOG_H
#define KR_NODE_SLOWLOG_H

#include <stddef.h>
#include <stdint.h>

struct client;
struct command;

/* Records the call if the slow log is on, 'cmd' is not flagged
 * skip_slowlog, and 'duration_us' reaches the threshold. Copies what it
 * keeps of 'argv' (trimmed as Redis does: at most 32 arguments, each at
 * most 128 bytes). 'c' may be NULL (no peer address or name). */
void slowlog_record(const struct client *c, const struct command *cmd, int argc, char **argv,
                    const size_t *argvlen, uint64_t duration_us);
/* Frees every entry (SLOWLOG RESET, shutdown). */
void slowlog_reset(void);

#endif
