/* Snapshots (storage/snapshot.h) and CRC-64 (storage/crc64.h): CRC test
 * vectors (incl. a payload made by redis-server 7.0's DUMP); DUMP/RESTORE
 * round trips of every type in every encoding with random contents;
 * encodings chosen by the restoring side's thresholds; whole datasets over
 * several databases, loaded in one go and in small steps; every truncation
 * and every single-bit flip rejected; hand-made payloads with a valid CRC
 * but bad contents (duplicates, NaN scores, huge counts, unknown types)
 * rejected with a reason; random mutations with a fixed-up CRC never crash;
 * allocation failures at every point fail cleanly; no leaked memory. */
#include "storage/crc64.h"
#include "storage/keyspace.h"
#include "storage/types.h"
#include "storage/mem.h"
#include "storage/quicklist.h"
#include "storage/set.h"
#include "storage/snapshot.h"
#include "storage/stream.h"
#include "storage/thash.h"
#include "storage/zset.h"
#include "tests/unit/lib/test.h"

#include <math.h>
#include <msgpack.h>
#include <stdint.h>
#include <stdio.h>

/* ---- Fixture ---- */

static uint64_t rng_state = 0x9E3779B97F4A7C15ULL;
static uint64_t next_rand(void) {
    rng_state ^= rng_state << 13;
    rng_state ^= rng_state >> 7;
    rng_state ^= rng_state << 17;
    return rng_state;
}

struct fixture {
    size_t mem_before;
};

static void setup(struct fixture *f) {
    storage_register_types();
    mem_set_fault(-1, 0);
    f->mem_before = mem_used();
}

static bool teardown(struct fixture *f) {
    mem_set_fault(-1, 0);
    return mem_used() == f->mem_before;
}

/* ---- Building values ---- */

static size_t random_element(char *buf, size_t cap, int kind) {
    switch (kind) {
    case 0: /* canonical integer */
        return (size_t)snprintf(buf, cap, "%lld", (long long)(next_rand() % 2000000) - 1000000);
    case 1: { /* short binary, zero bytes included */
        size_t n = next_rand() % 12;
        for (size_t i = 0; i < n; i++)
            buf[i] = (char)(next_rand() % 256);
        return n;
    }
    default: { /* up to cap bytes of text */
        size_t n = next_rand() % cap;
        for (size_t i = 0; i < n; i++)
            buf[i] = (char)('a' + next_rand() % 26);
        return n;
    }
    }
}

static struct kv *make_string(const char *key, int kind) {
    char buf[300];
    size_t n = kind == 3 ? 200 : random_element(buf, 40, kind);
    if (kind == 3)
        memset(buf, 'x', n);
    return kv_new_string(key, strlen(key), buf, n, -1);
}

static struct kv *make_list(const char *key, size_t n, int fill) {
    struct quicklist *ql = quicklist_new(fill);
    for (size_t i = 0; i < n; i++) {
        char buf[64];
        size_t len = random_element(buf, sizeof(buf), (int)(next_rand() % 3));
        quicklist_push(ql, next_rand() % 2, buf, len);
    }
    return kv_new_ptr(key, strlen(key), OBJ_LIST, OBJ_ENC_QUICKLIST, ql, -1);
}

static struct kv *make_set(const char *key, size_t n, bool ints) {
    struct kv *kv = NULL;
    for (size_t i = 0; i < n; i++) {
        char buf[64];
        size_t len = random_element(buf, sizeof(buf), ints ? 0 : (int)(next_rand() % 3));
        if (kv == NULL)
            kv = set_new(key, strlen(key), set_encoding_for(buf, len));
        set_add(kv, buf, len, snapshot_default_params.set_max_intset);
    }
    return kv;
}

static struct kv *make_hash(const char *key, size_t n, size_t maxlen) {
    struct kv *kv = thash_new(key, strlen(key));
    struct thash_limits lim = {snapshot_default_params.hash_max_entries,
                               snapshot_default_params.hash_max_value};
    for (size_t i = 0; i < n; i++) {
        char f[128], v[128];
        size_t flen = random_element(f, maxlen, (int)(next_rand() % 3));
        size_t vlen = random_element(v, maxlen, (int)(next_rand() % 3));
        bool is_new;
        thash_set(kv, f, flen, v, vlen, &lim, &is_new);
    }
    return kv;
}

static struct kv *make_zset(const char *key, size_t n) {
    struct zset_limits lim = {snapshot_default_params.zset_max_entries,
                              snapshot_default_params.zset_max_value};
    struct kv *kv = zset_new(key, strlen(key), 0, 0, &lim);
    for (size_t i = 0; i < n; i++) {
        char m[64];
        size_t len = random_element(m, sizeof(m), (int)(next_rand() % 3));
        static const double specials[] = {0.5, -1e300, INFINITY, -INFINITY, 1e-300, 3};
        double score = next_rand() % 4 == 0 ? specials[next_rand() % 6]
                                            : (double)(int64_t)(next_rand() % 1000) / 7.0;
        int flags;
        double ns;
        zset_add(kv, score, m, len, 0, &flags, &ns, &lim);
    }
    return kv;
}

