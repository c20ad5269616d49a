"""The Debian package: script/package builds dist/sigma-shim_*.deb and its -dbgsym, then this reads them.

What is checked: the file list and modes, the control fields (Depends computed by dpkg-shlibdeps), the
conffile, the binary stripped with its symbols in the dbgsym package, the environment file equal to what
the program prints, the manual pages rendering without warnings, the unit verified by systemd-analyze
against the package's own tree and its exposure score, and lintian without errors. Nothing is installed.
"""
import glob
import os
import re
import shutil
import subprocess
import tempfile
import unittest

SOURCE = os.environ["SIGMA_SHIM_SOURCE_DIR"]
VERSION = os.environ["SIGMA_SHIM_VERSION"]
UNIT = "lib/systemd/system/sigma-shim.service"


def run(*args, **kwargs):
    return subprocess.run(list(args), capture_output=True, text=True, timeout=600, **kwargs)


class Package(unittest.TestCase):
    @classmethod
    def setUpClass(cls):
        built = subprocess.run(["bash", "script/package"], cwd=SOURCE, timeout=2000)
        if built.returncode != 0:
            raise RuntimeError(f"script/package failed with status {built.returncode}")
        debs = glob.glob(os.path.join(SOURCE, "dist", "sigma-shim_*_amd64.deb"))
        ddebs = glob.glob(os.path.join(SOURCE, "dist", "sigma-shim-dbgsym_*_amd64.ddeb"))
        if len(debs) != 1 or len(ddebs) != 1:
            raise RuntimeError(f"expected one package and one dbgsym package in dist/: {debs} {ddebs}")
        cls.deb, cls.ddeb = debs[0], ddebs[0]
        cls.root = tempfile.mkdtemp(prefix="sigma-shim-package-")
        subprocess.run(["dpkg-deb", "-x", cls.deb, cls.root], check=True)

    @classmethod
    def tearDownClass(cls):
        shutil.rmtree(cls.root, ignore_errors=True)

    def field(self, name, package=None):
        return run("dpkg-deb", "-f", package or self.deb, name).stdout.strip()

    def test_the_files_are_where_debian_and_the_readme_say(self):
        listing = run("dpkg-deb", "-c", self.deb).stdout.splitlines()
        files = {}
        for line in listing:
            mode, owner, _size, _date, _time, path = line.split(None, 5)
            self.assertEqual(owner, "root/root", line)
            if not mode.startswith("d"):
                files[path.removeprefix("./")] = mode
        man = [f"usr/share/man/man1/{page}.1.gz"
               for page in ("sigma-shim", "sigma-shim-serve", "sigma-shim-convert", "sigma-shim-compare",
                            "sigma-shim-routes", "sigma-shim-token")]
        expected = {
            "usr/bin/sigma-shim": "-rwxr-xr-x",
            UNIT: "-rw-r--r--",
            "etc/default/sigma-shim": "-rw-r--r--",
            "usr/share/doc/sigma-shim/README.md.gz": "-rw-r--r--",
            "usr/share/doc/sigma-shim/changelog.gz": "-rw-r--r--",
            "usr/share/doc/sigma-shim/changelog.Debian.gz": "-rw-r--r--",
            "usr/share/doc/sigma-shim/copyright": "-rw-r--r--",
        }
        expected.update({page: "-rw-r--r--" for page in man})
        self.assertEqual(files, expected)

    def test_control_fields_and_the_computed_depends(self):
        self.assertEqual(self.field("Package"), "sigma-shim")
        self.assertEqual(self.field("Architecture"), "amd64")
        self.assertTrue(self.field("Version").startswith(VERSION + "-"), self.field("Version"))
        self.assertTrue(os.path.basename(self.deb).startswith(f"sigma-shim_{self.field('Version')}_"))
        depends = {d.split()[0] for d in self.field("Depends").split(", ")}
        # What dpkg-shlibdeps finds in the binary's NEEDED libraries, none of it written by hand.
        for library in ("libssl3", "libboost-json1.81.0", "libboost-url1.81.0", "libhiredis0.14", "zlib1g",
                        "libc6", "libstdc++6"):
            self.assertIn(library, depends)
        needed = run("objdump", "-p", os.path.join(self.root, "usr/bin/sigma-shim")).stdout
        self.assertIn("libcrypto.so.3", needed)
        self.assertIn("libhiredis.so", needed)
        self.assertEqual(run("dpkg-deb", "-I", self.deb, "conffiles").stdout, "/etc/default/sigma-shim\n")
        for script in ("postinst", "prerm", "postrm"):
            self.assertEqual(run("dpkg-deb", "-I", self.deb, script).returncode, 0, script)

    def test_the_binary_is_stripped_and_its_symbols_are_in_the_dbgsym_package(self):
        binary = os.path.join(self.root, "usr/bin/sigma-shim")
        described = run("file", "-b", binary).stdout
        self.assertIn(", stripped", described)
        build_id = re.search(r"BuildID\[sha1\]=([0-9a-f]+)", described).group(1)
        self.assertEqual(self.field("Build-Ids", self.ddeb), build_id)
        self.assertEqual(self.field("Depends", self.ddeb), f"sigma-shim (= {self.field('Version')})")
        listing = run("dpkg-deb", "-c", self.ddeb).stdout
        self.assertIn(f"./usr/lib/debug/.build-id/{build_id[:2]}/{build_id[2:]}.debug", listing)
        md5sums = run("dpkg-deb", "-I", self.ddeb, "md5sums").stdout
        self.assertRegex(md5sums, rf"^[0-9a-f]{{32}}  usr/lib/debug/\.build-id/{build_id[:2]}/")
        self.assertEqual(run(binary, "--version").stdout, f"sigma-shim {VERSION}\n")

    def test_the_environment_file_is_what_the_program_prints(self):
        with open(os.path.join(self.root, "etc/default/sigma-shim")) as f:
            shipped = f.read()
        printed = run(os.path.join(self.root, "usr/bin/sigma-shim"), "serve", "--print-env-defaults").stdout
        self.assertEqual(shipped, printed)
        for line in shipped.splitlines():
            self.assertTrue(line == "" or line.startswith("#"), line)
        self.assertIn("#SIGMA_SHIM_DRAIN_TIMEOUT=30s\n", shipped)

    def test_the_manual_pages_render_without_warnings(self):
        env = dict(os.environ, LC_ALL="C.UTF-8", MANWIDTH="80")
        for page in glob.glob(os.path.join(self.root, "usr/share/man/man1/*.1.gz")):
            shown = run("man", "--warnings", "-E", "UTF-8", "-l", "-Tutf8", "-Z", page, env=env)
            self.assertEqual(shown.returncode, 0, page)
            self.assertEqual(shown.stderr, "", page)
        serve = run("man", "-l", os.path.join(self.root, "usr/share/man/man1/sigma-shim-serve.1.gz"),
                    env=env).stdout
        self.assertIn("SIGMA_SHIM_DRAIN_TIMEOUT", serve)
        self.assertIn("--print-env-defaults", serve)

    def test_the_unit_verifies_against_the_package_tree(self):
        # systemd-analyze verify needs the targets the unit names and the binary it runs: the host's units
        # and the package's files, in a root of their own.
        root = tempfile.mkdtemp(prefix="sigma-shim-verify-")
        try:
            shutil.copytree(self.root, root, dirs_exist_ok=True, symlinks=True)
            shutil.copytree("/lib/systemd/system", os.path.join(root, "lib/systemd/system"),
                            dirs_exist_ok=True, symlinks=True,
                            ignore=lambda _dir, names: [n for n in names if n == "sigma-shim.service"])
            verified = run("systemd-analyze", "verify", "--man=no", f"--root={root}", "/" + UNIT)
            self.assertEqual(verified.returncode, 0, verified.stderr)
            self.assertEqual(verified.stderr, "")
        finally:
            shutil.rmtree(root, ignore_errors=True)

    def test_the_unit_is_hardened(self):
        unit = os.path.join(self.root, UNIT)
        analysis = run("systemd-analyze", "security", "--offline=yes", unit)
        overall = re.search(r"Overall exposure level for \S+: (\d+\.\d+) (\w+)", analysis.stdout)
        self.assertIsNotNone(overall, analysis.stdout + analysis.stderr)
        print(f"\n{overall.group(0)}")
        self.assertIn(overall.group(2), ("OK", "PERFECT"))
        self.assertLessEqual(float(overall.group(1)), 2.0)
        with open(unit) as f:
            settings = {line.strip() for line in f if "=" in line and not line.startswith("#")}
        for setting in ("Type=notify", "ExecStart=/usr/bin/sigma-shim serve", "DynamicUser=yes",
                        "EnvironmentFile=-/etc/default/sigma-shim", "LoadCredential=api-key:/etc/sigma-shim/api-key",
                        "StateDirectory=sigma-shim", "KillSignal=SIGTERM", "Restart=on-failure",
                        "CapabilityBoundingSet=", "RestrictAddressFamilies=AF_INET AF_INET6 AF_UNIX",
                        "SystemCallFilter=@system-service", "MemoryDenyWriteExecute=yes", "UMask=0077"):
            self.assertIn(setting, settings)
        # The drain (--drain-timeout, 30 s by default) must end before systemd's SIGKILL.
        stop = next(s for s in settings if s.startswith("TimeoutStopSec="))
        self.assertGreater(int(stop.removeprefix("TimeoutStopSec=").removesuffix("s")), 30)

    def test_lintian_finds_no_errors(self):
        for package in (self.deb, self.ddeb):
            checked = run("lintian", "--allow-root", "--fail-on", "error", package)
            print(f"\nlintian {os.path.basename(package)}:\n{checked.stdout}", end="")
            self.assertEqual(checked.returncode, 0, checked.stdout + checked.stderr)
            self.assertNotRegex(checked.stdout, r"(?m)^E: ")

    def test_the_copyright_file_is_machine_readable(self):
        with open(os.path.join(self.root, "usr/share/doc/sigma-shim/copyright")) as f:
            text = f.read()
        self.assertTrue(text.startswith("Format: https://www.debian.org/doc/packaging-manuals/copyright-format/1.0/\n"))
        self.assertIn("Files: shim/demo/files/*", text)


if __name__ == "__main__":
    unittest.main()
