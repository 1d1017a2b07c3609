"""Shards are Raft groups (issue 6): the node's group listens on the cluster
bus port from startup and shares it with the bus; CLUSTER REPLICATE joins
the master's group; roles, redirection and failover follow Raft."""
import os
import shutil
import signal
import socket
import subprocess
import threading

import pytest
import redis

from harness import KEYRAFT, Server, wait_until


def bus_port(server):
    return server.port + 10000


def connects(host, port):
    try:
        with socket.create_connection((host, port), timeout=1):
            return True
    except OSError:
        return False


def closed_by_peer(sock, timeout=5):
    """True once the peer closes 'sock' (reads EOF or a reset)."""
    sock.settimeout(timeout)
    try:
        while sock.recv(4096):
            pass
    except ConnectionResetError:
        pass
    return True


def wait_state_ok(r):
    wait_until(lambda: r.execute_command("CLUSTER", "INFO").startswith(b"cluster_state:ok"),
               timeout=10, what="cluster_state:ok")


@pytest.fixture
def cluster_node():
    node = Server(KEYRAFT, args=["--cluster-enabled", "yes"]).start()
    yield node
    node.cleanup()


# ---- The bus port (step 1) ----

def test_cluster_node_listens_on_bus_port_from_startup(cluster_node):
    # Listening as soon as clients can connect, with appendonly no.
    assert connects("127.0.0.1", bus_port(cluster_node))
    # `bind 127.0.0.1` holds for the bus port too.
    assert not connects("127.0.0.2", bus_port(cluster_node))
    # A bus connection is accepted and handed to the bus receiver (which
    # keeps it, or closes it when none is registered); an unknown preamble
    # is closed.
    with socket.create_connection(("127.0.0.1", bus_port(cluster_node)), timeout=2) as s:
        s.sendall(b"KRBUS001")
    with socket.create_connection(("127.0.0.1", bus_port(cluster_node)), timeout=2) as s:
        s.sendall(b"GARBAGE!")
        assert closed_by_peer(s)
    r = cluster_node.client()
    assert r.execute_command("CLUSTER", "ADDSLOTSRANGE", 0, 16383) == b"OK"
    wait_state_ok(r)
    assert r.set("k", "v") and r.get("k") == b"v"
    assert r.info("persistence")["loading"] == 0


def test_cluster_port_directive(tmp_path):
    node = Server(KEYRAFT, args=["--cluster-enabled", "yes"])
    cport = None
    for _ in range(20):
        with socket.socket() as s:
            s.bind(("127.0.0.1", 0))
            cport = s.getsockname()[1]
        if cport != node.port + 10000:
            break
    node.cmd += ["--cluster-port", str(cport)]
    node.start()
    try:
        assert connects("127.0.0.1", cport)
        nodes = node.client().execute_command("CLUSTER", "NODES").decode()
        assert f":{node.port}@{cport} " in nodes
    finally:
        node.cleanup()


def test_restarted_cluster_node_serves_at_once(cluster_node):
    r = cluster_node.client()
    r.execute_command("CLUSTER", "ADDSLOTSRANGE", 0, 16383)
    wait_state_ok(r)
    for i in range(100):
        r.set(f"k{i}", i)
    r.close()
    assert cluster_node.stop() == 0
    cluster_node.start()
    r = cluster_node.client()
    # The log of a group of one is replayed before clients are served.
    assert r.dbsize() == 100 and r.info("persistence")["loading"] == 0
    wait_state_ok(r)
    assert r.get("k99") == b"99"
    assert connects("127.0.0.1", bus_port(cluster_node))


