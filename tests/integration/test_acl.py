"""ACLs: users, rules, ACL subcommands, denials per category, key and
channel patterns, ACL LOG, AUTH/HELLO with users, requirepass, and the ACL
file (SAVE, restart, LOAD), side by side with redis-server 7.0 where the
replies are deterministic. Each test gets fresh servers: users are state."""
import os

import pytest
import redis

from harness import KEYRAFT, REDIS, Server


def run_command(conn, *args):
    """One command; errors (including NOAUTH, which redis-py raises as an
    authentication error) come back as ('error', text)."""
    conn.send_command(*args)
    try:
        return conn.read_response()
    except (redis.ResponseError, redis.AuthenticationError) as e:
        return ("error", str(e))


@pytest.fixture
def pair():
    ours = Server(KEYRAFT).start()
    ref = Server(REDIS, args=["--appendonly", "no"]).start()
    p = Pair(ours, ref)
    yield p
    p.close()
    ours.cleanup()
    ref.cleanup()


def normalized(reply):
    if isinstance(reply, Exception):
        return ("error", str(reply))
    if isinstance(reply, list):
        return [normalized(r) for r in reply]
    return reply


class Pair:
    """Connections to keyraft and redis-server; `as_user` opens more."""

    def __init__(self, ours, ref):
        self.servers = (ours, ref)
        self.conns = []
        self.admin = self.connect()

    def connect(self, username=None, password=None):
        conns = []
        for s in self.servers:
            c = redis.Connection(port=s.port, socket_timeout=10, username=username,
                                 password=password)
            c.connect()
            conns.append(c)
        self.conns.extend(conns)
        return Side(conns)

    def close(self):
        for c in self.conns:
            c.disconnect()


class Side:
    def __init__(self, conns):
        self.conns = conns

    def __call__(self, *args):
        ours, theirs = (normalized(run_command(c, *args)) for c in self.conns)
        assert ours == theirs, f"{args!r}: keyraft {ours!r} != redis {theirs!r}"
        return ours

    def both(self, *args):
        return [normalized(run_command(c, *args)) for c in self.conns]


# ---- Users and rules ----

RULE_SETS = [
    ["on", ">pw", "~*", "+@all"],
    ["on", "nopass", "allkeys", "allchannels", "allcommands"],
    ["on", ">pw", "%R~foo*", "~bar", "&x", "+get"],
    ["off", "#5e884898da28047151d0e56f8dc6292773603d0d6aabbdd62a11ef721d1542d8"],
    ["on", "+@all", "-@dangerous"],
    ["on", "-@all", "+@hash"],
    ["on", "+@all", "-@write"],
    ["on", "+@all", "-@string", "+set"],
    ["on", "-@all", "+@list", "-lpush"],
    ["on", "+config|get", "%W~w:*", "%RW~rw:*"],
    ["on", "+select|0", "+@hash"],
    [">a", ">b", "<a", "resetchannels", "&a", "&b"],
    ["reset"],
    ["on", ">pw", "resetpass", "nopass", "resetkeys", "~k1", "~k1", "%R~k1"],
    ["skip-sanitize-payload"],
    ["sanitize-payload", "allkeys", "resetkeys", "~x"],
    ["nocommands", "+@pubsub", "-publish"],
]


@pytest.mark.parametrize("rules", RULE_SETS, ids=lambda r: " ".join(r))
def test_setuser_getuser_list(pair, rules):
    a = pair.admin
    a("ACL", "SETUSER", "u", *rules)
    a("ACL", "GETUSER", "u")
    a("ACL", "LIST")
    a("ACL", "USERS")
    # Rules accumulate on an existing user.
    a("ACL", "SETUSER", "u", "on", "~more")
    a("ACL", "GETUSER", "u")
    a("ACL", "DELUSER", "u", "nosuch")
    a("ACL", "USERS")


@pytest.mark.parametrize("rule", [
    "+nosuchcommand", "-@nosuchcategory", "+@nosuch", "#abc", "!" + "0" * 64,
    "<notapassword", "+config|get|x", "-select|0", "+set|", "bogus", "~a b",
    "%X~foo", "%RR~foo", "+@ALL ", "",
])
def test_setuser_rule_errors(pair, rule):
    a = pair.admin
    a("ACL", "SETUSER", "u", "on", rule)
    a("ACL", "LIST")


def test_setuser_errors_leave_user_unchanged(pair):
    a = pair.admin
    a("ACL", "SETUSER", "u", "on", ">pw", "~*")
    a("ACL", "SETUSER", "u", "off", "~more", "-@all", "+nosuch")
    a("ACL", "GETUSER", "u")
    a("ACL", "SETUSER", "u", "allkeys", "~foo")
    a("ACL", "SETUSER", "u", "allchannels", "&foo")
    a("ACL", "LIST")


