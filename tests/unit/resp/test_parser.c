/* RESP parser: every request split at every byte offset parses the same,
 * and malformed input gets Redis's error texts. */
#include "resp/parser.h"
#include "tests/unit/lib/test.h"

struct fixture {
    struct resp_parser p;
    char buf[4096];
    size_t len;
};

static void setup(struct fixture *f) {
    resp_parser_init(&f->p, 512 * 1024 * 1024);
    f->len = 0;
}

static void teardown(struct fixture *f) {
    resp_parser_close(&f->p);
}

/* Feeds 'req' in two pieces split at 'split'; returns the final code. */
static int feed_split(struct fixture *f, const char *req, size_t len, size_t split) {
    memcpy(f->buf, req, split);
    f->len = split;
    int rc = resp_parse(&f->p, f->buf, f->len);
    if (rc != RESP_AGAIN)
        return rc;
    memcpy(f->buf + split, req + split, len - split);
    f->len = len;
    return resp_parse(&f->p, f->buf, f->len);
}

TEST(multibulk_every_split) {
    const char *req = "*3\r\n$3\r\nSET\r\n$5\r\nhello\r\n$0\r\n\r\n";
    size_t len = strlen(req);
    for (size_t split = 0; split <= len; split++) {
        struct fixture f;
        setup(&f);
        int rc = feed_split(&f, req, len, split);
        CHECK_EQ_INT(rc, RESP_OK);
        CHECK_EQ_INT(f.p.argc, 3);
        CHECK_MEM(f.p.argv[0], f.p.argvlen[0], "SET");
        CHECK_MEM(f.p.argv[1], f.p.argvlen[1], "hello");
        CHECK_EQ_INT(f.p.argvlen[2], 0);
        CHECK_EQ_INT(f.p.consumed, len);
        teardown(&f);
    }
}

TEST(reset_forgets_a_partial_command) {
    struct fixture f;
    setup(&f);
    char partial[] = "*2\r\n$3\r\nGET\r\n$5\r\nhel";
    CHECK_EQ_INT(resp_parse(&f.p, partial, strlen(partial)), RESP_AGAIN);
    resp_parser_reset(&f.p);
    char other[] = "*1\r\n$4\r\nPING\r\n";
    CHECK_EQ_INT(resp_parse(&f.p, other, strlen(other)), RESP_OK);
    CHECK_EQ_INT(f.p.argc, 1);
    CHECK_MEM(f.p.argv[0], f.p.argvlen[0], "PING");
    CHECK_EQ_INT(f.p.consumed, strlen(other));
    teardown(&f);
}

/* Multi-digit lengths take the parser's short-length path; every split of
 * them must too. */
TEST(multidigit_lengths_every_split) {
    const char *req = "*2\r\n$12\r\nhello world!\r\n$10\r\n0123456789\r\n";
    size_t len = strlen(req);
    for (size_t split = 0; split <= len; split++) {
        struct fixture f;
        setup(&f);
        int rc = feed_split(&f, req, len, split);
        CHECK_EQ_INT(rc, RESP_OK);
        CHECK_EQ_INT(f.p.argc, 2);
        CHECK_MEM(f.p.argv[0], f.p.argvlen[0], "hello world!");
        CHECK_MEM(f.p.argv[1], f.p.argvlen[1], "0123456789");
        CHECK_EQ_INT(f.p.consumed, len);
        teardown(&f);
    }
}

TEST(inline_every_split) {
    const char *req = "set \"a b\" 'c\\'d' \"\\x41\\n\"\r\n";
    size_t len = strlen(req);
    for (size_t split = 0; split <= len; split++) {
        struct fixture f;
        setup(&f);
        int rc = feed_split(&f, req, len, split);
        CHECK_EQ_INT(rc, RESP_OK);
        CHECK_EQ_INT(f.p.argc, 4);
        CHECK_MEM(f.p.argv[1], f.p.argvlen[1], "a b");
        CHECK_MEM(f.p.argv[2], f.p.argvlen[2], "c'd");
        CHECK_MEM(f.p.argv[3], f.p.argvlen[3], "A\n");
        teardown(&f);
    }
}

static const char *error_of(const char *req) {
    static char copy[256];
    struct resp_parser p;
    resp_parser_init(&p, 1024);
    snprintf(copy, sizeof(copy), "%s", req);
    int rc = resp_parse(&p, copy, strlen(copy));
    static char msg[128];
    snprintf(msg, sizeof(msg), "%s", rc == RESP_EPROTO ? p.errmsg : resp_strerror(rc));
    resp_parser_close(&p);
    return msg;
}

