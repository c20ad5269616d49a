"""Replica benchmark for `sigma-shim serve --redis URL --replicas N` (not run by CI; prints one table).

    tests/bench/run_replicas [--binary build-bench/sigma-shim] [--connections 64] [--workers 4] ...

Same set-up as economy_bench.py, whose pieces it imports: the bench preset's binary in front of the Python
VirusTotal double (tests/e2e/upstream.py, own process, 100 cloned files, every upstream request +--latency),
clients in several processes with keep-alive connections. Redis is a redis-server of its own on a free port
(tests/e2e/redis_server.py: no persistence, stopped by its PID).

  (a) warm legacy answers from a replica's own memory: replica A (with --redis) has fetched and answered every
      request before; req/s, p50, p99; neither the upstream nor Redis is asked
  (b) the same requests at replica B, started with --cache-bytes 0 (no memory cache, no kept answers), so
      every answer is rebuilt from the objects A left in Redis: req/s, p50, p99; the upstream must see nothing
  (c) cold legacy requests from the upstream (+latency), no Redis: each a first (key, file) pair
  (d) upstream calls for --mix legacy requests over the 100 files spread round-robin over 3 fresh replicas
      sharing one empty Redis database, concurrent (target 200: one File and one behaviour page a file), and
      for the same requests again (target 0)
"""

import argparse
import collections
import datetime
import http.client
import json
import multiprocessing
import os
import platform
import random
import sys
import threading

import economy_bench as eb  # also puts tests/e2e on sys.path
from redis_server import RedisServer  # tests/e2e
from test_economy import LABEL, SERIES  # tests/e2e: the Prometheus text parsers

FORMS = eb.FORMS


def metrics(port):
    """{(name, ((label, value), ...)): value} from the shim's /_shim/metrics."""
    conn = http.client.HTTPConnection("127.0.0.1", port, timeout=30)
    try:
        conn.request("GET", "/_shim/metrics")
        text = conn.getresponse().read().decode()
    finally:
        conn.close()
    out = {}
    for line in text.splitlines():
        m = SERIES.match(line)
        if m and not line.startswith("#"):
            out[(m.group(1), tuple(sorted(LABEL.findall(m.group(3) or ""))))] = float(m.group(4))
    return out


def total(samples, name, **labels):
    return sum(v for (n, ls), v in samples.items() if n == name and all((k, w) in ls for k, w in labels.items()))


def shared_counts(port):
    """What the shared layer did, by result (hit, waited, fetched, alone)."""
    samples = metrics(port)
    return {r: int(total(samples, "sigma_shim_shared_objects_total", result=r))
            for r in ("hit", "waited", "fetched", "alone")}


def minus(after, before):
    return {k: after[k] - before.get(k, 0) for k in after}


def complaints(shim):
    """The shim's warn and error log lines so far (JSON lines on its stderr), counted by message."""
    with open(shim.log.name) as f:
        docs = [json.loads(line) for line in f if line.startswith("{") and line.endswith("}\n")]
    return collections.Counter(d.get("msg") for d in docs if d.get("level") in ("warn", "error"))


def measured(load):
    wall, lat, statuses, marks = load
    return {"rps": len(lat) / wall, "p50": eb.pct(lat, 50), "p99": eb.pct(lat, 99), "statuses": statuses,
            "marks": marks, "n": len(lat)}


