/* INFO (see info.h): builds the report section by section with Redis 7.0's
 * headers, field names and field order, and keeps the statistics that only
 * INFO needs (rate samples, errorstats). The counters themselves live in
 * server.stats and in each command's stats. A field Redis prints for a
 * feature keyraft lacks shows the value Redis shows with that feature off,
 * and a comment at the field says why it is constant. */
#include "node/info.h"
#include "node/info_internal.h"

#include "node/blocking.h"
#include "node/client.h"
#include "node/cluster_bus.h"
#include "node/command.h"
#include "node/compaction.h"
#include "node/config.h"
#include "node/config_table.h"
#include "node/expire.h"
#include "node/log.h"
#include "node/migrate_conn.h"
#include "node/persist.h"
#include "node/pubsub.h"
#include "node/raft_info.h"
#include "node/replication.h"
#include "node/server.h"
#include "node/shard.h"
#include "node/tracking.h"
#include "node/version.h"
#include "resp/writer.h"
#include "storage/keyspace.h"
#include "storage/mem.h"

#include <stdarg.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <sys/resource.h>
#include <sys/utsname.h>
#include <unistd.h>

/* ---- Text buffer ---- */

void text_printf(struct text *t, const char *fmt, ...) {
    if (t->failed)
        return;
    for (;;) {
        va_list ap;
        va_start(ap, fmt);
        int n = vsnprintf(t->buf + t->len, t->cap - t->len, fmt, ap);
        va_end(ap);
        if (n < 0) {
            t->failed = true;
            return;
        }
        if ((size_t)n < t->cap - t->len) {
            t->len += (size_t)n;
            return;
        }
        size_t cap = t->cap ? t->cap * 2 : 4096;
        while (cap - t->len <= (size_t)n)
            cap *= 2;
        char *p = realloc(t->buf, cap);
        if (p == NULL) {
            t->failed = true;
            return;
        }
        t->buf = p;
        t->cap = cap;
    }
}

/* Redis 7.0 bytesToHuman. */
void bytes_to_human(char *s, size_t size, unsigned long long n) {
    static const char units[] = "KMGTP";
    if (n < 1024) {
        snprintf(s, size, "%lluB", n);
        return;
    }
    double d = (double)n / 1024;
    for (int i = 0; units[i] != '\0'; i++, d /= 1024) {
        if (d < 1024 || units[i + 1] == '\0') {
            snprintf(s, size, "%.2f%c", d, units[i]);
            return;
        }
    }
}

/* ---- Rates (Redis 7.0 trackInstantaneousMetric) ---- */

#define RATE_SAMPLES 16

struct rate {
    uint64_t last_value;
    uint64_t last_ms;
    double samples[RATE_SAMPLES];
    int idx;
};

static struct rate ops_rate, input_rate, output_rate;

static void rate_track(struct rate *r, uint64_t value, uint64_t now_ms) {
    if (r->last_ms != 0 && now_ms > r->last_ms)
        r->samples[r->idx++ % RATE_SAMPLES] =
            (double)(value - r->last_value) * 1000 / (double)(now_ms - r->last_ms);
    r->last_value = value;
    r->last_ms = now_ms;
}

static double rate_get(const struct rate *r) {
    double sum = 0;
    for (int i = 0; i < RATE_SAMPLES; i++)
        sum += r->samples[i];
    return sum / RATE_SAMPLES;
}

void info_cron(void) {
    uint64_t now_ms = server_monotonic_us() / 1000;
    rate_track(&ops_rate, server.stats.commands_processed, now_ms);
    rate_track(&input_rate, server.stats.net_input_bytes, now_ms);
    rate_track(&output_rate, server.stats.net_output_bytes, now_ms);
    info_memory_track_peak();
}

/* ---- Errorstats ---- */

/* Redis 7.0 stops adding codes after 128 distinct ones (ERROR_STATS_NUMBER). */
#define ERROR_CODES_MAX 128
#define ERROR_CODE_LEN  64

struct error_count {
    char code[ERROR_CODE_LEN];
    uint64_t count;
};

static struct error_count error_counts[ERROR_CODES_MAX];
static int error_code_count;
static bool error_overflow_logged;

