"""The docker-compose topology (issue 7) without a Docker engine: each node
in a network namespace of its own, all on port 6379 (bus 16379), joined by a
bridge, configured with deploy/conf/keyraft.conf as the containers are, and
created with `redis-cli --cluster create` from the host. Clients on the host
reach node N only through a forwarder on 127.0.0.1 (a published port), which
each node announces with cluster-announce-client-ipv4/-port, while gossip
and Raft use the namespace addresses. A node that restarts with another IP
(a container's IP changing) keeps its id, data and shard. ioredis's Cluster
client works through the published ports. A master cut off from the bridge
(its shard's minority) acknowledges no write; the other member of its shard
takes over, the old master rejoins as its replica once the link is back, and
every acknowledged write reads back (figures printed with pytest -s).

Needs root and `ip netns`; skipped otherwise. Everything it creates (the
namespaces, their veth pairs, the bridge) is removed in teardown."""
import collections
import json
import os
import random
import shutil
import signal
import subprocess
import tempfile
import threading
import time

import pytest
import redis
from redis.cluster import RedisCluster
from redis.crc import key_slot
from redis.exceptions import MovedError

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


# ---- Used by ioredis (through the published ports) ----

NODE_JS = shutil.which("node")
CLIENTS_DIR = os.path.join(ROOT, "tests", "clients")


def test_ioredis_cluster_through_published_ports(net):
    if NODE_JS is None:
        pytest.skip("node is not installed (tools/install-deps.sh installs it)")
    if not os.path.isdir(os.path.join(CLIENTS_DIR, "node_modules", "ioredis")):
        pytest.skip("ioredis is not installed (npm ci in tests/clients)")
    res = subprocess.run([NODE_JS, os.path.join(CLIENTS_DIR, "ioredis_workload.js"),
                          str(net.nodes[1].forwarder.port), "master", "netns-io"],
                         capture_output=True, text=True, timeout=120)
    assert res.returncode == 0, res.stdout + res.stderr
    summary = json.loads(res.stdout.strip().splitlines()[-1])
    assert summary["ok"] and summary["nodes"] == 3, summary


# ---- A master cut off with its shard's minority ----

class Router:
    """Plain redis-py connections from the host to the nodes' published
    ports, with the slot map from CLUSTER SLOTS and MOVED handling: a
    cluster client with short timeouts that never retries a write whose
    reply did not come (its fate is unknown)."""

    def __init__(self, net):
        self.ports = [node.forwarder.port for node in net.nodes]
        self.owner = {}
        self.conns = {}
        self.refresh()

    def conn(self, port):
        if port not in self.conns:
            self.conns[port] = redis.Redis(port=port, socket_timeout=1,
                                           socket_connect_timeout=1)
        return self.conns[port]

    def drop(self, port):
        r = self.conns.pop(port, None)
        if r is not None:
            r.close()

    def refresh(self):
        for port in random.sample(self.ports, len(self.ports)):
            try:
                slots = self.conn(port).execute_command("CLUSTER", "SLOTS")
            except redis.RedisError:
                self.drop(port)
                continue
            for start, end, master, *_ in slots:
                for slot in range(start, end + 1):
                    self.owner[slot] = master[1]
            return True
        return False

    def call(self, key, *args):
        """Runs the command for 'key' on its slot's master (following MOVED
        twice at most); raises on an error or a missing reply."""
        slot = key_slot(key.encode())
        for _ in range(3):
            port = self.owner.get(slot, self.ports[0])
            try:
                return self.conn(port).execute_command(*args)
            except redis.ResponseError as e:
                text = str(e)
                if not (isinstance(e, MovedError) or text.startswith("MOVED")):
                    raise
                self.owner[slot] = int(text.rsplit(":", 1)[1])
            except (redis.ConnectionError, redis.TimeoutError):
                self.drop(port)
                raise
        raise redis.ResponseError(f"MOVED too often for {key}")

    def close(self):
        for port in list(self.conns):
            self.drop(port)


class SlotWriter:
    """A host thread writing unique keys <prefix>:<n> = n, only keys whose
    slot 'wanted' accepts, one at a time; keeps the acknowledged ones with
    the time the write was sent and the time it was acknowledged."""

    def __init__(self, net, prefix, wanted):
        self.router = Router(net)
        self.prefix, self.wanted = prefix, wanted
        self.acked = {}  # key -> (sent, acked) in time.monotonic()
        self.errors = collections.Counter()  # first word of the error text
        self.stopping = threading.Event()
        self.thread = threading.Thread(target=self.run, daemon=True)
        self.thread.start()

    def run(self):
        n = 0
        while not self.stopping.is_set():
            n += 1
            key = f"{self.prefix}:{n}"
            if not self.wanted(key_slot(key.encode())):
                continue
            sent = time.monotonic()
            try:
                reply = self.router.call(key, "SET", key, str(n))
            except redis.RedisError as e:
                self.errors[(str(e).split(" ") or [""])[0] or type(e).__name__] += 1
                self.router.refresh()
                time.sleep(0.05)
                continue
            if reply is True or reply == b"OK":
                self.acked[key] = (sent, time.monotonic())
            time.sleep(0.005)

    def stop(self):
        self.stopping.set()
        self.thread.join(30)
        self.router.close()


def serves_slots(view, node_id):
    f = view.get(node_id)
    return f is not None and "master" in f[2].split(",") and any(
        not t.startswith("[") for t in f[8:])


def slot_ranges(fields):
    return [tuple(int(x) for x in (t.split("-") * 2)[:2]) for t in fields[8:]
            if not t.startswith("[")]


