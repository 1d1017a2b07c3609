/* Connections to MIGRATE targets (see migrate_conn.h): the cache, the
 * connect / write / read-lines steps with their timeouts, and the libuv
 * handle lifetimes. It knows nothing about what is sent: cmd_migrate.c
 * builds the requests and judges the replies. */
#include "node/migrate_conn.h"

#include "node/server.h"

#include <stdlib.h>
#include <string.h>

enum phase {
    PHASE_IDLE,       /* not in an exchange (new, or cached) */
    PHASE_RESOLVING,  /* getaddrinfo in flight */
    PHASE_CONNECTING, /* uv_tcp_connect in flight */
    PHASE_WRITING,
    PHASE_READING,
};

struct migrate_conn {
    uv_tcp_t tcp;
    uv_timer_t timer; /* the step timeout while taken, the idle timeout while cached */
    uv_connect_t connect_req;
    uv_write_t write_req;
    uv_getaddrinfo_t resolve_req;
    struct migrate_conn *prev, *next; /* every open connection, most recently used first */

    char *name; /* "host:port", the cache key */
    size_t namelen;
    char *host; /* NUL-terminated */
    int port;   /* -1: not a port */
    long long selected_db;

    bool is_taken, is_cached, is_closing, is_connected;
    bool is_resolving;   /* resolve_req not yet called back */
    bool write_inflight; /* write_req not yet called back */
    bool saw_eof;        /* the target closed its side, or reading failed */
    bool is_starting;    /* an exchange waits for the timer to begin it */
    bool read_paused;    /* too many early reply bytes: reading waits for the writes */
    int open_handles;    /* tcp and timer, until their close callbacks */

    /* The exchange in progress (while taken). */
    enum phase phase;
    const uv_buf_t *bufs;
    unsigned nbufs, buf_index;
    size_t buf_offset;
    size_t nlines, lines_read;
    int64_t timeout_ms;
    migrate_conn_line_cb on_line;
    migrate_conn_done_cb done;
    void *arg;

    /* Reply bytes received and not yet handed out as lines. */
    char *in;
    size_t in_len, in_cap;
};

static struct migrate_conn *conns;
static size_t cached_count;

/* ---- Lifetime ---- */

static void maybe_free(struct migrate_conn *mc) {
    if (mc->open_handles > 0 || mc->is_resolving)
        return;
    free(mc->in);
    free(mc->name);
    free(mc->host);
    free(mc);
}

static void on_handle_closed(uv_handle_t *handle) {
    struct migrate_conn *mc = handle->data;
    mc->open_handles--;
    maybe_free(mc);
}

static void unlink_conn(struct migrate_conn *mc) {
    if (mc->prev != NULL)
        mc->prev->next = mc->next;
    else
        conns = mc->next;
    if (mc->next != NULL)
        mc->next->prev = mc->prev;
    mc->prev = mc->next = NULL;
    if (mc->is_cached) {
        mc->is_cached = false;
        cached_count--;
    }
}

void migrate_conn_close(struct migrate_conn *mc) {
    if (mc->is_closing)
        return;
    mc->is_closing = true;
    mc->is_taken = false;
    unlink_conn(mc);
    if (mc->is_resolving)
        uv_cancel((uv_req_t *)&mc->resolve_req);
    /* Closing the stream cancels a pending connect or write: their
     * callbacks run (with UV_ECANCELED) before the close callback. */
    uv_close((uv_handle_t *)&mc->tcp, on_handle_closed);
    uv_close((uv_handle_t *)&mc->timer, on_handle_closed);
}

static void push_front(struct migrate_conn *mc) {
    mc->prev = NULL;
    mc->next = conns;
    if (conns != NULL)
        conns->prev = mc;
    conns = mc;
}

