/* quicklist: random operations at both ends and in the middle, checked
 * against a reference model (an array of strings) for several fills,
 * including elements big enough to force one-element nodes; node size
 * bounds; deep copies; and clean failure under allocation faults. */
#include "storage/mem.h"
#include "storage/quicklist.h"
#include "storage/storage.h"
#include "tests/unit/lib/test.h"

#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>

#define MODEL_MAX 4000
#define VAL_MAX   5000

static uint64_t rng_state = 0xDEADBEEFCAFEF00DULL;
static uint64_t next_rand(void) {
    rng_state ^= rng_state << 13;
    rng_state ^= rng_state >> 7;
    rng_state ^= rng_state << 17;
    return rng_state;
}

struct value {
    size_t len;
    char bytes[VAL_MAX];
};

struct model {
    char *items[MODEL_MAX];
    size_t lens[MODEL_MAX];
    size_t count;
};

/* Mostly small strings and integers; now and then a big one. */
static void random_value(struct value *v) {
    uint64_t r = next_rand();
    switch (r % 16) {
    case 0:
        v->len = 1000 + next_rand() % 4000;
        memset(v->bytes, 'a' + (int)(r % 26), v->len);
        break;
    case 1:
    case 2:
    case 3:
        v->len = (size_t)snprintf(v->bytes, VAL_MAX, "%lld",
                                  (long long)(next_rand() >> 1) - (1LL << 62));
        break;
    case 4:
    case 5:
        v->len = (size_t)snprintf(v->bytes, VAL_MAX, "%d", (int)(next_rand() % 300) - 100);
        break;
    default:
        v->len = (size_t)snprintf(v->bytes, VAL_MAX, "v%llu", (unsigned long long)(r % 100000));
    }
}

static void model_insert(struct model *m, size_t at, const struct value *v) {
    memmove(&m->items[at + 1], &m->items[at], (m->count - at) * sizeof(char *));
    memmove(&m->lens[at + 1], &m->lens[at], (m->count - at) * sizeof(size_t));
    m->items[at] = malloc(v->len ? v->len : 1);
    memcpy(m->items[at], v->bytes, v->len);
    m->lens[at] = v->len;
    m->count++;
}

static void model_delete(struct model *m, size_t at, size_t n) {
    for (size_t i = at; i < at + n; i++)
        free(m->items[i]);
    memmove(&m->items[at], &m->items[at + n], (m->count - at - n) * sizeof(char *));
    memmove(&m->lens[at], &m->lens[at + n], (m->count - at - n) * sizeof(size_t));
    m->count -= n;
}

static void model_clear(struct model *m) {
    model_delete(m, 0, m->count);
}

static bool iter_matches(struct quicklist_iter *it, const struct model *m, size_t i) {
    char buf[LP_INTBUF];
    size_t len;
    const char *s = quicklist_iter_get(it, buf, &len);
    return len == m->lens[i] && memcmp(s, m->items[i], len) == 0;
}

/* Compares the whole list both ways with the model. */
static bool same_as_model(struct quicklist *ql, const struct model *m) {
    if (quicklist_count(ql) != m->count || quicklist_node_count(ql) > m->count)
        return false;
    struct quicklist_iter it;
    quicklist_iter_init(&it, ql, 0, true);
    for (size_t i = 0; i < m->count; i++, quicklist_iter_next(&it))
        if (quicklist_iter_done(&it) || !iter_matches(&it, m, i))
            return false;
    if (!quicklist_iter_done(&it))
        return false;
    quicklist_iter_init(&it, ql, -1, false);
    for (size_t i = m->count; i-- > 0; quicklist_iter_next(&it))
        if (quicklist_iter_done(&it) || !iter_matches(&it, m, i))
            return false;
    return quicklist_iter_done(&it);
}

