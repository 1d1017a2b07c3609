/* Key access with expiry semantics (see db.h). */
#include "node/db.h"

#include "node/blocking.h"
#include "node/multi.h"
#include "node/notify.h"
#include "node/server.h"
#include "node/tracking.h"
#include "storage/keyspace.h"

struct keyspace *db_current(struct exec_ctx *ctx) {
    return server_db(ctx->dbid);
}

struct kv *db_peek(struct exec_ctx *ctx, const char *key, size_t len) {
    struct keyspace *ks = server_db_if_exists(ctx->dbid);
    if (ks == NULL)
        return NULL;
    struct kv *kv = keyspace_find(ks, key, len);
    if (kv == NULL || db_is_expired(kv, ctx->now_ms))
        return NULL;
    return kv;
}

/* Redis 7.0 deleteExpiredKeyAndPropagate's side effects, once the record
 * of 'key' is gone: an "expired" event and invalidation for trackers. */
static void expired_deleted(struct exec_ctx *ctx, const char *key, size_t len) {
    server.stats.expired_keys++;
    notify_keyspace_event(ctx, NOTIFY_EXPIRED, "expired", key, len);
    tracking_invalidate_key(ctx, key, len);
    multi_touch_key(ctx->dbid, key, len);
}

struct kv *db_lookup_read(struct exec_ctx *ctx, const char *key, size_t len) {
    struct kv *kv = db_peek(ctx, key, len);
    if (kv == NULL) {
        server.stats.keyspace_misses++;
        notify_keyspace_event(ctx, NOTIFY_KEY_MISS, "keymiss", key, len);
        return NULL;
    }
    server.stats.keyspace_hits++;
    kv->lru = server.lru_clock;
    return kv;
}

struct kv *db_lookup_write(struct exec_ctx *ctx, const char *key, size_t len) {
    struct keyspace *ks = server_db_if_exists(ctx->dbid);
    if (ks == NULL)
        return NULL;
    struct kv *kv = keyspace_find(ks, key, len);
    if (kv == NULL)
        return NULL;
    if (db_is_expired(kv, ctx->now_ms)) {
        kv_free(keyspace_remove(ks, key, len));
        expired_deleted(ctx, key, len);
        return NULL;
    }
    kv->lru = server.lru_clock;
    return kv;
}

bool db_set(struct exec_ctx *ctx, struct kv *kv) {
    struct keyspace *ks = db_current(ctx);
    if (ks == NULL) {
        kv_free(kv);
        exec_reply_oom(ctx);
        return false;
    }
    kv->lru = server.lru_clock;
    struct kv *old;
    if (keyspace_set(ks, kv, &old) != 0) {
        kv_free(kv);
        exec_reply_oom(ctx);
        return false;
    }
    kv_free(old);
    if (old == NULL)
        notify_keyspace_event(ctx, NOTIFY_NEW, "new", kv_key(kv), kv->keylen);
    db_touch_modified(ctx, kv_key(kv), kv->keylen);
    return true;
}

bool db_replace(struct exec_ctx *ctx, struct kv *old, struct kv *repl, bool shell_only) {
    struct keyspace *ks = db_current(ctx);
    if (keyspace_replace(ks, old, repl) != 0) {
        exec_reply_oom(ctx);
        return false;
    }
    if (shell_only)
        kv_free_shell(old);
    else
        kv_free(old);
    db_touch_modified(ctx, kv_key(repl), repl->keylen);
    return true;
}

struct kv *db_unshare_string(struct exec_ctx *ctx, struct kv *kv) {
    if (kv->encoding == OBJ_ENC_RAW)
        return kv;
    char buf[24];
    size_t len;
    const char *val = kv_string(kv, buf, &len);
    struct kv *raw = kv_new_raw(kv_key(kv), kv->keylen, val, len, kv_expire(kv));
    if (raw == NULL) {
        exec_reply_oom(ctx);
        return NULL;
    }
    if (!db_replace(ctx, kv, raw, false)) {
        kv_free(raw);
        return NULL;
    }
    return raw;
}

bool db_delete(struct exec_ctx *ctx, const char *key, size_t len) {
    struct keyspace *ks = server_db_if_exists(ctx->dbid);
    if (ks == NULL)
        return false;
    struct kv *kv = keyspace_remove(ks, key, len);
    if (kv == NULL)
        return false;
    bool live = !db_is_expired(kv, ctx->now_ms);
    kv_free(kv);
    if (live)
        db_touch_modified(ctx, key, len);
    else
        expired_deleted(ctx, key, len);
    return live;
}

void db_touch_modified(struct exec_ctx *ctx, const char *key, size_t len) {
    ctx->dirty++;
    blocking_signal_key(ctx->dbid, key, len);
    tracking_invalidate_key(ctx, key, len);
    multi_touch_key(ctx->dbid, key, len);
}
