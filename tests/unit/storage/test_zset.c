/* zset (and the skiplist under it): random adds, increments, deletes and
 * range deletes checked against a reference model (an array of members with
 * scores, sorted on demand), in listpack, skiplist and converting sets:
 * scores, ranks both ways, ordered walks from any rank, score and lex range
 * counts and walks, and no leaked memory. */
#include "storage/mem.h"
#include "storage/storage.h"
#include "storage/zset.h"
#include "tests/unit/lib/test.h"

#include <stdint.h>

#define MEMBERS 300

struct model {
    char name[MEMBERS][16];
    size_t len[MEMBERS];
    bool present[MEMBERS];
    double score[MEMBERS];
    int order[MEMBERS]; /* present members, sorted */
    size_t count;
};

static uint64_t rng_state = 0x2545F4914F6CDD1DULL;
static uint64_t next_rand(void) {
    rng_state ^= rng_state << 13;
    rng_state ^= rng_state >> 7;
    rng_state ^= rng_state << 17;
    return rng_state;
}

static struct model *sort_model;
static int cmp_members(const void *a, const void *b) {
    int i = *(const int *)a, j = *(const int *)b;
    const struct model *m = sort_model;
    if (m->score[i] != m->score[j])
        return m->score[i] < m->score[j] ? -1 : 1;
    return zsl_cmp_member(m->name[i], m->len[i], m->name[j], m->len[j]);
}

static void model_sort(struct model *m) {
    m->count = 0;
    for (int i = 0; i < MEMBERS; i++)
        if (m->present[i])
            m->order[m->count++] = i;
    sort_model = m;
    qsort(m->order, m->count, sizeof(int), cmp_members);
}

static double random_score(void) {
    static const double fractions[] = {0, 0.5, 0.25, -0.125, 1e-9};
    return (double)((int)(next_rand() % 21) - 10) + fractions[next_rand() % 5];
}

static int matches_model(struct kv *kv, struct model *m) {
    model_sort(m);
    if (zset_len(kv) != m->count)
        return 0;
    for (int i = 0; i < MEMBERS; i++) {
        double s;
        bool found = zset_score(kv, m->name[i], m->len[i], &s);
        if (found != m->present[i] || (found && s != m->score[i]))
            return 0;
    }
    /* Ranks, both ways. */
    for (size_t r = 0; r < m->count; r++) {
        int i = m->order[r];
        size_t rank, rev;
        if (!zset_rank(kv, m->name[i], m->len[i], false, &rank) || rank != r)
            return 0;
        if (!zset_rank(kv, m->name[i], m->len[i], true, &rev) || rev != m->count - 1 - r)
            return 0;
    }
    /* Walks from a random rank in both directions. */
    if (m->count > 0) {
        size_t start = next_rand() % m->count;
        for (int reverse = 0; reverse < 2; reverse++) {
            struct zset_iter it;
            zset_iter_at_rank(&it, kv, start, reverse);
            for (size_t r = start; r < m->count; r++, zset_iter_next(&it)) {
                int i = m->order[reverse ? m->count - 1 - r : r];
                struct zset_member zm;
                if (!zset_iter_valid(&it))
                    return 0;
                zset_iter_get(&it, &zm);
                if (zm.score != m->score[i] || zm.len != m->len[i] ||
                    memcmp(zm.p, m->name[i], zm.len) != 0)
                    return 0;
            }
            if (zset_iter_valid(&it))
                return 0;
        }
    }
    /* A random score range: count and the first member in each direction. */
    struct zscore_range r = {random_score(), random_score(), next_rand() % 2, next_rand() % 2};
    size_t inside = 0;
    int first = -1, last = -1;
    for (size_t k = 0; k < m->count; k++) {
        int i = m->order[k];
        if (zscore_gte_min(m->score[i], &r) && zscore_lte_max(m->score[i], &r)) {
            inside++;
            if (first < 0)
                first = i;
            last = i;
        }
    }
    if (zset_count_score(kv, &r) != inside)
        return 0;
    struct zset_iter it;
    struct zset_member zm;
    zset_iter_at_score(&it, kv, &r, false);
    if (zset_iter_valid(&it) != (first >= 0))
        return 0;
    if (first >= 0) {
        zset_iter_get(&it, &zm);
        if (zm.len != m->len[first] || memcmp(zm.p, m->name[first], zm.len) != 0)
            return 0;
        zset_iter_at_score(&it, kv, &r, true);
        zset_iter_get(&it, &zm);
        if (zm.len != m->len[last] || memcmp(zm.p, m->name[last], zm.len) != 0)
            return 0;
    }
    return 1;
}

