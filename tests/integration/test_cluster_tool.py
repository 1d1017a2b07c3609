"""tools/cluster.sh, the local cluster launcher behind `make cluster`: start
creates a 3 shards x 3 members cluster, status reports every node, stop keeps
the data, start again restarts the same cluster with its data, kill/restart
of one node, clean removes everything.

The tool runs on free ports (KR_CLUSTER_PORT) and in a temporary folder
(KR_CLUSTER_DIR). The nodes daemonize, so sanitizer reports go to files
(ASAN_OPTIONS/UBSAN_OPTIONS log_path) that the test checks at the end."""
import glob
import os
import random
import shutil
import socket
import subprocess
import tempfile

import pytest
import redis

from harness import KEYRAFT, ROOT, wait_until

TOOL = os.path.join(ROOT, "tools", "cluster.sh")
NODES = 9


def ports_free(base, count):
    for port in [base + i for i in range(count)] + [base + 10000 + i for i in range(count)]:
        with socket.socket() as s:
            try:
                s.bind(("127.0.0.1", port))
            except OSError:
                return False
    return True


def free_base_port(count):
    for _ in range(200):
        base = random.randrange(20000, 55000 - count)
        if ports_free(base, count):
            return base
    raise RuntimeError("no free run of ports found")


class Tool:
    def __init__(self):
        self.tmp = tempfile.mkdtemp(prefix="kr-cluster-tool-")
        self.dir = os.path.join(self.tmp, "data")
        self.base = free_base_port(NODES)
        sanitizer_logs = os.path.join(self.tmp, "sanitizer")
        self.env = dict(os.environ, KEYRAFT_SERVER=KEYRAFT, KR_CLUSTER_DIR=self.dir,
                        KR_CLUSTER_PORT=str(self.base), KR_CLUSTER_TIMEOUT="120")
        for var in ("ASAN_OPTIONS", "UBSAN_OPTIONS"):
            opts = self.env.get(var, "")
            self.env[var] = (opts + ":" if opts else "") + f"log_path={sanitizer_logs}"

    def run(self, *args, check=True, timeout=300):
        res = subprocess.run([TOOL, *args], env=self.env, capture_output=True, text=True,
                             timeout=timeout)
        if check:
            assert res.returncode == 0, f"cluster.sh {' '.join(args)}:\n{res.stdout}{res.stderr}"
        return res

    def client(self, node=0):
        return redis.Redis(port=self.base + node, socket_timeout=10)

    def sanitizer_reports(self):
        return [open(p).read() for p in glob.glob(os.path.join(self.tmp, "sanitizer*"))]

    def close(self):
        if os.path.isdir(self.dir):
            self.run("stop", check=False)
        reports = self.sanitizer_reports()
        shutil.rmtree(self.tmp, ignore_errors=True)
        assert not reports, "sanitizer report:\n" + "\n".join(reports)


@pytest.fixture
def tool():
    t = Tool()
    try:
        yield t
    finally:
        t.close()


def status_rows(tool):
    out = tool.run("status").stdout
    lines = out.splitlines()
    assert lines[0].split()[:5] == ["NODE", "PORT", "PID", "ROLE", "SHARD"], out
    rows = [line.split() for line in lines[1:1 + NODES]]
    return out, rows


def cluster_ok(tool, node):
    try:
        info = tool.client(node).execute_command("CLUSTER", "INFO").decode()
    except redis.RedisError:
        return False
    return "cluster_state:ok" in info


def set_everywhere(tool, keys, via=0):
    """Writes through redis-cli -c (it follows MOVED) connected to node
    'via', as a user would."""
    for k, v in keys.items():
        res = subprocess.run(["redis-cli", "-c", "-p", str(tool.base + via), "SET", k, v],
                             capture_output=True, text=True, timeout=30)
        assert res.stdout.strip() == "OK", res.stdout + res.stderr


def get_anywhere(tool, key, via=0):
    res = subprocess.run(["redis-cli", "-c", "-p", str(tool.base + via), "GET", key],
                         capture_output=True, text=True, timeout=30)
    return res.stdout.strip()


