/* HyperLogLog: the representation matches Redis 7.0 byte for byte, and
 * counts match, for the same inserts. Expected values were produced by
 * redis-server 7.0.15 (PFADD h e0 e1 ... e<n-1>; PFCOUNT h; GETRANGE h 16 -1). */
#include "storage/hyperloglog.h"
#include "storage/mem.h"
#include "tests/unit/lib/test.h"

static uint64_t fnv1a(const char *p, size_t len) {
    uint64_t h = 0xcbf29ce484222325ULL;
    for (size_t i = 0; i < len; i++) {
        h ^= (uint8_t)p[i];
        h *= 0x100000001b3ULL;
    }
    return h;
}

static struct raw_string *filled(int n) {
    struct raw_string *hll = hll_new();
    char ele[32];
    for (int i = 0; i < n; i++) {
        int len = snprintf(ele, sizeof(ele), "e%d", i);
        if (hll_add(&hll, ele, (size_t)len, 3000) < 0)
            return NULL;
    }
    return hll;
}

static uint64_t count_of(const struct raw_string *hll) {
    uint8_t regs[HLL_REGISTERS] = {0};
    if (hll_max_registers(hll->data, hll->len, regs) != 0)
        return (uint64_t)-1;
    return hll_count_registers(regs);
}

TEST(three_elements_exact_bytes) {
    struct raw_string *hll = hll_new();
    CHECK_EQ_INT(hll_add(&hll, "a", 1, 3000), 1);
    CHECK_EQ_INT(hll_add(&hll, "b", 1, 3000), 1);
    CHECK_EQ_INT(hll_add(&hll, "c", 1, 3000), 1);
    CHECK_EQ_INT(hll_add(&hll, "a", 1, 3000), 0);
    static const char body[] = "`\xf3\x80P\xb1\x84K\xfb\x80"
                               "BZ";
    CHECK_EQ_INT(hll->len, 16 + 11);
    CHECK(memcmp(hll->data, "HYLL\x01", 5) == 0);
    CHECK(memcmp(hll->data + 16, body, 11) == 0);
    CHECK_EQ_INT(count_of(hll), 3);
    mem_free(hll);
}

TEST(matches_redis_at_several_sizes) {
    static const struct {
        int n;
        size_t len;
        uint64_t count;
        uint64_t body_fnv;
    } cases[] = {
        {100, 285, 100, 0xe2bb06644fbe898ULL},
        {1000, 1906, 1008, 0xc21d30185c05f396ULL},
        {5000, 12304, 4968, 0xa232fb87d5e6d1b5ULL}, /* promoted to dense */
        {100000, 12304, 100853, 0xfd8774c1e96b5d3ULL},
    };
    for (size_t i = 0; i < sizeof(cases) / sizeof(cases[0]); i++) {
        size_t before = mem_used();
        struct raw_string *hll = filled(cases[i].n);
        CHECK(hll != NULL);
        CHECK_EQ_INT(hll->len, cases[i].len);
        CHECK(fnv1a(hll->data + 16, hll->len - 16) == cases[i].body_fnv);
        CHECK_EQ_INT(count_of(hll), cases[i].count);
        mem_free(hll);
        CHECK_EQ_INT(mem_used(), before);
    }
}

TEST(merge_and_dense_conversion_keep_counts) {
    struct raw_string *a = filled(1000);
    struct raw_string *b = hll_new();
    uint8_t regs[HLL_REGISTERS] = {0};
    CHECK_EQ_INT(hll_max_registers(a->data, a->len, regs), 0);
    CHECK_EQ_INT(hll_merge_into(&b, regs, 3000), 0);
    CHECK_EQ_INT(count_of(b), 1008);
    CHECK_EQ_INT(hll_to_dense(&b), 0);
    CHECK_EQ_INT(b->len, HLL_DENSE_SIZE);
    CHECK_EQ_INT(count_of(b), 1008);
    mem_free(a);
    mem_free(b);
}

TEST(corrupt_sparse_is_detected) {
    struct raw_string *hll = hll_new();
    hll->data[16] = 0x7e; /* XZERO of 16128: registers no longer sum to 16384 */
    uint8_t regs[HLL_REGISTERS] = {0};
    CHECK(hll_max_registers(hll->data, hll->len, regs) != 0);
    CHECK(hll_add(&hll, "x", 1, 3000) < 0 || hll_max_registers(hll->data, hll->len, regs) != 0);
    mem_free(hll);
    CHECK(!hll_is_valid("HYLL\x02", 5));
    CHECK(!hll_is_valid("HYLL\x00\x00\x00\x00\x00\x00\x00\x00\x00\x00\x00\x00\x00", 17));
}
