"""Serving a team (README: Serving a team): the HTTPS listener (--tls-cert, --tls-key) and client tokens
(--client-tokens), end to end against the real binary and the VirusTotal test double.

HTTPS: clients that check the certificate against a CA made at test time (Python's ssl, curl, vt-py when it is
importable), ALPN and protocol versions, a certificate rotated by SIGHUP under a connection that stays, a broken
one refused by SIGHUP, plain HTTP and not-TLS bytes on the TLS port, handshakes cut short, trickled or never begun,
the throttled log of failed handshakes, an expired certificate and one for another host.

Tokens: a known token is replaced by the server-side key before anything goes upstream, a missing or unknown one
is 401 and goes nowhere, SIGHUP revokes and adds clients, a client's quota-per-minute, and neither the tokens nor
the key in any log line, metric, recording or comparison. Start-up: what is refused (exit 2) and what is not.
"""

import hashlib
import http.client
import json
import os
import shutil
import signal
import socket
import ssl
import subprocess
import threading
import time
import unittest
import warnings

import certs
from harness import (API_KEY, BINARY, SANITIZED, ShimTestCase, child_env, decoded, non_loopback_ipv4,
                     sha256_hex)
from route_table import paths
from test_operations import parse_metrics

F912 = "f912398cb3542ab704fe917af4a60d4feee21ac577535b10453170f10c6fd6de"
F568 = "f568a0362c238ebbadca53fd4307dac2fe209ddc6257fd300379ebc3c10261e9"
LEGACY = "/api/v3/files/%s/sigma_analysis" % F912
PASSTHROUGH = "/api/v3/files/" + F568
# How late a deadline may fire on a busy machine (ASan slows everything).
LATE = 8.0 if SANITIZED else 4.0
# How long to wait for a log line or a metric that is due now: only a failing test waits that long.
DUE = 20.0 if SANITIZED else 10.0

PLAIN_HTTP_LINE = "a plain HTTP request came to the TLS port: closed without an answer"
HANDSHAKE_FAILED_LINE = "TLS handshake failed"
CERT_RELOADED = "SIGHUP: TLS certificate reloaded"
CERT_KEPT = "SIGHUP: the TLS certificate was not reloaded; the old one stays"
TOKENS_RELOADED = "SIGHUP: client tokens reloaded"
TOKENS_KEPT = "SIGHUP: the client tokens were not reloaded; the old ones stay"
X509_V_ERR_CERT_HAS_EXPIRED = 10
X509_V_ERR_HOSTNAME_MISMATCH = 62


def new_token(name):
    """`sigma-shim token new NAME`: (the token, the line for the tokens file)."""
    proc = subprocess.run([BINARY, "token", "new", name], stdout=subprocess.PIPE, stderr=subprocess.PIPE,
                          timeout=30, env=child_env())
    if proc.returncode != 0:
        raise AssertionError("token new %s: exit %d %s" % (name, proc.returncode, proc.stderr))
    lines = proc.stdout.decode().splitlines()
    return lines[0], lines[-1]


def der_of(cert_file):
    with open(cert_file) as f:
        return ssl.PEM_cert_to_DER_cert(f.read())


def iso_utc(cert_time):
    """A certificate time as getpeercert() gives it ("Dec  9 05:52:32 2026 GMT"), as the shim logs it."""
    return time.strftime("%Y-%m-%dT%H:%M:%SZ", time.gmtime(ssl.cert_time_to_seconds(cert_time)))


def client_hello():
    """The bytes of a real TLS ClientHello for localhost."""
    outgoing = ssl.MemoryBIO()
    ctx = certs.client_context(certs.shared_certs().ca_cert)
    tls = ctx.wrap_bio(ssl.MemoryBIO(), outgoing, server_hostname="localhost")
    try:
        tls.do_handshake()
    except ssl.SSLWantReadError:
        pass  # the ClientHello is out; the answer is never read
    return outgoing.read()


def read_until_closed(sock, timeout):
    """(what the shim sent, True) once it closes the connection within timeout; (sent, False) otherwise."""
    data = b""
    deadline = time.monotonic() + timeout
    while True:
        remaining = deadline - time.monotonic()
        if remaining <= 0:
            return data, False
        sock.settimeout(remaining)
        try:
            piece = sock.recv(65536)
        except ConnectionResetError:
            return data, True
        except socket.timeout:
            return data, False
        if not piece:
            return data, True
        data += piece


class TeamCase(ShimTestCase):

    def tokens_file(self, *lines, name="tokens"):
        path = os.path.join(self.tmp, name)
        with open(path, "w") as f:
            f.write("# the team's clients\n" + "".join(line + "\n" for line in lines))
        return path

    def metrics_text(self, shim):
        status, headers, body = shim.request("GET", "/_shim/metrics")
        self.assertEqual(status, 200)
        return decoded(headers, body).decode()

    def metric(self, shim, name, **labels):
        """The sum of the series of `name` whose labels include `labels`."""
        return sum(value for n, got, value in parse_metrics(self.metrics_text(shim))
                   if n == name and all(got.get(k) == str(v) for k, v in labels.items()))

    def wait_metric(self, shim, want, name, timeout=DUE, **labels):
        """Waits until the metric is `want` (it is counted as the shim closes a connection); asserts it."""
        deadline = time.monotonic() + timeout
        while True:
            got = self.metric(shim, name, **labels)
            if got == want or time.monotonic() > deadline:
                self.assertEqual(got, want, "%s%r" % (name, labels))
                return
            time.sleep(0.02)

    def wait_lines(self, shim, msg, count, timeout=DUE):
        """The first `count` log lines whose msg is `msg`, once there are that many."""
        deadline = time.monotonic() + timeout
        while True:
            lines = [d for d in shim.log_lines() if d.get("msg") == msg]
            if len(lines) >= count:
                return lines[:count]
            if time.monotonic() > deadline:
                self.fail("%d log line(s) %r wanted, %d came:\n%s" % (count, msg, len(lines),
                                                                       shim.stderr_text()[-3000:]))
            time.sleep(0.02)

    def listening_line(self, shim):
        return self.wait_lines(shim, "listening", 1)[0]

    def sighup(self, shim):
        shim.proc.send_signal(signal.SIGHUP)

    def assertHandshakeRefused(self, shim, context, server_hostname=None):
        """A client with this context cannot complete a handshake with the shim: the ssl.SSLError it raises."""
        with socket.create_connection((shim.host, shim.port), timeout=10) as raw:
            with self.assertRaises(ssl.SSLError) as cm:
                context.wrap_socket(raw, server_hostname=server_hostname or shim.host)
        return cm.exception


