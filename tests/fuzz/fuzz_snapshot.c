/* libFuzzer target for the snapshot decoders (storage/snapshot.h): RESTORE
 * payloads and dataset files.
 *
 * The first input byte picks what the rest is fed to, the second the
 * encoding thresholds (small ones force every conversion):
 *   mode 0  snapshot_restore on the bytes as given (the CRC almost always
 *           rejects them: this checks the trailer handling);
 *   mode 1  the bytes are a payload body; the version and a correct CRC are
 *           appended, so mutations reach the value decoder;
 *   mode 2  snapshot_load on the bytes as given;
 *   mode 3  the bytes are a dataset body; header and a correct CRC are
 *           added, and the loader runs in small steps.
 * Checked on every input: the return code is a documented one; an error
 * carries a message naming an offset inside the input; a success gives
 * values that DUMP and RESTORE again; and once everything decoded is freed,
 * storage/mem's count of bytes in use is back where it started (nothing
 * leaked or double-counted on any error path). */
#include "storage/crc64.h"
#include "storage/keyspace.h"
#include "storage/types.h"
#include "storage/mem.h"
#include "storage/set.h"
#include "storage/snapshot.h"
#include "storage/stream.h"
#include "storage/zset.h"

#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

#define CHECK(cond)                                                                                \
    do {                                                                                           \
        if (!(cond)) {                                                                             \
            fprintf(stderr, "fuzz_snapshot: check failed at line %d: %s\n", __LINE__, #cond);      \
            abort();                                                                               \
        }                                                                                          \
    } while (0)

#define NDBS 4

static void register_types(void) {
    static int done;
    if (done)
        return;
    storage_register_types();
    done = 1;
}

static struct snapshot_params params_from(uint8_t b) {
    struct snapshot_params p = snapshot_default_params;
    if (b & 1) {
        p.list_fill = 1 + (b >> 4);
        p.set_max_intset = 1;
        p.hash_max_entries = 1;
        p.hash_max_value = 2;
        p.zset_max_entries = 1;
        p.zset_max_value = 2;
        p.stream_node_max_bytes = 0;
        p.stream_node_max_entries = 2;
    }
    return p;
}

static void check_error(int rc, const struct snapshot_error *err, size_t len) {
    CHECK(rc == SNAPSHOT_ECORRUPT || rc == SNAPSHOT_ECHECKSUM || rc == SNAPSHOT_ENOMEM);
    CHECK(err->msg[0] != '\0');
    CHECK(err->offset <= len);
}

/* A decoded value must survive another DUMP/RESTORE unchanged in size. */
static void check_value(const struct kv *kv, const struct snapshot_params *p) {
    unsigned char *again;
    size_t len;
    CHECK(snapshot_dump(kv, &again, &len) == SNAPSHOT_OK);
    struct kv *copy = NULL;
    struct snapshot_error err;
    int rc = snapshot_restore(again, len, kv_key(kv), kv->keylen, kv_expire(kv), p, &copy, &err);
    CHECK(rc == SNAPSHOT_OK);
    CHECK(copy->type == kv->type);
    kv_free(copy);
    mem_free(again);
}

static void fuzz_restore(const uint8_t *data, size_t size, bool fix_trailer,
                         const struct snapshot_params *p) {
    unsigned char *buf = malloc(size + 10);
    CHECK(buf != NULL);
    if (size > 0)
        memcpy(buf, data, size);
    size_t len = size;
    if (fix_trailer) {
        buf[len++] = (unsigned char)(SNAPSHOT_DUMP_VERSION & 0xff);
        buf[len++] = (unsigned char)(SNAPSHOT_DUMP_VERSION >> 8);
        uint64_t crc = crc64(0, buf, len);
        for (int i = 0; i < 8; i++)
            buf[len++] = (unsigned char)(crc >> (8 * i));
    }
    struct kv *kv = NULL;
    struct snapshot_error err;
    memset(&err, 0, sizeof(err));
    int rc = snapshot_restore(buf, len, "key", 3, -1, p, &kv, &err);
    if (rc == SNAPSHOT_OK) {
        check_value(kv, p);
        kv_free(kv);
    } else {
        check_error(rc, &err, len);
    }
    free(buf);
}

static void fuzz_dataset(const uint8_t *data, size_t size, bool fix_frame,
                         const struct snapshot_params *p) {
    unsigned char *buf = malloc(size + SNAPSHOT_HEADER_BYTES + SNAPSHOT_FOOTER_BYTES);
    CHECK(buf != NULL);
    size_t len = 0;
    if (fix_frame) {
        memcpy(buf, SNAPSHOT_MAGIC, 6);
        buf[6] = SNAPSHOT_FORMAT_VERSION;
        buf[7] = 0;
        len = SNAPSHOT_HEADER_BYTES;
    }
    if (size > 0)
        memcpy(buf + len, data, size);
    len += size;
    if (fix_frame) {
        uint64_t crc = crc64(0, buf, len);
        for (int i = 0; i < 8; i++)
            buf[len++] = (unsigned char)(crc >> (8 * i));
    }
    struct snapshot_loader *l = snapshot_loader_new(buf, len, NDBS, p);
    CHECK(l != NULL);
    struct snapshot_error err;
    memset(&err, 0, sizeof(err));
    int rc;
    size_t budget = fix_frame ? 1 + size % 97 : SIZE_MAX;
    while ((rc = snapshot_loader_step(l, budget, &err)) == SNAPSHOT_AGAIN)
        ;
    if (rc == SNAPSHOT_OK) {
        struct keyspace *dbs[NDBS];
        snapshot_loader_take(l, dbs);
        for (int i = 0; i < NDBS; i++) {
            if (dbs[i] == NULL)
                continue;
            struct keyspace_iter it;
            keyspace_iter_init(&it, dbs[i]);
            for (struct kv *kv; (kv = keyspace_iter_next(&it)) != NULL;)
                check_value(kv, p);
            keyspace_iter_close(&it);
            keyspace_free(dbs[i]);
        }
    } else {
        check_error(rc, &err, len);
        /* A failed loader keeps failing the same way. */
        struct snapshot_error again;
        CHECK(snapshot_loader_step(l, budget, &again) == rc);
    }
    snapshot_loader_free(l);
    free(buf);
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size) {
    register_types();
    if (size < 2)
        return 0;
    size_t before = mem_used();
    struct snapshot_params p = params_from(data[1]);
    switch (data[0] & 3) {
    case 0:
        fuzz_restore(data + 2, size - 2, false, &p);
        break;
    case 1:
        fuzz_restore(data + 2, size - 2, true, &p);
        break;
    case 2:
        fuzz_dataset(data + 2, size - 2, false, &p);
        break;
    default:
        fuzz_dataset(data + 2, size - 2, true, &p);
        break;
    }
    CHECK(mem_used() == before);
    return 0;
}
