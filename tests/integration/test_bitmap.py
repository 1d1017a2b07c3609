"""Bitmap commands side by side with redis-server 7.0: replies, errors,
argument order and the encodings they leave behind."""
import random

import pytest

from test_string import encoding, make_wrongtype


def test_setbit_getbit(same):
    same("SETBIT", "b", 7, 1)
    same("GET", "b")
    encoding(same, "b")
    same("SETBIT", "b", 7, 1)
    same("SETBIT", "b", 7, 0)
    same("SETBIT", "b", 100, 1)
    same("STRLEN", "b")
    same("GETBIT", "b", 100)
    same("GETBIT", "b", 101)
    same("GETBIT", "b", 100000)
    same("GETBIT", "missing", 3)
    for offset in (-1, "x", "1.5", "4294967296", "9223372036854775807", "#1"):
        same("SETBIT", "b", offset, 1)
        same("GETBIT", "b", offset)
    same("GETBIT", "b", "4294967295")
    for value in (2, -1, "x", "", "01"):
        same("SETBIT", "b", 0, value)
    same("GETBIT", "missing", "bad")
    same("SET", "n", "12")
    encoding(same, "n")
    same("GETBIT", "n", 2)
    same("GETBIT", "n", 3)
    same("SETBIT", "n", 0, 0)
    encoding(same, "n")
    same("GET", "n")
    same("SET", "e", "hello")
    same("SETBIT", "e", 0, 0)
    encoding(same, "e")


def test_setbit_keeps_ttl_and_wrongtype(same, r):
    same("SET", "t", "abc", "EX", "100")
    same("SETBIT", "t", 100, 1)
    assert r.execute_command("PTTL", "t") > 0
    make_wrongtype(same, "l")
    same("SETBIT", "l", 0, 1)
    same("GETBIT", "l", 0)
    same("SETBIT", "l", -1, 1)


def test_bitcount(same):
    same("SET", "s", "foobar")
    same("BITCOUNT", "s")
    for start, end in [(0, 0), (1, 1), (1, -2), (-2, -1), (-1, -2), (-100, 100), (5, 2),
                       (0, 100), ("-9223372036854775808", "9223372036854775807")]:
        same("BITCOUNT", "s", start, end)
        same("BITCOUNT", "s", start, end, "BYTE")
        same("BITCOUNT", "s", start, end, "BIT")
    for start, end in [(5, 30), (1, 1), (7, 8), (0, 47), (-5, -1), (-9, -3), (3, 3)]:
        same("BITCOUNT", "s", start, end, "bit")
    same("BITCOUNT", "s", 0)
    same("BITCOUNT", "s", 0, 1, "BAD")
    same("BITCOUNT", "s", 0, 1, "BIT", "x")
    same("BITCOUNT", "s", "x", 1)
    same("BITCOUNT", "s", 0, "x")
    same("BITCOUNT", "missing")
    same("BITCOUNT", "missing", "x", "y")
    same("BITCOUNT", "missing", 0)
    same("SET", "n", "-1234")
    same("BITCOUNT", "n")
    same("BITCOUNT", "n", 1, 2, "BIT")
    same("SET", "e", "")
    same("BITCOUNT", "e")
    same("BITCOUNT", "e", 0, -1)
    same("BITCOUNT", "e", 0, -1, "BIT")
    make_wrongtype(same, "l")
    same("BITCOUNT", "l")
    same("BITCOUNT", "l", "x")


def test_bitpos(same):
    same("SET", "s", "\xff\xf0\x00")
    for bit in (0, 1):
        same("BITPOS", "s", bit)
        for args in [(0,), (1,), (2,), (-1,), (3,), (0, -1), (1, 1), (2, 2), (0, 0), (5, 2),
                     (-100, 100), (0, -1, "BYTE"), (0, -1, "BIT"), (4, 11, "BIT"), (12, 15, "BIT"),
                     (7, 7, "BIT"), (-3, -1, "BIT"), (0, 3, "BIT"), (16, 23, "BIT"),
                     (9, 100, "BIT"), (17, 17, "bit"), (3, 2, "BIT")]:
            same("BITPOS", "s", bit, *args)
    same("SET", "ones", "\xff\xff\xff")
    for args in [(), (0,), (1,), (0, -1), (0, -1, "BIT"), (3, 20, "BIT"), (2, -1, "BYTE"),
                 (5,), (-1,)]:
        same("BITPOS", "ones", 0, *args)
        same("BITPOS", "ones", 1, *args)
    same("SET", "zeros", "\x00\x00")
    for args in [(), (0,), (0, -1), (3, 9, "BIT"), (1, 1)]:
        same("BITPOS", "zeros", 1, *args)
        same("BITPOS", "zeros", 0, *args)
    same("BITPOS", "s", 2)
    same("BITPOS", "s", -1)
    same("BITPOS", "s", "x")
    same("BITPOS", "missing", 2)
    same("BITPOS", "missing", 0)
    same("BITPOS", "missing", 1)
    same("BITPOS", "missing", 1, "x")
    same("BITPOS", "s", 1, "x")
    same("BITPOS", "s", 1, 0, "x")
    same("BITPOS", "s", 1, 0, 1, "BAD")
    same("BITPOS", "s", 1, 0, "x", "BAD")
    same("BITPOS", "s", 1, 0, 1, "BIT", "extra")
    same("SET", "n", "1234")
    same("BITPOS", "n", 1)
    same("BITPOS", "n", 0, 1)
    same("SET", "e", "")
    same("BITPOS", "e", 0)
    same("BITPOS", "e", 1)
    same("BITPOS", "e", 0, 0, -1, "BIT")
    make_wrongtype(same, "l")
    same("BITPOS", "l", 1)
    same("BITPOS", "l", 3)


