/* Offline checks of a canonical/raft 0.15 data directory (see logfile.h):
 * listing it, reading each file for its decoder (logfile_decode.c), the
 * checks across files (index continuity, terms, the metadata pair, which
 * snapshot counts) and cutting a torn tail. It never hands anything to the
 * library, never repairs anything but a torn tail, and never prints. */
#include "raft/logfile.h"
#include "raft/logfile_format.h"

#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <inttypes.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <sys/stat.h>
#include <unistd.h>

const char *logfile_strerror(int code) {
    switch (code) {
#define X(name, value, text)                                                                       \
    case value:                                                                                    \
        return text;
        LOGFILE_ERRORS(X)
#undef X
    default:
        return "unknown logfile error";
    }
}

/* ---- The directory ---- */

static bool parse_u64(const char **p, uint64_t *v) {
    const char *s = *p;
    if (*s < '0' || *s > '9')
        return false;
    uint64_t n = 0;
    for (; *s >= '0' && *s <= '9'; s++) {
        if (n > (UINT64_MAX - 9) / 10)
            return false;
        n = n * 10 + (uint64_t)(*s - '0');
    }
    *p = s;
    *v = n;
    return true;
}

/* Recognises the library's file names (its sscanf templates, strictly). */
static void classify(struct logfile_file *f) {
    const char *s = f->name;
    uint64_t a, b, c;
    f->kind = LOGFILE_OTHER;
    if (strcmp(s, "metadata1") == 0 || strcmp(s, "metadata2") == 0) {
        f->kind = LOGFILE_METADATA;
    } else if (strncmp(s, "open-", 5) == 0) {
        s += 5;
        if (parse_u64(&s, &a) && *s == '\0') {
            f->kind = LOGFILE_OPEN_SEGMENT;
            f->counter = a;
        }
    } else if (strncmp(s, "snapshot-", 9) == 0) {
        s += 9;
        if (parse_u64(&s, &a) && *s++ == '-' && parse_u64(&s, &b) && *s++ == '-' &&
            parse_u64(&s, &c)) {
            f->snapshot_term = a;
            f->snapshot_index = b;
            f->snapshot_timestamp = c;
            if (*s == '\0')
                f->kind = LOGFILE_SNAPSHOT_DATA;
            else if (strcmp(s, ".meta") == 0)
                f->kind = LOGFILE_SNAPSHOT_META;
        }
    } else if (parse_u64(&s, &a) && *s++ == '-' && parse_u64(&s, &b) && *s == '\0' &&
               strlen(f->name) == 33) {
        f->kind = LOGFILE_CLOSED_SEGMENT;
        f->first_index = a;
        f->last_index = b;
    }
}

static int kind_rank(enum logfile_kind k) {
    switch (k) {
    case LOGFILE_METADATA:
        return 0;
    case LOGFILE_SNAPSHOT_META:
    case LOGFILE_SNAPSHOT_DATA:
        return 1;
    case LOGFILE_CLOSED_SEGMENT:
        return 2;
    case LOGFILE_OPEN_SEGMENT:
        return 3;
    default:
        return 4;
    }
}

static int cmp_u64(uint64_t a, uint64_t b) {
    return a < b ? -1 : a > b;
}

static int compare_files(const void *pa, const void *pb) {
    const struct logfile_file *a = pa, *b = pb;
    int c = kind_rank(a->kind) - kind_rank(b->kind);
    if (c != 0)
        return c;
    switch (a->kind) {
    case LOGFILE_SNAPSHOT_META:
    case LOGFILE_SNAPSHOT_DATA:
        if ((c = cmp_u64(a->snapshot_term, b->snapshot_term)) != 0 ||
            (c = cmp_u64(a->snapshot_index, b->snapshot_index)) != 0 ||
            (c = cmp_u64(a->snapshot_timestamp, b->snapshot_timestamp)) != 0)
            return c;
        return a->kind == LOGFILE_SNAPSHOT_META ? -1 : 1;
    case LOGFILE_CLOSED_SEGMENT:
        if ((c = cmp_u64(a->first_index, b->first_index)) != 0)
            return c;
        return cmp_u64(a->last_index, b->last_index);
    case LOGFILE_OPEN_SEGMENT:
        return cmp_u64(a->counter, b->counter);
    default:
        return strcmp(a->name, b->name);
    }
}

