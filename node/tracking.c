/* Client-side caching (see tracking.h), after Redis 7.0's tracking.c: the
 * table of tracked keys, the BCAST prefix table, invalidation messages and
 * the index of connections by id that redirection needs. The CLIENT
 * subcommands that drive it are in cmd_tracking.c. */
#include "node/tracking.h"

#include "node/client.h"
#include "node/command.h"
#include "node/exec.h"
#include "node/pubsub.h"
#include "storage/dict.h"
#include "storage/mem.h"

#include <stdlib.h>
#include <string.h>

#define INVALIDATE_CHANNEL "__redis__:invalidate"

/* A key read by tracking clients since it last changed. Ids, not pointers:
 * a client that went away is skipped when the key changes. */
struct tracked_key {
    uint64_t *ids;
    size_t count, cap;
    size_t len;
    char key[];
};

/* A BCAST prefix: its clients and the keys under it changed since the last
 * broadcast. */
struct bcast_prefix {
    uint64_t *clients; /* ids, in the order they joined */
    size_t count, cap;
    struct dict changed; /* struct changed_key */
    size_t len;
    char name[];
};

struct changed_key {
    uint64_t writer; /* id of the client whose write changed it last, 0 = none */
    size_t len;
    char key[];
};

/* Invalidations for the client that is running the command which caused
 * them; sent after its reply (Redis 7.0 tracking_pending_keys). A NULL key
 * is a flush. */
struct pending {
    char *key;
    size_t len;
};

static const char *client_id_key(const void *elem, size_t *len) {
    const struct client *c = elem;
    *len = sizeof(c->id);
    return (const char *)&c->id;
}
static const char *tracked_key_of(const void *elem, size_t *len) {
    const struct tracked_key *t = elem;
    *len = t->len;
    return t->key;
}
static const char *prefix_key_of(const void *elem, size_t *len) {
    const struct bcast_prefix *p = elem;
    *len = p->len;
    return p->name;
}
static const char *changed_key_of(const void *elem, size_t *len) {
    const struct changed_key *k = elem;
    *len = k->len;
    return k->key;
}

static const struct dict_type client_id_type = {.key_of = client_id_key};
static const struct dict_type tracked_type = {.key_of = tracked_key_of};
static const struct dict_type prefix_type = {.key_of = prefix_key_of};
static const struct dict_type changed_type = {.key_of = changed_key_of};

static struct dict clients_by_id;
static struct dict tracked;      /* struct tracked_key */
static struct dict prefix_table; /* struct bcast_prefix */
static size_t tracking_clients;  /* clients with TRACKING_ON */
static size_t tracked_items;     /* client ids over all of 'tracked' */
static bool ready;
static bool broadcasting; /* defer freeing prefixes while a broadcast walks them */

static struct pending *pending;
static size_t pending_count, pending_cap;
static uint64_t pending_client; /* whose they are */

static void init_once(void) {
    if (ready)
        return;
    dict_init(&clients_by_id, &client_id_type);
    dict_init(&tracked, &tracked_type);
    dict_init(&prefix_table, &prefix_type);
    ready = true;
}

/* Orders like a radix tree walks: bytes first, then the shorter first. */
static int compare_bytes(const char *a, size_t alen, const char *b, size_t blen) {
    int cmp = memcmp(a, b, alen < blen ? alen : blen);
    if (cmp != 0)
        return cmp;
    return alen < blen ? -1 : alen > blen;
}

/* ---- Clients ---- */

struct client *tracking_client_by_id(uint64_t id) {
    init_once();
    return dict_find(&clients_by_id, (const char *)&id, sizeof(id));
}

void tracking_client_connected(struct client *c) {
    init_once();
    dict_add(&clients_by_id, c);
}

void tracking_client_closed(struct client *c) {
    init_once();
    tracking_disable(c);
    dict_remove(&clients_by_id, (const char *)&c->id, sizeof(c->id));
    mem_free(c->tracking);
    c->tracking = NULL;
}

void tracking_client_reset(struct client *c) {
    tracking_disable(c);
}

bool tracking_is_on(const struct client *c) {
    return c->tracking != NULL && (c->tracking->flags & TRACKING_ON);
}

