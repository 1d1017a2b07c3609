"""Geo commands side by side with redis-server 7.0: GEOADD options, scores
(ZRANGE WITHSCORES), GEOHASH strings, GEOPOS/GEODIST formatting, searches by
radius and box (order, COUNT, ANY, WITH* options), STORE/STOREDIST, poles and
the antimeridian, every error, RESP3 reply shapes, and random searches."""
import random

import pytest

from resp_raw import RawPair, mask_id


def sicily(same):
    """The Redis documentation's example set."""
    same("GEOADD", "Sicily", "13.361389", "38.115556", "Palermo", "15.087269", "37.502669",
         "Catania")


def test_geoadd_and_scores(same):
    sicily(same)
    same("ZRANGE", "Sicily", "0", "-1", "WITHSCORES")
    same("GEOADD", "Sicily", "13.361389", "38.115556", "Palermo")
    same("GEOADD", "Sicily", "NX", "13.5", "38.1", "Palermo", "12.0", "37.0", "Marsala")
    same("GEOADD", "Sicily", "XX", "13.5", "38.1", "Palermo", "14.0", "37.0", "Nowhere")
    same("GEOADD", "Sicily", "CH", "13.6", "38.2", "Palermo", "12.0", "37.0", "Marsala")
    same("GEOADD", "Sicily", "XX", "CH", "13.7", "38.3", "Palermo")
    same("GEOADD", "Sicily", "CH", "NX", "13.7", "38.3", "Palermo", "1", "2", "New")
    same("ZRANGE", "Sicily", "0", "-1", "WITHSCORES")
    same("OBJECT", "ENCODING", "Sicily")
    same("GEOADD", "nokey", "XX", "1", "2", "a")
    same("EXISTS", "nokey")
    # Limits: the whole valid range, including the extreme corners.
    same("GEOADD", "edges", "180", "85.05112878", "ne", "-180", "-85.05112878", "sw",
         "0", "0", "origin", "-0", "-0", "negzero", "179.999999", "-85", "x",
         "1e-10", "1e-10", "tiny")
    same("ZRANGE", "edges", "0", "-1", "WITHSCORES")
    same("GEOPOS", "edges", "ne", "sw", "origin", "negzero", "x", "tiny")
    same("GEOHASH", "edges", "ne", "sw", "origin", "negzero", "x", "tiny")
    # Integer-like members (stored as integers in a listpack).
    same("GEOADD", "ints", "10", "20", "1", "11", "21", "-2", "12", "22", "12345678901234")
    same("GEORADIUS", "ints", "11", "21", "500", "km", "WITHDIST", "ASC")
    # Big sets are skiplists.
    args = []
    for i in range(200):
        args += [str(-170 + i * 1.7), str(-80 + i * 0.8), "p%d" % i]
    same("GEOADD", "big", *args)
    same("OBJECT", "ENCODING", "big")
    same("ZRANGE", "big", "0", "-1", "WITHSCORES")


def test_geoadd_errors(same):
    same("GEOADD", "k", "1", "2")
    same("GEOADD", "k", "1", "2", "m", "3")
    same("GEOADD", "k", "NX", "XX", "1", "2", "m")
    same("GEOADD", "k", "XX", "NX", "1", "2", "m")
    same("GEOADD", "k", "NX", "CH", "XX")
    same("GEOADD", "k", "GT", "1", "2", "m")
    same("GEOADD", "k", "GT", "1", "2")
    same("GEOADD", "k", "181", "0", "m")
    same("GEOADD", "k", "-180.0001", "0", "m")
    same("GEOADD", "k", "0", "85.06", "m")
    same("GEOADD", "k", "0", "-85.06", "m")
    same("GEOADD", "k", "1e300", "1e300", "m")
    same("GEOADD", "k", "abc", "0", "m")
    same("GEOADD", "k", "0", "abc", "m")
    same("GEOADD", "k", "nan", "0", "m")
    same("GEOADD", "k", "inf", "0", "m")
    same("GEOADD", "k", " 1", "0", "m")
    same("GEOADD", "k", "", "0", "m")
    same("GEOADD", "k", "1", "2", "ok", "1", "200", "bad")
    same("EXISTS", "k")  # nothing was added
    same("SET", "str", "x")
    same("GEOADD", "str", "1", "2", "m")
    same("GEOADD", "str", "1", "200", "m")  # position errors come first
    same("GEOADD", "k")
    same("GEOADD", "k", "1", "2", "m", "NX")


