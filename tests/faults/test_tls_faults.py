"""TLS to the upstream fails: the handshake breaks (garbage, a close, silence), or the certificate is expired,
self-signed, or for another host. Verification cannot be turned off, so the client gets 503 TransientError
(504 DeadlineExceededError when the handshake never finishes), no request ever reaches that upstream, and the
shim recovers once the upstream presents a good certificate again (same port, same shim)."""

import time
import unittest

import faulty_upstream as fu
from faultlib import LEGACY, PASSTHROUGH, FaultTestCase


class TlsFaults(FaultTestCase):

    @classmethod
    def setUpClass(cls):
        super().setUpClass()
        cls.certs = fu.fault_certs()

    def tls_shim(self):
        up = self.make_upstream(certs={name: self.certs[name] for name in
                                       ("good", "wrong_host", "expired", "self_signed")})
        up.cert = "good"
        self.start_shim(up, upstream_url=up.url("localhost"), args=["--upstream-ca", self.certs["ca"]])
        return up

    def both_routes(self, up, status, code, at_deadline=False):
        for route, target in (("reconstructed", LEGACY), ("passthrough", PASSTHROUGH)):
            with self.subTest(route=route):
                ex = self.get(target)
                self.assertShimError(ex, status, code)
                if at_deadline:
                    self.assertAtDeadline(ex)
                else:
                    self.assertFast(ex)
        self.assertEqual(up.requests(), [], "a request was sent over a connection that is not trusted")

    def test_bad_certificates(self):
        up = self.tls_shim()
        for cert in ("expired", "self_signed", "wrong_host"):
            with self.subTest(cert=cert):
                up.cert = cert
                seen = len(self.shim.request_log_lines())
                self.both_routes(up, 503, "TransientError")
                deadline = time.monotonic() + 5  # the log line follows the answer
                while len(self.shim.request_log_lines()) < seen + 2 and time.monotonic() < deadline:
                    time.sleep(0.02)
                notes = [l.get("note", "") for l in self.shim.request_log_lines()[seen:]]
                self.assertEqual(len(notes), 2, notes)
                for note in notes:
                    self.assertIn("certificate verify failed", note)
        up.cert = "good"
        self.assertHealthy()

    def test_handshake_garbage(self):
        up = self.tls_shim()
        up.handshake = "garbage"
        self.both_routes(up, 503, "TransientError")
        up.handshake = None
        self.assertHealthy()

    def test_handshake_closed(self):
        up = self.tls_shim()
        up.handshake = "close"
        self.both_routes(up, 503, "TransientError")
        up.handshake = None
        self.assertHealthy()

    def test_handshake_never_answered(self):
        up = self.tls_shim()
        up.handshake = "silent"
        self.both_routes(up, 504, "DeadlineExceededError", at_deadline=True)
        up.handshake = None
        self.assertHealthy()


if __name__ == "__main__":
    unittest.main()
