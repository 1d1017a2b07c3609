/* Raft snapshots of this node's group, node side (see compaction.h): the
 * child that writes a payload, restoring one into fresh keyspaces, the
 * requests from BGSAVE / BGREWRITEAOF / SAVE / `save` points and from the
 * log's growth, and what INFO reports about them. The entry-count threshold
 * is the library's business; raft/group.c turns requests into snapshots and
 * measures the log. */
#include "node/compaction.h"

#include "node/config.h"
#include "node/exec.h"
#include "node/log.h"
#include "node/multi.h"
#include "node/persist.h"
#include "node/server.h"
#include "node/shard.h"
#include "node/tracking.h"
#include "raft/group.h"
#include "storage/keyspace.h"
#include "storage/snapshot.h"

#include <errno.h>
#include <inttypes.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

/* After a failed snapshot (fork, full disk), as Redis's
 * CONFIG_BGSAVE_RETRY_DELAY: the library would try again after every
 * applied entry. */
#define RETRY_DELAY_MS 5000

static struct {
    struct group *group; /* the group the state below belongs to */
    bool in_progress;    /* requested, or being taken */
    bool running;        /* the child has been forked */
    bool save_dump;      /* the payload becomes <dbfilename> when stored */
    int scheduled;       /* a reason + 1 to request again once idle, 0: none */
    int64_t start_ms;    /* request or fork time */
    long long dirty_at_start;
    bool last_ok;
    long long last_time_sec;
    int64_t last_failure_ms;
    long long rewrites;             /* snapshot children forked (aof_rewrites) */
    long long consecutive_failures; /* snapshots failed since the last success */
} st = {.last_ok = true, .last_time_sec = -1};

static void reset_state(void) {
    st.group = shard_group();
    st.in_progress = st.running = st.save_dump = false;
    st.scheduled = 0;
}

/* ---- Hooks called by raft/group.c ---- */

/* Forks the child that writes the dataset as applied right now. One child
 * at a time, as Redis: while a BGSAVE child runs the library retries later. */
static int fork_payload_writer(void *arg, const char *path) {
    (void)arg;
    if (persist_child_running() ||
        (st.last_failure_ms != 0 && server_now_ms() - st.last_failure_ms < RETRY_DELAY_MS))
        return -1;
    uint64_t start_us = server_monotonic_us();
    pid_t pid = fork();
    if (pid == 0) {
        /* The child writes and leaves without running anything of the
         * parent's. */
        persist_child_init();
        _exit(persist_write_file(path) == 0 ? 0 : 1);
    }
    long long fork_usec = (long long)(server_monotonic_us() - start_us);
    if (pid < 0) {
        log_warning("Can't take a Raft snapshot: fork: %s", strerror(errno));
        st.last_failure_ms = server_now_ms();
        return -1;
    }
    persist_note_fork(fork_usec);
    st.rewrites++;
    if (st.group != shard_group())
        reset_state();
    if (!st.in_progress)
        st.start_ms = server_now_ms();
    st.in_progress = st.running = true;
    st.dirty_at_start = server.dirty;
    log_notice("Raft snapshot started by pid %d (fork took %lld us)", (int)pid, fork_usec);
    return (int)pid;
}

static void snapshot_done(void *arg, int status, uint64_t index, const char *path) {
    (void)arg;
    bool ok = status == GROUP_OK;
    long long secs = (server_now_ms() - st.start_ms) / 1000;
    if (ok) {
        log_notice("Raft snapshot at index %" PRIu64 " stored, log compacted", index);
        if (st.save_dump && persist_install_file(path) == 0)
            log_notice("DB saved on disk");
    } else {
        log_warning("Raft snapshot at index %" PRIu64 " failed", index);
        st.last_failure_ms = server_now_ms();
    }
    persist_note_background_save(ok, secs, st.dirty_at_start);
    st.consecutive_failures = ok ? 0 : st.consecutive_failures + 1;
    st.last_ok = ok;
    st.last_time_sec = secs;
    st.in_progress = st.running = st.save_dump = false;
}

/* Decodes the payload into fresh keyspaces; only a complete decode replaces
 * the live ones (and the function libraries). Watchers and tracking clients
 * learn that everything may have changed, as after FLUSHALL. */
static int restore_payload(void *arg, const void *buf, size_t len) {
    (void)arg;
    int ndbs = (int)cfg.databases;
    struct keyspace **fresh = calloc((size_t)ndbs, sizeof(*fresh));
    struct snapshot_params params;
    persist_params(&params);
    struct snapshot_loader *loader =
        fresh != NULL ? snapshot_loader_new(buf, len, ndbs, &params) : NULL;
    if (loader == NULL) {
        log_warning("Can't restore a Raft snapshot: out of memory");
        free(fresh);
        return -1;
    }
    struct snapshot_error err;
    int rc;
    do
        rc = snapshot_loader_step(loader, SIZE_MAX, &err);
    while (rc == SNAPSHOT_AGAIN);
    if (rc != SNAPSHOT_OK) {
        log_warning("Can't restore a Raft snapshot: %s (%s)", err.msg, snapshot_strerror(rc));
        snapshot_loader_free(loader);
        free(fresh);
        return -1;
    }
    snapshot_loader_take(loader, fresh);
    size_t aux_len = 0;
    const unsigned char *aux = snapshot_loader_aux(loader, PERSIST_AUX_FUNCTIONS, &aux_len);
    if (persist_restore_functions(aux, aux != NULL ? aux_len : 0) != 0)
        log_warning("The function libraries of a Raft snapshot are damaged: not all loaded");
    snapshot_loader_free(loader);
    int64_t now = server_now_ms();
    uint64_t keys = 0;
    for (int i = 0; i < ndbs; i++) {
        multi_touch_db(i, -1, now);
        keyspace_free(server.dbs[i]);
        server.dbs[i] = fresh[i];
        multi_touch_db(i, -1, now);
        if (fresh[i] != NULL)
            keys += keyspace_size(fresh[i]);
    }
    free(fresh);
    struct resp_out sink;
    resp_out_init_discard(&sink);
    struct exec_ctx ctx = {.out = &sink, .now_ms = now};
    tracking_invalidate_all(&ctx);
    log_notice("Raft snapshot restored: %" PRIu64 " keys (%zu bytes)", keys, len);
    return 0;
}

