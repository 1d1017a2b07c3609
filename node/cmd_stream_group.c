/* Consumer-group commands: XGROUP (CREATE SETID DESTROY CREATECONSUMER
 * DELCONSUMER), XACK, XPENDING, XCLAIM, XAUTOCLAIM. Checks and replies
 * follow Redis 7.0's t_stream.c. Delivery times come from ctx->now_ms. */
#include "node/cmd_handlers.h"
#include "node/command.h"
#include "node/exec.h"
#include "node/notify.h"
#include "node/stream_args.h"
#include "storage/mem.h"
#include "storage/object.h"

#include <limits.h>
#include <string.h>

static void reply_nogroup(struct exec_ctx *ctx, int key, int group) {
    resp_add_errorf(ctx->out, "NOGROUP No such key '%.*s' or consumer group '%.*s'",
                    (int)ctx->argvlen[key], ctx->argv[key], (int)ctx->argvlen[group],
                    ctx->argv[group]);
}

/* ---- XGROUP ---- */

/* Parses [MKSTREAM] [ENTRIESREAD n] from argv[5]; finds the stream and the
 * group. Returns false after replying. */
static bool xgroup_prepare(struct exec_ctx *ctx, bool create, bool parse_options, struct stream **s,
                           struct stream_group **g, bool *mkstream, long long *entries_read) {
    *mkstream = false;
    *entries_read = STREAM_ENTRIES_READ_UNKNOWN;
    for (int i = 5; parse_options && i < ctx->argc;) {
        if (create && exec_arg_is(ctx, i, "mkstream")) {
            *mkstream = true;
            i++;
        } else if (exec_arg_is(ctx, i, "entriesread") && i + 1 < ctx->argc) {
            if (!exec_arg_ll(ctx, i + 1, entries_read))
                return false;
            if (*entries_read < 0 && *entries_read != STREAM_ENTRIES_READ_UNKNOWN) {
                resp_add_error(ctx->out, "ERR value for ENTRIESREAD must be positive or -1");
                return false;
            }
            i += 2;
        } else {
            exec_reply_subcommand_syntax(ctx);
            return false;
        }
    }
    bool wrongtype;
    *s = stream_lookup_write(ctx, 2, &wrongtype);
    if (wrongtype)
        return false;
    *g = *s ? stream_group_find(*s, ctx->argv[3], ctx->argvlen[3]) : NULL;
    if (*s == NULL && !*mkstream) {
        resp_add_error(ctx->out, "ERR The XGROUP subcommand requires the key to exist. Note that "
                                 "for CREATE you may want to use the MKSTREAM option to create an "
                                 "empty stream automatically.");
        return false;
    }
    return true;
}

static bool require_group(struct exec_ctx *ctx, const struct stream_group *g) {
    if (g != NULL)
        return true;
    resp_add_errorf(ctx->out, "NOGROUP No such consumer group '%.*s' for key name '%.*s'",
                    (int)ctx->argvlen[3], ctx->argv[3], (int)ctx->argvlen[2], ctx->argv[2]);
    return false;
}

void cmd_xgroup_create(struct exec_ctx *ctx) {
    struct stream *s;
    struct stream_group *g;
    bool mkstream;
    long long entries_read;
    if (ctx->argc > 8) {
        exec_reply_subcommand_syntax(ctx);
        return;
    }
    if (!xgroup_prepare(ctx, true, true, &s, &g, &mkstream, &entries_read))
        return;
    struct stream_id id = {0, 0};
    if (ctx->argvlen[4] == 1 && ctx->argv[4][0] == '$') {
        if (s != NULL)
            id = s->last_id;
    } else if (!stream_parse_id(ctx, 4, false, 0, &id)) {
        return;
    }
    if (s == NULL && (s = stream_create_key(ctx, 2)) == NULL)
        return;
    bool oom;
    if (stream_group_create(s, ctx->argv[3], ctx->argvlen[3], &id, entries_read, &oom) == NULL) {
        if (oom)
            exec_reply_oom(ctx);
        else
            resp_add_error(ctx->out, "BUSYGROUP Consumer Group name already exists");
        return;
    }
    stream_touch(ctx, 2);
    notify_keyspace_event(ctx, NOTIFY_STREAM, "xgroup-create", ctx->argv[2], ctx->argvlen[2]);
    exec_reply_ok(ctx);
}

