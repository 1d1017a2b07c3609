/* The decoders of raft/logfile.h: one file's bytes in, a verdict out,
 * for each kind of file libraft 0.15 writes (segments batch by batch with
 * the torn-tail rule, metadata, snapshot .meta and data, configurations),
 * plus libraft's CRC-32. No I/O: logfile.c reads the files and checks them
 * against each other.
 *
 * The format was read from libraft's sources (src/uv_segment.c,
 * uv_encoding.c, uv_metadata.c, uv_snapshot.c, configuration.c, byte.c,
 * compress.c) and checked against files written by the installed 0.15. */
#include "raft/entry.h"
#include "raft/group.h"
#include "raft/logfile.h"
#include "raft/logfile_format.h"

#include <inttypes.h>
#include <lz4frame.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

/* ---- Checksums ---- */

uint32_t logfile_crc32(const void *buf, size_t len, uint32_t crc) {
    static uint32_t table[256];
    static bool ready;
    if (!ready) {
        for (uint32_t i = 0; i < 256; i++) {
            uint32_t c = i << 24;
            for (int bit = 0; bit < 8; bit++)
                c = (c & 0x80000000u) ? (c << 1) ^ 0x04C11DB7u : c << 1;
            table[i] = c;
        }
        ready = true;
    }
    const uint8_t *p = buf;
    for (size_t i = 0; i < len; i++)
        crc = (crc << 8) ^ table[((crc >> 24) ^ p[i]) & 0xff];
    return crc;
}

void logfile_note(struct logfile_file *f, enum logfile_state state, uint64_t offset,
                  const char *fmt, ...) {
    f->state = state;
    f->offset = offset;
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(f->reason, sizeof(f->reason), fmt, ap);
    va_end(ap);
}

/* ---- Configurations ---- */

int logfile_check_configuration(const uint8_t *buf, size_t len, uint64_t *offset, char *why,
                                size_t whylen) {
    if (len < 9) {
        *offset = 0;
        snprintf(why, whylen, "configuration of %zu bytes is too short", len);
        return -1;
    }
    if (buf[0] != LOGFILE_CONFIGURATION_VERSION) {
        *offset = 0;
        snprintf(why, whylen, "configuration format %u, expected %d", buf[0],
                 LOGFILE_CONFIGURATION_VERSION);
        return -1;
    }
    uint64_t n = get64(buf + 1);
    /* Each server takes at least 11 bytes: id, a 1-byte address, NUL, role. */
    if (n == 0 || n > (len - 9) / 11) {
        *offset = 1;
        snprintf(why, whylen, "configuration claims %" PRIu64 " servers in %zu bytes", n, len);
        return -1;
    }
    size_t pos = 9;
    for (uint64_t i = 0; i < n; i++) {
        if (len - pos < 8) {
            *offset = pos;
            snprintf(why, whylen, "configuration cut short in server %" PRIu64, i);
            return -1;
        }
        if (get64(buf + pos) == 0) {
            *offset = pos;
            snprintf(why, whylen, "configuration server %" PRIu64 " has id 0", i);
            return -1;
        }
        pos += 8;
        const uint8_t *nul = memchr(buf + pos, 0, len - pos);
        if (nul == NULL || nul == buf + pos) {
            *offset = pos;
            snprintf(why, whylen, "configuration server %" PRIu64 " has %s address", i,
                     nul == NULL ? "an unterminated" : "an empty");
            return -1;
        }
        pos = (size_t)(nul - buf) + 1;
        if (pos >= len || buf[pos] > 2) {
            *offset = pos;
            snprintf(why, whylen, "configuration server %" PRIu64 " has %s role", i,
                     pos >= len ? "no" : "an unknown");
            return -1;
        }
        pos++;
    }
    if (pad8(pos) != len) {
        *offset = pos;
        snprintf(why, whylen, "%zu bytes after the configuration's last server", len - pos);
        return -1;
    }
    return 0;
}

/* ---- Segments ---- */

