/* Cluster mode (cluster-enabled yes) on this node: the one cluster view
 * (cluster/nodes.h), loaded from nodes.conf at startup or created with a
 * fresh random id, saved again after every change, and kept in step with
 * the announce settings (cluster-announce-ip/-port/-bus-port, cluster-port).
 *
 * The view changes through CLUSTER commands, nodes.conf and the gossip bus
 * (node/cluster_bus.c, started and stopped with cluster mode). */
#ifndef KR_NODE_CLUSTER_MODE_H
#define KR_NODE_CLUSTER_MODE_H

#include <stdbool.h>
#include <stddef.h>

struct cluster_state;

/* Loads or creates the view when cfg.cluster_enabled (else does nothing).
 * Returns 0, or -1 after logging why (corrupt nodes.conf, port too high). */
int cluster_mode_start(void);
void cluster_mode_close(void);

/* The view, with myself's announced address and the cluster state
 * brought up to date. NULL when cluster mode is off. */
struct cluster_state *cluster_mode_state(void);

/* The view changed (slots, nodes, epochs): recompute the state and save
 * nodes.conf (a failure is logged; the next change retries). */
void cluster_mode_changed(void);
/* cluster_mode_changed without fsyncing nodes.conf (nodesconf_write): for
 * the changes Redis 7.0 saves that way (SETSLOT, ADDSLOTS, DELSLOTS,
 * FORGET). A reshard sends several SETSLOTs per slot. */
void cluster_mode_changed_nofsync(void);
/* Only the cluster state may have changed (a node flagged PFAIL or back):
 * recompute it without saving nodes.conf. */
void cluster_mode_state_changed(void);
/* Saves nodes.conf now (CLUSTER SAVECONFIG). Returns 0, or -1 with errno's
 * text in 'err'. */
int cluster_mode_save(char *err, size_t errlen);

/* Fills 'id' (41 bytes) with a new random node id: 40 lowercase hex. */
void cluster_mode_random_id(char *id);

#endif
