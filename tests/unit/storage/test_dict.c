/* dict: random operations against a reference model (a plain array), scan
 * completeness across resizes, and clean failure under allocation faults. */
#include "storage/dict.h"
#include "storage/mem.h"
#include "tests/unit/lib/test.h"

#include <stdint.h>

#define MODEL_KEYS 2000

struct item {
    char key[16];
    size_t len;
    int seen;
};

static const char *item_key(const void *elem, size_t *len) {
    const struct item *it = elem;
    *len = it->len;
    return it->key;
}

static const struct dict_type item_type = {.key_of = item_key};

struct fixture {
    struct dict d;
    struct item items[MODEL_KEYS];
    int present[MODEL_KEYS];
    size_t mem_before;
};

static void setup(struct fixture *f) {
    f->mem_before = mem_used();
    dict_init(&f->d, &item_type);
    for (int i = 0; i < MODEL_KEYS; i++) {
        f->items[i].len = (size_t)snprintf(f->items[i].key, sizeof(f->items[i].key), "k%d", i);
        f->present[i] = 0;
    }
}

static int teardown(struct fixture *f) {
    dict_close(&f->d, NULL);
    return mem_used() == f->mem_before;
}

static uint64_t rng_state = 88172645463325252ULL;
static uint64_t next_rand(void) {
    rng_state ^= rng_state << 13;
    rng_state ^= rng_state >> 7;
    rng_state ^= rng_state << 17;
    return rng_state;
}

TEST(random_ops_match_model) {
    static struct fixture f;
    setup(&f);
    for (int op = 0; op < 200000; op++) {
        int i = (int)(next_rand() % MODEL_KEYS);
        struct item *it = &f.items[i];
        switch (next_rand() % 3) {
        case 0:
            if (!f.present[i]) {
                CHECK_EQ_INT(dict_add(&f.d, it), 0);
                f.present[i] = 1;
            }
            break;
        case 1:
            CHECK((dict_remove(&f.d, it->key, it->len) != NULL) == f.present[i]);
            f.present[i] = 0;
            break;
        default:
            CHECK((dict_find(&f.d, it->key, it->len) == it) == f.present[i]);
        }
    }
    size_t expected = 0;
    for (int i = 0; i < MODEL_KEYS; i++)
        expected += (size_t)f.present[i];
    CHECK_EQ_INT(dict_size(&f.d), expected);
    CHECK(teardown(&f));
}

static void mark_seen(void *elem, void *arg) {
    (void)arg;
    ((struct item *)elem)->seen++;
}

TEST(scan_returns_every_stable_element_across_resizes) {
    static struct fixture f;
    setup(&f);
    for (int i = 0; i < 1000; i++)
        CHECK_EQ_INT(dict_add(&f.d, &f.items[i]), 0);
    uint64_t cursor = 0;
    int steps = 0;
    do {
        cursor = dict_scan(&f.d, cursor, mark_seen, NULL);
        /* Grow the table mid-scan, then shrink it: stable keys must still be seen. */
        if (steps == 10)
            for (int i = 1000; i < MODEL_KEYS; i++)
                CHECK_EQ_INT(dict_add(&f.d, &f.items[i]), 0);
        if (steps == 200)
            for (int i = 1000; i < MODEL_KEYS; i++)
                dict_remove(&f.d, f.items[i].key, f.items[i].len);
        steps++;
    } while (cursor != 0);
    for (int i = 0; i < 1000; i++)
        CHECK(f.items[i].seen >= 1);
    CHECK(teardown(&f));
}

TEST(allocation_failure_leaves_table_usable) {
    static struct fixture f;
    setup(&f);
    int failures = 0;
    for (int i = 0; i < 100; i++) {
        mem_set_fault(0, 0); /* the next allocation fails */
        int rc = dict_add(&f.d, &f.items[i]);
        mem_set_fault(-1, 0);
        if (rc != 0) {
            failures++;
            CHECK(dict_find(&f.d, f.items[i].key, f.items[i].len) == NULL);
            CHECK_EQ_INT(dict_add(&f.d, &f.items[i]), 0);
        }
        CHECK(dict_find(&f.d, f.items[i].key, f.items[i].len) == &f.items[i]);
    }
    CHECK(failures > 0); /* growth happened, and failed once each time */
    CHECK_EQ_INT(dict_size(&f.d), 100);
    CHECK(teardown(&f));
}

TEST(nocase_type) {
    static const struct dict_type nocase = {.key_of = item_key, .nocase = true};
    struct dict d;
    dict_init(&d, &nocase);
    struct item a = {.key = "HelloWorld12345", .len = 15};
    CHECK_EQ_INT(dict_add(&d, &a), 0);
    CHECK(dict_find(&d, "helloworld12345", 15) == &a);
    CHECK(dict_find(&d, "HELLOWORLD12345", 15) == &a);
    CHECK(dict_find(&d, "HELLOWORLD1234[", 15) == NULL);
    dict_close(&d, NULL);
}

TEST(probable_element_is_the_one_a_lookup_finds) {
    static struct fixture f;
    setup(&f);
    CHECK(dict_probable(&f.d, dict_hash(&f.d, "k1", 2)) == NULL); /* empty table */
    for (int i = 0; i < MODEL_KEYS; i++)
        CHECK_EQ_INT(dict_add(&f.d, &f.items[i]), 0);
    int hits = 0;
    for (int i = 0; i < MODEL_KEYS; i++) {
        uint64_t hash = dict_hash(&f.d, f.items[i].key, f.items[i].len);
        dict_prefetch_home(&f.d, hash);
        hits += dict_probable(&f.d, hash) == &f.items[i];
    }
    /* Only a long probe run or a clash of the stored hash bits misleads it. */
    CHECK(hits >= MODEL_KEYS * 95 / 100);
    int misses = 0;
    for (int i = 0; i < MODEL_KEYS; i++) {
        char key[16];
        size_t len = (size_t)snprintf(key, sizeof(key), "absent%d", i);
        misses += dict_probable(&f.d, dict_hash(&f.d, key, len)) == NULL;
    }
    CHECK(misses >= MODEL_KEYS * 95 / 100);
    CHECK_EQ_INT(dict_size(&f.d), MODEL_KEYS);
    CHECK(teardown(&f));
}
