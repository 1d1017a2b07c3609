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
    /* clients */
    long long maxclients;
    long long proto_max_bulk_len;
    long long client_query_buffer_limit;
    char *requirepass;
    /* memory */
    long long maxmemory;
    int maxmemory_policy;
    long long maxmemory_samples;
    /* compact encodings of sets and lists */
    long long set_max_intset_entries;
    long long list_max_listpack_size; /* > 0: entries per node; -1..-5: 4..64 KB per node */
    long long list_compress_depth;    /* accepted, ignored: nodes are never compressed */
    /* persistence */
    struct save_point save[CONFIG_MAX_SAVE];
    int save_count;
    bool appendonly;
    int appendfsync;
    char *dbfilename;
    char *appendfilename;
    /* logs of slow things */
    long long slowlog_log_slower_than;
    long long slowlog_max_len;
    long long hll_sparse_max_bytes;
    long long latency_monitor_threshold;
    /* cluster */
    bool cluster_enabled;
    char *cluster_config_file;
    long long cluster_node_timeout;
    long long cluster_port;
    char *cluster_announce_ip;
    long long cluster_announce_port;
    long long cluster_announce_bus_port;
    /* path of the config file, if any (CONFIG REWRITE target) */
    char *config_file;
};

extern struct config cfg;

/* Sets every directive to its default. */
void config_init_defaults(void);
void config_free(void);

/* Loads 'path' (may be NULL), then applies 'argc'/'argv' of the command line
 * after the file name ("--port 7000 --save ''"). On error returns -1 and
 * writes "file:line: reason" (or "command line: reason") into 'err'. */
int config_load(const char *path, int argc, char **argv, char *err, size_t errlen);

/* Applies one directive with its arguments, as a config line would. Returns
 * 0, or -1 with the reason in 'err'. 'at_runtime' refuses immutable ones. */
int config_apply(const char *name, int argc, char **argv, bool at_runtime, char *err,
                 size_t errlen);

/* Parses "1gb", "100mb", "42" (units as redis.conf: k=1000, kb=1024...). */
bool config_parse_memory(const char *s, long long *out);

#endif