void compaction_configure(struct group_config *gc) {
    gc->snapshot = fork_payload_writer;
    gc->restore = restore_payload;
    gc->snapshot_done = snapshot_done;
    gc->snapshot_dir = cfg.dir;
    gc->snapshot_threshold = (unsigned)cfg.raft_snapshot_threshold;
    gc->snapshot_trailing = (unsigned)cfg.raft_snapshot_trailing;
}

int compaction_apply_config(char *err, size_t errlen) {
    (void)err;
    (void)errlen;
    if (shard_group() != NULL)
        group_set_snapshot_limits(shard_group(), (unsigned)cfg.raft_snapshot_threshold,
                                  (unsigned)cfg.raft_snapshot_trailing);
    return 0;
}

/* ---- Requests ---- */

bool compaction_takes_saves(void) {
    return shard_group() != NULL && group_is_leader(shard_group());
}

enum compaction_result compaction_request(enum compaction_reason why) {
    struct group *g = shard_group();
    if (g == NULL)
        return COMPACTION_NOGROUP;
    if (st.group != g)
        reset_state();
    if (st.in_progress && !st.running)
        return COMPACTION_BUSY;
    if (st.in_progress || persist_child_running()) {
        st.scheduled = (int)why + 1;
        return COMPACTION_SCHEDULED;
    }
    switch (group_snapshot_now(g)) {
    case GROUP_OK:
        st.in_progress = true;
        st.save_dump = why == COMPACTION_BGSAVE;
        st.start_ms = server_now_ms();
        return COMPACTION_STARTED;
    case GROUP_CURRENT:
        return COMPACTION_CURRENT;
    case GROUP_EBUSY:
        st.scheduled = (int)why + 1;
        return COMPACTION_SCHEDULED;
    default:
        return COMPACTION_NOGROUP;
    }
}

bool compaction_in_progress(void) {
    return st.in_progress && st.group == shard_group();
}

long long compaction_current_time_sec(void) {
    return compaction_in_progress() ? (server_now_ms() - st.start_ms) / 1000 : -1;
}

/* ---- Automatic rewrite ---- */

/* Redis 7.0 serverCron: with no child running and no rewrite scheduled,
 * rewrite once the AOF is larger than auto-aof-rewrite-min-size and has
 * grown by auto-aof-rewrite-percentage over its size after the last rewrite
 * (a base of 0 counts as 1 byte). Here the AOF is the last snapshot plus
 * the log applied since. Not while the log is replayed at startup: Redis
 * runs no cron while it loads, and the replay's end is checked next. */
static void maybe_rewrite(struct group *g) {
    if (cfg.auto_aof_rewrite_percentage == 0 || st.in_progress || st.scheduled != 0 ||
        persist_child_running() || shard_is_loading())
        return;
    uint64_t log_bytes, base;
    group_log_sizes(g, &log_bytes, &base);
    uint64_t current = base + log_bytes;
    if (current <= (uint64_t)cfg.auto_aof_rewrite_min_size)
        return;
    long long growth = (long long)(current * 100 / (base != 0 ? base : 1)) - 100;
    if (growth < cfg.auto_aof_rewrite_percentage)
        return;
    log_notice("Starting automatic rewriting of AOF on %lld%% growth", growth);
    compaction_request(COMPACTION_REWRITE);
}

void compaction_cron(void) {
    if (st.group != shard_group())
        reset_state(); /* the group closed (REPLICAOF) with a request pending */
    if (shard_group() == NULL)
        return;
    shard_note_applied(); /* an installed snapshot may have ended the replay */
    /* A request whose snapshot has not started (the hook declined during
     * the retry delay, or the barrier was lost): ask again, which on the
     * leader commits another entry to take it at. */
    if (st.in_progress && !st.running && server_now_ms() - st.start_ms >= 1000) {
        st.start_ms = server_now_ms();
        group_snapshot_now(shard_group());
    }
    if (st.scheduled && !st.in_progress) {
        enum compaction_reason why = (enum compaction_reason)(st.scheduled - 1);
        st.scheduled = 0;
        compaction_request(why);
    }
    maybe_rewrite(shard_group());
}

void compaction_get_info(struct compaction_info *info) {
    info->in_progress = compaction_in_progress();
    info->scheduled = st.scheduled != 0;
    info->last_ok = st.last_ok;
    info->last_time_sec = st.last_time_sec;
    info->current_time_sec = compaction_current_time_sec();
    info->rewrites = st.rewrites;
    info->consecutive_failures = st.consecutive_failures;
    uint64_t log_bytes = 0, base = 0;
    if (shard_group() != NULL)
        group_log_sizes(shard_group(), &log_bytes, &base);
    info->current_size = (long long)(base + log_bytes);
    info->base_size = (long long)base;
}