static void join(char *buf, size_t len, const char *dir, const char *name) {
    snprintf(buf, len, "%s/%s", dir, name);
}

/* Reads a whole file. Returns 0 with an owned '*buf' (free(); NULL when
 * empty), or LOGFILE_EIO / LOGFILE_ENOMEM with the reason in 'errmsg'. */
static int read_file(const char *dir, const char *name, uint8_t **buf, size_t *len, char *errmsg,
                     size_t errlen) {
    char path[4200];
    join(path, sizeof(path), dir, name);
    *buf = NULL;
    *len = 0;
    int fd = open(path, O_RDONLY);
    struct stat st;
    if (fd < 0 || fstat(fd, &st) != 0) {
        snprintf(errmsg, errlen, "can't read %s: %s", path, strerror(errno));
        if (fd >= 0)
            close(fd);
        return LOGFILE_EIO;
    }
    size_t size = (size_t)st.st_size;
    uint8_t *data = size > 0 ? malloc(size) : NULL;
    if (size > 0 && data == NULL) {
        close(fd);
        snprintf(errmsg, errlen, "out of memory reading %s (%zu bytes)", path, size);
        return LOGFILE_ENOMEM;
    }
    size_t got = 0;
    while (got < size) {
        ssize_t n = read(fd, data + got, size - got);
        if (n < 0 && errno == EINTR)
            continue;
        if (n <= 0) {
            snprintf(errmsg, errlen, "can't read %s: %s", path,
                     n < 0 ? strerror(errno) : "it shrank while being read");
            free(data);
            close(fd);
            return LOGFILE_EIO;
        }
        got += (size_t)n;
    }
    close(fd);
    *buf = data;
    *len = size;
    return LOGFILE_OK;
}

/* Maps a whole non-empty file read-only (a snapshot can be as large as the
 * dataset: no second copy in memory). Returns 0 with '*map' (munmap) or
 * LOGFILE_EIO with the reason in 'errmsg'. */
static int map_file(const char *dir, const char *name, void **map, size_t *len, char *errmsg,
                    size_t errlen) {
    char path[4200];
    join(path, sizeof(path), dir, name);
    int fd = open(path, O_RDONLY);
    struct stat st;
    const char *why = NULL;
    if (fd < 0 || fstat(fd, &st) != 0)
        why = strerror(errno);
    else if (st.st_size == 0)
        why = "it is empty now";
    if (why != NULL) {
        snprintf(errmsg, errlen, "can't read %s: %s", path, why);
        if (fd >= 0)
            close(fd);
        return LOGFILE_EIO;
    }
    *len = (size_t)st.st_size;
    *map = mmap(NULL, *len, PROT_READ, MAP_PRIVATE, fd, 0);
    close(fd);
    if (*map == MAP_FAILED) {
        snprintf(errmsg, errlen, "can't map %s: %s", path, strerror(errno));
        return LOGFILE_EIO;
    }
    return LOGFILE_OK;
}

