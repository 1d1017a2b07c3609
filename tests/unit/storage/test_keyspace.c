/* keyslot and keyspace: the cluster spec's slot values, per-slot counts,
 * scan, random picks and the expiry index. */
#include "storage/keyslot.h"
#include "storage/keyspace.h"
#include "storage/mem.h"
#include "tests/unit/lib/test.h"

TEST(keyslot_matches_cluster_spec) {
    /* Values from redis-cli CLUSTER KEYSLOT against Redis 7.0. */
    CHECK_EQ_INT(keyslot_of("foo", 3), 12182);
    CHECK_EQ_INT(keyslot_of("a", 1), 15495);
    CHECK_EQ_INT(keyslot_of("{user1000}.following", 20), keyslot_of("user1000", 8));
    CHECK_EQ_INT(keyslot_of("foo{}{bar}", 10), keyslot_of("foo{}{bar}", 10));
    CHECK_EQ_INT(keyslot_of("foo{}{bar}", 10), 8363);
    CHECK_EQ_INT(keyslot_of("foo{{bar}}zap", 13), keyslot_of("{bar", 4));
    CHECK_EQ_INT(keyslot_crc16("123456789", 9), 0x31C3);
}

/* The CRC bit by bit, straight from its definition. */
static uint16_t crc16_bitwise(const char *buf, size_t len) {
    uint16_t crc = 0;
    for (size_t i = 0; i < len; i++) {
        crc ^= (uint16_t)((uint8_t)buf[i] << 8);
        for (int bit = 0; bit < 8; bit++)
            crc = (uint16_t)((crc & 0x8000) ? (crc << 1) ^ 0x1021 : crc << 1);
    }
    return crc;
}

TEST(crc16_matches_the_bitwise_definition_at_every_length) {
    char buf[70];
    uint32_t x = 2463534242u;
    for (size_t i = 0; i < sizeof(buf); i++) {
        x ^= x << 13;
        x ^= x >> 17;
        x ^= x << 5;
        buf[i] = (char)x;
    }
    for (size_t len = 0; len <= sizeof(buf); len++)
        for (size_t off = 0; off < 4 && off <= len; off++)
            CHECK_EQ_INT(keyslot_crc16(buf + off, len - off), crc16_bitwise(buf + off, len - off));
}

struct counter {
    size_t n;
};

static void count_kv(struct kv *kv, void *arg) {
    (void)kv;
    ((struct counter *)arg)->n++;
}

TEST(keyspace_add_find_remove_scan) {
    size_t before = mem_used();
    struct keyspace *ks = keyspace_new();
    CHECK(ks != NULL);
    char key[32];
    for (int i = 0; i < 5000; i++) {
        size_t len = (size_t)snprintf(key, sizeof(key), "key:%d", i);
        struct kv *kv = kv_new_string(key, len, "v", 1, i % 2 ? 1000 + i : -1);
        CHECK_EQ_INT(keyspace_add(ks, kv), 0);
    }
    CHECK_EQ_INT(keyspace_size(ks), 5000);
    CHECK_EQ_INT(keyspace_expires_size(ks), 2500);
    CHECK_EQ_INT(keyspace_slot_size(ks, keyslot_of("key:7", 5)) >= 1, 1);

    struct counter c = {0};
    uint64_t cursor = 0;
    do {
        cursor = keyspace_scan(ks, cursor, count_kv, &c);
    } while (cursor != 0);
    CHECK_EQ_INT(c.n, 5000);

    for (uint64_t r = 0; r < 100; r++)
        CHECK(keyspace_random(ks, r * 7919) != NULL);
    struct kv *e = keyspace_random_expiring(ks, 12345);
    CHECK(e != NULL && e->has_expire);

    struct kv *kv = keyspace_find(ks, "key:1", 5);
    CHECK(kv != NULL && kv_expire(kv) == 1001);
    struct kv *persisted = kv_with_expire(kv, -1);
    CHECK_EQ_INT(keyspace_replace(ks, kv, persisted), 0);
    kv_free_shell(kv);
    CHECK_EQ_INT(keyspace_expires_size(ks), 2499);

    kv_free(keyspace_remove(ks, "key:2", 5));
    CHECK(keyspace_find(ks, "key:2", 5) == NULL);
    CHECK_EQ_INT(keyspace_size(ks), 4999);
    keyspace_free(ks);
    CHECK_EQ_INT(mem_used(), before);
}