enum batch_verdict {
    BATCH_OK,
    BATCH_SHORT,    /* the file ends inside it: torn if in the right place */
    BATCH_MISMATCH, /* a checksum or a zero count: torn if it runs into the zero tail */
    BATCH_INVALID,  /* checksums match but the contents are wrong: never torn */
};

struct batch {
    uint64_t entries;
    uint64_t first_term, last_term;
    size_t next;     /* BATCH_OK: offset after it */
    uint64_t extent; /* offset the batch claims to reach (torn-tail decision) */
    uint64_t bad_at; /* offset of the damage */
    char why[200];
};

/* Checks one entry's contents ('type', 'len' bytes at 'data'). */
static int check_entry(int type, const uint8_t *data, size_t len, char *why, size_t whylen,
                       uint64_t *offset) {
    *offset = 0;
    if (type == LOGFILE_ENTRY_BARRIER)
        return 0; /* its 8 bytes are never read */
    if (type == LOGFILE_ENTRY_CHANGE)
        return logfile_check_configuration(data, len, offset, why, whylen);
    const void *payload;
    size_t plen;
    if (!group_frame_payload(data, len, &payload, &plen) || group_frame_size(plen) != len) {
        snprintf(why, whylen, "not a keyraft entry frame (%zu bytes)", len);
        return -1;
    }
    struct entry_reader r;
    int rc = entry_reader_init(&r, payload, plen);
    if (rc != ENTRY_OK) {
        *offset = (uint64_t)((const uint8_t *)payload - data);
        snprintf(why, whylen, "%s: %s", entry_strerror(rc),
                 r.errmsg != NULL ? r.errmsg : "no reason given");
    }
    entry_reader_close(&r);
    return rc == ENTRY_OK ? 0 : -1;
}

static enum batch_verdict scan_batch(const uint8_t *buf, size_t len, size_t off, uint64_t index,
                                     struct batch *b) {
    size_t rem = len - off;
    b->extent = off + LOGFILE_BATCH_PREAMBLE_BYTES;
    b->bad_at = off;
    if (rem < LOGFILE_BATCH_PREAMBLE_BYTES) {
        snprintf(b->why, sizeof(b->why), "batch preamble cut short (%zu of %d bytes)", rem,
                 LOGFILE_BATCH_PREAMBLE_BYTES);
        return BATCH_SHORT;
    }
    uint32_t header_crc = get32(buf + off), data_crc = get32(buf + off + 4);
    uint64_t n = get64(buf + off + 8);
    if (n == 0) {
        b->bad_at = off + 8;
        snprintf(b->why, sizeof(b->why), "batch with an entry count of zero");
        return BATCH_MISMATCH;
    }
    uint64_t room = (rem - LOGFILE_BATCH_PREAMBLE_BYTES) / LOGFILE_ENTRY_HEADER_BYTES;
    if (n > room) {
        b->extent = n > UINT64_MAX / 32 ? UINT64_MAX : off + LOGFILE_BATCH_PREAMBLE_BYTES + 16 * n;
        b->bad_at = off + 8;
        snprintf(b->why, sizeof(b->why),
                 "batch header of %" PRIu64 " entries runs past the end of the file", n);
        return BATCH_SHORT;
    }
    size_t header_len = 8 + (size_t)n * LOGFILE_ENTRY_HEADER_BYTES;
    b->extent = off + 8 + header_len;
    if (logfile_crc32(buf + off + 8, header_len, 0) != header_crc) {
        snprintf(b->why, sizeof(b->why), "batch header checksum mismatch");
        return BATCH_MISMATCH;
    }
    uint64_t data_len = 0;
    const uint8_t *h = buf + off + LOGFILE_BATCH_PREAMBLE_BYTES;
    for (uint64_t i = 0; i < n; i++, h += LOGFILE_ENTRY_HEADER_BYTES) {
        uint64_t term = get64(h);
        int type = h[8];
        uint32_t elen = get32(h + 12);
        b->bad_at = (uint64_t)(h - buf);
        if (type < LOGFILE_ENTRY_COMMAND || type > LOGFILE_ENTRY_CHANGE) {
            snprintf(b->why, sizeof(b->why), "entry %" PRIu64 " has unknown type %d", index + i,
                     type);
            return BATCH_INVALID;
        }
        if (elen % 8 != 0) {
            snprintf(b->why, sizeof(b->why),
                     "entry %" PRIu64 " is %u bytes, not a multiple of 8 (unreadable by libraft)",
                     index + i, elen);
            return BATCH_INVALID;
        }
        if (term == 0 || (i > 0 && term < b->last_term)) {
            snprintf(b->why, sizeof(b->why), "entry %" PRIu64 " has term %" PRIu64 "%s", index + i,
                     term, term == 0 ? "" : ", lower than the entry before it");
            return BATCH_INVALID;
        }
        if (i == 0)
            b->first_term = term;
        b->last_term = term;
        data_len += elen;
    }
    size_t data_off = off + 8 + header_len;
    b->extent = data_off + data_len;
    b->bad_at = data_off;
    if (data_len > len - data_off) {
        snprintf(b->why, sizeof(b->why),
                 "batch data cut short (%zu of %" PRIu64 " bytes before the end of the file)",
                 len - data_off, data_len);
        return BATCH_SHORT;
    }
    if (logfile_crc32(buf + data_off, (size_t)data_len, 0) != data_crc) {
        snprintf(b->why, sizeof(b->why),
                 "batch data checksum mismatch (entries %" PRIu64 "..%" PRIu64 ")", index,
                 index + n - 1);
        return BATCH_MISMATCH;
    }
    const uint8_t *data = buf + data_off;
    h = buf + off + LOGFILE_BATCH_PREAMBLE_BYTES;
    for (uint64_t i = 0; i < n; i++, h += LOGFILE_ENTRY_HEADER_BYTES) {
        uint32_t elen = get32(h + 12);
        char why[160];
        uint64_t at;
        if (check_entry(h[8], data, elen, why, sizeof(why), &at) != 0) {
            b->bad_at = (uint64_t)(data - buf) + at;
            snprintf(b->why, sizeof(b->why), "entry %" PRIu64 ": %s", index + i, why);
            return BATCH_INVALID;
        }
        data += elen;
    }
    b->entries = n;
    b->next = data_off + (size_t)data_len;
    return BATCH_OK;
}

