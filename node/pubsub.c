/* Pub/Sub state and delivery (see pubsub.h): the server-wide tables of
 * channels, patterns and shard channels with their subscribers, each
 * client's own subscriptions, the confirmations Redis 7.0 writes for
 * (un)subscribing, and the fan-out of a published message with the pubsub
 * output buffer limit. The commands themselves are in cmd_pubsub.c. */
#include "node/pubsub.h"

#include "node/client.h"
#include "node/cmd_handlers.h"
#include "node/command.h"
#include "node/log.h"
#include "node/outlimit.h"
#include "node/server.h"
#include "storage/dict.h"
#include "storage/glob.h"
#include "storage/mem.h"

#include <string.h>

/* A channel, pattern or shard channel with at least one subscriber. */
struct topic {
    struct client **subs; /* in subscription order */
    size_t count, cap;
    size_t len;
    char name[];
};

/* A client's subscriptions. Channels and shard channels are sets of the
 * server-wide topics; patterns keep subscription order, as Redis 7.0's
 * list does (PUNSUBSCRIBE without arguments answers in that order). */
struct pubsub_state {
    struct dict channels;
    struct dict shard_channels;
    struct topic **patterns;
    size_t pattern_count, pattern_cap;
    int64_t soft_limit_since_s; /* outlimit.h */
};

static const char *topic_key(const void *elem, size_t *len) {
    const struct topic *t = elem;
    *len = t->len;
    return t->name;
}

static const struct dict_type topic_type = {.key_of = topic_key};

static struct dict tables[PUBSUB_KINDS];
static bool tables_ready;

static struct dict *table(enum pubsub_kind kind) {
    if (!tables_ready) {
        for (int k = 0; k < PUBSUB_KINDS; k++)
            dict_init(&tables[k], &topic_type);
        tables_ready = true;
    }
    return &tables[kind];
}

/* ---- Replies ---- */

static const char *const sub_names[PUBSUB_KINDS] = {"subscribe", "psubscribe", "ssubscribe"};
static const char *const unsub_names[PUBSUB_KINDS] = {"unsubscribe", "punsubscribe",
                                                      "sunsubscribe"};

size_t pubsub_client_count(const struct client *c, enum pubsub_kind kind) {
    const struct pubsub_state *ps = c->pubsub;
    if (ps == NULL)
        return 0;
    switch (kind) {
    case PUBSUB_CHANNEL:
        return dict_size(&ps->channels);
    case PUBSUB_PATTERN:
        return ps->pattern_count;
    case PUBSUB_SHARD:
        return dict_size(&ps->shard_channels);
    case PUBSUB_KINDS:
        break;
    }
    return 0;
}

/* Redis 7.0: the count in a (un)subscribe confirmation is channels plus
 * patterns, or shard channels alone for the shard commands. */
static long long reply_count(const struct client *c, enum pubsub_kind kind) {
    if (kind == PUBSUB_SHARD)
        return (long long)pubsub_client_count(c, PUBSUB_SHARD);
    return (long long)(pubsub_client_count(c, PUBSUB_CHANNEL) +
                       pubsub_client_count(c, PUBSUB_PATTERN));
}

/* An out-of-band reply: a push in RESP3, an array in RESP2. */
static void reply_confirmation(struct resp_out *out, const char *what, const char *name, size_t len,
                               long long count) {
    resp_add_push(out, 3);
    resp_add_bulk_cstr(out, what);
    if (name != NULL)
        resp_add_bulk(out, name, len);
    else
        resp_add_null(out);
    resp_add_int(out, count);
}

/* ---- Subscribing ---- */

static struct pubsub_state *state_of(struct client *c) {
    if (c->pubsub == NULL) {
        struct pubsub_state *ps = mem_calloc(sizeof(*ps));
        if (ps == NULL)
            return NULL;
        dict_init(&ps->channels, &topic_type);
        dict_init(&ps->shard_channels, &topic_type);
        c->pubsub = ps;
    }
    return c->pubsub;
}

static struct dict *client_set(struct pubsub_state *ps, enum pubsub_kind kind) {
    return kind == PUBSUB_SHARD ? &ps->shard_channels : &ps->channels;
}

