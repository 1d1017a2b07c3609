/* geohash: encode/decode round trips over random points, the scores and
 * geohash strings Redis's documentation gives for Palermo and Catania,
 * neighbour cells (adjacency and inverse moves), distances, the search-box
 * cover, and the score-to-bits conversion of odd scores. */
#include "storage/geohash.h"
#include "tests/unit/lib/test.h"

#include <math.h>
#include <stdint.h>

static uint64_t rng_state = 0x2545F4914F6CDD1DULL;
static uint64_t next_rand(void) {
    rng_state ^= rng_state << 13;
    rng_state ^= rng_state >> 7;
    rng_state ^= rng_state << 17;
    return rng_state;
}

/* A uniform double in [lo, hi]. */
static double rand_in(double lo, double hi) {
    return lo + (hi - lo) * ((double)(next_rand() >> 11) / (double)(1ULL << 53));
}

TEST(geohash_known_scores_and_strings) {
    struct geohash_bits h;
    CHECK(geohash_encode_wgs84(13.361389, 38.115556, GEOHASH_STEP_MAX, &h));
    CHECK(geohash_align52(h) == 3479099956230698ULL);
    CHECK(geohash_encode_wgs84(15.087269, 37.502669, GEOHASH_STEP_MAX, &h));
    CHECK(geohash_align52(h) == 3479447370796909ULL);

    char s[GEOHASH_STR_LEN];
    CHECK(geohash_score_to_string(3479099956230698.0, s));
    CHECK(memcmp(s, "sqc8b49rny0", GEOHASH_STR_LEN) == 0);
    CHECK(geohash_score_to_string(3479447370796909.0, s));
    CHECK(memcmp(s, "sqdtr74hyu0", GEOHASH_STR_LEN) == 0);

    double xy[2];
    CHECK(geohash_decode_score(3479099956230698.0, xy));
    CHECK(fabs(xy[0] - 13.36138933897018433) < 1e-12);
    CHECK(fabs(xy[1] - 38.11555639549629859) < 1e-12);
}

TEST(geohash_round_trip_random_points) {
    for (int i = 0; i < 20000; i++) {
        double lon = rand_in(GEOHASH_LONG_MIN, GEOHASH_LONG_MAX);
        double lat = rand_in(GEOHASH_LAT_MIN, GEOHASH_LAT_MAX);
        uint8_t step = (uint8_t)(1 + next_rand() % GEOHASH_STEP_MAX);
        struct geohash_bits h;
        CHECK(geohash_encode_wgs84(lon, lat, step, &h));
        CHECK(h.step == step);
        struct geohash_area a;
        CHECK(geohash_decode_wgs84(h, &a));
        CHECK(a.lon.min <= lon && lon <= a.lon.max);
        CHECK(a.lat.min <= lat && lat <= a.lat.max);
        /* The cell has the size the step implies. */
        double cell_lon = 360.0 / (double)(1ULL << step);
        CHECK(fabs((a.lon.max - a.lon.min) - cell_lon) < 1e-9);
        /* A stored score decodes to the centre of its cell, within half a
         * cell of the point. */
        if (step == GEOHASH_STEP_MAX) {
            double xy[2];
            CHECK(geohash_decode_score((double)geohash_align52(h), xy));
            CHECK(fabs(xy[0] - lon) <= cell_lon / 2 + 1e-12);
            CHECK(fabs(xy[1] - lat) <= (a.lat.max - a.lat.min) / 2 + 1e-12);
            /* Encoding the centre again gives the same cell. */
            struct geohash_bits again;
            CHECK(geohash_encode_wgs84(xy[0], xy[1], step, &again));
            CHECK(again.bits == h.bits);
        }
    }
}

