"""A fault-injecting stand-in for VirusTotal, on raw sockets, for the upstream fault suite.

Each accepted connection gets a thread; each request on it is answered by a *fault* picked by the test:

    up = FaultyUpstream()                       # plain TCP; FaultyUpstream(tls=certs...) for TLS
    up.start()
    up.script("reset_mid_body", size=100000)    # every request from now on
    up.script("ok", prefix="/api/v3/files/")    # ...except these (the longest matching prefix wins)

Faults are the functions `fault_<name>` below; each reads nothing more than the request head (and, for the
upload faults, part of the body) and then misbehaves in one exact way. Well-formed answers keep the connection
alive, as VirusTotal's front end does; faults that break the connection close it (FIN or RST as named) or hold
it open until the peer gives up. A held connection is dropped as soon as the peer closes its end, seen without
reading (TCP_INFO), so `open_connections()` is the number of connections the shim still has open to us: the
fault tests compare it with the shim's descriptors.

TLS-level faults are set with `handshake=`: "garbage" (an HTTP answer instead of a ServerHello), "close" (FIN
after the ClientHello), "silent" (never answer the ClientHello); otherwise the handshake is real, with the
certificate given (expired, self-signed, for another host...).
"""

import functools
import gzip
import json
import os
import select
import socket
import ssl
import struct
import threading
import time

HERE = os.path.dirname(os.path.abspath(__file__))
SOURCE_DIR = os.environ.get("SIGMA_SHIM_SOURCE_DIR") or os.path.abspath(os.path.join(HERE, "..", ".."))
DEMO_SHA256 = "f568a0362c238ebbadca53fd4307dac2fe209ddc6257fd300379ebc3c10261e9"

_TCP_ESTABLISHED = 1


def _demo(kind):
    with open(os.path.join(SOURCE_DIR, "shim", "demo", kind, DEMO_SHA256 + ".json"), "rb") as f:
        return f.read()


DEMO_FILE = _demo("files")
DEMO_BEHAVIOURS = _demo("behaviours")
OTHER_OBJECT = json.dumps({"data": {"type": "url", "id": "x", "attributes": {"url": "http://example.com/"}}}
                          ).encode()


def vt_error_body(code, message):
    return json.dumps({"error": {"code": code, "message": message}}).encode()


def head(status, reason, headers):
    lines = ["HTTP/1.1 %d %s" % (status, reason)] + ["%s: %s" % kv for kv in headers]
    return ("\r\n".join(lines) + "\r\n\r\n").encode("latin-1")


def json_of_size(n):
    """A valid JSON File answer of exactly n bytes (n >= 100)."""
    start = b'{"data":{"type":"file","id":"big","attributes":{"pad":"'
    end = b'"}}}'
    return start + b"a" * (n - len(start) - len(end)) + end


class Request:
    def __init__(self, method, target, headers, raw_head):
        self.method = method
        self.target = target
        self.headers = headers          # lower-case name -> value (last one wins)
        self.raw_head = raw_head
        self.body_bytes = 0             # how much of the body the fault read

    @property
    def path(self):
        return self.target.split("?", 1)[0]

    def header(self, name, default=None):
        return self.headers.get(name.lower(), default)

    def __repr__(self):
        return "Request(%s %s)" % (self.method, self.target)


class PeerGone(Exception):
    pass


