/* String commands: GET/SET and their variants, counters, ranges, APPEND and
 * LCS, with Redis 7.0's replies, errors and value encodings (INT, EMBSTR,
 * RAW; see storage/object.h). Bit-level commands on strings live in
 * node/cmd_bitmap.c. */
#include "node/cmd_handlers.h"
#include "node/command.h"
#include "node/config.h"
#include "node/db.h"
#include "node/exec.h"
#include "node/server.h"
#include "node/notify.h"
#include "storage/mem.h"
#include "storage/num.h"
#include "storage/object.h"

#include <limits.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>

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

/* Redis 7.0 checkStringLength: results are capped by proto-max-bulk-len. */
static bool check_string_length(struct exec_ctx *ctx, size_t base, size_t added) {
    long long max = cfg.proto_max_bulk_len;
    if ((long long)added > max || (long long)base > max - (long long)added) {
        resp_add_error(ctx->out, "ERR string exceeds maximum allowed size (proto-max-bulk-len)");
        return false;
    }
    return true;
}

/* Stores 'val' as the string at argv[1]. 'old' is its live record when the
 * caller already looked it up (or NULL): a same-shaped value is then
 * overwritten in place. Replies -OOM on failure. */
static bool store_string_over(struct exec_ctx *ctx, struct kv *old, const char *val, size_t len,
                              int64_t expire_ms) {
    if (old != NULL && kv_overwrite_string(old, val, len, expire_ms)) {
        old->lru = server.lru_clock;
        db_touch_modified(ctx, ctx->argv[1], ctx->argvlen[1]);
        return true;
    }
    struct kv *kv = kv_new_string(ctx->argv[1], ctx->argvlen[1], val, len, expire_ms);
    if (kv == NULL) {
        exec_reply_oom(ctx);
        return false;
    }
    return db_set(ctx, kv);
}

static bool store_string(struct exec_ctx *ctx, const char *val, size_t len, int64_t expire_ms) {
    return store_string_over(ctx, NULL, val, len, expire_ms);
}

void cmd_get(struct exec_ctx *ctx) {
    reply_string_value(ctx, db_lookup_read(ctx, ctx->argv[1], ctx->argvlen[1]));
}

/* ---- SET options and expiry arguments (SET, SETEX, PSETEX, GETEX) ---- */

enum set_flags {
    SET_NX = 1 << 0,
    SET_XX = 1 << 1,
    SET_GET = 1 << 2,
    SET_KEEPTTL = 1 << 3,
    SET_PERSIST = 1 << 4,
    SET_EX = 1 << 5,
    SET_PX = 1 << 6,
    SET_EXAT = 1 << 7,
    SET_PXAT = 1 << 8,
};
#define SET_ANY_EXPIRE (SET_EX | SET_PX | SET_EXAT | SET_PXAT)

static unsigned expire_option(const struct exec_ctx *ctx, int i) {
    if (exec_arg_is(ctx, i, "ex"))
        return SET_EX;
    if (exec_arg_is(ctx, i, "px"))
        return SET_PX;
    if (exec_arg_is(ctx, i, "exat"))
        return SET_EXAT;
    if (exec_arg_is(ctx, i, "pxat"))
        return SET_PXAT;
    return 0;
}

/* Redis 7.0 parseExtendedStringArgumentsOrReply: the options of SET (from
 * argv[3]) or GETEX (from argv[2], 'is_getex'). An expiry kind may repeat
 * (the last value wins) but not mix with another kind, KEEPTTL or PERSIST.
 * Sets '*expire_arg' to the index of the expiry value (0 if none). Replies
 * "syntax error" and returns false on a bad option. */
