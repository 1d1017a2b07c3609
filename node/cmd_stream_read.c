/* XREAD and XREADGROUP, including BLOCK. One parser and one serving loop
 * for both, as Redis 7.0's xreadCommand. A blocked read parks through
 * node/blocking and re-runs when a key changes; "$" is resolved to the
 * stream's last ID before parking, so the re-run waits for entries after
 * the ones that existed when it blocked. */
#include "node/blocking.h"
#include "node/client.h"
#include "node/cmd_handlers.h"
#include "node/command.h"
#include "node/exec.h"
#include "node/notify.h"
#include "node/stream_args.h"

#include <stdlib.h>
#include <string.h>

struct read_args {
    bool group_read; /* XREADGROUP */
    int group_arg, consumer_arg;
    bool noack;
    long long count;
    int64_t deadline_ms; /* -1 without BLOCK, 0 = forever */
    int streams_arg;     /* index of the first key */
    int nstreams;
};

static bool parse_read_args(struct exec_ctx *ctx, struct read_args *a) {
    memset(a, 0, sizeof(*a));
    a->group_read = ctx->argvlen[0] == 10;
    a->deadline_ms = -1;
    for (int i = 1; i < ctx->argc; i++) {
        int more = ctx->argc - i - 1;
        if (exec_arg_is(ctx, i, "block") && more) {
            a->deadline_ms = blocking_parse_timeout_ms(ctx, ++i);
            if (a->deadline_ms < 0)
                return false;
        } else if (exec_arg_is(ctx, i, "count") && more) {
            if (!exec_arg_ll(ctx, ++i, &a->count))
                return false;
            if (a->count < 0)
                a->count = 0;
        } else if (exec_arg_is(ctx, i, "streams") && more) {
            a->streams_arg = i + 1;
            a->nstreams = ctx->argc - a->streams_arg;
            if (a->nstreams % 2 != 0) {
                resp_add_errorf(ctx->out,
                                "ERR Unbalanced '%s' list of streams: for each stream key an ID "
                                "or '%c' must be specified.",
                                ctx->cmd->name, a->group_read ? '>' : '$');
                return false;
            }
            a->nstreams /= 2;
            break;
        } else if (exec_arg_is(ctx, i, "group") && more >= 2) {
            if (!a->group_read) {
                resp_add_error(ctx->out, "ERR The GROUP option is only supported by XREADGROUP. "
                                         "You called XREAD instead.");
                return false;
            }
            a->group_arg = i + 1;
            a->consumer_arg = i + 2;
            i += 2;
        } else if (exec_arg_is(ctx, i, "noack")) {
            if (!a->group_read) {
                resp_add_error(ctx->out, "ERR The NOACK option is only supported by XREADGROUP. "
                                         "You called XREAD instead.");
                return false;
            }
            a->noack = true;
        } else {
            exec_reply_syntax_error(ctx);
            return false;
        }
    }
    if (a->streams_arg == 0) {
        exec_reply_syntax_error(ctx);
        return false;
    }
    if (a->group_read && a->group_arg == 0) {
        resp_add_error(ctx->out, "ERR Missing GROUP option for XREADGROUP");
        return false;
    }
    return true;
}

/* Per stream: after which ID to read, and the group for XREADGROUP. */
struct read_target {
    struct stream *s;
    struct stream_group *g;
    struct stream_id after;
    bool new_entries; /* ">" */
};

