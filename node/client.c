/* Client connections (see client.h): accept, read, parse, write, close.
 * What a command does is dispatch.c's business; this file only moves bytes
 * and enforces the per-connection limits (maxclients, query buffer size,
 * protocol errors). */
#include "node/client.h"

#include "node/acl.h"
#include "node/dispatch.h"
#include "node/log.h"
#include "node/prefetch.h"
#include "node/server.h"

#include <stdlib.h>
#include <string.h>

#define READ_CHUNK (16 * 1024)
/* Redis reads big bulk arguments in bigger steps (PROTO_IOBUF_LEN * 2...). */
#define MAX_READ_CHUNK (1024 * 1024)
/* An idle connection keeps at most this much buffer memory per direction;
 * bigger ones (left by a big request or reply) are given back, as Redis's
 * clientsCron resizes query buffers above PROTO_RESIZE_THRESHOLD. */
#define IDLE_BUFFER_MAX (64 * 1024)

static void format_addr(const struct sockaddr_storage *sa, char *buf, size_t len) {
    char ip[INET6_ADDRSTRLEN] = "?";
    int port = 0;
    if (sa->ss_family == AF_INET) {
        const struct sockaddr_in *in = (const struct sockaddr_in *)sa;
        uv_ip4_name(in, ip, sizeof(ip));
        port = ntohs(in->sin_port);
    } else if (sa->ss_family == AF_INET6) {
        const struct sockaddr_in6 *in6 = (const struct sockaddr_in6 *)sa;
        uv_ip6_name(in6, ip, sizeof(ip));
        port = ntohs(in6->sin6_port);
    }
    snprintf(buf, len, "%s:%d", ip, port);
}

static void on_close(uv_handle_t *handle) {
    struct client *c = handle->data;
    resp_parser_close(&c->parser);
    resp_out_close(&c->out);
    resp_out_close(&c->inflight);
    free(c->held_reply);
    free(c->qbuf);
    free(c->name);
    free(c->lib_name);
    free(c->lib_ver);
    free(c);
}

void client_close(struct client *c) {
    if (c->flags & CLIENT_CLOSING)
        return;
    if (c->flags & CLIENT_PROTECTED) {
        c->flags |= CLIENT_CLOSE_WHEN_UNPROTECTED;
        return;
    }
    c->flags |= CLIENT_CLOSING;
    dispatch_client_closed(c);
    if (c->prev)
        c->prev->next = c->next;
    else
        server.clients = c->next;
    if (c->next)
        c->next->prev = c->prev;
    server.client_count--;
    /* The close callback frees the client, possibly before the next flush. */
    if (c->flags & CLIENT_PENDING_WRITE) {
        struct client **link = &server.pending_writes;
        while (*link != c)
            link = &(*link)->pending_next;
        *link = c->pending_next;
        c->flags &= ~(uint32_t)CLIENT_PENDING_WRITE;
    }
    uv_close((uv_handle_t *)&c->tcp, on_close);
}

void client_close_after_reply(struct client *c) {
    c->flags |= CLIENT_CLOSE_AFTER_REPLY;
    client_schedule_write(c);
}

void client_schedule_write(struct client *c) {
    if (c->flags & (CLIENT_PENDING_WRITE | CLIENT_CLOSING))
        return;
    c->flags |= CLIENT_PENDING_WRITE;
    c->pending_next = server.pending_writes;
    server.pending_writes = c;
}

size_t client_query_buffer_len(const struct client *c) {
    return c->qlen - c->qstart;
}

/* ---- Writing ---- */

static void write_pending(struct client *c);

static void on_write(uv_write_t *req, int status) {
    struct client *c = req->data;
    c->write_in_flight = false;
    c->inflight.len = 0;
    if (c->inflight.cap > IDLE_BUFFER_MAX)
        resp_out_close(&c->inflight);
    if (c->flags & CLIENT_CLOSING)
        return;
    if (status < 0) {
        client_close(c);
        return;
    }
    write_pending(c);
}

