/* List commands: argument parsing, index normalisation, Redis 7.0's reply
 * shapes (nil vs empty array) and error texts. The list value itself is
 * storage/quicklist.c's. The blocking variants park through node/blocking
 * when their lists are empty and re-run as ordinary pops once filled. */
#include "node/blocking.h"
#include "node/cmd_handlers.h"
#include "node/command.h"
#include "node/config.h"
#include "node/db.h"
#include "node/exec.h"
#include "node/notify.h"
#include "storage/mem.h"
#include "storage/num.h"
#include "storage/quicklist.h"

#include <limits.h>
#include <string.h>

/* ---- Helpers ---- */

static struct quicklist *list_of(const struct kv *kv) {
    return kv->v.ptr;
}

/* Looks up argument 'i' as a list. Returns false after replying WRONGTYPE;
 * '*kv' is NULL for a missing key. */
static bool lookup_list(struct exec_ctx *ctx, int i, bool for_write, struct kv **kv) {
    *kv = for_write ? db_lookup_write(ctx, ctx->argv[i], ctx->argvlen[i])
                    : db_lookup_read(ctx, ctx->argv[i], ctx->argvlen[i]);
    if (*kv != NULL && (*kv)->type != OBJ_LIST) {
        exec_reply_wrongtype(ctx);
        return false;
    }
    return true;
}

/* A new, empty list record for argument 'i', or NULL. */
static struct kv *new_list(struct exec_ctx *ctx, int i) {
    long long fill = cfg.list_max_listpack_size;
    struct quicklist *ql = quicklist_new(fill < INT_MIN ? INT_MIN : (int)fill);
    if (ql == NULL)
        return NULL;
    struct kv *kv = kv_new_ptr(ctx->argv[i], ctx->argvlen[i], OBJ_LIST, OBJ_ENC_QUICKLIST, ql, -1);
    if (kv == NULL)
        quicklist_free(ql);
    return kv;
}

static void notify_list(struct exec_ctx *ctx, const char *event, int i) {
    notify_keyspace_event(ctx, NOTIFY_LIST, event, ctx->argv[i], ctx->argvlen[i]);
}

/* After elements left the list at argument 'i' (Redis 7.0
 * listElementsRemoved and its kin): marks it modified, sends 'event', then
 * deletes the list with a "del" event once its last element is gone. */
static void elements_removed(struct exec_ctx *ctx, const struct kv *list, int i,
                             const char *event) {
    db_touch_modified(ctx, ctx->argv[i], ctx->argvlen[i]);
    notify_list(ctx, event, i);
    if (quicklist_count(list_of(list)) == 0) {
        db_delete(ctx, ctx->argv[i], ctx->argvlen[i]);
        notify_keyspace_event(ctx, NOTIFY_GENERIC, "del", ctx->argv[i], ctx->argvlen[i]);
    }
}

static const char *pop_event(bool at_head) {
    return at_head ? "lpop" : "rpop";
}

static const char *push_event(bool at_head) {
    return at_head ? "lpush" : "rpush";
}

/* Parses LEFT/RIGHT; true for LEFT (the head). Replies a syntax error and
 * returns false otherwise. */
static bool parse_end(struct exec_ctx *ctx, int i, bool *at_head) {
    if (exec_arg_is(ctx, i, "left"))
        *at_head = true;
    else if (exec_arg_is(ctx, i, "right"))
        *at_head = false;
    else {
        exec_reply_syntax_error(ctx);
        return false;
    }
    return true;
}

/* Pops up to 'count' elements from one end of 'list' and replies with them
 * as an array (the caller has written nothing yet). */
static void pop_and_reply(struct exec_ctx *ctx, struct kv *list, bool at_head, long long count) {
    struct quicklist *ql = list_of(list);
    size_t n =
        (unsigned long long)count < quicklist_count(ql) ? (size_t)count : quicklist_count(ql);
    resp_add_array(ctx->out, (long long)n);
    for (size_t i = 0; i < n; i++) {
        char buf[LP_INTBUF];
        size_t len;
        const char *s = quicklist_peek(ql, at_head, buf, &len);
        resp_add_bulk(ctx->out, s, len);
        quicklist_pop(ql, at_head);
    }
}

/* ---- Push ---- */

