/* Clients blocked on keys (see blocking.h). Owns the parked-command state:
 * which clients wait on which keys, their deadlines, and the re-run of their
 * commands. It does not know what any blocking command does. */
#include "node/blocking.h"

#include "node/client.h"
#include "node/command.h"
#include "node/db.h"
#include "node/exec.h"
#include "node/propose.h"
#include "node/server.h"
#include "storage/dict.h"
#include "storage/keyspace.h"
#include "storage/object.h"

#include <ctype.h>
#include <math.h>
#include <stdlib.h>
#include <string.h>

/* One client's parked command. Owned by the client (client->blocked). */
struct parked {
    struct client *client;
    const struct command *cmd;
    int argc;
    char **argv;
    size_t *argvlen;
    int db;
    int nkeys;
    struct waiters **keys; /* the per-key queues it sits in */
    enum blocking_timeout_reply timeout_reply;
    enum obj_type want_type; /* what its keys must hold for a re-run to serve it */
    int64_t deadline_ms;     /* 0 = never */
    uv_timer_t timer;
    bool has_timer;
};

/* The FIFO of clients parked on one key of one database. */
struct waiters {
    int db;
    size_t keylen;
    struct parked **queue;
    size_t len, cap;
    bool is_ready; /* on the ready list */
    struct waiters *next_ready;
    char key[];
};

static const char *waiters_key(const void *elem, size_t *len) {
    const struct waiters *w = elem;
    *len = w->keylen;
    return w->key;
}

static const struct dict_type waiters_type = {.key_of = waiters_key};

static struct dict *by_db; /* cfg.databases dicts of struct waiters, by key */
static struct waiters *ready_head;
static size_t parked_count;
/* Set while blocking_serve_ready runs: resumed clients run their next
 * commands from inside it, and those must not start a nested round. */
static bool serving;

static struct dict *db_waiters(int db) {
    if (by_db == NULL) {
        by_db = calloc((size_t)cfg.databases, sizeof(*by_db));
        if (by_db == NULL)
            return NULL;
        for (long long i = 0; i < cfg.databases; i++)
            dict_init(&by_db[i], &waiters_type);
    }
    return &by_db[db];
}

size_t blocking_count(void) {
    return parked_count;
}

bool blocking_is_blocked(const struct client *c) {
    return c->blocked != NULL;
}

size_t blocking_timeout_count(void) {
    size_t n = 0;
    for (const struct client *c = server.clients; c != NULL; c = c->next)
        if (c->blocked != NULL && c->blocked->deadline_ms != 0)
            n++;
    return n;
}

int64_t blocking_parse_timeout(struct exec_ctx *ctx, int arg) {
    char buf[64];
    size_t len = ctx->argvlen[arg];
    char *end;
    long double seconds = 0;
    if (len > 0 && len < sizeof(buf)) {
        memcpy(buf, ctx->argv[arg], len);
        buf[len] = '\0';
        seconds = strtold(buf, &end);
    }
    if (len == 0 || len >= sizeof(buf) || *end != '\0' || isnan(seconds) ||
        isspace((unsigned char)buf[0])) {
        resp_add_error(ctx->out, "ERR timeout is not a float or out of range");
        return -1;
    }
    long double ms = ceill(seconds * 1000.0L);
    /* Redis 7.0 converts to long long without a range check, so overflowing
     * values come out negative: keep its reply for them. */
    if (ms < 0 || !isfinite(ms) || ms > (long double)(INT64_MAX / 2)) {
        resp_add_error(ctx->out, "ERR timeout is negative");
        return -1;
    }
    return ms == 0 ? 0 : server_now_ms() + (int64_t)ms;
}

int64_t blocking_parse_timeout_ms(struct exec_ctx *ctx, int arg) {
    long long ms;
    if (!obj_parse_ll(ctx->argv[arg], ctx->argvlen[arg], &ms)) {
        resp_add_error(ctx->out, "ERR timeout is not an integer or out of range");
        return -1;
    }
    if (ms < 0) {
        resp_add_error(ctx->out, "ERR timeout is negative");
        return -1;
    }
    int64_t now = server_now_ms();
    if (ms > INT64_MAX - now) {
        resp_add_error(ctx->out, "ERR timeout is out of range");
        return -1;
    }
    return ms == 0 ? 0 : now + ms;
}

/* ---- Parking ---- */

/* A queue on the ready list is still referenced from there: keep it. */
static void free_if_unused(struct waiters *w) {
    if (w->len == 0 && !w->is_ready) {
        dict_remove(db_waiters(w->db), w->key, w->keylen);
        free(w->queue);
        free(w);
    }
}

static void remove_from_queue(struct waiters *w, struct parked *p) {
    for (size_t i = 0; i < w->len; i++) {
        if (w->queue[i] == p) {
            memmove(w->queue + i, w->queue + i + 1, (w->len - i - 1) * sizeof(*w->queue));
            w->len--;
            break;
        }
    }
    free_if_unused(w);
}