void cmd_xgroup_setid(struct exec_ctx *ctx) {
    struct stream *s;
    struct stream_group *g;
    bool mkstream;
    long long entries_read;
    if (ctx->argc != 5 && ctx->argc != 7) {
        exec_reply_subcommand_syntax(ctx);
        return;
    }
    if (!xgroup_prepare(ctx, false, true, &s, &g, &mkstream, &entries_read) ||
        !require_group(ctx, g))
        return;
    struct stream_id id;
    if (ctx->argvlen[4] == 1 && ctx->argv[4][0] == '$')
        id = s->last_id;
    else if (!stream_parse_id(ctx, 4, true, 0, &id))
        return;
    g->last_id = id;
    g->entries_read = entries_read;
    stream_touch(ctx, 2);
    notify_keyspace_event(ctx, NOTIFY_STREAM, "xgroup-setid", ctx->argv[2], ctx->argvlen[2]);
    exec_reply_ok(ctx);
}

void cmd_xgroup_destroy(struct exec_ctx *ctx) {
    struct stream *s;
    struct stream_group *g;
    bool mkstream;
    long long entries_read;
    if (!xgroup_prepare(ctx, false, false, &s, &g, &mkstream, &entries_read))
        return;
    if (g != NULL) {
        stream_group_destroy(s, g);
        stream_touch(ctx, 2);
        notify_keyspace_event(ctx, NOTIFY_STREAM, "xgroup-destroy", ctx->argv[2], ctx->argvlen[2]);
    }
    resp_add_int(ctx->out, g != NULL);
}

void cmd_xgroup_createconsumer(struct exec_ctx *ctx) {
    struct stream *s;
    struct stream_group *g;
    bool mkstream;
    long long entries_read;
    if (!xgroup_prepare(ctx, false, false, &s, &g, &mkstream, &entries_read) ||
        !require_group(ctx, g))
        return;
    bool created;
    if (stream_consumer_get(g, ctx->argv[4], ctx->argvlen[4], ctx->now_ms, &created) == NULL) {
        exec_reply_oom(ctx);
        return;
    }
    if (created) {
        stream_touch(ctx, 2);
        notify_keyspace_event(ctx, NOTIFY_STREAM, "xgroup-createconsumer", ctx->argv[2],
                              ctx->argvlen[2]);
    }
    resp_add_int(ctx->out, created);
}

void cmd_xgroup_delconsumer(struct exec_ctx *ctx) {
    struct stream *s;
    struct stream_group *g;
    bool mkstream;
    long long entries_read;
    if (!xgroup_prepare(ctx, false, false, &s, &g, &mkstream, &entries_read) ||
        !require_group(ctx, g))
        return;
    struct stream_consumer *c = stream_consumer_find(g, ctx->argv[4], ctx->argvlen[4]);
    size_t pending = 0;
    if (c != NULL) {
        pending = stream_consumer_delete(g, c);
        stream_touch(ctx, 2);
        notify_keyspace_event(ctx, NOTIFY_STREAM, "xgroup-delconsumer", ctx->argv[2],
                              ctx->argvlen[2]);
    }
    resp_add_int(ctx->out, (long long)pending);
}

void cmd_xgroup_help(struct exec_ctx *ctx) {
    static const char *const lines[] = {
        "CREATE <key> <groupname> <id|$> [option]",
        "    Create a new consumer group. Options are:",
        "    * MKSTREAM",
        "      Create the empty stream if it does not exist.",
        "    * ENTRIESREAD entries_read",
        "      Set the group's entries_read counter (internal use).",
        "CREATECONSUMER <key> <groupname> <consumer>",
        "    Create a new consumer in the specified group.",
        "DELCONSUMER <key> <groupname> <consumer>",
        "    Remove the specified consumer.",
        "DESTROY <key> <groupname>",
        "    Remove the specified group.",
        "SETID <key> <groupname> <id|$> [ENTRIESREAD entries_read]",
        "    Set the current group ID and entries_read counter.",
        NULL,
    };
    exec_reply_help(ctx, lines);
}

/* ---- XACK ---- */

void cmd_xack(struct exec_ctx *ctx) {
    for (int i = 3; i < ctx->argc; i++) {
        struct stream_id id;
        if (!stream_parse_id(ctx, i, false, 0, &id))
            return;
    }
    bool wrongtype;
    struct stream *s = stream_lookup_write(ctx, 1, &wrongtype);
    if (wrongtype)
        return;
    struct stream_group *g = s ? stream_group_find(s, ctx->argv[2], ctx->argvlen[2]) : NULL;
    long long acked = 0;
    for (int i = 3; g != NULL && i < ctx->argc; i++) {
        struct stream_id id;
        stream_id_parse(ctx->argv[i], ctx->argvlen[i], 0, &id, NULL);
        acked += stream_pel_ack(g, &id);
    }
    if (acked)
        stream_touch(ctx, 1);
    resp_add_int(ctx->out, acked);
}

