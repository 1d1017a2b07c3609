/* Argument parsing shared by the collection scans (HSCAN, SSCAN, ZSCAN),
 * following Redis 7.0's parseScanCursorOrReply and scanGenericCommand. */
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
};

/* Parses the cursor in argv['i'] (strtoul semantics, as Redis). Replies
 * "-ERR invalid cursor" and returns false when it does not parse. */
bool collscan_parse_cursor(struct exec_ctx *ctx, int i, uint64_t *cursor);
/* Parses [MATCH pattern] [COUNT count] from argv['first'] on into 'a'
 * (cursor untouched). Replies Redis's error and returns false on bad input;
 * TYPE is a syntax error here, as for Redis's collection scans. */
bool collscan_parse_options(struct exec_ctx *ctx, int first, struct collscan_args *a);
/* True if 's' passes the MATCH filter of 'a'. */
bool collscan_matches(const struct collscan_args *a, const char *s, size_t len);

#endif
