"""Cluster mode on a single node (node/cmd_cluster.c, node/cluster_redirect.c,
node/cluster_mode.c, cluster/): CLUSTER subcommands, nodes.conf and
redirection, side by side with a cluster-enabled redis-server 7.0 where the
replies are deterministic (node ids and ports masked), plus redis-cli -c and
redis-py's RedisCluster against a one-node keyraft cluster.

MOVED/ASK/TRYAGAIN need a second node: it comes from a nodes.conf written
before start and never runs (test_cluster_gossip.py has real clusters)."""
import os
import re
import shutil
import subprocess

import pytest
import redis
from redis.cluster import RedisCluster

from conftest import SideBySide
from harness import KEYRAFT, REDIS, Server, run_command, wait_until

CLUSTER_ARGS = ["--cluster-enabled", "yes", "--cluster-node-timeout", "500"]
OTHER_ID = "b" * 40


@pytest.fixture
def kr():
    s = Server(KEYRAFT, args=CLUSTER_ARGS).start()
    yield s
    s.cleanup()


@pytest.fixture
def ref():
    s = Server(REDIS, args=CLUSTER_ARGS + ["--appendonly", "no"]).start()
    yield s
    s.cleanup()


@pytest.fixture
def both(kr, ref):
    s = SideBySide(kr, ref)
    yield s
    s.close()


def mask(value, servers):
    """Replaces node ids and the servers' ports so replies compare."""
    if isinstance(value, (list, tuple)):
        return type(value)(mask(v, servers) for v in value)
    if isinstance(value, dict):
        return {mask(k, servers): mask(v, servers) for k, v in value.items()}
    if isinstance(value, int) and not isinstance(value, bool):
        for s in servers:
            if value == s.port:
                return "<port>"
        return value
    if isinstance(value, bytes):
        value = value.decode()
    if isinstance(value, str):
        value = re.sub(r"\b[0-9a-f]{40}\b", "<id>", value)
        for s in servers:
            value = value.replace(f"{s.port + 10000}", "<cport>").replace(f"{s.port}", "<port>")
    return value


def same_masked(both, kr, ref, *args):
    ours = run_command(both.conns[0], *args)
    theirs = run_command(both.conns[1], *args)
    assert mask(ours, [kr, ref]) == mask(theirs, [kr, ref]), f"{args!r}: {ours!r} != {theirs!r}"
    return ours


def info_fields(text):
    if isinstance(text, bytes):
        text = text.decode()
    return dict(line.split(":", 1) for line in text.split("\r\n") if line)


def wait_state_ok(conn, what):
    wait_until(lambda: info_fields(run_command(conn, "CLUSTER", "INFO"))["cluster_state"] == "ok",
               timeout=15, interval=0.05, what=f"cluster_state:ok on {what}")


def cover_all(both):
    assert both.both("CLUSTER", "ADDSLOTSRANGE", "0", "16383") == [b"OK", b"OK"]
    wait_state_ok(both.conns[0], "keyraft")
    wait_state_ok(both.conns[1], "redis")


# ---- A fresh node ----


def test_fresh_node_nodes_and_info(both, kr, ref):
    nodes = same_masked(both, kr, ref, "CLUSTER", "NODES")
    # Before any MEET the myself line has an empty ip.
    assert re.fullmatch(rb"[0-9a-f]{40} :\d+@\d+ myself,master - 0 0 0 connected\n", nodes)
    ours = info_fields(run_command(both.conns[0], "CLUSTER", "INFO"))
    theirs = info_fields(run_command(both.conns[1], "CLUSTER", "INFO"))
    # cluster_size is 1 until the first state update 2 s after start, then 0.
    ours.pop("cluster_size")
    theirs.pop("cluster_size")
    assert ours == theirs
    assert ours["cluster_state"] == "fail" and ours["cluster_known_nodes"] == "1"
    myid = run_command(both.conns[0], "CLUSTER", "MYID")
    assert nodes.startswith(myid + b" ")
    assert run_command(both.conns[0], "CLUSTER", "MYSHARDID") == myid
    same_masked(both, kr, ref, "CLUSTER", "SLOTS")
    same_masked(both, kr, ref, "CLUSTER", "SHARDS")
    same_masked(both, kr, ref, "CLUSTER", "LINKS")
    same_masked(both, kr, ref, "CLUSTER", "HELP")
    assert kr.client().info()["cluster_enabled"] == 1
    # Keyed commands: no slot is served yet.
    both("GET", "foo")
    both("SET", "foo", "bar")
    both("PING")


