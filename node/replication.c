/* Replication on Raft: REPLICAOF/SLAVEOF, ROLE, WAIT, the internal
 * KEYRAFT JOIN and KEYRAFT TRANSFER, and the INFO replication section.
 *
 * A replica is a member of its master's Raft group. REPLICAOF host port
 * replies +OK, then asks the master (KEYRAFT JOIN <member-id> <raft-addr>
 * on its client port) to add this node; once added, this node drops its
 * data and log and starts as an empty member, to which the leader sends the
 * log. The master is the group's leader; if it dies, the remaining members
 * elect a new one. Replication offsets are Raft indexes. In cluster mode
 * CLUSTER REPLICATE joins the same way (node/cluster_shard.c). */
#include "node/replication.h"

#include "node/client.h"
#include "node/cluster_handover.h"
#include "node/cluster_shard.h"
#include "node/cmd_handlers.h"
#include "node/config.h"
#include "node/exec.h"
#include "node/log.h"
#include "node/server.h"
#include "node/shard.h"
#include "raft/group.h"
#include "storage/object.h"

#include <inttypes.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#define MAX_MEMBERS   64
#define JOIN_RETRY_MS 1000
#define WAIT_POLL_MS  10

/* ---- The replica side: joining a master's group ---- */

static struct {
    char host[256];
    long long port;
    bool wanted;     /* REPLICAOF host port is in force */
    bool connecting; /* a join attempt is under way */
    bool joined;
    uv_tcp_t tcp;
    uv_connect_t connect;
    uv_write_t write;
    uv_timer_t retry;
    bool retry_ready;
    char request[256];
    char reply[256];
    size_t reply_len;
} join;

static void schedule_retry(void);

static void attempt_closed(uv_handle_t *handle) {
    (void)handle;
    join.connecting = false;
}

static void end_attempt(bool retry) {
    if (!uv_is_closing((uv_handle_t *)&join.tcp))
        uv_close((uv_handle_t *)&join.tcp, attempt_closed);
    if (retry)
        schedule_retry();
}

static void on_join_reply_alloc(uv_handle_t *h, size_t suggested, uv_buf_t *buf) {
    (void)h;
    (void)suggested;
    *buf = uv_buf_init(join.reply + join.reply_len,
                       (unsigned)(sizeof(join.reply) - 1 - join.reply_len));
}

static void on_join_reply(uv_stream_t *s, ssize_t n, const uv_buf_t *buf) {
    (void)s;
    (void)buf;
    if (n < 0) {
        end_attempt(true);
        return;
    }
    join.reply_len += (size_t)n;
    join.reply[join.reply_len] = '\0';
    char *eol = strstr(join.reply, "\r\n");
    if (eol == NULL && join.reply_len < sizeof(join.reply) - 1)
        return;
    if (eol != NULL)
        *eol = '\0';
    bool accepted = strcmp(join.reply, "+OK") == 0;
    end_attempt(!accepted);
    if (!accepted) {
        log_warning("MASTER %s:%lld refused this replica: %s", join.host, join.port, join.reply);
        return;
    }
    if (!join.wanted)
        return;
    log_notice("MASTER <-> REPLICA sync: joined the Raft group of %s:%lld", join.host, join.port);
    if (shard_become_joined_member() == 0)
        join.joined = true;
    cluster_shard_sync();
}

static void on_join_sent(uv_write_t *req, int status) {
    (void)req;
    if (status < 0) {
        end_attempt(true);
        return;
    }
    join.reply_len = 0;
    uv_read_start((uv_stream_t *)&join.tcp, on_join_reply_alloc, on_join_reply);
}

static void on_connected(uv_connect_t *req, int status) {
    (void)req;
    if (status < 0) {
        log_warning("Error condition on socket for SYNC: %s", uv_strerror(status));
        end_attempt(true);
        return;
    }
    char id[24];
    int idlen = snprintf(id, sizeof(id), "%" PRIu64, shard_member_id());
    const char *addr = shard_raft_address();
    int len = snprintf(join.request, sizeof(join.request),
                       "*4\r\n$7\r\nKEYRAFT\r\n$4\r\nJOIN\r\n$%d\r\n%s\r\n$%zu\r\n%s\r\n", idlen,
                       id, strlen(addr), addr);
    uv_buf_t buf = uv_buf_init(join.request, (unsigned)len);
    if (uv_write(&join.write, (uv_stream_t *)&join.tcp, &buf, 1, on_join_sent) != 0)
        end_attempt(true);
}

