"""Protocol abuse cases: half commands, bad and huge lengths, garbage, long
inline lines, big pipelines and values, and the per-connection limits
(proto-max-bulk-len, client-query-buffer-limit, maxclients, unauthenticated
limits). Most cases run against keyraft AND redis-server 7.0 (the `target`
parameter) and assert the exact bytes Redis 7.0 sends, so a case that passes
on Redis but fails on keyraft is a keyraft bug."""
import random
import socket
import threading
import time

import pytest

from harness import KEYRAFT, REDIS, Server, wait_until

TARGETS = {"keyraft": KEYRAFT, "redis": REDIS}


def _is_sanitized(binary):
    """AddressSanitizer keeps freed memory in quarantine and maps shadow
    memory, so RSS bounds are meaningless for such a build."""
    with open(binary, "rb") as f:
        return b"__asan_init" in f.read()


CHECK_RSS = not _is_sanitized(KEYRAFT)


@pytest.fixture
def spawn():
    """spawn(kind, *args): a fresh server of 'kind' ("keyraft" or "redis")
    with extra command-line args; killed at teardown."""
    started = []

    def start(kind, *args):
        s = Server(TARGETS[kind], args=list(args)).start()
        started.append(s)
        return s

    yield start
    errors = []
    for s in started:
        try:
            s.cleanup()
        except AssertionError as e:
            errors.append(str(e))
    assert not errors, "\n".join(errors)


@pytest.fixture(params=["keyraft", "redis"])
def target(request, spawn):
    """A fresh default server of each kind; the test runs once per kind."""
    return spawn(request.param)


def connect(server, timeout=5):
    return socket.create_connection(("127.0.0.1", server.port), timeout=timeout)


def read_exactly(sock, n, timeout=10):
    sock.settimeout(timeout)
    out = bytearray()
    while len(out) < n:
        chunk = sock.recv(min(1 << 20, n - len(out)))
        if not chunk:
            break
        out += chunk
    return bytes(out)


def read_until_closed(sock, timeout=5):
    """Everything the server sends before closing; fails if it never closes."""
    sock.settimeout(timeout)
    out = bytearray()
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        try:
            chunk = sock.recv(65536)
        except socket.timeout:
            break
        except ConnectionResetError:
            return bytes(out)
        if not chunk:
            return bytes(out)
        out += chunk
    raise AssertionError(f"connection not closed; got {bytes(out)[:200]!r}")


def command(*args):
    parts = [b"*%d\r\n" % len(args)]
    for a in args:
        a = a if isinstance(a, bytes) else str(a).encode()
        parts.append(b"$%d\r\n%s\r\n" % (len(a), a))
    return b"".join(parts)


def ping_ok(server, timeout=5):
    with connect(server, timeout) as s:
        s.sendall(b"PING\r\n")
        return read_exactly(s, 7, timeout) == b"+PONG\r\n"


def rss_kb(server):
    with open(f"/proc/{server.proc.pid}/status") as f:
        for line in f:
            if line.startswith("VmRSS:"):
                return int(line.split()[1])
    raise AssertionError("no VmRSS")


def send_expect_close(server, data, timeout=5):
    """Sends 'data' on a new connection; returns all bytes until the server closes."""
    with connect(server, timeout) as s:
        s.sendall(data)
        return read_until_closed(s, timeout)


# ---- Partial commands ----


def test_half_commands_then_close(target):
    halves = [b"*3\r\n$3\r\nSET\r\n$1\r\nk", b"*2\r\n$3", b"*", b"SET k", b"*3\r\n$3\r\nSET\r\n$1\r\nk\r\n$100\r\nab"]
    for _ in range(20):
        for h in halves:
            with connect(target) as s:
                s.sendall(h)
    assert ping_ok(target)
    with connect(target) as s:
        s.sendall(command("GET", "k"))
        assert read_exactly(s, 5) == b"$-1\r\n"


@pytest.mark.parametrize("split", [1, 5, 17, 30])
def test_half_command_completed_later(target, split):
    req = command("SET", "key", "value") + command("GET", "key")
    with connect(target) as s:
        s.sendall(req[:split])
        time.sleep(0.05)
        s.sendall(req[split:-3])
        time.sleep(0.05)
        s.sendall(req[-3:])
        assert read_exactly(s, 16) == b"+OK\r\n$5\r\nvalue\r\n"


