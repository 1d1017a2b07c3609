/* Sorted-set commands (ZADD ... ZSCAN) with Redis 7.0's replies and errors:
 * argument and range parsing, the ZRANGE family's result handling, the pops
 * (ZPOPMIN/ZPOPMAX/ZMPOP and, parked through node/blocking when nothing is
 * there, BZPOPMIN/BZPOPMAX/BZMPOP), and the set algebra of
 * ZUNION/ZINTER/ZDIFF(STORE)/ZINTERCARD. Data structures are storage/zset's. */
#include "node/blocking.h"
#include "node/cmd_handlers.h"
#include "node/collscan.h"
#include "node/command.h"
#include "node/config.h"
#include "node/db.h"
#include "node/exec.h"
#include "node/notify.h"
#include "node/randpick.h"
#include "storage/num.h"
#include "storage/set.h"
#include "storage/zset.h"

#include <ctype.h>
#include <errno.h>
#include <limits.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#define ERR_NOT_FLOAT  "ERR value is not a valid float"
#define ERR_RANGE      "ERR min or max is not a float"
#define ERR_LEX_RANGE  "ERR min or max not valid string range item"
#define ERR_NAN_RESULT "ERR resulting score is not a number (NaN)"

static struct zset_limits zset_limits(void) {
    struct zset_limits lim = {(size_t)cfg.zset_max_listpack_entries,
                              (size_t)cfg.zset_max_listpack_value};
    return lim;
}

/* Looks argv['i'] up for reading. Returns false after replying WRONGTYPE;
 * otherwise '*kv' is the sorted set or NULL. */
static bool read_zset(struct exec_ctx *ctx, int i, struct kv **kv) {
    *kv = db_lookup_read(ctx, ctx->argv[i], ctx->argvlen[i]);
    if (*kv != NULL && (*kv)->type != OBJ_ZSET) {
        exec_reply_wrongtype(ctx);
        return false;
    }
    return true;
}

static bool write_zset(struct exec_ctx *ctx, int i, struct kv **kv) {
    *kv = db_lookup_write(ctx, ctx->argv[i], ctx->argvlen[i]);
    if (*kv != NULL && (*kv)->type != OBJ_ZSET) {
        exec_reply_wrongtype(ctx);
        return false;
    }
    return true;
}

/* After removing members from the set at argv['i']: sends 'event', then
 * deletes the key with a "del" event when it became empty, else marks it
 * modified (Redis 7.0 ZREM, ZREMRANGEBY*, the pops). */
static void after_removal(struct exec_ctx *ctx, int i, struct kv *kv, size_t removed,
                          const char *event) {
    if (removed == 0)
        return;
    notify_keyspace_event(ctx, NOTIFY_ZSET, event, ctx->argv[i], ctx->argvlen[i]);
    if (zset_len(kv) == 0) {
        db_delete(ctx, ctx->argv[i], ctx->argvlen[i]);
        notify_keyspace_event(ctx, NOTIFY_GENERIC, "del", ctx->argv[i], ctx->argvlen[i]);
    } else {
        db_touch_modified(ctx, ctx->argv[i], ctx->argvlen[i]);
    }
}

/* Deletes the destination argv['i'] of a store whose result is empty, with
 * a "del" event if it existed. */
static void delete_destination(struct exec_ctx *ctx, int i) {
    if (db_delete(ctx, ctx->argv[i], ctx->argvlen[i]))
        notify_keyspace_event(ctx, NOTIFY_GENERIC, "del", ctx->argv[i], ctx->argvlen[i]);
}

/* ---- Number and range parsing ---- */

/* strtod over a NUL-terminated copy of 's'/'len'. '*end_at_nul' tells
 * whether it consumed everything up to the first NUL byte, '*whole' whether
 * it consumed all 'len' bytes without overflow or underflow to zero. */
static double strtod_copy(const char *s, size_t len, bool *end_at_nul, bool *whole) {
    char small[128];
    char *buf = len < sizeof(small) ? small : malloc(len + 1);
    if (buf == NULL) {
        *end_at_nul = *whole = false;
        return 0;
    }
    memcpy(buf, s, len);
    buf[len] = '\0';
    char *end;
    errno = 0;
    double v = strtod(buf, &end);
    bool range_error = errno == ERANGE && (v == HUGE_VAL || v == -HUGE_VAL || v == 0);
    *end_at_nul = *end == '\0';
    *whole = (size_t)(end - buf) == len && !range_error;
    if (buf != small)
        free(buf);
    return v;
}

/* Redis's getDoubleFromObject: the whole string, no leading space, no
 * overflow, no NaN. */
static bool parse_double(const char *s, size_t len, double *out) {
    if (len == 0 || isspace((unsigned char)s[0]))
        return false;
    bool at_nul, whole;
    double v = strtod_copy(s, len, &at_nul, &whole);
    if (!whole || isnan(v))
        return false;
    *out = v;
    return true;
}

static bool arg_double(struct exec_ctx *ctx, int i, double *out, const char *err) {
    if (parse_double(ctx->argv[i], ctx->argvlen[i], out))
        return true;
    resp_add_error(ctx->out, err);
    return false;
}

/* One end of Redis's zslParseRange: strtod up to the first NUL, "(" for
 * exclusive; an empty string reads as 0, as in Redis. */
static bool parse_score_bound(const char *s, size_t len, double *v, bool *ex) {
    *ex = len > 0 && s[0] == '(';
    if (*ex) {
        s++;
        len--;
    }
    bool at_nul, whole;
    *v = strtod_copy(s, len, &at_nul, &whole);
    return at_nul && !isnan(*v);
}

static bool parse_score_range(struct exec_ctx *ctx, int min_i, int max_i, struct zscore_range *r) {
    if (parse_score_bound(ctx->argv[min_i], ctx->argvlen[min_i], &r->min, &r->minex) &&
        parse_score_bound(ctx->argv[max_i], ctx->argvlen[max_i], &r->max, &r->maxex))
        return true;
    resp_add_error(ctx->out, ERR_RANGE);
    return false;
}

/* Redis's zslParseLexRangeItem: "-", "+", "(x" or "[x". */
static bool parse_lex_bound(const char *s, size_t len, struct zlex_bound *b) {
    if (len == 0)
        return false;
    b->p = s + 1;
    b->len = len - 1;
    switch (s[0]) {
    case '+':
        b->kind = ZLEX_POS_INF;
        return len == 1;
    case '-':
        b->kind = ZLEX_NEG_INF;
        return len == 1;
    case '(':
        b->kind = ZLEX_EXCL;
        return true;
    case '[':
        b->kind = ZLEX_INCL;
        return true;
    default:
        return false;
    }
}

