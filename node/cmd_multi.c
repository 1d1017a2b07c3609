/* Transaction commands: MULTI EXEC DISCARD WATCH UNWATCH, with Redis 7.0's
 * replies. The state they act on (queue, flags, WATCH registry) is
 * node/multi.c's; queuing itself happens in dispatch. This file runs an
 * EXEC: it decides on the applied state whether the transaction runs, then
 * runs the whole queue as one write (propose_write) or, when nothing in it
 * writes, at once. */
#include "node/acl.h"
#include "node/client.h"
#include "node/cmd_handlers.h"
#include "node/command.h"
#include "node/exec.h"
#include "node/monitor.h"
#include "node/multi.h"
#include "node/propose.h"
#include "node/server.h"
#include "node/shard.h"
#include "node/slowlog.h"

#include <stdio.h>
#include <stdlib.h>

void cmd_multi(struct exec_ctx *ctx) {
    struct client *c = ctx->client;
    if (c == NULL) {
        resp_add_error(ctx->out, "ERR MULTI is not allowed here");
        return;
    }
    if (c->flags & CLIENT_MULTI) {
        resp_add_error(ctx->out, "ERR MULTI calls can not be nested");
        return;
    }
    if (!multi_start(c)) {
        resp_add_error(ctx->out, "ERR out of memory");
        return;
    }
    exec_reply_ok(ctx);
}

void cmd_discard(struct exec_ctx *ctx) {
    struct client *c = ctx->client;
    if (c == NULL || !(c->flags & CLIENT_MULTI)) {
        resp_add_error(ctx->out, "ERR DISCARD without MULTI");
        return;
    }
    multi_end(c);
    exec_reply_ok(ctx);
}

void cmd_watch(struct exec_ctx *ctx) {
    struct client *c = ctx->client;
    if (c == NULL) {
        exec_reply_ok(ctx);
        return;
    }
    if (c->flags & CLIENT_MULTI) {
        resp_add_error(ctx->out, "ERR WATCH inside MULTI is not allowed");
        return;
    }
    /* Redis 7.0: no point watching more once a watched key was touched. */
    if (!multi_is_touched(c)) {
        for (int i = 1; i < ctx->argc; i++) {
            if (!multi_watch_key(c, ctx->dbid, ctx->argv[i], ctx->argvlen[i], ctx->now_ms)) {
                resp_add_error(ctx->out, "ERR out of memory");
                return;
            }
        }
    }
    exec_reply_ok(ctx);
    /* Writes proposed from now on touch the keys when proposed
     * (multi_touch_proposed); those already in flight touch them when they
     * apply, so the client's next command (the read it bases its EXEC on)
     * waits for them. */
    if (shard_group() != NULL)
        propose_wait_for_proposed(c);
}

void cmd_unwatch(struct exec_ctx *ctx) {
    if (ctx->client != NULL)
        multi_unwatch_all(ctx->client);
    exec_reply_ok(ctx);
}

/* ---- EXEC ---- */

/* The seed of the queued command at 'index': every command of one entry
 * gets its own stream, derived from the entry's seed (splitmix64). */
static uint64_t command_seed(uint64_t seed, int index) {
    uint64_t z = seed + (uint64_t)(index + 1) * 0x9e3779b97f4a7c15ULL;
    z = (z ^ (z >> 30)) * 0xbf58476d1ce4e5b9ULL;
    z = (z ^ (z >> 27)) * 0x94d049bb133111ebULL;
    return z ^ (z >> 31);
}

/* Runs one queued command with the transaction's context, accounting it
 * as Redis's call() does (command stats, slowlog, MONITOR). Errors reach
 * the server's error counters through dispatch, which counts EXEC's reply. */
static void run_one(struct exec_ctx *ctx, const struct multi_cmd *q, int index) {
    struct client *c = ctx->client;
    struct exec_ctx sub = {
        .client = c,
        .out = ctx->out,
        .cmd = q->cmd,
        .argc = q->argc,
        .argv = q->argv,
        .argvlen = q->argvlen,
        .dbid = c->db,
        .now_ms = ctx->now_ms,
        .seed = command_seed(ctx->seed, index),
        .is_apply = ctx->is_apply,
    };
    struct command *cmd = (struct command *)q->cmd;
    unsigned long long errors_before = ctx->out->error_count;
    uint64_t start_us = server_monotonic_us();
    exec_run(&sub);
    uint64_t duration_us = server_monotonic_us() - start_us;
    cmd->stats.calls++;
    cmd->stats.usec += duration_us;
    if (ctx->out->error_count != errors_before)
        cmd->stats.failed_calls++;
    server.stats.commands_processed++;
    slowlog_record(c, cmd, q->argc, q->argv, q->argvlen, duration_us);
    monitor_feed(c, cmd, c->db, q->argc, q->argv, q->argvlen);
}

/* Redis 7.0 execCommand: ACL rules are checked again at EXEC in case they
 * changed after the commands were queued; a refused command gets this
 * error in its place and the others run. */
