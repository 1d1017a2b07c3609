"""redis-cli --cluster operations on a keyraft cluster (issue 6, acceptance 2):
add-node (master, --cluster-slave with and without --cluster-master-id),
reshard of 1000 slots holding 50k keys under a concurrent writer,
rebalance (--cluster-use-empty-masters, and --cluster-weight id=0 draining a
master, which then follows the node that took its last slot together with
its replicas, cluster-compat.md 2.7), del-node of a replica and of an emptied
master, and fix of an uncovered slot and of an open slot. After every step
`redis-cli --cluster check` is clean and no key is lost.

The tests of the first part run in order on one cluster (each step starts
from the previous one's result); the fix tests build their own."""
import random
import threading
import time

import pytest
import redis
from redis.cluster import RedisCluster
from redis.crc import key_slot

from cluster_harness import (addr, cli, cli_ok, cluster_args, cluster_info, myid, nodes_lines,
                             slot_signature, start_nodes, stop_nodes)
from harness import KEYRAFT, Server, wait_until

NODE_TIMEOUT_MS = 1000
CLUSTER_ARGS = cluster_args(NODE_TIMEOUT_MS)
RESHARD_SLOTS = 1000
KEYS_PER_SLOT = 50  # 50k keys in the 1000 resharded slots


# ---- Helpers ----

def line_of(server, node_id):
    for fields in nodes_lines(server):
        if fields[0] == node_id:
            return fields
    return None


def role_of(server, node_id):
    """('master', None) or ('slave', master-id) as 'server' sees 'node_id'."""
    fields = line_of(server, node_id)
    if fields is None:
        return None
    flags = fields[2].split(",")
    if "slave" in flags:
        return ("slave", fields[3])
    return ("master", None)


def owned_slots(server, node_id):
    """The slots 'server' says 'node_id' owns."""
    slots = set()
    for token in line_of(server, node_id)[8:]:
        if token.startswith("["):
            continue
        lo, _, hi = token.partition("-")
        slots.update(range(int(lo), int(hi or lo) + 1))
    return slots


def check_clean(server):
    out = cli_ok("--cluster", "check", addr(server))
    assert "[WARNING]" not in out and "[ERR]" not in out, out
    assert "[OK] All nodes agree about slots configuration." in out, out
    assert "[OK] All 16384 slots covered." in out, out
    return out


def wait_check_clean(server, timeout=20):
    """Gossip spreads a change within a few pings: check until clean."""
    last = {}

    def clean():
        res = cli("--cluster", "check", addr(server))
        last["out"] = res.stdout + res.stderr
        return (res.returncode == 0 and "[WARNING]" not in last["out"]
                and "[ERR]" not in last["out"]
                and "[OK] All 16384 slots covered." in last["out"])

    try:
        wait_until(clean, timeout=timeout, interval=0.5, what="a clean redis-cli --cluster check")
    except TimeoutError:
        raise AssertionError("check never clean:\n" + last.get("out", ""))
    return last["out"]


def wait_all_agree(servers, timeout=20):
    def agree():
        return len({slot_signature(s) for s in servers}) == 1
    wait_until(agree, timeout=timeout, interval=0.2, what="all nodes agree about slots")


def wait_role_everywhere(servers, node_id, expected, timeout=20):
    wait_until(lambda: all(role_of(s, node_id) == expected for s in servers), timeout=timeout,
               interval=0.1, what=f"{node_id} shown as {expected} everywhere")


def gets(r, keys):
    pipe = r.pipeline(transaction=False)
    for k in keys:
        pipe.get(k)
    return pipe.execute()


def log_lines(server, words=("Raft", "orgotten", "eplica", "leader", "RESET", "member")):
    """The server's log lines about Raft membership (for failure messages)."""
    return "\n".join(line for line in server.read_log().splitlines()
                     if any(w in line for w in words))[-6000:]


def readonly_get(server, key):
    """READONLY then GET on a new connection to 'server', or None while it
    redirects, loads or drops the connection (its view or data catching up)."""
    conn = redis.Connection(port=server.port, socket_timeout=5)
    try:
        conn.send_command("READONLY")
        conn.read_response()
        conn.send_command("GET", key)
        return conn.read_response()
    except (redis.ResponseError, redis.ConnectionError, redis.TimeoutError) as e:
        readonly_get.last_error = f"{server.port}: {e!r}"
        return None
    finally:
        conn.disconnect()


