/* HyperLogLog representation and estimator (see hyperloglog.h). The sparse
 * editing rules (which opcode sequence replaces a run, when adjacent VAL
 * opcodes merge, when to promote) follow Redis 7.0's so that the same
 * operations produce the same bytes. */
#include "storage/hyperloglog.h"

#include "storage/mem.h"
#include "storage/storage.h"

#include <math.h>
#include <string.h>

#define HLL_P         14
#define HLL_Q         (64 - HLL_P)
#define HLL_BITS      6
#define HLL_REG_MAX   63u
#define HLL_DENSE     0
#define HLL_SPARSE    1
#define HLL_ALPHA_INF 0.721347520444481703680 /* 1 / (2 ln 2) */
#define HASH_SEED     0xadc83b19ULL

/* Sparse opcodes. ZERO 00xxxxxx: 1..64 zero registers. XZERO 01xxxxxx
 * yyyyyyyy: 1..16384 zero registers. VAL 1vvvvvxx: 1..4 registers of value
 * 1..32. */
#define ZERO_MAX_LEN  64
#define XZERO_MAX_LEN 16384
#define VAL_MAX_VALUE 32
#define VAL_MAX_LEN   4

static bool is_zero(uint8_t op) {
    return (op & 0xc0) == 0x00;
}
static bool is_xzero(uint8_t op) {
    return (op & 0xc0) == 0x40;
}
static bool is_val(uint8_t op) {
    return (op & 0x80) != 0;
}
static unsigned zero_len(const uint8_t *p) {
    return (unsigned)(p[0] & 0x3f) + 1;
}
static unsigned xzero_len(const uint8_t *p) {
    return ((unsigned)(p[0] & 0x3f) << 8 | p[1]) + 1;
}
static unsigned val_value(uint8_t op) {
    return ((op >> 2) & 0x1f) + 1u;
}
static unsigned val_len(uint8_t op) {
    return (op & 0x3u) + 1;
}
static uint8_t make_val(unsigned value, unsigned len) {
    return (uint8_t)(0x80 | ((value - 1) << 2) | (len - 1));
}

/* Writes a ZERO or XZERO run of 'len' zero registers; returns its size. */
static size_t put_zeros(uint8_t *p, unsigned len) {
    if (len <= ZERO_MAX_LEN) {
        p[0] = (uint8_t)(len - 1);
        return 1;
    }
    p[0] = (uint8_t)(0x40 | ((len - 1) >> 8));
    p[1] = (uint8_t)((len - 1) & 0xff);
    return 2;
}

uint64_t hll_murmur64a(const void *key, size_t len, uint64_t seed) {
    const uint64_t m = 0xc6a4a7935bd1e995ULL;
    const int r = 47;
    uint64_t h = seed ^ (len * m);
    const uint8_t *data = key;
    const uint8_t *end = data + (len - (len & 7));
    for (; data != end; data += 8) {
        uint64_t k = 0;
        for (int i = 7; i >= 0; i--) /* little-endian, whatever the host */
            k = (k << 8) | data[i];
        k *= m;
        k ^= k >> r;
        k *= m;
        h ^= k;
        h *= m;
    }
    size_t rest = len & 7;
    if (rest > 0) {
        for (size_t i = rest; i-- > 0;)
            h ^= (uint64_t)data[i] << (8 * i);
        h *= m;
    }
    h ^= h >> r;
    h *= m;
    h ^= h >> r;
    return h;
}

/* Register index and the run length of its hash's trailing zeros plus one. */
static unsigned pattern(const char *ele, size_t len, unsigned *index) {
    uint64_t hash = hll_murmur64a(ele, len, HASH_SEED);
    *index = (unsigned)(hash & (HLL_REGISTERS - 1));
    hash >>= HLL_P;
    hash |= 1ULL << HLL_Q; /* ends the loop, count <= Q + 1 */
    unsigned count = 1;
    for (uint64_t bit = 1; (hash & bit) == 0; bit <<= 1)
        count++;
    return count;
}

/* ---- Header ---- */

