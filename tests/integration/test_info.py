"""INFO everything: the same field names in the same order as redis-server
7.0 in every section, and the fields that reflect keyraft's own state
(pub/sub, tracking, scripts, functions, forks, blocked timeouts, socket
reads and writes) moving as Redis's do when both run the same commands."""
import redis

from harness import blocked_call, run_command, wait_until

# Sections whose lines are per command or per database, not fixed fields.
PER_ITEM_SECTIONS = {"Commandstats", "Errorstats", "Latencystats", "Keyspace"}


def parse_sections(text):
    sections = []
    for line in text.decode().split("\r\n"):
        if line.startswith("# "):
            sections.append((line[2:], []))
        elif line:
            sections[-1][1].append(line.partition(":")[0])
    return sections


def test_info_everything_field_names_and_order_match_reference(server, reference):
    # Both run with appendonly off, not loading and without replicas, so the
    # fields Redis 7.0 prints only with appendonly on (aof_current_size ...),
    # while loading (loading_*) or per replica (slaveN) are absent from both.
    ours = parse_sections(run_command(connect(server.port), "INFO", "everything"))
    theirs = parse_sections(run_command(connect(reference.port), "INFO", "everything"))
    assert [h for h, _ in ours] == [h for h, _ in theirs]
    for (header, names), (_, ref_names) in zip(ours, theirs):
        if header not in PER_ITEM_SECTIONS:
            assert names == ref_names, header


def stats(client):
    info = client.info("everything")
    return {k: info[k] for k in (
        "pubsub_channels", "pubsub_patterns", "pubsubshard_channels", "tracking_clients",
        "tracking_total_keys", "tracking_total_items", "tracking_total_prefixes",
        "number_of_cached_scripts", "number_of_functions", "number_of_libraries",
        "clients_in_timeout_table", "used_memory_scripts_eval")}


def connect(port, *commands):
    """A raw connection that ran 'commands' (each reply read)."""
    c = redis.Connection(port=port, socket_timeout=10)
    c.connect()
    for cmd in commands:
        run_command(c, *cmd)
    return c


def both(server, reference):
    return [s.client() for s in (server, reference)]


def test_pubsub_counts_follow_subscriptions(server, reference):
    results = []
    for s in (server, reference):
        admin = s.client()
        before = stats(admin)
        sub = connect(s.port)
        sub.send_command("SUBSCRIBE", "info-a", "info-b")
        sub.read_response(), sub.read_response()
        sub.send_command("PSUBSCRIBE", "info-*")
        sub.read_response()
        sub.send_command("SSUBSCRIBE", "info-shard")
        sub.read_response()
        other = connect(s.port)
        other.send_command("SUBSCRIBE", "info-a")  # a channel counts once
        other.read_response()
        during = stats(admin)
        sub.disconnect()
        other.disconnect()
        wait_until(lambda: stats(admin)["pubsub_channels"] == before["pubsub_channels"],
                   timeout=5, what="subscriptions dropped")
        after = stats(admin)
        results.append((before, during, after))
    (before, during, after), ref = results[0], results[1]
    assert (during["pubsub_channels"], during["pubsub_patterns"],
            during["pubsubshard_channels"]) == (2, 1, 1)
    assert after["pubsub_patterns"] == 0 and after["pubsubshard_channels"] == 0
    assert results[0] == ref


def test_tracking_counts_follow_clients_keys_and_prefixes(server, reference):
    results = []
    for s in (server, reference):
        admin = s.client()
        admin.flushall()
        before = stats(admin)
        t1 = connect(s.port, ("CLIENT", "TRACKING", "on"), ("GET", "tk1"), ("MGET", "tk1", "tk2"))
        t2 = connect(s.port, ("CLIENT", "TRACKING", "on"), ("GET", "tk1"))
        t3 = connect(s.port, ("CLIENT", "TRACKING", "on", "BCAST", "PREFIX", "p1", "PREFIX", "p2"))
        during = stats(admin)
        admin.set("tk1", "x")  # invalidates tk1 for both clients
        after_write = stats(admin)
        for c in (t1, t2, t3):
            c.disconnect()
        wait_until(lambda: stats(admin)["tracking_clients"] == 0, timeout=5,
                   what="tracking clients gone")
        # Keys stay tracked after their clients left (as in Redis): the
        # server must free them at shutdown (LeakSanitizer checks it).
        results.append((before, during, after_write))
    ours = results[0]
    assert ours[0]["tracking_clients"] == 0
    assert (ours[1]["tracking_clients"], ours[1]["tracking_total_keys"],
            ours[1]["tracking_total_items"], ours[1]["tracking_total_prefixes"]) == (3, 2, 3, 2)
    assert (ours[2]["tracking_total_keys"], ours[2]["tracking_total_items"]) == (1, 1)
    strip = [[{k: v for k, v in d.items() if k != "used_memory_scripts_eval"} for d in r]
             for r in results]
    assert strip[0] == strip[1]


