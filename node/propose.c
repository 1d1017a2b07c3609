/* The write step (see propose.h): direct apply, or group commit through
 * this node's Raft group. Owns the batches: the one being filled during a
 * loop iteration, and those proposed but not yet applied (in proposal
 * order), each with the clients waiting for its commands. */
#include "node/propose.h"

#include "node/blocking.h"
#include "node/client.h"
#include "node/command.h"
#include "node/exec.h"
#include "node/log.h"
#include "node/multi.h"
#include "node/prefetch.h"
#include "node/script.h"
#include "node/server.h"
#include "node/shard.h"
#include "raft/entry.h"
#include "raft/group.h"
#include "storage/keyspace.h"

#include <stdlib.h>
#include <string.h>

struct batch {
    uint64_t seq;
    struct entry_writer *writer;
    struct client **clients; /* command i's waiting client, or NULL */
    size_t count, cap;
    struct client **waiters; /* clients waiting for this batch without a command in it */
    size_t nwaiters, waiters_cap;
    bool applied;
    struct batch *next; /* in proposal order */
};

static struct batch *filling;
static struct batch *inflight_head, *inflight_tail;
static uint64_t origin; /* this process's id in the entries it proposes */
static uint64_t next_seq;

/* ---- Direct apply ---- */

static void apply_now(struct exec_ctx *ctx) {
    ctx->now_ms = server_now_ms();
    ctx->seed = server_random();
    ctx->is_apply = true;
    exec_run(ctx);
}

/* ---- Waiting clients ---- */

static void release(struct client *c) {
    if (c == NULL)
        return;
    if (--c->pending_commits == 0)
        client_commits_done(c);
}

/* Ends a batch: its clients get 'error' unless it applied, then resume. */
static void finish(struct batch *b, const char *error) {
    for (size_t i = 0; i < b->count; i++) {
        struct client *c = b->clients[i];
        if (c != NULL && !b->applied)
            resp_add_error(c->reply_mode == REPLY_ON ? &c->out : &c->sink, error);
    }
    for (size_t i = 0; i < b->count; i++)
        release(b->clients[i]);
    for (size_t i = 0; i < b->nwaiters; i++)
        release(b->waiters[i]);
    entry_writer_free(b->writer);
    free(b->clients);
    free(b->waiters);
    free(b);
}

static void unlink_inflight(struct batch *b) {
    struct batch **link = &inflight_head;
    struct batch *prev = NULL;
    while (*link != NULL && *link != b) {
        prev = *link;
        link = &(*link)->next;
    }
    if (*link == NULL)
        return;
    *link = b->next;
    if (inflight_tail == b)
        inflight_tail = prev;
}

/* ---- Proposing ---- */

static struct batch *new_batch(void) {
    if (origin == 0)
        origin = server_random() | 1;
    struct batch *b = calloc(1, sizeof(*b));
    if (b == NULL)
        return NULL;
    b->seq = next_seq++;
    b->writer = entry_writer_new(origin, b->seq, server_now_ms(), server_random());
    if (b->writer == NULL) {
        free(b);
        return NULL;
    }
    return b;
}

/* Appends ctx's command to the entry being built. EVALSHA goes into the log
 * as EVAL with the script's source: a member replaying the log, or a
 * follower, may not have the script cached. Returns 0, or -1 after
 * replying with an error. */
static int log_command(struct exec_ctx *ctx, struct entry_writer *w) {
    if (strcmp(ctx->cmd->fullname, "evalsha") != 0) {
        if (entry_writer_add(w, ctx->dbid, ctx->argc, ctx->argv, ctx->argvlen) == 0)
            return 0;
        exec_reply_oom(ctx);
        return -1;
    }
    size_t body_len;
    const char *body = script_cache_body(ctx->argv[1], ctx->argvlen[1], &body_len);
    if (body == NULL) {
        /* Decided here, so no member runs a script the leader lacks. */
        resp_add_error(ctx->out, "NOSCRIPT No matching script. Please use EVAL.");
        return -1;
    }
    char **argv = malloc((size_t)ctx->argc * sizeof(*argv));
    size_t *argvlen = malloc((size_t)ctx->argc * sizeof(*argvlen));
    int rc = -1;
    if (argv != NULL && argvlen != NULL) {
        memcpy(argv, ctx->argv, (size_t)ctx->argc * sizeof(*argv));
        memcpy(argvlen, ctx->argvlen, (size_t)ctx->argc * sizeof(*argvlen));
        argv[0] = "EVAL";
        argvlen[0] = 4;
        argv[1] = (char *)body;
        argvlen[1] = body_len;
        rc = entry_writer_add(w, ctx->dbid, ctx->argc, argv, argvlen);
    }
    free(argv);
    free(argvlen);
    if (rc != 0)
        exec_reply_oom(ctx);
    return rc == 0 ? 0 : -1;
}

