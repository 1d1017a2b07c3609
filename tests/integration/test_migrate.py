"""MIGRATE (node/cmd_migrate.c, node/migrate_conn.c) and RESTORE-ASKING on a
cluster's importing node.

Side by side: every scenario runs keyraft -> keyraft and redis-server ->
redis-server 7.0 and the replies must be identical (errors included).
DUMP payloads do not cross between the two (different formats, see
test_dump.py), so keyraft -> redis-server and redis-server -> keyraft are
checked for what crosses: the protocol, AUTH/SELECT, BUSYKEY, and the
target's payload error forwarded. Fake targets (small socket servers in
this file) cover timeouts, garbage replies and connections closed early.
The cluster part runs redis-cli's reshard sequence (cluster-compat.md 2.6)
by hand between two cluster-enabled keyraft nodes that know each other from
a nodes.conf written before start."""
import os
import socket
import subprocess
import threading
import time

import pytest
import redis

from harness import KEYRAFT, REDIS, Server, blocked_call, join_group, run_command, wait_until

HOST = "127.0.0.1"


def connection(port):
    c = redis.Connection(port=port, socket_timeout=30)
    c.connect()
    return c


class Side:
    """A source and a target of one implementation, with raw connections."""

    def __init__(self, src, dst):
        self.src, self.dst = src, dst
        self.s = connection(src.port)
        self.d = connection(dst.port)
        for c in (self.s, self.d):
            run_command(c, "FLUSHALL")

    def close(self):
        self.s.disconnect()
        self.d.disconnect()


class Pairs:
    """keyraft -> keyraft and redis -> redis, driven with the same commands.
    In arguments, "{dst}" stands for the side's own target port."""

    def __init__(self, ours, ref):
        self.ours, self.ref = ours, ref
        self.sides = (ours, ref)

    def args(self, side, args):
        return [str(side.dst.port) if a == "{dst}" else a for a in args]

    def src(self, *args):
        """Runs on both sources; asserts equal replies; returns keyraft's."""
        got = [run_command(side.s, *self.args(side, args)) for side in self.sides]
        assert got[0] == got[1], f"{args!r}: keyraft {got[0]!r} != redis {got[1]!r}"
        return got[0]

    def dst(self, *args):
        got = [run_command(side.d, *self.args(side, args)) for side in self.sides]
        assert got[0] == got[1], f"target {args!r}: keyraft {got[0]!r} != redis {got[1]!r}"
        return got[0]


@pytest.fixture(scope="module")
def ref_pair():
    a = Server(REDIS, args=["--appendonly", "no"]).start()
    b = Server(REDIS, args=["--appendonly", "no"]).start()
    yield a, b
    a.cleanup()
    b.cleanup()


@pytest.fixture
def kr_pair():
    a = Server(KEYRAFT).start()
    b = Server(KEYRAFT).start()
    yield a, b
    a.cleanup()
    b.cleanup()


@pytest.fixture
def pairs(kr_pair, ref_pair):
    ours, ref = Side(*kr_pair), Side(*ref_pair)
    yield Pairs(ours, ref)
    ours.close()
    ref.close()


# ---- Side by side: keyraft -> keyraft and redis -> redis ----


def test_single_key(pairs):
    pairs.src("SET", "k", "v")
    assert pairs.src("MIGRATE", HOST, "{dst}", "k", "0", "5000") == b"OK"
    assert pairs.src("EXISTS", "k") == 0
    assert pairs.dst("GET", "k") == b"v"
    assert pairs.src("MIGRATE", HOST, "{dst}", "k", "0", "5000") == b"NOKEY"
    # Every type travels.
    pairs.src("RPUSH", "l", "a", "b", "c")
    pairs.src("HSET", "h", "f", "v", "g", "w")
    pairs.src("SADD", "s", "x", "y")
    pairs.src("ZADD", "z", "1", "a", "2", "b")
    pairs.src("XADD", "x", "1-1", "f", "v")
    for key in ("l", "h", "s", "z", "x"):
        assert pairs.src("MIGRATE", HOST, "{dst}", key, "0", "5000") == b"OK"
    assert pairs.dst("LRANGE", "l", "0", "-1") == [b"a", b"b", b"c"]
    assert pairs.dst("HGET", "h", "g") == b"w"
    assert pairs.dst("SISMEMBER", "s", "y") == 1
    assert pairs.dst("ZSCORE", "z", "b") == b"2"
    assert pairs.dst("XLEN", "x") == 1
    assert pairs.src("DBSIZE") == 0


def test_keys_form(pairs):
    pairs.src("MSET", "a", "1", "b", "2", "c", "3")
    assert pairs.src("MIGRATE", HOST, "{dst}", "", "0", "5000", "KEYS", "a", "b", "missing", "c") == b"OK"
    assert pairs.src("DBSIZE") == 0
    assert pairs.dst("MGET", "a", "b", "c", "missing") == [b"1", b"2", b"3", None]
    assert pairs.src("MIGRATE", HOST, "{dst}", "", "0", "5000", "KEYS", "a", "b") == b"NOKEY"
    assert pairs.src("MIGRATE", HOST, "{dst}", "", "0", "5000", "KEYS") == b"NOKEY"
    # AUTH's value may spell KEYS; only a later KEYS starts the keys.
    pairs.src("SET", "d", "4")
    assert pairs.src("MIGRATE", HOST, "{dst}", "", "0", "5000", "COPY", "KEYS", "d") == b"OK"
    assert pairs.src("GET", "d") == b"4"


def test_copy_and_replace(pairs):
    pairs.src("SET", "k", "v1")
    assert pairs.src("MIGRATE", HOST, "{dst}", "k", "0", "5000", "COPY") == b"OK"
    assert pairs.src("GET", "k") == b"v1"
    assert pairs.dst("GET", "k") == b"v1"
    pairs.src("SET", "k", "v2")
    assert pairs.src("MIGRATE", HOST, "{dst}", "k", "0", "5000") == \
        ("error", "Target instance replied with error: BUSYKEY Target key name already exists.")
    assert pairs.src("GET", "k") == b"v2"  # nothing acknowledged, nothing deleted
    assert pairs.src("MIGRATE", HOST, "{dst}", "k", "0", "5000", "COPY", "REPLACE") == b"OK"
    assert pairs.dst("GET", "k") == b"v2"
    assert pairs.src("GET", "k") == b"v2"
    pairs.src("SET", "k", "v3")
    assert pairs.src("MIGRATE", HOST, "{dst}", "k", "0", "5000", "replace") == b"OK"
    assert pairs.dst("GET", "k") == b"v3"
    assert pairs.src("EXISTS", "k") == 0
    # Partly busy: the keys the target took are deleted, the reply is the error.
    pairs.src("MSET", "p", "1", "q", "2", "r", "3")
    pairs.dst("SET", "q", "taken")
    assert pairs.src("MIGRATE", HOST, "{dst}", "", "0", "5000", "KEYS", "p", "q", "r") == \
        ("error", "Target instance replied with error: BUSYKEY Target key name already exists.")
    assert pairs.src("MGET", "p", "q", "r") == [None, b"2", None]
    assert pairs.dst("MGET", "p", "q", "r") == [b"1", b"taken", b"3"]


