/* Client-side caching (CLIENT TRACKING), after Redis 7.0's tracking.c.
 *
 * Default mode: the keys a tracking client reads are remembered in a table
 * of key -> client ids; the first write to such a key sends those clients an
 * invalidation and forgets the key. BCAST mode: clients name key prefixes
 * and get, once per event-loop iteration, the keys under them that changed.
 * Invalidations are RESP3 pushes ["invalidate", [key ...]] on the client's
 * own connection, or messages on __redis__:invalidate to a RESP2 client it
 * redirects to. A FLUSHDB/FLUSHALL sends a null invalidation to everyone.
 *
 * Tracking is connection state: it is never replicated. Invalidations are
 * side effects of applied writes (db_touch_modified), so they follow the
 * order in which writes are applied. */
#ifndef KR_NODE_TRACKING_H
#define KR_NODE_TRACKING_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

struct client;
struct command;
struct exec_ctx;

enum tracking_flag {
    TRACKING_ON = 1 << 0,
    TRACKING_BCAST = 1 << 1,
    TRACKING_OPTIN = 1 << 2,
    TRACKING_OPTOUT = 1 << 3,
    TRACKING_NOLOOP = 1 << 4,
    TRACKING_CACHING = 1 << 5,      /* CLIENT CACHING yes/no for the next command */
    TRACKING_BROKEN_REDIR = 1 << 6, /* the redirect client has gone */
};

/* A client's tracking state (client->tracking); read-only outside
 * tracking.c. */
struct tracking_state {
    uint32_t flags;                 /* enum tracking_flag */
    uint64_t redirect;              /* client id, 0 for none */
    struct bcast_prefix **prefixes; /* BCAST prefixes, sorted by name */
    size_t prefix_count;
};

/* CLIENT TRACKING ON with options already checked against each other:
 * 'options' of TRACKING_BCAST/OPTIN/OPTOUT/NOLOOP, 'redirect' (0: none),
 * 'prefixes' (BCAST only; none means every key). Checks what depends on the
 * current state (switching BCAST or OPTIN/OPTOUT, overlapping prefixes) and
 * replies the error and returns false when it does not hold. */
bool tracking_enable(struct exec_ctx *ctx, uint64_t redirect, uint32_t options, char **prefixes,
                     size_t *prefix_lens, size_t prefix_count);
/* CLIENT TRACKING OFF. */
void tracking_disable(struct client *c);
/* Sets or clears TRACKING_CACHING. */
void tracking_set_caching(struct client *c, bool on);
/* The client's BCAST prefix number 'i' (< prefix_count). */
const char *tracking_prefix(const struct client *c, size_t i, size_t *len);

/* Connection lifecycle (dispatch.c hooks). */
void tracking_client_connected(struct client *c);
void tracking_client_closed(struct client *c);
/* RESET: tracking off. */
void tracking_client_reset(struct client *c);

/* After 'c' ran 'cmd' (dispatch.c): remembers the keys of a read, sends the
 * invalidations the command caused for 'c' itself (after its reply, as
 * Redis does), and ends a CLIENT CACHING yes/no that applied to it. */
void tracking_after_command(struct client *c, const struct command *cmd, int argc, char **argv,
                            size_t *argvlen);

/* A write changed 'key' (db_touch_modified, expiry). ctx->client is the
 * writer (NULL when nobody waits), which NOLOOP clients are not told about. */
void tracking_invalidate_key(struct exec_ctx *ctx, const char *key, size_t len);
/* FLUSHDB/FLUSHALL: every tracking client gets a null invalidation. */
void tracking_invalidate_all(struct exec_ctx *ctx);
/* Sends the BCAST invalidations gathered since the last call (once per
 * loop iteration, before replies are written). */
void tracking_broadcast(void);

/* The connection with id 'id', or NULL. */
struct client *tracking_client_by_id(uint64_t id);

/* CLIENT LIST: flags 't' (tracking), 'R' (broken redirect), 'B' (bcast) and
 * redir= (-1 when not tracking). */
bool tracking_is_on(const struct client *c);
bool tracking_is_bcast(const struct client *c);
bool tracking_redirect_broken(const struct client *c);
long long tracking_redirect_id(const struct client *c);

/* At shutdown, after every client closed: frees the tracking tables. */
void tracking_close(void);

/* What INFO reports (Redis 7.0 tracking_clients, tracking_total_keys,
 * tracking_total_items, tracking_total_prefixes). */
struct tracking_stats {
    size_t clients;  /* connections with tracking on */
    size_t keys;     /* keys remembered for default-mode clients */
    size_t items;    /* (key, client) pairs among those keys */
    size_t prefixes; /* distinct BCAST prefixes */
};
void tracking_get_stats(struct tracking_stats *st);

#endif
