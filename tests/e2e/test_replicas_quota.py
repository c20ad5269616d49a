"""One key's quota kept by several replicas together (docs/serve.md "Running several replicas"): with Redis, the ledger
decides for all of them (9 requests at --quota-per-minute 6 reach the upstream 6 times, whichever replicas
they come through), and an upstream 429 seen by one replica stops the key at every replica; without an answer
from Redis, each replica keeps to its share, floor(6 / 3) = 2, so together they still stay within 6.

Real time: every bound on a Retry-After is derived from times this test read before and after."""

import json
import os
import sys
import threading
import time
import unittest

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))

from harness import decoded
from test_economy import metric
from test_replicas import RefusingPort, ReplicasTestCase

QUOTA = ("--quota-per-minute", "6", "--upstream-retries", "0")
VT_QUOTA = {"error": {"code": "QuotaExceededError", "message": "Quota exceeded"}}


class ReplicaQuota(ReplicasTestCase):

    def echo(self, shim, i):
        status, headers, body = shim.request("GET", "/api/v3/echo/q%d" % i)
        return status, headers, decoded(headers, body)

    def assertLocal429(self, status, headers, body, what):
        self.assertEqual(status, 429, "%s: %r" % (what, body[:300]))
        error = json.loads(body)["error"]
        self.assertEqual(error["code"], "QuotaExceededError", what)
        self.assertIn("(sigma-shim)", error["message"], "%s: refused by the shim, not the upstream" % what)
        self.assertRegex(headers.get("retry-after", ""), r"^[1-9][0-9]*$", what)
        return error["message"], int(headers["retry-after"])

    def spread(self, shims, n):
        """`n` concurrent pass-through requests, request i through replica i % len(shims): their answers."""
        barrier = threading.Barrier(n)
        results = [None] * n

        def one(i):
            barrier.wait()
            try:
                results[i] = self.echo(shims[i % len(shims)], i)
            except Exception as e:  # noqa: BLE001 - reported below, with the others
                results[i] = e

        threads = [threading.Thread(target=one, args=(i,)) for i in range(n)]
        for t in threads:
            t.start()
        for t in threads:
            t.join(60)
        for r in results:
            self.assertIsInstance(r, tuple, r)
        return results

    def test_nine_requests_at_six_a_minute_over_three_replicas_reach_the_upstream_six_times(self):
        shims = self.replicas(3, *QUOTA)
        first_sent = time.monotonic()
        results = self.spread(shims, 9)
        refused_seen = time.monotonic()
        admitted = [r for r in results if r[0] == 201]
        refused = [r for r in results if r[0] != 201]
        self.assertEqual(len(admitted), 6, [r[0] for r in results])
        self.assertEqual(len(refused), 3)
        for status, headers, body in refused:
            message, retry_after = self.assertLocal429(status, headers, body, "a request over the minute's 6")
            self.assertIn("the minute quota", message)
            # Until the first admitted request leaves the window, 60 s after it; rounded up.
            self.assertLessEqual(retry_after, 60)
            self.assertGreaterEqual(retry_after, 60 - (refused_seen - first_sent))
        self.assertEqual(self.up.count(), 6, self.up.requests())
        # Every decision was the shared ledger's.
        self.assertEqual(sum(metric(s, "sigma_shim_shared_quota_decisions_total", ledger="redis") for s in shims), 9)
        self.assertEqual(sum(metric(s, "sigma_shim_shared_quota_decisions_total", ledger="local") for s in shims), 0)
        # And a tenth, sequential, through any replica: still refused.
        status, headers, body = self.echo(shims[0], 10)
        self.assertLocal429(status, headers, body, "the 10th")
        self.assertEqual(self.up.count(), 6)

    def test_one_replica_may_spend_the_whole_quota_and_the_others_then_wait(self):
        # Alone, a replica would keep to its share of 2; with the ledger it is the key's 6 that count.
        a, b, c = self.replicas(3, *QUOTA)
        for i in range(6):
            status, _, body = self.echo(a, i)
            self.assertEqual(status, 201, "request %d through one replica: %r" % (i + 1, body[:300]))
        for shim in (b, c):
            status, headers, body = self.echo(shim, 6)
            self.assertLocal429(status, headers, body, "the 7th, through another replica")
        self.assertEqual(self.up.count(), 6, self.up.requests())

    def test_an_upstream_429_at_one_replica_stops_the_key_at_every_replica(self):
        a, b, c = self.replicas(3, "--upstream-retries", "0")
        self.up.set_canned("/api/v3/users/limited", 429, VT_QUOTA, headers=[("Retry-After", "30")])
        before = time.monotonic()
        status, headers, body = a.request("GET", "/api/v3/users/limited")
        self.assertEqual(status, 429)
        self.assertEqual(json.loads(decoded(headers, body))["error"]["message"], "Quota exceeded")  # VirusTotal's
        for shim in (b, c, a):
            status, headers, body = self.echo(shim, 1)
            message, retry_after = self.assertLocal429(status, headers, body, "after the upstream's 429")
            self.assertIn("the upstream quota", message)
            self.assertLessEqual(retry_after, 30)
            self.assertGreaterEqual(retry_after, 30 - (time.monotonic() - before) - 1)
        self.assertEqual(self.up.count(), 1, self.up.requests())

    def test_without_redis_each_replica_keeps_to_its_share(self):
        absent = RefusingPort()
        self.addCleanup(absent.close)
        url = "redis://127.0.0.1:%d/0" % absent.port
        shims = [self.replica(*QUOTA, url=url, redis_timeout="250ms") for _ in range(3)]
        results = self.spread(shims, 9)
        # Each replica admits its share, floor(6 / 3) = 2, of the 3 that came its way.
        self.assertEqual(sorted(r[0] for r in results), [201] * 6 + [429] * 3)
        for i, shim in enumerate(shims):
            mine = [results[j] for j in range(i, 9, 3)]
            self.assertEqual(sorted(r[0] for r in mine), [201, 201, 429], "replica %d" % i)
            self.assertEqual(metric(shim, "sigma_shim_shared_quota_decisions_total", ledger="local"), 3)
        for status, headers, body in (r for r in results if r[0] == 429):
            self.assertLocal429(status, headers, body, "over a replica's share")
        self.assertEqual(self.up.count(), 6, self.up.requests())

    def test_a_redis_restarted_empty_keeps_the_ledger_going(self):
        shim = self.replica(*QUOTA, redis_timeout="250ms")
        status, _, _ = self.echo(shim, 0)
        self.assertEqual(status, 201)
        self.redis.kill()
        status, _, _ = self.echo(shim, 1)  # decided alone, within this replica's share of 2
        self.assertEqual(status, 201)
        self.assertEqual(metric(shim, "sigma_shim_shared_quota_decisions_total", ledger="local"), 1)
        self.redis.restart()  # empty: no script, no ledger
        # The client connects again after its backoff (at most 1 s); meanwhile this replica decides alone (and
        # may refuse: its share is spent). Then the script is sent again (NOSCRIPT) and the empty ledger admits.
        deadline = time.monotonic() + 5.0
        i = 2
        while True:
            status, _, _ = self.echo(shim, i)
            if metric(shim, "sigma_shim_shared_quota_decisions_total", ledger="redis") >= 2:
                break
            self.assertIn(status, (201, 429))
            self.assertLess(time.monotonic(), deadline, "the ledger did not answer again")
            time.sleep(0.05)  # the poll's pace
            i += 1
        self.assertEqual(status, 201)
        self.assertTrue(any(k.startswith(b"sigma-shim:quota:") for k in self.redis.keys()))


if __name__ == "__main__":
    unittest.main()
