/* cluster/busmsg: round trips of every message type, rejection of every
 * truncation, of bytes flipped anywhere, of random garbage and of each
 * field out of its limits, and the frame length checks. */
#include "cluster/busmsg.h"
#include "tests/unit/lib/test.h"

#include <msgpack.h>
#include <stdlib.h>

#define ID_A "aaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaa"
#define ID_B "bbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbb"
#define ID_C "0123456789abcdefghijklmnopqrstuvwxyz0123"

static void fill_ping(struct busmsg *m) {
    busmsg_init(m);
    m->type = BUSMSG_PING;
    memcpy(m->sender, ID_A, 41);
    memcpy(m->master, ID_B, 41);
    m->current_epoch = 12345678901ULL;
    m->config_epoch = 7;
    m->flags = BUSMSG_NODE_SLAVE | BUSMSG_NODE_NOFAILOVER;
    strcpy(m->ip, "127.0.0.1");
    m->port = 7000;
    m->cport = 17000;
    strcpy(m->hostname, "host-a");
    strcpy(m->client_ip, "192.0.2.1");
    m->client_port = 30001;
    for (unsigned s = 0; s < SLOT_COUNT; s += 3)
        busmsg_slot_set(m->slots, s);
    for (int i = 0; i < 5; i++) {
        struct busmsg_gossip *g = busmsg_add_gossip(m);
        memcpy(g->id, i % 2 ? ID_B : ID_C, 41);
        strcpy(g->ip, i % 2 ? "::1" : "10.0.0.1");
        g->port = 6379 + i;
        g->cport = 16379 + i;
        g->flags = BUSMSG_NODE_MASTER | (i == 3 ? BUSMSG_NODE_PFAIL : 0);
        g->ping_sent_s = (uint32_t)i;
        g->pong_recv_s = 1795476474u + (uint32_t)i;
    }
}

/* Encodes 'm' and returns the frame; checks the prefix matches the body. */
static uint8_t *encode(const struct busmsg *m, size_t *len) {
    void *frame = NULL;
    if (busmsg_encode(m, &frame, len) != BUSMSG_OK)
        return NULL;
    size_t body;
    if (busmsg_frame_length(frame, &body) != BUSMSG_OK || body + BUSMSG_FRAME_HEAD != *len) {
        free(frame);
        return NULL;
    }
    return frame;
}

static bool same_header(const struct busmsg *a, const struct busmsg *b) {
    return a->type == b->type && strcmp(a->sender, b->sender) == 0 &&
           a->current_epoch == b->current_epoch && a->config_epoch == b->config_epoch &&
           a->flags == b->flags && strcmp(a->master, b->master) == 0 && strcmp(a->ip, b->ip) == 0 &&
           a->port == b->port && a->cport == b->cport && strcmp(a->hostname, b->hostname) == 0 &&
           strcmp(a->client_ip, b->client_ip) == 0 && a->client_port == b->client_port &&
           memcmp(a->slots, b->slots, sizeof(a->slots)) == 0;
}

TEST(busmsg_ping_round_trip) {
    struct busmsg m, d;
    fill_ping(&m);
    size_t len;
    uint8_t *frame = encode(&m, &len);
    CHECK(frame != NULL);
    const char *why = NULL;
    CHECK_EQ_INT(busmsg_decode(&d, frame + 4, len - 4, &why), BUSMSG_OK);
    CHECK(same_header(&m, &d));
    CHECK_EQ_INT(d.gossip_count, 5);
    for (size_t i = 0; i < 5; i++) {
        CHECK(strcmp(d.gossip[i].id, m.gossip[i].id) == 0);
        CHECK(strcmp(d.gossip[i].ip, m.gossip[i].ip) == 0);
        CHECK_EQ_INT(d.gossip[i].port, m.gossip[i].port);
        CHECK_EQ_INT(d.gossip[i].cport, m.gossip[i].cport);
        CHECK_EQ_INT(d.gossip[i].flags, m.gossip[i].flags);
        CHECK_EQ_INT(d.gossip[i].ping_sent_s, m.gossip[i].ping_sent_s);
        CHECK_EQ_INT(d.gossip[i].pong_recv_s, m.gossip[i].pong_recv_s);
    }
    busmsg_close(&d);
    busmsg_close(&m);
    free(frame);
}

