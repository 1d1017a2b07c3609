/* Configuration (see config.h): the directive table, and parsing, setting
 * and formatting of values. Reading files and the command line, and CONFIG
 * REWRITE, live in config_file.c; the directives keyraft accepts but ignores
 * in config_ignored.c; the CONFIG command in cmd_config.c. */
#include "node/config.h"

#include "node/acl.h"
#include "node/compaction.h"
#include "node/config_table.h"
#include "node/notify.h"
#include "node/outlimit.h"
#include "node/server.h"
#include "node/shard.h"
#include "storage/object.h"

#include <errno.h>
#include <limits.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <unistd.h>

struct config cfg;

/* ---- Value kinds ---- */

/* Redis 7.0's loglevel has no "nothing" (added in 7.2). */
static const struct config_enum loglevel_enum[] = {{"debug", LOG_DEBUG},
                                                   {"verbose", LOG_VERBOSE},
                                                   {"notice", LOG_NOTICE},
                                                   {"warning", LOG_WARNING},
                                                   {NULL, 0}};
static const struct config_enum appendfsync_enum[] = {
    {"always", FSYNC_ALWAYS}, {"everysec", FSYNC_EVERYSEC}, {"no", FSYNC_NO}, {NULL, 0}};
static const struct config_enum maxmemory_policy_enum[] = {
    {"volatile-lru", 0},   {"volatile-lfu", 1}, {"volatile-random", 2},
    {"volatile-ttl", 3},   {"allkeys-lru", 4},  {"allkeys-lfu", 5},
    {"allkeys-random", 6}, {"noeviction", 7},   {NULL, 0}};
static const struct config_enum protect_enum[] = {{"no", CONFIG_PROTECT_NO},
                                                  {"yes", CONFIG_PROTECT_YES},
                                                  {"local", CONFIG_PROTECT_LOCAL},
                                                  {NULL, 0}};

static int set_save(int argc, char **argv, char *err, size_t errlen);
static size_t get_save(char *buf, size_t len);
static int set_bind(int argc, char **argv, char *err, size_t errlen);
static size_t get_bind(char *buf, size_t len);
static int set_dir(int argc, char **argv, char *err, size_t errlen);
static size_t get_dir(char *buf, size_t len);
static int apply_hz(char *err, size_t errlen);

/* Row macros. The optional trailing argument is a designated initializer,
 * e.g. `.apply = apply_hz`. The *A forms take an alias after the name. */
#define ROW(n, a, k, f, v, lo, hi, def, en, st, gt, ...)                                           \
    {                                                                                              \
        .name = n, .alias = a, .kind = k, .flags = f, .value = v, .min = lo, .max = hi,            \
        .default_value = def, .enums = en, .set = st, .get = gt, __VA_ARGS__                       \
    }
#define B(name, field, def, flags, ...)                                                            \
    ROW(name, NULL, CONFIG_BOOL, flags, &cfg.field, 0, 0, def, NULL, NULL, NULL, __VA_ARGS__)
#define I(name, field, lo, hi, def, flags, ...)                                                    \
    ROW(name, NULL, CONFIG_INT, flags, &cfg.field, lo, hi, def, NULL, NULL, NULL, __VA_ARGS__)
#define IA(name, alias, field, lo, hi, def, flags, ...)                                            \
    ROW(name, alias, CONFIG_INT, flags, &cfg.field, lo, hi, def, NULL, NULL, NULL, __VA_ARGS__)
#define M(name, field, lo, hi, def, flags, ...)                                                    \
    ROW(name, NULL, CONFIG_MEMORY, flags, &cfg.field, lo, hi, def, NULL, NULL, NULL, __VA_ARGS__)
#define MA(name, alias, field, lo, hi, def, flags, ...)                                            \
    ROW(name, alias, CONFIG_MEMORY, flags, &cfg.field, lo, hi, def, NULL, NULL, NULL, __VA_ARGS__)
