/* Snapshot decoding (see snapshot.h): RESTORE payloads and the resumable
 * dataset loader.
 *
 * The msgpack reader here is a strict decoder of exactly the subset the
 * format uses, not msgpack_unpack, because msgpack-c allocates containers at
 * the size their header declares: a corrupt count of 2^32 would cost
 * gigabytes before the truncation shows. Here every count and length is
 * checked against the bytes that remain (each element takes at least one
 * byte) and against the format's limits before anything is allocated.
 *
 * Values are rebuilt through the normal storage functions (quicklist_push,
 * set_add, thash_set, zset_add, stream_append) so they get the encodings
 * the write path would give them. Nothing decoded reaches a live keyspace:
 * the loader builds its own and hands them over only when complete. */
#include "storage/snapshot.h"

#include "storage/crc64.h"
#include "storage/keyspace.h"
#include "storage/mem.h"
#include "storage/quicklist.h"
#include "storage/set.h"
#include "storage/snapshot_format.h"
#include "storage/storage.h"
#include "storage/stream.h"
#include "storage/thash.h"
#include "storage/zset.h"

#include <limits.h>
#include <math.h>
#include <stdarg.h>
#include <stdio.h>
#include <string.h>

#define MAX_AUX 32

/* ---- Bounded msgpack reader ---- */

struct cursor {
    const unsigned char *base; /* offsets in error messages count from here */
    const unsigned char *p;
    const unsigned char *end;
    struct snapshot_error *err;
    /* Scratch arrays for stream entries, reused across entries. */
    char **fv;
    size_t *fvlen;
    size_t fvcap;
};

static size_t left(const struct cursor *c) {
    return (size_t)(c->end - c->p);
}

static int fail_at(struct cursor *c, const unsigned char *at, int code, const char *field,
                   const char *fmt, ...) __attribute__((format(printf, 5, 6)));
static int fail_at(struct cursor *c, const unsigned char *at, int code, const char *field,
                   const char *fmt, ...) {
    if (c->err != NULL) {
        char why[128];
        va_list ap;
        va_start(ap, fmt);
        vsnprintf(why, sizeof(why), fmt, ap);
        va_end(ap);
        c->err->offset = (size_t)(at - c->base);
        snprintf(c->err->msg, sizeof(c->err->msg), "%s at offset %zu: %s", field, c->err->offset,
                 why);
    }
    return code;
}

static int nomem(struct cursor *c, const char *field) {
    return fail_at(c, c->p, SNAPSHOT_ENOMEM, field, "out of memory");
}

/* Reads 'n' big-endian bytes after the tag; false when truncated. */
static bool take_be(struct cursor *c, size_t n, uint64_t *v) {
    if (left(c) < n)
        return false;
    *v = 0;
    for (size_t i = 0; i < n; i++)
        *v = (*v << 8) | c->p[i];
    c->p += n;
    return true;
}

/* Any msgpack integer into 'neg' (true: negative, value in 'ival') or
 * 'uval'. Returns 0, or an error naming 'field'. The cursor moves only on
 * success. */
static int read_integer(struct cursor *c, const char *field, bool *neg, uint64_t *uval,
                        int64_t *ival) {
    const unsigned char *start = c->p;
    if (left(c) < 1)
        return fail_at(c, start, SNAPSHOT_ECORRUPT, field, "truncated");
    unsigned char t = *c->p++;
    uint64_t v;
    *neg = false;
    if (t <= 0x7f) {
        *uval = t;
        return 0;
    }
    if (t >= 0xe0) {
        *neg = true;
        *ival = (int8_t)t;
        return 0;
    }
    if (t >= 0xcc && t <= 0xcf) {
        if (!take_be(c, (size_t)1 << (t - 0xcc), &v))
            goto truncated;
        *uval = v;
        return 0;
    }
    if (t >= 0xd0 && t <= 0xd3) {
        size_t n = (size_t)1 << (t - 0xd0);
        if (!take_be(c, n, &v))
            goto truncated;
        if (n < 8 && ((v >> (n * 8 - 1)) & 1))
            v |= ~0ULL << (n * 8); /* sign-extend */
        int64_t s = (int64_t)v;
        if (s >= 0) {
            *uval = (uint64_t)s;
        } else {
            *neg = true;
            *ival = s;
        }
        return 0;
    }
    c->p = start;
    return fail_at(c, start, SNAPSHOT_ECORRUPT, field, "not an integer");
truncated:
    c->p = start;
    return fail_at(c, start, SNAPSHOT_ECORRUPT, field, "truncated");
}