static bool parse_set_options(struct exec_ctx *ctx, bool is_getex, unsigned *flags,
                              int *expire_arg) {
    *flags = 0;
    *expire_arg = 0;
    for (int i = is_getex ? 2 : 3; i < ctx->argc; i++) {
        bool has_next = i + 1 < ctx->argc;
        unsigned f = *flags, unit;
        if (!is_getex && exec_arg_is(ctx, i, "nx") && !(f & SET_XX)) {
            *flags |= SET_NX;
        } else if (!is_getex && exec_arg_is(ctx, i, "xx") && !(f & SET_NX)) {
            *flags |= SET_XX;
        } else if (!is_getex && exec_arg_is(ctx, i, "get")) {
            *flags |= SET_GET;
        } else if (!is_getex && exec_arg_is(ctx, i, "keepttl") &&
                   !(f & (SET_PERSIST | SET_ANY_EXPIRE))) {
            *flags |= SET_KEEPTTL;
        } else if (is_getex && exec_arg_is(ctx, i, "persist") &&
                   !(f & (SET_KEEPTTL | SET_ANY_EXPIRE))) {
            *flags |= SET_PERSIST;
        } else if (has_next && (unit = expire_option(ctx, i)) != 0 &&
                   !(f & (SET_KEEPTTL | SET_PERSIST | (SET_ANY_EXPIRE & ~unit)))) {
            *flags |= unit;
            *expire_arg = ++i;
        } else {
            exec_reply_syntax_error(ctx);
            return false;
        }
    }
    return true;
}

/* Redis 7.0 getExpireMillisecondsOrReply: converts the expiry argument at
 * 'arg' of kind 'unit' (SET_EX/PX/EXAT/PXAT) to an absolute unix time in ms,
 * relative ones from ctx->now_ms. Non-positive or overflowing values are
 * "invalid expire time in '<command>' command". */
static bool parse_expire_ms(struct exec_ctx *ctx, unsigned unit, int arg, int64_t *when) {
    long long v;
    if (!exec_arg_ll(ctx, arg, &v))
        return false;
    bool seconds = unit & (SET_EX | SET_EXAT);
    bool relative = unit & (SET_EX | SET_PX);
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
    resp_add_errorf(ctx->out, "ERR invalid expire time in '%s' command", ctx->cmd->fullname);
    return false;
}

/* ---- SET family ---- */

/* Redis 7.0 setGenericCommand for SET, SETNX, SETEX and PSETEX: 'value_arg'
 * is the value's index; 'expire_arg' (0: none) holds an expiry of kind
 * 'flags & SET_ANY_EXPIRE'. 'int_replies' chooses SETNX's replies (:1/:0)
 * instead of +OK/null. */
static void set_generic(struct exec_ctx *ctx, unsigned flags, int value_arg, int expire_arg,
                        bool int_replies) {
    int64_t expire_ms = -1;
    if (expire_arg && !parse_expire_ms(ctx, flags & SET_ANY_EXPIRE, expire_arg, &expire_ms))
        return;
    const char *key = ctx->argv[1];
    size_t keylen = ctx->argvlen[1];
    if (flags & SET_GET) {
        if (!reply_string_value(ctx, db_lookup_read(ctx, key, keylen)))
            return;
    }
    struct kv *old = db_lookup_write(ctx, key, keylen);
    if (((flags & SET_NX) && old != NULL) || ((flags & SET_XX) && old == NULL)) {
        if (int_replies)
            resp_add_int(ctx->out, 0);
        else if (!(flags & SET_GET))
            resp_add_null(ctx->out);
        return;
    }
    if ((flags & SET_KEEPTTL) && old != NULL)
        expire_ms = kv_expire(old);
    bool stored;
    if (expire_ms >= 0 && expire_ms <= ctx->now_ms) {
        /* An EXAT/PXAT already in the past: the key expires at once, with
         * the events Redis 7.0 sends for it (set, expire, then expired). */
        db_delete(ctx, key, keylen);
        notify_keyspace_event(ctx, NOTIFY_STRING, "set", key, keylen);
        notify_keyspace_event(ctx, NOTIFY_GENERIC, "expire", key, keylen);
        notify_keyspace_event(ctx, NOTIFY_EXPIRED, "expired", key, keylen);
        stored = true;
    } else {
        stored =
            store_string_over(ctx, old, ctx->argv[value_arg], ctx->argvlen[value_arg], expire_ms);
        if (stored) {
            notify_keyspace_event(ctx, NOTIFY_STRING, "set", key, keylen);
            if (expire_arg)
                notify_keyspace_event(ctx, NOTIFY_GENERIC, "expire", key, keylen);
        }
    }
    if (!stored || (flags & SET_GET))
        return;
    if (int_replies)
        resp_add_int(ctx->out, 1);
    else
        exec_reply_ok(ctx);
}

