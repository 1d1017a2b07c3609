/* Client output buffer limits (see outlimit.h): the per-class values of
 * client-output-buffer-limit, their parsing and formatting like Redis 7.0,
 * and the hard/soft check. Closing a client is the caller's job. */
#include "node/outlimit.h"

#include "node/client.h"
#include "node/config.h"

#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <strings.h>

struct limit {
    long long hard_bytes, soft_bytes, soft_seconds;
};

/* Redis 7.0 defaults: normal 0 0 0, replica 256mb 64mb 60, pubsub 32mb 8mb 60. */
static struct limit limits[OUTLIMIT_CLASSES] = {
    {0, 0, 0},
    {256LL * 1024 * 1024, 64LL * 1024 * 1024, 60},
    {32LL * 1024 * 1024, 8LL * 1024 * 1024, 60},
};

static const char *const class_names[OUTLIMIT_CLASSES] = {"normal", "slave", "pubsub"};

size_t outlimit_pending_bytes(const struct client *c) {
    return c->out.len + c->inflight.len;
}

bool outlimit_reached(enum outlimit_class cls, size_t used, int64_t now_ms, int64_t *soft_since_s) {
    const struct limit *l = &limits[cls];
    bool hard = l->hard_bytes > 0 && (long long)used >= l->hard_bytes;
    bool soft = l->soft_bytes > 0 && (long long)used >= l->soft_bytes;
    int64_t now_s = now_ms / 1000;
    if (soft) {
        if (*soft_since_s == 0) {
            *soft_since_s = now_s;
            soft = false; /* first time over: the clock starts now */
        } else if (now_s - *soft_since_s <= l->soft_seconds) {
            soft = false;
        }
    } else {
        *soft_since_s = 0;
    }
    return hard || soft;
}

/* Redis's getClientTypeByName, minus "master", which cannot be limited. */
static int class_by_name(const char *name) {
    if (strcasecmp(name, "normal") == 0)
        return OUTLIMIT_NORMAL;
    if (strcasecmp(name, "slave") == 0 || strcasecmp(name, "replica") == 0)
        return OUTLIMIT_REPLICA;
    if (strcasecmp(name, "pubsub") == 0)
        return OUTLIMIT_PUBSUB;
    return -1;
}

/* Redis 7.0 setConfigClientOutputBufferLimitOption: every group is checked
 * before any is applied, so a bad group changes nothing. */
int outlimit_config_set(int argc, char **argv, char *err, size_t errlen) {
    if (argc % 4 != 0 || argc == 0) {
        snprintf(err, errlen, "Wrong number of arguments in buffer limit configuration.");
        return -1;
    }
    struct limit parsed[OUTLIMIT_CLASSES] = {0};
    int classes[64];
    int groups = argc / 4;
    if (groups > (int)(sizeof(classes) / sizeof(classes[0]))) {
        snprintf(err, errlen, "Wrong number of arguments in buffer limit configuration.");
        return -1;
    }
    for (int g = 0; g < groups; g++) {
        char **a = argv + g * 4;
        int cls = class_by_name(a[0]);
        if (cls < 0) {
            snprintf(err, errlen, "Invalid client class specified in buffer limit configuration.");
            return -1;
        }
        long long hard, soft;
        char *end;
        errno = 0;
        long long seconds = strtoll(a[3], &end, 10);
        if (!config_parse_memory(a[1], &hard) || !config_parse_memory(a[2], &soft) || errno != 0 ||
            *end != '\0' || end == a[3] || seconds < 0) {
            snprintf(err, errlen,
                     "Error in hard, soft or soft_seconds setting in buffer limit configuration.");
            return -1;
        }
        classes[g] = cls;
        parsed[cls] = (struct limit){hard, soft, seconds};
    }
    for (int g = 0; g < groups; g++)
        limits[classes[g]] = parsed[classes[g]];
    return 0;
}

size_t outlimit_config_get(char *buf, size_t len) {
    size_t used = 0;
    buf[0] = '\0';
    for (int cls = 0; cls < OUTLIMIT_CLASSES; cls++) {
        int n = snprintf(buf + used, len - used, "%s%s %lld %lld %lld", cls ? " " : "",
                         class_names[cls], limits[cls].hard_bytes, limits[cls].soft_bytes,
                         limits[cls].soft_seconds);
        if (n < 0 || (size_t)n >= len - used)
            return len - 1;
        used += (size_t)n;
    }
    return used;
}
