/* Stream entry IDs ("<ms>-<seq>"): comparison, parsing and formatting. */
#ifndef KR_STORAGE_STREAMID_H
#define KR_STORAGE_STREAMID_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

struct stream_id {
    uint64_t ms;
    uint64_t seq;
};

#define STREAM_ID_MAX_LEN 42 /* two 20-digit numbers, '-', NUL */

static inline int stream_id_cmp(const struct stream_id *a, const struct stream_id *b) {
    if (a->ms != b->ms)
        return a->ms < b->ms ? -1 : 1;
    if (a->seq != b->seq)
        return a->seq < b->seq ? -1 : 1;
    return 0;
}

static inline bool stream_id_is_zero(const struct stream_id *id) {
    return id->ms == 0 && id->seq == 0;
}

/* The ID right after / before 'id'; false if there is none. */
bool stream_id_incr(struct stream_id *id);
bool stream_id_decr(struct stream_id *id);

/* Formats "ms-seq" into 'buf' (STREAM_ID_MAX_LEN bytes); returns the length. */
size_t stream_id_format(const struct stream_id *id, char *buf);

/* Parses "ms" or "ms-seq" (a missing seq becomes 'missing_seq'). With
 * 'seq_given' non-NULL, "ms-*" is accepted too and reports false there.
 * Returns false when the text is not an ID. */
bool stream_id_parse(const char *s, size_t len, uint64_t missing_seq, struct stream_id *id,
                     bool *seq_given);

#endif
