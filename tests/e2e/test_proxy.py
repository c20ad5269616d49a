"""Egress through a forward proxy (issue 11): a real tinyproxy (tinyproxy.py) in front of the HTTPS test upstream,
and two small doubles for proxies that misbehave in ways tinyproxy cannot be made to (never answering the
CONNECT, closing right after it, and recording the credentials it was sent)."""

import base64
import json
import re
import socket
import subprocess
import threading
import time
import unittest

import certs
import upstream as vt
from harness import API_KEY, BINARY, ShimTestCase, child_env, decoded, sha256_hex
from tinyproxy import TinyProxy, accepts, free_port

F568 = "f568a0362c238ebbadca53fd4307dac2fe209ddc6257fd300379ebc3c10261e9"  # the README's curl example
F912 = "f912398cb3542ab704fe917af4a60d4feee21ac577535b10453170f10c6fd6de"
README_PATH = "/api/v3/files/%s/sigma_analysis" % F568
PASSTHROUGH = "/api/v3/files/" + F568
ECHO_STATUS = 201  # what the upstream double answers on /api/v3/echo/...

PROXY_USER = "sigma-user"
PROXY_PASSWORD = "P-ss.w_rd9Zq"  # tinyproxy's BasicAuth takes [-A-Za-z0-9._] only
PROXY_PASSWORD_ENCODED = "P%2Dss%2Ew%5Frd9Zq"  # the same, every punctuation character percent-encoded

METRIC = re.compile(r'^sigma_shim_upstream_proxy_errors_total\{reason="([a-z_]+)"\}\s+(\S+)\s*$', re.M)


def proxy_errors(text):
    """{reason: count} of sigma_shim_upstream_proxy_errors_total in a /_shim/metrics text."""
    return {reason: float(value) for reason, value in METRIC.findall(text)}


def same_reason(got, want):
    """The reason as specified; an entry written with capitals may come back lower-cased."""
    if got == want:
        return True
    head, sep, entry = want.partition(" matches ")
    return bool(sep) and got == head + sep + entry.lower()


def listening(shim):
    line = shim.wait_for_log(lambda d: d.get("msg") == "listening", timeout=1)
    if line is None:
        raise AssertionError("no listening line:\n" + shim.stderr_text())
    return line


class FakeProxy:
    """A TCP listener on 127.0.0.1 that reads a request head and then, by `mode`: "silent" never answers (until
    close()), "close" closes the connection, "answer" sends `answer` and closes. `heads` keeps what it read."""

    def __init__(self, mode, answer=b""):
        self.mode = mode
        self.answer = answer
        self.heads = []
        self._lock = threading.Lock()
        self._stop = threading.Event()
        self._conns = []
        self._sock = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
        self._sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
        self._sock.bind(("127.0.0.1", 0))
        self._sock.listen(16)
        self._sock.settimeout(0.05)
        self.port = self._sock.getsockname()[1]
        self._threads = [threading.Thread(target=self._accept, name="fake-proxy", daemon=True)]
        self._threads[0].start()

    def url(self, userinfo=""):
        return "http://%s127.0.0.1:%d" % (userinfo + "@" if userinfo else "", self.port)

    def _accept(self):
        while not self._stop.is_set():
            try:
                conn, _ = self._sock.accept()
            except socket.timeout:
                continue
            except OSError:
                return
            with self._lock:
                self._conns.append(conn)
            t = threading.Thread(target=self._serve, args=(conn,), daemon=True)
            t.start()
            self._threads.append(t)

    def _serve(self, conn):
        conn.settimeout(30)
        data = b""
        try:
            while b"\r\n\r\n" not in data:
                chunk = conn.recv(4096)
                if not chunk:
                    return
                data += chunk
        except OSError:
            return
        with self._lock:
            self.heads.append(data.split(b"\r\n\r\n", 1)[0].decode("latin-1"))
        if self.mode == "silent":
            self._stop.wait(60)
            return
        try:
            if self.mode == "answer":
                conn.sendall(self.answer)
            conn.shutdown(socket.SHUT_RDWR)
        except OSError:
            pass
        conn.close()

    def received(self):
        with self._lock:
            return list(self.heads)

    def wait_for_heads(self, n, timeout=5.0):
        deadline = time.monotonic() + timeout
        while len(self.received()) < n and time.monotonic() < deadline:
            time.sleep(0.02)
        return self.received()

    def close(self):
        self._stop.set()
        self._sock.close()
        with self._lock:
            conns = list(self._conns)
        for c in conns:
            try:
                c.shutdown(socket.SHUT_RDWR)
            except OSError:
                pass
            c.close()
        for t in self._threads:
            t.join(5)


