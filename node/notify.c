/* Keyspace notifications (see notify.h): the notify-keyspace-events flags,
 * their parsing and CONFIG GET form (Redis 7.0 keyspaceEventsStringToFlags
 * and keyspaceEventsFlagsToString), and publishing the two messages of an
 * event through pubsub_publish. */
#include "node/notify.h"

#include "node/exec.h"
#include "node/pubsub.h"
#include "storage/mem.h"

#include <stdio.h>
#include <string.h>

static int enabled_flags;

/* ---- Configuration ---- */

static int flags_from_string(const char *s) {
    int flags = 0;
    for (; *s != '\0'; s++) {
        switch (*s) {
        case 'A':
            flags |= NOTIFY_ALL;
            break;
        case 'g':
            flags |= NOTIFY_GENERIC;
            break;
        case '$':
            flags |= NOTIFY_STRING;
            break;
        case 'l':
            flags |= NOTIFY_LIST;
            break;
        case 's':
            flags |= NOTIFY_SET;
            break;
        case 'h':
            flags |= NOTIFY_HASH;
            break;
        case 'z':
            flags |= NOTIFY_ZSET;
            break;
        case 'x':
            flags |= NOTIFY_EXPIRED;
            break;
        case 'e':
            flags |= NOTIFY_EVICTED;
            break;
        case 'K':
            flags |= NOTIFY_KEYSPACE;
            break;
        case 'E':
            flags |= NOTIFY_KEYEVENT;
            break;
        case 't':
            flags |= NOTIFY_STREAM;
            break;
        case 'm':
            flags |= NOTIFY_KEY_MISS;
            break;
        case 'd':
            flags |= NOTIFY_MODULE;
            break;
        case 'n':
            flags |= NOTIFY_NEW;
            break;
        default:
            return -1;
        }
    }
    return flags;
}

/* The directive is one string: a value the config layer split at spaces
 * had a space in it, which Redis rejects as a bad class character. */
int notify_config_set(int argc, char **argv, char *err, size_t errlen) {
    int flags = argc == 0 ? 0 : argc == 1 ? flags_from_string(argv[0]) : -1;
    if (flags < 0) {
        snprintf(err, errlen, "Invalid event class character. Use 'Ag$lshzxeKEtmdn'.");
        return -1;
    }
    enabled_flags = flags;
    return 0;
}

size_t notify_config_get(char *buf, size_t len) {
    static const struct {
        int flag;
        char letter;
    } classes[] = {
        {NOTIFY_GENERIC, 'g'}, {NOTIFY_STRING, '$'}, {NOTIFY_LIST, 'l'},    {NOTIFY_SET, 's'},
        {NOTIFY_HASH, 'h'},    {NOTIFY_ZSET, 'z'},   {NOTIFY_EXPIRED, 'x'}, {NOTIFY_EVICTED, 'e'},
        {NOTIFY_STREAM, 't'},  {NOTIFY_MODULE, 'd'}, {NOTIFY_NEW, 'n'},
    };
    char s[32];
    size_t n = 0;
    if ((enabled_flags & NOTIFY_ALL) == NOTIFY_ALL) {
        s[n++] = 'A';
    } else {
        for (size_t i = 0; i < sizeof(classes) / sizeof(classes[0]); i++)
            if (enabled_flags & classes[i].flag)
                s[n++] = classes[i].letter;
    }
    if (enabled_flags & NOTIFY_KEYSPACE)
        s[n++] = 'K';
    if (enabled_flags & NOTIFY_KEYEVENT)
        s[n++] = 'E';
    if (enabled_flags & NOTIFY_KEY_MISS)
        s[n++] = 'm';
    s[n] = '\0';
    return (size_t)snprintf(buf, len, "%s", s) < len ? n : len - 1;
}

/* ---- Publishing ---- */

/* Publishes 'msg' on "<prefix><dbid>__:<suffix>". */
static void publish_on(const char *prefix, int dbid, const char *suffix, size_t suffix_len,
                       const char *msg, size_t msglen) {
    char head[48];
    int hlen = snprintf(head, sizeof(head), "%s%d__:", prefix, dbid);
    size_t chlen = (size_t)hlen + suffix_len;
    char small[256];
    char *channel = chlen <= sizeof(small) ? small : mem_alloc(chlen);
    if (channel == NULL)
        return;
    memcpy(channel, head, (size_t)hlen);
    memcpy(channel + hlen, suffix, suffix_len);
    pubsub_publish(channel, chlen, msg, msglen);
    if (channel != small)
        mem_free(channel);
}

void notify_keyspace_event_db(int dbid, int type, const char *event, const char *key,
                              size_t keylen) {
    if (!(enabled_flags & type))
        return;
    size_t event_len = strlen(event);
    if (enabled_flags & NOTIFY_KEYSPACE)
        publish_on("__keyspace@", dbid, key, keylen, event, event_len);
    if (enabled_flags & NOTIFY_KEYEVENT)
        publish_on("__keyevent@", dbid, event, event_len, key, keylen);
}

void notify_keyspace_event(struct exec_ctx *ctx, int type, const char *event, const char *key,
                           size_t keylen) {
    notify_keyspace_event_db(ctx->dbid, type, event, key, keylen);
}