#define E(name, field, enums, def, flags, ...)                                                     \
    ROW(name, NULL, CONFIG_ENUM, flags, &cfg.field, 0, 0, def, enums, NULL, NULL, __VA_ARGS__)
#define S(name, field, def, flags, ...)                                                            \
    ROW(name, NULL, CONFIG_STRING, flags, &cfg.field, 0, 0, def, NULL, NULL, NULL, __VA_ARGS__)
#define X(name, setter, getter, def, flags, ...)                                                   \
    ROW(name, NULL, CONFIG_CUSTOM, flags, NULL, 0, 0, def, NULL, setter, getter, __VA_ARGS__)

/* Ranges and mutability follow Redis 7.0's config.c; CONFIG SET of a
 * directive Redis can change but keyraft cannot yet (port, bind) is refused
 * as immutable. */

const struct config_directive config_table[] = {
    I("port", port, 0, 65535, "6379", CONFIG_IMMUTABLE),
    X("bind", set_bind, get_bind, "* -::*", CONFIG_IMMUTABLE),
    I("tcp-backlog", tcp_backlog, 0, INT_MAX, "511", CONFIG_IMMUTABLE),
    I("timeout", timeout, 0, INT_MAX, "0", 0),
    I("tcp-keepalive", tcp_keepalive, 0, INT_MAX, "300", 0),
    B("protected-mode", protected_mode, "yes", 0),
    S("unixsocket", unixsocket, "", CONFIG_IMMUTABLE),
    B("daemonize", daemonize, "no", CONFIG_IMMUTABLE),
    S("pidfile", pidfile, "", CONFIG_IMMUTABLE),
    E("loglevel", loglevel, loglevel_enum, "notice", 0),
    S("logfile", logfile, "", CONFIG_IMMUTABLE),
    I("databases", databases, 1, INT_MAX, "16", CONFIG_IMMUTABLE),
    I("hz", hz, 0, INT_MAX, "10", 0, .apply = apply_hz),
    X("dir", set_dir, get_dir, ".", CONFIG_PROTECTED),
    E("enable-protected-configs", enable_protected_configs, protect_enum, "no", CONFIG_IMMUTABLE),
    E("enable-debug-command", enable_debug_command, protect_enum, "no", CONFIG_IMMUTABLE),
    I("maxclients", maxclients, 1, UINT_MAX, "10000", 0),
    M("proto-max-bulk-len", proto_max_bulk_len, 1024 * 1024, LLONG_MAX, "512mb", 0),
    M("client-query-buffer-limit", client_query_buffer_limit, 1024 * 1024, LLONG_MAX, "1gb", 0),
    S("requirepass", requirepass, "", CONFIG_SENSITIVE, .apply = acl_apply_requirepass),
    ROW("aclfile", NULL, CONFIG_STRING, CONFIG_IMMUTABLE, &acl_file, 0, 0, "", NULL, NULL, NULL),
    ROW("acllog-max-len", NULL, CONFIG_INT, 0, &acl_log_max_len, 0, LONG_MAX, "128", NULL, NULL,
        NULL),
    M("maxmemory", maxmemory, 0, LLONG_MAX, "0", 0),
    E("maxmemory-policy", maxmemory_policy, maxmemory_policy_enum, "noeviction", 0),
    I("maxmemory-samples", maxmemory_samples, 1, INT_MAX, "5", 0),
    IA("hash-max-listpack-entries", "hash-max-ziplist-entries", hash_max_listpack_entries, 0,
       LONG_MAX, "512", 0),
    MA("hash-max-listpack-value", "hash-max-ziplist-value", hash_max_listpack_value, 0, LONG_MAX,
       "64", 0),
    IA("zset-max-listpack-entries", "zset-max-ziplist-entries", zset_max_listpack_entries, 0,
       LONG_MAX, "128", 0),
    MA("zset-max-listpack-value", "zset-max-ziplist-value", zset_max_listpack_value, 0, LONG_MAX,
       "64", 0),
    I("set-max-intset-entries", set_max_intset_entries, 0, LONG_MAX, "512", 0),
    IA("list-max-listpack-size", "list-max-ziplist-size", list_max_listpack_size, INT_MIN, INT_MAX,
       "-2", 0),
    I("list-compress-depth", list_compress_depth, 0, INT_MAX, "0", 0),
    X("save", set_save, get_save, "3600 1 300 100 60 10000", 0),
    B("appendonly", appendonly, "no", 0, .apply = shard_apply_appendonly),
    E("appendfsync", appendfsync, appendfsync_enum, "everysec", 0),
    /* keyraft's own: reads on a group's leader wait for a Raft barrier issued
     * after they arrive, so they see every write acknowledged before them
     * (node/linread.h). Costs one barrier per loop iteration with reads. */
    B("linearizable-reads", linearizable_reads, "no", 0),
    S("dbfilename", dbfilename, "dump.rdb", CONFIG_PROTECTED),
    S("appendfilename", appendfilename, "appendonly.aof", CONFIG_IMMUTABLE),
    /* Redis 7.0's AOF rewrite policy: here a Raft snapshot, on every member
     * (node/compaction.h). */
    I("auto-aof-rewrite-percentage", auto_aof_rewrite_percentage, 0, INT_MAX, "100", 0),
    M("auto-aof-rewrite-min-size", auto_aof_rewrite_min_size, 0, LLONG_MAX, "64mb", 0),
    /* keyraft's own: a snapshot every N applied entries as well (0: none). */
    I("raft-snapshot-threshold", raft_snapshot_threshold, 0, UINT_MAX, "0", 0,
      .apply = compaction_apply_config),
    I("raft-snapshot-trailing", raft_snapshot_trailing, 1, UINT_MAX, "2000", 0,
      .apply = compaction_apply_config),
    /* keyraft's own: the Prometheus endpoint (node/metrics.h); 0: off. */
    I("metrics-port", metrics_port, 0, 65535, "0", CONFIG_IMMUTABLE),
    I("slowlog-log-slower-than", slowlog_log_slower_than, -1, LLONG_MAX, "10000", 0),
    I("slowlog-max-len", slowlog_max_len, 0, LONG_MAX, "128", 0),
    M("hll-sparse-max-bytes", hll_sparse_max_bytes, 0, LONG_MAX, "3000", 0),
    M("stream-node-max-bytes", stream_node_max_bytes, 0, LLONG_MAX, "4096", 0),
    I("stream-node-max-entries", stream_node_max_entries, 0, LLONG_MAX, "100", 0),
    I("latency-monitor-threshold", latency_monitor_threshold, 0, LLONG_MAX, "0", 0),
    IA("busy-reply-threshold", "lua-time-limit", busy_reply_threshold, 0, LONG_MAX, "5000", 0),
    X("client-output-buffer-limit", outlimit_config_set, outlimit_config_get,
      "normal 0 0 0 slave 268435456 67108864 60 pubsub 33554432 8388608 60", 0),
    X("notify-keyspace-events", notify_config_set, notify_config_get, "", 0),
    B("cluster-enabled", cluster_enabled, "no", CONFIG_IMMUTABLE),
    S("cluster-config-file", cluster_config_file, "nodes.conf", CONFIG_IMMUTABLE),
    I("cluster-node-timeout", cluster_node_timeout, 0, LLONG_MAX, "15000", 0),
    I("cluster-port", cluster_port, 0, 65535, "0", CONFIG_IMMUTABLE),
    S("cluster-announce-ip", cluster_announce_ip, "", 0),
    I("cluster-announce-port", cluster_announce_port, 0, 65535, "0", 0),
    I("cluster-announce-bus-port", cluster_announce_bus_port, 0, 65535, "0", 0),
    S("cluster-announce-hostname", cluster_announce_hostname, "", 0),
    /* Valkey 8's: the address MOVED/ASK and CLUSTER NODES/SLOTS/SHARDS give
     * clients, while gossip and Raft use cluster-announce-ip/-port. */
    S("cluster-announce-client-ipv4", cluster_announce_client_ipv4, "", 0),
    I("cluster-announce-client-port", cluster_announce_client_port, 0, 65535, "0", 0),
    B("cluster-require-full-coverage", cluster_require_full_coverage, "yes", 0),
    B("cluster-allow-reads-when-down", cluster_allow_reads_when_down, "no", 0),
    {.name = NULL},
};

