/* One member of a Raft group (canonical/raft 0.15 with its libuv backend).
 *
 * The group owns the library objects (struct raft, its I/O and transport)
 * and hides them: callers propose opaque entries and get each committed
 * entry back through an apply callback, in log order, on every member. The
 * member that proposed an entry also learns the apply result through the
 * proposal's completion callback.
 *
 * Traps handled here (see shared/docs/raft-notes.md): the commit index is
 * not persisted, so after a restart a leader applies its log only once an
 * entry of its own term commits: group issues a barrier as soon as it wins
 * an election. An apply callback with a non-zero status means the entry's
 * fate is unknown to its proposer. Entries whose size is not a multiple of
 * 8 bytes break the library's storage and replication, so group frames and
 * pads every entry (callers see exactly the bytes they proposed).
 *
 * Everything runs on the caller's libuv loop thread. */
#ifndef KR_RAFT_GROUP_H
#define KR_RAFT_GROUP_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <uv.h>

#include "raft/transport.h"

#define GROUP_ERRORS(X)                                                                            \
    X(GROUP_OK, 0, "ok")                                                                           \
    X(GROUP_ENOMEM, -1, "out of memory")                                                           \
    X(GROUP_EIO, -2, "raft I/O error")                                                             \
    X(GROUP_ENOTLEADER, -3, "not the leader")                                                      \
    X(GROUP_ELEADERSHIPLOST, -4, "leadership lost before the entry committed")                     \
    X(GROUP_ESHUTDOWN, -5, "group shutting down")                                                  \
    X(GROUP_EBUSY, -6, "a snapshot is already being taken")                                        \
    X(GROUP_ENOSNAPSHOTS, -7, "snapshots are not configured")                                      \
    X(GROUP_ECHANGING, -8, "another membership change is under way")                               \
    X(GROUP_CURRENT, 1, "the last snapshot already holds every applied entry")

enum group_error {
#define X(name, value, text) name = value,
    GROUP_ERRORS(X)
#undef X
};

const char *group_strerror(int code);

struct group;

/* Applies one committed entry (borrowed: valid during the call) on this
 * member; '*result' goes to the proposer's completion callback (on the
 * member that proposed it) and is otherwise ignored. Must not fail for a
 * well-formed entry: every member must reach the same state. */
typedef void (*group_apply_fn)(void *arg, const void *buf, size_t len, void **result);
/* Completion of a proposal: 'status' is GROUP_OK with the apply result, or
 * an error (the entry may or may not have been applied). */
typedef void (*group_done_fn)(void *arg, int status, void *result);

/* ---- Snapshots ----
 *
 * The payload of a snapshot is the caller's whole state as of the last
 * applied entry. keyraft's node writes it in storage/snapshot.h's dataset
 * format ("KRSNAP", version, body, CRC-64: byte for byte what SAVE writes to
 * <dbfilename>). The library stores it UNCOMPRESSED as
 * <dir>/snapshot-TERM-INDEX-MS next to snapshot-TERM-INDEX-MS.meta (its own
 * format: configuration and index), keeps the two newest, and deletes the
 * closed log segments that lie entirely before INDEX - trailing. A restart
 * loads the newest snapshot, then replays the log after INDEX; a member
 * whose log ends before the leader's first entry receives the snapshot
 * (install-snapshot) and replaces its state with it.
 *
 * Taking one never blocks the loop for long: group_snapshot_fn forks a
 * child that writes the payload to a file outside 'dir'; a thread of the
 * loop's pool waits for the child and maps the file for the library, which
 * copies it into 'dir'; then the file is unmapped and removed. */

/* Starts writing the payload of the state as applied right now to the file
 * 'path' (created or truncated) from a forked child, and returns the child's
 * pid (> 0). The child must exit with status 0 once the file is complete
 * and synced, non-zero on failure. Returns -1 when no snapshot can start now:
 * the library tries again after the next applied entry. */
typedef int (*group_snapshot_fn)(void *arg, const char *path);
/* Replaces the whole state with the payload 'buf' ('len' bytes, borrowed
 * for the call): at startup, and when the leader installs a snapshot.
 * Returns 0, or -1 leaving the state untouched (never half-replaced). */
typedef int (*group_restore_fn)(void *arg, const void *buf, size_t len);
/* A snapshot of the state at 'index' was stored and the log compacted
 * (GROUP_OK), or failed ('status' < 0). 'path' still holds the payload
 * file during the call: the callee may rename it away (it is removed
 * after the call otherwise). */
