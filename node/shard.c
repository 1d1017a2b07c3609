/* This node's Raft group (see shard.h). Owns the group's life cycle and the
 * loading state; what an entry means is node/propose.c's business. */
#include "node/shard.h"

#include "node/config.h"
#include "node/log.h"
#include "node/propose.h"
#include "node/server.h"
#include "raft/group.h"

#include <errno.h>
#include <stdio.h>
#include <string.h>
#include <sys/stat.h>

/* The member id of a standalone node: the only voter of its own group. */
#define STANDALONE_MEMBER_ID 1

static struct group *group;
static uint64_t replay_target; /* last log index found at startup */
static bool loading;

struct group *shard_group(void) {
    return group;
}

bool shard_is_loading(void) {
    return loading;
}

void shard_note_applied(void) {
    if (loading && group_applied_index(group) >= replay_target) {
        loading = false;
        log_notice("DB loaded from the Raft log: applied index %llu",
                   (unsigned long long)replay_target);
    }
}

static long long bus_port(void) {
    return cfg.cluster_port ? cfg.cluster_port : cfg.port + 10000;
}

int shard_init(void) {
    if (!cfg.appendonly)
        return 0;
    char dir[4096];
    snprintf(dir, sizeof(dir), "%s/raft", cfg.dir);
    if (mkdir(dir, 0755) != 0 && errno != EEXIST) {
        log_warning("Can't create the Raft log directory %s: %s", dir, strerror(errno));
        return -1;
    }
    char address[64];
    snprintf(address, sizeof(address), "127.0.0.1:%lld", bus_port());
    struct group_config gc = {
        .loop = server.loop,
        .dir = dir,
        .id = STANDALONE_MEMBER_ID,
        .address = address,
        .apply = propose_apply,
        .apply_arg = NULL,
    };
    char err[512];
    if (group_new(&gc, &group, err, sizeof(err)) != GROUP_OK) {
        log_warning("Can't open the Raft log in %s: %s", dir, err);
        return -1;
    }
    struct group_member self = {.id = STANDALONE_MEMBER_ID, .address = address};
    int rc = group_bootstrap(group, &self, 1);
    if (rc == GROUP_OK)
        rc = group_start(group);
    if (rc != GROUP_OK) {
        log_warning("Can't start the Raft log in %s: %s", dir, group_strerror(rc));
        group_close(group, NULL, NULL);
        group = NULL;
        return -1;
    }
    replay_target = group_last_index(group);
    loading = group_applied_index(group) < replay_target;
    log_notice("Raft log opened in %s (last index %llu)", dir, (unsigned long long)replay_target);
    return 0;
}

static bool closed;

static void on_closed(void *arg) {
    (void)arg;
    closed = true;
}

void shard_close(void) {
    if (group == NULL)
        return;
    propose_shutdown();
    closed = false;
    group_close(group, on_closed, NULL);
    while (!closed)
        uv_run(server.loop, UV_RUN_ONCE);
    group = NULL;
}
