"""Connection commands: AUTH, HELLO (RESP3), RESET, MONITOR, SELECT/QUIT and
the idle timeout, against redis-server 7.0 where replies are deterministic."""
import re
import socket
import time

import pytest
import redis

from harness import KEYRAFT, REDIS, Server, wait_until
from resp_raw import RawPair, RawResp, mask_id


@pytest.fixture
def spawn():
    """spawn(binary, *args): a fresh server, killed at teardown."""
    started = []

    def start(binary, *args):
        s = Server(binary, args=list(args)).start()
        started.append(s)
        return s

    yield start
    for s in started:
        s.cleanup()


@pytest.fixture
def raw_pair(server, reference):
    pair = RawPair(server.port, reference.port)
    yield pair
    pair.close()


@pytest.fixture
def pw_pair(spawn):
    """Raw connections to keyraft and redis-server, both with requirepass pw."""
    ours = spawn(KEYRAFT, "--requirepass", "pw")
    ref = spawn(REDIS, "--requirepass", "pw", "--appendonly", "no")
    pair = RawPair(ours.port, ref.port)
    pair.servers = (ours, ref)
    yield pair
    pair.close()


# ---- AUTH ----


def test_auth_without_password(same):
    same("AUTH", "x")
    same("AUTH", "default", "anything")
    same("AUTH", "nobody", "x")
    same("AUTH", "Default", "x")
    same("AUTH", "a", "b", "c")
    same("AUTH")
    same("PING")


def test_auth_with_password(pw_pair):
    p = pw_pair
    p("PING")
    p("GET", "k")
    p("CLIENT", "ID")
    p("AUTH", "wrong")
    p("AUTH", "default", "wrong")
    p("AUTH", "nobody", "pw")
    p("AUTH", "pwx")
    p("AUTH", "p")
    p("AUTH", "a", "b", "c")
    p("PING")
    assert p("AUTH", "pw") == b"+OK\r\n"
    p("PING")
    p("AUTH", "default", "pw")
    # A failed AUTH does not undo an earlier success.
    p("AUTH", "wrong")
    assert p("PING") == b"+PONG\r\n"
    p("AUTH", "x")


def test_auth_redis_py(spawn):
    s = spawn(KEYRAFT, "--requirepass", "s3cret")
    with pytest.raises(redis.AuthenticationError):
        s.client().ping()
    with pytest.raises(redis.ResponseError, match="WRONGPASS"):
        s.client(password="bad").ping()
    assert s.client(password="s3cret").ping()
    assert s.client(username="default", password="s3cret").ping()


# ---- HELLO ----


def test_hello_errors(same):
    same("HELLO", "4")
    same("HELLO", "1")
    same("HELLO", "abc")
    same("HELLO", "99999999999999999999")
    same("HELLO", "3", "foo")
    same("HELLO", "3", "auth", "a")
    same("HELLO", "3", "auth")
    same("HELLO", "3", "setname")
    same("HELLO", "2", "setname", "a b")
    same("HELLO", "2", "auth", "nobody", "x")
    same("CLIENT", "GETNAME")


def test_hello_setname_applies_while_parsing(same):
    # Redis 7.0 sets the name as it parses, so a later error keeps it.
    same("HELLO", "2", "setname", "n4", "bogus")
    same("CLIENT", "GETNAME")
    same("HELLO", "2", "setname", "n5", "auth", "nobody", "x")
    same("CLIENT", "GETNAME")
    same("HELLO", "4", "setname", "n6")
    same("CLIENT", "GETNAME")


def test_hello_map_resp2(raw_pair):
    reply = raw_pair("HELLO", mask=mask_id)
    assert reply.startswith(b"*14\r\n$6\r\nserver\r\n$5\r\nredis\r\n$7\r\nversion\r\n$6\r\n7.0.15")
    raw_pair("HELLO", "2", mask=mask_id)
    raw_pair("HELLO", "2", "AUTH", "default", "whatever", "SETNAME", "conn1", mask=mask_id)
    raw_pair("CLIENT", "GETNAME")


