"""DUMP / RESTORE / RESTORE-ASKING: round trips of every type and encoding
(streams with groups, consumers and pending lists too), TTL, ABSTTL,
REPLACE, BUSYKEY, IDLETIME, FREQ, encodings chosen by the restoring side's
thresholds, and damaged payloads rejected with an error (never a crash).

Payloads are keyraft's own format, so side-by-side comparison with Redis
7.0 applies to argument checks and errors, not to payload bytes; a Redis
payload is refused by keyraft and a keyraft payload by Redis, with the same
error."""
import random
import time

import pytest

from harness import Server, run_command


def crc64(data):
    """CRC-64/Jones as Redis computes it (reflected, init 0)."""
    crc = 0
    for b in data:
        crc ^= b
        for _ in range(8):
            crc = (crc >> 1) ^ (0x95AC9329AC4BC9B5 if crc & 1 else 0)
    return crc


def with_trailer(body, version):
    data = body + version.to_bytes(2, "little")
    return data + crc64(data).to_bytes(8, "little")


def contents(r, key):
    """A key's type, contents and TTL state in comparable form."""
    t = r.type(key).decode()
    if t == "string":
        v = r.get(key)
    elif t == "list":
        v = r.lrange(key, 0, -1)
    elif t == "set":
        v = sorted(r.smembers(key))
    elif t == "hash":
        v = sorted(r.hgetall(key).items())
    elif t == "zset":
        v = r.zrange(key, 0, -1, withscores=True)
    elif t == "stream":
        v = stream_state(r, key)
    else:
        v = None
    return t, v


def stream_state(r, key):
    info = r.execute_command("XINFO", "STREAM", key, "FULL")
    info = dict(zip(info[::2], info[1::2]))
    # Node layout depends on history (deleted entries), not on contents.
    for internal in (b"radix-tree-keys", b"radix-tree-nodes"):
        info.pop(internal, None)
    return info


def fill_all_types(r, prefix=""):
    """Every type in every encoding; returns the keys."""
    p = prefix
    r.set(p + "int", 12345)
    r.set(p + "embstr", "hello")
    r.set(p + "raw", "x" * 100)
    r.set(p + "bin", bytes(range(256)))
    r.pfadd(p + "hll", *[f"e{i}" for i in range(100)])
    r.rpush(p + "list", *[f"v{i}" for i in range(10)], 7, -3)
    r.rpush(p + "biglist", *[f"value-{i}" * 3 for i in range(3000)])
    r.sadd(p + "intset", *range(20))
    r.sadd(p + "set", *[f"m{i}" for i in range(20)])
    r.sadd(p + "bigintset", *range(1000))
    r.hset(p + "hash", mapping={f"f{i}": f"v{i}" for i in range(10)})
    r.hset(p + "bighash", mapping={f"f{i}": f"v{i}" for i in range(500)})
    r.hset(p + "longhash", mapping={"f": "v" * 100})
    r.zadd(p + "zset", {f"m{i}": i / 3 for i in range(10)})
    r.zadd(p + "bigzset", {f"m{i}": i for i in range(500)})
    r.zadd(p + "infzset", {"a": float("inf"), "b": float("-inf"), "c": 0})
    for i in range(1, 300):
        r.xadd(p + "stream", {"f": i, "g": "x" * (i % 7)}, id=f"{i}-1")
    r.xdel(p + "stream", "5-1", "6-1")
    r.xgroup_create(p + "stream", "g1", id="0")
    r.xgroup_create(p + "stream", "g2", id="$")
    r.xreadgroup("g1", "alice", {p + "stream": ">"}, count=10)
    r.xreadgroup("g1", "bob", {p + "stream": ">"}, count=5)
    r.xclaim(p + "stream", "g1", "bob", 0, ["1-1"])
    r.xack(p + "stream", "g1", "2-1")
    r.xgroup_createconsumer(p + "stream", "g2", "idle")
    r.xadd(p + "emptystream", {"a": 1}, id="9-9")
    r.xdel(p + "emptystream", "9-9")
    return [k.decode() for k in r.keys(p + "*")]


