"""Server introspection: INFO, COMMAND, SLOWLOG, LATENCY, MEMORY, TIME,
LASTSAVE, SHUTDOWN, compared with redis-server 7.0 where replies are
deterministic, and checked for shape where they are not (times, sizes)."""
import time

import pytest
import redis
from redis.commands.parser import CommandsParser

from harness import KEYRAFT, Server, run_command, wait_until

# Fields every INFO must carry (tools and clients read them; see
# cluster-compat.md 1.5).
REQUIRED_FIELDS = {
    "Server": ["redis_version", "redis_mode", "os", "arch_bits", "process_id", "run_id",
               "tcp_port", "uptime_in_seconds", "hz", "executable", "config_file"],
    "Clients": ["connected_clients", "maxclients", "blocked_clients"],
    "Memory": ["used_memory", "used_memory_human", "used_memory_rss", "used_memory_peak",
               "maxmemory", "maxmemory_policy"],
    "Persistence": ["loading", "rdb_changes_since_last_save", "rdb_last_save_time",
                    "aof_enabled"],
    "Stats": ["total_connections_received", "total_commands_processed",
              "instantaneous_ops_per_sec", "total_net_input_bytes", "keyspace_hits",
              "keyspace_misses", "expired_keys", "total_error_replies"],
    "Replication": ["role", "connected_slaves", "master_replid", "master_repl_offset"],
    "CPU": ["used_cpu_sys", "used_cpu_user"],
    "Cluster": ["cluster_enabled"],
}


def parse_info(text):
    """[(header, [(field, value), ...]), ...] in output order."""
    if isinstance(text, bytes):
        text = text.decode()
    sections = []
    for line in text.split("\r\n"):
        if line.startswith("# "):
            sections.append((line[2:], []))
        elif line:
            name, _, value = line.partition(":")
            sections[-1][1].append((name, value))
    return sections


def info_text(conn, *sections):
    reply = run_command(conn, "INFO", *sections)
    assert isinstance(reply, bytes), reply
    return reply.decode()


def is_subsequence(ours, theirs):
    it = iter(theirs)
    return all(name in it for name in ours)


@pytest.mark.parametrize("args", [(), ("default",), ("all",), ("everything",),
                                  ("server", "CLUSTER", "keyspace"), ("nosuch",),
                                  ("commandstats", "Errorstats")])
def test_info_sections_match_reference(same, args):
    ours = parse_info(info_text(same.conns[0], *args))
    theirs = parse_info(info_text(same.conns[1], *args))
    assert [h for h, _ in ours] == [h for h, _ in theirs]
    for (header, fields), (_, ref_fields) in zip(ours, theirs):
        names = [n for n, _ in fields]
        ref_names = [n for n, _ in ref_fields]
        if header in ("Commandstats", "Errorstats", "Keyspace"):
            continue  # per-command and per-db lines, compared elsewhere
        assert is_subsequence(names, ref_names), (header, names, ref_names)
        for required in REQUIRED_FIELDS.get(header, []):
            assert required in names, (header, required)


def test_info_format_and_values(server, r):
    conn = r.connection_pool.get_connection("_")
    text = info_text(conn)
    r.connection_pool.release(conn)
    assert text.startswith("# Server\r\n") and text.endswith("\r\n")
    assert not text.endswith("\r\n\r\n")
    info = r.info()
    assert info["redis_version"] == "7.0.15"
    assert info["redis_mode"] == "standalone"
    assert info["tcp_port"] == server.port
    assert info["process_id"] == server.proc.pid
    assert len(info["run_id"]) == 40
    assert info["role"] == "master"
    assert info["loading"] == 0
    assert info["cluster_enabled"] == 0
    assert info["connected_clients"] >= 1
    assert info["used_memory"] > 0 and info["used_memory_rss"] > 0
    assert info["maxmemory_policy"] == "noeviction"
    assert info["executable"].endswith("keyraft-server")
    assert len(info["master_replid"]) == 40
    r.set("a", "1")
    assert r.info("persistence")["rdb_changes_since_last_save"] >= 1
    # The cron samples the rate; a busy second shows up within a bounded wait.
    pipe = r.pipeline(transaction=False)
    for _ in range(2000):
        pipe.ping()
    pipe.execute()
    wait_until(lambda: r.info("stats")["instantaneous_ops_per_sec"] > 0, timeout=5,
               what="instantaneous_ops_per_sec > 0")