def test_acl_command_errors(pair):
    a = pair.admin
    a("ACL", "SETUSER", "a b")
    a("ACL", "DELUSER", "default")
    a("ACL", "DELUSER", "u", "default")
    a("ACL", "GETUSER", "nosuch")
    a("ACL", "NOSUCH")
    a("ACL", "SETUSER")
    a("ACL", "WHOAMI", "x")
    a("ACL", "CAT", "nosuch")
    a("ACL", "LOG", "notanumber")
    a("ACL", "GENPASS", "0")
    a("ACL", "GENPASS", "5000")
    a("ACL", "GENPASS", "x")
    a("ACL", "SAVE")
    a("ACL", "LOAD")
    a("ACL", "HELP")
    a("ACL", "WHOAMI")


def test_acl_cat(pair):
    a = pair.admin
    a("ACL", "CAT")
    ours, theirs = a.both("ACL", "CAT", "transaction")
    assert sorted(ours) == sorted(theirs)
    # Every command keyraft has lists the categories Redis gives it.
    for category in (b"string", b"keyspace", b"hash", b"dangerous", b"connection"):
        ours, theirs = a.both("ACL", "CAT", category)
        # Redis 7.2's CLIENT SETINFO and keyraft's own KEYRAFT subcommands.
        ours = {c for c in ours if c != b"client|setinfo" and not c.startswith(b"keyraft|")}
        assert ours <= set(theirs), ours - set(theirs)


def test_genpass(pair):
    ours = pair.admin.both("ACL", "GENPASS")[0]
    assert len(ours) == 64 and int(ours, 16) >= 0
    assert len(pair.admin.both("ACL", "GENPASS", "5")[0]) == 2
    assert pair.admin.both("ACL", "GENPASS")[0] != ours


# ---- Authentication ----

def test_auth_with_users(pair):
    a = pair.admin
    a("ACL", "SETUSER", "alice", "on", ">secret", "~*", "+@all")
    a("ACL", "SETUSER", "bob", "off", ">secret", "~*", "+@all")
    a("ACL", "SETUSER", "free", "on", "nopass", "+@all")
    c = pair.connect()
    c("AUTH", "alice", "wrong")
    c("ACL", "WHOAMI")
    c("AUTH", "alice", "secret")
    c("ACL", "WHOAMI")
    c("AUTH", "bob", "secret")
    c("AUTH", "nosuch", "secret")
    c("AUTH", "free", "anything")
    c("ACL", "WHOAMI")
    c("AUTH", "onlypassword")
    c("AUTH", "a", "b", "c")
    c("RESET")
    c("ACL", "WHOAMI")


def test_hello_auth_with_users(pair):
    a = pair.admin
    a("ACL", "SETUSER", "alice", "on", ">secret", "~*", "+@all")
    c = pair.connect()
    c("HELLO", "2", "AUTH", "alice", "wrong")
    ours, theirs = c.both("HELLO", "2", "AUTH", "alice", "secret")
    assert ours[:4] == theirs[:4]
    c("ACL", "WHOAMI")


def test_requirepass_is_default_password(pair):
    a = pair.admin
    a("CONFIG", "SET", "requirepass", "pw")
    a("ACL", "GETUSER", "default")
    c = pair.connect()
    c("GET", "k")
    c("AUTH", "wrong")
    c("AUTH", "pw")
    c("GET", "k")
    c("AUTH", "default", "pw")
    a("CONFIG", "SET", "requirepass", "")
    a("ACL", "LIST")
    c2 = pair.connect()
    c2("GET", "k")
    c2("AUTH", "x")


def test_default_user_off_requires_auth(pair):
    a = pair.admin
    a("ACL", "SETUSER", "admin", "on", ">pw", "+@all", "~*")
    a("ACL", "SETUSER", "default", "off")
    c = pair.connect()
    c("PING")
    c("AUTH", "admin", "pw")
    c("PING")


def test_deluser_disconnects_its_clients(pair):
    a = pair.admin
    a("ACL", "SETUSER", "gone", "on", ">pw", "+@all", "~*")
    c = pair.connect("gone", "pw")
    c("PING")
    a("ACL", "DELUSER", "gone")
    for conn in c.conns:
        with pytest.raises(redis.ConnectionError):
            run_command(conn, "PING")


# ---- Denials ----

