"""A real forward proxy for the end-to-end tests: Debian's tinyproxy (1.11), run in the foreground on a free
127.0.0.1 port with its own configuration, log and PID file in a scratch folder, and stopped by its PID.

    proxy = TinyProxy(basic_auth=("user", "secret"), connect_ports=[443]).start()
    ...  HTTPS_PROXY=proxy.url("user", "secret") ...
    proxy.connect_lines()          # ["localhost:43211", ...]: the CONNECT requests it received
    proxy.stop(); proxy.start()    # the same port again

What tinyproxy 1.11.1 needs, found by running it: without a `User` directive it runs as whoever starts it (as
root it only warns "You SHOULD set a UserName"); with `User nobody` it writes its PID file as root but creates
its log file only after dropping to that user, so the folder must be writable by that user, and traversable
all the way down (a 0700 folder of root's is not). As root this fixture therefore drops to nobody:nogroup (what
a proxy runs as in real life) in a folder of its own handed to that user; otherwise it runs as the current user.
`BasicAuth` accepts only [-a-z0-9._] in a user name and password (an '@' is a syntax error); a missing
Proxy-Authorization gets 407, a wrong one 401. A CONNECT to a port not listed by any `ConnectPort` gets
"403 Access violation".
"""

import os
import re
import shutil
import signal
import socket
import subprocess
import tempfile
import time

from local_program import free_port, required_program

PACKAGE = "tinyproxy"
START_TIMEOUT = 10.0
STOP_TIMEOUT = 10.0

# "CONNECT   Dec 01 08:08:18.972 [31759]: Request (file descriptor 5): CONNECT localhost:9 HTTP/1.1"
REQUEST_LINE = re.compile(r"\]: Request \(file descriptor \d+\): (\S+) (\S+) HTTP/\d\.\d\s*$")
_CREDENTIAL = re.compile(r"^[-A-Za-z0-9._]+$")


def executable():
    return required_program("tinyproxy", PACKAGE, "the proxy tests")


def accepts(port, timeout=0.2):
    try:
        socket.create_connection(("127.0.0.1", port), timeout=timeout).close()
        return True
    except OSError:
        return False


def _run_as():
    """(user, group, uid, gid) to drop to when started as root, else None."""
    if os.geteuid() != 0:
        return None
    import grp
    import pwd
    try:
        pw = pwd.getpwnam("nobody")
    except KeyError:
        return None
    for group in ("nogroup", "nobody"):
        try:
            return "nobody", group, pw.pw_uid, grp.getgrnam(group).gr_gid
        except KeyError:
            continue
    return None


