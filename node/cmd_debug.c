/* DEBUG: the subcommands keyraft implements, DIGEST and DIGEST-VALUE (the
 * proof that the members of a shard hold the same data), plus HELP. Every
 * other DEBUG subcommand of Redis 7.0 (RELOAD, SLEEP, OBJECT, POPULATE, ...)
 * gets Redis's unknown-subcommand error. The digest arithmetic is
 * storage/digest's. */
#include "node/cmd_handlers.h"

#include "node/client.h"
#include "node/config.h"
#include "node/exec.h"
#include "node/server.h"
#include "storage/digest.h"

#include <string.h>

/* Redis 7.0 processCommand refuses DEBUG unless enable-debug-command
 * allows this client (default "no"). Redis checks it before authentication;
 * here it comes after, which only changes which error an unauthenticated
 * client sees. */
static bool debug_allowed(struct exec_ctx *ctx) {
    if (config_protected_allowed(cfg.enable_debug_command,
                                 ctx->client != NULL ? ctx->client->addr : NULL))
        return true;
    resp_add_error(ctx->out,
                   "ERR DEBUG command not allowed. If the enable-debug-command option is set to "
                   "\"local\", you can run it from a local connection, otherwise you need to set "
                   "this option in the configuration file, and then restart the server.");
    return false;
}

static void reply_digest(struct exec_ctx *ctx, const uint8_t digest[DIGEST_LEN]) {
    char hex[DIGEST_HEX_LEN + 1];
    digest_hex(digest, hex);
    resp_add_status(ctx->out, hex);
}

/* DEBUG DIGEST: every database in order, expired-but-stored keys included. */
static void debug_digest(struct exec_ctx *ctx) {
    uint8_t dataset[DIGEST_LEN] = {0};
    for (long long i = 0; i < cfg.databases; i++)
        digest_keyspace(dataset, (unsigned)i, server_db_if_exists((int)i));
    reply_digest(ctx, dataset);
}

/* DEBUG DIGEST-VALUE key ...: the value digest of each key of the selected
 * database (zeroes when absent). As Redis, it reads the stored record, so a
 * logically expired key that is still stored has its value's digest. */
static void debug_digest_value(struct exec_ctx *ctx) {
    struct keyspace *ks = server_db_if_exists(ctx->dbid);
    resp_add_array(ctx->out, ctx->argc - 2);
    for (int i = 2; i < ctx->argc; i++) {
        uint8_t digest[DIGEST_LEN] = {0};
        const struct kv *kv = ks != NULL ? keyspace_find(ks, ctx->argv[i], ctx->argvlen[i]) : NULL;
        if (kv != NULL)
            digest_value(kv, digest);
        reply_digest(ctx, digest);
    }
}

static const char *const debug_help[] = {
    "DIGEST",
    "    Output a hex signature representing the current DB content.",
    "DIGEST-VALUE <key> [<key> ...]",
    "    Output a hex signature of the values of all the specified keys.",
    NULL,
};

void cmd_debug(struct exec_ctx *ctx) {
    if (!debug_allowed(ctx))
        return;
    if (ctx->argc == 2 && exec_arg_is(ctx, 1, "help"))
        exec_reply_help(ctx, debug_help);
    else if (ctx->argc == 2 && exec_arg_is(ctx, 1, "digest"))
        debug_digest(ctx);
    else if (exec_arg_is(ctx, 1, "digest-value"))
        debug_digest_value(ctx);
    else
        exec_reply_subcommand_syntax(ctx);
}