static void start_attempt(void) {
    if (join.connecting || join.joined || !join.wanted)
        return;
    struct sockaddr_in sa;
    if (uv_ip4_addr(join.host, (int)join.port, &sa) != 0) {
        log_warning("Can't resolve master address %s (an IPv4 address is needed)", join.host);
        return;
    }
    join.connecting = true;
    uv_tcp_init(server.loop, &join.tcp);
    log_notice("Connecting to MASTER %s:%lld", join.host, join.port);
    if (uv_tcp_connect(&join.connect, &join.tcp, (struct sockaddr *)&sa, on_connected) != 0)
        end_attempt(true);
}

static void on_retry(uv_timer_t *t) {
    (void)t;
    start_attempt();
}

static void schedule_retry(void) {
    if (!join.retry_ready) {
        uv_timer_init(server.loop, &join.retry);
        join.retry_ready = true;
    }
    if (join.wanted && !join.joined)
        uv_timer_start(&join.retry, on_retry, JOIN_RETRY_MS, 0);
}

void replication_join(const char *host, long long port) {
    snprintf(join.host, sizeof(join.host), "%s", host);
    join.port = port;
    join.wanted = true;
    join.joined = false;
    if (join.retry_ready)
        uv_timer_stop(&join.retry);
    shard_new_member_id(); /* the identity this node will have in that group */
    start_attempt();
}

void replication_cancel_join(void) {
    join.wanted = false;
    join.joined = false;
    if (join.retry_ready)
        uv_timer_stop(&join.retry);
}

bool replication_join_pending(void) {
    return join.wanted && !join.joined;
}

/* ---- Who is who ---- */

static size_t members(struct group_member_info *out) {
    struct group *g = shard_group();
    return g == NULL ? 0 : group_members(g, out, MAX_MEMBERS);
}

bool replication_is_replica(void) {
    struct group *g = shard_group();
    if (g != NULL)
        return !group_is_leader(g);
    return join.wanted; /* waiting to join: already a replica to clients */
}

/* The master's client address as this replica knows it. */
static bool master_address(char *ip, size_t iplen, long long *port, bool *link_up) {
    struct group *g = shard_group();
    const char *leader_addr = NULL;
    *link_up = g != NULL && group_leader(g, &leader_addr) != 0 && leader_addr != NULL;
    if (*link_up && shard_client_address(leader_addr, ip, iplen, port))
        return true;
    if (!join.wanted)
        return false;
    snprintf(ip, iplen, "%s", join.host);
    *port = join.port;
    return true;
}

static uint64_t offset(void) {
    struct group *g = shard_group();
    return g == NULL ? 0 : group_applied_index(g);
}

/* ---- REPLICAOF / SLAVEOF ---- */

void cmd_replicaof(struct exec_ctx *ctx) {
    if (cfg.cluster_enabled) {
        resp_add_error(ctx->out, "ERR REPLICAOF not allowed in cluster mode.");
        return;
    }
    if (exec_arg_is(ctx, 1, "no") && exec_arg_is(ctx, 2, "one")) {
        if (replication_is_replica()) {
            replication_cancel_join();
            shard_leave_group();
            log_notice("MASTER MODE enabled (user request from 'id=%llu')",
                       ctx->client ? (unsigned long long)ctx->client->id : 0ULL);
        }
        exec_reply_ok(ctx);
        return;
    }
    long long port;
    if (!exec_arg_ll(ctx, 2, &port))
        return;
    if (port < 0 || port > 65535) {
        resp_add_error(ctx->out, "ERR Invalid master port");
        return;
    }
    if (ctx->argvlen[1] >= sizeof(join.host)) {
        resp_add_error(ctx->out, "ERR Invalid master host");
        return;
    }
    if (join.wanted && port == join.port && strlen(join.host) == ctx->argvlen[1] &&
        memcmp(join.host, ctx->argv[1], ctx->argvlen[1]) == 0) {
        resp_add_status(ctx->out, "OK Already connected to specified master");
        return;
    }
    char host[sizeof(join.host)];
    memcpy(host, ctx->argv[1], ctx->argvlen[1]);
    host[ctx->argvlen[1]] = '\0';
    log_notice("REPLICAOF %s:%lld enabled", host, port);
    exec_reply_ok(ctx);
    replication_join(host, port);
}

