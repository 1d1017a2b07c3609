"""Sorted-set commands side by side with redis-server 7.0: replies, errors,
score formatting, ranges, set algebra, encodings (listpack <-> skiplist),
RESP3 reply shapes, and the random/scan commands' properties."""
import random

import pytest
import redis

from harness import run_command
from resp_raw import RawPair, mask_id


@pytest.fixture
def call(server):
    """Runs one command on keyraft and returns the unparsed reply."""
    conn = redis.Connection(port=server.port, socket_timeout=10)
    conn.connect()
    yield lambda *args: run_command(conn, *args)
    conn.disconnect()


@pytest.fixture
def small_limits(same):
    same.both("CONFIG", "SET", "zset-max-listpack-entries", "4")
    same.both("CONFIG", "SET", "zset-max-listpack-value", "8")
    yield same
    same.both("CONFIG", "SET", "zset-max-listpack-entries", "128")
    same.both("CONFIG", "SET", "zset-max-listpack-value", "64")


def fill(same, key, n, prefix="m"):
    args = []
    for i in range(n):
        args += [str(i % 7), "%s%03d" % (prefix, i)]
    same("ZADD", key, *args)


def test_zadd_options(same):
    same("ZADD", "z", "1", "a", "2", "b", "3", "c")
    same("ZADD", "z", "NX", "10", "a", "4", "d")
    same("ZADD", "z", "XX", "10", "a", "5", "e")
    same("ZADD", "z", "XX", "CH", "11", "a", "5", "e")
    same("ZADD", "z", "CH", "11", "a", "12", "b", "0", "f")
    same("ZADD", "z", "GT", "CH", "1", "a", "20", "b")
    same("ZADD", "z", "LT", "CH", "1", "a", "20", "c")
    same("ZADD", "z", "XX", "GT", "100", "a")
    same("ZADD", "z", "INCR", "5", "a")
    same("ZADD", "z", "INCR", "NX", "5", "a")
    same("ZADD", "z", "INCR", "XX", "5", "nope")
    same("ZADD", "z", "INCR", "GT", "-5", "a")
    same("ZADD", "z", "INCR", "LT", "-5", "a")
    same("ZADD", "z", "NX", "XX", "1", "a")
    same("ZADD", "z", "GT", "LT", "1", "a")
    same("ZADD", "z", "NX", "GT", "1", "a")
    same("ZADD", "z", "NX", "LT", "1", "a")
    same("ZADD", "z", "INCR", "1", "a", "2", "b")
    same("ZADD", "z", "1")
    same("ZADD", "z", "1", "a", "2")
    same("ZADD", "z", "NX")
    same("ZADD", "z", "x", "a")
    same("ZADD", "z", "1", "a", "nan", "b")
    same("ZADD", "z", "", "a")
    same("ZADD", "z", " 1", "a")
    same("ZADD", "z", "1 ", "a")
    same("ZADD", "z", "0x10", "hex")
    same("ZADD", "z", "1e400", "a")
    same("ZADD", "z", "inf", "pinf", "-inf", "ninf", "+inf", "pinf2")
    same("ZADD", "z", "INCR", "-inf", "pinf")
    same("ZADD", "z", "INCR", "inf", "pinf")
    same("ZADD", "nokey", "XX", "1", "a")
    same("ZADD", "nokey", "XX", "INCR", "1", "a")
    same("EXISTS", "nokey")
    same("ZRANGE", "z", "0", "-1", "WITHSCORES")