static uint8_t *regs_of(struct raw_string *s) {
    return (uint8_t *)s->data + HLL_HDR_SIZE;
}

bool hll_is_valid(const char *buf, size_t len) {
    if (len < HLL_HDR_SIZE || memcmp(buf, "HYLL", 4) != 0)
        return false;
    uint8_t encoding = (uint8_t)buf[4];
    if (encoding > HLL_SPARSE)
        return false;
    return encoding != HLL_DENSE || len == HLL_DENSE_SIZE;
}

void hll_invalidate_cache(struct raw_string *hll) {
    hll->data[15] = (char)((uint8_t)hll->data[15] | 0x80);
}

bool hll_cached_count(const char *buf, size_t len, uint64_t *count) {
    (void)len; /* hll_is_valid guarantees the header */
    const uint8_t *card = (const uint8_t *)buf + 8;
    if (card[7] & 0x80)
        return false;
    *count = 0;
    for (int i = 7; i >= 0; i--)
        *count = (*count << 8) | card[i];
    return true;
}

struct raw_string *hll_new(void) {
    struct raw_string *s = mem_alloc(sizeof(*s) + HLL_HDR_SIZE + 2);
    if (s == NULL)
        return NULL;
    memset(s->data, 0, HLL_HDR_SIZE);
    memcpy(s->data, "HYLL", 4);
    s->data[4] = HLL_SPARSE;
    s->len = s->cap = HLL_HDR_SIZE + put_zeros((uint8_t *)s->data + HLL_HDR_SIZE, XZERO_MAX_LEN);
    return s;
}

/* ---- Dense ---- */

static unsigned dense_get(const uint8_t *regs, unsigned i) {
    size_t byte = i * HLL_BITS / 8;
    unsigned fb = i * HLL_BITS & 7;
    unsigned v = regs[byte] >> fb;
    if (fb > 8 - HLL_BITS)
        v |= (unsigned)regs[byte + 1] << (8 - fb);
    return v & HLL_REG_MAX;
}

static void dense_set(uint8_t *regs, unsigned i, unsigned v) {
    size_t byte = i * HLL_BITS / 8;
    unsigned fb = i * HLL_BITS & 7;
    regs[byte] = (uint8_t)((regs[byte] & ~(HLL_REG_MAX << fb)) | (v << fb));
    if (fb > 8 - HLL_BITS) {
        unsigned fb8 = 8 - fb;
        regs[byte + 1] = (uint8_t)((regs[byte + 1] & ~(HLL_REG_MAX >> fb8)) | (v >> fb8));
    }
}

/* ---- Sparse decoding ---- */

/* Expands the sparse registers of 's' into 'regs' (one byte per register),
 * keeping the larger value where 'regs' already holds one. */
static int sparse_fold(const char *buf, size_t len, uint8_t regs[HLL_REGISTERS]) {
    const uint8_t *p = (const uint8_t *)buf + HLL_HDR_SIZE;
    const uint8_t *end = (const uint8_t *)buf + len;
    unsigned idx = 0;
    while (p < end) {
        if (is_zero(*p)) {
            idx += zero_len(p);
            p++;
        } else if (is_xzero(*p)) {
            if (p + 1 >= end)
                return STORAGE_ECORRUPT;
            idx += xzero_len(p);
            p += 2;
        } else {
            unsigned run = val_len(*p), v = val_value(*p);
            if (idx + run > HLL_REGISTERS)
                return STORAGE_ECORRUPT;
            for (unsigned j = 0; j < run; j++, idx++)
                if (regs[idx] < v)
                    regs[idx] = (uint8_t)v;
            p++;
        }
        if (idx > HLL_REGISTERS)
            return STORAGE_ECORRUPT;
    }
    return idx == HLL_REGISTERS ? 0 : STORAGE_ECORRUPT;
}

int hll_max_registers(const char *buf, size_t len, uint8_t regs[HLL_REGISTERS]) {
    if (buf[4] == HLL_SPARSE)
        return sparse_fold(buf, len, regs);
    const uint8_t *dense = (const uint8_t *)buf + HLL_HDR_SIZE;
    for (unsigned i = 0; i < HLL_REGISTERS; i++) {
        unsigned v = dense_get(dense, i);
        if (regs[i] < v)
            regs[i] = (uint8_t)v;
    }
    return 0;
}