def test_geopos_geohash_geodist(same):
    sicily(same)
    same("GEOPOS", "Sicily", "Palermo", "Catania", "NonExisting")
    same("GEOPOS", "Sicily")
    same("GEOPOS", "nokey", "a", "b")
    same("GEOHASH", "Sicily", "Palermo", "Catania", "NonExisting")
    same("GEOHASH", "Sicily")
    same("GEOHASH", "nokey", "a")
    same("GEODIST", "Sicily", "Palermo", "Catania")
    for unit in ("m", "km", "mi", "ft", "KM", "Mi", "FT", "M"):
        same("GEODIST", "Sicily", "Palermo", "Catania", unit)
    same("GEODIST", "Sicily", "Palermo", "Palermo")
    same("GEODIST", "Sicily", "Foo", "Bar")
    same("GEODIST", "Sicily", "Palermo", "Bar")
    same("GEODIST", "nokey", "a", "b")
    same("GEODIST", "nokey", "a", "b", "furlong")
    same("GEODIST", "Sicily", "Palermo", "Catania", "furlong")
    same("GEODIST", "Sicily", "Palermo", "Catania", "km", "extra")
    same("GEODIST", "Sicily", "Palermo")
    same("SET", "str", "x")
    same("GEOPOS", "str", "a")
    same("GEOHASH", "str", "a")
    same("GEODIST", "str", "a", "b")
    # Antipodes and the antimeridian.
    same("GEOADD", "w", "179.9", "0", "east", "-179.9", "0", "west", "0", "0", "zero",
         "180", "0", "am", "-180", "10", "am2")
    same("GEODIST", "w", "east", "west", "km")
    same("GEODIST", "w", "zero", "am", "km")
    same("GEODIST", "w", "am", "am2")
    same("GEOPOS", "w", "am", "am2", "east", "west")
    # Members of a plain sorted set with scores no GEOADD makes.
    same("ZADD", "z", "-1", "neg", "0", "zero", "1e20", "huge", "inf", "inf", "-inf", "ninf",
         "4503599627370496", "p52", "0.5", "half")
    same("GEOPOS", "z", "neg", "zero", "huge", "inf", "ninf", "p52", "half")
    same("GEOHASH", "z", "neg", "zero", "huge", "inf", "ninf", "p52", "half")
    same("GEODIST", "z", "zero", "p52")
    same("GEODIST", "z", "neg", "half", "km")


def test_georadius_docs_examples(same):
    sicily(same)
    same("GEORADIUS", "Sicily", "15", "37", "200", "km", "WITHDIST")
    same("GEORADIUS", "Sicily", "15", "37", "200", "km", "WITHCOORD")
    same("GEORADIUS", "Sicily", "15", "37", "200", "km", "WITHDIST", "WITHCOORD")
    same("GEORADIUS", "Sicily", "15", "37", "200", "km", "WITHDIST", "WITHCOORD", "WITHHASH")
    same("GEORADIUS_RO", "Sicily", "15", "37", "200", "km", "WITHHASH", "DESC")
    same("GEOADD", "Sicily", "13.583333", "37.316667", "Agrigento")
    same("GEORADIUSBYMEMBER", "Sicily", "Agrigento", "100", "km")
    same("GEORADIUSBYMEMBER_RO", "Sicily", "Agrigento", "100", "km", "WITHDIST")
    same("GEOADD", "Sicily", "12.758489", "38.788135", "edge1", "17.241510", "38.788135", "edge2")
    same("GEOSEARCH", "Sicily", "FROMLONLAT", "15", "37", "BYRADIUS", "200", "km", "ASC")
    same("GEOSEARCH", "Sicily", "FROMLONLAT", "15", "37", "BYBOX", "400", "400", "km", "ASC",
         "WITHCOORD", "WITHDIST")
    same("GEOSEARCH", "Sicily", "FROMMEMBER", "Palermo", "BYRADIUS", "200", "km", "DESC",
         "WITHHASH")
    same("GEOSEARCH", "Sicily", "FROMMEMBER", "Palermo", "BYBOX", "100", "100", "mi")
    same("GEOSEARCHSTORE", "dst", "Sicily", "FROMLONLAT", "15", "37", "BYBOX", "400", "400",
         "km", "ASC", "COUNT", "3")
    same("ZRANGE", "dst", "0", "-1", "WITHSCORES")
    same("GEOSEARCHSTORE", "dst", "Sicily", "FROMLONLAT", "15", "37", "BYBOX", "400", "400",
         "km", "ASC", "COUNT", "3", "STOREDIST")
    same("ZRANGE", "dst", "0", "-1", "WITHSCORES")