def test_scores_formatting(same):
    same("ZADD", "z", "0.1", "a", "-0", "b", "1e20", "c", "3.0", "d", "-1.5e-7", "e",
         "123456789012345678", "f", "9007199254740993", "g", "0.30000000000000004", "h",
         "1.7976931348623157e308", "i", "5e-324", "j")
    same("ZRANGE", "z", "0", "-1", "WITHSCORES")
    for m in "abcdefghij":
        same("ZSCORE", "z", m)
    same("ZMSCORE", "z", "a", "nope", "b")
    same("ZMSCORE", "nokey", "a", "b")
    same("ZSCORE", "nokey", "a")
    same("ZSCORE", "z", "nope")
    same("ZINCRBY", "z", "0.2", "a")
    same("ZINCRBY", "z", "1", "new")
    same("ZINCRBY", "z", "abc", "a")
    same("ZINCRBY", "z", "nx", "a")
    same("ZADD", "inf", "inf", "a")
    same("ZINCRBY", "inf", "-inf", "a")
    same("ZINCRBY", "inf", "1", "a")
    same("ZSCAN", "z", "0")


def test_zrem_zcard_zrank(same):
    same("ZADD", "z", "1", "a", "2", "b", "3", "c", "3", "d")
    same("ZCARD", "z")
    same("ZCARD", "nokey")
    for m in ("a", "c", "d", "nope"):
        same("ZRANK", "z", m)
        same("ZREVRANK", "z", m)
    same("ZRANK", "nokey", "a")
    same("ZREM", "z", "a", "a", "nope")
    same("ZREM", "nokey", "a")
    same("ZREM", "z", "b", "c", "d")
    same("EXISTS", "z")


def test_wrongtype_and_arity(same):
    same("SET", "s", "v")
    same("ZADD", "z", "1", "a")
    cmds = [["ZADD", "s", "1", "a"], ["ZREM", "s", "a"], ["ZSCORE", "s", "a"],
            ["ZMSCORE", "s", "a"], ["ZINCRBY", "s", "1", "a"], ["ZCARD", "s"],
            ["ZCOUNT", "s", "0", "1"], ["ZRANGE", "s", "0", "1"],
            ["ZRANGESTORE", "d", "s", "0", "1"], ["ZREVRANGE", "s", "0", "1"],
            ["ZRANGEBYSCORE", "s", "0", "1"], ["ZREVRANGEBYSCORE", "s", "1", "0"],
            ["ZRANGEBYLEX", "s", "-", "+"], ["ZREVRANGEBYLEX", "s", "+", "-"],
            ["ZLEXCOUNT", "s", "-", "+"], ["ZRANK", "s", "a"], ["ZREVRANK", "s", "a"],
            ["ZREMRANGEBYRANK", "s", "0", "1"], ["ZREMRANGEBYSCORE", "s", "0", "1"],
            ["ZREMRANGEBYLEX", "s", "-", "+"], ["ZPOPMIN", "s"], ["ZPOPMAX", "s", "2"],
            ["ZMPOP", "1", "s", "MIN"], ["ZUNION", "2", "z", "s"], ["ZINTER", "2", "z", "s"],
            ["ZDIFF", "2", "z", "s"], ["ZUNIONSTORE", "d", "2", "z", "s"],
            ["ZINTERSTORE", "d", "1", "s"], ["ZDIFFSTORE", "d", "1", "s"],
            ["ZINTERCARD", "2", "z", "s"], ["ZRANDMEMBER", "s"],
            ["ZRANDMEMBER", "s", "3"], ["ZSCAN", "s", "0"]]
    for cmd in cmds:
        same(*cmd)
    for name in ("ZADD", "ZREM", "ZSCORE", "ZMSCORE", "ZINCRBY", "ZCARD", "ZCOUNT", "ZRANGE",
                 "ZRANGESTORE", "ZREVRANGE", "ZRANGEBYSCORE", "ZRANGEBYLEX", "ZLEXCOUNT",
                 "ZRANK", "ZREMRANGEBYRANK", "ZPOPMIN", "ZMPOP", "ZUNION", "ZINTERSTORE",
                 "ZINTERCARD", "ZRANDMEMBER", "ZSCAN"):
        same(name)
    same("ZCOUNT", "s", "x", "1")  # ranges are parsed before the type check
    same("ZLEXCOUNT", "s", "x", "+")
    same("GET", "s")


