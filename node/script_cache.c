/* The EVAL script cache (SCRIPT LOAD, EVAL, EVALSHA) and the flags a
 * script declares in its shebang, which also decide how dispatch treats a
 * call of EVAL, EVALSHA or FCALL (script_command_flags). Running scripts is
 * node/script.c's; the tables live in that engine's Lua registry. */
#include "node/script.h"

#include "node/command.h"
#include "node/function.h"
#include "resp/writer.h"
#include "storage/sha1.h"

#include <ctype.h>
#include <lauxlib.h>
#include <stdlib.h>
#include <string.h>

/* Registry references of the cache's three tables, keyed by lowercase sha. */
static struct {
    int functions_ref; /* sha -> compiled function */
    int flags_ref;     /* sha -> declared flags */
    int body_ref;      /* sha -> source (to log EVALSHA as EVAL) */
    size_t count;      /* scripts in the tables */
    size_t bytes;      /* their SHA-1 names (with NUL) and sources */
} cache;

void script_cache_init(lua_State *L) {
    lua_newtable(L);
    cache.functions_ref = luaL_ref(L, LUA_REGISTRYINDEX);
    lua_newtable(L);
    cache.flags_ref = luaL_ref(L, LUA_REGISTRYINDEX);
    lua_newtable(L);
    cache.body_ref = luaL_ref(L, LUA_REGISTRYINDEX);
}

/* Redis 7.0 evalExtractShebangFlags: "#!lua" then options; only
 * "flags=a,b" is known. Returns 0, or -1 with the error reply written. */
static int parse_shebang(const char *body, size_t len, unsigned *flags, struct resp_out *out) {
    *flags = SCRIPT_FLAG_EVAL_COMPAT;
    if (len < 2 || body[0] != '#' || body[1] != '!')
        return 0;
    const char *nl = memchr(body, '\n', len);
    size_t line_len = nl != NULL ? (size_t)(nl - body) : len;
    char *line = malloc(line_len + 1);
    if (line == NULL) {
        out->failed = true;
        return -1;
    }
    memcpy(line, body, line_len);
    line[line_len] = '\0';
    int rc = -1;
    char *save = NULL;
    char *word = strtok_r(line, " ", &save);
    if (word == NULL || strcmp(word, "#!lua") != 0) {
        resp_add_errorf(out, "ERR Unexpected engine in script shebang: %s", line);
        goto done;
    }
    *flags = 0;
    while ((word = strtok_r(NULL, " ", &save)) != NULL) {
        if (strncmp(word, "flags=", 6) != 0) {
            resp_add_errorf(out, "ERR Unknown lua shebang option: %s", word);
            goto done;
        }
        char *fsave = NULL;
        for (char *f = strtok_r(word + 6, ",", &fsave); f != NULL;
             f = strtok_r(NULL, ",", &fsave)) {
            if (!script_flag_parse(f, strlen(f), flags)) {
                resp_add_errorf(out, "ERR Unexpected flag in script shebang: %s", f);
                goto done;
            }
        }
    }
    rc = 0;
done:
    free(line);
    return rc;
}

static void lowercase_sha(char dst[41], const char *sha, size_t len) {
    for (size_t i = 0; i < 40; i++)
        dst[i] = i < len ? (char)tolower((unsigned char)sha[i]) : '\0';
    dst[40] = '\0';
}

bool script_cache_exists(const char *sha, size_t len) {
    if (len != 40)
        return false;
    char key[41];
    lowercase_sha(key, sha, len);
    lua_rawgeti(script_lua(), LUA_REGISTRYINDEX, cache.functions_ref);
    bool found = lua_getfield(script_lua(), -1, key) != LUA_TNIL;
    lua_pop(script_lua(), 2);
    return found;
}

/* The flags a script declared, or SCRIPT_FLAG_EVAL_COMPAT (none, or it is
 * unknown here: the call then reports what is wrong when it runs). */
static unsigned declared_flags(const struct command *cmd, int argc, char **argv,
                               const size_t *argvlen) {
    unsigned flags = SCRIPT_FLAG_EVAL_COMPAT;
    if (argc < 2)
        return flags;
    if (strcmp(cmd->fullname, "eval") == 0) {
        struct resp_out discard;
        resp_out_init_discard(&discard);
        if (parse_shebang(argv[1], argvlen[1], &flags, &discard) != 0)
            return SCRIPT_FLAG_EVAL_COMPAT;
    } else if (strcmp(cmd->fullname, "evalsha") == 0) {
        if (script_cache_find(argv[1], argvlen[1], &flags))
            lua_pop(script_lua(), 1);
        else
            flags = SCRIPT_FLAG_EVAL_COMPAT;
    } else if (strcmp(cmd->fullname, "fcall") == 0) {
        const struct function *f = function_find(argv[1], argvlen[1]);
        if (f != NULL)
            flags = f->flags;
    }
    return flags;
}

