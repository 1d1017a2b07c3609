/* raft/logfile: libraft 0.15's files read back. A closed segment written by
 * the installed library is the known answer for the CRC and the layout;
 * open segments are built here batch by batch. Every truncation and every
 * flipped byte is damage, except a tail cut by a crash in the last open
 * segment, which is a torn tail cut at the batch it starts in. */
#include "raft/entry.h"
#include "raft/group.h"
#include "raft/logfile.h"
#include "tests/unit/lib/test.h"

#include <dirent.h>
#include <fcntl.h>
#include <stdint.h>
#include <sys/stat.h>
#include <unistd.h>

/* 0000000000000001-0000000000000001 as libraft 0.15 bootstrapped it: the
 * configuration {id 5770000011810527635, "127.0.0.1:33111", voter}. */
static const uint8_t bootstrap_segment[80] = {
    0x01, 0x00, 0x00, 0x00, 0x00, 0x00, 0x00, 0x00, 0x2d, 0x99, 0xf9, 0x86, 0x23, 0xb3, 0x50, 0xb6,
    0x01, 0x00, 0x00, 0x00, 0x00, 0x00, 0x00, 0x00, 0x01, 0x00, 0x00, 0x00, 0x00, 0x00, 0x00, 0x00,
    0x03, 0x00, 0x00, 0x00, 0x28, 0x00, 0x00, 0x00, 0x01, 0x01, 0x00, 0x00, 0x00, 0x00, 0x00, 0x00,
    0x00, 0x93, 0x59, 0xf7, 0xa1, 0x70, 0x28, 0x13, 0x50, 0x31, 0x32, 0x37, 0x2e, 0x30, 0x2e, 0x30,
    0x2e, 0x31, 0x3a, 0x33, 0x33, 0x31, 0x31, 0x31, 0x00, 0x01, 0x00, 0x00, 0x00, 0x00, 0x00, 0x00,
};

/* ---- Building segments ---- */

#define SEGMENT_BYTES 8192

struct seg {
    uint8_t buf[SEGMENT_BYTES]; /* zeros past 'len', as preallocated */
    size_t len;
    size_t batch_at[16];
    int nbatches;
};

static void put64(uint8_t *p, uint64_t v) {
    for (int i = 0; i < 8; i++)
        p[i] = (uint8_t)(v >> (8 * i));
}

static void put32(uint8_t *p, uint32_t v) {
    for (int i = 0; i < 4; i++)
        p[i] = (uint8_t)(v >> (8 * i));
}

static void seg_init(struct seg *s) {
    memset(s, 0, sizeof(*s));
    put64(s->buf, 1);
    s->len = 8;
}

/* Appends a batch of 'n' entries (type 'type', contents 'data[i]' of
 * 'lens[i]' bytes, multiples of 8) in term 'term'. */
static void seg_batch(struct seg *s, uint64_t term, int type, int n, uint8_t *const *data,
                      const size_t *lens) {
    uint8_t *p = s->buf + s->len;
    s->batch_at[s->nbatches++] = s->len;
    size_t header = 8 + 16 * (size_t)n, total = 0;
    put64(p + 8, (uint64_t)n);
    for (int i = 0; i < n; i++) {
        uint8_t *h = p + 16 + 16 * i;
        put64(h, term);
        h[8] = (uint8_t)type;
        put32(h + 12, (uint32_t)lens[i]);
    }
    uint8_t *d = p + 8 + header;
    for (int i = 0; i < n; i++) {
        memcpy(d + total, data[i], lens[i]);
        total += lens[i];
    }
    put32(p, logfile_crc32(p + 8, header, 0));
    put32(p + 4, logfile_crc32(d, total, 0));
    s->len += 8 + header + total;
}

