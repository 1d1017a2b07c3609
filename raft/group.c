/* One Raft group member (see group.h): canonical/raft glue. Owns the
 * library's objects and their life cycle, the FSM callbacks, proposal
 * completion, and the post-election barrier. It knows nothing of what an
 * entry means. Snapshots (FSM version 3) take the payload from a child
 * process the caller forks (group.h "Snapshots"): this file waits for it
 * on the loop's thread pool, maps its file for the library, and cleans up. */
#include "raft/group.h"

#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <inttypes.h>
#include <raft.h>
#include <raft/uv.h>
#include <signal.h>
#include <stdatomic.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <unistd.h>

struct group {
    struct raft raft;
    struct raft_io io;
    struct raft_uv_transport transport;
    enum group_transport transport_kind;
    struct raft_fsm fsm;
    uv_loop_t *loop;
    uv_check_t watch; /* notices elections after each loop iteration */
    group_apply_fn apply;
    void *apply_arg;
    uint64_t barrier_term; /* term in which the post-election barrier was sent */
    uint64_t applying;     /* index of the entry being applied */
    uint64_t last_command; /* index of the last entry applied through 'apply' */
    int pending_closes;
    void (*closed)(void *arg);
    void *closed_arg;
    /* Snapshots: the caller's hooks, the library's threshold (UINT32_MAX:
     * none; lowered to 1 while a group_snapshot_now request waits for the
     * next applied entry), and the snapshot being taken. 'child' and
     * 'closing' are shared with the pool thread that waits for the child. */
    group_snapshot_fn snapshot;
    group_restore_fn restore;
    group_snapshot_done_fn snapshot_done;
    char snapshot_path[4096];
    unsigned threshold;
    bool snapshot_wanted;
    uint64_t snapshot_taking; /* index of the snapshot being taken, 0: none */
    atomic_int child;         /* pid of the payload writer, 0: none */
    atomic_bool closing;
    /* What group_log_sizes reports. Entries applied while a snapshot is
     * taken are not in that snapshot: once it is stored only
     * 'log_bytes_at_start' (the count when it started) leaves 'log_bytes'. */
    uint64_t log_bytes;
    uint64_t log_bytes_at_start;
    uint64_t snapshot_bytes;
    /* The libuv backend's own append method, wrapped by timed_append. */
    int (*uv_append)(struct raft_io *io, struct raft_io_append *req,
                     const struct raft_entry entries[], unsigned n, raft_io_append_cb cb);
    struct group_append_stats append_stats;
};

struct proposal {
    struct raft_apply req;
    group_done_fn done;
    void *arg;
};

const char *group_strerror(int code) {
    switch (code) {
#define X(name, value, text)                                                                       \
    case value:                                                                                    \
        return text;
        GROUP_ERRORS(X)
#undef X
    default:
        return "unknown group error";
    }
}

static int from_raft(int rv) {
    switch (rv) {
    case 0:
        return GROUP_OK;
    case RAFT_NOMEM:
        return GROUP_ENOMEM;
    case RAFT_NOTLEADER:
        return GROUP_ENOTLEADER;
    case RAFT_LEADERSHIPLOST:
        return GROUP_ELEADERSHIPLOST;
    case RAFT_SHUTDOWN:
        return GROUP_ESHUTDOWN;
    case RAFT_CANTCHANGE:
        return GROUP_ECHANGING;
    default:
        return GROUP_EIO;
    }
}

/* ---- FSM ---- */

/* Entries are framed as [u64 little-endian payload length][payload][zero
 * padding to a multiple of 8]: canonical/raft 0.15's libuv backend writes
 * entries of other sizes but then fails to load them (measured: a restart
 * reports the segment corrupt), and followers see them mangled. */
#define FRAME_HEADER 8

static size_t frame_size(size_t len) {
    return FRAME_HEADER + ((len + 7) & ~(size_t)7);
}

size_t group_frame_size(size_t payload_len) {
    return frame_size(payload_len);
}

bool group_frame_payload(const void *buf, size_t len, const void **payload, size_t *payload_len) {
    uint64_t n = 0;
    if (len < FRAME_HEADER)
        return false;
    for (int i = 7; i >= 0; i--)
        n = (n << 8) | ((const uint8_t *)buf)[i];
    if (n > len - FRAME_HEADER)
        return false;
    *payload = (const uint8_t *)buf + FRAME_HEADER;
    *payload_len = (size_t)n;
    return true;
}

