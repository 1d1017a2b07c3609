/* Function libraries (see function.h): the registry, FUNCTION LOAD's
 * metadata, redis.register_function, and the DUMP/RESTORE payload. Lua
 * work goes through node/script.c's engine. */
#include "node/function.h"

#include "node/script.h"
#include "node/script_convert.h"
#include "resp/writer.h"

#include <lauxlib.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

#define RDB_OPCODE_FUNCTION2 0xf5
#define RDB_VERSION          10

static struct {
    struct library **libs;
    size_t count, cap;
    int api_ref;             /* FUNCTION LOAD's 'redis' table, or LUA_NOREF */
    struct library *loading; /* the library redis.register_function fills */
} registry = {.api_ref = LUA_NOREF};

/* ---- Libraries ---- */

static void free_library(struct library *lib) {
    if (lib == NULL)
        return;
    lua_State *L = script_lua();
    for (size_t i = 0; i < lib->function_count; i++) {
        free(lib->functions[i].name);
        free(lib->functions[i].description);
        luaL_unref(L, LUA_REGISTRYINDEX, lib->functions[i].ref);
    }
    free(lib->functions);
    free(lib->name);
    free(lib->code);
    free(lib);
}

static char *dup_bytes(const char *s, size_t len) {
    char *p = malloc(len + 1);
    if (p != NULL) {
        memcpy(p, s, len);
        p[len] = '\0';
    }
    return p;
}

