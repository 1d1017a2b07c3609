/* Set values (see set.h): owns the two set encodings, the conversion from
 * intset to table, and positional access. It does not parse commands or
 * choose random members: callers pass positions computed from their own
 * randomness. */
#include "storage/set.h"

#include "storage/dict.h"
#include "storage/intset.h"
#include "storage/mem.h"
#include "storage/num.h"
#include "storage/storage.h"

#include <string.h>

/* A table member: one allocation with its position in the dense array. */
struct member {
    uint32_t pos;
    uint32_t len;
    char data[];
};

struct table {
    struct dict dict;        /* members by bytes */
    struct member **members; /* dense array: positions 0 .. count-1 */
    size_t count;
    size_t cap;
};

static const char *member_key(const void *elem, size_t *len) {
    const struct member *m = elem;
    *len = m->len;
    return m->data;
}

static const struct dict_type member_dict_type = {.key_of = member_key};

/* ---- Table encoding ---- */

static struct table *table_new(void) {
    struct table *t = mem_alloc(sizeof(*t));
    if (t == NULL)
        return NULL;
    dict_init(&t->dict, &member_dict_type);
    t->members = NULL;
    t->count = t->cap = 0;
    return t;
}

static void table_free(struct table *t) {
    dict_close(&t->dict, NULL);
    for (size_t i = 0; i < t->count; i++)
        mem_free(t->members[i]);
    mem_free(t->members);
    mem_free(t);
}

/* Adds a member known to be absent. Returns 0 or STORAGE_ENOMEM. */
static int table_add_new(struct table *t, const char *m, size_t len) {
    if (len > UINT32_MAX || t->count >= UINT32_MAX)
        return STORAGE_ENOMEM;
    if (t->count == t->cap) {
        size_t cap = t->cap ? t->cap * 2 : 4;
        struct member **grown = mem_realloc(t->members, cap * sizeof(*grown));
        if (grown == NULL)
            return STORAGE_ENOMEM;
        t->members = grown;
        t->cap = cap;
    }
    struct member *mb = mem_alloc(sizeof(*mb) + len);
    if (mb == NULL)
        return STORAGE_ENOMEM;
    mb->pos = (uint32_t)t->count;
    mb->len = (uint32_t)len;
    memcpy(mb->data, m, len);
    if (dict_add(&t->dict, mb) != 0) {
        mem_free(mb);
        return STORAGE_ENOMEM;
    }
    t->members[t->count++] = mb;
    return 0;
}

/* Unlinks 'mb' (already out of the dict) from the array: the last member
 * takes its position. Frees it. */
static void table_unlink(struct table *t, struct member *mb) {
    struct member *last = t->members[--t->count];
    t->members[mb->pos] = last;
    last->pos = mb->pos;
    mem_free(mb);
    if (t->cap > 8 && t->count < t->cap / 4) {
        struct member **shrunk = mem_realloc(t->members, t->cap / 2 * sizeof(*shrunk));
        if (shrunk != NULL) {
            t->members = shrunk;
            t->cap /= 2;
        }
    }
}

static size_t table_mem_bytes(const struct table *t) {
    size_t bytes = mem_usable(t) + dict_mem_bytes(&t->dict);
    if (t->members != NULL)
        bytes += mem_usable(t->members);
    for (size_t i = 0; i < t->count; i++)
        bytes += mem_usable(t->members[i]);
    return bytes;
}

/* ---- Records ---- */

struct kv *set_new(const char *key, size_t keylen, enum obj_encoding enc) {
    void *value = enc == OBJ_ENC_INTSET ? (void *)intset_new() : (void *)table_new();
    if (value == NULL)
        return NULL;
    struct kv *kv = kv_new_ptr(key, keylen, OBJ_SET, enc, value, -1);
    if (kv == NULL) {
        if (enc == OBJ_ENC_INTSET)
            intset_free(value);
        else
            table_free(value);
    }
    return kv;
}

enum obj_encoding set_encoding_for(const char *m, size_t len) {
    long long v;
    return obj_parse_ll(m, len, &v) ? OBJ_ENC_INTSET : OBJ_ENC_HT;
}

/* Rebuilds an intset value as a table, members in ascending order. On
 * failure the intset stays in place. */
static int convert_to_table(struct kv *kv) {
    struct intset *is = kv->v.ptr;
    struct table *t = table_new();
    if (t == NULL)
        return STORAGE_ENOMEM;
    for (size_t i = 0; i < intset_len(is); i++) {
        char buf[SET_INT_BUF];
        size_t n = num_format_ll(buf, (long long)intset_get(is, i));
        if (table_add_new(t, buf, n) != 0) {
            table_free(t);
            return STORAGE_ENOMEM;
        }
    }
    intset_free(is);
    kv->v.ptr = t;
    kv->encoding = OBJ_ENC_HT;
    return 0;
}