struct migrate_conn *migrate_conn_take(const char *host, size_t hostlen, const char *port,
                                       size_t portlen) {
    for (struct migrate_conn *mc = conns; mc != NULL; mc = mc->next) {
        if (mc->is_cached && mc->namelen == hostlen + 1 + portlen &&
            memcmp(mc->name, host, hostlen) == 0 && mc->name[hostlen] == ':' &&
            memcmp(mc->name + hostlen + 1, port, portlen) == 0) {
            uv_timer_stop(&mc->timer);
            mc->is_cached = false;
            cached_count--;
            mc->is_taken = true;
            return mc;
        }
    }
    struct migrate_conn *mc = calloc(1, sizeof(*mc));
    if (mc == NULL)
        return NULL;
    mc->namelen = hostlen + 1 + portlen;
    mc->name = malloc(mc->namelen);
    mc->host = malloc(hostlen + 1);
    if (mc->name == NULL || mc->host == NULL) {
        maybe_free(mc);
        return NULL;
    }
    memcpy(mc->name, host, hostlen);
    mc->name[hostlen] = ':';
    memcpy(mc->name + hostlen + 1, port, portlen);
    memcpy(mc->host, host, hostlen);
    mc->host[hostlen] = '\0';
    /* Redis: atoi(port), then getaddrinfo on "%d" of it, which refuses a
     * negative service and wraps a big one to 16 bits. */
    char digits[32];
    size_t n = portlen < sizeof(digits) - 1 ? portlen : sizeof(digits) - 1;
    memcpy(digits, port, n);
    digits[n] = '\0';
    long long value = strtoll(digits, NULL, 10);
    int as_int = (int)(value & 0xffffffff);
    mc->port = as_int < 0 ? -1 : as_int & 0xffff;
    mc->selected_db = -1;
    uv_tcp_init(server.loop, &mc->tcp);
    uv_timer_init(server.loop, &mc->timer);
    mc->tcp.data = mc;
    mc->timer.data = mc;
    mc->open_handles = 2;
    mc->is_taken = true;
    push_front(mc);
    return mc;
}

long long migrate_conn_selected_db(const struct migrate_conn *mc) {
    return mc->selected_db;
}

void migrate_conn_set_selected_db(struct migrate_conn *mc, long long dbid) {
    mc->selected_db = dbid;
}

size_t migrate_conn_cached_count(void) {
    return cached_count;
}

/* ---- Ending an exchange ---- */

static void finish(struct migrate_conn *mc, int status, bool timed_out) {
    migrate_conn_done_cb done = mc->done;
    void *arg = mc->arg;
    mc->phase = PHASE_IDLE;
    mc->done = NULL;
    mc->on_line = NULL;
    mc->bufs = NULL;
    uv_timer_stop(&mc->timer);
    /* A write still in flight references the caller's buffers: the
     * connection cannot be reused, and closing it cancels the write. */
    if (status != MIGRATE_CONN_OK || mc->write_inflight)
        mc->saw_eof = true;
    done(arg, status, timed_out);
}

static void on_idle_timeout(uv_timer_t *timer) {
    migrate_conn_close(timer->data);
}

void migrate_conn_give_back(struct migrate_conn *mc) {
    mc->is_taken = false;
    if (mc->saw_eof || mc->in_len > 0 || !mc->is_connected) {
        migrate_conn_close(mc);
        return;
    }
    for (struct migrate_conn *other = conns; other != NULL; other = other->next) {
        if (other->is_cached && other->namelen == mc->namelen &&
            memcmp(other->name, mc->name, mc->namelen) == 0) {
            migrate_conn_close(mc);
            return;
        }
    }
    /* Most recently used first, so the last cached one is the least recently used. */
    unlink_conn(mc);
    push_front(mc);
    if (cached_count >= MIGRATE_CONN_MAX) {
        struct migrate_conn *oldest = NULL;
        for (struct migrate_conn *other = conns; other != NULL; other = other->next)
            if (other->is_cached)
                oldest = other;
        if (oldest != NULL)
            migrate_conn_close(oldest);
    }
    mc->is_cached = true;
    cached_count++;
    uv_timer_start(&mc->timer, on_idle_timeout, MIGRATE_CONN_IDLE_MS, 0);
}

