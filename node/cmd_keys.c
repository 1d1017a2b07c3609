/* Generic key commands (Redis 7.0's "generic" group plus SWAPDB): deletion,
 * renaming, copying and moving keys between databases, listing and sampling
 * the keyspace (KEYS, SCAN, RANDOMKEY), introspection (TYPE, OBJECT, TOUCH)
 * and per-key expiry (EXPIRE family, TTL family, PERSIST).
 *
 * Value types are not known here beyond their type and encoding numbers;
 * deep copies go through kv_copy. The active expire cycle lives in
 * node/expire.c. */
#include "node/cmd_handlers.h"
#include "node/collscan.h"
#include "node/command.h"
#include "node/db.h"
#include "node/exec.h"
#include "node/multi.h"
#include "node/notify.h"
#include "node/server.h"
#include "storage/glob.h"
#include "storage/keyspace.h"
#include "storage/object.h"

#include <limits.h>
#include <stdlib.h>
#include <strings.h>

/* Redis 7.0's shared.sameobjecterr and shared.nokeyerr. */
#define ERR_SAME_OBJECT "ERR source and destination objects are the same"
#define ERR_NO_SUCH_KEY "ERR no such key"
#define ERR_DB_RANGE    "ERR DB index is out of range"

/* maxmemory-policy values that track access (config.c's enum order). */
#define POLICY_VOLATILE_LRU 0
#define POLICY_VOLATILE_LFU 1
#define POLICY_ALLKEYS_LRU  4
#define POLICY_ALLKEYS_LFU  5

/* Redis shares the integers 0..9999 (OBJ_SHARED_INTEGERS) unless an LRU/LFU
 * maxmemory policy needs per-object access data; a shared object reports
 * this refcount (OBJ_SHARED_REFCOUNT). */
#define SHARED_INTEGERS 10000
#define SHARED_REFCOUNT INT_MAX

/* ---- Helpers ---- */

/* Redis's lookupKeyReadWithFlags(LOOKUP_NOTOUCH): hides expired keys and
 * counts a hit or miss, but leaves the access clock alone. */
static struct kv *lookup_notouch(struct exec_ctx *ctx, int arg) {
    struct kv *kv = db_peek(ctx, ctx->argv[arg], ctx->argvlen[arg]);
    if (kv == NULL)
        server.stats.keyspace_misses++;
    else
        server.stats.keyspace_hits++;
    return kv;
}

static bool is_lfu_policy(void) {
    return cfg.maxmemory_policy == POLICY_VOLATILE_LFU ||
           cfg.maxmemory_policy == POLICY_ALLKEYS_LFU;
}

static bool is_lru_or_lfu_policy(void) {
    return is_lfu_policy() || cfg.maxmemory_policy == POLICY_VOLATILE_LRU ||
           cfg.maxmemory_policy == POLICY_ALLKEYS_LRU;
}

/* Redis 7.0's getIntFromObjectOrReply: 'errmsg' replaces both its messages
 * when given. */
static bool arg_int(struct exec_ctx *ctx, int i, int *out, const char *errmsg) {
    long long v;
    if (!obj_parse_ll(ctx->argv[i], ctx->argvlen[i], &v)) {
        resp_add_error(ctx->out,
                       errmsg != NULL ? errmsg : "ERR value is not an integer or out of range");
        return false;
    }
    if (v < INT_MIN || v > INT_MAX) {
        if (errmsg != NULL)
            resp_add_error(ctx->out, errmsg);
        else
            resp_add_errorf(ctx->out, "ERR value is out of range, value must between %d and %d",
                            INT_MIN, INT_MAX);
        return false;
    }
    *out = (int)v;
    return true;
}

static bool is_valid_db(int id) {
    return id >= 0 && id < cfg.databases;
}

static bool same_arg(const struct exec_ctx *ctx, int a, int b) {
    return ctx->argvlen[a] == ctx->argvlen[b] &&
           memcmp(ctx->argv[a], ctx->argv[b], ctx->argvlen[a]) == 0;
}

/* Marks 'key' of database 'dbid' modified (Redis's signalModifiedKey on
 * another db than the client's, as MOVE and COPY ... DB do). */