int hll_to_dense(struct raw_string **hll) {
    struct raw_string *s = *hll;
    if (s->data[4] == HLL_DENSE)
        return 0;
    uint8_t regs[HLL_REGISTERS] = {0};
    if (sparse_fold(s->data, s->len, regs) != 0)
        return STORAGE_ECORRUPT;
    /* One spare byte: the last register's neighbour byte is never read past. */
    struct raw_string *d = mem_alloc(sizeof(*d) + HLL_DENSE_SIZE + 1);
    if (d == NULL)
        return STORAGE_ENOMEM;
    memset(d->data, 0, HLL_DENSE_SIZE + 1);
    memcpy(d->data, s->data, HLL_HDR_SIZE); /* magic and cached cardinality */
    d->data[4] = HLL_DENSE;
    d->len = HLL_DENSE_SIZE;
    d->cap = HLL_DENSE_SIZE + 1;
    for (unsigned i = 0; i < HLL_REGISTERS; i++)
        if (regs[i])
            dense_set(regs_of(d), i, regs[i]);
    mem_free(s);
    *hll = d;
    return 0;
}

/* ---- Sparse editing ---- */

static int ensure_room(struct raw_string **hll, size_t extra) {
    struct raw_string *s = *hll;
    if (s->cap - s->len >= extra)
        return 0;
    size_t cap = s->len + extra;
    cap += cap / 2; /* amortise growth over many adds */
    s = mem_realloc(s, sizeof(*s) + cap);
    if (s == NULL)
        return STORAGE_ENOMEM;
    s->cap = cap;
    *hll = s;
    return 0;
}

/* Merges runs of equal VAL opcodes around 'p' (up to 5 opcodes from it),
 * as far as a VAL's maximum run allows. */
static void merge_adjacent_vals(struct raw_string *s, uint8_t *p) {
    uint8_t *end = (uint8_t *)s->data + s->len;
    int scan = 5;
    while (p < end && scan--) {
        if (is_xzero(*p)) {
            p += 2;
            continue;
        }
        if (is_zero(*p)) {
            p++;
            continue;
        }
        if (p + 1 < end && is_val(p[1]) && val_value(p[0]) == val_value(p[1])) {
            unsigned len = val_len(p[0]) + val_len(p[1]);
            if (len <= VAL_MAX_LEN) {
                p[1] = make_val(val_value(p[0]), len);
                memmove(p, p + 1, (size_t)(end - p - 1));
                s->len--;
                end--;
                continue; /* the merged opcode may merge again */
            }
        }
        p++;
    }
}

static int promote_and_set(struct raw_string **hll, unsigned index, unsigned count) {
    int rc = hll_to_dense(hll);
    if (rc != 0)
        return rc;
    dense_set(regs_of(*hll), index, count);
    return 1;
}

/* Sets register 'index' to 'count' if larger. Returns 1 (changed), 0, or an
 * error. */