def tags_for_slots(slots):
    """A hash tag per slot: {tag} lands in that slot."""
    want = set(slots)
    tags = {}
    i = 0
    while want:
        tag = f"t{i}"
        s = key_slot(tag.encode())
        if s in want:
            tags[s] = tag
            want.discard(s)
        i += 1
    return tags


class Topology:
    """Slot -> owner's port, from CLUSTER SLOTS of one node."""

    def __init__(self, server):
        self.owner = {}
        for start, end, master, *_ in server.client().execute_command("CLUSTER", "SLOTS"):
            for s in range(start, end + 1):
                self.owner[s] = master[1]


def read_all(entry, keys):
    """Every key's value read from its slot's owner (pipelined per node)."""
    topo = Topology(entry)
    by_port = {}
    for k in keys:
        by_port.setdefault(topo.owner[key_slot(k.encode())], []).append(k)
    values = {}
    for port, ks in by_port.items():
        r = redis.Redis(port=port, socket_timeout=30)
        for i in range(0, len(ks), 5000):
            chunk = ks[i:i + 5000]
            pipe = r.pipeline(transaction=False)
            for k in chunk:
                pipe.get(k)
            for k, v in zip(chunk, pipe.execute()):
                values[k] = v
        r.close()
    return values


class Model:
    """What every key must hold: the last acknowledged value, or one of the
    values of writes that failed after it (their outcome is unknown)."""

    def __init__(self):
        self.acked = {}
        self.maybe = {}
        self.lock = threading.Lock()

    def ack(self, key, value):
        with self.lock:
            self.acked[key] = value
            self.maybe.pop(key, None)

    def unknown(self, key, value):
        with self.lock:
            self.maybe.setdefault(key, set()).add(value)

    def verify(self, entry):
        with self.lock:
            keys = sorted(set(self.acked) | set(self.maybe))
            expected = {k: ({self.acked[k]} if k in self.acked else {None}) |
                        self.maybe.get(k, set()) for k in keys}
        values = read_all(entry, keys)
        wrong = [(k, values.get(k), expected[k]) for k in keys
                 if (values.get(k).decode() if values.get(k) is not None else None)
                 not in expected[k]]
        assert not wrong, f"{len(wrong)} of {len(keys)} keys wrong, e.g. {wrong[:5]}"
        return len(keys)


def load(entry, model, keys, value_of):
    """SETs 'keys' pipelined on their owners; records them in 'model'."""
    topo = Topology(entry)
    by_port = {}
    for k in keys:
        by_port.setdefault(topo.owner[key_slot(k.encode())], []).append(k)
    for port, ks in by_port.items():
        r = redis.Redis(port=port, socket_timeout=30)
        for i in range(0, len(ks), 2000):
            chunk = ks[i:i + 2000]
            pipe = r.pipeline(transaction=False)
            for k in chunk:
                pipe.set(k, value_of(k))
            assert all(pipe.execute())
        r.close()
    for k in keys:
        model.ack(k, value_of(k))


class Writer(threading.Thread):
    """SETs keys across all slots through redis-py's RedisCluster (which
    follows MOVED and ASK and retries TRYAGAIN) and records every
    acknowledged write; a quarter of the writes go to 'hot' keys (keys in
    the slots being moved, among them loaded ones)."""

    def __init__(self, entry, model, hot_keys):
        super().__init__(daemon=True)
        self.entry = entry
        self.model = model
        self.hot = hot_keys
        self.stop_flag = threading.Event()
        self.acked = 0
        self.failed = 0
        self.errors = []
        self.rng = random.Random(7)

    def run(self):
        rc = None
        seq = 0
        while not self.stop_flag.is_set():
            if rc is None:
                try:
                    rc = RedisCluster(host="127.0.0.1", port=self.entry.port, socket_timeout=10)
                except Exception as e:  # noqa: BLE001 - retried, counted
                    self.errors.append(repr(e))
                    time.sleep(0.1)
                    continue
            seq += 1
            if self.rng.random() < 0.25:
                key = self.rng.choice(self.hot)
            else:
                key = f"w:{self.rng.randrange(20000)}"
            value = f"w{seq}"
            try:
                if rc.set(key, value):
                    self.model.ack(key, value)
                    self.acked += 1
                    continue
            except Exception as e:  # noqa: BLE001 - the write's outcome is unknown
                self.errors.append(repr(e))
                try:
                    rc.close()
                except Exception:  # noqa: BLE001
                    pass
                rc = None
            self.model.unknown(key, value)
            self.failed += 1
        if rc is not None:
            rc.close()

    def stop(self):
        self.stop_flag.set()
        self.join(30)
        assert not self.is_alive()


