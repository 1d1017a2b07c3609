/* Entry codec: round trips, per-command seeds, and rejection of corrupt or
 * truncated entries (every truncation of a valid entry is refused). */
#include "raft/entry.h"
#include "tests/unit/lib/test.h"

static int build(void **buf, size_t *len) {
    struct entry_writer *w =
        entry_writer_new(0xabcdef0123456789ULL, 77, 1700000000123LL, 0xfeedfacecafebeefULL);
    if (w == NULL)
        return -1;
    char *set[] = {"SET", "key", "v\0al"};
    size_t setlen[] = {3, 3, 4};
    char big[300];
    memset(big, 'x', sizeof(big));
    char *append[] = {"APPEND", "k2", big};
    size_t appendlen[] = {6, 2, sizeof(big)};
    if (entry_writer_add(w, 0, 3, set, setlen) != 0 ||
        entry_writer_add(w, 15, 3, append, appendlen) != 0) {
        entry_writer_free(w);
        return -1;
    }
    return entry_writer_finish(w, buf, len);
}

TEST(round_trip) {
    void *buf;
    size_t len;
    CHECK_EQ_INT(build(&buf, &len), ENTRY_OK);
    struct entry_reader r;
    CHECK_EQ_INT(entry_reader_init(&r, buf, len), ENTRY_OK);
    CHECK(r.origin == 0xabcdef0123456789ULL && r.seq == 77);
    CHECK_EQ_INT(r.now_ms, 1700000000123LL);
    CHECK(r.seed == 0xfeedfacecafebeefULL);
    CHECK_EQ_INT(r.count, 2);
    struct entry_command cmd;
    CHECK_EQ_INT(entry_reader_next(&r, &cmd), 1);
    CHECK_EQ_INT(cmd.db, 0);
    CHECK_EQ_INT(cmd.argc, 3);
    CHECK_MEM(cmd.argv[0], cmd.argvlen[0], "SET");
    CHECK(cmd.argvlen[2] == 4 && memcmp(cmd.argv[2], "v\0al", 4) == 0);
    uint64_t seed0 = cmd.seed;
    CHECK_EQ_INT(entry_reader_next(&r, &cmd), 1);
    CHECK_EQ_INT(cmd.db, 15);
    CHECK_EQ_INT(cmd.argvlen[2], 300);
    CHECK(cmd.seed != seed0);
    CHECK(cmd.seed == entry_command_seed(r.seed, 1));
    CHECK_EQ_INT(entry_reader_next(&r, &cmd), 0);
    entry_reader_close(&r);
    free(buf);
}

TEST(a_duplicate_reader_reads_ahead_on_its_own) {
    void *buf;
    size_t len;
    CHECK_EQ_INT(build(&buf, &len), ENTRY_OK);
    struct entry_reader r, ahead;
    CHECK_EQ_INT(entry_reader_init(&r, buf, len), ENTRY_OK);
    entry_reader_dup(&r, &ahead);
    struct entry_command first, second, cmd;
    CHECK_EQ_INT(entry_reader_next(&ahead, &first), 1);
    CHECK_EQ_INT(entry_reader_next(&ahead, &second), 1);
    CHECK_EQ_INT(entry_reader_next(&ahead, &cmd), 0);
    /* The reader is still at the first command, and 'second' is intact. */
    CHECK_EQ_INT(entry_reader_next(&r, &cmd), 1);
    CHECK_MEM(cmd.argv[0], cmd.argvlen[0], "SET");
    CHECK(cmd.seed == first.seed);
    CHECK_MEM(second.argv[0], second.argvlen[0], "APPEND");
    CHECK_EQ_INT(second.db, 15);
    entry_reader_close(&ahead);
    CHECK_EQ_INT(entry_reader_next(&r, &cmd), 1);
    CHECK_MEM(cmd.argv[1], cmd.argvlen[1], "k2");
    entry_reader_close(&r);
    free(buf);
}

TEST(every_truncation_is_rejected) {
    void *buf;
    size_t len;
    CHECK_EQ_INT(build(&buf, &len), ENTRY_OK);
    for (size_t cut = 0; cut < len; cut++) {
        struct entry_reader r;
        CHECK_EQ_INT(entry_reader_init(&r, buf, cut), ENTRY_ECORRUPT);
        CHECK(r.errmsg != NULL);
        entry_reader_close(&r);
    }
    free(buf);
}

TEST(trailing_bytes_and_bad_fields_are_rejected) {
    void *buf;
    size_t len;
    CHECK_EQ_INT(build(&buf, &len), ENTRY_OK);
    unsigned char *longer = malloc(len + 1);
    memcpy(longer, buf, len);
    longer[len] = 0;
    struct entry_reader r;
    CHECK_EQ_INT(entry_reader_init(&r, longer, len + 1), ENTRY_ECORRUPT);
    longer[1] = 2; /* version */
    CHECK_EQ_INT(entry_reader_init(&r, longer, len), ENTRY_ECORRUPT);
    free(longer);
    free(buf);
    /* An array header claiming 2^32-1 commands in a few bytes. */
    static const unsigned char huge[] = {0x96, 0x01, 0x00, 0x00, 0x00, 0x00,
                                         0xdd, 0xff, 0xff, 0xff, 0xff};
    CHECK_EQ_INT(entry_reader_init(&r, huge, sizeof(huge)), ENTRY_ECORRUPT);
    /* A command with zero arguments. */
    static const unsigned char empty_cmd[] = {0x96, 0x01, 0x00, 0x00, 0x00,
                                              0x00, 0x91, 0x92, 0x00, 0x90};
    CHECK_EQ_INT(entry_reader_init(&r, empty_cmd, sizeof(empty_cmd)), ENTRY_ECORRUPT);
}