/* Whether a batch with both checksums right starts at 'p' and ends by 'end'. */
static bool intact_batch_at(const uint8_t *buf, size_t end, size_t p) {
    if (end - p < LOGFILE_BATCH_PREAMBLE_BYTES)
        return false;
    uint64_t n = get64(buf + p + 8);
    if (n == 0 || n > (end - p - LOGFILE_BATCH_PREAMBLE_BYTES) / LOGFILE_ENTRY_HEADER_BYTES)
        return false;
    size_t header_len = 8 + (size_t)n * LOGFILE_ENTRY_HEADER_BYTES;
    if (logfile_crc32(buf + p + 8, header_len, 0) != get32(buf + p))
        return false;
    uint64_t data_len = 0;
    for (uint64_t i = 0; i < n; i++)
        data_len +=
            get32(buf + p + LOGFILE_BATCH_PREAMBLE_BYTES + i * LOGFILE_ENTRY_HEADER_BYTES + 12);
    size_t data_off = p + 8 + header_len;
    return data_len <= end - data_off &&
           logfile_crc32(buf + data_off, (size_t)data_len, 0) == get32(buf + p + 4);
}

/* Whether a batch at 'off' that failed with 'v' was cut by a crash: the
 * file ends inside it, or it runs into the zeros that fill the file from a
 * sector boundary to its end (the preallocated space the write never
 * reached); and no intact batch follows it (a damaged count or length can
 * make a batch look long enough to reach the zeros). */
