/* The Lua engine (see script.h): the sandboxed state, the redis.* API,
 * running a script against an execution context, the EVAL script cache,
 * and the busy-script loop. RESP <-> Lua conversion lives in
 * script_convert.c, the bundled libraries in script_lib_*.c, and the
 * commands in cmd_script.c / cmd_function.c.
 *
 * The sandbox (Redis 7.0): scripts see globals through a read-only proxy.
 * Reading an unknown global is an error, and so is changing any global or
 * any table of the libraries (string, math, redis, ...); rawset and
 * setmetatable refuse the proxies. Lua 5.4 has no read-only tables, so each
 * protected table is presented through an empty proxy whose metatable reads
 * through to it. No io, os, debug, package, dofile, loadfile, print or
 * loadstring; load takes only a reader function and only text chunks. */
#include "node/script.h"

#include "node/client.h"
#include "node/command.h"
#include "node/config.h"
#include "node/exec.h"
#include "node/function.h"
#include "node/log.h"
#include "node/script_convert.h"
#include "node/script_lib.h"
#include "node/server.h"
#include "node/version.h"
#include "storage/sha1.h"

#include <lauxlib.h>
#include <lualib.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

/* Redis 7.0 runs its hook every 100000 instructions. */
#define HOOK_INSTRUCTIONS 100000
/* A reply buffer bigger than this is given back after a redis.call. */
#define CALL_OUT_KEEP (64 * 1024)

/* What the running script has done so far. */
struct script_run {
    const struct script_call *call;
    int resp;        /* redis.setresp: 2 or 3 */
    int dbid;        /* SELECT inside the script changes it */
    uint64_t rand48; /* math.random state (48-bit LCG, as redisLrand48) */
    uint64_t calls;  /* commands run, to derive their seeds */
    uint64_t start_us;
    bool wrote;      /* a write command ran: SCRIPT KILL refuses */
    bool did_random; /* a non-deterministic command ran: writes refused */
    bool killed;
    bool busy; /* past busy-reply-threshold, serving other clients */
};

static struct {
    lua_State *L;
    int proxy_of_ref;   /* registry: protected table -> its proxy (weak keys) */
    int is_proxy_ref;   /* registry: proxy -> true (weak keys) */
    int globals_ref;    /* the globals proxy every chunk gets as _ENV */
    int errh_ref;       /* the message handler for pcall */
    int load_env_ref;   /* the globals while FUNCTION LOAD runs code, or LUA_NOREF */
    int empty_meta_ref; /* what getmetatable() returns for a protected table */
    struct script_run *run;
    struct resp_out call_out; /* redis.call's reply buffer, reused */
} engine;

/* ---- Flags ---- */

static const struct {
    const char *name;
    unsigned flag;
} flag_table[] = {
    {"no-writes", SCRIPT_FLAG_NO_WRITES},
    {"allow-oom", SCRIPT_FLAG_ALLOW_OOM},
    {"allow-stale", SCRIPT_FLAG_ALLOW_STALE},
    {"no-cluster", SCRIPT_FLAG_NO_CLUSTER},
    {"allow-cross-slot-keys", SCRIPT_FLAG_ALLOW_CROSS_SLOT},
};

bool script_flag_parse(const char *name, size_t len, unsigned *out) {
    for (size_t i = 0; i < sizeof(flag_table) / sizeof(flag_table[0]); i++)
        if (strlen(flag_table[i].name) == len && memcmp(flag_table[i].name, name, len) == 0) {
            *out |= flag_table[i].flag;
            return true;
        }
    return false;
}

const char *script_flag_name(unsigned flag) {
    for (size_t i = 0; i < sizeof(flag_table) / sizeof(flag_table[0]); i++)
        if (flag_table[i].flag == flag)
            return flag_table[i].name;
    return NULL;
}

/* ---- Read-only proxies ---- */

static int raise_readonly(lua_State *L) {
    lua_pushstring(L, "Attempt to modify a readonly table");
    return lua_error(L);
}

/* Pushes the proxy of the table at 'idx' if it is protected, else the table. */
static void push_visible(lua_State *L, int idx) {
    idx = lua_absindex(L, idx);
    lua_rawgeti(L, LUA_REGISTRYINDEX, engine.proxy_of_ref);
    lua_pushvalue(L, idx);
    if (lua_rawget(L, -2) == LUA_TNIL) {
        lua_pop(L, 2);
        lua_pushvalue(L, idx);
        return;
    }
    lua_remove(L, -2);
}

static bool is_proxy(lua_State *L, int idx) {
    idx = lua_absindex(L, idx);
    lua_rawgeti(L, LUA_REGISTRYINDEX, engine.is_proxy_ref);
    lua_pushvalue(L, idx);
    bool yes = lua_rawget(L, -2) != LUA_TNIL;
    lua_pop(L, 2);
    return yes;
}

/* __index of a proxy: upvalue 1 is the real table. */
static int proxy_index(lua_State *L) {
    lua_pushvalue(L, 2);
    if (lua_rawget(L, lua_upvalueindex(1)) == LUA_TTABLE)
        push_visible(L, -1);
    return 1;
}

/* Looks 'key' (stack slot 2) up in the table at 'table'; an unknown name is
 * an error (Redis 7.0's protected globals). */
static int strict_lookup(lua_State *L, int table) {
    lua_pushvalue(L, 2);
    int type = lua_rawget(L, table);
    if (type == LUA_TNIL) {
        const char *name = lua_tostring(L, 2);
        return luaL_error(L, "Script attempted to access nonexistent global variable '%s'",
                          name != NULL ? name : "?");
    }
    if (type == LUA_TTABLE)
        push_visible(L, -1);
    return 1;
}

