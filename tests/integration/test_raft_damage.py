"""Damaged data directories (issue 5, acceptance 4).

A node with appendonly yes writes keys, restarts (closing its open segment),
writes more and is killed with SIGKILL. For each kind of damage done to a
copy of that directory, keyraft-check exits 1 naming the file and the byte
offset, and keyraft-server refuses to start (exit code 1) with a log line
saying the same; the one exception is a torn tail of the last open segment
(a crash in the middle of a write), which the server cuts, starting with
every entry before the tear. An intact directory checks OK (exit 0) and
starts with all its keys. The dump file is checked too.
"""
import os
import shutil
import signal
import subprocess

import pytest

from harness import KEYRAFT, KEYRAFT_CHECK, Server, wait_until

PHASE_A = 20  # keys written before the clean restart (then in a closed segment)
PHASE_B = 20  # keys written after it (in the open segment at the kill)
START_TIMEOUT = 30


def run_check(data_dir, *args):
    p = subprocess.run([KEYRAFT_CHECK, *args, data_dir], capture_output=True, text=True,
                       timeout=60)
    return p.returncode, p.stdout + p.stderr


def key(i):
    return f"k{i}"


def value(i):
    """Phase A, phase B; the very last write is large, so that its batch
    crosses a 512-byte sector boundary (the power-loss case)."""
    if i == PHASE_A + PHASE_B - 1:
        return b"z" * 1500
    return (b"a" if i < PHASE_A else b"b") * i


def wait_loaded(client):
    wait_until(lambda: client.info("persistence")["loading"] == 0, timeout=START_TIMEOUT,
               what="log replay")


@pytest.fixture(scope="module")
def template():
    """A data directory: metadata, the bootstrap segment, a closed segment
    with phase A, and an open segment holding phase B (killed with -9)."""
    s = Server(KEYRAFT, args=["--appendonly", "yes"])
    try:
        s.start()
        r = s.client()
        for i in range(PHASE_A):
            r.set(key(i), value(i))
        s.stop(signal.SIGTERM)
        s.start()
        r = s.client()
        wait_loaded(r)
        for i in range(PHASE_A, PHASE_A + PHASE_B):
            r.set(key(i), value(i))
        s.stop(signal.SIGKILL)
        saved = s.dir + "-template"
        shutil.copytree(s.dir, saved)
        yield saved
        shutil.rmtree(saved, ignore_errors=True)
    finally:
        s.cleanup()


def raft_files(data_dir):
    return sorted(os.listdir(os.path.join(data_dir, "raft")))


def closed_segments(data_dir):
    return [f for f in raft_files(data_dir) if "-" in f and f[0].isdigit()]


def open_with_data(data_dir):
    """The open segments that hold batches."""
    out = []
    for f in raft_files(data_dir):
        if f.startswith("open-"):
            with open(os.path.join(data_dir, "raft", f), "rb") as fh:
                if fh.read(8) != b"\0" * 8:
                    out.append(f)
    return out


def batches(path):
    """(start, data start, end, entries) of every batch in a segment file."""
    with open(path, "rb") as fh:
        data = fh.read()
    out, off = [], 8
    while off + 16 <= len(data):
        n = int.from_bytes(data[off + 8:off + 16], "little")
        if n == 0:
            break
        lens = [int.from_bytes(data[off + 16 + 16 * i + 12:off + 16 + 16 * i + 16], "little")
                for i in range(n)]
        data_off = off + 16 + 16 * n
        out.append((off, data_off, data_off + sum(lens), n))
        off = data_off + sum(lens)
    return out


class Damaged:
    """A server whose directory is a copy of the template, damaged by the test."""

    def __init__(self, template, appendonly="yes"):
        self.server = Server(KEYRAFT, args=["--appendonly", appendonly])
        shutil.rmtree(self.server.dir)
        shutil.copytree(template, self.server.dir)
        self.dir = self.server.dir

    def path(self, name):
        return os.path.join(self.dir, "raft", name)

    def flip(self, name, offset):
        with open(self.path(name), "r+b") as fh:
            fh.seek(offset)
            b = fh.read(1)
            fh.seek(offset)
            fh.write(bytes([b[0] ^ 0x5A]))

    def truncate(self, name, size):
        os.truncate(self.path(name), size)

    def refuses_to_start(self):
        self.server.start(wait=False)
        rc = self.server.proc.wait(timeout=START_TIMEOUT)
        return rc, self.server.read_log()

    def cleanup(self):
        self.server.cleanup()


