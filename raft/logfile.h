/* Reading a Raft data directory offline: the files canonical/raft 0.15's
 * libuv backend writes, checked byte by byte, for keyraft-check and for the
 * server's check before it hands the directory to the library.
 *
 * The files (all integers little-endian):
 *   metadata1, metadata2   32 bytes: format (1), version, term, voted_for.
 *                          Written alternately (odd versions in metadata1);
 *                          the higher version wins. No checksum.
 *   START-END              a closed segment ("%016llu-%016llu", decimal):
 *                          format (1), then batches up to the end of the
 *                          file, holding exactly the entries START..END.
 *   open-N                 an open segment: the same, preallocated with
 *                          zeros; the batches end at a zero preamble. Its
 *                          entries follow the last closed segment's.
 *   snapshot-T-I-MS.meta   format (1), CRC-32 (as a u64) of the rest,
 *                          configuration index, configuration length,
 *                          configuration.
 *   snapshot-T-I-MS        the FSM's snapshot, usually an LZ4 frame (with a
 *                          content checksum) around it.
 * A batch: header CRC-32 (u32), data CRC-32 (u32), entry count (u64), per
 * entry term (u64), type (u8: 1 command, 2 barrier, 3 configuration),
 * 3 unused bytes, data length (u32); then the entries' data, each padded
 * to 8 bytes. The header CRC covers count and entry headers, the data CRC
 * the data. CRC-32 is libraft's: polynomial 0x04C11DB7, MSB first, initial
 * value 0, no final xor. A configuration: version (u8, 1), server count
 * (u64), per server id (u64), NUL-terminated address, role (u8); padded to
 * 8 bytes.
 *
 * What keyraft puts inside: a command entry is a group frame (group.h)
 * around an entry of raft/entry.h, and every one must decode. A snapshot's
 * payload is handed to the caller's check.
 *
 * Verdicts. Only one kind of damage is recoverable: a torn tail, the last
 * batches of the last open segment that holds entries cut short by a crash
 * in the middle of a write (the file ends inside the batch, or the batch
 * runs into zeros that start on a 512-byte boundary and last to the end of
 * the file; the entry headers before the cut look like entry headers, and
 * no intact batch follows). Those entries were never acknowledged: cutting
 * the file at the first incomplete batch is what the library would have
 * been given had the crash come a moment earlier. Everything else (a
 * checksum mismatch anywhere else, a truncated closed segment, a gap in the
 * indexes, a bad metadata file, a bad snapshot, libraft's corrupt-* files)
 * is damage that nothing here repairs. A flipped byte in the last batch
 * that happens to look exactly like such a cut (e.g. zeros crossing a
 * sector boundary at the end of its data) cannot be told from one.
 *
 * Never prints: results come back in a report. */
#ifndef KR_RAFT_LOGFILE_H
#define KR_RAFT_LOGFILE_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#define LOGFILE_ERRORS(X)                                                                          \
    X(LOGFILE_OK, 0, "ok")                                                                         \
    X(LOGFILE_ENOMEM, -1, "out of memory")                                                         \
    X(LOGFILE_EIO, -2, "I/O error")

enum logfile_error {
#define X(name, value, text) name = value,
    LOGFILE_ERRORS(X)
#undef X
};

const char *logfile_strerror(int code);

/* The CRC-32 libraft uses (see above), continuing from 'crc' (0 to start). */
uint32_t logfile_crc32(const void *buf, size_t len, uint32_t crc);

enum logfile_kind {
    LOGFILE_METADATA,
    LOGFILE_CLOSED_SEGMENT,
    LOGFILE_OPEN_SEGMENT,
    LOGFILE_SNAPSHOT_META,
    LOGFILE_SNAPSHOT_DATA,
    LOGFILE_OTHER, /* not a name libraft reads (tmp-*, corrupt-*, anything else) */
};

enum logfile_state {
    LOGFILE_SOUND,     /* as the library wrote it */
    LOGFILE_UNUSED,    /* sound, but the library will not read it (an open
                          segment never written, half of an interrupted
                          snapshot, a segment the snapshot made obsolete) */
    LOGFILE_TORN_TAIL, /* recoverable: cut the file at 'offset' */
    LOGFILE_DAMAGED,   /* 'offset' and 'reason' say where and what */
    LOGFILE_IGNORED,   /* LOGFILE_OTHER */
};