static void touch_in_db(struct exec_ctx *ctx, int dbid, const char *key, size_t len) {
    int own = ctx->dbid;
    ctx->dbid = dbid;
    db_touch_modified(ctx, key, len);
    ctx->dbid = own;
}

/* A live key of database 'dbid' for writing: as db_lookup_write, there. */
static struct kv *lookup_write_in_db(struct exec_ctx *ctx, int dbid, const char *key, size_t len) {
    int own = ctx->dbid;
    ctx->dbid = dbid;
    struct kv *kv = db_lookup_write(ctx, key, len);
    ctx->dbid = own;
    return kv;
}

/* ---- DEL UNLINK EXISTS TOUCH TYPE ---- */

void cmd_del(struct exec_ctx *ctx) {
    long long deleted = 0;
    for (int i = 1; i < ctx->argc; i++) {
        if (db_delete(ctx, ctx->argv[i], ctx->argvlen[i])) {
            notify_keyspace_event(ctx, NOTIFY_GENERIC, "del", ctx->argv[i], ctx->argvlen[i]);
            deleted++;
        }
    }
    resp_add_int(ctx->out, deleted);
}

/* Values are freed synchronously either way: keyraft has no lazy-free
 * thread, and the reply is what clients observe. */
void cmd_unlink(struct exec_ctx *ctx) {
    cmd_del(ctx);
}

void cmd_exists(struct exec_ctx *ctx) {
    long long found = 0;
    for (int i = 1; i < ctx->argc; i++)
        found += db_peek(ctx, ctx->argv[i], ctx->argvlen[i]) != NULL;
    resp_add_int(ctx->out, found);
}

void cmd_touch(struct exec_ctx *ctx) {
    long long found = 0;
    for (int i = 1; i < ctx->argc; i++)
        found += db_lookup_read(ctx, ctx->argv[i], ctx->argvlen[i]) != NULL;
    resp_add_int(ctx->out, found);
}

void cmd_type(struct exec_ctx *ctx) {
    struct kv *kv = lookup_notouch(ctx, 1);
    resp_add_status(ctx->out, kv == NULL ? "none" : obj_type_name(kv->type));
}

/* ---- RENAME RENAMENX COPY MOVE SWAPDB ---- */

/* Redis 7.0 renameGenericCommand: the value (and its TTL) moves to the new
 * name, replacing what was there unless 'nx'. Renaming a key to itself
 * succeeds if the key exists. */
static void rename_generic(struct exec_ctx *ctx, bool nx) {
    const char *from = ctx->argv[1], *to = ctx->argv[2];
    size_t fromlen = ctx->argvlen[1], tolen = ctx->argvlen[2];
    struct kv *src = db_lookup_write(ctx, from, fromlen);
    if (src == NULL) {
        resp_add_error(ctx->out, ERR_NO_SUCH_KEY);
        return;
    }
    if (same_arg(ctx, 1, 2)) {
        if (nx)
            resp_add_int(ctx->out, 0);
        else
            exec_reply_ok(ctx);
        return;
    }
    struct kv *dst = db_lookup_write(ctx, to, tolen);
    if (dst != NULL && nx) {
        resp_add_int(ctx->out, 0);
        return;
    }
    struct kv *renamed = kv_rename(src, to, tolen);
    if (renamed == NULL) {
        exec_reply_oom(ctx);
        return;
    }
    struct keyspace *ks = db_current(ctx);
    int rc = dst != NULL ? keyspace_replace(ks, dst, renamed) : keyspace_add(ks, renamed);
    if (rc != 0) {
        kv_free_shell(renamed);
        exec_reply_oom(ctx);
        return;
    }
    kv_free(dst);
    /* The value now belongs to 'renamed': only the old record goes. */
    kv_free_shell(keyspace_remove(ks, from, fromlen));
    db_touch_modified(ctx, from, fromlen);
    db_touch_modified(ctx, to, tolen);
    /* Redis 7.0 renameGenericCommand: dbAdd's "new", then from and to. */
    notify_keyspace_event(ctx, NOTIFY_NEW, "new", to, tolen);
    notify_keyspace_event(ctx, NOTIFY_GENERIC, "rename_from", from, fromlen);
    notify_keyspace_event(ctx, NOTIFY_GENERIC, "rename_to", to, tolen);
    if (nx)
        resp_add_int(ctx->out, 1);
    else
        exec_reply_ok(ctx);
}