typedef void (*group_snapshot_done_fn)(void *arg, int status, uint64_t index, const char *path);

struct group_member {
    uint64_t id;         /* > 0 */
    const char *address; /* "ip:port" of its Raft transport */
};

struct group_config {
    uv_loop_t *loop;
    const char *dir; /* holds only the library's files */
    uint64_t id;
    const char *address; /* where this member listens */
    group_apply_fn apply;
    void *apply_arg;
    unsigned election_timeout_ms; /* 0: the library's default */
    unsigned heartbeat_timeout_ms;
    /* GROUP_TRANSPORT_TCP (the default): libraft's raft_uv_tcp listens on
     * 'address'. GROUP_TRANSPORT_SHARED_PORT: raft/transport.h's, which
     * listens on 'address' (the bus port) and hands connections opened with
     * the bus preamble to 'bus_cb' (may be NULL: they are closed). */
    enum group_transport { GROUP_TRANSPORT_TCP, GROUP_TRANSPORT_SHARED_PORT } transport;
    transport_bus_cb bus_cb;
    void *bus_arg;
    /* GROUP_TRANSPORT_SHARED_PORT only: asked for a member's current
     * address before each connection (see transport_resolve_fn); NULL:
     * the configuration's addresses. */
    transport_resolve_fn resolve;
    void *resolve_arg;
    /* GROUP_TRANSPORT_SHARED_PORT only: "ip:port" the listener binds to
     * instead of 'address' (e.g. "0.0.0.0:16379"); NULL: 'address'. */
    const char *bind_address;
    /* Snapshots (see above; callbacks get 'apply_arg'). NULL 'snapshot':
     * none, the log grows forever. 'snapshot_dir' (outside 'dir') holds the
     * payload files while they are written. 'snapshot_threshold': applied
     * entries since the last snapshot that trigger the next one (0: none,
     * snapshots only on request); 'snapshot_trailing': entries kept in the
     * log behind a snapshot, so a member lagging by fewer catches up from
     * the log (0: the library's 128). */
    group_snapshot_fn snapshot;
    group_restore_fn restore;
    group_snapshot_done_fn snapshot_done;
    const char *snapshot_dir;
    unsigned snapshot_threshold;
    unsigned snapshot_trailing;
    /* How long the leader waits for a member to confirm an installed
     * snapshot before it sends it again (0: the library's 30 s). A member
     * that was down when the leader first tried waits this long too. */
    unsigned install_snapshot_timeout_ms;
};

/* Creates a member. Returns GROUP_OK and '*out' (free with group_close), or
 * an error with a reason in 'errmsg'. */
int group_new(const struct group_config *cfg, struct group **out, char *errmsg, size_t errlen);
/* Writes the initial configuration (fresh 'dir' only; on one member, or on
 * all members with the same list). */
int group_bootstrap(struct group *g, const struct group_member *members, size_t n);
/* Forces 'members' as the configuration, appended to the log on disk
 * (raft_recover: disaster recovery after a loss of quorum). Before
 * group_start, on one surviving member only. */
int group_recover(struct group *g, const struct group_member *members, size_t n);
/* Starts the member: loads its log and snapshot, joins elections. */
int group_start(struct group *g);
/* Proposes an entry. On GROUP_OK takes ownership of 'buf' (malloc'd) and
 * will call 'done' exactly once; on error 'buf' stays the caller's. */
int group_propose(struct group *g, void *buf, size_t len, group_done_fn done, void *arg);
/* On the leader: appends a barrier entry and calls 'done' exactly once:
 * with GROUP_OK when it has been applied here, which proves that every
 * entry committed before the call has been applied and that this member was
 * still the leader after the call (a read served then is linearizable); or
 * with an error (leadership lost, shutdown). 'result' is NULL. Returns
 * GROUP_ENOTLEADER on a follower (then 'done' never runs). */
int group_barrier(struct group *g, group_done_fn done, void *arg);

/* How a proposal is stored as a log entry: [u64 little-endian payload
 * length][payload][zero padding to a multiple of 8] (see group.c). For
 * readers of the log files (raft/logfile.h). group_frame_payload points
 * '*payload' into 'buf' and returns true, or returns false when 'buf' is too
 * short for the length it declares; a frame group wrote is exactly
 * group_frame_size(payload length) bytes. */
bool group_frame_payload(const void *buf, size_t len, const void **payload, size_t *payload_len);
size_t group_frame_size(size_t payload_len);

