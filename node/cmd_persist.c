/* SAVE, BGSAVE and BGREWRITEAOF (Redis 7.0 replies and errors); the work
 * is node/persist.c's and node/compaction.c's. LASTSAVE lives with the
 * other server commands. */
#include "node/client.h"
#include "node/cmd_handlers.h"
#include "node/compaction.h"
#include "node/exec.h"
#include "node/persist.h"

#define ERR_BGSAVE_RUNNING "ERR Background save already in progress"

void cmd_save(struct exec_ctx *ctx) {
    if (persist_bgsave_in_progress()) {
        resp_add_error(ctx->out, ERR_BGSAVE_RUNNING);
        return;
    }
    if (persist_save() == 0)
        exec_reply_ok(ctx);
    else
        resp_add_error(ctx->out, "ERR");
}

/* BGSAVE [SCHEDULE]: Redis 7.0 bgsaveCommand. A save already running is an
 * error even with SCHEDULE (that option waits for other kinds of child,
 * which keyraft does not have); inside MULTI/EXEC the fork is deferred to
 * the cron so the child never sees half a transaction. */
void cmd_bgsave(struct exec_ctx *ctx) {
    if (ctx->argc > 1 && !(ctx->argc == 2 && exec_arg_is(ctx, 1, "schedule"))) {
        exec_reply_syntax_error(ctx);
        return;
    }
    if (persist_bgsave_in_progress()) {
        resp_add_error(ctx->out, ERR_BGSAVE_RUNNING);
        return;
    }
    if (ctx->client != NULL && (ctx->client->flags & CLIENT_MULTI)) {
        persist_schedule_bgsave();
        resp_add_status(ctx->out, "Background saving scheduled");
        return;
    }
    if (persist_bgsave() == 0)
        resp_add_status(ctx->out, "Background saving started");
    else
        resp_add_error(ctx->out, "ERR");
}

/* BGREWRITEAOF: Redis 7.0 bgrewriteaofCommand. keyraft's AOF is the Raft
 * log, and rewriting it means taking a Raft snapshot, which compacts the
 * log. Without a log there is nothing to rewrite: the reply is the same.
 * The child is forked between two applied entries, so inside MULTI/EXEC it
 * never sees half a transaction. */
void cmd_bgrewriteaof(struct exec_ctx *ctx) {
    switch (compaction_request(COMPACTION_REWRITE)) {
    case COMPACTION_BUSY:
        resp_add_error(ctx->out, "ERR Background append only file rewriting already in progress");
        return;
    case COMPACTION_SCHEDULED:
        resp_add_status(ctx->out, "Background append only file rewriting scheduled");
        return;
    default:
        resp_add_status(ctx->out, "Background append only file rewriting started");
    }
}
