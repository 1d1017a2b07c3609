/* Key access with expiry semantics, on top of storage/keyspace.
 *
 * Reads hide keys whose time has passed but never delete them: a delete is a
 * write, and writes happen only when applied. Writes (ctx->is_apply) delete
 * an expired key they touch, with the entry's time, so every member deletes
 * the same keys. The leader's active expire cycle proposes DELs for the rest. */
#ifndef KR_NODE_DB_H
#define KR_NODE_DB_H

#include "node/exec.h"
#include "storage/object.h"

#include <stdbool.h>
#include <stddef.h>

static inline bool db_is_expired(const struct kv *kv, int64_t now_ms) {
    return kv->has_expire && kv_expire(kv) <= now_ms;
}

/* A live key for reading (counts a keyspace hit or miss), or NULL. */
struct kv *db_lookup_read(struct exec_ctx *ctx, const char *key, size_t len);
/* Same, without touching statistics or the access clock (EXISTS-like internals). */
struct kv *db_peek(struct exec_ctx *ctx, const char *key, size_t len);
/* A live key for writing, deleting it first if expired; or NULL. */
struct kv *db_lookup_write(struct exec_ctx *ctx, const char *key, size_t len);
/* Adds 'kv' (key absent) or replaces the existing record of that key, which
 * is freed. Takes ownership of 'kv' on success; on failure frees it and
 * replies -OOM. Returns false on failure. */
bool db_set(struct exec_ctx *ctx, struct kv *kv);
/* Replaces the live record 'old' by 'repl' (same key); 'old' is freed
 * without its value when 'shell_only' (the value moved to 'repl'). */
bool db_replace(struct exec_ctx *ctx, struct kv *old, struct kv *repl, bool shell_only);
/* Redis's dbUnshareStringValue: makes the live string record 'kv' RAW so its
 * bytes can be changed in place (INT and EMBSTR values are rebuilt as a new
 * RAW record with the same expiry, which replaces 'kv'). Returns the record
 * to modify, or NULL after replying -OOM. */
struct kv *db_unshare_string(struct exec_ctx *ctx, struct kv *kv);
/* Deletes 'key' if present (expired or not); returns whether it was live. */
bool db_delete(struct exec_ctx *ctx, const char *key, size_t len);
/* Marks a key as changed (dirty count; WATCH and notifications hook here). */
void db_touch_modified(struct exec_ctx *ctx, const char *key, size_t len);
/* The keyspace of ctx->dbid (created on first use). */
struct keyspace *db_current(struct exec_ctx *ctx);

#endif
