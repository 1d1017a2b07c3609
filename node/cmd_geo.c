/* Geo commands (GEOADD GEODIST GEOHASH GEOPOS GEOSEARCH GEOSEARCHSTORE
 * GEORADIUS(_RO) GEORADIUSBYMEMBER(_RO)) with Redis 7.0's replies and errors.
 *
 * A geo key is a sorted set whose scores are 52-bit geohashes
 * (storage/geohash.h), so every sorted-set command works on it. This file
 * parses arguments, walks the score ranges of the search boxes through
 * storage/zset's iterators, sorts and replies or stores; the math is
 * storage/geohash's. GEOADD rewrites itself into ZADD and runs cmd_zadd, as
 * Redis does, so both share one write path.
 *
 * Result order: Redis sorts by distance with glibc's qsort (a stable merge
 * sort) when it returns every match, and with its partial quicksort when
 * COUNT cuts the result; both are reproduced (storage/pqsort), so equal
 * distances come out in Redis's order too. */
#include "node/cmd_handlers.h"
#include "node/config.h"
#include "node/db.h"
#include "node/exec.h"
#include "node/notify.h"
#include "storage/geohash.h"
#include "storage/pqsort.h"
#include "storage/zset.h"

#include <ctype.h>
#include <errno.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#define ERR_NOT_FLOAT "ERR value is not a valid float"
#define ERR_BAD_UNIT  "ERR unsupported unit provided. please use M, KM, FT, MI"
#define ERR_NO_MEMBER "ERR could not decode requested zset member"
#define SCORE_DIGITS  24 /* a formatted 52-bit score, with room to spare */

static void reply_oom(struct exec_ctx *ctx) {
    resp_add_error(ctx->out, "OOM command not allowed when used memory > 'maxmemory'.");
}

/* ---- Argument parsing ---- */

/* Redis's getDoubleFromObject: strtod over all of the bytes, no leading
 * space, no overflow, no NaN. */
static bool parse_double(const char *s, size_t len, double *out) {
    if (len == 0 || isspace((unsigned char)s[0]))
        return false;
    char small[128];
    char *buf = len < sizeof(small) ? small : malloc(len + 1);
    if (buf == NULL)
        return false;
    memcpy(buf, s, len);
    buf[len] = '\0';
    char *end;
    errno = 0;
    double v = strtod(buf, &end);
    bool ok = (size_t)(end - buf) == len && !isnan(v) &&
              !(errno == ERANGE && (v == HUGE_VAL || v == -HUGE_VAL || v == 0));
    if (buf != small)
        free(buf);
    if (ok)
        *out = v;
    return ok;
}

/* Parses argv['i'] as a double or replies 'err'. */
static bool arg_double(struct exec_ctx *ctx, int i, double *out, const char *err) {
    if (parse_double(ctx->argv[i], ctx->argvlen[i], out))
        return true;
    resp_add_error(ctx->out, err);
    return false;
}

/* Redis extractLongLatOrReply: argv['i'] longitude, argv['i'+1] latitude. */
static bool arg_lonlat(struct exec_ctx *ctx, int i, double xy[2]) {
    if (!arg_double(ctx, i, &xy[0], ERR_NOT_FLOAT) ||
        !arg_double(ctx, i + 1, &xy[1], ERR_NOT_FLOAT))
        return false;
    if (xy[0] < GEOHASH_LONG_MIN || xy[0] > GEOHASH_LONG_MAX || xy[1] < GEOHASH_LAT_MIN ||
        xy[1] > GEOHASH_LAT_MAX) {
        resp_add_errorf(ctx->out, "ERR invalid longitude,latitude pair %f,%f", xy[0], xy[1]);
        return false;
    }
    return true;
}

/* Redis extractUnitOrReply: metres per unit, or a negative value after
 * replying the error. */
static double arg_unit(struct exec_ctx *ctx, int i) {
    if (exec_arg_is(ctx, i, "m"))
        return 1;
    if (exec_arg_is(ctx, i, "km"))
        return 1000;
    if (exec_arg_is(ctx, i, "ft"))
        return 0.3048;
    if (exec_arg_is(ctx, i, "mi"))
        return 1609.34;
    resp_add_error(ctx->out, ERR_BAD_UNIT);
    return -1;
}

