/* cluster/gossip: the bus protocol's rules on in-memory nodes. Each fixture
 * node has its own view and gossip context; messages are built with
 * gossip_build on the sender, sent through the codec, and processed on the
 * receiver, so a test drives whole exchanges (MEET -> PONG, PING -> PONG)
 * with simulated time. */
#include "cluster/busmsg.h"
#include "cluster/gossip.h"
#include "cluster/nodes.h"
#include "tests/unit/lib/test.h"

#include <stdlib.h>

#define ID_A    "aaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaa"
#define ID_B    "bbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbb"
#define ID_C    "cccccccccccccccccccccccccccccccccccccccc"
#define ID_D    "dddddddddddddddddddddddddddddddddddddddd"
#define TIMEOUT 1000

struct sim_node {
    struct cluster_state *cs;
    struct gossip *g;
    char addr[16]; /* this node's ip */
    int port;
    /* what the ops were asked to do */
    int pings, fails, updates, drops, replica_of;
    char last_fail[CLUSTER_ID_LEN + 1], last_update_to[CLUSTER_ID_LEN + 1],
        last_update_about[CLUSTER_ID_LEN + 1];
    int64_t link_age_ms; /* what link_age_ms answers for every node */
};

static void op_send_ping(void *arg, struct cluster_node *to) {
    struct sim_node *s = arg;
    s->pings++;
    to->ping_sent_ms = 1; /* any non-zero time: tests set real ones */
}
static void op_send_fail(void *arg, const struct cluster_node *failing) {
    struct sim_node *s = arg;
    s->fails++;
    memcpy(s->last_fail, failing->id, CLUSTER_ID_LEN + 1);
}
static void op_send_update(void *arg, struct cluster_node *to, const struct cluster_node *about) {
    struct sim_node *s = arg;
    s->updates++;
    memcpy(s->last_update_to, to->id, CLUSTER_ID_LEN + 1);
    memcpy(s->last_update_about, about->id, CLUSTER_ID_LEN + 1);
}
static void op_drop_link(void *arg, struct cluster_node *n) {
    struct sim_node *s = arg;
    (void)n;
    s->drops++;
}
static int64_t op_link_age(void *arg, const struct cluster_node *n) {
    struct sim_node *s = arg;
    (void)n;
    return s->link_age_ms;
}
static void op_log(void *arg, enum gossip_log_level level, const char *text) {
    (void)arg, (void)level, (void)text;
}
static void op_replica_of(void *arg, struct cluster_node *master) {
    struct sim_node *s = arg;
    (void)master;
    s->replica_of++;
}

static struct sim_node *sim_new(const char *id, int port) {
    struct sim_node *s = calloc(1, sizeof(*s));
    s->cs = cluster_state_new(id, 0);
    struct gossip_ops ops = {s,           op_send_ping, op_send_fail, op_send_update, op_drop_link,
                             op_link_age, op_log,       op_replica_of};
    s->g = gossip_new(&ops, (uint64_t)port);
    struct gossip_config config = {.node_timeout_ms = TIMEOUT, .allow_replica_migration = true};
    gossip_configure(s->g, &config);
    strcpy(s->addr, "127.0.0.1");
    s->port = port;
    s->cs->myself->port = port;
    s->cs->myself->cport = port + 10000;
    return s;
}

static void sim_free(struct sim_node *s) {
    gossip_free(s->g);
    cluster_state_free(s->cs);
    free(s);
}

/* Builds a message of 'type' on 'from' and runs it through the codec into
 * 'out' (busmsg_close it). A FAIL or UPDATE is about node 'about' as
 * 'from' sees it. */
static bool build_about(struct sim_node *from, enum busmsg_type type, const char *about,
                        struct busmsg *out) {
    struct busmsg m;
    busmsg_init(&m);
    if (gossip_build(from->g, from->cs, type, &m) != BUSMSG_OK)
        return false;
    if (about != NULL) {
        const struct cluster_node *n = cluster_node_lookup(from->cs, about, CLUSTER_ID_LEN);
        if (n == NULL)
            return false;
        memcpy(type == BUSMSG_FAIL ? m.fail_about : m.update_id, about, CLUSTER_ID_LEN + 1);
        m.update_config_epoch = n->config_epoch;
        gossip_node_slots(from->cs, n, m.update_slots);
    }
    void *frame;
    size_t len;
    int rc = busmsg_encode(&m, &frame, &len);
    busmsg_close(&m);
    if (rc != BUSMSG_OK)
        return false;
    const char *why;
    rc = busmsg_decode(out, (uint8_t *)frame + 4, len - 4, &why);
    if (rc != BUSMSG_OK) {
        busmsg_close(out);
        free(frame);
        return false;
    }
    /* The decoded message borrows nothing from the frame for these types. */
    free(frame);
    return true;
}

