"""Several replicas of the shim in front of one key, sharing through one real Redis (docs/serve.md "Running several
replicas"): cold objects fetched once between them, one replica's fetch a hit at the others, and Redis down,
paused, restarted empty, absent at start-up, or short of memory costing sharing, never answers; a dead lock
owner's fetch taken over; the API key nowhere in Redis; every replica exiting 0.

Each test starts its own redis-server (redis_server.py) on a free port and counts what the upstream double
saw, so "one upstream request" is a fact. Deadlines are generous (--redis-timeout 5s) where sharing is the
point, so that a loaded machine cannot turn a slow Redis reply into a second upstream request."""

import os
import signal
import socket
import subprocess
import sys
import threading
import time
import unittest

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))

from harness import API_KEY, BINARY, SANITIZED, ShimTestCase, child_env, decoded, sha256_hex
from redis_server import RedisServer
from test_economy import metric

F568 = "f568a0362c238ebbadca53fd4307dac2fe209ddc6257fd300379ebc3c10261e9"   # demo: file + behaviour page
PS1 = "020876e69dac4b2cb5b75a616dbdac8b913f3cc06fbabd8f8dd3277691ba48b6"    # a 110 KB File object
DOCS_OBJ = "c885691ab568bd5bff581555e1d15ef82558c5a655c9c51ae5bd554b85fc7424"  # with sigma_rule objects
OTHER_KEY = "e2e-Other-ApiKey-0c1d2e3f4a"
SLOW = 3 if SANITIZED else 1   # ASan runs several times slower: bounds on elapsed time stretch by this


def relationship(file_id):
    return "/api/v3/files/%s/sigma_analysis" % file_id


class RefusingPort:
    """A port of 127.0.0.1 bound but not listening while this lives: a connect to it is refused."""

    def __init__(self):
        self.sock = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
        self.sock.bind(("127.0.0.1", 0))
        self.port = self.sock.getsockname()[1]

    def close(self):
        self.sock.close()


class ReplicasTestCase(ShimTestCase):

    def setUp(self):
        super().setUp()
        self.redis = self.start_redis()

    def start_redis(self, **kw):
        redis = RedisServer(**kw)
        self.addCleanup(redis.close)  # after the replicas' clean-ups (LIFO), which stop them first
        return redis.start()

    def replica(self, *args, url=None, redis_timeout="5s", clean=True):
        """A replica sharing through this test's Redis (or `url`); stopped by SIGTERM at the end, and then
        it must exit 0 without a sanitizer report, unless clean=False (a replica the test kills)."""
        args = list(args)
        if "--redis-timeout" not in args:
            args += ["--redis-timeout", redis_timeout]
        shim = self.start_shim("--redis", url or self.redis.url(0), "--replicas", "3", *args)
        if clean:
            self.addCleanup(self.stop_clean, shim)
        return shim

    def replicas(self, n=3, *args, **kw):
        return [self.replica(*args, **kw) for _ in range(n)]

    def stop_clean(self, shim):
        code = shim.stop()
        stderr = shim.stderr_text()
        self.assertEqual(code, 0, stderr[-3000:])
        self.assertNotIn("Sanitizer", stderr)
        self.assertNotIn("runtime error", stderr)

    def get(self, shim, path, headers=None):
        status, hdrs, body = shim.request("GET", path, headers=headers)
        return status, hdrs, decoded(hdrs, body)

    def timed_get(self, shim, path):
        start = time.monotonic()
        status, _, body = self.get(shim, path)
        return status, body, time.monotonic() - start

    def file_requests(self, sha256):
        return len([r for r in self.up.requests() if r.path == "/api/v3/files/" + sha256])

    def behaviour_requests(self, sha256):
        return len([r for r in self.up.requests() if r.path == "/api/v3/files/%s/behaviours" % sha256])

    def clones(self, source, n, tag):
        return [self.up.data.add_clone(source, "%s-%d" % (tag, i))[0] for i in range(n)]

    def reference(self, *file_ids):
        """What a lone shim (no Redis) answers for each file: the answers replicas must give. The upstream's
        record is cleared afterwards, so the test counts only its own requests."""
        lone = self.start_shim()
        out = {}
        for file_id in file_ids:
            status, _, body = self.get(lone, relationship(file_id))
            self.assertEqual(status, 200, body[:300])
            out[file_id] = body
        self.stop_clean(lone)
        self.up.clear_requests()
        return out

    def readyz(self, shim):
        status, headers, body = shim.request("GET", "/_shim/readyz?verbose")
        return status, decoded(headers, body).decode()

    def wait_redis_state(self, shim, state, timeout=5.0, shown=None):
        """readyz's Redis line once it says `state` (of `shown`, by default this test's Redis URL); readyz
        must answer 200 all along."""
        want = "[+]redis %s %s\n" % (shown or self.redis.url(0), state)
        deadline = time.monotonic() + timeout * SLOW
        while True:
            status, body = self.readyz(shim)
            self.assertEqual(status, 200, body)
            if want in body or time.monotonic() > deadline:
                self.assertIn(want, body)
                return body
            time.sleep(0.02)  # the poll's pace

    def log_count(self, shim, msg):
        return len([d for d in shim.log_lines() if d.get("msg") == msg])

    def shared_keys(self):
        return [k for k in self.redis.keys() if k.startswith(b"sigma-shim:obj:")]


