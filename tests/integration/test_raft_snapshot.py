"""Raft snapshots and log compaction (issue 5): snapshots when the log has
grown by Redis's AOF rewrite rule (auto-aof-rewrite-percentage and -min-size,
on every member), every `raft-snapshot-threshold` entries when that is set,
and on BGREWRITEAOF / BGSAVE, old log segments removed, a restart restoring the newest snapshot plus the log after
it, and a member that was down while the log was compacted catching up by
install-snapshot with identical data.

Set KEYRAFT_BIG_KEYS (e.g. 1000000) to run the snapshot-pause measurement
at that size; it prints the fork time and the longest PING stall."""
import os
import re
import signal
import threading
import time

import redis

from harness import KEYRAFT, REDIS, Server, wait_until
from test_dump import contents, fill_all_types

VALUE = "v" * 100  # 200k of these make a log of several 8 MB segments
MB = 1024 * 1024
LIBRARY = """#!lua name=snaplib
redis.register_function{function_name='snapget', callback=function(keys, args)
  return redis.call('GET', keys[1]) end, flags={'no-writes'}}
"""


def node(*args):
    return Server(KEYRAFT, args=["--appendonly", "yes", "--enable-debug-command", "yes",
                                 *args]).start()


def raft_files(server):
    return sorted(os.listdir(os.path.join(server.dir, "raft")))


def snapshot_files(server):
    return [f for f in raft_files(server) if re.fullmatch(r"snapshot-\d+-\d+-\d+", f)]


def closed_segments(server):
    return [f for f in raft_files(server) if re.fullmatch(r"\d{16}-\d{16}", f)]


def snapshots_logged(server):
    return server.read_log().count("log compacted")


def persistence(server):
    try:
        return server.client().info("persistence")
    except redis.exceptions.BusyLoadingError:
        return {"loading": 1}


def command(server, *args):
    """A command's reply as sent (redis-py turns some status replies into True)."""
    conn = redis.Connection(port=server.port, socket_timeout=10)
    try:
        conn.send_command(*args)
        return conn.read_response()
    finally:
        conn.disconnect()


def rewrite_done(server):
    info = persistence(server)
    return info.get("aof_rewrite_in_progress") == 0 and info.get("aof_rewrite_scheduled") == 0


def wait_rewrite_done(server, timeout=60):
    wait_until(lambda: rewrite_done(server), timeout=timeout, what="the snapshot to finish")


def wait_leader(server, timeout=20):
    wait_until(lambda: server.client().execute_command("ROLE")[0] == b"master" and
               persistence(server).get("loading") == 0, timeout=timeout, what="leader ready")


def loaded_dbsize(server):
    try:
        return server.client().dbsize()
    except (redis.exceptions.BusyLoadingError, redis.exceptions.ConnectionError):
        return -1


def write_many(r, n, prefix="key:"):
    pipe = r.pipeline(transaction=False)
    for i in range(0, n, 1000):
        pipe.mset({f"{prefix}{j}": f"{VALUE}{j}" for j in range(i, min(n, i + 1000))})
        if i % 20000 == 0:
            pipe.execute()
    pipe.execute()


def digest(r):
    """DEBUG DIGEST: equal exactly when the datasets are (types, values, TTLs)."""
    return r.execute_command("DEBUG", "DIGEST")


def dataset(r):
    """Every key with its contents: strings by MGET, the rest one by one."""
    keys = list(r.scan_iter(count=1000))
    pipe = r.pipeline(transaction=False)
    for k in keys:
        pipe.type(k)
    types = pipe.execute()
    out = {}
    strings = [k for k, t in zip(keys, types) if t == b"string"]
    for i in range(0, len(strings), 1000):
        chunk = strings[i:i + 1000]
        out.update({k: ("string", v) for k, v in zip(chunk, r.mget(chunk))})
    out.update({k: contents(r, k.decode()) for k, t in zip(keys, types) if t != b"string"})
    return out


