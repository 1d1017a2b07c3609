/* CRC-64/Jones, the checksum Redis puts at the end of DUMP payloads and RDB
 * files: polynomial 0xad93d23594c935a9, reflected in and out, initial value
 * 0, no final xor. check("123456789") = 0xe9c6d914c4b8d9ca.
 *
 * keyraft uses it for its own snapshot files and DUMP payloads. Pure
 * computation: no allocation, no state besides the running value. */
#ifndef KR_STORAGE_CRC64_H
#define KR_STORAGE_CRC64_H

#include <stddef.h>
#include <stdint.h>

/* Continues the CRC 'crc' (0 to start) over 'len' bytes at 'p'; feeding a
 * buffer in pieces gives the same result as feeding it whole. */
uint64_t crc64(uint64_t crc, const void *p, size_t len);

#endif
