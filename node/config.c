/* Configuration (see config.h): the directive table, redis.conf parsing and
 * command-line overrides. CONFIG GET/SET/REWRITE live in cmd_config.c and
 * use the table through config_table.h. */
#include "node/config.h"

#include "node/config_table.h"
#include "resp/parser.h"

#include <errno.h>
#include <limits.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

struct config cfg;

#define MAX_LINE_ARGS 1024

/* ---- Value kinds ---- */

static const struct config_enum loglevel_enum[] = {
    {"debug", LOG_DEBUG},     {"verbose", LOG_VERBOSE}, {"notice", LOG_NOTICE},
    {"warning", LOG_WARNING}, {"nothing", LOG_NOTHING}, {NULL, 0}};
static const struct config_enum appendfsync_enum[] = {
    {"always", FSYNC_ALWAYS}, {"everysec", FSYNC_EVERYSEC}, {"no", FSYNC_NO}, {NULL, 0}};
static const struct config_enum maxmemory_policy_enum[] = {
    {"volatile-lru", 0},    {"volatile-lfu", 1}, {"volatile-random", 2}, {"volatile-ttl", 3},
    {"allkeys-lru", 4},     {"allkeys-lfu", 5},  {"allkeys-random", 6},  {"noeviction", 7},
    {NULL, 0}};

static int set_save(int argc, char **argv, char *err, size_t errlen);
static size_t get_save(char *buf, size_t len);
static int set_bind(int argc, char **argv, char *err, size_t errlen);
static size_t get_bind(char *buf, size_t len);

#define B(name, field, def, flags)                                                                 \
    {name, NULL, CONFIG_BOOL, flags, &cfg.field, 0, 0, def, NULL, NULL, NULL}
#define I(name, field, lo, hi, def, flags)                                                         \
    {name, NULL, CONFIG_INT, flags, &cfg.field, lo, hi, def, NULL, NULL, NULL}
#define M(name, field, lo, hi, def, flags)                                                         \
    {name, NULL, CONFIG_MEMORY, flags, &cfg.field, lo, hi, def, NULL, NULL, NULL}
#define E(name, field, enums, def, flags)                                                          \
    {name, NULL, CONFIG_ENUM, flags, &cfg.field, 0, 0, def, enums, NULL, NULL}
#define S(name, field, def, flags)                                                                 \
    {name, NULL, CONFIG_STRING, flags, &cfg.field, 0, 0, def, NULL, NULL, NULL}
#define X(name, setter, getter, def, flags)                                                        \
    {name, NULL, CONFIG_CUSTOM, flags, NULL, 0, 0, def, NULL, setter, getter}

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
    I("databases", databases, 1, 16384, "16", CONFIG_IMMUTABLE),
    I("hz", hz, 1, 500, "10", 0),
    S("dir", dir, ".", 0),
    I("maxclients", maxclients, 1, 1000000, "10000", 0),
    M("proto-max-bulk-len", proto_max_bulk_len, 1024 * 1024, LLONG_MAX, "512mb", 0),
    M("client-query-buffer-limit", client_query_buffer_limit, 1024 * 1024, LLONG_MAX, "1gb", 0),
    S("requirepass", requirepass, "", CONFIG_SENSITIVE),
    M("maxmemory", maxmemory, 0, LLONG_MAX, "0", 0),
    E("maxmemory-policy", maxmemory_policy, maxmemory_policy_enum, "noeviction", 0),
    I("maxmemory-samples", maxmemory_samples, 1, 64, "5", 0),
    I("set-max-intset-entries", set_max_intset_entries, 0, LONG_MAX, "512", 0),
    {"list-max-listpack-size", "list-max-ziplist-size", CONFIG_INT, 0,
     &cfg.list_max_listpack_size, INT_MIN, INT_MAX, "-2", NULL, NULL, NULL},
    I("list-compress-depth", list_compress_depth, 0, INT_MAX, "0", 0),
    X("save", set_save, get_save, "3600 1 300 100 60 10000", 0),
    B("appendonly", appendonly, "no", 0),
    E("appendfsync", appendfsync, appendfsync_enum, "everysec", 0),
    S("dbfilename", dbfilename, "dump.rdb", 0),
    S("appendfilename", appendfilename, "appendonly.aof", CONFIG_IMMUTABLE),
    I("slowlog-log-slower-than", slowlog_log_slower_than, -1, LLONG_MAX, "10000", 0),
    I("slowlog-max-len", slowlog_max_len, 0, LONG_MAX, "128", 0),
    M("hll-sparse-max-bytes", hll_sparse_max_bytes, 0, LONG_MAX, "3000", 0),
    I("latency-monitor-threshold", latency_monitor_threshold, 0, LLONG_MAX, "0", 0),
    B("cluster-enabled", cluster_enabled, "no", CONFIG_IMMUTABLE),
    S("cluster-config-file", cluster_config_file, "nodes.conf", CONFIG_IMMUTABLE),
    I("cluster-node-timeout", cluster_node_timeout, 0, LLONG_MAX, "15000", 0),
    I("cluster-port", cluster_port, 0, 65535, "0", CONFIG_IMMUTABLE),
    S("cluster-announce-ip", cluster_announce_ip, "", 0),
    I("cluster-announce-port", cluster_announce_port, 0, 65535, "0", 0),
    I("cluster-announce-bus-port", cluster_announce_bus_port, 0, 65535, "0", 0),
    {NULL, NULL, 0, 0, NULL, 0, 0, NULL, NULL, NULL, NULL},
};