def test_denials_per_category(pair):
    a = pair.admin
    a("SET", "k", "v")
    a("ACL", "SETUSER", "reader", "on", ">pw", "~*", "-@all", "+@read", "+@connection")
    a("ACL", "SETUSER", "nodanger", "on", ">pw", "~*", "+@all", "-@dangerous")
    a("ACL", "SETUSER", "nowrite", "on", ">pw", "~*", "+@all", "-@write")
    r = pair.connect("reader", "pw")
    r("GET", "k")
    r("SET", "k", "x")
    r("DEL", "k")
    r("ECHO", "hi")
    r("CONFIG", "GET", "maxmemory")
    r("FLUSHALL")
    n = pair.connect("nodanger", "pw")
    n("SET", "k", "x")
    n("FLUSHALL")
    n("KEYS", "*")
    n("CONFIG", "SET", "hz", "10")
    n("ACL", "LIST")
    n("ACL", "WHOAMI")
    w = pair.connect("nowrite", "pw")
    w("GET", "k")
    w("LPUSH", "l", "x")
    w("HSET", "h", "f", "v")
    w("PING")


def test_subcommand_and_firstarg_rules(pair):
    a = pair.admin
    a("ACL", "SETUSER", "u", "on", ">pw", "~*", "-@all", "+config|get", "+select|0",
      "+client|id")
    c = pair.connect("u", "pw")
    c("CONFIG", "GET", "maxmemory")
    c("CONFIG", "SET", "hz", "10")
    c("SELECT", "0")
    c("SELECT", "1")
    c("CLIENT", "SETNAME", "x")
    a("ACL", "SETUSER", "u", "-config|get", "+config")
    c("CONFIG", "GET", "maxmemory")
    # (The order of single-command rules follows Redis's hash table.)
    ours, theirs = a.both("ACL", "GETUSER", "u")
    assert sorted(ours[5].split()) == sorted(theirs[5].split())


def test_key_patterns(pair):
    a = pair.admin
    a("ACL", "SETUSER", "u", "on", ">pw", "+@all", "~foo*", "%R~ro:*", "%W~wo:*")
    c = pair.connect("u", "pw")
    c("SET", "foo1", "v")
    c("GET", "foo1")
    c("SET", "bar", "v")
    c("GET", "bar")
    c("MSET", "foo2", "a", "bar", "b")
    c("MSET", "foo2", "a", "foo3", "b")
    c("GET", "ro:1")
    c("SET", "ro:1", "v")
    c("SET", "wo:1", "v")
    c("GET", "wo:1")
    c("LMOVE", "wo:l", "foo", "LEFT", "RIGHT")
    c("COPY", "ro:1", "wo:1")
    c("COPY", "wo:1", "ro:1")
    ours, theirs = c.both("KEYS", "*")
    assert sorted(ours) == sorted(theirs)
    c("PING")
    c("WATCH", "bar")
    c("EXISTS", "foo1", "bar")


def test_channel_patterns(pair):
    a = pair.admin
    a("ACL", "SETUSER", "u", "on", ">pw", "+@all", "~*", "resetchannels", "&news.*", "&lit")
    c = pair.connect("u", "pw")
    c("PUBLISH", "news.today", "hi")
    c("PUBLISH", "sports", "hi")
    c("PUBLISH", "lit", "hi")
    c("SPUBLISH", "sports", "hi")
    # PSUBSCRIBE needs the pattern literally.
    a("ACL", "DRYRUN", "u", "PSUBSCRIBE", "news.*")
    a("ACL", "DRYRUN", "u", "PSUBSCRIBE", "news.a*")
    a("ACL", "DRYRUN", "u", "SUBSCRIBE", "news.x", "other")


def test_dryrun(pair):
    a = pair.admin
    a("ACL", "SETUSER", "u", "on", "%R~foo*", "~bar", "+get", "+set")
    a("ACL", "DRYRUN", "u", "GET", "foo1")
    a("ACL", "DRYRUN", "u", "SET", "foo1", "v")
    a("ACL", "DRYRUN", "u", "SET", "bar", "v")
    a("ACL", "DRYRUN", "u", "DEL", "bar")
    a("ACL", "DRYRUN", "u", "NOSUCH")
    a("ACL", "DRYRUN", "nosuch", "GET", "x")
    a("ACL", "DRYRUN", "u", "GET")


