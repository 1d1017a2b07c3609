"""protected-mode like Redis 7.0: with no password for the default user,
only loopback clients are served. A client outside loopback is simulated by
a network namespace this test creates (a veth pair with private addresses
that exist only inside the test), and the bytes keyraft and redis-server
send it are compared."""
import os
import shutil
import subprocess

import pytest

from harness import KEYRAFT, REDIS, Server

SUFFIX = str(os.getpid() % 100000)
NS = f"krpm{SUFFIX}"
HOST_IF, NS_IF = f"krph{SUFFIX}", f"krpn{SUFFIX}"
SUBNET = 100 + os.getpid() % 100
HOST_IP, NS_IP = f"10.213.{SUBNET}.1", f"10.213.{SUBNET}.2"


def sh(*args, check=True):
    return subprocess.run(args, check=check, capture_output=True, text=True, timeout=20)


@pytest.fixture(scope="module")
def netns():
    if os.geteuid() != 0 or shutil.which("ip") is None:
        pytest.skip("needs root and iproute2 to create a network namespace")
    try:
        sh("ip", "netns", "add", NS)
    except subprocess.CalledProcessError as e:
        pytest.skip(f"network namespaces unavailable: {e.stderr.strip()}")
    try:
        sh("ip", "link", "add", HOST_IF, "type", "veth", "peer", "name", NS_IF)
        sh("ip", "link", "set", NS_IF, "netns", NS)
        sh("ip", "addr", "add", f"{HOST_IP}/30", "dev", HOST_IF)
        sh("ip", "link", "set", HOST_IF, "up")
        sh("ip", "netns", "exec", NS, "ip", "addr", "add", f"{NS_IP}/30", "dev", NS_IF)
        sh("ip", "netns", "exec", NS, "ip", "link", "set", NS_IF, "up")
        yield
    finally:
        sh("ip", "netns", "del", NS, check=False)
        sh("ip", "link", "del", HOST_IF, check=False)


def remote_exchange(port, payload=b"PING\r\n"):
    """Sends 'payload' from inside the namespace; returns all the server sent."""
    script = (
        "import socket,sys\n"
        f"s=socket.create_connection(('{HOST_IP}',{port}),timeout=5)\n"
        f"s.sendall({payload!r})\n"
        "out=b''\n"
        "try:\n"
        "    while True:\n"
        "        d=s.recv(65536)\n"
        "        if not d: break\n"
        "        out+=d\n"
        "        if out.endswith(b'\\r\\n') and not out.startswith(b'-DENIED'): break\n"
        "except OSError: pass  # a reset after the server closed\n"
        "sys.stdout.write(repr(out))\n")
    res = sh("ip", "netns", "exec", NS, "/usr/bin/python3", "-c", script)
    return eval(res.stdout)  # noqa: S307 - our own repr() of bytes


def both(args):
    servers = [Server(KEYRAFT, args=args).start(), Server(REDIS, args=args).start()]
    return servers


@pytest.mark.parametrize("extra, expect_prefix", [
    ([], b"-DENIED Redis is running in protected mode"),
    (["--requirepass", "secret"], b"-NOAUTH"),
    (["--protected-mode", "no"], b"+PONG"),
])
def test_remote_client_sees_what_redis_sends(netns, extra, expect_prefix):
    servers = both(["--bind", "0.0.0.0", "--protected-mode", "yes", *extra])
    try:
        ours, theirs = (remote_exchange(s.port) for s in servers)
        assert ours == theirs
        assert ours.startswith(expect_prefix)
        # Loopback clients are always served.
        if "--requirepass" not in extra:
            assert servers[0].client().ping()
    finally:
        for s in servers:
            s.cleanup()