def same_data(a, b):
    # DEBUG DIGEST of 200k keys takes a while under the sanitizers.
    ra, rb = (redis.Redis(port=s.port, socket_timeout=120) for s in (a, b))
    if ra.dbsize() != rb.dbsize():
        return False
    return digest(ra) == digest(rb)


def join(replica, master):
    r = replica.client()
    assert r.execute_command("REPLICAOF", "127.0.0.1", master.port) == b"OK"
    wait_until(lambda: r.info("replication").get("master_link_status") == "up", timeout=20,
               what="replica link up")


def test_lagging_member_catches_up_by_install_snapshot():
    a = node("--raft-snapshot-threshold", "20", "--raft-snapshot-trailing", "5")
    b, c = node(), node()
    try:
        ra = a.client()
        wait_leader(a)
        ra.set("before", "1")
        join(b, a)
        join(c, a)
        wait_until(lambda: ra.info("replication")["connected_slaves"] == 2 and
                   all(v["state"] == "online" for k, v in ra.info("replication").items()
                       if k.startswith("slave")), timeout=30, what="replicas promoted")
        ra.rpush("list", *range(100))
        fill_all_types(ra)
        ra.execute_command("FUNCTION", "LOAD", LIBRARY)
        assert ra.execute_command("WAIT", 2, 5000) == 2
        c.stop(signal.SIGKILL)

        write_many(ra, 200_000)
        # Scheduled when a snapshot from the threshold is under way.
        assert command(a, "BGREWRITEAOF") in (b"Background append only file rewriting started",
                                              b"Background append only file rewriting scheduled")
        wait_rewrite_done(a)
        assert snapshots_logged(a) >= 2
        snaps = snapshot_files(a)
        assert 1 <= len(snaps) <= 2 and all(f + ".meta" in raft_files(a) for f in snaps)
        # The log before the snapshot (minus the trailing entries) is gone.
        assert not any(f.startswith("0000000000000001-") for f in closed_segments(a))
        info = persistence(a)
        assert info["aof_last_bgrewrite_status"] == "ok" and info["rdb_last_bgsave_status"] == "ok"

        # The leader's transport queues what it sends to a member it cannot
        # reach for a while; once that is dropped, only a snapshot can help.
        time.sleep(2)
        restored_before = c.read_log().count("Raft snapshot restored")
        c.start()
        expected = ra.dbsize()
        wait_until(lambda: loaded_dbsize(c) == expected, timeout=90, what="c catches up")
        assert c.read_log().count("Raft snapshot restored") > restored_before
        wait_until(lambda: same_data(a, c), timeout=30, what="identical data on c")
        assert same_data(a, b)
        assert dataset(c.client()) == dataset(ra)
        rc = c.client()
        assert rc.get("key:199999") == f"{VALUE}199999".encode() and rc.get("before") == b"1"
        assert rc.execute_command("FCALL_RO", "snapget", 1, "before") == b"1"
        # It follows the log again after the install. (DEBUG DIGEST blocks a
        # loop for seconds under the sanitizers: another member may lead now.)
        wait_until(lambda: any(s.client().execute_command("ROLE")[0] == b"master"
                               for s in (a, b, c)), timeout=20, what="a leader")
        leader = next(s for s in (a, b, c) if s.client().execute_command("ROLE")[0] == b"master")
        leader.client().set("after-install", "yes")
        wait_until(lambda: rc.get("after-install") == b"yes", what="c applies new entries")
    finally:
        for s in (a, b, c):
            s.cleanup()


