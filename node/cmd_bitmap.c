/* Bitmap commands: SETBIT, GETBIT, BITCOUNT, BITPOS, BITOP, BITFIELD and
 * BITFIELD_RO over string values, with Redis 7.0's argument order, replies
 * and errors. The bit arithmetic itself is storage/bitops; this file parses
 * arguments, finds and sizes the string, and replies. */
#include "node/cmd_handlers.h"
#include "node/config.h"
#include "node/db.h"
#include "node/exec.h"
#include "node/notify.h"
#include "storage/bitops.h"
#include "storage/mem.h"
#include "storage/object.h"

#include <string.h>

#define ERR_BIT_OFFSET "ERR bit offset is not an integer or out of range"

/* Redis 7.0 getBitOffsetFromArgument: a bit offset, or with 'hash_bits'
 * (BITFIELD) "#N" meaning N * 'hash_bits'. The byte it names must lie below
 * proto-max-bulk-len. */
static bool parse_bit_offset(struct exec_ctx *ctx, int arg, unsigned hash_bits, uint64_t *offset) {
    const char *p = ctx->argv[arg];
    size_t len = ctx->argvlen[arg];
    bool use_hash = hash_bits != 0 && len > 1 && p[0] == '#';
    long long v;
    if (!obj_parse_ll(p + use_hash, len - use_hash, &v))
        goto invalid;
    if (use_hash) /* wraps like Redis's signed multiply on overflow */
        v = (long long)((unsigned long long)v * hash_bits);
    if (v < 0 || (v >> 3) >= cfg.proto_max_bulk_len)
        goto invalid;
    *offset = (uint64_t)v;
    return true;
invalid:
    resp_add_error(ctx->out, ERR_BIT_OFFSET);
    return false;
}

/* Redis 7.0 lookupStringForBitCommand: the string at argv[1], created or
 * made RAW and zero-padded so that bit 'max_bit' exists. Sets '*grown' when
 * the key was created or lengthened. Returns NULL after replying an error. */
static struct kv *string_for_bits(struct exec_ctx *ctx, uint64_t max_bit, bool *grown) {
    size_t need = (size_t)(max_bit >> 3) + 1;
    struct kv *kv = db_lookup_write(ctx, ctx->argv[1], ctx->argvlen[1]);
    if (kv == NULL) {
        kv = kv_new_raw(ctx->argv[1], ctx->argvlen[1], NULL, need, -1);
        if (kv == NULL) {
            exec_reply_oom(ctx);
            return NULL;
        }
        *grown = true;
        return db_set(ctx, kv) ? kv : NULL;
    }
    if (kv->type != OBJ_STRING) {
        exec_reply_wrongtype(ctx);
        return NULL;
    }
    if ((kv = db_unshare_string(ctx, kv)) == NULL)
        return NULL;
    size_t old_len = ((struct raw_string *)kv->v.ptr)->len;
    if (!kv_raw_grow(kv, need)) {
        exec_reply_oom(ctx);
        return NULL;
    }
    *grown = need > old_len;
    return kv;
}

/* A live string at argv[1] for reading. Returns false after replying
 * WRONGTYPE; '*kv' is NULL for a missing key. */
static bool lookup_string_read(struct exec_ctx *ctx, struct kv **kv) {
    *kv = db_lookup_read(ctx, ctx->argv[1], ctx->argvlen[1]);
    if (*kv != NULL && (*kv)->type != OBJ_STRING) {
        exec_reply_wrongtype(ctx);
        return false;
    }
    return true;
}

/* ---- SETBIT / GETBIT ---- */

void cmd_setbit(struct exec_ctx *ctx) {
    uint64_t offset;
    long long on;
    if (!parse_bit_offset(ctx, 2, 0, &offset))
        return;
    if (!obj_parse_ll(ctx->argv[3], ctx->argvlen[3], &on) || (on & ~1LL)) {
        resp_add_error(ctx->out, "ERR bit is not an integer or out of range");
        return;
    }
    bool grown = false;
    struct kv *kv = string_for_bits(ctx, offset, &grown);
    if (kv == NULL)
        return;
    unsigned char *p = (unsigned char *)((struct raw_string *)kv->v.ptr)->data;
    unsigned shift = 7 - (unsigned)(offset & 7);
    unsigned old = (p[offset >> 3] >> shift) & 1u;
    if (grown || old != (unsigned)on) {
        p[offset >> 3] =
            (unsigned char)((p[offset >> 3] & ~(1u << shift)) | ((unsigned)on << shift));
        db_touch_modified(ctx, ctx->argv[1], ctx->argvlen[1]);
        notify_keyspace_event(ctx, NOTIFY_STRING, "setbit", ctx->argv[1], ctx->argvlen[1]);
    }
    resp_add_int(ctx->out, old);
}