static void free_args(int argc, char **argv, size_t *argvlen) {
    for (int i = 0; i < argc; i++)
        free(argv[i]);
    free(argv);
    free(argvlen);
}

static void free_parked(struct parked *p) {
    free_args(p->argc, p->argv, p->argvlen);
    free(p->keys);
    free(p);
}

static void on_timer_closed(uv_handle_t *handle) {
    free_parked(handle->data);
}

/* Detaches 'p' from its client and its queues, then frees it. */
static void unpark(struct parked *p) {
    for (int i = 0; i < p->nkeys; i++)
        remove_from_queue(p->keys[i], p);
    p->client->blocked = NULL;
    p->client->flags &= ~(uint32_t)CLIENT_BLOCKED;
    parked_count--;
    if (p->has_timer) {
        uv_timer_stop(&p->timer);
        uv_close((uv_handle_t *)&p->timer, on_timer_closed);
    } else {
        free_parked(p);
    }
}

static void reply_timeout(struct resp_out *out, enum blocking_timeout_reply kind) {
    if (kind == BLOCKING_REPLY_NULL_ARRAY)
        resp_add_null_array(out);
    else
        resp_add_null(out);
}

/* After a client leaves the blocked state: continue its pipeline. */
static void resume(struct client *c) {
    client_schedule_write(c);
    client_process_input(c);
}

void blocking_unblock(struct client *c, bool timeout_reply) {
    struct parked *p = c->blocked;
    if (p == NULL)
        return;
    enum blocking_timeout_reply kind = p->timeout_reply;
    unpark(p);
    if (timeout_reply) {
        reply_timeout(c->reply_mode == REPLY_ON ? &c->out : &c->sink, kind);
        resume(c);
    }
}

static void on_deadline(uv_timer_t *timer) {
    struct parked *p = timer->data;
    blocking_unblock(p->client, true);
}

static struct waiters *waiters_for(int db, const char *key, size_t len) {
    struct dict *d = db_waiters(db);
    if (d == NULL)
        return NULL;
    struct waiters *w = dict_find(d, key, len);
    if (w != NULL)
        return w;
    w = calloc(1, sizeof(*w) + len);
    if (w == NULL)
        return NULL;
    w->db = db;
    w->keylen = len;
    memcpy(w->key, key, len);
    if (dict_add(d, w) != 0) {
        free(w);
        return NULL;
    }
    return w;
}

static bool enqueue(struct waiters *w, struct parked *p) {
    if (w->len == w->cap) {
        size_t cap = w->cap ? w->cap * 2 : 4;
        struct parked **q = realloc(w->queue, cap * sizeof(*q));
        if (q == NULL)
            return false;
        w->queue = q;
        w->cap = cap;
    }
    w->queue[w->len++] = p;
    return true;
}

static struct parked *copy_command(const struct exec_ctx *ctx) {
    struct parked *p = calloc(1, sizeof(*p));
    if (p == NULL)
        return NULL;
    p->argv = calloc((size_t)ctx->argc, sizeof(*p->argv));
    p->argvlen = calloc((size_t)ctx->argc, sizeof(*p->argvlen));
    if (p->argv == NULL || p->argvlen == NULL)
        goto err;
    p->argc = ctx->argc;
    for (int i = 0; i < ctx->argc; i++) {
        p->argv[i] = malloc(ctx->argvlen[i] + 1);
        if (p->argv[i] == NULL)
            goto err;
        memcpy(p->argv[i], ctx->argv[i], ctx->argvlen[i]);
        p->argv[i][ctx->argvlen[i]] = '\0';
        p->argvlen[i] = ctx->argvlen[i];
    }
    return p;
err:
    free_parked(p);
    return NULL;
}

bool blocking_wait(struct exec_ctx *ctx, const int *key_args, int nkeys, int64_t deadline_ms,
                   enum blocking_timeout_reply timeout_reply, enum obj_type want_type) {
    struct client *c = ctx->client;
    if (c == NULL || ctx->argv == NULL || (c->flags & CLIENT_MULTI) || c->blocked != NULL)
        return false;
    /* A re-run keeps the deadline of the command's first wait. */
    if (c->rerun_deadline_ms >= 0)
        deadline_ms = c->rerun_deadline_ms;
    c->rerun_deadline_ms = -1;
    struct parked *p = copy_command(ctx);
    if (p == NULL)
        return false;
    p->keys = calloc((size_t)nkeys, sizeof(*p->keys));
    if (p->keys == NULL) {
        free_parked(p);
        return false;
    }
    p->client = c;
    p->cmd = ctx->cmd;
    p->db = ctx->dbid;
    p->timeout_reply = timeout_reply;
    p->want_type = want_type;
    p->deadline_ms = deadline_ms;
    c->blocked = p;
    c->flags |= CLIENT_BLOCKED;
    parked_count++;
    for (int i = 0; i < nkeys; i++) {
        struct waiters *w =
            waiters_for(ctx->dbid, ctx->argv[key_args[i]], ctx->argvlen[key_args[i]]);
        /* The same key may be named twice (BLPOP k k): queue once. */
        bool seen = false;
        for (int j = 0; j < p->nkeys; j++)
            seen |= p->keys[j] == w;
        if (w == NULL || (!seen && !enqueue(w, p))) {
            unpark(p);
            return false;
        }
        if (!seen)
            p->keys[p->nkeys++] = w;
    }
    if (deadline_ms > 0) {
        uv_timer_init(server.loop, &p->timer);
        p->timer.data = p;
        p->has_timer = true;
        int64_t delay = deadline_ms - server_now_ms();
        uv_timer_start(&p->timer, on_deadline, delay > 0 ? (uint64_t)delay : 0, 0);
    }
    return true;
}

