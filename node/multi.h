/* Transactions: MULTI/EXEC/DISCARD and optimistic locking with WATCH.
 *
 * Per-connection state (the queued commands, the abort flags, the watched
 * keys) hangs off client->multi, created on first use and freed when the
 * transaction and the watches are both gone or the client closes.
 *
 * Write path (design.md, point 6: "MULTI/EXEC is one entry"): the leader
 * decides on its applied state whether EXEC runs at all (queue errors,
 * touched or expired watched keys, ACL changes since queuing). A transaction
 * that runs and holds a write goes through propose_write as ONE write whose
 * apply runs every queued command with the entry's time and per-command
 * seeds derived from the entry's seed; a read-only one runs at once. A Raft
 * entry for it must carry the queued commands (multi_exec_apply's input). */
#ifndef KR_NODE_MULTI_H
#define KR_NODE_MULTI_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

struct client;
struct command;
struct exec_ctx;

/* ---- Queuing (dispatch) ---- */

/* Whether 'cmd' from 'c' is queued rather than run: 'c' is inside MULTI and
 * 'cmd' is not one of EXEC DISCARD MULTI WATCH QUIT RESET (Redis 7.0). */
bool multi_queues(const struct client *c, const struct command *cmd);
/* Copies the command into c's queue and replies +QUEUED to 'c' (through the
 * reply mode in force). 'argv' is borrowed. Out of memory flags the
 * transaction so EXEC aborts. */
void multi_queue(struct client *c, const struct command *cmd, int argc, char **argv,
                 const size_t *argvlen);
/* A command of 'c' is being rejected with error 'msg' (unknown, arity,
 * no_multi, ACL ...). Inside MULTI this makes EXEC reply -EXECABORT (Redis's
 * flagTransaction), and a rejected EXEC itself discards the transaction and
 * is answered "EXECABORT Transaction discarded because of: ..." (Redis's
 * execCommandAbort), written into 'buf'. Returns the error to reply with:
 * 'msg' or 'buf'. */
const char *multi_reject(struct client *c, const struct command *cmd, const char *msg, char *buf,
                         size_t buflen);
/* The text to reject 'cmd' with when 'c' may not run it in its current
 * transaction state (a no_multi command inside MULTI), or NULL. */
const char *multi_refusal(const struct client *c, const struct command *cmd);
/* Whether c's queued transaction holds a write (CLIENT PAUSE WRITE holds
 * such an EXEC, as Redis's is_may_replicate_command). */
bool multi_has_writes(const struct client *c);
/* Commands queued by 'c' (CLIENT LIST multi=), or -1 outside MULTI. */
long long multi_queued_count(const struct client *c);

/* ---- Connection lifecycle ---- */

/* Discards the transaction and the watches of 'c' (close, RESET). */
void multi_client_reset(struct client *c);

/* ---- WATCH invalidation (called by node/db.c and the flush commands) ---- */

/* Key 'key' of database 'db' was modified or deleted: clients watching it
 * will see EXEC fail. Call after the change is visible in the keyspace
 * (deleting an expired key that was already expired at WATCH is not a
 * change, as Redis 7.0's touchWatchedKey). Cheap when nobody watches. */
void multi_touch_key(int db, const char *key, size_t len);
/* Database 'emptied' is about to be flushed (replaced_with < 0) or swapped
 * with 'replaced_with' (SWAPDB calls it for both directions): watched keys
 * that exist in either are touched, as Redis 7.0's touchAllWatchedKeysInDb.
 * 'now_ms' is the command's time (to tell expired keys). */
void multi_touch_db(int emptied, int replaced_with, int64_t now_ms);

/* With a Raft group: the write ctx->cmd was just proposed and will apply
 * after every WATCH registered so far, so its keys count as touched for
 * their watchers now (a keyless write, e.g. FLUSHALL, touches every
 * watcher). Deciding at EXEC time from applied state alone would miss
 * writes still in flight. Cheap when nobody watches. */
void multi_touch_proposed(const struct exec_ctx *ctx);

/* ---- Transaction state (for the handlers in node/cmd_multi.c) ---- */

/* One queued command; its argument copies belong to the queue. */
struct multi_cmd {
    const struct command *cmd;
    int argc;
    char **argv;
    size_t *argvlen;
};

enum multi_verdict {
    MULTI_RUN,           /* EXEC may run the queue */
    MULTI_ABORT_ERRORS,  /* a command was rejected while queuing: -EXECABORT */
    MULTI_ABORT_TOUCHED, /* a watched key changed or expired: null array */
};

/* Enters MULTI (sets CLIENT_MULTI). Returns false when out of memory. */
bool multi_start(struct client *c);
/* The commands c has queued, in order (borrowed until multi_end). */
const struct multi_cmd *multi_queued(const struct client *c, int *count);
/* Whether EXEC may run c's queue, judged at time 'now_ms': a watched key
 * that was live at WATCH and has expired by now counts as touched. */
enum multi_verdict multi_verdict(const struct client *c, int64_t now_ms);
/* Leaves MULTI: frees the queue, clears CLIENT_MULTI and the flags, and
 * unwatches every key (Redis's discardTransaction). */
void multi_end(struct client *c);
/* Watches 'key' of database 'db' for 'c' (idempotent per key). A key that
 * exists but has expired at 'now_ms' is remembered as such. Returns false
 * when out of memory. */
bool multi_watch_key(struct client *c, int db, const char *key, size_t len, int64_t now_ms);
/* Forgets every key c watches and whether one was touched (UNWATCH). */
void multi_unwatch_all(struct client *c);
/* Whether a key c watches was touched already (WATCH then does nothing). */
bool multi_is_touched(const struct client *c);

#endif
