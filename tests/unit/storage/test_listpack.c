/* listpack: random inserts, deletes and replaces checked against a reference
 * model (an array of byte strings), walking both ways, seeking, finding, and
 * clean failure under allocation faults. */
#include "storage/listpack.h"
#include "storage/mem.h"
#include "storage/storage.h"
#include "tests/unit/lib/test.h"

#include <stdint.h>

#define MODEL_MAX 600
#define VAL_MAX   20000

struct model_entry {
    char *bytes;
    size_t len;
};

struct fixture {
    unsigned char *lp;
    struct model_entry items[MODEL_MAX];
    size_t count;
    size_t mem_before;
};

static uint64_t rng_state = 0x9E3779B97F4A7C15ULL;
static uint64_t next_rand(void) {
    rng_state ^= rng_state << 13;
    rng_state ^= rng_state >> 7;
    rng_state ^= rng_state << 17;
    return rng_state;
}

static char valbuf[VAL_MAX + 32];

/* A random value: integers of every width, their non-canonical look-alikes,
 * and strings around each length-encoding boundary. */
static size_t random_value(void) {
    static const long long ints[] = {0,        1,          127,           128,       -1,
                                     -128,     -129,       32767,         -32768,    8388607,
                                     -8388609, 2147483647, -2147483649LL, INT64_MAX, INT64_MIN};
    static const size_t lens[] = {0, 1, 5, 62, 63, 64, 120, 127, 128, 300, 16383, 16384, VAL_MAX};
    switch (next_rand() % 6) {
    case 0:
        return (size_t)snprintf(valbuf, sizeof(valbuf), "%lld",
                                ints[next_rand() % (sizeof(ints) / sizeof(ints[0]))]);
    case 1:
        return (size_t)snprintf(valbuf, sizeof(valbuf), "%lld", (long long)next_rand());
    case 2: /* looks numeric but is not canonical: must stay a string */
        return (size_t)snprintf(valbuf, sizeof(valbuf), "0%d", (int)(next_rand() % 100));
    default: {
        size_t len = lens[next_rand() % (sizeof(lens) / sizeof(lens[0]))];
        if (next_rand() % 2)
            len = next_rand() % 80;
        for (size_t i = 0; i < len; i++)
            valbuf[i] = (char)('a' + next_rand() % 26);
        return len;
    }
    }
}

static void setup(struct fixture *f) {
    f->mem_before = mem_used();
    f->lp = lp_new();
    f->count = 0;
}

static int teardown(struct fixture *f) {
    for (size_t i = 0; i < f->count; i++)
        free(f->items[i].bytes);
    lp_free(f->lp);
    return mem_used() == f->mem_before;
}

static struct model_entry model_value(size_t len) {
    struct model_entry m = {malloc(len + 1), len};
    memcpy(m.bytes, valbuf, len);
    return m;
}

/* Checks length, forward and backward walks and a few seeks. */
static int matches_model(const struct fixture *f) {
    if (lp_len(f->lp) != f->count)
        return 0;
    char buf[LP_INTBUF];
    size_t len;
    size_t i = 0;
    for (unsigned char *p = lp_first(f->lp); p; p = lp_next(f->lp, p), i++) {
        const char *s = lp_get_str(p, buf, &len);
        if (i >= f->count || len != f->items[i].len || memcmp(s, f->items[i].bytes, len) != 0)
            return 0;
    }
    if (i != f->count)
        return 0;
    for (unsigned char *p = lp_last(f->lp); p; p = lp_prev(f->lp, p)) {
        if (i == 0 || !lp_equal(p, f->items[i - 1].bytes, f->items[i - 1].len))
            return 0;
        i--;
    }
    if (i != 0)
        return 0;
    if (f->count > 0) {
        size_t k = next_rand() % f->count;
        unsigned char *p = lp_seek(f->lp, (long)k);
        unsigned char *q = lp_seek(f->lp, (long)k - (long)f->count);
        if (p == NULL || p != q || !lp_equal(p, f->items[k].bytes, f->items[k].len))
            return 0;
    }
    return lp_seek(f->lp, (long)f->count) == NULL && lp_seek(f->lp, -(long)f->count - 1) == NULL;
}