def create(nodes, replicas=0):
    cli_ok("--cluster", "create", *[addr(s) for s in nodes], "--cluster-replicas", str(replicas),
           "--cluster-yes", timeout=60)
    for s in nodes:
        wait_until(lambda s=s: cluster_info(s)["cluster_state"] == "ok", timeout=20,
                   what=f"cluster_state:ok on {s.port}")


# ---- One cluster, step by step ----

class Ops:
    """The cluster the ordered tests below work on, and what they found."""

    def __init__(self):
        self.masters = start_nodes(3, CLUSTER_ARGS)
        self.spares = []
        self.model = Model()
        self.ids = {}

    def all(self):
        return self.masters + self.spares

    def members(self):
        """Nodes still in the cluster."""
        return [s for s in self.all() if not getattr(s, "deleted", False)]

    def spare(self):
        s = Server(KEYRAFT, args=CLUSTER_ARGS).start()
        self.spares.append(s)
        return s


@pytest.fixture(scope="module")
def ops():
    o = Ops()
    try:
        create(o.masters)
        for s in o.masters:
            o.ids[s] = myid(s)
        yield o
    finally:
        stop_nodes(o.all())


def test_add_node_master(ops):
    entry = ops.masters[0]
    # Some data first, so the replicas added next have something to copy.
    load(entry, ops.model, [f"base:{i}" for i in range(3000)], lambda k: "v-" + k)
    new = ops.spare()
    out = cli_ok("--cluster", "add-node", addr(new), addr(entry))
    assert "[OK] New node added correctly." in out, out
    ops.new_master = new
    ops.ids[new] = myid(new)
    wait_role_everywhere(ops.members(), ops.ids[new], ("master", None))
    assert all(line_of(s, ops.ids[new])[8:] == [] for s in ops.members())
    # FUNCTION RESTORE copied the (empty) libraries; the node stays empty.
    assert new.client().execute_command("FUNCTION", "LIST") == []
    wait_check_clean(entry)


def test_add_node_replica_auto_selected_master(ops):
    entry = ops.masters[0]
    rep = ops.spare()
    out = cli_ok("--cluster", "add-node", addr(rep), addr(entry), "--cluster-slave")
    assert "Automatically selected master" in out, out
    ops.ids[rep] = myid(rep)
    # redis-cli picks the master with the fewest replicas: the first one
    # listed among those with none. Which one it named:
    named = out.split("Automatically selected master", 1)[1].splitlines()[0]
    chosen = next(s for s in ops.members() if named.strip().endswith(f":{s.port}"))
    wait_role_everywhere(ops.members(), ops.ids[rep], ("slave", ops.ids[chosen]))
    # The replica has its master's data (READONLY reads on the replica).
    rr = rep.client()
    wait_until(lambda: rr.dbsize() == chosen.client().dbsize(), timeout=20,
               what="replica caught up")
    rr.execute_command("READONLY")
    mine = [k for k in ops.model.acked if k.startswith("base:")
            and key_slot(k.encode()) in owned_slots(entry, ops.ids[chosen])]
    if mine:
        assert gets(rr, mine[:200]) == [("v-" + k).encode() for k in mine[:200]]
    ops.auto_replica, ops.auto_master = rep, chosen
    check_clean(entry)