def test_full_coverage_formats(both, kr, ref):
    cover_all(both)
    assert same_masked(both, kr, ref, "CLUSTER", "INFO")
    nodes = same_masked(both, kr, ref, "CLUSTER", "NODES")
    assert nodes.endswith(b" myself,master - 0 0 0 connected 0-16383\n")
    slots = same_masked(both, kr, ref, "CLUSTER", "SLOTS")
    assert slots[0][:2] == [0, 16383] and slots[0][2][1] == kr.port
    same_masked(both, kr, ref, "CLUSTER", "SHARDS")
    # Ranges are merged and single slots print as N.
    both("CLUSTER", "DELSLOTS", "5", "100", "101")
    same_masked(both, kr, ref, "CLUSTER", "NODES")
    same_masked(both, kr, ref, "CLUSTER", "SLOTS")
    same_masked(both, kr, ref, "CLUSTER", "SHARDS")
    same_masked(both, kr, ref, "CLUSTER", "INFO")
    both("GET", "{06S}")  # slot 0 is served
    both("GET", "{Qi}")   # slot 100 is not


def test_keyslot_and_hash_tags(both):
    for key in ["foo", "bar", "", "{user1}:a", "{user1}:b", "{}x", "{a}{b}", "a{b", "}{x}",
                "key:{450}:__rand_int__", "\xff\x00binary"]:
        both("CLUSTER", "KEYSLOT", key)


def test_crossslot_and_same_slot(both):
    cover_all(both)
    both("MSET", "a", "1", "b", "2")
    both("MSET", "{u}a", "1", "{u}b", "2")
    both("MGET", "{u}a", "{u}b")
    both("MGET", "a", "{u}a")
    both("DEL", "a", "a")
    both("SUNIONSTORE", "{s}dst", "{s}x", "y")
    both("EVAL", "return 1", "2", "a", "b")
    both("EVAL", "return redis.call('get', KEYS[1])", "2", "{u}a", "{u}b")
    both("ZUNIONSTORE", "{z}d", "2", "{z}a", "{z}b")
    both("ZUNIONSTORE", "{z}d", "2", "{z}a", "b")
    both("SELECT", "1")
    # Inside MULTI a CROSSSLOT command aborts the transaction.
    both("MULTI")
    both("MSET", "x", "1", "y", "2")
    both("SET", "{u}a", "3")
    both("EXEC")
    both("MULTI")
    both("SET", "{u}a", "3")
    both("GET", "{u}b")
    both("EXEC")
    both("MULTI")
    both("SET", "{u}a", "3")
    both("GET", "b")
    both("EXEC")
    both("EXEC")


def test_getkeysinslot_countkeysinslot(both):
    cover_all(both)
    for i in range(7):
        both("SET", f"{{tag}}k{i}", "v")
    slot = both("CLUSTER", "KEYSLOT", "{tag}")
    both("CLUSTER", "COUNTKEYSINSLOT", str(slot))
    ours, theirs = both.both("CLUSTER", "GETKEYSINSLOT", str(slot), "100")
    assert sorted(ours) == sorted(theirs) and len(ours) == 7
    ours, theirs = both.both("CLUSTER", "GETKEYSINSLOT", str(slot), "3")
    assert len(ours) == len(theirs) == 3
    both("CLUSTER", "GETKEYSINSLOT", str(slot), "0")
    both("CLUSTER", "COUNTKEYSINSLOT", "0")
    for args in [("x",), ("-1",), ("16384",)]:
        both("CLUSTER", "COUNTKEYSINSLOT", *args)
    for args in [("1", "x"), ("1", "-1"), ("16384", "1"), ("x", "1"), ("-1", "1")]:
        both("CLUSTER", "GETKEYSINSLOT", *args)


