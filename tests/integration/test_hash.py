"""Hash commands side by side with redis-server 7.0: replies, errors,
encodings (listpack <-> hashtable) and the random/scan commands' properties."""
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


def sorted_pairs(flat):
    return sorted(zip(flat[0::2], flat[1::2]))


def test_hset_hget_basics(same):
    same("HSET", "h", "f1", "v1")
    same("HSET", "h", "f1", "v1b", "f2", "v2", "f3", "3")
    same("HGET", "h", "f1")
    same("HGET", "h", "nope")
    same("HGET", "nokey", "f")
    same("HMSET", "h", "f4", "v4")
    same("HMSET", "h", "f5")
    same("HSET", "h", "f5")
    same("HSET", "h")
    same("HGET", "h")
    same("HMGET", "h", "f1", "nope", "f3")
    same("HMGET", "nokey", "a", "b")
    same("HLEN", "h")
    same("HLEN", "nokey")
    same("HGETALL", "h")
    same("HGETALL", "nokey")
    same("HKEYS", "h")
    same("HVALS", "h")
    same("HKEYS", "nokey")
    same("HEXISTS", "h", "f2")
    same("HEXISTS", "h", "zz")
    same("HEXISTS", "nokey", "zz")
    same("HSTRLEN", "h", "f1")
    same("HSTRLEN", "h", "f3")
    same("HSTRLEN", "h", "zz")
    same("HSTRLEN", "nokey", "zz")
    same("HSET", "h", "", "")
    same("HGET", "h", "")
    same("HSET", "bin", "a\x00b", "c\x00d")
    same("HGETALL", "bin")


def test_hsetnx_hdel(same):
    same("HSETNX", "h", "a", "1")
    same("HSETNX", "h", "a", "2")
    same("HGET", "h", "a")
    same("HSETNX", "h", "b", "x" * 100)
    same("HDEL", "h", "a", "a", "zz")
    same("HDEL", "h", "zz")
    same("HDEL", "nokey", "a")
    same("HDEL", "h", "b")
    same("EXISTS", "h")
    same("HSET", "h", "a", "1", "b", "2")
    same("HDEL", "h", "a", "b", "c")
    same("EXISTS", "h")


def test_wrongtype(same):
    same("SET", "s", "str")
    for cmd in (["HSET", "s", "f", "v"], ["HMSET", "s", "f", "v"], ["HSETNX", "s", "f", "v"],
                ["HGET", "s", "f"], ["HMGET", "s", "f"], ["HGETALL", "s"], ["HDEL", "s", "f"],
                ["HLEN", "s"], ["HEXISTS", "s", "f"], ["HKEYS", "s"], ["HVALS", "s"],
                ["HINCRBY", "s", "f", "1"], ["HINCRBYFLOAT", "s", "f", "1"],
                ["HSTRLEN", "s", "f"], ["HRANDFIELD", "s"], ["HRANDFIELD", "s", "2"],
                ["HSCAN", "s", "0"]):
        same(*cmd)
    same("HSET", "s", "f")  # arity is checked before the type
    same("HINCRBY", "s", "f", "x")  # the increment is parsed before the type
    same("HSCAN", "s", "x")  # and the cursor
    same("GET", "s")


def test_arity(same):
    for cmd in ("HSET", "HSETNX", "HGET", "HMGET", "HGETALL", "HDEL", "HLEN", "HEXISTS",
                "HKEYS", "HVALS", "HINCRBY", "HINCRBYFLOAT", "HSTRLEN", "HRANDFIELD", "HSCAN"):
        same(cmd)
    same("HGETALL", "a", "b")
    same("HINCRBY", "h", "f")
    same("HSETNX", "h", "f", "v", "x")


def test_hincrby(same):
    same("HINCRBY", "h", "n", "5")
    same("HINCRBY", "h", "n", "-12")
    same("HINCRBY", "h", "n", "abc")
    same("HINCRBY", "h", "n", "1.5")
    same("HINCRBY", "h", "n", " 1")
    same("HINCRBY", "h", "n", "9223372036854775808")
    same("HSET", "h", "s", "hello", "big", "9223372036854775800", "sp", " 1")
    same("HINCRBY", "h", "s", "1")
    same("HINCRBY", "h", "sp", "1")
    same("HINCRBY", "h", "big", "7")
    same("HINCRBY", "h", "big", "8")
    same("HSET", "h", "neg", "-9223372036854775800")
    same("HINCRBY", "h", "neg", "-8")
    same("HINCRBY", "h", "neg", "-9")
    same("HINCRBY", "newkey", "f", "9223372036854775807")
    same("HGETALL", "h")
    same("HINCRBY", "fresh", "f", "0")
    same("HGETALL", "fresh")