/* A group frame around a keyraft entry holding "SET k<i> <value>". */
static size_t keyraft_entry(uint8_t *out, int i, size_t value_len) {
    struct entry_writer *w = entry_writer_new(7, (uint64_t)i, 1700000000000LL, 42);
    char key[16], value[600];
    snprintf(key, sizeof(key), "k%d", i);
    memset(value, 'v', sizeof(value));
    char *argv[] = {"SET", key, value};
    size_t argvlen[] = {3, strlen(key), value_len};
    entry_writer_add(w, 0, 3, argv, argvlen);
    void *buf;
    size_t len;
    entry_writer_finish(w, &buf, &len);
    size_t frame = group_frame_size(len);
    memset(out, 0, frame);
    put64(out, len);
    memcpy(out + 8, buf, len);
    free(buf);
    return frame;
}

/* An open segment with 'n' batches of one keyraft entry each, entries
 * from index 'first'. */
static void seg_keyraft(struct seg *s, int n, size_t value_len) {
    seg_init(s);
    for (int i = 0; i < n; i++) {
        uint8_t frame[1024];
        uint8_t *data[] = {frame};
        size_t lens[] = {keyraft_entry(frame, i, value_len)};
        seg_batch(s, 1, 1, 1, data, lens);
    }
}

/* ---- CRC and the library's own file ---- */

TEST(crc32_matches_the_library) {
    /* The batch's stored checksums (little-endian at bytes 8 and 12). */
    CHECK(logfile_crc32(bootstrap_segment + 16, 24, 0) == 0x86f9992du);
    CHECK(logfile_crc32(bootstrap_segment + 40, 40, 0) == 0xb650b323u);
    /* Continuing equals one pass. */
    uint32_t part = logfile_crc32(bootstrap_segment, 30, 0);
    CHECK(logfile_crc32(bootstrap_segment + 30, 50, part) ==
          logfile_crc32(bootstrap_segment, 80, 0));
}

TEST(library_closed_segment_is_sound) {
    struct logfile_file f = {0};
    logfile_scan_segment(bootstrap_segment, sizeof(bootstrap_segment), 1, false, false, &f);
    CHECK_EQ_INT(f.state, LOGFILE_SOUND);
    CHECK_EQ_INT(f.entries, 1);
    CHECK_EQ_INT(f.first_index, 1);
    CHECK_EQ_INT(f.last_index, 1);
    CHECK_EQ_INT(f.last_term, 1);
}

TEST(closed_segment_every_truncation_is_damage) {
    for (size_t cut = 0; cut < sizeof(bootstrap_segment); cut++) {
        struct logfile_file f = {0};
        logfile_scan_segment(bootstrap_segment, cut, 1, false, false, &f);
        CHECK_EQ_INT(f.state, LOGFILE_DAMAGED);
        CHECK(f.offset <= cut);
        CHECK(f.reason[0] != '\0');
    }
}

TEST(closed_segment_every_flipped_byte_is_damage) {
    uint8_t copy[sizeof(bootstrap_segment)];
    for (size_t at = 0; at < sizeof(copy); at++) {
        memcpy(copy, bootstrap_segment, sizeof(copy));
        copy[at] ^= 0x10;
        struct logfile_file f = {0};
        logfile_scan_segment(copy, sizeof(copy), 1, false, false, &f);
        CHECK_EQ_INT(f.state, LOGFILE_DAMAGED);
        CHECK(f.offset < sizeof(copy));
    }
}

TEST(closed_segment_with_trailing_bytes_is_damage) {
    uint8_t copy[sizeof(bootstrap_segment) + 8] = {0};
    memcpy(copy, bootstrap_segment, sizeof(bootstrap_segment));
    struct logfile_file f = {0};
    logfile_scan_segment(copy, sizeof(copy), 1, false, false, &f);
    CHECK_EQ_INT(f.state, LOGFILE_DAMAGED);
    CHECK_EQ_INT(f.offset, sizeof(bootstrap_segment));
}

/* ---- Open segments ---- */

TEST(open_segment_ends_at_the_zeros) {
    static struct seg s;
    seg_keyraft(&s, 5, 20);
    struct logfile_file f = {0};
    logfile_scan_segment(s.buf, SEGMENT_BYTES, 10, true, true, &f);
    CHECK_EQ_INT(f.state, LOGFILE_SOUND);
    CHECK_EQ_INT(f.entries, 5);
    CHECK_EQ_INT(f.first_index, 10);
    CHECK_EQ_INT(f.last_index, 14);
    /* All zeros: never written. */
    static uint8_t zeros[SEGMENT_BYTES];
    logfile_scan_segment(zeros, sizeof(zeros), 1, true, true, &f);
    CHECK_EQ_INT(f.state, LOGFILE_UNUSED);
    CHECK_EQ_INT(f.entries, 0);
}

