/* What every SCAN shares (SCAN, HSCAN, SSCAN, ZSCAN), following Redis 7.0's
 * parseScanCursorOrReply and scanGenericCommand: the cursor and option
 * parsing, the MATCH filter, the walk's step budget and the reply's cursor
 * header. The walk itself and the elements replied are each command's. */
#ifndef KR_NODE_COLLSCAN_H
#define KR_NODE_COLLSCAN_H

#include "node/exec.h"

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

struct collscan_args {
    uint64_t cursor;
    long long count;     /* COUNT, default 10 */
    const char *pattern; /* MATCH, or NULL for none (or "*") */
    size_t plen;
    const char *type; /* TYPE (SCAN only), or NULL */
    size_t typelen;
};

/* Parses the cursor in argv['i'] (strtoul semantics, as Redis). Replies
 * "-ERR invalid cursor" and returns false when it does not parse. */
bool collscan_parse_cursor(struct exec_ctx *ctx, int i, uint64_t *cursor);
/* Parses [MATCH pattern] [COUNT count] (and [TYPE type] if 'allow_type')
 * from argv['first'] on into 'a' (cursor untouched). Replies Redis's error
 * and returns false on bad input; TYPE is a syntax error for the
 * collection scans, as in Redis. */
bool collscan_parse_options(struct exec_ctx *ctx, int first, struct collscan_args *a,
                            bool allow_type);
/* True if 's' passes the MATCH filter of 'a'. */
bool collscan_matches(const struct collscan_args *a, const char *s, size_t len);
/* How many table steps a walk may take before it stops short of COUNT
 * elements: 10 * COUNT, as Redis's maxiterations. */
long long collscan_max_steps(const struct collscan_args *a);
/* Starts the reply: a two-element array and the next 'cursor' as a bulk
 * string. The caller then writes the elements as an array. */
void collscan_reply_cursor(struct exec_ctx *ctx, uint64_t cursor);
/* The whole reply of a scan that finds nothing (a missing key): cursor 0,
 * no elements. */
void collscan_reply_empty(struct exec_ctx *ctx);

#endif
