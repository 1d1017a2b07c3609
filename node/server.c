/* The server (see server.h): loop set-up, listeners, cron, signals, and the
 * databases. Command behaviour lives in the cmd_*.c files. */
#include "node/server.h"

#include "node/acl.h"
#include "node/client.h"
#include "node/command.h"
#include "node/expire.h"
#include "node/info.h"
#include "node/log.h"
#include "node/migrate_conn.h"
#include "node/persist.h"
#include "node/propose.h"
#include "node/script.h"
#include "node/shard.h"
#include "node/stream_args.h"
#include "node/tracking.h"
#include "storage/hash.h"
#include "storage/keyspace.h"
#include "storage/types.h"

#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

struct server server;

/* ---- Clock and randomness ---- */

int64_t server_now_ms(void) {
    struct timespec ts;
    clock_gettime(CLOCK_REALTIME, &ts);
    return (int64_t)ts.tv_sec * 1000 + ts.tv_nsec / 1000000;
}

uint64_t server_monotonic_us(void) {
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (uint64_t)ts.tv_sec * 1000000 + (uint64_t)ts.tv_nsec / 1000;
}

/* Wall clock minus monotonic clock, in microseconds, and when it was read. */
static int64_t wall_offset_us;
static uint64_t wall_offset_read_us;
static bool wall_offset_valid;
#define WALL_OFFSET_MAX_AGE_US 100000

int64_t server_now_ms_at(uint64_t mono_us) {
    if (!wall_offset_valid || mono_us - wall_offset_read_us >= WALL_OFFSET_MAX_AGE_US) {
        struct timespec ts;
        clock_gettime(CLOCK_REALTIME, &ts);
        uint64_t now_us = server_monotonic_us();
        int64_t wall_us = (int64_t)ts.tv_sec * 1000000 + ts.tv_nsec / 1000;
        wall_offset_us = wall_us - (int64_t)now_us;
        wall_offset_read_us = now_us;
        wall_offset_valid = true;
    }
    return ((int64_t)mono_us + wall_offset_us) / 1000;
}

/* splitmix64: small, fast, and good enough for seeds (never for secrets). */
uint64_t server_random(void) {
    uint64_t z = (server.rng += 0x9e3779b97f4a7c15ULL);
    z = (z ^ (z >> 30)) * 0xbf58476d1ce4e5b9ULL;
    z = (z ^ (z >> 27)) * 0x94d049bb133111ebULL;
    return z ^ (z >> 31);
}

static void seed_randomness(void) {
    uint8_t seed[32];
    int fd = open("/dev/urandom", O_RDONLY);
    ssize_t n = fd >= 0 ? read(fd, seed, sizeof(seed)) : -1;
    if (fd >= 0)
        close(fd);
    if (n != (ssize_t)sizeof(seed)) {
        /* No urandom: fall back to time and pid; only hash flooding resistance suffers. */
        uint64_t t = (uint64_t)server_now_ms() ^ ((uint64_t)getpid() << 32);
        for (size_t i = 0; i < sizeof(seed); i++)
            seed[i] = (uint8_t)(t >> ((i % 8) * 8)) ^ (uint8_t)i;
    }
    hash_set_seed(seed);
    memcpy(&server.rng, seed + 16, 8);
    static const char hex[] = "0123456789abcdef";
    for (int i = 0; i < 40; i++)
        server.run_id[i] = hex[server_random() & 15];
    server.run_id[40] = '\0';
}

/* ---- Databases ---- */

struct keyspace *server_db(int id) {
    if (server.dbs[id] == NULL)
        server.dbs[id] = keyspace_new();
    return server.dbs[id];
}

struct keyspace *server_db_if_exists(int id) {
    return server.dbs[id];
}

void server_swap_dbs(int a, int b) {
    struct keyspace *tmp = server.dbs[a];
    server.dbs[a] = server.dbs[b];
    server.dbs[b] = tmp;
}

/* ---- Loop phases ---- */

static void on_flush(uv_prepare_t *handle) {
    (void)handle;
    propose_flush(); /* this iteration's writes become one log entry */
    tracking_broadcast();
    client_flush_pending();
    if (server.shutdown_asap)
        uv_stop(server.loop);
}

static void on_cron(uv_timer_t *timer) {
    (void)timer;
    int64_t now = server_now_ms();
    server.lru_clock = (uint32_t)((now / 1000) & 0xffffff);
    info_cron();
    persist_cron();
    expire_active_cycle();
    if (cfg.timeout > 0) {
        struct client *c = server.clients;
        while (c != NULL) {
            struct client *next = c->next;
            if (!(c->flags & (CLIENT_BLOCKED | CLIENT_MONITOR | CLIENT_PUBSUB)) &&
                now - c->last_interaction_ms > cfg.timeout * 1000) {
                log_verbose("Closing idle client");
                client_close(c);
            }
            c = next;
        }
    }
}

void server_cron_restart(void) {
    if (uv_is_active((uv_handle_t *)&server.cron))
        uv_timer_start(&server.cron, on_cron, 0, (uint64_t)(1000 / cfg.hz));
}

