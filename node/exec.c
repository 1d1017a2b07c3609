/* Command execution helpers (see exec.h). */
#include "node/exec.h"

#include "node/command.h"
#include "node/server.h"
#include "storage/object.h"

#include <ctype.h>
#include <stdio.h>
#include <strings.h>
#include <string.h>

void exec_run(struct exec_ctx *ctx) {
    ctx->cmd->handler(ctx);
    server.dirty += ctx->dirty;
}

void exec_reply_syntax_error(struct exec_ctx *ctx) {
    resp_add_error(ctx->out, "ERR syntax error");
}

void exec_reply_wrongtype(struct exec_ctx *ctx) {
    resp_add_error(ctx->out, "WRONGTYPE Operation against a key holding the wrong kind of value");
}

void exec_reply_not_integer(struct exec_ctx *ctx) {
    resp_add_error(ctx->out, "ERR value is not an integer or out of range");
}

void exec_reply_ok(struct exec_ctx *ctx) {
    resp_add_raw(ctx->out, "+OK\r\n", 5);
}

void exec_reply_oom(struct exec_ctx *ctx) {
    resp_add_error(ctx->out, "OOM command not allowed when used memory > 'maxmemory'.");
}

void exec_reply_help(struct exec_ctx *ctx, const char *const *lines) {
    size_t count = 0;
    while (lines[count] != NULL)
        count++;
    resp_add_array(ctx->out, (long long)count + 3);
    char first[160];
    size_t n = ctx->argvlen[0] < 64 ? ctx->argvlen[0] : 64;
    for (size_t i = 0; i < n; i++)
        first[i] = (char)toupper((unsigned char)ctx->argv[0][i]);
    snprintf(first + n, sizeof(first) - n,
             " <subcommand> [<arg> [value] [opt] ...]. Subcommands are:");
    resp_add_status(ctx->out, first);
    for (size_t i = 0; i < count; i++)
        resp_add_status(ctx->out, lines[i]);
    resp_add_status(ctx->out, "HELP");
    resp_add_status(ctx->out, "    Prints this help.");
}

bool exec_arg_ll(struct exec_ctx *ctx, int i, long long *out) {
    if (!obj_parse_ll(ctx->argv[i], ctx->argvlen[i], out)) {
        exec_reply_not_integer(ctx);
        return false;
    }
    return true;
}

bool exec_arg_is(const struct exec_ctx *ctx, int i, const char *word) {
    size_t len = strlen(word);
    return ctx->argvlen[i] == len && strncasecmp(ctx->argv[i], word, len) == 0;
}

void exec_reply_subcommand_syntax(struct exec_ctx *ctx) {
    char upper[32];
    size_t n = ctx->argvlen[0] < sizeof(upper) - 1 ? ctx->argvlen[0] : sizeof(upper) - 1;
    for (size_t i = 0; i < n; i++)
        upper[i] = (char)toupper((unsigned char)ctx->argv[0][i]);
    upper[n] = '\0';
    resp_add_errorf(ctx->out,
                    "ERR unknown subcommand or wrong number of arguments for '%.*s'. Try %s HELP.",
                    (int)(ctx->argvlen[1] < 128 ? ctx->argvlen[1] : 128), ctx->argv[1], upper);
}
