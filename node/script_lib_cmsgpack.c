/* The 'cmsgpack' library for scripts (lua-cmsgpack's API, as Redis
 * bundles it), on msgpack-c: cmsgpack.pack(v1, ...), cmsgpack.unpack(s),
 * cmsgpack.unpack_one(s [, offset]), cmsgpack.unpack_limit(s, n [, offset]).
 *
 * As lua-cmsgpack: a table whose keys are exactly 1..n (or none) is an
 * array, others are maps; integral numbers are integers, others float32
 * when exact, else float64; strings are str; tables nested deeper than 16
 * and unsupported values become nil. One deliberate difference: map entries
 * are written sorted by their encoded key, so the bytes do not depend on
 * the Lua state's per-process hash seed. No Lua error is raised while
 * msgpack-c memory is held. */
#include "node/script_lib.h"

#include <lauxlib.h>
#include <msgpack.h>
#include <stdbool.h>
#include <stdlib.h>
#include <string.h>

#define MAX_NESTING 16

/* ---- Packing ---- */

static void pack_value(lua_State *L, msgpack_packer *pk, int idx, int depth);

static bool is_array(lua_State *L, int idx, size_t *len) {
    lua_Integer max = 0, count = 0;
    lua_pushnil(L);
    while (lua_next(L, idx)) {
        lua_pop(L, 1);
        if (!lua_isinteger(L, -1) || lua_tointeger(L, -1) < 1) {
            lua_pop(L, 1);
            return false;
        }
        lua_Integer k = lua_tointeger(L, -1);
        if (k > max)
            max = k;
        count++;
    }
    *len = (size_t)count;
    return max == count;
}

struct map_entry {
    msgpack_sbuffer key; /* the encoded key */
    int key_idx;         /* its stack slot, to fetch the value */
};

static int compare_entries(const void *a, const void *b) {
    const struct map_entry *x = a, *y = b;
    size_t n = x->key.size < y->key.size ? x->key.size : y->key.size;
    int c = memcmp(x->key.data, y->key.data, n);
    return c != 0 ? c : (x->key.size > y->key.size) - (x->key.size < y->key.size);
}

static void pack_table(lua_State *L, msgpack_packer *pk, int idx, int depth) {
    size_t len;
    if (depth > MAX_NESTING || !lua_checkstack(L, 8)) {
        msgpack_pack_nil(pk);
        return;
    }
    if (is_array(L, idx, &len)) {
        msgpack_pack_array(pk, len);
        for (size_t i = 1; i <= len; i++) {
            lua_rawgeti(L, idx, (lua_Integer)i);
            pack_value(L, pk, lua_gettop(L), depth + 1);
            lua_pop(L, 1);
        }
        return;
    }
    /* Keys go into a scratch table so their stack slots stay put. */
    size_t count = 0;
    lua_newtable(L);
    int keys = lua_gettop(L);
    lua_pushnil(L);
    while (lua_next(L, idx)) {
        lua_pop(L, 1);
        lua_pushvalue(L, -1);
        lua_rawseti(L, keys, (lua_Integer)++count);
    }
    struct map_entry *entries = calloc(count + 1, sizeof(*entries));
    if (entries == NULL) {
        lua_pop(L, 1);
        msgpack_pack_nil(pk);
        return;
    }
    for (size_t i = 0; i < count; i++) {
        msgpack_packer kp;
        msgpack_sbuffer_init(&entries[i].key);
        msgpack_packer_init(&kp, &entries[i].key, msgpack_sbuffer_write);
        lua_rawgeti(L, keys, (lua_Integer)i + 1);
        pack_value(L, &kp, lua_gettop(L), depth + 1);
        lua_pop(L, 1);
        entries[i].key_idx = (int)i + 1;
    }
    qsort(entries, count, sizeof(*entries), compare_entries);
    msgpack_pack_map(pk, count);
    for (size_t i = 0; i < count; i++) {
        pk->callback(pk->data, entries[i].key.data, entries[i].key.size);
        lua_rawgeti(L, keys, entries[i].key_idx);
        lua_rawget(L, idx);
        pack_value(L, pk, lua_gettop(L), depth + 1);
        lua_pop(L, 1);
        msgpack_sbuffer_destroy(&entries[i].key);
    }
    free(entries);
    lua_pop(L, 1);
}