def test_zcount_and_score_ranges(same):
    fill(same, "z", 20)
    for lo, hi in [("-inf", "+inf"), ("1", "3"), ("(1", "3"), ("1", "(3"), ("(1", "(3"),
                   ("3", "1"), ("(3", "3"), ("3", "(3"), ("3", "3"), ("inf", "-inf"),
                   ("-inf", "inf"), ("(-inf", "(inf"), ("", "2"), ("(", "2"), ("1", " 4"),
                   ("-1e400", "1e400"), ("0x2", "4")]:
        same("ZCOUNT", "z", lo, hi)
        same("ZRANGEBYSCORE", "z", lo, hi)
        same("ZREVRANGEBYSCORE", "z", hi, lo)
        same("ZRANGE", "z", lo, hi, "BYSCORE", "WITHSCORES")
        same("ZRANGE", "z", hi, lo, "BYSCORE", "REV")
    for lo, hi in [("a", "1"), ("1", "b"), ("nan", "1"), ("((1", "2"), ("1x", "2"),
                   ("[1", "2")]:
        same("ZCOUNT", "z", lo, hi)
        same("ZRANGEBYSCORE", "z", lo, hi)
        same("ZREMRANGEBYSCORE", "z", lo, hi)
    same("ZCOUNT", "nokey", "0", "1")
    same("ZCOUNT", "nokey", "x", "1")


def test_zrange_limit_withscores(same):
    fill(same, "z", 30)
    for off, cnt in [("0", "5"), ("3", "5"), ("3", "-1"), ("-1", "5"), ("29", "5"),
                     ("30", "5"), ("100", "1"), ("2", "0"), ("0", "-5")]:
        same("ZRANGEBYSCORE", "z", "1", "5", "LIMIT", off, cnt)
        same("ZRANGEBYSCORE", "z", "-inf", "+inf", "WITHSCORES", "LIMIT", off, cnt)
        same("ZREVRANGEBYSCORE", "z", "5", "1", "LIMIT", off, cnt, "WITHSCORES")
        same("ZRANGE", "z", "(1", "5", "BYSCORE", "LIMIT", off, cnt)
        same("ZRANGE", "z", "5", "(1", "BYSCORE", "REV", "LIMIT", off, cnt, "WITHSCORES")
    same("ZRANGEBYSCORE", "z", "1", "5", "LIMIT", "1")
    same("ZRANGEBYSCORE", "z", "1", "5", "LIMIT", "x", "1")
    same("ZRANGEBYSCORE", "z", "1", "5", "LIMIT", "1", "x")
    same("ZRANGEBYSCORE", "z", "1", "5", "BYSCORE")
    same("ZRANGEBYSCORE", "z", "1", "5", "REV")
    same("ZRANGEBYSCORE", "z", "1", "5", "WITHSCORE")
    same("ZRANGE", "z", "0", "5", "LIMIT", "0", "1")
    same("ZRANGE", "z", "0", "5", "BYLEX", "WITHSCORES")
    same("ZRANGE", "z", "0", "5", "BYSCORE", "BYLEX")
    same("ZRANGE", "z", "0", "5", "REV", "REV")
    same("ZREVRANGE", "z", "0", "5", "REV")
    same("ZREVRANGE", "z", "0", "5", "BYSCORE")
    same("ZRANGEBYLEX", "z", "-", "+", "WITHSCORES")


def test_zrange_by_rank(same):
    fill(same, "z", 25)
    for lo, hi in [("0", "-1"), ("0", "0"), ("-1", "-1"), ("5", "10"), ("10", "5"),
                   ("-5", "-1"), ("-100", "3"), ("20", "100"), ("25", "30"), ("-1", "-100"),
                   ("-9223372036854775808", "9223372036854775807")]:
        same("ZRANGE", "z", lo, hi)
        same("ZRANGE", "z", lo, hi, "WITHSCORES")
        same("ZRANGE", "z", lo, hi, "REV", "WITHSCORES")
        same("ZREVRANGE", "z", lo, hi)
        same("ZREVRANGE", "z", lo, hi, "WITHSCORES")
    same("ZRANGE", "z", "a", "1")
    same("ZRANGE", "z", "1", "9223372036854775808")
    same("ZRANGE", "nokey", "0", "-1")
    same("ZRANGE", "nokey", "0", "-1", "BADOPT")


