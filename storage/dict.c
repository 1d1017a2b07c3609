/* Open-addressing hash table (see dict.h). A slot is 0 (empty), TOMB
 * (removed), or an element pointer tagged with the top 16 bits of its hash.
 * The low bits of the hash pick the home bucket. */
#include "storage/dict.h"

#include "storage/hash.h"
#include "storage/mem.h"
#include "storage/storage.h"

#include <assert.h>
#include <string.h>
#include <strings.h>

#define EMPTY     ((uintptr_t)0)
#define TOMB      ((uintptr_t)1)
#define TAG_SHIFT 48
#define PTR_MASK  (((uintptr_t)1 << TAG_SHIFT) - 1)
#define MIN_CAP   4

const char *storage_strerror(int code) {
    switch (code) {
#define X(name, value, text)                                                                       \
    case value:                                                                                    \
        return text;
        STORAGE_ERRORS(X)
#undef X
    default:
        return "unknown storage error";
    }
}

static inline uintptr_t tag_of(uint64_t hash) {
    return (uintptr_t)(hash >> TAG_SHIFT) << TAG_SHIFT;
}

static inline void *slot_elem(uintptr_t s) {
    return (void *)(s & PTR_MASK);
}

static inline bool slot_live(uintptr_t s) {
    return s > TOMB;
}

static uint64_t hash_key(const struct dict *d, const char *key, size_t len) {
    return d->type->nocase ? hash_bytes_nocase(key, len) : hash_bytes(key, len);
}

static uint64_t hash_elem(const struct dict *d, const void *elem) {
    size_t len;
    const char *key = d->type->key_of(elem, &len);
    return hash_key(d, key, len);
}

static inline uintptr_t make_slot(void *elem, uint64_t hash) {
    uintptr_t p = (uintptr_t)elem;
    assert((p & ~PTR_MASK) == 0 && p > TOMB);
    return p | tag_of(hash);
}

static bool key_matches(const struct dict *d, const void *elem, const char *key, size_t len) {
    size_t elen;
    const char *ekey = d->type->key_of(elem, &elen);
    if (elen != len)
        return false;
    return d->type->nocase ? strncasecmp(ekey, key, len) == 0 : memcmp(ekey, key, len) == 0;
}

void dict_init(struct dict *d, const struct dict_type *type) {
    memset(d, 0, sizeof(*d));
    d->type = type;
}

void dict_close(struct dict *d, void (*free_elem)(void *elem)) {
    if (free_elem != NULL)
        for (size_t i = 0; i < d->cap; i++)
            if (slot_live(d->slots[i]))
                free_elem(slot_elem(d->slots[i]));
    mem_free(d->slots);
    d->slots = NULL;
    d->cap = d->used = d->tombs = 0;
}

size_t dict_mem_bytes(const struct dict *d) {
    return mem_usable(d->slots);
}

/* Index of the slot holding 'key', or SIZE_MAX. */
static size_t find_index(const struct dict *d, const char *key, size_t len, uint64_t hash) {
    if (d->used == 0)
        return SIZE_MAX;
    size_t mask = d->cap - 1;
    uintptr_t tag = tag_of(hash);
    for (size_t i = hash & mask;; i = (i + 1) & mask) {
        uintptr_t s = d->slots[i];
        if (s == EMPTY)
            return SIZE_MAX;
        if (slot_live(s) && (s & ~PTR_MASK) == tag && key_matches(d, slot_elem(s), key, len))
            return i;
    }
}

void *dict_find(const struct dict *d, const char *key, size_t len) {
    if (d->used == 0)
        return NULL; /* skips hashing: hooks probe tables that are mostly empty */
    size_t i = find_index(d, key, len, hash_key(d, key, len));
    return i == SIZE_MAX ? NULL : slot_elem(d->slots[i]);
}

static void place(uintptr_t *slots, size_t mask, uintptr_t s, uint64_t hash) {
    size_t i = hash & mask;
    while (slots[i] != EMPTY)
        i = (i + 1) & mask;
    slots[i] = s;
}

static int rebuild(struct dict *d, size_t cap) {
    uintptr_t *slots = mem_calloc(cap * sizeof(*slots));
    if (slots == NULL)
        return STORAGE_ENOMEM;
    for (size_t i = 0; i < d->cap; i++) {
        uintptr_t s = d->slots[i];
        if (slot_live(s))
            place(slots, cap - 1, s, hash_elem(d, slot_elem(s)));
    }
    mem_free(d->slots);
    d->slots = slots;
    d->cap = cap;
    d->tombs = 0;
    return STORAGE_OK;
}

static size_t cap_for(size_t n) {
    size_t cap = MIN_CAP;
    while (cap < n * 2)
        cap *= 2;
    return cap;
}

int dict_add(struct dict *d, void *elem) {
    /* Keep live + removed slots under 3/4 of the table: probes stay short. */
    if ((d->used + d->tombs + 1) * 4 > d->cap * 3) {
        int rc = rebuild(d, cap_for(d->used + 1));
        if (rc != STORAGE_OK)
            return rc;
    }
    uint64_t hash = hash_elem(d, elem);
    size_t mask = d->cap - 1;
    size_t i = hash & mask;
    while (slot_live(d->slots[i]))
        i = (i + 1) & mask;
    if (d->slots[i] == TOMB)
        d->tombs--;
    d->slots[i] = make_slot(elem, hash);
    d->used++;
    return STORAGE_OK;
}