def test_ttl_preserved(pairs):
    pairs.src("SET", "k", "v", "PX", "100000")
    pairs.src("SET", "forever", "v")
    assert pairs.src("MIGRATE", HOST, "{dst}", "", "0", "5000", "KEYS", "k", "forever") == b"OK"
    for side in pairs.sides:
        ttl = run_command(side.d, "PTTL", "k")
        assert 90000 < ttl <= 100000
    assert pairs.dst("PTTL", "forever") == -1


def test_destination_db(pairs):
    pairs.src("MSET", "a", "1", "b", "2", "c", "3")
    assert pairs.src("MIGRATE", HOST, "{dst}", "a", "3", "5000") == b"OK"
    pairs.dst("SELECT", "3")
    assert pairs.dst("GET", "a") == b"1"
    assert pairs.src("MIGRATE", HOST, "{dst}", "b", "99", "5000") == \
        ("error", "Target instance replied with error: ERR DB index is out of range")
    # The failed SELECT left the connection in db 3, where the RESTORE ran
    # anyway; the source kept the key (the SELECT error counts).
    assert pairs.dst("GET", "b") == b"2"
    # Redis forgets the selected db after an error; db -1 then equals that
    # "unknown" marker, so no SELECT is sent and the RESTORE runs in db 3.
    assert pairs.src("MIGRATE", HOST, "{dst}", "b", "-1", "5000") == \
        ("error", "Target instance replied with error: BUSYKEY Target key name already exists.")
    assert pairs.src("MIGRATE", HOST, "{dst}", "b", "-1", "5000", "REPLACE") == b"OK"
    assert pairs.src("EXISTS", "b") == 0
    pairs.dst("SELECT", "0")
    # The source's own db is the client's.
    pairs.src("SELECT", "5")
    pairs.src("SET", "five", "5")
    assert pairs.src("MIGRATE", HOST, "{dst}", "five", "0", "5000") == b"OK"
    assert pairs.dst("GET", "five") == b"5"


def test_argument_errors(pairs):
    pairs.src("SET", "k", "v")
    p = ("MIGRATE", HOST, "{dst}")
    pairs.src("MIGRATE", HOST, "{dst}", "k", "0")
    pairs.src("MIGRATE")
    pairs.src(*p, "k", "0", "5000", "bogus")
    pairs.src(*p, "k", "0", "5000", "AUTH")
    pairs.src(*p, "k", "0", "5000", "AUTH2", "user")
    pairs.src(*p, "k", "0", "5000", "KEYS", "k")
    pairs.src(*p, "k", "notanumber", "5000")
    pairs.src(*p, "k", "0", "notanumber")
    pairs.src(*p, "k", "0", "99999999999999999999")
    pairs.src(*p, "k", "0", "5000", "COPY", "bogus", "KEYS")
    assert pairs.src(*p, "", "0", "5000", "KEYS", "nokey", "COPY") == b"NOKEY"  # COPY is a key here
    assert pairs.src("GET", "k") == b"v"
    # A timeout of 0 or less means 1000 ms.
    assert pairs.src(*p, "k", "0", "0", "COPY") == b"OK"
    assert pairs.src(*p, "k", "0", "-5", "COPY", "REPLACE") == b"OK"
    assert pairs.src("COMMAND", "GETKEYS", *p, "", "0", "5", "KEYS", "a", "b") == [b"a", b"b"]
    assert pairs.src("COMMAND", "GETKEYS", *p, "k", "0", "5", "COPY") == [b"k"]
    assert pairs.src("COMMAND", "GETKEYS", *p, "", "0", "5", "AUTH", "KEYS", "KEYS", "x") == [b"x"]
    assert pairs.src("COMMAND", "INFO", "MIGRATE") is not None


def test_auth_and_auth2(ref_pair):
    """Targets with requirepass and with an ACL user."""
    kr_dst = Server(KEYRAFT, args=["--requirepass", "secret"]).start()
    ref_dst = Server(REDIS, args=["--appendonly", "no", "--requirepass", "secret"]).start()
    kr_src = Server(KEYRAFT).start()
    try:
        ours = Side.__new__(Side)
        ours.src, ours.dst = kr_src, kr_dst
        ours.s = connection(kr_src.port)
        ours.d = redis.Connection(port=kr_dst.port, password="secret", socket_timeout=30)
        ref = Side.__new__(Side)
        ref.src, ref.dst = ref_pair[0], ref_dst
        ref.s = connection(ref_pair[0].port)
        ref.d = redis.Connection(port=ref_dst.port, password="secret", socket_timeout=30)
        run_command(ref.s, "FLUSHALL")
        p = Pairs(ours, ref)
        p.dst("ACL", "SETUSER", "mover", "on", ">pw", "~*", "+@all")
        p.src("MSET", "a", "1", "b", "2", "c", "3")
        m = ("MIGRATE", HOST, "{dst}")
        assert p.src(*m, "a", "0", "5000") == \
            ("error", "Target instance replied with error: NOAUTH Authentication required.")
        assert p.src(*m, "a", "0", "5000", "AUTH", "wrong") == \
            ("error", "Target instance replied with error: WRONGPASS invalid username-password pair or user is disabled.")
        assert p.src(*m, "a", "0", "5000", "AUTH", "secret") == b"OK"
        assert p.src(*m, "b", "0", "5000", "AUTH2", "mover", "nope") == \
            ("error", "Target instance replied with error: WRONGPASS invalid username-password pair or user is disabled.")
        # The connection stays authenticated from before: the target
        # restored b despite the failed AUTH2, and the source kept it.
        assert p.dst("GET", "b") == b"2"
        assert p.src(*m, "b", "0", "5000", "AUTH2", "mover", "pw", "REPLACE") == b"OK"
        assert p.src("MGET", "a", "b", "c") == [None, None, b"3"]
        assert p.dst("MGET", "a", "b", "c") == [b"1", b"2", None]
        # AUTH to a target without a password fails, yet the target restores
        # the key: the source keeps it (Redis checks the AUTH reply first).
        p.dst("CONFIG", "SET", "requirepass", "")
        assert p.src(*m, "c", "0", "5000", "AUTH", "x") == \
            ("error", "Target instance replied with error: ERR AUTH <password> called without any "
                      "password configured for the default user. Are you sure your configuration is correct?")
        assert p.src("GET", "c") == b"3"
        assert p.dst("GET", "c") == b"3"
        # MONITOR shows the secrets redacted.
        mon = connection(kr_src.port)
        mon.send_command("MONITOR")
        assert mon.read_response() == b"OK"
        run_command(ours.s, "MIGRATE", HOST, "1", "zz", "0", "5", "AUTH2", "u", "topsecret")
        line = mon.read_response().decode()
        assert "topsecret" not in line and '"(redacted)" "(redacted)"' in line
        mon.disconnect()
        ours.close()
        ref.close()
    finally:
        kr_dst.cleanup()
        ref_dst.cleanup()
        kr_src.cleanup()


