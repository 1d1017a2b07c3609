/* The parts every SCAN shares (see collscan.h). The element walk and the
 * elements replied are each command's own. */
#include "node/collscan.h"

#include "storage/glob.h"

#include <ctype.h>
#include <limits.h>
#include <stdio.h>

/* Redis 7.0 parseScanCursorOrReply: strtoul() semantics, so a sign is
 * accepted ("-1" wraps), an empty string is cursor 0, and parsing stops at
 * a NUL byte; leading space, trailing garbage and overflow are errors. */
bool collscan_parse_cursor(struct exec_ctx *ctx, int i, uint64_t *cursor) {
    const char *s = ctx->argv[i];
    size_t len = ctx->argvlen[i];
    size_t at = 0;
    bool negative = false, ok = true;
    if (len > 0 && isspace((unsigned char)s[0]))
        ok = false;
    if (ok && at < len && (s[at] == '+' || s[at] == '-'))
        negative = s[at++] == '-';
    size_t digits_start = at;
    uint64_t v = 0;
    bool overflow = false;
    for (; ok && at < len && s[at] >= '0' && s[at] <= '9'; at++) {
        unsigned digit = (unsigned)(s[at] - '0');
        if (v > (UINT64_MAX - digit) / 10)
            overflow = true;
        v = v * 10 + digit;
    }
    if (ok && at == digits_start) /* no conversion: strtoul points back at the start */
        ok = len == 0 || s[0] == '\0';
    else if (ok && (overflow || (at < len && s[at] != '\0')))
        ok = false;
    if (!ok) {
        resp_add_error(ctx->out, "ERR invalid cursor");
        return false;
    }
    *cursor = at == digits_start ? 0 : negative ? (uint64_t)0 - v : v;
    return true;
}

bool collscan_parse_options(struct exec_ctx *ctx, int first, struct collscan_args *a,
                            bool allow_type) {
    a->count = 10;
    a->pattern = NULL;
    a->plen = 0;
    a->type = NULL;
    a->typelen = 0;
    for (int i = first; i < ctx->argc; i += 2) {
        bool has_value = i + 1 < ctx->argc;
        if (exec_arg_is(ctx, i, "count") && has_value) {
            if (!exec_arg_ll(ctx, i + 1, &a->count))
                return false;
            if (a->count < 1) {
                exec_reply_syntax_error(ctx);
                return false;
            }
        } else if (exec_arg_is(ctx, i, "match") && has_value) {
            a->pattern = ctx->argv[i + 1];
            a->plen = ctx->argvlen[i + 1];
            if (a->plen == 1 && a->pattern[0] == '*')
                a->pattern = NULL;
        } else if (allow_type && exec_arg_is(ctx, i, "type") && has_value) {
            a->type = ctx->argv[i + 1];
            a->typelen = ctx->argvlen[i + 1];
        } else {
            exec_reply_syntax_error(ctx);
            return false;
        }
    }
    return true;
}

bool collscan_matches(const struct collscan_args *a, const char *s, size_t len) {
    return a->pattern == NULL || glob_match(a->pattern, a->plen, s, len, false);
}

long long collscan_max_steps(const struct collscan_args *a) {
    return a->count > LLONG_MAX / 10 ? LLONG_MAX : a->count * 10;
}

void collscan_reply_cursor(struct exec_ctx *ctx, uint64_t cursor) {
    char buf[24];
    int len = snprintf(buf, sizeof(buf), "%llu", (unsigned long long)cursor);
    resp_add_array(ctx->out, 2);
    resp_add_bulk(ctx->out, buf, (size_t)len);
}

void collscan_reply_empty(struct exec_ctx *ctx) {
    collscan_reply_cursor(ctx, 0);
    resp_add_array(ctx->out, 0);
}