def test_byte_by_byte(target):
    req = command("SET", "a", "b" * 40) + b"GET a\r\n"
    with connect(target) as s:
        for i in range(len(req)):
            s.send(req[i:i + 1])
        assert read_exactly(s, 52) == b"+OK\r\n$40\r\n" + b"b" * 40 + b"\r\n"


# ---- Bad lengths ----


@pytest.mark.parametrize("data,reply", [
    (b"*3000000000\r\n", b"-ERR Protocol error: invalid multibulk length\r\n"),
    (b"*99999999999999999999999\r\n", b"-ERR Protocol error: invalid multibulk length\r\n"),
    (b"*1x\r\n", b"-ERR Protocol error: invalid multibulk length\r\n"),
    (b"*+1\r\n", b"-ERR Protocol error: invalid multibulk length\r\n"),
    (b"*01\r\n", b"-ERR Protocol error: invalid multibulk length\r\n"),
    (b"*1\r\n$-1\r\n", b"-ERR Protocol error: invalid bulk length\r\n"),
    (b"*1\r\n$-100\r\n", b"-ERR Protocol error: invalid bulk length\r\n"),
    (b"*1\r\n$536870913\r\n", b"-ERR Protocol error: invalid bulk length\r\n"),
    (b"*1\r\n$99999999999999999999\r\n", b"-ERR Protocol error: invalid bulk length\r\n"),
    (b"*1\r\n$ 1\r\n", b"-ERR Protocol error: invalid bulk length\r\n"),
    (b"*1\r\n$\r\n", b"-ERR Protocol error: invalid bulk length\r\n"),
    (b"*2\r\n$4\r\nPING\r\nx\r\n", b"-ERR Protocol error: expected '$', got 'x'\r\n"),
    (b"*1\r\n:1\r\n", b"-ERR Protocol error: expected '$', got ':'\r\n"),
])
def test_bad_lengths_close(target, data, reply):
    assert send_expect_close(target, data) == reply
    assert ping_ok(target)


def test_commands_before_protocol_error_run(target):
    data = command("SET", "x", "1") + b"PING\r\n" + b"*1\r\n$-5\r\n" + b"PING\r\n"
    assert send_expect_close(target, data) == (
        b"+OK\r\n+PONG\r\n-ERR Protocol error: invalid bulk length\r\n")


@pytest.mark.parametrize("data", [b"*0\r\n", b"*-1\r\n", b"*-100\r\n", b"\r\n", b"\n", b"   \r\n"])
def test_empty_requests_are_ignored(target, data):
    with connect(target) as s:
        s.sendall(data + b"PING\r\n")
        assert read_exactly(s, 7) == b"+PONG\r\n"


def test_2gb_bulk_announced(target):
    before = rss_kb(target)
    other = connect(target)
    other.sendall(b"PING\r\n")
    assert read_exactly(other, 7) == b"+PONG\r\n"
    data = b"*3\r\n$3\r\nSET\r\n$1\r\nk\r\n$2147483648\r\n" + b"x" * 65536
    assert send_expect_close(target, data) == b"-ERR Protocol error: invalid bulk length\r\n"
    other.sendall(b"PING\r\n")
    assert read_exactly(other, 7) == b"+PONG\r\n"
    other.close()
    if CHECK_RSS:
        assert rss_kb(target) - before < 20 * 1024


def test_big_bulk_announced_then_stalled(target):
    """A 400 MB bulk is announced but only 1 MB arrives: the server keeps
    serving others and holds only what it received."""
    stuck = connect(target)
    stuck.sendall(b"*3\r\n$3\r\nSET\r\n$1\r\nk\r\n$400000000\r\n" + b"x" * (1 << 20))
    for _ in range(20):
        start = time.monotonic()
        assert ping_ok(target)
        assert time.monotonic() - start < 1.0
    if target.binary == KEYRAFT and CHECK_RSS:
        # Redis preallocates the announced size (untouched, so RSS stays
        # small there too); keyraft grows its buffer only as bytes arrive.
        assert rss_kb(target) < 64 * 1024
    stuck.close()
    assert ping_ok(target)


# ---- Garbage ----