void *dict_remove(struct dict *d, const char *key, size_t len) {
    if (d->used == 0)
        return NULL;
    size_t i = find_index(d, key, len, hash_key(d, key, len));
    if (i == SIZE_MAX)
        return NULL;
    void *elem = slot_elem(d->slots[i]);
    /* A slot followed by an empty one ends every probe run through it, so it
     * can become empty rather than a tombstone. */
    if (d->slots[(i + 1) & (d->cap - 1)] == EMPTY) {
        d->slots[i] = EMPTY;
    } else {
        d->slots[i] = TOMB;
        d->tombs++;
    }
    d->used--;
    if (d->pause_resize == 0) {
        if (d->used == 0) {
            mem_free(d->slots);
            d->slots = NULL;
            d->cap = d->tombs = 0;
        } else if (d->cap > MIN_CAP && d->used * 8 < d->cap) {
            (void)rebuild(d, cap_for(d->used)); /* on failure the table stays valid */
        }
    }
    return elem;
}

bool dict_replace(struct dict *d, const void *old, void *repl) {
    size_t len;
    const char *key = d->type->key_of(old, &len);
    uint64_t hash = hash_key(d, key, len);
    size_t i = find_index(d, key, len, hash);
    if (i == SIZE_MAX || slot_elem(d->slots[i]) != old)
        return false;
    d->slots[i] = make_slot(repl, hash);
    return true;
}

/* ---- Prefetching ---- */

uint64_t dict_hash(const struct dict *d, const char *key, size_t len) {
    return hash_key(d, key, len);
}

void dict_prefetch_home(const struct dict *d, uint64_t hash) {
    if (d->used != 0)
        __builtin_prefetch(&d->slots[hash & (d->cap - 1)]);
}

void *dict_probable(const struct dict *d, uint64_t hash) {
    if (d->used == 0)
        return NULL;
    size_t mask = d->cap - 1;
    uintptr_t tag = tag_of(hash);
    /* The whole run is not worth walking for a hint: live slots cluster. */
    for (size_t i = hash & mask, n = 0; n < 4; i = (i + 1) & mask, n++) {
        uintptr_t s = d->slots[i];
        if (s == EMPTY)
            return NULL;
        if (slot_live(s) && (s & ~PTR_MASK) == tag)
            return slot_elem(s);
    }
    return NULL;
}

static uint64_t reverse_bits(uint64_t v) {
    v = ((v >> 1) & 0x5555555555555555ULL) | ((v & 0x5555555555555555ULL) << 1);
    v = ((v >> 2) & 0x3333333333333333ULL) | ((v & 0x3333333333333333ULL) << 2);
    v = ((v >> 4) & 0x0F0F0F0F0F0F0F0FULL) | ((v & 0x0F0F0F0F0F0F0F0FULL) << 4);
    v = ((v >> 8) & 0x00FF00FF00FF00FFULL) | ((v & 0x00FF00FF00FF00FFULL) << 8);
    v = ((v >> 16) & 0x0000FFFF0000FFFFULL) | ((v & 0x0000FFFF0000FFFFULL) << 16);
    return (v >> 32) | (v << 32);
}

/* Visits home bucket (cursor & mask): the elements whose hash maps there, which
 * linear probing keeps in the run of non-empty slots starting at it. The
 * cursor advances in reverse-binary order (the SCAN algorithm), so growth or
 * shrinking between calls never skips a bucket group already due. */
uint64_t dict_scan(const struct dict *d, uint64_t cursor, void (*fn)(void *elem, void *arg),
                   void *arg) {
    if (d->used == 0)
        return 0;
    uint64_t mask = d->cap - 1;
    uint64_t home = cursor & mask;
    for (uint64_t i = home; d->slots[i] != EMPTY; i = (i + 1) & mask) {
        uintptr_t s = d->slots[i];
        if (slot_live(s) && (hash_elem(d, slot_elem(s)) & mask) == home)
            fn(slot_elem(s), arg);
        if (((i + 1) & mask) == home)
            break;
    }
    cursor |= ~mask;
    cursor = reverse_bits(cursor);
    cursor++;
    return reverse_bits(cursor);
}

void *dict_random(const struct dict *d, uint64_t rnd) {
    if (d->used == 0)
        return NULL;
    size_t mask = d->cap - 1;
    for (size_t i = rnd & mask;; i = (i + 1) & mask)
        if (slot_live(d->slots[i]))
            return slot_elem(d->slots[i]);
}

void dict_iter_init(struct dict_iter *it, struct dict *d) {
    it->d = d;
    it->index = 0;
    d->pause_resize++;
}

void *dict_iter_next(struct dict_iter *it) {
    while (it->index < it->d->cap) {
        uintptr_t s = it->d->slots[it->index++];
        if (slot_live(s))
            return slot_elem(s);
    }
    return NULL;
}

void dict_iter_close(struct dict_iter *it) {
    struct dict *d = it->d;
    if (--d->pause_resize == 0 && d->used == 0 && d->slots != NULL) {
        mem_free(d->slots);
        d->slots = NULL;
        d->cap = d->tombs = 0;
    }
}
