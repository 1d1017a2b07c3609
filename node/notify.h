/* Keyspace notifications (notify-keyspace-events), after Redis 7.0's
 * notify.c: a write that changes a key publishes "<event>" on
 * __keyspace@<db>__:<key> and "<key>" on __keyevent@<db>__:<event>, for the
 * event classes the directive enables.
 *
 * Commands call notify_keyspace_event where Redis calls notifyKeyspaceEvent,
 * with the same event names. A notification is a side effect of applying a
 * write, so every member publishes the same events in the same order to its
 * own subscribers. */
#ifndef KR_NODE_NOTIFY_H
#define KR_NODE_NOTIFY_H

#include <stddef.h>

struct exec_ctx;

/* Redis 7.0's NOTIFY_* classes (the directive's letters in comments). */
enum notify_class {
    NOTIFY_KEYSPACE = 1 << 0,  /* K */
    NOTIFY_KEYEVENT = 1 << 1,  /* E */
    NOTIFY_GENERIC = 1 << 2,   /* g */
    NOTIFY_STRING = 1 << 3,    /* $ */
    NOTIFY_LIST = 1 << 4,      /* l */
    NOTIFY_SET = 1 << 5,       /* s */
    NOTIFY_HASH = 1 << 6,      /* h */
    NOTIFY_ZSET = 1 << 7,      /* z */
    NOTIFY_EXPIRED = 1 << 8,   /* x */
    NOTIFY_EVICTED = 1 << 9,   /* e */
    NOTIFY_STREAM = 1 << 10,   /* t */
    NOTIFY_KEY_MISS = 1 << 11, /* m */
    NOTIFY_LOADED = 1 << 12,   /* module only */
    NOTIFY_MODULE = 1 << 13,   /* d */
    NOTIFY_NEW = 1 << 14,      /* n */
};
/* A: every class but m and n. */
#define NOTIFY_ALL                                                                                 \
    (NOTIFY_GENERIC | NOTIFY_STRING | NOTIFY_LIST | NOTIFY_SET | NOTIFY_HASH | NOTIFY_ZSET |       \
     NOTIFY_EXPIRED | NOTIFY_EVICTED | NOTIFY_STREAM | NOTIFY_MODULE)

/* Publishes event 'event' of class 'type' for 'key' in database ctx->dbid,
 * if the configuration enables that class. 'event' is a C string; 'key' is
 * borrowed for the call. */
void notify_keyspace_event(struct exec_ctx *ctx, int type, const char *event, const char *key,
                           size_t keylen);
/* The same for database 'dbid' (MOVE and COPY ... DB report the other side). */
void notify_keyspace_event_db(int dbid, int type, const char *event, const char *key,
                              size_t keylen);

/* The config directive's callbacks (config_directive 'set' and 'get'). */
int notify_config_set(int argc, char **argv, char *err, size_t errlen);
size_t notify_config_get(char *buf, size_t len);

#endif
