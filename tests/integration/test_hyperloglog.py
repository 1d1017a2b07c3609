"""HyperLogLog: PFADD/PFCOUNT/PFMERGE side by side with Redis 7.0. keyraft
uses Redis's representation, so even the stored bytes (GET) agree."""
import random


def same_registers(same, key):
    """GET on both, ignoring the 8 cached-cardinality bytes: Redis rewrites
    them during PFCOUNT, keyraft (where PFCOUNT is a read) does not."""
    ours, theirs = same.both("GET", key)
    assert ours[:8] == theirs[:8] and ours[16:] == theirs[16:]


def test_pfadd_pfcount_and_bytes(same):
    same("PFADD", "h")
    same("GET", "h")
    same("PFADD", "h", "a", "b", "c")
    same("PFADD", "h", "a")
    same("GET", "h")
    same("PFCOUNT", "h")
    same("PFCOUNT", "nokey")
    same("PFADD", "big", *[f"e{i}" for i in range(3000)])
    same("GET", "big")  # promoted to dense on the way
    same("PFCOUNT", "big")


def test_random_elements_match(same):
    rng = random.Random(7)
    for round_ in range(20):
        batch = [str(rng.getrandbits(40)) for _ in range(rng.randint(1, 200))]
        same("PFADD", "r", *batch)
        same("GET", "r")
    same("PFCOUNT", "r")


def test_pfmerge(same):
    same("PFADD", "a", *[f"x{i}" for i in range(500)])
    same("PFADD", "b", *[f"x{i}" for i in range(250, 900)])
    same("PFMERGE", "dest", "a", "b")
    same("GET", "dest")
    same("PFCOUNT", "dest")
    same("PFCOUNT", "a", "b")
    same("PFADD", "dense", *[f"y{i}" for i in range(5000)])
    same("PFMERGE", "dest", "dense")  # a dense input makes the result dense
    same_registers(same, "dest")
    same("PFCOUNT", "dest", "a", "missing")
    same("PFMERGE", "empty")
    same("GET", "empty")


def test_errors(same):
    same("SET", "str", "not an hll")
    same("PFADD", "str", "x")
    same("PFCOUNT", "str")
    same("PFMERGE", "d", "str")
    same("SET", "fake", "HYLL\x05" + "\x00" * 11)
    same("PFADD", "fake", "x")
    same("PFADD")
    same("PFCOUNT")
    same("PFMERGE")


def test_hll_values_copied_from_redis_work(server, reference):
    """A value produced by Redis, SET into keyraft, counts and grows alike."""
    ref = reference.client()
    ref.delete("src")
    ref.pfadd("src", *[f"k{i}" for i in range(1200)])
    blob = ref.get("src")
    ours = server.client()
    ours.set("copy", blob)
    assert ours.pfcount("copy") == ref.pfcount("src")
    ours.pfadd("copy", "new1", "new2")
    ref.pfadd("src", "new1", "new2")
    assert ours.get("copy")[16:] == ref.get("src")[16:]
