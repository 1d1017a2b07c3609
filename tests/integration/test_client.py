"""CLIENT subcommands against redis-server 7.0: identity, HELP, LIST/INFO
fields, KILL filters, REPLY modes, NO-EVICT, SETINFO, PAUSE/UNPAUSE timing.

The reference is shared by the session: nothing here pauses it or kills
connections on it except with filters that match nothing."""
import re
import socket
import time

import pytest
import redis

from harness import KEYRAFT, REDIS, Server, wait_until
from resp_raw import RawPair, RawResp


@pytest.fixture
def raw_pair(server, reference):
    pair = RawPair(server.port, reference.port)
    yield pair
    pair.close()


def parse_info(line):
    """'id=1 addr=... name= ...' -> ordered list of (field, value)."""
    return [tuple(kv.split("=", 1)) for kv in line.strip().split(" ")]


# ---- Identity ----


def test_setname_getname(same):
    same("CLIENT", "GETNAME")
    same("CLIENT", "SETNAME", "a b")
    same("CLIENT", "SETNAME", "a\nb")
    same("CLIENT", "SETNAME", "caf\xe9")
    same("CLIENT", "SETNAME", "del\x7f")
    same("CLIENT", "SETNAME", "ok-name_1!~")
    same("CLIENT", "GETNAME")
    same("CLIENT", "SETNAME", "")
    same("CLIENT", "GETNAME")
    same("CLIENT", "SETNAME")
    same("CLIENT", "SETNAME", "a", "b")
    same("CLIENT", "GETNAME", "x")
    same("CLIENT", "ID", "x")
    same("CLIENT")
    same("CLIENT", "fooBar")
    same("CLIENT", "HELP")
    same("CLIENT", "help", "x")


def test_client_id(server):
    a, b = server.client(), server.client()
    ida, idb = a.client_id(), b.client_id()
    assert ida > 0 and idb > ida
    assert a.client_id() == ida
    assert f"id={ida} " in a.execute_command("CLIENT", "INFO").decode()


def test_setinfo(server):
    r = server.client(decode_responses=True)
    assert r.execute_command("CLIENT", "SETINFO", "LIB-NAME", "redis-py") == "OK"
    assert r.execute_command("CLIENT", "SETINFO", "lib-ver", "4.3.4") == "OK"
    assert r.execute_command("CLIENT", "SETINFO", "lib-ver", "") == "OK"
    with pytest.raises(redis.ResponseError, match="^Unrecognized option 'FOO'$"):
        r.execute_command("CLIENT", "SETINFO", "FOO", "x")
    with pytest.raises(redis.ResponseError,
                       match="^LIB-NAME cannot contain spaces, newlines or special characters.$"):
        r.execute_command("CLIENT", "SETINFO", "LIB-NAME", "a b")
    with pytest.raises(redis.ResponseError, match="wrong number of arguments for 'client|setinfo'"):
        r.execute_command("CLIENT", "SETINFO", "LIB-NAME")


# ---- INFO and LIST ----

STABLE_FRESH = ["name", "age", "idle", "flags", "db", "sub", "psub", "ssub", "multi", "qbuf",
                "argv-mem", "multi-mem", "obl", "oll", "omem", "events", "cmd", "user", "redir",
                "resp"]


def info_of(port, *args):
    conn = redis.Connection(port=port, socket_timeout=10)
    conn.connect()
    conn.send_command(*args)
    text = conn.read_response().decode()
    conn.disconnect()
    return text


def test_info_and_list_fields_match_reference(server, reference):
    for args in (("CLIENT", "INFO"), ("CLIENT", "LIST", "ID", "1", "2", "3"),):
        ours = parse_info(info_of(server.port, "CLIENT", "INFO"))
        theirs = parse_info(info_of(reference.port, "CLIENT", "INFO"))
        assert [k for k, _ in ours] == [k for k, _ in theirs]
        ours_d, theirs_d = dict(ours), dict(theirs)
        for field in STABLE_FRESH:
            if field in ("age", "idle"):  # whole seconds: a boundary may fall between
                assert abs(int(ours_d[field]) - int(theirs_d[field])) <= 1, field
            else:
                assert ours_d[field] == theirs_d[field], field
        assert ours_d["laddr"] == f"127.0.0.1:{server.port}"
        assert ours_d["addr"].startswith("127.0.0.1:")
        assert int(ours_d["fd"]) > 2