static bool resolve_targets(struct exec_ctx *ctx, const struct read_args *a,
                            struct read_target *t) {
    for (int k = 0; k < a->nstreams; k++) {
        int key = a->streams_arg + k, idarg = key + a->nstreams;
        bool wrongtype;
        t[k].s = stream_lookup_read(ctx, key, &wrongtype);
        if (wrongtype)
            return false;
        if (a->group_read) {
            t[k].g = t[k].s ? stream_group_find(t[k].s, ctx->argv[a->group_arg],
                                                ctx->argvlen[a->group_arg])
                            : NULL;
            if (t[k].g == NULL) {
                resp_add_errorf(ctx->out,
                                "NOGROUP No such key '%.*s' or consumer group '%.*s' in "
                                "XREADGROUP with GROUP option",
                                (int)ctx->argvlen[key], ctx->argv[key],
                                (int)ctx->argvlen[a->group_arg], ctx->argv[a->group_arg]);
                return false;
            }
        }
        bool is_dollar = ctx->argvlen[idarg] == 1 && ctx->argv[idarg][0] == '$';
        bool is_gt = ctx->argvlen[idarg] == 1 && ctx->argv[idarg][0] == '>';
        if (is_dollar) {
            if (a->group_read) {
                resp_add_error(ctx->out,
                               "ERR The $ ID is meaningless in the context of XREADGROUP: you "
                               "want to read the history of this consumer by specifying a "
                               "proper ID, or use the > ID to get new messages. The $ ID would "
                               "just return an empty result set.");
                return false;
            }
            if (t[k].s)
                t[k].after = t[k].s->last_id;
        } else if (is_gt) {
            if (!a->group_read) {
                resp_add_error(ctx->out, "ERR The > ID can be specified only when calling "
                                         "XREADGROUP using the GROUP <group> <consumer> option.");
                return false;
            }
            t[k].new_entries = true;
        } else if (!stream_parse_id(ctx, idarg, false, 0, &t[k].after)) {
            return false;
        }
    }
    return true;
}

/* The last live entry's ID, or false when the stream is empty. */
static bool last_entry_id(const struct stream *s, struct stream_id *id) {
    struct stream_iter it;
    size_t nfv;
    stream_iter_init(&it, s, NULL, NULL, true);
    return stream_iter_next(&it, id, &nfv);
}

/* XREADGROUP with an explicit ID: the consumer's own pending entries after
 * it; deleted ones come back as [id, nil] (Redis 7.0). */
static bool reply_history(struct exec_ctx *ctx, const struct read_target *t,
                          struct stream_consumer *c, long long count) {
    struct stream_id start = t->after;
    size_t token = resp_begin_deferred(ctx->out);
    long long n = 0;
    if (stream_id_incr(&start)) {
        for (struct idmap_node *p = idmap_seek(c->pel, &start); p && (!count || n < count);
             p = idmap_next(p), n++) {
            const struct stream_id *id = idmap_node_id(p);
            struct stream_iter it;
            struct stream_id found;
            size_t nfv;
            stream_iter_init(&it, t->s, id, id, false);
            if (stream_iter_next(&it, &found, &nfv)) {
                stream_reply_entry(ctx, &it, &found, nfv);
                struct stream_nack *nack = idmap_node_value(p);
                nack->delivery_time_ms = ctx->now_ms;
                nack->delivery_count++;
            } else {
                resp_add_array(ctx->out, 2);
                stream_reply_id(ctx, id);
                resp_add_null_array(ctx->out);
            }
        }
    }
    resp_end_deferred(ctx->out, token, '*', n);
    return true;
}

/* New entries after t->after; for a group, recorded as delivered. */
static bool reply_new(struct exec_ctx *ctx, const struct read_target *t, struct stream_consumer *c,
                      const struct read_args *a) {
    struct stream_id start = t->after;
    stream_id_incr(&start);
    struct stream_iter it;
    stream_iter_init(&it, t->s, &start, NULL, false);
    size_t token = resp_begin_deferred(ctx->out);
    long long n = 0;
    struct stream_id id;
    size_t nfv;
    while ((!a->count || n < a->count) && stream_iter_next(&it, &id, &nfv)) {
        if (t->g != NULL) {
            stream_group_advance(t->s, t->g, &id);
            if (!a->noack && stream_pel_deliver(t->g, c, &id, ctx->now_ms) != 0) {
                resp_end_deferred(ctx->out, token, '*', n);
                return false;
            }
        }
        stream_reply_entry(ctx, &it, &id, nfv);
        n++;
    }
    resp_end_deferred(ctx->out, token, '*', n);
    return true;
}