static bool parse_lex_range(struct exec_ctx *ctx, int min_i, int max_i, struct zlex_range *r) {
    if (parse_lex_bound(ctx->argv[min_i], ctx->argvlen[min_i], &r->min) &&
        parse_lex_bound(ctx->argv[max_i], ctx->argvlen[max_i], &r->max))
        return true;
    resp_add_error(ctx->out, ERR_LEX_RANGE);
    return false;
}

/* getRangeLongFromObjectOrReply: 'msg' (if not NULL) replaces both the
 * "not an integer" and the range error, as in Redis. */
static bool arg_long_range(struct exec_ctx *ctx, int i, long long min, long long max,
                           long long *out, const char *msg) {
    long long v;
    if (!obj_parse_ll(ctx->argv[i], ctx->argvlen[i], &v)) {
        resp_add_error(ctx->out, msg ? msg : "ERR value is not an integer or out of range");
        return false;
    }
    if (v < min || v > max) {
        if (msg)
            resp_add_error(ctx->out, msg);
        else
            resp_add_errorf(ctx->out, "ERR value is out of range, value must between %lld and %lld",
                            min, max);
        return false;
    }
    *out = v;
    return true;
}

/* getPositiveLongFromObjectOrReply: one message for every failure. */
static bool arg_positive(struct exec_ctx *ctx, int i, long long *out, const char *msg) {
    return arg_long_range(ctx, i, 0, LONG_MAX, out,
                          msg ? msg : "ERR value is out of range, must be positive");
}

/* ---- ZADD ZINCRBY ---- */

/* Redis 7.0 zaddGenericCommand. */
static void zadd_generic(struct exec_ctx *ctx, int in_flags) {
    int scoreidx = 2;
    bool ch = false;
    for (; scoreidx < ctx->argc; scoreidx++) {
        if (exec_arg_is(ctx, scoreidx, "nx"))
            in_flags |= ZADD_IN_NX;
        else if (exec_arg_is(ctx, scoreidx, "xx"))
            in_flags |= ZADD_IN_XX;
        else if (exec_arg_is(ctx, scoreidx, "ch"))
            ch = true;
        else if (exec_arg_is(ctx, scoreidx, "incr"))
            in_flags |= ZADD_IN_INCR;
        else if (exec_arg_is(ctx, scoreidx, "gt"))
            in_flags |= ZADD_IN_GT;
        else if (exec_arg_is(ctx, scoreidx, "lt"))
            in_flags |= ZADD_IN_LT;
        else
            break;
    }
    bool incr = in_flags & ZADD_IN_INCR, nx = in_flags & ZADD_IN_NX;
    bool xx = in_flags & ZADD_IN_XX, gt = in_flags & ZADD_IN_GT, lt = in_flags & ZADD_IN_LT;
    int args = ctx->argc - scoreidx;
    if (args % 2 || args == 0) {
        exec_reply_syntax_error(ctx);
        return;
    }
    size_t elements = (size_t)args / 2;
    if (nx && xx) {
        resp_add_error(ctx->out, "ERR XX and NX options at the same time are not compatible");
        return;
    }
    if ((gt && nx) || (lt && nx) || (gt && lt)) {
        resp_add_error(ctx->out,
                       "ERR GT, LT, and/or NX options at the same time are not compatible");
        return;
    }
    if (incr && elements > 1) {
        resp_add_error(ctx->out, "ERR INCR option supports a single increment-element pair");
        return;
    }
    double *scores = malloc(elements * sizeof(*scores));
    if (scores == NULL) {
        exec_reply_oom(ctx);
        return;
    }
    for (size_t j = 0; j < elements; j++) {
        if (!arg_double(ctx, scoreidx + (int)j * 2, &scores[j], ERR_NOT_FLOAT)) {
            free(scores);
            return;
        }
    }

    struct kv *kv;
    if (!write_zset(ctx, 1, &kv)) {
        free(scores);
        return;
    }
    struct zset_limits lim = zset_limits();
    long long added = 0, updated = 0, processed = 0;
    double score = 0;
    bool created = false;
    int rc = 0;
    if (kv == NULL && !xx) {
        kv = zset_new(ctx->argv[1], ctx->argvlen[1], elements, ctx->argvlen[scoreidx + 1], &lim);
        created = true;
        if (kv == NULL)
            rc = -1;
    }
    bool nan_error = false;
    for (size_t j = 0; kv != NULL && rc == 0 && j < elements; j++) {
        int i = scoreidx + 1 + (int)j * 2;
        int out_flags;
        double newscore = 0;
        rc = zset_add(kv, scores[j], ctx->argv[i], ctx->argvlen[i], in_flags, &out_flags, &newscore,
                      &lim);
        if (rc != 0)
            break;
        if (out_flags & ZADD_OUT_NAN) {
            nan_error = true;
            break;
        }
        if (out_flags & ZADD_OUT_ADDED)
            added++;
        if (out_flags & ZADD_OUT_UPDATED)
            updated++;
        if (!(out_flags & ZADD_OUT_NOP)) {
            processed++;
            score = newscore;
        }
    }
    free(scores);
    if (created && kv != NULL) {
        if (zset_len(kv) == 0) {
            kv_free(kv);
        } else if (!db_set(ctx, kv)) {
            return;
        }
    } else if (added || updated) {
        db_touch_modified(ctx, ctx->argv[1], ctx->argvlen[1]);
    }
    if (added || updated)
        notify_keyspace_event(ctx, NOTIFY_ZSET, incr ? "zincr" : "zadd", ctx->argv[1],
                              ctx->argvlen[1]);
    if (rc != 0)
        exec_reply_oom(ctx);
    else if (nan_error)
        resp_add_error(ctx->out, ERR_NAN_RESULT);
    else if (incr && processed)
        resp_add_double(ctx->out, score);
    else if (incr)
        resp_add_null(ctx->out);
    else
        resp_add_int(ctx->out, ch ? added + updated : added);
}

void cmd_zadd(struct exec_ctx *ctx) {
    zadd_generic(ctx, 0);
}

void cmd_zincrby(struct exec_ctx *ctx) {
    zadd_generic(ctx, ZADD_IN_INCR);
}

