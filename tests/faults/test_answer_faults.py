"""The upstream answers, but not with what a reconstruction can use: invalid gzip, megabytes of non-JSON, a
body over --upstream-max-body-bytes, a header block over the limit, a 500 with HTML, a 429 with and without
Retry-After. A reconstruction answers 503 TransientError (or relays a VirusTotal-shaped error with its
status); pass-through relays whatever well-formed answer came, byte for byte, since it is the upstream's."""

import hashlib
import unittest

import faulty_upstream as fu
from faultlib import LEGACY, PASSTHROUGH, TRANSIENT, FaultTestCase

MB = 1 << 20


class AnswerFaults(FaultTestCase):

    def test_invalid_gzip(self):
        up = self.make_upstream()
        self.start_shim(up)
        up.script("invalid_gzip")
        ex = self.get(LEGACY)
        self.assertShimError(ex, 503, "TransientError")
        self.assertFast(ex)
        # Pass-through does not inflate: compressed stays compressed, broken or not.
        ex = self.get(PASSTHROUGH)
        self.assertEqual(ex.status, 200, ex)
        self.assertTrue(ex.complete, ex)
        self.assertEqual(ex.headers.get("content-encoding"), "gzip")
        self.assertTrue(ex.body.startswith(b"\x1f\x8b") and b"this is not deflate data" in ex.body)
        self.assertHealthy()

    def test_five_megabytes_of_non_json(self):
        up = self.make_upstream()
        self.start_shim(up, args=["--upstream-max-body-bytes", str(8 * MB)])
        up.script("non_json", size=5 * MB)
        ex = self.get(LEGACY)
        self.assertShimError(ex, 503, "TransientError")
        self.assertWithinDeadline(ex)
        ex = self.get(PASSTHROUGH)
        self.assertEqual(ex.status, 200, ex)
        self.assertTrue(ex.complete, ex)
        self.assertEqual(len(ex.body), 5 * MB)
        self.assertTrue(ex.body.startswith(b"<html>"))
        self.assertWithinDeadline(ex)
        self.assertHealthy()

    def test_body_over_upstream_max_body_bytes(self):
        # --upstream-max-body-bytes is 256 KiB here; the body is 1 MiB, said up front, chunked, or gzip-compressed
        # to a few KiB (a small answer that inflates past the limit).
        up = self.make_upstream()
        self.start_shim(up)
        for params in ({}, {"chunked": True}, {"gzipped": True}, {"gzipped": True, "size": 16 * MB}):
            with self.subTest(**params):
                script = dict({"size": MB}, **params)
                fu.big_json_body(script["size"], script.get("gzipped", False))  # made before the clock starts
                up.script("big_json", **script)
                ex = self.get(LEGACY)
                self.assertShimError(ex, 503, "TransientError")
                self.assertFast(ex)
        # Pass-through streams: no limit applies, the answer is relayed whole.
        up.script("big_json", size=MB)
        ex = self.get(PASSTHROUGH)
        self.assertEqual(ex.status, 200, ex)
        self.assertTrue(ex.complete, ex)
        self.assertEqual(ex.body, fu.json_of_size(MB))
        up.script("big_json", size=MB, chunked=True)
        ex = self.get(PASSTHROUGH)
        self.assertEqual(ex.status, 200, ex)
        self.assertTrue(ex.complete, ex)
        self.assertEqual(hashlib.sha256(ex.body).digest(), hashlib.sha256(fu.json_of_size(MB)).digest())
        self.assertHealthy()

    def test_header_block_over_the_limit(self):
        self.start_shim(self.make_upstream())
        self.check_fault("huge_headers", TRANSIENT, TRANSIENT, size=100 * 1024)
        self.assertHealthy()

    def test_500_with_html(self):
        up = self.make_upstream()
        self.start_shim(up)
        up.script("html_500")
        ex = self.get(LEGACY)
        self.assertShimError(ex, 503, "TransientError")
        self.assertFast(ex)
        ex = self.get(PASSTHROUGH)
        self.assertEqual(ex.status, 500, ex)
        self.assertTrue(ex.complete, ex)
        self.assertEqual(ex.body, fu.HTML_500)
        self.assertEqual(ex.headers.get("content-type"), "text/html; charset=utf-8")
        self.assertEqual(ex.headers.get("x-sigma-shim"), "passthrough")
        self.assertFast(ex)
        self.assertHealthy()

    def _quota(self, retry_after):
        up = self.make_upstream()
        self.start_shim(up)
        up.script("quota", retry_after=retry_after)
        for route, target in (("reconstructed", LEGACY), ("passthrough", PASSTHROUGH)):
            with self.subTest(route=route):
                key = self.next_key()
                ex = self.get(target, key=key)
                # VirusTotal's 429, relayed: labelled by the route, never `local`.
                self.assertVtErrorAnswer(ex, 429, "QuotaExceededError", route)
                self.assertEqual(ex.json()["error"]["message"], "Quota exceeded")  # the upstream's body
                self.assertEqual(ex.headers.get("retry-after"),
                                 None if retry_after is None else str(retry_after), ex)
                self.assertFast(ex)
                # The key is now known to be exhausted (for Retry-After, else a minute): the next request
                # with it is refused locally, with a Retry-After, and VirusTotal is not asked.
                # The shim notes the 429 after relaying it, before it logs the request: wait for that line.
                self.wait_logged(ex)
                up.clear()
                ex = self.get(target, key=key)
                self.assertShimError(ex, 429, "QuotaExceededError")
                self.assertIn("sigma-shim", ex.json()["error"]["message"])
                wait = int(ex.headers.get("retry-after", "0"))
                self.assertTrue(1 <= wait <= (retry_after or 60), ex)
                self.assertEqual(up.requests(), [])
        self.assertHealthy()

    def test_429_with_retry_after(self):
        self._quota(7)

    def test_429_without_retry_after(self):
        self._quota(None)


if __name__ == "__main__":
    unittest.main()
