"""A test double of the VirusTotal API v3, for the end-to-end tests of `sigma-shim serve`.

It runs in the test process as a thread (import it and use `Upstream`), or on its own:

    python3 tests/e2e/upstream.py [--port 0] [--tls-cert C --tls-key K] [--page-size N]

What it serves (everything else is a VirusTotal-shaped 404 NotFoundError):

  GET  /api/v3/files/{md5|sha1|sha256}              the File object (any case of the id)
  GET  /api/v3/files/{id}?relationships=a,b          the same, with data.relationships.{a,b} added
  GET  /api/v3/files/{id}/behaviours[?limit&cursor]  behaviour pages of `page_size` items, with meta.cursor
  GET  /api/v3/sigma_rules/{rule_id}                 the sigma_rule object
  POST /api/v3/files                                 an upload: the body is read in chunks (Content-Length or
                                                     chunked) and answered with its length and SHA-256
  GET  /api/v3/big?mb=N                              N MiB of deterministic bytes, streamed (see big_sha256)
  ANY  /api/v3/echo[/...]                            the request as JSON (method, target, headers, body size);
                                                     the answer also carries hop-by-hop headers on purpose

Every request is recorded (method, target, headers, body length) and the knobs on `Upstream` change
answers per test: canned answers per path, delays, gzip, required API key, and a share of requests that fail
(a 503 VirusTotal error, a 500 HTML page, a reset before the status line, or a body cut short), noted by
X-Request-Id so a client can tell which answers were meant to fail.
"""

import argparse
import copy
import glob
import gzip
import hashlib
import json
import os
import random
import socket
import ssl
import struct
import sys
import threading
import time
import urllib.parse
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer

HERE = os.path.dirname(os.path.abspath(__file__))
SOURCE_DIR = os.environ.get("SIGMA_SHIM_SOURCE_DIR") or os.path.abspath(os.path.join(HERE, "..", ".."))
FIXTURES_VT = os.path.join(SOURCE_DIR, "tests", "fixtures", "vt")
FIXTURES_ROUNDTRIP = os.path.join(SOURCE_DIR, "tests", "fixtures", "roundtrip")
DEMO_DIR = os.path.join(SOURCE_DIR, "shim", "demo")

CHUNK = 64 * 1024