/* ---- ZREM ZSCORE ZMSCORE ZCARD ZRANK ---- */

void cmd_zrem(struct exec_ctx *ctx) {
    struct kv *kv;
    if (!write_zset(ctx, 1, &kv))
        return;
    size_t deleted = 0;
    for (int i = 2; kv != NULL && i < ctx->argc; i++) {
        if (zset_delete(kv, ctx->argv[i], ctx->argvlen[i]))
            deleted++;
        if (zset_len(kv) == 0)
            break;
    }
    if (kv != NULL)
        after_removal(ctx, 1, kv, deleted, "zrem");
    resp_add_int(ctx->out, (long long)deleted);
}

void cmd_zscore(struct exec_ctx *ctx) {
    struct kv *kv;
    if (!read_zset(ctx, 1, &kv))
        return;
    double score;
    if (kv != NULL && zset_score(kv, ctx->argv[2], ctx->argvlen[2], &score))
        resp_add_double(ctx->out, score);
    else
        resp_add_null(ctx->out);
}

void cmd_zmscore(struct exec_ctx *ctx) {
    struct kv *kv;
    if (!read_zset(ctx, 1, &kv))
        return;
    resp_add_array(ctx->out, ctx->argc - 2);
    for (int i = 2; i < ctx->argc; i++) {
        double score;
        if (kv != NULL && zset_score(kv, ctx->argv[i], ctx->argvlen[i], &score))
            resp_add_double(ctx->out, score);
        else
            resp_add_null(ctx->out);
    }
}

void cmd_zcard(struct exec_ctx *ctx) {
    struct kv *kv;
    if (read_zset(ctx, 1, &kv))
        resp_add_int(ctx->out, kv ? (long long)zset_len(kv) : 0);
}

static void zrank_generic(struct exec_ctx *ctx, bool reverse) {
    struct kv *kv;
    if (!read_zset(ctx, 1, &kv))
        return;
    size_t rank;
    if (kv != NULL && zset_rank(kv, ctx->argv[2], ctx->argvlen[2], reverse, &rank))
        resp_add_int(ctx->out, (long long)rank);
    else
        resp_add_null(ctx->out);
}

void cmd_zrank(struct exec_ctx *ctx) {
    zrank_generic(ctx, false);
}

void cmd_zrevrank(struct exec_ctx *ctx) {
    zrank_generic(ctx, true);
}

/* ---- ZCOUNT ZLEXCOUNT ---- */

void cmd_zcount(struct exec_ctx *ctx) {
    struct zscore_range r;
    if (!parse_score_range(ctx, 2, 3, &r))
        return;
    struct kv *kv;
    if (read_zset(ctx, 1, &kv))
        resp_add_int(ctx->out, kv ? (long long)zset_count_score(kv, &r) : 0);
}

void cmd_zlexcount(struct exec_ctx *ctx) {
    struct zlex_range r;
    if (!parse_lex_range(ctx, 2, 3, &r))
        return;
    struct kv *kv;
    if (read_zset(ctx, 1, &kv))
        resp_add_int(ctx->out, kv ? (long long)zset_count_lex(kv, &r) : 0);
}

/* ---- ZREMRANGEBY* ---- */

enum range_type { RANGE_AUTO, RANGE_RANK, RANGE_SCORE, RANGE_LEX };

static void zremrange_generic(struct exec_ctx *ctx, enum range_type type) {
    long long start = 0, end = 0;
    struct zscore_range sr;
    struct zlex_range lr;
    if (type == RANGE_RANK && (!exec_arg_ll(ctx, 2, &start) || !exec_arg_ll(ctx, 3, &end)))
        return;
    if (type == RANGE_SCORE && !parse_score_range(ctx, 2, 3, &sr))
        return;
    if (type == RANGE_LEX && !parse_lex_range(ctx, 2, 3, &lr))
        return;
    struct kv *kv;
    if (!write_zset(ctx, 1, &kv))
        return;
    if (kv == NULL) {
        resp_add_int(ctx->out, 0);
        return;
    }
    size_t removed = 0;
    if (type == RANGE_RANK) {
        if (num_clamp_range((long long)zset_len(kv), &start, &end))
            removed = zset_delete_rank_range(kv, (size_t)start, (size_t)end);
    } else if (type == RANGE_SCORE) {
        removed = zset_delete_score_range(kv, &sr);
    } else {
        removed = zset_delete_lex_range(kv, &lr);
    }
    static const char *const events[] = {
        [RANGE_RANK] = "zremrangebyrank",
        [RANGE_SCORE] = "zremrangebyscore",
        [RANGE_LEX] = "zremrangebylex",
    };
    after_removal(ctx, 1, kv, removed, events[type]);
    resp_add_int(ctx->out, (long long)removed);
}

void cmd_zremrangebyrank(struct exec_ctx *ctx) {
    zremrange_generic(ctx, RANGE_RANK);
}

void cmd_zremrangebyscore(struct exec_ctx *ctx) {
    zremrange_generic(ctx, RANGE_SCORE);
}

void cmd_zremrangebylex(struct exec_ctx *ctx) {
    zremrange_generic(ctx, RANGE_LEX);
}

/* ---- ZRANGE family ---- */

/* Where a range's results go: the client (with or without scores), or a
 * new sorted set for ZRANGESTORE. */
struct range_sink {
    struct exec_ctx *ctx;
    bool store;
    bool withscores;
    struct kv *dst; /* store: the result under construction */
    int rc;         /* store: first allocation failure */
    size_t token;   /* client, unknown length: deferred header */
    bool deferred;
    size_t count;
};

static void sink_begin(struct range_sink *s, long long length) {
    s->count = 0;
    if (s->store) {
        struct zset_limits lim = zset_limits();
        const char *key = s->ctx->argv[1];
        size_t keylen = s->ctx->argvlen[1];
        s->dst = zset_new(key, keylen, length >= 0 ? (size_t)length : 0, 0, &lim);
        s->rc = s->dst == NULL ? -1 : 0;
        return;
    }
    bool pairs_flat = s->withscores && s->ctx->out->proto == 2;
    s->deferred = length <= 0;
    if (s->deferred)
        s->token = resp_begin_deferred(s->ctx->out);
    else
        resp_add_array(s->ctx->out, pairs_flat ? length * 2 : length);
}