void cmd_rename(struct exec_ctx *ctx) {
    rename_generic(ctx, false);
}

void cmd_renamenx(struct exec_ctx *ctx) {
    rename_generic(ctx, true);
}

/* Redis 7.0 copyCommand: COPY source destination [DB db] [REPLACE]. */
void cmd_copy(struct exec_ctx *ctx) {
    int dst_db = ctx->dbid;
    bool replace = false;
    for (int i = 3; i < ctx->argc; i++) {
        if (exec_arg_is(ctx, i, "replace")) {
            replace = true;
        } else if (exec_arg_is(ctx, i, "db") && i + 1 < ctx->argc) {
            if (!arg_int(ctx, i + 1, &dst_db, NULL))
                return;
            if (!is_valid_db(dst_db)) {
                resp_add_error(ctx->out, ERR_DB_RANGE);
                return;
            }
            i++;
        } else {
            exec_reply_syntax_error(ctx);
            return;
        }
    }
    if (cfg.cluster_enabled && (ctx->dbid != 0 || dst_db != 0)) {
        resp_add_error(ctx->out, "ERR Copying to another database is not allowed in cluster mode");
        return;
    }
    if (dst_db == ctx->dbid && same_arg(ctx, 1, 2)) {
        resp_add_error(ctx->out, ERR_SAME_OBJECT);
        return;
    }
    struct kv *src = db_lookup_read(ctx, ctx->argv[1], ctx->argvlen[1]);
    if (src == NULL) {
        resp_add_int(ctx->out, 0);
        return;
    }
    const char *to = ctx->argv[2];
    size_t tolen = ctx->argvlen[2];
    struct kv *dst = lookup_write_in_db(ctx, dst_db, to, tolen);
    if (dst != NULL && !replace) {
        resp_add_int(ctx->out, 0);
        return;
    }
    struct keyspace *ks = server_db(dst_db);
    struct kv *copy = ks != NULL ? kv_copy(src, to, tolen, kv_expire(src)) : NULL;
    if (copy == NULL) {
        exec_reply_oom(ctx);
        return;
    }
    copy->lru = server.lru_clock;
    int rc = dst != NULL ? keyspace_replace(ks, dst, copy) : keyspace_add(ks, copy);
    if (rc != 0) {
        kv_free(copy);
        exec_reply_oom(ctx);
        return;
    }
    kv_free(dst);
    touch_in_db(ctx, dst_db, to, tolen);
    notify_keyspace_event_db(dst_db, NOTIFY_NEW, "new", to, tolen);
    notify_keyspace_event_db(dst_db, NOTIFY_GENERIC, "copy_to", to, tolen);
    resp_add_int(ctx->out, 1);
}

/* Redis 7.0 moveCommand: the record itself moves, TTL included. */
void cmd_move(struct exec_ctx *ctx) {
    if (cfg.cluster_enabled) {
        resp_add_error(ctx->out, "ERR MOVE is not allowed in cluster mode");
        return;
    }
    int dst_db;
    if (!arg_int(ctx, 2, &dst_db, NULL))
        return;
    if (!is_valid_db(dst_db)) {
        resp_add_error(ctx->out, ERR_DB_RANGE);
        return;
    }
    if (dst_db == ctx->dbid) {
        resp_add_error(ctx->out, ERR_SAME_OBJECT);
        return;
    }
    const char *key = ctx->argv[1];
    size_t len = ctx->argvlen[1];
    if (db_lookup_write(ctx, key, len) == NULL ||
        lookup_write_in_db(ctx, dst_db, key, len) != NULL) {
        resp_add_int(ctx->out, 0);
        return;
    }
    struct keyspace *src = db_current(ctx), *dst = server_db(dst_db);
    if (dst == NULL) {
        exec_reply_oom(ctx);
        return;
    }
    struct kv *kv = keyspace_remove(src, key, len);
    if (keyspace_add(dst, kv) != 0) {
        /* Put it back: the slot table it came from still exists. */
        if (keyspace_add(src, kv) != 0)
            kv_free(kv);
        exec_reply_oom(ctx);
        return;
    }
    key = kv_key(kv);
    db_touch_modified(ctx, key, len);
    touch_in_db(ctx, dst_db, key, len);
    notify_keyspace_event_db(dst_db, NOTIFY_NEW, "new", key, len);
    notify_keyspace_event(ctx, NOTIFY_GENERIC, "move_from", key, len);
    notify_keyspace_event_db(dst_db, NOTIFY_GENERIC, "move_to", key, len);
    resp_add_int(ctx->out, 1);
}

