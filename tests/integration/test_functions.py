"""FUNCTION LOAD/DELETE/FLUSH/LIST/DUMP/RESTORE/STATS/KILL and FCALL/FCALL_RO,
side by side with redis-server 7.0, plus DUMP/RESTORE between keyraft nodes
(what redis-cli --cluster add-node does) and from redis-server 7.0."""
import re
import threading

import pytest
import redis

from harness import Server, wait_until

LIB = "#!lua name=mylib\nredis.register_function('echo', function(keys, args) return args[1] end)"
LIB2 = ("#!lua name=lib2\n"
        "redis.register_function{function_name='setk', callback=function(keys, args) "
        "return redis.call('set', keys[1], args[1]) end, description='sets a key'}\n")
LIB_RO = ("#!lua name=libro\n"
          "redis.register_function{function_name='getk', callback=function(keys, args) "
          "return redis.call('get', keys[1]) end, flags={'no-writes', 'allow-stale'}}\n"
          "redis.register_function{function_name='badro', callback=function(keys, args) "
          "return redis.call('set', keys[1], 'x') end, flags={'no-writes'}}\n")


@pytest.fixture
def fresh(same):
    same.both("FUNCTION", "FLUSH")
    same.both("SCRIPT", "FLUSH")
    yield same
    same.both("FUNCTION", "FLUSH")


def test_load_call_list_delete(fresh):
    fresh("FUNCTION", "LIST")
    fresh("FUNCTION", "LOAD", LIB)
    fresh("FCALL", "echo", "0", "hello")
    fresh("FCALL", "echo", "0")
    fresh("FUNCTION", "LIST")
    fresh("FUNCTION", "LIST", "WITHCODE")
    fresh("FUNCTION", "LIST", "LIBRARYNAME", "my*")
    fresh("FUNCTION", "LIST", "LIBRARYNAME", "MY*", "WITHCODE")
    fresh("FUNCTION", "LIST", "LIBRARYNAME", "nomatch")
    fresh("FUNCTION", "LOAD", LIB)
    fresh("FUNCTION", "LOAD", "REPLACE", LIB)
    fresh("FUNCTION", "LOAD", "REPLACE", LIB.replace("mylib", "other"))
    fresh("FUNCTION", "DELETE", "mylib")
    fresh("FUNCTION", "DELETE", "mylib")
    fresh("FCALL", "echo", "0")
    fresh("FUNCTION", "STATS")


def test_flags_description_and_read_only(fresh):
    fresh("FUNCTION", "LOAD", LIB2)
    fresh("FUNCTION", "LIST", "LIBRARYNAME", "lib2")
    fresh("FCALL", "setk", "1", "k", "v")
    fresh("FCALL_RO", "setk", "1", "k", "v")
    fresh("FUNCTION", "LOAD", LIB_RO)
    # Functions of one library are listed in hash order on Redis: compare sorted.
    ours, theirs = fresh.both("FUNCTION", "LIST", "LIBRARYNAME", "libro")
    assert sorted(map(repr, ours[0][5])) == sorted(map(repr, theirs[0][5]))
    fresh("FCALL_RO", "getk", "1", "k")
    fresh("FCALL", "getk", "1", "k")
    fresh("FCALL", "badro", "1", "k")
    fresh("FCALL_RO", "badro", "1", "k")
    fresh("FCALL", "getk", "2", "k")
    fresh("FCALL", "getk", "-1")
    fresh("FCALL", "getk", "x")
    fresh("FCALL", "nosuch", "0")


LOAD_ERRORS = [
    "return 1",
    "#!lua\nreturn 1",
    "#!lua name=x",
    "#!lua name=x\nreturn 1",
    "#!foo name=x\n",
    "#!lua name=x name=y\n",
    "#!lua name=x foo=bar\n",
    "#!lua name=bad-name\n",
    "#!lua name=x\nreturn (",
    "#!lua name=x\nredis.call('ping')",
    "#!lua name=x\nredis.register_function()",
    "#!lua name=x\nredis.register_function({}, function() end)",
    "#!lua name=x\nredis.register_function('f', 5)",
    "#!lua name=x\nredis.register_function('f-bad!', function() end)",
    "#!lua name=x\nredis.register_function('a', function() end, 3)",
    "#!lua name=x\nredis.register_function{foo=1}",
    "#!lua name=x\nredis.register_function{function_name='a'}",
    "#!lua name=x\nredis.register_function{callback=function() end}",
    "#!lua name=x\nredis.register_function{function_name='a', callback=function() end, flags=1}",
    "#!lua name=x\nredis.register_function{function_name='a', callback=function() end, "
    "flags={'bad'}}",
    "#!lua name=x\nredis.register_function{function_name='a', callback=function() end, "
    "description={}}",
    "#!lua name=x\nredis.register_function('a', function() end) "
    "redis.register_function('a', function() end)",
    "#!lua name=x\nx = 1",
    "#!lua name=x\nlocal v = string.len('a')",
    "#!lua name=x\nlocal v = redis.sha1hex",
    "#!lua name=x\nredis.register_function('a', function() end)\nerror('late')",
    "#!lua name=x\nlocal v = redis.REDIS_VERSION redis.log(redis.LOG_DEBUG, 'x') "
    "redis.register_function('a', function() return 1 end)",
]


