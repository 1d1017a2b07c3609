"""The docker-compose topology (issue 7) without a Docker engine: each node
in a network namespace of its own, all on port 6379 (bus 16379), joined by a
bridge, configured with deploy/conf/keyraft.conf as the containers are, and
created with `redis-cli --cluster create` from the host. Clients on the host
reach node N only through a forwarder on 127.0.0.1 (a published port), which
each node announces with cluster-announce-client-ipv4/-port, while gossip
and Raft use the namespace addresses. A node that restarts with another IP
(a container's IP changing) keeps its id, data and shard.

Needs root and `ip netns`; skipped otherwise. Everything it creates (the
namespaces, their veth pairs, the bridge) is removed in teardown."""
import os
import random
import shutil
import signal
import subprocess
import tempfile

import pytest
import redis
from redis.cluster import RedisCluster

from forwarder import Forwarder
from harness import KEYRAFT, ROOT, wait_until

NODES = 6
CONF = os.path.join(ROOT, "deploy", "conf", "keyraft.conf")
REDIS_CLI = shutil.which("redis-cli") or "/usr/bin/redis-cli"
IP = shutil.which("ip")


def netns_available():
    if IP is None or os.geteuid() != 0:
        return False
    name = f"krprobe{os.getpid() % 100000}"
    if subprocess.run([IP, "netns", "add", name], capture_output=True).returncode != 0:
        return False
    subprocess.run([IP, "netns", "del", name], capture_output=True)
    return True


pytestmark = pytest.mark.skipif(not netns_available(),
                                reason="needs root and `ip netns` (network namespaces)")


def sh(*args, check=True):
    res = subprocess.run(args, capture_output=True, text=True, timeout=30)
    if check:
        assert res.returncode == 0, f"{' '.join(args)}: {res.stderr}"
    return res


class Node:
    def __init__(self, net, index):
        self.net = net
        self.index = index
        self.ns = f"{net.tag}n{index}"
        self.veth = f"{net.tag}v{index}"
        self.peer = f"{net.tag}p{index}"
        self.ip = net.address(10 + index)
        self.dir = os.path.join(net.tmp, f"node-{index}")
        os.makedirs(self.dir)
        self.log_path = os.path.join(self.dir, "server.log")
        self.proc = None
        self.forwarder = Forwarder((self.ip, 6379))

    def plug(self):
        sh(IP, "netns", "add", self.ns)
        sh(IP, "link", "add", self.veth, "type", "veth", "peer", "name", self.peer)
        sh(IP, "link", "set", self.peer, "netns", self.ns)
        sh(IP, "link", "set", self.veth, "master", self.net.bridge)
        sh(IP, "link", "set", self.veth, "up")
        self.exec(IP, "link", "set", "lo", "up")
        self.exec(IP, "addr", "add", f"{self.ip}/24", "dev", self.peer)
        self.exec(IP, "link", "set", self.peer, "up")

    def exec(self, *args):
        return sh(IP, "netns", "exec", self.ns, *args)

    def readdress(self, new_ip):
        self.exec(IP, "addr", "del", f"{self.ip}/24", "dev", self.peer)
        self.ip = new_ip
        self.exec(IP, "addr", "add", f"{self.ip}/24", "dev", self.peer)
        self.forwarder.target = (self.ip, 6379)

    def start(self):
        # The container config, with this node's data folder for /data.
        conf = os.path.join(self.dir, "keyraft.conf")
        with open(CONF) as src, open(conf, "w") as dst:
            for line in src:
                dst.write(f"dir {self.dir}\n" if line.startswith("dir ") else line)
        cmd = [IP, "netns", "exec", self.ns, KEYRAFT, conf,
               "--cluster-announce-ip", self.ip, "--cluster-announce-hostname",
               f"node-{self.index}", "--cluster-announce-client-ipv4", "127.0.0.1",
               "--cluster-announce-client-port", str(self.forwarder.port),
               "--cluster-node-timeout", "3000"]
        self.log = open(self.log_path, "ab")
        self.proc = subprocess.Popen(cmd, stdout=self.log, stderr=subprocess.STDOUT)
        wait_until(self.answers, timeout=30, what=f"node {self.index} up")

    def answers(self):
        if self.proc.poll() is not None:
            raise RuntimeError(f"node {self.index} exited:\n{self.read_log()}")
        try:
            self.client().ping()
            return True
        except redis.BusyLoadingError:
            return True
        except redis.RedisError:
            return False

    def client(self):
        """A connection from the host straight to the namespace address."""
        return redis.Redis(host=self.ip, port=6379, socket_timeout=10)

    def read_log(self):
        with open(self.log_path, "rb") as f:
            return f.read().decode(errors="replace")

    def stop(self, sig=signal.SIGTERM):
        if self.proc is None or self.proc.poll() is not None:
            return
        self.proc.send_signal(sig)
        try:
            self.proc.wait(15)
        except subprocess.TimeoutExpired:
            self.proc.kill()
            self.proc.wait(15)
        self.log.close()

    def sanitizer_report(self):
        text = self.read_log() if os.path.exists(self.log_path) else ""
        for marker in ("ERROR: AddressSanitizer", "ERROR: LeakSanitizer", "runtime error:"):
            at = text.find(marker)
            if at >= 0:
                return text[max(0, at - 200):at + 3000]
        return None


