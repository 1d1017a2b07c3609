/* A client connection: reads requests, hands complete commands to the
 * dispatcher, buffers replies and writes them before the loop next polls.
 *
 * Lifetime: a client is freed only from its handle's close callback, never
 * inside one of its own callbacks; client_close() marks it and the read loop
 * stops at the next command boundary. */
#ifndef KR_NODE_CLIENT_H
#define KR_NODE_CLIENT_H

#include "resp/parser.h"
#include "resp/writer.h"

#include <stdbool.h>
#include <stdint.h>
#include <uv.h>

struct command;
struct acl_user;
struct multi_state;
struct parked;
struct pubsub_state;
struct tracking_state;

enum client_flag {
    CLIENT_CLOSE_AFTER_REPLY = 1 << 0, /* send what is buffered, then close */
    CLIENT_CLOSING = 1 << 1,           /* uv_close called; no more I/O */
    CLIENT_AUTHENTICATED = 1 << 2,
    CLIENT_MONITOR = 1 << 3,
    CLIENT_PUBSUB = 1 << 4,
    CLIENT_MULTI = 1 << 5,
    CLIENT_PENDING_WRITE = 1 << 6, /* on server.pending_writes */
    CLIENT_NO_EVICT = 1 << 7,
    CLIENT_READONLY = 1 << 8,     /* cluster READONLY */
    CLIENT_ASKING = 1 << 9,       /* cluster ASKING, for one command */
    CLIENT_BLOCKED = 1 << 10,     /* waiting (blocking pop, write commit, pause) */
    CLIENT_COMMIT_WAIT = 1 << 11, /* its write is in a Raft entry not yet applied */
    /* An error reply that must follow the replies of its pending writes is
     * held back (held_reply) until they are applied. */
    CLIENT_REPLY_HELD = 1 << 12,
    /* Its command is still running while the loop serves other clients (a
     * busy script): not read from, and a close waits for client_unprotect. */
    CLIENT_PROTECTED = 1 << 20,
    CLIENT_CLOSE_WHEN_UNPROTECTED = 1 << 21,
};

enum client_reply_mode { REPLY_ON = 0, REPLY_OFF, REPLY_SKIP_NEXT, REPLY_SKIP_THIS };

struct client {
    uv_tcp_t tcp;
    uint64_t id;
    uint32_t flags;
    struct client *prev, *next;  /* server.clients */
    struct client *pending_next; /* server.pending_writes */

    /* input: bytes [qstart, qlen) of qbuf are not yet consumed */
    char *qbuf;
    size_t qstart, qlen, qcap;
    struct resp_parser parser;
    unsigned prefetch_pause; /* pipelines left to run without read-ahead (node/prefetch.c) */

    /* output */
    struct resp_out out;      /* replies not yet handed to the socket */
    struct resp_out inflight; /* bytes owned by an in-progress uv_write */
    uv_write_t write_req;
    bool write_in_flight;
    struct resp_out sink; /* where replies go when CLIENT REPLY is OFF/SKIP */
    int reply_mode;

    int db;
    char *name;       /* CLIENT SETNAME, or NULL */
    char addr[64];    /* peer "ip:port" */
    char laddr[64];   /* local "ip:port" */
    int64_t ctime_ms; /* connected at */
    int64_t last_interaction_ms;
    const struct command *last_cmd;
    char *lib_name, *lib_ver;        /* CLIENT SETINFO */
    struct parked *blocked;          /* the parked command while CLIENT_BLOCKED (blocking.c) */
    struct pubsub_state *pubsub;     /* subscriptions, or NULL (pubsub.c) */
    struct tracking_state *tracking; /* CLIENT TRACKING state, or NULL (tracking.c) */
    int64_t rerun_deadline_ms; /* a blocked command's first deadline while it re-runs, or -1 */
    struct multi_state *multi; /* MULTI queue and WATCHed keys, or NULL (multi.c) */
    struct acl_user *user;     /* the authenticated ACL user; NULL = default (acl.c) */
    unsigned pending_commits;  /* its writes in Raft entries not yet applied (propose.c) */
    uint64_t last_write_index; /* Raft index of its last applied write (WAIT) */
    char *held_reply;          /* with CLIENT_REPLY_HELD: the reply held back */
    size_t held_len;
};

/* Accepts a pending connection on 'listener'. */
void client_accept(uv_stream_t *listener);
/* Closes the connection now, discarding unsent replies. Safe to call from
 * within the client's own command. */
void client_close(struct client *c);
/* Closes after the replies buffered so far have been written. */
void client_close_after_reply(struct client *c);
/* Queues the client for a write before the loop next polls. */
void client_schedule_write(struct client *c);
/* Writes all pending replies (the loop's prepare phase). */
void client_flush_pending(void);
/* Resumes parsing buffered input (after the client was unblocked). */
void client_process_input(struct client *c);
/* Called when the last of the client's pending writes has been applied (or
 * failed): releases a held reply, then resumes its input. */
void client_commits_done(struct client *c);
/* Protects 'c' while its command yields to the loop (busy script): stops
 * reading it and defers client_close until client_unprotect, which resumes
 * reading or performs the deferred close. */
void client_protect(struct client *c);
void client_unprotect(struct client *c);
/* Bytes buffered for the client (CLIENT LIST qbuf/omem). */
size_t client_query_buffer_len(const struct client *c);

#endif