static int fsm_apply(struct raft_fsm *fsm, const struct raft_buffer *buf, void **result) {
    struct group *g = fsm->data;
    *result = NULL;
    g->applying = raft_last_applied(&g->raft) + 1;
    g->last_command = g->applying;
    g->log_bytes += buf->len;
    const void *payload;
    size_t len;
    if (!group_frame_payload(buf->base, buf->len, &payload, &len)) {
        /* Not one of ours (e.g. a damaged entry): the same on every member. */
        g->apply(g->apply_arg, buf->base, 0, result);
        return 0;
    }
    g->apply(g->apply_arg, payload, len, result);
    return 0;
}

static void barrier_done(struct raft_barrier *req, int status);

/* ---- Snapshots ---- */

/* On the loop: the caller forks the payload writer. RAFT_BUSY makes the
 * library retry after the next applied entry, so nothing here is fatal. */
static int fsm_snapshot(struct raft_fsm *fsm, struct raft_buffer *bufs[], unsigned *n) {
    struct group *g = fsm->data;
    if (atomic_load(&g->closing) || g->snapshot_taking != 0)
        return RAFT_BUSY;
    struct raft_buffer *buf = raft_calloc(1, sizeof(*buf));
    if (buf == NULL)
        return RAFT_BUSY;
    int pid = g->snapshot(g->apply_arg, g->snapshot_path);
    if (pid <= 0) {
        raft_free(buf);
        return RAFT_BUSY;
    }
    atomic_store(&g->child, pid);
    g->snapshot_taking = raft_last_applied(&g->raft);
    g->log_bytes_at_start = g->log_bytes;
    if (g->snapshot_wanted) {
        g->snapshot_wanted = false;
        raft_set_snapshot_threshold(&g->raft, g->threshold);
    }
    *bufs = buf;
    *n = 1;
    return 0;
}

/* On a pool thread: waits for the child, then maps its file. */
static int fsm_snapshot_async(struct raft_fsm *fsm, struct raft_buffer *bufs[], unsigned *n) {
    struct group *g = fsm->data;
    int pid = atomic_load(&g->child);
    int status = 0;
    pid_t got;
    do
        got = waitpid(pid, &status, 0);
    while (got < 0 && errno == EINTR);
    atomic_store(&g->child, 0);
    if (got != pid || !WIFEXITED(status) || WEXITSTATUS(status) != 0 || atomic_load(&g->closing))
        return RAFT_IOERR;
    int fd = open(g->snapshot_path, O_RDONLY);
    if (fd < 0)
        return RAFT_IOERR;
    struct stat sb;
    void *map = MAP_FAILED;
    if (fstat(fd, &sb) == 0 && sb.st_size > 0)
        map = mmap(NULL, (size_t)sb.st_size, PROT_READ, MAP_PRIVATE, fd, 0);
    close(fd);
    if (map == MAP_FAILED || *n != 1)
        return RAFT_IOERR;
    (*bufs)[0].base = map;
    (*bufs)[0].len = (size_t)sb.st_size;
    return 0;
}

static void payload_unlinked(uv_fs_t *req) {
    uv_fs_req_cleanup(req);
    free(req);
}

/* Removing a file of GBs takes tens of milliseconds (the file system frees
 * its blocks): move the payload file out of the way of the next snapshot,
 * then remove it on the loop's thread pool. */
static void remove_payload(struct group *g, uint64_t index) {
    char trash[sizeof(g->snapshot_path) + 32];
    snprintf(trash, sizeof(trash), "%s.%" PRIu64 ".old", g->snapshot_path, index);
    if (rename(g->snapshot_path, trash) != 0) {
        unlink(g->snapshot_path);
        return;
    }
    uv_fs_t *req = malloc(sizeof(*req));
    if (req == NULL || uv_fs_unlink(g->loop, req, trash, payload_unlinked) != 0) {
        free(req);
        unlink(trash);
    }
}

/* On the loop, after the library stored the snapshot or gave up (always
 * called once fsm_snapshot succeeded). Stored means the library's log now
 * starts at this snapshot: that is how success is told from failure. */
