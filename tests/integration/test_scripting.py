"""EVAL/EVALSHA/EVAL_RO/SCRIPT: replies and errors side by side with
redis-server 7.0 (`same`), the conversion tables both ways, the sandbox, the
bundled libraries, determinism, busy scripts (SCRIPT KILL, BUSY, SHUTDOWN
NOSAVE) and huge replies."""
import threading
import time

import pytest
import redis

from harness import Server, wait_until
from resp_raw import RawPair, encode


@pytest.fixture
def fresh(same):
    same.both("SCRIPT", "FLUSH")
    same.both("FUNCTION", "FLUSH")
    return same


# ---- Lua -> RESP ----

LUA_TO_RESP = [
    "return 1",
    "return -7",
    "return 3.99",
    "return -3.99",
    "return 1/0",
    "return -1/0",
    "return 0/0",
    "return 1e30",
    "return 'hello'",
    "return ''",
    "return true",
    "return false",
    "return nil",
    "return {}",
    "return {1, 2, 3.7, 'x', true, false, nil, 4}",
    "return {1, {2, {3, 'deep'}}, {}}",
    "return {err='My Error'}",
    "return {err=''}",
    "return {ok='FINE'}",
    "return {ok='line\\r\\nbreak'}",
    "return {err='bad\\nline'}",
    "return redis.error_reply('My Error')",
    "return redis.error_reply('-CODE message')",
    "return redis.error_reply(1)",
    "return redis.status_reply('FINE')",
    "return redis.status_reply()",
    "return {a=1, b=2}",
    "return {double=3.5}",
    "return {map={a=1}}",
    "return {set={a=true}}",
    "return {big_number='123'}",
    "return function() end",
    "return redis.sha1hex('')",
    "return redis.sha1hex('abc')",
    "return redis.sha1hex(string.rep('x', 1000))",
    "return redis.REDIS_VERSION",
    "return redis.REDIS_VERSION_NUM",
    "return redis.replicate_commands()",
    "return redis.breakpoint()",
    "return redis.set_repl(redis.REPL_ALL)",
    "return redis.set_repl(100)",
    "return redis.set_repl()",
    "return redis.setresp(4)",
    "return redis.setresp()",
    "return redis.sha1hex()",
    "return redis.log()",
    "return redis.log('x', 'y')",
    "return redis.log(99, 'y')",
    "return redis.log(redis.LOG_WARNING, 'from a script')",
    "return tostring(123)",
    "return unpack({1, 2})",
    "return select('#', 1, 2, 3)",
    "return string.format('%d-%s', 5, 'x')",
    "return table.concat({'a', 'b'}, ',')",
    "return math.floor(7.9)",
    "return type(KEYS)",
    "return #ARGV",
]


@pytest.mark.parametrize("script", LUA_TO_RESP)
def test_lua_to_resp(fresh, script):
    fresh("EVAL", script, "0")


def test_keys_and_args(fresh):
    fresh("EVAL", "return {KEYS[1], KEYS[2], ARGV[1], ARGV[2], #KEYS, #ARGV}", "2", "k1", "k2",
          "a1", "a2")
    fresh("EVAL", "return {KEYS, ARGV}", "1", "k", "a", "b")
    fresh("EVAL", "return #KEYS", "0")


# ---- RESP -> Lua ----

