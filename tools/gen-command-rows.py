#!/usr/bin/python3
"""Prints node/commands/*.def rows for the named commands, with their arity,
flags, key positions, ACL categories and docs as a running Redis 7.0 reports
them (COMMAND INFO / COMMAND DOCS), so keyraft's table matches the reference.

usage: tools/gen-command-rows.py [-p PORT] NAME [NAME ...]
A container command (CLIENT, CONFIG, ...) prints its row and all subcommands.
"""
import argparse
import redis


def ident(name):
    return name.replace("-", "_").replace("|", "_")


def quote(s):
    return '"' + s.replace("\\", "\\\\").replace('"', '\\"') + '"'


def row(kind, info, docs, parent=None):
    name = info[0].decode()
    arity, flags, first, last, step, cats = info[1], info[2], info[3], info[4], info[5], info[6]
    d = dict(zip(docs[0::2], docs[1::2])) if docs else {}
    short = name.split("|")[-1]
    fields = [ident(parent) + ", " if parent else "", ident(short), ", ", quote(short), ", ", str(arity), ", ",
              quote(" ".join(f.decode() for f in flags)), ", ", f"{first}, {last}, {step}, ",
              quote(" ".join(c.decode() for c in cats)), ", ",
              quote(d.get(b"group", b"").decode()), ", ", quote(d.get(b"since", b"").decode()), ", ",
              quote(d.get(b"complexity", b"").decode()), ", ", quote(d.get(b"summary", b"").decode())]
    return f"{kind}({''.join(fields)})"


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("-p", "--port", type=int, default=6379)
    ap.add_argument("names", nargs="+")
    args = ap.parse_args()
    r = redis.Redis(port=args.port)
    conn = r.connection_pool.get_connection("_")
    for name in args.names:
        conn.send_command("COMMAND", "INFO", name)
        info = conn.read_response()[0]
        if info is None:
            raise SystemExit(f"unknown command {name}")
        conn.send_command("COMMAND", "DOCS", name)
        docs = conn.read_response()
        docs = docs[1] if docs else []
        docmap = dict(zip(docs[0::2], docs[1::2]))
        subs = info[9]
        print(row("CONTAINER" if subs else "COMMAND", info, docs))
        subdocs = docmap.get(b"subcommands", [])
        subdocmap = dict(zip(subdocs[0::2], subdocs[1::2]))
        for sub in sorted(subs, key=lambda s: s[0]):
            print(row("SUBCOMMAND", sub, subdocmap.get(sub[0]), parent=name.lower()))


if __name__ == "__main__":
    main()
