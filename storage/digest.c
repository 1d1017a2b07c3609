/* Redis 7.0's dataset digest (see digest.h). Owns the digest arithmetic and
 * the walk over each value type; it formats nothing for clients and knows
 * nothing of databases beyond the number it is given. */
#include "storage/digest.h"

#include "storage/quicklist.h"
#include "storage/set.h"
#include "storage/stream.h"
#include "storage/thash.h"
#include "storage/zset.h"

#include <inttypes.h>
#include <stdio.h>
#include <string.h>

/* ---- Combining ---- */

/* Redis xorDigest: digest ^= SHA1(data). Order-independent. */
static void xor_in(uint8_t digest[DIGEST_LEN], const void *data, size_t len) {
    uint8_t hash[DIGEST_LEN];
    sha1(data, len, hash);
    for (size_t i = 0; i < DIGEST_LEN; i++)
        digest[i] ^= hash[i];
}

/* Redis mixDigest: digest = SHA1(digest ^ SHA1(data)). Order-dependent, and
 * "foo" then "bar" differs from "fo" then "obar". */
static void mix_in(uint8_t digest[DIGEST_LEN], const void *data, size_t len) {
    uint8_t mixed[DIGEST_LEN];
    xor_in(digest, data, len);
    sha1(digest, DIGEST_LEN, mixed);
    memcpy(digest, mixed, DIGEST_LEN);
}

/* A 32-bit number in network byte order, as Redis hashes htonl(x). */
static void mix_in_u32(uint8_t digest[DIGEST_LEN], uint32_t v) {
    uint8_t be[4] = {(uint8_t)(v >> 24), (uint8_t)(v >> 16), (uint8_t)(v >> 8), (uint8_t)v};
    mix_in(digest, be, sizeof(be));
}

/* ---- Values ---- */

static void list_digest(const struct kv *kv, uint8_t digest[DIGEST_LEN]) {
    struct quicklist_iter it;
    char buf[LP_INTBUF];
    size_t len;
    for (quicklist_iter_init(&it, kv->v.ptr, 0, true); !quicklist_iter_done(&it);
         quicklist_iter_next(&it)) {
        const char *p = quicklist_iter_get(&it, buf, &len);
        mix_in(digest, p, len);
    }
}

static void set_digest(const struct kv *kv, uint8_t digest[DIGEST_LEN]) {
    char buf[SET_INT_BUF];
    size_t len, n = set_size(kv);
    for (size_t i = 0; i < n; i++) {
        const char *p = set_at(kv, i, buf, &len);
        xor_in(digest, p, len);
    }
}

/* Redis 7.0 formats each score with "%.17g": 0.1 enters the digest as
 * "0.10000000000000001" (Redis 7.2's shortest form, "0.1", would not match). */
static void zset_digest(const struct kv *kv, uint8_t digest[DIGEST_LEN]) {
    struct zset_iter it;
    struct zset_member m;
    char score[64];
    for (zset_iter_at_rank(&it, (struct kv *)kv, 0, false); zset_iter_valid(&it);
         zset_iter_next(&it)) {
        zset_iter_get(&it, &m);
        uint8_t element[DIGEST_LEN] = {0};
        mix_in(element, m.p, m.len);
        int n = snprintf(score, sizeof(score), "%.17g", m.score);
        mix_in(element, score, (size_t)n);
        xor_in(digest, element, DIGEST_LEN);
    }
}

static void hash_digest(const struct kv *kv, uint8_t digest[DIGEST_LEN]) {
    struct thash_iter it;
    struct thash_str field, value;
    thash_iter_init(&it, (struct kv *)kv);
    while (thash_iter_next(&it, &field, &value)) {
        uint8_t element[DIGEST_LEN] = {0};
        mix_in(element, field.p, field.len);
        mix_in(element, value.p, value.len);
        xor_in(digest, element, DIGEST_LEN);
    }
    thash_iter_close(&it);
}

/* Entries in ID order: the ID as "<ms>.<seq>", then each field and value.
 * Consumer groups are not part of it, as in Redis 7.0. */
static void stream_digest(const struct kv *kv, uint8_t digest[DIGEST_LEN]) {
    struct stream_iter it;
    struct stream_id id;
    size_t nfv, len;
    char buf[64];
    stream_iter_init(&it, kv->v.ptr, NULL, NULL, false);
    while (stream_iter_next(&it, &id, &nfv)) {
        int n = snprintf(buf, sizeof(buf), "%" PRIu64 ".%" PRIu64, id.ms, id.seq);
        mix_in(digest, buf, (size_t)n);
        for (size_t i = 0; i < nfv; i++) {
            const char *p = stream_iter_string(&it, buf, &len);
            mix_in(digest, p, len);
        }
    }
}

void digest_value(const struct kv *kv, uint8_t digest[DIGEST_LEN]) {
    mix_in_u32(digest, kv->type);
    switch (kv->type) {
    case OBJ_STRING: {
        char buf[32];
        size_t len;
        const char *p = kv_string(kv, buf, &len);
        mix_in(digest, p, len);
        break;
    }
    case OBJ_LIST:
        list_digest(kv, digest);
        break;
    case OBJ_SET:
        set_digest(kv, digest);
        break;
    case OBJ_ZSET:
        zset_digest(kv, digest);
        break;
    case OBJ_HASH:
        hash_digest(kv, digest);
        break;
    case OBJ_STREAM:
        stream_digest(kv, digest);
        break;
    default:
        break; /* no other type is ever stored; its type number is in the mix */
    }
    if (kv->has_expire)
        xor_in(digest, "!!expire!!", 10);
}

/* ---- The dataset ---- */

void digest_keyspace(uint8_t dataset[DIGEST_LEN], unsigned dbid, struct keyspace *ks) {
    if (ks == NULL || keyspace_size(ks) == 0)
        return;
    mix_in_u32(dataset, dbid);
    struct keyspace_iter it;
    keyspace_iter_init(&it, ks);
    struct kv *kv;
    while ((kv = keyspace_iter_next(&it)) != NULL) {
        uint8_t key_digest[DIGEST_LEN] = {0};
        mix_in(key_digest, kv_key(kv), kv->keylen);
        digest_value(kv, key_digest);
        xor_in(dataset, key_digest, DIGEST_LEN);
    }
    keyspace_iter_close(&it);
}

void digest_hex(const uint8_t digest[DIGEST_LEN], char hex[DIGEST_HEX_LEN + 1]) {
    static const char digits[] = "0123456789abcdef";
    for (size_t i = 0; i < DIGEST_LEN; i++) {
        hex[2 * i] = digits[digest[i] >> 4];
        hex[2 * i + 1] = digits[digest[i] & 15];
    }
    hex[DIGEST_HEX_LEN] = '\0';
}
