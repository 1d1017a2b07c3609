/* Stream IDs (see streamid.h). */
#include "storage/streamid.h"

#include <stdio.h>
#include <string.h>

bool stream_id_incr(struct stream_id *id) {
    if (id->seq == UINT64_MAX) {
        if (id->ms == UINT64_MAX)
            return false;
        id->ms++;
        id->seq = 0;
    } else {
        id->seq++;
    }
    return true;
}

bool stream_id_decr(struct stream_id *id) {
    if (id->seq == 0) {
        if (id->ms == 0)
            return false;
        id->ms--;
        id->seq = UINT64_MAX;
    } else {
        id->seq--;
    }
    return true;
}

size_t stream_id_format(const struct stream_id *id, char *buf) {
    return (size_t)snprintf(buf, STREAM_ID_MAX_LEN, "%llu-%llu", (unsigned long long)id->ms,
                            (unsigned long long)id->seq);
}

/* Redis's string2ull: decimal digits only, no sign, fits 64 bits. */
static bool parse_u64(const char *s, size_t len, uint64_t *out) {
    if (len == 0 || len > 20)
        return false;
    uint64_t v = 0;
    for (size_t i = 0; i < len; i++) {
        if (s[i] < '0' || s[i] > '9')
            return false;
        uint64_t digit = (uint64_t)(s[i] - '0');
        if (v > (UINT64_MAX - digit) / 10)
            return false;
        v = v * 10 + digit;
    }
    *out = v;
    return true;
}

bool stream_id_parse(const char *s, size_t len, uint64_t missing_seq, struct stream_id *id,
                     bool *seq_given) {
    if (seq_given != NULL)
        *seq_given = true;
    const char *dash = memchr(s, '-', len);
    if (dash == NULL) {
        id->seq = missing_seq;
        return parse_u64(s, len, &id->ms);
    }
    size_t mslen = (size_t)(dash - s);
    const char *seq = dash + 1;
    size_t seqlen = len - mslen - 1;
    if (!parse_u64(s, mslen, &id->ms))
        return false;
    if (seq_given != NULL && seqlen == 1 && seq[0] == '*') {
        *seq_given = false;
        id->seq = 0;
        return true;
    }
    return parse_u64(seq, seqlen, &id->seq);
}
