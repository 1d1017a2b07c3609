/* The execution context a command handler runs in.
 *
 * Handlers take everything that could differ between members from here:
 * the time ('now_ms'), randomness ('seed'), the database and the arguments.
 * A write runs when it is applied (node/propose.c), so on every member of a
 * shard it sees the same context and computes the same result; a read runs
 * at once against the applied state. */
#ifndef KR_NODE_EXEC_H
#define KR_NODE_EXEC_H

#include "resp/writer.h"

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

struct client;
struct command;
struct keyspace;

struct exec_ctx {
    struct client *client; /* who asked, or NULL when nobody waits (replay, followers) */
    struct resp_out *out;  /* the reply goes here (a sink when nobody waits) */
    const struct command *cmd;
    int argc;
    char **argv;
    size_t *argvlen;
    int dbid;
    int64_t now_ms;  /* the command's time: the proposer's clock for writes */
    uint64_t seed;   /* the command's randomness */
    bool is_apply;   /* running as an applied write: may delete expired keys */
    long long dirty; /* keys this command changed */
};

/* Runs ctx->cmd's handler and accounts the changes it made. */
void exec_run(struct exec_ctx *ctx);

/* Replies "-ERR syntax error" and friends, with Redis's exact texts. */
void exec_reply_syntax_error(struct exec_ctx *ctx);
void exec_reply_wrongtype(struct exec_ctx *ctx);
void exec_reply_not_integer(struct exec_ctx *ctx);
void exec_reply_ok(struct exec_ctx *ctx);
/* "-OOM command not allowed when used memory > 'maxmemory'.": Redis's reply
 * when memory runs out, also used when an allocation for the command fails. */
void exec_reply_oom(struct exec_ctx *ctx);
/* Redis 7.0 addReplyHelp: an array of status lines, "<ARGV0> <subcommand> [<arg>
 * [value] [opt] ...]. Subcommands are:", then 'lines' (NULL-terminated), then
 * the HELP entry. */
void exec_reply_help(struct exec_ctx *ctx, const char *const *lines);
/* Redis 7.0 addReplySubcommandSyntaxError: "ERR unknown subcommand or wrong
 * number of arguments for '<argv[1]>'. Try <ARGV[0]> HELP." */
void exec_reply_subcommand_syntax(struct exec_ctx *ctx);

/* Argument helpers. Each replies with Redis's error text and returns false
 * when the argument does not parse. */
bool exec_arg_ll(struct exec_ctx *ctx, int i, long long *out);
bool exec_arg_is(const struct exec_ctx *ctx, int i, const char *word);

#endif
