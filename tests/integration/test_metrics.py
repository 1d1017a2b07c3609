"""Observability (issue 7): INFO raft (node/raft_info.c) and the Prometheus
endpoint on metrics-port (node/metrics.c), read with a plain HTTP GET, plus
requests that are not HTTP at all, which must never hurt the server."""
import os
import socket
import time
import urllib.error
import urllib.request

import pytest
import redis

from harness import KEYRAFT, Server, free_port, run_command, wait_until

INFO_RAFT_FIELDS = ["raft_enabled", "raft_role", "raft_member_id", "raft_term", "raft_leader_id",
                    "raft_leader_addr", "raft_commit_index", "raft_applied_index",
                    "raft_last_log_index", "raft_snapshot_index", "raft_members", "raft_voters",
                    "raft_fsync_count", "raft_fsync_latency_last_us", "raft_fsync_latency_avg_us",
                    "raft_fsync_latency_max_us"]


def info_text(server, *sections):
    """INFO's reply as text (redis-py would parse it into a dict)."""
    conn = redis.Connection(port=server.port, socket_timeout=10)
    try:
        reply = run_command(conn, "INFO", *sections)
    finally:
        conn.disconnect()
    assert isinstance(reply, bytes), reply
    return reply.decode()


def info_raft(server):
    text = info_text(server, "raft")
    lines = text.split("\r\n")
    assert lines[0] == "# Raft", text
    return dict(line.split(":", 1) for line in lines[1:] if line)


def start(*args):
    port = free_port()
    s = Server(KEYRAFT, args=["--metrics-port", str(port), *args])
    s.metrics_port = port
    return s.start()


@pytest.fixture
def node():
    s = start("--appendonly", "yes")
    yield s
    s.cleanup()


def get(server, path="/metrics", method="GET"):
    req = urllib.request.Request(f"http://127.0.0.1:{server.metrics_port}{path}", method=method)
    try:
        with urllib.request.urlopen(req, timeout=10) as resp:
            return resp.status, dict(resp.headers), resp.read().decode()
    except urllib.error.HTTPError as e:
        return e.code, dict(e.headers), e.read().decode()


def parse_metrics(text):
    """{name or name{labels}: float}; checks every sample has HELP and TYPE."""
    values, typed = {}, set()
    for line in text.splitlines():
        if line.startswith("# TYPE "):
            typed.add(line.split()[2])
            continue
        if line.startswith("#") or not line:
            continue
        name, value = line.rsplit(" ", 1)
        assert name.split("{")[0] in typed, line
        values[name] = float(value)
    return values


def raw_exchange(port, data, timeout=10):
    """Sends 'data', returns everything the server sends before closing."""
    with socket.create_connection(("127.0.0.1", port), timeout=timeout) as s:
        if data:
            s.sendall(data)
        chunks = []
        while True:
            try:
                chunk = s.recv(65536)
            except ConnectionResetError:
                break
            if not chunk:
                break
            chunks.append(chunk)
        return b"".join(chunks)


# ---- INFO raft ----

def test_info_raft_on_a_group_of_one(node):
    r = node.client()
    before = info_raft(node)
    assert list(before) == INFO_RAFT_FIELDS
    wait_until(lambda: info_raft(node)["raft_role"] == "leader", timeout=15, what="leader")
    for i in range(20):
        r.set(f"k{i}", i)
    f = info_raft(node)
    assert f["raft_enabled"] == "1"
    assert f["raft_role"] == "leader"
    assert int(f["raft_term"]) >= 1
    assert f["raft_leader_id"] == f["raft_member_id"] != "0"
    assert f["raft_leader_addr"] == f"127.0.0.1:{node.port}"
    assert int(f["raft_last_log_index"]) >= int(f["raft_commit_index"]) >= \
        int(f["raft_applied_index"]) >= 20
    assert f["raft_snapshot_index"] == "0"
    assert f["raft_members"] == "1" and f["raft_voters"] == "1"
    assert int(f["raft_fsync_count"]) >= 20
    assert int(f["raft_fsync_latency_max_us"]) >= int(f["raft_fsync_latency_avg_us"]) > 0
    # The applied index is the same figure INFO replication reports.
    repl = r.info("replication")
    assert int(f["raft_applied_index"]) <= repl["master_repl_offset"] + 1

    r.execute_command("BGREWRITEAOF")
    wait_until(lambda: info_raft(node)["raft_snapshot_index"] != "0", timeout=30,
               what="a snapshot index")


