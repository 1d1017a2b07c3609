/* Stream commands that add, read ranges and remove: XADD XLEN XRANGE
 * XREVRANGE XDEL XTRIM XSETID. Argument handling follows Redis 7.0's
 * t_stream.c (streamParseAddOrTrimArgsOrReply and friends) so errors match. */
#include "node/cmd_handlers.h"
#include "node/exec.h"
#include "node/notify.h"
#include "node/stream_args.h"

#include <string.h>

struct trim_args {
    bool has_strategy;
    enum stream_trim_strategy strategy;
    long long maxlen;
    struct stream_id minid;
    bool approx;
    long long limit;
    /* XADD only */
    bool nomkstream;
    bool id_given;
    bool seq_given;
    struct stream_id id;
};

static bool arg_is_char(const struct exec_ctx *ctx, int i, char c) {
    return ctx->argvlen[i] == 1 && ctx->argv[i][0] == c;
}

/* Parses XADD/XTRIM options from argv[2]. For XADD, stops at the ID (which
 * it parses) and returns its index; for XTRIM returns argc. Returns -1
 * after replying with an error. */
static int parse_trim_args(struct exec_ctx *ctx, struct trim_args *a, bool xadd) {
    memset(a, 0, sizeof(*a));
    bool limit_given = false;
    int i = 2;
    for (; i < ctx->argc; i++) {
        int more = ctx->argc - 1 - i;
        if (xadd && arg_is_char(ctx, i, '*'))
            break;
        bool is_maxlen = exec_arg_is(ctx, i, "maxlen");
        if ((is_maxlen || exec_arg_is(ctx, i, "minid")) && more) {
            if (a->has_strategy) {
                resp_add_error(ctx->out, "ERR syntax error, MAXLEN and MINID options at the same "
                                         "time are not compatible");
                return -1;
            }
            a->approx = false;
            if (more >= 2 && arg_is_char(ctx, i + 1, '~')) {
                a->approx = true;
                i++;
            } else if (more >= 2 && arg_is_char(ctx, i + 1, '=')) {
                i++;
            }
            if (is_maxlen) {
                if (!exec_arg_ll(ctx, i + 1, &a->maxlen))
                    return -1;
                if (a->maxlen < 0) {
                    resp_add_error(ctx->out, "ERR The MAXLEN argument must be >= 0.");
                    return -1;
                }
                a->strategy = STREAM_TRIM_MAXLEN;
            } else {
                if (!stream_parse_id(ctx, i + 1, false, 0, &a->minid))
                    return -1;
                a->strategy = STREAM_TRIM_MINID;
            }
            a->has_strategy = true;
            i++;
        } else if (exec_arg_is(ctx, i, "limit") && more) {
            if (!exec_arg_ll(ctx, i + 1, &a->limit))
                return -1;
            if (a->limit < 0) {
                resp_add_error(ctx->out, "ERR The LIMIT argument must be >= 0.");
                return -1;
            }
            limit_given = true;
            i++;
        } else if (xadd && exec_arg_is(ctx, i, "nomkstream")) {
            a->nomkstream = true;
        } else if (xadd) {
            if (!stream_id_parse(ctx->argv[i], ctx->argvlen[i], 0, &a->id, &a->seq_given) ||
                (ctx->argvlen[i] == 1 && (ctx->argv[i][0] == '-' || ctx->argv[i][0] == '+'))) {
                resp_add_error(ctx->out,
                               "ERR Invalid stream ID specified as stream command argument");
                return -1;
            }
            a->id_given = true;
            break;
        } else {
            exec_reply_syntax_error(ctx);
            return -1;
        }
    }
    if (a->limit && !a->has_strategy) {
        resp_add_error(ctx->out,
                       "ERR syntax error, LIMIT cannot be used without specifying a trimming "
                       "strategy");
        return -1;
    }
    if (!xadd && !a->has_strategy) {
        resp_add_error(ctx->out, "ERR syntax error, XTRIM must be called with a trimming strategy");
        return -1;
    }
    if (limit_given && !a->approx) {
        resp_add_error(ctx->out,
                       "ERR syntax error, LIMIT cannot be used without the special ~ option");
        return -1;
    }
    if (!limit_given) {
        /* Redis bounds '~' trimming work by default; exact trimming is unbounded. */
        long long nodes = (long long)stream_node_max_entries();
        a->limit = a->approx ? 100 * nodes : 0;
        if (a->approx && (a->limit <= 0 || a->limit > 10000))
            a->limit = 10000;
    }
    return i;
}