def test_slot_assignment_errors(both):
    for args in [("abc",), ("-1",), ("16384",), ("1", "1"), ("1", "2", "x")]:
        both("CLUSTER", "ADDSLOTS", *args)
    for args in [("5", "1"), ("1", "2", "3"), ("1", "x"), ("0", "10", "5", "20")]:
        both("CLUSTER", "ADDSLOTSRANGE", *args)
    for args in [("5",), ("x",), ("1", "1")]:
        both("CLUSTER", "DELSLOTS", *args)
    for args in [("1", "3"), ("3", "1"), ("1", "2", "3")]:
        both("CLUSTER", "DELSLOTSRANGE", *args)
    both("CLUSTER", "ADDSLOTS", "1", "2", "3")
    both("CLUSTER", "ADDSLOTS", "3")
    both("CLUSTER", "ADDSLOTSRANGE", "0", "1")
    both("CLUSTER", "DELSLOTSRANGE", "1", "2", "3", "4")
    both("CLUSTER", "DELSLOTS", "3", "3")
    both("CLUSTER", "DELSLOTSRANGE", "1", "3")
    both("CLUSTER", "DELSLOTS", "1")
    both("CLUSTER", "FLUSHSLOTS")
    both("SET", "k", "v")
    both("CLUSTER", "ADDSLOTS", "5")
    both("CLUSTER", "FLUSHSLOTS")


def test_addslots_many_args(both, kr, ref):
    # redis-cli --cluster create sends one ADDSLOTS with 5461 arguments.
    both("CLUSTER", "ADDSLOTS", *[str(i) for i in range(5461)])
    same_masked(both, kr, ref, "CLUSTER", "NODES")
    same_masked(both, kr, ref, "CLUSTER", "INFO")


def test_setslot_errors(both, kr, ref):
    myid = run_command(both.conns[0], "CLUSTER", "MYID").decode()
    refid = run_command(both.conns[1], "CLUSTER", "MYID").decode()
    for args in [("1", "foo"), ("x", "stable"), ("16384", "stable"), ("1", "node", "abc"),
                 ("1", "importing", "abc"), ("1", "migrating", "abc"), ("1", "node"),
                 ("1", "stable", "x"), ("1", "importing"), ("1", "node", OTHER_ID)]:
        both("CLUSTER", "SETSLOT", *args)
    # With the node's own id (each side its own).
    pairs = [(("1", "importing", myid), ("1", "importing", refid)),
             (("1", "node", myid), ("1", "node", refid)),
             (("1", "importing", myid), ("1", "importing", refid)),
             (("1", "migrating", OTHER_ID), ("1", "migrating", OTHER_ID)),
             (("1", "STABLE"), ("1", "STABLE"))]
    for ours_args, ref_args in pairs:
        ours = run_command(both.conns[0], "CLUSTER", "SETSLOT", *ours_args)
        theirs = run_command(both.conns[1], "CLUSTER", "SETSLOT", *ref_args)
        assert mask(ours, [kr, ref]) == mask(theirs, [kr, ref]), (ours_args, ours, theirs)
    # A migrating slot shows on the myself line.
    ours = run_command(both.conns[0], "CLUSTER", "SETSLOT", "1", "migrating", myid)
    theirs = run_command(both.conns[1], "CLUSTER", "SETSLOT", "1", "migrating", refid)
    assert ours == theirs == b"OK"
    nodes = same_masked(both, kr, ref, "CLUSTER", "NODES")
    assert b" 1 [1->-" in nodes
    both("CLUSTER", "SETSLOT", "1", "stable")
    same_masked(both, kr, ref, "CLUSTER", "NODES")