def test_add_node_replica_with_master_id(ops):
    entry = ops.masters[0]
    target = ops.masters[1]
    rep = ops.spare()
    out = cli_ok("--cluster", "add-node", addr(rep), addr(entry), "--cluster-slave",
                 "--cluster-master-id", ops.ids[target])
    assert "[OK] New node added correctly." in out, out
    ops.ids[rep] = myid(rep)
    wait_role_everywhere(ops.members(), ops.ids[rep], ("slave", ops.ids[target]))
    rr = rep.client()
    wait_until(lambda: rr.dbsize() == target.client().dbsize() > 0, timeout=20,
               what="replica caught up")
    rr.execute_command("READONLY")
    mine = [k for k in ops.model.acked if k.startswith("base:")
            and key_slot(k.encode()) in owned_slots(entry, ops.ids[target])]
    assert mine
    assert gets(rr, mine[:200]) == [("v-" + k).encode() for k in mine[:200]]
    # Writes to the master still commit (its Raft group now has 2 members).
    assert target.client().set(mine[0], "again")
    ops.model.ack(mine[0], "again")
    wait_until(lambda: rr.get(mine[0]) == b"again", timeout=10, what="replicated write")
    ops.id_replica, ops.id_master = rep, target
    check_clean(entry)


def test_reshard_1000_slots_50k_keys_under_writer(ops):
    entry = ops.masters[0]
    src, dst = ops.masters[0], ops.masters[1]
    src_slots = sorted(owned_slots(entry, ops.ids[src]))
    moving = src_slots[:RESHARD_SLOTS]  # redis-cli takes the lowest-numbered
    tags = tags_for_slots(moving)
    keys = [f"{{{tags[s]}}}:{j}" for s in moving for j in range(KEYS_PER_SLOT)]
    assert len(keys) == RESHARD_SLOTS * KEYS_PER_SLOT
    load(entry, ops.model, keys, lambda k: "L" + k)
    assert sum(src.client().execute_command("CLUSTER", "COUNTKEYSINSLOT", s)
               for s in moving[:20]) >= 20 * KEYS_PER_SLOT
    hot = keys[::97] + [f"{{{tags[s]}}}:new" for s in moving]
    writer = Writer(entry, ops.model, hot)
    writer.start()
    try:
        wait_until(lambda: writer.acked > 100, timeout=20, what="the writer running")
        started = time.monotonic()
        out = cli_ok("--cluster", "reshard", addr(entry), "--cluster-from", ops.ids[src],
                     "--cluster-to", ops.ids[dst], "--cluster-slots", str(RESHARD_SLOTS),
                     "--cluster-yes", timeout=170)
        ops.reshard_seconds = time.monotonic() - started
        acked_during = writer.acked
        time.sleep(0.5)
    finally:
        writer.stop()
    print(f"reshard of {RESHARD_SLOTS} slots / {len(keys)} keys: {ops.reshard_seconds:.1f} s; "
          f"writer: {writer.acked} acknowledged, {writer.failed} failed")
    assert "[ERR]" not in out, out
    assert acked_during > 100
    moved_now = owned_slots(entry, ops.ids[dst])
    assert set(moving) <= moved_now
    assert all(src.client().execute_command("CLUSTER", "COUNTKEYSINSLOT", s) == 0
               for s in moving)
    wait_all_agree(ops.members())
    check_clean(entry)
    checked = ops.model.verify(entry)
    assert checked >= len(keys)


def test_rebalance_onto_empty_master(ops):
    entry = ops.masters[0]
    new = ops.new_master
    assert owned_slots(entry, ops.ids[new]) == set()
    out = cli_ok("--cluster", "rebalance", addr(entry), "--cluster-use-empty-masters",
                 timeout=170)
    assert "[ERR]" not in out, out
    wait_all_agree(ops.members())
    got = owned_slots(entry, ops.ids[new])
    # Four masters, weight 1 each: about a quarter of the slots each.
    assert 3800 < len(got) < 4400, len(got)
    check_clean(entry)
    ops.model.verify(entry)