/* An unsigned integer <= 'max'. */
static int read_uint(struct cursor *c, const char *field, uint64_t max, uint64_t *out) {
    const unsigned char *start = c->p;
    bool neg;
    uint64_t u = 0;
    int64_t i;
    int rc = read_integer(c, field, &neg, &u, &i);
    if (rc != 0)
        return rc;
    if (neg || u > max) {
        c->p = start;
        return fail_at(c, start, SNAPSHOT_ECORRUPT, field, "out of range");
    }
    *out = u;
    return 0;
}

/* A signed integer in ['min', INT64_MAX]. */
static int read_int(struct cursor *c, const char *field, int64_t min, int64_t *out) {
    const unsigned char *start = c->p;
    bool neg;
    uint64_t u = 0;
    int64_t i = 0;
    int rc = read_integer(c, field, &neg, &u, &i);
    if (rc != 0)
        return rc;
    if (!neg && u > INT64_MAX)
        goto range;
    int64_t v = neg ? i : (int64_t)u;
    if (v < min)
        goto range;
    *out = v;
    return 0;
range:
    c->p = start;
    return fail_at(c, start, SNAPSHOT_ECORRUPT, field, "out of range");
}

/* A count of items that take at least 'min_item_bytes' each: larger counts
 * than the rest of the input could hold are refused before any allocation. */
static int read_count(struct cursor *c, const char *field, uint64_t min, size_t min_item_bytes,
                      uint64_t *out) {
    const unsigned char *start = c->p;
    int rc = read_uint(c, field, UINT64_MAX, out);
    if (rc != 0)
        return rc;
    if (*out < min || *out > left(c) / min_item_bytes) {
        c->p = start;
        return fail_at(c, start, SNAPSHOT_ECORRUPT, field,
                       *out < min ? "too small" : "larger than the input");
    }
    return 0;
}

/* A bin or str of at most 'max' bytes, borrowed from the input. */
static int read_bytes(struct cursor *c, const char *field, size_t max, const char **p,
                      size_t *len) {
    const unsigned char *start = c->p;
    if (left(c) < 1)
        return fail_at(c, start, SNAPSHOT_ECORRUPT, field, "truncated");
    unsigned char t = *c->p++;
    uint64_t n;
    bool ok = true;
    if ((t & 0xe0) == 0xa0)
        n = t & 0x1f;
    else if (t == 0xc4 || t == 0xd9)
        ok = take_be(c, 1, &n);
    else if (t == 0xc5 || t == 0xda)
        ok = take_be(c, 2, &n);
    else if (t == 0xc6 || t == 0xdb)
        ok = take_be(c, 4, &n);
    else {
        c->p = start;
        return fail_at(c, start, SNAPSHOT_ECORRUPT, field, "not a string");
    }
    if (!ok || n > left(c)) {
        c->p = start;
        return fail_at(c, start, SNAPSHOT_ECORRUPT, field, "truncated");
    }
    if (n > max) {
        c->p = start;
        return fail_at(c, start, SNAPSHOT_ECORRUPT, field, "longer than %zu bytes", max);
    }
    *p = (const char *)c->p;
    *len = (size_t)n;
    c->p += n;
    return 0;
}

static int read_double(struct cursor *c, const char *field, double *out) {
    const unsigned char *start = c->p;
    uint64_t bits;
    if (left(c) < 1)
        return fail_at(c, start, SNAPSHOT_ECORRUPT, field, "truncated");
    unsigned char t = *c->p++;
    if (t == 0xcb) {
        if (!take_be(c, 8, &bits))
            goto truncated;
        memcpy(out, &bits, 8);
        return 0;
    }
    if (t == 0xca) {
        if (!take_be(c, 4, &bits))
            goto truncated;
        uint32_t b32 = (uint32_t)bits;
        float f;
        memcpy(&f, &b32, 4);
        *out = f;
        return 0;
    }
    c->p = start;
    return fail_at(c, start, SNAPSHOT_ECORRUPT, field, "not a float");
truncated:
    c->p = start;
    return fail_at(c, start, SNAPSHOT_ECORRUPT, field, "truncated");
}

static int read_id(struct cursor *c, const char *field, struct stream_id *id) {
    int rc = read_uint(c, field, UINT64_MAX, &id->ms);
    return rc ? rc : read_uint(c, field, UINT64_MAX, &id->seq);
}

