/* The cluster bus's sockets, cron and counters (see cluster_bus.h). The
 * protocol's rules are cluster/gossip.c's and the message format
 * cluster/busmsg.c's; this file moves bytes, keeps the links, and turns the
 * rules' results into nodes.conf saves, state updates, log lines and
 * PUBLISH deliveries. It never decides anything about the view itself. */
#include "node/cluster_bus.h"

#include "cluster/busmsg.h"
#include "cluster/gossip.h"
#include "cluster/nodes.h"
#include "node/cluster_mode.h"
#include "node/config.h"
#include "node/log.h"
#include "node/pubsub.h"
#include "node/server.h"
#include "node/shard.h"
#include "raft/transport.h"
#include "resp/writer.h"

#include <arpa/inet.h>
#include <stdlib.h>
#include <string.h>
#include <uv.h>

/* Redis 7.0: clusterCron runs every 100 ms. */
#define CRON_MS 100
/* Read buffers grow in steps of this, up to the frame's length. */
#define READ_CHUNK (64 * 1024)

struct link {
    uv_tcp_t *tcp;             /* tcp->data == this link */
    struct cluster_node *node; /* outbound: the node it reaches; NULL once disowned */
    bool inbound;
    bool connected; /* outbound: connect finished */
    bool closing;
    int64_t ctime_ms;
    char peer_ip[CLUSTER_IP_LEN], local_ip[CLUSTER_IP_LEN];
    char peer_id[CLUSTER_ID_LEN + 1]; /* inbound: the last known sender, "" if none */
    /* the frame being read */
    uint8_t head[BUSMSG_FRAME_HEAD];
    size_t head_have;
    uint8_t *body;
    size_t body_len, body_have, body_cap;
    /* Messages queued in this loop iteration, written together by
     * flush_links (as Redis fills a link's send buffer and writes it once). */
    char *out;
    size_t out_len, out_cap;
    size_t send_pending; /* bytes handed to uv_write and not yet written */
    bool queued;         /* on the flush list */
    struct link *prev, *next;
    struct link *next_queued;
};

struct write_req {
    uv_write_t req;
    struct link *link;
    char *data; /* owned: the link's former output buffer */
    size_t len;
};

static struct {
    struct cluster_state *cs;
    struct gossip *g;
    uv_timer_t cron;
    uv_prepare_t flusher; /* runs flush_links before the loop waits */
    uv_idle_t waker;      /* active while output is queued: the loop does not block */
    struct link *queued;  /* links with output to write */
    bool running;
    struct link *links;
    uint64_t myself_config; /* config_fingerprint() at the last cron */
    uint64_t sent[BUSMSG_TYPE_COUNT], received[BUSMSG_TYPE_COUNT];
    uint8_t read_buf[READ_CHUNK];
} bus;

/* ---- Links ---- */

size_t cluster_bus_link_count(void) {
    size_t n = 0;
    for (const struct link *l = bus.links; l != NULL; l = l->next)
        n++;
    return n;
}

size_t cluster_bus_links_bytes(void) {
    size_t bytes = 0;
    for (const struct link *l = bus.links; l != NULL; l = l->next)
        bytes += sizeof(*l) + sizeof(*l->tcp) + l->body_cap + l->out_cap + l->send_pending;
    return bytes;
}

static void on_link_closed(uv_handle_t *handle) {
    struct link *link = handle->data;
    if (link->inbound)
        transport_stream_free(handle);
    else
        free(handle);
    free(link->body);
    free(link->out);
    free(link);
}

/* Closes 'link' (any time, also from inside its own callbacks): it leaves
 * the list at once and its memory goes in the close callback. */
static void link_close(struct link *link) {
    if (link->closing)
        return;
    link->closing = true;
    if (link->node != NULL) {
        link->node->bus_link = NULL;
        link->node->link_connected = false;
        link->node = NULL;
    }
    if (link->prev != NULL)
        link->prev->next = link->next;
    else
        bus.links = link->next;
    if (link->next != NULL)
        link->next->prev = link->prev;
    link->prev = link->next = NULL;
    if (link->queued) {
        struct link **at = &bus.queued;
        while (*at != link)
            at = &(*at)->next_queued;
        *at = link->next_queued;
        link->queued = false;
    }
    uv_close((uv_handle_t *)link->tcp, on_link_closed);
}