void migrate_conn_close_all(void) {
    while (conns != NULL) {
        struct migrate_conn *mc = conns;
        migrate_conn_done_cb done = mc->done; /* set while an exchange is in progress */
        void *arg = mc->arg;
        migrate_conn_close(mc);
        if (done != NULL)
            done(arg, MIGRATE_CONN_ECLOSED, false);
    }
}

/* ---- Steps ---- */

static void restart_timer(struct migrate_conn *mc);

static int phase_error(const struct migrate_conn *mc) {
    switch (mc->phase) {
    case PHASE_RESOLVING:
    case PHASE_CONNECTING:
        return MIGRATE_CONN_ECONNECT;
    case PHASE_WRITING:
        return MIGRATE_CONN_EWRITE;
    case PHASE_READING:
    case PHASE_IDLE:
        break;
    }
    return MIGRATE_CONN_EREAD;
}

static void start_connect(struct migrate_conn *mc);
static void write_next(struct migrate_conn *mc);

static void on_step_timeout(uv_timer_t *timer) {
    struct migrate_conn *mc = timer->data;
    if (mc->is_starting) {
        mc->is_starting = false;
        if (!mc->is_connected) {
            start_connect(mc);
        } else {
            mc->phase = PHASE_WRITING;
            write_next(mc);
        }
        return;
    }
    finish(mc, phase_error(mc), true);
}

static void restart_timer(struct migrate_conn *mc) {
    uv_timer_start(&mc->timer, on_step_timeout, (uint64_t)mc->timeout_ms, 0);
}

/* Hands out the complete lines received, up to the number expected. */
static void deliver_lines(struct migrate_conn *mc) {
    size_t start = 0;
    while (mc->lines_read < mc->nlines && start < mc->in_len) {
        char *nl = memchr(mc->in + start, '\n', mc->in_len - start);
        if (nl == NULL)
            break;
        size_t len = (size_t)(nl - (mc->in + start));
        if (len > 0 && mc->in[start + len - 1] == '\r')
            len--;
        size_t index = mc->lines_read++;
        bool go_on = mc->on_line(mc->arg, index, mc->in + start, len);
        start = (size_t)(nl - mc->in) + 1;
        if (!go_on) {
            mc->in_len = 0;
            finish(mc, MIGRATE_CONN_EREAD, false);
            return;
        }
        restart_timer(mc);
    }
    if (start > 0) {
        memmove(mc->in, mc->in + start, mc->in_len - start);
        mc->in_len -= start;
    }
    if (mc->lines_read == mc->nlines)
        finish(mc, MIGRATE_CONN_OK, false);
    else if (mc->saw_eof || mc->in_len > MIGRATE_CONN_MAX_LINE)
        finish(mc, MIGRATE_CONN_EREAD, false);
}

static void on_alloc(uv_handle_t *handle, size_t suggested, uv_buf_t *buf) {
    (void)suggested;
    struct migrate_conn *mc = handle->data;
    size_t want = 16 * 1024;
    if (mc->in_cap - mc->in_len < want) {
        size_t cap = mc->in_cap ? mc->in_cap : want;
        while (cap - mc->in_len < want)
            cap *= 2;
        char *in = realloc(mc->in, cap);
        if (in == NULL) {
            *buf = uv_buf_init(NULL, 0);
            return;
        }
        mc->in = in;
        mc->in_cap = cap;
    }
    *buf = uv_buf_init(mc->in + mc->in_len, (unsigned)(mc->in_cap - mc->in_len));
}

static void on_read(uv_stream_t *stream, ssize_t nread, const uv_buf_t *buf) {
    struct migrate_conn *mc = stream->data;
    if (mc->is_closing)
        return;
    if (nread < 0 || buf->base == NULL) {
        mc->saw_eof = true;
        uv_read_stop(stream);
    } else {
        mc->in_len += (size_t)nread;
    }
    if (!mc->is_taken) {
        /* Idle in the cache: nothing is owed to us, so this is a close or junk. */
        if (nread != 0)
            migrate_conn_close(mc);
        return;
    }
    if (mc->phase == PHASE_READING) {
        deliver_lines(mc);
    } else if (mc->in_len > MIGRATE_CONN_MAX_LINE && !mc->saw_eof) {
        /* Replies arrive while we still write: keep them for later, as
         * Redis leaves them in the socket until it reads. */
        uv_read_stop(stream);
        mc->read_paused = true;
    }
}

