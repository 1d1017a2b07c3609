/* Private to raft/logfile*.c: the constants of libraft 0.15's file
 * formats (see logfile.h for the layouts), little-endian readers, and what
 * the directory checks (logfile.c) use of the decoders (logfile_decode.c). */
#ifndef KR_RAFT_LOGFILE_FORMAT_H
#define KR_RAFT_LOGFILE_FORMAT_H

#include "raft/logfile.h"

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#define LOGFILE_DISK_FORMAT           1
#define LOGFILE_METADATA_BYTES        32
#define LOGFILE_SEGMENT_HEADER_BYTES  8
#define LOGFILE_BATCH_PREAMBLE_BYTES  16 /* header CRC, data CRC, entry count */
#define LOGFILE_ENTRY_HEADER_BYTES    16
#define LOGFILE_SNAPSHOT_META_HEADER  32
#define LOGFILE_MAX_CONFIGURATION     (1024 * 1024) /* the library's limit in .meta files */
#define LOGFILE_CONFIGURATION_VERSION 1
#define LOGFILE_LZ4_FRAME_MAGIC       0x184D2204u
#define LOGFILE_LZ4_MAX_RATIO         255u /* LZ4 never expands data more than this */
/* A tear loses whole sectors: zeros that start mid-sector are data. */
#define LOGFILE_SECTOR_BYTES 512

enum { LOGFILE_ENTRY_COMMAND = 1, LOGFILE_ENTRY_BARRIER = 2, LOGFILE_ENTRY_CHANGE = 3 };

static inline uint64_t get64(const uint8_t *p) {
    uint64_t v = 0;
    for (int i = 7; i >= 0; i--)
        v = (v << 8) | p[i];
    return v;
}

static inline uint32_t get32(const uint8_t *p) {
    return (uint32_t)p[0] | (uint32_t)p[1] << 8 | (uint32_t)p[2] << 16 | (uint32_t)p[3] << 24;
}

static inline uint64_t pad8(uint64_t n) {
    return (n + 7) & ~(uint64_t)7;
}

static inline bool all_zero(const uint8_t *p, size_t len) {
    for (size_t i = 0; i < len; i++)
        if (p[i] != 0)
            return false;
    return true;
}

/* Sets 'f's verdict, the offset it concerns and the reason (printf). */
__attribute__((format(printf, 4, 5))) void logfile_note(struct logfile_file *f,
                                                        enum logfile_state state, uint64_t offset,
                                                        const char *fmt, ...);

/* A metadata file's fields, once logfile_scan_metadata read them. */
struct logfile_metadata {
    bool present;
    uint64_t version, term, voted_for;
};

/* Decodes metadata1/2's bytes into 'm' ('present' set); damage goes to 'f'. */
void logfile_scan_metadata(const uint8_t *buf, size_t len, struct logfile_file *f,
                           struct logfile_metadata *m);

/* Checks a snapshot's data file: undoes an LZ4 frame if there is one and
 * hands the payload to 'payload' (may be NULL). Damage goes to 'f'. Returns
 * LOGFILE_OK or LOGFILE_ENOMEM. */
int logfile_scan_snapshot_data(const uint8_t *buf, size_t len, logfile_payload_fn payload,
                               void *arg, struct logfile_file *f);

#endif