#undef B
#undef I
#undef M
#undef E
#undef S
#undef X

static void fail(char *err, size_t errlen, const char *fmt, ...)
    __attribute__((format(printf, 3, 4)));
static void fail(char *err, size_t errlen, const char *fmt, ...) {
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(err, errlen, fmt, ap);
    va_end(ap);
}

const struct config_directive *config_find(const char *name) {
    for (const struct config_directive *d = config_table; d->name; d++)
        if (strcasecmp(d->name, name) == 0 || (d->alias && strcasecmp(d->alias, name) == 0))
            return d;
    return NULL;
}

bool config_parse_memory(const char *s, long long *out) {
    static const struct {
        const char *suffix;
        long long mul;
    } units[] = {{"kb", 1024},           {"k", 1000},          {"mb", 1024 * 1024},
                 {"m", 1000 * 1000},     {"gb", 1LL << 30},    {"g", 1000LL * 1000 * 1000},
                 {"tb", 1LL << 40},      {"t", 1000000000000}, {"b", 1}};
    size_t len = strlen(s);
    long long mul = 1;
    size_t digits = len;
    for (size_t i = 0; i < sizeof(units) / sizeof(units[0]); i++) {
        size_t sl = strlen(units[i].suffix);
        if (len > sl && strcasecmp(s + len - sl, units[i].suffix) == 0) {
            mul = units[i].mul;
            digits = len - sl;
            break;
        }
    }
    if (digits == 0 || digits > 20)
        return false;
    char num[24];
    memcpy(num, s, digits);
    num[digits] = '\0';
    char *end;
    errno = 0;
    long long v = strtoll(num, &end, 10);
    if (errno != 0 || *end != '\0' || end == num)
        return false;
    if (v != 0 && (v > LLONG_MAX / mul || v < LLONG_MIN / mul))
        return false;
    *out = v * mul;
    return true;
}

/* ---- Custom directives ---- */

static int set_save(int argc, char **argv, char *err, size_t errlen) {
    /* `save ""` (one empty argument) disables snapshots; otherwise pairs. */
    if (argc == 1 && argv[0][0] == '\0') {
        cfg.save_count = 0;
        return 0;
    }
    if (argc % 2 != 0 || argc == 0) {
        fail(err, errlen, "Invalid save parameters");
        return -1;
    }
    if (argc / 2 > CONFIG_MAX_SAVE) {
        fail(err, errlen, "Too many save parameters");
        return -1;
    }
    struct save_point points[CONFIG_MAX_SAVE];
    for (int i = 0; i < argc; i += 2) {
        char *end1, *end2;
        errno = 0;
        long long secs = strtoll(argv[i], &end1, 10);
        long long changes = strtoll(argv[i + 1], &end2, 10);
        if (errno || *end1 || *end2 || end1 == argv[i] || end2 == argv[i + 1] || secs < 1 ||
            changes < 0) {
            fail(err, errlen, "Invalid save parameters");
            return -1;
        }
        points[i / 2].seconds = secs;
        points[i / 2].changes = changes;
    }
    memcpy(cfg.save, points, sizeof(points[0]) * (size_t)(argc / 2));
    cfg.save_count = argc / 2;
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
    for (int i = 0; i < cfg.bind_count; i++)
        free(cfg.bind[i]);
    cfg.bind_count = 0;
    for (int i = 0; i < argc; i++) {
        cfg.bind[i] = strdup(argv[i]);
        if (cfg.bind[i] == NULL)
            return -1;
        cfg.bind_count++;
    }
    return 0;
}