RESP_TO_LUA = [
    "return redis.call('set', 'k', 'v')",
    "return redis.call('get', 'k')",
    "return redis.call('get', 'nokey')",
    "return redis.call('get', 'nokey') == false",
    "return type(redis.call('get', 'nokey'))",
    "return redis.call('incr', 'n')",
    "return type(redis.call('incr', 'n'))",
    "return tostring(redis.call('incr', 'n'))",
    "return redis.call('set', 'k', 'v')['ok']",
    "return type(redis.call('set', 'k', 'v'))",
    "return redis.pcall('incr', 'k')",
    "return redis.pcall('incr', 'k')['err']",
    "return redis.call('rpush', 'l', 'a', 'b', 'c')",
    "return redis.call('lrange', 'l', 0, -1)",
    "return #redis.call('lrange', 'l', 0, -1)",
    "return redis.call('lpop', 'nolist', 2)",
    "return redis.call('set', 'num', 3.5)",
    "return redis.call('get', 'num')",
    "return redis.call('set', 'num', 10)",
    "return redis.call('set', 'num', 0.1)",
    "return redis.call('get', 'num')",
    "return redis.call('ping')",
    "return redis.call('ping', 'hi')",
    "return redis.call('echo', 'x')",
    "return redis.call('exists', 'k', 'nokey')",
    "return redis.call('hset', 'h', 'f', 'v')",
    "return redis.call('hget', 'h', 'f')",
    "return redis.call('zadd', 'z', 1, 'a', 2.5, 'b')",
    "return redis.call('zrange', 'z', 0, -1, 'withscores')",
    "return redis.call('zscore', 'z', 'b')",
    "return redis.call('select', 1)",
    "return redis.call('select', 99)",
    "redis.call('select', 1) redis.call('set', 'indb1', 'x') redis.call('select', 0) "
    "return redis.call('get', 'indb1')",
    "return redis.call('dbsize')",
]


@pytest.mark.parametrize("script", RESP_TO_LUA)
def test_resp_to_lua(fresh, script):
    fresh.both("DEL", "k", "n", "l", "h", "z", "num")
    fresh("EVAL", script, "0")


def test_select_in_script_does_not_change_the_client(fresh):
    fresh("EVAL", "redis.call('select', 2) return redis.call('set', 'x', 'y')", "0")
    fresh("GET", "x")
    fresh("SELECT", "2")
    fresh("GET", "x")
    fresh("DEL", "x")
    fresh("SELECT", "0")


# ---- Errors ----

ERRORS = [
    ("return (", "0"),
    ("x = 5", "0"),
    ("return y", "0"),
    ("error('boom')", "0"),
    ("error()", "0"),
    ("error({err=5})", "0"),
    ("error({err='CUSTOM code'})", "0"),
    ("error(redis.error_reply('MY err'))", "0"),
    ("return redis.call('nosuch')", "0"),
    ("return redis.call('get')", "0"),
    ("return redis.call('set', 'k')", "0"),
    ("return redis.call()", "0"),
    ("return redis.pcall()", "0"),
    ("return redis.call({})", "0"),
    ("return redis.call('get', true)", "0"),
    ("redis.call('set','a','1') redis.call('lpush', 'a', 'x')", "0"),
    ("return redis.pcall('lpush', 'a', 'x')", "0"),
    ("return redis.call('eval', 'return 1', 0)", "0"),
    ("return redis.call('script', 'load', 'return 1')", "0"),
    ("return redis.call('subscribe', 'c')", "0"),
    ("return redis.call('client', 'nosuch')", "0"),
    ("return redis.call('client')", "0"),
    ("\n\nerror('on line three')", "0"),
    ("local ok, e = pcall(function() error({err='x'}) end) return {tostring(ok), e}", "0"),
    ("local ok, e = pcall(redis.call, 'nosuch') return {tostring(ok), e}", "0"),
    ("local ok, e = pcall(error, 'plain') return {tostring(ok), e}", "0"),
    ("return 1", "-1"),
    ("return 1", "2", "onlyone"),
    ("return 1", "x"),
    ("return 1", "99999999999999999999"),
]


@pytest.mark.parametrize("args", ERRORS)
def test_errors(fresh, args):
    fresh.both("DEL", "a")
    fresh("EVAL", *args)


def test_arity(fresh):
    fresh("EVAL", "return 1")
    fresh("EVALSHA", "x")
    fresh("EVAL_RO")
    fresh("SCRIPT")
    fresh("SCRIPT", "NOSUCH")
    fresh("SCRIPT", "LOAD")
    fresh("SCRIPT", "EXISTS")


# ---- Sandbox ----