void info_count_error(const char *msg, size_t len) {
    size_t code_len = 0;
    while (code_len < len && msg[code_len] != ' ' && msg[code_len] != '\r')
        code_len++;
    if (code_len == 0 || code_len >= ERROR_CODE_LEN)
        return;
    for (int i = 0; i < error_code_count; i++) {
        if (strlen(error_counts[i].code) == code_len &&
            memcmp(error_counts[i].code, msg, code_len) == 0) {
            error_counts[i].count++;
            return;
        }
    }
    if (error_code_count == ERROR_CODES_MAX) {
        if (!error_overflow_logged)
            log_warning("Errorstats stopped adding new errors because the number of different "
                        "errors reached %d; new errors will not be tracked",
                        ERROR_CODES_MAX);
        error_overflow_logged = true;
        return;
    }
    memcpy(error_counts[error_code_count].code, msg, code_len);
    error_counts[error_code_count].code[code_len] = '\0';
    error_counts[error_code_count++].count = 1;
}

void info_count_reply_errors(const struct resp_out *out, size_t from, unsigned long long count) {
    if (count == 0 || out->is_discard || out->failed || from >= out->len || out->buf[from] != '-')
        return;
    info_count_error(out->buf + from + 1, out->len - from - 1);
}

void info_reset_errorstats(void) {
    error_code_count = 0;
    error_overflow_logged = false;
}

/* ---- Sections ---- */

static const char *replication_id(void) {
    static char replid[41];
    if (replid[0] == '\0') {
        static const char hex[] = "0123456789abcdef";
        for (int i = 0; i < 40; i++)
            replid[i] = hex[server_random() & 15];
    }
    return replid;
}

/* keyraft keeps its counters on one thread and uses no atomics; this names
 * the API Redis 7.0's atomicvar.h picks for the same compiler. */
#if defined(__STDC_VERSION__) && __STDC_VERSION__ >= 201112L && !defined(__STDC_NO_ATOMICS__)
#define ATOMICVAR_API "c11-builtin"
#elif defined(__ATOMIC_RELAXED)
#define ATOMICVAR_API "atomic-builtin"
#else
#define ATOMICVAR_API "sync-builtin"
#endif

static void section_server(struct text *t) {
    struct utsname name;
    if (uname(&name) != 0)
        memset(&name, 0, sizeof(name));
    int64_t now_ms = server_now_ms();
    int64_t uptime_s = (now_ms - server.start_ms) / 1000;
    char exe[4096] = "";
    ssize_t n = readlink("/proc/self/exe", exe, sizeof(exe) - 1);
    exe[n > 0 ? n : 0] = '\0';
#ifdef __GNUC__
    const int gcc[3] = {__GNUC__, __GNUC_MINOR__, __GNUC_PATCHLEVEL__};
#else
    const int gcc[3] = {0, 0, 0};
#endif
    text_printf(t,
                "# Server\r\n"
                "redis_version:%s\r\n"
                "redis_git_sha1:00000000\r\n"
                "redis_git_dirty:0\r\n"
                "redis_build_id:0\r\n"
                "redis_mode:%s\r\n"
                "os:%s %s %s\r\n"
                "arch_bits:%d\r\n"
                "monotonic_clock:POSIX clock_gettime\r\n"
#ifdef __linux__
                "multiplexing_api:epoll\r\n"
#endif
                "atomicvar_api:%s\r\n"
                "gcc_version:%d.%d.%d\r\n"
                "process_id:%ld\r\n"
                "process_supervised:no\r\n"
                "run_id:%s\r\n"
                "tcp_port:%lld\r\n"
                "server_time_usec:%lld\r\n"
                "uptime_in_seconds:%lld\r\n"
                "uptime_in_days:%lld\r\n"
                "hz:%lld\r\n"
                "configured_hz:%lld\r\n"
                "lru_clock:%u\r\n"
                "executable:%s\r\n"
                "config_file:%s\r\n"
                "io_threads_active:0\r\n",
                KEYRAFT_REDIS_VERSION, cfg.cluster_enabled ? "cluster" : "standalone", name.sysname,
                name.release, name.machine, (int)(sizeof(long) * 8), ATOMICVAR_API, gcc[0], gcc[1],
                gcc[2], (long)getpid(), server.run_id, cfg.port, (long long)now_ms * 1000,
                (long long)uptime_s, (long long)uptime_s / 86400, cfg.hz, cfg.hz,
                (unsigned)server.lru_clock, exe, cfg.config_file ? cfg.config_file : "");
}

