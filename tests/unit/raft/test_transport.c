/* raft/transport on real loopback sockets: its outgoing handshake is byte
 * for byte libraft's raft_uv_tcp handshake behind the Raft preamble, and it
 * accepts what raft_uv_tcp sends; bytes behind a preamble or handshake stay
 * in the stream; bad preambles, bad handshakes and silent peers are closed;
 * three groups on the shared port converge while bus connections to the
 * same ports reach the bus callback intact. Every wait is bounded and every
 * handle is closed (uv_loop_close == 0). */
#include "raft/group.h"
#include "raft/transport.h"
#include "tests/unit/lib/test.h"

#include <arpa/inet.h>
#include <errno.h>
#include <fcntl.h>
#include <netinet/in.h>
#include <stdint.h>
#include <sys/socket.h>
#include <unistd.h>

/* ---- Helpers ---- */

static uv_loop_t loop;
static uv_timer_t tick; /* wakes uv_run so predicates are re-checked */

static void on_tick(uv_timer_t *t) {
    (void)t;
}

static void loop_setup(void) {
    uv_loop_init(&loop);
    uv_timer_init(&loop, &tick);
    uv_timer_start(&tick, on_tick, 5, 5);
}

static bool loop_teardown(void) {
    uv_close((uv_handle_t *)&tick, NULL);
    uv_run(&loop, UV_RUN_DEFAULT);
    return uv_loop_close(&loop) == 0;
}

/* Runs the loop until 'pred(arg)' holds or 'timeout_ms' passes. */
static bool run_until(bool (*pred)(void *), void *arg, uint64_t timeout_ms) {
    uint64_t deadline = uv_now(&loop) + timeout_ms;
    while (!pred(arg)) {
        if (uv_now(&loop) > deadline)
            return false;
        uv_run(&loop, UV_RUN_ONCE);
    }
    return true;
}

static bool never(void *arg) {
    (void)arg;
    return false;
}

static void run_for(uint64_t ms) {
    run_until(never, NULL, ms);
}

static int free_port(void) {
    int fd = socket(AF_INET, SOCK_STREAM, 0);
    struct sockaddr_in sa = {.sin_family = AF_INET, .sin_addr.s_addr = htonl(INADDR_LOOPBACK)};
    socklen_t len = sizeof(sa);
    bind(fd, (struct sockaddr *)&sa, sizeof(sa));
    getsockname(fd, (struct sockaddr *)&sa, &len);
    close(fd);
    return ntohs(sa.sin_port);
}

static void put_u64(uint8_t *p, uint64_t v) {
    for (int i = 0; i < 8; i++)
        p[i] = (uint8_t)(v >> (8 * i));
}

static int port_of(const char *address) {
    return atoi(strrchr(address, ':') + 1);
}

/* A plain blocking client socket connected to 127.0.0.1:'port'. */
static int raw_connect(int port) {
    int fd = socket(AF_INET, SOCK_STREAM, 0);
    struct sockaddr_in sa = {.sin_family = AF_INET,
                             .sin_port = htons((uint16_t)port),
                             .sin_addr.s_addr = htonl(INADDR_LOOPBACK)};
    if (connect(fd, (struct sockaddr *)&sa, sizeof(sa)) != 0) {
        close(fd);
        return -1;
    }
    return fd;
}

static bool raw_send(int fd, const void *buf, size_t len) {
    return send(fd, buf, len, MSG_NOSIGNAL) == (ssize_t)len;
}

/* True once the peer has closed 'fd' (EOF or reset); drains pending data. */
static bool peer_closed(void *arg) {
    int fd = *(int *)arg;
    char buf[64];
    ssize_t n = recv(fd, buf, sizeof(buf), MSG_DONTWAIT);
    return n == 0 || (n < 0 && errno != EAGAIN && errno != EWOULDBLOCK);
}

/* A listening raw socket on 127.0.0.1 (non-blocking accept). */
static int raw_listen(int *port) {
    int fd = socket(AF_INET, SOCK_STREAM, 0);
    struct sockaddr_in sa = {.sin_family = AF_INET, .sin_addr.s_addr = htonl(INADDR_LOOPBACK)};
    socklen_t len = sizeof(sa);
    bind(fd, (struct sockaddr *)&sa, sizeof(sa));
    listen(fd, 4);
    getsockname(fd, (struct sockaddr *)&sa, &len);
    fcntl(fd, F_SETFL, O_NONBLOCK);
    *port = ntohs(sa.sin_port);
    return fd;
}

