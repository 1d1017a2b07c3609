/* Server commands: DBSIZE FLUSHDB FLUSHALL. */
#include "node/cmd_handlers.h"
#include "node/db.h"
#include "node/exec.h"
#include "node/server.h"
#include "storage/keyspace.h"

void cmd_dbsize(struct exec_ctx *ctx) {
    struct keyspace *ks = server_db_if_exists(ctx->dbid);
    resp_add_int(ctx->out, ks ? (long long)keyspace_size(ks) : 0);
}

/* FLUSHDB/FLUSHALL [ASYNC|SYNC]: both modes free at once here (no lazy-free
 * thread), which is what SYNC promises and what ASYNC makes invisible. */
static bool parse_flush_mode(struct exec_ctx *ctx) {
    if (ctx->argc > 2 || (ctx->argc == 2 && !exec_arg_is(ctx, 1, "async") &&
                          !exec_arg_is(ctx, 1, "sync"))) {
        exec_reply_syntax_error(ctx);
        return false;
    }
    return true;
}

static void flush_db(struct exec_ctx *ctx, int id) {
    struct keyspace *ks = server_db_if_exists(id);
    if (ks != NULL) {
        ctx->dirty += (long long)keyspace_size(ks);
        keyspace_clear(ks);
    }
}

void cmd_flushdb(struct exec_ctx *ctx) {
    if (!parse_flush_mode(ctx))
        return;
    flush_db(ctx, ctx->dbid);
    exec_reply_ok(ctx);
}

void cmd_flushall(struct exec_ctx *ctx) {
    if (!parse_flush_mode(ctx))
        return;
    for (int id = 0; id < cfg.databases; id++)
        flush_db(ctx, id);
    exec_reply_ok(ctx);
}