static void section_clients(struct text *t) {
    size_t max_in = 0, max_out = 0;
    long long blocked = 0;
    for (const struct client *c = server.clients; c != NULL; c = c->next) {
        if (client_query_buffer_len(c) > max_in)
            max_in = client_query_buffer_len(c);
        if (c->out.len + c->inflight.len > max_out)
            max_out = c->out.len + c->inflight.len;
        if (c->flags & CLIENT_BLOCKED)
            blocked++;
    }
    struct tracking_stats ts;
    tracking_get_stats(&ts);
    text_printf(t,
                "# Clients\r\n"
                "connected_clients:%llu\r\n"
                "cluster_connections:%zu\r\n"
                "maxclients:%lld\r\n"
                "client_recent_max_input_buffer:%zu\r\n"
                "client_recent_max_output_buffer:%zu\r\n"
                "blocked_clients:%lld\r\n"
                "tracking_clients:%zu\r\n"
                "clients_in_timeout_table:%zu\r\n",
                (unsigned long long)server.client_count, cluster_bus_link_count(), cfg.maxclients,
                max_in, max_out, blocked, ts.clients, blocking_timeout_count());
}

static void section_persistence(struct text *t) {
    struct persist_info p;
    persist_get_info(&p);
    /* With a Raft log, a Raft snapshot is the AOF rewrite (it compacts the log). */
    struct compaction_info c;
    compaction_get_info(&c);
    text_printf(t, "# Persistence\r\nloading:%d\r\nasync_loading:0\r\n",
                shard_is_loading() || p.loading ? 1 : 0);
    /* keyraft does not measure copy-on-write and its children report no
     * progress: the COW sizes, the fork percentage and the processed keys
     * are 0, as Redis 7.0 shows before a child's first report. No modules,
     * so no module fork. Loading never drops expired keys (a snapshot is
     * replayed as written), so none are counted as expired on load. */
    text_printf(t,
                "current_cow_peak:0\r\n"
                "current_cow_size:0\r\n"
                "current_cow_size_age:0\r\n"
                "current_fork_perc:0.00\r\n"
                "current_save_keys_processed:0\r\n"
                "current_save_keys_total:%lld\r\n"
                "rdb_changes_since_last_save:%lld\r\n"
                "rdb_bgsave_in_progress:%d\r\n"
                "rdb_last_save_time:%lld\r\n"
                "rdb_last_bgsave_status:%s\r\n"
                "rdb_last_bgsave_time_sec:%lld\r\n"
                "rdb_current_bgsave_time_sec:%lld\r\n"
                "rdb_saves:%lld\r\n"
                "rdb_last_cow_size:0\r\n"
                "rdb_last_load_keys_expired:0\r\n"
                "rdb_last_load_keys_loaded:%lld\r\n",
                p.save_keys_total, server.dirty, p.bgsave_in_progress ? 1 : 0,
                (long long)server.lastsave_s, p.last_bgsave_ok ? "ok" : "err",
                p.last_bgsave_time_sec, p.current_bgsave_time_sec, p.rdb_saves,
                p.last_load_keys_loaded);
    text_printf(t,
                "aof_enabled:%d\r\n"
                "aof_rewrite_in_progress:%d\r\n"
                "aof_rewrite_scheduled:%d\r\n"
                "aof_last_rewrite_time_sec:%lld\r\n"
                "aof_current_rewrite_time_sec:%lld\r\n"
                "aof_last_bgrewrite_status:%s\r\n"
                "aof_rewrites:%lld\r\n"
                "aof_rewrites_consecutive_failures:%lld\r\n"
                "aof_last_write_status:ok\r\n"
                "aof_last_cow_size:0\r\n"
                "module_fork_in_progress:0\r\n"
                "module_fork_last_cow_size:0\r\n",
                cfg.appendonly ? 1 : 0, c.in_progress ? 1 : 0, c.scheduled ? 1 : 0, c.last_time_sec,
                c.current_time_sec, c.last_ok ? "ok" : "err", c.rewrites, c.consecutive_failures);
    /* Redis 7.0 prints the AOF's sizes (and fields keyraft has no value
     * for) only with appendonly on. */
    if (cfg.appendonly)
        text_printf(t, "aof_current_size:%lld\r\naof_base_size:%lld\r\n", c.current_size,
                    c.base_size);
    /* Redis 7.0 adds these at the end of the section while loading. */
    if (p.loading)
        text_printf(t,
                    "loading_start_time:%lld\r\nloading_total_bytes:%lld\r\n"
                    "loading_loaded_bytes:%lld\r\nloading_loaded_perc:%.2f\r\n",
                    p.loading_start_time, p.loading_total_bytes, p.loading_loaded_bytes,
                    p.loading_total_bytes
                        ? (double)p.loading_loaded_bytes * 100 / (double)p.loading_total_bytes
                        : 0.0);
}

