/* Raft log entry codec (see entry.h).
 *
 * Writing uses msgpack-c's packer. Reading is a strict decoder of exactly
 * the subset the format uses, written here rather than msgpack_unpack
 * because msgpack-c allocates arrays at the size their header declares:
 * a corrupt header claiming 2^32 elements would cost gigabytes before the
 * truncation is noticed. Here every declared size is checked against the
 * bytes that remain before anything is allocated. */
#include "raft/entry.h"

#include <msgpack.h>
#include <stdbool.h>
#include <stdlib.h>
#include <string.h>

const char *entry_strerror(int code) {
    switch (code) {
#define X(name, value, text)                                                                       \
    case value:                                                                                    \
        return text;
        ENTRY_ERRORS(X)
#undef X
    default:
        return "unknown entry error";
    }
}

uint64_t entry_command_seed(uint64_t batch_seed, size_t index) {
    /* splitmix64 of (seed + index): distinct, well-mixed per command. */
    uint64_t z = batch_seed + 0x9e3779b97f4a7c15ULL * (index + 1);
    z = (z ^ (z >> 30)) * 0xbf58476d1ce4e5b9ULL;
    z = (z ^ (z >> 27)) * 0x94d049bb133111ebULL;
    return z ^ (z >> 31);
}

/* ---- Writing ---- */

struct entry_writer {
    uint64_t origin;
    uint64_t seq;
    int64_t now_ms;
    uint64_t seed;
    size_t count;
    bool failed;
    msgpack_sbuffer commands; /* the packed [db, [args]] items */
    msgpack_packer pk;
};

struct entry_writer *entry_writer_new(uint64_t origin, uint64_t seq, int64_t now_ms,
                                      uint64_t seed) {
    struct entry_writer *w = calloc(1, sizeof(*w));
    if (w == NULL)
        return NULL;
    w->origin = origin;
    w->seq = seq;
    w->now_ms = now_ms;
    w->seed = seed;
    msgpack_sbuffer_init(&w->commands);
    msgpack_packer_init(&w->pk, &w->commands, msgpack_sbuffer_write);
    return w;
}

void entry_writer_free(struct entry_writer *w) {
    if (w == NULL)
        return;
    msgpack_sbuffer_destroy(&w->commands);
    free(w);
}

size_t entry_writer_count(const struct entry_writer *w) {
    return w->count;
}

int entry_writer_add(struct entry_writer *w, int db, int argc, char *const *argv,
                     const size_t *argvlen) {
    int rc = msgpack_pack_array(&w->pk, 2);
    rc |= msgpack_pack_int(&w->pk, db);
    rc |= msgpack_pack_array(&w->pk, (size_t)argc);
    for (int i = 0; i < argc && rc == 0; i++) {
        rc |= msgpack_pack_bin(&w->pk, argvlen[i]);
        rc |= msgpack_pack_bin_body(&w->pk, argv[i], argvlen[i]);
    }
    if (rc != 0) {
        w->failed = true; /* the buffer holds a partial command: unusable */
        return ENTRY_ENOMEM;
    }
    w->count++;
    return ENTRY_OK;
}

int entry_writer_finish(struct entry_writer *w, void **buf, size_t *len) {
    int status = ENTRY_ENOMEM;
    msgpack_sbuffer out;
    msgpack_sbuffer_init(&out);
    msgpack_packer pk;
    msgpack_packer_init(&pk, &out, msgpack_sbuffer_write);
    if (w->failed)
        goto done;
    int rc = msgpack_pack_array(&pk, 6);
    rc |= msgpack_pack_int(&pk, ENTRY_VERSION);
    rc |= msgpack_pack_uint64(&pk, w->origin);
    rc |= msgpack_pack_uint64(&pk, w->seq);
    rc |= msgpack_pack_int64(&pk, w->now_ms);
    rc |= msgpack_pack_uint64(&pk, w->seed);
    rc |= msgpack_pack_array(&pk, w->count);
    if (rc != 0 || msgpack_sbuffer_write(&out, w->commands.data, w->commands.size) != 0)
        goto done;
    *len = out.size;
    *buf = msgpack_sbuffer_release(&out);
    status = ENTRY_OK;
done:
    msgpack_sbuffer_destroy(&out);
    entry_writer_free(w);
    return status;
}

/* ---- Reading ---- */

struct cursor {
    const uint8_t *p;
    const uint8_t *end;
};

static bool take(struct cursor *c, size_t n, const uint8_t **out) {
    if ((size_t)(c->end - c->p) < n)
        return false;
    *out = c->p;
    c->p += n;
    return true;
}

static bool read_be(struct cursor *c, size_t n, uint64_t *v) {
    const uint8_t *b;
    if (!take(c, n, &b))
        return false;
    *v = 0;
    for (size_t i = 0; i < n; i++)
        *v = (*v << 8) | b[i];
    return true;
}

static bool read_array(struct cursor *c, uint64_t *n) {
    const uint8_t *t;
    if (!take(c, 1, &t))
        return false;
    if ((*t & 0xf0) == 0x90) {
        *n = *t & 0x0f;
        return true;
    }
    if (*t == 0xdc)
        return read_be(c, 2, n);
    if (*t == 0xdd)
        return read_be(c, 4, n);
    return false;
}

/* Any msgpack integer that fits int64 (uint64 above INT64_MAX only when
 * 'as_unsigned'). */
