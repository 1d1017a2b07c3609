/* SipHash-1-3 (Aumasson and Bernstein), written from the paper's
 * description: one compression round per 8-byte word, three finalisation
 * rounds. Short keys dominate here, where SipHash is both fast and safe. */
#include "storage/hash.h"

#include <string.h>

static uint64_t k0 = 0x0706050403020100ULL, k1 = 0x0f0e0d0c0b0a0908ULL;

void hash_set_seed(const uint8_t seed[16]) {
    memcpy(&k0, seed, 8);
    memcpy(&k1, seed + 8, 8);
}

#define ROTL(x, b) (uint64_t)(((x) << (b)) | ((x) >> (64 - (b))))
#define SIPROUND                                                                                   \
    do {                                                                                           \
        v0 += v1;                                                                                  \
        v1 = ROTL(v1, 13);                                                                         \
        v1 ^= v0;                                                                                  \
        v0 = ROTL(v0, 32);                                                                         \
        v2 += v3;                                                                                  \
        v3 = ROTL(v3, 16);                                                                         \
        v3 ^= v2;                                                                                  \
        v0 += v3;                                                                                  \
        v3 = ROTL(v3, 21);                                                                         \
        v3 ^= v0;                                                                                  \
        v2 += v1;                                                                                  \
        v1 = ROTL(v1, 17);                                                                         \
        v1 ^= v2;                                                                                  \
        v2 = ROTL(v2, 32);                                                                         \
    } while (0)

static inline uint64_t lower_word(uint64_t w) {
    /* ASCII-lowercase eight bytes at once: add 0x20 where 'A' <= byte <= 'Z'. */
    uint64_t heptets = w & 0x7f7f7f7f7f7f7f7fULL;
    uint64_t ge_a = heptets + 0x3f3f3f3f3f3f3f3fULL; /* high bit set if byte >= 'A' */
    uint64_t gt_z = heptets + 0x2525252525252525ULL; /* high bit set if byte > 'Z' */
    uint64_t is_upper = ge_a & ~gt_z & ~w & 0x8080808080808080ULL;
    return w | (is_upper >> 2);
}

static uint64_t siphash(const uint8_t *in, size_t len, int nocase) {
    uint64_t v0 = 0x736f6d6570736575ULL ^ k0;
    uint64_t v1 = 0x646f72616e646f6dULL ^ k1;
    uint64_t v2 = 0x6c7967656e657261ULL ^ k0;
    uint64_t v3 = 0x7465646279746573ULL ^ k1;
    uint64_t b = ((uint64_t)len) << 56;
    const uint8_t *end = in + (len - (len % 8));
    for (; in != end; in += 8) {
        uint64_t m;
        memcpy(&m, in, 8);
        if (nocase)
            m = lower_word(m);
        v3 ^= m;
        SIPROUND;
        v0 ^= m;
    }
    uint64_t tail = 0;
    memcpy(&tail, in, len % 8);
    if (nocase)
        tail = lower_word(tail);
    b |= tail;
    v3 ^= b;
    SIPROUND;
    v0 ^= b;
    v2 ^= 0xff;
    SIPROUND;
    SIPROUND;
    SIPROUND;
    return v0 ^ v1 ^ v2 ^ v3;
}

uint64_t hash_bytes(const void *data, size_t len) {
    return siphash(data, len, 0);
}

uint64_t hash_bytes_nocase(const void *data, size_t len) {
    return siphash(data, len, 1);
}