struct logfile_file {
    char name[96];
    enum logfile_kind kind;
    enum logfile_state state;
    uint64_t size;
    uint64_t offset;  /* LOGFILE_DAMAGED / LOGFILE_TORN_TAIL: byte offset in the file */
    char reason[256]; /* LOGFILE_DAMAGED / LOGFILE_TORN_TAIL / LOGFILE_UNUSED: why */
    /* segments: the entries found intact (entries == 0: none) and their terms */
    uint64_t first_index, last_index, entries;
    uint64_t first_term, last_term;
    uint64_t counter; /* open segments: N of open-N */
    /* snapshots: from the name */
    uint64_t snapshot_term, snapshot_index, snapshot_timestamp;
};

struct logfile_report {
    struct logfile_file *files; /* sorted: metadata, snapshots, closed, open, others */
    size_t nfiles;
    size_t damaged;                         /* files in LOGFILE_DAMAGED */
    struct logfile_file *torn;              /* the open segment with a torn tail, or NULL */
    uint64_t term, voted_for;               /* from the newer metadata file */
    uint64_t metadata_version;              /* its version (odd: metadata1; 0: none) */
    uint64_t snapshot_term, snapshot_index; /* the snapshot the library loads (0: none) */
    uint64_t last_index;                    /* last intact entry (0: none) */
};

/* Checks a snapshot's payload (the bytes the FSM produced, after LZ4): 0
 * when it is sound, else -1 with 'why' filled and '*offset' the payload
 * offset of the damage. 'arg' is the caller's. */
typedef int (*logfile_payload_fn)(void *arg, const void *buf, size_t len, uint64_t *offset,
                                  char *why, size_t whylen);

/* Checks every file of 'dir' and fills 'out' (free with
 * logfile_report_free, also after an error). A missing directory is an
 * empty, sound one. 'payload' may be NULL (snapshot payloads are then not
 * looked into). Returns LOGFILE_OK (whatever the verdicts), LOGFILE_ENOMEM,
 * or LOGFILE_EIO when a file could not be listed or read (the reason in
 * 'errmsg'). */
int logfile_check_dir(const char *dir, logfile_payload_fn payload, void *payload_arg,
                      struct logfile_report *out, char *errmsg, size_t errlen);
void logfile_report_free(struct logfile_report *r);

/* Cuts the torn tail of 'r' (r->torn must be set): truncates the file at
 * its offset (removes it when no intact batch precedes the tear) and
 * fsyncs. Returns LOGFILE_OK or LOGFILE_EIO with the reason in 'errmsg'. */
int logfile_cut_torn_tail(const char *dir, const struct logfile_report *r, char *errmsg,
                          size_t errlen);

/* ---- Decoders (pure: bytes in, verdict out; the fuzz target's entry points) ---- */

/* Scans one segment's bytes. 'first_index' is the index of its first entry;
 * 'is_open' selects the open-segment rules (zeros end the batches) and
 * 'may_be_torn' whether an incomplete last batch is a torn tail rather than
 * damage. Fills f->state, offset, reason, first/last_index and entries. */
void logfile_scan_segment(const uint8_t *buf, size_t len, uint64_t first_index, bool is_open,
                          bool may_be_torn, struct logfile_file *f);

/* Decodes a snapshot .meta file's bytes; on success fills '*conf_index'.
 * Returns 0, or -1 with f->state LOGFILE_DAMAGED, offset and reason. */
int logfile_scan_snapshot_meta(const uint8_t *buf, size_t len, uint64_t *conf_index,
                               struct logfile_file *f);

/* Checks an encoded configuration (an entry of type 3, a snapshot .meta).
 * Returns 0, or -1 with 'why' filled and '*offset' relative to 'buf'. */
int logfile_check_configuration(const uint8_t *buf, size_t len, uint64_t *offset, char *why,
                                size_t whylen);

#endif
