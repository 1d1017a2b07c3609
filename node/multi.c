/* Transaction state and the WATCH registry (see multi.h). This file keeps
 * the queue and decides whether EXEC may run; running the queue and the
 * replies of MULTI/EXEC/DISCARD/WATCH/UNWATCH are node/cmd_multi.c's.
 *
 * WATCH registry: one dict per database index maps a key to the clients
 * watching it; each client keeps the list of keys it watches. Watches stay
 * with the database index across SWAPDB, as in Redis. A touched client is
 * only flagged; its watches go when it unwatches, EXECs or DISCARDs. */
#include "node/multi.h"

#include "node/client.h"
#include "node/command.h"
#include "node/command_meta.h"
#include "node/config.h"
#include "node/db.h"
#include "node/exec.h"
#include "node/server.h"
#include "storage/dict.h"
#include "storage/keyspace.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

/* A watched key of one database: who watches it. */
struct watched_key {
    struct client **clients;
    size_t count, cap;
    size_t keylen;
    char key[];
};

/* One key as one client watches it. */
struct watch {
    struct watched_key *wk;
    int db;
    bool expired_at_watch; /* existed but had expired when WATCHed */
};

struct multi_state {
    struct multi_cmd *queue;
    int count, cap;
    bool has_writes;
    bool rejected; /* a command was rejected while queuing (Redis CLIENT_DIRTY_EXEC) */
    bool touched;  /* a watched key changed (Redis CLIENT_DIRTY_CAS) */
    struct watch *watches;
    size_t nwatches, watch_cap;
};

static const char *watched_key_of(const void *elem, size_t *len) {
    const struct watched_key *wk = elem;
    *len = wk->keylen;
    return wk->key;
}

static const struct dict_type watched_type = {.key_of = watched_key_of};
static struct dict *watched_dbs; /* cfg.databases dicts, created on the first WATCH */
static size_t watched_key_count; /* entries in all of them */

static struct multi_state *state_of(struct client *c) {
    if (c->multi == NULL)
        c->multi = calloc(1, sizeof(*c->multi));
    return c->multi;
}

/* Frees c's state once it holds neither a transaction nor watches. */
static void release_if_idle(struct client *c) {
    struct multi_state *m = c->multi;
    if (m == NULL || (c->flags & CLIENT_MULTI) || m->nwatches > 0)
        return;
    free(m->queue);
    free(m->watches);
    free(m);
    c->multi = NULL;
}

/* ---- Queuing ---- */

bool multi_queues(const struct client *c, const struct command *cmd) {
    if (!(c->flags & CLIENT_MULTI))
        return false;
    /* Redis 7.0 processCommand: these run at once inside MULTI. */
    static const char *const immediate[] = {"exec", "discard", "multi", "watch", "quit", "reset"};
    for (size_t i = 0; i < sizeof(immediate) / sizeof(immediate[0]); i++)
        if (strcmp(cmd->fullname, immediate[i]) == 0)
            return false;
    return true;
}

static struct multi_cmd copy_command(const struct command *cmd, int argc, char **argv,
                                     const size_t *argvlen) {
    size_t bytes = 0;
    for (int i = 0; i < argc; i++)
        bytes += argvlen[i] + 1;
    size_t head = (size_t)argc * (sizeof(char *) + sizeof(size_t));
    struct multi_cmd q = {.cmd = cmd, .argc = argc};
    char *block = malloc(head + bytes);
    if (block == NULL)
        return q;
    q.argv = (char **)block;
    q.argvlen = (size_t *)(block + (size_t)argc * sizeof(char *));
    char *p = block + head;
    for (int i = 0; i < argc; i++) {
        memcpy(p, argv[i], argvlen[i]);
        p[argvlen[i]] = '\0';
        q.argv[i] = p;
        q.argvlen[i] = argvlen[i];
        p += argvlen[i] + 1;
    }
    return q;
}

static void reply_queued(struct client *c) {
    resp_add_raw(c->reply_mode == REPLY_ON ? &c->out : &c->sink, "+QUEUED\r\n", 9);
}

void multi_queue(struct client *c, const struct command *cmd, int argc, char **argv,
                 const size_t *argvlen) {
    struct multi_state *m = c->multi;
    /* Redis queueMultiCommand: a transaction that will abort keeps nothing,
     * but every command still gets +QUEUED. */
    if (m->rejected || m->touched) {
        reply_queued(c);
        return;
    }
    if (m->count == m->cap) {
        int cap = m->cap ? m->cap * 2 : 8;
        struct multi_cmd *grown = realloc(m->queue, (size_t)cap * sizeof(*grown));
        if (grown == NULL) {
            m->rejected = true;
            resp_add_error(c->reply_mode == REPLY_ON ? &c->out : &c->sink, "ERR out of memory");
            return;
        }
        m->queue = grown;
        m->cap = cap;
    }
    struct multi_cmd q = copy_command(cmd, argc, argv, argvlen);
    if (q.argv == NULL) {
        m->rejected = true;
        resp_add_error(c->reply_mode == REPLY_ON ? &c->out : &c->sink, "ERR out of memory");
        return;
    }
    m->queue[m->count++] = q;
    if (cmd->flags & (CMD_WRITE | CMD_MAY_REPLICATE))
        m->has_writes = true;
    reply_queued(c);
}

