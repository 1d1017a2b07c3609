"""kill -9 of a shard's leader under 10 concurrent writers: a new leader
takes over within two election timeouts, every acknowledged write is on it,
and the old leader restarts, rejoins and ends with the same DEBUG DIGEST as
the others at the same applied index."""
import signal
import time

from shard import ELECTION_TIMEOUT_S, Shard, Writers, role
from harness import wait_until


def test_kill_leader_under_writes():
    shard = Shard().start()
    try:
        old = shard.nodes[0]
        writers = Writers(old).start()
        writers.wait_for_more(500)

        killed_at = time.monotonic()
        old.stop(signal.SIGKILL)
        survivors = shard.nodes[1:]
        new = shard.leader(among=survivors, timeout=10)
        takeover_s = time.monotonic() - killed_at
        print(f"\ntakeover after kill -9 of the leader: {takeover_s * 1000:.0f} ms "
              f"(election timeout {ELECTION_TIMEOUT_S * 1000:.0f} ms, randomised 1x-2x)")
        # Two election timeouts: a follower stands within 2x the timeout
        # after the last heartbeat (randomised 1x-2x); the election itself
        # is a few round trips.
        assert takeover_s < 2 * 2 * ELECTION_TIMEOUT_S

        writers.target = new
        writers.wait_for_more(500)
        writers.stop()
        print(f"acknowledged writes: {writers.total()}, failed or unanswered: {writers.errors}")
        assert writers.missing_on(new) == []

        old.start()
        wait_until(lambda: role(old) == "slave", timeout=30, what="old leader rejoins")
        index, digest = shard.converged_digest()
        print(f"all three members at applied index {index}, digest {digest.decode()}")
        assert writers.missing_on(old) == []
    finally:
        shard.cleanup()