def test_closed_port_and_bad_addresses(pairs):
    """Connection refused, a negative port, an unknown host: Redis's texts,
    quickly (the refused case is retried once, as Redis does)."""
    pairs.src("SET", "k", "v")
    pairs.src("CONFIG", "RESETSTAT")
    closed = socket.socket()
    closed.bind((HOST, 0))
    port = str(closed.getsockname()[1])  # bound, never listening: refused
    try:
        start = time.monotonic()
        assert pairs.src("MIGRATE", HOST, port, "k", "0", "2000") == \
            ("error", "IOERR error or timeout writing to target instance")
        assert pairs.src("MIGRATE", HOST, "-1", "k", "0", "2000") == \
            ("error", "IOERR error or timeout connecting to the client")
        assert pairs.src("MIGRATE", "no-such-host.invalid", port, "k", "0", "2000") == \
            ("error", "IOERR error or timeout connecting to the client")
        assert pairs.src("MIGRATE", "", port, "k", "0", "2000") == \
            ("error", "IOERR error or timeout connecting to the client")
        # atoi: no digits is port 0 (refused).
        assert pairs.src("MIGRATE", HOST, "abc", "k", "0", "2000") == \
            ("error", "IOERR error or timeout writing to target instance")
        assert pairs.src("MIGRATE", HOST, "", "k", "0", "2000") == \
            ("error", "IOERR error or timeout writing to target instance")
        assert time.monotonic() - start < 10
        assert pairs.src("GET", "k") == b"v"
        # The errors count in INFO like Redis's (errorstats, commandstats).
        for section in ("errorstats", "commandstats"):
            lines = [sorted(ln for ln in run_command(side.s, "INFO", section).decode().splitlines()
                            if "IOERR" in ln or "cmdstat_migrate" in ln) for side in pairs.sides]
            lines = [[ln.split(",usec")[0] + ln.split(",usec_per_call=")[-1].split(",", 1)[-1]
                      if "cmdstat" in ln else ln for ln in side] for side in lines]
            assert lines[0] == lines[1] and lines[0], lines
    finally:
        closed.close()


def test_migrate_to_itself(pairs):
    """Redis cannot answer itself while it migrates and times out; keyraft
    answers the same at once and keeps the key (it would otherwise restore
    it over itself and then delete it)."""
    for side in pairs.sides:
        run_command(side.s, "SET", "k", "v")
        assert run_command(side.s, "MIGRATE", HOST, str(side.src.port), "k", "0", "300", "REPLACE") == \
            ("error", "IOERR error or timeout reading to target instance")
        assert run_command(side.s, "GET", "k") == b"v"
    assert pairs.src("MIGRATE", "localhost", "{dst}", "k", "0", "3000") == b"OK"


def test_connection_cached(pairs):
    """One connection serves consecutive MIGRATEs to the same target; a
    cached connection the target closed is replaced without an error."""
    for side in pairs.sides:
        run_command(side.s, "MSET", "a", "1", "b", "2", "c", "3", "d", "4")
    assert pairs.src("MIGRATE", HOST, "{dst}", "d", "0", "5000") == b"OK"
    before = [int(run_command(s.d, "INFO", "stats").split(b"total_connections_received:")[1].split(b"\r")[0])
              for s in pairs.sides]
    assert pairs.src("MIGRATE", HOST, "{dst}", "a", "0", "5000") == b"OK"
    assert pairs.src("MIGRATE", HOST, "{dst}", "b", "0", "5000") == b"OK"
    after = [int(run_command(s.d, "INFO", "stats").split(b"total_connections_received:")[1].split(b"\r")[0])
             for s in pairs.sides]
    assert [y - x for x, y in zip(before, after)] == [0, 0]
    # The target kills the cached connection: the next MIGRATE retries.
    for side in pairs.sides:
        listing = run_command(side.d, "CLIENT", "LIST").decode().splitlines()
        movers = [ln for ln in listing if "cmd=restore" in ln or "cmd=select" in ln]
        assert movers, listing  # (the module's Redis may also keep a "localhost:port" one)
        for mover in movers:
            addr = mover.split(" addr=")[1].split(" ")[0]
            assert run_command(side.d, "CLIENT", "KILL", addr) == b"OK"
    assert pairs.src("MIGRATE", HOST, "{dst}", "c", "0", "5000") == b"OK"
    assert pairs.dst("MGET", "a", "b", "c", "d") == [b"1", b"2", b"3", b"4"]


# ---- keyraft <-> redis-server: what crosses ----