# -- the HTTPS listener ------------------------------------------------------------------------------------------

class Https(TeamCase):

    def test_a_client_that_checks_the_certificate_gets_legacy_and_passthrough_answers(self):
        shim = self.start_shim(tls=True)
        self.assertTrue(shim.url.startswith("https://127.0.0.1:"), shim.url)
        # Python's http.client, checking the CA and the host name (the leaf's IP:127.0.0.1).
        status, headers, body = shim.request("GET", LEGACY, headers={"x-apikey": API_KEY})
        self.assertEqual(status, 200, body)
        self.assertEqual(headers["x-sigma-shim"], "reconstructed")
        doc = json.loads(decoded(headers, body))
        self.assertEqual((doc["data"]["type"], doc["data"]["id"]), ("sigma_analysis", F912))
        status, headers, body = shim.request("GET", PASSTHROUGH, headers={"x-apikey": API_KEY})
        self.assertEqual((status, headers["x-sigma-shim"]), (200, "passthrough"), body)
        self.assertEqual(json.loads(decoded(headers, body))["data"]["id"], F568)
        # By the name localhost, offering h2 first: ALPN settles on http/1.1.
        ctx = certs.client_context(certs.shared_certs().ca_cert)
        ctx.set_alpn_protocols(["h2", "http/1.1"])
        with socket.create_connection((shim.host, shim.port), timeout=10) as raw:
            with ctx.wrap_socket(raw, server_hostname="localhost") as tls:
                self.assertEqual(tls.selected_alpn_protocol(), "http/1.1")
                self.assertIn(tls.version(), ("TLSv1.2", "TLSv1.3"))
                peer = tls.getpeercert()
                self.assertIn((("commonName", "localhost"),), peer["subject"])
                tls.sendall(b"GET " + LEGACY.encode() + b" HTTP/1.1\r\nHost: localhost\r\nx-apikey: "
                            + API_KEY.encode() + b"\r\nConnection: close\r\n\r\n")
                resp = http.client.HTTPResponse(tls)
                resp.begin()
                self.assertEqual(resp.status, 200)
                self.assertEqual(json.loads(resp.read())["data"]["id"], F912)
        # The start-up line describes the certificate as the client saw it.
        listening = self.listening_line(shim)
        self.assertEqual(listening["tls"], "on")
        self.assertEqual(listening["tls_subject"], "CN=localhost")
        self.assertEqual(listening["tls_not_after"], iso_utc(peer["notAfter"]))
        self.assertEqual(listening["client_tokens"], "off")
        self.wait_metric(shim, 4, "sigma_shim_tls_handshakes_total", result="ok")

    def test_large_answers_arrive_whole_over_tls(self):
        # A header block and a body leave in one write; over TLS a write that stops between the two must still
        # send the rest (a relayed answer with body bytes read ahead, a reconstructed File object).
        shim = self.start_shim(tls=True)
        conn = shim.connection()
        try:
            for _ in range(20):
                conn.request("GET", PASSTHROUGH, headers={"x-apikey": API_KEY})
                resp = conn.getresponse()
                self.assertEqual(resp.status, 200)
                self.assertEqual(json.loads(resp.read())["data"]["id"], F568)
                conn.request("GET", PASSTHROUGH + "?relationships=sigma_analysis", headers={"x-apikey": API_KEY})
                resp = conn.getresponse()
                text = resp.read()
                self.assertEqual((resp.status, resp.getheader("X-Sigma-Shim")), (200, "reconstructed"))
                self.assertGreater(len(text), 16 * 1024)
                self.assertEqual(json.loads(text)["data"]["id"], F568)
        finally:
            conn.close()

    def test_protocol_versions_and_alpn(self):
        shim = self.start_shim(tls=True)
        ca = certs.shared_certs().ca_cert
        for version in (ssl.TLSVersion.TLSv1_2, ssl.TLSVersion.TLSv1_3):
            with self.subTest(version=version):
                ctx = certs.client_context(ca)
                ctx.minimum_version = ctx.maximum_version = version
                status, _, _ = shim.request("GET", "/_shim/livez", context=ctx)
                self.assertEqual(status, 200)
        # TLS 1.2 with forward secrecy and an AEAD cipher only.
        ctx = certs.client_context(ca)
        ctx.maximum_version = ssl.TLSVersion.TLSv1_2
        with socket.create_connection((shim.host, shim.port), timeout=10) as raw:
            with ctx.wrap_socket(raw, server_hostname=shim.host) as tls:
                cipher = tls.cipher()[0]
        self.assertTrue(cipher.startswith("ECDHE-"), cipher)
        self.assertTrue("GCM" in cipher or "CHACHA20" in cipher, cipher)
        # A client without ALPN is served.
        ctx = ssl.create_default_context(cafile=ca)
        self.assertEqual(shim.request("GET", "/_shim/livez", context=ctx)[0], 200)
        # TLS 1.1 at most: the shim refuses it with an alert (the client's library would offer it: security
        # level 0 lets it), and counts a failed handshake.
        with warnings.catch_warnings():
            warnings.simplefilter("ignore", DeprecationWarning)
            old = ssl.create_default_context(cafile=ca)
            old.set_ciphers("DEFAULT:@SECLEVEL=0")
            old.minimum_version = ssl.TLSVersion.TLSv1
            old.maximum_version = ssl.TLSVersion.TLSv1_1
        error = self.assertHandshakeRefused(shim, old)
        self.assertIn("PROTOCOL_VERSION", str(error).upper())
        self.wait_metric(shim, 1, "sigma_shim_tls_handshakes_total", result="failed")
        # A client whose ALPN offers only h2: no application protocol in common.
        h2 = certs.client_context(ca)
        h2.set_alpn_protocols(["h2"])
        error = self.assertHandshakeRefused(shim, h2)
        self.assertIn("NO APPLICATION PROTOCOL", str(error).upper().replace("_", " "))
        self.wait_metric(shim, 2, "sigma_shim_tls_handshakes_total", result="failed")
        self.assertEqual(shim.request("GET", "/_shim/livez")[0], 200)

    def test_curl_with_the_ca(self):
        curl = shutil.which("curl")
        if curl is None:
            self.skipTest("no curl command here")
        c = certs.shared_certs()
        shim = self.start_shim(tls=True)
        origin = "https://localhost:%d" % shim.port
        resolve = "localhost:%d:127.0.0.1" % shim.port

        def run(*args):
            proc = subprocess.run([curl, "--silent", "--show-error", "--noproxy", "*", "--resolve", resolve,
                                   "--max-time", "20", *args], stdout=subprocess.PIPE, stderr=subprocess.PIPE,
                                  timeout=30, env=child_env())
            return proc.returncode, proc.stdout, proc.stderr.decode(errors="replace")

        for path, label in ((LEGACY, "reconstructed"), (PASSTHROUGH, "passthrough")):
            with self.subTest(path=path):
                code, out, err = run("--cacert", c.ca_cert, "-H", "x-apikey: " + API_KEY, "--compressed",
                                     "-D", "-", "-w", "\n%{http_code} %{http_version} %{ssl_verify_result}",
                                     origin + path)
                self.assertEqual(code, 0, err)
                head, _, rest = out.partition(b"\r\n\r\n")
                body, _, summary = rest.rpartition(b"\n")
                self.assertEqual(summary.decode(), "200 1.1 0")
                self.assertIn(b"x-sigma-shim: " + label.encode(), head.lower())
                self.assertEqual(json.loads(body)["data"]["id"], F912 if label == "reconstructed" else F568)
        # Without the CA, curl refuses the certificate (exit 60) and sends no request.
        code, _, err = run(origin + "/_shim/livez")
        self.assertEqual(code, 60, err)

    def test_vt_py(self):
        try:
            import importlib.util
            found = importlib.util.find_spec("vt") is not None
        except (ImportError, ValueError):
            found = False
        if not found:
            self.skipTest("vt-py (`vt`) is not importable; it is not installed for these tests")
        # aiohttp makes its default TLS context when it is imported: it must trust the test CA by then.
        saved = os.environ.get("SSL_CERT_FILE")
        os.environ["SSL_CERT_FILE"] = certs.shared_certs().ca_cert
        try:
            import vt
            if not hasattr(vt, "Client"):
                self.skipTest("the importable `vt` module is not vt-py")
            token, line = new_token("vtpy")
            shim = self.start_shim("--client-tokens", self.tokens_file(line), tls=True)
            client = vt.Client(token, host=shim.url)
            try:
                analysis = client.get_object("/sigma_analyses/{}", F912)
                self.assertEqual((analysis.type, analysis.id), ("sigma_analysis", F912))
                self.assertEqual(client.get_object("/files/{}", F568).id, F568)
            finally:
                client.close()
        finally:
            if saved is None:
                os.environ.pop("SSL_CERT_FILE", None)
            else:
                os.environ["SSL_CERT_FILE"] = saved
        self.assertEqual({r.header("x-apikey") for r in self.up.requests()}, {API_KEY})