static void pack_value(lua_State *L, msgpack_packer *pk, int idx, int depth) {
    size_t len;
    const char *s;
    switch (lua_type(L, idx)) {
    case LUA_TSTRING:
        s = lua_tolstring(L, idx, &len);
        msgpack_pack_str(pk, len);
        msgpack_pack_str_body(pk, s, len);
        break;
    case LUA_TBOOLEAN:
        if (lua_toboolean(L, idx))
            msgpack_pack_true(pk);
        else
            msgpack_pack_false(pk);
        break;
    case LUA_TNUMBER: {
        if (lua_isinteger(L, idx)) {
            msgpack_pack_int64(pk, (int64_t)lua_tointeger(L, idx));
            break;
        }
        double d = lua_tonumber(L, idx);
        if (d >= -9223372036854775808.0 && d < 9223372036854775808.0 && (double)(int64_t)d == d)
            msgpack_pack_int64(pk, (int64_t)d);
        else if ((double)(float)d == d)
            msgpack_pack_float(pk, (float)d);
        else
            msgpack_pack_double(pk, d);
        break;
    }
    case LUA_TTABLE:
        pack_table(L, pk, idx, depth);
        break;
    default:
        msgpack_pack_nil(pk);
        break;
    }
}

static int cmsgpack_pack(lua_State *L) {
    int argc = lua_gettop(L);
    if (argc == 0)
        return luaL_argerror(L, 0, "MessagePack pack needs input.");
    msgpack_sbuffer buf;
    msgpack_packer pk;
    msgpack_sbuffer_init(&buf);
    msgpack_packer_init(&pk, &buf, msgpack_sbuffer_write);
    for (int i = 1; i <= argc; i++)
        pack_value(L, &pk, i, 1);
    /* lua_pushlstring may raise on memory exhaustion: copy first. */
    luaL_Buffer b;
    char *dst = luaL_buffinitsize(L, &b, buf.size);
    memcpy(dst, buf.data, buf.size);
    size_t size = buf.size;
    msgpack_sbuffer_destroy(&buf);
    luaL_pushresultsize(&b, size);
    return 1;
}

/* ---- Unpacking ---- */

/* Pushes the Lua value of 'o'; false if the Lua stack cannot grow. */
static bool push_object(lua_State *L, const msgpack_object *o, int depth) {
    if (depth > 1000 || !lua_checkstack(L, 4))
        return false;
    switch (o->type) {
    case MSGPACK_OBJECT_NIL:
        lua_pushnil(L);
        return true;
    case MSGPACK_OBJECT_BOOLEAN:
        lua_pushboolean(L, o->via.boolean);
        return true;
    case MSGPACK_OBJECT_POSITIVE_INTEGER:
        if (o->via.u64 <= INT64_MAX)
            lua_pushinteger(L, (lua_Integer)o->via.u64);
        else
            lua_pushnumber(L, (lua_Number)o->via.u64);
        return true;
    case MSGPACK_OBJECT_NEGATIVE_INTEGER:
        lua_pushinteger(L, (lua_Integer)o->via.i64);
        return true;
    case MSGPACK_OBJECT_FLOAT32:
    case MSGPACK_OBJECT_FLOAT64:
        lua_pushnumber(L, o->via.f64);
        return true;
    case MSGPACK_OBJECT_STR:
        lua_pushlstring(L, o->via.str.ptr, o->via.str.size);
        return true;
    case MSGPACK_OBJECT_BIN:
        lua_pushlstring(L, o->via.bin.ptr, o->via.bin.size);
        return true;
    case MSGPACK_OBJECT_ARRAY:
        lua_createtable(L, (int)(o->via.array.size < 1024 ? o->via.array.size : 1024), 0);
        for (uint32_t i = 0; i < o->via.array.size; i++) {
            if (!push_object(L, &o->via.array.ptr[i], depth + 1))
                return false;
            lua_rawseti(L, -2, (lua_Integer)i + 1);
        }
        return true;
    case MSGPACK_OBJECT_MAP:
        lua_createtable(L, 0, (int)(o->via.map.size < 1024 ? o->via.map.size : 1024));
        for (uint32_t i = 0; i < o->via.map.size; i++) {
            if (!push_object(L, &o->via.map.ptr[i].key, depth + 1))
                return false;
            if (!push_object(L, &o->via.map.ptr[i].val, depth + 1))
                return false;
            if (lua_isnil(L, -2))
                lua_pop(L, 2); /* a nil key cannot be stored */
            else
                lua_rawset(L, -3);
        }
        return true;
    default:
        lua_pushnil(L);
        return true;
    }
}