def test_hello_3_switches_protocol(raw_pair):
    reply = raw_pair("HELLO", "3", mask=mask_id)
    assert reply.startswith(b"%7\r\n$6\r\nserver\r\n")
    assert b"$5\r\nproto\r\n:3\r\n" in reply
    assert reply.endswith(b"$7\r\nmodules\r\n*0\r\n")
    assert raw_pair("GET", "missing:key") == b"_\r\n"
    assert raw_pair("CLIENT", "GETNAME") == b"_\r\n"
    raw_pair("CLIENT", "SETNAME", "x y")
    raw_pair("CLIENT", "LIST", "ID", "abc")
    raw_pair("HELLO", mask=mask_id)
    raw_pair("PING")
    raw_pair("HELLO", "4")
    # CLIENT INFO is a verbatim string in RESP3.
    info = raw_pair.ours.call("CLIENT", "INFO")
    assert info.startswith(b"=") and b"\r\ntxt:id=" in info and b" resp=3\n" in info
    raw_pair.ref.call("CLIENT", "INFO")
    assert b":2\r\n" in raw_pair("HELLO", "2", mask=mask_id)
    assert raw_pair("GET", "missing:key") == b"$-1\r\n"


def test_hello_reports_own_id(server):
    # redis-py 4.3 has no RESP3 support: read the map off a raw socket.
    conn = RawResp(server.port)
    reply = conn.call("HELLO", "3")
    own_id = re.search(rb"\$2\r\nid\r\n:(\d+)\r\n", reply).group(1)
    assert conn.call("CLIENT", "ID") == b":" + own_id + b"\r\n"
    assert b"$4\r\nmode\r\n$10\r\nstandalone\r\n$4\r\nrole\r\n$6\r\nmaster\r\n" in reply
    conn.close()


def test_hello_with_password(pw_pair):
    p = pw_pair
    p("HELLO", mask=mask_id)
    p("HELLO", "3", mask=mask_id)
    p("HELLO", "2", "SETNAME", "early", mask=mask_id)
    p("HELLO", "3", "AUTH", "default", "wrong", mask=mask_id)
    p("HELLO", "3", "AUTH", "nobody", "pw", mask=mask_id)
    p("PING")
    reply = p("HELLO", "3", "AUTH", "default", "pw", "SETNAME", "named", mask=mask_id)
    assert reply.startswith(b"%7\r\n")
    p("CLIENT", "GETNAME")
    p("PING")


# ---- RESET ----


def test_reset(pw_pair):
    p = pw_pair
    p("AUTH", "pw")
    p("SELECT", "3")
    p("SET", "in3", "v")
    p("CLIENT", "SETNAME", "before")
    p("HELLO", "3", mask=mask_id)
    p("CLIENT", "NO-EVICT", "on")
    for conn in (p.ours, p.ref):
        conn.send("CLIENT", "REPLY", "OFF")
        conn.send("PING")
    # RESET answers even with replies off, in RESP2.
    assert p("RESET") == b"+RESET\r\n"
    p("PING")
    p("GET", "in3")
    p("AUTH", "pw")
    p("GET", "in3")
    p("CLIENT", "GETNAME")
    p("GET", "missing:key")
    p("RESET")
    p("RESET", "extra")


def client_state(reply):
    """The CLIENT INFO fields RESET clears (the rest differ between servers)."""
    fields = dict(f.split(b"=", 1) for f in reply.split(b"\r\n")[1].split(b" ") if b"=" in f)
    return b" ".join(k + b"=" + fields[k] for k in
                     (b"db", b"sub", b"psub", b"ssub", b"multi", b"flags", b"resp"))