static int list_dir(const char *dir, struct logfile_report *r, char *errmsg, size_t errlen) {
    DIR *d = opendir(dir);
    if (d == NULL) {
        if (errno == ENOENT)
            return LOGFILE_OK;
        snprintf(errmsg, errlen, "can't list %s: %s", dir, strerror(errno));
        return LOGFILE_EIO;
    }
    size_t cap = 0;
    int rc = LOGFILE_OK;
    struct dirent *e;
    while ((e = readdir(d)) != NULL) {
        if (strcmp(e->d_name, ".") == 0 || strcmp(e->d_name, "..") == 0)
            continue;
        if (r->nfiles == cap) {
            size_t ncap = cap ? cap * 2 : 16;
            struct logfile_file *nf = realloc(r->files, ncap * sizeof(*nf));
            if (nf == NULL) {
                rc = LOGFILE_ENOMEM;
                break;
            }
            r->files = nf;
            cap = ncap;
        }
        struct logfile_file *f = &r->files[r->nfiles++];
        memset(f, 0, sizeof(*f));
        size_t namelen = strnlen(e->d_name, sizeof(f->name));
        memcpy(f->name, e->d_name, namelen < sizeof(f->name) ? namelen : sizeof(f->name) - 1);
        if (namelen >= sizeof(f->name))
            f->kind = LOGFILE_OTHER; /* longer than any name the library writes */
        else
            classify(f);
        char path[4200];
        struct stat st;
        join(path, sizeof(path), dir, f->name);
        if (stat(path, &st) == 0)
            f->size = (uint64_t)st.st_size;
        if (f->kind == LOGFILE_OTHER && strncmp(f->name, "corrupt-", 8) == 0)
            /* The entries in it are missing from the log the library reads. */
            logfile_note(f, LOGFILE_DAMAGED, 0,
                         "set aside by libraft's auto-recovery after damage: its entries are "
                         "missing from the log (move it away once the data is restored)");
        else if (f->kind == LOGFILE_OTHER)
            logfile_note(f, LOGFILE_IGNORED, 0, "not a file the Raft library reads");
    }
    closedir(d);
    if (rc != LOGFILE_OK)
        snprintf(errmsg, errlen, "out of memory listing %s", dir);
    return rc;
}

/* A metadata file the other one implies, missing. */
static int add_missing(struct logfile_report *r, const char *name, const char *why) {
    struct logfile_file *nf = realloc(r->files, (r->nfiles + 1) * sizeof(*nf));
    if (nf == NULL)
        return LOGFILE_ENOMEM;
    r->files = nf;
    struct logfile_file *f = &r->files[r->nfiles++];
    memset(f, 0, sizeof(*f));
    snprintf(f->name, sizeof(f->name), "%s", name);
    f->kind = LOGFILE_METADATA;
    logfile_note(f, LOGFILE_DAMAGED, 0, "missing (%s)", why);
    return LOGFILE_OK;
}

static struct logfile_file *find(struct logfile_report *r, const char *name) {
    for (size_t i = 0; i < r->nfiles; i++)
        if (strcmp(r->files[i].name, name) == 0)
            return &r->files[i];
    return NULL;
}

static int check_metadata(const char *dir, struct logfile_report *r, char *errmsg, size_t errlen) {
    struct logfile_metadata m[2] = {{0}, {0}};
    for (int i = 0; i < 2; i++) {
        char name[16];
        snprintf(name, sizeof(name), "metadata%d", i + 1);
        struct logfile_file *f = find(r, name);
        if (f == NULL)
            continue;
        uint8_t *buf;
        size_t len;
        int rc = read_file(dir, name, &buf, &len, errmsg, errlen);
        if (rc != LOGFILE_OK)
            return rc;
        logfile_scan_metadata(buf, len, f, &m[i]);
        free(buf);
        /* The library writes odd versions to metadata1, even ones to metadata2. */
        if (f->state == LOGFILE_SOUND && m[i].version % 2 != (uint64_t)(i == 0))
            logfile_note(f, LOGFILE_DAMAGED, 8, "version %" PRIu64 " belongs in metadata%d",
                         m[i].version, i == 0 ? 2 : 1);
    }
    struct logfile_file *f1 = find(r, "metadata1"), *f2 = find(r, "metadata2");
    if ((f1 != NULL && f1->state != LOGFILE_SOUND) || (f2 != NULL && f2->state != LOGFILE_SOUND))
        return LOGFILE_OK;
    if (!m[0].present && !m[1].present)
        return LOGFILE_OK;
    int newer = m[0].version > m[1].version ? 0 : 1;
    /* Each save writes the next version to the other file (0.15 writes
     * metadata2 only with version 2), so the two are always consecutive. */
    uint64_t diff = m[newer].version - m[1 - newer].version;
    if (m[0].present && m[1].present && diff != 1) {
        struct logfile_file *f = newer == 0 ? f1 : f2;
        logfile_note(f, LOGFILE_DAMAGED, 8,
                     "version %" PRIu64 ", but metadata%d holds %" PRIu64
                     " (consecutive versions expected)",
                     m[newer].version, 2 - newer, m[1 - newer].version);
        return LOGFILE_OK;
    }
    r->term = m[newer].term;
    r->voted_for = m[newer].voted_for;
    r->metadata_version = m[newer].version;
    return LOGFILE_OK;
}