def exchange(server, data, quiet=0.5):
    """Sends 'data' on a new connection; returns (bytes received, whether the
    server closed) once the server closes or stays quiet for 'quiet' s."""
    with connect(server) as s:
        s.sendall(data)
        s.settimeout(quiet)
        out = bytearray()
        while True:
            try:
                chunk = s.recv(65536)
            except socket.timeout:
                return bytes(out), False
            except ConnectionResetError:
                return bytes(out), True
            if not chunk:
                return bytes(out), True
            out += chunk


GARBAGE = [
    b"\x00\x01\x02\xff\r\n",
    b"\x01\x02\xff\r\n",
    b"$5\r\nworld\r\n",
    b"+PING\r\n",
    b"\x1b[A\x1b[B\r\nPING\r\n",
    b"GET \x00k\x00\r\n",
    b"GET \x01k\x02\r\n",
    b"'a'b'\r\n",
    b"PING\r\x00\nPING\r\n",
    b"ECHO \"a\x00\"\r\n",
    b"*1\x00\r\n$4\r\nPING\r\n",
    b"*1\r\n$4\x00\r\nPING\r\n",
    b"*1\r\n$4\r\nPI\x00G\r\n",
]


@pytest.mark.parametrize("data", GARBAGE)
def test_garbage_matches_redis(server, reference, data):
    """Short garbage gets byte-identical replies from keyraft and Redis,
    including Redis's quirk that a NUL byte hides the end of a line."""
    data += b"QUIT\r\n"
    assert exchange(server, data) == exchange(reference, data)


@pytest.mark.parametrize("data", GARBAGE)
def test_nul_hidden_line_hits_the_limit(server, reference, data):
    """Whatever is stuck on a hidden line end ends as Redis ends it once 64 KB
    more arrive."""
    data += b"x" * (65 * 1024)
    assert exchange(server, data) == exchange(reference, data)


@pytest.mark.parametrize("seed", range(8))
def test_random_garbage_matches_redis(server, reference, seed):
    rnd = random.Random(seed)
    alphabet = b"*$\r\n:+-0123456789 \"'\\xabcSETGET" + bytes(range(256))
    data = bytes(rnd.choice(alphabet) for _ in range(2000)) + b"\r\nQUIT\r\n"
    assert exchange(server, data) == exchange(reference, data)
    assert ping_ok(server)


@pytest.mark.parametrize("line", [b'SET "a b\r\n', b"SET 'a\r\n", b'SET "a"b c\r\n',
                                  b"ECHO 'x'y\r\n", b'ECHO "\\x4\r\n'])
def test_unbalanced_quotes(target, line):
    assert send_expect_close(target, line) == (
        b"-ERR Protocol error: unbalanced quotes in request\r\n")


def test_inline_quoting(target):
    with connect(target) as s:
        s.sendall(b'ECHO "a\\x41\\n\\"b" \r\nECHO \'it\\\'s\'\r\n')
        assert read_exactly(s, 21) == b'$5\r\naA\n"b\r\n$4\r\nit\'s\r\n'


def test_inline_too_big(target):
    assert send_expect_close(target, b"SET k " + b"a" * (65 * 1024)) == (
        b"-ERR Protocol error: too big inline request\r\n")
    assert ping_ok(target)


def test_mbulk_count_line_too_big(target):
    assert send_expect_close(target, b"*" + b"1" * (65 * 1024)) == (
        b"-ERR Protocol error: too big mbulk count string\r\n")
    assert send_expect_close(target, b"*1\r\n$" + b"1" * (65 * 1024)) == (
        b"-ERR Protocol error: too big bulk count string\r\n")


def test_inline_just_under_limit(target):
    value = b"v" * (60 * 1024)
    with connect(target) as s:
        s.sendall(b"ECHO " + value + b"\r\n")
        expect = b"$%d\r\n%s\r\n" % (len(value), value)
        assert read_exactly(s, len(expect)) == expect


# ---- Pipelines and big values ----


def test_pipeline_of_20000_in_one_write(target):
    n = 20000
    data = b"".join(command("SET", f"k{i}", i) for i in range(n))
    data += b"".join(command("GET", f"k{i}") for i in range(n))
    expect = b"+OK\r\n" * n + b"".join(
        b"$%d\r\n%d\r\n" % (len(str(i)), i) for i in range(n))
    with connect(target, timeout=30) as s:
        sender = threading.Thread(target=s.sendall, args=(data,))
        sender.start()
        got = read_exactly(s, len(expect), timeout=30)
        sender.join(30)
    assert got == expect