def test_reset_discards_transaction_and_watches(raw_pair, server, reference):
    p = raw_pair
    other = RawPair(server.port, reference.port)
    p("DEL", "reset:k", "reset:n")
    p("WATCH", "reset:k")
    p("MULTI")
    p("SET", "reset:k", "v")
    p("INCR", "reset:n")
    assert p("RESET") == b"+RESET\r\n"
    p("CLIENT", "INFO", mask=client_state)
    # The queue is gone: nothing ran, EXEC and DISCARD are out of MULTI.
    p("EXEC")
    p("DISCARD")
    p("MGET", "reset:k", "reset:n")
    # So is the WATCH: a change to the key no longer aborts the next EXEC.
    other("SET", "reset:k", "changed")
    p("MULTI")
    p("SET", "reset:k", "mine")
    p("EXEC")
    p("GET", "reset:k")
    # A transaction already doomed by a rejected command is dropped too.
    p("MULTI")
    p("NOSUCHCOMMAND")
    p("SET", "reset:k", "x")
    p("RESET")
    p("EXEC")
    p("MULTI")
    p("INCR", "reset:n")
    p("EXEC")
    # RESET inside MULTI in another database and RESP3 goes back to db 0, RESP2.
    p("SELECT", "5")
    p("HELLO", "3", mask=mask_id)
    p("MULTI")
    p("SET", "reset:k", "in5")
    p("RESET")
    p("CLIENT", "INFO", mask=client_state)
    p("GET", "reset:k")
    p("DEL", "reset:k", "reset:n")
    other.close()


def test_reset_leaves_subscriptions_silently(raw_pair, server, reference):
    p = raw_pair
    publisher = RawPair(server.port, reference.port)
    p("SUBSCRIBE", "reset:a")
    for conn in (p.ours, p.ref):
        conn.send("SUBSCRIBE", "reset:b")
        conn.send("PSUBSCRIBE", "reset:*")
        conn.send("SSUBSCRIBE", "reset:s")
    for _ in range(3):
        ours, theirs = p.ours.read_reply(), p.ref.read_reply()
        assert ours == theirs
    # No unsubscribe confirmations: +RESET is the only reply.
    assert p("RESET") == b"+RESET\r\n"
    p("CLIENT", "INFO", mask=client_state)
    publisher("PUBLISH", "reset:a", "m")
    publisher("SPUBLISH", "reset:s", "m")
    publisher("PUBSUB", "NUMPAT")
    # Out of subscribed mode: ordinary commands work and nothing was pushed.
    p("ECHO", "after")
    # RESP3 subscribers inside MULTI: both the transaction and the
    # subscriptions go, and the connection speaks RESP2 again.
    p("HELLO", "3", mask=mask_id)
    p("SUBSCRIBE", "reset:c")
    p("MULTI")
    p("SET", "reset:k", "v")
    p("RESET")
    p("CLIENT", "INFO", mask=client_state)
    p("EXEC")
    publisher("PUBLISH", "reset:c", "m")
    p("GET", "reset:k")
    publisher.close()


def test_reset_without_password(same):
    same("SELECT", "2")
    same("CLIENT", "SETNAME", "x")
    same("RESET")
    same("CLIENT", "GETNAME")
    same("PING")


# ---- MONITOR ----

LINE = re.compile(rb"^\+(\d+)\.(\d{6}) \[(\d+) 127\.0\.0\.1:(\d+)\] (.*)$")


def monitor_lines(binary, spawn, script):
    """Runs 'script' (list of raw command bytes) on one connection while
    another monitors; returns the monitor's lines with the timestamp and the
    port masked, after checking their shape."""
    s = spawn(binary)
    mon = RawResp(s.port)
    assert mon.call("MONITOR") == b"+OK\r\n"
    conn = socket.create_connection(("127.0.0.1", s.port), timeout=5)
    conn.sendall(b"".join(script) + b"ECHO the-end\r\n")
    got = b""
    deadline = time.monotonic() + 5
    while b'"the-end"' not in got and time.monotonic() < deadline:
        mon.sock.settimeout(max(0.01, deadline - time.monotonic()))
        try:
            chunk = mon.sock.recv(65536)
        except socket.timeout:
            break
        if not chunk:
            break
        got += chunk
    lines = []
    now = time.time()
    for line in got.split(b"\r\n"):
        if not line:
            continue
        m = LINE.match(line)
        assert m, line
        assert abs(int(m.group(1)) - now) < 60
        lines.append(b"[%s] %s" % (m.group(3), m.group(5)))
    # The monitor's own commands show up too, after their reply.
    assert mon.call("PING") == b"+PONG\r\n"
    own = mon.read_reply()
    assert LINE.match(own.rstrip(b"\r\n")) and own.endswith(b'"PING"\r\n')
    # RESET leaves monitor mode.
    assert mon.call("RESET") == b"+RESET\r\n"
    conn.sendall(b"PING\r\n")
    assert mon.call("PING") == b"+PONG\r\n"
    conn.close()
    mon.close()
    return lines


