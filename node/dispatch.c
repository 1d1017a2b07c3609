/* Command dispatch (see dispatch.h). The order of checks follows Redis 7.0's
 * processCommand: lookup, arity, authentication, then execution. */
#include "node/dispatch.h"

#include "node/acl.h"
#include "node/blocking.h"
#include "node/client.h"
#include "node/cluster_redirect.h"
#include "node/command.h"
#include "node/exec.h"
#include "node/info.h"
#include "node/latency.h"
#include "node/linread.h"
#include "node/monitor.h"
#include "node/multi.h"
#include "node/pause.h"
#include "node/persist.h"
#include "node/propose.h"
#include "node/replication.h"
#include "node/shard.h"
#include "node/pubsub.h"
#include "node/script.h"
#include "node/server.h"
#include "node/slowlog.h"
#include "node/tracking.h"

#include <ctype.h>
#include <stdio.h>
#include <string.h>

bool dispatch_is_authenticated(const struct client *c) {
    return !acl_auth_required(c);
}

void dispatch_client_connected(struct client *c) {
    acl_client_set_default(c);
    tracking_client_connected(c);
}

void dispatch_client_closed(struct client *c) {
    blocking_unblock(c, false);
    multi_client_reset(c);
    propose_client_closed(c);
    linread_client_closed(c);
    replication_client_closed(c);
    pause_client_closed(c);
    monitor_remove(c);
    pubsub_client_reset(c);
    tracking_client_closed(c);
}

void dispatch_client_reset(struct client *c) {
    monitor_remove(c);
    multi_client_reset(c);
    pubsub_client_reset(c);
    tracking_client_reset(c);
}

/* Redis's resetClient: CLIENT REPLY SKIP silences exactly the next command,
 * whether it runs or is rejected. */
static void advance_reply_mode(struct client *c) {
    if (c->reply_mode == REPLY_SKIP_THIS)
        c->reply_mode = REPLY_ON;
    else if (c->reply_mode == REPLY_SKIP_NEXT)
        c->reply_mode = REPLY_SKIP_THIS;
}

static void reject(struct client *c, struct command *cmd, const char *msg) {
    char aborted[600];
    msg = multi_reject(c, cmd, msg, aborted, sizeof(aborted));
    resp_add_error(c->reply_mode == REPLY_ON ? &c->out : &c->sink, msg);
    advance_reply_mode(c);
    server.stats.total_error_replies++;
    info_count_error(msg, strlen(msg));
    if (cmd != NULL)
        cmd->stats.rejected_calls++;
}

/* Redis 7.0: "unknown command 'x', with args beginning with: 'a' 'b' ". */
static void reject_unknown(struct client *c, int argc, char **argv, size_t *argvlen) {
    char args[160] = "";
    size_t used = 0;
    for (int i = 1; i < argc && used < 128; i++) {
        int room = 128 - (int)used;
        int n = snprintf(args + used, sizeof(args) - used, "'%.*s' ",
                         (int)(argvlen[i] < (size_t)room ? argvlen[i] : (size_t)room), argv[i]);
        if (n < 0)
            break;
        used += (size_t)n;
        if (used >= sizeof(args))
            used = sizeof(args) - 1;
    }
    char msg[512];
    snprintf(msg, sizeof(msg), "ERR unknown command '%.*s', with args beginning with: %s",
             (int)(argvlen[0] < 128 ? argvlen[0] : 128), argv[0], args);
    reject(c, NULL, msg);
}

static void reject_unknown_subcommand(struct client *c, struct command *parent, char *sub,
                                      size_t sublen) {
    char upper[64];
    size_t n = strlen(parent->name);
    for (size_t i = 0; i < n && i < sizeof(upper) - 1; i++)
        upper[i] = (char)toupper((unsigned char)parent->name[i]);
    upper[n < sizeof(upper) - 1 ? n : sizeof(upper) - 1] = '\0';
    char msg[512];
    snprintf(msg, sizeof(msg), "ERR unknown subcommand '%.*s'. Try %s HELP.",
             (int)(sublen < 128 ? sublen : 128), sub, upper);
    reject(c, parent, msg);
}

bool dispatch_joins_pending_writes(const struct client *c, int argc, char **argv, size_t *argvlen) {
    if (c->reply_mode != REPLY_ON || (c->flags & CLIENT_MULTI))
        return false;
    const struct command *cmd = command_lookup(argv[0], argvlen[0]);
    if (cmd != NULL && cmd->subcommands != NULL && argc >= 2)
        cmd = command_lookup_sub(cmd, argv[1], argvlen[1]);
    if (cmd == NULL)
        return false;
    uint32_t flags = script_command_flags(cmd, argc, argv, argvlen);
    return (flags & CMD_WRITE) && !(flags & (CMD_BLOCKING | CMD_PROPOSES_EFFECTS));
}

