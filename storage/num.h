/* Redis's conversions between numbers and the strings commands read and
 * write, where a command family would otherwise carry its own copy:
 * long long to decimal, long doubles (INCRBYFLOAT, HINCRBYFLOAT) and index ranges with negative
 * indexes (LRANGE, LTRIM, ZRANGE, ZREMRANGEBYRANK). Pure functions: no
 * allocation, no I/O. */
#ifndef KR_STORAGE_NUM_H
#define KR_STORAGE_NUM_H

#include <stdbool.h>
#include <stddef.h>

/* Formats 'v' in decimal into 'buf' (at least NUM_LL_CHARS bytes; not
 * NUL-terminated) and returns the length: what "%lld" prints, without
 * snprintf's cost on the hot paths (integer-encoded strings, listpack and
 * intset elements). */
#define NUM_LL_CHARS 20
size_t num_format_ll(char *buf, long long v);

/* Redis's MAX_LONG_DOUBLE_CHARS: longer float arguments are refused, and
 * every formatted long double fits in a buffer of this size. */
#define NUM_LONG_DOUBLE_CHARS (5 * 1024)

/* Redis 7.0 string2ld: strtold over all of 's'/'len'; false for an empty
 * or too long string, leading space, trailing bytes (a NUL byte included),
 * NaN, or overflow / underflow to zero. */
bool num_parse_long_double(const char *s, size_t len, long double *out);
/* Redis 7.0 ld2string(LD_STR_HUMAN): "%.17Lf" without trailing zeros (nor
 * a trailing '.'), "-0" as "0". 'buf' holds NUM_LONG_DOUBLE_CHARS bytes;
 * returns the length written (not NUL-terminated). */
size_t num_format_long_double(char *buf, long double v);
/* Redis 7.0's index range rules (LRANGE, LTRIM, ZRANGE by rank ...):
 * negative indexes count from the end of a sequence of 'len' elements.
 * Returns false when the range is empty, else clamps '*start'/'*end' into
 * [0, len). */
bool num_clamp_range(long long len, long long *start, long long *end);

#endif
