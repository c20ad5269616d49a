"""Runs `sigma-shim serve` for the end-to-end tests, and the helpers the tests share.

    with Shim(["--upstream", up.url()], env=child_env(VT_API_KEY="k")) as shim:
        status, headers, body = shim.request("GET", "/api/v3/sigma_analyses/" + sha256)

A shim that serves HTTPS (--tls-cert, --tls-key) is given the context its clients use, Shim(..., tls=context):
its url is then https:// and connection() and request() speak TLS with that context.
"""

import gzip
import hashlib
import http.client
import json
import os
import re
import signal
import socket
import subprocess
import tempfile
import threading
import time
import unittest

import upstream as vt

HERE = os.path.dirname(os.path.abspath(__file__))
SOURCE_DIR = os.environ.get("SIGMA_SHIM_SOURCE_DIR") or os.path.abspath(os.path.join(HERE, "..", ".."))
BINARY = os.path.abspath(os.environ.get("SIGMA_SHIM_BINARY") or os.path.join(SOURCE_DIR, "build", "sigma-shim"))
SANITIZED = os.environ.get("SIGMA_SHIM_SANITIZED") == "1"
RSS_SKIP = "built with sanitizers (SIGMA_SHIM_SANITIZED=1): ASan inflates memory, so RSS is not measured"

API_KEY = "e2e-Secret-ApiKey-7f3c9a1b5d"  # never to be seen in logs, metrics or error bodies
START_TIMEOUT = 10.0
REQUEST_TIMEOUT = 15.0


PROXY_VARIABLES = frozenset(v for name in ("HTTP_PROXY", "HTTPS_PROXY", "ALL_PROXY", "NO_PROXY")
                            for v in (name, name.lower()))


def child_env(**extra):
    """The environment for the shim: this process's, less VT_API_KEY, every SIGMA_SHIM_* variable (they would
    configure the server) and the proxy variables (a proxy set on the test machine would route the shim's
    upstream traffic), plus `extra`."""
    env = {k: v for k, v in os.environ.items()
           if k != "VT_API_KEY" and not k.startswith("SIGMA_SHIM_") and k not in PROXY_VARIABLES}
    env.update({k: str(v) for k, v in extra.items()})
    return env


class ShimDidNotStart(AssertionError):
    pass


