"""Client-side caching: CLIENT TRACKING / CACHING / GETREDIR / TRACKINGINFO
and the invalidation messages they cause, in RESP3 (pushes on the same
connection) and RESP2 (__redis__:invalidate messages to a redirect client),
run as the same scenario on keyraft and redis-server 7.0 and compared byte
for byte (client ids masked)."""
import re

import pytest

from resp_raw import RawResp


def mask(b):
    b = re.sub(rb"(\$2\r\nid\r\n):\d+\r\n", rb"\1:ID\r\n", b)
    return re.sub(rb"(\$8\r\nredirect\r\n):[1-9]\d*\r\n", rb"\1:ID\r\n", b)


class Scenario:
    """Named raw connections on one server; log() records every reply."""

    def __init__(self, port):
        self.port = port
        self.conns = {}
        self.log = []
        self.ids = {}

    def conn(self, name, proto=2):
        c = RawResp(self.port)
        if proto == 3:
            c.call("HELLO", "3")
        self.conns[name] = c
        self.ids[name] = int(c.call("CLIENT", "ID")[1:-2])
        return c

    def call(self, name, *args):
        real = [str(self.ids[a[1:]]) if isinstance(a, str) and a.startswith("@") else a
                for a in args]
        reply = self.conns[name].call(*real)
        self.log.append((name, " ".join(map(str, args)), mask(reply)))
        return reply

    def read(self, name):
        reply = self.conns[name].read_reply()
        self.log.append((name, "<read>", reply))
        return reply

    def ping(self, name):
        """A PING round trip: everything sent before it has been read."""
        return self.call(name, "PING")

    def close(self):
        for c in self.conns.values():
            c.close()


def run_both(server, reference, fn):
    logs = []
    for port in (server.port, reference.port):
        s = Scenario(port)
        s.conns["setup"] = RawResp(port)
        s.conns["setup"].call("FLUSHALL")
        try:
            fn(s)
        finally:
            s.close()
        logs.append(s.log)
    ours, theirs = logs
    for a, b in zip(ours, theirs):
        assert a == b, f"keyraft {a!r} != redis {b!r}"
    assert len(ours) == len(theirs)
    return ours


def test_tracking_errors(same):
    same("CLIENT", "TRACKING", "maybe")
    same("CLIENT", "TRACKING", "on", "nosuch")
    same("CLIENT", "TRACKING", "on", "redirect", "x")
    same("CLIENT", "TRACKING", "on", "redirect", "999999")
    same("CLIENT", "TRACKING", "on", "redirect", "0")
    same("CLIENT", "TRACKING", "on", "prefix", "a")
    same("CLIENT", "TRACKING", "on", "bcast", "optin")
    same("CLIENT", "TRACKING", "on", "optin", "optout")
    same("CLIENT", "TRACKING", "on", "bcast", "prefix", "a", "prefix", "ab")
    same("CLIENT", "TRACKING", "on", "redirect")
    same("CLIENT", "CACHING", "yes")
    same("CLIENT", "CACHING", "maybe")
    same("CLIENT", "GETREDIR")
    same("CLIENT", "TRACKINGINFO")
    same("CLIENT", "TRACKING", "on", "optin")
    same("CLIENT", "CACHING", "no")
    same("CLIENT", "CACHING", "maybe")
    same("CLIENT", "CACHING", "yes")
    same("CLIENT", "TRACKINGINFO")
    same("CLIENT", "TRACKING", "on", "optout")
    same("CLIENT", "TRACKING", "on", "bcast")
    same("CLIENT", "TRACKING", "off")
    same("CLIENT", "TRACKING", "on", "bcast", "prefix", "b", "prefix", "a", "noloop")
    same("CLIENT", "TRACKINGINFO")
    same("CLIENT", "TRACKING", "on", "bcast", "prefix", "ab")
    same("CLIENT", "TRACKING", "on", "bcast", "prefix", "c")
    same("CLIENT", "TRACKINGINFO")
    same("CLIENT", "GETREDIR")
    same("CLIENT", "TRACKING", "off")
    same("CLIENT", "TRACKINGINFO")
    same("CLIENT", "GETREDIR")


def test_resp3_default_mode(server, reference):
    def scenario(s):
        s.conn("a", proto=3)
        s.conn("w")
        s.call("a", "CLIENT", "TRACKING", "on")
        s.call("a", "GET", "k1")
        s.call("a", "MGET", "k2", "k3")
        s.call("w", "SET", "k1", "v")
        s.read("a")  # invalidate [k1]
        s.call("w", "SET", "k1", "v2")  # no longer tracked: nothing
        s.call("w", "MSET", "k2", "x", "k3", "y")
        s.read("a")
        s.read("a")
        s.call("a", "GET", "k1")
        s.call("a", "SET", "k1", "own")  # own write: reply first, then the push
        s.read("a")
        s.ping("a")
        s.call("a", "CLIENT", "TRACKINGINFO")
    run_both(server, reference, scenario)