def test_lex_ranges(same):
    same("ZADD", "z", *sum([["0", m] for m in
                            ["a", "b", "c", "d", "e", "aa", "ab", "", "z", "zz", "\xff"]], []))
    ranges = [("-", "+"), ("[a", "[c"), ("(a", "[c"), ("[a", "(c"), ("(a", "(c"), ("[c", "[a"),
              ("-", "[c"), ("(c", "+"), ("+", "-"), ("-", "-"), ("+", "+"), ("[", "[b"),
              ("(", "+"), ("[aa", "[aa"), ("(aa", "[aa"), ("[z", "+")]
    for lo, hi in ranges:
        same("ZLEXCOUNT", "z", lo, hi)
        same("ZRANGEBYLEX", "z", lo, hi)
        same("ZREVRANGEBYLEX", "z", hi, lo)
        same("ZRANGE", "z", lo, hi, "BYLEX")
        same("ZRANGE", "z", hi, lo, "BYLEX", "REV", "LIMIT", "1", "3")
        same("ZRANGEBYLEX", "z", lo, hi, "LIMIT", "2", "2")
    for lo, hi in [("a", "+"), ("-", "c"), ("", "+"), ("-x", "+"), ("+x", "-"), ("[a", "")]:
        same("ZLEXCOUNT", "z", lo, hi)
        same("ZRANGEBYLEX", "z", lo, hi)
        same("ZREMRANGEBYLEX", "z", lo, hi)
    same("ZREMRANGEBYLEX", "z", "[b", "(e")
    same("ZRANGE", "z", "0", "-1")
    same("ZREMRANGEBYLEX", "z", "-", "+")
    same("EXISTS", "z")
    same("ZREMRANGEBYLEX", "nokey", "-", "+")


def test_zremrange(same):
    fill(same, "z", 20)
    same("ZREMRANGEBYRANK", "z", "0", "1")
    same("ZREMRANGEBYRANK", "z", "-2", "-1")
    same("ZREMRANGEBYRANK", "z", "5", "2")
    same("ZREMRANGEBYRANK", "z", "100", "200")
    same("ZREMRANGEBYRANK", "z", "x", "1")
    same("ZREMRANGEBYSCORE", "z", "(2", "4")
    same("ZREMRANGEBYSCORE", "z", "10", "11")
    same("ZRANGE", "z", "0", "-1", "WITHSCORES")
    same("ZREMRANGEBYRANK", "z", "0", "-1")
    same("EXISTS", "z")
    same("ZREMRANGEBYRANK", "nokey", "0", "-1")
    same("ZREMRANGEBYSCORE", "nokey", "0", "1")


