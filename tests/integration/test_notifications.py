"""Keyspace notifications (notify-keyspace-events): the directive's parsing
and CONFIG GET form, and the events of the main write commands, compared
with redis-server 7.0 by subscribing to __key*__:* on both and running the
same commands."""
import time

import pytest

from resp_raw import RawResp


def test_config_parsing_and_format(same):
    for flags in ("KEA", "Ex", "Kg$lshzxetd", "Kg$lshzxet", "KEAmn", "n", "m", "", "AKE",
                  "Kl", "El$", "KA"):
        same("CONFIG", "SET", "notify-keyspace-events", flags)
        same("CONFIG", "GET", "notify-keyspace-events")
    for bad in ("Kq", "K E", "1"):
        same("CONFIG", "SET", "notify-keyspace-events", bad)
    same("CONFIG", "GET", "notify-keyspace-events")
    same("CONFIG", "SET", "notify-keyspace-events", "")


class Watcher:
    """A writer connection and a subscriber to every keyspace channel."""

    def __init__(self, port, flags):
        self.cmd = RawResp(port)
        self.cmd.call("FLUSHALL")
        self.cmd.call("CONFIG", "SET", "notify-keyspace-events", flags)
        self.sub = RawResp(port)
        self.sub.call("PSUBSCRIBE", "__key*__:*")

    def events(self, until_marker):
        """(channel, message) pairs up to the PUBLISH marker this test sends."""
        out = []
        while True:
            reply = self.sub.read_reply()
            parts = reply.split(b"\r\n")
            channel, message = parts[6], parts[8]
            if channel == b"marker":
                assert message == until_marker
                return out
            out.append((channel.decode(), message.decode()))

    def close(self):
        self.cmd.call("CONFIG", "SET", "notify-keyspace-events", "")
        self.cmd.close()
        self.sub.close()


@pytest.fixture
def watchers(server, reference):
    ws = []

    def make(flags):
        pair = (Watcher(server.port, flags), Watcher(reference.port, flags))
        for w in pair:
            w.sub.call("PSUBSCRIBE", "marker")
        ws.extend(pair)
        return pair

    yield make
    for w in ws:
        w.close()


def run_and_compare(pair, script):
    ours, ref = pair
    for i, line in enumerate(script):
        args = line.split()
        replies = [w.cmd.call(*args) for w in pair]
        assert replies[0] == replies[1], f"{line}: {replies[0]!r} != {replies[1]!r}"
        marker = str(i).encode()
        for w in pair:
            w.cmd.call("PUBLISH", "marker", marker)
        got, want = ours.events(marker), ref.events(marker)
        assert got == want, f"{line}: keyraft {got} != redis {want}"


MAIN_COMMANDS = """
SET k v
SET k v EX 100
SET k v KEEPTTL
SET k v GET
SET k v NX
SETNX k2 v
SETEX k3 100 v
PSETEX k4 100000 v
GETSET k w
GETEX k PERSIST
GETEX k EX 10
GETEX k PERSIST
GETEX k PXAT 1
SETRANGE k 0 x
SETRANGE k 0 ""
APPEND k y
APPEND k y
INCR n
DECR n
INCRBY n 5
DECRBY n 2
INCRBYFLOAT n 1.5
INCR k
MSET a 1 b 2
MSETNX a 1 c 3
MSETNX c 3 d 4
GETDEL a
GETDEL a
SETBIT b 3 1
SETBIT b 3 1
BITOP AND d e f
SET e x
BITOP AND d e f
BITOP OR d nosuch
BITFIELD bf SET u8 0 1
BITFIELD bf GET u8 0
BITFIELD bf OVERFLOW FAIL INCRBY u2 0 10
PFADD h a
PFADD h a
PFMERGE h3 h h2
DEL e bf nope
UNLINK b nope
RENAME h3 h4
SET h5 x
RENAME h4 h5
RENAMENX h5 k
RENAMENX h5 h7
COPY h7 h6
COPY h7 h6
COPY h7 h6 REPLACE
COPY h7 h6 DB 1
MOVE h6 2
EXPIRE h7 100
EXPIRE h7 100 NX
PEXPIRE h7 100000
EXPIREAT h7 9999999999
PERSIST h7
PERSIST h7
PEXPIRE h7 0
EXPIRE nosuch 10
XADD s 1-1 f v
XADD s MAXLEN 1 2-1 f v
XDEL s 2-1
XDEL s 9-9
XADD s 3-1 f v
XTRIM s MAXLEN 0
XTRIM s MAXLEN 0
XSETID s 5-0
XGROUP CREATE s g $
XGROUP CREATE s2 g $ MKSTREAM
XGROUP SETID s g 0
XGROUP CREATECONSUMER s g c1
XGROUP CREATECONSUMER s g c1
XGROUP DELCONSUMER s g c1
XGROUP DELCONSUMER s g c1
XGROUP DESTROY s g
XGROUP DESTROY s g
""".strip().splitlines()


