"""Blocking sorted-set pops: BZPOPMIN BZPOPMAX BZMPOP. Immediate replies and
errors side by side with Redis 7.0 (including which argument is checked
first); blocking behaviour (wake-up, FIFO order among waiters, timeouts, a
closing client, MULTI) with several connections; RESP3 reply shapes byte for
byte."""
import time

import pytest

from harness import blocked_call, wait_blocked
from resp_raw import RawPair, RawResp, mask_id


def test_immediate_replies(same):
    same("ZADD", "z", "1", "a", "2", "b", "3", "c", "4", "d")
    same("BZPOPMIN", "z", "0")
    same("BZPOPMAX", "z", "0")
    same("BZPOPMIN", "missing", "z", "0.5")
    same("BZPOPMAX", "z", "z", "1")
    same("EXISTS", "z")  # the last member went: the key is gone
    same("ZADD", "z", "1.5", "x", "-inf", "y", "inf", "w")
    same("BZMPOP", "0", "1", "z", "MIN")
    same("BZMPOP", "0", "2", "missing", "z", "MAX", "COUNT", "1")
    same("BZMPOP", "0", "1", "z", "min", "count", "10")
    same("EXISTS", "z")
    same("ZADD", "big", "1", "a", "2", "b", "3", "c")
    same("BZMPOP", "1e-3", "1", "big", "MAX", "COUNT", "2")
    same("ZRANGE", "big", "0", "-1", "WITHSCORES")


def test_errors_and_their_order(same):
    same("ZADD", "z", "1", "a")
    same("SET", "str", "x")
    # BZPOPMIN/BZPOPMAX: arity, then the timeout, then each key's type in order.
    same("BZPOPMIN", "z")
    same("BZPOPMAX")
    same("BZPOPMIN", "z", "-1")
    same("BZPOPMIN", "z", "abc")
    same("BZPOPMIN", "z", "")
    same("BZPOPMIN", "z", "1e400")
    same("BZPOPMIN", "z", "nan")
    same("BZPOPMAX", "str", "z", "abc")
    same("BZPOPMAX", "str", "z", "0")
    same("BZPOPMIN", "z", "str", "0")  # z is popped before str is looked at
    same("ZADD", "z", "1", "a")
    same("BZPOPMIN", "missing", "str", "z", "0")
    # BZMPOP: numkeys, MIN|MAX and COUNT come before the timeout.
    same("BZMPOP", "0", "1", "z")
    same("BZMPOP", "abc", "0", "z", "MIN")
    same("BZMPOP", "abc", "1", "z", "MIN")
    same("BZMPOP", "-1", "1", "z", "MIN")
    same("BZMPOP", "0", "0", "z", "MIN")
    same("BZMPOP", "0", "-2", "z", "MIN")
    same("BZMPOP", "0", "x", "z", "MIN")
    same("BZMPOP", "0", "5", "z", "MIN")
    same("BZMPOP", "0", "2", "z", "MIN")
    same("BZMPOP", "abc", "1", "z", "MIDDLE")
    same("BZMPOP", "abc", "1", "z", "MIN", "COUNT", "0")
    same("BZMPOP", "abc", "1", "z", "MIN", "COUNT", "-1")
    same("BZMPOP", "abc", "1", "z", "MIN", "COUNT", "x")
    same("BZMPOP", "0", "1", "z", "MIN", "COUNT")
    same("BZMPOP", "0", "1", "z", "MIN", "COUNT", "1", "COUNT", "2")
    same("BZMPOP", "0", "1", "z", "MIN", "LIMIT", "1")
    same("BZMPOP", "abc", "1", "str", "MIN")
    same("BZMPOP", "-0.5", "1", "str", "MIN")
    same("BZMPOP", "0", "1", "str", "MIN")
    same("BZMPOP", "0", "2", "missing", "str", "MAX")
    same("BZMPOP", "0", "2", "z", "str", "MAX")
    same("EXISTS", "z")


def test_inside_multi_they_do_not_block(same):
    ours, _ = same.both("MULTI")
    if isinstance(ours, tuple):
        pytest.skip("MULTI is not implemented yet")
    same("BZPOPMIN", "empty", "0")
    same("BZPOPMAX", "empty", "other", "0")
    same("BZMPOP", "0", "1", "empty", "MIN")
    same("EXEC")


def join_all(threads):
    replies = []
    for t, result in threads:
        t.join(5)
        assert not t.is_alive(), "a blocked client was never woken"
        assert "error" not in result, result.get("error")
        replies.append(result["reply"])
    return replies


