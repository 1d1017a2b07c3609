"""Pub/Sub: SUBSCRIBE PSUBSCRIBE SSUBSCRIBE and their UNSUBSCRIBE, PUBLISH
SPUBLISH, PUBSUB introspection, the RESP2 subscribed-mode restrictions and
RESP3 pushes (byte for byte against redis-server 7.0), delivery order across
connections, and the pubsub output buffer limit."""
import socket
import time

import pytest
import redis

from harness import Server, KEYRAFT, wait_until
from resp_raw import RawPair, RawResp, encode


@pytest.fixture
def pair(server, reference):
    p = RawPair(server.port, reference.port)
    yield p
    p.close()


@pytest.fixture
def pair2(server, reference):
    p = RawPair(server.port, reference.port)
    yield p
    p.close()


def both(p, *args):
    """Sends on both sides of a pair and returns one reply each (compared)."""
    p.ours.send(*args)
    p.ref.send(*args)


def read_both(p):
    ours, theirs = p.ours.read_reply(), p.ref.read_reply()
    assert ours == theirs, f"keyraft {ours!r} != redis {theirs!r}"
    return ours


def test_subscribe_replies_and_counts(pair):
    pair("SUBSCRIBE", "a")
    # One confirmation per channel, duplicates included, count = channels + patterns.
    both(pair, "SUBSCRIBE", "b", "a")
    read_both(pair)
    read_both(pair)
    both(pair, "PSUBSCRIBE", "a*", "b?")
    read_both(pair)
    assert read_both(pair) == b"*3\r\n$10\r\npsubscribe\r\n$2\r\nb?\r\n:4\r\n"
    pair("SSUBSCRIBE", "s1")  # shard channels count on their own
    pair("UNSUBSCRIBE", "a")
    pair("UNSUBSCRIBE", "never")
    pair("PUNSUBSCRIBE", "b?")
    pair("PUNSUBSCRIBE")
    pair("SUNSUBSCRIBE", "s1")
    pair("UNSUBSCRIBE")
    # Nothing left: the "none" confirmations carry a null channel.
    pair("UNSUBSCRIBE")
    pair("PUNSUBSCRIBE")
    pair("SUNSUBSCRIBE")
    pair("GET", "x")  # out of subscribed mode again


def test_resp2_subscribed_mode_restrictions(pair):
    pair("SUBSCRIBE", "a")
    for cmd in (("GET", "x"), ("CLIENT", "ID"), ("HELLO", "3"), ("PUBLISH", "a", "m"),
                ("SELECT", "1"), ("NOSUCH",)):
        pair(*cmd)
    pair("PING")
    pair("PING", "hello")
    pair("SSUBSCRIBE", "s")
    pair("UNSUBSCRIBE")
    pair("GET", "x")  # still subscribed to a shard channel
    pair("SUNSUBSCRIBE")
    pair("PING")
    pair("GET", "x")


def test_reset_leaves_every_subscription(pair, pair2):
    call_n(pair, 2, "SUBSCRIBE", "a", "b")
    pair("PSUBSCRIBE", "*")
    pair("SSUBSCRIBE", "s")
    pair("RESET")
    pair("PING")
    pair2("PUBSUB", "NUMSUB", "a", "b")
    pair2("PUBSUB", "NUMPAT")
    pair2("PUBSUB", "SHARDNUMSUB", "s")


def test_resp3_pushes_and_other_commands(pair, pair2):
    pair("HELLO", "3", mask=lambda b: b"HELLO")
    pair("SUBSCRIBE", "a")
    pair("PSUBSCRIBE", "a*")
    pair("SSUBSCRIBE", "sa")
    pair("GET", "x")
    pair("PING")
    pair2("PUBLISH", "a", "hello")
    assert read_both(pair) == b">3\r\n$7\r\nmessage\r\n$1\r\na\r\n$5\r\nhello\r\n"
    assert read_both(pair) == b">4\r\n$8\r\npmessage\r\n$2\r\na*\r\n$1\r\na\r\n$5\r\nhello\r\n"
    pair2("SPUBLISH", "sa", "m")
    assert read_both(pair) == b">3\r\n$8\r\nsmessage\r\n$2\r\nsa\r\n$1\r\nm\r\n"
    # A publisher subscribed to its own channel gets the push before the reply.
    both(pair, "PUBLISH", "a", "self")
    read_both(pair)
    read_both(pair)
    assert read_both(pair) == b":2\r\n"
    pair("UNSUBSCRIBE", "a", "zz")
    read_both(pair)
    pair("PUNSUBSCRIBE")
    pair("SUNSUBSCRIBE")
    pair("UNSUBSCRIBE")


