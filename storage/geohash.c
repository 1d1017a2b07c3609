/* Geohash math behind the GEO commands: encoding coordinates into the
 * interleaved 52-bit score, decoding cells, neighbour cells, haversine
 * distances and the nine-box cover of a search shape. It follows the
 * algorithm of Redis 7.0 step for step (same operations in the same order,
 * so the same doubles come out); it does not touch sorted sets or replies,
 * which are node/cmd_geo.c's. */
#include "storage/geohash.h"

#include <math.h>
#include <stddef.h>

#define DEG_TO_RAD (M_PI / 180.0)

/* Half the Mercator world width in metres: a radius of this size needs the
 * coarsest step. */
#define MERCATOR_MAX 20037726.37

static const struct geohash_range wgs84_lon = {GEOHASH_LONG_MIN, GEOHASH_LONG_MAX};
static const struct geohash_range wgs84_lat = {GEOHASH_LAT_MIN, GEOHASH_LAT_MAX};

static double deg_rad(double deg) {
    return deg * DEG_TO_RAD;
}

static double rad_deg(double rad) {
    return rad / DEG_TO_RAD;
}

/* ---- Bit interleaving ---- */

/* Moves bit i of 'v' to bit 2i. */
static uint64_t spread_bits(uint32_t v) {
    uint64_t x = v;
    x = (x | (x << 16)) & 0x0000FFFF0000FFFFULL;
    x = (x | (x << 8)) & 0x00FF00FF00FF00FFULL;
    x = (x | (x << 4)) & 0x0F0F0F0F0F0F0F0FULL;
    x = (x | (x << 2)) & 0x3333333333333333ULL;
    x = (x | (x << 1)) & 0x5555555555555555ULL;
    return x;
}

/* The inverse of spread_bits: gathers the even bits of 'x'. */
static uint32_t squash_bits(uint64_t x) {
    x &= 0x5555555555555555ULL;
    x = (x | (x >> 1)) & 0x3333333333333333ULL;
    x = (x | (x >> 2)) & 0x0F0F0F0F0F0F0F0FULL;
    x = (x | (x >> 4)) & 0x00FF00FF00FF00FFULL;
    x = (x | (x >> 8)) & 0x0000FFFF0000FFFFULL;
    x = (x | (x >> 16)) & 0x00000000FFFFFFFFULL;
    return (uint32_t)x;
}

/* ---- Encode and decode ---- */

static bool range_is_empty(const struct geohash_range *r) {
    return r->min == 0 && r->max == 0;
}

bool geohash_encode(const struct geohash_range *lon_range, const struct geohash_range *lat_range,
                    double lon, double lat, uint8_t step, struct geohash_bits *out) {
    if (step == 0 || step > 32 || range_is_empty(lat_range) || range_is_empty(lon_range))
        return false;
    if (lon > GEOHASH_LONG_MAX || lon < GEOHASH_LONG_MIN || lat > GEOHASH_LAT_MAX ||
        lat < GEOHASH_LAT_MIN)
        return false;
    out->bits = 0;
    out->step = step;
    if (lat < lat_range->min || lat > lat_range->max || lon < lon_range->min ||
        lon > lon_range->max)
        return false;
    double lat_offset = (lat - lat_range->min) / (lat_range->max - lat_range->min);
    double lon_offset = (lon - lon_range->min) / (lon_range->max - lon_range->min);
    /* Fixed point with 'step' bits; the top edge (offset 1.0) yields 2^step,
     * one bit past the cell range, exactly as Redis stores it. */
    lat_offset *= (double)(1ULL << step);
    lon_offset *= (double)(1ULL << step);
    out->bits = spread_bits((uint32_t)lat_offset) | (spread_bits((uint32_t)lon_offset) << 1);
    return true;
}

bool geohash_encode_wgs84(double lon, double lat, uint8_t step, struct geohash_bits *out) {
    return geohash_encode(&wgs84_lon, &wgs84_lat, lon, lat, step, out);
}

