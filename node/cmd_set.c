/* Set commands: argument parsing, Redis 7.0's replies and error texts, and
 * the algebra (SINTER/SUNION/SDIFF and their STORE and CARD forms). The set
 * encodings themselves live in storage/set.c.
 *
 * Determinism: writes that choose members (SPOP) draw positions from a PRNG
 * seeded with ctx->seed, and storage/set.h positions do not depend on hash
 * layout, so every member applying the same SPOP removes the same members.
 * Sets built by STORE commands are filled in position order for the same
 * reason. Reads (SRANDMEMBER) use server_random(). */
#include "node/cmd_handlers.h"
#include "node/collscan.h"
#include "node/command.h"
#include "node/config.h"
#include "node/db.h"
#include "node/exec.h"
#include "node/notify.h"
#include "node/randpick.h"
#include "node/server.h"
#include "storage/keyspace.h"
#include "storage/mem.h"
#include "storage/set.h"

#include <limits.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

/* ---- Helpers ---- */

static size_t max_intset(void) {
    return (size_t)cfg.set_max_intset_entries;
}

/* Looks up argument 'i' as a set for reading. Returns false after replying
 * WRONGTYPE; '*kv' is NULL for a missing key. */
static bool read_set(struct exec_ctx *ctx, int i, struct kv **kv) {
    *kv = db_lookup_read(ctx, ctx->argv[i], ctx->argvlen[i]);
    if (*kv != NULL && (*kv)->type != OBJ_SET) {
        exec_reply_wrongtype(ctx);
        return false;
    }
    return true;
}

static bool write_set(struct exec_ctx *ctx, int i, struct kv **kv) {
    *kv = db_lookup_write(ctx, ctx->argv[i], ctx->argvlen[i]);
    if (*kv != NULL && (*kv)->type != OBJ_SET) {
        exec_reply_wrongtype(ctx);
        return false;
    }
    return true;
}

static void reply_member_at(struct exec_ctx *ctx, const struct kv *set, size_t pos) {
    char buf[SET_INT_BUF];
    size_t len;
    const char *m = set_at(set, pos, buf, &len);
    resp_add_bulk(ctx->out, m, len);
}

/* Replies with every member, as a RESP3 set. */
static void reply_members(struct exec_ctx *ctx, const struct kv *set) {
    size_t n = set != NULL ? set_size(set) : 0;
    resp_add_set(ctx->out, (long long)n);
    for (size_t i = 0; i < n; i++)
        reply_member_at(ctx, set, i);
}

static void notify_set(struct exec_ctx *ctx, const char *event, int i) {
    notify_keyspace_event(ctx, NOTIFY_SET, event, ctx->argv[i], ctx->argvlen[i]);
}

/* After members left the set at argument 'i': marks it modified, sends
 * 'event', then deletes the set with a "del" event once its last member is
 * gone (Redis 7.0 SREM, SPOP, SMOVE). */
static void members_removed(struct exec_ctx *ctx, const struct kv *set, int i, const char *event) {
    db_touch_modified(ctx, ctx->argv[i], ctx->argvlen[i]);
    notify_set(ctx, event, i);
    if (set_size(set) == 0) {
        db_delete(ctx, ctx->argv[i], ctx->argvlen[i]);
        notify_keyspace_event(ctx, NOTIFY_GENERIC, "del", ctx->argv[i], ctx->argvlen[i]);
    }
}

/* ---- Single-key commands ---- */

void cmd_sadd(struct exec_ctx *ctx) {
    struct kv *set;
    if (!write_set(ctx, 1, &set))
        return;
    bool created = set == NULL;
    if (created) {
        set =
            set_new(ctx->argv[1], ctx->argvlen[1], set_encoding_for(ctx->argv[2], ctx->argvlen[2]));
        if (set == NULL) {
            exec_reply_oom(ctx);
            return;
        }
    }
    long long added = 0;
    for (int i = 2; i < ctx->argc; i++) {
        int rc = set_add(set, ctx->argv[i], ctx->argvlen[i], max_intset());
        if (rc < 0) {
            if (created)
                kv_free(set);
            else if (added > 0)
                db_touch_modified(ctx, ctx->argv[1], ctx->argvlen[1]);
            exec_reply_oom(ctx);
            return;
        }
        added += rc;
    }
    if (created) {
        if (!db_set(ctx, set))
            return;
    } else if (added > 0) {
        db_touch_modified(ctx, ctx->argv[1], ctx->argvlen[1]);
    }
    if (added > 0)
        notify_set(ctx, "sadd", 1);
    resp_add_int(ctx->out, added);
}

