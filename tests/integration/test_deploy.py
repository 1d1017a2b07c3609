"""deploy/ (issue 7): docker-compose.yml validates with Debian's
docker-compose (no Docker engine needed for `config`) and describes the
topology the README documents; the Dockerfile and the example configs hold
together. The containers themselves cannot run here (no Docker engine):
tests/integration/test_cluster_announce.py and test_cluster_readdress.py
exercise the same addressing on loopback."""
import os
import shutil
import subprocess

import pytest
import yaml

from harness import KEYRAFT, ROOT, Server

DEPLOY = os.path.join(ROOT, "deploy")
COMPOSE = os.path.join(DEPLOY, "docker-compose.yml")
DOCKER_COMPOSE = shutil.which("docker-compose")


@pytest.fixture(scope="module")
def resolved():
    if DOCKER_COMPOSE is None:
        pytest.skip("docker-compose is not installed (tools/install-deps.sh installs Debian's)")
    res = subprocess.run([DOCKER_COMPOSE, "-f", COMPOSE, "config"], capture_output=True,
                         text=True, timeout=60, cwd=ROOT, env=dict(os.environ, KEYRAFT_HOST_IP=""))
    assert res.returncode == 0, res.stderr
    return yaml.safe_load(res.stdout)


def test_compose_config_validates(resolved):
    services = resolved["services"]
    nodes = sorted(name for name in services if name.startswith("node-"))
    assert nodes == [f"node-{i}" for i in range(1, 7)]
    assert "create" in services


def test_every_node_announces_a_host_reachable_client_address(resolved):
    services = resolved["services"]
    published = set()
    for i in range(1, 7):
        svc = services[f"node-{i}"]
        cmd = svc["command"]
        assert cmd[:2] == ["keyraft-server", "/etc/keyraft/keyraft.conf"]
        opts = dict(zip(cmd[2::2], cmd[3::2]))
        assert opts["--cluster-announce-hostname"] == f"node-{i}"
        client_port = opts["--cluster-announce-client-port"]
        client_ip = opts["--cluster-announce-client-ipv4"]
        assert client_ip == "127.0.0.1"
        # The announced client address is exactly the published one.
        ports = svc["ports"]
        assert len(ports) == 1
        p = ports[0]
        if isinstance(p, dict):
            host_ip, host_port, target = p.get("host_ip"), str(p["published"]), p["target"]
        else:
            host_ip, host_port, target = p.split("/")[0].rsplit(":", 2)
        assert (host_ip, host_port, int(target)) == (client_ip, client_port, 6379)
        published.add(host_port)
        assert any(v.startswith(f"node-{i}:") or v.endswith(":/data")
                   for v in (svc["volumes"] if isinstance(svc["volumes"][0], str)
                             else [f"{v['source']}:{v['target']}" for v in svc["volumes"]]))
        assert "healthcheck" in svc
    assert len(published) == 6


def test_creator_waits_for_healthy_nodes_and_runs_cluster_create(resolved):
    create = resolved["services"]["create"]
    deps = create["depends_on"]
    assert sorted(deps) == [f"node-{i}" for i in range(1, 7)]
    assert all(d["condition"] == "service_healthy" for d in deps.values())
    assert create["entrypoint"] == ["/usr/local/bin/create-cluster.sh"]
    assert create["command"][0] == "1"
    with open(os.path.join(DEPLOY, "create-cluster.sh")) as f:
        assert "redis-cli --cluster create" in f.read()


def test_dockerfile_shape():
    with open(os.path.join(DEPLOY, "Dockerfile")) as f:
        text = f.read()
    froms = [line.split()[1] for line in text.splitlines() if line.startswith("FROM ")]
    assert len(froms) == 2 and froms[1] == "debian:12-slim"
    assert "\nUSER keyraft\n" in text
    assert "HEALTHCHECK" in text and "redis-cli -p 6379 PING" in text
    for path in ("deploy/conf/keyraft.conf", "deploy/docker-entrypoint.sh",
                 "deploy/create-cluster.sh"):
        assert f"COPY {path} " in text
        assert os.path.exists(os.path.join(ROOT, path))
    for script in ("docker-entrypoint.sh", "create-cluster.sh"):
        assert os.access(os.path.join(DEPLOY, script), os.X_OK)


@pytest.mark.parametrize("name", ["keyraft.conf", "standalone.conf", "cluster-node.conf"])
def test_example_configs_load(tmp_path, name):
    """Each example starts a server (dir, ports and bind swapped for the test's)."""
    with open(os.path.join(DEPLOY, "conf", name)) as f:
        lines = [line for line in f.read().splitlines()
                 if not line.startswith(("dir ", "bind ", "port ", "cluster-port ",
                                         "metrics-port "))]
    s = Server(KEYRAFT, conf="\n".join(lines) + "\n")
    try:
        s.start()
        r = s.client()
        assert r.ping()
        assert r.config_get("appendonly") == {"appendonly": "yes"}
        assert "Bad directive" not in s.read_log()
    finally:
        s.cleanup()


@pytest.mark.parametrize("script", ["tools/cluster.sh", "deploy/docker-entrypoint.sh",
                                    "deploy/create-cluster.sh"])
def test_scripts_pass_shellcheck(script):
    checker = shutil.which("shellcheck")
    if checker is None:
        pytest.skip("shellcheck is not installed (tools/install-deps.sh installs it)")
    res = subprocess.run([checker, os.path.join(ROOT, script)], capture_output=True, text=True,
                         timeout=60)
    assert res.returncode == 0, res.stdout