/* LPUSH/RPUSH (create) and LPUSHX/RPUSHX (existing lists only). */
static void push_generic(struct exec_ctx *ctx, bool at_head, bool only_existing) {
    struct kv *list;
    if (!lookup_list(ctx, 1, true, &list))
        return;
    if (list == NULL && only_existing) {
        resp_add_int(ctx->out, 0);
        return;
    }
    bool created = list == NULL;
    if (created && (list = new_list(ctx, 1)) == NULL) {
        exec_reply_oom(ctx);
        return;
    }
    struct quicklist *ql = list_of(list);
    int pushed = 0;
    for (int i = 2; i < ctx->argc; i++, pushed++) {
        if (quicklist_push(ql, at_head, ctx->argv[i], ctx->argvlen[i]) != 0) {
            if (created)
                kv_free(list);
            else if (pushed > 0)
                db_touch_modified(ctx, ctx->argv[1], ctx->argvlen[1]);
            exec_reply_oom(ctx);
            return;
        }
    }
    long long len = (long long)quicklist_count(ql);
    if (created) {
        if (!db_set(ctx, list))
            return;
    } else {
        db_touch_modified(ctx, ctx->argv[1], ctx->argvlen[1]);
    }
    notify_list(ctx, push_event(at_head), 1);
    resp_add_int(ctx->out, len);
}

void cmd_lpush(struct exec_ctx *ctx) {
    push_generic(ctx, true, false);
}

void cmd_rpush(struct exec_ctx *ctx) {
    push_generic(ctx, false, false);
}

void cmd_lpushx(struct exec_ctx *ctx) {
    push_generic(ctx, true, true);
}

void cmd_rpushx(struct exec_ctx *ctx) {
    push_generic(ctx, false, true);
}

/* ---- Pop ---- */

/* LPOP/RPOP key [count]. Redis 7.0: the count is parsed first; without a
 * count a missing key is a nil bulk, with one a nil array; a count of 0 on
 * an existing list is an empty array. */
static void pop_generic(struct exec_ctx *ctx, bool at_head) {
    if (ctx->argc > 3) {
        resp_add_errorf(ctx->out, "ERR wrong number of arguments for '%s' command", ctx->cmd->name);
        return;
    }
    bool has_count = ctx->argc == 3;
    long long count = 1;
    if (has_count && (!obj_parse_ll(ctx->argv[2], ctx->argvlen[2], &count) || count < 0)) {
        resp_add_error(ctx->out, "ERR value is out of range, must be positive");
        return;
    }
    struct kv *list;
    if (!lookup_list(ctx, 1, true, &list))
        return;
    if (list == NULL) {
        if (has_count)
            resp_add_null_array(ctx->out);
        else
            resp_add_null(ctx->out);
        return;
    }
    if (has_count && count == 0) {
        resp_add_array(ctx->out, 0);
        return;
    }
    struct quicklist *ql = list_of(list);
    if (has_count) {
        pop_and_reply(ctx, list, at_head, count);
    } else {
        char buf[LP_INTBUF];
        size_t len;
        const char *s = quicklist_peek(ql, at_head, buf, &len);
        resp_add_bulk(ctx->out, s, len);
        quicklist_pop(ql, at_head);
    }
    elements_removed(ctx, list, 1, pop_event(at_head));
}

void cmd_lpop(struct exec_ctx *ctx) {
    pop_generic(ctx, true);
}

void cmd_rpop(struct exec_ctx *ctx) {
    pop_generic(ctx, false);
}

/* LMPOP/BLMPOP: [timeout] numkeys key [key ...] LEFT|RIGHT [COUNT count].
 * Pops from the first non-empty list and replies [key, [elements]]; with
 * nothing to pop, replies a nil array or (blocking) waits. Redis 7.0
 * lmpopGenericCommand: numkeys, end and COUNT are checked before the
 * timeout. */