static bool read_int(struct cursor *c, int64_t *out, bool as_unsigned) {
    const uint8_t *t;
    uint64_t v;
    if (!take(c, 1, &t))
        return false;
    if (*t <= 0x7f) {
        *out = *t;
        return true;
    }
    if (*t >= 0xe0) {
        *out = (int8_t)*t;
        return true;
    }
    switch (*t) {
    case 0xcc:
    case 0xcd:
    case 0xce:
    case 0xcf:
        if (!read_be(c, (size_t)1 << (*t - 0xcc), &v))
            return false;
        if (v > INT64_MAX && !as_unsigned)
            return false;
        *out = (int64_t)v;
        return true;
    case 0xd0:
    case 0xd1:
    case 0xd2:
    case 0xd3: {
        size_t n = (size_t)1 << (*t - 0xd0);
        if (!read_be(c, n, &v))
            return false;
        if (n < 8 && (v >> (n * 8 - 1)) & 1)
            v |= ~0ULL << (n * 8); /* sign-extend */
        *out = (int64_t)v;
        return true;
    }
    default:
        return false;
    }
}

static bool read_bytes(struct cursor *c, const uint8_t **data, size_t *len) {
    const uint8_t *t;
    uint64_t n;
    if (!take(c, 1, &t))
        return false;
    bool ok;
    if ((*t & 0xe0) == 0xa0) {
        n = *t & 0x1f;
        ok = true;
    } else if (*t == 0xc4 || *t == 0xd9) { /* bin8, str8 */
        ok = read_be(c, 1, &n);
    } else if (*t == 0xc5 || *t == 0xda) { /* bin16, str16 */
        ok = read_be(c, 2, &n);
    } else if (*t == 0xc6 || *t == 0xdb) { /* bin32, str32 */
        ok = read_be(c, 4, &n);
    } else {
        return false;
    }
    if (!ok || !take(c, (size_t)n, data))
        return false;
    *len = (size_t)n;
    return true;
}

static int corrupt(struct entry_reader *r, const char *why) {
    r->errmsg = why;
    return ENTRY_ECORRUPT;
}

/* Walks one [db, [args]] item; with 'cmd' NULL it only validates. */
static int read_command(struct entry_reader *r, struct cursor *c, struct entry_command *cmd) {
    uint64_t n, argc;
    int64_t db;
    if (!read_array(c, &n) || n != 2)
        return corrupt(r, "command is not a [db, args] pair");
    if (!read_int(c, &db, false) || db < 0 || db > INT32_MAX)
        return corrupt(r, "bad database number");
    if (!read_array(c, &argc) || argc == 0 || argc > ENTRY_MAX_ARGS)
        return corrupt(r, "bad argument count");
    /* Each argument takes at least one byte: refuse counts the rest can't hold. */
    if (argc > (uint64_t)(c->end - c->p))
        return corrupt(r, "argument count exceeds entry size");
    if (cmd != NULL && (int)argc > r->cap) {
        char **argv = realloc(r->argv, argc * sizeof(*argv));
        if (argv == NULL)
            return ENTRY_ENOMEM;
        r->argv = argv;
        size_t *lens = realloc(r->argvlen, argc * sizeof(*lens));
        if (lens == NULL)
            return ENTRY_ENOMEM;
        r->argvlen = lens;
        r->cap = (int)argc;
    }
    for (uint64_t i = 0; i < argc; i++) {
        const uint8_t *data;
        size_t len;
        if (!read_bytes(c, &data, &len))
            return corrupt(r, "bad argument");
        if (cmd != NULL) {
            r->argv[i] = (char *)data;
            r->argvlen[i] = len;
        }
    }
    if (cmd != NULL) {
        cmd->db = (int)db;
        cmd->argc = (int)argc;
        cmd->argv = r->argv;
        cmd->argvlen = r->argvlen;
    }
    return ENTRY_OK;
}

int entry_reader_init(struct entry_reader *r, const void *buf, size_t len) {
    memset(r, 0, sizeof(*r));
    struct cursor c = {buf, (const uint8_t *)buf + len};
    uint64_t n, count;
    int64_t version, origin, seq, now, seed;
    if (!read_array(&c, &n) || n != 6)
        return corrupt(r, "not a 6-element entry");
    if (!read_int(&c, &version, false) || version != ENTRY_VERSION)
        return corrupt(r, "unknown entry version");
    if (!read_int(&c, &origin, true) || !read_int(&c, &seq, true))
        return corrupt(r, "bad origin");
    if (!read_int(&c, &now, false) || !read_int(&c, &seed, true))
        return corrupt(r, "bad time or seed");
    if (!read_array(&c, &count) || count > (uint64_t)(c.end - c.p))
        return corrupt(r, "bad command count");
    r->origin = (uint64_t)origin;
    r->seq = (uint64_t)seq;
    r->now_ms = now;
    r->seed = (uint64_t)seed;
    r->count = (size_t)count;
    /* Validate everything now; entry_reader_next then cannot fail on content. */
    struct cursor body = c;
    for (uint64_t i = 0; i < count; i++) {
        int rc = read_command(r, &c, NULL);
        if (rc != ENTRY_OK)
            return rc;
    }
    if (c.p != c.end)
        return corrupt(r, "trailing bytes after the entry");
    r->pos = body.p;
    r->end = c.end;
    return ENTRY_OK;
}

int entry_reader_next(struct entry_reader *r, struct entry_command *cmd) {
    if (r->next >= r->count)
        return 0;
    struct cursor c = {r->pos, r->end};
    int rc = read_command(r, &c, cmd);
    if (rc != ENTRY_OK)
        return rc;
    r->pos = c.p;
    cmd->seed = entry_command_seed(r->seed, r->next);
    r->next++;
    return 1;
}

void entry_reader_close(struct entry_reader *r) {
    free(r->argv);
    free(r->argvlen);
    r->argv = NULL;
    r->argvlen = NULL;
    r->cap = 0;
}
