"""Configuration: config files and the command line as redis-server reads
them, CONFIG GET/SET/RESETSTAT/REWRITE/HELP side by side with Redis 7.0,
logging, daemonize + pidfile, and clean shutdown on SIGTERM."""
import os
import signal
import subprocess
import tempfile
import time

import pytest
import redis

from harness import KEYRAFT, REDIS, ROOT, Server, free_port, wait_until


def as_dict(reply):
    if isinstance(reply, dict):
        return reply
    return dict(zip(reply[0::2], reply[1::2]))


def run_bad_config(binary, text, args=()):
    """Starts 'binary' on a config that must be refused; returns (rc, output)."""
    d = tempfile.mkdtemp(prefix="kr-conf-")
    path = os.path.join(d, "bad.conf")
    with open(path, "w") as f:
        f.write(text)
    proc = subprocess.run([binary, path, "--port", str(free_port())] + list(args),
                          capture_output=True, timeout=10, cwd=d)
    return proc.returncode, (proc.stdout + proc.stderr).decode(errors="replace")


# ---- CONFIG GET / SET against the reference ----

OWN_DIRECTIVES = ["timeout", "tcp-keepalive", "protected-mode", "loglevel", "hz", "maxclients",
                  "maxmemory", "maxmemory-policy", "maxmemory-samples", "appendonly",
                  "appendfsync", "slowlog-log-slower-than", "slowlog-max-len",
                  "latency-monitor-threshold", "databases", "tcp-backlog", "cluster-enabled",
                  "cluster-node-timeout", "requirepass", "proto-max-bulk-len",
                  "client-query-buffer-limit", "enable-protected-configs",
                  "auto-aof-rewrite-percentage", "auto-aof-rewrite-min-size"]


@pytest.mark.parametrize("name", OWN_DIRECTIVES)
def test_get_defaults_match(same, name):
    same("CONFIG", "GET", name)


# Directives keyraft has and Redis 7.0 does not.
KEYRAFT_ONLY_DIRECTIVES = {"linearizable-reads", "raft-snapshot-threshold", "raft-snapshot-trailing",
                           "metrics-port", "cluster-announce-client-ipv4",
                           "cluster-announce-client-port"}


def test_get_every_redis_directive_exists(server, reference):
    ours = as_dict(server.client().config_get("*"))
    theirs = as_dict(reference.client().config_get("*"))
    assert sorted(set(theirs) - set(ours)) == []
    assert sorted(set(ours) - set(theirs)) == sorted(KEYRAFT_ONLY_DIRECTIVES)
    # Values agree except where the run differs (port, dir, ...).
    differ = {k for k in theirs if ours[k] != theirs[k]}
    assert differ <= {"port", "dir", "bind", "save", "appendonly", "logfile", "pidfile",
                      "daemonize", "io-threads-do-reads"}, differ


def test_get_patterns_and_case(same):
    for pattern in ("maxmemory*", "*-max-*-entries", "HZ", "Port?", "[hm]z", "slave-*",
                    "nosuchthing", "*listpack*"):
        ours, theirs = same.both("CONFIG", "GET", pattern)
        assert as_dict(ours) == as_dict(theirs), pattern
    same("CONFIG", "GET", "HZ")
    ours, theirs = same.both("CONFIG", "GET", "hz", "timeout", "hz")
    assert as_dict(ours) == as_dict(theirs)
    same("CONFIG", "GET", "key-load-delay")  # hidden: only by exact name
    same("CONFIG", "GET")


def test_get_resp3_map(server):
    raw = server.raw()
    raw.send(b"HELLO 3\r\n")
    raw.read()
    raw.send(b"CONFIG GET hz\r\n")
    assert raw.read(len(b"%1\r\n$2\r\nhz\r\n$2\r\n10\r\n")) == b"%1\r\n$2\r\nhz\r\n$2\r\n10\r\n"
    raw.close()


def test_port_is_not_settable(r):
    """Redis 7.0 can re-bind at run time; keyraft refuses port/bind changes."""
    with pytest.raises(redis.ResponseError, match="can't set immutable config"):
        r.config_set("port", 1234)