/* Redis extractDistanceOrReply: argv['i'] radius, argv['i'+1] unit. */
static bool arg_radius(struct exec_ctx *ctx, int i, struct geohash_shape *shape) {
    double radius;
    if (!arg_double(ctx, i, &radius, "ERR need numeric radius"))
        return false;
    if (radius < 0) {
        resp_add_error(ctx->out, "ERR radius cannot be negative");
        return false;
    }
    double to_meters = arg_unit(ctx, i + 1);
    if (to_meters < 0)
        return false;
    shape->type = GEOHASH_SHAPE_RADIUS;
    shape->radius = radius;
    shape->to_meters = to_meters;
    return true;
}

/* Redis extractBoxOrReply: argv['i'] width, 'i'+1 height, 'i'+2 unit. */
static bool arg_box(struct exec_ctx *ctx, int i, struct geohash_shape *shape) {
    double width, height;
    if (!arg_double(ctx, i, &width, "ERR need numeric width") ||
        !arg_double(ctx, i + 1, &height, "ERR need numeric height"))
        return false;
    if (height < 0 || width < 0) {
        resp_add_error(ctx->out, "ERR height or width cannot be negative");
        return false;
    }
    double to_meters = arg_unit(ctx, i + 2);
    if (to_meters < 0)
        return false;
    shape->type = GEOHASH_SHAPE_BOX;
    shape->width = width;
    shape->height = height;
    shape->to_meters = to_meters;
    return true;
}

/* ---- Replies ---- */

/* Redis addReplyDoubleDistance: a bulk string with 4 decimals. */
static void add_distance(struct resp_out *out, double d) {
    char buf[400];
    int len = snprintf(buf, sizeof(buf), "%.4f", d);
    resp_add_bulk(out, buf, (size_t)len);
}

/* Redis addReplyHumanLongDouble: 17 decimals with trailing zeros (and a
 * bare dot) removed; a bulk string in RESP2, a double in RESP3. */
static void add_coordinate(struct resp_out *out, double v) {
    char buf[400];
    int len = snprintf(buf, sizeof(buf), "%.17f", v);
    if (memchr(buf, '.', (size_t)len) != NULL) {
        while (buf[len - 1] == '0')
            len--;
        if (buf[len - 1] == '.')
            len--;
    }
    if (len == 2 && buf[0] == '-' && buf[1] == '0') {
        buf[0] = '0';
        len = 1;
    }
    if (out->proto >= 3) {
        resp_add_raw(out, ",", 1);
        resp_add_raw(out, buf, (size_t)len);
        resp_add_raw(out, "\r\n", 2);
    } else {
        resp_add_bulk(out, buf, (size_t)len);
    }
}

/* Looks argv['i'] up for reading. Returns false after replying WRONGTYPE;
 * otherwise '*kv' is the sorted set or NULL. */
static bool read_zset(struct exec_ctx *ctx, int i, struct kv **kv) {
    *kv = db_lookup_read(ctx, ctx->argv[i], ctx->argvlen[i]);
    if (*kv != NULL && (*kv)->type != OBJ_ZSET) {
        exec_reply_wrongtype(ctx);
        return false;
    }
    return true;
}

/* Redis longLatFromMember: the decoded position of member argv['i']. */
static bool member_position(struct exec_ctx *ctx, struct kv *kv, int i, double xy[2]) {
    double score;
    return zset_score(kv, ctx->argv[i], ctx->argvlen[i], &score) && geohash_decode_score(score, xy);
}

/* ---- GEOADD ---- */

/* Redis 7.0 geoaddCommand: validates every position, then runs
 * ZADD key [options] score member ... with the encoded positions. */