def test_rebalance_weight_zero_drains_master_which_follows_taker(ops):
    """--cluster-weight <id>=0 empties a master; Redis 7.0: a master that
    loses its last slot becomes a replica of the node that took it, and its
    replicas follow (cluster-compat.md 2.7). Here the drained master has a
    replica (the auto-selected one)."""
    entry = ops.new_master
    drained, its_replica = ops.auto_master, ops.auto_replica
    out = cli_ok("--cluster", "rebalance", addr(entry), "--cluster-weight",
                 f"{ops.ids[drained]}=0", timeout=170)
    assert "[ERR]" not in out, out
    assert owned_slots(entry, ops.ids[drained]) == set()

    def taker():
        role = role_of(drained, ops.ids[drained])
        return role[1] if role and role[0] == "slave" else None

    wait_until(lambda: taker() is not None, timeout=20, what="the drained master a replica")
    taker_id = taker()
    taker_node = next(s for s in ops.members() if ops.ids[s] == taker_id)
    assert owned_slots(entry, taker_id)
    wait_role_everywhere(ops.members(), ops.ids[drained], ("slave", taker_id))
    wait_role_everywhere(ops.members(), ops.ids[its_replica], ("slave", taker_id))
    # Both joined the taker's shard: they hold its data.
    rt = taker_node.client()
    for node in (drained, its_replica):
        rn = node.client()
        wait_until(lambda rn=rn: rn.dbsize() == rt.dbsize(), timeout=30,
                   what="the follower caught up with the taker")
    wait_all_agree(ops.members())
    wait_check_clean(entry)
    ops.model.verify(entry)
    # Writes to the taker still commit, and reach its new replicas.
    slot = min(owned_slots(entry, taker_id))
    key = "{" + tags_for_slots([slot])[slot] + "}:after-drain"
    assert rt.set(key, "1")
    ops.model.ack(key, "1")
    for node in (drained, its_replica):
        try:
            wait_until(lambda node=node: readonly_get(node, key) == b"1", timeout=30,
                       what=f"the write replicated to {node.port}")
        except TimeoutError:
            raise AssertionError(f"{key} (slot {slot}) not readable on {node.port}: "
                                 f"{getattr(readonly_get, 'last_error', None)}; "
                                 f"ROLE {node.client().execute_command('ROLE')}")
    ops.drained, ops.taker = drained, taker_node
    check_clean(entry)


def forgotten_everywhere(ops, gone_id):
    return all(line_of(s, gone_id) is None for s in ops.members())


def assert_deleted(ops, node, node_id):
    node.deleted = True
    # Gone from every node's CLUSTER NODES.
    wait_until(lambda: forgotten_everywhere(ops, node_id), timeout=10,
               what="the node forgotten everywhere")
    # The deleted node got CLUSTER RESET SOFT: it knows only itself, same id.
    assert myid(node) == node_id
    assert cluster_info(node)["cluster_known_nodes"] == "1"
    assert [f[0] for f in nodes_lines(node)] == [node_id]
    # Not learned again through gossip (the FORGET ban is 60 s): several
    # node timeouts' worth of pings.
    deadline = time.monotonic() + 3 * NODE_TIMEOUT_MS / 1000
    while time.monotonic() < deadline:
        assert forgotten_everywhere(ops, node_id)
        time.sleep(0.2)


def test_del_node_replica(ops):
    entry = ops.masters[0]
    rep, master = ops.id_replica, ops.id_master
    before = master.client().info("replication")["connected_slaves"]
    out = cli_ok("--cluster", "del-node", addr(entry), ops.ids[rep])
    assert "Sending CLUSTER RESET SOFT to the deleted node." in out, out
    assert_deleted(ops, rep, ops.ids[rep])
    check_clean(entry)
    # Its master no longer counts it as a replica (keyraft: it left the
    # shard's Raft group)...
    try:
        wait_until(lambda: master.client().info("replication")["connected_slaves"] == before - 1,
                   timeout=10, what="the master without its replica")
    except TimeoutError:
        raise AssertionError("the master still counts the deleted replica: "
                             f"{master.client().info('replication')}\n" + log_lines(master)
                             + "\n---- deleted replica:\n" + log_lines(rep))
    # ...and still commits writes without it.
    slot = min(owned_slots(entry, ops.ids[master]))
    key = "{" + tags_for_slots([slot])[slot] + "}:after-del"
    assert master.client().set(key, "x")
    ops.model.ack(key, "x")
    ops.model.verify(entry)


def test_del_node_emptied_master(ops):
    """The master drained by rebalance (a replica of the taker by now)."""
    entry = ops.masters[0] if ops.masters[0] is not ops.drained else ops.new_master
    node = ops.drained
    assert owned_slots(entry, ops.ids[node]) == set()
    cli_ok("--cluster", "del-node", addr(entry), ops.ids[node])
    assert_deleted(ops, node, ops.ids[node])
    check_clean(entry)
    # The taker still commits writes.
    slot = min(owned_slots(entry, ops.ids[ops.taker]))
    key = "{" + tags_for_slots([slot])[slot] + "}:after-del-master"
    assert ops.taker.client().set(key, "y")
    ops.model.ack(key, "y")
    ops.model.verify(entry)