TEST(busmsg_other_types_round_trip) {
    struct busmsg m, d;
    const char *why;
    size_t len;
    uint8_t *frame;

    busmsg_init(&m);
    m.type = BUSMSG_FAIL;
    memcpy(m.sender, ID_A, 41);
    memcpy(m.fail_about, ID_C, 41);
    frame = encode(&m, &len);
    CHECK(frame != NULL);
    CHECK_EQ_INT(busmsg_decode(&d, frame + 4, len - 4, &why), BUSMSG_OK);
    CHECK(same_header(&m, &d));
    CHECK(strcmp(d.fail_about, ID_C) == 0);
    CHECK(d.master[0] == '\0' && d.ip[0] == '\0' && d.gossip_count == 0);
    busmsg_close(&d);
    free(frame);

    busmsg_init(&m);
    m.type = BUSMSG_UPDATE;
    memcpy(m.sender, ID_A, 41);
    memcpy(m.update_id, ID_B, 41);
    m.update_config_epoch = UINT64_MAX;
    busmsg_slot_set(m.update_slots, 0);
    busmsg_slot_set(m.update_slots, SLOT_COUNT - 1);
    frame = encode(&m, &len);
    CHECK(frame != NULL);
    CHECK_EQ_INT(busmsg_decode(&d, frame + 4, len - 4, &why), BUSMSG_OK);
    CHECK(strcmp(d.update_id, ID_B) == 0);
    CHECK(d.update_config_epoch == UINT64_MAX);
    CHECK(memcmp(d.update_slots, m.update_slots, BUSMSG_SLOT_BYTES) == 0);
    CHECK(busmsg_slot_test(d.update_slots, SLOT_COUNT - 1) && !busmsg_slot_test(d.update_slots, 1));
    busmsg_close(&d);
    free(frame);

    static const enum busmsg_type publish_types[] = {BUSMSG_PUBLISH, BUSMSG_PUBLISHSHARD};
    for (int i = 0; i < 2; i++) {
        enum busmsg_type t = publish_types[i];
        busmsg_init(&m);
        m.type = t;
        memcpy(m.sender, ID_A, 41);
        m.channel = "ch\0an";
        m.channel_len = 5;
        m.message = "";
        m.message_len = 0;
        frame = encode(&m, &len);
        CHECK(frame != NULL);
        CHECK_EQ_INT(busmsg_decode(&d, frame + 4, len - 4, &why), BUSMSG_OK);
        CHECK_EQ_INT(d.type, t);
        CHECK(d.channel_len == 5 && memcmp(d.channel, "ch\0an", 5) == 0);
        CHECK(d.message_len == 0);
        busmsg_close(&d);
        free(frame);
    }
}

TEST(busmsg_every_truncation_is_rejected) {
    struct busmsg m, d;
    fill_ping(&m);
    size_t len;
    uint8_t *frame = encode(&m, &len);
    CHECK(frame != NULL);
    size_t body = len - 4;
    for (size_t cut = 0; cut < body; cut++) {
        /* An exact-size copy so reading past the end would be caught. */
        uint8_t *copy = malloc(cut ? cut : 1);
        memcpy(copy, frame + 4, cut);
        const char *why = NULL;
        int rc = busmsg_decode(&d, copy, cut, &why);
        busmsg_close(&d);
        free(copy);
        CHECK_EQ_INT(rc, BUSMSG_ECORRUPT);
        CHECK(why != NULL);
    }
    busmsg_close(&m);
    free(frame);
}

TEST(busmsg_flipped_bytes_and_garbage_never_crash) {
    struct busmsg m, d;
    fill_ping(&m);
    size_t len;
    uint8_t *frame = encode(&m, &len);
    CHECK(frame != NULL);
    size_t body = len - 4;
    uint8_t *copy = malloc(body);
    for (size_t i = 0; i < body; i++) {
        for (int bit = 0; bit < 8; bit += 3) {
            memcpy(copy, frame + 4, body);
            copy[i] ^= (uint8_t)(1u << bit);
            const char *why = NULL;
            int rc = busmsg_decode(&d, copy, body, &why);
            CHECK(rc == BUSMSG_OK || (rc < 0 && why != NULL));
            CHECK(d.gossip_count <= BUSMSG_MAX_GOSSIP);
            busmsg_close(&d);
        }
    }
    free(copy);
    uint64_t x = 88172645463325252ULL;
    for (int round = 0; round < 20000; round++) {
        size_t n = (size_t)(round % 300) + 1;
        uint8_t *junk = malloc(n);
        for (size_t i = 0; i < n; i++) {
            x ^= x << 13, x ^= x >> 7, x ^= x << 17;
            junk[i] = (uint8_t)x;
        }
        if (round % 2)
            junk[0] = 0x9e; /* a 14-element array, to get past the first check */
        const char *why = NULL;
        int rc = busmsg_decode(&d, junk, n, &why);
        busmsg_close(&d);
        free(junk);
        CHECK(rc != BUSMSG_OK);
    }
    busmsg_close(&m);
    free(frame);
}

/* Packs a message by hand with one field replaced, to test each limit. */
enum bad_field {
    BAD_NONE,
    BAD_VERSION,
    BAD_TYPE,
    BAD_SENDER,
    BAD_PORT,
    BAD_FLAGS,
    BAD_SLOTS,
    BAD_GOSSIP_COUNT,
    BAD_GOSSIP_ID,
    BAD_TRAILING,
    BAD_NEGATIVE_EPOCH,
    BAD_IP_NUL,
    BAD_CLIENT_PORT
};