@pytest.mark.parametrize("args", [
    ("hz", "20"), ("hz", "1000"), ("hz", "0"), ("hz", "007"), ("hz", "+5"), ("hz", "abc"),
    ("timeout", "-1"), ("timeout", "30"), ("maxmemory", "1GB"), ("maxmemory", "100mb"),
    ("maxmemory", "1k"), ("maxmemory", "1.5gb"), ("maxmemory", "-1"), ("maxmemory", "mb"),
    ("loglevel", "WARNING"), ("loglevel", "loud"), ("loglevel", "nothing"),
    ("appendfsync", "always"), ("maxmemory-policy", "allkeys-lru"),
    ("maxmemory-policy", "foo"), ("protected-mode", "maybe"), ("protected-mode", "no"),
    ("slave-read-only", "maybe"), ("save", "100 1 200 2"), ("save", "100"), ("save", "100  1"),
    ("save", ""), ("databases", "4"), ("daemonize", "yes"), ("foo", "bar"), ("maxmemory-samples", "65"),
    ("slowlog-max-len", "-1"), ("maxclients", "0"), ("hz", "5", "hz", "6"),
    ("HZ", "5", "hz", "6"), ("hz", "5", "foo", "1"), ("databases", "3", "foo", "1"),
    ("hz", "5", "timeout", "x"), ("databases", "3", "daemonize", "no"),
    ("hz", "5", "databases", "3"), ("dir", "/tmp"), ("dbfilename", "x.rdb"),
    ("hz",), ("hz", "5", "timeout"),
    ("auto-aof-rewrite-percentage", "0"), ("auto-aof-rewrite-percentage", "250"),
    ("auto-aof-rewrite-percentage", "-1"), ("auto-aof-rewrite-percentage", "2147483648"),
    ("auto-aof-rewrite-min-size", "1mb"), ("auto-aof-rewrite-min-size", "3GB"),
    ("auto-aof-rewrite-min-size", "0"), ("auto-aof-rewrite-min-size", "-1"),
    ("auto-aof-rewrite-min-size", "1xb"),
])
def test_set_matches_reference(same, args):
    before = [as_dict(x) for x in same.both("CONFIG", "GET", "*")]
    try:
        same("CONFIG", "SET", *args)
        for name in args[0::2]:
            if name != "dir":  # each server runs in its own directory
                same("CONFIG", "GET", name)
    finally:
        # Put back whatever changed, on both sides.
        for conn, old in zip(same.conns, before):
            for name in args[0::2]:
                key = name.lower().encode()
                if key in old:
                    conn.send_command("CONFIG", "GET", name)
                    now = as_dict(conn.read_response())
                    if now.get(key) != old[key]:
                        conn.send_command("CONFIG", "SET", name, old[key])
                        conn.read_response()


def test_set_is_atomic(r):
    r.config_set("hz", 15)
    r.config_set("timeout", 7)
    with pytest.raises(redis.ResponseError, match="argument 'timeout'"):
        r.execute_command("CONFIG", "SET", "hz", "30", "maxmemory", "5mb", "timeout", "x")
    assert r.config_get("hz") == {"hz": "15"}
    assert r.config_get("timeout") == {"timeout": "7"}
    assert r.config_get("maxmemory") == {"maxmemory": "0"}
    r.execute_command("CONFIG", "SET", "hz", "30", "maxmemory", "5mb", "timeout", "0")
    assert r.config_get("hz") == {"hz": "30"}
    assert r.config_get("maxmemory") == {"maxmemory": str(5 * 1024 * 1024)}


def test_ignored_directive_roundtrip(same):
    same("CONFIG", "SET", "lazyfree-lazy-user-del", "yes")
    same("CONFIG", "GET", "lazyfree-lazy-user-del")
    same("CONFIG", "SET", "lazyfree-lazy-user-del", "no")
    same("CONFIG", "SET", "activerehashing", "perhaps")
    same("CONFIG", "SET", "io-threads", "4")


def test_dir_with_protected_configs(tmp_path):
    s = Server(KEYRAFT, args=["--enable-protected-configs", "yes"]).start()
    try:
        c = s.client()
        c.config_set("dir", str(tmp_path))
        assert c.config_get("dir") == {"dir": str(tmp_path)}
        with pytest.raises(redis.ResponseError, match="No such file or directory"):
            c.config_set("dir", str(tmp_path / "missing"))
        assert c.config_get("dir") == {"dir": str(tmp_path)}
    finally:
        s.cleanup()