static void write_pending(struct client *c) {
    if (c->write_in_flight || (c->flags & CLIENT_CLOSING))
        return;
    if (c->out.failed) {
        log_warning("Closing client that exhausted memory for its replies");
        client_close(c);
        return;
    }
    if (c->out.len > 0) {
        uv_buf_t buf = uv_buf_init(c->out.buf, (unsigned)c->out.len);
        server.stats.writes_processed++;
        int n = uv_try_write((uv_stream_t *)&c->tcp, &buf, 1);
        if (n == UV_EAGAIN)
            n = 0;
        if (n < 0) {
            client_close(c);
            return;
        }
        server.stats.net_output_bytes += (uint64_t)n;
        if ((size_t)n < c->out.len) {
            /* The rest goes with uv_write, which needs its bytes stable until
             * the callback: swap buffers so new replies land elsewhere. */
            resp_out_consume(&c->out, (size_t)n);
            struct resp_out tmp = c->inflight;
            c->inflight = c->out;
            c->out = tmp;
            c->out.len = 0;
            c->out.proto = c->inflight.proto;
            server.stats.net_output_bytes += c->inflight.len;
            buf = uv_buf_init(c->inflight.buf, (unsigned)c->inflight.len);
            c->write_req.data = c;
            server.stats.writes_processed++;
            if (uv_write(&c->write_req, (uv_stream_t *)&c->tcp, &buf, 1, on_write) != 0) {
                client_close(c);
                return;
            }
            c->write_in_flight = true;
            return;
        }
        c->out.len = 0;
        if (c->out.cap > IDLE_BUFFER_MAX)
            resp_out_close(&c->out);
    }
    if (c->flags & CLIENT_CLOSE_AFTER_REPLY)
        client_close(c);
}

void client_flush_pending(void) {
    while (server.pending_writes != NULL) {
        struct client *c = server.pending_writes;
        server.pending_writes = c->pending_next;
        c->pending_next = NULL;
        c->flags &= ~(uint32_t)CLIENT_PENDING_WRITE;
        write_pending(c);
    }
}

/* ---- Reading ---- */

static void protocol_error(struct client *c, const char *msg) {
    char text[256];
    snprintf(text, sizeof(text), "ERR Protocol error: %s", msg);
    resp_add_error(&c->out, text);
    log_verbose("Protocol error (%s) from client: id=%llu addr=%s", msg, (unsigned long long)c->id,
                c->addr);
    server.stats.total_error_replies++;
    client_close_after_reply(c);
}

/* Gives back a big query buffer once the request that needed it is gone
 * (the unconsumed rest is small), so a 100 MB SET does not pin 100 MB. */
static void shrink_query_buffer(struct client *c) {
    if (c->qlen == 0) {
        free(c->qbuf);
        c->qbuf = NULL;
        c->qcap = 0;
        return;
    }
    char *q = realloc(c->qbuf, READ_CHUNK);
    if (q != NULL) {
        c->qbuf = q;
        c->qcap = READ_CHUNK;
    }
}

/* Dispatches a write while the client's earlier writes await their commit.
 * Queued behind them, its reply comes when it applies. A command refused
 * before reaching the log (an error, which changes nothing) has already
 * written its reply: that is held back until the earlier replies are out. */
static void dispatch_behind_pending_writes(struct client *c, int argc, char **argv,
                                           size_t *argvlen) {
    size_t reply_start = c->out.len;
    unsigned pending = c->pending_commits;
    dispatch_command(c, argc, argv, argvlen);
    if (c->pending_commits != pending || c->out.len == reply_start || c->out.failed)
        return;
    size_t len = c->out.len - reply_start;
    char *held = malloc(len);
    if (held == NULL) {
        client_close(c);
        return;
    }
    memcpy(held, c->out.buf + reply_start, len);
    c->out.len = reply_start;
    c->held_reply = held;
    c->held_len = len;
    c->flags |= CLIENT_REPLY_HELD;
}

void client_commits_done(struct client *c) {
    c->flags &= ~(uint32_t)CLIENT_COMMIT_WAIT;
    if (c->flags & CLIENT_REPLY_HELD) {
        resp_add_raw(&c->out, c->held_reply, c->held_len);
        free(c->held_reply);
        c->held_reply = NULL;
        c->held_len = 0;
        c->flags &= ~(uint32_t)CLIENT_REPLY_HELD;
    }
    client_schedule_write(c);
    client_process_input(c);
}