static void section_stats(struct text *t) {
    const struct server_stats *s = &server.stats;
    /* Replication is Raft's (INFO raft), not a Redis replication stream:
     * no repl bytes, full or partial syncs to count here. */
    text_printf(t,
                "# Stats\r\n"
                "total_connections_received:%llu\r\n"
                "total_commands_processed:%llu\r\n"
                "instantaneous_ops_per_sec:%lld\r\n"
                "total_net_input_bytes:%llu\r\n"
                "total_net_output_bytes:%llu\r\n"
                "total_net_repl_input_bytes:0\r\n"
                "total_net_repl_output_bytes:0\r\n"
                "instantaneous_input_kbps:%.2f\r\n"
                "instantaneous_output_kbps:%.2f\r\n"
                "instantaneous_input_repl_kbps:0.00\r\n"
                "instantaneous_output_repl_kbps:0.00\r\n"
                "rejected_connections:%llu\r\n"
                "sync_full:0\r\n"
                "sync_partial_ok:0\r\n"
                "sync_partial_err:0\r\n",
                (unsigned long long)s->connections_received,
                (unsigned long long)s->commands_processed, (long long)rate_get(&ops_rate),
                (unsigned long long)s->net_input_bytes, (unsigned long long)s->net_output_bytes,
                rate_get(&input_rate) / 1024, rate_get(&output_rate) / 1024,
                (unsigned long long)s->rejected_connections);
    struct expire_stats e;
    expire_get_stats(&e);
    struct persist_info p;
    persist_get_info(&p);
    /* No maxmemory-clients (evicted_clients); the time spent over
     * maxmemory is not measured yet, so its two fields stay 0. */
    text_printf(t,
                "expired_keys:%llu\r\n"
                "expired_stale_perc:%.2f\r\n"
                "expired_time_cap_reached_count:%llu\r\n"
                "expire_cycle_cpu_milliseconds:%llu\r\n"
                "evicted_keys:%llu\r\n"
                "evicted_clients:0\r\n"
                "total_eviction_exceeded_time:0\r\n"
                "current_eviction_exceeded_time:0\r\n"
                "keyspace_hits:%llu\r\n"
                "keyspace_misses:%llu\r\n"
                "pubsub_channels:%zu\r\n"
                "pubsub_patterns:%zu\r\n"
                "pubsubshard_channels:%zu\r\n"
                "latest_fork_usec:%lld\r\n"
                "total_forks:%lld\r\n"
                "migrate_cached_sockets:%zu\r\n",
                (unsigned long long)s->expired_keys, e.stale_perc * 100,
                (unsigned long long)e.time_cap_reached_count,
                (unsigned long long)(e.cycle_time_us / 1000), (unsigned long long)s->evicted_keys,
                (unsigned long long)s->keyspace_hits, (unsigned long long)s->keyspace_misses,
                pubsub_total(PUBSUB_CHANNEL), pubsub_total(PUBSUB_PATTERN),
                pubsub_total(PUBSUB_SHARD), persist_latest_fork_usec(), p.total_forks,
                migrate_conn_cached_count());
    struct tracking_stats ts;
    tracking_get_stats(&ts);
    /* Replicas never expire keys on their own (slave_expires_tracked_keys);
     * no active defrag without jemalloc; RESTORE payloads are never
     * deep-sanitized (dump_payload_sanitizations); no I/O threads; and no
     * fixed reply buffer that the cron resizes (reply_buffer_*). */
    text_printf(t,
                "slave_expires_tracked_keys:0\r\n"
                "active_defrag_hits:0\r\n"
                "active_defrag_misses:0\r\n"
                "active_defrag_key_hits:0\r\n"
                "active_defrag_key_misses:0\r\n"
                "total_active_defrag_time:0\r\n"
                "current_active_defrag_time:0\r\n"
                "tracking_total_keys:%zu\r\n"
                "tracking_total_items:%zu\r\n"
                "tracking_total_prefixes:%zu\r\n"
                "unexpected_error_replies:%llu\r\n"
                "total_error_replies:%llu\r\n"
                "dump_payload_sanitizations:0\r\n"
                "total_reads_processed:%llu\r\n"
                "total_writes_processed:%llu\r\n"
                "io_threaded_reads_processed:0\r\n"
                "io_threaded_writes_processed:0\r\n"
                "reply_buffer_shrinks:0\r\n"
                "reply_buffer_expands:0\r\n",
                ts.keys, ts.items, ts.prefixes, (unsigned long long)s->unexpected_error_replies,
                (unsigned long long)s->total_error_replies, (unsigned long long)s->reads_processed,
                (unsigned long long)s->writes_processed);
}