def test_hincrbyfloat(same):
    same("HINCRBYFLOAT", "h", "f", "10.5")
    same("HINCRBYFLOAT", "h", "f", "0.1")
    same("HINCRBYFLOAT", "h", "f", "-5")
    same("HINCRBYFLOAT", "h", "f", "5.0e3")
    same("HINCRBYFLOAT", "h", "f", "abc")
    same("HINCRBYFLOAT", "h", "f", "")
    same("HINCRBYFLOAT", "h", "f", " 1")
    same("HINCRBYFLOAT", "h", "f", "1 ")
    same("HINCRBYFLOAT", "h", "f", "inf")
    same("HINCRBYFLOAT", "h", "f", "-inf")
    same("HINCRBYFLOAT", "h", "f", "nan")
    same("HINCRBYFLOAT", "h", "f", "1e5000")
    same("HINCRBYFLOAT", "h", "i", "3")
    same("HINCRBYFLOAT", "h", "i", "-3")
    same("HSET", "h", "s", "word", "e", "1.5e2", "big", "1e308")
    same("HINCRBYFLOAT", "h", "s", "1")
    same("HINCRBYFLOAT", "h", "e", "1")
    same("HINCRBYFLOAT", "h", "big", "1e308")
    same("HINCRBYFLOAT", "h", "neg0", "-0.0")
    same("HINCRBYFLOAT", "h", "f", "1.5\x00x")  # the whole argument must parse
    same("HSET", "h", "nul", "2\x00junk")
    same("HINCRBYFLOAT", "h", "nul", "1")
    same("HINCRBYFLOAT", "h", "tiny", "0.0000000000000000001")
    same("HINCRBYFLOAT", "h", "x", "3.0000000000000000001")
    same("OBJECT", "ENCODING", "h")  # the long "big" value made it a table
    ours, theirs = same.both("HGETALL", "h")
    assert sorted_pairs(ours) == sorted_pairs(theirs)


def test_hrandfield_errors_and_shapes(same):
    same("HRANDFIELD", "nokey")
    same("HRANDFIELD", "nokey", "5")
    same("HRANDFIELD", "nokey", "-5", "WITHVALUES")
    same("HSET", "h", "a", "1", "b", "2", "c", "3")
    same("HRANDFIELD", "h", "x")
    same("HRANDFIELD", "h", "1", "BAD")
    same("HRANDFIELD", "h", "1", "WITHVALUES", "x")
    same("HRANDFIELD", "h", "0")
    same("HRANDFIELD", "h", "0", "WITHVALUES")
    same("HRANDFIELD", "h", "-9223372036854775808")
    same("HRANDFIELD", "h", "-9223372036854775807", "WITHVALUES")
    same("HRANDFIELD", "h", "9223372036854775807", "WITHVALUES")
    same("HRANDFIELD", "h", "9223372036854775808")
    # count >= size returns the whole hash, in storage order (listpack)
    same("HRANDFIELD", "h", "3")
    same("HRANDFIELD", "h", "100", "WITHVALUES")


def check_hrandfield(call, key, fields):
    size = len(fields)
    seen = set()
    for _ in range(200):
        f = call("HRANDFIELD", key)
        assert f in fields
        seen.add(f)
    assert len(seen) == size if size <= 10 else len(seen) > 10
    for count in (1, 2, size - 1, size, size + 5):
        if count <= 0:
            continue
        got = call("HRANDFIELD", key, count)
        assert len(got) == min(count, size)
        assert len(set(got)) == len(got)
        assert set(got) <= fields
    got = call("HRANDFIELD", key, -(size * 3))
    assert len(got) == size * 3 and set(got) <= fields
    got = call("HRANDFIELD", key, 3, "WITHVALUES")
    for f, v in zip(got[0::2], got[1::2]):
        assert v == b"v" + f


def test_hrandfield_properties(call):
    small = {b"f%d" % i for i in range(5)}
    for f in small:
        call("HSET", "small", f, b"v" + f)
    check_hrandfield(call, "small", small)
    big = {b"f%d" % i for i in range(700)}
    for f in big:
        call("HSET", "big", f, b"v" + f)
    assert call("OBJECT", "ENCODING", "big") == b"hashtable"
    check_hrandfield(call, "big", big)


def test_resp3_replies(server, reference):
    pair = RawPair(server.port, reference.port)
    try:
        pair("HELLO", "3", mask=mask_id)
        pair("FLUSHALL")
        pair("HSET", "h", "a", "1", "b", "2")
        pair("HRANDFIELD", "h", "5", "WITHVALUES")
        pair("HRANDFIELD", "h", "5")
        pair("HSET", "one", "f", "v")
        pair("HRANDFIELD", "one", "-2", "WITHVALUES")
        pair("HRANDFIELD", "h", "0", "WITHVALUES")
        pair("HGETALL", "h")
        pair("HGETALL", "nokey")
        pair("HMGET", "h", "a", "zz")
        pair("HSCAN", "h", "0")
        pair("HRANDFIELD", "nokey")
        pair("HGET", "h", "zz")
        pair("HINCRBYFLOAT", "h", "a", "1.5")
    finally:
        pair.close()


