"""String commands side by side with redis-server 7.0: replies, errors,
value encodings (OBJECT ENCODING) and expiry handling."""
import socket

import pytest

from conftest import SideBySide
from harness import KEYRAFT, Server, run_command, wait_until


def is_unknown(reply):
    return isinstance(reply, tuple) and "unknown command" in reply[1]


def encoding(same, key):
    """Compares OBJECT ENCODING of 'key'; skips while keyraft lacks OBJECT."""
    ours = run_command(same.conns[0], "OBJECT", "ENCODING", key)
    if is_unknown(ours):
        pytest.skip("OBJECT ENCODING not implemented yet")
    theirs = run_command(same.conns[1], "OBJECT", "ENCODING", key)
    assert ours == theirs, f"encoding of {key!r}: keyraft {ours!r} != redis {theirs!r}"
    return ours


def make_wrongtype(same, key):
    """Creates a non-string 'key' on both servers with whichever collection
    command keyraft has; skips when it has none yet."""
    for args in (("RPUSH", key, "a"), ("SADD", key, "a"), ("HSET", key, "f", "v"),
                 ("ZADD", key, "1", "a")):
        if not isinstance(run_command(same.conns[0], *args), tuple):
            run_command(same.conns[1], *args)
            return
    pytest.skip("no collection type in keyraft yet")


def ttl_ms(r, key):
    return r.execute_command("PTTL", key)


def test_set_option_parsing(same):
    same("SET", "k", "v", "EX", "10", "EX", "20")
    same("SET", "k", "v", "PX", "100000", "PX", "200000", "NX")
    same("SET", "k", "v", "NX", "NX")
    same("SET", "k", "v", "EX", "10", "PX", "10")
    same("SET", "k", "v", "EX", "10", "KEEPTTL")
    same("SET", "k", "v", "KEEPTTL", "KEEPTTL")
    same("SET", "k", "v", "PERSIST")
    same("SET", "k", "v", "EX")
    same("SET", "k", "v", "EX", "10", "PX")
    same("SET", "k", "v", "px", "10000", "keepttl")
    same("SET", "k", "v", "xx", "nx")
    same("SET", "k", "v", "GET", "NX")
    same("SET", "new", "v", "GET", "NX")
    same("SET", "k", "v", "EXAT", "0")
    same("SET", "k", "v", "PX", "9223372036854775807")
    same("SET", "k", "v", "EX", "9223372036854775")
    same("SET", "k", "v", "EX", "1.5")
    same("GET", "k")
    same("GET", "new")


def test_setnx_setex_psetex(same, r):
    same("SETNX", "k", "1")
    same("SETNX", "k", "2")
    same("GET", "k")
    encoding(same, "k")
    same("SETEX", "k", "100", "hello")
    same("GET", "k")
    assert 99000 < ttl_ms(r, "k") <= 100000
    same("SETEX", "k", "0", "v")
    same("SETEX", "k", "-1", "v")
    same("SETEX", "k", "abc", "v")
    same("SETEX", "k", "9223372036854775807", "v")
    same("PSETEX", "k", "0", "v")
    same("PSETEX", "k", "x", "v")
    same("PSETEX", "k", "9223372036854775807", "v")
    same("PSETEX", "k", "100000", "v2")
    same("GET", "k")
    same("SETEX", "k", "10")
    same("PSETEX", "short", "50", "v")
    wait_until(lambda: same.both("GET", "short") == [None, None], timeout=5, what="expiry")
    same("SETNX", "short", "again")


def test_set_removes_and_keepttl_keeps_ttl(same, r):
    same("SET", "k", "v", "EX", "100")
    same("SET", "k", "v2", "KEEPTTL")
    assert ttl_ms(r, "k") > 0
    same("SET", "k", "v3")
    assert ttl_ms(r, "k") == -1


