/* libFuzzer target for the Raft entry decoder (raft/entry.c): any input is
 * either rejected as a whole or decodes to commands whose arguments lie
 * inside the input; a decoded entry re-encodes to an entry that decodes to
 * the same commands. */
#include "raft/entry.h"

#include <stdint.h>
#include <stdlib.h>
#include <string.h>

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size) {
    /* An exact-size copy, so reading past the end is caught by ASan. */
    uint8_t *buf = malloc(size ? size : 1);
    memcpy(buf, data, size);
    struct entry_reader r;
    if (entry_reader_init(&r, buf, size) != ENTRY_OK) {
        if (r.errmsg == NULL)
            abort();
        entry_reader_close(&r);
        free(buf);
        return 0;
    }
    struct entry_writer *w = entry_writer_new(r.origin, r.seq, r.now_ms, r.seed);
    struct entry_command cmd;
    size_t n = 0;
    int rc;
    while ((rc = entry_reader_next(&r, &cmd)) == 1) {
        for (int i = 0; i < cmd.argc; i++)
            if ((uint8_t *)cmd.argv[i] < buf ||
                (uint8_t *)cmd.argv[i] + cmd.argvlen[i] > buf + size)
                abort();
        if (w != NULL && entry_writer_add(w, cmd.db, cmd.argc, cmd.argv, cmd.argvlen) != 0)
            abort();
        n++;
    }
    if (rc != 0 || n != r.count)
        abort();
    void *again;
    size_t again_len;
    if (w != NULL && entry_writer_finish(w, &again, &again_len) == ENTRY_OK) {
        struct entry_reader r2;
        if (entry_reader_init(&r2, again, again_len) != ENTRY_OK || r2.count != r.count ||
            r2.now_ms != r.now_ms || r2.seed != r.seed)
            abort();
        entry_reader_close(&r2);
        free(again);
    }
    entry_reader_close(&r);
    free(buf);
    return 0;
}