def test_wakeup_order_is_fifo(server):
    admin = server.client()
    waiters = [server.client() for _ in range(3)]
    threads = []
    for i, w in enumerate(waiters):
        threads.append(blocked_call(w, "BZPOPMIN", "q", "5"))
        wait_blocked(admin, i + 1)
    admin.zadd("q", {"c": 3, "a": 1, "b": 2})
    got = [list(g) for g in join_all(threads)]
    assert got == [[b"q", b"a", 1.0], [b"q", b"b", 2.0], [b"q", b"c", 3.0]]
    assert admin.exists("q") == 0
    assert admin.info("clients")["blocked_clients"] == 0


def test_mixed_waiters_on_several_keys(server):
    admin = server.client()
    clients = [server.client() for _ in range(3)]
    threads = [blocked_call(clients[0], "BZPOPMAX", "k1", "k2", "5")]
    wait_blocked(admin, 1)
    threads.append(blocked_call(clients[1], "BZMPOP", "5", "2", "k2", "k3", "MIN", "COUNT", "5"))
    wait_blocked(admin, 2)
    threads.append(blocked_call(clients[2], "BZPOPMIN", "k2", "5"))
    wait_blocked(admin, 3)
    # One ZADD of three members: the first waiter takes the highest, the
    # second all that is left, the third finds the key empty and waits on.
    admin.zadd("k2", {"x": 1, "y": 2, "z": 3})
    first, second = join_all(threads[:2])
    assert list(first) == [b"k2", b"z", 3.0]
    assert second == [b"k2", [[b"x", b"1"], [b"y", b"2"]]]
    wait_blocked(admin, 1)
    admin.zadd("k2", {"late": 9})
    assert list(join_all(threads[2:])[0]) == [b"k2", b"late", 9.0]
    assert admin.exists("k2") == 0


def test_timeouts(server):
    c = server.client()
    start = time.monotonic()
    assert c.execute_command("BZPOPMIN", "nothing", "0.2") is None
    assert 0.15 <= time.monotonic() - start < 3
    start = time.monotonic()
    assert c.execute_command("BZMPOP", "0.1", "2", "a", "b", "MAX") is None
    assert 0.05 <= time.monotonic() - start < 3
    assert c.info("clients")["blocked_clients"] == 0
    # A waiter whose wake-up finds nothing (an earlier waiter took the only
    # member) waits on with its first deadline.
    admin, late = server.client(), server.client()
    start = time.monotonic()
    threads = [blocked_call(c, "BZPOPMAX", "one", "0.5")]
    wait_blocked(admin, 1)
    threads.append(blocked_call(late, "BZPOPMAX", "one", "0.5"))
    wait_blocked(admin, 2)
    admin.zadd("one", {"m": 1})
    assert [list(r) if r else r for r in join_all(threads)] == [[b"one", b"m", 1.0], None]
    assert 0.4 <= time.monotonic() - start < 3


def test_pipeline_continues_after_unblock(server):
    raw = server.raw()
    raw.send(b"BZPOPMIN k 5\r\nPING\r\n")
    other = server.client()
    wait_blocked(other, 1)
    other.zadd("k", {"v": 2.5})
    expected = b"*3\r\n$1\r\nk\r\n$1\r\nv\r\n$3\r\n2.5\r\n+PONG\r\n"
    assert raw.read(len(expected)) == expected


def test_closing_a_blocked_client_unblocks_it(server):
    admin = server.client()
    raw = server.raw()
    raw.send(b"BZPOPMIN gone 0\r\n")
    wait_blocked(admin, 1)
    raw.close()
    wait_blocked(admin, 0)
    admin.zadd("gone", {"v": 1})
    assert admin.zrange("gone", 0, -1, withscores=True) == [(b"v", 1.0)]


def test_resp3_reply_shapes(server, reference):
    pair = RawPair(server.port, reference.port)
    try:
        pair("HELLO", "3", mask=mask_id)
        pair("FLUSHALL")
        pair("ZADD", "z", "1", "a", "2.5", "b", "inf", "c", "4", "d")
        pair("BZPOPMIN", "z", "0")
        pair("BZPOPMAX", "missing", "z", "0")
        pair("BZMPOP", "0", "1", "z", "MIN", "COUNT", "5")
        pair("BZPOPMIN", "z", "0.01")  # times out: RESP3 null
        pair("BZMPOP", "0.01", "1", "z", "MAX")
        pair("SET", "str", "x")
        pair("BZPOPMIN", "str", "0")
    finally:
        pair.close()


def test_resp3_reply_after_waking(server):
    raw = RawResp(server.port)
    try:
        raw.call("HELLO", "3")
        raw.send("BZPOPMIN", "w", "5")
        admin = server.client()
        wait_blocked(admin, 1)
        admin.zadd("w", {"m": 1.5})
        assert raw.read_reply() == b"*3\r\n$1\r\nw\r\n$1\r\nm\r\n,1.5\r\n"
    finally:
        raw.close()
