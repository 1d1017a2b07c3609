"""Set commands against redis-server 7.0: replies, errors, encodings.

Members of hashtable-encoded sets come back in an order that differs between
keyraft and Redis (both are "unordered"), so those replies are compared
sorted; intset-encoded sets reply in ascending order in both and are
compared as they are. SPOP and SRANDMEMBER are checked by properties."""
import pytest

from harness import run_command

WRONGTYPE = ("error", "WRONGTYPE Operation against a key holding the wrong kind of value")


def same_unordered(same, *args):
    """Runs args on both servers; compares replies as multisets of members."""
    ours, theirs = same.both(*args)
    if isinstance(ours, (list, set)) and isinstance(theirs, (list, set)):
        assert sorted(ours) == sorted(theirs), f"{args!r}: {ours!r} != {theirs!r}"
    else:
        assert ours == theirs, f"{args!r}: keyraft {ours!r} != redis {theirs!r}"
    return ours


def same_encoding(same, key):
    """Compares OBJECT ENCODING when keyraft has OBJECT (another helper adds
    it); returns whether the comparison ran."""
    ours = run_command(same.conns[0], "OBJECT", "ENCODING", key)
    if isinstance(ours, tuple) and "unknown command" in ours[1]:
        return False
    same("OBJECT", "ENCODING", key)
    return True


@pytest.fixture
def intset_limit(same):
    """Restores set-max-intset-entries on both servers after a test."""
    yield
    same.both("CONFIG", "SET", "set-max-intset-entries", "512")


def test_sadd_srem_scard_sismember(same):
    same("SADD", "s", "1", "2", "3", "2")
    same("SADD", "s", "3", "4")
    same("SCARD", "s")
    same("SMEMBERS", "s")
    same("SISMEMBER", "s", "2")
    same("SISMEMBER", "s", "02")
    same("SISMEMBER", "s", "x")
    same("SISMEMBER", "nokey", "x")
    same("SMISMEMBER", "s", "1", "x", "4", "1")
    same("SMISMEMBER", "nokey", "a", "b")
    same("SREM", "s", "1", "x", "1")
    same("SREM", "nokey", "a")
    same("SMEMBERS", "s")
    same("SREM", "s", "2", "3", "4")
    same("EXISTS", "s")
    same("SCARD", "s")
    same("SMEMBERS", "nokey")
    same("SADD", "h", "a", "b", "", "a")
    same_unordered(same, "SMEMBERS", "h")
    same("SREM", "h", "")
    same("SCARD", "h")


def test_arity_and_wrongtype(same):
    same("SET", "str", "v")
    for cmd in (("SADD", "str", "a"), ("SREM", "str", "a"), ("SMEMBERS", "str"),
                ("SISMEMBER", "str", "a"), ("SMISMEMBER", "str", "a"), ("SCARD", "str"),
                ("SPOP", "str"), ("SPOP", "str", "0"), ("SRANDMEMBER", "str"),
                ("SRANDMEMBER", "str", "0"), ("SINTER", "str"), ("SINTERSTORE", "d", "str"),
                ("SUNION", "str"), ("SUNIONSTORE", "d", "str"), ("SDIFF", "str"),
                ("SDIFFSTORE", "d", "str"), ("SINTERCARD", "1", "str"), ("SSCAN", "str", "0"),
                ("SMOVE", "str", "d", "a")):
        assert same(*cmd) == WRONGTYPE
    same("GET", "str")
    for cmd in (("SADD", "s"), ("SREM", "s"), ("SMEMBERS",), ("SMEMBERS", "a", "b"),
                ("SISMEMBER", "s"), ("SMISMEMBER", "s"), ("SCARD",), ("SPOP",),
                ("SRANDMEMBER",), ("SMOVE", "a", "b"), ("SINTER",), ("SINTERSTORE", "d"),
                ("SUNION",), ("SDIFFSTORE", "d"), ("SINTERCARD", "1"), ("SSCAN", "s")):
        same(*cmd)


