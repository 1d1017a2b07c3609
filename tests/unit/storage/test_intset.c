/* intset: random adds and removes across all three widths checked against a
 * reference model (a flag per value of a fixed pool), order and width
 * invariants, and clean failure under allocation faults. */
#include "storage/intset.h"
#include "storage/mem.h"
#include "storage/storage.h"
#include "tests/unit/lib/test.h"

#include <stdint.h>

#define POOL 600

static uint64_t rng_state = 0x9E3779B97F4A7C15ULL;
static uint64_t next_rand(void) {
    rng_state ^= rng_state << 13;
    rng_state ^= rng_state >> 7;
    rng_state ^= rng_state << 17;
    return rng_state;
}

/* Distinct values: mostly 16-bit, some 32-bit, a few 64-bit, and the limits. */
static void fill_pool(int64_t *pool) {
    static const int64_t edges[] = {INT16_MIN, INT16_MAX, INT32_MIN, INT32_MAX,
                                    INT64_MIN, INT64_MAX, 0,         -1};
    int n = 0;
    for (size_t i = 0; i < sizeof(edges) / sizeof(edges[0]); i++)
        pool[n++] = edges[i];
    while (n < POOL) {
        uint64_t r = next_rand();
        int64_t v;
        switch (r % 10) {
        case 0:
            v = (int64_t)next_rand();
            break;
        case 1:
        case 2:
            v = (int32_t)next_rand();
            break;
        default:
            v = (int16_t)next_rand();
        }
        int dup = 0;
        for (int i = 0; i < n; i++)
            dup |= pool[i] == v;
        if (!dup)
            pool[n++] = v;
    }
}

static unsigned width_needed(int64_t v) {
    if (v < INT32_MIN || v > INT32_MAX)
        return 8;
    return v < INT16_MIN || v > INT16_MAX ? 4 : 2;
}

TEST(intset_random_ops_match_model) {
    static int64_t pool[POOL];
    static int present[POOL];
    fill_pool(pool);
    size_t mem_before = mem_used();
    for (int round = 0; round < 4; round++) {
        struct intset *is = intset_new();
        CHECK(is != NULL);
        memset(present, 0, sizeof(present));
        unsigned widest = 2;
        /* Later rounds draw from a narrower part of the pool so some sets
         * never widen. */
        int range = round == 0 ? POOL : POOL / (round * 2);
        for (int op = 0; op < 20000; op++) {
            int i = (int)(next_rand() % (uint64_t)range);
            switch (next_rand() % 4) {
            case 0:
            case 1: {
                int rc = intset_add(&is, pool[i]);
                CHECK_EQ_INT(rc, present[i] ? 0 : 1);
                present[i] = 1;
                if (width_needed(pool[i]) > widest)
                    widest = width_needed(pool[i]);
                break;
            }
            case 2:
                CHECK(intset_remove(&is, pool[i]) == (bool)present[i]);
                present[i] = 0;
                break;
            default:
                CHECK(intset_contains(is, pool[i]) == (bool)present[i]);
            }
            CHECK_EQ_INT(intset_width(is), widest);
        }
        size_t expected = 0;
        for (int i = 0; i < POOL; i++)
            expected += (size_t)present[i];
        CHECK_EQ_INT(intset_len(is), expected);
        for (size_t pos = 1; pos < intset_len(is); pos++)
            CHECK(intset_get(is, pos - 1) < intset_get(is, pos));
        for (int i = 0; i < POOL; i++)
            CHECK(intset_contains(is, pool[i]) == (bool)present[i]);
        /* Drain by position. */
        while (intset_len(is) > 0)
            intset_remove_at(&is, next_rand() % intset_len(is));
        intset_free(is);
    }
    CHECK_EQ_INT(mem_used(), mem_before);
}

TEST(intset_upgrade_keeps_values_and_order) {
    struct intset *is = intset_new();
    for (int64_t v = -50; v <= 50; v++)
        CHECK_EQ_INT(intset_add(&is, v * 100), 1);
    CHECK_EQ_INT(intset_width(is), 2);
    CHECK_EQ_INT(intset_add(&is, -70000), 1); /* goes first */
    CHECK_EQ_INT(intset_width(is), 4);
    CHECK_EQ_INT(intset_get(is, 0), -70000);
    CHECK_EQ_INT(intset_add(&is, INT64_MAX), 1); /* goes last */
    CHECK_EQ_INT(intset_width(is), 8);
    CHECK_EQ_INT(intset_get(is, intset_len(is) - 1), INT64_MAX);
    for (int64_t v = -50; v <= 50; v++)
        CHECK(intset_contains(is, v * 100));
    CHECK(!intset_contains(is, 1));
    CHECK(intset_remove(&is, INT64_MAX));
    CHECK_EQ_INT(intset_width(is), 8); /* never narrows */
    CHECK(!intset_contains(is, INT64_MAX));
    intset_free(is);
}

TEST(intset_allocation_failure_leaves_set_unchanged) {
    size_t mem_before = mem_used();
    struct intset *is = intset_new();
    int failures = 0;
    for (int64_t v = 0; v < 200; v++) {
        int64_t value = v % 3 == 0 ? v * 1000000000LL : v;
        mem_set_fault(0, 0);
        int rc = intset_add(&is, value);
        mem_set_fault(-1, 0);
        if (rc == STORAGE_ENOMEM) {
            failures++;
            CHECK(!intset_contains(is, value));
            CHECK_EQ_INT(intset_add(&is, value), 1);
        }
        CHECK(intset_contains(is, value));
    }
    CHECK(failures > 0);
    CHECK_EQ_INT(intset_len(is), 200);
    intset_free(is);
    CHECK_EQ_INT(mem_used(), mem_before);
}
