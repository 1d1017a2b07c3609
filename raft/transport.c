/* The shared-port Raft transport (see transport.h): the listener on the bus
 * port, the preamble demultiplexer, libraft's TCP handshake in both
 * directions, and outgoing Raft connections. It does not read or write
 * Raft messages (libraft's uv I/O code does, on the streams handed to it)
 * and knows nothing of the bus protocol beyond its preamble.
 *
 * Handles: the listener and the handshake sweep timer exist from listen to
 * close; each connection in its handshake (incoming) or still connecting
 * (outgoing) is tracked here until it is handed over or closed. Stream
 * handles are allocated with raft_malloc because libraft frees the ones it
 * receives with raft_free. The close callback given by libraft runs once
 * every handle this module closed has finished closing. */
#include "raft/transport.h"

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

/* ---- State ---- */

/* A doubly linked list node; a list head is a node linked to itself. */
struct link {
    struct link *prev, *next;
};

static void list_init(struct link *head) {
    head->prev = head->next = head;
}

static void list_push(struct link *head, struct link *node) {
    node->prev = head->prev;
    node->next = head;
    head->prev->next = node;
    head->prev = node;
}

static void list_remove(struct link *node) {
    node->prev->next = node->next;
    node->next->prev = node->prev;
    node->prev = node->next = node;
}

static bool list_is_empty(const struct link *head) {
    return head->next == head;
}

#define CONTAINER_OF(ptr, type, member) ((type *)(void *)((char *)(ptr)-offsetof(type, member)))

struct transport {
    struct raft_uv_transport *t;
    uv_loop_t *loop;
    raft_id id;
    char *address;      /* this member's address, sent in handshakes */
    char *bind_address; /* NULL: listen on 'address' */
    unsigned handshake_timeout_ms;
    uv_tcp_t listener;
    uv_timer_t sweep;  /* closes connections whose handshake is overdue */
    bool is_listening; /* listener and sweep are initialised */
    raft_uv_accept_cb accept_cb;
    transport_bus_cb bus_cb;
    void *bus_arg;
    transport_resolve_fn resolve;
    void *resolve_arg;
    struct link incoming;    /* struct incoming in their handshake */
    struct link outgoing;    /* struct outgoing not yet connected */
    unsigned pending_closes; /* handles whose close callback has not run */
    bool is_closing;
    raft_uv_transport_close_cb close_cb;
};

enum incoming_stage { STAGE_PREAMBLE, STAGE_RAFT_HEADER, STAGE_RAFT_ADDRESS };

#define RAFT_HEADER_LEN 24 /* version, id, address length: u64 LE each */

struct incoming {
    struct transport *tr;
    uv_tcp_t *tcp;
    struct link link;
    uint64_t started_ms;
    enum incoming_stage stage;
    size_t nread; /* bytes of the current stage's field read so far */
    uint8_t preamble[TRANSPORT_PREAMBLE_LEN];
    uint8_t header[RAFT_HEADER_LEN];
    char *address; /* the address field once its length is known */
    size_t address_len;
};

struct outgoing {
    struct transport *tr;
    struct raft_uv_connect *req;
    uv_tcp_t *tcp;
    uv_connect_t connect;
    uv_write_t write;
    struct link link;
    int status; /* reported to req->cb when the handle has closed */
    size_t len;
    uint8_t bytes[]; /* preamble + handshake */
};

static uint64_t get_u64le(const uint8_t *p) {
    uint64_t v = 0;
    for (int i = 7; i >= 0; i--)
        v = (v << 8) | p[i];
    return v;
}

static void put_u64le(uint8_t *p, uint64_t v) {
    for (int i = 0; i < 8; i++)
        p[i] = (uint8_t)(v >> (8 * i));
}

static void maybe_fire_close(struct transport *tr) {
    if (!tr->is_closing || tr->pending_closes > 0 || tr->close_cb == NULL)
        return;
    raft_uv_transport_close_cb cb = tr->close_cb;
    tr->close_cb = NULL;
    cb(tr->t);
}

static void handle_closed(uv_handle_t *handle) {
    struct transport *tr = handle->data;
    tr->pending_closes--;
    maybe_fire_close(tr);
}