void client_process_input(struct client *c) {
    size_t prefetched_to = 0; /* qbuf offset up to which keys were prefetched */
    while (!(c->flags &
             (CLIENT_CLOSING | CLIENT_CLOSE_AFTER_REPLY | CLIENT_BLOCKED | CLIENT_REPLY_HELD)) &&
           c->qstart < c->qlen) {
        if (c->qstart >= prefetched_to)
            prefetched_to = prefetch_pipeline(c);
        bool behind_writes = c->flags & CLIENT_COMMIT_WAIT;
        /* Inline requests are unescaped in place and cannot be parsed twice:
         * they wait until the writes are applied. */
        if (behind_writes && c->qbuf[c->qstart] != '*')
            break;
        c->parser.is_authenticated = dispatch_is_authenticated(c);
        int rc = resp_parse(&c->parser, c->qbuf + c->qstart, c->qlen - c->qstart);
        if (rc == RESP_AGAIN)
            break;
        if (rc == RESP_EPROTO) {
            protocol_error(c, c->parser.errmsg);
            break;
        }
        if (rc == RESP_ENOMEM) {
            client_close(c);
            return;
        }
        /* The arguments point into qbuf, which stays put until the command
         * has run: consume only afterwards. */
        if (rc == RESP_OK && behind_writes) {
            /* Left unconsumed, it is parsed again once the writes apply. */
            if (!dispatch_joins_pending_writes(c, c->parser.argc, c->parser.argv,
                                               c->parser.argvlen))
                break;
            dispatch_behind_pending_writes(c, c->parser.argc, c->parser.argv, c->parser.argvlen);
        } else if (rc == RESP_OK) {
            dispatch_command(c, c->parser.argc, c->parser.argv, c->parser.argvlen);
        }
        c->qstart += c->parser.consumed;
    }
    if (c->qstart == c->qlen) {
        c->qstart = c->qlen = 0;
    } else if (c->qstart > 0 && !(c->flags & CLIENT_CLOSING)) {
        memmove(c->qbuf, c->qbuf + c->qstart, c->qlen - c->qstart);
        c->qlen -= c->qstart;
        c->qstart = 0;
    }
    if (c->qcap > IDLE_BUFFER_MAX && c->qlen <= READ_CHUNK / 2 && !(c->flags & CLIENT_CLOSING))
        shrink_query_buffer(c);
    if (c->out.len > 0 || (c->flags & CLIENT_CLOSE_AFTER_REPLY))
        client_schedule_write(c);
}

static void on_alloc(uv_handle_t *handle, size_t suggested, uv_buf_t *buf) {
    (void)suggested;
    struct client *c = handle->data;
    size_t want = READ_CHUNK;
    /* A large bulk in progress: read bigger pieces so it arrives in few calls. */
    if (c->qlen - c->qstart > READ_CHUNK)
        want = c->qlen - c->qstart < MAX_READ_CHUNK ? c->qlen - c->qstart : MAX_READ_CHUNK;
    if (c->qcap - c->qlen < want) {
        size_t cap = c->qcap ? c->qcap : READ_CHUNK;
        while (cap - c->qlen < want)
            cap *= 2;
        char *q = realloc(c->qbuf, cap);
        if (q == NULL) {
            *buf = uv_buf_init(NULL, 0);
            return;
        }
        c->qbuf = q;
        c->qcap = cap;
    }
    /* Read no more than 'want', as Redis does: a read then never carries
     * more than one big argument's rest, so the query buffer limit below
     * measures unparsed requests, not how much the socket happened to hold. */
    *buf = uv_buf_init(c->qbuf + c->qlen, (unsigned)want);
}

static void on_read(uv_stream_t *stream, ssize_t nread, const uv_buf_t *buf) {
    (void)buf;
    struct client *c = stream->data;
    /* libuv reports a read that would block as 0: no read happened. Redis
     * 7.0 counts every read, the one that finds EOF too. */
    if (nread != 0)
        server.stats.reads_processed++;
    if (nread < 0 || buf->base == NULL) {
        client_close(c);
        return;
    }
    if (nread == 0)
        return;
    c->qlen += (size_t)nread;
    server.stats.net_input_bytes += (uint64_t)nread;
    c->last_interaction_ms = server_now_ms();
    if ((long long)(c->qlen - c->qstart) > cfg.client_query_buffer_limit) {
        log_warning("Closing client that reached max query buffer length: id=%llu addr=%s "
                    "(qbuf initial bytes: \"%.32s\")",
                    (unsigned long long)c->id, c->addr, c->qbuf + c->qstart);
        client_close(c);
        return;
    }
    client_process_input(c);
}

void client_protect(struct client *c) {
    c->flags |= CLIENT_PROTECTED;
    if (!(c->flags & CLIENT_CLOSING))
        uv_read_stop((uv_stream_t *)&c->tcp);
}

void client_unprotect(struct client *c) {
    c->flags &= ~(uint32_t)CLIENT_PROTECTED;
    if (c->flags & CLIENT_CLOSE_WHEN_UNPROTECTED) {
        c->flags &= ~(uint32_t)CLIENT_CLOSE_WHEN_UNPROTECTED;
        client_close(c);
    } else if (!(c->flags & CLIENT_CLOSING) &&
               uv_read_start((uv_stream_t *)&c->tcp, on_alloc, on_read) != 0) {
        client_close(c);
    }
}