bool geohash_decode(const struct geohash_range *lon_range, const struct geohash_range *lat_range,
                    struct geohash_bits hash, struct geohash_area *area) {
    if ((hash.bits == 0 && hash.step == 0) || range_is_empty(lat_range) ||
        range_is_empty(lon_range))
        return false;
    area->hash = hash;
    uint32_t lat_cell = squash_bits(hash.bits);
    uint32_t lon_cell = squash_bits(hash.bits >> 1);
    double cells = (double)(1ULL << hash.step);
    double lat_scale = lat_range->max - lat_range->min;
    double lon_scale = lon_range->max - lon_range->min;
    /* The +1 wraps in 32 bits, as Redis's uint32 arithmetic does. */
    uint32_t lat_next = lat_cell + 1u, lon_next = lon_cell + 1u;
    area->lat.min = lat_range->min + (lat_cell * 1.0 / cells) * lat_scale;
    area->lat.max = lat_range->min + (lat_next * 1.0 / cells) * lat_scale;
    area->lon.min = lon_range->min + (lon_cell * 1.0 / cells) * lon_scale;
    area->lon.max = lon_range->min + (lon_next * 1.0 / cells) * lon_scale;
    return true;
}

bool geohash_decode_wgs84(struct geohash_bits hash, struct geohash_area *area) {
    return geohash_decode(&wgs84_lon, &wgs84_lat, hash, area);
}

void geohash_area_center(const struct geohash_area *area, double xy[2]) {
    xy[0] = (area->lon.min + area->lon.max) / 2;
    if (xy[0] > GEOHASH_LONG_MAX)
        xy[0] = GEOHASH_LONG_MAX;
    if (xy[0] < GEOHASH_LONG_MIN)
        xy[0] = GEOHASH_LONG_MIN;
    xy[1] = (area->lat.min + area->lat.max) / 2;
    if (xy[1] > GEOHASH_LAT_MAX)
        xy[1] = GEOHASH_LAT_MAX;
    if (xy[1] < GEOHASH_LAT_MIN)
        xy[1] = GEOHASH_LAT_MIN;
}

uint64_t geohash_align52(struct geohash_bits hash) {
    return hash.bits << (52 - hash.step * 2);
}

uint64_t geohash_score_bits(double score) {
    /* gcc on x86-64 converts double to uint64 with cvttsd2si: directly below
     * 2^63, after subtracting 2^63 above; an unrepresentable value yields
     * 0x8000000000000000 (so +inf and >= 2^64 end as 0). Spelled out here
     * to get the same bits without undefined behaviour. */
    const double two63 = 9223372036854775808.0;
    const uint64_t indefinite = 1ULL << 63;
    if (score >= two63) {
        double rest = score - two63;
        uint64_t low = rest < two63 ? (uint64_t)(int64_t)rest : indefinite;
        return low ^ indefinite;
    }
    if (score >= -two63)
        return (uint64_t)(int64_t)score;
    return indefinite; /* below -2^63, or NaN */
}

bool geohash_decode_score(double score, double xy[2]) {
    struct geohash_bits hash = {geohash_score_bits(score), GEOHASH_STEP_MAX};
    struct geohash_area area;
    if (!geohash_decode_wgs84(hash, &area))
        return false;
    geohash_area_center(&area, xy);
    return true;
}

bool geohash_score_to_string(double score, char out[GEOHASH_STR_LEN]) {
    static const char alphabet[] = "0123456789bcdefghjkmnpqrstuvwxyz";
    double xy[2];
    if (!geohash_decode_score(score, xy))
        return false;
    /* Stored scores use latitude +-85.05; the standard geohash uses +-90,
     * so the centre is encoded again over the standard ranges. */
    struct geohash_range lon = {-180, 180}, lat = {-90, 90};
    struct geohash_bits hash = {0, 0};
    geohash_encode(&lon, &lat, xy[0], xy[1], GEOHASH_STEP_MAX, &hash);
    for (int i = 0; i < GEOHASH_STR_LEN; i++) {
        /* 52 bits make 10 characters and 2 bits; the 11th is always '0'. */
        uint64_t idx = i == 10 ? 0 : (hash.bits >> (52 - (i + 1) * 5)) & 0x1f;
        out[i] = alphabet[idx];
    }
    return true;
}

/* ---- Neighbours ---- */

/* Moves one cell east (d > 0) or west (d < 0): longitude is in the odd bits. */
static void move_x(struct geohash_bits *hash, int d) {
    uint64_t x = hash->bits & 0xaaaaaaaaaaaaaaaaULL;
    uint64_t y = hash->bits & 0x5555555555555555ULL;
    uint64_t fill = 0x5555555555555555ULL >> (64 - hash->step * 2);
    if (d > 0) {
        /* The even bits set to 1 carry the increment across them. */
        x = x + (fill + 1);
    } else {
        x = x | fill;
        x = x - (fill + 1);
    }
    x &= 0xaaaaaaaaaaaaaaaaULL >> (64 - hash->step * 2);
    hash->bits = x | y;
}

