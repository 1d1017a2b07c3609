/* RESP <-> Lua conversions for scripts (see script_convert.h). The RESP
 * side is always keyraft's own writer output, but it is still parsed with
 * bounds checks: a malformed reply is reported, never trusted. */
#include "node/script_convert.h"

#include <lauxlib.h>
#include <math.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

/* Deeper nesting than any command produces; also bounds the C recursion of
 * both directions (a Lua table may even contain itself). */
#define MAX_DEPTH 1000

/* ---- RESP -> Lua ---- */

struct reader {
    const char *p, *end;
};

/* Reads one CRLF-terminated line; sets 'line'/'n' to its text. */
static bool read_line(struct reader *r, const char **line, size_t *n) {
    const char *s = r->p;
    while (s + 1 < r->end && !(s[0] == '\r' && s[1] == '\n'))
        s++;
    if (s + 1 >= r->end)
        return false;
    *line = r->p;
    *n = (size_t)(s - r->p);
    r->p = s + 2;
    return true;
}

static bool parse_ll(const char *s, size_t n, long long *out) {
    char buf[32];
    if (n == 0 || n >= sizeof(buf))
        return false;
    memcpy(buf, s, n);
    buf[n] = '\0';
    char *end;
    *out = strtoll(buf, &end, 10);
    return *end == '\0';
}

static bool read_bulk(struct reader *r, long long len, const char **data) {
    if (len < 0 || (size_t)(r->end - r->p) < (size_t)len + 2)
        return false;
    *data = r->p;
    r->p += len + 2;
    return true;
}

/* With 'L' NULL the value is parsed and dropped (attributes). */
static bool push_value(lua_State *L, struct reader *r, int depth) {
    if (r->p >= r->end || depth > MAX_DEPTH)
        return false;
    char type = *r->p++;
    const char *line;
    size_t n;
    if (!read_line(r, &line, &n))
        return false;
    if (L != NULL)
        luaL_checkstack(L, 4, "reached lua stack limit");
    long long count;
    switch (type) {
    case ':':
        if (!parse_ll(line, n, &count))
            return false;
        if (L != NULL)
            lua_pushinteger(L, count);
        return true;
    case '+':
    case '-':
        if (L == NULL)
            return true;
        if (type == '-') {
            /* Keep the '-' so script_push_error sees the code. */
            script_push_error(L, line - 1, n + 1);
        } else {
            lua_createtable(L, 0, 1);
            lua_pushlstring(L, line, n);
            lua_setfield(L, -2, "ok");
        }
        return true;
    case '$':
    case '=': {
        const char *data;
        if (!parse_ll(line, n, &count))
            return false;
        if (count < 0) {
            if (L != NULL)
                lua_pushboolean(L, 0);
            return true;
        }
        if (!read_bulk(r, count, &data))
            return false;
        if (L == NULL)
            return true;
        if (type == '$') {
            lua_pushlstring(L, data, (size_t)count);
            return true;
        }
        if (count < 4)
            return false;
        lua_createtable(L, 0, 1);
        lua_createtable(L, 0, 2);
        lua_pushlstring(L, data + 4, (size_t)count - 4);
        lua_setfield(L, -2, "string");
        lua_pushlstring(L, data, 3);
        lua_setfield(L, -2, "format");
        lua_setfield(L, -2, "verbatim_string");
        return true;
    }
    case '_':
        if (L != NULL)
            lua_pushnil(L);
        return true;
    case '#':
        if (n != 1 || (line[0] != 't' && line[0] != 'f'))
            return false;
        if (L != NULL)
            lua_pushboolean(L, line[0] == 't');
        return true;
    case ',': {
        char buf[64];
        if (n == 0 || n >= sizeof(buf))
            return false;
        memcpy(buf, line, n);
        buf[n] = '\0';
        char *end;
        double d = strtod(buf, &end);
        if (*end != '\0')
            return false;
        if (L != NULL) {
            lua_createtable(L, 0, 1);
            lua_pushnumber(L, d);
            lua_setfield(L, -2, "double");
        }
        return true;
    }
    case '(':
        if (L != NULL) {
            lua_createtable(L, 0, 1);
            lua_pushlstring(L, line, n);
            lua_setfield(L, -2, "big_number");
        }
        return true;
    case '*':
    case '>':
    case '~':
    case '%':
    case '|':
        if (!parse_ll(line, n, &count))
            return false;
        if (count < 0) {
            if (L != NULL)
                lua_pushboolean(L, 0);
            return true;
        }
        if (count > (long long)(r->end - r->p))
            return false; /* every element takes at least one byte */
        break;
    default:
        return false;
    }

    if (type == '|') {
        for (long long i = 0; i < count * 2; i++)
            if (!push_value(NULL, r, depth + 1))
                return false;
        return push_value(L, r, depth);
    }
    if (L == NULL) {
        long long elems = type == '%' ? count * 2 : count;
        for (long long i = 0; i < elems; i++)
            if (!push_value(NULL, r, depth + 1))
                return false;
        return true;
    }
    if (type == '*' || type == '>') {
        lua_createtable(L, count < INT32_MAX ? (int)count : 0, 0);
        for (long long i = 0; i < count; i++) {
            if (!push_value(L, r, depth + 1)) {
                lua_pop(L, 1);
                return false;
            }
            lua_rawseti(L, -2, i + 1);
        }
        return true;
    }
    lua_createtable(L, 0, 1);
    lua_createtable(L, 0, count < INT32_MAX ? (int)count : 0);
    for (long long i = 0; i < count; i++) {
        if (!push_value(L, r, depth + 1)) {
            lua_pop(L, 2);
            return false;
        }
        if (type == '%') {
            if (!push_value(L, r, depth + 1)) {
                lua_pop(L, 3);
                return false;
            }
        } else {
            lua_pushboolean(L, 1);
        }
        /* A nil key (RESP3 null inside a set) cannot be stored: drop it. */
        if (lua_isnil(L, -2))
            lua_pop(L, 2);
        else
            lua_rawset(L, -3);
    }
    lua_setfield(L, -2, type == '%' ? "map" : "set");
    return true;
}

