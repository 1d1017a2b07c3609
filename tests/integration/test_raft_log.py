"""appendonly yes: every write goes through the node's Raft log (a group of
one). Replies stay Redis's, the data survives a clean restart and a kill -9
(every acknowledged write is there afterwards), and pipelines, blocking pops
and expiry work when writes apply on commit."""
import signal
import threading

import pytest
import redis

from harness import KEYRAFT, Server, wait_until
from resp_raw import RawResp, encode


def start(args=()):
    return Server(KEYRAFT, args=["--appendonly", "yes", *args]).start()


def restart(server, sig):
    server.stop(sig)
    return restart_client(server)


def restart_client(server):
    server.start()
    client = server.client()
    wait_until(lambda: client.info("persistence")["loading"] == 0, what="log replay")
    return client


def fill(r):
    r.set("s", "v")
    r.incrby("n", 41)
    r.incr("n")
    r.rpush("l", "a", "b", "c")
    r.lpop("l")
    r.hset("h", mapping={"f": "1", "g": "2"})
    r.zadd("z", {"m": 1.5, "n": 2})
    r.sadd("set", "x", "y")
    r.xadd("x", {"f": "v"}, id="5-0")
    r.pfadd("hll", "a", "b")
    r.set("ttl", "v", ex=1000)
    r.set("gone", "v")
    r.delete("gone")
    r.select(3)
    r.set("db3", "v")
    r.select(0)


def check(r):
    assert r.get("s") == b"v"
    assert r.get("n") == b"42"
    assert r.lrange("l", 0, -1) == [b"b", b"c"]
    assert r.hgetall("h") == {b"f": b"1", b"g": b"2"}
    assert r.zrange("z", 0, -1, withscores=True) == [(b"m", 1.5), (b"n", 2.0)]
    assert r.smembers("set") == {b"x", b"y"}
    assert r.xrange("x") == [(b"5-0", {b"f": b"v"})]
    assert r.pfcount("hll") == 2
    assert 900 < r.ttl("ttl") <= 1000
    assert r.exists("gone") == 0
    r.select(3)
    assert r.get("db3") == b"v"
    r.select(0)


def test_writes_reply_and_survive_restart_and_kill():
    s = start()
    try:
        r = s.client()
        fill(r)
        check(r)
        assert r.info("persistence")["aof_enabled"] == 1
        check(restart(s, signal.SIGTERM))
        check(restart(s, signal.SIGKILL))
    finally:
        s.cleanup()


def test_errors_are_not_logged_as_writes():
    s = start()
    try:
        r = s.client()
        r.set("str", "x")
        for bad in (("LPUSH", "str", "a"), ("INCR", "str"), ("SET", "k", "v", "EX", "0")):
            try:
                r.execute_command(*bad)
                raise AssertionError(f"{bad} should fail")
            except redis.ResponseError:
                pass
        r2 = restart(s, signal.SIGKILL)
        assert r2.get("str") == b"x" and r2.exists("k") == 0
    finally:
        s.cleanup()


def test_concurrent_pipelines_lose_no_acknowledged_write():
    s = start()
    try:
        clients, per_client = 10, 500

        def writer(i):
            c = s.client()
            pipe = c.pipeline(transaction=False)
            for j in range(per_client):
                pipe.incr("counter")
                pipe.rpush(f"list:{i}", j)
            pipe.execute()

        threads = [threading.Thread(target=writer, args=(i,)) for i in range(clients)]
        for t in threads:
            t.start()
        for t in threads:
            t.join(60)
        r = restart(s, signal.SIGKILL)
        assert r.get("counter") == str(clients * per_client).encode()
        for i in range(clients):
            assert r.lrange(f"list:{i}", 0, -1) == [str(j).encode() for j in range(per_client)]
    finally:
        s.cleanup()


def test_blocking_pop_and_expiry_through_the_log():
    s = start()
    try:
        r = s.client()
        got = {}
        waiter = s.client()
        t = threading.Thread(target=lambda: got.update(v=waiter.blpop("q", 10)))
        t.start()
        wait_until(lambda: r.info("clients")["blocked_clients"] == 1, what="a blocked client")
        r.rpush("q", "hello")
        t.join(10)
        assert got["v"] == (b"q", b"hello")
        r.set("short", "v", px=100)
        wait_until(lambda: r.dbsize() == 0, what="active expiry")
        r2 = restart(s, signal.SIGKILL)
        assert r2.dbsize() == 0
    finally:
        s.cleanup()


