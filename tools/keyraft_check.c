/* keyraft-check: verifies a keyraft data directory offline, as
 * redis-check-aof and redis-check-rdb do for Redis.
 *
 *   keyraft-check [--fix [--yes]] [--dbfilename NAME] <dir>
 *
 * <dir> is the server's `dir` (holding raft/ and the dump file) or the Raft
 * directory itself. Every file of the Raft log (raft/logfile.h: metadata,
 * segments batch by batch with their checksums, every entry decoded,
 * index continuity, snapshots and their payloads) and the dump file
 * (storage/snapshot.h, fully decoded) and the member file
 * (<dir>/keyraft.member) get one line each: OK, or the first damage with
 * its byte offset and reason. Then a summary.
 *
 * Exit status: 0 when everything is sound, 1 when anything is damaged (a
 * torn tail included), 2 on a usage error. --fix cuts a torn tail of the
 * last open segment (the one repair that loses no acknowledged write) after
 * asking, or without asking with --yes; nothing else is ever changed.
 *
 * Owns the command line and the report; the checks are raft/logfile's and
 * storage/snapshot's. */
#include "raft/logfile.h"
#include "storage/keyspace.h"
#include "storage/types.h"
#include "storage/snapshot.h"

#include <errno.h>
#include <fcntl.h>
#include <inttypes.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#define EXIT_SOUND   0
#define EXIT_DAMAGED 1
#define EXIT_USAGE   2

/* ---- Decoding datasets (raft snapshot payloads and the dump file) ---- */

/* Decodes a whole dataset and throws it away. Returns 0, or -1 with the
 * offset and reason. */
static int decode_dataset(const void *buf, size_t len, uint64_t *offset, char *why, size_t whylen,
                          uint64_t *keys) {
    struct snapshot_loader *l =
        snapshot_loader_new(buf, len, SNAPSHOT_MAX_DBS, &snapshot_default_params);
    if (l == NULL) {
        *offset = 0;
        snprintf(why, whylen, "out of memory");
        return -1;
    }
    struct snapshot_error err;
    int rc;
    while ((rc = snapshot_loader_step(l, 1 << 20, &err)) == SNAPSHOT_AGAIN)
        ;
    if (rc != SNAPSHOT_OK) {
        *offset = err.offset;
        snprintf(why, whylen, "%s (%s)", err.msg, snapshot_strerror(rc));
    } else if (keys != NULL) {
        *keys = snapshot_loader_keys(l);
    }
    snapshot_loader_free(l);
    return rc == SNAPSHOT_OK ? 0 : -1;
}

static int check_payload(void *arg, const void *buf, size_t len, uint64_t *offset, char *why,
                         size_t whylen) {
    (void)arg;
    return decode_dataset(buf, len, offset, why, whylen, NULL);
}

/* ---- Report ---- */

static const char *state_word(enum logfile_state s) {
    switch (s) {
    case LOGFILE_SOUND:
    case LOGFILE_UNUSED:
        return "OK";
    case LOGFILE_TORN_TAIL:
        return "TORN TAIL";
    case LOGFILE_DAMAGED:
        return "DAMAGED";
    default:
        return "IGNORED";
    }
}

static void print_file(const char *prefix, const struct logfile_file *f) {
    printf("%s%s: %s", prefix, f->name, state_word(f->state));
    switch (f->state) {
    case LOGFILE_SOUND:
        if (f->kind == LOGFILE_CLOSED_SEGMENT || f->kind == LOGFILE_OPEN_SEGMENT)
            printf(", entries %" PRIu64 "..%" PRIu64, f->first_index, f->last_index);
        else if (f->kind == LOGFILE_SNAPSHOT_META || f->kind == LOGFILE_SNAPSHOT_DATA)
            printf(", snapshot of term %" PRIu64 " up to index %" PRIu64, f->snapshot_term,
                   f->snapshot_index);
        break;
    case LOGFILE_UNUSED:
    case LOGFILE_IGNORED:
        printf(" (not read by the server: %s)", f->reason);
        break;
    default:
        printf(" at byte %" PRIu64 ": %s", f->offset, f->reason);
        break;
    }
    printf("\n");
}

static bool is_dir(const char *path) {
    struct stat st;
    return stat(path, &st) == 0 && S_ISDIR(st.st_mode);
}

