/* Manual failover on the master (see cluster_handover.h): owns the one
 * hand-over under way and the timer that walks it through its steps. The
 * pause itself is node/pause.c's; the view follows Raft in
 * node/cluster_shard.c; the transfer is raft/group.c's. */
#include "node/cluster_handover.h"

#include "cluster/nodes.h"
#include "node/cluster_mode.h"
#include "node/log.h"
#include "node/pause.h"
#include "node/server.h"
#include "node/shard.h"
#include "raft/group.h"

#include <inttypes.h>
#include <stdbool.h>
#include <stdio.h>

#define STEP_INTERVAL_MS 5
/* Redis 7.0's CLUSTER_MF_TIMEOUT: how long a manual failover may take. */
#define HANDOVER_TIMEOUT_MS 5000

enum step {
    STEP_IDLE,      /* no hand-over */
    STEP_DRAINING,  /* writes held; waiting for the log to be applied */
    STEP_TRANSFER,  /* raft transfer under way */
    STEP_NEW_LEADER /* stepped down; waiting to learn the new leader */
};

static enum step step;
static uint64_t target;
static int64_t deadline_ms;
static uv_timer_t step_timer;
static bool has_timer;

static void finish(const char *outcome) {
    if (outcome != NULL)
        log_warning("Manual failover: %s; writes resume on this node", outcome);
    step = STEP_IDLE;
    uv_timer_stop(&step_timer);
    pause_end();
}

static void on_transfer_done(void *arg, int status) {
    (void)arg;
    if (step != STEP_TRANSFER)
        return;
    if (status != GROUP_OK) {
        finish("the replica did not take over in time");
        return;
    }
    step = STEP_NEW_LEADER;
}

static void on_step(uv_timer_t *t) {
    (void)t;
    struct group *g = shard_group();
    if (g == NULL) {
        finish("the Raft group closed");
        return;
    }
    if (server_now_ms() > deadline_ms) {
        finish("timed out");
        return;
    }
    switch (step) {
    case STEP_DRAINING:
        if (!group_is_leader(g)) {
            step = STEP_NEW_LEADER;
            break;
        }
        /* Every entry this leader appended is applied: no write waits for
         * a commit that the transfer would turn into an error. */
        if (group_applied_index(g) < group_last_index(g))
            break;
        if (group_transfer(g, target, on_transfer_done, NULL) != GROUP_OK) {
            finish("the Raft leadership transfer could not start");
            return;
        }
        step = STEP_TRANSFER;
        break;
    case STEP_NEW_LEADER: {
        uint64_t leader = group_leader(g, NULL);
        if (leader == 0 || leader == shard_member_id())
            break;
        /* The held writes must find the new master in the view. The view
         * follows Raft on its own timer (cluster_shard.c); forcing it here
         * would announce myself a replica sooner, before the new master
         * claimed the slots, and gossip drops a demoted master's slots. */
        struct cluster_state *cs = cluster_mode_state();
        if (cs != NULL && !(cs->myself->flags & CNODE_SLAVE))
            break;
        log_notice("Manual failover: member %" PRIu64 " leads the shard; held writes resume",
                   leader);
        finish(NULL);
        break;
    }
    case STEP_TRANSFER:
    case STEP_IDLE:
        break;
    }
}

int cluster_handover_start(uint64_t member_id, char *err, size_t errlen) {
    struct group *g = shard_group();
    if (g == NULL || !group_is_leader(g)) {
        snprintf(err, errlen, "not the leader of a Raft group");
        return -1;
    }
    if (step != STEP_IDLE) {
        snprintf(err, errlen, "a manual failover is already in progress");
        return -1;
    }
    if (!has_timer) {
        uv_timer_init(server.loop, &step_timer);
        uv_unref((uv_handle_t *)&step_timer); /* never keeps the loop alive alone */
        has_timer = true;
    }
    deadline_ms = server_now_ms() + HANDOVER_TIMEOUT_MS;
    target = member_id;
    step = STEP_DRAINING;
    pause_start(PAUSE_WRITE, deadline_ms);
    /* The first step runs after this loop iteration has cut its batch. */
    uv_timer_start(&step_timer, on_step, STEP_INTERVAL_MS, STEP_INTERVAL_MS);
    return 0;
}