def test_zpop_zmpop(same):
    fill(same, "z", 10)
    same("ZPOPMIN", "z")
    same("ZPOPMAX", "z")
    same("ZPOPMIN", "z", "2")
    same("ZPOPMAX", "z", "0")
    same("ZPOPMIN", "z", "-1")
    same("ZPOPMIN", "z", "x")
    same("ZPOPMIN", "z", "1", "2")
    same("ZPOPMAX", "z", "100")
    same("EXISTS", "z")
    same("ZPOPMIN", "nokey")
    same("ZPOPMIN", "nokey", "0")
    fill(same, "a", 5, "a")
    fill(same, "b", 5, "b")
    same("ZMPOP", "2", "nokey", "a", "MIN")
    same("ZMPOP", "2", "nokey", "a", "MAX", "COUNT", "3")
    same("ZMPOP", "3", "nokey", "a", "b", "MIN", "COUNT", "10")
    same("ZMPOP", "2", "a", "b", "MAX", "COUNT", "10")
    same("ZMPOP", "1", "nokey", "MIN")
    same("ZMPOP", "0", "a", "MIN")
    same("ZMPOP", "-1", "a", "MIN")
    same("ZMPOP", "x", "a", "MIN")
    same("ZMPOP", "1", "b", "MIDDLE")
    same("ZMPOP", "2", "b", "MIN")
    same("ZMPOP", "5", "b", "MIN")
    same("ZMPOP", "9223372036854775807", "b", "MIN")
    same("ZMPOP", "1", "b", "MIN", "COUNT")
    same("ZMPOP", "1", "b", "MIN", "COUNT", "0")
    same("ZMPOP", "1", "b", "MIN", "COUNT", "-1")
    same("ZMPOP", "1", "b", "MIN", "COUNT", "x")
    same("ZMPOP", "1", "b", "MIN", "COUNT", "1", "COUNT", "1")
    same("ZMPOP", "1", "b", "MIN", "BAD")


def test_zrangestore(small_limits):
    same = small_limits
    fill(same, "src", 10)
    same("ZRANGESTORE", "dst", "src", "0", "2")
    same("OBJECT", "ENCODING", "dst")
    same("ZRANGE", "dst", "0", "-1", "WITHSCORES")
    same("ZRANGESTORE", "dst", "src", "0", "-1")
    same("OBJECT", "ENCODING", "dst")
    same("ZRANGESTORE", "dst", "src", "2", "4", "BYSCORE", "LIMIT", "1", "3")
    same("ZRANGE", "dst", "0", "-1", "WITHSCORES")
    same("ZRANGESTORE", "dst", "src", "[m002", "[m005", "BYLEX", "REV")
    same("ZRANGE", "dst", "0", "-1", "WITHSCORES")
    same("ZRANGESTORE", "dst", "src", "5", "1")
    same("EXISTS", "dst")
    same("SET", "dst", "string")
    same("ZRANGESTORE", "dst", "nokey", "0", "-1")
    same("EXISTS", "dst")
    same("ZRANGESTORE", "dst", "src", "0", "-1", "WITHSCORES")
    same("ZRANGESTORE", "dst", "src", "0", "-1", "REV")
    same("ZRANGE", "dst", "0", "-1")
    same("ZRANGESTORE", "src", "src", "0", "1")
    same("ZRANGE", "src", "0", "-1", "WITHSCORES")