class Shim:
    """A `sigma-shim serve` process on 127.0.0.1:0, with its stderr collected as JSON lines. `tls`: the
    ssl.SSLContext the test's clients use when the shim serves HTTPS (ARGS carry the certificate)."""

    def __init__(self, args, env=None, binary=None, threads=2, start_timeout=START_TIMEOUT, listen=True,
                 tls=None):
        self.binary = binary or BINARY
        argv = [self.binary, "serve"]
        if listen and "--listen" not in args:
            argv += ["--listen", "127.0.0.1:0"]
        if threads and "--threads" not in args:
            argv += ["--threads", str(threads)]
        self.argv = argv + list(args)
        self.env = child_env() if env is None else dict(env)
        self.start_timeout = start_timeout
        self.tls = tls
        self.proc = None
        self.port = None
        self.host = "127.0.0.1"
        self._lines = []          # raw stderr lines (str)
        self._stdout = []
        self._lock = threading.Lock()
        self._listening = threading.Event()
        self._readers = []
        self.exit_code = None

    # -- life -------------------------------------------------------------------------------------

    def start(self):
        self.proc = subprocess.Popen(self.argv, env=self.env, stdin=subprocess.DEVNULL,
                                     stdout=subprocess.PIPE, stderr=subprocess.PIPE)
        for stream, sink, name in ((self.proc.stderr, self._lines, "stderr"),
                                   (self.proc.stdout, self._stdout, "stdout")):
            t = threading.Thread(target=self._read, args=(stream, sink), name="shim-" + name, daemon=True)
            t.start()
            self._readers.append(t)
        deadline = time.monotonic() + self.start_timeout
        while not self._listening.wait(0.05):
            if self.proc.poll() is not None or time.monotonic() > deadline:
                for t in self._readers:
                    t.join(2)
                code = self.proc.poll()
                if code is None:
                    self.proc.kill()
                    self.proc.wait(5)
                raise ShimDidNotStart("sigma-shim serve did not log 'listening' (exit %r) for %s\nstderr:\n%s"
                                      % (code, " ".join(self.argv), self.stderr_text()))
        return self

    def _read(self, stream, sink):
        for raw in iter(stream.readline, b""):
            line = raw.decode("utf-8", errors="replace").rstrip("\n")
            with self._lock:
                sink.append(line)
            if sink is self._lines and not self._listening.is_set():
                doc = _parse(line)
                if isinstance(doc, dict) and doc.get("msg") == "listening" and "address" in doc:
                    host, _, port = str(doc["address"]).rpartition(":")
                    self.host = host.strip("[]") or "127.0.0.1"
                    self.port = int(port)
                    self._listening.set()
        stream.close()

    def stop(self, sig=signal.SIGTERM, timeout=20.0):
        """Sends `sig` and waits; returns the exit code (killed and None when it does not exit in time)."""
        if self.proc is None:
            return None
        if self.proc.poll() is None:
            self.proc.send_signal(sig)
        try:
            self.exit_code = self.proc.wait(timeout)
        except subprocess.TimeoutExpired:
            self.proc.kill()
            self.proc.wait(5)
            self.exit_code = None
        for t in self._readers:
            t.join(5)
        return self.exit_code

    def wait(self, timeout):
        try:
            self.exit_code = self.proc.wait(timeout)
        except subprocess.TimeoutExpired:
            return None
        for t in self._readers:
            t.join(5)
        return self.exit_code

    def alive(self):
        return self.proc is not None and self.proc.poll() is None

    def __enter__(self):
        return self.start()

    def __exit__(self, *exc):
        if self.alive():
            self.stop(signal.SIGTERM, 10)
        if self.alive():
            self.proc.kill()
            self.proc.wait(5)

    # -- what it said -----------------------------------------------------------------------------

    @property
    def url(self):
        return "%s://%s:%d" % ("https" if self.tls else "http", self.host, self.port)

    def stderr_lines(self):
        with self._lock:
            return list(self._lines)

    def stderr_text(self):
        return "\n".join(self.stderr_lines())

    def stdout_text(self):
        with self._lock:
            return "\n".join(self._stdout)

    def log_lines(self):
        """The stderr lines that are JSON objects, parsed."""
        out = []
        for line in self.stderr_lines():
            doc = _parse(line)
            if isinstance(doc, dict):
                out.append(doc)
        return out

    def request_log_lines(self):
        """The per-request log lines (those with a request_id and a status)."""
        return [d for d in self.log_lines() if "request_id" in d and "status" in d]

    def wait_for_log(self, predicate, timeout=5.0):
        deadline = time.monotonic() + timeout
        while True:
            for d in self.log_lines():
                if predicate(d):
                    return d
            if time.monotonic() > deadline:
                return None
            time.sleep(0.02)

    def peak_rss_kb(self):
        """VmHWM of the running process in KiB (None once it has exited)."""
        try:
            with open("/proc/%d/status" % self.proc.pid) as f:
                for line in f:
                    if line.startswith("VmHWM:"):
                        return int(line.split()[1])
        except OSError:
            return None
        return None

    # -- talking to it ----------------------------------------------------------------------------

    def connection(self, timeout=REQUEST_TIMEOUT, context=None):
        """A new connection; over TLS with `context`, else the shim's client context when it serves HTTPS."""
        context = context or self.tls
        if context is not None:
            return http.client.HTTPSConnection(self.host, self.port, timeout=timeout, context=context)
        return http.client.HTTPConnection(self.host, self.port, timeout=timeout)

    def request(self, method, path, headers=None, body=None, timeout=REQUEST_TIMEOUT, context=None):
        """One request on a new connection: (status, {lower-case name: value}, body bytes). The body is not
        decoded; repeated headers are joined with ", ". `context`: as for connection()."""
        conn = self.connection(timeout, context)
        try:
            conn.request(method, path, body=body, headers=headers or {})
            resp = conn.getresponse()
            data = resp.read()
            headers = headers_dict(resp.getheaders())
            # Every answer says who made it (docs/contract.md: reconstructed, passthrough, shadow, compare, local): checked
            # here so that every status any e2e test meets is covered.
            if headers.get("x-sigma-shim") not in ("reconstructed", "passthrough", "shadow", "compare", "local"):
                raise AssertionError("%s %s: %d without a known X-Sigma-Shim: %r"
                                     % (method, path[:200], resp.status, headers.get("x-sigma-shim")))
            return resp.status, headers, data
        finally:
            conn.close()