static bool file_exists(const char *path) {
    struct stat st;
    return stat(path, &st) == 0;
}

/* Checks the dump file. Returns true when it is sound (or absent). */
static bool check_dump(const char *path, const char *shown) {
    int fd = open(path, O_RDONLY);
    if (fd < 0) {
        printf("%s: DAMAGED at byte 0: can't open: %s\n", shown, strerror(errno));
        return false;
    }
    struct stat st;
    if (fstat(fd, &st) != 0) {
        printf("%s: DAMAGED at byte 0: can't stat: %s\n", shown, strerror(errno));
        close(fd);
        return false;
    }
    size_t len = (size_t)st.st_size, got = 0;
    unsigned char *buf = malloc(len ? len : 1);
    while (buf != NULL && got < len) {
        ssize_t n = read(fd, buf + got, len - got);
        if (n < 0 && errno == EINTR)
            continue;
        if (n <= 0)
            break;
        got += (size_t)n;
    }
    close(fd);
    if (buf == NULL || got != len) {
        printf("%s: DAMAGED at byte %zu: can't read it\n", shown, got);
        free(buf);
        return false;
    }
    uint64_t offset = 0, keys = 0;
    char why[256];
    bool ok = decode_dataset(buf, len, &offset, why, sizeof(why), &keys) == 0;
    if (ok)
        printf("%s: OK, %" PRIu64 " keys\n", shown, keys);
    else
        printf("%s: DAMAGED at byte %" PRIu64 ": %s\n", shown, offset, why);
    free(buf);
    return ok;
}

/* Checks <dir>/keyraft.member ("<member id> bootstrapped|joined", see
 * node/shard.c). Returns true when it is sound. */
static bool check_member_file(const char *path) {
    FILE *f = fopen(path, "r");
    if (f == NULL) {
        printf("keyraft.member: DAMAGED at byte 0: can't open: %s\n", strerror(errno));
        return false;
    }
    char how[32] = "";
    uint64_t id = 0;
    int fields = fscanf(f, "%" SCNu64 " %31s", &id, how);
    fclose(f);
    if (fields != 2 || id == 0 ||
        (strcmp(how, "joined") != 0 && strcmp(how, "bootstrapped") != 0)) {
        printf("keyraft.member: DAMAGED at byte 0: expected \"<member id> bootstrapped|joined\"\n");
        return false;
    }
    printf("keyraft.member: OK, member %" PRIu64 ", %s\n", id, how);
    return true;
}

static bool confirm(const struct logfile_file *f) {
    printf("This will cut %s at byte %" PRIu64 ", dropping %" PRIu64
           " bytes that were never acknowledged.\nContinue? [y/N]: ",
           f->name, f->offset, f->size - f->offset);
    fflush(stdout);
    char answer[16];
    return fgets(answer, sizeof(answer), stdin) != NULL && (answer[0] == 'y' || answer[0] == 'Y');
}

static void usage(void) {
    fprintf(stderr,
            "Usage: keyraft-check [--fix [--yes]] [--dbfilename NAME] <dir>\n"
            "  <dir>          the server's dir (with raft/ and the dump file) or its raft/\n"
            "  --fix          cut a torn tail of the last open log segment\n"
            "  --yes          with --fix: do not ask for confirmation\n"
            "  --dbfilename   the dump file's name in <dir> (default dump.rdb)\n");
}

/* Runs the Raft directory check and prints a line per file. Returns the
 * exit status; fills 'rep' (the caller frees it, also after an error). */
static int check_raft(const char *raft_dir, const char *prefix, struct logfile_report *rep) {
    char err[512];
    int rc = logfile_check_dir(raft_dir, check_payload, NULL, rep, err, sizeof(err));
    if (rc != LOGFILE_OK) {
        printf("%s: can't be checked: %s\n", raft_dir, err);
        return EXIT_DAMAGED;
    }
    for (size_t i = 0; i < rep->nfiles; i++)
        print_file(prefix, &rep->files[i]);
    return rep->damaged > 0 || rep->torn != NULL ? EXIT_DAMAGED : EXIT_SOUND;
}