TEST(protocol_errors_match_redis) {
    CHECK(strcmp(error_of("*abc\r\n"), "invalid multibulk length") == 0);
    CHECK(strcmp(error_of("*3000000000\r\n"), "invalid multibulk length") == 0);
    CHECK(strcmp(error_of("*01\r\n"), "invalid multibulk length") == 0);
    CHECK(strcmp(error_of("*1\r\n$-5\r\n"), "invalid bulk length") == 0);
    CHECK(strcmp(error_of("*1\r\n$+4\r\n"), "invalid bulk length") == 0);
    CHECK(strcmp(error_of("*1\r\n$2000\r\n"), "invalid bulk length") == 0); /* > max 1024 */
    CHECK(strcmp(error_of("*1\r\n$00\r\n"), "invalid bulk length") == 0);
    CHECK(strcmp(error_of("*1\r\n$12x\r\n"), "invalid bulk length") == 0);
    CHECK(strcmp(error_of("*1\r\n$999999999999999999\r\n"), "invalid bulk length") == 0);
    CHECK(strcmp(error_of("*99999999999999999999\r\n"), "invalid multibulk length") == 0);
    CHECK(strcmp(error_of("*1\r\nx"), "expected '$', got 'x'") == 0);
    CHECK(strcmp(error_of("set \"a b\r\n"), "unbalanced quotes in request") == 0);
    CHECK(strcmp(error_of("echo \"a\"b\r\n"), "unbalanced quotes in request") == 0);
}

TEST(empty_requests_are_skipped) {
    struct fixture f;
    setup(&f);
    strcpy(f.buf, "*0\r\n");
    CHECK_EQ_INT(resp_parse(&f.p, f.buf, 4), RESP_EMPTY);
    CHECK_EQ_INT(f.p.consumed, 4);
    strcpy(f.buf, "*-1\r\n");
    CHECK_EQ_INT(resp_parse(&f.p, f.buf, 5), RESP_EMPTY);
    strcpy(f.buf, "\r\n");
    CHECK_EQ_INT(resp_parse(&f.p, f.buf, 2), RESP_EMPTY);
    teardown(&f);
}

TEST(unauthenticated_limits) {
    struct fixture f;
    setup(&f);
    f.p.is_authenticated = false;
    strcpy(f.buf, "*11\r\n");
    CHECK_EQ_INT(resp_parse(&f.p, f.buf, 5), RESP_EPROTO);
    CHECK(strcmp(f.p.errmsg, "unauthenticated multibulk length") == 0);
    resp_parser_close(&f.p);
    setup(&f);
    f.p.is_authenticated = false;
    strcpy(f.buf, "*1\r\n$16385\r\n");
    CHECK_EQ_INT(resp_parse(&f.p, f.buf, strlen(f.buf)), RESP_EPROTO);
    CHECK(strcmp(f.p.errmsg, "unauthenticated bulk length") == 0);
    teardown(&f);
}

TEST(huge_count_does_not_preallocate) {
    struct fixture f;
    setup(&f);
    strcpy(f.buf, "*2000000000\r\n$1\r\na\r\n");
    CHECK_EQ_INT(resp_parse(&f.p, f.buf, strlen(f.buf)), RESP_AGAIN);
    CHECK(f.p.cap <= 1024);
    teardown(&f);
}

TEST(long_lines_without_newline_are_refused) {
    static char big[RESP_INLINE_MAX_SIZE + 2];
    memset(big, 'a', sizeof(big));
    struct resp_parser p;
    resp_parser_init(&p, 1024);
    CHECK_EQ_INT(resp_parse(&p, big, sizeof(big)), RESP_EPROTO);
    CHECK(strcmp(p.errmsg, "too big inline request") == 0);
    big[0] = '*';
    resp_parser_close(&p);
    resp_parser_init(&p, 1024);
    CHECK_EQ_INT(resp_parse(&p, big, sizeof(big)), RESP_EPROTO);
    CHECK(strcmp(p.errmsg, "too big mbulk count string") == 0);
    resp_parser_close(&p);
}

/* Redis 7.0 finds line ends with strchr(): a NUL before one hides it, so the
 * request waits for more bytes (and fails only past the 64 KB line limit). */
TEST(nul_hides_line_end) {
    static const struct {
        const char *req;
        size_t len;
    } cases[] = {
        {"PING\x00\r\n", 7},
        {"ECHO \"a\x00\"\r\n", 12},
        {"*1\x00\r\n$4\r\nPING\r\n", 15},
        {"*1\r\n$4\x00\r\nPING\r\n", 15},
    };
    for (size_t i = 0; i < sizeof(cases) / sizeof(cases[0]); i++) {
        struct fixture f;
        setup(&f);
        memcpy(f.buf, cases[i].req, cases[i].len);
        CHECK_EQ_INT(resp_parse(&f.p, f.buf, cases[i].len), RESP_AGAIN);
        teardown(&f);
    }
    struct fixture f;
    setup(&f);
    memcpy(f.buf, "*1\r\n$4\r\nPI\x00G\r\n", 14); /* inside a bulk a NUL is data */
    CHECK_EQ_INT(resp_parse(&f.p, f.buf, 14), RESP_OK);
    CHECK(f.p.argvlen[0] == 4 && memcmp(f.p.argv[0], "PI\0G", 4) == 0);
    teardown(&f);
}
