"""API keys, TLS verification toward the upstream, and what the shim says when the upstream misbehaves."""

import hashlib
import json
import os
import time
import unittest

import certs
import upstream as vt
from harness import API_KEY, ShimTestCase, child_env, decoded
from route_table import paths

F912 = "f912398cb3542ab704fe917af4a60d4feee21ac577535b10453170f10c6fd6de"
F568 = "f568a0362c238ebbadca53fd4307dac2fe209ddc6257fd300379ebc3c10261e9"
LEGACY = "/api/v3/sigma_analyses/" + F912
PASSTHROUGH = "/api/v3/echo/key-check"


def legacy_paths(only=None):
    """The legacy routes (those of the forms in `only`) for F912, in the route table's order."""
    return paths(F912, only)


CLIENT_KEY = "client-Key-abc123-DoNotLog"


def key_fingerprint(key):
    return hashlib.sha256(key.encode()).hexdigest()[:12]


class ApiKeys(ShimTestCase):

    def test_401_without_any_key(self):
        shim = self.start_shim(key=None)
        for path in legacy_paths() + [PASSTHROUGH, "/api/v3/files/" + F568]:
            with self.subTest(path=path):
                status, headers, body = shim.request("GET", path)
                self.assertVtError(status, decoded(headers, body), 401, "AuthenticationRequiredError")
        self.assertEqual(self.up.requests(), [], "a request without a key went upstream")

    def test_env_key_is_used_when_client_sends_none(self):
        shim = self.start_shim(key=API_KEY)
        status, headers, body = shim.request("GET", LEGACY)
        self.assertEqual(status, 200, body)
        status, headers, body = shim.request("GET", PASSTHROUGH)
        self.assertEqual(status, 201, body)
        reqs = self.up.requests()
        self.assertGreaterEqual(len(reqs), 3)
        for r in reqs:
            self.assertEqual(r.header("x-apikey"), API_KEY, r)

    def test_client_key_wins_over_env_key(self):
        shim = self.start_shim(key=API_KEY)
        status, headers, body = shim.request("GET", LEGACY, headers={"x-apikey": CLIENT_KEY})
        self.assertEqual(status, 200, body)
        for r in self.up.requests():
            self.assertEqual(r.header("x-apikey"), CLIENT_KEY, r)

    def test_api_key_env_names_the_variable(self):
        env = child_env(E2E_OTHER_KEY_VAR=API_KEY, VT_API_KEY="not-this-one")
        shim = self.start_shim("--api-key-env", "E2E_OTHER_KEY_VAR", env=env)
        status, headers, body = shim.request("GET", LEGACY)
        self.assertEqual(status, 200, body)
        for r in self.up.requests():
            self.assertEqual(r.header("x-apikey"), API_KEY)

    def test_key_never_appears_in_logs_metrics_or_errors(self):
        # No cache: each request must reach the upstream (and its errors) for the key to have a chance to leak.
        shim = self.start_shim("--log-level", "debug", "--cache-bytes", "0", key=API_KEY)
        self.up.set_canned("/api/v3/files/" + "ab" * 32, 503, "<html>down</html>", content_type="text/html")
        bodies = []
        unknown = hashlib.sha256(b"unknown").hexdigest()
        for key in (None, CLIENT_KEY):
            headers = {"x-apikey": key} if key else {}
            for path in legacy_paths() + [
                    PASSTHROUGH, "/api/v3/sigma_analyses/" + unknown, "/api/v3/sigma_analyses/nothex",
                    "/api/v3/sigma_analyses/" + "ab" * 32, "/nowhere", "/api/v3/big?mb=1"]:
                status, h, body = shim.request("GET", path, headers=headers)
                bodies.append((path, decoded(h, body)))
        # An upstream that rejects the key: its error is relayed, the key still not echoed.
        self.up.required_key = "only-this-key"
        status, h, body = shim.request("GET", LEGACY, headers={"x-apikey": CLIENT_KEY})
        self.assertEqual(status, 401, body)
        bodies.append((LEGACY, decoded(h, body)))
        status, h, metrics = shim.request("GET", "/_shim/metrics")
        self.assertEqual(status, 200)
        shim.stop()
        for key in (API_KEY, CLIENT_KEY):
            self.assertNotIn(key, shim.stderr_text())
            self.assertNotIn(key, shim.stdout_text())
            self.assertNotIn(key.encode(), metrics)
            for path, body in bodies:
                if path.startswith("/api/v3/echo"):
                    continue  # the echo double reflects the request headers it received by design
                self.assertNotIn(key.encode(), body, path)
        keys = {d.get("key") for d in shim.request_log_lines()}
        self.assertIn(key_fingerprint(API_KEY), keys)
        self.assertIn(key_fingerprint(CLIENT_KEY), keys)


    def test_key_never_appears_in_recordings_or_comparisons(self):
        record = os.path.join(self.tmp, "record")
        shim = self.start_shim("--record", record, "--allow-mode-header", "--log-level", "debug", key=API_KEY)
        self.up.set_canned("/api/v3/files/%s/sigma_analysis" % F912, 200, {"data": {"id": F912}})
        for key in (None, CLIENT_KEY):
            headers = {"x-apikey": key} if key else {}
            for mode in ("reconstruct", "shadow", "compare"):
                headers["X-Sigma-Shim-Mode"] = mode
                for path in legacy_paths(("object", "relationship", "descriptor")):
                    status, _, _ = shim.request("GET", path, headers=headers)
                    # Shadow serves the double's own legacy answer: 404 but for the one canned route.
                    self.assertIn(status, (200, 404), (mode, path))
        deadline = time.monotonic() + 20
        while True:
            status, h, comparisons = shim.request("GET", "/_shim/comparisons")
            comparisons = decoded(h, comparisons)
            if json.loads(comparisons)["summary"]["total"] >= 12 or time.monotonic() > deadline:
                break
            time.sleep(0.05)
        self.assertGreaterEqual(json.loads(comparisons)["summary"]["different"], 1, "nothing kept to search")
        status, h, page = shim.request("GET", "/_shim/comparisons.html")
        shim.stop()
        written = []
        for folder, _, names in os.walk(record):
            for name in names:
                self.assertNotIn(API_KEY, name)
                self.assertNotIn(CLIENT_KEY, name)
                with open(os.path.join(folder, name), "rb") as f:
                    written.append(f.read())
        self.assertTrue(written, "nothing was recorded")
        for key in (API_KEY, CLIENT_KEY):
            for text in [comparisons, decoded(h, page), shim.stderr_text().encode()] + written:
                self.assertNotIn(key.encode(), text)

    def test_a_server_side_key_is_not_offered_beyond_loopback_unless_asked(self):
        from harness import BINARY
        import subprocess
        r = subprocess.run([BINARY, "serve", "--listen", "0.0.0.0:0", "--upstream", self.up.url("127.0.0.1")],
                           env=child_env(VT_API_KEY=API_KEY), stdout=subprocess.PIPE, stderr=subprocess.PIPE,
                           timeout=30)
        self.assertEqual(r.returncode, 2, r.stderr)
        self.assertIn(b"--allow-remote-clients", r.stderr)
        self.assertNotIn(API_KEY.encode(), r.stderr)
        # Asked for, or without a server-side key (each client brings its own), it starts.
        shim = self.start_shim("--listen", "0.0.0.0:0", "--allow-remote-clients")
        self.assertEqual(shim.request("GET", "/_shim/livez")[0], 200)
        shim = self.start_shim("--listen", "0.0.0.0:0", key=None)
        self.assertEqual(shim.request("GET", "/_shim/livez")[0], 200)