def test_round_trip_every_type(r):
    keys = fill_all_types(r)
    assert len(keys) == 18
    for key in keys:
        before = contents(r, key)
        encoding = r.object("encoding", key)
        payload = r.dump(key)
        assert payload is not None
        assert r.restore("copy:" + key, 0, payload)
        assert contents(r, "copy:" + key) == before, key
        assert r.object("encoding", "copy:" + key) == encoding, key
        # And over the original, with REPLACE.
        assert r.restore(key, 0, payload, replace=True)
        assert contents(r, key) == before, key
        assert r.ttl("copy:" + key) == -1


def test_stream_groups_survive(r):
    fill_all_types(r, "s:")
    payload = r.dump("s:stream")
    r.restore("copy", 0, payload)
    groups = r.xinfo_groups("copy")
    assert [(g["name"], g["consumers"], g["pending"]) for g in groups] == [
        (b"g1", 2, 14),
        (b"g2", 1, 0),
    ]
    def pending(key):  # idle times tick between the two calls: leave them out
        rows = r.xpending_range(key, "g1", "-", "+", 100)
        return [(p["message_id"], p["consumer"], p["times_delivered"]) for p in rows]

    assert pending("copy") == pending("s:stream")
    # The copy works as a stream: new entries, group reads, acks.
    r.xadd("copy", {"x": 1}, id="1000-0")
    got = r.xreadgroup("g2", "idle", {"copy": ">"})
    assert got[0][1][0][0] == b"1000-0"
    assert r.xack("copy", "g1", "1-1") == 1


def test_dump_missing_key_and_arity(same):
    same("DUMP", "nosuchkey")
    same("DUMP")
    same("DUMP", "a", "b")
    same("RESTORE", "k", "0")
    same("RESTORE-ASKING", "k", "0")


def test_restore_argument_errors(same):
    same("RESTORE", "k", "-1", "payload")
    same("RESTORE", "k", "abc", "payload")
    same("RESTORE", "k", "0", "payload", "IDLETIME", "-1")
    same("RESTORE", "k", "0", "payload", "IDLETIME", "x")
    same("RESTORE", "k", "0", "payload", "FREQ", "256")
    same("RESTORE", "k", "0", "payload", "FREQ", "-1")
    same("RESTORE", "k", "0", "payload", "IDLETIME", "1", "FREQ", "1")
    same("RESTORE", "k", "0", "payload", "FREQ", "1", "IDLETIME", "1")
    same("RESTORE", "k", "0", "payload", "IDLETIME")
    same("RESTORE", "k", "0", "payload", "FOO")
    same("RESTORE", "k", "0", "payload")
    same("RESTORE", "k", "0", "")
    same("RESTORE-ASKING", "k", "0", "payload")
    # BUSYKEY is checked before the TTL and the payload.
    same("SET", "k", "v")
    same("RESTORE", "k", "-5", "payload")
    same("RESTORE", "k", "0", "payload")
    same("RESTORE", "k", "0", "payload", "REPLACE")
    same("GET", "k")


def test_payloads_do_not_cross(server, reference):
    ours, theirs = server.client(), reference.client()
    theirs.set("k", "v")
    ours.set("k", "v")
    redis_payload, keyraft_payload = theirs.dump("k"), ours.dump("k")
    err = "DUMP payload version or checksum are wrong"
    with pytest.raises(Exception, match=err):
        ours.restore("x", 0, redis_payload)
    with pytest.raises(Exception, match=err):
        theirs.restore("x", 0, keyraft_payload)
    assert ours.exists("x") == 0


