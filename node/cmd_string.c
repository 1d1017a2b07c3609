/* String commands. */
#include "node/cmd_handlers.h"
#include "node/command.h"
#include "node/db.h"
#include "node/exec.h"
#include "storage/object.h"

#include <limits.h>

/* Replies with a string key's value, or null. Returns false on WRONGTYPE. */
static bool reply_string_value(struct exec_ctx *ctx, const struct kv *kv) {
    if (kv == NULL) {
        resp_add_null(ctx->out);
        return true;
    }
    if (kv->type != OBJ_STRING) {
        exec_reply_wrongtype(ctx);
        return false;
    }
    char buf[24];
    size_t len;
    const char *p = kv_string(kv, buf, &len);
    resp_add_bulk(ctx->out, p, len);
    return true;
}

void cmd_get(struct exec_ctx *ctx) {
    reply_string_value(ctx, db_lookup_read(ctx, ctx->argv[1], ctx->argvlen[1]));
}

/* ---- SET ---- */

enum set_flags {
    SET_NX = 1 << 0,
    SET_XX = 1 << 1,
    SET_GET = 1 << 2,
    SET_KEEPTTL = 1 << 3,
    SET_EX = 1 << 4,
    SET_PX = 1 << 5,
    SET_EXAT = 1 << 6,
    SET_PXAT = 1 << 7,
};
#define SET_ANY_EXPIRE (SET_EX | SET_PX | SET_EXAT | SET_PXAT)

/* Converts an expire argument to an absolute unix time in ms. Redis 7.0:
 * non-positive or overflowing values are "invalid expire time". */
static bool absolute_expire(struct exec_ctx *ctx, unsigned unit_flag, const char *arg, size_t len,
                            int64_t *when) {
    long long v;
    if (!obj_parse_ll(arg, len, &v)) {
        exec_reply_not_integer(ctx);
        return false;
    }
    bool seconds = unit_flag & (SET_EX | SET_EXAT);
    bool relative = unit_flag & (SET_EX | SET_PX);
    if (v <= 0 || (seconds && v > LLONG_MAX / 1000))
        goto invalid;
    if (seconds)
        v *= 1000;
    if (relative) {
        if (v > LLONG_MAX - ctx->now_ms)
            goto invalid;
        v += ctx->now_ms;
    }
    *when = v;
    return true;
invalid:
    resp_add_errorf(ctx->out, "ERR invalid expire time in '%s' command", ctx->cmd->name);
    return false;
}

void cmd_set(struct exec_ctx *ctx) {
    unsigned flags = 0;
    int expire_arg = 0;
    for (int i = 3; i < ctx->argc; i++) {
        bool has_next = i + 1 < ctx->argc;
        unsigned f = 0;
        if (exec_arg_is(ctx, i, "nx") && !(flags & SET_XX))
            f = SET_NX;
        else if (exec_arg_is(ctx, i, "xx") && !(flags & SET_NX))
            f = SET_XX;
        else if (exec_arg_is(ctx, i, "get"))
            f = SET_GET;
        else if (exec_arg_is(ctx, i, "keepttl") && !(flags & SET_ANY_EXPIRE))
            f = SET_KEEPTTL;
        else if (has_next && !(flags & (SET_ANY_EXPIRE | SET_KEEPTTL))) {
            if (exec_arg_is(ctx, i, "ex"))
                f = SET_EX;
            else if (exec_arg_is(ctx, i, "px"))
                f = SET_PX;
            else if (exec_arg_is(ctx, i, "exat"))
                f = SET_EXAT;
            else if (exec_arg_is(ctx, i, "pxat"))
                f = SET_PXAT;
            if (f)
                expire_arg = ++i;
        }
        if (f == 0) {
            exec_reply_syntax_error(ctx);
            return;
        }
        flags |= f;
    }
    int64_t expire_ms = -1;
    if (expire_arg &&
        !absolute_expire(ctx, flags & SET_ANY_EXPIRE, ctx->argv[expire_arg],
                         ctx->argvlen[expire_arg], &expire_ms))
        return;

    const char *key = ctx->argv[1];
    size_t keylen = ctx->argvlen[1];
    struct kv *old = db_lookup_write(ctx, key, keylen);
    if ((flags & SET_GET) && !reply_string_value(ctx, old))
        return;
    if (((flags & SET_NX) && old != NULL) || ((flags & SET_XX) && old == NULL)) {
        if (!(flags & SET_GET))
            resp_add_null(ctx->out);
        return;
    }
    if ((flags & SET_KEEPTTL) && old != NULL)
        expire_ms = kv_expire(old);
    if (expire_ms >= 0 && expire_ms <= ctx->now_ms) {
        /* Already in the past (EXAT/PXAT): the key would expire at once. */
        db_delete(ctx, key, keylen);
        if (!(flags & SET_GET))
            exec_reply_ok(ctx);
        return;
    }
    struct kv *kv = kv_new_string(key, keylen, ctx->argv[2], ctx->argvlen[2], expire_ms);
    if (kv == NULL) {
        resp_add_error(ctx->out, "OOM command not allowed when used memory > 'maxmemory'.");
        return;
    }
    if (db_set(ctx, kv) && !(flags & SET_GET))
        exec_reply_ok(ctx);
}