static void sink_emit(struct range_sink *s, const struct zset_member *m) {
    s->count++;
    if (s->store) {
        if (s->rc != 0)
            return;
        struct zset_limits lim = zset_limits();
        int out_flags;
        double newscore;
        s->rc = zset_add(s->dst, m->score, m->p, m->len, 0, &out_flags, &newscore, &lim);
        return;
    }
    struct resp_out *out = s->ctx->out;
    if (s->withscores && out->proto > 2)
        resp_add_array(out, 2);
    resp_add_bulk(out, m->p, m->len);
    if (s->withscores)
        resp_add_double(out, m->score);
}

/* Redis's zrangeResultFinalizeStore / the client's deferred length. */
static void sink_finish(struct range_sink *s) {
    struct exec_ctx *ctx = s->ctx;
    if (!s->store) {
        if (s->deferred) {
            bool pairs_flat = s->withscores && ctx->out->proto == 2;
            long long n = (long long)s->count;
            resp_end_deferred(ctx->out, s->token, '*', pairs_flat ? n * 2 : n);
        }
        return;
    }
    if (s->rc != 0) {
        if (s->dst)
            kv_free(s->dst);
        exec_reply_oom(ctx);
        return;
    }
    if (s->count > 0) {
        if (!db_set(ctx, s->dst))
            return;
        notify_keyspace_event(ctx, NOTIFY_ZSET, "zrangestore", ctx->argv[1], ctx->argvlen[1]);
        resp_add_int(ctx->out, (long long)zset_len(s->dst));
        return;
    }
    kv_free(s->dst);
    resp_add_int(ctx->out, 0);
    delete_destination(ctx, 1);
}

static void range_by_rank(struct range_sink *s, struct kv *kv, long long start, long long end,
                          bool reverse) {
    if (!num_clamp_range((long long)zset_len(kv), &start, &end)) {
        sink_begin(s, 0);
        sink_finish(s);
        return;
    }
    long long n = end - start + 1;
    sink_begin(s, n);
    struct zset_iter it;
    zset_iter_at_rank(&it, kv, (size_t)start, reverse);
    for (; n > 0 && zset_iter_valid(&it); n--, zset_iter_next(&it)) {
        struct zset_member m;
        zset_iter_get(&it, &m);
        sink_emit(s, &m);
    }
    sink_finish(s);
}

/* BYSCORE and BYLEX: skip 'offset' members (a negative offset walks off
 * the end, as in Redis), then emit up to 'limit' (negative: all) while in
 * range. */
static void range_by_bounds(struct range_sink *s, struct kv *kv, enum range_type type,
                            const struct zscore_range *sr, const struct zlex_range *lr,
                            long long offset, long long limit, bool reverse) {
    if (offset > 0 && (unsigned long long)offset >= zset_len(kv)) {
        sink_begin(s, 0);
        sink_finish(s);
        return;
    }
    sink_begin(s, -1);
    struct zset_iter it;
    if (type == RANGE_SCORE)
        zset_iter_at_score(&it, kv, sr, reverse);
    else
        zset_iter_at_lex(&it, kv, lr, reverse);
    while (zset_iter_valid(&it) && offset-- != 0)
        zset_iter_next(&it);
    for (; zset_iter_valid(&it) && limit-- != 0; zset_iter_next(&it)) {
        struct zset_member m;
        zset_iter_get(&it, &m);
        bool inside;
        if (type == RANGE_SCORE)
            inside = reverse ? zscore_gte_min(m.score, sr) : zscore_lte_max(m.score, sr);
        else
            inside = reverse ? zlex_gte_min(m.p, m.len, lr) : zlex_lte_max(m.p, m.len, lr);
        if (!inside)
            break;
        sink_emit(s, &m);
    }
    sink_finish(s);
}

/* Redis 7.0 zrangeGenericCommand: 'first' is the source key's index. */
static void zrange_generic(struct exec_ctx *ctx, int first, bool store, enum range_type type,
                           int direction /* 0 auto, 1 forward, -1 reverse */) {
    int minidx = first + 1, maxidx = first + 2;
    bool withscores = false;
    long long offset = 0, limit = -1;
    for (int j = first + 3; j < ctx->argc; j++) {
        int left = ctx->argc - j - 1;
        if (!store && exec_arg_is(ctx, j, "withscores")) {
            withscores = true;
        } else if (exec_arg_is(ctx, j, "limit") && left >= 2) {
            if (!exec_arg_ll(ctx, j + 1, &offset) || !exec_arg_ll(ctx, j + 2, &limit))
                return;
            j += 2;
        } else if (direction == 0 && exec_arg_is(ctx, j, "rev")) {
            direction = -1;
        } else if (type == RANGE_AUTO && exec_arg_is(ctx, j, "bylex")) {
            type = RANGE_LEX;
        } else if (type == RANGE_AUTO && exec_arg_is(ctx, j, "byscore")) {
            type = RANGE_SCORE;
        } else {
            exec_reply_syntax_error(ctx);
            return;
        }
    }
    bool reverse = direction == -1;
    if (type == RANGE_AUTO)
        type = RANGE_RANK;
    if (limit != -1 && type == RANGE_RANK) {
        resp_add_error(ctx->out, "ERR syntax error, LIMIT is only supported in combination "
                                 "with either BYSCORE or BYLEX");
        return;
    }
    if (withscores && type == RANGE_LEX) {
        resp_add_error(ctx->out,
                       "ERR syntax error, WITHSCORES not supported in combination with BYLEX");
        return;
    }
    if (reverse && type != RANGE_RANK) {
        int tmp = maxidx;
        maxidx = minidx;
        minidx = tmp;
    }
    long long start = 0, end = 0;
    struct zscore_range sr;
    struct zlex_range lr;
    if (type == RANGE_RANK &&
        (!exec_arg_ll(ctx, minidx, &start) || !exec_arg_ll(ctx, maxidx, &end)))
        return;
    if (type == RANGE_SCORE && !parse_score_range(ctx, minidx, maxidx, &sr))
        return;
    if (type == RANGE_LEX && !parse_lex_range(ctx, minidx, maxidx, &lr))
        return;

    struct range_sink sink = {.ctx = ctx, .store = store, .withscores = withscores || store};
    struct kv *kv = db_lookup_read(ctx, ctx->argv[first], ctx->argvlen[first]);
    if (kv == NULL) {
        if (store) {
            sink_begin(&sink, -1);
            sink_finish(&sink);
        } else {
            resp_add_array(ctx->out, 0);
        }
        return;
    }
    if (kv->type != OBJ_ZSET) {
        exec_reply_wrongtype(ctx);
        return;
    }
    if (type == RANGE_RANK)
        range_by_rank(&sink, kv, start, end, reverse);
    else
        range_by_bounds(&sink, kv, type, &sr, &lr, offset, limit, reverse);
}

