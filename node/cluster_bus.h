/* The cluster bus on this node: one outbound link per known node (TCP to
 * its ip:cport, the "KRBUS001" preamble, then bus frames), the inbound
 * connections the shared bus port hands over (node/shard.h), and the
 * 100 ms cron that connects links and runs the gossip rules
 * (cluster/gossip.h). It applies what arrives to the view owned by
 * node/cluster_mode.c, saves nodes.conf when the view changed, delivers
 * PUBLISH/SPUBLISH from other nodes to local subscribers, and keeps the
 * counters CLUSTER INFO and CLUSTER LINKS show.
 *
 * Malformed input (a bad frame length, a body that does not decode) closes
 * that connection and nothing else. Everything runs on the loop thread. */
#ifndef KR_NODE_CLUSTER_BUS_H
#define KR_NODE_CLUSTER_BUS_H

#include <stdbool.h>
#include <stddef.h>

struct cluster_node;
struct cluster_state;
struct resp_out;

/* Starts the bus for view 'cs' (cluster mode only): registers the bus
 * receiver and the cron. Returns 0, or -1 after logging why. */
int cluster_bus_start(struct cluster_state *cs);
/* Closes every link and the cron; their memory is freed by the loop's
 * close callbacks. The view may be freed right after. */
void cluster_bus_stop(void);

/* CLUSTER FORGET: deletes 'n' and keeps gossip from re-adding it for a
 * minute. */
void cluster_bus_forget(struct cluster_node *n);
/* CLUSTER COUNT-FAILURE-REPORTS: valid failure reports about 'n'. */
unsigned cluster_bus_failure_reports(struct cluster_node *n);
/* PUBLISH / SPUBLISH on this node: sends the message to every other node
 * ('shard' false) or to the other nodes of this node's shard. 'applied':
 * the command runs from the shard's log (a script), so every member of the
 * shard delivers it itself and only the master sends it on, to the other
 * shards. */
void cluster_bus_publish(const char *channel, size_t chlen, const char *msg, size_t msglen,
                         bool shard, bool applied);

/* Appends CLUSTER INFO's cluster_stats_messages_* lines (Redis 7.0: one
 * line per message type seen, then the totals) to 'buf' (NUL-terminated,
 * truncated to 'cap'). Returns the length written. */
size_t cluster_bus_info(char *buf, size_t cap);
/* Writes CLUSTER LINKS's reply: one map per link. */
void cluster_bus_links_reply(struct resp_out *out);
/* Open bus links, inbound and outbound (INFO cluster_connections), and
 * the bytes they hold: records and buffers (INFO mem_cluster_links). */
size_t cluster_bus_link_count(void);
size_t cluster_bus_links_bytes(void);

#endif