void cmd_getbit(struct exec_ctx *ctx) {
    uint64_t offset;
    if (!parse_bit_offset(ctx, 2, 0, &offset))
        return;
    struct kv *kv;
    if (!lookup_string_read(ctx, &kv))
        return;
    unsigned bit = 0;
    if (kv != NULL) {
        char buf[24];
        size_t len;
        const unsigned char *p = (const unsigned char *)kv_string(kv, buf, &len);
        if ((offset >> 3) < len)
            bit = (p[offset >> 3] >> (7 - (offset & 7))) & 1u;
    }
    resp_add_int(ctx->out, bit);
}

/* ---- BITCOUNT / BITPOS ---- */

/* Parses the BYTE|BIT unit at 'arg'; replies a syntax error if it is neither. */
static bool parse_range_unit(struct exec_ctx *ctx, int arg, bool *is_bit) {
    if (exec_arg_is(ctx, arg, "bit"))
        *is_bit = true;
    else if (exec_arg_is(ctx, arg, "byte"))
        *is_bit = false;
    else {
        exec_reply_syntax_error(ctx);
        return false;
    }
    return true;
}

/* Clamps 'start'..'end' (negative: from the end) to a string of 'total'
 * units, as BITCOUNT and BITPOS do. Returns false for an empty range. */
static bool clamp_range(long long total, long long *start, long long *end) {
    if (*start < 0)
        *start += total;
    if (*end < 0)
        *end += total;
    if (*start < 0)
        *start = 0;
    if (*end < 0)
        *end = 0;
    if (*end >= total)
        *end = total - 1;
    return *start <= *end;
}

/* Redis 7.0 bitcountCommand: the key is looked up before the range is
 * parsed, so a missing key answers 0 whatever the arguments. */
void cmd_bitcount(struct exec_ctx *ctx) {
    struct kv *kv;
    if (!lookup_string_read(ctx, &kv))
        return;
    if (kv == NULL) {
        resp_add_int(ctx->out, 0);
        return;
    }
    char buf[24];
    size_t len;
    const unsigned char *p = (const unsigned char *)kv_string(kv, buf, &len);
    long long start = 0, end = (long long)len - 1;
    bool is_bit = false;
    if (ctx->argc == 4 || ctx->argc == 5) {
        if (!exec_arg_ll(ctx, 2, &start) || !exec_arg_ll(ctx, 3, &end))
            return;
        if (ctx->argc == 5 && !parse_range_unit(ctx, 4, &is_bit))
            return;
        if (start < 0 && end < 0 && start > end) {
            resp_add_int(ctx->out, 0);
            return;
        }
    } else if (ctx->argc != 2) {
        exec_reply_syntax_error(ctx);
        return;
    }
    long long total = is_bit ? (long long)len * 8 : (long long)len;
    if (!clamp_range(total, &start, &end)) {
        resp_add_int(ctx->out, 0);
        return;
    }
    uint64_t first = is_bit ? (uint64_t)start : (uint64_t)start * 8;
    uint64_t last = is_bit ? (uint64_t)end : (uint64_t)end * 8 + 7;
    resp_add_int(ctx->out, (long long)bitops_count(p, first, last));
}

/* Redis 7.0 bitposCommand: the bit argument is checked first; a missing key
 * is all zeros. Looking for 0 with no explicit end treats the string as
 * zero-padded on the right, so the answer may be the first bit past it. */