def test_epochs(both, kr, ref):
    both("CLUSTER", "SET-CONFIG-EPOCH", "-1")
    both("CLUSTER", "SET-CONFIG-EPOCH", "x")
    both("CLUSTER", "SET-CONFIG-EPOCH", "5")
    both("CLUSTER", "SET-CONFIG-EPOCH", "6")
    both("CLUSTER", "BUMPEPOCH")
    both("CLUSTER", "RESET", "HARD")
    both("CLUSTER", "BUMPEPOCH")
    both("CLUSTER", "BUMPEPOCH")
    same_masked(both, kr, ref, "CLUSTER", "INFO")
    same_masked(both, kr, ref, "CLUSTER", "NODES")
    # redis-cli --cluster fix: cluster subcommands inside MULTI/EXEC.
    both("CLUSTER", "ADDSLOTS", "16000")
    both("CLUSTER", "DELSLOTS", "16383")
    both("MULTI")
    both("CLUSTER", "DELSLOTS", "16383")
    both("CLUSTER", "ADDSLOTS", "16383")
    both("CLUSTER", "BUMPEPOCH")
    ours, theirs = both.both("EXEC")
    assert [str(x) for x in ours] == [str(x) for x in theirs]
    assert str(ours[0]) == "Slot 16383 is already unassigned" and ours[1:] == [b"OK", b"STILL 1"]


def test_membership_errors(both, kr, ref):
    myid = run_command(both.conns[0], "CLUSTER", "MYID").decode()
    refid = run_command(both.conns[1], "CLUSTER", "MYID").decode()
    for sub in ["COUNT-FAILURE-REPORTS", "REPLICATE", "REPLICAS", "SLAVES", "FORGET"]:
        both("CLUSTER", sub, "abc")
        both("CLUSTER", sub, OTHER_ID)
    for sub in ["REPLICATE", "FORGET", "REPLICAS", "COUNT-FAILURE-REPORTS"]:
        ours = run_command(both.conns[0], "CLUSTER", sub, myid)
        theirs = run_command(both.conns[1], "CLUSTER", sub, refid)
        assert mask(ours, [kr, ref]) == mask(theirs, [kr, ref]), (sub, ours, theirs)
    for args in [("1.2.3", "5"), ("127.0.0.1", "x"), ("127.0.0.1", "1", "x"), ("a", "b", "c", "d"),
                 ("127.0.0.1", "0"), ("127.0.0.1", "70000"), ("::1", "-5"), ("nothost", "5")]:
        both("CLUSTER", "MEET", *args)
    for args in [("x",), (), ("force",), ("TAKEOVER",), ("a", "b")]:
        both("CLUSTER", "FAILOVER", *args)
    for args in [("x",), ("soft", "x"), ("SOFT",), ()]:
        both("CLUSTER", "RESET", *args)
    both("CLUSTER", "SAVECONFIG")
    both("CLUSTER", "MYID", "x")
    both("CLUSTER", "NOSUCH")
    both("SET", "k", "v")  # CLUSTERDOWN: RESET refuses a master with keys only if it has some
    both("CLUSTER", "ADDSLOTSRANGE", "0", "16383")
    both("CLUSTER", "REPLICATE", OTHER_ID)


def test_meet_records_a_handshake_node(kr):
    r = kr.client()
    assert r.execute_command("CLUSTER", "MEET", "127.0.0.1", "1") == b"OK"
    # The same handshake again adds nothing.
    assert r.execute_command("CLUSTER", "MEET", "127.0.0.1", "1") == b"OK"
    nodes = r.execute_command("CLUSTER", "NODES")
    lines = nodes.strip().split("\n") if isinstance(nodes, str) else nodes.decode().strip().split("\n")
    assert len(lines) == 2
    assert re.fullmatch(r"[0-9a-f]{40} 127\.0\.0\.1:1@10001 handshake - 0 0 0 disconnected",
                        [l for l in lines if "handshake" in l][0])
    info = info_fields(r.execute_command("CLUSTER", "INFO"))
    assert info["cluster_known_nodes"] == "2"
    # Nobody answers: the handshake times out (max(node timeout, 1 s)).
    wait_until(lambda: info_fields(r.execute_command("CLUSTER", "INFO"))["cluster_known_nodes"] == "1",
               timeout=5, what="handshake timeout")


