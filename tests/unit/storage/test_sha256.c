/* sha256: the FIPS 180-4 / NIST example vectors, block-boundary lengths,
 * and incremental updates split at every offset. */
#include "storage/sha256.h"
#include "tests/unit/lib/test.h"

#include <stdbool.h>

static bool hex_is(const char *data, size_t len, const char *want) {
    char hex[65];
    sha256_hex(data, len, hex);
    return strcmp(hex, want) == 0;
}

TEST(sha256_nist_vectors) {
    CHECK(hex_is("", 0, "e3b0c44298fc1c149afbf4c8996fb92427ae41e4649b934ca495991b7852b855"));
    CHECK(hex_is("abc", 3, "ba7816bf8f01cfea414140de5dae2223b00361a396177a9cb410ff61f20015ad"));
    const char *two_blocks = "abcdbcdecdefdefgefghfghighijhijkijkljklmklmnlmnomnopnopq";
    CHECK(hex_is(two_blocks, strlen(two_blocks),
                 "248d6a61d20638b8e5c026930c3e6039a33ce45964ff2167f6ecedd419db06c1"));
    const char *four_blocks = "abcdefghbcdefghicdefghijdefghijkefghijklfghijklmghijklmnhijklmno"
                              "ijklmnopjklmnopqklmnopqrlmnopqrsmnopqrstnopqrstu";
    CHECK(hex_is(four_blocks, strlen(four_blocks),
                 "cf5b16a778af8380036ce59e7b0492370b249b11e8f07a51afac45037afee9d1"));
    /* Redis's ACL hash of "password" (ACL GETUSER shows it). */
    CHECK(
        hex_is("password", 8, "5e884898da28047151d0e56f8dc6292773603d0d6aabbdd62a11ef721d1542d8"));
}

TEST(sha256_million_a) {
    struct sha256 s;
    char chunk[1000];
    memset(chunk, 'a', sizeof(chunk));
    sha256_init(&s);
    for (int i = 0; i < 1000; i++)
        sha256_update(&s, chunk, sizeof(chunk));
    uint8_t d[SHA256_DIGEST_LEN];
    sha256_final(&s, d);
    static const uint8_t want[SHA256_DIGEST_LEN] = {0xcd, 0xc7, 0x6e, 0x5c, 0x99, 0x14, 0xfb, 0x92,
                                                    0x81, 0xa1, 0xc7, 0xe2, 0x84, 0xd7, 0x3e, 0x67,
                                                    0xf1, 0x80, 0x9a, 0x48, 0xa4, 0x97, 0x20, 0x0e,
                                                    0x04, 0x6d, 0x39, 0xcc, 0xc7, 0x11, 0x2c, 0xd0};
    CHECK(memcmp(d, want, sizeof(want)) == 0);
}

/* Lengths around the padding boundary (55, 56, 64 bytes) and every split
 * of the input give the one-shot digest. */
TEST(sha256_incremental_splits) {
    char data[130];
    for (size_t i = 0; i < sizeof(data); i++)
        data[i] = (char)('a' + i % 26);
    size_t lens[] = {55, 56, 57, 63, 64, 65, 119, 120, 128, 130};
    for (size_t k = 0; k < sizeof(lens) / sizeof(lens[0]); k++) {
        size_t len = lens[k];
        uint8_t whole[SHA256_DIGEST_LEN];
        struct sha256 s;
        sha256_init(&s);
        sha256_update(&s, data, len);
        sha256_final(&s, whole);
        for (size_t cut = 0; cut <= len; cut++) {
            uint8_t split[SHA256_DIGEST_LEN];
            sha256_init(&s);
            sha256_update(&s, data, cut);
            sha256_update(&s, data + cut, len - cut);
            sha256_final(&s, split);
            CHECK(memcmp(whole, split, sizeof(whole)) == 0);
        }
    }
    /* 56 bytes (the padding needs a second block): Python's hashlib. */
    CHECK(hex_is(data, 56, "784f623b787495078e93ff28a25b581df0584055a7e71d8cd90c454716b92f51"));
}