bool tracking_is_bcast(const struct client *c) {
    return c->tracking != NULL && (c->tracking->flags & TRACKING_BCAST);
}

bool tracking_redirect_broken(const struct client *c) {
    return c->tracking != NULL && (c->tracking->flags & TRACKING_BROKEN_REDIR);
}

long long tracking_redirect_id(const struct client *c) {
    return tracking_is_on(c) ? (long long)c->tracking->redirect : -1;
}

const char *tracking_prefix(const struct client *c, size_t i, size_t *len) {
    const struct bcast_prefix *p = c->tracking->prefixes[i];
    *len = p->len;
    return p->name;
}

/* ---- Messages ---- */

/* Redis 7.0 sendTrackingMessage: 'payload' is the encoded value part (an
 * array of keys, or a null). Goes to the client itself in RESP3, or to its
 * redirect client: a RESP3 push, or a RESP2 message on __redis__:invalidate
 * when that client is in Pub/Sub mode. */
static void send_invalidation(struct client *c, const char *payload, size_t len) {
    struct tracking_state *ts = c->tracking;
    struct client *target = c;
    bool redirected = false;
    if (ts->redirect != 0) {
        target = tracking_client_by_id(ts->redirect);
        if (target == NULL) {
            ts->flags |= TRACKING_BROKEN_REDIR;
            if (c->out.proto > 2) {
                resp_add_push(&c->out, 2);
                resp_add_bulk(&c->out, "tracking-redir-broken", 21);
                resp_add_int(&c->out, (long long)ts->redirect);
                client_schedule_write(c);
            }
            return;
        }
        redirected = true;
    }
    if (target->out.proto > 2) {
        resp_add_push(&target->out, 2);
        resp_add_bulk(&target->out, "invalidate", 10);
        resp_add_raw(&target->out, payload, len);
        client_schedule_write(target);
    } else if (redirected && (target->flags & CLIENT_PUBSUB)) {
        pubsub_deliver_raw(target, INVALIDATE_CHANNEL, strlen(INVALIDATE_CHANNEL), payload, len);
    }
}

/* Sends ['key'] (or a null when 'key' is NULL) to 'c'. */
static void send_key(struct client *c, const char *key, size_t len) {
    struct resp_out enc;
    resp_out_init(&enc, c->out.proto);
    if (key != NULL) {
        resp_add_array(&enc, 1);
        resp_add_bulk(&enc, key, len);
    } else {
        resp_add_null(&enc);
    }
    if (!enc.failed)
        send_invalidation(c, enc.buf, enc.len);
    resp_out_close(&enc);
}

static void pending_add(struct client *c, const char *key, size_t len) {
    if (pending_count > 0 && pending_client != c->id)
        return; /* only the running client's own invalidations wait */
    if (pending_count == pending_cap) {
        size_t cap = pending_cap ? pending_cap * 2 : 8;
        struct pending *p = mem_realloc(pending, cap * sizeof(*p));
        if (p == NULL)
            return;
        pending = p;
        pending_cap = cap;
    }
    char *copy = NULL;
    if (key != NULL) {
        copy = mem_alloc(len ? len : 1);
        if (copy == NULL)
            return;
        memcpy(copy, key, len);
    }
    pending_client = c->id;
    pending[pending_count++] = (struct pending){copy, len};
}

static void pending_flush(void) {
    if (pending_count == 0)
        return;
    struct client *c = tracking_client_by_id(pending_client);
    /* Taken out first: sending may close a client and come back here. */
    struct pending *list = pending;
    size_t count = pending_count;
    pending = NULL;
    pending_count = pending_cap = 0;
    for (size_t i = 0; i < count; i++) {
        if (c != NULL && c->tracking != NULL && !(c->flags & CLIENT_CLOSING))
            send_key(c, list[i].key, list[i].len);
        mem_free(list[i].key);
    }
    mem_free(list);
}

/* ---- Default mode ---- */