void cmd_set(struct exec_ctx *ctx) {
    unsigned flags;
    int expire_arg;
    if (parse_set_options(ctx, false, &flags, &expire_arg))
        set_generic(ctx, flags, 2, expire_arg, false);
}

void cmd_setnx(struct exec_ctx *ctx) {
    set_generic(ctx, SET_NX, 2, 0, true);
}

void cmd_setex(struct exec_ctx *ctx) {
    set_generic(ctx, SET_EX, 3, 2, false);
}

void cmd_psetex(struct exec_ctx *ctx) {
    set_generic(ctx, SET_PX, 3, 2, false);
}

/* GETSET: GET, then SET without expiry (Redis 7.0 drops the TTL). */
void cmd_getset(struct exec_ctx *ctx) {
    if (!reply_string_value(ctx, db_lookup_read(ctx, ctx->argv[1], ctx->argvlen[1])))
        return;
    if (store_string(ctx, ctx->argv[2], ctx->argvlen[2], -1))
        notify_keyspace_event(ctx, NOTIFY_STRING, "set", ctx->argv[1], ctx->argvlen[1]);
}

void cmd_getdel(struct exec_ctx *ctx) {
    struct kv *kv = db_lookup_read(ctx, ctx->argv[1], ctx->argvlen[1]);
    if (!reply_string_value(ctx, kv) || kv == NULL)
        return;
    db_delete(ctx, ctx->argv[1], ctx->argvlen[1]);
    notify_keyspace_event(ctx, NOTIFY_GENERIC, "del", ctx->argv[1], ctx->argvlen[1]);
}

/* Redis 7.0 getexCommand: options are checked first, then the key (a missing
 * key replies null before the expiry value is validated), then the type. */
void cmd_getex(struct exec_ctx *ctx) {
    unsigned flags;
    int expire_arg;
    if (!parse_set_options(ctx, true, &flags, &expire_arg))
        return;
    const char *key = ctx->argv[1];
    size_t keylen = ctx->argvlen[1];
    struct kv *kv = db_lookup_read(ctx, key, keylen);
    if (kv == NULL) {
        resp_add_null(ctx->out);
        return;
    }
    if (kv->type != OBJ_STRING) {
        exec_reply_wrongtype(ctx);
        return;
    }
    int64_t when = -1;
    if (expire_arg && !parse_expire_ms(ctx, flags & SET_ANY_EXPIRE, expire_arg, &when))
        return;
    if ((flags & (SET_EXAT | SET_PXAT)) && when <= ctx->now_ms) {
        reply_string_value(ctx, kv);
        db_delete(ctx, key, keylen);
        notify_keyspace_event(ctx, NOTIFY_GENERIC, "del", key, keylen);
        return;
    }
    if (!expire_arg && (!(flags & SET_PERSIST) || !kv->has_expire)) {
        reply_string_value(ctx, kv);
        return;
    }
    /* The value moves into a record with the new expiry; reply from it. */
    struct kv *repl = kv_with_expire(kv, expire_arg ? when : -1);
    if (repl == NULL) {
        exec_reply_oom(ctx);
        return;
    }
    if (!db_replace(ctx, kv, repl, true)) {
        kv_free_shell(repl);
        return;
    }
    notify_keyspace_event(ctx, NOTIFY_GENERIC, expire_arg ? "expire" : "persist", key, keylen);
    reply_string_value(ctx, repl);
}