int script_push_reply(lua_State *L, const char *buf, size_t len) {
    struct reader r = {buf, buf + len};
    int top = lua_gettop(L);
    if (!push_value(L, &r, 0) || r.p != r.end) {
        lua_settop(L, top);
        return -1;
    }
    return 0;
}

void script_push_error(lua_State *L, const char *msg, size_t len) {
    const char *code = "ERR";
    size_t code_len = 3;
    if (len > 0 && msg[0] == '-') {
        const char *space = memchr(msg, ' ', len);
        if (space != NULL) {
            code = msg + 1;
            code_len = (size_t)(space - msg) - 1;
            len -= (size_t)(space + 1 - msg);
            msg = space + 1;
        } else {
            msg++;
            len--;
        }
    }
    while (len > 0 && (msg[len - 1] == '\r' || msg[len - 1] == '\n'))
        len--;
    while (len > 0 && (msg[0] == '\r' || msg[0] == '\n')) {
        msg++;
        len--;
    }
    luaL_Buffer b;
    lua_createtable(L, 0, 1);
    luaL_buffinit(L, &b);
    luaL_addlstring(&b, code, code_len);
    luaL_addchar(&b, ' ');
    luaL_addlstring(&b, msg, len);
    luaL_pushresult(&b);
    lua_setfield(L, -2, "err");
}

/* ---- Lua -> RESP ---- */

/* Redis casts the Lua number to long long; x86 gives LLONG_MIN for NaN and
 * anything out of range, which is what Redis 7.0 replies there. */
static long long number_to_ll(lua_State *L, int idx) {
    if (lua_isinteger(L, idx))
        return (long long)lua_tointeger(L, idx);
    double d = lua_tonumber(L, idx);
    if (!(d >= -9223372036854775808.0 && d < 9223372036854775808.0))
        return INT64_MIN;
    return (long long)d;
}

/* Copies 's' with CR and LF mapped to spaces (status and big number lines). */
static void add_line_mapped(struct resp_out *out, char type, const char *s, size_t len) {
    char *p = resp_out_reserve(out, len + 3);
    if (p == NULL)
        return;
    p[0] = type;
    for (size_t i = 0; i < len; i++)
        p[1 + i] = (s[i] == '\r' || s[i] == '\n') ? ' ' : s[i];
    p[len + 1] = '\r';
    p[len + 2] = '\n';
    out->len += len + 3;
}

