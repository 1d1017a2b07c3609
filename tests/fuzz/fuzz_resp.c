/* libFuzzer target for the RESP request parser (resp/parser.h).
 *
 * Each input is parsed twice: whole, and delivered in pieces split at
 * pseudo-random points derived from the input, the way a socket delivers it.
 * Every piece lives in an exact-size heap copy that is freed when the next
 * one arrives, so AddressSanitizer catches any read past the bytes handed in
 * and any pointer kept across calls. Checked on every result:
 *   - the return code is one of the documented ones;
 *   - RESP_OK / RESP_EMPTY consume at least one and at most 'len' bytes;
 *   - RESP_OK has argc >= 1 and every argument lies inside the consumed bytes;
 *   - RESP_EPROTO sets a non-empty errmsg;
 *   - both deliveries yield the same commands and the same final outcome
 *     (for inputs within RESP_INLINE_MAX_SIZE, where Redis's "too big" limits
 *     cannot depend on how the bytes were split).
 * The parser settings (proto-max-bulk-len, authenticated or not) are derived
 * from the input too, so every mutation may explore another of them. */
#include "resp/parser.h"

#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

#define CHECK(cond)                                                                                \
    do {                                                                                           \
        if (!(cond)) {                                                                             \
            fprintf(stderr, "fuzz_resp: check failed at line %d: %s\n", __LINE__, #cond);          \
            abort();                                                                               \
        }                                                                                          \
    } while (0)

/* What one delivery of the input produced. */
struct outcome {
    uint64_t digest; /* FNV-1a over every command's arguments, in order */
    size_t commands; /* RESP_OK results */
    size_t empties;  /* RESP_EMPTY results */
    int final_rc;    /* RESP_AGAIN (input ended mid-command) or RESP_EPROTO */
    char error[96];  /* errmsg of the final RESP_EPROTO */
};

static uint64_t fnv1a(uint64_t h, const void *p, size_t len) {
    const uint8_t *b = p;
    for (size_t i = 0; i < len; i++) {
        h ^= b[i];
        h *= 0x100000001b3ULL;
    }
    return h;
}

static uint64_t next_random(uint64_t *state) {
    uint64_t z = (*state += 0x9e3779b97f4a7c15ULL);
    z = (z ^ (z >> 30)) * 0xbf58476d1ce4e5b9ULL;
    z = (z ^ (z >> 27)) * 0x94d049bb133111ebULL;
    return z ^ (z >> 31);
}

static void check_result(const struct resp_parser *p, int rc, const char *buf, size_t len) {
    CHECK(rc == RESP_OK || rc == RESP_AGAIN || rc == RESP_EMPTY || rc == RESP_EPROTO);
    if (rc == RESP_OK || rc == RESP_EMPTY) {
        CHECK(p->consumed >= 1);
        CHECK(p->consumed <= len);
    }
    if (rc == RESP_OK) {
        CHECK(p->argc >= 1);
        for (int i = 0; i < p->argc; i++) {
            CHECK(p->argv[i] >= buf);
            CHECK(p->argvlen[i] <= p->consumed);
            CHECK(p->argv[i] + p->argvlen[i] <= buf + p->consumed);
        }
    }
    if (rc == RESP_EPROTO)
        CHECK(p->errmsg != NULL && p->errmsg[0] != '\0');
}

/* Delivers 'data' in pieces ending at successive split points (the last
 * piece ends at 'size'; 'max_piece' 0 means all at once) and parses as the
 * server does: consume complete commands, keep the unconsumed tail. */
static void deliver(const uint8_t *data, size_t size, long long max_bulk_len, bool is_authenticated,
                    uint64_t split_seed, size_t max_piece, struct outcome *out) {
    struct resp_parser p;
    resp_parser_init(&p, max_bulk_len);
    p.is_authenticated = is_authenticated;
    memset(out, 0, sizeof(*out));
    out->digest = 0xcbf29ce484222325ULL;
    out->final_rc = RESP_AGAIN;

    size_t start = 0;   /* first byte of 'data' not yet consumed */
    size_t arrived = 0; /* bytes of 'data' delivered so far */
    char *buf = NULL;   /* exact-size copy of data[start, arrived) */
    while (arrived < size) {
        size_t piece = size - arrived;
        if (max_piece > 0)
            piece = 1 + (size_t)(next_random(&split_seed) % max_piece);
        arrived = piece < size - arrived ? arrived + piece : size;
        free(buf);
        buf = malloc(arrived - start + 1);
        CHECK(buf != NULL);
        memcpy(buf, data + start, arrived - start);
        size_t offset = 0; /* consumed within 'buf' */
        for (;;) {
            size_t len = arrived - start - offset;
            if (len == 0)
                break;
            int rc = resp_parse(&p, buf + offset, len);
            check_result(&p, rc, buf + offset, len);
            if (rc == RESP_AGAIN)
                break;
            if (rc == RESP_EPROTO) {
                out->final_rc = RESP_EPROTO;
                snprintf(out->error, sizeof(out->error), "%s", p.errmsg);
                goto done;
            }
            if (rc == RESP_OK) {
                out->commands++;
                out->digest = fnv1a(out->digest, &p.argc, sizeof(p.argc));
                for (int i = 0; i < p.argc; i++) {
                    out->digest = fnv1a(out->digest, &p.argvlen[i], sizeof(p.argvlen[i]));
                    out->digest = fnv1a(out->digest, p.argv[i], p.argvlen[i]);
                }
            } else {
                out->empties++;
            }
            offset += p.consumed;
        }
        /* Keep only the unconsumed tail, as the server's compaction does. */
        start += offset;
        if (start == arrived) {
            free(buf);
            buf = NULL;
        } else {
            char *tail = malloc(arrived - start);
            CHECK(tail != NULL);
            memcpy(tail, buf + offset, arrived - start);
            free(buf);
            buf = tail;
        }
    }
done:
    free(buf);
    resp_parser_close(&p);
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size) {
    uint64_t seed = fnv1a(0xcbf29ce484222325ULL, data, size);
    static const long long bulk_limits[] = {512LL * 1024 * 1024, 1024 * 1024, 16, 0};
    long long max_bulk_len = bulk_limits[seed & 3];
    bool is_authenticated = (seed >> 2) & 1;

    struct outcome whole, split;
    deliver(data, size, max_bulk_len, is_authenticated, seed, 0, &whole);
    size_t max_piece = 1 + (size_t)((seed >> 3) % 64);
    deliver(data, size, max_bulk_len, is_authenticated, seed >> 9, max_piece, &split);

    if (size <= RESP_INLINE_MAX_SIZE) {
        CHECK(whole.commands == split.commands);
        CHECK(whole.empties == split.empties);
        CHECK(whole.digest == split.digest);
        CHECK(whole.final_rc == split.final_rc);
        if (whole.final_rc == RESP_EPROTO)
            CHECK(strcmp(whole.error, split.error) == 0);
    }
    return 0;
}
