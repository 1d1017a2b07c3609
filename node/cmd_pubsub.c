/* Pub/Sub commands: SUBSCRIBE UNSUBSCRIBE PSUBSCRIBE PUNSUBSCRIBE PUBLISH
 * SSUBSCRIBE SUNSUBSCRIBE SPUBLISH and the PUBSUB introspection container,
 * with Redis 7.0's replies. Subscription state and delivery are pubsub.c's;
 * these handlers parse arguments and reply. */
#include "node/client.h"
#include "node/cluster_bus.h"
#include "node/cmd_handlers.h"
#include "node/config.h"
#include "node/exec.h"
#include "node/pubsub.h"

/* ---- Subscribing ---- */

static void subscribe_each(struct exec_ctx *ctx, enum pubsub_kind kind) {
    for (int i = 1; i < ctx->argc; i++)
        if (!pubsub_subscribe(ctx->client, kind, ctx->argv[i], ctx->argvlen[i], ctx->out))
            return;
}

static void unsubscribe_each(struct exec_ctx *ctx, enum pubsub_kind kind) {
    if (ctx->argc == 1)
        pubsub_unsubscribe_all(ctx->client, kind, ctx->out);
    else
        for (int i = 1; i < ctx->argc; i++)
            pubsub_unsubscribe(ctx->client, kind, ctx->argv[i], ctx->argvlen[i], ctx->out);
    pubsub_update_flag(ctx->client);
}

void cmd_subscribe(struct exec_ctx *ctx) {
    if (ctx->client == NULL)
        return;
    subscribe_each(ctx, PUBSUB_CHANNEL);
}

void cmd_psubscribe(struct exec_ctx *ctx) {
    if (ctx->client == NULL)
        return;
    subscribe_each(ctx, PUBSUB_PATTERN);
}

/* Redis 7.0: SSUBSCRIBE is refused where every command must get exactly one
 * reply (inside MULTI); SUBSCRIBE keeps its old MULTI behaviour. */
void cmd_ssubscribe(struct exec_ctx *ctx) {
    if (ctx->client == NULL)
        return;
    if (ctx->client->flags & CLIENT_MULTI) {
        resp_add_error(ctx->out, "ERR SSUBSCRIBE isn't allowed for a DENY BLOCKING client");
        return;
    }
    subscribe_each(ctx, PUBSUB_SHARD);
}

void cmd_unsubscribe(struct exec_ctx *ctx) {
    if (ctx->client == NULL)
        return;
    unsubscribe_each(ctx, PUBSUB_CHANNEL);
}

void cmd_punsubscribe(struct exec_ctx *ctx) {
    if (ctx->client == NULL)
        return;
    unsubscribe_each(ctx, PUBSUB_PATTERN);
}

void cmd_sunsubscribe(struct exec_ctx *ctx) {
    if (ctx->client == NULL)
        return;
    unsubscribe_each(ctx, PUBSUB_SHARD);
}

/* ---- Publishing ---- */

void cmd_publish(struct exec_ctx *ctx) {
    long long receivers =
        pubsub_publish(ctx->argv[1], ctx->argvlen[1], ctx->argv[2], ctx->argvlen[2]);
    /* Redis 7.0: in cluster mode every other node delivers it too. */
    if (cfg.cluster_enabled)
        cluster_bus_publish(ctx->argv[1], ctx->argvlen[1], ctx->argv[2], ctx->argvlen[2], false,
                            ctx->is_apply);
    resp_add_int(ctx->out, receivers);
}

void cmd_spublish(struct exec_ctx *ctx) {
    long long receivers =
        pubsub_publish_shard(ctx->argv[1], ctx->argvlen[1], ctx->argv[2], ctx->argvlen[2]);
    /* Redis 7.0: the other nodes of this shard deliver it too. */
    if (cfg.cluster_enabled)
        cluster_bus_publish(ctx->argv[1], ctx->argvlen[1], ctx->argv[2], ctx->argvlen[2], true,
                            ctx->is_apply);
    resp_add_int(ctx->out, receivers);
}

/* ---- PUBSUB ---- */

struct name_list {
    struct resp_out *out;
    long long count;
};

static void add_name(const char *name, size_t len, void *arg) {
    struct name_list *l = arg;
    resp_add_bulk(l->out, name, len);
    l->count++;
}

static void reply_channel_list(struct exec_ctx *ctx, enum pubsub_kind kind) {
    if (ctx->argc > 3) {
        exec_reply_subcommand_syntax(ctx);
        return;
    }
    struct name_list l = {.out = ctx->out};
    size_t token = resp_begin_deferred(ctx->out);
    if (ctx->argc == 3)
        pubsub_each(kind, ctx->argv[2], ctx->argvlen[2], add_name, &l);
    else
        pubsub_each(kind, NULL, 0, add_name, &l);
    resp_end_deferred(ctx->out, token, '*', l.count);
}

static void reply_numsub(struct exec_ctx *ctx, enum pubsub_kind kind) {
    resp_add_array(ctx->out, (long long)(ctx->argc - 2) * 2);
    for (int i = 2; i < ctx->argc; i++) {
        resp_add_bulk(ctx->out, ctx->argv[i], ctx->argvlen[i]);
        resp_add_int(ctx->out,
                     (long long)pubsub_subscriber_count(kind, ctx->argv[i], ctx->argvlen[i]));
    }
}

void cmd_pubsub_channels(struct exec_ctx *ctx) {
    reply_channel_list(ctx, PUBSUB_CHANNEL);
}

void cmd_pubsub_shardchannels(struct exec_ctx *ctx) {
    reply_channel_list(ctx, PUBSUB_SHARD);
}

void cmd_pubsub_numsub(struct exec_ctx *ctx) {
    reply_numsub(ctx, PUBSUB_CHANNEL);
}

void cmd_pubsub_shardnumsub(struct exec_ctx *ctx) {
    reply_numsub(ctx, PUBSUB_SHARD);
}

void cmd_pubsub_numpat(struct exec_ctx *ctx) {
    resp_add_int(ctx->out, (long long)pubsub_total(PUBSUB_PATTERN));
}

void cmd_pubsub_help(struct exec_ctx *ctx) {
    static const char *const lines[] = {
        "CHANNELS [<pattern>]",
        "    Return the currently active channels matching a <pattern> (default: '*').",
        "NUMPAT",
        "    Return number of subscriptions to patterns.",
        "NUMSUB [<channel> ...]",
        "    Return the number of subscribers for the specified channels, excluding",
        "    pattern subscriptions(default: no channels).",
        "SHARDCHANNELS [<pattern>]",
        "    Return the currently active shard level channels matching a <pattern> (default: "
        "'*').",
        "SHARDNUMSUB [<shardchannel> ...]",
        "    Return the number of subscribers for the specified shard level channel(s)",
        NULL,
    };
    exec_reply_help(ctx, lines);
}