static int sparse_set(struct raw_string **hll, unsigned index, unsigned count,
                      size_t sparse_max_bytes) {
    if (count > VAL_MAX_VALUE)
        return promote_and_set(hll, index, count);
    int rc = ensure_room(hll, 3); /* the worst split grows the sequence by 3 */
    if (rc != 0)
        return rc;
    struct raw_string *s = *hll;
    uint8_t *start = regs_of(s);
    uint8_t *end = (uint8_t *)s->data + s->len;
    uint8_t *p = start, *prev = NULL;
    unsigned first = 0, span = 0;
    while (p < end) {
        size_t oplen = 1;
        if (is_zero(*p)) {
            span = zero_len(p);
        } else if (is_val(*p)) {
            span = val_len(*p);
        } else {
            if (p + 1 >= end)
                return STORAGE_ECORRUPT;
            span = xzero_len(p);
            oplen = 2;
        }
        if (index <= first + span - 1)
            break;
        prev = p;
        p += oplen;
        first += span;
    }
    if (span == 0 || p >= end)
        return STORAGE_ECORRUPT;
    uint8_t *next = is_xzero(*p) ? p + 2 : p + 1;

    if (is_val(*p)) {
        unsigned oldval = val_value(*p);
        if (oldval >= count)
            return 0;
        if (val_len(*p) == 1) {
            *p = make_val(count, 1);
            goto updated;
        }
    } else if (is_zero(*p) && zero_len(p) == 1) {
        *p = make_val(count, 1);
        goto updated;
    }

    /* General case: the run holding 'index' becomes up to three runs. */
    uint8_t seq[5];
    size_t seqlen = 0;
    unsigned last = first + span - 1;
    if (is_val(*p)) {
        unsigned curval = val_value(*p);
        if (index != first)
            seq[seqlen++] = make_val(curval, index - first);
        seq[seqlen++] = make_val(count, 1);
        if (index != last)
            seq[seqlen++] = make_val(curval, last - index);
    } else {
        if (index != first)
            seqlen += put_zeros(seq + seqlen, index - first);
        seq[seqlen++] = make_val(count, 1);
        if (index != last)
            seqlen += put_zeros(seq + seqlen, last - index);
    }
    size_t oldlen = (size_t)(next - p);
    if (seqlen > oldlen && s->len + (seqlen - oldlen) > sparse_max_bytes)
        return promote_and_set(hll, index, count);
    if (seqlen != oldlen && next < end)
        memmove(p + seqlen, next, (size_t)(end - next));
    s->len = s->len + seqlen - oldlen;
    memcpy(p, seq, seqlen);

updated:
    merge_adjacent_vals(s, prev != NULL ? prev : start);
    return 1;
}

int hll_add(struct raw_string **hll, const char *ele, size_t len, size_t sparse_max_bytes) {
    unsigned index;
    unsigned count = pattern(ele, len, &index);
    if ((*hll)->data[4] == HLL_DENSE) {
        uint8_t *regs = regs_of(*hll);
        if (dense_get(regs, index) >= count)
            return 0;
        dense_set(regs, index, count);
        return 1;
    }
    return sparse_set(hll, index, count, sparse_max_bytes);
}

int hll_merge_into(struct raw_string **hll, const uint8_t regs[HLL_REGISTERS],
                   size_t sparse_max_bytes) {
    for (unsigned i = 0; i < HLL_REGISTERS; i++) {
        if (regs[i] == 0)
            continue;
        if ((*hll)->data[4] == HLL_DENSE) {
            uint8_t *dense = regs_of(*hll);
            if (dense_get(dense, i) < regs[i])
                dense_set(dense, i, regs[i]);
        } else {
            int rc = sparse_set(hll, i, regs[i], sparse_max_bytes);
            if (rc < 0)
                return rc;
        }
    }
    return 0;
}

/* ---- Estimation ---- */

static double sigma(double x) {
    if (x == 1.0)
        return INFINITY;
    double y = 1.0, z = x, prev;
    do {
        x *= x;
        prev = z;
        z += x * y;
        y += y;
    } while (prev != z);
    return z;
}

static double tau(double x) {
    if (x == 0.0 || x == 1.0)
        return 0.0;
    double y = 1.0, z = 1.0 - x, prev;
    do {
        x = sqrt(x);
        prev = z;
        y *= 0.5;
        z -= pow(1.0 - x, 2) * y;
    } while (prev != z);
    return z / 3.0;
}

uint64_t hll_count_registers(const uint8_t regs[HLL_REGISTERS]) {
    int histo[64] = {0};
    for (unsigned i = 0; i < HLL_REGISTERS; i++)
        histo[regs[i] & 63]++;
    double m = HLL_REGISTERS;
    double z = m * tau((m - histo[HLL_Q + 1]) / m);
    for (int j = HLL_Q; j >= 1; j--) {
        z += histo[j];
        z *= 0.5;
    }
    z += m * sigma(histo[0] / m);
    return (uint64_t)llroundl(HLL_ALPHA_INF * m * m / z);
}
