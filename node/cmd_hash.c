/* Hash commands (HSET ... HSCAN) with Redis 7.0's replies and errors. The
 * map itself and its encodings are storage/thash's; this file parses
 * arguments, does the arithmetic of HINCRBY/HINCRBYFLOAT and writes replies. */
#include "node/cmd_handlers.h"
#include "node/collscan.h"
#include "node/command.h"
#include "node/config.h"
#include "node/db.h"
#include "node/exec.h"
#include "node/notify.h"
#include "node/randpick.h"
#include "storage/num.h"
#include "storage/thash.h"

#include <limits.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

static struct thash_limits hash_limits(void) {
    struct thash_limits lim = {(size_t)cfg.hash_max_listpack_entries,
                               (size_t)cfg.hash_max_listpack_value};
    return lim;
}

/* Looks 'key' (argv[1]) up for reading. Returns false after replying
 * WRONGTYPE; otherwise '*kv' is the hash or NULL when the key is missing. */
static bool read_hash(struct exec_ctx *ctx, struct kv **kv) {
    *kv = db_lookup_read(ctx, ctx->argv[1], ctx->argvlen[1]);
    if (*kv != NULL && (*kv)->type != OBJ_HASH) {
        exec_reply_wrongtype(ctx);
        return false;
    }
    return true;
}

/* The hash at argv[1] for writing, created (but not yet in the keyspace)
 * when missing, which '*created' reports. Returns NULL after replying
 * WRONGTYPE or OOM. */
static struct kv *hash_for_write(struct exec_ctx *ctx, bool *created) {
    struct kv *kv = db_lookup_write(ctx, ctx->argv[1], ctx->argvlen[1]);
    *created = kv == NULL;
    if (kv != NULL) {
        if (kv->type != OBJ_HASH) {
            exec_reply_wrongtype(ctx);
            return NULL;
        }
        return kv;
    }
    kv = thash_new(ctx->argv[1], ctx->argvlen[1]);
    if (kv == NULL)
        exec_reply_oom(ctx);
    return kv;
}

/* Ends a write to 'kv': a new hash goes into the keyspace, a changed one is
 * marked modified. Returns false (OOM replied) if the keyspace refused it. */
static bool finish_write(struct exec_ctx *ctx, struct kv *kv, bool created, bool changed) {
    if (created) {
        if (!changed) {
            kv_free(kv);
            return true;
        }
        return db_set(ctx, kv);
    }
    if (changed)
        db_touch_modified(ctx, ctx->argv[1], ctx->argvlen[1]);
    return true;
}

/* ---- HSET HMSET HSETNX ---- */

static void hset_generic(struct exec_ctx *ctx, bool reply_count) {
    if (ctx->argc % 2 == 1) {
        resp_add_errorf(ctx->out, "ERR wrong number of arguments for '%s' command", ctx->cmd->name);
        return;
    }
    bool created;
    struct kv *kv = hash_for_write(ctx, &created);
    if (kv == NULL)
        return;
    struct thash_limits lim = hash_limits();
    size_t longest = 0;
    for (int i = 2; i < ctx->argc; i++)
        if (ctx->argvlen[i] > longest)
            longest = ctx->argvlen[i];
    long long added = 0;
    int rc = thash_prepare(kv, longest, &lim);
    for (int i = 2; rc == 0 && i < ctx->argc; i += 2) {
        bool is_new;
        rc = thash_set(kv, ctx->argv[i], ctx->argvlen[i], ctx->argv[i + 1], ctx->argvlen[i + 1],
                       &lim, &is_new);
        if (rc == 0 && is_new)
            added++;
    }
    bool changed = thash_len(kv) > 0;
    if (!finish_write(ctx, kv, created, changed))
        return;
    if (rc != 0) {
        exec_reply_oom(ctx);
        return;
    }
    notify_keyspace_event(ctx, NOTIFY_HASH, "hset", ctx->argv[1], ctx->argvlen[1]);
    if (reply_count)
        resp_add_int(ctx->out, added);
    else
        exec_reply_ok(ctx);
}

void cmd_hset(struct exec_ctx *ctx) {
    hset_generic(ctx, true);
}

void cmd_hmset(struct exec_ctx *ctx) {
    hset_generic(ctx, false);
}