static void reply_acl_changed(struct exec_ctx *ctx, enum acl_verdict verdict) {
    char reason[256];
    switch (verdict) {
    case ACL_DENIED_CMD:
        snprintf(reason, sizeof(reason), "no permission to execute the command or subcommand");
        break;
    case ACL_DENIED_KEY:
        snprintf(reason, sizeof(reason), "no permission to touch the specified keys");
        break;
    case ACL_DENIED_CHANNEL:
        snprintf(reason, sizeof(reason),
                 "no permission to access one of the channels used as arguments");
        break;
    default:
        snprintf(reason, sizeof(reason), "no permission");
        break;
    }
    resp_add_errorf(ctx->out,
                    "NOPERM ACLs rules changed between the moment the transaction was "
                    "accumulated and the EXEC call. This command is no longer allowed for the "
                    "following reason: %s",
                    reason);
}

/* Runs every queued command of ctx->client, replying with their replies as
 * one array. Commands whose ACL check failed ('verdicts') are skipped. */
static void run_queue(struct exec_ctx *ctx, const enum acl_verdict *verdicts) {
    int count;
    const struct multi_cmd *queue = multi_queued(ctx->client, &count);
    resp_add_array(ctx->out, count);
    for (int i = 0; i < count; i++) {
        if (verdicts != NULL && verdicts[i] != ACL_OK)
            reply_acl_changed(ctx, verdicts[i]);
        else
            run_one(ctx, &queue[i], i);
    }
}

/* The queue's ACL verdicts while the apply runs (set by cmd_exec). */
static const enum acl_verdict *applying_verdicts;

/* The apply of a transaction that writes: one write step for the whole
 * queue, so every command sees the entry's time and seed. */
static void apply_transaction(struct exec_ctx *ctx) {
    run_queue(ctx, applying_verdicts);
}

static struct command transaction_write = {
    .name = "exec",
    .fullname = "exec",
    .handler = apply_transaction,
    .flags = CMD_WRITE,
};

/* With a Raft group a write is a command of the current batch, replayed
 * from its arguments on every member. The queued commands are proposed
 * back to back, so they land contiguously in ONE entry, apply together with
 * its time and seeds, and reply in order after the array header. */
static void propose_each(struct exec_ctx *ctx, const enum acl_verdict *verdicts) {
    struct client *c = ctx->client;
    int count;
    const struct multi_cmd *queue = multi_queued(c, &count);
    resp_add_array(ctx->out, count);
    for (int i = 0; i < count; i++) {
        if (verdicts != NULL && verdicts[i] != ACL_OK) {
            reply_acl_changed(ctx, verdicts[i]);
            continue;
        }
        struct exec_ctx sub = {
            .client = c,
            .out = ctx->out,
            .cmd = queue[i].cmd,
            .argc = queue[i].argc,
            .argv = queue[i].argv,
            .argvlen = queue[i].argvlen,
            .dbid = c->db,
        };
        propose_write(&sub);
    }
}

void cmd_exec(struct exec_ctx *ctx) {
    struct client *c = ctx->client;
    if (c == NULL || !(c->flags & CLIENT_MULTI)) {
        resp_add_error(ctx->out, "ERR EXEC without MULTI");
        return;
    }
    switch (multi_verdict(c, ctx->now_ms)) {
    case MULTI_ABORT_ERRORS:
        resp_add_error(ctx->out, "EXECABORT Transaction discarded because of previous errors.");
        multi_end(c);
        return;
    case MULTI_ABORT_TOUCHED:
        resp_add_null_array(ctx->out);
        multi_end(c);
        return;
    case MULTI_RUN:
        break;
    }
    multi_unwatch_all(c);

    int count;
    const struct multi_cmd *queue = multi_queued(c, &count);
    enum acl_verdict *verdicts = NULL;
    if (count > 0) {
        verdicts = calloc((size_t)count, sizeof(*verdicts));
        if (verdicts == NULL) {
            resp_add_error(ctx->out, "ERR out of memory");
            multi_end(c);
            return;
        }
        for (int i = 0; i < count; i++)
            verdicts[i] =
                acl_check_queued(c, queue[i].cmd, queue[i].argc, queue[i].argv, queue[i].argvlen);
    }
    if (multi_has_writes(c) && shard_group() != NULL) {
        propose_each(ctx, verdicts);
    } else if (multi_has_writes(c)) {
        struct exec_ctx write = {
            .client = c,
            .out = ctx->out,
            .cmd = &transaction_write,
            .argc = ctx->argc,
            .argv = ctx->argv,
            .argvlen = ctx->argvlen,
            .dbid = ctx->dbid,
        };
        applying_verdicts = verdicts;
        propose_write(&write);
        applying_verdicts = NULL;
    } else {
        run_queue(ctx, verdicts);
    }
    free(verdicts);
    multi_end(c);
}