def test_info_cluster_enabled():
    s = Server(KEYRAFT, args=["--cluster-enabled", "yes"]).start()
    try:
        info = s.client().info()
        assert info["cluster_enabled"] == 1
        assert info["redis_mode"] == "cluster"
    finally:
        s.cleanup()


def test_info_keyspace(same):
    assert "db0" not in info_text(same.conns[0], "keyspace")
    same("SET", "a", "1")
    same("SET", "b", "2")
    same("SELECT", "3")
    same("SET", "c", "3")
    same("SELECT", "0")
    same("INFO", "keyspace")
    same.both("EXPIRE", "a", "1000")
    assert "db0:keys=2,expires=1,avg_ttl=" in info_text(same.conns[0], "keyspace")
    same("FLUSHALL")
    same("INFO", "keyspace")


def raw_info(r, *sections):
    conn = r.connection_pool.get_connection("_")
    try:
        return info_text(conn, *sections)
    finally:
        r.connection_pool.release(conn)


def cmdstats(r):
    stats = {}
    for line in raw_info(r, "commandstats").split("\r\n")[1:]:
        if line:
            name, _, rest = line.partition(":")
            stats[name] = dict(kv.split("=") for kv in rest.split(","))
    return stats


def test_info_commandstats_and_errorstats(r):
    for _ in range(3):
        r.set("k", "v")
    r.get("k")
    r.get("k")
    with pytest.raises(redis.ResponseError):
        r.set("k", "v", ex=0)  # failed call
    with pytest.raises(redis.ResponseError):
        r.execute_command("GET")  # rejected: arity
    with pytest.raises(redis.ResponseError):
        r.execute_command("NOSUCH")
    with pytest.raises(redis.ResponseError):
        r.execute_command("COMMAND", "NOPE")  # rejected: unknown subcommand
    stats = cmdstats(r)
    assert stats["cmdstat_set"]["calls"] == "4"
    assert stats["cmdstat_set"]["failed_calls"] == "1"
    assert stats["cmdstat_get"]["calls"] == "2"
    assert stats["cmdstat_get"]["rejected_calls"] == "1"
    assert float(stats["cmdstat_get"]["usec_per_call"]) >= 0
    assert set(stats["cmdstat_set"]) == {"calls", "usec", "usec_per_call", "rejected_calls",
                                         "failed_calls"}
    errors = raw_info(r, "errorstats")
    assert "errorstat_ERR:count=4" in errors, errors
    assert r.info("stats")["total_error_replies"] == 4


def test_errorstats_match_reference(same):
    # The reference lives for the whole session; keyraft is fresh per test.
    run_command(same.conns[1], "CONFIG", "RESETSTAT")
    same.both("SET", "s", "x")
    for _ in range(2):
        same("SET", "s", "v", "EX", "0")
        same("GET")
        same("NOSUCHCOMMAND")
    same("INFO", "errorstats")


# ---- COMMAND ----

# Commands Redis 7.0 does not have: newer releases' CLIENT SETINFO and
# CLUSTER MYSHARDID, and keyraft's own KEYRAFT with its subcommands.
NEWER_THAN_7_0 = {b"client|setinfo", b"cluster|myshardid"}


def newer_than_7_0(name):
    return name in NEWER_THAN_7_0 or name == b"keyraft" or name.startswith(b"keyraft|")


def known_to_7_0(names):
    return {n for n in names if not newer_than_7_0(n)}


def by_name(entries):
    return {e[0]: e for e in entries}


def normalized(entry):
    """A COMMAND INFO entry with subcommands sorted (Redis lists them in hash
    order)."""
    entry = list(entry)
    entry[9] = sorted((normalized(s) for s in entry[9]), key=lambda s: s[0])
    return entry