def test_hz_takes_effect(r):
    r.config_set("hz", 100)
    assert r.config_get("hz") == {"hz": "100"}
    r.set("k", "v", px=30)
    wait_until(lambda: r.dbsize() == 0, timeout=5, what="active expiry at hz 100")


def test_timeout_takes_effect(r, server):
    r.config_set("timeout", 1)
    other = server.client()
    other.ping()
    raw = server.raw()
    assert raw.read_until_closed(timeout=5) == b""
    raw.close()
    # 'r' may itself have idled past the timeout meanwhile: use a new client.
    server.client().config_set("timeout", 0)


def test_resetstat(r, same):
    r.set("a", 1)
    r.get("a")
    assert "cmdstat_get" in r.info("commandstats")
    assert r.config_resetstat()
    assert "cmdstat_get" not in r.info("commandstats")
    same("CONFIG", "RESETSTAT")


def test_help_and_errors(same):
    same("CONFIG", "HELP")
    same("CONFIG", "NOSUCH")
    same("CONFIG")
    same("CONFIG", "GET")
    same("CONFIG", "SET", "hz")
    same("CONFIG", "RESETSTAT", "x")
    same("CONFIG", "REWRITE", "x")
    same("CONFIG", "REWRITE")  # neither runs with a config file


# ---- CONFIG REWRITE ----

def test_rewrite_round_trip():
    conf = ("# my comment\n"
            "hz 20\n"
            "slave-read-only yes\n"
            "\n"
            "save 100 1\n"
            "save 200 2\n"
            "maxmemory 1mb\n"
            "# trailing comment\n")
    s = Server(KEYRAFT, conf=conf)
    # Keep the file's own save lines: no --save on this command line.
    i = s.cmd.index("--save")
    del s.cmd[i:i + 2]
    s.start()
    path = os.path.join(s.dir, "test.conf")
    try:
        c = s.client()
        assert c.config_get("save") == {"save": "100 1 200 2"}
        c.config_set("hz", 30)
        c.config_set("maxmemory", "3mb")
        c.config_set("timeout", 5)
        c.config_set("requirepass", 'p w"x')
        c.execute_command("AUTH", 'p w"x')
        c.config_set("slave-read-only", "no")
        c.config_set("save", "300 3")
        assert c.config_rewrite()
        text = open(path).read()
        lines = text.splitlines()
        assert lines[0] == "# my comment"
        assert lines[1] == "hz 30"
        assert lines[2] == "replica-read-only no"
        assert "save 300 3" in lines and "save 200 2" not in lines and "save 100 1" not in lines
        assert "maxmemory 3mb" in lines
        assert "# trailing comment" in lines
        assert "# Generated by CONFIG REWRITE" in lines
        tail = lines[lines.index("# Generated by CONFIG REWRITE") + 1:]
        assert "timeout 5" in tail
        assert 'requirepass "p w\\"x"' in tail
        assert f'dir "{os.path.realpath(s.dir)}"' in tail
        assert not [f for f in os.listdir(s.dir) if ".tmp-" in f]
        # Rewriting again changes nothing.
        assert c.config_rewrite()
        assert open(path).read() == text
    finally:
        s.stop()
    # Restart on the rewritten file alone.
    port = free_port()
    proc = subprocess.Popen([KEYRAFT, path, "--port", str(port)], stdout=subprocess.DEVNULL,
                            stderr=subprocess.STDOUT)
    try:
        c = redis.Redis(port=port, password='p w"x', socket_timeout=5)
        wait_until(lambda: _pings(c), what="restart on the rewritten file")
        assert c.config_get("hz") == {"hz": "30"}
        assert c.config_get("maxmemory") == {"maxmemory": str(3 * 1024 * 1024)}
        assert c.config_get("timeout") == {"timeout": "5"}
        assert c.config_get("replica-read-only") == {"replica-read-only": "no"}
        assert c.config_get("save") == {"save": "300 3"}
    finally:
        proc.kill()
        proc.wait(10)
        s.cleanup()


def _pings(c):
    try:
        return c.ping()
    except redis.ConnectionError:
        return False


def test_rewrite_without_file(r):
    with pytest.raises(redis.ResponseError, match="running without a config file"):
        r.config_rewrite()


# ---- Loading ----