SANDBOX = [
    "rawset(_G, 'x', 1) return x",
    "setmetatable(_G, nil) x = 1 return x",
    "_G.x = 1",
    "string.len = nil",
    "math.random = function() return 4 end",
    "redis.call = nil",
    "cjson.encode = nil",
    "getmetatable('').__index = {}",
    "getmetatable('').__index.upper = nil",
    "return type(getmetatable(''))",
    "local mt = getmetatable(_G) return mt",
    "return load('return 1')",
    "return load(function() return nil end)",
    "os.exit()",
    "return io.open('/etc/passwd')",
    "print('x')",
    "return dofile('/etc/passwd')",
    "return loadfile('/etc/passwd')",
    "return require('os')",
    "return debug.getinfo(1)",
    "return package",
    "return module",
    "return string.rep('x', 3)",
    "return ('abc'):upper()",
    "local t = {} t.x = 1 return t.x",
    "KEYS[1] = 'changed' return KEYS[1]",
    "local function f() return 7 end return f()",
    "return coroutine.wrap(function() coroutine.yield(5) end)()",
    "return pcall(error)",
    "return tostring(next({}))",
]


@pytest.mark.parametrize("script", SANDBOX)
def test_sandbox(fresh, script):
    fresh("EVAL", script, "1", "k")


def test_sandbox_refuses_bytecode_and_loadstring(r):
    # Bytecode never loads: string.dump output is a binary chunk.
    err = r.eval(
        "local f = string.dump(function() return 1 end) local i = 0 "
        "local fn, msg = load(function() i = i + 1 if i == 1 then return f end end) "
        "return msg", 0)
    assert b"binary chunk" in err
    with pytest.raises(redis.ResponseError, match="nonexistent global variable 'loadstring'"):
        r.eval("return loadstring('return 1')", 0)
    # Text through the reader function is allowed, in the sandbox.
    assert r.eval("local done = false return load(function() if done then return nil end "
                  "done = true return 'return 40 + 2' end)()", 0) == 42
    with pytest.raises(redis.ResponseError, match="nonexistent global variable 'os'"):
        r.eval("local done = false return load(function() if done then return nil end "
               "done = true return 'return os' end)()", 0)


# ---- Script cache ----

def test_script_cache(fresh):
    sha = fresh("SCRIPT", "LOAD", "return 'cached'")
    fresh("EVALSHA", sha, "0")
    fresh("EVALSHA", sha.upper(), "0")
    fresh("EVALSHA_RO", sha, "0")
    fresh("SCRIPT", "EXISTS", sha, "ffffffffffffffffffffffffffffffffffffffff", "short")
    fresh("SCRIPT", "LOAD", "return (")
    fresh("SCRIPT", "FLUSH", "SYNC")
    fresh("SCRIPT", "EXISTS", sha)
    fresh("EVALSHA", sha, "0")
    fresh("EVALSHA", "abc", "0")
    fresh("EVAL", "return 'cached'", "0")
    fresh("SCRIPT", "EXISTS", sha)
    fresh("SCRIPT", "FLUSH", "ASYNC")
    fresh("SCRIPT", "FLUSH")
    fresh("SCRIPT", "FLUSH", "BAD")
    fresh("SCRIPT", "FLUSH", "SYNC", "X")
    fresh("SCRIPT", "KILL")
    fresh("SCRIPT", "HELP")


# ---- Shebang flags and read-only scripts ----

SHEBANG = [
    ("#!lua\nreturn 1", "0"),
    ("#!lua flags=no-writes\nreturn redis.call('get', 'k')", "0"),
    ("#!lua flags=no-writes\nreturn redis.call('set', 'k', 'v')", "0"),
    ("#!lua flags=no-writes,allow-stale\nreturn 2", "0"),
    ("#!lua flags=bad\nreturn 1", "0"),
    ("#!lua foo=bar\nreturn 1", "0"),
    ("#!foo\nreturn 1", "0"),
    ("#!lua\nx = 1", "0"),
    ("#!lua\n\nerror('line 3')", "0"),
]


@pytest.mark.parametrize("args", SHEBANG)
def test_shebang(fresh, args):
    fresh("EVAL", *args)


def test_read_only_scripts(fresh):
    fresh("EVAL_RO", "return redis.call('set', 'k', 'v')", "0")
    fresh("EVAL_RO", "return redis.call('get', 'k')", "0")
    fresh("EVAL_RO", "return redis.call('incrby', 'k', 1)", "0")
    fresh("EVAL_RO", "#!lua\nreturn 1", "0")
    fresh("EVAL_RO", "#!lua flags=no-writes\nreturn 1", "0")
    sha = fresh("SCRIPT", "LOAD", "return redis.call('incr', 'k')")
    fresh("EVALSHA_RO", sha, "0")
    fresh("EVALSHA", sha, "0")
    # PUBLISH and PFCOUNT are may_replicate in Redis 7.0 (unreported by COMMAND INFO).
    fresh("EVAL_RO", "return redis.call('publish', 'ch', 'm')", "0")
    fresh("EVAL_RO", "return redis.call('pfcount', 'h')", "1", "h")