@pytest.fixture
def damaged(template):
    made = []

    def make(appendonly="yes"):
        d = Damaged(template, appendonly)
        made.append(d)
        return d

    yield make
    for d in made:
        d.cleanup()


def assert_refused(d, name, offset, reason):
    """keyraft-check and the server both name 'name' at 'offset'."""
    rc, out = run_check(d.dir)
    assert rc == 1, out
    assert f"raft/{name}: DAMAGED at byte {offset}: " in out, out
    assert reason in out, out
    assert "keyraft-check: DAMAGED" in out
    rc, log = d.refuses_to_start()
    assert rc == 1, log
    assert f"Bad Raft log file {d.dir}/raft/{name} at byte {offset}: " in log, log
    assert reason in log, log
    assert "refusing to start" in log, log


def test_intact_directory_checks_ok_and_starts(template, damaged):
    rc, out = run_check(template)
    assert rc == 0, out
    assert "keyraft-check: OK" in out
    assert len(closed_segments(template)) >= 2
    for f in closed_segments(template) + open_with_data(template):
        assert f"raft/{f}: OK, entries " in out, out
    d = damaged()
    d.server.start()
    r = d.server.client()
    wait_loaded(r)
    for i in range(PHASE_A + PHASE_B):
        assert r.get(key(i)) == value(i)


def test_usage_errors(template):
    assert run_check(template, "--bogus")[0] == 2
    assert run_check(template, "--yes")[0] == 2
    p = subprocess.run([KEYRAFT_CHECK], capture_output=True, text=True, timeout=10)
    assert p.returncode == 2
    assert run_check(os.path.join(template, "no-such-dir"))[0] == 2


def test_closed_segment_cut_mid_batch(damaged):
    d = damaged()
    seg = closed_segments(d.dir)[-1]
    last = batches(d.path(seg))[-1]
    d.truncate(seg, last[1] + 3)
    assert_refused(d, seg, last[1], "batch data cut short")


