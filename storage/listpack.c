/* listpack: the compact entry encoding (format in listpack.h). Owns encoding,
 * decoding and in-place editing of the buffer; it knows nothing of what the
 * entries mean (field/value pairs, member/score pairs are the callers'). */
#include "storage/listpack.h"

#include "storage/mem.h"
#include "storage/num.h"
#include "storage/object.h"
#include "storage/storage.h"

#include <stdint.h>
#include <string.h>

#define HDR_BYTES      8
#define END_MARK       0xFF
#define TAG_STR6       0x80 /* 0x80-0xBF: string of 0..63 bytes */
#define TAG_INT        0xC0 /* 0xC0-0xC7: signed integer of 1..8 bytes */
#define TAG_STRV       0xC8 /* string with a LEB128 length */
#define STR6_MAX       63
#define MAX_HEAD_BYTES 11 /* tag + a 10-byte varint */

/* ---- Header ---- */

static uint32_t read_u32(const unsigned char *p) {
    return (uint32_t)p[0] | (uint32_t)p[1] << 8 | (uint32_t)p[2] << 16 | (uint32_t)p[3] << 24;
}

static void write_u32(unsigned char *p, uint32_t v) {
    p[0] = (unsigned char)v;
    p[1] = (unsigned char)(v >> 8);
    p[2] = (unsigned char)(v >> 16);
    p[3] = (unsigned char)(v >> 24);
}

static size_t total_bytes(const unsigned char *lp) {
    return read_u32(lp);
}

static size_t count_of(const unsigned char *lp) {
    return read_u32(lp + 4);
}

static void set_count(unsigned char *lp, size_t count) {
    write_u32(lp + 4, (uint32_t)count);
}

/* ---- Varints ---- */

static size_t varint_size(size_t v) {
    size_t n = 1;
    while (v >= 0x80) {
        v >>= 7;
        n++;
    }
    return n;
}

static size_t varint_write(unsigned char *p, size_t v) {
    size_t n = 0;
    while (v >= 0x80) {
        p[n++] = (unsigned char)(v | 0x80);
        v >>= 7;
    }
    p[n++] = (unsigned char)v;
    return n;
}

static size_t varint_read(const unsigned char *p, size_t *v) {
    size_t n = 0, shift = 0, out = 0;
    for (;;) {
        out |= (size_t)(p[n] & 0x7F) << shift;
        if ((p[n++] & 0x80) == 0)
            break;
        shift += 7;
    }
    *v = out;
    return n;
}

/* The back length sits right after an entry: its rightmost byte holds the
 * low 7 bits, and a set high bit means another byte lies to its left. */
static void backlen_write(unsigned char *p, size_t v) {
    size_t n = varint_size(v);
    for (size_t i = n; i-- > 0;) {
        p[i] = (unsigned char)((v & 0x7F) | (i > 0 ? 0x80 : 0));
        v >>= 7;
    }
}

/* Reads the back length whose last byte is at 'end' (inclusive). */
static size_t backlen_read(const unsigned char *end) {
    size_t v = 0, shift = 0;
    for (;;) {
        v |= (size_t)(*end & 0x7F) << shift;
        if ((*end & 0x80) == 0)
            break;
        end--;
        shift += 7;
    }
    return v;
}

/* ---- Entry layout ---- */

/* Bytes of tag + payload of the entry at 'p'. */
static size_t encoded_size(const unsigned char *p) {
    unsigned tag = p[0];
    if (tag < TAG_STR6)
        return 1;
    if (tag < TAG_INT)
        return 1 + (tag & 0x3F);
    if (tag < TAG_STRV)
        return 1 + (tag - TAG_INT + 1);
    size_t len;
    size_t n = varint_read(p + 1, &len);
    return 1 + n + len;
}

static size_t entry_size(const unsigned char *p) {
    size_t enc = encoded_size(p);
    return enc + varint_size(enc);
}

/* Bytes needed for a signed integer in two's complement. */
static size_t int_bytes(long long v) {
    size_t n = 1;
    while (n < 8) {
        long long lo = -(1LL << (8 * n - 1)), hi = (1LL << (8 * n - 1)) - 1;
        if (v >= lo && v <= hi)
            break;
        n++;
    }
    return n;
}

/* An encoded entry ready to be copied in: a head (tag, length or integer
 * bytes) and, for strings, a payload borrowed from the caller. */
struct encoding {
    unsigned char head[MAX_HEAD_BYTES];
    size_t head_len;
    const char *payload;
    size_t payload_len;
};

static void encode_int(struct encoding *e, long long v) {
    e->payload = NULL;
    e->payload_len = 0;
    if (v >= 0 && v < TAG_STR6) {
        e->head[0] = (unsigned char)v;
        e->head_len = 1;
        return;
    }
    size_t n = int_bytes(v);
    uint64_t u = (uint64_t)v;
    e->head[0] = (unsigned char)(TAG_INT + n - 1);
    for (size_t i = 0; i < n; i++)
        e->head[1 + i] = (unsigned char)(u >> (8 * i));
    e->head_len = 1 + n;
}

