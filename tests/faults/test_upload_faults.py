"""A pass-through upload whose upstream dies (RST) or stops reading half way. No upstream status line has been
relayed yet, so the client gets the shim's own error, complete, and the connection is closed (the rest of its
body is not awaited): 503 TransientError when the upstream died, 504 DeadlineExceededError when it stalled.
(How much of the body the client got to send before the answer depends on socket buffers, ~20 MB on
loopback, so it is not asserted.)"""

import unittest

from faultlib import MARGIN, DEADLINE, FaultTestCase

MB = 1 << 20
TOTAL = 16 * MB


class UploadFaults(FaultTestCase):

    def test_upstream_dies_half_way(self):
        up = self.make_upstream()
        self.start_shim(up)
        up.script("upload_dies", after=2 * MB)
        ex = self.upload()
        self.assertShimError(ex, 503, "TransientError")
        self.assertTrue(ex.closed, ex)
        self.assertLess(ex.elapsed, DEADLINE + MARGIN, ex)
        [req] = up.requests("/api/v3/files")
        self.assertEqual(req.body_bytes, 2 * MB)
        self.assertHealthy()

    def test_upstream_stops_reading_half_way(self):
        up = self.make_upstream()
        self.start_shim(up)
        up.script("upload_stalls", after=2 * MB, stall=DEADLINE + 1.0)
        ex = self.upload()
        self.assertShimError(ex, 504, "DeadlineExceededError")
        self.assertTrue(ex.closed, ex)
        self.assertAtDeadline(ex)
        self.assertHealthy()

    def upload(self):
        from faultlib import upload
        return upload(self.shim.port, "/api/v3/files", TOTAL, headers=[("x-apikey", self.next_key())])


if __name__ == "__main__":
    unittest.main()