/* keyraft has no partial-resync backlog (a lagging replica catches up from
 * the Raft log): Redis 7.0 prints these as below until its first replica
 * creates one, with repl_backlog_size the configured size. */
static void section_replication(struct text *t) {
    char fields[4096];
    replication_info(fields, sizeof(fields), replication_id());
    char backlog_size[32] = "1048576";
    const struct config_directive *d = config_find("repl-backlog-size");
    if (d != NULL)
        config_format(d, backlog_size, sizeof(backlog_size));
    text_printf(t,
                "# Replication\r\n%s"
                "repl_backlog_active:0\r\n"
                "repl_backlog_size:%s\r\n"
                "repl_backlog_first_byte_offset:0\r\n"
                "repl_backlog_histlen:0\r\n",
                fields, backlog_size);
}

static void section_cpu(struct text *t) {
    struct rusage self, children, thread;
    getrusage(RUSAGE_SELF, &self);
    getrusage(RUSAGE_CHILDREN, &children);
#ifdef RUSAGE_THREAD
    getrusage(RUSAGE_THREAD, &thread);
#else
    thread = self;
#endif
#define TV(tv) (long)(tv).tv_sec, (long)(tv).tv_usec
    text_printf(t,
                "# CPU\r\n"
                "used_cpu_sys:%ld.%06ld\r\n"
                "used_cpu_user:%ld.%06ld\r\n"
                "used_cpu_sys_children:%ld.%06ld\r\n"
                "used_cpu_user_children:%ld.%06ld\r\n"
                "used_cpu_sys_main_thread:%ld.%06ld\r\n"
                "used_cpu_user_main_thread:%ld.%06ld\r\n",
                TV(self.ru_stime), TV(self.ru_utime), TV(children.ru_stime), TV(children.ru_utime),
                TV(thread.ru_stime), TV(thread.ru_utime));
#undef TV
}

static void commandstats_of(struct text *t, const struct command *cmd) {
    const struct command_stats *s = &cmd->stats;
    if (s->calls || s->failed_calls || s->rejected_calls)
        text_printf(t,
                    "cmdstat_%s:calls=%llu,usec=%llu,usec_per_call=%.2f,rejected_calls=%llu,"
                    "failed_calls=%llu\r\n",
                    cmd->fullname, (unsigned long long)s->calls, (unsigned long long)s->usec,
                    s->calls ? (double)s->usec / (double)s->calls : 0.0,
                    (unsigned long long)s->rejected_calls, (unsigned long long)s->failed_calls);
    for (int i = 0; i < cmd->subcommand_count; i++)
        commandstats_of(t, cmd->subcommands[i]);
}

static void section_commandstats(struct text *t) {
    text_printf(t, "# Commandstats\r\n");
    size_t count;
    struct command *const *all = command_all(&count);
    for (size_t i = 0; i < count; i++)
        commandstats_of(t, all[i]);
}

static void section_errorstats(struct text *t) {
    text_printf(t, "# Errorstats\r\n");
    for (int i = 0; i < error_code_count; i++)
        text_printf(t, "errorstat_%s:count=%llu\r\n", error_counts[i].code,
                    (unsigned long long)error_counts[i].count);
}

