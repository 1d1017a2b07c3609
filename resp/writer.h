/* RESP reply writer: appends RESP2 or RESP3 encodings of replies to a
 * growable byte buffer. One function per reply type; where RESP2 has no such
 * type the Redis 7.0 downgrade is written (map -> flat array, double -> bulk,
 * null -> $-1 or *-1, bool -> integer, push -> array).
 *
 * A writer may be a sink ('is_discard'): every call is then a no-op. Commands
 * applied on a member that owes nobody a reply write to a sink.
 *
 * Allocation failure sets 'failed' and drops further output; the owner checks
 * it and closes the connection (a truncated reply must never be sent). */
#ifndef KR_RESP_WRITER_H
#define KR_RESP_WRITER_H

#include <stdbool.h>
#include <stddef.h>

struct resp_out {
    /* public, read-only */
    char *buf;
    size_t len;
    size_t cap;
    bool failed;
    unsigned long long error_count; /* error replies written so far */
    /* public settings */
    int proto;       /* 2 or 3 */
    bool is_discard; /* a sink: nothing is written */
};

void resp_out_init(struct resp_out *o, int proto);
void resp_out_init_discard(struct resp_out *o);
void resp_out_close(struct resp_out *o);
/* Drops the first 'n' bytes (they were sent). */
void resp_out_consume(struct resp_out *o, size_t n);
/* Makes room for 'n' more bytes; returns the write position or NULL. */
char *resp_out_reserve(struct resp_out *o, size_t n);
/* Appends raw, already-encoded protocol bytes. */
void resp_add_raw(struct resp_out *o, const char *p, size_t len);

void resp_add_status(struct resp_out *o, const char *s);
void resp_add_status_len(struct resp_out *o, const char *s, size_t len);
/* 'msg' is the full error text including its prefix ("ERR ...", "WRONGTYPE ...").
 * Newlines in it are replaced by spaces, as Redis does. */
void resp_add_error(struct resp_out *o, const char *msg);
void resp_add_errorf(struct resp_out *o, const char *fmt, ...)
    __attribute__((format(printf, 2, 3)));
void resp_add_int(struct resp_out *o, long long v);
void resp_add_bulk(struct resp_out *o, const char *p, size_t len);
void resp_add_bulk_cstr(struct resp_out *o, const char *s);
void resp_add_bulk_ll(struct resp_out *o, long long v);
/* A null bulk string: $-1 (RESP2) or _ (RESP3). */
void resp_add_null(struct resp_out *o);
/* A null array: *-1 (RESP2) or _ (RESP3). */
void resp_add_null_array(struct resp_out *o);
void resp_add_array(struct resp_out *o, long long n);
void resp_add_map(struct resp_out *o, long long pairs);
void resp_add_set(struct resp_out *o, long long n);
void resp_add_push(struct resp_out *o, long long n);
/* Redis 7.0 addReplyDouble: ",<%.17g>" in RESP3, a bulk in RESP2; inf as "inf"/"-inf". */
void resp_add_double(struct resp_out *o, double d);
void resp_add_bool(struct resp_out *o, bool b);
/* Verbatim string ("=len\r\ntxt:...") in RESP3, bulk in RESP2. 'ext' is 3 chars. */
void resp_add_verbatim(struct resp_out *o, const char *p, size_t len, const char *ext);
/* Big number ("(123...") in RESP3, bulk in RESP2. */
void resp_add_bignum(struct resp_out *o, const char *digits, size_t len);

/* Deferred aggregate length, for replies whose element count is known only
 * at the end (KEYS, SCAN). begin returns a token; end writes the header of
 * 'type' ('*', '%', '~') for 'n' elements (pairs for maps) at that place. */
size_t resp_begin_deferred(struct resp_out *o);
void resp_end_deferred(struct resp_out *o, size_t token, char type, long long n);

/* Formats 'v' in decimal into 'buf' (at least 21 bytes); returns the length. */
size_t resp_ll2str(char *buf, long long v);

#endif