def test_search_options(same):
    sicily(same)
    same("GEOADD", "Sicily", "13.583333", "37.316667", "Agrigento", "12.758489", "38.788135",
         "edge1", "17.241510", "38.788135", "edge2", "14.0", "37.2", "mid")
    for extra in ([], ["ASC"], ["DESC"], ["COUNT", "1"], ["COUNT", "2", "DESC"],
                  ["COUNT", "100"], ["COUNT", "2", "ANY"], ["COUNT", "3", "ANY", "ASC"],
                  ["COUNT", "3", "ANY", "DESC"], ["ANY", "COUNT", "1"], ["ASC", "DESC"],
                  ["WITHDIST", "WITHDIST"], ["withcoord", "withhash", "withdist", "count", "2"],
                  ["COUNT", "1", "COUNT", "3"]):
        same("GEORADIUS", "Sicily", "15", "37", "300", "km", *extra)
        same("GEORADIUSBYMEMBER", "Sicily", "mid", "300", "km", *extra)
        same("GEOSEARCH", "Sicily", "FROMLONLAT", "15", "37", "BYRADIUS", "300", "km", *extra)
        same("GEOSEARCH", "Sicily", "FROMMEMBER", "mid", "BYBOX", "500", "300", "km", *extra)
    # Options in any order around FROM/BY.
    same("GEOSEARCH", "Sicily", "ASC", "BYRADIUS", "300", "km", "COUNT", "2", "FROMMEMBER",
         "mid", "WITHDIST")
    # Units.
    for unit in ("m", "km", "mi", "ft", "KM"):
        same("GEORADIUS", "Sicily", "15", "37", "200000", unit, "WITHDIST", "ASC")
        same("GEOSEARCH", "Sicily", "FROMLONLAT", "15", "37", "BYBOX", "300000", "100000",
             unit, "WITHDIST", "ASC")
    # Zero radius and zero box find only the exact point.
    same("GEORADIUSBYMEMBER", "Sicily", "Palermo", "0", "m", "WITHDIST")
    same("GEOSEARCH", "Sicily", "FROMMEMBER", "Palermo", "BYBOX", "0", "0", "m", "WITHDIST")
    # Huge radius: everything, duplicate neighbour boxes skipped.
    same("GEORADIUS", "Sicily", "0", "0", "50000", "km", "ASC", "WITHDIST")
    same("GEORADIUS", "Sicily", "0", "0", "inf", "km", "ASC")
    same("GEOSEARCH", "Sicily", "FROMLONLAT", "0", "0", "BYBOX", "inf", "inf", "m", "ASC")
    same("GEOSEARCH", "Sicily", "FROMLONLAT", "0", "0", "BYBOX", "40000", "40000", "km", "ASC")
    same("GEORADIUS", "Sicily", "15", "37", "1e-300", "km")
    # Nothing found.
    same("GEORADIUS", "Sicily", "-100", "-40", "10", "km")
    same("GEOSEARCH", "Sicily", "FROMLONLAT", "-100", "-40", "BYBOX", "1", "1", "km")
    # Missing key.
    same("GEORADIUS", "nokey", "15", "37", "200", "km")
    same("GEORADIUSBYMEMBER", "nokey", "x", "200", "km")
    same("GEORADIUSBYMEMBER", "nokey", "x", "abc", "parsec", "WITHDIST")
    same("GEOSEARCH", "nokey", "FROMMEMBER", "x", "BYRADIUS", "1", "km")
    same("GEOSEARCH", "nokey", "FROMLONLAT", "1", "2", "BYBOX", "1", "1", "km")