/* Reads from a raw accepted socket while running the loop. */
struct raw_reader {
    int listen_fd;
    int fd;
    uint8_t buf[256];
    size_t len, want;
};

static bool raw_read_some(void *arg) {
    struct raw_reader *r = arg;
    if (r->fd < 0) {
        r->fd = accept(r->listen_fd, NULL, NULL);
        if (r->fd < 0)
            return false;
        fcntl(r->fd, F_SETFL, O_NONBLOCK);
    }
    ssize_t n = recv(r->fd, r->buf + r->len, sizeof(r->buf) - r->len, 0);
    if (n > 0)
        r->len += (size_t)n;
    return r->len >= r->want;
}

/* ---- A stream reader for streams handed out by the transport ---- */

struct sink {
    uv_stream_t *stream;
    char buf[256];
    size_t len;
    bool closed;
};

static void sink_alloc(uv_handle_t *handle, size_t suggested, uv_buf_t *buf) {
    struct sink *s = handle->data;
    (void)suggested;
    *buf = uv_buf_init(s->buf + s->len, (unsigned)(sizeof(s->buf) - s->len));
}

static void sink_read(uv_stream_t *stream, ssize_t nread, const uv_buf_t *buf) {
    struct sink *s = stream->data;
    (void)buf;
    if (nread > 0)
        s->len += (size_t)nread;
}

static void sink_start(struct sink *s, uv_stream_t *stream) {
    s->stream = stream;
    stream->data = s;
    uv_read_start(stream, sink_alloc, sink_read);
}

static void sink_closed(uv_handle_t *handle) {
    struct sink *s = handle->data;
    s->closed = true;
    transport_stream_free(handle);
}

static void sink_close(struct sink *s) {
    if (s->stream != NULL)
        uv_close((uv_handle_t *)s->stream, sink_closed);
}

struct sink_wait {
    struct sink *sink;
    const char *want;
};

static bool sink_has(void *arg) {
    struct sink_wait *w = arg;
    size_t n = strlen(w->want);
    return w->sink->len >= n && memcmp(w->sink->buf, w->want, n) == 0;
}

/* ---- A standalone transport ---- */

struct accepted {
    raft_id id;
    char address[64];
    struct sink sink;
    int count;
};

static struct accepted accepted;

static void on_accept(struct raft_uv_transport *t, raft_id id, const char *address,
                      uv_stream_t *stream) {
    (void)t;
    accepted.id = id;
    snprintf(accepted.address, sizeof(accepted.address), "%s", address);
    accepted.count++;
    sink_start(&accepted.sink, stream);
}

static bool has_accepted(void *arg) {
    (void)arg;
    return accepted.count > 0;
}

struct connected {
    struct raft_uv_connect req;
    uv_stream_t *stream;
    int status;
    bool done;
};

static void on_connected(struct raft_uv_connect *req, uv_stream_t *stream, int status) {
    struct connected *c = req->data;
    c->stream = stream;
    c->status = status;
    c->done = true;
}

static bool is_connected(void *arg) {
    return ((struct connected *)arg)->done;
}

static bool transport_closed_flag;
static void on_transport_closed(struct raft_uv_transport *t) {
    (void)t;
    transport_closed_flag = true;
}

static bool transport_is_closed(void *arg) {
    (void)arg;
    return transport_closed_flag;
}

/* Closes a transport the way libraft does, then frees it. */
static bool close_transport(struct raft_uv_transport *t,
                            void (*free_fn)(struct raft_uv_transport *)) {
    transport_closed_flag = false;
    t->close(t, on_transport_closed);
    bool ok = run_until(transport_is_closed, NULL, 2000);
    free_fn(t);
    return ok;
}

static void stream_closed(uv_handle_t *handle) {
    raft_free(handle);
}

struct bus_inbox {
    struct sink sinks[4];
    int count;
};

static void on_bus(void *arg, uv_tcp_t *stream) {
    struct bus_inbox *inbox = arg;
    if (inbox->count == 4) {
        uv_close((uv_handle_t *)stream, transport_stream_free);
        return;
    }
    sink_start(&inbox->sinks[inbox->count++], (uv_stream_t *)stream);
}

