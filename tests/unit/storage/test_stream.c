/* Streams: random appends, deletions and trims against a model (an array of
 * IDs with live flags); ranges forwards and backwards; consumer-group PELs;
 * idmap ordering. */
#include "storage/idmap.h"
#include "storage/mem.h"
#include "storage/stream.h"
#include "tests/unit/lib/test.h"

#define MODEL_MAX 3000

struct model {
    struct stream_id ids[MODEL_MAX];
    bool live[MODEL_MAX];
    size_t n;
};

static uint64_t rng = 0x1234567ULL;
static uint64_t next_rand(void) {
    rng ^= rng << 13;
    rng ^= rng >> 7;
    rng ^= rng << 17;
    return rng;
}

static size_t model_live(const struct model *m) {
    size_t live = 0;
    for (size_t i = 0; i < m->n; i++)
        live += m->live[i];
    return live;
}

/* Checks that [start, end] forwards and backwards equals the model. */
static bool ranges_match(const struct stream *s, const struct model *m, struct stream_id start,
                         struct stream_id end) {
    for (int rev = 0; rev < 2; rev++) {
        struct stream_iter it;
        stream_iter_init(&it, s, &start, &end, rev);
        size_t k = rev ? m->n : 0;
        struct stream_id id;
        size_t nfv;
        for (;;) {
            /* The model's next live ID in range, in iteration order. */
            bool found = false;
            while (rev ? k > 0 : k < m->n) {
                size_t i = rev ? --k : k++;
                if (m->live[i] && stream_id_cmp(&m->ids[i], &start) >= 0 &&
                    stream_id_cmp(&m->ids[i], &end) <= 0) {
                    found = true;
                    if (!stream_iter_next(&it, &id, &nfv) || stream_id_cmp(&id, &m->ids[i]) != 0)
                        return false;
                    char buf[24];
                    size_t len;
                    const char *f = stream_iter_string(&it, buf, &len);
                    if (nfv != 2 || len != 5 || memcmp(f, "field", 5) != 0)
                        return false;
                    const char *v = stream_iter_string(&it, buf, &len);
                    char expect[32];
                    int elen = snprintf(expect, sizeof(expect), "%llu", (unsigned long long)id.seq);
                    if (len != (size_t)elen || memcmp(v, expect, len) != 0)
                        return false;
                    break;
                }
            }
            if (!found)
                return !stream_iter_next(&it, &id, &nfv);
        }
    }
    return true;
}

TEST(stream_model) {
    size_t before = mem_used();
    struct stream *s = stream_new();
    static struct model m;
    m.n = 0;
    struct stream_id id = {1000, 0};
    for (int op = 0; op < 6000; op++) {
        unsigned r = (unsigned)(next_rand() % 10);
        if (r < 6 && m.n < MODEL_MAX) {
            id.ms += next_rand() % 3;
            id.seq = next_rand() % 2 ? id.seq + 1 : 0;
            if (m.n && stream_id_cmp(&id, &m.ids[m.n - 1]) <= 0) {
                id = m.ids[m.n - 1];
                stream_id_incr(&id);
            }
            char val[32];
            int vlen = snprintf(val, sizeof(val), "%llu", (unsigned long long)id.seq);
            char *fv[] = {"field", val};
            size_t fvlen[] = {5, (size_t)vlen};
            CHECK_EQ_INT(stream_append(s, &id, 2, fv, fvlen, 4096, 7), 0);
            m.ids[m.n] = id;
            m.live[m.n++] = true;
        } else if (r < 8 && m.n > 0) {
            size_t i = next_rand() % m.n;
            CHECK_EQ_INT(stream_delete(s, &m.ids[i]), m.live[i]);
            m.live[i] = false;
        } else if (r == 8) {
            size_t keep = model_live(&m) > 20 ? model_live(&m) - next_rand() % 10 : 20;
            size_t removed = stream_trim(s, STREAM_TRIM_MAXLEN, keep, NULL, false, 0);
            for (size_t i = 0; i < m.n && removed > 0; i++)
                if (m.live[i]) {
                    m.live[i] = false;
                    removed--;
                }
            CHECK_EQ_INT(removed, 0);
        }
        CHECK_EQ_INT(s->length, model_live(&m));
        if (op % 500 == 0 && m.n > 0) {
            struct stream_id lo = m.ids[next_rand() % m.n], hi = m.ids[next_rand() % m.n];
            if (stream_id_cmp(&lo, &hi) > 0) {
                struct stream_id t = lo;
                lo = hi;
                hi = t;
            }
            CHECK(ranges_match(s, &m, lo, hi));
            struct stream_id all_lo = {0, 0}, all_hi = {UINT64_MAX, UINT64_MAX};
            CHECK(ranges_match(s, &m, all_lo, all_hi));
        }
    }
    stream_free(s);
    CHECK_EQ_INT(mem_used(), before);
}

