/* The figures of this node's Raft group that INFO raft and the metrics
 * endpoint (node/metrics.h) report: role, term, leader, log indexes and the
 * log's append (write + fsync) latency. Read-only: collecting them changes
 * nothing. */
#ifndef KR_NODE_RAFT_INFO_H
#define KR_NODE_RAFT_INFO_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "raft/group.h"

struct raft_info {
    bool enabled;     /* false: writes apply at once, no group (the rest is 0) */
    const char *role; /* "leader", "follower", "candidate", "unavailable"; "none" */
    uint64_t member_id;
    uint64_t term;
    uint64_t leader_id;      /* 0: unknown */
    char leader_address[64]; /* its client address "ip:port", "" when unknown */
    uint64_t commit_index;
    uint64_t applied_index;
    uint64_t last_log_index;
    uint64_t snapshot_index; /* 0: no snapshot yet */
    size_t members;          /* in the current configuration */
    size_t voters;
    struct group_append_stats appends;
};

void raft_info_collect(struct raft_info *out);

/* Writes INFO raft's "name:value\r\n" lines (without the "# Raft" header)
 * into 'buf' (NUL-terminated, truncated to 'len'); returns the length
 * snprintf would have written. */
size_t raft_info_fields(char *buf, size_t len);

#endif
