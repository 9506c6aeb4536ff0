"""LiteLLM's own shared mode: four Router processes, one real redis-server, one deployment at rpm 60.

Starts `redis-server` on a free 127.0.0.1 port, then four worker processes. Each builds a
litellm.Router with `redis_host`/`redis_port` and `routing_strategy="usage-based-routing-v2"`
over one deployment (`rpm: 60`, `mock_response`, so no provider is called), and when all four
are ready they send their requests at the same moment (40 each by default, all concurrent).
Counts how many requests that deployment served within one clock minute (the window LiteLLM's
rpm counters use) and prints JSON. It asserts nothing: the number is the result.

Run: bench/litellm/setup.sh && bench/.cache/litellm-venv/bin/python bench/litellm/shared_mode.py
"""

import argparse
import asyncio
import json
import os
import shutil
import socket
import subprocess
import sys
import tempfile
import time

GROUP = "gpt-4o"
DEPLOYMENT_ID = "the-only-deployment"
RPM = 60


def free_port() -> int:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return probe.getsockname()[1]


def start_redis(port: int, workdir: str) -> subprocess.Popen:
    redis_server = shutil.which("redis-server")
    if redis_server is None:
        raise SystemExit("redis-server is not installed")
    process = subprocess.Popen(
        [redis_server, "--port", str(port), "--bind", "127.0.0.1", "--save", "", "--appendonly", "no", "--dir", workdir],
        stdout=subprocess.DEVNULL,
        stderr=subprocess.DEVNULL,
    )
    deadline = time.monotonic() + 10
    while time.monotonic() < deadline:
        try:
            with socket.create_connection(("127.0.0.1", port), timeout=0.2) as connection:
                connection.sendall(b"PING\r\n")
                if connection.recv(16).startswith(b"+PONG"):
                    return process
        except OSError:
            time.sleep(0.05)
    process.kill()
    raise SystemExit(f"redis-server did not answer on port {port}")


def start_moment() -> float:
    """Now, unless the current minute ends too soon for the run to fit in it: then the next minute."""
    now = time.time()
    left_in_minute = 60 - now % 60
    return now + 0.5 if left_in_minute > 25 else now + left_in_minute + 0.2


# ---------------------------------------------------------------------------------------------
# Worker: one Router process.


def run_together(commands: list[list[str]], cwd: str | None = None) -> tuple[float, list[dict]]:
    """Starts one process per command; each prints "ready", then waits for "go <unix time>" on
    stdin, and prints one JSON line of its outcomes. All get the same start moment. Returns it
    and each process's outcomes, in order; kills whatever is still running on the way out."""
    workers: list[subprocess.Popen] = []
    try:
        for command in commands:
            workers.append(subprocess.Popen(command, cwd=cwd, stdin=subprocess.PIPE, stdout=subprocess.PIPE, text=True))
        for process in workers:
            line = process.stdout.readline()
            if line.strip() != "ready":
                raise SystemExit(f"a worker did not start: {line!r}")
        start_at = start_moment()
        for process in workers:
            process.stdin.write(f"go {start_at}\n")
            process.stdin.flush()
        per_process = [json.loads(process.stdout.readline()) for process in workers]
        for process in workers:
            process.wait(timeout=60)
        return start_at, per_process
    finally:
        for process in workers:
            if process.poll() is None:
                process.kill()


async def worker(redis_port: int, requests: int) -> None:
    import warnings

    os.environ.setdefault("LITELLM_LOCAL_MODEL_COST_MAP", "True")
    warnings.filterwarnings("ignore")
    from litellm import Router

    router = Router(
        model_list=[
            {
                "model_name": GROUP,
                "litellm_params": {"model": "openai/gpt-4o", "api_key": "sk-not-a-key", "rpm": RPM, "mock_response": "ok"},
                "model_info": {"id": DEPLOYMENT_ID},
            }
        ],
        routing_strategy="usage-based-routing-v2",
        redis_host="127.0.0.1",
        redis_port=redis_port,
        num_retries=0,
    )
    print("ready", flush=True)
    start_at = float(sys.stdin.readline().split()[1])
    await asyncio.sleep(max(0.0, start_at - time.time()))

    async def one() -> dict:
        try:
            response = await router.acompletion(model=GROUP, messages=[{"role": "user", "content": "hi"}])
            return {"served": response._hidden_params.get("model_id") == DEPLOYMENT_ID, "at": time.time()}
        except Exception as error:  # noqa: BLE001  # a refusal is an outcome to count
            return {"served": False, "at": time.time(), "error": type(error).__name__, "status": getattr(error, "status_code", None)}

    outcomes = await asyncio.gather(*(one() for _ in range(requests)))
    print(json.dumps(outcomes), flush=True)


# ---------------------------------------------------------------------------------------------
# Parent: redis-server, four workers, the count.


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--processes", type=int, default=4)
    parser.add_argument("--requests", type=int, default=40, help="requests per process")
    parser.add_argument("--worker", type=int, metavar="REDIS_PORT", help=argparse.SUPPRESS)
    args = parser.parse_args()
    if args.worker is not None:
        asyncio.run(worker(args.worker, args.requests))
        return

    workdir = tempfile.mkdtemp(prefix="litellm-shared-")
    port = free_port()
    redis = start_redis(port, workdir)
    try:
        command = [sys.executable, __file__, "--worker", str(port), "--requests", str(args.requests)]
        start_at, per_process = run_together([command] * args.processes)
    finally:
        redis.terminate()
        redis.wait(timeout=10)
        shutil.rmtree(workdir, ignore_errors=True)

    minute = int(start_at // 60)
    served = [sum(1 for o in outcomes if o["served"] and int(o["at"] // 60) == minute) for outcomes in per_process]
    refused: dict[str, int] = {}
    for outcomes in per_process:
        for outcome in outcomes:
            if not outcome["served"]:
                kind = f'{outcome.get("error")} {outcome.get("status")}'
                refused[kind] = refused.get(kind, 0) + 1

    print(
        json.dumps(
            {
                "litellm": _litellm_version(),
                "processes": args.processes,
                "requests_per_process": args.requests,
                "deployment_rpm": RPM,
                "served_in_minute": sum(served),
                "served_per_process": served,
                "served_outside_minute": sum(1 for outcomes in per_process for o in outcomes if o["served"]) - sum(served),
                "refused": refused,
            },
            indent=1,
        )
    )


def _litellm_version() -> str | None:
    from importlib.metadata import PackageNotFoundError, version

    try:
        return version("litellm")
    except PackageNotFoundError:
        return None


if __name__ == "__main__":
    main()