int main(int argc, char **argv) {
    bool fix = false, yes = false;
    const char *dir = NULL, *dbfilename = "dump.rdb";
    for (int i = 1; i < argc; i++) {
        if (strcmp(argv[i], "--fix") == 0) {
            fix = true;
        } else if (strcmp(argv[i], "--yes") == 0) {
            yes = true;
        } else if (strcmp(argv[i], "--dbfilename") == 0 && i + 1 < argc) {
            dbfilename = argv[++i];
        } else if (strcmp(argv[i], "--help") == 0 || strcmp(argv[i], "-h") == 0) {
            usage();
            return EXIT_SOUND;
        } else if (argv[i][0] == '-' || dir != NULL) {
            usage();
            return EXIT_USAGE;
        } else {
            dir = argv[i];
        }
    }
    if (dir == NULL || (yes && !fix) || strchr(dbfilename, '/') != NULL) {
        usage();
        return EXIT_USAGE;
    }
    if (!is_dir(dir)) {
        fprintf(stderr, "keyraft-check: %s is not a directory\n", dir);
        return EXIT_USAGE;
    }
    storage_register_types();

    /* The server's dir, or its raft/ directly. */
    char raft_dir[4200], dump[4200], shown_dump[4300];
    snprintf(raft_dir, sizeof(raft_dir), "%s/raft", dir);
    const char *prefix = "raft/";
    bool has_dump = false;
    if (!is_dir(raft_dir)) {
        char probe[4200];
        snprintf(probe, sizeof(probe), "%s/metadata1", dir);
        bool is_raft = file_exists(probe);
        snprintf(probe, sizeof(probe), "%s/metadata2", dir);
        is_raft |= file_exists(probe);
        if (is_raft) {
            snprintf(raft_dir, sizeof(raft_dir), "%s", dir);
            prefix = "";
        } else {
            raft_dir[0] = '\0';
        }
    }
    if (prefix[0] != '\0') {
        snprintf(dump, sizeof(dump), "%s/%s", dir, dbfilename);
        snprintf(shown_dump, sizeof(shown_dump), "%s", dbfilename);
        has_dump = file_exists(dump);
    }

    int status = EXIT_SOUND;
    struct logfile_report rep = {0};
    if (raft_dir[0] != '\0')
        status = check_raft(raft_dir, prefix, &rep);
    if (has_dump && !check_dump(dump, shown_dump))
        status = EXIT_DAMAGED;
    char member[4200];
    snprintf(member, sizeof(member), "%s/keyraft.member", dir);
    bool member_damaged = prefix[0] != '\0' && file_exists(member) && !check_member_file(member);
    if (member_damaged)
        status = EXIT_DAMAGED;

    if (fix && rep.torn != NULL) {
        if (!yes && !confirm(rep.torn)) {
            printf("Not fixed.\n");
        } else {
            char err[512];
            char name[sizeof(rep.torn->name)];
            snprintf(name, sizeof(name), "%s", rep.torn->name);
            uint64_t at = rep.torn->offset;
            if (logfile_cut_torn_tail(raft_dir, &rep, err, sizeof(err)) != LOGFILE_OK) {
                printf("Fix failed: %s\n", err);
            } else {
                printf("Cut %s%s at byte %" PRIu64 ". Checking again:\n", prefix, name, at);
                logfile_report_free(&rep);
                status = check_raft(raft_dir, prefix, &rep);
                if ((has_dump && !check_dump(dump, shown_dump)) || member_damaged)
                    status = EXIT_DAMAGED;
            }
        }
    }

    if (raft_dir[0] == '\0' && !has_dump)
        printf("Summary: no Raft log (%s/raft) and no %s in %s: nothing to check\n", dir,
               dbfilename, dir);
    else if (raft_dir[0] != '\0')
        printf("Summary: Raft log %s: %zu files, last index %" PRIu64 ", term %" PRIu64
               ", snapshot at index %" PRIu64 " (0: none); %zu damaged%s\n",
               raft_dir, rep.nfiles, rep.last_index, rep.term, rep.snapshot_index, rep.damaged,
               rep.torn != NULL ? ", 1 torn tail (keyraft-server cuts it at startup, --fix "
                                  "cuts it now)"
                                : "");
    printf("keyraft-check: %s\n", status == EXIT_SOUND ? "OK" : "DAMAGED");
    logfile_report_free(&rep);
    return status;
}
