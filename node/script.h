/* The Lua engine behind EVAL and FCALL: one Lua 5.4 state with Redis 7.0's
 * sandbox and API (redis.call/pcall, error_reply, status_reply, sha1hex,
 * log, setresp, set_repl, breakpoint, cjson, cmsgpack, bit, struct), the
 * EVAL script cache, and the busy-script machinery (lua-time-limit, BUSY,
 * SCRIPT KILL / FUNCTION KILL, SHUTDOWN NOSAVE).
 *
 * Determinism (design.md, write path points 4 and 6): a script is ONE write.
 * It runs on every member with its entry's time and seed: commands inside it
 * run directly through their handlers with that context, TIME returns
 * ctx->now_ms, math.random is seeded from ctx->seed, replies whose order
 * depends on hash-table layout are sorted, and writes after a
 * non-deterministic command are refused. */
#ifndef KR_NODE_SCRIPT_H
#define KR_NODE_SCRIPT_H

#include <lua.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

struct command;
struct exec_ctx;

/* Script flags: EVAL shebang "#!lua flags=..." and FUNCTION flags. */
enum script_flag {
    SCRIPT_FLAG_NO_WRITES = 1 << 0,
    SCRIPT_FLAG_ALLOW_OOM = 1 << 1,
    SCRIPT_FLAG_ALLOW_STALE = 1 << 2,
    SCRIPT_FLAG_NO_CLUSTER = 1 << 3,
    SCRIPT_FLAG_ALLOW_CROSS_SLOT = 1 << 4,
    SCRIPT_FLAG_EVAL_COMPAT = 1 << 5, /* an EVAL script without a shebang */
};

/* Parses one flag name ("no-writes") into 'out'; false if unknown. */
bool script_flag_parse(const char *name, size_t len, unsigned *out);
/* The name of one SCRIPT_FLAG_* bit ("no-writes"), or NULL. */
const char *script_flag_name(unsigned flag);

/* Creates the engine and marks EVAL, EVALSHA and FCALL as writes in the
 * command table (keyraft replicates the script itself). 0, or -1 (logged). */
int script_init(void);
void script_close(void);
/* The engine's state, for node/function.c. */
lua_State *script_lua(void);

/* Bytes the Lua state holds (lua_gc LUA_GCCOUNT/LUA_GCCOUNTB): EVAL scripts
 * and function libraries together, as they share the one state. */
size_t script_vm_bytes(void);

/* ---- Compiling ---- */

/* Compiles 'code' ('len' bytes) under 'chunkname' ("@user_script"); a first
 * line starting with "#!" is read as a comment so line numbers hold. On
 * success pushes the function, its _ENV the sandboxed globals, and returns 0;
 * else pushes Lua's message string and returns -1. */
int script_compile(const char *code, size_t len, const char *chunkname);
/* Calls the function on top of the stack with no arguments while the only
 * global is 'redis', the table just below it (FUNCTION LOAD's restricted
 * environment). Pops both. Returns 0, or -1 with the error text ("ERR ...")
 * pushed. */
int script_run_loader(void);

/* Adds redis.log, the LOG_* levels and REDIS_VERSION(_NUM) to the table on
 * top of the stack (shared by scripts and FUNCTION LOAD's API). */
void script_push_log_api(lua_State *L);
/* Makes the table at 'idx' read-only for scripts, with unknown fields an
 * error, as Redis 7.0 presents FUNCTION LOAD's restricted 'redis' table. */
void script_protect_api(int idx);

/* ---- Running ---- */

struct script_call {
    struct exec_ctx *ctx; /* the EVAL/FCALL: client, reply, db, time, seed */
    const char *name;     /* SHA-1 or function name: error texts, FUNCTION STATS */
    unsigned flags;       /* SCRIPT_FLAG_* */
    bool is_eval;         /* KEYS/ARGV are globals; else the two arguments */
    bool is_read_only;    /* EVAL_RO/FCALL_RO: writes are refused */
    int nkeys;            /* keys are ctx->argv[3 .. 3+nkeys), args the rest */
};

/* EVAL/FCALL numkeys (argv[2]), checked as Redis 7.0 does; false after
 * replying the error. */
bool script_parse_numkeys(struct exec_ctx *ctx, int *nkeys);

/* Runs the function on top of script_lua()'s stack (popped) and writes its
 * reply, or Redis's error text for it, to call->ctx->out. */
void script_run(const struct script_call *call);

/* ---- The EVAL script cache ---- */

/* EVAL/SCRIPT LOAD: compiles 'body' unless cached and writes its SHA-1 to
 * 'sha'. On success pushes the function (when 'push') and returns 0; on a
 * shebang or compile error writes Redis's error reply to 'out' and returns
 * -1. 'flags' receives the shebang flags. */
struct resp_out;
int script_cache_add(const char *body, size_t len, char sha[41], unsigned *flags, bool push,
                     struct resp_out *out);
/* EVALSHA: pushes the cached function for 'sha' (any case) and returns
 * true, or returns false. */
bool script_cache_find(const char *sha, size_t len, unsigned *flags);
bool script_cache_exists(const char *sha, size_t len);
/* The source of cached script 'sha' (borrowed until the cache is flushed),
 * or NULL. */
const char *script_cache_body(const char *sha, size_t len, size_t *body_len);
void script_cache_flush(void);

/* How many scripts the cache holds, and the bytes of their SHA-1 names and
 * sources (INFO number_of_cached_scripts, used_memory_scripts_eval). */
size_t script_cache_count(void);
size_t script_cache_bytes(void);
/* Creates the cache's tables in 'L' (at engine start-up). */
void script_cache_init(lua_State *L);

/* The flags dispatch applies to this call of 'cmd': for EVAL, EVALSHA and
 * FCALL of a script or function that declares flags (a shebang, or
 * register_function's flags), those decide instead of the command's, as
 * Redis 7.0's getCommandFlags: no-writes makes the call a read (served at
 * once, on replicas, during CLIENT PAUSE WRITE), allow-oom drops denyoom,
 * allow-stale adds stale. Any other command: cmd->flags. */
uint32_t script_command_flags(const struct command *cmd, int argc, char **argv,
                              const size_t *argvlen);

/* ---- Busy scripts ---- */

/* A script is running (only observable from the busy loop). */
bool script_is_running(void);
/* A script passed busy-reply-threshold and the loop serves other clients. */
bool script_is_busy(void);
/* While busy: the error another client's command gets (BUSY, or NULL when
 * the command may run: allow_busy commands, SHUTDOWN only with NOSAVE). */
const char *script_busy_error(const struct command *cmd, int argc, char **argv, size_t *argvlen);
/* SCRIPT KILL ('from_eval') / FUNCTION KILL: NULL when the running script
 * was marked killed (reply OK), else the error text to reply. */
const char *script_kill(bool from_eval);
/* FUNCTION STATS: the running function, or false (none, or an EVAL). */
bool script_running_function(const char **name, struct exec_ctx **ctx, int64_t *duration_ms);
/* True if the running script is an EVAL (FUNCTION STATS then replies BUSY). */
bool script_running_is_eval(void);

#endif