void cmd_zrange(struct exec_ctx *ctx) {
    zrange_generic(ctx, 1, false, RANGE_AUTO, 0);
}

void cmd_zrangestore(struct exec_ctx *ctx) {
    zrange_generic(ctx, 2, true, RANGE_AUTO, 0);
}

void cmd_zrevrange(struct exec_ctx *ctx) {
    zrange_generic(ctx, 1, false, RANGE_RANK, -1);
}

void cmd_zrangebyscore(struct exec_ctx *ctx) {
    zrange_generic(ctx, 1, false, RANGE_SCORE, 1);
}

void cmd_zrevrangebyscore(struct exec_ctx *ctx) {
    zrange_generic(ctx, 1, false, RANGE_SCORE, -1);
}

void cmd_zrangebylex(struct exec_ctx *ctx) {
    zrange_generic(ctx, 1, false, RANGE_LEX, 1);
}

void cmd_zrevrangebylex(struct exec_ctx *ctx) {
    zrange_generic(ctx, 1, false, RANGE_LEX, -1);
}

/* ---- ZPOPMIN ZPOPMAX ZMPOP and the blocking BZPOPMIN BZPOPMAX BZMPOP ---- */

/* One pop request: Redis 7.0 genericZpopCommand's parameters, plus the
 * timeout argument of the blocking forms. */
struct zpop_args {
    int first, keyc;     /* the keys: argv[first .. first+keyc-1], tried in order */
    bool max;            /* pop the highest scores */
    long long count;     /* -1: one member, replied flat */
    bool emitkey;        /* reply starts with the key popped from */
    bool nested;         /* members as [member, score] pairs */
    bool nil_when_empty; /* nothing to pop: nil array, not an empty array */
    int timeout_arg;     /* blocking forms: the timeout's index; 0 otherwise */
};

/* Replies with up to 'count' members popped from the non-empty set 'kv'
 * at argv['keyidx'], in genericZpopCommand's four reply shapes. */
static void pop_members(struct exec_ctx *ctx, const struct zpop_args *a, int keyidx,
                        struct kv *kv) {
    long long count = a->count == -1 ? 1 : a->count;
    long long len = (long long)zset_len(kv);
    long long n = count > len ? len : count;
    struct resp_out *out = ctx->out;
    if (!a->emitkey) {
        resp_add_array(out, a->nested ? n : n * 2);
    } else if (!a->nested) {
        resp_add_array(out, n * 2 + 1);
        resp_add_bulk(out, ctx->argv[keyidx], ctx->argvlen[keyidx]);
    } else {
        resp_add_array(out, 2);
        resp_add_bulk(out, ctx->argv[keyidx], ctx->argvlen[keyidx]);
        resp_add_array(out, n);
    }
    for (long long i = 0; i < n; i++) {
        struct zset_iter it;
        struct zset_member m;
        zset_iter_at_rank(&it, kv, 0, a->max);
        zset_iter_get(&it, &m);
        if (a->nested)
            resp_add_array(out, 2);
        resp_add_bulk(out, m.p, m.len);
        resp_add_double(out, m.score);
        size_t rank = a->max ? zset_len(kv) - 1 : 0;
        zset_delete_rank_range(kv, rank, rank);
    }
    after_removal(ctx, keyidx, kv, (size_t)n, a->max ? "zpopmax" : "zpopmin");
}

/* Pops from the first non-empty key, checking types in key order up to it
 * (Redis 7.0 genericZpopCommand / blockingGenericZpopCommand). The blocking
 * forms parse their timeout first and, finding nothing, wait for the keys. */
static void zpop_generic(struct exec_ctx *ctx, const struct zpop_args *a) {
    int64_t deadline = 0;
    if (a->timeout_arg != 0 && (deadline = blocking_parse_timeout(ctx, a->timeout_arg)) < 0)
        return;
    for (int keyidx = a->first; keyidx < a->first + a->keyc; keyidx++) {
        struct kv *kv;
        if (!write_zset(ctx, keyidx, &kv))
            return;
        if (kv == NULL)
            continue;
        if (a->count == 0)
            resp_add_array(ctx->out, 0);
        else
            pop_members(ctx, a, keyidx, kv);
        return;
    }
    if (a->timeout_arg != 0)
        blocking_wait_keys(ctx, a->first, a->keyc, deadline, BLOCKING_REPLY_NULL_ARRAY, OBJ_ZSET);
    else if (a->nil_when_empty)
        resp_add_null_array(ctx->out);
    else
        resp_add_array(ctx->out, 0);
}

/* ZPOPMIN/ZPOPMAX key [count]: RESP3 nests the pairs only with a count. */
static void zpop_minmax(struct exec_ctx *ctx, bool max) {
    if (ctx->argc > 3) {
        exec_reply_syntax_error(ctx);
        return;
    }
    long long count = -1;
    if (ctx->argc == 3 && !arg_positive(ctx, 2, &count, NULL))
        return;
    struct zpop_args a = {.first = 1,
                          .keyc = 1,
                          .max = max,
                          .count = count,
                          .nested = ctx->out->proto > 2 && count != -1};
    zpop_generic(ctx, &a);
}

void cmd_zpopmin(struct exec_ctx *ctx) {
    zpop_minmax(ctx, false);
}

void cmd_zpopmax(struct exec_ctx *ctx) {
    zpop_minmax(ctx, true);
}

/* BZPOPMIN/BZPOPMAX key [key ...] timeout: [key, member, score]. */
static void bzpop_minmax(struct exec_ctx *ctx, bool max) {
    struct zpop_args a = {.first = 1,
                          .keyc = ctx->argc - 2,
                          .max = max,
                          .count = -1,
                          .emitkey = true,
                          .timeout_arg = ctx->argc - 1};
    zpop_generic(ctx, &a);
}

void cmd_bzpopmin(struct exec_ctx *ctx) {
    bzpop_minmax(ctx, false);
}

void cmd_bzpopmax(struct exec_ctx *ctx) {
    bzpop_minmax(ctx, true);
}

