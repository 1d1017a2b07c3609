"""Raw RESP over a plain socket, for tests where redis-py gets in the way
(CLIENT REPLY OFF, NOAUTH replies, RESP3 bytes): send commands, read exactly
one reply's bytes, and compare keyraft with redis-server 7.0 byte for byte."""
import re
import socket


def encode(*args):
    out = [b"*%d\r\n" % len(args)]
    for a in args:
        if isinstance(a, str):
            a = a.encode()
        elif isinstance(a, int):
            a = str(a).encode()
        out.append(b"$%d\r\n%s\r\n" % (len(a), a))
    return b"".join(out)


class RawResp:
    """One connection; read_reply() returns the bytes of one complete reply."""

    def __init__(self, port, timeout=5):
        self.sock = socket.create_connection(("127.0.0.1", port), timeout=timeout)
        self.buf = b""

    def send(self, *args):
        self.sock.sendall(encode(*args))

    def _fill(self):
        chunk = self.sock.recv(65536)
        if not chunk:
            raise ConnectionError("connection closed")
        self.buf += chunk

    def _line(self, pos):
        while True:
            end = self.buf.find(b"\r\n", pos)
            if end >= 0:
                return end
            self._fill()

    def _skip_reply(self, pos):
        """Returns the offset just past the reply that starts at 'pos'."""
        while len(self.buf) <= pos:
            self._fill()
        kind = self.buf[pos:pos + 1]
        end = self._line(pos)
        head = self.buf[pos + 1:end]
        pos = end + 2
        if kind in b"$=!":
            n = int(head)
            if n < 0:
                return pos
            while len(self.buf) < pos + n + 2:
                self._fill()
            return pos + n + 2
        if kind in b"*~>%|":
            n = int(head)
            if kind in b"%|":
                n *= 2
            for _ in range(max(n, 0)):
                pos = self._skip_reply(pos)
            return pos
        return pos  # + - : _ , # (

    def read_reply(self):
        end = self._skip_reply(0)
        reply, self.buf = self.buf[:end], self.buf[end:]
        return reply

    def call(self, *args):
        self.send(*args)
        return self.read_reply()

    def close(self):
        self.sock.close()


def mask_id(reply):
    """HELLO's map carries the connection id, which differs between servers."""
    return re.sub(rb"(\$2\r\nid\r\n):\d+\r\n", rb"\1:ID\r\n", reply)


class RawPair:
    """The same raw connection to keyraft and to the reference."""

    def __init__(self, ours_port, ref_port):
        self.ours = RawResp(ours_port)
        self.ref = RawResp(ref_port)

    def __call__(self, *args, mask=lambda b: b):
        ours = mask(self.ours.call(*args))
        theirs = mask(self.ref.call(*args))
        assert ours == theirs, f"{args!r}: keyraft {ours!r} != redis {theirs!r}"
        return ours

    def close(self):
        self.ours.close()
        self.ref.close()