# -- certificates: rotated, broken, expired, for another host ------------------------------------------------------

class CertificateRotation(TeamCase):

    def live_files(self, cert, key):
        """Copies of the certificate and key at the paths the shim is given, so the test can replace them."""
        live_cert = os.path.join(self.tmp, "live.crt")
        live_key = os.path.join(self.tmp, "live.key")
        shutil.copyfile(cert, live_cert)
        shutil.copyfile(key, live_key)
        return live_cert, live_key

    def start_live_shim(self):
        c = certs.shared_certs()
        live_cert, live_key = self.live_files(c.localhost_cert, c.localhost_key)
        shim = self.start_shim("--tls-cert", live_cert, "--tls-key", live_key, tls=certs.client_context(c.ca_cert))
        return shim, live_cert, live_key

    def peer_der(self, shim):
        """The certificate a new connection gets (DER)."""
        conn = shim.connection()
        try:
            conn.request("GET", "/_shim/livez")
            resp = conn.getresponse()
            resp.read()
            self.assertEqual(resp.status, 200)
            return conn.sock.getpeercert(binary_form=True)
        finally:
            conn.close()

    def test_sighup_brings_a_new_certificate_to_new_connections_and_keeps_those_under_way(self):
        c = certs.shared_certs()
        shim, live_cert, live_key = self.start_live_shim()
        old = shim.connection()
        self.addCleanup(old.close)
        old.request("GET", LEGACY, headers={"x-apikey": API_KEY})
        resp = old.getresponse()
        resp.read()
        self.assertEqual(resp.status, 200)
        session_socket = old.sock
        self.assertEqual(session_socket.getpeercert(binary_form=True), der_of(c.localhost_cert))
        old_serial = session_socket.getpeercert()["serialNumber"]

        self.live_files(c.rotated_cert, c.rotated_key)
        self.sighup(shim)
        reloaded = self.wait_lines(shim, CERT_RELOADED, 1)[0]
        self.assertEqual(reloaded["level"], "info")
        self.assertEqual(reloaded["tls_subject"], "CN=localhost rotated")

        # New connections get the new certificate: another subject, serial and key.
        self.assertEqual(self.peer_der(shim), der_of(c.rotated_cert))
        fresh = shim.connection()
        self.addCleanup(fresh.close)
        fresh.request("GET", "/_shim/livez")
        fresh.getresponse().read()
        fresh_cert = fresh.sock.getpeercert()
        self.assertIn((("commonName", "localhost rotated"),), fresh_cert["subject"])
        self.assertNotEqual(fresh_cert["serialNumber"], old_serial)
        # The connection opened before keeps its session and goes on answering on it.
        for path in (LEGACY, PASSTHROUGH, "/_shim/livez"):
            old.request("GET", path, headers={"x-apikey": API_KEY})
            resp = old.getresponse()
            resp.read()
            self.assertEqual(resp.status, 200, path)
            self.assertIs(old.sock, session_socket, "http.client opened a new connection")
            self.assertEqual(old.sock.getpeercert(binary_form=True), der_of(c.localhost_cert))
        self.assertEqual([d for d in shim.log_lines() if d.get("level") == "error"], [])

    def test_a_certificate_that_cannot_be_loaded_on_sighup_leaves_the_old_one(self):
        c = certs.shared_certs()
        shim, live_cert, live_key = self.start_live_shim()
        with open(c.rotated_key) as f:
            key_pem_body = "".join(line for line in f.read().splitlines() if not line.startswith("-----"))

        def garbage_certificate():
            with open(live_cert, "w") as f:
                f.write("-----BEGIN CERTIFICATE-----\nbm90IGEgY2VydGlmaWNhdGU=\n-----END CERTIFICATE-----\n")

        def key_of_another_certificate():
            shutil.copyfile(c.rotated_key, live_key)

        def certificate_without_its_key():
            shutil.copyfile(c.rotated_cert, live_cert)
            os.remove(live_key)

        breakages = (garbage_certificate, key_of_another_certificate, certificate_without_its_key)
        for n, breakage in enumerate(breakages, 1):
            with self.subTest(breakage=breakage.__name__):
                self.live_files(c.localhost_cert, c.localhost_key)
                breakage()
                self.sighup(shim)
                kept = self.wait_lines(shim, CERT_KEPT, n)[-1]
                self.assertEqual(kept["level"], "error")
                self.assertTrue(kept.get("error"), kept)
                self.assertTrue(shim.alive())
                self.assertEqual(self.peer_der(shim), der_of(c.localhost_cert))
                status, _, body = shim.request("GET", LEGACY, headers={"x-apikey": API_KEY})
                self.assertEqual(status, 200, body)
        self.assertEqual([d for d in shim.log_lines() if d.get("msg") == CERT_RELOADED], [])
        self.assertNotIn(key_pem_body, shim.stderr_text())
        # Fixed, the next SIGHUP takes the new certificate.
        self.live_files(c.rotated_cert, c.rotated_key)
        self.sighup(shim)
        self.wait_lines(shim, CERT_RELOADED, 1)
        self.assertEqual(self.peer_der(shim), der_of(c.rotated_cert))