class ProxyTestCase(ShimTestCase):
    """An HTTPS upstream at https://localhost:PORT (test CA), and helpers to start tinyproxy and the shim."""

    def setUp(self):
        super().setUp()
        self.http_up = self.up
        self.up = self.make_upstream(tls=True)
        self.ca = certs.shared_certs().ca_cert

    def tinyproxy(self, **kw):
        proxy = TinyProxy(**kw)
        self.addCleanup(proxy.close)
        return proxy.start()

    def fake_proxy(self, mode, answer=b""):
        proxy = FakeProxy(mode, answer)
        self.addCleanup(proxy.close)
        return proxy

    def shim(self, *args, up=None, **variables):
        """The shim in front of `up` (the HTTPS upstream by default) with VT_API_KEY and these variables only."""
        up = up or self.up
        args = list(args)
        if up.tls and "--upstream-ca" not in args:
            args += ["--upstream-ca", self.ca]
        shim = self.start_shim(*args, up=up, env=child_env(VT_API_KEY=API_KEY, **variables))
        self.addCleanup(self.stop_clean, shim)  # runs before start_shim's own clean-up
        return shim

    def stop_clean(self, shim):
        """Stops the shim; it must exit 0 without a sanitizer report (under asan, proxy paths included)."""
        code = shim.stop()
        stderr = shim.stderr_text()
        self.assertEqual(code, 0, stderr[-3000:])
        self.assertNotIn("Sanitizer", stderr)

    def get(self, shim, path, conn=None):
        """(status, headers, decoded body); on `conn` (an open HTTPConnection) when given."""
        if conn is None:
            status, headers, body = shim.request("GET", path)
            return status, headers, decoded(headers, body)
        conn.request("GET", path)
        resp = conn.getresponse()
        body = resp.read()
        headers = {k.lower(): v for k, v in resp.getheaders()}
        return resp.status, headers, decoded(headers, body)

    def metrics_text(self, shim):
        status, headers, body = shim.request("GET", "/_shim/metrics")
        self.assertEqual(status, 200)
        return decoded(headers, body).decode()

    def proxy_errors(self, shim):
        return proxy_errors(self.metrics_text(shim))

    def direct_bodies(self, *paths, up=None):
        """What a shim without a proxy answers for these paths (the reference for answers through one)."""
        shim = self.shim("--upstream-proxy", "none", up=up)
        out = []
        for path in paths:
            status, _, body = self.get(shim, path)
            self.assertEqual(status, 200, body[:300])
            out.append(body)
        self.stop_clean(shim)
        return out

    def assertProxyError(self, status, body, want_status, want_code, *words):
        doc = self.assertVtError(status, body, want_status, want_code)
        message = doc["error"]["message"]
        for word in ("proxy",) + words:
            self.assertIn(word.lower(), message.lower(), "%r lacks %r" % (message, word))
        return message

    def proxy_warnings(self, shim, wait=True):
        """The `upstream proxy failing` lines, once the first is there (the log may trail the answer)."""
        if wait:
            shim.wait_for_log(lambda d: d.get("msg") == "upstream proxy failing")
        return [d for d in shim.log_lines() if d.get("msg") == "upstream proxy failing"]

    def proxy_recoveries(self, shim):
        return [d for d in shim.log_lines() if d.get("msg") == "upstream proxy working"]