/* ---- Values ---- */

/* Gives the key-only record 'kv' its expiry (the collection constructors
 * make records without one). Frees 'kv' and returns NULL when out of memory. */
static struct kv *with_expire(struct kv *kv, int64_t expire_ms) {
    if (expire_ms < 0)
        return kv;
    struct kv *e = kv_with_expire(kv, expire_ms);
    if (e == NULL) {
        kv_free(kv);
        return NULL;
    }
    kv_free_shell(kv);
    return e;
}

static int decode_list(struct cursor *c, const struct snapshot_params *p, struct quicklist **out) {
    uint64_t n;
    int rc = read_count(c, "list length", 1, 1, &n);
    if (rc != 0)
        return rc;
    struct quicklist *ql = quicklist_new(p->list_fill);
    if (ql == NULL)
        return nomem(c, "list");
    for (uint64_t i = 0; i < n; i++) {
        const char *s;
        size_t len;
        rc = read_bytes(c, "list element", SIZE_MAX, &s, &len);
        if (rc == 0 && quicklist_push(ql, false, s, len) != 0)
            rc = nomem(c, "list element");
        if (rc != 0) {
            quicklist_free(ql);
            return rc;
        }
    }
    *out = ql;
    return 0;
}

static int decode_set(struct cursor *c, const char *key, size_t keylen,
                      const struct snapshot_params *p, struct kv **out) {
    uint64_t n;
    int rc = read_count(c, "set size", 1, 1, &n);
    if (rc != 0)
        return rc;
    struct kv *kv = NULL;
    for (uint64_t i = 0; i < n && rc == 0; i++) {
        const unsigned char *at = c->p;
        const char *m;
        size_t len;
        rc = read_bytes(c, "set member", SIZE_MAX, &m, &len);
        if (rc != 0)
            break;
        if (kv == NULL && (kv = set_new(key, keylen, set_encoding_for(m, len))) == NULL)
            return nomem(c, "set");
        int added = set_add(kv, m, len, p->set_max_intset);
        if (added < 0)
            rc = nomem(c, "set member");
        else if (added == 0)
            rc = fail_at(c, at, SNAPSHOT_ECORRUPT, "set member", "duplicate");
    }
    if (rc != 0) {
        if (kv != NULL)
            kv_free(kv);
        return rc;
    }
    *out = kv;
    return 0;
}

static int decode_hash(struct cursor *c, const char *key, size_t keylen,
                       const struct snapshot_params *p, struct kv **out) {
    uint64_t n;
    int rc = read_count(c, "hash size", 1, 2, &n);
    if (rc != 0)
        return rc;
    struct kv *kv = thash_new(key, keylen);
    if (kv == NULL)
        return nomem(c, "hash");
    struct thash_limits lim = {p->hash_max_entries, p->hash_max_value};
    for (uint64_t i = 0; i < n && rc == 0; i++) {
        const unsigned char *at = c->p;
        const char *f, *v;
        size_t flen, vlen;
        bool is_new;
        rc = read_bytes(c, "hash field", SIZE_MAX, &f, &flen);
        rc = rc ? rc : read_bytes(c, "hash value", SIZE_MAX, &v, &vlen);
        if (rc != 0)
            break;
        if (thash_set(kv, f, flen, v, vlen, &lim, &is_new) != 0)
            rc = nomem(c, "hash field");
        else if (!is_new)
            rc = fail_at(c, at, SNAPSHOT_ECORRUPT, "hash field", "duplicate");
    }
    if (rc != 0) {
        kv_free(kv);
        return rc;
    }
    *out = kv;
    return 0;
}