TEST(open_segment_cut_anywhere_is_a_torn_tail_at_that_batch) {
    static struct seg s;
    seg_keyraft(&s, 4, 40);
    for (size_t cut = 9; cut < s.len; cut++) {
        int batch = 0;
        while (batch + 1 < s.nbatches && s.batch_at[batch + 1] <= cut)
            batch++;
        if (s.batch_at[batch] == cut)
            continue; /* a clean end between batches */
        struct logfile_file f = {0};
        logfile_scan_segment(s.buf, cut, 1, true, true, &f);
        CHECK_EQ_INT(f.state, LOGFILE_TORN_TAIL);
        CHECK_EQ_INT(f.offset, s.batch_at[batch]);
        CHECK_EQ_INT(f.entries, batch);
        /* Not the last open segment: the same bytes are damage. */
        logfile_scan_segment(s.buf, cut, 1, true, false, &f);
        CHECK_EQ_INT(f.state, LOGFILE_DAMAGED);
    }
}

TEST(open_segment_zeroed_from_a_sector_is_a_torn_tail) {
    static struct seg s;
    seg_keyraft(&s, 2, 500); /* the second batch crosses byte 1024 */
    CHECK(s.batch_at[1] < 1024 && s.len > 1024);
    memset(s.buf + 1024, 0, s.len - 1024);
    struct logfile_file f = {0};
    logfile_scan_segment(s.buf, SEGMENT_BYTES, 1, true, true, &f);
    CHECK_EQ_INT(f.state, LOGFILE_TORN_TAIL);
    CHECK_EQ_INT(f.offset, s.batch_at[1]);
    CHECK_EQ_INT(f.entries, 1);
}

TEST(open_segment_flipped_byte_is_damage_even_in_the_last_batch) {
    static struct seg s;
    seg_keyraft(&s, 3, 30);
    for (size_t at = 0; at < 2 * s.len; at++) {
        static struct seg copy;
        copy = s;
        copy.buf[at % s.len] ^= at < s.len ? 0x01 : 0x80;
        struct logfile_file f = {0};
        logfile_scan_segment(copy.buf, SEGMENT_BYTES, 1, true, true, &f);
        CHECK_EQ_INT(f.state, LOGFILE_DAMAGED);
    }
}

TEST(undecodable_entry_with_good_checksums_is_damage) {
    static struct seg s;
    seg_init(&s);
    uint8_t junk[24] = {16, 0, 0, 0, 0, 0, 0, 0, 0xc1, 0xc1, 0xc1}; /* frame of 16 bytes */
    uint8_t *data[] = {junk};
    size_t lens[] = {sizeof(junk)};
    seg_batch(&s, 1, 1, 1, data, lens);
    struct logfile_file f = {0};
    logfile_scan_segment(s.buf, SEGMENT_BYTES, 1, true, true, &f);
    CHECK_EQ_INT(f.state, LOGFILE_DAMAGED);
    CHECK(strstr(f.reason, "entry 1") != NULL);
    /* A frame whose length does not match its size. */
    seg_init(&s);
    junk[0] = 3;
    seg_batch(&s, 1, 1, 1, data, lens);
    logfile_scan_segment(s.buf, SEGMENT_BYTES, 1, true, true, &f);
    CHECK_EQ_INT(f.state, LOGFILE_DAMAGED);
    CHECK(strstr(f.reason, "frame") != NULL);
}