def test_del_node_replica_right_after_add_node(ops):
    """The replica is deleted right after add-node, while its master is
    still promoting it to a voter of the shard's Raft group: it leaves the
    group all the same, and the master's FORGET replies only once it did, so
    the CLUSTER RESET that follows cannot meet its old leader's messages
    (before, the reset node crashed inside libraft)."""
    entry = ops.masters[0] if ops.masters[0] is not ops.drained else ops.new_master
    master = ops.taker
    rm = master.client()
    replicas_before = rm.info("replication")["connected_slaves"]
    rep = ops.spare()
    cli_ok("--cluster", "add-node", addr(rep), addr(entry), "--cluster-slave",
           "--cluster-master-id", ops.ids[master])
    ops.ids[rep] = myid(rep)
    cli_ok("--cluster", "del-node", addr(entry), ops.ids[rep])
    assert_deleted(ops, rep, ops.ids[rep])
    wait_until(lambda: rm.info("replication")["connected_slaves"] == replicas_before,
               timeout=30, what="the master without the deleted replica")
    slot = min(owned_slots(entry, ops.ids[master]))
    key = "{" + tags_for_slots([slot])[slot] + "}:after-quick-del"
    assert rm.set(key, "z")
    ops.model.ack(key, "z")
    wait_check_clean(entry)


def test_del_node_master_without_slots_moves_its_replicas(ops):
    """An empty master with a replica: del-node re-points the replica at
    the master with the fewest replicas, then forgets the node."""
    entry = ops.new_master
    empty = ops.spare()
    cli_ok("--cluster", "add-node", addr(empty), addr(entry))
    ops.ids[empty] = myid(empty)
    wait_role_everywhere(ops.members(), ops.ids[empty], ("master", None))
    rep = ops.spare()
    cli_ok("--cluster", "add-node", addr(rep), addr(entry), "--cluster-slave",
           "--cluster-master-id", ops.ids[empty])
    ops.ids[rep] = myid(rep)
    wait_role_everywhere(ops.members(), ops.ids[rep], ("slave", ops.ids[empty]))
    out = cli_ok("--cluster", "del-node", addr(entry), ops.ids[empty])
    assert_deleted(ops, empty, ops.ids[empty])
    role = role_of(entry, ops.ids[rep])
    assert role[0] == "slave" and role[1] != ops.ids[empty], out
    new_master = next(s for s in ops.members() if ops.ids[s] == role[1])
    wait_role_everywhere(ops.members(), ops.ids[rep], ("slave", ops.ids[new_master]))
    rr, rm = rep.client(), new_master.client()
    wait_until(lambda: rr.dbsize() == rm.dbsize() > 0, timeout=30, what="the moved replica synced")
    wait_check_clean(entry)
    ops.model.verify(entry)


# ---- fix ----

@pytest.fixture
def cluster3():
    nodes = start_nodes(3, CLUSTER_ARGS)
    try:
        create(nodes)
        yield nodes
    finally:
        stop_nodes(nodes)


def test_fix_uncovered_slot(cluster3):
    entry = cluster3[0]
    slot = 16383
    for s in cluster3:
        assert s.client().execute_command("CLUSTER", "DELSLOTS", slot) == b"OK"
    res = cli("--cluster", "check", addr(entry))
    assert "[ERR] Not all 16384 slots are covered by nodes." in res.stdout, res.stdout
    out = cli_ok("--cluster", "fix", addr(entry), stdin="yes\n" * 5)
    assert "Fixing slots coverage..." in out, out
    wait_all_agree(cluster3)
    wait_check_clean(entry)
    owner = [s for s in cluster3 if slot in owned_slots(s, myid(s))]
    assert len(owner) == 1
    key = "{" + tags_for_slots([slot])[slot] + "}:k"
    wait_until(lambda: cluster_info(owner[0])["cluster_state"] == "ok", timeout=10,
               what="cluster_state:ok")
    assert owner[0].client().set(key, "v")
    assert owner[0].client().get(key) == b"v"