static void run_model(int fill, int ops, int *failed) {
    static struct model m;
    static struct value v;
    struct quicklist *ql = quicklist_new(fill);
    for (int op = 0; op < ops && !*failed; op++) {
        /* Alternate phases that grow the list (pushes and inserts) with
         * phases of mixed operations, so it gets long enough to span many
         * nodes. */
        bool growing = (op / 1500) % 2 == 0;
        uint64_t r = next_rand() % 100;
        if (growing && r >= 30 && r < 80)
            r = r < 55 ? r - 30 : 50 + (r - 55) % 10;
        else if (!growing && r >= 30 && r < 50 && (r & 1))
            r = 50 + r % 10; /* fewer pops, more inserts: roughly steady size */
        size_t n = m.count;
        if (r < 30 && n < MODEL_MAX) { /* push */
            random_value(&v);
            bool head = next_rand() & 1;
            if (quicklist_push(ql, head, v.bytes, v.len) != 0)
                *failed = 1;
            model_insert(&m, head ? 0 : n, &v);
        } else if (r < 50 && n > 0) { /* pop, checking the peeked value */
            bool head = next_rand() & 1;
            char buf[LP_INTBUF];
            size_t len;
            const char *s = quicklist_peek(ql, head, buf, &len);
            size_t at = head ? 0 : n - 1;
            if (len != m.lens[at] || memcmp(s, m.items[at], len) != 0)
                *failed = 1;
            quicklist_pop(ql, head);
            model_delete(&m, at, 1);
        } else if (r < 60 && n < MODEL_MAX && n > 0) { /* insert around an index */
            random_value(&v);
            size_t at = next_rand() % n;
            bool after = next_rand() & 1;
            struct quicklist_iter it;
            quicklist_iter_init(&it, ql, (long)at, true);
            if (quicklist_iter_insert(&it, after, v.bytes, v.len) != 0)
                *failed = 1;
            model_insert(&m, at + (after ? 1 : 0), &v);
        } else if (r < 65 && n > 0) { /* replace */
            random_value(&v);
            size_t at = next_rand() % n;
            struct quicklist_iter it;
            quicklist_iter_init(&it, ql, (long)at - (long)n, true); /* negative index */
            if (quicklist_iter_replace(&it, v.bytes, v.len) != 0)
                *failed = 1;
            model_delete(&m, at, 1);
            model_insert(&m, at, &v);
        } else if (r < 75 && n > 0) { /* delete every k-th element from an index, either way */
            size_t at = next_rand() % n;
            size_t every = 1 + next_rand() % 4;
            bool forward = next_rand() & 1;
            struct quicklist_iter it;
            quicklist_iter_init(&it, ql, (long)at, forward);
            /* Walk the model alongside: 'i' is the model index of the current element. */
            long i = (long)at;
            for (size_t step = 0; !quicklist_iter_done(&it) && step < 12; step++) {
                if (!iter_matches(&it, &m, (size_t)i)) {
                    *failed = 1;
                    break;
                }
                if (step % every == 0) {
                    quicklist_iter_delete(&it);
                    model_delete(&m, (size_t)i, 1);
                    if (!forward)
                        i--;
                } else {
                    quicklist_iter_next(&it);
                    i += forward ? 1 : -1;
                }
            }
        } else if (r < 80 && n > 0) { /* delete a range */
            size_t at = next_rand() % n;
            size_t most = next_rand() % 20 == 0 ? n - at : (n - at < 40 ? n - at : 40);
            size_t cnt = next_rand() % (most + 1);
            quicklist_delete_range(ql, at, cnt);
            model_delete(&m, at, cnt);
        } else if (n > 0) { /* read by index */
            size_t at = next_rand() % n;
            struct quicklist_iter it;
            quicklist_iter_init(&it, ql, (long)at, next_rand() & 1);
            if (quicklist_iter_done(&it) || !iter_matches(&it, &m, at) ||
                !quicklist_iter_equal(&it, m.items[at], m.lens[at]))
                *failed = 1;
        }
        if (op % 211 == 0 && !same_as_model(ql, &m))
            *failed = 1;
    }
    if (!same_as_model(ql, &m))
        *failed = 1;
    struct quicklist *copy = quicklist_dup(ql);
    if (copy == NULL || !same_as_model(copy, &m))
        *failed = 1;
    quicklist_free(copy);
    quicklist_free(ql);
    model_clear(&m);
}

