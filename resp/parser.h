/* RESP request parser: turns the bytes a client sent into argument vectors.
 *
 * The parser is incremental and zero-copy. The caller keeps the unconsumed
 * part of its query buffer contiguous and calls resp_parse() whenever more
 * bytes arrive; a partially received command is resumed, never rescanned, so
 * a 512 MB bulk arriving in 16 KB reads costs O(size). On RESP_OK the
 * argument pointers point into the caller's buffer (inline commands are
 * unescaped in place), valid until the caller discards those bytes.
 *
 * Both request forms Redis accepts are handled: multibulk (`*N\r\n$L\r\n...`)
 * and inline (`SET a b\n`, for telnet). Errors carry Redis 7.0's exact text
 * after "Protocol error: ". As in Redis 7.0, which looks for line ends with
 * strchr(), a NUL byte before a line's end hides that end: the request stays
 * incomplete until it exceeds RESP_INLINE_MAX_SIZE. */
#ifndef KR_RESP_PARSER_H
#define KR_RESP_PARSER_H

#include <stdbool.h>
#include <stddef.h>

/* Redis's PROTO_INLINE_MAX_SIZE: longest inline request or length line. */
#define RESP_INLINE_MAX_SIZE (64 * 1024)
/* Redis 7.0 limits for clients that have not authenticated yet. */
#define RESP_UNAUTH_MAX_MULTIBULK 10
#define RESP_UNAUTH_MAX_BULK      16384

#define RESP_PARSE_CODES(X)                                                                        \
    X(RESP_OK, 0, "complete command")                                                              \
    X(RESP_AGAIN, 1, "need more input")                                                            \
    X(RESP_EMPTY, 2, "empty request consumed")                                                     \
    X(RESP_EPROTO, -1, "protocol error")                                                           \
    X(RESP_ENOMEM, -2, "out of memory")

enum resp_parse_code {
#define X(name, value, text) name = value,
    RESP_PARSE_CODES(X)
#undef X
};

const char *resp_strerror(int code);

struct resp_parser {
    /* public, read-only after RESP_OK: the command's arguments */
    int argc;
    char **argv;
    size_t *argvlen;
    size_t consumed;    /* bytes of the buffer that made up this command */
    const char *errmsg; /* after RESP_EPROTO: text following "Protocol error: " */
    /* public settings, set before parsing */
    long long max_bulk_len; /* proto-max-bulk-len */
    bool is_authenticated;  /* false applies the unauthenticated limits */
    /* private */
    size_t pos;
    long long multibulk_left;
    long long bulk_len;
    int cap;
    size_t *offs;
    char errbuf[64];
};

void resp_parser_init(struct resp_parser *p, long long max_bulk_len);
void resp_parser_close(struct resp_parser *p);
/* Forgets a partially parsed command: the next resp_parse starts a new one
 * at the start of the buffer it is given. Keeps the settings and arrays. */
void resp_parser_reset(struct resp_parser *p);

/* Parses the next command from 'buf' (the caller's unconsumed bytes, 'len' of
 * them). Returns RESP_OK with argc/argv/argvlen/consumed filled in; RESP_EMPTY
 * when 'consumed' bytes held no command (a blank inline line, `*0`); RESP_AGAIN
 * when the command is incomplete (state is kept: call again with the same
 * start and more bytes); RESP_EPROTO with errmsg set, after which the
 * connection must be closed. May modify 'buf' (inline unescaping). */
int resp_parse(struct resp_parser *p, char *buf, size_t len);

/* Splits an inline line like Redis's sdssplitargs: quotes, \xHH and the
 * usual escapes. 'line' is rewritten in place; argv entries point into it.
 * Returns the number of arguments, or -1 on unbalanced quotes or when more
 * than 'max_args' arguments are present. */
int resp_split_inline(char *line, size_t len, char **argv, size_t *argvlen, int max_args);

#endif