def test_main_command_events(watchers):
    run_and_compare(watchers("KEA"), MAIN_COMMANDS)


def test_new_key_events(watchers):
    run_and_compare(watchers("KEn"), ["SET a 1", "SET a 2", "MSET a 1 b 2", "RENAME b c",
                                      "APPEND d x", "INCR e", "XADD s 1-1 f v"])


def test_keyspace_only_and_keyevent_only(watchers):
    run_and_compare(watchers("K$g"), ["SET a 1", "DEL a"])
    run_and_compare(watchers("Ex"), ["SET a 1", "DEL a"])


def test_class_filter(watchers):
    run_and_compare(watchers("KE$"), ["SET a 1", "EXPIRE a 100", "DEL a", "INCR a"])
    run_and_compare(watchers("KEg"), ["SET a 1", "EXPIRE a 100", "DEL a", "INCR a"])


def test_other_databases(watchers):
    run_and_compare(watchers("KEA"), ["SELECT 3", "SET k v", "DEL k", "SELECT 0"])


def test_expired_event_from_active_expiry(server):
    """A key that expires unread is deleted by the active expire cycle with
    an "expired" event (and no "del")."""
    r = server.client()
    r.config_set("notify-keyspace-events", "KEA")
    p = r.pubsub()
    p.psubscribe("__key*__:*")
    p.get_message(timeout=5)
    r.set("soon", "v", px=50)
    events = []
    deadline = time.monotonic() + 10
    while time.monotonic() < deadline:
        m = p.get_message(timeout=0.5)
        if m is None:
            continue
        events.append((m["channel"].decode(), m["data"].decode()))
        if ("__keyevent@0__:expired", "soon") in events:
            break
    assert events == [("__keyspace@0__:soon", "set"), ("__keyevent@0__:set", "soon"),
                      ("__keyspace@0__:soon", "expire"), ("__keyevent@0__:expire", "soon"),
                      ("__keyspace@0__:soon", "expired"), ("__keyevent@0__:expired", "soon")]
    p.close()


def test_set_with_past_expiry(server):
    """SET ... EXAT <past>: Redis 7.0 sends set and expire, and expired later
    from active expiry; keyraft deletes at once and sends all three now."""
    r = server.client()
    r.config_set("notify-keyspace-events", "Eg$x")
    p = r.pubsub()
    p.psubscribe("__keyevent@0__:*")
    p.get_message(timeout=5)
    r.set("k", "v", exat=1)
    got = [p.get_message(timeout=5)["channel"] for _ in range(3)]
    assert got == [b"__keyevent@0__:set", b"__keyevent@0__:expire", b"__keyevent@0__:expired"]
    assert r.exists("k") == 0
    p.close()


def test_keymiss_events(server):
    r = server.client()
    r.config_set("notify-keyspace-events", "KEm")
    p = r.pubsub()
    p.psubscribe("__key*__:*")
    p.get_message(timeout=5)
    r.get("missing")
    r.set("present", "v")
    r.get("present")
    got = [p.get_message(timeout=5) for _ in range(2)]
    assert [(m["channel"], m["data"]) for m in got] == [
        (b"__keyspace@0__:missing", b"keymiss"), (b"__keyevent@0__:keymiss", b"missing")]
    assert p.get_message(timeout=0.2) is None
    p.close()


# ---- Collections: hash, list, set, sorted set, geo, SORT STORE ----