void cmd_mget(struct exec_ctx *ctx) {
    resp_add_array(ctx->out, ctx->argc - 1);
    for (int i = 1; i < ctx->argc; i++) {
        struct kv *kv = db_lookup_read(ctx, ctx->argv[i], ctx->argvlen[i]);
        if (kv == NULL || kv->type != OBJ_STRING)
            resp_add_null(ctx->out);
        else
            reply_string_value(ctx, kv);
    }
}

/* MSET and MSETNX. All records are built before any is stored, so a failed
 * allocation changes nothing. Values lose any TTL, as with SET. */
static void mset_generic(struct exec_ctx *ctx, bool nx) {
    if (ctx->argc % 2 == 0) {
        resp_add_errorf(ctx->out, "ERR wrong number of arguments for '%s' command",
                        ctx->cmd->fullname);
        return;
    }
    if (nx) {
        for (int i = 1; i < ctx->argc; i += 2) {
            if (db_lookup_write(ctx, ctx->argv[i], ctx->argvlen[i]) != NULL) {
                resp_add_int(ctx->out, 0);
                return;
            }
        }
    }
    size_t count = (size_t)(ctx->argc - 1) / 2;
    struct kv **records = mem_alloc(count * sizeof(*records));
    if (records == NULL) {
        exec_reply_oom(ctx);
        return;
    }
    for (size_t n = 0; n < count; n++) {
        int i = 1 + 2 * (int)n;
        records[n] =
            kv_new_string(ctx->argv[i], ctx->argvlen[i], ctx->argv[i + 1], ctx->argvlen[i + 1], -1);
        if (records[n] == NULL) {
            while (n > 0)
                kv_free(records[--n]);
            mem_free(records);
            exec_reply_oom(ctx);
            return;
        }
    }
    /* db_set can only fail growing a table; it frees the record it was
     * given, and the later records are dropped with one -OOM reply. */
    size_t n = 0;
    while (n < count && db_set(ctx, records[n])) {
        notify_keyspace_event(ctx, NOTIFY_STRING, "set", ctx->argv[1 + 2 * n],
                              ctx->argvlen[1 + 2 * n]);
        n++;
    }
    bool complete = n == count;
    if (!complete)
        for (n++; n < count; n++)
            kv_free(records[n]);
    mem_free(records);
    if (!complete)
        return;
    if (nx)
        resp_add_int(ctx->out, 1);
    else
        exec_reply_ok(ctx);
}

void cmd_mset(struct exec_ctx *ctx) {
    mset_generic(ctx, false);
}

void cmd_msetnx(struct exec_ctx *ctx) {
    mset_generic(ctx, true);
}

/* ---- Counters ---- */

/* INCR/DECR/INCRBY/DECRBY: the value keeps its TTL and becomes (or stays)
 * INT-encoded, updated in place when it already is. */
static void incr_by(struct exec_ctx *ctx, long long incr) {
    const char *key = ctx->argv[1];
    size_t keylen = ctx->argvlen[1];
    struct kv *kv = db_lookup_write(ctx, key, keylen);
    long long value = 0;
    if (kv != NULL) {
        if (kv->type != OBJ_STRING) {
            exec_reply_wrongtype(ctx);
            return;
        }
        if (kv->encoding == OBJ_ENC_INT) {
            value = kv->v.ll; /* no round trip through its decimal form */
        } else {
            char buf[24];
            size_t len;
            const char *p = kv_string(kv, buf, &len);
            if (!obj_parse_ll(p, len, &value)) {
                exec_reply_not_integer(ctx);
                return;
            }
        }
    }
    if ((incr < 0 && value < 0 && incr < LLONG_MIN - value) ||
        (incr > 0 && value > 0 && incr > LLONG_MAX - value)) {
        resp_add_error(ctx->out, "ERR increment or decrement would overflow");
        return;
    }
    value += incr;
    if (kv != NULL && kv->encoding == OBJ_ENC_INT) {
        kv->v.ll = value;
        db_touch_modified(ctx, key, keylen);
    } else {
        struct kv *repl = kv_new_int(key, keylen, value, kv ? kv_expire(kv) : -1);
        if (repl == NULL) {
            exec_reply_oom(ctx);
            return;
        }
        if (!db_set(ctx, repl))
            return;
    }
    notify_keyspace_event(ctx, NOTIFY_STRING, "incrby", key, keylen);
    resp_add_int(ctx->out, value);
}