void cmd_geoadd(struct exec_ctx *ctx) {
    bool xx = false, nx = false;
    int lon_i = 2;
    for (; lon_i < ctx->argc; lon_i++) {
        if (exec_arg_is(ctx, lon_i, "nx"))
            nx = true;
        else if (exec_arg_is(ctx, lon_i, "xx"))
            xx = true;
        else if (!exec_arg_is(ctx, lon_i, "ch"))
            break;
    }
    if ((ctx->argc - lon_i) % 3 || (xx && nx)) {
        exec_reply_syntax_error(ctx);
        return;
    }
    int elements = (ctx->argc - lon_i) / 3;
    int zargc = lon_i + elements * 2;
    char **zargv = malloc((size_t)zargc * sizeof(*zargv));
    size_t *zlen = malloc((size_t)zargc * sizeof(*zlen));
    char *scores = malloc((size_t)elements * SCORE_DIGITS + 1);
    if (zargv == NULL || zlen == NULL || scores == NULL) {
        reply_oom(ctx);
        goto out;
    }
    zargv[0] = "zadd";
    zlen[0] = 4;
    for (int i = 1; i < lon_i; i++) {
        zargv[i] = ctx->argv[i];
        zlen[i] = ctx->argvlen[i];
    }
    for (int e = 0; e < elements; e++) {
        double xy[2];
        if (!arg_lonlat(ctx, lon_i + e * 3, xy))
            goto out;
        struct geohash_bits hash;
        geohash_encode_wgs84(xy[0], xy[1], GEOHASH_STEP_MAX, &hash);
        char *score = scores + (size_t)e * SCORE_DIGITS;
        zlen[lon_i + e * 2] = resp_ll2str(score, (long long)geohash_align52(hash));
        zargv[lon_i + e * 2] = score;
        zargv[lon_i + e * 2 + 1] = ctx->argv[lon_i + e * 3 + 2];
        zlen[lon_i + e * 2 + 1] = ctx->argvlen[lon_i + e * 3 + 2];
    }
    struct exec_ctx zadd = *ctx;
    zadd.argc = zargc;
    zadd.argv = zargv;
    zadd.argvlen = zlen;
    cmd_zadd(&zadd);
    ctx->dirty = zadd.dirty;
out:
    free(scores);
    free(zlen);
    free(zargv);
}

/* ---- GEODIST GEOHASH GEOPOS ---- */

void cmd_geodist(struct exec_ctx *ctx) {
    double to_meters = 1;
    if (ctx->argc == 5) {
        to_meters = arg_unit(ctx, 4);
        if (to_meters < 0)
            return;
    } else if (ctx->argc > 5) {
        exec_reply_syntax_error(ctx);
        return;
    }
    struct kv *kv;
    if (!read_zset(ctx, 1, &kv))
        return;
    double a[2], b[2];
    if (kv == NULL || !member_position(ctx, kv, 2, a) || !member_position(ctx, kv, 3, b)) {
        resp_add_null(ctx->out);
        return;
    }
    add_distance(ctx->out, geohash_distance(a[0], a[1], b[0], b[1]) / to_meters);
}

void cmd_geohash(struct exec_ctx *ctx) {
    struct kv *kv;
    if (!read_zset(ctx, 1, &kv))
        return;
    resp_add_array(ctx->out, ctx->argc - 2);
    for (int i = 2; i < ctx->argc; i++) {
        double score;
        char str[GEOHASH_STR_LEN];
        if (kv != NULL && zset_score(kv, ctx->argv[i], ctx->argvlen[i], &score) &&
            geohash_score_to_string(score, str))
            resp_add_bulk(ctx->out, str, GEOHASH_STR_LEN);
        else
            resp_add_null(ctx->out);
    }
}

void cmd_geopos(struct exec_ctx *ctx) {
    struct kv *kv;
    if (!read_zset(ctx, 1, &kv))
        return;
    resp_add_array(ctx->out, ctx->argc - 2);
    for (int i = 2; i < ctx->argc; i++) {
        double xy[2];
        if (kv != NULL && member_position(ctx, kv, i, xy)) {
            resp_add_array(ctx->out, 2);
            add_coordinate(ctx->out, xy[0]);
            add_coordinate(ctx->out, xy[1]);
        } else {
            resp_add_null_array(ctx->out);
        }
    }
}

/* ---- Searching ---- */

/* A match: its member (borrowed from the set, or copied into 'intbuf' when
 * the set formatted an integer), stored score, position and distance in
 * metres. 'seq' is the scan order, the tie-break when sorting. */
