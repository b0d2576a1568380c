"""Hostile clients: each limit kinesind keeps, one case each. A slow client (slowloris) and an
idle one are cut off after --request-timeout-ms; oversized headers, too many headers and an
oversized body are refused; HTTP/2 advertises a bounded stream count and survives a flood of
streams opened and reset at once (the "rapid reset" attack); hundreds of idle connections do not
stop others from being served. Throughout, a well-behaved client keeps getting answers and
kinesind's memory stays bounded."""

import socket
import struct
import time

from kn import Kinesind, call, check, eq, kinesis_headers, main, soft, vm_hwm_mb

TIMEOUT_MS = 800


def served(port):
    r = call(port, "ListStreams", {})
    return r.status == 200


def closed_within(sock, seconds, trickle=None):
    """Seconds until the server closes sock (reading; sending a byte of trickle every 0.1 s)."""
    t0 = time.monotonic()
    sock.settimeout(0.1)
    while time.monotonic() - t0 < seconds:
        if trickle:
            try:
                sock.sendall(trickle)
            except OSError:
                return time.monotonic() - t0
        try:
            if sock.recv(65536) == b"":
                return time.monotonic() - t0
        except socket.timeout:
            pass
        except OSError:
            return time.monotonic() - t0
    return None


def request_head(extra=b""):
    head = "".join("%s: %s\r\n" % kv for kv in kinesis_headers("ListStreams")).encode()
    return b"POST / HTTP/1.1\r\nHost: x\r\n" + head + extra


# ---- HTTP/2 frames by hand (h2c with prior knowledge) ----------------------------------------

PREFACE = b"PRI * HTTP/2.0\r\n\r\nSM\r\n\r\n"


def frame(kind, flags, stream, payload=b""):
    return struct.pack(">I", len(payload))[1:] + bytes([kind, flags]) + struct.pack(">I", stream) + payload


def read_frame(sock):
    head = b""
    while len(head) < 9:
        chunk = sock.recv(9 - len(head))
        if not chunk:
            return None
        head += chunk
    n = int.from_bytes(head[:3], "big")
    body = b""
    while len(body) < n:
        chunk = sock.recv(n - len(body))
        if not chunk:
            return None
        body += chunk
    return head[3], head[4], int.from_bytes(head[5:9], "big") & 0x7fffffff, body


def hpack_request():
    # :method POST (static 3), :scheme http (6), :path / (4), :authority literal (name index 1)
    return bytes([0x83, 0x86, 0x84, 0x01, 9]) + b"127.0.0.1"


def http2(port):
    with soft("HTTP/2: a bounded number of concurrent streams is advertised"):
        s = socket.create_connection(("127.0.0.1", port), timeout=5)
        s.sendall(PREFACE + frame(4, 0, 0))
        settings = None
        for _ in range(10):
            f = read_frame(s)
            if f is None:
                break
            if f[0] == 4 and not f[1] & 1:
                settings = {int.from_bytes(f[3][i:i + 2], "big"): int.from_bytes(f[3][i + 2:i + 6], "big")
                            for i in range(0, len(f[3]), 6)}
                break
        check(settings is not None, "no SETTINGS frame from the server")
        check(0 < settings.get(3, 1 << 31) <= 256, "SETTINGS_MAX_CONCURRENT_STREAMS %r" % settings.get(3))
        s.close()
    with soft("HTTP/2: 20,000 streams opened and reset at once do not stop the server"):
        s = socket.create_connection(("127.0.0.1", port), timeout=5)
        s.sendall(PREFACE + frame(4, 0, 0))
        block = hpack_request()
        burst = []
        stream = 1
        sent = 0
        try:
            for _ in range(20):
                burst = []
                for _ in range(1000):
                    burst.append(frame(1, 0x4, stream, block))        # HEADERS, END_HEADERS
                    burst.append(frame(3, 0, stream, struct.pack(">I", 8)))  # RST_STREAM CANCEL
                    stream += 2
                s.sendall(b"".join(burst))
                sent += 1000
        except OSError:
            pass  # the server may end the connection (GOAWAY): allowed
        s.close()
        check(served(port), "a well-behaved client is served after %d reset streams" % sent)


def test():
    with Kinesind(args=["--request-timeout-ms", str(TIMEOUT_MS)]) as kd:
        port = kd.port
        limit = TIMEOUT_MS / 1000.0 * 3
        with soft("slowloris: headers trickled a byte at a time are cut off"):
            s = socket.create_connection(("127.0.0.1", port))
            s.sendall(b"POST / HTTP/1.1\r\nHost: x\r\nX-Slow: ")
            t = closed_within(s, 10, trickle=b"a")
            check(t is not None and t < limit, "closed after %r s (timeout %d ms)" % (t, TIMEOUT_MS))
            s.close()
        with soft("a body that never finishes is cut off"):
            s = socket.create_connection(("127.0.0.1", port))
            s.sendall(request_head(b"Content-Length: 100000\r\n\r\n{"))
            t = closed_within(s, 10)
            check(t is not None and t < limit, "closed after %r s" % t)
            s.close()
        with soft("an idle keep-alive connection is closed"):
            s = socket.create_connection(("127.0.0.1", port))
            s.sendall(request_head(b"Content-Length: 2\r\n\r\n{}"))
            s.settimeout(5)
            check(s.recv(65536).startswith(b"HTTP/1.1 200"), "first request answered")
            t = closed_within(s, 10)
            check(t is not None and t < limit, "idle connection closed after %r s" % t)
            s.close()
        with soft("600 KB of headers are refused"):
            s = socket.create_connection(("127.0.0.1", port), timeout=5)
            try:
                s.sendall(request_head(b"X-Big: " + b"b" * 600000 + b"\r\nContent-Length: 2\r\n\r\n{}"))
            except OSError:
                pass
            try:
                answer = s.recv(65536)
            except OSError:
                answer = b""
            check(not answer.startswith(b"HTTP/1.1 200"), "answered %r" % answer[:80])
            s.close()
            check(served(port), "served afterwards")
        with soft("200 headers are refused"):
            many = b"".join(b"X-H%d: v\r\n" % i for i in range(200))
            s = socket.create_connection(("127.0.0.1", port), timeout=5)
            s.sendall(request_head(many + b"Content-Length: 2\r\n\r\n{}"))
            try:
                answer = s.recv(65536)
            except OSError:
                answer = b""
            check(answer.startswith(b"HTTP/1.1 4"), "answered %r" % answer[:80])
            s.close()
        with soft("a body over 7 MiB is refused before it is sent"):
            s = socket.create_connection(("127.0.0.1", port), timeout=5)
            s.sendall(request_head(b"Content-Length: %d\r\n\r\n" % (8 << 20)))
            answer = s.recv(65536)
            check(answer.startswith(b"HTTP/1.1 413"), "answered %r" % answer[:80])
            s.close()
        http2(port)
        with soft("300 idle connections do not stop others from being served"):
            idle = [socket.create_connection(("127.0.0.1", port)) for _ in range(300)]
            check(served(port), "served while 300 connections sit idle")
            for s in idle:
                s.close()
        with soft("memory stays bounded"):
            hwm = vm_hwm_mb(kd.proc.pid)
            check(hwm < 200, "peak RSS %.0f MB" % hwm)
        check(served(port), "still serving at the end")


main(test)