def test_start_status_stop_start_clean(tool):
    out = tool.run("start").stdout
    assert f"redis-cli -c -p {tool.base}" in out
    for node in range(NODES):
        assert cluster_ok(tool, node)

    out, rows = status_rows(tool)
    assert [r[1] for r in rows] == [str(tool.base + i) for i in range(NODES)], out
    roles = [r[3] for r in rows]
    # Three shards, three members each.
    shards = {}
    for r in rows:
        shards.setdefault(r[4], []).append(r)
    assert sorted(len(v) for v in shards.values()) == [3, 3, 3], out
    assert "cluster_state: ok" in out

    keys = {f"key:{i}": f"value-{i}" for i in range(30)}
    set_everywhere(tool, keys)
    _, rows = status_rows(tool)
    # Every member of a shard holds the shard's keys; the three shards hold all.
    per_shard = {r[4]: int(r[-1]) for r in rows}
    assert sum(per_shard.values()) == len(keys), rows
    # The Raft figures come from INFO raft; a shard's members share a term.
    for r in rows:
        term, commit, applied = r[5:8]
        assert term.isdigit() and int(term) >= 1, rows
        assert commit.isdigit() and applied.isdigit() and int(commit) >= int(applied) > 0, rows
    assert roles.count("leader") == 3 and roles.count("follower") == 6, out

    out = tool.run("stop").stdout
    assert "data kept" in out
    for node in range(NODES):
        with pytest.raises(redis.ConnectionError):
            tool.client(node).ping()
    _, rows = status_rows(tool)
    assert all(r[3] == "down" for r in rows), rows

    # Same cluster, same data.
    ids_before = open(os.path.join(tool.dir, str(tool.base), "nodes.conf")).read().split()[0]
    tool.run("start")
    for node in range(NODES):
        assert cluster_ok(tool, node)
    assert tool.client(0).execute_command("CLUSTER", "MYID").decode() == ids_before
    for k, v in keys.items():
        assert get_anywhere(tool, k) == v

    # A second start while running changes nothing.
    tool.run("start")

    tool.run("clean")
    assert not os.path.exists(tool.dir)
    for node in range(NODES):
        with pytest.raises(redis.ConnectionError):
            tool.client(node).ping()


def key_in_slots(tool, slots):
    """A key whose slot is in 'slots' (status's SHARD column, e.g. 0-5460)."""
    ranges = [tuple(map(int, (r.split("-") + r.split("-"))[:2])) for r in slots.split(",")]
    c = tool.client(0)
    for i in range(10000):
        slot = c.execute_command("CLUSTER", "KEYSLOT", f"k{i}")
        if any(lo <= slot <= hi for lo, hi in ranges):
            return f"k{i}"
    raise AssertionError(f"no key found for slots {slots}")


def test_kill_and_restart_one_node(tool):
    tool.run("start")
    _, rows = status_rows(tool)
    master = next(int(r[0]) for r in rows if r[3] == "leader")
    key = key_in_slots(tool, rows[master][4])
    set_everywhere(tool, {key: "1"})

    out = tool.run("kill", str(master)).stdout
    assert "killed node" in out
    _, rows = status_rows(tool)
    assert rows[master][3] == "down"
    # Another member of the killed master's shard takes over (Raft election
    # + gossip): the shard serves reads and writes again.
    other = (master + 1) % NODES
    wait_until(lambda: get_anywhere(tool, key, via=other) == "1", timeout=60,
               what="the shard answering after its master was killed")
    set_everywhere(tool, {key: "2"}, via=other)

    out = tool.run("restart", str(tool.base + master)).stdout
    assert "restarted" in out
    wait_until(lambda: cluster_ok(tool, master), timeout=60, what="the restarted node ok")
    _, rows = status_rows(tool)
    assert rows[master][3] == "follower", rows
    assert "keyraft" in tool.run("logs", str(master)).stdout.lower()
    assert get_anywhere(tool, key, via=master) == "2"


def test_usage_errors(tool):
    res = tool.run("kill", "42", check=False)
    assert res.returncode != 0 and "no node 42" in res.stderr
    res = tool.run("bogus", check=False)
    assert res.returncode == 2 and "tools/cluster.sh start" in res.stderr
    # clean refuses a folder the tool did not make.
    os.makedirs(tool.dir)
    open(os.path.join(tool.dir, "precious"), "w").close()
    res = tool.run("clean", check=False)
    assert res.returncode != 0 and "not removing" in res.stderr
    assert os.path.exists(os.path.join(tool.dir, "precious"))
    os.remove(os.path.join(tool.dir, "precious"))


def test_start_reports_a_node_that_cannot_start(tool):
    with socket.socket() as busy:
        busy.bind(("127.0.0.1", tool.base + 3))
        busy.listen()
        res = tool.run("start", check=False, timeout=120)
    assert res.returncode != 0
    assert "node 3" in res.stderr and "did not start" in res.stderr
    assert "address already in use" in res.stderr
    tool.run("clean")
    assert not os.path.exists(tool.dir)