static bool inbox_has_one(void *arg) {
    return ((struct bus_inbox *)arg)->count >= 1;
}

/* Initialises 't' as libraft would (init, then listen) as member 7 at
 * 127.0.0.1:'port'. */
static bool start_transport(struct raft_uv_transport *t, int port, struct bus_inbox *inbox) {
    char address[32];
    snprintf(address, sizeof(address), "127.0.0.1:%d", port);
    if (transport_init(t, &loop) != 0)
        return false;
    if (inbox != NULL)
        transport_set_bus_cb(t, on_bus, inbox);
    transport_set_handshake_timeout(t, 200);
    return t->init(t, 7, address) == 0 && t->listen(t, on_accept) == 0;
}

/* ---- Tests ---- */

/* What libraft's own TCP transport sends on connect, captured on a raw
 * socket: the reference for our handshake. */
static bool capture_raft_uv_tcp_handshake(uint8_t *out, size_t *len) {
    int port;
    struct raw_reader r = {.listen_fd = raw_listen(&port), .fd = -1, .want = 40};
    struct raft_uv_transport t;
    if (raft_uv_tcp_init(&t, &loop) != 0 || t.init(&t, 7, "127.0.0.1:4321") != 0)
        return false;
    char target[32];
    snprintf(target, sizeof(target), "127.0.0.1:%d", port);
    struct connected c = {0};
    c.req.data = &c;
    bool ok = t.connect(&t, &c.req, 1, target, on_connected) == 0 &&
              run_until(is_connected, &c, 2000) && c.status == 0 &&
              run_until(raw_read_some, &r, 2000);
    if (c.stream != NULL)
        uv_close((uv_handle_t *)c.stream, stream_closed);
    ok = close_transport(&t, raft_uv_tcp_close) && ok;
    memcpy(out, r.buf, r.len);
    *len = r.len;
    close(r.fd);
    close(r.listen_fd);
    return ok;
}

TEST(transport_handshake_matches_raft_uv_tcp_behind_the_preamble) {
    loop_setup();
    uint8_t reference[256];
    size_t reference_len;
    CHECK(capture_raft_uv_tcp_handshake(reference, &reference_len));
    /* 3 x u64 LE (version 1, id 7, field length 16) + "127.0.0.1:4321\0" +
     * one byte of padding, which libraft leaves uninitialised. */
    CHECK_EQ_INT(reference_len, 40);
    CHECK(reference[0] == 1 && reference[8] == 7 && reference[16] == 16);
    CHECK(memcmp(reference + 24, "127.0.0.1:4321", 15) == 0);

    /* Ours, from the same identity. */
    int port;
    struct raw_reader r = {.listen_fd = raw_listen(&port), .fd = -1, .want = 48};
    struct raft_uv_transport t;
    CHECK(transport_init(&t, &loop) == 0);
    CHECK(t.init(&t, 7, "127.0.0.1:4321") == 0);
    char target[32];
    snprintf(target, sizeof(target), "127.0.0.1:%d", port);
    struct connected c = {0};
    c.req.data = &c;
    CHECK(t.connect(&t, &c.req, 1, target, on_connected) == 0);
    CHECK(run_until(is_connected, &c, 2000));
    CHECK_EQ_INT(c.status, 0);
    CHECK(run_until(raw_read_some, &r, 2000));
    CHECK_EQ_INT(r.len, 48);
    CHECK(memcmp(r.buf, TRANSPORT_PREAMBLE_RAFT, 8) == 0);
    CHECK(memcmp(r.buf + 8, reference, 39) == 0);
    CHECK(r.buf[47] == 0); /* we zero the padding */
    /* The stream is libraft's to use: bytes written on it arrive as is. */
    uv_buf_t msg = uv_buf_init("message", 7);
    CHECK(uv_try_write(c.stream, &msg, 1) == 7);
    r.want = 55;
    CHECK(run_until(raw_read_some, &r, 2000));
    CHECK(memcmp(r.buf + 48, "message", 7) == 0);
    uv_close((uv_handle_t *)c.stream, stream_closed);
    CHECK(close_transport(&t, transport_close));
    close(r.fd);
    close(r.listen_fd);
    CHECK(loop_teardown());
}

