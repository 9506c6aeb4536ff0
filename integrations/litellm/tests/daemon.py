"""A Sluice daemon from this repository (`node daemon/dist/cli.js`) on a free 127.0.0.1 port.

The tests' fixtures and the LiteLLM benchmarks (bench/litellm/*.py) start it the same way, from here.
"""

from __future__ import annotations

import os
import pathlib
import re
import shutil
import subprocess
import tempfile
import threading
import time
from dataclasses import dataclass


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

    @property
    def url(self) -> str:
        return f"redis://{self.host}:{self.port}"

    def stop(self) -> None:
        if self.process.poll() is None:
            self.process.terminate()
            try:
                self.process.wait(timeout=10)
            except subprocess.TimeoutExpired:
                self.process.kill()
                self.process.wait()


def start_daemon(config_text: str = "", port: int = 0) -> Daemon:
    """`node daemon/dist/cli.js --port PORT --config <yaml>`, once it prints `listening on HOST:PORT`."""
    if not DAEMON.exists():
        raise DaemonDidNotStart(f"no Sluice daemon at {DAEMON}: run `npm run build` at the repository root (or set SLUICE_DAEMON)")
    node = shutil.which("node")
    if node is None:
        raise DaemonDidNotStart("node is not installed")
    directory = pathlib.Path(tempfile.mkdtemp(prefix="sluice-litellm-test-"))
    config = directory / "sluice.yaml"
    config.write_text(config_text)
    process = subprocess.Popen(
        # --shutdown-timeout 1: on SIGTERM the daemon waits that long for clients to close their
        # side; the test process keeps its redis-py connections open, so the default 10 s would
        # be spent at every module's teardown. --dir: its snapshot stays in its own directory; in the
        # working directory the next daemon would load it (routing groups included) and a bench
        # Router of 10 deployments was offered one of the last run's 1000.
        [node, str(DAEMON), "--port", str(port), "--config", str(config), "--dir", str(directory), "--shutdown-timeout", "1"],
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
            return Daemon(process, match.group(1), int(match.group(2)), config)
    process.kill()
    raise DaemonDidNotStart(f"the Sluice daemon did not start; output:\n{output}")