static void remember_key(uint64_t id, const char *key, size_t len) {
    struct tracked_key *t = dict_find(&tracked, key, len);
    if (t == NULL) {
        t = mem_calloc(sizeof(*t) + len + 1);
        if (t == NULL)
            return;
        t->len = len;
        memcpy(t->key, key, len);
        if (dict_add(&tracked, t) != 0) {
            mem_free(t);
            return;
        }
    }
    for (size_t i = 0; i < t->count; i++)
        if (t->ids[i] == id)
            return;
    if (t->count == t->cap) {
        size_t cap = t->cap ? t->cap * 2 : 2;
        uint64_t *ids = mem_realloc(t->ids, cap * sizeof(*ids));
        if (ids == NULL)
            return;
        t->ids = ids;
        t->cap = cap;
    }
    t->ids[t->count++] = id;
    tracked_items++;
}

static void free_tracked(void *elem) {
    struct tracked_key *t = elem;
    mem_free(t->ids);
    mem_free(t);
}

/* Redis 7.0 trackingRememberKeys: OPTIN tracks only after CACHING yes,
 * OPTOUT skips after CACHING no. */
static void remember_keys(struct client *c, const struct command *cmd, int argc, char **argv,
                          size_t *argvlen) {
    uint32_t f = c->tracking->flags;
    bool caching = f & TRACKING_CACHING;
    if (((f & TRACKING_OPTIN) && !caching) || ((f & TRACKING_OPTOUT) && caching))
        return;
    int small[16];
    int *pos = argc <= 16 ? small : malloc((size_t)argc * sizeof(int));
    if (pos == NULL)
        return;
    int n = command_key_positions(cmd, argc, pos, argc);
    for (int i = 0; i < n; i++)
        remember_key(c->id, argv[pos[i]], argvlen[pos[i]]);
    if (pos != small)
        free(pos);
}

void tracking_after_command(struct client *c, const struct command *cmd, int argc, char **argv,
                            size_t *argvlen) {
    struct tracking_state *ts = c->tracking;
    if (ts != NULL && (ts->flags & TRACKING_ON) && !(ts->flags & TRACKING_BCAST) &&
        (cmd->flags & CMD_READONLY))
        remember_keys(c, cmd, argc, argv, argvlen);
    pending_flush();
    /* Redis 7.0 resetClient: CACHING applies to the next command only,
     * unless that is another CLIENT command or we are inside MULTI. */
    bool is_client_cmd = cmd->parent != NULL && strcmp(cmd->parent->name, "client") == 0;
    if (ts != NULL && !is_client_cmd && !(c->flags & CLIENT_MULTI))
        ts->flags &= ~(uint32_t)TRACKING_CACHING;
}

/* ---- Broadcast mode ---- */

static void remember_for_broadcast(uint64_t writer, const char *key, size_t len) {
    struct dict_iter it;
    dict_iter_init(&it, &prefix_table);
    struct bcast_prefix *p;
    while ((p = dict_iter_next(&it)) != NULL) {
        if (p->len > len || memcmp(p->name, key, p->len) != 0)
            continue;
        struct changed_key *k = dict_find(&p->changed, key, len);
        if (k == NULL) {
            k = mem_alloc(sizeof(*k) + len + 1);
            if (k == NULL)
                continue;
            k->len = len;
            memcpy(k->key, key, len);
            if (dict_add(&p->changed, k) != 0) {
                mem_free(k);
                continue;
            }
        }
        k->writer = writer;
    }
    dict_iter_close(&it);
}

static void free_changed(void *elem) {
    mem_free(elem);
}

static void prefix_free(struct bcast_prefix *p) {
    dict_close(&p->changed, free_changed);
    mem_free(p->clients);
    mem_free(p);
}

static int by_changed_key(const void *a, const void *b) {
    const struct changed_key *x = *(struct changed_key *const *)a;
    const struct changed_key *y = *(struct changed_key *const *)b;
    return compare_bytes(x->key, x->len, y->key, y->len);
}

static int by_prefix_name(const void *a, const void *b) {
    const struct bcast_prefix *x = *(struct bcast_prefix *const *)a;
    const struct bcast_prefix *y = *(struct bcast_prefix *const *)b;
    return compare_bytes(x->name, x->len, y->name, y->len);
}

/* Sends prefix 'p's changed keys, sorted, to each of its clients; NOLOOP
 * clients do not hear of their own writes (and nothing when that leaves no
 * key). */