static int fsm_snapshot_finalize(struct raft_fsm *fsm, struct raft_buffer *bufs[], unsigned *n) {
    struct group *g = fsm->data;
    size_t payload_len = 0;
    if (*bufs != NULL) {
        if ((*bufs)[0].base != NULL) {
            payload_len = (*bufs)[0].len;
            munmap((*bufs)[0].base, (*bufs)[0].len);
        }
        raft_free(*bufs);
    }
    *bufs = NULL;
    *n = 0;
    /* The pool never ran (the library failed to queue it): stop the child. */
    int pid = atomic_exchange(&g->child, 0);
    if (pid > 0) {
        kill(pid, SIGKILL);
        while (waitpid(pid, NULL, 0) < 0 && errno == EINTR)
            ;
    }
    uint64_t index = g->snapshot_taking;
    g->snapshot_taking = 0;
    bool stored = g->raft.log.snapshot.last_index == index;
    if (stored) {
        g->snapshot_bytes = payload_len;
        /* A restore in between may have reset the count already. */
        g->log_bytes -= g->log_bytes_at_start < g->log_bytes ? g->log_bytes_at_start : g->log_bytes;
    }
    g->log_bytes_at_start = 0;
    if (g->snapshot_done != NULL)
        g->snapshot_done(g->apply_arg, stored ? GROUP_OK : GROUP_EIO, index, g->snapshot_path);
    if (access(g->snapshot_path, F_OK) == 0)
        remove_payload(g, index);
    return 0;
}

/* On the loop: at startup, or when the leader installs a snapshot. On
 * success the payload buffer is ours to free (libraft 0.15's contract). */
static int fsm_restore(struct raft_fsm *fsm, struct raft_buffer *buf) {
    struct group *g = fsm->data;
    if (g->restore == NULL || g->restore(g->apply_arg, buf->base, buf->len) != 0)
        return RAFT_CORRUPT;
    /* The state is the snapshot now: no entry before it counts. */
    g->snapshot_bytes = buf->len;
    g->log_bytes = g->log_bytes_at_start = 0;
    raft_free(buf->base);
    return 0;
}

/* Without snapshot hooks (FSM version 1): never asked, the threshold is
 * out of reach. */
static int fsm_no_snapshot(struct raft_fsm *fsm, struct raft_buffer *bufs[], unsigned *n) {
    (void)fsm;
    (void)bufs;
    (void)n;
    return RAFT_BUSY;
}

/* Removes payload files a previous process of this member left behind
 * (killed while its child wrote). */
static void remove_stale_payloads(const char *dir, uint64_t id) {
    DIR *d = opendir(dir);
    if (d == NULL)
        return;
    char prefix[64];
    snprintf(prefix, sizeof(prefix), "temp-raft-snapshot-%" PRIu64 "-", id);
    struct dirent *e;
    while ((e = readdir(d)) != NULL) {
        if (strncmp(e->d_name, prefix, strlen(prefix)) != 0)
            continue;
        char path[4400];
        snprintf(path, sizeof(path), "%s/%s", dir, e->d_name);
        unlink(path);
    }
    closedir(d);
}

int group_snapshot_now(struct group *g) {
    if (g->snapshot == NULL)
        return GROUP_ENOSNAPSHOTS;
    if (g->snapshot_taking != 0 || g->raft.snapshot.pending.term != 0)
        return GROUP_EBUSY;
    /* Barriers and configurations change no state: a snapshot taken before
     * them is current. */
    if (!g->snapshot_wanted && g->last_command <= g->raft.log.snapshot.last_index)
        return GROUP_CURRENT;
    /* libraft 0.15 has no "snapshot now": it checks the threshold after
     * applying entries, so lower it to 1 until the snapshot starts and, on
     * the leader, commit a barrier to have an entry applied. */
    g->snapshot_wanted = true;
    raft_set_snapshot_threshold(&g->raft, 1);
    if (group_is_leader(g)) {
        struct raft_barrier *req = malloc(sizeof(*req));
        if (req != NULL && raft_barrier(&g->raft, req, barrier_done) != 0)
            free(req); /* the next entry takes the snapshot instead */
    }
    return GROUP_OK;
}

/* The library's threshold for the caller's 'threshold' (0: none). */
static unsigned library_threshold(unsigned threshold) {
    return threshold != 0 ? threshold : UINT32_MAX;
}

void group_set_snapshot_limits(struct group *g, unsigned threshold, unsigned trailing) {
    if (g->snapshot == NULL)
        return;
    g->threshold = library_threshold(threshold);
    if (!g->snapshot_wanted)
        raft_set_snapshot_threshold(&g->raft, g->threshold);
    if (trailing != 0)
        raft_set_snapshot_trailing(&g->raft, trailing);
}