static void on_write(uv_write_t *req, int status) {
    struct migrate_conn *mc = req->data;
    mc->write_inflight = false;
    if (mc->is_closing || mc->phase != PHASE_WRITING)
        return;
    if (status < 0) {
        finish(mc, MIGRATE_CONN_EWRITE, false);
        return;
    }
    write_next(mc);
}

static void write_next(struct migrate_conn *mc) {
    while (mc->buf_index < mc->nbufs && mc->buf_offset == mc->bufs[mc->buf_index].len) {
        mc->buf_index++;
        mc->buf_offset = 0;
    }
    if (mc->buf_index == mc->nbufs) {
        mc->phase = PHASE_READING;
        restart_timer(mc);
        if (mc->read_paused) {
            mc->read_paused = false;
            if (uv_read_start((uv_stream_t *)&mc->tcp, on_alloc, on_read) != 0)
                mc->saw_eof = true;
        }
        deliver_lines(mc);
        return;
    }
    const uv_buf_t *b = &mc->bufs[mc->buf_index];
    size_t len = b->len - mc->buf_offset;
    if (len > MIGRATE_CONN_CHUNK)
        len = MIGRATE_CONN_CHUNK;
    uv_buf_t chunk = uv_buf_init(b->base + mc->buf_offset, (unsigned)len);
    mc->buf_offset += len;
    mc->write_req.data = mc;
    restart_timer(mc);
    if (uv_write(&mc->write_req, (uv_stream_t *)&mc->tcp, &chunk, 1, on_write) != 0) {
        finish(mc, MIGRATE_CONN_EWRITE, false);
        return;
    }
    mc->write_inflight = true;
}

static int port_of(const struct sockaddr_storage *sa) {
    if (sa->ss_family == AF_INET)
        return ntohs(((const struct sockaddr_in *)sa)->sin_port);
    return ntohs(((const struct sockaddr_in6 *)sa)->sin6_port);
}

static bool same_ip(const struct sockaddr_storage *a, const struct sockaddr_storage *b) {
    if (a->ss_family != b->ss_family)
        return false;
    if (a->ss_family == AF_INET)
        return ((const struct sockaddr_in *)a)->sin_addr.s_addr ==
               ((const struct sockaddr_in *)b)->sin_addr.s_addr;
    return memcmp(&((const struct sockaddr_in6 *)a)->sin6_addr,
                  &((const struct sockaddr_in6 *)b)->sin6_addr, sizeof(struct in6_addr)) == 0;
}

static bool is_unspecified(const struct sockaddr_storage *sa) {
    if (sa->ss_family == AF_INET)
        return ((const struct sockaddr_in *)sa)->sin_addr.s_addr == htonl(INADDR_ANY);
    return memcmp(&((const struct sockaddr_in6 *)sa)->sin6_addr, &in6addr_any,
                  sizeof(struct in6_addr)) == 0;
}

/* Whether the connection reached one of this server's listeners: same port,
 * and the listener's address, or (a wildcard listener) our own address on
 * the connection. */
static bool reaches_self(struct migrate_conn *mc) {
    struct sockaddr_storage peer, local, listener;
    int len = sizeof(peer);
    if (uv_tcp_getpeername(&mc->tcp, (struct sockaddr *)&peer, &len) != 0)
        return false;
    len = sizeof(local);
    if (uv_tcp_getsockname(&mc->tcp, (struct sockaddr *)&local, &len) != 0)
        return false;
    for (int i = 0; i < server.listener_count; i++) {
        len = sizeof(listener);
        if (uv_tcp_getsockname(&server.listeners[i], (struct sockaddr *)&listener, &len) != 0 ||
            port_of(&listener) != port_of(&peer))
            continue;
        if (same_ip(&listener, &peer) || (is_unspecified(&listener) && same_ip(&local, &peer)))
            return true;
    }
    return false;
}

