/* The msgpack reader (see mpread.h). Encodings follow the msgpack spec; only
 * reading lives here (writing goes through libmsgpack's packer). */
#include "storage/mpread.h"

void mpread_init(struct mpread *r, const void *buf, size_t len) {
    r->p = buf;
    r->end = r->p + len;
}

size_t mpread_left(const struct mpread *r) {
    return (size_t)(r->end - r->p);
}

static bool take(struct mpread *r, size_t n, const uint8_t **out) {
    if (mpread_left(r) < n)
        return false;
    *out = r->p;
    r->p += n;
    return true;
}

static bool read_be(struct mpread *r, size_t n, uint64_t *v) {
    const uint8_t *b;
    if (!take(r, n, &b))
        return false;
    *v = 0;
    for (size_t i = 0; i < n; i++)
        *v = (*v << 8) | b[i];
    return true;
}

bool mpread_array(struct mpread *r, uint64_t *count) {
    const uint8_t *t;
    if (!take(r, 1, &t))
        return false;
    if ((*t & 0xf0) == 0x90) {
        *count = *t & 0x0f;
        return true;
    }
    if (*t == 0xdc)
        return read_be(r, 2, count);
    if (*t == 0xdd)
        return read_be(r, 4, count);
    return false;
}

bool mpread_nil(struct mpread *r) {
    if (r->p < r->end && *r->p == 0xc0) {
        r->p++;
        return true;
    }
    return false;
}

/* The integer at 'r' as its 64 raw bits, and whether it is negative. */
static bool read_integer(struct mpread *r, uint64_t *v, bool *negative) {
    const uint8_t *t;
    if (!take(r, 1, &t))
        return false;
    *negative = false;
    if (*t <= 0x7f) {
        *v = *t;
        return true;
    }
    if (*t >= 0xe0) { /* negative fixint */
        *v = ~0ULL << 8 | *t;
        *negative = true;
        return true;
    }
    if (*t >= 0xcc && *t <= 0xcf) /* uint8..uint64 */
        return read_be(r, (size_t)1 << (*t - 0xcc), v);
    if (*t >= 0xd0 && *t <= 0xd3) { /* int8..int64 */
        size_t n = (size_t)1 << (*t - 0xd0);
        if (!read_be(r, n, v))
            return false;
        *negative = ((*v >> (n * 8 - 1)) & 1) != 0;
        if (*negative && n < 8)
            *v |= ~0ULL << (n * 8); /* sign-extend */
        return true;
    }
    return false;
}

bool mpread_int(struct mpread *r, int64_t *out, bool as_unsigned) {
    uint64_t v;
    bool negative;
    if (!read_integer(r, &v, &negative) || (!negative && v > INT64_MAX && !as_unsigned))
        return false;
    *out = (int64_t)v;
    return true;
}

bool mpread_uint(struct mpread *r, uint64_t *out) {
    bool negative;
    return read_integer(r, out, &negative) && !negative;
}

bool mpread_bytes(struct mpread *r, const uint8_t **data, size_t *len) {
    const uint8_t *t;
    uint64_t n;
    if (!take(r, 1, &t))
        return false;
    bool ok;
    if ((*t & 0xe0) == 0xa0) { /* fixstr */
        n = *t & 0x1f;
        ok = true;
    } else if (*t == 0xc4 || *t == 0xd9) { /* bin8, str8 */
        ok = read_be(r, 1, &n);
    } else if (*t == 0xc5 || *t == 0xda) { /* bin16, str16 */
        ok = read_be(r, 2, &n);
    } else if (*t == 0xc6 || *t == 0xdb) { /* bin32, str32 */
        ok = read_be(r, 4, &n);
    } else {
        return false;
    }
    if (!ok || !take(r, (size_t)n, data))
        return false;
    *len = (size_t)n;
    return true;
}
