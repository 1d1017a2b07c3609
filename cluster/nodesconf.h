/* nodes.conf (cluster-config-file): the cluster view persisted in Redis's
 * own format, one CLUSTER NODES line per node (handshake nodes left out)
 * and a final "vars currentEpoch N lastVoteEpoch M" line.
 *
 * Writes are atomic (temporary file, fsync, rename, fsync of the
 * directory), so a crash leaves either the old or the new file. Never
 * prints: errors come back as a code plus a message. */
#ifndef KR_CLUSTER_NODESCONF_H
#define KR_CLUSTER_NODESCONF_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

struct cluster_state;

#define NODESCONF_ERRORS(X)                                                                        \
    X(NODESCONF_ENOENT, -1, "no cluster configuration file")                                       \
    X(NODESCONF_EIO, -2, "I/O error")                                                              \
    X(NODESCONF_ECORRUPT, -3, "corrupted cluster config file")                                     \
    X(NODESCONF_ENOMEM, -4, "out of memory")
#define NODESCONF_ERROR_ENUM(name, code, text) name = code,
enum nodesconf_error { NODESCONF_ERRORS(NODESCONF_ERROR_ENUM) };
#undef NODESCONF_ERROR_ENUM
const char *nodesconf_strerror(int code);

/* Longest accepted file (a cluster of a thousand nodes is well below). */
#define NODESCONF_MAX_BYTES (64u << 20)

/* Writes 'cs' to 'path' atomically and durably (file and directory
 * fsynced). Returns 0, or NODESCONF_EIO/ENOMEM with the reason (and
 * errno's text) in 'err'. */
int nodesconf_save(const struct cluster_state *cs, const char *path, char *err, size_t errlen);
/* nodesconf_save, with the fsyncs only when 'durable': without them the new
 * file survives a crash of the process but not of the machine, as Redis
 * 7.0's saves after SETSLOT, ADDSLOTS, DELSLOTS and FORGET (clusterSaveConfig
 * without CLUSTER_TODO_FSYNC_CONFIG). */
int nodesconf_write(const struct cluster_state *cs, const char *path, bool durable, char *err,
                    size_t errlen);

/* Reads 'path' into a new state: returns 0 and an owned state in '*out'
 * (free with cluster_state_free). A missing or empty file is
 * NODESCONF_ENOENT (the caller creates a fresh node). A malformed file is
 * NODESCONF_ECORRUPT with "line N: what is wrong" in 'err'. 'now_ms' is the
 * load time (Redis sets nonzero ping/pong times to it). */
int nodesconf_load(const char *path, int64_t now_ms, struct cluster_state **out, char *err,
                   size_t errlen);

/* Parses 'text'[0..len) as nodes.conf contents (nodesconf_load without the
 * file; for tests and fuzzing). Same results as nodesconf_load. */
int nodesconf_parse(const char *text, size_t len, int64_t now_ms, struct cluster_state **out,
                    char *err, size_t errlen);

#endif
