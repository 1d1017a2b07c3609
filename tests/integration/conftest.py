"""Fixtures: a keyraft server, the reference redis-server 7.0, and `same`,
which runs commands on both and asserts identical replies."""
import pytest
import redis

from harness import KEYRAFT, REDIS, Server, run_command


@pytest.fixture
def server():
    s = Server(KEYRAFT).start()
    yield s
    s.cleanup()


@pytest.fixture
def r(server):
    client = server.client()
    yield client
    client.close()


@pytest.fixture(scope="session")
def reference():
    s = Server(REDIS, args=["--appendonly", "no"]).start()
    yield s
    s.cleanup()


class SideBySide:
    """One RESP2 connection to keyraft and one to redis-server 7.0. (RESP3 is
    compared byte for byte with resp_raw.py: redis-py 4.3.4 cannot speak it.)"""

    def __init__(self, ours, ref):
        self.conns = []
        for port in (ours.port, ref.port):
            c = redis.Connection(port=port, socket_timeout=10)
            c.connect()
            self.conns.append(c)
        # The reference lives for the whole session: start each test clean.
        for reset in (("FLUSHALL",), ("FUNCTION", "FLUSH"), ("SCRIPT", "FLUSH")):
            run_command(self.conns[1], *reset)

    def __call__(self, *args):
        """Runs args on both; asserts equal replies; returns keyraft's."""
        ours = run_command(self.conns[0], *args)
        theirs = run_command(self.conns[1], *args)
        assert ours == theirs, f"{args!r}: keyraft {ours!r} != redis {theirs!r}"
        return ours

    def both(self, *args):
        """Runs args on both without comparing (set-up steps)."""
        return [run_command(c, *args) for c in self.conns]

    def close(self):
        for c in self.conns:
            c.disconnect()


@pytest.fixture
def same(server, reference):
    s = SideBySide(server, reference)
    yield s
    s.close()