TEST(quicklist_random_ops_match_model) {
    static const int fills[] = {-2, -1, -5, -9, 1, 2, 7, 128, 0};
    size_t mem_before = mem_used();
    for (size_t i = 0; i < sizeof(fills) / sizeof(fills[0]); i++) {
        int failed = 0;
        run_model(fills[i], 9000, &failed);
        if (failed)
            fprintf(stderr, "  fill %d\n", fills[i]);
        CHECK(!failed);
    }
    CHECK_EQ_INT(mem_used(), mem_before);
}

TEST(quicklist_nodes_respect_fill) {
    struct quicklist *ql = quicklist_new(-2);
    for (int i = 0; i < 20000; i++)
        CHECK_EQ_INT(quicklist_push(ql, i & 1, "0123456789abcdef", 16), 0);
    /* 8 KB nodes of ~18-byte entries: a few hundred entries each. */
    CHECK(quicklist_node_count(ql) >= 20000 / 460);
    CHECK(quicklist_node_count(ql) <= 20000 / 400 + 2);
    CHECK(quicklist_mem_bytes(ql) < 20000 * 24);
    quicklist_free(ql);

    ql = quicklist_new(3);
    for (int i = 0; i < 10; i++)
        CHECK_EQ_INT(quicklist_push(ql, false, "x", 1), 0);
    CHECK_EQ_INT(quicklist_node_count(ql), 4);
    struct quicklist_iter it;
    quicklist_iter_init(&it, ql, 4, true); /* middle of a full node: split */
    CHECK_EQ_INT(quicklist_iter_insert(&it, false, "y", 1), 0);
    CHECK_EQ_INT(quicklist_count(ql), 11);
    quicklist_iter_init(&it, ql, 4, true);
    CHECK(quicklist_iter_equal(&it, "y", 1));
    quicklist_free(ql);
}

TEST(quicklist_allocation_failure_leaves_list_unchanged) {
    size_t mem_before = mem_used();
    struct quicklist *ql = quicklist_new(2);
    int failures = 0;
    for (int i = 0; i < 50; i++) {
        for (long countdown = 0;; countdown++) {
            mem_set_fault(countdown, 0);
            int rc = quicklist_push(ql, i % 3 == 0, "abc", 3);
            mem_set_fault(-1, 0);
            if (rc == 0)
                break;
            failures++;
            CHECK_EQ_INT(rc, STORAGE_ENOMEM);
            CHECK_EQ_INT(quicklist_count(ql), (size_t)i);
        }
    }
    for (int i = 0; i < 30; i++) {
        for (long countdown = 0;; countdown++) {
            struct quicklist_iter it;
            quicklist_iter_init(&it, ql, 1 + i, true);
            size_t before = quicklist_count(ql);
            mem_set_fault(countdown, 0);
            int rc = quicklist_iter_insert(&it, i & 1, "zz", 2);
            mem_set_fault(-1, 0);
            if (rc == 0)
                break;
            failures++;
            CHECK_EQ_INT(quicklist_count(ql), before);
        }
    }
    CHECK(failures > 0);
    CHECK_EQ_INT(quicklist_count(ql), 80);
    size_t zz = 0;
    struct quicklist_iter it;
    for (quicklist_iter_init(&it, ql, 0, true); !quicklist_iter_done(&it); quicklist_iter_next(&it))
        zz += quicklist_iter_equal(&it, "zz", 2);
    CHECK_EQ_INT(zz, 30);
    quicklist_free(ql);
    CHECK_EQ_INT(mem_used(), mem_before);
}
