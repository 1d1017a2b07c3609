"""The cluster bus between real keyraft nodes (node/cluster_bus.c,
cluster/gossip.c, cluster/busmsg.c): redis-cli --cluster create/check, slot
agreement, MEET spreading through gossip, failure detection after kill -9
(fail? then fail, cluster_state:fail) and recovery after a restart, the
FORGET ban, PUBLISH across nodes, and garbage on the bus port.

A short cluster-node-timeout keeps failure detection within seconds."""
import signal
import socket
import struct
import time

import pytest
import redis

from cluster_harness import (cli, cluster_args, cluster_info, myid, nodes_lines, slot_signature,
                             start_nodes, stop_nodes)
from harness import wait_until

NODE_TIMEOUT_MS = 1000
CLUSTER_ARGS = cluster_args(NODE_TIMEOUT_MS)


def tolerant(predicate):
    """The predicate, counting a node still loading its log as "not yet"."""
    def run():
        try:
            return predicate()
        except (redis.BusyLoadingError, redis.ConnectionError):
            return False
    return run


def flags_of(server, node_id):
    for fields in nodes_lines(server):
        if fields[0] == node_id:
            return set(fields[2].split(","))
    return None


def create(nodes, replicas=0):
    addrs = [f"127.0.0.1:{s.port}" for s in nodes]
    started = time.monotonic()
    res = cli("--cluster", "create", *addrs, "--cluster-replicas", str(replicas),
              "--cluster-yes", timeout=60)
    assert res.returncode == 0, res.stdout + res.stderr
    assert time.monotonic() - started < 30
    return res


def check_clean(server):
    res = cli("--cluster", "check", f"127.0.0.1:{server.port}")
    out = res.stdout + res.stderr
    assert res.returncode == 0, out
    assert "[WARNING]" not in out and "[ERR]" not in out, out
    assert "[OK] All 16384 slots covered." in out, out
    return out


@pytest.fixture(scope="module")
def cluster6():
    nodes = start_nodes(6, CLUSTER_ARGS)
    try:
        create(nodes)
        for s in nodes:
            wait_until(lambda s=s: cluster_info(s)["cluster_state"] == "ok", timeout=15,
                       what=f"cluster_state:ok on {s.port}")
        yield nodes
    finally:
        stop_nodes(nodes)


def test_create_then_check_is_clean_and_all_agree(cluster6):
    check_clean(cluster6[0])
    signatures = {slot_signature(s) for s in cluster6}
    assert len(signatures) == 1
    for s in cluster6:
        lines = nodes_lines(s)
        assert len(lines) == 6
        for fields in lines:
            assert "handshake" not in fields[2] and fields[7] == "connected", fields
            assert fields[1].startswith("127.0.0.1:"), fields
        i = cluster_info(s)
        assert i["cluster_known_nodes"] == "6" and i["cluster_size"] == "6"
        assert int(i["cluster_stats_messages_ping_sent"]) > 0
        assert int(i["cluster_stats_messages_pong_received"]) > 0
    # CLUSTER LINKS: an outbound link to every other node.
    links = cluster6[0].client().execute_command("CLUSTER", "LINKS")
    to = set()
    for link in links:
        fields = dict(zip(link[::2], link[1::2])) if isinstance(link, list) else link
        fields = {k.decode() if isinstance(k, bytes) else k: v for k, v in fields.items()}
        if fields["direction"] == b"to":
            to.add(fields["node"].decode())
    assert to == {myid(s) for s in cluster6[1:]}


def test_publish_reaches_subscribers_on_other_nodes(cluster6):
    sub = cluster6[1].client().pubsub()
    psub = cluster6[4].client().pubsub()
    sub.subscribe("news")
    psub.psubscribe("ne*")
    for p in (sub, psub):
        wait_until(lambda p=p: p.get_message(timeout=0.1) is not None, timeout=5)
    assert cluster6[3].client().publish("news", "hello") == 0  # no local subscriber
    got = {}

    def received():
        for name, p in (("sub", sub), ("psub", psub)):
            m = p.get_message(timeout=0.05)
            if m is not None and m["type"] in ("message", "pmessage"):
                got[name] = m
        return len(got) == 2

    wait_until(received, timeout=5, what="the message on both nodes")
    assert got["sub"]["data"] == b"hello" and got["sub"]["channel"] == b"news"
    assert got["psub"]["data"] == b"hello"
    sub.close()
    psub.close()


