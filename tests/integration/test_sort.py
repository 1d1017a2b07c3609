"""SORT and SORT_RO side by side with redis-server 7.0: numeric and ALPHA
order, ASC/DESC, LIMIT edge cases, BY and GET patterns (strings, hash fields,
"#", missing keys, nosort), STORE into a list, every error, and sets whose
order is not total (compared as sorted lists)."""
import random


from harness import KEYRAFT, REDIS, Server, run_command, wait_until
from conftest import SideBySide
from resp_raw import RawPair, mask_id


def lists(same):
    same("RPUSH", "nums", "3", "1", "2", "10", "-5", "2.5", "1e2", "-inf", "+inf", "0x10", " 7")
    same("RPUSH", "words", "banana", "apple", "cherry", "Apple", "apple", "", "b", "ba")
    same("RPUSH", "ids", "1", "2", "3", "4", "5")
    for i, w in ((1, "30"), (2, "10"), (3, "20"), (4, "10"), (5, "abc")):
        same("SET", "w_%d" % i, w)
        same("SET", "name_%d" % i, "n%d" % (6 - i))
        same("HSET", "h_%d" % i, "w", str(i * 7 % 5), "name", "user%d" % i, "s", "xyz"[i % 3])


def test_numeric_and_alpha(same):
    lists(same)
    same("SORT", "nums")
    same("SORT", "nums", "DESC")
    same("SORT", "nums", "ASC")
    same("SORT", "nums", "ALPHA")
    same("SORT", "nums", "ALPHA", "DESC")
    same("SORT", "words")
    same("SORT", "words", "ALPHA")
    same("SORT", "words", "alpha", "desc")
    same("SORT", "words", "DESC", "ASC", "ALPHA")
    same("SORT", "ids")
    same("SORT_RO", "ids", "DESC")
    same("SORT_RO", "words", "ALPHA")
    same("RPUSH", "bad", "1", "nan")
    same("SORT", "bad")
    same("RPUSH", "trail", "1x")
    same("SORT", "trail")
    same("SORT", "trail", "ALPHA")
    same("RPUSH", "empty", "", "0", "-0", "1")
    same("SORT", "empty")
    same("RPUSH", "ties", "1.0", "1", "01", "1e0", "0.5")
    same("SORT", "ties")
    same("SORT", "ties", "DESC")
    same("SORT", "nokey")
    same("SORT", "nokey", "ALPHA", "LIMIT", "0", "10")
    # Big integers stored as listpack integers.
    same("RPUSH", "ints", "9223372036854775807", "-9223372036854775808", "9007199254740993",
         "9007199254740992", "0")
    same("SORT", "ints")
    # Last: Redis does not clear errno before strtod, so after a range error
    # its next numeric SORT on this connection may fail too.
    same("RPUSH", "big", "1e400")
    same("SORT", "big")
    same("RPUSH", "tiny", "1e-400")
    same("SORT", "tiny")


def test_limit(same):
    lists(same)
    for start, count in (("0", "3"), ("2", "2"), ("-1", "2"), ("0", "0"), ("0", "-1"),
                         ("3", "-5"), ("5", "1"), ("10", "1"), ("100", "100"),
                         ("-100", "3"), ("4", "1"), ("0", "1000"),
                         ("2", "9223372036854775807"), ("9223372036854775807", "1")):
        same("SORT", "ids", "LIMIT", start, count)
        same("SORT", "ids", "LIMIT", start, count, "DESC")
        same("SORT", "words", "ALPHA", "LIMIT", start, count)
        same("SORT", "ids", "BY", "nosort", "LIMIT", start, count)
        same("SORT", "ids", "BY", "nosort", "LIMIT", start, count, "DESC")
        same("SORT", "ids", "BY", "w_*", "LIMIT", start, count, "GET", "#", "GET", "name_*")
        same("SORT", "nokey", "LIMIT", start, count)
    same("SORT", "ids", "LIMIT", "1")
    same("SORT", "ids", "LIMIT")
    same("SORT", "ids", "LIMIT", "x", "1")
    same("SORT", "ids", "LIMIT", "1", "x")
    same("SORT", "ids", "LIMIT", "1", "99999999999999999999")
    same("SORT", "ids", "LIMIT", "0", "2", "LIMIT", "1", "2")