/* ZMPOP/BZMPOP: [timeout] numkeys key [key ...] MIN|MAX [COUNT count]
 * replies [key, [[member, score] ...]] or a nil array. Redis 7.0
 * zmpopGenericCommand: numkeys, MIN|MAX and COUNT are checked before the
 * timeout. */
static void zmpop_generic(struct exec_ctx *ctx, int numkeys_arg, bool blocking) {
    long long numkeys;
    if (!arg_long_range(ctx, numkeys_arg, 1, LONG_MAX, &numkeys,
                        "ERR numkeys should be greater than 0"))
        return;
    if (numkeys >= ctx->argc - numkeys_arg - 1) {
        exec_reply_syntax_error(ctx);
        return;
    }
    int where = numkeys_arg + 1 + (int)numkeys;
    bool max;
    if (exec_arg_is(ctx, where, "min")) {
        max = false;
    } else if (exec_arg_is(ctx, where, "max")) {
        max = true;
    } else {
        exec_reply_syntax_error(ctx);
        return;
    }
    long long count = -1;
    for (int j = where + 1; j < ctx->argc; j++) {
        if (count == -1 && exec_arg_is(ctx, j, "count") && j + 1 < ctx->argc) {
            j++;
            if (!arg_long_range(ctx, j, 1, LONG_MAX, &count, "ERR count should be greater than 0"))
                return;
        } else {
            exec_reply_syntax_error(ctx);
            return;
        }
    }
    struct zpop_args a = {.first = numkeys_arg + 1,
                          .keyc = (int)numkeys,
                          .max = max,
                          .count = count == -1 ? 1 : count,
                          .emitkey = true,
                          .nested = true,
                          .nil_when_empty = true,
                          .timeout_arg = blocking ? 1 : 0};
    zpop_generic(ctx, &a);
}

void cmd_zmpop(struct exec_ctx *ctx) {
    zmpop_generic(ctx, 1, false);
}

void cmd_bzmpop(struct exec_ctx *ctx) {
    zmpop_generic(ctx, 2, true);
}

/* ---- ZUNION ZINTER ZDIFF (and STORE) ZINTERCARD ---- */

enum set_op { OP_UNION, OP_INTER, OP_DIFF };
enum aggregate { AGG_SUM, AGG_MIN, AGG_MAX };

/* An input of the algebra: a sorted set, a plain set (every score 1), or
 * a missing key (empty). */
struct algebra_src {
    struct kv *kv;
    double weight;
};

static size_t src_len(const struct algebra_src *s) {
    if (s->kv == NULL)
        return 0;
    return s->kv->type == OBJ_SET ? set_size(s->kv) : zset_len(s->kv);
}

static bool src_find(const struct algebra_src *s, const char *m, size_t len, double *score) {
    if (s->kv == NULL)
        return false;
    if (s->kv->type == OBJ_SET) {
        *score = 1.0;
        return set_contains(s->kv, m, len);
    }
    return zset_score(s->kv, m, len, score);
}

/* Walks a source: sorted sets by score, sets by position. */
struct src_walk {
    const struct algebra_src *src;
    size_t pos;
    struct zset_iter it;
    char buf[SET_INT_BUF];
};

/* Sorted sets are walked from the highest member down, as Redis's
 * zuiInitIterator does (so sums round the same way). */
static void walk_init(struct src_walk *w, const struct algebra_src *s) {
    w->src = s;
    w->pos = 0;
    if (s->kv != NULL && s->kv->type == OBJ_ZSET)
        zset_iter_at_rank(&w->it, s->kv, 0, true);
}

static bool walk_next(struct src_walk *w, struct zset_member *m) {
    const struct algebra_src *s = w->src;
    if (s->kv == NULL)
        return false;
    if (s->kv->type == OBJ_SET) {
        if (w->pos >= set_size(s->kv))
            return false;
        m->p = set_at(s->kv, w->pos++, w->buf, &m->len);
        m->score = 1.0;
        return true;
    }
    if (!zset_iter_valid(&w->it))
        return false;
    zset_iter_get(&w->it, m);
    zset_iter_next(&w->it);
    return true;
}

static void aggregate(double *target, double val, enum aggregate agg) {
    if (agg == AGG_SUM) {
        *target += val;
        if (isnan(*target)) /* inf + -inf: Redis makes it 0 */
            *target = 0.0;
    } else if (agg == AGG_MIN) {
        *target = val < *target ? val : *target;
    } else {
        *target = val > *target ? val : *target;
    }
}

static int cmp_by_len(const void *a, const void *b) {
    size_t la = src_len(a), lb = src_len(b);
    return la < lb ? -1 : la > lb ? 1 : 0;
}

/* Adds (m, score) to 'dst', or aggregates into its present score. */
static int accumulate(struct kv *dst, const struct zset_member *m, double score,
                      enum aggregate agg) {
    struct zset_limits unlimited = {SIZE_MAX, SIZE_MAX};
    double cur;
    if (zset_score(dst, m->p, m->len, &cur)) {
        aggregate(&cur, score, agg);
        score = cur;
    }
    int out_flags;
    double newscore;
    return zset_add(dst, score, m->p, m->len, 0, &out_flags, &newscore, &unlimited);
}

/* Computes the operation into 'dst' (a skiplist set); returns 0 or -1
 * (out of memory). With 'card_only', counts intersection members into
 * '*card' (stopping at 'limit' if not 0) instead. */
static int compute_algebra(struct algebra_src *src, int n, enum set_op op, enum aggregate agg,
                           struct kv *dst, bool card_only, long long limit, long long *card) {
    struct src_walk w;
    struct zset_member m;
    int rc = 0;
    if (op == OP_INTER) {
        if (src_len(&src[0]) == 0)
            return 0;
        walk_init(&w, &src[0]);
        while (rc == 0 && walk_next(&w, &m)) {
            double score = src[0].weight * m.score;
            if (isnan(score))
                score = 0;
            int j;
            for (j = 1; j < n; j++) {
                double value;
                if (src[j].kv == src[0].kv) {
                    value = m.score * src[j].weight;
                } else if (src_find(&src[j], m.p, m.len, &value)) {
                    value *= src[j].weight;
                } else {
                    break;
                }
                aggregate(&score, value, agg);
            }
            if (j < n)
                continue;
            if (card_only) {
                (*card)++;
                if (limit && *card >= limit)
                    break;
            } else {
                rc = accumulate(dst, &m, score, AGG_SUM);
            }
        }
    } else if (op == OP_UNION) {
        for (int i = 0; rc == 0 && i < n; i++) {
            walk_init(&w, &src[i]);
            while (rc == 0 && walk_next(&w, &m)) {
                double score = src[i].weight * m.score;
                if (isnan(score))
                    score = 0;
                rc = accumulate(dst, &m, score, agg);
            }
        }
    } else {
        walk_init(&w, &src[0]);
        while (rc == 0 && walk_next(&w, &m)) {
            bool elsewhere = false;
            for (int j = 1; j < n && !elsewhere; j++) {
                double ignored;
                elsewhere = src[j].kv != NULL &&
                            (src[j].kv == src[0].kv || src_find(&src[j], m.p, m.len, &ignored));
            }
            if (!elsewhere)
                rc = accumulate(dst, &m, m.score, AGG_SUM);
        }
    }
    return rc;
}

