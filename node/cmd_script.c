/* EVAL, EVALSHA, EVAL_RO, EVALSHA_RO and SCRIPT LOAD/EXISTS/FLUSH/KILL/HELP
 * (Redis 7.0 eval.c). Argument checks and the script cache live here; the
 * engine is node/script.c. EVAL and EVALSHA reach this handler through
 * propose_write (script_init marks them as writes): the script is the unit
 * of replication and runs with the entry's time and seed. */
#include "node/cmd_handlers.h"
#include "node/exec.h"
#include "node/script.h"

#include <lua.h>
#include <stdio.h>
#include <string.h>

static void eval_generic(struct exec_ctx *ctx, bool by_sha, bool read_only) {
    int nkeys;
    if (!script_parse_numkeys(ctx, &nkeys))
        return;
    char sha[41];
    unsigned flags;
    if (by_sha) {
        if (!script_cache_find(ctx->argv[1], ctx->argvlen[1], &flags)) {
            resp_add_error(ctx->out, "NOSCRIPT No matching script. Please use EVAL.");
            return;
        }
        memcpy(sha, ctx->argv[1], 40);
        for (int i = 0; i < 40; i++)
            sha[i] = (char)(sha[i] >= 'A' && sha[i] <= 'F' ? sha[i] - 'A' + 'a' : sha[i]);
        sha[40] = '\0';
    } else if (script_cache_add(ctx->argv[1], ctx->argvlen[1], sha, &flags, true, ctx->out) != 0) {
        return;
    }
    /* Redis 7.0 scriptPrepareForRun: a script with a shebang declares
     * whether it writes; *_RO refuses one that may. */
    if (!(flags & SCRIPT_FLAG_EVAL_COMPAT) && read_only && !(flags & SCRIPT_FLAG_NO_WRITES)) {
        lua_pop(script_lua(), 1);
        resp_add_error(ctx->out,
                       "ERR Can not execute a script with write flag using *_ro command.");
        return;
    }
    struct script_call call = {
        .ctx = ctx,
        .name = sha,
        .flags = flags,
        .is_eval = true,
        .is_read_only = read_only || (flags & SCRIPT_FLAG_NO_WRITES),
        .nkeys = nkeys,
    };
    script_run(&call);
}

void cmd_eval(struct exec_ctx *ctx) {
    eval_generic(ctx, false, false);
}

void cmd_evalsha(struct exec_ctx *ctx) {
    eval_generic(ctx, true, false);
}

void cmd_eval_ro(struct exec_ctx *ctx) {
    eval_generic(ctx, false, true);
}

void cmd_evalsha_ro(struct exec_ctx *ctx) {
    eval_generic(ctx, true, true);
}

/* ---- SCRIPT ---- */

void cmd_script_load(struct exec_ctx *ctx) {
    char sha[41];
    unsigned flags;
    if (script_cache_add(ctx->argv[2], ctx->argvlen[2], sha, &flags, false, ctx->out) != 0)
        return;
    resp_add_bulk(ctx->out, sha, 40);
}

void cmd_script_exists(struct exec_ctx *ctx) {
    resp_add_array(ctx->out, ctx->argc - 2);
    for (int i = 2; i < ctx->argc; i++)
        resp_add_int(ctx->out, script_cache_exists(ctx->argv[i], ctx->argvlen[i]) ? 1 : 0);
}

void cmd_script_flush(struct exec_ctx *ctx) {
    if (ctx->argc > 3 ||
        (ctx->argc == 3 && !exec_arg_is(ctx, 2, "sync") && !exec_arg_is(ctx, 2, "async"))) {
        resp_add_error(ctx->out, "ERR SCRIPT FLUSH only support SYNC|ASYNC option");
        return;
    }
    script_cache_flush();
    exec_reply_ok(ctx);
}

void cmd_script_kill(struct exec_ctx *ctx) {
    const char *err = script_kill(true);
    if (err != NULL)
        resp_add_error(ctx->out, err);
    else
        exec_reply_ok(ctx);
}

/* SCRIPT DEBUG: keyraft has no Lua debugger; NO is accepted. */
void cmd_script_debug(struct exec_ctx *ctx) {
    if (exec_arg_is(ctx, 2, "no")) {
        exec_reply_ok(ctx);
    } else if (exec_arg_is(ctx, 2, "yes") || exec_arg_is(ctx, 2, "sync")) {
        resp_add_error(ctx->out, "ERR The Lua debugger is not supported by keyraft");
    } else {
        resp_add_error(ctx->out, "ERR Use SCRIPT DEBUG YES/SYNC/NO");
    }
}

void cmd_script_help(struct exec_ctx *ctx) {
    static const char *const lines[] = {
        "DEBUG (YES|SYNC|NO)",
        "    Set the debug mode for subsequent scripts executed.",
        "EXISTS <sha1> [<sha1> ...]",
        "    Return information about the existence of the scripts in the script cache.",
        "FLUSH [ASYNC|SYNC]",
        "    Flush the Lua scripts cache. Very dangerous on replicas.",
        "    When called without the optional mode argument, the behavior is determined by the",
        "    lazyfree-lazy-user-flush configuration directive. Valid modes are:",
        "    * ASYNC: Asynchronously flush the scripts cache.",
        "    * SYNC: Synchronously flush the scripts cache.",
        "KILL",
        "    Kill the currently executing Lua script.",
        "LOAD <script>",
        "    Load a script into the scripts cache without executing it.",
        NULL,
    };
    exec_reply_help(ctx, lines);
}