uint64_t group_snapshot_index(const struct group *g) {
    return g->raft.log.snapshot.last_index;
}

void group_log_sizes(const struct group *g, uint64_t *log_bytes, uint64_t *snapshot_bytes) {
    *log_bytes = g->log_bytes;
    *snapshot_bytes = g->snapshot_bytes;
}

/* ---- Elections ---- */

static void barrier_done(struct raft_barrier *req, int status) {
    (void)status; /* a lost barrier is retried by the next leader's own */
    free(req);
}

/* A new leader applies its log only once an entry of its own term commits
 * (the commit index is not persisted): commit a barrier right away. */
static void on_loop_iteration(uv_check_t *handle) {
    struct group *g = handle->data;
    if (raft_state(&g->raft) != RAFT_LEADER || g->raft.current_term == g->barrier_term)
        return;
    struct raft_barrier *req = malloc(sizeof(*req));
    if (req == NULL)
        return; /* retried on the next iteration */
    if (raft_barrier(&g->raft, req, barrier_done) != 0) {
        free(req);
        return;
    }
    g->barrier_term = g->raft.current_term;
}

/* ---- Log append latency ----
 *
 * The libuv backend writes each batch of entries with O_DSYNC: an append
 * completes once the batch is on disk, so its duration is the log's fsync
 * latency. The library's append method is wrapped to time it. */

struct timed_append {
    struct raft_io_append req; /* handed to the backend */
    struct raft_io_append *orig;
    raft_io_append_cb cb;
    struct group *g;
    uint64_t started_ns;
};

static void timed_append_done(struct raft_io_append *req, int status) {
    struct timed_append *t = req->data;
    if (status == 0) {
        struct group_append_stats *st = &t->g->append_stats;
        uint64_t us = (uv_hrtime() - t->started_ns) / 1000;
        st->count++;
        st->last_us = us;
        st->total_us += us;
        if (us > st->max_us)
            st->max_us = us;
    }
    struct raft_io_append *orig = t->orig;
    raft_io_append_cb cb = t->cb;
    free(t);
    cb(orig, status);
}

static int timed_append(struct raft_io *io, struct raft_io_append *req,
                        const struct raft_entry entries[], unsigned n, raft_io_append_cb cb) {
    /* raft_init points io->data at the struct raft, the group's first member. */
    struct group *g = (struct group *)io->data;
    struct timed_append *t = malloc(sizeof(*t));
    if (t == NULL)
        return RAFT_NOMEM;
    t->req.data = t;
    t->orig = req;
    t->cb = cb;
    t->g = g;
    t->started_ns = uv_hrtime();
    int rv = g->uv_append(io, &t->req, entries, n, timed_append_done);
    if (rv != 0)
        free(t);
    return rv;
}

void group_append_stats(const struct group *g, struct group_append_stats *out) {
    *out = g->append_stats;
}

/* ---- Life cycle ---- */

/* Frees the transport's memory (its handles are closed by then). */
static void close_transport(struct group *g) {
    if (g->transport_kind == GROUP_TRANSPORT_SHARED_PORT)
        transport_close(&g->transport);
    else
        raft_uv_tcp_close(&g->transport);
}

