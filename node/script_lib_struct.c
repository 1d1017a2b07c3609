/* The 'struct' library for scripts (Roberto Ierusalimschy's struct 0.2 API,
 * as Redis bundles it): struct.pack(fmt, ...), struct.unpack(fmt, s [, i])
 * and struct.size(fmt). Formats: '<' '>' '=' endianness, '!n' alignment,
 * 'x' pad, 'b' 'B' 'h' 'H' 'l' 'L' 'T' 'i[n]' 'I[n]' integers, 'f' 'd'
 * floats, 's' zero-terminated string, 'c[n]' fixed chars ('c0': the whole
 * string when packing, the previous number's length when unpacking). */
#include "node/script_lib.h"

#include <ctype.h>
#include <stdbool.h>
#include <lauxlib.h>
#include <stdint.h>
#include <string.h>

#define MAX_INT_SIZE 32

struct header {
    bool little;
    size_t align;
};

static size_t read_number(const char **fmt, size_t def) {
    if (!isdigit((unsigned char)**fmt))
        return def;
    size_t n = 0;
    while (isdigit((unsigned char)**fmt) && n < 100000)
        n = n * 10 + (size_t)(*(*fmt)++ - '0');
    return n;
}

/* The size of option 'opt' (fmt points past it, may read a count). */
static size_t option_size(lua_State *L, char opt, const char **fmt) {
    switch (opt) {
    case 'B':
    case 'b':
    case 'x':
        return 1;
    case 'H':
    case 'h':
        return 2;
    case 'L':
    case 'l':
    case 'T':
        return 8;
    case 'f':
        return sizeof(float);
    case 'd':
        return sizeof(double);
    case 'c':
        return read_number(fmt, 1);
    case 'i':
    case 'I': {
        size_t n = read_number(fmt, sizeof(int));
        if (n > MAX_INT_SIZE)
            luaL_error(L, "integral size %d is larger than limit of %d", (int)n, MAX_INT_SIZE);
        return n;
    }
    default:
        return 0;
    }
}

static size_t padding(const struct header *h, size_t len, size_t size) {
    size_t align = size < h->align ? size : h->align;
    if (align <= 1 || (align & (align - 1)) != 0)
        return 0;
    return (align - (len & (align - 1))) & (align - 1);
}

/* Handles the options that only change the header; false for the others. */
static bool control_option(lua_State *L, char opt, const char **fmt, struct header *h) {
    switch (opt) {
    case ' ':
        return true;
    case '>':
        h->little = false;
        return true;
    case '<':
    case '=':
        h->little = true;
        return true;
    case '!': {
        size_t a = read_number(fmt, 8);
        if (a == 0 || (a & (a - 1)) != 0)
            luaL_error(L, "alignment %d is not a power of 2", (int)a);
        h->align = a;
        return true;
    }
    default:
        return false;
    }
}

static void pack_int(luaL_Buffer *b, uint64_t v, bool little, size_t size) {
    char buf[MAX_INT_SIZE];
    for (size_t i = 0; i < size; i++) {
        size_t at = little ? i : size - 1 - i;
        buf[at] = i < 8 ? (char)(v >> (8 * i)) : (char)((int64_t)v < 0 ? 0xff : 0);
    }
    luaL_addlstring(b, buf, size);
}

static void pack_bytes(luaL_Buffer *b, const void *p, size_t size, bool little) {
    const unsigned char *s = p;
    /* The host is little-endian for floats here: reverse for big. */
    for (size_t i = 0; i < size; i++)
        luaL_addchar(b, (char)(little ? s[i] : s[size - 1 - i]));
}

static uint64_t arg_integer(lua_State *L, int arg) {
    if (lua_isinteger(L, arg))
        return (uint64_t)lua_tointeger(L, arg);
    lua_Number n = luaL_checknumber(L, arg);
    if (n < 0)
        return (uint64_t)(int64_t)n;
    return n >= 18446744073709551616.0 ? UINT64_MAX : (uint64_t)n;
}

static int struct_pack(lua_State *L) {
    const char *fmt = luaL_checkstring(L, 1);
    struct header h = {true, 1};
    int arg = 2;
    size_t total = 0;
    luaL_Buffer b;
    luaL_buffinit(L, &b);
    while (*fmt) {
        char opt = *fmt++;
        if (control_option(L, opt, &fmt, &h))
            continue;
        size_t size = option_size(L, opt, &fmt);
        size_t pad = padding(&h, total, size);
        for (size_t i = 0; i < pad; i++)
            luaL_addchar(&b, '\0');
        total += pad;
        switch (opt) {
        case 'b':
        case 'B':
        case 'h':
        case 'H':
        case 'l':
        case 'L':
        case 'T':
        case 'i':
        case 'I':
            pack_int(&b, arg_integer(L, arg++), h.little, size);
            break;
        case 'x':
            luaL_addchar(&b, '\0');
            break;
        case 'f': {
            float f = (float)luaL_checknumber(L, arg++);
            pack_bytes(&b, &f, sizeof(f), h.little);
            break;
        }
        case 'd': {
            double d = (double)luaL_checknumber(L, arg++);
            pack_bytes(&b, &d, sizeof(d), h.little);
            break;
        }
        case 'c':
        case 's': {
            size_t len;
            const char *s = luaL_checklstring(L, arg, &len);
            if (opt == 'c' && size == 0) {
                size = len;
            } else if (opt == 'c') {
                luaL_argcheck(L, len >= size, arg, "string too short");
            } else {
                size = len + 1; /* with its terminating zero */
            }
            arg++;
            luaL_addlstring(&b, s, opt == 's' ? len : size);
            if (opt == 's')
                luaL_addchar(&b, '\0');
            break;
        }
        default:
            return luaL_error(L, "invalid format option '%c'", opt);
        }
        total += size;
    }
    luaL_pushresult(&b);
    return 1;
}

