/* Geohash math for the GEO commands: the 52-bit interleaved geohash that
 * Redis 7.0 stores as a sorted-set score, its neighbours, the haversine
 * distance, and the choice of the nine boxes a radius or box search scans.
 *
 * Pure functions over doubles and integers: no allocation, no I/O. The
 * behaviour (including the rounding of every step) follows Redis 7.0's
 * geohash.c / geohash_helper.c / geo.c algorithm, so that scores, GEOHASH
 * strings, distances and search results are identical for the same input.
 *
 * Bit layout of a hash of 'step' bits per axis: latitude cells occupy the
 * even bits, longitude cells the odd bits; the most significant pair is the
 * coarsest split. The stored score is the step-26 hash (52 bits). */
#ifndef KR_STORAGE_GEOHASH_H
#define KR_STORAGE_GEOHASH_H

#include <stdbool.h>
#include <stdint.h>

#define GEOHASH_STEP_MAX 26 /* bits per axis of a stored score: 52 in all */

/* Coordinate limits (EPSG:900913, as Redis). */
#define GEOHASH_LAT_MIN  -85.05112878
#define GEOHASH_LAT_MAX  85.05112878
#define GEOHASH_LONG_MIN -180.0
#define GEOHASH_LONG_MAX 180.0

/* Earth's radius as Redis uses it for every distance. */
#define GEOHASH_EARTH_RADIUS_M 6372797.560856

/* Length of a GEOHASH reply string. */
#define GEOHASH_STR_LEN 11

/* A hash of 'step' bits per axis. step == 0 marks an unused (zeroed) box. */
struct geohash_bits {
    uint64_t bits;
    uint8_t step;
};

struct geohash_range {
    double min, max;
};

/* The cell a hash stands for. */
struct geohash_area {
    struct geohash_bits hash;
    struct geohash_range lon, lat;
};

struct geohash_neighbors {
    struct geohash_bits north, south, east, west;
    struct geohash_bits north_east, north_west, south_east, south_west;
};

/* Encodes ('lon', 'lat') with 'step' bits per axis inside the given
 * ranges. False (and '*out' unusable) when 'step' is 0 or above 32, a range
 * is empty, or the point lies outside the WGS84 limits or the ranges. */
bool geohash_encode(const struct geohash_range *lon_range, const struct geohash_range *lat_range,
                    double lon, double lat, uint8_t step, struct geohash_bits *out);
/* geohash_encode over the stored ranges (lon -180..180, lat +-85.05112878). */
bool geohash_encode_wgs84(double lon, double lat, uint8_t step, struct geohash_bits *out);

/* The cell of 'hash' inside the given ranges (false for a zeroed hash). */
bool geohash_decode(const struct geohash_range *lon_range, const struct geohash_range *lat_range,
                    struct geohash_bits hash, struct geohash_area *area);
bool geohash_decode_wgs84(struct geohash_bits hash, struct geohash_area *area);
/* The centre of 'area', clamped to the WGS84 limits: xy[0] lon, xy[1] lat. */
void geohash_area_center(const struct geohash_area *area, double xy[2]);

/* The 52-bit score of a hash: its bits shifted to the step-26 position. */
uint64_t geohash_align52(struct geohash_bits hash);
/* The bits Redis reads from a sorted-set 'score' ((uint64_t)score as
 * x86-64 computes it, also for negative or huge scores of non-geo sets). */
uint64_t geohash_score_bits(double score);
/* Decodes a stored score to its cell centre (Redis decodeGeohash). */
bool geohash_decode_score(double score, double xy[2]);
/* The standard 11-character geohash (base32, latitude -90..90) of a stored
 * score, as GEOHASH replies it. False if the score does not decode. */
bool geohash_score_to_string(double score, char out[GEOHASH_STR_LEN]);

/* The eight cells around 'hash' at the same step. Moving past an edge wraps
 * around within the step's bits. */
void geohash_neighbors(const struct geohash_bits *hash, struct geohash_neighbors *out);

/* Great-circle distance in metres between two points (haversine). */
double geohash_distance(double lon1, double lat1, double lon2, double lat2);

/* ---- Search areas ---- */

enum geohash_shape_type { GEOHASH_SHAPE_RADIUS, GEOHASH_SHAPE_BOX };

/* What a GEOSEARCH / GEORADIUS looks for. Sizes are in the user's unit;
 * 'to_meters' converts them (1, 1000, 0.3048 or 1609.34). */
struct geohash_shape {
    enum geohash_shape_type type;
    double center[2]; /* lon, lat */
    double to_meters;
    double radius;        /* GEOHASH_SHAPE_RADIUS */
    double width, height; /* GEOHASH_SHAPE_BOX: full width and height */
    double bounds[4];     /* set by geohash_search_boxes: min lon, min lat, max lon, max lat */
};

/* Boxes in the order they are scanned: centre, N, S, E, W, NE, NW, SE, SW. */
#define GEOHASH_SEARCH_BOXES 9

/* The step to scan a radius of 'range_m' metres around latitude 'lat' at. */
uint8_t geohash_estimate_steps(double range_m, double lat);
/* Fills 'boxes' with the cells covering 'shape' (boxes that cannot hold a
 * match are zeroed: step 0) and sets shape->bounds. */
void geohash_search_boxes(struct geohash_shape *shape,
                          struct geohash_bits boxes[GEOHASH_SEARCH_BOXES]);
/* The sorted-set score range [*min, *max) that holds the points of 'hash'. */
void geohash_box_scores(struct geohash_bits hash, uint64_t *min, uint64_t *max);
/* Whether the point ('lon', 'lat') lies in 'shape'; if so '*dist_m' is its
 * distance in metres from the shape's centre. */
bool geohash_shape_contains(const struct geohash_shape *shape, double lon, double lat,
                            double *dist_m);

#endif
