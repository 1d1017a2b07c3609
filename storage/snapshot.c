/* Snapshot encoding (see snapshot.h): value payloads, DUMP payloads and the
 * streaming dataset writer. Packing is msgpack-c's; this file decides what
 * is written and in which order, buffers it in fixed chunks and keeps the
 * running CRC. Decoding lives in snapshot_decode.c. */
#include "storage/snapshot.h"

#include "storage/crc64.h"
#include "storage/keyspace.h"
#include "storage/mem.h"
#include "storage/quicklist.h"
#include "storage/set.h"
#include "storage/snapshot_format.h"
#include "storage/stream.h"
#include "storage/thash.h"
#include "storage/zset.h"

#include <msgpack.h>
#include <string.h>

const struct snapshot_params snapshot_default_params = {
    .list_fill = -2,
    .set_max_intset = 512,
    .hash_max_entries = 512,
    .hash_max_value = 64,
    .zset_max_entries = 128,
    .zset_max_value = 64,
    .stream_node_max_bytes = 4096,
    .stream_node_max_entries = 100,
};

const char *snapshot_strerror(int code) {
    switch (code) {
#define X(name, value, text)                                                                       \
    case value:                                                                                    \
        return text;
        SNAPSHOT_ERRORS(X)
#undef X
    default:
        return "unknown snapshot error";
    }
}

/* ---- Value payloads ---- */

static int pack_bytes(msgpack_packer *pk, const char *p, size_t len) {
    return msgpack_pack_bin(pk, len) | msgpack_pack_bin_body(pk, p, len);
}

static int pack_id(msgpack_packer *pk, const struct stream_id *id) {
    return msgpack_pack_uint64(pk, id->ms) | msgpack_pack_uint64(pk, id->seq);
}

static int pack_list(msgpack_packer *pk, const struct kv *kv) {
    struct quicklist *ql = kv->v.ptr;
    int rc = msgpack_pack_uint64(pk, quicklist_count(ql));
    struct quicklist_iter it;
    quicklist_iter_init(&it, ql, 0, true);
    for (; rc == 0 && !quicklist_iter_done(&it); quicklist_iter_next(&it)) {
        char buf[LP_INTBUF];
        size_t len;
        const char *p = quicklist_iter_get(&it, buf, &len);
        rc = pack_bytes(pk, p, len);
    }
    return rc;
}

static int pack_set(msgpack_packer *pk, const struct kv *kv) {
    size_t n = set_size(kv);
    int rc = msgpack_pack_uint64(pk, n);
    for (size_t i = 0; rc == 0 && i < n; i++) {
        char buf[SET_INT_BUF];
        size_t len;
        const char *p = set_at(kv, i, buf, &len);
        rc = pack_bytes(pk, p, len);
    }
    return rc;
}

static int pack_hash(msgpack_packer *pk, const struct kv *kv) {
    int rc = msgpack_pack_uint64(pk, thash_len(kv));
    struct thash_iter it;
    struct thash_str field, val;
    /* Iteration only reads; the iterator's type is not const-qualified. */
    thash_iter_init(&it, (struct kv *)kv);
    while (rc == 0 && thash_iter_next(&it, &field, &val))
        rc = pack_bytes(pk, field.p, field.len) | pack_bytes(pk, val.p, val.len);
    thash_iter_close(&it);
    return rc;
}

static int pack_zset(msgpack_packer *pk, const struct kv *kv) {
    int rc = msgpack_pack_uint64(pk, zset_len(kv));
    struct zset_iter it;
    zset_iter_at_rank(&it, (struct kv *)kv, 0, false);
    for (; rc == 0 && zset_iter_valid(&it); zset_iter_next(&it)) {
        struct zset_member m;
        zset_iter_get(&it, &m);
        rc = pack_bytes(pk, m.p, m.len) | msgpack_pack_double(pk, m.score);
    }
    return rc;
}

static int pack_stream_entries(msgpack_packer *pk, const struct stream *s) {
    struct stream_id min = {0, 0}, max = {UINT64_MAX, UINT64_MAX}, id;
    struct stream_iter it;
    size_t nfv;
    int rc = 0;
    stream_iter_init(&it, s, &min, &max, false);
    while (rc == 0 && stream_iter_next(&it, &id, &nfv)) {
        rc = pack_id(pk, &id) | msgpack_pack_uint64(pk, nfv / 2);
        for (size_t i = 0; rc == 0 && i < nfv; i++) {
            char buf[LP_INTBUF];
            size_t len;
            const char *p = stream_iter_string(&it, buf, &len);
            rc = pack_bytes(pk, p, len);
        }
    }
    return rc;
}