static bool is_tear(const uint8_t *buf, size_t len, size_t off, enum batch_verdict v,
                    const struct batch *b) {
    if (v != BATCH_SHORT && v != BATCH_MISMATCH)
        return false;
    size_t zeros_from = len;
    while (zeros_from > off && buf[zeros_from - 1] == 0)
        zeros_from--;
    if (v == BATCH_MISMATCH) {
        uint64_t sector = ((uint64_t)zeros_from + LOGFILE_SECTOR_BYTES - 1) / LOGFILE_SECTOR_BYTES *
                          LOGFILE_SECTOR_BYTES;
        if (sector >= len || b->extent <= sector)
            return false;
    }
    /* The entry headers the write did leave must look like entry headers. */
    uint64_t n = len - off >= LOGFILE_BATCH_PREAMBLE_BYTES ? get64(buf + off + 8) : 0;
    for (uint64_t i = 0; i < n; i++) {
        size_t h = off + LOGFILE_BATCH_PREAMBLE_BYTES + (size_t)i * LOGFILE_ENTRY_HEADER_BYTES;
        if (h + LOGFILE_ENTRY_HEADER_BYTES > zeros_from)
            break;
        if (get64(buf + h) == 0 || buf[h + 8] < LOGFILE_ENTRY_COMMAND ||
            buf[h + 8] > LOGFILE_ENTRY_CHANGE || buf[h + 9] != 0 || buf[h + 10] != 0 ||
            buf[h + 11] != 0 || get32(buf + h + 12) % 8 != 0)
            return false;
    }
    for (size_t p = off + 8; p + LOGFILE_BATCH_PREAMBLE_BYTES <= zeros_from; p += 8)
        if (intact_batch_at(buf, len, p))
            return false;
    return true;
}

void logfile_scan_segment(const uint8_t *buf, size_t len, uint64_t first_index, bool is_open,
                          bool may_be_torn, struct logfile_file *f) {
    f->state = LOGFILE_SOUND;
    f->offset = 0;
    f->reason[0] = '\0';
    f->first_index = first_index;
    f->last_index = 0;
    f->entries = 0;
    f->first_term = f->last_term = 0;
    if (len == 0) {
        if (is_open)
            logfile_note(f, LOGFILE_UNUSED, 0, "empty (never written)");
        else
            logfile_note(f, LOGFILE_DAMAGED, 0, "the file is empty");
        return;
    }
    if (is_open && all_zero(buf, len)) {
        logfile_note(f, LOGFILE_UNUSED, 0, "never written");
        return;
    }
    if (len < LOGFILE_SEGMENT_HEADER_BYTES) {
        logfile_note(f, LOGFILE_DAMAGED, 0, "only %zu bytes, less than the segment header", len);
        return;
    }
    uint64_t format = get64(buf);
    if (format != LOGFILE_DISK_FORMAT) {
        logfile_note(f, LOGFILE_DAMAGED, 0, "segment format %" PRIu64 ", expected %d", format,
                     LOGFILE_DISK_FORMAT);
        return;
    }
    /* An open segment's batches end where its preallocated zeros begin. */
    size_t zeros_from = len;
    while (is_open && zeros_from > LOGFILE_SEGMENT_HEADER_BYTES && buf[zeros_from - 1] == 0)
        zeros_from--;
    size_t off = LOGFILE_SEGMENT_HEADER_BYTES;
    uint64_t index = first_index;
    for (unsigned n = 1; off < len; n++) {
        if (is_open && off >= zeros_from)
            break;
        struct batch b = {.last_term = f->last_term};
        enum batch_verdict v = scan_batch(buf, len, off, index, &b);
        if (v == BATCH_OK) {
            if (f->entries == 0)
                f->first_term = b.first_term;
            else if (b.first_term < f->last_term) {
                logfile_note(f, LOGFILE_DAMAGED, off,
                             "entry %" PRIu64 " has term %" PRIu64
                             ", lower than the entry before it",
                             index, b.first_term);
                break;
            }
            f->last_term = b.last_term;
            f->entries += b.entries;
            index += b.entries;
            off = b.next;
            continue;
        }
        if (is_open && may_be_torn && is_tear(buf, len, off, v, &b))
            logfile_note(f, LOGFILE_TORN_TAIL, off,
                         "batch %u at byte %zu was cut short by a crash (%s): its entries were "
                         "never acknowledged; %zu bytes to cut",
                         n, off, b.why, len - off);
        else
            logfile_note(f, LOGFILE_DAMAGED, b.bad_at, "batch %u at byte %zu: %s", n, off, b.why);
        break;
    }
    if (!is_open && f->state == LOGFILE_SOUND && f->entries == 0)
        logfile_note(f, LOGFILE_DAMAGED, len, "no batch after the segment header");
    if (f->entries > 0)
        f->last_index = first_index + f->entries - 1;
}