void dispatch_command(struct client *c, int argc, char **argv, size_t *argvlen) {
    c->rerun_deadline_ms = -1; /* only re-runs of a blocked command carry one */
    struct command *cmd = command_lookup(argv[0], argvlen[0]);
    /* Redis records the command before checking it (CLIENT LIST cmd=). */
    c->last_cmd = NULL;
    if (cmd == NULL) {
        reject_unknown(c, argc, argv, argvlen);
        return;
    }
    if (cmd->subcommands != NULL && argc >= 2) {
        struct command *sub = command_lookup_sub(cmd, argv[1], argvlen[1]);
        if (sub == NULL) {
            reject_unknown_subcommand(c, cmd, argv[1], argvlen[1]);
            return;
        }
        cmd = sub;
    }
    c->last_cmd = cmd;
    if (!command_arity_ok(cmd, argc)) {
        char msg[256];
        snprintf(msg, sizeof(msg), "ERR wrong number of arguments for '%s' command", cmd->fullname);
        reject(c, cmd, msg);
        return;
    }
    if (!(cmd->flags & CMD_NO_AUTH) && !dispatch_is_authenticated(c)) {
        reject(c, cmd, "NOAUTH Authentication required.");
        return;
    }
    const char *refusal = multi_refusal(c, cmd);
    if (refusal != NULL) {
        reject(c, cmd, refusal);
        return;
    }
    char denial[256];
    if (!acl_permits(c, cmd, argc, argv, argvlen, denial, sizeof(denial))) {
        reject(c, cmd, denial);
        return;
    }
    char redirect[256];
    if (cfg.cluster_enabled &&
        cluster_redirect(c, cmd, argc, argv, argvlen, redirect, sizeof(redirect))) {
        reject(c, cmd, redirect);
        return;
    }
    if ((shard_is_loading() || persist_is_loading()) && !(cmd->flags & CMD_LOADING)) {
        reject(c, cmd, "LOADING Redis is loading the dataset in memory");
        return;
    }
    if (!pubsub_allows(c, cmd)) {
        char msg[256];
        snprintf(msg, sizeof(msg),
                 "ERR Can't execute '%s': only (P|S)SUBSCRIBE / (P|S)UNSUBSCRIBE / PING / QUIT / "
                 "RESET are allowed in this context",
                 cmd->fullname);
        reject(c, cmd, msg);
        return;
    }
    /* A script past busy-reply-threshold serves other clients from its hook:
     * only SCRIPT KILL, FUNCTION KILL/STATS, SHUTDOWN NOSAVE... run. */
    const char *busy = script_busy_error(cmd, argc, argv, argvlen);
    if (busy != NULL) {
        reject(c, cmd, busy);
        return;
    }
    /* CLIENT PAUSE holds the command; it runs through here again later. */
    uint32_t flags = script_command_flags(cmd, argc, argv, argvlen);
    if (pause_postpones(c, cmd, flags) && pause_postpone(c, argc, argv, argvlen))
        return;
    if (multi_queues(c, cmd)) {
        multi_queue(c, cmd, argc, argv, argvlen);
        advance_reply_mode(c);
        return;
    }
    /* linearizable-reads: the read runs through here again once a Raft
     * barrier issued after its arrival has applied. */
    if (linread_postpones(c, cmd)) {
        linread_postpone(c, argc, argv, argvlen);
        return;
    }

    struct exec_ctx ctx = {
        .client = c,
        .out = c->reply_mode == REPLY_ON ? &c->out : &c->sink,
        .cmd = cmd,
        .argc = argc,
        .argv = argv,
        .argvlen = argvlen,
        .dbid = c->db,
    };
    unsigned long long errors_before = ctx.out->error_count;
    size_t reply_start = ctx.out->len;
    uint64_t start_us = server_monotonic_us();
    if ((flags & CMD_WRITE) && !(flags & CMD_PROPOSES_EFFECTS)) {
        propose_write(&ctx);
    } else {
        ctx.now_ms = server_now_ms_at(start_us);
        ctx.seed = server_random(); /* HRANDFIELD, ZRANDMEMBER, SRANDMEMBER */
        exec_run(&ctx);
    }
    tracking_after_command(c, cmd, argc, argv, argvlen);
    uint64_t duration_us = server_monotonic_us() - start_us;

    cmd->stats.calls++;
    cmd->stats.usec += duration_us;
    if (ctx.out->error_count != errors_before) {
        cmd->stats.failed_calls++;
        server.stats.total_error_replies += ctx.out->error_count - errors_before;
        info_count_reply_errors(ctx.out, reply_start, ctx.out->error_count - errors_before);
    }
    slowlog_record(c, cmd, argc, argv, argvlen, duration_us);
    latency_record_command(cmd->flags, duration_us);
    server.stats.commands_processed++;
    monitor_feed(c, cmd, c->db, argc, argv, argvlen);
    advance_reply_mode(c);
    /* Keys this command filled may wake clients blocked on them (Redis does
     * the same right after each command). */
    blocking_serve_ready();
}