void cmd_bitpos(struct exec_ctx *ctx) {
    long long bit;
    if (!exec_arg_ll(ctx, 2, &bit))
        return;
    if (bit != 0 && bit != 1) {
        resp_add_error(ctx->out, "ERR The bit argument must be 1 or 0.");
        return;
    }
    struct kv *kv = db_lookup_read(ctx, ctx->argv[1], ctx->argvlen[1]);
    if (kv == NULL) {
        resp_add_int(ctx->out, bit ? -1 : 0);
        return;
    }
    if (kv->type != OBJ_STRING) {
        exec_reply_wrongtype(ctx);
        return;
    }
    char buf[24];
    size_t len;
    const unsigned char *p = (const unsigned char *)kv_string(kv, buf, &len);
    long long start = 0, end = (long long)len - 1;
    bool is_bit = false, end_given = false;
    if (ctx->argc >= 4 && ctx->argc <= 6) {
        if (!exec_arg_ll(ctx, 3, &start))
            return;
        if (ctx->argc == 6 && !parse_range_unit(ctx, 5, &is_bit))
            return;
        if (ctx->argc >= 5) {
            if (!exec_arg_ll(ctx, 4, &end))
                return;
            end_given = true;
        } else if (is_bit) {
            end = (long long)len * 8 - 1;
        }
    } else if (ctx->argc != 3) {
        exec_reply_syntax_error(ctx);
        return;
    }
    long long total = is_bit ? (long long)len * 8 : (long long)len;
    if (!clamp_range(total, &start, &end)) {
        resp_add_int(ctx->out, -1);
        return;
    }
    uint64_t first = is_bit ? (uint64_t)start : (uint64_t)start * 8;
    uint64_t last = is_bit ? (uint64_t)end : (uint64_t)end * 8 + 7;
    int64_t pos = bitops_find(p, first, last, (int)bit);
    if (pos < 0 && bit == 0 && !end_given)
        pos = (int64_t)last + 1;
    resp_add_int(ctx->out, pos);
}

/* ---- BITOP ---- */

/* Redis 7.0 bitopCommand: missing sources are empty strings; the result
 * (as long as the longest source) replaces the destination as a RAW string
 * without TTL, or deletes it when empty. Replies with the result's length. */
void cmd_bitop(struct exec_ctx *ctx) {
    enum bitops_op op;
    if (exec_arg_is(ctx, 1, "and"))
        op = BITOPS_AND;
    else if (exec_arg_is(ctx, 1, "or"))
        op = BITOPS_OR;
    else if (exec_arg_is(ctx, 1, "xor"))
        op = BITOPS_XOR;
    else if (exec_arg_is(ctx, 1, "not"))
        op = BITOPS_NOT;
    else {
        exec_reply_syntax_error(ctx);
        return;
    }
    if (op == BITOPS_NOT && ctx->argc != 4) {
        resp_add_error(ctx->out, "ERR BITOP NOT must be called with a single source key.");
        return;
    }
    size_t count = (size_t)ctx->argc - 3;
    /* One block: source pointers, lengths and INT formatting buffers. */
    size_t bytes = count * (sizeof(unsigned char *) + sizeof(size_t) + 24);
    char *scratch = mem_alloc(bytes);
    if (scratch == NULL) {
        exec_reply_oom(ctx);
        return;
    }
    const unsigned char **src = (const unsigned char **)scratch;
    size_t *src_len = (size_t *)(scratch + count * sizeof(unsigned char *));
    char *int_bufs = scratch + count * (sizeof(unsigned char *) + sizeof(size_t));
    size_t max_len = 0;
    for (size_t i = 0; i < count; i++) {
        struct kv *kv = db_lookup_read(ctx, ctx->argv[i + 3], ctx->argvlen[i + 3]);
        src[i] = NULL;
        src_len[i] = 0;
        if (kv == NULL)
            continue;
        if (kv->type != OBJ_STRING) {
            mem_free(scratch);
            exec_reply_wrongtype(ctx);
            return;
        }
        src[i] = (const unsigned char *)kv_string(kv, int_bufs + 24 * i, &src_len[i]);
        if (src_len[i] > max_len)
            max_len = src_len[i];
    }
    if (max_len == 0) {
        if (db_delete(ctx, ctx->argv[2], ctx->argvlen[2]))
            notify_keyspace_event(ctx, NOTIFY_GENERIC, "del", ctx->argv[2], ctx->argvlen[2]);
        resp_add_int(ctx->out, 0);
        mem_free(scratch);
        return;
    }
    /* Computed into the new record before it replaces anything, so the
     * destination may also be a source. */
    struct kv *dst = kv_new_raw(ctx->argv[2], ctx->argvlen[2], NULL, max_len, -1);
    if (dst == NULL) {
        mem_free(scratch);
        exec_reply_oom(ctx);
        return;
    }
    bitops_combine(op, count, src, src_len,
                   (unsigned char *)((struct raw_string *)dst->v.ptr)->data, max_len);
    mem_free(scratch);
    if (!db_set(ctx, dst))
        return;
    notify_keyspace_event(ctx, NOTIFY_STRING, "set", ctx->argv[2], ctx->argvlen[2]);
    resp_add_int(ctx->out, (long long)max_len);
}