def test_wrongtype_in_later_keys(same):
    same("SET", "str", "v")
    same("SADD", "a", "1", "2")
    same("SINTER", "a", "nokey", "str")
    same("SINTER", "nokey", "str")
    same("SUNION", "a", "str")
    same("SDIFF", "nokey", "str")
    same("SINTERSTORE", "d", "nokey", "str")
    same("SINTERCARD", "2", "nokey", "str")
    same("SMOVE", "nokey", "str", "1")
    same("SMOVE", "a", "str", "1")
    same("SMEMBERS", "a")


def test_encoding_transitions(same, intset_limit):
    same("SADD", "s", "1", "-70000", "9223372036854775807")
    same("SMEMBERS", "s")
    same_encoding(same, "s")
    same("SADD", "s", "x")
    same_encoding(same, "s")
    same("SREM", "s", "x")
    same_encoding(same, "s")  # never converts back
    same("SADD", "t", "01")
    same_encoding(same, "t")
    same("SADD", "u", "-0")
    same_encoding(same, "u")
    same("SADD", "n", *[str(i) for i in range(512)])
    same_encoding(same, "n")
    same("SADD", "n", "512")
    same_encoding(same, "n")
    same("SCARD", "n")
    same("CONFIG", "SET", "set-max-intset-entries", "3")
    same("SADD", "m", "1", "2", "3")
    same_encoding(same, "m")
    same("SADD", "m", "3")
    same_encoding(same, "m")
    same("SADD", "m", "4")
    same_encoding(same, "m")
    same("CONFIG", "SET", "set-max-intset-entries", "0")
    same("SADD", "z", "5")
    same_encoding(same, "z")


def test_smove(same):
    same("SADD", "a", "1", "2", "x")
    same("SADD", "b", "3")
    same("SMOVE", "a", "b", "1")
    same("SMOVE", "a", "b", "nope")
    same("SMEMBERS", "b")
    same("SMOVE", "a", "b", "3")
    same("SMOVE", "a", "a", "2")
    same("SMOVE", "a", "a", "9")
    same("SMOVE", "nokey", "b", "3")
    same("SMOVE", "a", "new", "x")
    same("SMEMBERS", "new")
    same_encoding(same, "new")
    same("SMOVE", "a", "new2", "2")
    same_encoding(same, "new2")
    same("EXISTS", "a")
    same("SADD", "b", "y")
    same("SMOVE", "b", "new", "y")
    same_unordered(same, "SMEMBERS", "new")


def test_sinter_family(same):
    same("SADD", "a", *[str(i) for i in range(0, 20)])
    same("SADD", "b", *[str(i) for i in range(10, 30)])
    same("SADD", "c", *[str(i) for i in range(0, 30, 2)])
    same("SADD", "h", "x", "y", "z", "10", "12")
    same("SINTER", "a", "b", "c")
    same("SINTER", "a")
    same("SINTER", "a", "a")
    same("SINTER", "a", "nokey")
    same_unordered(same, "SINTER", "h", "a")
    same("SINTERSTORE", "d", "a", "b")
    same("SMEMBERS", "d")
    same_encoding(same, "d")
    same("SINTERSTORE", "d", "a", "h")
    same("SMEMBERS", "d")
    same_encoding(same, "d")  # stored result of a hashtable intersection is an intset
    same("SINTERSTORE", "d", "a", "nokey")
    same("EXISTS", "d")
    same("SET", "d", "string")
    same("SINTERSTORE", "d", "a", "b")
    same("TYPE", "d")
    same("SINTERSTORE", "a", "a", "b")
    same("SMEMBERS", "a")
    same("SINTERCARD", "2", "a", "b")
    same("SINTERCARD", "3", "a", "b", "c")
    same("SINTERCARD", "2", "a", "b", "LIMIT", "3")
    same("SINTERCARD", "2", "a", "b", "limit", "0")
    same("SINTERCARD", "1", "nokey")
    same("SINTERCARD", "0", "a")
    same("SINTERCARD", "-1", "a")
    same("SINTERCARD", "x", "a")
    same("SINTERCARD", "3", "a", "b")
    same("SINTERCARD", "1", "a", "LIMIT", "-1")
    same("SINTERCARD", "1", "a", "LIMIT", "x")
    same("SINTERCARD", "1", "a", "LIMIT")
    same("SINTERCARD", "1", "a", "FOO", "1")
    same("SINTERCARD", "1", "a", "b")


