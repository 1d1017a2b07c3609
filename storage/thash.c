/* Hash values in their two encodings (see thash.h): lookups, updates,
 * conversion from listpack to table, iteration, sampling and scanning.
 * Command semantics (argument parsing, replies, HINCRBY arithmetic) live in
 * node/cmd_hash.c. */
#include "storage/thash.h"

#include "storage/mem.h"
#include "storage/storage.h"

#include <string.h>

/* ---- Table elements ---- */

static const char *entry_key(const void *elem, size_t *len) {
    const struct thash_entry *e = elem;
    *len = e->flen;
    return e->data;
}

static const struct dict_type entry_dict_type = {.key_of = entry_key};

static struct thash_entry *entry_new(const char *f, size_t flen, const char *v, size_t vlen) {
    struct thash_entry *e = mem_alloc(sizeof(*e) + flen + vlen);
    if (e == NULL)
        return NULL;
    e->flen = (uint32_t)flen;
    e->vlen = (uint32_t)vlen;
    memcpy(e->data, f, flen);
    if (vlen)
        memcpy(e->data + flen, v, vlen);
    return e;
}

static void entry_free(void *elem) {
    mem_free(elem);
}

static void set_str(struct thash_str *s, const char *p, size_t len) {
    s->p = p;
    s->len = len;
}

static void set_lp_str(struct thash_str *s, const unsigned char *p) {
    s->p = lp_get_str(p, s->buf, &s->len);
}

static void set_entry(const struct thash_entry *e, struct thash_str *f, struct thash_str *v) {
    if (f)
        set_str(f, e->data, e->flen);
    if (v)
        set_str(v, e->data + e->flen, e->vlen);
}

/* ---- Lookups ---- */

/* The value position of 'field' in a listpack hash, or NULL. */
static unsigned char *lp_value_of(unsigned char *lp, const char *field, size_t flen) {
    unsigned char *p = lp_find(lp, lp_first(lp), field, flen, 1);
    return p ? lp_next(lp, p) : NULL;
}

struct kv *thash_new(const char *key, size_t keylen) {
    unsigned char *lp = lp_new();
    if (lp == NULL)
        return NULL;
    struct kv *kv = kv_new_ptr(key, keylen, OBJ_HASH, OBJ_ENC_LISTPACK, lp, -1);
    if (kv == NULL)
        lp_free(lp);
    return kv;
}

size_t thash_len(const struct kv *kv) {
    if (kv->encoding == OBJ_ENC_LISTPACK)
        return lp_len(kv->v.ptr) / 2;
    return dict_size(kv->v.ptr);
}

bool thash_get(const struct kv *kv, const char *field, size_t flen, struct thash_str *val) {
    if (kv->encoding == OBJ_ENC_LISTPACK) {
        unsigned char *p = lp_value_of(kv->v.ptr, field, flen);
        if (p == NULL)
            return false;
        set_lp_str(val, p);
        return true;
    }
    const struct thash_entry *e = dict_find(kv->v.ptr, field, flen);
    if (e == NULL)
        return false;
    set_entry(e, NULL, val);
    return true;
}

bool thash_exists(const struct kv *kv, const char *field, size_t flen) {
    if (kv->encoding == OBJ_ENC_LISTPACK)
        return lp_find(kv->v.ptr, lp_first(kv->v.ptr), field, flen, 1) != NULL;
    return dict_find(kv->v.ptr, field, flen) != NULL;
}

/* ---- Updates ---- */

int thash_convert_to_table(struct kv *kv) {
    if (kv->encoding != OBJ_ENC_LISTPACK)
        return STORAGE_OK;
    unsigned char *lp = kv->v.ptr;
    struct dict *d = mem_alloc(sizeof(*d));
    if (d == NULL)
        return STORAGE_ENOMEM;
    dict_init(d, &entry_dict_type);
    for (unsigned char *p = lp_first(lp); p; p = lp_next(lp, lp_next(lp, p))) {
        struct thash_str f, v;
        set_lp_str(&f, p);
        set_lp_str(&v, lp_next(lp, p));
        struct thash_entry *e = entry_new(f.p, f.len, v.p, v.len);
        if (e == NULL || dict_add(d, e) != STORAGE_OK) {
            mem_free(e);
            dict_close(d, entry_free);
            mem_free(d);
            return STORAGE_ENOMEM;
        }
    }
    lp_free(lp);
    kv->v.ptr = d;
    kv->encoding = OBJ_ENC_HT;
    return STORAGE_OK;
}