class Net:
    def __init__(self):
        self.tag = f"kr{os.getpid() % 10000}"
        self.bridge = f"{self.tag}br"
        self.subnet = random.randrange(100, 250)
        self.tmp = tempfile.mkdtemp(prefix="kr-netns-")
        self.nodes = []

    def address(self, host):
        return f"10.213.{self.subnet}.{host}"

    def up(self):
        sh(IP, "link", "add", self.bridge, "type", "bridge")
        sh(IP, "addr", "add", f"{self.address(1)}/24", "dev", self.bridge)
        sh(IP, "link", "set", self.bridge, "up")
        for i in range(NODES):
            node = Node(self, i)
            self.nodes.append(node)
            node.plug()

    def down(self):
        reports = []
        for node in self.nodes:
            node.stop()
            node.forwarder.close()
            report = node.sanitizer_report()
            if report:
                reports.append(report)
            # The pair goes now (a namespace outlives its deletion while
            # sockets in it linger in TIME_WAIT, and its veth with it).
            sh(IP, "link", "del", node.veth, check=False)
            sh(IP, "netns", "del", node.ns, check=False)
        sh(IP, "link", "del", self.bridge, check=False)
        shutil.rmtree(self.tmp, ignore_errors=True)
        assert not reports, "sanitizer report:\n" + "\n".join(reports)


def cluster_ok(node):
    try:
        return b"cluster_state:ok" in node.client().execute_command("CLUSTER", "INFO")
    except redis.RedisError:
        return False


def node_lines(node):
    text = node.client().execute_command("CLUSTER", "NODES").decode()
    return {f[0]: f for f in (line.split(" ") for line in text.splitlines() if line)}


@pytest.fixture(scope="module")
def net():
    n = Net()
    try:
        n.up()
        for node in n.nodes:
            node.start()
        res = subprocess.run([REDIS_CLI, "--cluster", "create",
                              *[f"{node.ip}:6379" for node in n.nodes],
                              "--cluster-replicas", "1", "--cluster-yes"],
                             capture_output=True, text=True, timeout=120)
        assert res.returncode == 0, res.stdout + res.stderr
        for node in n.nodes:
            wait_until(lambda node=node: cluster_ok(node), timeout=60, what="cluster_state:ok")
        want = {f"127.0.0.1:{node.forwarder.port}" for node in n.nodes}
        for node in n.nodes:
            wait_until(lambda node=node: {f[1].split("@")[0] for f in node_lines(node).values()}
                       == want, timeout=30, what="client addresses everywhere")
        yield n
    finally:
        n.down()


def test_every_node_on_port_6379_in_its_namespace(net):
    for node in net.nodes:
        lines = node_lines(node)
        assert len(lines) == NODES
        for f in lines.values():
            assert f[1].endswith("@16379,node-" + f[1].split(",")[1][5:])
        # nodes.conf keeps the bus (namespace) addresses.
        node.client().execute_command("CLUSTER", "SAVECONFIG")
        with open(os.path.join(node.dir, "nodes.conf")) as fh:
            text = fh.read()
        for other in net.nodes:
            assert f"{other.ip}:6379@16379" in text