void cmd_hsetnx(struct exec_ctx *ctx) {
    bool created;
    struct kv *kv = hash_for_write(ctx, &created);
    if (kv == NULL)
        return;
    if (thash_exists(kv, ctx->argv[2], ctx->argvlen[2])) {
        resp_add_int(ctx->out, 0);
        return;
    }
    struct thash_limits lim = hash_limits();
    size_t longest = ctx->argvlen[2] > ctx->argvlen[3] ? ctx->argvlen[2] : ctx->argvlen[3];
    bool is_new;
    int rc = thash_prepare(kv, longest, &lim);
    if (rc == 0)
        rc = thash_set(kv, ctx->argv[2], ctx->argvlen[2], ctx->argv[3], ctx->argvlen[3], &lim,
                       &is_new);
    if (!finish_write(ctx, kv, created, rc == 0))
        return;
    if (rc != 0) {
        exec_reply_oom(ctx);
        return;
    }
    notify_keyspace_event(ctx, NOTIFY_HASH, "hset", ctx->argv[1], ctx->argvlen[1]);
    resp_add_int(ctx->out, 1);
}

/* ---- Reads of single fields ---- */

void cmd_hget(struct exec_ctx *ctx) {
    struct kv *kv;
    if (!read_hash(ctx, &kv))
        return;
    struct thash_str val;
    if (kv != NULL && thash_get(kv, ctx->argv[2], ctx->argvlen[2], &val))
        resp_add_bulk(ctx->out, val.p, val.len);
    else
        resp_add_null(ctx->out);
}

void cmd_hmget(struct exec_ctx *ctx) {
    struct kv *kv;
    if (!read_hash(ctx, &kv))
        return;
    resp_add_array(ctx->out, ctx->argc - 2);
    for (int i = 2; i < ctx->argc; i++) {
        struct thash_str val;
        if (kv != NULL && thash_get(kv, ctx->argv[i], ctx->argvlen[i], &val))
            resp_add_bulk(ctx->out, val.p, val.len);
        else
            resp_add_null(ctx->out);
    }
}

void cmd_hlen(struct exec_ctx *ctx) {
    struct kv *kv;
    if (read_hash(ctx, &kv))
        resp_add_int(ctx->out, kv ? (long long)thash_len(kv) : 0);
}

void cmd_hexists(struct exec_ctx *ctx) {
    struct kv *kv;
    if (read_hash(ctx, &kv))
        resp_add_int(ctx->out, kv && thash_exists(kv, ctx->argv[2], ctx->argvlen[2]));
}

void cmd_hstrlen(struct exec_ctx *ctx) {
    struct kv *kv;
    if (!read_hash(ctx, &kv))
        return;
    struct thash_str val;
    bool found = kv != NULL && thash_get(kv, ctx->argv[2], ctx->argvlen[2], &val);
    resp_add_int(ctx->out, found ? (long long)val.len : 0);
}

/* ---- HGETALL HKEYS HVALS ---- */

static void getall_generic(struct exec_ctx *ctx, bool fields, bool values) {
    struct kv *kv;
    if (!read_hash(ctx, &kv))
        return;
    long long n = kv ? (long long)thash_len(kv) : 0;
    if (fields && values)
        resp_add_map(ctx->out, n);
    else
        resp_add_array(ctx->out, n);
    if (kv == NULL)
        return;
    struct thash_iter it;
    struct thash_str f, v;
    thash_iter_init(&it, kv);
    while (thash_iter_next(&it, &f, &v)) {
        if (fields)
            resp_add_bulk(ctx->out, f.p, f.len);
        if (values)
            resp_add_bulk(ctx->out, v.p, v.len);
    }
    thash_iter_close(&it);
}

void cmd_hgetall(struct exec_ctx *ctx) {
    getall_generic(ctx, true, true);
}

void cmd_hkeys(struct exec_ctx *ctx) {
    getall_generic(ctx, true, false);
}

void cmd_hvals(struct exec_ctx *ctx) {
    getall_generic(ctx, false, true);
}

/* ---- HDEL ---- */

void cmd_hdel(struct exec_ctx *ctx) {
    struct kv *kv = db_lookup_write(ctx, ctx->argv[1], ctx->argvlen[1]);
    if (kv == NULL) {
        resp_add_int(ctx->out, 0);
        return;
    }
    if (kv->type != OBJ_HASH) {
        exec_reply_wrongtype(ctx);
        return;
    }
    long long deleted = 0;
    for (int i = 2; i < ctx->argc; i++) {
        if (thash_delete(kv, ctx->argv[i], ctx->argvlen[i]))
            deleted++;
        if (thash_len(kv) == 0)
            break;
    }
    /* Redis 7.0 hdelCommand: "hdel", then "del" if the hash went away. */
    if (deleted > 0) {
        bool emptied = thash_len(kv) == 0;
        if (emptied)
            db_delete(ctx, ctx->argv[1], ctx->argvlen[1]);
        else
            db_touch_modified(ctx, ctx->argv[1], ctx->argvlen[1]);
        notify_keyspace_event(ctx, NOTIFY_HASH, "hdel", ctx->argv[1], ctx->argvlen[1]);
        if (emptied)
            notify_keyspace_event(ctx, NOTIFY_GENERIC, "del", ctx->argv[1], ctx->argvlen[1]);
    }
    resp_add_int(ctx->out, deleted);
}