#undef ROW
#undef B
#undef I
#undef IA
#undef M
#undef MA
#undef E
#undef S
#undef X

#define MAX_VALUE_ARGS 128

static void fail(char *err, size_t errlen, const char *fmt, ...)
    __attribute__((format(printf, 3, 4)));
static void fail(char *err, size_t errlen, const char *fmt, ...) {
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(err, errlen, fmt, ap);
    va_end(ap);
}

bool config_protected_allowed(int setting, const char *addr) {
    if (setting == CONFIG_PROTECT_YES || addr == NULL)
        return true;
    if (setting != CONFIG_PROTECT_LOCAL)
        return false;
    return strncmp(addr, "127.", 4) == 0 || strncmp(addr, "::1", 3) == 0 ||
           strncmp(addr, "[::1]", 5) == 0 || strncmp(addr, "/", 1) == 0 || addr[0] == '\0';
}

const char *config_strerror(int code) {
#define CONFIG_ERROR_TEXT(name, num, text)                                                         \
    case name:                                                                                     \
        return text;
    switch (code) { CONFIG_ERRORS(CONFIG_ERROR_TEXT) }
#undef CONFIG_ERROR_TEXT
    return "unknown error";
}

/* ---- Finding directives ---- */

static const struct config_directive *find_in(const struct config_directive *table,
                                              const char *name) {
    for (const struct config_directive *d = table; d->name; d++)
        if (strcasecmp(d->name, name) == 0 || (d->alias && strcasecmp(d->alias, name) == 0))
            return d;
    return NULL;
}

