/* Bit-level work on byte strings for the bitmap commands (SETBIT, BITCOUNT,
 * BITPOS, BITOP, BITFIELD).
 *
 * Bits are numbered as Redis numbers them: bit 0 is the most significant bit
 * of byte 0, bit 8 the most significant bit of byte 1. Every function works
 * on caller-owned buffers, allocates nothing and never reads or writes
 * outside the byte range its arguments name; callers check lengths first. */
#ifndef KR_STORAGE_BITOPS_H
#define KR_STORAGE_BITOPS_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

/* Number of set bits among bits 'first_bit'..'last_bit' (inclusive) of 'p'.
 * Precondition: first_bit <= last_bit < 8 * length of 'p'. */
uint64_t bitops_count(const unsigned char *p, uint64_t first_bit, uint64_t last_bit);

/* Position of the first bit equal to 'bit' (0 or 1) among bits
 * 'first_bit'..'last_bit' (inclusive) of 'p', or -1 when there is none.
 * Same precondition as bitops_count. */
int64_t bitops_find(const unsigned char *p, uint64_t first_bit, uint64_t last_bit, int bit);

/* The 'bits'-wide (1..64) big-endian field starting at bit 'offset' of 'p',
 * as an unsigned number, or sign-extended from its top bit. 'p' must hold
 * bit offset + bits - 1. */
uint64_t bitops_get_unsigned(const unsigned char *p, uint64_t offset, unsigned bits);
int64_t bitops_get_signed(const unsigned char *p, uint64_t offset, unsigned bits);
/* Stores the low 'bits' bits of 'value' into the field at 'offset'. */
void bitops_set(unsigned char *p, uint64_t offset, unsigned bits, uint64_t value);

/* BITFIELD's OVERFLOW policies. */
enum bitops_overflow {
    BITOPS_WRAP,
    BITOPS_SAT,
    BITOPS_FAIL,
};

/* 'value' + 'incr' in a field of 'bits' bits (unsigned: 1..63; signed:
 * 1..64), following Redis 7.0's check{Unsigned,Signed}BitfieldOverflow,
 * including its treatment of a 'value' already out of the field's range (a
 * SET of an out-of-range number is checked as value + 0). Returns true on
 * overflow. '*result' receives the value to store: the exact sum when there
 * was no overflow, the wrapped or saturated value under WRAP or SAT; under
 * FAIL with an overflow it is left untouched (nothing must be stored). */
bool bitops_add_unsigned(uint64_t value, int64_t incr, unsigned bits, enum bitops_overflow policy,
                         uint64_t *result);
bool bitops_add_signed(int64_t value, int64_t incr, unsigned bits, enum bitops_overflow policy,
                       int64_t *result);

/* BITOP's operations. */
enum bitops_op {
    BITOPS_AND,
    BITOPS_OR,
    BITOPS_XOR,
    BITOPS_NOT,
};

/* Writes 'dst_len' bytes of 'op' applied bytewise across the 'count'
 * sources 'src[i]' of 'src_len[i]' bytes (NULL with length 0 for a missing
 * key); bytes past a source's end count as zero. NOT uses src[0] only. */
void bitops_combine(enum bitops_op op, size_t count, const unsigned char *const *src,
                    const size_t *src_len, unsigned char *dst, size_t dst_len);

#endif
