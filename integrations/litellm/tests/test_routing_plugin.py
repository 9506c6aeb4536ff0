"""The plugin's half of ROUTE.*, with the real litellm.Router and a scripted Sluice (no daemon).

What is checked here: registration finds the Router and sends its model_list without
credentials; every pick sends the messages, tags and the deployments to exclude; every lease gets
exactly one ROUTE.DONE with the attempt's status, latency, TTFT and tokens (success, failure,
retry, stream, cancel, sync); what happens while Sluice does not answer.
"""

from __future__ import annotations

import asyncio
import json
import logging

import litellm
import pytest
from litellm import Router

from sluice_litellm import SluiceConnection, SluiceRouting

from .conftest import deployment, free_port
from .scripted_sluice import ScriptedSluice, option, words_after

MESSAGES = [{"role": "user", "content": "Say hello"}]


def routed(*entries: dict, sluice: ScriptedSluice | None = None, **router_settings) -> tuple[Router, SluiceRouting, ScriptedSluice]:
    sluice = sluice or ScriptedSluice()
    router = Router(model_list=list(entries), **router_settings)
    plugin = SluiceRouting(connection=sluice)
    router.register_plugin(plugin)
    return router, plugin, sluice


async def settled(plugin: SluiceRouting, timeout: float = 5.0) -> None:
    """Wait for LiteLLM's after-the-response callbacks."""
    for _ in range(int(timeout / 0.05)):
        if plugin.open_leases == 0:
            return
        await asyncio.sleep(0.05)


def test_register_plugin_sends_the_model_list_without_credentials() -> None:
    router, plugin, sluice = routed(
        deployment("a", weight=3, rpm=60), deployment("b"), deployment("c", group="other"),
        routing_strategy="least-busy", cooldown_time=7,
    )
    assert plugin.router is router
    assert plugin.outcomes in litellm.callbacks
    # REPLACE: each group is exactly the Router's deployments (a restarted Sluice may hold more).
    assert all(c[2] == "REPLACE" for c in sluice.commands if c[0] == "ROUTE.SET")
    sets = {c[1]: [json.loads(e) for e in c[3:]] for c in sluice.commands if c[0] == "ROUTE.SET"}
    assert {group: [e["model_info"]["id"] for e in entries] for group, entries in sets.items()} == {"g": ["a", "b"], "other": ["c"]}
    assert sets["g"][0]["litellm_params"]["weight"] == 3 and sets["g"][0]["litellm_params"]["rpm"] == 60
    assert "sk-secret" not in json.dumps(sluice.commands)
    assert "mock_response" not in json.dumps(sluice.commands)
    assert sluice.settings is not None
    assert (sluice.settings["routing_strategy"], sluice.settings["cooldown_time"]) == ("least-busy", 7)
    # allowed_fails was not given: LiteLLM's cooldown rules differ then, so it is not sent.
    assert "allowed_fails" not in sluice.settings


def test_deprecated_set_custom_routing_strategy_registers_too() -> None:
    sluice = ScriptedSluice()
    router = Router(model_list=[deployment("a")])
    plugin = SluiceRouting(connection=sluice)
    router.set_custom_routing_strategy(plugin)
    assert plugin.router is router
    assert [c[1] for c in sluice.commands if c[0] == "ROUTE.SET"] == ["g"]


async def test_success_sends_messages_and_settles_with_usage() -> None:
    router, plugin, sluice = routed(deployment("a"), deployment("b"))
    response = await router.acompletion(model="g", messages=MESSAGES)
    await settled(plugin)
    (pick,) = sluice.picks()
    assert json.loads(option(pick, "CHAT")) == MESSAGES
    (done,) = sluice.done
    assert response._hidden_params["model_id"] in ("a", "b")
    assert option(done, "STATUS") is None
    assert (option(done, "INPUT"), option(done, "OUTPUT")) == (
        str(response.usage.prompt_tokens), str(response.usage.completion_tokens)
    )
    assert int(option(done, "LATENCY")) >= 0
    assert not sluice.open and plugin.open_leases == 0


async def test_retry_excludes_the_failed_deployment_and_reports_429() -> None:
    router, plugin, sluice = routed(
        deployment("fails", reply="litellm.RateLimitError", weight=1_000_000), deployment("works", weight=1),
        num_retries=2, retry_after=0,
    )
    response = await router.acompletion(model="g", messages=MESSAGES)
    await settled(plugin)
    assert response._hidden_params["model_id"] == "works"
    first, second = sluice.picks()
    assert words_after(first, "EXCLUDE") == []
    assert words_after(second, "EXCLUDE") == ["fails"]
    lease_of_pick = {i + 1: f"{{g}}:{i + 1}" for i in range(2)}
    statuses = {c[1]: option(c, "STATUS") for c in sluice.done}
    assert statuses == {lease_of_pick[1]: "429", lease_of_pick[2]: None}
    assert not sluice.open