const struct config_directive *config_find(const char *name) {
    const struct config_directive *d = find_in(config_table, name);
    return d != NULL ? d : find_in(config_ignored_table, name);
}

static const struct config_directive *real_table_end(void) {
    static const struct config_directive *end;
    if (end == NULL)
        for (end = config_table; end->name; end++)
            ;
    return end;
}

/* An ignored row is shadowed when config_table implements the same name. */
static bool is_shadowed(const struct config_directive *d) {
    return (d->flags & CONFIG_IGNORED) && config_find(d->name) != d;
}

const struct config_directive *config_next(const struct config_directive *d) {
    const struct config_directive *n = d == NULL ? config_table : d + 1;
    if (n == real_table_end())
        n = config_ignored_table;
    while (n->name != NULL && is_shadowed(n))
        n++;
    return n->name != NULL ? n : NULL;
}

/* ---- Parsing ---- */

bool config_parse_ll(const char *s, long long *out) {
    return obj_parse_ll(s, strlen(s), out); /* Redis string2ll rules */
}

bool config_parse_memory(const char *s, long long *out) {
    /* Redis memtoull: digits, then an optional unit; the digits may be
     * empty ("mb" is 0, as in Redis). */
    static const struct {
        const char *unit;
        unsigned long long mul;
    } units[] = {{"", 1},           {"b", 1},          {"k", 1000},
                 {"kb", 1024},      {"m", 1000000},    {"mb", 1024 * 1024},
                 {"g", 1000000000}, {"gb", 1ULL << 30}};
    const char *u = s;
    while (*u >= '0' && *u <= '9')
        u++;
    unsigned long long mul = 0;
    for (size_t i = 0; i < sizeof(units) / sizeof(units[0]); i++)
        if (strcasecmp(u, units[i].unit) == 0)
            mul = units[i].mul;
    if (mul == 0 || u - s > 20)
        return false;
    unsigned long long v = 0;
    for (const char *p = s; p < u; p++) {
        unsigned d = (unsigned)(*p - '0');
        if (v > (ULLONG_MAX - d) / 10)
            return false;
        v = v * 10 + d;
    }
    if (v > (unsigned long long)LLONG_MAX / mul)
        return false;
    *out = (long long)(v * mul);
    return true;
}