const char *multi_reject(struct client *c, const struct command *cmd, const char *msg, char *buf,
                         size_t buflen) {
    if (!(c->flags & CLIENT_MULTI) || c->multi == NULL)
        return msg;
    if (cmd != NULL && strcmp(cmd->fullname, "exec") == 0) {
        /* Redis passes its message without the "ERR " it would prefix. */
        if (strncmp(msg, "ERR ", 4) == 0)
            msg += 4;
        snprintf(buf, buflen, "EXECABORT Transaction discarded because of: %s", msg);
        multi_end(c);
        return buf;
    }
    c->multi->rejected = true;
    return msg;
}

const char *multi_refusal(const struct client *c, const struct command *cmd) {
    if ((c->flags & CLIENT_MULTI) && (cmd->flags & CMD_NO_MULTI))
        return "ERR Command not allowed inside a transaction";
    return NULL;
}

bool multi_has_writes(const struct client *c) {
    return (c->flags & CLIENT_MULTI) && c->multi != NULL && c->multi->has_writes;
}

long long multi_queued_count(const struct client *c) {
    if (!(c->flags & CLIENT_MULTI) || c->multi == NULL)
        return -1;
    return c->multi->count;
}

/* ---- Transaction state ---- */

bool multi_start(struct client *c) {
    if (state_of(c) == NULL)
        return false;
    c->flags |= CLIENT_MULTI;
    return true;
}

const struct multi_cmd *multi_queued(const struct client *c, int *count) {
    *count = c->multi != NULL ? c->multi->count : 0;
    return c->multi != NULL ? c->multi->queue : NULL;
}

static struct kv *find_key(int db, const char *key, size_t len) {
    struct keyspace *ks = server_db_if_exists(db);
    return ks != NULL ? keyspace_find(ks, key, len) : NULL;
}

enum multi_verdict multi_verdict(const struct client *c, int64_t now_ms) {
    const struct multi_state *m = c->multi;
    if (m == NULL)
        return MULTI_RUN;
    if (m->rejected)
        return MULTI_ABORT_ERRORS;
    if (m->touched)
        return MULTI_ABORT_TOUCHED;
    /* Redis 7.0 isWatchedKeyExpired: a key that was live at WATCH and has
     * expired since is a change, deleted yet or not. */
    for (size_t i = 0; i < m->nwatches; i++) {
        const struct watch *w = &m->watches[i];
        if (w->expired_at_watch)
            continue;
        struct kv *kv = find_key(w->db, w->wk->key, w->wk->keylen);
        if (kv != NULL && db_is_expired(kv, now_ms))
            return MULTI_ABORT_TOUCHED;
    }
    return MULTI_RUN;
}

void multi_end(struct client *c) {
    struct multi_state *m = c->multi;
    c->flags &= ~(uint32_t)CLIENT_MULTI;
    if (m == NULL)
        return;
    for (int i = 0; i < m->count; i++)
        free(m->queue[i].argv);
    m->count = 0;
    m->has_writes = false;
    m->rejected = false;
    multi_unwatch_all(c);
}

/* ---- WATCH registry ---- */

static struct dict *watched_db(int db) {
    if (watched_dbs == NULL) {
        watched_dbs = calloc((size_t)cfg.databases, sizeof(*watched_dbs));
        if (watched_dbs == NULL)
            return NULL;
        for (int i = 0; i < cfg.databases; i++)
            dict_init(&watched_dbs[i], &watched_type);
    }
    return &watched_dbs[db];
}

bool multi_watch_key(struct client *c, int db, const char *key, size_t len, int64_t now_ms) {
    struct multi_state *m = state_of(c);
    struct dict *d = watched_db(db);
    if (m == NULL || d == NULL)
        return false;
    struct watched_key *wk = dict_find(d, key, len);
    for (size_t i = 0; wk != NULL && i < m->nwatches; i++)
        if (m->watches[i].wk == wk)
            return true;
    if (m->nwatches == m->watch_cap) {
        size_t cap = m->watch_cap ? m->watch_cap * 2 : 4;
        struct watch *grown = realloc(m->watches, cap * sizeof(*grown));
        if (grown == NULL)
            return false;
        m->watches = grown;
        m->watch_cap = cap;
    }
    if (wk == NULL) {
        wk = calloc(1, sizeof(*wk) + len + 1);
        if (wk == NULL)
            return false;
        memcpy(wk->key, key, len);
        wk->keylen = len;
        if (dict_add(d, wk) != 0) {
            free(wk);
            return false;
        }
        watched_key_count++;
    }
    if (wk->count == wk->cap) {
        size_t cap = wk->cap ? wk->cap * 2 : 2;
        struct client **grown = realloc(wk->clients, cap * sizeof(*grown));
        if (grown == NULL) {
            if (wk->count == 0) {
                dict_remove(d, key, len);
                free(wk);
                watched_key_count--;
            }
            return false;
        }
        wk->clients = grown;
        wk->cap = cap;
    }
    wk->clients[wk->count++] = c;
    struct kv *kv = find_key(db, key, len);
    m->watches[m->nwatches++] = (struct watch){
        .wk = wk, .db = db, .expired_at_watch = kv != NULL && db_is_expired(kv, now_ms)};
    return true;
}