def test_command_info_matches_reference(same):
    ours = by_name(run_command(same.conns[0], "COMMAND"))
    theirs = by_name(run_command(same.conns[1], "COMMAND"))
    assert ours, "empty COMMAND reply"
    for name, entry in ours.items():
        if newer_than_7_0(name):
            continue
        assert name in theirs, name
        mine, ref = normalized(entry), normalized(theirs[name])
        assert mine[:9] == ref[:9], name
        # keyraft implements some of a container's subcommands, each exactly.
        ref_subs = {s[0]: s for s in ref[9]}
        for sub in mine[9]:
            if not newer_than_7_0(sub[0]):
                assert sub == ref_subs[sub[0]], sub[0]
    assert run_command(same.conns[0], "COMMAND", "COUNT") == len(ours)


def test_command_info_subsets(same):
    same("COMMAND", "INFO", "get", "nosuch", "SET", "slowlog|get", "slowlog|nosuch", "get|x")
    same("COMMAND", "INFO", "mset", "dbsize", "time", "memory|usage", "command|getkeys")
    same("COMMAND", "COUNT", "x")
    ours = run_command(same.conns[0], "COMMAND", "INFO")
    assert len(ours) == run_command(same.conns[0], "COMMAND", "COUNT")


def raw_reply(port, payload, expect_closed=False):
    """Sends 'payload' on a fresh socket; returns the bytes received until a
    short quiet period (bounded)."""
    import socket
    with socket.create_connection(("127.0.0.1", port), timeout=5) as sock:
        sock.sendall(payload)
        sock.settimeout(0.3)
        out = b""
        deadline = time.monotonic() + 5
        while time.monotonic() < deadline:
            try:
                chunk = sock.recv(65536)
            except socket.timeout:
                if out:
                    break
                continue
            if not chunk:
                break
            out += chunk
        return out


@pytest.mark.parametrize("hello", [b"", b"HELLO 3\r\n"])
def test_command_info_bytes_match_reference(server, reference, hello):
    """Reply types matter in RESP3 (sets, maps, status vs bulk), which
    redis-py's RESP2 parsing hides: compare raw bytes."""
    query = hello + b"COMMAND INFO get mset dbsize set time slowlog|get memory|usage\r\n"
    ours = raw_reply(server.port, query + b"PING\r\n")
    theirs = raw_reply(reference.port, query + b"PING\r\n")
    marker = b"*7\r\n*10\r\n$3\r\nget"
    assert ours[ours.index(marker):] == theirs[theirs.index(marker):]


def test_command_docs(same):
    ours = run_command(same.conns[0], "COMMAND", "DOCS")
    theirs = run_command(same.conns[1], "COMMAND", "DOCS")
    ours = dict(zip(ours[0::2], ours[1::2]))
    theirs = dict(zip(theirs[0::2], theirs[1::2]))
    for name, doc in ours.items():
        if newer_than_7_0(name):
            continue
        mine = dict(zip(doc[0::2], doc[1::2]))
        ref = dict(zip(theirs[name][0::2], theirs[name][1::2]))
        for field in (b"summary", b"since", b"group", b"complexity"):
            assert mine.get(field) == ref.get(field), (name, field)
    reply = run_command(same.conns[0], "COMMAND", "DOCS", "get", "nosuch", "set")
    assert reply[0::2] == [b"get", b"set"]
    doc = dict(zip(reply[1][0::2], reply[1][1::2]))
    assert doc[b"summary"] == b"Get the value of a key" and doc[b"group"] == b"string"
    same("COMMAND", "DOCS", "nosuch")


def test_command_getkeys(same):
    same("COMMAND", "GETKEYS", "get", "a")
    same("COMMAND", "GETKEYS", "mset", "a", "1", "b", "2")
    same("COMMAND", "GETKEYS", "mget", "a", "b", "c")
    same("COMMAND", "GETKEYS", "del", "a", "b")
    same("COMMAND", "GETKEYS", "ping", "x")
    same("COMMAND", "GETKEYS", "nosuch", "x")
    same("COMMAND", "GETKEYS", "get")
    same("COMMAND", "GETKEYS", "get", "a", "b")
    same("COMMAND", "GETKEYS", "slowlog", "get", "x")
    same("COMMAND", "GETKEYS", "slowlog", "nosuch", "x")
    same("COMMAND", "GETKEYS", "memory", "usage", "k")
    same("COMMAND", "GETKEYS", "set", "a", "b", "ex", "10")
    same("COMMAND", "GETKEYSANDFLAGS", "get", "a")
    same("COMMAND", "GETKEYSANDFLAGS", "mset", "a", "1")
    same("COMMAND", "GETKEYS", "mset", "a", "1", "b")