void cmd_incr(struct exec_ctx *ctx) {
    incr_by(ctx, 1);
}

void cmd_decr(struct exec_ctx *ctx) {
    incr_by(ctx, -1);
}

void cmd_incrby(struct exec_ctx *ctx) {
    long long incr;
    if (exec_arg_ll(ctx, 2, &incr))
        incr_by(ctx, incr);
}

void cmd_decrby(struct exec_ctx *ctx) {
    long long decr;
    if (!exec_arg_ll(ctx, 2, &decr))
        return;
    if (decr == LLONG_MIN) {
        resp_add_error(ctx->out, "ERR decrement would overflow");
        return;
    }
    incr_by(ctx, -decr);
}

static bool string_to_long_double(const struct kv *kv, long double *out) {
    if (kv->encoding == OBJ_ENC_INT) {
        *out = (long double)kv->v.ll;
        return true;
    }
    char buf[24];
    size_t len;
    const char *p = kv_string(kv, buf, &len);
    return num_parse_long_double(p, len, out);
}

/* INCRBYFLOAT stores the formatted result as EMBSTR or RAW (never INT, as
 * Redis's createStringObjectFromLongDouble), keeping the TTL. */
void cmd_incrbyfloat(struct exec_ctx *ctx) {
    const char *key = ctx->argv[1];
    size_t keylen = ctx->argvlen[1];
    struct kv *kv = db_lookup_write(ctx, key, keylen);
    if (kv != NULL && kv->type != OBJ_STRING) {
        exec_reply_wrongtype(ctx);
        return;
    }
    long double value = 0, incr;
    if ((kv != NULL && !string_to_long_double(kv, &value)) ||
        !num_parse_long_double(ctx->argv[2], ctx->argvlen[2], &incr)) {
        resp_add_error(ctx->out, "ERR value is not a valid float");
        return;
    }
    value += incr;
    if (isnan(value) || isinf(value)) {
        resp_add_error(ctx->out, "ERR increment would produce NaN or Infinity");
        return;
    }
    char buf[NUM_LONG_DOUBLE_CHARS];
    size_t len = num_format_long_double(buf, value);
    struct kv *repl = kv_new_string_unencoded(key, keylen, buf, len, kv ? kv_expire(kv) : -1);
    if (repl == NULL) {
        exec_reply_oom(ctx);
        return;
    }
    if (!db_set(ctx, repl))
        return;
    notify_keyspace_event(ctx, NOTIFY_STRING, "incrbyfloat", key, keylen);
    resp_add_bulk(ctx->out, buf, len);
}

/* ---- Lengths, ranges and in-place edits ---- */

void cmd_strlen(struct exec_ctx *ctx) {
    struct kv *kv = db_lookup_read(ctx, ctx->argv[1], ctx->argvlen[1]);
    if (kv == NULL) {
        resp_add_int(ctx->out, 0);
        return;
    }
    if (kv->type != OBJ_STRING) {
        exec_reply_wrongtype(ctx);
        return;
    }
    char buf[24];
    size_t len;
    kv_string(kv, buf, &len);
    resp_add_int(ctx->out, (long long)len);
}

/* APPEND creates the key like SET, or turns the value RAW and grows it in
 * place (amortised by kv_raw_grow's spare capacity). */
