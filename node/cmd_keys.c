/* Generic key commands: DEL EXISTS. */
#include "node/cmd_handlers.h"
#include "node/db.h"
#include "node/exec.h"

void cmd_del(struct exec_ctx *ctx) {
    long long deleted = 0;
    for (int i = 1; i < ctx->argc; i++)
        deleted += db_delete(ctx, ctx->argv[i], ctx->argvlen[i]);
    resp_add_int(ctx->out, deleted);
}

void cmd_exists(struct exec_ctx *ctx) {
    long long found = 0;
    for (int i = 1; i < ctx->argc; i++)
        found += db_peek(ctx, ctx->argv[i], ctx->argvlen[i]) != NULL;
    resp_add_int(ctx->out, found);
}
