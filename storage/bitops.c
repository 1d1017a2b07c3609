/* Bit-level operations on byte strings (see bitops.h). Owns bit counting,
 * bit search, big-endian bit fields with Redis's overflow rules, and BITOP's
 * bytewise combination. It does not own strings or keys: callers look up the
 * value, size it and pass its bytes. */
#include "storage/bitops.h"

#include <string.h>

static unsigned bit_at(const unsigned char *p, uint64_t pos) {
    return (unsigned)(p[pos >> 3] >> (7 - (pos & 7))) & 1u;
}

/* ---- Counting and searching ---- */

static uint64_t popcount_bytes(const unsigned char *p, uint64_t len) {
    uint64_t count = 0;
    uint64_t i = 0;
    for (; i + 8 <= len; i += 8) {
        uint64_t word;
        memcpy(&word, p + i, 8);
        count += (uint64_t)__builtin_popcountll(word);
    }
    for (; i < len; i++)
        count += (uint64_t)__builtin_popcount(p[i]);
    return count;
}

uint64_t bitops_count(const unsigned char *p, uint64_t first_bit, uint64_t last_bit) {
    uint64_t first_byte = first_bit >> 3, last_byte = last_bit >> 3;
    unsigned head_mask = 0xffu >> (first_bit & 7);
    unsigned tail_mask = (0xffu << (7 - (last_bit & 7))) & 0xffu;
    if (first_byte == last_byte)
        return (uint64_t)__builtin_popcount(p[first_byte] & head_mask & tail_mask);
    return (uint64_t)__builtin_popcount(p[first_byte] & head_mask) +
           popcount_bytes(p + first_byte + 1, last_byte - first_byte - 1) +
           (uint64_t)__builtin_popcount(p[last_byte] & tail_mask);
}

int64_t bitops_find(const unsigned char *p, uint64_t first_bit, uint64_t last_bit, int bit) {
    unsigned want = bit ? 1u : 0u;
    unsigned char skip_byte = bit ? 0x00 : 0xff;
    uint64_t skip_word = bit ? 0 : UINT64_MAX;
    uint64_t pos = first_bit;
    /* Bit by bit up to a byte boundary, then whole words and bytes that
     * cannot hold the bit are skipped, then the rest bit by bit. */
    for (; pos <= last_bit && (pos & 7) != 0; pos++)
        if (bit_at(p, pos) == want)
            return (int64_t)pos;
    while (pos <= last_bit && last_bit - pos >= 63) {
        uint64_t word;
        memcpy(&word, p + (pos >> 3), 8);
        if (word != skip_word)
            break;
        pos += 64;
    }
    while (pos <= last_bit && last_bit - pos >= 7) {
        unsigned char byte = p[pos >> 3];
        if (byte != skip_byte) {
            unsigned v = bit ? byte : (unsigned char)~byte;
            return (int64_t)(pos + (uint64_t)(__builtin_clz(v) - 24));
        }
        pos += 8;
    }
    for (; pos <= last_bit; pos++)
        if (bit_at(p, pos) == want)
            return (int64_t)pos;
    return -1;
}

/* ---- Bit fields ---- */

uint64_t bitops_get_unsigned(const unsigned char *p, uint64_t offset, unsigned bits) {
    uint64_t value = 0;
    for (unsigned i = 0; i < bits; i++)
        value = (value << 1) | bit_at(p, offset + i);
    return value;
}

int64_t bitops_get_signed(const unsigned char *p, uint64_t offset, unsigned bits) {
    uint64_t value = bitops_get_unsigned(p, offset, bits);
    if (bits < 64 && (value & ((uint64_t)1 << (bits - 1))))
        value |= UINT64_MAX << bits;
    return (int64_t)value;
}

void bitops_set(unsigned char *p, uint64_t offset, unsigned bits, uint64_t value) {
    for (unsigned i = 0; i < bits; i++) {
        uint64_t pos = offset + i;
        unsigned shift = 7 - (unsigned)(pos & 7);
        unsigned bitval = (unsigned)(value >> (bits - 1 - i)) & 1u;
        unsigned byte = p[pos >> 3];
        byte = (byte & ~(1u << shift)) | (bitval << shift);
        p[pos >> 3] = (unsigned char)byte;
    }
}

/* Redis 7.0 checkUnsignedBitfieldOverflow. Arithmetic is unsigned so every
 * wrap-around Redis relies on is defined here. */
bool bitops_add_unsigned(uint64_t value, int64_t incr, unsigned bits, enum bitops_overflow policy,
                         uint64_t *result) {
    uint64_t max = ((uint64_t)1 << bits) - 1;
    int64_t max_incr = (int64_t)(max - value);
    int64_t min_incr = (int64_t)(0 - value);
    uint64_t sum = value + (uint64_t)incr;
    if (value > max || (incr > 0 && incr > max_incr)) {
        if (policy == BITOPS_WRAP)
            *result = sum & max;
        else if (policy == BITOPS_SAT)
            *result = max;
        return true;
    }
    if (incr < 0 && incr < min_incr) {
        if (policy == BITOPS_WRAP)
            *result = sum & max;
        else if (policy == BITOPS_SAT)
            *result = 0;
        return true;
    }
    *result = sum;
    return false;
}

/* Redis 7.0 checkSignedBitfieldOverflow, with the same (wrapping) limit
 * computations done in unsigned arithmetic. */
bool bitops_add_signed(int64_t value, int64_t incr, unsigned bits, enum bitops_overflow policy,
                       int64_t *result) {
    int64_t max = bits == 64 ? INT64_MAX : (int64_t)(((uint64_t)1 << (bits - 1)) - 1);
    int64_t min = -max - 1;
    int64_t max_incr = (int64_t)((uint64_t)max - (uint64_t)value);
    int64_t min_incr = (int64_t)((uint64_t)min - (uint64_t)value);
    uint64_t sum = (uint64_t)value + (uint64_t)incr;
    int64_t limit;
    if (value > max || (bits != 64 && incr > max_incr) ||
        (value >= 0 && incr > 0 && incr > max_incr))
        limit = max;
    else if (value < min || (bits != 64 && incr < min_incr) ||
             (value < 0 && incr < 0 && incr < min_incr))
        limit = min;
    else {
        *result = (int64_t)sum;
        return false;
    }
    if (policy == BITOPS_SAT) {
        *result = limit;
    } else if (policy == BITOPS_WRAP) {
        /* Sign-extend from the field's top bit. */
        if (bits < 64) {
            uint64_t high = UINT64_MAX << bits;
            if (sum & ((uint64_t)1 << (bits - 1)))
                sum |= high;
            else
                sum &= ~high;
        }
        *result = (int64_t)sum;
    }
    return true;
}

/* ---- BITOP ---- */

void bitops_combine(enum bitops_op op, size_t count, const unsigned char *const *src,
                    const size_t *src_len, unsigned char *dst, size_t dst_len) {
    for (size_t j = 0; j < dst_len; j++) {
        unsigned out = j < src_len[0] ? src[0][j] : 0;
        if (op == BITOPS_NOT) {
            dst[j] = (unsigned char)~out;
            continue;
        }
        for (size_t i = 1; i < count; i++) {
            unsigned byte = j < src_len[i] ? src[i][j] : 0;
            if (op == BITOPS_AND)
                out &= byte;
            else if (op == BITOPS_OR)
                out |= byte;
            else
                out ^= byte;
        }
        dst[j] = (unsigned char)out;
    }
}