def spread_load(ctx, ports, jobs, connections, workers):
    """jobs round-robin over the replicas (job i to ports[i % n]), every replica loaded at the same time by its
    share of the connections and client processes; (statuses, marks) summed over them."""
    n = len(ports)
    done = [None] * n

    def one(i):
        try:
            done[i] = eb.run_load(ctx, ports[i], jobs[i::n], max(1, connections // n), max(1, workers // n))
        except BaseException as e:  # noqa: BLE001 - raised below, in the main thread
            done[i] = e

    threads = [threading.Thread(target=one, args=(i,)) for i in range(n)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    statuses, marks = {}, {}
    for d in done:
        if not isinstance(d, tuple):
            raise RuntimeError("a replica's load failed: %r" % (d,))
        for src, dst in ((d[2], statuses), (d[3], marks)):
            for k, v in src.items():
                dst[k] = dst.get(k, 0) + v
    return statuses, marks


def counted(mapping):
    return ", ".join("%s=%d" % (k, v) for k, v in sorted(mapping.items(), key=lambda kv: str(kv[0]))) or "-"


def verdict(ok):
    return "PASS" if ok else "MISS"


def report(header, rows, notes):
    """Prints the header lines, the table and the notes; the exit status: 1 when a row missed its target."""
    head = ("measure", "value", "target", "result")
    widths = [max(len(r[i]) for r in [head] + rows) for i in range(len(head))]
    table = ["  ".join(c.ljust(w) for c, w in zip(r, widths)).rstrip()
             for r in [head, tuple("-" * w for w in widths)] + rows]
    print("\n".join(header + [""] + table + [""] + ["  " + n for n in notes]))
    return int(any(r[3] == "MISS" for r in rows))


def main(argv=None):
    p = argparse.ArgumentParser(description="sigma-shim replica benchmark (--redis, --replicas)")
    p.add_argument("--binary", default=os.path.join(eb.SOURCE_DIR, "build-bench", "sigma-shim"))
    p.add_argument("--files", type=int, default=100)
    p.add_argument("--keys", type=int, default=5, help="API keys: (a) and (b) use files x keys x 4 routes answers")
    p.add_argument("--latency", type=float, default=0.050, help="seconds added to every upstream request")
    p.add_argument("--connections", type=int, default=64)
    p.add_argument("--workers", type=int, default=max(2, min(8, os.cpu_count() or 2)),
                   help="client processes (Python threads share one core per process)")
    p.add_argument("--warm-requests", type=int, default=20000, help="requests for (a) and for (b)")
    p.add_argument("--mix", type=int, default=1000, help="requests for (d)")
    p.add_argument("--threads", type=int, default=0, help="--threads for the shims (0: their default, cores)")
    p.add_argument("--upstream-connections", type=int, default=128)
    p.add_argument("--redis-timeout", default="", help="--redis-timeout for the replicas (default: theirs)")
    args = p.parse_args(argv)

    if not os.access(args.binary, os.X_OK):
        raise SystemExit("no sigma-shim at %s: build it first (cmake --preset bench && "
                         "cmake --build --preset bench -j --target sigma-shim)" % args.binary)
    ctx = multiprocessing.get_context("spawn")
    up = eb.UpstreamProcess(ctx, args.files, args.latency)
    ids = up.ids
    redis = RedisServer()
    base = ["--upstream", "http://127.0.0.1:%d" % up.port, "--upstream-connections", str(args.upstream_connections),
            "--log-level", "info"] + (["--threads", str(args.threads)] if args.threads else [])

    def replica(db, replicas, *extra):
        more = ["--redis-timeout", args.redis_timeout] if args.redis_timeout else []
        return eb.ShimProcess(args.binary, base + ["--redis", redis.url(db), "--replicas", str(replicas)] + more
                              + list(extra), eb.shim_env("bench-key"))

    def load(port, jobs):
        return eb.run_load(ctx, port, jobs, args.connections, args.workers)

    keys = ["replica-%d" % k for k in range(args.keys)]
    rng = random.Random(3)
    answers = [(form.format(id=f), key) for key in keys for f in ids for form in FORMS]
    warm = [rng.choice(answers) for _ in range(args.warm_requests)]
    notes = []
    shims = []

    def start(shim):
        shims.append(shim)
        return shim

    def stop(shim, name):
        for msg, n in complaints(shim).items():
            notes.append("%s logged %d x %r (warn/error)" % (name, n, msg))
        shims.remove(shim)
        shim.stop()

    try:
        redis.start()
        # A fetches every (key, file) pair (through the upstream, into its memory and Redis), then answers every
        # (key, route, file) once so that each answer is kept: nothing of this is timed.
        a = start(replica(0, 2))
        up.ask("reset")
        fill = [(FORMS[1].format(id=f), key) for key in keys for f in ids]
        random.Random(1).shuffle(fill)
        st_fill = load(a.port, fill)[2]
        calls_fill = up.ask("count")
        st_prewarm = load(a.port, answers)[2]
        calls_prewarm = up.ask("count") - calls_fill
        redis_keys = len(redis.keys("sigma-shim:obj:*"))

        # (a) from A's own memory.
        up.ask("reset")
        before = shared_counts(a.port)
        row_a = measured(load(a.port, warm))
        calls_a = up.ask("count")
        redis_a = minus(shared_counts(a.port), before)

        # (b) from Redis: B keeps nothing in memory.
        b = start(replica(0, 2, "--cache-bytes", "0"))
        up.ask("reset")
        row_b = measured(load(b.port, warm))
        calls_b = up.ask("count")
        redis_b = shared_counts(b.port)
        samples_b = metrics(b.port)
        memory_b = (int(total(samples_b, "sigma_shim_cache_entries")), int(total(samples_b, "sigma_shim_cache_bytes")),
                    int(total(samples_b, "sigma_shim_cache_requests_total", result="hit")))
        stop(b, "B")
        stop(a, "A")

        # (c) cold from the upstream, no Redis: every request a first (key, file) pair.
        c = start(eb.ShimProcess(args.binary, base, eb.shim_env("bench-key")))
        cold = [(rng.choice(FORMS).format(id=f), "cold-%d" % k) for k in range(args.keys) for f in ids]
        rng.shuffle(cold)
        up.ask("reset")
        row_c = measured(load(c.port, cold))
        calls_c = up.ask("count")
        stop(c, "C")

        # (d) three fresh replicas over an empty Redis database.
        trio = [start(replica(1, 3)) for _ in range(3)]
        ports = [s.port for s in trio]
        mix_rng = random.Random(7)
        mix = [(mix_rng.choice(FORMS).format(id=ids[i % len(ids)]), "mix") for i in range(args.mix)]
        mix_rng.shuffle(mix)
        up.ask("reset")
        st_d1, mk_d1 = spread_load(ctx, ports, mix, args.connections, args.workers)
        calls_d1 = up.ask("count")
        shared_d1 = [shared_counts(port) for port in ports]
        up.ask("reset")
        mix_rng.shuffle(mix)
        st_d2, mk_d2 = spread_load(ctx, ports, mix, args.connections, args.workers)
        calls_d2 = up.ask("count")
        shared_d2 = [minus(shared_counts(port), d1) for port, d1 in zip(ports, shared_d1)]
        for i, s in enumerate(list(trio)):
            stop(s, "replica %d of (d)" % (i + 1))
    finally:
        for s in list(shims):
            s.stop()
        redis.close()
        up.stop()

    want_d1 = 2 * min(args.mix, len(ids))  # a File and a behaviour page for each file the mix names

    def ms(s):
        return "%.1f ms" % (s * 1000)

    def speed(label, row):
        return [("%s: req/s" % label, "%.0f" % row["rps"], "-", "info"),
                ("%s: p50 / p99" % label, "%s / %s" % (ms(row["p50"]), ms(row["p99"])), "-", "info")]

    fetched_d1 = sum(s["fetched"] + s["alone"] for s in shared_d1)
    rows = (speed("(a) warm, replica memory", row_a)
            + [("(a) upstream calls / Redis look-ups", "%d / %d" % (calls_a, sum(redis_a.values())), "0 / 0",
                verdict(calls_a == 0 and sum(redis_a.values()) == 0))]
            + speed("(b) warm in Redis, memory cold", row_b)
            + [("(b) upstream calls", "%d" % calls_b, "0", verdict(calls_b == 0)),
               ("(b) Redis hits per request", "%.2f" % (redis_b["hit"] / max(1, row_b["n"])), "-", "info")]
            + speed("(c) cold from upstream (+%s)" % ms(args.latency), row_c)
            + [("(c) upstream calls per request", "%.2f" % (calls_c / max(1, row_c["n"])), "-", "info"),
               ("(d) upstream calls, %d over 3 replicas, cold" % args.mix, "%d" % calls_d1, "%d" % want_d1,
                verdict(calls_d1 == want_d1)),
               ("(d) upstream calls, %d over 3 replicas, warm" % args.mix, "%d" % calls_d2, "0",
                verdict(calls_d2 == 0))])

    notes.append("fill: %d requests through A, %d upstream calls, statuses %s; prewarm: %d answers, %d upstream "
                 "calls, statuses %s; %d objects in Redis" % (len(fill), calls_fill, counted(st_fill), len(answers),
                                                              calls_prewarm, counted(st_prewarm), redis_keys))
    notes.append("(b) B with --cache-bytes 0: cache entries %d, cache bytes %d, memory cache hits %d; shared layer "
                 "%s" % (memory_b + (counted(redis_b),)))
    notes.append("(d) cold, shared layer per replica: %s (fetched+alone = %d)"
                 % (" | ".join(counted(s) for s in shared_d1), fetched_d1))
    notes.append("(d) warm, shared layer per replica: %s" % " | ".join(counted(s) for s in shared_d2))
    for name, row in (("(a)", row_a), ("(b)", row_b), ("(c)", row_c)):
        if set(row["statuses"]) != {200}:
            notes.append("%s statuses: %s" % (name, counted(row["statuses"])))
        notes.append("%s %d requests, X-Sigma-Shim-Cache: %s" % (name, row["n"], counted(row["marks"])))
    for name, st, mk in (("(d) cold", st_d1, mk_d1), ("(d) warm", st_d2, mk_d2)):
        if set(st) != {200}:
            notes.append("%s statuses: %s" % (name, counted(st)))
        notes.append("%s X-Sigma-Shim-Cache: %s" % (name, counted(mk)))

    header = [
        "sigma-shim replica benchmark (--redis, --replicas)",
        "date:     " + datetime.datetime.now(datetime.timezone.utc).strftime("%Y-%m-%d %H:%M:%S UTC"),
        "machine:  %d cores (nproc), %s, %s %s" % (os.cpu_count() or 0, eb.cpu_model(), platform.system(),
                                                   platform.release()),
        "binary:   %s (CMAKE_BUILD_TYPE=%s)" % (args.binary, eb.binary_is_release(args.binary)),
        "replicas: serve %s --redis redis://127.0.0.1:PORT/DB --replicas N%s" % (
            " ".join("http://127.0.0.1:PORT" if a.startswith("http://") else a for a in base),
            " --redis-timeout " + args.redis_timeout if args.redis_timeout else ""),
        "redis:    %s (own redis-server, no persistence, same machine)" % redis.exe,
        "upstream: Python double, own process, %d files, +%s per request" % (args.files, ms(args.latency)),
        "clients:  %d keep-alive connections in %d Python processes ((d): split evenly over the 3 replicas); "
        "(a), (b) %d requests over %d answers (%d files x %d keys x %d routes), (c) %d, (d) %d + %d"
        % (args.connections, args.workers, args.warm_requests, len(answers), args.files, args.keys, len(FORMS),
           len(cold), args.mix, args.mix),
        "note:     clients, upstream and Redis share the machine with the shim: req/s are lower bounds.",
    ]
    return report(header, rows, notes)


if __name__ == "__main__":
    sys.exit(main())