def test_restart_restores_snapshot_and_log():
    s = node("--raft-snapshot-trailing", "10")
    try:
        wait_leader(s)
        r = s.client()
        fill_all_types(r)
        r.execute_command("FUNCTION", "LOAD", LIBRARY)
        write_many(r, 100_000)
        segments_before = closed_segments(s)
        assert any(f.startswith("0000000000000001-") for f in segments_before)
        assert command(s, "BGREWRITEAOF") == b"Background append only file rewriting started"
        wait_rewrite_done(s)
        assert snapshot_files(s) and "log compacted" in s.read_log()
        assert not any(f.startswith("0000000000000001-") for f in closed_segments(s))
        # Writes after the snapshot live only in the log.
        r.set("key:5", "overwritten")
        r.delete("key:6")
        r.expire("key:7", 1000)
        r.set("new", "after the snapshot")
        r.lpush("list-after", "a", "b")
        expected = dataset(r)
        expected_digest = digest(r)
        s.stop(signal.SIGKILL)
        s.start()
        wait_until(lambda: loaded_dbsize(s) == len(expected), timeout=60, what="restart replayed")
        r = s.client()
        assert r.get("key:5") == b"overwritten" and r.exists("key:6") == 0
        assert 0 < r.ttl("key:7") <= 1000
        assert digest(r) == expected_digest
        # Function libraries live outside the keyspaces: the snapshot has them.
        assert r.execute_command("FCALL", "snapget", 1, "key:5") == b"overwritten"
        assert dataset(r) == expected
    finally:
        s.cleanup()


def test_bgsave_on_the_leader_is_a_snapshot_and_a_dump_file():
    s = node()
    try:
        wait_leader(s)
        r = s.client()
        write_many(r, 1000)
        before = r.lastsave()
        time.sleep(1.1)  # LASTSAVE has a one-second resolution
        assert r.bgsave() is True
        wait_until(lambda: persistence(s)["rdb_bgsave_in_progress"] == 0, what="BGSAVE done")
        assert r.lastsave() > before
        assert "log compacted" in s.read_log()
        dump = open(os.path.join(s.dir, "dump.rdb"), "rb").read()
        newest = max(snapshot_files(s), key=lambda f: int(f.split("-")[2]))
        payload = open(os.path.join(s.dir, "raft", newest), "rb").read()
        # The snapshot is stored uncompressed, in the dump file's format.
        assert dump == payload and dump.startswith(b"KRSNAP")
        assert persistence(s)["rdb_changes_since_last_save"] == 0
        # Nothing applied since: BGSAVE writes the dump file the plain way.
        assert r.bgsave() is True
        wait_until(lambda: persistence(s)["rdb_bgsave_in_progress"] == 0, what="BGSAVE done")
    finally:
        s.cleanup()


def test_bgrewriteaof_replies():
    plain = Server(KEYRAFT).start()
    try:
        r = plain.client()
        r.set("k", "v")
        # No log to rewrite: the same reply as Redis with appendonly no.
        assert command(plain, "BGREWRITEAOF") == b"Background append only file rewriting started"
        assert persistence(plain)["aof_rewrite_in_progress"] == 0
        try:
            r.execute_command("BGREWRITEAOF", "extra")
            raise AssertionError("arity not checked")
        except redis.ResponseError as e:
            assert "wrong number of arguments for 'bgrewriteaof' command" in str(e)
    finally:
        plain.cleanup()
    s = node()
    try:
        wait_leader(s)
        r = s.client()
        # Nothing applied after the bootstrap: the empty log needs no rewrite.
        assert command(s, "BGREWRITEAOF") == b"Background append only file rewriting started"
        r.set("k", "v")
        p = r.pipeline(transaction=True)
        p.set("k2", "v2")
        p.execute_command("BGREWRITEAOF")
        assert p.execute()[1] is True  # started, or scheduled behind a running one
        wait_rewrite_done(s)
        assert persistence(s)["aof_last_bgrewrite_status"] == "ok"
        assert r.config_get("raft-snapshot-threshold") == {"raft-snapshot-threshold": "0"}
        assert r.config_set("raft-snapshot-threshold", 5) is True
        write_many(r, 20)
        for i in range(12):
            r.set(f"one-by-one:{i}", i)
        wait_until(lambda: snapshots_logged(s) >= 2, what="a snapshot from the threshold")
    finally:
        s.cleanup()


