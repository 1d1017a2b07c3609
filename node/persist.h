/* Snapshots of the running server on disk: SAVE, BGSAVE from a forked
 * child, `save <secs> <changes>` points, and loading <dir>/<dbfilename> at
 * startup. The format is storage/snapshot's; this module owns the files,
 * the child process and the statistics INFO persistence reports.
 *
 * Loading builds fresh keyspaces (never touching live ones) and swaps them
 * in when complete, in steps on the event loop so INFO answers "loading:1"
 * meanwhile. With `appendonly yes` the Raft log is the source of truth and
 * the dump file is not loaded here. */
#ifndef KR_NODE_PERSIST_H
#define KR_NODE_PERSIST_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

struct keyspace;
struct snapshot_params;

/* The encoding thresholds of the current configuration, for decoders. */
void persist_params(struct snapshot_params *p);

/* Sets up the child watcher. Call once the loop exists. */
int persist_init(void);
/* Starts loading <dir>/<dbfilename> if it exists (and appendonly is off).
 * Returns 0 (loading, or nothing to load) or -1 after logging why. A file
 * that turns out damaged while loading stops the server with exit code 1
 * and a log line naming the file. */
int persist_start_loading(void);
bool persist_is_loading(void);

/* Reads the snapshot file 'path' into 'ndbs' new keyspaces ('dbs'), in one
 * go: the reusable load (Raft snapshot install, tools). Returns 0, or -1
 * with the reason in 'err' (file, offset, field). Nothing live is touched. */
int persist_load_file(const char *path, struct keyspace **dbs, int ndbs, char *err, size_t errlen);

/* Writes the whole dataset in storage/snapshot's format to 'path' (created
 * or truncated) and syncs it; for a forked child (BGSAVE, Raft snapshots).
 * Returns 0, or -1 after logging why (the file removed). */
int persist_write_file(const char *path);
/* The AUX record of a snapshot that carries the function libraries. */
#define PERSIST_AUX_FUNCTIONS "functions"
/* Replaces the function libraries with those of a snapshot's "functions"
 * AUX record ('aux', 'len' bytes; none when 'len' is 0). Returns 0, or -1
 * when the record is malformed (the libraries before the damage stay). */
int persist_restore_functions(const unsigned char *aux, size_t len);
/* On the loop: renames the complete file 'path' over <dir>/<dbfilename>
 * and syncs the directory; the old file is removed on the thread pool.
 * Returns 0, or -1 after logging why ('path' removed). */
int persist_install_file(const char *path);

/* SAVE: writes the snapshot file in the foreground. Returns 0, or -1 after
 * logging why. */
int persist_save(void);
/* BGSAVE: forks a child that writes the snapshot file. Returns 0 when the
 * child started, -1 when the fork failed (logged). */
int persist_bgsave(void);
/* In a forked child that writes a file: default signal dispositions, the
 * log's child role, and every inherited socket closed (so a restarted
 * server can bind its ports while the child still writes). */
void persist_child_init(void);
/* A BGSAVE child or a Raft snapshot is running (node/compaction.h). */
bool persist_bgsave_in_progress(void);
/* Only the BGSAVE child: one fork at a time. */
bool persist_child_running(void);
/* A background save made elsewhere (a Raft snapshot) ended: INFO's
 * rdb_last_bgsave_status/time, and on success LASTSAVE and the changes
 * counted since 'dirty_at_start'. */
void persist_note_background_save(bool ok, long long duration_s, long long dirty_at_start);
/* A child was forked (a BGSAVE, or a Raft snapshot elsewhere) in
 * 'fork_usec': INFO latest_fork_usec, total_forks, current_save_keys_total. */
void persist_note_fork(long long fork_usec);
/* BGSAVE SCHEDULE while a child runs: start one as soon as it ends. */
void persist_schedule_bgsave(void);
/* Called by the server cron: reaps a finished child, runs a scheduled
 * BGSAVE, and checks the `save` points. */
void persist_cron(void);

/* How the coming shutdown treats the snapshot file (SHUTDOWN [NOSAVE|SAVE]). */
enum persist_shutdown_save {
    PERSIST_SHUTDOWN_DEFAULT, /* save if `save` points are configured */
    PERSIST_SHUTDOWN_NOSAVE,
    PERSIST_SHUTDOWN_SAVE,
};
void persist_set_shutdown_save(enum persist_shutdown_save mode);
/* At exit: stops a running child (removing its temporary file), then, as
 * Redis does, writes a final snapshot when asked to or when `save` points
 * are configured, unless appendonly is on or the dataset never finished
 * loading. Returns 0, or -1 when the final save failed (logged). */
int persist_shutdown(void);

/* What INFO persistence / stats report. */
struct persist_info {
    bool loading;
    bool bgsave_in_progress;
    bool last_bgsave_ok;
    long long last_bgsave_time_sec;    /* -1: none yet */
    long long current_bgsave_time_sec; /* -1: none running */
    long long loading_start_time, loading_loaded_bytes, loading_total_bytes;
    long long total_forks;           /* children forked (BGSAVE, Raft snapshots) */
    long long rdb_saves;             /* SAVE and BGSAVE runs since startup */
    long long last_load_keys_loaded; /* keys in the dump file loaded at startup */
    long long save_keys_total;       /* keys when the running child forked (0: none) */
};
void persist_get_info(struct persist_info *info);
/* How long the last fork took (INFO stats latest_fork_usec). */
long long persist_latest_fork_usec(void);

#endif