static struct link *link_new(uv_tcp_t *tcp, bool inbound) {
    struct link *link = calloc(1, sizeof(*link));
    if (link == NULL)
        return NULL;
    link->tcp = tcp;
    link->inbound = inbound;
    link->ctime_ms = server_now_ms();
    tcp->data = link;
    link->next = bus.links;
    if (bus.links != NULL)
        bus.links->prev = link;
    bus.links = link;
    return link;
}

static void on_written(uv_write_t *req, int status) {
    struct write_req *w = (struct write_req *)req;
    (void)status; /* a failed write shows up as a read error or EOF too */
    w->link->send_pending -= w->len;
    free(w->data);
    free(w);
}

/* Hands every queued link's output to libuv: one write per link per loop
 * iteration. */
static void flush_links(void) {
    uv_idle_stop(&bus.waker);
    while (bus.queued != NULL) {
        struct link *link = bus.queued;
        bus.queued = link->next_queued;
        link->queued = false;
        struct write_req *w = malloc(sizeof(*w));
        if (w == NULL) {
            log_warning("Out of memory writing to a cluster bus link; closing it");
            link_close(link);
            continue;
        }
        w->link = link;
        w->data = link->out;
        w->len = link->out_len;
        link->out = NULL;
        link->out_len = link->out_cap = 0;
        uv_buf_t buf = uv_buf_init(w->data, (unsigned)w->len);
        if (uv_write(&w->req, (uv_stream_t *)link->tcp, &buf, 1, on_written) != 0) {
            free(w->data);
            free(w);
            link_close(link);
            continue;
        }
        link->send_pending += w->len;
    }
}

static void on_prepare(uv_prepare_t *handle) {
    (void)handle;
    flush_links();
}

/* Output queued after this iteration's prepare phase (by a later prepare
 * or check callback) is written at the next iteration, which the active
 * idle handle keeps from blocking. */
static void on_idle(uv_idle_t *handle) {
    (void)handle;
    flush_links();
}

/* Queues 'len' bytes for 'link' (copied); flush_links writes them. */
static void link_write(struct link *link, const void *data, size_t len) {
    if (link->closing)
        return;
    if (link->out_len + len > link->out_cap) {
        size_t cap = link->out_cap ? link->out_cap : 4096;
        while (cap < link->out_len + len)
            cap *= 2;
        char *grown = realloc(link->out, cap);
        if (grown == NULL) {
            log_warning("Out of memory writing to a cluster bus link; closing it");
            link_close(link);
            return;
        }
        link->out = grown;
        link->out_cap = cap;
    }
    memcpy(link->out + link->out_len, data, len);
    link->out_len += len;
    if (!link->queued) {
        link->queued = true;
        link->next_queued = bus.queued;
        bus.queued = link;
        uv_idle_start(&bus.waker, on_idle);
    }
}

/* Encodes 'm' and writes it to every link in 'links' (count 'n'). */
static void send_to(struct busmsg *m, struct link **links, size_t n) {
    void *frame;
    size_t len;
    int rc = busmsg_encode(m, &frame, &len);
    if (rc != BUSMSG_OK) {
        log_warning("Cannot send a cluster bus %s message: %s", busmsg_type_name(m->type),
                    busmsg_strerror(rc));
        return;
    }
    for (size_t i = 0; i < n; i++) {
        link_write(links[i], frame, len);
        bus.sent[m->type]++;
    }
    free(frame);
}

/* Builds myself's message of 'type' (with gossip for MEET/PING/PONG) and
 * sends it on 'link'. A PING starts the node's ping clock. */
static void send_message(struct link *link, enum busmsg_type type) {
    struct busmsg m;
    busmsg_init(&m);
    if (gossip_build(bus.g, bus.cs, type, &m) == BUSMSG_OK) {
        send_to(&m, &link, 1);
        if (type == BUSMSG_PING && link->node != NULL)
            link->node->ping_sent_ms = server_now_ms();
    }
    busmsg_close(&m);
}