/* __index of a strict proxy (FUNCTION LOAD's 'redis'): upvalue 1. */
static int strict_index(lua_State *L) {
    return strict_lookup(L, lua_upvalueindex(1));
}

/* __index of the globals proxy: the real globals, or while FUNCTION LOAD
 * runs a library, only its restricted environment (Redis 7.0). */
static int globals_index(lua_State *L) {
    if (engine.load_env_ref == LUA_NOREF)
        return strict_lookup(L, lua_upvalueindex(1));
    lua_rawgeti(L, LUA_REGISTRYINDEX, engine.load_env_ref);
    return strict_lookup(L, lua_gettop(L));
}

/* __newindex of every proxy: Lua's position prefix, as Redis's VM error. */
static int proxy_newindex(lua_State *L) {
    return luaL_error(L, "Attempt to modify a readonly table");
}

static int proxy_len(lua_State *L) {
    lua_pushinteger(L, (lua_Integer)lua_rawlen(L, lua_upvalueindex(1)));
    return 1;
}

static int proxy_next(lua_State *L) {
    lua_settop(L, 2);
    if (lua_next(L, lua_upvalueindex(1)) == 0)
        return 0;
    if (lua_type(L, -1) == LUA_TTABLE) {
        push_visible(L, -1);
        lua_replace(L, -2);
    }
    return 2;
}

static int proxy_pairs(lua_State *L) {
    lua_pushvalue(L, lua_upvalueindex(1));
    lua_pushcclosure(L, proxy_next, 1);
    lua_pushnil(L);
    lua_pushnil(L);
    return 3;
}

/* Makes the proxy of the table at 'idx' (unless it has one) and, recursively,
 * of the tables it holds, so nested library tables are protected too. */
static void protect_table(lua_State *L, int idx, lua_CFunction index_fn) {
    idx = lua_absindex(L, idx);
    lua_rawgeti(L, LUA_REGISTRYINDEX, engine.proxy_of_ref);
    lua_pushvalue(L, idx);
    if (lua_rawget(L, -2) != LUA_TNIL) {
        lua_pop(L, 2);
        return;
    }
    lua_pop(L, 1);
    lua_newtable(L); /* the proxy */
    lua_newtable(L); /* its metatable */
    lua_pushvalue(L, idx);
    lua_pushcclosure(L, index_fn, 1);
    lua_setfield(L, -2, "__index");
    lua_pushcfunction(L, proxy_newindex);
    lua_setfield(L, -2, "__newindex");
    lua_pushvalue(L, idx);
    lua_pushcclosure(L, proxy_len, 1);
    lua_setfield(L, -2, "__len");
    lua_pushvalue(L, idx);
    lua_pushcclosure(L, proxy_pairs, 1);
    lua_setfield(L, -2, "__pairs");
    /* getmetatable() shows an empty read-only table, as Redis 7.0 does. */
    if (engine.empty_meta_ref != LUA_NOREF)
        lua_rawgeti(L, LUA_REGISTRYINDEX, engine.empty_meta_ref);
    else
        lua_pushboolean(L, 0);
    lua_setfield(L, -2, "__metatable");
    lua_setmetatable(L, -2);
    /* proxy_of[real] = proxy; is_proxy[proxy] = true */
    lua_pushvalue(L, idx);
    lua_pushvalue(L, -2);
    lua_rawset(L, -4);
    lua_rawgeti(L, LUA_REGISTRYINDEX, engine.is_proxy_ref);
    lua_pushvalue(L, -2);
    lua_pushboolean(L, 1);
    lua_rawset(L, -3);
    lua_pop(L, 3);

    lua_pushnil(L);
    while (lua_next(L, idx)) {
        if (lua_type(L, -1) == LUA_TTABLE)
            protect_table(L, -1, proxy_index);
        lua_pop(L, 1);
    }
}

/* ---- Sandboxed builtins ---- */

static int safe_rawset(lua_State *L) {
    luaL_checktype(L, 1, LUA_TTABLE);
    if (is_proxy(L, 1))
        return raise_readonly(L);
    luaL_checkany(L, 2);
    luaL_checkany(L, 3);
    lua_settop(L, 3);
    lua_rawset(L, 1);
    return 1;
}

static int safe_setmetatable(lua_State *L) {
    luaL_checktype(L, 1, LUA_TTABLE);
    if (is_proxy(L, 1))
        return raise_readonly(L);
    int t = lua_type(L, 2);
    luaL_argexpected(L, t == LUA_TNIL || t == LUA_TTABLE, 2, "nil or table");
    if (luaL_getmetafield(L, 1, "__metatable") != LUA_TNIL)
        return luaL_error(L, "cannot change a protected metatable");
    lua_settop(L, 2);
    lua_setmetatable(L, 1);
    return 1;
}

/* Lua 5.1's load(func [, chunkname]): text chunks only, sandboxed _ENV. */
static int safe_load(lua_State *L) {
    luaL_checktype(L, 1, LUA_TFUNCTION);
    const char *chunkname = luaL_optstring(L, 2, "=(load)");
    lua_settop(L, 1);
    lua_getfield(L, LUA_REGISTRYINDEX, "__keyraft_load");
    lua_pushvalue(L, 1);
    lua_pushstring(L, chunkname);
    lua_pushliteral(L, "t");
    lua_rawgeti(L, LUA_REGISTRYINDEX, engine.globals_ref);
    lua_call(L, 4, 2);
    return 2;
}

/* Redis 7.0's pcall: an error table with an 'err' string comes back as
 * that string, as it did when errors were strings. */