/* ---- Custom directives ---- */

static bool loading;
static bool save_read_while_loading;

void config_set_loading(bool is_loading) {
    loading = is_loading;
    save_read_while_loading = false;
}

/* Redis 7.0: `save ""` (or no pairs) disables snapshots. While loading, the
 * first `save` line replaces the defaults and later ones add points; CONFIG
 * SET replaces them all. */
static int set_save(int argc, char **argv, char *err, size_t errlen) {
    if (argc == 0 || (argc == 1 && argv[0][0] == '\0')) {
        cfg.save_count = 0;
        if (loading)
            save_read_while_loading = true;
        return 0;
    }
    if (argc % 2 != 0) {
        fail(err, errlen, "Invalid save parameters");
        return -1;
    }
    struct save_point points[CONFIG_MAX_SAVE];
    int count = 0;
    if (loading && save_read_while_loading) {
        memcpy(points, cfg.save, sizeof(points[0]) * (size_t)cfg.save_count);
        count = cfg.save_count;
    }
    for (int i = 0; i < argc; i += 2) {
        long long secs, changes;
        if (!config_parse_ll(argv[i], &secs) || !config_parse_ll(argv[i + 1], &changes) ||
            secs < 1 || changes < 0) {
            fail(err, errlen, "Invalid save parameters");
            return -1;
        }
        if (count == CONFIG_MAX_SAVE) {
            fail(err, errlen, "Too many save parameters");
            return -1;
        }
        points[count].seconds = secs;
        points[count].changes = changes;
        count++;
    }
    memcpy(cfg.save, points, sizeof(points[0]) * (size_t)count);
    cfg.save_count = count;
    if (loading)
        save_read_while_loading = true;
    return 0;
}

static size_t get_save(char *buf, size_t len) {
    size_t n = 0;
    buf[0] = '\0';
    for (int i = 0; i < cfg.save_count && n < len; i++)
        n += (size_t)snprintf(buf + n, len - n, "%s%lld %lld", i ? " " : "", cfg.save[i].seconds,
                              cfg.save[i].changes);
    return n < len ? n : len - 1;
}

static int set_bind(int argc, char **argv, char *err, size_t errlen) {
    if (argc > CONFIG_MAX_BIND) {
        fail(err, errlen, "Too many bind addresses specified.");
        return -1;
    }
    char *copies[CONFIG_MAX_BIND];
    for (int i = 0; i < argc; i++) {
        copies[i] = strdup(argv[i]);
        if (copies[i] == NULL) {
            while (i-- > 0)
                free(copies[i]);
            fail(err, errlen, "out of memory");
            return -1;
        }
    }
    for (int i = 0; i < cfg.bind_count; i++)
        free(cfg.bind[i]);
    memcpy(cfg.bind, copies, sizeof(copies[0]) * (size_t)argc);
    cfg.bind_count = argc;
    return 0;
}

static size_t get_bind(char *buf, size_t len) {
    size_t n = 0;
    buf[0] = '\0';
    for (int i = 0; i < cfg.bind_count && n < len; i++)
        n += (size_t)snprintf(buf + n, len - n, "%s%s", i ? " " : "", cfg.bind[i]);
    return n < len ? n : len - 1;
}

/* Redis 7.0: `dir` is the working directory: setting it chdirs at once (in
 * the config file too, so later relative paths resolve against it) and
 * CONFIG GET reports getcwd(). cfg.dir keeps the absolute path. */
