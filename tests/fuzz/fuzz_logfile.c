/* libFuzzer target for the decoders of libraft's files (raft/logfile.h).
 *
 * The first input byte picks what the rest is fed to:
 *   0  a closed segment (first index 1)
 *   1  the last open segment (zeros end it, a torn tail may be reported)
 *   2  a snapshot .meta file (for a snapshot at index 1000)
 *   3  an encoded configuration
 *   4  the rest is one entry's data, type from the second byte: it is
 *      wrapped in a segment with correct checksums so the entry decoders
 *      (group frame, raft/entry, configuration) see it
 * Checked on every input: the verdict is one of the documented states; any
 * damage or tear has a reason and an offset inside the input; a sound
 * segment's index range matches its entry count; and a torn tail is cut at
 * a batch boundary, which then scans as sound. */
#include "raft/logfile.h"

#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

#define CHECK(cond)                                                                                \
    do {                                                                                           \
        if (!(cond)) {                                                                             \
            fprintf(stderr, "fuzz_logfile: check failed at line %d: %s\n", __LINE__, #cond);       \
            abort();                                                                               \
        }                                                                                          \
    } while (0)

static void put64(uint8_t *p, uint64_t v) {
    for (int i = 0; i < 8; i++)
        p[i] = (uint8_t)(v >> (8 * i));
}

static void put32(uint8_t *p, uint32_t v) {
    for (int i = 0; i < 4; i++)
        p[i] = (uint8_t)(v >> (8 * i));
}

static void check_segment(const uint8_t *buf, size_t len, bool is_open) {
    struct logfile_file f = {0};
    logfile_scan_segment(buf, len, 1, is_open, is_open, &f);
    switch (f.state) {
    case LOGFILE_SOUND:
        CHECK(f.entries > 0 || is_open);
        CHECK(f.entries == 0 || f.last_index == f.entries);
        break;
    case LOGFILE_UNUSED:
        CHECK(is_open && f.entries == 0);
        break;
    case LOGFILE_TORN_TAIL: {
        CHECK(is_open && f.offset <= len && f.reason[0] != '\0');
        /* Cut there, the rest scans as sound with the same entries. */
        struct logfile_file again = {0};
        logfile_scan_segment(buf, (size_t)f.offset, 1, true, true, &again);
        CHECK(again.state == LOGFILE_SOUND || again.state == LOGFILE_UNUSED);
        CHECK(again.entries == f.entries);
        break;
    }
    case LOGFILE_DAMAGED:
        CHECK(f.offset <= len && f.reason[0] != '\0');
        break;
    default:
        CHECK(!"unexpected state");
    }
}

/* Wraps 'len' bytes as the data of one entry of 'type' in an open segment
 * with correct checksums (padded to 8 bytes, as the library needs). */
static void check_entry(int type, const uint8_t *data, size_t len) {
    size_t padded = (len + 7) & ~(size_t)7;
    size_t total = 8 + 16 + 16 + padded;
    uint8_t *seg = calloc(1, total);
    if (seg == NULL)
        return;
    put64(seg, 1);
    uint8_t *batch = seg + 8;
    put64(batch + 8, 1);
    put64(batch + 16, 1);
    batch[24] = (uint8_t)type;
    put32(batch + 28, (uint32_t)padded);
    memcpy(batch + 32, data, len);
    put32(batch, logfile_crc32(batch + 8, 24, 0));
    put32(batch + 4, logfile_crc32(batch + 32, padded, 0));
    check_segment(seg, total, true);
    check_segment(seg, total, false);
    free(seg);
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size) {
    if (size < 1)
        return 0;
    /* An exact-size copy, so reading past the end is caught by ASan. */
    size_t len = size - 1;
    uint8_t *buf = malloc(len ? len : 1);
    memcpy(buf, data + 1, len);
    switch (data[0] % 5) {
    case 0:
        check_segment(buf, len, false);
        break;
    case 1:
        check_segment(buf, len, true);
        break;
    case 2: {
        struct logfile_file f = {.snapshot_index = 1000};
        uint64_t conf_index;
        if (logfile_scan_snapshot_meta(buf, len, &conf_index, &f) == 0)
            CHECK(conf_index >= 1 && conf_index <= 1000);
        else
            CHECK(f.state == LOGFILE_DAMAGED && f.offset <= len && f.reason[0] != '\0');
        break;
    }
    case 3: {
        uint64_t at = 0;
        char why[160] = "";
        if (logfile_check_configuration(buf, len, &at, why, sizeof(why)) != 0)
            CHECK(at <= len && why[0] != '\0');
        break;
    }
    default:
        if (len >= 1)
            check_entry(1 + buf[0] % 3, buf + 1, len - 1);
        break;
    }
    free(buf);
    return 0;
}
