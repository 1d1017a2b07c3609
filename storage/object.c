/* Keyspace records (see object.h). Owns the record layout and string value
 * encodings; collections belong to their own files and register their
 * destructors here so this file needs no knowledge of them. */
#include "storage/object.h"

#include "storage/mem.h"
#include "storage/num.h"

#include <limits.h>

static obj_free_fn free_fns[16];
static obj_size_fn size_fns[16];
static obj_dup_fn dup_fns[16];

void obj_register_free(enum obj_type type, obj_free_fn fn) {
    free_fns[type] = fn;
}

void obj_register_size(enum obj_type type, obj_size_fn fn) {
    size_fns[type] = fn;
}

void obj_register_dup(enum obj_type type, obj_dup_fn fn) {
    dup_fns[type] = fn;
}

const char *obj_type_name(unsigned type) {
    switch (type) {
    case OBJ_STRING:
        return "string";
    case OBJ_LIST:
        return "list";
    case OBJ_SET:
        return "set";
    case OBJ_ZSET:
        return "zset";
    case OBJ_HASH:
        return "hash";
    case OBJ_STREAM:
        return "stream";
    default:
        return "unknown";
    }
}

/* Redis 7.0 strEncoding(). */
const char *obj_encoding_name(unsigned encoding) {
    switch (encoding) {
    case OBJ_ENC_RAW:
        return "raw";
    case OBJ_ENC_INT:
        return "int";
    case OBJ_ENC_HT:
        return "hashtable";
    case OBJ_ENC_INTSET:
        return "intset";
    case OBJ_ENC_SKIPLIST:
        return "skiplist";
    case OBJ_ENC_EMBSTR:
        return "embstr";
    case OBJ_ENC_QUICKLIST:
        return "quicklist";
    case OBJ_ENC_STREAM:
        return "stream";
    case OBJ_ENC_LISTPACK:
        return "listpack";
    default:
        return "unknown";
    }
}

const char *kv_key_of(const void *elem, size_t *len) {
    const struct kv *kv = elem;
    *len = kv->keylen;
    return kv_key(kv);
}

bool obj_parse_ll(const char *s, size_t len, long long *out) {
    if (len == 0 || len > 20)
        return false;
    size_t i = 0;
    bool negative = false;
    if (s[0] == '-') {
        negative = true;
        if (++i == len)
            return false;
    }
    if (s[i] == '0') {
        if (len == 1) {
            *out = 0;
            return true;
        }
        return false;
    }
    unsigned long long v = 0;
    for (; i < len; i++) {
        if (s[i] < '0' || s[i] > '9')
            return false;
        unsigned digit = (unsigned)(s[i] - '0');
        if (v > (ULLONG_MAX - digit) / 10)
            return false;
        v = v * 10 + digit;
    }
    if (negative) {
        if (v > (unsigned long long)LLONG_MAX + 1)
            return false;
        *out = v == (unsigned long long)LLONG_MAX + 1 ? LLONG_MIN : -(long long)v;
        return true;
    }
    if (v > (unsigned long long)LLONG_MAX)
        return false;
    *out = (long long)v;
    return true;
}

static struct kv *alloc_record(const char *key, size_t keylen, size_t extra, int64_t expire_ms) {
    size_t head = expire_ms >= 0 ? 8 : 0;
    struct kv *kv = mem_alloc(sizeof(*kv) + head + keylen + extra);
    if (kv == NULL)
        return NULL;
    memset(kv, 0, sizeof(*kv));
    kv->keylen = keylen & 0x3fffffff; /* keys are at most proto-max-bulk-len (512 MB) */
    kv->has_expire = expire_ms >= 0;
    if (kv->has_expire)
        memcpy(kv->data, &expire_ms, 8);
    memcpy(kv->data + head, key, keylen);
    return kv;
}

struct kv *kv_new_int(const char *key, size_t keylen, long long v, int64_t expire_ms) {
    struct kv *kv = alloc_record(key, keylen, 0, expire_ms);
    if (kv == NULL)
        return NULL;
    kv->type = OBJ_STRING;
    kv->encoding = OBJ_ENC_INT;
    kv->v.ll = v;
    return kv;
}

struct kv *kv_new_string(const char *key, size_t keylen, const char *val, size_t vallen,
                         int64_t expire_ms) {
    long long ll;
    if (vallen <= 20 && obj_parse_ll(val, vallen, &ll))
        return kv_new_int(key, keylen, ll, expire_ms);
    return kv_new_string_unencoded(key, keylen, val, vallen, expire_ms);
}

struct kv *kv_new_raw(const char *key, size_t keylen, const char *val, size_t vallen,
                      int64_t expire_ms) {
    struct raw_string *raw = mem_alloc(sizeof(*raw) + vallen);
    if (raw == NULL)
        return NULL;
    raw->len = raw->cap = vallen;
    if (val != NULL)
        memcpy(raw->data, val, vallen);
    else
        memset(raw->data, 0, vallen);
    struct kv *kv = kv_new_ptr(key, keylen, OBJ_STRING, OBJ_ENC_RAW, raw, expire_ms);
    if (kv == NULL)
        mem_free(raw);
    return kv;
}

/* Redis's SDS_MAX_PREALLOC: greedy growth doubles up to this, then adds it. */
#define RAW_MAX_PREALLOC (1024 * 1024)

bool kv_raw_grow(struct kv *kv, size_t len) {
    struct raw_string *raw = kv->v.ptr;
    if (len <= raw->len)
        return true;
    if (len > raw->cap) {
        size_t cap = len < RAW_MAX_PREALLOC ? len * 2 : len + RAW_MAX_PREALLOC;
        struct raw_string *grown = mem_realloc(raw, sizeof(*raw) + cap);
        if (grown == NULL)
            return false;
        grown->cap = cap;
        raw = grown;
        kv->v.ptr = raw;
    }
    memset(raw->data + raw->len, 0, len - raw->len);
    raw->len = len;
    return true;
}