/* keyraft's own section, shown only when asked for by name (INFO raft), as
 * Redis shows a module's section: INFO, INFO all and INFO everything list
 * exactly Redis 7.0's sections. */
static void section_raft(struct text *t) {
    char fields[2048];
    raft_info_fields(fields, sizeof(fields));
    text_printf(t, "# Raft\r\n%s", fields);
}

static void section_cluster(struct text *t) {
    text_printf(t, "# Cluster\r\ncluster_enabled:%d\r\n", cfg.cluster_enabled ? 1 : 0);
}

/* Redis 7.0: one line per database that has keys; avg_ttl is estimated by
 * Redis's active expire cycle, which keyraft does not sample, so it is 0 (as
 * Redis reports before its first estimate). */
static void section_keyspace(struct text *t) {
    text_printf(t, "# Keyspace\r\n");
    for (long long i = 0; i < cfg.databases; i++) {
        struct keyspace *ks = server_db_if_exists((int)i);
        if (ks == NULL || keyspace_size(ks) == 0)
            continue;
        text_printf(t, "db%lld:keys=%zu,expires=%zu,avg_ttl=0\r\n", i, keyspace_size(ks),
                    keyspace_expires_size(ks));
    }
}

/* Sections in Redis 7.0's output order. Modules and Latencystats are
 * always empty here: keyraft has no modules and no latency histograms. */
enum { IN_DEFAULT = 1, IN_ALL = 2 };

static void section_empty(struct text *t, const char *header) {
    text_printf(t, "# %s\r\n", header);
}

static void section_modules(struct text *t) {
    section_empty(t, "Modules");
}

static void section_latencystats(struct text *t) {
    section_empty(t, "Latencystats");
}

static const struct {
    const char *name;
    int in;
    void (*write)(struct text *t);
} sections[] = {
    {"server", IN_DEFAULT | IN_ALL, section_server},
    {"clients", IN_DEFAULT | IN_ALL, section_clients},
    {"memory", IN_DEFAULT | IN_ALL, info_section_memory},
    {"persistence", IN_DEFAULT | IN_ALL, section_persistence},
    {"stats", IN_DEFAULT | IN_ALL, section_stats},
    {"replication", IN_DEFAULT | IN_ALL, section_replication},
    {"cpu", IN_DEFAULT | IN_ALL, section_cpu},
    {"modules", IN_DEFAULT | IN_ALL, section_modules},
    {"commandstats", IN_ALL, section_commandstats},
    {"errorstats", IN_DEFAULT | IN_ALL, section_errorstats},
    {"latencystats", IN_ALL, section_latencystats},
    {"raft", 0, section_raft},
    {"cluster", IN_DEFAULT | IN_ALL, section_cluster},
    {"keyspace", IN_DEFAULT | IN_ALL, section_keyspace},
};

#define SECTION_COUNT (sizeof(sections) / sizeof(sections[0]))

static bool word_is(const char *arg, size_t len, const char *word) {
    return strlen(word) == len && strncasecmp(arg, word, len) == 0;
}

void info_reply(struct resp_out *out, int argc, char **argv, const size_t *argvlen) {
    bool wanted[SECTION_COUNT] = {false};
    if (argc == 0) {
        for (size_t s = 0; s < SECTION_COUNT; s++)
            wanted[s] = sections[s].in & IN_DEFAULT;
    }
    for (int i = 0; i < argc; i++) {
        int in = 0;
        if (word_is(argv[i], argvlen[i], "default"))
            in = IN_DEFAULT;
        else if (word_is(argv[i], argvlen[i], "all") || word_is(argv[i], argvlen[i], "everything"))
            in = IN_ALL;
        for (size_t s = 0; s < SECTION_COUNT; s++)
            if ((sections[s].in & in) || word_is(argv[i], argvlen[i], sections[s].name))
                wanted[s] = true;
    }
    struct text t = {0};
    int written = 0;
    for (size_t s = 0; s < SECTION_COUNT; s++) {
        if (!wanted[s])
            continue;
        if (written++)
            text_printf(&t, "\r\n");
        sections[s].write(&t);
    }
    if (t.failed)
        resp_add_error(out, "ERR Out of memory building the INFO report");
    else
        resp_add_verbatim(out, t.buf ? t.buf : "", t.len, "txt");
    free(t.buf);
}
