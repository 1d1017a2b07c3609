/* Cache warming for a client's pipelined reads: before the commands waiting
 * in a query buffer run one by one, a second parser reads ahead and the
 * records of their keys are loaded together (storage's keyspace_prefetch),
 * so the cache misses of the lookups overlap instead of following one
 * another. Writes are left out: their lookups happen when their Raft entry
 * applies, which prefetches on its own (node/propose.c, with the constant
 * and key choice below); a client whose pipelines hold only writes is not
 * read ahead for a while. */
#ifndef KR_NODE_PREFETCH_H
#define KR_NODE_PREFETCH_H

#include <stdbool.h>
#include <stddef.h>

struct client;
struct command;
struct keyspace;
struct keyspace_prefetch;

/* How many commands are read ahead, here and when a Raft entry applies
 * (node/propose.c): enough cache misses in flight to keep the core's
 * line-fill buffers busy. */
#define PREFETCH_AHEAD 16

/* Fills '*key' with the first key of the command 'cmd' (argc/argv/argvlen)
 * in 'ks' (may be NULL: nothing to load). Returns false, leaving '*key'
 * empty (ks NULL), when the command names no key. */
bool prefetch_key_of(const struct command *cmd, struct keyspace *ks, int argc, char **argv,
                     const size_t *argvlen, struct keyspace_prefetch *key);

/* Reads ahead from the client's next unconsumed command (qstart) and warms
 * the cache for the keys of up to 16 of them, when at least two are
 * complete. Changes nothing the client or the keyspace can see. Returns
 * the offset in qbuf up to which this covered the buffer: the caller asks
 * again once its commands have been consumed that far. */
size_t prefetch_pipeline(struct client *c);

#endif