/* ---- HINCRBY HINCRBYFLOAT ---- */

/* Stores the new value of argv[2] and ends the write. Returns false after
 * replying OOM. */
static bool store_number(struct exec_ctx *ctx, struct kv *kv, bool created, const char *val,
                         size_t vlen) {
    struct thash_limits lim = hash_limits();
    bool is_new;
    int rc = thash_set(kv, ctx->argv[2], ctx->argvlen[2], val, vlen, &lim, &is_new);
    if (!finish_write(ctx, kv, created, rc == 0))
        return false;
    if (rc != 0) {
        exec_reply_oom(ctx);
        return false;
    }
    return true;
}

void cmd_hincrby(struct exec_ctx *ctx) {
    long long incr;
    if (!exec_arg_ll(ctx, 3, &incr))
        return;
    bool created;
    struct kv *kv = hash_for_write(ctx, &created);
    if (kv == NULL)
        return;
    long long value = 0;
    struct thash_str cur;
    if (thash_get(kv, ctx->argv[2], ctx->argvlen[2], &cur) &&
        !obj_parse_ll(cur.p, cur.len, &value)) {
        resp_add_error(ctx->out, "ERR hash value is not an integer");
        return;
    }
    if ((incr < 0 && value < 0 && incr < LLONG_MIN - value) ||
        (incr > 0 && value > 0 && incr > LLONG_MAX - value)) {
        if (created)
            kv_free(kv);
        resp_add_error(ctx->out, "ERR increment or decrement would overflow");
        return;
    }
    value += incr;
    char buf[24];
    size_t len = resp_ll2str(buf, value);
    if (!store_number(ctx, kv, created, buf, len))
        return;
    notify_keyspace_event(ctx, NOTIFY_HASH, "hincrby", ctx->argv[1], ctx->argvlen[1]);
    resp_add_int(ctx->out, value);
}

void cmd_hincrbyfloat(struct exec_ctx *ctx) {
    long double incr;
    if (!num_parse_long_double(ctx->argv[3], ctx->argvlen[3], &incr)) {
        resp_add_error(ctx->out, "ERR value is not a valid float");
        return;
    }
    if (isnan(incr) || isinf(incr)) {
        resp_add_error(ctx->out, "ERR value is NaN or Infinity");
        return;
    }
    bool created;
    struct kv *kv = hash_for_write(ctx, &created);
    if (kv == NULL)
        return;
    long double value = 0;
    struct thash_str cur;
    if (thash_get(kv, ctx->argv[2], ctx->argvlen[2], &cur) &&
        !num_parse_long_double(cur.p, cur.len, &value)) {
        resp_add_error(ctx->out, "ERR hash value is not a float");
        return;
    }
    value += incr;
    if (isnan(value) || isinf(value)) {
        if (created)
            kv_free(kv);
        resp_add_error(ctx->out, "ERR increment would produce NaN or Infinity");
        return;
    }
    char buf[NUM_LONG_DOUBLE_CHARS];
    size_t len = num_format_long_double(buf, value);
    if (!store_number(ctx, kv, created, buf, len))
        return;
    notify_keyspace_event(ctx, NOTIFY_HASH, "hincrbyfloat", ctx->argv[1], ctx->argvlen[1]);
    resp_add_bulk(ctx->out, buf, len);
}

/* ---- HRANDFIELD ---- */

static void reply_pair(struct exec_ctx *ctx, const struct thash_str *f, const struct thash_str *v,
                       bool withvalues) {
    if (withvalues && ctx->out->proto > 2)
        resp_add_array(ctx->out, 2);
    resp_add_bulk(ctx->out, f->p, f->len);
    if (withvalues)
        resp_add_bulk(ctx->out, v->p, v->len);
}

static void reply_pairs_header(struct exec_ctx *ctx, unsigned long long n, bool withvalues) {
    resp_add_array(ctx->out, (long long)(withvalues && ctx->out->proto == 2 ? n * 2 : n));
}

/* Redis 7.0 hrandfieldWithCountCommand: a negative count may repeat fields;
 * a positive one returns distinct fields (the whole hash if count >= size). */
