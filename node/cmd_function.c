/* FUNCTION LOAD/DELETE/FLUSH/LIST/DUMP/RESTORE/STATS/KILL/HELP and FCALL,
 * FCALL_RO (Redis 7.0 functions.c). The registry is node/function.c, the
 * engine node/script.c. FCALL reaches its handler through propose_write
 * (script_init marks it as a write), FUNCTION LOAD/DELETE/FLUSH/RESTORE are
 * writes in the table: functions are replicated like data. */
#include "node/cmd_handlers.h"
#include "node/exec.h"
#include "node/function.h"
#include "node/script.h"
#include "storage/glob.h"
#include "storage/object.h"

#include <ctype.h>
#include <lauxlib.h>
#include <stdio.h>
#include <string.h>

static void fcall_generic(struct exec_ctx *ctx, bool read_only) {
    /* Redis 7.0 fcallCommandGeneric: the function first, then numkeys. */
    const struct function *fn = function_find(ctx->argv[1], ctx->argvlen[1]);
    if (fn == NULL) {
        resp_add_error(ctx->out, "ERR Function not found");
        return;
    }
    long long n;
    if (!obj_parse_ll(ctx->argv[2], ctx->argvlen[2], &n)) {
        resp_add_error(ctx->out, "ERR Bad number of keys provided");
        return;
    }
    int nkeys;
    if (!script_parse_numkeys(ctx, &nkeys))
        return;
    if (read_only && !(fn->flags & SCRIPT_FLAG_NO_WRITES)) {
        resp_add_error(ctx->out,
                       "ERR Can not execute a script with write flag using *_ro command.");
        return;
    }
    lua_rawgeti(script_lua(), LUA_REGISTRYINDEX, fn->ref);
    struct script_call call = {
        .ctx = ctx,
        .name = fn->name,
        .flags = fn->flags,
        .is_eval = false,
        .is_read_only = read_only || (fn->flags & SCRIPT_FLAG_NO_WRITES),
        .nkeys = nkeys,
    };
    script_run(&call);
}

void cmd_fcall(struct exec_ctx *ctx) {
    fcall_generic(ctx, false);
}

void cmd_fcall_ro(struct exec_ctx *ctx) {
    fcall_generic(ctx, true);
}

void cmd_function_load(struct exec_ctx *ctx) {
    bool replace = false;
    int at = 2;
    for (; at < ctx->argc - 1; at++) {
        if (exec_arg_is(ctx, at, "replace")) {
            replace = true;
        } else {
            resp_add_errorf(ctx->out, "ERR Unknown option given: %.*s", (int)ctx->argvlen[at],
                            ctx->argv[at]);
            return;
        }
    }
    if (at != ctx->argc - 1) {
        resp_add_error(ctx->out, "ERR Function code was not given.");
        return;
    }
    function_load(ctx->argv[at], ctx->argvlen[at], replace, ctx->out);
    ctx->dirty++;
}

void cmd_function_delete(struct exec_ctx *ctx) {
    if (!function_delete(ctx->argv[2], ctx->argvlen[2])) {
        resp_add_error(ctx->out, "ERR Library not found");
        return;
    }
    ctx->dirty++;
    exec_reply_ok(ctx);
}

void cmd_function_flush(struct exec_ctx *ctx) {
    if (ctx->argc > 3) {
        exec_reply_subcommand_syntax(ctx);
        return;
    }
    if (ctx->argc == 3 && !exec_arg_is(ctx, 2, "sync") && !exec_arg_is(ctx, 2, "async")) {
        resp_add_error(ctx->out, "ERR FUNCTION FLUSH only supports SYNC|ASYNC option");
        return;
    }
    function_flush();
    ctx->dirty++;
    exec_reply_ok(ctx);
}