static bool build(struct sim_node *from, enum busmsg_type type, struct busmsg *out) {
    return build_about(from, type, NULL, out);
}

/* Delivers 'm' to 'to'. 'link_node' is the receiver's node for an outbound
 * link (the message is a reply), NULL for an inbound connection. Returns
 * the link outcome. */
static struct gossip_link deliver(struct sim_node *to, const struct busmsg *m,
                                  struct cluster_node *link_node, const char *peer_ip,
                                  int64_t now) {
    struct gossip_link link = {.node = link_node, .peer_ip = peer_ip, .local_ip = to->addr};
    gossip_process(to->g, to->cs, m, &link, now);
    return link;
}

/* 'from' sends 'type' (PING or MEET) to 'to' over its link to 'to_node'
 * (from's view of 'to'); 'to' answers with a PONG when asked. */
static bool exchange(struct sim_node *from, struct cluster_node *to_node, struct sim_node *to,
                     enum busmsg_type type, int64_t now) {
    struct busmsg m;
    if (!build(from, type, &m))
        return false;
    struct gossip_link in = deliver(to, &m, NULL, from->addr, now);
    busmsg_close(&m);
    if (!in.reply_pong)
        return true;
    if (!build(to, BUSMSG_PONG, &m))
        return false;
    deliver(from, &m, to_node, to->addr, now);
    busmsg_close(&m);
    return true;
}

static struct cluster_node *known(struct sim_node *s, const char *id) {
    return cluster_node_lookup(s->cs, id, CLUSTER_ID_LEN);
}

/* Makes 'a' know 'b' as a normal node (as after a handshake). */
static struct cluster_node *introduce(struct sim_node *a, struct sim_node *b) {
    struct cluster_node *n = cluster_node_add(a->cs, b->cs->myself->id, CNODE_MASTER, 0);
    strcpy(n->ip, b->addr);
    n->port = b->port;
    n->cport = b->port + 10000;
    return n;
}

static void assign(struct sim_node *s, struct cluster_node *n, unsigned from, unsigned to) {
    for (unsigned slot = from; slot <= to; slot++)
        cluster_slot_assign(s->cs, slot, n);
}

TEST(gossip_meet_completes_handshake_both_ways) {
    struct sim_node *a = sim_new(ID_A, 7000), *b = sim_new(ID_B, 7001);
    /* CLUSTER MEET on a: a handshake node with a random id. */
    struct cluster_node *hs = cluster_node_add(a->cs, ID_D, CNODE_HANDSHAKE | CNODE_MEET, 0);
    strcpy(hs->ip, "127.0.0.1");
    hs->port = 7001;
    hs->cport = 17001;
    CHECK(a->cs->myself->ip[0] == '\0');
    CHECK(exchange(a, hs, b, BUSMSG_MEET, 100));
    /* b learned its own ip from the MEET and holds a handshake for a. */
    CHECK(strcmp(b->cs->myself->ip, "127.0.0.1") == 0);
    CHECK_EQ_INT(b->cs->node_count, 2);
    struct cluster_node *b_hs = b->cs->nodes[1];
    CHECK(b_hs->flags & CNODE_HANDSHAKE);
    CHECK_EQ_INT(b_hs->port, 7000);
    /* a's handshake node got b's real id from the PONG. */
    CHECK(known(a, ID_B) == hs);
    CHECK(!(hs->flags & (CNODE_HANDSHAKE | CNODE_MEET)));
    CHECK(hs->flags & CNODE_MASTER);
    CHECK(hs->pong_recv_ms == 100 && hs->ping_sent_ms == 0);
    /* b pings a over its own link; a answers; b completes too. */
    CHECK(exchange(b, b_hs, a, BUSMSG_PING, 200));
    CHECK(known(b, ID_A) == b_hs);
    CHECK(!(b_hs->flags & CNODE_HANDSHAKE));
    CHECK(strcmp(a->cs->myself->ip, "127.0.0.1") == 0); /* a learned it from a PING */
    sim_free(a);
    sim_free(b);
}

