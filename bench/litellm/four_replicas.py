"""Four Router processes, one deployment at rpm 60, 40 concurrent requests each: how many it served.

Two runs of the same load, one after the other:
- LiteLLM's own shared mode: shared_mode.py (a real redis-server, `redis_host`/`redis_port` and
  usage-based-routing-v2 on every Router);
- the plugin: every Router with `register_plugin(SluiceRouting(...))` on one Sluice daemon from
  this repository (the worker is integrations/litellm/tests/route_worker.py, the one the
  four-process test runs; on_unavailable="closed", so nothing is served behind Sluice's back).
Each run starts its requests together inside one clock minute (the window both count rpm in).
Asserts nothing; prints one JSON document with both counts.

Run (from the repository root, after `npm run build`; needs redis-server):
  bench/litellm/setup.sh && bench/.cache/litellm-venv/bin/python bench/litellm/four_replicas.py
"""

import argparse
import json
import pathlib
import subprocess
import sys
from collections import Counter

HERE = pathlib.Path(__file__).resolve().parent
PACKAGE = HERE.parents[1] / "integrations" / "litellm"
sys.path.insert(0, str(PACKAGE))

from shared_mode import run_together  # noqa: E402
from tests.daemon import start_daemon  # noqa: E402  (integrations/litellm/tests/daemon.py)

RPM = 60


def litellm_shared_mode(processes: int, requests: int) -> dict:
    finished = subprocess.run(
        [sys.executable, str(HERE / "shared_mode.py"), "--processes", str(processes), "--requests", str(requests)],
        stdout=subprocess.PIPE,
        text=True,
        check=True,
    )
    return json.loads(finished.stdout)


def sluice_plugin(processes: int, requests: int) -> dict:
    sluice = start_daemon()
    try:
        command = [sys.executable, "-m", "tests.route_worker", sluice.url, str(requests), str(RPM)]
        start_at, per_process = run_together([command] * processes, cwd=str(PACKAGE))
    finally:
        sluice.stop()
    minute = int(start_at // 60)
    served = [sum(1 for o in outcomes if o["served"] and int(o["at"] // 60) == minute) for outcomes in per_process]
    refused = Counter(f'{o["error"]} {o["status"]}' for outcomes in per_process for o in outcomes if not o["served"])
    return {
        "processes": processes,
        "requests_per_process": requests,
        "deployment_rpm": RPM,
        "served_in_minute": sum(served),
        "served_per_process": served,
        "served_outside_minute": sum(1 for outcomes in per_process for o in outcomes if o["served"]) - sum(served),
        "refused": dict(refused),
        "seconds": round(max(o["at"] for outcomes in per_process for o in outcomes) - start_at, 2),
    }


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--processes", type=int, default=4)
    parser.add_argument("--requests", type=int, default=40, help="requests per process")
    args = parser.parse_args()
    print(
        json.dumps(
            {
                "litellm_shared_mode": litellm_shared_mode(args.processes, args.requests),
                "sluice_plugin": sluice_plugin(args.processes, args.requests),
            },
            indent=1,
        )
    )


if __name__ == "__main__":
    main()
