/* DUMP, RESTORE and RESTORE-ASKING (Redis 7.0 semantics, keyraft's own
 * payload format from storage/snapshot). Payloads only travel between
 * keyraft nodes (MIGRATE); Redis clients treat them as opaque bytes.
 * RESTORE-ASKING shares RESTORE's handler: ASK semantics belong to the
 * cluster's redirection, not to the command. */
#include "node/cmd_handlers.h"
#include "node/config.h"
#include "node/db.h"
#include "node/exec.h"
#include "node/notify.h"
#include "node/persist.h"
#include "storage/mem.h"
#include "storage/snapshot.h"

#include <stdint.h>

/* maxmemory-policy values that keep an LFU counter (config.c's enum order). */
#define POLICY_VOLATILE_LFU 1
#define POLICY_ALLKEYS_LFU  5
#define LRU_CLOCK_MAX       0xffffff /* the 24-bit access clock, in seconds */

void cmd_dump(struct exec_ctx *ctx) {
    struct kv *kv = db_lookup_read(ctx, ctx->argv[1], ctx->argvlen[1]);
    if (kv == NULL) {
        resp_add_null(ctx->out);
        return;
    }
    unsigned char *payload;
    size_t len;
    if (snapshot_dump(kv, &payload, &len) != SNAPSHOT_OK) {
        exec_reply_oom(ctx);
        return;
    }
    resp_add_bulk(ctx->out, (const char *)payload, len);
    mem_free(payload);
}

/* Redis 7.0 objectSetLRUOrLFU with Redis's 1000 ms LRU resolution: FREQ sets
 * the LFU counter under an LFU policy, IDLETIME the access time otherwise.
 * The clock is the command's, so every member sets the same value. */
static void set_access(struct exec_ctx *ctx, struct kv *kv, long long freq, long long idle) {
    bool lfu =
        cfg.maxmemory_policy == POLICY_VOLATILE_LFU || cfg.maxmemory_policy == POLICY_ALLKEYS_LFU;
    if (lfu && freq >= 0) {
        uint32_t minutes = (uint32_t)((ctx->now_ms / 60000) & 0xffff);
        kv->lru = (minutes << 8) | (uint32_t)freq;
    } else if (!lfu && idle >= 0) {
        long long clock = (ctx->now_ms / 1000) & LRU_CLOCK_MAX;
        long long when = clock - (idle > LRU_CLOCK_MAX ? LRU_CLOCK_MAX : idle);
        if (when < 0)
            when = (clock + (LRU_CLOCK_MAX / 2)) % LRU_CLOCK_MAX;
        kv->lru = (uint32_t)when;
    }
}

/* RESTORE key ttl payload [REPLACE] [ABSTTL] [IDLETIME s] [FREQ f]: Redis
 * 7.0 restoreCommand, check for check: options, then BUSYKEY, then the TTL,
 * then the payload (version and checksum, then contents). */
void cmd_restore(struct exec_ctx *ctx) {
    bool replace = false, absttl = false;
    long long freq = -1, idle = -1, ttl;
    for (int j = 4; j < ctx->argc; j++) {
        int additional = ctx->argc - j - 1;
        if (exec_arg_is(ctx, j, "replace")) {
            replace = true;
        } else if (exec_arg_is(ctx, j, "absttl")) {
            absttl = true;
        } else if (exec_arg_is(ctx, j, "idletime") && additional >= 1 && freq == -1) {
            if (!exec_arg_ll(ctx, j + 1, &idle))
                return;
            if (idle < 0) {
                resp_add_error(ctx->out, "ERR Invalid IDLETIME value, must be >= 0");
                return;
            }
            j++;
        } else if (exec_arg_is(ctx, j, "freq") && additional >= 1 && idle == -1) {
            if (!exec_arg_ll(ctx, j + 1, &freq))
                return;
            if (freq < 0 || freq > 255) {
                resp_add_error(ctx->out, "ERR Invalid FREQ value, must be >= 0 and <= 255");
                return;
            }
            j++;
        } else {
            exec_reply_syntax_error(ctx);
            return;
        }
    }
    const char *key = ctx->argv[1];
    size_t keylen = ctx->argvlen[1];
    if (!replace && db_lookup_write(ctx, key, keylen) != NULL) {
        resp_add_error(ctx->out, "BUSYKEY Target key name already exists.");
        return;
    }
    if (!exec_arg_ll(ctx, 2, &ttl))
        return;
    if (ttl < 0) {
        resp_add_error(ctx->out, "ERR Invalid TTL value, must be >= 0");
        return;
    }
    if (ttl && !absttl)
        ttl = ttl > INT64_MAX - ctx->now_ms ? INT64_MAX : ttl + ctx->now_ms;

    struct snapshot_params params;
    persist_params(&params);
    struct kv *kv = NULL;
    int rc = snapshot_restore((const unsigned char *)ctx->argv[3], ctx->argvlen[3], key, keylen,
                              ttl ? ttl : -1, &params, &kv, NULL);
    if (rc == SNAPSHOT_ECHECKSUM) {
        resp_add_error(ctx->out, "ERR DUMP payload version or checksum are wrong");
        return;
    }
    if (rc == SNAPSHOT_ENOMEM) {
        exec_reply_oom(ctx);
        return;
    }
    if (rc != SNAPSHOT_OK) {
        resp_add_error(ctx->out, "ERR Bad data format");
        return;
    }
    bool deleted = replace && db_delete(ctx, key, keylen);
    /* Redis 7.0: a TTL already in the past restores nothing (and REPLACE
     * still deletes the old key). */
    if (ttl && ttl <= ctx->now_ms) {
        kv_free(kv);
        if (deleted)
            notify_keyspace_event(ctx, NOTIFY_GENERIC, "del", key, keylen);
        exec_reply_ok(ctx);
        return;
    }
    if (!db_set(ctx, kv))
        return;
    set_access(ctx, kv, freq, idle);
    notify_keyspace_event(ctx, NOTIFY_GENERIC, "restore", key, keylen);
    exec_reply_ok(ctx);
}

void cmd_restore_asking(struct exec_ctx *ctx) {
    cmd_restore(ctx);
}