@pytest.mark.parametrize("code", LOAD_ERRORS)
def test_load_errors(fresh, code):
    fresh("FUNCTION", "LOAD", code)
    fresh("FUNCTION", "DELETE", "x")


def test_function_name_collisions(fresh):
    fresh("FUNCTION", "LOAD", LIB)
    fresh("FUNCTION", "LOAD", LIB.replace("mylib", "lib3"))
    fresh("FUNCTION", "LIST", "LIBRARYNAME", "lib3")


def test_runtime_environment(fresh):
    fresh("FUNCTION", "LOAD", "#!lua name=env\n"
          "redis.register_function('env', function(keys, args) "
          "return {type(redis.call), type(redis.register_function), type(KEYS), #keys, #args, "
          "redis.sha1hex('')} end)\n"
          "redis.register_function('fail', function() error('inside') end)\n"
          "redis.register_function('callfail', function() return redis.call('nosuch') end)\n"
          "redis.register_function('glob', function() newglobal = 1 end)")
    fresh("FCALL", "env", "1", "k", "a", "b")
    fresh("FCALL", "fail", "0")
    fresh("FCALL", "callfail", "0")
    fresh("FCALL", "glob", "0")


def test_subcommand_errors(fresh):
    fresh("FUNCTION", "LIST", "x")
    fresh("FUNCTION", "LIST", "WITHCODE", "WITHCODE")
    fresh("FUNCTION", "LIST", "LIBRARYNAME")
    fresh("FUNCTION", "LIST", "LIBRARYNAME", "a", "LIBRARYNAME", "b")
    fresh("FUNCTION", "DELETE")
    fresh("FUNCTION", "FLUSH", "x")
    fresh("FUNCTION", "FLUSH", "SYNC", "x")
    fresh("FUNCTION", "FLUSH", "ASYNC")
    fresh("FUNCTION", "RESTORE", "abc")
    fresh("FUNCTION", "RESTORE", "abc", "bad")
    fresh("FUNCTION", "RESTORE", "abc", "FLUSH", "x")
    fresh("FUNCTION", "KILL")
    fresh("FUNCTION", "HELP")
    fresh("FUNCTION", "NOSUCH")
    fresh("FUNCTION", "LOAD", "REPLACE")
    fresh("FCALL", "f")


def test_dump_restore_with_the_reference(fresh, server, reference):
    # An empty DUMP is still a bulk, and restoring it is +OK (add-node).
    ours = server.client()
    empty = ours.execute_command("FUNCTION", "DUMP")
    assert isinstance(empty, bytes) and len(empty) == 10
    assert ours.execute_command("FUNCTION", "RESTORE", empty) == b"OK"
    # Redis's own payload (LZF-compressed code) restores into keyraft.
    ref = reference.client()
    ref.execute_command("FUNCTION", "LOAD", LIB)
    ref.execute_command("FUNCTION", "LOAD", LIB2)
    payload = ref.execute_command("FUNCTION", "DUMP")
    assert ours.execute_command("FUNCTION", "RESTORE", payload) == b"OK"
    assert ours.execute_command("FCALL", "echo", "0", "hi") == b"hi"
    assert ours.execute_command("FCALL", "setk", "1", "k", "v") == b"OK"
    # And keyraft's payload restores into redis-server 7.0.
    mine = ours.execute_command("FUNCTION", "DUMP")
    ref.execute_command("FUNCTION", "FLUSH")
    assert ref.execute_command("FUNCTION", "RESTORE", mine) == b"OK"
    assert ref.execute_command("FCALL", "echo", "0", "back") == b"back"
    # Both libraries exist on both servers: Redis names the first conflict in
    # its (per-process seeded) hash order, so compare the error, not the name.
    for args in (("FUNCTION", "RESTORE", mine), ("FUNCTION", "RESTORE", mine, "APPEND")):
        ours_err, theirs_err = fresh.both(*args)
        assert ours_err[0] == theirs_err[0] == "error"
        assert re.fullmatch(r"Library \S+ already exists", ours_err[1])
        assert re.fullmatch(r"Library \S+ already exists", theirs_err[1])
    fresh("FUNCTION", "RESTORE", mine, "REPLACE")
    fresh("FUNCTION", "RESTORE", mine, "FLUSH")
    fresh("FUNCTION", "RESTORE", mine[:-1] + bytes([mine[-1] ^ 1]))
    fresh("FUNCTION", "RESTORE", b"\x01" + mine[1:])
    ours.close()
    ref.close()