def test_mget_mset_msetnx(same, r):
    same("MSET", "a", "1", "b", "2", "c", "xyz")
    same("MGET", "a", "b", "c", "missing")
    same("MSET", "a", "1", "b")
    same("MSET", "a")
    same("MSETNX", "a", "9", "z", "9")
    same("MSETNX", "a")
    same("MGET", "a", "z")
    same("MSETNX", "x", "1", "y", "2")
    same("MSET", "dup", "1", "dup", "2")
    same("GET", "dup")
    encoding(same, "a")
    encoding(same, "c")
    same("SET", "t", "v", "EX", "100")
    same("MSET", "t", "w")
    assert ttl_ms(r, "t") == -1
    same("PSETEX", "gone", "1", "v")
    wait_until(lambda: same.both("GET", "gone") == [None, None], timeout=5, what="expiry")
    same("MSETNX", "gone", "back")
    make_wrongtype(same, "list")
    same("MGET", "a", "list")
    same("MSETNX", "list", "v")
    same("MSET", "list", "v")
    same("GET", "list")


def test_getset_getdel(same, r):
    same("GETSET", "k", "1")
    same("GETSET", "k", "2")
    same("SET", "t", "v", "EX", "100")
    same("GETSET", "t", "w")
    assert ttl_ms(r, "t") == -1
    same("GETDEL", "t")
    same("GETDEL", "t")
    same("EXISTS", "t")
    make_wrongtype(same, "l")
    same("GETSET", "l", "v")
    same("GETDEL", "l")
    same("SET", "k", "v", "GET")
    same("SET", "l", "v", "GET")


def test_getex(same, r):
    same("SET", "k", "v")
    same("GETEX", "k")
    same("GETEX", "k", "EX", "100")
    assert 99000 < ttl_ms(r, "k") <= 100000
    same("GETEX", "k", "PX", "200000")
    assert 199000 < ttl_ms(r, "k") <= 200000
    same("GETEX", "k", "PERSIST")
    assert ttl_ms(r, "k") == -1
    same("GETEX", "k", "PERSIST", "PERSIST")
    same("GETEX", "k", "EX", "10", "EX", "20")
    same("GETEX", "k", "EX", "10", "PX")
    same("GETEX", "k", "ex", "10", "persist")
    same("GETEX", "k", "EXAT", "99999999999")
    same("GETEX", "k", "PXAT", "99999999999999")
    same("GETEX", "k", "EX", "0")
    same("GETEX", "k", "EX", "-1")
    same("GETEX", "k", "EX", "x")
    same("GETEX", "k", "EX", "1", "PX", "1")
    same("GETEX", "k", "EX", "1", "PERSIST")
    same("GETEX", "k", "PERSIST", "EX", "1")
    same("GETEX", "k", "KEEPTTL")
    same("GETEX", "k", "NX")
    same("GETEX", "k", "EX")
    same("GETEX", "missing", "EX", "bad")
    same("GETEX", "missing", "BADOPT")
    same("GETEX", "k", "EX", "9223372036854775807")
    same("GETEX", "k", "EXAT", "1")
    same("EXISTS", "k")
    same("SET", "n", "12345")
    same("GETEX", "n", "PX", "100000")
    encoding(same, "n")
    make_wrongtype(same, "l")
    same("GETEX", "l")
    same("GETEX", "l", "EX", "bad")


def test_incr_decr(same, r):
    same("INCR", "n")
    same("INCRBY", "n", "41")
    same("DECR", "n")
    same("DECRBY", "n", "10")
    encoding(same, "n")
    same("SET", "n", "9223372036854775806")
    same("INCR", "n")
    same("INCR", "n")
    same("SET", "n", "-9223372036854775807")
    same("DECR", "n")
    same("DECR", "n")
    same("DECRBY", "n", "-9223372036854775808")
    same("INCRBY", "n", "9223372036854775808")
    same("INCRBY", "n", "abc")
    same("INCRBY", "n", " 1")
    for bad in ("abc", "1.5", " 1", "01", "-0", "", "99999999999999999999", "1\x00"):
        same("SET", "s", bad)
        same("INCR", "s")
    same("SET", "s", "10")
    encoding(same, "s")
    same("APPEND", "s", "0")
    encoding(same, "s")
    same("INCR", "s")
    encoding(same, "s")
    same("SET", "t", "5", "EX", "100")
    same("INCR", "t")
    assert ttl_ms(r, "t") > 0
    make_wrongtype(same, "l")
    same("INCR", "l")
    same("DECRBY", "l", "1")