struct geo_point {
    const char *member; /* NULL: the member is in 'intbuf' */
    size_t len;
    char intbuf[LP_INTBUF];
    double score;
    double lon, lat;
    double dist;
    size_t seq;
};

struct geo_points {
    struct geo_point *items;
    size_t used, cap;
    bool failed; /* out of memory */
};

static const char *point_member(const struct geo_point *p) {
    return p->member != NULL ? p->member : p->intbuf;
}

static void points_append(struct geo_points *ga, const struct zset_member *m, const double xy[2],
                          double dist) {
    if (ga->used == ga->cap) {
        size_t cap = ga->cap ? ga->cap * 2 : 16;
        struct geo_point *items = realloc(ga->items, cap * sizeof(*items));
        if (items == NULL) {
            ga->failed = true;
            return;
        }
        ga->items = items;
        ga->cap = cap;
    }
    struct geo_point *p = &ga->items[ga->used];
    p->len = m->len;
    if (m->p == m->buf) {
        p->member = NULL;
        memcpy(p->intbuf, m->buf, m->len);
    } else {
        p->member = m->p;
    }
    p->score = m->score;
    p->lon = xy[0];
    p->lat = xy[1];
    p->dist = dist;
    p->seq = ga->used;
    ga->used++;
}

/* Redis geoGetPointsInRange over one box: members with min <= score < max
 * that lie inside the shape, stopping once 'limit' (0: none) are found. */
static void scan_box(struct kv *kv, struct geohash_bits box, const struct geohash_shape *shape,
                     struct geo_points *ga, size_t limit) {
    uint64_t min, max;
    geohash_box_scores(box, &min, &max);
    struct zscore_range r = {(double)min, (double)max, false, true};
    struct zset_iter it;
    for (zset_iter_at_score(&it, kv, &r, false); zset_iter_valid(&it); zset_iter_next(&it)) {
        struct zset_member m;
        zset_iter_get(&it, &m);
        if (!zscore_lte_max(m.score, &r))
            break;
        double xy[2], dist;
        if (geohash_decode_score(m.score, xy) && geohash_shape_contains(shape, xy[0], xy[1], &dist))
            points_append(ga, &m, xy, dist);
        if (ga->failed || (ga->used && limit && ga->used >= limit))
            break;
    }
}

/* Redis membersOfAllNeighbors: scans the nine boxes, skipping zeroed ones
 * and a box equal to the one scanned just before it. */
static void scan_boxes(struct kv *kv, struct geohash_shape *shape, struct geo_points *ga,
                       size_t limit) {
    struct geohash_bits boxes[GEOHASH_SEARCH_BOXES];
    geohash_search_boxes(shape, boxes);
    size_t last = 0; /* index of the last scanned box; 0 doubles as "none" */
    for (size_t i = 0; i < GEOHASH_SEARCH_BOXES; i++) {
        if (boxes[i].bits == 0 && boxes[i].step == 0)
            continue;
        if (last && boxes[i].bits == boxes[last].bits && boxes[i].step == boxes[last].step)
            continue;
        if (ga->failed || (ga->used && limit && ga->used >= limit))
            break;
        scan_box(kv, boxes[i], shape, ga, limit);
        last = i;
    }
}

/* Redis's sort_gp_asc / sort_gp_desc: by distance only. */
static int compare_distance(const void *a, const void *b, void *desc) {
    const struct geo_point *pa = a, *pb = b;
    int cmp = pa->dist > pb->dist ? 1 : pa->dist == pb->dist ? 0 : -1;
    return *(const bool *)desc ? -cmp : cmp;
}

static bool sort_desc; /* qsort has no context: set around each call */

/* The same order with ties kept in scan order: glibc's qsort, which Redis
 * uses for a full sort, is a stable merge sort. */
static int compare_distance_stable(const void *a, const void *b) {
    int cmp = compare_distance(a, b, &sort_desc);
    if (cmp != 0)
        return cmp;
    const struct geo_point *pa = a, *pb = b;
    return pa->seq > pb->seq ? 1 : -1;
}

/* Redis: a full (stable) sort when every match is returned, else a partial
 * quicksort of the first 'n'. */