def test_noloop_optin_optout(server, reference):
    def scenario(s):
        s.conn("a", proto=3)
        s.conn("w")
        s.call("a", "CLIENT", "TRACKING", "on", "noloop")
        s.call("a", "GET", "n")
        s.call("a", "SET", "n", "1")  # no push for its own write
        s.ping("a")
        s.call("a", "CLIENT", "TRACKING", "off")
        s.call("a", "CLIENT", "TRACKING", "on", "optin")
        s.call("a", "GET", "o1")  # not tracked
        s.call("a", "CLIENT", "CACHING", "yes")
        s.call("a", "GET", "o2")  # tracked
        s.call("a", "GET", "o3")  # caching applied to one command only
        s.call("w", "MSET", "o1", "1", "o2", "2", "o3", "3")
        s.read("a")
        s.ping("a")
        s.call("a", "CLIENT", "TRACKING", "off")
        s.call("a", "CLIENT", "TRACKING", "on", "optout")
        s.call("a", "CLIENT", "CACHING", "no")
        s.call("a", "GET", "p1")  # skipped
        s.call("a", "GET", "p2")  # tracked
        s.call("w", "MSET", "p1", "1", "p2", "2")
        s.read("a")
        s.ping("a")
    run_both(server, reference, scenario)


def test_resp2_redirect(server, reference):
    def scenario(s):
        s.conn("r")
        s.conn("a")
        s.conn("w")
        s.call("r", "SUBSCRIBE", "__redis__:invalidate")
        s.call("a", "CLIENT", "TRACKING", "on", "REDIRECT", "@r")
        redir = s.conns["a"].call("CLIENT", "GETREDIR")
        s.log.append(("a", "getredir", redir == b":%d\r\n" % s.ids["r"]))
        s.call("a", "GET", "k")
        s.call("w", "SET", "k", "v")
        s.read("r")  # message __redis__:invalidate [k]
        s.call("a", "GET", "k")
        s.call("w", "DEL", "k")
        s.read("r")
        s.call("a", "GET", "k")
        s.call("w", "FLUSHALL")
        s.read("r")  # a null: everything is invalid
        s.ping("r")
    run_both(server, reference, scenario)


def test_broken_redirect(server, reference):
    def scenario(s):
        s.conn("r")
        s.conn("a", proto=3)
        s.conn("w")
        s.call("a", "CLIENT", "TRACKING", "on", "REDIRECT", "@r")
        s.call("a", "GET", "k")
        s.conns["r"].close()
        s.call("w", "CLIENT", "KILL", "ID", "@r")
        s.call("w", "SET", "k", "v")
        pushed = s.conns["a"].read_reply()
        s.log.append(("a", "<read>", pushed.startswith(b">2\r\n$21\r\ntracking-redir-broken")))
        s.call("a", "CLIENT", "TRACKINGINFO")
    run_both(server, reference, scenario)


def test_bcast_prefixes(server, reference):
    def scenario(s):
        s.conn("a", proto=3)
        s.conn("n", proto=3)
        s.conn("w")
        s.call("a", "CLIENT", "TRACKING", "on", "BCAST", "PREFIX", "user:", "PREFIX", "obj:")
        s.call("n", "CLIENT", "TRACKING", "on", "BCAST", "NOLOOP")
        s.call("w", "MSET", "user:2", "x", "user:1", "y", "other", "z", "obj:9", "q")
        s.read("a")  # obj: prefix first, then user:, keys sorted
        s.read("a")
        s.read("n")  # every key, one message
        s.call("n", "SET", "user:3", "mine")  # NOLOOP: nothing for n
        s.read("a")
        s.ping("n")
        s.ping("a")
    run_both(server, reference, scenario)


def test_flush_sends_null_to_resp3_client(server, reference):
    def scenario(s):
        s.conn("a", proto=3)
        s.conn("w")
        s.call("a", "CLIENT", "TRACKING", "on")
        s.call("a", "GET", "k")
        s.call("w", "FLUSHDB")
        s.read("a")
        s.call("a", "FLUSHALL")  # its own flush: the null follows the reply
        s.read("a")
        s.ping("a")
    run_both(server, reference, scenario)


def test_expired_key_invalidates(server):
    a = RawResp(server.port)
    a.call("HELLO", "3")
    a.call("CLIENT", "TRACKING", "on")
    w = RawResp(server.port)
    w.call("SET", "soon", "v", "PX", "50")
    assert a.call("GET", "soon") == b"$1\r\nv\r\n"
    # The active expire cycle deletes it and the tracker hears about it.
    assert a.read_reply() == b">2\r\n$10\r\ninvalidate\r\n*1\r\n$4\r\nsoon\r\n"
    a.close()
    w.close()


def test_closing_tracker_and_reset(server):
    r = server.client()
    a = RawResp(server.port)
    a.call("HELLO", "3")
    a.call("CLIENT", "TRACKING", "on", "BCAST")
    a.call("RESET")
    assert a.call("CLIENT", "TRACKINGINFO") == (
        b"*6\r\n$5\r\nflags\r\n*1\r\n$3\r\noff\r\n$8\r\nredirect\r\n:-1\r\n"
        b"$8\r\nprefixes\r\n*0\r\n")
    a.call("CLIENT", "TRACKING", "on")
    a.call("GET", "k")
    a.close()
    r.set("k", "v")  # the tracker is gone: nothing to send, nothing breaks
    assert r.get("k") == b"v"
