"""A Sluice daemon from this repository (`node daemon/dist/cli.js`) on a free 127.0.0.1 port, for the bench scripts."""

import os
import pathlib
import re
import shutil
import subprocess
import threading
import time
from dataclasses import dataclass

REPO = pathlib.Path(__file__).resolve().parents[2]
DAEMON = pathlib.Path(os.environ.get("SLUICE_DAEMON", REPO / "daemon" / "dist" / "cli.js"))


@dataclass
class Sluice:
    process: subprocess.Popen
    url: str

    def stop(self) -> None:
        if self.process.poll() is None:
            self.process.terminate()
            try:
                self.process.wait(timeout=10)
            except subprocess.TimeoutExpired:
                self.process.kill()
                self.process.wait()


def start_sluice() -> Sluice:
    """Starts the daemon and returns once it prints `listening on HOST:PORT`."""
    if not DAEMON.exists():
        raise SystemExit(f"no Sluice daemon at {DAEMON}: run `npm run build` at the repository root (or set SLUICE_DAEMON)")
    node = shutil.which("node")
    if node is None:
        raise SystemExit("node is not installed")
    # An empty --config: no routing file; the plugin sends the deployments (ROUTE.SET).
    process = subprocess.Popen(
        [node, str(DAEMON), "--port", "0", "--config", os.devnull, "--shutdown-timeout", "1"],
        stdout=subprocess.PIPE,
        stderr=subprocess.STDOUT,
        text=True,
    )
    assert process.stdout is not None
    output = ""
    deadline = time.monotonic() + 20
    while time.monotonic() < deadline:
        line = process.stdout.readline()
        if not line:
            break
        output += line
        match = re.search(r"listening on (\S+):(\d+)", line)
        if match:
            # Keep reading its output, so a full pipe never blocks the daemon.
            threading.Thread(target=process.stdout.read, daemon=True).start()
            return Sluice(process, f"redis://{match.group(1)}:{match.group(2)}")
    process.kill()
    raise SystemExit(f"the Sluice daemon did not start; output:\n{output}")