static void sort_points(struct geo_points *ga, size_t n, bool desc) {
    if (n == ga->used) {
        sort_desc = desc;
        qsort(ga->items, ga->used, sizeof(*ga->items), compare_distance_stable);
    } else {
        pqsort(ga->items, ga->used, sizeof(*ga->items), compare_distance, &desc, 0, n);
    }
}

enum geo_search_flags {
    GEO_RADIUS_COORDS = 1 << 0, /* GEORADIUS: center from arguments */
    GEO_RADIUS_MEMBER = 1 << 1, /* GEORADIUSBYMEMBER: center from a member */
    GEO_NOSTORE = 1 << 2,       /* the _RO variants */
    GEO_SEARCH = 1 << 3,        /* GEOSEARCH syntax */
    GEO_SEARCHSTORE = 1 << 4,   /* GEOSEARCHSTORE */
};

enum geo_sort { GEO_SORT_NONE, GEO_SORT_ASC, GEO_SORT_DESC };

struct geo_options {
    int store_i; /* argv index of the destination key, 0 for none */
    bool storedist;
    bool withdist, withhash, withcoord;
    bool frommember, fromlonlat, byradius, bybox;
    enum geo_sort sort;
    bool any;
    long long count;
};

/* Parses the options from argv['base'] on, as Redis 7.0 georadiusGeneric
 * (a missing source 'kv' defers FROMMEMBER's error to the empty reply).
 * Returns false after replying an error. */
static bool parse_search_options(struct exec_ctx *ctx, int base, int flags, struct kv *kv,
                                 struct geohash_shape *shape, struct geo_options *o) {
    for (int i = base; i < ctx->argc; i++) {
        int left = ctx->argc - i - 1; /* arguments after this one */
        if (exec_arg_is(ctx, i, "withdist")) {
            o->withdist = true;
        } else if (exec_arg_is(ctx, i, "withhash")) {
            o->withhash = true;
        } else if (exec_arg_is(ctx, i, "withcoord")) {
            o->withcoord = true;
        } else if (exec_arg_is(ctx, i, "any")) {
            o->any = true;
        } else if (exec_arg_is(ctx, i, "asc")) {
            o->sort = GEO_SORT_ASC;
        } else if (exec_arg_is(ctx, i, "desc")) {
            o->sort = GEO_SORT_DESC;
        } else if (exec_arg_is(ctx, i, "count") && left >= 1) {
            if (!exec_arg_ll(ctx, i + 1, &o->count))
                return false;
            if (o->count <= 0) {
                resp_add_error(ctx->out, "ERR COUNT must be > 0");
                return false;
            }
            i++;
        } else if ((exec_arg_is(ctx, i, "store") || exec_arg_is(ctx, i, "storedist")) &&
                   left >= 1 && !(flags & GEO_NOSTORE) && !(flags & GEO_SEARCH)) {
            o->store_i = i + 1;
            o->storedist = exec_arg_is(ctx, i, "storedist");
            i++;
        } else if (exec_arg_is(ctx, i, "storedist") && (flags & GEO_SEARCHSTORE)) {
            o->storedist = true;
        } else if (exec_arg_is(ctx, i, "frommember") && left >= 1 && (flags & GEO_SEARCH) &&
                   !o->fromlonlat) {
            if (kv != NULL && !member_position(ctx, kv, i + 1, shape->center)) {
                resp_add_error(ctx->out, ERR_NO_MEMBER);
                return false;
            }
            o->frommember = true;
            i++;
        } else if (exec_arg_is(ctx, i, "fromlonlat") && left >= 2 && (flags & GEO_SEARCH) &&
                   !o->frommember) {
            if (!arg_lonlat(ctx, i + 1, shape->center))
                return false;
            o->fromlonlat = true;
            i += 2;
        } else if (exec_arg_is(ctx, i, "byradius") && left >= 2 && (flags & GEO_SEARCH) &&
                   !o->bybox) {
            if (!arg_radius(ctx, i + 1, shape))
                return false;
            o->byradius = true;
            i += 2;
        } else if (exec_arg_is(ctx, i, "bybox") && left >= 3 && (flags & GEO_SEARCH) &&
                   !o->byradius) {
            if (!arg_box(ctx, i + 1, shape))
                return false;
            o->bybox = true;
            i += 3;
        } else {
            exec_reply_syntax_error(ctx);
            return false;
        }
    }
    return true;
}

