/* RESP request parser (see parser.h). Owns framing only: it knows nothing of
 * commands, clients or sockets. Argument positions are kept as offsets while a
 * command is incomplete, so the caller may move or grow its buffer between
 * calls; they become pointers only once the command is whole. */
#include "resp/parser.h"

#include <limits.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#define INITIAL_ARGS 16
/* Never trust a client's announced count for preallocation (Redis does the same). */
#define MAX_PREALLOC_ARGS 1024

const char *resp_strerror(int code) {
    switch (code) {
#define X(name, value, text)                                                                       \
    case value:                                                                                    \
        return text;
        RESP_PARSE_CODES(X)
#undef X
    default:
        return "unknown resp error";
    }
}

void resp_parser_init(struct resp_parser *p, long long max_bulk_len) {
    memset(p, 0, sizeof(*p));
    p->max_bulk_len = max_bulk_len;
    p->is_authenticated = true;
    p->bulk_len = -1;
}

void resp_parser_close(struct resp_parser *p) {
    free(p->argv);
    free(p->argvlen);
    free(p->offs);
    p->argv = NULL;
    p->argvlen = NULL;
    p->offs = NULL;
    p->cap = 0;
}

static void reset_command(struct resp_parser *p) {
    p->pos = 0;
    p->multibulk_left = 0;
    p->bulk_len = -1;
}

void resp_parser_reset(struct resp_parser *p) {
    reset_command(p);
}

static int reserve_args(struct resp_parser *p, long long want) {
    if (want <= p->cap)
        return 0;
    long long cap = p->cap ? p->cap : INITIAL_ARGS;
    while (cap < want)
        cap *= 2;
    if (cap > INT_MAX)
        return RESP_ENOMEM;
    char **argv = realloc(p->argv, (size_t)cap * sizeof(*argv));
    if (argv == NULL)
        return RESP_ENOMEM;
    p->argv = argv;
    size_t *lens = realloc(p->argvlen, (size_t)cap * sizeof(*lens));
    if (lens == NULL)
        return RESP_ENOMEM;
    p->argvlen = lens;
    size_t *offs = realloc(p->offs, (size_t)cap * sizeof(*offs));
    if (offs == NULL)
        return RESP_ENOMEM;
    p->offs = offs;
    p->cap = (int)cap;
    return 0;
}

/* Redis's string2ll: optional '-', no '+', no leading zeros, no spaces. */
static bool parse_strict_ll(const char *s, size_t len, long long *out) {
    if (len == 0 || len > 20)
        return false;
    size_t i = 0;
    bool negative = false;
    if (s[0] == '-') {
        negative = true;
        if (++i == len)
            return false;
    }
    if (s[i] == '0')
        return len == 1 ? (*out = 0, true) : false;
    unsigned long long v = 0;
    for (; i < len; i++) {
        if (s[i] < '0' || s[i] > '9')
            return false;
        unsigned digit = (unsigned)(s[i] - '0');
        if (v > (ULLONG_MAX - digit) / 10)
            return false;
        v = v * 10 + digit;
    }
    if (negative) {
        if (v > (unsigned long long)LLONG_MAX + 1)
            return false;
        *out = v == (unsigned long long)LLONG_MAX + 1 ? LLONG_MIN : -(long long)v;
    } else {
        if (v > (unsigned long long)LLONG_MAX)
            return false;
        *out = (long long)v;
    }
    return true;
}

static int proto_error(struct resp_parser *p, const char *msg) {
    p->errmsg = msg;
    return RESP_EPROTO;
}

/* Finds the first 'c' in 's' the way Redis 7.0 does, with strchr() on its
 * NUL-terminated query buffer: a NUL byte before it hides it, so the request
 * stays incomplete until the line limit is hit. Returns NULL if hidden or
 * absent. */
static const char *find_line_end(const char *s, size_t len, char c) {
    const char *end = memchr(s, c, len);
    if (end != NULL && memchr(s, '\0', (size_t)(end - s)) != NULL)
        return NULL;
    return end;
}

