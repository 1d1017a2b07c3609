/* The 'bit' library for scripts (LuaBitOp 1.0's API, as Redis bundles it):
 * operands are normalised to 32-bit integers (numbers wrap modulo 2^32,
 * fractions round to nearest even) and results are signed 32-bit. */
#include "node/script_lib.h"

#include <lauxlib.h>
#include <math.h>
#include <stdint.h>

static uint32_t checkbit(lua_State *L, int idx) {
    if (lua_isinteger(L, idx))
        return (uint32_t)(uint64_t)lua_tointeger(L, idx);
    lua_Number n = luaL_checknumber(L, idx);
    if (!isfinite(n))
        return 0;
    n = nearbyint(n);
    n = fmod(n, 4294967296.0);
    if (n < 0)
        n += 4294967296.0;
    return (uint32_t)n;
}

static int push_bit(lua_State *L, uint32_t v) {
    lua_pushinteger(L, (lua_Integer)(int32_t)v);
    return 1;
}

static int bit_tobit(lua_State *L) {
    return push_bit(L, checkbit(L, 1));
}

static int bit_bnot(lua_State *L) {
    return push_bit(L, ~checkbit(L, 1));
}

static int bit_band(lua_State *L) {
    uint32_t v = checkbit(L, 1);
    for (int i = lua_gettop(L); i > 1; i--)
        v &= checkbit(L, i);
    return push_bit(L, v);
}

static int bit_bor(lua_State *L) {
    uint32_t v = checkbit(L, 1);
    for (int i = lua_gettop(L); i > 1; i--)
        v |= checkbit(L, i);
    return push_bit(L, v);
}

static int bit_bxor(lua_State *L) {
    uint32_t v = checkbit(L, 1);
    for (int i = lua_gettop(L); i > 1; i--)
        v ^= checkbit(L, i);
    return push_bit(L, v);
}

static int bit_lshift(lua_State *L) {
    uint32_t v = checkbit(L, 1), n = checkbit(L, 2) & 31;
    return push_bit(L, v << n);
}

static int bit_rshift(lua_State *L) {
    uint32_t v = checkbit(L, 1), n = checkbit(L, 2) & 31;
    return push_bit(L, v >> n);
}

static int bit_arshift(lua_State *L) {
    uint32_t v = checkbit(L, 1), n = checkbit(L, 2) & 31;
    /* An arithmetic shift written without relying on signed >>. */
    uint32_t r = v >> n;
    if ((v & 0x80000000u) && n > 0)
        r |= ~(0xFFFFFFFFu >> n);
    return push_bit(L, r);
}

static int bit_rol(lua_State *L) {
    uint32_t v = checkbit(L, 1), n = checkbit(L, 2) & 31;
    return push_bit(L, n == 0 ? v : (v << n) | (v >> (32 - n)));
}

static int bit_ror(lua_State *L) {
    uint32_t v = checkbit(L, 1), n = checkbit(L, 2) & 31;
    return push_bit(L, n == 0 ? v : (v >> n) | (v << (32 - n)));
}

static int bit_bswap(lua_State *L) {
    uint32_t v = checkbit(L, 1);
    v = (v >> 24) | ((v >> 8) & 0xff00) | ((v & 0xff00) << 8) | (v << 24);
    return push_bit(L, v);
}

static int bit_tohex(lua_State *L) {
    uint32_t v = checkbit(L, 1);
    int32_t n = lua_isnoneornil(L, 2) ? 8 : (int32_t)checkbit(L, 2);
    const char *digits = "0123456789abcdef";
    if (n < 0) {
        n = -n;
        digits = "0123456789ABCDEF";
    }
    if (n > 8)
        n = 8;
    char buf[8];
    for (int i = n - 1; i >= 0; i--) {
        buf[i] = digits[v & 15];
        v >>= 4;
    }
    lua_pushlstring(L, buf, (size_t)n);
    return 1;
}

int script_lib_open_bit(lua_State *L) {
    static const luaL_Reg funcs[] = {
        {"tobit", bit_tobit},   {"bnot", bit_bnot},       {"band", bit_band},
        {"bor", bit_bor},       {"bxor", bit_bxor},       {"lshift", bit_lshift},
        {"rshift", bit_rshift}, {"arshift", bit_arshift}, {"rol", bit_rol},
        {"ror", bit_ror},       {"bswap", bit_bswap},     {"tohex", bit_tohex},
        {NULL, NULL},
    };
    luaL_newlib(L, funcs);
    return 1;
}
