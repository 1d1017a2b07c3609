/* Cluster mode's node-side state (see cluster_mode.h): the single cluster
 * view, nodes.conf at startup and after changes, and the announced address
 * of myself. The CLUSTER commands are in cmd_cluster.c, redirection in
 * cluster_redirect.c; the data structures and rules are in cluster/. */
#include "node/cluster_mode.h"

#include "cluster/nodes.h"
#include "cluster/nodesconf.h"
#include "node/cluster_bus.h"
#include "node/config.h"
#include "node/log.h"
#include "node/server.h"

#include <stdio.h>
#include <string.h>

static struct cluster_state *view;

/* Redis logs every change of cluster_state. */
static void update_state(int64_t now_ms) {
    bool was_ok = view->state_ok;
    cluster_update_state(view, now_ms, cfg.cluster_require_full_coverage, cfg.cluster_node_timeout);
    if (view->state_ok != was_ok)
        log_warning("Cluster state changed: %s", view->state_ok ? "ok" : "fail");
}

void cluster_mode_random_id(char *id) {
    static const char hex[] = "0123456789abcdef";
    for (int i = 0; i < CLUSTER_ID_LEN; i++)
        id[i] = hex[server_random() & 15];
    id[CLUSTER_ID_LEN] = '\0';
}

/* Redis 7.0 (clusterUpdateMyselfAnnouncedPorts and the announce-ip part of
 * clusterCron): myself advertises the announce settings when given. */
static void update_myself_address(void) {
    struct cluster_node *me = view->myself;
    me->port = (int)(cfg.cluster_announce_port ? cfg.cluster_announce_port : cfg.port);
    if (cfg.cluster_announce_bus_port)
        me->cport = (int)cfg.cluster_announce_bus_port;
    else
        me->cport = (int)(cfg.cluster_port ? cfg.cluster_port : cfg.port + CLUSTER_PORT_INCR);
    snprintf(me->hostname, sizeof(me->hostname), "%s",
             cfg.cluster_announce_hostname ? cfg.cluster_announce_hostname : "");
    snprintf(me->client_ip, sizeof(me->client_ip), "%s",
             cfg.cluster_announce_client_ipv4 ? cfg.cluster_announce_client_ipv4 : "");
    me->client_port = (int)cfg.cluster_announce_client_port;
    static bool announced;
    const char *ip = cfg.cluster_announce_ip;
    if (ip != NULL && ip[0] != '\0') {
        snprintf(me->ip, sizeof(me->ip), "%s", ip);
        announced = true;
    } else if (announced) {
        me->ip[0] = '\0'; /* relearned from peers, as Redis does */
        announced = false;
    }
}

int cluster_mode_start(void) {
    if (!cfg.cluster_enabled)
        return 0;
    if (cfg.port > 65535 - CLUSTER_PORT_INCR && cfg.cluster_port == 0) {
        log_warning("Redis port number too high. Cluster communication port is 10,000 port "
                    "numbers higher than your Redis port. Your Redis port number must be 55535 "
                    "or less.");
        return -1;
    }
    char err[512];
    const char *path = cfg.cluster_config_file;
    int rc = nodesconf_load(path, server_now_ms(), &view, err, sizeof(err));
    if (rc == NODESCONF_ENOENT) {
        char id[CLUSTER_ID_LEN + 1];
        cluster_mode_random_id(id);
        view = cluster_state_new(id, server.start_ms);
        if (view == NULL) {
            log_warning("Out of memory creating the cluster state");
            return -1;
        }
        log_notice("No cluster configuration found, I'm %s", id);
    } else if (rc == NODESCONF_ECORRUPT) {
        log_warning("Unrecoverable error: corrupted cluster config file \"%s\": %s", path, err);
        return -1;
    } else if (rc != 0) {
        log_warning("Can't load the cluster config file \"%s\": %s", path, err);
        return -1;
    } else {
        view->start_ms = server.start_ms;
        log_notice("Node configuration loaded, I'm %.40s", view->myself->id);
    }
    update_myself_address();
    if (cluster_mode_save(err, sizeof(err)) != 0) {
        log_warning("Fatal: can't update cluster config file \"%s\": %s", path, err);
        cluster_mode_close();
        return -1;
    }
    if (cluster_bus_start(view) != 0) {
        cluster_mode_close();
        return -1;
    }
    return 0;
}

void cluster_mode_close(void) {
    cluster_bus_stop();
    cluster_state_free(view);
    view = NULL;
}

struct cluster_state *cluster_mode_state(void) {
    if (view == NULL)
        return NULL;
    update_myself_address();
    update_state(server_now_ms());
    return view;
}

static void changed(bool durable) {
    if (view == NULL)
        return;
    int64_t now = server_now_ms();
    cluster_state_changed(view, now);
    update_state(now);
    update_myself_address();
    char err[512];
    if (nodesconf_write(view, cfg.cluster_config_file, durable, err, sizeof(err)) != 0)
        log_warning("Could not save the cluster config file \"%s\": %s", cfg.cluster_config_file,
                    err);
}

void cluster_mode_changed(void) {
    changed(true);
}

void cluster_mode_changed_nofsync(void) {
    changed(false);
}

void cluster_mode_state_changed(void) {
    if (view == NULL)
        return;
    int64_t now = server_now_ms();
    cluster_state_changed(view, now);
    update_state(now);
}

int cluster_mode_save(char *err, size_t errlen) {
    update_myself_address();
    return nodesconf_save(view, cfg.cluster_config_file, err, errlen) == 0 ? 0 : -1;
}