static int pack_consumer(msgpack_packer *pk, const struct stream_consumer *c) {
    int rc = pack_bytes(pk, c->name, c->namelen) | msgpack_pack_int64(pk, c->seen_time_ms) |
             msgpack_pack_uint64(pk, idmap_len(c->pel));
    for (struct idmap_node *n = idmap_seek(c->pel, NULL); rc == 0 && n; n = idmap_next(n)) {
        const struct stream_nack *nack = idmap_node_value(n);
        rc = pack_id(pk, idmap_node_id(n)) | msgpack_pack_int64(pk, nack->delivery_time_ms) |
             msgpack_pack_uint64(pk, nack->delivery_count);
    }
    return rc;
}

static int pack_stream(msgpack_packer *pk, const struct kv *kv) {
    const struct stream *s = kv->v.ptr;
    int rc = msgpack_pack_uint64(pk, s->length) | pack_id(pk, &s->last_id) |
             pack_id(pk, &s->max_deleted_id) | msgpack_pack_uint64(pk, s->entries_added);
    rc = rc ? rc : pack_stream_entries(pk, s);
    rc = rc ? rc : msgpack_pack_uint64(pk, s->ngroups);
    for (size_t i = 0; rc == 0 && i < s->ngroups; i++) {
        const struct stream_group *g = s->groups[i];
        rc = pack_bytes(pk, g->name, g->namelen) | pack_id(pk, &g->last_id) |
             msgpack_pack_int64(pk, g->entries_read) | msgpack_pack_uint64(pk, g->nconsumers);
        for (size_t j = 0; rc == 0 && j < g->nconsumers; j++)
            rc = pack_consumer(pk, g->consumers[j]);
    }
    return rc;
}

/* Packs the value payload of 'kv'; returns 0 or the packer's error (its
 * callback failed). */
static int pack_value(msgpack_packer *pk, const struct kv *kv) {
    int rc = msgpack_pack_unsigned_int(pk, kv->type);
    if (rc != 0)
        return rc;
    switch (kv->type) {
    case OBJ_STRING: {
        char buf[32];
        size_t len;
        const char *p = kv_string(kv, buf, &len);
        return pack_bytes(pk, p, len);
    }
    case OBJ_LIST:
        return pack_list(pk, kv);
    case OBJ_SET:
        return pack_set(pk, kv);
    case OBJ_HASH:
        return pack_hash(pk, kv);
    case OBJ_ZSET:
        return pack_zset(pk, kv);
    case OBJ_STREAM:
        return pack_stream(pk, kv);
    default:
        /* A record of a type this format does not know: only a bug makes one. */
        return -1;
    }
}

/* ---- DUMP ---- */

struct growbuf {
    unsigned char *p;
    size_t len, cap;
};

static int growbuf_write(void *data, const char *buf, size_t len) {
    struct growbuf *g = data;
    if (len > g->cap - g->len) {
        size_t cap = g->cap ? g->cap : 64;
        while (cap - g->len < len) {
            if (cap > SIZE_MAX / 2)
                return -1;
            cap *= 2;
        }
        unsigned char *p = mem_realloc(g->p, cap);
        if (p == NULL)
            return -1;
        g->p = p;
        g->cap = cap;
    }
    memcpy(g->p + g->len, buf, len);
    g->len += len;
    return 0;
}

int snapshot_dump(const struct kv *kv, unsigned char **out, size_t *outlen) {
    struct growbuf g = {0};
    msgpack_packer pk;
    msgpack_packer_init(&pk, &g, growbuf_write);
    unsigned char trailer[2 + 8];
    le_put(trailer, SNAPSHOT_DUMP_VERSION, 2);
    if (pack_value(&pk, kv) != 0 || growbuf_write(&g, (const char *)trailer, 2) != 0)
        goto err_after_buffer;
    le_put(trailer + 2, crc64(0, g.p, g.len), 8);
    if (growbuf_write(&g, (const char *)trailer + 2, 8) != 0)
        goto err_after_buffer;
    *out = g.p;
    *outlen = g.len;
    return SNAPSHOT_OK;

err_after_buffer:
    mem_free(g.p);
    return SNAPSHOT_ENOMEM;
}

/* ---- Dataset writer ---- */

struct snapshot_writer {
    snapshot_write_fn fn;
    void *arg;
    msgpack_packer pk;
    int status;     /* first error; every later call returns it */
    uint64_t crc;   /* over everything handed to 'fn' */
    uint64_t bytes; /* handed to 'fn' */
    uint64_t keys;  /* written so far */
    size_t used;
    unsigned char chunk[SNAPSHOT_CHUNK_BYTES];
};

static int emit(struct snapshot_writer *w, const unsigned char *p, size_t len) {
    if (len == 0)
        return 0;
    w->crc = crc64(w->crc, p, len);
    w->bytes += len;
    if (w->fn(w->arg, p, len) != 0) {
        w->status = SNAPSHOT_EIO;
        return -1;
    }
    return 0;
}

static int flush_chunk(struct snapshot_writer *w) {
    int rc = emit(w, w->chunk, w->used);
    w->used = 0;
    return rc;
}

/* msgpack-c's write callback: fills the chunk; a piece bigger than a chunk
 * (a long string) goes straight through in chunk-sized parts. */