/* ---- XPENDING ---- */

static void xpending_summary(struct exec_ctx *ctx, const struct stream_group *g) {
    resp_add_array(ctx->out, 4);
    resp_add_int(ctx->out, (long long)idmap_len(g->pel));
    if (idmap_len(g->pel) == 0) {
        resp_add_null(ctx->out);
        resp_add_null(ctx->out);
        resp_add_null_array(ctx->out);
        return;
    }
    stream_reply_id(ctx, idmap_node_id(idmap_seek(g->pel, NULL)));
    stream_reply_id(ctx, idmap_node_id(idmap_seek_rev(g->pel, NULL)));
    size_t token = resp_begin_deferred(ctx->out);
    long long n = 0;
    for (size_t i = 0; i < g->nconsumers; i++) {
        const struct stream_consumer *c = g->consumers[i];
        if (idmap_len(c->pel) == 0)
            continue;
        resp_add_array(ctx->out, 2);
        resp_add_bulk(ctx->out, c->name, c->namelen);
        resp_add_bulk_ll(ctx->out, (long long)idmap_len(c->pel));
        n++;
    }
    resp_end_deferred(ctx->out, token, '*', n);
}

void cmd_xpending(struct exec_ctx *ctx) {
    long long min_idle = 0, count = 0;
    struct stream_id start = {0, 0}, end = {0, 0};
    int consumer_arg = 0;
    if (ctx->argc != 3 && (ctx->argc < 6 || ctx->argc > 9)) {
        exec_reply_syntax_error(ctx);
        return;
    }
    if (ctx->argc >= 6) {
        int at = 3;
        if (exec_arg_is(ctx, 3, "idle")) {
            if (!exec_arg_ll(ctx, 4, &min_idle))
                return;
            if (ctx->argc < 8) {
                exec_reply_syntax_error(ctx);
                return;
            }
            at += 2;
        }
        if (!exec_arg_ll(ctx, at + 2, &count))
            return;
        if (count < 0)
            count = 0;
        if (!stream_parse_interval(ctx, at, true, &start) ||
            !stream_parse_interval(ctx, at + 1, false, &end))
            return;
        if (at + 3 < ctx->argc)
            consumer_arg = at + 3;
    }
    bool wrongtype;
    struct stream *s = stream_lookup_read(ctx, 1, &wrongtype);
    if (wrongtype)
        return;
    struct stream_group *g = s ? stream_group_find(s, ctx->argv[2], ctx->argvlen[2]) : NULL;
    if (g == NULL) {
        reply_nogroup(ctx, 1, 2);
        return;
    }
    if (ctx->argc == 3) {
        xpending_summary(ctx, g);
        return;
    }
    struct idmap *pel = g->pel;
    if (consumer_arg) {
        struct stream_consumer *c =
            stream_consumer_find(g, ctx->argv[consumer_arg], ctx->argvlen[consumer_arg]);
        if (c == NULL) {
            resp_add_array(ctx->out, 0);
            return;
        }
        pel = c->pel;
    }
    size_t token = resp_begin_deferred(ctx->out);
    long long n = 0;
    for (struct idmap_node *p = idmap_seek(pel, &start);
         count && p && stream_id_cmp(idmap_node_id(p), &end) <= 0; p = idmap_next(p)) {
        const struct stream_nack *nack = idmap_node_value(p);
        int64_t idle = ctx->now_ms - nack->delivery_time_ms;
        if (min_idle && idle < min_idle)
            continue;
        resp_add_array(ctx->out, 4);
        stream_reply_id(ctx, idmap_node_id(p));
        resp_add_bulk(ctx->out, nack->consumer->name, nack->consumer->namelen);
        resp_add_int(ctx->out, idle < 0 ? 0 : idle);
        resp_add_int(ctx->out, (long long)nack->delivery_count);
        n++;
        count--;
    }
    resp_end_deferred(ctx->out, token, '*', n);
}

/* ---- XCLAIM / XAUTOCLAIM ---- */

/* Replies with the entry 'id' of 's', or a null when it is gone. */
static void reply_claimed(struct exec_ctx *ctx, const struct stream *s, const struct stream_id *id,
                          bool justid) {
    if (justid) {
        stream_reply_id(ctx, id);
        return;
    }
    struct stream_iter it;
    struct stream_id found;
    size_t nfv;
    stream_iter_init(&it, s, id, id, false);
    if (stream_iter_next(&it, &found, &nfv))
        stream_reply_entry(ctx, &it, &found, nfv);
    else
        resp_add_null(ctx->out);
}

