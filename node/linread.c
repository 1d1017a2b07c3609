/* Linearizable reads (see linread.h). Owns the parked reads: the batch
 * being filled during a loop iteration and the batches whose barrier is in
 * flight, each read with its own copy of the arguments. What a read does
 * when it finally runs is dispatch's business. */
#include "node/linread.h"

#include "node/client.h"
#include "node/command.h"
#include "node/config.h"
#include "node/dispatch.h"
#include "node/multi.h"
#include "node/server.h"
#include "node/shard.h"
#include "raft/group.h"

#include <stdlib.h>
#include <string.h>

struct parked_read {
    struct client *client; /* NULL once the client closed */
    int argc;
    char **argv;
    size_t *argvlen;
    /* Bytes of the client's query buffer (from offset 0) received when the
     * barrier was issued: the commands starting there were sent before it,
     * so the same barrier covers them too. */
    size_t covered;
};

/* The reads one barrier answers, in arrival order. */
struct read_batch {
    struct parked_read *reads;
    size_t count, cap;
    struct read_batch *next; /* in the in-flight list */
};

static struct read_batch *filling;   /* parked during this loop iteration */
static struct read_batch *inflight;  /* barrier issued, not yet applied */
static struct read_batch *finishing; /* being re-run right now */
static const struct client *rerunning;
/* While a confirmed read's client goes on with its pipeline: reads that
 * start below 'pass_covered' in its query buffer need no new barrier. */
static const struct client *pass_client;
static size_t pass_covered;
static uv_prepare_t flush_handle;
static bool has_flush_handle;

static const char TRYAGAIN_ERROR[] =
    "TRYAGAIN Leadership changed before the read could be confirmed; retry it";

bool linread_postpones(const struct client *c, const struct command *cmd) {
    if (!cfg.linearizable_reads || c == rerunning || (cmd->flags & CMD_WRITE))
        return false;
    if (c == pass_client && c->qstart < pass_covered)
        return false;
    struct group *g = shard_group();
    if (g == NULL || !group_is_leader(g))
        return false;
    if (cmd->flags & CMD_READONLY)
        return true;
    /* EXEC of a queue without writes runs its reads at once; with writes it
     * is proposed, and the log orders it. */
    return strcmp(cmd->fullname, "exec") == 0 && !multi_has_writes(c);
}

/* ---- Finishing a batch ---- */

static void free_read(struct parked_read *r) {
    for (int i = 0; i < r->argc; i++)
        free(r->argv[i]);
    free(r->argv);
    free(r->argvlen);
}

static void free_batch(struct read_batch *b) {
    for (size_t i = 0; i < b->count; i++)
        free_read(&b->reads[i]);
    free(b->reads);
    free(b);
}

/* Runs each read of 'b' through dispatch again ('confirmed'), or answers it
 * with TRYAGAIN; then each client goes on with its pipeline, its reads sent
 * before the barrier riding on it. A client that closes meanwhile (even one
 * later in the batch) is skipped. */
static void finish(struct read_batch *b, bool confirmed) {
    finishing = b;
    for (size_t i = 0; i < b->count; i++) {
        struct client *c = b->reads[i].client;
        if (c == NULL)
            continue;
        c->flags &= ~(uint32_t)CLIENT_BLOCKED;
        if (confirmed) {
            rerunning = c;
            dispatch_command(c, b->reads[i].argc, b->reads[i].argv, b->reads[i].argvlen);
            rerunning = NULL;
        } else {
            resp_add_error(c->reply_mode == REPLY_ON ? &c->out : &c->sink, TRYAGAIN_ERROR);
        }
        client_schedule_write(c);
        /* The parked read left the buffer compacted to offset 0; if
         * something moved it since, no read rides on this barrier. */
        if (confirmed && c->qstart == 0) {
            pass_client = c;
            pass_covered = b->reads[i].covered;
        }
        client_process_input(c);
        pass_client = NULL;
    }
    finishing = NULL;
    free_batch(b);
}

static void on_barrier_applied(void *arg, int status, void *result) {
    (void)result;
    struct read_batch *b = arg;
    for (struct read_batch **link = &inflight; *link != NULL; link = &(*link)->next)
        if (*link == b) {
            *link = b->next;
            break;
        }
    finish(b, status == GROUP_OK);
}

/* The loop's prepare phase: one barrier for every read parked during this
 * iteration. */
static void on_prepare(uv_prepare_t *handle) {
    (void)handle;
    struct read_batch *b = filling;
    if (b == NULL)
        return;
    filling = NULL;
    for (size_t i = 0; i < b->count; i++) {
        const struct client *c = b->reads[i].client;
        b->reads[i].covered = c != NULL && c->qstart == 0 ? c->qlen : 0;
    }
    struct group *g = shard_group();
    if (g == NULL || group_barrier(g, on_barrier_applied, b) != GROUP_OK) {
        finish(b, false);
        return;
    }
    b->next = inflight;
    inflight = b;
}

/* ---- Parking ---- */

static bool copy_command(struct parked_read *r, int argc, char **argv, const size_t *argvlen) {
    memset(r, 0, sizeof(*r));
    r->argv = calloc((size_t)argc, sizeof(*r->argv));
    r->argvlen = calloc((size_t)argc, sizeof(*r->argvlen));
    if (r->argv == NULL || r->argvlen == NULL)
        return false;
    for (int i = 0; i < argc; i++) {
        r->argv[i] = malloc(argvlen[i] + 1);
        if (r->argv[i] == NULL)
            return false;
        r->argc = i + 1;
        memcpy(r->argv[i], argv[i], argvlen[i]);
        r->argv[i][argvlen[i]] = '\0';
        r->argvlen[i] = argvlen[i];
    }
    return true;
}

static bool append(struct client *c, int argc, char **argv, const size_t *argvlen) {
    if (filling == NULL && (filling = calloc(1, sizeof(*filling))) == NULL)
        return false;
    struct read_batch *b = filling;
    if (b->count == b->cap) {
        size_t cap = b->cap ? b->cap * 2 : 16;
        struct parked_read *reads = realloc(b->reads, cap * sizeof(*reads));
        if (reads == NULL)
            return false;
        b->reads = reads;
        b->cap = cap;
    }
    struct parked_read *r = &b->reads[b->count];
    if (!copy_command(r, argc, argv, argvlen)) {
        free_read(r);
        return false;
    }
    r->client = c;
    b->count++;
    return true;
}

void linread_postpone(struct client *c, int argc, char **argv, const size_t *argvlen) {
    if (!append(c, argc, argv, argvlen)) {
        resp_add_error(c->reply_mode == REPLY_ON ? &c->out : &c->sink,
                       "OOM command not allowed when used memory > 'maxmemory'.");
        return;
    }
    c->flags |= CLIENT_BLOCKED;
    if (!has_flush_handle) {
        uv_prepare_init(server.loop, &flush_handle);
        uv_prepare_start(&flush_handle, on_prepare);
        has_flush_handle = true;
    }
}

static void forget(struct read_batch *b, const struct client *c) {
    if (b == NULL)
        return;
    for (size_t i = 0; i < b->count; i++)
        if (b->reads[i].client == c)
            b->reads[i].client = NULL;
}

void linread_client_closed(struct client *c) {
    forget(filling, c);
    forget(finishing, c);
    for (struct read_batch *b = inflight; b != NULL; b = b->next)
        forget(b, c);
}
