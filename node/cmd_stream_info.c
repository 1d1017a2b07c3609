/* XINFO STREAM [FULL [COUNT n]] / GROUPS / CONSUMERS / HELP, with Redis
 * 7.0's field names and order. radix-tree-keys / radix-tree-nodes describe
 * Redis's own index; keyraft reports its node count for both. */
#include "node/cmd_handlers.h"
#include "node/exec.h"
#include "node/stream_args.h"

#include <string.h>

static struct stream *existing_stream(struct exec_ctx *ctx, int i) {
    bool wrongtype;
    struct stream *s = stream_lookup_read(ctx, i, &wrongtype);
    if (s == NULL && !wrongtype)
        resp_add_error(ctx->out, "ERR no such key");
    return s;
}

static void field(struct exec_ctx *ctx, const char *name) {
    resp_add_bulk_cstr(ctx->out, name);
}

/* The lag of a group (Redis 7.0 xinfo: null when it cannot be known). */
static void reply_lag(struct exec_ctx *ctx, const struct stream *s, const struct stream_group *g) {
    if (s->entries_added == 0) {
        resp_add_int(ctx->out, 0);
        return;
    }
    if (g->entries_read != STREAM_ENTRIES_READ_UNKNOWN &&
        !stream_range_has_tombstones(s, &g->last_id, NULL)) {
        resp_add_int(ctx->out, (long long)s->entries_added - g->entries_read);
        return;
    }
    long long read = stream_estimate_distance(s, &g->last_id);
    if (read == STREAM_ENTRIES_READ_UNKNOWN)
        resp_add_null(ctx->out);
    else
        resp_add_int(ctx->out, (long long)s->entries_added - read);
}

static void reply_entries_read(struct exec_ctx *ctx, const struct stream_group *g) {
    if (g->entries_read == STREAM_ENTRIES_READ_UNKNOWN)
        resp_add_null(ctx->out);
    else
        resp_add_int(ctx->out, g->entries_read);
}

/* The first or last entry as [id, [f, v...]], or null. */
static void reply_edge_entry(struct exec_ctx *ctx, const struct stream *s, bool last) {
    struct stream_iter it;
    struct stream_id id;
    size_t nfv;
    stream_iter_init(&it, s, NULL, NULL, last);
    if (stream_iter_next(&it, &id, &nfv))
        stream_reply_entry(ctx, &it, &id, nfv);
    else
        resp_add_null(ctx->out);
}

static void reply_stream_header(struct exec_ctx *ctx, const struct stream *s) {
    field(ctx, "length");
    resp_add_int(ctx->out, (long long)s->length);
    field(ctx, "radix-tree-keys");
    resp_add_int(ctx->out, (long long)stream_node_count(s));
    field(ctx, "radix-tree-nodes");
    resp_add_int(ctx->out, (long long)stream_node_count(s) + 1);
    field(ctx, "last-generated-id");
    stream_reply_id(ctx, &s->last_id);
    field(ctx, "max-deleted-entry-id");
    stream_reply_id(ctx, &s->max_deleted_id);
    field(ctx, "entries-added");
    resp_add_int(ctx->out, (long long)s->entries_added);
    field(ctx, "recorded-first-entry-id");
    stream_reply_id(ctx, &s->first_id);
}

/* FULL: groups with their PEL and consumers, each list capped at 'count'. */
static void reply_full_groups(struct exec_ctx *ctx, const struct stream *s, long long count) {
    resp_add_array(ctx->out, (long long)s->ngroups);
    for (size_t i = 0; i < s->ngroups; i++) {
        const struct stream_group *g = s->groups[i];
        resp_add_map(ctx->out, 7);
        field(ctx, "name");
        resp_add_bulk(ctx->out, g->name, g->namelen);
        field(ctx, "last-delivered-id");
        stream_reply_id(ctx, &g->last_id);
        field(ctx, "entries-read");
        reply_entries_read(ctx, g);
        field(ctx, "lag");
        reply_lag(ctx, s, g);
        field(ctx, "pel-count");
        resp_add_int(ctx->out, (long long)idmap_len(g->pel));
        field(ctx, "pending");
        size_t token = resp_begin_deferred(ctx->out);
        long long n = 0;
        for (struct idmap_node *p = idmap_seek(g->pel, NULL); p && (!count || n < count);
             p = idmap_next(p), n++) {
            const struct stream_nack *nack = idmap_node_value(p);
            resp_add_array(ctx->out, 4);
            stream_reply_id(ctx, idmap_node_id(p));
            resp_add_bulk(ctx->out, nack->consumer->name, nack->consumer->namelen);
            resp_add_int(ctx->out, nack->delivery_time_ms);
            resp_add_int(ctx->out, (long long)nack->delivery_count);
        }
        resp_end_deferred(ctx->out, token, '*', n);
        field(ctx, "consumers");
        resp_add_array(ctx->out, (long long)g->nconsumers);
        for (size_t j = 0; j < g->nconsumers; j++) {
            const struct stream_consumer *c = g->consumers[j];
            resp_add_map(ctx->out, 4);
            field(ctx, "name");
            resp_add_bulk(ctx->out, c->name, c->namelen);
            field(ctx, "seen-time");
            resp_add_int(ctx->out, c->seen_time_ms);
            field(ctx, "pel-count");
            resp_add_int(ctx->out, (long long)idmap_len(c->pel));
            field(ctx, "pending");
            token = resp_begin_deferred(ctx->out);
            n = 0;
            for (struct idmap_node *p = idmap_seek(c->pel, NULL); p && (!count || n < count);
                 p = idmap_next(p), n++) {
                const struct stream_nack *nack = idmap_node_value(p);
                resp_add_array(ctx->out, 3);
                stream_reply_id(ctx, idmap_node_id(p));
                resp_add_int(ctx->out, nack->delivery_time_ms);
                resp_add_int(ctx->out, (long long)nack->delivery_count);
            }
            resp_end_deferred(ctx->out, token, '*', n);
        }
    }
}

