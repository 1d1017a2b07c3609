/* This node's Raft group (see shard.h). Owns the group's life cycle, the
 * member identity file and the loading state; what an entry means is
 * node/propose.c's business. */
#include "node/shard.h"

#include "cluster/nodes.h"
#include "node/cluster_mode.h"
#include "node/compaction.h"
#include "node/config.h"
#include "node/log.h"
#include "node/logcheck.h"
#include "node/propose.h"
#include "node/server.h"
#include "raft/group.h"
#include "storage/keyspace.h"

#include <dirent.h>
#include <errno.h>
#include <inttypes.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#define REPLAY_ALONE_MAX_MS 60000

enum membership { MEMBER_NONE, MEMBER_BOOTSTRAPPED, MEMBER_JOINED };

static struct group *group;
static uint64_t member_id;
static enum membership membership;
static char raft_address[128];
static char bind_address[128];
static transport_bus_cb bus_receiver; /* survives group swaps */
static void *bus_receiver_arg;
static uint64_t replay_target; /* last log index found at startup */
static bool loading;
static bool swapping; /* shard_close is running the loop */

struct group *shard_group(void) {
    return group;
}

/* Barrier and configuration entries are applied without an apply
 * callback (a restarted log often ends with one), so the check also runs
 * when someone asks. */
bool shard_is_loading(void) {
    shard_note_applied();
    return loading;
}

bool shard_is_swapping(void) {
    return swapping;
}

void shard_note_applied(void) {
    if (loading && group != NULL && group_applied_index(group) >= replay_target) {
        loading = false;
        log_notice("DB loaded from the Raft log: applied index %" PRIu64, replay_target);
    }
}

/* ---- Identity ---- */

static void path_in_dir(char *buf, size_t len, const char *name) {
    snprintf(buf, len, "%s/%s", cfg.dir, name);
}

/* Reads <dir>/keyraft.member if there is one. Returns 0, or -1 after
 * logging why when it exists but cannot be read or parsed: going on without
 * it would give the node a new member id that its log's configuration does
 * not know (so it could never lead), or forget that it joined a group. */
static int load_member_file(void) {
    char path[4096];
    path_in_dir(path, sizeof(path), "keyraft.member");
    FILE *f = fopen(path, "r");
    if (f == NULL) {
        if (errno == ENOENT)
            return 0;
        log_warning("Can't read %s: %s. Exiting.", path, strerror(errno));
        return -1;
    }
    char how[32] = "";
    uint64_t id = 0;
    int fields = fscanf(f, "%" SCNu64 " %31s", &id, how);
    fclose(f);
    if (fields != 2 || id == 0 ||
        (strcmp(how, "joined") != 0 && strcmp(how, "bootstrapped") != 0)) {
        log_warning("Bad member file %s: expected \"<member id> bootstrapped|joined\". Exiting.",
                    path);
        return -1;
    }
    member_id = id;
    membership = strcmp(how, "joined") == 0 ? MEMBER_JOINED : MEMBER_BOOTSTRAPPED;
    return 0;
}

static int save_member_file(void) {
    char path[4096], tmp[4200];
    path_in_dir(path, sizeof(path), "keyraft.member");
    snprintf(tmp, sizeof(tmp), "%s.tmp", path);
    FILE *f = fopen(tmp, "w");
    if (f == NULL)
        return -1;
    const char *how = membership == MEMBER_JOINED ? "joined" : "bootstrapped";
    int ok = fprintf(f, "%" PRIu64 " %s\n", shard_member_id(), how) > 0;
    ok = fflush(f) == 0 && fsync(fileno(f)) == 0 && ok;
    ok = fclose(f) == 0 && ok;
    return ok && rename(tmp, path) == 0 ? 0 : -1;
}

uint64_t shard_node_member_id(const char *node_id) {
    /* The first 15 hex digits: 60 bits, positive as a long long (KEYRAFT
     * JOIN parses it as one), and distinct for distinct random node ids in
     * practice. */
    uint64_t id = 0;
    for (int i = 0; i < 15 && node_id[i] != '\0'; i++) {
        char c = node_id[i];
        unsigned digit = c >= '0' && c <= '9'   ? (unsigned)(c - '0')
                         : c >= 'a' && c <= 'z' ? (unsigned)(c - 'a' + 10) % 16
                                                : 0;
        id = (id << 4) | digit;
    }
    return id != 0 ? id : 1;
}