/* ---- BITFIELD ---- */

enum bitfield_kind { BF_GET, BF_SET, BF_INCRBY };

struct bitfield_op {
    uint64_t offset;
    int64_t value; /* SET's value or INCRBY's increment */
    unsigned bits;
    bool is_signed;
    enum bitfield_kind kind;
    enum bitops_overflow policy;
};

#define ERR_BITFIELD_TYPE                                                                          \
    "ERR Invalid bitfield type. Use something like i16 u8. Note that u64 is not supported but "    \
    "i64 is."

/* Redis 7.0 getBitfieldTypeFromArgument: "i1".."i64" or "u1".."u63". Like
 * Redis, the width is read up to the first NUL byte. */
static bool parse_bitfield_type(struct exec_ctx *ctx, int arg, bool *is_signed, unsigned *bits) {
    const char *p = ctx->argv[arg];
    size_t len = ctx->argvlen[arg];
    const char *nul = memchr(p, '\0', len);
    if (nul != NULL)
        len = (size_t)(nul - p);
    long long n;
    if (len < 1 || (p[0] != 'i' && p[0] != 'u') || !obj_parse_ll(p + 1, len - 1, &n) || n < 1 ||
        n > (p[0] == 'i' ? 64 : 63)) {
        resp_add_error(ctx->out, ERR_BITFIELD_TYPE);
        return false;
    }
    *is_signed = p[0] == 'i';
    *bits = (unsigned)n;
    return true;
}

/* Parses every operation into 'ops' (room for argc entries); returns how
 * many, or -1 after replying an error. '*max_write_bit' is the highest bit a
 * SET or INCRBY touches, '*has_write' whether there is one. */
static int parse_bitfield_ops(struct exec_ctx *ctx, struct bitfield_op *ops, bool *has_write,
                              uint64_t *max_write_bit) {
    enum bitops_overflow policy = BITOPS_WRAP;
    int count = 0;
    for (int j = 2; j < ctx->argc; j++) {
        int remaining = ctx->argc - j - 1;
        enum bitfield_kind kind;
        if (exec_arg_is(ctx, j, "get") && remaining >= 2) {
            kind = BF_GET;
        } else if (exec_arg_is(ctx, j, "set") && remaining >= 3) {
            kind = BF_SET;
        } else if (exec_arg_is(ctx, j, "incrby") && remaining >= 3) {
            kind = BF_INCRBY;
        } else if (exec_arg_is(ctx, j, "overflow") && remaining >= 1) {
            j++;
            if (exec_arg_is(ctx, j, "wrap"))
                policy = BITOPS_WRAP;
            else if (exec_arg_is(ctx, j, "sat"))
                policy = BITOPS_SAT;
            else if (exec_arg_is(ctx, j, "fail"))
                policy = BITOPS_FAIL;
            else {
                resp_add_error(ctx->out, "ERR Invalid OVERFLOW type specified");
                return -1;
            }
            continue;
        } else {
            exec_reply_syntax_error(ctx);
            return -1;
        }
        struct bitfield_op *op = &ops[count];
        op->kind = kind;
        op->policy = policy;
        op->value = 0;
        if (!parse_bitfield_type(ctx, j + 1, &op->is_signed, &op->bits) ||
            !parse_bit_offset(ctx, j + 2, op->bits, &op->offset))
            return -1;
        if (kind != BF_GET) {
            *has_write = true;
            if (op->offset + op->bits - 1 > *max_write_bit)
                *max_write_bit = op->offset + op->bits - 1;
            long long v;
            if (!exec_arg_ll(ctx, j + 3, &v))
                return -1;
            op->value = v;
        }
        count++;
        j += kind == BF_GET ? 2 : 3;
    }
    return count;
}

/* Runs a SET or INCRBY on the (large enough) RAW bytes 'p' and replies with
 * its result: the old value for SET, the new one for INCRBY, null when
 * OVERFLOW FAIL refused it. Returns whether it wrote. */