class Sharing(ReplicasTestCase):

    def test_concurrent_cold_requests_over_three_replicas_cost_one_fetch_each(self):
        shims = self.replicas(3)
        barrier = threading.Barrier(30)
        results = [None] * 30

        def one(i):
            barrier.wait()
            try:
                results[i] = self.get(shims[i % 3], relationship(F568))
            except Exception as e:  # noqa: BLE001 - reported below, with the others
                results[i] = e

        threads = [threading.Thread(target=one, args=(i,)) for i in range(30)]
        for t in threads:
            t.start()
        for t in threads:
            t.join(60)
        for r in results:
            self.assertIsInstance(r, tuple, r)
            self.assertEqual(r[0], 200, r[2][:300])
        self.assertEqual(len({r[2] for r in results}), 1, "the 30 answers differ")
        self.assertEqual(self.file_requests(F568), 1, self.up.requests())
        self.assertEqual(self.behaviour_requests(F568), 1, self.up.requests())
        # The listening line says which Redis (no password) and how many replicas.
        listening = shims[0].wait_for_log(lambda d: d.get("msg") == "listening")
        self.assertEqual(listening["redis"], self.redis.url(0))
        self.assertEqual(listening["replicas"], 3)

    def test_what_one_replica_fetched_is_a_hit_at_the_others(self):
        a, b, c = self.replicas(3)
        status, _, first = self.get(a, relationship(F568))
        self.assertEqual(status, 200, first[:300])
        self.assertEqual((self.file_requests(F568), self.behaviour_requests(F568)), (1, 1))
        for other in (b, c):
            status, _, body = self.get(other, relationship(F568))
            self.assertEqual(status, 200, body[:300])
            self.assertEqual(body, first)
            self.assertEqual(metric(other, "sigma_shim_shared_objects_total", result="hit"), 2)
        self.assertEqual(self.up.count(), 2, self.up.requests())
        self.wait_redis_state(b, "up")

    def test_the_api_key_is_nowhere_in_redis(self):
        a, b = self.replicas(2)
        for shim in (a, b):
            for path in (relationship(F568), relationship(PS1), "/api/v3/sigma_analyses/%s/rules" % DOCS_OBJ):
                status, _, body = self.get(shim, path)
                self.assertEqual(status, 200, body[:300])
        status, _, body = self.get(a, relationship(F568), headers={"x-apikey": OTHER_KEY})
        self.assertEqual(status, 200, body[:300])
        keys = self.redis.keys()
        self.assertTrue(keys)
        digests = set()
        for key in keys:
            self.assertTrue(key.startswith(b"sigma-shim:"), key)
            value = self.redis.dump_value(key)
            for secret in (API_KEY, OTHER_KEY):
                self.assertNotIn(secret.encode(), key)
                self.assertNotIn(secret.encode(), value, key)
                self.assertNotIn(secret.lower().encode(), key.lower() + value.lower(), key)
            digests.add(key.split(b":")[2])
        # Objects are kept per key (by the key's SHA-256), sigma_rule objects once for all keys.
        self.assertIn(sha256_hex(API_KEY.encode()).encode(), digests)
        self.assertIn(sha256_hex(OTHER_KEY.encode()).encode(), digests)
        self.assertIn(b"rules", digests)