/* Redis 7.0 zunionInterDiffGenericCommand. 'dst_i' is the destination's
 * index (0: reply to the client); 'numkeys_i' the numkeys argument's. */
static void algebra_generic(struct exec_ctx *ctx, int dst_i, int numkeys_i, enum set_op op,
                            bool card_only) {
    long long setnum;
    if (!exec_arg_ll(ctx, numkeys_i, &setnum))
        return;
    if (setnum < 1) {
        resp_add_errorf(ctx->out, "ERR at least 1 input key is needed for '%s' command",
                        ctx->cmd->fullname);
        return;
    }
    if (setnum > ctx->argc - (numkeys_i + 1)) {
        exec_reply_syntax_error(ctx);
        return;
    }
    int n = (int)setnum;
    struct algebra_src *src = calloc((size_t)n, sizeof(*src));
    if (src == NULL) {
        exec_reply_oom(ctx);
        return;
    }
    int j = numkeys_i + 1;
    for (int i = 0; i < n; i++, j++) {
        struct kv *kv = dst_i ? db_lookup_write(ctx, ctx->argv[j], ctx->argvlen[j])
                              : db_lookup_read(ctx, ctx->argv[j], ctx->argvlen[j]);
        if (kv != NULL && kv->type != OBJ_ZSET && kv->type != OBJ_SET) {
            free(src);
            exec_reply_wrongtype(ctx);
            return;
        }
        src[i].kv = kv;
        src[i].weight = 1.0;
    }
    enum aggregate agg = AGG_SUM;
    bool withscores = false;
    long long limit = 0;
    while (j < ctx->argc) {
        int remaining = ctx->argc - j;
        if (op != OP_DIFF && !card_only && remaining >= n + 1 && exec_arg_is(ctx, j, "weights")) {
            j++;
            for (int i = 0; i < n; i++, j++) {
                if (!arg_double(ctx, j, &src[i].weight, "ERR weight value is not a float")) {
                    free(src);
                    return;
                }
            }
        } else if (op != OP_DIFF && !card_only && remaining >= 2 &&
                   exec_arg_is(ctx, j, "aggregate")) {
            j++;
            if (exec_arg_is(ctx, j, "sum")) {
                agg = AGG_SUM;
            } else if (exec_arg_is(ctx, j, "min")) {
                agg = AGG_MIN;
            } else if (exec_arg_is(ctx, j, "max")) {
                agg = AGG_MAX;
            } else {
                free(src);
                exec_reply_syntax_error(ctx);
                return;
            }
            j++;
        } else if (!dst_i && !card_only && exec_arg_is(ctx, j, "withscores")) {
            j++;
            withscores = true;
        } else if (card_only && remaining >= 2 && exec_arg_is(ctx, j, "limit")) {
            j++;
            if (!arg_positive(ctx, j, &limit, "ERR LIMIT can't be negative")) {
                free(src);
                return;
            }
            j++;
        } else {
            free(src);
            exec_reply_syntax_error(ctx);
            return;
        }
    }
    if (op != OP_DIFF)
        qsort(src, (size_t)n, sizeof(*src), cmp_by_len);

    struct zset_limits skiplist_only = {0, 0};
    const char *dkey = dst_i ? ctx->argv[dst_i] : "";
    size_t dkeylen = dst_i ? ctx->argvlen[dst_i] : 0;
    struct kv *dst = card_only ? NULL : zset_new(dkey, dkeylen, 1, 1, &skiplist_only);
    long long card = 0;
    if ((!card_only && dst == NULL) ||
        compute_algebra(src, n, op, agg, dst, card_only, limit, &card) != 0) {
        if (dst)
            kv_free(dst);
        free(src);
        exec_reply_oom(ctx);
        return;
    }
    free(src);
    if (card_only) {
        resp_add_int(ctx->out, card);
        return;
    }
    if (dst_i) {
        size_t len = zset_len(dst);
        if (len > 0) {
            struct zset_limits lim = zset_limits();
            zset_fit_listpack(dst, &lim);
            if (!db_set(ctx, dst))
                return;
            static const char *const events[] = {
                [OP_UNION] = "zunionstore",
                [OP_INTER] = "zinterstore",
                [OP_DIFF] = "zdiffstore",
            };
            notify_keyspace_event(ctx, NOTIFY_ZSET, events[op], ctx->argv[dst_i],
                                  ctx->argvlen[dst_i]);
            resp_add_int(ctx->out, (long long)len);
        } else {
            kv_free(dst);
            resp_add_int(ctx->out, 0);
            delete_destination(ctx, dst_i);
        }
        return;
    }
    long long len = (long long)zset_len(dst);
    resp_add_array(ctx->out, withscores && ctx->out->proto == 2 ? len * 2 : len);
    struct zset_iter it;
    for (zset_iter_at_rank(&it, dst, 0, false); zset_iter_valid(&it); zset_iter_next(&it)) {
        struct zset_member m;
        zset_iter_get(&it, &m);
        if (withscores && ctx->out->proto > 2)
            resp_add_array(ctx->out, 2);
        resp_add_bulk(ctx->out, m.p, m.len);
        if (withscores)
            resp_add_double(ctx->out, m.score);
    }
    kv_free(dst);
}

void cmd_zunion(struct exec_ctx *ctx) {
    algebra_generic(ctx, 0, 1, OP_UNION, false);
}

void cmd_zinter(struct exec_ctx *ctx) {
    algebra_generic(ctx, 0, 1, OP_INTER, false);
}