TEST(gossip_duplicate_handshake_is_dropped) {
    struct sim_node *a = sim_new(ID_A, 7000), *b = sim_new(ID_B, 7001);
    struct cluster_node *nb = introduce(a, b);
    introduce(b, a);
    struct cluster_node *hs = cluster_node_add(a->cs, ID_D, CNODE_HANDSHAKE | CNODE_MEET, 0);
    strcpy(hs->ip, "127.0.0.1");
    hs->port = 7001;
    hs->cport = 17001;
    struct busmsg m;
    CHECK(build(b, BUSMSG_PONG, &m));
    struct gossip_link l = deliver(a, &m, hs, "127.0.0.1", 10);
    busmsg_close(&m);
    CHECK(l.close && l.node == NULL);
    CHECK_EQ_INT(a->cs->node_count, 2);
    CHECK(known(a, ID_B) == nb);
    sim_free(a);
    sim_free(b);
}

TEST(gossip_entries_introduce_nodes_and_forget_bans_them) {
    struct sim_node *a = sim_new(ID_A, 7000), *b = sim_new(ID_B, 7001), *c = sim_new(ID_C, 7002);
    introduce(a, b);
    introduce(a, c);
    struct cluster_node *a_on_b = introduce(b, a);
    /* a's PONGs gossip about c (a random pick among a's nodes). */
    for (int i = 0; i < 50 && known(b, ID_C) == NULL; i++)
        CHECK(exchange(b, a_on_b, a, BUSMSG_PING, 10));
    struct cluster_node *c_on_b = known(b, ID_C);
    CHECK(c_on_b != NULL);
    CHECK(c_on_b->port == 7002 && c_on_b->cport == 17002 && (c_on_b->flags & CNODE_MASTER));
    /* FORGET on b: gossip does not bring c back for a minute. */
    gossip_forget(b->g, b->cs, c_on_b, 1000);
    CHECK(known(b, ID_C) == NULL);
    for (int i = 0; i < 50; i++)
        CHECK(exchange(b, a_on_b, a, BUSMSG_PING, 2000));
    CHECK(known(b, ID_C) == NULL);
    CHECK(gossip_is_banned(b->g, ID_C, 60999));
    for (int i = 0; i < 50 && known(b, ID_C) == NULL; i++)
        CHECK(exchange(b, a_on_b, a, BUSMSG_PING, 61001));
    CHECK(known(b, ID_C) != NULL);
    sim_free(a);
    sim_free(b);
    sim_free(c);
}

TEST(gossip_slots_move_to_the_newer_epoch_and_stale_senders_get_update) {
    struct sim_node *a = sim_new(ID_A, 7000), *b = sim_new(ID_B, 7001);
    struct cluster_node *b_on_a = introduce(a, b);
    struct cluster_node *c_on_a = cluster_node_add(a->cs, ID_C, CNODE_MASTER, 0);
    c_on_a->config_epoch = 1;
    assign(a, c_on_a, 0, 99);
    /* b claims 0-49 with epoch 2: it wins them. */
    assign(b, b->cs->myself, 0, 49);
    b->cs->myself->config_epoch = 2;
    b->cs->current_epoch = 2;
    struct busmsg m;
    CHECK(build(b, BUSMSG_PING, &m));
    deliver(a, &m, NULL, "127.0.0.1", 10);
    busmsg_close(&m);
    CHECK_EQ_INT(b_on_a->slot_count, 50);
    CHECK_EQ_INT(c_on_a->slot_count, 50);
    CHECK(slotmap_owner(&a->cs->slots, 0) == b_on_a);
    CHECK_EQ_INT(b_on_a->config_epoch, 2);
    CHECK_EQ_INT(a->cs->current_epoch, 2);
    CHECK_EQ_INT(a->updates, 0);
    /* c moves on to epoch 5 with 0-99; b still claims 0-49 at epoch 2. */
    c_on_a->config_epoch = 5;
    assign(a, c_on_a, 0, 99);
    CHECK(build(b, BUSMSG_PING, &m));
    deliver(a, &m, NULL, "127.0.0.1", 20);
    busmsg_close(&m);
    CHECK_EQ_INT(c_on_a->slot_count, 100);
    CHECK_EQ_INT(a->updates, 1);
    CHECK(strcmp(a->last_update_to, ID_B) == 0 && strcmp(a->last_update_about, ID_C) == 0);
    /* The UPDATE reaches b: it loses every slot and follows c. */
    struct cluster_node *a_on_b = introduce(b, a);
    (void)a_on_b;
    struct cluster_node *c_on_b = cluster_node_add(b->cs, ID_C, CNODE_MASTER, 0);
    CHECK(build_about(a, BUSMSG_UPDATE, ID_C, &m));
    CHECK_EQ_INT(m.update_config_epoch, 5);
    deliver(b, &m, NULL, "127.0.0.1", 30);
    busmsg_close(&m);
    CHECK_EQ_INT(c_on_b->slot_count, 100);
    CHECK_EQ_INT(b->cs->myself->slot_count, 0);
    CHECK(b->cs->myself->flags & CNODE_SLAVE);
    CHECK(b->cs->myself->master == c_on_b);
    CHECK_EQ_INT(b->replica_of, 1);
    sim_free(a);
    sim_free(b);
}