static int redis_pcall(lua_State *L) {
    luaL_checkany(L, 1);
    int argc = lua_gettop(L);
    int status = lua_pcall(L, argc - 1, LUA_MULTRET, 0);
    if (status == LUA_OK) {
        lua_pushboolean(L, 1);
        lua_insert(L, 1);
        return lua_gettop(L);
    }
    if (lua_istable(L, -1)) {
        if (lua_getfield(L, -1, "err") == LUA_TSTRING)
            lua_replace(L, -2);
        else
            lua_pop(L, 1);
    }
    lua_pushboolean(L, 0);
    lua_insert(L, -2);
    return 2;
}

/* ---- Deterministic math.random (Redis's redisLrand48, seeded from ctx) ---- */

#define LRAND48_MAX INT32_MAX

static int32_t lrand48_next(uint64_t *state) {
    *state = (*state * 0x5DEECE66DULL + 0xB) & 0xFFFFFFFFFFFFULL;
    return (int32_t)(*state >> 17);
}

static void lrand48_seed(uint64_t *state, int32_t seed) {
    *state = ((uint64_t)(uint32_t)seed << 16 | 0x330E) & 0xFFFFFFFFFFFFULL;
}

static int math_random(lua_State *L) {
    if (engine.run == NULL)
        return luaL_error(L, "math.random can only be called inside a script invocation");
    lua_Number r =
        (lua_Number)(lrand48_next(&engine.run->rand48) % LRAND48_MAX) / (lua_Number)LRAND48_MAX;
    switch (lua_gettop(L)) {
    case 0:
        lua_pushnumber(L, r);
        break;
    case 1: {
        int u = (int)luaL_checknumber(L, 1);
        luaL_argcheck(L, 1 <= u, 1, "interval is empty");
        lua_pushinteger(L, (lua_Integer)floor(r * u) + 1);
        break;
    }
    case 2: {
        int l = (int)luaL_checknumber(L, 1);
        int u = (int)luaL_checknumber(L, 2);
        luaL_argcheck(L, l <= u, 2, "interval is empty");
        lua_pushinteger(L, (lua_Integer)floor(r * ((double)u - l + 1)) + l);
        break;
    }
    default:
        return luaL_error(L, "wrong number of arguments");
    }
    return 1;
}

static int math_randomseed(lua_State *L) {
    if (engine.run == NULL)
        return luaL_error(L, "math.randomseed can only be called inside a script invocation");
    lrand48_seed(&engine.run->rand48, (int32_t)luaL_checknumber(L, 1));
    return 0;
}

/* ---- redis.call and friends ---- */

static int raise_error_text(lua_State *L, const char *msg) {
    script_push_error(L, msg, strlen(msg));
    return lua_error(L);
}

/* Commands whose reply order depends on hash-table layout: sorted inside
 * scripts (Redis 3.2-4's "sort_for_script"). HGETALL sorts field/value pairs. */
static const char *const sorted_commands[] = {"keys",  "smembers", "sinter", "sunion",
                                              "sdiff", "hkeys",    "hvals",  NULL};
/* Commands whose output is not a function of the data and the entry's time:
 * after one of them a script may not write (Redis 3.2-4). */
static const char *const random_commands[] = {"spop",       "srandmember", "randomkey", "time",
                                              "hrandfield", "zrandmember", "scan",      "sscan",
                                              "hscan",      "zscan",       NULL};

static bool in_list(const char *const *list, const char *name) {
    for (; *list != NULL; list++)
        if (strcmp(*list, name) == 0)
            return true;
    return false;
}

/* splitmix64: a distinct, reproducible seed for each command of the script. */
static uint64_t derive_seed(uint64_t seed, uint64_t n) {
    uint64_t z = seed + (n + 1) * 0x9E3779B97F4A7C15ULL;
    z = (z ^ (z >> 30)) * 0xBF58476D1CE4E5B9ULL;
    z = (z ^ (z >> 27)) * 0x94D049BB133111EBULL;
    return z ^ (z >> 31);
}

/* Checks and runs one command for the running script; its reply lands in
 * engine.call_out. Returns NULL, or the error text (Redis 7.0 scriptCall). */