def test_search_errors(same):
    sicily(same)
    same("SET", "str", "x")
    same("GEORADIUS", "str", "15", "37", "200", "km")
    same("GEORADIUS", "str", "bad", "37", "200", "km")
    same("GEOSEARCH", "str", "FROMLONLAT", "15", "37", "BYRADIUS", "1", "km")
    same("GEOSEARCHSTORE", "dst", "str", "FROMLONLAT", "15", "37", "BYRADIUS", "1", "km")
    same("GEORADIUS", "Sicily", "200", "37", "200", "km")
    same("GEORADIUS", "Sicily", "15", "90", "200", "km")
    same("GEORADIUS", "Sicily", "x", "37", "200", "km")
    same("GEORADIUS", "Sicily", "15", "37", "x", "km")
    same("GEORADIUS", "Sicily", "15", "37", "-1", "km")
    same("GEORADIUS", "Sicily", "15", "37", "10", "parsec")
    same("GEORADIUS", "Sicily", "15", "37", "10", "km", "COUNT")
    same("GEORADIUS", "Sicily", "15", "37", "10", "km", "COUNT", "0")
    same("GEORADIUS", "Sicily", "15", "37", "10", "km", "COUNT", "-3")
    same("GEORADIUS", "Sicily", "15", "37", "10", "km", "COUNT", "x")
    same("GEORADIUS", "Sicily", "15", "37", "10", "km", "ANY")
    same("GEORADIUS", "Sicily", "15", "37", "10", "km", "BOGUS")
    same("GEORADIUS", "Sicily", "15", "37", "10", "km", "STORE")
    same("GEORADIUS", "Sicily", "15", "37", "10", "km", "STORE", "d", "WITHDIST")
    same("GEORADIUS", "Sicily", "15", "37", "10", "km", "STOREDIST", "d", "WITHHASH")
    same("GEORADIUS", "Sicily", "15", "37", "10", "km", "FROMLONLAT", "1", "2")
    same("GEORADIUS_RO", "Sicily", "15", "37", "10", "km", "STORE", "d")
    same("GEORADIUSBYMEMBER_RO", "Sicily", "Palermo", "10", "km", "STOREDIST", "d")
    same("GEORADIUSBYMEMBER", "Sicily", "Nobody", "10", "km")
    same("GEORADIUSBYMEMBER", "Sicily", "Palermo", "x", "km")
    same("GEORADIUSBYMEMBER", "Sicily", "Palermo", "10", "parsec")
    same("GEOSEARCH", "Sicily", "BYRADIUS", "10", "km")
    same("GEOSEARCH", "Sicily", "FROMLONLAT", "15", "37", "ASC")
    same("geosearch", "Sicily", "FROMLONLAT", "15", "37", "ASC")
    same("GeoSearchStore", "d", "Sicily", "FROMLONLAT", "15", "37", "ASC")
    same("GEOSEARCH", "Sicily", "FROMMEMBER", "Nobody", "BYRADIUS", "10", "km")
    same("GEOSEARCH", "Sicily", "FROMMEMBER", "Palermo", "FROMLONLAT", "1", "2", "BYRADIUS", "1",
         "km")
    same("GEOSEARCH", "Sicily", "FROMLONLAT", "1", "2", "FROMMEMBER", "Palermo", "BYRADIUS", "1",
         "km")
    same("GEOSEARCH", "Sicily", "FROMLONLAT", "1", "2", "BYRADIUS", "1", "km", "BYBOX", "1", "1",
         "km")
    same("GEOSEARCH", "Sicily", "FROMLONLAT", "1", "2", "BYBOX", "1", "1", "km", "BYRADIUS", "1",
         "km")
    same("GEOSEARCH", "Sicily", "FROMLONLAT", "1", "200", "BYRADIUS", "1", "km")
    same("GEOSEARCH", "Sicily", "FROMLONLAT", "1", "2", "BYRADIUS", "-1", "km")
    same("GEOSEARCH", "Sicily", "FROMLONLAT", "1", "2", "BYRADIUS", "1", "kmx")
    same("GEOSEARCH", "Sicily", "FROMLONLAT", "1", "2", "BYBOX", "x", "1", "km")
    same("GEOSEARCH", "Sicily", "FROMLONLAT", "1", "2", "BYBOX", "1", "x", "km")
    same("GEOSEARCH", "Sicily", "FROMLONLAT", "1", "2", "BYBOX", "-1", "1", "km")
    same("GEOSEARCH", "Sicily", "FROMLONLAT", "1", "2", "BYBOX", "1", "-1", "km")
    same("GEOSEARCH", "Sicily", "FROMLONLAT", "1", "2", "BYBOX", "1", "1", "au")
    same("GEOSEARCH", "Sicily", "FROMLONLAT", "1", "2", "BYBOX", "1", "1")
    same("GEOSEARCH", "Sicily", "FROMLONLAT", "1", "2", "BYRADIUS", "1", "km", "STORE", "d")
    same("GEOSEARCH", "Sicily", "FROMLONLAT", "1", "2", "BYRADIUS", "1", "km", "STOREDIST")
    same("GEOSEARCH", "Sicily", "FROMLONLAT", "1", "2", "BYRADIUS", "1", "km", "ANY")
    same("GEOSEARCHSTORE", "d", "Sicily", "FROMLONLAT", "1", "2", "BYRADIUS", "1", "km",
         "WITHDIST")
    same("GEOSEARCHSTORE", "d", "Sicily", "FROMLONLAT", "1", "2", "BYRADIUS", "1", "km",
         "STORE", "x")
    same("GEOSEARCH", "Sicily", "FROMMEMBER")
    same("GEORADIUS", "Sicily", "15", "37", "10")
    same("GEORADIUSBYMEMBER", "Sicily", "Palermo", "10")


