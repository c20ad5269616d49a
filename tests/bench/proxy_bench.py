"""sigma-shim against nginx on loopback, driven by wrk; prints one table. Not run by CI (see README.md here).

(a) nginx proxy_pass to a static upstream vs the shim's pass-through to the same upstream, and the upstream
    directly (for the latency the proxy adds);
(b) nginx serving a legacy answer as a static file vs the shim serving the same answer from a warm cache;
(c) the shim's cold reconstructions against an upstream that adds 50 ms to every answer.

The static upstream is nginx serving the bundled demo objects (shim/demo/) under the VirusTotal paths; (c) uses
the Python double of the end-to-end tests (tests/e2e/upstream.py) with a delay and 2,000 distinct files.
"""

import argparse
import json
import os
import re
import shutil
import signal
import socket
import statistics
import subprocess
import sys
import tempfile
import time

HERE = os.path.dirname(os.path.abspath(__file__))
SOURCE_DIR = os.path.abspath(os.path.join(HERE, "..", ".."))
sys.path.insert(0, os.path.join(SOURCE_DIR, "tests", "e2e"))

DEMO = os.path.join(SOURCE_DIR, "shim", "demo")
F568 = "f568a0362c238ebbadca53fd4307dac2fe209ddc6257fd300379ebc3c10261e9"
KEY = "bench-key-not-a-real-one"

NGINX_CONF = """
worker_processes {workers};
pid {tmp}/nginx-{name}.pid;
error_log {tmp}/nginx-{name}-error.log warn;
events {{ worker_connections 4096; }}
http {{
    access_log {tmp}/nginx-{name}-access.log;
    client_body_temp_path {tmp}/body-{name};
    proxy_temp_path {tmp}/proxy-{name};
    fastcgi_temp_path {tmp}/fastcgi-{name};
    uwsgi_temp_path {tmp}/uwsgi-{name};
    scgi_temp_path {tmp}/scgi-{name};
    keepalive_requests 1000000;
    {body}
}}
"""

STATIC = """
    server {{
        listen 127.0.0.1:{port};
        default_type application/json;
        location ~ ^/api/v3/files/([0-9a-f]+)/behaviours$ {{ root {demo}; try_files /behaviours/$1.json =404; }}
        location ~ ^/api/v3/files/([0-9a-f]+)$ {{ root {demo}; try_files /files/$1.json =404; }}
        location = /legacy/{sha} {{ alias {legacy}; }}
    }}
"""

PROXY = """
    upstream static {{ server 127.0.0.1:{upstream_port}; keepalive 256; }}
    server {{
        listen 127.0.0.1:{port};
        location / {{
            proxy_pass http://static;
            proxy_http_version 1.1;
            proxy_set_header Connection "";
        }}
    }}
"""


def free_port():
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def wait_port(port, timeout=10):
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        try:
            socket.create_connection(("127.0.0.1", port), timeout=1).close()
            return
        except OSError:
            time.sleep(0.05)
    raise RuntimeError("nothing listens on port %d" % port)


def start_nginx(tmp, name, body, workers):
    conf = os.path.join(tmp, "nginx-%s.conf" % name)
    with open(conf, "w") as f:
        f.write(NGINX_CONF.format(workers=workers, tmp=tmp, name=name, body=body))
    subprocess.run(["nginx", "-c", conf, "-p", tmp, "-g", "daemon on;"], check=True, stderr=subprocess.PIPE)
    return conf


def stop_nginx(tmp, name):
    pid_file = os.path.join(tmp, "nginx-%s.pid" % name)
    try:
        with open(pid_file) as f:
            os.kill(int(f.read().strip()), signal.SIGQUIT)
    except (OSError, ValueError):
        pass


def nginx_rss_kb(tmp, name):
    """Peak RSS of nginx's master and workers together (VmHWM, KiB)."""
    try:
        with open(os.path.join(tmp, "nginx-%s.pid" % name)) as f:
            master = int(f.read().strip())
    except (OSError, ValueError):
        return None
    pids = [master] + [int(p) for p in subprocess.run(["pgrep", "-P", str(master)], stdout=subprocess.PIPE)
                       .stdout.split()]
    return sum(vm_hwm(p) or 0 for p in pids)


def vm_hwm(pid):
    try:
        with open("/proc/%d/status" % pid) as f:
            for line in f:
                if line.startswith("VmHWM:"):
                    return int(line.split()[1])
    except OSError:
        return None


UNITS = {"us": 1e-3, "ms": 1.0, "s": 1000.0}


