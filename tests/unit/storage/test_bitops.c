/* bitops: counting, searching, bit fields and BITOP against a bit-by-bit
 * reference model under random inputs, and the overflow rules against exact
 * 128-bit arithmetic. */
#include "storage/bitops.h"
#include "tests/unit/lib/test.h"

#include <stdint.h>

#define BUF_BYTES 64

static uint64_t rng_state = 0x9e3779b97f4a7c15ULL;
static uint64_t next_rand(void) {
    rng_state ^= rng_state << 13;
    rng_state ^= rng_state >> 7;
    rng_state ^= rng_state << 17;
    return rng_state;
}

/* Random bytes biased towards 0x00 and 0xff so word and byte skips happen. */
static void fill_random(unsigned char *p, size_t len) {
    unsigned kind = (unsigned)(next_rand() % 4);
    for (size_t i = 0; i < len; i++) {
        uint64_t r = next_rand();
        if (kind == 0)
            p[i] = (unsigned char)r;
        else if (kind == 1)
            p[i] = r % 50 == 0 ? (unsigned char)(r >> 8) : 0x00;
        else if (kind == 2)
            p[i] = r % 50 == 0 ? (unsigned char)(r >> 8) : 0xff;
        else
            p[i] = r % 2 ? 0xff : 0x00;
    }
}

static unsigned model_bit(const unsigned char *p, uint64_t pos) {
    return (p[pos / 8] >> (7 - pos % 8)) & 1u;
}

static void model_set_bit(unsigned char *p, uint64_t pos, unsigned v) {
    unsigned char m = (unsigned char)(1u << (7 - pos % 8));
    p[pos / 8] = v ? (unsigned char)(p[pos / 8] | m) : (unsigned char)(p[pos / 8] & ~m);
}

TEST(count_and_find_match_model) {
    unsigned char buf[BUF_BYTES];
    for (int round = 0; round < 20000; round++) {
        size_t len = 1 + (size_t)(next_rand() % BUF_BYTES);
        fill_random(buf, len);
        uint64_t nbits = len * 8;
        uint64_t a = next_rand() % nbits, b = next_rand() % nbits;
        uint64_t first = a < b ? a : b, last = a < b ? b : a;
        uint64_t count = 0;
        int64_t first_one = -1, first_zero = -1;
        for (uint64_t pos = first; pos <= last; pos++) {
            unsigned v = model_bit(buf, pos);
            count += v;
            if (v && first_one < 0)
                first_one = (int64_t)pos;
            if (!v && first_zero < 0)
                first_zero = (int64_t)pos;
        }
        CHECK_EQ_INT(bitops_count(buf, first, last), count);
        CHECK_EQ_INT(bitops_find(buf, first, last, 1), first_one);
        CHECK_EQ_INT(bitops_find(buf, first, last, 0), first_zero);
    }
}

TEST(fields_match_model) {
    unsigned char buf[BUF_BYTES], model[BUF_BYTES];
    for (int round = 0; round < 20000; round++) {
        fill_random(buf, BUF_BYTES);
        memcpy(model, buf, BUF_BYTES);
        unsigned bits = 1 + (unsigned)(next_rand() % 64);
        uint64_t offset = next_rand() % (BUF_BYTES * 8 - bits + 1);
        uint64_t expect = 0;
        for (unsigned i = 0; i < bits; i++)
            expect = (expect << 1) | model_bit(model, offset + i);
        CHECK(bitops_get_unsigned(buf, offset, bits) == expect);
        int64_t sexpect = (int64_t)expect;
        if (bits < 64 && (expect >> (bits - 1)) & 1)
            sexpect = (int64_t)(expect | (UINT64_MAX << bits));
        CHECK(bitops_get_signed(buf, offset, bits) == sexpect);

        uint64_t value = next_rand();
        bitops_set(buf, offset, bits, value);
        for (unsigned i = 0; i < bits; i++)
            model_set_bit(model, offset + i, (unsigned)(value >> (bits - 1 - i)) & 1u);
        CHECK(memcmp(buf, model, BUF_BYTES) == 0);
    }
}

