"""Test certificates, made with the `openssl` command at test time.

make_certs(folder) writes a CA and four leaves signed by it:
  - `localhost`: SAN DNS:localhost, IP:127.0.0.1 (the name the shim is given: https://localhost:PORT)
  - `wrong`:     SAN DNS:wrong.example only (verification by host name must fail)
  - `rotated`:   as `localhost`, with another subject, serial and key (a certificate rotated in by SIGHUP)
  - `expired`:   as `localhost`, valid for one day in January 2025 only
and returns their paths. Run as a script to make them in a folder and print the paths.

client_context(ca) is the context a client that checks the certificate and the host name uses.
"""

import os
import shutil
import ssl
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


def _leaf_request(folder, name, subject_cn, san):
    """A new key, its certificate request and the extensions file of a server leaf: (key, csr, ext)."""
    key = os.path.join(folder, name + ".key")
    csr = os.path.join(folder, name + ".csr")
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
    return key, csr, ext


def _leaf(folder, name, subject_cn, san):
    key, csr, ext = _leaf_request(folder, name, subject_cn, san)
    crt = os.path.join(folder, name + ".crt")
    _openssl("x509", "-req", "-in", csr, "-CA", "ca.crt", "-CAkey", "ca.key", "-set_serial",
             str(abs(hash((folder, name))) % (1 << 62) + 2), "-days", "7", "-sha256", "-extfile", ext,
             "-out", crt, cwd=folder)
    return crt, key


def _expired_leaf(folder, name, subject_cn, san):
    """A leaf whose validity ended long ago: `openssl x509 -req` cannot date a certificate in the past (before
    OpenSSL 3.4), `openssl ca` can, with a throw-away database of its own."""
    key, csr, ext = _leaf_request(folder, name, subject_cn, san)
    crt = os.path.join(folder, name + ".crt")
    ca_dir = os.path.join(folder, name + "-ca")
    os.makedirs(ca_dir, exist_ok=True)
    with open(os.path.join(ca_dir, "index.txt"), "w"):
        pass
    with open(os.path.join(ca_dir, "serial"), "w") as f:  # hex with an even number of digits, as openssl ca wants
        f.write("%016x\n" % (abs(hash((folder, name))) % (1 << 62) + 2))
    config = os.path.join(ca_dir, "ca.cnf")
    with open(config, "w") as f:
        f.write("[ca]\ndefault_ca = e2e\n[e2e]\ndatabase = index.txt\nnew_certs_dir = .\nserial = serial\n"
                "default_md = sha256\npolicy = any_name\nunique_subject = no\n[any_name]\n"
                "commonName = supplied\n")
    _openssl("ca", "-batch", "-config", config, "-cert", os.path.join(folder, "ca.crt"),
             "-keyfile", os.path.join(folder, "ca.key"), "-in", csr, "-out", crt, "-notext", "-preserveDN",
             "-startdate", "20250101000000Z", "-enddate", "20250102000000Z", "-extfile", ext, cwd=ca_dir)
    return crt, key


def make_certs(folder):
    """Writes ca.{key,crt} and the leaves' {key,crt} into folder; returns their paths."""
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
    rotated_crt, rotated_key = _leaf(folder, "rotated", "localhost rotated", "DNS:localhost,IP:127.0.0.1")
    expired_crt, expired_key = _expired_leaf(folder, "expired", "localhost expired", "DNS:localhost,IP:127.0.0.1")
    return SimpleNamespace(folder=folder, ca_cert=ca_crt, ca_key=ca_key,
                           localhost_cert=localhost_crt, localhost_key=localhost_key,
                           wrong_cert=wrong_crt, wrong_key=wrong_key,
                           rotated_cert=rotated_crt, rotated_key=rotated_key,
                           expired_cert=expired_crt, expired_key=expired_key)


def client_context(ca_file):
    """A client's TLS context that trusts ca_file alone and checks the host name (ALPN http/1.1 offered)."""
    ctx = ssl.create_default_context(cafile=ca_file)
    ctx.set_alpn_protocols(["http/1.1"])
    return ctx


def unverified_context():
    """A client's TLS context that takes any certificate: for what a careless client sees."""
    ctx = ssl.SSLContext(ssl.PROTOCOL_TLS_CLIENT)
    ctx.check_hostname = False
    ctx.verify_mode = ssl.CERT_NONE
    return ctx


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