async def test_failure_without_retry_reports_its_status() -> None:
    router, plugin, sluice = routed(deployment("a", reply="litellm.InternalServerError"), num_retries=0)
    with pytest.raises(litellm.InternalServerError):
        await router.acompletion(model="g", messages=MESSAGES)
    await settled(plugin)
    (done,) = sluice.done
    assert option(done, "STATUS") == "500"
    assert not sluice.open


async def test_stream_settles_when_consumed_with_ttft_and_tokens() -> None:
    router, plugin, sluice = routed(deployment("a", reply="a streamed answer"))
    stream = await router.acompletion(model="g", messages=MESSAGES, stream=True, stream_options={"include_usage": True})
    assert sluice.done == []  # in flight until the stream is read
    async for _ in stream:
        pass
    await settled(plugin)
    (done,) = sluice.done
    assert option(done, "STATUS") is None
    assert option(done, "TTFT") is not None
    assert int(option(done, "OUTPUT")) > 0 and int(option(done, "INPUT")) > 0


async def test_cancelled_request_is_settled_as_499() -> None:
    router, plugin, sluice = routed(deployment("slow", reply="late", mock_delay=5))
    task = asyncio.create_task(router.acompletion(model="g", messages=MESSAGES))
    for _ in range(200):
        if sluice.picks():
            break
        await asyncio.sleep(0.02)
    task.cancel()
    with pytest.raises(asyncio.CancelledError):
        await task
    await settled(plugin, timeout=2)
    (done,) = sluice.done
    assert option(done, "STATUS") == "499"


async def test_concurrent_requests_each_lease_done_once() -> None:
    router, plugin, sluice = routed(deployment("a"), deployment("b"), deployment("c"))
    await asyncio.gather(*(router.acompletion(model="g", messages=MESSAGES) for _ in range(40)))
    await settled(plugin)
    leases = [c[1] for c in sluice.done]
    assert len(leases) == 40 == len(set(leases)) == len(sluice.picks())
    assert not sluice.open


def test_sync_completion_picks_and_settles() -> None:
    router, plugin, sluice = routed(deployment("a"))
    response = router.completion(model="g", messages=MESSAGES)
    assert response.choices[0].message.content == "ok"
    assert len(sluice.picks()) == 1
    for _ in range(100):
        if sluice.done:
            break
        import time

        time.sleep(0.02)
    (done,) = sluice.done
    assert option(done, "STATUS") is None


async def test_tags_go_with_the_pick() -> None:
    router, plugin, sluice = routed(deployment("a", tags=["eu"]))
    await router.acompletion(model="g", messages=MESSAGES, metadata={"tags": ["eu", "paid"]})
    assert words_after(sluice.picks()[0], "TAGS") == ["eu", "paid"]


async def test_sluice_refusal_is_litellms_no_deployment_error() -> None:
    sluice = ScriptedSluice()
    router, plugin, sluice = routed(deployment("a"), sluice=sluice, num_retries=0)
    sluice.refuse_with = "NODEPLOYMENT every deployment of 'g' is at its rpm limit; retry in 1200 ms"
    with pytest.raises(Exception) as refused:
        await router.acompletion(model="g", messages=MESSAGES)
    assert getattr(refused.value, "status_code", None) == 429
    assert "rpm limit" in str(refused.value)


@pytest.mark.parametrize("mode", ["open", "litellm"])
async def test_unavailable_sluice_still_routes(mode: str, caplog: pytest.LogCaptureFixture) -> None:
    caplog.set_level(logging.WARNING, logger="sluice_litellm")
    connection = SluiceConnection(f"redis://127.0.0.1:{free_port()}", timeout=0.2, on_unavailable=mode)  # type: ignore[arg-type]
    router = Router(model_list=[deployment("a"), deployment("b")])
    router.register_plugin(SluiceRouting(connection=connection))
    served = [(await router.acompletion(model="g", messages=MESSAGES))._hidden_params["model_id"] for _ in range(6)]
    assert set(served) <= {"a", "b"} and len(served) == 6
    assert len([r for r in caplog.records if "unavailable" in r.getMessage()]) == 1


async def test_unavailable_sluice_closed_refuses() -> None:
    connection = SluiceConnection(f"redis://127.0.0.1:{free_port()}", timeout=0.2, on_unavailable="closed")
    router = Router(model_list=[deployment("a")], num_retries=0)
    router.register_plugin(SluiceRouting(connection=connection))
    with pytest.raises(Exception) as refused:
        await router.acompletion(model="g", messages=MESSAGES)
    assert getattr(refused.value, "status_code", None) == 503
