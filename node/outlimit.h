/* Client output buffer limits (client-output-buffer-limit): how much reply
 * data a client may have pending before the server closes it, per client
 * class, with Redis 7.0's hard limit, soft limit and soft seconds.
 *
 * The configured values live here; whoever appends data a client did not ask
 * for (pub/sub messages, invalidations) asks outlimit_reached() afterwards
 * and closes the client when it says so. */
#ifndef KR_NODE_OUTLIMIT_H
#define KR_NODE_OUTLIMIT_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

struct client;

enum outlimit_class { OUTLIMIT_NORMAL = 0, OUTLIMIT_REPLICA, OUTLIMIT_PUBSUB, OUTLIMIT_CLASSES };

/* Bytes the client has pending: its unsent replies and those a write owns. */
size_t outlimit_pending_bytes(const struct client *c);

/* Redis 7.0 checkClientOutputBufferLimits: true when 'used' bytes reach the
 * class's hard limit, or have stayed at or above its soft limit for longer
 * than the soft seconds. '*soft_since_s' (0 = below the soft limit) is the
 * client's own record of when it went over, updated here; 'now_ms' is the
 * current time. A limit of 0 is no limit. */
bool outlimit_reached(enum outlimit_class cls, size_t used, int64_t now_ms, int64_t *soft_since_s);

/* The config directive's callbacks (config_directive 'set' and 'get'):
 * "<class> <hard> <soft> <soft-seconds> ..." with memory units, any classes. */
int outlimit_config_set(int argc, char **argv, char *err, size_t errlen);
size_t outlimit_config_get(char *buf, size_t len);

#endif