class ThroughTinyproxy(ProxyTestCase):

    def test_readme_curl_example_with_only_https_proxy_set(self):
        """HTTPS_PROXY=http://127.0.0.1:PORT sigma-shim serve serves the README's example through the tunnel."""
        proxy = self.tinyproxy()
        want_legacy, want_file = self.direct_bodies(README_PATH, PASSTHROUGH)
        self.up.clear_requests()

        shim = self.shim(HTTPS_PROXY="http://127.0.0.1:%d" % proxy.port)
        line = listening(shim)
        self.assertEqual(line.get("upstream_proxy"), "http://127.0.0.1:%d" % proxy.port, line)
        self.assertEqual(line.get("upstream_proxy_reason"), "HTTPS_PROXY", line)

        status, headers, body = self.get(shim, README_PATH)
        self.assertEqual(status, 200, body[:300])
        self.assertEqual(headers.get("x-sigma-shim"), "reconstructed")
        self.assertEqual(body, want_legacy)
        status, headers, body = self.get(shim, PASSTHROUGH)
        self.assertEqual(status, 200, body[:300])
        self.assertEqual(body, want_file)

        # The proxy saw tunnels to the upstream and nothing else; the upstream saw the requests (through them).
        target = "localhost:%d" % self.up.port
        connects = proxy.connect_lines()
        self.assertTrue(connects, "tinyproxy logged no CONNECT:\n" + proxy.log_text())
        self.assertEqual(set(connects), {target}, proxy.log_text())
        self.assertEqual([m for m, _ in proxy.requests() if m != "CONNECT"], [])
        paths = [r.path for r in self.up.requests()]
        self.assertIn("/api/v3/files/" + F568, paths)
        self.assertIn("/api/v3/files/%s/behaviours" % F568, paths)
        self.assertEqual(self.http_up.requests(), [])
        self.assertFalse(any(self.proxy_errors(shim).values()), self.metrics_text(shim))

    def test_sequential_requests_share_one_tunnel(self):
        proxy = self.tinyproxy()
        shim = self.shim("--threads", "1", HTTPS_PROXY=proxy.url())
        conn = shim.connection()
        self.addCleanup(conn.close)
        n = 5
        for i in range(n):
            status, _, body = self.get(shim, "/api/v3/echo/seq-%d" % i, conn=conn)
            self.assertEqual(status, ECHO_STATUS, body[:300])
            self.assertEqual(json.loads(body)["target"], "/api/v3/echo/seq-%d" % i)
        self.assertEqual(self.up.count("/api/v3/echo/seq-"), n)
        self.assertEqual(proxy.connect_lines(), ["localhost:%d" % self.up.port], proxy.log_text())

    def test_large_pass_through_streams_through_the_tunnel(self):
        proxy = self.tinyproxy()
        shim = self.shim(HTTPS_PROXY=proxy.url())
        status, headers, body = self.get(shim, "/api/v3/big?mb=8")
        self.assertEqual(status, 200, body[:300])
        self.assertEqual(sha256_hex(body), vt.big_sha256(8))
        self.assertEqual(proxy.connect_lines(), ["localhost:%d" % self.up.port])

    def test_tunnels_count_against_upstream_connections(self):
        # Four requests at once that each hold the upstream for a while: with --upstream-connections 1 they take
        # turns on one tunnel.
        proxy = self.tinyproxy()
        self.up.set_delay(0.3, "/api/v3/echo/")
        shim = self.shim("--threads", "1", "--upstream-connections", "1", HTTPS_PROXY=proxy.url())
        results = [None] * 4

        def one(i):
            results[i] = shim.request("GET", "/api/v3/echo/together-%d" % i)[0]

        threads = [threading.Thread(target=one, args=(i,)) for i in range(len(results))]
        for t in threads:
            t.start()
        for t in threads:
            t.join(60)
        self.assertEqual(results, [ECHO_STATUS] * len(results))
        self.assertEqual(self.up.count("/api/v3/echo/together-"), len(results))
        self.assertEqual(len(proxy.connect_lines()), 1, proxy.log_text())

    def test_http_upstream_through_http_proxy_uses_absolute_form(self):
        proxy = self.tinyproxy()
        up = self.http_up
        want_legacy, want_file = self.direct_bodies(README_PATH, PASSTHROUGH, up=up)
        up.clear_requests()
        shim = self.shim(up=up, HTTP_PROXY=proxy.url())
        line = listening(shim)
        self.assertEqual(line.get("upstream_proxy"), proxy.url(), line)
        self.assertEqual(line.get("upstream_proxy_reason"), "HTTP_PROXY", line)

        status, _, body = self.get(shim, PASSTHROUGH)
        self.assertEqual(status, 200, body[:300])
        self.assertEqual(body, want_file)
        status, _, body = self.get(shim, README_PATH)
        self.assertEqual(status, 200, body[:300])
        self.assertEqual(body, want_legacy)

        origin = "http://127.0.0.1:%d" % up.port
        seen = proxy.requests()
        self.assertIn(("GET", origin + PASSTHROUGH), seen, proxy.log_text())
        self.assertIn(("GET", origin + "/api/v3/files/%s/behaviours" % F568),
                      [(m, t.split("?")[0]) for m, t in seen], proxy.log_text())
        self.assertEqual(proxy.connect_lines(), [])
        # Every request the upstream saw came through tinyproxy, which adds a Via header.
        reqs = up.requests()
        self.assertTrue(reqs)
        for r in reqs:
            self.assertIn("tinyproxy", r.header("via", ""), (r.target, r.headers))


