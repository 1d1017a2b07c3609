/* INFO raft and the metrics endpoint's Raft figures (see raft_info.h),
 * gathered from node/shard.h's group. It reports; it never changes the
 * group. */
#include "node/raft_info.h"

#include <inttypes.h>
#include <stdio.h>
#include <string.h>

#include "node/shard.h"

#define MAX_MEMBERS 64

void raft_info_collect(struct raft_info *out) {
    memset(out, 0, sizeof(*out));
    out->role = "none";
    struct group *g = shard_group();
    if (g == NULL)
        return;
    out->enabled = true;
    out->role = group_state_name(g);
    out->member_id = shard_member_id();
    out->term = group_term(g);
    const char *raft_address = NULL;
    out->leader_id = group_leader(g, &raft_address);
    char ip[48];
    long long port;
    if (raft_address != NULL && shard_client_address(raft_address, ip, sizeof(ip), &port))
        snprintf(out->leader_address, sizeof(out->leader_address), "%s:%lld", ip, port);
    out->commit_index = group_commit_index(g);
    out->applied_index = group_applied_index(g);
    out->last_log_index = group_last_index(g);
    out->snapshot_index = group_snapshot_index(g);
    struct group_member_info members[MAX_MEMBERS];
    out->members = group_members(g, members, MAX_MEMBERS);
    for (size_t i = 0; i < out->members && i < MAX_MEMBERS; i++)
        if (members[i].role == GROUP_ROLE_VOTER)
            out->voters++;
    group_append_stats(g, &out->appends);
}

size_t raft_info_fields(char *buf, size_t len) {
    struct raft_info r;
    raft_info_collect(&r);
    const struct group_append_stats *a = &r.appends;
    int n =
        snprintf(buf, len,
                 "raft_enabled:%d\r\n"
                 "raft_role:%s\r\n"
                 "raft_member_id:%" PRIu64 "\r\n"
                 "raft_term:%" PRIu64 "\r\n"
                 "raft_leader_id:%" PRIu64 "\r\n"
                 "raft_leader_addr:%s\r\n"
                 "raft_commit_index:%" PRIu64 "\r\n"
                 "raft_applied_index:%" PRIu64 "\r\n"
                 "raft_last_log_index:%" PRIu64 "\r\n"
                 "raft_snapshot_index:%" PRIu64 "\r\n"
                 "raft_members:%zu\r\n"
                 "raft_voters:%zu\r\n"
                 "raft_fsync_count:%" PRIu64 "\r\n"
                 "raft_fsync_latency_last_us:%" PRIu64 "\r\n"
                 "raft_fsync_latency_avg_us:%" PRIu64 "\r\n"
                 "raft_fsync_latency_max_us:%" PRIu64 "\r\n",
                 r.enabled ? 1 : 0, r.role, r.member_id, r.term, r.leader_id, r.leader_address,
                 r.commit_index, r.applied_index, r.last_log_index, r.snapshot_index, r.members,
                 r.voters, a->count, a->last_us, a->count ? a->total_us / a->count : 0, a->max_us);
    return n < 0 ? 0 : (size_t)n;
}