def test_sinterstore_drops_ttl(same):
    same("SADD", "a", "1", "2")
    same("SADD", "d", "1")
    same("EXPIRE", "d", "100")
    same("SINTERSTORE", "d", "a", "a")
    same("TTL", "d")


def test_sunion_sdiff(same, intset_limit):
    same("SADD", "a", "1", "2", "3", "4")
    same("SADD", "b", "3", "4", "5")
    same("SADD", "h", "x", "4", "1")
    same("SUNION", "a", "b")
    same("SUNION", "a", "nokey", "b")
    same("SUNION", "nokey")
    same_unordered(same, "SUNION", "a", "h")
    same("SDIFF", "a", "b")
    same("SDIFF", "a", "a")
    same("SDIFF", "nokey", "a")
    same("SDIFF", "a", "nokey")
    same("SDIFF", "a", "h")
    same_unordered(same, "SDIFF", "h", "a")
    same("SUNIONSTORE", "u", "a", "b")
    same("SMEMBERS", "u")
    same_encoding(same, "u")
    same("SUNIONSTORE", "u", "a", "h")
    same_encoding(same, "u")
    same("SDIFFSTORE", "d", "h", "a")
    same("SMEMBERS", "d")
    same_encoding(same, "d")
    same("SDIFFSTORE", "d", "a", "a")
    same("EXISTS", "d")
    same("SUNIONSTORE", "u", "nokey")
    same("EXISTS", "u")
    same("SDIFFSTORE", "a", "a", "b")
    same("SMEMBERS", "a")
    # Both SDIFF algorithms, and their effect on the stored encoding.
    same("CONFIG", "SET", "set-max-intset-entries", "10")
    same("SADD", "big", *[str(i) for i in range(10)])
    same("SADD", "small", "0", "1", "x")
    same("SDIFFSTORE", "r1", "big", "small")
    same_encoding(same, "r1")
    same("SADD", "huge", *[str(i) for i in range(100)])
    same("SDIFFSTORE", "r2", "big", "huge", "small")
    same("EXISTS", "r2")
    same("SDIFF", "big", "nokey", "small", "huge")


def test_spop(server, same):
    r = server.client()
    same("SPOP", "nokey")
    same("SPOP", "nokey", "3")
    same("SPOP", "nokey", "0")
    same("SPOP", "s", "-1")
    same("SPOP", "s", "x")
    same("SPOP", "s", "1", "2")
    members = {str(i) for i in range(50)}
    r.sadd("s", *members)
    popped = r.spop("s").decode()
    assert popped in members
    assert r.scard("s") == 49 and not r.sismember("s", popped)
    got = {m.decode() for m in r.spop("s", 10)}
    assert len(got) == 10 and got <= members - {popped}
    assert r.scard("s") == 39
    assert r.spop("s", 0) == set() or r.spop("s", 0) == []
    rest = {m.decode() for m in r.spop("s", 100)}
    assert len(rest) == 39 and r.exists("s") == 0
    r.sadd("h", *[f"m{i}" for i in range(300)])
    got = [m.decode() for m in r.spop("h", 250)]
    assert len(set(got)) == 250
    assert r.scard("h") == 50
    left = {m.decode() for m in r.smembers("h")}
    assert not left & set(got)
    r.sadd("one", "x")
    assert r.spop("one") == b"x" and r.exists("one") == 0
    r.close()