def run_events_only(pair, script):
    """Like run_and_compare, for commands whose replies are random (SPOP
    with a count): only the events are compared."""
    ours, ref = pair
    for i, line in enumerate(script):
        for w in pair:
            w.cmd.call(*line.split())
            w.cmd.call("PUBLISH", "marker", b"r%d" % i)
        got, want = ours.events(b"r%d" % i), ref.events(b"r%d" % i)
        assert got == want, f"{line}: keyraft {got} != redis {want}"


HASH_COMMANDS = """
HSET h f1 v1 f2 v2
HSET h f1 v1
HMSET h f3 v3
HSETNX h f1 x
HSETNX h f4 v4
HSETNX h2 f v
HINCRBY h n 5
HINCRBY h f1 1
HINCRBY h n 9223372036854775807
HINCRBYFLOAT h x 1.5
HINCRBYFLOAT h f1 1
HINCRBYFLOAT hnew x 2
HDEL h nosuch
HDEL nosuch f
HDEL h f1 f2
HDEL h f3 f4 n x
HDEL h2 f
SET str v
HSET str f v
HDEL str f
HINCRBY str f 1
""".strip().splitlines()


def test_hash_events(watchers):
    run_and_compare(watchers("KEA"), HASH_COMMANDS)


LIST_COMMANDS = """
LPUSH l a b c
RPUSH l d
LPUSHX l x
RPUSHX l y
LPUSHX nol x
RPUSHX nol x
LINSERT l BEFORE a z
LINSERT l AFTER nosuch z
LINSERT nol AFTER a z
LSET l 0 q
LSET l 100 q
LREM l 1 q
LREM l 0 nosuch
LTRIM l 0 -1
LTRIM l 1 3
LTRIM nol 0 1
LPOP l
RPOP l
LPOP l 0
LPOP nol
RPOP nol 2
RPUSH l a b c d
LPOP l 2
RPOP l 5
RPUSH l a b c
LMPOP 2 nol l LEFT COUNT 2
LMPOP 1 l RIGHT
LMPOP 1 nol RIGHT
RPUSH src a b c
RPOPLPUSH src dst
LMOVE src dst LEFT RIGHT
LMOVE dst dst LEFT LEFT
LMOVE dst dst LEFT RIGHT
LMOVE src dst RIGHT LEFT
LMOVE nosrc dst LEFT LEFT
RPUSH one x
LMOVE one one RIGHT RIGHT
RPOPLPUSH one one
LMOVE one other LEFT LEFT
RPUSH l2 a b
LTRIM l2 5 10
RPUSH l3 a a b
LREM l3 0 a
LREM l3 0 b
RPUSH l4 a b c
BLPOP nol l4 0
BRPOP l4 1
BLMPOP 0 1 l4 LEFT COUNT 10
RPUSH l5 a
BLMOVE l5 l6 LEFT RIGHT 0
BRPOPLPUSH l6 l5 0
SET str v
LPUSH str x
LPOP str
LMOVE l5 str LEFT LEFT
LREM str 0 a
""".strip().splitlines()


def test_list_events(watchers):
    run_and_compare(watchers("KEA"), LIST_COMMANDS)


SET_COMMANDS = """
SADD s a b c
SADD s a
SADD s d
SREM s nosuch
SREM nosuch a
SREM s a b
SMOVE s s2 c
SMOVE s s2 nosuch
SMOVE s s d
SMOVE nosuch s a
SADD s2 d
SMOVE s s2 d
SADD s3 x
SMOVE s3 s4 x
SPOP nosuch
SPOP nosuch 3
SPOP s4
SADD p 1 2 3
SPOP p 0
SPOP p 3
SADD p 1
SPOP p 1
SADD a 1 2 3
SADD b 2 3 4
SINTERSTORE d a b
SUNIONSTORE d a b
SDIFFSTORE d a b
SINTERSTORE d a nosuch
SINTERSTORE d a nosuch
SADD d x
SDIFFSTORE d a a
SUNIONSTORE e nosuch
SDIFFSTORE e nosuch a
SADD d x
SINTERSTORE d a b
SREM a 1 2 3
SET str v
SADD str a
SMOVE b str 2
SINTERSTORE d b str
""".strip().splitlines()


def test_set_events(watchers):
    run_and_compare(watchers("KEA"), SET_COMMANDS)


def test_spop_with_random_reply(watchers):
    run_events_only(watchers("KEA"), ["SADD s a b c d e", "SPOP s", "SPOP s 2", "SPOP s 5"])