TEST(gossip_epoch_collision_bumps_the_smaller_id) {
    struct sim_node *a = sim_new(ID_A, 7000), *b = sim_new(ID_B, 7001);
    introduce(a, b);
    introduce(b, a);
    a->cs->myself->config_epoch = b->cs->myself->config_epoch = 3;
    a->cs->current_epoch = b->cs->current_epoch = 3;
    struct busmsg m;
    CHECK(build(a, BUSMSG_PING, &m));
    deliver(b, &m, NULL, "127.0.0.1", 10);
    busmsg_close(&m);
    CHECK_EQ_INT(b->cs->myself->config_epoch, 3); /* a's id is smaller: b keeps it */
    CHECK(build(b, BUSMSG_PING, &m));
    deliver(a, &m, NULL, "127.0.0.1", 10);
    busmsg_close(&m);
    CHECK_EQ_INT(a->cs->myself->config_epoch, 4);
    CHECK_EQ_INT(a->cs->current_epoch, 4);
    sim_free(a);
    sim_free(b);
}

TEST(gossip_role_changes_follow_the_sender) {
    struct sim_node *a = sim_new(ID_A, 7000), *b = sim_new(ID_B, 7001);
    struct cluster_node *b_on_a = introduce(a, b);
    struct cluster_node *c_on_a = cluster_node_add(a->cs, ID_C, CNODE_MASTER, 0);
    struct cluster_node *c_on_b = cluster_node_add(b->cs, ID_C, CNODE_MASTER, 0);
    assign(a, b_on_a, 0, 9);
    cluster_node_set_master(b->cs, b->cs->myself, c_on_b);
    struct busmsg m;
    CHECK(build(b, BUSMSG_PING, &m));
    CHECK(strcmp(m.master, ID_C) == 0);
    deliver(a, &m, NULL, "127.0.0.1", 10);
    busmsg_close(&m);
    CHECK(b_on_a->flags & CNODE_SLAVE);
    CHECK(b_on_a->master == c_on_a);
    CHECK_EQ_INT(b_on_a->slot_count, 0);
    /* And back to master. */
    cluster_node_set_master(b->cs, b->cs->myself, NULL);
    CHECK(build(b, BUSMSG_PING, &m));
    deliver(a, &m, NULL, "127.0.0.1", 20);
    busmsg_close(&m);
    CHECK(b_on_a->flags & CNODE_MASTER);
    CHECK(b_on_a->master == NULL);
    sim_free(a);
    sim_free(b);
}