/* Redis 7.0 swapdbCommand. */
void cmd_swapdb(struct exec_ctx *ctx) {
    if (cfg.cluster_enabled) {
        resp_add_error(ctx->out, "ERR SWAPDB is not allowed in cluster mode");
        return;
    }
    int a, b;
    if (!arg_int(ctx, 1, &a, "ERR invalid first DB index") ||
        !arg_int(ctx, 2, &b, "ERR invalid second DB index"))
        return;
    if (!is_valid_db(a) || !is_valid_db(b)) {
        resp_add_error(ctx->out, ERR_DB_RANGE);
        return;
    }
    /* Redis 7.0 swapdbCommand: watchers of either side see a change. */
    multi_touch_db(a, b, ctx->now_ms);
    multi_touch_db(b, a, ctx->now_ms);
    server_swap_dbs(a, b);
    ctx->dirty++;
    exec_reply_ok(ctx);
}

/* ---- KEYS SCAN RANDOMKEY ---- */

void cmd_keys(struct exec_ctx *ctx) {
    const char *pattern = ctx->argv[1];
    size_t plen = ctx->argvlen[1];
    bool all = plen == 1 && pattern[0] == '*';
    size_t token = resp_begin_deferred(ctx->out);
    long long n = 0;
    struct keyspace *ks = server_db_if_exists(ctx->dbid);
    if (ks != NULL) {
        struct keyspace_iter it;
        keyspace_iter_init(&it, ks);
        struct kv *kv;
        while ((kv = keyspace_iter_next(&it)) != NULL) {
            if (db_is_expired(kv, ctx->now_ms))
                continue;
            if (all || glob_match(pattern, plen, kv_key(kv), kv->keylen, false)) {
                resp_add_bulk(ctx->out, kv_key(kv), kv->keylen);
                n++;
            }
        }
        keyspace_iter_close(&it);
    }
    resp_end_deferred(ctx->out, token, '*', n);
}

struct scan_batch {
    struct kv **keys;
    size_t len, cap;
    bool failed;
};

static void scan_collect(struct kv *kv, void *arg) {
    struct scan_batch *b = arg;
    if (b->len == b->cap) {
        size_t cap = b->cap ? b->cap * 2 : 16;
        struct kv **keys = realloc(b->keys, cap * sizeof(*keys));
        if (keys == NULL) {
            b->failed = true;
            return;
        }
        b->keys = keys;
        b->cap = cap;
    }
    b->keys[b->len++] = kv;
}

static bool equals_nocase(const char *a, size_t alen, const char *b) {
    return alen == strlen(b) && strncasecmp(a, b, alen) == 0;
}

/* Redis 7.0 scanGenericCommand for the keyspace: SCAN cursor [MATCH pattern]
 * [COUNT count] [TYPE type]. Scans until 'count' keys were gathered or
 * 10 * count steps passed, then filters by pattern, type and expiry. */
