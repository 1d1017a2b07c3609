/* Number and index-range conversions shared by the command families (see
 * num.h). Only the rules Redis applies to command arguments and replies;
 * the encodings' own integer parsing stays in object.c and listpack.c. */
#include "storage/num.h"

#include <ctype.h>
#include <errno.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

size_t num_format_ll(char *buf, long long v) {
    char digits[NUM_LL_CHARS];
    unsigned long long u = v < 0 ? 0ULL - (unsigned long long)v : (unsigned long long)v;
    size_t n = 0;
    do {
        digits[n++] = (char)('0' + u % 10);
        u /= 10;
    } while (u != 0);
    size_t len = 0;
    if (v < 0)
        buf[len++] = '-';
    while (n > 0)
        buf[len++] = digits[--n];
    return len;
}

bool num_parse_long_double(const char *s, size_t len, long double *out) {
    char buf[NUM_LONG_DOUBLE_CHARS];
    if (len == 0 || len >= sizeof(buf))
        return false;
    memcpy(buf, s, len);
    buf[len] = '\0';
    errno = 0;
    char *end;
    long double v = strtold(buf, &end);
    if (isspace((unsigned char)buf[0]) || (size_t)(end - buf) != len ||
        (errno == ERANGE && (isinf(v) || v == 0)) || errno == EINVAL || isnan(v))
        return false;
    *out = v;
    return true;
}

size_t num_format_long_double(char *buf, long double v) {
    int n = snprintf(buf, NUM_LONG_DOUBLE_CHARS, "%.17Lf", v);
    size_t len = n < 0 ? 0 : (size_t)n;
    if (len >= NUM_LONG_DOUBLE_CHARS)
        len = NUM_LONG_DOUBLE_CHARS - 1;
    if (memchr(buf, '.', len) != NULL) {
        while (len > 0 && buf[len - 1] == '0')
            len--;
        if (len > 0 && buf[len - 1] == '.')
            len--;
    }
    if (len == 2 && buf[0] == '-' && buf[1] == '0') {
        buf[0] = '0';
        len = 1;
    }
    return len;
}

bool num_clamp_range(long long len, long long *start, long long *end) {
    if (*start < 0)
        *start += len;
    if (*end < 0)
        *end += len;
    if (*start < 0)
        *start = 0;
    if (*start > *end || *start >= len)
        return false;
    if (*end >= len)
        *end = len - 1;
    return true;
}