@pytest.mark.parametrize("line,reason", [
    ("foo bar", "Bad directive or wrong number of arguments"),
    ("port abc", "argument couldn't be parsed into an integer"),
    ("port 99999", "argument must be between 0 and 65535 inclusive"),
    ("maxmemory 1xb", "argument must be a memory value"),
    ("appendonly maybe", "argument must be 'yes' or 'no'"),
    ("loglevel loud", "argument(s) must be one of the following: debug, verbose, notice, warning"),
    ("save 1", "Invalid save parameters"),
    ("port", "wrong number of arguments"),
    ("port 1 2", "wrong number of arguments"),
    ('"unbalanced', "Unbalanced quotes in configuration line"),
    ("timeout -1", "argument must be between 0 and 2147483647 inclusive"),
    ("include", "Bad directive or wrong number of arguments"),
    ("dir /nonexistent-kr", "No such file or directory"),
])
def test_bad_line_like_redis(line, reason):
    text = "# comment\n\n" + line + "\n"
    rc, out = run_bad_config(KEYRAFT, text)
    ref_rc, ref_out = run_bad_config(REDIS, text)
    assert rc == ref_rc == 1
    expected = ["*** FATAL CONFIG FILE ERROR (Redis 7.0.15) ***",
                "Reading the configuration file, at line 3", f">>> '{line}'", reason]
    for want in expected:
        assert want in ref_out
    assert "*** FATAL CONFIG FILE ERROR (Redis 7.0.15) ***" in out
    assert "Reading the configuration file, at line 3 (" in out and "bad.conf)" in out
    assert f">>> '{line}'\n{reason}" in out


def test_bad_option_on_command_line():
    rc, out = run_bad_config(KEYRAFT, "port 1\n\n", ["--hz", "5", "--foo", "bar"])
    assert rc == 1
    assert "at line 6 (command line)\n>>> 'foo \"bar\"'\nBad directive" in out


def test_missing_file_and_include():
    d = tempfile.mkdtemp(prefix="kr-conf-")
    proc = subprocess.run([KEYRAFT, os.path.join(d, "nope.conf")], capture_output=True,
                          timeout=10)
    assert proc.returncode == 1
    assert b"Fatal error, can't open config file" in proc.stdout + proc.stderr
    rc, out = run_bad_config(KEYRAFT, "include /nonexistent-kr.conf\n")
    assert rc == 1 and "can't open config file '/nonexistent-kr.conf'" in out
    rc, out = run_bad_config(KEYRAFT, "logfile /nonexistent-kr/x.log\n")
    assert rc == 1 and "Can't open the log file: No such file or directory" in out


def test_include_units_quotes_and_ignored(tmp_path):
    inc = tmp_path / "inc.conf"
    inc.write_text("maxmemory 2mb\nHZ 25\nlazyfree-lazy-user-del yes\n")
    (tmp_path / "conf.d").mkdir()
    (tmp_path / "conf.d" / "a.conf").write_text("tcp-keepalive 77\n")
    conf = (f"include {inc}\n"
            f"include {tmp_path}/conf.d/*.conf\n"
            f"include {tmp_path}/empty.d/*.conf\n"
            "maxmemory-policy ALLKEYS-LRU\n"
            "requirepass \"a b\\x41\"\n"
            "client-query-buffer-limit 2gb\n"
            "proto-max-bulk-len 2000k\n"
            "activerehashing no\n"
            "lazyfree-lazy-user-del yes\n"
            "rename-command FLUSHALL \"\"\n")
    s = Server(KEYRAFT, conf=conf).start()
    try:
        c = s.client(password="a bA")
        got = as_dict(c.execute_command("CONFIG", "GET", "maxmemory", "hz", "tcp-keepalive",
                                        "maxmemory-policy", "client-query-buffer-limit",
                                        "proto-max-bulk-len", "activerehashing"))
        assert got == {b"maxmemory": b"2097152", b"hz": b"25", b"tcp-keepalive": b"77",
                       b"maxmemory-policy": b"allkeys-lru",
                       b"client-query-buffer-limit": b"2147483648",
                       b"proto-max-bulk-len": b"2000000", b"activerehashing": b"no"}
        log = s.read_log()
        for name in ("lazyfree-lazy-user-del", "activerehashing", "rename-command"):
            assert log.count(f"Directive '{name}' is not supported by keyraft and is ignored") == 1
    finally:
        s.cleanup()


