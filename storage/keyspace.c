/* Per-slot keyspace (see keyspace.h). */
#include "storage/keyspace.h"

#include "storage/dict.h"
#include "storage/keyslot.h"
#include "storage/mem.h"
#include "storage/storage.h"

#include <assert.h>

_Static_assert(sizeof(struct dict_iter) <= 32, "keyspace_iter buffer too small");

struct keyspace {
    struct dict *slots[SLOT_COUNT];   /* NULL until the slot gets a key */
    uint32_t fenwick[SLOT_COUNT + 1]; /* 1-based prefix sums of slot sizes */
    size_t size;
    struct dict expires;
};

static const struct dict_type kv_dict_type = {.key_of = kv_key_of};

struct keyspace *keyspace_new(void) {
    struct keyspace *ks = mem_calloc(sizeof(*ks));
    if (ks != NULL)
        dict_init(&ks->expires, &kv_dict_type);
    return ks;
}

static void free_record(void *elem) {
    kv_free(elem);
}

void keyspace_clear(struct keyspace *ks) {
    for (unsigned s = 0; s < SLOT_COUNT; s++) {
        if (ks->slots[s] != NULL) {
            dict_close(ks->slots[s], free_record);
            mem_free(ks->slots[s]);
            ks->slots[s] = NULL;
        }
    }
    memset(ks->fenwick, 0, sizeof(ks->fenwick));
    ks->size = 0;
    dict_close(&ks->expires, NULL);
}

void keyspace_free(struct keyspace *ks) {
    if (ks == NULL)
        return;
    keyspace_clear(ks);
    mem_free(ks);
}

size_t keyspace_size(const struct keyspace *ks) {
    return ks->size;
}

size_t keyspace_expires_size(const struct keyspace *ks) {
    return dict_size(&ks->expires);
}

size_t keyspace_overhead_bytes(const struct keyspace *ks) {
    size_t bytes = mem_usable(ks) + dict_mem_bytes(&ks->expires);
    for (unsigned s = 0; s < SLOT_COUNT; s++)
        if (ks->slots[s] != NULL)
            bytes += mem_usable(ks->slots[s]) + dict_mem_bytes(ks->slots[s]);
    return bytes;
}

static void fenwick_add(struct keyspace *ks, unsigned slot, int delta) {
    for (unsigned i = slot + 1; i <= SLOT_COUNT; i += i & (~i + 1))
        ks->fenwick[i] = (uint32_t)((int64_t)ks->fenwick[i] + delta);
}

/* The slot holding the key of 0-based rank 'rank'. */
static unsigned fenwick_find(const struct keyspace *ks, uint64_t rank) {
    unsigned pos = 0;
    for (unsigned step = SLOT_COUNT; step > 0; step >>= 1) {
        if (pos + step <= SLOT_COUNT && ks->fenwick[pos + step] <= rank) {
            pos += step;
            rank -= ks->fenwick[pos];
        }
    }
    return pos; /* 1-based index pos+1 is the slot, i.e. 0-based 'pos' */
}

struct kv *keyspace_find(const struct keyspace *ks, const char *key, size_t len) {
    const struct dict *d = ks->slots[keyslot_of(key, len)];
    return d == NULL ? NULL : dict_find(d, key, len);
}

static int add_to_slot(struct keyspace *ks, unsigned slot, struct kv *kv) {
    struct dict *d = ks->slots[slot];
    if (d == NULL) {
        d = mem_alloc(sizeof(*d));
        if (d == NULL)
            return STORAGE_ENOMEM;
        dict_init(d, &kv_dict_type);
        ks->slots[slot] = d;
    }
    if (kv->has_expire && dict_add(&ks->expires, kv) != STORAGE_OK)
        return STORAGE_ENOMEM;
    if (dict_add(d, kv) != STORAGE_OK) {
        if (kv->has_expire)
            dict_remove(&ks->expires, kv_key(kv), kv->keylen);
        return STORAGE_ENOMEM;
    }
    ks->size++;
    fenwick_add(ks, slot, 1);
    return STORAGE_OK;
}

int keyspace_add(struct keyspace *ks, struct kv *kv) {
    return add_to_slot(ks, keyslot_of(kv_key(kv), kv->keylen), kv);
}

struct kv *keyspace_remove(struct keyspace *ks, const char *key, size_t len) {
    unsigned slot = keyslot_of(key, len);
    struct dict *d = ks->slots[slot];
    if (d == NULL)
        return NULL;
    struct kv *kv = dict_remove(d, key, len);
    if (kv == NULL)
        return NULL;
    if (kv->has_expire)
        dict_remove(&ks->expires, key, len);
    ks->size--;
    fenwick_add(ks, slot, -1);
    if (dict_size(d) == 0 && d->pause_resize == 0) {
        dict_close(d, NULL);
        mem_free(d);
        ks->slots[slot] = NULL;
    }
    return kv;
}

/* Swaps 'old' for 'repl' in 'd', the table of their slot. */
static int replace_in(struct keyspace *ks, struct dict *d, struct kv *old, struct kv *repl) {
    assert(d != NULL);
    if (repl->has_expire && !old->has_expire) {
        if (dict_add(&ks->expires, repl) != STORAGE_OK)
            return STORAGE_ENOMEM;
    } else if (!repl->has_expire && old->has_expire) {
        dict_remove(&ks->expires, kv_key(old), old->keylen);
    } else if (repl->has_expire) {
        dict_replace(&ks->expires, old, repl);
    }
    bool replaced = dict_replace(d, old, repl);
    assert(replaced);
    (void)replaced;
    return STORAGE_OK;
}