static const char *run_command(struct script_run *run, int argc, char **argv, size_t *argvlen) {
    struct command *cmd = command_lookup(argv[0], argvlen[0]);
    if (cmd != NULL && cmd->subcommands != NULL && argc >= 2)
        cmd = command_lookup_sub(cmd, argv[1], argvlen[1]);
    if (cmd == NULL)
        return "Unknown Redis command called from script";
    if (!command_arity_ok(cmd, argc) || cmd->handler == NULL)
        return "Wrong number of args calling Redis command from script";
    if (cmd->flags & CMD_NOSCRIPT)
        return "This Redis command is not allowed from script";
    bool is_write = (cmd->flags & CMD_WRITE) != 0;
    if (run->call->is_read_only && (cmd->flags & (CMD_WRITE | CMD_MAY_REPLICATE)))
        return "Write commands are not allowed from read-only scripts.";
    if (is_write && run->did_random)
        return "Write commands not allowed after non deterministic commands.";

    struct exec_ctx *outer = run->call->ctx;
    struct resp_out *out = &engine.call_out;
    out->len = 0;
    out->failed = false;
    out->proto = run->resp;
    bool is_random = in_list(random_commands, cmd->name);
    uint64_t start_us = server_monotonic_us();
    if (strcmp(cmd->fullname, "time") == 0) {
        /* TIME is the entry's time inside a script. */
        resp_add_array(out, 2);
        resp_add_bulk_ll(out, outer->now_ms / 1000);
        resp_add_bulk_ll(out, (outer->now_ms % 1000) * 1000);
    } else if (strcmp(cmd->fullname, "select") == 0) {
        /* SELECT changes the script's database, not the client's. */
        long long id;
        char *end;
        id = strtoll(argv[1], &end, 10);
        if (argvlen[1] == 0 || *end != '\0')
            resp_add_error(out, "ERR value is not an integer or out of range");
        else if (cfg.cluster_enabled && id != 0)
            resp_add_error(out, "ERR SELECT is not allowed in cluster mode");
        else if (id < 0 || id >= cfg.databases)
            resp_add_error(out, "ERR DB index is out of range");
        else {
            run->dbid = (int)id;
            resp_add_raw(out, "+OK\r\n", 5);
        }
    } else {
        struct exec_ctx sub = {
            .client = NULL,
            .out = out,
            .cmd = cmd,
            .argc = argc,
            .argv = argv,
            .argvlen = argvlen,
            .dbid = run->dbid,
            .now_ms = outer->now_ms,
            .seed = derive_seed(outer->seed, run->calls),
            .is_apply = outer->is_apply,
        };
        exec_run(&sub);
        outer->dirty += sub.dirty;
    }
    run->calls++;
    cmd->stats.calls++;
    cmd->stats.usec += server_monotonic_us() - start_us;
    if (is_write)
        run->wrote = true;
    if (is_random)
        run->did_random = true;
    if (strcmp(cmd->fullname, "hgetall") == 0 || in_list(sorted_commands, cmd->fullname))
        if (script_sort_reply(out, 0, strcmp(cmd->fullname, "hgetall") == 0) != 0)
            out->failed = true;
    return NULL;
}

/* redis.call (raise) / redis.pcall. Arguments are strings or numbers;
 * numbers are sent as Redis 7.0 does ("%.17g", integers exactly). */
static int call_generic(lua_State *L, bool raise) {
    struct script_run *run = engine.run;
    if (run == NULL)
        return raise_error_text(L,
                                "redis.call/pcall can only be called inside a script invocation");
    int argc = lua_gettop(L);
    if (argc == 0) {
        script_push_error(L, "Please specify at least one argument for this redis lib call",
                          strlen("Please specify at least one argument for this redis lib call"));
        return raise ? lua_error(L) : 1;
    }
    char **argv = lua_newuserdatauv(L, (size_t)argc * (sizeof(char *) + sizeof(size_t)), 0);
    size_t *argvlen = (size_t *)(argv + argc);
    for (int i = 1; i <= argc; i++) {
        int type = lua_type(L, i);
        if (type == LUA_TNUMBER) {
            char buf[64];
            if (lua_isinteger(L, i))
                snprintf(buf, sizeof(buf), "%lld", (long long)lua_tointeger(L, i));
            else
                snprintf(buf, sizeof(buf), "%.17g", (double)lua_tonumber(L, i));
            lua_pushstring(L, buf);
            lua_replace(L, i);
        } else if (type != LUA_TSTRING) {
            const char *msg = "Lua redis lib command arguments must be strings or integers";
            script_push_error(L, msg, strlen(msg));
            return raise ? lua_error(L) : 1;
        }
        argv[i - 1] = (char *)lua_tolstring(L, i, &argvlen[i - 1]);
    }
    const char *err = run_command(run, argc, argv, argvlen);
    if (err != NULL) {
        script_push_error(L, err, strlen(err));
        return raise ? lua_error(L) : 1;
    }
    struct resp_out *out = &engine.call_out;
    if (out->failed) {
        out->len = 0;
        return raise_error_text(L, "-OOM command not allowed when used memory > 'maxmemory'.");
    }
    bool is_error = out->len > 0 && out->buf[0] == '-';
    int rc = script_push_reply(L, out->buf, out->len);
    if (out->cap > CALL_OUT_KEEP) {
        resp_out_close(out);
        resp_out_init(out, 2);
    }
    if (rc != 0)
        return raise_error_text(L, "Bad reply from the command called by the script");
    if (is_error && raise)
        return lua_error(L);
    return 1;
}

static int redis_call(lua_State *L) {
    return call_generic(L, true);
}

static int redis_pcall_command(lua_State *L) {
    return call_generic(L, false);
}

static int redis_sha1hex(lua_State *L) {
    if (lua_gettop(L) != 1)
        return raise_error_text(L, "wrong number of arguments");
    size_t len;
    const char *s = lua_tolstring(L, 1, &len);
    char hex[41];
    sha1_hex(s != NULL ? s : "", s != NULL ? len : 0, hex);
    lua_pushstring(L, hex);
    return 1;
}

static int redis_error_reply(lua_State *L) {
    if (lua_gettop(L) != 1 || lua_type(L, -1) != LUA_TSTRING) {
        script_push_error(L, "wrong number or type of arguments",
                          strlen("wrong number or type of arguments"));
        return 1;
    }
    size_t len;
    const char *s = lua_tolstring(L, 1, &len);
    if (len > 0 && s[0] == '-') {
        script_push_error(L, s, len);
    } else {
        lua_pushfstring(L, "-%s", s);
        s = lua_tolstring(L, -1, &len);
        script_push_error(L, s, len);
    }
    return 1;
}

static int redis_status_reply(lua_State *L) {
    if (lua_gettop(L) != 1 || lua_type(L, -1) != LUA_TSTRING) {
        script_push_error(L, "wrong number or type of arguments",
                          strlen("wrong number or type of arguments"));
        return 1;
    }
    lua_createtable(L, 0, 1);
    lua_pushvalue(L, 1);
    lua_setfield(L, -2, "ok");
    return 1;
}