/* Checks the option combinations Redis 7.0 refuses after parsing. */
static bool check_search_options(struct exec_ctx *ctx, int flags, const struct geo_options *o) {
    if (o->store_i && (o->withdist || o->withhash || o->withcoord)) {
        resp_add_errorf(ctx->out,
                        "ERR %s is not compatible with WITHDIST, WITHHASH and WITHCOORD options",
                        flags & GEO_SEARCHSTORE ? "GEOSEARCHSTORE" : "STORE option in GEORADIUS");
        return false;
    }
    int name_len = (int)ctx->argvlen[0];
    if ((flags & GEO_SEARCH) && !(o->frommember || o->fromlonlat)) {
        resp_add_errorf(ctx->out,
                        "ERR exactly one of FROMMEMBER or FROMLONLAT can be specified for %.*s",
                        name_len, ctx->argv[0]);
        return false;
    }
    if ((flags & GEO_SEARCH) && !(o->byradius || o->bybox)) {
        resp_add_errorf(ctx->out, "ERR exactly one of BYRADIUS and BYBOX can be specified for %.*s",
                        name_len, ctx->argv[0]);
        return false;
    }
    if (o->any && !o->count) {
        resp_add_error(ctx->out, "ERR the ANY argument requires COUNT argument");
        return false;
    }
    return true;
}

static void reply_points(struct exec_ctx *ctx, const struct geo_options *o,
                         const struct geohash_shape *shape, const struct geo_points *ga, size_t n) {
    int extras = o->withdist + o->withhash + o->withcoord;
    resp_add_array(ctx->out, (long long)n);
    for (size_t i = 0; i < n; i++) {
        const struct geo_point *p = &ga->items[i];
        if (extras)
            resp_add_array(ctx->out, extras + 1);
        resp_add_bulk(ctx->out, point_member(p), p->len);
        if (o->withdist)
            add_distance(ctx->out, p->dist / shape->to_meters);
        if (o->withhash)
            resp_add_int(ctx->out, (long long)p->score);
        if (o->withcoord) {
            resp_add_array(ctx->out, 2);
            add_coordinate(ctx->out, p->lon);
            add_coordinate(ctx->out, p->lat);
        }
    }
}

/* Deletes the store destination argv['i'] for an empty result, with a
 * "del" event if it existed (Redis 7.0 georadiusGeneric). */
static void delete_destination(struct exec_ctx *ctx, int i) {
    if (db_delete(ctx, ctx->argv[i], ctx->argvlen[i]))
        notify_keyspace_event(ctx, NOTIFY_GENERIC, "del", ctx->argv[i], ctx->argvlen[i]);
}

/* Stores the first 'n' points as a sorted set at argv[o->store_i] (scores:
 * geohashes, or distances in the unit with STOREDIST), sends 'event' and
 * replies n. With no points the destination is deleted. */
static void store_points(struct exec_ctx *ctx, const struct geo_options *o,
                         const struct geohash_shape *shape, const struct geo_points *ga, size_t n,
                         const char *event) {
    const char *key = ctx->argv[o->store_i];
    size_t keylen = ctx->argvlen[o->store_i];
    if (n == 0) {
        delete_destination(ctx, o->store_i);
        resp_add_int(ctx->out, 0);
        return;
    }
    struct zset_limits lim = {(size_t)cfg.zset_max_listpack_entries,
                              (size_t)cfg.zset_max_listpack_value};
    size_t longest = 0;
    for (size_t i = 0; i < n; i++)
        if (ga->items[i].len > longest)
            longest = ga->items[i].len;
    struct kv *dst = zset_new(key, keylen, n, longest, &lim);
    int rc = dst == NULL ? -1 : 0;
    for (size_t i = 0; rc == 0 && i < n; i++) {
        const struct geo_point *p = &ga->items[i];
        double score = o->storedist ? p->dist / shape->to_meters : p->score;
        int out_flags;
        double newscore;
        rc = zset_add(dst, score, point_member(p), p->len, 0, &out_flags, &newscore, &lim);
    }
    if (rc != 0) {
        if (dst != NULL)
            kv_free(dst);
        reply_oom(ctx);
        return;
    }
    /* The destination may be the source: the points borrow its members,
     * which stay valid until db_set replaces it, after the copy above. */
    if (!db_set(ctx, dst))
        return;
    notify_keyspace_event(ctx, NOTIFY_ZSET, event, key, keylen);
    resp_add_int(ctx->out, (long long)n);
}