uint64_t shard_member_id(void) {
    struct cluster_state *cs = cluster_mode_state();
    if (cs != NULL)
        return shard_node_member_id(cs->myself->id);
    if (member_id == 0)
        member_id = (server_random() >> 1) | 1; /* non-zero, fits Raft ids */
    return member_id;
}

void shard_new_member_id(void) {
    member_id = 0;
    shard_member_id();
}

const char *shard_raft_address(void) {
    if (raft_address[0] == '\0') {
        const char *host = "127.0.0.1";
        if (cfg.cluster_announce_ip != NULL && cfg.cluster_announce_ip[0] != '\0')
            host = cfg.cluster_announce_ip;
        else
            for (int i = 0; i < cfg.bind_count; i++)
                if (cfg.bind[i][0] != '*' && cfg.bind[i][0] != '-' && !strchr(cfg.bind[i], ':')) {
                    host = cfg.bind[i];
                    break;
                }
        long long port = cfg.cluster_port ? cfg.cluster_port : cfg.port + 10000;
        snprintf(raft_address, sizeof(raft_address), "%s:%lld", host, port);
    }
    return raft_address;
}

/* The bus listener binds where the client listeners do: the first `bind`
 * address ("*" and "::*" are the wildcards), on the bus port. */
static const char *shard_bind_address(void) {
    const char *spec = cfg.bind_count > 0 ? cfg.bind[0] : "*";
    if (spec[0] == '-')
        spec++;
    long long port = cfg.cluster_port ? cfg.cluster_port : cfg.port + 10000;
    if (strcmp(spec, "*") == 0)
        snprintf(bind_address, sizeof(bind_address), "0.0.0.0:%lld", port);
    else if (strcmp(spec, "::*") == 0)
        snprintf(bind_address, sizeof(bind_address), "[::]:%lld", port);
    else if (strchr(spec, ':') != NULL)
        snprintf(bind_address, sizeof(bind_address), "[%s]:%lld", spec, port);
    else
        snprintf(bind_address, sizeof(bind_address), "%s:%lld", spec, port);
    return bind_address;
}

/* In cluster mode a member is a cluster node: it is dialled where gossip
 * last saw that node (by node id), since the address in the Raft
 * configuration is where it was when it joined and a restarted container
 * may have a new one. */
static bool resolve_member(void *arg, uint64_t id, char *buf, size_t len) {
    (void)arg;
    struct cluster_state *cs = cluster_mode_state();
    for (size_t i = 0; cs != NULL && i < cs->node_count; i++) {
        const struct cluster_node *n = cs->nodes[i];
        if (n->ip[0] == '\0' || n->cport == 0 || (n->flags & CNODE_MYSELF) ||
            shard_node_member_id(n->id) != id)
            continue;
        int w = strchr(n->ip, ':') != NULL ? snprintf(buf, len, "[%s]:%d", n->ip, n->cport)
                                           : snprintf(buf, len, "%s:%d", n->ip, n->cport);
        return w > 0 && (size_t)w < len;
    }
    return false;
}

/* Hands a bus connection to the registered receiver, or closes it. */
static void route_bus_connection(void *arg, uv_tcp_t *stream) {
    (void)arg;
    if (bus_receiver != NULL)
        bus_receiver(bus_receiver_arg, stream);
    else
        uv_close((uv_handle_t *)stream, transport_stream_free);
}

void shard_set_bus_receiver(transport_bus_cb cb, void *arg) {
    bus_receiver = cb;
    bus_receiver_arg = arg;
}

bool shard_client_address(const char *address, char *ip, size_t iplen, long long *port) {
    const char *colon = address ? strrchr(address, ':') : NULL;
    if (colon == NULL || (size_t)(colon - address) >= iplen)
        return false;
    memcpy(ip, address, (size_t)(colon - address));
    ip[colon - address] = '\0';
    long long raft_port = strtoll(colon + 1, NULL, 10);
    /* In cluster mode the view knows each node's bus and client ports. */
    struct cluster_state *cs = cluster_mode_state();
    for (size_t i = 0; cs != NULL && i < cs->node_count; i++) {
        const struct cluster_node *n = cs->nodes[i];
        if (n->cport == raft_port && (n->ip[0] == '\0' || strcmp(n->ip, ip) == 0)) {
            *port = n->port;
            return true;
        }
    }
    /* Otherwise members listen for Raft on their client port + 10000. */
    *port = raft_port - 10000;
    return *port > 0;
}