void cmd_slaveof(struct exec_ctx *ctx) {
    cmd_replicaof(ctx);
}

/* ---- KEYRAFT JOIN (on the master) ---- */

struct pending_join {
    uint64_t client_id;
    uint64_t member_id;
    char address[256];
};

static struct client *client_by_id(uint64_t id) {
    for (struct client *c = server.clients; c != NULL; c = c->next)
        if (c->id == id)
            return c;
    return NULL;
}

static void on_member_added(void *arg, int status) {
    struct pending_join *pj = arg;
    struct client *c = client_by_id(pj->client_id);
    if (status == GROUP_OK)
        cluster_shard_sync(); /* the new member shows as a replica at once */
    if (c != NULL) {
        if (status == GROUP_OK)
            resp_add_raw(&c->out, "+OK\r\n", 5);
        else
            resp_add_errorf(&c->out, "ERR can't add the replica: %s", group_strerror(status));
        c->flags &= ~(uint32_t)CLIENT_BLOCKED;
        client_schedule_write(c);
        client_process_input(c);
    }
    if (status != GROUP_OK)
        free(pj);
}

static void on_member_promoted(void *arg, int status) {
    free(arg);
    if (status == GROUP_OK)
        log_notice("Replica promoted to a voting member of the Raft group");
    else
        log_warning("Replica could not become a voter: %s", group_strerror(status));
}

static bool is_member(uint64_t id) {
    struct group_member_info m[MAX_MEMBERS];
    size_t n = members(m);
    for (size_t i = 0; i < n && i < MAX_MEMBERS; i++)
        if (m[i].id == id)
            return true;
    return false;
}

/* A node that asks to join while its id is still in the configuration
 * (it left and comes back, or joined another group in between) has wiped
 * its log: it must not keep the vote of the member it was, so it is
 * removed first and added again as a new member. */
static void on_stale_member_removed(void *arg, int status) {
    struct pending_join *pj = arg;
    struct group *g = shard_group();
    int rc = status != GROUP_OK ? status
             : g == NULL        ? GROUP_ESHUTDOWN
                                : group_add_member(g, pj->member_id, pj->address, on_member_added,
                                                   on_member_promoted, pj);
    if (rc != GROUP_OK)
        on_member_added(pj, rc);
}

void cmd_keyraft_join(struct exec_ctx *ctx) {
    long long id;
    if (!obj_parse_ll(ctx->argv[2], ctx->argvlen[2], &id) || id <= 0) {
        resp_add_error(ctx->out, "ERR invalid member id");
        return;
    }
    char address[256];
    if (ctx->argvlen[3] == 0 || ctx->argvlen[3] >= sizeof(address)) {
        resp_add_error(ctx->out, "ERR invalid member address");
        return;
    }
    memcpy(address, ctx->argv[3], ctx->argvlen[3]);
    address[ctx->argvlen[3]] = '\0';
    if (replication_is_replica()) {
        resp_add_error(ctx->out, "READONLY You can't add a replica to a read only replica.");
        return;
    }
    if (shard_ensure_group() != 0) {
        resp_add_error(ctx->out, "ERR this master's data is not in a Raft log yet: start it with "
                                 "appendonly yes to take replicas");
        return;
    }
    struct pending_join *pj = malloc(sizeof(*pj));
    if (pj == NULL || ctx->client == NULL) {
        free(pj);
        resp_add_error(ctx->out, "ERR out of memory");
        return;
    }
    pj->client_id = ctx->client->id;
    pj->member_id = (uint64_t)id;
    memcpy(pj->address, address, sizeof(pj->address));
    int rc = is_member((uint64_t)id)
                 ? group_remove_member(shard_group(), (uint64_t)id, on_stale_member_removed, pj)
                 : group_add_member(shard_group(), (uint64_t)id, address, on_member_added,
                                    on_member_promoted, pj);
    if (rc != GROUP_OK) {
        free(pj);
        resp_add_errorf(ctx->out, "ERR can't add the replica: %s", group_strerror(rc));
        return;
    }
    ctx->client->flags |= CLIENT_BLOCKED; /* answered when the member is added */
    log_notice("Replica %s (member %lld) asks to join the Raft group", address, id);
}