def call_n(p, n, *args):
    """Runs a command with 'n' replies on both sides; compares each."""
    both(p, *args)
    return [read_both(p) for _ in range(n)]


def test_publish_receivers_and_messages(pair, pair2):
    pair("SUBSCRIBE", "news.1")
    call_n(pair, 2, "PSUBSCRIBE", "news.*", "n*")
    pair2("PUBLISH", "news.1", "hi")
    pair2("PUBLISH", "other", "x")
    read_both(pair)  # message news.1
    # Pattern order for one subscriber follows each server's hash table: compare as sets.
    got = {pair.ours.read_reply(), pair.ours.read_reply()}
    want = {pair.ref.read_reply(), pair.ref.read_reply()}
    assert got == want
    pair2("SPUBLISH", "news.1", "not for channel subscribers")
    pair("PING")


def test_pubsub_introspection(server, reference, pair, pair2):
    call_n(pair, 3, "SUBSCRIBE", "c1", "c2", "d1")
    call_n(pair, 3, "PSUBSCRIBE", "p*", "p*", "q?")
    call_n(pair, 2, "SSUBSCRIBE", "s1", "s2")
    pair2("PUBSUB", "NUMSUB")
    pair2("PUBSUB", "NUMSUB", "c1", "c2", "nope", "c1")
    pair2("PUBSUB", "NUMPAT")
    pair2("PUBSUB", "SHARDNUMSUB", "s1", "c1")
    pair2("PUBSUB", "HELP")
    pair2("PUBSUB", "CHANNELS", "a", "b")
    pair2("PUBSUB", "shardchannels", "a", "b")
    pair2("PUBSUB", "NOSUCH")
    pair2("PUBSUB")
    pair2("PUBSUB", "NUMPAT", "x")
    ours, ref = server.client(), reference.client()
    for args in (("CHANNELS",), ("CHANNELS", "c*"), ("CHANNELS", "[cd]?"), ("SHARDCHANNELS",),
                 ("SHARDCHANNELS", "*2")):
        assert sorted(ours.execute_command("PUBSUB", *args)) == \
            sorted(ref.execute_command("PUBSUB", *args)), args


def test_arity_errors(same):
    for args in (("SUBSCRIBE",), ("PSUBSCRIBE",), ("SSUBSCRIBE",), ("PUBLISH", "a"),
                 ("SPUBLISH", "a"), ("PUBLISH", "a", "b", "c")):
        same(*args)


def test_ordered_delivery_across_connections(server):
    """Thousands of messages published on one connection reach two subscribers
    (channel and pattern) exactly, in publish order."""
    r = server.client()
    subs = []
    for kind in ("channel", "pattern"):
        p = r.pubsub()
        if kind == "channel":
            p.subscribe("stream")
        else:
            p.psubscribe("str*")
        p.get_message(timeout=5)
        subs.append(p)
    n = 5000
    pipe = r.pipeline(transaction=False)
    for i in range(n):
        pipe.publish("stream", f"m{i}")
    assert pipe.execute() == [2] * n
    for p in subs:
        got = []
        deadline = time.monotonic() + 20
        while len(got) < n and time.monotonic() < deadline:
            m = p.get_message(timeout=1)
            if m is not None and m["type"] in ("message", "pmessage"):
                got.append(m["data"].decode())
        assert got == [f"m{i}" for i in range(n)]
        p.close()


def test_closing_subscriber_leaves_channels(server):
    r = server.client()
    sub = RawResp(server.port)
    sub.call("SUBSCRIBE", "gone", "gone2")
    sub.read_reply()
    sub.call("PSUBSCRIBE", "g*")
    sub.close()
    wait_until(lambda: r.pubsub_numsub("gone") == [(b"gone", 0)], timeout=5)
    assert r.publish("gone", "x") == 0
    assert r.pubsub_numpat() == 0
    assert r.pubsub_channels() == []


def test_many_subscribers_and_unsubscribe_keeps_order(server):
    r = server.client()
    conns = [RawResp(server.port) for _ in range(20)]
    for c in conns:
        c.call("SUBSCRIBE", "fan")
    conns[5].call("UNSUBSCRIBE", "fan")
    assert r.publish("fan", "x") == 19
    for i, c in enumerate(conns):
        if i != 5:
            assert c.read_reply() == b"*3\r\n$7\r\nmessage\r\n$3\r\nfan\r\n$1\r\nx\r\n"
        c.close()


# ---- client-output-buffer-limit ----