class Conn:
    """One accepted connection: the socket (TLS-wrapped or not), bytes read ahead, and the helpers faults use."""

    def __init__(self, up, sock, raw):
        self.up = up
        self.sock = sock
        self.raw = raw                  # the TCP socket underneath (for TCP_INFO)
        self.buf = b""

    # -- reading ----------------------------------------------------------------------------------

    def _recv(self, n=65536):
        while True:
            if self.up.stopping.is_set():
                raise PeerGone("stopping")
            try:
                data = self.sock.recv(n)
            except socket.timeout:
                continue
            except (ssl.SSLError, OSError) as e:
                raise PeerGone(str(e))
            if not data:
                raise PeerGone("eof")
            return data

    def read_head(self):
        """The next request's head, or None when the peer closed between requests."""
        while b"\r\n\r\n" not in self.buf:
            if len(self.buf) > 1 << 20:
                raise PeerGone("request head too large")
            try:
                self.buf += self._recv()
            except PeerGone:
                if self.buf:
                    raise
                return None
        raw, self.buf = self.buf.split(b"\r\n\r\n", 1)
        lines = raw.decode("latin-1").split("\r\n")
        method, target, _ = lines[0].split(" ", 2)
        headers = {}
        for line in lines[1:]:
            name, _, value = line.partition(":")
            headers[name.strip().lower()] = value.strip()
        return Request(method, target, headers, raw)

    def read_body(self, req, limit=None):
        """Reads (and drops) the request body, Content-Length or chunked; at most `limit` bytes when given.
        Returns the count read."""
        n = 0
        if "chunked" in req.header("transfer-encoding", "").lower():
            while limit is None or n < limit:
                while b"\r\n" not in self.buf:
                    self.buf += self._recv()
                line, self.buf = self.buf.split(b"\r\n", 1)
                size = int(line.split(b";", 1)[0].strip() or b"0", 16)
                if size == 0:
                    while not self.buf.startswith(b"\r\n") and b"\r\n\r\n" not in self.buf:
                        self.buf += self._recv()
                    self.buf = self.buf.split(b"\r\n", 1)[1] if self.buf.startswith(b"\r\n") \
                        else self.buf.split(b"\r\n\r\n", 1)[1]
                    break
                while len(self.buf) < size + 2:
                    self.buf += self._recv()
                self.buf = self.buf[size + 2:]
                n += size
        else:
            remaining = int(req.header("content-length", "0") or 0)
            if limit is not None:
                remaining = min(remaining, limit)
            while remaining:
                if not self.buf:
                    self.buf = self._recv(min(remaining, 65536))
                take = min(remaining, len(self.buf))
                self.buf = self.buf[take:]
                remaining -= take
                n += take
        req.body_bytes += n
        return n

    # -- writing ----------------------------------------------------------------------------------

    def send(self, data):
        # Reads poll with a short timeout (to notice stop()); a large write to a slow reader (the shim under
        # ASan) must not give up that soon. stop() shuts the socket down, which ends a blocked write.
        self.sock.settimeout(30)
        try:
            self.sock.sendall(data)
        except (ssl.SSLError, OSError) as e:
            raise PeerGone(str(e))
        finally:
            try:
                self.sock.settimeout(0.2)
            except OSError:
                pass

    def answer(self, status, reason, body, headers=(), content_type="application/json", close=False):
        hs = [("Content-Type", content_type), ("Content-Length", str(len(body)))] + list(headers)
        if close:
            hs.append(("Connection", "close"))
        self.send(head(status, reason, hs) + body)
        return not close

    # -- misbehaving ------------------------------------------------------------------------------

    def peer_gone(self):
        """True once the peer has closed or reset its end; reads nothing."""
        try:
            info = self.raw.getsockopt(socket.IPPROTO_TCP, socket.TCP_INFO, 8)
        except OSError:
            return True
        return info[0] != _TCP_ESTABLISHED

    def hold(self):
        """Keeps the connection open, reading nothing, until the peer leaves (or the server stops)."""
        while not self.peer_gone():
            if self.up.stopping.wait(0.02):
                return

    def pause(self, seconds):
        """Sleeps, but ends early (PeerGone) when the peer leaves."""
        deadline = time.monotonic() + seconds
        while time.monotonic() < deadline:
            if self.peer_gone():
                raise PeerGone("peer left")
            if self.up.stopping.wait(min(0.02, max(0.0, deadline - time.monotonic()))):
                raise PeerGone("stopping")

    def drip(self, data, interval=1.0):
        """Sends data one byte per `interval` seconds, until done or the peer leaves."""
        for i in range(len(data)):
            self.send(data[i:i + 1])
            self.pause(interval)

    def reset(self):
        """Closes with RST (SO_LINGER 0)."""
        try:
            self.raw.setsockopt(socket.SOL_SOCKET, socket.SO_LINGER, struct.pack("ii", 1, 0))
        except OSError:
            pass
        raise PeerGone("reset by us")