class ChoosingTheProxy(ProxyTestCase):
    """Which proxy the `listening` line names, and why; then the choice honoured by real requests."""

    def start_line(self, args=(), upstream="https://vt.example.com", **variables):
        # A host that is never contacted: the line is all that is looked at.
        shim = self.start_shim("--upstream", upstream, *args, env=child_env(VT_API_KEY=API_KEY, **variables))
        self.addCleanup(self.stop_clean, shim)
        line = listening(shim)
        self.stop_clean(shim)
        return line.get("upstream_proxy"), line.get("upstream_proxy_reason")

    def test_precedence_and_reason(self):
        a, b, c = "http://a.proxy.test:3128", "http://b.proxy.test:3128", "http://c.proxy.test:3128"
        cases = [
            ({}, {}, ("none", "no proxy variable is set")),
            ({}, {"HTTPS_PROXY": a}, (a, "HTTPS_PROXY")),
            ({}, {"https_proxy": a}, (a, "https_proxy")),
            ({}, {"https_proxy": a, "HTTPS_PROXY": b}, (a, "https_proxy")),
            ({}, {"HTTP_PROXY": a, "http_proxy": a}, ("none", "no proxy variable is set")),
            ({}, {"HTTPS_PROXY": a, "SIGMA_SHIM_UPSTREAM_PROXY": b}, (b, "SIGMA_SHIM_UPSTREAM_PROXY")),
            ({"--upstream-proxy": c}, {"HTTPS_PROXY": a, "SIGMA_SHIM_UPSTREAM_PROXY": b}, (c, "--upstream-proxy")),
            ({"--upstream-proxy": "none"}, {"HTTPS_PROXY": a}, ("none", "--upstream-proxy none")),
            ({"--upstream-proxy": "none"}, {"SIGMA_SHIM_UPSTREAM_PROXY": a}, ("none", "--upstream-proxy none")),
            ({}, {"ALL_PROXY": a}, (a, "ALL_PROXY")),
            ({}, {"all_proxy": a, "ALL_PROXY": b}, (a, "all_proxy")),
            ({}, {"ALL_PROXY": a, "HTTPS_PROXY": b}, (b, "HTTPS_PROXY")),
            ({}, {"HTTPS_PROXY": "http://a.proxy.test"}, ("http://a.proxy.test:1080", "HTTPS_PROXY")),
            ({}, {"HTTPS_PROXY": "a.proxy.test:8080"}, ("http://a.proxy.test:8080", "HTTPS_PROXY")),
            ({}, {"HTTPS_PROXY": "http://someone@a.proxy.test:3128"},
             ("http://someone:***@a.proxy.test:3128", "HTTPS_PROXY")),
            ({}, {"HTTPS_PROXY": "http://someone:Hush-7x@a.proxy.test:3128"},
             ("http://someone:***@a.proxy.test:3128", "HTTPS_PROXY")),
        ]
        for flags, variables, want in cases:
            with self.subTest(flags=flags, variables=variables):
                args = [x for kv in flags.items() for x in kv]
                self.assertEqual(self.start_line(args, **variables), want)
        # http:// upstream: HTTP_PROXY, not HTTPS_PROXY.
        for variables, want in (({"HTTPS_PROXY": a}, ("none", "no proxy variable is set")),
                                ({"HTTP_PROXY": a, "HTTPS_PROXY": b}, (a, "HTTP_PROXY")),
                                ({"http_proxy": a, "HTTP_PROXY": b}, (a, "http_proxy"))):
            with self.subTest(upstream="http", variables=variables):
                self.assertEqual(self.start_line(upstream="http://vt.example.com", **variables), want)
        # An in-process upstream is never proxied.
        for upstream in ("demo", "dir:" + self.tmp):
            with self.subTest(upstream=upstream):
                self.assertEqual(self.start_line(upstream=upstream, HTTPS_PROXY=a, HTTP_PROXY=a),
                                 ("none", "the upstream is in-process"))

    def test_no_proxy_forms(self):
        a = "http://a.proxy.test:3128"
        matches = [
            ("vt.example.com", "NO_PROXY", "vt.example.com"),
            ("VT.Example.COM", "NO_PROXY", "VT.Example.COM"),
            (".example.com", "NO_PROXY", ".example.com"),
            ("example.com", "NO_PROXY", "example.com"),
            ("other.test, example.com ", "NO_PROXY", "example.com"),
            ("*", "NO_PROXY", "*"),
            ("other.test example.com", "NO_PROXY", "example.com"),
            ("vt.example.com:443", "NO_PROXY", "vt.example.com:443"),
        ]
        for value, variable, entry in matches:
            with self.subTest(NO_PROXY=value):
                proxy, reason = self.start_line(HTTPS_PROXY=a, NO_PROXY=value)
                self.assertEqual(proxy, "none", reason)
                want = "%s matches %s" % (variable, entry)
                self.assertTrue(same_reason(reason, want), "%r, not %r" % (reason, want))
        with self.subTest(no_proxy="lowercase wins"):
            self.assertEqual(self.start_line(HTTPS_PROXY=a, no_proxy="example.com", NO_PROXY="nothing.test"),
                             ("none", "no_proxy matches example.com"))
        with self.subTest(flag="NO_PROXY applies to --upstream-proxy too"):
            self.assertEqual(self.start_line(["--upstream-proxy", a], NO_PROXY="vt.example.com"),
                             ("none", "NO_PROXY matches vt.example.com"))
        for value in ("ample.com", "xample.com", "example.co", "vt.example.com.evil", "other.test,.test", "",
                      "vt.example.com:8443"):
            with self.subTest(NO_PROXY=value, matches=False):
                self.assertEqual(self.start_line(HTTPS_PROXY=a, NO_PROXY=value), (a, "HTTPS_PROXY"))
        for value, entry in (("127.0.0.1", "127.0.0.1"), ("10.0.0.1,127.0.0.0/8", "127.0.0.0/8")):
            with self.subTest(NO_PROXY=value, upstream="IP"):
                self.assertEqual(self.start_line(upstream="https://127.0.0.1:8443", HTTPS_PROXY=a, NO_PROXY=value),
                                 ("none", "NO_PROXY matches " + entry))
        for value in ("127.0.0.2", "10.0.0.0/8"):
            with self.subTest(NO_PROXY=value, upstream="IP", matches=False):
                self.assertEqual(self.start_line(upstream="https://127.0.0.1:8443", HTTPS_PROXY=a, NO_PROXY=value),
                                 (a, "HTTPS_PROXY"))

    def test_no_proxy_goes_direct_for_real(self):
        proxy = self.tinyproxy()
        cases = [  # (upstream host, variables, the reason)
            ("localhost", {"NO_PROXY": "localhost"}, "NO_PROXY matches localhost"),
            ("localhost", {"NO_PROXY": ".localhost"}, "NO_PROXY matches .localhost"),
            ("localhost", {"no_proxy": "LOCALHOST"}, "no_proxy matches LOCALHOST"),
            ("localhost", {"NO_PROXY": "*"}, "NO_PROXY matches *"),
            ("127.0.0.1", {"NO_PROXY": "127.0.0.1"}, "NO_PROXY matches 127.0.0.1"),
        ]
        for host, variables, reason in cases:
            with self.subTest(host=host, **variables):
                before = len(proxy.connect_lines())
                self.up.clear_requests()
                shim = self.shim("--upstream", self.up.url(host), HTTPS_PROXY=proxy.url(), **variables)
                line = listening(shim)
                self.assertEqual(line.get("upstream_proxy"), "none", line)
                self.assertTrue(same_reason(line.get("upstream_proxy_reason"), reason), line)
                status, _, body = self.get(shim, "/api/v3/echo/direct")
                self.assertEqual(status, ECHO_STATUS, body[:300])
                self.assertEqual(self.up.count("/api/v3/echo/direct"), 1)
                self.stop_clean(shim)
                self.assertEqual(len(proxy.connect_lines()), before, proxy.log_text())
        with self.subTest(NO_PROXY="not matching"):
            shim = self.shim(HTTPS_PROXY=proxy.url(), NO_PROXY="example.com,127.0.0.2")
            self.assertEqual(listening(shim).get("upstream_proxy_reason"), "HTTPS_PROXY")
            status, _, body = self.get(shim, "/api/v3/echo/proxied")
            self.assertEqual(status, ECHO_STATUS, body[:300])
            self.assertIn("localhost:%d" % self.up.port, proxy.connect_lines())

    def test_flag_and_variable_win_over_https_proxy_for_real(self):
        proxy = self.tinyproxy()
        dead = "http://127.0.0.1:%d" % free_port()  # nothing listens there
        for how, args, variables in (
                ("--upstream-proxy", ["--upstream-proxy", proxy.url()], {}),
                ("SIGMA_SHIM_UPSTREAM_PROXY", [], {"SIGMA_SHIM_UPSTREAM_PROXY": proxy.url()})):
            with self.subTest(how=how):
                before = len(proxy.connect_lines())
                shim = self.shim(*args, HTTPS_PROXY=dead, **variables)
                line = listening(shim)
                self.assertEqual((line.get("upstream_proxy"), line.get("upstream_proxy_reason")),
                                 (proxy.url(), how))
                status, _, body = self.get(shim, "/api/v3/echo/" + how)
                self.assertEqual(status, ECHO_STATUS, body[:300])
                self.assertEqual(len(proxy.connect_lines()), before + 1, proxy.log_text())
                self.stop_clean(shim)
        with self.subTest(how="--upstream-proxy none"):
            before = len(proxy.connect_lines())
            shim = self.shim("--upstream-proxy", "none", HTTPS_PROXY=proxy.url())
            line = listening(shim)
            self.assertEqual((line.get("upstream_proxy"), line.get("upstream_proxy_reason")),
                             ("none", "--upstream-proxy none"))
            status, _, body = self.get(shim, "/api/v3/echo/none")
            self.assertEqual(status, ECHO_STATUS, body[:300])
            self.assertEqual(self.up.count("/api/v3/echo/none"), 1)
            self.assertEqual(len(proxy.connect_lines()), before, proxy.log_text())


