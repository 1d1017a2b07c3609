/* The 'cjson' library for scripts (lua-cjson 2.1's encode/decode, as Redis
 * bundles it): cjson.encode(value), cjson.decode(text), cjson.null.
 *
 * Encoding follows lua-cjson: a table whose keys are exactly 1..n is an
 * array, an empty table is "{}", other tables are objects with string or
 * number keys; '/' and control characters are escaped; numbers use "%.14g";
 * too-sparse arrays, NaN/Inf, unsupported types and nesting over 1000 are
 * errors. One deliberate difference: object keys are written in sorted
 * order, because a script's output must not depend on the Lua state's
 * per-process string hash seed (every member must compute the same bytes). */
#include "node/script_lib.h"

#include <lauxlib.h>
#include <errno.h>
#include <math.h>
#include <stdbool.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#define MAX_DEPTH    1000
#define SPARSE_RATIO 2
#define SPARSE_SAFE  10

/* ---- Encoding ---- */

/* The output buffer lives in a userdata whose __gc frees it, so a Lua error
 * in the middle of encoding (NaN, a function value) leaks nothing. */
struct sbuf {
    char *p;
    size_t len, cap;
};

static void sb_add(lua_State *L, struct sbuf *b, const char *s, size_t n) {
    if (b->cap - b->len < n) {
        size_t cap = b->cap ? b->cap : 256;
        while (cap - b->len < n)
            cap *= 2;
        char *p = realloc(b->p, cap);
        if (p == NULL)
            luaL_error(L, "not enough memory");
        b->p = p;
        b->cap = cap;
    }
    memcpy(b->p + b->len, s, n);
    b->len += n;
}

static void sb_str(lua_State *L, struct sbuf *b, const char *s) {
    sb_add(L, b, s, strlen(s));
}

static int sbuf_gc(lua_State *L) {
    struct sbuf *b = lua_touserdata(L, 1);
    free(b->p);
    b->p = NULL;
    return 0;
}

static void encode_value(lua_State *L, struct sbuf *b, int idx, int depth);

static void encode_string(lua_State *L, struct sbuf *b, const char *s, size_t len) {
    sb_add(L, b, "\"", 1);
    size_t run = 0; /* bytes copied as they are, flushed in one go */
    for (size_t i = 0; i < len; i++) {
        unsigned char c = (unsigned char)s[i];
        const char *esc = NULL;
        char ubuf[8];
        switch (c) {
        case '"':
            esc = "\\\"";
            break;
        case '\\':
            esc = "\\\\";
            break;
        case '/':
            esc = "\\/";
            break;
        case '\b':
            esc = "\\b";
            break;
        case '\f':
            esc = "\\f";
            break;
        case '\n':
            esc = "\\n";
            break;
        case '\r':
            esc = "\\r";
            break;
        case '\t':
            esc = "\\t";
            break;
        default:
            if (c < 0x20 || c == 0x7f) {
                snprintf(ubuf, sizeof(ubuf), "\\u%04x", c);
                esc = ubuf;
            }
        }
        if (esc == NULL) {
            run++;
            continue;
        }
        sb_add(L, b, s + i - run, run);
        run = 0;
        sb_str(L, b, esc);
    }
    sb_add(L, b, s + len - run, run);
    sb_add(L, b, "\"", 1);
}

/* Formats the number at 'idx' as lua-cjson does ("%.14g"; integers exact). */
static void format_number(lua_State *L, int idx, char buf[64]) {
    if (lua_isinteger(L, idx)) {
        snprintf(buf, 64, "%lld", (long long)lua_tointeger(L, idx));
        return;
    }
    double d = lua_tonumber(L, idx);
    if (!isfinite(d))
        luaL_error(L, "Cannot serialise number: must not be NaN or Inf");
    snprintf(buf, 64, "%.14g", d);
}

/* The array length of the table at 'idx', 0 for an empty table, or -1 if it
 * must be an object. Raises on an excessively sparse array. */
static lua_Integer array_length(lua_State *L, int idx) {
    lua_Integer max = 0, items = 0;
    lua_pushnil(L);
    while (lua_next(L, idx)) {
        if (lua_isinteger(L, -2) && lua_tointeger(L, -2) >= 1) {
            lua_Integer k = lua_tointeger(L, -2);
            if (k > max)
                max = k;
            items++;
            lua_pop(L, 1);
            continue;
        }
        lua_pop(L, 2);
        return -1;
    }
    if (max > items * SPARSE_RATIO && max > SPARSE_SAFE)
        luaL_error(L, "Cannot serialise table: excessively sparse array");
    return max;
}

struct key_entry {
    const char *s;
    size_t len;
    lua_Integer slot;
};

