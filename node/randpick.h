/* Seeded random choices shared by the commands that pick members
 * (HRANDFIELD, ZRANDMEMBER, SPOP, SRANDMEMBER): the random stream derived
 * from ctx->seed (so every member of a shard picks the same), Redis 7.0's
 * count argument of HRANDFIELD/ZRANDMEMBER, and a choice of distinct
 * positions. Walking and replying are each command's. */
#ifndef KR_NODE_RANDPICK_H
#define KR_NODE_RANDPICK_H

#include "node/exec.h"

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

/* splitmix64: the next value of the stream whose state is '*state'
 * (start it at ctx->seed). */
uint64_t randpick_next(uint64_t *state);
/* Parses "key count [<with_word>]" from argv[2] on, as Redis 7.0
 * hrandfieldCommand / zrandmemberCommand: the count within +-LONG_MAX,
 * then at most the one flag word (else a syntax error), then with the flag
 * a count within +-LONG_MAX/2. Replies and returns false on bad input. */
bool randpick_parse_count(struct exec_ctx *ctx, const char *with_word, long long *count,
                          bool *with);
/* Chooses 'n' distinct positions of 'size' (n < size) with Floyd's
 * sampling. Returns an owned array of 'size' flags, 1 for a chosen
 * position (free with free()), or NULL when out of memory. */
unsigned char *randpick_distinct(uint64_t *state, size_t size, size_t n);

#endif