class CertificateProblems(TeamCase):

    def test_an_expired_certificate(self):
        c = certs.shared_certs()
        shim = self.start_shim("--tls-cert", c.expired_cert, "--tls-key", c.expired_key,
                               tls=certs.unverified_context())
        warned = self.wait_lines(shim, "the TLS certificate has expired: clients that check it will refuse it", 1)
        self.assertEqual(warned[0]["level"], "warn")
        self.assertEqual(warned[0]["tls_not_after"], "2025-01-02T00:00:00Z")
        self.assertEqual(self.listening_line(shim)["tls_not_after"], "2025-01-02T00:00:00Z")
        # A client that checks it fails the handshake on its side; the shim counts a failed handshake.
        error = self.assertHandshakeRefused(shim, certs.client_context(c.ca_cert))
        self.assertIsInstance(error, ssl.SSLCertVerificationError)
        self.assertEqual(error.verify_code, X509_V_ERR_CERT_HAS_EXPIRED, error)
        self.wait_metric(shim, 1, "sigma_shim_tls_handshakes_total", result="failed")
        # One that does not check is served.
        status, headers, body = shim.request("GET", LEGACY, headers={"x-apikey": API_KEY})
        self.assertEqual(status, 200, body)
        self.assertEqual(shim.request("GET", "/_shim/livez")[0], 200)
        self.assertTrue(shim.alive())

    def test_a_certificate_for_another_host(self):
        c = certs.shared_certs()
        shim = self.start_shim("--tls-cert", c.wrong_cert, "--tls-key", c.wrong_key,
                               tls=certs.unverified_context())
        error = self.assertHandshakeRefused(shim, certs.client_context(c.ca_cert), server_hostname="localhost")
        self.assertIsInstance(error, ssl.SSLCertVerificationError)
        self.assertEqual(error.verify_code, X509_V_ERR_HOSTNAME_MISMATCH, error)
        self.wait_metric(shim, 1, "sigma_shim_tls_handshakes_total", result="failed")
        # The certificate itself is good: a client asking for its name is served, as is one that checks nothing.
        self.assertEqual(self.listening_line(shim)["tls_subject"], "CN=wrong.example")
        with socket.create_connection((shim.host, shim.port), timeout=10) as raw:
            with certs.client_context(c.ca_cert).wrap_socket(raw, server_hostname="wrong.example") as tls:
                self.assertEqual(tls.selected_alpn_protocol(), "http/1.1")
        status, _, body = shim.request("GET", PASSTHROUGH, headers={"x-apikey": API_KEY})
        self.assertEqual(status, 200, body)
        self.assertEqual(shim.request("GET", "/_shim/livez")[0], 200)
        self.assertTrue(shim.alive())


# -- what is not a TLS client: plain HTTP, other bytes, handshakes cut short, trickled or never begun ------------

