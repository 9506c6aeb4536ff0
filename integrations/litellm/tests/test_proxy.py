"""The limiter inside a real LiteLLM proxy (`litellm --config ...`), two replicas sharing one Sluice,
one over its plain port (SLUICE_URL in its environment), the other over its TLS port with
SLUICE_URL=rediss://... and SLUICE_SSL_CA_CERTS in its config file's `environment_variables:`.

Needs LiteLLM's proxy dependencies (fastapi, uvicorn, ...: the `proxy` extra of litellm); where
they are not installed the test fails and says so.
"""

from __future__ import annotations

import json
import os
import pathlib
import shutil
import subprocess
import sys
import time
import urllib.error
import urllib.request
from collections.abc import Iterator
from concurrent.futures import ThreadPoolExecutor

import pytest

from .certificates import Certificates
from .conftest import free_port, start_daemon
from .daemon import Daemon

CONFIG = pathlib.Path(__file__).parent / "proxy" / "config.yaml"


@pytest.fixture(scope="module")
def daemon(certificates: Certificates) -> Iterator[Daemon]:
    """This module's Sluice also listens for TLS."""
    started = start_daemon(tls=certificates)
    yield started
    started.stop()


def config_over_tls(directory: pathlib.Path, daemon: Daemon, certificates: Certificates) -> pathlib.Path:
    """tests/proxy/config.yaml with the Sluice settings for TLS in the file itself."""
    shutil.copy(CONFIG.parent / "custom_auth.py", directory / "custom_auth.py")
    config = directory / "config.yaml"
    config.write_text(
        CONFIG.read_text()
        + f"environment_variables:\n  SLUICE_URL: {daemon.tls_url}\n  SLUICE_SSL_CA_CERTS: {certificates.ca}\n"
    )
    return config


def start_proxy(config: pathlib.Path, **sluice_environment: str) -> tuple[subprocess.Popen, int]:
    litellm_cli = shutil.which("litellm", path=str(pathlib.Path(sys.executable).parent))
    if litellm_cli is None:
        pytest.fail("the litellm CLI is not installed next to this Python")
    port = free_port()
    # SLUICE_ON_UNAVAILABLE=closed and a 30 s timeout: the counts below are Sluice's decisions
    # alone. With the defaults (0.5 s, fall back to LiteLLM's own limiter) a machine at load 20
    # let each proxy count on its own and admit the limit twice over.
    environment = {
        **os.environ,
        "SLUICE_TIMEOUT": "30",
        "SLUICE_ON_UNAVAILABLE": "closed",
        "LITELLM_LOCAL_MODEL_COST_MAP": "True",
        **sluice_environment,
    }
    process = subprocess.Popen(
        [litellm_cli, "--config", str(config), "--host", "127.0.0.1", "--port", str(port)],
        cwd=config.parent, env=environment, stdout=subprocess.DEVNULL, stderr=subprocess.PIPE, text=True,
    )
    return process, port


def wait_ready(process: subprocess.Popen, port: int, timeout: float = 300) -> None:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if process.poll() is not None:
            pytest.fail(f"the LiteLLM proxy exited: {process.stderr.read()[-3000:]}")
        try:
            with urllib.request.urlopen(f"http://127.0.0.1:{port}/health/liveliness", timeout=2) as response:
                if response.status == 200:
                    return
        except (urllib.error.URLError, OSError):
            time.sleep(0.5)
    pytest.fail("the LiteLLM proxy did not become ready")


def chat(port: int, key: str) -> tuple[int, dict[str, str]]:
    body = json.dumps({"model": "gpt-4o", "messages": [{"role": "user", "content": "hi"}]}).encode()
    request = urllib.request.Request(
        f"http://127.0.0.1:{port}/v1/chat/completions",
        data=body,
        headers={"Authorization": f"Bearer {key}", "Content-Type": "application/json"},
    )
    try:
        with urllib.request.urlopen(request, timeout=60) as response:
            return response.status, {k.lower(): v for k, v in response.headers.items()}
    except urllib.error.HTTPError as error:
        return error.code, {k.lower(): v for k, v in error.headers.items()}


def test_two_proxies_two_keys_admit_exactly_per_limit(daemon: Daemon, certificates: Certificates, tmp_path: pathlib.Path) -> None:
    # Half the requests go through the TLS proxy. With SLUICE_ON_UNAVAILABLE=closed, one that could
    # not reach Sluice would refuse them without x-ratelimit-* headers (nothing counted them): every
    # refusal below carries Sluice's remaining and limit, so every request was decided by Sluice.
    proxies = [start_proxy(CONFIG, SLUICE_URL=daemon.url), start_proxy(config_over_tls(tmp_path, daemon, certificates))]
    try:
        for process, port in proxies:
            wait_ready(process, port)
        jobs = [(proxies[i % 2][1], key) for i in range(12) for key in ("sk-key-a", "sk-key-b")]
        with ThreadPoolExecutor(max_workers=24) as pool:
            results = list(pool.map(lambda job: (job[1], *chat(*job)), jobs))
    finally:
        for process, _ in proxies:
            process.terminate()
            try:
                process.wait(timeout=20)
            except subprocess.TimeoutExpired:
                process.kill()
    admitted = {key: sum(1 for k, status, _ in results if k == key and status == 200) for key in ("sk-key-a", "sk-key-b")}
    assert admitted == {"sk-key-a": 3, "sk-key-b": 5}, [(k, s) for k, s, _ in results]
    refused = [(key, headers) for key, status, headers in results if status == 429]
    assert len(refused) == 24 - 8
    for key, headers in refused:
        assert "x-ratelimit-api_key-remaining-requests" in headers, f"{key}: a 429 without Sluice's headers, from a proxy that did not reach Sluice: {headers}"
        assert int(headers["retry-after"]) >= 1
        assert headers["x-ratelimit-api_key-remaining-requests"] == "0"
        assert headers["x-ratelimit-api_key-limit-requests"] == {"sk-key-a": "3", "sk-key-b": "5"}[key]