static void write_value(lua_State *L, struct resp_out *out, int resp, int depth);

/* Handles the special single-field tables; returns false for a plain one. */
static bool write_special_table(lua_State *L, struct resp_out *out, int resp, int depth) {
    size_t len;
    const char *s;
    if (lua_getfield(L, -1, "err") == LUA_TSTRING) {
        s = lua_tolstring(L, -1, &len);
        char *msg = malloc(len + 1);
        if (msg != NULL) {
            memcpy(msg, s, len);
            msg[len] = '\0';
            resp_add_error(out, msg);
            free(msg);
        } else {
            out->failed = true;
        }
        lua_pop(L, 1);
        return true;
    }
    lua_pop(L, 1);
    if (lua_getfield(L, -1, "ok") == LUA_TSTRING) {
        s = lua_tolstring(L, -1, &len);
        add_line_mapped(out, '+', s, len);
        lua_pop(L, 1);
        return true;
    }
    lua_pop(L, 1);
    if (lua_getfield(L, -1, "double") == LUA_TNUMBER) {
        resp_add_double(out, lua_tonumber(L, -1));
        lua_pop(L, 1);
        return true;
    }
    lua_pop(L, 1);
    if (lua_getfield(L, -1, "big_number") == LUA_TSTRING) {
        s = lua_tolstring(L, -1, &len);
        if (out->proto >= 3)
            add_line_mapped(out, '(', s, len);
        else
            resp_add_bignum(out, s, len);
        lua_pop(L, 1);
        return true;
    }
    lua_pop(L, 1);
    if (lua_getfield(L, -1, "verbatim_string") == LUA_TTABLE) {
        size_t flen;
        int ft = lua_getfield(L, -1, "format");
        int st = lua_getfield(L, -2, "string");
        if (ft == LUA_TSTRING && st == LUA_TSTRING) {
            const char *format = lua_tolstring(L, -2, &flen);
            s = lua_tolstring(L, -1, &len);
            char ext[4] = "txt";
            memcpy(ext, format, flen < 3 ? flen : 3);
            resp_add_verbatim(out, s, len, ext);
            lua_pop(L, 3);
            return true;
        }
        lua_pop(L, 2);
    }
    lua_pop(L, 1);
    if (lua_getfield(L, -1, "map") == LUA_TTABLE) {
        long long pairs = 0;
        size_t token = resp_begin_deferred(out);
        lua_pushnil(L);
        while (lua_next(L, -2)) {
            lua_pushvalue(L, -2);
            write_value(L, out, resp, depth + 1); /* the key */
            write_value(L, out, resp, depth + 1); /* the value */
            pairs++;
        }
        resp_end_deferred(out, token, '%', pairs);
        lua_pop(L, 1);
        return true;
    }
    lua_pop(L, 1);
    if (lua_getfield(L, -1, "set") == LUA_TTABLE) {
        long long count = 0;
        size_t token = resp_begin_deferred(out);
        lua_pushnil(L);
        while (lua_next(L, -2)) {
            lua_pop(L, 1);
            lua_pushvalue(L, -1);
            write_value(L, out, resp, depth + 1);
            count++;
        }
        resp_end_deferred(out, token, '~', count);
        lua_pop(L, 1);
        return true;
    }
    lua_pop(L, 1);
    return false;
}

