/* RESP reply writer (see writer.h). Owns encoding only; where the bytes go
 * (socket, sink, Lua) is the caller's business. */
#include "resp/writer.h"

#include <math.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#define MIN_CAP 512

void resp_out_init(struct resp_out *o, int proto) {
    memset(o, 0, sizeof(*o));
    o->proto = proto;
}

void resp_out_init_discard(struct resp_out *o) {
    resp_out_init(o, 2);
    o->is_discard = true;
}

void resp_out_close(struct resp_out *o) {
    free(o->buf);
    o->buf = NULL;
    o->len = o->cap = 0;
}

void resp_out_consume(struct resp_out *o, size_t n) {
    if (n >= o->len) {
        o->len = 0;
        return;
    }
    memmove(o->buf, o->buf + n, o->len - n);
    o->len -= n;
}

char *resp_out_reserve(struct resp_out *o, size_t n) {
    if (o->failed || o->is_discard)
        return NULL;
    if (o->cap - o->len < n) {
        size_t cap = o->cap ? o->cap : MIN_CAP;
        while (cap - o->len < n) {
            if (cap > ((size_t)-1) / 2) {
                o->failed = true;
                return NULL;
            }
            cap *= 2;
        }
        char *buf = realloc(o->buf, cap);
        if (buf == NULL) {
            o->failed = true;
            return NULL;
        }
        o->buf = buf;
        o->cap = cap;
    }
    return o->buf + o->len;
}

void resp_add_raw(struct resp_out *o, const char *p, size_t len) {
    char *dst = resp_out_reserve(o, len);
    if (dst == NULL)
        return;
    memcpy(dst, p, len);
    o->len += len;
}

size_t resp_ll2str(char *buf, long long v) {
    /* Most lengths and counts in replies are below 100. */
    if (v >= 0 && v < 100) {
        if (v < 10) {
            buf[0] = (char)('0' + v);
            return 1;
        }
        buf[0] = (char)('0' + v / 10);
        buf[1] = (char)('0' + v % 10);
        return 2;
    }
    char tmp[21];
    unsigned long long u = v < 0 ? 0ULL - (unsigned long long)v : (unsigned long long)v;
    size_t n = 0;
    do {
        tmp[n++] = (char)('0' + u % 10);
        u /= 10;
    } while (u);
    size_t len = 0;
    if (v < 0)
        buf[len++] = '-';
    while (n)
        buf[len++] = tmp[--n];
    return len;
}

/* Writes "<type><n>\r\n". */
static void add_header(struct resp_out *o, char type, long long n) {
    char *dst = resp_out_reserve(o, 24);
    if (dst == NULL)
        return;
    dst[0] = type;
    size_t len = 1 + resp_ll2str(dst + 1, n);
    dst[len++] = '\r';
    dst[len++] = '\n';
    o->len += len;
}

static void add_line(struct resp_out *o, char type, const char *s, size_t len) {
    char *dst = resp_out_reserve(o, len + 3);
    if (dst == NULL)
        return;
    dst[0] = type;
    memcpy(dst + 1, s, len);
    dst[len + 1] = '\r';
    dst[len + 2] = '\n';
    o->len += len + 3;
}

void resp_add_status(struct resp_out *o, const char *s) {
    add_line(o, '+', s, strlen(s));
}

void resp_add_status_len(struct resp_out *o, const char *s, size_t len) {
    add_line(o, '+', s, len);
}

void resp_add_error(struct resp_out *o, const char *msg) {
    size_t len = strlen(msg);
    size_t start = o->len + 1;
    o->error_count++;
    add_line(o, '-', msg, len);
    if (o->failed || o->is_discard)
        return;
    for (size_t i = 0; i < len; i++)
        if (o->buf[start + i] == '\r' || o->buf[start + i] == '\n')
            o->buf[start + i] = ' ';
}

void resp_add_errorf(struct resp_out *o, const char *fmt, ...) {
    char small[256];
    va_list ap;
    va_start(ap, fmt);
    int n = vsnprintf(small, sizeof(small), fmt, ap);
    va_end(ap);
    if (n < 0)
        return;
    if ((size_t)n < sizeof(small)) {
        resp_add_error(o, small);
        return;
    }
    char *big = malloc((size_t)n + 1);
    if (big == NULL) {
        o->failed = true;
        return;
    }
    va_start(ap, fmt);
    vsnprintf(big, (size_t)n + 1, fmt, ap);
    va_end(ap);
    resp_add_error(o, big);
    free(big);
}