class NotAnOpenProxy(ShimTestCase):
    """Absolute-form targets, CONNECT and paths outside /api/v3/ and /_shim/ are answered 400 locally."""

    def raw(self, shim, request_bytes):
        import socket
        with socket.create_connection((shim.host, shim.port), timeout=10) as s:
            s.sendall(request_bytes)
            data = b""
            while b"\r\n\r\n" not in data:
                piece = s.recv(65536)
                if not piece:
                    break
                data += piece
            head, _, rest = data.partition(b"\r\n\r\n")
            lines = head.decode("latin-1").split("\r\n")
            status = int(lines[0].split()[1])
            headers = dict((k.strip().lower(), v.strip()) for k, _, v in (l.partition(":") for l in lines[1:]))
            length = int(headers.get("content-length", "0"))
            while len(rest) < length:
                piece = s.recv(65536)
                if not piece:
                    break
                rest += piece
            return status, headers, rest[:length]

    def test_absolute_form_connect_and_other_paths(self):
        shim = self.start_shim()
        host = "127.0.0.1:%d" % self.up.port
        cases = [
            b"GET http://%s/api/v3/files/%s HTTP/1.1\r\nHost: %s\r\n\r\n" % (host.encode(), F568.encode(),
                                                                             host.encode()),
            b"CONNECT %s HTTP/1.1\r\nHost: %s\r\n\r\n" % (host.encode(), host.encode()),
            b"GET /api/v2/file/report HTTP/1.1\r\nHost: x\r\n\r\n",
            b"GET /etc/passwd HTTP/1.1\r\nHost: x\r\n\r\n",
            b"GET /api/v3/../../etc/passwd HTTP/1.1\r\nHost: x\r\n\r\n",
        ]
        for req in cases:
            with self.subTest(request=req.split(b"\r\n")[0]):
                status, headers, body = self.raw(shim, req)
                self.assertEqual(status, 400, body)
                doc = json.loads(body)
                self.assertIsInstance(doc["error"]["code"], str)
                self.assertIsInstance(doc["error"]["message"], str)
        self.assertEqual(self.up.requests(), [])