static void reply_function(struct exec_ctx *ctx, const struct function *fn) {
    resp_add_map(ctx->out, 3);
    resp_add_bulk_cstr(ctx->out, "name");
    resp_add_bulk_cstr(ctx->out, fn->name);
    resp_add_bulk_cstr(ctx->out, "description");
    if (fn->description != NULL)
        resp_add_bulk_cstr(ctx->out, fn->description);
    else
        resp_add_null(ctx->out);
    resp_add_bulk_cstr(ctx->out, "flags");
    int count = 0;
    for (unsigned f = 1; f <= SCRIPT_FLAG_ALLOW_CROSS_SLOT; f <<= 1)
        count += (fn->flags & f) != 0;
    resp_add_set(ctx->out, count);
    for (unsigned f = 1; f <= SCRIPT_FLAG_ALLOW_CROSS_SLOT; f <<= 1)
        if (fn->flags & f)
            resp_add_status(ctx->out, script_flag_name(f));
}

/* FUNCTION LIST [WITHCODE] [LIBRARYNAME pattern] */
void cmd_function_list(struct exec_ctx *ctx) {
    bool with_code = false;
    const char *pattern = NULL;
    size_t pattern_len = 0;
    for (int i = 2; i < ctx->argc; i++) {
        if (exec_arg_is(ctx, i, "withcode") && !with_code) {
            with_code = true;
        } else if (exec_arg_is(ctx, i, "libraryname") && pattern == NULL) {
            if (i + 1 >= ctx->argc) {
                resp_add_error(ctx->out, "ERR library name argument was not given");
                return;
            }
            pattern = ctx->argv[++i];
            pattern_len = ctx->argvlen[i];
        } else {
            resp_add_errorf(ctx->out, "ERR Unknown argument %.*s", (int)ctx->argvlen[i],
                            ctx->argv[i]);
            return;
        }
    }
    size_t count;
    struct library *const *libs = function_libraries(&count);
    size_t token = resp_begin_deferred(ctx->out);
    long long listed = 0;
    for (size_t i = 0; i < count; i++) {
        const struct library *lib = libs[i];
        if (pattern != NULL &&
            !glob_match(pattern, pattern_len, lib->name, strlen(lib->name), true))
            continue;
        listed++;
        resp_add_map(ctx->out, with_code ? 4 : 3);
        resp_add_bulk_cstr(ctx->out, "library_name");
        resp_add_bulk_cstr(ctx->out, lib->name);
        resp_add_bulk_cstr(ctx->out, "engine");
        resp_add_bulk_cstr(ctx->out, "LUA");
        resp_add_bulk_cstr(ctx->out, "functions");
        resp_add_array(ctx->out, (long long)lib->function_count);
        for (size_t f = 0; f < lib->function_count; f++)
            reply_function(ctx, &lib->functions[f]);
        if (with_code) {
            resp_add_bulk_cstr(ctx->out, "library_code");
            resp_add_bulk(ctx->out, lib->code, lib->code_len);
        }
    }
    resp_end_deferred(ctx->out, token, '*', listed);
}

void cmd_function_dump(struct exec_ctx *ctx) {
    function_dump(ctx->out);
}

/* FUNCTION RESTORE payload [FLUSH|APPEND|REPLACE] */
void cmd_function_restore(struct exec_ctx *ctx) {
    if (ctx->argc > 4) {
        exec_reply_subcommand_syntax(ctx);
        return;
    }
    enum function_restore_policy policy = FUNCTION_RESTORE_APPEND;
    if (ctx->argc == 4) {
        if (exec_arg_is(ctx, 3, "flush"))
            policy = FUNCTION_RESTORE_FLUSH;
        else if (exec_arg_is(ctx, 3, "replace"))
            policy = FUNCTION_RESTORE_REPLACE;
        else if (!exec_arg_is(ctx, 3, "append")) {
            resp_add_error(ctx->out, "ERR Wrong restore policy given, value should be either "
                                     "FLUSH, APPEND or REPLACE.");
            return;
        }
    }
    function_restore(ctx->argv[2], ctx->argvlen[2], policy, ctx->out);
    ctx->dirty++;
}

