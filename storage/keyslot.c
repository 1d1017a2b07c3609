/* Key -> slot mapping, as specified by the Redis Cluster specification
 * ("Keys distribution model" and "Hash tags"). CRC16-CCITT/XMODEM:
 * polynomial 0x1021, initial value 0, no reflection. */
#include "storage/keyslot.h"

#include <string.h>

static uint16_t crc_table[256];

static void build_table(void) {
    for (unsigned i = 0; i < 256; i++) {
        uint16_t crc = (uint16_t)(i << 8);
        for (int bit = 0; bit < 8; bit++)
            crc = (uint16_t)((crc & 0x8000) ? (crc << 1) ^ 0x1021 : crc << 1);
        crc_table[i] = crc;
    }
}

uint16_t keyslot_crc16(const char *buf, size_t len) {
    if (crc_table[1] == 0)
        build_table();
    uint16_t crc = 0;
    for (size_t i = 0; i < len; i++)
        crc = (uint16_t)((crc << 8) ^ crc_table[((crc >> 8) ^ (uint8_t)buf[i]) & 0xff]);
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
