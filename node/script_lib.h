/* The libraries Redis bundles for scripts, reimplemented for Lua 5.4 (the
 * subset scripts use): cjson (encode/decode), cmsgpack (pack/unpack on
 * msgpack-c), bit (LuaBitOp: 32-bit band/bor/bxor/bnot/shifts/rotates/
 * tobit/tohex/bswap) and struct (pack/unpack/size). Each opener leaves its
 * module table on the stack, as luaL_requiref expects. */
#ifndef KR_NODE_SCRIPT_LIB_H
#define KR_NODE_SCRIPT_LIB_H

#include <lua.h>

int script_lib_open_cjson(lua_State *L);
int script_lib_open_cmsgpack(lua_State *L);
int script_lib_open_bit(lua_State *L);
int script_lib_open_struct(lua_State *L);

#endif
