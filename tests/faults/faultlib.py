"""What the fault tests share: a raw HTTP/1.1 client that reports exactly what came back and how the
connection ended, the shim's open descriptors, and a base class that starts a shim in front of a faulty
upstream with short deadlines."""

import errno
import json
import os
import select
import shutil
import socket
import tempfile
import time
import unittest

from harness import SANITIZED, Shim, child_env

import faulty_upstream as fu

SHA256 = fu.DEMO_SHA256
LEGACY = "/api/v3/sigma_analyses/" + SHA256
PASSTHROUGH = "/api/v3/urls/aHR0cDovL2V4YW1wbGUuY29tLw"

# The configured deadline of one upstream request; every fault must be answered within it plus MARGIN.
DEADLINE = 2.0
MARGIN = 3.0 if SANITIZED else 1.5
# Faults that break the connection at once must not wait for the deadline.
FAST = 1.5 if SANITIZED else 1.0
# How long the shim's descriptors may take to come back to the baseline.
SETTLE = 10.0 if SANITIZED else 5.0
CLIENT_TIMEOUT = 20.0

# Expectations for FaultTestCase.check_fault: (status, shim error code or None for a relayed answer cut off, when).
FAST_ANSWER, AT_DEADLINE = "fast", "deadline"
TRANSIENT = (503, "TransientError", FAST_ANSWER)
TIMED_OUT = (504, "DeadlineExceededError", AT_DEADLINE)
CUT_OFF = (200, None, FAST_ANSWER)
CUT_OFF_AT_DEADLINE = (200, None, AT_DEADLINE)


class Exchange:
    """What a client got: status, headers (lower-case), body bytes, whether the body was complete by its own
    framing, whether the shim closed the connection, and how long it all took."""

    def __init__(self):
        self.status = None
        self.headers = {}
        self.body = b""
        self.complete = False
        self.closed = False
        self.reset = False
        self.elapsed = None
        self.sent = 0               # request bytes sent (uploads)

    def json(self):
        return json.loads(self.body)

    def __repr__(self):
        return ("Exchange(status=%r complete=%r closed=%r reset=%r elapsed=%.2fs body[:200]=%r headers=%r)"
                % (self.status, self.complete, self.closed, self.reset, self.elapsed or -1, self.body[:200],
                   self.headers))


class _Reader:
    def __init__(self, sock, deadline, ex):
        self.sock = sock
        self.deadline = deadline
        self.ex = ex
        self.buf = b""
        self.eof = False

    def more(self):
        if self.eof:
            return False
        left = self.deadline - time.monotonic()
        if left <= 0:
            raise TimeoutError("no complete answer from the shim in %.0fs" % CLIENT_TIMEOUT)
        self.sock.settimeout(left)
        try:
            data = self.sock.recv(65536)
        except socket.timeout:
            raise TimeoutError("no complete answer from the shim in %.0fs" % CLIENT_TIMEOUT)
        except ConnectionResetError:
            self.ex.reset = True
            data = b""
        if not data:
            self.eof = True
            return False
        self.buf += data
        return True

    def until(self, marker):
        while marker not in self.buf:
            if not self.more():
                return None
        out, self.buf = self.buf.split(marker, 1)
        return out

    def exactly(self, n):
        while len(self.buf) < n:
            if not self.more():
                out, self.buf = self.buf, b""
                return out, False
        out, self.buf = self.buf[:n], self.buf[n:]
        return out, True