def test_command_list(same):
    ours = known_to_7_0(run_command(same.conns[0], "COMMAND", "LIST"))
    theirs = set(run_command(same.conns[1], "COMMAND", "LIST"))
    assert b"get" in ours and b"command|info" in ours
    assert set(ours) <= theirs
    for args in (("FILTERBY", "ACLCAT", "string"), ("FILTERBY", "pattern", "co*"),
                 ("FILTERBY", "aclcat", "nosuch"), ("filterby", "module", "x")):
        mine = known_to_7_0(run_command(same.conns[0], "COMMAND", "LIST", *args))
        ref = run_command(same.conns[1], "COMMAND", "LIST", *args)
        assert set(mine) <= set(ref), args
        assert set(mine) == set(ref) & set(ours), args
    same("COMMAND", "LIST", "FILTERBY")
    same("COMMAND", "LIST", "x")
    same("COMMAND", "LIST", "FILTERBY", "bogus", "x")
    same("COMMAND", "LIST", "FILTERBY", "pattern")


def test_command_help(same):
    same("COMMAND", "HELP")
    same("COMMAND", "help", "x")
    same("COMMAND", "NOSUCH")


def test_redis_py_parses_command(server, r):
    table = r.command()
    assert table["get"]["arity"] == 2
    assert table["get"]["first_key_pos"] == 1
    assert "readonly" in table["get"]["flags"]
    assert table["mset"]["step_count"] == 2
    # RedisCluster's key extraction works from the same reply.
    parser = CommandsParser(r)
    assert parser.get_keys(r, "GET", "k") == ["k"]
    assert parser.get_keys(r, "MSET", "a", "1", "b", "2") == ["a", "b"]


# ---- TIME LASTSAVE ----

def test_time_and_lastsave(same, r):
    seconds, micros = r.execute_command("TIME")
    assert abs(int(seconds) - time.time()) < 5
    assert 0 <= int(micros) < 1000000
    assert r.time()[0] > 0
    assert abs(r.lastsave().timestamp() - time.time()) < 60
    same("TIME", "x")
    same("LASTSAVE", "x")


# ---- SLOWLOG ----

@pytest.fixture
def slow_server():
    s = Server(KEYRAFT, args=["--slowlog-log-slower-than", "0", "--slowlog-max-len", "5"])
    s.start()
    yield s
    s.cleanup()


def test_slowlog_records_every_command(slow_server):
    r = slow_server.client()
    r.slowlog_reset()
    r.set("k", "v")
    r.execute_command("ECHO", "x" * 200)
    r.execute_command("MGET", *[f"k{i}" for i in range(40)])
    entries = r.execute_command("SLOWLOG", "GET")
    assert len(entries) == 4  # SLOWLOG RESET, SET, ECHO, MGET
    newest = entries[0]
    ident, ts, duration, argv, addr, name = newest
    assert abs(ts - time.time()) < 60 and duration >= 0
    assert argv[:2] == [b"MGET", b"k0"] and len(argv) == 32
    assert argv[-1] == b"... (10 more arguments)"
    assert addr.startswith(b"127.0.0.1:") and name == b""
    assert entries[1][3] == [b"ECHO", b"x" * 128 + b"... (72 more bytes)"]
    assert entries[2][3] == [b"SET", b"k", b"v"]
    assert [e[0] for e in entries] == sorted((e[0] for e in entries), reverse=True)
    # slowlog-max-len 5 bounds the log.
    for i in range(10):
        r.ping()
    assert r.execute_command("SLOWLOG", "LEN") == 5
    assert len(r.execute_command("SLOWLOG", "GET", "-1")) == 5
    assert len(r.execute_command("SLOWLOG", "GET", "2")) == 2
    assert r.execute_command("SLOWLOG", "RESET") == b"OK"
    # SLOWLOG RESET is logged once it has run, as in Redis.
    assert r.execute_command("SLOWLOG", "LEN") == 1
    r.close()