static void on_connected(uv_connect_t *req, int status) {
    struct migrate_conn *mc = req->data;
    if (mc->is_closing || mc->phase != PHASE_CONNECTING)
        return;
    if (status < 0) {
        finish(mc, MIGRATE_CONN_EWRITE, false);
        return;
    }
    mc->is_connected = true;
    if (reaches_self(mc)) {
        finish(mc, MIGRATE_CONN_ESELF, false);
        return;
    }
    uv_tcp_nodelay(&mc->tcp, 1);
    if (uv_read_start((uv_stream_t *)&mc->tcp, on_alloc, on_read) != 0) {
        finish(mc, MIGRATE_CONN_EWRITE, false);
        return;
    }
    mc->phase = PHASE_WRITING;
    write_next(mc);
}

static void connect_to(struct migrate_conn *mc, const struct sockaddr *addr) {
    mc->phase = PHASE_CONNECTING;
    mc->connect_req.data = mc;
    if (uv_tcp_connect(&mc->connect_req, &mc->tcp, addr, on_connected) != 0)
        finish(mc, MIGRATE_CONN_ECONNECT, false);
}

static void on_resolved(uv_getaddrinfo_t *req, int status, struct addrinfo *res) {
    struct migrate_conn *mc = req->data;
    mc->is_resolving = false;
    if (mc->is_closing || mc->phase != PHASE_RESOLVING) {
        uv_freeaddrinfo(res);
        maybe_free(mc);
        return;
    }
    if (status < 0 || res == NULL) {
        uv_freeaddrinfo(res);
        finish(mc, MIGRATE_CONN_ECONNECT, false);
        return;
    }
    struct sockaddr_storage addr;
    memcpy(&addr, res->ai_addr, res->ai_addrlen);
    uv_freeaddrinfo(res);
    if (addr.ss_family == AF_INET)
        ((struct sockaddr_in *)&addr)->sin_port = htons((uint16_t)mc->port);
    else
        ((struct sockaddr_in6 *)&addr)->sin6_port = htons((uint16_t)mc->port);
    connect_to(mc, (const struct sockaddr *)&addr);
}

static void start_connect(struct migrate_conn *mc) {
    if (mc->port < 0) {
        finish(mc, MIGRATE_CONN_ECONNECT, false);
        return;
    }
    restart_timer(mc);
    struct sockaddr_in in4;
    struct sockaddr_in6 in6;
    if (uv_ip4_addr(mc->host, mc->port, &in4) == 0) {
        connect_to(mc, (const struct sockaddr *)&in4);
    } else if (uv_ip6_addr(mc->host, mc->port, &in6) == 0) {
        connect_to(mc, (const struct sockaddr *)&in6);
    } else {
        struct addrinfo hints = {.ai_family = AF_UNSPEC, .ai_socktype = SOCK_STREAM};
        mc->phase = PHASE_RESOLVING;
        mc->resolve_req.data = mc;
        if (uv_getaddrinfo(server.loop, &mc->resolve_req, on_resolved, mc->host, NULL, &hints) !=
            0) {
            finish(mc, MIGRATE_CONN_ECONNECT, false);
            return;
        }
        mc->is_resolving = true;
    }
}

void migrate_conn_exchange(struct migrate_conn *mc, const uv_buf_t *bufs, unsigned nbufs,
                           size_t nlines, int64_t timeout_ms, migrate_conn_line_cb on_line,
                           migrate_conn_done_cb done, void *arg) {
    mc->bufs = bufs;
    mc->nbufs = nbufs;
    mc->buf_index = 0;
    mc->buf_offset = 0;
    mc->nlines = nlines;
    mc->lines_read = 0;
    mc->timeout_ms = timeout_ms > 0 ? timeout_ms : 1;
    mc->on_line = on_line;
    mc->done = done;
    mc->arg = arg;
    /* Begun from the timer, so that 'done' never runs inside this call. */
    mc->is_starting = true;
    uv_timer_start(&mc->timer, on_step_timeout, 0, 0);
}