def read_answer(sock, ex, started, method="GET"):
    r = _Reader(sock, started + CLIENT_TIMEOUT, ex)
    raw = r.until(b"\r\n\r\n")
    if raw is None:
        ex.closed = True
        ex.body = r.buf
        return ex
    lines = raw.decode("latin-1").split("\r\n")
    ex.status = int(lines[0].split(" ")[1])
    for line in lines[1:]:
        name, _, value = line.partition(":")
        name = name.strip().lower()
        ex.headers[name] = ex.headers[name] + ", " + value.strip() if name in ex.headers else value.strip()
    if method == "HEAD" or ex.status in (204, 304):
        ex.complete = True
    elif "chunked" in ex.headers.get("transfer-encoding", "").lower():
        body = bytearray()
        while True:
            line = r.until(b"\r\n")
            if line is None:
                break
            try:
                size = int(line.split(b";", 1)[0].strip(), 16)
            except ValueError:
                break
            if size == 0:
                if r.until(b"\r\n") is not None:  # no trailers from the shim: the empty line
                    ex.complete = True
                break
            piece, ok = r.exactly(size + 2)
            body += piece[:size]
            if not ok:
                break
        ex.body = bytes(body)
    elif "content-length" in ex.headers:
        ex.body, ex.complete = r.exactly(int(ex.headers["content-length"]))
    else:
        while r.more():
            pass
        ex.body = r.buf
    ex.elapsed = time.monotonic() - started
    # Did the shim close the connection? A complete answer with keep-alive leaves it open: look briefly.
    if r.eof:
        ex.closed = True
    elif not ex.complete or "close" in ex.headers.get("connection", "").lower():
        sock.setblocking(False)
        try:
            readable, _, _ = select.select([sock], [], [], 2.0 if ex.complete else CLIENT_TIMEOUT)
            if readable:
                try:
                    ex.closed = sock.recv(1) == b""
                except ConnectionResetError:
                    ex.closed = ex.reset = True
        finally:
            sock.setblocking(True)
    return ex


def exchange(port, method, target, headers=(), body=None, host="127.0.0.1"):
    """One request on a new connection; returns an Exchange."""
    ex = Exchange()
    started = time.monotonic()
    sock = socket.create_connection((host, port), timeout=CLIENT_TIMEOUT)
    try:
        hs = [("Host", "127.0.0.1:%d" % port)] + list(headers)
        if body is not None:
            hs.append(("Content-Length", str(len(body))))
        head = "%s %s HTTP/1.1\r\n%s\r\n\r\n" % (method, target, "\r\n".join("%s: %s" % h for h in hs))
        sock.sendall(head.encode("latin-1") + (body or b""))
        read_answer(sock, ex, started, method)
        if ex.elapsed is None:
            ex.elapsed = time.monotonic() - started
        return ex
    finally:
        sock.close()


def upload(port, target, total, headers=(), chunk=64 * 1024):
    """POSTs `total` bytes with Content-Length, and stops sending as soon as the shim answers or stops
    reading for good (as a careful client does); returns an Exchange with `sent`."""
    ex = Exchange()
    started = time.monotonic()
    sock = socket.create_connection(("127.0.0.1", port), timeout=CLIENT_TIMEOUT)
    try:
        hs = [("Host", "127.0.0.1:%d" % port), ("Content-Type", "application/octet-stream"),
              ("Content-Length", str(total))] + list(headers)
        sock.sendall(("POST %s HTTP/1.1\r\n%s\r\n\r\n" % (target, "\r\n".join("%s: %s" % h for h in hs)))
                     .encode("latin-1"))
        block = os.urandom(chunk)
        sock.setblocking(False)
        deadline = started + CLIENT_TIMEOUT
        while ex.sent < total and time.monotonic() < deadline:
            readable, writable, _ = select.select([sock], [sock], [], 0.5)
            if readable:
                break  # the shim answers (or closes): stop sending
            if writable:
                try:
                    ex.sent += sock.send(block[: min(chunk, total - ex.sent)])
                except BlockingIOError:
                    pass
                except OSError as e:
                    if e.errno in (errno.EPIPE, errno.ECONNRESET):
                        break
                    raise
        sock.setblocking(True)
        read_answer(sock, ex, started, "POST")
        if ex.elapsed is None:
            ex.elapsed = time.monotonic() - started
        return ex
    finally:
        sock.close()


