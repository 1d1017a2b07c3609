/* Offline checks of a canonical/raft 0.15 data directory (see logfile.h):
 * listing it, the decoders of each kind of file, the checks across files
 * (index continuity, terms, the metadata pair, which snapshot counts) and
 * cutting a torn tail. It never hands anything to the library, never
 * repairs anything but a torn tail, and never prints.
 *
 * The format was read from libraft's sources (src/uv_segment.c,
 * uv_encoding.c, uv_metadata.c, uv_snapshot.c, configuration.c, byte.c) and
 * checked against files written by the installed 0.15. */
#include "raft/logfile.h"

#include "raft/entry.h"
#include "raft/group.h"

#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <inttypes.h>
#include <lz4frame.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <sys/stat.h>
#include <unistd.h>

#define DISK_FORMAT           1
#define METADATA_BYTES        32
#define SEGMENT_HEADER_BYTES  8
#define BATCH_PREAMBLE_BYTES  16 /* header CRC, data CRC, entry count */
#define ENTRY_HEADER_BYTES    16
#define SNAPSHOT_META_HEADER  32
#define MAX_CONFIGURATION     (1024 * 1024) /* the library's limit in .meta files */
#define CONFIGURATION_VERSION 1
#define LZ4_FRAME_MAGIC       0x184D2204u
#define LZ4_MAX_RATIO         255u /* LZ4 never expands data more than this */
/* A tear loses whole sectors: zeros that start mid-sector are data. */
#define SECTOR_BYTES 512

enum { ENTRY_COMMAND = 1, ENTRY_BARRIER = 2, ENTRY_CHANGE = 3 };

const char *logfile_strerror(int code) {
    switch (code) {
#define X(name, value, text)                                                                       \
    case value:                                                                                    \
        return text;
        LOGFILE_ERRORS(X)
#undef X
    default:
        return "unknown logfile error";
    }
}

/* ---- Bytes ---- */

static uint64_t get64(const uint8_t *p) {
    uint64_t v = 0;
    for (int i = 7; i >= 0; i--)
        v = (v << 8) | p[i];
    return v;
}

static uint32_t get32(const uint8_t *p) {
    return (uint32_t)p[0] | (uint32_t)p[1] << 8 | (uint32_t)p[2] << 16 | (uint32_t)p[3] << 24;
}

static uint64_t pad8(uint64_t n) {
    return (n + 7) & ~(uint64_t)7;
}

static bool all_zero(const uint8_t *p, size_t len) {
    for (size_t i = 0; i < len; i++)
        if (p[i] != 0)
            return false;
    return true;
}

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