static void broadcast_prefix(struct bcast_prefix *p) {
    size_t nkeys = dict_size(&p->changed);
    struct changed_key **keys = mem_alloc(nkeys * sizeof(*keys));
    uint64_t *ids = mem_alloc((p->count ? p->count : 1) * sizeof(*ids));
    if (keys == NULL || ids == NULL)
        goto out;
    struct dict_iter it;
    dict_iter_init(&it, &p->changed);
    for (size_t i = 0; i < nkeys; i++)
        keys[i] = dict_iter_next(&it);
    dict_iter_close(&it);
    qsort(keys, nkeys, sizeof(*keys), by_changed_key);
    /* A copy: sending may close clients, which leave the prefix. */
    size_t nids = p->count;
    memcpy(ids, p->clients, nids * sizeof(*ids));
    for (size_t j = 0; j < nids; j++) {
        struct client *c = tracking_client_by_id(ids[j]);
        if (c == NULL || c->tracking == NULL)
            continue;
        bool noloop = c->tracking->flags & TRACKING_NOLOOP;
        struct resp_out enc;
        resp_out_init(&enc, c->out.proto);
        size_t token = resp_begin_deferred(&enc);
        long long sent = 0;
        for (size_t i = 0; i < nkeys; i++) {
            if (noloop && keys[i]->writer == c->id)
                continue;
            resp_add_bulk(&enc, keys[i]->key, keys[i]->len);
            sent++;
        }
        resp_end_deferred(&enc, token, '*', sent);
        if (sent > 0 && !enc.failed)
            send_invalidation(c, enc.buf, enc.len);
        resp_out_close(&enc);
    }
out:
    mem_free(keys);
    mem_free(ids);
    dict_close(&p->changed, free_changed);
    dict_init(&p->changed, &changed_type);
}

void tracking_broadcast(void) {
    pending_flush();
    if (!ready || dict_size(&prefix_table) == 0)
        return;
    size_t n = dict_size(&prefix_table);
    struct bcast_prefix **list = mem_alloc(n * sizeof(*list));
    if (list == NULL)
        return;
    struct dict_iter it;
    dict_iter_init(&it, &prefix_table);
    for (size_t i = 0; i < n; i++)
        list[i] = dict_iter_next(&it);
    dict_iter_close(&it);
    qsort(list, n, sizeof(*list), by_prefix_name);
    broadcasting = true;
    for (size_t i = 0; i < n; i++)
        if (dict_size(&list[i]->changed) > 0)
            broadcast_prefix(list[i]);
    broadcasting = false;
    /* Prefixes whose last client left during the broadcast. */
    for (size_t i = 0; i < n; i++) {
        if (list[i]->count == 0) {
            dict_remove(&prefix_table, list[i]->name, list[i]->len);
            prefix_free(list[i]);
        }
    }
    mem_free(list);
}

/* ---- Invalidation ---- */

void tracking_invalidate_key(struct exec_ctx *ctx, const char *key, size_t len) {
    if (!ready)
        return;
    struct client *writer = ctx->client;
    if (dict_size(&prefix_table) > 0)
        remember_for_broadcast(writer != NULL ? writer->id : 0, key, len);
    struct tracked_key *t = dict_remove(&tracked, key, len);
    if (t == NULL)
        return;
    for (size_t i = 0; i < t->count; i++) {
        struct client *c = tracking_client_by_id(t->ids[i]);
        if (c == NULL || !tracking_is_on(c) || (c->tracking->flags & TRACKING_BCAST))
            continue;
        if (c == writer) {
            if (!(c->tracking->flags & TRACKING_NOLOOP))
                pending_add(c, key, len);
            continue;
        }
        send_key(c, key, len);
    }
    tracked_items -= t->count;
    free_tracked(t);
}