TEST(gossip_pfail_then_fail_by_quorum_then_cleared) {
    struct sim_node *a = sim_new(ID_A, 7000), *b = sim_new(ID_B, 7001);
    struct cluster_node *b_on_a = introduce(a, b);
    struct cluster_node *c_on_a = cluster_node_add(a->cs, ID_C, CNODE_MASTER, 0);
    strcpy(c_on_a->ip, "127.0.0.1");
    c_on_a->port = 7002;
    c_on_a->cport = 17002;
    struct cluster_node *a_on_b = introduce(b, a);
    struct cluster_node *c_on_b = cluster_node_add(b->cs, ID_C, CNODE_MASTER, 0);
    strcpy(c_on_b->ip, "127.0.0.1");
    c_on_b->port = 7002;
    c_on_b->cport = 17002;
    /* Three masters with slots: quorum 2. */
    assign(a, a->cs->myself, 0, 9);
    assign(a, b_on_a, 10, 19);
    assign(a, c_on_a, 20, SLOT_COUNT - 1);
    assign(b, a_on_b, 0, 9);
    assign(b, b->cs->myself, 10, 19);
    assign(b, c_on_b, 20, SLOT_COUNT - 1);
    cluster_update_state(a->cs, 5000, true, TIMEOUT);
    cluster_update_state(b->cs, 5000, true, TIMEOUT);
    CHECK_EQ_INT(a->cs->size, 3);
    /* c stops answering: a ping waits longer than the timeout on both. */
    int64_t now = 10000;
    c_on_a->ping_sent_ms = c_on_b->ping_sent_ms = now - TIMEOUT - 1;
    c_on_a->data_recv_ms = c_on_b->data_recv_ms = now - TIMEOUT - 1;
    CHECK(gossip_cron(a->g, a->cs, now) & GOSSIP_STATE);
    gossip_cron(b->g, b->cs, now);
    CHECK(c_on_a->flags & CNODE_PFAIL);
    CHECK(c_on_b->flags & CNODE_PFAIL);
    gossip_cron(b->g, b->cs, now + 1); /* counts its PFAIL nodes */
    /* b's ping carries c as PFAIL: with a's own view that is 2 of 3. */
    struct busmsg m;
    CHECK(build(b, BUSMSG_PING, &m));
    bool carries_c = false;
    for (size_t i = 0; i < m.gossip_count; i++)
        carries_c |= strcmp(m.gossip[i].id, ID_C) == 0 && (m.gossip[i].flags & BUSMSG_NODE_PFAIL);
    CHECK(carries_c);
    deliver(a, &m, NULL, "127.0.0.1", now + 10);
    busmsg_close(&m);
    CHECK(c_on_a->flags & CNODE_FAIL);
    CHECK(!(c_on_a->flags & CNODE_PFAIL));
    CHECK_EQ_INT(a->fails, 1);
    CHECK(strcmp(a->last_fail, ID_C) == 0);
    /* The FAIL broadcast reaches b. */
    CHECK(build_about(a, BUSMSG_FAIL, ID_C, &m));
    deliver(b, &m, NULL, "127.0.0.1", now + 20);
    busmsg_close(&m);
    CHECK(c_on_b->flags & CNODE_FAIL);
    /* c answers again while still serving slots: FAIL stays until twice the
     * node timeout has passed. */
    struct sim_node *c = sim_new(ID_C, 7002);
    assign(c, c->cs->myself, 20, SLOT_COUNT - 1);
    CHECK(build(c, BUSMSG_PONG, &m));
    deliver(a, &m, c_on_a, "127.0.0.1", now + 100);
    CHECK(c_on_a->flags & CNODE_FAIL);
    deliver(a, &m, c_on_a, "127.0.0.1", now + 10 + 2 * TIMEOUT + 1);
    busmsg_close(&m);
    CHECK(!(c_on_a->flags & CNODE_FAIL));
    sim_free(a);
    sim_free(b);
    sim_free(c);
}

TEST(gossip_failure_reports_expire) {
    struct sim_node *a = sim_new(ID_A, 7000), *b = sim_new(ID_B, 7001);
    introduce(a, b);
    struct cluster_node *c_on_a = cluster_node_add(a->cs, ID_C, CNODE_MASTER, 0);
    struct cluster_node *a_on_b = introduce(b, a);
    (void)a_on_b;
    struct cluster_node *c_on_b = cluster_node_add(b->cs, ID_C, CNODE_MASTER, 0);
    strcpy(c_on_b->ip, "127.0.0.1");
    c_on_b->port = 7002;
    c_on_b->cport = 17002;
    c_on_b->flags |= CNODE_PFAIL;
    gossip_cron(b->g, b->cs, 1); /* counts the PFAIL node for gossip */
    struct busmsg m;
    CHECK(build(b, BUSMSG_PING, &m));
    deliver(a, &m, NULL, "127.0.0.1", 1000);
    busmsg_close(&m);
    CHECK_EQ_INT(gossip_failure_reports(a->g, c_on_a, 1000), 1);
    CHECK_EQ_INT(c_on_a->failure_reports, 1);
    CHECK_EQ_INT(gossip_failure_reports(a->g, c_on_a, 1000 + 2 * TIMEOUT), 1);
    CHECK_EQ_INT(gossip_failure_reports(a->g, c_on_a, 1001 + 2 * TIMEOUT), 0);
    /* A report by a node that is deleted goes with it. */
    CHECK(build(b, BUSMSG_PING, &m));
    deliver(a, &m, NULL, "127.0.0.1", 5000);
    busmsg_close(&m);
    CHECK_EQ_INT(gossip_failure_reports(a->g, c_on_a, 5000), 1);
    gossip_forget(a->g, a->cs, known(a, ID_B), 5000);
    CHECK_EQ_INT(gossip_failure_reports(a->g, c_on_a, 5000), 0);
    sim_free(a);
    sim_free(b);
}

TEST(gossip_cron_pings_expires_handshakes_and_drops_silent_links) {
    struct sim_node *a = sim_new(ID_A, 7000);
    struct cluster_node *b = cluster_node_add(a->cs, ID_B, CNODE_MASTER, 0);
    strcpy(b->ip, "127.0.0.1");
    b->port = 7001;
    b->cport = 17001;
    struct cluster_node *hs = cluster_node_add(a->cs, ID_D, CNODE_HANDSHAKE, 0);
    (void)hs;
    /* pong older than half the timeout and no ping in flight: ping. */
    b->pong_recv_ms = 0;
    gossip_cron(a->g, a->cs, 600);
    CHECK_EQ_INT(a->pings, 1);
    CHECK(b->ping_sent_ms != 0);
    CHECK(known(a, ID_D) != NULL);
    /* Handshakes live max(timeout, 1 s). */
    CHECK(gossip_cron(a->g, a->cs, 1001) & GOSSIP_SAVE);
    CHECK(known(a, ID_D) == NULL);
    sim_free(a);
}

