"""The upstream's connection breaks or stalls: refused, reset at each stage, cut short, never answering,
answering one byte a second. Each fault on a legacy route (the shim needs the whole answer: 503 TransientError
or 504 DeadlineExceededError, complete and VirusTotal-shaped) and on a pass-through route (the same before the
upstream's status line; after it, the status cannot be changed, so the client's connection is closed before
the body's framing is satisfied), within the deadline, with the shim healthy and its descriptors back after."""

import unittest

import faulty_upstream as fu
from faultlib import CUT_OFF, CUT_OFF_AT_DEADLINE, LEGACY, PASSTHROUGH, TIMED_OUT, TRANSIENT, FaultTestCase


class ConnectionFaults(FaultTestCase):

    def test_connection_refused(self):
        port = fu.closed_port()
        self.start_shim(upstream_url="http://127.0.0.1:%d" % port)
        ex = self.get(LEGACY)
        self.assertShimError(ex, 503, "TransientError")
        self.assertFast(ex)
        ex = self.get(PASSTHROUGH)
        self.assertShimError(ex, 503, "TransientError")
        self.assertFast(ex)
        self.assertTrue(ex.closed, ex)
        # The upstream comes back on the same port: the shim recovers without a restart.
        self.up = self.make_upstream(port=port)
        self.assertHealthy()

    def test_reset_before_status_line(self):
        self.start_shim(self.make_upstream())
        self.check_fault("reset_before_status", TRANSIENT, TRANSIENT)
        self.assertHealthy()

    def test_reset_on_pooled_connection_is_retried_once(self):
        # A keep-alive connection the upstream resets before answering looks like one it closed while idle:
        # a GET is sent once more on a fresh connection, which is reset too. Two attempts, then 503.
        up = self.make_upstream()
        # One thread: a pooled connection is reused only by requests on the io_context it belongs to, and each
        # self.get is a new client connection, which more threads would spread over their io_contexts.
        self.start_shim(up, args=["--threads", "1"])
        ex = self.get(PASSTHROUGH)
        self.assertEqual(ex.status, 200)  # pools one connection, once the relay is over (its log line follows)
        self.wait_logged(ex)
        self.assertEqual(up.open_connections(), 1)
        up.clear()
        up.script("reset_before_status")
        ex = self.get(PASSTHROUGH)
        self.assertShimError(ex, 503, "TransientError")
        self.assertFast(ex)
        self.assertEqual(len(up.requests()), 2)
        self.assertHealthy()

    def test_reset_mid_headers(self):
        self.start_shim(self.make_upstream())
        self.check_fault("reset_mid_headers", TRANSIENT, TRANSIENT)
        self.assertHealthy()

    def test_reset_mid_body(self):
        self.start_shim(self.make_upstream())
        for chunked in (False, True):
            with self.subTest(chunked=chunked):
                self.check_fault("reset_mid_body", TRANSIENT, CUT_OFF, size=100000, chunked=chunked)
        self.assertHealthy()

    def test_content_length_longer_than_body_then_close(self):
        self.start_shim(self.make_upstream())
        ex = self.check_fault("short_body", TRANSIENT, CUT_OFF, size=100000, then="close")
        self.assertEqual(ex.headers.get("content-length"), "100000")
        self.assertHealthy()

    def test_content_length_longer_than_body_then_silence(self):
        self.start_shim(self.make_upstream())
        self.check_fault("short_body", TIMED_OUT, CUT_OFF_AT_DEADLINE, size=100000, then="hold")
        self.assertHealthy()

    def test_broken_chunked_encoding(self):
        self.start_shim(self.make_upstream())
        self.check_fault("broken_chunked", TRANSIENT, CUT_OFF)
        self.assertHealthy()

    def test_no_answer_at_all(self):
        self.start_shim(self.make_upstream())
        self.check_fault("silent", TIMED_OUT, TIMED_OUT)
        self.assertHealthy()

    def test_one_byte_a_second(self):
        # The deadline covers the whole header, not each byte of it.
        self.start_shim(self.make_upstream())
        self.check_fault("drip", TIMED_OUT, TIMED_OUT)
        self.assertHealthy()

    def test_body_one_byte_a_second(self):
        self.start_shim(self.make_upstream())
        self.check_fault("slow_body", TIMED_OUT, CUT_OFF_AT_DEADLINE)
        self.assertHealthy()


class RetriedFaults(FaultTestCase):
    """With --upstream-retries 1 a legacy fetch that failed transiently is tried again: the answer is the
    same, and the time is bounded by two deadlines and the backoff (200 ms +-50%)."""

    def test_reset_is_retried_then_503(self):
        up = self.make_upstream()
        self.start_shim(up, args=["--upstream-retries", "1"])
        up.script("reset_before_status")
        ex = self.get(LEGACY)
        self.assertShimError(ex, 503, "TransientError")
        self.assertFast(ex)
        self.assertEqual(len(up.requests("/api/v3/files/%s/behaviours" % fu.DEMO_SHA256)), 2)
        self.assertEqual(len(up.requests()), 4)
        self.assertHealthy()

    def test_silence_is_retried_then_504(self):
        up = self.make_upstream()
        self.start_shim(up, args=["--upstream-retries", "1"])
        up.script("silent")
        ex = self.get(LEGACY)
        self.assertShimError(ex, 504, "DeadlineExceededError")
        self.assertGreater(ex.elapsed, 2 * 0.9 * 2.0)
        self.assertWithinDeadline(ex, deadlines=2.15)
        self.assertHealthy()


if __name__ == "__main__":
    unittest.main()
