"""Client-facing vs bus addresses (issue 7; Valkey 8's
cluster-announce-client-ipv4 / cluster-announce-client-port) and
cluster-announce-hostname, on loopback without namespaces.

Each node listens on 127.0.0.2 (its bus, gossip and Raft address, announced
with cluster-announce-ip) and 127.0.0.1. Clients are meant to reach it only
through a forwarder on 127.0.0.1:<another port>, as a host reaches a
container through a published port. So every address a client is given
(MOVED, ASK, CLUSTER NODES/SLOTS/SHARDS) must be the forwarder's, while
nodes.conf and gossip keep the bus address."""
import shutil
import socket
import subprocess

import pytest
import redis
from redis.cluster import RedisCluster

from forwarder import Forwarder
from harness import KEYRAFT, Server, wait_until

BUS_IP = "127.0.0.2"
CLIENT_IP = "127.0.0.1"
REDIS_CLI = shutil.which("redis-cli") or "/usr/bin/redis-cli"


def loopback_alias_works():
    try:
        with socket.socket() as s:
            s.bind((BUS_IP, 0))
        return True
    except OSError:
        return False


pytestmark = pytest.mark.skipif(not loopback_alias_works(),
                                reason=f"{BUS_IP} is not usable on this host's loopback")


def cli(*args, timeout=60):
    return subprocess.run([REDIS_CLI, *args], capture_output=True, text=True, timeout=timeout)


@pytest.fixture(scope="module")
def cluster():
    nodes, forwarders = [], []
    try:
        for i in range(3):
            s = Server(KEYRAFT, args=["--cluster-enabled", "yes", "--cluster-node-timeout", "3000"])
            fwd = Forwarder((BUS_IP, s.port), listen_ip=CLIENT_IP)
            forwarders.append(fwd)
            s.cmd += ["--bind", BUS_IP, CLIENT_IP, "--cluster-announce-ip", BUS_IP,
                      "--cluster-announce-client-ipv4", CLIENT_IP,
                      "--cluster-announce-client-port", str(fwd.port),
                      "--cluster-announce-hostname", f"node-{i}.example"]
            nodes.append(s.start())
        res = cli("--cluster", "create", *[f"{BUS_IP}:{s.port}" for s in nodes],
                  "--cluster-replicas", "0", "--cluster-yes")
        assert res.returncode == 0, res.stdout + res.stderr
        for s in nodes:
            wait_until(lambda s=s: b"cluster_state:ok" in s.client().execute_command(
                "CLUSTER", "INFO"), timeout=30, what="cluster_state:ok")
        # Every node has heard every other's client address.
        want = {f"{CLIENT_IP}:{f.port}" for f in forwarders}
        for s in nodes:
            wait_until(lambda s=s: client_addrs(s) == want, timeout=30,
                       what="client addresses gossiped")
        yield nodes, forwarders
    finally:
        for s in nodes:
            s.cleanup()
        for f in forwarders:
            f.close()


def nodes_lines(server):
    text = server.client().execute_command("CLUSTER", "NODES")
    text = text.decode() if isinstance(text, bytes) else text
    return [line.split(" ") for line in text.splitlines() if line]


def client_addrs(server):
    return {f[1].split("@")[0] for f in nodes_lines(server)}


def test_cluster_nodes_gives_client_addresses_and_hostnames(cluster):
    nodes, forwarders = cluster
    for s in nodes:
        lines = nodes_lines(s)
        assert len(lines) == 3
        for f in lines:
            addr, rest = f[1].split("@")
            cport, hostname = rest.split(",")
            ip, port = addr.split(":")
            assert ip == CLIENT_IP
            assert int(port) in {fw.port for fw in forwarders}
            # The bus port stays the real one (port + 10000).
            assert int(cport) - 10000 in {n.port for n in nodes}
            assert hostname.startswith("node-") and hostname.endswith(".example")