def test_algebra(same):
    same("ZADD", "a", "1", "x", "2", "y", "3", "z")
    same("ZADD", "b", "10", "y", "20", "z", "30", "w")
    same("SADD", "s", "x", "w", "v")
    same("ZADD", "inf", "inf", "x", "-inf", "y")
    for op in ("ZUNION", "ZINTER", "ZDIFF"):
        same(op, "2", "a", "b")
        same(op, "2", "a", "b", "WITHSCORES")
        same(op, "3", "a", "b", "s", "WITHSCORES")
        same(op, "2", "a", "nokey", "WITHSCORES")
        same(op, "2", "nokey", "a")
        same(op, "1", "a")
        same(op, "2", "a", "a", "WITHSCORES")
        same(op, "0", "a")
        same(op, "-1", "a")
        same(op, "x", "a")
        same(op, "3", "a", "b")
        same(op, "2", "a", "b", "BAD")
    for op in ("ZUNION", "ZINTER"):
        same(op, "2", "a", "b", "WEIGHTS", "2", "3", "WITHSCORES")
        same(op, "2", "a", "b", "WEIGHTS", "2", "WITHSCORES")
        same(op, "2", "a", "b", "WEIGHTS", "2", "x")
        same(op, "2", "a", "b", "AGGREGATE", "MIN", "WITHSCORES")
        same(op, "2", "a", "b", "AGGREGATE", "max", "WITHSCORES")
        same(op, "2", "a", "b", "AGGREGATE", "avg")
        same(op, "2", "a", "b", "AGGREGATE")
        same(op, "2", "a", "inf", "WEIGHTS", "0", "0", "WITHSCORES")
        same(op, "2", "inf", "inf", "WITHSCORES")
        same(op, "2", "inf", "a", "WEIGHTS", "1", "-1", "WITHSCORES")
        same(op, "2", "inf", "a", "WEIGHTS", "-1", "1", "AGGREGATE", "MIN", "WITHSCORES")
        same(op, "3", "a", "b", "s", "WEIGHTS", "1", "1", "5", "AGGREGATE", "SUM", "WITHSCORES")
    same("ZDIFF", "2", "a", "b", "WEIGHTS", "1", "1")
    same("ZDIFF", "2", "a", "b", "AGGREGATE", "SUM")
    same("ZDIFF", "2", "s", "a", "WITHSCORES")
    for op in ("ZUNIONSTORE", "ZINTERSTORE", "ZDIFFSTORE"):
        same(op, "d", "2", "a", "b")
        same("ZRANGE", "d", "0", "-1", "WITHSCORES")
        same(op, "d", "2", "a", "b", "WITHSCORES")
        same(op, "d", "0", "a")
        same(op, "d", "2", "nokey", "nokey2")
        same("EXISTS", "d")
        same(op, "a", "2", "a", "b")
        same("ZRANGE", "a", "0", "-1", "WITHSCORES")
        same("DEL", "a")
        same("ZADD", "a", "1", "x", "2", "y", "3", "z")
    same("ZUNIONSTORE", "d", "2", "a", "b", "WEIGHTS", "1", "2", "AGGREGATE", "MAX")
    same("ZRANGE", "d", "0", "-1", "WITHSCORES")
    same("ZINTERCARD", "2", "a", "b")
    same("ZINTERCARD", "2", "a", "b", "LIMIT", "1")
    same("ZINTERCARD", "2", "a", "b", "LIMIT", "0")
    same("ZINTERCARD", "2", "a", "b", "LIMIT", "-1")
    same("ZINTERCARD", "2", "a", "b", "LIMIT", "x")
    same("ZINTERCARD", "2", "a", "b", "WITHSCORES")
    same("ZINTERCARD", "2", "a", "s")
    same("ZINTERCARD", "0", "a")
    same("ZINTERCARD", "3", "a", "b")


