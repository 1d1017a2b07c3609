"""A 3-member keyraft shard on loopback for fault tests, and writer threads
that record which writes were acknowledged."""
import threading
import time

import redis

from harness import KEYRAFT, Server, applied_index, join_group, wait_until

# canonical/raft's default election timeout; each member waits a random
# 1x-2x of it without hearing from a leader before it stands for election.
ELECTION_TIMEOUT_S = 1.0


def connect(server, timeout):
    return redis.Redis(port=server.port, socket_timeout=timeout, socket_connect_timeout=timeout)


def role(server):
    """'master', 'slave', or None when the node does not answer."""
    try:
        return connect(server, 1).execute_command("ROLE")[0].decode()
    except (redis.ConnectionError, redis.TimeoutError, redis.ResponseError):
        return None


def accepts_writes(server):
    try:
        return connect(server, 1).set("probe", "1")
    except (redis.ConnectionError, redis.TimeoutError, redis.ResponseError):
        return False


class Shard:
    def __init__(self, appendfsync="always"):
        args = ["--appendonly", "yes", "--appendfsync", appendfsync,
                "--enable-debug-command", "yes"]
        self.nodes = [Server(KEYRAFT, args=args) for _ in range(3)]

    def start(self):
        for n in self.nodes:
            n.start()
        join_group(self.nodes[1], self.nodes[0])
        join_group(self.nodes[2], self.nodes[0])
        return self

    def cleanup(self):
        errors = []
        for n in self.nodes:
            try:
                n.cleanup()
            except AssertionError as e:  # a sanitizer report: raise after all are gone
                errors.append(e)
        if errors:
            raise errors[0]

    def leader(self, among=None, timeout=20):
        """The member that is master and takes writes (waits for one)."""
        found = []

        def one():
            for n in among or self.nodes:
                if n.proc.poll() is None and role(n) == "master" and accepts_writes(n):
                    found.append(n)
                    return True
            return False

        wait_until(one, timeout=timeout, interval=0.01, what="a leader taking writes")
        return found[0]

    def converged_digest(self, timeout=30):
        """Waits until every member applied the same index and has the same
        DEBUG DIGEST there; returns (index, digest)."""
        result = []

        def same():
            try:
                first = [applied_index(n) for n in self.nodes]
                digests = [n.client().execute_command("DEBUG", "DIGEST") for n in self.nodes]
                again = [applied_index(n) for n in self.nodes]
            except (redis.ConnectionError, redis.ResponseError):
                return False
            if len(set(first)) == 1 and first == again and len(set(digests)) == 1:
                result.append((first[0], digests[0]))
                return True
            return False

        wait_until(same, timeout=timeout, interval=0.1, what="equal applied index and digest")
        return result[0]


class Writers:
    """'count' threads, each writing w:<thread>:<n> = n in a loop to the
    current target and recording every n acknowledged with +OK. A failed or
    unanswered write is not recorded (its fate is unknown) and the thread
    moves on to the next n."""

    def __init__(self, target, count=10):
        self.target = target
        self.acked = [[] for _ in range(count)]
        self.errors = 0
        self.stopping = threading.Event()
        self.threads = [threading.Thread(target=self._run, args=(i,), daemon=True)
                        for i in range(count)]

    def _run(self, i):
        client, port, n = None, None, 0
        while not self.stopping.is_set():
            target = self.target
            if client is None or port != target.port:
                client = redis.Redis(port=target.port, socket_timeout=2, socket_connect_timeout=1)
                port = target.port
            try:
                if client.set(f"w:{i}:{n}", n):
                    self.acked[i].append(n)
            except (redis.ConnectionError, redis.TimeoutError, redis.ResponseError):
                self.errors += 1
                client = None
                time.sleep(0.05)
            n += 1

    def start(self):
        for t in self.threads:
            t.start()
        return self

    def stop(self):
        self.stopping.set()
        for t in self.threads:
            t.join(10)
        assert not any(t.is_alive() for t in self.threads)

    def total(self):
        return sum(len(a) for a in self.acked)

    def wait_for_more(self, count, timeout=20):
        goal = self.total() + count
        wait_until(lambda: self.total() >= goal, timeout=timeout, what=f"{count} more writes")

    def missing_on(self, server):
        """The acknowledged writes 'server' does not hold (read with MGET)."""
        r = connect(server, 30)
        # A restarted member answers -LOADING until it has replayed its log.
        wait_until(lambda: r.info("persistence")["loading"] == 0, timeout=30,
                   what="the member to finish loading")
        missing = []
        for i, acked in enumerate(self.acked):
            for start in range(0, len(acked), 1000):
                chunk = acked[start:start + 1000]
                values = r.mget([f"w:{i}:{n}" for n in chunk])
                missing += [(i, n) for n, v in zip(chunk, values) if v != str(n).encode()]
        return missing