def test_standalone_replication_uses_the_bus_port():
    master = Server(KEYRAFT, args=["--appendonly", "yes"]).start()
    replica = Server(KEYRAFT, args=["--appendonly", "no"]).start()
    try:
        assert connects("127.0.0.1", bus_port(master))
        # A standalone node without a log has no group, hence no bus port.
        assert not connects("127.0.0.1", bus_port(replica))
        rm, rr = master.client(), replica.client()
        rm.set("a", "1")
        assert rr.execute_command("REPLICAOF", "127.0.0.1", master.port) == b"OK"
        wait_until(lambda: rr.info("replication").get("master_link_status") == "up",
                   timeout=20, what="replica link up")
        # Once a member, the replica listens on its bus port, and the log
        # flows over the masters' and replicas' shared ports.
        assert connects("127.0.0.1", bus_port(replica))
        rm.set("b", "2")
        wait_until(lambda: rr.get("b") == b"2", what="replicated write")
        assert rr.get("a") == b"1"
        with pytest.raises(redis.exceptions.ReadOnlyError):
            rr.set("x", "y")
        # Bus connections to a member do not disturb its Raft traffic.
        with socket.create_connection(("127.0.0.1", bus_port(replica)), timeout=2) as s:
            s.sendall(b"KRBUS001")
        rm.set("c", "3")
        wait_until(lambda: rr.get("c") == b"3", what="replicated write after bus connection")
    finally:
        master.cleanup()
        replica.cleanup()


# ---- Shards are Raft groups (step 2) ----

def random_id():
    return os.urandom(20).hex()


def write_nodes_conf(servers, ids, slots=None):
    """Gives every server a nodes.conf in which all of them know each other
    as masters: 'slots' maps a server's index to its slot ranges (default:
    server 0 owns every slot, the others none)."""
    slots = slots if slots is not None else {0: "0-16383"}
    for me, server in enumerate(servers):
        lines = []
        for i, (other, node_id) in enumerate(zip(servers, ids)):
            flags = ("myself," if i == me else "") + "master"
            owned = " " + slots[i] if i in slots else ""
            lines.append(f"{node_id} 127.0.0.1:{other.port}@{other.port + 10000} {flags} - 0 0 "
                         f"{i + 1} connected{owned}")
        lines.append(f"vars currentEpoch {len(servers)} lastVoteEpoch 0")
        with open(os.path.join(server.dir, "nodes.conf"), "w") as f:
            f.write("\n".join(lines) + "\n")


def cluster_servers(n, node_timeout_ms):
    """'n' cluster-mode servers, not started yet, on distinct ports (free
    ports are picked before any server binds one, so the same port can come
    back twice)."""
    servers, ports = [], set()
    while len(servers) < n:
        s = Server(KEYRAFT, args=["--cluster-enabled", "yes", "--cluster-node-timeout",
                                  str(node_timeout_ms)])
        if s.port in ports or s.port + 10000 in ports or s.port - 10000 in ports:
            shutil.rmtree(s.dir, ignore_errors=True)
            continue
        ports.add(s.port)
        servers.append(s)
    return servers


def nodes_lines(server):
    """CLUSTER NODES as {id: (flags, master, epoch, slots)}."""
    text = server.client().execute_command("CLUSTER", "NODES").decode()
    out = {}
    for line in text.splitlines():
        f = line.split(" ")
        out[f[0]] = (f[2].split(","), f[3], int(f[6]), f[8:])
    return out


def myself(server):
    return next(v for v in nodes_lines(server).values() if "myself" in v[0])


def is_master_in_own_view(server):
    flags, _, _, slots = myself(server)
    return "master" in flags and slots == ["0-16383"]


def slave_of(server, node_id, master_id):
    try:
        flags, master, _, _ = nodes_lines(server)[node_id]
    except (redis.exceptions.ConnectionError, KeyError):
        return False
    return "slave" in flags and master == master_id


@pytest.fixture
def shard():
    servers = cluster_servers(3, node_timeout_ms=3000)
    ids = [random_id() for _ in servers]
    write_nodes_conf(servers, ids)
    for s in servers:
        s.start()
    wait_state_ok(servers[0].client())
    yield servers, ids
    for s in servers:
        s.cleanup()


def replicate(server, master_id):
    return server.client().execute_command("CLUSTER", "REPLICATE", master_id)