class RedisFailures(ReplicasTestCase):

    def test_redis_killed_then_restarted_empty(self):
        shims = self.replicas(3, redis_timeout="250ms")
        warm = self.clones(F568, 3, "warm")
        cold = self.clones(F568, 3, "cold")
        probes = self.clones(F568, 40, "probe")
        want = self.reference(F568, *(warm + cold))
        for i, shim in enumerate(shims):
            status, _, body = self.get(shim, relationship(warm[i]))
            self.assertEqual((status, body), (200, want[warm[i]]))
            self.wait_redis_state(shim, "up")

        self.redis.kill()
        self.up.clear_requests()
        for i, shim in enumerate(shims):
            # In its own memory, fetched from the upstream: answered either way, without waiting on Redis.
            for file_id in (warm[i], cold[i], F568):
                status, body, took = self.timed_get(shim, relationship(file_id))
                self.assertEqual((status, body), (200, want[file_id]))
                self.assertLess(took, 2.0 * SLOW, file_id)
            self.wait_redis_state(shim, "down")
        self.assertEqual(self.file_requests(warm[0]), 0)  # own memory
        for shim in shims:
            self.assertEqual(self.log_count(shim, "redis down"), 1, shim.stderr_text()[-3000:])

        # Back, empty: sharing resumes once each client's backoff (at most 1 s) lets it connect again: an
        # object one replica fetches is then a hit at another.
        self.redis.restart()
        deadline = time.monotonic() + 2.0 * SLOW
        resumed = False
        for probe in probes:
            status, _, _ = self.get(shims[0], relationship(probe))
            self.assertEqual(status, 200)
            fetched = self.file_requests(probe)
            status, _, _ = self.get(shims[1], relationship(probe))
            self.assertEqual(status, 200)
            if self.file_requests(probe) == fetched and any(probe.encode() in k for k in self.shared_keys()):
                resumed = True
                break
            self.assertLess(time.monotonic(), deadline, "sharing did not resume within 2 s")
            time.sleep(0.05)  # the poll's pace
        self.assertTrue(resumed)
        self.assertLess(time.monotonic(), deadline, "sharing did not resume within 2 s")
        self.wait_redis_state(shims[0], "up")
        self.wait_redis_state(shims[1], "up")

    def test_a_paused_redis_delays_answers_by_the_timeout_only(self):
        shims = self.replicas(3, redis_timeout="250ms")
        cold = self.clones(F568, 3, "paused")
        want = self.reference(*cold)
        for shim in shims:
            self.wait_redis_state(shim, "up")  # connected: the pause holds replies, not connects
        self.redis.pause(3000, "ALL")
        results = [None] * 3

        def one(i):
            results[i] = self.timed_get(shims[i], relationship(cold[i]))

        threads = [threading.Thread(target=one, args=(i,)) for i in range(3)]
        for t in threads:
            t.start()
        for t in threads:
            t.join(30)
        for i, (status, body, took) in enumerate(results):
            self.assertEqual((status, body), (200, want[cold[i]]))
            # The 250 ms deadline and the fetch, well within the 3 s pause.
            self.assertLess(took, 2.0 * SLOW, "answered after %.2f s" % took)

    def test_redis_absent_at_start_up(self):
        absent = RefusingPort()
        self.addCleanup(absent.close)
        url = "redis://127.0.0.1:%d/0" % absent.port
        shim = self.replica(url=url, redis_timeout="250ms")
        status, _, body = self.get(shim, relationship(F568))
        self.assertEqual(status, 200, body[:300])
        status, text = self.readyz(shim)
        self.assertEqual(status, 200)
        self.assertIn("[+]redis %s down\n" % url, text)
        self.assertTrue(shim.wait_for_log(lambda d: d.get("msg") == "redis down"))
        self.assertEqual(metric(shim, "sigma_shim_redis_up"), 0)

    def test_a_redis_short_of_memory_costs_sharing_not_answers(self):
        for policy in ("volatile-lru", "allkeys-lru"):
            with self.subTest(policy=policy):
                self.redis = self.start_redis(maxmemory="2mb", policy=policy)
                a, b = self.replicas(2, clean=False)
                big = self.clones(PS1, 16, policy)
                want = self.reference(*big)
                for file_id in big:
                    for shim in (a, b):
                        status, _, body = self.get(shim, relationship(file_id))
                        self.assertEqual((status, body), (200, want[file_id]))
                # 16 File objects of 110 KB and their behaviour pages do not fit: some were evicted (or
                # refused: OOM is an error reply, and the object is then served unshared).
                self.assertLess(self.redis.command("DBSIZE"), 2 * len(big))
                line = a.wait_for_log(lambda d: d.get("msg") == "redis maxmemory-policy", 5.0 * SLOW)
                self.assertIsNotNone(line)
                self.assertEqual(line["maxmemory_policy"], policy)
                self.assertEqual(line["level"], "warn" if policy.startswith("allkeys-") else "info")
                for shim in (a, b):
                    self.stop_clean(shim)

    def test_a_dead_lock_owners_fetch_is_taken_over_once_its_lock_expires(self):
        # lock_ttl = --upstream-timeout x (retries + 1) + 5 s = 8 s.
        args = ("--upstream-timeout", "3s", "--upstream-retries", "0")
        owner = self.replica(*args, clean=False)
        other = self.replica(*args)
        file_id = self.clones(F568, 1, "orphan")[0]
        want = self.reference(file_id)
        self.up.set_delay(60, "/api/v3/files/" + file_id)
        held = threading.Thread(target=lambda: self._ignore_errors(owner, relationship(file_id)))
        held.start()
        deadline = time.monotonic() + 5.0 * SLOW
        while self.file_requests(file_id) == 0:  # the owner holds the lock and waits on the upstream
            self.assertLess(time.monotonic(), deadline, "the owner's fetch never reached the upstream")
            time.sleep(0.005)
        owner.stop(signal.SIGKILL)
        held.join(30)
        self.up.clear_delay("/api/v3/files/" + file_id)
        status, body, took = self.timed_get(other, relationship(file_id))
        self.assertEqual((status, body), (200, want[file_id]))
        self.assertLess(took, 8.0 + 5.0 * SLOW)
        self.assertEqual(self.file_requests(file_id), 2)
        # Taken over (a fetch of its own, with the lock), not fetched alone.
        self.assertGreaterEqual(metric(other, "sigma_shim_shared_objects_total", result="fetched"), 1)
        self.assertEqual(metric(other, "sigma_shim_shared_objects_total", result="alone"), 0)
        self.assertTrue(any(file_id.encode() in k for k in self.shared_keys()))

    def _ignore_errors(self, shim, path):
        try:
            shim.request("GET", path, timeout=30)
        except (OSError, Exception):  # noqa: BLE001 - the replica is killed under it
            pass