def test_incrbyfloat(same, r):
    same("INCRBYFLOAT", "f", "3")
    encoding(same, "f")
    same("INCRBYFLOAT", "f", "0.1")
    same("INCRBYFLOAT", "f", "-3.1")
    same("INCRBYFLOAT", "f", "1e20")
    same("INCRBYFLOAT", "f", "-1e20")
    same("INCRBYFLOAT", "g", "1.5e-20")
    same("INCRBYFLOAT", "g", "-0")
    same("INCRBYFLOAT", "h", "5.0e3")
    same("INCRBYFLOAT", "h", "1e300")
    encoding(same, "h")
    same("INCRBYFLOAT", "i", "0x10")
    same("INCRBYFLOAT", "i", "10.5abc")
    same("INCRBYFLOAT", "i", " 1")
    same("INCRBYFLOAT", "i", "")
    same("INCRBYFLOAT", "i", "nan")
    same("INCRBYFLOAT", "i", "inf")
    same("INCRBYFLOAT", "i", "-inf")
    same("INCRBYFLOAT", "i", "1e5000")
    same("SET", "big", "1e4000")
    same("INCRBYFLOAT", "big", "1")
    same("SET", "big", "1.7976931348623157e308")
    same("INCRBYFLOAT", "big", "1.7976931348623157e308")
    for stored, incr in [("1.0", "0"), ("1e-400", "1"), ("0x1p3", "1"), ("3", "1e-400"),
                         ("-0.0", "0"), ("1.5", "-1.5"), ("123456789012345678", "0.5"),
                         ("0.1", "0.2"), ("1e17", "1"), ("-1e-5", "0"), ("5", "  1"),
                         ("5", "1 "), ("+5", "+1"), (".5", "5."), ("1", "1E2")]:
        same("SET", "fl", stored)
        same("INCRBYFLOAT", "fl", incr)
        same("GET", "fl")
    same("SET", "s", "abc")
    same("INCRBYFLOAT", "s", "1")
    same("SET", "n", "10")
    same("INCRBYFLOAT", "n", "1.25")
    same("SET", "t", "1", "EX", "100")
    same("INCRBYFLOAT", "t", "1")
    assert ttl_ms(r, "t") > 0
    make_wrongtype(same, "l")
    same("INCRBYFLOAT", "l", "1")
    same("INCRBYFLOAT", "n", "1.5\x00x")
    same("SET", "nul", "2\x00junk")
    same("INCRBYFLOAT", "nul", "1")


def test_append_strlen(same):
    same("APPEND", "a", "hello")
    encoding(same, "a")
    same("APPEND", "a", " world")
    encoding(same, "a")
    same("GET", "a")
    same("STRLEN", "a")
    same("STRLEN", "missing")
    same("APPEND", "n", "123")
    encoding(same, "n")
    same("STRLEN", "n")
    same("SET", "n", "-12345")
    same("STRLEN", "n")
    same("APPEND", "n", "")
    encoding(same, "n")
    same("GET", "n")
    same("SET", "e", "")
    same("STRLEN", "e")
    for i in range(200):
        same("APPEND", "grow", "x" * (i % 7 + 1))
    same("GET", "grow")
    same("APPEND", "bin", "a\x00b")
    same("APPEND", "bin", "\x00\xff")
    same("GET", "bin")
    same("STRLEN", "bin")


def test_append_keeps_ttl(same, r):
    same("SET", "t", "v", "EX", "100")
    same("APPEND", "t", "w")
    assert ttl_ms(r, "t") > 0
    same("SET", "u", "x" * 50, "EX", "100")
    same("APPEND", "u", "w")
    assert ttl_ms(r, "u") > 0