void cmd_append(struct exec_ctx *ctx) {
    const char *add = ctx->argv[2];
    size_t addlen = ctx->argvlen[2];
    struct kv *kv = db_lookup_write(ctx, ctx->argv[1], ctx->argvlen[1]);
    if (kv == NULL) {
        if (store_string(ctx, add, addlen, -1)) {
            notify_keyspace_event(ctx, NOTIFY_STRING, "append", ctx->argv[1], ctx->argvlen[1]);
            resp_add_int(ctx->out, (long long)addlen);
        }
        return;
    }
    if (kv->type != OBJ_STRING) {
        exec_reply_wrongtype(ctx);
        return;
    }
    char buf[24];
    size_t len;
    kv_string(kv, buf, &len);
    if (!check_string_length(ctx, len, addlen))
        return;
    if ((kv = db_unshare_string(ctx, kv)) == NULL)
        return;
    if (!kv_raw_grow(kv, len + addlen)) {
        exec_reply_oom(ctx);
        return;
    }
    struct raw_string *raw = kv->v.ptr;
    memcpy(raw->data + len, add, addlen);
    db_touch_modified(ctx, ctx->argv[1], ctx->argvlen[1]);
    notify_keyspace_event(ctx, NOTIFY_STRING, "append", ctx->argv[1], ctx->argvlen[1]);
    resp_add_int(ctx->out, (long long)raw->len);
}

/* GETRANGE and SUBSTR (Redis 7.0 getrangeCommand): indexes are parsed before
 * the key is looked up; negative ones count from the end. */
static void getrange(struct exec_ctx *ctx) {
    long long start, end;
    if (!exec_arg_ll(ctx, 2, &start) || !exec_arg_ll(ctx, 3, &end))
        return;
    struct kv *kv = db_lookup_read(ctx, ctx->argv[1], ctx->argvlen[1]);
    if (kv == NULL) {
        resp_add_bulk(ctx->out, "", 0);
        return;
    }
    if (kv->type != OBJ_STRING) {
        exec_reply_wrongtype(ctx);
        return;
    }
    char buf[24];
    size_t len;
    const char *p = kv_string(kv, buf, &len);
    long long slen = (long long)len;
    if (start < 0 && end < 0 && start > end) {
        resp_add_bulk(ctx->out, "", 0);
        return;
    }
    if (start < 0)
        start += slen;
    if (end < 0)
        end += slen;
    if (start < 0)
        start = 0;
    if (end < 0)
        end = 0;
    if (end >= slen)
        end = slen - 1;
    if (start > end || slen == 0)
        resp_add_bulk(ctx->out, "", 0);
    else
        resp_add_bulk(ctx->out, p + start, (size_t)(end - start + 1));
}

void cmd_getrange(struct exec_ctx *ctx) {
    getrange(ctx);
}

void cmd_substr(struct exec_ctx *ctx) {
    getrange(ctx);
}

/* SETRANGE (Redis 7.0 setrangeCommand): an empty value changes nothing and
 * creates no key; otherwise the value becomes RAW, zero-padded as needed. */
