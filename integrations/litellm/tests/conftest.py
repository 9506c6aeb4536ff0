"""Fixtures: a Sluice daemon from this repository, started per test module on a free port."""

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
import warnings
from collections.abc import Iterator
from dataclasses import dataclass

# Offline: LiteLLM fetches its model cost map from the network at import unless told not to.
os.environ.setdefault("LITELLM_LOCAL_MODEL_COST_MAP", "True")
warnings.filterwarnings("ignore", category=DeprecationWarning)

import pytest  # noqa: E402

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
        pytest.fail(f"no Sluice daemon at {DAEMON}: run `npm run build` at the repository root (or set SLUICE_DAEMON)")
    node = shutil.which("node")
    if node is None:
        pytest.fail("node is not installed")
    directory = pathlib.Path(tempfile.mkdtemp(prefix="sluice-litellm-test-"))
    config = directory / "sluice.yaml"
    config.write_text(config_text)
    process = subprocess.Popen(
        [node, str(DAEMON), "--port", str(port), "--config", str(config)],
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
    pytest.fail(f"the Sluice daemon did not start; output:\n{output}")


@pytest.fixture(scope="module")
def daemon() -> Iterator[Daemon]:
    started = start_daemon()
    yield started
    started.stop()


@pytest.fixture(autouse=True)
def clean_callbacks() -> Iterator[None]:
    """Leave litellm.callbacks as the test found it (the plugin adds its outcome logger)."""
    import litellm

    before = list(litellm.callbacks)
    yield
    litellm.callbacks[:] = before


def deployment(id: str, group: str = "g", reply: object = "ok", **params: object) -> dict:
    """A model_list entry with a fixed id, a mocked reply and a credential the tests look for."""
    return {
        "model_name": group,
        "litellm_params": {"model": "openai/gpt-4o", "api_key": f"sk-secret-{id}", "mock_response": reply, **params},
        "model_info": {"id": id},
    }


def free_port() -> int:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return int(probe.getsockname()[1])