class StartUp(ReplicasTestCase):

    def test_a_bad_redis_url_exits_2_without_echoing_it(self):
        for args, env in ((["--redis", "redis://ops:hunter2@127.0.0.1:notaport/0"], {}),
                          ([], {"SIGMA_SHIM_REDIS": "rediss://ops:hunter2@127.0.0.1:6379"})):
            proc = subprocess.run([BINARY, "serve", "--listen", "127.0.0.1:0"] + args, env=child_env(**env),
                                  stdout=subprocess.PIPE, stderr=subprocess.PIPE, timeout=30)
            stderr = proc.stderr.decode("utf-8", errors="replace")
            self.assertEqual(proc.returncode, 2, stderr)
            self.assertIn("REDIS" if env else "--redis", stderr.upper() if env else stderr)
            self.assertNotIn("hunter2", stderr + proc.stdout.decode("utf-8", errors="replace"))

    def test_the_password_variable_is_used_and_never_shown(self):
        self.redis = self.start_redis(extra=["--requirepass", "hunter2"])
        shim = self.start_shim("--redis", "redis://127.0.0.1:%d/0" % self.redis.port,
                               env=child_env(VT_API_KEY=API_KEY, SIGMA_SHIM_REDIS_PASSWORD="hunter2"))
        self.addCleanup(self.stop_clean, shim)
        status, _, body = self.get(shim, relationship(F568))
        self.assertEqual(status, 200, body[:300])
        self.wait_redis_state(shim, "up", shown="redis://:***@127.0.0.1:%d/0" % self.redis.port)
        status, headers, metrics = shim.request("GET", "/_shim/metrics")
        self.assertNotIn(b"hunter2", decoded(headers, metrics))
        self.assertNotIn("hunter2", shim.stderr_text())


if __name__ == "__main__":
    unittest.main()