def test_closed_segment_data_byte_flipped(damaged):
    d = damaged()
    seg = closed_segments(d.dir)[-1]
    b = batches(d.path(seg))[len(batches(d.path(seg))) // 2]
    d.flip(seg, b[1] + 9)
    assert_refused(d, seg, b[1], "batch data checksum mismatch")


def test_closed_segment_header_byte_flipped(damaged):
    d = damaged()
    seg = closed_segments(d.dir)[-1]
    b = batches(d.path(seg))[1]
    d.flip(seg, b[0] + 16)  # the first entry's term
    assert_refused(d, seg, b[0], "batch header checksum mismatch")


def test_open_segment_data_byte_flipped(damaged):
    """A flipped byte in an open segment is damage, not a torn tail: libraft
    0.15 alone would silently drop that batch and everything after it."""
    d = damaged()
    (seg,) = open_with_data(d.dir)
    bs = batches(d.path(seg))
    b = bs[len(bs) // 2]
    d.flip(seg, b[1] + 12)
    assert_refused(d, seg, b[1], "batch data checksum mismatch")


def test_open_segment_header_byte_flipped(damaged):
    d = damaged()
    (seg,) = open_with_data(d.dir)
    b = batches(d.path(seg))[2]
    d.flip(seg, b[0] + 16 + 12)  # the first entry's length
    assert_refused(d, seg, b[0], "batch header checksum mismatch")


def test_metadata_corrupted(damaged):
    d = damaged()
    d.flip("metadata1", 0)  # the format
    assert_refused(d, "metadata1", 0, "format")


def test_metadata_term_below_the_log(damaged):
    d = damaged()
    with open(d.path("metadata1"), "r+b") as fh:
        fh.seek(16)
        fh.write(b"\0" * 8)
    assert_refused(d, "metadata1", 16, "lower than term")


def test_metadata_cut_short(damaged):
    d = damaged()
    d.truncate("metadata1", 20)
    assert_refused(d, "metadata1", 20, "20 bytes, expected 32")


def test_torn_tail_is_cut_at_startup(damaged):
    d = damaged()
    (seg,) = open_with_data(d.dir)
    bs = batches(d.path(seg))
    torn = bs[-1]
    d.truncate(seg, torn[1] + 5)  # the crash cut the last write short
    rc, out = run_check(d.dir)
    assert rc == 1, out
    assert f"raft/{seg}: TORN TAIL at byte {torn[0]}: " in out, out
    d.server.start()
    r = d.server.client()
    wait_loaded(r)
    log = d.server.read_log()
    assert f"Raft log file {d.dir}/raft/{seg}: " in log and f"Cutting it at byte {torn[0]}" in log
    present = [i for i in range(PHASE_A + PHASE_B) if r.exists(key(i))]
    # Every entry before the tear, nothing after it.
    assert present == list(range(len(present))), present
    assert PHASE_A + PHASE_B - 1 not in present
    assert len(present) >= PHASE_A + PHASE_B - 1
    d.server.stop(signal.SIGTERM)
    rc, out = run_check(d.dir)
    assert rc == 0, out


def test_torn_tail_in_zeros(damaged):
    """Power loss: the last batch's sectors from a 512-byte boundary on were
    never written and read back as the preallocated zeros."""
    d = damaged()
    (seg,) = open_with_data(d.dir)
    torn = batches(d.path(seg))[-1]
    boundary = (torn[0] // 512 + 1) * 512
    assert boundary < torn[2]  # value(): the last batch is large
    with open(d.path(seg), "r+b") as fh:
        fh.seek(boundary)
        fh.write(b"\0" * (torn[2] - boundary))
    rc, out = run_check(d.dir)
    assert rc == 1 and f"raft/{seg}: TORN TAIL at byte {torn[0]}: " in out, out


def test_fix_cuts_a_torn_tail(damaged):
    d = damaged()
    (seg,) = open_with_data(d.dir)
    torn = batches(d.path(seg))[-1]
    d.truncate(seg, torn[0] + 10)
    # Without confirmation nothing changes.
    p = subprocess.run([KEYRAFT_CHECK, "--fix", d.dir], input="n\n", capture_output=True,
                       text=True, timeout=60)
    assert p.returncode == 1 and "Not fixed." in p.stdout, p.stdout
    assert os.path.getsize(d.path(seg)) == torn[0] + 10
    rc, out = run_check(d.dir, "--fix", "--yes")
    assert rc == 0, out
    assert f"Cut raft/{seg} at byte {torn[0]}" in out
    assert os.path.getsize(d.path(seg)) == torn[0]
    # --fix repairs nothing else.
    d.flip(closed_segments(d.dir)[-1], 60)
    rc, out = run_check(d.dir, "--fix", "--yes")
    assert rc == 1 and "Cut raft/" not in out


def test_check_accepts_the_raft_directory_itself(template):
    rc, out = run_check(os.path.join(template, "raft"))
    assert rc == 0, out
    assert "\nmetadata1: OK" in "\n" + out


def test_dump_file_damage(damaged, tmp_path):
    s = Server(KEYRAFT)
    try:
        s.start()
        r = s.client()
        for i in range(50):
            r.set(key(i), "v" * i)
        r.rpush("list", *[str(i) for i in range(100)])
        r.save()
        s.stop(signal.SIGTERM)
        dump = os.path.join(s.dir, "dump.rdb")
        rc, out = run_check(s.dir)
        assert rc == 0 and "dump.rdb: OK, 51 keys" in out, out
        size = os.path.getsize(dump)
        for damage in ("flip", "cut"):
            d = damaged(appendonly="no")
            shutil.copy(dump, os.path.join(d.dir, "dump.rdb"))
            target = os.path.join(d.dir, "dump.rdb")
            if damage == "flip":
                with open(target, "r+b") as fh:
                    fh.seek(size // 2)
                    b = fh.read(1)
                    fh.seek(size // 2)
                    fh.write(bytes([b[0] ^ 0x01]))
            else:
                os.truncate(target, size - 3)
            rc, out = run_check(d.dir)
            assert rc == 1, out
            assert "dump.rdb: DAMAGED at byte " in out, out
            rc, log = d.refuses_to_start()
            assert rc == 1, log
            assert f"Fatal error loading the DB file {target}" in log, log
    finally:
        s.cleanup()


# ---- Snapshots (snapshot-TERM-INDEX-MS and its .meta in raft/) ----

@pytest.fixture(scope="module")
def snap_template():
    """A directory whose log has a snapshot (BGREWRITEAOF) and entries after
    it; skipped when this build takes no Raft snapshots."""
    s = Server(KEYRAFT, args=["--appendonly", "yes"])
    try:
        s.start()
        r = s.client()
        for i in range(30):
            r.set(key(i), value(i))
        r.bgrewriteaof()

        def snapshot_files():
            names = os.listdir(os.path.join(s.dir, "raft"))
            return [n for n in names if n.startswith("snapshot-") and not n.endswith(".meta")
                    and n + ".meta" in names]

        try:
            wait_until(lambda: snapshot_files(), timeout=15, what="a Raft snapshot")
        except TimeoutError:
            pytest.skip("this build takes no Raft snapshots")
        for i in range(30, 40):
            r.set(key(i), value(i))
        s.stop(signal.SIGKILL)
        saved = s.dir + "-snap-template"
        shutil.copytree(s.dir, saved)
        yield saved, snapshot_files()[0]
        shutil.rmtree(saved, ignore_errors=True)
    finally:
        s.cleanup()


@pytest.fixture
def snap_damaged(snap_template):
    made = []

    def make():
        d = Damaged(snap_template[0])
        made.append(d)
        return d, snap_template[1]

    yield make
    for d in made:
        d.cleanup()


def test_snapshot_intact(snap_template, snap_damaged):
    rc, out = run_check(snap_template[0])
    assert rc == 0, out
    assert f"raft/{snap_template[1]}: OK, snapshot of term " in out, out
    d, _ = snap_damaged()
    d.server.start()
    r = d.server.client()
    wait_loaded(r)
    for i in range(40):
        assert r.get(key(i)) == value(i)


def test_snapshot_payload_byte_flipped(snap_damaged):
    d, snap = snap_damaged()
    size = os.path.getsize(d.path(snap))
    d.flip(snap, size // 2)
    assert_refused(d, snap, size - 8, "checksum")


def test_snapshot_payload_cut_short(snap_damaged):
    d, snap = snap_damaged()
    size = os.path.getsize(d.path(snap)) // 2
    d.truncate(snap, size)
    assert_refused(d, snap, size - 8, "checksum")


def test_snapshot_meta_corrupted(snap_damaged):
    d, snap = snap_damaged()
    d.flip(snap + ".meta", 40)  # inside the configuration
    assert_refused(d, snap + ".meta", 8, "checksum mismatch")


def test_snapshot_meta_cut_short(snap_damaged):
    d, snap = snap_damaged()
    d.truncate(snap + ".meta", 50)
    assert_refused(d, snap + ".meta", 50, "configuration cut short")


def test_member_file_damaged(damaged):
    """Without its member id the node would start under a new one its log's
    configuration does not know, and never lead."""
    d = damaged()
    with open(os.path.join(d.dir, "keyraft.member"), "w") as fh:
        fh.write("12x4 bootstr\n")
    rc, out = run_check(d.dir)
    assert rc == 1 and "keyraft.member: DAMAGED at byte 0: " in out, out
    rc, log = d.refuses_to_start()
    assert rc == 1, log
    assert f"Bad member file {d.dir}/keyraft.member" in log, log