class UpstreamTls(ShimTestCase):

    def tls_upstream(self, cert, key):
        return self.make_upstream(tls=True, cert=cert, key=key)

    def test_wrong_host_certificate_is_refused(self):
        c = certs.shared_certs()
        up = self.tls_upstream(c.wrong_cert, c.wrong_key)
        shim = self.start_shim("--upstream-ca", c.ca_cert, "--upstream-timeout", "5s", up=up)
        for path in (LEGACY, PASSTHROUGH):
            with self.subTest(path=path):
                status, headers, body = shim.request("GET", path)
                self.assertVtError(status, decoded(headers, body), 503, "TransientError")
        deadline = time.monotonic() + 2
        while not up.tls_errors() and time.monotonic() < deadline:
            time.sleep(0.05)
        self.assertTrue(up.tls_errors(), "the shim never tried a TLS handshake with the upstream")
        self.assertEqual(up.requests(), [], "the upstream received an HTTP request over an unverified TLS link")

    def test_unknown_ca_is_refused(self):
        c = certs.shared_certs()
        up = self.tls_upstream(c.localhost_cert, c.localhost_key)
        shim = self.start_shim("--upstream-timeout", "5s", up=up)  # no --upstream-ca
        status, headers, body = shim.request("GET", LEGACY)
        self.assertVtError(status, decoded(headers, body), 503, "TransientError")
        self.assertEqual(up.requests(), [])

    def test_verification_cannot_be_switched_off(self):
        # No flag offers it...
        from harness import BINARY
        import re
        import subprocess
        usage = subprocess.run([BINARY, "serve", "--help"], stdout=subprocess.PIPE, timeout=30).stdout.decode()
        flags = re.findall(r"--([a-z-]+)", usage)
        self.assertIn("upstream-ca", flags)
        for flag in flags:
            self.assertNotRegex(flag, r"insecure|verify|skip|no-tls|trust-all", flag)
        # ...and no variable a user might try turns it off: an upstream with a certificate from an unknown CA is
        # still refused, and never receives a request.
        c = certs.shared_certs()
        up = self.tls_upstream(c.localhost_cert, c.localhost_key)
        env = child_env(VT_API_KEY=API_KEY, SIGMA_SHIM_INSECURE="1", SIGMA_SHIM_TLS_VERIFY="0",
                        SIGMA_SHIM_UPSTREAM_VERIFY="off", SIGMA_SHIM_VERIFY="0", SSL_NO_VERIFY="1",
                        PYTHONHTTPSVERIFY="0", CURL_INSECURE="1", NODE_TLS_REJECT_UNAUTHORIZED="0",
                        GIT_SSL_NO_VERIFY="1")
        shim = self.start_shim("--upstream-timeout", "5s", up=up, env=env)
        for path in (LEGACY, PASSTHROUGH):
            status, headers, body = shim.request("GET", path)
            self.assertVtError(status, decoded(headers, body), 503, "TransientError")
        self.assertEqual(up.requests(), [])

    def test_right_certificate_works(self):
        c = certs.shared_certs()
        up = self.tls_upstream(c.localhost_cert, c.localhost_key)
        shim = self.start_shim("--upstream-ca", c.ca_cert, up=up)
        status, headers, body = shim.request("GET", LEGACY)
        self.assertEqual(status, 200, body)
        status, headers, body = shim.request("GET", PASSTHROUGH)
        self.assertEqual(status, 201, body)