def test_by_and_get(same):
    lists(same)
    same("SORT", "ids", "BY", "w_*")  # w_5 is "abc": an error
    same("DEL", "w_5")
    same("SORT", "ids", "BY", "w_*")  # missing weights count as 0
    same("SORT", "ids", "BY", "w_*", "DESC")
    same("SORT", "ids", "BY", "w_*", "ALPHA")
    same("SORT", "ids", "BY", "w_*", "ALPHA", "DESC")
    same("SORT", "ids", "BY", "name_*", "ALPHA")
    same("SORT", "ids", "BY", "name_*")
    same("SORT", "ids", "BY", "h_*->w")
    same("SORT", "ids", "BY", "h_*->w", "DESC", "GET", "h_*->name", "GET", "#")
    same("SORT", "ids", "BY", "h_*->name", "ALPHA", "GET", "h_*->s")
    same("SORT", "ids", "BY", "h_*->missing")
    same("SORT", "ids", "BY", "h_*->missing", "ALPHA", "DESC")
    same("SORT", "ids", "BY", "h_*->")
    same("SORT", "ids", "BY", "h_*-")
    same("SORT", "ids", "BY", "w_*->w")  # strings are not hashes: missing
    same("SORT", "ids", "BY", "h_*")  # hashes are not strings: missing
    same("SORT", "ids", "BY", "nosort")
    same("SORT", "ids", "BY", "nosort", "DESC")
    same("SORT", "ids", "BY", "nosort", "GET", "name_*")
    same("SORT", "ids", "BY", "w_*", "BY", "nosort")
    same("SORT", "ids", "BY", "nosort", "BY", "w_*")
    same("SORT", "ids", "GET", "#")
    same("SORT", "ids", "GET", "name_*")
    same("SORT", "ids", "GET", "name_*", "GET", "#", "GET", "w_*", "GET", "h_*->name",
         "GET", "nokey_*", "GET", "h_*->nofield", "GET", "noglob")
    same("SORT", "ids", "GET", "#", "DESC", "LIMIT", "1", "2")
    same("SORT", "ids", "GET", "*")
    same("SORT", "ids", "GET", "**")
    same("SORT", "ids", "GET", "#x")
    same("SORT", "ids", "GET", "w_*", "ALPHA")
    same("SORT", "ids", "GET")
    same("SORT", "ids", "BY")
    # Pattern keys of other types.
    same("RPUSH", "name_9", "x")
    same("RPUSH", "ids", "9")
    same("SORT", "ids", "GET", "name_*", "BY", "name_*", "ALPHA")
    # Multiple stars: only the first is replaced.
    same("SET", "a_1_*", "one")
    same("SORT", "ids", "GET", "a_*_*")
    # Hash fields with "->" inside the field part and integer values.
    same("HSET", "hh_1", "x->y", "5", "n", "100")
    same("HSET", "hh_2", "x->y", "3", "n", "-100")
    same("RPUSH", "two", "1", "2")
    same("SORT", "two", "BY", "hh_*->x->y", "GET", "hh_*->x->y", "GET", "hh_*->n")
    same("SORT", "two", "BY", "hh_*->n")
    same("SORT", "two", "BY", "hh_*->n", "ALPHA")


def test_store(same):
    lists(same)
    same("SORT", "nums", "STORE", "out")
    same("LRANGE", "out", "0", "-1")
    same("TYPE", "out")
    same("OBJECT", "ENCODING", "out")
    same("SORT", "words", "ALPHA", "DESC", "LIMIT", "1", "3", "STORE", "out")
    same("LRANGE", "out", "0", "-1")
    same("SORT", "ids", "BY", "w_*", "GET", "#", "GET", "name_*", "GET", "nokey_*", "STORE",
         "out")
    same("LRANGE", "out", "0", "-1")
    same("SORT", "ids", "BY", "h_*->w", "GET", "h_*->name", "STORE", "out")
    same("LRANGE", "out", "0", "-1")
    same("SORT", "ids", "BY", "nosort", "DESC", "STORE", "out")
    same("LRANGE", "out", "0", "-1")
    # Empty results delete the destination.
    same("SET", "victim", "x", "EX", "100")
    same("SORT", "nokey", "STORE", "victim")
    same("EXISTS", "victim")
    same("SET", "victim", "x")
    same("SORT", "ids", "LIMIT", "0", "0", "STORE", "victim")
    same("EXISTS", "victim")
    # Overwrites any type and drops the TTL.
    same("SET", "victim", "x", "EX", "100")
    same("SORT", "ids", "STORE", "victim")
    same("TTL", "victim")
    same("LRANGE", "victim", "0", "-1")
    # The source as destination.
    same("SORT", "nums", "DESC", "STORE", "nums")
    same("LRANGE", "nums", "0", "-1")
    # Errors store nothing.
    same("SET", "w_5", "abc")
    same("SORT", "ids", "BY", "w_*", "STORE", "fail")
    same("EXISTS", "fail")
    same("SORT_RO", "ids", "STORE", "x")
    same("SORT", "ids", "STORE")
    # Store with ALPHA compares bytes.
    same("RPUSH", "bin", "b\x00z", "b\x00a", "a", "b")
    same("SORT", "bin", "ALPHA", "STORE", "binout")
    same("LRANGE", "binout", "0", "-1")
    # Long lists are stored across several quicklist nodes.
    same("RPUSH", "long", *[str((i * 7919) % 1000) for i in range(1000)])
    same("SORT", "long", "STORE", "longout")
    same("LLEN", "longout")
    same("LRANGE", "longout", "0", "-1")