struct kv *kv_new_string_unencoded(const char *key, size_t keylen, const char *val, size_t vallen,
                                   int64_t expire_ms) {
    if (vallen <= OBJ_EMBSTR_MAX) {
        struct kv *kv = alloc_record(key, keylen, vallen, expire_ms);
        if (kv == NULL)
            return NULL;
        kv->type = OBJ_STRING;
        kv->encoding = OBJ_ENC_EMBSTR;
        kv->v.embstr_len = vallen;
        memcpy((char *)kv_key(kv) + keylen, val, vallen);
        return kv;
    }
    return kv_new_raw(key, keylen, val, vallen, expire_ms);
}

struct kv *kv_new_ptr(const char *key, size_t keylen, enum obj_type type, enum obj_encoding enc,
                      void *ptr, int64_t expire_ms) {
    struct kv *kv = alloc_record(key, keylen, 0, expire_ms);
    if (kv == NULL)
        return NULL;
    kv->type = type;
    kv->encoding = enc;
    kv->v.ptr = ptr;
    return kv;
}

static size_t embedded_len(const struct kv *kv) {
    return kv->encoding == OBJ_ENC_EMBSTR ? kv->v.embstr_len : 0;
}

static struct kv *copy_record(const struct kv *kv, const char *key, size_t keylen,
                              int64_t expire_ms) {
    size_t emb = embedded_len(kv);
    struct kv *copy = alloc_record(key, keylen, emb, expire_ms);
    if (copy == NULL)
        return NULL;
    copy->v = kv->v;
    copy->lru = kv->lru;
    copy->type = kv->type;
    copy->encoding = kv->encoding;
    memcpy((char *)kv_key(copy) + keylen, kv_key(kv) + kv->keylen, emb);
    return copy;
}

struct kv *kv_with_expire(const struct kv *kv, int64_t expire_ms) {
    return copy_record(kv, kv_key(kv), kv->keylen, expire_ms);
}

struct kv *kv_rename(const struct kv *kv, const char *key, size_t keylen) {
    return copy_record(kv, key, keylen, kv_expire(kv));
}

struct kv *kv_copy(const struct kv *kv, const char *key, size_t keylen, int64_t expire_ms) {
    struct kv *copy = copy_record(kv, key, keylen, expire_ms);
    if (copy == NULL || (kv->type == OBJ_STRING && kv->encoding != OBJ_ENC_RAW))
        return copy;
    void *value = NULL;
    if (kv->type == OBJ_STRING) {
        const struct raw_string *raw = kv->v.ptr;
        struct raw_string *dup = mem_alloc(sizeof(*dup) + raw->len);
        if (dup != NULL) {
            dup->len = dup->cap = raw->len;
            memcpy(dup->data, raw->data, raw->len);
        }
        value = dup;
    } else if (dup_fns[kv->type] != NULL) {
        value = dup_fns[kv->type](kv);
    }
    if (value == NULL) {
        kv_free_shell(copy);
        return NULL;
    }
    copy->v.ptr = value;
    return copy;
}

void kv_free_shell(struct kv *kv) {
    mem_free(kv);
}

bool kv_overwrite_string(struct kv *kv, const char *val, size_t len, int64_t expire_ms) {
    if (kv->type != OBJ_STRING || (expire_ms >= 0) != (kv->has_expire != 0))
        return false;
    long long ll;
    if (len <= 20 && obj_parse_ll(val, len, &ll)) {
        if (kv->encoding != OBJ_ENC_INT)
            return false;
        kv->v.ll = ll;
    } else if (len <= OBJ_EMBSTR_MAX) {
        if (kv->encoding != OBJ_ENC_EMBSTR || kv->v.embstr_len != len)
            return false;
        memcpy((char *)kv_key(kv) + kv->keylen, val, len);
    } else {
        struct raw_string *raw = kv->v.ptr;
        if (kv->encoding != OBJ_ENC_RAW || raw->cap < len || raw->cap > 2 * len)
            return false;
        memcpy(raw->data, val, len);
        raw->len = len;
    }
    if (expire_ms >= 0)
        memcpy(kv->data, &expire_ms, 8);
    return true;
}

void kv_free(struct kv *kv) {
    if (kv == NULL)
        return;
    if (kv->type == OBJ_STRING) {
        if (kv->encoding == OBJ_ENC_RAW)
            mem_free(kv->v.ptr);
    } else if (free_fns[kv->type] != NULL) {
        free_fns[kv->type](kv);
    }
    mem_free(kv);
}

size_t kv_mem_bytes(const struct kv *kv) {
    size_t bytes = mem_usable(kv);
    if (kv->type == OBJ_STRING) {
        if (kv->encoding == OBJ_ENC_RAW)
            bytes += mem_usable(kv->v.ptr);
    } else if (size_fns[kv->type] != NULL) {
        bytes += size_fns[kv->type](kv);
    }
    return bytes;
}

const char *kv_string(const struct kv *kv, char *buf, size_t *len) {
    switch (kv->encoding) {
    case OBJ_ENC_INT:
        *len = num_format_ll(buf, kv->v.ll);
        return buf;
    case OBJ_ENC_EMBSTR:
        *len = kv->v.embstr_len;
        return kv_key(kv) + kv->keylen;
    default: {
        const struct raw_string *raw = kv->v.ptr;
        *len = raw->len;
        return raw->data;
    }
    }
}
