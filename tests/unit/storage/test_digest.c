/* digest: values Redis 7.0's DEBUG DIGEST / DIGEST-VALUE print for the same
 * data, and independence from insertion order and set encoding. */
#include "storage/digest.h"
#include "storage/set.h"
#include "tests/unit/lib/test.h"

static bool hex_is(const uint8_t digest[DIGEST_LEN], const char *want) {
    char hex[DIGEST_HEX_LEN + 1];
    digest_hex(digest, hex);
    return strcmp(hex, want) == 0;
}

/* Digests printed by redis-server 7.0.15 for SET s hello, then SET n 42. */
TEST(digest_strings_match_redis) {
    struct keyspace *ks = keyspace_new();
    uint8_t dataset[DIGEST_LEN] = {0};
    digest_keyspace(dataset, 0, ks);
    CHECK(hex_is(dataset, "0000000000000000000000000000000000000000"));
    struct kv *s = kv_new_string("s", 1, "hello", 5, -1);
    CHECK_EQ_INT(keyspace_add(ks, s), 0);
    uint8_t value[DIGEST_LEN] = {0};
    digest_value(s, value);
    CHECK(hex_is(value, "36b23a1456b2dce2c3ed252c456761301dba8060"));
    digest_keyspace(dataset, 0, ks);
    CHECK(hex_is(dataset, "a500c6b54937da22f2ac1167da1da852479c7339"));
    CHECK_EQ_INT(keyspace_add(ks, kv_new_string("n", 1, "42", 2, -1)), 0);
    memset(dataset, 0, sizeof(dataset));
    digest_keyspace(dataset, 0, ks);
    CHECK(hex_is(dataset, "26dcc697626108033b20792dbe380f8fc7ff4ed7"));
    keyspace_free(ks);
}

/* SADD a 1 2 x in Redis 7.0: DIGEST-VALUE a. The same members added in
 * another order, or kept in an intset, give the same digest. */
TEST(digest_set_order_and_encoding) {
    set_register();
    struct kv *a = set_new("a", 1, OBJ_ENC_INTSET);
    struct kv *b = set_new("b", 1, OBJ_ENC_HT);
    const char *members[] = {"1", "2", "x"};
    for (int i = 0; i < 3; i++) {
        CHECK_EQ_INT(set_add(a, members[i], strlen(members[i]), 512), 1);
        CHECK_EQ_INT(set_add(b, members[2 - i], strlen(members[2 - i]), 512), 1);
    }
    uint8_t da[DIGEST_LEN] = {0}, db[DIGEST_LEN] = {0};
    digest_value(a, da);
    digest_value(b, db);
    CHECK(hex_is(da, "4c6eef6b7853d1b76391c849d71b0d35d3faf18f"));
    CHECK(memcmp(da, db, DIGEST_LEN) == 0);
    struct kv *ints = set_new("i", 1, OBJ_ENC_INTSET);
    struct kv *table = set_new("t", 1, OBJ_ENC_HT);
    for (int i = 0; i < 2; i++) {
        CHECK_EQ_INT(set_add(ints, members[i], 1, 512), 1);
        CHECK_EQ_INT(set_add(table, members[1 - i], 1, 512), 1);
    }
    CHECK_EQ_INT(ints->encoding, OBJ_ENC_INTSET);
    uint8_t di[DIGEST_LEN] = {0}, dt[DIGEST_LEN] = {0};
    digest_value(ints, di);
    digest_value(table, dt);
    CHECK(memcmp(di, dt, DIGEST_LEN) == 0);
    kv_free(a);
    kv_free(b);
    kv_free(ints);
    kv_free(table);
}
