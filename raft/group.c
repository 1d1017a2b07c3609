/* One Raft group member (see group.h): canonical/raft glue. Owns the
 * library's objects and their life cycle, the FSM callbacks, proposal
 * completion, and the post-election barrier. It knows nothing of what an
 * entry means. Snapshots are not wired yet (issue 5): the snapshot
 * threshold is set beyond reach so the library never asks for one. */
#include "raft/group.h"

#include <raft.h>
#include <raft/uv.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

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
    int pending_closes;
    void (*closed)(void *arg);
    void *closed_arg;
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

static int fsm_snapshot(struct raft_fsm *fsm, struct raft_buffer *bufs[], unsigned *n) {
    (void)fsm;
    (void)bufs;
    (void)n;
    return RAFT_NOTFOUND; /* never asked: see the threshold in group_new */
}

static int fsm_restore(struct raft_fsm *fsm, struct raft_buffer *buf) {
    (void)fsm;
    (void)buf;
    return RAFT_NOTFOUND;
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
    g->fsm.version = 1;
    g->fsm.data = g;
    g->fsm.apply = fsm_apply;
    g->fsm.snapshot = fsm_snapshot;
    g->fsm.restore = fsm_restore;
    g->transport_kind = cfg->transport;
    int rv;
    if (cfg->transport == GROUP_TRANSPORT_SHARED_PORT) {
        rv = transport_init(&g->transport, cfg->loop);
        if (rv == 0)
            transport_set_bus_cb(&g->transport, cfg->bus_cb, cfg->bus_arg);
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
    char address[256];
    snprintf(address, sizeof(address), "%s", cfg->address);
    rv = raft_init(&g->raft, &g->io, &g->fsm, cfg->id, address);
    if (rv != 0) {
        snprintf(errmsg, errlen, "raft: %s", raft_errmsg(&g->raft));
        goto err_after_io;
    }
    raft_set_pre_vote(&g->raft, true);
    raft_set_snapshot_threshold(&g->raft, UINT32_MAX);
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
    uv_close((uv_handle_t *)&g->watch, watch_closed);
    raft_close(&g->raft, raft_closed);
}