/* ---- Opening and closing ---- */

static void raft_dir(char *buf, size_t len) {
    path_in_dir(buf, len, "raft");
}

/* How open_group starts the member: on the log it has, bootstrapping a
 * group of one on a fresh directory, or forcing a configuration of itself
 * alone (raft_recover) onto the log it has. */
enum open_mode { OPEN_EXISTING, OPEN_BOOTSTRAP, OPEN_ALONE };

static int open_group(enum open_mode mode) {
    char dir[4096];
    raft_dir(dir, sizeof(dir));
    if (mkdir(dir, 0755) != 0 && errno != EEXIST) {
        log_warning("Can't create the Raft log directory %s: %s", dir, strerror(errno));
        return -1;
    }
    if (logcheck_raft_dir(dir) != 0)
        return -1;
    struct group_config gc = {
        .loop = server.loop,
        .dir = dir,
        .id = shard_member_id(),
        .address = shard_raft_address(),
        .apply = propose_apply,
        .transport = GROUP_TRANSPORT_SHARED_PORT,
        .bus_cb = route_bus_connection,
        .bind_address = shard_bind_address(),
        .resolve = resolve_member,
    };
    compaction_configure(&gc);
    char err[512];
    if (group_new(&gc, &group, err, sizeof(err)) != GROUP_OK) {
        log_warning("Can't open the Raft log in %s: %s", dir, err);
        return -1;
    }
    struct group_member self = {.id = gc.id, .address = gc.address};
    int rc = mode == OPEN_BOOTSTRAP ? group_bootstrap(group, &self, 1)
             : mode == OPEN_ALONE   ? group_recover(group, &self, 1)
                                    : GROUP_OK;
    if (rc == GROUP_OK)
        rc = group_start(group);
    if (rc != GROUP_OK) {
        /* Most often the bus port is taken: say where it listens. */
        log_warning("Can't start the Raft log in %s (bus port listener on %s): %s", dir,
                    gc.bind_address != NULL ? gc.bind_address : gc.address, group_strerror(rc));
        group_close(group, NULL, NULL);
        group = NULL;
        return -1;
    }
    replay_target = group_last_index(group);
    /* Entry 1 is the bootstrap configuration: a log that ends there has
     * nothing to replay. */
    loading = group_applied_index(group) < replay_target && replay_target > 1;
    log_notice("Raft log opened in %s (member %" PRIu64 ", last index %" PRIu64 ")", dir, gc.id,
               replay_target);
    return 0;
}

/* The only voter of its group needs no one to replay its log: do it before
 * clients are served, as Redis loads its AOF (bounded, in case the log
 * cannot be applied; clients then get -LOADING until it is). */
static void replay_alone(void) {
    struct group_member_info m[2];
    if (group_members(group, m, 2) != 1 || m[0].id != shard_member_id() ||
        m[0].role != GROUP_ROLE_VOTER)
        return;
    int64_t deadline = server_now_ms() + REPLAY_ALONE_MAX_MS;
    while (group != NULL && shard_is_loading() && server_now_ms() < deadline)
        uv_run(server.loop, UV_RUN_ONCE);
}

static bool has_data(void);

/* A dump file next to a log that does not exist yet: Redis 7.0 would not
 * load it under appendonly yes either, but keyraft then serves an empty
 * dataset while the file holds one, and its next save replaces the file.
 * Refusing to start keeps that data. */
static bool dump_file_without_log(void) {
    char path[4096];
    snprintf(path, sizeof(path), "%s/%s", cfg.dir, cfg.dbfilename);
    return membership == MEMBER_NONE && access(path, F_OK) == 0;
}

int shard_init(void) {
    if (load_member_file() != 0)
        return -1;
    if ((cfg.appendonly || cfg.cluster_enabled) && dump_file_without_log()) {
        log_warning("%s/%s holds a dataset but there is no Raft log yet: keyraft does not put "
                    "a dump file into a new log. Start with appendonly no to load it, or move "
                    "the file away to start empty",
                    cfg.dir, cfg.dbfilename);
        return -1;
    }
    if (cfg.cluster_enabled && member_id != 0 && member_id != shard_member_id())
        log_warning("%s/keyraft.member names member %" PRIu64 ", but this cluster node's id "
                    "maps to member %" PRIu64 ": using the latter",
                    cfg.dir, member_id, shard_member_id());
    bool bootstrap = membership != MEMBER_JOINED;
    if (bootstrap) {
        /* In cluster mode a shard is always a Raft group, and its log the AOF. */
        if (!cfg.appendonly && !cfg.cluster_enabled)
            return 0;
        membership = MEMBER_BOOTSTRAPPED;
        if (save_member_file() != 0) {
            log_warning("Can't write %s/keyraft.member: %s", cfg.dir, strerror(errno));
            return -1;
        }
    }
    if (open_group(bootstrap ? OPEN_BOOTSTRAP : OPEN_EXISTING) != 0)
        return -1;
    replay_alone();
    return 0;
}

