/* What the stream commands share: finding a stream key, parsing IDs with
 * Redis 7.0's error replies, and writing entries. */
#ifndef KR_NODE_STREAM_ARGS_H
#define KR_NODE_STREAM_ARGS_H

#include "node/exec.h"
#include "storage/stream.h"

#include <stdbool.h>
#include <stddef.h>

/* Registers the stream value type's destructor and size function (startup). */

/* The stream at argv['i'] for reading: NULL when missing ('*wrongtype'
 * false) or not a stream (replied WRONGTYPE, '*wrongtype' true). */
struct stream *stream_lookup_read(struct exec_ctx *ctx, int i, bool *wrongtype);
/* The same for writing (deletes an expired key first). */
struct stream *stream_lookup_write(struct exec_ctx *ctx, int i, bool *wrongtype);
/* Creates an empty stream at argv['i']; NULL after replying -OOM. */
struct stream *stream_create_key(struct exec_ctx *ctx, int i);
/* Marks the stream key at argv['i'] as modified. */
void stream_touch(struct exec_ctx *ctx, int i);

/* An ID as Redis's streamParseStrictIDOrReply ("-"/"+" refused) or, when
 * 'allow_special', streamParseIDOrReply ("-" = 0-0, "+" = max). A missing
 * sequence becomes 'missing_seq'. Replies the error and returns false. */
bool stream_parse_id(struct exec_ctx *ctx, int i, bool allow_special, uint64_t missing_seq,
                     struct stream_id *id);

/* An interval bound as XRANGE/XPENDING take it: "-", "+", an ID (a missing
 * sequence is 0 for a start, max for an end), or "(" + ID for an exclusive
 * one. Replies Redis's error and returns false. */
bool stream_parse_interval(struct exec_ctx *ctx, int i, bool is_start, struct stream_id *id);

/* Writes one entry [id, [f, v, ...]] at the iterator's current entry. */
void stream_reply_entry(struct exec_ctx *ctx, struct stream_iter *it, const struct stream_id *id,
                        size_t nfv);
/* Writes up to 'count' entries (0 = all) of [start, end] as an array.
 * Returns how many were written. */
size_t stream_reply_range(struct exec_ctx *ctx, const struct stream *s,
                          const struct stream_id *start, const struct stream_id *end, size_t count,
                          bool rev);
void stream_reply_id(struct exec_ctx *ctx, const struct stream_id *id);

/* Node sizing from the stream-node-max-bytes / -entries directives. */
size_t stream_node_max_bytes(void);
size_t stream_node_max_entries(void);

#endif