int group_new(const struct group_config *cfg, struct group **out, char *errmsg, size_t errlen) {
    struct group *g = calloc(1, sizeof(*g));
    if (g == NULL) {
        snprintf(errmsg, errlen, "out of memory");
        return GROUP_ENOMEM;
    }
    g->loop = cfg->loop;
    g->apply = cfg->apply;
    g->apply_arg = cfg->apply_arg;
    g->fsm.data = g;
    g->fsm.apply = fsm_apply;
    g->fsm.restore = fsm_restore;
    g->restore = cfg->restore;
    if (cfg->snapshot != NULL) {
        g->fsm.version = 3;
        g->fsm.snapshot = fsm_snapshot;
        g->fsm.snapshot_async = fsm_snapshot_async;
        g->fsm.snapshot_finalize = fsm_snapshot_finalize;
        g->snapshot = cfg->snapshot;
        g->snapshot_done = cfg->snapshot_done;
        snprintf(g->snapshot_path, sizeof(g->snapshot_path),
                 "%s/temp-raft-snapshot-%" PRIu64 "-%d.krs", cfg->snapshot_dir, cfg->id,
                 (int)getpid());
        remove_stale_payloads(cfg->snapshot_dir, cfg->id);
    } else {
        g->fsm.version = 1;
        g->fsm.snapshot = fsm_no_snapshot;
    }
    g->transport_kind = cfg->transport;
    int rv;
    if (cfg->transport == GROUP_TRANSPORT_SHARED_PORT) {
        rv = transport_init(&g->transport, cfg->loop);
        if (rv == 0)
            transport_set_bus_cb(&g->transport, cfg->bus_cb, cfg->bus_arg);
        if (rv == 0)
            transport_set_resolver(&g->transport, cfg->resolve, cfg->resolve_arg);
        if (rv == 0 && cfg->bind_address != NULL) {
            rv = transport_set_bind_address(&g->transport, cfg->bind_address);
            if (rv != 0)
                transport_close(&g->transport);
        }
    } else {
        rv = raft_uv_tcp_init(&g->transport, cfg->loop);
    }
    if (rv != 0) {
        snprintf(errmsg, errlen, "raft transport: %s", raft_strerror(rv));
        goto err_after_alloc;
    }
    rv = raft_uv_init(&g->io, cfg->loop, cfg->dir, &g->transport);
    if (rv != 0) {
        snprintf(errmsg, errlen, "raft storage in %s: %s", cfg->dir, g->io.errmsg);
        goto err_after_transport;
    }
    /* The library's auto-recovery (on by default in 0.15) renames a corrupt
     * segment and every later one to corrupt-*, after which the next start
     * runs without them: acknowledged writes gone, silently. Damage must
     * stop the start instead (raft/logfile.h checks the directory first). */
    raft_uv_set_auto_recovery(&g->io, false);
    _Static_assert(offsetof(struct group, raft) == 0, "timed_append finds the group at io->data");
    g->uv_append = g->io.append;
    g->io.append = timed_append;
    /* libraft 0.15's raft_uv_init fills in async_work (a version-2 method)
     * but says version 1, and raft_init refuses asynchronous snapshots on a
     * version-1 I/O: say what the struct really holds. */
    if (cfg->snapshot != NULL && g->io.async_work != NULL && g->io.version < 2)
        g->io.version = 2;
    char address[256];
    snprintf(address, sizeof(address), "%s", cfg->address);
    rv = raft_init(&g->raft, &g->io, &g->fsm, cfg->id, address);
    if (rv != 0) {
        snprintf(errmsg, errlen, "raft: %s", raft_errmsg(&g->raft));
        goto err_after_io;
    }
    raft_set_pre_vote(&g->raft, true);
    if (cfg->snapshot != NULL) {
        /* Stored as the payload itself, so tools can read it directly. */
        raft_uv_set_snapshot_compression(&g->io, false);
        g->threshold = library_threshold(cfg->snapshot_threshold);
        raft_set_snapshot_threshold(&g->raft, g->threshold);
        if (cfg->snapshot_trailing)
            raft_set_snapshot_trailing(&g->raft, cfg->snapshot_trailing);
        if (cfg->install_snapshot_timeout_ms)
            raft_set_install_snapshot_timeout(&g->raft, cfg->install_snapshot_timeout_ms);
    } else {
        raft_set_snapshot_threshold(&g->raft, UINT32_MAX);
    }
    if (cfg->election_timeout_ms)
        raft_set_election_timeout(&g->raft, cfg->election_timeout_ms);
    if (cfg->heartbeat_timeout_ms)
        raft_set_heartbeat_timeout(&g->raft, cfg->heartbeat_timeout_ms);
    uv_check_init(cfg->loop, &g->watch);
    g->watch.data = g;
    uv_check_start(&g->watch, on_loop_iteration);
    *out = g;
    return GROUP_OK;
err_after_io:
    raft_uv_close(&g->io);
err_after_transport:
    close_transport(g);
err_after_alloc:
    free(g);
    return GROUP_EIO;
}

int group_bootstrap(struct group *g, const struct group_member *members, size_t n) {
    struct raft_configuration conf;
    raft_configuration_init(&conf);
    int rv = 0;
    for (size_t i = 0; i < n && rv == 0; i++)
        rv = raft_configuration_add(&conf, members[i].id, members[i].address, RAFT_VOTER);
    if (rv == 0)
        rv = raft_bootstrap(&g->raft, &conf);
    raft_configuration_close(&conf);
    return rv == RAFT_CANTBOOTSTRAP ? GROUP_OK : from_raft(rv); /* state exists already */
}

