/* Versions keyraft reports. KEYRAFT_REDIS_VERSION is what INFO's
 * redis_version and HELLO's "version" say: the Redis release whose
 * behaviour keyraft reproduces, which clients use for feature checks. */
#ifndef KR_NODE_VERSION_H
#define KR_NODE_VERSION_H

#define KEYRAFT_VERSION       "0.1.0"
#define KEYRAFT_REDIS_VERSION "7.0.15"

#endif
