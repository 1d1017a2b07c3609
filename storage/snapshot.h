/* Snapshots: keyraft's own msgpack serialisation of one value (DUMP/RESTORE,
 * MIGRATE) and of a whole dataset (SAVE/BGSAVE files, Raft snapshots).
 *
 * Pure data: no I/O, no clock. Bytes leave through a caller's write
 * callback and come back in as a caller's buffer (a mapped file, a Raft
 * snapshot buffer, a RESTORE argument).
 *
 * ---- Value payload ----
 * A sequence of msgpack objects: the type (Redis's number), then the
 * contents, independent of the encoding the value had:
 *   string  bin
 *   list    n, n x bin                         (head to tail)
 *   set     n, n x bin                         (position order)
 *   hash    n, n x (field bin, value bin)
 *   zset    n, n x (member bin, score float64) (ascending)
 *   stream  length, last_id, max_deleted_id, entries_added,
 *           length x (id, npairs, npairs x (field bin, value bin)),
 *           ngroups x (name bin, last_id, entries_read int,
 *             nconsumers x (name bin, seen_time_ms int,
 *               npending x (id, delivery_time_ms int, delivery_count)))
 *           (an id is two uints, ms and seq)
 * Collections are never empty (streams may be). Decoding builds the value
 * exactly as the write path would from those contents, under the
 * thresholds in 'struct snapshot_params' (listpack sizes, intset size,
 * stream node size), so encodings are Redis's, not the source's.
 *
 * ---- DUMP payload ----
 * value payload, SNAPSHOT_DUMP_VERSION (2 bytes, little-endian), CRC-64 of
 * everything before it (8 bytes, little-endian): Redis's DUMP layout, with a
 * version Redis itself refuses, so payloads never cross between the two.
 *
 * ---- Dataset file ----
 *   "KRSNAP" + SNAPSHOT_FORMAT_VERSION (2 bytes, little-endian)
 *   body: ctime_ms int, then records, each an opcode (positive fixint):
 *     AUX  name bin, value bin                 (metadata for the caller)
 *     DB   dbid, nkeys, nkeys x (key bin, expire_ms int (-1: none), value payload)
 *     END  total keys
 *   CRC-64 of header and body (8 bytes, little-endian); nothing after it.
 * Keys are written as they are, logically expired or not: a snapshot is the
 * applied state, and deciding about expiry is the loader's caller's job.
 *
 * Every decoder checks each length against the bytes left and against the
 * limits below before allocating, verifies the CRC before building anything,
 * and on any error frees what it built: bad input is an error with a reason
 * ("field at offset N: why"), never a crash or a partial result.
 *
 * Records of collection types are freed through the destructors registered
 * with storage/object (obj_register_free): callers register every type,
 * streams included, before decoding. */
#ifndef KR_STORAGE_SNAPSHOT_H
#define KR_STORAGE_SNAPSHOT_H

#include "storage/object.h"

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

struct keyspace;

#define SNAPSHOT_FORMAT_VERSION 1
#define SNAPSHOT_DUMP_VERSION   0x4b01 /* > Redis's RDB versions: Redis rejects it */
#define SNAPSHOT_MAGIC          "KRSNAP"
#define SNAPSHOT_HEADER_BYTES   8
#define SNAPSHOT_FOOTER_BYTES   8
#define SNAPSHOT_MAX_KEY_LEN    (512u * 1024 * 1024) /* proto-max-bulk-len's default */
#define SNAPSHOT_MAX_DBS        (1 << 20)
#define SNAPSHOT_CHUNK_BYTES    (64 * 1024) /* what the encoder hands its callback at most */

#define SNAPSHOT_ERRORS(X)                                                                         \
    X(SNAPSHOT_OK, 0, "ok")                                                                        \
    X(SNAPSHOT_AGAIN, 1, "more work to do")                                                        \
    X(SNAPSHOT_ENOMEM, -1, "out of memory")                                                        \
    X(SNAPSHOT_EIO, -2, "write callback failed")                                                   \
    X(SNAPSHOT_ECORRUPT, -3, "corrupt data")                                                       \
    X(SNAPSHOT_ECHECKSUM, -4, "wrong version or checksum")

enum snapshot_error_code {
#define X(name, value, text) name = value,
    SNAPSHOT_ERRORS(X)
#undef X
};

const char *snapshot_strerror(int code);

/* Why a decode failed: 'msg' names the field and the byte offset in the
 * input ("zset score at offset 1234: not a number"). */
struct snapshot_error {
    size_t offset;
    char msg[192];
};

/* How decoded values are encoded: the node passes its configuration. */
struct snapshot_params {
    int list_fill;         /* list-max-listpack-size */
    size_t set_max_intset; /* set-max-intset-entries */
    size_t hash_max_entries, hash_max_value;
    size_t zset_max_entries, zset_max_value;
    size_t stream_node_max_bytes, stream_node_max_entries;
};

/* Redis 7.0's default thresholds (for tools and tests: the server passes
 * its configuration's). */
extern const struct snapshot_params snapshot_default_params;