TEST(gossip_mismatching_id_marks_noaddr) {
    struct sim_node *a = sim_new(ID_A, 7000), *b = sim_new(ID_B, 7001);
    struct cluster_node *c_on_a = cluster_node_add(a->cs, ID_C, CNODE_MASTER, 0);
    strcpy(c_on_a->ip, "127.0.0.1");
    c_on_a->port = 7001;
    c_on_a->cport = 17001;
    struct busmsg m;
    CHECK(build(b, BUSMSG_PONG, &m));
    struct gossip_link l = deliver(a, &m, c_on_a, "127.0.0.1", 10);
    busmsg_close(&m);
    CHECK(l.close);
    CHECK(c_on_a->flags & CNODE_NOADDR);
    CHECK(c_on_a->port == 0 && c_on_a->ip[0] == '\0');
    sim_free(a);
    sim_free(b);
}

TEST(gossip_entry_choice) {
    struct sim_node *a = sim_new(ID_A, 7000);
    char id[CLUSTER_ID_LEN + 1];
    for (int i = 0; i < 39; i++) {
        gossip_random_id(a->g, id);
        struct cluster_node *n = cluster_node_add(a->cs, id, CNODE_MASTER, 0);
        strcpy(n->ip, "127.0.0.1");
        n->port = 8000 + i;
        n->cport = 18000 + i;
        if (i == 5)
            n->flags |= CNODE_PFAIL;
        if (i == 6)
            n->flags = CNODE_HANDSHAKE;
    }
    gossip_cron(a->g, a->cs, 1);
    struct busmsg m;
    busmsg_init(&m);
    CHECK_EQ_INT(gossip_build(a->g, a->cs, BUSMSG_PING, &m), BUSMSG_OK);
    /* 40 nodes: 4 random entries plus the PFAIL node. */
    CHECK_EQ_INT(m.gossip_count, 5);
    for (size_t i = 0; i < m.gossip_count; i++) {
        CHECK(strcmp(m.gossip[i].id, ID_A) != 0);
        CHECK(!(m.gossip[i].flags & BUSMSG_NODE_HANDSHAKE));
        for (size_t j = 0; j < i; j++)
            CHECK(strcmp(m.gossip[i].id, m.gossip[j].id) != 0);
    }
    busmsg_close(&m);
    /* A FAIL carries no gossip. */
    busmsg_init(&m);
    CHECK_EQ_INT(gossip_build(a->g, a->cs, BUSMSG_FAIL, &m), BUSMSG_OK);
    CHECK_EQ_INT(m.gossip_count, 0);
    busmsg_close(&m);
    /* Two nodes: nothing to gossip about. */
    struct sim_node *b = sim_new(ID_B, 7001);
    introduce(b, a);
    busmsg_init(&m);
    CHECK_EQ_INT(gossip_build(b->g, b->cs, BUSMSG_PING, &m), BUSMSG_OK);
    CHECK_EQ_INT(m.gossip_count, 0);
    busmsg_close(&m);
    sim_free(a);
    sim_free(b);
}

TEST(gossip_replica_header_carries_master_slots_and_epoch) {
    struct sim_node *a = sim_new(ID_A, 7000);
    struct cluster_node *m_node = cluster_node_add(a->cs, ID_B, CNODE_MASTER, 0);
    m_node->config_epoch = 9;
    assign(a, m_node, 100, 200);
    cluster_node_set_master(a->cs, a->cs->myself, m_node);
    struct busmsg m;
    busmsg_init(&m);
    CHECK_EQ_INT(gossip_build(a->g, a->cs, BUSMSG_PING, &m), BUSMSG_OK);
    CHECK_EQ_INT(m.config_epoch, 9);
    CHECK(strcmp(m.master, ID_B) == 0);
    CHECK(m.flags & BUSMSG_NODE_SLAVE);
    CHECK(busmsg_slot_test(m.slots, 100) && busmsg_slot_test(m.slots, 200));
    CHECK(!busmsg_slot_test(m.slots, 99) && !busmsg_slot_test(m.slots, 201));
    CHECK(m.ip[0] == '\0'); /* not announced */
    busmsg_close(&m);
    sim_free(a);
}