int thash_prepare(struct kv *kv, size_t longest, const struct thash_limits *lim) {
    if (kv->encoding == OBJ_ENC_LISTPACK && longest > lim->max_value)
        return thash_convert_to_table(kv);
    return STORAGE_OK;
}

static int table_set(struct dict *d, const char *field, size_t flen, const char *val, size_t vlen,
                     bool *is_new) {
    struct thash_entry *old = dict_find(d, field, flen);
    struct thash_entry *e = entry_new(field, flen, val, vlen);
    if (e == NULL)
        return STORAGE_ENOMEM;
    *is_new = old == NULL;
    if (old != NULL) {
        dict_replace(d, old, e);
        entry_free(old);
        return STORAGE_OK;
    }
    if (dict_add(d, e) != STORAGE_OK) {
        entry_free(e);
        return STORAGE_ENOMEM;
    }
    return STORAGE_OK;
}

int thash_set(struct kv *kv, const char *field, size_t flen, const char *val, size_t vlen,
              const struct thash_limits *lim, bool *is_new) {
    /* Redis 7.0 hashTypeSet: a long field or value converts first. */
    if (kv->encoding == OBJ_ENC_LISTPACK && (flen > lim->max_value || vlen > lim->max_value)) {
        int rc = thash_convert_to_table(kv);
        if (rc != STORAGE_OK)
            return rc;
    }
    if (kv->encoding != OBJ_ENC_LISTPACK)
        return table_set(kv->v.ptr, field, flen, val, vlen, is_new);
    unsigned char *lp = kv->v.ptr;
    unsigned char *p = lp_value_of(lp, field, flen);
    int rc;
    if (p != NULL) {
        *is_new = false;
        rc = lp_replace(&lp, &p, val, vlen);
        kv->v.ptr = lp;
        return rc;
    }
    /* Add the pair as a whole or not at all. */
    size_t before = lp_len(lp);
    rc = lp_append(&lp, field, flen);
    if (rc == STORAGE_OK) {
        rc = lp_append(&lp, val, vlen);
        if (rc != STORAGE_OK)
            lp_delete_range(&lp, (long)before, 1);
    }
    kv->v.ptr = lp;
    if (rc != STORAGE_OK)
        return rc;
    *is_new = true;
    /* The pair is in: if the conversion fails, the listpack simply stays. */
    if (thash_len(kv) > lim->max_entries)
        (void)thash_convert_to_table(kv);
    return STORAGE_OK;
}

bool thash_delete(struct kv *kv, const char *field, size_t flen) {
    if (kv->encoding == OBJ_ENC_LISTPACK) {
        unsigned char *lp = kv->v.ptr;
        unsigned char *p = lp_find(lp, lp_first(lp), field, flen, 1);
        if (p == NULL)
            return false;
        lp_delete(&lp, p, 2, NULL);
        kv->v.ptr = lp;
        return true;
    }
    struct thash_entry *e = dict_remove(kv->v.ptr, field, flen);
    entry_free(e);
    return e != NULL;
}

/* ---- Iteration, sampling, scanning ---- */

void thash_iter_init(struct thash_iter *it, struct kv *kv) {
    it->kv = kv;
    if (kv->encoding == OBJ_ENC_LISTPACK)
        it->p = lp_first(kv->v.ptr);
    else
        dict_iter_init(&it->di, kv->v.ptr);
}

bool thash_iter_next(struct thash_iter *it, struct thash_str *field, struct thash_str *val) {
    if (it->kv->encoding == OBJ_ENC_LISTPACK) {
        unsigned char *lp = it->kv->v.ptr;
        if (it->p == NULL)
            return false;
        unsigned char *vp = lp_next(lp, it->p);
        if (field)
            set_lp_str(field, it->p);
        if (val)
            set_lp_str(val, vp);
        it->p = lp_next(lp, vp);
        return true;
    }
    const struct thash_entry *e = dict_iter_next(&it->di);
    if (e == NULL)
        return false;
    set_entry(e, field, val);
    return true;
}