def test_encoding_conversions(small_limits):
    same = small_limits
    same("CONFIG", "GET", "zset-max-listpack-entries")
    same("CONFIG", "GET", "zset-max-ziplist-value")
    same("ZADD", "z", "1", "a", "2", "b", "3", "c", "4", "d")
    same("OBJECT", "ENCODING", "z")
    same("ZADD", "z", "5", "e")
    same("OBJECT", "ENCODING", "z")
    same("ZREM", "z", "a", "b", "c")
    same("OBJECT", "ENCODING", "z")  # a skiplist stays one
    same("ZRANGE", "z", "0", "-1", "WITHSCORES")
    same("ZADD", "big", "1", "a", "2", "b", "3", "c", "4", "d", "5", "e")  # 5 pairs at once
    same("OBJECT", "ENCODING", "big")
    same("ZADD", "long", "1", "123456789")
    same("OBJECT", "ENCODING", "long")
    same("ZADD", "lp", "1", "a")
    same("ZADD", "lp", "2", "123456789")
    same("OBJECT", "ENCODING", "lp")
    same("ZADD", "lp2", "1", "a", "2", "b")
    same("ZADD", "lp2", "1", "a", "1", "a", "1", "a", "1", "a", "1", "a")  # the pair count decides
    same("OBJECT", "ENCODING", "lp2")
    # store commands convert small results back
    same("ZUNIONSTORE", "u", "1", "z")
    same("OBJECT", "ENCODING", "u")
    same("ZUNIONSTORE", "u", "2", "z", "big")
    same("OBJECT", "ENCODING", "u")
    same("ZINTERSTORE", "i", "1", "long")
    same("OBJECT", "ENCODING", "i")
    # commands behave the same on both encodings
    fill(same, "sk", 12)
    same("OBJECT", "ENCODING", "sk")
    same("ZRANGE", "sk", "0", "-1", "WITHSCORES")
    same("ZRANGEBYSCORE", "sk", "(1", "5", "LIMIT", "1", "4")
    same("ZREVRANGEBYSCORE", "sk", "5", "(1", "WITHSCORES")
    same("ZRANK", "sk", "m005")
    same("ZREVRANK", "sk", "m005")
    same("ZCOUNT", "sk", "2", "4")
    same("ZLEXCOUNT", "sk", "-", "+")
    same("ZADD", "sk", "INCR", "10", "m003")
    same("ZRANGE", "sk", "-3", "-1", "WITHSCORES")
    same("ZPOPMIN", "sk", "2")
    same("ZPOPMAX", "sk", "2")
    same("ZREMRANGEBYSCORE", "sk", "3", "4")
    same("ZREMRANGEBYRANK", "sk", "0", "0")
    same("ZRANGE", "sk", "0", "-1", "WITHSCORES")
    same("ZRANDMEMBER", "sk", "100", "WITHSCORES")


def test_zrandmember_shapes(same):
    same("ZRANDMEMBER", "nokey")
    same("ZRANDMEMBER", "nokey", "3")
    same("ZRANDMEMBER", "nokey", "-3", "WITHSCORES")
    same("ZADD", "z", "1", "a", "2", "b", "3", "c")
    same("ZRANDMEMBER", "z", "x")
    same("ZRANDMEMBER", "z", "1", "BAD")
    same("ZRANDMEMBER", "z", "1", "WITHSCORES", "x")
    same("ZRANDMEMBER", "z", "0")
    same("ZRANDMEMBER", "z", "-9223372036854775808")
    same("ZRANDMEMBER", "z", "-9223372036854775807", "WITHSCORES")
    same("ZRANDMEMBER", "z", "3")
    same("ZRANDMEMBER", "z", "10", "WITHSCORES")


def check_zrandmember(call, key, scores):
    members = set(scores)
    seen = set()
    for _ in range(200):
        m = call("ZRANDMEMBER", key)
        assert m in members
        seen.add(m)
    assert len(seen) == len(members) if len(members) <= 10 else len(seen) > 10
    size = len(members)
    for count in (1, 2, size - 1, size, size + 3):
        got = call("ZRANDMEMBER", key, count)
        assert len(got) == min(count, size) and len(set(got)) == len(got)
        assert set(got) <= members
    got = call("ZRANDMEMBER", key, -3 * size)
    assert len(got) == 3 * size and set(got) <= members
    got = call("ZRANDMEMBER", key, 4, "WITHSCORES")
    for m, s in zip(got[0::2], got[1::2]):
        assert float(s) == scores[m]


def test_zrandmember_properties(call):
    small = {b"a": 1.0, b"b": 2.5, b"c": -3.0, b"d": 4.0}
    for m, s in small.items():
        call("ZADD", "small", s, m)
    check_zrandmember(call, "small", small)
    big = {b"m%d" % i: float(i) for i in range(300)}
    for m, s in big.items():
        call("ZADD", "big", s, m)
    assert call("OBJECT", "ENCODING", "big") == b"skiplist"
    check_zrandmember(call, "big", big)