/* ---- Accepting ---- */

/* Redis 7.0: with protected mode on and no password for the default user,
 * only loopback clients are served; others get this and are closed. */
static const char *const PROTECTED_MODE_DENIED =
    "DENIED Redis is running in protected mode because protected mode is enabled and "
    "no password is set for the default user. In this mode connections are only "
    "accepted from the loopback interface. If you want to connect from external "
    "computers to Redis you may adopt one of the following solutions: 1) Just disable "
    "protected mode sending the command 'CONFIG SET protected-mode no' from the "
    "loopback interface by connecting to Redis from the same host the server is "
    "running, however MAKE SURE Redis is not publicly accessible from internet if you "
    "do so. Use CONFIG REWRITE to make this change permanent. 2) Alternatively you "
    "can just disable the protected mode by editing the Redis configuration file, and "
    "setting the protected mode option to 'no', and then restarting the server. 3) If "
    "you started the server manually just for testing, restart it with the "
    "'--protected-mode no' option. 4) Setup a an authentication password for the "
    "default user. NOTE: You only need to do one of the above things in order for the "
    "server to start accepting connections from the outside.";

static bool protected_mode_denies(struct client *c) {
    if (!cfg.protected_mode || !acl_default_user_nopass())
        return false;
    struct sockaddr_storage ss;
    int sslen = sizeof(ss);
    if (uv_tcp_getpeername(&c->tcp, (struct sockaddr *)&ss, &sslen) != 0)
        return false;
    const struct sockaddr_storage *peer = &ss;
    if (peer->ss_family == AF_INET) {
        const struct sockaddr_in *in = (const struct sockaddr_in *)peer;
        return (ntohl(in->sin_addr.s_addr) >> 24) != 127;
    }
    if (peer->ss_family == AF_INET6) {
        const struct in6_addr *a = &((const struct sockaddr_in6 *)peer)->sin6_addr;
        if (IN6_IS_ADDR_V4MAPPED(a))
            return a->s6_addr[12] != 127;
        return !IN6_IS_ADDR_LOOPBACK(a);
    }
    return false; /* not TCP/IP: local */
}

void client_accept(uv_stream_t *listener) {
    struct client *c = calloc(1, sizeof(*c));
    if (c == NULL)
        return;
    uv_tcp_init(server.loop, &c->tcp);
    c->tcp.data = c;
    if (uv_accept(listener, (uv_stream_t *)&c->tcp) != 0) {
        uv_close((uv_handle_t *)&c->tcp, on_close);
        return;
    }
    c->id = ++server.next_client_id;
    c->rerun_deadline_ms = -1;
    resp_parser_init(&c->parser, cfg.proto_max_bulk_len);
    resp_out_init(&c->out, 2);
    resp_out_init(&c->inflight, 2);
    resp_out_init_discard(&c->sink);
    c->ctime_ms = c->last_interaction_ms = server_now_ms();
    struct sockaddr_storage sa;
    int salen = sizeof(sa);
    if (uv_tcp_getpeername(&c->tcp, (struct sockaddr *)&sa, &salen) == 0)
        format_addr(&sa, c->addr, sizeof(c->addr));
    salen = sizeof(sa);
    if (uv_tcp_getsockname(&c->tcp, (struct sockaddr *)&sa, &salen) == 0)
        format_addr(&sa, c->laddr, sizeof(c->laddr));
    uv_tcp_nodelay(&c->tcp, 1);
    if (cfg.tcp_keepalive > 0)
        uv_tcp_keepalive(&c->tcp, 1, (unsigned)cfg.tcp_keepalive);

    c->next = server.clients;
    if (server.clients)
        server.clients->prev = c;
    server.clients = c;
    server.client_count++;
    server.stats.connections_received++;

    if ((long long)server.client_count > cfg.maxclients) {
        resp_add_error(&c->out, "ERR max number of clients reached");
        server.stats.rejected_connections++;
        client_close_after_reply(c);
        return;
    }
    if (protected_mode_denies(c)) {
        resp_add_error(&c->out, PROTECTED_MODE_DENIED);
        server.stats.rejected_connections++;
        client_close_after_reply(c);
        return;
    }
    dispatch_client_connected(c);
    if (uv_read_start((uv_stream_t *)&c->tcp, on_alloc, on_read) != 0)
        client_close(c);
}