def test_sets_and_sorted_sets(same):
    lists(same)
    same("SADD", "iset", "5", "3", "-1", "100", "7")
    same("OBJECT", "ENCODING", "iset")
    same("SORT", "iset")
    same("SORT", "iset", "DESC", "LIMIT", "1", "2")
    same("SORT", "iset", "ALPHA")
    same("SORT", "iset", "BY", "nosort")  # an intset's order is ascending in both
    same("SORT", "iset", "BY", "nosort", "STORE", "o")  # STORE forces ALPHA
    same("LRANGE", "o", "0", "-1")
    same("SADD", "sset", "pear", "fig", "apple", "kiwi", "date", "10", "2")
    same("SORT", "sset", "ALPHA")
    same("SORT", "sset", "ALPHA", "DESC", "LIMIT", "0", "3")
    same("SORT", "sset")
    same("SORT", "sset", "BY", "nosort", "STORE", "o")
    same("LRANGE", "o", "0", "-1")
    same("SORT", "sset", "BY", "nosort", "ALPHA", "STORE", "o", "GET", "#")
    same("LRANGE", "o", "0", "-1")
    ours, theirs = same.both("SORT", "sset", "BY", "nosort")  # hash-table order in Redis
    assert sorted(ours) == sorted(theirs)
    same("SADD", "idset", "1", "2", "3", "4", "5")
    same("SORT", "idset", "BY", "w_*", "GET", "#", "GET", "h_*->name")  # w_5: error
    same("SORT", "idset", "BY", "h_*->w", "GET", "#", "GET", "h_*->name")
    same("SORT", "idset", "BY", "h_*->name", "ALPHA", "DESC")
    same("ZADD", "z", "3", "c", "1", "a", "2", "b", "5", "e", "4", "d", "0", "10", "-1", "9")
    same("SORT", "z", "ALPHA")
    same("SORT", "z", "BY", "nosort")
    same("SORT", "z", "BY", "nosort", "DESC")
    same("SORT", "z", "BY", "nosort", "LIMIT", "2", "3")
    same("SORT", "z", "BY", "nosort", "DESC", "LIMIT", "2", "3")
    same("SORT", "z", "BY", "nosort", "DESC", "LIMIT", "20", "3")
    same("SORT", "z", "BY", "nosort", "LIMIT", "0", "0")
    same("SORT_RO", "z", "BY", "nosort", "LIMIT", "1", "-1", "GET", "#")
    same("SORT", "z")
    same("ZADD", "zn", "3", "30", "1", "10", "2", "20")
    same("SORT", "zn")
    same("SORT", "zn", "BY", "nosort", "STORE", "o")
    same("LRANGE", "o", "0", "-1")
    # Redis 7.0 converts a sorted set to a skiplist when SORT reads it.
    same("ZADD", "zc", "1", "x", "2", "y")
    same("SORT", "zc", "ALPHA")
    same("OBJECT", "ENCODING", "zc")
    big = ["m%d" % i for i in range(200)]
    args = []
    for i, m in enumerate(big):
        args += [str(i % 13), m]
    same("ZADD", "bigz", *args)
    same("SORT", "bigz", "BY", "nosort", "LIMIT", "50", "20")
    same("SORT", "bigz", "BY", "nosort", "DESC", "LIMIT", "50", "20")
    same("SORT", "bigz", "ALPHA", "LIMIT", "10", "10")


