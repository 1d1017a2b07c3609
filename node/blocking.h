/* Clients blocked on keys (BLPOP, BZPOPMIN, BLMOVE, XREAD BLOCK ...).
 *
 * A blocking command's handler, finding nothing to take, calls
 * blocking_wait: the client is parked on its keys with a copy of its
 * command. Every change to a key (db_touch_modified) signals it; after the
 * current command, blocking_serve_ready re-runs the parked commands of
 * signalled keys that now hold the type each waits for ('want_type': a list
 * for BLPOP, a zset for BZPOPMIN, a stream for XREAD), in the order the
 * clients blocked (FIFO per key), each
 * through the normal write step, so the pop that finally happens is an
 * ordinary write that every member applies identically. A re-run that still
 * finds nothing keeps its place in the queue. */
#ifndef KR_NODE_BLOCKING_H
#define KR_NODE_BLOCKING_H

#include "storage/object.h"

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

struct client;
struct exec_ctx;

enum blocking_timeout_reply {
    BLOCKING_REPLY_NULL_ARRAY, /* BLPOP, BZPOPMIN, BLMPOP, XREAD: *-1 / _ */
    BLOCKING_REPLY_NULL_BULK,  /* BLMOVE, BRPOPLPUSH: $-1 / _ */
};

/* Parks ctx->client until one of the keys at argv indexes 'key_args' changes
 * or 'deadline_ms' (unix ms; 0 = never) passes, then re-runs the command.
 * Returns false when the client cannot block (no client, or not a top-level
 * command): the handler then replies as on timeout itself. On true the
 * handler must write nothing. */
bool blocking_wait(struct exec_ctx *ctx, const int *key_args, int nkeys, int64_t deadline_ms,
                   enum blocking_timeout_reply timeout_reply, enum obj_type want_type);
/* blocking_wait on the consecutive keys argv['first' .. 'first'+'nkeys'-1],
 * for commands whose keys are one run of arguments (BLPOP, BZPOPMIN,
 * BLMPOP, BZMPOP ...). When the client cannot block (inside MULTI, from a
 * script, out of memory) it writes the timeout reply itself, as Redis does
 * for a client that may not block; either way the handler is done. */
void blocking_wait_keys(struct exec_ctx *ctx, int first, int nkeys, int64_t deadline_ms,
                        enum blocking_timeout_reply timeout_reply, enum obj_type want_type);
/* Notes that 'key' of database 'db' changed. Cheap when nobody waits. */
void blocking_signal_key(int db, const char *key, size_t len);
/* Re-runs the commands of clients parked on signalled keys. */
void blocking_serve_ready(void);
/* Unparks a client without a reply (it is closing, or CLIENT UNBLOCK). If
 * 'timeout_reply' is set, the timeout reply is sent first. */
void blocking_unblock(struct client *c, bool timeout_reply);
bool blocking_is_blocked(const struct client *c);
/* Clients currently parked (INFO blocked_clients). */
size_t blocking_count(void);
/* Parked clients with a deadline (INFO clients_in_timeout_table). */
size_t blocking_timeout_count(void);
/* Parsing of a blocking timeout argument in seconds (fractions allowed), as
 * Redis 7.0: "ERR timeout is not a float or out of range", "ERR timeout is
 * negative". Returns the absolute deadline in ms (0 = forever) or -1 after
 * replying with the error. */
int64_t blocking_parse_timeout(struct exec_ctx *ctx, int arg);
/* The same for a whole number of milliseconds (XREAD BLOCK): "ERR timeout
 * is not an integer or out of range", "... is negative", "... is out of range". */
int64_t blocking_parse_timeout_ms(struct exec_ctx *ctx, int arg);

#endif