void tracking_invalidate_all(struct exec_ctx *ctx) {
    if (!ready)
        return;
    if (tracking_clients > 0) {
        /* Ids first: sending may close clients (output limits). */
        size_t n = 0;
        uint64_t *ids = mem_alloc(tracking_clients * sizeof(*ids));
        if (ids != NULL) {
            struct dict_iter it;
            dict_iter_init(&it, &clients_by_id);
            struct client *c;
            while ((c = dict_iter_next(&it)) != NULL && n < tracking_clients)
                if (tracking_is_on(c))
                    ids[n++] = c->id;
            dict_iter_close(&it);
            for (size_t i = 0; i < n; i++) {
                c = tracking_client_by_id(ids[i]);
                if (c == NULL || !tracking_is_on(c))
                    continue;
                if (c == ctx->client)
                    pending_add(c, NULL, 0);
                else
                    send_key(c, NULL, 0);
            }
            mem_free(ids);
        }
    }
    /* Redis 7.0 reclaims the whole table on a flush. */
    dict_close(&tracked, free_tracked);
    dict_init(&tracked, &tracked_type);
    tracked_items = 0;
}

static void prefix_free_elem(void *elem) {
    prefix_free(elem);
}

void tracking_close(void) {
    if (!ready)
        return;
    for (size_t i = 0; i < pending_count; i++)
        mem_free(pending[i].key);
    mem_free(pending);
    pending = NULL;
    pending_count = pending_cap = 0;
    dict_close(&tracked, free_tracked);
    dict_close(&prefix_table, prefix_free_elem);
    dict_close(&clients_by_id, NULL);
    tracked_items = 0;
    ready = false;
}

void tracking_get_stats(struct tracking_stats *st) {
    st->clients = tracking_clients;
    st->keys = ready ? dict_size(&tracked) : 0;
    st->items = tracked_items;
    st->prefixes = ready ? dict_size(&prefix_table) : 0;
}

/* ---- Enabling ---- */

static bool prefixes_overlap(const char *a, size_t alen, const char *b, size_t blen) {
    return memcmp(a, b, alen < blen ? alen : blen) == 0;
}

/* Redis 7.0 checkPrefixCollisionsOrReply. */
static bool check_prefixes(struct exec_ctx *ctx, const struct tracking_state *ts, char **prefixes,
                           size_t *lens, size_t n) {
    for (size_t i = 0; i < n; i++) {
        for (size_t j = 0; ts != NULL && j < ts->prefix_count; j++) {
            const struct bcast_prefix *p = ts->prefixes[j];
            if (prefixes_overlap(p->name, p->len, prefixes[i], lens[i])) {
                resp_add_errorf(ctx->out,
                                "ERR Prefix '%.*s' overlaps with an existing prefix '%.*s'. "
                                "Prefixes for a single client must not overlap.",
                                (int)lens[i], prefixes[i], (int)p->len, p->name);
                return false;
            }
        }
        for (size_t j = i + 1; j < n; j++) {
            if (prefixes_overlap(prefixes[i], lens[i], prefixes[j], lens[j])) {
                resp_add_errorf(ctx->out,
                                "ERR Prefix '%.*s' overlaps with another provided prefix '%.*s'. "
                                "Prefixes for a single client must not overlap.",
                                (int)lens[i], prefixes[i], (int)lens[j], prefixes[j]);
                return false;
            }
        }
    }
    return true;
}

/* Redis 7.0 enableBcastTrackingForPrefix. */
static void join_prefix(struct client *c, const char *name, size_t len) {
    struct tracking_state *ts = c->tracking;
    struct bcast_prefix *p = dict_find(&prefix_table, name, len);
    if (p == NULL) {
        p = mem_calloc(sizeof(*p) + len + 1);
        if (p == NULL)
            return;
        p->len = len;
        memcpy(p->name, name, len);
        dict_init(&p->changed, &changed_type);
        if (dict_add(&prefix_table, p) != 0) {
            prefix_free(p);
            return;
        }
    }
    for (size_t i = 0; i < p->count; i++)
        if (p->clients[i] == c->id)
            return;
    if (p->count == p->cap) {
        size_t cap = p->cap ? p->cap * 2 : 4;
        uint64_t *ids = mem_realloc(p->clients, cap * sizeof(*ids));
        if (ids == NULL)
            return;
        p->clients = ids;
        p->cap = cap;
    }
    struct bcast_prefix **mine =
        mem_realloc(ts->prefixes, (ts->prefix_count + 1) * sizeof(*ts->prefixes));
    if (mine == NULL)
        return;
    ts->prefixes = mine;
    p->clients[p->count++] = c->id;
    /* Kept sorted: CLIENT TRACKINGINFO lists them in radix-tree order. */
    size_t at = ts->prefix_count;
    while (at > 0 && compare_bytes(mine[at - 1]->name, mine[at - 1]->len, name, len) > 0) {
        mine[at] = mine[at - 1];
        at--;
    }
    mine[at] = p;
    ts->prefix_count++;
}

