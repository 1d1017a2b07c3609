/* Connections from this node to MIGRATE targets, after Redis 7.0's
 * migrate_cached_sockets: one cached connection per "host:port" (as the
 * caller spelled it), reused by later MIGRATEs and closed once it has been
 * unused for MIGRATE_CONN_IDLE_MS, or to make room when MIGRATE_CONN_MAX are
 * cached (the least recently used goes).
 *
 * A connection serves one MIGRATE at a time: while it is taken, a MIGRATE
 * to the same target gets a new connection of its own, cached afterwards
 * only if no other is. One exchange writes a request and reads a number of
 * reply lines without blocking the loop. Connecting, each 64 KB written and
 * each line read must each finish within the exchange's timeout, as with
 * Redis's connBlockingConnect, connSyncWrite and connSyncReadLine.
 *
 * An idle cached connection that receives anything (the target closed it,
 * or sent bytes nobody asked for) is closed at once. */
#ifndef KR_NODE_MIGRATE_CONN_H
#define KR_NODE_MIGRATE_CONN_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <uv.h>

#define MIGRATE_CONN_IDLE_MS  10000 /* Redis's MIGRATE_SOCKET_CACHE_TTL, 10 s */
#define MIGRATE_CONN_MAX      64    /* Redis's MIGRATE_SOCKET_CACHE_ITEMS */
#define MIGRATE_CONN_MAX_LINE 65536 /* a longer reply line is a protocol error */
#define MIGRATE_CONN_CHUNK    65536 /* bytes per timed write, as Redis's 64K chunks */

enum migrate_conn_status {
    MIGRATE_CONN_OK = 0,
    /* The host did not resolve, the port is not one, or connecting timed
     * out: Redis's "connecting" error. */
    MIGRATE_CONN_ECONNECT = -1,
    /* Writing failed. A refused connection shows up here too, as in Redis,
     * whose non-blocking connect reports success and whose first write fails. */
    MIGRATE_CONN_EWRITE = -2,
    /* Reading failed, the target closed the connection before all lines came,
     * a line was too long, or the line callback stopped the exchange. */
    MIGRATE_CONN_EREAD = -3,
    /* The server is shutting down (migrate_conn_close_all). */
    MIGRATE_CONN_ECLOSED = -4,
    /* The connection reached this server's own client port. Redis, blocked
     * in MIGRATE, cannot answer itself and times out; keyraft would answer
     * and then delete what it "moved" to itself, so it stops here. */
    MIGRATE_CONN_ESELF = -5,
};

struct migrate_conn; /* opaque */

/* Receives reply line 'index' (0-based) without its CR LF; 'line' is
 * borrowed for the call. Returns false to stop the exchange, which then
 * ends with MIGRATE_CONN_EREAD. */
typedef bool (*migrate_conn_line_cb)(void *arg, size_t index, const char *line, size_t len);
/* The exchange ended with 'status'; 'timed_out' tells whether a failure was
 * the timeout. The callee must then call migrate_conn_give_back or
 * migrate_conn_close on the connection (it may do so from this callback),
 * except after MIGRATE_CONN_ECLOSED, when the connection is already closing. */
typedef void (*migrate_conn_done_cb)(void *arg, int status, bool timed_out);

/* Takes the idle cached connection to 'host':'port' (both borrowed, not
 * NUL-terminated), or a new unconnected one that the first exchange
 * connects. Returns NULL when out of memory. The caller owns it until
 * migrate_conn_give_back or migrate_conn_close. */
struct migrate_conn *migrate_conn_take(const char *host, size_t hostlen, const char *port,
                                       size_t portlen);

/* The database the target's connection has selected: set by the caller after
 * a SELECT succeeded; -1 (unknown) for a new connection. */
long long migrate_conn_selected_db(const struct migrate_conn *mc);
void migrate_conn_set_selected_db(struct migrate_conn *mc, long long dbid);

/* Connects if needed, writes 'bufs' in order, then reads 'nlines' reply lines
 * and hands each to 'on_line', then calls 'done'. 'bufs' (the array and the
 * bytes) are borrowed until 'done' is called; 'done' is never called from
 * within this call. 'timeout_ms' (> 0) bounds each step. */
void migrate_conn_exchange(struct migrate_conn *mc, const uv_buf_t *bufs, unsigned nbufs,
                           size_t nlines, int64_t timeout_ms, migrate_conn_line_cb on_line,
                           migrate_conn_done_cb done, void *arg);

/* Returns 'mc' after an exchange that ended with MIGRATE_CONN_OK: it is cached
 * for later MIGRATEs, or closed when another connection to the same target
 * is cached already or when bytes beyond the expected lines arrived. */
void migrate_conn_give_back(struct migrate_conn *mc);
/* Closes 'mc' (after a failed exchange, or instead of giving it back). */
void migrate_conn_close(struct migrate_conn *mc);
/* Closes every connection (server shutdown); an exchange in progress ends
 * with MIGRATE_CONN_ECLOSED. */
void migrate_conn_close_all(void);
/* How many connections are cached (idle) right now. */
size_t migrate_conn_cached_count(void);

#endif
