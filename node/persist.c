/* Snapshot files of the running server (see persist.h): writing them in the
 * foreground (SAVE) or from a forked child (BGSAVE, `save` points),
 * watching the child, and loading the file at startup in steps on the loop.
 *
 * A file is written as <dir>/temp-<pid>.rdb, fsynced, renamed over
 * <dir>/<dbfilename>, and the directory fsynced, so a crash at any point
 * leaves either the old file or the new one. The child writes the
 * copy-on-write image fork gave it and touches nothing else: it never runs
 * the loop, and exits with _exit. What a snapshot contains is
 * storage/snapshot's business; what the Raft log does with one is raft/'s. */
#include "node/persist.h"

#include "node/compaction.h"
#include "node/config.h"
#include "node/function.h"
#include "node/log.h"
#include "node/server.h"
#include "node/shard.h"
#include "resp/writer.h"
#include "storage/keyspace.h"
#include "storage/snapshot.h"

#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <unistd.h>

/* Redis's CONFIG_BGSAVE_RETRY_DELAY: after a failed BGSAVE, save points
 * wait this long before trying again. */
#define BGSAVE_RETRY_DELAY_S 5
/* Work per loop turn while loading: the loop answers INFO between turns. */
#define LOAD_STEP_BYTES (256 * 1024)
#define LOAD_TURN_US    10000

static struct {
    pid_t child; /* -1: none */
    int64_t child_start_ms;
    long long dirty_at_fork;
    bool scheduled;
    bool last_bgsave_ok;
    long long last_bgsave_time_sec;
    int64_t last_try_s;
    long long latest_fork_usec;
    long long total_forks; /* BGSAVE and Raft snapshot children started */
    long long rdb_saves;   /* SAVE and BGSAVE runs, as Redis 7.0 stat_rdb_saves */
    long long last_load_keys;
    long long save_keys_total; /* keys when the running child forked, 0: none */
    uv_signal_t sigchld;
    /* loading */
    bool loading;
    struct snapshot_loader *loader;
    unsigned char *map;
    size_t map_len;
    char load_path[4096];
    int64_t loading_start_s;
    uv_idle_t load_idle;
    bool load_failed;
    enum persist_shutdown_save shutdown_save;
} st = {.child = -1, .last_bgsave_ok = true, .last_bgsave_time_sec = -1};

void persist_params(struct snapshot_params *p) {
    p->list_fill = (int)cfg.list_max_listpack_size;
    p->set_max_intset = (size_t)cfg.set_max_intset_entries;
    p->hash_max_entries = (size_t)cfg.hash_max_listpack_entries;
    p->hash_max_value = (size_t)cfg.hash_max_listpack_value;
    p->zset_max_entries = (size_t)cfg.zset_max_listpack_entries;
    p->zset_max_value = (size_t)cfg.zset_max_listpack_value;
    p->stream_node_max_bytes = (size_t)cfg.stream_node_max_bytes;
    p->stream_node_max_entries = (size_t)cfg.stream_node_max_entries;
}

static void file_path(char *buf, size_t len) {
    snprintf(buf, len, "%s/%s", cfg.dir, cfg.dbfilename);
}

/* ---- Writing a file ---- */

static int fd_write(void *arg, const void *buf, size_t len) {
    int fd = *(int *)arg;
    const char *p = buf;
    while (len > 0) {
        ssize_t n = write(fd, p, len);
        if (n < 0 && errno == EINTR)
            continue;
        if (n <= 0)
            return -1;
        p += n;
        len -= (size_t)n;
    }
    return 0;
}

static int fsync_dir(const char *dir) {
    int fd = open(dir, O_RDONLY | O_DIRECTORY);
    if (fd < 0)
        return -1;
    int rc = fsync(fd);
    close(fd);
    return rc;
}

/* ---- Function libraries ----
 * They change through the log (FUNCTION LOAD/DELETE/FLUSH/RESTORE are
 * writes) but live outside the keyspaces, so a snapshot carries them in
 * the AUX record "functions": for each library in load order, its code's
 * length (u32 little-endian) and its code. */