static int compare_keys(const void *a, const void *b) {
    const struct key_entry *x = a, *y = b;
    size_t n = x->len < y->len ? x->len : y->len;
    int c = memcmp(x->s, y->s, n);
    return c != 0 ? c : (x->len > y->len) - (x->len < y->len);
}

static void encode_object(lua_State *L, struct sbuf *b, int idx, int depth) {
    /* keys[2i-1] = the original key, keys[2i] = its text (kept alive here). */
    lua_newtable(L);
    int keys = lua_gettop(L);
    lua_Integer n = 0;
    lua_pushnil(L);
    while (lua_next(L, idx)) {
        lua_pop(L, 1);
        int type = lua_type(L, -1);
        if (type != LUA_TSTRING && type != LUA_TNUMBER)
            luaL_error(L, "Cannot serialise table: table key must be a number or string");
        lua_pushvalue(L, -1);
        lua_rawseti(L, keys, ++n);
        if (type == LUA_TNUMBER) {
            char num[64];
            format_number(L, -1, num);
            lua_pushstring(L, num);
        } else {
            lua_pushvalue(L, -1);
        }
        lua_rawseti(L, keys, ++n);
    }
    lua_Integer count = n / 2;
    struct key_entry *entries =
        lua_newuserdatauv(L, (size_t)(count + 1) * sizeof(struct key_entry), 0);
    for (lua_Integer i = 0; i < count; i++) {
        lua_rawgeti(L, keys, 2 * i + 2);
        entries[i].s = lua_tolstring(L, -1, &entries[i].len);
        entries[i].slot = 2 * i + 1;
        lua_pop(L, 1);
    }
    qsort(entries, (size_t)count, sizeof(struct key_entry), compare_keys);
    sb_add(L, b, "{", 1);
    for (lua_Integer i = 0; i < count; i++) {
        if (i > 0)
            sb_add(L, b, ",", 1);
        encode_string(L, b, entries[i].s, entries[i].len);
        sb_add(L, b, ":", 1);
        lua_rawgeti(L, keys, entries[i].slot);
        lua_rawget(L, idx);
        encode_value(L, b, lua_gettop(L), depth + 1);
        lua_pop(L, 1);
    }
    sb_add(L, b, "}", 1);
    lua_pop(L, 2);
}

static void encode_value(lua_State *L, struct sbuf *b, int idx, int depth) {
    size_t len;
    const char *s;
    char num[64];
    switch (lua_type(L, idx)) {
    case LUA_TSTRING:
        s = lua_tolstring(L, idx, &len);
        encode_string(L, b, s, len);
        break;
    case LUA_TNUMBER:
        format_number(L, idx, num);
        sb_str(L, b, num);
        break;
    case LUA_TBOOLEAN:
        sb_str(L, b, lua_toboolean(L, idx) ? "true" : "false");
        break;
    case LUA_TNIL:
        sb_str(L, b, "null");
        break;
    case LUA_TLIGHTUSERDATA:
        if (lua_touserdata(L, idx) == NULL) {
            sb_str(L, b, "null");
            break;
        }
        luaL_error(L, "Cannot serialise userdata: type not supported");
        break;
    case LUA_TTABLE: {
        if (depth > MAX_DEPTH)
            luaL_error(L, "Cannot serialise, excessive nesting (%d)", depth);
        luaL_checkstack(L, 8, "Cannot serialise, excessive nesting");
        lua_Integer n = array_length(L, idx);
        if (n > 0) {
            sb_add(L, b, "[", 1);
            for (lua_Integer i = 1; i <= n; i++) {
                if (i > 1)
                    sb_add(L, b, ",", 1);
                lua_rawgeti(L, idx, i);
                encode_value(L, b, lua_gettop(L), depth + 1);
                lua_pop(L, 1);
            }
            sb_add(L, b, "]", 1);
        } else {
            encode_object(L, b, idx, depth);
        }
        break;
    }
    default:
        luaL_error(L, "Cannot serialise %s: type not supported", luaL_typename(L, idx));
    }
}

static int cjson_encode(lua_State *L) {
    luaL_argcheck(L, lua_gettop(L) == 1, 1, "expected 1 argument");
    struct sbuf *b = lua_newuserdatauv(L, sizeof(*b), 0);
    memset(b, 0, sizeof(*b));
    lua_newtable(L);
    lua_pushcfunction(L, sbuf_gc);
    lua_setfield(L, -2, "__gc");
    lua_setmetatable(L, -2);
    encode_value(L, b, 1, 1);
    lua_pushlstring(L, b->p != NULL ? b->p : "", b->len);
    free(b->p);
    b->p = NULL;
    return 1;
}

/* ---- Decoding ---- */

struct parser {
    lua_State *L;
    const char *s, *p, *end;
    int depth;
};

