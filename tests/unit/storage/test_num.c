/* num: num_format_ll prints exactly what "%lld" prints, at the limits and
 * for random values of every magnitude. */
#include "storage/num.h"
#include "tests/unit/lib/test.h"

#include <limits.h>
#include <stdint.h>

static uint64_t rng_state = 0x9E3779B97F4A7C15ULL;
static uint64_t next_rand(void) {
    rng_state ^= rng_state << 13;
    rng_state ^= rng_state >> 7;
    rng_state ^= rng_state << 17;
    return rng_state;
}

static int matches_printf(long long v) {
    char got[NUM_LL_CHARS], want[32];
    size_t len = num_format_ll(got, v);
    int n = snprintf(want, sizeof(want), "%lld", v);
    return n > 0 && len == (size_t)n && memcmp(got, want, len) == 0;
}

TEST(num_format_ll_limits) {
    static const long long edges[] = {
        0, 1, -1, 9, 10, -10, 99, 100, LLONG_MAX, LLONG_MIN, LLONG_MIN + 1, INT_MAX, INT_MIN};
    for (size_t i = 0; i < sizeof(edges) / sizeof(edges[0]); i++)
        CHECK(matches_printf(edges[i]));
    char buf[NUM_LL_CHARS];
    CHECK_EQ_INT(num_format_ll(buf, LLONG_MIN), NUM_LL_CHARS);
}

TEST(num_format_ll_random_magnitudes) {
    for (int i = 0; i < 100000; i++) {
        uint64_t r = next_rand();
        long long v = (long long)(r >> (next_rand() % 64));
        CHECK(matches_printf(v));
        CHECK(matches_printf(v == LLONG_MIN ? v : -v));
    }
}