enum targets { TO_ALL, TO_MY_SHARD, TO_OTHER_SHARDS };

/* Every node with a link that finished its handshake, except myself, in
 * 'which' shards (myself's shard: its master and the master's replicas).
 * Returns an owned array (free()) of their links and its size in '*n'. */
static struct link **broadcast_targets(enum targets which, size_t *n) {
    struct cluster_state *cs = bus.cs;
    struct link **targets = malloc((cs->node_count ? cs->node_count : 1) * sizeof(*targets));
    *n = 0;
    if (targets == NULL)
        return NULL;
    const struct cluster_node *me = cs->myself;
    const struct cluster_node *my_master =
        (me->flags & CNODE_SLAVE) && me->master ? me->master : me;
    for (size_t i = 0; i < cs->node_count; i++) {
        struct cluster_node *node = cs->nodes[i];
        if (node->bus_link == NULL || (node->flags & (CNODE_MYSELF | CNODE_HANDSHAKE)))
            continue;
        bool mine = node == my_master || node->master == my_master;
        if ((which == TO_MY_SHARD && !mine) || (which == TO_OTHER_SHARDS && mine))
            continue;
        targets[(*n)++] = node->bus_link;
    }
    return targets;
}

/* ---- Gossip callbacks ---- */

static void op_send_ping(void *arg, struct cluster_node *to) {
    (void)arg;
    if (to->bus_link != NULL)
        send_message(to->bus_link, BUSMSG_PING);
}

static void op_send_fail(void *arg, const struct cluster_node *failing) {
    (void)arg;
    struct busmsg m;
    busmsg_init(&m);
    if (gossip_build(bus.g, bus.cs, BUSMSG_FAIL, &m) == BUSMSG_OK) {
        memcpy(m.fail_about, failing->id, CLUSTER_ID_LEN + 1);
        size_t n;
        struct link **targets = broadcast_targets(TO_ALL, &n);
        if (targets != NULL)
            send_to(&m, targets, n);
        free(targets);
    }
    busmsg_close(&m);
}

static void op_send_update(void *arg, struct cluster_node *to, const struct cluster_node *about) {
    (void)arg;
    if (to->bus_link == NULL)
        return;
    struct busmsg m;
    busmsg_init(&m);
    if (gossip_build(bus.g, bus.cs, BUSMSG_UPDATE, &m) == BUSMSG_OK) {
        memcpy(m.update_id, about->id, CLUSTER_ID_LEN + 1);
        m.update_config_epoch = about->config_epoch;
        gossip_node_slots(bus.cs, about, m.update_slots);
        struct link *link = to->bus_link;
        send_to(&m, &link, 1);
    }
    busmsg_close(&m);
}

static void op_drop_link(void *arg, struct cluster_node *n) {
    (void)arg;
    if (n->bus_link != NULL)
        link_close(n->bus_link);
}

static int64_t op_link_age_ms(void *arg, const struct cluster_node *n) {
    (void)arg;
    const struct link *link = n->bus_link;
    return link != NULL ? server_now_ms() - link->ctime_ms : -1;
}

static void op_log(void *arg, enum gossip_log_level level, const char *text) {
    (void)arg;
    int lvl = level == GOSSIP_LOG_WARNING  ? LOG_WARNING
              : level == GOSSIP_LOG_NOTICE ? LOG_NOTICE
                                           : LOG_VERBOSE;
    log_write(lvl, "%s", text);
}

static void on_node_deleted(void *arg, struct cluster_node *n) {
    (void)arg;
    gossip_node_deleted(bus.g, n);
    if (n->bus_link != NULL)
        link_close(n->bus_link);
}

static void apply_changes(int changed) {
    if (changed & GOSSIP_SAVE)
        cluster_mode_changed();
    else if (changed & GOSSIP_STATE)
        cluster_mode_state_changed();
}

static void configure_gossip(void) {
    struct gossip_config config = {
        .node_timeout_ms = cfg.cluster_node_timeout,
        .announce_ip = cfg.cluster_announce_ip != NULL && cfg.cluster_announce_ip[0] != '\0',
        .allow_replica_migration = true,
    };
    gossip_configure(bus.g, &config);
}