TEST(gossip_ignores_fail_and_update_from_unknown_or_stale) {
    struct sim_node *a = sim_new(ID_A, 7000), *b = sim_new(ID_B, 7001);
    struct cluster_node *c_on_a = cluster_node_add(a->cs, ID_C, CNODE_MASTER, 0);
    c_on_a->config_epoch = 5;
    cluster_node_add(b->cs, ID_C, CNODE_MASTER, 0)->config_epoch = 4;
    /* b is unknown to a: its FAIL and UPDATE change nothing. */
    struct busmsg m;
    CHECK(build_about(b, BUSMSG_FAIL, ID_C, &m));
    deliver(a, &m, NULL, "127.0.0.1", 10);
    busmsg_close(&m);
    CHECK(!(c_on_a->flags & CNODE_FAIL));
    introduce(a, b);
    /* Known now, but the UPDATE is older than what a knows. */
    assign(b, known(b, ID_C), 0, 9);
    CHECK(build_about(b, BUSMSG_UPDATE, ID_C, &m));
    deliver(a, &m, NULL, "127.0.0.1", 20);
    busmsg_close(&m);
    CHECK_EQ_INT(c_on_a->slot_count, 0);
    CHECK_EQ_INT(c_on_a->config_epoch, 5);
    /* A FAIL about myself is ignored too. */
    introduce(b, a);
    CHECK(build_about(b, BUSMSG_FAIL, ID_A, &m));
    deliver(a, &m, NULL, "127.0.0.1", 30);
    busmsg_close(&m);
    CHECK(!(a->cs->myself->flags & CNODE_FAIL));
    /* From a known sender, a FAIL marks the node. */
    CHECK(build_about(b, BUSMSG_FAIL, ID_C, &m));
    deliver(a, &m, NULL, "127.0.0.1", 40);
    busmsg_close(&m);
    CHECK(c_on_a->flags & CNODE_FAIL);
    CHECK_EQ_INT(c_on_a->fail_time_ms, 40);
    sim_free(a);
    sim_free(b);
}

TEST(gossip_ping_from_a_new_address_updates_it) {
    struct sim_node *a = sim_new(ID_A, 7000), *b = sim_new(ID_B, 7001);
    struct cluster_node *b_on_a = introduce(a, b);
    b->port = 7101; /* b restarted elsewhere */
    b->cs->myself->port = 7101;
    b->cs->myself->cport = 17101;
    strcpy(b->addr, "10.0.0.2");
    struct busmsg m;
    CHECK(build(b, BUSMSG_PING, &m));
    struct gossip_link l = deliver(a, &m, NULL, b->addr, 10);
    busmsg_close(&m);
    CHECK(l.reply_pong);
    CHECK(strcmp(b_on_a->ip, "10.0.0.2") == 0);
    CHECK(b_on_a->port == 7101 && b_on_a->cport == 17101);
    CHECK_EQ_INT(a->drops, 1);
    /* A PONG (not a PING) never moves a node. */
    b->cs->myself->port = 7201;
    CHECK(build(b, BUSMSG_PONG, &m));
    deliver(a, &m, NULL, b->addr, 20);
    busmsg_close(&m);
    CHECK_EQ_INT(b_on_a->port, 7101);
    sim_free(a);
    sim_free(b);
}

TEST(gossip_pong_clears_pfail_and_peers_refresh_pong_times) {
    struct sim_node *a = sim_new(ID_A, 7000), *b = sim_new(ID_B, 7001);
    struct cluster_node *b_on_a = introduce(a, b);
    struct cluster_node *c_on_a = cluster_node_add(a->cs, ID_C, CNODE_MASTER, 0);
    strcpy(c_on_a->ip, "127.0.0.1");
    c_on_a->port = 7002;
    c_on_a->cport = 17002;
    b_on_a->flags |= CNODE_PFAIL;
    b_on_a->ping_sent_ms = 5;
    struct busmsg m;
    CHECK(build(b, BUSMSG_PONG, &m));
    deliver(a, &m, b_on_a, "127.0.0.1", 100);
    busmsg_close(&m);
    CHECK(!(b_on_a->flags & CNODE_PFAIL));
    CHECK(b_on_a->ping_sent_ms == 0 && b_on_a->pong_recv_ms == 100);
    /* b heard from c at second 50: a takes it while no ping is in flight,
     * but never a time more than 500 ms ahead of its own clock. */
    struct cluster_node *c_on_b = cluster_node_add(b->cs, ID_C, CNODE_MASTER, 0);
    strcpy(c_on_b->ip, "127.0.0.1");
    c_on_b->port = 7002;
    c_on_b->cport = 17002;
    c_on_b->pong_recv_ms = 50000;
    c_on_b->slot_count = 0;
    introduce(b, a);
    for (int i = 0; i < 50 && c_on_a->pong_recv_ms == 0; i++) {
        CHECK(build(b, BUSMSG_PING, &m));
        deliver(a, &m, NULL, "127.0.0.1", 49000);
        busmsg_close(&m);
    }
    CHECK_EQ_INT(c_on_a->pong_recv_ms, 0); /* 50 s is ahead of 49 s + 500 ms */
    for (int i = 0; i < 50 && c_on_a->pong_recv_ms == 0; i++) {
        CHECK(build(b, BUSMSG_PING, &m));
        deliver(a, &m, NULL, "127.0.0.1", 60000);
        busmsg_close(&m);
    }
    CHECK_EQ_INT(c_on_a->pong_recv_ms, 50000);
    sim_free(a);
    sim_free(b);
}