def test_getrange_substr(same):
    same("SET", "s", "Hello World")
    for start, end in [(0, 3), (-3, -1), (0, -1), (10, 100), (5, 2), (-1, -5), (-100, 100),
                       (100, 200), (0, 0), (-1, -1), ("-9223372036854775808", "9223372036854775807"),
                       ("9223372036854775807", "-9223372036854775808")]:
        same("GETRANGE", "s", start, end)
        same("SUBSTR", "s", start, end)
    same("GETRANGE", "missing", 0, -1)
    same("GETRANGE", "missing", "x", -1)
    same("GETRANGE", "s", "x", -1)
    same("GETRANGE", "s", 0, "1.5")
    same("SET", "n", "1234567")
    same("GETRANGE", "n", 1, 3)
    same("SET", "e", "")
    same("GETRANGE", "e", 0, -1)
    same("GETRANGE", "e", -1, 0)


def test_setrange(same):
    same("SETRANGE", "s", 5, "abc")
    same("GET", "s")
    encoding(same, "s")
    same("SETRANGE", "s", 0, "XY")
    same("GET", "s")
    same("SETRANGE", "s", 20, "")
    same("STRLEN", "s")
    same("SETRANGE", "missing", 3, "")
    same("EXISTS", "missing")
    same("SETRANGE", "s", -1, "x")
    same("SETRANGE", "s", "x", "x")
    same("SETRANGE", "s", 536870912, "x")
    same("SETRANGE", "s", "9223372036854775807", "x")
    same("SETRANGE", "n", 0, "")
    same("SET", "n", "12345")
    same("SETRANGE", "n", 0, "")
    encoding(same, "n")
    same("SETRANGE", "n", 1, "9")
    encoding(same, "n")
    same("GET", "n")
    same("SET", "e", "short")
    same("SETRANGE", "e", 2, "LONGER-THAN-THE-ORIGINAL")
    same("GET", "e")


def test_proto_max_bulk_len_caps_results(reference):
    """SETRANGE, APPEND and SETBIT results are capped by proto-max-bulk-len."""
    ours = Server(KEYRAFT, args=["--proto-max-bulk-len", "2000000"]).start()
    same = SideBySide(ours, reference)
    same.both("CONFIG", "SET", "proto-max-bulk-len", "2000000")
    try:
        same("SETRANGE", "s", 1999999, "x")
        same("SETRANGE", "s", 2000000, "x")
        same("SETRANGE", "s", 1999998, "xyz")
        same("APPEND", "s", "x")
        same("STRLEN", "s")
        same("SET", "a", "x" * 1000)
        same("APPEND", "a", "y" * 1000)
        same("SETBIT", "b", 15999999, 1)
        same("SETBIT", "b", 16000000, 1)
        same("GETBIT", "b", 16000000)
        same("BITFIELD", "b", "SET", "u8", "#1999999", 1)
        same("BITFIELD", "b", "SET", "u8", "#2000000", 1)
        same("STRLEN", "b")
    finally:
        same.both("CONFIG", "SET", "proto-max-bulk-len", "536870912")
        same.close()
        ours.cleanup()


def test_wrongtype_ranges(same):
    make_wrongtype(same, "l")
    same("STRLEN", "l")
    same("APPEND", "l", "x")
    same("GETRANGE", "l", 0, 1)
    same("SETRANGE", "l", 0, "x")
    same("SETRANGE", "l", 0, "")
    same("SETNX", "l", "x")
    same("SETEX", "l", "10", "x")