/* ---- Metadata ---- */

void logfile_scan_metadata(const uint8_t *buf, size_t len, struct logfile_file *f,
                           struct logfile_metadata *m) {
    m->present = true;
    if (len != LOGFILE_METADATA_BYTES) {
        logfile_note(f, LOGFILE_DAMAGED,
                     len < LOGFILE_METADATA_BYTES ? len : LOGFILE_METADATA_BYTES,
                     "%zu bytes, expected %d", len, LOGFILE_METADATA_BYTES);
        return;
    }
    uint64_t format = get64(buf);
    if (format != LOGFILE_DISK_FORMAT) {
        logfile_note(f, LOGFILE_DAMAGED, 0, "format %" PRIu64 ", expected %d", format,
                     LOGFILE_DISK_FORMAT);
        return;
    }
    m->version = get64(buf + 8);
    m->term = get64(buf + 16);
    m->voted_for = get64(buf + 24);
    if (m->version == 0)
        logfile_note(f, LOGFILE_DAMAGED, 8, "version 0");
}

/* ---- Snapshots ---- */

int logfile_scan_snapshot_meta(const uint8_t *buf, size_t len, uint64_t *conf_index,
                               struct logfile_file *f) {
    if (len < LOGFILE_SNAPSHOT_META_HEADER) {
        logfile_note(f, LOGFILE_DAMAGED, len, "only %zu bytes, less than the %d-byte header", len,
                     LOGFILE_SNAPSHOT_META_HEADER);
        return -1;
    }
    uint64_t format = get64(buf), crc = get64(buf + 8), conf_len = get64(buf + 24);
    *conf_index = get64(buf + 16);
    if (format != LOGFILE_DISK_FORMAT) {
        logfile_note(f, LOGFILE_DAMAGED, 0, "format %" PRIu64 ", expected %d", format,
                     LOGFILE_DISK_FORMAT);
        return -1;
    }
    if (conf_len == 0 || conf_len > LOGFILE_MAX_CONFIGURATION) {
        logfile_note(f, LOGFILE_DAMAGED, 24, "configuration length %" PRIu64, conf_len);
        return -1;
    }
    if (conf_len > len - LOGFILE_SNAPSHOT_META_HEADER) {
        logfile_note(f, LOGFILE_DAMAGED, len, "configuration cut short (%zu of %" PRIu64 " bytes)",
                     len - LOGFILE_SNAPSHOT_META_HEADER, conf_len);
        return -1;
    }
    if (conf_len < len - LOGFILE_SNAPSHOT_META_HEADER) {
        logfile_note(f, LOGFILE_DAMAGED, LOGFILE_SNAPSHOT_META_HEADER + conf_len,
                     "%" PRIu64 " bytes after the configuration",
                     len - LOGFILE_SNAPSHOT_META_HEADER - conf_len);
        return -1;
    }
    uint32_t actual = logfile_crc32(buf + 16, 16, 0);
    actual = logfile_crc32(buf + LOGFILE_SNAPSHOT_META_HEADER, (size_t)conf_len, actual);
    if (crc != actual) {
        logfile_note(f, LOGFILE_DAMAGED, 8, "checksum mismatch");
        return -1;
    }
    uint64_t at;
    char why[160];
    if (logfile_check_configuration(buf + LOGFILE_SNAPSHOT_META_HEADER, (size_t)conf_len, &at, why,
                                    sizeof(why)) != 0) {
        logfile_note(f, LOGFILE_DAMAGED, LOGFILE_SNAPSHOT_META_HEADER + at, "%s", why);
        return -1;
    }
    if (*conf_index == 0 || *conf_index > f->snapshot_index) {
        logfile_note(f, LOGFILE_DAMAGED, 16, "configuration index %" PRIu64 " outside 1..%" PRIu64,
                     *conf_index, f->snapshot_index);
        return -1;
    }
    return 0;
}