static void drop_watcher(int db, struct watched_key *wk, const struct client *c) {
    for (size_t i = 0; i < wk->count; i++) {
        if (wk->clients[i] == c) {
            wk->clients[i] = wk->clients[--wk->count];
            break;
        }
    }
    if (wk->count == 0) {
        dict_remove(&watched_dbs[db], wk->key, wk->keylen);
        free(wk->clients);
        free(wk);
        watched_key_count--;
    }
}

void multi_unwatch_all(struct client *c) {
    struct multi_state *m = c->multi;
    if (m == NULL)
        return;
    for (size_t i = 0; i < m->nwatches; i++)
        drop_watcher(m->watches[i].db, m->watches[i].wk, c);
    m->nwatches = 0;
    m->touched = false;
    release_if_idle(c);
}

bool multi_is_touched(const struct client *c) {
    return c->multi != NULL && c->multi->touched;
}

void multi_client_reset(struct client *c) {
    multi_end(c);
}

/* The watch entry of 'c' for 'wk' (every watcher of 'wk' has one). */
static struct watch *watch_of(struct client *c, const struct watched_key *wk) {
    struct multi_state *m = c->multi;
    for (size_t i = 0; i < m->nwatches; i++)
        if (m->watches[i].wk == wk)
            return &m->watches[i];
    return NULL;
}

void multi_touch_key(int db, const char *key, size_t len) {
    if (watched_dbs == NULL)
        return;
    struct watched_key *wk = dict_find(&watched_dbs[db], key, len);
    if (wk == NULL)
        return;
    bool exists = find_key(db, key, len) != NULL;
    for (size_t i = 0; i < wk->count; i++) {
        struct watch *w = watch_of(wk->clients[i], wk);
        /* Redis 7.0 touchWatchedKey: deleting a key that had already
         * expired at WATCH changes nothing logically; from then on the
         * key counts as absent. */
        if (w != NULL && w->expired_at_watch && !exists) {
            w->expired_at_watch = false;
            continue;
        }
        wk->clients[i]->multi->touched = true;
    }
}

/* Every client watching a key of any database is touched. */
static void touch_all_watchers(void) {
    for (int db = 0; db < cfg.databases; db++) {
        struct dict_iter it;
        dict_iter_init(&it, &watched_dbs[db]);
        struct watched_key *wk;
        while ((wk = dict_iter_next(&it)) != NULL)
            for (size_t i = 0; i < wk->count; i++)
                wk->clients[i]->multi->touched = true;
        dict_iter_close(&it);
    }
}

#define PROPOSED_KEYS_MAX 256

void multi_touch_proposed(const struct exec_ctx *ctx) {
    if (watched_dbs == NULL || watched_key_count == 0)
        return;
    struct keyref keys[PROPOSED_KEYS_MAX];
    int n = command_meta_has_keys(ctx->cmd)
                ? command_meta_getkeys(ctx->cmd, ctx->argc, ctx->argv, ctx->argvlen, keys,
                                       PROPOSED_KEYS_MAX)
                : -1;
    if (n < 0 || n == PROPOSED_KEYS_MAX) {
        touch_all_watchers(); /* keyless, or more keys than we look at */
        return;
    }
    for (int k = 0; k < n; k++) {
        struct watched_key *wk =
            dict_find(&watched_dbs[ctx->dbid], ctx->argv[keys[k].pos], ctx->argvlen[keys[k].pos]);
        for (size_t i = 0; wk != NULL && i < wk->count; i++)
            wk->clients[i]->multi->touched = true;
    }
}

void multi_touch_db(int emptied, int replaced_with, int64_t now_ms) {
    if (watched_dbs == NULL)
        return;
    struct dict_iter it;
    dict_iter_init(&it, &watched_dbs[emptied]);
    struct watched_key *wk;
    while ((wk = dict_iter_next(&it)) != NULL) {
        bool in_emptied = find_key(emptied, wk->key, wk->keylen) != NULL;
        struct kv *repl = replaced_with >= 0 ? find_key(replaced_with, wk->key, wk->keylen) : NULL;
        if (!in_emptied && repl == NULL)
            continue;
        bool repl_expired = repl != NULL && db_is_expired(repl, now_ms);
        for (size_t i = 0; i < wk->count; i++) {
            struct watch *w = watch_of(wk->clients[i], wk);
            /* Redis 7.0 touchAllWatchedKeysInDb. */
            if (w != NULL && w->expired_at_watch) {
                if (repl == NULL) {
                    w->expired_at_watch = false; /* expired key now deleted */
                    continue;
                }
                if (repl_expired)
                    continue; /* expired key stays expired */
            } else if (w != NULL && !in_emptied && repl_expired) {
                w->expired_at_watch = true; /* absent key replaced by an expired one */
                continue;
            }
            wk->clients[i]->multi->touched = true;
        }
    }
    dict_iter_close(&it);
}
