/* Connection commands: PING ECHO QUIT SELECT. */
#include "node/client.h"
#include "node/cmd_handlers.h"
#include "node/exec.h"
#include "node/server.h"

void cmd_ping(struct exec_ctx *ctx) {
    if (ctx->argc > 2) {
        resp_add_error(ctx->out, "ERR wrong number of arguments for 'ping' command");
        return;
    }
    if (ctx->argc == 1)
        resp_add_raw(ctx->out, "+PONG\r\n", 7);
    else
        resp_add_bulk(ctx->out, ctx->argv[1], ctx->argvlen[1]);
}

void cmd_echo(struct exec_ctx *ctx) {
    resp_add_bulk(ctx->out, ctx->argv[1], ctx->argvlen[1]);
}

void cmd_quit(struct exec_ctx *ctx) {
    exec_reply_ok(ctx);
    if (ctx->client != NULL)
        client_close_after_reply(ctx->client);
}

void cmd_select(struct exec_ctx *ctx) {
    long long id;
    if (!exec_arg_ll(ctx, 1, &id))
        return;
    if (cfg.cluster_enabled && id != 0) {
        resp_add_error(ctx->out, "ERR SELECT is not allowed in cluster mode");
        return;
    }
    if (id < 0 || id >= cfg.databases) {
        resp_add_error(ctx->out, "ERR DB index is out of range");
        return;
    }
    ctx->client->db = (int)id;
    exec_reply_ok(ctx);
}