class NotTlsOnTheTlsPort(TeamCase):

    def test_plain_http_is_closed_without_an_answer(self):
        shim = self.start_shim(tls=True)
        for request in (b"GET /_shim/livez HTTP/1.1\r\nHost: x\r\n\r\n",
                        b"GET " + LEGACY.encode() + b" HTTP/1.1\r\nHost: x\r\nx-apikey: " + API_KEY.encode()
                        + b"\r\n\r\n"):
            with self.subTest(request=request[:40]):
                with socket.create_connection((shim.host, shim.port), timeout=10) as s:
                    s.sendall(request)
                    answer, closed = read_until_closed(s, LATE)
                self.assertTrue(closed, "the shim kept a plain HTTP connection open on its TLS port")
                self.assertEqual(answer, b"", "an answer to plain HTTP on the TLS port")
        line = self.wait_lines(shim, PLAIN_HTTP_LINE, 1)[0]
        self.assertEqual((line["level"], line["reason"]), ("warn", "plain_http"))
        self.assertIn("https://", line["detail"])
        self.wait_metric(shim, 2, "sigma_shim_tls_handshakes_total", result="plain_http")
        # Bytes that are neither TLS nor HTTP: closed too, counted apart.
        for junk in (b"\x00\x01\x02\x03\x04\x05\x06\x07\x08", b"\x16\x02\x00", b"get / HTTP/1.1\r\n\r\n"):
            with self.subTest(junk=junk):
                with socket.create_connection((shim.host, shim.port), timeout=10) as s:
                    s.sendall(junk)
                    answer, closed = read_until_closed(s, LATE)
                self.assertTrue(closed)
                self.assertEqual(answer, b"")
        self.wait_metric(shim, 3, "sigma_shim_tls_handshakes_total", result="not_tls")
        self.assertEqual(self.up.requests(), [], "plain HTTP on the TLS port reached the upstream")
        self.assertEqual(shim.request("GET", "/_shim/livez")[0], 200)

    def test_handshakes_cut_short_trickled_or_never_begun_are_closed_at_their_deadlines(self):
        request_timeout, idle_timeout = 1.0, 2.0
        shim = self.start_shim("--request-timeout", "1s", "--idle-timeout", "2s", tls=True)
        hello = client_hello()
        self.assertGreater(len(hello), 100)
        started = {}
        sockets = {}
        for name in ("half", "trickle", "silent"):
            sockets[name] = socket.create_connection((shim.host, shim.port), timeout=10)
            self.addCleanup(sockets[name].close)
        started["silent"] = time.monotonic()
        sockets["half"].sendall(hello[:len(hello) // 2])
        started["half"] = time.monotonic()
        # One byte of the ClientHello every 0.2 s: each byte is progress, but the deadline is for the whole.
        stop = threading.Event()
        self.addCleanup(stop.set)

        def trickle():
            for i in range(len(hello)):
                try:
                    sockets["trickle"].sendall(hello[i:i + 1])
                except OSError:
                    return
                if stop.wait(0.2):
                    return

        trickler = threading.Thread(target=trickle, daemon=True)
        started["trickle"] = time.monotonic()
        trickler.start()
        # Others are served meanwhile.
        for _ in range(3):
            status, _, body = shim.request("GET", LEGACY, headers={"x-apikey": API_KEY})
            self.assertEqual(status, 200, body)
        for name, deadline in (("half", request_timeout), ("trickle", request_timeout),
                               ("silent", idle_timeout)):
            with self.subTest(connection=name):
                answer, closed = read_until_closed(sockets[name], deadline + LATE)
                took = time.monotonic() - started[name]
                self.assertTrue(closed, "%s: still open %.1f s after its deadline" % (name, LATE))
                self.assertEqual(answer, b"")
                self.assertGreater(took, deadline - 0.5, "%s: closed before its deadline" % name)
        stop.set()
        trickler.join(5)
        self.wait_metric(shim, 3, "sigma_shim_tls_handshakes_total", result="timeout")
        self.assertEqual(self.metric(shim, "sigma_shim_tls_handshakes_total", result="failed"), 0)
        line = self.wait_lines(shim, HANDSHAKE_FAILED_LINE, 1)[0]
        self.assertEqual((line["level"], line["reason"], line["not_logged_since_last"]), ("warn", "timeout", 0))
        self.assertEqual(shim.request("GET", "/_shim/livez")[0], 200)

    def test_trickled_first_bytes_do_not_restart_the_request_timeout(self):
        # Seven uppercase letters could still be an HTTP method, so the shim waits for the eighth byte to decide:
        # the wait is under --request-timeout from the first byte, not from the latest.
        shim = self.start_shim("--request-timeout", "1s", "--idle-timeout", "30s", tls=True)
        s = socket.create_connection((shim.host, shim.port), timeout=10)
        self.addCleanup(s.close)
        stop = threading.Event()
        self.addCleanup(stop.set)

        def trickle():
            for letter in b"AAAAAAA":
                try:
                    s.sendall(bytes([letter]))
                except OSError:
                    return
                if stop.wait(0.9):
                    return

        started = time.monotonic()
        threading.Thread(target=trickle, daemon=True).start()
        answer, closed = read_until_closed(s, 1.0 + LATE)
        self.assertTrue(closed, "still open %.1f s after the first byte" % (time.monotonic() - started))
        self.assertEqual(answer, b"")
        self.wait_metric(shim, 1, "sigma_shim_tls_handshakes_total", result="timeout")

    def test_failed_handshakes_are_logged_once_per_10_s_at_most(self):
        shim = self.start_shim(tls=True)

        def fail_one():
            with socket.create_connection((shim.host, shim.port), timeout=10) as s:
                s.sendall(b"\x16\x09\x00")  # a handshake record of no TLS version
                self.assertTrue(read_until_closed(s, LATE)[1])

        fail_one()
        first = self.wait_lines(shim, HANDSHAKE_FAILED_LINE, 1)[0]
        self.assertEqual((first["reason"], first["not_logged_since_last"]), ("not_tls", 0))
        # A burst: counted, not logged.
        for _ in range(20):
            fail_one()
        self.wait_metric(shim, 21, "sigma_shim_tls_handshakes_total", result="not_tls")
        self.assertEqual(len([d for d in shim.log_lines() if d.get("msg") == HANDSHAKE_FAILED_LINE]), 1)
        # Once 10 s have passed since the first line, the next failure is logged with the count held back. The
        # shim logs before it closes, so each failure's line, if any, is in before the next failure is made.
        failures = 21
        deadline = time.monotonic() + 10 + 2 * LATE
        logged = []
        while len(logged) < 2:
            self.assertLess(time.monotonic(), deadline, "no second line more than 10 s after the first")
            fail_one()
            failures += 1
            wait_until = time.monotonic() + (2.0 if SANITIZED else 1.0)
            while len(logged) < 2 and time.monotonic() < wait_until:
                logged = [d for d in shim.log_lines() if d.get("msg") == HANDSHAKE_FAILED_LINE]
                time.sleep(0.02)
        self.assertEqual(len(logged), 2)
        self.assertEqual(logged[1]["not_logged_since_last"], failures - 2)
        self.assertEqual(self.metric(shim, "sigma_shim_tls_handshakes_total", result="not_tls"), failures)


# -- client tokens ---------------------------------------------------------------------------------------------------

class ClientTokens(TeamCase):

    def setUp(self):
        super().setUp()
        self.alice, self.alice_line = new_token("alice")
        self.bob, self.bob_line = new_token("bob")

    def as_(self, token):
        return {"x-apikey": token} if token is not None else {}

    def test_token_new(self):
        self.assertRegex(self.alice, r"^[A-Za-z0-9_-]{43}$")
        self.assertEqual(self.alice_line, "alice sha256:" + sha256_hex(self.alice.encode()))
        self.assertNotEqual(self.alice, self.bob)
        proc = subprocess.run([BINARY, "token", "new", "not a name"], stdout=subprocess.PIPE,
                              stderr=subprocess.PIPE, timeout=30, env=child_env())
        self.assertEqual(proc.returncode, 2)
        self.assertEqual(proc.stdout, b"")

    def test_a_known_token_is_replaced_by_the_server_key_and_others_go_nowhere(self):
        shim = self.start_shim("--client-tokens", self.tokens_file(self.alice_line, self.bob_line), tls=True)
        self.assertEqual(self.listening_line(shim)["client_tokens"], 2)
        for path, status, label in ((LEGACY, 200, "reconstructed"), (PASSTHROUGH, 200, "passthrough")):
            got, headers, body = shim.request("GET", path, headers=self.as_(self.alice))
            self.assertEqual((got, headers["x-sigma-shim"]), (status, label), body)
        got, headers, body = shim.request("POST", "/api/v3/echo/alice", headers=self.as_(self.alice), body=b"{}")
        self.assertEqual(got, 201, body)
        echoed = json.loads(decoded(headers, body))["headers"]
        self.assertEqual([v for k, v in echoed if k.lower() == "x-apikey"], [API_KEY])
        got, _, body = shim.request("GET", "/api/v3/sigma_analyses/" + F912, headers=self.as_(self.bob))
        self.assertEqual(got, 200, body)
        reqs = self.up.requests()
        self.assertGreaterEqual(len(reqs), 4)
        self.assertEqual({r.header("x-apikey") for r in reqs}, {API_KEY})
        for r in reqs:
            for name, value in r.headers:
                self.assertNotIn(self.alice, value, (r, name))
                self.assertNotIn(self.bob, value, (r, name))

        # Unknown tokens (the server's own key among them: it is no client's token) and none at all: 401, on
        # legacy and pass-through routes, and nothing goes upstream.
        self.up.clear_requests()
        refused = {"unknown": 0, "missing": 0}
        for token in ("not-a-token", self.alice + "x", API_KEY, "", None):
            reason = "missing" if not token else "unknown"
            for method, path in (("GET", "/api/v3/files/%s/sigma_analysis" % F568), ("GET", PASSTHROUGH),
                                 ("GET", "/api/v3/sigma_analyses/" + F912), ("POST", "/api/v3/echo/x")):
                with self.subTest(token=token, path=path):
                    got, headers, body = shim.request(method, path, headers=self.as_(token),
                                                      body=b"{}" if method == "POST" else None)
                    doc = self.assertVtError(got, decoded(headers, body), 401, "AuthenticationRequiredError")
                    self.assertEqual(headers["x-sigma-shim"], "local")
                    self.assertIn("token", doc["error"]["message"])
                    refused[reason] += 1
        self.assertEqual(self.up.requests(), [], "a request without a known token went upstream")
        # /_shim/ is not /api/v3/: no token asked.
        self.assertEqual(shim.request("GET", "/_shim/livez")[0], 200)

        for reason, count in refused.items():
            self.assertEqual(self.metric(shim, "sigma_shim_client_auth_failures_total", reason=reason), count)
        self.assertEqual(self.metric(shim, "sigma_shim_client_requests_total", client="alice", status=200), 2)
        self.assertEqual(self.metric(shim, "sigma_shim_client_requests_total", client="alice", status=201), 1)
        self.assertEqual(self.metric(shim, "sigma_shim_client_requests_total", client="bob", status=200), 1)
        # Log lines name the client and the server key's fingerprint; a refused request names no client.
        lines = shim.request_log_lines()
        fingerprint = hashlib.sha256(API_KEY.encode()).hexdigest()[:12]
        named = [d for d in lines if d.get("client")]
        self.assertEqual(sorted(d["client"] for d in named), ["alice", "alice", "alice", "bob"])
        self.assertEqual({d["key"] for d in named}, {fingerprint})
        self.assertEqual(len([d for d in lines if d["status"] == 401 and "client" not in d]),
                         sum(refused.values()))

    def test_tokens_in_front_of_an_https_upstream(self):
        c = certs.shared_certs()
        up = self.make_upstream(tls=True)
        shim = self.start_shim("--client-tokens", self.tokens_file(self.alice_line), "--upstream-ca", c.ca_cert,
                               up=up, tls=True)
        for path in (LEGACY, PASSTHROUGH):
            status, _, body = shim.request("GET", path, headers=self.as_(self.alice))
            self.assertEqual(status, 200, body)
        status, headers, body = shim.request("GET", LEGACY, headers=self.as_(self.bob))
        self.assertVtError(status, decoded(headers, body), 401, "AuthenticationRequiredError")
        reqs = up.requests()
        self.assertGreaterEqual(len(reqs), 2)
        self.assertEqual({(r.tls, r.header("x-apikey")) for r in reqs}, {(True, API_KEY)})

    def test_sighup_revokes_and_adds_clients(self):
        tokens = self.tokens_file(self.alice_line, self.bob_line)
        shim = self.start_shim("--client-tokens", tokens)
        kept = shim.connection()
        self.addCleanup(kept.close)

        def on_kept(token):
            kept.request("GET", PASSTHROUGH, headers=self.as_(token))
            resp = kept.getresponse()
            resp.read()
            return resp.status

        self.assertEqual(on_kept(self.alice), 200)
        session_socket = kept.sock
        # alice's line removed: her token stops working at once, on a connection already open too.
        self.tokens_file(self.bob_line)
        self.sighup(shim)
        self.assertEqual(self.wait_lines(shim, TOKENS_RELOADED, 1)[0]["clients"], 1)
        self.assertEqual(on_kept(self.alice), 401)
        self.assertIs(kept.sock, session_socket)
        self.assertEqual(shim.request("GET", PASSTHROUGH, headers=self.as_(self.alice))[0], 401)
        self.assertEqual(shim.request("GET", PASSTHROUGH, headers=self.as_(self.bob))[0], 200)
        self.assertEqual(on_kept(self.bob), 200)
        # A new client added.
        carol, carol_line = new_token("carol")
        self.tokens_file(self.bob_line, carol_line)
        self.sighup(shim)
        self.assertEqual(self.wait_lines(shim, TOKENS_RELOADED, 2)[1]["clients"], 2)
        self.assertEqual(shim.request("GET", LEGACY, headers=self.as_(carol))[0], 200)
        self.assertEqual(shim.request("GET", LEGACY, headers=self.as_(self.alice))[0], 401)
        # A file that does not parse: the clients stay as they were.
        self.tokens_file(self.bob_line, "carol sha256:not-hex")
        self.sighup(shim)
        failed = self.wait_lines(shim, TOKENS_KEPT, 1)[0]
        self.assertEqual(failed["level"], "error")
        self.assertIn("line 3", failed["error"])
        self.assertIn(tokens, failed["error"])
        for token in (self.bob, carol):
            self.assertEqual(shim.request("GET", PASSTHROUGH, headers=self.as_(token))[0], 200)
        self.assertEqual(len([d for d in shim.log_lines() if d.get("msg") == TOKENS_RELOADED]), 2)

    def test_a_client_quota_per_minute(self):
        shim = self.start_shim("--client-tokens",
                               self.tokens_file(self.alice_line + " quota-per-minute=1", self.bob_line))
        status, _, body = shim.request("GET", "/api/v3/echo/alice-1", headers=self.as_(self.alice))
        self.assertEqual(status, 201, body)
        # Her second upstream request within the minute: a local 429, nothing sent.
        for path in ("/api/v3/echo/alice-2", "/api/v3/files/%s/sigma_analysis" % F568):
            with self.subTest(path=path):
                status, headers, body = shim.request("GET", path, headers=self.as_(self.alice))
                doc = self.assertVtError(status, decoded(headers, body), 429, "QuotaExceededError")
                self.assertIn("quota-per-minute", doc["error"]["message"])
                self.assertIn("alice", doc["error"]["message"])
                self.assertEqual(headers["x-sigma-shim"], "local")
                self.assertTrue(1 <= int(headers["retry-after"]) <= 60, headers["retry-after"])
        self.assertEqual([r.path for r in self.up.requests()], ["/api/v3/echo/alice-1"])
        # bob is not limited by alice's quota.
        for i in range(3):
            status, _, body = shim.request("GET", "/api/v3/echo/bob-%d" % i, headers=self.as_(self.bob))
            self.assertEqual(status, 201, body)
        status, _, body = shim.request("GET", "/api/v3/files/%s/sigma_analysis" % F568, headers=self.as_(self.bob))
        self.assertEqual(status, 200, body)
        # What the cache answers costs alice no upstream request.
        status, _, body = shim.request("GET", "/api/v3/files/%s/sigma_analysis" % F568,
                                       headers=self.as_(self.alice))
        self.assertEqual(status, 200, body)
        self.assertEqual(self.metric(shim, "sigma_shim_client_requests_total", client="alice", status=429), 2)
        # The rejections count upstream requests refused: the pass-through's one, and the legacy route's file (and
        # behaviours, asked for beside it) fetches.
        self.assertGreaterEqual(self.metric(shim, "sigma_shim_quota_rejections_total", window="client_minute"), 2)
        self.assertEqual({r.header("x-apikey") for r in self.up.requests()}, {API_KEY})

    def test_tokens_and_the_key_appear_in_no_log_metric_recording_or_comparison(self):
        record = os.path.join(self.tmp, "record")
        shim = self.start_shim("--client-tokens", self.tokens_file(self.alice_line, self.bob_line),
                               "--record", record, "--allow-mode-header", "--log-level", "debug", tls=True)
        self.up.set_canned("/api/v3/files/%s/sigma_analysis" % F912, 200, {"data": {"id": F912}})
        wrong = "wrong-Token-0123456789abcdef"
        for token in (self.alice, self.bob, wrong, API_KEY):
            for mode in ("reconstruct", "shadow", "compare"):
                for path in paths(F912, ("object", "relationship", "descriptor")) + [PASSTHROUGH]:
                    headers = {"X-Sigma-Shim-Mode": mode, **self.as_(token)}
                    status, _, _ = shim.request("GET", path, headers=headers)
                    if token in (wrong, API_KEY):
                        self.assertEqual(status, 401, (mode, path))
                    else:
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
        self.assertEqual(status, 200)
        metrics = self.metrics_text(shim).encode()
        self.assertIn(b'client="alice"', metrics)
        shim.stop()
        written = []
        for folder, _, names in os.walk(record):
            for name in names:
                written.append(name.encode())
                with open(os.path.join(folder, name), "rb") as f:
                    written.append(f.read())
        self.assertTrue(written, "nothing was recorded")
        for secret in (self.alice, self.bob, wrong, API_KEY):
            for text in [comparisons, decoded(h, page), metrics, shim.stderr_text().encode(),
                         shim.stdout_text().encode()] + written:
                self.assertNotIn(secret.encode(), text)
        self.assertEqual({r.header("x-apikey") for r in self.up.requests()}, {API_KEY})
        clients = {d.get("client") for d in shim.request_log_lines()}
        self.assertEqual(clients, {"alice", "bob", None})


# -- start-up -----------------------------------------------------------------------------------------------------

class StartUp(TeamCase):

    def run_serve(self, *args, key=API_KEY):
        env = child_env(**({"VT_API_KEY": key} if key else {}))
        proc = subprocess.run([BINARY, "serve", "--listen", "127.0.0.1:0", *args], env=env,
                              stdout=subprocess.PIPE, stderr=subprocess.PIPE, timeout=30)
        return proc.returncode, proc.stderr.decode(errors="replace")

    def test_tokens_and_a_server_key_listen_beyond_loopback_without_allow_remote_clients(self):
        alice, alice_line = new_token("alice")
        bob, bob_line = new_token("bob")
        shim = self.start_shim("--listen", "0.0.0.0:0", "--client-tokens", self.tokens_file(alice_line, bob_line),
                               tls=True)
        listening = self.listening_line(shim)
        self.assertTrue(listening["address"].startswith("0.0.0.0:"), listening)
        self.assertEqual((listening["tls"], listening["tls_subject"], listening["client_tokens"],
                          listening["server_key"]), ("on", "CN=localhost", 2, "configured"))
        shim.host = "127.0.0.1"
        status, _, body = shim.request("GET", LEGACY, headers={"x-apikey": alice})
        self.assertEqual(status, 200, body)
        self.assertEqual(shim.request("GET", LEGACY, headers={"x-apikey": API_KEY})[0], 401)
        other = non_loopback_ipv4()
        if other:
            # Beyond loopback: the certificate names 127.0.0.1 and localhost only, so this client checks nothing.
            shim.host = other
            status, _, body = shim.request("GET", PASSTHROUGH, headers={"x-apikey": bob},
                                           context=certs.unverified_context())
            self.assertEqual(status, 200, body)
            self.assertEqual(shim.request("GET", PASSTHROUGH, context=certs.unverified_context())[0], 401)
        self.assertEqual({r.header("x-apikey") for r in self.up.requests()}, {API_KEY})

    def test_the_environment_names_the_certificate_and_the_tokens(self):
        c = certs.shared_certs()
        alice, alice_line = new_token("alice")
        env = child_env(VT_API_KEY=API_KEY, SIGMA_SHIM_TLS_CERT=c.localhost_cert, SIGMA_SHIM_TLS_KEY=c.localhost_key,
                        SIGMA_SHIM_CLIENT_TOKENS=self.tokens_file(alice_line))
        shim = self.start_shim(env=env, tls=certs.client_context(c.ca_cert))
        listening = self.listening_line(shim)
        self.assertEqual((listening["tls"], listening["client_tokens"]), ("on", 1))
        self.assertEqual(shim.request("GET", LEGACY, headers={"x-apikey": alice})[0], 200)
        self.assertEqual(shim.request("GET", LEGACY)[0], 401)
        # Without either: plain HTTP, no tokens.
        plain = self.start_shim()
        listening = self.listening_line(plain)
        self.assertEqual((listening["tls"], listening["client_tokens"]), ("off", "off"))
        self.assertNotIn("tls_subject", listening)

    def test_refused_configurations_exit_2(self):
        c = certs.shared_certs()
        alice, alice_line = new_token("alice")
        tokens = self.tokens_file(alice_line)
        upstream = ["--upstream", self.up.url()]
        # Tokens need a server-side key to put in their place (but for the demo upstream, which needs none).
        code, err = self.run_serve("--client-tokens", tokens, *upstream, key=None)
        self.assertEqual(code, 2, err)
        self.assertIn("--client-tokens", err)
        demo = self.start_shim("--client-tokens", tokens, "--upstream", "demo", key=None)
        self.assertEqual(self.listening_line(demo)["client_tokens"], 1)
        self.assertEqual(demo.request("GET", LEGACY)[0], 401)
        # The certificate and key go together, and must load.
        for args in (["--tls-cert", c.localhost_cert], ["--tls-key", c.localhost_key]):
            with self.subTest(args=args[0]):
                code, err = self.run_serve(*args, *upstream)
                self.assertEqual(code, 2, err)
                self.assertIn("--tls-cert and --tls-key go together", err)
        garbage = os.path.join(self.tmp, "garbage.pem")
        with open(garbage, "w") as f:
            f.write("not PEM at all\n")
        with open(c.localhost_key) as f:
            key_body = "".join(line for line in f.read().splitlines() if not line.startswith("-----"))
        for cert, key in ((garbage, c.localhost_key), (c.localhost_cert, garbage), (c.localhost_cert, c.rotated_key),
                          (c.localhost_key, c.localhost_cert)):
            with self.subTest(cert=os.path.basename(cert), key=os.path.basename(key)):
                code, err = self.run_serve("--tls-cert", cert, "--tls-key", key, *upstream)
                self.assertEqual(code, 2, err)
                self.assertTrue(err.strip(), "no reason given")
                self.assertNotIn(key_body, err)
        code, err = self.run_serve("--tls-cert", os.path.join(self.tmp, "absent.crt"), "--tls-key", c.localhost_key,
                                   *upstream)
        self.assertEqual(code, 2, err)
        # A tokens file that does not parse: the line is named, no hash is quoted.
        hash_a = "sha256:" + "a" * 64
        hash_b = "sha256:" + "b" * 64
        for text, where in (("alice " + hash_a + "\n# ok\nbob sha256:zz\n", "line 3"),
                            ("alice " + hash_a + "\nalice " + hash_b + "\n", "line 2"),
                            ("alice " + hash_a + "\nbob " + hash_a + "\n", "line 2"),
                            ("\n\nalice " + hash_a + " quota-per-minute=0\n", "line 3"),
                            ("alice " + hash_a + " colour=blue\n", "line 1"),
                            ("bad/name " + hash_a + "\n", "line 1"),
                            ("alice\n", "line 1")):
            with self.subTest(tokens=text):
                bad = self.tokens_file(text.rstrip("\n"), name="bad-tokens")
                code, err = self.run_serve("--client-tokens", bad, *upstream)
                self.assertEqual(code, 2, err)
                # tokens_file() puts a comment line first.
                number = int(where.split()[1]) + 1
                self.assertIn("line %d" % number, err)
                self.assertIn(bad, err)
                self.assertNotIn("a" * 64, err)
        code, err = self.run_serve("--client-tokens", os.path.join(self.tmp, "absent"), *upstream)
        self.assertEqual(code, 2, err)


if __name__ == "__main__":
    unittest.main()