uint32_t script_command_flags(const struct command *cmd, int argc, char **argv,
                              const size_t *argvlen) {
    if (!(cmd->flags & CMD_WRITE) || cmd->handler == NULL)
        return cmd->flags;
    unsigned declared = declared_flags(cmd, argc, argv, argvlen);
    if (declared & SCRIPT_FLAG_EVAL_COMPAT)
        return cmd->flags;
    /* Redis 7.0 scriptFlagsToCmdFlags. */
    uint32_t flags =
        cmd->flags & ~(uint32_t)(CMD_STALE | CMD_DENYOOM | CMD_WRITE | CMD_MAY_REPLICATE);
    if (!(declared & (SCRIPT_FLAG_ALLOW_OOM | SCRIPT_FLAG_NO_WRITES)))
        flags |= CMD_DENYOOM;
    if (!(declared & SCRIPT_FLAG_NO_WRITES))
        flags |= CMD_WRITE;
    if (declared & SCRIPT_FLAG_ALLOW_STALE)
        flags |= CMD_STALE;
    return flags;
}

bool script_cache_find(const char *sha, size_t len, unsigned *flags) {
    lua_State *L = script_lua();
    if (len != 40)
        return false;
    char key[41];
    lowercase_sha(key, sha, len);
    lua_rawgeti(L, LUA_REGISTRYINDEX, cache.flags_ref);
    lua_getfield(L, -1, key);
    *flags = (unsigned)lua_tointeger(L, -1);
    lua_pop(L, 2);
    lua_rawgeti(L, LUA_REGISTRYINDEX, cache.functions_ref);
    if (lua_getfield(L, -1, key) == LUA_TNIL) {
        lua_pop(L, 2);
        return false;
    }
    lua_remove(L, -2);
    return true;
}

int script_cache_add(const char *body, size_t len, char sha[41], unsigned *flags, bool push,
                     struct resp_out *out) {
    lua_State *L = script_lua();
    sha1_hex(body, len, sha);
    if (script_cache_find(sha, 40, flags)) {
        if (!push)
            lua_pop(L, 1);
        return 0;
    }
    if (parse_shebang(body, len, flags, out) != 0)
        return -1;
    if (script_compile(body, len, "@user_script") != 0) {
        resp_add_errorf(out, "ERR Error compiling script (new function): %s", lua_tostring(L, -1));
        lua_pop(L, 1);
        return -1;
    }
    lua_rawgeti(L, LUA_REGISTRYINDEX, cache.functions_ref);
    lua_pushvalue(L, -2);
    lua_setfield(L, -2, sha);
    lua_pop(L, 1);
    lua_rawgeti(L, LUA_REGISTRYINDEX, cache.flags_ref);
    lua_pushinteger(L, (lua_Integer)*flags);
    lua_setfield(L, -2, sha);
    lua_pop(L, 1);
    lua_rawgeti(L, LUA_REGISTRYINDEX, cache.body_ref);
    lua_pushlstring(L, body, len);
    lua_setfield(L, -2, sha);
    lua_pop(L, 1);
    cache.count++;
    cache.bytes += 41 + len;
    if (!push)
        lua_pop(L, 1);
    return 0;
}

void script_cache_flush(void) {
    lua_State *L = script_lua();
    lua_newtable(L);
    lua_rawseti(L, LUA_REGISTRYINDEX, cache.functions_ref);
    lua_newtable(L);
    lua_rawseti(L, LUA_REGISTRYINDEX, cache.flags_ref);
    lua_newtable(L);
    lua_rawseti(L, LUA_REGISTRYINDEX, cache.body_ref);
    lua_gc(L, LUA_GCCOLLECT, 0);
    cache.count = 0;
    cache.bytes = 0;
}

size_t script_cache_count(void) {
    return cache.count;
}

size_t script_cache_bytes(void) {
    return cache.bytes;
}

const char *script_cache_body(const char *sha, size_t len, size_t *body_len) {
    if (len != 40)
        return NULL;
    char key[41];
    lowercase_sha(key, sha, len);
    lua_State *L = script_lua();
    lua_rawgeti(L, LUA_REGISTRYINDEX, cache.body_ref);
    lua_getfield(L, -1, key);
    /* The string stays referenced by the cache table after the pops. */
    const char *body = lua_tolstring(L, -1, body_len);
    lua_pop(L, 2);
    return body;
}
