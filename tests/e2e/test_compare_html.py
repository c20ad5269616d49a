"""The HTML comparison report as a browser shows it: headless Chromium driven through chromedriver over the
W3C WebDriver HTTP protocol (urllib only). The summary must read right, a difference must be visibly highlighted,
and a screenshot is kept as a build artifact."""

import base64
import json
import os
import pathlib
import shutil
import signal
import subprocess
import tempfile
import time
import unittest
import urllib.error
import urllib.request

import harness
from local_program import free_port
from test_compare_cli import make_pairs, run

DRIVER_START_TIMEOUT = 20.0
HTTP_TIMEOUT = 60.0


def find_program(*names):
    for name in names:
        path = shutil.which(name)
        if path:
            return path
    return None


CHROMEDRIVER = find_program("chromedriver")
CHROMIUM = find_program("chromium", "chromium-browser", "google-chrome")


class WebDriver:
    """Just enough of WebDriver: a session, navigation, scripts, screenshots."""

    def __init__(self, port):
        self.base = "http://127.0.0.1:%d" % port
        self.session = None

    def call(self, method, path, body=None):
        data = None if body is None else json.dumps(body).encode("utf-8")
        req = urllib.request.Request(self.base + path, data=data, method=method,
                                     headers={"Content-Type": "application/json; charset=utf-8"})
        try:
            with urllib.request.urlopen(req, timeout=HTTP_TIMEOUT) as resp:
                return json.loads(resp.read().decode("utf-8"))["value"]
        except urllib.error.HTTPError as e:
            raise AssertionError("WebDriver %s %s: %d %s" % (method, path, e.code,
                                                              e.read().decode("utf-8", "replace")[:2000]))

    def ready(self):
        try:
            return bool(self.call("GET", "/status").get("ready"))
        except (OSError, AssertionError, ValueError):
            return False

    def start_session(self, binary):
        options = {"args": ["--headless=new", "--no-sandbox", "--disable-gpu", "--window-size=1400,1000"]}
        if binary:
            options["binary"] = binary
        value = self.call("POST", "/session", {"capabilities": {"alwaysMatch": {
            "browserName": "chrome", "goog:chromeOptions": options}}})
        self.session = value["sessionId"]

    def quit(self):
        if self.session:
            try:
                self.call("DELETE", "/session/" + self.session)
            finally:
                self.session = None

    def navigate(self, url):
        self.call("POST", "/session/%s/url" % self.session, {"url": url})

    def execute(self, script, *args):
        return self.call("POST", "/session/%s/execute/sync" % self.session, {"script": script, "args": list(args)})

    def screenshot(self):
        return base64.b64decode(self.call("GET", "/session/%s/screenshot" % self.session))


MARKS_SCRIPT = """
const out = [];
for (const m of document.querySelectorAll(arguments[0])) {
  const r = m.getBoundingClientRect();
  out.push({text: m.textContent, background: getComputedStyle(m).backgroundColor, width: r.width,
            height: r.height});
}
return out;
"""


def transparent(colour):
    return colour in ("transparent", "rgba(0, 0, 0, 0)") or colour.replace(" ", "").endswith(",0)")


@unittest.skipUnless(CHROMEDRIVER and CHROMIUM,
                     "chromium and chromedriver are not installed (Debian: apt-get install chromium chromium-driver)")
