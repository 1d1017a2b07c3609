"""Smoke tests of the core: connection, dispatch errors, GET/SET, DEL/EXISTS."""


def test_ping_echo(same):
    same("PING")
    same("PING", "hello")
    same("PING", "a", "b")
    same("ECHO", "x\x00y")
    same("ECHO")


def test_unknown_command_and_arity(same):
    same("NOSUCHCOMMAND", "a", "b")
    same("nosuch", "x" * 300)
    same("GET")
    same("GET", "a", "b")


def test_set_options(same):
    same("SET", "k", "v")
    same("GET", "k")
    same("SET", "k", "v2", "NX")
    same("SET", "k", "v3", "XX", "GET")
    same("SET", "k", "v", "NX", "XX")
    same("SET", "k", "v", "EX", "0")
    same("SET", "k", "v", "EX", "-5")
    same("SET", "k", "v", "EX", "abc")
    same("SET", "k", "v", "EX", "10", "PX", "100")
    same("SET", "k", "v", "KEEPTTL", "EX", "5")
    same("SET", "k", "v", "EX", "9223372036854775807")
    same("SET", "k", "v", "PXAT", "1")
    same("GET", "k")
    same("SET", "missing", "v", "XX")
    same("SET", "k", "v", "BADOPT")


def test_select_and_del(same):
    same("SELECT", "16")
    same("SELECT", "x")
    same("SELECT", "3")
    same("SET", "a", "1")
    same("EXISTS", "a", "a", "b")
    same("DEL", "a", "b")
    same("DBSIZE")
    same("FLUSHALL", "BAD")


def test_quit_closes(server):
    raw = server.raw()
    raw.send(b"PING\r\nQUIT\r\nPING\r\n")
    assert raw.read_until_closed() == b"+PONG\r\n+OK\r\n"