def test_config_from_stdin(tmp_path):
    port = free_port()
    proc = subprocess.Popen([KEYRAFT, "-", "--port", str(port), "--save", ""],
                            stdin=subprocess.PIPE, stdout=subprocess.DEVNULL,
                            stderr=subprocess.STDOUT, cwd=tmp_path)
    proc.stdin.write(b"hz 33\nbind 127.0.0.1\n")
    proc.stdin.close()
    try:
        c = redis.Redis(port=port, socket_timeout=5)
        wait_until(lambda: _pings(c), what="server reading config from stdin")
        assert c.config_get("hz") == {"hz": "33"}
    finally:
        proc.kill()
        proc.wait(10)


# ---- Logging, daemonize, shutdown ----

def test_log_format_and_level(tmp_path):
    logfile = tmp_path / "kr.log"
    s = Server(KEYRAFT, args=["--logfile", str(logfile), "--loglevel", "verbose"]).start()
    try:
        text = logfile.read_text()
        first = text.splitlines()[0]
        pid, rest = first.split(":", 1)
        assert int(pid) == s.proc.pid
        assert rest[0] == "M" and " # oO0OoO0OoO0Oo keyraft is starting" in rest
        assert " * Ready to accept connections" in text
        s.client().config_set("loglevel", "warning")
        assert s.client().config_get("loglevel") == {"loglevel": "warning"}
    finally:
        assert s.stop() == 0
        s.cleanup()
    text = logfile.read_text()
    assert "# Received SIGTERM scheduling shutdown..." in text
    assert "# keyraft is now ready to exit, bye bye..." in text


@pytest.mark.parametrize("sig,name", [(signal.SIGTERM, "SIGTERM"), (signal.SIGINT, "SIGINT")])
def test_signal_exits_cleanly(sig, name):
    s = Server(KEYRAFT).start()
    try:
        assert s.stop(sig) == 0
        assert f"Received {name} scheduling shutdown..." in s.read_log()
    finally:
        s.cleanup()


def test_daemonize_and_pidfile(tmp_path):
    port = free_port()
    pidfile = tmp_path / "kr.pid"
    logfile = tmp_path / "kr.log"
    rc = subprocess.run([KEYRAFT, "--port", str(port), "--bind", "127.0.0.1", "--daemonize", "yes",
                         "--pidfile", str(pidfile), "--logfile", str(logfile), "--dir",
                         str(tmp_path), "--save", ""], timeout=10).returncode
    assert rc == 0
    wait_until(pidfile.exists, what="pidfile")
    pid = int(pidfile.read_text())
    try:
        c = redis.Redis(port=port, socket_timeout=5)
        wait_until(lambda: _pings(c), what="daemonized server")
        assert c.config_get("daemonize") == {"daemonize": "yes"}
        os.kill(pid, signal.SIGTERM)
        wait_until(lambda: not pidfile.exists(), what="pidfile removal")
        wait_until(lambda: not _alive(pid), what="daemon exit")
        assert "Removing the pid file." in logfile.read_text()
    finally:
        if _alive(pid):
            os.kill(pid, signal.SIGKILL)


def test_pidfile_without_daemonize(tmp_path):
    pidfile = tmp_path / "fg.pid"
    s = Server(KEYRAFT, args=["--pidfile", str(pidfile)]).start()
    try:
        wait_until(pidfile.exists, what="pidfile")
        assert int(pidfile.read_text()) == s.proc.pid
        assert s.stop() == 0
        assert not pidfile.exists()
    finally:
        s.cleanup()


def _alive(pid):
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    # A zombie child of ours is not alive either.
    try:
        with open(f"/proc/{pid}/stat") as f:
            return f.read().split()[2] != "Z"
    except FileNotFoundError:
        return False


def test_maxclients_takes_effect(r, server):
    r.config_set("maxclients", 1)
    try:
        raw = server.raw()
        assert raw.read(1, timeout=5).startswith(b"-ERR max number of clients reached")
        raw.close()
    finally:
        r.config_set("maxclients", 10000)


def test_readme_names_every_directive(r):
    """README's configuration reference lists every directive CONFIG GET *
    reports, so a new one cannot go undocumented."""
    with open(os.path.join(ROOT, "README.md")) as f:
        readme = f.read()
    names = r.config_get("*").keys()
    missing = sorted(n for n in names if f"`{n}`" not in readme)
    assert not missing, missing