static int decode_zset(struct cursor *c, const char *key, size_t keylen,
                       const struct snapshot_params *p, struct kv **out) {
    uint64_t n;
    /* A member takes at least 1 byte and its score 5 (float32). */
    int rc = read_count(c, "zset size", 1, 6, &n);
    if (rc != 0)
        return rc;
    struct zset_limits lim = {p->zset_max_entries, p->zset_max_value};
    struct kv *kv = zset_new(key, keylen, (size_t)n, 0, &lim);
    if (kv == NULL)
        return nomem(c, "zset");
    for (uint64_t i = 0; i < n && rc == 0; i++) {
        const unsigned char *at = c->p;
        const char *m;
        size_t len;
        double score, newscore;
        int flags = 0;
        rc = read_bytes(c, "zset member", SIZE_MAX, &m, &len);
        const unsigned char *score_at = c->p;
        rc = rc ? rc : read_double(c, "zset score", &score);
        if (rc != 0)
            break;
        if (isnan(score))
            rc = fail_at(c, score_at, SNAPSHOT_ECORRUPT, "zset score", "not a number");
        else if (zset_add(kv, score, m, len, ZADD_IN_NX, &flags, &newscore, &lim) != 0)
            rc = nomem(c, "zset member");
        else if (!(flags & ZADD_OUT_ADDED))
            rc = fail_at(c, at, SNAPSHOT_ECORRUPT, "zset member", "duplicate");
    }
    if (rc != 0) {
        kv_free(kv);
        return rc;
    }
    *out = kv;
    return 0;
}

/* Makes room for 'n' field/value pointers in the cursor's scratch arrays. */
static bool reserve_fv(struct cursor *c, size_t n) {
    if (n <= c->fvcap)
        return true;
    char **fv = mem_realloc(c->fv, n * sizeof(*fv));
    if (fv == NULL)
        return false;
    c->fv = fv;
    size_t *fvlen = mem_realloc(c->fvlen, n * sizeof(*fvlen));
    if (fvlen == NULL)
        return false;
    c->fvlen = fvlen;
    c->fvcap = n;
    return true;
}

static int decode_stream_entries(struct cursor *c, const struct snapshot_params *p,
                                 struct stream *s, uint64_t length, struct stream_id *last) {
    for (uint64_t i = 0; i < length; i++) {
        const unsigned char *at = c->p;
        struct stream_id id;
        uint64_t npairs;
        int rc = read_id(c, "stream entry id", &id);
        if (rc != 0)
            return rc;
        if (i > 0 && stream_id_cmp(&id, last) <= 0)
            return fail_at(c, at, SNAPSHOT_ECORRUPT, "stream entry id", "not increasing");
        rc = read_count(c, "stream entry fields", 1, 2, &npairs);
        if (rc != 0)
            return rc;
        if (npairs > INT_MAX / 2)
            return fail_at(c, at, SNAPSHOT_ECORRUPT, "stream entry fields", "too many");
        size_t nfv = (size_t)npairs * 2;
        if (!reserve_fv(c, nfv))
            return nomem(c, "stream entry");
        for (size_t j = 0; j < nfv; j++) {
            const char *str;
            rc = read_bytes(c, j % 2 ? "stream entry value" : "stream entry field", SIZE_MAX, &str,
                            &c->fvlen[j]);
            if (rc != 0)
                return rc;
            c->fv[j] = (char *)(uintptr_t)str; /* stream_append only reads them */
        }
        if (stream_append(s, &id, (int)nfv, c->fv, c->fvlen, p->stream_node_max_bytes,
                          p->stream_node_max_entries) != 0)
            return nomem(c, "stream entry");
        *last = id;
    }
    return 0;
}

static int decode_consumer(struct cursor *c, struct stream_group *g) {
    const unsigned char *at = c->p;
    const char *name;
    size_t len;
    int64_t seen;
    uint64_t npending;
    bool created;
    int rc = read_bytes(c, "stream consumer name", SIZE_MAX, &name, &len);
    rc = rc ? rc : read_int(c, "stream consumer seen-time", INT64_MIN, &seen);
    rc = rc ? rc : read_count(c, "stream consumer pending count", 0, 4, &npending);
    if (rc != 0)
        return rc;
    struct stream_consumer *cons = stream_consumer_get(g, name, len, seen, &created);
    if (cons == NULL)
        return nomem(c, "stream consumer");
    if (!created)
        return fail_at(c, at, SNAPSHOT_ECORRUPT, "stream consumer name", "duplicate");
    cons->seen_time_ms = seen;
    for (uint64_t i = 0; i < npending; i++) {
        struct stream_id id;
        int64_t delivered;
        uint64_t count;
        at = c->p;
        rc = read_id(c, "stream pending id", &id);
        rc = rc ? rc : read_int(c, "stream pending delivery-time", INT64_MIN, &delivered);
        rc = rc ? rc : read_uint(c, "stream pending delivery-count", UINT64_MAX, &count);
        if (rc != 0)
            return rc;
        if (idmap_find(g->pel, &id) != NULL)
            return fail_at(c, at, SNAPSHOT_ECORRUPT, "stream pending id", "duplicate");
        struct stream_nack *nack = stream_pel_add(g, cons, &id);
        if (nack == NULL)
            return nomem(c, "stream pending entry");
        nack->delivery_time_ms = delivered;
        nack->delivery_count = count;
    }
    return 0;
}