static bool client_has(struct pubsub_state *ps, enum pubsub_kind kind, const char *name,
                       size_t len) {
    if (kind != PUBSUB_PATTERN)
        return dict_find(client_set(ps, kind), name, len) != NULL;
    for (size_t i = 0; i < ps->pattern_count; i++)
        if (ps->patterns[i]->len == len && memcmp(ps->patterns[i]->name, name, len) == 0)
            return true;
    return false;
}

/* The server-wide topic 'name', created if absent; NULL when out of memory. */
static struct topic *topic_get(enum pubsub_kind kind, const char *name, size_t len) {
    struct dict *d = table(kind);
    struct topic *t = dict_find(d, name, len);
    if (t != NULL)
        return t;
    t = mem_calloc(sizeof(*t) + len + 1);
    if (t == NULL)
        return NULL;
    t->len = len;
    memcpy(t->name, name, len);
    if (dict_add(d, t) != 0) {
        mem_free(t);
        return NULL;
    }
    return t;
}

static void topic_drop_if_empty(enum pubsub_kind kind, struct topic *t) {
    if (t->count > 0)
        return;
    dict_remove(table(kind), t->name, t->len);
    mem_free(t->subs);
    mem_free(t);
}

static bool topic_add_sub(struct topic *t, struct client *c) {
    if (t->count == t->cap) {
        size_t cap = t->cap ? t->cap * 2 : 4;
        struct client **subs = mem_realloc(t->subs, cap * sizeof(*subs));
        if (subs == NULL)
            return false;
        t->subs = subs;
        t->cap = cap;
    }
    t->subs[t->count++] = c;
    return true;
}

static void topic_remove_sub(struct topic *t, struct client *c) {
    for (size_t i = 0; i < t->count; i++) {
        if (t->subs[i] == c) {
            memmove(&t->subs[i], &t->subs[i + 1], (t->count - i - 1) * sizeof(*t->subs));
            t->count--;
            return;
        }
    }
}

static bool client_add(struct pubsub_state *ps, enum pubsub_kind kind, struct topic *t) {
    if (kind != PUBSUB_PATTERN)
        return dict_add(client_set(ps, kind), t) == 0;
    if (ps->pattern_count == ps->pattern_cap) {
        size_t cap = ps->pattern_cap ? ps->pattern_cap * 2 : 4;
        struct topic **p = mem_realloc(ps->patterns, cap * sizeof(*p));
        if (p == NULL)
            return false;
        ps->patterns = p;
        ps->pattern_cap = cap;
    }
    ps->patterns[ps->pattern_count++] = t;
    return true;
}

bool pubsub_subscribe(struct client *c, enum pubsub_kind kind, const char *name, size_t len,
                      struct resp_out *out) {
    struct pubsub_state *ps = state_of(c);
    if (ps == NULL)
        goto err_oom;
    if (!client_has(ps, kind, name, len)) {
        struct topic *t = topic_get(kind, name, len);
        if (t == NULL)
            goto err_oom;
        if (!topic_add_sub(t, c)) {
            topic_drop_if_empty(kind, t);
            goto err_oom;
        }
        if (!client_add(ps, kind, t)) {
            topic_remove_sub(t, c);
            topic_drop_if_empty(kind, t);
            goto err_oom;
        }
    }
    c->flags |= CLIENT_PUBSUB;
    reply_confirmation(out, sub_names[kind], name, len, reply_count(c, kind));
    return true;
err_oom:
    resp_add_error(out, "OOM command not allowed when used memory > 'maxmemory'.");
    return false;
}

/* Removes 'c' from topic 't' of 'kind' on both sides; 't' may be freed. */
static void drop_subscription(struct client *c, enum pubsub_kind kind, struct topic *t) {
    struct pubsub_state *ps = c->pubsub;
    if (kind != PUBSUB_PATTERN) {
        dict_remove(client_set(ps, kind), t->name, t->len);
    } else {
        for (size_t i = 0; i < ps->pattern_count; i++) {
            if (ps->patterns[i] == t) {
                memmove(&ps->patterns[i], &ps->patterns[i + 1],
                        (ps->pattern_count - i - 1) * sizeof(*ps->patterns));
                ps->pattern_count--;
                break;
            }
        }
    }
    topic_remove_sub(t, c);
    topic_drop_if_empty(kind, t);
}