def test_asking_readonly_readwrite(both):
    both("ASKING")
    both("READONLY")
    both("READWRITE")
    both("ASKING", "x")


def test_not_in_cluster_mode(same):
    for args in [("CLUSTER", "INFO"), ("CLUSTER", "HELP"), ("CLUSTER", "KEYSLOT", "a"),
                 ("CLUSTER", "NODES"), ("ASKING",), ("READONLY",), ("READWRITE",),
                 ("CLUSTER", "FOO")]:
        same(*args)


# ---- nodes.conf ----


def test_nodes_conf_written_and_reloaded(kr):
    r = kr.client()
    myid = r.execute_command("CLUSTER", "MYID")
    r.execute_command("CLUSTER", "ADDSLOTSRANGE", "0", "100", "200", "300")
    r.execute_command("CLUSTER", "ADDSLOTS", "16383")
    r.execute_command("CLUSTER", "SET-CONFIG-EPOCH", "7")
    nodes_before = r.execute_command("CLUSTER", "NODES")
    r.close()
    conf = open(os.path.join(kr.dir, "nodes.conf")).read()
    assert conf == (nodes_before if isinstance(nodes_before, str) else nodes_before.decode()) + \
        "vars currentEpoch 7 lastVoteEpoch 0\n"
    assert kr.stop() == 0
    kr.start()
    r = kr.client()
    assert r.execute_command("CLUSTER", "MYID") == myid
    assert r.execute_command("CLUSTER", "NODES") == nodes_before
    info = info_fields(r.execute_command("CLUSTER", "INFO"))
    assert info["cluster_current_epoch"] == "7" and info["cluster_my_epoch"] == "7"
    assert "Node configuration loaded" in kr.read_log()
    # A hard reset gives a new id, which the next restart keeps.
    r.execute_command("CLUSTER", "RESET", "HARD")
    newid = r.execute_command("CLUSTER", "MYID")
    assert newid != myid
    r.close()
    kr.stop()
    kr.start()
    assert kr.client().execute_command("CLUSTER", "MYID") == newid


def test_corrupt_nodes_conf_is_a_startup_error(kr):
    kr.stop()
    path = os.path.join(kr.dir, "nodes.conf")
    with open(path, "w") as f:
        f.write("a" * 40 + " :1@2 myself,master - 0 0 0 connected 0-99999\n")
    kr.start(wait=False)
    assert kr.proc.wait(10) == 1
    log = kr.read_log()
    assert "Unrecoverable error: corrupted cluster config file" in log
    assert "line 1: bad slot '0-99999'" in log


# ---- Redirection with a second node (from nodes.conf) ----


@pytest.fixture
def two_nodes():
    """keyraft owning slots 0-8191, a peer (not running) owning the rest. The
    bus would flag the silent peer as failing after the node timeout (and the
    cluster down, with one of two masters unreachable): a long timeout keeps
    it out of the way."""
    s = Server(KEYRAFT, args=["--cluster-enabled", "yes", "--cluster-node-timeout", "60000"])
    myid = "a" * 40
    with open(os.path.join(s.dir, "nodes.conf"), "w") as f:
        f.write(f"{myid} 127.0.0.1:{s.port}@{s.port + 10000} myself,master - 0 0 1 connected 0-8191\n"
                f"{OTHER_ID} 127.0.0.1:7001@17001 master - 0 0 2 connected 8192-16383\n"
                "vars currentEpoch 2 lastVoteEpoch 0\n")
    s.start()
    wait_until(lambda: info_fields(s.client().execute_command("CLUSTER", "INFO"))["cluster_state"] == "ok",
               timeout=15, what="cluster_state:ok")
    yield s
    s.cleanup()