def test_store_and_storedist(same):
    sicily(same)
    same("GEOADD", "Sicily", "13.583333", "37.316667", "Agrigento")
    same("GEORADIUS", "Sicily", "15", "37", "200", "km", "STORE", "d1")
    same("ZRANGE", "d1", "0", "-1", "WITHSCORES")
    same("GEORADIUS", "Sicily", "15", "37", "200", "km", "STOREDIST", "d2")
    same("ZRANGE", "d2", "0", "-1", "WITHSCORES")
    same("GEORADIUS", "Sicily", "15", "37", "200", "mi", "STOREDIST", "d2", "COUNT", "1", "DESC")
    same("ZRANGE", "d2", "0", "-1", "WITHSCORES")
    same("GEORADIUSBYMEMBER", "Sicily", "Agrigento", "100", "km", "STORE", "d3")
    same("ZRANGE", "d3", "0", "-1", "WITHSCORES")
    same("GEORADIUSBYMEMBER", "Sicily", "Agrigento", "100", "km", "STOREDIST", "d3", "ASC")
    same("ZRANGE", "d3", "0", "-1", "WITHSCORES")
    # STORE then STOREDIST: the last one wins.
    same("GEORADIUS", "Sicily", "15", "37", "200", "km", "STORE", "a", "STOREDIST", "b")
    same("EXISTS", "a", "b")
    # An empty result deletes the destination, whatever its type.
    same("SET", "victim", "x")
    same("GEORADIUS", "Sicily", "-100", "0", "1", "km", "STORE", "victim")
    same("EXISTS", "victim")
    same("SET", "victim", "x")
    same("GEORADIUS", "nokey", "0", "0", "1", "km", "STORE", "victim")
    same("EXISTS", "victim")
    same("SET", "victim", "x")
    same("GEOSEARCHSTORE", "victim", "nokey", "FROMMEMBER", "x", "BYRADIUS", "1", "km")
    same("EXISTS", "victim")
    # Overwrites any type and drops the TTL.
    same("SET", "victim", "x", "EX", "100")
    same("GEOSEARCHSTORE", "victim", "Sicily", "FROMLONLAT", "15", "37", "BYRADIUS", "200", "km")
    same("TYPE", "victim")
    same("TTL", "victim")
    # The source as destination.
    same("GEOSEARCHSTORE", "Sicily", "Sicily", "FROMLONLAT", "15", "37", "BYRADIUS", "200", "km",
         "STOREDIST")
    same("ZRANGE", "Sicily", "0", "-1", "WITHSCORES")
    # Encodings of stored results.
    args = []
    for i in range(150):
        args += [str(10 + i * 0.001), str(40 + i * 0.001), "member-%03d" % i]
    same("GEOADD", "many", *args)
    same("GEOSEARCHSTORE", "big", "many", "FROMLONLAT", "10", "40", "BYRADIUS", "100", "km")
    same("OBJECT", "ENCODING", "big")
    same("ZCARD", "big")
    same("GEOSEARCHSTORE", "small", "many", "FROMLONLAT", "10", "40", "BYRADIUS", "100", "km",
         "COUNT", "5")
    same("OBJECT", "ENCODING", "small")
    same("ZRANGE", "small", "0", "-1", "WITHSCORES")
    same("GEOADD", "longname", "10", "40", "x" * 100)
    same("GEOSEARCHSTORE", "long", "longname", "FROMLONLAT", "10", "40", "BYRADIUS", "1", "km")
    same("OBJECT", "ENCODING", "long")