def non_loopback_ipv4():
    """An IPv4 address of this machine that is not loopback, or None."""
    candidates = []
    try:
        candidates.append(socket.gethostbyname(socket.gethostname()))
    except OSError:
        pass
    try:  # no packet is sent: connect() on UDP only picks the route and the source address
        s = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
        try:
            s.connect(("10.255.255.255", 1))
            candidates.append(s.getsockname()[0])
        finally:
            s.close()
    except OSError:
        pass
    try:
        out = subprocess.run(["ip", "-4", "-o", "addr"], stdout=subprocess.PIPE, stderr=subprocess.DEVNULL,
                             timeout=5).stdout.decode()
        candidates += re.findall(r"inet (\d+\.\d+\.\d+\.\d+)/", out)
    except (OSError, subprocess.SubprocessError):
        pass
    for ip in candidates:
        if ip and not ip.startswith("127.") and ip != "0.0.0.0":
            return ip
    return None


def _parse(line):
    try:
        return json.loads(line)
    except ValueError:
        return None


def headers_dict(pairs):
    out = {}
    for k, v in pairs:
        k = k.lower()
        out[k] = out[k] + ", " + v if k in out else v
    return out


def decoded(headers, body):
    """The body with any gzip content coding removed."""
    if headers.get("content-encoding", "").lower() == "gzip":
        return gzip.decompress(body)
    return body


# -- the oracle: `sigma-shim convert` on exactly what the upstream serves ------------------------------------

def fetch_direct(up, target, key=API_KEY):
    """GET target from the test upstream without gzip: (status, body bytes). Not recorded for the test:
    the caller clears the upstream's log afterwards if it matters."""
    import ssl
    if up.tls:
        ctx = ssl.create_default_context()
        ctx.check_hostname = False
        ctx.verify_mode = ssl.CERT_NONE
        conn = http.client.HTTPSConnection("127.0.0.1", up.port, timeout=REQUEST_TIMEOUT, context=ctx)
    else:
        conn = http.client.HTTPConnection("127.0.0.1", up.port, timeout=REQUEST_TIMEOUT)
    try:
        conn.request("GET", target, headers={"x-apikey": key})
        resp = conn.getresponse()
        return resp.status, resp.read()
    finally:
        conn.close()


def upstream_inputs(up, sha256, folder, file_target=None, max_pages=None):
    """Writes what the upstream serves for a file into folder: file.json, behaviours-N.json (following
    meta.cursor, at most max_pages pages); returns (file path, [page paths])."""
    status, body = fetch_direct(up, file_target or "/api/v3/files/" + sha256)
    if status != 200:
        raise AssertionError("the upstream has no file %s (%d)" % (sha256, status))
    file_path = os.path.join(folder, "file.json")
    with open(file_path, "wb") as f:
        f.write(body)
    pages = []
    target = "/api/v3/files/%s/behaviours" % sha256
    while max_pages is None or len(pages) < max_pages:
        status, body = fetch_direct(up, target)
        if status != 200:
            raise AssertionError("behaviours of %s: %d %r" % (sha256, status, body[:200]))
        path = os.path.join(folder, "behaviours-%d.json" % len(pages))
        with open(path, "wb") as f:
            f.write(body)
        pages.append(path)
        cursor = json.loads(body).get("meta", {}).get("cursor")
        if not cursor:
            break
        target = "/api/v3/files/%s/behaviours?cursor=%s" % (sha256, cursor)
    return file_path, pages


def rules_folder(up, folder):
    """Writes every sigma_rule the upstream serves into folder/rules (as GET /api/v3/sigma_rules/{id} gives
    them); returns the folder."""
    out = os.path.join(folder, "rules")
    os.makedirs(out, exist_ok=True)
    for rule_id in list(up.data.rules):
        status, body = fetch_direct(up, "/api/v3/sigma_rules/" + rule_id)
        if status == 200:
            with open(os.path.join(out, rule_id + ".json"), "wb") as f:
                f.write(body)
    return out


