"""A Sluice daemon from this repository (`node daemon/dist/cli.js`) on a free 127.0.0.1 port.

The tests' fixtures and the LiteLLM benchmarks (bench/litellm/*.py) start it the same way, from here.
With `tls=` it also listens for TLS (`--tls-port`, certificates from tests/certificates.py); with
`directory=` of a stopped daemon it starts from that daemon's snapshot (a restart).
"""

from __future__ import annotations

import os
import pathlib
import re
import shutil
import socket
import subprocess
import tempfile
import threading
import time
from dataclasses import dataclass
from typing import TYPE_CHECKING

if TYPE_CHECKING:
    from .certificates import Certificates


class DaemonDidNotStart(RuntimeError):
    """The daemon is not built, node is missing, or it did not say it was listening."""


REPO = pathlib.Path(__file__).resolve().parents[3]
DAEMON = pathlib.Path(os.environ.get("SLUICE_DAEMON", REPO / "daemon" / "dist" / "cli.js"))


@dataclass
class Daemon:
    process: subprocess.Popen[str]
    host: str
    port: int
    config: pathlib.Path
    directory: pathlib.Path
    tls_port: int | None = None

    @property
    def url(self) -> str:
        return f"redis://{self.host}:{self.port}"

    @property
    def tls_url(self) -> str:
        """The TLS port by the name its test certificate gives (`localhost`)."""
        if self.tls_port is None:
            raise RuntimeError("this daemon was started without tls=")
        return f"rediss://localhost:{self.tls_port}"

    def stop(self) -> None:
        if self.process.poll() is None:
            self.process.terminate()
            try:
                self.process.wait(timeout=10)
            except subprocess.TimeoutExpired:
                self.process.kill()
                self.process.wait()


def free_port() -> int:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return int(probe.getsockname()[1])


def start_daemon(
    config_text: str = "",
    port: int = 0,
    *,
    tls: Certificates | None = None,
    client_certificates: bool = False,
    directory: pathlib.Path | None = None,
) -> Daemon:
    """`node daemon/dist/cli.js --port PORT --config <yaml> --dir <directory>`, once it prints `listening on HOST:PORT`.

    tls: also `--tls-port` (a free port) with the server certificate; client_certificates: and
    `--tls-ca-cert-file` (Sluice then requires a client certificate signed by the test CA).
    directory: a stopped daemon's directory, to start from its snapshot.
    """
    if not DAEMON.exists():
        raise DaemonDidNotStart(f"no Sluice daemon at {DAEMON}: run `npm run build` at the repository root (or set SLUICE_DAEMON)")
    node = shutil.which("node")
    if node is None:
        raise DaemonDidNotStart("node is not installed")
    if directory is None:
        directory = pathlib.Path(tempfile.mkdtemp(prefix="sluice-litellm-test-"))
    config = directory / "sluice.yaml"
    config.write_text(config_text)
    tls_port, tls_args = None, []
    if tls is not None:
        # The daemon takes a fixed tls-port (0 turns TLS off): a port free a moment ago.
        tls_port = free_port()
        tls_args = ["--tls-port", str(tls_port), "--tls-cert-file", str(tls.server_cert), "--tls-key-file", str(tls.server_key)]
        if client_certificates:
            tls_args += ["--tls-ca-cert-file", str(tls.ca)]
    process = subprocess.Popen(
        # --shutdown-timeout 1: on SIGTERM the daemon waits that long for clients to close their
        # side; the test process keeps its redis-py connections open, so the default 10 s would
        # be spent at every module's teardown. --dir: its snapshot stays in its own directory; in the
        # working directory the next daemon would load it (routing groups included) and a bench
        # Router of 10 deployments was offered one of the last run's 1000.
        [node, str(DAEMON), "--port", str(port), "--config", str(config), "--dir", str(directory), "--shutdown-timeout", "1", *tls_args],
        stdout=subprocess.PIPE,
        stderr=subprocess.STDOUT,
        text=True,
    )
    deadline = time.monotonic() + 20
    output = ""
    assert process.stdout is not None
    while time.monotonic() < deadline:
        line = process.stdout.readline()
        if not line:
            break
        output += line
        match = re.search(r"listening on (\S+):(\d+)", line)
        if match:
            # Keep reading its output, so a full pipe never blocks the daemon.
            threading.Thread(target=process.stdout.read, daemon=True).start()
            if tls_port is not None and f"TLS on 127.0.0.1:{tls_port}" not in output:
                process.kill()
                raise DaemonDidNotStart(f"the Sluice daemon did not say it listens for TLS on {tls_port}; output:\n{output}")
            return Daemon(process, match.group(1), int(match.group(2)), config, directory, tls_port)
    process.kill()
    raise DaemonDidNotStart(f"the Sluice daemon did not start; output:\n{output}")