static void run_random_ops(const struct zset_limits *lim, size_t size_hint, int ops) {
    size_t before = mem_used();
    static struct model m;
    memset(&m, 0, sizeof(m));
    for (int i = 0; i < MEMBERS; i++)
        m.len[i] = (size_t)snprintf(m.name[i], sizeof(m.name[i]), "%s%d", i % 3 == 0 ? "" : "m",
                                    i * 7919 % 1000);
    struct kv *kv = zset_new("k", 1, size_hint, 1, lim);
    CHECK(kv != NULL);
    for (int op = 0; op < ops; op++) {
        int i = (int)(next_rand() % MEMBERS);
        switch (next_rand() % 8) {
        case 0:
        case 1:
        case 2: { /* plain add / update */
            double s = random_score();
            int out;
            double ns;
            CHECK_EQ_INT(zset_add(kv, s, m.name[i], m.len[i], 0, &out, &ns, lim), 0);
            CHECK(!!(out & ZADD_OUT_ADDED) == !m.present[i]);
            CHECK(!!(out & ZADD_OUT_UPDATED) == (m.present[i] && m.score[i] != s));
            m.present[i] = true;
            m.score[i] = s;
            break;
        }
        case 3: { /* INCR with GT: only increases apply */
            double by = random_score();
            int out;
            double ns = 0;
            CHECK_EQ_INT(
                zset_add(kv, by, m.name[i], m.len[i], ZADD_IN_INCR | ZADD_IN_GT, &out, &ns, lim),
                0);
            double want = m.present[i] ? m.score[i] + by : by;
            if (m.present[i] && want <= m.score[i]) {
                CHECK(out & ZADD_OUT_NOP);
            } else {
                CHECK(ns == want);
                m.present[i] = true;
                m.score[i] = want;
            }
            break;
        }
        case 4:
            CHECK(zset_delete(kv, m.name[i], m.len[i]) == m.present[i]);
            m.present[i] = false;
            break;
        case 5: { /* delete a score range */
            if (next_rand() % 8)
                break;
            struct zscore_range r = {random_score(), random_score(), false, next_rand() % 2};
            size_t want = 0;
            for (int k = 0; k < MEMBERS; k++) {
                if (m.present[k] && zscore_gte_min(m.score[k], &r) &&
                    zscore_lte_max(m.score[k], &r)) {
                    m.present[k] = false;
                    want++;
                }
            }
            CHECK_EQ_INT(zset_delete_score_range(kv, &r), want);
            break;
        }
        case 6: { /* delete a rank range */
            model_sort(&m);
            if (m.count == 0 || next_rand() % 8)
                break;
            size_t start = next_rand() % m.count;
            size_t end = start + next_rand() % 5;
            if (end >= m.count)
                end = m.count - 1;
            for (size_t k = start; k <= end; k++)
                m.present[m.order[k]] = false;
            CHECK_EQ_INT(zset_delete_rank_range(kv, start, end), end - start + 1);
            break;
        }
        case 7: { /* lex count over all-equal scores is exercised in the lex test */
            if (next_rand() % 16 == 0)
                zset_fit_listpack(kv, lim);
            break;
        }
        }
        if (op % 97 == 0)
            CHECK(matches_model(kv, &m));
    }
    CHECK(matches_model(kv, &m));
    kv_free(kv);
    CHECK(mem_used() == before);
}

TEST(zset_listpack_random_ops) {
    zset_register();
    struct zset_limits lim = {100000, 64};
    run_random_ops(&lim, 1, 6000);
}

TEST(zset_skiplist_random_ops) {
    zset_register();
    struct zset_limits lim = {0, 0};
    run_random_ops(&lim, 1, 20000);
}

TEST(zset_converting_random_ops) {
    zset_register();
    struct zset_limits lim = {40, 64};
    run_random_ops(&lim, 1, 20000);
}

TEST(zset_lex_ranges) {
    zset_register();
    size_t before = mem_used();
    const char *words[] = {"", "a", "aa", "ab", "b", "ba", "c", "z", "zz"};
    size_t n = sizeof(words) / sizeof(words[0]);
    for (int enc = 0; enc < 2; enc++) {
        struct zset_limits lim = {enc ? 0 : 128, enc ? 0 : 64};
        struct kv *kv = zset_new("k", 1, 1, 1, &lim);
        for (size_t i = 0; i < n; i++) {
            int out;
            double ns;
            CHECK_EQ_INT(
                zset_add(kv, 0, words[n - 1 - i], strlen(words[n - 1 - i]), 0, &out, &ns, &lim), 0);
        }
        CHECK(kv->encoding == (enc ? OBJ_ENC_SKIPLIST : OBJ_ENC_LISTPACK));
        struct zlex_range all = {{NULL, 0, ZLEX_NEG_INF}, {NULL, 0, ZLEX_POS_INF}};
        CHECK_EQ_INT(zset_count_lex(kv, &all), n);
        struct zlex_range ab = {{"a", 1, ZLEX_EXCL}, {"b", 1, ZLEX_INCL}};
        CHECK_EQ_INT(zset_count_lex(kv, &ab), 3); /* aa ab b */
        struct zset_iter it;
        struct zset_member m;
        zset_iter_at_lex(&it, kv, &ab, true);
        zset_iter_get(&it, &m);
        CHECK_MEM(m.p, m.len, "b");
        struct zlex_range empty = {{"b", 1, ZLEX_EXCL}, {"b", 1, ZLEX_INCL}};
        CHECK_EQ_INT(zset_count_lex(kv, &empty), 0);
        CHECK_EQ_INT(zset_delete_lex_range(kv, &ab), 3);
        CHECK_EQ_INT(zset_len(kv), n - 3);
        kv_free(kv);
    }
    CHECK(mem_used() == before);
}

TEST(zset_scores_roundtrip_in_listpack) {
    zset_register();
    struct zset_limits lim = {128, 64};
    struct kv *kv = zset_new("k", 1, 1, 1, &lim);
    const double scores[] = {0.1, -0.0, 1e300, -1e-300, 4611686018427387904.0, 1e19, 3.0};
    char name[8];
    for (size_t i = 0; i < sizeof(scores) / sizeof(scores[0]); i++) {
        int out;
        double ns;
        snprintf(name, sizeof(name), "s%zu", i);
        CHECK_EQ_INT(zset_add(kv, scores[i], name, strlen(name), 0, &out, &ns, &lim), 0);
        double back;
        CHECK(zset_score(kv, name, strlen(name), &back));
        CHECK(back == scores[i]);
    }
    CHECK(kv->encoding == OBJ_ENC_LISTPACK);
    kv_free(kv);
}
