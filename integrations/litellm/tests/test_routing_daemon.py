"""SluiceRouting against a real Sluice daemon serving ROUTE.* (docs/routing.md)."""

from __future__ import annotations

import asyncio
import json
import subprocess
import sys
import time
from collections import Counter
from pathlib import Path

import litellm
import pytest
from litellm import Router

from sluice_litellm import SluiceConnection, SluiceRouting
from sluice_litellm.connection import reply_map

from .conftest import deployment, start_daemon

MESSAGES = [{"role": "user", "content": "Say hello"}]


def listing(daemon, group: str) -> dict[str, dict]:
    rows = SluiceConnection(daemon.url).call("ROUTE.LIST", group)
    return {str(row["id"]): row for row in map(reply_map, rows)}


def routed(daemon, *entries: dict, **settings) -> tuple[Router, SluiceRouting]:
    router = Router(model_list=list(entries), **settings)
    # Every pick must be Sluice's: a generous timeout, and "closed" rather than LiteLLM's own pick
    # when Sluice does not answer in time (with 0.5 s, a busy CI machine made such fallbacks).
    plugin = SluiceRouting(url=daemon.url, timeout=30, on_unavailable="closed")
    router.register_plugin(plugin)
    return router, plugin


async def served(router: Router, group: str, count: int, concurrency: int = 10) -> Counter:
    got: Counter = Counter()
    for start in range(0, count, concurrency):
        batch = await asyncio.gather(
            *(router.acompletion(model=group, messages=MESSAGES) for _ in range(min(concurrency, count - start))),
            return_exceptions=True,
        )
        for outcome in batch:
            got[outcome._hidden_params["model_id"] if not isinstance(outcome, BaseException) else type(outcome).__name__] += 1
    return got


async def settled(plugin: SluiceRouting, timeout: float = 5.0) -> None:
    for _ in range(int(timeout / 0.05)):
        if plugin.open_leases == 0:
            return
        await asyncio.sleep(0.05)


def test_registration_loads_the_router_into_sluice_without_secrets(daemon) -> None:
    router, _ = routed(daemon, deployment("reg-a", "reg", weight=2, rpm=100), deployment("reg-b", "reg", order=2))
    connection = SluiceConnection(daemon.url)
    assert "reg" in connection.call("ROUTE.GROUPS")
    rows = listing(daemon, "reg")
    assert set(rows) == {"reg-a", "reg-b"}
    assert int(rows["reg-a"]["rpm"]) == 100 and int(rows["reg-b"]["order"]) == 2
    everything = json.dumps([connection.call("ROUTE.LIST", "reg"), connection.call("ROUTE.SETTINGS", "GET")], default=str)
    assert "sk-secret" not in everything


async def test_registering_again_after_a_restart_drops_a_removed_deployment() -> None:
    # Sluice saves routing groups in its snapshot; a Router registered again with a model_list that
    # lost a deployment must not be offered that deployment (ROUTE.SET ... REPLACE).
    first = start_daemon()
    try:
        routed(first, deployment("keep-a", "restart"), deployment("keep-b", "restart"), deployment("gone-c", "restart"))
        assert set(listing(first, "restart")) == {"keep-a", "keep-b", "gone-c"}
    finally:
        first.stop()
    again = start_daemon(directory=first.directory)
    try:
        assert set(listing(again, "restart")) == {"keep-a", "keep-b", "gone-c"}, "the snapshot restored the group"
        router, plugin = routed(again, deployment("keep-a", "restart"), deployment("keep-b", "restart"))
        assert set(listing(again, "restart")) == {"keep-a", "keep-b"}
        got = await served(router, "restart", 60)
        assert set(got) == {"keep-a", "keep-b"} and sum(got.values()) == 60, got
        await settled(plugin)
    finally:
        again.stop()


async def test_picks_follow_weights(daemon) -> None:
    router, plugin = routed(daemon, deployment("w-light", "weights", weight=1), deployment("w-heavy", "weights", weight=3))
    got = await served(router, "weights", 400)
    assert got["w-light"] + got["w-heavy"] == 400
    # Binomial(400, 0.75): sd 2.2 points; 0.68-0.82 is more than 3 sd either side.
    assert 0.68 <= got["w-heavy"] / 400 <= 0.82, got
    await settled(plugin)
    assert all(int(row["in_flight"]) == 0 for row in listing(daemon, "weights").values())


async def test_lower_tier_first_until_its_rpm_is_spent(daemon) -> None:
    router, _ = routed(
        daemon,
        deployment("t1", "tiers", order=1, rpm=5),
        deployment("t2", "tiers", order=2),
        enable_pre_call_checks=True,
    )
    order = [(await router.acompletion(model="tiers", messages=MESSAGES))._hidden_params["model_id"] for _ in range(8)]
    assert order == ["t1"] * 5 + ["t2"] * 3