def bus_connection(server):
    s = socket.create_connection(("127.0.0.1", server.port + 10000), timeout=5)
    return s


def closed_by_peer(sock, timeout=5):
    sock.settimeout(timeout)
    try:
        while True:
            data = sock.recv(4096)
            if not data:
                return True
    except ConnectionResetError:
        return True
    except socket.timeout:
        return False


@pytest.mark.parametrize("payload", [
    b"KRBUS001" + struct.pack(">I", 5) + b"\xff\x00garbage",      # body that does not decode
    b"KRBUS001" + struct.pack(">I", 0xFFFFFFFF),                   # length over the limit
    b"KRBUS001" + struct.pack(">I", 0),                            # empty body
    b"HELLO!!!garbage",                                            # unknown preamble
])
def test_garbage_on_the_bus_port_closes_only_that_connection(cluster6, payload):
    s = bus_connection(cluster6[2])
    s.sendall(payload)
    assert closed_by_peer(s)
    s.close()
    assert cluster6[2].client().ping()
    assert cluster_info(cluster6[2])["cluster_state"] == "ok"
    wait_until(lambda: all(f[7] == "connected" for f in nodes_lines(cluster6[0])), timeout=5,
               what="every link up")


def mp(value):
    """A minimal msgpack encoder for the bus format's subset (tests only)."""
    if value is None:
        return b"\xc0"
    if isinstance(value, int):
        assert value >= 0
        return bytes([value]) if value < 128 else b"\xcf" + struct.pack(">Q", value)
    if isinstance(value, str):
        raw = value.encode()
        return (bytes([0xa0 | len(raw)]) if len(raw) < 32 else b"\xd9" + bytes([len(raw)])) + raw
    if isinstance(value, bytes):
        return b"\xc5" + struct.pack(">H", len(value)) + value
    if isinstance(value, list):
        head = bytes([0x90 | len(value)]) if len(value) < 16 else b"\xdc" + struct.pack(">H", len(value))
        return head + b"".join(mp(v) for v in value)
    raise TypeError(value)


def test_a_ping_split_into_single_bytes_gets_a_pong(cluster6):
    """A well-formed PING from a node nobody knows, written one byte at a
    time: the receiver reassembles the frame and answers with a PONG (and
    adds nobody: only a MEET does)."""
    target = cluster6[1]
    stranger = "f" * 40
    # [version, PING, sender, epochs, flags, master, ip, port, cport,
    #  hostname, client ip and port, slots, gossip, payload]
    body = mp([1, 0, stranger, 0, 0, 1, None, "", 1, 2, "", "", 0, bytes(2048), [], None])
    frame = b"KRBUS001" + struct.pack(">I", len(body)) + body
    s = bus_connection(target)
    for i in range(len(frame)):
        s.sendall(frame[i:i + 1])
    head = b""
    while len(head) < 4:
        chunk = s.recv(4 - len(head))
        assert chunk, "connection closed instead of a PONG"
        head += chunk
    (length,) = struct.unpack(">I", head)
    reply = b""
    while len(reply) < length:
        chunk = s.recv(length - len(reply))
        assert chunk
        reply += chunk
    s.close()
    # The same layout: version 1, type PONG (1), the sender's id (str8).
    assert reply[:5] == mp(list(range(16)))[:3] + b"\x01\x01"
    assert reply[5:7] == b"\xd9\x28" and reply[7:47].decode() == myid(target)
    assert stranger not in {f[0] for f in nodes_lines(target)}
    assert cluster_info(target)["cluster_known_nodes"] == "6"