def test_mixed_pipeline_matches_redis(server, reference):
    """A pipeline that keyraft reads ahead of (node/prefetch.c): reads of
    present and absent keys, writes, a subcommand, a wrong type, a key-less
    command, an inline request in the middle, SELECT, and a last command
    that arrives in two pieces: the replies are Redis's, byte for byte."""
    data = b"".join([
        command("SET", "p:a", "1"), command("RPUSH", "p:l", "x"),
        command("GET", "p:a"), command("GET", "p:absent"), command("GET", "p:l"),
        command("STRLEN", "p:a"), command("OBJECT", "ENCODING", "p:a"), command("PING"),
        command("MGET", "p:a", "p:absent"), b"EXISTS p:a p:l\r\n", command("LLEN", "p:l"),
        command("SELECT", "1"), command("GET", "p:a"), command("SET", "p:a", "2"),
        command("GET", "p:a"), command("SELECT", "0"), command("GET", "p:a"),
        command("DEL", "p:a", "p:l"), command("GET"),
    ])
    tail = command("GET", "p:a")
    cleanup = b"".join([command("SELECT", "1"), command("DEL", "p:a"), command("SELECT", "0"),
                        command("DEL", "p:a", "p:l"), command("QUIT")])

    def replies(target):
        exchange(target, cleanup)  # the reference server lives for the session
        with connect(target) as s:
            s.sendall(data + tail[:7])
            time.sleep(0.05)
            s.sendall(tail[7:] + command("QUIT"))
            return read_until_closed(s)

    assert replies(server) == replies(reference)


def test_inline_pipeline(target):
    n = 10000
    with connect(target, timeout=30) as s:
        s.sendall(b"PING\r\n" * n)
        assert read_exactly(s, 7 * n, timeout=30) == b"+PONG\r\n" * n