/* Undoes the library's LZ4 frame. Returns 0 with an owned '*out' (free()),
 * 1 when out of memory, -1 with 'f' marked damaged. */
static int lz4_unframe(const uint8_t *buf, size_t len, uint8_t **out, size_t *outlen,
                       struct logfile_file *f) {
    LZ4F_dctx *ctx;
    if (LZ4F_isError(LZ4F_createDecompressionContext(&ctx, LZ4F_VERSION)))
        return 1;
    int rc = -1;
    uint8_t *dst = NULL;
    LZ4F_frameInfo_t info;
    size_t src = len;
    size_t hint = LZ4F_getFrameInfo(ctx, &info, buf, &src);
    if (LZ4F_isError(hint)) {
        logfile_note(f, LOGFILE_DAMAGED, 0, "LZ4 frame header: %s", LZ4F_getErrorName(hint));
        goto out;
    }
    if (info.contentSize == 0 || info.contentSize > (uint64_t)len * LOGFILE_LZ4_MAX_RATIO + 4096) {
        logfile_note(f, LOGFILE_DAMAGED, 6,
                     "LZ4 frame declares %llu bytes of content for %zu compressed bytes",
                     (unsigned long long)info.contentSize, len);
        goto out;
    }
    size_t size = (size_t)info.contentSize, done = 0;
    dst = malloc(size);
    if (dst == NULL) {
        rc = 1;
        goto out;
    }
    while (hint != 0) {
        if (src == len) {
            logfile_note(f, LOGFILE_DAMAGED, len, "LZ4 frame cut short after %zu of %zu bytes",
                         done, size);
            goto out;
        }
        size_t in = len - src, produced = size - done;
        hint = LZ4F_decompress(ctx, dst + done, &produced, buf + src, &in, NULL);
        if (LZ4F_isError(hint)) {
            logfile_note(f, LOGFILE_DAMAGED, src, "LZ4: %s", LZ4F_getErrorName(hint));
            goto out;
        }
        if (in == 0 && produced == 0) {
            logfile_note(f, LOGFILE_DAMAGED, src, "LZ4 frame holds more than it declares");
            goto out;
        }
        src += in;
        done += produced;
    }
    if (src != len || done != size) {
        logfile_note(f, LOGFILE_DAMAGED, src, "LZ4 frame: %zu bytes after it, %zu of %zu decoded",
                     len - src, done, size);
        goto out;
    }
    *out = dst;
    *outlen = size;
    dst = NULL;
    rc = 0;
out:
    free(dst);
    LZ4F_freeDecompressionContext(ctx);
    return rc;
}

/* Returns 0, or LOGFILE_ENOMEM. Damage is recorded in 'f'. */
int logfile_scan_snapshot_data(const uint8_t *buf, size_t len, logfile_payload_fn payload,
                               void *arg, struct logfile_file *f) {
    uint8_t *plain = NULL;
    size_t plain_len = len;
    bool compressed = len >= 4 && get32(buf) == LOGFILE_LZ4_FRAME_MAGIC;
    if (compressed) {
        int rc = lz4_unframe(buf, len, &plain, &plain_len, f);
        if (rc != 0)
            return rc > 0 ? LOGFILE_ENOMEM : LOGFILE_OK;
    }
    if (payload != NULL) {
        uint64_t at = 0;
        char why[200] = "";
        if (payload(arg, compressed ? plain : buf, plain_len, &at, why, sizeof(why)) != 0) {
            if (compressed)
                logfile_note(f, LOGFILE_DAMAGED, 0, "payload byte %" PRIu64 " (after LZ4): %s", at,
                             why);
            else
                logfile_note(f, LOGFILE_DAMAGED, at, "payload: %s", why);
        }
    }
    free(plain);
    return LOGFILE_OK;
}