def test_zscan(same, call):
    same("ZSCAN", "nokey", "0")
    same("ZADD", "z", "1", "a1", "2.5", "a2", "-0", "b1", "inf", "b2", "1e17", "c1", "1e19", "c2")
    same("ZSCAN", "z", "0")
    same("ZADD", "sk", "1", "x" * 100, "-0", "b1", "1e17", "c1")
    ours, theirs = same.both("ZSCAN", "sk", "0")  # a table: compare without order
    assert ours[0] == theirs[0] == b"0"
    assert sorted(zip(ours[1][0::2], ours[1][1::2])) == sorted(zip(theirs[1][0::2], theirs[1][1::2]))
    same("ZSCAN", "z", "0", "MATCH", "a*")
    same("ZSCAN", "z", "0", "COUNT", "0")
    same("ZSCAN", "z", "0", "TYPE", "zset")
    same("ZSCAN", "z", "x")
    members = {b"member:%d" % i: i / 4 for i in range(500)}
    for m, s in members.items():
        call("ZADD", "big", s, m)
    got = {}
    cursor = b"0"
    for _ in range(10000):
        cursor, items = call("ZSCAN", "big", cursor, "COUNT", 15)
        for m, s in zip(items[0::2], items[1::2]):
            got[m] = float(s)
        if cursor == b"0":
            break
    assert got == members


def test_resp3_replies(server, reference):
    pair = RawPair(server.port, reference.port)
    try:
        pair("HELLO", "3", mask=mask_id)
        pair("FLUSHALL")
        pair("ZADD", "z", "1", "a", "2.5", "b", "inf", "c")
        pair("ZADD", "z", "INCR", "1", "a")
        pair("ZSCORE", "z", "b")
        pair("ZMSCORE", "z", "a", "zz")
        pair("ZRANGE", "z", "0", "-1", "WITHSCORES")
        pair("ZRANGE", "z", "0", "-1")
        pair("ZRANGEBYSCORE", "z", "-inf", "+inf", "WITHSCORES")
        pair("ZRANGEBYSCORE", "z", "5", "6", "WITHSCORES")
        pair("ZUNION", "1", "z", "WITHSCORES")
        pair("ZRANDMEMBER", "z", "5", "WITHSCORES")
        pair("ZADD", "one", "7", "only")
        pair("ZRANDMEMBER", "one", "-2", "WITHSCORES")
        pair("ZSCAN", "z", "0")
        pair("ZPOPMIN", "z")
        pair("ZPOPMIN", "z", "1")
        pair("ZPOPMAX", "nokey")
        pair("ZMPOP", "1", "z", "MAX")
        pair("ZMPOP", "1", "z", "MAX")
        pair("ZRANK", "z", "zz")
        pair("ZSCORE", "z", "zz")
    finally:
        pair.close()


def test_random_ops_match_reference(same):
    """Random mixed operations over both encodings, compared reply by reply."""
    rng = random.Random(7)
    same.both("CONFIG", "SET", "zset-max-listpack-entries", "16")
    try:
        for _ in range(1500):
            key = rng.choice(["r1", "r2"])
            m = "m%d" % rng.randrange(40)
            score = rng.choice(["1", "2", "-3", "0.5", "2.25", str(rng.randrange(10))])
            op = rng.randrange(9)
            if op < 3:
                same("ZADD", key, score, m)
            elif op == 3:
                same("ZINCRBY", key, score, m)
            elif op == 4:
                same("ZREM", key, m)
            elif op == 5:
                same("ZRANGE", key, "0", "-1", "WITHSCORES")
            elif op == 6:
                same("ZRANK", key, m)
                same("ZREVRANK", key, m)
            elif op == 7:
                same("ZRANGEBYSCORE", key, "(1", "5", "WITHSCORES", "LIMIT", "1", "5")
                same("ZCOUNT", key, "0", "(3")
            else:
                same("ZREMRANGEBYSCORE", key, "8", "9")
        same("ZUNION", "2", "r1", "r2", "WITHSCORES")
        same("ZINTER", "2", "r1", "r2", "WITHSCORES")
    finally:
        same.both("CONFIG", "SET", "zset-max-listpack-entries", "128")
