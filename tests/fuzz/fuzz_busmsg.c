/* libFuzzer target for the cluster bus message decoder (cluster/busmsg.c):
 * any input is either rejected with a reason or decodes to a message whose
 * strings are terminated and within their limits and whose PUBLISH payload
 * lies inside the input; a decoded message re-encodes to a frame that
 * decodes to the same message. */
#include "cluster/busmsg.h"

#include <stdint.h>
#include <stdlib.h>
#include <string.h>

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

static bool inside(const void *p, size_t len, const uint8_t *buf, size_t size) {
    return len == 0 || ((const uint8_t *)p >= buf && (const uint8_t *)p + len <= buf + size);
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size) {
    /* An exact-size copy, so reading past the end is caught by ASan. */
    uint8_t *buf = malloc(size ? size : 1);
    memcpy(buf, data, size);
    struct busmsg m;
    const char *why = NULL;
    int rc = busmsg_decode(&m, buf, size, &why);
    if (rc != BUSMSG_OK) {
        if (rc != BUSMSG_ENOMEM && why == NULL)
            abort();
        busmsg_close(&m);
        free(buf);
        return 0;
    }
    if (strlen(m.sender) != CLUSTER_ID_LEN || m.port > 65535 || m.cport > 65535 ||
        m.gossip_count > BUSMSG_MAX_GOSSIP || (m.flags & ~(uint32_t)BUSMSG_NODE_ALL))
        abort();
    if (m.type == BUSMSG_PUBLISH || m.type == BUSMSG_PUBLISHSHARD) {
        if (!inside(m.channel, m.channel_len, buf, size) ||
            !inside(m.message, m.message_len, buf, size))
            abort();
    }
    void *frame;
    size_t len;
    if (busmsg_encode(&m, &frame, &len) == BUSMSG_OK) {
        struct busmsg again;
        size_t body;
        if (busmsg_frame_length(frame, &body) != BUSMSG_OK || body + BUSMSG_FRAME_HEAD != len ||
            busmsg_decode(&again, (uint8_t *)frame + BUSMSG_FRAME_HEAD, body, &why) != BUSMSG_OK)
            abort();
        if (again.type != m.type || strcmp(again.sender, m.sender) != 0 ||
            again.current_epoch != m.current_epoch || again.config_epoch != m.config_epoch ||
            strcmp(again.master, m.master) != 0 || strcmp(again.ip, m.ip) != 0 ||
            memcmp(again.slots, m.slots, sizeof(m.slots)) != 0 ||
            again.gossip_count != m.gossip_count ||
            (m.gossip_count > 0 &&
             memcmp(again.gossip, m.gossip, m.gossip_count * sizeof(*m.gossip)) != 0))
            abort();
        busmsg_close(&again);
        free(frame);
    }
    busmsg_close(&m);
    free(buf);
    return 0;
}