void propose_write(struct exec_ctx *ctx) {
    struct group *g = shard_group();
    if (g == NULL && shard_is_swapping()) {
        /* Between two groups (a join): the write belongs to neither. */
        resp_add_error(ctx->out, "LOADING Redis is loading the dataset in memory");
        return;
    }
    if (g == NULL) {
        apply_now(ctx);
        return;
    }
    if (!group_is_leader(g)) {
        resp_add_error(ctx->out, "READONLY You can't write against a read only replica.");
        return;
    }
    if (filling == NULL && (filling = new_batch()) == NULL) {
        exec_reply_oom(ctx);
        return;
    }
    struct batch *b = filling;
    if (b->count == b->cap) {
        size_t cap = b->cap ? b->cap * 2 : 16;
        struct client **clients = realloc(b->clients, cap * sizeof(*clients));
        if (clients == NULL) {
            exec_reply_oom(ctx);
            return;
        }
        b->clients = clients;
        b->cap = cap;
    }
    if (log_command(ctx, b->writer) != 0)
        return; /* replied */
    b->clients[b->count++] = ctx->client;
    multi_touch_proposed(ctx);
    if (ctx->client != NULL) {
        ctx->client->flags |= CLIENT_COMMIT_WAIT;
        ctx->client->pending_commits++;
    }
}

bool propose_wait_for_proposed(struct client *c) {
    struct batch *last = filling != NULL ? filling : inflight_tail;
    if (last == NULL)
        return false;
    if (last->nwaiters == last->waiters_cap) {
        size_t cap = last->waiters_cap ? last->waiters_cap * 2 : 4;
        struct client **waiters = realloc(last->waiters, cap * sizeof(*waiters));
        if (waiters == NULL)
            return false;
        last->waiters = waiters;
        last->waiters_cap = cap;
    }
    last->waiters[last->nwaiters++] = c;
    c->flags |= CLIENT_COMMIT_WAIT;
    c->pending_commits++;
    return true;
}

static void on_committed(void *arg, int status, void *result) {
    (void)result;
    struct batch *b = arg;
    unlink_inflight(b);
    /* A failure after apply (e.g. leadership lost right after) changes
     * nothing for the clients: their replies were written when it applied. */
    (void)status;
    finish(b, "ERR leadership lost before the write committed: it may or may not apply");
}

/* One entry is in flight at a time, as Redis's appendfsync always has one
 * fsync at a time: the writes that arrive while it commits fill the next
 * entry, proposed in the first loop iteration after it applied. Under load
 * entries grow instead of multiplying, and each one's fixed costs (append,
 * sync, replication round, encode/decode) are shared by more writes:
 * measured with redis-benchmark -c 50 -P 16 SET, 1.5-1.8 -> 1.4 us of CPU
 * per write on one node, 4.3-4.7 -> 3.4-3.6 us summed over a 3-member group. */
void propose_flush(void) {
    struct batch *b = filling;
    if (b == NULL || inflight_head != NULL)
        return;
    filling = NULL;
    void *buf;
    size_t len;
    int rc = entry_writer_finish(b->writer, &buf, &len);
    b->writer = NULL;
    if (rc != ENTRY_OK) {
        finish(b, "OOM command not allowed when used memory > 'maxmemory'."); /* no ctx here */
        return;
    }
    rc = group_propose(shard_group(), buf, len, on_committed, b);
    if (rc != GROUP_OK) {
        free(buf);
        finish(b, rc == GROUP_ENOTLEADER ? "READONLY You can't write against a read only replica."
                                         : "ERR the write could not be proposed to the Raft log");
        return;
    }
    if (inflight_tail != NULL)
        inflight_tail->next = b;
    else
        inflight_head = b;
    inflight_tail = b;
}

/* ---- Applying ---- */

static struct batch *own_batch(uint64_t entry_origin, uint64_t seq) {
    if (entry_origin != origin)
        return NULL;
    for (struct batch *b = inflight_head; b != NULL; b = b->next)
        if (b->seq == seq)
            return b;
    return NULL;
}

static const struct command *resolve(const struct entry_command *ec) {
    struct command *cmd = command_lookup(ec->argv[0], ec->argvlen[0]);
    if (cmd != NULL && cmd->subcommands != NULL && ec->argc >= 2)
        cmd = command_lookup_sub(cmd, ec->argv[1], ec->argvlen[1]);
    return cmd != NULL && cmd->handler != NULL && command_arity_ok(cmd, ec->argc) ? cmd : NULL;
}