TEST(terms_never_go_down) {
    static struct seg s;
    seg_init(&s);
    uint8_t frame[256];
    uint8_t *data[] = {frame};
    size_t lens[] = {keyraft_entry(frame, 0, 8)};
    seg_batch(&s, 3, 1, 1, data, lens);
    seg_batch(&s, 2, 1, 1, data, lens);
    struct logfile_file f = {0};
    logfile_scan_segment(s.buf, SEGMENT_BYTES, 1, true, true, &f);
    CHECK_EQ_INT(f.state, LOGFILE_DAMAGED);
    CHECK(strstr(f.reason, "term 2") != NULL);
}

/* ---- Configurations and snapshot metadata ---- */

TEST(configuration_checks) {
    const uint8_t *conf = bootstrap_segment + 40;
    uint64_t at;
    char why[128];
    CHECK_EQ_INT(logfile_check_configuration(conf, 40, &at, why, sizeof(why)), 0);
    uint8_t copy[40];
    memcpy(copy, conf, 40);
    copy[0] = 2;
    CHECK_EQ_INT(logfile_check_configuration(copy, 40, &at, why, sizeof(why)), -1);
    memcpy(copy, conf, 40);
    memset(copy + 17, 'x', 23); /* the address never ends */
    CHECK_EQ_INT(logfile_check_configuration(copy, 40, &at, why, sizeof(why)), -1);
    CHECK(strstr(why, "unterminated") != NULL);
    for (size_t cut = 0; cut < 40; cut++)
        CHECK_EQ_INT(logfile_check_configuration(conf, cut, &at, why, sizeof(why)), -1);
}

static size_t snapshot_meta(uint8_t *out, uint64_t conf_index) {
    put64(out, 1);
    put64(out + 16, conf_index);
    put64(out + 24, 40);
    memcpy(out + 32, bootstrap_segment + 40, 40);
    uint32_t crc = logfile_crc32(out + 16, 16, 0);
    put64(out + 8, logfile_crc32(out + 32, 40, crc));
    return 72;
}

TEST(snapshot_meta_checks) {
    uint8_t meta[72];
    size_t len = snapshot_meta(meta, 1);
    struct logfile_file f = {.snapshot_index = 10};
    uint64_t conf_index = 0;
    CHECK_EQ_INT(logfile_scan_snapshot_meta(meta, len, &conf_index, &f), 0);
    CHECK_EQ_INT(conf_index, 1);
    for (size_t at = 0; at < len; at++) {
        uint8_t copy[72];
        memcpy(copy, meta, len);
        copy[at] ^= 0x04;
        CHECK_EQ_INT(logfile_scan_snapshot_meta(copy, len, &conf_index, &f), -1);
        CHECK_EQ_INT(f.state, LOGFILE_DAMAGED);
    }
    for (size_t cut = 0; cut < len; cut++)
        CHECK_EQ_INT(logfile_scan_snapshot_meta(meta, cut, &conf_index, &f), -1);
}

/* ---- Directories ---- */

static void write_file(const char *dir, const char *name, const void *buf, size_t len) {
    char path[512];
    snprintf(path, sizeof(path), "%s/%s", dir, name);
    FILE *fp = fopen(path, "wb");
    if (fp != NULL) {
        fwrite(buf, 1, len, fp);
        fclose(fp);
    }
}

/* Removes a test directory and the files in it (it has no subdirectories). */
static void remove_dir(const char *dir) {
    DIR *d = opendir(dir);
    if (d == NULL)
        return;
    struct dirent *e;
    while ((e = readdir(d)) != NULL) {
        char path[512];
        snprintf(path, sizeof(path), "%s/%s", dir, e->d_name);
        if (strcmp(e->d_name, ".") != 0 && strcmp(e->d_name, "..") != 0)
            unlink(path);
    }
    closedir(d);
    rmdir(dir);
}

static const struct logfile_file *file_named(const struct logfile_report *r, const char *name) {
    for (size_t i = 0; i < r->nfiles; i++)
        if (strcmp(r->files[i].name, name) == 0)
            return &r->files[i];
    return NULL;
}

/* metadata1 (version 1, term 1), the bootstrap segment, open-1 with 'n'
 * keyraft entries from index 2, open-2 never written. */