def test_evalsha_and_transactions_replay_after_kill():
    s = start()
    try:
        r = s.client()
        sha = r.script_load("return redis.call('INCRBY', KEYS[1], ARGV[1])")
        for _ in range(5):
            r.evalsha(sha, 1, "counted", 3)
        pipe = r.pipeline(transaction=True)
        pipe.set("tx:a", "1").incr("tx:n").rpush("tx:l", "x", "y")
        assert pipe.execute() == [True, 1, 2]
        with pytest.raises(redis.exceptions.NoScriptError):
            r.evalsha("0" * 40, 0)
        r2 = restart(s, signal.SIGKILL)
        assert r2.get("counted") == b"15"
        assert r2.get("tx:a") == b"1" and r2.get("tx:n") == b"1"
        assert r2.lrange("tx:l", 0, -1) == [b"x", b"y"]
        # Replaying the logged EVALs caches the script again, as AOF replay does.
        assert r2.script_exists(sha) == [True]
        assert r2.evalsha(sha, 1, "counted", 1) == 16
    finally:
        s.cleanup()


# Writes pipelined behind a write that awaits its commit join the log at
# once; errors, reads, inline requests and transactions among them must
# still be answered in request order, as Redis answers them.
MIXED_PIPELINE = [
    encode("SET", "a", "1"),
    encode("SET", "a"),
    encode("INCR", "a"),
    encode("LPUSH", "a", "x"),
    encode("GET", "a"),
    encode("INCR", "a"),
    b"GET a\r\n",
    encode("SET", "b", "2"),
    encode("INCRBY", "b", "notanumber"),
    encode("EVAL", "return redis.call('incr', KEYS[1])", "1", "a"),
    encode("MULTI"),
    encode("INCR", "a"),
    encode("EXEC"),
    encode("NOSUCHCOMMAND"),
    encode("RPUSH", "l", "1", "2"),
    encode("LPOP", "l"),
    encode("GET", "a"),
]


def mixed_pipeline_replies(port):
    conn = RawResp(port)
    try:
        conn.sock.sendall(b"".join(MIXED_PIPELINE * 20))
        return [conn.read_reply() for _ in range(len(MIXED_PIPELINE) * 20)]
    finally:
        conn.close()


def test_pipelined_writes_keep_reply_order(reference):
    s = start()
    try:
        assert mixed_pipeline_replies(s.port) == mixed_pipeline_replies(reference.port)
    finally:
        s.cleanup()


def test_watch_cas_increments_lose_no_update():
    """Check-and-set with WATCH from many clients while the Raft log has
    writes in flight: every EXEC that succeeded must count, as in Redis."""
    s = start()
    try:
        clients, attempts = 8, 150
        succeeded = [0] * clients

        def worker(i):
            c = s.client()
            for _ in range(attempts):
                with c.pipeline(transaction=True) as pipe:
                    try:
                        pipe.watch("counter")
                        value = int(pipe.get("counter") or 0)
                        pipe.multi()
                        pipe.set("counter", value + 1)
                        pipe.execute()
                        succeeded[i] += 1
                    except redis.WatchError:
                        pass

        threads = [threading.Thread(target=worker, args=(i,)) for i in range(clients)]
        for t in threads:
            t.start()
        for t in threads:
            t.join(120)
        total = sum(succeeded)
        assert 0 < total, succeeded
        assert int(s.client().get("counter")) == total
    finally:
        s.cleanup()


def test_config_set_appendonly_needs_an_empty_dataset():
    """Turning the log on at runtime opens a group of one; a dataset already
    in memory cannot be put into a new log, so that is refused rather than
    acknowledging writes a restart would not bring back."""
    s = Server(KEYRAFT).start()
    try:
        r = s.client()
        r.set("a", "1")
        with pytest.raises(redis.exceptions.ResponseError, match="appendonly"):
            r.config_set("appendonly", "yes")
        assert r.config_get("appendonly") == {"appendonly": "no"}
        r.flushall()
        assert r.config_set("appendonly", "yes")
        r.set("b", "2")
        r.incr("n")
        s.stop(signal.SIGKILL)
        s.cmd += ["--appendonly", "yes"]
        r = restart_client(s)
        assert r.get("b") == b"2" and r.get("n") == b"1"
    finally:
        s.cleanup()


def test_dump_file_without_a_log_stops_startup():
    """appendonly yes on a directory holding a dump file but no Raft log
    would serve an empty dataset and later overwrite the file: refused."""
    s = Server(KEYRAFT).start()
    try:
        s.client().set("k", "v")
        assert s.client().save()
        assert s.stop() == 0
        s2 = Server(KEYRAFT, args=["--dir", s.dir, "--appendonly", "yes"])
        s2.start(wait=False)
        try:
            assert s2.proc.wait(30) == 1
            assert "holds a dataset but there is no Raft log yet" in s2.read_log()
        finally:
            s2.cleanup()
    finally:
        s.cleanup()
