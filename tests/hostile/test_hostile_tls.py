"""The hostile client suite again, over the shim's HTTPS listener (--tls-cert, --tls-key): the same malformed,
oversized, smuggled, slow, idle and flooding requests, sent inside a TLS session that each client completes
first. The cases and their expectations are test_hostile.py's; a TLS connection must end the same way a plain one
does, and never in "connection failed" (HostileCase.tearDown checks it after every test).

The TLS listener's own hostile input (plain HTTP on the TLS port, a handshake cut short or trickled) is in
tests/e2e/test_team.py.
"""

import unittest

import test_hostile as plain
from test_operations import parse_metrics


class OverTls:
    """Mixed in before a case class of test_hostile.py: its shim serves HTTPS, its clients speak TLS, and after
    each test every connection was a TLS client that completed its handshake (none was taken for anything
    else, none failed), so each case did run inside TLS."""

    tls = True

    def tearDown(self):
        super().tearDown()  # first: the shim is alive and no connection failed (the shim is stopped later)
        status, _, body = self.shim.request("GET", "/_shim/metrics")
        self.assertEqual(status, 200)
        results = {labels.get("result"): value for name, labels, value in parse_metrics(body.decode())
                   if name == "sigma_shim_tls_handshakes_total"}
        self.assertGreater(results.get("ok", 0), 0, results)
        self.assertEqual({k: v for k, v in results.items() if k != "ok" and v}, {}, results)


class MalformedRequestsTls(OverTls, plain.MalformedRequests):
    pass


class LimitsTls(OverTls, plain.Limits):
    pass


class SmugglingTls(OverTls, plain.Smuggling):
    pass


class HostileTargetsTls(OverTls, plain.HostileTargets):
    pass


class SlowAndIdleTls(OverTls, plain.SlowAndIdle):
    pass


class FloodsTls(OverTls, plain.Floods):
    pass


class ThousandIdleConnectionsTls(OverTls, plain.ThousandIdleConnections):
    pass


if __name__ == "__main__":
    unittest.main()