static void make_dir(char *dir, size_t len, int n) {
    snprintf(dir, len, "/tmp/kr-logfile-XXXXXX");
    if (mkdtemp(dir) == NULL)
        abort();
    uint8_t meta[32] = {0};
    put64(meta, 1);
    put64(meta + 8, 1);
    put64(meta + 16, 1);
    write_file(dir, "metadata1", meta, sizeof(meta));
    write_file(dir, "0000000000000001-0000000000000001", bootstrap_segment,
               sizeof(bootstrap_segment));
    static struct seg s;
    seg_keyraft(&s, n, 16);
    write_file(dir, "open-1", s.buf, SEGMENT_BYTES);
    static uint8_t zeros[SEGMENT_BYTES];
    write_file(dir, "open-2", zeros, sizeof(zeros));
}

TEST(directory_sound_then_torn_then_cut) {
    char dir[64];
    make_dir(dir, sizeof(dir), 3);
    struct logfile_report r;
    char err[256];
    CHECK_EQ_INT(logfile_check_dir(dir, NULL, NULL, &r, err, sizeof(err)), LOGFILE_OK);
    CHECK_EQ_INT(r.damaged, 0);
    CHECK(r.torn == NULL);
    CHECK_EQ_INT(r.last_index, 4);
    CHECK_EQ_INT(r.term, 1);
    CHECK_EQ_INT(file_named(&r, "open-2")->state, LOGFILE_UNUSED);
    size_t cut_at = file_named(&r, "open-1")->size;
    logfile_report_free(&r);

    /* Cut open-1 in the middle of its last batch. */
    static struct seg s;
    seg_keyraft(&s, 3, 16);
    cut_at = s.batch_at[2] + 20;
    char path[128];
    snprintf(path, sizeof(path), "%s/open-1", dir);
    CHECK_EQ_INT(truncate(path, (off_t)cut_at), 0);
    CHECK_EQ_INT(logfile_check_dir(dir, NULL, NULL, &r, err, sizeof(err)), LOGFILE_OK);
    CHECK_EQ_INT(r.damaged, 0);
    CHECK(r.torn != NULL && strcmp(r.torn->name, "open-1") == 0);
    CHECK_EQ_INT(r.torn->offset, s.batch_at[2]);
    CHECK_EQ_INT(r.last_index, 3);
    CHECK_EQ_INT(logfile_cut_torn_tail(dir, &r, err, sizeof(err)), LOGFILE_OK);
    logfile_report_free(&r);
    CHECK_EQ_INT(logfile_check_dir(dir, NULL, NULL, &r, err, sizeof(err)), LOGFILE_OK);
    CHECK_EQ_INT(r.damaged, 0);
    CHECK(r.torn == NULL);
    CHECK_EQ_INT(r.last_index, 3);
    logfile_report_free(&r);
    remove_dir(dir);
}