# -- the faults: fault_<name>(conn, req, **params) -> True to keep the connection for another request -----------

def ok_body(req):
    path = req.path
    if path == "/api/v3/files/" + DEMO_SHA256:
        return 200, DEMO_FILE
    if path == "/api/v3/files/%s/behaviours" % DEMO_SHA256:
        return 200, DEMO_BEHAVIOURS
    if path.startswith("/api/v3/files/"):
        return 404, vt_error_body("NotFoundError", "File not found")
    return 200, OTHER_OBJECT


def fault_ok(conn, req, close=False):
    """A well-formed answer: the demo File object and behaviours, a URL object elsewhere."""
    conn.read_body(req)
    status, body = ok_body(req)
    return conn.answer(status, "OK" if status == 200 else "Not Found", body, close=close)


def fault_answer(conn, req, status=200, reason="OK", body=b"{}", headers=(), content_type="application/json"):
    """Exactly this answer (with Content-Length)."""
    conn.read_body(req)
    return conn.answer(status, reason, body, headers=headers, content_type=content_type)


def fault_reset_before_status(conn, req):
    conn.reset()


def fault_reset_mid_headers(conn, req):
    conn.send(b"HTTP/1.1 200 OK\r\nContent-Type: application/json\r\nContent-Len")
    conn.pause(0.2)  # let the shim read what came before the RST
    conn.reset()