/* ---- Receiving ---- */

static void handle_message(struct link *link, const struct busmsg *m) {
    bus.received[m->type]++;
    struct gossip_link gl = {
        .node = link->node,
        .peer_ip = link->peer_ip,
        .local_ip = link->local_ip,
    };
    configure_gossip();
    int changed = gossip_process(bus.g, bus.cs, m, &gl, server_now_ms());
    bool known = gossip_sender_known(bus.cs, m);
    if (link->inbound && known)
        memcpy(link->peer_id, m->sender, CLUSTER_ID_LEN + 1);
    if (gl.reply_pong && !link->closing)
        send_message(link, BUSMSG_PONG);
    if (known && m->type == BUSMSG_PUBLISH)
        pubsub_publish(m->channel, m->channel_len, m->message, m->message_len);
    else if (known && m->type == BUSMSG_PUBLISHSHARD)
        pubsub_publish_shard(m->channel, m->channel_len, m->message, m->message_len);
    if (gl.close)
        link_close(link);
    apply_changes(changed);
}

static void on_alloc(uv_handle_t *handle, size_t suggested, uv_buf_t *buf) {
    (void)handle, (void)suggested;
    *buf = uv_buf_init((char *)bus.read_buf, sizeof(bus.read_buf));
}

static void bad_input(struct link *link, const char *why) {
    log_verbose("Closing a cluster bus link from %s: %s", link->peer_ip, why);
    link_close(link);
}

/* Consumes 'len' bytes of 'data': frames are decoded and handled as they
 * complete. Stops when the link closes. */
static void consume(struct link *link, const uint8_t *data, size_t len) {
    while (len > 0 && !link->closing) {
        if (link->head_have < BUSMSG_FRAME_HEAD) {
            size_t take = BUSMSG_FRAME_HEAD - link->head_have;
            if (take > len)
                take = len;
            memcpy(link->head + link->head_have, data, take);
            link->head_have += take;
            data += take;
            len -= take;
            if (link->head_have < BUSMSG_FRAME_HEAD)
                return;
            int rc = busmsg_frame_length(link->head, &link->body_len);
            if (rc != BUSMSG_OK) {
                bad_input(link, busmsg_strerror(rc));
                return;
            }
            link->body_have = 0;
            if (len == 0)
                return; /* the body comes with the next read */
        }
        size_t want = link->body_len - link->body_have;
        size_t take = want < len ? want : len;
        if (link->body_have + take > link->body_cap) {
            size_t cap = link->body_cap ? link->body_cap : READ_CHUNK;
            while (cap < link->body_have + take)
                cap *= 2;
            if (cap > link->body_len)
                cap = link->body_len;
            uint8_t *grown = realloc(link->body, cap);
            if (grown == NULL) {
                bad_input(link, "out of memory");
                return;
            }
            link->body = grown;
            link->body_cap = cap;
        }
        memcpy(link->body + link->body_have, data, take);
        link->body_have += take;
        data += take;
        len -= take;
        if (link->body_have < link->body_len)
            return;
        link->head_have = 0;
        struct busmsg m;
        const char *why = NULL;
        int rc = busmsg_decode(&m, link->body, link->body_len, &why);
        if (rc != BUSMSG_OK)
            bad_input(link, why != NULL ? why : busmsg_strerror(rc));
        else
            handle_message(link, &m);
        busmsg_close(&m);
        /* Keep small buffers; give big ones back. */
        if (link->body_cap > READ_CHUNK) {
            free(link->body);
            link->body = NULL;
            link->body_cap = 0;
        }
    }
}

static void on_read(uv_stream_t *stream, ssize_t nread, const uv_buf_t *buf) {
    struct link *link = stream->data;
    (void)buf;
    if (nread < 0) {
        link_close(link);
        return;
    }
    consume(link, bus.read_buf, (size_t)nread);
}

