/* Cache warming for a client's pipelined reads: before the commands waiting
 * in a query buffer run one by one, a second parser reads ahead and the
 * records of their keys are loaded together (storage's keyspace_prefetch),
 * so the cache misses of the lookups overlap instead of following one
 * another. Writes are left out: their lookups happen when their Raft entry
 * applies, which prefetches on its own (node/propose.c); a client whose
 * pipelines hold only writes is not read ahead for a while. */
#ifndef KR_NODE_PREFETCH_H
#define KR_NODE_PREFETCH_H

#include <stddef.h>

struct client;

/* Reads ahead from the client's next unconsumed command (qstart) and warms
 * the cache for the keys of up to 16 of them, when at least two are
 * complete. Changes nothing the client or the keyspace can see. Returns
 * the offset in qbuf up to which this covered the buffer: the caller asks
 * again once its commands have been consumed that far. */
size_t prefetch_pipeline(struct client *c);

#endif