def test_bitcount_bitpos_random(same):
    rng = random.Random(7)
    for round in range(40):
        size = rng.randint(1, 24)
        kind = rng.random()
        data = bytes(rng.choice([0, 0xff, rng.randrange(256)]) if kind < 0.5 else rng.randrange(256)
                     for _ in range(size))
        same("SET", "r", data)
        for _ in range(6):
            unit = rng.choice(["BIT", "BYTE"])
            span = size * 8 if unit == "BIT" else size
            start = rng.randint(-span - 2, span + 2)
            end = rng.randint(-span - 2, span + 2)
            same("BITCOUNT", "r", start, end, unit)
            bit = rng.randint(0, 1)
            same("BITPOS", "r", bit, start, end, unit)
            same("BITPOS", "r", bit, start)
            same("BITPOS", "r", bit, start, end)


def test_bitop(same):
    same("SET", "a", "foobar")
    same("SET", "b", "abcdef")
    same("SET", "c", "xy")
    for op in ("AND", "OR", "XOR", "and"):
        same("BITOP", op, "dest", "a", "b", "c", "missing")
        same("GET", "dest")
    encoding(same, "dest")
    same("BITOP", "NOT", "dest", "a")
    same("GET", "dest")
    same("BITOP", "NOT", "dest", "a", "b")
    same("BITOP", "NOT", "dest", "missing")
    same("EXISTS", "dest")
    same("BITOP", "BAD", "dest", "a")
    same("BITOP", "AND", "a", "a", "b")
    same("GET", "a")
    same("SET", "n", "12")
    same("BITOP", "OR", "short", "n")
    same("GET", "short")
    encoding(same, "short")
    same("SET", "t", "v", "EX", "100")
    same("BITOP", "OR", "t", "n")
    same("TTL", "t")
    same("SET", "e", "")
    same("SET", "d2", "x")
    same("BITOP", "OR", "d2", "e", "missing")
    same("EXISTS", "d2")
    make_wrongtype(same, "l")
    same("BITOP", "OR", "dest", "a", "l")
    same("BITOP", "NOT", "l", "a")
    same("GET", "l")


def test_bitfield(same):
    same("BITFIELD", "bf", "SET", "i8", 0, 100, "GET", "i8", 0, "GET", "u4", 0)
    same("GET", "bf")
    encoding(same, "bf")
    same("BITFIELD", "bf", "INCRBY", "i8", 0, 100)
    same("BITFIELD", "bf", "OVERFLOW", "SAT", "INCRBY", "i8", 0, 100, "INCRBY", "i8", 0, -1000)
    same("BITFIELD", "bf", "OVERFLOW", "FAIL", "INCRBY", "i8", 0, 200, "GET", "i8", 0)
    same("BITFIELD", "bf", "OVERFLOW", "WRAP", "INCRBY", "u2", 100, 1, "INCRBY", "u2", 100, 5)
    same("BITFIELD", "bf", "SET", "u8", "#2", 255, "GET", "u8", "#2", "GET", "i8", "#2")
    same("BITFIELD", "bf", "SET", "i64", 0, "-9223372036854775808", "GET", "i64", 0)
    same("BITFIELD", "bf", "INCRBY", "i64", 0, -1)
    same("BITFIELD", "bf", "OVERFLOW", "SAT", "INCRBY", "i64", 0, -1, "INCRBY", "u63", 3, -5)
    same("BITFIELD", "bf", "SET", "u63", 1, "9223372036854775807", "GET", "u63", 1)
    same("BITFIELD", "bf", "GET", "u8", 10000, "GET", "i64", 999, "GET", "u1", 7)
    same("BITFIELD", "bf")
    same("BITFIELD", "missing")
    same("BITFIELD", "missing", "GET", "u8", 0)
    same("EXISTS", "missing")
    same("BITFIELD", "created", "OVERFLOW", "FAIL", "SET", "u2", 0, 7)
    same("GET", "created")
    same("STRLEN", "bf")