void cmd_zdiff(struct exec_ctx *ctx) {
    algebra_generic(ctx, 0, 1, OP_DIFF, false);
}

void cmd_zunionstore(struct exec_ctx *ctx) {
    algebra_generic(ctx, 1, 2, OP_UNION, false);
}

void cmd_zinterstore(struct exec_ctx *ctx) {
    algebra_generic(ctx, 1, 2, OP_INTER, false);
}

void cmd_zdiffstore(struct exec_ctx *ctx) {
    algebra_generic(ctx, 1, 2, OP_DIFF, false);
}

void cmd_zintercard(struct exec_ctx *ctx) {
    algebra_generic(ctx, 0, 1, OP_INTER, true);
}

/* ---- ZRANDMEMBER ---- */

static void reply_member(struct exec_ctx *ctx, const struct zset_member *m, bool withscores) {
    if (withscores && ctx->out->proto > 2)
        resp_add_array(ctx->out, 2);
    resp_add_bulk(ctx->out, m->p, m->len);
    if (withscores)
        resp_add_double(ctx->out, m->score);
}

static void reply_members_header(struct exec_ctx *ctx, unsigned long long n, bool withscores) {
    resp_add_array(ctx->out, (long long)(withscores && ctx->out->proto == 2 ? n * 2 : n));
}

/* Redis 7.0 zrandmemberWithCountCommand: a negative count may repeat
 * members; a positive one returns distinct members (all if count >= size). */
static void zrandmember_count(struct exec_ctx *ctx, long long count, bool withscores) {
    struct kv *kv;
    if (!read_zset(ctx, 1, &kv))
        return;
    if (kv == NULL || count == 0) {
        resp_add_array(ctx->out, 0);
        return;
    }
    uint64_t rng = ctx->seed;
    size_t size = zset_len(kv);
    bool unique = count > 0;
    unsigned long long n = count > 0 ? (unsigned long long)count : (unsigned long long)-count;
    struct zset_member m;
    if (!unique || n == 1) {
        reply_members_header(ctx, n, withscores);
        for (unsigned long long i = 0; i < n; i++) {
            zset_pick(kv, randpick_next(&rng), &m);
            reply_member(ctx, &m, withscores);
        }
        return;
    }
    bool whole = n >= size;
    unsigned char *chosen = NULL;
    if (!whole) {
        /* Distinct members: choose 'n' of the 'size' ranks (Floyd's
         * sampling). */
        chosen = randpick_distinct(&rng, size, (size_t)n);
        if (chosen == NULL) {
            exec_reply_oom(ctx);
            return;
        }
    }
    /* Redis walks the set from the top (zuiInitIterator) to reply. */
    reply_members_header(ctx, whole ? size : n, withscores);
    struct zset_iter it;
    size_t rank = 0;
    for (zset_iter_at_rank(&it, kv, 0, true); zset_iter_valid(&it); zset_iter_next(&it)) {
        if (whole || chosen[rank]) {
            zset_iter_get(&it, &m);
            reply_member(ctx, &m, withscores);
        }
        rank++;
    }
    free(chosen);
}

void cmd_zrandmember(struct exec_ctx *ctx) {
    if (ctx->argc >= 3) {
        long long count;
        bool withscores;
        if (randpick_parse_count(ctx, "withscores", &count, &withscores))
            zrandmember_count(ctx, count, withscores);
        return;
    }
    struct kv *kv;
    if (!read_zset(ctx, 1, &kv))
        return;
    if (kv == NULL) {
        resp_add_null(ctx->out);
        return;
    }
    struct zset_member m;
    uint64_t rng = ctx->seed;
    zset_pick(kv, randpick_next(&rng), &m);
    resp_add_bulk(ctx->out, m.p, m.len);
}

/* ---- ZSCAN ---- */

struct scan_members {
    struct exec_ctx *ctx;
    const struct collscan_args *args;
    bool is_listpack;
    long long n;
    size_t seen;
};

static void scan_reply_member(const char *m, size_t len, double score, void *arg) {
    struct scan_members *s = arg;
    if (!collscan_matches(s->args, m, len))
        return;
    /* Redis replies with the listpack's stored string (d2string: integral
     * scores within +-LLONG_MAX/2 as integers) or, for a skiplist, "%.17Lg". */
    char buf[32];
    int n;
    if (s->is_listpack && score >= (double)(-LLONG_MAX / 2) && score <= (double)(LLONG_MAX / 2) &&
        score == floor(score))
        n = snprintf(buf, sizeof(buf), "%lld", (long long)score);
    else
        n = snprintf(buf, sizeof(buf), "%.17g", score);
    resp_add_bulk(s->ctx->out, m, len);
    resp_add_bulk(s->ctx->out, buf, (size_t)n);
    s->n += 2;
}

static void scan_count_member(const char *m, size_t len, double score, void *arg) {
    (void)m, (void)len, (void)score;
    ((struct scan_members *)arg)->seen++;
}

/* Redis 7.0 scanGenericCommand on a sorted set (see cmd_hscan): scores are
 * strings ("%.17g"), members and scores both count towards COUNT. */
void cmd_zscan(struct exec_ctx *ctx) {
    struct collscan_args args;
    if (!collscan_parse_cursor(ctx, 2, &args.cursor))
        return;
    struct kv *kv;
    if (!read_zset(ctx, 1, &kv))
        return;
    if (kv == NULL) {
        collscan_reply_empty(ctx);
        return;
    }
    if (!collscan_parse_options(ctx, 3, &args, false))
        return;
    uint64_t cursor = 0;
    if (kv->encoding != OBJ_ENC_LISTPACK) {
        struct scan_members counted = {.ctx = ctx};
        long long steps = collscan_max_steps(&args);
        cursor = args.cursor;
        do {
            cursor = zset_scan(kv, cursor, scan_count_member, &counted);
        } while (cursor != 0 && steps-- > 0 && counted.seen * 2 < (unsigned long long)args.count);
    }
    collscan_reply_cursor(ctx, cursor);
    size_t token = resp_begin_deferred(ctx->out);
    struct scan_members members = {
        .ctx = ctx, .args = &args, .is_listpack = kv->encoding == OBJ_ENC_LISTPACK};
    uint64_t c = kv->encoding == OBJ_ENC_LISTPACK ? 0 : args.cursor;
    do {
        c = zset_scan(kv, c, scan_reply_member, &members);
    } while (c != cursor);
    resp_end_deferred(ctx->out, token, '*', members.n);
}