def test_list_shows_every_client_in_connection_order(server):
    a = server.client(decode_responses=True)
    a.client_setname("first")
    b = server.client(decode_responses=True)
    b.client_setname("second")
    lines = a.execute_command("CLIENT", "LIST").strip().split("\n")
    names = [dict(parse_info(l))["name"] for l in lines]
    assert names == ["first", "second"]
    me = dict(parse_info(lines[0]))
    assert me["cmd"] == "client|list" and me["argv-mem"] == "10" and me["qbuf"] == "26"
    other = dict(parse_info(lines[1]))
    assert other["cmd"] == "client|setname" and other["argv-mem"] == "0"
    assert other["qbuf"] == "0"
    # ID filter: in the order given, unknown ids skipped.
    ida, idb = a.client_id(), b.client_id()
    text = a.execute_command("CLIENT", "LIST", "ID", idb, 999999, ida)
    assert [dict(parse_info(l))["id"] for l in text.strip().split("\n")] == [str(idb), str(ida)]
    assert a.execute_command("CLIENT", "LIST", "ID", 999999) == ""
    assert len(a.execute_command("CLIENT", "LIST", "TYPE", "normal").strip().split("\n")) == 2
    assert a.execute_command("CLIENT", "LIST", "TYPE", "pubsub") == ""
    assert a.execute_command("CLIENT", "LIST", "TYPE", "replica") == ""
    assert a.execute_command("CLIENT", "LIST", "TYPE", "MASTER") == ""
    # Flags and state show up.
    b.execute_command("CLIENT", "NO-EVICT", "on")
    b.execute_command("SELECT", "5")
    other = dict(parse_info(a.execute_command("CLIENT", "LIST", "ID", idb)))
    assert other["flags"] == "e" and other["db"] == "5" and other["cmd"] == "select"


def test_list_errors(same):
    same("CLIENT", "LIST", "TYPE", "foo")
    same("CLIENT", "LIST", "TYPE")
    same("CLIENT", "LIST", "TYPE", "normal", "extra")
    same("CLIENT", "LIST", "ID")
    same("CLIENT", "LIST", "ID", "abc")
    same("CLIENT", "LIST", "ID", "1", "abc")
    same("CLIENT", "LIST", "ID", "0")
    same("CLIENT", "LIST", "ID", "-5")
    same("CLIENT", "LIST", "foo")
    same("CLIENT", "INFO", "x")


def test_cmd_field_after_rejected_commands(server):
    r = server.client(decode_responses=True)
    other = server.client(decode_responses=True)
    oid = other.client_id()
    for args, cmd in ((("GET",), "get"), (("NOSUCH",), "NULL"), (("CLIENT", "NOPE"), "NULL")):
        with pytest.raises(redis.ResponseError):
            other.execute_command(*args)
        line = dict(parse_info(r.execute_command("CLIENT", "LIST", "ID", oid)))
        assert line["cmd"] == cmd, args


# ---- KILL ----


def test_kill_errors(same):
    same("CLIENT", "KILL")
    same("CLIENT", "KILL", "1.2.3.4:5")
    same("CLIENT", "KILL", "1.2.3.4:5", "extra")
    same("CLIENT", "KILL", "a", "b", "c")
    same("CLIENT", "KILL", "foo", "bar")
    same("CLIENT", "KILL", "ID", "0")
    same("CLIENT", "KILL", "ID", "-1")
    same("CLIENT", "KILL", "ID", "abc")
    same("CLIENT", "KILL", "ID", "99999999999")
    same("CLIENT", "KILL", "TYPE", "foo")
    same("CLIENT", "KILL", "USER", "nobody")
    same("CLIENT", "KILL", "USER", "Default", "ADDR", "1.2.3.4:5")
    same("CLIENT", "KILL", "SKIPME", "maybe")
    same("CLIENT", "KILL", "MAXAGE", "10")
    same("CLIENT", "KILL", "ADDR", "1.2.3.4:5")
    same("CLIENT", "KILL", "LADDR", "1.2.3.4:5", "SKIPME", "no")
    same("CLIENT", "KILL", "ADDR", "1.2.3.4:5", "TYPE", "normal", "USER", "default", "ID", "1")
    same("CLIENT", "KILL", "ADDR", "1.2.3.4:5", "ID")


def assert_closed(raw):
    raw.sock.settimeout(5)
    data = b""
    while True:
        chunk = raw.sock.recv(1000)
        if not chunk:
            return data
        data += chunk