def test_spop_resp3_is_set(server):
    raw = server.raw()
    raw.send(b"HELLO 3\r\nSADD s a b c\r\nSPOP s 2\r\nSPOP nokey 2\r\nSRANDMEMBER s 5\r\n"
             b"SMEMBERS s\r\nPING\r\n")
    data = b""
    for _ in range(100):
        data += raw.read()
        if data.endswith(b"+PONG\r\n"):
            break
    replies = data.split(b"modules\r\n*0\r\n:3\r\n", 1)[1]  # after HELLO and SADD
    assert replies.startswith(b"~2\r\n")
    assert b"~0\r\n*1\r\n" in replies and b"~1\r\n" in replies
    raw.close()


def test_srandmember(server, same):
    r = server.client()
    same("SRANDMEMBER", "nokey")
    same("SRANDMEMBER", "nokey", "5")
    same("SRANDMEMBER", "nokey", "-5")
    same("SRANDMEMBER", "s", "x")
    same("SRANDMEMBER", "s", "-9223372036854775808")
    same("SRANDMEMBER", "s", "1", "2")
    for key, members in (("i", [str(i) for i in range(30)]), ("h", [f"m{i}" for i in range(30)])):
        r.sadd(key, *members)
        assert r.srandmember(key).decode() in members
        assert r.srandmember(key, 0) == []
        for count in (1, 5, 15, 16, 29, 30, 100):
            got = [m.decode() for m in r.srandmember(key, count)]
            assert len(got) == min(count, 30) and len(set(got)) == len(got)
            assert set(got) <= set(members)
        got = [m.decode() for m in r.srandmember(key, -100)]
        assert len(got) == 100 and set(got) <= set(members)
        assert len(set(got)) > 1  # repeats allowed, but not all the same
        assert r.scard(key) == 30
    r.close()


def test_sscan(server, same):
    same("SSCAN", "nokey", "0")
    same("SSCAN", "nokey", "x")
    same("SSCAN", "nokey", "0", "COUNT", "0")
    same("SADD", "i", "1", "2", "3", "10")
    same("SSCAN", "i", "0")
    same("SSCAN", "i", "0", "MATCH", "1*")
    same("SSCAN", "i", "0", "MATCH", "*", "COUNT", "1")
    same("SSCAN", "i", "x")
    same("SSCAN", "i", " 0")
    same("SSCAN", "i", "-1")
    same("SSCAN", "i", "+0")
    same("SSCAN", "i", "18446744073709551616")
    same("SSCAN", "i", "0\x00junk")  # strtoul stops at the NUL: cursor 0
    same("SSCAN", "i", "")
    same("SSCAN", "i", "0", "COUNT", "0")
    same("SSCAN", "i", "0", "COUNT", "-1")
    same("SSCAN", "i", "0", "COUNT", "x")
    same("SSCAN", "i", "0", "MATCH")
    same("SSCAN", "i", "0", "TYPE", "set")
    same("SSCAN", "i", "0", "FOO", "bar")
    r = server.client()
    members = {f"m{i}" for i in range(1000)}
    r.sadd("h", *members)
    seen, cursor, calls = set(), 0, 0
    while True:
        cursor, items = r.sscan("h", cursor, count=20)
        seen |= {m.decode() for m in items}
        calls += 1
        if cursor == 0 or calls > 2000:
            break
    assert seen == members and calls > 5
    cursor, items = r.sscan("h", 0, match="m99*", count=5000)
    assert cursor == 0 and {m.decode() for m in items} == {"m99"} | {f"m99{i}" for i in range(10)}
    r.close()


def test_expired_key_is_absent(server):
    r = server.client()
    r.sadd("s", "a")
    r.pexpire("s", 1)
    for _ in range(200):
        if r.scard("s") == 0:
            break
    assert r.scard("s") == 0
    assert r.sadd("s", "b") == 1 and r.smembers("s") == {b"b"}
    assert r.ttl("s") == -1
    r.close()