static bool closed;

static void on_closed(void *arg) {
    (void)arg;
    closed = true;
}

/* The loop runs while the group closes, and clients are served meanwhile:
 * they see no group (it is being freed); writes get -LOADING
 * (shard_is_swapping) until the caller opens the next group or the node
 * leaves. */
void shard_close(void) {
    if (group == NULL)
        return;
    propose_shutdown();
    struct group *closing = group;
    group = NULL;
    swapping = true;
    closed = false;
    group_close(closing, on_closed, NULL);
    while (!closed)
        uv_run(server.loop, UV_RUN_ONCE);
    swapping = false;
    loading = false;
}

/* ---- Changing membership ---- */

static bool has_data(void) {
    for (long long i = 0; i < cfg.databases; i++) {
        struct keyspace *ks = server_db_if_exists((int)i);
        if (ks != NULL && keyspace_size(ks) > 0)
            return true;
    }
    return false;
}

int shard_apply_appendonly(char *err, size_t errlen) {
    if (!cfg.appendonly || group != NULL)
        return 0;
    /* Redis rewrites the AOF from memory here; a Raft log starts empty, and
     * writes logged on top of data it lacks would replay wrong. */
    if (has_data()) {
        snprintf(err, errlen,
                 "the dataset is not in a Raft log and cannot be put into a new one: turn "
                 "appendonly on while the dataset is empty, or at startup");
        return -1;
    }
    if (shard_ensure_group() != 0) {
        snprintf(err, errlen, "the Raft log could not be opened (see the log)");
        return -1;
    }
    return 0;
}

int shard_ensure_group(void) {
    if (group != NULL)
        return 0;
    if (has_data()) {
        log_warning("Refusing a replica: this master's data is not in a Raft log "
                    "(start it with appendonly yes)");
        return -1;
    }
    membership = MEMBER_BOOTSTRAPPED;
    if (save_member_file() != 0)
        return -1;
    return open_group(OPEN_BOOTSTRAP);
}

static void remove_raft_dir(void) {
    char dir[4096];
    raft_dir(dir, sizeof(dir));
    DIR *d = opendir(dir);
    if (d == NULL)
        return;
    struct dirent *e;
    while ((e = readdir(d)) != NULL) {
        if (strcmp(e->d_name, ".") == 0 || strcmp(e->d_name, "..") == 0)
            continue;
        char path[4400];
        snprintf(path, sizeof(path), "%s/%s", dir, e->d_name);
        unlink(path);
    }
    closedir(d);
    rmdir(dir);
}

static void clear_data(void) {
    for (long long i = 0; i < cfg.databases; i++) {
        struct keyspace *ks = server_db_if_exists((int)i);
        if (ks != NULL)
            keyspace_clear(ks);
    }
}

int shard_become_joined_member(void) {
    shard_close();
    remove_raft_dir();
    clear_data();               /* like a Redis full sync: the replica's own data goes */
    membership = MEMBER_JOINED; /* with the id the leader added (shard_new_member_id) */
    if (save_member_file() != 0)
        return -1;
    return open_group(OPEN_EXISTING);
}

int shard_start_alone(void) {
    shard_close();
    remove_raft_dir();
    clear_data();
    membership = MEMBER_BOOTSTRAPPED;
    if (save_member_file() != 0)
        return -1;
    return open_group(OPEN_BOOTSTRAP);
}

int shard_continue_alone(void) {
    shard_close();
    clear_data(); /* rebuilt from the log, which replays from the start */
    if (open_group(OPEN_ALONE) != 0)
        return -1;
    replay_alone();
    return 0;
}

void shard_leave_group(void) {
    shard_close();
    remove_raft_dir(); /* its configuration names the group this node left */
    membership = MEMBER_NONE;
    char path[4096];
    path_in_dir(path, sizeof(path), "keyraft.member");
    unlink(path);
}
