"""Time of one deployment pick of a litellm.Router whose picks Sluice makes (SluiceRouting), offline.

The same cases as pick_time.py (LiteLLM's own pick; one group of N deployments, each strategy),
with `router.register_plugin(SluiceRouting(url=...))` on the Router and a Sluice daemon from
this repository (`daemon/dist/cli.js`, started here on a free port). Times
`await router.async_get_available_deployment(...)` and the sync `router.get_available_deployment(...)`
through LiteLLM's Router, the plugin and one ROUTE.PICK over TCP (the messages are counted by
Sluice in the same step), and, as the floor under them, a bare `ROUTE.PICK ... CHAT ...` sent
with redis-py's asyncio client. Every lease is settled (ROUTE.DONE) between timed picks, outside
the timing, so in-flight counts stay at zero as in a live service.

Prints one JSON document: {"litellm": version, "cases": [{deployments, strategy, mode, n,
median_ms, p99_ms}, ...]}.

Run (from the repository root, after `npm run build`):
  bench/litellm/setup.sh && bench/.cache/litellm-venv/bin/python bench/litellm/plugin_pick_time.py
"""

import argparse
import asyncio
import json
import os
import pathlib
import sys
import time
from importlib.metadata import version

HERE = pathlib.Path(__file__).resolve().parent
REPO = HERE.parents[1]
# The plugin is pure Python; its dependencies (litellm, redis) are those of the bench venv.
sys.path.insert(0, str(REPO / "integrations" / "litellm"))

from pick_time import GROUP, MESSAGES, STRATEGIES, model_list, sample, sample_async, summary  # noqa: E402
from tests.daemon import start_daemon  # noqa: E402  (integrations/litellm/tests/daemon.py)

import redis.asyncio  # noqa: E402
from litellm import Router  # noqa: E402

from sluice_litellm import SluiceRouting  # noqa: E402
from sluice_litellm.routing import LEASES_KEY, Outcome, settle, settle_async  # noqa: E402


def lease_in(request: dict) -> str:
    return next(iter(request["metadata"][LEASES_KEY].values()))


async def time_async(router: Router, seconds: float) -> list[float]:
    async def one() -> float:
        request: dict = {"metadata": {}}
        started = time.perf_counter()
        await router.async_get_available_deployment(model=GROUP, messages=MESSAGES, request_kwargs=request)
        elapsed = (time.perf_counter() - started) * 1000
        await settle_async(lease_in(request), Outcome(status=200))
        return elapsed

    return await sample_async(one, seconds)  # the warm-up call opens the connections


def time_sync(router: Router, seconds: float) -> list[float]:
    def one() -> float:
        request: dict = {"metadata": {}}
        started = time.perf_counter()
        router.get_available_deployment(model=GROUP, messages=MESSAGES, request_kwargs=request)
        elapsed = (time.perf_counter() - started) * 1000
        settle(lease_in(request), Outcome(status=200))
        return elapsed

    return sample(one, seconds)


async def time_bare(url: str, seconds: float) -> list[float]:
    """ROUTE.PICK with the same messages, straight from redis-py: what the plugin adds is the rest."""
    client = redis.asyncio.Redis.from_url(url, decode_responses=True)
    chat = json.dumps(MESSAGES)

    async def one() -> float:
        started = time.perf_counter()
        reply = await client.execute_command("ROUTE.PICK", GROUP, "CHAT", chat)
        elapsed = (time.perf_counter() - started) * 1000
        fields = dict(zip(reply[::2], reply[1::2])) if isinstance(reply, list) else reply
        await client.execute_command("ROUTE.DONE", fields["lease"])
        return elapsed

    samples = await sample_async(one, seconds)
    await client.aclose()
    return samples


async def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--sizes", default="10,1000", help="deployment counts, comma-separated")
    parser.add_argument("--seconds", type=float, default=0.8, help="time budget per case")
    parser.add_argument("--strategies", default=",".join(STRATEGIES), help="routing strategies, comma-separated")
    args = parser.parse_args()
    sluice = start_daemon()
    cases = []
    try:
        for count in (int(size) for size in args.sizes.split(",")):
            for strategy in args.strategies.split(","):
                router = Router(model_list=model_list(count), routing_strategy=strategy)
                # Registration sends the model_list (without credentials) and the routing strategy.
                router.register_plugin(SluiceRouting(url=sluice.url, timeout=5.0, on_unavailable="closed"))
                for mode in ("async", "sync", "route.pick"):
                    if mode == "async":
                        samples = await time_async(router, args.seconds)
                    elif mode == "sync":
                        samples = time_sync(router, args.seconds)
                    else:
                        samples = await time_bare(sluice.url, args.seconds)
                    case = summary(count, strategy, mode, samples)
                    cases.append(case)
                    print(json.dumps(case), file=sys.stderr)
    finally:
        sluice.stop()
    print(json.dumps({"litellm": version("litellm"), "sluice": "plugin", "cases": cases}, indent=1))


if __name__ == "__main__":
    os.environ.setdefault("LITELLM_LOCAL_MODEL_COST_MAP", "True")
    asyncio.run(main())