/* Writes every database and the function libraries. */
static int write_dataset(snapshot_write_fn fn, void *arg) {
    struct snapshot_writer *w = snapshot_writer_new(fn, arg, server_now_ms());
    if (w == NULL)
        return SNAPSHOT_ENOMEM;
    int rc = 0;
    size_t nlibs;
    struct library *const *libs = function_libraries(&nlibs);
    if (nlibs > 0) {
        size_t len = 0;
        for (size_t i = 0; i < nlibs; i++)
            len += 4 + libs[i]->code_len;
        unsigned char *aux = malloc(len);
        if (aux == NULL) {
            snapshot_writer_free(w);
            return SNAPSHOT_ENOMEM;
        }
        unsigned char *p = aux;
        for (size_t i = 0; i < nlibs; i++) {
            uint32_t n = (uint32_t)libs[i]->code_len;
            for (int b = 0; b < 4; b++)
                *p++ = (unsigned char)(n >> (8 * b));
            memcpy(p, libs[i]->code, n);
            p += n;
        }
        rc = snapshot_writer_aux(w, PERSIST_AUX_FUNCTIONS, strlen(PERSIST_AUX_FUNCTIONS), aux, len);
        free(aux);
    }
    for (long long id = 0; rc == 0 && id < cfg.databases; id++) {
        struct keyspace *ks = server.dbs[id];
        if (ks == NULL || keyspace_size(ks) == 0)
            continue;
        rc = snapshot_writer_db(w, (int)id, keyspace_size(ks));
        struct keyspace_iter it;
        keyspace_iter_init(&it, ks);
        for (struct kv *kv; rc == 0 && (kv = keyspace_iter_next(&it)) != NULL;)
            rc = snapshot_writer_key(w, kv);
        keyspace_iter_close(&it);
    }
    rc = rc ? rc : snapshot_writer_finish(w);
    snapshot_writer_free(w);
    return rc;
}

int persist_restore_functions(const unsigned char *aux, size_t len) {
    function_flush();
    struct resp_out sink;
    resp_out_init_discard(&sink);
    size_t at = 0;
    while (at < len) {
        if (len - at < 4)
            return -1;
        uint32_t n = 0;
        for (int b = 3; b >= 0; b--)
            n = (n << 8) | aux[at + (size_t)b];
        at += 4;
        if (n > len - at)
            return -1;
        function_load((const char *)aux + at, n, false, &sink);
        at += n;
    }
    return 0;
}

int persist_write_file(const char *tmp) {
    int fd = open(tmp, O_WRONLY | O_CREAT | O_TRUNC, 0644);
    if (fd < 0) {
        log_warning("Failed opening the temp RDB file %s (in server root dir %s) for saving: %s",
                    tmp, cfg.dir, strerror(errno));
        return -1;
    }
    int rc = write_dataset(fd_write, &fd);
    if (rc != SNAPSHOT_OK) {
        log_warning("Write error saving DB on disk: %s",
                    rc == SNAPSHOT_EIO ? strerror(errno) : snapshot_strerror(rc));
        goto err_after_open;
    }
    if (fsync(fd) != 0) {
        log_warning("Write error saving DB on disk: fsync: %s", strerror(errno));
        goto err_after_open;
    }
    if (close(fd) != 0) {
        fd = -1;
        log_warning("Write error saving DB on disk: close: %s", strerror(errno));
        goto err_after_open;
    }
    return 0;

err_after_open:
    if (fd >= 0)
        close(fd);
    unlink(tmp);
    return -1;
}

static void old_file_unlinked(uv_fs_t *req) {
    uv_fs_req_cleanup(req);
    free(req);
}

/* Renames 'tmp' over <dir>/<dbfilename> and syncs the directory. With
 * 'keep_old' the old file lives on under a second name until then, so the
 * rename does not free its blocks (tens of milliseconds for GBs) and the
 * caller removes it ('old'); returns 1 then. Returns 0, or -1 after logging
 * why ('tmp' removed). */