/* Writes and pops the value on top of the stack. */
static void write_value(lua_State *L, struct resp_out *out, int resp, int depth) {
    if (depth > MAX_DEPTH || !lua_checkstack(L, 4)) {
        resp_add_error(out, "ERR reached lua stack limit");
        lua_pop(L, 1);
        return;
    }
    size_t len;
    const char *s;
    switch (lua_type(L, -1)) {
    case LUA_TSTRING:
        s = lua_tolstring(L, -1, &len);
        resp_add_bulk(out, s, len);
        break;
    case LUA_TBOOLEAN:
        if (resp == 2) {
            if (lua_toboolean(L, -1))
                resp_add_int(out, 1);
            else
                resp_add_null(out);
        } else {
            resp_add_bool(out, lua_toboolean(L, -1));
        }
        break;
    case LUA_TNUMBER:
        resp_add_int(out, number_to_ll(L, -1));
        break;
    case LUA_TTABLE: {
        if (write_special_table(L, out, resp, depth))
            break;
        long long count = 0;
        size_t token = resp_begin_deferred(out);
        for (lua_Integer j = 1;; j++) {
            if (lua_rawgeti(L, -1, j) == LUA_TNIL) {
                lua_pop(L, 1);
                break;
            }
            write_value(L, out, resp, depth + 1);
            count++;
        }
        resp_end_deferred(out, token, '*', count);
        break;
    }
    default:
        resp_add_null(out);
        break;
    }
    lua_pop(L, 1);
}

void script_write_reply(lua_State *L, struct resp_out *out, int script_resp) {
    write_value(L, out, script_resp, 0);
}

/* ---- Sorting replies that depend on hash-table order ---- */

struct span {
    const char *p;
    size_t len;      /* the whole encoded element (or pair) */
    const char *key; /* the bytes compared */
    size_t key_len;
    bool is_null;
};

/* Reads one bulk or null element; false for anything else. */
static bool read_element(struct reader *r, struct span *s) {
    const char *start = r->p;
    if (r->p >= r->end)
        return false;
    char type = *r->p++;
    const char *line;
    size_t n;
    if (!read_line(r, &line, &n))
        return false;
    s->is_null = false;
    if (type == '_') {
        s->is_null = true;
        s->key = NULL;
        s->key_len = 0;
    } else if (type == '$' || type == '+' || type == ':') {
        long long len;
        if (type != '$') {
            s->key = line;
            s->key_len = n;
        } else if (!parse_ll(line, n, &len)) {
            return false;
        } else if (len < 0) {
            s->is_null = true;
            s->key = NULL;
            s->key_len = 0;
        } else if (!read_bulk(r, len, &s->key)) {
            return false;
        } else {
            s->key_len = (size_t)len;
        }
    } else {
        return false;
    }
    s->p = start;
    s->len = (size_t)(r->p - start);
    return true;
}

/* Nulls first, then by bytes, shorter first on a common prefix. */
static int compare_spans(const void *a, const void *b) {
    const struct span *x = a, *y = b;
    if (x->is_null != y->is_null)
        return x->is_null ? -1 : 1;
    if (x->is_null)
        return 0;
    size_t n = x->key_len < y->key_len ? x->key_len : y->key_len;
    int c = memcmp(x->key, y->key, n);
    if (c != 0)
        return c;
    return x->key_len < y->key_len ? -1 : x->key_len > y->key_len;
}

int script_sort_reply(struct resp_out *out, size_t start, bool pairs) {
    struct reader r = {out->buf + start, out->buf + out->len};
    if (r.p >= r.end || (*r.p != '*' && *r.p != '~' && *r.p != '%'))
        return 0;
    if (*r.p == '%')
        pairs = true;
    r.p++;
    const char *line;
    size_t n;
    long long count;
    if (!read_line(&r, &line, &n) || !parse_ll(line, n, &count) || count <= 1)
        return 0;
    long long groups = pairs && out->buf[start] != '%' ? count / 2 : count;
    struct span *spans = malloc((size_t)groups * sizeof(*spans));
    if (spans == NULL)
        return -1;
    const char *body = r.p;
    for (long long i = 0; i < groups; i++) {
        struct span second;
        if (!read_element(&r, &spans[i]) || (pairs && !read_element(&r, &second))) {
            free(spans);
            return 0;
        }
        if (pairs)
            spans[i].len += second.len;
    }
    size_t body_len = (size_t)(r.p - body);
    char *sorted = malloc(body_len > 0 ? body_len : 1);
    if (sorted == NULL) {
        free(spans);
        return -1;
    }
    qsort(spans, (size_t)groups, sizeof(*spans), compare_spans);
    size_t at = 0;
    for (long long i = 0; i < groups; i++) {
        memcpy(sorted + at, spans[i].p, spans[i].len);
        at += spans[i].len;
    }
    memcpy((char *)body, sorted, body_len);
    free(sorted);
    free(spans);
    return 0;
}
