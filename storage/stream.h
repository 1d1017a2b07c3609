/* Stream values: an append-only log of entries (ID + field/value pairs)
 * plus consumer groups with their pending-entry lists, as Redis 7.0.
 *
 * Entries live in listpack nodes of bounded size (stream-node-max-entries /
 * -max-bytes); a node starts at its "master" ID and entries store their ID as
 * deltas from it. Each entry is [flag, ms-delta, seq-delta, nfv, f1, v1, ...,
 * count] where flag 1 marks an XDEL'd entry and the trailing count lets an
 * iterator step backwards over it. XDEL only flags; a node whose entries are
 * all deleted is freed. Trimming removes from the head.
 *
 * Consumer groups and their PELs are kept here too (pure data); time values
 * are passed in by the caller, never read from a clock. */
#ifndef KR_STORAGE_STREAM_H
#define KR_STORAGE_STREAM_H

#include "storage/idmap.h"
#include "storage/streamid.h"

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#define STREAM_ENTRIES_READ_UNKNOWN (-1LL) /* Redis's SCG_INVALID_ENTRIES_READ */

struct stream_node;
struct stream_consumer;

/* A delivered, not yet acknowledged entry (one per ID in a group's PEL; the
 * owning consumer's PEL points at the same record). */
struct stream_nack {
    int64_t delivery_time_ms;
    uint64_t delivery_count;
    struct stream_consumer *consumer;
};

struct stream_consumer {
    char *name;
    size_t namelen;
    int64_t seen_time_ms;
    struct idmap *pel; /* ID -> struct stream_nack (borrowed from the group) */
};

struct stream_group {
    char *name;
    size_t namelen;
    struct stream_id last_id;
    long long entries_read;
    struct idmap *pel;                  /* ID -> struct stream_nack (owned) */
    struct stream_consumer **consumers; /* sorted by name, bytewise */
    size_t nconsumers;
};

struct stream {
    /* public: length and first_id are read-only; last_id, entries_added and
     * max_deleted_id may also be set directly (XSETID) */
    size_t length;
    struct stream_id last_id;
    struct stream_id first_id; /* of the first live entry; 0-0 when empty */
    struct stream_id max_deleted_id;
    uint64_t entries_added;
    struct stream_group **groups; /* sorted by name, bytewise */
    size_t ngroups;
    /* private */
    struct stream_node **nodes;
    size_t nnodes, cap;
};

/* Returns an owned empty stream (stream_free), or NULL. */
struct stream *stream_new(void);
void stream_free(struct stream *s);
/* A deep copy (entries, groups, consumers, pending lists), or NULL. */
struct stream *stream_dup(const struct stream *s);
size_t stream_mem_bytes(const struct stream *s);
/* Registers the stream destructor, size and copy functions with
 * storage/object. */
void stream_register(void);
size_t stream_node_count(const struct stream *s);

/* Appends an entry with 'id' (> last_id: the caller checked) and 'nfv'
 * field/value strings (even, >= 2). Returns 0 or STORAGE_ENOMEM. */
int stream_append(struct stream *s, const struct stream_id *id, int nfv, char *const *fv,
                  const size_t *fvlen, size_t node_max_bytes, size_t node_max_entries);
/* XDEL of one ID; returns whether a live entry was deleted. */
bool stream_delete(struct stream *s, const struct stream_id *id);
/* Whether a live entry with 'id' exists. */
bool stream_contains(const struct stream *s, const struct stream_id *id);

enum stream_trim_strategy { STREAM_TRIM_MAXLEN, STREAM_TRIM_MINID };
/* XTRIM / XADD trimming from the head: MAXLEN keeps the newest 'maxlen'
 * entries, MINID drops entries below 'minid'. 'approx' (~) removes whole
 * nodes only; 'limit' caps how many entries are removed (0 = no cap).
 * Returns the number of entries removed. */
size_t stream_trim(struct stream *s, enum stream_trim_strategy strategy, size_t maxlen,
                   const struct stream_id *minid, bool approx, size_t limit);

/* Range iteration over live entries with start <= ID <= end. */
struct stream_iter {
    const struct stream *s;
    struct stream_id start, end;
    bool rev;
    size_t node;        /* index of the node being walked */
    unsigned char *pos; /* next entry to examine in that node, or NULL */
    unsigned char *fv;  /* next field/value of the current entry */
    bool done;
};
void stream_iter_init(struct stream_iter *it, const struct stream *s, const struct stream_id *start,
                      const struct stream_id *end, bool rev);
/* Moves to the next entry in range; fills 'id' and 'nfv' (field and value
 * count). Returns false at the end. */
bool stream_iter_next(struct stream_iter *it, struct stream_id *id, size_t *nfv);
/* The next field or value of the current entry ('buf' holds integers:
 * at least 21 bytes). */
const char *stream_iter_string(struct stream_iter *it, char *buf, size_t *len);

/* ---- Consumer groups ---- */

struct stream_group *stream_group_find(const struct stream *s, const char *name, size_t len);
/* Creates a group; NULL when it exists (or out of memory: '*oom' set). */
struct stream_group *stream_group_create(struct stream *s, const char *name, size_t len,
                                         const struct stream_id *last_id, long long entries_read,
                                         bool *oom);
/* Frees the group with all its consumers and pending entries. */
void stream_group_destroy(struct stream *s, struct stream_group *g);

struct stream_consumer *stream_consumer_find(const struct stream_group *g, const char *name,
                                             size_t len);
/* Finds or creates a consumer ('*created' tells which). NULL when out of memory. */
struct stream_consumer *stream_consumer_get(struct stream_group *g, const char *name, size_t len,
                                            int64_t now_ms, bool *created);
/* Deletes a consumer and its pending entries; returns how many it had. */
size_t stream_consumer_delete(struct stream_group *g, struct stream_consumer *c);

/* Records that new entry 'id' was delivered to 'c' (XREADGROUP >): a new PEL
 * entry, or, if the ID was pending already, moved to 'c' with its count
 * reset to 1 (Redis 7.0). Returns 0 or STORAGE_ENOMEM. */
int stream_pel_deliver(struct stream_group *g, struct stream_consumer *c,
                       const struct stream_id *id, int64_t now_ms);
/* Adds 'id' to the PEL for 'c' with delivery count 0 (XCLAIM FORCE). The ID
 * must not be pending. Returns the record, or NULL when out of memory. */
struct stream_nack *stream_pel_add(struct stream_group *g, struct stream_consumer *c,
                                   const struct stream_id *id);
/* Moves an existing pending entry to 'c' without touching its counters. */
int stream_pel_move(struct stream_group *g, struct stream_nack *nack, const struct stream_id *id,
                    struct stream_consumer *c);
/* XACK of one ID; returns whether it was pending. */
bool stream_pel_ack(struct stream_group *g, const struct stream_id *id);

/* Redis 7.0's logical-read counters (XINFO GROUPS entries-read / lag). */
long long stream_estimate_distance(const struct stream *s, const struct stream_id *id);
bool stream_range_has_tombstones(const struct stream *s, const struct stream_id *start,
                                 const struct stream_id *end);
/* Records that 'g' delivered 'id' (XREADGROUP >): advances last_id and
 * entries_read as Redis does. */
void stream_group_advance(const struct stream *s, struct stream_group *g,
                          const struct stream_id *id);

#endif