static int rename_into_place(const char *tmp, bool keep_old, char *old, size_t oldlen) {
    char path[4200];
    file_path(path, sizeof(path));
    bool kept_old = false;
    if (keep_old) {
        snprintf(old, oldlen, "%s/temp-old-%d.rdb", cfg.dir, (int)getpid());
        unlink(old);
        kept_old = link(path, old) == 0;
    }
    if (rename(tmp, path) != 0) {
        log_warning("Error moving temp DB file %s on the final destination %s: %s", tmp, path,
                    strerror(errno));
        unlink(tmp);
        if (kept_old)
            unlink(old);
        return -1;
    }
    if (fsync_dir(cfg.dir) != 0)
        log_warning("Could not fsync the directory %s after saving: %s", cfg.dir, strerror(errno));
    return kept_old ? 1 : 0;
}

int persist_install_file(const char *tmp) {
    char old[4200];
    int rc = rename_into_place(tmp, true, old, sizeof(old));
    if (rc == 1) {
        uv_fs_t *req = malloc(sizeof(*req));
        if (req == NULL || uv_fs_unlink(server.loop, req, old, old_file_unlinked) != 0) {
            free(req);
            unlink(old);
        }
    }
    return rc < 0 ? -1 : 0;
}

/* Writes the whole dataset to <dir>/<dbfilename> atomically. Returns 0, or
 * -1 after logging why (the temporary file removed). */
static int write_file(void) {
    char tmp[4200];
    snprintf(tmp, sizeof(tmp), "%s/temp-%d.rdb", cfg.dir, (int)getpid());
    if (persist_write_file(tmp) != 0)
        return -1;
    char old[4200];
    return rename_into_place(tmp, false, old, sizeof(old));
}

/* ---- SAVE and BGSAVE ---- */

int persist_save(void) {
    st.rdb_saves++;
    if (write_file() != 0)
        return -1;
    log_notice("DB saved on disk");
    server.dirty = 0;
    server.lastsave_s = server_now_ms() / 1000;
    st.last_bgsave_ok = true;
    /* With a Raft log, a save also compacts it (in the background). */
    if (compaction_takes_saves())
        compaction_request(COMPACTION_SAVE);
    return 0;
}

void persist_child_init(void) {
    /* The loop's handlers would only write to a pipe nobody reads. */
    signal(SIGTERM, SIG_DFL);
    signal(SIGINT, SIG_DFL);
    signal(SIGCHLD, SIG_DFL);
    log_set_role('C');
    /* Sockets: listeners above all, which would keep the ports taken. */
    DIR *d = opendir("/proc/self/fd");
    if (d == NULL)
        return;
    int own = dirfd(d);
    struct dirent *e;
    while ((e = readdir(d)) != NULL) {
        int fd = atoi(e->d_name);
        struct stat sb;
        if (fd > 2 && fd != own && fstat(fd, &sb) == 0 && S_ISSOCK(sb.st_mode))
            close(fd);
    }
    closedir(d);
}

bool persist_bgsave_in_progress(void) {
    return st.child != -1 || compaction_in_progress();
}

bool persist_child_running(void) {
    return st.child != -1;
}

void persist_note_background_save(bool ok, long long duration_s, long long dirty_at_start) {
    st.save_keys_total = 0;
    st.last_bgsave_ok = ok;
    st.last_bgsave_time_sec = duration_s;
    if (ok) {
        server.dirty -= dirty_at_start;
        server.lastsave_s = server_now_ms() / 1000;
    }
}

/* Keys in every database: what a child forked now will write (Redis 7.0
 * current_save_keys_total). */
static long long total_keys(void) {
    long long n = 0;
    for (long long i = 0; i < cfg.databases; i++) {
        struct keyspace *ks = server_db_if_exists((int)i);
        if (ks != NULL)
            n += (long long)keyspace_size(ks);
    }
    return n;
}