def test_kill_master_is_detected_then_recovers(cluster6):
    victim = cluster6[2]
    victim_id = myid(victim)
    others = [s for s in cluster6 if s is not victim]
    victim.proc.send_signal(signal.SIGKILL)
    victim.proc.wait(10)
    seen_pfail = set()
    reports = []

    def all_fail():
        done = True
        for s in others:
            flags = flags_of(s, victim_id)
            if "fail?" in flags:
                seen_pfail.add(s.port)
            if "fail" not in flags:
                done = False
            reports.append(s.client().execute_command("CLUSTER", "COUNT-FAILURE-REPORTS",
                                                      victim_id))
        return done

    wait_until(all_fail, timeout=15, interval=0.01, what="fail flag on every node")
    assert seen_pfail, "no node showed fail? before fail"
    assert max(reports) >= 1, "no failure report seen"
    for s in others:
        wait_until(lambda s=s: cluster_info(s)["cluster_state"] == "fail", timeout=5)
    with pytest.raises(redis.ResponseError, match="CLUSTERDOWN"):
        others[0].client().get("somekey")
    # Restart with the same directory (nodes.conf, Raft log) and port.
    victim.log.close()
    victim.start()
    for s in cluster6:
        wait_until(tolerant(lambda s=s: cluster_info(s)["cluster_state"] == "ok"), timeout=20,
                   what=f"cluster_state:ok on {s.port} after the restart")
    for s in others:
        wait_until(lambda s=s: "fail" not in flags_of(s, victim_id)
                   and "fail?" not in flags_of(s, victim_id), timeout=10)
    check_clean(cluster6[0])


def test_meet_by_one_node_spreads_to_all_and_forget_bans():
    nodes = start_nodes(4, CLUSTER_ARGS)
    try:
        first = nodes[0].client()
        for s in nodes[1:]:
            assert first.execute_command("CLUSTER", "MEET", "127.0.0.1", s.port) == b"OK"
        ids = {myid(s) for s in nodes}

        def everyone_knows_everyone():
            for s in nodes:
                lines = nodes_lines(s)
                if {f[0] for f in lines} != ids:
                    return False
                if any("handshake" in f[2] or f[1].startswith(":") for f in lines):
                    return False
            return True

        wait_until(everyone_knows_everyone, timeout=15, what="full mesh after MEET")
        # Every node learned its own address from its peers.
        for s in nodes:
            me = [f for f in nodes_lines(s) if "myself" in f[2]][0]
            assert me[1] == f"127.0.0.1:{s.port}@{s.port + 10000}"
        # FORGET: node 0 drops node 3 and does not learn it again through
        # gossip from nodes 1 and 2 (which still know it) for a minute.
        gone = myid(nodes[3])
        assert first.execute_command("CLUSTER", "FORGET", gone) == b"OK"
        with pytest.raises(redis.ResponseError, match="Unknown node"):
            first.execute_command("CLUSTER", "FORGET", gone)
        deadline = time.monotonic() + 3 * NODE_TIMEOUT_MS / 1000
        while time.monotonic() < deadline:
            assert gone not in {f[0] for f in nodes_lines(nodes[0])}
            time.sleep(0.1)
        assert cluster_info(nodes[0])["cluster_known_nodes"] == "3"
        assert gone in {f[0] for f in nodes_lines(nodes[1])}
    finally:
        stop_nodes(nodes)


def masters_and_replicas(server):
    masters, replicas = {}, {}
    for f in nodes_lines(server):
        if "master" in f[2] and "fail" not in f[2] and len(f) > 8:
            masters[f[0]] = f[8:]
        elif "slave" in f[2]:
            replicas[f[0]] = f[3]
    return masters, replicas