def test_script_cache_counts_and_memory(server, reference):
    for r in both(server, reference):
        r.script_flush()
        before = r.info("memory")
        assert before["number_of_cached_scripts"] == 0
        assert before["used_memory_scripts_eval"] == 0
        r.script_load("return 1")
        r.script_load("return 2")
        r.script_load("return 1")  # cached already
        after = r.info("memory")
        assert after["number_of_cached_scripts"] == 2
        assert after["used_memory_scripts_eval"] > 0
        assert after["used_memory_vm_eval"] > 0
        assert after["used_memory_scripts"] >= after["used_memory_scripts_eval"]
        r.script_flush()
        assert r.info("memory")["number_of_cached_scripts"] == 0
        assert r.info("memory")["used_memory_scripts_eval"] == 0


LIBRARY = """#!lua name=infolib
redis.register_function('info_f1', function() return 1 end)
redis.register_function('info_f2', function() return 2 end)
"""


def test_function_counts(server, reference):
    seen = []
    for r in both(server, reference):
        r.function_flush()
        before = r.info("memory")
        r.function_load(LIBRARY)
        r.function_load("#!lua name=infolib2\nredis.register_function('info_f3', "
                        "function() return 3 end)")
        during = r.info("memory")
        r.function_delete("infolib")
        after = r.info("memory")
        r.function_flush()
        seen.append([(i["number_of_libraries"], i["number_of_functions"])
                     for i in (before, during, after)])
        assert during["used_memory_functions"] > before["used_memory_functions"]
    assert seen[0] == [(0, 0), (2, 3), (1, 1)]
    assert seen[0] == seen[1]


def test_bgsave_counts_forks_and_saves(server, reference):
    for r in both(server, reference):
        r.set("k", "v")
        before = r.info("everything")
        assert r.bgsave()
        wait_until(lambda: r.info("persistence")["rdb_bgsave_in_progress"] == 0, timeout=20,
                   what="BGSAVE finished")
        after = r.info("everything")
        assert after["total_forks"] == before["total_forks"] + 1
        assert after["rdb_saves"] == before["rdb_saves"] + 1
        assert after["rdb_last_bgsave_status"] == "ok"
        assert after["current_save_keys_total"] == 0  # no child running
        r.save()
        assert r.info("persistence")["rdb_saves"] == after["rdb_saves"] + 1


def test_blocked_timeouts_counted(server, reference):
    seen = []
    for s in (server, reference):
        admin = s.client()
        admin.delete("info-q1", "info-q2")
        t1, _ = blocked_call(s.client(), "BLPOP", "info-q1", 30)
        t2, _ = blocked_call(s.client(), "BLPOP", "info-q2", 0)  # no deadline
        wait_until(lambda: admin.info("clients")["blocked_clients"] == 2, timeout=5,
                   what="2 blocked clients")
        during = admin.info("clients")["clients_in_timeout_table"]
        admin.lpush("info-q1", "x")
        admin.lpush("info-q2", "x")
        t1.join(10)
        t2.join(10)
        wait_until(lambda: admin.info("clients")["blocked_clients"] == 0, timeout=5,
                   what="no blocked clients")
        seen.append((during, admin.info("clients")["clients_in_timeout_table"]))
    assert seen[0] == (1, 0)
    assert seen[0] == seen[1]


def test_reads_and_writes_processed_grow_with_commands(server, reference):
    deltas = []
    for s in (server, reference):
        c = connect(s.port)
        first = run_command(c, "INFO", "stats").decode()
        for _ in range(10):
            run_command(c, "PING")
        second = run_command(c, "INFO", "stats").decode()
        c.disconnect()

        def field(text, name):
            return int(text.split(name + ":")[1].split("\r\n")[0])

        deltas.append(tuple(field(second, n) - field(first, n)
                            for n in ("total_reads_processed", "total_writes_processed")))
    # Ten PINGs and the INFO itself are read; the first INFO's reply and the
    # ten PONGs are written (the second INFO's reply after its snapshot).
    assert deltas[0] == (11, 11)
    assert deltas[0] == deltas[1]