class ProxyCredentials(ProxyTestCase):

    def assertNoPassword(self, shim, *texts, password=PROXY_PASSWORD):
        forms = {password, PROXY_PASSWORD_ENCODED} if password == PROXY_PASSWORD else {password}
        sources = [("stderr", shim.stderr_text()), ("stdout", shim.stdout_text()),
                   ("metrics", self.metrics_text(shim))] + [("body", t) for t in texts]
        for name, text in sources:
            for form in forms:
                self.assertNotIn(form, text, "the proxy password is in the shim's %s" % name)

    def test_credentials_in_the_url_percent_decoded(self):
        proxy = self.tinyproxy(basic_auth=(PROXY_USER, PROXY_PASSWORD))
        shim = self.shim(HTTPS_PROXY=proxy.url(PROXY_USER, PROXY_PASSWORD_ENCODED))
        self.assertEqual(listening(shim).get("upstream_proxy"), proxy.url(PROXY_USER, "***"))
        status, _, body = self.get(shim, README_PATH)
        self.assertEqual(status, 200, body[:300])
        status, _, body = self.get(shim, PASSTHROUGH)
        self.assertEqual(status, 200, body[:300])
        self.assertEqual(set(proxy.connect_lines()), {"localhost:%d" % self.up.port})
        # The credentials are for the proxy: nothing of them reaches the upstream through the tunnel.
        self.assertTrue(self.up.requests())
        for r in self.up.requests():
            self.assertIsNone(r.header("proxy-authorization"), r.headers)
        self.assertNoPassword(shim)

    def test_password_from_its_variable_wins_over_the_url(self):
        proxy = self.tinyproxy(basic_auth=(PROXY_USER, PROXY_PASSWORD))
        for url in (proxy.url(PROXY_USER), proxy.url(PROXY_USER, "not-the-password")):
            with self.subTest(url=url):
                shim = self.shim(SIGMA_SHIM_UPSTREAM_PROXY=url, SIGMA_SHIM_UPSTREAM_PROXY_PASSWORD=PROXY_PASSWORD)
                self.assertEqual(listening(shim).get("upstream_proxy"), proxy.url(PROXY_USER, "***"))
                status, _, body = self.get(shim, PASSTHROUGH)
                self.assertEqual(status, 200, body[:300])
                self.assertNoPassword(shim)
                self.assertNotIn("not-the-password", shim.stderr_text())
                self.stop_clean(shim)

    def test_percent_encoded_at_sign_is_sent_decoded(self):
        # tinyproxy cannot be given a password with '@': a double records the Proxy-Authorization header.
        fake = self.fake_proxy("answer", b"HTTP/1.1 403 Forbidden\r\nContent-Length: 0\r\nConnection: close\r\n\r\n")
        shim = self.shim("--upstream-retries", "0", HTTPS_PROXY=fake.url("user:p%40ss"))
        status, _, body = self.get(shim, "/api/v3/echo/at")
        self.assertProxyError(status, body, 503, "TransientError", "refused", "403")
        heads = fake.wait_for_heads(1)
        self.assertTrue(heads)
        lines = heads[0].split("\r\n")
        self.assertEqual(lines[0], "CONNECT localhost:%d HTTP/1.1" % self.up.port)
        auth = [ln.split(":", 1)[1].strip() for ln in lines[1:] if ln.lower().startswith("proxy-authorization:")]
        self.assertEqual(auth, ["Basic " + base64.b64encode(b"user:p@ss").decode()])
        self.assertNotIn("p@ss", shim.stderr_text())
        self.assertNotIn("p%40ss", shim.stderr_text())

    def test_absent_credentials_get_407(self):
        proxy = self.tinyproxy(basic_auth=(PROXY_USER, PROXY_PASSWORD))
        shim = self.shim("--upstream-retries", "0", HTTPS_PROXY=proxy.url())
        for path in (PASSTHROUGH, README_PATH):
            status, _, body = self.get(shim, path)
            self.assertProxyError(status, body, 503, "TransientError", "407", "credentials")
        self.assertGreaterEqual(self.proxy_errors(shim).get("auth_required", 0), 2)
        self.assertIn("localhost:%d" % self.up.port, proxy.connect_lines())
        self.assertEqual(self.up.requests(), [])

    def test_wrong_credentials_fail_without_showing_the_password(self):
        # tinyproxy answers a wrong password with 401 (a missing one with 407): the message carries that status,
        # and to a CONNECT either can only be the proxy's, so both count as auth_required.
        proxy = self.tinyproxy(basic_auth=(PROXY_USER, PROXY_PASSWORD))
        wrong = "Wrong-Pass.42"
        shim = self.shim("--upstream-retries", "0", HTTPS_PROXY=proxy.url(PROXY_USER, wrong))
        bodies = []
        for path in (PASSTHROUGH, README_PATH):
            status, _, body = self.get(shim, path)
            self.assertProxyError(status, body, 503, "TransientError", "401", "credentials")
            bodies.append(body.decode())
        errors = self.proxy_errors(shim)
        self.assertGreaterEqual(errors.get("auth_required", 0), 2, errors)
        self.assertEqual(errors.get("refused", 0), 0, errors)
        self.assertEqual(self.up.requests(), [])
        self.assertTrue(proxy.connect_lines())
        self.assertNoPassword(shim, *bodies, password=wrong)
        warn = self.proxy_warnings(shim)
        self.assertEqual(len(warn), 1, shim.stderr_text())
        self.assertEqual(warn[0].get("proxy"), proxy.url(PROXY_USER, "***"))
        self.assertEqual(warn[0].get("reason"), "auth_required")

    def test_help_does_not_show_the_password(self):
        url = "http://%s:%s@127.0.0.1:3128" % (PROXY_USER, PROXY_PASSWORD_ENCODED)
        env = child_env(SIGMA_SHIM_UPSTREAM_PROXY=url, HTTPS_PROXY=url, HTTP_PROXY=url,
                        SIGMA_SHIM_UPSTREAM_PROXY_PASSWORD=PROXY_PASSWORD)
        proc = subprocess.run([BINARY, "serve", "--help"], env=env, stdout=subprocess.PIPE, stderr=subprocess.PIPE,
                              timeout=30)
        out = (proc.stdout + proc.stderr).decode(errors="replace")
        self.assertEqual(proc.returncode, 0, out)
        self.assertIn("--upstream-proxy", out)
        self.assertIn("SIGMA_SHIM_UPSTREAM_PROXY", out)
        for form in (PROXY_PASSWORD, PROXY_PASSWORD_ENCODED):
            self.assertNotIn(form, out)