static int redis_log(lua_State *L) {
    int argc = lua_gettop(L);
    if (argc < 2)
        return raise_error_text(L, "redis.log() requires two arguments or more.");
    if (!lua_isnumber(L, 1))
        return raise_error_text(L, "First argument must be a number (log level).");
    int level = (int)lua_tonumber(L, 1);
    if (level < LOG_DEBUG || level > LOG_WARNING)
        return raise_error_text(L, "Invalid debug level.");
    luaL_Buffer b;
    luaL_buffinit(L, &b);
    for (int i = 2; i <= argc; i++) {
        size_t len;
        const char *s = lua_tolstring(L, i, &len);
        if (s == NULL)
            continue;
        if (i != 2)
            luaL_addchar(&b, ' ');
        luaL_addlstring(&b, s, len);
    }
    luaL_pushresult(&b);
    log_write(level, "%s", lua_tostring(L, -1));
    return 0;
}

static int redis_setresp(lua_State *L) {
    if (engine.run == NULL)
        return raise_error_text(L, "redis.setresp can only be called inside a script invocation");
    if (lua_gettop(L) != 1)
        return raise_error_text(L, "redis.setresp() requires one argument.");
    int resp = (int)lua_tonumber(L, 1);
    if (resp != 2 && resp != 3)
        return raise_error_text(L, "RESP version must be 2 or 3.");
    engine.run->resp = resp;
    return 0;
}

/* redis.set_repl: accepted and checked as Redis does, but a no-op: keyraft
 * replicates the whole script, never its individual commands. */
static int redis_set_repl(lua_State *L) {
    if (engine.run == NULL)
        return raise_error_text(L, "redis.set_repl can only be called inside a script invocation");
    if (lua_gettop(L) != 1)
        return raise_error_text(L, "redis.set_repl() requires two arguments.");
    int flags = (int)lua_tonumber(L, 1);
    if ((flags & ~3) != 0)
        return raise_error_text(
            L, "Invalid replication flags. Use REPL_AOF, REPL_REPLICA, REPL_ALL or REPL_NONE.");
    return 0;
}

static int redis_replicate_commands(lua_State *L) {
    lua_pushboolean(L, 1);
    return 1;
}

static int redis_breakpoint(lua_State *L) {
    lua_pushboolean(L, 0);
    return 1;
}

static int redis_debug(lua_State *L) {
    (void)L;
    return 0;
}

static void set_int_field(lua_State *L, const char *name, lua_Integer v) {
    lua_pushinteger(L, v);
    lua_setfield(L, -2, name);
}

/* Redis's REDIS_VERSION_NUM: 0x00MMmmpp. */
static lua_Integer version_num(void) {
    int major = 0, minor = 0, patch = 0;
    sscanf(KEYRAFT_REDIS_VERSION, "%d.%d.%d", &major, &minor, &patch);
    return (lua_Integer)(major << 16 | minor << 8 | patch);
}

/* The fields of 'redis' shared by scripts and FUNCTION LOAD's API. */
void script_push_log_api(lua_State *L) {
    lua_pushcfunction(L, redis_log);
    lua_setfield(L, -2, "log");
    set_int_field(L, "LOG_DEBUG", LOG_DEBUG);
    set_int_field(L, "LOG_VERBOSE", LOG_VERBOSE);
    set_int_field(L, "LOG_NOTICE", LOG_NOTICE);
    set_int_field(L, "LOG_WARNING", LOG_WARNING);
    lua_pushstring(L, KEYRAFT_REDIS_VERSION);
    lua_setfield(L, -2, "REDIS_VERSION");
    set_int_field(L, "REDIS_VERSION_NUM", version_num());
}

static void push_redis_api(lua_State *L) {
    static const luaL_Reg funcs[] = {
        {"call", redis_call},
        {"pcall", redis_pcall_command},
        {"sha1hex", redis_sha1hex},
        {"error_reply", redis_error_reply},
        {"status_reply", redis_status_reply},
        {"setresp", redis_setresp},
        {"set_repl", redis_set_repl},
        {"replicate_commands", redis_replicate_commands},
        {"breakpoint", redis_breakpoint},
        {"debug", redis_debug},
        {NULL, NULL},
    };
    luaL_newlib(L, funcs);
    script_push_log_api(L);
    set_int_field(L, "REPL_NONE", 0);
    set_int_field(L, "REPL_AOF", 1);
    set_int_field(L, "REPL_SLAVE", 2);
    set_int_field(L, "REPL_REPLICA", 2);
    set_int_field(L, "REPL_ALL", 3);
}

/* ---- Errors ---- */

/* The message handler (Redis 7.0's __redis__err__handler): turns the error
 * into a table {err=..., source=..., line=...}, locating it at the Lua
 * function that raised it (or that called the C function that did). */
static int error_handler(lua_State *L) {
    lua_settop(L, 1);
    if (!lua_istable(L, 1)) {
        size_t len;
        const char *s = luaL_tolstring(L, 1, &len);
        lua_createtable(L, 0, 3);
        lua_pushfstring(L, "ERR %s", s);
        lua_setfield(L, -2, "err");
        lua_replace(L, 1);
        lua_settop(L, 1);
    } else if (is_proxy(L, 1)) {
        return 1;
    }
    lua_Debug ar;
    int level = 1;
    if (lua_getstack(L, level, &ar) && lua_getinfo(L, "Sl", &ar) && strcmp(ar.what, "C") == 0)
        level = 2;
    if (lua_getstack(L, level, &ar) && lua_getinfo(L, "Sl", &ar)) {
        lua_pushstring(L, ar.source);
        lua_setfield(L, 1, "source");
        lua_pushinteger(L, ar.currentline);
        lua_setfield(L, 1, "line");
    }
    return 1;
}