static void address_of(uv_tcp_t *tcp, bool peer, char *ip) {
    struct sockaddr_storage sa;
    int len = sizeof(sa);
    ip[0] = '\0';
    int rc = peer ? uv_tcp_getpeername(tcp, (struct sockaddr *)&sa, &len)
                  : uv_tcp_getsockname(tcp, (struct sockaddr *)&sa, &len);
    if (rc != 0)
        return;
    if (sa.ss_family == AF_INET)
        uv_ip4_name((struct sockaddr_in *)&sa, ip, CLUSTER_IP_LEN);
    else if (sa.ss_family == AF_INET6)
        uv_ip6_name((struct sockaddr_in6 *)&sa, ip, CLUSTER_IP_LEN);
}

/* The shared bus port hands over a connection that sent "KRBUS001". */
static void on_inbound(void *arg, uv_tcp_t *stream) {
    (void)arg;
    if (!bus.running) {
        uv_close((uv_handle_t *)stream, transport_stream_free);
        return;
    }
    struct link *link = link_new(stream, true);
    if (link == NULL) {
        uv_close((uv_handle_t *)stream, transport_stream_free);
        return;
    }
    address_of(stream, true, link->peer_ip);
    address_of(stream, false, link->local_ip);
    uv_tcp_nodelay(stream, 1);
    if (uv_read_start((uv_stream_t *)stream, on_alloc, on_read) != 0)
        link_close(link);
}

/* ---- Connecting ---- */

static void on_connected(uv_connect_t *req, int status) {
    struct link *link = req->data;
    free(req);
    if (link->closing)
        return;
    if (status != 0) {
        if (link->node != NULL)
            log_verbose("Connection with Node %.40s at %s:%d failed: %s", link->node->id,
                        link->node->ip, link->node->cport, uv_strerror(status));
        link_close(link);
        return;
    }
    link->connected = true;
    if (link->node != NULL)
        link->node->link_connected = true;
    address_of(link->tcp, true, link->peer_ip);
    address_of(link->tcp, false, link->local_ip);
    if (uv_read_start((uv_stream_t *)link->tcp, on_alloc, on_read) != 0)
        link_close(link);
}

static void free_handle(uv_handle_t *handle) {
    free(handle);
}

/* Redis's clusterNodeCronHandleReconnect + clusterLinkConnectHandler: opens
 * a link to 'n' and queues the preamble and a MEET (while n is flagged
 * MEET) or a PING, keeping the time of a ping already in flight. */
static void connect_node(struct cluster_node *n) {
    struct sockaddr_storage sa;
    memset(&sa, 0, sizeof(sa));
    if (uv_ip4_addr(n->ip, n->cport, (struct sockaddr_in *)&sa) != 0 &&
        uv_ip6_addr(n->ip, n->cport, (struct sockaddr_in6 *)&sa) != 0)
        return;
    uv_tcp_t *tcp = malloc(sizeof(*tcp));
    uv_connect_t *req = malloc(sizeof(*req));
    if (tcp == NULL || req == NULL || uv_tcp_init(server.loop, tcp) != 0) {
        free(tcp);
        free(req);
        return;
    }
    struct link *link = link_new(tcp, false);
    if (link == NULL) {
        free(req);
        uv_close((uv_handle_t *)tcp, free_handle);
        return;
    }
    link->node = n;
    n->bus_link = link;
    uv_tcp_nodelay(tcp, 1);
    req->data = link;
    if (uv_tcp_connect(req, tcp, (struct sockaddr *)&sa, on_connected) != 0) {
        free(req);
        /* Without a ping in flight failure detection could never start:
         * count this attempt as one (Redis does the same). */
        if (n->ping_sent_ms == 0)
            n->ping_sent_ms = server_now_ms();
        link_close(link);
        return;
    }
    int64_t old_ping_sent = n->ping_sent_ms;
    link_write(link, TRANSPORT_PREAMBLE_BUS, TRANSPORT_PREAMBLE_LEN);
    send_message(link, (n->flags & CNODE_MEET) ? BUSMSG_MEET : BUSMSG_PING);
    if (old_ping_sent != 0)
        n->ping_sent_ms = old_ping_sent;
    n->flags &= ~(uint32_t)CNODE_MEET;
}

/* ---- Cron ---- */

static uint64_t mix(uint64_t h, uint64_t v) {
    return (h ^ v) * 0x100000001b3ULL;
}

/* What peers learn about myself from a message header: role, master,
 * epochs and slots. */