async def test_a_429_cools_the_deployment_for_every_router(daemon) -> None:
    # Two Routers (two replicas) with the same deployment ids; on the first, "cd-bad" answers 429.
    first, _ = routed(daemon, deployment("cd-bad", "cool", reply="litellm.RateLimitError"), deployment("cd-good", "cool"), num_retries=0)
    second, _ = routed(daemon, deployment("cd-bad", "cool"), deployment("cd-good", "cool"), num_retries=0)
    for _ in range(50):
        try:
            await first.acompletion(model="cool", messages=MESSAGES)
        except litellm.RateLimitError:
            break
    else:
        pytest.fail("the first Router never reached cd-bad")
    await asyncio.sleep(0.2)
    assert int(listing(daemon, "cool")["cd-bad"]["cooldown_ms"]) > 0
    got = await served(second, "cool", 20)
    assert got == Counter({"cd-good": 20})


async def test_outcomes_settle_in_flight_and_tokens(daemon) -> None:
    router, plugin = routed(daemon, deployment("s-a", "settle"), deployment("s-b", "settle"))
    responses = await asyncio.gather(*(router.acompletion(model="settle", messages=MESSAGES) for _ in range(12)))
    stream = await router.acompletion(model="settle", messages=MESSAGES, stream=True, stream_options={"include_usage": True})
    stream_tokens = 0
    async for chunk in stream:
        usage = getattr(chunk, "usage", None)
        if usage is not None and usage.total_tokens:
            stream_tokens = usage.total_tokens
    await settled(plugin)
    rows = listing(daemon, "settle")
    assert all(int(row["in_flight"]) == 0 for row in rows.values())
    assert sum(int(row["rpm_used"]) for row in rows.values()) == 13
    # tpm settles to the real usage of the 12 non-streaming calls and the stream.
    assert stream_tokens > 0
    expected = sum(r.usage.total_tokens for r in responses) + stream_tokens
    assert sum(int(row["tpm_used"]) for row in rows.values()) == expected


async def test_retry_never_returns_to_the_failed_deployment(daemon) -> None:
    router, _ = routed(
        daemon, deployment("x-down", "excl", reply="litellm.InternalServerError"), deployment("x-up", "excl"),
        num_retries=1, retry_after=0, disable_cooldowns=True,
    )
    reply = SluiceConnection(daemon.url).call("ROUTE.SETTINGS", "GET")
    settings = json.loads(reply) if isinstance(reply, str) else reply_map(reply)
    # The plugin sent disable_cooldowns: x-down stays a candidate, and only EXCLUDE keeps retries off it.
    assert settings["disable_cooldowns"] in (True, 1, "1", "true")
    got = await served(router, "excl", 10, concurrency=1)
    assert got == Counter({"x-up": 10})


async def test_no_deployment_is_a_429(daemon) -> None:
    router, _ = routed(daemon, deployment("one", "tight", rpm=1), num_retries=0)
    await router.acompletion(model="tight", messages=MESSAGES)
    with pytest.raises(Exception) as refused:
        await router.acompletion(model="tight", messages=MESSAGES)
    assert getattr(refused.value, "status_code", None) == 429


def test_four_processes_share_one_rpm_exactly(daemon) -> None:
    """Four Router processes, one deployment at rpm 60, 40 concurrent requests each: exactly 60 served."""
    package_root = Path(__file__).resolve().parents[1]
    processes = [
        subprocess.Popen(
            [sys.executable, "-m", "tests.route_worker", daemon.url, "40", "60"],
            cwd=package_root, stdin=subprocess.PIPE, stdout=subprocess.PIPE, text=True,
        )
        for _ in range(4)
    ]
    try:
        for process in processes:
            assert process.stdout.readline().strip() == "ready"
        now = time.time()
        # All requests inside one clock minute (the window rpm counts in); the burst takes 1.3-1.4 s
        # here, so 10 s left in the minute is plenty, else it starts as the next minute begins.
        start_at = now + 0.5 if 60 - now % 60 > 10 else now + 60 - now % 60 + 0.2
        for process in processes:
            process.stdin.write(f"go {start_at}\n")
            process.stdin.flush()
        outcomes = [o for process in processes for o in json.loads(process.stdout.readline())]
    finally:
        for process in processes:
            process.kill() if process.poll() is None else None
    ended = Counter(o["served"] or f'{o["error"]} {o["status"]}' for o in outcomes)
    burst_seconds = max(o["at"] for o in outcomes) - start_at
    # The premise: every request was picked in the clock minute the burst started in.
    assert int(start_at // 60) == int(max(o["at"] for o in outcomes) // 60), f"the burst crossed a minute boundary ({burst_seconds:.1f} s)"
    assert len(outcomes) == 160
    assert ended["the-only-deployment"] == 60, ended
    assert all(o["status"] == 429 for o in outcomes if o["served"] is None), ended
    print(f"four processes, rpm 60: {dict(ended)} in {burst_seconds:.2f} s")
