/* Key -> slot mapping, as specified by the Redis Cluster specification
 * ("Keys distribution model" and "Hash tags"). CRC16-CCITT/XMODEM:
 * polynomial 0x1021, initial value 0, no reflection. */
#include "storage/keyslot.h"

#include <stdint.h>
#include <string.h>

/* crc_table[k][i] is i * x^(16 + 8k) mod the polynomial: table 0 is the
 * classic byte-at-a-time table, and four bytes can then be folded in with
 * four independent lookups instead of a chain of four (slicing-by-4). Keys
 * are hashed several times per command, so the chain's latency shows. */
static uint16_t crc_table[4][256];

static void build_tables(void) {
    for (unsigned i = 0; i < 256; i++) {
        uint16_t crc = (uint16_t)(i << 8);
        for (int bit = 0; bit < 8; bit++)
            crc = (uint16_t)((crc & 0x8000) ? (crc << 1) ^ 0x1021 : crc << 1);
        crc_table[0][i] = crc;
    }
    for (unsigned k = 1; k < 4; k++)
        for (unsigned i = 0; i < 256; i++) {
            uint16_t prev = crc_table[k - 1][i];
            crc_table[k][i] = (uint16_t)((prev << 8) ^ crc_table[0][prev >> 8]);
        }
}

uint16_t keyslot_crc16(const char *buf, size_t len) {
    if (crc_table[0][1] == 0)
        build_tables();
    const uint8_t *p = (const uint8_t *)buf;
    uint16_t crc = 0;
    for (; len >= 4; p += 4, len -= 4)
        crc = (uint16_t)(crc_table[3][(crc >> 8) ^ p[0]] ^ crc_table[2][(crc & 0xff) ^ p[1]] ^
                         crc_table[1][p[2]] ^ crc_table[0][p[3]]);
    for (; len > 0; p++, len--)
        crc = (uint16_t)((crc << 8) ^ crc_table[0][(crc >> 8) ^ *p]);
    return crc;
}

unsigned keyslot_of(const char *key, size_t len) {
    const char *open = memchr(key, '{', len);
    if (open != NULL) {
        size_t start = (size_t)(open - key) + 1;
        const char *close = memchr(key + start, '}', len - start);
        if (close != NULL && close != key + start)
            return keyslot_crc16(key + start, (size_t)(close - (key + start))) & (SLOT_COUNT - 1);
    }
    return keyslot_crc16(key, len) & (SLOT_COUNT - 1);
}
