/* The cluster bus message codec: what nodes send each other over the bus
 * port after the "KRBUS001" preamble (raft/transport.h).
 *
 * Frame: a u32 big-endian body length, then the body, one msgpack array:
 *
 *   [version, type, sender, current_epoch, config_epoch, flags, master,
 *    ip, port, cport, hostname, client_ip, client_port, slots, gossip,
 *    payload]
 *
 *   version        BUSMSG_VERSION
 *   type           enum busmsg_type
 *   sender         the sender's node id (40 chars of [0-9a-z])
 *   current_epoch  the sender's currentEpoch
 *   config_epoch   the sender's configEpoch, or its master's for a replica
 *   flags          BUSMSG_NODE_* of the sender
 *   master         a replica's master id, or nil
 *   ip             the address the sender announces; "" means "use the
 *                  address the message came from" (as Redis's myip)
 *   port, cport    client and bus ports (0..65535; 0 = unknown)
 *   hostname       announced hostname or ""
 *   client_ip, client_port
 *                  the address the sender tells clients, when it differs
 *                  from ip/port (cluster-announce-client-ipv4/-port); ""
 *                  and 0 when not announced
 *   slots          bin of SLOT_COUNT/8 bytes: the slots the sender (or its
 *                  master) serves, bit j = byte j/8, bit j%8 (LSB first);
 *                  all zero in FAIL, UPDATE and PUBLISH*, whose receivers
 *                  do not read them
 *   gossip         array of [id, ip, port, cport, flags, ping_sent_s,
 *                  pong_recv_s]: what the sender knows about other nodes
 *                  (times in unix seconds, 0 = none)
 *   payload        by type: nil (MEET/PING/PONG), the failing node's id
 *                  (FAIL), [id, config_epoch, slots] (UPDATE), [channel,
 *                  message] as bin (PUBLISH, PUBLISHSHARD)
 *
 * Decoding is strict: every length is checked against the bytes left and
 * the limits below before use, ids must be well formed, ports in range and
 * nothing may trail the body. A failure is a code plus a static reason,
 * never a print. The decoded message borrows the PUBLISH payload from the
 * body; everything else is copied. */
#ifndef KR_CLUSTER_BUSMSG_H
#define KR_CLUSTER_BUSMSG_H

#include "cluster/nodes.h"

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#define BUSMSG_VERSION    1
#define BUSMSG_FRAME_HEAD 4 /* the u32 length in front of every body */
/* Longest accepted body: a PUBLISH payload is the only large part. */
#define BUSMSG_MAX_BODY (64u << 20)
/* Most gossip entries one message may carry. */
#define BUSMSG_MAX_GOSSIP 4096
#define BUSMSG_SLOT_BYTES (SLOT_COUNT / 8)

#define BUSMSG_ERRORS(X)                                                                           \
    X(BUSMSG_OK, 0, "ok")                                                                          \
    X(BUSMSG_ENOMEM, -1, "out of memory")                                                          \
    X(BUSMSG_ECORRUPT, -2, "malformed bus message")                                                \
    X(BUSMSG_ETOOBIG, -3, "bus message too large")                                                 \
    X(BUSMSG_EVERSION, -4, "unknown bus message version")
enum busmsg_error {
#define X(name, value, text) name = value,
    BUSMSG_ERRORS(X)
#undef X
};
const char *busmsg_strerror(int code);

/* In Redis 7.0's order, which CLUSTER INFO's counters follow. */
enum busmsg_type {
    BUSMSG_PING = 0,
    BUSMSG_PONG,
    BUSMSG_MEET,
    BUSMSG_FAIL,
    BUSMSG_PUBLISH,
    BUSMSG_UPDATE,
    BUSMSG_PUBLISHSHARD,
    BUSMSG_TYPE_COUNT
};
/* "ping", "pong", ... (CLUSTER INFO's cluster_stats_messages_<name>_*). */
const char *busmsg_type_name(enum busmsg_type type);