static void mpop_generic(struct exec_ctx *ctx, int numkeys_arg, bool blocking) {
    long long numkeys;
    if (!obj_parse_ll(ctx->argv[numkeys_arg], ctx->argvlen[numkeys_arg], &numkeys) || numkeys < 1) {
        resp_add_error(ctx->out, "ERR numkeys should be greater than 0");
        return;
    }
    if (numkeys >= ctx->argc - numkeys_arg - 1) {
        exec_reply_syntax_error(ctx);
        return;
    }
    int where = numkeys_arg + 1 + (int)numkeys;
    bool at_head;
    if (!parse_end(ctx, where, &at_head))
        return;
    long long count = -1;
    for (int i = where + 1; i < ctx->argc; i++) {
        if (count == -1 && exec_arg_is(ctx, i, "count") && i + 1 < ctx->argc) {
            i++;
            if (!obj_parse_ll(ctx->argv[i], ctx->argvlen[i], &count) || count < 1) {
                resp_add_error(ctx->out, "ERR count should be greater than 0");
                return;
            }
        } else {
            exec_reply_syntax_error(ctx);
            return;
        }
    }
    if (count == -1)
        count = 1;
    int64_t deadline = blocking ? blocking_parse_timeout(ctx, 1) : 0;
    if (deadline < 0)
        return;
    for (int i = numkeys_arg + 1; i < where; i++) {
        struct kv *list;
        if (!lookup_list(ctx, i, true, &list))
            return;
        if (list == NULL)
            continue;
        resp_add_array(ctx->out, 2);
        resp_add_bulk(ctx->out, ctx->argv[i], ctx->argvlen[i]);
        pop_and_reply(ctx, list, at_head, count);
        elements_removed(ctx, list, i, pop_event(at_head));
        return;
    }
    if (blocking)
        blocking_wait_keys(ctx, numkeys_arg + 1, (int)numkeys, deadline, BLOCKING_REPLY_NULL_ARRAY,
                           OBJ_LIST);
    else
        resp_add_null_array(ctx->out);
}

void cmd_lmpop(struct exec_ctx *ctx) {
    mpop_generic(ctx, 1, false);
}

void cmd_blmpop(struct exec_ctx *ctx) {
    mpop_generic(ctx, 2, true);
}

/* BLPOP/BRPOP key [key ...] timeout: [key, element] from the first
 * non-empty list, checking types in key order (Redis 7.0). */
static void blocking_pop(struct exec_ctx *ctx, bool at_head) {
    int64_t deadline = blocking_parse_timeout(ctx, ctx->argc - 1);
    if (deadline < 0)
        return;
    for (int i = 1; i < ctx->argc - 1; i++) {
        struct kv *list;
        if (!lookup_list(ctx, i, true, &list))
            return;
        if (list == NULL)
            continue;
        char buf[LP_INTBUF];
        size_t len;
        const char *s = quicklist_peek(list_of(list), at_head, buf, &len);
        resp_add_array(ctx->out, 2);
        resp_add_bulk(ctx->out, ctx->argv[i], ctx->argvlen[i]);
        resp_add_bulk(ctx->out, s, len);
        quicklist_pop(list_of(list), at_head);
        elements_removed(ctx, list, i, pop_event(at_head));
        return;
    }
    blocking_wait_keys(ctx, 1, ctx->argc - 2, deadline, BLOCKING_REPLY_NULL_ARRAY, OBJ_LIST);
}

void cmd_blpop(struct exec_ctx *ctx) {
    blocking_pop(ctx, true);
}

void cmd_brpop(struct exec_ctx *ctx) {
    blocking_pop(ctx, false);
}

/* LMOVE/RPOPLPUSH. Redis 7.0 lmoveGenericCommand: the destination's type
 * is checked only when the source has an element; the element is popped,
 * then pushed (so a one-element list moved onto itself survives). Events
 * come in Redis's order: the push on the destination, then the pop on the
 * source and its "del" if it emptied. */
