/* HyperLogLog commands: PFADD PFCOUNT PFMERGE. The representation lives in
 * storage/hyperloglog.c; this file finds, validates and stores the values.
 *
 * One difference from Redis: PFCOUNT is a read here, so it never writes the
 * recomputed cardinality back into the value's cache bytes (Redis does, and
 * replicates that write). Counts are the same; only those 8 cached bytes
 * can differ after a PFCOUNT. */
#include "node/cmd_handlers.h"
#include "node/config.h"
#include "node/db.h"
#include "node/exec.h"
#include "node/notify.h"
#include "storage/hyperloglog.h"
#include "storage/mem.h"
#include "storage/storage.h"

#include <string.h>

static const char *const NOT_HLL = "WRONGTYPE Key is not a valid HyperLogLog string value.";
static const char *const CORRUPT = "INVALIDOBJ Corrupted HLL object detected";

/* The bytes of an HLL value, or NULL after replying with the error. */
static const char *hll_bytes(struct exec_ctx *ctx, const struct kv *kv, char *buf, size_t *len) {
    if (kv->type != OBJ_STRING) {
        exec_reply_wrongtype(ctx);
        return NULL;
    }
    const char *p = kv_string(kv, buf, len);
    if (!hll_is_valid(p, *len)) {
        resp_add_error(ctx->out, NOT_HLL);
        return NULL;
    }
    return p;
}

static void reply_storage_error(struct exec_ctx *ctx, int rc) {
    if (rc == STORAGE_ENOMEM)
        exec_reply_oom(ctx);
    else
        resp_add_error(ctx->out, CORRUPT);
}

/* The HLL at ctx->argv[1] as a modifiable RAW string, created empty when
 * missing ('*created' set). Returns NULL after replying with an error. */
static struct kv *writable_hll(struct exec_ctx *ctx, bool *created) {
    const char *key = ctx->argv[1];
    size_t keylen = ctx->argvlen[1];
    struct kv *kv = db_lookup_write(ctx, key, keylen);
    *created = kv == NULL;
    if (kv == NULL) {
        struct raw_string *hll = hll_new();
        kv = hll ? kv_new_ptr(key, keylen, OBJ_STRING, OBJ_ENC_RAW, hll, -1) : NULL;
        if (kv == NULL) {
            mem_free(hll);
            reply_storage_error(ctx, STORAGE_ENOMEM);
            return NULL;
        }
        return db_set(ctx, kv) ? kv : NULL;
    }
    char buf[24];
    size_t len;
    const char *bytes = hll_bytes(ctx, kv, buf, &len);
    if (bytes == NULL)
        return NULL;
    if (kv->encoding == OBJ_ENC_RAW)
        return kv;
    /* A short HLL SET by a client is embedded: copy it out to modify it. */
    struct raw_string *raw = mem_alloc(sizeof(*raw) + len);
    struct kv *repl =
        raw ? kv_new_ptr(key, keylen, OBJ_STRING, OBJ_ENC_RAW, raw, kv_expire(kv)) : NULL;
    if (repl == NULL) {
        mem_free(raw);
        reply_storage_error(ctx, STORAGE_ENOMEM);
        return NULL;
    }
    raw->len = raw->cap = len;
    memcpy(raw->data, bytes, len);
    return db_replace(ctx, kv, repl, false) ? repl : NULL;
}

void cmd_pfadd(struct exec_ctx *ctx) {
    bool created;
    struct kv *kv = writable_hll(ctx, &created);
    if (kv == NULL)
        return;
    int updated = created;
    for (int i = 2; i < ctx->argc; i++) {
        struct raw_string *hll = kv->v.ptr;
        int rc = hll_add(&hll, ctx->argv[i], ctx->argvlen[i], (size_t)cfg.hll_sparse_max_bytes);
        kv->v.ptr = hll;
        if (rc < 0) {
            reply_storage_error(ctx, rc);
            return;
        }
        updated |= rc;
    }
    if (updated) {
        hll_invalidate_cache(kv->v.ptr);
        if (!created)
            db_touch_modified(ctx, ctx->argv[1], ctx->argvlen[1]);
        notify_keyspace_event(ctx, NOTIFY_STRING, "pfadd", ctx->argv[1], ctx->argvlen[1]);
    }
    resp_add_int(ctx->out, updated);
}

/* Folds the HLL at argv[i] (if present) into 'regs'. Returns false after
 * replying with an error; '*is_dense' tells the encoding of a present one. */
static bool fold_key(struct exec_ctx *ctx, int i, uint8_t *regs, bool *is_dense) {
    struct kv *kv = db_lookup_read(ctx, ctx->argv[i], ctx->argvlen[i]);
    if (kv == NULL)
        return true;
    char buf[24];
    size_t len;
    const char *bytes = hll_bytes(ctx, kv, buf, &len);
    if (bytes == NULL)
        return false;
    if (hll_max_registers(bytes, len, regs) != 0) {
        resp_add_error(ctx->out, CORRUPT);
        return false;
    }
    if (is_dense != NULL && bytes[4] == 0)
        *is_dense = true;
    return true;
}

void cmd_pfcount(struct exec_ctx *ctx) {
    /* A single key whose cached cardinality is fresh needs no counting. */
    struct kv *kv = ctx->argc == 2 ? db_peek(ctx, ctx->argv[1], ctx->argvlen[1]) : NULL;
    if (kv != NULL) {
        char buf[24];
        size_t len;
        const char *bytes = hll_bytes(ctx, kv, buf, &len);
        uint64_t cached;
        if (bytes == NULL)
            return;
        if (hll_cached_count(bytes, len, &cached)) {
            resp_add_int(ctx->out, (long long)cached);
            return;
        }
    }
    uint8_t regs[HLL_REGISTERS] = {0};
    for (int i = 1; i < ctx->argc; i++)
        if (!fold_key(ctx, i, regs, NULL))
            return;
    resp_add_int(ctx->out, (long long)hll_count_registers(regs));
}

/* Redis 7.0: the destination takes part in the union, and becomes dense if
 * any input was dense; otherwise the result is written sparse. */
void cmd_pfmerge(struct exec_ctx *ctx) {
    uint8_t regs[HLL_REGISTERS] = {0};
    bool use_dense = false;
    for (int i = 1; i < ctx->argc; i++)
        if (!fold_key(ctx, i, regs, &use_dense))
            return;
    bool created;
    struct kv *kv = writable_hll(ctx, &created);
    if (kv == NULL)
        return;
    struct raw_string *hll = kv->v.ptr;
    int rc = use_dense ? hll_to_dense(&hll) : 0;
    if (rc == 0)
        rc = hll_merge_into(&hll, regs, (size_t)cfg.hll_sparse_max_bytes);
    kv->v.ptr = hll;
    if (rc != 0) {
        reply_storage_error(ctx, rc);
        return;
    }
    hll_invalidate_cache(hll);
    if (!created)
        db_touch_modified(ctx, ctx->argv[1], ctx->argvlen[1]);
    /* Redis 7.0 pfmergeCommand reports the merge as a "pfadd". */
    notify_keyspace_event(ctx, NOTIFY_STRING, "pfadd", ctx->argv[1], ctx->argvlen[1]);
    exec_reply_ok(ctx);
}
