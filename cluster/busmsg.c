/* The cluster bus message codec (see busmsg.h): frames, msgpack encoding
 * with msgpack-c's packer, and a strict decoder of exactly the subset the
 * format uses, on storage/mpread rather than msgpack_unpack because
 * msgpack-c allocates arrays at the size their header claims; here every
 * declared size is checked against the bytes left first.
 *
 * It knows the wire only: what a message means is cluster/gossip.c's. */
#include "cluster/busmsg.h"

#include "storage/mpread.h"

#include <msgpack.h>
#include <stdlib.h>
#include <string.h>

/* Fields of the top-level array. */
#define BODY_FIELDS 16
/* Fields of one gossip entry. */
#define GOSSIP_FIELDS 7
/* A gossip entry takes at least this many bytes: a fixarray header, a
 * 42-byte str8 id, a fixstr ip and five positive fixints. */
#define GOSSIP_MIN_BYTES (1 + 42 + 1 + 5)

const char *busmsg_strerror(int code) {
    switch (code) {
#define X(name, value, text)                                                                       \
    case value:                                                                                    \
        return text;
        BUSMSG_ERRORS(X)
#undef X
    default:
        return "unknown bus message error";
    }
}

const char *busmsg_type_name(enum busmsg_type type) {
    static const char *const names[BUSMSG_TYPE_COUNT] = {
        "ping", "pong", "meet", "fail", "publish", "update", "publishshard",
    };
    return (unsigned)type < BUSMSG_TYPE_COUNT ? names[type] : "unknown";
}

void busmsg_init(struct busmsg *m) {
    memset(m, 0, sizeof(*m));
}

void busmsg_close(struct busmsg *m) {
    free(m->gossip);
    m->gossip = NULL;
    m->gossip_count = m->gossip_cap = 0;
}

struct busmsg_gossip *busmsg_add_gossip(struct busmsg *m) {
    if (m->gossip_count >= BUSMSG_MAX_GOSSIP)
        return NULL;
    if (m->gossip_count == m->gossip_cap) {
        size_t cap = m->gossip_cap ? m->gossip_cap * 2 : 8;
        struct busmsg_gossip *grown = realloc(m->gossip, cap * sizeof(*grown));
        if (grown == NULL)
            return NULL;
        m->gossip = grown;
        m->gossip_cap = cap;
    }
    struct busmsg_gossip *g = &m->gossip[m->gossip_count++];
    memset(g, 0, sizeof(*g));
    return g;
}

/* ---- Encoding ---- */

static int pack_cstr(msgpack_packer *pk, const char *s) {
    size_t len = strlen(s);
    return msgpack_pack_str(pk, len) | msgpack_pack_str_body(pk, s, len);
}

static int pack_bin(msgpack_packer *pk, const void *data, size_t len) {
    return msgpack_pack_bin(pk, len) | msgpack_pack_bin_body(pk, data, len);
}

static int pack_payload(msgpack_packer *pk, const struct busmsg *m) {
    switch (m->type) {
    case BUSMSG_FAIL:
        return pack_cstr(pk, m->fail_about);
    case BUSMSG_UPDATE:
        return msgpack_pack_array(pk, 3) | pack_cstr(pk, m->update_id) |
               msgpack_pack_uint64(pk, m->update_config_epoch) |
               pack_bin(pk, m->update_slots, BUSMSG_SLOT_BYTES);
    case BUSMSG_PUBLISH:
    case BUSMSG_PUBLISHSHARD:
        return msgpack_pack_array(pk, 2) | pack_bin(pk, m->channel, m->channel_len) |
               pack_bin(pk, m->message, m->message_len);
    default:
        return msgpack_pack_nil(pk);
    }
}