/* Completion of a membership change ('status' GROUP_OK or an error). */
typedef void (*group_change_fn)(void *arg, int status);

/* On the leader: adds member 'id' at 'address' and, once it has caught up,
 * makes it a voter. 'added' runs when it is in the configuration (it can be
 * started now and will receive the log), or with the error if it could not
 * be added (then 'promoted' never runs); 'promoted' when it votes or failed
 * to. Either may be NULL. Returns GROUP_ENOTLEADER on a follower. */
int group_add_member(struct group *g, uint64_t id, const char *address, group_change_fn added,
                     group_change_fn promoted, void *arg);

/* On the leader: removes member 'id' from the configuration (a node that
 * left the cluster or joined another group). 'done' (may be NULL) runs with
 * the outcome. Returns GROUP_ENOTLEADER on a follower. */
int group_remove_member(struct group *g, uint64_t id, group_change_fn done, void *arg);

/* On the leader: hands leadership to voter 'id' (0: the most up-to-date
 * voter), Raft §3.10. 'done' (may be NULL) runs with GROUP_OK once this
 * member stepped down, or GROUP_EIO when the transfer timed out. Returns
 * GROUP_ENOTLEADER on a follower, GROUP_EIO when 'id' is not a voter or a
 * transfer is already under way. */
int group_transfer(struct group *g, uint64_t id, group_change_fn done, void *arg);

enum group_role { GROUP_ROLE_STANDBY, GROUP_ROLE_VOTER, GROUP_ROLE_SPARE };

struct group_member_info {
    uint64_t id;
    const char *address; /* borrowed: valid until the configuration changes */
    enum group_role role;
    uint64_t match_index; /* on the leader: highest index it has; else 0 */
};

/* Fills up to 'max' members of the current configuration; returns how many
 * there are. */
size_t group_members(const struct group *g, struct group_member_info *out, size_t max);
uint64_t group_commit_index(const struct group *g);
/* During an apply callback: the index of the entry being applied. */
uint64_t group_applying_index(const struct group *g);

bool group_is_leader(const struct group *g);
/* The current leader's id and address (0 / NULL when unknown). */
uint64_t group_leader(const struct group *g, const char **address);
uint64_t group_applied_index(const struct group *g);
uint64_t group_last_index(const struct group *g);
uint64_t group_term(const struct group *g);

/* Takes a snapshot (and compacts the log) as soon as possible: right away
 * on the leader (it commits a barrier), at the next applied entry on a
 * follower. Returns GROUP_OK (snapshot_done will report it), GROUP_CURRENT
 * (nothing applied since the last snapshot: it is current, no callback),
 * GROUP_EBUSY (one is being taken), or GROUP_ENOSNAPSHOTS. Asking again
 * while a request waits for its entry (e.g. the caller's snapshot hook
 * declined) commits another barrier on the leader. */
int group_snapshot_now(struct group *g);
/* Changes the snapshot threshold (0: none, as in group_config) and the
 * trailing (0: keep the current one). */
void group_set_snapshot_limits(struct group *g, unsigned threshold, unsigned trailing);
/* Index of the last snapshot stored (0: none). */
uint64_t group_snapshot_index(const struct group *g);
/* How much log this member would replay, for a policy that compacts by size
 * (Redis's auto-aof-rewrite-percentage). '*log_bytes': the framed size
 * (group_frame_size) of the entries applied since the last snapshot stored
 * or restored; entries applied while a snapshot is taken still count after
 * it is stored, and a failed one leaves the count as it was. Barrier and
 * configuration entries, and the trailing entries kept behind a snapshot,
 * are not counted. '*snapshot_bytes': the payload size of that snapshot (0:
 * none since the member started). */
void group_log_sizes(const struct group *g, uint64_t *log_bytes, uint64_t *snapshot_bytes);

/* "leader", "follower", "candidate" or "unavailable" (static strings). */
const char *group_state_name(const struct group *g);

/* Log appends that completed on this member since it started: each is one
 * batch of entries written with O_DSYNC by the libuv backend, so a duration
 * is the log's write + fsync latency, in microseconds. */
struct group_append_stats {
    uint64_t count;
    uint64_t last_us;
    uint64_t max_us;
    uint64_t total_us;
};
void group_append_stats(const struct group *g, struct group_append_stats *out);

/* Stops the member; 'closed' (may be NULL) runs once its memory is freed.
 * Pending proposals complete with GROUP_ESHUTDOWN first. */
void group_close(struct group *g, void (*closed)(void *arg), void *arg);

#endif
