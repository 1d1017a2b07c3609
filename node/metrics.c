/* The Prometheus endpoint (see metrics.h): a listener on metrics-port, a
 * fixed table of connections, a minimal HTTP/1.x request reader that only
 * looks at the request line, and the page of figures. It does not keep
 * connections alive, read request bodies or support TLS; it never logs per
 * request. Slots are static, so the loop's shutdown walk (server_close) can
 * close every handle without leaking. */
#include "node/metrics.h"

#include <inttypes.h>
#include <stdarg.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <uv.h>

#include "cluster/nodes.h"
#include "node/cluster_mode.h"
#include "node/config.h"
#include "node/info.h"
#include "node/log.h"
#include "node/raft_info.h"
#include "node/server.h"
#include "storage/keyspace.h"

#define METRICS_MAX_CONNS   16
#define METRICS_REQUEST_MAX 4096 /* request line and headers */
#define METRICS_IDLE_MS     5000 /* a connection that sends no request is closed */
#define METRICS_PAGE_MAX    16384

struct metrics_conn {
    uv_tcp_t tcp;
    uv_timer_t idle;
    uv_write_t write;
    bool in_use;
    bool answered; /* a response is queued: further input is ignored */
    int open_handles;
    size_t len;
    char request[METRICS_REQUEST_MAX];
    char *response; /* malloc'd; freed by the write callback */
};

static uv_tcp_t listener;
static struct metrics_conn conns[METRICS_MAX_CONNS];

/* ---- The page ---- */

struct page {
    char *buf;
    size_t len; /* what was needed so far */
    size_t cap;
};

static void page_printf(struct page *p, const char *fmt, ...) __attribute__((format(printf, 2, 3)));

static void page_printf(struct page *p, const char *fmt, ...) {
    va_list ap;
    va_start(ap, fmt);
    size_t room = p->len < p->cap ? p->cap - p->len : 0;
    int n = vsnprintf(room ? p->buf + p->len : NULL, room, fmt, ap);
    va_end(ap);
    if (n > 0)
        p->len += (size_t)n;
}

/* One metric without labels, with its HELP and TYPE lines. */
static void metric(struct page *p, const char *name, const char *type, const char *help,
                   uint64_t value) {
    page_printf(p, "# HELP %s %s\n# TYPE %s %s\n%s %" PRIu64 "\n", name, help, name, type, name,
                value);
}

static void metric_seconds(struct page *p, const char *name, const char *type, const char *help,
                           uint64_t us) {
    page_printf(p, "# HELP %s %s\n# TYPE %s %s\n%s %.6f\n", name, help, name, type, name,
                (double)us / 1e6);
}

size_t metrics_render(char *buf, size_t len) {
    struct page p = {buf, 0, len};
    if (len > 0)
        buf[0] = '\0';
    int64_t now_ms = server_now_ms();
    metric(&p, "keyraft_uptime_seconds", "gauge", "Seconds since the server started.",
           (uint64_t)((now_ms - server.start_ms) / 1000));
    metric(&p, "keyraft_connected_clients", "gauge", "Client connections (INFO connected_clients).",
           server.client_count);
    struct info_memory mem;
    info_memory(&mem);
    metric(&p, "keyraft_used_memory_bytes", "gauge",
           "Memory used for data and clients (INFO used_memory).", mem.used);
    metric(&p, "keyraft_commands_processed_total", "counter",
           "Commands processed (INFO total_commands_processed).", server.stats.commands_processed);
    metric(&p, "keyraft_connections_received_total", "counter",
           "Connections accepted (INFO total_connections_received).",
           server.stats.connections_received);
    page_printf(&p, "# HELP keyraft_db_keys Keys per database (INFO keyspace).\n"
                    "# TYPE keyraft_db_keys gauge\n");
    for (long long i = 0; i < cfg.databases; i++) {
        struct keyspace *ks = server_db_if_exists((int)i);
        if (ks != NULL && keyspace_size(ks) > 0)
            page_printf(&p, "keyraft_db_keys{db=\"%lld\"} %zu\n", i, keyspace_size(ks));
    }
    metric(&p, "keyraft_cluster_enabled", "gauge", "1 in cluster mode.", cfg.cluster_enabled);
    struct cluster_state *cs = cluster_mode_state();
    if (cs != NULL)
        metric(&p, "keyraft_cluster_state_ok", "gauge",
               "1 when CLUSTER INFO says cluster_state:ok.", cs->state_ok);

    struct raft_info r;
    raft_info_collect(&r);
    metric(&p, "keyraft_raft_enabled", "gauge", "1 when writes go through a Raft group.",
           r.enabled);
    page_printf(&p,
                "# HELP keyraft_raft_role This member's Raft role (the label).\n"
                "# TYPE keyraft_raft_role gauge\nkeyraft_raft_role{role=\"%s\"} 1\n",
                r.role);
    metric(&p, "keyraft_raft_is_leader", "gauge", "1 on the group's leader (the shard's master).",
           strcmp(r.role, "leader") == 0);
    metric(&p, "keyraft_raft_term", "gauge", "Current Raft term.", r.term);
    /* Member ids use 60 bits: as labels, since a sample value (a double)
     * would round them. */
    page_printf(&p,
                "# HELP keyraft_raft_leader_info This member and the leader it knows (0: "
                "unknown).\n# TYPE keyraft_raft_leader_info gauge\n"
                "keyraft_raft_leader_info{member_id=\"%" PRIu64 "\",leader_id=\"%" PRIu64
                "\",leader_addr=\"%s\"} 1\n",
                r.member_id, r.leader_id, r.leader_address);
    metric(&p, "keyraft_raft_commit_index", "gauge", "Highest log index known committed.",
           r.commit_index);
    metric(&p, "keyraft_raft_applied_index", "gauge", "Highest log index applied here.",
           r.applied_index);
    metric(&p, "keyraft_raft_last_log_index", "gauge", "Index of the last entry in the log.",
           r.last_log_index);
    metric(&p, "keyraft_raft_snapshot_index", "gauge", "Index of the last snapshot (0: none).",
           r.snapshot_index);
    metric(&p, "keyraft_raft_members", "gauge", "Members in the group's configuration.", r.members);
    metric(&p, "keyraft_raft_voters", "gauge", "Voting members in the configuration.", r.voters);
    metric(&p, "keyraft_raft_fsync_total", "counter", "Durable log appends (write + fsync).",
           r.appends.count);
    metric_seconds(&p, "keyraft_raft_fsync_seconds_total", "counter",
                   "Time spent in durable log appends.", r.appends.total_us);
    metric_seconds(&p, "keyraft_raft_fsync_last_seconds", "gauge",
                   "Duration of the last durable log append.", r.appends.last_us);
    metric_seconds(&p, "keyraft_raft_fsync_max_seconds", "gauge",
                   "Longest durable log append since start.", r.appends.max_us);
    return p.len;
}