def test_moved_ask_tryagain(two_nodes):
    raw = two_nodes.client()
    conn = redis.Connection(port=two_nodes.port, socket_timeout=5)
    conn.connect()

    def cmd(*args):
        return run_command(conn, *args)

    assert cmd("CLUSTER", "KEYSLOT", "foo") == 12182
    assert cmd("GET", "foo") == ("error", "MOVED 12182 127.0.0.1:7001")
    assert cmd("SET", "a", "1") == ("error", "MOVED 15495 127.0.0.1:7001")
    assert cmd("SET", "bar", "1") == b"OK"  # slot 5061 is ours
    assert cmd("MGET", "bar", "foo") == ("error", "CROSSSLOT Keys in request don't hash to the same slot")
    slots = cmd("CLUSTER", "SLOTS")
    assert [s[:2] for s in slots] == [[0, 8191], [8192, 16383]]
    assert slots[1][2][:3] == [b"127.0.0.1", 7001, OTHER_ID.encode()]
    # Migrating slot 5061 ("bar") to the peer: present keys are served,
    # missing ones get ASK, multi-key requests with a key missing TRYAGAIN.
    assert cmd("CLUSTER", "SETSLOT", "5061", "MIGRATING", OTHER_ID) == b"OK"
    assert b"[5061->-" + OTHER_ID.encode() + b"]" in cmd("CLUSTER", "NODES")
    assert cmd("GET", "bar") == b"1"
    assert cmd("GET", "{bar}x") == ("error", "ASK 5061 127.0.0.1:7001")
    assert cmd("MGET", "bar", "{bar}x") == ("error", "TRYAGAIN Multiple keys request during rehashing of slot")
    assert cmd("CLUSTER", "SETSLOT", "5061", "NODE", OTHER_ID) == \
        ("error", "Can't assign hashslot 5061 to a different node while I still hold keys for this hash slot.")
    assert cmd("CLUSTER", "SETSLOT", "5061", "STABLE") == b"OK"
    # Importing slot 12182 ("foo") from the peer: MOVED without ASKING;
    # after ASKING exactly one command is served.
    assert cmd("CLUSTER", "SETSLOT", "12182", "IMPORTING", OTHER_ID) == b"OK"
    assert cmd("GET", "foo") == ("error", "MOVED 12182 127.0.0.1:7001")
    assert cmd("ASKING") == b"OK"
    assert cmd("SET", "foo", "v") == b"OK"
    assert cmd("GET", "foo") == ("error", "MOVED 12182 127.0.0.1:7001")
    assert cmd("ASKING") == b"OK"
    assert cmd("GET", "foo") == b"v"
    assert cmd("ASKING") == b"OK"
    assert cmd("MGET", "foo", "{foo}missing") == ("error", "TRYAGAIN Multiple keys request during rehashing of slot")
    # ASKING covers a whole transaction.
    assert cmd("ASKING") == b"OK"
    assert cmd("MULTI") == b"OK"
    assert cmd("GET", "foo") == b"QUEUED"
    assert cmd("EXEC") == [b"v"]
    # A redirect while queuing aborts the transaction.
    assert cmd("MULTI") == b"OK"
    assert cmd("GET", "bar") == b"QUEUED"
    assert cmd("SET", "{foo}y", "1") == ("error", "MOVED 12182 127.0.0.1:7001")
    assert cmd("EXEC") == ("error", "Transaction discarded because of previous errors.")
    # EXEC checks the queued commands together: a redirected EXEC discards
    # the transaction and replies with the redirect.
    assert cmd("MULTI") == b"OK"
    assert cmd("GET", "bar") == b"QUEUED"
    assert cmd("GET", "{06S}") == b"QUEUED"
    assert cmd("EXEC") == ("error", "CROSSSLOT Keys in request don't hash to the same slot")
    assert cmd("EXEC") == ("error", "EXEC without MULTI")
    # Taking the slot over bumps the epoch and closes the import.
    assert cmd("CLUSTER", "SETSLOT", "12182", "NODE", "a" * 40) == b"OK"
    assert cmd("GET", "foo") == b"v"
    info = info_fields(cmd("CLUSTER", "INFO"))
    assert info["cluster_my_epoch"] == "3" and info["cluster_current_epoch"] == "3"
    assert cmd("CLUSTER", "SETSLOT", "1", "migrating", OTHER_ID) == b"OK"
    # The peer may not be replicated while we own slots; FORGET drops it and its slots.
    assert cmd("CLUSTER", "REPLICATE", OTHER_ID) == \
        ("error", "To set a master the node must be empty and without assigned slots.")
    assert cmd("CLUSTER", "FORGET", OTHER_ID) == b"OK"
    assert b"[1->-" not in cmd("CLUSTER", "NODES")
    info = info_fields(cmd("CLUSTER", "INFO"))
    assert info["cluster_known_nodes"] == "1" and info["cluster_state"] == "fail"
    assert cmd("GET", "a") == ("error", "CLUSTERDOWN Hash slot not served")
    assert cmd("GET", "bar") == ("error", "CLUSTERDOWN The cluster is down")
    conn.disconnect()
    raw.close()


