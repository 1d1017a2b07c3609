/* Set values: random operations against a reference model that tracks not
 * just membership but each member's position, so the deterministic position
 * rules of set.h (ascending intset, insertion order with last-moves-in
 * removal for tables) are checked; plus conversion thresholds, SSCAN
 * completeness and clean failure under allocation faults. */
#include "storage/intset.h"
#include "storage/mem.h"
#include "storage/set.h"
#include "storage/storage.h"
#include "tests/unit/lib/test.h"

#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>

#define POOL       400
#define MAX_INTSET 64

static uint64_t rng_state = 0x2545F4914F6CDD1DULL;
static uint64_t next_rand(void) {
    rng_state ^= rng_state << 13;
    rng_state ^= rng_state >> 7;
    rng_state ^= rng_state << 17;
    return rng_state;
}

struct pool_member {
    char s[32];
    size_t len;
    long long v;
    int is_int;
};

static struct pool_member pool[POOL];

/* Members 0..POOL/2-1 are integers (some wide), the rest are not. */
static void fill_pool(void) {
    for (int i = 0; i < POOL; i++) {
        struct pool_member *p = &pool[i];
        if (i < POOL / 2) {
            p->v = i % 7 == 0 ? (long long)(i + 1) * 10000000000LL : (long long)i - 100;
            p->len = (size_t)snprintf(p->s, sizeof(p->s), "%lld", p->v);
            p->is_int = 1;
        } else {
            /* Some look numeric but are not canonical. */
            p->len = (size_t)(i % 5 == 0 ? snprintf(p->s, sizeof(p->s), "0%d", i)
                                         : snprintf(p->s, sizeof(p->s), "m:%d", i));
            p->is_int = 0;
        }
    }
}

struct model {
    int order[POOL]; /* pool indexes by position */
    int count;
    int is_table;
};

static int find_pos(const struct model *m, int idx) {
    for (int i = 0; i < m->count; i++)
        if (m->order[i] == idx)
            return i;
    return -1;
}

static int cmp_by_value(const void *a, const void *b) {
    long long x = pool[*(const int *)a].v, y = pool[*(const int *)b].v;
    return x < y ? -1 : x > y;
}

static void model_add(struct model *m, int idx) {
    if (!m->is_table && (!pool[idx].is_int || m->count + 1 > MAX_INTSET)) {
        qsort(m->order, (size_t)m->count, sizeof(int), cmp_by_value);
        m->is_table = 1;
    }
    m->order[m->count++] = idx;
    if (!m->is_table)
        qsort(m->order, (size_t)m->count, sizeof(int), cmp_by_value);
}

static void model_remove_at(struct model *m, int pos) {
    if (m->is_table) {
        m->order[pos] = m->order[--m->count];
    } else {
        memmove(&m->order[pos], &m->order[pos + 1], (size_t)(m->count - pos - 1) * sizeof(int));
        m->count--;
    }
}

static int same_as_model(const struct kv *kv, const struct model *m) {
    if ((int)set_size(kv) != m->count)
        return 0;
    if ((kv->encoding == OBJ_ENC_HT) != m->is_table)
        return 0;
    for (int i = 0; i < m->count; i++) {
        char buf[SET_INT_BUF];
        size_t len;
        const char *s = set_at(kv, (size_t)i, buf, &len);
        const struct pool_member *p = &pool[m->order[i]];
        if (len != p->len || memcmp(s, p->s, len) != 0)
            return 0;
    }
    return 1;
}

TEST(set_random_ops_match_positional_model) {
    static struct model m;
    set_register();
    fill_pool();
    size_t mem_before = mem_used();
    for (int round = 0; round < 6; round++) {
        /* Even rounds stay mostly integer so the intset path sees long runs. */
        int range = round % 2 == 0 ? POOL / 2 + 2 : POOL;
        memset(&m, 0, sizeof(m));
        struct kv *kv = set_new("k", 1, set_encoding_for(pool[0].s, pool[0].len));
        CHECK(kv != NULL);
        for (int op = 0; op < 5000; op++) {
            int idx = (int)(next_rand() % (uint64_t)range);
            const struct pool_member *p = &pool[idx];
            int pos = find_pos(&m, idx);
            switch (next_rand() % 5) {
            case 0:
            case 1: {
                int rc = set_add(kv, p->s, p->len, MAX_INTSET);
                CHECK_EQ_INT(rc, pos < 0 ? 1 : 0);
                if (pos < 0)
                    model_add(&m, idx);
                break;
            }
            case 2:
                CHECK(set_remove(kv, p->s, p->len) == (pos >= 0));
                if (pos >= 0)
                    model_remove_at(&m, pos);
                break;
            case 3:
                if (m.count > 0) {
                    int at = (int)(next_rand() % (uint64_t)m.count);
                    set_remove_at(kv, (size_t)at);
                    model_remove_at(&m, at);
                }
                break;
            default:
                CHECK(set_contains(kv, p->s, p->len) == (pos >= 0));
            }
            if (op % 97 == 0)
                CHECK(same_as_model(kv, &m));
        }
        CHECK(same_as_model(kv, &m));
        CHECK(set_mem_bytes(kv) > 0);
        struct kv *copy =
            kv_new_ptr("c", 1, OBJ_SET, (enum obj_encoding)kv->encoding, set_dup_value(kv), -1);
        CHECK(copy != NULL && copy->v.ptr != NULL);
        CHECK(same_as_model(copy, &m));
        kv_free(copy);
        kv_free(kv);
    }
    CHECK_EQ_INT(mem_used(), mem_before);
}

