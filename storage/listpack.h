/* listpack: a compact sequence of entries in one contiguous allocation.
 *
 * Small lists, hashes, sets and sorted sets keep their elements here instead
 * of in a full structure (Redis's OBJ_ENCODING_LISTPACK). Each entry is a
 * byte string or a 64-bit integer; a string that is a canonical decimal
 * integer (obj_parse_ll rules) is stored as an integer, so reading it back
 * yields the integer form. Entries carry their own length at both ends, so
 * the sequence can be walked forwards and backwards.
 *
 * A listpack is a plain 'unsigned char *' buffer owned by the caller (free
 * with lp_free). Functions that change it take 'unsigned char **lpp' because
 * the buffer may move; on failure the listpack is left unchanged. Positions are pointers to entries
 * inside the buffer: any change to the listpack invalidates every position the caller holds, except
 * those a mutating function hands back.
 *
 * Format (all integers little-endian):
 *   header:  u32 total bytes, u32 entry count
 *   entries: [tag][payload][backlen]
 *   end:     one byte 0xFF
 * Tags: 0x00-0x7F integer 0..127 (no payload); 0x80-0xBF string of 0..63
 * bytes; 0xC0-0xC7 signed integer of (tag - 0xC0 + 1) bytes; 0xC8 string whose
 * length follows as a LEB128 varint. 'backlen' is the size of tag + payload,
 * written as a varint read right to left (7 bits per byte, high bit = more
 * bytes to the left), so lp_prev can step back over an entry. */
#ifndef KR_STORAGE_LISTPACK_H
#define KR_STORAGE_LISTPACK_H

#include <stdbool.h>
#include <stddef.h>

/* Room for the decimal form of any int64, for lp_get_str. */
#define LP_INTBUF 21

/* An entry as read back: a string (str != NULL, len bytes, borrowed from the
 * listpack until it changes) or an integer (str == NULL, value in 'll'). */
struct lp_value {
    const unsigned char *str;
    size_t len;
    long long ll;
};

/* Returns a new empty listpack (free with lp_free), or NULL when out of memory. */
unsigned char *lp_new(void);
void lp_free(unsigned char *lp);

/* Number of entries. */
size_t lp_len(const unsigned char *lp);
/* Size of the whole buffer in bytes (MEMORY USAGE, conversion thresholds). */
size_t lp_bytes(const unsigned char *lp);

/* ---- Walking ----
 * These return a position, or NULL when there is no such entry. */
unsigned char *lp_first(const unsigned char *lp);
unsigned char *lp_last(const unsigned char *lp);
unsigned char *lp_next(const unsigned char *lp, const unsigned char *p);
unsigned char *lp_prev(const unsigned char *lp, const unsigned char *p);
/* Entry at 'index' (0-based; negative counts from the end, -1 = last).
 * O(n/2): walks from whichever end is nearer. */
unsigned char *lp_seek(const unsigned char *lp, long index);

/* ---- Reading ---- */
void lp_get(const unsigned char *p, struct lp_value *v);
/* The entry as bytes: strings point into the listpack, integers are
 * formatted into 'buf' (LP_INTBUF bytes). Sets '*len'. */
const char *lp_get_str(const unsigned char *p, char *buf, size_t *len);
/* True if the entry equals the bytes 's'/'len' (an integer entry equals its
 * decimal form). */
bool lp_equal(const unsigned char *p, const char *s, size_t len);
/* First entry equal to 's'/'len', starting at 'p' and then checking every
 * (skip+1)-th entry (skip = 1 looks at the fields of field/value pairs).
 * Returns NULL if none. */
unsigned char *lp_find(const unsigned char *lp, const unsigned char *p, const char *s, size_t len,
                       size_t skip);

/* ---- Changing ----
 * All return 0, STORAGE_ENOMEM, or STORAGE_ERANGE when the listpack would
 * outgrow its 32-bit size field; on failure the listpack is unchanged. */

/* Inserts the bytes 's'/'len' before position 'p' ('p' == NULL appends).
 * If 'newp' is not NULL it receives the position of the new entry. */
int lp_insert(unsigned char **lpp, unsigned char *p, const char *s, size_t len,
              unsigned char **newp);
/* As lp_insert, for an integer value. */
int lp_insert_int(unsigned char **lpp, unsigned char *p, long long v, unsigned char **newp);
int lp_append(unsigned char **lpp, const char *s, size_t len);
int lp_append_int(unsigned char **lpp, long long v);
int lp_prepend(unsigned char **lpp, const char *s, size_t len);
/* Replaces the entry at '*p' by 's'/'len'; '*p' is updated to its new position. */
int lp_replace(unsigned char **lpp, unsigned char **p, const char *s, size_t len);
int lp_replace_int(unsigned char **lpp, unsigned char **p, long long v);
/* Deletes up to 'count' entries starting at position 'p'. If 'next' is not
 * NULL it receives the position of the entry that followed the deleted ones
 * (NULL if they were the last). Never fails: shrinking that cannot get
 * memory keeps the larger buffer. */
void lp_delete(unsigned char **lpp, unsigned char *p, size_t count, unsigned char **next);
/* Deletes 'count' entries starting at 'index' (negative counts from the end);
 * indexes beyond the end are ignored. */
void lp_delete_range(unsigned char **lpp, long index, size_t count);

#endif