def test_kill_by_filters(server):
    r = server.client(decode_responses=True)
    me = dict(parse_info(r.execute_command("CLIENT", "INFO")))
    victim = RawResp(server.port)
    vid = int(victim.call("CLIENT", "ID")[1:-2])
    assert r.execute_command("CLIENT", "KILL", "ID", vid) == 1
    assert_closed(victim)
    assert r.execute_command("CLIENT", "KILL", "ID", vid) == 0

    victim = RawResp(server.port)
    vinfo = victim.call("CLIENT", "INFO").decode()
    vaddr = dict(parse_info(vinfo.split("\r\n")[1]))["addr"]
    assert r.execute_command("CLIENT", "KILL", vaddr) == "OK"
    assert_closed(victim)
    with pytest.raises(redis.ResponseError, match="^No such client$"):
        r.execute_command("CLIENT", "KILL", vaddr)

    # LADDR matches every client here; SKIPME (default yes) spares the caller.
    v1, v2 = RawResp(server.port), RawResp(server.port)
    v1.call("PING")
    v2.call("PING")
    assert r.execute_command("CLIENT", "KILL", "LADDR", me["laddr"]) == 2
    assert_closed(v1)
    assert_closed(v2)
    assert r.ping()

    v1 = RawResp(server.port)
    v1.call("PING")
    assert r.execute_command("CLIENT", "KILL", "TYPE", "pubsub") == 0
    assert r.execute_command("CLIENT", "KILL", "USER", "default", "TYPE", "normal") == 1
    assert_closed(v1)
    assert r.ping()


def test_kill_self(server):
    me = RawResp(server.port)
    addr = dict(parse_info(me.call("CLIENT", "INFO").decode().split("\r\n")[1]))["addr"]
    me.send("CLIENT", "KILL", addr)
    assert assert_closed(me) == b"+OK\r\n"

    me = RawResp(server.port)
    mid = int(me.call("CLIENT", "ID")[1:-2])
    assert me.call("CLIENT", "KILL", "ID", str(mid)) == b":0\r\n"
    me.send("CLIENT", "KILL", "ID", str(mid), "SKIPME", "no")
    assert assert_closed(me) == b":1\r\n"


# ---- REPLY and NO-EVICT ----


def pipeline_bytes(port, commands):
    """Sends 'commands' (lists of args) then ECHO end; returns all bytes up
    to and including the end marker."""
    conn = RawResp(port)
    for args in commands:
        conn.send(*args)
    conn.send("ECHO", "end")
    out = b""
    while not out.endswith(b"$3\r\nend\r\n"):
        out += conn.read_reply()
    conn.close()
    return out


REPLY_SCRIPT = [
    ["CLIENT", "REPLY", "OFF"],
    ["PING", "silenced"],
    ["GET"],
    ["CLIENT", "REPLY", "bogus"],
    ["CLIENT", "REPLY", "SKIP"],
    ["PING", "still-off"],
    ["CLIENT", "REPLY", "ON"],
    ["PING", "a"],
    ["CLIENT", "REPLY", "SKIP"],
    ["PING", "skipped"],
    ["PING", "b"],
    ["CLIENT", "REPLY", "SKIP"],
    ["GET"],
    ["PING", "c"],
    ["CLIENT", "REPLY", "SKIP"],
    ["CLIENT", "REPLY", "SKIP"],
    ["PING", "skipped-too"],
    ["PING", "d"],
    ["CLIENT", "REPLY", "SKIP"],
    ["CLIENT", "REPLY", "ON"],
    ["PING", "e"],
    ["CLIENT", "REPLY", "bogus"],
    ["CLIENT", "REPLY"],
    ["CLIENT", "REPLY", "OFF"],
    ["CLIENT", "REPLY", "ON"],
]


def test_reply_modes_match_reference(server, reference):
    ours = pipeline_bytes(server.port, REPLY_SCRIPT)
    assert ours == pipeline_bytes(reference.port, REPLY_SCRIPT)
    assert b"silenced" not in ours and b"skipped" not in ours


def test_no_evict(same):
    same("CLIENT", "NO-EVICT", "on")
    same("CLIENT", "NO-EVICT", "OFF")
    same("CLIENT", "NO-EVICT", "maybe")
    same("CLIENT", "NO-EVICT")


# ---- PAUSE ----


