/* Redis Cluster key hash slots: CRC16 (XMODEM) of the key, or of the part
 * between the first '{' and the next '}' when that part is non-empty. */
#ifndef KR_STORAGE_KEYSLOT_H
#define KR_STORAGE_KEYSLOT_H

#include <stddef.h>
#include <stdint.h>

#define SLOT_COUNT 16384

uint16_t keyslot_crc16(const char *buf, size_t len);
unsigned keyslot_of(const char *key, size_t len);

#endif