TEST(keyspace_set_adds_or_replaces) {
    size_t before = mem_used();
    struct keyspace *ks = keyspace_new();
    CHECK(ks != NULL);
    struct kv *old = (struct kv *)1;
    struct kv *a = kv_new_string("k", 1, "a", 1, 500);
    CHECK_EQ_INT(keyspace_set(ks, a, &old), 0);
    CHECK(old == NULL);
    CHECK(keyspace_find(ks, "k", 1) == a);
    CHECK_EQ_INT(keyspace_expires_size(ks), 1);

    struct kv *b = kv_new_string("k", 1, "b", 1, -1);
    CHECK_EQ_INT(keyspace_set(ks, b, &old), 0);
    CHECK(old == a);
    kv_free(old);
    CHECK(keyspace_find(ks, "k", 1) == b);
    CHECK_EQ_INT(keyspace_size(ks), 1);
    CHECK_EQ_INT(keyspace_slot_size(ks, keyslot_of("k", 1)), 1);
    CHECK_EQ_INT(keyspace_expires_size(ks), 0);

    struct kv *c = kv_new_string("k", 1, "c", 1, 700);
    CHECK_EQ_INT(keyspace_set(ks, c, &old), 0);
    CHECK(old == b);
    kv_free(old);
    CHECK(keyspace_random_expiring(ks, 1) == c);
    keyspace_free(ks);
    CHECK_EQ_INT(mem_used(), before);
}

TEST(prefetch_loads_the_records_and_changes_nothing) {
    size_t before = mem_used();
    struct keyspace *ks = keyspace_new();
    CHECK(ks != NULL);
    char big[100];
    memset(big, 'x', sizeof(big));
    CHECK_EQ_INT(keyspace_add(ks, kv_new_string("int", 3, "12345", 5, -1)), 0);
    CHECK_EQ_INT(keyspace_add(ks, kv_new_string("emb", 3, "abc", 3, 900)), 0);
    CHECK_EQ_INT(keyspace_add(ks, kv_new_string("raw", 3, big, sizeof(big), -1)), 0);
    struct keyspace_prefetch keys[] = {
        {.ks = ks, .key = "int", .len = 3},   {.ks = ks, .key = "emb", .len = 3},
        {.ks = ks, .key = "raw", .len = 3},   {.ks = ks, .key = "absent", .len = 6},
        {.ks = NULL, .key = "raw", .len = 3},
    };
    keyspace_prefetch(keys, sizeof(keys) / sizeof(keys[0]));
    for (size_t i = 0; i < 3; i++)
        CHECK(keys[i].kv == keyspace_find(ks, keys[i].key, keys[i].len));
    CHECK(keys[3].kv == NULL && keys[4].kv == NULL);
    CHECK_EQ_INT(keyspace_size(ks), 3);
    CHECK_EQ_INT(keyspace_expires_size(ks), 1);
    keyspace_prefetch(keys, 0);
    keyspace_free(ks);
    CHECK_EQ_INT(mem_used(), before);
}

TEST(string_encodings) {
    char buf[24];
    size_t len;
    struct kv *a = kv_new_string("k", 1, "12345", 5, -1);
    CHECK_EQ_INT(a->encoding, OBJ_ENC_INT);
    const char *s = kv_string(a, buf, &len);
    CHECK_MEM(s, len, "12345");
    struct kv *b = kv_new_string("k", 1, "012", 3, -1);
    CHECK_EQ_INT(b->encoding, OBJ_ENC_EMBSTR);
    char big[100];
    memset(big, 'x', sizeof(big));
    struct kv *c = kv_new_string("k", 1, big, sizeof(big), 5);
    CHECK_EQ_INT(c->encoding, OBJ_ENC_RAW);
    CHECK(kv_string(c, buf, &len) != NULL && len == 100);
    kv_free(a);
    kv_free(b);
    kv_free(c);
}

TEST(overwrite_string_only_when_the_shape_is_unchanged) {
    char buf[24];
    size_t len;
    struct kv *e = kv_new_string("k", 1, "abc", 3, -1);
    CHECK(kv_overwrite_string(e, "xyz", 3, -1));
    const char *s = kv_string(e, buf, &len);
    CHECK_MEM(s, len, "xyz");
    CHECK(!kv_overwrite_string(e, "wxyz", 4, -1)); /* another embedded length */
    CHECK(!kv_overwrite_string(e, "123", 3, -1));  /* would be an integer */
    CHECK(!kv_overwrite_string(e, "xyz", 3, 500)); /* would need an expiry slot */
    s = kv_string(e, buf, &len);
    CHECK_MEM(s, len, "xyz");
    struct kv *i = kv_new_string("k", 1, "10", 2, 100);
    CHECK(kv_overwrite_string(i, "-42", 3, 200));
    CHECK(i->encoding == OBJ_ENC_INT && i->v.ll == -42 && kv_expire(i) == 200);
    CHECK(!kv_overwrite_string(i, "-42", 3, -1)); /* would drop the expiry */
    char big[100];
    memset(big, 'r', sizeof(big));
    struct kv *r = kv_new_string("k", 1, big, sizeof(big), -1);
    CHECK(kv_overwrite_string(r, big, 60, -1));
    CHECK(kv_string(r, buf, &len) != NULL && len == 60);
    CHECK(!kv_overwrite_string(r, big, 45, -1) || r->encoding == OBJ_ENC_RAW);
    CHECK(!kv_overwrite_string(r, big, 20, -1)); /* would be embedded */
    kv_free(e);
    kv_free(i);
    kv_free(r);
}