def test_lcs(same):
    same("MSET", "a", "ohmytext", "b", "mynewtext")
    same("LCS", "a", "b")
    same("LCS", "a", "b", "LEN")
    same("LCS", "a", "b", "IDX")
    same("LCS", "a", "b", "IDX", "MINMATCHLEN", "4")
    same("LCS", "a", "b", "IDX", "MINMATCHLEN", "4", "WITHMATCHLEN")
    same("LCS", "a", "b", "IDX", "WITHMATCHLEN")
    same("LCS", "a", "b", "IDX", "MINMATCHLEN", "-5")
    same("LCS", "a", "b", "IDX", "LEN")
    same("LCS", "a", "b", "MINMATCHLEN")
    same("LCS", "a", "b", "MINMATCHLEN", "x")
    same("LCS", "a", "b", "BAD")
    same("LCS", "a", "missing")
    same("LCS", "missing", "missing2", "IDX")
    same("LCS", "a", "a", "IDX", "WITHMATCHLEN")
    same("SET", "n", "1234567")
    same("SET", "m", "23456")
    same("LCS", "n", "m", "IDX", "WITHMATCHLEN")
    same("MSET", "x", "abcabcXYZabc", "y", "zabcqqXYZabcabc")
    same("LCS", "x", "y", "IDX", "WITHMATCHLEN")
    same("LCS", "x", "y")
    make_wrongtype(same, "l")
    same("LCS", "a", "l")
    same("LCS", "l", "a", "BAD")


class Resp3:
    """A raw RESP3 connection (HELLO 3) that returns each reply's exact bytes."""

    def __init__(self, port):
        self.sock = socket.create_connection(("127.0.0.1", port), timeout=10)
        self.buf = b""
        self.call("HELLO", "3")

    def _line(self):
        while b"\r\n" not in self.buf:
            chunk = self.sock.recv(65536)
            assert chunk, "connection closed"
            self.buf += chunk
        line, self.buf = self.buf.split(b"\r\n", 1)
        return line

    def _reply(self):
        line = self._line()
        kind, rest = line[:1], line[1:]
        if kind in (b"$", b"=", b"!") and rest != b"-1":
            n = int(rest)
            while len(self.buf) < n + 2:
                self.buf += self.sock.recv(65536)
            body, self.buf = self.buf[:n], self.buf[n + 2:]
            return line + b"\r\n" + body + b"\r\n"
        if kind in (b"*", b"~", b">", b"%", b"|") and rest != b"-1":
            n = int(rest) * (2 if kind in (b"%", b"|") else 1)
            return line + b"\r\n" + b"".join(self._reply() for _ in range(n))
        return line + b"\r\n"

    def call(self, *args):
        parts = [str(a).encode() for a in args]
        self.sock.sendall(b"*%d\r\n" % len(parts) +
                          b"".join(b"$%d\r\n%s\r\n" % (len(p), p) for p in parts))
        return self._reply()


def test_resp3_replies(server, reference):
    ours, theirs = Resp3(server.port), Resp3(reference.port)
    theirs.call("FLUSHALL")
    for args in (("MSET", "a", "ohmytext", "b", "mynewtext"),
                 ("LCS", "a", "b", "IDX", "WITHMATCHLEN"), ("LCS", "a", "b", "IDX"),
                 ("LCS", "a", "b"), ("INCRBYFLOAT", "f", "1.5"), ("GETEX", "missing"),
                 ("MGET", "a", "missing"), ("GETDEL", "missing"), ("SET", "k", "v", "GET")):
        assert ours.call(*args) == theirs.call(*args), args


def test_arity(same):
    for cmd, n in (("SETNX", 2), ("SETEX", 3), ("PSETEX", 3), ("MGET", 1), ("MSET", 2),
                   ("MSETNX", 2), ("GETSET", 2), ("GETDEL", 1), ("GETEX", 1), ("INCR", 1),
                   ("INCRBY", 2), ("DECR", 1), ("DECRBY", 2), ("INCRBYFLOAT", 2),
                   ("APPEND", 2), ("STRLEN", 1), ("GETRANGE", 3), ("SETRANGE", 3),
                   ("SUBSTR", 3), ("LCS", 2)):
        same(cmd, *["k"] * (n - 1))
        same(cmd, *["k"] * (n + 2))