static struct kv *make_stream(const char *key, size_t n, bool with_groups) {
    struct stream *s = stream_new();
    struct stream_id id = {1000, 0};
    for (size_t i = 0; i < n; i++) {
        id.ms += next_rand() % 3;
        id.seq = next_rand() % 2 ? 0 : id.seq + 1;
        if (i > 0 && stream_id_cmp(&id, &s->last_id) <= 0) {
            id = s->last_id;
            stream_id_incr(&id);
        }
        char f1[32], v1[32], f2[32], v2[32];
        char *fv[4] = {f1, v1, f2, v2};
        size_t fvlen[4];
        int nfv = next_rand() % 2 ? 2 : 4;
        for (int j = 0; j < nfv; j++)
            fvlen[j] = random_element(fv[j], sizeof(f1), (int)(next_rand() % 3));
        stream_append(s, &id, nfv, fv, fvlen, snapshot_default_params.stream_node_max_bytes,
                      snapshot_default_params.stream_node_max_entries);
    }
    /* Delete some entries so max_deleted_id and tombstones matter. */
    struct stream_id from = {0, 0}, to = {UINT64_MAX, UINT64_MAX}, got;
    struct stream_iter it;
    size_t nfv;
    struct stream_id victims[8];
    int nvictims = 0;
    stream_iter_init(&it, s, &from, &to, false);
    while (nvictims < 8 && stream_iter_next(&it, &got, &nfv))
        if (next_rand() % 5 == 0)
            victims[nvictims++] = got;
    for (int i = 0; i < nvictims; i++)
        stream_delete(s, &victims[i]);
    if (with_groups) {
        bool oom;
        for (int g = 0; g < 3; g++) {
            char name[16];
            snprintf(name, sizeof(name), "group%d", g);
            struct stream_group *grp =
                stream_group_create(s, name, strlen(name), &s->last_id, (long long)g - 1, &oom);
            for (int c = 0; c < g + 1; c++) {
                char cname[16];
                snprintf(cname, sizeof(cname), "consumer%d", c);
                bool created;
                struct stream_consumer *cons =
                    stream_consumer_get(grp, cname, strlen(cname), 5000 + c, &created);
                stream_iter_init(&it, s, &from, &to, false);
                while (stream_iter_next(&it, &got, &nfv))
                    if (next_rand() % 3 == 0 && idmap_find(grp->pel, &got) == NULL)
                        stream_pel_deliver(grp, cons, &got, 7000 + (int64_t)(next_rand() % 100));
            }
        }
    }
    return kv_new_ptr(key, strlen(key), OBJ_STREAM, OBJ_ENC_STREAM, s, -1);
}

/* One value of every type and encoding; 'i' picks which. */
#define VALUE_KINDS 16
static struct kv *make_value(const char *key, int i) {
    switch (i) {
    case 0:
    case 1:
    case 2:
    case 3:
        return make_string(key, i); /* int, binary, embstr/raw text, raw */
    case 4:
        return make_list(key, 1 + next_rand() % 10, -2);
    case 5:
        return make_list(key, 500 + next_rand() % 500, 16); /* many nodes */
    case 6:
        return make_set(key, 1 + next_rand() % 50, true); /* intset */
    case 7:
        return make_set(key, 1 + next_rand() % 50, false); /* small table */
    case 8:
        return make_set(key, 600 + next_rand() % 100, true); /* big: table of integers */
    case 9:
        return make_hash(key, 1 + next_rand() % 20, 20); /* listpack */
    case 10:
        return make_hash(key, 200 + next_rand() % 50, 20); /* table by count */
    case 11:
        return make_hash(key, 3, 120); /* table by length, most likely */
    case 12:
        return make_zset(key, 1 + next_rand() % 50); /* listpack */
    case 13:
        return make_zset(key, 300 + next_rand() % 50); /* skiplist */
    case 14:
        return make_stream(key, next_rand() % 300, false);
    default:
        return make_stream(key, 1 + next_rand() % 300, true);
    }
}

/* The same kinds, kept to a few elements each (for tests that repeat a
 * load once per byte or per allocation). */
static struct kv *make_small_value(const char *key, int i) {
    switch (i) {
    case 5:
    case 8:
    case 10:
    case 13:
        return make_value(key, i - 1 - (i == 8));
    case 14:
    case 15:
        return make_stream(key, 1 + next_rand() % 4, i == 15);
    default:
        return make_value(key, i);
    }
}

/* ---- Comparing values by contents ---- */

static bool same_bytes(const char *a, size_t alen, const char *b, size_t blen) {
    return alen == blen && (alen == 0 || memcmp(a, b, alen) == 0);
}

/* Same key, expiry, type and contents. Lists, sets (positions), zsets and
 * streams also in the same order; hashes by lookup. Streams are compared
 * through their DUMP, which is a canonical form for them. */