int busmsg_encode(const struct busmsg *m, void **frame, size_t *len) {
    /* The payload alone may be too big: refuse before copying it. */
    if (m->channel_len > BUSMSG_MAX_BODY || m->message_len > BUSMSG_MAX_BODY - m->channel_len)
        return BUSMSG_ETOOBIG;
    msgpack_sbuffer sb;
    msgpack_sbuffer_init(&sb);
    msgpack_packer pk;
    msgpack_packer_init(&pk, &sb, msgpack_sbuffer_write);
    static const char head_placeholder[BUSMSG_FRAME_HEAD] = {0};
    int rc = msgpack_sbuffer_write(&sb, head_placeholder, BUSMSG_FRAME_HEAD);
    rc |= msgpack_pack_array(&pk, BODY_FIELDS);
    rc |= msgpack_pack_uint32(&pk, BUSMSG_VERSION);
    rc |= msgpack_pack_uint32(&pk, (uint32_t)m->type);
    rc |= pack_cstr(&pk, m->sender);
    rc |= msgpack_pack_uint64(&pk, m->current_epoch);
    rc |= msgpack_pack_uint64(&pk, m->config_epoch);
    rc |= msgpack_pack_uint32(&pk, m->flags);
    rc |= m->master[0] != '\0' ? pack_cstr(&pk, m->master) : msgpack_pack_nil(&pk);
    rc |= pack_cstr(&pk, m->ip);
    rc |= msgpack_pack_int(&pk, m->port);
    rc |= msgpack_pack_int(&pk, m->cport);
    rc |= pack_cstr(&pk, m->hostname);
    rc |= pack_cstr(&pk, m->client_ip);
    rc |= msgpack_pack_int(&pk, m->client_port);
    rc |= pack_bin(&pk, m->slots, BUSMSG_SLOT_BYTES);
    rc |= msgpack_pack_array(&pk, m->gossip_count);
    for (size_t i = 0; i < m->gossip_count && rc == 0; i++) {
        const struct busmsg_gossip *g = &m->gossip[i];
        rc |= msgpack_pack_array(&pk, GOSSIP_FIELDS);
        rc |= pack_cstr(&pk, g->id);
        rc |= pack_cstr(&pk, g->ip);
        rc |= msgpack_pack_int(&pk, g->port);
        rc |= msgpack_pack_int(&pk, g->cport);
        rc |= msgpack_pack_uint32(&pk, g->flags);
        rc |= msgpack_pack_uint32(&pk, g->ping_sent_s);
        rc |= msgpack_pack_uint32(&pk, g->pong_recv_s);
    }
    rc |= pack_payload(&pk, m);
    if (rc != 0) {
        msgpack_sbuffer_destroy(&sb);
        return BUSMSG_ENOMEM;
    }
    size_t body = sb.size - BUSMSG_FRAME_HEAD;
    if (body > BUSMSG_MAX_BODY) {
        msgpack_sbuffer_destroy(&sb);
        return BUSMSG_ETOOBIG;
    }
    uint8_t *p = (uint8_t *)sb.data;
    p[0] = (uint8_t)(body >> 24);
    p[1] = (uint8_t)(body >> 16);
    p[2] = (uint8_t)(body >> 8);
    p[3] = (uint8_t)body;
    *len = sb.size;
    *frame = msgpack_sbuffer_release(&sb);
    return BUSMSG_OK;
}

int busmsg_frame_length(const uint8_t *head, size_t *body_len) {
    uint32_t n = (uint32_t)head[0] << 24 | (uint32_t)head[1] << 16 | (uint32_t)head[2] << 8 |
                 (uint32_t)head[3];
    if (n == 0)
        return BUSMSG_ECORRUPT;
    if (n > BUSMSG_MAX_BODY)
        return BUSMSG_ETOOBIG;
    *body_len = n;
    return BUSMSG_OK;
}

/* ---- Decoding ---- */

static bool read_uint_max(struct mpread *c, uint64_t max, uint64_t *out) {
    return mpread_uint(c, out) && *out <= max;
}

/* A string of fewer than 'cap' bytes without NULs, copied NUL-terminated. */
static bool read_cstr(struct mpread *c, char *dst, size_t cap) {
    const uint8_t *data;
    size_t len;
    if (!mpread_bytes(c, &data, &len) || len >= cap || memchr(data, '\0', len) != NULL)
        return false;
    memcpy(dst, data, len);
    dst[len] = '\0';
    return true;
}

static bool read_id(struct mpread *c, char *dst) {
    char id[CLUSTER_ID_LEN + 2];
    if (!read_cstr(c, id, sizeof(id)) || !cluster_id_is_valid(id, strlen(id)))
        return false;
    memcpy(dst, id, CLUSTER_ID_LEN + 1);
    return true;
}

static bool read_port(struct mpread *c, int *port) {
    uint64_t v;
    if (!mpread_uint(c, &v) || v > 65535)
        return false;
    *port = (int)v;
    return true;
}

static bool read_slots(struct mpread *c, uint8_t *dst) {
    const uint8_t *data;
    size_t len;
    if (!mpread_bytes(c, &data, &len) || len != BUSMSG_SLOT_BYTES)
        return false;
    memcpy(dst, data, len);
    return true;
}

static int corrupt(const char **why, const char *reason) {
    *why = reason;
    return BUSMSG_ECORRUPT;
}