def test_host_clients_through_published_ports(net):
    first = net.nodes[0].forwarder.port
    for i in range(50):
        res = subprocess.run([REDIS_CLI, "-c", "-p", str(first), "SET", f"key:{i}", str(i)],
                             capture_output=True, text=True, timeout=30)
        assert res.stdout.strip() == "OK", res.stdout + res.stderr
    rc = RedisCluster(host="127.0.0.1", port=net.nodes[3].forwarder.port)
    try:
        for i in range(50):
            assert rc.get(f"key:{i}") == str(i).encode()
        assert {n.port for n in rc.get_nodes()} == {node.forwarder.port for node in net.nodes}
    finally:
        rc.close()
    r = redis.Redis(port=first, socket_timeout=10)
    moved = 0
    for i in range(50):
        try:
            r.get(f"key:{i}")
        except redis.ResponseError as e:
            assert str(e).split(" ")[2].startswith("127.0.0.1:"), str(e)
            moved += 1
    assert moved > 0


def key_in_shard_of(node, net):
    """A key served by 'node''s shard (its own slots, or its master's)."""
    view = node_lines(net.nodes[0])
    me = view[myid(node)]
    owner = view[me[3]] if me[3] != "-" else me
    ranges = [tuple(int(x) for x in (t.split("-") * 2)[:2]) for t in owner[8:]
              if not t.startswith("[")]
    r = net.nodes[0].client()
    for i in range(100000):
        slot = r.execute_command("CLUSTER", "KEYSLOT", f"k{i}")
        if any(lo <= slot <= hi for lo, hi in ranges):
            return f"k{i}"
    raise AssertionError("no key found")


def myid(node):
    return node.client().execute_command("CLUSTER", "MYID").decode()


def answers_myid(node):
    try:
        return myid(node)
    except redis.RedisError:
        return None


def bus_ip_in_nodes_conf(node, node_id):
    node.client().execute_command("CLUSTER", "SAVECONFIG")
    with open(os.path.join(node.dir, "nodes.conf")) as fh:
        for line in fh:
            if line.startswith(node_id):
                return line.split(" ")[1].split(":")[0]
    return None


def readonly_get(node, key):
    r = redis.Redis(host=node.ip, port=6379, socket_timeout=5, single_connection_client=True)
    try:
        r.execute_command("READONLY")
        return r.get(key)
    except redis.RedisError:
        return None
    finally:
        r.close()


def try_set(rc, key, value):
    try:
        return rc.set(key, value)
    except redis.RedisError:
        return False


@pytest.mark.parametrize("role", ["slave", "master"])
def test_node_keeps_identity_and_data_on_a_new_ip(net, role):
    view = node_lines(net.nodes[0])
    target = next(node for node in net.nodes if role in view[myid(node)][2].split(","))
    node_id = myid(target)
    key = key_in_shard_of(target, net)
    rc = RedisCluster(host="127.0.0.1", port=net.nodes[0].forwarder.port
                      if target is not net.nodes[0] else net.nodes[1].forwarder.port)
    try:
        assert rc.set(key, "before")
        wait_until(lambda: readonly_get(target, key) == b"before", timeout=30,
                   what="the target has the key")
        old_ip = target.ip
        target.stop()
        target.readdress(net.address(100 + target.index))
        target.start()
        wait_until(lambda: answers_myid(target) is not None, timeout=60, what="loaded")
        assert myid(target) == node_id
        # Its data is back once it has replayed its log (-LOADING until then).
        wait_until(lambda: readonly_get(target, key) == b"before", timeout=60,
                   what="the key after the restart")
        # Peers re-learn the bus address from gossip, by node id.
        for other in net.nodes:
            if other is not target:
                wait_until(lambda other=other: bus_ip_in_nodes_conf(other, node_id) == target.ip,
                           timeout=60, what="the new bus address gossiped")
        for other in net.nodes:
            wait_until(lambda other=other: cluster_ok(other), timeout=60, what="ok again")
        # Writes to its shard reach it at its new address (Raft dials it there).
        wait_until(lambda: try_set(rc, key, "after"), timeout=60, what="a write after the move")
        wait_until(lambda: readonly_get(target, key) == b"after", timeout=60,
                   what="the moved node replicating")
        assert old_ip != target.ip
    finally:
        rc.close()
