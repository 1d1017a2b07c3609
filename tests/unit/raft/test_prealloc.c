/* raft/prealloc.c: posix_fallocate as the Raft log's segments get it. The
 * space past the end is written (zeros, no unwritten extents where the file
 * system can say so), and content below the old size is kept. */
#define _GNU_SOURCE
#include "tests/unit/lib/test.h"

#include <errno.h>
#include <fcntl.h>
#include <linux/fiemap.h>
#include <linux/fs.h>
#include <stdint.h>
#include <sys/ioctl.h>
#include <sys/stat.h>
#include <unistd.h>

#define SEGMENT (1024 * 1024 + 4096) /* more than one write of zeros */

/* A new empty file, already unlinked: closing it removes it. */
static int open_temp(void) {
    char path[] = "/tmp/kr-test-prealloc-XXXXXX";
    int fd = mkstemp(path);
    if (fd >= 0)
        unlink(path);
    return fd;
}

/* 1 if some extent of 'fd' is unwritten, 0 if none, -1 if the file system
 * does not say (FIEMAP unsupported, e.g. tmpfs). */
static int has_unwritten_extent(int fd) {
    union {
        struct fiemap map;
        char bytes[sizeof(struct fiemap) + 64 * sizeof(struct fiemap_extent)];
    } u;
    memset(&u, 0, sizeof(u));
    u.map.fm_length = FIEMAP_MAX_OFFSET;
    u.map.fm_flags = FIEMAP_FLAG_SYNC;
    u.map.fm_extent_count = 64;
    if (ioctl(fd, FS_IOC_FIEMAP, &u.map) != 0)
        return -1;
    for (unsigned i = 0; i < u.map.fm_mapped_extents; i++)
        if (u.map.fm_extents[i].fe_flags & FIEMAP_EXTENT_UNWRITTEN)
            return 1;
    return 0;
}

static int all_zero(int fd, off_t from, off_t to) {
    char buf[4096];
    for (off_t pos = from; pos < to;) {
        size_t n = to - pos < (off_t)sizeof(buf) ? (size_t)(to - pos) : sizeof(buf);
        if (pread(fd, buf, n, pos) != (ssize_t)n)
            return 0;
        for (size_t i = 0; i < n; i++)
            if (buf[i] != 0)
                return 0;
        pos += (off_t)n;
    }
    return 1;
}

TEST(a_new_file_is_written_with_zeros) {
    int fd = open_temp();
    CHECK(fd >= 0);
    CHECK_EQ_INT(posix_fallocate(fd, 0, SEGMENT), 0);
    struct stat st;
    CHECK(fstat(fd, &st) == 0);
    CHECK_EQ_INT(st.st_size, SEGMENT);
    CHECK(st.st_blocks * 512 >= SEGMENT); /* allocated, not a sparse file */
    CHECK(all_zero(fd, 0, SEGMENT));
    CHECK(has_unwritten_extent(fd) != 1);
    close(fd);
}

TEST(content_below_the_old_size_is_kept) {
    int fd = open_temp();
    CHECK(fd >= 0);
    CHECK(pwrite(fd, "keyraft", 7, 100) == 7);
    CHECK_EQ_INT(posix_fallocate(fd, 50, 8192), 0);
    struct stat st;
    CHECK(fstat(fd, &st) == 0);
    CHECK_EQ_INT(st.st_size, 50 + 8192);
    char buf[7];
    CHECK(pread(fd, buf, 7, 100) == 7 && memcmp(buf, "keyraft", 7) == 0);
    CHECK(all_zero(fd, 107, 50 + 8192));
    /* A range inside the file changes nothing. */
    CHECK_EQ_INT(posix_fallocate(fd, 0, 200), 0);
    CHECK(fstat(fd, &st) == 0);
    CHECK_EQ_INT(st.st_size, 50 + 8192);
    CHECK(pread(fd, buf, 7, 100) == 7 && memcmp(buf, "keyraft", 7) == 0);
    close(fd);
}

TEST(bad_arguments_are_refused) {
    int fd = open_temp();
    CHECK(fd >= 0);
    CHECK_EQ_INT(posix_fallocate(fd, -1, 10), EINVAL);
    CHECK_EQ_INT(posix_fallocate(fd, 0, 0), EINVAL);
    CHECK_EQ_INT(posix_fallocate(fd, INT64_MAX, 10), EFBIG);
    close(fd);
    CHECK_EQ_INT(posix_fallocate(fd, 0, 10), EBADF);
}