def test_poles_and_antimeridian(same):
    args = []
    for lon in (-180, -179.99, -179.5, -170, 0, 170, 179.5, 179.99, 180):
        for lat in (-85.05112878, -85, -84.9, -80, -66.5, 0, 66.5, 80, 84.9, 85, 85.05112878):
            args += [str(lon), str(lat), "p%s_%s" % (lon, lat)]
    same("GEOADD", "g", *args)
    for lon, lat in ((180, 0), (-180, 0), (179.9, 85), (-179.9, -85), (0, 85.05112878),
                     (0, -85.05112878), (179.99, 84.9), (180, 85.05112878), (-180, -84)):
        for radius in ("1", "50", "500", "2000", "8000"):
            same("GEORADIUS", "g", str(lon), str(lat), radius, "km", "WITHDIST", "ASC")
            same("GEOSEARCH", "g", "FROMLONLAT", str(lon), str(lat), "BYBOX", radius, radius,
                 "km", "WITHDIST", "ASC")
            same("GEOSEARCH", "g", "FROMLONLAT", str(lon), str(lat), "BYBOX", radius, "1",
                 "km", "ASC")
    same("GEOSEARCH", "g", "FROMMEMBER", "p180_85.05112878", "BYRADIUS", "3000", "km", "ASC",
         "WITHCOORD")
    same("GEOSEARCH", "g", "FROMMEMBER", "p-180_-85.05112878", "BYBOX", "3000", "3000", "km",
         "DESC", "WITHHASH")