static void leave_prefix(struct client *c, struct bcast_prefix *p) {
    for (size_t i = 0; i < p->count; i++) {
        if (p->clients[i] == c->id) {
            memmove(&p->clients[i], &p->clients[i + 1], (p->count - i - 1) * sizeof(uint64_t));
            p->count--;
            break;
        }
    }
    if (p->count == 0 && !broadcasting) {
        dict_remove(&prefix_table, p->name, p->len);
        prefix_free(p);
    }
}

bool tracking_enable(struct exec_ctx *ctx, uint64_t redirect, uint32_t options, char **prefixes,
                     size_t *prefix_lens, size_t prefix_count) {
    init_once();
    struct client *c = ctx->client;
    struct tracking_state *ts = c->tracking;
    uint32_t cur = ts != NULL ? ts->flags : 0;
    if ((cur & TRACKING_ON) && !!(cur & TRACKING_BCAST) != !!(options & TRACKING_BCAST)) {
        resp_add_error(ctx->out, "ERR You can't switch BCAST mode on/off before disabling "
                                 "tracking for this client, and then re-enabling it with a "
                                 "different mode.");
        return false;
    }
    if ((options & TRACKING_BCAST) && (options & (TRACKING_OPTIN | TRACKING_OPTOUT))) {
        resp_add_error(ctx->out, "ERR OPTIN and OPTOUT are not compatible with BCAST");
        return false;
    }
    if ((options & TRACKING_OPTIN) && (options & TRACKING_OPTOUT)) {
        resp_add_error(ctx->out, "ERR You can't specify both OPTIN mode and OPTOUT mode");
        return false;
    }
    if (((options & TRACKING_OPTIN) && (cur & TRACKING_OPTOUT)) ||
        ((options & TRACKING_OPTOUT) && (cur & TRACKING_OPTIN))) {
        resp_add_error(ctx->out, "ERR You can't switch OPTIN/OPTOUT mode before disabling "
                                 "tracking for this client, and then re-enabling it with a "
                                 "different mode.");
        return false;
    }
    if ((options & TRACKING_BCAST) && !check_prefixes(ctx, ts, prefixes, prefix_lens, prefix_count))
        return false;
    if (ts == NULL) {
        ts = mem_calloc(sizeof(*ts));
        if (ts == NULL) {
            resp_add_error(ctx->out, "OOM command not allowed when used memory > 'maxmemory'.");
            return false;
        }
        c->tracking = ts;
    }
    if (!(ts->flags & TRACKING_ON))
        tracking_clients++;
    /* Redis 7.0 enableTracking: CACHING survives, the rest is replaced. */
    ts->flags = (ts->flags & TRACKING_CACHING) | TRACKING_ON;
    ts->redirect = redirect;
    if (options & TRACKING_BCAST) {
        ts->flags |= TRACKING_BCAST;
        if (prefix_count == 0)
            join_prefix(c, "", 0);
        for (size_t i = 0; i < prefix_count; i++)
            join_prefix(c, prefixes[i], prefix_lens[i]);
    }
    ts->flags |= options & (TRACKING_OPTIN | TRACKING_OPTOUT | TRACKING_NOLOOP);
    return true;
}

void tracking_disable(struct client *c) {
    struct tracking_state *ts = c->tracking;
    if (ts == NULL)
        return;
    for (size_t i = 0; i < ts->prefix_count; i++)
        leave_prefix(c, ts->prefixes[i]);
    mem_free(ts->prefixes);
    ts->prefixes = NULL;
    ts->prefix_count = 0;
    if (ts->flags & TRACKING_ON)
        tracking_clients--;
    ts->flags = 0;
}

void tracking_set_caching(struct client *c, bool on) {
    if (c->tracking == NULL)
        return;
    if (on)
        c->tracking->flags |= TRACKING_CACHING;
    else
        c->tracking->flags &= ~(uint32_t)TRACKING_CACHING;
}