ZSET_COMMANDS = """
ZADD z 1 a 2 b
ZADD z 1 a
ZADD z NX 5 a
ZADD z XX 5 a
ZADD z CH 6 a 3 c
ZADD z INCR 1 a
ZADD z NX INCR 1 a
ZINCRBY z 0 a
ZINCRBY z 2 new
ZADD nz XX 1 a
ZADD z GT 1 a
ZADD z 1 nan
ZREM z nosuch
ZREM nosuch a
ZREM z c
ZREMRANGEBYSCORE z 100 200
ZREMRANGEBYSCORE z 0 1
ZREMRANGEBYRANK z 0 0
ZREMRANGEBYRANK nosuch 0 0
ZADD z 1 a 2 b 3 c 4 d
ZREMRANGEBYLEX z [a [b
ZREMRANGEBYLEX z (z +
ZPOPMIN z
ZPOPMAX z 0
ZPOPMIN nosuch
ZPOPMAX z 5
ZADD z 1 a 2 b 3 c
ZMPOP 2 nosuch z MIN COUNT 2
ZMPOP 1 z MAX COUNT 5
ZMPOP 1 z MAX
ZADD z1 1 a 2 b
ZADD z2 2 b 3 c
ZUNIONSTORE zd 2 z1 z2
ZINTERSTORE zd 2 z1 z2 WEIGHTS 1 2
ZDIFFSTORE zd 2 z1 z2
ZINTERSTORE zd 2 z1 nosuch
ZDIFFSTORE zd 1 nosuch
ZUNIONSTORE zd 1 nosuch
ZRANGESTORE zr z1 0 -1
ZRANGESTORE zr z1 0 0 REV
ZRANGESTORE zr z1 5 10
ZRANGESTORE zr nosuch 0 -1
ZRANGESTORE zr z1 (1 +inf BYSCORE
ZREM zr b
ZADD z3 1 a 2 b 3 c
BZPOPMIN nosuch z3 0
BZPOPMAX z3 1
BZMPOP 0 1 z3 MIN COUNT 5
SET str v
ZADD str 1 a
ZREM str a
ZPOPMIN str
ZUNIONSTORE zd 2 z1 str
ZREMRANGEBYSCORE z1 -inf +inf
""".strip().splitlines()


def test_zset_events(watchers):
    run_and_compare(watchers("KEA"), ZSET_COMMANDS)


GEO_AND_SORT_COMMANDS = """
GEOADD g 13.361389 38.115556 Palermo 15.087269 37.502669 Catania
GEOADD g 13.361389 38.115556 Palermo
GEOADD g XX CH 13.5 38.0 Palermo
GEOADD g NX 13.5 38.0 Palermo
GEOADD g 200 100 Bad
GEORADIUS g 15 37 200 km STORE gs
GEORADIUS g 15 37 200 km STOREDIST gs
GEORADIUSBYMEMBER g Palermo 500 km STORE gs
GEOSEARCHSTORE gs2 g FROMLONLAT 15 37 BYRADIUS 200 km
GEOSEARCHSTORE gs2 g FROMLONLAT 15 37 BYBOX 400 400 km STOREDIST
GEOSEARCHSTORE gs2 g FROMLONLAT 0 0 BYRADIUS 1 km
GEORADIUS g 0 0 1 km STORE gs
GEORADIUS nosuch 15 37 200 km STORE gs2
GEORADIUS nosuch 15 37 200 km STORE gs2
GEOSEARCH g FROMLONLAT 15 37 BYRADIUS 200 km
RPUSH sl 3 1 2
SORT sl STORE sd
SORT sl BY nosort STORE sd
SORT sl LIMIT 0 1 STORE sd
SORT nosuch STORE sd
SORT nosuch STORE sd
SORT sl
SADD ss c a b
SORT ss ALPHA STORE sd
""".strip().splitlines()


def test_geo_and_sort_store_events(watchers):
    run_and_compare(watchers("KEA"), GEO_AND_SORT_COMMANDS)


