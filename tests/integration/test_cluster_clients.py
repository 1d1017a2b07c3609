"""Cluster-aware clients against a keyraft cluster created by redis-cli
(issue 6, acceptance 3): redis-py's RedisCluster and ioredis's Cluster run a
mixed workload (plain commands, pipelines, same-slot MGET/MSET, scripts)
and read from replicas (READONLY / scaleReads 'slave')."""
import json
import os
import shutil
import subprocess

import pytest
import redis
from redis.cluster import RedisCluster

from cluster_harness import addr, cli_ok, cluster_args, cluster_info, start_nodes, stop_nodes
from harness import ROOT, wait_until

CLUSTER_ARGS = cluster_args(2000)
NODE = shutil.which("node")
CLIENTS_DIR = os.path.join(ROOT, "tests", "clients")


@pytest.fixture(scope="module")
def cluster():
    """Six nodes: three shards of a master and one replica."""
    nodes = start_nodes(6, CLUSTER_ARGS)
    try:
        cli_ok("--cluster", "create", *[addr(s) for s in nodes], "--cluster-replicas", "1",
               "--cluster-yes", timeout=60)
        for s in nodes:
            wait_until(lambda s=s: cluster_info(s)["cluster_state"] == "ok", timeout=20,
                       what=f"cluster_state:ok on {s.port}")
        yield nodes
    finally:
        stop_nodes(nodes)


def test_redis_py_cluster_mixed_workload(cluster):
    rc = RedisCluster(host="127.0.0.1", port=cluster[0].port)
    try:
        for i in range(200):
            assert rc.set(f"py:k:{i}", f"v{i}")
        assert [rc.get(f"py:k:{i}") for i in range(200)] == [f"v{i}".encode() for i in range(200)]

        pipe = rc.pipeline()
        for i in range(100):
            pipe.set(f"py:p:{i}", i)
            pipe.incr(f"py:p:{i}")
        assert pipe.execute() == [x for i in range(100) for x in (True, i + 1)]
        assert [int(rc.get(f"py:p:{i}")) for i in range(100)] == [i + 1 for i in range(100)]

        assert rc.mset({"{py}:a": "1", "{py}:b": "2"})
        assert rc.mget("{py}:a", "{py}:b") == [b"1", b"2"]
        assert rc.mget_nonatomic("py:k:1", "py:k:2", "py:k:3") == [b"v1", b"v2", b"v3"]

        script = rc.register_script("return redis.call('INCRBY', KEYS[1], ARGV[1])")
        assert script(keys=["{py}:counter"], args=[5]) == 5
        assert rc.eval("return redis.call('GET', KEYS[1])", 1, "{py}:counter") == b"5"
    finally:
        rc.close()


def test_redis_py_reads_from_replicas(cluster):
    rc = RedisCluster(host="127.0.0.1", port=cluster[0].port, read_from_replicas=True)
    try:
        for i in range(100):
            rc.set(f"py:r:{i}", i)
        # Replicas apply a write a heartbeat after their master: bounded poll.
        for i in range(100):
            wait_until(lambda i=i: rc.get(f"py:r:{i}") == str(i).encode(), timeout=10,
                       what=f"py:r:{i} readable")
    finally:
        rc.close()
    replica = next(s for s in cluster if s.client().info("replication")["role"] == "slave")
    r = replica.client()
    r.execute_command("READONLY")
    served = 0
    for i in range(100):
        try:
            r.get(f"py:r:{i}")
            served += 1
        except redis.exceptions.ResponseError as e:  # keys of other shards
            assert str(e).startswith("MOVED"), e
    assert 0 < served < 100


@pytest.fixture(scope="module")
def ioredis():
    if NODE is None:
        pytest.skip("node is not installed (tools/install-deps.sh installs it)")
    if not os.path.isdir(os.path.join(CLIENTS_DIR, "node_modules", "ioredis")):
        res = subprocess.run(["npm", "ci", "--no-audit", "--no-fund"], cwd=CLIENTS_DIR,
                             capture_output=True, text=True, timeout=300)
        assert res.returncode == 0, res.stdout + res.stderr
    return os.path.join(CLIENTS_DIR, "ioredis_workload.js")


@pytest.mark.parametrize("scale_reads", ["master", "slave"])
def test_ioredis_cluster_mixed_workload(cluster, ioredis, scale_reads):
    res = subprocess.run([NODE, ioredis, str(cluster[0].port), scale_reads, f"io-{scale_reads}"],
                         capture_output=True, text=True, timeout=120)
    assert res.returncode == 0, res.stdout + res.stderr
    summary = json.loads(res.stdout.strip().splitlines()[-1])
    assert summary["ok"] and summary["nodes"] == 3, summary