def test_pause_errors(same):
    same("CLIENT", "PAUSE", "abc")
    same("CLIENT", "PAUSE", "-1")
    same("CLIENT", "PAUSE", "1.5")
    same("CLIENT", "PAUSE", "10", "foo")
    same("CLIENT", "PAUSE", "abc", "foo")
    same("CLIENT", "PAUSE", "-1", "all")
    same("CLIENT", "PAUSE", "10", "write", "extra")
    same("CLIENT", "PAUSE")
    same("CLIENT", "UNPAUSE", "x")
    same("CLIENT", "PAUSE", "0")
    same("CLIENT", "PAUSE", "0", "WRITE")
    same("CLIENT", "UNPAUSE")
    same("PING")


def has_reply(raw, within):
    raw.sock.settimeout(within)
    try:
        chunk = raw.sock.recv(65536)
    except socket.timeout:
        return False
    finally:
        raw.sock.settimeout(5)
    raw.buf += chunk
    return True


def read_skipping_monitor_lines(mon):
    """The next reply of a monitoring connection that is not a MONITOR line."""
    while True:
        reply = mon.read_reply()
        if not re.match(rb"^\+\d+\.\d{6} \[", reply):
            return reply


def test_pause_all_holds_every_command_until_the_end(server):
    admin = server.client()
    other = RawResp(server.port)
    assert other.call("PING") == b"+PONG\r\n"
    start = time.monotonic()
    assert admin.execute_command("CLIENT", "PAUSE", 600) == b"OK"
    other.send("PING")
    other.send("ECHO", "second")
    assert not has_reply(other, 0.3)
    assert other.read_reply() == b"+PONG\r\n"
    elapsed = time.monotonic() - start
    assert 0.5 <= elapsed < 3, elapsed
    assert other.read_reply() == b"$6\r\nsecond\r\n"
    # The paused connection is listed as blocked meanwhile; now it is not.
    assert "flags=N" in admin.execute_command("CLIENT", "LIST").decode()


def test_pause_write_holds_only_writes(server):
    admin = server.client()
    other = RawResp(server.port)
    assert admin.execute_command("CLIENT", "PAUSE", 10000, "WRITE") == b"OK"
    assert other.call("GET", "k") == b"$-1\r\n"
    other.send("SET", "k", "v")
    other.send("GET", "k")
    assert not has_reply(other, 0.3)
    flags = [dict(parse_info(l))["flags"]
             for l in admin.execute_command("CLIENT", "LIST").decode().strip().split("\n")]
    assert "b" in flags
    assert admin.get("k") is None
    start = time.monotonic()
    assert admin.execute_command("CLIENT", "UNPAUSE") == b"OK"
    assert other.read_reply() == b"+OK\r\n"
    assert other.read_reply() == b"$1\r\nv\r\n"
    assert time.monotonic() - start < 2


@pytest.mark.parametrize("which", ["server", "reference"])
@pytest.mark.parametrize("command", [("PUBLISH", "ch", "m"), ("SPUBLISH", "ch", "m"), ("PFCOUNT", "h")])
def test_pause_write_holds_unreported_may_replicate(request, which, command):
    """Redis 7.0 flags PUBLISH, SPUBLISH and PFCOUNT may_replicate without
    listing the flag in COMMAND INFO; a WRITE pause holds them all the same."""
    target = request.getfixturevalue(which)
    admin = target.client()
    other = RawResp(target.port)
    assert admin.execute_command("CLIENT", "PAUSE", 10000, "WRITE") == b"OK"
    other.send(*command)
    assert not has_reply(other, 0.3)
    assert admin.execute_command("CLIENT", "UNPAUSE") == b"OK"
    assert other.read_reply() == b":0\r\n"
    other.close()


NO_WRITES_LIBRARY = ("#!lua name=pauselib\n"
                     "redis.register_function{function_name='ro', callback=function() return 1 end,"
                     " flags={'no-writes'}}\n"
                     "redis.register_function('rw', function() return 2 end)")


