/* Shared stream command helpers (see stream_args.h). */
#include "node/stream_args.h"

#include "node/config.h"
#include "node/db.h"
#include "storage/mem.h"
#include "storage/object.h"

#include <string.h>

static struct stream *checked(struct exec_ctx *ctx, struct kv *kv, bool *wrongtype) {
    *wrongtype = false;
    if (kv == NULL)
        return NULL;
    if (kv->type != OBJ_STREAM) {
        *wrongtype = true;
        exec_reply_wrongtype(ctx);
        return NULL;
    }
    return kv->v.ptr;
}

struct stream *stream_lookup_read(struct exec_ctx *ctx, int i, bool *wrongtype) {
    return checked(ctx, db_lookup_read(ctx, ctx->argv[i], ctx->argvlen[i]), wrongtype);
}

struct stream *stream_lookup_write(struct exec_ctx *ctx, int i, bool *wrongtype) {
    return checked(ctx, db_lookup_write(ctx, ctx->argv[i], ctx->argvlen[i]), wrongtype);
}

struct stream *stream_create_key(struct exec_ctx *ctx, int i) {
    struct stream *s = stream_new();
    struct kv *kv =
        s ? kv_new_ptr(ctx->argv[i], ctx->argvlen[i], OBJ_STREAM, OBJ_ENC_STREAM, s, -1) : NULL;
    if (kv == NULL) {
        stream_free(s);
        exec_reply_oom(ctx);
        return NULL;
    }
    return db_set(ctx, kv) ? s : NULL;
}

void stream_touch(struct exec_ctx *ctx, int i) {
    db_touch_modified(ctx, ctx->argv[i], ctx->argvlen[i]);
}

bool stream_parse_id(struct exec_ctx *ctx, int i, bool allow_special, uint64_t missing_seq,
                     struct stream_id *id) {
    const char *s = ctx->argv[i];
    size_t len = ctx->argvlen[i];
    if (len == 1 && (s[0] == '-' || s[0] == '+')) {
        if (allow_special) {
            id->ms = id->seq = s[0] == '-' ? 0 : UINT64_MAX;
            return true;
        }
    } else if (stream_id_parse(s, len, missing_seq, id, NULL)) {
        return true;
    }
    resp_add_error(ctx->out, "ERR Invalid stream ID specified as stream command argument");
    return false;
}

bool stream_parse_interval(struct exec_ctx *ctx, int i, bool is_start, struct stream_id *id) {
    bool exclusive = ctx->argvlen[i] > 1 && ctx->argv[i][0] == '(';
    const char *p = ctx->argv[i] + exclusive;
    size_t len = ctx->argvlen[i] - exclusive;
    if (len == 1 && (p[0] == '-' || p[0] == '+')) {
        id->ms = id->seq = p[0] == '-' ? 0 : UINT64_MAX;
    } else if (!stream_id_parse(p, len, is_start ? 0 : UINT64_MAX, id, NULL)) {
        resp_add_error(ctx->out, "ERR Invalid stream ID specified as stream command argument");
        return false;
    }
    if (exclusive && !(is_start ? stream_id_incr(id) : stream_id_decr(id))) {
        resp_add_error(ctx->out, is_start ? "ERR invalid start ID for the interval"
                                          : "ERR invalid end ID for the interval");
        return false;
    }
    return true;
}

void stream_reply_id(struct exec_ctx *ctx, const struct stream_id *id) {
    char buf[STREAM_ID_MAX_LEN];
    resp_add_bulk(ctx->out, buf, stream_id_format(id, buf));
}

void stream_reply_entry(struct exec_ctx *ctx, struct stream_iter *it, const struct stream_id *id,
                        size_t nfv) {
    resp_add_array(ctx->out, 2);
    stream_reply_id(ctx, id);
    resp_add_array(ctx->out, (long long)nfv);
    for (size_t i = 0; i < nfv; i++) {
        char buf[24];
        size_t len;
        const char *p = stream_iter_string(it, buf, &len);
        resp_add_bulk(ctx->out, p, len);
    }
}

size_t stream_reply_range(struct exec_ctx *ctx, const struct stream *s,
                          const struct stream_id *start, const struct stream_id *end, size_t count,
                          bool rev) {
    struct stream_iter it;
    stream_iter_init(&it, s, start, end, rev);
    size_t token = resp_begin_deferred(ctx->out);
    size_t n = 0;
    struct stream_id id;
    size_t nfv;
    while ((count == 0 || n < count) && stream_iter_next(&it, &id, &nfv)) {
        stream_reply_entry(ctx, &it, &id, nfv);
        n++;
    }
    resp_end_deferred(ctx->out, token, '*', (long long)n);
    return n;
}

size_t stream_node_max_bytes(void) {
    return (size_t)cfg.stream_node_max_bytes;
}

size_t stream_node_max_entries(void) {
    return (size_t)cfg.stream_node_max_entries;
}