TEST(directory_damage_is_named) {
    char dir[64];
    char err[256];
    struct logfile_report r;

    /* A gap: the log starts at 2 with no snapshot. */
    make_dir(dir, sizeof(dir), 2);
    char from[128], to[128];
    snprintf(from, sizeof(from), "%s/0000000000000001-0000000000000001", dir);
    snprintf(to, sizeof(to), "%s/0000000000000002-0000000000000002", dir);
    CHECK_EQ_INT(rename(from, to), 0);
    CHECK_EQ_INT(logfile_check_dir(dir, NULL, NULL, &r, err, sizeof(err)), LOGFILE_OK);
    CHECK_EQ_INT(r.damaged, 1);
    CHECK(strstr(file_named(&r, "0000000000000002-0000000000000002")->reason, "no snapshot") !=
          NULL);
    logfile_report_free(&r);
    remove_dir(dir);

    /* A term in the metadata lower than the log's. */
    make_dir(dir, sizeof(dir), 2);
    uint8_t meta[32] = {0};
    put64(meta, 1);
    put64(meta + 8, 1);
    write_file(dir, "metadata1", meta, sizeof(meta));
    CHECK_EQ_INT(logfile_check_dir(dir, NULL, NULL, &r, err, sizeof(err)), LOGFILE_OK);
    CHECK_EQ_INT(r.damaged, 1);
    CHECK_EQ_INT(file_named(&r, "metadata1")->state, LOGFILE_DAMAGED);
    CHECK_EQ_INT(file_named(&r, "metadata1")->offset, 16);
    logfile_report_free(&r);

    /* Versions that are not consecutive. */
    put64(meta + 16, 1);
    put64(meta + 8, 5);
    write_file(dir, "metadata1", meta, sizeof(meta));
    put64(meta + 8, 2);
    write_file(dir, "metadata2", meta, sizeof(meta));
    CHECK_EQ_INT(logfile_check_dir(dir, NULL, NULL, &r, err, sizeof(err)), LOGFILE_OK);
    CHECK_EQ_INT(r.damaged, 1);
    CHECK(strstr(file_named(&r, "metadata1")->reason, "consecutive") != NULL);
    logfile_report_free(&r);

    remove_dir(dir);

    /* libraft's auto-recovery leftovers. */
    make_dir(dir, sizeof(dir), 2);
    write_file(dir, "corrupt-1-open-1", meta, sizeof(meta));
    CHECK_EQ_INT(logfile_check_dir(dir, NULL, NULL, &r, err, sizeof(err)), LOGFILE_OK);
    CHECK_EQ_INT(file_named(&r, "corrupt-1-open-1")->state, LOGFILE_DAMAGED);
    logfile_report_free(&r);
    remove_dir(dir);

    /* A missing directory is empty and sound. */
    CHECK_EQ_INT(
        logfile_check_dir("/tmp/kr-logfile-does-not-exist", NULL, NULL, &r, err, sizeof(err)),
        LOGFILE_OK);
    CHECK_EQ_INT(r.nfiles, 0);
    logfile_report_free(&r);
}

/* ---- Snapshots in a directory ---- */

#include <lz4frame.h>

struct payload_seen {
    char text[64];
    int calls;
};

static int payload_check(void *arg, const void *buf, size_t len, uint64_t *offset, char *why,
                         size_t whylen) {
    struct payload_seen *seen = arg;
    seen->calls++;
    snprintf(seen->text, sizeof(seen->text), "%.*s", (int)len, (const char *)buf);
    if (len < 7 || memcmp(buf, "PAYLOAD", 7) != 0) {
        *offset = 0;
        snprintf(why, whylen, "not the payload");
        return -1;
    }
    return 0;
}

/* A closed segment file of 'n' keyraft entries starting at 'first'. */
static void write_closed(const char *dir, uint64_t first, int n) {
    static struct seg s;
    seg_keyraft(&s, n, 16);
    char name[64];
    snprintf(name, sizeof(name), "%016llu-%016llu", (unsigned long long)first,
             (unsigned long long)(first + (uint64_t)n - 1));
    write_file(dir, name, s.buf, s.len);
}

static void make_snapshot_dir(char *dir, size_t len, bool compressed, const char *payload) {
    snprintf(dir, len, "/tmp/kr-logfile-XXXXXX");
    if (mkdtemp(dir) == NULL)
        abort();
    uint8_t meta[32] = {0};
    put64(meta, 1);
    put64(meta + 8, 1);
    put64(meta + 16, 1);
    write_file(dir, "metadata1", meta, sizeof(meta));
    uint8_t smeta[72];
    write_file(dir, "snapshot-1-10-555.meta", smeta, snapshot_meta(smeta, 1));
    if (compressed) {
        LZ4F_preferences_t prefs;
        memset(&prefs, 0, sizeof(prefs));
        prefs.frameInfo.contentChecksumFlag = LZ4F_contentChecksumEnabled;
        prefs.frameInfo.contentSize = strlen(payload);
        uint8_t out[512];
        size_t n = LZ4F_compressFrame(out, sizeof(out), payload, strlen(payload), &prefs);
        if (LZ4F_isError(n))
            abort();
        write_file(dir, "snapshot-1-10-555", out, n);
    } else {
        write_file(dir, "snapshot-1-10-555", payload, strlen(payload));
    }
    write_file(dir, "0000000000000001-0000000000000001", bootstrap_segment,
               sizeof(bootstrap_segment));
    write_closed(dir, 8, 5); /* entries 8..12: the snapshot at 10 covers 2..7 */
}