# ---- RESP3 ----

RESP3_SCRIPTS = [
    "redis.setresp(3) return redis.call('hgetall', 'nokey')",
    "redis.setresp(3) return {double=3.25}",
    "redis.setresp(3) return {big_number='1234567890123456789012'}",
    "redis.setresp(3) return {map={f='v'}}",
    "redis.setresp(3) return {set={m=true}}",
    "redis.setresp(3) return true",
    "redis.setresp(3) return false",
    "return true",
    "return false",
    "redis.setresp(3) return redis.call('get', 'nokey')",
    "redis.setresp(3) return type(redis.call('get', 'nokey'))",
    "redis.setresp(3) redis.call('zadd', 'z3', 1.5, 'a') return redis.call('zscore', 'z3', 'a')",
    "redis.setresp(3) redis.call('zadd', 'z3', 1.5, 'a') local r = redis.call('zscore', 'z3', 'a') "
    "return r['double']",
    "redis.setresp(3) redis.call('hset', 'h3', 'f', 'v') return redis.call('hgetall', 'h3')",
    "redis.setresp(3) redis.call('hset', 'h3', 'f', 'v') local m = redis.call('hgetall', 'h3') "
    "return m['map']['f']",
    "redis.setresp(3) return redis.call('hello', 3)",
    "return {verbatim_string={format='txt', string='hi'}}",
]


@pytest.mark.parametrize("script", RESP3_SCRIPTS)
@pytest.mark.parametrize("proto", ["2", "3"])
def test_resp3_conversions(server, reference, script, proto):
    pair = RawPair(server.port, reference.port)
    try:
        if proto == "3":
            pair.ours.call("HELLO", "3")
            pair.ref.call("HELLO", "3")
        pair.ours.call("DEL", "z3", "h3")
        pair.ref.call("DEL", "z3", "h3")
        if "hello" in script:
            pytest.skip("HELLO is refused inside scripts only on Redis (noscript)")
        pair("EVAL", script, "0")
    finally:
        pair.close()


# ---- Libraries ----

LIBS = [
    "return cjson.encode({1, 2, 3})",
    "return cjson.encode({a=1})",
    "return cjson.encode('a/b\"c\\n')",
    "return cjson.encode({})",
    "return cjson.encode({1, 'two', {3}, true, false})",
    "return cjson.encode(3.25)",
    "return cjson.encode(cjson.null)",
    "return cjson.encode({[1]=1, [3]=3})",
    "return cjson.decode('[1,2,3]')",
    "return cjson.decode('{\"a\":[1,2,{\"b\":\"c\"}]}')['a'][3]['b']",
    "return cjson.decode('\"\\\\u00e9\\\\ud83d\\\\ude00\"')",
    "return cjson.decode('[1, 2.5, \"x\", true, false]')",
    "return cjson.decode('null') == cjson.null",
    "return cjson.decode(cjson.encode({k={1, 2, {x='y'}}}))['k'][3]['x']",
    "return cmsgpack.pack(1, 'a', {1, 2}, true, false, nil, 300, -1, 70000, 2^40, 1.5, -1.5)",
    "return cmsgpack.pack({})",
    "return cmsgpack.pack({a=1})",
    "return cmsgpack.pack(string.rep('x', 40), string.rep('y', 300))",
    "return {cmsgpack.unpack(cmsgpack.pack(1, 'two', {3, 4}, true))}",
    "return cmsgpack.unpack(cmsgpack.pack({k='v'}))['k']",
    "return {cmsgpack.unpack_one(cmsgpack.pack(1, 2, 3))}",
    "return {cmsgpack.unpack_limit(cmsgpack.pack(1, 2, 3), 2)}",
    "return bit.band(0xff, 0x0f)",
    "return bit.bor(1, 2, 4)",
    "return bit.bxor(5, 3)",
    "return bit.bnot(0)",
    "return bit.lshift(1, 31)",
    "return bit.rshift(-1, 28)",
    "return bit.arshift(-256, 4)",
    "return bit.rol(0x12345678, 8)",
    "return bit.ror(0x12345678, 8)",
    "return bit.bswap(0x12345678)",
    "return bit.tobit(2^32 + 5)",
    "return bit.tohex(255)",
    "return bit.tohex(-1, -4)",
    "return bit.tohex(0x1234, 2)",
    "return struct.pack('>I2', 258)",
    "return struct.pack('<i4', -2)",
    "return struct.pack('bBhH', -1, 255, -2, 65535)",
    "return struct.pack('>d', 1.5)",
    "return struct.pack('s', 'abc')",
    "return struct.pack('c3', 'abcdef')",
    "return {struct.unpack('>I2', struct.pack('>I2', 258))}",
    "return {struct.unpack('<i4i4', struct.pack('<i4i4', -2, 7))}",
    "return {struct.unpack('s', struct.pack('s', 'abc'))}",
    "return {struct.unpack('B c0', struct.pack('B', 3) .. 'xyz')}",
    "return struct.size('>I2i4')",
    "return struct.size('bhd')",
    "return {struct.unpack('!4 b i4', struct.pack('!4 b i4', 1, 2))}",
]