static void move_generic(struct exec_ctx *ctx, bool from_head, bool to_head) {
    struct kv *src, *dst;
    if (!lookup_list(ctx, 1, true, &src))
        return;
    if (src == NULL) {
        resp_add_null(ctx->out);
        return;
    }
    if (!lookup_list(ctx, 2, true, &dst))
        return;
    char buf[LP_INTBUF];
    size_t len;
    const char *peeked = quicklist_peek(list_of(src), from_head, buf, &len);
    /* The bytes live in the source node, which the pop frees: copy them. */
    char *value = mem_alloc(len ? len : 1);
    if (value == NULL) {
        exec_reply_oom(ctx);
        return;
    }
    memcpy(value, peeked, len);
    bool created = dst == NULL;
    if (created && (dst = new_list(ctx, 2)) == NULL) {
        exec_reply_oom(ctx);
        goto out;
    }
    /* Push before popping: a failed push leaves both lists unchanged. When
     * source and destination are one list and the ends are the same, the
     * pushed element would be the one popped, so pop first there. */
    if (src == dst && from_head == to_head) {
        resp_add_bulk(ctx->out, value, len);
        db_touch_modified(ctx, ctx->argv[1], ctx->argvlen[1]);
        notify_list(ctx, push_event(to_head), 2);
        notify_list(ctx, pop_event(from_head), 1);
        goto out;
    }
    if (quicklist_push(list_of(dst), to_head, value, len) != 0) {
        if (created)
            kv_free(dst);
        exec_reply_oom(ctx);
        goto out;
    }
    if (created) {
        if (!db_set(ctx, dst))
            goto out;
    } else {
        db_touch_modified(ctx, ctx->argv[2], ctx->argvlen[2]);
    }
    notify_list(ctx, push_event(to_head), 2);
    quicklist_pop(list_of(src), from_head);
    elements_removed(ctx, src, 1, pop_event(from_head));
    resp_add_bulk(ctx->out, value, len);
out:
    mem_free(value);
}

void cmd_lmove(struct exec_ctx *ctx) {
    bool from_head, to_head;
    if (!parse_end(ctx, 3, &from_head) || !parse_end(ctx, 4, &to_head))
        return;
    move_generic(ctx, from_head, to_head);
}

void cmd_rpoplpush(struct exec_ctx *ctx) {
    move_generic(ctx, false, true);
}

/* BLMOVE/BRPOPLPUSH: a move once the source has an element (Redis 7.0
 * blmoveGenericCommand: the ends, then the timeout, then the source type). */
static void blocking_move(struct exec_ctx *ctx, bool from_head, bool to_head, int timeout_arg) {
    int64_t deadline = blocking_parse_timeout(ctx, timeout_arg);
    if (deadline < 0)
        return;
    struct kv *src;
    if (!lookup_list(ctx, 1, true, &src))
        return;
    if (src != NULL)
        move_generic(ctx, from_head, to_head);
    else
        blocking_wait_keys(ctx, 1, 1, deadline, BLOCKING_REPLY_NULL_BULK, OBJ_LIST);
}

void cmd_blmove(struct exec_ctx *ctx) {
    bool from_head, to_head;
    if (!parse_end(ctx, 3, &from_head) || !parse_end(ctx, 4, &to_head))
        return;
    blocking_move(ctx, from_head, to_head, 5);
}

void cmd_brpoplpush(struct exec_ctx *ctx) {
    blocking_move(ctx, false, true, 3);
}

/* ---- Reads ---- */

void cmd_llen(struct exec_ctx *ctx) {
    struct kv *list;
    if (!lookup_list(ctx, 1, false, &list))
        return;
    resp_add_int(ctx->out, list != NULL ? (long long)quicklist_count(list_of(list)) : 0);
}

void cmd_lindex(struct exec_ctx *ctx) {
    struct kv *list;
    if (!lookup_list(ctx, 1, false, &list))
        return;
    if (list == NULL) {
        resp_add_null(ctx->out);
        return;
    }
    long long index;
    if (!exec_arg_ll(ctx, 2, &index))
        return;
    struct quicklist_iter it;
    long long count = (long long)quicklist_count(list_of(list));
    if (index >= count || index < -count) {
        resp_add_null(ctx->out);
        return;
    }
    quicklist_iter_init(&it, list_of(list), (long)index, true);
    char buf[LP_INTBUF];
    size_t len;
    const char *s = quicklist_iter_get(&it, buf, &len);
    resp_add_bulk(ctx->out, s, len);
}