static int set_dir(int argc, char **argv, char *err, size_t errlen) {
    if (argc != 1) {
        fail(err, errlen, "wrong number of arguments");
        return -1;
    }
    if (chdir(argv[0]) != 0) {
        fail(err, errlen, "%s", strerror(errno));
        return -1;
    }
    char *cwd = getcwd(NULL, 0);
    if (cwd == NULL) {
        fail(err, errlen, "%s", strerror(errno));
        return -1;
    }
    free(cfg.dir);
    cfg.dir = cwd;
    return 0;
}

static size_t get_dir(char *buf, size_t len) {
    if (getcwd(buf, len) == NULL)
        return (size_t)snprintf(buf, len, "%s", cfg.dir ? cfg.dir : "");
    return strlen(buf);
}

/* Redis 7.0 accepts any hz >= 0 and clamps it to 1..500. */
static void clamp_hz(void) {
    if (cfg.hz < 1)
        cfg.hz = 1;
    if (cfg.hz > 500)
        cfg.hz = 500;
}

static int apply_hz(char *err, size_t errlen) {
    (void)err;
    (void)errlen;
    clamp_hz();
    server_cron_restart();
    return 0;
}

/* ---- Setting values ---- */

int config_set_args(const struct config_directive *d, int argc, char **argv, char *err,
                    size_t errlen) {
    if (d->kind == CONFIG_CUSTOM) {
        /* A multi-argument directive given as one argument is split at
         * spaces, as Redis does for `--save "60 1 300 10"`. */
        if (argc == 1 && strchr(argv[0], ' ') != NULL)
            return config_set_text(d, argv[0], err, errlen);
        int rc = d->set(argc, argv, err, errlen);
        if (rc == 0 && strcmp(d->name, "hz") == 0)
            clamp_hz();
        return rc;
    }
    if (d->kind == CONFIG_WORDS) {
        if (argc < 1) {
            fail(err, errlen, "wrong number of arguments");
            return -1;
        }
        size_t total = 1;
        for (int i = 0; i < argc; i++)
            total += strlen(argv[i]) + 1;
        char *joined = malloc(total);
        if (joined == NULL) {
            fail(err, errlen, "out of memory");
            return -1;
        }
        size_t n = 0;
        for (int i = 0; i < argc; i++) {
            size_t l = strlen(argv[i]);
            if (i > 0)
                joined[n++] = ' ';
            memcpy(joined + n, argv[i], l);
            n += l;
        }
        joined[n] = '\0';
        free(*(char **)d->value);
        *(char **)d->value = joined;
        return 0;
    }
    if (argc != 1) {
        fail(err, errlen, "wrong number of arguments");
        return -1;
    }
    const char *v = argv[0];
    switch (d->kind) {
    case CONFIG_BOOL:
        if (strcasecmp(v, "yes") == 0) {
            *(bool *)d->value = true;
        } else if (strcasecmp(v, "no") == 0) {
            *(bool *)d->value = false;
        } else {
            fail(err, errlen, "argument must be 'yes' or 'no'");
            return -1;
        }
        return 0;
    case CONFIG_INT:
    case CONFIG_MEMORY: {
        long long ll;
        if (d->kind == CONFIG_MEMORY ? !config_parse_memory(v, &ll) : !config_parse_ll(v, &ll)) {
            fail(err, errlen, "%s",
                 d->kind == CONFIG_MEMORY ? "argument must be a memory value"
                                          : "argument couldn't be parsed into an integer");
            return -1;
        }
        if (ll < d->min || ll > d->max) {
            fail(err, errlen, "argument must be between %lld and %lld inclusive", d->min, d->max);
            return -1;
        }
        *(long long *)d->value = ll;
        if (d->value == &cfg.hz)
            clamp_hz();
        return 0;
    }
    case CONFIG_ENUM: {
        for (const struct config_enum *e = d->enums; e->name; e++) {
            if (strcasecmp(e->name, v) == 0) {
                *(int *)d->value = e->value;
                return 0;
            }
        }
        size_t n = (size_t)snprintf(err, errlen, "argument(s) must be one of the following: ");
        for (const struct config_enum *e = d->enums; e->name && n < errlen; e++)
            n += (size_t)snprintf(err + n, errlen - n, "%s%s", e == d->enums ? "" : ", ", e->name);
        return -1;
    }
    case CONFIG_STRING: {
        char *copy = strdup(v);
        if (copy == NULL) {
            fail(err, errlen, "out of memory");
            return -1;
        }
        free(*(char **)d->value);
        *(char **)d->value = copy;
        return 0;
    }
    case CONFIG_CUSTOM:
    case CONFIG_WORDS:
        break;
    }
    fail(err, errlen, "unsupported directive kind");
    return -1;
}