static void on_signal(uv_signal_t *handle, int signum) {
    (void)handle;
    log_warning("Received %s scheduling shutdown...", signum == SIGINT ? "SIGINT" : "SIGTERM");
    server_request_shutdown(0);
}

void server_request_shutdown(int exit_code) {
    server.shutdown_asap = true;
    server.exit_code = exit_code;
    /* Wake the loop so the prepare phase sees the request promptly. */
    uv_stop(server.loop);
}

/* ---- Listeners ---- */

static void on_connection(uv_stream_t *listener, int status) {
    if (status < 0)
        return;
    client_accept(listener);
}

/* Binds one address; a leading '-' marks it optional (Redis's "-::*"). */
static int listen_on(const char *spec) {
    bool optional = spec[0] == '-';
    const char *addr = optional ? spec + 1 : spec;
    struct sockaddr_storage sa;
    int rc;
    bool v6 = strchr(addr, ':') != NULL;
    if (strcmp(addr, "*") == 0)
        rc = uv_ip4_addr("0.0.0.0", (int)cfg.port, (struct sockaddr_in *)&sa);
    else if (strcmp(addr, "::*") == 0)
        rc = uv_ip6_addr("::", (int)cfg.port, (struct sockaddr_in6 *)&sa);
    else if (v6)
        rc = uv_ip6_addr(addr, (int)cfg.port, (struct sockaddr_in6 *)&sa);
    else
        rc = uv_ip4_addr(addr, (int)cfg.port, (struct sockaddr_in *)&sa);
    if (rc != 0) {
        log_warning("Invalid bind address '%s'", addr);
        return optional ? 0 : -1;
    }
    uv_tcp_t *tcp = &server.listeners[server.listener_count];
    uv_tcp_init(server.loop, tcp);
    unsigned flags = v6 ? UV_TCP_IPV6ONLY : 0;
    rc = uv_tcp_bind(tcp, (struct sockaddr *)&sa, flags);
    if (rc == 0)
        rc = uv_listen((uv_stream_t *)tcp, (int)cfg.tcp_backlog, on_connection);
    if (rc != 0) {
        uv_close((uv_handle_t *)tcp, NULL);
        if (optional)
            return 0;
        log_warning("Warning: Could not create server TCP listening socket %s:%lld: %s", addr,
                    cfg.port, uv_strerror(rc));
        return -1;
    }
    server.listener_count++;
    return 0;
}

/* ---- Life cycle ---- */

int server_init(void) {
    server.loop = uv_default_loop();
    server.start_ms = server_now_ms();
    server.lastsave_s = server.start_ms / 1000;
    server.lru_clock = (uint32_t)((server.start_ms / 1000) & 0xffffff);
    seed_randomness();
    storage_register_types();
    server.dbs = calloc((size_t)cfg.databases, sizeof(*server.dbs));
    if (server.dbs == NULL || command_table_init() != 0) {
        log_warning("Out of memory initialising the server");
        return -1;
    }
    if (acl_init() != 0)
        return -1;
    if (script_init() != 0)
        return -1;
    uv_prepare_init(server.loop, &server.flush_handle);
    uv_prepare_start(&server.flush_handle, on_flush);
    uv_timer_init(server.loop, &server.cron);
    uv_timer_start(&server.cron, on_cron, 0, (uint64_t)(1000 / cfg.hz));
    uv_signal_init(server.loop, &server.sigterm);
    uv_signal_start(&server.sigterm, on_signal, SIGTERM);
    uv_signal_init(server.loop, &server.sigint);
    uv_signal_start(&server.sigint, on_signal, SIGINT);
    signal(SIGPIPE, SIG_IGN);
    return persist_init();
}

int server_listen(void) {
    for (int i = 0; i < cfg.bind_count; i++)
        if (listen_on(cfg.bind[i]) != 0)
            return -1;
    if (server.listener_count == 0 && cfg.port != 0) {
        log_warning("Failed listening on port %lld (tcp), aborting.", cfg.port);
        return -1;
    }
    return 0;
}

void server_run(void) {
    while (!server.shutdown_asap)
        uv_run(server.loop, UV_RUN_DEFAULT);
    /* Send what was answered before the shutdown request (SHUTDOWN's own
     * reply is deliberately not sent: Redis closes the connection). */
    client_flush_pending();
}

static void close_any(uv_handle_t *handle, void *arg) {
    (void)arg;
    if (!uv_is_closing(handle))
        uv_close(handle, NULL);
}

/* Clients are closed first through client_close, which frees their memory;
 * every remaining handle (listeners, timers, signals) is owned statically. */
void server_close(void) {
    while (server.clients != NULL)
        client_close(server.clients);
    shard_close();
    migrate_conn_close_all();
    uv_walk(server.loop, close_any, NULL);
    uv_run(server.loop, UV_RUN_DEFAULT);
    uv_loop_close(server.loop);
    for (long long i = 0; i < cfg.databases; i++)
        keyspace_free(server.dbs[i]);
    free(server.dbs);
    acl_close();
    script_close();
    tracking_close();
    command_table_close();
}