TEST(gossip_failing_node_takes_the_address_a_peer_sees) {
    struct sim_node *a = sim_new(ID_A, 7000), *b = sim_new(ID_B, 7001);
    introduce(a, b);
    struct cluster_node *c_on_a = cluster_node_add(a->cs, ID_C, CNODE_MASTER | CNODE_PFAIL, 0);
    strcpy(c_on_a->ip, "127.0.0.1");
    c_on_a->port = 7002;
    c_on_a->cport = 17002;
    introduce(b, a);
    struct cluster_node *c_on_b = cluster_node_add(b->cs, ID_C, CNODE_MASTER, 0);
    strcpy(c_on_b->ip, "127.0.0.1");
    c_on_b->port = 7302;
    c_on_b->cport = 17302;
    struct busmsg m;
    for (int i = 0; i < 50 && c_on_a->port != 7302; i++) {
        CHECK(build(b, BUSMSG_PING, &m));
        deliver(a, &m, NULL, "127.0.0.1", 10);
        busmsg_close(&m);
    }
    CHECK(c_on_a->port == 7302 && c_on_a->cport == 17302);
    CHECK(a->drops >= 1);
    sim_free(a);
    sim_free(b);
}

TEST(gossip_cron_drops_a_silent_link_and_counts_data_as_life) {
    struct sim_node *a = sim_new(ID_A, 7000);
    struct cluster_node *b = cluster_node_add(a->cs, ID_B, CNODE_MASTER, 0);
    strcpy(b->ip, "127.0.0.1");
    b->port = 7001;
    b->cport = 17001;
    b->pong_recv_ms = 10000;
    b->ping_sent_ms = 10000;
    b->data_recv_ms = 10000;
    /* A fresh link is never dropped. */
    gossip_cron(a->g, a->cs, 10000 + TIMEOUT / 2 + 1);
    CHECK_EQ_INT(a->drops, 0);
    CHECK(!(b->flags & CNODE_PFAIL));
    /* One older than the timeout, silent for half of it while a ping
     * waits: reconnect. */
    a->link_age_ms = TIMEOUT + 1;
    gossip_cron(a->g, a->cs, 10000 + TIMEOUT / 2 + 1);
    CHECK_EQ_INT(a->drops, 1);
    a->link_age_ms = 0;
    /* Data counts as a sign of life: no PFAIL while it flows. */
    b->data_recv_ms = 10000 + TIMEOUT;
    gossip_cron(a->g, a->cs, 10000 + TIMEOUT + 10);
    CHECK(!(b->flags & CNODE_PFAIL));
    gossip_cron(a->g, a->cs, 10000 + 2 * TIMEOUT + 1);
    CHECK(b->flags & CNODE_PFAIL);
    sim_free(a);
}

TEST(gossip_no_epoch_collision_handling_for_replicas) {
    struct sim_node *a = sim_new(ID_A, 7000), *b = sim_new(ID_B, 7001);
    struct cluster_node *b_on_a = introduce(a, b);
    struct cluster_node *m = cluster_node_add(a->cs, ID_C, CNODE_MASTER, 0);
    m->config_epoch = 3;
    cluster_node_set_master(a->cs, a->cs->myself, m);
    (void)b_on_a;
    b->cs->myself->config_epoch = 3;
    b->cs->current_epoch = 3;
    introduce(b, a);
    struct busmsg msg;
    CHECK(build(b, BUSMSG_PING, &msg));
    deliver(a, &msg, NULL, "127.0.0.1", 10);
    busmsg_close(&msg);
    CHECK_EQ_INT(a->cs->current_epoch, 3);
    CHECK_EQ_INT(a->cs->myself->config_epoch, 0);
    sim_free(a);
    sim_free(b);
}