TEST(listpack_random_ops_match_model) {
    static struct fixture f;
    setup(&f);
    for (int op = 0; op < 20000; op++) {
        switch (next_rand() % 6) {
        case 0:
        case 1: { /* insert at a random position */
            if (f.count == MODEL_MAX)
                break;
            size_t at = next_rand() % (f.count + 1);
            size_t len = random_value();
            unsigned char *p = at == f.count ? NULL : lp_seek(f.lp, (long)at);
            unsigned char *newp;
            CHECK_EQ_INT(lp_insert(&f.lp, p, valbuf, len, &newp), 0);
            CHECK(lp_equal(newp, valbuf, len));
            memmove(&f.items[at + 1], &f.items[at], (f.count - at) * sizeof(f.items[0]));
            f.items[at] = model_value(len);
            f.count++;
            break;
        }
        case 2: { /* integer insert at either end */
            if (f.count == MODEL_MAX)
                break;
            long long v = (long long)next_rand() >> (next_rand() % 64);
            size_t len = (size_t)snprintf(valbuf, sizeof(valbuf), "%lld", v);
            if (next_rand() % 2) {
                CHECK_EQ_INT(lp_append_int(&f.lp, v), 0);
                f.items[f.count] = model_value(len);
            } else {
                CHECK_EQ_INT(lp_insert_int(&f.lp, lp_first(f.lp), v, NULL), 0);
                memmove(&f.items[1], &f.items[0], f.count * sizeof(f.items[0]));
                f.items[0] = model_value(len);
            }
            f.count++;
            break;
        }
        case 3: { /* delete a range */
            if (f.count == 0)
                break;
            size_t at = next_rand() % f.count;
            size_t n = next_rand() % 4;
            if (at + n > f.count)
                n = f.count - at;
            if (next_rand() % 2) {
                lp_delete_range(&f.lp, (long)at, n);
            } else {
                unsigned char *next;
                lp_delete(&f.lp, lp_seek(f.lp, (long)at), n, &next);
                if (at + n < f.count)
                    CHECK(next && lp_equal(next, f.items[at + n].bytes, f.items[at + n].len));
                else
                    CHECK(next == NULL);
            }
            for (size_t i = at; i < at + n; i++)
                free(f.items[i].bytes);
            memmove(&f.items[at], &f.items[at + n], (f.count - at - n) * sizeof(f.items[0]));
            f.count -= n;
            break;
        }
        case 4: { /* replace */
            if (f.count == 0)
                break;
            size_t at = next_rand() % f.count;
            size_t len = random_value();
            unsigned char *p = lp_seek(f.lp, (long)at);
            CHECK_EQ_INT(lp_replace(&f.lp, &p, valbuf, len), 0);
            CHECK(lp_equal(p, valbuf, len));
            free(f.items[at].bytes);
            f.items[at] = model_value(len);
            break;
        }
        case 5: { /* find matches the model's first equal entry */
            if (f.count == 0)
                break;
            struct model_entry *want = &f.items[next_rand() % f.count];
            unsigned char *p = lp_find(f.lp, lp_first(f.lp), want->bytes, want->len, 0);
            size_t first = 0;
            while (f.items[first].len != want->len ||
                   memcmp(f.items[first].bytes, want->bytes, want->len) != 0)
                first++;
            CHECK(p == lp_seek(f.lp, (long)first));
            break;
        }
        }
        if (op % 50 == 0)
            CHECK(matches_model(&f));
    }
    CHECK(matches_model(&f));
    CHECK(teardown(&f));
}

TEST(listpack_integers_roundtrip) {
    unsigned char *lp = lp_new();
    CHECK(lp != NULL);
    long long vals[200];
    size_t n = 0;
    for (int shift = 0; shift < 64; shift++) {
        uint64_t u = 1ULL << shift;
        vals[n++] = (long long)u;
        vals[n++] = (long long)(u - 1);
        vals[n++] = (long long)(0 - u);
    }
    for (size_t i = 0; i < n; i++)
        CHECK_EQ_INT(lp_append_int(&lp, vals[i]), 0);
    size_t i = 0;
    for (unsigned char *p = lp_first(lp); p; p = lp_next(lp, p), i++) {
        struct lp_value v;
        lp_get(p, &v);
        CHECK(v.str == NULL);
        CHECK(v.ll == vals[i]);
    }
    CHECK_EQ_INT(i, n);
    /* Small numbers take 1 byte plus the 1-byte back length. */
    unsigned char *small = lp_new();
    CHECK_EQ_INT(lp_append(&small, "12", 2), 0);
    CHECK_EQ_INT(lp_bytes(small), 9 + 2);
    lp_free(small);
    lp_free(lp);
}

TEST(listpack_find_with_skip) {
    unsigned char *lp = lp_new();
    const char *pairs[] = {"a", "b", "b", "a", "1", "2", "2", "1"};
    for (int i = 0; i < 8; i++)
        CHECK_EQ_INT(lp_append(&lp, pairs[i], 1), 0);
    CHECK(lp_find(lp, lp_first(lp), "a", 1, 1) == lp_seek(lp, 0));
    CHECK(lp_find(lp, lp_first(lp), "b", 1, 1) == lp_seek(lp, 2));
    CHECK(lp_find(lp, lp_first(lp), "2", 1, 1) == lp_seek(lp, 6));
    CHECK(lp_find(lp, lp_first(lp), "c", 1, 1) == NULL);
    lp_free(lp);
}

TEST(listpack_allocation_failure_leaves_it_unchanged) {
    size_t before = mem_used();
    unsigned char *lp = lp_new();
    for (int i = 0; i < 50; i++)
        CHECK_EQ_INT(lp_append(&lp, "element", 7), 0);
    size_t bytes = lp_bytes(lp);
    mem_set_fault(0, 1);
    CHECK_EQ_INT(lp_append(&lp, "x", 1), STORAGE_ENOMEM);
    unsigned char *p = lp_seek(lp, 3);
    CHECK_EQ_INT(lp_replace(&lp, &p, "a longer element", 16), STORAGE_ENOMEM);
    lp_delete_range(&lp, 0, 10); /* shrinking works without memory */
    mem_set_fault(-1, 0);
    CHECK_EQ_INT(lp_len(lp), 40);
    CHECK(lp_bytes(lp) < bytes);
    CHECK(lp_equal(lp_first(lp), "element", 7));
    lp_free(lp);
    CHECK(mem_used() == before);
}