static int check_snapshots(const char *dir, logfile_payload_fn payload, void *payload_arg,
                           struct logfile_report *r, char *errmsg, size_t errlen) {
    struct logfile_file *latest = NULL;
    for (size_t i = 0; i < r->nfiles; i++) {
        struct logfile_file *meta = &r->files[i];
        if (meta->kind != LOGFILE_SNAPSHOT_META && meta->kind != LOGFILE_SNAPSHOT_DATA)
            continue;
        /* Sorted: a .meta comes right before its data file. */
        struct logfile_file *data = NULL;
        if (meta->kind == LOGFILE_SNAPSHOT_META && i + 1 < r->nfiles &&
            r->files[i + 1].kind == LOGFILE_SNAPSHOT_DATA &&
            compare_files(meta, &r->files[i + 1]) == -1 &&
            meta->snapshot_term == r->files[i + 1].snapshot_term &&
            meta->snapshot_index == r->files[i + 1].snapshot_index &&
            meta->snapshot_timestamp == r->files[i + 1].snapshot_timestamp)
            data = &r->files[++i];
        if (data == NULL || data->size == 0) {
            /* The library writes .meta first, then the data: an interrupted
             * snapshot, which it ignores. */
            logfile_note(meta, LOGFILE_UNUSED, 0, "%s",
                         meta->kind == LOGFILE_SNAPSHOT_META
                             ? "its data file is missing or empty (an interrupted snapshot)"
                             : "no .meta file (the library ignores it)");
            if (data != NULL)
                logfile_note(data, LOGFILE_UNUSED, 0, "empty (an interrupted snapshot)");
            continue;
        }
        uint8_t *buf;
        size_t len;
        int rc = read_file(dir, meta->name, &buf, &len, errmsg, errlen);
        if (rc != LOGFILE_OK)
            return rc;
        uint64_t conf_index;
        logfile_scan_snapshot_meta(buf, len, &conf_index, meta);
        free(buf);
        void *map;
        rc = map_file(dir, data->name, &map, &len, errmsg, errlen);
        if (rc != LOGFILE_OK)
            return rc;
        rc = logfile_scan_snapshot_data(map, len, payload, payload_arg, data);
        munmap(map, len);
        if (rc != LOGFILE_OK) {
            snprintf(errmsg, errlen, "out of memory checking %s/%s", dir, data->name);
            return rc;
        }
        data->snapshot_index = meta->snapshot_index;
        latest = meta; /* sorted: the last pair is the newest */
    }
    if (latest != NULL) {
        r->snapshot_term = latest->snapshot_term;
        r->snapshot_index = latest->snapshot_index;
    }
    return LOGFILE_OK;
}

/* Checks the closed segments in index order against each other and the
 * snapshot. Returns the index after the last entry the log chain holds. */