static int decode_groups(struct cursor *c, struct stream *s) {
    uint64_t ngroups;
    int rc = read_count(c, "stream group count", 0, 5, &ngroups);
    for (uint64_t i = 0; rc == 0 && i < ngroups; i++) {
        const unsigned char *at = c->p;
        const char *name;
        size_t len;
        struct stream_id last;
        int64_t entries_read;
        uint64_t nconsumers;
        rc = read_bytes(c, "stream group name", SIZE_MAX, &name, &len);
        rc = rc ? rc : read_id(c, "stream group last-id", &last);
        rc = rc ? rc : read_int(c, "stream group entries-read", -1, &entries_read);
        if (rc != 0)
            break;
        bool oom = false;
        struct stream_group *g = stream_group_create(s, name, len, &last, entries_read, &oom);
        if (g == NULL) {
            rc = oom ? nomem(c, "stream group")
                     : fail_at(c, at, SNAPSHOT_ECORRUPT, "stream group name", "duplicate");
            break;
        }
        rc = read_count(c, "stream consumer count", 0, 3, &nconsumers);
        for (uint64_t j = 0; rc == 0 && j < nconsumers; j++)
            rc = decode_consumer(c, g);
    }
    return rc;
}

static int decode_stream(struct cursor *c, const struct snapshot_params *p, struct stream **out) {
    const unsigned char *at = c->p;
    uint64_t length, entries_added;
    struct stream_id last_id, max_deleted, last_entry = {0, 0};
    /* An entry is at least an ID (2 bytes), a count and one pair (3 bytes). */
    int rc = read_count(c, "stream length", 0, 5, &length);
    rc = rc ? rc : read_id(c, "stream last-id", &last_id);
    rc = rc ? rc : read_id(c, "stream max-deleted-id", &max_deleted);
    rc = rc ? rc : read_uint(c, "stream entries-added", UINT64_MAX, &entries_added);
    if (rc != 0)
        return rc;
    if (entries_added < length)
        return fail_at(c, at, SNAPSHOT_ECORRUPT, "stream entries-added", "below the length");
    struct stream *s = stream_new();
    if (s == NULL)
        return nomem(c, "stream");
    rc = decode_stream_entries(c, p, s, length, &last_entry);
    if (rc == 0 && length > 0 && stream_id_cmp(&last_entry, &last_id) > 0)
        rc = fail_at(c, at, SNAPSHOT_ECORRUPT, "stream last-id", "below the last entry");
    if (rc == 0) {
        s->last_id = last_id;
        s->max_deleted_id = max_deleted;
        s->entries_added = entries_added;
        rc = decode_groups(c, s);
    }
    if (rc != 0) {
        stream_free(s);
        return rc;
    }
    *out = s;
    return 0;
}

/* Decodes one value payload at the cursor into a new record for 'key'. */
static int decode_value(struct cursor *c, const char *key, size_t keylen, int64_t expire_ms,
                        const struct snapshot_params *p, struct kv **out) {
    const unsigned char *at = c->p;
    uint64_t type;
    int rc = read_uint(c, "value type", 255, &type);
    if (rc != 0)
        return rc;
    struct kv *kv = NULL;
    void *ptr = NULL;
    switch (type) {
    case OBJ_STRING: {
        const char *s;
        size_t len;
        rc = read_bytes(c, "string value", SIZE_MAX, &s, &len);
        if (rc != 0)
            return rc;
        kv = kv_new_string(key, keylen, s, len, expire_ms);
        if (kv == NULL)
            return nomem(c, "string value");
        *out = kv;
        return 0;
    }
    case OBJ_LIST:
        rc = decode_list(c, p, (struct quicklist **)&ptr);
        if (rc != 0)
            return rc;
        kv = kv_new_ptr(key, keylen, OBJ_LIST, OBJ_ENC_QUICKLIST, ptr, expire_ms);
        if (kv == NULL) {
            quicklist_free(ptr);
            return nomem(c, "list");
        }
        *out = kv;
        return 0;
    case OBJ_STREAM:
        rc = decode_stream(c, p, (struct stream **)&ptr);
        if (rc != 0)
            return rc;
        kv = kv_new_ptr(key, keylen, OBJ_STREAM, OBJ_ENC_STREAM, ptr, expire_ms);
        if (kv == NULL) {
            stream_free(ptr);
            return nomem(c, "stream");
        }
        *out = kv;
        return 0;
    case OBJ_SET:
        rc = decode_set(c, key, keylen, p, &kv);
        break;
    case OBJ_HASH:
        rc = decode_hash(c, key, keylen, p, &kv);
        break;
    case OBJ_ZSET:
        rc = decode_zset(c, key, keylen, p, &kv);
        break;
    default:
        return fail_at(c, at, SNAPSHOT_ECORRUPT, "value type", "unknown type %u", (unsigned)type);
    }
    if (rc != 0)
        return rc;
    if ((kv = with_expire(kv, expire_ms)) == NULL)
        return nomem(c, "value");
    *out = kv;
    return 0;
}