@pytest.mark.parametrize("which", ["server", "reference"])
def test_pause_write_follows_script_declared_flags(request, which):
    """Redis 7.0 getCommandFlags: a script or function that declares flags is
    judged by them, so a WRITE pause lets no-writes ones run and holds the
    others (and EVAL without a shebang, which may write)."""
    target = request.getfixturevalue(which)
    admin = target.client()
    assert admin.execute_command("FUNCTION", "LOAD", NO_WRITES_LIBRARY) == b"pauselib"
    ro_sha = admin.script_load("#!lua flags=no-writes\nreturn 3")
    other = RawResp(target.port)
    assert admin.execute_command("CLIENT", "PAUSE", 10000, "WRITE") == b"OK"
    assert other.call("EVAL", "#!lua flags=no-writes\nreturn 1", "0") == b":1\r\n"
    assert other.call("EVALSHA", ro_sha, "0") == b":3\r\n"
    assert other.call("FCALL", "ro", "0") == b":1\r\n"
    for held in (("FCALL", "rw", "0"), ("EVAL", "#!lua\nreturn 4", "0"), ("EVAL", "return 5", "0")):
        other.send(*held)
        assert not has_reply(other, 0.3), held
        assert admin.execute_command("CLIENT", "UNPAUSE") == b"OK"
        assert other.read_reply() in (b":2\r\n", b":4\r\n", b":5\r\n")
        assert admin.execute_command("CLIENT", "PAUSE", 10000, "WRITE") == b"OK"
    assert admin.execute_command("CLIENT", "UNPAUSE") == b"OK"
    other.close()


def test_pause_write_holds_exec_with_queued_writes(server):
    """Redis 7.0: EXEC counts as a write when its queue holds a write
    (queued before the pause); a read-only EXEC runs at once."""
    admin = server.client()
    writer, reader = RawResp(server.port), RawResp(server.port)
    assert writer.call("MULTI") == b"+OK\r\n"
    assert writer.call("SET", "k", "v") == b"+QUEUED\r\n"
    assert reader.call("MULTI") == b"+OK\r\n"
    assert reader.call("GET", "k") == b"+QUEUED\r\n"
    assert admin.execute_command("CLIENT", "PAUSE", 10000, "WRITE") == b"OK"
    writer.send("EXEC")
    assert reader.call("EXEC") == b"*1\r\n$-1\r\n"
    assert not has_reply(writer, 0.3)
    assert admin.get("k") is None
    start = time.monotonic()
    assert admin.execute_command("CLIENT", "UNPAUSE") == b"OK"
    assert writer.read_reply() == b"*1\r\n+OK\r\n"
    assert time.monotonic() - start < 2
    assert admin.get("k") == b"v"
    for c in (writer, reader):
        c.close()


def test_pause_keeps_the_stronger_and_longer(server):
    admin = server.client()
    other = RawResp(server.port)
    admin.execute_command("CLIENT", "PAUSE", 700, "WRITE")
    admin.execute_command("CLIENT", "PAUSE", 10, "WRITE")
    start = time.monotonic()
    other.send("SET", "k", "v")
    assert not has_reply(other, 0.3)
    assert other.read_reply() == b"+OK\r\n"
    assert time.monotonic() - start < 3
    # A WRITE pause upgraded to ALL holds reads too. CLIENT UNPAUSE from
    # another connection would be held as well: end it from a monitor, which
    # pauses never hold (as Redis's replicas).
    mon = RawResp(server.port)
    assert mon.call("MONITOR") == b"+OK\r\n"
    admin.execute_command("CLIENT", "PAUSE", 20000, "WRITE")
    admin.execute_command("CLIENT", "PAUSE", 10, "ALL")
    other.send("GET", "k")
    assert not has_reply(other, 0.3)
    start = time.monotonic()
    mon.send("CLIENT", "UNPAUSE")
    assert read_skipping_monitor_lines(mon) == b"+OK\r\n"
    assert other.read_reply() == b"$1\r\nv\r\n"
    assert time.monotonic() - start < 2
    mon.close()


def test_held_client_closing_is_safe(server):
    admin = server.client()
    mon = RawResp(server.port)
    assert mon.call("MONITOR") == b"+OK\r\n"
    admin_id = admin.client_id()
    admin.execute_command("CLIENT", "PAUSE", 10000, "ALL")
    held = RawResp(server.port)
    held.send("SET", "gone", "1")
    killer = RawResp(server.port)
    killer.send("CLIENT", "KILL", "ID", str(admin_id))
    time.sleep(0.1)
    held.close()
    mon.send("CLIENT", "UNPAUSE")
    assert read_skipping_monitor_lines(mon) == b"+OK\r\n"
    # The held CLIENT KILL runs after the pause.
    assert killer.read_reply() == b":1\r\n"
    assert server.client().get("gone") is None