def test_acl_log(pair):
    a = pair.admin
    a("ACL", "SETUSER", "u", "on", ">pw", "~foo*", "resetchannels", "&ok", "+get", "+publish",
      "+multi", "+exec")
    c = pair.connect("u", "pw")
    c("SET", "foo", "v")
    c("GET", "nope")
    c("GET", "nope")
    c("PUBLISH", "bad", "m")
    c("AUTH", "u", "wrongpass")
    c("MULTI")
    c("SET", "foo", "v")
    c("EXEC")
    ours, theirs = a.both("ACL", "LOG")
    assert len(ours) == len(theirs) == 5

    def comparable(entry):
        fields = dict(zip(entry[::2], entry[1::2]))
        info = fields.pop(b"client-info")
        age = float(fields.pop(b"age-seconds"))
        assert 0 <= age < 30
        assert b" user=u " in info or b" user=default " in info
        return fields
    assert [comparable(e) for e in ours] == [comparable(e) for e in theirs]
    ours, theirs = a.both("ACL", "LOG", "2")
    assert [comparable(e) for e in ours] == [comparable(e) for e in theirs[:2]]
    a("ACL", "LOG", "-1")
    a("ACL", "LOG", "RESET")
    a("ACL", "LOG")


def test_transaction_with_denied_commands(pair):
    a = pair.admin
    a("ACL", "SETUSER", "u", "on", ">pw", "~*", "+@all", "-flushall")
    c = pair.connect("u", "pw")
    c("MULTI")
    c("SET", "k", "v")
    c("FLUSHALL")
    c("EXEC")
    # Rules changed between queueing and EXEC: that command fails alone.
    c("MULTI")
    c("SET", "k", "v")
    c("GET", "k")
    a("ACL", "SETUSER", "u", "-get")
    ours, theirs = c.both("EXEC")
    assert ours == theirs


# ---- The ACL file ----

def acl_server(binary, path_name="users.acl", content=""):
    s = Server(binary, conf=None)
    path = os.path.join(s.dir, path_name)
    with open(path, "w") as f:
        f.write(content)
    s.cmd += ["--aclfile", path]
    return s, path


def test_acl_save_restart_load(pair):
    s, path = acl_server(KEYRAFT)
    s.start()
    try:
        c = s.client()
        c.execute_command("ACL", "SETUSER", "alice", "on", ">secret", "%R~r*", "~k*", "&ch",
                          "-@all", "+@read", "+set")
        c.execute_command("ACL", "SETUSER", "bob", "off", "nopass", "allkeys", "+@all",
                          "-flushall")
        before = c.execute_command("ACL", "LIST")
        assert c.execute_command("ACL", "SAVE") == b"OK"
        with open(path) as f:
            text = f.read()
        assert text == "".join(line.decode() + "\n" for line in before)
        c.close()
        s.stop()
        s.start()
        c = s.client()
        assert c.execute_command("ACL", "LIST") == before
        alice = s.client(username="alice", password="secret")
        assert alice.get("k1") is None
        with pytest.raises(redis.exceptions.NoPermissionError):
            alice.set("r1", "v")
        alice.close()
        # Edit the file, then ACL LOAD replaces the users (the default user
        # keeps its connections).
        with open(path, "a") as f:
            f.write("user carol on >pw ~* +@all\n")
        assert c.execute_command("ACL", "LOAD") == b"OK"
        assert c.execute_command("ACL", "USERS") == [b"alice", b"bob", b"carol", b"default"]
        c.close()
    finally:
        s.cleanup()


BAD_FILES = [
    "user alice on +nosuch\n",
    "notuser alice\n",
    "user\n",
    "user alice on\nuser alice off\n",
    "user alice on #tooshort\n",
    "user alice on ~a allkeys ~b\n",
]


@pytest.mark.parametrize("content", BAD_FILES)
def test_acl_load_errors_like_redis(content):
    replies = []
    for binary in (KEYRAFT, REDIS):
        s, path = acl_server(binary)
        s.start()
        try:
            c = s.client()
            c.execute_command("ACL", "SETUSER", "keep", "on", "nopass")
            with open(path, "w") as f:
                f.write(content)
            try:
                reply = c.execute_command("ACL", "LOAD")
            except redis.ResponseError as e:
                reply = str(e).replace(path, "PATH")
            replies.append((reply, c.execute_command("ACL", "USERS")))
            c.close()
        finally:
            s.cleanup()
    assert replies[0] == replies[1]


def test_startup_with_bad_aclfile_fails():
    s, path = acl_server(KEYRAFT, content="user alice on +nosuch\n")
    s.start(wait=False)
    try:
        assert s.proc.wait(10) != 0
        assert "Aborting Redis startup because of ACL errors" in s.read_log()
    finally:
        s.cleanup()


def test_acl_file_default_user_rules(pair):
    s, path = acl_server(KEYRAFT, content="user default on >pw ~* +@all\nuser x on nopass\n")
    s.start()
    try:
        c = s.client()
        with pytest.raises(redis.AuthenticationError):
            c.ping()
        c = s.client(password="pw")
        assert c.execute_command("ACL", "USERS") == [b"default", b"x"]
        c.close()
    finally:
        s.cleanup()