void persist_note_fork(long long fork_usec) {
    st.latest_fork_usec = fork_usec;
    st.total_forks++;
    st.save_keys_total = total_keys();
}

void persist_schedule_bgsave(void) {
    st.scheduled = true;
}

int persist_bgsave(void) {
    st.last_try_s = server_now_ms() / 1000;
    /* Redis 7.0 rdbSaveBackground counts the attempt before it forks. */
    st.rdb_saves++;
    /* On a Raft leader a BGSAVE is a Raft snapshot, which also leaves the
     * dump file; when the last snapshot is current, a plain one follows. */
    if (compaction_takes_saves()) {
        int rc = compaction_request(COMPACTION_BGSAVE);
        if (rc == COMPACTION_STARTED)
            return 0;
        if (rc != COMPACTION_CURRENT)
            return -1;
    }
    uint64_t start_us = server_monotonic_us();
    pid_t pid = fork();
    if (pid == 0) {
        persist_child_init();
        int rc = write_file();
        if (rc == 0)
            log_notice("DB saved on disk");
        _exit(rc == 0 ? 0 : 1);
    }
    st.latest_fork_usec = (long long)(server_monotonic_us() - start_us);
    if (pid < 0) {
        st.last_bgsave_ok = false;
        log_warning("Can't save in background: fork: %s", strerror(errno));
        return -1;
    }
    persist_note_fork(st.latest_fork_usec);
    log_notice("Background saving started by pid %d (fork took %lld us)", (int)pid,
               st.latest_fork_usec);
    st.child = pid;
    st.child_start_ms = server_now_ms();
    st.dirty_at_fork = server.dirty;
    return 0;
}

/* Collects a finished child, if any, and records how it went. */
static void reap_child(void) {
    if (st.child == -1)
        return;
    int status;
    pid_t pid = waitpid(st.child, &status, WNOHANG);
    if (pid == 0 || (pid < 0 && errno == EINTR))
        return;
    bool ok = pid == st.child && WIFEXITED(status) && WEXITSTATUS(status) == 0;
    if (ok) {
        log_notice("Background saving terminated with success");
        server.dirty -= st.dirty_at_fork;
        server.lastsave_s = server_now_ms() / 1000;
    } else if (pid == st.child && WIFSIGNALED(status)) {
        log_warning("Background saving terminated by signal %d", WTERMSIG(status));
    } else {
        log_warning("Background saving error");
    }
    if (!ok) {
        char tmp[4200];
        snprintf(tmp, sizeof(tmp), "%s/temp-%d.rdb", cfg.dir, (int)st.child);
        unlink(tmp);
    }
    st.last_bgsave_ok = ok;
    st.last_bgsave_time_sec = (server_now_ms() - st.child_start_ms) / 1000;
    st.child = -1;
    st.save_keys_total = 0;
}

static void on_sigchld(uv_signal_t *handle, int signum) {
    (void)handle;
    (void)signum;
    reap_child();
}

int persist_init(void) {
    uv_signal_init(server.loop, &st.sigchld);
    if (uv_signal_start(&st.sigchld, on_sigchld, SIGCHLD) != 0)
        return -1;
    /* The watcher must not keep the loop alive on its own. */
    uv_unref((uv_handle_t *)&st.sigchld);
    return 0;
}

void persist_cron(void) {
    compaction_cron();
    reap_child();
    if (st.child != -1 || st.loading || compaction_in_progress())
        return;
    if (st.scheduled) {
        st.scheduled = false;
        persist_bgsave();
        return;
    }
    int64_t now_s = server_now_ms() / 1000;
    for (int i = 0; i < cfg.save_count; i++) {
        const struct save_point *sp = &cfg.save[i];
        /* Redis 7.0 serverCron: enough changes, strictly more seconds, and
         * no failed attempt in the last few seconds. */
        if (server.dirty >= sp->changes && now_s - server.lastsave_s > sp->seconds &&
            (now_s - st.last_try_s > BGSAVE_RETRY_DELAY_S || st.last_bgsave_ok)) {
            log_notice("%lld changes in %lld seconds. Saving...", sp->changes, sp->seconds);
            persist_bgsave();
            return;
        }
    }
}