void cmd_srem(struct exec_ctx *ctx) {
    struct kv *set;
    if (!write_set(ctx, 1, &set))
        return;
    long long removed = 0;
    if (set != NULL) {
        for (int i = 2; i < ctx->argc && set_size(set) > 0; i++)
            removed += set_remove(set, ctx->argv[i], ctx->argvlen[i]);
        if (removed > 0)
            members_removed(ctx, set, 1, "srem");
    }
    resp_add_int(ctx->out, removed);
}

void cmd_sismember(struct exec_ctx *ctx) {
    struct kv *set;
    if (!read_set(ctx, 1, &set))
        return;
    resp_add_int(ctx->out, set != NULL && set_contains(set, ctx->argv[2], ctx->argvlen[2]));
}

void cmd_smismember(struct exec_ctx *ctx) {
    struct kv *set;
    if (!read_set(ctx, 1, &set))
        return;
    resp_add_array(ctx->out, ctx->argc - 2);
    for (int i = 2; i < ctx->argc; i++)
        resp_add_int(ctx->out, set != NULL && set_contains(set, ctx->argv[i], ctx->argvlen[i]));
}

void cmd_scard(struct exec_ctx *ctx) {
    struct kv *set;
    if (!read_set(ctx, 1, &set))
        return;
    resp_add_int(ctx->out, set != NULL ? (long long)set_size(set) : 0);
}

/* Redis 7.0 SMEMBERS is SINTER of one key: a RESP3 set in stored order. */
void cmd_smembers(struct exec_ctx *ctx) {
    struct kv *set;
    if (!read_set(ctx, 1, &set))
        return;
    reply_members(ctx, set);
}

void cmd_smove(struct exec_ctx *ctx) {
    struct kv *src = db_lookup_write(ctx, ctx->argv[1], ctx->argvlen[1]);
    struct kv *dst = db_lookup_write(ctx, ctx->argv[2], ctx->argvlen[2]);
    const char *m = ctx->argv[3];
    size_t len = ctx->argvlen[3];
    /* Redis 7.0: a missing source answers 0 before any type check. */
    if (src == NULL) {
        resp_add_int(ctx->out, 0);
        return;
    }
    if (src->type != OBJ_SET || (dst != NULL && dst->type != OBJ_SET)) {
        exec_reply_wrongtype(ctx);
        return;
    }
    if (src == dst) {
        resp_add_int(ctx->out, set_contains(src, m, len));
        return;
    }
    if (!set_contains(src, m, len)) {
        resp_add_int(ctx->out, 0);
        return;
    }
    /* Prepare the destination before touching the source, so running out
     * of memory leaves both sets as they were. */
    bool created = dst == NULL;
    if (created) {
        dst = set_new(ctx->argv[2], ctx->argvlen[2], set_encoding_for(m, len));
        if (dst == NULL) {
            exec_reply_oom(ctx);
            return;
        }
    }
    int rc = set_add(dst, m, len, max_intset());
    if (rc < 0) {
        if (created)
            kv_free(dst);
        exec_reply_oom(ctx);
        return;
    }
    /* A new destination goes into the keyspace now, where a failure still
     * leaves the source alone, but without db_set's "new" event: Redis 7.0
     * smoveCommand sends "srem" (and "del") on the source first, then
     * dbAdd's "new" and "sadd" on the destination (as RENAME, the event
     * is sent here). */
    if (created) {
        struct keyspace *ks = db_current(ctx);
        if (ks == NULL || keyspace_add(ks, dst) != 0) {
            kv_free(dst);
            exec_reply_oom(ctx);
            return;
        }
        dst->lru = server.lru_clock;
    }
    if (rc > 0)
        db_touch_modified(ctx, ctx->argv[2], ctx->argvlen[2]);
    set_remove(src, m, len);
    members_removed(ctx, src, 1, "srem");
    if (created)
        notify_keyspace_event(ctx, NOTIFY_NEW, "new", ctx->argv[2], ctx->argvlen[2]);
    if (rc > 0)
        notify_set(ctx, "sadd", 2);
    resp_add_int(ctx->out, 1);
}