@pytest.mark.parametrize("script", LIBS)
def test_libraries(fresh, script):
    fresh("EVAL", script, "0")


def test_library_errors(r):
    for script, text in [
        ("return cjson.encode(function() end)", "Cannot serialise function"),
        ("return cjson.encode({[1]=1, [100]=2})", "excessively sparse array"),
        ("return cjson.encode(0/0)", "must not be NaN or Inf"),
        ("return cjson.decode('{')", "Expected object key string"),
        ("return cjson.decode('[1,')", "Expected value"),
        ("return cjson.decode('x')", "Expected value but found invalid token at character 1"),
        ("return cmsgpack.unpack('\\xc1')", "Bad data format"),
        ("return struct.pack('i33', 1)", "integral size 33 is larger than limit of 32"),
        ("return struct.unpack('i4', 'ab')", "data string too short"),
    ]:
        with pytest.raises(redis.ResponseError, match=text):
            r.eval(script, 0)
    nested = "local t = {} local c = t for i = 1, 2000 do c[1] = {} c = c[1] end "
    with pytest.raises(redis.ResponseError, match="excessive nesting"):
        r.eval(nested + "return cjson.encode(t)", 0)
    # cmsgpack turns tables nested deeper than 16 into nil instead.
    assert r.eval(nested + "return #cmsgpack.pack(t)", 0) > 0


def test_cjson_objects_are_sorted(r):
    # A deliberate difference (README): keys are written in sorted order so
    # every member produces the same bytes.
    assert r.eval("return cjson.encode({b=1, a=2, c={z=1, y=2}})", 0) == \
        b'{"a":2,"b":1,"c":{"y":2,"z":1}}'


# ---- Determinism ----

def test_math_random_with_a_seed_matches_redis(fresh):
    fresh("EVAL", "math.randomseed(42) return {math.random(100), math.random(1, 6), "
          "math.random(1000000), tostring(math.random() < 1)}", "0")
    fresh("EVAL", "math.randomseed(42) local a = math.random(1000) math.randomseed(42) "
          "return a == math.random(1000)", "0")
    fresh("EVAL", "return math.random(0)", "0")
    fresh("EVAL", "return math.random(3, 1)", "0")
    fresh("EVAL", "return math.random(1, 2, 3)", "0")


def test_math_random_is_seeded_from_the_entry(r):
    # Without randomseed the sequence comes from the entry's seed: two calls
    # (two entries) differ, and within one script the sequence advances.
    values = {r.eval("return math.random(1000000000)", 0) for _ in range(5)}
    assert len(values) > 1
    assert r.eval("return math.random(1000000000) ~= math.random(1000000000)", 0) == 1


def test_time_inside_a_script_is_the_entry_time(r):
    before = time.time()
    sec, usec = r.eval("return redis.call('time')", 0)
    after = time.time()
    t = int(sec) + int(usec) / 1e6
    assert before - 1 <= t <= after + 1
    assert int(usec) % 1000 == 0  # milliseconds: the entry's clock
    # Every TIME inside one script returns the same instant.
    assert r.eval("local a = redis.call('time') local b = redis.call('time') "
                  "return a[1] == b[1] and a[2] == b[2]", 0) == 1