TEST(set_conversion_thresholds) {
    set_register();
    struct kv *kv = set_new("k", 1, OBJ_ENC_INTSET);
    char buf[32];
    for (int i = 0; i < 5; i++) {
        int n = snprintf(buf, sizeof(buf), "%d", i);
        CHECK_EQ_INT(set_add(kv, buf, (size_t)n, 5), 1);
    }
    CHECK_EQ_INT(kv->encoding, OBJ_ENC_INTSET);
    CHECK_EQ_INT(set_add(kv, "3", 1, 5), 0); /* present: no conversion */
    CHECK_EQ_INT(kv->encoding, OBJ_ENC_INTSET);
    CHECK_EQ_INT(set_add(kv, "5", 1, 5), 1); /* one too many */
    CHECK_EQ_INT(kv->encoding, OBJ_ENC_HT);
    CHECK(set_contains(kv, "0", 1) && set_contains(kv, "5", 1));
    kv_free(kv);

    kv = set_new("k", 1, OBJ_ENC_INTSET);
    CHECK_EQ_INT(set_add(kv, "1", 1, 512), 1);
    CHECK_EQ_INT(set_add(kv, "01", 2, 512), 1); /* not canonical: a string */
    CHECK_EQ_INT(kv->encoding, OBJ_ENC_HT);
    CHECK_EQ_INT(set_size(kv), 2);
    kv_free(kv);

    CHECK_EQ_INT(set_encoding_for("-12", 3), OBJ_ENC_INTSET);
    CHECK_EQ_INT(set_encoding_for("1.5", 3), OBJ_ENC_HT);
    CHECK_EQ_INT(set_encoding_for("", 0), OBJ_ENC_HT);
}

static void count_seen(const char *m, size_t len, void *arg) {
    int *seen = arg;
    char buf[32];
    memcpy(buf, m, len);
    buf[len] = '\0';
    seen[atoi(buf + 2)]++;
}

TEST(set_scan_returns_every_member) {
    static int seen[3000];
    set_register();
    memset(seen, 0, sizeof(seen));
    struct kv *kv = set_new("k", 1, OBJ_ENC_HT);
    char buf[32];
    for (int i = 0; i < 3000; i++) {
        int n = snprintf(buf, sizeof(buf), "m:%d", i);
        CHECK_EQ_INT(set_add(kv, buf, (size_t)n, 512), 1);
    }
    uint64_t cursor = 0;
    do {
        cursor = set_scan(kv, cursor, count_seen, seen);
    } while (cursor != 0);
    for (int i = 0; i < 3000; i++)
        CHECK(seen[i] >= 1);
    kv_free(kv);
}

TEST(set_allocation_failure_leaves_set_unchanged) {
    set_register();
    size_t mem_before = mem_used();
    struct kv *kv = set_new("k", 1, OBJ_ENC_INTSET);
    char buf[32];
    for (int i = 0; i < 300; i++) {
        /* Integers first (intset), then strings (conversion, then table). */
        int n =
            i < 100 ? snprintf(buf, sizeof(buf), "%d", i) : snprintf(buf, sizeof(buf), "s%d", i);
        for (long countdown = 0;; countdown++) {
            size_t before = set_size(kv);
            mem_set_fault(countdown, 0);
            int rc = set_add(kv, buf, (size_t)n, 512);
            mem_set_fault(-1, 0);
            if (rc == 1)
                break;
            CHECK_EQ_INT(rc, STORAGE_ENOMEM);
            CHECK_EQ_INT(set_size(kv), before);
            CHECK(!set_contains(kv, buf, (size_t)n));
        }
    }
    CHECK_EQ_INT(set_size(kv), 300);
    kv_free(kv);
    CHECK_EQ_INT(mem_used(), mem_before);
}
