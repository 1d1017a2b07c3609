"""DEBUG DIGEST and DEBUG DIGEST-VALUE: Redis 7.0's digest, byte for byte,
over every type and encoding; independent of insertion order and encoding;
gated by enable-debug-command as in Redis; equal on every member of a Raft
group once they applied the same index."""
import pytest

from harness import KEYRAFT, REDIS, Server, applied_index, join_group, run_command, wait_until

ZEROES = b"0" * 40


@pytest.fixture
def server():
    s = Server(KEYRAFT, args=["--enable-debug-command", "yes"]).start()
    yield s
    s.cleanup()


@pytest.fixture(scope="module")
def reference():
    s = Server(REDIS, args=["--appendonly", "no", "--enable-debug-command", "yes"]).start()
    yield s
    s.cleanup()


def fill_every_type(same):
    """Writes the same data on both servers: each type in each encoding,
    with and without TTLs, in two databases."""
    same.both("SET", "str:embstr", "hello")
    same.both("SET", "str:int", "12345")
    same.both("SET", "str:negint", "-77")
    same.both("SET", "str:raw", "r" * 100)
    same.both("SET", "str:float", "1.5")
    same.both("APPEND", "str:appended", "abc")
    same.both("SET", "str:ttl", "v", "EX", "1000")
    same.both("RPUSH", "list:small", "a", "b", "3", "-4", "")
    same.both("RPUSH", "list:big", *[f"element-{i}" for i in range(300)], *range(100))
    same.both("LPUSH", "list:ttl", "x", "y")
    same.both("PEXPIRE", "list:ttl", "900000")
    same.both("SADD", "set:intset", "1", "2", "3", "-10", "9223372036854775807")
    same.both("SADD", "set:ht", "a", "b", "c", "4")
    same.both("SADD", "set:bigint", *range(600))
    same.both("ZADD", "zset:lp", "1", "a", "2.5", "b", "0.1", "c", "-3", "d", "1e100", "e",
              "3", "12")
    same.both("ZADD", "zset:inf", "inf", "top", "-inf", "bottom", "0", "zero")
    same.both("ZADD", "zset:skip", "1", "m" * 80, "0.3333333333333333", "third",
              *[x for i in range(200) for x in (str(i / 7), f"member-{i}")])
    same.both("HSET", "hash:lp", "f", "v", "n", "42", "empty", "")
    same.both("HSET", "hash:ht", "long", "v" * 100, "short", "1")
    same.both("HSET", "hash:many", *[x for i in range(600) for x in (f"f{i}", i)])
    same.both("XADD", "stream:one", "1-1", "f", "v", "g", "2")
    same.both("XADD", "stream:one", "2-5", "a", "b")
    same.both("XADD", "stream:one", "3-0", "f", "v", "g", "3")
    for i in range(250):
        same.both("XADD", "stream:many", f"{i + 1}-0", "field", i, "other", f"value{i}")
    same.both("XDEL", "stream:many", "5-0", "100-0")
    same.both("XGROUP", "CREATE", "stream:many", "g1", "0")
    same.both("XREADGROUP", "GROUP", "g1", "c1", "COUNT", "3", "STREAMS", "stream:many", ">")
    same.both("XADD", "stream:ttl", "7-7", "k", "v")
    same.both("EXPIRE", "stream:ttl", "5000")
    same.both("SELECT", "3")
    same.both("SET", "db3:str", "in db 3")
    same.both("ZADD", "db3:z", "1", "x")
    same.both("SELECT", "0")


KEYS = ["str:embstr", "str:int", "str:negint", "str:raw", "str:float", "str:appended", "str:ttl",
        "list:small", "list:big", "list:ttl", "set:intset", "set:ht", "set:bigint", "zset:lp",
        "zset:inf", "zset:skip", "hash:lp", "hash:ht", "hash:many", "stream:one", "stream:many",
        "stream:ttl", "missing"]


def test_empty_dataset_digest_is_zeroes(same):
    assert same("DEBUG", "DIGEST") == ZEROES
    assert same("DEBUG", "DIGEST-VALUE", "nokey") == [ZEROES]
    assert same("DEBUG", "DIGEST-VALUE") == []


def test_digest_matches_redis_for_every_type(same):
    fill_every_type(same)
    # The encodings the data was meant to have, on both servers.
    for key, enc in [("str:int", b"int"), ("str:embstr", b"embstr"), ("str:raw", b"raw"),
                     ("set:intset", b"intset"), ("set:ht", b"hashtable"),
                     ("set:bigint", b"hashtable"), ("zset:lp", b"listpack"),
                     ("zset:skip", b"skiplist"), ("hash:lp", b"listpack"),
                     ("hash:ht", b"hashtable"), ("list:big", b"quicklist")]:
        assert same("OBJECT", "ENCODING", key) == enc, key
    digest = same("DEBUG", "DIGEST")
    assert digest != ZEROES and len(digest) == 40
    values = same("DEBUG", "DIGEST-VALUE", *KEYS)
    assert values[-1] == ZEROES and ZEROES not in values[:-1]
    same("SELECT", "3")
    same("DEBUG", "DIGEST-VALUE", "db3:str", "db3:z", "str:int")
    # The whole-dataset digest does not depend on the selected database.
    assert same("DEBUG", "DIGEST") == digest