/* Parks the client; "$" arguments are pinned to the IDs they meant now. */
static bool block(struct exec_ctx *ctx, const struct read_args *a, const struct read_target *t) {
    char **argv = malloc((size_t)ctx->argc * sizeof(*argv));
    size_t *argvlen = malloc((size_t)ctx->argc * sizeof(*argvlen));
    char(*ids)[STREAM_ID_MAX_LEN] = malloc((size_t)a->nstreams * STREAM_ID_MAX_LEN);
    int *keys = malloc((size_t)a->nstreams * sizeof(*keys));
    bool parked = false;
    if (argv && argvlen && ids && keys) {
        memcpy(argv, ctx->argv, (size_t)ctx->argc * sizeof(*argv));
        memcpy(argvlen, ctx->argvlen, (size_t)ctx->argc * sizeof(*argvlen));
        for (int k = 0; k < a->nstreams; k++) {
            int idarg = a->streams_arg + a->nstreams + k;
            keys[k] = a->streams_arg + k;
            if (argvlen[idarg] == 1 && argv[idarg][0] == '$') {
                argvlen[idarg] = stream_id_format(&t[k].after, ids[k]);
                argv[idarg] = ids[k];
            }
        }
        struct exec_ctx pinned = *ctx;
        pinned.argv = argv;
        pinned.argvlen = argvlen;
        parked = blocking_wait(&pinned, keys, a->nstreams, a->deadline_ms,
                               BLOCKING_REPLY_NULL_ARRAY, OBJ_STREAM);
    }
    free(argv);
    free(argvlen);
    free(ids);
    free(keys);
    return parked;
}

static void read_command(struct exec_ctx *ctx) {
    struct read_args a;
    if (!parse_read_args(ctx, &a))
        return;
    struct read_target *t = calloc((size_t)a.nstreams, sizeof(*t));
    if (t == NULL) {
        exec_reply_oom(ctx);
        return;
    }
    if (!resolve_targets(ctx, &a, t))
        goto done;
    size_t token = resp_begin_deferred(ctx->out);
    long long served = 0;
    for (int k = 0; k < a.nstreams; k++) {
        if (t[k].s == NULL)
            continue;
        bool history = a.group_read && !t[k].new_entries;
        struct stream_id last;
        bool has_last = last_entry_id(t[k].s, &last);
        if (a.group_read && t[k].new_entries) {
            if (!has_last || stream_id_cmp(&last, &t[k].g->last_id) <= 0)
                continue;
            t[k].after = t[k].g->last_id;
        } else if (!history && (!has_last || stream_id_cmp(&last, &t[k].after) <= 0)) {
            continue;
        }
        served++;
        if (ctx->out->proto < 3)
            resp_add_array(ctx->out, 2);
        int key = a.streams_arg + k;
        resp_add_bulk(ctx->out, ctx->argv[key], ctx->argvlen[key]);
        struct stream_consumer *c = NULL;
        if (a.group_read) {
            bool created;
            c = stream_consumer_get(t[k].g, ctx->argv[a.consumer_arg], ctx->argvlen[a.consumer_arg],
                                    ctx->now_ms, &created);
            if (created)
                notify_keyspace_event(ctx, NOTIFY_STREAM, "xgroup-createconsumer", ctx->argv[key],
                                      ctx->argvlen[key]);
            if (c == NULL) {
                resp_add_null_array(ctx->out); /* keep the reply well formed */
                continue;
            }
            c->seen_time_ms = ctx->now_ms;
            ctx->dirty++;
        }
        if (history)
            reply_history(ctx, &t[k], c, a.count);
        else
            reply_new(ctx, &t[k], c, &a);
    }
    if (served > 0) {
        resp_end_deferred(ctx->out, token, ctx->out->proto < 3 ? '*' : '%', served);
        goto done;
    }
    if (a.deadline_ms >= 0 && block(ctx, &a, t))
        goto done;
    resp_add_null_array(ctx->out);
done:
    free(t);
}

void cmd_xread(struct exec_ctx *ctx) {
    read_command(ctx);
}

void cmd_xreadgroup(struct exec_ctx *ctx) {
    read_command(ctx);
}