static size_t apply_trim(struct stream *s, const struct trim_args *a) {
    return stream_trim(s, a->strategy, (size_t)a->maxlen, &a->minid, a->approx, (size_t)a->limit);
}

/* The ID XADD will use, or false with *err set to Redis's reason. */
static bool next_id(const struct exec_ctx *ctx, const struct stream *s, const struct trim_args *a,
                    struct stream_id *id) {
    if (!a->id_given) {
        if ((uint64_t)ctx->now_ms > s->last_id.ms) {
            id->ms = (uint64_t)ctx->now_ms;
            id->seq = 0;
            return true;
        }
        *id = s->last_id;
        return stream_id_incr(id);
    }
    *id = a->id;
    if (!a->seq_given && s->last_id.ms == a->id.ms) {
        if (s->last_id.seq == UINT64_MAX)
            return false;
        id->seq = s->last_id.seq + 1;
    }
    return stream_id_cmp(id, &s->last_id) > 0;
}

void cmd_xadd(struct exec_ctx *ctx) {
    struct trim_args a;
    int i = parse_trim_args(ctx, &a, true);
    if (i < 0)
        return;
    if (ctx->argc - i < 3 || (ctx->argc - i) % 2 == 0) {
        resp_add_error(ctx->out, "ERR wrong number of arguments for 'xadd' command");
        return;
    }
    if (a.id_given && a.seq_given && stream_id_is_zero(&a.id)) {
        resp_add_error(ctx->out, "ERR The ID specified in XADD must be greater than 0-0");
        return;
    }
    bool wrongtype;
    struct stream *s = stream_lookup_write(ctx, 1, &wrongtype);
    if (wrongtype)
        return;
    if (s == NULL) {
        if (a.nomkstream) {
            resp_add_null(ctx->out);
            return;
        }
        if ((s = stream_create_key(ctx, 1)) == NULL)
            return;
    }
    if (s->last_id.ms == UINT64_MAX && s->last_id.seq == UINT64_MAX) {
        resp_add_error(
            ctx->out,
            "ERR The stream has exhausted the last possible ID, unable to add more items");
        return;
    }
    struct stream_id id;
    if (!next_id(ctx, s, &a, &id)) {
        resp_add_error(ctx->out, "ERR The ID specified in XADD is equal or smaller than the target "
                                 "stream top item");
        return;
    }
    int nfv = ctx->argc - i - 1;
    if (stream_append(s, &id, nfv, ctx->argv + i + 1, ctx->argvlen + i + 1, stream_node_max_bytes(),
                      stream_node_max_entries()) != 0) {
        exec_reply_oom(ctx);
        return;
    }
    stream_reply_id(ctx, &id);
    notify_keyspace_event(ctx, NOTIFY_STREAM, "xadd", ctx->argv[1], ctx->argvlen[1]);
    if (a.has_strategy && apply_trim(s, &a) > 0)
        notify_keyspace_event(ctx, NOTIFY_STREAM, "xtrim", ctx->argv[1], ctx->argvlen[1]);
    stream_touch(ctx, 1);
}

void cmd_xlen(struct exec_ctx *ctx) {
    bool wrongtype;
    struct stream *s = stream_lookup_read(ctx, 1, &wrongtype);
    if (!wrongtype)
        resp_add_int(ctx->out, s ? (long long)s->length : 0);
}

static void range_command(struct exec_ctx *ctx, bool rev) {
    struct stream_id start, end;
    if (!stream_parse_interval(ctx, rev ? 3 : 2, true, &start) ||
        !stream_parse_interval(ctx, rev ? 2 : 3, false, &end))
        return;
    long long count = -1;
    for (int j = 4; j < ctx->argc; j++) {
        if (exec_arg_is(ctx, j, "count") && j + 1 < ctx->argc) {
            if (!exec_arg_ll(ctx, j + 1, &count))
                return;
            if (count < 0)
                count = 0;
            j++;
        } else {
            exec_reply_syntax_error(ctx);
            return;
        }
    }
    if (count == 0) { /* Redis 7.0 answers COUNT 0 with a null array */
        resp_add_null_array(ctx->out);
        return;
    }
    bool wrongtype;
    struct stream *s = stream_lookup_read(ctx, 1, &wrongtype);
    if (wrongtype)
        return;
    if (s == NULL) {
        resp_add_array(ctx->out, 0);
        return;
    }
    stream_reply_range(ctx, s, &start, &end, count < 0 ? 0 : (size_t)count, rev);
}