def test_errors_and_types(same):
    same("SET", "str", "x")
    same("SORT", "str")
    same("SORT_RO", "str")
    same("HSET", "hash", "a", "1")
    same("SORT", "hash")
    same("XADD", "stream", "1-1", "a", "1")
    same("SORT", "stream")
    same("SORT", "str", "BOGUS")  # options are checked before the type
    same("SORT", "str", "LIMIT", "a", "b")
    same("SORT", "nokey", "BOGUS")
    same("SORT", "nokey", "ASC", "DESC", "ALPHA", "BOGUS")
    same("SORT")
    same("SORT_RO")
    same("SORT", "nokey", "STORE", "dst", "BY")


def test_random_lists_match_reference(same):
    rng = random.Random(99)
    for i in range(20):
        same("SET", "wt_%d" % i, str(rng.randrange(5)))
        same("HSET", "ht_%d" % i, "f", "v%d" % rng.randrange(5))
    for round_ in range(30):
        n = rng.randrange(0, 25)
        same("DEL", "l")
        if n:
            same("RPUSH", "l", *[str(rng.randrange(20)) for _ in range(n)])
        opts = []
        if rng.random() < 0.5:
            opts += ["BY", rng.choice(["wt_*", "ht_*->f", "nosort", "missing_*"])]
        if rng.random() < 0.5:
            opts += ["LIMIT", str(rng.randrange(-2, 30)), str(rng.randrange(-2, 30))]
        if rng.random() < 0.5:
            opts += ["GET", rng.choice(["#", "wt_*", "ht_*->f"])]
        if rng.random() < 0.4:
            opts += ["DESC"]
        if rng.random() < 0.4:
            opts += ["ALPHA"]
        same("SORT", "l", *opts)
        same("SORT", "l", *opts, "STORE", "dst")
        same("LRANGE", "dst", "0", "-1")


def test_cluster_mode_denies_by_and_get():
    """In cluster mode BY with a real pattern and GET are refused (both nodes
    serve every slot)."""
    ours = Server(KEYRAFT, args=["--cluster-enabled", "yes"]).start()
    ref = Server(REDIS, args=["--cluster-enabled", "yes", "--appendonly", "no"]).start()
    same = SideBySide(ours, ref)
    try:
        for conn in same.conns:
            run_command(conn, "CLUSTER", "ADDSLOTSRANGE", "0", "16383")
        for conn in same.conns:
            wait_until(lambda: b"cluster_state:ok" in run_command(conn, "CLUSTER", "INFO"),
                       timeout=20, what="cluster state ok")
        same.both("RPUSH", "l", "2", "1")
        same("SORT", "l", "BY", "w_*")
        same("SORT", "l", "GET", "w_*")
        same("SORT", "l", "GET", "#")
        same("SORT_RO", "l", "BY", "w_*", "LIMIT", "0", "1")
        same("SORT", "l", "BY", "nosort")
        same("SORT", "l", "LIMIT", "x", "1", "BY", "w_*")
        same("SORT", "l", "BY", "w_*", "BOGUS")
        same("SORT", "l")
    finally:
        same.close()
        ours.cleanup()
        ref.cleanup()


def test_resp3_replies(server, reference):
    pair = RawPair(server.port, reference.port)
    try:
        pair("HELLO", "3", mask=mask_id)
        pair("FLUSHALL")
        pair("RPUSH", "l", "2", "1", "3")
        pair("SET", "n_1", "one")
        pair("SORT", "l")
        pair("SORT", "l", "GET", "n_*", "GET", "#")
        pair("SORT", "l", "STORE", "d")
        pair("SORT", "nokey")
        pair("SORT", "l", "BY", "x_*", "ALPHA", "LIMIT", "5", "5")
    finally:
        pair.close()


def test_alpha_by_ties_with_limit(same):
    """BY ... ALPHA leaves ties unordered: a full sort keeps list order, BY
    with LIMIT uses Redis's partial quicksort; both orders match."""
    rng = random.Random(3)
    for i in range(50):
        same("SET", "wt_%d" % i, "v%d" % rng.randrange(3))
    same("RPUSH", "l", *[str(rng.randrange(50)) for _ in range(100)])
    for limit in ([], ["LIMIT", "0", "10"], ["LIMIT", "37", "20"], ["LIMIT", "90", "50"],
                  ["LIMIT", "5", "0"]):
        for order in ("ASC", "DESC"):
            same("SORT", "l", "BY", "wt_*", "ALPHA", order, *limit)
            same("SORT", "l", "BY", "missing_*", "ALPHA", order, *limit)
            same("SORT", "l", "BY", "wt_*", "ALPHA", order, *limit, "STORE", "d")
            same("LRANGE", "d", "0", "-1")