void cmd_scan(struct exec_ctx *ctx) {
    struct collscan_args args;
    if (!collscan_parse_cursor(ctx, 1, &args.cursor) ||
        !collscan_parse_options(ctx, 2, &args, true))
        return;
    uint64_t cursor = args.cursor;
    struct scan_batch batch = {0};
    struct keyspace *ks = server_db_if_exists(ctx->dbid);
    if (ks != NULL && keyspace_size(ks) > 0) {
        long long steps = collscan_max_steps(&args);
        do {
            cursor = keyspace_scan(ks, cursor, scan_collect, &batch);
        } while (cursor != 0 && steps-- > 0 && batch.len < (unsigned long long)args.count &&
                 !batch.failed);
    } else {
        cursor = 0;
    }
    if (batch.failed) {
        free(batch.keys);
        exec_reply_oom(ctx);
        return;
    }

    collscan_reply_cursor(ctx, cursor);
    size_t token = resp_begin_deferred(ctx->out);
    long long n = 0;
    for (size_t i = 0; i < batch.len; i++) {
        struct kv *kv = batch.keys[i];
        if (!collscan_matches(&args, kv_key(kv), kv->keylen))
            continue;
        bool expired = db_is_expired(kv, ctx->now_ms);
        /* Redis looks the type up first: an expired key's type is "none". */
        if (args.type != NULL &&
            !equals_nocase(args.type, args.typelen, expired ? "none" : obj_type_name(kv->type)))
            continue;
        if (expired)
            continue;
        resp_add_bulk(ctx->out, kv_key(kv), kv->keylen);
        n++;
    }
    resp_end_deferred(ctx->out, token, '*', n);
    free(batch.keys);
}

/* Tries this many random picks before looking for a live key in order:
 * reads never delete, so a keyspace full of expired keys must not spin. */
#define RANDOMKEY_TRIES 100

void cmd_randomkey(struct exec_ctx *ctx) {
    struct keyspace *ks = server_db_if_exists(ctx->dbid);
    struct kv *found = NULL;
    for (int i = 0; ks != NULL && found == NULL && i < RANDOMKEY_TRIES; i++) {
        struct kv *kv = keyspace_random(ks, server_random());
        if (kv == NULL)
            break;
        if (!db_is_expired(kv, ctx->now_ms))
            found = kv;
    }
    if (found == NULL && ks != NULL && keyspace_size(ks) > 0) {
        struct keyspace_iter it;
        keyspace_iter_init(&it, ks);
        struct kv *kv;
        while (found == NULL && (kv = keyspace_iter_next(&it)) != NULL)
            if (!db_is_expired(kv, ctx->now_ms))
                found = kv;
        keyspace_iter_close(&it);
    }
    if (found == NULL)
        resp_add_null(ctx->out);
    else
        resp_add_bulk(ctx->out, kv_key(found), found->keylen);
}

/* ---- OBJECT ---- */

void cmd_object_help(struct exec_ctx *ctx) {
    static const char *const lines[] = {
        "OBJECT <subcommand> [<arg> [value] [opt] ...]. Subcommands are:",
        "ENCODING <key>",
        "    Return the kind of internal representation used in order to store the value",
        "    associated with a <key>.",
        "FREQ <key>",
        "    Return the access frequency index of the <key>. The returned integer is",
        "    proportional to the logarithm of the recent access frequency of the key.",
        "IDLETIME <key>",
        "    Return the idle time of the <key>, that is the approximated number of",
        "    seconds elapsed since the last access to the key.",
        "REFCOUNT <key>",
        "    Return the number of references of the value associated with the specified",
        "    <key>.",
        "HELP",
        "    Prints this help.",
    };
    size_t n = sizeof(lines) / sizeof(lines[0]);
    resp_add_array(ctx->out, (long long)n);
    for (size_t i = 0; i < n; i++)
        resp_add_status(ctx->out, lines[i]);
}

/* Redis 7.0 objectCommandLookupOrReply: a null reply for a missing key. */
static struct kv *object_lookup(struct exec_ctx *ctx) {
    struct kv *kv = lookup_notouch(ctx, 2);
    if (kv == NULL)
        resp_add_null(ctx->out);
    return kv;
}

void cmd_object_encoding(struct exec_ctx *ctx) {
    struct kv *kv = object_lookup(ctx);
    if (kv != NULL)
        resp_add_bulk_cstr(ctx->out, obj_encoding_name(kv->encoding));
}

void cmd_object_refcount(struct exec_ctx *ctx) {
    struct kv *kv = object_lookup(ctx);
    if (kv == NULL)
        return;
    bool shared = kv->encoding == OBJ_ENC_INT && kv->v.ll >= 0 && kv->v.ll < SHARED_INTEGERS &&
                  (cfg.maxmemory == 0 || !is_lru_or_lfu_policy());
    resp_add_int(ctx->out, shared ? SHARED_REFCOUNT : 1);
}