def test_writes_after_random_commands_are_refused(r):
    r.sadd("s", "a", "b", "c")
    for first in ["redis.call('srandmember', 's')", "redis.call('randomkey')",
                  "redis.call('time')", "redis.call('spop', 's')",
                  "redis.call('scan', 0)"]:
        with pytest.raises(redis.ResponseError,
                           match="Write commands not allowed after non deterministic commands"):
            r.eval(first + " return redis.call('set', 'x', '1')", 0)
    # Reads after a random command are fine; writes before it too.
    assert r.eval("redis.call('set', 'y', '1') redis.call('time') "
                  "return redis.call('get', 'y')", 0) == b"1"


def test_hash_order_replies_are_sorted(r):
    members = [f"m{i:03d}" for i in range(200)]
    r.sadd("big", *members)
    r.sadd("big2", *members[:100])
    fields = {f"f{i:03d}": f"v{i:03d}" for i in range(200)}
    r.hset("h", mapping=fields)
    for i in range(50):
        r.set(f"key:{i:02d}", "x")
    assert r.eval("return redis.call('smembers', 'big')", 0) == [m.encode() for m in members]
    assert r.eval("return redis.call('sunion', 'big', 'big2')", 0) == \
        [m.encode() for m in members]
    assert r.eval("return redis.call('sinter', 'big', 'big2')", 0) == \
        [m.encode() for m in members[:100]]
    assert r.eval("return redis.call('sdiff', 'big', 'big2')", 0) == \
        [m.encode() for m in members[100:]]
    assert r.eval("return redis.call('hkeys', 'h')", 0) == sorted(k.encode() for k in fields)
    assert r.eval("return redis.call('hvals', 'h')", 0) == sorted(v.encode() for v in fields.values())
    flat = r.eval("return redis.call('hgetall', 'h')", 0)
    assert flat == [x.encode() for k in sorted(fields) for x in (k, fields[k])]
    assert r.eval("return redis.call('keys', 'key:*')", 0) == \
        [f"key:{i:02d}".encode() for i in range(50)]


# ---- Huge replies ----

def test_huge_replies(r):
    n = r.eval("local t = {} for i = 1, 200000 do t[i] = i end return t", 0)
    assert len(n) == 200000 and n[-1] == 200000
    big = r.eval("return string.rep('x', 20 * 1024 * 1024)", 0)
    assert len(big) == 20 * 1024 * 1024
    r.rpush("biglist", *range(100000))
    got = r.eval("return redis.call('lrange', 'biglist', 0, -1)", 0)
    assert len(got) == 100000 and got[99999] == b"99999"
    assert r.eval("local t = redis.call('lrange', 'biglist', 0, -1) return #t", 0) == 100000



def test_cyclic_table_reply_is_bounded(server):
    # A table containing itself: the reply nests up to a limit, then says so.
    raw = server.raw()
    try:
        raw.send(encode("EVAL", "local t = {} t[1] = t return t", "0"))
        reply = b""
        deadline = time.monotonic() + 10
        while not reply.endswith(b"-ERR reached lua stack limit\r\n"):
            assert time.monotonic() < deadline, reply[-200:]
            reply += raw.read()
        assert reply.startswith(b"*1\r\n*1\r\n")
    finally:
        raw.close()


def test_lua_54_runtime_messages(r):
    # Runtime error texts come from Lua 5.4 and differ from Redis's Lua 5.1
    # ("attempt to index a nil value (local 't')" vs "attempt to index local
    # 't' (a nil value)"); the Redis framing around them is the same.
    with pytest.raises(redis.ResponseError) as e:
        r.eval("local t = nil\nreturn t.x", 0)
    assert str(e.value).startswith("user_script:2: attempt to index a nil value (local 't') "
                                   "script: ")
    assert str(e.value).endswith(", on @user_script:2.")


def test_script_errors_count_in_stats(r):
    with pytest.raises(redis.ResponseError):
        r.eval("return redis.call('nosuch')", 0)
    stats = r.info("commandstats")
    assert stats["cmdstat_eval"]["calls"] >= 1
    assert stats["cmdstat_eval"]["failed_calls"] >= 1