class ProxyFailures(ProxyTestCase):

    def test_tunnel_refused_by_connect_port(self):
        other = 443 if self.up.port != 443 else 8443
        proxy = self.tinyproxy(connect_ports=[other])
        shim = self.shim("--upstream-retries", "0", HTTPS_PROXY=proxy.url())
        status, _, body = self.get(shim, PASSTHROUGH)
        self.assertProxyError(status, body, 503, "TransientError", "refused", "403")
        self.assertEqual(self.proxy_errors(shim).get("refused"), 1.0)
        status, _, body = self.get(shim, README_PATH)
        self.assertProxyError(status, body, 503, "TransientError", "refused", "403")
        self.assertGreaterEqual(self.proxy_errors(shim).get("refused"), 2.0)
        self.assertIn("localhost:%d" % self.up.port, proxy.connect_lines())
        self.assertEqual(self.up.requests(), [])

    def test_proxy_stopped_mid_run_then_back(self):
        proxy = self.tinyproxy()
        shim = self.shim(HTTPS_PROXY=proxy.url())
        status, _, body = self.get(shim, "/api/v3/echo/before")
        self.assertEqual(status, ECHO_STATUS, body[:300])
        self.assertEqual(self.proxy_warnings(shim, wait=False), [])

        pid = proxy.pid
        proxy.stop()
        self.assertFalse(proxy.alive())
        self.assertFalse(accepts(proxy.port), "something still listens on the stopped proxy's port")
        paths = ["/api/v3/echo/down-%d" % i for i in range(3)] + ["/api/v3/sigma_analyses/" + F912]
        for path in paths:
            with self.subTest(path=path):
                status, _, body = self.get(shim, path)
                self.assertProxyError(status, body, 503, "TransientError", "cannot be reached")
        self.assertEqual(self.up.count("/api/v3/echo/down-"), 0)
        self.assertGreaterEqual(self.proxy_errors(shim).get("unreachable", 0), len(paths))
        warn = self.proxy_warnings(shim)
        self.assertEqual(len(warn), 1, shim.stderr_text())
        self.assertEqual(warn[0].get("level"), "warn", warn[0])
        self.assertEqual(warn[0].get("proxy"), proxy.url())
        self.assertEqual(warn[0].get("reason"), "unreachable")
        self.assertTrue(warn[0].get("detail"))
        self.assertEqual(self.proxy_recoveries(shim), [])

        port = proxy.port
        proxy.start()
        self.assertEqual(proxy.port, port)
        self.assertNotEqual(proxy.pid, pid)
        for i in range(2):
            status, _, body = self.get(shim, "/api/v3/echo/after-%d" % i)
            self.assertEqual(status, ECHO_STATUS, body[:300])
        self.assertIsNotNone(shim.wait_for_log(lambda d: d.get("msg") == "upstream proxy working"))
        self.assertEqual(len(self.proxy_recoveries(shim)), 1, shim.stderr_text())
        self.assertEqual(self.proxy_recoveries(shim)[0].get("level"), "info")
        self.assertEqual(len(self.proxy_warnings(shim)), 1, shim.stderr_text())
        self.assertEqual(self.up.count("/api/v3/echo/after-"), 2)

    def test_proxy_that_never_answers_the_connect(self):
        fake = self.fake_proxy("silent")
        shim = self.shim("--upstream-timeout", "1s", "--upstream-retries", "0", HTTPS_PROXY=fake.url())
        started = time.monotonic()
        status, _, body = self.get(shim, "/api/v3/echo/slow")
        took = time.monotonic() - started
        self.assertProxyError(status, body, 504, "DeadlineExceededError")
        self.assertLess(took, 10.0)
        self.assertEqual(self.proxy_errors(shim).get("timeout"), 1.0)
        heads = fake.wait_for_heads(1)
        self.assertEqual(heads[0].split("\r\n")[0], "CONNECT localhost:%d HTTP/1.1" % self.up.port)
        self.assertEqual(self.up.requests(), [])

    def test_proxy_that_closes_after_the_connect(self):
        fake = self.fake_proxy("close")
        shim = self.shim("--upstream-retries", "0", HTTPS_PROXY=fake.url())
        status, _, body = self.get(shim, "/api/v3/echo/closed")
        self.assertProxyError(status, body, 503, "TransientError", "closed")
        self.assertEqual(self.proxy_errors(shim).get("closed"), 1.0)
        self.assertEqual(len(fake.wait_for_heads(1)), 1)
        self.assertEqual(self.up.requests(), [])

    def test_unreachable_proxy_from_the_start(self):
        shim = self.shim("--upstream-retries", "0", HTTPS_PROXY="http://127.0.0.1:%d" % free_port())
        status, _, body = self.get(shim, "/api/v3/echo/unreachable")
        self.assertProxyError(status, body, 503, "TransientError", "cannot be reached")
        self.assertEqual(self.proxy_errors(shim).get("unreachable"), 1.0)