/* ---- Connections ---- */

static void handle_closed(uv_handle_t *handle) {
    struct metrics_conn *c = handle->data;
    if (--c->open_handles == 0)
        c->in_use = false;
}

static void conn_close(struct metrics_conn *c) {
    if (!uv_is_closing((uv_handle_t *)&c->tcp))
        uv_close((uv_handle_t *)&c->tcp, handle_closed);
    if (!uv_is_closing((uv_handle_t *)&c->idle))
        uv_close((uv_handle_t *)&c->idle, handle_closed);
}

static void written(uv_write_t *req, int status) {
    (void)status; /* the connection ends either way */
    struct metrics_conn *c = req->data;
    free(c->response);
    c->response = NULL;
    conn_close(c);
}

/* Queues 'status' ("200 OK") with 'body' ('body_len' bytes; omitted for
 * HEAD) and closes the connection once it is written. */
static void respond(struct metrics_conn *c, const char *status, const char *type, const char *body,
                    size_t body_len, bool with_body) {
    char head[256];
    int n = snprintf(head, sizeof(head),
                     "HTTP/1.1 %s\r\nContent-Type: %s\r\nContent-Length: %zu\r\n"
                     "Connection: close\r\n\r\n",
                     status, type, body_len);
    size_t total = (size_t)n + (with_body ? body_len : 0);
    c->response = malloc(total);
    if (c->response == NULL) {
        conn_close(c);
        return;
    }
    memcpy(c->response, head, (size_t)n);
    if (with_body)
        memcpy(c->response + n, body, body_len);
    c->answered = true;
    uv_read_stop((uv_stream_t *)&c->tcp);
    uv_buf_t buf = uv_buf_init(c->response, (unsigned)total);
    c->write.data = c;
    if (uv_write(&c->write, (uv_stream_t *)&c->tcp, &buf, 1, written) != 0) {
        free(c->response);
        c->response = NULL;
        conn_close(c);
    }
}

static void respond_text(struct metrics_conn *c, const char *status, const char *text) {
    respond(c, status, "text/plain; charset=utf-8", text, strlen(text), true);
}

static bool token_is(const char *p, size_t len, const char *word) {
    return len == strlen(word) && memcmp(p, word, len) == 0;
}

/* The request line "METHOD SP TARGET SP HTTP/1.x" (RFC 9112 §3) of a
 * complete request head in c->request decides the answer. */
static void answer(struct metrics_conn *c) {
    const char *line = c->request;
    const char *eol = memchr(line, '\n', c->len);
    size_t line_len = (size_t)(eol - line);
    if (line_len > 0 && line[line_len - 1] == '\r')
        line_len--;
    const char *sp1 = memchr(line, ' ', line_len);
    const char *sp2 = sp1 ? memchr(sp1 + 1, ' ', line_len - (size_t)(sp1 + 1 - line)) : NULL;
    if (sp1 == NULL || sp2 == NULL || sp1 == line || sp2 == sp1 + 1 ||
        line_len - (size_t)(sp2 + 1 - line) != 8 || memcmp(sp2 + 1, "HTTP/1.", 7) != 0) {
        respond_text(c, "400 Bad Request", "Bad Request\n");
        return;
    }
    size_t method_len = (size_t)(sp1 - line);
    const char *target = sp1 + 1;
    size_t target_len = (size_t)(sp2 - target);
    const char *query = memchr(target, '?', target_len);
    if (query != NULL)
        target_len = (size_t)(query - target);
    if (!token_is(target, target_len, "/metrics")) {
        respond_text(c, "404 Not Found", "Not Found: the metrics are at /metrics\n");
        return;
    }
    bool head = token_is(line, method_len, "HEAD");
    if (!head && !token_is(line, method_len, "GET")) {
        respond_text(c, "405 Method Not Allowed", "Method Not Allowed\n");
        return;
    }
    char page[METRICS_PAGE_MAX];
    size_t len = metrics_render(page, sizeof(page));
    if (len >= sizeof(page))
        len = sizeof(page) - 1; /* can't happen with today's fixed set of figures */
    respond(c, "200 OK", "text/plain; version=0.0.4; charset=utf-8", page, len, !head);
}