static bool same_value(struct kv *a, struct kv *b) {
    if (!same_bytes(kv_key(a), a->keylen, kv_key(b), b->keylen) || a->type != b->type ||
        kv_expire(a) != kv_expire(b))
        return false;
    switch (a->type) {
    case OBJ_STRING: {
        char ba[32], bb[32];
        size_t la, lb;
        const char *pa = kv_string(a, ba, &la), *pb = kv_string(b, bb, &lb);
        return same_bytes(pa, la, pb, lb);
    }
    case OBJ_LIST: {
        if (quicklist_count(a->v.ptr) != quicklist_count(b->v.ptr))
            return false;
        struct quicklist_iter ia, ib;
        quicklist_iter_init(&ia, a->v.ptr, 0, true);
        quicklist_iter_init(&ib, b->v.ptr, 0, true);
        for (; !quicklist_iter_done(&ia); quicklist_iter_next(&ia), quicklist_iter_next(&ib)) {
            char ba[LP_INTBUF], bb[LP_INTBUF];
            size_t la, lb;
            const char *pa = quicklist_iter_get(&ia, ba, &la);
            const char *pb = quicklist_iter_get(&ib, bb, &lb);
            if (!same_bytes(pa, la, pb, lb))
                return false;
        }
        return true;
    }
    case OBJ_SET: {
        if (set_size(a) != set_size(b))
            return false;
        for (size_t i = 0; i < set_size(a); i++) {
            char ba[SET_INT_BUF];
            size_t la;
            const char *pa = set_at(a, i, ba, &la);
            if (!set_contains(b, pa, la))
                return false;
        }
        return true;
    }
    case OBJ_HASH: {
        if (thash_len(a) != thash_len(b))
            return false;
        struct thash_iter it;
        struct thash_str f, v, w;
        bool ok = true;
        thash_iter_init(&it, a);
        while (ok && thash_iter_next(&it, &f, &v))
            ok = thash_get(b, f.p, f.len, &w) && same_bytes(v.p, v.len, w.p, w.len);
        thash_iter_close(&it);
        return ok;
    }
    case OBJ_ZSET: {
        if (zset_len(a) != zset_len(b))
            return false;
        struct zset_iter ia, ib;
        zset_iter_at_rank(&ia, a, 0, false);
        zset_iter_at_rank(&ib, b, 0, false);
        for (; zset_iter_valid(&ia); zset_iter_next(&ia), zset_iter_next(&ib)) {
            struct zset_member ma, mb;
            zset_iter_get(&ia, &ma);
            zset_iter_get(&ib, &mb);
            if (!same_bytes(ma.p, ma.len, mb.p, mb.len) || ma.score != mb.score)
                return false;
        }
        return true;
    }
    default: {
        unsigned char *da, *db;
        size_t la, lb;
        snapshot_dump(a, &da, &la);
        snapshot_dump(b, &db, &lb);
        bool ok = la == lb && memcmp(da, db, la) == 0;
        const struct stream *sa = a->v.ptr, *sb = b->v.ptr;
        ok = ok && sa->length == sb->length && stream_id_cmp(&sa->first_id, &sb->first_id) == 0;
        mem_free(da);
        mem_free(db);
        return ok;
    }
    }
}

/* ---- Helpers for hand-made and damaged payloads ---- */

struct buf {
    unsigned char *p;
    size_t len, cap;
};

static int buf_write(void *arg, const void *data, size_t len) {
    struct buf *b = arg;
    if (len == 0)
        return 0;
    if (b->len + len > b->cap) {
        b->cap = (b->len + len) * 2 + 64;
        b->p = realloc(b->p, b->cap);
    }
    memcpy(b->p + b->len, data, len);
    b->len += len;
    return 0;
}

static int pk_write(void *data, const char *buf, size_t len) {
    return buf_write(data, buf, len);
}

/* Appends Redis's DUMP trailer (version, CRC-64) to a payload body. */
static void add_trailer(struct buf *b, unsigned version) {
    unsigned char v[2] = {(unsigned char)version, (unsigned char)(version >> 8)};
    buf_write(b, v, 2);
    uint64_t crc = crc64(0, b->p, b->len);
    unsigned char c[8];
    for (int i = 0; i < 8; i++)
        c[i] = (unsigned char)(crc >> (8 * i));
    buf_write(b, c, 8);
}

/* Rewrites the CRC at the end of a dataset file. */
static void fix_file_crc(unsigned char *p, size_t len) {
    uint64_t crc = crc64(0, p, len - 8);
    for (int i = 0; i < 8; i++)
        p[len - 8 + i] = (unsigned char)(crc >> (8 * i));
}

static int restore(const unsigned char *p, size_t len, struct kv **out,
                   struct snapshot_error *err) {
    return snapshot_restore(p, len, "k", 1, -1, &snapshot_default_params, out, err);
}

/* ---- CRC-64 ---- */

TEST(crc64_vectors) {
    CHECK(crc64(0, "123456789", 9) == 0xe9c6d914c4b8d9caULL);
    CHECK(crc64(0, "", 0) == 0);
    /* redis-server 7.0.15: SET k "hello world"; DUMP k. The last 8 bytes are
     * the CRC-64 of the rest. */
    static const unsigned char redis_dump[] = {0x00, 0x0b, 'h',  'e',  'l',  'l',  'o',  ' ',
                                               'w',  'o',  'r',  'l',  'd',  0x0a, 0x00, 0x0b,
                                               0xfc, 0x49, 0xb9, 0xa6, 0xc7, 0xa0, 0x34};
    CHECK(crc64(0, redis_dump, sizeof(redis_dump) - 8) == 0x34a0c7a6b949fc0bULL);
    /* Any split gives the same result as one call, on any alignment. */
    unsigned char data[1000];
    for (size_t i = 0; i < sizeof(data); i++)
        data[i] = (unsigned char)next_rand();
    uint64_t whole = crc64(0, data, sizeof(data));
    for (size_t split = 0; split <= sizeof(data); split += 7)
        CHECK(crc64(crc64(0, data, split), data + split, sizeof(data) - split) == whole);
    /* The bytewise definition, for every length up to 64 at every offset. */
    for (size_t off = 0; off < 8; off++) {
        for (size_t len = 0; len < 64; len++) {
            uint64_t crc = 0;
            for (size_t i = 0; i < len; i++) {
                crc ^= data[off + i];
                for (int k = 0; k < 8; k++)
                    crc = (crc & 1) ? (crc >> 1) ^ 0x95ac9329ac4bc9b5ULL : crc >> 1;
            }
            CHECK(crc64(0, data + off, len) == crc);
        }
    }
}