/* Commands are read PREFETCH_AHEAD ahead of the one applying, so the cache
 * misses of their key lookups overlap (keyspace_prefetch). At the rate a
 * batch applies, those misses are most of the cost of a simple write. */
struct lookahead {
    struct entry_reader scout; /* a second reader, up to PREFETCH_AHEAD commands ahead */
    const struct command *cmds[PREFETCH_AHEAD];
    size_t count, next; /* commands read ahead, and how many of them are used */
    bool is_on;
};

static void lookahead_init(struct lookahead *la, const struct entry_reader *r) {
    la->count = la->next = 0;
    la->is_on = r->count > 1;
    if (la->is_on)
        entry_reader_dup(r, &la->scout);
}

static void lookahead_close(struct lookahead *la) {
    if (la->is_on)
        entry_reader_close(&la->scout);
}

static void read_ahead(struct lookahead *la) {
    struct keyspace_prefetch keys[PREFETCH_AHEAD];
    struct entry_command ec;
    int rc = 1;
    la->count = la->next = 0;
    while (la->count < PREFETCH_AHEAD && (rc = entry_reader_next(&la->scout, &ec)) == 1) {
        const struct command *cmd = resolve(&ec);
        struct keyspace_prefetch *key = &keys[la->count];
        la->cmds[la->count++] = cmd;
        key->ks = NULL;
        if (cmd != NULL && ec.db < cfg.databases)
            prefetch_key_of(cmd, server_db_if_exists(ec.db), ec.argc, ec.argv, ec.argvlen, key);
    }
    if (rc < 0) {
        /* Out of memory for the scout's arrays: it fell out of step with the
         * reader, so the rest of the entry applies without it. */
        lookahead_close(la);
        la->is_on = false;
    }
    keyspace_prefetch(keys, la->count);
}

/* The command 'ec' (the reader's next) resolves to, from the lookahead when
 * it is on. */
static const struct command *lookahead_next(struct lookahead *la, const struct entry_command *ec) {
    if (la->next == la->count && la->is_on)
        read_ahead(la);
    return la->next < la->count ? la->cmds[la->next++] : resolve(ec);
}

/* Every member applies the same entries in the same order; only the one
 * that proposed an entry has clients to answer. */
void propose_apply(void *arg, const void *buf, size_t len, void **result) {
    (void)arg;
    *result = NULL;
    struct entry_reader r;
    if (entry_reader_init(&r, buf, len) != ENTRY_OK) {
        /* Identical on every member, so skipping keeps them in step. */
        log_warning("Skipping a corrupt Raft entry: %s", r.errmsg);
        entry_reader_close(&r);
        return;
    }
    struct batch *b = own_batch(r.origin, r.seq);
    if (b != NULL)
        b->applied = true;
    struct resp_out sink;
    resp_out_init_discard(&sink);
    struct lookahead la;
    lookahead_init(&la, &r);
    struct entry_command ec;
    for (size_t i = 0; entry_reader_next(&r, &ec) == 1; i++) {
        const struct command *cmd = lookahead_next(&la, &ec);
        if (cmd == NULL || ec.db >= cfg.databases)
            continue; /* only a different build could have proposed it */
        struct client *c = b != NULL && i < b->count ? b->clients[i] : NULL;
        struct exec_ctx ctx = {
            .client = c,
            .out = c == NULL                   ? &sink
                   : c->reply_mode == REPLY_ON ? &c->out
                                               : &c->sink,
            .cmd = cmd,
            .argc = ec.argc,
            .argv = ec.argv,
            .argvlen = ec.argvlen,
            .dbid = ec.db,
            .now_ms = r.now_ms,
            .seed = ec.seed,
            .is_apply = true,
        };
        exec_run(&ctx);
        if (c != NULL)
            c->last_write_index = group_applying_index(shard_group());
    }
    lookahead_close(&la);
    entry_reader_close(&r);
    shard_note_applied();
    /* Keys this entry filled may wake blocked clients (their re-runs join
     * the next batch). */
    blocking_serve_ready();
}

static void forget(struct batch *b, const struct client *c) {
    for (size_t i = 0; i < b->count; i++)
        if (b->clients[i] == c)
            b->clients[i] = NULL;
    for (size_t i = 0; i < b->nwaiters; i++)
        if (b->waiters[i] == c)
            b->waiters[i] = NULL;
}

void propose_client_closed(struct client *c) {
    if (c->pending_commits == 0)
        return;
    if (filling != NULL)
        forget(filling, c);
    for (struct batch *b = inflight_head; b != NULL; b = b->next)
        forget(b, c);
}

void propose_shutdown(void) {
    if (filling != NULL) {
        finish(filling, "ERR server is shutting down");
        filling = NULL;
    }
}