void thash_iter_close(struct thash_iter *it) {
    if (it->kv->encoding != OBJ_ENC_LISTPACK)
        dict_iter_close(&it->di);
}

void thash_pick(const struct kv *kv, uint64_t rnd, struct thash_str *field, struct thash_str *val) {
    if (kv->encoding == OBJ_ENC_LISTPACK) {
        const unsigned char *lp = kv->v.ptr;
        unsigned char *p = lp_seek(lp, (long)(rnd % thash_len(kv)) * 2);
        set_lp_str(field, p);
        set_lp_str(val, lp_next(lp, p));
        return;
    }
    set_entry(dict_random(kv->v.ptr, rnd), field, val);
}

struct scan_adapter {
    thash_scan_cb fn;
    void *arg;
};

static void scan_entry(void *elem, void *arg) {
    const struct thash_entry *e = elem;
    struct scan_adapter *a = arg;
    a->fn(e->data, e->flen, e->data + e->flen, e->vlen, a->arg);
}

uint64_t thash_scan(const struct kv *kv, uint64_t cursor, thash_scan_cb fn, void *arg) {
    if (kv->encoding == OBJ_ENC_LISTPACK) {
        const unsigned char *lp = kv->v.ptr;
        for (unsigned char *p = lp_first(lp); p; p = lp_next(lp, lp_next(lp, p))) {
            struct thash_str f, v;
            set_lp_str(&f, p);
            set_lp_str(&v, lp_next(lp, p));
            fn(f.p, f.len, v.p, v.len, arg);
        }
        return 0;
    }
    struct scan_adapter a = {fn, arg};
    return dict_scan(kv->v.ptr, cursor, scan_entry, &a);
}

/* ---- Object hooks ---- */

void thash_free_value(struct kv *kv) {
    if (kv->encoding == OBJ_ENC_LISTPACK) {
        lp_free(kv->v.ptr);
        return;
    }
    dict_close(kv->v.ptr, entry_free);
    mem_free(kv->v.ptr);
}

size_t thash_mem_bytes(const struct kv *kv) {
    if (kv->encoding == OBJ_ENC_LISTPACK)
        return mem_usable(kv->v.ptr);
    struct dict *d = kv->v.ptr;
    size_t bytes = mem_usable(d) + dict_mem_bytes(d);
    struct dict_iter it;
    dict_iter_init(&it, d);
    for (void *e; (e = dict_iter_next(&it)) != NULL;)
        bytes += mem_usable(e);
    dict_iter_close(&it);
    return bytes;
}

static void *dup_value(const struct kv *kv) {
    if (kv->encoding == OBJ_ENC_LISTPACK) {
        size_t n = lp_bytes(kv->v.ptr);
        unsigned char *lp = mem_alloc(n);
        if (lp != NULL)
            memcpy(lp, kv->v.ptr, n);
        return lp;
    }
    struct dict *src = kv->v.ptr;
    struct dict *d = mem_alloc(sizeof(*d));
    if (d == NULL)
        return NULL;
    dict_init(d, &entry_dict_type);
    struct dict_iter it;
    dict_iter_init(&it, src);
    for (const struct thash_entry *e; (e = dict_iter_next(&it)) != NULL;) {
        struct thash_entry *copy = entry_new(e->data, e->flen, e->data + e->flen, e->vlen);
        if (copy == NULL || dict_add(d, copy) != STORAGE_OK) {
            mem_free(copy);
            dict_close(d, entry_free);
            mem_free(d);
            d = NULL;
            break;
        }
    }
    dict_iter_close(&it);
    return d;
}

void thash_register(void) {
    obj_register_free(OBJ_HASH, thash_free_value);
    obj_register_size(OBJ_HASH, thash_mem_bytes);
    obj_register_dup(OBJ_HASH, dup_value);
}
