/* Cluster redirection (see cluster_redirect.h) and the ASKING, READONLY and
 * READWRITE commands. Finds a command's keys (key specs, or the queued
 * commands of an EXEC) and asks cluster/redirect.c for the decision; the
 * decision rules themselves live there. */
#include "node/cluster_redirect.h"

#include "cluster/nodes.h"
#include "cluster/redirect.h"
#include "node/client.h"
#include "node/cluster_mode.h"
#include "node/cmd_handlers.h"
#include "node/command.h"
#include "node/command_meta.h"
#include "node/config.h"
#include "node/exec.h"
#include "node/multi.h"
#include "node/server.h"
#include "storage/keyspace.h"

#include <stdlib.h>
#include <string.h>

#define INLINE_KEYS 32

/* Whether a key is live in db 0 (expired keys count as missing, as
 * lookupKeyReadWithFlags would see them). */
static bool key_exists(const char *key, size_t len, void *arg) {
    const int64_t *now_ms = arg;
    struct keyspace *ks = server_db_if_exists(0);
    struct kv *kv = ks != NULL ? keyspace_find(ks, key, len) : NULL;
    if (kv == NULL)
        return false;
    int64_t when = kv_expire(kv);
    return when < 0 || when > *now_ms;
}

/* Sharded pub/sub: the channels route like keys, but their presence is
 * never checked (Redis 7.0's is_pubsubshard). */
static bool is_pubsubshard(const struct command *cmd) {
    return strcmp(cmd->fullname, "spublish") == 0 || strcmp(cmd->fullname, "ssubscribe") == 0 ||
           strcmp(cmd->fullname, "sunsubscribe") == 0;
}

/* Adds the keys of one call to 'q'. Returns false when the decision is
 * already made (stop), or when memory runs out (then 'q' holds what it has). */
static bool add_call_keys(struct redirect_query *q, const struct command *cmd, int argc,
                          char **argv, size_t *argvlen) {
    if (is_pubsubshard(cmd)) {
        /* SPUBLISH channel message; SSUBSCRIBE/SUNSUBSCRIBE channel... */
        int last = strcmp(cmd->fullname, "spublish") == 0 ? 1 : argc - 1;
        for (int i = 1; i <= last && i < argc; i++)
            if (!redirect_add_key(q, argv[i], argvlen[i]))
                return false;
        return true;
    }
    if (!(cmd->flags & CMD_MOVABLE_KEYS) && !command_meta_has_keys(cmd))
        return true;
    struct keyref inline_refs[INLINE_KEYS];
    struct keyref *refs = inline_refs;
    int max = INLINE_KEYS;
    if (argc > INLINE_KEYS) {
        refs = malloc((size_t)argc * sizeof(*refs));
        if (refs == NULL)
            return false;
        max = argc;
    }
    int n = command_meta_getkeys(cmd, argc, argv, argvlen, refs, max);
    bool more = true;
    for (int i = 0; i < n && more; i++)
        more = redirect_add_key(q, argv[refs[i].pos], argvlen[refs[i].pos]);
    if (refs != inline_refs)
        free(refs);
    return more;
}

bool cluster_redirect(struct client *c, const struct command *cmd, int argc, char **argv,
                      size_t *argvlen, char *msg, size_t msglen) {
    bool is_exec = strcmp(cmd->fullname, "exec") == 0;
    bool in_multi = (c->flags & CLIENT_MULTI) != 0;
    bool asking = (c->flags & CLIENT_ASKING) != 0;
    /* Redis clears ASKING after each command except ASKING itself, unless
     * the client is in a transaction once the command is done (MULTI, and
     * everything queued until EXEC or DISCARD). */
    bool ends_in_multi = strcmp(cmd->fullname, "multi") == 0 ||
                         (in_multi && !is_exec && strcmp(cmd->fullname, "discard") != 0);
    if (strcmp(cmd->fullname, "asking") != 0 && !ends_in_multi)
        c->flags &= ~(uint32_t)CLIENT_ASKING;

    struct cluster_state *cs = cluster_mode_state();
    if (cs == NULL)
        return false;
    int64_t now_ms = server_now_ms();
    struct redirect_query q;
    redirect_query_init(&q, cs, key_exists, &now_ms);
    unsigned flags = 0;
    if (is_exec) {
        if (!in_multi)
            return false;
        int count;
        const struct multi_cmd *queued = multi_queued(c, &count);
        for (int i = 0; i < count; i++)
            if (!add_call_keys(&q, queued[i].cmd, queued[i].argc, queued[i].argv,
                               queued[i].argvlen))
                break;
        if (multi_has_writes(c))
            flags |= REDIRECT_F_WRITE;
    } else {
        add_call_keys(&q, cmd, argc, argv, argvlen);
        if (cmd->flags & CMD_WRITE)
            flags |= REDIRECT_F_WRITE;
    }
    if (asking || strstr(cmd->flag_names, "asking") != NULL)
        flags |= REDIRECT_F_ASKING;
    if ((c->flags & CLIENT_READONLY) || is_pubsubshard(cmd))
        flags |= REDIRECT_F_READONLY;
    if (strcmp(cmd->fullname, "migrate") == 0)
        flags |= REDIRECT_F_MIGRATE;
    /* Sharded pub/sub is allowed while down (cluster-allow-pubsubshard-when-down
     * is yes and not settable yet); other commands follow
     * cluster-allow-reads-when-down. */
    if (cfg.cluster_allow_reads_when_down || is_pubsubshard(cmd))
        flags |= REDIRECT_F_READS_WHEN_DOWN;
    if (is_pubsubshard(cmd))
        flags &= ~(uint32_t)REDIRECT_F_WRITE;

    struct redirect_result r = redirect_decide(&q, flags);
    if (r.kind == REDIRECT_NONE)
        return false;
    redirect_format(&r, msg, msglen);
    if (is_exec)
        multi_end(c);
    return true;
}

/* ---- ASKING, READONLY, READWRITE ---- */

static bool cluster_on(struct exec_ctx *ctx) {
    if (!cfg.cluster_enabled) {
        resp_add_error(ctx->out, "ERR This instance has cluster support disabled");
        return false;
    }
    return true;
}

void cmd_asking(struct exec_ctx *ctx) {
    if (!cluster_on(ctx))
        return;
    if (ctx->client != NULL)
        ctx->client->flags |= CLIENT_ASKING;
    exec_reply_ok(ctx);
}

void cmd_readonly(struct exec_ctx *ctx) {
    if (!cluster_on(ctx))
        return;
    if (ctx->client != NULL)
        ctx->client->flags |= CLIENT_READONLY;
    exec_reply_ok(ctx);
}

void cmd_readwrite(struct exec_ctx *ctx) {
    if (!cluster_on(ctx))
        return;
    if (ctx->client != NULL)
        ctx->client->flags &= ~(uint32_t)CLIENT_READONLY;
    exec_reply_ok(ctx);
}
