"""Helpers for tests that build keyraft clusters: starting and stopping
nodes, running redis-cli, and reading CLUSTER NODES / INFO the way
redis-cli reads them."""
import shutil
import subprocess

from harness import KEYRAFT, Server

REDIS_CLI = shutil.which("redis-cli") or "/usr/bin/redis-cli"


def cluster_args(node_timeout_ms):
    return ["--cluster-enabled", "yes", "--cluster-node-timeout", str(node_timeout_ms)]


def start_nodes(n, args):
    """'n' keyraft nodes started with 'args'; on a failure the ones started
    are stopped."""
    nodes = []
    try:
        for _ in range(n):
            nodes.append(Server(KEYRAFT, args=args).start())
    except Exception:
        stop_nodes(nodes)
        raise
    return nodes


def stop_nodes(nodes):
    errors = []
    for s in nodes:
        try:
            s.cleanup()
        except AssertionError as e:  # a sanitizer report
            errors.append(str(e))
    assert not errors, "\n".join(errors)


def cli(*args, timeout=120, stdin=None):
    return subprocess.run([REDIS_CLI, *args], capture_output=True, text=True, timeout=timeout,
                          input=stdin)


def cli_ok(*args, timeout=120, stdin=None):
    res = cli(*args, timeout=timeout, stdin=stdin)
    out = res.stdout + res.stderr
    assert res.returncode == 0, f"redis-cli {' '.join(args)} exited {res.returncode}:\n{out}"
    return out


def addr(server):
    return f"127.0.0.1:{server.port}"


def myid(server):
    return server.client().execute_command("CLUSTER", "MYID").decode()


def nodes_lines(server):
    text = server.client().execute_command("CLUSTER", "NODES")
    if isinstance(text, bytes):
        text = text.decode()
    return [line.split(" ") for line in text.splitlines() if line]


def cluster_info(server):
    text = server.client().execute_command("CLUSTER", "INFO")
    if isinstance(text, bytes):
        text = text.decode()
    return dict(line.split(":", 1) for line in text.split("\r\n") if ":" in line)


def slot_signature(server):
    """redis-cli's clusterManagerGetConfigSignature: every node line with
    slots, as id:sorted slot tokens."""
    entries = []
    for fields in nodes_lines(server):
        slots = sorted(t for t in fields[8:] if not t.startswith("["))
        if slots:
            entries.append(fields[0] + ":" + ",".join(slots))
    return "|".join(sorted(entries))
