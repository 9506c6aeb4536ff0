"""Certificates for a Sluice TLS listener, made with `openssl` in a temporary directory.

A test CA signs the server certificate (subjectAltName `DNS:localhost` only, so `127.0.0.1` is a
host name the certificate does not name) and a client certificate; a second CA signs nothing
Sluice uses (the wrong CA) and its key and certificate serve as a client certificate Sluice does
not accept.
"""

from __future__ import annotations

import pathlib
import shutil
import subprocess
from dataclasses import dataclass


@dataclass(frozen=True)
class Certificates:
    ca: pathlib.Path
    server_cert: pathlib.Path
    server_key: pathlib.Path
    client_cert: pathlib.Path
    client_key: pathlib.Path
    other_ca: pathlib.Path
    other_ca_key: pathlib.Path


def _openssl(*args: str) -> None:
    if shutil.which("openssl") is None:
        raise RuntimeError("openssl is not installed: apt-get install -y openssl (.ci/run does this)")
    result = subprocess.run(["openssl", *args], capture_output=True, text=True)
    if result.returncode != 0:
        raise RuntimeError(f"openssl {' '.join(args[:2])} failed: {result.stderr.strip()}")


EC_KEY = ("-newkey", "ec", "-pkeyopt", "ec_paramgen_curve:prime256v1", "-nodes")


def _self_signed(directory: pathlib.Path, name: str, subject: str) -> tuple[pathlib.Path, pathlib.Path]:
    cert, key = directory / f"{name}.crt", directory / f"{name}.key"
    _openssl("req", "-x509", *EC_KEY, "-keyout", str(key), "-out", str(cert), "-days", "2", "-subj", subject)
    return cert, key


def _issue(directory: pathlib.Path, name: str, subject: str, extensions: str) -> tuple[pathlib.Path, pathlib.Path]:
    cert, key, request, extfile = (directory / f"{name}.{suffix}" for suffix in ("crt", "key", "csr", "ext"))
    _openssl("req", *EC_KEY, "-keyout", str(key), "-out", str(request), "-subj", subject)
    extfile.write_text(extensions)
    _openssl(
        "x509", "-req", "-in", str(request), "-CA", str(directory / "ca.crt"), "-CAkey", str(directory / "ca.key"),
        "-CAcreateserial", "-out", str(cert), "-days", "2", "-extfile", str(extfile),
    )
    return cert, key


def make_certificates(directory: pathlib.Path) -> Certificates:
    ca, _ = _self_signed(directory, "ca", "/CN=Sluice test CA")
    server_cert, server_key = _issue(directory, "server", "/CN=localhost", "subjectAltName=DNS:localhost\nextendedKeyUsage=serverAuth\n")
    client_cert, client_key = _issue(directory, "client", "/CN=sluice-litellm-test", "extendedKeyUsage=clientAuth\n")
    other_ca, other_ca_key = _self_signed(directory, "other-ca", "/CN=Another CA")
    return Certificates(ca, server_cert, server_key, client_cert, client_key, other_ca, other_ca_key)