int group_recover(struct group *g, const struct group_member *members, size_t n) {
    struct raft_configuration conf;
    raft_configuration_init(&conf);
    int rv = 0;
    for (size_t i = 0; i < n && rv == 0; i++)
        rv = raft_configuration_add(&conf, members[i].id, members[i].address, RAFT_VOTER);
    if (rv == 0)
        rv = raft_recover(&g->raft, &conf);
    raft_configuration_close(&conf);
    return from_raft(rv);
}

int group_start(struct group *g) {
    return from_raft(raft_start(&g->raft));
}

static void proposal_done(struct raft_apply *req, int status, void *result) {
    struct proposal *p = req->data;
    p->done(p->arg, from_raft(status), status == 0 ? result : NULL);
    free(p);
}

int group_propose(struct group *g, void *buf, size_t len, group_done_fn done, void *arg) {
    struct proposal *p = malloc(sizeof(*p));
    uint8_t *frame = raft_calloc(1, frame_size(len));
    if (p == NULL || frame == NULL) {
        free(p);
        raft_free(frame);
        return GROUP_ENOMEM;
    }
    for (int i = 0; i < 8; i++)
        frame[i] = (uint8_t)((uint64_t)len >> (8 * i));
    memcpy(frame + FRAME_HEADER, buf, len);
    p->req.data = p;
    p->done = done;
    p->arg = arg;
    struct raft_buffer rb = {.base = frame, .len = frame_size(len)};
    int rv = raft_apply(&g->raft, &p->req, &rb, 1, proposal_done);
    if (rv != 0) {
        free(p);
        raft_free(frame);
        return from_raft(rv);
    }
    free(buf); /* the frame holds a copy; ownership was ours on success */
    return GROUP_OK;
}

/* ---- Barriers ---- */

struct barrier {
    struct raft_barrier req;
    group_done_fn done;
    void *arg;
};

static void user_barrier_done(struct raft_barrier *req, int status) {
    struct barrier *b = req->data;
    b->done(b->arg, from_raft(status), NULL);
    free(b);
}

int group_barrier(struct group *g, group_done_fn done, void *arg) {
    struct barrier *b = malloc(sizeof(*b));
    if (b == NULL)
        return GROUP_ENOMEM;
    b->req.data = b;
    b->done = done;
    b->arg = arg;
    int rv = raft_barrier(&g->raft, &b->req, user_barrier_done);
    if (rv != 0) {
        free(b);
        return from_raft(rv);
    }
    return GROUP_OK;
}

/* ---- Membership ---- */

struct change {
    struct raft_change req;
    struct group *g;
    uint64_t id;
    group_change_fn added, promoted;
    void *arg;
};

static void promote_done(struct raft_change *req, int status) {
    struct change *ch = req->data;
    if (ch->promoted != NULL)
        ch->promoted(ch->arg, from_raft(status));
    free(ch);
}

/* After raft_add: report, then promote (which waits for the catch-up). A
 * failed add is reported through 'added' only. */
static void add_done(struct raft_change *req, int status) {
    struct change *ch = req->data;
    if (ch->added != NULL)
        ch->added(ch->arg, from_raft(status));
    if (status != 0) {
        free(ch);
        return;
    }
    int rv = raft_assign(&ch->g->raft, &ch->req, ch->id, RAFT_VOTER, promote_done);
    if (rv != 0)
        promote_done(&ch->req, rv);
}

int group_add_member(struct group *g, uint64_t id, const char *address, group_change_fn added,
                     group_change_fn promoted, void *arg) {
    struct change *ch = calloc(1, sizeof(*ch));
    if (ch == NULL)
        return GROUP_ENOMEM;
    ch->req.data = ch;
    ch->g = g;
    ch->id = id;
    ch->added = added;
    ch->promoted = promoted;
    ch->arg = arg;
    int rv = raft_add(&g->raft, &ch->req, id, address, add_done);
    if (rv != 0) {
        free(ch);
        return from_raft(rv);
    }
    return GROUP_OK;
}