/* Node flags on the wire (a stable encoding, independent of CNODE_*). */
enum busmsg_node_flag {
    BUSMSG_NODE_MASTER = 1 << 0,
    BUSMSG_NODE_SLAVE = 1 << 1,
    BUSMSG_NODE_PFAIL = 1 << 2,
    BUSMSG_NODE_FAIL = 1 << 3,
    BUSMSG_NODE_HANDSHAKE = 1 << 4,
    BUSMSG_NODE_NOADDR = 1 << 5,
    BUSMSG_NODE_NOFAILOVER = 1 << 6,
    BUSMSG_NODE_ALL = (1 << 7) - 1
};

struct busmsg_gossip {
    char id[CLUSTER_ID_LEN + 1];
    char ip[CLUSTER_IP_LEN];
    int port, cport;
    uint32_t flags; /* BUSMSG_NODE_* */
    uint32_t ping_sent_s, pong_recv_s;
};

/* One message. Caller-allocated (about 5 KB); all fields public. */
struct busmsg {
    enum busmsg_type type;
    char sender[CLUSTER_ID_LEN + 1];
    uint64_t current_epoch, config_epoch;
    uint32_t flags;                  /* BUSMSG_NODE_* */
    char master[CLUSTER_ID_LEN + 1]; /* "" when none */
    char ip[CLUSTER_IP_LEN];         /* "" when not announced */
    int port, cport;
    char hostname[CLUSTER_HOSTNAME_LEN]; /* "" when none */
    char client_ip[CLUSTER_IP_LEN];      /* "" when not announced */
    int client_port;                     /* 0 when not announced */
    uint8_t slots[BUSMSG_SLOT_BYTES];
    /* Owned by the message when decoded or added with busmsg_add_gossip. */
    struct busmsg_gossip *gossip;
    size_t gossip_count, gossip_cap;
    /* FAIL */
    char fail_about[CLUSTER_ID_LEN + 1];
    /* UPDATE */
    char update_id[CLUSTER_ID_LEN + 1];
    uint64_t update_config_epoch;
    uint8_t update_slots[BUSMSG_SLOT_BYTES];
    /* PUBLISH, PUBLISHSHARD: borrowed (from the caller when encoding, from
     * the decoded body while it lives) */
    const char *channel, *message;
    size_t channel_len, message_len;
};

/* Zeroes 'm' (type PING, no gossip). */
void busmsg_init(struct busmsg *m);
/* Frees the gossip array; 'm' can be reused after busmsg_init. */
void busmsg_close(struct busmsg *m);
/* Appends a zeroed gossip entry and returns it (owned by 'm'), or NULL when
 * out of memory or BUSMSG_MAX_GOSSIP is reached. */
struct busmsg_gossip *busmsg_add_gossip(struct busmsg *m);

static inline bool busmsg_slot_test(const uint8_t *bits, unsigned slot) {
    return (bits[slot >> 3] >> (slot & 7)) & 1;
}
static inline void busmsg_slot_set(uint8_t *bits, unsigned slot) {
    bits[slot >> 3] = (uint8_t)(bits[slot >> 3] | (1u << (slot & 7)));
}

/* Encodes 'm' as one frame (length prefix included). Returns BUSMSG_OK and
 * an owned malloc'd buffer in '*frame' of '*len' bytes (free with free()),
 * BUSMSG_ETOOBIG when the body would pass BUSMSG_MAX_BODY, or
 * BUSMSG_ENOMEM. */
int busmsg_encode(const struct busmsg *m, void **frame, size_t *len);

/* Reads a frame's length prefix ('head', BUSMSG_FRAME_HEAD bytes). Returns
 * BUSMSG_OK with the body length in '*body_len', or BUSMSG_ECORRUPT for an
 * empty body or BUSMSG_ETOOBIG for one longer than BUSMSG_MAX_BODY. */
int busmsg_frame_length(const uint8_t *head, size_t *body_len);

/* Decodes a body (without its prefix) into 'm' (initialised by this call;
 * busmsg_close it afterwards, whatever the result). Returns BUSMSG_OK,
 * BUSMSG_ECORRUPT / BUSMSG_EVERSION with a static reason in '*why', or
 * BUSMSG_ENOMEM. 'body' must outlive the PUBLISH fields. */
int busmsg_decode(struct busmsg *m, const void *body, size_t len, const char **why);

#endif