def form_shard(servers, ids):
    a, b, c = servers
    for replica in (b, c):
        assert replicate(replica, ids[0]) == b"OK"
    for replica, rid in ((b, ids[1]), (c, ids[2])):
        wait_until(lambda: slave_of(a, rid, ids[0]), timeout=10, what="master sees its replica")
        wait_until(lambda: replica.client().info("replication").get("master_link_status") == "up",
                   timeout=10, what="replica joined")


def safe_get(conn, key):
    """GET, or None while the node cannot answer yet (loading, restarting).
    A READONLY connection says READONLY again: redis-py reconnects after
    -LOADING (a ConnectionError to it)."""
    try:
        if getattr(conn, "is_readonly", False):
            conn.execute_command("READONLY")
        return conn.get(key)
    except redis.RedisError:
        return None


def readonly_client(server):
    r = redis.Redis(port=server.port, socket_timeout=10, single_connection_client=True)
    assert r.execute_command("READONLY") in (True, b"OK")
    r.is_readonly = True
    return r


def test_replicate_errors_and_views(shard):
    (a, b, c), ids = shard
    ra, rb = a.client(), b.client()
    ra.set("before", "1")
    unknown = random_id()
    with pytest.raises(redis.ResponseError, match=f"^Unknown node {unknown}$"):
        replicate(b, unknown)
    with pytest.raises(redis.ResponseError, match="^Can't replicate myself$"):
        replicate(b, ids[1])
    with pytest.raises(redis.ResponseError,
                       match="^To set a master the node must be empty and without assigned "
                             "slots.$"):
        replicate(a, ids[1])
    # REPLICATE answers at once, and myself is a slave of the master at once.
    assert replicate(b, ids[0]) == b"OK"
    flags, master, _, slots = myself(b)
    assert flags == ["myself", "slave"] and master == ids[0] and slots == []
    assert replicate(c, ids[0]) == b"OK"
    form_shard((a, b, c), ids)
    for replica_id in ids[1:]:
        assert slave_of(a, replica_id, ids[0])
    # Replicating a replica.
    with pytest.raises(redis.ResponseError, match="^I can only replicate a master, not a replica.$"):
        ra.execute_command("CLUSTER", "REPLICATE", ids[1])
    # Replicating the same master again is a no-op.
    assert replicate(b, ids[0]) == b"OK"
    with pytest.raises(redis.ResponseError, match="^You should send CLUSTER FAILOVER to a replica$"):
        ra.execute_command("CLUSTER", "FAILOVER")
    # Data: the master's writes reach the replicas; READONLY serves reads there.
    for i in range(100):
        ra.set(f"k{i}", i)
    for replica in (b, c):
        ro = readonly_client(replica)
        wait_until(lambda: ro.get("k99") == b"99", what="replicated writes")
        assert ro.get("before") == b"1" and ro.dbsize() == 101
        slot = ra.execute_command("CLUSTER", "KEYSLOT", "k1")
        with pytest.raises(redis.ResponseError, match=f"^MOVED {slot} 127.0.0.1:{a.port}$"):
            ro.set("k1", "x")  # writes always go to the master
        ro.execute_command("READWRITE")
        with pytest.raises(redis.ResponseError, match=f"^MOVED {slot} 127.0.0.1:{a.port}$"):
            ro.get("k1")
        plain = replica.client()
        with pytest.raises(redis.ResponseError, match=f"^MOVED {slot} 127.0.0.1:{a.port}$"):
            plain.get("k1")
        assert "slave" in myself(replica)[0]
    info = ra.execute_command("CLUSTER", "INFO").decode()
    assert "cluster_state:ok" in info
    slots = ra.execute_command("CLUSTER", "SLOTS")
    assert len(slots) == 1 and slots[0][2][1] == a.port
    assert sorted(n[1] for n in slots[0][3:]) == sorted([b.port, c.port])