def open_fds(pid):
    """The process's open descriptors: {fd: what it points at}."""
    out = {}
    folder = "/proc/%d/fd" % pid
    for name in os.listdir(folder):
        try:
            out[int(name)] = os.readlink(os.path.join(folder, name))
        except OSError:
            pass  # closed meanwhile
    return out


class FaultTestCase(unittest.TestCase):
    """Each test starts a shim (short deadlines, no cache, no retries unless asked) in front of a
    FaultyUpstream, after a warm-up that pools nothing, and takes the shim's descriptors as the baseline."""

    shim_args = ()

    @classmethod
    def setUpClass(cls):
        from harness import BINARY
        if not os.access(BINARY, os.X_OK):
            raise unittest.SkipTest("no sigma-shim binary at %s (set SIGMA_SHIM_BINARY)" % BINARY)

    def setUp(self):
        self.tmp = tempfile.mkdtemp(prefix="sigma-shim-faults-")
        self.addCleanup(shutil.rmtree, self.tmp, True)
        self.keys = 0

    def make_upstream(self, **kw):
        up = fu.FaultyUpstream(**kw).start()
        self.addCleanup(up.stop)
        return up

    def start_shim(self, up=None, upstream_url=None, args=(), warm=True):
        """serve --upstream (up's URL or upstream_url), 2 s deadline, no retries, no cache, small bodies."""
        base = {"--upstream-timeout": "%dms" % int(DEADLINE * 1000), "--upstream-retries": "0",
                "--cache-bytes": "0", "--upstream-connections": "4",
                "--upstream-max-body-bytes": str(256 * 1024), "--request-timeout": "10s"}
        args = list(args)
        for flag, value in base.items():
            if flag not in args:
                args += [flag, value]
        args = ["--upstream", upstream_url or up.url()] + args
        shim = Shim(args, env=child_env(VT_API_KEY="fault-suite-server-key"))
        shim.start()
        self.addCleanup(shim.__exit__, None, None, None)
        self.shim = shim
        self.up = up
        if warm and up is not None:
            # Everything lazily made on a first request (TLS contexts, thread-local state) is made now; the
            # answers close their connections, so nothing is pooled in the baseline.
            up.script("ok", close=True)
            self.assertEqual(self.get(LEGACY).status, 200)
            self.assertEqual(self.get(PASSTHROUGH).status, 200)
            up.reset_script()
        self.assertEqual(self.get("/_shim/livez").status, 200)
        self.baseline = self.settled_fds(expect=None)
        if up is not None:
            up.clear()
        return shim

    # -- requests ---------------------------------------------------------------------------------

    def next_key(self):
        # Each request has a key of its own: an upstream 429 marks its key exhausted in the shim for a while.
        self.keys += 1
        return "fault-key-%d" % self.keys

    def get(self, target, key=None, headers=()):
        return exchange(self.shim.port, "GET", target, headers=[("x-apikey", key or self.next_key())]
                        + list(headers))

    def wait_logged(self, ex):
        """Waits for the shim's log line of the request `ex` (written once the shim is done with it, after the
        client may already have its answer)."""
        rid = ex.headers.get("x-request-id")
        self.assertTrue(rid, ex)
        self.assertIsNotNone(self.shim.wait_for_log(lambda d: d.get("request_id") == rid and "status" in d),
                             "no log line for request %s" % rid)

    def check_fault(self, fault, legacy, passthrough, **params):
        """Scripts `fault` (with `params`) on this test's upstream, then asks a legacy route and a pass-through
        route. Each expectation is (status, code, timing): a complete error of the shim's when code is set,
        else the upstream's status relayed and its body cut off; timing FAST or AT_DEADLINE. Returns the
        pass-through Exchange."""
        self.up.script(fault, **params)
        for target, route, (status, code, timing) in ((LEGACY, "reconstructed", legacy),
                                                      (PASSTHROUGH, "passthrough", passthrough)):
            ex = self.get(target)
            if code:
                self.assertShimError(ex, status, code)
            else:
                self.assertTruncated(ex, status)
            if timing == FAST_ANSWER:
                self.assertFast(ex)
            else:
                self.assertAtDeadline(ex)
        return ex

    # -- what the client got ----------------------------------------------------------------------

    def assertShimError(self, ex, status, code):
        """A complete VirusTotal-shaped error answer of the shim's own (X-Sigma-Shim: local, on either route),
        with the connection's fate consistent."""
        self.assertVtErrorAnswer(ex, status, code, "local")

    def assertVtErrorAnswer(self, ex, status, code, label):
        """A complete VirusTotal-shaped error answer whose X-Sigma-Shim is `label`: `local` when the shim made
        it, the route's own when it is the upstream's, relayed."""
        self.assertEqual(ex.status, status, ex)
        self.assertTrue(ex.complete, ex)
        doc = ex.json()
        self.assertEqual(doc.get("error", {}).get("code"), code, ex)
        self.assertIsInstance(doc["error"].get("message"), str)
        self.assertEqual(ex.headers.get("x-sigma-shim"), label, ex)
        self.assertTrue(ex.headers.get("x-request-id"), ex)

    def assertTruncated(self, ex, status):
        """The upstream's status line was relayed, then the body broke off: the client must see the
        connection end before the body's own framing does, never a well-formed answer."""
        self.assertEqual(ex.status, status, ex)
        self.assertEqual(ex.headers.get("x-sigma-shim"), "passthrough", ex)
        self.assertFalse(ex.complete, "a broken upstream body was relayed as a complete answer: %r" % ex)
        self.assertTrue(ex.closed, ex)

    def assertFast(self, ex):
        self.assertLess(ex.elapsed, FAST, "a broken connection must be answered at once: %r" % ex)

    def assertWithinDeadline(self, ex, deadlines=1):
        self.assertLess(ex.elapsed, deadlines * DEADLINE + MARGIN, "past the configured deadline: %r" % ex)

    def assertAtDeadline(self, ex, deadlines=1):
        self.assertGreater(ex.elapsed, DEADLINE * 0.9, "answered before the deadline: %r" % ex)
        self.assertWithinDeadline(ex, deadlines)

    # -- the shim afterwards ----------------------------------------------------------------------

    def settled_fds(self, expect, timeout=SETTLE):
        """Waits until the shim holds `expect` + the upstream connections still open descriptors (expect None:
        until the count is stable for a moment); returns the count without the upstream connections."""
        pid = self.shim.proc.pid
        deadline = time.monotonic() + timeout
        last = None
        stable_since = time.monotonic()
        while True:
            upstream_open = self.up.open_connections() if self.up is not None else 0
            fds = open_fds(pid)
            n = len(fds) - upstream_open
            if expect is None:
                if n != last:
                    last, stable_since = n, time.monotonic()
                elif time.monotonic() - stable_since > 0.3:
                    return n
            elif n == expect:
                return n
            if time.monotonic() > deadline:
                self.fail("the shim holds %d descriptors (%d upstream connections open), %s expected:\n%s"
                          % (len(fds), upstream_open, expect, "\n".join("%d -> %s" % kv for kv in
                                                                       sorted(fds.items()))))
            time.sleep(0.05)

    def assertHealthy(self):
        """The shim is alive, answers /_shim/livez and serves both routes normally again, and its descriptors
        come back to the baseline (plus the upstream connections it legitimately keeps pooled)."""
        self.assertTrue(self.shim.alive(), self.shim.stderr_text()[-3000:])
        self.assertEqual(self.get("/_shim/livez").status, 200)
        if self.up is not None:
            self.up.reset_script()
            ok = self.get(LEGACY)
            self.assertEqual(ok.status, 200, ok)
            self.assertEqual(ok.headers.get("x-sigma-shim"), "reconstructed")
            ok = self.get(PASSTHROUGH)
            self.assertEqual(ok.status, 200, ok)
            self.assertEqual(ok.body, fu.OTHER_OBJECT)
        self.settled_fds(expect=self.baseline)
        self.assertTrue(self.shim.alive())