static int decode_error(struct parser *ps, const char *expected) {
    const char *found = ps->p >= ps->end ? "T_END" : "invalid token";
    if (ps->p < ps->end) {
        switch (*ps->p) {
        case '{':
            found = "T_OBJ_BEGIN";
            break;
        case '}':
            found = "T_OBJ_END";
            break;
        case '[':
            found = "T_ARR_BEGIN";
            break;
        case ']':
            found = "T_ARR_END";
            break;
        case ',':
            found = "T_COMMA";
            break;
        case ':':
            found = "T_COLON";
            break;
        case '"':
            found = "T_STRING";
            break;
        default:
            break;
        }
    }
    return luaL_error(ps->L, "Expected %s but found %s at character %d", expected, found,
                      (int)(ps->p - ps->s) + 1);
}

static void skip_ws(struct parser *ps) {
    while (ps->p < ps->end && (*ps->p == ' ' || *ps->p == '\t' || *ps->p == '\n' || *ps->p == '\r'))
        ps->p++;
}

static int hex_digit(char c) {
    if (c >= '0' && c <= '9')
        return c - '0';
    if (c >= 'a' && c <= 'f')
        return c - 'a' + 10;
    if (c >= 'A' && c <= 'F')
        return c - 'A' + 10;
    return -1;
}

static bool read_hex4(struct parser *ps, const char *at, unsigned *out) {
    if (ps->end - at < 4)
        return false;
    unsigned v = 0;
    for (int i = 0; i < 4; i++) {
        int d = hex_digit(at[i]);
        if (d < 0)
            return false;
        v = v << 4 | (unsigned)d;
    }
    *out = v;
    return true;
}

static void add_utf8(luaL_Buffer *b, unsigned cp) {
    if (cp < 0x80) {
        luaL_addchar(b, (char)cp);
    } else if (cp < 0x800) {
        luaL_addchar(b, (char)(0xC0 | (cp >> 6)));
        luaL_addchar(b, (char)(0x80 | (cp & 0x3F)));
    } else if (cp < 0x10000) {
        luaL_addchar(b, (char)(0xE0 | (cp >> 12)));
        luaL_addchar(b, (char)(0x80 | ((cp >> 6) & 0x3F)));
        luaL_addchar(b, (char)(0x80 | (cp & 0x3F)));
    } else {
        luaL_addchar(b, (char)(0xF0 | (cp >> 18)));
        luaL_addchar(b, (char)(0x80 | ((cp >> 12) & 0x3F)));
        luaL_addchar(b, (char)(0x80 | ((cp >> 6) & 0x3F)));
        luaL_addchar(b, (char)(0x80 | (cp & 0x3F)));
    }
}

/* Pushes the string starting at the opening quote. */
static void decode_string(struct parser *ps) {
    lua_State *L = ps->L;
    const char *start = ps->p;
    ps->p++;
    luaL_Buffer b;
    luaL_buffinit(L, &b);
    while (ps->p < ps->end && *ps->p != '"') {
        char c = *ps->p;
        if ((unsigned char)c < 0x20) {
            ps->p = start;
            decode_error(ps, "value");
        }
        if (c != '\\') {
            luaL_addchar(&b, c);
            ps->p++;
            continue;
        }
        if (ps->end - ps->p < 2)
            break;
        char e = ps->p[1];
        ps->p += 2;
        switch (e) {
        case '"':
        case '\\':
        case '/':
            luaL_addchar(&b, e);
            break;
        case 'b':
            luaL_addchar(&b, '\b');
            break;
        case 'f':
            luaL_addchar(&b, '\f');
            break;
        case 'n':
            luaL_addchar(&b, '\n');
            break;
        case 'r':
            luaL_addchar(&b, '\r');
            break;
        case 't':
            luaL_addchar(&b, '\t');
            break;
        case 'u': {
            unsigned cp, lo;
            if (!read_hex4(ps, ps->p, &cp)) {
                ps->p = start;
                decode_error(ps, "value");
            }
            ps->p += 4;
            if (cp >= 0xD800 && cp < 0xDC00 && ps->end - ps->p >= 6 && ps->p[0] == '\\' &&
                ps->p[1] == 'u' && read_hex4(ps, ps->p + 2, &lo) && lo >= 0xDC00 && lo < 0xE000) {
                cp = 0x10000 + ((cp - 0xD800) << 10) + (lo - 0xDC00);
                ps->p += 6;
            }
            add_utf8(&b, cp);
            break;
        }
        default:
            ps->p = start;
            decode_error(ps, "value");
        }
    }
    if (ps->p >= ps->end) {
        ps->p = start;
        decode_error(ps, "value");
    }
    ps->p++;
    luaL_pushresult(&b);
}