int config_set_text(const struct config_directive *d, const char *value, char *err, size_t errlen) {
    if (d->kind != CONFIG_CUSTOM && d->kind != CONFIG_WORDS) {
        char *argv[1] = {(char *)value};
        return config_set_args(d, 1, argv, err, errlen);
    }
    /* Redis splits a multi-argument value at every single space, so "a  b"
     * has an empty middle argument; "" has none. */
    char *copy = strdup(value);
    if (copy == NULL) {
        fail(err, errlen, "out of memory");
        return -1;
    }
    char *argv[MAX_VALUE_ARGS];
    int argc = 0;
    int rc = 0;
    if (copy[0] != '\0') {
        char *p = copy;
        for (;;) {
            if (argc == MAX_VALUE_ARGS) {
                fail(err, errlen, "wrong number of arguments");
                rc = -1;
                break;
            }
            argv[argc++] = p;
            char *sp = strchr(p, ' ');
            if (sp == NULL)
                break;
            *sp = '\0';
            p = sp + 1;
        }
    }
    if (rc == 0) {
        if (d->kind == CONFIG_WORDS && argc == 0) {
            argv[0] = copy;
            argc = 1;
        }
        rc = d->kind == CONFIG_CUSTOM ? d->set(argc, argv, err, errlen)
                                      : config_set_args(d, argc, argv, err, errlen);
    }
    free(copy);
    return rc;
}

/* ---- Formatting values ---- */

size_t config_format(const struct config_directive *d, char *buf, size_t len) {
    int n = 0;
    switch (d->kind) {
    case CONFIG_BOOL:
        n = snprintf(buf, len, "%s", *(bool *)d->value ? "yes" : "no");
        break;
    case CONFIG_INT:
    case CONFIG_MEMORY:
        n = snprintf(buf, len, "%lld", *(long long *)d->value);
        break;
    case CONFIG_ENUM:
        buf[0] = '\0';
        for (const struct config_enum *e = d->enums; e->name; e++) {
            if (e->value == *(int *)d->value) {
                n = snprintf(buf, len, "%s", e->name);
                break;
            }
        }
        break;
    case CONFIG_STRING:
    case CONFIG_WORDS: {
        const char *s = *(char **)d->value;
        n = snprintf(buf, len, "%s", s ? s : "");
        break;
    }
    case CONFIG_CUSTOM:
        return d->get(buf, len);
    }
    return n < 0 ? 0 : (size_t)n < len ? (size_t)n : len - 1;
}

/* Redis's sdscatrepr: a double-quoted string with C escapes. */
static size_t quote(const char *s, char *buf, size_t len) {
    size_t n = 0;
#define PUT(c)                                                                                     \
    do {                                                                                           \
        if (n + 1 < len)                                                                           \
            buf[n++] = (c);                                                                        \
    } while (0)
    PUT('"');
    for (const unsigned char *p = (const unsigned char *)s; *p; p++) {
        const char *esc = NULL;
        switch (*p) {
        case '\\':
            esc = "\\\\";
            break;
        case '"':
            esc = "\\\"";
            break;
        case '\n':
            esc = "\\n";
            break;
        case '\r':
            esc = "\\r";
            break;
        case '\t':
            esc = "\\t";
            break;
        case '\a':
            esc = "\\a";
            break;
        case '\b':
            esc = "\\b";
            break;
        default:
            break;
        }
        if (esc != NULL) {
            PUT(esc[0]);
            PUT(esc[1]);
        } else if (*p < 0x20 || *p >= 0x7f) {
            char hex[5];
            snprintf(hex, sizeof(hex), "\\x%02x", *p);
            for (int i = 0; i < 4; i++)
                PUT(hex[i]);
        } else {
            PUT((char)*p);
        }
    }
    PUT('"');
#undef PUT
    buf[n] = '\0';
    return n;
}