def test_across_implementations(server, reference):
    kr = connection(server.port)
    rd = connection(reference.port)
    run_command(rd, "FLUSHALL")
    try:
        # keyraft's payload is refused by Redis; the key stays.
        run_command(kr, "SET", "k", "v")
        assert run_command(kr, "MIGRATE", HOST, str(reference.port), "k", "0", "5000") == \
            ("error", "Target instance replied with error: ERR DUMP payload version or checksum are wrong")
        assert run_command(kr, "GET", "k") == b"v"
        # BUSYKEY is checked before the payload.
        run_command(rd, "SET", "k", "there")
        assert run_command(kr, "MIGRATE", HOST, str(reference.port), "k", "0", "5000") == \
            ("error", "Target instance replied with error: BUSYKEY Target key name already exists.")
        assert run_command(kr, "MIGRATE", HOST, str(reference.port), "k", "9999", "5000") == \
            ("error", "Target instance replied with error: ERR DB index is out of range")
        # And the other way: keyraft refuses Redis's payload with Redis's text.
        run_command(rd, "SET", "r", "v")
        assert run_command(rd, "MIGRATE", HOST, str(server.port), "r", "0", "5000") == \
            ("error", "Target instance replied with error: ERR DUMP payload version or checksum are wrong")
        run_command(kr, "SET", "r", "mine")
        assert run_command(rd, "MIGRATE", HOST, str(server.port), "r", "0", "5000") == \
            ("error", "Target instance replied with error: BUSYKEY Target key name already exists.")
        assert run_command(rd, "MIGRATE", HOST, str(server.port), "r", "77", "5000") == \
            ("error", "Target instance replied with error: ERR DB index is out of range")
        assert run_command(rd, "GET", "r") == b"v"
    finally:
        kr.disconnect()
        rd.disconnect()


# ---- Fake targets ----


class FakeTarget:
    """A listening socket whose connections are handled by 'behaviour'
    (called with the accepted socket on its own thread)."""

    def __init__(self, behaviour):
        self.sock = socket.socket()
        self.sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
        self.sock.bind((HOST, 0))
        self.sock.listen(16)
        self.port = self.sock.getsockname()[1]
        self.behaviour = behaviour
        self.received = []
        self.conns = []
        self.stopped = threading.Event()
        self.thread = threading.Thread(target=self.accept_loop, daemon=True)
        self.thread.start()

    def accept_loop(self):
        self.sock.settimeout(0.2)
        while not self.stopped.is_set():
            try:
                conn, _ = self.sock.accept()
            except (socket.timeout, OSError):
                continue
            self.conns.append(conn)
            threading.Thread(target=self.serve, args=(conn,), daemon=True).start()

    def serve(self, conn):
        try:
            self.behaviour(self, conn)
        except OSError:
            pass

    def read_some(self, conn, at_least=1, timeout=10):
        conn.settimeout(timeout)
        data = b""
        while len(data) < at_least:
            chunk = conn.recv(65536)
            if not chunk:
                break
            data += chunk
        self.received.append(data)
        return data

    def close(self):
        self.stopped.set()
        self.sock.close()
        for c in self.conns:
            try:
                c.close()
            except OSError:
                pass
        self.thread.join(5)


def silent(fake, conn):
    fake.read_some(conn)
    fake.stopped.wait(30)


def garbage(fake, conn):
    fake.read_some(conn)
    conn.sendall(b"hello there\r\n" * 3)
    fake.stopped.wait(30)


def close_early(fake, conn):
    fake.read_some(conn)
    conn.close()


def partial_line(fake, conn):
    fake.read_some(conn)
    conn.sendall(b"+O")
    conn.close()


def endless_line(fake, conn):
    fake.read_some(conn)
    try:
        conn.sendall(b"-" + b"x" * 200000)
    except OSError:
        pass
    fake.stopped.wait(30)


def binary_junk(fake, conn):
    fake.read_some(conn)
    conn.sendall(bytes(range(256)) * 10 + b"\r\n")
    fake.stopped.wait(30)


@pytest.fixture
def fake():
    made = []

    def make(behaviour):
        f = FakeTarget(behaviour)
        made.append(f)
        return f

    yield make
    for f in made:
        f.close()


def test_timeout_is_bounded_and_others_are_served(server, reference, fake):
    """A target that never answers: MIGRATE times out with Redis's text after
    about its timeout; meanwhile keyraft keeps serving other clients."""
    target = fake(silent)
    r = server.client()
    r.set("k", "v")
    waiter = server.client()
    start = time.monotonic()
    t, result = blocked_call(waiter, "MIGRATE", HOST, target.port, "k", 0, 1500)
    wait_until(lambda: r.info("clients")["blocked_clients"] == 1, timeout=5, what="MIGRATE waiting")
    flags = [ln for ln in r.client_list() if ln["cmd"] == "migrate"]
    assert len(flags) == 1 and "b" in flags[0]["flags"]
    for i in range(50):
        assert r.ping()
        assert r.incr("counter") == i + 1
    assert time.monotonic() - start < 1.4  # served while MIGRATE still waits
    t.join(10)
    elapsed = time.monotonic() - start
    assert isinstance(result.get("error"), redis.ResponseError), result
    assert str(result["error"]) == "IOERR error or timeout reading to target instance"
    assert 1.4 < elapsed < 5
    assert r.get("k") == b"v"
    # Redis says the same (it blocks its whole server meanwhile).
    rd = connection(reference.port)
    run_command(rd, "SET", "k", "v")
    assert run_command(rd, "MIGRATE", HOST, str(target.port), "k", "0", "300") == \
        ("error", "IOERR error or timeout reading to target instance")
    rd.disconnect()
    waiter.close()
    r.close()


def test_target_that_never_reads(server, fake):
    """A big value to a target that accepts but never reads: the writes
    stall and MIGRATE gives up after its timeout (per 64 KB written)."""
    target = fake(lambda fake, conn: fake.stopped.wait(30))
    r = server.client()
    r.set("big", os.urandom(30 * 1024 * 1024))
    start = time.monotonic()
    with pytest.raises(redis.ResponseError) as e:
        r.execute_command("MIGRATE", HOST, target.port, "big", 0, 500)
    assert str(e.value) == "IOERR error or timeout writing to target instance"
    assert time.monotonic() - start < 5
    assert r.strlen("big") == 30 * 1024 * 1024
    r.close()


@pytest.mark.parametrize("behaviour", [garbage, close_early, partial_line, endless_line, binary_junk])
def test_malformed_target_replies(server, fake, behaviour):
    """Replies that are not RESP status/error lines, or a connection closed
    early, give an error and delete nothing; the server stays up."""
    target = fake(behaviour)
    r = server.client()
    r.mset({"a": "1", "b": "2"})
    with pytest.raises(redis.ResponseError) as e:
        r.execute_command("MIGRATE", HOST, target.port, "", 0, 3000, "KEYS", "a", "b")
    assert str(e.value) == "IOERR error or timeout reading to target instance"
    assert r.mget("a", "b") == [b"1", b"2"]
    assert r.ping()
    r.close()