int set_add(struct kv *kv, const char *m, size_t len, size_t max_intset) {
    if (kv->encoding == OBJ_ENC_INTSET) {
        long long v;
        if (obj_parse_ll(m, len, &v)) {
            struct intset **is = (struct intset **)&kv->v.ptr;
            if (intset_contains(*is, v))
                return 0;
            if (intset_len(*is) < max_intset)
                return intset_add(is, v);
        }
        /* Redis 7.0 setTypeAdd: a non-integer, or one member too many. */
        if (convert_to_table(kv) != 0)
            return STORAGE_ENOMEM;
    }
    struct table *t = kv->v.ptr;
    if (dict_find(&t->dict, m, len) != NULL)
        return 0;
    int rc = table_add_new(t, m, len);
    return rc == 0 ? 1 : rc;
}

bool set_remove(struct kv *kv, const char *m, size_t len) {
    if (kv->encoding == OBJ_ENC_INTSET) {
        long long v;
        return obj_parse_ll(m, len, &v) && intset_remove((struct intset **)&kv->v.ptr, v);
    }
    struct table *t = kv->v.ptr;
    struct member *mb = dict_remove(&t->dict, m, len);
    if (mb == NULL)
        return false;
    table_unlink(t, mb);
    return true;
}

bool set_contains(const struct kv *kv, const char *m, size_t len) {
    if (kv->encoding == OBJ_ENC_INTSET) {
        long long v;
        return obj_parse_ll(m, len, &v) && intset_contains(kv->v.ptr, v);
    }
    const struct table *t = kv->v.ptr;
    return dict_find(&t->dict, m, len) != NULL;
}

size_t set_size(const struct kv *kv) {
    if (kv->encoding == OBJ_ENC_INTSET)
        return intset_len(kv->v.ptr);
    const struct table *t = kv->v.ptr;
    return t->count;
}

const char *set_at(const struct kv *kv, size_t pos, char buf[SET_INT_BUF], size_t *len) {
    if (kv->encoding == OBJ_ENC_INTSET) {
        *len = num_format_ll(buf, (long long)intset_get(kv->v.ptr, pos));
        return buf;
    }
    const struct table *t = kv->v.ptr;
    *len = t->members[pos]->len;
    return t->members[pos]->data;
}

void set_remove_at(struct kv *kv, size_t pos) {
    if (kv->encoding == OBJ_ENC_INTSET) {
        intset_remove_at((struct intset **)&kv->v.ptr, pos);
        return;
    }
    struct table *t = kv->v.ptr;
    struct member *mb = t->members[pos];
    dict_remove(&t->dict, mb->data, mb->len);
    table_unlink(t, mb);
}

/* ---- SSCAN ---- */

struct scan_adapter {
    set_scan_cb fn;
    void *arg;
};

static void scan_member(void *elem, void *arg) {
    const struct member *mb = elem;
    const struct scan_adapter *a = arg;
    a->fn(mb->data, mb->len, a->arg);
}

uint64_t set_scan(const struct kv *kv, uint64_t cursor, set_scan_cb fn, void *arg) {
    if (kv->encoding == OBJ_ENC_INTSET) {
        char buf[SET_INT_BUF];
        for (size_t i = 0; i < intset_len(kv->v.ptr); i++) {
            size_t len;
            const char *m = set_at(kv, i, buf, &len);
            fn(m, len, arg);
        }
        return 0;
    }
    const struct table *t = kv->v.ptr;
    struct scan_adapter a = {fn, arg};
    return dict_scan(&t->dict, cursor, scan_member, &a);
}

/* ---- Type registration ---- */

void set_free_value(struct kv *kv) {
    if (kv->encoding == OBJ_ENC_INTSET)
        intset_free(kv->v.ptr);
    else
        table_free(kv->v.ptr);
}

size_t set_mem_bytes(const struct kv *kv) {
    if (kv->encoding == OBJ_ENC_INTSET)
        return intset_mem_bytes(kv->v.ptr);
    return table_mem_bytes(kv->v.ptr);
}

void *set_dup_value(const struct kv *kv) {
    if (kv->encoding == OBJ_ENC_INTSET)
        return intset_dup(kv->v.ptr);
    const struct table *t = kv->v.ptr;
    struct table *copy = table_new();
    if (copy == NULL)
        return NULL;
    for (size_t i = 0; i < t->count; i++) {
        if (table_add_new(copy, t->members[i]->data, t->members[i]->len) != 0) {
            table_free(copy);
            return NULL;
        }
    }
    return copy;
}

void set_register(void) {
    obj_register_free(OBJ_SET, set_free_value);
    obj_register_size(OBJ_SET, set_mem_bytes);
    obj_register_dup(OBJ_SET, set_dup_value);
}