/* The request head ends with an empty line (CRLF CRLF, or bare LF LF). */
static bool head_complete(const struct metrics_conn *c) {
    for (size_t i = 1; i < c->len; i++) {
        if (c->request[i] != '\n')
            continue;
        if (c->request[i - 1] == '\n' ||
            (i >= 2 && c->request[i - 1] == '\r' && c->request[i - 2] == '\n'))
            return true;
    }
    return false;
}

static void alloc_request(uv_handle_t *handle, size_t suggested, uv_buf_t *buf) {
    (void)suggested;
    struct metrics_conn *c = handle->data;
    *buf = uv_buf_init(c->request + c->len, (unsigned)(sizeof(c->request) - c->len));
}

static void on_read(uv_stream_t *stream, ssize_t nread, const uv_buf_t *buf) {
    (void)buf;
    struct metrics_conn *c = stream->data;
    if (c->answered)
        return;
    if (nread < 0) {
        conn_close(c);
        return;
    }
    c->len += (size_t)nread;
    if (head_complete(c))
        answer(c);
    else if (c->len == sizeof(c->request))
        respond_text(c, "431 Request Header Fields Too Large", "Request Header Fields Too Large\n");
}

static void on_idle(uv_timer_t *timer) {
    conn_close(timer->data);
}

static void free_dropped(uv_handle_t *handle) {
    free(handle);
}

static void on_connection(uv_stream_t *server_stream, int status) {
    if (status < 0)
        return;
    struct metrics_conn *c = NULL;
    for (size_t i = 0; i < METRICS_MAX_CONNS && c == NULL; i++)
        if (!conns[i].in_use)
            c = &conns[i];
    if (c == NULL) {
        /* Every slot is busy: take the connection off the backlog and drop it. */
        uv_tcp_t *drop = malloc(sizeof(*drop));
        if (drop == NULL)
            return;
        uv_tcp_init(server.loop, drop);
        (void)uv_accept(server_stream, (uv_stream_t *)drop);
        uv_close((uv_handle_t *)drop, free_dropped);
        return;
    }
    memset(c, 0, sizeof(*c));
    c->in_use = true;
    uv_tcp_init(server.loop, &c->tcp);
    uv_timer_init(server.loop, &c->idle);
    c->tcp.data = c;
    c->idle.data = c;
    c->open_handles = 2;
    if (uv_accept(server_stream, (uv_stream_t *)&c->tcp) != 0 ||
        uv_read_start((uv_stream_t *)&c->tcp, alloc_request, on_read) != 0) {
        conn_close(c);
        return;
    }
    uv_timer_start(&c->idle, on_idle, METRICS_IDLE_MS, 0);
}

/* ---- Listener ---- */

int metrics_start(void) {
    if (cfg.metrics_port == 0)
        return 0;
    const char *addr = cfg.bind_count > 0 ? cfg.bind[0] : "*";
    if (addr[0] == '-')
        addr++;
    struct sockaddr_storage sa;
    int rc;
    if (strcmp(addr, "*") == 0)
        rc = uv_ip4_addr("0.0.0.0", (int)cfg.metrics_port, (struct sockaddr_in *)&sa);
    else if (strcmp(addr, "::*") == 0)
        rc = uv_ip6_addr("::", (int)cfg.metrics_port, (struct sockaddr_in6 *)&sa);
    else if (strchr(addr, ':') != NULL)
        rc = uv_ip6_addr(addr, (int)cfg.metrics_port, (struct sockaddr_in6 *)&sa);
    else
        rc = uv_ip4_addr(addr, (int)cfg.metrics_port, (struct sockaddr_in *)&sa);
    if (rc == 0) {
        uv_tcp_init(server.loop, &listener);
        rc = uv_tcp_bind(&listener, (struct sockaddr *)&sa, 0);
        if (rc == 0)
            rc = uv_listen((uv_stream_t *)&listener, 64, on_connection);
        if (rc != 0)
            uv_close((uv_handle_t *)&listener, NULL);
    }
    if (rc != 0) {
        log_warning("Could not listen for metrics on %s:%lld: %s", addr, cfg.metrics_port,
                    uv_strerror(rc));
        return -1;
    }
    log_notice("Metrics at http://%s:%lld/metrics", addr, cfg.metrics_port);
    return 0;
}