static msgpack_sbuffer pack_custom(enum bad_field bad) {
    msgpack_sbuffer sb;
    msgpack_sbuffer_init(&sb);
    msgpack_packer pk;
    msgpack_packer_init(&pk, &sb, msgpack_sbuffer_write);
    uint8_t slots[BUSMSG_SLOT_BYTES] = {0};
    msgpack_pack_array(&pk, 16);
    msgpack_pack_int(&pk, bad == BAD_VERSION ? 2 : 1);
    msgpack_pack_int(&pk, bad == BAD_TYPE ? BUSMSG_TYPE_COUNT : BUSMSG_PING);
    const char *sender = bad == BAD_SENDER ? "AAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAA" : ID_A;
    msgpack_pack_str_with_body(&pk, sender, 40);
    if (bad == BAD_NEGATIVE_EPOCH)
        msgpack_pack_int(&pk, -1);
    else
        msgpack_pack_uint64(&pk, 1);
    msgpack_pack_uint64(&pk, 1);
    msgpack_pack_uint32(&pk, bad == BAD_FLAGS ? 1u << 20 : BUSMSG_NODE_MASTER);
    msgpack_pack_nil(&pk);
    if (bad == BAD_IP_NUL)
        msgpack_pack_str_with_body(&pk, "1.2\0.3", 6);
    else
        msgpack_pack_str_with_body(&pk, "", 0);
    msgpack_pack_int(&pk, bad == BAD_PORT ? 65536 : 7000);
    msgpack_pack_int(&pk, 17000);
    msgpack_pack_str_with_body(&pk, "", 0);
    msgpack_pack_str_with_body(&pk, "", 0);
    msgpack_pack_int(&pk, bad == BAD_CLIENT_PORT ? -1 : 0);
    msgpack_pack_bin_with_body(&pk, slots, bad == BAD_SLOTS ? sizeof(slots) - 1 : sizeof(slots));
    if (bad == BAD_GOSSIP_COUNT) {
        msgpack_pack_array(&pk, 1000000);
    } else {
        msgpack_pack_array(&pk, 1);
        msgpack_pack_array(&pk, 7);
        msgpack_pack_str_with_body(&pk, bad == BAD_GOSSIP_ID ? "abc" : ID_B,
                                   bad == BAD_GOSSIP_ID ? 3 : 40);
        msgpack_pack_str_with_body(&pk, "127.0.0.1", 9);
        msgpack_pack_int(&pk, 7001);
        msgpack_pack_int(&pk, 17001);
        msgpack_pack_int(&pk, BUSMSG_NODE_MASTER);
        msgpack_pack_int(&pk, 0);
        msgpack_pack_int(&pk, 5);
    }
    msgpack_pack_nil(&pk);
    if (bad == BAD_TRAILING)
        msgpack_pack_nil(&pk);
    return sb;
}

TEST(busmsg_fields_out_of_limits_are_rejected) {
    for (int bad = BAD_NONE; bad <= BAD_CLIENT_PORT; bad++) {
        msgpack_sbuffer sb = pack_custom((enum bad_field)bad);
        struct busmsg d;
        const char *why = NULL;
        int rc = busmsg_decode(&d, sb.data, sb.size, &why);
        busmsg_close(&d);
        msgpack_sbuffer_destroy(&sb);
        if (bad == BAD_NONE) {
            CHECK_EQ_INT(rc, BUSMSG_OK);
        } else if (bad == BAD_VERSION) {
            CHECK_EQ_INT(rc, BUSMSG_EVERSION);
        } else {
            CHECK_EQ_INT(rc, BUSMSG_ECORRUPT);
            CHECK(why != NULL);
        }
    }
}

TEST(busmsg_frame_limits) {
    uint8_t head[4] = {0, 0, 0, 0};
    size_t n = 0;
    CHECK_EQ_INT(busmsg_frame_length(head, &n), BUSMSG_ECORRUPT);
    head[3] = 9;
    CHECK_EQ_INT(busmsg_frame_length(head, &n), BUSMSG_OK);
    CHECK_EQ_INT(n, 9);
    head[0] = 0xff;
    CHECK_EQ_INT(busmsg_frame_length(head, &n), BUSMSG_ETOOBIG);
    struct busmsg m;
    busmsg_init(&m);
    m.type = BUSMSG_PUBLISH;
    memcpy(m.sender, ID_A, 41);
    m.channel = "c";
    m.channel_len = 1;
    m.message = "x";
    m.message_len = (size_t)BUSMSG_MAX_BODY; /* never read: refused by size */
    void *frame;
    size_t len;
    CHECK_EQ_INT(busmsg_encode(&m, &frame, &len), BUSMSG_ETOOBIG);
    CHECK(strcmp(busmsg_strerror(BUSMSG_ETOOBIG), "bus message too large") == 0);
    CHECK(strcmp(busmsg_type_name(BUSMSG_PUBLISHSHARD), "publishshard") == 0);
}

TEST(busmsg_gossip_limit) {
    struct busmsg m;
    busmsg_init(&m);
    size_t added = 0;
    while (busmsg_add_gossip(&m) != NULL)
        added++;
    CHECK_EQ_INT(added, BUSMSG_MAX_GOSSIP);
    busmsg_close(&m);
}