/* Writes the error reply for the error table on top of the stack (popped):
 * "<err> script: <name>, on <source>:<line>." (Redis 7.0 luaCallFunction). */
static void reply_error(lua_State *L, struct resp_out *out, const char *name) {
    if (!lua_istable(L, -1)) {
        const char *msg = lua_isstring(L, -1) ? lua_tostring(L, -1) : "execution failure";
        resp_add_errorf(out, "ERR Error running script %s, %.100s", name, msg);
        lua_pop(L, 1);
        return;
    }
    luaL_Buffer b;
    luaL_buffinit(L, &b);
    if (lua_getfield(L, -2, "err") == LUA_TSTRING || lua_isnumber(L, -1)) {
        luaL_addvalue(&b);
    } else {
        lua_pop(L, 1);
        luaL_addstring(&b, "ERR unknown error");
    }
    int has_source = lua_getfield(L, -2, "source") == LUA_TSTRING;
    int has_line = lua_getfield(L, -3, "line") != LUA_TNIL && lua_isstring(L, -1);
    if (has_source && has_line) {
        const char *source = lua_tostring(L, -2);
        const char *line = lua_tostring(L, -1);
        lua_pushfstring(L, " script: %s, on %s:%s.", name, source, line);
        lua_remove(L, -2);
        lua_remove(L, -2);
        luaL_addvalue(&b);
    } else {
        lua_pop(L, 2);
    }
    luaL_pushresult(&b);
    resp_add_error(out, lua_tostring(L, -1));
    lua_pop(L, 2);
}

/* ---- Busy scripts ---- */

static void become_busy(struct script_run *run) {
    run->busy = true;
    log_warning("Slow script detected: still in execution after %llu milliseconds. You can try "
                "killing the script using the %s command. Script name is: %s.",
                (unsigned long long)((server_monotonic_us() - run->start_us) / 1000),
                run->call->is_eval ? "SCRIPT KILL" : "FUNCTION KILL", run->call->name);
    if (run->call->ctx->client != NULL)
        client_protect(run->call->ctx->client);
    /* The cron would expire keys (a write) in the middle of the script. */
    uv_timer_stop(&server.cron);
}

static void stop_busy(struct script_run *run) {
    if (!run->busy)
        return;
    run->busy = false;
    if (run->call->ctx->client != NULL)
        client_unprotect(run->call->ctx->client);
    uv_timer_again(&server.cron);
}

/* The count hook: past the threshold, serve other clients (they get BUSY
 * except SCRIPT KILL, FUNCTION KILL/STATS and SHUTDOWN NOSAVE), then act on
 * a kill. A killed script's hook fires on every line so pcall cannot catch
 * the kill for good (Redis 7.0 luaMaskCountHook). */
static void count_hook(lua_State *L, lua_Debug *ar) {
    (void)ar;
    struct script_run *run = engine.run;
    if (run == NULL)
        return;
    if (!run->killed && !server.shutdown_asap && cfg.busy_reply_threshold > 0) {
        uint64_t elapsed_ms = (server_monotonic_us() - run->start_us) / 1000;
        if (elapsed_ms >= (uint64_t)cfg.busy_reply_threshold) {
            if (!run->busy)
                become_busy(run);
            uv_run(server.loop, UV_RUN_NOWAIT);
        }
    }
    if (run->killed || server.shutdown_asap) {
        if (!run->killed)
            log_warning("Lua script interrupted by SHUTDOWN NOSAVE.");
        else
            log_warning("Lua script killed by user with SCRIPT KILL.");
        run->killed = true;
        lua_sethook(L, count_hook, LUA_MASKLINE, 0);
        raise_error_text(L, "Script killed by user with SCRIPT KILL...");
    }
}

bool script_is_running(void) {
    return engine.run != NULL;
}

bool script_is_busy(void) {
    return engine.run != NULL && engine.run->busy;
}

static const char *busy_text(void) {
    return engine.run != NULL && !engine.run->call->is_eval
               ? "BUSY Redis is busy running a script. You can only call FUNCTION KILL or "
                 "SHUTDOWN NOSAVE."
               : "BUSY Redis is busy running a script. You can only call SCRIPT KILL or SHUTDOWN "
                 "NOSAVE.";
}

const char *script_busy_error(const struct command *cmd, int argc, char **argv, size_t *argvlen) {
    if (!script_is_busy())
        return NULL;
    if (!(cmd->flags & CMD_ALLOW_BUSY))
        return busy_text();
    if (strcmp(cmd->fullname, "shutdown") == 0) {
        /* Redis 7.0: only SHUTDOWN NOSAVE stops a server with a busy script. */
        for (int i = 1; i < argc; i++)
            if (argvlen[i] == 6 && strncasecmp(argv[i], "nosave", 6) == 0)
                return NULL;
        return busy_text();
    }
    return NULL;
}

const char *script_kill(bool from_eval) {
    struct script_run *run = engine.run;
    if (run == NULL)
        return "NOTBUSY No scripts in execution right now.";
    if (run->wrote)
        return "UNKILLABLE Sorry the script already executed write commands against the "
               "dataset. You can either wait the script termination or kill the server in a "
               "hard way using the SHUTDOWN NOSAVE command.";
    if (from_eval && !run->call->is_eval)
        return "BUSY Redis is busy running a script. You can only call FUNCTION KILL or SHUTDOWN "
               "NOSAVE.";
    if (!from_eval && run->call->is_eval)
        return "BUSY Redis is busy running a script. You can only call SCRIPT KILL or SHUTDOWN "
               "NOSAVE.";
    run->killed = true;
    return NULL;
}