/* ---- Random members ---- */

/* SPOP key [count]: positions come from the seeded PRNG (see the file
 * comment). Redis 7.0: a count is parsed before the key is looked up and
 * answers with a RESP3 set; a missing key gives an empty set. */
void cmd_spop(struct exec_ctx *ctx) {
    if (ctx->argc > 3) {
        exec_reply_syntax_error(ctx);
        return;
    }
    long long count = 1;
    if (ctx->argc == 3 && (!obj_parse_ll(ctx->argv[2], ctx->argvlen[2], &count) || count < 0)) {
        resp_add_error(ctx->out, "ERR value is out of range, must be positive");
        return;
    }
    struct kv *set;
    if (!write_set(ctx, 1, &set))
        return;
    if (set == NULL) {
        if (ctx->argc == 3)
            resp_add_set(ctx->out, 0);
        else
            resp_add_null(ctx->out);
        return;
    }
    uint64_t rng = ctx->seed;
    if (ctx->argc == 2) {
        size_t pos = randpick_next(&rng) % set_size(set);
        reply_member_at(ctx, set, pos);
        set_remove_at(set, pos);
    } else {
        size_t n = (unsigned long long)count < set_size(set) ? (size_t)count : set_size(set);
        resp_add_set(ctx->out, (long long)n);
        if (n == 0)
            return;
        if (n == set_size(set)) {
            for (size_t i = 0; i < n; i++)
                reply_member_at(ctx, set, i);
            notify_set(ctx, "spop", 1);
            db_delete(ctx, ctx->argv[1], ctx->argvlen[1]);
            notify_keyspace_event(ctx, NOTIFY_GENERIC, "del", ctx->argv[1], ctx->argvlen[1]);
            return;
        }
        for (size_t i = 0; i < n; i++) {
            size_t pos = randpick_next(&rng) % set_size(set);
            reply_member_at(ctx, set, pos);
            set_remove_at(set, pos);
        }
    }
    members_removed(ctx, set, 1, "spop");
}

/* Replies with 'count' (< size) distinct members in position order. A
 * bitmap marks the chosen positions; when more than half are wanted, the
 * positions left out are drawn instead. */
static void reply_distinct_random(struct exec_ctx *ctx, const struct kv *set, size_t count) {
    size_t size = set_size(set);
    uint8_t *chosen = mem_calloc((size + 7) / 8);
    if (chosen == NULL) {
        exec_reply_oom(ctx);
        return;
    }
    bool draw_excluded = count > size / 2;
    size_t draws = draw_excluded ? size - count : count;
    for (size_t drawn = 0; drawn < draws;) {
        size_t pos = server_random() % size;
        if (!(chosen[pos / 8] & (1u << (pos % 8)))) {
            chosen[pos / 8] |= (uint8_t)(1u << (pos % 8));
            drawn++;
        }
    }
    resp_add_array(ctx->out, (long long)count);
    for (size_t pos = 0; pos < size; pos++) {
        bool marked = chosen[pos / 8] & (1u << (pos % 8));
        if (marked != draw_excluded)
            reply_member_at(ctx, set, pos);
    }
    mem_free(chosen);
}

/* SRANDMEMBER key [count]: a negative count allows repeats; a positive one
 * returns distinct members, at most the whole set. Redis 7.0 replies with an
 * array (not a set) and parses the count before looking at the key. */
void cmd_srandmember(struct exec_ctx *ctx) {
    if (ctx->argc > 3) {
        exec_reply_syntax_error(ctx);
        return;
    }
    long long count = 1;
    if (ctx->argc == 3) {
        if (!exec_arg_ll(ctx, 2, &count))
            return;
        if (count == LLONG_MIN) {
            resp_add_error(ctx->out, "ERR value is out of range, value must between "
                                     "-9223372036854775807 and 9223372036854775807");
            return;
        }
    }
    struct kv *set;
    if (!read_set(ctx, 1, &set))
        return;
    if (ctx->argc == 2) {
        if (set == NULL)
            resp_add_null(ctx->out);
        else
            reply_member_at(ctx, set, server_random() % set_size(set));
        return;
    }
    if (set == NULL || count == 0) {
        resp_add_array(ctx->out, 0);
        return;
    }
    size_t size = set_size(set);
    if (count < 0) {
        resp_add_array(ctx->out, -count);
        for (long long i = 0; i < -count && !ctx->out->failed; i++)
            reply_member_at(ctx, set, server_random() % size);
    } else if ((unsigned long long)count >= size) {
        resp_add_array(ctx->out, (long long)size);
        for (size_t i = 0; i < size; i++)
            reply_member_at(ctx, set, i);
    } else {
        reply_distinct_random(ctx, set, (size_t)count);
    }
}