static uint64_t config_fingerprint(const struct cluster_state *cs) {
    const struct cluster_node *me = cs->myself;
    const struct cluster_node *master = (me->flags & CNODE_SLAVE) && me->master ? me->master : me;
    uint64_t h = 0xcbf29ce484222325ULL;
    h = mix(h, me->flags & (CNODE_MASTER | CNODE_SLAVE | CNODE_NOFAILOVER));
    for (int i = 0; i < CLUSTER_ID_LEN; i++)
        h = mix(h, (uint8_t)master->id[i]);
    h = mix(h, master->config_epoch);
    h = mix(h, cs->current_epoch);
    for (unsigned slot = 0; slot < SLOT_COUNT && master->slot_count > 0; slot++)
        if (slotmap_owner(&cs->slots, slot) == master)
            h = mix(h, slot);
    return h;
}

/* Redis's clusterBroadcastPong: when myself's role, master, epochs or
 * slots changed (a command, the shard following Raft, an UPDATE), every
 * peer hears it at once instead of at its next ping. */
static void announce_if_changed(struct cluster_state *cs) {
    uint64_t now = config_fingerprint(cs);
    if (now == bus.myself_config)
        return;
    bus.myself_config = now;
    struct busmsg m;
    busmsg_init(&m);
    if (gossip_build(bus.g, cs, BUSMSG_PONG, &m) == BUSMSG_OK) {
        size_t n;
        struct link **targets = broadcast_targets(TO_ALL, &n);
        if (targets != NULL && n > 0)
            send_to(&m, targets, n);
        free(targets);
    }
    busmsg_close(&m);
}

static void on_cron(uv_timer_t *timer) {
    (void)timer;
    struct cluster_state *cs = cluster_mode_state();
    if (cs == NULL)
        return;
    bus.cs = cs;
    configure_gossip();
    for (size_t i = 0; i < cs->node_count; i++) {
        struct cluster_node *n = cs->nodes[i];
        if ((n->flags & (CNODE_MYSELF | CNODE_NOADDR)) || n->bus_link != NULL || n->ip[0] == '\0' ||
            n->cport == 0)
            continue;
        connect_node(n);
    }
    apply_changes(gossip_cron(bus.g, cs, server_now_ms()));
    announce_if_changed(cs);
}

/* ---- Life cycle ---- */

int cluster_bus_start(struct cluster_state *cs) {
    struct gossip_ops ops = {
        .arg = NULL,
        .send_ping = op_send_ping,
        .send_fail = op_send_fail,
        .send_update = op_send_update,
        .drop_link = op_drop_link,
        .link_age_ms = op_link_age_ms,
        .log = op_log,
    };
    bus.g = gossip_new(&ops, server_random());
    if (bus.g == NULL) {
        log_warning("Out of memory starting the cluster bus");
        return -1;
    }
    bus.cs = cs;
    bus.myself_config = config_fingerprint(cs);
    configure_gossip();
    cluster_state_set_delete_cb(cs, on_node_deleted, NULL);
    uv_timer_init(server.loop, &bus.cron);
    uv_timer_start(&bus.cron, on_cron, CRON_MS, CRON_MS);
    uv_prepare_init(server.loop, &bus.flusher);
    uv_prepare_start(&bus.flusher, on_prepare);
    uv_idle_init(server.loop, &bus.waker);
    bus.running = true;
    shard_set_bus_receiver(on_inbound, NULL);
    return 0;
}

void cluster_bus_stop(void) {
    if (!bus.running)
        return;
    bus.running = false;
    shard_set_bus_receiver(NULL, NULL);
    uv_timer_stop(&bus.cron);
    uv_close((uv_handle_t *)&bus.cron, NULL);
    uv_prepare_stop(&bus.flusher);
    uv_close((uv_handle_t *)&bus.flusher, NULL);
    uv_idle_stop(&bus.waker);
    uv_close((uv_handle_t *)&bus.waker, NULL);
    while (bus.links != NULL)
        link_close(bus.links);
    cluster_state_set_delete_cb(bus.cs, NULL, NULL);
    gossip_free(bus.g);
    bus.g = NULL;
    bus.cs = NULL;
}

