/* Raft log entry codec (see entry.h).
 *
 * Writing uses msgpack-c's packer. Reading is a strict decoder of exactly
 * the subset the format uses, on storage/mpread rather than msgpack_unpack
 * because msgpack-c allocates arrays at the size their header declares:
 * a corrupt header claiming 2^32 elements would cost gigabytes before the
 * truncation is noticed. Here every declared size is checked against the
 * bytes that remain before anything is allocated. */
#include "raft/entry.h"

#include "storage/mpread.h"

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

static int corrupt(struct entry_reader *r, const char *why) {
    r->errmsg = why;
    return ENTRY_ECORRUPT;
}

/* Walks one [db, [args]] item; with 'cmd' NULL it only validates. */
static int read_command(struct entry_reader *r, struct mpread *c, struct entry_command *cmd) {
    uint64_t n, argc;
    int64_t db;
    if (!mpread_array(c, &n) || n != 2)
        return corrupt(r, "command is not a [db, args] pair");
    if (!mpread_int(c, &db, false) || db < 0 || db > INT32_MAX)
        return corrupt(r, "bad database number");
    if (!mpread_array(c, &argc) || argc == 0 || argc > ENTRY_MAX_ARGS)
        return corrupt(r, "bad argument count");
    /* Each argument takes at least one byte: refuse counts the rest can't hold. */
    if (argc > mpread_left(c))
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
        if (!mpread_bytes(c, &data, &len))
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
    struct mpread c;
    mpread_init(&c, buf, len);
    uint64_t n, count;
    int64_t version, origin, seq, now, seed;
    if (!mpread_array(&c, &n) || n != 6)
        return corrupt(r, "not a 6-element entry");
    if (!mpread_int(&c, &version, false) || version != ENTRY_VERSION)
        return corrupt(r, "unknown entry version");
    if (!mpread_int(&c, &origin, true) || !mpread_int(&c, &seq, true))
        return corrupt(r, "bad origin");
    if (!mpread_int(&c, &now, false) || !mpread_int(&c, &seed, true))
        return corrupt(r, "bad time or seed");
    if (!mpread_array(&c, &count) || count > mpread_left(&c))
        return corrupt(r, "bad command count");
    r->origin = (uint64_t)origin;
    r->seq = (uint64_t)seq;
    r->now_ms = now;
    r->seed = (uint64_t)seed;
    r->count = (size_t)count;
    /* Validate everything now; entry_reader_next then cannot fail on content. */
    struct mpread body = c;
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
    struct mpread c;
    mpread_init(&c, r->pos, (size_t)(r->end - r->pos));
    int rc = read_command(r, &c, cmd);
    if (rc != ENTRY_OK)
        return rc;
    r->pos = c.p;
    cmd->seed = entry_command_seed(r->seed, r->next);
    r->next++;
    return 1;
}

void entry_reader_dup(const struct entry_reader *r, struct entry_reader *dup) {
    *dup = *r;
    dup->argv = NULL;
    dup->argvlen = NULL;
    dup->cap = 0;
}

void entry_reader_close(struct entry_reader *r) {
    free(r->argv);
    free(r->argvlen);
    r->argv = NULL;
    r->argvlen = NULL;
    r->cap = 0;
}
