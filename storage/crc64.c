/* CRC-64/Jones (see crc64.h), computed eight bytes at a time with eight
 * 256-entry tables ("slicing by 8"), built once on first use. Owns nothing
 * else: callers decide what the checksum covers. */
#include "storage/crc64.h"

#include <stdbool.h>
#include <string.h>

#define POLY_REFLECTED 0x95ac9329ac4bc9b5ULL /* 0xad93d23594c935a9 bit-reversed */

static uint64_t table[8][256];
static bool table_ready;

static void build_tables(void) {
    for (unsigned n = 0; n < 256; n++) {
        uint64_t c = n;
        for (int k = 0; k < 8; k++)
            c = (c & 1) ? (c >> 1) ^ POLY_REFLECTED : c >> 1;
        table[0][n] = c;
    }
    for (unsigned n = 0; n < 256; n++) {
        uint64_t c = table[0][n];
        for (int k = 1; k < 8; k++) {
            c = table[0][c & 0xff] ^ (c >> 8);
            table[k][n] = c;
        }
    }
    table_ready = true;
}

uint64_t crc64(uint64_t crc, const void *p, size_t len) {
    if (!table_ready)
        build_tables();
    const unsigned char *b = p;
    while (len >= 8) {
        /* Little-endian load, independent of the host's byte order. */
        uint64_t w = (uint64_t)b[0] | (uint64_t)b[1] << 8 | (uint64_t)b[2] << 16 |
                     (uint64_t)b[3] << 24 | (uint64_t)b[4] << 32 | (uint64_t)b[5] << 40 |
                     (uint64_t)b[6] << 48 | (uint64_t)b[7] << 56;
        crc ^= w;
        crc = table[7][crc & 0xff] ^ table[6][(crc >> 8) & 0xff] ^ table[5][(crc >> 16) & 0xff] ^
              table[4][(crc >> 24) & 0xff] ^ table[3][(crc >> 32) & 0xff] ^
              table[2][(crc >> 40) & 0xff] ^ table[1][(crc >> 48) & 0xff] ^ table[0][crc >> 56];
        b += 8;
        len -= 8;
    }
    while (len--)
        crc = table[0][(crc ^ *b++) & 0xff] ^ (crc >> 8);
    return crc;
}
