/* Raft log entry codec: one entry is one group-commit batch of writes.
 *
 * Format (msgpack): [1, origin, seq, now_ms, seed, [[db, [arg, ...]], ...]]
 *   1       format version
 *   origin  the proposing member's run id and 'seq' its batch number: the
 *           proposer recognises its own entries when they apply, to route
 *           replies to the clients waiting for them
 *   now_ms  the leader's wall-clock time when the batch was cut; every
 *           command of the batch executes with it (design: write path, 4)
 *   seed    randomness; command i of the batch uses entry_command_seed(seed, i)
 *   db      the database the command runs in
 *   arg     binary-safe arguments (msgpack bin), argv[0] is the command name
 *
 * Writing builds an owned buffer. Reading validates the whole entry before
 * handing out any command, so a corrupt or truncated entry is rejected as a
 * whole (ENTRY_ECORRUPT with a reason), never half-applied. */
#ifndef KR_RAFT_ENTRY_H
#define KR_RAFT_ENTRY_H

#include <stddef.h>
#include <stdint.h>

#define ENTRY_VERSION  1
#define ENTRY_MAX_ARGS (1024 * 1024) /* per command; Redis's multibulk limit is larger, */
                                     /* but a command this wide cannot be a real write */

#define ENTRY_ERRORS(X)                                                                            \
    X(ENTRY_OK, 0, "ok")                                                                           \
    X(ENTRY_ENOMEM, -1, "out of memory")                                                           \
    X(ENTRY_ECORRUPT, -2, "corrupt entry")

enum entry_error {
#define X(name, value, text) name = value,
    ENTRY_ERRORS(X)
#undef X
};

const char *entry_strerror(int code);

/* ---- Writing ---- */

struct entry_writer; /* opaque */

/* Starts a batch. Returns an owned writer (entry_writer_free), or NULL. */
struct entry_writer *entry_writer_new(uint64_t origin, uint64_t seq, int64_t now_ms, uint64_t seed);
/* Appends one command (arguments are copied). Returns 0 or ENTRY_ENOMEM. */
int entry_writer_add(struct entry_writer *w, int db, int argc, char *const *argv,
                     const size_t *argvlen);
/* Number of commands added so far. */
size_t entry_writer_count(const struct entry_writer *w);
/* Finishes the batch: '*buf' becomes an owned malloc'd buffer of '*len'
 * bytes (free with free(), or hand to raft_apply). The writer is freed. */
int entry_writer_finish(struct entry_writer *w, void **buf, size_t *len);
void entry_writer_free(struct entry_writer *w);

/* ---- Reading ---- */

struct entry_command {
    int db;
    int argc;
    char **argv; /* point into the entry buffer: valid while it is */
    size_t *argvlen;
    uint64_t seed; /* this command's own seed */
};

struct entry_reader {
    /* public, read-only after entry_reader_init */
    uint64_t origin;
    uint64_t seq;
    int64_t now_ms;
    uint64_t seed;
    size_t count;       /* commands in the batch */
    const char *errmsg; /* after ENTRY_ECORRUPT: what was wrong */
    /* private */
    const void *pos; /* the next command's first byte */
    const void *end;
    size_t next;
    char **argv;
    size_t *argvlen;
    int cap;
};

/* Decodes and validates 'buf' (borrowed: must outlive the reader). */
int entry_reader_init(struct entry_reader *r, const void *buf, size_t len);
/* The next command, or 0 when there are none left (returns 1 when 'cmd' is
 * filled, ENTRY_ENOMEM on allocation failure). 'cmd' is valid until the
 * next call. */
int entry_reader_next(struct entry_reader *r, struct entry_command *cmd);
void entry_reader_close(struct entry_reader *r);
/* Makes 'dup' a second reader of the same entry at the same position, with
 * its own argument arrays (to read ahead). Close both. */
void entry_reader_dup(const struct entry_reader *r, struct entry_reader *dup);

/* The seed of command 'index' of a batch whose seed is 'batch_seed'. */
uint64_t entry_command_seed(uint64_t batch_seed, size_t index);

#endif
