"""Shards are Raft groups (issue 6): the node's group listens on the cluster
bus port from startup and shares it with the bus; CLUSTER REPLICATE joins
the master's group; roles, redirection and failover follow Raft."""
import socket

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
    # A bus connection is accepted (and, with no bus receiver registered,
    # closed); an unknown preamble is closed.
    for preamble in (b"KRBUS001", b"GARBAGE!"):
        with socket.create_connection(("127.0.0.1", bus_port(cluster_node)), timeout=2) as s:
            s.sendall(preamble)
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
        # A bus connection to a member still gets handled (closed: no
        # receiver) while Raft traffic goes on.
        with socket.create_connection(("127.0.0.1", bus_port(replica)), timeout=2) as s:
            s.sendall(b"KRBUS001")
            assert closed_by_peer(s)
        rm.set("c", "3")
        wait_until(lambda: rr.get("c") == b"3", what="replicated write after bus connection")
    finally:
        master.cleanup()
        replica.cleanup()