TEST(stream_groups_and_pel) {
    size_t before = mem_used();
    struct stream *s = stream_new();
    bool oom;
    struct stream_id zero = {0, 0};
    struct stream_group *g = stream_group_create(s, "g", 1, &zero, 0, &oom);
    CHECK(g != NULL);
    CHECK(stream_group_create(s, "g", 1, &zero, 0, &oom) == NULL && !oom);
    CHECK(stream_group_create(s, "a", 1, &zero, 0, &oom) != NULL);
    CHECK(s->groups[0]->name[0] == 'a'); /* kept sorted */
    bool created;
    struct stream_consumer *c1 = stream_consumer_get(g, "c1", 2, 5, &created);
    struct stream_consumer *c2 = stream_consumer_get(g, "c2", 2, 5, &created);
    CHECK(created && c1 && c2);
    for (uint64_t i = 1; i <= 10; i++) {
        struct stream_id id = {i, 0};
        CHECK_EQ_INT(stream_pel_deliver(g, c1, &id, 100), 0);
    }
    struct stream_id three = {3, 0};
    CHECK_EQ_INT(stream_pel_deliver(g, c2, &three, 200), 0); /* re-delivery moves it */
    CHECK_EQ_INT(idmap_len(c1->pel), 9);
    CHECK_EQ_INT(idmap_len(c2->pel), 1);
    struct stream_nack *nack = idmap_find(g->pel, &three);
    CHECK(nack && nack->delivery_count == 1 && nack->consumer == c2);
    CHECK(stream_pel_ack(g, &three));
    CHECK(!stream_pel_ack(g, &three));
    CHECK_EQ_INT(stream_consumer_delete(g, c1), 9);
    CHECK_EQ_INT(idmap_len(g->pel), 0);
    stream_free(s);
    CHECK_EQ_INT(mem_used(), before);
}

TEST(idmap_order_and_seek) {
    struct idmap *m = idmap_new();
    for (uint64_t i = 0; i < 2000; i++) {
        struct stream_id id = {(i * 7919) % 2000, 1};
        CHECK_EQ_INT(idmap_insert(m, &id, (void *)(uintptr_t)(id.ms + 1)), 0);
    }
    struct stream_id prev = {0, 0};
    size_t count = 0;
    for (struct idmap_node *n = idmap_seek(m, NULL); n; n = idmap_next(n), count++) {
        CHECK(count == 0 || stream_id_cmp(&prev, idmap_node_id(n)) < 0);
        prev = *idmap_node_id(n);
    }
    CHECK_EQ_INT(count, 2000);
    struct stream_id probe = {500, 0};
    CHECK_EQ_INT(idmap_node_id(idmap_seek(m, &probe))->ms, 500);
    CHECK_EQ_INT(idmap_node_id(idmap_seek_rev(m, &probe))->ms, 499);
    for (uint64_t i = 0; i < 2000; i += 2) {
        struct stream_id id = {i, 1};
        CHECK(idmap_remove(m, &id) == (void *)(uintptr_t)(i + 1));
    }
    CHECK_EQ_INT(idmap_len(m), 1000);
    CHECK_EQ_INT(idmap_node_id(idmap_seek(m, &probe))->ms, 501);
    idmap_free(m, NULL);
}

TEST(stream_dup_is_deep) {
    size_t before = mem_used();
    struct stream *s = stream_new();
    for (uint64_t i = 1; i <= 300; i++) {
        struct stream_id id = {i, 0};
        char *fv[] = {"k", "v"};
        size_t fvlen[] = {1, 1};
        CHECK_EQ_INT(stream_append(s, &id, 2, fv, fvlen, 4096, 100), 0);
    }
    struct stream_id five = {5, 0};
    CHECK(stream_delete(s, &five));
    bool oom, created;
    struct stream_group *g = stream_group_create(s, "g", 1, &five, 7, &oom);
    struct stream_consumer *c = stream_consumer_get(g, "c", 1, 11, &created);
    struct stream_id one = {1, 0};
    CHECK_EQ_INT(stream_pel_deliver(g, c, &one, 42), 0);

    struct stream *copy = stream_dup(s);
    stream_free(s);
    CHECK(copy != NULL);
    CHECK_EQ_INT(copy->length, 299);
    CHECK(copy->max_deleted_id.ms == 5 && copy->last_id.ms == 300);
    struct stream_iter it;
    struct stream_id id;
    size_t nfv, n = 0;
    stream_iter_init(&it, copy, NULL, NULL, false);
    while (stream_iter_next(&it, &id, &nfv))
        n++;
    CHECK_EQ_INT(n, 299);
    struct stream_group *cg = stream_group_find(copy, "g", 1);
    CHECK(cg != NULL && cg->entries_read == 7 && idmap_len(cg->pel) == 1);
    struct stream_nack *nack = idmap_find(cg->pel, &one);
    CHECK(nack && nack->delivery_time_ms == 42 && nack->consumer->seen_time_ms == 11);
    stream_free(copy);
    CHECK_EQ_INT(mem_used(), before);
}