/* ---- DUMP / RESTORE ---- */

TEST(dump_restore_every_type) {
    struct fixture f;
    setup(&f);
    for (int round = 0; round < 20; round++) {
        for (int kind = 0; kind < VALUE_KINDS; kind++) {
            struct kv *kv = make_value("key", kind);
            CHECK(kv != NULL);
            unsigned char *payload;
            size_t len;
            CHECK_EQ_INT(snapshot_dump(kv, &payload, &len), SNAPSHOT_OK);
            struct kv *back = NULL;
            struct snapshot_error err;
            int rc =
                snapshot_restore(payload, len, "key", 3, -1, &snapshot_default_params, &back, &err);
            if (rc != 0)
                fprintf(stderr, "kind %d: %s\n", kind, err.msg);
            CHECK_EQ_INT(rc, SNAPSHOT_OK);
            CHECK(same_value(kv, back));
            /* Built by the write path with the same thresholds: same encoding. */
            CHECK_EQ_INT(back->encoding, kv->encoding);
            /* A second restore with an expiry, under another key. */
            struct kv *other = NULL;
            CHECK_EQ_INT(snapshot_restore(payload, len, "other", 5, 123456,
                                          &snapshot_default_params, &other, &err),
                         0);
            CHECK_EQ_INT(kv_expire(other), 123456);
            CHECK(same_bytes(kv_key(other), other->keylen, "other", 5));
            kv_free(other);
            kv_free(back);
            kv_free(kv);
            mem_free(payload);
        }
    }
    CHECK(teardown(&f));
}

TEST(restore_uses_local_thresholds) {
    struct fixture f;
    setup(&f);
    struct snapshot_params tiny = snapshot_default_params;
    tiny.hash_max_entries = 2;
    tiny.zset_max_entries = 2;
    tiny.set_max_intset = 2;
    tiny.list_fill = 1;
    struct kv *values[] = {make_hash("h", 5, 4), make_zset("z", 5), make_set("s", 5, true),
                           make_list("l", 5, -2)};
    const unsigned expect[] = {OBJ_ENC_HT, OBJ_ENC_SKIPLIST, OBJ_ENC_HT, OBJ_ENC_QUICKLIST};
    for (size_t i = 0; i < 4; i++) {
        unsigned char *payload;
        size_t len;
        CHECK_EQ_INT(snapshot_dump(values[i], &payload, &len), 0);
        struct kv *back;
        CHECK_EQ_INT(snapshot_restore(payload, len, "x", 1, -1, &tiny, &back, NULL), 0);
        CHECK_EQ_INT(back->encoding, expect[i]);
        if (i == 3)
            CHECK_EQ_INT(quicklist_node_count(back->v.ptr), quicklist_count(back->v.ptr));
        if (i < 3) {
            /* And back to the compact encoding under roomy thresholds. */
            unsigned char *again;
            size_t againlen;
            CHECK_EQ_INT(snapshot_dump(back, &again, &againlen), 0);
            struct kv *compact;
            CHECK_EQ_INT(snapshot_restore(again, againlen, "x", 1, -1, &snapshot_default_params,
                                          &compact, NULL),
                         0);
            CHECK(compact->encoding != expect[i]);
            kv_free(compact);
            mem_free(again);
        }
        kv_free(back);
        kv_free(values[i]);
        mem_free(payload);
    }
    CHECK(teardown(&f));
}

TEST(restore_rejects_every_truncation_and_bit_flip) {
    struct fixture f;
    setup(&f);
    for (int kind = 0; kind < VALUE_KINDS; kind++) {
        struct kv *kv = make_small_value("k", kind);
        unsigned char *payload;
        size_t len;
        CHECK_EQ_INT(snapshot_dump(kv, &payload, &len), 0);
        struct kv *back = NULL;
        struct snapshot_error err;
        for (size_t cut = 0; cut < len; cut++) {
            /* As sent: the CRC catches it. */
            CHECK(restore(payload, cut, &back, &err) < 0);
            /* With a trailer recomputed over the cut body: the decoder does. */
            size_t body = len - 10;
            struct buf b = {0};
            buf_write(&b, payload, cut < body ? cut : body);
            add_trailer(&b, SNAPSHOT_DUMP_VERSION);
            int rc = restore(b.p, b.len, &back, &err);
            if (cut < body) {
                CHECK_EQ_INT(rc, SNAPSHOT_ECORRUPT);
                CHECK(strstr(err.msg, "offset") != NULL);
            } else {
                CHECK_EQ_INT(rc, 0);
                kv_free(back);
            }
            free(b.p);
        }
        if (len < 4000) {
            for (size_t bit = 0; bit < len * 8; bit++) {
                payload[bit / 8] ^= (unsigned char)(1u << (bit % 8));
                CHECK_EQ_INT(restore(payload, len, &back, &err), SNAPSHOT_ECHECKSUM);
                payload[bit / 8] ^= (unsigned char)(1u << (bit % 8));
            }
        }
        CHECK_EQ_INT(restore(payload, len, &back, &err), 0);
        kv_free(back);
        kv_free(kv);
        mem_free(payload);
    }
    CHECK(teardown(&f));
}

