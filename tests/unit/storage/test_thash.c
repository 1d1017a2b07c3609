/* thash: random sets and deletes checked against a reference model (an
 * array of fields with values) in a listpack hash that converts to a table,
 * plus iteration, sampling and scanning completeness, and no leaked memory. */
#include "storage/mem.h"
#include "storage/storage.h"
#include "storage/thash.h"
#include "tests/unit/lib/test.h"

#include <stdint.h>

#define FIELDS 400

struct model {
    char field[FIELDS][16];
    size_t flen[FIELDS];
    char value[FIELDS][80];
    size_t vlen[FIELDS];
    bool present[FIELDS];
    int seen[FIELDS];
};

static uint64_t rng_state = 0x853C49E6748FEA9BULL;
static uint64_t next_rand(void) {
    rng_state ^= rng_state << 13;
    rng_state ^= rng_state >> 7;
    rng_state ^= rng_state << 17;
    return rng_state;
}

static int field_index(const struct model *m, const char *f, size_t len) {
    for (int i = 0; i < FIELDS; i++)
        if (m->flen[i] == len && memcmp(m->field[i], f, len) == 0)
            return i;
    return -1;
}

static void mark_seen(const char *f, size_t flen, const char *v, size_t vlen, void *arg) {
    struct model *m = arg;
    int i = field_index(m, f, flen);
    if (i >= 0 && m->vlen[i] == vlen && memcmp(m->value[i], v, vlen) == 0)
        m->seen[i]++;
    else
        m->seen[0] += 1000; /* poison: an unknown pair */
}

static int matches_model(struct kv *kv, struct model *m) {
    size_t count = 0;
    for (int i = 0; i < FIELDS; i++) {
        struct thash_str v;
        bool found = thash_get(kv, m->field[i], m->flen[i], &v);
        if (found != m->present[i])
            return 0;
        if (found && (v.len != m->vlen[i] || memcmp(v.p, m->value[i], v.len) != 0))
            return 0;
        count += m->present[i];
    }
    if (thash_len(kv) != count)
        return 0;
    /* Iteration and a full scan each return every pair exactly once. */
    for (int pass = 0; pass < 2; pass++) {
        memset(m->seen, 0, sizeof(m->seen));
        if (pass == 0) {
            struct thash_iter it;
            struct thash_str f, v;
            thash_iter_init(&it, kv);
            while (thash_iter_next(&it, &f, &v))
                mark_seen(f.p, f.len, v.p, v.len, m);
            thash_iter_close(&it);
        } else {
            uint64_t cursor = 0;
            do {
                cursor = thash_scan(kv, cursor, mark_seen, m);
            } while (cursor != 0);
        }
        for (int i = 0; i < FIELDS; i++)
            if (m->seen[i] != (m->present[i] ? 1 : 0))
                return 0;
    }
    if (count > 0) {
        struct thash_str f, v;
        thash_pick(kv, next_rand(), &f, &v);
        int i = field_index(m, f.p, f.len);
        if (i < 0 || !m->present[i])
            return 0;
    }
    return 1;
}

TEST(thash_random_ops_match_model) {
    thash_register();
    size_t before = mem_used();
    static struct model m;
    memset(&m, 0, sizeof(m));
    for (int i = 0; i < FIELDS; i++)
        m.flen[i] =
            (size_t)snprintf(m.field[i], sizeof(m.field[i]), i % 4 == 0 ? "%d" : "f%d", i * 31);
    struct thash_limits lim = {64, 40};
    struct kv *kv = thash_new("h", 1);
    CHECK(kv != NULL);
    for (int op = 0; op < 30000; op++) {
        int i = (int)(next_rand() % FIELDS);
        if (next_rand() % 3 != 0) {
            size_t vlen = next_rand() % 8 == 0 ? 20 + next_rand() % 50 : next_rand() % 6;
            if (next_rand() % 4 == 0)
                vlen = (size_t)snprintf(m.value[i], sizeof(m.value[i]), "%lld",
                                        (long long)next_rand() >> (next_rand() % 64));
            else
                for (size_t k = 0; k < vlen; k++)
                    m.value[i][k] = (char)('a' + next_rand() % 26);
            m.vlen[i] = vlen;
            /* Long values convert to a table early: keep the listpack phase
             * long by writing them only once the hash is big. */
            if (vlen > lim.max_value && thash_len(kv) < 32)
                m.vlen[i] = vlen = 3;
            bool is_new;
            CHECK_EQ_INT(thash_set(kv, m.field[i], m.flen[i], m.value[i], vlen, &lim, &is_new), 0);
            CHECK(is_new == !m.present[i]);
            m.present[i] = true;
        } else {
            CHECK(thash_delete(kv, m.field[i], m.flen[i]) == m.present[i]);
            m.present[i] = false;
        }
        if (op % 113 == 0)
            CHECK(matches_model(kv, &m));
        if (thash_len(kv) > lim.max_entries)
            CHECK(kv->encoding == OBJ_ENC_HT);
    }
    CHECK(kv->encoding == OBJ_ENC_HT);
    CHECK(matches_model(kv, &m));
    kv_free(kv);
    CHECK(mem_used() == before);
}

TEST(thash_long_value_converts) {
    thash_register();
    struct thash_limits lim = {512, 8};
    struct kv *kv = thash_new("h", 1);
    bool is_new;
    CHECK_EQ_INT(thash_set(kv, "f", 1, "12345678", 8, &lim, &is_new), 0);
    CHECK(kv->encoding == OBJ_ENC_LISTPACK);
    CHECK_EQ_INT(thash_set(kv, "g", 1, "123456789", 9, &lim, &is_new), 0);
    CHECK(kv->encoding == OBJ_ENC_HT);
    struct thash_str v;
    CHECK(thash_get(kv, "f", 1, &v));
    CHECK_MEM(v.p, v.len, "12345678");
    kv_free(kv);
}

TEST(thash_allocation_failure_is_clean) {
    thash_register();
    size_t before = mem_used();
    struct thash_limits lim = {4, 64};
    for (long fail_at = 0; fail_at < 40; fail_at++) {
        struct kv *kv = thash_new("h", 1);
        CHECK(kv != NULL);
        mem_set_fault(fail_at, 0);
        int failures = 0;
        char f[8];
        for (int i = 0; i < 8; i++) {
            bool is_new;
            size_t len = (size_t)snprintf(f, sizeof(f), "f%d", i);
            if (thash_set(kv, f, len, "v", 1, &lim, &is_new) != 0)
                failures++;
        }
        mem_set_fault(-1, 0);
        CHECK(failures <= 1);
        CHECK_EQ_INT(thash_len(kv), 8 - failures);
        kv_free(kv);
    }
    CHECK(mem_used() == before);
}