/* An increment in range of both the field and int64: the exact sum decides. */
TEST(overflow_matches_exact_arithmetic) {
    for (int round = 0; round < 200000; round++) {
        unsigned bits = 1 + (unsigned)(next_rand() % 64);
        enum bitops_overflow policy = (enum bitops_overflow)(next_rand() % 3);
        int64_t incr = (int64_t)next_rand();
        if (next_rand() % 2)
            incr %= 1000;
        __int128 lo = -((__int128)1 << (bits - 1)), hi = ((__int128)1 << (bits - 1)) - 1;
        int64_t value = bits == 64
                            ? (int64_t)next_rand()
                            : (int64_t)(lo + (__int128)(next_rand() % (uint64_t)(hi - lo + 1)));
        __int128 sum = (__int128)value + incr;
        int64_t got = 12345;
        bool overflow = bitops_add_signed(value, incr, bits, policy, &got);
        CHECK(overflow == (sum < lo || sum > hi));
        if (!overflow)
            CHECK(got == (int64_t)sum);
        else if (policy == BITOPS_SAT)
            CHECK(got == (sum > hi ? (int64_t)hi : (int64_t)lo));
        else if (policy == BITOPS_FAIL)
            CHECK(got == 12345);
        else {
            __int128 span = (__int128)1 << bits;
            __int128 wrapped = ((sum - lo) % span + span) % span + lo;
            CHECK(got == (int64_t)wrapped);
        }

        if (bits == 64)
            continue;
        uint64_t umax = ((uint64_t)1 << bits) - 1;
        uint64_t uvalue = next_rand() & umax;
        __int128 usum = (__int128)uvalue + incr;
        uint64_t ugot = 777;
        bool uoverflow = bitops_add_unsigned(uvalue, incr, bits, policy, &ugot);
        CHECK(uoverflow == (usum < 0 || usum > (__int128)umax));
        if (!uoverflow)
            CHECK(ugot == (uint64_t)usum);
        else if (policy == BITOPS_SAT)
            CHECK(ugot == (usum > 0 ? umax : 0));
        else if (policy == BITOPS_FAIL)
            CHECK(ugot == 777);
        else
            CHECK(ugot == ((uint64_t)usum & umax));
    }
}

/* SET of an out-of-range number is checked as value + 0 (Redis 7.0). */
TEST(overflow_of_out_of_range_values) {
    uint64_t u;
    CHECK(bitops_add_unsigned((uint64_t)-1, 0, 8, BITOPS_WRAP, &u) && u == 255);
    CHECK(bitops_add_unsigned((uint64_t)-5, 0, 8, BITOPS_SAT, &u) && u == 255);
    CHECK(bitops_add_unsigned(256, 0, 8, BITOPS_WRAP, &u) && u == 0);
    int64_t s;
    CHECK(bitops_add_signed(200, 0, 8, BITOPS_WRAP, &s) && s == -56);
    CHECK(bitops_add_signed(-200, 0, 8, BITOPS_SAT, &s) && s == -128);
    CHECK(!bitops_add_signed(INT64_MAX, 0, 64, BITOPS_FAIL, &s) && s == INT64_MAX);
    CHECK(bitops_add_signed(INT64_MAX, 1, 64, BITOPS_WRAP, &s) && s == INT64_MIN);
}

TEST(combine_matches_model) {
    unsigned char a[BUF_BYTES], b[BUF_BYTES], c[BUF_BYTES], dst[BUF_BYTES];
    for (int round = 0; round < 5000; round++) {
        size_t lens[3] = {next_rand() % BUF_BYTES, next_rand() % BUF_BYTES,
                          next_rand() % BUF_BYTES};
        fill_random(a, lens[0]);
        fill_random(b, lens[1]);
        fill_random(c, lens[2]);
        const unsigned char *src[3] = {a, b, lens[2] ? c : NULL};
        size_t dst_len = BUF_BYTES;
        enum bitops_op op = (enum bitops_op)(next_rand() % 4);
        size_t count = op == BITOPS_NOT ? 1 : 3;
        bitops_combine(op, count, src, lens, dst, dst_len);
        for (size_t j = 0; j < dst_len; j++) {
            unsigned x = j < lens[0] ? a[j] : 0, y = j < lens[1] ? b[j] : 0,
                     z = j < lens[2] ? c[j] : 0;
            unsigned expect = op == BITOPS_AND   ? (x & y & z)
                              : op == BITOPS_OR  ? (x | y | z)
                              : op == BITOPS_XOR ? (x ^ y ^ z)
                                                 : (~x & 0xffu);
            CHECK_EQ_INT(dst[j], expect);
        }
    }
}