def test_snapshot_pause():
    """A Raft snapshot of a large keyspace: the fork time and the longest
    stall a client sees while the child writes and the library stores it."""
    n = int(os.environ.get("KEYRAFT_BIG_KEYS", "100000"))
    s = node()
    try:
        wait_leader(s)
        r = s.client()
        write_many(r, n)
        assert r.dbsize() == n
        stalls = []
        stop = threading.Event()

        def pinger():
            p = s.client()
            while not stop.is_set():
                t = time.perf_counter()
                p.ping()
                stalls.append(time.perf_counter() - t)

        t = threading.Thread(target=pinger)
        t.start()
        time.sleep(1)
        baseline_ms = max(stalls) * 1000
        assert command(s, "BGREWRITEAOF") == b"Background append only file rewriting started"
        wait_rewrite_done(s, timeout=300)
        stop.set()
        t.join(10)
        fork_us = r.info("stats")["latest_fork_usec"]
        worst_ms = max(stalls) * 1000
        size = os.path.getsize(os.path.join(s.dir, "raft", snapshot_files(s)[-1]))
        print(f"\n{n} keys: fork {fork_us} us, worst PING {worst_ms:.1f} ms "
              f"(before: {baseline_ms:.1f} ms), {len(stalls)} PINGs, snapshot {size} bytes")
        assert fork_us < 1_000_000
    finally:
        s.cleanup()


def test_dump_file_keeps_function_libraries():
    """The dump file has the payload's format, function libraries included."""
    s = Server(KEYRAFT).start()
    try:
        r = s.client()
        r.execute_command("FUNCTION", "LOAD", LIBRARY)
        r.set("k", "v")
        assert r.save() is True
        s.stop()
        s.start()
        wait_until(lambda: loaded_dbsize(s) == 1, what="dump file loaded")
        assert s.client().execute_command("FCALL", "snapget", 1, "k") == b"v"
    finally:
        s.cleanup()


def test_restart_while_the_snapshot_child_still_writes():
    """The child closes the sockets it inherited: with the child stopped in
    the middle of a snapshot and the server killed, a new server binds the
    same ports at once and has every write."""
    s = node()
    child = None
    try:
        wait_leader(s)
        r = s.client()
        write_many(r, 100_000)
        for _ in range(10):
            started = s.read_log().count("Raft snapshot started")
            r.set("one-more", "write")  # something to snapshot
            assert command(s, "BGREWRITEAOF") == b"Background append only file rewriting started"
            wait_until(lambda: s.read_log().count("Raft snapshot started") > started,
                       what="the child forked")
            pid = int(re.findall(r"Raft snapshot started by pid (\d+)", s.read_log())[-1])
            try:
                os.kill(pid, signal.SIGSTOP)
                child = pid
                break
            except ProcessLookupError:
                wait_rewrite_done(s)  # it was done already: try again
        assert child is not None, "never caught the child while it wrote"
        fds = [os.readlink(f"/proc/{child}/fd/{fd}") for fd in os.listdir(f"/proc/{child}/fd")]
        assert not [fd for fd in fds if fd.startswith("socket:")], fds
        s.stop(signal.SIGKILL)
        s.start()
        wait_until(lambda: loaded_dbsize(s) == 100_001, timeout=60, what="restart replayed")
    finally:
        if child is not None:
            try:
                os.kill(child, signal.SIGKILL)
            except ProcessLookupError:
                pass
        s.cleanup()


def test_save_points_take_snapshots_on_the_leader():
    s = node("--save", "1 1")
    try:
        wait_leader(s)
        r = s.client()
        write_many(r, 1000)
        wait_until(lambda: "log compacted" in s.read_log(), timeout=20, what="a snapshot")
        wait_until(lambda: os.path.exists(os.path.join(s.dir, "dump.rdb")), what="the dump file")
        wait_until(lambda: persistence(s)["rdb_changes_since_last_save"] == 0, what="saved")
        assert persistence(s)["rdb_last_bgsave_status"] == "ok"
    finally:
        s.cleanup()