TEST(transport_accepts_raft_uv_tcp_handshake_and_leaves_following_bytes) {
    loop_setup();
    uint8_t reference[256];
    size_t reference_len;
    CHECK(capture_raft_uv_tcp_handshake(reference, &reference_len));
    memset(&accepted, 0, sizeof(accepted));
    struct raft_uv_transport t;
    int port = free_port();
    CHECK(start_transport(&t, port, NULL));

    /* Preamble, libraft's handshake and a first message in ONE segment. */
    uint8_t packet[300];
    memcpy(packet, TRANSPORT_PREAMBLE_RAFT, 8);
    memcpy(packet + 8, reference, reference_len);
    memcpy(packet + 8 + reference_len, "raft-rpc", 8);
    int fd = raw_connect(port);
    CHECK(fd >= 0);
    CHECK(raw_send(fd, packet, 8 + reference_len + 8));
    CHECK(run_until(has_accepted, NULL, 2000));
    CHECK_EQ_INT(accepted.id, 7);
    CHECK(strcmp(accepted.address, "127.0.0.1:4321") == 0);
    struct sink_wait w = {&accepted.sink, "raft-rpc"};
    CHECK(run_until(sink_has, &w, 2000));
    CHECK_EQ_INT(accepted.sink.len, 8);

    /* Our own connect, to our own listener, byte by byte intact too. */
    char self[32];
    snprintf(self, sizeof(self), "127.0.0.1:%d", port);
    struct connected c = {0};
    c.req.data = &c;
    sink_close(&accepted.sink);
    memset(&accepted, 0, sizeof(accepted));
    CHECK(t.connect(&t, &c.req, 9, self, on_connected) == 0);
    CHECK(run_until(is_connected, &c, 2000) && c.status == 0);
    CHECK(run_until(has_accepted, NULL, 2000));
    CHECK_EQ_INT(accepted.id, 7);
    CHECK(strcmp(accepted.address, self) == 0);
    uv_buf_t msg = uv_buf_init("next", 4);
    CHECK(uv_try_write(c.stream, &msg, 1) == 4);
    struct sink_wait w2 = {&accepted.sink, "next"};
    CHECK(run_until(sink_has, &w2, 2000));
    uv_close((uv_handle_t *)c.stream, stream_closed);
    sink_close(&accepted.sink);
    close(fd);
    CHECK(close_transport(&t, transport_close));
    CHECK(loop_teardown());
}

TEST(transport_closes_bad_preambles_and_handshakes) {
    loop_setup();
    memset(&accepted, 0, sizeof(accepted));
    struct bus_inbox inbox = {0};
    struct raft_uv_transport t;
    int port = free_port();
    CHECK(start_transport(&t, port, NULL)); /* no bus receiver yet */

    uint8_t bad_version[32] = "KRRAFT01";
    put_u64(bad_version + 8, 2);
    struct {
        const void *bytes;
        size_t len;
    } cases[] = {
        {"GARBAGE!more bytes", 18},
        {"KRRAFT0", 7},        /* then EOF */
        {"KRBUS001hello", 13}, /* no bus receiver */
        {bad_version, 32},
    };
    for (size_t i = 0; i < sizeof(cases) / sizeof(cases[0]); i++) {
        int fd = raw_connect(port);
        CHECK(fd >= 0);
        CHECK(raw_send(fd, cases[i].bytes, cases[i].len));
        if (i == 1)
            shutdown(fd, SHUT_WR);
        CHECK(run_until(peer_closed, &fd, 2000));
        close(fd);
    }

    /* Handshakes with an absurd address length, an address without its
     * NUL, or a zero id. */
    uint8_t hs[8 + 24 + 16];
    memcpy(hs, TRANSPORT_PREAMBLE_RAFT, 8);
    uint64_t fields[][3] = {{1, 5, UINT64_MAX}, {1, 5, 16}, {1, 0, 16}};
    for (size_t i = 0; i < 3; i++) {
        for (int k = 0; k < 3; k++)
            put_u64(hs + 8 + 8 * k, fields[i][k]);
        memset(hs + 32, i == 1 ? 'x' : 0, 16);
        memcpy(hs + 32, "1.2.3.4:5", 9);
        int fd = raw_connect(port);
        CHECK(fd >= 0);
        CHECK(raw_send(fd, hs, sizeof(hs)));
        CHECK(run_until(peer_closed, &fd, 2000));
        close(fd);
    }

    /* A peer that stops in the middle of its preamble is dropped after the
     * handshake timeout (200 ms here). */
    int idle = raw_connect(port);
    CHECK(raw_send(idle, "KRB", 3));
    run_for(50);
    CHECK(!peer_closed(&idle));
    CHECK(run_until(peer_closed, &idle, 2000));
    close(idle);
    CHECK_EQ_INT(accepted.count, 0);

    /* The listener still works: a bus receiver gets its preamble split in
     * two writes, with the bytes behind it. */
    transport_set_bus_cb(&t, on_bus, &inbox);
    int fd = raw_connect(port);
    CHECK(raw_send(fd, "KRB", 3));
    run_for(20);
    CHECK(raw_send(fd, "US001split", 10));
    CHECK(run_until(inbox_has_one, &inbox, 2000));
    struct sink_wait w = {&inbox.sinks[0], "split"};
    CHECK(run_until(sink_has, &w, 2000));

    /* Connections still in their handshake when the transport closes are
     * closed with it. */
    int pending = raw_connect(port);
    CHECK(raw_send(pending, "KRRAFT01", 8));
    run_for(20);
    sink_close(&inbox.sinks[0]);
    CHECK(close_transport(&t, transport_close));
    CHECK(peer_closed(&pending));
    close(pending);
    close(fd);
    CHECK(loop_teardown());
}