/* ---- Commands' side ---- */

void cluster_bus_forget(struct cluster_node *n) {
    struct cluster_state *cs = cluster_mode_state();
    if (bus.g != NULL)
        gossip_forget(bus.g, cs, n, server_now_ms());
    else if (cs != NULL)
        cluster_node_delete(cs, n); /* no bus (stopped): nothing to ban from */
}

unsigned cluster_bus_failure_reports(struct cluster_node *n) {
    if (bus.g == NULL)
        return n->failure_reports;
    configure_gossip();
    return gossip_failure_reports(bus.g, n, server_now_ms());
}

void cluster_bus_publish(const char *channel, size_t chlen, const char *msg, size_t msglen,
                         bool shard, bool applied) {
    if (!bus.running)
        return;
    enum targets which = shard ? TO_MY_SHARD : TO_ALL;
    if (applied) {
        /* Every member of the shard ran it: the master tells the others. */
        if (shard || !(bus.cs->myself->flags & CNODE_MASTER))
            return;
        which = TO_OTHER_SHARDS;
    }
    struct busmsg m;
    busmsg_init(&m);
    enum busmsg_type type = shard ? BUSMSG_PUBLISHSHARD : BUSMSG_PUBLISH;
    if (gossip_build(bus.g, bus.cs, type, &m) == BUSMSG_OK) {
        m.channel = channel;
        m.channel_len = chlen;
        m.message = msg;
        m.message_len = msglen;
        size_t n;
        struct link **targets = broadcast_targets(which, &n);
        if (targets != NULL && n > 0)
            send_to(&m, targets, n);
        free(targets);
    }
    busmsg_close(&m);
}

static size_t append_counts(char *buf, size_t cap, size_t len, const uint64_t *counts,
                            const char *direction) {
    uint64_t total = 0;
    for (int t = 0; t < BUSMSG_TYPE_COUNT; t++) {
        if (counts[t] == 0)
            continue;
        total += counts[t];
        if (len < cap)
            len += (size_t)snprintf(buf + len, cap - len, "cluster_stats_messages_%s_%s:%llu\r\n",
                                    busmsg_type_name((enum busmsg_type)t), direction,
                                    (unsigned long long)counts[t]);
    }
    if (len < cap)
        len += (size_t)snprintf(buf + len, cap - len, "cluster_stats_messages_%s:%llu\r\n",
                                direction, (unsigned long long)total);
    return len < cap ? len : cap - 1;
}

size_t cluster_bus_info(char *buf, size_t cap) {
    if (cap == 0)
        return 0;
    buf[0] = '\0';
    size_t len = append_counts(buf, cap, 0, bus.sent, "sent");
    return append_counts(buf, cap, len, bus.received, "received");
}

void cluster_bus_links_reply(struct resp_out *out) {
    size_t count = 0;
    for (const struct link *l = bus.links; l != NULL; l = l->next)
        if ((!l->inbound && l->node != NULL) || (l->inbound && l->peer_id[0] != '\0'))
            count++;
    resp_add_array(out, (long long)count);
    for (const struct link *l = bus.links; l != NULL; l = l->next) {
        const char *id = l->inbound ? l->peer_id : (l->node != NULL ? l->node->id : "");
        if (id[0] == '\0')
            continue;
        resp_add_map(out, 6);
        resp_add_bulk_cstr(out, "direction");
        resp_add_bulk_cstr(out, l->inbound ? "from" : "to");
        resp_add_bulk_cstr(out, "node");
        resp_add_bulk(out, id, CLUSTER_ID_LEN);
        resp_add_bulk_cstr(out, "create-time");
        resp_add_int(out, l->ctime_ms);
        resp_add_bulk_cstr(out, "events");
        resp_add_bulk_cstr(out, l->send_pending + l->out_len > 0 ? "rw" : "r");
        resp_add_bulk_cstr(out, "send-buffer-allocated");
        resp_add_int(out, (long long)(l->send_pending + l->out_cap));
        resp_add_bulk_cstr(out, "send-buffer-used");
        resp_add_int(out, (long long)(l->send_pending + l->out_len));
    }
}