/* Receives encoded bytes in order; returns 0, or non-zero to abort the
 * encoding (which then returns SNAPSHOT_EIO). 'buf' is borrowed for the call. */
typedef int (*snapshot_write_fn)(void *arg, const void *buf, size_t len);

/* ---- Values: DUMP and RESTORE ---- */

/* DUMP: the payload of the value of 'kv' (key and expiry are not part of
 * it) with version and CRC trailer. '*out' receives an owned buffer of
 * '*outlen' bytes (free with mem_free). Returns 0 or SNAPSHOT_ENOMEM. */
int snapshot_dump(const struct kv *kv, unsigned char **out, size_t *outlen);

/* RESTORE: checks the trailer (SNAPSHOT_ECHECKSUM when version or CRC are
 * wrong or the input is too short for one), then decodes the payload into a
 * new record for 'key' with expiry 'expire_ms' (< 0: none). On success
 * '*out' is an owned record. Otherwise SNAPSHOT_ECORRUPT (with 'err') or
 * SNAPSHOT_ENOMEM, and nothing is allocated. 'buf' is only read. */
int snapshot_restore(const unsigned char *buf, size_t len, const char *key, size_t keylen,
                     int64_t expire_ms, const struct snapshot_params *params, struct kv **out,
                     struct snapshot_error *err);

/* ---- Datasets: writing ---- */

struct snapshot_writer; /* opaque */

/* Starts a dataset: writes the header and 'ctime_ms'. Returns an owned
 * writer (snapshot_writer_free), or NULL when out of memory. Bytes reach
 * 'fn' in chunks of at most SNAPSHOT_CHUNK_BYTES. */
struct snapshot_writer *snapshot_writer_new(snapshot_write_fn fn, void *arg, int64_t ctime_ms);
/* An AUX record (metadata the decoder hands back, e.g. the Raft index). */
int snapshot_writer_aux(struct snapshot_writer *w, const char *name, size_t namelen,
                        const void *value, size_t valuelen);
/* Starts database 'dbid'; exactly 'nkeys' snapshot_writer_key calls follow. */
int snapshot_writer_db(struct snapshot_writer *w, int dbid, size_t nkeys);
/* One key with its expiry and value. */
int snapshot_writer_key(struct snapshot_writer *w, const struct kv *kv);
/* Writes END and the CRC, and flushes. The writer is done but not freed. */
int snapshot_writer_finish(struct snapshot_writer *w);
/* Bytes handed to 'fn' so far. */
uint64_t snapshot_writer_bytes(const struct snapshot_writer *w);
void snapshot_writer_free(struct snapshot_writer *w);
/* The writer functions return 0, SNAPSHOT_EIO (the callback failed: the
 * writer is useless afterwards) or SNAPSHOT_ENOMEM. */

/* Writes the whole dataset: every non-empty database of 'dbs' ('ndbs'
 * entries, NULL for a database never created). Returns 0 or an error code. */
int snapshot_write_dataset(struct keyspace *const *dbs, int ndbs, int64_t ctime_ms,
                           snapshot_write_fn fn, void *arg);

/* ---- Datasets: loading ---- */

struct snapshot_loader; /* opaque */

/* Prepares to load 'buf' ('len' bytes, borrowed until snapshot_loader_free)
 * into 'ndbs' fresh keyspaces; live keyspaces are never touched. Returns an
 * owned loader, or NULL when out of memory. */
struct snapshot_loader *snapshot_loader_new(const unsigned char *buf, size_t len, int ndbs,
                                            const struct snapshot_params *params);
/* Does about 'budget_bytes' of work (checksum, then decoding) so a caller on
 * an event loop can serve between steps. Returns SNAPSHOT_AGAIN (call
 * again), SNAPSHOT_OK (complete: take the result), or an error with 'err'
 * filled and everything built so far freed. */
int snapshot_loader_step(struct snapshot_loader *l, size_t budget_bytes,
                         struct snapshot_error *err);
/* After SNAPSHOT_OK: moves the keyspaces into 'dbs' ('ndbs' entries; NULL
 * for a database the snapshot does not hold). The caller owns them. */
void snapshot_loader_take(struct snapshot_loader *l, struct keyspace **dbs);
/* What the loader has seen so far: creation time, keys, bytes consumed. */
int64_t snapshot_loader_ctime_ms(const struct snapshot_loader *l);
uint64_t snapshot_loader_keys(const struct snapshot_loader *l);
size_t snapshot_loader_offset(const struct snapshot_loader *l);
/* The value of AUX record 'name' (borrowed from the input), or NULL. */
const unsigned char *snapshot_loader_aux(const struct snapshot_loader *l, const char *name,
                                         size_t *len);
/* Frees the loader and any keyspaces not taken. */
void snapshot_loader_free(struct snapshot_loader *l);

/* Loads a whole dataset in one call (snapshot_loader_* without pauses).
 * On success 'dbs' receives owned keyspaces as with snapshot_loader_take. */
int snapshot_load(const unsigned char *buf, size_t len, int ndbs,
                  const struct snapshot_params *params, struct keyspace **dbs,
                  struct snapshot_error *err);

#endif