void cmd_object_idletime(struct exec_ctx *ctx) {
    struct kv *kv = object_lookup(ctx);
    if (kv == NULL)
        return;
    if (is_lfu_policy()) {
        resp_add_error(ctx->out,
                       "ERR An LFU maxmemory policy is selected, idle time not tracked. Please "
                       "note that when switching between policies at runtime LRU and LFU data "
                       "will take some time to adjust.");
        return;
    }
    /* The access clock is 24 bits of seconds and wraps (Redis's LRU_CLOCK_MAX). */
    uint32_t now = (uint32_t)((ctx->now_ms / 1000) & 0xffffff);
    uint32_t idle = now >= kv->lru ? now - kv->lru : 0xffffff - kv->lru + now;
    resp_add_int(ctx->out, idle);
}

void cmd_object_freq(struct exec_ctx *ctx) {
    struct kv *kv = object_lookup(ctx);
    if (kv == NULL)
        return;
    if (!is_lfu_policy()) {
        resp_add_error(ctx->out,
                       "ERR An LFU maxmemory policy is not selected, access frequency not "
                       "tracked. Please note that when switching between policies at runtime "
                       "LRU and LFU data will take some time to adjust.");
        return;
    }
    /* Under an LFU policy the low 8 bits of the access field are the
     * logarithmic counter (Redis's layout); keeping it is eviction's job. */
    resp_add_int(ctx->out, kv->lru & 0xff);
}

/* ---- Expiry: EXPIRE PEXPIRE EXPIREAT PEXPIREAT PERSIST ---- */

enum expire_flag { EXPIRE_NX = 1, EXPIRE_XX = 2, EXPIRE_GT = 4, EXPIRE_LT = 8 };

/* Redis 7.0 parseExtendedExpireArgumentsOrReply. */
static bool parse_expire_flags(struct exec_ctx *ctx, int *flags) {
    for (int i = 3; i < ctx->argc; i++) {
        if (exec_arg_is(ctx, i, "nx")) {
            *flags |= EXPIRE_NX;
        } else if (exec_arg_is(ctx, i, "xx")) {
            *flags |= EXPIRE_XX;
        } else if (exec_arg_is(ctx, i, "gt")) {
            *flags |= EXPIRE_GT;
        } else if (exec_arg_is(ctx, i, "lt")) {
            *flags |= EXPIRE_LT;
        } else {
            /* Redis formats the option with %s, so it stops at a NUL byte. */
            size_t len = strnlen(ctx->argv[i], ctx->argvlen[i]);
            resp_add_errorf(ctx->out, "ERR Unsupported option %.*s", (int)(len < 4096 ? len : 4096),
                            ctx->argv[i]);
            return false;
        }
    }
    if ((*flags & EXPIRE_NX) && (*flags & (EXPIRE_XX | EXPIRE_GT | EXPIRE_LT))) {
        resp_add_error(ctx->out, "ERR NX and XX, GT or LT options at the same time are not "
                                 "compatible");
        return false;
    }
    if ((*flags & EXPIRE_GT) && (*flags & EXPIRE_LT)) {
        resp_add_error(ctx->out, "ERR GT and LT options at the same time are not compatible");
        return false;
    }
    return true;
}

/* Whether the NX/XX/GT/LT conditions allow replacing 'current' (-1: none)
 * by 'when'. A key without expiry counts as an infinite TTL. */
static bool expire_flags_allow(int flags, int64_t current, int64_t when) {
    if ((flags & EXPIRE_NX) && current != -1)
        return false;
    if ((flags & EXPIRE_XX) && current == -1)
        return false;
    if ((flags & EXPIRE_GT) && (current == -1 || when <= current))
        return false;
    if ((flags & EXPIRE_LT) && current != -1 && when >= current)
        return false;
    return true;
}

/* Turns argv[2] into an absolute time in ms: scaled by 1000 when
 * 'in_seconds', plus 'basetime_ms'. Replies Redis's error on overflow. */
static bool parse_expire_time(struct exec_ctx *ctx, int64_t basetime_ms, bool in_seconds,
                              long long *when) {
    if (!exec_arg_ll(ctx, 2, when))
        return false;
    bool overflow = false;
    if (in_seconds) {
        overflow = *when > LLONG_MAX / 1000 || *when < LLONG_MIN / 1000;
        if (!overflow)
            *when *= 1000;
    }
    overflow = overflow || *when > LLONG_MAX - basetime_ms;
    if (overflow) {
        resp_add_errorf(ctx->out, "ERR invalid expire time in '%s' command", ctx->cmd->fullname);
        return false;
    }
    *when += basetime_ms;
    return true;
}