TEST(geohash_rejects_out_of_range) {
    struct geohash_bits h;
    CHECK(!geohash_encode_wgs84(180.0001, 0, GEOHASH_STEP_MAX, &h));
    CHECK(!geohash_encode_wgs84(0, 85.06, GEOHASH_STEP_MAX, &h));
    CHECK(!geohash_encode_wgs84(0, 0, 0, &h));
    CHECK(!geohash_encode_wgs84(0, 0, 33, &h));
    /* The extreme corners are accepted (the top edge spills one bit, as in
     * Redis: scores of longitude 180 exceed 2^52). */
    CHECK(geohash_encode_wgs84(-180, GEOHASH_LAT_MIN, GEOHASH_STEP_MAX, &h));
    CHECK(h.bits == 0);
    CHECK(geohash_encode_wgs84(180, GEOHASH_LAT_MAX, GEOHASH_STEP_MAX, &h));
    CHECK(h.bits == (3ULL << 52));
    struct geohash_bits zero = {0, 0};
    struct geohash_area a;
    CHECK(!geohash_decode_wgs84(zero, &a));
}

TEST(geohash_neighbors_are_adjacent) {
    for (int i = 0; i < 5000; i++) {
        /* Stay away from the edges so no move wraps around. */
        double lon = rand_in(-150, 150), lat = rand_in(-70, 70);
        uint8_t step = (uint8_t)(4 + next_rand() % (GEOHASH_STEP_MAX - 3));
        struct geohash_bits h;
        CHECK(geohash_encode_wgs84(lon, lat, step, &h));
        struct geohash_area c, e, w, n, s, ne, sw;
        struct geohash_neighbors nb;
        geohash_neighbors(&h, &nb);
        CHECK(geohash_decode_wgs84(h, &c));
        CHECK(geohash_decode_wgs84(nb.east, &e));
        CHECK(geohash_decode_wgs84(nb.west, &w));
        CHECK(geohash_decode_wgs84(nb.north, &n));
        CHECK(geohash_decode_wgs84(nb.south, &s));
        CHECK(geohash_decode_wgs84(nb.north_east, &ne));
        CHECK(geohash_decode_wgs84(nb.south_west, &sw));
        CHECK(fabs(e.lon.min - c.lon.max) < 1e-9 && e.lat.min == c.lat.min);
        CHECK(fabs(w.lon.max - c.lon.min) < 1e-9 && w.lat.min == c.lat.min);
        CHECK(fabs(n.lat.min - c.lat.max) < 1e-9 && n.lon.min == c.lon.min);
        CHECK(fabs(s.lat.max - c.lat.min) < 1e-9 && s.lon.min == c.lon.min);
        CHECK(ne.lon.min == e.lon.min && ne.lat.min == n.lat.min);
        CHECK(sw.lon.min == w.lon.min && sw.lat.min == s.lat.min);
        /* Moving back returns to the cell. */
        struct geohash_neighbors back;
        geohash_neighbors(&nb.east, &back);
        CHECK(back.west.bits == h.bits);
        geohash_neighbors(&nb.south, &back);
        CHECK(back.north.bits == h.bits);
    }
}

TEST(geohash_neighbors_wrap_at_the_edges) {
    struct geohash_bits h;
    CHECK(geohash_encode_wgs84(179.9, 0, 10, &h));
    struct geohash_neighbors nb;
    geohash_neighbors(&h, &nb);
    struct geohash_area e;
    CHECK(geohash_decode_wgs84(nb.east, &e));
    CHECK(e.lon.min == -180);
}

TEST(geohash_distances) {
    /* GEODIST Sicily Palermo Catania: 166274.1516 m (Redis docs). */
    double pa[2], ca[2];
    CHECK(geohash_decode_score(3479099956230698.0, pa));
    CHECK(geohash_decode_score(3479447370796909.0, ca));
    double d = geohash_distance(pa[0], pa[1], ca[0], ca[1]);
    CHECK(fabs(d - 166274.1516) < 0.0001);
    CHECK(geohash_distance(pa[0], pa[1], ca[0], ca[1]) ==
          geohash_distance(ca[0], ca[1], pa[0], pa[1]));
    CHECK(geohash_distance(10, 20, 10, 20) == 0);
    /* Half the circumference between antipodes on the equator. */
    CHECK(fabs(geohash_distance(0, 0, 180, 0) - M_PI * GEOHASH_EARTH_RADIUS_M) < 1e-6);
    /* One degree of latitude anywhere. */
    double deg = M_PI / 180 * GEOHASH_EARTH_RADIUS_M;
    CHECK(fabs(geohash_distance(45, 10, 45, 11) - deg) < 1e-6);
}