void cmd_lrange(struct exec_ctx *ctx) {
    long long start, end;
    if (!exec_arg_ll(ctx, 2, &start) || !exec_arg_ll(ctx, 3, &end))
        return;
    struct kv *list;
    if (!lookup_list(ctx, 1, false, &list))
        return;
    if (list == NULL) {
        resp_add_array(ctx->out, 0);
        return;
    }
    struct quicklist *ql = list_of(list);
    if (!num_clamp_range((long long)quicklist_count(ql), &start, &end)) {
        resp_add_array(ctx->out, 0);
        return;
    }
    long long n = end - start + 1;
    resp_add_array(ctx->out, n);
    struct quicklist_iter it;
    quicklist_iter_init(&it, ql, (long)start, true);
    for (long long i = 0; i < n; i++, quicklist_iter_next(&it)) {
        char buf[LP_INTBUF];
        size_t len;
        const char *s = quicklist_iter_get(&it, buf, &len);
        resp_add_bulk(ctx->out, s, len);
    }
}

/* LPOS key element [RANK rank] [COUNT num-matches] [MAXLEN len]. */
void cmd_lpos(struct exec_ctx *ctx) {
    long long rank = 1, count = -1, maxlen = 0;
    for (int i = 3; i < ctx->argc; i++) {
        bool has_value = i + 1 < ctx->argc;
        if (has_value && exec_arg_is(ctx, i, "rank")) {
            if (!exec_arg_ll(ctx, ++i, &rank))
                return;
            if (rank == 0) {
                resp_add_error(ctx->out,
                               "ERR RANK can't be zero: use 1 to start from the first match, 2 "
                               "from the second ... or use negative to start from the end of "
                               "the list");
                return;
            }
        } else if (has_value && exec_arg_is(ctx, i, "count")) {
            i++;
            if (!obj_parse_ll(ctx->argv[i], ctx->argvlen[i], &count) || count < 0) {
                resp_add_error(ctx->out, "ERR COUNT can't be negative");
                return;
            }
        } else if (has_value && exec_arg_is(ctx, i, "maxlen")) {
            i++;
            if (!obj_parse_ll(ctx->argv[i], ctx->argvlen[i], &maxlen) || maxlen < 0) {
                resp_add_error(ctx->out, "ERR MAXLEN can't be negative");
                return;
            }
        } else {
            exec_reply_syntax_error(ctx);
            return;
        }
    }
    struct kv *list;
    if (!lookup_list(ctx, 1, false, &list))
        return;
    if (list == NULL) {
        if (count != -1)
            resp_add_array(ctx->out, 0);
        else
            resp_add_null(ctx->out);
        return;
    }
    /* A negative rank searches from the tail. Redis 7.0 negates it in a
     * long, so RANK -9223372036854775808 stays negative and matches the
     * first element found: the same as RANK -1. */
    bool forward = rank > 0;
    if (rank == LLONG_MIN)
        rank = 1;
    else if (rank < 0)
        rank = -rank;
    struct quicklist *ql = list_of(list);
    long long len = (long long)quicklist_count(ql);
    size_t token = 0;
    if (count != -1)
        token = resp_begin_deferred(ctx->out);
    long long matches = 0, found = 0, match_index = -1;
    struct quicklist_iter it;
    quicklist_iter_init(&it, ql, forward ? 0 : -1, forward);
    for (long long i = 0; !quicklist_iter_done(&it) && (maxlen == 0 || i < maxlen);
         i++, quicklist_iter_next(&it)) {
        if (!quicklist_iter_equal(&it, ctx->argv[2], ctx->argvlen[2]) || ++matches < rank)
            continue;
        long long index = forward ? i : len - i - 1;
        if (count == -1) {
            match_index = index;
            break;
        }
        resp_add_int(ctx->out, index);
        found++;
        if (count != 0 && found >= count)
            break;
    }
    if (count != -1)
        resp_end_deferred(ctx->out, token, '*', found);
    else if (match_index >= 0)
        resp_add_int(ctx->out, match_index);
    else
        resp_add_null(ctx->out);
}

/* ---- Edits ---- */

