/* The write step (see propose.h). Single-node for now: a write is applied
 * the moment it is proposed, with the proposer's clock and a fresh seed,
 * exactly the context a log entry will carry. */
#include "node/propose.h"

#include "node/exec.h"
#include "node/server.h"

void propose_write(struct exec_ctx *ctx) {
    ctx->now_ms = server_now_ms();
    ctx->seed = server_random();
    ctx->is_apply = true;
    exec_run(ctx);
}