def wrk(url, connections, seconds, threads, script=None):
    args = ["wrk", "-t%d" % threads, "-c%d" % connections, "-d%ds" % seconds, "--latency",
            "-H", "x-apikey: " + KEY]
    if script:
        args += ["-s", script]
    out = subprocess.run(args + [url], stdout=subprocess.PIPE, stderr=subprocess.STDOUT, check=True,
                         timeout=seconds + 60).stdout.decode()

    def latency(pct):
        m = re.search(r"^\s*%d%%\s+([\d.]+)(us|ms|s)\s*$" % pct, out, re.M)
        return float(m.group(1)) * UNITS[m.group(2)] if m else float("nan")

    rps = float(re.search(r"Requests/sec:\s+([\d.]+)", out).group(1))
    bad = re.search(r"Non-2xx or 3xx responses: (\d+)", out)
    errors = re.search(r"Socket errors: (.*)", out)
    return {"rps": rps, "p50": latency(50), "p99": latency(99), "non2xx": int(bad.group(1)) if bad else 0,
            "socket_errors": errors.group(1) if errors else "", "raw": out}


def main():
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--binary", default=os.path.join(SOURCE_DIR, "build-bench", "sigma-shim"))
    ap.add_argument("--seconds", type=int, default=10, help="each wrk run (default 10)")
    ap.add_argument("--connections", type=int, default=32, help="wrk connections for the ratios (default 32)")
    ap.add_argument("--rss-connections", type=int, default=256, help="connections for the RSS runs (256)")
    ap.add_argument("--threads", type=int, default=2, help="shim threads and nginx workers (default 2)")
    ap.add_argument("--wrk-threads", type=int, default=2)
    ap.add_argument("--repeat", type=int, default=3,
                    help="runs of each 32-connection comparison, interleaved; the table shows medians (default 3)")
    ap.add_argument("--verbose", action="store_true", help="print wrk's own output too")
    args = ap.parse_args()

    tmp = tempfile.mkdtemp(prefix="sigma-shim-bench-")
    os.chmod(tmp, 0o755)  # nginx's workers run as another user and must read the legacy answer in it
    procs = []
    rows = []
    try:
        legacy = os.path.join(tmp, "legacy-%s.json" % F568)
        with open(legacy, "wb") as f:
            f.write(subprocess.run([args.binary, "convert", "--file", os.path.join(DEMO, "files", F568 + ".json"),
                                    "--behaviours", os.path.join(DEMO, "behaviours", F568 + ".json"),
                                    "--form", "relationship"], stdout=subprocess.PIPE, check=True).stdout)
        up_port, proxy_port, shim_port = free_port(), free_port(), free_port()
        start_nginx(tmp, "static", STATIC.format(port=up_port, demo=DEMO, legacy=legacy, sha=F568), args.threads)
        start_nginx(tmp, "proxy", PROXY.format(port=proxy_port, upstream_port=up_port), args.threads)
        wait_port(up_port)
        wait_port(proxy_port)
        shim_log = open(os.path.join(tmp, "shim.log"), "wb")
        env = dict(os.environ, BENCH_KEY=KEY)
        shim = subprocess.Popen([args.binary, "serve", "--listen", "127.0.0.1:%d" % shim_port, "--upstream",
                                 "http://127.0.0.1:%d" % up_port, "--threads", str(args.threads),
                                 "--api-key-env", "BENCH_KEY", "--upstream-connections", "256"],
                                stderr=shim_log, env=env)
        procs.append(shim)
        wait_port(shim_port)

        runs = {}  # (label, connections) -> [wrk result, ...], in the order first run

        def run(label, url, connections=args.connections, script=None):
            r = wrk(url, connections, args.seconds, args.wrk_threads, script)
            if args.verbose:
                print(r["raw"])
            if r["non2xx"] or r["socket_errors"]:
                print("warning: %s: %d non-2xx, socket errors: %s" % (label, r["non2xx"], r["socket_errors"]),
                      file=sys.stderr)
            runs.setdefault((label, connections), []).append(r)

        file_path = "/api/v3/files/" + F568
        legacy_path = "/api/v3/files/%s/sigma_analysis" % F568
        subprocess.run(["curl", "-sf", "-o", "/dev/null", "http://127.0.0.1:%d%s" % (shim_port, legacy_path)],
                       check=True)
        # The comparisons, interleaved so that a noisy moment of a shared machine hits both sides alike.
        for _ in range(args.repeat):
            # (a) pass-through.
            run("(a) upstream direct (nginx static)", "http://127.0.0.1:%d%s" % (up_port, file_path))
            run("(a) nginx proxy_pass", "http://127.0.0.1:%d%s" % (proxy_port, file_path))
            run("(a) sigma-shim pass-through", "http://127.0.0.1:%d%s" % (shim_port, file_path))
            # (b) a legacy answer: static file vs warm cache.
            run("(b) nginx static legacy answer", "http://127.0.0.1:%d/legacy/%s" % (up_port, F568))
            run("(b) sigma-shim legacy, warm cache", "http://127.0.0.1:%d%s" % (shim_port, legacy_path))
        # Peak RSS at many connections.
        run("(a) sigma-shim pass-through", "http://127.0.0.1:%d%s" % (shim_port, file_path),
            connections=args.rss_connections)
        run("(b) sigma-shim legacy, warm cache", "http://127.0.0.1:%d%s" % (shim_port, legacy_path),
            connections=args.rss_connections)
        run("(a) nginx proxy_pass", "http://127.0.0.1:%d%s" % (proxy_port, file_path),
            connections=args.rss_connections)
        shim_rss = vm_hwm(shim.pid)
        proxy_rss = nginx_rss_kb(tmp, "proxy")

        # (c) cold reconstructions, 50 ms upstream.
        import upstream as vt
        up = vt.Upstream(vt.Dataset().load_demo())
        up.tcp_nodelay = True
        ids = [up.data.add_clone(F568, "bench %d" % i)[0] for i in range(2000)]
        up.set_delay(0.05)
        up.start()
        cold_port = free_port()
        cold = subprocess.Popen([args.binary, "serve", "--listen", "127.0.0.1:%d" % cold_port, "--upstream",
                                 up.url("127.0.0.1"), "--threads", str(args.threads), "--api-key-env",
                                 "BENCH_KEY", "--cache-bytes", "0", "--upstream-connections", "256"],
                                stderr=shim_log, env=env)
        procs.append(cold)
        wait_port(cold_port)
        script = os.path.join(tmp, "cold.lua")
        with open(script, "w") as f:
            f.write("ids = {%s}\ni = 0\nrequest = function()\n  i = i + 1\n"
                    "  return wrk.format(\"GET\", \"/api/v3/files/\" .. ids[(i %% #ids) + 1] .. \"/sigma_analysis\")\n"
                    "end\n" % ",".join('"%s"' % s for s in ids))
        run("(c) sigma-shim cold, upstream +50 ms", "http://127.0.0.1:%d" % cold_port, script=script)
        up.stop()

        for (label, conns), results in runs.items():
            rows.append((label, conns, {k: statistics.median(r[k] for r in results) for k in ("rps", "p50", "p99")},
                         len(results)))
        median = {label: r for label, conns, r, _ in rows if conns == args.connections}
        print_table(rows, median["(a) upstream direct (nginx static)"], median["(a) nginx proxy_pass"],
                    median["(a) sigma-shim pass-through"], median["(b) nginx static legacy answer"],
                    median["(b) sigma-shim legacy, warm cache"], shim_rss, proxy_rss, args)
    finally:
        for p in procs:
            p.send_signal(signal.SIGTERM)
            try:
                p.wait(10)
            except subprocess.TimeoutExpired:
                p.kill()
        stop_nginx(tmp, "static")
        stop_nginx(tmp, "proxy")
        time.sleep(0.5)
        shutil.rmtree(tmp, ignore_errors=True)