class TinyProxy:
    """One tinyproxy. `basic_auth=(user, password)` requires those credentials; `connect_ports=[...]` allows
    CONNECT to those ports only (tinyproxy allows every port when none is listed)."""

    def __init__(self, basic_auth=None, connect_ports=None, timeout=60, port=None):
        self.exe = executable()
        if basic_auth:
            for part in basic_auth:
                if not _CREDENTIAL.match(part):
                    raise ValueError("tinyproxy's BasicAuth takes only [-A-Za-z0-9._]: %r" % (part,))
        self.basic_auth = basic_auth
        self.connect_ports = list(connect_ports or [])
        self.timeout = timeout
        self.fixed_port = port
        self.port = port
        self.folder = tempfile.mkdtemp(prefix="sigma-shim-tinyproxy-")
        self.conf_path = os.path.join(self.folder, "tinyproxy.conf")
        self.log_path = os.path.join(self.folder, "tinyproxy.log")
        self.pid_path = os.path.join(self.folder, "tinyproxy.pid")
        self.out_path = os.path.join(self.folder, "tinyproxy.out")
        self.run_as = _run_as()
        if self.run_as:
            os.chmod(self.folder, 0o755)
            os.chown(self.folder, self.run_as[2], self.run_as[3])
        self.proc = None
        self.pids = []  # every PID it has had, one per start
        self._started = False

    # -- life -------------------------------------------------------------------------------------

    def _write_conf(self):
        lines = []
        if self.run_as:
            lines += ["User %s" % self.run_as[0], "Group %s" % self.run_as[1]]
        lines += [
            "Port %d" % self.port,
            "Listen 127.0.0.1",
            "Timeout %d" % self.timeout,
            'LogFile "%s"' % self.log_path,
            "LogLevel Connect",  # one "Request (file descriptor N): METHOD TARGET HTTP/1.1" line per request
            'PidFile "%s"' % self.pid_path,
            "MaxClients 64",
            "Allow 127.0.0.1",
        ]
        if self.basic_auth:
            lines.append("BasicAuth %s %s" % self.basic_auth)
        lines += ["ConnectPort %d" % p for p in self.connect_ports]
        with open(self.conf_path, "w") as f:
            f.write("\n".join(lines) + "\n")

    def start(self):
        """Starts it (on the same port as before after a stop) and returns once the port accepts."""
        if self.alive():
            raise AssertionError("tinyproxy is already running (pid %d)" % self.proc.pid)
        choose = not self.fixed_port and not self._started
        for attempt in range(5 if choose else 1):  # a free port may be taken before tinyproxy binds it
            if choose:
                self.port = free_port()
            self._write_conf()
            try:
                os.unlink(self.pid_path)
            except FileNotFoundError:
                pass
            with open(self.out_path, "ab") as out:
                self.proc = subprocess.Popen([self.exe, "-d", "-c", self.conf_path], stdin=subprocess.DEVNULL,
                                             stdout=out, stderr=subprocess.STDOUT, start_new_session=True)
            self.pids.append(self.proc.pid)
            deadline = time.monotonic() + START_TIMEOUT
            while self.proc.poll() is None and time.monotonic() < deadline:
                if accepts(self.port):
                    self._started = True
                    return self
                time.sleep(0.02)
            if self.proc.poll() is None:
                self._kill()
                raise AssertionError("tinyproxy did not accept connections on 127.0.0.1:%d within %.0f s\n%s"
                                     % (self.port, START_TIMEOUT, self.diagnostics()))
        raise AssertionError("tinyproxy exited at start (status %r) on port %d\n%s"
                             % (self.proc.returncode, self.port, self.diagnostics()))

    def stop(self, timeout=STOP_TIMEOUT):
        """SIGTERM to its PID and waits (SIGKILL when it does not exit in time); returns the exit status."""
        if self.proc is None or self.proc.poll() is not None:
            return None if self.proc is None else self.proc.returncode
        os.kill(self.proc.pid, signal.SIGTERM)
        try:
            return self.proc.wait(timeout)
        except subprocess.TimeoutExpired:
            return self._kill()

    def _kill(self):
        os.kill(self.proc.pid, signal.SIGKILL)
        return self.proc.wait(5)

    def close(self):
        """Stops it and removes its folder (for addCleanup)."""
        try:
            self.stop()
        finally:
            shutil.rmtree(self.folder, ignore_errors=True)

    def alive(self):
        return self.proc is not None and self.proc.poll() is None

    @property
    def pid(self):
        return self.proc.pid if self.proc else None

    def pid_file(self):
        """The PID tinyproxy wrote into its PidFile, or None."""
        try:
            with open(self.pid_path) as f:
                return int(f.read().strip() or 0) or None
        except (OSError, ValueError):
            return None

    def __enter__(self):
        return self.start()

    def __exit__(self, *exc):
        self.close()

    # -- addresses --------------------------------------------------------------------------------

    @property
    def address(self):
        return "127.0.0.1:%d" % self.port

    def url(self, user=None, password=None):
        """http://[user[:password]@]127.0.0.1:PORT; the parts are put in as given (encode them yourself)."""
        auth = ""
        if user is not None:
            auth = user + (":" + password if password is not None else "") + "@"
        return "http://%s%s" % (auth, self.address)

    # -- what it saw ------------------------------------------------------------------------------

    def log_text(self):
        try:
            with open(self.log_path, "rb") as f:
                return f.read().decode("utf-8", errors="replace")
        except FileNotFoundError:
            return ""

    def log_lines(self):
        return self.log_text().splitlines()

    def requests(self):
        """[(method, target)] of every request line it logged, in order (all runs)."""
        out = []
        for line in self.log_lines():
            m = REQUEST_LINE.search(line)
            if m:
                out.append((m.group(1), m.group(2)))
        return out

    def connect_lines(self):
        """The targets (host:port) of the CONNECT requests it received, in order."""
        return [target for method, target in self.requests() if method == "CONNECT"]

    def wait_for(self, predicate, timeout=5.0):
        """Waits until predicate(log lines) is true; returns its value, or None at the deadline."""
        deadline = time.monotonic() + timeout
        while True:
            value = predicate(self.log_lines())
            if value or time.monotonic() > deadline:
                return value or None
            time.sleep(0.02)

    def wait_for_line(self, pattern, timeout=5.0):
        """The first log line matching the regular expression, waiting for it; None at the deadline."""
        rx = re.compile(pattern)
        return self.wait_for(lambda lines: next((ln for ln in lines if rx.search(ln)), None), timeout)

    def diagnostics(self):
        try:
            with open(self.out_path, "rb") as f:
                out = f.read().decode("utf-8", errors="replace")
        except OSError:
            out = ""
        with open(self.conf_path) as f:
            conf = f.read()
        return "configuration:\n%s\noutput:\n%s\nlog:\n%s" % (conf, out, self.log_text()[-4000:])