/* Decodes up to 'limit' objects (0: all) from 'offset'. Pushes them and
 * returns how many, or -1 (bad data) / -2 (stack) with nothing left pushed;
 * 'offset' is advanced past what was decoded. */
static int unpack_some(lua_State *L, const char *s, size_t len, size_t *offset, int limit) {
    int top = lua_gettop(L);
    int count = 0;
    msgpack_unpacked result;
    msgpack_unpacked_init(&result);
    while (*offset < len && (limit == 0 || count < limit)) {
        size_t off = *offset;
        msgpack_unpack_return rc = msgpack_unpack_next(&result, s, len, &off);
        if (rc != MSGPACK_UNPACK_SUCCESS) {
            msgpack_unpacked_destroy(&result);
            lua_settop(L, top);
            return -1;
        }
        if (!push_object(L, &result.data, 0)) {
            msgpack_unpacked_destroy(&result);
            lua_settop(L, top);
            return -2;
        }
        *offset = off;
        count++;
    }
    msgpack_unpacked_destroy(&result);
    return count;
}

static int raise_unpack(lua_State *L, int rc) {
    return luaL_error(L, rc == -2 ? "too many items to unpack" : "Bad data format in input.");
}

static int cmsgpack_unpack(lua_State *L) {
    size_t len;
    const char *s = luaL_checklstring(L, 1, &len);
    size_t offset = 0;
    int n = unpack_some(L, s, len, &offset, 0);
    return n < 0 ? raise_unpack(L, n) : n;
}

static int unpack_limited(lua_State *L, int limit, int offset_arg) {
    size_t len;
    const char *s = luaL_checklstring(L, 1, &len);
    lua_Integer start = luaL_optinteger(L, offset_arg, 0);
    if (start < 0 || (size_t)start > len)
        return luaL_error(L, "Start offset %d greater than input length %d.", (int)start, (int)len);
    size_t offset = (size_t)start;
    lua_pushnil(L); /* placeholder for the next offset */
    int slot = lua_gettop(L);
    int n = unpack_some(L, s, len, &offset, limit);
    if (n < 0)
        return raise_unpack(L, n);
    lua_pushinteger(L, offset >= len ? -1 : (lua_Integer)offset);
    lua_replace(L, slot);
    return n + 1;
}

static int cmsgpack_unpack_one(lua_State *L) {
    return unpack_limited(L, 1, 2);
}

static int cmsgpack_unpack_limit(lua_State *L) {
    lua_Integer limit = luaL_checkinteger(L, 2);
    return unpack_limited(L, limit > 0 && limit < INT32_MAX ? (int)limit : 0, 3);
}

int script_lib_open_cmsgpack(lua_State *L) {
    static const luaL_Reg funcs[] = {
        {"pack", cmsgpack_pack},
        {"unpack", cmsgpack_unpack},
        {"unpack_one", cmsgpack_unpack_one},
        {"unpack_limit", cmsgpack_unpack_limit},
        {NULL, NULL},
    };
    luaL_newlib(L, funcs);
    return 1;
}
