/* storage/mpread against msgpack-c's packer: every integer width at its
 * limits, signed and unsigned reads, str/bin lengths, arrays, nil, and
 * every truncation of a valid value refused. */
#include "storage/mpread.h"
#include "tests/unit/lib/test.h"

#include <msgpack.h>
#include <stdint.h>

/* Packs one value with 'pack' into a fresh buffer (free with
 * msgpack_sbuffer_destroy). */
#define PACKED(sbuf, pack_call)                                                                    \
    msgpack_sbuffer sbuf;                                                                          \
    msgpack_sbuffer_init(&sbuf);                                                                   \
    do {                                                                                           \
        msgpack_packer pk;                                                                         \
        msgpack_packer_init(&pk, &sbuf, msgpack_sbuffer_write);                                    \
        pack_call;                                                                                 \
    } while (0)

TEST(mpread_integers_at_every_width) {
    static const int64_t values[] = {
        0,  1,   127, 128,  255,  256,    65535,  65536,     INT32_MAX, (int64_t)UINT32_MAX,
        -1, -32, -33, -128, -129, -32768, -32769, INT32_MIN, INT64_MIN, INT64_MAX};
    for (size_t i = 0; i < sizeof(values) / sizeof(values[0]); i++) {
        PACKED(buf, msgpack_pack_int64(&pk, values[i]));
        struct mpread r;
        mpread_init(&r, buf.data, buf.size);
        int64_t got;
        CHECK(mpread_int(&r, &got, false));
        CHECK_EQ_INT(got, values[i]);
        CHECK_EQ_INT(mpread_left(&r), 0);
        mpread_init(&r, buf.data, buf.size);
        uint64_t u;
        CHECK(mpread_uint(&r, &u) == (values[i] >= 0));
        if (values[i] >= 0)
            CHECK(u == (uint64_t)values[i]);
        msgpack_sbuffer_destroy(&buf);
    }
}

TEST(mpread_uint64_above_int64_max) {
    PACKED(buf, msgpack_pack_uint64(&pk, UINT64_MAX));
    struct mpread r;
    int64_t v;
    mpread_init(&r, buf.data, buf.size);
    CHECK(!mpread_int(&r, &v, false));
    mpread_init(&r, buf.data, buf.size);
    CHECK(mpread_int(&r, &v, true) && (uint64_t)v == UINT64_MAX);
    uint64_t u;
    mpread_init(&r, buf.data, buf.size);
    CHECK(mpread_uint(&r, &u) && u == UINT64_MAX);
    msgpack_sbuffer_destroy(&buf);
}

TEST(mpread_bytes_arrays_nil_and_truncations) {
    static const size_t lengths[] = {0, 31, 32, 255, 256, 65535, 65536};
    char *payload = calloc(1, 65536);
    CHECK(payload != NULL);
    for (size_t i = 0; i < sizeof(lengths) / sizeof(lengths[0]); i++) {
        for (int bin = 0; bin < 2; bin++) {
            size_t n = lengths[i];
            PACKED(buf, {
                msgpack_pack_array(&pk, 2);
                msgpack_pack_nil(&pk);
                if (bin) {
                    msgpack_pack_bin(&pk, n);
                    msgpack_pack_bin_body(&pk, payload, n);
                } else {
                    msgpack_pack_str(&pk, n);
                    msgpack_pack_str_body(&pk, payload, n);
                }
            });
            struct mpread r;
            mpread_init(&r, buf.data, buf.size);
            uint64_t count;
            const uint8_t *data;
            size_t len;
            CHECK(mpread_array(&r, &count) && count == 2);
            mpread_init(&r, buf.data, buf.size);
            CHECK(mpread_array(&r, &count) && mpread_nil(&r) && !mpread_nil(&r));
            CHECK(mpread_bytes(&r, &data, &len) && len == n && mpread_left(&r) == 0);
            /* Every cut inside the str/bin value is refused. */
            size_t value_start = buf.size - n -
                                 (n < 32 && !bin ? 1
                                  : n < 256      ? 2
                                  : n < 65536    ? 3
                                                 : 5);
            for (size_t cut = value_start; cut < buf.size; cut++) {
                mpread_init(&r, buf.data + value_start, cut - value_start);
                CHECK(!mpread_bytes(&r, &data, &len));
            }
            msgpack_sbuffer_destroy(&buf);
        }
    }
    free(payload);
}

TEST(mpread_wrong_types_are_refused) {
    PACKED(buf, msgpack_pack_str(&pk, 1); msgpack_pack_str_body(&pk, "x", 1));
    struct mpread r;
    uint64_t u;
    int64_t v;
    mpread_init(&r, buf.data, buf.size);
    CHECK(!mpread_uint(&r, &u));
    mpread_init(&r, buf.data, buf.size);
    CHECK(!mpread_int(&r, &v, true));
    mpread_init(&r, buf.data, buf.size);
    CHECK(!mpread_array(&r, &u));
    mpread_init(&r, buf.data, 0);
    CHECK(!mpread_nil(&r) && !mpread_array(&r, &u));
    msgpack_sbuffer_destroy(&buf);
}