void cmd_xinfo_stream(struct exec_ctx *ctx) {
    bool full = false;
    long long count = 10;
    if (ctx->argc > 3) {
        if (!exec_arg_is(ctx, 3, "full")) {
            exec_reply_subcommand_syntax(ctx);
            return;
        }
        full = true;
        if (ctx->argc == 6 && exec_arg_is(ctx, 4, "count")) {
            if (!exec_arg_ll(ctx, 5, &count))
                return;
            if (count < 0)
                count = 10;
        } else if (ctx->argc != 4) {
            exec_reply_subcommand_syntax(ctx);
            return;
        }
    }
    struct stream *s = existing_stream(ctx, 2);
    if (s == NULL)
        return;
    resp_add_map(ctx->out, full ? 9 : 10);
    reply_stream_header(ctx, s);
    if (full) {
        field(ctx, "entries");
        stream_reply_range(ctx, s, NULL, NULL, (size_t)count, false);
        field(ctx, "groups");
        reply_full_groups(ctx, s, count);
        return;
    }
    field(ctx, "groups");
    resp_add_int(ctx->out, (long long)s->ngroups);
    field(ctx, "first-entry");
    reply_edge_entry(ctx, s, false);
    field(ctx, "last-entry");
    reply_edge_entry(ctx, s, true);
}

void cmd_xinfo_groups(struct exec_ctx *ctx) {
    struct stream *s = existing_stream(ctx, 2);
    if (s == NULL)
        return;
    resp_add_array(ctx->out, (long long)s->ngroups);
    for (size_t i = 0; i < s->ngroups; i++) {
        const struct stream_group *g = s->groups[i];
        resp_add_map(ctx->out, 6);
        field(ctx, "name");
        resp_add_bulk(ctx->out, g->name, g->namelen);
        field(ctx, "consumers");
        resp_add_int(ctx->out, (long long)g->nconsumers);
        field(ctx, "pending");
        resp_add_int(ctx->out, (long long)idmap_len(g->pel));
        field(ctx, "last-delivered-id");
        stream_reply_id(ctx, &g->last_id);
        field(ctx, "entries-read");
        reply_entries_read(ctx, g);
        field(ctx, "lag");
        reply_lag(ctx, s, g);
    }
}

void cmd_xinfo_consumers(struct exec_ctx *ctx) {
    struct stream *s = existing_stream(ctx, 2);
    if (s == NULL)
        return;
    struct stream_group *g = stream_group_find(s, ctx->argv[3], ctx->argvlen[3]);
    if (g == NULL) {
        resp_add_errorf(ctx->out, "NOGROUP No such consumer group '%.*s' for key name '%.*s'",
                        (int)ctx->argvlen[3], ctx->argv[3], (int)ctx->argvlen[2], ctx->argv[2]);
        return;
    }
    resp_add_array(ctx->out, (long long)g->nconsumers);
    for (size_t i = 0; i < g->nconsumers; i++) {
        const struct stream_consumer *c = g->consumers[i];
        resp_add_map(ctx->out, 3);
        field(ctx, "name");
        resp_add_bulk(ctx->out, c->name, c->namelen);
        field(ctx, "pending");
        resp_add_int(ctx->out, (long long)idmap_len(c->pel));
        field(ctx, "idle");
        int64_t idle = ctx->now_ms - c->seen_time_ms;
        resp_add_int(ctx->out, idle < 0 ? 0 : idle);
    }
}

void cmd_xinfo_help(struct exec_ctx *ctx) {
    static const char *const lines[] = {
        "CONSUMERS <key> <groupname>",
        "    Show consumers of <groupname>.",
        "GROUPS <key>",
        "    Show the stream consumer groups.",
        "STREAM <key> [FULL [COUNT <count>]",
        "    Show information about the stream.",
        NULL,
    };
    exec_reply_help(ctx, lines);
}