def test_nodes_conf_keeps_bus_addresses(cluster):
    nodes, _ = cluster
    for s in nodes:
        s.client().execute_command("CLUSTER", "SAVECONFIG")
        with open(f"{s.dir}/nodes.conf") as f:
            text = f.read()
        for n in nodes:
            assert f"{BUS_IP}:{n.port}@{n.port + 10000}" in text, text
        assert f"{CLIENT_IP}:" not in text


def test_cluster_slots_and_shards(cluster):
    nodes, forwarders = cluster
    fwd_ports = {f.port for f in forwarders}
    slots = nodes[0].client().execute_command("CLUSTER", "SLOTS")
    assert sum(e[1] - e[0] + 1 for e in slots) == 16384
    for entry in slots:
        ip, port, _, meta = entry[2]
        assert ip.decode() == CLIENT_IP and port in fwd_ports
        assert meta[0] == b"hostname" and meta[1].startswith(b"node-")
    shards = nodes[1].client().execute_command("CLUSTER", "SHARDS")
    for shard in shards:
        fields = dict(zip(shard[::2], shard[1::2]))
        for node in fields[b"nodes"]:
            nf = dict(zip(node[::2], node[1::2]))
            assert nf[b"ip"].decode() == CLIENT_IP and nf[b"endpoint"].decode() == CLIENT_IP
            assert nf[b"port"] in fwd_ports
            assert nf[b"hostname"].startswith(b"node-")


def test_moved_gives_the_client_address(cluster):
    nodes, forwarders = cluster
    r = nodes[0].client()
    owner_port = {}
    for fields in nodes_lines(nodes[0]):
        for token in fields[8:]:
            lo, _, hi = token.partition("-")
            owner_port[(int(lo), int(hi or lo))] = int(fields[1].split("@")[0].split(":")[1])
    myself_client = next(int(f[1].split("@")[0].split(":")[1])
                         for f in nodes_lines(nodes[0]) if "myself" in f[2])
    seen = 0
    for i in range(200):
        key = f"key:{i}"
        slot = r.execute_command("CLUSTER", "KEYSLOT", key)
        port = next(p for (lo, hi), p in owner_port.items() if lo <= slot <= hi)
        if port == myself_client:
            continue
        with pytest.raises(redis.ResponseError) as e:
            r.get(key)
        assert str(e.value) == f"MOVED {slot} {CLIENT_IP}:{port}"
        seen += 1
    assert seen > 50


def test_clients_work_through_the_client_addresses_only(cluster):
    nodes, forwarders = cluster
    # redis-cli -c follows MOVED to the forwarders.
    for i in range(30):
        res = cli("-c", "-h", CLIENT_IP, "-p", str(forwarders[0].port), "SET", f"k{i}", f"v{i}")
        assert res.stdout.strip() == "OK", res.stdout + res.stderr
    rc = RedisCluster(host=CLIENT_IP, port=forwarders[1].port)
    try:
        for i in range(30):
            assert rc.get(f"k{i}") == f"v{i}".encode()
        # redis-py only ever talked to forwarder ports.
        ports = {n.port for n in rc.get_nodes()}
        assert ports == {f.port for f in forwarders}
    finally:
        rc.close()


def test_config_set_client_address_spreads(cluster):
    nodes, forwarders = cluster
    r = nodes[2].client()
    try:
        r.config_set("cluster-announce-client-port", "1234")
        wait_until(lambda: f"{CLIENT_IP}:1234" in client_addrs(nodes[0]), timeout=15,
                   what="the new client port gossiped")
    finally:
        r.config_set("cluster-announce-client-port", str(forwarders[2].port))
    wait_until(lambda: f"{CLIENT_IP}:{forwarders[2].port}" in client_addrs(nodes[0]), timeout=15,
               what="the client port back")
    # Unset: clients get the bus address.
    try:
        r.config_set("cluster-announce-client-ipv4", "")
        r.config_set("cluster-announce-client-port", "0")
        wait_until(lambda: f"{BUS_IP}:{nodes[2].port}" in client_addrs(nodes[0]), timeout=15,
                   what="the bus address for clients")
    finally:
        r.config_set("cluster-announce-client-ipv4", CLIENT_IP)
        r.config_set("cluster-announce-client-port", str(forwarders[2].port))