bool script_running_function(const char **name, struct exec_ctx **ctx, int64_t *duration_ms) {
    struct script_run *run = engine.run;
    if (run == NULL || run->call->is_eval)
        return false;
    *name = run->call->name;
    *ctx = run->call->ctx;
    *duration_ms = (int64_t)((server_monotonic_us() - run->start_us) / 1000);
    return true;
}

bool script_running_is_eval(void) {
    return engine.run != NULL && engine.run->call->is_eval;
}

/* ---- Running ---- */

static void push_string_array(lua_State *L, char **argv, size_t *argvlen, int n) {
    lua_createtable(L, n, 0);
    for (int i = 0; i < n; i++) {
        lua_pushlstring(L, argv[i], argvlen[i]);
        lua_rawseti(L, -2, i + 1);
    }
}

void script_run(const struct script_call *call) {
    lua_State *L = engine.L;
    struct exec_ctx *ctx = call->ctx;
    struct script_run run = {
        .call = call,
        .resp = 2,
        .dbid = ctx->dbid,
        .start_us = server_monotonic_us(),
    };
    run.rand48 = ctx->seed & 0xFFFFFFFFFFFFULL;

    int fn = lua_gettop(L);
    lua_rawgeti(L, LUA_REGISTRYINDEX, engine.errh_ref);
    lua_insert(L, fn); /* handler, function */
    char **keys = ctx->argv + 3;
    size_t *keylens = ctx->argvlen + 3;
    int nargs = ctx->argc - 3 - call->nkeys;
    int argc = 0;
    if (call->is_eval) {
        push_string_array(L, keys, keylens, call->nkeys);
        lua_setglobal(L, "KEYS");
        push_string_array(L, keys + call->nkeys, keylens + call->nkeys, nargs);
        lua_setglobal(L, "ARGV");
    } else {
        push_string_array(L, keys, keylens, call->nkeys);
        push_string_array(L, keys + call->nkeys, keylens + call->nkeys, nargs);
        argc = 2;
    }
    engine.run = &run;
    if (cfg.busy_reply_threshold > 0)
        lua_sethook(L, count_hook, LUA_MASKCOUNT, HOOK_INSTRUCTIONS);
    int status = lua_pcall(L, argc, 1, fn);
    lua_sethook(L, NULL, 0, 0);
    engine.run = NULL;
    stop_busy(&run);
    if (status != LUA_OK)
        reply_error(L, ctx->out, call->name);
    else
        script_write_reply(L, ctx->out, run.resp);
    lua_pop(L, 1); /* the handler */
    /* Small GC steps keep collection cost out of any single command. */
    lua_gc(L, LUA_GCSTEP, 1);
}

/* ---- Compiling ---- */

int script_compile(const char *code, size_t len, const char *chunkname) {
    lua_State *L = engine.L;
    char *copy = NULL;
    if (len >= 2 && code[0] == '#' && code[1] == '!') {
        copy = malloc(len);
        if (copy == NULL) {
            lua_pushliteral(L, "not enough memory");
            return -1;
        }
        memcpy(copy, code, len);
        copy[0] = copy[1] = '-';
        code = copy;
    }
    int rc = luaL_loadbufferx(L, code, len, chunkname, "t");
    free(copy);
    if (rc != LUA_OK) {
        /* Lua 5.1 quoted the end-of-input token; keep Redis's text. */
        const char *msg = lua_tostring(L, -1);
        if (msg != NULL && strstr(msg, " near <eof>") != NULL) {
            luaL_gsub(L, msg, " near <eof>", " near '<eof>'");
            lua_remove(L, -2);
        }
        return -1;
    }
    lua_rawgeti(L, LUA_REGISTRYINDEX, engine.globals_ref);
    lua_setupvalue(L, -2, 1);
    return 0;
}

int script_run_loader(void) {
    lua_State *L = engine.L;
    int base = lua_gettop(L) - 2; /* base+1: the API table, base+2: the function */
    lua_createtable(L, 0, 1);
    lua_pushvalue(L, base + 1);
    lua_setfield(L, -2, "redis");
    engine.load_env_ref = luaL_ref(L, LUA_REGISTRYINDEX);
    lua_rawgeti(L, LUA_REGISTRYINDEX, engine.errh_ref); /* base+3 */
    lua_pushvalue(L, base + 2);
    int status = lua_pcall(L, 0, 0, base + 3);
    luaL_unref(L, LUA_REGISTRYINDEX, engine.load_env_ref);
    engine.load_env_ref = LUA_NOREF;
    if (status == LUA_OK) {
        lua_settop(L, base);
        return 0;
    }
    /* base+4: the error (a table from the handler) */
    if (!lua_istable(L, base + 4) || lua_getfield(L, base + 4, "err") != LUA_TSTRING)
        lua_pushliteral(L, "ERR unknown error");
    lua_replace(L, base + 1);
    lua_settop(L, base + 1);
    return -1;
}

void script_protect_api(int idx) {
    protect_table(engine.L, idx, strict_index);
}

bool script_parse_numkeys(struct exec_ctx *ctx, int *nkeys) {
    long long n;
    if (!exec_arg_ll(ctx, 2, &n))
        return false;
    if (n > ctx->argc - 3) {
        resp_add_error(ctx->out, "ERR Number of keys can't be greater than number of args");
        return false;
    }
    if (n < 0) {
        resp_add_error(ctx->out, "ERR Number of keys can't be negative");
        return false;
    }
    *nkeys = (int)n;
    return true;
}