def test_count_any(same):
    args = []
    for i in range(300):
        args += [str(2 + (i % 20) * 0.01), str(48 + (i // 20) * 0.01), "m%d" % i]
    same("GEOADD", "grid", *args)
    for count in ("1", "5", "50", "299", "300", "1000"):
        same("GEOSEARCH", "grid", "FROMLONLAT", "2.1", "48.07", "BYRADIUS", "20", "km", "COUNT",
             count, "ANY")
        same("GEOSEARCH", "grid", "FROMLONLAT", "2.1", "48.07", "BYRADIUS", "20", "km", "COUNT",
             count, "ANY", "ASC", "WITHDIST")
        same("GEORADIUS", "grid", "2.1", "48.07", "3", "km", "COUNT", count, "ANY", "DESC")
        same("GEOSEARCHSTORE", "d", "grid", "FROMLONLAT", "2.1", "48.07", "BYBOX", "5", "5",
             "km", "COUNT", count, "ANY")
        same("ZRANGE", "d", "0", "-1", "WITHSCORES")
        same("GEOSEARCHSTORE", "d", "grid", "FROMLONLAT", "2.1", "48.07", "BYBOX", "5", "5",
             "km", "COUNT", count, "STOREDIST")
        same("ZRANGE", "d", "0", "-1", "WITHSCORES")


def test_random_searches_match_reference(same):
    """Random point clouds and random searches: the same members, in the same
    order, with the same distances, hashes and coordinates."""
    rng = random.Random(20240611)
    for round_ in range(6):
        key = "cloud%d" % round_
        lon0, lat0 = rng.uniform(-179, 179), rng.uniform(-84, 84)
        spread = rng.choice([0.01, 0.5, 5, 40])
        args = []
        for i in range(rng.choice([50, 140, 400])):
            lon = max(-180, min(180, lon0 + rng.uniform(-spread, spread)))
            lat = max(-85.05, min(85.05, lat0 + rng.uniform(-spread, spread)))
            args += ["%.6f" % lon, "%.6f" % lat, "m%d" % i]
        same("GEOADD", key, *args)
        for _ in range(40):
            lon = max(-180, min(180, lon0 + rng.uniform(-spread, spread)))
            lat = max(-85.05, min(85.05, lat0 + rng.uniform(-spread, spread)))
            unit = rng.choice(["m", "km", "mi", "ft"])
            scale = {"m": 1000, "km": 1, "mi": 0.62, "ft": 3280}[unit]
            size = "%.3f" % (rng.uniform(0, spread * 150) * scale)
            order = rng.choice([[], ["ASC"], ["DESC"]])
            if rng.random() < 0.5:
                same("GEOSEARCH", key, "FROMLONLAT", "%.6f" % lon, "%.6f" % lat, "BYRADIUS",
                     size, unit, *order, "WITHDIST", "WITHHASH", "WITHCOORD")
            else:
                height = "%.3f" % (rng.uniform(0, spread * 150) * scale)
                same("GEOSEARCH", key, "FROMLONLAT", "%.6f" % lon, "%.6f" % lat, "BYBOX", size,
                     height, unit, *order, "WITHDIST", "WITHHASH", "WITHCOORD")
            member = "m%d" % rng.randrange(50)
            same("GEORADIUSBYMEMBER", key, member, size, unit, "WITHDIST", "COUNT",
                 str(rng.randrange(1, 60)))
            same("GEODIST", key, member, "m%d" % rng.randrange(50), unit)
        same("GEOHASH", key, *["m%d" % i for i in range(50)])
        same("GEOPOS", key, *["m%d" % i for i in range(50)])


def test_resp3_and_raw_replies(server, reference):
    pair = RawPair(server.port, reference.port)
    try:
        pair("FLUSHALL")
        pair("GEOADD", "Sicily", "13.361389", "38.115556", "Palermo", "15.087269", "37.502669",
             "Catania")
        # RESP2 bytes: coordinates and distances are bulk strings.
        pair("GEOPOS", "Sicily", "Palermo", "nope")
        pair("GEODIST", "Sicily", "Palermo", "Catania", "km")
        pair("GEORADIUS", "Sicily", "15", "37", "200", "km", "WITHDIST", "WITHCOORD", "WITHHASH")
        pair("HELLO", "3", mask=mask_id)
        pair("GEOPOS", "Sicily", "Palermo", "nope")
        pair("GEOHASH", "Sicily", "Palermo", "nope")
        pair("GEODIST", "Sicily", "Palermo", "Catania", "km")
        pair("GEODIST", "Sicily", "Palermo", "nope")
        pair("GEODIST", "nokey", "Palermo", "nope")
        pair("GEORADIUS", "Sicily", "15", "37", "200", "km", "WITHDIST", "WITHCOORD", "WITHHASH")
        pair("GEOSEARCH", "Sicily", "FROMLONLAT", "15", "37", "BYBOX", "400", "400", "km")
        pair("GEOSEARCH", "Sicily", "FROMLONLAT", "-50", "37", "BYBOX", "4", "4", "km")
        pair("GEOSEARCH", "nokey", "FROMLONLAT", "-50", "37", "BYBOX", "4", "4", "km")
        pair("GEOSEARCHSTORE", "d", "Sicily", "FROMLONLAT", "15", "37", "BYBOX", "400", "400",
             "km")
    finally:
        pair.close()


def test_equal_distances_keep_redis_order(same):
    """Members at the same position: a full sort keeps scan order, a COUNT
    that cuts the result uses Redis's partial quicksort; both orders match."""
    args = []
    for i in range(60):
        spot = i % 4
        args += [str(10 + spot * 0.01), str(45 + spot * 0.01), "dup%02d" % i]
    same("GEOADD", "dups", *args)
    for count in ([], ["COUNT", "1"], ["COUNT", "7"], ["COUNT", "25"], ["COUNT", "59"]):
        for order in ("ASC", "DESC"):
            same("GEOSEARCH", "dups", "FROMLONLAT", "10", "45", "BYRADIUS", "100", "km", order,
                 *count)
            same("GEORADIUS", "dups", "10.02", "45.02", "100", "km", order, "WITHDIST", *count)
    same("GEOSEARCHSTORE", "d", "dups", "FROMLONLAT", "10", "45", "BYRADIUS", "100", "km",
         "COUNT", "9", "STOREDIST")
    same("ZRANGE", "d", "0", "-1", "WITHSCORES")