/* ---- Algebra ---- */

/* Looks up the sets named by 'count' arguments from 'first' into 'sets'
 * (NULL for a missing key). Every key is type-checked, as in Redis 7.0,
 * even after a missing one. Returns false after replying an error. */
static bool collect_sets(struct exec_ctx *ctx, int first, int count, struct kv **sets) {
    for (int i = 0; i < count; i++)
        if (!read_set(ctx, first + i, &sets[i]))
            return false;
    return true;
}

static struct kv **alloc_sets(struct exec_ctx *ctx, int count) {
    struct kv **sets = mem_alloc((size_t)count * sizeof(*sets));
    if (sets == NULL)
        exec_reply_oom(ctx);
    return sets;
}

/* Deletes the destination (argument 1) of a store whose result is empty,
 * with a "del" event if it existed. */
static void delete_destination(struct exec_ctx *ctx) {
    if (db_delete(ctx, ctx->argv[1], ctx->argvlen[1]))
        notify_keyspace_event(ctx, NOTIFY_GENERIC, "del", ctx->argv[1], ctx->argvlen[1]);
}

/* Stores 'result' (an owned record under an empty key) at argument 1 with
 * event 'event', or deletes that key when 'result' is empty; replies with
 * the size. Redis 7.0: storing replaces the destination and drops its TTL. */
static void store_result(struct exec_ctx *ctx, struct kv *result, const char *event) {
    size_t n = set_size(result);
    if (n == 0) {
        kv_free(result);
        delete_destination(ctx);
        resp_add_int(ctx->out, 0);
        return;
    }
    struct kv *stored = kv_rename(result, ctx->argv[1], ctx->argvlen[1]);
    if (stored == NULL) {
        kv_free(result);
        exec_reply_oom(ctx);
        return;
    }
    kv_free_shell(result);
    if (!db_set(ctx, stored))
        return;
    notify_set(ctx, event, 1);
    resp_add_int(ctx->out, (long long)n);
}

/* Orders 'sets' by ascending size; insertion sort keeps equal sizes in
 * argument order, so the iteration order is the same on every member. */
static void sort_by_size(struct kv **sets, int count) {
    for (int i = 1; i < count; i++) {
        struct kv *cur = sets[i];
        int j = i;
        for (; j > 0 && set_size(sets[j - 1]) > set_size(cur); j--)
            sets[j] = sets[j - 1];
        sets[j] = cur;
    }
}

static bool in_all_others(struct kv **sets, int count, const char *m, size_t len) {
    for (int j = 1; j < count; j++)
        if (sets[j] != sets[0] && !set_contains(sets[j], m, len))
            return false;
    return true;
}

enum inter_mode { INTER_REPLY, INTER_STORE, INTER_CARD };

/* The intersection of 'count' sets named from argument 'first'. Walks the
 * smallest set and probes the others. 'limit' (CARD only, 0 = none) stops
 * counting early. */
static void inter_generic(struct exec_ctx *ctx, int first, int count, enum inter_mode mode,
                          long long limit) {
    struct kv **sets = alloc_sets(ctx, count);
    if (sets == NULL)
        return;
    if (!collect_sets(ctx, first, count, sets))
        goto out;
    for (int i = 0; i < count; i++) {
        if (sets[i] == NULL) {
            /* Redis 7.0: intersecting with an empty set is empty. */
            if (mode == INTER_STORE) {
                delete_destination(ctx);
                resp_add_int(ctx->out, 0);
            } else if (mode == INTER_CARD) {
                resp_add_int(ctx->out, 0);
            } else {
                resp_add_set(ctx->out, 0);
            }
            goto out;
        }
    }
    sort_by_size(sets, count);
    struct kv *result = NULL;
    size_t token = 0;
    if (mode == INTER_STORE) {
        result = set_new("", 0, OBJ_ENC_INTSET);
        if (result == NULL) {
            exec_reply_oom(ctx);
            goto out;
        }
    } else if (mode == INTER_REPLY) {
        token = resp_begin_deferred(ctx->out);
    }
    long long found = 0;
    size_t size = set_size(sets[0]);
    for (size_t pos = 0; pos < size; pos++) {
        char buf[SET_INT_BUF];
        size_t len;
        const char *m = set_at(sets[0], pos, buf, &len);
        if (!in_all_others(sets, count, m, len))
            continue;
        found++;
        if (mode == INTER_REPLY) {
            resp_add_bulk(ctx->out, m, len);
        } else if (mode == INTER_STORE) {
            if (set_add(result, m, len, max_intset()) < 0) {
                kv_free(result);
                exec_reply_oom(ctx);
                goto out;
            }
        } else if (limit > 0 && found >= limit) {
            break;
        }
    }
    if (mode == INTER_REPLY)
        resp_end_deferred(ctx->out, token, '~', found);
    else if (mode == INTER_CARD)
        resp_add_int(ctx->out, found);
    else
        store_result(ctx, result, "sinterstore");
out:
    mem_free(sets);
}

