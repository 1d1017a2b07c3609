/* The write step: every write command reaches the keyspace through
 * propose_write and nowhere else.
 *
 * A write is given its context (time, seed) when proposed and executed when
 * applied. Until the Raft log sits behind this step, applying happens at
 * once; the Raft issue replaces the body without touching command code. */
#ifndef KR_NODE_PROPOSE_H
#define KR_NODE_PROPOSE_H

struct exec_ctx;

/* Proposes ctx's command as a write; its reply reaches ctx->out when it has
 * been applied. Fills ctx->now_ms and ctx->seed. */
void propose_write(struct exec_ctx *ctx);

#endif