def listed_as_slave_of(node, old_id, new_id):
    try:
        view = node_lines(node)
    except redis.RedisError:
        return False
    old = view.get(old_id)
    return (old is not None and "slave" in old[2].split(",") and old[3] == new_id
            and serves_slots(view, new_id))


def role_reply(node):
    try:
        return node.client().execute_command("ROLE")
    except redis.RedisError as e:
        return e


def role_of(node):
    reply = role_reply(node)
    return reply[0] if isinstance(reply, list) else None


def isolated_set(node, key, value):
    """SET straight to 'node' inside its namespace; the reply, or None if
    none came within 6 s."""
    try:
        res = subprocess.run([IP, "netns", "exec", node.ns, "timeout", "6", REDIS_CLI, "-p",
                              "6379", "SET", key, value], capture_output=True, text=True,
                             timeout=20)
    except subprocess.TimeoutExpired:
        return None
    return res.stdout.strip() or None


def test_partitioned_master_loses_no_acknowledged_write(net):
    ids = {node.index: myid(node) for node in net.nodes}
    view = node_lines(net.nodes[0])
    # The victim: a master other than node 0 (the observer), with its replica.
    victim = next(node for node in net.nodes[1:]
                  if serves_slots(view, ids[node.index]))
    victim_id = ids[victim.index]
    survivor = next(node for node in net.nodes if view[ids[node.index]][3] == victim_id)
    survivor_id = ids[survivor.index]
    ranges = slot_ranges(view[victim_id])

    def in_victim(slot):
        return any(lo <= slot <= hi for lo, hi in ranges)

    victim_writer = SlotWriter(net, "part:v", in_victim)
    other_writer = SlotWriter(net, "part:o", lambda slot: not in_victim(slot))
    iso_keys, iso_replies = [], {}
    try:
        wait_until(lambda: len(victim_writer.acked) > 20 and len(other_writer.acked) > 20,
                   timeout=15, what="both writers acknowledged")
        t_cut = time.monotonic()
        sh(IP, "link", "set", victim.veth, "down")
        try:
            # Writes straight to the isolated master, through its namespace:
            # its shard has no majority, so none may be acknowledged.
            n = 0
            while len(iso_keys) < 5:
                n += 1
                key = f"part:iso:{n}"
                if in_victim(key_slot(key.encode())):
                    iso_keys.append(key)
            threads = [threading.Thread(target=lambda k=k: iso_replies.__setitem__(
                k, isolated_set(victim, k, "iso")), daemon=True) for k in iso_keys]
            for t in threads:
                t.start()
            wait_until(lambda: serves_slots(node_lines(net.nodes[0]), survivor_id), timeout=40,
                       interval=0.1, what="the survivor takes the victim's slots")
            t_takeover = time.monotonic() - t_cut
            wait_until(lambda: any(sent > t_cut + t_takeover
                                   for sent, _ in victim_writer.acked.values()), timeout=20,
                       interval=0.1, what="a write to the victim's slots acknowledged again")
            for t in threads:
                t.join(25)
            time.sleep(1)
        finally:
            sh(IP, "link", "set", victim.veth, "up")
        t_heal = time.monotonic()
        # The old master rejoins as a replica of the survivor, everywhere.
        for node in net.nodes:
            wait_until(lambda node=node: listed_as_slave_of(node, victim_id, survivor_id),
                       timeout=40, interval=0.1, what=f"node {node.index}: old master is a slave")
        for node in net.nodes:
            wait_until(lambda node=node: cluster_ok(node), timeout=30, what="ok again")
        t_rejoin = time.monotonic() - t_heal
        # ... and replicates the survivor's group again (ROLE: slave).
        try:
            wait_until(lambda: role_of(victim) == b"slave", timeout=30, interval=0.1,
                       what="ROLE slave on the old master")
        except TimeoutError as e:
            raise AssertionError(f"{e}: ROLE {role_reply(victim)}\n"
                                 + "\n".join(victim.read_log().splitlines()[-30:])) from None
        t_role = time.monotonic() - t_heal
        time.sleep(1)
    finally:
        victim_writer.stop()
        other_writer.stop()

    # Replies sent just before the cut may arrive just after it: the writes
    # resumed with the longest pause between acknowledgements that ends after it.
    acks = sorted(acked for _, acked in victim_writer.acked.values())
    resumed = max((acks[i] - acks[i - 1], acks[i]) for i in range(1, len(acks))
                  if acks[i] > t_cut)[1]
    acked_iso = [k for k in iso_keys if iso_replies.get(k) == "OK"]
    print(f"\n[partition] victim {victim.ns} ({victim_id[:8]}), survivor {survivor.ns}: "
          f"survivor serves the slots {t_takeover * 1000:.0f} ms after the cut, writes "
          f"to them acknowledged again {(resumed - t_cut) * 1000:.0f} ms after it; "
          f"old master a slave everywhere {t_rejoin * 1000:.0f} ms after healing, ROLE slave "
          f"after {t_role * 1000:.0f} ms; acked "
          f"writes: {len(victim_writer.acked)} to the victim's slots "
          f"(errors {dict(victim_writer.errors)}), {len(other_writer.acked)} to other slots "
          f"(errors {dict(other_writer.errors)}); direct writes to the isolated master: "
          f"{dict(collections.Counter(iso_replies.values()))}")
    assert acked_iso == [], iso_replies

    router = Router(net)
    try:
        acked = {**victim_writer.acked, **other_writer.acked}
        missing = []
        for key in acked:
            value = router.call(key, "GET", key)
            if value != key.rsplit(":", 1)[1].encode():
                missing.append((key, value))
        assert missing == [], f"{len(missing)} acknowledged writes lost: {missing[:20]}"
        present = {k: router.call(k, "GET", k) for k in iso_keys}
        assert all(v is None for v in present.values()), present
    finally:
        router.close()