/* Redis 7.0 expireGenericCommand. 'basetime_ms' is 0 for the absolute forms
 * and the command's time for relative ones; 'in_seconds' scales argv[2]. A
 * time that has already passed deletes the key (and still replies 1). */
static void expire_generic(struct exec_ctx *ctx, int64_t basetime_ms, bool in_seconds) {
    int flags = 0;
    long long when;
    if (!parse_expire_flags(ctx, &flags) || !parse_expire_time(ctx, basetime_ms, in_seconds, &when))
        return;
    const char *key = ctx->argv[1];
    size_t len = ctx->argvlen[1];
    struct kv *kv = db_lookup_write(ctx, key, len);
    if (kv == NULL || !expire_flags_allow(flags, kv_expire(kv), when)) {
        resp_add_int(ctx->out, 0);
        return;
    }
    if (when <= ctx->now_ms) {
        db_delete(ctx, key, len);
        notify_keyspace_event(ctx, NOTIFY_GENERIC, "del", key, len);
        resp_add_int(ctx->out, 1);
        return;
    }
    struct kv *repl = kv_with_expire(kv, when);
    if (repl == NULL) {
        exec_reply_oom(ctx);
        return;
    }
    if (!db_replace(ctx, kv, repl, true))
        return;
    notify_keyspace_event(ctx, NOTIFY_GENERIC, "expire", key, len);
    resp_add_int(ctx->out, 1);
}

void cmd_expire(struct exec_ctx *ctx) {
    expire_generic(ctx, ctx->now_ms, true);
}

void cmd_pexpire(struct exec_ctx *ctx) {
    expire_generic(ctx, ctx->now_ms, false);
}

void cmd_expireat(struct exec_ctx *ctx) {
    expire_generic(ctx, 0, true);
}

void cmd_pexpireat(struct exec_ctx *ctx) {
    expire_generic(ctx, 0, false);
}

void cmd_persist(struct exec_ctx *ctx) {
    struct kv *kv = db_lookup_write(ctx, ctx->argv[1], ctx->argvlen[1]);
    if (kv == NULL || !kv->has_expire) {
        resp_add_int(ctx->out, 0);
        return;
    }
    struct kv *repl = kv_with_expire(kv, -1);
    if (repl == NULL) {
        exec_reply_oom(ctx);
        return;
    }
    if (!db_replace(ctx, kv, repl, true))
        return;
    notify_keyspace_event(ctx, NOTIFY_GENERIC, "persist", ctx->argv[1], ctx->argvlen[1]);
    resp_add_int(ctx->out, 1);
}

/* ---- Expiry: TTL PTTL EXPIRETIME PEXPIRETIME ---- */

/* Redis 7.0 ttlGenericCommand: -2 for a missing key, -1 without expiry,
 * else the remaining (or absolute) time, seconds rounded to nearest. */
static void ttl_generic(struct exec_ctx *ctx, bool in_ms, bool absolute) {
    struct kv *kv = lookup_notouch(ctx, 1);
    if (kv == NULL) {
        resp_add_int(ctx->out, -2);
        return;
    }
    if (!kv->has_expire) {
        resp_add_int(ctx->out, -1);
        return;
    }
    long long ttl = absolute ? kv_expire(kv) : kv_expire(kv) - ctx->now_ms;
    if (ttl < 0)
        ttl = 0;
    resp_add_int(ctx->out, in_ms ? ttl : (ttl + 500) / 1000);
}

void cmd_ttl(struct exec_ctx *ctx) {
    ttl_generic(ctx, false, false);
}

void cmd_pttl(struct exec_ctx *ctx) {
    ttl_generic(ctx, true, false);
}

void cmd_expiretime(struct exec_ctx *ctx) {
    ttl_generic(ctx, false, true);
}

void cmd_pexpiretime(struct exec_ctx *ctx) {
    ttl_generic(ctx, true, true);
}