def test_info_raft_without_a_group():
    s = Server(KEYRAFT).start()
    try:
        f = info_raft(s)
        assert list(f) == INFO_RAFT_FIELDS
        assert f["raft_enabled"] == "0" and f["raft_role"] == "none"
        assert f["raft_term"] == "0" and f["raft_leader_addr"] == ""
    finally:
        s.cleanup()


def test_info_raft_only_when_named(node):
    for args in ((), ("all",), ("everything",), ("default",)):
        text = info_text(node, *args)
        assert "# Raft" not in text and "raft_term" not in text, args
    text = info_text(node, "raft", "cluster")
    assert "# Raft\r\n" in text and "# Cluster\r\ncluster_enabled:0" in text
    assert "raft_role:" in info_text(node, "RAFT")


# ---- The metrics endpoint ----

def test_metrics_page_has_the_figures(node):
    r = node.client()
    wait_until(lambda: info_raft(node)["raft_role"] == "leader", timeout=15, what="leader")
    for i in range(7):
        r.set(f"k{i}", i)
    status, headers, body = get(node)
    assert status == 200
    assert headers["Content-Type"].startswith("text/plain; version=0.0.4")
    assert int(headers["Content-Length"]) == len(body.encode())
    m = parse_metrics(body)
    assert m['keyraft_db_keys{db="0"}'] == 7
    assert m["keyraft_connected_clients"] >= 1
    assert m["keyraft_used_memory_bytes"] > 0
    assert m["keyraft_commands_processed_total"] >= 7
    assert m["keyraft_raft_enabled"] == 1 and m["keyraft_raft_is_leader"] == 1
    assert m['keyraft_raft_role{role="leader"}'] == 1
    f = info_raft(node)
    assert m["keyraft_raft_term"] == int(f["raft_term"])
    leader = (f'keyraft_raft_leader_info{{member_id="{f["raft_member_id"]}",'
              f'leader_id="{f["raft_leader_id"]}",leader_addr="127.0.0.1:{node.port}"}}')
    assert m[leader] == 1
    assert m["keyraft_raft_applied_index"] >= 7
    assert m["keyraft_raft_commit_index"] >= m["keyraft_raft_applied_index"]
    assert m["keyraft_raft_fsync_total"] >= 7
    assert m["keyraft_raft_fsync_seconds_total"] > 0
    assert m["keyraft_cluster_enabled"] == 0
    # Counters move.
    before = m["keyraft_commands_processed_total"]
    r.ping()
    assert parse_metrics(get(node)[2])["keyraft_commands_processed_total"] > before


def test_metrics_in_cluster_mode():
    s = start("--cluster-enabled", "yes")
    try:
        m = parse_metrics(get(s)[2])
        assert m["keyraft_cluster_enabled"] == 1
        assert m["keyraft_cluster_state_ok"] == 0  # no slots assigned yet
        assert m["keyraft_raft_enabled"] == 1
    finally:
        s.cleanup()


def test_metrics_other_paths_and_methods(node):
    status, _, body = get(node, "/")
    assert status == 404 and "/metrics" in body
    assert get(node, "/metricsx")[0] == 404
    assert get(node, "/metrics/")[0] == 404
    assert get(node, "/metrics?name=x")[0] == 200
    assert get(node, "/metrics", method="POST")[0] == 405
    assert get(node, "/metrics", method="DELETE")[0] == 405
    status, headers, body = get(node, "/metrics", method="HEAD")
    assert status == 200 and body == "" and int(headers["Content-Length"]) > 100