/* ---- Shutdown ---- */

void persist_set_shutdown_save(enum persist_shutdown_save mode) {
    st.shutdown_save = mode;
}

int persist_shutdown(void) {
    if (st.child != -1) {
        /* Redis kills its saving child with SIGUSR1 and removes its file. */
        log_warning("There is a child saving an .rdb. Killing it!");
        kill(st.child, SIGUSR1);
        int status;
        while (waitpid(st.child, &status, 0) < 0 && errno == EINTR)
            ;
        char tmp[4200];
        snprintf(tmp, sizeof(tmp), "%s/temp-%d.rdb", cfg.dir, (int)st.child);
        unlink(tmp);
        st.child = -1;
    }
    bool save = st.shutdown_save == PERSIST_SHUTDOWN_SAVE ||
                (st.shutdown_save == PERSIST_SHUTDOWN_DEFAULT && cfg.save_count > 0);
    if (!save || cfg.appendonly || st.loading || st.load_failed)
        return 0;
    log_notice("Saving the final RDB snapshot before exiting.");
    if (persist_save() != 0) {
        log_warning("Error trying to save the DB, can't exit.");
        return -1;
    }
    return 0;
}

/* ---- Loading ---- */

bool persist_is_loading(void) {
    return st.loading;
}

/* Maps 'path' read-only. Returns 0, 1 when the file does not exist, or -1
 * with the reason in 'err'. An empty file maps to no memory. */
static int map_file(const char *path, unsigned char **map, size_t *len, char *err, size_t errlen) {
    int fd = open(path, O_RDONLY);
    if (fd < 0) {
        if (errno == ENOENT)
            return 1;
        snprintf(err, errlen, "can't open %s: %s", path, strerror(errno));
        return -1;
    }
    struct stat sb;
    if (fstat(fd, &sb) != 0) {
        snprintf(err, errlen, "can't stat %s: %s", path, strerror(errno));
        close(fd);
        return -1;
    }
    *len = (size_t)sb.st_size;
    *map = NULL;
    if (*len > 0) {
        void *p = mmap(NULL, *len, PROT_READ, MAP_PRIVATE, fd, 0);
        if (p == MAP_FAILED) {
            snprintf(err, errlen, "can't map %s: %s", path, strerror(errno));
            close(fd);
            return -1;
        }
        *map = p;
    }
    close(fd);
    return 0;
}

int persist_load_file(const char *path, struct keyspace **dbs, int ndbs, char *err, size_t errlen) {
    unsigned char *map;
    size_t len;
    int rc = map_file(path, &map, &len, err, errlen);
    if (rc != 0) {
        if (rc == 1)
            snprintf(err, errlen, "%s does not exist", path);
        return -1;
    }
    struct snapshot_params params;
    persist_params(&params);
    struct snapshot_error serr;
    rc = snapshot_load(map, len, ndbs, &params, dbs, &serr);
    if (rc != SNAPSHOT_OK)
        snprintf(err, errlen, "%s: %s (%s)", path, serr.msg, snapshot_strerror(rc));
    if (map != NULL)
        munmap(map, len);
    return rc == SNAPSHOT_OK ? 0 : -1;
}

static void finish_loading(void) {
    uv_idle_stop(&st.load_idle);
    uv_close((uv_handle_t *)&st.load_idle, NULL);
    snapshot_loader_free(st.loader);
    st.loader = NULL;
    if (st.map != NULL)
        munmap(st.map, st.map_len);
    st.map = NULL;
    st.loading = false;
}