class UpstreamFailures(ShimTestCase):

    def test_html_upstream_is_503(self):
        shim = self.start_shim("--cache-bytes", "0", "--upstream-retries", "0")
        for status_up in (500, 200, 502):
            for target in ("/api/v3/files/" + F912, "/api/v3/files/%s/behaviours" % F912):
                with self.subTest(status=status_up, target=target):
                    self.up.reset()
                    self.up.set_html(target, status_up)
                    for path in legacy_paths(("object", "relationship", "rules")):
                        status, headers, body = shim.request("GET", path)
                        self.assertVtError(status, decoded(headers, body), 503, "TransientError")

    def test_vt_error_from_upstream_is_relayed(self):
        for status_up, code in ((429, "QuotaExceededError"), (403, "ForbiddenError"), (401, "WrongCredentialsError")):
            with self.subTest(code=code):
                # A shim per case: an upstream 429 marks the key exhausted for the next minute.
                shim = self.start_shim("--cache-bytes", "0")
                self.up.reset()
                self.up.set_canned("/api/v3/files/" + F912, status_up, vt.vt_error(code, "from upstream"))
                status, headers, body = shim.request("GET", LEGACY)
                doc = self.assertVtError(status, decoded(headers, body), status_up, code)
                self.assertEqual(doc["error"]["message"], "from upstream")

    def test_unreachable_upstream_is_503(self):
        import socket
        s = socket.socket()
        s.bind(("127.0.0.1", 0))
        port = s.getsockname()[1]
        s.close()  # nobody listens there now
        shim = self.start_shim("--upstream", "http://127.0.0.1:%d" % port)
        for path in (LEGACY, PASSTHROUGH):
            status, headers, body = shim.request("GET", path)
            self.assertVtError(status, decoded(headers, body), 503, "TransientError")

    def test_slow_upstream_is_504(self):
        shim = self.start_shim("--upstream-timeout", "1s", "--upstream-retries", "0")
        self.up.set_delay(6)
        for path in (LEGACY, "/api/v3/files/%s/relationships/sigma_analysis" % F912, PASSTHROUGH):
            with self.subTest(path=path):
                t0 = time.monotonic()
                status, headers, body = shim.request("GET", path, timeout=10)
                elapsed = time.monotonic() - t0
                self.assertVtError(status, decoded(headers, body), 504, "DeadlineExceededError")
                self.assertLess(elapsed, 3.0, "504 took %.1f s with --upstream-timeout 1s" % elapsed)


if __name__ == "__main__":
    unittest.main()