def test_fix_open_slot(cluster3):
    entry = cluster3[0]
    ids = {s: myid(s) for s in cluster3}
    slot = 0
    a = next(s for s in cluster3 if slot in owned_slots(s, ids[s]))
    b = next(s for s in cluster3 if s is not a)
    tag = tags_for_slots([slot])[slot]
    ka, kb = f"{{{tag}}}:on-a", f"{{{tag}}}:on-b"
    ra, rb = a.client(), b.client()
    assert ra.set(ka, "A")
    assert rb.execute_command("CLUSTER", "SETSLOT", slot, "IMPORTING", ids[a]) == b"OK"
    assert ra.execute_command("CLUSTER", "SETSLOT", slot, "MIGRATING", ids[b]) == b"OK"
    conn = redis.Connection(port=b.port, socket_timeout=10)
    conn.send_command("ASKING")
    assert conn.read_response() == b"OK"
    conn.send_command("SET", kb, "B")
    assert conn.read_response() == b"OK"
    conn.disconnect()
    res = cli("--cluster", "check", addr(entry))
    assert "[WARNING]" in res.stdout and "open slot" in res.stdout, res.stdout
    out = cli_ok("--cluster", "fix", addr(entry), stdin="yes\n" * 5)
    assert "Fixing open slot" in out, out
    wait_all_agree(cluster3)
    wait_check_clean(entry)
    owner = next(s for s in cluster3 if slot in owned_slots(entry, ids[s]))
    ro = owner.client()
    assert ro.get(ka) == b"A" and ro.get(kb) == b"B"
    assert ro.execute_command("CLUSTER", "COUNTKEYSINSLOT", slot) == 2
    for s in cluster3:
        if s is not owner:
            assert s.client().execute_command("CLUSTER", "COUNTKEYSINSLOT", slot) == 0
    # No node still shows the slot open.
    assert all("[" not in " ".join(f[8:]) for s in cluster3 for f in nodes_lines(s))


def test_migrate_again_of_a_key_written_meanwhile(cluster3):
    """A key written on the source while MIGRATE sends it stays there, newer,
    with an older copy on the target; redis-cli's next MIGRATE of the key
    (no REPLACE) must not get BUSYKEY (its value check needs DEBUG and the
    reshard would stop), and the last acknowledged value wins."""
    ids = {s: myid(s) for s in cluster3}
    slot = 100
    a = next(s for s in cluster3 if slot in owned_slots(s, ids[s]))
    b = next(s for s in cluster3 if s is not a)
    key = "{" + tags_for_slots([slot])[slot] + "}:hot"
    ra, rb = a.client(), b.client()
    assert ra.set(key, "0" * 100000)
    assert rb.execute_command("CLUSTER", "SETSLOT", slot, "IMPORTING", ids[a]) == b"OK"
    assert ra.execute_command("CLUSTER", "SETSLOT", slot, "MIGRATING", ids[b]) == b"OK"
    stop = threading.Event()
    acked = {"value": "0" * 100000, "count": 0}

    def write():
        w = a.client()
        n = 0
        while not stop.is_set():
            n += 1
            value = str(n) * (100000 // len(str(n)))
            try:
                w.set(key, value)
            except redis.ResponseError:  # ASK: the key has moved
                return
            acked["value"] = value
            acked["count"] = n

    writer = threading.Thread(target=write, daemon=True)
    writer.start()
    replies = []
    deadline = time.monotonic() + 5
    while time.monotonic() < deadline:
        try:
            replies.append(ra.execute_command("MIGRATE", "127.0.0.1", b.port, "", 0, 5000,
                                              "KEYS", key))
        except redis.ResponseError as e:
            replies.append(str(e))
        if writer.is_alive() is False:
            break
    stop.set()
    writer.join(10)
    # Move whatever is left, as redis-cli's loop does.
    for _ in range(10):
        if not ra.execute_command("CLUSTER", "GETKEYSINSLOT", slot, 10):
            break
        replies.append(ra.execute_command("MIGRATE", "127.0.0.1", b.port, "", 0, 5000,
                                          "KEYS", key))
    assert not [r for r in replies if "BUSYKEY" in str(r)], replies
    assert rb.execute_command("CLUSTER", "SETSLOT", slot, "NODE", ids[b]) == b"OK"
    assert ra.execute_command("CLUSTER", "SETSLOT", slot, "NODE", ids[b]) == b"OK"
    assert rb.get(key) == acked["value"].encode()
    assert acked["count"] > 0