class BadProxyUrl(unittest.TestCase):

    def test_bad_proxy_url_exits_2_without_echoing_it(self):
        cases = [
            (["--upstream-proxy", "ftp://x"], {}, "--upstream-proxy"),
            (["--upstream-proxy", "http://user:secret@host:notaport"], {}, "--upstream-proxy"),
            ([], {"SIGMA_SHIM_UPSTREAM_PROXY": "http://user:secret@host:notaport"}, "SIGMA_SHIM_UPSTREAM_PROXY"),
            ([], {"HTTPS_PROXY": "http://user:secret@host:notaport"}, "HTTPS_PROXY"),
            ([], {"HTTPS_PROXY": "socks5://user:secret@host:1080"}, "HTTPS_PROXY"),
        ]
        for args, variables, name in cases:
            with self.subTest(args=args, variables=variables):
                argv = [BINARY, "serve", "--listen", "127.0.0.1:0", "--upstream", "https://vt.example.com"] + args
                proc = subprocess.Popen(argv, env=child_env(VT_API_KEY=API_KEY, **variables),
                                        stdin=subprocess.DEVNULL, stdout=subprocess.PIPE, stderr=subprocess.PIPE)
                try:
                    out, err = proc.communicate(timeout=15)
                except subprocess.TimeoutExpired:
                    proc.kill()
                    out, err = proc.communicate()
                    self.fail("sigma-shim serve accepted the proxy URL and ran:\n" + err.decode(errors="replace"))
                text = (out + err).decode(errors="replace")
                self.assertEqual(proc.returncode, 2, text)
                self.assertIn(name, text)
                self.assertNotIn("secret", text)
                self.assertEqual(len(err.decode().strip().splitlines()), 1, text)


if __name__ == "__main__":
    unittest.main()