static size_t get_bind(char *buf, size_t len) {
    size_t n = 0;
    buf[0] = '\0';
    for (int i = 0; i < cfg.bind_count && n < len; i++)
        n += (size_t)snprintf(buf + n, len - n, "%s%s", i ? " " : "", cfg.bind[i]);
    return n < len ? n : len - 1;
}

/* ---- Applying values ---- */

static int set_value(const struct config_directive *d, int argc, char **argv, char *err,
                     size_t errlen) {
    if (d->kind == CONFIG_CUSTOM)
        return d->set(argc, argv, err, errlen);
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
        bool ok;
        if (d->kind == CONFIG_MEMORY) {
            ok = config_parse_memory(v, &ll);
        } else {
            char *end;
            errno = 0;
            ll = strtoll(v, &end, 10);
            ok = errno == 0 && *end == '\0' && end != v;
        }
        if (!ok) {
            fail(err, errlen, "argument couldn't be parsed into an integer");
            return -1;
        }
        if (ll < d->min || ll > d->max) {
            fail(err, errlen, "argument must be between %lld and %lld inclusive", d->min, d->max);
            return -1;
        }
        *(long long *)d->value = ll;
        return 0;
    }
    case CONFIG_ENUM:
        for (const struct config_enum *e = d->enums; e->name; e++) {
            if (strcasecmp(e->name, v) == 0) {
                *(int *)d->value = e->value;
                return 0;
            }
        }
        {
            size_t n = (size_t)snprintf(err, errlen, "argument(s) must be one of the following: ");
            for (const struct config_enum *e = d->enums; e->name && n < errlen; e++)
                n += (size_t)snprintf(err + n, errlen - n, "%s%s", e == d->enums ? "" : ", ",
                                      e->name);
        }
        return -1;
    case CONFIG_STRING: {
        char *copy = strdup(v);
        if (copy == NULL)
            return -1;
        free(*(char **)d->value);
        *(char **)d->value = copy;
        return 0;
    }
    default:
        return -1;
    }
}

int config_apply(const char *name, int argc, char **argv, bool at_runtime, char *err,
                 size_t errlen) {
    const struct config_directive *d = config_find(name);
    if (d == NULL) {
        fail(err, errlen, "Bad directive or wrong number of arguments");
        return -1;
    }
    if (at_runtime && (d->flags & CONFIG_IMMUTABLE)) {
        fail(err, errlen, "can't set immutable config");
        return -1;
    }
    return set_value(d, argc, argv, err, errlen);
}

size_t config_format(const struct config_directive *d, char *buf, size_t len) {
    switch (d->kind) {
    case CONFIG_BOOL:
        return (size_t)snprintf(buf, len, "%s", *(bool *)d->value ? "yes" : "no");
    case CONFIG_INT:
    case CONFIG_MEMORY:
        return (size_t)snprintf(buf, len, "%lld", *(long long *)d->value);
    case CONFIG_ENUM:
        for (const struct config_enum *e = d->enums; e->name; e++)
            if (e->value == *(int *)d->value)
                return (size_t)snprintf(buf, len, "%s", e->name);
        return (size_t)snprintf(buf, len, "%s", "");
    case CONFIG_STRING: {
        const char *s = *(char **)d->value;
        return (size_t)snprintf(buf, len, "%s", s ? s : "");
    }
    case CONFIG_CUSTOM:
        return d->get(buf, len);
    }
    return 0;
}

void config_init_defaults(void) {
    char err[256];
    for (const struct config_directive *d = config_table; d->name; d++) {
        char copy[256];
        snprintf(copy, sizeof(copy), "%s", d->default_value);
        char *argv[CONFIG_MAX_SAVE * 2];
        size_t lens[CONFIG_MAX_SAVE * 2];
        int argc = resp_split_inline(copy, strlen(copy), argv, lens, CONFIG_MAX_SAVE * 2);
        for (int i = 0; i < argc; i++)
            argv[i][lens[i]] = '\0';
        if (argc == 0) {
            argv[0] = copy;
            argc = 1;
        }
        if (d->kind == CONFIG_STRING) {
            argv[0] = (char *)d->default_value;
            argc = 1;
        }
        set_value(d, argc, argv, err, sizeof(err));
    }
}

