/* pqsort: for random arrays (with many duplicate keys) and random ranges,
 * the wanted positions hold what a full sort puts there, the array stays a
 * permutation, and a full range sorts everything. */
#include "storage/pqsort.h"
#include "tests/unit/lib/test.h"

#include <stdint.h>
#include <stdlib.h>

static uint64_t rng_state = 0x853C49E6748FEA9BULL;
static uint64_t next_rand(void) {
    rng_state ^= rng_state << 13;
    rng_state ^= rng_state >> 7;
    rng_state ^= rng_state << 17;
    return rng_state;
}

struct item {
    int key;
    int id; /* tells duplicates apart */
};

static int by_key(const void *a, const void *b, void *desc) {
    const struct item *x = a, *y = b;
    int cmp = x->key < y->key ? -1 : x->key > y->key;
    return *(int *)desc ? -cmp : cmp;
}

static int by_key_plain(const void *a, const void *b) {
    int asc = 0;
    return by_key(a, b, &asc);
}

TEST(pqsort_range_matches_full_sort) {
    enum { MAX = 300 };
    static struct item arr[MAX], sorted[MAX];
    for (int round = 0; round < 3000; round++) {
        size_t n = 1 + next_rand() % MAX;
        int spread = 1 + (int)(next_rand() % 50);
        for (size_t i = 0; i < n; i++) {
            arr[i].key = (int)(next_rand() % (uint64_t)spread);
            arr[i].id = (int)i;
            sorted[i] = arr[i];
        }
        qsort(sorted, n, sizeof(*sorted), by_key_plain);
        size_t lo = next_rand() % n;
        size_t end = lo + next_rand() % (n - lo + 1);
        int desc = 0;
        pqsort(arr, n, sizeof(*arr), by_key, &desc, lo, end);
        for (size_t i = lo; i < end; i++)
            CHECK_EQ_INT(arr[i].key, sorted[i].key);
        /* Still a permutation of the ids. */
        static int seen[MAX];
        memset(seen, 0, sizeof(seen));
        for (size_t i = 0; i < n; i++)
            seen[arr[i].id]++;
        for (size_t i = 0; i < n; i++)
            CHECK_EQ_INT(seen[i], 1);
    }
}

TEST(pqsort_full_range_and_descending) {
    struct item arr[100];
    for (int i = 0; i < 100; i++) {
        arr[i].key = (int)(next_rand() % 1000);
        arr[i].id = i;
    }
    int desc = 1;
    pqsort(arr, 100, sizeof(*arr), by_key, &desc, 0, 100);
    for (int i = 1; i < 100; i++)
        CHECK(arr[i - 1].key >= arr[i].key);
    /* Nothing wanted: still a valid call. */
    pqsort(arr, 100, sizeof(*arr), by_key, &desc, 50, 50);
    pqsort(arr, 1, sizeof(*arr), by_key, &desc, 0, 1);
}
