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