static void encode_str(struct encoding *e, const char *s, size_t len) {
    long long v;
    if (obj_parse_ll(s, len, &v)) {
        encode_int(e, v);
        return;
    }
    if (len <= STR6_MAX) {
        e->head[0] = (unsigned char)(TAG_STR6 | len);
        e->head_len = 1;
    } else {
        e->head[0] = TAG_STRV;
        e->head_len = 1 + varint_write(e->head + 1, len);
    }
    e->payload = s;
    e->payload_len = len;
}

static size_t encoding_entry_size(const struct encoding *e) {
    size_t enc = e->head_len + e->payload_len;
    return enc + varint_size(enc);
}

static void encoding_write(unsigned char *p, const struct encoding *e) {
    memcpy(p, e->head, e->head_len);
    if (e->payload_len)
        memcpy(p + e->head_len, e->payload, e->payload_len);
    size_t enc = e->head_len + e->payload_len;
    backlen_write(p + enc, enc);
}

/* ---- Buffer editing ---- */

/* Makes the 'old_bytes' at offset 'off' become 'new_bytes' long, keeping
 * everything after them; the new bytes are left for the caller to fill.
 * Growth can fail (listpack unchanged); shrinking always succeeds. */
static int resize_gap(unsigned char **lpp, size_t off, size_t old_bytes, size_t new_bytes) {
    unsigned char *lp = *lpp;
    size_t total = total_bytes(lp);
    size_t tail = total - off - old_bytes;
    if (new_bytes > old_bytes) {
        size_t grown = total + (new_bytes - old_bytes);
        if (grown > UINT32_MAX)
            return STORAGE_ERANGE;
        unsigned char *bigger = mem_realloc(lp, grown);
        if (bigger == NULL)
            return STORAGE_ENOMEM;
        lp = bigger;
        memmove(lp + off + new_bytes, lp + off + old_bytes, tail);
        write_u32(lp, (uint32_t)grown);
    } else if (new_bytes < old_bytes) {
        memmove(lp + off + new_bytes, lp + off + old_bytes, tail);
        size_t shrunk = total - (old_bytes - new_bytes);
        write_u32(lp, (uint32_t)shrunk);
        unsigned char *smaller = mem_realloc(lp, shrunk);
        if (smaller != NULL)
            lp = smaller;
    }
    *lpp = lp;
    return STORAGE_OK;
}

static int insert_encoded(unsigned char **lpp, unsigned char *p, const struct encoding *e,
                          unsigned char **newp) {
    size_t off = p ? (size_t)(p - *lpp) : total_bytes(*lpp) - 1;
    size_t size = encoding_entry_size(e);
    int rc = resize_gap(lpp, off, 0, size);
    if (rc != STORAGE_OK)
        return rc;
    encoding_write(*lpp + off, e);
    set_count(*lpp, count_of(*lpp) + 1);
    if (newp)
        *newp = *lpp + off;
    return STORAGE_OK;
}

static int replace_encoded(unsigned char **lpp, unsigned char **p, const struct encoding *e) {
    size_t off = (size_t)(*p - *lpp);
    int rc = resize_gap(lpp, off, entry_size(*p), encoding_entry_size(e));
    if (rc != STORAGE_OK)
        return rc;
    encoding_write(*lpp + off, e);
    *p = *lpp + off;
    return STORAGE_OK;
}

/* ---- Public API ---- */

unsigned char *lp_new(void) {
    unsigned char *lp = mem_alloc(HDR_BYTES + 1);
    if (lp == NULL)
        return NULL;
    write_u32(lp, HDR_BYTES + 1);
    set_count(lp, 0);
    lp[HDR_BYTES] = END_MARK;
    return lp;
}

void lp_free(unsigned char *lp) {
    mem_free(lp);
}

size_t lp_len(const unsigned char *lp) {
    return count_of(lp);
}

size_t lp_bytes(const unsigned char *lp) {
    return total_bytes(lp);
}

unsigned char *lp_first(const unsigned char *lp) {
    const unsigned char *p = lp + HDR_BYTES;
    return *p == END_MARK ? NULL : (unsigned char *)p;
}

unsigned char *lp_last(const unsigned char *lp) {
    return lp_prev(lp, lp + total_bytes(lp) - 1);
}

unsigned char *lp_next(const unsigned char *lp, const unsigned char *p) {
    (void)lp;
    p += entry_size(p);
    return *p == END_MARK ? NULL : (unsigned char *)p;
}

unsigned char *lp_prev(const unsigned char *lp, const unsigned char *p) {
    if (p == lp + HDR_BYTES)
        return NULL;
    size_t enc = backlen_read(p - 1);
    return (unsigned char *)(p - varint_size(enc) - enc);
}