def fault_reset_mid_body(conn, req, size=100000, chunked=False):
    body = json_of_size(size)
    if chunked:
        conn.send(head(200, "OK", [("Content-Type", "application/json"), ("Transfer-Encoding", "chunked")]))
        conn.send(b"%x\r\n" % (size // 2) + body[:size // 2] + b"\r\n")
    else:
        conn.send(head(200, "OK", [("Content-Type", "application/json"), ("Content-Length", str(size))]))
        conn.send(body[:size // 2])
    conn.pause(0.3)
    conn.reset()


def fault_short_body(conn, req, size=100000, then="close"):
    """Content-Length says `size`; half of it comes; then FIN ("close") or nothing more ("hold")."""
    conn.send(head(200, "OK", [("Content-Type", "application/json"), ("Content-Length", str(size))]))
    conn.send(json_of_size(size)[:size // 2])
    if then == "hold":
        conn.hold()
    return False


def fault_broken_chunked(conn, req):
    """A good first chunk, then a chunk size that is not hexadecimal; held open after that."""
    conn.send(head(200, "OK", [("Content-Type", "application/json"), ("Transfer-Encoding", "chunked")]))
    conn.send(b"10\r\n" + b'{"data":{"id":"x' + b"\r\nzz\r\nnot a chunk\r\n")
    conn.hold()
    return False


def fault_invalid_gzip(conn, req):
    body = b"\x1f\x8b\x08\x00\x00\x00\x00\x00\x00\x03" + b"this is not deflate data" * 40
    return conn.answer(200, "OK", body, headers=[("Content-Encoding", "gzip")])


def fault_non_json(conn, req, size=5 * 1024 * 1024):
    line = b"<html><body>this is not JSON at all, just a lot of markup ...</body></html>\n"
    body = (line * (size // len(line) + 1))[:size]
    return conn.answer(200, "OK", body)


@functools.lru_cache(maxsize=8)
def big_json_body(size, gzipped):
    """The body fault_big_json sends, made once: compressing 16 MB takes the double about a second, which a
    test timing the shim must not count (it calls this first)."""
    body = json_of_size(size)
    return gzip.compress(body, 9) if gzipped else body


def fault_big_json(conn, req, size=1 << 20, chunked=False, gzipped=False):
    body = big_json_body(size, gzipped)
    hs = [("Content-Type", "application/json")]
    if gzipped:
        hs.append(("Content-Encoding", "gzip"))
    if chunked:
        hs.append(("Transfer-Encoding", "chunked"))
        out = bytearray(head(200, "OK", hs))
        for i in range(0, len(body), 65536):
            piece = body[i:i + 65536]
            out += b"%x\r\n" % len(piece) + piece + b"\r\n"
        out += b"0\r\n\r\n"
        conn.send(bytes(out))
    else:
        hs.append(("Content-Length", str(len(body))))
        conn.send(head(200, "OK", hs) + body)
    return True


def fault_huge_headers(conn, req, size=100 * 1024):
    filler = [("X-Filler-%04d" % i, "f" * 100) for i in range(size // 116 + 1)]
    conn.send(head(200, "OK", [("Content-Type", "application/json"), ("Content-Length", "2")] + filler) + b"{}")
    conn.hold()
    return False


def fault_silent(conn, req):
    conn.hold()
    return False


def fault_drip(conn, req, interval=1.0):
    """The whole answer, status line included, one byte a second."""
    body = OTHER_OBJECT
    conn.drip(head(200, "OK", [("Content-Type", "application/json"), ("Content-Length", str(len(body)))]) + body,
              interval)
    return True


def fault_slow_body(conn, req, interval=1.0):
    """The header at once, then the body one byte a second."""
    body = OTHER_OBJECT
    conn.send(head(200, "OK", [("Content-Type", "application/json"), ("Content-Length", str(len(body)))]))
    conn.drip(body, interval)
    return True


HTML_500 = (b"<!DOCTYPE html><html><head><title>500 Internal Server Error</title></head>"
            b"<body><h1>Internal Server Error</h1><p>The server encountered an error.</p></body></html>")


def fault_html_500(conn, req):
    return conn.answer(500, "Internal Server Error", HTML_500, content_type="text/html; charset=utf-8")


def fault_quota(conn, req, retry_after=None):
    hs = [("Retry-After", str(retry_after))] if retry_after is not None else []
    return conn.answer(429, "Too Many Requests", vt_error_body("QuotaExceededError", "Quota exceeded"),
                       headers=hs)


def fault_upload_dies(conn, req, after=1 << 20):
    """Reads `after` bytes of the request body, then RST."""
    conn.read_body(req, limit=after)
    conn.reset()


def fault_upload_stalls(conn, req, after=1 << 20, stall=3.0):
    """Reads `after` bytes of the request body, then reads nothing and answers nothing for `stall` seconds,
    then reads (and drops) whatever comes until the peer has gone. (A peer that closes while its data waits
    unread behind a full window sends its FIN only after that data: it is seen by reading.)"""
    conn.read_body(req, limit=after)
    deadline = time.monotonic() + stall
    while time.monotonic() < deadline and not conn.peer_gone():
        if conn.up.stopping.wait(0.02):
            return False
    while True:
        conn._recv()


def fault_interim(conn, req, statuses=(103,)):
    """Interim (1xx) answers first, then the ok answer: a client must read past them (RFC 9110 15.2)."""
    conn.read_body(req)
    for status in statuses:
        conn.send(head(status, "Early Hints" if status == 103 else "Continue",
                       [("Link", "</style.css>; rel=preload")] if status == 103 else []))
    status, body = ok_body(req)
    return conn.answer(status, "OK" if status == 200 else "Not Found", body)


def fault_ok_then_idle_close(conn, req, after=0.2, goodbye=b""):
    """The ok answer with keep-alive, then, if no request follows within `after` seconds, `goodbye` (say, a
    408) and FIN, as servers do with idle keep-alive connections."""
    fault_ok(conn, req)
    # Idle means no next request within `after`: one that comes sooner is answered (by the script).
    if conn.buf or select.select([conn.sock], [], [], after)[0]:
        return True
    if goodbye:
        conn.send(goodbye)
    return False


SMUGGLED = b'{"smuggled":"an answer nobody asked for"}'
SMUGGLED_ANSWER = head(200, "OK", [("Content-Type", "application/json"),
                                   ("Content-Length", str(len(SMUGGLED)))]) + SMUGGLED


def fault_ok_then_extra(conn, req, pause=0.0):
    """The ok answer, then (at once, or after `pause` seconds) a whole second answer nobody asked for; the
    connection stays open and later requests are answered normally. A client that reuses the connection
    without noticing takes the extra answer for its next request's."""
    conn.read_body(req)
    status, body = ok_body(req)
    first = head(status, "OK" if status == 200 else "Not Found",
                 [("Content-Type", "application/json"), ("Content-Length", str(len(body)))]) + body
    if pause:
        conn.send(first)
        conn.pause(pause)
        conn.send(SMUGGLED_ANSWER)
    else:
        conn.send(first + SMUGGLED_ANSWER)
    return True


def fault_switching_protocols(conn, req):
    """101 Switching Protocols, never asked for (the shim forwards no Upgrade)."""
    conn.send(head(101, "Switching Protocols", [("Upgrade", "websocket"), ("Connection", "Upgrade")]))
    conn.hold()
    return False


REQUEST_TIMEOUT_408 = b"HTTP/1.1 408 Request Timeout\r\nConnection: close\r\nContent-Length: 0\r\n\r\n"


FAULTS = {name[len("fault_"):]: fn for name, fn in globals().items() if name.startswith("fault_")}


class FaultyUpstream:
    """The server. `tls`: None (plain TCP) or (cert file, key file); or `certs`, several by name, the one used
    chosen by `cert`. `handshake`: None or a TLS-level fault. `port` 0 picks a free one."""

    def __init__(self, tls=None, handshake=None, host="127.0.0.1", port=0, certs=None):
        self.host = host
        # TLS: `certs` maps names to (certificate file, key file); `cert` names the one the next connection
        # is served with, `handshake` a TLS-level fault instead. Both may change while the server runs.
        self.handshake = handshake
        self._contexts = {}
        for name, (crt, key) in (certs or {}).items():
            ctx = ssl.SSLContext(ssl.PROTOCOL_TLS_SERVER)
            ctx.load_cert_chain(crt, key)
            self._contexts[name] = ctx
        if tls is not None:
            ctx = ssl.SSLContext(ssl.PROTOCOL_TLS_SERVER)
            ctx.load_cert_chain(*tls)
            self._contexts["default"] = ctx
        self.cert = "default" if tls is not None else next(iter(self._contexts), None)
        self.tls = bool(self._contexts) or handshake is not None
        self.stopping = threading.Event()
        self._lock = threading.Lock()
        self._script = {"": ("ok", {})}
        self._requests = []
        self._errors = []               # TLS handshake errors and other exceptions, for diagnostics
        self._connections = set()
        self._accepted = 0
        self._threads = []
        self._listener = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
        self._listener.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
        self._listener.bind((host, port))
        self._listener.listen(64)
        self.port = self._listener.getsockname()[1]
        self._acceptor = None

    def url(self, host=None):
        return "%s://%s:%d" % ("https" if self.tls else "http", host or self.host, self.port)

    # -- scripting --------------------------------------------------------------------------------

    def script(self, fault, prefix="", **params):
        """Answers requests whose path starts with `prefix` (the longest wins) with `fault`."""
        if fault not in FAULTS:
            raise ValueError("no fault %r" % fault)
        with self._lock:
            self._script[prefix] = (fault, params)

    def reset_script(self):
        with self._lock:
            self._script = {"": ("ok", {})}

    def _fault_for(self, path):
        with self._lock:
            best = max((p for p in self._script if path.startswith(p)), key=len)
            return self._script[best]

    # -- what happened ----------------------------------------------------------------------------

    def requests(self, prefix=""):
        with self._lock:
            return [r for r in self._requests if r.path.startswith(prefix)]

    def clear(self):
        with self._lock:
            self._requests.clear()
            self._errors.clear()

    def errors(self):
        with self._lock:
            return list(self._errors)

    def accepted(self):
        with self._lock:
            return self._accepted

    def open_connections(self):
        with self._lock:
            return len(self._connections)

    # -- life -------------------------------------------------------------------------------------

    def start(self):
        self._acceptor = threading.Thread(target=self._accept_loop, name="faulty-accept", daemon=True)
        self._acceptor.start()
        return self

    def stop(self):
        self.stopping.set()
        try:
            self._listener.close()
        except OSError:
            pass
        with self._lock:
            conns = list(self._connections)
        for c in conns:
            try:
                c.shutdown(socket.SHUT_RDWR)
            except OSError:
                pass
        for t in list(self._threads) + ([self._acceptor] if self._acceptor else []):
            t.join(5)

    def __enter__(self):
        return self.start()

    def __exit__(self, *exc):
        self.stop()

    def _accept_loop(self):
        while not self.stopping.is_set():
            try:
                r, _, _ = select.select([self._listener], [], [], 0.1)
                if not r:
                    continue
                raw, _ = self._listener.accept()
            except OSError:
                return
            with self._lock:
                self._connections.add(raw)
                self._accepted += 1
            t = threading.Thread(target=self._serve, args=(raw,), name="faulty-conn", daemon=True)
            self._threads = [x for x in self._threads if x.is_alive()] + [t]
            t.start()

    def _serve(self, raw):
        sock = raw
        try:
            raw.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)
            raw.settimeout(0.2)
            conn = Conn(self, raw, raw)
            if self.handshake is not None:
                self._bad_handshake(conn)
                return
            if self.tls:
                raw.settimeout(10)
                try:
                    sock = self._contexts[self.cert].wrap_socket(raw, server_side=True)
                except (ssl.SSLError, OSError) as e:
                    with self._lock:
                        self._errors.append(e)
                    return
                sock.settimeout(0.2)
                conn = Conn(self, sock, sock)
            while True:
                req = conn.read_head()
                if req is None:
                    return
                with self._lock:
                    self._requests.append(req)
                fault, params = self._fault_for(req.path)
                if not FAULTS[fault](conn, req, **params):
                    return
        except PeerGone:
            pass
        except Exception as e:  # a bug in a fault must show, not hang the test
            with self._lock:
                self._errors.append(e)
        finally:
            try:
                sock.close()
            except OSError:
                pass
            try:
                raw.close()
            except OSError:
                pass
            with self._lock:
                self._connections.discard(raw)

    def _bad_handshake(self, conn):
        # Wait for the ClientHello (a TLS record starts with 0x16).
        first = conn._recv(4096)
        with self._lock:
            self._errors.append(("client hello", first[:1]))
        if self.handshake == "garbage":
            conn.send(b"HTTP/1.1 400 Bad Request\r\nContent-Length: 0\r\nConnection: close\r\n\r\n")
        elif self.handshake == "close":
            pass
        elif self.handshake == "silent":
            conn.hold()
        else:
            raise ValueError("no handshake fault %r" % self.handshake)


def closed_port(host="127.0.0.1"):
    """A port on which nothing listens (bound then closed: connecting is refused)."""
    s = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
    s.bind((host, 0))
    port = s.getsockname()[1]
    s.close()
    return port


def fault_certs():
    """tests/e2e/certs.py's CA and leaves (localhost, wrong host, expired), plus `selfsigned` (localhost, signed by
    itself)."""
    import subprocess
    import certs as e2e_certs
    c = e2e_certs.shared_certs()
    folder = c.folder
    selfsigned_crt = os.path.join(folder, "selfsigned.crt")
    with _certs_lock:
        if not os.path.exists(selfsigned_crt):
            proc = subprocess.run(["openssl", "req", "-x509", "-new", "-newkey", "ec", "-pkeyopt",
                                   "ec_paramgen_curve:prime256v1", "-nodes", "-keyout", "selfsigned.key", "-out",
                                   "selfsigned.tmp", "-days", "7", "-subj", "/CN=localhost", "-addext",
                                   "subjectAltName=DNS:localhost,IP:127.0.0.1"],
                                  cwd=folder, stdout=subprocess.PIPE, stderr=subprocess.PIPE, timeout=60)
            if proc.returncode != 0:
                raise RuntimeError("openssl req: %s" % proc.stderr.decode(errors="replace"))
            os.rename(os.path.join(folder, "selfsigned.tmp"), selfsigned_crt)
    return {
        "ca": c.ca_cert,
        "good": (c.localhost_cert, c.localhost_key),
        "wrong_host": (c.wrong_cert, c.wrong_key),
        "expired": (c.expired_cert, c.expired_key),
        "self_signed": (selfsigned_crt, os.path.join(folder, "selfsigned.key")),
    }


_certs_lock = threading.Lock()