def test_metrics_garbage_never_hurts(node):
    port = node.metrics_port
    # Not HTTP: 400 once the head ends.
    assert raw_exchange(port, b"garbage\r\n\r\n").startswith(b"HTTP/1.1 400 ")
    assert raw_exchange(port, b"\r\n\r\n").startswith(b"HTTP/1.1 400 ")
    assert raw_exchange(port, b"GET /metrics\r\n\r\n").startswith(b"HTTP/1.1 400 ")
    assert raw_exchange(port, b"GET /metrics HTTP/2.0\r\n\r\n").startswith(b"HTTP/1.1 400 ")
    assert raw_exchange(port, b"GET  /metrics HTTP/1.1\r\n\r\n").startswith(b"HTTP/1.1 400 ")
    assert raw_exchange(port, b"\x00\xff\n\n").startswith(b"HTTP/1.1 400 ")
    # Bare LF line ends are accepted.
    assert raw_exchange(port, b"GET /metrics HTTP/1.0\n\n").startswith(b"HTTP/1.1 200 ")
    # RESP on the metrics port.
    assert raw_exchange(port, b"*1\r\n$4\r\nPING\r\n\r\n").startswith(b"HTTP/1.1 400 ")
    # A head that never ends: refused at the buffer's size.
    reply = raw_exchange(port, b"GET /metrics HTTP/1.1\r\nX: " + b"a" * 10000)
    assert reply.startswith(b"HTTP/1.1 431 ") or reply == b""
    # Random bytes, half requests that hang up.
    rnd = os.urandom(20000)
    for i in range(0, 20000, 2000):
        raw_exchange(port, rnd[i:i + 2000].replace(b"\n", b"x") + b"\n\n")
    for _ in range(20):
        with socket.create_connection(("127.0.0.1", port), timeout=5) as s:
            s.sendall(b"GET /met")

    def serves():
        try:
            return get(node)[0] == 200
        except (ConnectionError, urllib.error.URLError):
            return False  # all slots busy until the server reads those hang-ups

    wait_until(serves, timeout=10, what="metrics served after the hang-ups")
    assert node.client().ping()


def test_metrics_busy_slots_and_idle_connections(node):
    port = node.metrics_port
    idle = [socket.create_connection(("127.0.0.1", port), timeout=10) for _ in range(16)]
    try:
        # Every slot taken: the next connection is closed without an answer.
        wait_until(lambda: raw_exchange(port, b"GET /metrics HTTP/1.1\r\n\r\n") == b"",
                   timeout=5, what="a refused 17th connection")
        # Idle connections are closed after 5 s, freeing their slots.
        for s in idle:
            s.settimeout(15)
            assert s.recv(100) == b""
    finally:
        for s in idle:
            s.close()
    wait_until(lambda: get(node)[0] == 200, timeout=10, what="the endpoint back")


def test_metrics_port_config():
    s = start()
    try:
        r = s.client()
        assert r.config_get("metrics-port") == {"metrics-port": str(s.metrics_port)}
        with pytest.raises(redis.ResponseError, match="can't set immutable config"):
            r.config_set("metrics-port", "0")
    finally:
        s.cleanup()
    s = Server(KEYRAFT).start()
    try:
        assert s.client().config_get("metrics-port") == {"metrics-port": "0"}
    finally:
        s.cleanup()


def test_metrics_port_in_use_stops_startup():
    with socket.socket() as busy:
        busy.bind(("127.0.0.1", 0))
        busy.listen()
        port = busy.getsockname()[1]
        s = Server(KEYRAFT, args=["--metrics-port", str(port)])
        s.start(wait=False)
        try:
            assert s.proc.wait(timeout=20) != 0
            assert "Could not listen for metrics" in s.read_log()
        finally:
            s.cleanup()