def test_manual_failover_and_kill(shard):
    (a, b, c), ids = shard
    form_shard((a, b, c), ids)
    ra = a.client()
    old_epoch = myself(a)[2]
    acked = {}
    stop = threading.Event()

    def writer():
        i = 0
        while not stop.is_set():
            try:
                ra.set(f"w{i}", i)
                acked[f"w{i}"] = str(i).encode()
            except redis.RedisError:
                pass
            i += 1

    t = threading.Thread(target=writer)
    t.start()
    try:
        wait_until(lambda: len(acked) > 50, what="writes before the failover")
        assert b.client().execute_command("CLUSTER", "FAILOVER") == b"OK"
        wait_until(lambda: is_master_in_own_view(b), timeout=15, what="b master after FAILOVER")
        wait_until(lambda: slave_of(a, ids[0], ids[1]), timeout=15, what="a follows b")
    finally:
        stop.set()
        t.join(10)
    assert myself(b)[2] > old_epoch
    wait_until(lambda: slave_of(c, ids[2], ids[1]), timeout=15, what="c follows b")
    rb = b.client()
    wait_state_ok(rb)  # gossip may have had the slots unassigned for a moment
    assert all(rb.get(k) == v for k, v in acked.items()), "an acknowledged write was lost"
    rb.set("after-failover", "1")
    slot = rb.execute_command("CLUSTER", "KEYSLOT", "x")
    with pytest.raises(redis.ResponseError, match=f"^MOVED {slot} 127.0.0.1:{b.port}$"):
        ra.set("x", "1")

    # kill -9 of the master: a follower takes over with a higher epoch.
    epoch_b = myself(b)[2]
    b.stop(signal.SIGKILL)
    survivors = [a, c]
    wait_until(lambda: any(is_master_in_own_view(s) for s in survivors), timeout=15,
               what="a new master after kill -9")
    new = next(s for s in survivors if is_master_in_own_view(s))
    new_id = ids[servers_index(survivors, new, a, c)]
    assert myself(new)[2] > epoch_b
    rn = new.client()
    wait_state_ok(rn)
    assert rn.get("after-failover") == b"1"
    assert all(rn.get(k) == v for k, v in acked.items())
    rn.set("after-kill", "1")

    # The old master comes back as a replica of the new one.
    b.start()
    wait_until(lambda: slave_of(b, ids[1], new_id), timeout=15, what="old master rejoins as slave")
    ro = readonly_client(b)
    wait_until(lambda: safe_get(ro, "after-kill") == b"1", timeout=10, what="old master catches up")


def servers_index(survivors, new, a, c):
    return 0 if new is a else 2


@pytest.fixture
def shard_of_two():
    """Masters m (slots 0-5000), x and y (the rest), and r, m's only replica,
    with 50 keys written on m and replicated to r."""
    servers = cluster_servers(4, node_timeout_ms=2000)
    m, r, x, y = servers
    ids = [random_id() for _ in servers]
    write_nodes_conf(servers, ids, slots={0: "0-5000", 2: "5001-10000", 3: "10001-16383"})
    try:
        for s in servers:
            s.start()
        for s in (m, x, y):
            wait_state_ok(s.client())
        assert replicate(r, ids[0]) == b"OK"
        wait_until(lambda: slave_of(m, ids[1], ids[0]), timeout=10, what="m sees its replica")
        rm = m.client()
        wait_until(lambda: rm.info("replication").get("slave0", {}).get("state") == "online",
                   timeout=10, what="the replica votes")
        keys = [k for k in (f"k{i}" for i in range(300))
                if rm.execute_command("CLUSTER", "KEYSLOT", k) <= 5000][:50]
        for k in keys:
            rm.set(k, k)
        ro = readonly_client(r)
        wait_until(lambda: ro.get(keys[-1]) == keys[-1].encode(), what="replicated writes")
        yield servers, ids, keys
    finally:
        for s in servers:
            s.cleanup()