/* The usual length line: 1 to 18 digits, no leading zero (but "0"), then
 * CR. Returns how many digits precede the CR and sets '*out', or 0 for
 * anything else (the general path then decides, with its exact errors). */
static size_t scan_short_length(const char *s, size_t avail, long long *out) {
    size_t i = 0;
    long long v = 0;
    while (i < avail && i < 18 && s[i] >= '0' && s[i] <= '9')
        v = v * 10 + (s[i++] - '0');
    if (i == 0 || i == avail || s[i] != '\r' || (s[0] == '0' && i > 1))
        return 0;
    *out = v;
    return i;
}

/* Reads a "<prefix><number>\r\n" line at p->pos. Returns RESP_OK and advances
 * p->pos, RESP_AGAIN, or RESP_EPROTO (with 'toobig' when no CR in sight). */
static int read_length_line(struct resp_parser *p, const char *buf, size_t len, long long *out,
                            const char *toobig, const char *invalid) {
    const char *start = buf + p->pos + 1;
    size_t avail = len - p->pos - 1;
    size_t digits = scan_short_length(start, avail, out);
    if (digits > 0 && digits + 1 < avail) {
        p->pos += digits + 3;
        return RESP_OK;
    }
    const char *cr = find_line_end(start, avail, '\r');
    if (cr == NULL) {
        if (len - p->pos > RESP_INLINE_MAX_SIZE)
            return proto_error(p, toobig);
        return RESP_AGAIN;
    }
    if ((size_t)(cr - buf) + 1 >= len)
        return RESP_AGAIN; /* need the '\n' too */
    if (!parse_strict_ll(start, (size_t)(cr - start), out))
        return proto_error(p, invalid);
    p->pos = (size_t)(cr - buf) + 2;
    return RESP_OK;
}

static void finish_command(struct resp_parser *p, char *buf) {
    for (int i = 0; i < p->argc; i++)
        p->argv[i] = buf + p->offs[i];
    p->consumed = p->pos;
    reset_command(p);
}

static int parse_multibulk(struct resp_parser *p, char *buf, size_t len) {
    if (p->pos == 0) {
        long long count;
        int rc = read_length_line(p, buf, len, &count, "too big mbulk count string",
                                  "invalid multibulk length");
        if (rc != RESP_OK)
            return rc;
        if (count > INT_MAX)
            return proto_error(p, "invalid multibulk length");
        if (count > RESP_UNAUTH_MAX_MULTIBULK && !p->is_authenticated)
            return proto_error(p, "unauthenticated multibulk length");
        p->argc = 0;
        if (count <= 0) {
            p->consumed = p->pos;
            reset_command(p);
            return RESP_EMPTY;
        }
        p->multibulk_left = count;
        rc = reserve_args(p, count < MAX_PREALLOC_ARGS ? count : MAX_PREALLOC_ARGS);
        if (rc != 0)
            return rc;
    }
    while (p->multibulk_left > 0) {
        if (p->bulk_len < 0) {
            if (p->pos >= len)
                return RESP_AGAIN;
            if (buf[p->pos] != '$') {
                snprintf(p->errbuf, sizeof(p->errbuf), "expected '$', got '%c'", buf[p->pos]);
                return proto_error(p, p->errbuf);
            }
            long long blen;
            int rc = read_length_line(p, buf, len, &blen, "too big bulk count string",
                                      "invalid bulk length");
            if (rc != RESP_OK)
                return rc;
            if (blen < 0 || blen > p->max_bulk_len)
                return proto_error(p, "invalid bulk length");
            if (blen > RESP_UNAUTH_MAX_BULK && !p->is_authenticated)
                return proto_error(p, "unauthenticated bulk length");
            p->bulk_len = blen;
        }
        /* Redis skips the two bytes after a bulk without checking them. */
        if (len - p->pos < (size_t)p->bulk_len + 2)
            return RESP_AGAIN;
        int rc = reserve_args(p, p->argc + 1);
        if (rc != 0)
            return rc;
        p->offs[p->argc] = p->pos;
        p->argvlen[p->argc] = (size_t)p->bulk_len;
        p->argc++;
        p->pos += (size_t)p->bulk_len + 2;
        p->bulk_len = -1;
        p->multibulk_left--;
    }
    finish_command(p, buf);
    return RESP_OK;
}