void cmd_setrange(struct exec_ctx *ctx) {
    long long offset;
    if (!exec_arg_ll(ctx, 2, &offset))
        return;
    if (offset < 0) {
        resp_add_error(ctx->out, "ERR offset is out of range");
        return;
    }
    const char *val = ctx->argv[3];
    size_t vallen = ctx->argvlen[3];
    struct kv *kv = db_lookup_write(ctx, ctx->argv[1], ctx->argvlen[1]);
    if (kv == NULL) {
        if (vallen == 0) {
            resp_add_int(ctx->out, 0);
            return;
        }
        if (!check_string_length(ctx, (size_t)offset, vallen))
            return;
        kv = kv_new_raw(ctx->argv[1], ctx->argvlen[1], NULL, (size_t)offset + vallen, -1);
        if (kv == NULL) {
            exec_reply_oom(ctx);
            return;
        }
        if (!db_set(ctx, kv))
            return;
    } else {
        if (kv->type != OBJ_STRING) {
            exec_reply_wrongtype(ctx);
            return;
        }
        char buf[24];
        size_t len;
        kv_string(kv, buf, &len);
        if (vallen == 0) {
            resp_add_int(ctx->out, (long long)len);
            return;
        }
        if (!check_string_length(ctx, (size_t)offset, vallen))
            return;
        if ((kv = db_unshare_string(ctx, kv)) == NULL)
            return;
        if (!kv_raw_grow(kv, (size_t)offset + vallen)) {
            exec_reply_oom(ctx);
            return;
        }
        db_touch_modified(ctx, ctx->argv[1], ctx->argvlen[1]);
    }
    struct raw_string *raw = kv->v.ptr;
    memcpy(raw->data + offset, val, vallen);
    notify_keyspace_event(ctx, NOTIFY_STRING, "setrange", ctx->argv[1], ctx->argvlen[1]);
    resp_add_int(ctx->out, (long long)raw->len);
}

/* ---- LCS ---- */

struct lcs_options {
    bool want_len, want_idx, with_match_len;
    long long min_match_len;
};

/* Emits LCS IDX's match ranges and returns how many were emitted. Walks the
 * table back from the end exactly as Redis 7.0 does, so ranges come out in
 * the same order and with the same boundaries. Fills 'result' (the LCS
 * itself, 'table[alen][blen]' bytes) when not NULL. */
static long long lcs_walk(struct exec_ctx *ctx, const uint32_t *table, const char *a, uint32_t alen,
                          const char *b, uint32_t blen, const struct lcs_options *opt,
                          char *result) {
#define LCS_AT(i, j) table[(size_t)(i) * ((size_t)blen + 1) + (j)]
    uint32_t idx = LCS_AT(alen, blen);
    uint32_t arange_start = alen, arange_end = 0, brange_start = 0, brange_end = 0;
    long long emitted = 0;
    uint32_t i = alen, j = blen;
    while (i > 0 && j > 0) {
        bool emit_range = false;
        if (a[i - 1] == b[j - 1]) {
            if (result != NULL)
                result[idx - 1] = a[i - 1];
            if (arange_start == alen) {
                arange_start = arange_end = i - 1;
                brange_start = brange_end = j - 1;
            } else if (arange_start == i && brange_start == j) {
                arange_start--;
                brange_start--;
            } else {
                emit_range = true;
            }
            if (arange_start == 0 || brange_start == 0)
                emit_range = true;
            idx--;
            i--;
            j--;
        } else {
            if (LCS_AT(i - 1, j) > LCS_AT(i, j - 1))
                i--;
            else
                j--;
            if (arange_start != alen)
                emit_range = true;
        }
        if (emit_range) {
            long long match_len = (long long)arange_end - arange_start + 1;
            if (opt->want_idx && (opt->min_match_len == 0 || match_len >= opt->min_match_len)) {
                resp_add_array(ctx->out, 2 + opt->with_match_len);
                resp_add_array(ctx->out, 2);
                resp_add_int(ctx->out, arange_start);
                resp_add_int(ctx->out, arange_end);
                resp_add_array(ctx->out, 2);
                resp_add_int(ctx->out, brange_start);
                resp_add_int(ctx->out, brange_end);
                if (opt->with_match_len)
                    resp_add_int(ctx->out, match_len);
                emitted++;
            }
            arange_start = alen;
        }
    }
    return emitted;
#undef LCS_AT
}

/* Redis 7.0 lcsCommand: keys are looked up first (missing keys are empty
 * strings), then options are parsed; the classic O(N*M) table is bounded by
 * proto-max-bulk-len. */
