/* Seeded random choices for the commands that pick members (see
 * randpick.h). It does not know any data type. */
#include "node/randpick.h"

#include <limits.h>
#include <stdlib.h>

uint64_t randpick_next(uint64_t *state) {
    uint64_t z = (*state += 0x9E3779B97F4A7C15ULL);
    z = (z ^ (z >> 30)) * 0xBF58476D1CE4E5B9ULL;
    z = (z ^ (z >> 27)) * 0x94D049BB133111EBULL;
    return z ^ (z >> 31);
}

bool randpick_parse_count(struct exec_ctx *ctx, const char *with_word, long long *count,
                          bool *with) {
    if (!exec_arg_ll(ctx, 2, count))
        return false;
    if (*count < -LONG_MAX) {
        resp_add_errorf(ctx->out, "ERR value is out of range, value must between %ld and %ld",
                        -LONG_MAX, LONG_MAX);
        return false;
    }
    if (ctx->argc > 4 || (ctx->argc == 4 && !exec_arg_is(ctx, 3, with_word))) {
        exec_reply_syntax_error(ctx);
        return false;
    }
    *with = ctx->argc == 4;
    if (*with && (*count < -LONG_MAX / 2 || *count > LONG_MAX / 2)) {
        resp_add_error(ctx->out, "ERR value is out of range");
        return false;
    }
    return true;
}

unsigned char *randpick_distinct(uint64_t *state, size_t size, size_t n) {
    unsigned char *chosen = calloc(size, 1);
    if (chosen == NULL)
        return NULL;
    for (size_t j = size - n; j < size; j++) {
        size_t t = (size_t)(randpick_next(state) % (j + 1));
        chosen[chosen[t] ? j : t] = 1;
    }
    return chosen;
}