static int hex_value(char c) {
    if (c >= '0' && c <= '9')
        return c - '0';
    if (c >= 'a' && c <= 'f')
        return c - 'a' + 10;
    if (c >= 'A' && c <= 'F')
        return c - 'A' + 10;
    return -1;
}

static bool is_space(char c) {
    return c == ' ' || c == '\n' || c == '\r' || c == '\t' || c == '\v' || c == '\f';
}

int resp_split_inline(char *line, size_t len, char **argv, size_t *argvlen, int max_args) {
    size_t i = 0;
    int argc = 0;
    for (;;) {
        while (i < len && is_space(line[i]))
            i++;
        if (i == len)
            return argc;
        if (argc == max_args)
            return -1;
        char *out = line + i;
        size_t outlen = 0;
        bool in_dq = false, in_sq = false;
        for (;;) {
            if (in_dq) {
                if (i == len)
                    return -1;
                if (line[i] == '\\' && i + 3 < len && line[i + 1] == 'x' &&
                    hex_value(line[i + 2]) >= 0 && hex_value(line[i + 3]) >= 0) {
                    out[outlen++] = (char)(hex_value(line[i + 2]) * 16 + hex_value(line[i + 3]));
                    i += 4;
                } else if (line[i] == '\\' && i + 1 < len) {
                    char c = line[i + 1];
                    out[outlen++] = c == 'n'   ? '\n'
                                    : c == 'r' ? '\r'
                                    : c == 't' ? '\t'
                                    : c == 'b' ? '\b'
                                    : c == 'a' ? '\a'
                                               : c;
                    i += 2;
                } else if (line[i] == '"') {
                    /* A closing quote must be followed by a space or the end. */
                    if (i + 1 < len && !is_space(line[i + 1]))
                        return -1;
                    i++;
                    break;
                } else {
                    out[outlen++] = line[i++];
                }
            } else if (in_sq) {
                if (i == len)
                    return -1;
                if (line[i] == '\\' && i + 1 < len && line[i + 1] == '\'') {
                    out[outlen++] = '\'';
                    i += 2;
                } else if (line[i] == '\'') {
                    if (i + 1 < len && !is_space(line[i + 1]))
                        return -1;
                    i++;
                    break;
                } else {
                    out[outlen++] = line[i++];
                }
            } else {
                if (i == len || is_space(line[i]))
                    break;
                if (line[i] == '"') {
                    in_dq = true;
                    i++;
                } else if (line[i] == '\'') {
                    in_sq = true;
                    i++;
                } else {
                    out[outlen++] = line[i++];
                }
            }
        }
        argv[argc] = out;
        argvlen[argc] = outlen;
        argc++;
    }
}

static int parse_inline(struct resp_parser *p, char *buf, size_t len) {
    char *nl = (char *)find_line_end(buf, len, '\n');
    if (nl == NULL) {
        if (len > RESP_INLINE_MAX_SIZE)
            return proto_error(p, "too big inline request");
        return RESP_AGAIN;
    }
    size_t line_len = (size_t)(nl - buf);
    if (line_len > 0 && buf[line_len - 1] == '\r')
        line_len--;
    /* An inline line of L bytes holds at most L/2+1 arguments. */
    int rc = reserve_args(p, (long long)line_len / 2 + 1);
    if (rc != 0)
        return rc;
    int argc = resp_split_inline(buf, line_len, p->argv, p->argvlen, p->cap);
    if (argc < 0)
        return proto_error(p, "unbalanced quotes in request");
    p->consumed = (size_t)(nl - buf) + 1;
    p->argc = argc;
    reset_command(p);
    return argc == 0 ? RESP_EMPTY : RESP_OK;
}

int resp_parse(struct resp_parser *p, char *buf, size_t len) {
    p->errmsg = NULL;
    if (len == 0)
        return RESP_AGAIN;
    if (p->pos == 0 && buf[0] != '*')
        return parse_inline(p, buf, len);
    return parse_multibulk(p, buf, len);
}
