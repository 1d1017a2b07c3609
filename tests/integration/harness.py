"""Starting real servers for integration tests.

Every server runs on a free loopback port chosen by the OS, in its own
temporary directory, and is killed by PID when the test ends. Waits are
bounded polls, never bare sleeps.
"""
import os
import shutil
import signal
import socket
import subprocess
import tempfile
import threading
import time

import redis

ROOT = os.path.dirname(os.path.dirname(os.path.dirname(os.path.abspath(__file__))))
KEYRAFT = os.environ.get("KEYRAFT_SERVER", os.path.join(ROOT, "build", "keyraft-server"))
# The offline checker, built next to the server.
KEYRAFT_CHECK = os.environ.get("KEYRAFT_CHECK",
                               os.path.join(os.path.dirname(KEYRAFT), "keyraft-check"))
REDIS = shutil.which("redis-server") or "/usr/bin/redis-server"


def free_port():
    """A loopback port whose bus port (port+10000) is free as well."""
    for _ in range(100):
        with socket.socket() as s:
            s.bind(("127.0.0.1", 0))
            port = s.getsockname()[1]
        if port + 10000 > 65535:
            continue
        try:
            with socket.socket() as s:
                s.bind(("127.0.0.1", port + 10000))
            return port
        except OSError:
            continue
    raise RuntimeError("no free port pair found")


def wait_until(predicate, timeout=10.0, interval=0.02, what="condition"):
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if predicate():
            return
        time.sleep(interval)
    raise TimeoutError(f"timed out after {timeout}s waiting for {what}")


class Server:
    """A keyraft-server (or redis-server) process on a free port."""

    def __init__(self, binary=KEYRAFT, args=(), conf=None):
        self.binary = binary
        self.port = free_port()
        self.dir = tempfile.mkdtemp(prefix="kr-test-")
        self.log_path = os.path.join(self.dir, "server.log")
        cmd = [binary]
        if conf is not None:
            path = os.path.join(self.dir, "test.conf")
            with open(path, "w") as f:
                f.write(conf)
            cmd.append(path)
        cmd += ["--port", str(self.port), "--bind", "127.0.0.1", "--dir", self.dir, "--save", ""]
        cmd += list(args)
        self.cmd = cmd
        self.proc = None

    def start(self, wait=True):
        self.log = open(self.log_path, "ab")
        self.proc = subprocess.Popen(self.cmd, stdout=self.log, stderr=subprocess.STDOUT)
        if wait:
            wait_until(self.is_up, what=f"{self.binary} on port {self.port}")
        return self

    def is_up(self):
        if self.proc.poll() is not None:
            raise RuntimeError(f"server exited with {self.proc.returncode}:\n{self.read_log()}")
        try:
            with socket.create_connection(("127.0.0.1", self.port), timeout=0.2):
                return True
        except OSError:
            return False

    def client(self, **kw):
        return redis.Redis(port=self.port, socket_timeout=10, **kw)

    def raw(self):
        return RawConnection(self.port)

    def read_log(self):
        with open(self.log_path, "rb") as f:
            return f.read().decode(errors="replace")

    def stop(self, sig=signal.SIGTERM, timeout=10):
        if self.proc is None or self.proc.poll() is not None:
            return self.proc.returncode if self.proc else None
        self.proc.send_signal(sig)
        try:
            return self.proc.wait(timeout)
        except subprocess.TimeoutExpired:
            self.proc.kill()
            return self.proc.wait(timeout)

    def sanitizer_report(self):
        """The first AddressSanitizer/UBSan/LeakSanitizer report in the log, or None."""
        text = self.read_log()
        for marker in ("ERROR: AddressSanitizer", "ERROR: LeakSanitizer", "runtime error:"):
            at = text.find(marker)
            if at >= 0:
                return text[max(0, at - 200):at + 3000]
        return None

    def cleanup(self):
        """Stops the server (gracefully, so sanitizers can report), removes its
        files, and raises if a sanitizer reported anything."""
        if self.proc is not None and self.proc.poll() is None:
            self.stop(signal.SIGTERM, timeout=10)
        if hasattr(self, "log"):
            self.log.close()
        report = self.sanitizer_report() if os.path.exists(self.log_path) else None
        if not os.environ.get("KR_KEEP_DIRS"):  # set it to read a failed test's logs afterwards
            shutil.rmtree(self.dir, ignore_errors=True)
        if report:
            raise AssertionError(f"sanitizer report from {self.binary}:\n{report}")


class RawConnection:
    """A plain socket for protocol-level tests: send bytes, read bytes."""

    def __init__(self, port):
        self.sock = socket.create_connection(("127.0.0.1", port), timeout=5)

    def send(self, data):
        self.sock.sendall(data)

    def read_until_closed(self, timeout=5):
        self.sock.settimeout(timeout)
        out = b""
        while True:
            try:
                chunk = self.sock.recv(65536)
            except socket.timeout:
                raise AssertionError(f"connection not closed; got {out!r}")
            if not chunk:
                return out
            out += chunk

    def read(self, n_bytes_at_least=1, timeout=5):
        self.sock.settimeout(timeout)
        out = b""
        while len(out) < n_bytes_at_least:
            chunk = self.sock.recv(65536)
            if not chunk:
                break
            out += chunk
        return out

    def close(self):
        self.sock.close()


def run_command(conn, *args):
    """Sends one command on a redis-py connection; returns the reply or the
    error as ('error', text) so replies and errors compare alike."""
    conn.send_command(*args)
    try:
        return conn.read_response()
    except redis.ResponseError as e:
        return ("error", str(e))


def blocked_call(client, *args):
    """Runs a command on its own thread; returns (thread, result dict)."""
    result = {}

    def run():
        try:
            result["reply"] = client.execute_command(*args)
        except Exception as e:  # noqa: BLE001 - the test inspects it
            result["error"] = e

    t = threading.Thread(target=run)
    t.start()
    return t, result


def wait_blocked(admin, n):
    wait_until(lambda: admin.info("clients").get("blocked_clients") == n, timeout=5,
               what=f"{n} blocked clients")


def join_group(replica, master, timeout=30):
    """REPLICAOF: makes 'replica' a member of 'master''s Raft group; returns
    once the master reports every member a voter (state=online)."""
    r, m = replica.client(), master.client()
    assert r.execute_command("REPLICAOF", "127.0.0.1", master.port) == b"OK"
    wait_until(lambda: r.info("replication").get("master_link_status") == "up", timeout=timeout,
               what="replica link up")

    def all_online():
        info = m.info("replication")
        slaves = [v for k, v in info.items() if k.startswith("slave") and isinstance(v, dict)]
        return any(s["port"] == replica.port for s in slaves) and all(
            s["state"] == "online" for s in slaves)

    wait_until(all_online, timeout=timeout, what="replica promoted to voter")


def applied_index(server):
    """The Raft index the node has applied (INFO replication's offset)."""
    return server.client().info("replication")["master_repl_offset"]