static void decode_number(struct parser *ps) {
    const char *start = ps->p;
    bool is_float = false;
    const char *q = ps->p;
    if (q < ps->end && *q == '-')
        q++;
    while (q < ps->end && ((*q >= '0' && *q <= '9') || *q == '.' || *q == 'e' || *q == 'E' ||
                           *q == '+' || *q == '-')) {
        if (*q == '.' || *q == 'e' || *q == 'E')
            is_float = true;
        q++;
    }
    size_t len = (size_t)(q - start);
    char buf[128];
    if (len == 0 || len >= sizeof(buf))
        decode_error(ps, "value");
    memcpy(buf, start, len);
    buf[len] = '\0';
    char *end;
    if (!is_float) {
        errno = 0;
        long long v = strtoll(buf, &end, 10);
        if (*end == '\0' && errno == 0) {
            lua_pushinteger(ps->L, v);
            ps->p = q;
            return;
        }
    }
    double d = strtod(buf, &end);
    if (*end != '\0')
        decode_error(ps, "value");
    lua_pushnumber(ps->L, d);
    ps->p = q;
}

static void decode_value(struct parser *ps);

static void decode_object(struct parser *ps) {
    lua_State *L = ps->L;
    lua_newtable(L);
    ps->p++;
    skip_ws(ps);
    if (ps->p < ps->end && *ps->p == '}') {
        ps->p++;
        return;
    }
    for (;;) {
        skip_ws(ps);
        if (ps->p >= ps->end || *ps->p != '"')
            decode_error(ps, "object key string");
        decode_string(ps);
        skip_ws(ps);
        if (ps->p >= ps->end || *ps->p != ':')
            decode_error(ps, "colon");
        ps->p++;
        decode_value(ps);
        lua_rawset(L, -3);
        skip_ws(ps);
        if (ps->p < ps->end && *ps->p == '}') {
            ps->p++;
            return;
        }
        if (ps->p >= ps->end || *ps->p != ',')
            decode_error(ps, "comma or object end");
        ps->p++;
    }
}

static void decode_array(struct parser *ps) {
    lua_State *L = ps->L;
    lua_newtable(L);
    ps->p++;
    skip_ws(ps);
    if (ps->p < ps->end && *ps->p == ']') {
        ps->p++;
        return;
    }
    for (lua_Integer i = 1;; i++) {
        decode_value(ps);
        lua_rawseti(L, -2, i);
        skip_ws(ps);
        if (ps->p < ps->end && *ps->p == ']') {
            ps->p++;
            return;
        }
        if (ps->p >= ps->end || *ps->p != ',')
            decode_error(ps, "comma or array end");
        ps->p++;
    }
}

static bool match_word(struct parser *ps, const char *word) {
    size_t n = strlen(word);
    if ((size_t)(ps->end - ps->p) < n || memcmp(ps->p, word, n) != 0)
        return false;
    ps->p += n;
    return true;
}

static void decode_value(struct parser *ps) {
    lua_State *L = ps->L;
    skip_ws(ps);
    if (ps->p >= ps->end)
        decode_error(ps, "value");
    luaL_checkstack(L, 4, "too many nested data structures");
    char c = *ps->p;
    if (c == '{' || c == '[') {
        if (++ps->depth > MAX_DEPTH)
            luaL_error(L, "Found too many nested data structures (%d) at character %d", ps->depth,
                       (int)(ps->p - ps->s) + 1);
        if (c == '{')
            decode_object(ps);
        else
            decode_array(ps);
        ps->depth--;
    } else if (c == '"') {
        decode_string(ps);
    } else if (c == '-' || (c >= '0' && c <= '9')) {
        decode_number(ps);
    } else if (match_word(ps, "true")) {
        lua_pushboolean(L, 1);
    } else if (match_word(ps, "false")) {
        lua_pushboolean(L, 0);
    } else if (match_word(ps, "null")) {
        lua_pushlightuserdata(L, NULL);
    } else {
        decode_error(ps, "value");
    }
}

static int cjson_decode(lua_State *L) {
    luaL_argcheck(L, lua_gettop(L) == 1, 1, "expected 1 argument");
    size_t len;
    const char *s = luaL_checklstring(L, 1, &len);
    struct parser ps = {L, s, s, s + len, 0};
    decode_value(&ps);
    skip_ws(&ps);
    if (ps.p != ps.end)
        decode_error(&ps, "the end");
    return 1;
}

int script_lib_open_cjson(lua_State *L) {
    static const luaL_Reg funcs[] = {
        {"encode", cjson_encode},
        {"decode", cjson_decode},
        {NULL, NULL},
    };
    luaL_newlib(L, funcs);
    lua_pushlightuserdata(L, NULL);
    lua_setfield(L, -2, "null");
    return 1;
}