/* Gives pending entry 'nack' ('id') to 'c' with the given delivery time. */
static bool transfer(struct stream_group *g, struct stream_nack *nack, const struct stream_id *id,
                     struct stream_consumer *c, int64_t delivery_ms, long long retrycount,
                     bool justid) {
    if (stream_pel_move(g, nack, id, c) != 0)
        return false;
    nack->delivery_time_ms = delivery_ms;
    if (retrycount >= 0)
        nack->delivery_count = (uint64_t)retrycount;
    else if (!justid)
        nack->delivery_count++;
    return true;
}

/* XCLAIM/XAUTOCLAIM preamble: the group at argv[1]/argv[2] and the
 * min-idle-time at argv[4]. Returns NULL after replying with an error. */
static struct stream_group *claim_target(struct exec_ctx *ctx, const char *cmd, struct stream **s,
                                         long long *min_idle) {
    bool wrongtype;
    *s = stream_lookup_write(ctx, 1, &wrongtype);
    if (wrongtype)
        return NULL;
    struct stream_group *g = *s ? stream_group_find(*s, ctx->argv[2], ctx->argvlen[2]) : NULL;
    if (g == NULL) {
        reply_nogroup(ctx, 1, 2);
        return NULL;
    }
    if (!obj_parse_ll(ctx->argv[4], ctx->argvlen[4], min_idle)) {
        resp_add_errorf(ctx->out, "ERR Invalid min-idle-time argument for %s", cmd);
        return NULL;
    }
    if (*min_idle < 0)
        *min_idle = 0;
    return g;
}

void cmd_xclaim(struct exec_ctx *ctx) {
    struct stream *s;
    long long min_idle;
    struct stream_group *g = claim_target(ctx, "XCLAIM", &s, &min_idle);
    if (g == NULL)
        return;
    /* IDs run until the first argument that is not one; options follow. */
    int last_id_arg = 4;
    struct stream_id scratch;
    while (last_id_arg + 1 < ctx->argc &&
           stream_id_parse(ctx->argv[last_id_arg + 1], ctx->argvlen[last_id_arg + 1], 0, &scratch,
                           NULL))
        last_id_arg++;
    long long delivery = -1, retrycount = -1;
    bool force = false, justid = false;
    struct stream_id lastid = {0, 0};
    for (int j = last_id_arg + 1; j < ctx->argc; j++) {
        bool more = j + 1 < ctx->argc;
        if (exec_arg_is(ctx, j, "force")) {
            force = true;
        } else if (exec_arg_is(ctx, j, "justid")) {
            justid = true;
        } else if (exec_arg_is(ctx, j, "idle") && more) {
            j++;
            if (!obj_parse_ll(ctx->argv[j], ctx->argvlen[j], &delivery)) {
                resp_add_error(ctx->out, "ERR Invalid IDLE option argument for XCLAIM");
                return;
            }
            delivery = ctx->now_ms - delivery;
        } else if (exec_arg_is(ctx, j, "time") && more) {
            j++;
            if (!obj_parse_ll(ctx->argv[j], ctx->argvlen[j], &delivery)) {
                resp_add_error(ctx->out, "ERR Invalid TIME option argument for XCLAIM");
                return;
            }
        } else if (exec_arg_is(ctx, j, "retrycount") && more) {
            j++;
            if (!obj_parse_ll(ctx->argv[j], ctx->argvlen[j], &retrycount)) {
                resp_add_error(ctx->out, "ERR Invalid RETRYCOUNT option argument for XCLAIM");
                return;
            }
        } else if (exec_arg_is(ctx, j, "lastid") && more) {
            if (!stream_parse_id(ctx, ++j, false, 0, &lastid))
                return;
        } else {
            resp_add_errorf(ctx->out, "ERR Unrecognized XCLAIM option '%.*s'", (int)ctx->argvlen[j],
                            ctx->argv[j]);
            return;
        }
    }
    /* Bogus delivery times (clock skew on the client) become "now", as Redis. */
    if (delivery < 0 || delivery > ctx->now_ms)
        delivery = ctx->now_ms;
    if (stream_id_cmp(&lastid, &g->last_id) > 0)
        g->last_id = lastid;

    struct stream_consumer *c = NULL;
    size_t token = resp_begin_deferred(ctx->out);
    long long n = 0;
    for (int j = 5; j <= last_id_arg; j++) {
        struct stream_id id;
        stream_id_parse(ctx->argv[j], ctx->argvlen[j], 0, &id, NULL);
        struct stream_nack *nack = idmap_find(g->pel, &id);
        if (!stream_contains(s, &id)) {
            stream_pel_ack(g, &id); /* the entry is gone: so is its PEL record */
            continue;
        }
        bool created = false;
        if (c == NULL && (nack != NULL || force))
            c = stream_consumer_get(g, ctx->argv[3], ctx->argvlen[3], ctx->now_ms, &created);
        if (created)
            notify_keyspace_event(ctx, NOTIFY_STREAM, "xgroup-createconsumer", ctx->argv[1],
                                  ctx->argvlen[1]);
        if (c == NULL && (nack != NULL || force))
            break;
        if (nack == NULL && force) {
            nack = stream_pel_add(g, c, &id);
            if (nack == NULL)
                break;
        } else if (nack == NULL) {
            continue;
        } else if (min_idle && ctx->now_ms - nack->delivery_time_ms < min_idle) {
            continue;
        }
        if (!transfer(g, nack, &id, c, delivery, retrycount, justid))
            break;
        reply_claimed(ctx, s, &id, justid);
        n++;
    }
    resp_end_deferred(ctx->out, token, '*', n);
    stream_touch(ctx, 1);
}