def test_random_target_behaviour(server, fake):
    """Seeded random replies (junk, valid lines, short, long, closed at any
    point, while the request is still being written): every MIGRATE gets a
    reply, a key is deleted only after an +OK for it, and the server stays up."""
    import random
    rng = random.Random(7)
    plans = []

    def chaos(fake, conn):
        # (a retry takes the next plan; the last ones just close)
        plan = plans.pop(0) if plans else {"read": 1, "reply": b"", "close": True}
        conn.settimeout(5)
        got = 0
        while got < plan["read"]:
            chunk = conn.recv(65536)
            if not chunk:
                break
            got += len(chunk)
        try:
            conn.sendall(plan["reply"])
        except OSError:
            return
        if plan["close"]:
            conn.close()
        else:
            fake.stopped.wait(30)

    target = fake(chaos)
    r = server.client()
    pieces = [b"+OK\r\n", b"-ERR no\r\n", b"+", b"\r\n", b"-", b":1\r\n", b"$3\r\nabc\r\n",
              b"\n", b"\x00\xff", b"+OK", b"x" * 3000]
    for i in range(40):
        r.set("k", "v" * rng.choice([1, 100, 200000]))
        reply = b"+OK\r\n" * rng.randint(0, 2) + b"".join(rng.choice(pieces) for _ in range(rng.randint(0, 3)))
        plans.append({"read": rng.choice([1, 10, 100, 10 ** 9]), "reply": reply,
                      "close": rng.random() < 0.5})
        copy = i % 3 == 0
        try:
            out = r.execute_command("MIGRATE", HOST, target.port, "k", 0, 200, "COPY" if copy else "REPLACE")
            assert out == b"OK"
            assert r.exists("k") == int(copy)
        except redis.ResponseError as e:
            assert str(e).startswith(("IOERR error or timeout", "Target instance replied with error:")), e
            assert r.exists("k") == 1
        assert r.ping()
    r.close()


def test_what_the_target_receives(server, fake):
    """RESTORE (not -ASKING) outside a cluster, AUTH2 then SELECT first,
    the remaining TTL, REPLACE last; one pipelined write."""
    replies = []

    def answer(fake, conn):
        data = b""
        conn.settimeout(10)
        while data.count(b"RESTORE") < 2 or not data.endswith(b"REPLACE\r\n"):
            chunk = conn.recv(65536)
            if not chunk:
                return
            data += chunk
        replies.append(data)
        conn.sendall(b"+OK\r\n+OK\r\n+OK\r\n+OK\r\n")
        fake.stopped.wait(30)

    target = fake(answer)
    r = server.client()
    r.set("a", "1", px=50000)
    r.set("b", "2")
    assert r.execute_command("MIGRATE", HOST, target.port, "", 7, 5000, "REPLACE",
                             "AUTH2", "u", "p", "KEYS", "a", "b") == b"OK"
    data = replies[0]
    assert data.startswith(b"*3\r\n$4\r\nAUTH\r\n$1\r\nu\r\n$1\r\np\r\n*2\r\n$6\r\nSELECT\r\n$1\r\n7\r\n"
                           b"*5\r\n$7\r\nRESTORE\r\n$1\r\na\r\n$5\r\n")
    ttl = int(data.split(b"$1\r\na\r\n$5\r\n")[1][:5])
    assert 45000 < ttl <= 50000
    assert b"*5\r\n$7\r\nRESTORE\r\n$1\r\nb\r\n$1\r\n0\r\n" in data
    assert r.exists("a", "b") == 0
    r.close()


def resp_commands(data):
    """Splits complete RESP commands off 'data': (list of argv, rest)."""
    out = []
    while data.startswith(b"*"):
        try:
            head, rest = data.split(b"\r\n", 1)
            argv = []
            for _ in range(int(head[1:])):
                lenline, rest = rest.split(b"\r\n", 1)
                n = int(lenline[1:])
                if len(rest) < n + 2:
                    raise ValueError
                argv.append(rest[:n])
                rest = rest[n + 2:]
        except ValueError:
            break
        out.append(argv)
        data = rest
    return out, data


def test_concurrent_write_is_not_lost(server, fake):
    """A key changed while the target had not answered yet is sent again
    (with REPLACE) and then deleted; an unchanged one is sent once. Redis
    stops the world while it migrates; keyraft checks instead."""
    go = threading.Event()
    batches = []

    def gated_ok(fake, conn):
        data = b""
        conn.settimeout(10)
        while True:
            chunk = conn.recv(65536)
            if not chunk:
                return
            cmds, data = resp_commands(data + chunk)
            if not cmds:
                continue
            batches.append(cmds)
            if len(batches) == 1:
                go.wait(10)
            conn.sendall(b"+OK\r\n" * len(cmds))

    target = fake(gated_ok)
    r = server.client()
    r.mset({"same": "1", "changed": "1"})
    r.hset("h", mapping={"f": "1"})
    waiter = server.client()
    t, result = blocked_call(waiter, "MIGRATE", HOST, target.port, "", 0, 5000,
                             "KEYS", "same", "changed", "h")
    wait_until(lambda: len(batches) == 1, timeout=5, what="first batch at the target")
    r.set("changed", "2")
    go.set()
    t.join(10)
    assert result.get("reply") == b"OK", result
    assert [c[0] for c in batches[0]] == [b"SELECT", b"RESTORE", b"RESTORE", b"RESTORE"]
    assert len(batches) == 2
    again = batches[1]
    assert len(again) == 1 and again[0][0] == b"RESTORE" and again[0][1] == b"changed"
    assert again[0][-1] == b"REPLACE"
    assert r.exists("same", "changed", "h") == 0
    waiter.close()
    r.close()


