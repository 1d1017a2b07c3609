"""SIGSTOP of a shard's leader for longer than the election timeout, then
SIGCONT: the others elect a new leader meanwhile, the old one steps down
when it resumes, nothing acknowledged is lost, and the digests converge."""
import signal
import time

from shard import ELECTION_TIMEOUT_S, Shard, Writers, role
from harness import wait_until


def test_pause_leader_longer_than_election_timeout():
    shard = Shard().start()
    try:
        old = shard.nodes[0]
        writers = Writers(old).start()
        writers.wait_for_more(300)
        old.proc.send_signal(signal.SIGSTOP)
        stopped_at = time.monotonic()
        try:
            new = shard.leader(among=shard.nodes[1:], timeout=10)
            print(f"\nnew leader {(time.monotonic() - stopped_at) * 1000:.0f} ms after SIGSTOP")
            writers.target = new
            writers.wait_for_more(300)
            # Stay stopped for well over the (randomised) election timeout.
            while time.monotonic() - stopped_at < 3 * ELECTION_TIMEOUT_S:
                time.sleep(0.05)
        finally:
            old.proc.send_signal(signal.SIGCONT)
        wait_until(lambda: role(old) == "slave", timeout=20, what="old leader steps down")
        writers.wait_for_more(300)
        writers.stop()
        print(f"acknowledged writes: {writers.total()}, failed or unanswered: {writers.errors}")
        assert [role(n) for n in shard.nodes].count("master") == 1
        leader = shard.leader()
        assert writers.missing_on(leader) == []
        index, digest = shard.converged_digest()
        print(f"all three members at applied index {index}, digest {digest.decode()}")
        assert writers.missing_on(old) == []
    finally:
        shard.cleanup()