static uint64_t unpack_int(const char *p, bool little, size_t size, bool is_signed) {
    uint64_t v = 0;
    size_t limit = size < 8 ? size : 8;
    for (size_t i = 0; i < limit; i++) {
        unsigned char byte = (unsigned char)p[little ? i : size - 1 - i];
        v |= (uint64_t)byte << (8 * i);
    }
    if (is_signed && size < 8 && (v >> (8 * size - 1)) & 1)
        v |= ~(uint64_t)0 << (8 * size);
    return v;
}

static void unpack_bytes(void *dst, const char *p, size_t size, bool little) {
    unsigned char *d = dst;
    for (size_t i = 0; i < size; i++)
        d[i] = (unsigned char)(little ? p[i] : p[size - 1 - i]);
}

static int struct_unpack(lua_State *L) {
    const char *fmt = luaL_checkstring(L, 1);
    size_t len;
    const char *data = luaL_checklstring(L, 2, &len);
    lua_Integer start = luaL_optinteger(L, 3, 1);
    luaL_argcheck(L, start >= 1, 3, "offset must be 1 or greater");
    size_t pos = (size_t)start - 1;
    struct header h = {true, 1};
    int count = 0;
    while (*fmt) {
        char opt = *fmt++;
        if (control_option(L, opt, &fmt, &h))
            continue;
        size_t size = option_size(L, opt, &fmt);
        pos += padding(&h, pos, size);
        luaL_argcheck(L, pos <= len && size <= len - pos, 2, "data string too short");
        luaL_checkstack(L, 2, "too many results");
        switch (opt) {
        case 'b':
        case 'h':
        case 'l':
        case 'i':
            lua_pushinteger(L, (lua_Integer)unpack_int(data + pos, h.little, size, true));
            count++;
            break;
        case 'B':
        case 'H':
        case 'L':
        case 'T':
        case 'I':
            lua_pushinteger(L, (lua_Integer)unpack_int(data + pos, h.little, size, false));
            count++;
            break;
        case 'x':
            break;
        case 'f': {
            float f;
            unpack_bytes(&f, data + pos, sizeof(f), h.little);
            lua_pushnumber(L, f);
            count++;
            break;
        }
        case 'd': {
            double d;
            unpack_bytes(&d, data + pos, sizeof(d), h.little);
            lua_pushnumber(L, d);
            count++;
            break;
        }
        case 'c':
            if (size == 0) {
                if (count == 0 || !lua_isinteger(L, -1))
                    return luaL_error(L, "format 'c0' needs a previous size");
                lua_Integer n = lua_tointeger(L, -1);
                lua_pop(L, 1);
                count--;
                luaL_argcheck(L, n >= 0 && (size_t)n <= len - pos, 2, "data string too short");
                size = (size_t)n;
            }
            lua_pushlstring(L, data + pos, size);
            count++;
            break;
        case 's': {
            const char *end = memchr(data + pos, '\0', len - pos);
            luaL_argcheck(L, end != NULL, 2, "unfinished string in data");
            size = (size_t)(end - (data + pos)) + 1;
            lua_pushlstring(L, data + pos, size - 1);
            count++;
            break;
        }
        default:
            return luaL_error(L, "invalid format option '%c'", opt);
        }
        pos += size;
    }
    lua_pushinteger(L, (lua_Integer)pos + 1);
    return count + 1;
}

static int struct_size(lua_State *L) {
    const char *fmt = luaL_checkstring(L, 1);
    struct header h = {true, 1};
    size_t pos = 0;
    while (*fmt) {
        char opt = *fmt++;
        if (control_option(L, opt, &fmt, &h))
            continue;
        size_t size = option_size(L, opt, &fmt);
        pos += padding(&h, pos, size);
        if (opt == 's')
            luaL_argerror(L, 1, "options 's' has no size");
        else if (opt == 'c' && size == 0)
            luaL_argerror(L, 1, "option 'c0' has no fixed size");
        else if (size == 0)
            return luaL_error(L, "invalid format option '%c'", opt);
        pos += size;
    }
    lua_pushinteger(L, (lua_Integer)pos);
    return 1;
}

int script_lib_open_struct(lua_State *L) {
    static const luaL_Reg funcs[] = {
        {"pack", struct_pack},
        {"unpack", struct_unpack},
        {"size", struct_size},
        {NULL, NULL},
    };
    luaL_newlib(L, funcs);
    return 1;
}