void cmd_lset(struct exec_ctx *ctx) {
    struct kv *list = db_lookup_write(ctx, ctx->argv[1], ctx->argvlen[1]);
    if (list == NULL) {
        resp_add_error(ctx->out, "ERR no such key");
        return;
    }
    if (list->type != OBJ_LIST) {
        exec_reply_wrongtype(ctx);
        return;
    }
    long long index;
    if (!exec_arg_ll(ctx, 2, &index))
        return;
    long long count = (long long)quicklist_count(list_of(list));
    if (index >= count || index < -count) {
        resp_add_error(ctx->out, "ERR index out of range");
        return;
    }
    struct quicklist_iter it;
    quicklist_iter_init(&it, list_of(list), (long)index, true);
    if (quicklist_iter_replace(&it, ctx->argv[3], ctx->argvlen[3]) != 0) {
        exec_reply_oom(ctx);
        return;
    }
    db_touch_modified(ctx, ctx->argv[1], ctx->argvlen[1]);
    notify_list(ctx, "lset", 1);
    exec_reply_ok(ctx);
}

/* LINSERT key BEFORE|AFTER pivot element: the new length, 0 for a missing
 * key, -1 when the pivot is absent. */
void cmd_linsert(struct exec_ctx *ctx) {
    bool after;
    if (exec_arg_is(ctx, 2, "after"))
        after = true;
    else if (exec_arg_is(ctx, 2, "before"))
        after = false;
    else {
        exec_reply_syntax_error(ctx);
        return;
    }
    struct kv *list;
    if (!lookup_list(ctx, 1, true, &list))
        return;
    if (list == NULL) {
        resp_add_int(ctx->out, 0);
        return;
    }
    struct quicklist *ql = list_of(list);
    struct quicklist_iter it;
    quicklist_iter_init(&it, ql, 0, true);
    while (!quicklist_iter_done(&it) && !quicklist_iter_equal(&it, ctx->argv[3], ctx->argvlen[3]))
        quicklist_iter_next(&it);
    if (quicklist_iter_done(&it)) {
        resp_add_int(ctx->out, -1);
        return;
    }
    if (quicklist_iter_insert(&it, after, ctx->argv[4], ctx->argvlen[4]) != 0) {
        exec_reply_oom(ctx);
        return;
    }
    db_touch_modified(ctx, ctx->argv[1], ctx->argvlen[1]);
    notify_list(ctx, "linsert", 1);
    resp_add_int(ctx->out, (long long)quicklist_count(ql));
}

/* LREM key count element: count > 0 removes from the head, < 0 from the
 * tail, 0 every occurrence. */
void cmd_lrem(struct exec_ctx *ctx) {
    long long count;
    if (!exec_arg_ll(ctx, 2, &count))
        return;
    struct kv *list;
    if (!lookup_list(ctx, 1, true, &list))
        return;
    if (list == NULL) {
        resp_add_int(ctx->out, 0);
        return;
    }
    bool forward = count >= 0;
    unsigned long long limit = count == LLONG_MIN ? (unsigned long long)LLONG_MAX + 1
                               : count < 0        ? (unsigned long long)-count
                                                  : (unsigned long long)count;
    struct quicklist_iter it;
    quicklist_iter_init(&it, list_of(list), forward ? 0 : -1, forward);
    long long removed = 0;
    while (!quicklist_iter_done(&it)) {
        if (quicklist_iter_equal(&it, ctx->argv[3], ctx->argvlen[3])) {
            quicklist_iter_delete(&it);
            removed++;
            if (limit != 0 && (unsigned long long)removed == limit)
                break;
        } else {
            quicklist_iter_next(&it);
        }
    }
    if (removed > 0)
        elements_removed(ctx, list, 1, "lrem");
    resp_add_int(ctx->out, removed);
}

void cmd_ltrim(struct exec_ctx *ctx) {
    long long start, end;
    if (!exec_arg_ll(ctx, 2, &start) || !exec_arg_ll(ctx, 3, &end))
        return;
    struct kv *list;
    if (!lookup_list(ctx, 1, true, &list))
        return;
    if (list == NULL) {
        exec_reply_ok(ctx);
        return;
    }
    struct quicklist *ql = list_of(list);
    long long len = (long long)quicklist_count(ql);
    long long ltrim = len, rtrim = 0;
    if (num_clamp_range(len, &start, &end)) {
        ltrim = start;
        rtrim = len - end - 1;
    }
    quicklist_delete_range(ql, 0, (size_t)ltrim);
    quicklist_delete_range(ql, quicklist_count(ql) - (size_t)rtrim, (size_t)rtrim);
    elements_removed(ctx, list, 1, "ltrim");
    exec_reply_ok(ctx);
}