def test_hscan(same, call):
    same("HSCAN", "nokey", "0")
    same("HSCAN", "nokey", "0", "BAD")  # options are not checked for a missing key
    same("HSET", "h", "a1", "1", "a2", "2", "b1", "3")
    same("HSCAN", "h", "0")
    same("HSCAN", "h", "0", "MATCH", "a*")
    same("HSCAN", "h", "0", "COUNT", "1")
    same("HSCAN", "h", "0", "COUNT", "0")
    same("HSCAN", "h", "0", "COUNT", "x")
    same("HSCAN", "h", "0", "MATCH")
    same("HSCAN", "h", "0", "TYPE", "hash")
    same("HSCAN", "h", "0", "NOVALUES")
    same("HSCAN", "h", "abc")
    same("HSCAN", "h", "-1")
    same("HSCAN", "h", "18446744073709551616")
    # a table walks with a cursor; every field comes back exactly once
    fields = {b"field:%d" % i for i in range(1000)}
    for i, f in enumerate(sorted(fields)):
        call("HSET", "big", f, i)
    got = {}
    cursor = b"0"
    for _ in range(10000):
        cursor, items = call("HSCAN", "big", cursor, "COUNT", 20)
        for f, v in zip(items[0::2], items[1::2]):
            got[f] = v
        if cursor == b"0":
            break
    assert set(got) == fields
    cursor, items = call("HSCAN", "big", 0, "MATCH", "field:99*", "COUNT", 5000)
    assert cursor == b"0"
    assert sorted(items[0::2]) == sorted(f for f in fields if f.startswith(b"field:99"))


def set_both(same, *args):
    same.both("CONFIG", "SET", *args)


@pytest.fixture
def small_limits(same):
    same.both("CONFIG", "SET", "hash-max-listpack-entries", "4")
    same.both("CONFIG", "SET", "hash-max-listpack-value", "8")
    yield same
    same.both("CONFIG", "SET", "hash-max-listpack-entries", "512")
    same.both("CONFIG", "SET", "hash-max-listpack-value", "64")


def test_encoding_conversions(small_limits):
    same = small_limits
    same("CONFIG", "GET", "hash-max-listpack-entries")
    same("CONFIG", "GET", "hash-max-ziplist-value")
    same("HSET", "h", "a", "1", "b", "2", "c", "3", "d", "4")
    same("OBJECT", "ENCODING", "h")
    same("HSET", "h", "e", "5")
    same("OBJECT", "ENCODING", "h")
    same("HDEL", "h", "a", "b", "c", "d")
    same("OBJECT", "ENCODING", "h")  # a table never converts back
    same("HGETALL", "h")
    same("HSET", "long", "f", "123456789")
    same("OBJECT", "ENCODING", "long")
    same("HSET", "longfield", "123456789", "v")
    same("OBJECT", "ENCODING", "longfield")
    same("HSETNX", "nx", "f", "123456789")
    same("OBJECT", "ENCODING", "nx")
    same("HSET", "short", "f", "12345678")
    same("OBJECT", "ENCODING", "short")
    same("HINCRBY", "short", "f", "1")
    same("OBJECT", "ENCODING", "short")
    same("HGET", "short", "f")
    # sorting makes the table's order comparable
    same("HSET", "t", "a", "1", "b", "2", "c", "3", "d", "4", "e", "5", "f", "6")
    ours = same.both("HGETALL", "t")
    assert sorted_pairs(ours[0]) == sorted_pairs(ours[1])
    same("HLEN", "t")
    same("HMGET", "t", "a", "f", "zz")
    same("HDEL", "t", "a", "zz")
    same("HEXISTS", "t", "a")
    same("HINCRBYFLOAT", "t", "b", "0.5")
    same("HSTRLEN", "t", "b")
    ours = same.both("HKEYS", "t")
    assert sorted(ours[0]) == sorted(ours[1])
    ours = same.both("HVALS", "t")
    assert sorted(ours[0]) == sorted(ours[1])
    same("HRANDFIELD", "t", "0")


def test_zero_entries_limit(same):
    same.both("CONFIG", "SET", "hash-max-listpack-entries", "0")
    try:
        same("HSET", "h", "a", "1")
        same("OBJECT", "ENCODING", "h")
    finally:
        same.both("CONFIG", "SET", "hash-max-listpack-entries", "512")


def test_large_hash_matches_model(call):
    model = {}
    for i in range(3000):
        f = b"f%d" % (i % 900)
        v = b"v%d" % i
        call("HSET", "big", f, v)
        model[f] = v
        if i % 7 == 0:
            d = b"f%d" % ((i * 13) % 900)
            assert call("HDEL", "big", d) == (1 if d in model else 0)
            model.pop(d, None)
    assert call("HLEN", "big") == len(model)
    flat = call("HGETALL", "big")
    assert dict(zip(flat[0::2], flat[1::2])) == model