void cmd_sinter(struct exec_ctx *ctx) {
    inter_generic(ctx, 1, ctx->argc - 1, INTER_REPLY, 0);
}

void cmd_sinterstore(struct exec_ctx *ctx) {
    inter_generic(ctx, 2, ctx->argc - 2, INTER_STORE, 0);
}

/* SINTERCARD numkeys key [key ...] [LIMIT limit], with Redis 7.0's errors. */
void cmd_sintercard(struct exec_ctx *ctx) {
    long long numkeys;
    if (!obj_parse_ll(ctx->argv[1], ctx->argvlen[1], &numkeys) || numkeys <= 0) {
        resp_add_error(ctx->out, "ERR numkeys should be greater than 0");
        return;
    }
    if (numkeys > ctx->argc - 2) {
        resp_add_error(ctx->out, "ERR Number of keys can't be greater than number of args");
        return;
    }
    long long limit = 0;
    for (int i = 2 + (int)numkeys; i < ctx->argc; i++) {
        if (exec_arg_is(ctx, i, "limit") && i + 1 < ctx->argc) {
            i++;
            if (!obj_parse_ll(ctx->argv[i], ctx->argvlen[i], &limit) || limit < 0) {
                resp_add_error(ctx->out, "ERR LIMIT can't be negative");
                return;
            }
        } else {
            exec_reply_syntax_error(ctx);
            return;
        }
    }
    inter_generic(ctx, 2, (int)numkeys, INTER_CARD, limit);
}

/* Redis 7.0 sunionDiffGenericCommand picks one of two SDIFF algorithms by
 * estimated work; the choice shows in the stored set's encoding (the second
 * may widen the result past the intset limit before removing), so it is
 * reproduced here. Returns whether algorithm 1 (probe) applies, and orders
 * sets[1..] by descending size for it. */
static bool diff_probe_first(struct kv **sets, int count) {
    long long probe_work = 0, remove_work = 0;
    for (int j = 0; j < count; j++) {
        if (sets[j] == NULL)
            continue;
        probe_work += (long long)set_size(sets[0]);
        remove_work += (long long)set_size(sets[j]);
    }
    probe_work /= 2;
    if (probe_work > remove_work)
        return false;
    for (int i = 2; i < count; i++) {
        struct kv *cur = sets[i];
        int j = i;
        for (; j > 1 && (sets[j - 1] == NULL ? 0 : set_size(sets[j - 1])) <
                            (cur == NULL ? 0 : set_size(cur));
             j--)
            sets[j] = sets[j - 1];
        sets[j] = cur;
    }
    return true;
}

/* Adds every member of 'set' to 'result'. Returns false on ENOMEM. */
static bool add_all(struct kv *result, const struct kv *set) {
    size_t size = set_size(set);
    for (size_t pos = 0; pos < size; pos++) {
        char buf[SET_INT_BUF];
        size_t len;
        const char *m = set_at(set, pos, buf, &len);
        if (set_add(result, m, len, max_intset()) < 0)
            return false;
    }
    return true;
}

