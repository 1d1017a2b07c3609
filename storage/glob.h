/* Redis glob-style pattern matching (KEYS, SCAN MATCH, CONFIG GET,
 * PSUBSCRIBE): '*', '?', '[abc]', '[^a-z]', and '\' escapes. */
#ifndef KR_STORAGE_GLOB_H
#define KR_STORAGE_GLOB_H

#include <stdbool.h>
#include <stddef.h>

bool glob_match(const char *pattern, size_t plen, const char *str, size_t slen, bool nocase);

#endif