def print_table(rows, direct, nginx_a, shim_a, nginx_b, shim_b, shim_rss, proxy_rss, args):
    cpu = "?"
    try:
        with open("/proc/cpuinfo") as f:
            cpu = re.search(r"model name\s*:\s*(.*)", f.read()).group(1)
    except (OSError, AttributeError):
        pass
    print("sigma-shim proxy benchmark, %s, %d cores (%s), wrk %d threads, %d s per run, shim --threads %d, "
          "nginx %d workers" % (time.strftime("%Y-%m-%d %H:%M UTC", time.gmtime()), os.cpu_count(), cpu,
                                args.wrk_threads, args.seconds, args.threads, args.threads))
    print()
    print("%-40s %6s %5s %12s %10s %10s" % ("run (medians over runs)", "conns", "runs", "requests/s", "p50 ms",
                                            "p99 ms"))
    for label, conns, r, n in rows:
        print("%-40s %6d %5d %12.0f %10.3f %10.3f" % (label, conns, n, r["rps"], r["p50"], r["p99"]))
    print()
    a_ratio = shim_a["rps"] / nginx_a["rps"]
    b_ratio = shim_b["rps"] / nginx_b["rps"]
    added = shim_a["p99"] - direct["p99"]
    rss_mb = (shim_rss or 0) / 1024
    print("%-58s %10s %8s %s" % ("target", "measured", "target", "result"))
    checks = [
        ("(a) shim/nginx requests per second at %d connections" % args.connections, "%.2f" % a_ratio, ">= 0.9",
         a_ratio >= 0.9),
        ("(a) shim p99 added over the upstream direct, ms", "%.3f" % added, "<= 1", added <= 1.0),
        ("(b) shim warm cache / nginx static, requests per second", "%.2f" % b_ratio, ">= 0.5", b_ratio >= 0.5),
        ("shim peak RSS after %d connections, MB" % args.rss_connections, "%.1f" % rss_mb, "<= 64",
         rss_mb <= 64),
    ]
    for name, measured, target, ok in checks:
        print("%-58s %10s %8s %s" % (name, measured, target, "PASS" if ok else "MISS"))
    print("(for reference: nginx proxy master+workers peak RSS %.1f MB; (a) nginx p99 added over direct %.3f ms)"
          % ((proxy_rss or 0) / 1024, nginx_a["p99"] - direct["p99"]))


if __name__ == "__main__":
    main()