/* ---- Set-up ---- */

static int new_ref_table(lua_State *L, const char *mode) {
    lua_newtable(L);
    if (mode != NULL) {
        lua_newtable(L);
        lua_pushstring(L, mode);
        lua_setfield(L, -2, "__mode");
        lua_setmetatable(L, -2);
    }
    return luaL_ref(L, LUA_REGISTRYINDEX);
}

static void open_lib(lua_State *L, const char *name, lua_CFunction open) {
    luaL_requiref(L, name, open, 1);
    lua_pop(L, 1);
}

/* Loads the libraries, trims the globals to Redis 7.0's list, and builds
 * the proxies. Runs unprotected at start-up: any failure is fatal there. */
static int build_sandbox(lua_State *L) {
    open_lib(L, LUA_GNAME, luaopen_base);
    open_lib(L, LUA_TABLIBNAME, luaopen_table);
    open_lib(L, LUA_STRLIBNAME, luaopen_string);
    open_lib(L, LUA_MATHLIBNAME, luaopen_math);
    open_lib(L, LUA_COLIBNAME, luaopen_coroutine);
    open_lib(L, "cjson", script_lib_open_cjson);
    open_lib(L, "struct", script_lib_open_struct);
    open_lib(L, "cmsgpack", script_lib_open_cmsgpack);
    open_lib(L, "bit", script_lib_open_bit);

    static const char *const removed[] = {"dofile",  "loadfile", "print", "warn",
                                          "require", "package",  "io",    "os",
                                          "debug",   "utf8",     NULL};
    for (const char *const *name = removed; *name != NULL; name++) {
        lua_pushnil(L);
        lua_setglobal(L, *name);
    }
    /* The real load stays reachable for safe_load only (not through _ENV). */
    lua_getglobal(L, "load");
    lua_setfield(L, LUA_REGISTRYINDEX, "__keyraft_load");
    lua_pushcfunction(L, safe_load);
    lua_setglobal(L, "load");
    lua_pushcfunction(L, safe_rawset);
    lua_setglobal(L, "rawset");
    lua_pushcfunction(L, safe_setmetatable);
    lua_setglobal(L, "setmetatable");
    lua_pushcfunction(L, redis_pcall);
    lua_setglobal(L, "pcall");
    /* Lua 5.1 names real scripts use. */
    lua_getglobal(L, "table");
    lua_getfield(L, -1, "unpack");
    lua_setglobal(L, "unpack");
    lua_pop(L, 1);
    lua_getglobal(L, "math");
    lua_pushcfunction(L, math_random);
    lua_setfield(L, -2, "random");
    lua_pushcfunction(L, math_randomseed);
    lua_setfield(L, -2, "randomseed");
    lua_pop(L, 1);
    push_redis_api(L);
    lua_setglobal(L, "redis");

    engine.proxy_of_ref = new_ref_table(L, "k");
    engine.is_proxy_ref = new_ref_table(L, "k");
    lua_newtable(L);
    protect_table(L, -1, proxy_index);
    push_visible(L, -1);
    engine.empty_meta_ref = luaL_ref(L, LUA_REGISTRYINDEX);
    lua_pop(L, 1);
    lua_pushglobaltable(L);
    /* The globals proxy: _G inside scripts is the proxy itself. */
    protect_table(L, -1, globals_index);
    lua_rawgeti(L, LUA_REGISTRYINDEX, engine.proxy_of_ref);
    lua_pushvalue(L, -2);
    lua_rawget(L, -2);
    lua_pushvalue(L, -1);
    engine.globals_ref = luaL_ref(L, LUA_REGISTRYINDEX);
    lua_setfield(L, -3, "_G");
    lua_pop(L, 2);
    /* The strings' metatable is reachable through getmetatable(""). */
    lua_pushliteral(L, "");
    lua_getmetatable(L, -1);
    protect_table(L, -1, proxy_index);
    push_visible(L, -1);
    lua_setfield(L, -2, "__metatable");
    lua_pop(L, 2);

    lua_pushcfunction(L, error_handler);
    engine.errh_ref = luaL_ref(L, LUA_REGISTRYINDEX);
    script_cache_init(L);
    return 0;
}

int script_init(void) {
    engine.load_env_ref = LUA_NOREF;
    engine.empty_meta_ref = LUA_NOREF;
    engine.L = luaL_newstate();
    if (engine.L == NULL) {
        log_warning("Out of memory creating the Lua engine");
        return -1;
    }
    build_sandbox(engine.L);
    resp_out_init(&engine.call_out, 2);
    /* The script is the unit of replication: EVAL, EVALSHA and FCALL go
     * through propose_write like any write (their *_RO forms stay reads). */
    static const char *const writes[] = {"eval", "evalsha", "fcall", NULL};
    for (const char *const *name = writes; *name != NULL; name++) {
        struct command *cmd = command_lookup(*name, strlen(*name));
        if (cmd != NULL)
            cmd->flags |= CMD_WRITE;
    }
    return 0;
}

void script_close(void) {
    if (engine.L != NULL)
        lua_close(engine.L);
    engine.L = NULL;
    resp_out_close(&engine.call_out);
}

lua_State *script_lua(void) {
    return engine.L;
}

size_t script_vm_bytes(void) {
    if (engine.L == NULL)
        return 0;
    return (size_t)lua_gc(engine.L, LUA_GCCOUNT, 0) * 1024 +
           (size_t)lua_gc(engine.L, LUA_GCCOUNTB, 0);
}