TEST(geohash_search_boxes_cover_the_radius) {
    for (int i = 0; i < 2000; i++) {
        struct geohash_shape shape = {0};
        shape.type = GEOHASH_SHAPE_RADIUS;
        shape.center[0] = rand_in(-179, 179);
        shape.center[1] = rand_in(-84, 84);
        shape.to_meters = 1000;
        shape.radius = rand_in(0.1, 500);
        struct geohash_bits boxes[GEOHASH_SEARCH_BOXES];
        geohash_search_boxes(&shape, boxes);
        CHECK(boxes[0].step >= 1 && boxes[0].step <= GEOHASH_STEP_MAX);
        /* A point inside the radius lies in one of the boxes. */
        for (int k = 0; k < 20; k++) {
            double lon = shape.center[0] + rand_in(-5, 5);
            double lat = shape.center[1] + rand_in(-5, 5);
            double dist;
            struct geohash_bits p;
            if (!geohash_encode_wgs84(lon, lat, GEOHASH_STEP_MAX, &p) ||
                !geohash_shape_contains(&shape, lon, lat, &dist))
                continue;
            uint64_t score = geohash_align52(p);
            bool found = false;
            for (int b = 0; b < GEOHASH_SEARCH_BOXES; b++) {
                uint64_t min, max;
                if (boxes[b].step == 0)
                    continue;
                geohash_box_scores(boxes[b], &min, &max);
                found |= min <= score && score < max;
            }
            CHECK(found);
        }
    }
}

TEST(geohash_steps_and_box_shape) {
    CHECK_EQ_INT(geohash_estimate_steps(0, 0), GEOHASH_STEP_MAX);
    CHECK_EQ_INT(geohash_estimate_steps(1e9, 0), 1);
    CHECK(geohash_estimate_steps(1000, 70) < geohash_estimate_steps(1000, 10));
    CHECK(geohash_estimate_steps(1000, 85) < geohash_estimate_steps(1000, 70));

    struct geohash_shape box = {0};
    box.type = GEOHASH_SHAPE_BOX;
    box.center[0] = 0;
    box.center[1] = 0;
    box.to_meters = 1000;
    box.width = 200;
    box.height = 100;
    double dist;
    double deg = M_PI / 180 * GEOHASH_EARTH_RADIUS_M / 1000; /* km per degree */
    CHECK(geohash_shape_contains(&box, 99 / deg, 49 / deg, &dist));
    CHECK(!geohash_shape_contains(&box, 101 / deg, 0, &dist));
    CHECK(!geohash_shape_contains(&box, 0, 51 / deg, &dist));
}

TEST(geohash_score_bits_of_odd_scores) {
    CHECK(geohash_score_bits(3479099956230698.0) == 3479099956230698ULL);
    CHECK(geohash_score_bits(-1.5) == UINT64_MAX);
    CHECK(geohash_score_bits(-0.5) == 0);
    CHECK(geohash_score_bits(INFINITY) == 0);
    CHECK(geohash_score_bits(-INFINITY) == (1ULL << 63));
    CHECK(geohash_score_bits(9223372036854775808.0) == (1ULL << 63));
    CHECK(geohash_score_bits(1e300) == 0);
    double xy[2];
    CHECK(geohash_decode_score(-1.0, xy)); /* clamped to the limits, as Redis */
    CHECK(xy[0] == GEOHASH_LONG_MAX || xy[0] == GEOHASH_LONG_MIN);
}