/* Moves one cell north (d > 0) or south (d < 0): latitude is in the even bits. */
static void move_y(struct geohash_bits *hash, int d) {
    uint64_t x = hash->bits & 0xaaaaaaaaaaaaaaaaULL;
    uint64_t y = hash->bits & 0x5555555555555555ULL;
    uint64_t fill = 0xaaaaaaaaaaaaaaaaULL >> (64 - hash->step * 2);
    if (d > 0) {
        y = y + (fill + 1);
    } else {
        y = y | fill;
        y = y - (fill + 1);
    }
    y &= 0x5555555555555555ULL >> (64 - hash->step * 2);
    hash->bits = x | y;
}

static struct geohash_bits moved(const struct geohash_bits *hash, int dx, int dy) {
    struct geohash_bits h = *hash;
    if (dx != 0)
        move_x(&h, dx);
    if (dy != 0)
        move_y(&h, dy);
    return h;
}

void geohash_neighbors(const struct geohash_bits *hash, struct geohash_neighbors *out) {
    out->east = moved(hash, 1, 0);
    out->west = moved(hash, -1, 0);
    out->south = moved(hash, 0, -1);
    out->north = moved(hash, 0, 1);
    out->north_west = moved(hash, -1, 1);
    out->south_west = moved(hash, -1, -1);
    out->north_east = moved(hash, 1, 1);
    out->south_east = moved(hash, 1, -1);
}

/* ---- Distances ---- */

/* The distance along a meridian between two latitudes. */
static double lat_distance(double lat1, double lat2) {
    return GEOHASH_EARTH_RADIUS_M * fabs(deg_rad(lat2) - deg_rad(lat1));
}

double geohash_distance(double lon1, double lat1, double lon2, double lat2) {
    double lon1r = deg_rad(lon1), lon2r = deg_rad(lon2);
    double v = sin((lon2r - lon1r) / 2);
    /* Redis 7.0.15: the same longitude takes the meridian shortcut, which
     * can differ from the full formula in the last bit. */
    if (v == 0.0)
        return lat_distance(lat1, lat2);
    double lat1r = deg_rad(lat1), lat2r = deg_rad(lat2);
    double u = sin((lat2r - lat1r) / 2);
    double a = u * u + cos(lat1r) * cos(lat2r) * v * v;
    return 2.0 * GEOHASH_EARTH_RADIUS_M * asin(sqrt(a));
}

bool geohash_shape_contains(const struct geohash_shape *shape, double lon, double lat,
                            double *dist_m) {
    const double *c = shape->center;
    if (shape->type == GEOHASH_SHAPE_RADIUS) {
        *dist_m = geohash_distance(c[0], c[1], lon, lat);
        return !(*dist_m > shape->radius * shape->to_meters);
    }
    /* Redis 7.0.15 geohashGetDistanceIfInRectangle: the north-south distance
     * along the point's meridian first, then the east-west one along the
     * point's latitude. */
    if (lat_distance(lat, c[1]) > shape->height * shape->to_meters / 2)
        return false;
    if (geohash_distance(lon, lat, c[0], lat) > shape->width * shape->to_meters / 2)
        return false;
    *dist_m = geohash_distance(c[0], c[1], lon, lat);
    return true;
}

/* ---- Search areas ---- */

uint8_t geohash_estimate_steps(double range_m, double lat) {
    if (range_m == 0)
        return GEOHASH_STEP_MAX;
    int step = 1;
    while (range_m < MERCATOR_MAX) {
        range_m *= 2;
        step++;
    }
    step -= 2; /* one step coarser, so the range fits in most cases */
    /* Meridians converge towards the poles: cells get narrower. */
    if (lat > 66 || lat < -66) {
        step--;
        if (lat > 80 || lat < -80)
            step--;
    }
    if (step < 1)
        step = 1;
    if (step > GEOHASH_STEP_MAX)
        step = GEOHASH_STEP_MAX;
    return (uint8_t)step;
}

/* The shape's bounding box in degrees. The east-west extent is taken at the
 * box's edge farther from the equator, where a degree of longitude is
 * shortest. */