static void cursor_close(struct cursor *c) {
    mem_free(c->fv);
    mem_free(c->fvlen);
    c->fv = NULL;
    c->fvlen = NULL;
    c->fvcap = 0;
}

int snapshot_restore(const unsigned char *buf, size_t len, const char *key, size_t keylen,
                     int64_t expire_ms, const struct snapshot_params *params, struct kv **out,
                     struct snapshot_error *err) {
    struct cursor c = {.base = buf, .p = buf, .end = buf, .err = err};
    if (len < 10)
        return fail_at(&c, buf, SNAPSHOT_ECHECKSUM, "payload", "shorter than its trailer");
    if (le_get(buf + len - 10, 2) != SNAPSHOT_DUMP_VERSION)
        return fail_at(&c, buf + len - 10, SNAPSHOT_ECHECKSUM, "payload version", "unknown");
    if (le_get(buf + len - 8, 8) != crc64(0, buf, len - 8))
        return fail_at(&c, buf + len - 8, SNAPSHOT_ECHECKSUM, "payload checksum", "mismatch");
    c.end = buf + len - 10;
    struct kv *kv = NULL;
    int rc = decode_value(&c, key, keylen, expire_ms, params, &kv);
    if (rc == 0 && c.p != c.end) {
        kv_free(kv);
        rc = fail_at(&c, c.p, SNAPSHOT_ECORRUPT, "payload", "trailing bytes");
    }
    cursor_close(&c);
    if (rc == 0)
        *out = kv;
    return rc;
}

/* ---- Dataset loader ---- */

enum phase { PHASE_HEADER, PHASE_CHECKSUM, PHASE_BODY, PHASE_DONE, PHASE_FAILED };

struct aux {
    const char *name, *value;
    size_t namelen, valuelen;
};

struct snapshot_loader {
    const unsigned char *buf;
    size_t len;
    int ndbs;
    struct snapshot_params params;
    enum phase phase;
    int failed_rc;
    struct snapshot_error failure;
    size_t checked; /* bytes covered by 'crc' so far */
    uint64_t crc;
    struct cursor c; /* over the body */
    bool have_ctime;
    int64_t ctime_ms;
    struct keyspace **dbs;
    struct keyspace *db; /* the DB record being read */
    uint64_t db_keys_left;
    uint64_t keys;
    struct aux aux[MAX_AUX];
    int naux;
};

struct snapshot_loader *snapshot_loader_new(const unsigned char *buf, size_t len, int ndbs,
                                            const struct snapshot_params *params) {
    struct snapshot_loader *l = mem_calloc(sizeof(*l));
    if (l == NULL)
        return NULL;
    l->dbs = mem_calloc((size_t)(ndbs > 0 ? ndbs : 1) * sizeof(*l->dbs));
    if (l->dbs == NULL) {
        mem_free(l);
        return NULL;
    }
    l->buf = buf;
    l->len = len;
    l->ndbs = ndbs;
    l->params = *params;
    l->c.base = buf;
    l->c.p = buf;
    l->c.end = buf;
    return l;
}

static void free_dbs(struct snapshot_loader *l) {
    for (int i = 0; i < l->ndbs; i++) {
        keyspace_free(l->dbs[i]);
        l->dbs[i] = NULL;
    }
}