TEST(restore_rejects_wrong_version) {
    struct fixture f;
    setup(&f);
    struct kv *kv = make_string("k", 2);
    unsigned char *payload;
    size_t len;
    CHECK_EQ_INT(snapshot_dump(kv, &payload, &len), 0);
    struct buf b = {0};
    buf_write(&b, payload, len - 10);
    add_trailer(&b, 10); /* Redis 7.0's RDB version */
    struct kv *back;
    struct snapshot_error err;
    CHECK_EQ_INT(restore(b.p, b.len, &back, &err), SNAPSHOT_ECHECKSUM);
    CHECK_EQ_INT(restore(payload, 9, &back, &err), SNAPSHOT_ECHECKSUM);
    free(b.p);
    kv_free(kv);
    mem_free(payload);
    CHECK(teardown(&f));
}

/* A payload body packed by hand, the trailer added, restored. */
static int restore_packed(void (*pack)(msgpack_packer *pk), struct snapshot_error *err) {
    struct buf b = {0};
    msgpack_packer pk;
    msgpack_packer_init(&pk, &b, pk_write);
    pack(&pk);
    add_trailer(&b, SNAPSHOT_DUMP_VERSION);
    struct kv *kv = NULL;
    int rc = restore(b.p, b.len, &kv, err);
    if (rc == 0)
        kv_free(kv);
    free(b.p);
    return rc;
}

static void pack_str(msgpack_packer *pk, const char *s) {
    msgpack_pack_bin(pk, strlen(s));
    msgpack_pack_bin_body(pk, s, strlen(s));
}
static void p_dup_set(msgpack_packer *pk) {
    msgpack_pack_int(pk, OBJ_SET);
    msgpack_pack_int(pk, 3);
    pack_str(pk, "a");
    pack_str(pk, "b");
    pack_str(pk, "a");
}
static void p_dup_intset(msgpack_packer *pk) {
    msgpack_pack_int(pk, OBJ_SET);
    msgpack_pack_int(pk, 2);
    pack_str(pk, "1");
    pack_str(pk, "1");
}
static void p_dup_hash(msgpack_packer *pk) {
    msgpack_pack_int(pk, OBJ_HASH);
    msgpack_pack_int(pk, 2);
    pack_str(pk, "f");
    pack_str(pk, "1");
    pack_str(pk, "f");
    pack_str(pk, "2");
}
static void p_dup_zset(msgpack_packer *pk) {
    msgpack_pack_int(pk, OBJ_ZSET);
    msgpack_pack_int(pk, 2);
    pack_str(pk, "m");
    msgpack_pack_double(pk, 1);
    pack_str(pk, "m");
    msgpack_pack_double(pk, 2);
}
static void p_nan_zset(msgpack_packer *pk) {
    msgpack_pack_int(pk, OBJ_ZSET);
    msgpack_pack_int(pk, 1);
    pack_str(pk, "m");
    msgpack_pack_double(pk, NAN);
}
static void p_empty_list(msgpack_packer *pk) {
    msgpack_pack_int(pk, OBJ_LIST);
    msgpack_pack_int(pk, 0);
}
static void p_huge_list(msgpack_packer *pk) {
    msgpack_pack_int(pk, OBJ_LIST);
    msgpack_pack_uint64(pk, UINT64_MAX);
    pack_str(pk, "x");
}
static void p_huge_string(msgpack_packer *pk) {
    msgpack_pack_int(pk, OBJ_STRING);
    static const unsigned char bin32[] = {0xc6, 0xff, 0xff, 0xff, 0xf0, 'a'};
    pk->callback(pk->data, (const char *)bin32, sizeof(bin32));
}
static void p_unknown_type(msgpack_packer *pk) {
    msgpack_pack_int(pk, 5);
    pack_str(pk, "x");
}
static void p_trailing(msgpack_packer *pk) {
    msgpack_pack_int(pk, OBJ_STRING);
    pack_str(pk, "x");
    pack_str(pk, "y");
}
static void p_stream_header(msgpack_packer *pk, uint64_t length, uint64_t last_ms) {
    msgpack_pack_int(pk, OBJ_STREAM);
    msgpack_pack_uint64(pk, length);
    msgpack_pack_uint64(pk, last_ms); /* last id */
    msgpack_pack_uint64(pk, 0);
    msgpack_pack_uint64(pk, 0); /* max deleted id */
    msgpack_pack_uint64(pk, 0);
    msgpack_pack_uint64(pk, length); /* entries added */
}
static void p_stream_entry(msgpack_packer *pk, uint64_t ms) {
    msgpack_pack_uint64(pk, ms);
    msgpack_pack_uint64(pk, 0);
    msgpack_pack_int(pk, 1);
    pack_str(pk, "f");
    pack_str(pk, "v");
}
static void p_stream_unordered(msgpack_packer *pk) {
    p_stream_header(pk, 2, 9);
    p_stream_entry(pk, 5);
    p_stream_entry(pk, 5);
    msgpack_pack_int(pk, 0);
}
static void p_stream_last_id_low(msgpack_packer *pk) {
    p_stream_header(pk, 1, 1);
    p_stream_entry(pk, 5);
    msgpack_pack_int(pk, 0);
}
static void p_stream_group(msgpack_packer *pk, bool dup_group, bool dup_pending) {
    p_stream_header(pk, 1, 5);
    p_stream_entry(pk, 5);
    msgpack_pack_int(pk, dup_group ? 2 : 1);
    for (int g = 0; g < (dup_group ? 2 : 1); g++) {
        pack_str(pk, "g");
        msgpack_pack_uint64(pk, 5);
        msgpack_pack_uint64(pk, 0);
        msgpack_pack_int(pk, 1);
        msgpack_pack_int(pk, dup_pending ? 2 : 1); /* consumers */
        for (int c = 0; c < (dup_pending ? 2 : 1); c++) {
            pack_str(pk, c ? "c2" : "c1");
            msgpack_pack_int(pk, 100);
            msgpack_pack_int(pk, 1);
            msgpack_pack_uint64(pk, 5);
            msgpack_pack_uint64(pk, 0);
            msgpack_pack_int(pk, 100);
            msgpack_pack_int(pk, 3);
        }
    }
}
static void p_stream_ok(msgpack_packer *pk) {
    p_stream_group(pk, false, false);
}
static void p_stream_dup_group(msgpack_packer *pk) {
    p_stream_group(pk, true, false);
}
static void p_stream_dup_pending(msgpack_packer *pk) {
    p_stream_group(pk, false, true);
}