static void hrandfield_count(struct exec_ctx *ctx, long long count, bool withvalues) {
    struct kv *kv;
    if (!read_hash(ctx, &kv))
        return;
    if (kv == NULL || count == 0) {
        resp_add_array(ctx->out, 0);
        return;
    }
    uint64_t rng = ctx->seed;
    size_t size = thash_len(kv);
    bool unique = count > 0;
    unsigned long long n = count > 0 ? (unsigned long long)count : (unsigned long long)-count;
    struct thash_str f, v;
    if (!unique || n == 1) {
        reply_pairs_header(ctx, n, withvalues);
        for (unsigned long long i = 0; i < n; i++) {
            thash_pick(kv, randpick_next(&rng), &f, &v);
            reply_pair(ctx, &f, &v, withvalues);
        }
        return;
    }
    struct thash_iter it;
    if (n >= size) {
        reply_pairs_header(ctx, size, withvalues);
        thash_iter_init(&it, kv);
        while (thash_iter_next(&it, &f, &v))
            reply_pair(ctx, &f, &v, withvalues);
        thash_iter_close(&it);
        return;
    }
    /* Distinct fields: choose 'n' of the 'size' positions (Floyd's
     * sampling over a bitmap), then reply in storage order. */
    unsigned char *chosen = randpick_distinct(&rng, size, (size_t)n);
    if (chosen == NULL) {
        exec_reply_oom(ctx);
        return;
    }
    reply_pairs_header(ctx, n, withvalues);
    size_t index = 0;
    thash_iter_init(&it, kv);
    while (thash_iter_next(&it, &f, &v))
        if (chosen[index++])
            reply_pair(ctx, &f, &v, withvalues);
    thash_iter_close(&it);
    free(chosen);
}

void cmd_hrandfield(struct exec_ctx *ctx) {
    if (ctx->argc >= 3) {
        long long count;
        bool withvalues;
        if (randpick_parse_count(ctx, "withvalues", &count, &withvalues))
            hrandfield_count(ctx, count, withvalues);
        return;
    }
    struct kv *kv;
    if (!read_hash(ctx, &kv))
        return;
    if (kv == NULL) {
        resp_add_null(ctx->out);
        return;
    }
    struct thash_str f, v;
    uint64_t rng = ctx->seed;
    thash_pick(kv, randpick_next(&rng), &f, &v);
    resp_add_bulk(ctx->out, f.p, f.len);
}

/* ---- HSCAN ---- */

struct scan_pairs {
    struct exec_ctx *ctx;
    const struct collscan_args *args;
    long long n; /* bulk strings written */
};

static void scan_reply_pair(const char *f, size_t flen, const char *v, size_t vlen, void *arg) {
    struct scan_pairs *s = arg;
    if (!collscan_matches(s->args, f, flen))
        return;
    resp_add_bulk(s->ctx->out, f, flen);
    resp_add_bulk(s->ctx->out, v, vlen);
    s->n += 2;
}

struct scan_count {
    size_t seen;
};

static void scan_count_pair(const char *f, size_t flen, const char *v, size_t vlen, void *arg) {
    (void)f, (void)flen, (void)v, (void)vlen;
    ((struct scan_count *)arg)->seen++;
}

/* Redis 7.0 scanGenericCommand on a hash: a listpack is returned whole with
 * cursor 0; a table is walked until about COUNT strings (fields and values
 * both count) were gathered or 10 * COUNT buckets were visited. */
void cmd_hscan(struct exec_ctx *ctx) {
    struct collscan_args args;
    if (!collscan_parse_cursor(ctx, 2, &args.cursor))
        return;
    struct kv *kv;
    if (!read_hash(ctx, &kv))
        return;
    if (kv == NULL) {
        collscan_reply_empty(ctx);
        return;
    }
    if (!collscan_parse_options(ctx, 3, &args, false))
        return;
    /* Find where the walk ends first (the cursor goes before the elements
     * in the reply), then walk again writing the pairs. */
    uint64_t cursor = args.cursor;
    if (kv->encoding != OBJ_ENC_LISTPACK) {
        struct scan_count counted = {0};
        long long steps = collscan_max_steps(&args);
        do {
            cursor = thash_scan(kv, cursor, scan_count_pair, &counted);
        } while (cursor != 0 && steps-- > 0 && counted.seen * 2 < (unsigned long long)args.count);
    } else {
        cursor = 0;
    }
    collscan_reply_cursor(ctx, cursor);
    size_t token = resp_begin_deferred(ctx->out);
    struct scan_pairs pairs = {ctx, &args, 0};
    uint64_t c = args.cursor;
    do {
        c = thash_scan(kv, c, scan_reply_pair, &pairs);
    } while (c != cursor);
    resp_end_deferred(ctx->out, token, '*', pairs.n);
}
