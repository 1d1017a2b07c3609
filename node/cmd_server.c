/* Server commands: DBSIZE FLUSHDB FLUSHALL INFO TIME LASTSAVE SHUTDOWN and
 * MEMORY. The INFO report is info.c's; this file parses arguments. */
#include "node/client.h"
#include "node/cmd_handlers.h"
#include "node/db.h"
#include "node/exec.h"
#include "node/info.h"
#include "node/log.h"
#include "node/persist.h"
#include "node/multi.h"
#include "node/server.h"
#include "node/tracking.h"
#include "storage/keyspace.h"
#include "storage/object.h"

#include <malloc.h>
#include <stdbool.h>
#include <stdio.h>
#include <string.h>
#include <time.h>

void cmd_dbsize(struct exec_ctx *ctx) {
    struct keyspace *ks = server_db_if_exists(ctx->dbid);
    resp_add_int(ctx->out, ks ? (long long)keyspace_size(ks) : 0);
}

/* FLUSHDB/FLUSHALL [ASYNC|SYNC]: both modes free at once here (no lazy-free
 * thread), which is what SYNC promises and what ASYNC makes invisible. */
static bool parse_flush_mode(struct exec_ctx *ctx) {
    if (ctx->argc > 2 ||
        (ctx->argc == 2 && !exec_arg_is(ctx, 1, "async") && !exec_arg_is(ctx, 1, "sync"))) {
        exec_reply_syntax_error(ctx);
        return false;
    }
    return true;
}

static void flush_db(struct exec_ctx *ctx, int id) {
    struct keyspace *ks = server_db_if_exists(id);
    if (ks != NULL) {
        multi_touch_db(id, -1, ctx->now_ms);
        ctx->dirty += (long long)keyspace_size(ks);
        keyspace_clear(ks);
    }
}

void cmd_flushdb(struct exec_ctx *ctx) {
    if (!parse_flush_mode(ctx))
        return;
    flush_db(ctx, ctx->dbid);
    tracking_invalidate_all(ctx);
    exec_reply_ok(ctx);
}

void cmd_flushall(struct exec_ctx *ctx) {
    if (!parse_flush_mode(ctx))
        return;
    for (int id = 0; id < cfg.databases; id++)
        flush_db(ctx, id);
    tracking_invalidate_all(ctx);
    exec_reply_ok(ctx);
}

/* ---- INFO TIME LASTSAVE ---- */

void cmd_info(struct exec_ctx *ctx) {
    info_reply(ctx->out, ctx->argc - 1, ctx->argv + 1, ctx->argvlen + 1);
}

/* TIME reads the clock: it is not a write, so no member replays it. */
void cmd_time(struct exec_ctx *ctx) {
    struct timespec ts;
    clock_gettime(CLOCK_REALTIME, &ts);
    resp_add_array(ctx->out, 2);
    resp_add_bulk_ll(ctx->out, (long long)ts.tv_sec);
    resp_add_bulk_ll(ctx->out, (long long)(ts.tv_nsec / 1000));
}

void cmd_lastsave(struct exec_ctx *ctx) {
    resp_add_int(ctx->out, (long long)server.lastsave_s);
}

/* ---- SHUTDOWN ---- */

/* SHUTDOWN [NOSAVE|SAVE] [NOW] [FORCE] [ABORT] (Redis 7.0 shutdownCommand).
 * NOSAVE and SAVE decide whether a final snapshot file is written at exit
 * (node/persist.c: by default when `save` points are configured, as Redis);
 * there are no replicas to wait for, so NOW and FORCE only have to parse,
 * and ABORT never finds a shutdown in progress. On success nothing is replied: the process
 * stops and the connection closes, as with Redis. */
void cmd_shutdown(struct exec_ctx *ctx) {
    bool nosave = false, save = false, other = false, abort_shutdown = false;
    for (int i = 1; i < ctx->argc; i++) {
        if (exec_arg_is(ctx, i, "nosave"))
            nosave = true;
        else if (exec_arg_is(ctx, i, "save"))
            save = true;
        else if (exec_arg_is(ctx, i, "now") || exec_arg_is(ctx, i, "force"))
            other = true;
        else if (exec_arg_is(ctx, i, "abort"))
            abort_shutdown = true;
        else {
            exec_reply_syntax_error(ctx);
            return;
        }
    }
    if ((abort_shutdown && (nosave || save || other)) || (nosave && save)) {
        exec_reply_syntax_error(ctx);
        return;
    }
    if (abort_shutdown) {
        resp_add_error(ctx->out, "ERR No shutdown in progress.");
        return;
    }
    log_warning("User requested shutdown...");
    persist_set_shutdown_save(nosave ? PERSIST_SHUTDOWN_NOSAVE
                              : save ? PERSIST_SHUTDOWN_SAVE
                                     : PERSIST_SHUTDOWN_DEFAULT);
    server_request_shutdown(0);
    /* Run nothing more from this connection's pipeline. */
    if (ctx->client != NULL)
        client_close_after_reply(ctx->client);
}

/* ---- MEMORY ---- */

/* A key's share of its slot table: one pointer slot at a load between 3/8
 * and 3/4 (storage/dict.c), so about two slots per key. */
#define KEY_TABLE_SHARE_BYTES (2 * sizeof(uintptr_t))

