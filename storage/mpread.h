/* A bounds-checked reader of the msgpack subset keyraft's binary formats use
 * (Raft entries, cluster bus messages): arrays, nil, integers, str/bin.
 *
 * Every function consumes the next value only when it has the asked type and
 * fits in what is left; otherwise it returns false and the reader's position
 * is unspecified (callers give up on the whole buffer). Nothing is copied or
 * allocated: str/bin values point into the caller's buffer. */
#ifndef KR_STORAGE_MPREAD_H
#define KR_STORAGE_MPREAD_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

struct mpread {
    /* public, read-only: the next byte and the end of the buffer */
    const uint8_t *p;
    const uint8_t *end;
};

/* Reads 'len' bytes at 'buf' (borrowed for the reader's use). */
void mpread_init(struct mpread *r, const void *buf, size_t len);
/* Bytes not read yet. */
size_t mpread_left(const struct mpread *r);
/* An array header (fixarray, array16, array32): its element count. */
bool mpread_array(struct mpread *r, uint64_t *count);
/* Takes a nil if one comes next; false (nothing taken) otherwise. */
bool mpread_nil(struct mpread *r);
/* Any integer that fits int64; a uint64 above INT64_MAX only with
 * 'as_unsigned' (then cast). */
bool mpread_int(struct mpread *r, int64_t *out, bool as_unsigned);
/* Any non-negative integer. */
bool mpread_uint(struct mpread *r, uint64_t *out);
/* A str or bin of any length: '*data' points into the buffer. */
bool mpread_bytes(struct mpread *r, const uint8_t **data, size_t *len);

#endif