def publish_from_a_script_arrives_once(nodes, masters, reps):
    """A PUBLISH inside EVAL runs on every member of the shard (the script
    is applied from the log): each subscriber still gets it once. SPUBLISH
    reaches the replica of the shard."""
    by_id = {myid(s): s for s in nodes}
    master_id = next(iter(masters))
    replica = by_id[next(r for r, m in reps.items() if m == master_id)]
    elsewhere = by_id[next(m for m in masters if m != master_id)]
    subs = [replica.client().pubsub(), elsewhere.client().pubsub()]
    for p in subs:
        p.subscribe("events")
        wait_until(lambda p=p: p.get_message(timeout=0.1) is not None, timeout=5)
    # SPUBLISH stays in the shard: a shard channel served by the master.
    master = by_id[master_id].client()
    first, last = (int(x) for x in masters[master_id][0].split("-"))
    channel = next(f"sch{i}" for i in range(100000)
                   if first <= master.execute_command("CLUSTER", "KEYSLOT", f"sch{i}") <= last)
    # (redis-py 4.3.4's PubSub does not know shard channels: a plain
    # connection reads the pushes.)
    ssub = redis.Connection(port=replica.port, socket_timeout=5)
    ssub.send_command("SSUBSCRIBE", channel)
    assert ssub.read_response() == [b"ssubscribe", channel.encode(), 1]
    master.eval("return redis.call('publish', 'events', 'x')", 0)
    master.publish("events", "y")
    master.execute_command("SPUBLISH", channel, "z")
    for p in subs:
        got = []
        deadline = time.monotonic() + 2
        while time.monotonic() < deadline:
            m = p.get_message(timeout=0.1)
            if m is not None and m["type"] == "message":
                got.append(m["data"])
        assert sorted(got) == [b"x", b"y"], got
        p.close()
    got = []
    while ssub.can_read(timeout=1):
        got.append(ssub.read_response())
    assert got == [[b"smessage", channel.encode(), b"z"]]
    ssub.disconnect()


@pytest.mark.parametrize("count,replicas", [(6, 1), (9, 2)])
def test_create_with_replicas(count, replicas):
    nodes = start_nodes(count, CLUSTER_ARGS)
    try:
        create(nodes, replicas)
        check_clean(nodes[0])
        # Every node sees 3 masters and every replica's master, identically.
        wait_until(lambda: len({repr(sorted(masters_and_replicas(s)[0].items()))
                                + repr(sorted(masters_and_replicas(s)[1].items()))
                                for s in nodes}) == 1, timeout=10,
                   what="the same masters and replicas everywhere")
        masters, reps = masters_and_replicas(nodes[0])
        assert len(masters) == 3 and len(reps) == 3 * replicas
        assert set(reps.values()) == set(masters)
        if replicas == 1:
            publish_from_a_script_arrives_once(nodes, masters, reps)
            return
        # A master killed: its shard elects a new leader, gossip spreads the
        # new owner (a higher config epoch) and every node agrees again.
        victim = next(s for s in nodes if myid(s) == next(iter(masters)))
        victim_id = myid(victim)
        # Both replicas are members of the victim's Raft group and have its
        # log first (a member with an empty log cannot be elected).

        def replicas_caught_up():
            role = victim.client().execute_command("ROLE")
            return len(role[2]) == 2 and all(int(r[2]) == int(role[1]) > 0 for r in role[2])

        wait_until(replicas_caught_up, timeout=15, what="two caught-up replicas")
        victim.proc.send_signal(signal.SIGKILL)
        victim.proc.wait(10)
        others = [s for s in nodes if s is not victim]

        def promoted():
            sigs = {slot_signature(s) for s in others}
            if len(sigs) != 1:
                return False
            return victim_id not in next(iter(sigs)) and \
                all(cluster_info(s)["cluster_state"] == "ok" for s in others)

        wait_until(promoted, timeout=20, interval=0.1, what="a promoted replica everywhere")
        # The old master comes back as a replica of the new one (an UPDATE).
        victim.log.close()
        victim.start()
        new_master = next(f[0] for f in nodes_lines(others[0])
                          if f[0] in reps and "master" in f[2])
        wait_until(tolerant(lambda: all(flags_of(s, victim_id) is not None
                                        and "slave" in flags_of(s, victim_id) for s in nodes)),
                   timeout=20, what="the old master as a replica everywhere")
        assert [f[3] for f in nodes_lines(victim) if "myself" in f[2]] == [new_master]
        check_clean(others[0])
    finally:
        stop_nodes(nodes)