void resp_add_int(struct resp_out *o, long long v) {
    add_header(o, ':', v);
}

void resp_add_bulk(struct resp_out *o, const char *p, size_t len) {
    char *dst = resp_out_reserve(o, len + 26);
    if (dst == NULL)
        return;
    dst[0] = '$';
    size_t n = 1 + resp_ll2str(dst + 1, (long long)len);
    dst[n++] = '\r';
    dst[n++] = '\n';
    memcpy(dst + n, p, len);
    n += len;
    dst[n++] = '\r';
    dst[n++] = '\n';
    o->len += n;
}

void resp_add_bulk_cstr(struct resp_out *o, const char *s) {
    resp_add_bulk(o, s, strlen(s));
}

void resp_add_bulk_ll(struct resp_out *o, long long v) {
    char buf[24];
    resp_add_bulk(o, buf, resp_ll2str(buf, v));
}

void resp_add_null(struct resp_out *o) {
    if (o->proto >= 3)
        resp_add_raw(o, "_\r\n", 3);
    else
        resp_add_raw(o, "$-1\r\n", 5);
}

void resp_add_null_array(struct resp_out *o) {
    if (o->proto >= 3)
        resp_add_raw(o, "_\r\n", 3);
    else
        resp_add_raw(o, "*-1\r\n", 5);
}

void resp_add_array(struct resp_out *o, long long n) {
    add_header(o, '*', n);
}

void resp_add_map(struct resp_out *o, long long pairs) {
    if (o->proto >= 3)
        add_header(o, '%', pairs);
    else
        add_header(o, '*', pairs * 2);
}

void resp_add_set(struct resp_out *o, long long n) {
    add_header(o, o->proto >= 3 ? '~' : '*', n);
}

void resp_add_push(struct resp_out *o, long long n) {
    add_header(o, o->proto >= 3 ? '>' : '*', n);
}

void resp_add_double(struct resp_out *o, double d) {
    char buf[64];
    int len;
    if (isinf(d))
        len = snprintf(buf, sizeof(buf), "%s", d > 0 ? "inf" : "-inf");
    else if (isnan(d))
        len = snprintf(buf, sizeof(buf), "nan");
    else
        len = snprintf(buf, sizeof(buf), "%.17g", d);
    if (o->proto >= 3)
        add_line(o, ',', buf, (size_t)len);
    else
        resp_add_bulk(o, buf, (size_t)len);
}

void resp_add_bool(struct resp_out *o, bool b) {
    if (o->proto >= 3)
        resp_add_raw(o, b ? "#t\r\n" : "#f\r\n", 4);
    else
        resp_add_raw(o, b ? ":1\r\n" : ":0\r\n", 4);
}

void resp_add_verbatim(struct resp_out *o, const char *p, size_t len, const char *ext) {
    if (o->proto < 3) {
        resp_add_bulk(o, p, len);
        return;
    }
    add_header(o, '=', (long long)len + 4);
    char *dst = resp_out_reserve(o, len + 6);
    if (dst == NULL)
        return;
    memcpy(dst, ext, 3);
    dst[3] = ':';
    memcpy(dst + 4, p, len);
    dst[len + 4] = '\r';
    dst[len + 5] = '\n';
    o->len += len + 6;
}

void resp_add_bignum(struct resp_out *o, const char *digits, size_t len) {
    if (o->proto >= 3)
        add_line(o, '(', digits, len);
    else
        resp_add_bulk(o, digits, len);
}

size_t resp_begin_deferred(struct resp_out *o) {
    return o->len;
}

void resp_end_deferred(struct resp_out *o, size_t token, char type, long long n) {
    if (o->failed || o->is_discard)
        return;
    if (o->proto < 3 && type == '%') {
        type = '*';
        n *= 2;
    } else if (o->proto < 3 && type == '~') {
        type = '*';
    }
    char hdr[24];
    hdr[0] = type;
    size_t hlen = 1 + resp_ll2str(hdr + 1, n);
    hdr[hlen++] = '\r';
    hdr[hlen++] = '\n';
    if (resp_out_reserve(o, hlen) == NULL)
        return;
    memmove(o->buf + token + hlen, o->buf + token, o->len - token);
    memcpy(o->buf + token, hdr, hlen);
    o->len += hlen;
}
