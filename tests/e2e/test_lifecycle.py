"""The server core's life: a drain whose deadline passes with work still under way (a slow upstream, a slow
client, a background shadow comparison, an idle keep-alive connection) ends every piece of it and exits 0,
under ASan with nothing leaked; and upstream connections that stay on the thread that opened them."""

import http.client
import os
import signal
import socket
import threading
import time
import unittest

from harness import API_KEY, ShimTestCase, decoded
from test_operations import parse_metrics

F912 = "f912398cb3542ab704fe917af4a60d4feee21ac577535b10453170f10c6fd6de"
F568 = "f568a0362c238ebbadca53fd4307dac2fe209ddc6257fd300379ebc3c10261e9"
HERE = os.path.dirname(os.path.abspath(__file__))
LEGACY_F912 = os.path.join(HERE, "..", "fixtures", "vt", "legacy_files_sigma_analysis.real_f912398c.json")
RELATIONSHIP = "/api/v3/files/%s/sigma_analysis"
HANG = 120  # seconds the upstream double holds what the test wants in flight: far past any bound below
# The drain must end within its timeout plus the unwinding; this bound only catches a hang (HANG), never
# measures speed.
EXIT_BOUND = 30


def metric(text, name):
    return sum(value for n, _, value in parse_metrics(text) if n == name)


class Lifecycle(ShimTestCase):

    def metrics(self, shim):
        status, headers, body = shim.request("GET", "/_shim/metrics")
        self.assertEqual(status, 200)
        return decoded(headers, body).decode()

    def wait_until(self, what, predicate, timeout=20):
        deadline = time.monotonic() + timeout
        while not predicate():
            if time.monotonic() > deadline:
                self.fail("timed out waiting for " + what)
            time.sleep(0.02)

    def test_drain_deadline_cancels_what_is_left_and_exits_cleanly(self):
        with open(LEGACY_F912, "rb") as f:
            self.up.set_canned(RELATIONSHIP % F912, 200, f.read())
        # The shadow reconstruction of F912 waits on its behaviour page; a pass-through waits on its answer.
        self.up.set_delay(HANG, "/api/v3/files/%s/behaviours" % F912)
        self.up.set_delay(HANG, "/api/v3/echo/slow")
        shim = self.start_shim("--mode", "shadow", "--threads", "2", "--drain-timeout", "1s",
                               "--request-timeout", "%ds" % HANG, "--idle-timeout", "%ds" % HANG,
                               "--upstream-timeout", "%ds" % HANG, "--upstream-retries", "0")

        # 1. A shadow request: answered at once, its comparison left running in the background.
        status, _, _ = shim.request("GET", RELATIONSHIP % F912, headers={"x-apikey": API_KEY})
        self.assertEqual(status, 200)
        self.wait_until("the background reconstruction to reach the upstream",
                        lambda: self.up.requests("/api/v3/files/%s/behaviours" % F912))
        # 2. An idle keep-alive connection.
        idle = shim.connection(timeout=EXIT_BOUND)
        idle.request("GET", "/_shim/livez")
        livez = idle.getresponse()
        livez.read()
        self.assertEqual(livez.status, 200)
        # 3. A pass-through whose upstream does not answer.
        relayed = {}

        def slow_passthrough():
            conn = shim.connection(timeout=EXIT_BOUND)
            try:
                conn.request("GET", "/api/v3/echo/slow", headers={"x-apikey": API_KEY})
                relayed["status"] = conn.getresponse().status
            except (OSError, http.client.HTTPException) as e:
                relayed["error"] = e
            finally:
                conn.close()

        relay_thread = threading.Thread(target=slow_passthrough, daemon=True)
        relay_thread.start()
        self.wait_until("the pass-through to reach the upstream", lambda: self.up.requests("/api/v3/echo/slow"))
        # 4. A client that sends half a request header and stops.
        slow_client = socket.create_connection((shim.host, shim.port), timeout=EXIT_BOUND)
        self.addCleanup(slow_client.close)
        slow_client.sendall(b"GET /api/v3/files/" + F568.encode() + b" HTTP/1.1\r\nHost: x\r\n")
        # Idle, pass-through, slow client, and the scrape itself.
        self.wait_until("four open connections",
                        lambda: metric(self.metrics(shim), "sigma_shim_open_connections") == 4)

        started = time.monotonic()
        shim.proc.send_signal(signal.SIGTERM)
        code = shim.wait(EXIT_BOUND)
        took = time.monotonic() - started
        stderr = shim.stderr_text()
        self.assertEqual(code, 0, stderr[-3000:])
        self.assertLess(took, EXIT_BOUND, stderr[-3000:])
        self.assertNotIn("Sanitizer", stderr)
        logs = shim.log_lines()
        cancelling = [d for d in logs if d.get("msg") == "drain timeout: cancelling"]
        self.assertEqual(len(cancelling), 1, stderr[-3000:])
        self.assertEqual(cancelling[0].get("in_flight"), 1, cancelling)  # the pass-through
        self.assertEqual(cancelling[0].get("background"), 1, cancelling)  # the shadow comparison
        stopped = [d for d in logs if d.get("msg") == "stopped"]
        self.assertEqual([d.get("abandoned") for d in stopped], [2], stderr[-3000:])
        self.assertFalse([d for d in logs if d.get("level") == "error"], stderr[-3000:])

        # Every client connection was closed by the shim, none answered as if the upstream had.
        relay_thread.join(EXIT_BOUND)
        self.assertFalse(relay_thread.is_alive())
        self.assertNotIn("status", relayed, relayed)
        self.assertEqual(slow_client.recv(1024), b"")
        self.assertEqual(idle.sock.recv(1024), b"")
        idle.close()

    def test_upstream_connections_stay_on_the_thread_that_opened_them(self):
        # No cache: every legacy request fetches upstream, beside the pass-through ones, on both threads.
        shim = self.start_shim("--threads", "2", "--cache-bytes", "0", "--upstream-connections", "8")
        paths = [RELATIONSHIP % F912, "/api/v3/sigma_analyses/" + F568, "/api/v3/files/" + F568,
                 "/api/v3/echo/x"]
        failures = []

        def client(n):
            conn = shim.connection()
            try:
                for i in range(12):
                    path = paths[(n + i) % len(paths)]
                    conn.request("GET", path, headers={"x-apikey": API_KEY})
                    resp = conn.getresponse()
                    resp.read()
                    if resp.status not in (200, 201):
                        failures.append((path, resp.status))
            finally:
                conn.close()

        clients = [threading.Thread(target=client, args=(n,)) for n in range(8)]
        for t in clients:
            t.start()
        for t in clients:
            t.join(120)
        self.assertEqual(failures, [])
        text = self.metrics(shim)
        # Opened, taken and given back: each counted; more than once per upstream request made.
        self.assertGreater(metric(text, "sigma_shim_upstream_connection_uses_total"), len(self.up.requests()))
        self.assertEqual(metric(text, "sigma_shim_upstream_connection_thread_switches_total"), 0)


if __name__ == "__main__":
    unittest.main()