static bool diff_into(struct kv *result, struct kv **sets, int count) {
    if (sets[0] == NULL)
        return true;
    if (diff_probe_first(sets, count)) {
        size_t size = set_size(sets[0]);
        for (size_t pos = 0; pos < size; pos++) {
            char buf[SET_INT_BUF];
            size_t len;
            const char *m = set_at(sets[0], pos, buf, &len);
            bool elsewhere = false;
            for (int j = 1; j < count && !elsewhere; j++)
                elsewhere =
                    sets[j] != NULL && (sets[j] == sets[0] || set_contains(sets[j], m, len));
            if (!elsewhere && set_add(result, m, len, max_intset()) < 0)
                return false;
        }
        return true;
    }
    if (!add_all(result, sets[0]))
        return false;
    for (int j = 1; j < count && set_size(result) > 0; j++) {
        if (sets[j] == NULL)
            continue;
        size_t size = set_size(sets[j]);
        for (size_t pos = 0; pos < size; pos++) {
            char buf[SET_INT_BUF];
            size_t len;
            const char *m = set_at(sets[j], pos, buf, &len);
            set_remove(result, m, len);
        }
    }
    return true;
}

/* SUNION/SDIFF and their STORE forms: the result is built as a new set that
 * starts as an intset, as Redis 7.0 does, so its encoding matches. */
static void union_diff_generic(struct exec_ctx *ctx, int first, bool is_diff, bool store) {
    int count = ctx->argc - first;
    struct kv **sets = alloc_sets(ctx, count);
    if (sets == NULL)
        return;
    if (!collect_sets(ctx, first, count, sets))
        goto out;
    struct kv *result = set_new("", 0, OBJ_ENC_INTSET);
    if (result == NULL) {
        exec_reply_oom(ctx);
        goto out;
    }
    bool ok = true;
    if (is_diff) {
        ok = diff_into(result, sets, count);
    } else {
        for (int j = 0; j < count && ok; j++)
            if (sets[j] != NULL)
                ok = add_all(result, sets[j]);
    }
    if (!ok) {
        kv_free(result);
        exec_reply_oom(ctx);
    } else if (store) {
        store_result(ctx, result, is_diff ? "sdiffstore" : "sunionstore");
    } else {
        reply_members(ctx, result);
        kv_free(result);
    }
out:
    mem_free(sets);
}

void cmd_sunion(struct exec_ctx *ctx) {
    union_diff_generic(ctx, 1, false, false);
}

void cmd_sunionstore(struct exec_ctx *ctx) {
    union_diff_generic(ctx, 2, false, true);
}

void cmd_sdiff(struct exec_ctx *ctx) {
    union_diff_generic(ctx, 1, true, false);
}

void cmd_sdiffstore(struct exec_ctx *ctx) {
    union_diff_generic(ctx, 2, true, true);
}

/* ---- SSCAN ---- */

struct scan_state {
    struct resp_out items; /* matching members, encoded */
    const struct collscan_args *args;
    long long visited;
    long long matched;
};

static void scan_emit(const char *m, size_t len, void *arg) {
    struct scan_state *st = arg;
    st->visited++;
    if (!collscan_matches(st->args, m, len))
        return;
    resp_add_bulk(&st->items, m, len);
    st->matched++;
}

/* SSCAN key cursor [MATCH pattern] [COUNT count]. Redis 7.0 order: cursor
 * first, then the key (missing: an empty scan), then the options. */
void cmd_sscan(struct exec_ctx *ctx) {
    struct collscan_args args;
    if (!collscan_parse_cursor(ctx, 2, &args.cursor))
        return;
    struct kv *set;
    if (!read_set(ctx, 1, &set))
        return;
    if (set == NULL) {
        collscan_reply_empty(ctx);
        return;
    }
    if (!collscan_parse_options(ctx, 3, &args, false))
        return;
    struct scan_state st = {.args = &args};
    resp_out_init(&st.items, ctx->out->proto);
    /* Redis 7.0 scanGenericCommand: stop after 'count' members visited
     * (before MATCH filters them) or count*10 table steps. */
    uint64_t cursor = args.cursor;
    long long budget = collscan_max_steps(&args);
    do {
        cursor = set_scan(set, cursor, scan_emit, &st);
    } while (cursor != 0 && budget-- > 0 && st.visited < args.count);
    if (st.items.failed) {
        exec_reply_oom(ctx);
    } else {
        collscan_reply_cursor(ctx, cursor);
        resp_add_array(ctx->out, st.matched);
        resp_add_raw(ctx->out, st.items.buf, st.items.len);
    }
    resp_out_close(&st.items);
}