def test_digest_follows_changes_like_redis(same):
    fill_every_type(same)
    before = same("DEBUG", "DIGEST")
    same("PERSIST", "str:ttl")  # losing an expiry changes it
    after_persist = same("DEBUG", "DIGEST")
    assert after_persist != before
    same("EXPIRE", "str:ttl", "77")  # only the fact of an expiry counts
    assert same("DEBUG", "DIGEST") == before
    same("LSET", "list:small", "0", "changed")
    same("ZINCRBY", "zset:skip", "0.5", "third")
    same("HDEL", "hash:ht", "long")
    same.both("SPOP", "set:intset")  # random: made equal again just below
    same.both("SADD", "set:intset", "1", "2", "3", "-10", "9223372036854775807")
    same("XTRIM", "stream:many", "MAXLEN", "10")
    same("MOVE", "str:raw", "5")
    same("DEBUG", "DIGEST")
    same("DEBUG", "DIGEST-VALUE", *KEYS)
    same("FLUSHDB")
    same("DEBUG", "DIGEST")  # db 3 is still there
    same("FLUSHALL")
    assert same("DEBUG", "DIGEST") == ZEROES


def test_value_digest_ignores_order_and_encoding(r):
    def value(key):
        return r.execute_command("DEBUG", "DIGEST-VALUE", key)[0]

    # Sets: intset against a hashtable holding the same integers, any order.
    r.sadd("s1", 1, 2, 3)
    r.sadd("s2", "x", 3, 2, 1)
    r.srem("s2", "x")
    assert r.object("encoding", "s1") == b"intset" and r.object("encoding", "s2") == b"hashtable"
    assert value("s1") == value("s2")
    # Sorted sets: listpack against skiplist, inserted in another order.
    r.zadd("z1", {"a": 1, "b": 2.5, "c": -1})
    r.zadd("z2", {"l" * 100: 0})
    r.zadd("z2", {"c": -1, "b": 2.5, "a": 1})
    r.zrem("z2", "l" * 100)
    assert r.object("encoding", "z1") == b"listpack" and r.object("encoding", "z2") == b"skiplist"
    assert value("z1") == value("z2")
    # Hashes: listpack against hashtable, fields in another order.
    r.hset("h1", mapping={"f": "1", "g": "2", "h": "3"})
    r.hset("h2", mapping={"h": "3", "long": "v" * 100})
    r.hdel("h2", "long")
    r.hset("h2", mapping={"g": "2", "f": "1"})
    assert r.object("encoding", "h2") == b"hashtable"
    assert value("h1") == value("h2")
    # Lists: node layout does not matter, element order does.
    r.rpush("l1", *range(50))
    r.config_set("list-max-listpack-size", 2)
    r.rpush("l2", *range(50))
    r.rpush("l3", *reversed(range(50)))
    assert value("l1") == value("l2") != value("l3")
    # Streams: node size does not matter.
    r.config_set("stream-node-max-entries", 3)
    for key in ("x1", "x2"):
        for i in range(20):
            r.xadd(key, {"f": i}, id=f"{i + 1}-0")
        r.config_set("stream-node-max-entries", 100)
    assert value("x1") == value("x2")
    # Integers kept as strings digest like their text.
    r.set("i1", 12345)
    r.set("i2", "12345" + "x")
    r.set("i2", "12345")
    assert value("i1") == value("i2")
    # Whole-dataset digest: the same keys written in another order.
    a = r.execute_command("DEBUG", "DIGEST")
    keys = r.keys("*")
    dumps = {k: r.dump(k) for k in keys}
    r.flushall()
    for k in reversed(keys):
        r.restore(k, 0, dumps[k])
    assert r.execute_command("DEBUG", "DIGEST") == a


def test_errors_match_redis(same):
    same("DEBUG")
    same("DEBUG", "NOSUCH")
    same("DEBUG", "DIGEST", "extra")
    same("debug", "digest")
    # A DEBUG subcommand of Redis's that keyraft does not implement gets the
    # error Redis gives an unknown one.
    ours = run_command(same.conns[0], "DEBUG", "RELOAD")
    assert ours == ("error", "unknown subcommand or wrong number of arguments for 'RELOAD'. "
                             "Try DEBUG HELP.")


def test_debug_is_refused_unless_enabled():
    ours = Server(KEYRAFT).start()
    theirs = Server(REDIS).start()
    local = Server(KEYRAFT, args=["--enable-debug-command", "local"]).start()
    try:
        replies = []
        for s in (ours, theirs):
            conn = s.client().connection_pool.get_connection("DEBUG")
            replies.append(run_command(conn, "DEBUG", "DIGEST"))
        assert replies[0] == replies[1]
        assert "enable-debug-command" in replies[0][1]
        assert ours.client().config_get("enable-debug-command") == {
            "enable-debug-command": "no"}
        assert local.client().execute_command("DEBUG", "DIGEST") == ZEROES
    finally:
        for s in (ours, theirs, local):
            s.cleanup()


def test_digest_equal_on_every_member_of_a_group():
    nodes = [Server(KEYRAFT, args=["--appendonly", "yes", "--enable-debug-command", "yes"]).start()
             for _ in range(3)]
    try:
        a, b, c = nodes
        join_group(b, a)
        join_group(c, a)
        ra = a.client()
        ra.set("s", "v")
        ra.set("n", 10)
        ra.incr("n")
        ra.rpush("l", *range(200))
        ra.sadd("set", *range(10), "x")
        ra.zadd("z", {f"m{i}": i / 3 for i in range(300)})
        ra.hset("h", mapping={f"f{i}": i for i in range(100)})
        ra.xadd("x", {"f": "v"})
        ra.set("ttl", "v", ex=100)
        ra.spop("set")  # random on the leader, applied as its effect everywhere
        ra.execute_command("SELECT", 2)
        ra.set("db2", "v")
        expected = ra.execute_command("DEBUG", "DIGEST")
        index = applied_index(a)

        def converged():
            return all(applied_index(n) == index for n in nodes)

        wait_until(converged, timeout=10, what="all members at the leader's applied index")
        assert [n.client().execute_command("DEBUG", "DIGEST") for n in nodes] == [expected] * 3
    finally:
        for n in nodes:
            n.cleanup()