TEST(transport_cancels_pending_connects_on_close) {
    loop_setup();
    struct raft_uv_transport t;
    CHECK(transport_init(&t, &loop) == 0);
    CHECK(t.init(&t, 3, "127.0.0.1:1") == 0);
    /* Closed before the loop runs: the attempt is still in flight. */
    int port;
    int lfd = raw_listen(&port);
    char target[32];
    snprintf(target, sizeof(target), "127.0.0.1:%d", port);
    struct connected c = {0};
    c.req.data = &c;
    CHECK(t.connect(&t, &c.req, 1, target, on_connected) == 0);
    struct connected bad = {0};
    bad.req.data = &bad;
    CHECK(t.connect(&t, &bad.req, 1, "not-an-address", on_connected) == RAFT_NOCONNECTION);
    CHECK(close_transport(&t, transport_close));
    CHECK(c.done);
    CHECK_EQ_INT(c.status, RAFT_CANCELED);
    CHECK(c.stream == NULL);
    CHECK(!bad.done);
    close(lfd);
    CHECK(loop_teardown());
}

/* ---- Three groups on the shared port ---- */

#define MEMBERS 3

struct member {
    struct group *g;
    char dir[64];
    char address[32];
    uint64_t applied[64];
    size_t napplied;
    bool closed;
    struct bus_inbox inbox;
};

static struct member members[MEMBERS];

static void apply_entry(void *arg, const void *buf, size_t len, void **result) {
    struct member *m = arg;
    uint64_t v = 0;
    if (len == sizeof(v))
        memcpy(&v, buf, sizeof(v));
    if (m->napplied < 64)
        m->applied[m->napplied++] = v;
    *result = NULL;
}

static struct member *leader(void) {
    for (size_t i = 0; i < MEMBERS; i++)
        if (group_is_leader(members[i].g))
            return &members[i];
    return NULL;
}

static bool has_leader(void *arg) {
    (void)arg;
    return leader() != NULL;
}

static size_t wanted_applied;
static bool all_applied(void *arg) {
    (void)arg;
    for (size_t i = 0; i < MEMBERS; i++)
        if (members[i].napplied < wanted_applied)
            return false;
    return true;
}

static void member_closed(void *arg) {
    ((struct member *)arg)->closed = true;
}

static bool all_closed(void *arg) {
    (void)arg;
    for (size_t i = 0; i < MEMBERS; i++)
        if (!members[i].closed)
            return false;
    return true;
}

static size_t proposals_ok;
static void proposal_done(void *arg, int status, void *result) {
    (void)arg;
    (void)result;
    if (status == GROUP_OK)
        proposals_ok++;
}