def test_bitfield_out_of_range_set(same):
    for policy in ("WRAP", "SAT", "FAIL"):
        for t, v in [("u8", -1), ("u8", -5), ("u8", 256), ("i8", 200), ("i8", -200),
                     ("i8", "-9223372036854775808"), ("u1", 2), ("i1", 1), ("i1", -1),
                     ("u63", "-1"), ("i64", "9223372036854775807")]:
            same("BITFIELD", "o", "OVERFLOW", policy, "SET", t, 8, v, "GET", t, 8)
            same("BITFIELD", "o", "OVERFLOW", policy, "INCRBY", t, 16, v, "GET", t, 16)


def test_bitfield_random_overflow(same):
    rng = random.Random(11)
    for _ in range(150):
        signed = rng.random() < 0.5
        bits = rng.randint(1, 64 if signed else 63)
        t = ("i" if signed else "u") + str(bits)
        policy = rng.choice(["WRAP", "SAT", "FAIL"])
        incr = rng.choice([rng.randint(-5, 5), rng.randint(-2**63, 2**63 - 1),
                           rng.randint(-(2**bits), 2**bits)])
        offset = rng.randint(0, 40)
        same("BITFIELD", "rnd", "OVERFLOW", policy, "INCRBY", t, offset, incr, "GET", t, offset)
    same("GET", "rnd")


def test_bitfield_errors(same):
    same("BITFIELD", "bf", "GET", "u64", 0)
    same("BITFIELD", "bf", "GET", "i65", 0)
    same("BITFIELD", "bf", "GET", "i0", 0)
    same("BITFIELD", "bf", "GET", "I8", 0)
    same("BITFIELD", "bf", "GET", "x8", 0)
    same("BITFIELD", "bf", "GET", "u", 0)
    same("BITFIELD", "bf", "GET", "u08", 0)
    same("BITFIELD", "bf", "GET", "u8", -1)
    same("BITFIELD", "bf", "GET", "u8", "#-1")
    same("BITFIELD", "bf", "GET", "u8", "#")
    same("BITFIELD", "bf", "GET", "u8", "4294967296")
    same("BITFIELD", "bf", "GET", "u8", "#536870912")
    same("BITFIELD", "bf", "GET", "u8", "#536870911")
    same("BITFIELD", "bf", "GET", "u8", "#2305843009213693953")
    same("BITFIELD", "bf", "GET", "u8")
    same("BITFIELD", "bf", "SET", "u8", 0)
    same("BITFIELD", "bf", "SET", "u8", 0, "x")
    same("BITFIELD", "bf", "INCRBY", "u8", 0, "1.5")
    same("BITFIELD", "bf", "OVERFLOW")
    same("BITFIELD", "bf", "OVERFLOW", "BAD")
    same("BITFIELD", "bf", "BAD", "u8", 0)
    same("BITFIELD", "bf", "SET", "u8", 0, 1, "GET", "u64", 0)
    same("EXISTS", "bf")
    make_wrongtype(same, "l")
    same("BITFIELD", "l", "GET", "u8", 0)
    same("BITFIELD", "l", "SET", "u8", 0, 1)
    same("BITFIELD", "l")
    same("BITFIELD_RO", "l", "GET", "u8", 0)


def test_bitfield_ro(same):
    same("SET", "s", "\x80\x01")
    same("BITFIELD_RO", "s", "GET", "u8", 0, "GET", "i8", 0, "GET", "u16", 0)
    same("BITFIELD_RO", "s", "GET", "u8", 0, "SET", "u8", 0, 1)
    same("BITFIELD_RO", "s", "INCRBY", "u8", 0, 1)
    same("BITFIELD_RO", "s", "OVERFLOW", "SAT")
    same("BITFIELD_RO", "s", "SET", "u8", 0, "x")
    same("BITFIELD_RO", "s", "BAD")
    same("BITFIELD_RO", "s")
    same("BITFIELD_RO", "missing", "GET", "i16", 3)
    same("SET", "n", "123")
    same("BITFIELD_RO", "n", "GET", "u8", 0, "GET", "u8", 8, "GET", "u8", 24)
    encoding(same, "n")
    same("GET", "s")


def test_arity(same):
    for cmd, n in (("SETBIT", 3), ("GETBIT", 2), ("BITCOUNT", 1), ("BITPOS", 2), ("BITOP", 3),
                   ("BITFIELD", 1), ("BITFIELD_RO", 1)):
        same(cmd, *["k"] * (n - 1))
