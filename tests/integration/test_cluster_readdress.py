"""A cluster node that comes back on a new IP address (a container that
restarted and got another one) keeps its node id, its data and its place in
its shard's Raft group (issue 7): peers are identified by node id, gossip
re-learns the address, and the Raft transport dials a member where gossip
last saw its node (node/shard.c resolve_member) rather than at the address
the Raft configuration recorded when it joined.

On loopback: nodes announce and bind 127.0.0.2 (plus 127.0.0.1 for the test
harness), and a restarted node moves to 127.0.0.3."""
import os
import socket

import pytest
import redis

from harness import KEYRAFT, Server, wait_until

OLD_IP, NEW_IP = "127.0.0.2", "127.0.0.3"


def usable(ip):
    try:
        with socket.socket() as s:
            s.bind((ip, 0))
        return True
    except OSError:
        return False


pytestmark = pytest.mark.skipif(not (usable(OLD_IP) and usable(NEW_IP)),
                                reason="127.0.0.2/127.0.0.3 are not usable on loopback")


def at(server, ip):
    """Makes 'server' bind and announce 'ip' from its next start."""
    base = server.cmd[:server.base_len]
    server.cmd = base + ["--bind", ip, "127.0.0.1", "--cluster-announce-ip", ip]
    server.bus_ip = ip


def nodes_view(server):
    text = server.client().execute_command("CLUSTER", "NODES").decode()
    out = {}
    for line in text.splitlines():
        f = line.split(" ")
        out[f[0]] = (f[1].split("@")[0], f[2].split(","), f[3])
    return out


def myid(server):
    """The node id, once the restarted node has replayed its log."""
    def answered():
        try:
            return server.client().execute_command("CLUSTER", "MYID").decode()
        except redis.BusyLoadingError:
            return None
    wait_until(lambda: answered() is not None, timeout=30, what="the node loaded")
    return answered()


def try_set(server, key, value):
    try:
        return server.client().set(key, value)
    except redis.RedisError:
        return False


def readonly_get(server, key):
    r = redis.Redis(port=server.port, socket_timeout=5, single_connection_client=True)
    try:
        r.execute_command("READONLY")
        return r.get(key)
    except redis.RedisError:
        return None
    finally:
        r.close()


def leader_of(servers):
    for s in servers:
        try:
            if s.client().info("replication")["role"] == "master":
                return s
        except redis.RedisError:
            continue
    return None


@pytest.fixture
def shard():
    servers = []
    ids = [os.urandom(20).hex() for _ in range(3)]
    for _ in range(3):
        s = Server(KEYRAFT, args=["--cluster-enabled", "yes", "--cluster-node-timeout", "3000"])
        s.base_len = len(s.cmd)
        at(s, OLD_IP)
        servers.append(s)
    for me, s in enumerate(servers):
        lines = []
        for i, (other, node_id) in enumerate(zip(servers, ids)):
            flags = ("myself," if i == me else "") + "master"
            owned = " 0-16383" if i == 0 else ""
            lines.append(f"{node_id} {OLD_IP}:{other.port}@{other.port + 10000} {flags} - 0 0 "
                         f"{i + 1} connected{owned}")
        lines.append("vars currentEpoch 3 lastVoteEpoch 0")
        with open(os.path.join(s.dir, "nodes.conf"), "w") as f:
            f.write("\n".join(lines) + "\n")
    try:
        for s in servers:
            s.start()
        a = servers[0]
        wait_until(lambda: b"cluster_state:ok" in a.client().execute_command("CLUSTER", "INFO"),
                   timeout=30, what="cluster_state:ok")
        for s in servers[1:]:
            assert s.client().execute_command("CLUSTER", "REPLICATE", ids[0]) == b"OK"
        for s in servers[1:]:
            wait_until(lambda s=s: s.client().info("replication").get("master_link_status") ==
                       "up", timeout=30, what="replica joined")
        yield servers, ids
    finally:
        for s in servers:
            s.cleanup()


def test_replica_on_a_new_address_keeps_replicating(shard):
    servers, ids = shard
    a, b, c = servers
    a.client().set("before", "1")
    wait_until(lambda: readonly_get(b, "before") == b"1", timeout=20, what="b has 'before'")

    b.stop()
    at(b, NEW_IP)
    b.start()
    assert myid(b) == ids[1]
    assert readonly_get(b, "before") == b"1"
    # Gossip moves b in every view.
    for s in servers:
        wait_until(lambda s=s: nodes_view(s)[ids[1]][0] == f"{NEW_IP}:{b.port}", timeout=30,
                   what=f"b's new address in {s.port}'s view")
    # The leader reaches b at its new address: new writes arrive there.
    a.client().set("after", "2")
    wait_until(lambda: readonly_get(b, "after") == b"2", timeout=30,
               what="b replicating from its new address")
    assert nodes_view(a)[ids[1]][1:] == (["slave"], ids[0])


def test_master_on_a_new_address_rejoins_its_shard(shard):
    servers, ids = shard
    a, b, c = servers
    a.client().set("k1", "v1")
    for s in (b, c):
        wait_until(lambda s=s: readonly_get(s, "k1") == b"v1", timeout=20, what="k1 replicated")

    a.stop()
    wait_until(lambda: leader_of([b, c]) is not None, timeout=30, what="a new leader")
    wait_until(lambda: try_set(leader_of([b, c]), "k2", "v2"), timeout=30,
               what="the new leader taking writes")

    at(a, NEW_IP)
    a.start()
    assert myid(a) == ids[0]
    # a rejoins as a follower, reachable at its new address: it gets k2.
    wait_until(lambda: readonly_get(a, "k2") == b"v2", timeout=60,
               what="the old master catching up at its new address")
    assert readonly_get(a, "k1") == b"v1"
    for s in (b, c):
        wait_until(lambda s=s: nodes_view(s)[ids[0]][0] == f"{NEW_IP}:{a.port}", timeout=30,
                   what="a's new address gossiped")
    # And a still takes part in the group: a write after it is back reaches it.
    wait_until(lambda: try_set(leader_of(servers), "k3", "v3"), timeout=30, what="write k3")
    wait_until(lambda: readonly_get(a, "k3") == b"v3", timeout=30, what="k3 on a")
