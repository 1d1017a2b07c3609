"""Replicas on Raft: REPLICAOF makes an empty node join its master's group;
writes replicate, replicas serve reads and refuse writes, ROLE / INFO / WAIT
report the group; when the master is killed the others elect a new one with
every acknowledged write, and the old master rejoins as a replica."""
import signal

import pytest
import redis

from harness import KEYRAFT, Server, wait_until


def node(appendonly="yes"):
    return Server(KEYRAFT, args=["--appendonly", appendonly]).start()


def role(server):
    return server.client().execute_command("ROLE")[0]


def loaded_get(server, key):
    """GET once the node has replayed its log (it answers -LOADING before)."""
    try:
        return server.client().get(key)
    except redis.exceptions.BusyLoadingError:
        return None


@pytest.fixture
def trio():
    nodes = [node(), node(), node()]
    yield nodes
    for n in nodes:
        n.cleanup()


def join(replica, master):
    r = replica.client()
    r.set("replica-own-data", "gone after joining")
    assert r.execute_command("REPLICAOF", "127.0.0.1", master.port) == b"OK"
    wait_until(lambda: r.info("replication").get("master_link_status") == "up", timeout=20,
               what="replica link up")


def test_replicas_join_replicate_and_fail_over(trio):
    a, b, c = trio
    ra = a.client()
    ra.set("before", "1")
    join(b, a)
    join(c, a)
    wait_until(lambda: ra.info("replication")["connected_slaves"] == 2, what="2 replicas")
    wait_until(lambda: all(v["state"] == "online" for k, v in ra.info("replication").items()
                           if k.startswith("slave")), timeout=20, what="replicas promoted")
    acked = []
    for i in range(200):
        ra.set(f"k{i}", i)
        acked.append(i)
    ra.rpush("list", *range(50))
    assert ra.execute_command("WAIT", 2, 5000) == 2
    for replica in (b, c):
        rr = replica.client()
        # WAIT covers the replicas' logs; followers apply a heartbeat later.
        wait_until(lambda: rr.llen("list") == 50, what="replicated writes")
        assert rr.get("k199") == b"199" and rr.get("before") == b"1"
        assert rr.exists("replica-own-data") == 0
        with pytest.raises(redis.exceptions.ReadOnlyError):
            rr.set("x", "y")
        assert role(replica) == b"slave"
    r = ra.execute_command("ROLE")
    assert r[0] == b"master" and len(r[2]) == 2

    a.stop(signal.SIGKILL)
    survivors = [b, c]
    wait_until(lambda: any(role(s) == b"master" for s in survivors), timeout=10,
               what="a new master")
    new_master = next(s for s in survivors if role(s) == b"master")
    rm = new_master.client()
    assert all(rm.get(f"k{i}") == str(i).encode() for i in acked)
    rm.set("after-failover", "yes")

    a.start()
    wait_until(lambda: role(a) == b"slave", timeout=20, what="old master rejoins as replica")
    wait_until(lambda: loaded_get(a, "after-failover") == b"yes", timeout=20,
               what="old master catches up")


def test_replicaof_no_one_and_errors(trio):
    a, b, _ = trio
    rb = b.client()
    with pytest.raises(redis.ResponseError, match="not an integer"):
        rb.execute_command("REPLICAOF", "127.0.0.1", "notaport")
    join(b, a)
    assert rb.execute_command("REPLICAOF", "127.0.0.1", a.port) == b"OK Already connected to specified master"
    assert rb.execute_command("REPLICAOF", "NO", "ONE") == b"OK"
    assert role(b) == b"master"
    rb.set("standalone", "again")
    assert rb.get("standalone") == b"again"


def test_master_with_unlogged_data_refuses_replicas():
    a = node(appendonly="no")
    try:
        a.client().set("data", "not in any log")
        reply = a.client().execute_command("KEYRAFT", "JOIN", "42", "127.0.0.1:1")
        raise AssertionError(f"unexpected {reply!r}")
    except redis.ResponseError as e:
        assert "appendonly yes" in str(e)
    finally:
        a.cleanup()


def test_replica_runs_scripts_that_declare_no_writes(trio):
    """Redis 7.0: a read-only replica runs EVAL/FCALL of scripts flagged
    no-writes and refuses the others with -READONLY."""
    master, replica = trio[0], trio[1]
    m = master.client()
    m.execute_command("FUNCTION", "LOAD",
                      "#!lua name=lib\n"
                      "redis.register_function{function_name='ro', flags={'no-writes'},"
                      " callback=function(keys) return redis.call('GET', keys[1]) end}\n"
                      "redis.register_function('rw', function(keys) return 1 end)")
    m.set("k", "v")
    join(replica, master)
    r = replica.client()
    wait_until(lambda: r.get("k") == b"v", timeout=10, what="k replicated")
    wait_until(lambda: r.execute_command("FUNCTION", "LIST") != [], timeout=10,
               what="library replicated")
    assert r.eval("#!lua flags=no-writes\nreturn redis.call('GET', KEYS[1])", 1, "k") == b"v"
    assert r.execute_command("FCALL", "ro", 1, "k") == b"v"
    for call in (lambda: r.execute_command("FCALL", "rw", 1, "k"),
                 lambda: r.eval("return 1", 0)):
        with pytest.raises(redis.exceptions.ReadOnlyError):
            call()