def test_shard_of_two_continues_alone_once_its_master_fails(shard_of_two):
    """design.md "Cluster": in a shard of two, the survivor continues alone
    only after a majority of masters agrees its master failed."""
    (m, r, x, y), ids, keys = shard_of_two
    old_epoch = myself(m)[2]

    m.stop(signal.SIGKILL)
    wait_until(lambda: myself(r)[0] == ["myself", "master"] and myself(r)[3] == ["0-5000"],
               timeout=30, what="the survivor continues alone as master")
    assert myself(r)[2] > old_epoch
    assert "continuing alone" in r.read_log()
    rr = r.client()
    wait_state_ok(rr)
    assert all(rr.get(k) == k.encode() for k in keys)
    rr.set(keys[0], "after")
    # The others learn the new owner through gossip.
    wait_until(lambda: nodes_lines(x)[ids[1]][3] == ["0-5000"], timeout=15,
               what="x sees the new owner")

    # The old master comes back as a replica and gets the new writes.
    m.start()
    wait_until(lambda: slave_of(m, ids[0], ids[1]), timeout=20,
               what="old master rejoins as slave")
    wait_until(lambda: slave_of(r, ids[0], ids[1]), timeout=20,
               what="the survivor lists it as its replica")
    back = readonly_client(m)
    wait_until(lambda: safe_get(back, keys[0]) == b"after", timeout=20,
               what="old master receives the log")


def test_shard_of_two_master_continues_alone_once_its_replica_fails(shard_of_two):
    (m, r, x, y), ids, keys = shard_of_two
    r.stop(signal.SIGKILL)
    rm = redis.Redis(port=m.port, socket_timeout=3)

    def write_succeeds():
        try:
            return rm.set(keys[1], "alone") is True
        except redis.RedisError:
            return False

    # Writes cannot commit without the replica until the masters agree it
    # failed; then the master goes on alone.
    wait_until(write_succeeds, timeout=30, interval=0.2, what="a write on the master alone")
    assert "continuing alone" in m.read_log()
    assert myself(m)[0] == ["myself", "master"] and myself(m)[3] == ["0-5000"]
    assert all(rm.get(k) == k.encode() for k in keys[2:])
    # The replica comes back, is added to the group again, and catches up
    # (Raft may then elect either of the two: roles follow).
    r.start()
    ro = readonly_client(r)
    wait_until(lambda: safe_get(ro, keys[1]) == b"alone", timeout=20, what="replica catches up")

    def pair():
        """(master, replica) once both views agree, else None."""
        for a, b, ia, ib in ((m, r, 0, 1), (r, m, 1, 0)):
            if slave_of(a, ids[ib], ids[ia]) and slave_of(b, ids[ib], ids[ia]):
                return a, b
        return None

    wait_until(lambda: pair() is not None, timeout=20, what="one master, one replica")
    master, replica = pair()
    rw = master.client()
    wait_state_ok(rw)
    rw.set(keys[2], "both")
    rr = readonly_client(replica)
    wait_until(lambda: safe_get(rr, keys[2]) == b"both", timeout=10, what="replication resumed")


# ---- With redis-cli and gossip ----

REDIS_CLI = shutil.which("redis-cli") or "/usr/bin/redis-cli"


def cli(*args, timeout=60):
    return subprocess.run([REDIS_CLI, *args], capture_output=True, text=True, timeout=timeout)


def cli_check(server):
    res = cli("--cluster", "check", f"127.0.0.1:{server.port}")
    out = res.stdout + res.stderr
    return res.returncode == 0 and "[OK] All nodes agree about slots configuration." in out \
        and "[OK] All 16384 slots covered." in out and "[ERR]" not in out


def owns(server, slot):
    for token in myself(server)[3]:
        lo, _, hi = token.partition("-")
        if int(lo) <= slot <= int(hi or lo):
            return True
    return False


