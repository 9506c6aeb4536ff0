"""Time of one deployment pick in LiteLLM's own Router, offline.

For N deployments in one group (10, 100, 1000) and each routing strategy (and simple-shuffle with
enable_pre_call_checks), builds a litellm.Router and times
`await router.async_get_available_deployment(model=..., messages=[...])` and the sync
`router.get_available_deployment(...)`. No provider is called (every deployment has a
mock_response; a pick never calls one anyway) and the model cost map is the bundled one.

Prints one JSON document: {"litellm": version, "cases": [{deployments, strategy, mode, n,
median_ms, p99_ms}, ...]}. Each case runs for about --seconds (at least 3 and at most 1000 picks, after one warm-up pick)
so that the whole run stays under two minutes on two cores.

Run: bench/litellm/setup.sh && bench/.cache/litellm-venv/bin/python bench/litellm/pick_time.py
"""

import argparse
import asyncio
import json
import os
import statistics
import sys
import time
import warnings
from collections.abc import Awaitable, Callable

# Offline: without this LiteLLM fetches its model cost map from the network at import.
os.environ.setdefault("LITELLM_LOCAL_MODEL_COST_MAP", "True")
warnings.filterwarnings("ignore", category=DeprecationWarning)

import litellm  # noqa: E402
from litellm import Router  # noqa: E402

STRATEGIES = (
    "simple-shuffle",
    "least-busy",
    "usage-based-routing-v2",
    "latency-based-routing",
    "cost-based-routing",
)
GROUP = "gpt-4o"
MESSAGES = [{"role": "user", "content": "Summarise the plot of Hamlet in two sentences."}]


def model_list(count: int) -> list[dict]:
    """`count` deployments of one group, each with the fields the strategies read."""
    return [
        {
            "model_name": GROUP,
            "litellm_params": {
                "model": "openai/gpt-4o",
                "api_key": "sk-bench-not-a-key",
                "api_base": f"https://deployment-{i}.invalid/v1",
                "rpm": 1_000_000,
                "tpm": 1_000_000_000,
                "mock_response": "ok",
            },
            "model_info": {
                "id": f"d{i}",
                "input_cost_per_token": 1e-6 * (1 + i % 7),
                "output_cost_per_token": 4e-6 * (1 + i % 5),
            },
        }
        for i in range(count)
    ]


def percentile(sorted_ms: list[float], q: float) -> float:
    index = min(len(sorted_ms) - 1, max(0, round(q * (len(sorted_ms) - 1))))
    return sorted_ms[index]


def summary(count: int, strategy: str, mode: str, samples: list[float]) -> dict:
    samples.sort()
    return {
        "deployments": count,
        "strategy": strategy,
        "mode": mode,
        "n": len(samples),
        "median_ms": round(statistics.median(samples), 4),
        "p99_ms": round(percentile(samples, 0.99), 4),
    }


MIN_SAMPLES = 3
MAX_SAMPLES = 1000


def sample(one: Callable[[], float], seconds: float) -> list[float]:
    """Calls `one` once to warm up (LiteLLM fills lazy caches on the first pick), then collects
    its timings until `seconds` have passed: at least MIN_SAMPLES, at most MAX_SAMPLES."""
    one()
    samples: list[float] = []
    deadline = time.perf_counter() + seconds
    while len(samples) < MAX_SAMPLES and (len(samples) < MIN_SAMPLES or time.perf_counter() < deadline):
        samples.append(one())
    return samples


async def sample_async(one: Callable[[], Awaitable[float]], seconds: float) -> list[float]:
    """`sample` for a coroutine."""
    await one()
    samples: list[float] = []
    deadline = time.perf_counter() + seconds
    while len(samples) < MAX_SAMPLES and (len(samples) < MIN_SAMPLES or time.perf_counter() < deadline):
        samples.append(await one())
    return samples


async def time_async(router: Router, seconds: float) -> list[float]:
    async def one() -> float:
        started = time.perf_counter()
        await router.async_get_available_deployment(model=GROUP, messages=MESSAGES, request_kwargs={})
        return (time.perf_counter() - started) * 1000

    return await sample_async(one, seconds)


def time_sync(router: Router, seconds: float) -> list[float]:
    def one() -> float:
        started = time.perf_counter()
        router.get_available_deployment(model=GROUP, messages=MESSAGES, request_kwargs={})
        return (time.perf_counter() - started) * 1000

    return sample(one, seconds)


async def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--sizes", default="10,100,1000", help="deployment counts, comma-separated")
    parser.add_argument("--seconds", type=float, default=0.8, help="time budget per case")
    args = parser.parse_args()
    cases = []
    for count in (int(size) for size in args.sizes.split(",")):
        variants = [(strategy, strategy, False) for strategy in STRATEGIES]
        variants.append(("simple-shuffle+pre-call-checks", "simple-shuffle", True))
        for label, strategy, pre_call_checks in variants:
            router = Router(
                model_list=model_list(count),
                routing_strategy=strategy,
                enable_pre_call_checks=pre_call_checks,
            )
            for mode in ("async", "sync"):
                try:
                    samples = await time_async(router, args.seconds) if mode == "async" else time_sync(router, args.seconds)
                    case = summary(count, label, mode, samples)
                except Exception as error:  # noqa: BLE001  # a pick LiteLLM refuses is a result too
                    case = {"deployments": count, "strategy": label, "mode": mode, "error": f"{type(error).__name__}: {error}"[:200]}
                cases.append(case)
                print(json.dumps(case), file=sys.stderr)
    print(json.dumps({"litellm": litellm.__version__ if hasattr(litellm, "__version__") else None, "cases": cases}, indent=1))


if __name__ == "__main__":
    asyncio.run(main())