class CompareHtmlInBrowserTest(unittest.TestCase):

    @classmethod
    def setUpClass(cls):
        if not os.access(harness.BINARY, os.X_OK):
            raise unittest.SkipTest("no sigma-shim binary at %s (set SIGMA_SHIM_BINARY)" % harness.BINARY)

    def setUp(self):
        self.tmp = tempfile.mkdtemp(prefix="sigma-shim-compare-html-")
        self.addCleanup(shutil.rmtree, self.tmp, True)

    def start_driver(self):
        """chromedriver on a free port, stopped (with any browser it left) at the end of the test, whatever
        happens."""
        port = free_port()
        log = open(os.path.join(self.tmp, "chromedriver.log"), "wb")
        self.addCleanup(log.close)
        proc = subprocess.Popen([CHROMEDRIVER, "--port=%d" % port], stdin=subprocess.DEVNULL, stdout=log,
                                stderr=subprocess.STDOUT, start_new_session=True)
        self.addCleanup(self.stop_driver, proc)
        driver = WebDriver(port)
        deadline = time.monotonic() + DRIVER_START_TIMEOUT
        while not driver.ready():
            if proc.poll() is not None or time.monotonic() > deadline:
                self.fail("chromedriver did not become ready (exit %r); see %s" % (proc.poll(), log.name))
            time.sleep(0.1)
        driver.start_session(CHROMIUM)
        self.addCleanup(driver.quit)  # runs before stop_driver: cleanups run last-in, first-out
        return driver

    @staticmethod
    def stop_driver(proc):
        if proc.poll() is None:
            proc.terminate()
            try:
                proc.wait(10)
            except subprocess.TimeoutExpired:
                proc.kill()
                proc.wait(5)
        # A browser the driver could not close would outlive it; it is in the session started for the driver.
        try:
            os.killpg(proc.pid, signal.SIGKILL)
        except (ProcessLookupError, PermissionError):
            pass

    def test_report_reads_right_and_highlights_the_difference(self):
        legacy, rebuilt = make_pairs(self.tmp)
        report = os.path.join(self.tmp, "report.html")
        code, _, err = run("--legacy", legacy, "--reconstructed", rebuilt, "--format", "html", "--output", report)
        self.assertEqual(code, 1, err)

        driver = self.start_driver()
        driver.navigate(pathlib.Path(report).as_uri())

        text = driver.execute("return document.body.innerText;")
        self.assertIn("3 answers compared: 1 exact, 1 compatible, 1 different.", text)
        self.assertRegex(text, r"total\s+exact\s+compatible\s+different\s+3\s+1\s+1\s+1")
        self.assertIn("data.attributes.rule_matches.*.rule_level", text)

        different = driver.execute(MARKS_SCRIPT, "mark.diff-different")
        compatible = driver.execute(MARKS_SCRIPT, "mark.diff-compatible")
        self.assertTrue(different, "no mark.diff-different element")
        self.assertTrue(compatible, "no mark.diff-compatible element")
        shown = [m for m in different if '"rule_level": "critical"' in m["text"]]
        self.assertEqual(len(shown), 1, different)
        self.assertFalse(transparent(shown[0]["background"]), shown[0])
        self.assertGreater(shown[0]["width"] * shown[0]["height"], 0, shown[0])
        self.assertTrue(any('"rule_level": "low"' in m["text"] for m in different), different)
        self.assertFalse(transparent(compatible[0]["background"]), compatible[0])
        self.assertNotEqual(compatible[0]["background"], shown[0]["background"])

        # Nothing on the page was fetched from anywhere: the only resource is the page itself.
        resources = driver.execute("return performance.getEntriesByType('resource').map(e => e.name);")
        self.assertEqual(resources, [])

        artifacts = os.environ.get("SIGMA_SHIM_ARTIFACTS_DIR") or tempfile.mkdtemp(prefix="sigma-shim-artifacts-")
        os.makedirs(artifacts, exist_ok=True)
        shot = os.path.join(artifacts, "compare-report.png")
        png = driver.screenshot()
        self.assertTrue(png.startswith(b"\x89PNG\r\n\x1a\n"))
        with open(shot, "wb") as f:
            f.write(png)
        print("\nscreenshot: " + shot)

        # And one with the highlighted difference in view.
        driver.execute("document.querySelector('mark.diff-different').scrollIntoView({block: 'center'});")
        detail = os.path.join(artifacts, "compare-report-difference.png")
        with open(detail, "wb") as f:
            f.write(driver.screenshot())
        print("screenshot: " + detail)


if __name__ == "__main__":
    unittest.main()