void cmd_lcs(struct exec_ctx *ctx) {
    struct kv *ka = db_lookup_read(ctx, ctx->argv[1], ctx->argvlen[1]);
    struct kv *kb = db_lookup_read(ctx, ctx->argv[2], ctx->argvlen[2]);
    if ((ka != NULL && ka->type != OBJ_STRING) || (kb != NULL && kb->type != OBJ_STRING)) {
        resp_add_error(ctx->out, "ERR The specified keys must contain string values");
        return;
    }
    struct lcs_options opt = {0};
    for (int i = 3; i < ctx->argc; i++) {
        if (exec_arg_is(ctx, i, "idx")) {
            opt.want_idx = true;
        } else if (exec_arg_is(ctx, i, "len")) {
            opt.want_len = true;
        } else if (exec_arg_is(ctx, i, "withmatchlen")) {
            opt.with_match_len = true;
        } else if (exec_arg_is(ctx, i, "minmatchlen") && i + 1 < ctx->argc) {
            if (!exec_arg_ll(ctx, ++i, &opt.min_match_len))
                return;
            if (opt.min_match_len < 0)
                opt.min_match_len = 0;
        } else {
            exec_reply_syntax_error(ctx);
            return;
        }
    }
    if (opt.want_idx && opt.want_len) {
        resp_add_error(ctx->out,
                       "ERR If you want both the length and indexes, please just use IDX.");
        return;
    }
    char abuf[24], bbuf[24];
    size_t alen = 0, blen = 0;
    const char *a = ka ? kv_string(ka, abuf, &alen) : "";
    const char *b = kb ? kv_string(kb, bbuf, &blen) : "";
    if (alen >= UINT32_MAX - 1 || blen >= UINT32_MAX - 1) {
        resp_add_error(ctx->out, "ERR String too long for LCS");
        return;
    }
    unsigned long long cells = (unsigned long long)(alen + 1) * (blen + 1);
    if (cells * sizeof(uint32_t) > (unsigned long long)cfg.proto_max_bulk_len) {
        resp_add_error(ctx->out, "ERR Insufficient memory, transient memory for LCS exceeds "
                                 "proto-max-bulk-len");
        return;
    }
    uint32_t *table = mem_alloc((size_t)cells * sizeof(uint32_t));
    if (table == NULL) {
        resp_add_error(ctx->out, "ERR Insufficient memory, failed allocating transient memory "
                                 "for LCS");
        return;
    }
    for (size_t i = 0; i <= alen; i++) {
        for (size_t j = 0; j <= blen; j++) {
            uint32_t *cell = &table[i * (blen + 1) + j];
            if (i == 0 || j == 0)
                *cell = 0;
            else if (a[i - 1] == b[j - 1])
                *cell = table[(i - 1) * (blen + 1) + j - 1] + 1;
            else {
                uint32_t up = table[(i - 1) * (blen + 1) + j];
                uint32_t left = table[i * (blen + 1) + j - 1];
                *cell = up > left ? up : left;
            }
        }
    }
    uint32_t lcs_len = table[alen * (blen + 1) + blen];
    if (opt.want_idx) {
        resp_add_map(ctx->out, 2);
        resp_add_bulk_cstr(ctx->out, "matches");
        size_t token = resp_begin_deferred(ctx->out);
        long long n = lcs_walk(ctx, table, a, (uint32_t)alen, b, (uint32_t)blen, &opt, NULL);
        resp_end_deferred(ctx->out, token, '*', n);
        resp_add_bulk_cstr(ctx->out, "len");
        resp_add_int(ctx->out, lcs_len);
    } else if (opt.want_len) {
        resp_add_int(ctx->out, lcs_len);
    } else {
        char *result = mem_alloc(lcs_len + 1);
        if (result == NULL) {
            exec_reply_oom(ctx);
        } else {
            lcs_walk(ctx, table, a, (uint32_t)alen, b, (uint32_t)blen, &opt, result);
            resp_add_bulk(ctx->out, result, lcs_len);
            mem_free(result);
        }
    }
    mem_free(table);
}