static int read_key(struct snapshot_loader *l) {
    struct cursor *c = &l->c;
    const unsigned char *at = c->p;
    const char *key;
    size_t keylen;
    int64_t expire_ms;
    struct kv *kv;
    int rc = read_bytes(c, "key", SNAPSHOT_MAX_KEY_LEN, &key, &keylen);
    rc = rc ? rc : read_int(c, "key expiry", -1, &expire_ms);
    rc = rc ? rc : decode_value(c, key, keylen, expire_ms, &l->params, &kv);
    if (rc != 0)
        return rc;
    if (keyspace_find(l->db, key, keylen) != NULL) {
        kv_free(kv);
        return fail_at(c, at, SNAPSHOT_ECORRUPT, "key", "duplicate");
    }
    if (keyspace_add(l->db, kv) != 0) {
        kv_free(kv);
        return nomem(c, "key");
    }
    l->db_keys_left--;
    l->keys++;
    return 0;
}

static int read_record(struct snapshot_loader *l) {
    struct cursor *c = &l->c;
    const unsigned char *at = c->p;
    uint64_t op, v;
    int rc = read_uint(c, "record opcode", 255, &op);
    if (rc != 0)
        return rc;
    switch (op) {
    case SNAPSHOT_OP_DB:
        rc = read_uint(c, "database id", SNAPSHOT_MAX_DBS, &v);
        if (rc != 0)
            return rc;
        if (v >= (uint64_t)l->ndbs)
            return fail_at(c, at, SNAPSHOT_ECORRUPT, "database id",
                           "%llu is beyond the %d databases configured", (unsigned long long)v,
                           l->ndbs);
        if (l->dbs[v] != NULL)
            return fail_at(c, at, SNAPSHOT_ECORRUPT, "database id", "duplicate");
        /* A key record takes at least 4 bytes (key, expiry, type, value). */
        rc = read_count(c, "database key count", 0, 4, &l->db_keys_left);
        if (rc != 0)
            return rc;
        if ((l->dbs[v] = keyspace_new()) == NULL)
            return nomem(c, "database");
        l->db = l->dbs[v];
        return 0;
    case SNAPSHOT_OP_AUX: {
        struct aux a;
        rc = read_bytes(c, "aux name", 1024, &a.name, &a.namelen);
        rc = rc ? rc : read_bytes(c, "aux value", SIZE_MAX, &a.value, &a.valuelen);
        if (rc != 0)
            return rc;
        if (l->naux == MAX_AUX)
            return fail_at(c, at, SNAPSHOT_ECORRUPT, "aux", "more than %d records", MAX_AUX);
        l->aux[l->naux++] = a;
        return 0;
    }
    case SNAPSHOT_OP_END:
        rc = read_uint(c, "key total", UINT64_MAX, &v);
        if (rc != 0)
            return rc;
        if (v != l->keys)
            return fail_at(c, at, SNAPSHOT_ECORRUPT, "key total", "%llu, but %llu keys were read",
                           (unsigned long long)v, (unsigned long long)l->keys);
        if (c->p != c->end)
            return fail_at(c, c->p, SNAPSHOT_ECORRUPT, "end record", "followed by other bytes");
        l->phase = PHASE_DONE;
        return 0;
    default:
        return fail_at(c, at, SNAPSHOT_ECORRUPT, "record opcode", "unknown opcode %u",
                       (unsigned)op);
    }
}

static int check_header(struct snapshot_loader *l) {
    struct cursor *c = &l->c;
    if (l->len < SNAPSHOT_HEADER_BYTES + SNAPSHOT_FOOTER_BYTES)
        return fail_at(c, l->buf, SNAPSHOT_ECORRUPT, "header", "file too short (%zu bytes)",
                       l->len);
    if (memcmp(l->buf, SNAPSHOT_MAGIC, 6) != 0)
        return fail_at(c, l->buf, SNAPSHOT_ECORRUPT, "header", "not a keyraft snapshot");
    uint64_t version = le_get(l->buf + 6, 2);
    if (version != SNAPSHOT_FORMAT_VERSION)
        return fail_at(c, l->buf + 6, SNAPSHOT_ECHECKSUM, "header",
                       "format version %llu is not supported (expected %d)",
                       (unsigned long long)version, SNAPSHOT_FORMAT_VERSION);
    l->phase = PHASE_CHECKSUM;
    return 0;
}