/* ---- Addresses ---- */

/* Parses "a.b.c.d:port", "[v6]:port" or "v6:port" into 'sa'. */
static int parse_address(const char *address, struct sockaddr_storage *sa) {
    const char *colon = strrchr(address, ':');
    if (colon == NULL || colon[1] == '\0')
        return RAFT_INVALID;
    char *end;
    unsigned long port = strtoul(colon + 1, &end, 10);
    if (*end != '\0' || port == 0 || port > 65535 || colon[1] < '0' || colon[1] > '9')
        return RAFT_INVALID;
    const char *host = address;
    size_t host_len = (size_t)(colon - address);
    if (host_len >= 2 && host[0] == '[' && host[host_len - 1] == ']') {
        host++;
        host_len -= 2;
    }
    char ip[64];
    if (host_len == 0 || host_len >= sizeof(ip))
        return RAFT_INVALID;
    memcpy(ip, host, host_len);
    ip[host_len] = '\0';
    if (uv_ip4_addr(ip, (int)port, (struct sockaddr_in *)sa) == 0)
        return 0;
    if (uv_ip6_addr(ip, (int)port, (struct sockaddr_in6 *)sa) == 0)
        return 0;
    return RAFT_INVALID;
}

/* ---- Incoming connections ---- */

static void incoming_closed(uv_handle_t *handle) {
    struct incoming *in = handle->data;
    struct transport *tr = in->tr;
    free(in->address);
    raft_free(in->tcp);
    free(in);
    tr->pending_closes--;
    maybe_fire_close(tr);
}

/* Closes a connection that has not completed its handshake. */
static void incoming_abort(struct incoming *in) {
    list_remove(&in->link);
    in->tr->pending_closes++;
    uv_close((uv_handle_t *)in->tcp, incoming_closed);
}

/* Offers exactly the bytes still missing from the field being read, so
 * nothing that follows the handshake is consumed. */
static void incoming_alloc(uv_handle_t *handle, size_t suggested, uv_buf_t *buf) {
    struct incoming *in = handle->data;
    (void)suggested;
    switch (in->stage) {
    case STAGE_PREAMBLE:
        *buf = uv_buf_init((char *)in->preamble + in->nread,
                           (unsigned)(sizeof(in->preamble) - in->nread));
        break;
    case STAGE_RAFT_HEADER:
        *buf =
            uv_buf_init((char *)in->header + in->nread, (unsigned)(sizeof(in->header) - in->nread));
        break;
    case STAGE_RAFT_ADDRESS:
        *buf = uv_buf_init(in->address + in->nread, (unsigned)(in->address_len - in->nread));
        break;
    }
}

/* Stops tracking 'in' and frees it, leaving its stream open and not read. */
static uv_tcp_t *incoming_release(struct incoming *in) {
    uv_tcp_t *tcp = in->tcp;
    uv_read_stop((uv_stream_t *)tcp);
    list_remove(&in->link);
    tcp->data = NULL;
    free(in->address);
    free(in);
    return tcp;
}

static void preamble_done(struct incoming *in) {
    struct transport *tr = in->tr;
    if (memcmp(in->preamble, TRANSPORT_PREAMBLE_RAFT, TRANSPORT_PREAMBLE_LEN) == 0 &&
        tr->accept_cb != NULL) {
        in->stage = STAGE_RAFT_HEADER;
        in->nread = 0;
        return;
    }
    if (memcmp(in->preamble, TRANSPORT_PREAMBLE_BUS, TRANSPORT_PREAMBLE_LEN) == 0 &&
        tr->bus_cb != NULL) {
        uv_tcp_t *tcp = incoming_release(in);
        tr->bus_cb(tr->bus_arg, tcp);
        return;
    }
    incoming_abort(in);
}

