/* Where a keyed command may run: Redis 7.0's getNodeByQuery. Given the keys
 * of a command (or of every command of a transaction), decides between
 * serving it here and replying MOVED, ASK, TRYAGAIN, CROSSSLOT or
 * CLUSTERDOWN, and formats that reply.
 *
 * Pure decision code: whether a key exists comes from a callback. */
#ifndef KR_CLUSTER_REDIRECT_H
#define KR_CLUSTER_REDIRECT_H

#include <stdbool.h>
#include <stddef.h>

struct cluster_state;
struct cluster_node;

enum redirect_kind {
    REDIRECT_NONE = 0,      /* serve it here */
    REDIRECT_MOVED,         /* -MOVED <slot> <ip>:<port> */
    REDIRECT_ASK,           /* -ASK <slot> <ip>:<port> */
    REDIRECT_CROSSSLOT,     /* keys in different slots */
    REDIRECT_TRYAGAIN,      /* multi-key request on an open slot with keys missing */
    REDIRECT_DOWN_STATE,    /* cluster_state is fail */
    REDIRECT_DOWN_RO_STATE, /* down, and only reads are allowed */
    REDIRECT_DOWN_UNBOUND,  /* the slot has no owner */
};

/* Whether 'key' exists (live) on this node; 'arg' is the caller's. */
typedef bool (*redirect_key_exists_cb)(const char *key, size_t len, void *arg);

/* Accumulates the keys of one request. Caller-allocated; fields private. */
struct redirect_query {
    const struct cluster_state *cs;
    redirect_key_exists_cb exists;
    void *exists_arg;
    const char *first_key;
    size_t first_len;
    unsigned slot;
    const struct cluster_node *owner;
    bool has_key, multiple_keys, migrating, importing;
    unsigned missing_keys;
    enum redirect_kind early; /* CROSSSLOT or DOWN_UNBOUND, decided while adding */
};

void redirect_query_init(struct redirect_query *q, const struct cluster_state *cs,
                         redirect_key_exists_cb exists, void *exists_arg);
/* Adds one key ('key' is borrowed until redirect_decide). Returns false once
 * the outcome is an error no further key can change (stop adding). */
bool redirect_add_key(struct redirect_query *q, const char *key, size_t len);

/* Facts about the request and the connection. */
enum redirect_flag {
    REDIRECT_F_WRITE = 1 << 0,           /* the command (or transaction) writes */
    REDIRECT_F_ASKING = 1 << 1,          /* ASKING was sent, or the command has the asking flag */
    REDIRECT_F_READONLY = 1 << 2,        /* the connection sent READONLY */
    REDIRECT_F_MIGRATE = 1 << 3,         /* the command is MIGRATE */
    REDIRECT_F_READS_WHEN_DOWN = 1 << 4, /* cluster-allow-reads-when-down */
};

struct redirect_result {
    enum redirect_kind kind;
    unsigned slot;                     /* for MOVED and ASK */
    const struct cluster_node *target; /* for MOVED and ASK */
};

/* The decision for the keys added to 'q' ('flags': REDIRECT_F_*), judged
 * against the state's current cluster_state (update it first). */
struct redirect_result redirect_decide(const struct redirect_query *q, unsigned flags);

/* Writes the error reply for 'r' (kind != NONE) without the leading '-',
 * e.g. "MOVED 3999 127.0.0.1:6381". Returns the length, like snprintf. */
int redirect_format(const struct redirect_result *r, char *buf, size_t len);

#endif