static void bounding_box(struct geohash_shape *shape) {
    double lon = shape->center[0], lat = shape->center[1];
    bool circle = shape->type == GEOHASH_SHAPE_RADIUS;
    double height = shape->to_meters * (circle ? shape->radius : shape->height / 2);
    double width = shape->to_meters * (circle ? shape->radius : shape->width / 2);
    double lat_delta = rad_deg(height / GEOHASH_EARTH_RADIUS_M);
    double lon_delta_top = rad_deg(width / GEOHASH_EARTH_RADIUS_M / cos(deg_rad(lat + lat_delta)));
    double lon_delta_bottom =
        rad_deg(width / GEOHASH_EARTH_RADIUS_M / cos(deg_rad(lat - lat_delta)));
    bool southern = lat < 0;
    shape->bounds[0] = southern ? lon - lon_delta_bottom : lon - lon_delta_top;
    shape->bounds[2] = southern ? lon + lon_delta_bottom : lon + lon_delta_top;
    shape->bounds[1] = lat - lat_delta;
    shape->bounds[3] = lat + lat_delta;
}

static void cell_and_neighbors(const struct geohash_shape *shape, uint8_t steps,
                               struct geohash_bits *hash, struct geohash_neighbors *nb,
                               struct geohash_area *area) {
    hash->bits = 0;
    hash->step = 0;
    geohash_encode_wgs84(shape->center[0], shape->center[1], steps, hash);
    geohash_neighbors(hash, nb);
    geohash_decode_wgs84(*hash, area);
}

static const struct geohash_bits zero_box = {0, 0};

void geohash_search_boxes(struct geohash_shape *shape,
                          struct geohash_bits boxes[GEOHASH_SEARCH_BOXES]) {
    bounding_box(shape);
    double min_lon = shape->bounds[0], min_lat = shape->bounds[1];
    double max_lon = shape->bounds[2], max_lat = shape->bounds[3];
    double radius_m = shape->radius;
    if (shape->type == GEOHASH_SHAPE_BOX) /* centre to corner */
        radius_m = sqrt((shape->width / 2) * (shape->width / 2) +
                        (shape->height / 2) * (shape->height / 2));
    radius_m *= shape->to_meters;

    uint8_t steps = geohash_estimate_steps(radius_m, shape->center[1]);
    struct geohash_bits hash;
    struct geohash_neighbors nb;
    struct geohash_area area = {{0, 0}, {0, 0}, {0, 0}};
    cell_and_neighbors(shape, steps, &hash, &nb, &area);

    /* Near a cell edge the estimated step can be too fine: a neighbour may
     * not reach the bounding box's edge. Then one step coarser. */
    struct geohash_area north, south, east, west;
    bool coarser = false;
    if (geohash_decode_wgs84(nb.north, &north) && north.lat.max < max_lat)
        coarser = true;
    if (geohash_decode_wgs84(nb.south, &south) && south.lat.min > min_lat)
        coarser = true;
    if (geohash_decode_wgs84(nb.east, &east) && east.lon.max < max_lon)
        coarser = true;
    if (geohash_decode_wgs84(nb.west, &west) && west.lon.min > min_lon)
        coarser = true;
    if (steps > 1 && coarser) {
        steps--;
        cell_and_neighbors(shape, steps, &hash, &nb, &area);
    }

    /* Drop the neighbours beyond the bounding box. */
    if (steps >= 2) {
        if (area.lat.min < min_lat)
            nb.south = nb.south_west = nb.south_east = zero_box;
        if (area.lat.max > max_lat)
            nb.north = nb.north_east = nb.north_west = zero_box;
        if (area.lon.min < min_lon)
            nb.west = nb.south_west = nb.north_west = zero_box;
        if (area.lon.max > max_lon)
            nb.east = nb.south_east = nb.north_east = zero_box;
    }
    boxes[0] = hash;
    boxes[1] = nb.north;
    boxes[2] = nb.south;
    boxes[3] = nb.east;
    boxes[4] = nb.west;
    boxes[5] = nb.north_east;
    boxes[6] = nb.north_west;
    boxes[7] = nb.south_east;
    boxes[8] = nb.south_west;
}

void geohash_box_scores(struct geohash_bits hash, uint64_t *min, uint64_t *max) {
    /* Every step-26 hash inside the cell starts with the cell's bits: the
     * scores from the cell's bits shifted up, to the next cell's. */
    *min = geohash_align52(hash);
    hash.bits++;
    *max = geohash_align52(hash);
}