def test_output_buffer_limit_config(same):
    same("CONFIG", "GET", "client-output-buffer-limit")
    same("CONFIG", "SET", "client-output-buffer-limit", "pubsub 1mb 512kb 5 normal 1 2 3")
    same("CONFIG", "GET", "client-output-buffer-limit")
    same("CONFIG", "SET", "client-output-buffer-limit", "replica 10mb 5mb 1")
    same("CONFIG", "GET", "client-output-buffer-limit")
    for bad in ("pubsub 1mb 1mb", "master 1 1 1", "nosuch 1 1 1", "pubsub x 1 1",
                "pubsub 1 1 -1", "pubsub 1 1 z"):
        same("CONFIG", "SET", "client-output-buffer-limit", bad)
    same("CONFIG", "GET", "client-output-buffer-limit")
    same("CONFIG", "SET", "client-output-buffer-limit",
         "normal 0 0 0 slave 268435456 67108864 60 pubsub 33554432 8388608 60")


def stalled_subscriber(port, channel):
    """A subscriber that never reads, with a tiny receive buffer."""
    s = socket.socket()
    s.setsockopt(socket.SOL_SOCKET, socket.SO_RCVBUF, 4096)
    s.connect(("127.0.0.1", port))
    s.sendall(encode("SUBSCRIBE", channel))
    time.sleep(0.1)
    return s


def subscriber_gone(r, channel):
    return r.pubsub_numsub(channel) == [(channel.encode(), 0)]


def test_slow_subscriber_is_closed_at_the_hard_limit(server):
    r = server.client()
    r.config_set("client-output-buffer-limit", "pubsub 256kb 0 0")
    s = stalled_subscriber(server.port, "slow")
    fast = r.pubsub()
    fast.subscribe("slow")
    payload = "x" * 1000
    deadline = time.monotonic() + 20
    sent = 0
    while not subscriber_gone(r, "slow") or r.pubsub_numsub("slow")[0][1] > 1:
        assert time.monotonic() < deadline, "stalled subscriber was never closed"
        pipe = r.pipeline(transaction=False)
        for _ in range(100):
            pipe.publish("slow", payload)
        pipe.execute()
        sent += 100
        # Drain the well-behaved subscriber so it stays under the limit.
        while fast.get_message(timeout=0) is not None:
            pass
        if r.pubsub_numsub("slow")[0][1] == 1:
            break
    assert r.pubsub_numsub("slow")[0][1] == 1  # only the fast one remains
    assert sent * 1000 < 64 * 1024 * 1024  # cut off long before memory grew without bound
    assert "closed ASAP for overcoming of output buffer limits" in server.read_log()
    fast.close()
    s.close()


def test_slow_subscriber_is_closed_after_soft_seconds(server):
    r = server.client()
    r.config_set("client-output-buffer-limit", "pubsub 0 64kb 1")
    s = stalled_subscriber(server.port, "soft")
    payload = "y" * 1000
    deadline = time.monotonic() + 20
    while r.pubsub_numsub("soft")[0][1] == 1:
        assert time.monotonic() < deadline, "subscriber over the soft limit was never closed"
        pipe = r.pipeline(transaction=False)
        for _ in range(50):
            pipe.publish("soft", payload)
        pipe.execute()
        time.sleep(0.1)
    s.close()


def test_limit_is_not_applied_to_a_reading_subscriber(server):
    r = server.client()
    r.config_set("client-output-buffer-limit", "pubsub 1mb 0 0")
    p = r.pubsub()
    p.subscribe("ok")
    p.get_message(timeout=5)
    got = 0
    for batch in range(20):
        pipe = r.pipeline(transaction=False)
        for _ in range(50):
            pipe.publish("ok", "z" * 1000)
        assert pipe.execute() == [1] * 50
        while got < 50 * (batch + 1):
            m = p.get_message(timeout=5)
            assert m is not None
            got += 1
    p.close()


def test_client_list_subscription_fields(server):
    r = server.client()
    a = RawResp(server.port)
    a.send("SUBSCRIBE", "c1", "c2")
    a.read_reply()
    a.read_reply()
    a.call("PSUBSCRIBE", "p*")
    a.call("SSUBSCRIBE", "s")
    line = [c for c in r.client_list() if c["cmd"] == "ssubscribe"][0]
    assert (line["sub"], line["psub"], line["ssub"], line["flags"]) == ("2", "1", "1", "P")
    b = RawResp(server.port)
    b.call("HELLO", "3")
    b.call("CLIENT", "TRACKING", "on", "BCAST")
    line = [c for c in r.client_list() if c["cmd"] == "client|tracking"][0]
    assert (line["flags"], line["redir"]) == ("tB", "0")
    a.close()
    b.close()