/* libraft's TCP handshake header: version, id, address field length. */
static void raft_header_done(struct incoming *in) {
    uint64_t version = get_u64le(in->header);
    uint64_t id = get_u64le(in->header + 8);
    uint64_t address_len = get_u64le(in->header + 16);
    if (version != TRANSPORT_RAFT_HANDSHAKE_VERSION || id == 0 || address_len == 0 ||
        address_len > TRANSPORT_MAX_ADDRESS) {
        incoming_abort(in);
        return;
    }
    in->address = malloc((size_t)address_len);
    if (in->address == NULL) {
        incoming_abort(in);
        return;
    }
    in->address_len = (size_t)address_len;
    in->stage = STAGE_RAFT_ADDRESS;
    in->nread = 0;
}

static void raft_address_done(struct incoming *in) {
    struct transport *tr = in->tr;
    if (memchr(in->address, '\0', in->address_len) == NULL) {
        incoming_abort(in);
        return;
    }
    raft_id id = get_u64le(in->header + 8);
    char address[TRANSPORT_MAX_ADDRESS];
    memcpy(address, in->address, in->address_len);
    uv_tcp_t *tcp = incoming_release(in);
    tr->accept_cb(tr->t, id, address, (uv_stream_t *)tcp);
}

static void incoming_read(uv_stream_t *stream, ssize_t nread, const uv_buf_t *buf) {
    struct incoming *in = stream->data;
    (void)buf;
    if (nread == 0)
        return; /* EAGAIN */
    if (nread < 0) {
        incoming_abort(in);
        return;
    }
    in->nread += (size_t)nread;
    switch (in->stage) {
    case STAGE_PREAMBLE:
        if (in->nread == sizeof(in->preamble))
            preamble_done(in);
        break;
    case STAGE_RAFT_HEADER:
        if (in->nread == sizeof(in->header))
            raft_header_done(in);
        break;
    case STAGE_RAFT_ADDRESS:
        if (in->nread == in->address_len)
            raft_address_done(in);
        break;
    }
}

static void on_connection(uv_stream_t *listener, int status) {
    struct transport *tr = listener->data;
    if (status < 0 || tr->is_closing)
        return;
    struct incoming *in = calloc(1, sizeof(*in));
    uv_tcp_t *tcp = raft_malloc(sizeof(*tcp));
    if (in == NULL || tcp == NULL) {
        /* Out of memory: the connection is not accepted, and libuv accepts
         * no other until one is (raft_uv_tcp behaves the same). */
        free(in);
        raft_free(tcp);
        return;
    }
    in->tr = tr;
    in->tcp = tcp;
    in->started_ms = uv_now(tr->loop);
    list_init(&in->link);
    uv_tcp_init(tr->loop, tcp);
    tcp->data = in;
    list_push(&tr->incoming, &in->link);
    if (uv_accept(listener, (uv_stream_t *)tcp) != 0 ||
        uv_read_start((uv_stream_t *)tcp, incoming_alloc, incoming_read) != 0) {
        incoming_abort(in);
        return;
    }
    uv_tcp_nodelay(tcp, 1);
}

static void on_sweep(uv_timer_t *timer) {
    struct transport *tr = timer->data;
    uint64_t now = uv_now(tr->loop);
    struct link *node = tr->incoming.next;
    while (node != &tr->incoming) {
        struct incoming *in = CONTAINER_OF(node, struct incoming, link);
        node = node->next;
        if (now - in->started_ms >= tr->handshake_timeout_ms)
            incoming_abort(in);
    }
}

/* ---- Outgoing Raft connections ---- */

static void outgoing_closed(uv_handle_t *handle) {
    struct outgoing *out = handle->data;
    struct transport *tr = out->tr;
    out->req->cb(out->req, NULL, out->status);
    raft_free(out->tcp);
    free(out);
    tr->pending_closes--;
    maybe_fire_close(tr);
}

/* Ends a connection attempt with 'status'; the request's callback runs once
 * the handle has closed. */
static void outgoing_fail(struct outgoing *out, int status) {
    list_remove(&out->link);
    out->status = status;
    out->tr->pending_closes++;
    uv_close((uv_handle_t *)out->tcp, outgoing_closed);
}

static void outgoing_written(uv_write_t *write, int status) {
    struct outgoing *out = write->data;
    if (out->status == RAFT_CANCELED)
        return; /* closing: outgoing_closed reports it */
    if (status < 0) {
        outgoing_fail(out, RAFT_NOCONNECTION);
        return;
    }
    list_remove(&out->link);
    uv_tcp_t *tcp = out->tcp;
    struct raft_uv_connect *req = out->req;
    tcp->data = NULL;
    free(out);
    req->cb(req, (uv_stream_t *)tcp, 0);
}