static int chunk_write(void *data, const char *buf, size_t len) {
    struct snapshot_writer *w = data;
    const unsigned char *p = (const unsigned char *)buf;
    if (w->status != 0)
        return -1;
    if (len <= sizeof(w->chunk) - w->used) {
        memcpy(w->chunk + w->used, p, len);
        w->used += len;
        return 0;
    }
    if (flush_chunk(w) != 0)
        return -1;
    while (len > sizeof(w->chunk)) {
        if (emit(w, p, sizeof(w->chunk)) != 0)
            return -1;
        p += sizeof(w->chunk);
        len -= sizeof(w->chunk);
    }
    memcpy(w->chunk, p, len);
    w->used = len;
    return 0;
}

static int writer_status(struct snapshot_writer *w, int rc) {
    if (w->status == 0 && rc != 0)
        w->status = SNAPSHOT_EIO;
    return w->status;
}

struct snapshot_writer *snapshot_writer_new(snapshot_write_fn fn, void *arg, int64_t ctime_ms) {
    struct snapshot_writer *w = mem_alloc(sizeof(*w));
    if (w == NULL)
        return NULL;
    memset(w, 0, offsetof(struct snapshot_writer, chunk));
    w->fn = fn;
    w->arg = arg;
    msgpack_packer_init(&w->pk, w, chunk_write);
    unsigned char header[SNAPSHOT_HEADER_BYTES];
    memcpy(header, SNAPSHOT_MAGIC, 6);
    le_put(header + 6, SNAPSHOT_FORMAT_VERSION, 2);
    memcpy(w->chunk, header, sizeof(header));
    w->used = sizeof(header);
    msgpack_pack_int64(&w->pk, ctime_ms);
    return w;
}

int snapshot_writer_aux(struct snapshot_writer *w, const char *name, size_t namelen,
                        const void *value, size_t valuelen) {
    if (w->status != 0)
        return w->status;
    int rc = msgpack_pack_unsigned_int(&w->pk, SNAPSHOT_OP_AUX) |
             pack_bytes(&w->pk, name, namelen) | pack_bytes(&w->pk, value, valuelen);
    return writer_status(w, rc);
}

int snapshot_writer_db(struct snapshot_writer *w, int dbid, size_t nkeys) {
    if (w->status != 0)
        return w->status;
    int rc = msgpack_pack_unsigned_int(&w->pk, SNAPSHOT_OP_DB) |
             msgpack_pack_unsigned_int(&w->pk, (unsigned)dbid) | msgpack_pack_uint64(&w->pk, nkeys);
    return writer_status(w, rc);
}

int snapshot_writer_key(struct snapshot_writer *w, const struct kv *kv) {
    if (w->status != 0)
        return w->status;
    int rc = pack_bytes(&w->pk, kv_key(kv), kv->keylen) | msgpack_pack_int64(&w->pk, kv_expire(kv));
    rc = rc ? rc : pack_value(&w->pk, kv);
    w->keys++;
    return writer_status(w, rc);
}

int snapshot_writer_finish(struct snapshot_writer *w) {
    if (w->status != 0)
        return w->status;
    int rc =
        msgpack_pack_unsigned_int(&w->pk, SNAPSHOT_OP_END) | msgpack_pack_uint64(&w->pk, w->keys);
    if (writer_status(w, rc) != 0 || flush_chunk(w) != 0)
        return w->status;
    unsigned char footer[SNAPSHOT_FOOTER_BYTES];
    le_put(footer, w->crc, sizeof(footer));
    if (w->fn(w->arg, footer, sizeof(footer)) != 0)
        w->status = SNAPSHOT_EIO;
    else
        w->bytes += sizeof(footer);
    return w->status;
}

uint64_t snapshot_writer_bytes(const struct snapshot_writer *w) {
    return w->bytes;
}

void snapshot_writer_free(struct snapshot_writer *w) {
    mem_free(w);
}

int snapshot_write_dataset(struct keyspace *const *dbs, int ndbs, int64_t ctime_ms,
                           snapshot_write_fn fn, void *arg) {
    struct snapshot_writer *w = snapshot_writer_new(fn, arg, ctime_ms);
    if (w == NULL)
        return SNAPSHOT_ENOMEM;
    int rc = 0;
    for (int id = 0; rc == 0 && id < ndbs; id++) {
        if (dbs[id] == NULL || keyspace_size(dbs[id]) == 0)
            continue;
        rc = snapshot_writer_db(w, id, keyspace_size(dbs[id]));
        struct keyspace_iter it;
        keyspace_iter_init(&it, dbs[id]);
        for (struct kv *kv; rc == 0 && (kv = keyspace_iter_next(&it)) != NULL;)
            rc = snapshot_writer_key(w, kv);
        keyspace_iter_close(&it);
    }
    rc = rc ? rc : snapshot_writer_finish(w);
    snapshot_writer_free(w);
    return rc;
}