static bool propose(struct member *m, uint64_t from, size_t n) {
    for (size_t i = 0; i < n; i++) {
        uint64_t *v = malloc(sizeof(*v));
        *v = from + i;
        if (group_propose(m->g, v, sizeof(*v), proposal_done, NULL) != GROUP_OK) {
            free(v);
            return false;
        }
    }
    return true;
}

TEST(three_members_converge_on_the_shared_port_beside_the_bus) {
    loop_setup();
    memset(members, 0, sizeof(members));
    proposals_ok = 0;
    struct group_member list[MEMBERS];
    for (size_t i = 0; i < MEMBERS; i++) {
        struct member *m = &members[i];
        snprintf(m->dir, sizeof(m->dir), "/tmp/kr-transport-XXXXXX");
        CHECK(mkdtemp(m->dir) != NULL);
        snprintf(m->address, sizeof(m->address), "127.0.0.1:%d", free_port());
        list[i].id = i + 1;
        list[i].address = m->address;
    }
    for (size_t i = 0; i < MEMBERS; i++) {
        struct member *m = &members[i];
        struct group_config cfg = {
            .loop = &loop,
            .dir = m->dir,
            .id = i + 1,
            .address = m->address,
            .apply = apply_entry,
            .apply_arg = m,
            .election_timeout_ms = 150,
            .heartbeat_timeout_ms = 30,
            .transport = GROUP_TRANSPORT_SHARED_PORT,
            .bus_cb = on_bus,
            .bus_arg = &m->inbox,
        };
        char err[256];
        CHECK(group_new(&cfg, &m->g, err, sizeof(err)) == GROUP_OK);
        CHECK(group_bootstrap(m->g, list, MEMBERS) == GROUP_OK);
        CHECK(group_start(m->g) == GROUP_OK);
    }
    CHECK(run_until(has_leader, NULL, 10000));
    struct member *l = leader();

    /* Garbage at the leader's port does not disturb it. */
    int junk = raw_connect(port_of(l->address));
    CHECK(raw_send(junk, "\0\0\0\0\0\0\0\1garbage", 15));
    CHECK(run_until(peer_closed, &junk, 2000));
    close(junk);

    CHECK(propose(l, 100, 20));
    wanted_applied = 20;
    CHECK(run_until(all_applied, NULL, 10000));
    CHECK_EQ_INT(proposals_ok, 20);
    for (size_t i = 0; i < MEMBERS; i++)
        CHECK(memcmp(members[i].applied, l->applied, 20 * sizeof(uint64_t)) == 0);

    /* A bus connection to every member's Raft port, preamble and payload in
     * one segment, while Raft traffic flows. */
    int bus_fds[MEMBERS];
    for (size_t i = 0; i < MEMBERS; i++) {
        bus_fds[i] = raw_connect(port_of(members[i].address));
        CHECK(bus_fds[i] >= 0);
        CHECK(raw_send(bus_fds[i], "KRBUS001PING from the bus\r\n", 27));
    }
    CHECK(propose(l, 200, 10));
    wanted_applied = 30;
    for (size_t i = 0; i < MEMBERS; i++) {
        CHECK(run_until(inbox_has_one, &members[i].inbox, 2000));
        struct sink_wait w = {&members[i].inbox.sinks[0], "PING from the bus\r\n"};
        CHECK(run_until(sink_has, &w, 2000));
        CHECK_EQ_INT(members[i].inbox.sinks[0].len, 19);
    }
    CHECK(run_until(all_applied, NULL, 10000));
    for (size_t i = 0; i < MEMBERS; i++)
        CHECK(memcmp(members[i].applied, l->applied, 30 * sizeof(uint64_t)) == 0);

    for (size_t i = 0; i < MEMBERS; i++) {
        sink_close(&members[i].inbox.sinks[0]);
        close(bus_fds[i]);
        group_close(members[i].g, member_closed, &members[i]);
    }
    CHECK(run_until(all_closed, NULL, 5000));
    CHECK(loop_teardown());
    for (size_t i = 0; i < MEMBERS; i++) {
        char cmd[128];
        snprintf(cmd, sizeof(cmd), "rm -rf %s", members[i].dir);
        CHECK(system(cmd) == 0);
    }
}