def test_redis_cli_create_with_replicas_and_manual_failover():
    nodes = cluster_servers(6, node_timeout_ms=2000)
    try:
        for s in nodes:
            s.start()
        res = cli("--cluster", "create", *[f"127.0.0.1:{s.port}" for s in nodes],
                  "--cluster-replicas", "1", "--cluster-yes")
        assert res.returncode == 0, res.stdout + res.stderr
        assert "[OK] All 16384 slots covered." in res.stdout
        wait_until(lambda: cli_check(nodes[0]), timeout=20, what="a clean check")
        for s in nodes:
            wait_state_ok(s.client())
        ids = {s.port: s.client().execute_command("CLUSTER", "MYID").decode() for s in nodes}
        # Every node sees three replicas, each following the master whose
        # Raft group it joined.
        wait_until(lambda: all(sum("slave" in v[0] for v in nodes_lines(s).values()) == 3
                               for s in nodes), timeout=20, what="three replicas in every view")
        replica = next(s for s in nodes if "slave" in myself(s)[0])
        master_id = myself(replica)[1]
        master = next(s for s in nodes if ids[s.port] == master_id)
        rm = master.client()
        key = next(k for k in (f"k{i}" for i in range(1000))
                   if owns(master, rm.execute_command("CLUSTER", "KEYSLOT", k)))
        rm.set(key, "v")
        ro = readonly_client(replica)
        wait_until(lambda: safe_get(ro, key) == b"v", timeout=10, what="replicated write")
        # Manual failover: the replica becomes the master in every view.
        assert replica.client().execute_command("CLUSTER", "FAILOVER") == b"OK"
        wait_until(lambda: "master" in myself(replica)[0] and myself(replica)[3],
                   timeout=15, what="replica promoted")
        wait_until(lambda: all(slave_of(s, master_id, ids[replica.port]) for s in nodes),
                   timeout=20, what="every node sees the old master as a replica")
        wait_until(lambda: cli_check(nodes[0]), timeout=20, what="a clean check after failover")
        assert replica.client().get(key) == b"v"
    finally:
        for s in nodes:
            s.cleanup()


def test_replica_moving_to_another_shard_leaves_the_old_group():
    servers = cluster_servers(4, node_timeout_ms=1000)
    a, b, c, d = servers
    ids = [random_id() for _ in servers]
    write_nodes_conf(servers, ids, slots={0: "0-8000", 1: "8001-16383"})
    try:
        for s in servers:
            s.start()
        for s in (a, b):
            wait_state_ok(s.client())
        ra = a.client()
        for replica in (c, d):
            assert replicate(replica, ids[0]) == b"OK"
            wait_until(lambda: slave_of(a, ids[servers.index(replica)], ids[0]), timeout=10,
                       what="a sees its replica")
        wait_until(lambda: ra.info("replication")["connected_slaves"] == 2, timeout=10,
                   what="two replicas in a's group")
        wait_until(lambda: d.client().info("replication").get("master_link_status") == "up",
                   timeout=10, what="d follows a")
        # d moves to b's shard: a drops it from its group once gossip says so.
        assert replicate(d, ids[1]) == b"OK"
        wait_until(lambda: slave_of(b, ids[3], ids[1]), timeout=10, what="b sees its replica")
        wait_until(lambda: ra.info("replication")["connected_slaves"] == 1, timeout=15,
                   what="a removes d from its group")
        assert "removed from my Raft group" in a.read_log()
        # a's shard still commits with a and c, and d replicates b's.
        key_a = next(k for k in (f"k{i}" for i in range(1000))
                     if ra.execute_command("CLUSTER", "KEYSLOT", k) <= 8000)
        assert ra.set(key_a, "1") is True
        rb = b.client()
        key = next(k for k in (f"k{i}" for i in range(1000))
                   if rb.execute_command("CLUSTER", "KEYSLOT", k) > 8000)
        rb.set(key, "on-b")
        ro = readonly_client(d)
        wait_until(lambda: safe_get(ro, key) == b"on-b", timeout=10, what="d replicates b")
    finally:
        for s in servers:
            s.cleanup()