MONITOR_SCRIPT = [
    b'SET k "a\\"b\\\\c\\n\\x01\\xff\\t\\r\\a\\b"\r\n',
    b"*3\r\n$3\r\nset\r\n$2\r\na \r\n$3\r\n1 2\r\n",
    b"get k\r\n",
    b"select 3\r\n",
    b"auth a b\r\n",
    b"auth x\r\n",
    b"auth a b c\r\n",
    b"hello 3 auth u p setname n\r\n",
    b"hello 2 setname x auth u\r\n",
    b"hello 9 auth a b\r\n",
    b"hello 2 auth u p auth v w\r\n",
    b"hello 2 auth default b auth default d setname s1\r\n",
    b"hello 2 setname s2 auth default b bogus\r\n",
    b"client list\r\n",
    b"client kill id 999999\r\n",
    b"client info\r\n",
    b"client setname mon-test\r\n",
    b"get\r\n",
    b"nosuch command\r\n",
    b"ping\r\n",
    b"reset\r\n",
    b"echo \"\xc3\xa9\"\r\n",
]


def test_monitor_matches_reference(spawn):
    ours = monitor_lines(KEYRAFT, spawn, MONITOR_SCRIPT)
    theirs = monitor_lines(REDIS, spawn, MONITOR_SCRIPT)
    assert ours == theirs
    assert ours[0] == b'[0] "SET" "k" "a\\"b\\\\c\\n\\x01\\xff\\t\\r\\a\\b"'
    assert b'[3] "auth" "(redacted)" "(redacted)"' in ours
    assert not any(b'"client" "list"' in l for l in ours)


def test_monitor_errors_and_idempotence(same, server):
    same("MONITOR", "x")
    mon = RawResp(server.port)
    assert mon.call("MONITOR") == b"+OK\r\n"
    mon.send("MONITOR")  # already monitoring: no reply at all
    assert mon.call("PING") == b"+PONG\r\n"
    line = mon.read_reply()
    assert line.endswith(b'"PING"\r\n'), line
    info = redis.Redis(port=server.port).client_list()
    flags = {c["id"]: c["flags"] for c in info}
    assert "O" in flags.values()
    mon.close()


# ---- SELECT, QUIT, idle timeout ----


def test_select_errors(same):
    same("SELECT", "-1")
    same("SELECT", "1.5")
    same("SELECT", "0", "1")


def test_idle_client_closed_after_timeout(spawn):
    s = spawn(KEYRAFT, "--timeout", "1")
    idle = s.raw()
    busy = RawResp(s.port)
    mon = RawResp(s.port)
    assert mon.call("MONITOR") == b"+OK\r\n"
    idle.send(b"PING\r\n")
    assert idle.read(7) == b"+PONG\r\n"
    assert mon.read_reply().endswith(b'"PING"\r\n')
    start = time.monotonic()
    # The busy client keeps talking and stays; the idle one is closed.
    closed = False
    while time.monotonic() - start < 5:
        assert busy.call("PING") == b"+PONG\r\n"
        mon.read_reply()
        idle.sock.settimeout(0.2)
        try:
            if idle.sock.recv(100) == b"":
                closed = True
                break
        except socket.timeout:
            pass
    elapsed = time.monotonic() - start
    assert closed, "idle client was not closed"
    assert 0.8 <= elapsed < 4, elapsed
    # Monitors are never closed for idleness (Redis treats them as replicas).
    time.sleep(1.5)
    mon.sock.settimeout(0.2)
    with pytest.raises(socket.timeout):
        mon.sock.recv(100)
    assert mon.call("PING") == b"+PONG\r\n"