static void outgoing_connected(uv_connect_t *connect, int status) {
    struct outgoing *out = connect->data;
    if (out->status == RAFT_CANCELED)
        return;
    if (status < 0) {
        outgoing_fail(out, RAFT_NOCONNECTION);
        return;
    }
    uv_tcp_nodelay(out->tcp, 1);
    uv_buf_t buf = uv_buf_init((char *)out->bytes, (unsigned)out->len);
    out->write.data = out;
    if (uv_write(&out->write, (uv_stream_t *)out->tcp, &buf, 1, outgoing_written) != 0)
        outgoing_fail(out, RAFT_NOCONNECTION);
}

/* Frees an attempt that failed before it was tracked (no callback runs). */
static void untracked_closed(uv_handle_t *handle) {
    struct outgoing *out = handle->data;
    raft_free(out->tcp);
    free(out);
}

/* Size of the address field: the address with its NUL, padded to 8. */
static size_t address_field_len(const char *address) {
    return (strlen(address) + 1 + 7) & ~(size_t)7;
}

static int impl_connect(struct raft_uv_transport *t, struct raft_uv_connect *req, raft_id id,
                        const char *address, raft_uv_connect_cb cb) {
    struct transport *tr = t->impl;
    if (tr->is_closing)
        return RAFT_CANCELED;
    char resolved[TRANSPORT_MAX_ADDRESS];
    if (tr->resolve != NULL && tr->resolve(tr->resolve_arg, id, resolved, sizeof(resolved)))
        address = resolved;
    struct sockaddr_storage sa;
    if (parse_address(address, &sa) != 0)
        return RAFT_NOCONNECTION;
    size_t field = address_field_len(tr->address);
    size_t len = TRANSPORT_PREAMBLE_LEN + RAFT_HEADER_LEN + field;
    struct outgoing *out = calloc(1, sizeof(*out) + len);
    uv_tcp_t *tcp = raft_malloc(sizeof(*tcp));
    if (out == NULL || tcp == NULL) {
        free(out);
        raft_free(tcp);
        return RAFT_NOMEM;
    }
    out->tr = tr;
    out->req = req;
    out->tcp = tcp;
    out->len = len;
    list_init(&out->link);
    uint8_t *p = out->bytes;
    memcpy(p, TRANSPORT_PREAMBLE_RAFT, TRANSPORT_PREAMBLE_LEN);
    p += TRANSPORT_PREAMBLE_LEN;
    put_u64le(p, TRANSPORT_RAFT_HANDSHAKE_VERSION);
    put_u64le(p + 8, tr->id);
    put_u64le(p + 16, field);
    memcpy(p + RAFT_HEADER_LEN, tr->address, strlen(tr->address)); /* calloc'd: NUL + padding */
    req->cb = cb;
    uv_tcp_init(tr->loop, tcp);
    tcp->data = out;
    out->connect.data = out;
    if (uv_tcp_connect(&out->connect, tcp, (struct sockaddr *)&sa, outgoing_connected) != 0) {
        uv_close((uv_handle_t *)tcp, untracked_closed);
        return RAFT_NOCONNECTION;
    }
    list_push(&tr->outgoing, &out->link);
    return 0;
}

/* ---- The raft_uv_transport interface ---- */

static int impl_init(struct raft_uv_transport *t, raft_id id, const char *address) {
    struct transport *tr = t->impl;
    if (address_field_len(address) > TRANSPORT_MAX_ADDRESS) {
        snprintf(t->errmsg, sizeof(t->errmsg), "address too long");
        return RAFT_INVALID;
    }
    char *copy = strdup(address);
    if (copy == NULL)
        return RAFT_NOMEM;
    free(tr->address);
    tr->address = copy;
    tr->id = id;
    return 0;
}