/* Redis 7.0 georadiusGeneric: 'src_i' is the source key's index. */
static void geo_search_generic(struct exec_ctx *ctx, int src_i, int flags) {
    struct kv *kv;
    if (!read_zset(ctx, src_i, &kv))
        return;
    struct geohash_shape shape;
    memset(&shape, 0, sizeof(shape));
    struct geo_options o;
    memset(&o, 0, sizeof(o));
    int base;
    if (flags & GEO_RADIUS_COORDS) {
        base = 6;
        if (!arg_lonlat(ctx, 2, shape.center) || !arg_radius(ctx, 4, &shape))
            return;
    } else if (flags & GEO_RADIUS_MEMBER) {
        base = 5;
        /* A missing key still parses the options, to pick the reply. */
        if (kv != NULL) {
            if (!member_position(ctx, kv, 2, shape.center)) {
                resp_add_error(ctx->out, ERR_NO_MEMBER);
                return;
            }
            if (!arg_radius(ctx, 3, &shape))
                return;
        }
    } else {
        base = 2;
        if (flags & GEO_SEARCHSTORE) {
            base = 3;
            o.store_i = 1;
        }
    }
    if (!parse_search_options(ctx, base, flags, kv, &shape, &o) ||
        !check_search_options(ctx, flags, &o))
        return;

    if (kv == NULL) {
        if (o.store_i) {
            delete_destination(ctx, o.store_i);
            resp_add_int(ctx->out, 0);
        } else {
            resp_add_array(ctx->out, 0);
        }
        return;
    }
    /* COUNT returns the closest matches, so it implies ASC (not with ANY). */
    if (o.count != 0 && o.sort == GEO_SORT_NONE && !o.any)
        o.sort = GEO_SORT_ASC;

    struct geo_points ga = {NULL, 0, 0, false};
    scan_boxes(kv, &shape, &ga, o.any ? (size_t)o.count : 0);
    if (ga.failed) {
        reply_oom(ctx);
        goto out;
    }
    size_t n = ga.used;
    if (o.count != 0 && (size_t)o.count < n)
        n = (size_t)o.count;
    if (o.sort != GEO_SORT_NONE && ga.used > 1)
        sort_points(&ga, n, o.sort == GEO_SORT_DESC);
    if (o.store_i)
        store_points(ctx, &o, &shape, &ga, n,
                     flags & GEO_SEARCH ? "geosearchstore" : "georadiusstore");
    else
        reply_points(ctx, &o, &shape, &ga, n);
out:
    free(ga.items);
}

void cmd_georadius(struct exec_ctx *ctx) {
    geo_search_generic(ctx, 1, GEO_RADIUS_COORDS);
}

void cmd_georadius_ro(struct exec_ctx *ctx) {
    geo_search_generic(ctx, 1, GEO_RADIUS_COORDS | GEO_NOSTORE);
}

void cmd_georadiusbymember(struct exec_ctx *ctx) {
    geo_search_generic(ctx, 1, GEO_RADIUS_MEMBER);
}

void cmd_georadiusbymember_ro(struct exec_ctx *ctx) {
    geo_search_generic(ctx, 1, GEO_RADIUS_MEMBER | GEO_NOSTORE);
}

void cmd_geosearch(struct exec_ctx *ctx) {
    geo_search_generic(ctx, 1, GEO_SEARCH);
}

void cmd_geosearchstore(struct exec_ctx *ctx) {
    geo_search_generic(ctx, 2, GEO_SEARCH | GEO_SEARCHSTORE);
}