def test_new_events_of_collections(watchers):
    """With "n", the "new" of a created key comes where Redis 7.0's dbAdd
    sends it: before the command's own event."""
    run_and_compare(watchers("KEAn"), [
        "HSET h f v", "HINCRBY h2 f 1", "HINCRBYFLOAT h3 f 1", "HSETNX h4 f v",
        "LPUSH l a b", "RPUSHX nol a", "RPOPLPUSH l l2", "LMOVE l l3 LEFT LEFT",
        "SADD s a", "SMOVE s s2 a", "SADD s a b", "SINTERSTORE s3 s s", "SUNIONSTORE s3 s",
        "ZADD z 1 a", "ZINCRBY z2 1 a", "ZUNIONSTORE z3 1 z", "ZRANGESTORE z4 z 0 -1",
        "GEOADD g 13.361389 38.115556 Palermo", "GEORADIUS g 13 38 100 km STORE g2",
        "GEOSEARCHSTORE g3 g FROMMEMBER Palermo BYRADIUS 1 km", "SORT l2 STORE sl",
    ])


def test_class_filter_of_collections(watchers):
    """Only the enabled classes: the "del" of an emptied key is generic."""
    script = ["HSET h f v", "HDEL h f", "RPUSH l a", "LPOP l", "SADD s a", "SREM s a",
              "ZADD z 1 a", "ZREM z a", "SORT nosuch STORE l"]
    run_and_compare(watchers("KEh"), script)
    run_and_compare(watchers("Elsz"), script)
    run_and_compare(watchers("Kg"), script)


# ---- Blocking pops served after waiting ----

def blocked_clients(w):
    info = w.cmd.call("INFO", "clients").decode()
    for line in info.split("\r\n"):
        if line.startswith("blocked_clients:"):
            return int(line.split(":")[1])
    return 0


def serve_blocked(pair, blocking, writes):
    """Blocks a third client of each server on 'blocking', then runs the
    'writes' that wake it: the woken client's replies must match, and the
    events of the writes plus the pop that served it too."""
    blockers = []
    try:
        for w in pair:
            before = blocked_clients(w)
            b = RawResp(w.cmd.sock.getpeername()[1])
            blockers.append(b)
            b.send(*blocking.split())
            for _ in range(500):
                if blocked_clients(w) == before + 1:
                    break
                time.sleep(0.01)
            assert blocked_clients(w) == before + 1, blocking
        for line in writes:
            replies = [w.cmd.call(*line.split()) for w in pair]
            assert replies[0] == replies[1], f"{line}: {replies[0]!r} != {replies[1]!r}"
        served = [b.read_reply() for b in blockers]
        assert served[0] == served[1], f"{blocking}: {served[0]!r} != {served[1]!r}"
    finally:
        for b in blockers:
            b.close()
    for w in pair:
        w.cmd.call("PUBLISH", "marker", b"served")
    got, want = pair[0].events(b"served"), pair[1].events(b"served")
    assert got == want, f"{blocking} after {writes}: keyraft {got} != redis {want}"


BLOCKING_CASES = [
    ("BLPOP bl1 bl2 0", ["RPUSH bl2 a"]),
    ("BRPOP bl1 5", ["RPUSH bl1 a b"]),
    ("BLPOP bl1 0", ["SET other x", "RPUSH bl1 a"]),
    ("BLMOVE src dst RIGHT LEFT 0", ["LPUSH src x"]),
    ("BRPOPLPUSH src dst 0", ["RPUSH src y z"]),
    ("BLMPOP 0 2 m1 m2 LEFT COUNT 5", ["RPUSH m2 1 2 3"]),
    ("BLMPOP 0 1 m1 RIGHT", ["RPUSH m1 1 2"]),
    ("BLPOP tx 0", ["MULTI", "LPUSH tx a", "LPUSH tx b", "EXEC"]),
    ("BZPOPMIN z1 z2 0", ["ZADD z2 1 a 2 b"]),
    ("BZPOPMAX z1 0", ["ZADD z1 1 a"]),
    ("BZMPOP 0 1 z3 MAX COUNT 3", ["ZADD z3 1 a 2 b"]),
    ("BZMPOP 0 1 z4 MIN", ["ZADD z4 1 a 2 b"]),
]


@pytest.mark.parametrize("blocking,writes", BLOCKING_CASES, ids=[c[0] for c in BLOCKING_CASES])
def test_blocking_pop_served_events(watchers, blocking, writes):
    pair = watchers("KEA")
    serve_blocked(pair, blocking, writes)
