/* Server configuration: redis.conf syntax, command-line overrides, and the
 * directive table that CONFIG GET/SET/REWRITE work from.
 *
 * Every directive has one row in config.c's table: its name (and alias), its
 * kind (bool, integer, memory size, enum, string, or a custom parser), its
 * default, its bounds and whether CONFIG SET may change it at run time.
 * Values live in the global 'cfg' below; code reads them directly. */
#ifndef KR_NODE_CONFIG_H
#define KR_NODE_CONFIG_H

#include <stdbool.h>
#include <stddef.h>

#define CONFIG_MAX_BIND 16
#define CONFIG_MAX_SAVE 16

enum loglevel { LOG_DEBUG = 0, LOG_VERBOSE, LOG_NOTICE, LOG_WARNING, LOG_NOTHING };
enum config_protect { CONFIG_PROTECT_NO = 0, CONFIG_PROTECT_YES, CONFIG_PROTECT_LOCAL };
enum appendfsync_policy { FSYNC_NO = 0, FSYNC_ALWAYS, FSYNC_EVERYSEC };

struct save_point {
    long long seconds;
    long long changes;
};

struct config {
    /* network */
    long long port;
    char *bind[CONFIG_MAX_BIND];
    int bind_count;
    long long tcp_backlog;
    long long timeout;
    long long tcp_keepalive;
    bool protected_mode;
    char *unixsocket;
    /* general */
    bool daemonize;
    char *pidfile;
    int loglevel;
    char *logfile;
    long long databases;
    long long hz;
    char *dir;
    int enable_protected_configs; /* CONFIG_PROTECT_* */
    int enable_debug_command;     /* CONFIG_PROTECT_*: who may run DEBUG */
    /* clients */
    long long maxclients;
    long long proto_max_bulk_len;
    long long client_query_buffer_limit;
    char *requirepass;
    /* memory */
    long long maxmemory;
    int maxmemory_policy;
    long long maxmemory_samples;
    /* compact encodings of hashes and sorted sets */
    long long hash_max_listpack_entries;
    long long hash_max_listpack_value;
    long long zset_max_listpack_entries;
    long long zset_max_listpack_value;
    /* compact encodings of sets and lists */
    long long set_max_intset_entries;
    long long list_max_listpack_size; /* > 0: entries per node; -1..-5: 4..64 KB per node */
    long long list_compress_depth;    /* accepted, ignored: nodes are never compressed */
    /* persistence */
    struct save_point save[CONFIG_MAX_SAVE];
    int save_count;
    bool appendonly;
    int appendfsync;
    bool linearizable_reads; /* leader reads wait for a Raft barrier (node/linread.h) */
    char *dbfilename;
    char *appendfilename;
    long long auto_aof_rewrite_percentage; /* log growth (%) that takes a snapshot; 0: never */
    long long auto_aof_rewrite_min_size;   /* bytes of snapshot + log before that applies */
    long long raft_snapshot_threshold;     /* applied Raft entries between two snapshots; 0: none */
    long long raft_snapshot_trailing;      /* entries kept in the log behind a snapshot */
    long long metrics_port;                /* Prometheus endpoint (node/metrics.h); 0: off */
    /* logs of slow things */
    long long slowlog_log_slower_than;
    long long slowlog_max_len;
    long long hll_sparse_max_bytes;
    long long stream_node_max_bytes;
    long long stream_node_max_entries;
    long long latency_monitor_threshold;
    long long busy_reply_threshold; /* ms a script runs before others get BUSY (lua-time-limit) */
    /* cluster */
    bool cluster_enabled;
    char *cluster_config_file;
    long long cluster_node_timeout;
    long long cluster_port;
    char *cluster_announce_ip;
    long long cluster_announce_port;
    long long cluster_announce_bus_port;
    char *cluster_announce_hostname;
    /* Valkey 8: the address clients are told when it differs from the one
     * nodes use among themselves ("" / 0: the same). */
    char *cluster_announce_client_ipv4;
    long long cluster_announce_client_port;
    bool cluster_require_full_coverage;
    bool cluster_allow_reads_when_down;
    /* path of the config file, if any (CONFIG REWRITE target) */
    char *config_file;
};

extern struct config cfg;

/* Error codes of config_load and config_rewrite. */
#define CONFIG_ERRORS(X)                                                                           \
    X(CONFIG_EBADLINE, -1, "bad configuration line")                                               \
    X(CONFIG_EOPEN, -2, "can't open config file")                                                  \
    X(CONFIG_ENOMEM, -3, "out of memory")                                                          \
    X(CONFIG_EIO, -4, "I/O error")
#define CONFIG_ERROR_ENUM(name, code, text) name = code,
enum config_error { CONFIG_ERRORS(CONFIG_ERROR_ENUM) };
#undef CONFIG_ERROR_ENUM
const char *config_strerror(int code);

/* Redis 7.0 allowProtectedAction for a directive holding CONFIG_PROTECT_*
 * (enable-protected-configs, enable-debug-command): "local" allows loopback
 * and unix-socket clients; 'client_addr' NULL (an internal caller) is always
 * allowed. */
bool config_protected_allowed(int setting, const char *client_addr);

/* Sets every directive to its default. */
void config_init_defaults(void);
void config_free(void);

/* Loads the configuration as redis-server does: the file 'path' (may be
 * NULL), then stdin if 'args' holds "-", then the options in 'args'
 * ("--port 7000 --save ''"), all read as one text, so an option's errors
 * count lines after the file's. Returns 0, or CONFIG_EBADLINE with Redis's
 * report in 'err' ("Reading the configuration file, at line 3\n>>> 'x'\n
 * reason"), or CONFIG_EOPEN with "Fatal error, can't open config file ...". */
int config_load(const char *path, int argc, char **argv, char *err, size_t errlen);

/* Logs, once each, the directives the loaded configuration used that
 * keyraft accepts but ignores. Call once logging is set up. */
void config_log_ignored(void);

/* CONFIG REWRITE: rewrites cfg.config_file in place (comments and order
 * kept, changed directives replaced, new ones appended), atomically through
 * a temporary file. Returns 0, or a CONFIG_E* code with the reason in 'err'. */
int config_rewrite(char *err, size_t errlen);

/* Parses "1gb", "100mb", "42" as Redis's memtoull: units b, k (1000),
 * kb (1024), m, mb, g, gb, any case; no sign. False if it does not parse or
 * exceeds LLONG_MAX. */
bool config_parse_memory(const char *s, long long *out);

/* Parses a whole string as a strict decimal integer (Redis's string2ll: no
 * spaces, no '+', no leading zeros). */
bool config_parse_ll(const char *s, long long *out);

#endif