def test_reads_when_down(two_nodes):
    r = two_nodes.client()
    r.set("bar", "1")
    r.execute_command("CLUSTER", "DELSLOTS", "0")
    wait_until(lambda: info_fields(r.execute_command("CLUSTER", "INFO"))["cluster_state"] == "fail",
               timeout=5, what="cluster_state:fail")
    with pytest.raises(redis.ResponseError, match="CLUSTERDOWN The cluster is down"):
        r.get("bar")
    r.config_set("cluster-allow-reads-when-down", "yes")
    assert r.get("bar") == b"1"
    with pytest.raises(redis.ResponseError,
                       match="CLUSTERDOWN The cluster is down and only accepts read commands"):
        r.set("bar", "2")
    r.config_set("cluster-require-full-coverage", "no")
    wait_until(lambda: info_fields(r.execute_command("CLUSTER", "INFO"))["cluster_state"] == "ok",
               timeout=10, what="cluster_state:ok without full coverage")
    assert r.set("bar", "2") is True
    with pytest.raises(redis.ResponseError, match="CLUSTERDOWN Hash slot not served"):
        r.get("{06S}")


# ---- Clients ----


def test_redis_cli_c(kr):
    r = kr.client()
    r.execute_command("CLUSTER", "ADDSLOTSRANGE", "0", "16383")
    wait_state_ok(r.connection_pool.get_connection("_"), "keyraft")
    cli = shutil.which("redis-cli") or "/usr/bin/redis-cli"
    base = [cli, "-c", "-p", str(kr.port)]
    out = subprocess.run(base + ["SET", "clikey", "hello"], capture_output=True, timeout=10)
    assert out.stdout.strip() == b"OK"
    out = subprocess.run(base + ["GET", "clikey"], capture_output=True, timeout=10)
    assert out.stdout.strip() == b"hello"


def test_redis_py_cluster_client(kr):
    r = kr.client()
    r.execute_command("CLUSTER", "ADDSLOTSRANGE", "0", "16383")
    wait_state_ok(r.connection_pool.get_connection("_"), "keyraft")
    rc = RedisCluster(host="127.0.0.1", port=kr.port, socket_timeout=10)
    try:
        assert rc.set("pykey", "v1") is True
        assert rc.get("pykey") == b"v1"
        assert rc.mset_nonatomic({"a": "1", "b": "2", "c": "3"}) == [True, True, True]
        assert rc.mget_nonatomic("a", "b", "c") == [b"1", b"2", b"3"]
        assert rc.mget("{u}1", "{u}2") == [None, None]
        pipe = rc.pipeline()
        pipe.set("p1", 1).set("p2", 2).get("p1").incrby("p3", 5)
        assert pipe.execute() == [True, True, b"1", 5]
        assert [n.port for n in rc.get_nodes()] == [kr.port]
    finally:
        rc.close()