static void on_load_turn(uv_idle_t *handle) {
    (void)handle;
    uint64_t start = server_monotonic_us();
    struct snapshot_error err;
    int rc;
    do {
        rc = snapshot_loader_step(st.loader, LOAD_STEP_BYTES, &err);
    } while (rc == SNAPSHOT_AGAIN && server_monotonic_us() - start < LOAD_TURN_US);
    if (rc == SNAPSHOT_AGAIN)
        return;
    if (rc != SNAPSHOT_OK) {
        log_warning("Fatal error loading the DB file %s: %s (%s). Exiting.", st.load_path, err.msg,
                    snapshot_strerror(rc));
        st.load_failed = true;
        finish_loading();
        server_request_shutdown(1);
        return;
    }
    /* Complete: the new keyspaces replace the (empty) live ones. */
    struct keyspace **loaded = calloc((size_t)cfg.databases, sizeof(*loaded));
    if (loaded == NULL) {
        log_warning("Fatal error loading the DB file %s: out of memory. Exiting.", st.load_path);
        st.load_failed = true;
        finish_loading();
        server_request_shutdown(1);
        return;
    }
    snapshot_loader_take(st.loader, loaded);
    size_t aux_len = 0;
    const unsigned char *aux = snapshot_loader_aux(st.loader, PERSIST_AUX_FUNCTIONS, &aux_len);
    if (persist_restore_functions(aux, aux != NULL ? aux_len : 0) != 0)
        log_warning("The function libraries in %s are damaged: not loaded", st.load_path);
    uint64_t keys = snapshot_loader_keys(st.loader);
    st.last_load_keys = (long long)keys;
    for (long long i = 0; i < cfg.databases; i++) {
        keyspace_free(server.dbs[i]);
        server.dbs[i] = loaded[i];
    }
    free(loaded);
    finish_loading();
    log_notice("DB loaded from disk: %.3f seconds, %llu keys",
               (double)(server_now_ms() / 1000 - st.loading_start_s), (unsigned long long)keys);
}

int persist_start_loading(void) {
    if (cfg.appendonly || shard_group() != NULL) /* the Raft log is the truth */
        return 0;
    file_path(st.load_path, sizeof(st.load_path));
    char err[4400];
    int rc = map_file(st.load_path, &st.map, &st.map_len, err, sizeof(err));
    if (rc == 1)
        return 0;
    if (rc < 0) {
        log_warning("Fatal error loading the DB: %s. Exiting.", err);
        return -1;
    }
    struct snapshot_params params;
    persist_params(&params);
    st.loader = snapshot_loader_new(st.map, st.map_len, (int)cfg.databases, &params);
    if (st.loader == NULL) {
        log_warning("Fatal error loading the DB file %s: out of memory. Exiting.", st.load_path);
        if (st.map != NULL)
            munmap(st.map, st.map_len);
        st.map = NULL;
        return -1;
    }
    st.loading = true;
    st.loading_start_s = server_now_ms() / 1000;
    uv_idle_init(server.loop, &st.load_idle);
    uv_idle_start(&st.load_idle, on_load_turn);
    log_notice("Loading the DB file %s (%zu bytes)", st.load_path, st.map_len);
    return 0;
}

void persist_get_info(struct persist_info *info) {
    info->loading = st.loading;
    info->bgsave_in_progress = st.child != -1 || compaction_in_progress();
    info->last_bgsave_ok = st.last_bgsave_ok;
    info->last_bgsave_time_sec = st.last_bgsave_time_sec;
    info->current_bgsave_time_sec =
        st.child != -1 ? (server_now_ms() - st.child_start_ms) / 1000 : -1;
    if (st.child == -1 && compaction_in_progress())
        info->current_bgsave_time_sec = compaction_current_time_sec();
    info->loading_start_time = st.loading_start_s;
    info->loading_total_bytes = (long long)st.map_len;
    info->loading_loaded_bytes =
        st.loader != NULL ? (long long)snapshot_loader_offset(st.loader) : 0;
    info->total_forks = st.total_forks;
    info->rdb_saves = st.rdb_saves;
    info->last_load_keys_loaded = st.last_load_keys;
    info->save_keys_total = st.save_keys_total;
}

long long persist_latest_fork_usec(void) {
    return st.latest_fork_usec;
}
