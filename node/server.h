/* The server: one libuv loop, its listeners, the databases, the client list,
 * the periodic cron, and the statistics INFO reports. A single global
 * instance, 'server', as in Redis: there is exactly one per process. */
#ifndef KR_NODE_SERVER_H
#define KR_NODE_SERVER_H

#include "node/config.h"

#include <stdbool.h>
#include <stdint.h>
#include <uv.h>

struct client;
struct keyspace;

struct server_stats {
    uint64_t connections_received;
    uint64_t rejected_connections;
    uint64_t commands_processed;
    uint64_t keyspace_hits;
    uint64_t keyspace_misses;
    uint64_t expired_keys;
    uint64_t evicted_keys;
    uint64_t net_input_bytes;
    uint64_t net_output_bytes;
    uint64_t total_error_replies;
    uint64_t unexpected_error_replies;
    uint64_t reads_processed;  /* client socket reads, EOF and errors included */
    uint64_t writes_processed; /* client socket writes started */
};

struct server {
    uv_loop_t *loop;
    uv_tcp_t listeners[CONFIG_MAX_BIND];
    int listener_count;
    uv_prepare_t flush_handle; /* writes pending replies before the loop polls */
    uv_timer_t cron;
    uv_signal_t sigterm, sigint;

    struct keyspace **dbs; /* cfg.databases entries, each created on first use */

    struct client *clients; /* every connected client (doubly linked) */
    uint64_t client_count;
    struct client *pending_writes; /* clients with replies to send (singly linked) */
    uint64_t next_client_id;

    struct server_stats stats;
    int64_t start_ms;
    uint32_t lru_clock; /* seconds, 24 bits, refreshed by the cron */
    uint64_t rng;       /* xoshiro-style state for seeds; seeded from /dev/urandom */
    char run_id[41];
    long long dirty; /* changes since the last snapshot */
    int64_t lastsave_s;
    bool shutdown_asap;
    int exit_code;
};

extern struct server server;

/* Sets up the loop and timers from 'cfg'. Returns 0 or -1 (logged). */
int server_init(void);
/* Starts the client listeners (after the Raft log of a group of one has
 * been replayed, as Redis loads its AOF before serving). Returns 0 or -1
 * (logged). */
int server_listen(void);
/* Runs the loop until shutdown. */
void server_run(void);
/* Closes clients and handles, frees the databases. */
void server_close(void);
/* Restarts the cron timer at the current cfg.hz (CONFIG SET hz). */
void server_cron_restart(void);
/* Requests an orderly stop at the end of this loop iteration. */
void server_request_shutdown(int exit_code);

/* Wall-clock time in milliseconds (what a write's context records). */
int64_t server_now_ms(void);
/* Monotonic time in microseconds (durations: slowlog, latency). */
uint64_t server_monotonic_us(void);
/* Wall-clock time in milliseconds at 'mono_us', a recent reading of
 * server_monotonic_us(): the command path gets both times from one clock
 * read. The offset between the two clocks is re-read when it is older than
 * 100 ms, so a step of the wall clock shows within 100 ms (slewing moves
 * both clocks alike). */
int64_t server_now_ms_at(uint64_t mono_us);
/* 64 random bits for seeds and leader decisions. */
uint64_t server_random(void);
/* Database 'id', created on first use; NULL on allocation failure. */
struct keyspace *server_db(int id);
/* Database 'id' if it exists, else NULL (never allocates). */
struct keyspace *server_db_if_exists(int id);
/* Swaps two databases (SWAPDB). */
void server_swap_dbs(int a, int b);

#endif