static bool bitfield_write(struct exec_ctx *ctx, unsigned char *p, const struct bitfield_op *op) {
    bool overflow;
    long long reply;
    uint64_t store = 0;
    if (op->is_signed) {
        int64_t old = bitops_get_signed(p, op->offset, op->bits), result = 0;
        if (op->kind == BF_INCRBY)
            overflow = bitops_add_signed(old, op->value, op->bits, op->policy, &result);
        else
            overflow = bitops_add_signed(op->value, 0, op->bits, op->policy, &result);
        reply = op->kind == BF_INCRBY ? result : old;
        store = (uint64_t)result;
    } else {
        uint64_t old = bitops_get_unsigned(p, op->offset, op->bits), result = 0;
        if (op->kind == BF_INCRBY)
            overflow = bitops_add_unsigned(old, op->value, op->bits, op->policy, &result);
        else
            overflow = bitops_add_unsigned((uint64_t)op->value, 0, op->bits, op->policy, &result);
        reply = (long long)(op->kind == BF_INCRBY ? result : old);
        store = result;
    }
    if (overflow && op->policy == BITOPS_FAIL) {
        resp_add_null(ctx->out);
        return false;
    }
    resp_add_int(ctx->out, reply);
    bitops_set(p, op->offset, op->bits, store);
    return true;
}

/* GET reads through a zero-padded copy of the 9 bytes a 64-bit field can
 * span, so fields past the end of the string read as zeros. */
static void bitfield_get(struct exec_ctx *ctx, const struct kv *kv, const struct bitfield_op *op) {
    unsigned char window[9] = {0};
    uint64_t first_byte = op->offset >> 3;
    if (kv != NULL) {
        char buf[24];
        size_t len;
        const char *p = kv_string(kv, buf, &len);
        for (uint64_t i = 0; i < 9 && first_byte + i < len; i++)
            window[i] = (unsigned char)p[first_byte + i];
    }
    uint64_t offset = op->offset - first_byte * 8;
    if (op->is_signed)
        resp_add_int(ctx->out, bitops_get_signed(window, offset, op->bits));
    else
        resp_add_int(ctx->out, (long long)bitops_get_unsigned(window, offset, op->bits));
}

/* Redis 7.0 bitfieldGeneric: all operations are parsed (and every error
 * reported) before the key is touched; GET-only calls never create it. */
static void bitfield_generic(struct exec_ctx *ctx, bool read_only_command) {
    struct bitfield_op *ops = mem_alloc((size_t)ctx->argc * sizeof(*ops));
    if (ops == NULL) {
        exec_reply_oom(ctx);
        return;
    }
    bool has_write = false;
    uint64_t max_write_bit = 0;
    int count = parse_bitfield_ops(ctx, ops, &has_write, &max_write_bit);
    if (count < 0)
        goto done;
    struct kv *kv;
    if (!has_write) {
        if (!lookup_string_read(ctx, &kv))
            goto done;
    } else {
        if (read_only_command) {
            resp_add_error(ctx->out, "ERR BITFIELD_RO only supports the GET subcommand");
            goto done;
        }
        bool grown = false;
        if ((kv = string_for_bits(ctx, max_write_bit, &grown)) == NULL)
            goto done;
    }
    resp_add_array(ctx->out, count);
    int changes = 0;
    for (int i = 0; i < count; i++) {
        if (ops[i].kind == BF_GET)
            bitfield_get(ctx, kv, &ops[i]);
        else if (bitfield_write(ctx, (unsigned char *)((struct raw_string *)kv->v.ptr)->data,
                                &ops[i]))
            changes++;
    }
    if (has_write)
        db_touch_modified(ctx, ctx->argv[1], ctx->argvlen[1]);
    /* Redis 7.0: "setbit" only when some SET/INCRBY was not refused. */
    if (changes > 0)
        notify_keyspace_event(ctx, NOTIFY_STRING, "setbit", ctx->argv[1], ctx->argvlen[1]);
done:
    mem_free(ops);
}

void cmd_bitfield(struct exec_ctx *ctx) {
    bitfield_generic(ctx, false);
}

void cmd_bitfield_ro(struct exec_ctx *ctx) {
    bitfield_generic(ctx, true);
}