static int read_gossip(struct busmsg *m, struct mpread *c, const char **why) {
    uint64_t count, n, v;
    if (!mpread_array(c, &count) || count > BUSMSG_MAX_GOSSIP)
        return corrupt(why, "bad gossip count");
    if (count > mpread_left(c) / GOSSIP_MIN_BYTES)
        return corrupt(why, "gossip count exceeds message size");
    if (count > 0) {
        m->gossip = calloc((size_t)count, sizeof(*m->gossip));
        if (m->gossip == NULL)
            return BUSMSG_ENOMEM;
        m->gossip_cap = (size_t)count;
    }
    for (uint64_t i = 0; i < count; i++) {
        struct busmsg_gossip *g = &m->gossip[i];
        m->gossip_count++;
        if (!mpread_array(c, &n) || n != GOSSIP_FIELDS)
            return corrupt(why, "gossip entry is not a 7-element array");
        if (!read_id(c, g->id))
            return corrupt(why, "bad gossip node id");
        if (!read_cstr(c, g->ip, sizeof(g->ip)))
            return corrupt(why, "bad gossip ip");
        if (!read_port(c, &g->port) || !read_port(c, &g->cport))
            return corrupt(why, "bad gossip port");
        if (!read_uint_max(c, BUSMSG_NODE_ALL, &v))
            return corrupt(why, "bad gossip flags");
        g->flags = (uint32_t)v;
        if (!read_uint_max(c, UINT32_MAX, &v))
            return corrupt(why, "bad gossip ping time");
        g->ping_sent_s = (uint32_t)v;
        if (!read_uint_max(c, UINT32_MAX, &v))
            return corrupt(why, "bad gossip pong time");
        g->pong_recv_s = (uint32_t)v;
    }
    return BUSMSG_OK;
}

static int read_payload(struct busmsg *m, struct mpread *c, const char **why) {
    uint64_t n;
    const uint8_t *data;
    switch (m->type) {
    case BUSMSG_FAIL:
        if (!read_id(c, m->fail_about))
            return corrupt(why, "bad FAIL node id");
        return BUSMSG_OK;
    case BUSMSG_UPDATE:
        if (!mpread_array(c, &n) || n != 3)
            return corrupt(why, "UPDATE payload is not a 3-element array");
        if (!read_id(c, m->update_id))
            return corrupt(why, "bad UPDATE node id");
        if (!mpread_uint(c, &m->update_config_epoch))
            return corrupt(why, "bad UPDATE config epoch");
        if (!read_slots(c, m->update_slots))
            return corrupt(why, "bad UPDATE slot bitmap");
        return BUSMSG_OK;
    case BUSMSG_PUBLISH:
    case BUSMSG_PUBLISHSHARD:
        if (!mpread_array(c, &n) || n != 2)
            return corrupt(why, "PUBLISH payload is not a 2-element array");
        if (!mpread_bytes(c, &data, &m->channel_len))
            return corrupt(why, "bad PUBLISH channel");
        m->channel = (const char *)data;
        if (!mpread_bytes(c, &data, &m->message_len))
            return corrupt(why, "bad PUBLISH message");
        m->message = (const char *)data;
        return BUSMSG_OK;
    default:
        if (!mpread_nil(c))
            return corrupt(why, "unexpected payload");
        return BUSMSG_OK;
    }
}

int busmsg_decode(struct busmsg *m, const void *body, size_t len, const char **why) {
    busmsg_init(m);
    *why = NULL;
    if (len > BUSMSG_MAX_BODY) {
        *why = "message too large";
        return BUSMSG_ETOOBIG;
    }
    struct mpread c;
    mpread_init(&c, body, len);
    uint64_t n, v;
    if (!mpread_array(&c, &n) || n != BODY_FIELDS)
        return corrupt(why, "not a 16-element message");
    if (!mpread_uint(&c, &v))
        return corrupt(why, "bad version");
    if (v != BUSMSG_VERSION) {
        *why = "unknown version";
        return BUSMSG_EVERSION;
    }
    if (!read_uint_max(&c, BUSMSG_TYPE_COUNT - 1, &v))
        return corrupt(why, "unknown message type");
    m->type = (enum busmsg_type)v;
    if (!read_id(&c, m->sender))
        return corrupt(why, "bad sender id");
    if (!mpread_uint(&c, &m->current_epoch) || !mpread_uint(&c, &m->config_epoch))
        return corrupt(why, "bad epoch");
    if (!read_uint_max(&c, BUSMSG_NODE_ALL, &v))
        return corrupt(why, "bad flags");
    m->flags = (uint32_t)v;
    if (!mpread_nil(&c) && !read_id(&c, m->master))
        return corrupt(why, "bad master id");
    if (!read_cstr(&c, m->ip, sizeof(m->ip)))
        return corrupt(why, "bad ip");
    if (!read_port(&c, &m->port) || !read_port(&c, &m->cport))
        return corrupt(why, "bad port");
    if (!read_cstr(&c, m->hostname, sizeof(m->hostname)))
        return corrupt(why, "bad hostname");
    if (!read_cstr(&c, m->client_ip, sizeof(m->client_ip)))
        return corrupt(why, "bad client ip");
    if (!read_port(&c, &m->client_port))
        return corrupt(why, "bad client port");
    if (!read_slots(&c, m->slots))
        return corrupt(why, "bad slot bitmap");
    int rc = read_gossip(m, &c, why);
    if (rc != BUSMSG_OK)
        return rc;
    rc = read_payload(m, &c, why);
    if (rc != BUSMSG_OK)
        return rc;
    if (c.p != c.end)
        return corrupt(why, "trailing bytes after the message");
    return BUSMSG_OK;
}