void pubsub_unsubscribe(struct client *c, enum pubsub_kind kind, const char *name, size_t len,
                        struct resp_out *out) {
    struct pubsub_state *ps = c->pubsub;
    if (ps != NULL && client_has(ps, kind, name, len))
        drop_subscription(c, kind, dict_find(table(kind), name, len));
    reply_confirmation(out, unsub_names[kind], name, len, reply_count(c, kind));
}

void pubsub_unsubscribe_all(struct client *c, enum pubsub_kind kind, struct resp_out *out) {
    struct pubsub_state *ps = c->pubsub;
    size_t before = pubsub_client_count(c, kind);
    for (size_t left = before; left > 0; left--) {
        struct topic *t;
        if (kind == PUBSUB_PATTERN) {
            t = ps->patterns[0];
        } else {
            struct dict_iter it;
            dict_iter_init(&it, client_set(ps, kind));
            t = dict_iter_next(&it);
            dict_iter_close(&it);
        }
        /* The name lives in 't', which the drop may free: reply first, with
         * the count the client will have afterwards. */
        if (out != NULL)
            reply_confirmation(out, unsub_names[kind], t->name, t->len, reply_count(c, kind) - 1);
        drop_subscription(c, kind, t);
    }
    if (out != NULL && before == 0)
        reply_confirmation(out, unsub_names[kind], NULL, 0, reply_count(c, kind));
}

void pubsub_update_flag(struct client *c) {
    /* Redis 7.0.15 keeps the flag while any kind of subscription is left. */
    if (pubsub_client_count(c, PUBSUB_CHANNEL) + pubsub_client_count(c, PUBSUB_PATTERN) +
            pubsub_client_count(c, PUBSUB_SHARD) ==
        0)
        c->flags &= ~(uint32_t)CLIENT_PUBSUB;
}

void pubsub_client_reset(struct client *c) {
    struct pubsub_state *ps = c->pubsub;
    if (ps == NULL)
        return;
    for (int k = 0; k < PUBSUB_KINDS; k++)
        pubsub_unsubscribe_all(c, (enum pubsub_kind)k, NULL);
    dict_close(&ps->channels, NULL);
    dict_close(&ps->shard_channels, NULL);
    mem_free(ps->patterns);
    mem_free(ps);
    c->pubsub = NULL;
    c->flags &= ~(uint32_t)CLIENT_PUBSUB;
}

/* ---- Delivery ---- */

/* Clients that passed their output limit during one delivery; they are
 * closed once it is over, so no subscriber list changes while it runs.
 * 'now_ms' is read once per delivery, not once per subscriber. */
struct overflow {
    struct client *small[8];
    struct client **list;
    size_t count, cap;
    int64_t now_ms;
};

static void overflow_add(struct overflow *o, struct client *c) {
    for (size_t i = 0; i < o->count; i++)
        if (o->list[i] == c)
            return;
    if (o->count == o->cap) {
        size_t cap = o->cap * 2;
        struct client **l = mem_alloc(cap * sizeof(*l));
        if (l == NULL)
            return; /* it will be caught by the next message */
        memcpy(l, o->list, o->count * sizeof(*l));
        if (o->list != o->small)
            mem_free(o->list);
        o->list = l;
        o->cap = cap;
    }
    o->list[o->count++] = c;
}

static void overflow_close_all(struct overflow *o) {
    for (size_t i = 0; i < o->count; i++) {
        struct client *c = o->list[i];
        log_warning("Client id=%llu addr=%s scheduled to be closed ASAP for overcoming of output "
                    "buffer limits.",
                    (unsigned long long)c->id, c->addr);
        client_close(c);
    }
    if (o->list != o->small)
        mem_free(o->list);
}

/* Schedules the write and records 'c' in 'o' if it is over its limit. */
static void after_append(struct client *c, struct overflow *o) {
    client_schedule_write(c);
    int64_t unused = 0;
    int64_t *since = c->pubsub != NULL ? &c->pubsub->soft_limit_since_s : &unused;
    enum outlimit_class cls = (c->flags & CLIENT_PUBSUB) ? OUTLIMIT_PUBSUB : OUTLIMIT_NORMAL;
    if (outlimit_reached(cls, outlimit_pending_bytes(c), o->now_ms, since))
        overflow_add(o, c);
}