void cmd_xautoclaim(struct exec_ctx *ctx) {
    struct stream *s;
    long long min_idle, count = 100;
    struct stream_group *g = claim_target(ctx, "XAUTOCLAIM", &s, &min_idle);
    if (g == NULL)
        return;
    struct stream_id start;
    if (!stream_parse_interval(ctx, 5, true, &start))
        return;
    bool justid = false;
    for (int j = 6; j < ctx->argc; j++) {
        if (exec_arg_is(ctx, j, "count") && j + 1 < ctx->argc) {
            /* Redis caps COUNT so that count * attempts cannot overflow. */
            if (!obj_parse_ll(ctx->argv[j + 1], ctx->argvlen[j + 1], &count) || count < 1 ||
                count > LONG_MAX / 16) {
                resp_add_error(ctx->out, "ERR COUNT must be > 0");
                return;
            }
            j++;
        } else if (exec_arg_is(ctx, j, "justid")) {
            justid = true;
        } else {
            exec_reply_syntax_error(ctx);
            return;
        }
    }
    /* Decide first, reply after: the cursor comes before the entries. */
    struct stream_id *claimed = mem_alloc((size_t)count * sizeof(*claimed));
    struct stream_id *deleted = mem_alloc((size_t)count * sizeof(*deleted));
    if (claimed == NULL || deleted == NULL) {
        mem_free(claimed);
        mem_free(deleted);
        exec_reply_oom(ctx);
        return;
    }
    size_t nclaimed = 0, ndeleted = 0;
    long long attempts = count * 10, left = count;
    struct stream_consumer *c = NULL;
    struct idmap_node *p = idmap_seek(g->pel, &start);
    for (; p != NULL && attempts > 0 && left > 0; attempts--) {
        struct stream_id id = *idmap_node_id(p);
        struct stream_nack *nack = idmap_node_value(p);
        p = idmap_next(p); /* advance first: the current node may go */
        if (!stream_contains(s, &id)) {
            stream_pel_ack(g, &id);
            deleted[ndeleted++] = id;
            left--;
            continue;
        }
        if (min_idle && ctx->now_ms - nack->delivery_time_ms < min_idle)
            continue;
        bool created = false;
        if (c == NULL)
            c = stream_consumer_get(g, ctx->argv[3], ctx->argvlen[3], ctx->now_ms, &created);
        if (created)
            notify_keyspace_event(ctx, NOTIFY_STREAM, "xgroup-createconsumer", ctx->argv[1],
                                  ctx->argvlen[1]);
        if (c == NULL || !transfer(g, nack, &id, c, ctx->now_ms, -1, justid))
            break;
        claimed[nclaimed++] = id;
        left--;
    }
    struct stream_id cursor = {0, 0};
    if (p != NULL)
        cursor = *idmap_node_id(p);
    resp_add_array(ctx->out, 3);
    stream_reply_id(ctx, &cursor);
    resp_add_array(ctx->out, (long long)nclaimed);
    for (size_t i = 0; i < nclaimed; i++)
        reply_claimed(ctx, s, &claimed[i], justid);
    resp_add_array(ctx->out, (long long)ndeleted);
    for (size_t i = 0; i < ndeleted; i++)
        stream_reply_id(ctx, &deleted[i]);
    mem_free(claimed);
    mem_free(deleted);
    stream_touch(ctx, 1);
}