TEST(restore_rejects_bad_contents) {
    struct fixture f;
    setup(&f);
    struct {
        void (*pack)(msgpack_packer *pk);
        const char *reason;
    } cases[] = {
        {p_dup_set, "set member at offset 8: duplicate"},
        {p_dup_intset, "set member at offset 5: duplicate"},
        {p_dup_hash, "hash field at offset 8: duplicate"},
        {p_dup_zset, "zset member at offset 14: duplicate"},
        {p_nan_zset, "zset score at offset 5: not a number"},
        {p_empty_list, "list length at offset 1: too small"},
        {p_huge_list, "list length at offset 1: larger than the input"},
        {p_huge_string, "string value at offset 1: truncated"},
        {p_unknown_type, "value type at offset 0: unknown type 5"},
        {p_trailing, "payload at offset 4: trailing bytes"},
        {p_stream_unordered, "stream entry id"},
        {p_stream_last_id_low, "stream last-id"},
        {p_stream_dup_group, "stream group name"},
        {p_stream_dup_pending, "stream pending id"},
    };
    for (size_t i = 0; i < sizeof(cases) / sizeof(cases[0]); i++) {
        struct snapshot_error err;
        memset(&err, 0, sizeof(err));
        int rc = restore_packed(cases[i].pack, &err);
        if (rc != SNAPSHOT_ECORRUPT || strstr(err.msg, cases[i].reason) == NULL)
            fprintf(stderr, "case %zu: rc %d, '%s'\n", i, rc, err.msg);
        CHECK_EQ_INT(rc, SNAPSHOT_ECORRUPT);
        CHECK(strstr(err.msg, cases[i].reason) != NULL);
    }
    struct snapshot_error err;
    CHECK_EQ_INT(restore_packed(p_stream_ok, &err), 0);
    CHECK(teardown(&f));
}

TEST(restore_survives_mutations) {
    struct fixture f;
    setup(&f);
    for (int kind = 0; kind < VALUE_KINDS; kind++) {
        struct kv *kv = make_value("k", kind);
        unsigned char *payload;
        size_t len;
        CHECK_EQ_INT(snapshot_dump(kv, &payload, &len), 0);
        for (int round = 0; round < 300; round++) {
            struct buf b = {0};
            buf_write(&b, payload, len - 10);
            for (int m = 0; m < 1 + (int)(next_rand() % 4); m++)
                b.p[next_rand() % b.len] = (unsigned char)next_rand();
            add_trailer(&b, SNAPSHOT_DUMP_VERSION);
            struct kv *back = NULL;
            if (restore(b.p, b.len, &back, NULL) == 0)
                kv_free(back);
            free(b.p);
        }
        kv_free(kv);
        mem_free(payload);
    }
    CHECK(teardown(&f));
}

TEST(restore_allocation_failures) {
    struct fixture f;
    setup(&f);
    for (int kind = 0; kind < VALUE_KINDS; kind++) {
        struct kv *kv = make_small_value("k", kind);
        unsigned char *payload;
        size_t len;
        CHECK_EQ_INT(snapshot_dump(kv, &payload, &len), 0);
        size_t base = mem_used();
        for (long n = 0;; n++) {
            struct kv *back = NULL;
            mem_set_fault(n, 0);
            int rc = restore(payload, len, &back, NULL);
            mem_set_fault(-1, 0);
            if (rc == 0) {
                CHECK(same_value(kv, back));
                kv_free(back);
                break;
            }
            CHECK_EQ_INT(rc, SNAPSHOT_ENOMEM);
            CHECK_EQ_INT(mem_used(), base);
        }
        for (long n = 0;; n++) {
            unsigned char *again = NULL;
            size_t againlen;
            mem_set_fault(n, 0);
            int rc = snapshot_dump(kv, &again, &againlen);
            mem_set_fault(-1, 0);
            if (rc == 0) {
                CHECK(againlen == len && memcmp(again, payload, len) == 0);
                mem_free(again);
                break;
            }
            CHECK_EQ_INT(rc, SNAPSHOT_ENOMEM);
            CHECK_EQ_INT(mem_used(), base);
        }
        kv_free(kv);
        mem_free(payload);
    }
    CHECK(teardown(&f));
}

/* ---- Datasets ---- */

#define NDBS 4