def _big_block():
    # 64 KiB of bytes that are not all alike, so a wrong offset changes the digest.
    seed = hashlib.sha256(b"sigma-shim e2e big body").digest()
    return (seed * (CHUNK // len(seed) + 1))[:CHUNK]


BIG_BLOCK = _big_block()


def big_sha256(mb):
    """The SHA-256 of what GET /api/v3/big?mb=N sends."""
    h = hashlib.sha256()
    for _ in range(mb * (1 << 20) // CHUNK):
        h.update(BIG_BLOCK)
    return h.hexdigest()


HTML_ERROR = b"<html><body><h1>Server Error</h1></body></html>"
INJECTED_ERROR = {"error": {"code": "TransientError", "message": "injected failure"}}
FAILURE_KINDS = ("503", "500-html", "reset", "truncated")
TRUNCATED_LENGTH = 1000  # the Content-Length a "truncated" answer announces; it sends 100 bytes and closes


# The relationships the double counts for ?relationship_counters=true, and their counts.
COUNTED_RELATIONSHIPS = {"comments": 2, "contacted_domains": 5}


def vt_error(code, message):
    return {"error": {"code": code, "message": message}}


def _unwrap(doc):
    """The object of a VirusTotal answer, with or without the {"data": ...} envelope."""
    if isinstance(doc, dict) and "data" in doc and ("type" not in doc or "attributes" not in doc):
        return doc["data"]
    return doc


class Dataset:
    """Files, behaviours and sigma rules the double serves. Thread-safe for reads while tests mutate it."""

    def __init__(self):
        self._lock = threading.Lock()
        self.files = {}        # sha256 -> File object (the "data" member)
        self.index = {}        # lower-case md5/sha1/sha256 -> sha256
        self.behaviours = {}   # sha256 -> [behaviour object ...] in upstream order
        self.rules = {}        # rule id -> sigma_rule object

    # -- building ---------------------------------------------------------------------------------

    def add_file(self, obj):
        obj = _unwrap(obj)
        if not isinstance(obj, dict) or obj.get("type") != "file":
            raise ValueError("not a File object")
        attrs = obj.get("attributes") or {}
        sha256 = str(attrs.get("sha256") or obj.get("id")).lower()
        with self._lock:
            self.files[sha256] = obj
            for name in ("md5", "sha1", "sha256"):
                value = attrs.get(name)
                if isinstance(value, str) and value:
                    self.index[value.lower()] = sha256
            self.index[str(obj.get("id", sha256)).lower()] = sha256
        return sha256

    def remove_file(self, sha256):
        with self._lock:
            sha256 = sha256.lower()
            self.files.pop(sha256, None)
            self.behaviours.pop(sha256, None)
            for k in [k for k, v in self.index.items() if v == sha256]:
                del self.index[k]

    def set_behaviours(self, sha256, items):
        """Replaces a file's behaviours: a list of behaviour objects, or pages/objects as in the fixtures."""
        flat = []
        for item in items:
            if isinstance(item, dict) and isinstance(item.get("data"), list):
                flat.extend(item["data"])
            else:
                flat.append(_unwrap(item))
        with self._lock:
            self.behaviours[sha256.lower()] = flat

    def add_behaviours(self, sha256, items):
        with self._lock:
            existing = list(self.behaviours.get(sha256.lower(), []))
        self.set_behaviours(sha256, existing + list(items))

    def add_clone(self, source, tag):
        """Adds a copy of the File `source` (any of its ids) under new, distinct SHA-256, SHA-1 and MD5 derived
        from `tag`, with the source's behaviours; returns (sha256, sha1, md5). For tests that need many files."""
        src_sha256, obj = self.file(source)
        if obj is None:
            raise KeyError(source)
        seed = ("sigma-shim clone %s %s" % (src_sha256, tag)).encode("utf-8")
        sha256 = hashlib.sha256(seed).hexdigest()
        sha1 = hashlib.sha1(seed).hexdigest()
        md5 = hashlib.md5(seed).hexdigest()
        obj = copy.deepcopy(obj)
        obj["id"] = sha256
        attrs = obj.setdefault("attributes", {})
        attrs.update({"sha256": sha256, "sha1": sha1, "md5": md5})
        if isinstance(obj.get("links"), dict):
            obj["links"]["self"] = "https://www.virustotal.com/api/v3/files/" + sha256
        self.add_file(obj)
        behaviours = copy.deepcopy(self.behaviour_list(src_sha256))
        for b in behaviours:
            if isinstance(b, dict) and isinstance(b.get("id"), str) and "_" in b["id"]:
                b["id"] = sha256 + "_" + b["id"].split("_", 1)[1]
        self.set_behaviours(sha256, behaviours)
        return sha256, sha1, md5

    def add_rule(self, obj):
        obj = _unwrap(obj)
        with self._lock:
            self.rules[obj["id"]] = obj
        return obj["id"]

    # -- loading the project's data ---------------------------------------------------------------

    @staticmethod
    def _read(path):
        with open(path, "rb") as f:
            return json.loads(f.read().decode("utf-8"))

    def load_vt_fixtures(self, folder=FIXTURES_VT):
        for path in sorted(glob.glob(os.path.join(folder, "*.json"))):
            doc = self._read(path)
            obj = _unwrap(doc)
            if isinstance(obj, dict) and obj.get("type") == "file":
                self.add_file(obj)
            elif isinstance(obj, dict) and obj.get("type") == "file_behaviour":
                # A behaviour's id is "{sha256}_{sandbox}".
                self.add_behaviours(str(obj.get("id", "")).split("_", 1)[0], [obj])
            elif isinstance(obj, dict) and obj.get("type") == "sigma_rule":
                self.add_rule(obj)

    def load_roundtrip_pair(self, file_path, behaviours_path=None):
        sha256 = self.add_file(self._read(file_path))
        if behaviours_path:
            self.set_behaviours(sha256, [self._read(behaviours_path)])
        else:
            self.set_behaviours(sha256, [])
        return sha256

    def load_roundtrip(self, folder=FIXTURES_ROUNDTRIP, wide=False):
        """The round-trip inputs; `wide` picks the *.wide.* variant where one exists (same SHA-256)."""
        stems = set()
        for path in glob.glob(os.path.join(folder, "*.file.json")):
            stem = path[: -len(".file.json")]
            stems.add(stem[: -len(".wide")] if stem.endswith(".wide") else stem)
        for stem in sorted(stems):
            if wide and os.path.exists(stem + ".wide.file.json"):
                stem += ".wide"
            if not os.path.exists(stem + ".file.json"):
                continue
            behaviours = stem + ".behaviours.json"
            self.load_roundtrip_pair(stem + ".file.json", behaviours if os.path.exists(behaviours) else None)
        for path in sorted(glob.glob(os.path.join(folder, "rules", "*.json"))):
            self.add_rule(self._read(path))

    def load_demo(self, folder=DEMO_DIR):
        for path in sorted(glob.glob(os.path.join(folder, "files", "*.json"))):
            self.add_file(self._read(path))
        for path in sorted(glob.glob(os.path.join(folder, "behaviours", "*.json"))):
            sha256 = os.path.basename(path)[: -len(".json")]
            self.set_behaviours(sha256, [self._read(path)])
        for path in sorted(glob.glob(os.path.join(folder, "sigma_rules", "*.json"))):
            self.add_rule(self._read(path))

    def load_all(self, wide=False):
        self.load_vt_fixtures()
        self.load_demo()
        self.load_roundtrip(wide=wide)
        return self

    # -- lookups ----------------------------------------------------------------------------------

    def file(self, file_id):
        with self._lock:
            sha256 = self.index.get(file_id.lower())
            return (sha256, self.files.get(sha256)) if sha256 else (None, None)

    def behaviour_list(self, sha256):
        with self._lock:
            return list(self.behaviours.get(sha256, []))

    def rule(self, rule_id):
        with self._lock:
            return self.rules.get(rule_id)


class Recorded:
    """One request as the double saw it."""

    def __init__(self, method, target, headers, body_length, tls):
        self.method = method
        self.target = target                      # path + query as sent
        parts = urllib.parse.urlsplit(target)
        self.path = parts.path
        self.query = urllib.parse.parse_qs(parts.query, keep_blank_values=True)
        self.headers = headers                    # [(name, value)] as sent
        self.body_length = body_length
        self.tls = tls
        self.status = None
        self.gzipped = False
        self.failure = None                       # the kind of failure injected, if any
        self.time = time.monotonic()

    def header(self, name, default=None):
        for k, v in self.headers:
            if k.lower() == name.lower():
                return v
        return default

    def header_names(self):
        return [k.lower() for k, _ in self.headers]

    def __repr__(self):
        return "Recorded(%s %s -> %s)" % (self.method, self.target, self.status)


class Handler(BaseHTTPRequestHandler):
    protocol_version = "HTTP/1.1"
    server_version = "vt-double/1"
    timeout = 30  # seconds per socket read

    def log_message(self, format, *args):  # noqa: A002 - the base class's name
        pass

    # -- plumbing ---------------------------------------------------------------------------------

    @property
    def up(self):
        return self.server.upstream

    @property
    def disable_nagle_algorithm(self):
        # StreamRequestHandler.setup() sets TCP_NODELAY when this is true (Upstream.tcp_nodelay, off by
        # default): without it, headers and body written apart meet the client's delayed ACK (~40 ms).
        return bool(getattr(self.server.upstream, "tcp_nodelay", False))

    def _body_chunks(self):
        """The request body in chunks, for Content-Length or chunked transfer coding."""
        te = (self.headers.get("Transfer-Encoding") or "").lower()
        if "chunked" in te:
            while True:
                line = self.rfile.readline(1024)
                if not line:
                    raise ConnectionError("body ended early")
                size = int(line.split(b";", 1)[0].strip() or b"0", 16)
                if size == 0:
                    while True:  # trailers, up to the empty line
                        t = self.rfile.readline(8192)
                        if t in (b"\r\n", b"\n", b""):
                            return
                while size:
                    data = self.rfile.read(min(size, CHUNK))
                    if not data:
                        raise ConnectionError("body ended early")
                    size -= len(data)
                    yield data
                self.rfile.readline(16)
        else:
            remaining = int(self.headers.get("Content-Length") or 0)
            while remaining:
                data = self.rfile.read(min(remaining, CHUNK))
                if not data:
                    raise ConnectionError("body ended early")
                remaining -= len(data)
                yield data

    def _record(self, body_length):
        rec = Recorded(self.command, self.path, list(self.headers.items()), body_length,
                       isinstance(self.connection, ssl.SSLSocket))
        self.up._record(rec)
        return rec

    def _send(self, rec, status, body, content_type="application/json", headers=None, allow_gzip=True):
        if isinstance(body, (dict, list)):
            body = json.dumps(body).encode("utf-8")
        accepts_gzip = "gzip" in (self.headers.get("Accept-Encoding") or "").lower()
        if allow_gzip and self.up.gzip_answers and accepts_gzip and body:
            body = gzip.compress(body, 6)
            rec.gzipped = True
        rec.status = status
        self.send_response(status)
        self.send_header("Content-Type", content_type)
        if rec.gzipped:
            self.send_header("Content-Encoding", "gzip")
            self.send_header("Vary", "Accept-Encoding")
        for k, v in (headers or []):
            self.send_header(k, v)
        self.send_header("Content-Length", str(len(body)))
        self.end_headers()
        if self.command != "HEAD":
            self.wfile.write(body)

    def _fail(self, rec, kind):
        rec.failure = kind
        if kind == "503":
            return self._send(rec, 503, INJECTED_ERROR, allow_gzip=False)
        if kind == "500-html":
            return self._send(rec, 500, HTML_ERROR, "text/html; charset=utf-8", allow_gzip=False)
        self.close_connection = True
        if kind == "reset":
            # SO_LINGER 0: close() sends RST, not FIN.
            self.connection.setsockopt(socket.SOL_SOCKET, socket.SO_LINGER, struct.pack("ii", 1, 0))
            return
        self.send_response(200)
        self.send_header("Content-Type", "application/json")
        self.send_header("Content-Length", str(TRUNCATED_LENGTH))
        self.end_headers()
        self.wfile.write(b'{"data": ' + b" " * 91)
        self.wfile.flush()

    def _not_found(self, rec, what):
        self._send(rec, 404, vt_error("NotFoundError", "%s not found" % what))

    # -- dispatch ---------------------------------------------------------------------------------

    def do_GET(self):
        self._handle()

    do_POST = do_PUT = do_PATCH = do_DELETE = do_HEAD = do_OPTIONS = do_GET

    def _handle(self):
        target = self.path
        parts = urllib.parse.urlsplit(target)
        path = parts.path
        query = urllib.parse.parse_qs(parts.query, keep_blank_values=True)

        # Uploads and echo consume the body themselves, as a stream.
        if self.command == "POST" and path == "/api/v3/files":
            return self._upload()
        if path == "/api/v3/echo" or path.startswith("/api/v3/echo/"):
            return self._echo()

        length = 0
        for chunk in self._body_chunks():
            length += len(chunk)
        rec = self._record(length)

        if not self.up._wait_delay(path):
            return  # the double is stopping
        failure = self.up._pick_failure(self.headers.get("X-Request-Id"))
        if failure is not None:
            return self._fail(rec, failure)

        canned = self.up._canned_for(path)
        if canned is not None:
            status, headers, body = canned
            ctype = dict((k.lower(), v) for k, v in headers).get("content-type", "application/json")
            headers = [(k, v) for k, v in headers if k.lower() != "content-type"]
            return self._send(rec, status, body, ctype, headers)

        required = self.up.required_key
        key = self.headers.get("x-apikey")
        if required is not None:
            if not key:
                return self._send(rec, 401, vt_error("AuthenticationRequiredError",
                                                     "X-Apikey header is missing"))
            if required is not True and key != required:
                return self._send(rec, 401, vt_error("WrongCredentialsError", "Wrong API key"))

        if self.command == "GET" and path == "/api/v3/big":
            return self._big(rec, query)

        seg = [urllib.parse.unquote(s) for s in path.split("/")[1:]]
        if self.command in ("GET", "HEAD") and len(seg) >= 4 and seg[:3] == ["api", "v3", "files"]:
            if len(seg) == 4:
                return self._file(rec, seg[3], query)
            if len(seg) == 5 and seg[4] == "behaviours":
                return self._behaviours(rec, seg[3], query)
        if self.command in ("GET", "HEAD") and len(seg) == 4 and seg[:3] == ["api", "v3", "sigma_rules"]:
            rule = self.up.data.rule(seg[3])
            if rule is None:
                return self._not_found(rec, 'Sigma rule "%s"' % seg[3])
            return self._send(rec, 200, {"data": rule})
        return self._not_found(rec, 'Resource "%s"' % path)

    def _file(self, rec, file_id, query):
        sha256, obj = self.up.data.file(file_id)
        if obj is None:
            return self._not_found(rec, 'File "%s"' % file_id)
        wanted = []
        for value in query.get("relationships", []):
            wanted.extend(x for x in value.split(",") if x)
        if wanted:
            obj = copy.deepcopy(obj)
            rel = obj.setdefault("relationships", {})
            for name in wanted:
                rel[name] = {"data": [], "links": {
                    "related": "%s/api/v3/files/%s/%s" % (self.up.public_origin, sha256, name),
                    "self": "%s/api/v3/files/%s/relationships/%s" % (self.up.public_origin, sha256, name)}}
        if query.get("relationship_counters") == ["true"]:
            # As VirusTotal does: a counter for each relationship it knows (these two stand for them), merged
            # into a relationship also asked for. sigma_analysis is no longer one of them.
            obj = copy.deepcopy(obj)
            rel = obj.setdefault("relationships", {})
            for name, count in COUNTED_RELATIONSHIPS.items():
                rel.setdefault(name, {})["meta"] = {"count": count}
        self._send(rec, 200, {"data": obj})

    def _behaviours(self, rec, file_id, query):
        sha256, obj = self.up.data.file(file_id)
        if obj is None:
            return self._not_found(rec, 'File "%s"' % file_id)
        items = self.up.data.behaviour_list(sha256)
        size = self.up.page_size
        try:
            if "limit" in query:
                size = max(1, min(size, int(query["limit"][0])))
            offset = int(query["cursor"][0]) if "cursor" in query else 0
        except ValueError:
            return self._send(rec, 400, vt_error("InvalidArgumentError", "bad limit or cursor"))
        base = "%s/api/v3/files/%s/behaviours" % (self.up.public_origin, sha256)
        page = items[offset:offset + size]
        self_q = {"limit": str(size)}
        if offset:
            self_q["cursor"] = str(offset)
        doc = {"data": page, "links": {"self": base + "?" + urllib.parse.urlencode(self_q)},
               "meta": {"count": len(items)}}
        if offset + size < len(items):
            cursor = str(offset + size)
            doc["meta"]["cursor"] = cursor
            doc["links"]["next"] = base + "?" + urllib.parse.urlencode({"cursor": cursor, "limit": str(size)})
        self._send(rec, 200, doc)

    def _big(self, rec, query):
        try:
            mb = int(query.get("mb", ["1"])[0])
        except ValueError:
            mb = 1
        total = mb * (1 << 20)
        rec.status = 200
        self.send_response(200)
        self.send_header("Content-Type", "application/octet-stream")
        self.send_header("Content-Length", str(total))
        self.end_headers()
        sent = 0
        while sent < total:
            self.wfile.write(BIG_BLOCK)
            sent += len(BIG_BLOCK)

    def _upload(self):
        h = hashlib.sha256()
        n = 0
        for chunk in self._body_chunks():
            h.update(chunk)
            n += len(chunk)
        rec = self._record(n)
        if not self.up._wait_delay(rec.path):
            return
        self.up._note_upload(n, h.hexdigest())
        self._send(rec, 200, {"data": {"type": "analysis", "id": "upload-" + h.hexdigest()[:16],
                                       "meta": {"bytes": n, "sha256": h.hexdigest()}}})

    def _echo(self):
        h = hashlib.sha256()
        n = 0
        for chunk in self._body_chunks():
            h.update(chunk)
            n += len(chunk)
        rec = self._record(n)
        if not self.up._wait_delay(rec.path):
            return
        doc = {"method": self.command, "target": self.path, "headers": [[k, v] for k, v in self.headers.items()],
               "body_bytes": n, "body_sha256": h.hexdigest()}
        extra = [("X-Upstream-Custom", "kept"), ("X-Upstream-Hop", "dropped"),
                 ("Connection", "X-Upstream-Hop"), ("Keep-Alive", "timeout=30"),
                 ("Proxy-Authenticate", "Basic realm=x"), ("Cache-Control", "no-store")]
        self._send(rec, 201, doc, headers=extra)


class _Server(ThreadingHTTPServer):
    daemon_threads = True
    block_on_close = False
    allow_reuse_address = True
    request_queue_size = 64

    def __init__(self, address, upstream, tls_context):
        self.upstream = upstream
        self.tls_context = tls_context
        super().__init__(address, Handler)

    def finish_request(self, request, client_address):
        # The TLS handshake happens here, in the connection's thread, so that a client which never completes
        # it (or rejects the certificate) cannot stall the accept loop.
        self.upstream._track(request, True)
        wrapped = None
        try:
            if self.tls_context is not None:
                request.settimeout(10)
                try:
                    wrapped = self.tls_context.wrap_socket(request, server_side=True)
                except (ssl.SSLError, OSError) as e:
                    self.upstream._note_tls_error(e)
                    return
                self.upstream._track(wrapped, True)
            super().finish_request(wrapped or request, client_address)
        finally:
            self.upstream._track(request, False)
            if wrapped is not None:
                self.upstream._track(wrapped, False)
                try:
                    wrapped.close()
                except OSError:
                    pass

    def handle_error(self, request, client_address):
        exc = sys.exc_info()[1]
        self.upstream._note_handler_error(exc)


class Upstream:
    """The double. Use as a context manager, or start()/stop()."""

    def __init__(self, data=None, cert=None, key=None, page_size=10, host="127.0.0.1", port=0):
        self.data = data if data is not None else Dataset().load_all()
        self.page_size = page_size
        self.gzip_answers = True
        self.required_key = True      # True: any x-apikey; a string: that key; None: no check
        self.public_origin = "https://www.virustotal.com"
        self.tcp_nodelay = False      # True: TCP_NODELAY on accepted connections (no ~40 ms delayed-ACK stalls)
        self._lock = threading.Lock()
        self._requests = []
        self._request_count = 0       # every request, recorded or not
        self._uploads = []
        self._tls_errors = []
        self._handler_errors = []
        self._canned = {}             # path -> (status, [(k, v)], bytes)
        self._delays = {}             # path prefix -> seconds ("" = every path)
        self.record_requests = True   # False: keep no Recorded (long load runs)
        self._failure_rate = 0.0
        self._failure_rng = random.Random(0)
        self._failures = {}           # X-Request-Id -> [kind, ...] of the failures injected for it
        self._failure_counts = dict.fromkeys(FAILURE_KINDS, 0)
        self._stopping = threading.Event()
        self._connections = set()
        tls_context = None
        if cert:
            tls_context = ssl.SSLContext(ssl.PROTOCOL_TLS_SERVER)
            tls_context.load_cert_chain(cert, key)
        self.tls = tls_context is not None
        self._server = _Server((host, port), self, tls_context)
        self.host = host
        self.port = self._server.server_address[1]
        self._thread = None

    # -- life -------------------------------------------------------------------------------------

    def url(self, host=None):
        return "%s://%s:%d" % ("https" if self.tls else "http", host or self.host, self.port)

    def start(self):
        self._thread = threading.Thread(target=self._server.serve_forever, kwargs={"poll_interval": 0.1},
                                        name="vt-double", daemon=True)
        self._thread.start()
        return self

    def stop(self):
        self._stopping.set()
        self._server.shutdown()
        self._server.server_close()
        with self._lock:
            conns = list(self._connections)
        for c in conns:
            try:
                c.shutdown(socket.SHUT_RDWR)
            except OSError:
                pass
        if self._thread:
            self._thread.join(5)

    def __enter__(self):
        return self.start()

    def __exit__(self, *exc):
        self.stop()

    def _track(self, sock, add):
        with self._lock:
            if add:
                self._connections.add(sock)
            else:
                self._connections.discard(sock)

    # -- knobs ------------------------------------------------------------------------------------

    def reset(self):
        """Forgets recorded requests and clears every per-test knob (the data stay)."""
        with self._lock:
            self._requests.clear()
            self._uploads.clear()
            self._tls_errors.clear()
            self._handler_errors.clear()
            self._canned.clear()
            self._delays.clear()
            self._failure_rate = 0.0
            self._failures.clear()
        self.gzip_answers = True
        self.required_key = True

    def set_canned(self, path, status, body, content_type="application/json", headers=()):
        """Answers requests for `path` (no query) with this status and body instead."""
        if isinstance(body, (dict, list)):
            body = json.dumps(body).encode("utf-8")
        elif isinstance(body, str):
            body = body.encode("utf-8")
        with self._lock:
            self._canned[path] = (status, [("Content-Type", content_type)] + list(headers), body)

    def set_html(self, path, status=500):
        self.set_canned(path, status, HTML_ERROR, content_type="text/html; charset=utf-8")

    def set_delay(self, seconds, path=""):
        """Waits `seconds` before answering requests whose path starts with `path` ("" = all)."""
        with self._lock:
            self._delays[path] = seconds

    def clear_delay(self, path=""):
        with self._lock:
            self._delays.pop(path, None)

    def set_failure_rate(self, rate, seed=0):
        """Fails this share of requests (after reading them), each with one of FAILURE_KINDS at random."""
        with self._lock:
            self._failure_rate = rate
            self._failure_rng = random.Random(seed)

    def _pick_failure(self, request_id):
        with self._lock:
            if not self._failure_rate or self._failure_rng.random() >= self._failure_rate:
                return None
            kind = self._failure_rng.choice(FAILURE_KINDS)
            self._failure_counts[kind] += 1
            self._failures.setdefault(request_id, []).append(kind)
            return kind

    def failures_for(self, request_id):
        """The failures injected into requests that carried this X-Request-Id, in order."""
        with self._lock:
            return list(self._failures.get(request_id, ()))

    def failure_counts(self):
        with self._lock:
            return dict(self._failure_counts)

    def _canned_for(self, path):
        with self._lock:
            return self._canned.get(path)

    def _wait_delay(self, path):
        with self._lock:
            delay = max([s for p, s in self._delays.items() if path.startswith(p)], default=0)
        if delay:
            return not self._stopping.wait(delay)
        return True

    # -- what happened ----------------------------------------------------------------------------

    def _record(self, rec):
        with self._lock:
            self._request_count += 1
            if self.record_requests:
                self._requests.append(rec)

    def _note_upload(self, n, digest):
        with self._lock:
            self._uploads.append((n, digest))

    def _note_tls_error(self, e):
        with self._lock:
            self._tls_errors.append(repr(e))

    def _note_handler_error(self, e):
        with self._lock:
            self._handler_errors.append(repr(e))

    def requests(self, path_prefix=None):
        """A copy of the recorded requests, optionally only those whose path starts with path_prefix."""
        with self._lock:
            reqs = list(self._requests)
        if path_prefix is not None:
            reqs = [r for r in reqs if r.path.startswith(path_prefix)]
        return reqs

    def count(self, path_prefix=None):
        return len(self.requests(path_prefix))

    def total_requests(self):
        with self._lock:
            return self._request_count

    def uploads(self):
        with self._lock:
            return list(self._uploads)

    def tls_errors(self):
        with self._lock:
            return list(self._tls_errors)

    def clear_requests(self):
        with self._lock:
            self._requests.clear()


def main(argv=None):
    p = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    p.add_argument("--host", default="127.0.0.1")
    p.add_argument("--port", type=int, default=0)
    p.add_argument("--tls-cert")
    p.add_argument("--tls-key")
    p.add_argument("--page-size", type=int, default=10)
    p.add_argument("--wide", action="store_true", help="serve the *.wide.* round-trip variants")
    p.add_argument("--no-key-check", action="store_true", help="answer without an x-apikey too")
    args = p.parse_args(argv)
    up = Upstream(Dataset().load_all(wide=args.wide), cert=args.tls_cert, key=args.tls_key,
                  page_size=args.page_size, host=args.host, port=args.port)
    if args.no_key_check:
        up.required_key = None
    up.start()
    print(up.url(), flush=True)
    try:
        while True:
            time.sleep(3600)
    except KeyboardInterrupt:
        up.stop()


if __name__ == "__main__":
    main()