/* Redis 7.0: letters, digits and '_', at least one. */
static bool valid_name(const char *s, size_t len) {
    if (len == 0)
        return false;
    for (size_t i = 0; i < len; i++) {
        char c = s[i];
        if (!((c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || (c >= '0' && c <= '9') ||
              c == '_'))
            return false;
    }
    return true;
}

#define INVALID_NAME                                                                               \
    "Library names can only contain letters, numbers, or underscores(_) and must be at least "     \
    "one character long"

static struct library *find_library(const char *name, size_t len) {
    for (size_t i = 0; i < registry.count; i++)
        if (strlen(registry.libs[i]->name) == len && memcmp(registry.libs[i]->name, name, len) == 0)
            return registry.libs[i];
    return NULL;
}

const struct function *function_find(const char *name, size_t len) {
    for (size_t i = 0; i < registry.count; i++) {
        struct library *lib = registry.libs[i];
        for (size_t j = 0; j < lib->function_count; j++)
            if (strlen(lib->functions[j].name) == len &&
                memcmp(lib->functions[j].name, name, len) == 0)
                return &lib->functions[j];
    }
    return NULL;
}

struct library *const *function_libraries(size_t *count) {
    *count = registry.count;
    return registry.libs;
}

size_t function_count(void) {
    size_t n = 0;
    for (size_t i = 0; i < registry.count; i++)
        n += registry.libs[i]->function_count;
    return n;
}

size_t function_library_count(void) {
    return registry.count;
}

size_t function_memory_bytes(void) {
    size_t bytes = registry.cap * sizeof(*registry.libs);
    for (size_t i = 0; i < registry.count; i++) {
        const struct library *lib = registry.libs[i];
        bytes += sizeof(*lib) + strlen(lib->name) + 1 + lib->code_len + 1;
        for (size_t j = 0; j < lib->function_count; j++) {
            const struct function *f = &lib->functions[j];
            bytes += sizeof(*f) + strlen(f->name) + 1;
            if (f->description != NULL)
                bytes += strlen(f->description) + 1;
        }
    }
    return bytes;
}

static void remove_at(size_t i) {
    free_library(registry.libs[i]);
    memmove(&registry.libs[i], &registry.libs[i + 1],
            (registry.count - i - 1) * sizeof(*registry.libs));
    registry.count--;
}

static int append_library(struct library *lib) {
    if (registry.count == registry.cap) {
        size_t cap = registry.cap ? registry.cap * 2 : 8;
        struct library **libs = realloc(registry.libs, cap * sizeof(*libs));
        if (libs == NULL)
            return -1;
        registry.libs = libs;
        registry.cap = cap;
    }
    registry.libs[registry.count++] = lib;
    return 0;
}

bool function_delete(const char *name, size_t len) {
    for (size_t i = 0; i < registry.count; i++)
        if (strlen(registry.libs[i]->name) == len &&
            memcmp(registry.libs[i]->name, name, len) == 0) {
            remove_at(i);
            return true;
        }
    return false;
}

void function_flush(void) {
    while (registry.count > 0)
        remove_at(registry.count - 1);
}

/* ---- redis.register_function ---- */

static int raise(lua_State *L, const char *msg) {
    script_push_error(L, msg, strlen(msg));
    return lua_error(L);
}

/* Reads the table form {function_name=, callback=, flags=, description=}. */
static int read_named_args(lua_State *L, const char **name, size_t *name_len, const char **desc,
                           unsigned *flags) {
    lua_pushnil(L);
    while (lua_next(L, 1)) {
        const char *key = lua_type(L, -2) == LUA_TSTRING ? lua_tostring(L, -2) : "";
        if (strcmp(key, "function_name") == 0) {
            if (!lua_isstring(L, -1))
                return raise(L, "function_name argument given to redis.register_function must "
                                "be a string");
            *name = lua_tolstring(L, -1, name_len);
            lua_pushvalue(L, -1);
            lua_setfield(L, 2, "name"); /* keep it alive in the scratch table */
        } else if (strcmp(key, "description") == 0) {
            if (!lua_isstring(L, -1))
                return raise(L, "description argument given to redis.register_function must be a "
                                "string");
            *desc = lua_tostring(L, -1);
            lua_pushvalue(L, -1);
            lua_setfield(L, 2, "description");
        } else if (strcmp(key, "callback") == 0) {
            if (!lua_isfunction(L, -1))
                return raise(L, "callback argument given to redis.register_function must be a "
                                "function");
            lua_pushvalue(L, -1);
            lua_setfield(L, 2, "callback");
        } else if (strcmp(key, "flags") == 0) {
            if (!lua_istable(L, -1))
                return raise(L, "flags argument to redis.register_function must be a table "
                                "representing function flags");
            for (lua_Integer i = 1; lua_rawgeti(L, -1, i) != LUA_TNIL; i++) {
                size_t len;
                const char *f = lua_type(L, -1) == LUA_TSTRING ? lua_tolstring(L, -1, &len) : NULL;
                if (f == NULL || !script_flag_parse(f, len, flags))
                    return raise(L, "unknown flag given");
                lua_pop(L, 1);
            }
            lua_pop(L, 1);
        } else {
            return raise(L, "unknown argument given to redis.register_function");
        }
        lua_pop(L, 1);
    }
    if (*name == NULL)
        return raise(L, "redis.register_function must get a function name argument");
    if (lua_getfield(L, 2, "callback") == LUA_TNIL)
        return raise(L, "redis.register_function must get a callback argument");
    return 0;
}

static int register_function(lua_State *L) {
    struct library *lib = registry.loading;
    if (lib == NULL)
        return raise(L, "redis.register_function can only be called on FUNCTION LOAD command");
    int argc = lua_gettop(L);
    const char *name = NULL, *desc = NULL;
    size_t name_len = 0;
    unsigned flags = 0;
    if (argc == 1) {
        if (!lua_istable(L, 1))
            return raise(L, "calling redis.register_function with a single argument is only "
                            "applicable to Lua table (representing named arguments).");
        lua_newtable(L); /* slot 2: scratch */
        read_named_args(L, &name, &name_len, &desc, &flags);
        /* top: the callback */
    } else if (argc == 2) {
        if (!lua_isstring(L, 1))
            return raise(L, "first argument to redis.register_function must be a string");
        if (!lua_isfunction(L, 2))
            return raise(L, "second argument to redis.register_function must be a function");
        name = lua_tolstring(L, 1, &name_len);
        lua_pushvalue(L, 2);
    } else {
        return raise(L, "wrong number of arguments to redis.register_function");
    }
    if (!valid_name(name, name_len))
        return raise(L, INVALID_NAME);
    for (size_t i = 0; i < lib->function_count; i++)
        if (strlen(lib->functions[i].name) == name_len &&
            memcmp(lib->functions[i].name, name, name_len) == 0)
            return raise(L, "Function already exists in the library");
    struct function *grown =
        realloc(lib->functions, (lib->function_count + 1) * sizeof(*lib->functions));
    if (grown == NULL)
        return raise(L, "out of memory");
    lib->functions = grown;
    struct function *fn = &lib->functions[lib->function_count];
    fn->name = dup_bytes(name, name_len);
    fn->description = desc != NULL ? dup_bytes(desc, strlen(desc)) : NULL;
    if (fn->name == NULL || (desc != NULL && fn->description == NULL)) {
        free(fn->name);
        free(fn->description);
        return raise(L, "out of memory");
    }
    fn->flags = flags;
    fn->ref = luaL_ref(L, LUA_REGISTRYINDEX); /* pops the callback */
    lib->function_count++;
    return 0;
}

static void push_load_api(lua_State *L) {
    if (registry.api_ref == LUA_NOREF) {
        lua_newtable(L);
        lua_pushcfunction(L, register_function);
        lua_setfield(L, -2, "register_function");
        script_push_log_api(L);
        script_protect_api(-1);
        registry.api_ref = luaL_ref(L, LUA_REGISTRYINDEX);
    }
    lua_rawgeti(L, LUA_REGISTRYINDEX, registry.api_ref);
}

/* ---- Loading ---- */

/* Builds a library from 'code' (Redis 7.0 functionExtractLibMetaData and
 * functionsCreateWithLibraryCtx, up to but not including the checks against
 * the registry, except that without 'may_exist' an existing library of the
 * same name is refused before compiling, as Redis does). Returns it, or NULL with the error reply
 * text in 'err' (owned, free()). */
static struct library *compile_library(const char *code, size_t len, bool may_exist, char **err) {
    char msg[512];
    *err = NULL;
    if (len < 2 || code[0] != '#' || code[1] != '!') {
        *err = strdup("ERR Missing library metadata");
        return NULL;
    }
    const char *nl = memchr(code, '\n', len);
    if (nl == NULL) {
        *err = strdup("ERR Invalid library metadata");
        return NULL;
    }
    char *shebang = dup_bytes(code + 2, (size_t)(nl - code) - 2);
    if (shebang == NULL)
        return NULL;
    char *engine = NULL, *name = NULL, *save = NULL;
    for (char *word = strtok_r(shebang, " \t\r", &save); word != NULL;
         word = strtok_r(NULL, " \t\r", &save)) {
        if (engine == NULL) {
            engine = word;
        } else if (strncasecmp(word, "name=", 5) == 0) {
            if (name != NULL) {
                *err = strdup("ERR Invalid metadata value, name argument was given multiple times");
                goto fail;
            }
            name = word + 5;
        } else {
            snprintf(msg, sizeof(msg), "ERR Invalid metadata value given: %s", word);
            *err = strdup(msg);
            goto fail;
        }
    }
    if (engine == NULL) {
        *err = strdup("ERR Invalid library metadata");
        goto fail;
    }
    if (name == NULL) {
        *err = strdup("ERR Library name was not given");
        goto fail;
    }
    if (strcasecmp(engine, "lua") != 0) {
        snprintf(msg, sizeof(msg), "ERR Engine '%s' not found", engine);
        *err = strdup(msg);
        goto fail;
    }
    if (!valid_name(name, strlen(name))) {
        *err = strdup("ERR " INVALID_NAME);
        goto fail;
    }
    if (!may_exist && find_library(name, strlen(name)) != NULL) {
        snprintf(msg, sizeof(msg), "ERR Library '%s' already exists", name);
        *err = strdup(msg);
        goto fail;
    }
    struct library *lib = calloc(1, sizeof(*lib));
    if (lib == NULL || (lib->name = strdup(name)) == NULL ||
        (lib->code = dup_bytes(code, len)) == NULL) {
        free_library(lib);
        goto fail;
    }
    lib->code_len = len;
    free(shebang);

    lua_State *L = script_lua();
    push_load_api(L);
    if (script_compile(code, len, "@user_function") != 0) {
        snprintf(msg, sizeof(msg), "ERR Error compiling function: %s", lua_tostring(L, -1));
        lua_pop(L, 2);
        *err = strdup(msg);
        free_library(lib);
        return NULL;
    }
    registry.loading = lib;
    int rc = script_run_loader();
    registry.loading = NULL;
    if (rc != 0) {
        snprintf(msg, sizeof(msg), "ERR Error registering functions: %s", lua_tostring(L, -1));
        lua_pop(L, 1);
        *err = strdup(msg);
        free_library(lib);
        return NULL;
    }
    if (lib->function_count == 0) {
        *err = strdup("ERR No functions registered");
        free_library(lib);
        return NULL;
    }
    return lib;
fail:
    free(shebang);
    return NULL;
}

/* The first function of 'lib' whose name another library (not 'except')
 * already uses, or NULL. */
static const char *colliding_function(const struct library *lib, const struct library *except) {
    for (size_t i = 0; i < lib->function_count; i++) {
        const char *name = lib->functions[i].name;
        for (size_t j = 0; j < registry.count; j++) {
            const struct library *other = registry.libs[j];
            if (other == except || other == lib)
                continue;
            for (size_t k = 0; k < other->function_count; k++)
                if (strcmp(other->functions[k].name, name) == 0)
                    return name;
        }
    }
    return NULL;
}

static void reply_owned_error(struct resp_out *out, char *err) {
    resp_add_error(out, err != NULL ? err : "ERR out of memory");
    free(err);
}

void function_load(const char *code, size_t len, bool replace, struct resp_out *out) {
    char *err = NULL;
    struct library *lib = compile_library(code, len, replace, &err);
    if (lib == NULL) {
        reply_owned_error(out, err);
        return;
    }
    struct library *old = find_library(lib->name, strlen(lib->name));
    const char *clash = colliding_function(lib, old);
    if (clash != NULL) {
        resp_add_errorf(out, "ERR Function %s already exists", clash);
        free_library(lib);
        return;
    }
    if (old != NULL)
        function_delete(old->name, strlen(old->name));
    if (append_library(lib) != 0) {
        free_library(lib);
        resp_add_error(out, "ERR out of memory");
        return;
    }
    resp_add_bulk_cstr(out, lib->name);
}

/* ---- DUMP / RESTORE ---- */

/* CRC-64/Jones (reflected, init 0), as Redis's crc64 for DUMP payloads. */
static uint64_t crc64(uint64_t crc, const unsigned char *p, size_t len) {
    static uint64_t table[256];
    static bool ready;
    if (!ready) {
        for (int i = 0; i < 256; i++) {
            uint64_t v = (uint64_t)i;
            for (int b = 0; b < 8; b++)
                v = (v & 1) ? (v >> 1) ^ 0x95AC9329AC4BC9B5ULL : v >> 1;
            table[i] = v;
        }
        ready = true;
    }
    for (size_t i = 0; i < len; i++)
        crc = table[(crc ^ p[i]) & 0xff] ^ (crc >> 8);
    return crc;
}

static void add_length(struct resp_out *o, uint64_t len) {
    unsigned char buf[9];
    size_t n;
    if (len < 64) {
        buf[0] = (unsigned char)len;
        n = 1;
    } else if (len < 16384) {
        buf[0] = (unsigned char)(0x40 | (len >> 8));
        buf[1] = (unsigned char)len;
        n = 2;
    } else if (len <= UINT32_MAX) {
        buf[0] = 0x80;
        for (int i = 0; i < 4; i++)
            buf[1 + i] = (unsigned char)(len >> (24 - 8 * i));
        n = 5;
    } else {
        buf[0] = 0x81;
        for (int i = 0; i < 8; i++)
            buf[1 + i] = (unsigned char)(len >> (56 - 8 * i));
        n = 9;
    }
    resp_add_raw(o, (const char *)buf, n);
}

void function_dump(struct resp_out *out) {
    struct resp_out payload;
    resp_out_init(&payload, 2);
    for (size_t i = 0; i < registry.count; i++) {
        const struct library *lib = registry.libs[i];
        unsigned char op = RDB_OPCODE_FUNCTION2;
        resp_add_raw(&payload, (const char *)&op, 1);
        add_length(&payload, lib->code_len);
        resp_add_raw(&payload, lib->code, lib->code_len);
    }
    unsigned char footer[10] = {RDB_VERSION & 0xff, RDB_VERSION >> 8};
    resp_add_raw(&payload, (const char *)footer, 2);
    uint64_t crc = crc64(0, (const unsigned char *)payload.buf, payload.len);
    for (int i = 0; i < 8; i++)
        footer[2 + i] = (unsigned char)(crc >> (8 * i));
    resp_add_raw(&payload, (const char *)footer + 2, 8);
    if (payload.failed)
        resp_add_error(out, "ERR out of memory");
    else
        resp_add_bulk(out, payload.buf, payload.len);
    resp_out_close(&payload);
}

struct payload_reader {
    const unsigned char *p, *end;
};

static bool read_length(struct payload_reader *r, uint64_t *len, bool *is_encoded) {
    if (r->p >= r->end)
        return false;
    unsigned char first = *r->p++;
    *is_encoded = false;
    switch (first >> 6) {
    case 0:
        *len = first & 0x3f;
        return true;
    case 1:
        if (r->p >= r->end)
            return false;
        *len = (uint64_t)(first & 0x3f) << 8 | *r->p++;
        return true;
    case 2: {
        size_t n = first == 0x80 ? 4 : first == 0x81 ? 8 : 0;
        if (n == 0 || (size_t)(r->end - r->p) < n)
            return false;
        *len = 0;
        for (size_t i = 0; i < n; i++)
            *len = *len << 8 | *r->p++;
        return true;
    }
    default:
        *is_encoded = true;
        *len = first & 0x3f;
        return true;
    }
}

/* LZF decompression (liblzf's format, as Redis compresses RDB strings).
 * Returns the bytes written, or 0 on malformed input. */
static size_t lzf_decompress(const unsigned char *in, size_t in_len, unsigned char *out,
                             size_t out_len) {
    const unsigned char *ip = in, *in_end = in + in_len;
    unsigned char *op = out, *out_end = out + out_len;
    while (ip < in_end) {
        unsigned ctrl = *ip++;
        if (ctrl < 32) {
            ctrl++;
            if ((size_t)(out_end - op) < ctrl || (size_t)(in_end - ip) < ctrl)
                return 0;
            memcpy(op, ip, ctrl);
            op += ctrl;
            ip += ctrl;
        } else {
            size_t len = ctrl >> 5;
            if (len == 7) {
                if (ip >= in_end)
                    return 0;
                len += *ip++;
            }
            if (ip >= in_end)
                return 0;
            size_t back = ((ctrl & 0x1f) << 8) + *ip++ + 1;
            len += 2;
            if ((size_t)(op - out) < back || (size_t)(out_end - op) < len)
                return 0;
            for (size_t i = 0; i < len; i++, op++)
                *op = *(op - back);
        }
    }
    return (size_t)(op - out);
}

/* Reads an RDB string; returns an owned copy or NULL. */
static char *read_string(struct payload_reader *r, size_t *len) {
    uint64_t n;
    bool is_encoded;
    if (!read_length(r, &n, &is_encoded))
        return NULL;
    if (!is_encoded) {
        if (n > (uint64_t)(r->end - r->p))
            return NULL;
        char *s = dup_bytes((const char *)r->p, (size_t)n);
        r->p += n;
        *len = (size_t)n;
        return s;
    }
    if (n != 3) /* integer encodings never hold library code */
        return NULL;
    uint64_t clen, ulen;
    if (!read_length(r, &clen, &is_encoded) || is_encoded || !read_length(r, &ulen, &is_encoded) ||
        is_encoded || clen > (uint64_t)(r->end - r->p) || ulen > 512 * 1024 * 1024)
        return NULL;
    char *s = malloc((size_t)ulen + 1);
    if (s == NULL)
        return NULL;
    if (lzf_decompress(r->p, (size_t)clen, (unsigned char *)s, (size_t)ulen) != ulen) {
        free(s);
        return NULL;
    }
    s[ulen] = '\0';
    r->p += clen;
    *len = (size_t)ulen;
    return s;
}

void function_restore(const char *payload, size_t len, enum function_restore_policy policy,
                      struct resp_out *out) {
    const unsigned char *p = (const unsigned char *)payload;
    if (len < 10) {
        resp_add_error(out, "ERR DUMP payload version or checksum are wrong");
        return;
    }
    unsigned version = p[len - 10] | (unsigned)p[len - 9] << 8;
    uint64_t crc = 0;
    for (int i = 0; i < 8; i++)
        crc |= (uint64_t)p[len - 8 + i] << (8 * i);
    if (version > RDB_VERSION || crc64(0, p, len - 8) != crc) {
        resp_add_error(out, "ERR DUMP payload version or checksum are wrong");
        return;
    }
    struct library **loaded = NULL;
    size_t count = 0;
    char *err = NULL;
    struct payload_reader r = {p, p + len - 10};
    while (r.p < r.end) {
        if (*r.p++ != RDB_OPCODE_FUNCTION2) {
            err = strdup("ERR given type is not a function");
            goto fail;
        }
        size_t code_len;
        char *code = read_string(&r, &code_len);
        if (code == NULL) {
            err = strdup("ERR failed loading the given functions payload");
            goto fail;
        }
        struct library *lib = compile_library(code, code_len, true, &err);
        free(code);
        if (lib == NULL)
            goto fail;
        struct library **grown = realloc(loaded, (count + 1) * sizeof(*loaded));
        if (grown == NULL) {
            free_library(lib);
            goto fail;
        }
        loaded = grown;
        loaded[count++] = lib;
    }
    /* Check every collision before changing anything (Redis 7.0 merges into
     * a copy and swaps). */
    for (size_t i = 0; i < count; i++) {
        for (size_t j = 0; j < i; j++) {
            if (strcmp(loaded[i]->name, loaded[j]->name) == 0) {
                resp_add_errorf(out, "ERR Library %s already exists", loaded[i]->name);
                goto fail_replied;
            }
        }
        struct library *old = find_library(loaded[i]->name, strlen(loaded[i]->name));
        if (policy == FUNCTION_RESTORE_APPEND && old != NULL) {
            resp_add_errorf(out, "ERR Library %s already exists", loaded[i]->name);
            goto fail_replied;
        }
        if (policy != FUNCTION_RESTORE_FLUSH) {
            for (size_t f = 0; f < loaded[i]->function_count; f++) {
                const struct function *fn = function_find(loaded[i]->functions[f].name,
                                                          strlen(loaded[i]->functions[f].name));
                bool replaced = false;
                for (size_t k = 0; old != NULL && k < old->function_count; k++)
                    replaced |= fn == &old->functions[k];
                if (fn != NULL && !(policy == FUNCTION_RESTORE_REPLACE && replaced)) {
                    resp_add_errorf(out, "ERR Function %s already exists", fn->name);
                    goto fail_replied;
                }
            }
        }
    }
    if (policy == FUNCTION_RESTORE_FLUSH)
        function_flush();
    for (size_t i = 0; i < count; i++) {
        struct library *old = find_library(loaded[i]->name, strlen(loaded[i]->name));
        if (old != NULL)
            function_delete(old->name, strlen(old->name));
        if (append_library(loaded[i]) != 0)
            free_library(loaded[i]);
    }
    free(loaded);
    resp_add_raw(out, "+OK\r\n", 5);
    return;
fail:
    reply_owned_error(out, err);
fail_replied:
    for (size_t i = 0; i < count; i++)
        free_library(loaded[i]);
    free(loaded);
}