static void fill_dbs(struct keyspace **dbs, size_t keys, bool small) {
    for (int i = 0; i < NDBS; i++)
        dbs[i] = NULL;
    for (size_t i = 0; i < keys; i++) {
        int id = i % 3 == 0 ? 0 : 2; /* db 1 and 3 stay empty */
        if (dbs[id] == NULL)
            dbs[id] = keyspace_new();
        char key[32];
        snprintf(key, sizeof(key), "key:%zu", i);
        int kind = (int)(next_rand() % VALUE_KINDS);
        struct kv *kv = small ? make_small_value(key, kind) : make_value(key, kind);
        if (next_rand() % 3 == 0) {
            struct kv *e = kv_with_expire(kv, 1700000000000LL + (int64_t)(next_rand() % 1000));
            kv_free_shell(kv);
            kv = e;
        }
        keyspace_add(dbs[id], kv);
    }
}

static void free_dbs(struct keyspace **dbs) {
    for (int i = 0; i < NDBS; i++)
        keyspace_free(dbs[i]);
}

static bool same_dbs(struct keyspace **a, struct keyspace **b) {
    for (int i = 0; i < NDBS; i++) {
        size_t na = a[i] ? keyspace_size(a[i]) : 0, nb = b[i] ? keyspace_size(b[i]) : 0;
        if (na != nb)
            return false;
        if (na == 0)
            continue;
        struct keyspace_iter it;
        keyspace_iter_init(&it, a[i]);
        bool ok = true;
        for (struct kv *kv; ok && (kv = keyspace_iter_next(&it)) != NULL;) {
            struct kv *other = keyspace_find(b[i], kv_key(kv), kv->keylen);
            ok = other != NULL && same_value(kv, other) && other->encoding == kv->encoding;
        }
        keyspace_iter_close(&it);
        if (!ok)
            return false;
    }
    return true;
}

/* Counts the encoder's callback calls and checks the chunk bound. */
struct chunked {
    struct buf b;
    size_t calls;
    bool oversized;
};
static int chunked_write(void *arg, const void *data, size_t len) {
    struct chunked *c = arg;
    c->calls++;
    c->oversized |= len > SNAPSHOT_CHUNK_BYTES;
    return buf_write(&c->b, data, len);
}

TEST(dataset_round_trip) {
    struct fixture f;
    setup(&f);
    struct keyspace *dbs[NDBS], *back[NDBS];
    fill_dbs(dbs, 600, false);
    struct chunked out = {0};
    CHECK_EQ_INT(snapshot_write_dataset(dbs, NDBS, 1234567, chunked_write, &out), 0);
    CHECK(!out.oversized);
    CHECK(out.calls > 2); /* streamed, not one buffer */
    struct snapshot_error err;
    int rc = snapshot_load(out.b.p, out.b.len, NDBS, &snapshot_default_params, back, &err);
    if (rc != 0)
        fprintf(stderr, "%s\n", err.msg);
    CHECK_EQ_INT(rc, 0);
    CHECK(back[1] == NULL && back[3] == NULL);
    CHECK(same_dbs(dbs, back));
    free_dbs(back);

    /* In small steps: the same result. */
    struct snapshot_loader *l =
        snapshot_loader_new(out.b.p, out.b.len, NDBS, &snapshot_default_params);
    size_t steps = 0;
    while ((rc = snapshot_loader_step(l, 512, &err)) == SNAPSHOT_AGAIN)
        steps++;
    CHECK_EQ_INT(rc, 0);
    CHECK(steps > 10);
    CHECK_EQ_INT(snapshot_loader_ctime_ms(l), 1234567);
    CHECK_EQ_INT(snapshot_loader_keys(l), 600);
    snapshot_loader_take(l, back);
    snapshot_loader_free(l);
    CHECK(same_dbs(dbs, back));
    free_dbs(back);

    /* Too few databases configured: refused with a reason. */
    rc = snapshot_load(out.b.p, out.b.len, 2, &snapshot_default_params, back, &err);
    CHECK_EQ_INT(rc, SNAPSHOT_ECORRUPT);
    CHECK(strstr(err.msg, "database id") != NULL);

    free(out.b.p);
    free_dbs(dbs);
    CHECK(teardown(&f));
}

TEST(dataset_aux_and_empty) {
    struct fixture f;
    setup(&f);
    struct buf b = {0};
    struct snapshot_writer *w = snapshot_writer_new(buf_write, &b, 42);
    CHECK_EQ_INT(snapshot_writer_aux(w, "raft-index", 10, "1234", 4), 0);
    CHECK_EQ_INT(snapshot_writer_finish(w), 0);
    CHECK_EQ_INT(snapshot_writer_bytes(w), b.len);
    snapshot_writer_free(w);
    struct snapshot_loader *l = snapshot_loader_new(b.p, b.len, NDBS, &snapshot_default_params);
    int rc;
    while ((rc = snapshot_loader_step(l, 3, NULL)) == SNAPSHOT_AGAIN)
        ;
    CHECK_EQ_INT(rc, 0);
    size_t len;
    const unsigned char *v = snapshot_loader_aux(l, "raft-index", &len);
    CHECK(v != NULL && len == 4 && memcmp(v, "1234", 4) == 0);
    CHECK(snapshot_loader_aux(l, "other", &len) == NULL);
    struct keyspace *dbs[NDBS];
    snapshot_loader_take(l, dbs);
    for (int i = 0; i < NDBS; i++)
        CHECK(dbs[i] == NULL);
    snapshot_loader_free(l);
    free(b.p);
    CHECK(teardown(&f));
}