/* ---- KEYRAFT TRANSFER (on the leader) ---- */

/* KEYRAFT TRANSFER <member-id>: a replica asks the leader to hand it
 * leadership (CLUSTER FAILOVER). Replies once the hand-over started
 * (node/cluster_handover.h: writes are held until the new leader is known). */
void cmd_keyraft_transfer(struct exec_ctx *ctx) {
    long long id;
    if (!obj_parse_ll(ctx->argv[2], ctx->argvlen[2], &id) || id <= 0) {
        resp_add_error(ctx->out, "ERR invalid member id");
        return;
    }
    char err[128];
    if (cluster_handover_start((uint64_t)id, err, sizeof(err)) != 0) {
        resp_add_errorf(ctx->out, "ERR %s", err);
        return;
    }
    log_notice("Manual failover: handing leadership to member %lld", id);
    exec_reply_ok(ctx);
}

/* ---- ROLE ---- */

void cmd_role(struct exec_ctx *ctx) {
    char ip[256];
    long long port;
    bool link_up;
    if (replication_is_replica() && master_address(ip, sizeof(ip), &port, &link_up)) {
        resp_add_array(ctx->out, 5);
        resp_add_bulk_cstr(ctx->out, "slave");
        resp_add_bulk_cstr(ctx->out, ip);
        resp_add_int(ctx->out, port);
        resp_add_bulk_cstr(ctx->out, link_up ? "connected" : "connect");
        resp_add_int(ctx->out, (long long)offset());
        return;
    }
    struct group_member_info m[MAX_MEMBERS];
    size_t n = members(m);
    uint64_t self = shard_member_id();
    resp_add_array(ctx->out, 3);
    resp_add_bulk_cstr(ctx->out, "master");
    resp_add_int(ctx->out, (long long)offset());
    size_t token = resp_begin_deferred(ctx->out);
    long long count = 0;
    for (size_t i = 0; i < n && i < MAX_MEMBERS; i++) {
        if (m[i].id == self || !shard_client_address(m[i].address, ip, sizeof(ip), &port))
            continue;
        resp_add_array(ctx->out, 3);
        resp_add_bulk_cstr(ctx->out, ip);
        resp_add_bulk_ll(ctx->out, port);
        resp_add_bulk_ll(ctx->out, (long long)m[i].match_index);
        count++;
    }
    resp_end_deferred(ctx->out, token, '*', count);
}

/* ---- WAIT ---- */

struct waiter {
    struct client *client;
    long long wanted;
    uint64_t index;      /* the client's last write */
    int64_t deadline_ms; /* 0 = never */
    struct waiter *next;
};

static struct waiter *waiters;
static uv_timer_t wait_timer;
static bool wait_timer_ready;

/* Replicas (members other than this one) that have 'index' in their log. */
static long long acknowledged(uint64_t index) {
    struct group_member_info m[MAX_MEMBERS];
    size_t n = members(m);
    uint64_t self = shard_member_id();
    long long count = 0;
    for (size_t i = 0; i < n && i < MAX_MEMBERS; i++)
        if (m[i].id != self && m[i].match_index >= index)
            count++;
    return count;
}

static void finish_waiter(struct waiter *w, long long count) {
    struct client *c = w->client;
    resp_add_int(&c->out, count);
    c->flags &= ~(uint32_t)CLIENT_BLOCKED;
    client_schedule_write(c);
    client_process_input(c);
}

static void poll_waiters(uv_timer_t *t) {
    (void)t;
    int64_t now = server_now_ms();
    struct waiter **link = &waiters;
    while (*link != NULL) {
        struct waiter *w = *link;
        long long count = acknowledged(w->index);
        if (count >= w->wanted || (w->deadline_ms && now >= w->deadline_ms)) {
            *link = w->next;
            finish_waiter(w, count);
            free(w);
        } else {
            link = &w->next;
        }
    }
    if (waiters == NULL)
        uv_timer_stop(&wait_timer);
}