def convert(file_path, pages=(), form="object", file_id=None, public_base=None, match_context=None,
            rules=None, limit=None, cursor=None):
    """Runs `sigma-shim convert`; returns (exit code, stdout bytes less the final newline, stderr text)."""
    argv = [BINARY, "convert", "--form", form, "--file", file_path]
    for p in pages:
        argv += ["--behaviours", p]
    if file_id:
        argv += ["--id", file_id]
    if public_base:
        argv += ["--public-base", public_base]
    if match_context:
        argv += ["--match-context", match_context]
    if rules:
        argv += ["--rules", rules]
    if limit is not None:
        argv += ["--limit", str(limit)]
    if cursor is not None:
        argv += ["--cursor", str(cursor)]
    proc = subprocess.run(argv, stdout=subprocess.PIPE, stderr=subprocess.PIPE, timeout=60, env=child_env())
    out = proc.stdout
    if out.endswith(b"\n"):
        out = out[:-1]  # convert ends its output with a newline, as command-line tools do; HTTP bodies do not
    return proc.returncode, out, proc.stderr.decode("utf-8", errors="replace")


def sha256_hex(data):
    return hashlib.sha256(data).hexdigest()


# -- a base for the tests --------------------------------------------------------------------------------------

class ShimTestCase(unittest.TestCase):
    """Each test gets a fresh upstream double (HTTP unless tls=True) with the project's data loaded, a scratch
    folder, and `start_shim(...)` that stops the shim at the end of the test."""

    upstream_page_size = 10
    wide = False

    @classmethod
    def setUpClass(cls):
        if not os.access(BINARY, os.X_OK):
            raise unittest.SkipTest("no sigma-shim binary at %s (set SIGMA_SHIM_BINARY)" % BINARY)

    def setUp(self):
        self.tmp = tempfile.mkdtemp(prefix="sigma-shim-e2e-")
        self.addCleanup(_rmtree, self.tmp)
        self.up = self.make_upstream()

    def make_upstream(self, tls=False, cert=None, key=None, page_size=None, data=None):
        if tls and cert is None:
            import certs
            c = certs.shared_certs()
            cert, key = c.localhost_cert, c.localhost_key
        up = vt.Upstream(data if data is not None else vt.Dataset().load_all(wide=self.wide),
                         cert=cert, key=key, page_size=page_size or self.upstream_page_size)
        up.start()
        self.addCleanup(up.stop)
        return up

    def start_shim(self, *args, env=None, key=API_KEY, up=None, tls=None, **kw):
        """Starts `serve --upstream <this test's upstream> ARGS`; env gets VT_API_KEY=key unless key is None.
        tls=True serves HTTPS with the shared `localhost` certificate, to clients that check it against the shared
        CA; an ssl.SSLContext is the clients' context for a shim whose ARGS name the certificate."""
        up = up or self.up
        args = list(args)
        if tls is True:
            import certs
            c = certs.shared_certs()
            args += ["--tls-cert", c.localhost_cert, "--tls-key", c.localhost_key]
            tls = certs.client_context(c.ca_cert)
        if tls:
            kw["tls"] = tls
        if "--upstream" not in args:
            args = ["--upstream", up.url("localhost" if up.tls else "127.0.0.1")] + args
        if env is None:
            env = child_env(**({"VT_API_KEY": key} if key is not None else {}))
        shim = Shim(args, env=env, **kw)
        shim.start()
        self.addCleanup(shim.__exit__, None, None, None)
        return shim

    def assertVtError(self, status, body, want_status, want_code):
        self.assertEqual(status, want_status, body[:300])
        doc = json.loads(body)
        self.assertIn("error", doc, body[:300])
        self.assertEqual(doc["error"].get("code"), want_code, body[:300])
        self.assertIsInstance(doc["error"].get("message"), str)
        return doc


def _rmtree(path):
    import shutil
    shutil.rmtree(path, ignore_errors=True)