static int failing_write(void *arg, const void *data, size_t len) {
    (void)data;
    size_t *budget = arg;
    if (len > *budget)
        return -1;
    *budget -= len;
    return 0;
}

TEST(dataset_write_errors) {
    struct fixture f;
    setup(&f);
    struct keyspace *dbs[NDBS];
    fill_dbs(dbs, 200, false);
    for (size_t budget = 0; budget < 300000; budget = budget * 2 + 1000) {
        size_t left = budget;
        int rc = snapshot_write_dataset(dbs, NDBS, 0, failing_write, &left);
        CHECK(rc == SNAPSHOT_EIO || rc == 0);
    }
    free_dbs(dbs);
    CHECK(teardown(&f));
}

TEST(dataset_rejects_damage) {
    struct fixture f;
    setup(&f);
    struct keyspace *dbs[NDBS], *back[NDBS];
    fill_dbs(dbs, 30, true);
    struct buf b = {0};
    CHECK_EQ_INT(snapshot_write_dataset(dbs, NDBS, 99, buf_write, &b), 0);
    struct snapshot_error err;
    /* Every truncation, as written and with the CRC fixed up over what is left. */
    for (size_t cut = 0; cut < b.len; cut++) {
        CHECK(snapshot_load(b.p, cut, NDBS, &snapshot_default_params, back, &err) < 0);
        if (cut >= 16) {
            unsigned char *copy = malloc(cut);
            memcpy(copy, b.p, cut);
            fix_file_crc(copy, cut);
            CHECK(snapshot_load(copy, cut, NDBS, &snapshot_default_params, back, &err) < 0);
            free(copy);
        }
    }
    /* Extra bytes after the end record (CRC fixed up). */
    {
        unsigned char *copy = malloc(b.len + 1);
        memcpy(copy, b.p, b.len - 8);
        copy[b.len - 8] = 0xc0;
        fix_file_crc(copy, b.len + 1);
        CHECK_EQ_INT(snapshot_load(copy, b.len + 1, NDBS, &snapshot_default_params, back, &err),
                     SNAPSHOT_ECORRUPT);
        free(copy);
    }
    /* Bit flips anywhere (a sample when the file is large). */
    size_t step = b.len * 8 / 20000 + 1;
    for (size_t bit = 0; bit < b.len * 8; bit += step) {
        b.p[bit / 8] ^= (unsigned char)(1u << (bit % 8));
        int rc = snapshot_load(b.p, b.len, NDBS, &snapshot_default_params, back, &err);
        CHECK(rc == SNAPSHOT_ECHECKSUM || (bit < 48 && rc == SNAPSHOT_ECORRUPT));
        b.p[bit / 8] ^= (unsigned char)(1u << (bit % 8));
    }
    /* Another format version. */
    b.p[6] ^= 2;
    CHECK_EQ_INT(snapshot_load(b.p, b.len, NDBS, &snapshot_default_params, back, &err),
                 SNAPSHOT_ECHECKSUM);
    CHECK(strstr(err.msg, "version") != NULL);
    b.p[6] ^= 2;
    /* Random mutations with the CRC fixed up: errors or success, never a crash or leak. */
    for (int round = 0; round < 2000; round++) {
        unsigned char *copy = malloc(b.len);
        memcpy(copy, b.p, b.len);
        for (int m = 0; m < 1 + (int)(next_rand() % 3); m++)
            copy[8 + next_rand() % (b.len - 16)] = (unsigned char)next_rand();
        fix_file_crc(copy, b.len);
        if (snapshot_load(copy, b.len, NDBS, &snapshot_default_params, back, &err) == 0)
            free_dbs(back);
        free(copy);
    }
    CHECK_EQ_INT(snapshot_load(b.p, b.len, NDBS, &snapshot_default_params, back, &err), 0);
    CHECK(same_dbs(dbs, back));
    free_dbs(back);
    free(b.p);
    free_dbs(dbs);
    CHECK(teardown(&f));
}

TEST(dataset_allocation_failures) {
    struct fixture f;
    setup(&f);
    struct keyspace *dbs[NDBS], *back[NDBS];
    fill_dbs(dbs, 12, true);
    struct buf b = {0};
    CHECK_EQ_INT(snapshot_write_dataset(dbs, NDBS, 0, buf_write, &b), 0);
    size_t base = mem_used();
    for (long n = 0;; n++) {
        struct snapshot_error err;
        mem_set_fault(n, 0);
        int rc = snapshot_load(b.p, b.len, NDBS, &snapshot_default_params, back, &err);
        mem_set_fault(-1, 0);
        if (rc == 0)
            break;
        CHECK_EQ_INT(rc, SNAPSHOT_ENOMEM);
        CHECK_EQ_INT(mem_used(), base);
    }
    CHECK(same_dbs(dbs, back));
    free_dbs(back);
    for (long n = 0;; n++) {
        struct buf out = {0};
        mem_set_fault(n, 0);
        int rc = snapshot_write_dataset(dbs, NDBS, 0, buf_write, &out);
        mem_set_fault(-1, 0);
        free(out.p);
        if (rc == 0)
            break;
        CHECK_EQ_INT(rc, SNAPSHOT_ENOMEM);
    }
    free(b.p);
    free_dbs(dbs);
    CHECK(teardown(&f));
}