void cmd_wait(struct exec_ctx *ctx) {
    long long wanted, timeout;
    if (!exec_arg_ll(ctx, 1, &wanted))
        return;
    if (!obj_parse_ll(ctx->argv[2], ctx->argvlen[2], &timeout)) {
        resp_add_error(ctx->out, "ERR timeout is not an integer or out of range");
        return;
    }
    if (timeout < 0) {
        resp_add_error(ctx->out, "ERR timeout is negative");
        return;
    }
    if (replication_is_replica()) {
        resp_add_error(ctx->out, "ERR WAIT cannot be used with replica instances. Please also "
                                 "note that since Redis 4.0 if a replica is configured to be "
                                 "writable (which is not the default) writes to replicas are just "
                                 "local and are not propagated.");
        return;
    }
    uint64_t index = ctx->client ? ctx->client->last_write_index : 0;
    long long count = acknowledged(index);
    if (count >= wanted || ctx->client == NULL || (ctx->client->flags & CLIENT_MULTI)) {
        resp_add_int(ctx->out, count);
        return;
    }
    struct waiter *w = malloc(sizeof(*w));
    if (w == NULL) {
        resp_add_int(ctx->out, count);
        return;
    }
    w->client = ctx->client;
    w->wanted = wanted;
    w->index = index;
    w->deadline_ms = timeout ? server_now_ms() + timeout : 0;
    w->next = waiters;
    waiters = w;
    ctx->client->flags |= CLIENT_BLOCKED;
    if (!wait_timer_ready) {
        uv_timer_init(server.loop, &wait_timer);
        wait_timer_ready = true;
    }
    uv_timer_start(&wait_timer, poll_waiters, WAIT_POLL_MS, WAIT_POLL_MS);
}

void replication_client_closed(struct client *c) {
    struct waiter **link = &waiters;
    while (*link != NULL) {
        struct waiter *w = *link;
        if (w->client == c) {
            *link = w->next;
            free(w);
        } else {
            link = &w->next;
        }
    }
}

/* ---- INFO replication ---- */

size_t replication_info(char *buf, size_t len, const char *replid) {
    size_t n = 0;
#define OUT(...) n += (size_t)snprintf(buf + n, n < len ? len - n : 0, __VA_ARGS__)
    char ip[256];
    long long port;
    bool link_up;
    uint64_t off = offset();
    if (replication_is_replica() && master_address(ip, sizeof(ip), &port, &link_up)) {
        OUT("role:slave\r\nmaster_host:%s\r\nmaster_port:%lld\r\nmaster_link_status:%s\r\n"
            "master_last_io_seconds_ago:%d\r\nmaster_sync_in_progress:0\r\n"
            "slave_read_repl_offset:%" PRIu64 "\r\nslave_repl_offset:%" PRIu64 "\r\n"
            "slave_priority:100\r\nslave_read_only:1\r\nreplica_announced:1\r\n"
            "connected_slaves:0\r\n",
            ip, port, link_up ? "up" : "down", link_up ? 0 : -1, off, off);
    } else {
        struct group_member_info m[MAX_MEMBERS];
        size_t count = members(m);
        uint64_t self = shard_member_id();
        size_t replicas = 0;
        for (size_t i = 0; i < count && i < MAX_MEMBERS; i++)
            replicas += m[i].id != self;
        OUT("role:master\r\nconnected_slaves:%zu\r\n", replicas);
        size_t k = 0;
        for (size_t i = 0; i < count && i < MAX_MEMBERS; i++) {
            if (m[i].id == self || !shard_client_address(m[i].address, ip, sizeof(ip), &port))
                continue;
            OUT("slave%zu:ip=%s,port=%lld,state=%s,offset=%" PRIu64 ",lag=0\r\n", k++, ip, port,
                m[i].role == GROUP_ROLE_VOTER ? "online" : "wait_bgsave", m[i].match_index);
        }
    }
    OUT("master_failover_state:no-failover\r\nmaster_replid:%s\r\n"
        "master_replid2:0000000000000000000000000000000000000000\r\n"
        "master_repl_offset:%" PRIu64 "\r\nsecond_repl_offset:-1\r\n",
        replid, off);
#undef OUT
    return n < len ? n : len - 1;
}