def test_dump_restore_between_keyraft_nodes(server):
    a = server.client()
    other = Server().start()
    try:
        b = other.client()
        # No functions: what redis-cli --cluster add-node sends first.
        assert b.execute_command("FUNCTION", "RESTORE", a.execute_command("FUNCTION", "DUMP")) \
            == b"OK"
        a.execute_command("FUNCTION", "LOAD", LIB)
        a.execute_command("FUNCTION", "LOAD", LIB_RO)
        big = "#!lua name=big\n" + "-- " + "x" * 20000 + "\n" + \
            "redis.register_function('big', function() return 'big' end)"
        a.execute_command("FUNCTION", "LOAD", big)
        payload = a.execute_command("FUNCTION", "DUMP")
        assert b.execute_command("FUNCTION", "RESTORE", payload) == b"OK"
        assert b.execute_command("FUNCTION", "LIST", "WITHCODE") == \
            a.execute_command("FUNCTION", "LIST", "WITHCODE")
        assert b.execute_command("FCALL", "big", "0") == b"big"
        with pytest.raises(redis.ResponseError, match="Library mylib already exists"):
            b.execute_command("FUNCTION", "RESTORE", payload)
        assert b.execute_command("FUNCTION", "RESTORE", payload, "REPLACE") == b"OK"
        assert b.execute_command("FUNCTION", "DUMP") == payload
        b.execute_command("FUNCTION", "DELETE", "mylib")
        b.execute_command("FUNCTION", "LOAD", LIB.replace("mylib", "clash"))
        with pytest.raises(redis.ResponseError, match="Function echo already exists"):
            b.execute_command("FUNCTION", "RESTORE", payload, "REPLACE")
        assert b.execute_command("FUNCTION", "RESTORE", payload, "FLUSH") == b"OK"
        assert b.execute_command("FUNCTION", "DUMP") == payload
        b.close()
    finally:
        other.cleanup()


@pytest.fixture
def busy_server():
    s = Server(args=["--busy-reply-threshold", "100"]).start()
    yield s
    s.cleanup()


def test_function_kill_and_stats(busy_server):
    c = busy_server.client()
    c.execute_command("FUNCTION", "LOAD", "#!lua name=loop\n"
                      "redis.register_function('spin', function() while true do end end)")
    runner = redis.Redis(port=busy_server.port, socket_timeout=20)
    result = {}

    def run():
        try:
            runner.execute_command("FCALL", "spin", "0")
        except redis.ResponseError as e:
            result["error"] = str(e)

    t = threading.Thread(target=run, daemon=True)
    t.start()

    def is_busy():
        try:
            c.ping()
            return False
        except redis.ResponseError as e:
            assert "You can only call FUNCTION KILL or SHUTDOWN NOSAVE." in str(e)
            return True
    wait_until(is_busy, timeout=10, what="BUSY")
    stats = c.execute_command("FUNCTION", "STATS")
    running = dict(zip(stats[1][::2], stats[1][1::2]))
    assert running[b"name"] == b"spin"
    assert running[b"command"] == [b"FCALL", b"spin", b"0"]
    assert running[b"duration_ms"] >= 100
    with pytest.raises(redis.ResponseError, match="You can only call FUNCTION KILL"):
        c.execute_command("SCRIPT", "KILL")
    assert c.execute_command("FUNCTION", "KILL") == b"OK"
    t.join(10)
    assert not t.is_alive()
    assert result["error"].startswith("Script killed by user with SCRIPT KILL... script: spin, "
                                      "on @user_function:2.")
    assert c.ping() is True
