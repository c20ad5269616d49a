"""Test certificates, made with the `openssl` command at test time.

make_certs(folder) writes a CA and two leaves signed by it:
  - `localhost`: SAN DNS:localhost, IP:127.0.0.1 (the name the shim is given: https://localhost:PORT)
  - `wrong`:     SAN DNS:wrong.example only (verification by host name must fail)
and returns their paths. Run as a script to make them in a folder and print the paths.
"""

import os
import shutil
import subprocess
import sys
import tempfile
import threading
from types import SimpleNamespace

_lock = threading.Lock()
_shared = None


def _openssl(*args, cwd):
    exe = shutil.which("openssl")
    if exe is None:
        raise RuntimeError("the openssl command is needed for the TLS tests")
    proc = subprocess.run([exe, *args], cwd=cwd, stdout=subprocess.PIPE, stderr=subprocess.PIPE,
                          timeout=60)
    if proc.returncode != 0:
        raise RuntimeError("openssl %s failed: %s" % (args[0], proc.stderr.decode(errors="replace")))


def _leaf(folder, name, subject_cn, san):
    key = os.path.join(folder, name + ".key")
    csr = os.path.join(folder, name + ".csr")
    crt = os.path.join(folder, name + ".crt")
    ext = os.path.join(folder, name + ".ext")
    with open(ext, "w") as f:
        f.write("subjectAltName=%s\n" % san)
        f.write("basicConstraints=critical,CA:FALSE\n")
        f.write("keyUsage=critical,digitalSignature,keyEncipherment\n")
        f.write("extendedKeyUsage=serverAuth\n")
        f.write("subjectKeyIdentifier=hash\n")
        f.write("authorityKeyIdentifier=keyid\n")
    _openssl("req", "-new", "-newkey", "ec", "-pkeyopt", "ec_paramgen_curve:prime256v1", "-nodes",
             "-keyout", key, "-out", csr, "-subj", "/CN=%s" % subject_cn, cwd=folder)
    _openssl("x509", "-req", "-in", csr, "-CA", "ca.crt", "-CAkey", "ca.key", "-set_serial",
             str(abs(hash((folder, name))) % (1 << 62) + 2), "-days", "7", "-sha256", "-extfile", ext,
             "-out", crt, cwd=folder)
    return crt, key


def make_certs(folder):
    """Writes ca.{key,crt}, localhost.{key,crt}, wrong.{key,crt} into folder; returns their paths."""
    os.makedirs(folder, exist_ok=True)
    ca_key = os.path.join(folder, "ca.key")
    ca_crt = os.path.join(folder, "ca.crt")
    _openssl("req", "-x509", "-new", "-newkey", "ec", "-pkeyopt", "ec_paramgen_curve:prime256v1", "-nodes",
             "-keyout", ca_key, "-out", ca_crt, "-days", "7", "-sha256", "-subj", "/CN=sigma-shim e2e test CA",
             "-addext", "basicConstraints=critical,CA:TRUE",
             "-addext", "keyUsage=critical,keyCertSign,cRLSign",
             "-addext", "subjectKeyIdentifier=hash", cwd=folder)
    localhost_crt, localhost_key = _leaf(folder, "localhost", "localhost", "DNS:localhost,IP:127.0.0.1")
    wrong_crt, wrong_key = _leaf(folder, "wrong", "wrong.example", "DNS:wrong.example")
    return SimpleNamespace(folder=folder, ca_cert=ca_crt, ca_key=ca_key,
                           localhost_cert=localhost_crt, localhost_key=localhost_key,
                           wrong_cert=wrong_crt, wrong_key=wrong_key)


def shared_certs():
    """One set per test process, in a temporary folder removed at exit."""
    global _shared
    with _lock:
        if _shared is None:
            import atexit
            folder = tempfile.mkdtemp(prefix="sigma-shim-e2e-certs-")
            atexit.register(shutil.rmtree, folder, True)
            _shared = make_certs(folder)
        return _shared


if __name__ == "__main__":
    out = make_certs(sys.argv[1] if len(sys.argv) > 1 else tempfile.mkdtemp(prefix="sigma-shim-certs-"))
    for k, v in sorted(vars(out).items()):
        print("%s=%s" % (k, v))