def test_damaged_payloads_rejected(r):
    keys = fill_all_types(r)
    rng = random.Random(7)
    for key in keys:
        payload = r.dump(key)
        body = payload[:-10]
        # Truncated, as sent: the checksum catches it.
        for cut in sorted({0, 1, 5, 9, len(payload) // 2, len(payload) - 1}):
            with pytest.raises(Exception, match="version or checksum"):
                r.restore("bad", 0, payload[:cut], replace=True)
        # One flipped bit anywhere.
        for _ in range(5):
            i = rng.randrange(len(payload))
            flipped = bytearray(payload)
            flipped[i] ^= 1 << rng.randrange(8)
            with pytest.raises(Exception, match="version or checksum"):
                r.restore("bad", 0, bytes(flipped), replace=True)
        # A valid trailer over a truncated or garbled body: the decoder catches it.
        if len(body) < 4000:
            for cut in range(0, len(body), max(1, len(body) // 25)):
                with pytest.raises(Exception, match="Bad data format"):
                    r.restore("bad", 0, with_trailer(body[:cut], 0x4B01), replace=True)
        for _ in range(20):
            garbled = bytearray(body)
            for _ in range(rng.randrange(1, 4)):
                garbled[rng.randrange(len(garbled))] = rng.randrange(256)
            try:
                r.restore("bad", 0, with_trailer(bytes(garbled), 0x4B01), replace=True)
            except Exception as e:
                assert "Bad data format" in str(e)
        assert r.ping()
    assert r.exists("bad") in (0, 1)
    # Hand-made bodies: a duplicate set member, an unknown type, trailing bytes.
    dup = bytes([2, 2, 0xC4, 1, ord("a"), 0xC4, 1, ord("a")])
    for body in (dup, bytes([5, 0xA1, ord("x")]), bytes([0, 0xA1, ord("x"), 0xA1, ord("y")])):
        with pytest.raises(Exception, match="Bad data format"):
            r.restore("bad2", 0, with_trailer(body, 0x4B01))
    assert r.exists("bad2") == 0


def test_ttl_absttl_replace(r):
    r.set("src", "value")
    payload = r.dump("src")
    assert r.restore("a", 5000, payload)
    assert 0 < r.pttl("a") <= 5000
    now_ms = int(time.time() * 1000)
    assert r.restore("b", now_ms + 20000, payload, absttl=True)
    assert 15000 < r.pttl("b") <= 20000
    # An absolute time in the past: OK, and no key.
    assert r.restore("c", now_ms - 1000, payload, absttl=True)
    assert r.exists("c") == 0
    # ... and with REPLACE the old key is deleted.
    r.set("d", "old")
    assert r.restore("d", 1, payload, absttl=True, replace=True)
    assert r.exists("d") == 0
    # BUSYKEY; REPLACE drops the old TTL.
    r.set("e", "old", ex=100)
    with pytest.raises(Exception, match="BUSYKEY Target key name already exists."):
        r.restore("e", 0, payload)
    assert r.restore("e", 0, payload, replace=True)
    assert r.get("e") == b"value" and r.ttl("e") == -1
    # An expired key does not count as existing.
    r.set("f", "old", px=1)
    time.sleep(0.01)
    assert r.restore("f", 0, payload)
    # RESTORE-ASKING is RESTORE outside a cluster.
    assert r.execute_command("RESTORE-ASKING", "g", 0, payload) == b"OK"
    assert r.get("g") == b"value"


def test_idletime_and_freq(r):
    r.set("src", "v")
    payload = r.dump("src")
    r.restore("idle", 0, payload, idletime=1000)
    assert 1000 <= r.object("idletime", "idle") <= 1002
    r.config_set("maxmemory-policy", "allkeys-lfu")
    r.restore("freq", 0, payload, frequency=100)
    assert r.object("freq", "freq") == 100
    r.config_set("maxmemory-policy", "noeviction")


def test_encoding_follows_restoring_thresholds(r):
    r.hset("h", mapping={f"f{i}": i for i in range(5)})
    r.zadd("z", {f"m{i}": i for i in range(5)})
    r.sadd("s", *range(5))
    payloads = {k: r.dump(k) for k in ("h", "z", "s")}
    r.config_set("hash-max-listpack-entries", 2)
    r.config_set("zset-max-listpack-entries", 2)
    r.config_set("set-max-intset-entries", 2)
    for k, enc in (("h", b"hashtable"), ("z", b"skiplist"), ("s", b"hashtable")):
        r.restore("big" + k, 0, payloads[k])
        assert r.object("encoding", "big" + k) == enc
    r.config_set("hash-max-listpack-entries", 128)
    r.config_set("zset-max-listpack-entries", 128)
    r.config_set("set-max-intset-entries", 512)
    for k, enc in (("h", b"listpack"), ("z", b"listpack"), ("s", b"intset")):
        r.restore("small" + k, 0, r.dump("big" + k))
        assert r.object("encoding", "small" + k) == enc


def test_restore_is_a_write(r):
    r.set("src", "v")
    payload = r.dump("src")
    dirty = r.info("persistence")["rdb_changes_since_last_save"]
    r.restore("dst", 0, payload)
    assert r.info("persistence")["rdb_changes_since_last_save"] == dirty + 1
    with pytest.raises(Exception, match="WRONGTYPE"):
        r.lpush("dst", 1)
