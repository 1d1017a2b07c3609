"""kill -9 of all three members of a shard during writes, then a restart of
all three: no acknowledged write is lost, whatever appendfsync says (the
Raft log syncs every batch before it counts towards a commit)."""
import signal

import pytest

from shard import Shard, Writers


@pytest.mark.parametrize("appendfsync", ["always", "everysec", "no"])
def test_kill_all_members_during_writes(appendfsync):
    shard = Shard(appendfsync).start()
    try:
        for n in shard.nodes:
            assert n.client().config_get("appendfsync") == {"appendfsync": appendfsync}
        writers = Writers(shard.nodes[0]).start()
        writers.wait_for_more(1000)
        for n in shard.nodes:  # all at once, while the writes are in flight
            n.proc.send_signal(signal.SIGKILL)
        for n in shard.nodes:
            n.proc.wait(10)
        writers.stop()
        acked = writers.total()
        for n in shard.nodes:
            n.start()
        leader = shard.leader(timeout=30)
        assert writers.missing_on(leader) == []
        index, _ = shard.converged_digest()
        for n in shard.nodes:
            assert writers.missing_on(n) == []
        print(f"\nappendfsync {appendfsync}: {acked} acknowledged writes, all present on all "
              f"three members after kill -9 of all (applied index {index})")
    finally:
        shard.cleanup()
