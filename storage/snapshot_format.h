/* Private to storage/snapshot*.c: the record opcodes of the dataset format
 * and little-endian helpers for the fixed-size header and trailers (see
 * snapshot.h for the layout). */
#ifndef KR_STORAGE_SNAPSHOT_FORMAT_H
#define KR_STORAGE_SNAPSHOT_FORMAT_H

#include <stddef.h>
#include <stdint.h>

enum snapshot_opcode {
    SNAPSHOT_OP_END = 0,
    SNAPSHOT_OP_DB = 1,
    SNAPSHOT_OP_AUX = 2,
};

static inline void le_put(unsigned char *p, uint64_t v, size_t n) {
    for (size_t i = 0; i < n; i++)
        p[i] = (unsigned char)(v >> (8 * i));
}

static inline uint64_t le_get(const unsigned char *p, size_t n) {
    uint64_t v = 0;
    for (size_t i = n; i-- > 0;)
        v = (v << 8) | p[i];
    return v;
}

#endif