int keyspace_replace(struct keyspace *ks, struct kv *old, struct kv *repl) {
    return replace_in(ks, ks->slots[keyslot_of(kv_key(old), old->keylen)], old, repl);
}

int keyspace_set(struct keyspace *ks, struct kv *kv, struct kv **old) {
    unsigned slot = keyslot_of(kv_key(kv), kv->keylen);
    struct dict *d = ks->slots[slot];
    struct kv *found = d != NULL ? dict_find(d, kv_key(kv), kv->keylen) : NULL;
    int rc = found != NULL ? replace_in(ks, d, found, kv) : add_to_slot(ks, slot, kv);
    *old = rc == STORAGE_OK ? found : NULL;
    return rc;
}

size_t keyspace_slot_size(const struct keyspace *ks, unsigned slot) {
    return ks->slots[slot] == NULL ? 0 : dict_size(ks->slots[slot]);
}

size_t keyspace_slot_each(const struct keyspace *ks, unsigned slot, size_t max,
                          void (*fn)(struct kv *kv, void *arg), void *arg) {
    struct dict *d = ks->slots[slot];
    if (d == NULL)
        return 0;
    struct dict_iter it;
    dict_iter_init(&it, d);
    size_t n = 0;
    struct kv *kv;
    while (n < max && (kv = dict_iter_next(&it)) != NULL) {
        fn(kv, arg);
        n++;
    }
    dict_iter_close(&it);
    return n;
}

struct scan_adapter {
    void (*fn)(struct kv *kv, void *arg);
    void *arg;
};

static void scan_adapt(void *elem, void *arg) {
    struct scan_adapter *a = arg;
    a->fn(elem, a->arg);
}

uint64_t keyspace_scan(const struct keyspace *ks, uint64_t cursor,
                       void (*fn)(struct kv *kv, void *arg), void *arg) {
    unsigned slot = (unsigned)(cursor & (SLOT_COUNT - 1));
    uint64_t inner = cursor >> 14;
    struct scan_adapter a = {fn, arg};
    while (slot < SLOT_COUNT && ks->slots[slot] == NULL) {
        slot++;
        inner = 0;
    }
    if (slot == SLOT_COUNT)
        return 0;
    inner = dict_scan(ks->slots[slot], inner, scan_adapt, &a);
    if (inner != 0)
        return (inner << 14) | slot;
    /* This slot is done; move to the next non-empty one (or finish). */
    do {
        slot++;
    } while (slot < SLOT_COUNT && ks->slots[slot] == NULL);
    return slot == SLOT_COUNT ? 0 : slot;
}

void keyspace_prefetch(struct keyspace_prefetch *keys, size_t n) {
    for (size_t i = 0; i < n; i++) {
        struct keyspace_prefetch *p = &keys[i];
        p->kv = NULL;
        if (p->ks != NULL) {
            p->slot = keyslot_of(p->key, p->len);
            __builtin_prefetch(&p->ks->slots[p->slot]);
        }
    }
    for (size_t i = 0; i < n; i++)
        if (keys[i].ks != NULL && keys[i].ks->slots[keys[i].slot] != NULL)
            __builtin_prefetch(keys[i].ks->slots[keys[i].slot]);
    for (size_t i = 0; i < n; i++) {
        struct keyspace_prefetch *p = &keys[i];
        const struct dict *d = p->ks != NULL ? p->ks->slots[p->slot] : NULL;
        if (d != NULL) {
            p->hash = dict_hash(d, p->key, p->len);
            dict_prefetch_home(d, p->hash);
        }
    }
    for (size_t i = 0; i < n; i++) {
        struct keyspace_prefetch *p = &keys[i];
        const struct dict *d = p->ks != NULL ? p->ks->slots[p->slot] : NULL;
        if (d != NULL && (p->kv = dict_probable(d, p->hash)) != NULL)
            __builtin_prefetch(p->kv);
    }
    for (size_t i = 0; i < n; i++) {
        const struct kv *kv = keys[i].kv;
        if (kv != NULL && kv->encoding != OBJ_ENC_INT && kv->encoding != OBJ_ENC_EMBSTR)
            __builtin_prefetch(kv->v.ptr);
    }
}

struct kv *keyspace_random(const struct keyspace *ks, uint64_t rnd) {
    if (ks->size == 0)
        return NULL;
    unsigned slot = fenwick_find(ks, rnd % ks->size);
    return dict_random(ks->slots[slot], rnd >> 20);
}

struct kv *keyspace_random_expiring(const struct keyspace *ks, uint64_t rnd) {
    return dict_random(&ks->expires, rnd);
}

void keyspace_iter_init(struct keyspace_iter *it, struct keyspace *ks) {
    it->ks = ks;
    it->slot = 0;
    it->started = 0;
}

struct kv *keyspace_iter_next(struct keyspace_iter *it) {
    struct dict_iter *di = (struct dict_iter *)it->it;
    for (;;) {
        if (it->started) {
            struct kv *kv = dict_iter_next(di);
            if (kv != NULL)
                return kv;
            struct dict *d = di->d;
            dict_iter_close(di);
            it->started = 0;
            if (dict_size(d) == 0) {
                dict_close(d, NULL);
                mem_free(d);
                it->ks->slots[it->slot] = NULL;
            }
            it->slot++;
        }
        while (it->slot < SLOT_COUNT && it->ks->slots[it->slot] == NULL)
            it->slot++;
        if (it->slot == SLOT_COUNT)
            return NULL;
        dict_iter_init(di, it->ks->slots[it->slot]);
        it->started = 1;
    }
}

void keyspace_iter_close(struct keyspace_iter *it) {
    if (it->started) {
        dict_iter_close((struct dict_iter *)it->it);
        it->started = 0;
    }
}