void cmd_xrange(struct exec_ctx *ctx) {
    range_command(ctx, false);
}

void cmd_xrevrange(struct exec_ctx *ctx) {
    range_command(ctx, true);
}

void cmd_xdel(struct exec_ctx *ctx) {
    /* Redis 7.0 validates every ID before deleting any. */
    for (int i = 2; i < ctx->argc; i++) {
        struct stream_id id;
        if (!stream_parse_id(ctx, i, false, 0, &id))
            return;
    }
    bool wrongtype;
    struct stream *s = stream_lookup_write(ctx, 1, &wrongtype);
    if (wrongtype)
        return;
    long long deleted = 0;
    for (int i = 2; s != NULL && i < ctx->argc; i++) {
        struct stream_id id;
        stream_id_parse(ctx->argv[i], ctx->argvlen[i], 0, &id, NULL);
        deleted += stream_delete(s, &id);
    }
    if (deleted) {
        stream_touch(ctx, 1);
        notify_keyspace_event(ctx, NOTIFY_STREAM, "xdel", ctx->argv[1], ctx->argvlen[1]);
    }
    resp_add_int(ctx->out, deleted);
}

void cmd_xtrim(struct exec_ctx *ctx) {
    bool wrongtype;
    struct stream *s = stream_lookup_write(ctx, 1, &wrongtype);
    if (wrongtype)
        return;
    struct trim_args a;
    if (parse_trim_args(ctx, &a, false) < 0)
        return;
    size_t removed = s ? apply_trim(s, &a) : 0;
    if (removed) {
        stream_touch(ctx, 1);
        notify_keyspace_event(ctx, NOTIFY_STREAM, "xtrim", ctx->argv[1], ctx->argvlen[1]);
    }
    resp_add_int(ctx->out, (long long)removed);
}

/* XSETID key last-id [ENTRIESADDED n] [MAXDELETEDID id] (Redis 7.0). */
void cmd_xsetid(struct exec_ctx *ctx) {
    struct stream_id id, max_xdel = {0, 0};
    if (!stream_parse_id(ctx, 2, false, 0, &id))
        return;
    long long entries_added = -1;
    bool has_max_xdel = false;
    for (int i = 3; i < ctx->argc; i++) {
        bool more = i + 1 < ctx->argc;
        if (exec_arg_is(ctx, i, "entriesadded") && more) {
            if (!exec_arg_ll(ctx, ++i, &entries_added))
                return;
            if (entries_added < 0) {
                resp_add_error(ctx->out, "ERR entries_added must be positive");
                return;
            }
        } else if (exec_arg_is(ctx, i, "maxdeletedid") && more) {
            if (!stream_parse_id(ctx, ++i, false, 0, &max_xdel))
                return;
            if (stream_id_cmp(&id, &max_xdel) < 0) {
                resp_add_error(ctx->out, "ERR The ID specified in XSETID is smaller than the "
                                         "provided max_deleted_entry_id");
                return;
            }
            has_max_xdel = true;
        } else {
            exec_reply_syntax_error(ctx);
            return;
        }
    }
    bool wrongtype;
    struct stream *s = stream_lookup_write(ctx, 1, &wrongtype);
    if (wrongtype)
        return;
    if (s == NULL) {
        resp_add_error(ctx->out, "ERR no such key");
        return;
    }
    if (entries_added != -1 && (long long)s->length > entries_added) {
        resp_add_error(ctx->out, "ERR The entries_added specified in XSETID is smaller than the "
                                 "target stream length");
        return;
    }
    /* The new ID may not be below the stream's top entry. */
    if (s->length > 0) {
        struct stream_iter it;
        struct stream_id top;
        size_t nfv;
        stream_iter_init(&it, s, NULL, NULL, true);
        if (stream_iter_next(&it, &top, &nfv) && stream_id_cmp(&id, &top) < 0) {
            resp_add_error(ctx->out,
                           "ERR The ID specified in XSETID is smaller than the target stream top "
                           "item");
            return;
        }
    }
    s->last_id = id;
    if (entries_added != -1)
        s->entries_added = (uint64_t)entries_added;
    if (has_max_xdel)
        s->max_deleted_id = max_xdel;
    stream_touch(ctx, 1);
    notify_keyspace_event(ctx, NOTIFY_STREAM, "xsetid", ctx->argv[1], ctx->argvlen[1]);
    exec_reply_ok(ctx);
}