def test_slowlog_errors_and_help(same):
    same("SLOWLOG", "GET", "x")
    same("SLOWLOG", "GET", "-2")
    same("SLOWLOG", "GET", "1", "2")
    same("SLOWLOG", "LEN", "1")
    same("SLOWLOG", "NOSUCH")
    same("SLOWLOG", "HELP")
    same("SLOWLOG", "RESET")
    same("SLOWLOG", "GET")
    same("SLOWLOG", "LEN")


# ---- LATENCY ----

def test_latency_monitor():
    s = Server(KEYRAFT, args=["--latency-monitor-threshold", "1"]).start()
    try:
        r = s.client()
        assert r.execute_command("LATENCY", "LATEST") == []
        # A big MSET takes well over a millisecond.
        args = []
        for i in range(200000):
            args += [f"key:{i}", "v"]
        r.execute_command("MSET", *args)
        latest = r.execute_command("LATENCY", "LATEST")
        events = {e[0]: e for e in latest}
        assert b"command" in events, latest
        name, ts, last_ms, max_ms = events[b"command"]
        assert abs(ts - time.time()) < 60 and last_ms >= 1 and max_ms >= last_ms
        history = r.execute_command("LATENCY", "HISTORY", "command")
        assert len(history) >= 1 and history[-1][1] >= 1
        assert r.execute_command("LATENCY", "HISTORY", "nosuch") == []
        assert r.execute_command("LATENCY", "RESET", "command", "nosuch") == 1
        assert r.execute_command("LATENCY", "LATEST") == []
        assert r.execute_command("LATENCY", "RESET") == 0
    finally:
        s.cleanup()


def test_latency_errors(same):
    same("LATENCY", "LATEST")
    same("LATENCY", "HISTORY", "command")
    same("LATENCY", "HISTORY")
    same("LATENCY", "RESET", "a", "b")
    same("LATENCY", "NOSUCH")


# ---- MEMORY ----

def test_memory_usage(same, r):
    same("MEMORY", "USAGE", "missing")
    same.both("SET", "k", "v")
    for args in (("SAMPLES",), ("SAMPLES", "x"), ("SAMPLES", "-1"), ("FOO",),
                 ("SAMPLES", "0", "EXTRA")):
        same("MEMORY", "USAGE", "k", *args)
    small = run_command(same.conns[0], "MEMORY", "USAGE", "k")
    assert isinstance(small, int) and 0 < small < 200
    run_command(same.conns[0], "SET", "big", "x" * 10000)
    big = run_command(same.conns[0], "MEMORY", "USAGE", "big", "SAMPLES", "0")
    assert 10000 < big < 11000
    same("MEMORY", "HELP")
    same("MEMORY", "NOSUCH")
    same("MEMORY", "PURGE")
    same("MEMORY", "USAGE")


def test_memory_stats_and_doctor(r):
    r.set("a", "1")
    stats = r.execute_command("MEMORY", "STATS")
    fields = dict(zip(stats[0::2], stats[1::2]))
    assert fields[b"keys.count"] == 1 and fields[b"total.allocated"] > 0
    assert b"db.0" in fields
    assert r.execute_command("MEMORY", "DOCTOR").startswith(b"Hi Sam")
    assert r.execute_command("MEMORY", "MALLOC-STATS")


# ---- SHUTDOWN ----

def test_shutdown_errors(same):
    same("SHUTDOWN", "BOGUS")
    same("SHUTDOWN", "SAVE", "NOSAVE")
    same("SHUTDOWN", "ABORT", "NOW")
    same("SHUTDOWN", "ABORT")


@pytest.mark.parametrize("args", [(), ("NOSAVE",), ("NOW", "FORCE"), ("save",)])
def test_shutdown_stops_process(args):
    s = Server(KEYRAFT).start()
    try:
        raw = s.raw()
        cmd = ["SHUTDOWN", *args]
        payload = f"*{len(cmd)}\r\n" + "".join(f"${len(a)}\r\n{a}\r\n" for a in cmd)
        raw.send(b"PING\r\n" + payload.encode() + b"PING\r\n")
        # The PING before is answered; SHUTDOWN closes without a reply.
        assert raw.read_until_closed(timeout=10) == b"+PONG\r\n"
        assert s.proc.wait(10) == 0
    finally:
        s.cleanup()
