"""linearizable-reads yes: reads on a group's leader wait for a Raft barrier
issued after they arrive. They still answer as before (with and without a
group, pipelined, inside MULTI); each batch of reads costs one barrier entry;
a read after an acknowledged write on another connection sees it; followers
are not held; a leader that loses its majority answers a held read with
TRYAGAIN instead of possibly stale data."""
import signal
import socket
import threading

import pytest
import redis

from harness import KEYRAFT, Server, applied_index, join_group, wait_until


def start(*args):
    return Server(KEYRAFT, args=["--linearizable-reads", "yes", *args]).start()


@pytest.mark.parametrize("appendonly", ["no", "yes"])
def test_reads_answer_with_and_without_a_group(appendonly):
    s = start("--appendonly", appendonly)
    try:
        r = s.client()
        assert r.config_get("linearizable-reads") == {"linearizable-reads": "yes"}
        r.set("k", "v")
        r.rpush("l", "a", "b")
        assert r.get("k") == b"v"
        assert r.mget("k", "nokey") == [b"v", None]
        assert r.lrange("l", 0, -1) == [b"a", b"b"]
        pipe = r.pipeline(transaction=False)
        for i in range(500):
            pipe.set(f"p{i}", i)
            pipe.get(f"p{i}")
        replies = pipe.execute()
        assert replies[1::2] == [str(i).encode() for i in range(500)]
        tx = r.pipeline(transaction=True)
        tx.get("k").llen("l").exists("k")
        assert tx.execute() == [b"v", 2, 1]
        assert r.ping() and r.dbsize() == 502
        r.config_set("linearizable-reads", "no")
        assert r.get("k") == b"v"
    finally:
        s.cleanup()


def test_each_read_batch_is_one_barrier():
    s = start("--appendonly", "yes")
    try:
        r = s.client()
        r.set("k", "v")
        before = applied_index(s)
        assert r.get("k") == b"v"
        after_one = applied_index(s)
        assert after_one == before + 1  # the barrier entry
        r.config_set("linearizable-reads", "no")
        assert r.get("k") == b"v"
        assert applied_index(s) == after_one
        r.config_set("linearizable-reads", "yes")
        # A pipeline of reads rides on the barrier of its first read (what
        # arrived before the barrier was issued), not one barrier per read.
        start_index = applied_index(s)
        pipe = r.pipeline(transaction=False)
        for _ in range(2000):
            pipe.get("k")
        assert pipe.execute() == [b"v"] * 2000
        pipelined = applied_index(s) - start_index
        print(f"\na pipeline of 2000 GETs used {pipelined} barriers")
        assert 1 <= pipelined <= 20
        # Many clients reading at once share barriers.
        results = []

        def reader():
            c = s.client()
            results.append(all(c.get("k") == b"v" for _ in range(50)))

        threads = [threading.Thread(target=reader) for _ in range(8)]
        start_index = applied_index(s)
        for t in threads:
            t.start()
        for t in threads:
            t.join(30)
        assert results == [True] * 8
        used = applied_index(s) - start_index
        assert 1 <= used <= 8 * 50 + 1
        print(f"400 reads from 8 clients used {used} barriers")
    finally:
        s.cleanup()


@pytest.fixture
def trio():
    nodes = [start("--appendonly", "yes") for _ in range(3)]
    join_group(nodes[1], nodes[0])
    join_group(nodes[2], nodes[0])
    yield nodes
    for n in nodes:
        if n.proc.poll() is None:
            n.proc.send_signal(signal.SIGCONT)
        n.cleanup()


def test_read_after_acknowledged_write_on_another_connection(trio):
    leader, follower, _ = trio
    writer, reader = leader.client(), leader.client()
    for i in range(300):
        writer.set("counter", i)
        assert reader.get("counter") == str(i).encode()
    # Followers serve reads at once, possibly a little stale, and spend no
    # barrier on them.
    rf = follower.client()
    wait_until(lambda: rf.get("counter") == b"299", what="follower applied the last write")
    index = applied_index(follower)
    for _ in range(20):
        rf.get("counter")
    assert applied_index(follower) == index


def test_deposed_leader_answers_tryagain_not_stale_data(trio):
    leader, b, c = trio
    r = leader.client()
    r.set("k", "old")
    wait_until(lambda: all(n.client().get("k") == b"old" for n in (b, c)), what="replicated")
    b.proc.send_signal(signal.SIGSTOP)
    c.proc.send_signal(signal.SIGSTOP)
    try:
        # No majority: the barrier cannot commit, the read waits, and when
        # the leader notices it has lost its majority the read fails.
        sock = socket.create_connection(("127.0.0.1", leader.port), timeout=15)
        sock.sendall(b"*2\r\n$3\r\nGET\r\n$1\r\nk\r\n")
        reply = sock.recv(1000)
        sock.close()
        assert reply.startswith(b"-TRYAGAIN "), reply
    finally:
        b.proc.send_signal(signal.SIGCONT)
        c.proc.send_signal(signal.SIGCONT)
    wait_until(lambda: any(n.client().execute_command("ROLE")[0] == b"master"
                           for n in (leader, b, c)), timeout=20, what="a leader again")
    new_leader = next(n for n in (leader, b, c)
                      if n.client().execute_command("ROLE")[0] == b"master")
    assert new_leader.client().get("k") == b"old"


def test_config_errors():
    s = Server(KEYRAFT).start()
    try:
        r = s.client()
        assert r.config_get("linearizable-reads") == {"linearizable-reads": "no"}
        with pytest.raises(redis.ResponseError, match="argument must be 'yes' or 'no'"):
            r.config_set("linearizable-reads", "maybe")
    finally:
        s.cleanup()