def test_cache_keeps_64_connections(server, fake):
    """At most 64 cached connections (Redis's MIGRATE_SOCKET_CACHE_ITEMS):
    the 65th target makes the least recently used one close."""
    closed = []

    def ok_until_closed(fake, conn):
        data = b""
        conn.settimeout(30)
        while True:
            chunk = conn.recv(65536)
            if not chunk:
                closed.append(fake.port)
                return
            cmds, data = resp_commands(data + chunk)
            conn.sendall(b"+OK\r\n" * len(cmds))

    targets = [fake(ok_until_closed) for _ in range(65)]
    r = server.client()
    r.set("k", "v")
    for t in targets[:64]:
        assert r.execute_command("MIGRATE", HOST, t.port, "k", 0, 5000, "COPY") == b"OK"
    # Using the first again makes the second the least recently used.
    assert r.execute_command("MIGRATE", HOST, targets[0].port, "k", 0, 5000, "COPY") == b"OK"
    assert closed == []
    assert r.execute_command("MIGRATE", HOST, targets[64].port, "k", 0, 5000, "COPY") == b"OK"
    wait_until(lambda: closed == [targets[1].port], timeout=5, what="LRU connection closed")
    r.close()


def crc64(data):
    """CRC-64/Jones as Redis computes it (reflected, init 0)."""
    crc = 0
    for b in data:
        crc ^= b
        for _ in range(8):
            crc = (crc >> 1) ^ (0x95AC9329AC4BC9B5 if crc & 1 else 0)
    return crc


def string_fingerprint(value):
    return "s" + format(len(value), "023x") + format(crc64(value), "016x")


def test_deletion_checks_what_it_deletes():
    """KEYRAFT MIGRATED (the write MIGRATE proposes) deletes a key only if
    its fingerprint and expiry are still those sent: for a string its length
    and CRC-64, for other types their digest (DEBUG DIGEST-VALUE)."""
    s = Server(KEYRAFT, args=["--enable-debug-command", "yes"]).start()
    try:
        r = s.client()
        with pytest.raises(redis.ResponseError, match="syntax error"):
            r.execute_command("KEYRAFT", "MIGRATED", "", "k")
        with pytest.raises(redis.ResponseError, match="syntax error"):
            r.execute_command("KEYRAFT", "MIGRATED", "", "k", "x", "0" * 40)
        r.set("k", "v")
        r.set("t", "v", pxat=4102444800000)
        r.sadd("s", "a", "b")
        digest = {"k": string_fingerprint(b"v"), "t": string_fingerprint(b"v"),
                  "s": r.execute_command("DEBUG", "DIGEST-VALUE", "s")[0].decode()}
        r.set("n", 12345)  # an integer-encoded string: the same bytes count
        assert r.execute_command("KEYRAFT", "MIGRATED", "", "n", "-1", string_fingerprint(b"12345")) == b"OK"
        assert r.exists("n") == 0
        assert r.execute_command("KEYRAFT", "MIGRATED", "", "k", "-1", "0" * 40) == b"OK"
        assert r.execute_command("KEYRAFT", "MIGRATED", "", "t", "-1", digest["t"]) == b"OK"
        assert r.exists("k", "t") == 2
        assert r.execute_command("KEYRAFT", "MIGRATED", "", "k", "-1", digest["k"],
                                 "t", "4102444800000", digest["t"], "s", "-1", digest["s"]) == b"OK"
        assert r.exists("k", "t", "s") == 0
        with pytest.raises(redis.ResponseError, match="^custom$"):
            r.execute_command("KEYRAFT", "MIGRATED", "ERR custom")
        r.close()
    finally:
        s.cleanup()


def test_client_gone_while_waiting(server, fake):
    """The waiting client disconnects: the MIGRATE still completes (the
    target has the key, the source deletes it)."""
    go = threading.Event()

    def slow_ok(fake, conn):
        data = b""
        conn.settimeout(10)
        while b"RESTORE" not in data:
            data += conn.recv(65536)
        go.wait(10)
        conn.sendall(b"+OK\r\n+OK\r\n")
        fake.stopped.wait(30)

    target = fake(slow_ok)
    r = server.client()
    r.set("k", "v")
    raw = server.raw()
    raw.send(b"*6\r\n$7\r\nMIGRATE\r\n$9\r\n127.0.0.1\r\n$%d\r\n%d\r\n$1\r\nk\r\n$1\r\n0\r\n$4\r\n5000\r\n"
             % (len(str(target.port)), target.port))
    wait_until(lambda: r.info("clients")["blocked_clients"] == 1, timeout=5, what="MIGRATE waiting")
    raw.close()
    wait_until(lambda: r.info("clients")["connected_clients"] == 1, timeout=5, what="client gone")
    go.set()
    wait_until(lambda: r.exists("k") == 0, timeout=5, what="k deleted")
    assert r.ping()
    r.close()


def test_idle_connection_closed(kr_pair):
    """The cached connection closes after 10 s unused (Redis's
    MIGRATE_SOCKET_CACHE_TTL)."""
    src, dst = kr_pair
    r, d = src.client(), dst.client()
    r.set("k", "v")
    assert r.execute_command("MIGRATE", HOST, dst.port, "k", 0, 5000) == b"OK"
    assert d.info("clients")["connected_clients"] == 2
    start = time.monotonic()
    wait_until(lambda: d.info("clients")["connected_clients"] == 1, timeout=20, interval=0.2,
               what="cached connection closed")
    assert 8 < time.monotonic() - start < 13
    r.close()
    d.close()


def test_shutdown_while_migrating(fake):
    """SHUTDOWN while a MIGRATE waits: a clean exit (no leak, no hang)."""
    target = fake(silent)
    s = Server(KEYRAFT).start()
    try:
        r = s.client()
        r.set("k", "v")
        waiter = s.client()
        t, result = blocked_call(waiter, "MIGRATE", HOST, target.port, "k", 0, 30000)
        wait_until(lambda: r.info("clients")["blocked_clients"] == 1, timeout=5, what="MIGRATE waiting")
        with pytest.raises(redis.ConnectionError):
            r.execute_command("SHUTDOWN", "NOSAVE")
        assert s.proc.wait(10) == 0
        t.join(10)
        assert "error" in result
    finally:
        s.cleanup()


def test_pipelined_after_migrate(server, kr_pair):
    """Commands pipelined after a MIGRATE run after it, in order."""
    _, dst = kr_pair
    r = server.client()
    r.set("k", "v")
    p = r.pipeline(transaction=False)
    p.execute_command("MIGRATE", HOST, dst.port, "k", 0, 5000)
    p.exists("k")
    p.set("k", "again")
    p.execute_command("MIGRATE", HOST, dst.port, "k", 0, 5000, "REPLACE")
    p.get("k")
    assert p.execute() == [b"OK", 0, True, b"OK", None]
    assert dst.client().get("k") == b"again"
    r.close()