static void write_message(struct client *c, const char *kind, const struct topic *pattern,
                          const char *channel, size_t chlen, const char *msg, size_t msglen) {
    resp_add_push(&c->out, pattern != NULL ? 4 : 3);
    resp_add_bulk_cstr(&c->out, kind);
    if (pattern != NULL)
        resp_add_bulk(&c->out, pattern->name, pattern->len);
    resp_add_bulk(&c->out, channel, chlen);
    resp_add_bulk(&c->out, msg, msglen);
}

static long long deliver(enum pubsub_kind kind, const char *channel, size_t chlen, const char *msg,
                         size_t msglen) {
    struct overflow o = {.cap = 8, .now_ms = server_now_ms()};
    o.list = o.small;
    long long receivers = 0;
    struct topic *t = dict_find(table(kind), channel, chlen);
    const char *what = kind == PUBSUB_SHARD ? "smessage" : "message";
    if (t != NULL) {
        for (size_t i = 0; i < t->count; i++) {
            struct client *c = t->subs[i];
            if (c->flags & CLIENT_CLOSING)
                continue;
            write_message(c, what, NULL, channel, chlen, msg, msglen);
            after_append(c, &o);
            receivers++;
        }
    }
    if (kind == PUBSUB_CHANNEL && dict_size(table(PUBSUB_PATTERN)) > 0) {
        struct dict_iter it;
        dict_iter_init(&it, table(PUBSUB_PATTERN));
        struct topic *p;
        while ((p = dict_iter_next(&it)) != NULL) {
            if (!glob_match(p->name, p->len, channel, chlen, false))
                continue;
            for (size_t i = 0; i < p->count; i++) {
                struct client *c = p->subs[i];
                if (c->flags & CLIENT_CLOSING)
                    continue;
                write_message(c, "pmessage", p, channel, chlen, msg, msglen);
                after_append(c, &o);
                receivers++;
            }
        }
        dict_iter_close(&it);
    }
    overflow_close_all(&o);
    return receivers;
}

long long pubsub_publish(const char *channel, size_t chlen, const char *msg, size_t msglen) {
    return deliver(PUBSUB_CHANNEL, channel, chlen, msg, msglen);
}

long long pubsub_publish_shard(const char *channel, size_t chlen, const char *msg, size_t msglen) {
    return deliver(PUBSUB_SHARD, channel, chlen, msg, msglen);
}

void pubsub_deliver_raw(struct client *c, const char *channel, size_t chlen, const char *payload,
                        size_t payload_len) {
    struct overflow o = {.cap = 8, .now_ms = server_now_ms()};
    o.list = o.small;
    resp_add_push(&c->out, 3);
    resp_add_bulk_cstr(&c->out, "message");
    resp_add_bulk(&c->out, channel, chlen);
    resp_add_raw(&c->out, payload, payload_len);
    after_append(c, &o);
    overflow_close_all(&o);
}

/* ---- Introspection ---- */

size_t pubsub_total(enum pubsub_kind kind) {
    return dict_size(table(kind));
}

void pubsub_each(enum pubsub_kind kind, const char *pattern, size_t plen,
                 void (*fn)(const char *name, size_t len, void *arg), void *arg) {
    struct dict_iter it;
    dict_iter_init(&it, table(kind));
    struct topic *t;
    while ((t = dict_iter_next(&it)) != NULL)
        if (pattern == NULL || glob_match(pattern, plen, t->name, t->len, false))
            fn(t->name, t->len, arg);
    dict_iter_close(&it);
}

size_t pubsub_subscriber_count(enum pubsub_kind kind, const char *name, size_t len) {
    struct topic *t = dict_find(table(kind), name, len);
    return t != NULL ? t->count : 0;
}

bool pubsub_allows(const struct client *c, const struct command *cmd) {
    if (!(c->flags & CLIENT_PUBSUB) || c->out.proto != 2)
        return true;
    cmd_handler_fn h = cmd->handler;
    return h == cmd_ping || h == cmd_subscribe || h == cmd_ssubscribe || h == cmd_unsubscribe ||
           h == cmd_sunsubscribe || h == cmd_psubscribe || h == cmd_punsubscribe || h == cmd_quit ||
           h == cmd_reset;
}
