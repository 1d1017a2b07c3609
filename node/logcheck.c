/* The startup check of the Raft directory (see logcheck.h): runs
 * raft/logfile's check, cuts a torn tail, and logs damage. The decoding is
 * raft/logfile's; a snapshot's payload is checked here only as far as its
 * header and CRC-64 (restoring it decodes the rest, and refuses damage). */
#include "node/logcheck.h"

#include "node/log.h"
#include "raft/logfile.h"
#include "storage/crc64.h"
#include "storage/snapshot.h"

#include <inttypes.h>
#include <stdio.h>
#include <string.h>

static uint64_t le64(const unsigned char *p) {
    uint64_t v = 0;
    for (int i = 7; i >= 0; i--)
        v = (v << 8) | p[i];
    return v;
}

/* A snapshot payload is storage/snapshot's dataset format: magic and
 * version, body, CRC-64 of both. */
static int check_payload(void *arg, const void *buf, size_t len, uint64_t *offset, char *why,
                         size_t whylen) {
    (void)arg;
    const unsigned char *p = buf;
    *offset = 0;
    if (len < SNAPSHOT_HEADER_BYTES + SNAPSHOT_FOOTER_BYTES ||
        memcmp(p, SNAPSHOT_MAGIC, strlen(SNAPSHOT_MAGIC)) != 0) {
        snprintf(why, whylen, "not a keyraft snapshot");
        return -1;
    }
    unsigned version = p[6] | (unsigned)p[7] << 8;
    if (version != SNAPSHOT_FORMAT_VERSION) {
        *offset = 6;
        snprintf(why, whylen, "snapshot format version %u (expected %d)", version,
                 SNAPSHOT_FORMAT_VERSION);
        return -1;
    }
    size_t body_end = len - SNAPSHOT_FOOTER_BYTES;
    if (le64(p + body_end) != crc64(0, p, body_end)) {
        *offset = body_end;
        snprintf(why, whylen, "snapshot checksum mismatch: the file is damaged");
        return -1;
    }
    return 0;
}

int logcheck_raft_dir(const char *raft_dir) {
    struct logfile_report rep;
    char err[512];
    int rc = logfile_check_dir(raft_dir, check_payload, NULL, &rep, err, sizeof(err));
    if (rc != LOGFILE_OK) {
        log_warning("Can't check the Raft log in %s: %s. Exiting.", raft_dir, err);
        logfile_report_free(&rep);
        return -1;
    }
    for (size_t i = 0; i < rep.nfiles; i++) {
        const struct logfile_file *f = &rep.files[i];
        if (f->state == LOGFILE_DAMAGED)
            log_warning("Bad Raft log file %s/%s at byte %" PRIu64 ": %s", raft_dir, f->name,
                        f->offset, f->reason);
    }
    if (rep.damaged > 0) {
        log_warning("The Raft log in %s is damaged (%zu file%s): refusing to start rather than "
                    "lose or change acknowledged writes. keyraft-check <dir> reports every file. "
                    "Exiting.",
                    raft_dir, rep.damaged, rep.damaged == 1 ? "" : "s");
        logfile_report_free(&rep);
        return -1;
    }
    if (rep.torn != NULL) {
        const struct logfile_file *f = rep.torn;
        log_warning("Raft log file %s/%s: %s. Cutting it at byte %" PRIu64
                    "; the log keeps the entries up to index %" PRIu64,
                    raft_dir, f->name, f->reason, f->offset,
                    f->entries > 0 ? f->last_index : f->first_index - 1);
        if (logfile_cut_torn_tail(raft_dir, &rep, err, sizeof(err)) != LOGFILE_OK) {
            log_warning("Can't cut the torn tail: %s. Exiting.", err);
            logfile_report_free(&rep);
            return -1;
        }
    }
    logfile_report_free(&rep);
    return 0;
}