size_t config_quote(const char *s, char *buf, size_t len) {
    return quote(s, buf, len);
}

size_t config_format_for_file(const struct config_directive *d, char *buf, size_t len) {
    if (d->kind == CONFIG_STRING) {
        const char *s = *(char **)d->value;
        return quote(s ? s : "", buf, len);
    }
    if (d->kind == CONFIG_MEMORY) {
        /* Redis rewriteConfigFormatMemory: the largest exact unit. */
        long long v = *(long long *)d->value;
        static const struct {
            long long mul;
            const char *unit;
        } units[] = {{1LL << 30, "gb"}, {1LL << 20, "mb"}, {1LL << 10, "kb"}};
        for (size_t i = 0; i < sizeof(units) / sizeof(units[0]); i++)
            if (v != 0 && v % units[i].mul == 0)
                return (size_t)snprintf(buf, len, "%lld%s", v / units[i].mul, units[i].unit);
    }
    return config_format(d, buf, len);
}

/* ---- Defaults ---- */

/* Each directive's default as config_format shows it, in config_next order
 * (CONFIG REWRITE leaves out directives at their default). */
static char **default_texts;
static size_t default_count;

static size_t row_index(const struct config_directive *d) {
    size_t i = 0;
    for (const struct config_directive *r = config_next(NULL); r; r = config_next(r), i++)
        if (r == d)
            return i;
    return SIZE_MAX;
}

bool config_is_default(const struct config_directive *d) {
    size_t i = row_index(d);
    if (i >= default_count || default_texts[i] == NULL)
        return false;
    char now[CONFIG_VALUE_MAX];
    config_format(d, now, sizeof(now));
    return strcmp(now, default_texts[i]) == 0;
}

static void set_defaults_of(const struct config_directive *table) {
    char err[256];
    for (const struct config_directive *d = table; d->name; d++)
        config_set_text(d, d->default_value, err, sizeof(err));
}

void config_init_defaults(void) {
    config_set_loading(false);
    set_defaults_of(config_ignored_table);
    set_defaults_of(config_table);
    size_t count = 0;
    for (const struct config_directive *d = config_next(NULL); d; d = config_next(d))
        count++;
    default_texts = calloc(count, sizeof(*default_texts));
    if (default_texts == NULL)
        return;
    default_count = count;
    size_t i = 0;
    char buf[CONFIG_VALUE_MAX];
    for (const struct config_directive *d = config_next(NULL); d; d = config_next(d), i++) {
        config_format(d, buf, sizeof(buf));
        default_texts[i] = strdup(buf);
    }
}

static void free_values_of(const struct config_directive *table) {
    for (const struct config_directive *d = table; d->name; d++) {
        if (d->kind == CONFIG_STRING || d->kind == CONFIG_WORDS) {
            free(*(char **)d->value);
            *(char **)d->value = NULL;
        }
    }
}

void config_free(void) {
    free_values_of(config_table);
    free_values_of(config_ignored_table);
    for (int i = 0; i < cfg.bind_count; i++)
        free(cfg.bind[i]);
    cfg.bind_count = 0;
    free(cfg.dir);
    cfg.dir = NULL;
    free(cfg.config_file);
    cfg.config_file = NULL;
    for (size_t i = 0; i < default_count; i++)
        free(default_texts[i]);
    free(default_texts);
    default_texts = NULL;
    default_count = 0;
}
