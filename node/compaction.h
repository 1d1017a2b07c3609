/* Raft snapshots and log compaction of this node's group: the node side of
 * raft/group.h's snapshot hooks.
 *
 * A snapshot's payload is the whole dataset in storage/snapshot's format,
 * byte for byte what SAVE writes to <dbfilename>: a forked child writes it
 * to <dir>/temp-raft-snapshot-<member>-<pid>.krs (outside <dir>/raft), the
 * group hands it to the library, which keeps it as
 * <dir>/raft/snapshot-TERM-INDEX-MS and drops the log before it (keeping
 * `raft-snapshot-trailing` entries). The Raft configuration is in the
 * library's .meta file; of what entries change, the function libraries live
 * outside the keyspaces and travel in the AUX record "functions"
 * (persist.h). Anything else a logged command changes outside the
 * keyspaces must be added to the payload the same way, or a restart after
 * compaction loses it.
 *
 * Snapshots happen on their own as Redis 7.0 rewrites its AOF: when the
 * last snapshot plus the log applied since is larger than
 * `auto-aof-rewrite-min-size` and has grown by
 * `auto-aof-rewrite-percentage` over that snapshot's size. Every member
 * checks its own log (the cron), leader and followers alike. A non-zero
 * `raft-snapshot-threshold` adds one every that many applied entries (an
 * entry is a whole batch of writes, so this says little about the log's
 * size; 0 by default). And on request: on the leader BGSAVE, `save` points
 * and BGREWRITEAOF take one (a BGSAVE's payload then also becomes
 * <dbfilename>), SAVE writes the dump file in the foreground and then takes
 * one in the background. On a follower BGSAVE writes the dump file as
 * without a log, and BGREWRITEAOF (or the size policy) takes a snapshot at
 * the next entry the leader sends.
 *
 * Restoring (startup, install-snapshot from the leader) decodes the payload
 * into fresh keyspaces and swaps them in only when complete. */
#ifndef KR_NODE_COMPACTION_H
#define KR_NODE_COMPACTION_H

#include <stdbool.h>
#include <stddef.h>

struct group_config;

/* Fills the snapshot hooks and limits of 'gc' (node/shard.c). */
void compaction_configure(struct group_config *gc);
/* CONFIG SET raft-snapshot-threshold / -trailing: takes effect at once. */
int compaction_apply_config(char *err, size_t errlen);

enum compaction_reason {
    COMPACTION_BGSAVE,  /* BGSAVE and `save` points: also writes <dbfilename> */
    COMPACTION_REWRITE, /* BGREWRITEAOF */
    COMPACTION_SAVE,    /* after SAVE wrote <dbfilename> itself */
};

enum compaction_result {
    COMPACTION_STARTED,   /* a snapshot is coming; INFO shows it in progress */
    COMPACTION_SCHEDULED, /* the group is busy with one: another follows */
    COMPACTION_CURRENT,   /* the last snapshot holds every applied entry already */
    COMPACTION_BUSY,      /* one requested earlier is still under way */
    COMPACTION_NOGROUP,   /* writes do not go through a Raft log */
};

/* True when BGSAVE and `save` points should take a Raft snapshot: this node
 * leads a group. */
bool compaction_takes_saves(void);
/* Requests a snapshot now (see the header comment for what each reason
 * does). */
enum compaction_result compaction_request(enum compaction_reason why);
/* A snapshot has been requested or is being taken. */
bool compaction_in_progress(void);
/* Seconds the running snapshot has taken so far (-1: none). */
long long compaction_current_time_sec(void);
/* Server cron: retries a scheduled request, forgets requests of a group
 * that closed, ends the loading state after a snapshot install, and
 * starts a snapshot when the log has grown enough (see above). */
void compaction_cron(void);

/* What INFO persistence reports as the AOF rewrite. */
struct compaction_info {
    bool in_progress;
    bool scheduled;
    bool last_ok;
    long long last_time_sec;        /* -1: none yet */
    long long current_time_sec;     /* -1: none running */
    long long rewrites;             /* snapshots started since startup */
    long long consecutive_failures; /* failed snapshots since the last success */
    /* aof_current_size / aof_base_size: the last snapshot plus the log
     * applied since, and that snapshot, in bytes (0: no group). */
    long long current_size;
    long long base_size;
};
void compaction_get_info(struct compaction_info *info);

#endif
