/* Pub/Sub: who is subscribed to which channels, patterns and shard channels,
 * and delivery of published messages to local subscribers.
 *
 * Subscriptions are per connection and never part of the replicated state:
 * a PUBLISH reaches the subscribers of the node that runs it (the cluster
 * layer later fans PUBLISH out over the bus and calls pubsub_publish on
 * every node). Messages are appended to each subscriber's reply buffer in
 * publish order, as RESP2 arrays or RESP3 pushes; a subscriber whose pending
 * output passes client-output-buffer-limit pubsub is closed (outlimit.h). */
#ifndef KR_NODE_PUBSUB_H
#define KR_NODE_PUBSUB_H

#include <stdbool.h>
#include <stddef.h>

struct client;
struct command;
struct resp_out;

enum pubsub_kind { PUBSUB_CHANNEL = 0, PUBSUB_PATTERN, PUBSUB_SHARD, PUBSUB_KINDS };

/* Subscribes 'c' to 'name' of 'kind' and writes Redis's confirmation
 * (["subscribe"|"psubscribe"|"ssubscribe", name, count]) to 'out'. 'name' is
 * copied. Sets CLIENT_PUBSUB. Returns false (after replying -OOM) when out of
 * memory. */
bool pubsub_subscribe(struct client *c, enum pubsub_kind kind, const char *name, size_t len,
                      struct resp_out *out);
/* Unsubscribes 'c' from 'name' (if subscribed) and writes the confirmation
 * with the remaining count to 'out'. */
void pubsub_unsubscribe(struct client *c, enum pubsub_kind kind, const char *name, size_t len,
                        struct resp_out *out);
/* Unsubscribes 'c' from every subscription of 'kind', writing one
 * confirmation each to 'out' (or ["unsubscribe", nil, 0] when there were
 * none); 'out' NULL unsubscribes silently. */
void pubsub_unsubscribe_all(struct client *c, enum pubsub_kind kind, struct resp_out *out);
/* Clears CLIENT_PUBSUB when 'c' has no subscription of any kind left (Redis
 * 7.0.15 keeps a RESP2 client in subscribed mode while a shard channel is
 * left after UNSUBSCRIBE). */
void pubsub_update_flag(struct client *c);

/* Delivers 'msg' published on 'channel' to this node's subscribers of the
 * channel and of every matching pattern; returns how many received it.
 * The single local delivery point for PUBLISH, keyspace notifications and
 * (later) messages that arrive over the cluster bus. Bytes are copied. */
long long pubsub_publish(const char *channel, size_t chlen, const char *msg, size_t msglen);
/* The same for a shard channel (SPUBLISH): no patterns. */
long long pubsub_publish_shard(const char *channel, size_t chlen, const char *msg, size_t msglen);

/* How many subscriptions of 'kind' 'c' holds (CLIENT LIST sub/psub/ssub). */
size_t pubsub_client_count(const struct client *c, enum pubsub_kind kind);
/* How many distinct channels, patterns or shard channels have subscribers. */
size_t pubsub_total(enum pubsub_kind kind);

/* Iterates the names of 'kind' that have subscribers and match 'pattern'
 * (NULL: all), in table order, calling 'fn' with each name. */
void pubsub_each(enum pubsub_kind kind, const char *pattern, size_t plen,
                 void (*fn)(const char *name, size_t len, void *arg), void *arg);
/* How many clients are subscribed to 'name' of 'kind' (not patterns). */
size_t pubsub_subscriber_count(enum pubsub_kind kind, const char *name, size_t len);

/* Redis 7.0 processCommand: whether 'c' may run 'cmd' now. A RESP2 client
 * with subscriptions may only run (P|S)SUBSCRIBE, (P|S)UNSUBSCRIBE, PING,
 * QUIT and RESET. */
bool pubsub_allows(const struct client *c, const struct command *cmd);

/* Drops every subscription of 'c' without replying (close, RESET). */
void pubsub_client_reset(struct client *c);

/* Writes an RESP2 message array / RESP3 push ["message", channel, <payload>]
 * to 'c' where the payload is already encoded as 'payload' (used by client
 * tracking for __redis__:invalidate), then applies the output limit. */
void pubsub_deliver_raw(struct client *c, const char *channel, size_t chlen, const char *payload,
                        size_t payload_len);

#endif