void config_free(void) {
    for (const struct config_directive *d = config_table; d->name; d++) {
        if (d->kind == CONFIG_STRING) {
            free(*(char **)d->value);
            *(char **)d->value = NULL;
        }
    }
    for (int i = 0; i < cfg.bind_count; i++)
        free(cfg.bind[i]);
    cfg.bind_count = 0;
    free(cfg.config_file);
    cfg.config_file = NULL;
}

/* ---- Loading ---- */

/* Applies one config line (already split). 'where' names it for errors. */
static int apply_line(int argc, char **argv, const char *where, char *err, size_t errlen) {
    char reason[256];
    if (config_apply(argv[0], argc - 1, argv + 1, false, reason, sizeof(reason)) != 0) {
        fail(err, errlen, "%s: '%s': %s", where, argv[0], reason);
        return -1;
    }
    return 0;
}

static int load_file(const char *path, int depth, char *err, size_t errlen);

static int load_text(char *text, const char *path, int depth, char *err, size_t errlen) {
    char *argv[MAX_LINE_ARGS];
    size_t lens[MAX_LINE_ARGS];
    int lineno = 0;
    char *line = text;
    while (line != NULL && *line != '\0') {
        char *nl = strchr(line, '\n');
        if (nl != NULL)
            *nl = '\0';
        lineno++;
        char where[512];
        snprintf(where, sizeof(where), "%s:%d", path, lineno);
        size_t len = strlen(line);
        while (len > 0 && (line[len - 1] == '\r' || line[len - 1] == ' ' || line[len - 1] == '\t'))
            line[--len] = '\0';
        char *p = line;
        while (*p == ' ' || *p == '\t')
            p++;
        if (*p != '#' && *p != '\0') {
            int argc = resp_split_inline(p, strlen(p), argv, lens, MAX_LINE_ARGS);
            if (argc < 0) {
                fail(err, errlen, "%s: unbalanced quotes in configuration line", where);
                return -1;
            }
            for (int i = 0; i < argc; i++)
                argv[i][lens[i]] = '\0';
            if (argc > 0) {
                int rc;
                if (strcasecmp(argv[0], "include") == 0) {
                    if (argc != 2) {
                        fail(err, errlen, "%s: 'include' takes one file name", where);
                        return -1;
                    }
                    rc = load_file(argv[1], depth + 1, err, errlen);
                } else {
                    rc = apply_line(argc, argv, where, err, errlen);
                }
                if (rc != 0)
                    return rc;
            }
        }
        line = nl ? nl + 1 : NULL;
    }
    return 0;
}

static int load_file(const char *path, int depth, char *err, size_t errlen) {
    if (depth > 16) {
        fail(err, errlen, "%s: include nesting too deep", path);
        return -1;
    }
    FILE *f = fopen(path, "r");
    if (f == NULL) {
        fail(err, errlen, "Fatal error, can't open config file '%s': %s", path, strerror(errno));
        return -1;
    }
    size_t cap = 4096, len = 0;
    char *text = malloc(cap);
    size_t n;
    while (text != NULL && (n = fread(text + len, 1, cap - len - 1, f)) > 0) {
        len += n;
        if (cap - len - 1 == 0) {
            char *bigger = realloc(text, cap * 2);
            if (bigger == NULL) {
                free(text);
                text = NULL;
                break;
            }
            text = bigger;
            cap *= 2;
        }
    }
    fclose(f);
    if (text == NULL) {
        fail(err, errlen, "%s: out of memory", path);
        return -1;
    }
    text[len] = '\0';
    int rc = load_text(text, path, depth, err, errlen);
    free(text);
    return rc;
}

int config_load(const char *path, int argc, char **argv, char *err, size_t errlen) {
    if (path != NULL) {
        cfg.config_file = realpath(path, NULL);
        if (load_file(path, 0, err, errlen) != 0)
            return -1;
    }
    /* Command-line options: "--name arg arg --name2 arg", as redis-server. */
    int i = 0;
    while (i < argc) {
        if (strncmp(argv[i], "--", 2) != 0 || argv[i][2] == '\0') {
            fail(err, errlen, "command line: unexpected argument '%s'", argv[i]);
            return -1;
        }
        int j = i + 1;
        while (j < argc && strncmp(argv[j], "--", 2) != 0)
            j++;
        char *line_argv[MAX_LINE_ARGS];
        int n = 0;
        line_argv[n++] = argv[i] + 2;
        for (int k = i + 1; k < j && n < MAX_LINE_ARGS; k++)
            line_argv[n++] = argv[k];
        if (apply_line(n, line_argv, "command line", err, errlen) != 0)
            return -1;
        i = j;
    }
    return 0;
}