static int impl_listen(struct raft_uv_transport *t, raft_uv_accept_cb cb) {
    struct transport *tr = t->impl;
    const char *address = tr->bind_address != NULL ? tr->bind_address : tr->address;
    struct sockaddr_storage sa;
    if (address == NULL || parse_address(address, &sa) != 0) {
        snprintf(t->errmsg, sizeof(t->errmsg), "bad listen address");
        return RAFT_INVALID;
    }
    tr->accept_cb = cb;
    uv_tcp_init(tr->loop, &tr->listener);
    tr->listener.data = tr;
    uv_timer_init(tr->loop, &tr->sweep);
    tr->sweep.data = tr;
    tr->is_listening = true;
    int rv = uv_tcp_bind(&tr->listener, (struct sockaddr *)&sa, 0);
    if (rv == 0)
        rv = uv_listen((uv_stream_t *)&tr->listener, 128, on_connection);
    if (rv != 0) {
        snprintf(t->errmsg, sizeof(t->errmsg), "listen on %s: %s", address, uv_strerror(rv));
        return RAFT_IOERR;
    }
    unsigned period = tr->handshake_timeout_ms / 2;
    period = period < 10 ? 10 : period > 1000 ? 1000 : period;
    uv_timer_start(&tr->sweep, on_sweep, period, period);
    uv_unref((uv_handle_t *)&tr->sweep);
    return 0;
}

static void impl_close(struct raft_uv_transport *t, raft_uv_transport_close_cb cb) {
    struct transport *tr = t->impl;
    tr->is_closing = true;
    tr->close_cb = cb;
    tr->accept_cb = NULL;
    while (!list_is_empty(&tr->incoming))
        incoming_abort(CONTAINER_OF(tr->incoming.next, struct incoming, link));
    while (!list_is_empty(&tr->outgoing))
        outgoing_fail(CONTAINER_OF(tr->outgoing.next, struct outgoing, link), RAFT_CANCELED);
    if (tr->is_listening) {
        tr->pending_closes += 2;
        uv_close((uv_handle_t *)&tr->listener, handle_closed);
        uv_close((uv_handle_t *)&tr->sweep, handle_closed);
    }
    maybe_fire_close(tr);
}

/* ---- Public API ---- */

int transport_init(struct raft_uv_transport *t, uv_loop_t *loop) {
    struct transport *tr = calloc(1, sizeof(*tr));
    if (tr == NULL)
        return RAFT_NOMEM;
    tr->t = t;
    tr->loop = loop;
    tr->handshake_timeout_ms = TRANSPORT_HANDSHAKE_TIMEOUT_MS;
    list_init(&tr->incoming);
    list_init(&tr->outgoing);
    t->impl = tr;
    t->errmsg[0] = '\0';
    t->init = impl_init;
    t->listen = impl_listen;
    t->connect = impl_connect;
    t->close = impl_close;
    return 0;
}

void transport_close(struct raft_uv_transport *t) {
    struct transport *tr = t->impl;
    free(tr->address);
    free(tr->bind_address);
    free(tr);
    t->impl = NULL;
}

void transport_set_resolver(struct raft_uv_transport *t, transport_resolve_fn fn, void *arg) {
    struct transport *tr = t->impl;
    tr->resolve = fn;
    tr->resolve_arg = arg;
}

int transport_set_bind_address(struct raft_uv_transport *t, const char *address) {
    struct transport *tr = t->impl;
    struct sockaddr_storage sa;
    if (parse_address(address, &sa) != 0)
        return RAFT_INVALID;
    char *copy = strdup(address);
    if (copy == NULL)
        return RAFT_NOMEM;
    free(tr->bind_address);
    tr->bind_address = copy;
    return 0;
}

void transport_set_bus_cb(struct raft_uv_transport *t, transport_bus_cb cb, void *arg) {
    struct transport *tr = t->impl;
    tr->bus_cb = cb;
    tr->bus_arg = arg;
}

void transport_set_handshake_timeout(struct raft_uv_transport *t, unsigned timeout_ms) {
    struct transport *tr = t->impl;
    tr->handshake_timeout_ms = timeout_ms > 0 ? timeout_ms : 1;
}

void transport_stream_free(uv_handle_t *handle) {
    raft_free(handle);
}
