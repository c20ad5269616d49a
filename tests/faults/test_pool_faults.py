"""Faults that outlive one request: what the upstream sends on a keep-alive connection around its answers.
Interim (1xx) answers before the real one, an unasked 101, an extra answer after the real one, a close or a
"408 Request Timeout" while the connection sits idle in the pool. Each must cost at most the one request it
came with; none may make a later request take an answer that was not its own (a desynchronised pooled
connection could hand one client's answer, fetched with its key, to another)."""

import time
import unittest

import faulty_upstream as fu
from faultlib import LEGACY, PASSTHROUGH, SETTLE, FaultTestCase, exchange


class PoolFaults(FaultTestCase):

    def assertOwnAnswers(self):
        """The next requests on both routes get their own, well-formed answers."""
        ex = self.get(LEGACY)
        self.assertEqual(ex.status, 200, ex)
        self.assertEqual(ex.headers.get("x-sigma-shim"), "reconstructed", ex)
        self.assertEqual(ex.json()["data"]["type"], "sigma_analysis", ex)
        ex = self.get(PASSTHROUGH)
        self.assertEqual(ex.status, 200, ex)
        self.assertEqual(ex.body, fu.OTHER_OBJECT, ex)

    def wait_upstream_closed(self):
        """Until the upstream has closed every connection (as it does to idle ones in these faults)."""
        deadline = time.monotonic() + SETTLE
        while self.up.open_connections() and time.monotonic() < deadline:
            time.sleep(0.02)
        self.assertEqual(self.up.open_connections(), 0)

    def test_interim_answers_are_read_past(self):
        # Regression: a 103 Early Hints (or an unasked 100 Continue) was taken for the answer, so the legacy
        # route answered 503 and pass-through relayed a bodiless 1xx; the real answer stayed on the pooled
        # connection and the next request on it read the previous one's bytes.
        up = self.make_upstream()
        self.start_shim(up)
        for statuses in ((103,), (100,), (100, 103, 103)):
            with self.subTest(statuses=statuses):
                up.script("interim", statuses=statuses)
                ex = self.get(LEGACY)
                self.assertEqual(ex.status, 200, ex)
                self.assertFast(ex)
                ex = self.get(PASSTHROUGH)
                self.assertEqual(ex.status, 200, ex)
                self.assertEqual(ex.body, fu.OTHER_OBJECT, ex)
                self.assertFast(ex)
                up.script("ok")
                self.assertOwnAnswers()
        self.assertHealthy()

    def test_too_many_interim_answers(self):
        up = self.make_upstream()
        self.start_shim(up)
        up.script("interim", statuses=(103,) * 20)
        ex = self.get(LEGACY)
        self.assertShimError(ex, 503, "TransientError")
        self.assertFast(ex)
        ex = self.get(PASSTHROUGH)
        self.assertShimError(ex, 503, "TransientError")
        self.assertFast(ex)
        self.assertHealthy()

    def test_unasked_101(self):
        # Regression: pass-through relayed the 101 and kept the connection as if an answer had ended.
        up = self.make_upstream()
        self.start_shim(up)
        up.script("switching_protocols")
        ex = self.get(LEGACY)
        self.assertShimError(ex, 503, "TransientError")
        self.assertFast(ex)
        ex = self.get(PASSTHROUGH)
        self.assertShimError(ex, 503, "TransientError")
        self.assertFast(ex)
        self.assertHealthy()

    def test_extra_answer_after_the_answer(self):
        # Regression: an answer nobody asked for, arriving after the real one on a pooled connection, was
        # taken for the next request's answer (pass-through relayed it as the upstream's 200).
        up = self.make_upstream()
        self.start_shim(up)
        for pause in (0.0, 0.2):
            with self.subTest(pause=pause):
                for target in (LEGACY, PASSTHROUGH):
                    up.script("ok_then_extra", pause=pause)
                    ex = self.get(target)
                    self.assertEqual(ex.status, 200, ex)
                    self.assertNotIn(b"smuggled", ex.body)
                    up.script("ok")
                    time.sleep(pause + 0.2)
                    self.assertOwnAnswers()
        self.assertHealthy()

    def test_idle_connection_closed_by_upstream(self):
        # Regression: a pooled connection the upstream had closed while idle was reused; a GET is retried once
        # on a fresh connection, but a request with a body cannot be, and the upload failed with 503.
        up = self.make_upstream()
        self.start_shim(up)
        up.script("ok_then_idle_close", after=0.1)
        self.assertOwnAnswers()
        self.wait_upstream_closed()
        up.script("ok")
        ex = exchange(self.shim.port, "POST", PASSTHROUGH, [("x-apikey", self.next_key()),
                                                           ("Content-Type", "application/json")],
                      body=b'{"data": {"type": "comment"}}')
        self.assertEqual(ex.status, 200, ex)
        self.assertEqual(ex.body, fu.OTHER_OBJECT, ex)
        self.assertFast(ex)
        self.assertEqual([r.method for r in up.requests()][-1:], ["POST"])
        self.assertHealthy()

    def test_idle_connection_gets_408_then_close(self):
        # Regression: servers may say "408 Request Timeout" before closing an idle connection; the shim took
        # that 408 for the next request's answer (relayed as is on pass-through, 503 on the legacy route).
        up = self.make_upstream()
        self.start_shim(up)
        up.script("ok_then_idle_close", after=0.1, goodbye=fu.REQUEST_TIMEOUT_408)
        self.assertOwnAnswers()
        self.wait_upstream_closed()
        up.script("ok")
        self.assertOwnAnswers()
        self.assertHealthy()


if __name__ == "__main__":
    unittest.main()