void cmd_function_stats(struct exec_ctx *ctx) {
    if (script_running_is_eval()) {
        resp_add_error(ctx->out, "BUSY Redis is busy running a script. You can only call SCRIPT "
                                 "KILL or SHUTDOWN NOSAVE.");
        return;
    }
    resp_add_map(ctx->out, 2);
    resp_add_bulk_cstr(ctx->out, "running_script");
    const char *name;
    struct exec_ctx *running;
    int64_t duration_ms;
    if (script_running_function(&name, &running, &duration_ms)) {
        resp_add_map(ctx->out, 3);
        resp_add_bulk_cstr(ctx->out, "name");
        resp_add_bulk_cstr(ctx->out, name);
        resp_add_bulk_cstr(ctx->out, "command");
        resp_add_array(ctx->out, running->argc);
        for (int i = 0; i < running->argc; i++)
            resp_add_bulk(ctx->out, running->argv[i], running->argvlen[i]);
        resp_add_bulk_cstr(ctx->out, "duration_ms");
        resp_add_int(ctx->out, duration_ms);
    } else {
        resp_add_null(ctx->out);
    }
    size_t libraries;
    function_libraries(&libraries);
    resp_add_bulk_cstr(ctx->out, "engines");
    resp_add_map(ctx->out, 1);
    resp_add_bulk_cstr(ctx->out, "LUA");
    resp_add_map(ctx->out, 2);
    resp_add_bulk_cstr(ctx->out, "libraries_count");
    resp_add_int(ctx->out, (long long)libraries);
    resp_add_bulk_cstr(ctx->out, "functions_count");
    resp_add_int(ctx->out, (long long)function_count());
}

void cmd_function_kill(struct exec_ctx *ctx) {
    const char *err = script_kill(false);
    if (err != NULL)
        resp_add_error(ctx->out, err);
    else
        exec_reply_ok(ctx);
}

void cmd_function_help(struct exec_ctx *ctx) {
    static const char *const lines[] = {
        "LOAD [REPLACE] <FUNCTION CODE>",
        "    Create a new library with the given library name and code.",
        "DELETE <LIBRARY NAME>",
        "    Delete the given library.",
        "LIST [LIBRARYNAME PATTERN] [WITHCODE]",
        "    Return general information on all the libraries:",
        "    * Library name",
        "    * The engine used to run the Library",
        "    * Library description",
        "    * Functions list",
        "    * Library code (if WITHCODE is given)",
        "    It also possible to get only function that matches a pattern using LIBRARYNAME "
        "argument.",
        "STATS",
        "    Return information about the current function running:",
        "    * Function name",
        "    * Command used to run the function",
        "    * Duration in MS that the function is running",
        "    If no function is running, return nil",
        "    In addition, returns a list of available engines.",
        "KILL",
        "    Kill the current running function.",
        "FLUSH [ASYNC|SYNC]",
        "    Delete all the libraries.",
        "    When called without the optional mode argument, the behavior is determined by the",
        "    lazyfree-lazy-user-flush configuration directive. Valid modes are:",
        "    * ASYNC: Asynchronously flush the libraries.",
        "    * SYNC: Synchronously flush the libraries.",
        "DUMP",
        "    Return a serialized payload representing the current libraries, can be restored "
        "using FUNCTION RESTORE command",
        "RESTORE <PAYLOAD> [FLUSH|APPEND|REPLACE]",
        "    Restore the libraries represented by the given payload, it is possible to give a "
        "restore policy to",
        "    control how to handle existing libraries (default APPEND):",
        "    * FLUSH: delete all existing libraries.",
        "    * APPEND: appends the restored libraries to the existing libraries. On collision, "
        "abort.",
        "    * REPLACE: appends the restored libraries to the existing libraries, On collision, "
        "replace the old",
        "      libraries with the new libraries (notice that even on this option there is a "
        "chance of failure",
        "      in case of functions name collision with another library).",
        NULL,
    };
    exec_reply_help(ctx, lines);
}