static int check_closed(const char *dir, struct logfile_report *r, uint64_t *next_index,
                        uint64_t *last_term, char *errmsg, size_t errlen) {
    uint64_t snap = r->snapshot_index;
    struct logfile_file *prev = NULL;
    *next_index = snap + 1;
    for (size_t i = 0; i < r->nfiles; i++) {
        struct logfile_file *f = &r->files[i];
        if (f->kind != LOGFILE_CLOSED_SEGMENT)
            continue;
        uint64_t first = f->first_index, end = f->last_index;
        uint8_t *buf;
        size_t len;
        int rc = read_file(dir, f->name, &buf, &len, errmsg, errlen);
        if (rc != LOGFILE_OK)
            return rc;
        logfile_scan_segment(buf, len, first, false, false, f);
        free(buf);
        if (f->state == LOGFILE_SOUND && (end < first || f->entries != end - first + 1)) {
            logfile_note(f, LOGFILE_DAMAGED, f->size,
                         "holds %" PRIu64 " entries, its name says %" PRIu64 "..%" PRIu64,
                         f->entries, first, end);
        }
        if (f->state != LOGFILE_SOUND) {
            prev = f;
            *next_index = end + 1;
            continue;
        }
        if (prev != NULL && first != *next_index) {
            if (snap > 0 && first <= snap + 1 && first > *next_index) {
                /* Older segments before a gap the snapshot covers: the
                 * library starts from the chain that reaches the snapshot. */
                for (size_t j = 0; j < i; j++)
                    if (r->files[j].kind == LOGFILE_CLOSED_SEGMENT &&
                        r->files[j].state == LOGFILE_SOUND)
                        logfile_note(&r->files[j], LOGFILE_UNUSED, 0,
                                     "older than the snapshot at %" PRIu64 " and not contiguous "
                                     "with the log after it",
                                     snap);
            } else if (first < *next_index) {
                logfile_note(f, LOGFILE_DAMAGED, 0,
                             "starts at index %" PRIu64
                             " but the segment before it ends at %" PRIu64 " (an overlap)",
                             first, *next_index - 1);
            } else {
                uint64_t have = *next_index - 1 > snap ? *next_index - 1 : snap;
                char snapshot[64] = "";
                if (snap > 0)
                    snprintf(snapshot, sizeof(snapshot), " and the snapshot at %" PRIu64, snap);
                logfile_note(f, LOGFILE_DAMAGED, 0,
                             "starts at index %" PRIu64
                             " but the segment before it ends at %" PRIu64 "%s: entries %" PRIu64
                             "..%" PRIu64 " are missing",
                             first, *next_index - 1, snapshot, have + 1, first - 1);
            }
        } else if (prev == NULL && (snap == 0 ? first != 1 : first > snap + 1)) {
            logfile_note(f, LOGFILE_DAMAGED, 0,
                         "the log starts at index %" PRIu64 ", but %s (entries %" PRIu64
                         "..%" PRIu64 " are missing)",
                         first,
                         snap == 0 ? "there is no snapshot" : "the snapshot only reaches that far",
                         snap + 1, first - 1);
        }
        if (f->state == LOGFILE_SOUND && f->first_term < *last_term)
            logfile_note(f, LOGFILE_DAMAGED, LOGFILE_SEGMENT_HEADER_BYTES,
                         "entry %" PRIu64 " has term %" PRIu64 ", lower than the entry before it",
                         first, f->first_term);
        if (f->state == LOGFILE_SOUND)
            *last_term = f->last_term;
        prev = f;
        *next_index = end + 1;
    }
    if (prev != NULL && prev->state == LOGFILE_SOUND && prev->last_index < snap) {
        /* The library discards them all when no open segment follows
         * (uvSegmentFilter), else it reads on. */
        bool has_open = false;
        for (size_t i = 0; i < r->nfiles; i++)
            has_open |= r->files[i].kind == LOGFILE_OPEN_SEGMENT;
        if (!has_open) {
            for (size_t j = 0; j < r->nfiles; j++)
                if (r->files[j].kind == LOGFILE_CLOSED_SEGMENT &&
                    r->files[j].state == LOGFILE_SOUND)
                    logfile_note(&r->files[j], LOGFILE_UNUSED, 0, "behind the snapshot at %" PRIu64,
                                 snap);
            *next_index = snap + 1;
        }
    }
    return LOGFILE_OK;
}

static int check_open(const char *dir, struct logfile_report *r, uint64_t *next_index,
                      uint64_t *last_term, char *errmsg, size_t errlen) {
    size_t first = r->nfiles, n = 0;
    for (size_t i = 0; i < r->nfiles; i++)
        if (r->files[i].kind == LOGFILE_OPEN_SEGMENT) {
            first = i < first ? i : first;
            n++;
        }
    if (n == 0)
        return LOGFILE_OK;
    uint8_t **bufs = calloc(n, sizeof(*bufs));
    size_t *lens = calloc(n, sizeof(*lens));
    int rc = bufs != NULL && lens != NULL ? LOGFILE_OK : LOGFILE_ENOMEM;
    size_t last_written = n;
    for (size_t k = 0; k < n && rc == LOGFILE_OK; k++) {
        rc = read_file(dir, r->files[first + k].name, &bufs[k], &lens[k], errmsg, errlen);
        if (rc == LOGFILE_OK && !all_zero(bufs[k], lens[k]))
            last_written = k;
    }
    for (size_t k = 0; k < n && rc == LOGFILE_OK; k++) {
        struct logfile_file *f = &r->files[first + k];
        logfile_scan_segment(bufs[k], lens[k], *next_index, true, k == last_written, f);
        if (f->entries == 0)
            continue;
        if (f->first_term < *last_term && f->state != LOGFILE_DAMAGED)
            logfile_note(f, LOGFILE_DAMAGED, LOGFILE_SEGMENT_HEADER_BYTES,
                         "entry %" PRIu64 " has term %" PRIu64 ", lower than the entry before it",
                         f->first_index, f->first_term);
        *last_term = f->last_term;
        *next_index += f->entries;
    }
    if (rc == LOGFILE_ENOMEM && bufs == NULL)
        snprintf(errmsg, errlen, "out of memory");
    for (size_t k = 0; bufs != NULL && k < n; k++)
        free(bufs[k]);
    free(bufs);
    free(lens);
    return rc;
}