TEST(snapshot_payload_plain_and_lz4) {
    for (int compressed = 0; compressed < 2; compressed++) {
        char dir[64], err[256];
        make_snapshot_dir(dir, sizeof(dir), compressed, "PAYLOAD of the state at index 10");
        struct payload_seen seen = {0};
        struct logfile_report r;
        CHECK_EQ_INT(logfile_check_dir(dir, payload_check, &seen, &r, err, sizeof(err)),
                     LOGFILE_OK);
        CHECK_EQ_INT(r.damaged, 0);
        CHECK_EQ_INT(seen.calls, 1);
        CHECK(strcmp(seen.text, "PAYLOAD of the state at index 10") == 0);
        CHECK_EQ_INT(r.snapshot_index, 10);
        CHECK_EQ_INT(r.last_index, 12);
        /* The bootstrap segment is older than the snapshot and not contiguous. */
        CHECK_EQ_INT(file_named(&r, "0000000000000001-0000000000000001")->state, LOGFILE_UNUSED);
        logfile_report_free(&r);

        /* A flipped byte in the data file: the payload check or LZ4's checksum. */
        char path[128];
        snprintf(path, sizeof(path), "%s/snapshot-1-10-555", dir);
        FILE *fp = fopen(path, "r+b");
        CHECK(fp != NULL);
        fseek(fp, compressed ? 12 : 0, SEEK_SET);
        fputc('X', fp);
        fclose(fp);
        seen.calls = 0;
        CHECK_EQ_INT(logfile_check_dir(dir, payload_check, &seen, &r, err, sizeof(err)),
                     LOGFILE_OK);
        CHECK_EQ_INT(r.damaged, 1);
        CHECK_EQ_INT(file_named(&r, "snapshot-1-10-555")->state, LOGFILE_DAMAGED);
        logfile_report_free(&r);
        /* Cut short. */
        CHECK_EQ_INT(truncate(path, 9), 0);
        CHECK_EQ_INT(logfile_check_dir(dir, payload_check, &seen, &r, err, sizeof(err)),
                     LOGFILE_OK);
        CHECK_EQ_INT(file_named(&r, "snapshot-1-10-555")->state, LOGFILE_DAMAGED);
        logfile_report_free(&r);
        remove_dir(dir);
    }
}

TEST(snapshot_and_log_continuity) {
    char dir[64], err[256];
    struct logfile_report r;
    /* The log after the snapshot starts too late: entry 11 is nowhere. */
    make_snapshot_dir(dir, sizeof(dir), false, "PAYLOAD");
    char path[160];
    snprintf(path, sizeof(path), "%s/0000000000000008-0000000000000012", dir);
    CHECK_EQ_INT(remove(path), 0);
    write_closed(dir, 12, 3);
    CHECK_EQ_INT(logfile_check_dir(dir, NULL, NULL, &r, err, sizeof(err)), LOGFILE_OK);
    CHECK_EQ_INT(r.damaged, 1);
    CHECK(strstr(file_named(&r, "0000000000000012-0000000000000014")->reason, "11..11") != NULL);
    logfile_report_free(&r);
    remove_dir(dir);

    /* An interrupted snapshot (no data file) is ignored, and then the log
     * must start at 1. */
    make_snapshot_dir(dir, sizeof(dir), false, "PAYLOAD");
    snprintf(path, sizeof(path), "%s/snapshot-1-10-555", dir);
    CHECK_EQ_INT(remove(path), 0);
    CHECK_EQ_INT(logfile_check_dir(dir, NULL, NULL, &r, err, sizeof(err)), LOGFILE_OK);
    CHECK_EQ_INT(file_named(&r, "snapshot-1-10-555.meta")->state, LOGFILE_UNUSED);
    CHECK_EQ_INT(r.snapshot_index, 0);
    CHECK_EQ_INT(file_named(&r, "0000000000000008-0000000000000012")->state, LOGFILE_DAMAGED);
    logfile_report_free(&r);
    remove_dir(dir);
}