__attribute__((format(printf, 4, 5))) static void
set_state(struct logfile_file *f, enum logfile_state state, uint64_t offset, const char *fmt, ...) {
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
    if (buf[0] != CONFIGURATION_VERSION) {
        *offset = 0;
        snprintf(why, whylen, "configuration format %u, expected %d", buf[0],
                 CONFIGURATION_VERSION);
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
    if (type == ENTRY_BARRIER)
        return 0; /* its 8 bytes are never read */
    if (type == ENTRY_CHANGE)
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
    b->extent = off + BATCH_PREAMBLE_BYTES;
    b->bad_at = off;
    if (rem < BATCH_PREAMBLE_BYTES) {
        snprintf(b->why, sizeof(b->why), "batch preamble cut short (%zu of %d bytes)", rem,
                 BATCH_PREAMBLE_BYTES);
        return BATCH_SHORT;
    }
    uint32_t header_crc = get32(buf + off), data_crc = get32(buf + off + 4);
    uint64_t n = get64(buf + off + 8);
    if (n == 0) {
        b->bad_at = off + 8;
        snprintf(b->why, sizeof(b->why), "batch with an entry count of zero");
        return BATCH_MISMATCH;
    }
    uint64_t room = (rem - BATCH_PREAMBLE_BYTES) / ENTRY_HEADER_BYTES;
    if (n > room) {
        b->extent = n > UINT64_MAX / 32 ? UINT64_MAX : off + BATCH_PREAMBLE_BYTES + 16 * n;
        b->bad_at = off + 8;
        snprintf(b->why, sizeof(b->why),
                 "batch header of %" PRIu64 " entries runs past the end of the file", n);
        return BATCH_SHORT;
    }
    size_t header_len = 8 + (size_t)n * ENTRY_HEADER_BYTES;
    b->extent = off + 8 + header_len;
    if (logfile_crc32(buf + off + 8, header_len, 0) != header_crc) {
        snprintf(b->why, sizeof(b->why), "batch header checksum mismatch");
        return BATCH_MISMATCH;
    }
    uint64_t data_len = 0;
    const uint8_t *h = buf + off + BATCH_PREAMBLE_BYTES;
    for (uint64_t i = 0; i < n; i++, h += ENTRY_HEADER_BYTES) {
        uint64_t term = get64(h);
        int type = h[8];
        uint32_t elen = get32(h + 12);
        b->bad_at = (uint64_t)(h - buf);
        if (type < ENTRY_COMMAND || type > ENTRY_CHANGE) {
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
    h = buf + off + BATCH_PREAMBLE_BYTES;
    for (uint64_t i = 0; i < n; i++, h += ENTRY_HEADER_BYTES) {
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
    if (end - p < BATCH_PREAMBLE_BYTES)
        return false;
    uint64_t n = get64(buf + p + 8);
    if (n == 0 || n > (end - p - BATCH_PREAMBLE_BYTES) / ENTRY_HEADER_BYTES)
        return false;
    size_t header_len = 8 + (size_t)n * ENTRY_HEADER_BYTES;
    if (logfile_crc32(buf + p + 8, header_len, 0) != get32(buf + p))
        return false;
    uint64_t data_len = 0;
    for (uint64_t i = 0; i < n; i++)
        data_len += get32(buf + p + BATCH_PREAMBLE_BYTES + i * ENTRY_HEADER_BYTES + 12);
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
        uint64_t sector = ((uint64_t)zeros_from + SECTOR_BYTES - 1) / SECTOR_BYTES * SECTOR_BYTES;
        if (sector >= len || b->extent <= sector)
            return false;
    }
    /* The entry headers the write did leave must look like entry headers. */
    uint64_t n = len - off >= BATCH_PREAMBLE_BYTES ? get64(buf + off + 8) : 0;
    for (uint64_t i = 0; i < n; i++) {
        size_t h = off + BATCH_PREAMBLE_BYTES + (size_t)i * ENTRY_HEADER_BYTES;
        if (h + ENTRY_HEADER_BYTES > zeros_from)
            break;
        if (get64(buf + h) == 0 || buf[h + 8] < ENTRY_COMMAND || buf[h + 8] > ENTRY_CHANGE ||
            buf[h + 9] != 0 || buf[h + 10] != 0 || buf[h + 11] != 0 || get32(buf + h + 12) % 8 != 0)
            return false;
    }
    for (size_t p = off + 8; p + BATCH_PREAMBLE_BYTES <= zeros_from; p += 8)
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
            set_state(f, LOGFILE_UNUSED, 0, "empty (never written)");
        else
            set_state(f, LOGFILE_DAMAGED, 0, "the file is empty");
        return;
    }
    if (is_open && all_zero(buf, len)) {
        set_state(f, LOGFILE_UNUSED, 0, "never written");
        return;
    }
    if (len < SEGMENT_HEADER_BYTES) {
        set_state(f, LOGFILE_DAMAGED, 0, "only %zu bytes, less than the segment header", len);
        return;
    }
    uint64_t format = get64(buf);
    if (format != DISK_FORMAT) {
        set_state(f, LOGFILE_DAMAGED, 0, "segment format %" PRIu64 ", expected %d", format,
                  DISK_FORMAT);
        return;
    }
    /* An open segment's batches end where its preallocated zeros begin. */
    size_t zeros_from = len;
    while (is_open && zeros_from > SEGMENT_HEADER_BYTES && buf[zeros_from - 1] == 0)
        zeros_from--;
    size_t off = SEGMENT_HEADER_BYTES;
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
                set_state(f, LOGFILE_DAMAGED, off,
                          "entry %" PRIu64 " has term %" PRIu64 ", lower than the entry before it",
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
            set_state(f, LOGFILE_TORN_TAIL, off,
                      "batch %u at byte %zu was cut short by a crash (%s): its entries were "
                      "never acknowledged; %zu bytes to cut",
                      n, off, b.why, len - off);
        else
            set_state(f, LOGFILE_DAMAGED, b.bad_at, "batch %u at byte %zu: %s", n, off, b.why);
        break;
    }
    if (!is_open && f->state == LOGFILE_SOUND && f->entries == 0)
        set_state(f, LOGFILE_DAMAGED, len, "no batch after the segment header");
    if (f->entries > 0)
        f->last_index = first_index + f->entries - 1;
}

/* ---- Metadata ---- */

struct metadata {
    bool present;
    uint64_t version, term, voted_for;
};

static void scan_metadata(const uint8_t *buf, size_t len, struct logfile_file *f,
                          struct metadata *m) {
    m->present = true;
    if (len != METADATA_BYTES) {
        set_state(f, LOGFILE_DAMAGED, len < METADATA_BYTES ? len : METADATA_BYTES,
                  "%zu bytes, expected %d", len, METADATA_BYTES);
        return;
    }
    uint64_t format = get64(buf);
    if (format != DISK_FORMAT) {
        set_state(f, LOGFILE_DAMAGED, 0, "format %" PRIu64 ", expected %d", format, DISK_FORMAT);
        return;
    }
    m->version = get64(buf + 8);
    m->term = get64(buf + 16);
    m->voted_for = get64(buf + 24);
    if (m->version == 0)
        set_state(f, LOGFILE_DAMAGED, 8, "version 0");
}

/* ---- Snapshots ---- */

int logfile_scan_snapshot_meta(const uint8_t *buf, size_t len, uint64_t *conf_index,
                               struct logfile_file *f) {
    if (len < SNAPSHOT_META_HEADER) {
        set_state(f, LOGFILE_DAMAGED, len, "only %zu bytes, less than the %d-byte header", len,
                  SNAPSHOT_META_HEADER);
        return -1;
    }
    uint64_t format = get64(buf), crc = get64(buf + 8), conf_len = get64(buf + 24);
    *conf_index = get64(buf + 16);
    if (format != DISK_FORMAT) {
        set_state(f, LOGFILE_DAMAGED, 0, "format %" PRIu64 ", expected %d", format, DISK_FORMAT);
        return -1;
    }
    if (conf_len == 0 || conf_len > MAX_CONFIGURATION) {
        set_state(f, LOGFILE_DAMAGED, 24, "configuration length %" PRIu64, conf_len);
        return -1;
    }
    if (conf_len > len - SNAPSHOT_META_HEADER) {
        set_state(f, LOGFILE_DAMAGED, len, "configuration cut short (%zu of %" PRIu64 " bytes)",
                  len - SNAPSHOT_META_HEADER, conf_len);
        return -1;
    }
    if (conf_len < len - SNAPSHOT_META_HEADER) {
        set_state(f, LOGFILE_DAMAGED, SNAPSHOT_META_HEADER + conf_len,
                  "%" PRIu64 " bytes after the configuration",
                  len - SNAPSHOT_META_HEADER - conf_len);
        return -1;
    }
    uint32_t actual = logfile_crc32(buf + 16, 16, 0);
    actual = logfile_crc32(buf + SNAPSHOT_META_HEADER, (size_t)conf_len, actual);
    if (crc != actual) {
        set_state(f, LOGFILE_DAMAGED, 8, "checksum mismatch");
        return -1;
    }
    uint64_t at;
    char why[160];
    if (logfile_check_configuration(buf + SNAPSHOT_META_HEADER, (size_t)conf_len, &at, why,
                                    sizeof(why)) != 0) {
        set_state(f, LOGFILE_DAMAGED, SNAPSHOT_META_HEADER + at, "%s", why);
        return -1;
    }
    if (*conf_index == 0 || *conf_index > f->snapshot_index) {
        set_state(f, LOGFILE_DAMAGED, 16, "configuration index %" PRIu64 " outside 1..%" PRIu64,
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
        set_state(f, LOGFILE_DAMAGED, 0, "LZ4 frame header: %s", LZ4F_getErrorName(hint));
        goto out;
    }
    if (info.contentSize == 0 || info.contentSize > (uint64_t)len * LZ4_MAX_RATIO + 4096) {
        set_state(f, LOGFILE_DAMAGED, 6,
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
            set_state(f, LOGFILE_DAMAGED, len, "LZ4 frame cut short after %zu of %zu bytes", done,
                      size);
            goto out;
        }
        size_t in = len - src, produced = size - done;
        hint = LZ4F_decompress(ctx, dst + done, &produced, buf + src, &in, NULL);
        if (LZ4F_isError(hint)) {
            set_state(f, LOGFILE_DAMAGED, src, "LZ4: %s", LZ4F_getErrorName(hint));
            goto out;
        }
        if (in == 0 && produced == 0) {
            set_state(f, LOGFILE_DAMAGED, src, "LZ4 frame holds more than it declares");
            goto out;
        }
        src += in;
        done += produced;
    }
    if (src != len || done != size) {
        set_state(f, LOGFILE_DAMAGED, src, "LZ4 frame: %zu bytes after it, %zu of %zu decoded",
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
static int scan_snapshot_data(const uint8_t *buf, size_t len, logfile_payload_fn payload, void *arg,
                              struct logfile_file *f) {
    uint8_t *plain = NULL;
    size_t plain_len = len;
    bool compressed = len >= 4 && get32(buf) == LZ4_FRAME_MAGIC;
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
                set_state(f, LOGFILE_DAMAGED, 0, "payload byte %" PRIu64 " (after LZ4): %s", at,
                          why);
            else
                set_state(f, LOGFILE_DAMAGED, at, "payload: %s", why);
        }
    }
    free(plain);
    return LOGFILE_OK;
}

/* ---- The directory ---- */

static bool parse_u64(const char **p, uint64_t *v) {
    const char *s = *p;
    if (*s < '0' || *s > '9')
        return false;
    uint64_t n = 0;
    for (; *s >= '0' && *s <= '9'; s++) {
        if (n > (UINT64_MAX - 9) / 10)
            return false;
        n = n * 10 + (uint64_t)(*s - '0');
    }
    *p = s;
    *v = n;
    return true;
}

/* Recognises the library's file names (its sscanf templates, strictly). */
static void classify(struct logfile_file *f) {
    const char *s = f->name;
    uint64_t a, b, c;
    f->kind = LOGFILE_OTHER;
    if (strcmp(s, "metadata1") == 0 || strcmp(s, "metadata2") == 0) {
        f->kind = LOGFILE_METADATA;
    } else if (strncmp(s, "open-", 5) == 0) {
        s += 5;
        if (parse_u64(&s, &a) && *s == '\0') {
            f->kind = LOGFILE_OPEN_SEGMENT;
            f->counter = a;
        }
    } else if (strncmp(s, "snapshot-", 9) == 0) {
        s += 9;
        if (parse_u64(&s, &a) && *s++ == '-' && parse_u64(&s, &b) && *s++ == '-' &&
            parse_u64(&s, &c)) {
            f->snapshot_term = a;
            f->snapshot_index = b;
            f->snapshot_timestamp = c;
            if (*s == '\0')
                f->kind = LOGFILE_SNAPSHOT_DATA;
            else if (strcmp(s, ".meta") == 0)
                f->kind = LOGFILE_SNAPSHOT_META;
        }
    } else if (parse_u64(&s, &a) && *s++ == '-' && parse_u64(&s, &b) && *s == '\0' &&
               strlen(f->name) == 33) {
        f->kind = LOGFILE_CLOSED_SEGMENT;
        f->first_index = a;
        f->last_index = b;
    }
}

static int kind_rank(enum logfile_kind k) {
    switch (k) {
    case LOGFILE_METADATA:
        return 0;
    case LOGFILE_SNAPSHOT_META:
    case LOGFILE_SNAPSHOT_DATA:
        return 1;
    case LOGFILE_CLOSED_SEGMENT:
        return 2;
    case LOGFILE_OPEN_SEGMENT:
        return 3;
    default:
        return 4;
    }
}

static int cmp_u64(uint64_t a, uint64_t b) {
    return a < b ? -1 : a > b;
}

static int compare_files(const void *pa, const void *pb) {
    const struct logfile_file *a = pa, *b = pb;
    int c = kind_rank(a->kind) - kind_rank(b->kind);
    if (c != 0)
        return c;
    switch (a->kind) {
    case LOGFILE_SNAPSHOT_META:
    case LOGFILE_SNAPSHOT_DATA:
        if ((c = cmp_u64(a->snapshot_term, b->snapshot_term)) != 0 ||
            (c = cmp_u64(a->snapshot_index, b->snapshot_index)) != 0 ||
            (c = cmp_u64(a->snapshot_timestamp, b->snapshot_timestamp)) != 0)
            return c;
        return a->kind == LOGFILE_SNAPSHOT_META ? -1 : 1;
    case LOGFILE_CLOSED_SEGMENT:
        if ((c = cmp_u64(a->first_index, b->first_index)) != 0)
            return c;
        return cmp_u64(a->last_index, b->last_index);
    case LOGFILE_OPEN_SEGMENT:
        return cmp_u64(a->counter, b->counter);
    default:
        return strcmp(a->name, b->name);
    }
}

static void join(char *buf, size_t len, const char *dir, const char *name) {
    snprintf(buf, len, "%s/%s", dir, name);
}

/* Reads a whole file. Returns 0 with an owned '*buf' (free(); NULL when
 * empty), or LOGFILE_EIO / LOGFILE_ENOMEM with the reason in 'errmsg'. */
static int read_file(const char *dir, const char *name, uint8_t **buf, size_t *len, char *errmsg,
                     size_t errlen) {
    char path[4200];
    join(path, sizeof(path), dir, name);
    *buf = NULL;
    *len = 0;
    int fd = open(path, O_RDONLY);
    struct stat st;
    if (fd < 0 || fstat(fd, &st) != 0) {
        snprintf(errmsg, errlen, "can't read %s: %s", path, strerror(errno));
        if (fd >= 0)
            close(fd);
        return LOGFILE_EIO;
    }
    size_t size = (size_t)st.st_size;
    uint8_t *data = size > 0 ? malloc(size) : NULL;
    if (size > 0 && data == NULL) {
        close(fd);
        snprintf(errmsg, errlen, "out of memory reading %s (%zu bytes)", path, size);
        return LOGFILE_ENOMEM;
    }
    size_t got = 0;
    while (got < size) {
        ssize_t n = read(fd, data + got, size - got);
        if (n < 0 && errno == EINTR)
            continue;
        if (n <= 0) {
            snprintf(errmsg, errlen, "can't read %s: %s", path,
                     n < 0 ? strerror(errno) : "it shrank while being read");
            free(data);
            close(fd);
            return LOGFILE_EIO;
        }
        got += (size_t)n;
    }
    close(fd);
    *buf = data;
    *len = size;
    return LOGFILE_OK;
}

/* Maps a whole non-empty file read-only (a snapshot can be as large as the
 * dataset: no second copy in memory). Returns 0 with '*map' (munmap) or
 * LOGFILE_EIO with the reason in 'errmsg'. */
static int map_file(const char *dir, const char *name, void **map, size_t *len, char *errmsg,
                    size_t errlen) {
    char path[4200];
    join(path, sizeof(path), dir, name);
    int fd = open(path, O_RDONLY);
    struct stat st;
    const char *why = NULL;
    if (fd < 0 || fstat(fd, &st) != 0)
        why = strerror(errno);
    else if (st.st_size == 0)
        why = "it is empty now";
    if (why != NULL) {
        snprintf(errmsg, errlen, "can't read %s: %s", path, why);
        if (fd >= 0)
            close(fd);
        return LOGFILE_EIO;
    }
    *len = (size_t)st.st_size;
    *map = mmap(NULL, *len, PROT_READ, MAP_PRIVATE, fd, 0);
    close(fd);
    if (*map == MAP_FAILED) {
        snprintf(errmsg, errlen, "can't map %s: %s", path, strerror(errno));
        return LOGFILE_EIO;
    }
    return LOGFILE_OK;
}

static int list_dir(const char *dir, struct logfile_report *r, char *errmsg, size_t errlen) {
    DIR *d = opendir(dir);
    if (d == NULL) {
        if (errno == ENOENT)
            return LOGFILE_OK;
        snprintf(errmsg, errlen, "can't list %s: %s", dir, strerror(errno));
        return LOGFILE_EIO;
    }
    size_t cap = 0;
    int rc = LOGFILE_OK;
    struct dirent *e;
    while ((e = readdir(d)) != NULL) {
        if (strcmp(e->d_name, ".") == 0 || strcmp(e->d_name, "..") == 0)
            continue;
        if (r->nfiles == cap) {
            size_t ncap = cap ? cap * 2 : 16;
            struct logfile_file *nf = realloc(r->files, ncap * sizeof(*nf));
            if (nf == NULL) {
                rc = LOGFILE_ENOMEM;
                break;
            }
            r->files = nf;
            cap = ncap;
        }
        struct logfile_file *f = &r->files[r->nfiles++];
        memset(f, 0, sizeof(*f));
        size_t namelen = strnlen(e->d_name, sizeof(f->name));
        memcpy(f->name, e->d_name, namelen < sizeof(f->name) ? namelen : sizeof(f->name) - 1);
        if (namelen >= sizeof(f->name))
            f->kind = LOGFILE_OTHER; /* longer than any name the library writes */
        else
            classify(f);
        char path[4200];
        struct stat st;
        join(path, sizeof(path), dir, f->name);
        if (stat(path, &st) == 0)
            f->size = (uint64_t)st.st_size;
        if (f->kind == LOGFILE_OTHER && strncmp(f->name, "corrupt-", 8) == 0)
            /* The entries in it are missing from the log the library reads. */
            set_state(f, LOGFILE_DAMAGED, 0,
                      "set aside by libraft's auto-recovery after damage: its entries are "
                      "missing from the log (move it away once the data is restored)");
        else if (f->kind == LOGFILE_OTHER)
            set_state(f, LOGFILE_IGNORED, 0, "not a file the Raft library reads");
    }
    closedir(d);
    if (rc != LOGFILE_OK)
        snprintf(errmsg, errlen, "out of memory listing %s", dir);
    return rc;
}

/* A metadata file the other one implies, missing. */
static int add_missing(struct logfile_report *r, const char *name, const char *why) {
    struct logfile_file *nf = realloc(r->files, (r->nfiles + 1) * sizeof(*nf));
    if (nf == NULL)
        return LOGFILE_ENOMEM;
    r->files = nf;
    struct logfile_file *f = &r->files[r->nfiles++];
    memset(f, 0, sizeof(*f));
    snprintf(f->name, sizeof(f->name), "%s", name);
    f->kind = LOGFILE_METADATA;
    set_state(f, LOGFILE_DAMAGED, 0, "missing (%s)", why);
    return LOGFILE_OK;
}

static struct logfile_file *find(struct logfile_report *r, const char *name) {
    for (size_t i = 0; i < r->nfiles; i++)
        if (strcmp(r->files[i].name, name) == 0)
            return &r->files[i];
    return NULL;
}

static int check_metadata(const char *dir, struct logfile_report *r, char *errmsg, size_t errlen) {
    struct metadata m[2] = {{0}, {0}};
    for (int i = 0; i < 2; i++) {
        char name[16];
        snprintf(name, sizeof(name), "metadata%d", i + 1);
        struct logfile_file *f = find(r, name);
        if (f == NULL)
            continue;
        uint8_t *buf;
        size_t len;
        int rc = read_file(dir, name, &buf, &len, errmsg, errlen);
        if (rc != LOGFILE_OK)
            return rc;
        scan_metadata(buf, len, f, &m[i]);
        free(buf);
        /* The library writes odd versions to metadata1, even ones to metadata2. */
        if (f->state == LOGFILE_SOUND && m[i].version % 2 != (uint64_t)(i == 0))
            set_state(f, LOGFILE_DAMAGED, 8, "version %" PRIu64 " belongs in metadata%d",
                      m[i].version, i == 0 ? 2 : 1);
    }
    struct logfile_file *f1 = find(r, "metadata1"), *f2 = find(r, "metadata2");
    if ((f1 != NULL && f1->state != LOGFILE_SOUND) || (f2 != NULL && f2->state != LOGFILE_SOUND))
        return LOGFILE_OK;
    if (!m[0].present && !m[1].present)
        return LOGFILE_OK;
    int newer = m[0].version > m[1].version ? 0 : 1;
    /* Each save writes the next version to the other file (0.15 writes
     * metadata2 only with version 2), so the two are always consecutive. */
    uint64_t diff = m[newer].version - m[1 - newer].version;
    if (m[0].present && m[1].present && diff != 1) {
        struct logfile_file *f = newer == 0 ? f1 : f2;
        set_state(f, LOGFILE_DAMAGED, 8,
                  "version %" PRIu64 ", but metadata%d holds %" PRIu64
                  " (consecutive versions expected)",
                  m[newer].version, 2 - newer, m[1 - newer].version);
        return LOGFILE_OK;
    }
    r->term = m[newer].term;
    r->voted_for = m[newer].voted_for;
    r->metadata_version = m[newer].version;
    return LOGFILE_OK;
}

static int check_snapshots(const char *dir, logfile_payload_fn payload, void *payload_arg,
                           struct logfile_report *r, char *errmsg, size_t errlen) {
    struct logfile_file *latest = NULL;
    for (size_t i = 0; i < r->nfiles; i++) {
        struct logfile_file *meta = &r->files[i];
        if (meta->kind != LOGFILE_SNAPSHOT_META && meta->kind != LOGFILE_SNAPSHOT_DATA)
            continue;
        /* Sorted: a .meta comes right before its data file. */
        struct logfile_file *data = NULL;
        if (meta->kind == LOGFILE_SNAPSHOT_META && i + 1 < r->nfiles &&
            r->files[i + 1].kind == LOGFILE_SNAPSHOT_DATA &&
            compare_files(meta, &r->files[i + 1]) == -1 &&
            meta->snapshot_term == r->files[i + 1].snapshot_term &&
            meta->snapshot_index == r->files[i + 1].snapshot_index &&
            meta->snapshot_timestamp == r->files[i + 1].snapshot_timestamp)
            data = &r->files[++i];
        if (data == NULL || data->size == 0) {
            /* The library writes .meta first, then the data: an interrupted
             * snapshot, which it ignores. */
            set_state(meta, LOGFILE_UNUSED, 0, "%s",
                      meta->kind == LOGFILE_SNAPSHOT_META
                          ? "its data file is missing or empty (an interrupted snapshot)"
                          : "no .meta file (the library ignores it)");
            if (data != NULL)
                set_state(data, LOGFILE_UNUSED, 0, "empty (an interrupted snapshot)");
            continue;
        }
        uint8_t *buf;
        size_t len;
        int rc = read_file(dir, meta->name, &buf, &len, errmsg, errlen);
        if (rc != LOGFILE_OK)
            return rc;
        uint64_t conf_index;
        logfile_scan_snapshot_meta(buf, len, &conf_index, meta);
        free(buf);
        void *map;
        rc = map_file(dir, data->name, &map, &len, errmsg, errlen);
        if (rc != LOGFILE_OK)
            return rc;
        rc = scan_snapshot_data(map, len, payload, payload_arg, data);
        munmap(map, len);
        if (rc != LOGFILE_OK) {
            snprintf(errmsg, errlen, "out of memory checking %s/%s", dir, data->name);
            return rc;
        }
        data->snapshot_index = meta->snapshot_index;
        latest = meta; /* sorted: the last pair is the newest */
    }
    if (latest != NULL) {
        r->snapshot_term = latest->snapshot_term;
        r->snapshot_index = latest->snapshot_index;
    }
    return LOGFILE_OK;
}

/* Checks the closed segments in index order against each other and the
 * snapshot. Returns the index after the last entry the log chain holds. */
static int check_closed(const char *dir, struct logfile_report *r, uint64_t *next_index,
                        uint64_t *last_term, char *errmsg, size_t errlen) {
    uint64_t snap = r->snapshot_index;
    struct logfile_file *prev = NULL;
    *next_index = snap + 1;
    for (size_t i = 0; i < r->nfiles; i++) {
        struct logfile_file *f = &r->files[i];
        if (f->kind != LOGFILE_CLOSED_SEGMENT)
            continue;
        uint64_t first = f->first_index, end = f->last_index;
        uint8_t *buf;
        size_t len;
        int rc = read_file(dir, f->name, &buf, &len, errmsg, errlen);
        if (rc != LOGFILE_OK)
            return rc;
        logfile_scan_segment(buf, len, first, false, false, f);
        free(buf);
        if (f->state == LOGFILE_SOUND && (end < first || f->entries != end - first + 1)) {
            set_state(f, LOGFILE_DAMAGED, f->size,
                      "holds %" PRIu64 " entries, its name says %" PRIu64 "..%" PRIu64, f->entries,
                      first, end);
        }
        if (f->state != LOGFILE_SOUND) {
            prev = f;
            *next_index = end + 1;
            continue;
        }
        if (prev != NULL && first != *next_index) {
            if (snap > 0 && first <= snap + 1 && first > *next_index) {
                /* Older segments before a gap the snapshot covers: the
                 * library starts from the chain that reaches the snapshot. */
                for (size_t j = 0; j < i; j++)
                    if (r->files[j].kind == LOGFILE_CLOSED_SEGMENT &&
                        r->files[j].state == LOGFILE_SOUND)
                        set_state(&r->files[j], LOGFILE_UNUSED, 0,
                                  "older than the snapshot at %" PRIu64 " and not contiguous "
                                  "with the log after it",
                                  snap);
            } else {
                set_state(f, LOGFILE_DAMAGED, 0,
                          "starts at index %" PRIu64 " but the segment before it ends at %" PRIu64
                          " (%s)",
                          first, *next_index - 1, first > *next_index ? "a gap" : "an overlap");
            }
        } else if (prev == NULL && (snap == 0 ? first != 1 : first > snap + 1)) {
            set_state(f, LOGFILE_DAMAGED, 0,
                      "the log starts at index %" PRIu64 ", but %s (entries %" PRIu64 "..%" PRIu64
                      " are missing)",
                      first,
                      snap == 0 ? "there is no snapshot" : "the snapshot only reaches that far",
                      snap + 1, first - 1);
        }
        if (f->state == LOGFILE_SOUND && f->first_term < *last_term)
            set_state(f, LOGFILE_DAMAGED, SEGMENT_HEADER_BYTES,
                      "entry %" PRIu64 " has term %" PRIu64 ", lower than the entry before it",
                      first, f->first_term);
        if (f->state == LOGFILE_SOUND)
            *last_term = f->last_term;
        prev = f;
        *next_index = end + 1;
    }
    if (prev != NULL && prev->state == LOGFILE_SOUND && prev->last_index < snap) {
        /* The library discards them all when no open segment follows
         * (uvSegmentFilter), else it reads on. */
        bool has_open = false;
        for (size_t i = 0; i < r->nfiles; i++)
            has_open |= r->files[i].kind == LOGFILE_OPEN_SEGMENT;
        if (!has_open) {
            for (size_t j = 0; j < r->nfiles; j++)
                if (r->files[j].kind == LOGFILE_CLOSED_SEGMENT &&
                    r->files[j].state == LOGFILE_SOUND)
                    set_state(&r->files[j], LOGFILE_UNUSED, 0, "behind the snapshot at %" PRIu64,
                              snap);
            *next_index = snap + 1;
        }
    }
    return LOGFILE_OK;
}

static int check_open(const char *dir, struct logfile_report *r, uint64_t *next_index,
                      uint64_t *last_term, char *errmsg, size_t errlen) {
    size_t first = r->nfiles, n = 0;
    for (size_t i = 0; i < r->nfiles; i++)
        if (r->files[i].kind == LOGFILE_OPEN_SEGMENT) {
            first = i < first ? i : first;
            n++;
        }
    if (n == 0)
        return LOGFILE_OK;
    uint8_t **bufs = calloc(n, sizeof(*bufs));
    size_t *lens = calloc(n, sizeof(*lens));
    int rc = bufs != NULL && lens != NULL ? LOGFILE_OK : LOGFILE_ENOMEM;
    size_t last_written = n;
    for (size_t k = 0; k < n && rc == LOGFILE_OK; k++) {
        rc = read_file(dir, r->files[first + k].name, &bufs[k], &lens[k], errmsg, errlen);
        if (rc == LOGFILE_OK && !all_zero(bufs[k], lens[k]))
            last_written = k;
    }
    for (size_t k = 0; k < n && rc == LOGFILE_OK; k++) {
        struct logfile_file *f = &r->files[first + k];
        logfile_scan_segment(bufs[k], lens[k], *next_index, true, k == last_written, f);
        if (f->entries == 0)
            continue;
        if (f->first_term < *last_term && f->state != LOGFILE_DAMAGED)
            set_state(f, LOGFILE_DAMAGED, SEGMENT_HEADER_BYTES,
                      "entry %" PRIu64 " has term %" PRIu64 ", lower than the entry before it",
                      f->first_index, f->first_term);
        *last_term = f->last_term;
        *next_index += f->entries;
    }
    if (rc == LOGFILE_ENOMEM && bufs == NULL)
        snprintf(errmsg, errlen, "out of memory");
    for (size_t k = 0; bufs != NULL && k < n; k++)
        free(bufs[k]);
    free(bufs);
    free(lens);
    return rc;
}

int logfile_check_dir(const char *dir, logfile_payload_fn payload, void *payload_arg,
                      struct logfile_report *out, char *errmsg, size_t errlen) {
    memset(out, 0, sizeof(*out));
    int rc = list_dir(dir, out, errmsg, errlen);
    if (rc != LOGFILE_OK || out->nfiles == 0)
        return rc; /* an empty directory is a fresh one */
    qsort(out->files, out->nfiles, sizeof(*out->files), compare_files);
    rc = check_metadata(dir, out, errmsg, errlen);
    if (rc == LOGFILE_OK)
        rc = check_snapshots(dir, payload, payload_arg, out, errmsg, errlen);
    uint64_t next_index = 1, last_term = 0;
    if (rc == LOGFILE_OK)
        rc = check_closed(dir, out, &next_index, &last_term, errmsg, errlen);
    if (rc == LOGFILE_OK)
        rc = check_open(dir, out, &next_index, &last_term, errmsg, errlen);
    if (rc != LOGFILE_OK)
        return rc;
    qsort(out->files, out->nfiles, sizeof(*out->files), compare_files);
    out->last_index = next_index - 1;
    if (out->last_index < out->snapshot_index)
        out->last_index = out->snapshot_index;
    uint64_t max_term = last_term > out->snapshot_term ? last_term : out->snapshot_term;
    struct logfile_file *m1 = find(out, "metadata1"), *m2 = find(out, "metadata2");
    if (m1 == NULL && m2 == NULL && max_term > 0) {
        rc = add_missing(out, "metadata1", "the log has entries but no metadata file exists");
        if (rc != LOGFILE_OK)
            return rc;
    } else if (out->term < max_term && out->metadata_version > 0) {
        /* The library saves a term before it writes an entry of that term. */
        struct logfile_file *f = out->metadata_version % 2 == 1 ? m1 : m2;
        set_state(f, LOGFILE_DAMAGED, 16,
                  "current term %" PRIu64 " is lower than term %" PRIu64 " in the log", out->term,
                  max_term);
    }
    for (size_t i = 0; i < out->nfiles; i++) {
        if (out->files[i].state == LOGFILE_DAMAGED)
            out->damaged++;
        if (out->files[i].state == LOGFILE_TORN_TAIL)
            out->torn = &out->files[i];
    }
    return LOGFILE_OK;
}

void logfile_report_free(struct logfile_report *r) {
    free(r->files);
    memset(r, 0, sizeof(*r));
}

int logfile_cut_torn_tail(const char *dir, const struct logfile_report *r, char *errmsg,
                          size_t errlen) {
    const struct logfile_file *f = r->torn;
    char path[4200];
    join(path, sizeof(path), dir, f->name);
    /* Without an intact batch the file becomes empty, which the library
     * removes; a lone segment header would be a short read to it. */
    off_t size = f->entries == 0 ? 0 : (off_t)f->offset;
    int fd = open(path, O_WRONLY);
    if (fd < 0 || ftruncate(fd, size) != 0 || fsync(fd) != 0) {
        snprintf(errmsg, errlen, "can't cut %s at byte %lld: %s", path, (long long)size,
                 strerror(errno));
        if (fd >= 0)
            close(fd);
        return LOGFILE_EIO;
    }
    close(fd);
    return LOGFILE_OK;
}
