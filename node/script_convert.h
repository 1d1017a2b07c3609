/* Conversions between RESP replies and Lua values, following Redis 7.0's
 * rules (https://redis.io/docs/interact/programmability/lua-api/):
 *
 *   RESP -> Lua (what redis.call returns)
 *     integer -> integer; bulk -> string; null bulk / null array -> false;
 *     array / push -> array table; status -> {ok=s}; error -> {err=s};
 *     RESP3 only: null -> nil; boolean -> boolean; double -> {double=n};
 *     map -> {map={k=v...}}; set -> {set={k=true...}}; big number ->
 *     {big_number=s}; verbatim -> {verbatim_string={string=s, format=f}};
 *     attributes are skipped.
 *   Lua -> RESP (what a script returns)
 *     number -> integer (floats truncated); string -> bulk; true -> 1 (RESP2
 *     scripts) or boolean; false -> null (RESP2 scripts) or boolean;
 *     {err=s} -> error; {ok=s} -> status; {double=n}, {big_number=s},
 *     {verbatim_string=...}, {map=...}, {set=...} -> their RESP3 types
 *     (downgraded for RESP2 clients by resp/writer); any other table -> array
 *     up to the first nil; anything else -> null. */
#ifndef KR_NODE_SCRIPT_CONVERT_H
#define KR_NODE_SCRIPT_CONVERT_H

#include "resp/writer.h"

#include <lua.h>
#include <stdbool.h>
#include <stddef.h>

/* Pushes the Lua value of the one complete RESP reply in 'buf'/'len' (as
 * written by resp/writer). Returns 0, or -1 (nothing pushed) if the bytes do
 * not hold one well-formed reply. Raises a Lua error only when the Lua stack
 * cannot grow. */
int script_push_reply(lua_State *L, const char *buf, size_t len);

/* Pops the value on top of the stack and writes it to 'out' as a script
 * reply. 'script_resp' is the protocol the script chose (redis.setresp):
 * it decides how booleans are sent. */
void script_write_reply(lua_State *L, struct resp_out *out, int script_resp);

/* Pushes Redis's error table {err="CODE message"} for 'msg' ('len' bytes):
 * "-CODE message" keeps its code, anything else gets "ERR "; trailing CR/LF
 * are trimmed (Redis 7.0 luaPushErrorBuff). */
void script_push_error(lua_State *L, const char *msg, size_t len);

/* Sorts the elements of the aggregate reply that starts at byte 'start' of
 * 'out' (an array, set or map of bulks/nulls) by their bytes; with 'pairs'
 * (HGETALL as an array) elements move two at a time, ordered by the first.
 * Replies that are not such an aggregate are left alone. Returns -1 on
 * allocation failure (the reply is then unchanged). */
int script_sort_reply(struct resp_out *out, size_t start, bool pairs);

#endif