def test_large_value(kr_pair):
    src, dst = kr_pair
    r = src.client()
    big = os.urandom(10 * 1024 * 1024)
    r.set("big", big)
    r.rpush("biglist", *[os.urandom(100) for _ in range(20000)])
    start = time.monotonic()
    assert r.execute_command("MIGRATE", HOST, dst.port, "", 0, 10000, "KEYS", "big", "biglist") == b"OK"
    assert time.monotonic() - start < 20
    d = dst.client()
    assert d.get("big") == big
    assert d.llen("biglist") == 20000
    assert r.exists("big", "biglist") == 0
    r.close()
    d.close()


def test_inside_multi_is_refused(r):
    r.set("k", "v")
    p = r.pipeline(transaction=True)
    p.execute_command("MIGRATE", HOST, 1, "k", 0, 100)
    p.get("k")
    out = p.execute(raise_on_error=False)
    assert isinstance(out[0], redis.ResponseError)
    assert str(out[0]) == "MIGRATE is not supported inside MULTI/EXEC or scripts"
    assert out[1] == b"v"
    with pytest.raises(redis.ResponseError):
        r.eval("return redis.call('MIGRATE', '127.0.0.1', '1', 'k', '0', '100')", 0)
    assert r.get("k") == b"v"


def test_through_the_raft_log(kr_pair):
    """With appendonly yes the deletion is a log entry: it survives a restart."""
    _, dst = kr_pair
    src = Server(KEYRAFT, args=["--appendonly", "yes"]).start()
    try:
        r = src.client()
        wait_until(lambda: r.set("k", "v"), timeout=15, what="first write")
        r.set("stay", "1")
        assert r.execute_command("MIGRATE", HOST, dst.port, "k", 0, 5000) == b"OK"
        assert r.exists("k") == 0
        # A MIGRATE pipelined behind a write waits until that write applied.
        p = r.pipeline(transaction=False)
        p.set("k2", "v2")
        p.execute_command("MIGRATE", HOST, dst.port, "k2", 0, 5000)
        p.exists("k2")
        assert p.execute() == [True, b"OK", 0]
        r.close()
        src.stop()
        src.start()
        r = src.client()
        wait_until(lambda: r.get("stay") == b"1", timeout=15, what="log replayed")
        assert r.exists("k") == 0
        assert dst.client().mget("k", "k2") == [b"v", b"v2"]
        r.close()
    finally:
        src.cleanup()


def test_replicated_source(kr_pair):
    """With a replica, the deletion is one Raft entry that the replica
    applies too; a replica refuses MIGRATE like any write."""
    _, dst = kr_pair
    master = Server(KEYRAFT, args=["--appendonly", "yes"]).start()
    replica = Server(KEYRAFT, args=["--appendonly", "yes"]).start()
    try:
        m, rep = master.client(), replica.client()
        wait_until(lambda: m.set("warm", "1"), timeout=15, what="first write")
        join_group(replica, master)
        m.mset({"a": "1", "b": "2", "c": "3"})
        wait_until(lambda: rep.mget("a", "b", "c") == [b"1", b"2", b"3"], timeout=10, what="replicated")
        with pytest.raises(redis.ResponseError, match="^You can't write against a read only replica.$"):
            rep.execute_command("MIGRATE", HOST, dst.port, "a", 0, 5000)
        assert m.execute_command("MIGRATE", HOST, dst.port, "", 0, 5000, "KEYS", "a", "b") == b"OK"
        assert m.exists("a", "b") == 0
        wait_until(lambda: rep.exists("a", "b") == 0, timeout=10, what="deletion applied on the replica")
        assert rep.get("c") == b"3"
        assert dst.client().mget("a", "b") == [b"1", b"2"]
        m.close()
        rep.close()
    finally:
        replica.cleanup()
        master.cleanup()


# ---- Cluster: redis-cli's reshard sequence by hand ----

CLUSTER_ARGS = ["--cluster-enabled", "yes", "--cluster-node-timeout", "5000"]
A_ID, B_ID = "a" * 40, "b" * 40


def info_fields(text):
    if isinstance(text, bytes):
        text = text.decode()
    return dict(line.split(":", 1) for line in text.splitlines() if ":" in line)


@pytest.fixture
def cluster2():
    """Node A owns slots 0-8191, node B 8192-16383; both know both."""
    a = Server(KEYRAFT, args=CLUSTER_ARGS)
    b = Server(KEYRAFT, args=CLUSTER_ARGS)
    for me in (a, b):
        lines = []
        for node, nid, slots, epoch in ((a, A_ID, "0-8191", 1), (b, B_ID, "8192-16383", 2)):
            flags = "myself,master" if node is me else "master"
            lines.append(f"{nid} 127.0.0.1:{node.port}@{node.port + 10000} {flags} - 0 0 {epoch} connected {slots}\n")
        with open(os.path.join(me.dir, "nodes.conf"), "w") as f:
            f.write("".join(lines) + "vars currentEpoch 2 lastVoteEpoch 0\n")
    a.start()
    b.start()
    for s in (a, b):
        wait_until(lambda s=s: info_fields(s.client().execute_command("CLUSTER", "INFO"))["cluster_state"] == "ok",
                   timeout=15, what="cluster_state:ok")
    yield a, b
    a.cleanup()
    b.cleanup()


