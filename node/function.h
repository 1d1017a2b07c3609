/* Function libraries (Redis 7.0 functions): "#!lua name=<lib>" code whose
 * loading registers named functions with redis.register_function; FCALL
 * runs them. This module owns the library registry, loading (LOAD/RESTORE)
 * and the DUMP payload; the commands are in cmd_function.c.
 *
 * The DUMP payload is Redis's own: one RDB_OPCODE_FUNCTION2 (0xf5) and the
 * library code as an RDB string per library, then the RDB version (2 bytes)
 * and a CRC64 (Jones, 8 bytes, little-endian). keyraft writes strings
 * uncompressed and reads LZF-compressed ones too, so payloads move between
 * keyraft nodes and from redis-server 7.0. */
#ifndef KR_NODE_FUNCTION_H
#define KR_NODE_FUNCTION_H

#include <stdbool.h>
#include <stddef.h>

struct resp_out;

struct function {
    char *name;
    char *description; /* or NULL */
    unsigned flags;    /* SCRIPT_FLAG_* */
    int ref;           /* the callback, in the Lua registry */
};

struct library {
    char *name;
    char *code;
    size_t code_len;
    struct function *functions;
    size_t function_count;
};

enum function_restore_policy {
    FUNCTION_RESTORE_APPEND,
    FUNCTION_RESTORE_REPLACE,
    FUNCTION_RESTORE_FLUSH
};

/* FUNCTION LOAD: compiles and registers 'code'. On success writes the
 * library name (a bulk) to 'out'; else Redis's error. */
void function_load(const char *code, size_t len, bool replace, struct resp_out *out);
/* Finds a function by name (case-sensitive, as Redis). Borrowed until the
 * next change of the registry. */
const struct function *function_find(const char *name, size_t len);
/* FUNCTION DELETE: false if there is no such library. */
bool function_delete(const char *name, size_t len);
void function_flush(void);
/* Libraries in load order; borrowed until the next change. */
struct library *const *function_libraries(size_t *count);
size_t function_count(void);
size_t function_library_count(void);
/* Bytes of the registry outside the Lua state: library and function records,
 * names, descriptions and code (INFO used_memory_functions). */
size_t function_memory_bytes(void);
/* FUNCTION DUMP: writes the payload as a bulk to 'out'. */
void function_dump(struct resp_out *out);
/* FUNCTION RESTORE: replies +OK or Redis's error. */
void function_restore(const char *payload, size_t len, enum function_restore_policy policy,
                      struct resp_out *out);

#endif