def test_a_failed_snapshot_is_reported_and_retried_later():
    s = node()
    try:
        wait_leader(s)
        r = s.client()
        r.set("k", "v")
        member = open(os.path.join(s.dir, "keyraft.member")).read().split()[0]
        # The child cannot create its file where a directory is in the way.
        os.mkdir(os.path.join(s.dir, f"temp-raft-snapshot-{member}-{s.proc.pid}.krs"))
        assert command(s, "BGREWRITEAOF") == b"Background append only file rewriting started"
        wait_rewrite_done(s)
        info = persistence(s)
        assert info["aof_last_bgrewrite_status"] == "err"
        assert info["rdb_last_bgsave_status"] == "err"
        assert "failed" in s.read_log()
        # The log keeps growing meanwhile: nothing is lost, and a later
        # snapshot (after the retry delay) succeeds.
        r.set("k2", "v2")
        assert command(s, "BGREWRITEAOF") == b"Background append only file rewriting started"
        wait_until(lambda: rewrite_done(s) and persistence(s)["aof_last_bgrewrite_status"] == "ok",
                   timeout=30, what="a snapshot after the retry delay")
        assert snapshot_files(s)
        s.stop(signal.SIGKILL)
        s.start()
        wait_until(lambda: loaded_dbsize(s) == 2, timeout=30, what="restart")
    finally:
        s.cleanup()


def test_a_new_replica_of_a_compacted_master_gets_the_snapshot():
    a = node("--raft-snapshot-threshold", "20", "--raft-snapshot-trailing", "5")
    b = node()
    try:
        wait_leader(a)
        ra = a.client()
        fill_all_types(ra)
        ra.execute_command("FUNCTION", "LOAD", LIBRARY)
        write_many(ra, 50_000)
        # A threshold snapshot may still run; with it done nothing starts another.
        wait_rewrite_done(a)
        assert command(a, "BGREWRITEAOF") == b"Background append only file rewriting started"
        wait_rewrite_done(a)
        assert not any(f.startswith("0000000000000001-") for f in closed_segments(a))
        join(b, a)
        wait_until(lambda: loaded_dbsize(b) == ra.dbsize(), timeout=60, what="b catches up")
        assert "Raft snapshot restored" in b.read_log()
        wait_until(lambda: same_data(a, b), timeout=30, what="identical data on b")
        assert b.client().execute_command("FCALL_RO", "snapget", 1, "key:7") == f"{VALUE}7".encode()
        wait_until(lambda: all(v["state"] == "online" for k, v in ra.info("replication").items()
                               if k.startswith("slave")) and
                   ra.info("replication")["connected_slaves"] == 1, timeout=30,
                   what="b promoted to a voter")
    finally:
        for s in (a, b):
            s.cleanup()


# ---- Snapshots by the log's size (auto-aof-rewrite-*) ----


def raft_snapshot_index(server):
    return server.client().info("raft")["raft_snapshot_index"]


def aof_sizes(server):
    info = persistence(server)
    return info["aof_current_size"], info["aof_base_size"]