int logfile_check_dir(const char *dir, logfile_payload_fn payload, void *payload_arg,
                      struct logfile_report *out, char *errmsg, size_t errlen) {
    memset(out, 0, sizeof(*out));
    int rc = list_dir(dir, out, errmsg, errlen);
    if (rc != LOGFILE_OK || out->nfiles == 0)
        return rc; /* an empty directory is a fresh one */
    qsort(out->files, out->nfiles, sizeof(*out->files), compare_files);
    rc = check_metadata(dir, out, errmsg, errlen);
    if (rc == LOGFILE_OK)
        rc = check_snapshots(dir, payload, payload_arg, out, errmsg, errlen);
    uint64_t next_index = 1, last_term = 0;
    if (rc == LOGFILE_OK)
        rc = check_closed(dir, out, &next_index, &last_term, errmsg, errlen);
    if (rc == LOGFILE_OK)
        rc = check_open(dir, out, &next_index, &last_term, errmsg, errlen);
    if (rc != LOGFILE_OK)
        return rc;
    qsort(out->files, out->nfiles, sizeof(*out->files), compare_files);
    out->last_index = next_index - 1;
    if (out->last_index < out->snapshot_index)
        out->last_index = out->snapshot_index;
    uint64_t max_term = last_term > out->snapshot_term ? last_term : out->snapshot_term;
    struct logfile_file *m1 = find(out, "metadata1"), *m2 = find(out, "metadata2");
    if (m1 == NULL && m2 == NULL && max_term > 0) {
        rc = add_missing(out, "metadata1", "the log has entries but no metadata file exists");
        if (rc != LOGFILE_OK)
            return rc;
    } else if (out->term < max_term && out->metadata_version > 0) {
        /* The library saves a term before it writes an entry of that term. */
        struct logfile_file *f = out->metadata_version % 2 == 1 ? m1 : m2;
        logfile_note(f, LOGFILE_DAMAGED, 16,
                     "current term %" PRIu64 " is lower than term %" PRIu64 " in the log",
                     out->term, max_term);
    }
    for (size_t i = 0; i < out->nfiles; i++) {
        if (out->files[i].state == LOGFILE_DAMAGED)
            out->damaged++;
        if (out->files[i].state == LOGFILE_TORN_TAIL)
            out->torn = &out->files[i];
    }
    return LOGFILE_OK;
}

void logfile_report_free(struct logfile_report *r) {
    free(r->files);
    memset(r, 0, sizeof(*r));
}

int logfile_cut_torn_tail(const char *dir, const struct logfile_report *r, char *errmsg,
                          size_t errlen) {
    const struct logfile_file *f = r->torn;
    char path[4200];
    join(path, sizeof(path), dir, f->name);
    /* Without an intact batch the file becomes empty, which the library
     * removes; a lone segment header would be a short read to it. */
    off_t size = f->entries == 0 ? 0 : (off_t)f->offset;
    int fd = open(path, O_WRONLY);
    if (fd < 0 || ftruncate(fd, size) != 0 || fsync(fd) != 0) {
        snprintf(errmsg, errlen, "can't cut %s at byte %lld: %s", path, (long long)size,
                 strerror(errno));
        if (fd >= 0)
            close(fd);
        return LOGFILE_EIO;
    }
    close(fd);
    return LOGFILE_OK;
}