static int checksum_step(struct snapshot_loader *l, size_t budget) {
    size_t body_end = l->len - SNAPSHOT_FOOTER_BYTES;
    size_t n = body_end - l->checked < budget ? body_end - l->checked : budget;
    l->crc = crc64(l->crc, l->buf + l->checked, n);
    l->checked += n;
    if (l->checked < body_end)
        return 0;
    if (le_get(l->buf + body_end, 8) != l->crc)
        return fail_at(&l->c, l->buf + body_end, SNAPSHOT_ECHECKSUM, "checksum",
                       "mismatch: the file is damaged");
    l->c.p = l->buf + SNAPSHOT_HEADER_BYTES;
    l->c.end = l->buf + body_end;
    l->phase = PHASE_BODY;
    return 0;
}

static int body_step(struct snapshot_loader *l, size_t budget) {
    struct cursor *c = &l->c;
    const unsigned char *start = c->p;
    int rc = 0;
    if (!l->have_ctime) {
        rc = read_int(c, "creation time", INT64_MIN, &l->ctime_ms);
        l->have_ctime = rc == 0;
    }
    while (rc == 0 && l->phase == PHASE_BODY && (size_t)(c->p - start) < budget)
        rc = l->db_keys_left > 0 ? read_key(l) : read_record(l);
    return rc;
}

int snapshot_loader_step(struct snapshot_loader *l, size_t budget_bytes,
                         struct snapshot_error *err) {
    if (budget_bytes == 0)
        budget_bytes = 1;
    l->c.err = &l->failure;
    int rc = 0;
    switch (l->phase) {
    case PHASE_HEADER:
        rc = check_header(l);
        break;
    case PHASE_CHECKSUM:
        rc = checksum_step(l, budget_bytes);
        break;
    case PHASE_BODY:
        rc = body_step(l, budget_bytes);
        break;
    case PHASE_DONE:
        return SNAPSHOT_OK;
    case PHASE_FAILED:
        rc = l->failed_rc;
        break;
    }
    if (rc != 0) {
        if (l->phase != PHASE_FAILED) {
            l->phase = PHASE_FAILED;
            l->failed_rc = rc;
            l->db = NULL;
            free_dbs(l);
            cursor_close(&l->c);
        }
        if (err != NULL)
            *err = l->failure;
        return rc;
    }
    if (l->phase == PHASE_DONE) {
        cursor_close(&l->c);
        return SNAPSHOT_OK;
    }
    return SNAPSHOT_AGAIN;
}

void snapshot_loader_take(struct snapshot_loader *l, struct keyspace **dbs) {
    for (int i = 0; i < l->ndbs; i++) {
        dbs[i] = l->dbs[i];
        l->dbs[i] = NULL;
    }
}

int64_t snapshot_loader_ctime_ms(const struct snapshot_loader *l) {
    return l->ctime_ms;
}

uint64_t snapshot_loader_keys(const struct snapshot_loader *l) {
    return l->keys;
}

size_t snapshot_loader_offset(const struct snapshot_loader *l) {
    return l->phase == PHASE_CHECKSUM ? l->checked : (size_t)(l->c.p - l->buf);
}

const unsigned char *snapshot_loader_aux(const struct snapshot_loader *l, const char *name,
                                         size_t *len) {
    size_t namelen = strlen(name);
    for (int i = 0; i < l->naux; i++) {
        if (l->aux[i].namelen == namelen && memcmp(l->aux[i].name, name, namelen) == 0) {
            *len = l->aux[i].valuelen;
            return (const unsigned char *)l->aux[i].value;
        }
    }
    return NULL;
}

void snapshot_loader_free(struct snapshot_loader *l) {
    if (l == NULL)
        return;
    free_dbs(l);
    cursor_close(&l->c);
    mem_free(l->dbs);
    mem_free(l);
}

int snapshot_load(const unsigned char *buf, size_t len, int ndbs,
                  const struct snapshot_params *params, struct keyspace **dbs,
                  struct snapshot_error *err) {
    struct snapshot_loader *l = snapshot_loader_new(buf, len, ndbs, params);
    if (l == NULL) {
        if (err != NULL) {
            err->offset = 0;
            snprintf(err->msg, sizeof(err->msg), "out of memory");
        }
        return SNAPSHOT_ENOMEM;
    }
    int rc;
    while ((rc = snapshot_loader_step(l, SIZE_MAX, err)) == SNAPSHOT_AGAIN)
        ;
    if (rc == SNAPSHOT_OK)
        snapshot_loader_take(l, dbs);
    snapshot_loader_free(l);
    return rc;
}