# ---- Busy scripts ----

@pytest.fixture
def busy_server():
    s = Server(args=["--lua-time-limit", "100"]).start()
    yield s
    s.cleanup()


def run_in_thread(fn):
    result = {}

    def target():
        try:
            result["value"] = fn()
        except Exception as e:  # the reply of the killed script
            result["error"] = e

    t = threading.Thread(target=target, daemon=True)
    t.start()
    return t, result


def wait_busy(client):
    def is_busy():
        try:
            client.ping()
            return False
        except redis.ResponseError as e:
            assert str(e).startswith("BUSY Redis is busy running a script")
            return True
    wait_until(is_busy, timeout=10, what="BUSY replies")


def test_script_kill_from_another_connection(busy_server):
    runner = redis.Redis(port=busy_server.port, socket_timeout=20)
    other = busy_server.client()
    killer = busy_server.client()
    t, result = run_in_thread(lambda: runner.eval("while true do end", 0))
    wait_busy(other)
    with pytest.raises(redis.ResponseError, match="You can only call SCRIPT KILL or SHUTDOWN "
                                                  "NOSAVE"):
        other.get("k")
    with pytest.raises(redis.ResponseError, match="BUSY"):
        other.eval("return 1", 0)
    # FUNCTION KILL does not kill an EVAL, FUNCTION STATS is refused.
    with pytest.raises(redis.ResponseError, match="You can only call SCRIPT KILL"):
        killer.execute_command("FUNCTION", "KILL")
    with pytest.raises(redis.ResponseError, match="BUSY"):
        killer.execute_command("FUNCTION", "STATS")
    assert killer.execute_command("SCRIPT", "KILL") == b"OK"
    t.join(10)
    assert not t.is_alive()
    assert "Script killed by user with SCRIPT KILL..." in str(result["error"])
    assert "on @user_script:1." in str(result["error"])
    assert other.ping() is True
    assert runner.ping() is True
    with pytest.raises(redis.ResponseError, match="NOTBUSY"):
        killer.execute_command("SCRIPT", "KILL")


def test_pcall_cannot_swallow_a_kill(busy_server):
    runner = redis.Redis(port=busy_server.port, socket_timeout=20)
    killer = busy_server.client()
    t, result = run_in_thread(lambda: runner.eval(
        "while true do pcall(function() while true do end end) end", 0))
    wait_busy(killer)
    assert killer.execute_command("SCRIPT", "KILL") == b"OK"
    t.join(10)
    assert not t.is_alive() and "killed" in str(result["error"])


def test_unkillable_script_and_shutdown_nosave(busy_server):
    runner = redis.Redis(port=busy_server.port, socket_timeout=20)
    other = busy_server.client()
    t, result = run_in_thread(
        lambda: runner.eval("redis.call('set', 'k', 'v') while true do end", 0))
    wait_busy(other)
    with pytest.raises(redis.ResponseError, match="UNKILLABLE Sorry the script already executed "
                                                  "write commands"):
        other.execute_command("SCRIPT", "KILL")
    with pytest.raises(redis.ResponseError, match="BUSY"):
        other.execute_command("SHUTDOWN")
    with pytest.raises(redis.ResponseError, match="BUSY"):
        other.execute_command("SHUTDOWN", "SAVE")
    try:
        other.execute_command("SHUTDOWN", "NOSAVE")
    except redis.ConnectionError:
        pass
    wait_until(lambda: busy_server.proc.poll() is not None, timeout=10, what="shutdown")
    t.join(10)
    assert not t.is_alive()


def test_busy_threshold_config(busy_server):
    c = busy_server.client()
    assert c.config_get("lua-time-limit") == {"lua-time-limit": "100"}
    assert c.config_get("busy-reply-threshold") == {"busy-reply-threshold": "100"}
    c.config_set("busy-reply-threshold", "0")
    # With no threshold a long script simply runs to its end.
    assert c.eval("local n = 0 for i = 1, 3000000 do n = n + 1 end return n", 0) == 3000000


def test_busy_config_matches_redis(fresh):
    fresh("CONFIG", "GET", "lua-time-limit")
    fresh("CONFIG", "GET", "busy-reply-threshold")