def test_100mb_value(spawn):
    for kind in ("keyraft", "redis"):
        srv = spawn(kind)
        value = bytes(range(256)) * (100 * 1024 * 1024 // 256)
        with connect(srv, timeout=60) as s:
            s.sendall(command("SET", "big", value))
            assert read_exactly(s, 5, timeout=60) == b"+OK\r\n"
            s.sendall(command("GET", "big"))
            header = b"$%d\r\n" % len(value)
            got = read_exactly(s, len(header) + len(value) + 2, timeout=60)
            assert got[:len(header)] == header
            assert got[len(header):-2] == value
            s.sendall(command("DEL", "big") + b"PING\r\n")
            assert read_exactly(s, 11) == b":1\r\n+PONG\r\n"
            if kind == "keyraft" and CHECK_RSS:
                # The connection is idle now: its query and reply buffers
                # must have been given back, not kept at 100+ MB each.
                wait_until(lambda: rss_kb(srv) < 40 * 1024, timeout=5,
                           what="RSS to shrink after the 100 MB request")


@pytest.mark.parametrize("kind", ["keyraft", "redis"])
def test_proto_max_bulk_len(spawn, kind):
    srv = spawn(kind, "--proto-max-bulk-len", "1mb")
    with connect(srv) as s:
        s.sendall(command("SET", "k", b"x" * (1024 * 1024)))
        assert read_exactly(s, 5) == b"+OK\r\n"
    assert send_expect_close(srv, b"*3\r\n$3\r\nSET\r\n$1\r\nk\r\n$1048577\r\n") == (
        b"-ERR Protocol error: invalid bulk length\r\n")
    assert ping_ok(srv)


# ---- Limits ----


@pytest.mark.parametrize("kind", ["keyraft", "redis"])
def test_client_query_buffer_limit(spawn, kind):
    srv = spawn(kind, "--client-query-buffer-limit", "1mb")
    other = connect(srv)
    # A 3 MB bulk is allowed by proto-max-bulk-len but cannot fit the query
    # buffer: the client is closed without a reply once 1 MB is pending.
    with connect(srv, timeout=10) as s:
        s.sendall(b"*3\r\n$3\r\nSET\r\n$1\r\nk\r\n$3000000\r\n")
        try:
            s.sendall(b"x" * 3000000)
        except (BrokenPipeError, ConnectionResetError):
            pass
        assert read_until_closed(s, timeout=10) == b""
    other.sendall(b"PING\r\n")
    assert read_exactly(other, 7) == b"+PONG\r\n"
    other.close()
    # Many small commands are parsed as they come and never trip the limit.
    with connect(srv, timeout=30) as s:
        n = 60000
        sender = threading.Thread(target=s.sendall, args=(command("SET", "k", "v" * 20) * n,))
        sender.start()
        assert read_exactly(s, 5 * n, timeout=30) == b"+OK\r\n" * n
        sender.join(30)


@pytest.mark.parametrize("kind", ["keyraft", "redis"])
def test_query_buffer_limit_after_big_value(spawn, kind):
    """A connection that once sent a big value and then pipelines small
    commands is not mistaken for one over the limit."""
    srv = spawn(kind, "--client-query-buffer-limit", "1mb", "--proto-max-bulk-len", "1mb")
    with connect(srv, timeout=30) as s:
        s.sendall(command("SET", "big", b"x" * 1000000))
        assert read_exactly(s, 5) == b"+OK\r\n"
        n = 40000
        sender = threading.Thread(target=s.sendall, args=(b"PING\r\n" * n,))
        sender.start()
        assert read_exactly(s, 7 * n, timeout=30) == b"+PONG\r\n" * n
        sender.join(30)


@pytest.mark.parametrize("kind", ["keyraft", "redis"])
def test_maxclients(spawn, kind):
    srv = spawn(kind, "--maxclients", "2")

    def served():
        """A new connection that got a PONG (closed and None if refused)."""
        s = connect(srv)
        s.sendall(b"PING\r\n")
        if read_exactly(s, 7) == b"+PONG\r\n":
            return s
        s.close()
        return None

    held = []
    # The start-up probe's connection may not have been reaped yet: poll.
    wait_until(lambda: held.append(served()) or held[-1] is not None, timeout=5,
               what="the first slot")
    a = held[-1]
    b = served()
    assert b is not None
    with connect(srv) as c:
        assert read_until_closed(c) == b"-ERR max number of clients reached\r\n"
    a.close()
    # The freed slot is usable again once the server noticed the close.
    wait_until(lambda: held.append(served()) or held[-1] is not None, timeout=5,
               what="a slot after a client left")
    b.sendall(b"PING\r\n")
    assert read_exactly(b, 7) == b"+PONG\r\n"
    for s in held + [b]:
        if s is not None:
            s.close()


@pytest.mark.parametrize("kind", ["keyraft", "redis"])
def test_unauthenticated_limits(spawn, kind):
    srv = spawn(kind, "--requirepass", "secret")
    assert send_expect_close(srv, b"*11\r\n") == (
        b"-ERR Protocol error: unauthenticated multibulk length\r\n")
    assert send_expect_close(srv, b"*2\r\n$3\r\nGET\r\n$16385\r\n") == (
        b"-ERR Protocol error: unauthenticated bulk length\r\n")
    with connect(srv) as s:
        # At the limits exactly: parsed, then refused for lack of AUTH.
        s.sendall(command("GET", "k" * 16384) + command("DEL", *["x"] * 9))
        noauth = b"-NOAUTH Authentication required.\r\n"
        assert read_exactly(s, 2 * len(noauth)) == noauth * 2


def test_stuck_client_does_not_block_others(target):
    stuck = [connect(target) for _ in range(5)]
    stuck[0].sendall(b"*3\r\n$3\r\nSET\r\n$1\r\nk\r\n$1000000\r\n" + b"x" * 500000)
    stuck[1].sendall(b"*3\r\n$3\r\nSET")
    stuck[2].sendall(b"SET k v")
    stuck[3].sendall(b"*")
    stuck[4].sendall(b"*2\r\n$4\r\nECHO\r\n")
    with connect(target) as s:
        for _ in range(200):
            start = time.monotonic()
            s.sendall(b"PING\r\n")
            assert read_exactly(s, 7) == b"+PONG\r\n"
            assert time.monotonic() - start < 0.5
    # The first stuck client finishes its command later.
    stuck[0].sendall(b"x" * 500000 + b"\r\n")
    assert read_exactly(stuck[0], 5) == b"+OK\r\n"
    for s in stuck:
        s.close()