void blocking_wait_keys(struct exec_ctx *ctx, int first, int nkeys, int64_t deadline_ms,
                        enum blocking_timeout_reply timeout_reply, enum obj_type want_type) {
    int inline_keys[16] = {0};
    int *keys = nkeys <= 16 ? inline_keys : malloc((size_t)nkeys * sizeof(*keys));
    bool parked = false;
    if (keys != NULL) {
        for (int i = 0; i < nkeys; i++)
            keys[i] = first + i;
        parked = blocking_wait(ctx, keys, nkeys, deadline_ms, timeout_reply, want_type);
        if (keys != inline_keys)
            free(keys);
    }
    if (!parked)
        reply_timeout(ctx->out, timeout_reply);
}

/* ---- Waking ---- */

void blocking_signal_key(int db, const char *key, size_t len) {
    if (parked_count == 0)
        return;
    struct waiters *w = dict_find(db_waiters(db), key, len);
    if (w == NULL || w->is_ready)
        return;
    w->is_ready = true;
    w->next_ready = ready_head;
    ready_head = w;
}

/* Unparks 'p' and proposes its command again. If it still finds nothing
 * it parks again (at the tail of its queues), keeping its first deadline.
 * With an asynchronous write step that happens when the write applies. */
static void rerun(struct parked *p) {
    struct client *c = p->client;
    struct exec_ctx ctx = {
        .client = c,
        .out = c->reply_mode == REPLY_ON ? &c->out : &c->sink,
        .cmd = p->cmd,
        .argc = p->argc,
        .argv = p->argv,
        .argvlen = p->argvlen,
        .dbid = p->db,
    };
    c->rerun_deadline_ms = p->deadline_ms;
    p->argc = 0; /* the arguments now belong to this re-run */
    p->argv = NULL;
    p->argvlen = NULL;
    unpark(p);
    propose_write(&ctx);
    free_args(ctx.argc, ctx.argv, ctx.argvlen);
    resume(c);
}

/* Whether one of the keys 'p' waits on now holds a live value of the type
 * it waits for. Redis 7.0 leaves a client blocked when its key was set to
 * another type (or emptied again) rather than answering it. */
static bool can_serve(const struct parked *p) {
    struct keyspace *ks = server_db_if_exists(p->db);
    if (ks == NULL)
        return false;
    int64_t now = server_now_ms();
    for (int i = 0; i < p->nkeys; i++) {
        const struct kv *kv = keyspace_find(ks, p->keys[i]->key, p->keys[i]->keylen);
        if (kv != NULL && kv->type == p->want_type && !db_is_expired(kv, now))
            return true;
    }
    return false;
}

static bool parked_on(const struct parked *p, const struct waiters *w) {
    for (int i = 0; i < p->nkeys; i++)
        if (p->keys[i] == w)
            return true;
    return false;
}

void blocking_serve_ready(void) {
    if (serving)
        return;
    serving = true;
    while (ready_head != NULL) {
        struct waiters *w = ready_head;
        ready_head = w->next_ready;
        /* Every client waiting now that the key can serve gets one re-run,
         * oldest first; those that still find nothing park again behind the
         * queue in the same order, so it stays FIFO. Re-runs change the
         * queue, so walk a copy of it (clients are freed only by a later
         * loop phase). is_ready stays set meanwhile, which keeps 'w'. */
        size_t n = w->len;
        struct client **clients = malloc((n ? n : 1) * sizeof(*clients));
        for (size_t i = 0; clients != NULL && i < n; i++)
            clients[i] = w->queue[i]->client;
        for (size_t i = 0; clients != NULL && i < n; i++) {
            struct parked *p = clients[i]->blocked;
            if (p != NULL && parked_on(p, w) && can_serve(p))
                rerun(p);
        }
        free(clients);
        w->is_ready = false;
        free_if_unused(w);
    }
    serving = false;
}