/* MEMORY USAGE key [SAMPLES count]: the record and its value (every element
 * is counted: sizes are kept exactly, so SAMPLES only has to parse) plus the
 * key's share of its table. Like Redis, an expired key not yet deleted is
 * still measured. */
void cmd_memory_usage(struct exec_ctx *ctx) {
    for (int j = 3; j < ctx->argc; j++) {
        long long samples;
        if (exec_arg_is(ctx, j, "samples") && j + 1 < ctx->argc) {
            if (!exec_arg_ll(ctx, j + 1, &samples))
                return;
            if (samples < 0) {
                exec_reply_syntax_error(ctx);
                return;
            }
            j++;
        } else {
            exec_reply_syntax_error(ctx);
            return;
        }
    }
    struct keyspace *ks = server_db_if_exists(ctx->dbid);
    struct kv *kv = ks ? keyspace_find(ks, ctx->argv[2], ctx->argvlen[2]) : NULL;
    if (kv == NULL) {
        resp_add_null(ctx->out);
        return;
    }
    resp_add_int(ctx->out, (long long)(kv_mem_bytes(kv) + KEY_TABLE_SHARE_BYTES));
}

static void add_field_int(struct resp_out *out, const char *name, long long v) {
    resp_add_bulk_cstr(out, name);
    resp_add_int(out, v);
}

static void add_field_double(struct resp_out *out, const char *name, double v) {
    resp_add_bulk_cstr(out, name);
    resp_add_double(out, v);
}

/* MEMORY STATS: Redis 7.0's fields for what keyraft accounts. */
void cmd_memory_stats(struct exec_ctx *ctx) {
    struct info_memory m;
    info_memory(&m);
    long long dbs = 0;
    size_t keys = 0;
    for (long long i = 0; i < cfg.databases; i++) {
        struct keyspace *ks = server_db_if_exists((int)i);
        if (ks != NULL && keyspace_size(ks) > 0) {
            dbs++;
            keys += keyspace_size(ks);
        }
    }
    resp_add_map(ctx->out, 11 + dbs);
    add_field_int(ctx->out, "peak.allocated", (long long)m.peak);
    add_field_int(ctx->out, "total.allocated", (long long)m.used);
    add_field_int(ctx->out, "clients.normal", (long long)m.clients);
    for (long long i = 0; i < cfg.databases; i++) {
        struct keyspace *ks = server_db_if_exists((int)i);
        if (ks == NULL || keyspace_size(ks) == 0)
            continue;
        char name[32];
        snprintf(name, sizeof(name), "db.%lld", i);
        resp_add_bulk_cstr(ctx->out, name);
        resp_add_map(ctx->out, 2);
        add_field_int(ctx->out, "overhead.hashtable.main", (long long)keyspace_overhead_bytes(ks));
        add_field_int(ctx->out, "overhead.hashtable.expires", 0);
    }
    add_field_int(ctx->out, "overhead.total", (long long)m.overhead);
    add_field_int(ctx->out, "keys.count", (long long)keys);
    add_field_int(ctx->out, "keys.bytes-per-key", keys ? (long long)(m.used / keys) : 0);
    add_field_int(ctx->out, "dataset.bytes", (long long)m.dataset);
    add_field_double(ctx->out, "dataset.percentage",
                     m.used ? (double)m.dataset * 100 / (double)m.used : 0);
    add_field_double(ctx->out, "peak.percentage",
                     m.peak ? (double)m.used * 100 / (double)m.peak : 0);
    add_field_double(ctx->out, "fragmentation", m.used ? (double)m.rss / (double)m.used : 0);
    add_field_int(ctx->out, "fragmentation.bytes", (long long)m.rss - (long long)m.used);
}

/* MEMORY DOCTOR: Redis's verdicts for a small instance and for one without
 * findings; keyraft does not run Redis's fragmentation heuristics. */
void cmd_memory_doctor(struct exec_ctx *ctx) {
    struct info_memory m;
    info_memory(&m);
    const char *text =
        m.used < 1024 * 1024 * 5
            ? "Hi Sam, this instance is empty or is using very little memory, my issues detector "
              "can't be used in these conditions. Please, leave for your mission on Earth and "
              "fill it with some data. The new Sam and I will be back to our programming as soon "
              "as I finished rebooting."
            : "Hi Sam, I can't find any memory issue in your instance. I can only account for "
              "what occurs on this base.";
    resp_add_verbatim(ctx->out, text, strlen(text), "txt");
}

void cmd_memory_malloc_stats(struct exec_ctx *ctx) {
    resp_add_bulk_cstr(ctx->out, "Stats not supported for the current allocator");
}

void cmd_memory_purge(struct exec_ctx *ctx) {
#ifdef __GLIBC__
    malloc_trim(0);
#endif
    exec_reply_ok(ctx);
}

void cmd_memory_help(struct exec_ctx *ctx) {
    static const char *const lines[] = {
        "DOCTOR",
        "    Return memory problems reports.",
        "MALLOC-STATS",
        "    Return internal statistics report from the memory allocator.",
        "PURGE",
        "    Attempt to purge dirty pages for reclamation by the allocator.",
        "STATS",
        "    Return information about the memory usage of the server.",
        "USAGE <key> [SAMPLES <count>]",
        "    Return memory in bytes used by <key> and its value. Nested values are",
        "    sampled up to <count> times (default: 5, 0 means sample all).",
        NULL,
    };
    exec_reply_help(ctx, lines);
}