unsigned char *lp_seek(const unsigned char *lp, long index) {
    size_t count = count_of(lp);
    if (index < 0) {
        if ((size_t) - (index + 1) >= count)
            return NULL;
        index += (long)count;
    }
    size_t i = (size_t)index;
    if (i >= count)
        return NULL;
    unsigned char *p;
    if (i < count / 2) {
        p = lp_first(lp);
        while (i-- > 0)
            p = lp_next(lp, p);
    } else {
        p = lp_last(lp);
        for (size_t back = count - 1 - i; back > 0; back--)
            p = lp_prev(lp, p);
    }
    return p;
}

void lp_get(const unsigned char *p, struct lp_value *v) {
    unsigned tag = p[0];
    if (tag < TAG_STR6) {
        v->str = NULL;
        v->len = 0;
        v->ll = tag;
    } else if (tag < TAG_INT) {
        v->str = p + 1;
        v->len = tag & 0x3F;
        v->ll = 0;
    } else if (tag < TAG_STRV) {
        size_t n = tag - TAG_INT + 1;
        uint64_t u = 0;
        for (size_t i = 0; i < n; i++)
            u |= (uint64_t)p[1 + i] << (8 * i);
        if (n < 8 && (u >> (8 * n - 1)) & 1)
            u |= ~(uint64_t)0 << (8 * n); /* sign-extend */
        v->str = NULL;
        v->len = 0;
        v->ll = (long long)u;
    } else {
        size_t len;
        size_t n = varint_read(p + 1, &len);
        v->str = p + 1 + n;
        v->len = len;
        v->ll = 0;
    }
}

const char *lp_get_str(const unsigned char *p, char *buf, size_t *len) {
    struct lp_value v;
    lp_get(p, &v);
    if (v.str) {
        *len = v.len;
        return (const char *)v.str;
    }
    *len = num_format_ll(buf, v.ll);
    return buf;
}

bool lp_equal(const unsigned char *p, const char *s, size_t len) {
    char buf[LP_INTBUF];
    size_t elen;
    const char *e = lp_get_str(p, buf, &elen);
    return elen == len && (len == 0 || memcmp(e, s, len) == 0);
}

unsigned char *lp_find(const unsigned char *lp, const unsigned char *p, const char *s, size_t len,
                       size_t skip) {
    /* Compare like with like: a canonical integer can only match an
     * integer entry, anything else only a string entry. */
    long long want;
    bool want_int = obj_parse_ll(s, len, &want);
    while (p != NULL) {
        struct lp_value v;
        lp_get(p, &v);
        if (want_int ? (v.str == NULL && v.ll == want)
                     : (v.str != NULL && v.len == len && (len == 0 || memcmp(v.str, s, len) == 0)))
            return (unsigned char *)p;
        p = lp_next(lp, p);
        for (size_t i = 0; i < skip && p != NULL; i++)
            p = lp_next(lp, p);
    }
    return NULL;
}

int lp_insert(unsigned char **lpp, unsigned char *p, const char *s, size_t len,
              unsigned char **newp) {
    struct encoding e;
    encode_str(&e, s, len);
    return insert_encoded(lpp, p, &e, newp);
}

int lp_insert_int(unsigned char **lpp, unsigned char *p, long long v, unsigned char **newp) {
    struct encoding e;
    encode_int(&e, v);
    return insert_encoded(lpp, p, &e, newp);
}

int lp_append(unsigned char **lpp, const char *s, size_t len) {
    return lp_insert(lpp, NULL, s, len, NULL);
}

int lp_append_int(unsigned char **lpp, long long v) {
    return lp_insert_int(lpp, NULL, v, NULL);
}

int lp_prepend(unsigned char **lpp, const char *s, size_t len) {
    return lp_insert(lpp, lp_first(*lpp), s, len, NULL);
}

int lp_replace(unsigned char **lpp, unsigned char **p, const char *s, size_t len) {
    struct encoding e;
    encode_str(&e, s, len);
    return replace_encoded(lpp, p, &e);
}

int lp_replace_int(unsigned char **lpp, unsigned char **p, long long v) {
    struct encoding e;
    encode_int(&e, v);
    return replace_encoded(lpp, p, &e);
}

void lp_delete(unsigned char **lpp, unsigned char *p, size_t count, unsigned char **next) {
    size_t off = (size_t)(p - *lpp);
    unsigned char *q = p;
    size_t removed = 0;
    while (removed < count && *q != END_MARK) {
        q += entry_size(q);
        removed++;
    }
    size_t left = count_of(*lpp) - removed;
    resize_gap(lpp, off, (size_t)(q - p), 0);
    set_count(*lpp, left);
    if (next)
        *next = (*lpp)[off] == END_MARK ? NULL : *lpp + off;
}

void lp_delete_range(unsigned char **lpp, long index, size_t count) {
    unsigned char *p = lp_seek(*lpp, index);
    if (p != NULL && count > 0)
        lp_delete(lpp, p, count, NULL);
}