int group_remove_member(struct group *g, uint64_t id, group_change_fn done, void *arg) {
    struct change *ch = calloc(1, sizeof(*ch));
    if (ch == NULL)
        return GROUP_ENOMEM;
    ch->req.data = ch;
    ch->g = g;
    ch->id = id;
    ch->promoted = done; /* promote_done reports it and frees the change */
    ch->arg = arg;
    int rv = raft_remove(&g->raft, &ch->req, id, promote_done);
    if (rv != 0) {
        free(ch);
        return from_raft(rv);
    }
    return GROUP_OK;
}

struct transfer {
    struct raft_transfer req;
    struct group *g;
    group_change_fn done;
    void *arg;
};

static void transfer_done(struct raft_transfer *req) {
    struct transfer *tr = req->data;
    /* The library does not say how it ended: it succeeded if this member
     * is no longer the leader. */
    if (tr->done != NULL)
        tr->done(tr->arg, group_is_leader(tr->g) ? GROUP_EIO : GROUP_OK);
    free(tr);
}

int group_transfer(struct group *g, uint64_t id, group_change_fn done, void *arg) {
    struct transfer *tr = calloc(1, sizeof(*tr));
    if (tr == NULL)
        return GROUP_ENOMEM;
    tr->req.data = tr;
    tr->g = g;
    tr->done = done;
    tr->arg = arg;
    int rv = raft_transfer(&g->raft, &tr->req, id, transfer_done);
    if (rv != 0) {
        free(tr);
        return from_raft(rv);
    }
    return GROUP_OK;
}

size_t group_members(const struct group *g, struct group_member_info *out, size_t max) {
    const struct raft_configuration *conf = &g->raft.configuration;
    bool leader = raft_state((struct raft *)&g->raft) == RAFT_LEADER;
    for (unsigned i = 0; i < conf->n && i < max; i++) {
        const struct raft_server *srv = &conf->servers[i];
        out[i].id = srv->id;
        out[i].address = srv->address;
        out[i].role = srv->role == RAFT_VOTER     ? GROUP_ROLE_VOTER
                      : srv->role == RAFT_STANDBY ? GROUP_ROLE_STANDBY
                                                  : GROUP_ROLE_SPARE;
        out[i].match_index = leader ? g->raft.leader_state.progress[i].match_index : 0;
        if (leader && srv->id == g->raft.id)
            out[i].match_index = raft_last_index((struct raft *)&g->raft);
    }
    return conf->n;
}

uint64_t group_applying_index(const struct group *g) {
    return g->applying;
}

uint64_t group_commit_index(const struct group *g) {
    return g->raft.commit_index;
}

bool group_is_leader(const struct group *g) {
    return raft_state((struct raft *)&g->raft) == RAFT_LEADER;
}

uint64_t group_leader(const struct group *g, const char **address) {
    raft_id id;
    const char *addr;
    raft_leader((struct raft *)&g->raft, &id, &addr);
    if (address != NULL)
        *address = addr;
    return id;
}

uint64_t group_applied_index(const struct group *g) {
    return raft_last_applied((struct raft *)&g->raft);
}

uint64_t group_last_index(const struct group *g) {
    return raft_last_index((struct raft *)&g->raft);
}

uint64_t group_term(const struct group *g) {
    return g->raft.current_term;
}

const char *group_state_name(const struct group *g) {
    switch (raft_state((struct raft *)&g->raft)) {
    case RAFT_LEADER:
        return "leader";
    case RAFT_CANDIDATE:
        return "candidate";
    case RAFT_FOLLOWER:
        return "follower";
    default:
        return "unavailable";
    }
}

static void one_closed(struct group *g) {
    if (--g->pending_closes > 0)
        return;
    void (*closed)(void *) = g->closed;
    void *arg = g->closed_arg;
    free(g);
    if (closed != NULL)
        closed(arg);
}

static void raft_closed(struct raft *r) {
    struct group *g = r->data;
    raft_uv_close(&g->io);
    close_transport(g);
    one_closed(g);
}

static void watch_closed(uv_handle_t *handle) {
    one_closed(handle->data);
}

void group_close(struct group *g, void (*closed)(void *arg), void *arg) {
    g->closed = closed;
    g->closed_arg = arg;
    g->pending_closes = 2;
    g->raft.data = g;
    /* A payload writer still running is not waited for: the pool thread
     * reaps it and the library drops the snapshot. */
    atomic_store(&g->closing, true);
    int pid = atomic_load(&g->child);
    if (pid > 0)
        kill(pid, SIGKILL);
    uv_close((uv_handle_t *)&g->watch, watch_closed);
    raft_close(&g->raft, raft_closed);
}