def test_reshard_one_slot(cluster2):
    a, b = cluster2
    ca, cb = connection(a.port), connection(b.port)
    slot = run_command(ca, "CLUSTER", "KEYSLOT", "{s}")
    assert slot < 8192
    keys = [f"{{s}}{i}" for i in range(25)]
    for k in keys:
        assert run_command(ca, "SET", k, k) == b"OK"
    run_command(ca, "PEXPIRE", keys[0], "100000")
    # 1-2: open the slot on both sides.
    assert run_command(cb, "CLUSTER", "SETSLOT", str(slot), "IMPORTING", A_ID) == b"OK"
    assert run_command(ca, "CLUSTER", "SETSLOT", str(slot), "MIGRATING", B_ID) == b"OK"
    # The target without ASKING redirects, also for RESTORE-ASKING's sibling RESTORE.
    assert run_command(cb, "GET", keys[0]) == ("error", f"MOVED {slot} 127.0.0.1:{a.port}")
    assert run_command(cb, "RESTORE", keys[0], "0", "x") == ("error", f"MOVED {slot} 127.0.0.1:{a.port}")
    # RESTORE-ASKING carries the asking flag: served on the importing node
    # without ASKING; elsewhere it is redirected like RESTORE.
    payload = run_command(ca, "DUMP", keys[1])
    assert run_command(cb, "RESTORE-ASKING", "{s}new", "0", "x") == \
        ("error", "DUMP payload version or checksum are wrong")
    assert run_command(cb, "RESTORE-ASKING", "{s}new", "0", payload) == b"OK"
    assert run_command(cb, "RESTORE-ASKING", "{s}new", "0", payload) == \
        ("error", "BUSYKEY Target key name already exists.")
    assert run_command(cb, "RESTORE-ASKING", "bar", "0", payload) == \
        ("error", f"MOVED 5061 127.0.0.1:{a.port}")
    assert run_command(cb, "ASKING") == b"OK"
    assert run_command(cb, "GET", "{s}new") == keys[1].encode()
    assert run_command(cb, "ASKING") == b"OK"
    assert run_command(cb, "DEL", "{s}new") == 1
    # 3: move the keys in batches, as redis-cli does (pipeline 10).
    moved = 0
    while True:
        batch = run_command(ca, "CLUSTER", "GETKEYSINSLOT", str(slot), "10")
        if not batch:
            break
        if moved == 0:
            # While open: present keys are served here, missing ones ASK,
            # a multi-key request with some missing TRYAGAIN.
            assert run_command(ca, "GET", batch[0]) == batch[0]
            assert run_command(ca, "GET", "{s}missing") == ("error", f"ASK {slot} 127.0.0.1:{b.port}")
            assert run_command(ca, "MGET", batch[0], "{s}missing") == \
                ("error", "TRYAGAIN Multiple keys request during rehashing of slot")
        reply = run_command(ca, "MIGRATE", "127.0.0.1", str(b.port), "", "0", "60000", "KEYS", *batch)
        assert reply == b"OK"
        moved += len(batch)
        # Moved keys: ASK from the source, served on the target after ASKING.
        assert run_command(ca, "GET", batch[0]) == ("error", f"ASK {slot} 127.0.0.1:{b.port}")
        assert run_command(cb, "ASKING") == b"OK"
        assert run_command(cb, "GET", batch[0]) == batch[0]
        assert run_command(cb, "ASKING") == b"OK"
        assert run_command(cb, "MGET", batch[0], "{s}missing") == \
            ("error", "TRYAGAIN Multiple keys request during rehashing of slot")
    assert moved == len(keys)
    # 4-5: the slot changes hands, target first.
    assert run_command(cb, "CLUSTER", "SETSLOT", str(slot), "NODE", B_ID) == b"OK"
    assert run_command(ca, "CLUSTER", "SETSLOT", str(slot), "NODE", B_ID) == b"OK"
    for k in keys:
        assert run_command(cb, "GET", k) == k.encode()
        assert run_command(ca, "GET", k) == ("error", f"MOVED {slot} 127.0.0.1:{b.port}")
    assert run_command(ca, "CLUSTER", "COUNTKEYSINSLOT", str(slot)) == 0
    assert run_command(cb, "CLUSTER", "COUNTKEYSINSLOT", str(slot)) == len(keys)
    assert 90000 < run_command(cb, "PTTL", keys[0]) <= 100000
    assert run_command(ca, "DBSIZE") == 0
    ca.disconnect()
    cb.disconnect()


def test_migrate_in_cluster_sends_restore_asking(cluster2, fake):
    """In cluster mode the wire command is RESTORE-ASKING (Redis 7.0)."""
    a, _ = cluster2
    seen = []

    def answer(fake, conn):
        data = fake.read_some(conn, at_least=20)
        seen.append(data)
        conn.sendall(b"+OK\r\n+OK\r\n")
        fake.stopped.wait(30)

    target = fake(answer)
    ca = connection(a.port)
    assert run_command(ca, "SET", "{s}1", "v") == b"OK"
    assert run_command(ca, "MIGRATE", HOST, str(target.port), "{s}1", "0", "5000", "COPY") == b"OK"
    assert b"$14\r\nRESTORE-ASKING\r\n" in seen[0]
    # A key of a slot this node does not own is redirected, MIGRATE or not.
    assert run_command(ca, "MIGRATE", HOST, str(target.port), "a", "0", "5000") == \
        ("error", f"MOVED 15495 127.0.0.1:{cluster2[1].port}")
    # The KEYS form routes by the keys after KEYS (not by the empty key).
    assert run_command(ca, "MIGRATE", HOST, str(target.port), "", "0", "5000", "KEYS", "a") == \
        ("error", f"MOVED 15495 127.0.0.1:{cluster2[1].port}")
    ca.disconnect()


def test_redis_cli_reshard(cluster2):
    """redis-cli --cluster reshard itself moves 100 slots with their keys."""
    a, b = cluster2
    ca = a.client()
    keys = {}
    for i in range(400):
        k = f"key{i}"
        node = a if ca.execute_command("CLUSTER", "KEYSLOT", k) < 8192 else b
        node.client().set(k, str(i))
        keys[k] = node
    moving = [k for k, node in keys.items() if node is a and ca.execute_command("CLUSTER", "KEYSLOT", k) < 100]
    assert moving
    out = subprocess.run(["redis-cli", "--cluster", "reshard", f"127.0.0.1:{a.port}", "--cluster-from", A_ID,
                          "--cluster-to", B_ID, "--cluster-slots", "100", "--cluster-yes"],
                         capture_output=True, timeout=120, text=True)
    assert out.returncode == 0, out.stdout + out.stderr
    # (each slot is printed twice: in the plan and when it moves)
    assert len({ln for ln in out.stdout.splitlines() if ln.startswith("Moving slot")}) == 100
    cb = b.client()
    for k in moving:
        assert cb.get(k) == str(int(k[3:])).encode()
    assert all(ca.execute_command("CLUSTER", "COUNTKEYSINSLOT", s) == 0 for s in range(100))
    assert ca.dbsize() + cb.dbsize() == 400
    check = subprocess.run(["redis-cli", "--cluster", "check", f"127.0.0.1:{a.port}"],
                           capture_output=True, timeout=60, text=True)
    assert "[OK] All 16384 slots covered." in check.stdout, check.stdout
    assert "[WARNING]" not in check.stdout and "[ERR]" not in check.stdout, check.stdout
    ca.close()
    cb.close()