def write_until(server, size, prefix):
    """Writes batches of 100 keys until aof_current_size reaches 'size'."""
    r = server.client()
    for batch in range(100 * size // MB + 100):
        if aof_sizes(server)[0] >= size:
            return
        r.mset({f"{prefix}{batch}:{j}": VALUE for j in range(100)})
    raise AssertionError(f"aof_current_size stays under {size}: {aof_sizes(server)}")


def holds_for(predicate, seconds, what):
    """A bounded check that 'predicate' stays true (several server crons)."""
    deadline = time.monotonic() + seconds
    while time.monotonic() < deadline:
        assert predicate(), what
        time.sleep(0.1)


def newest_snapshot_size(server):
    newest = max(snapshot_files(server), key=lambda f: int(f.split("-")[2]))
    return os.path.getsize(os.path.join(server.dir, "raft", newest))


def test_snapshot_once_the_log_outgrows_min_size():
    s = node("--auto-aof-rewrite-min-size", "1mb")
    try:
        wait_leader(s)
        r = s.client()
        write_until(s, MB // 2, "half:")
        current, base = aof_sizes(s)
        assert MB // 2 <= current < MB and base == 0
        holds_for(lambda: raft_snapshot_index(s) == 0, 1.0, "no snapshot under min-size")
        write_until(s, MB + 1, "more:")
        wait_until(lambda: raft_snapshot_index(s) > 0, timeout=30, what="an automatic snapshot")
        wait_rewrite_done(s)
        assert re.search(r"Starting automatic rewriting of AOF on \d+% growth", s.read_log())
        current, base = aof_sizes(s)
        # The base is the stored payload; the log since it is the rest.
        assert base == newest_snapshot_size(s) > 0
        assert current >= base
        r.mset({f"after:{j}": VALUE for j in range(100)})
        assert aof_sizes(s)[0] > current
        assert len(snapshot_files(s)) == 1  # 100% more is needed for the next one
    finally:
        s.cleanup()


def test_config_set_turns_the_size_policy_on():
    """Percentage 0: no snapshot however large the log; CONFIG SET of either
    directive takes effect at the next cron."""
    s = node("--auto-aof-rewrite-percentage", "0")
    try:
        wait_leader(s)
        r = s.client()
        write_until(s, 3 * MB, "k:")
        holds_for(lambda: raft_snapshot_index(s) == 0, 1.5, "no snapshot with percentage 0")
        assert r.config_set("auto-aof-rewrite-percentage", 100) is True
        # Still under the default 64mb.
        holds_for(lambda: raft_snapshot_index(s) == 0, 1.0, "no snapshot under 64mb")
        assert r.config_set("auto-aof-rewrite-min-size", "2mb") is True
        assert r.config_get("auto-aof-rewrite-*") == {"auto-aof-rewrite-percentage": "100",
                                                      "auto-aof-rewrite-min-size": "2097152"}
        wait_until(lambda: raft_snapshot_index(s) > 0, timeout=30, what="a snapshot after SET")
        assert "Starting automatic rewriting of AOF" in s.read_log()
    finally:
        s.cleanup()


def test_every_member_compacts_its_own_log():
    args = ("--auto-aof-rewrite-min-size", "1mb")
    a, b, c = node(*args), node(*args), node(*args)
    try:
        ra = a.client()
        wait_leader(a)
        join(b, a)
        join(c, a)
        write_until(a, MB + 1, "k:")

        def all_compacted():
            ra.incr("tick")  # a follower takes its snapshot at the next entry
            return all(raft_snapshot_index(m) > 0 for m in (a, b, c))

        wait_until(all_compacted, timeout=60, interval=0.2, what="a snapshot on every member")
        for m in (a, b, c):
            log = m.read_log()
            assert "Starting automatic rewriting of AOF" in log and "log compacted" in log
            assert "Raft snapshot restored" not in log  # its own, not the leader's
    finally:
        for m in (a, b, c):
            m.cleanup()


def test_info_persistence_aof_sizes_where_redis_has_them():
    """aof_current_size and aof_base_size follow aof_last_write_status in
    Redis 7.0's order, and only with appendonly on."""
    for appendonly in ("yes", "no"):
        ours = Server(KEYRAFT, args=["--appendonly", appendonly]).start()
        theirs = Server(REDIS, args=["--appendonly", appendonly]).start()
        try:
            wait_until(lambda: persistence(ours)["loading"] == 0, what="loaded")
            mine = list(ours.client().info("persistence"))
            ref = list(theirs.client().info("persistence"))
            assert [f for f in mine if f in ref] == [f for f in ref if f in mine]
            has = appendonly == "yes"
            assert ("aof_current_size" in mine) == ("aof_current_size" in ref) == has
            assert ("aof_base_size" in mine) == ("aof_base_size" in ref) == has
        finally:
            ours.cleanup()
            theirs.cleanup()
