/* sha1: the FIPS 180-4 example vectors and the lengths around the padding
 * boundary, raw and hex. */
#include "storage/sha1.h"
#include "tests/unit/lib/test.h"

#include <stdbool.h>

static bool hex_is(const char *data, size_t len, const char *want) {
    char hex[2 * SHA1_DIGEST_LEN + 1];
    sha1_hex(data, len, hex);
    return strcmp(hex, want) == 0;
}

TEST(sha1_fips_vectors) {
    CHECK(hex_is("", 0, "da39a3ee5e6b4b0d3255bfef95601890afd80709"));
    CHECK(hex_is("abc", 3, "a9993e364706816aba3e25717850c26c9cd0d89d"));
    const char *two_blocks = "abcdbcdecdefdefgefghfghighijhijkijkljklmklmnlmnomnopnopq";
    CHECK(hex_is(two_blocks, strlen(two_blocks), "84983e441c3bd26ebaae4aa1f95129e5e54670f1"));
    /* Redis's SCRIPT LOAD "return 1". */
    CHECK(hex_is("return 1", 8, "e0e1f9fabfc9d4800c877a703b823ac0578ff8db"));
}

/* 55, 56 and 64 bytes need one or two padding blocks; the raw digest is
 * what the hex spells. */
TEST(sha1_padding_boundaries_raw_and_hex) {
    char data[130];
    memset(data, 'a', sizeof(data));
    CHECK(hex_is(data, 55, "c1c8bbdc22796e28c0e15163d20899b65621d65a"));
    CHECK(hex_is(data, 56, "c2db330f6083854c99d4b5bfb6e8f29f201be699"));
    CHECK(hex_is(data, 64, "0098ba824b5c16427bd7a1122a5a442a25ec644d"));
    uint8_t raw[SHA1_DIGEST_LEN];
    sha1(data, 56, raw);
    CHECK(raw[0] == 0xc2 && raw[1] == 0xdb && raw[19] == 0x99);
}
