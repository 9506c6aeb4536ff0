"""SluiceLimiter over a real daemon (RL.POLICY, RL.ALL, RL.ADJUST exist today)."""

from __future__ import annotations

import asyncio
import uuid

import pytest

from sluice_litellm import SluiceConnection, SluiceLimiter
from sluice_litellm.limiter import RESERVATION_KEY

from .conftest import free_port


def key(**fields):
    from litellm.proxy._types import UserAPIKeyAuth

    return UserAPIKeyAuth(**fields)


def request(text: str = "Hello there, how are you today?") -> dict:
    return {"model": "gpt-4o", "messages": [{"role": "user", "content": text}]}


def unique(prefix: str) -> str:
    return f"{prefix}-{uuid.uuid4().hex[:8]}"


def exact_limiter(url: str) -> SluiceLimiter:
    """A limiter whose counts a slow machine cannot change: a generous per-call timeout, and
    on_unavailable "closed", so a request Sluice did not answer in time is refused, never admitted
    uncounted. With the default 0.5 s, 60 concurrent first calls (60 new connections) on a busy CI
    machine timed out, fell back to "open" and admitted 24 against a limit of 5."""
    return SluiceLimiter(url, timeout=30, on_unavailable="closed")


async def admitted(limiter: SluiceLimiter, auth, data: dict | None = None) -> bool:
    try:
        await limiter.async_pre_call_hook(auth, None, data if data is not None else request(), "acompletion")
        return True
    except Exception as error:  # the limiter's 429
        assert getattr(error, "status_code", None) == 429, error
        return False


def test_limits_read_from_the_key_team_and_user() -> None:
    auth = key(api_key="hashed", team_id="t", user_id="u", rpm_limit=3, tpm_limit=1000, team_rpm_limit=10, user_tpm_limit=50)
    got = {(l.scope, l.subject, l.kind, l.limit) for l in SluiceLimiter.limits_for(auth)}
    assert got == {
        ("api_key", "hashed", "requests", 3),
        ("api_key", "hashed", "tokens", 1000),
        ("team", "t", "requests", 10),
        ("user", "u", "tokens", 50),
    }
    assert SluiceLimiter.limits_for(key(api_key="nolimits")) == []


async def test_rpm_refuses_past_the_limit_with_headers(daemon) -> None:
    limiter = exact_limiter(daemon.url)
    auth = key(api_key=unique("k"), rpm_limit=3)
    results = [await admitted(limiter, auth) for _ in range(3)]
    assert results == [True, True, True]
    with pytest.raises(Exception) as refused:
        await limiter.async_pre_call_hook(auth, None, request(), "acompletion")
    error = refused.value
    assert error.status_code == 429
    headers = error.headers
    assert headers["x-ratelimit-api_key-limit-requests"] == "3"
    assert headers["x-ratelimit-api_key-remaining-requests"] == "0"
    # Sliding window: a full current window, then the previous one's weight must fall (up to 2 windows).
    assert 1 <= int(headers["retry-after"]) <= 120


async def test_admitted_requests_carry_remaining_headers(daemon) -> None:
    limiter = exact_limiter(daemon.url)
    auth = key(api_key=unique("k"), rpm_limit=5, tpm_limit=10_000)
    data = request()
    await limiter.async_pre_call_hook(auth, None, data, "acompletion")
    headers = await limiter.async_post_call_response_headers_hook(data, auth, None)
    assert headers["x-ratelimit-api_key-remaining-requests"] == "4"
    assert int(headers["x-ratelimit-api_key-remaining-tokens"]) < 10_000


async def test_two_replicas_two_keys_admit_exactly_per_limit(daemon) -> None:
    # Two limiter instances (two proxy replicas) share one Sluice; 30 concurrent requests per key.
    replicas = [exact_limiter(daemon.url), exact_limiter(daemon.url)]
    first, second = key(api_key=unique("a"), rpm_limit=5), key(api_key=unique("b"), rpm_limit=7)
    jobs = [admitted(replicas[i % 2], auth) for i in range(30) for auth in (first, second)]
    outcomes = await asyncio.gather(*jobs)
    assert sum(outcomes[0::2]) == 5
    assert sum(outcomes[1::2]) == 7


async def test_team_limit_is_shared_by_its_keys(daemon) -> None:
    limiter = exact_limiter(daemon.url)
    team = unique("team")
    keys = [key(api_key=unique("k"), team_id=team, team_rpm_limit=4) for _ in range(3)]
    outcomes = [await admitted(limiter, keys[i % 3]) for i in range(9)]
    assert sum(outcomes) == 4


async def test_refusal_takes_nothing_from_the_other_limits(daemon) -> None:
    limiter = exact_limiter(daemon.url)
    team = unique("team")
    tight = key(api_key=unique("k"), rpm_limit=1, team_id=team, team_rpm_limit=10)
    assert await admitted(limiter, tight)
    assert not await admitted(limiter, tight)
    other = key(api_key=unique("k"), team_id=team, team_rpm_limit=10)
    # The refused request did not spend the team's budget: 9 left of 10 after one admission.
    outcomes = [await admitted(limiter, other) for _ in range(10)]
    assert sum(outcomes) == 9


async def test_tpm_reserves_prompt_tokens_and_settles_with_usage(daemon) -> None:
    from litellm import ModelResponse

    limiter = exact_limiter(daemon.url)
    auth = key(api_key=unique("k"), tpm_limit=1000)
    data = request()
    reserved = SluiceLimiter.prompt_tokens(data)
    assert reserved > 5
    await limiter.async_pre_call_hook(auth, None, data, "acompletion")
    (limit,) = SluiceLimiter.limits_for(auth)
    connection = SluiceConnection(daemon.url, timeout=30)
    peek = lambda: connection.call("RL.PEEK", limit.key, "POLICY", limit.policy(limiter.window_ms))  # noqa: E731
    assert int(peek()[2]) == 1000 - reserved
    response = ModelResponse(usage={"prompt_tokens": reserved, "completion_tokens": 90, "total_tokens": reserved + 90})
    await limiter.async_post_call_success_hook(data, auth, response)
    assert int(peek()[2]) == 1000 - reserved - 90
    # Settling twice (success hook and logging event) charges once.
    await limiter.async_log_success_event({"metadata": data["metadata"]}, response, None, None)
    assert int(peek()[2]) == 1000 - reserved - 90


async def test_failed_call_gives_the_tokens_back(daemon) -> None:
    limiter = exact_limiter(daemon.url)
    auth = key(api_key=unique("k"), tpm_limit=500)
    data = request("a fairly long prompt " * 10)
    await limiter.async_pre_call_hook(auth, None, data, "acompletion")
    (limit,) = SluiceLimiter.limits_for(auth)
    connection = SluiceConnection(daemon.url, timeout=30)
    assert int(connection.call("RL.PEEK", limit.key, "POLICY", limit.policy(60000))[2]) < 500
    await limiter.async_post_call_failure_hook(data, RuntimeError("provider down"), auth)
    assert int(connection.call("RL.PEEK", limit.key, "POLICY", limit.policy(60000))[2]) == 500
    assert RESERVATION_KEY in data["metadata"]


async def test_tpm_refuses_a_prompt_larger_than_what_is_left(daemon) -> None:
    limiter = exact_limiter(daemon.url)
    auth = key(api_key=unique("k"), tpm_limit=60)
    assert await admitted(limiter, auth, request("word " * 40))
    assert not await admitted(limiter, auth, request("word " * 40))


async def test_policies_come_back_after_a_restart(daemon) -> None:
    limiter = exact_limiter(daemon.url)
    auth = key(api_key=unique("k"), rpm_limit=2)
    assert await admitted(limiter, auth)
    (limit,) = SluiceLimiter.limits_for(auth)
    SluiceConnection(daemon.url, timeout=30).call("RL.POLICY", "DEL", limit.policy(60000))  # as a fresh daemon would be
    assert await admitted(limiter, auth)
    assert not await admitted(limiter, auth)


async def test_unavailable_open_admits_closed_refuses() -> None:
    dead = f"redis://127.0.0.1:{free_port()}"
    auth = key(api_key=unique("k"), rpm_limit=1)
    opened = SluiceLimiter(connection=SluiceConnection(dead, timeout=0.2, on_unavailable="open"))
    assert [await admitted(opened, auth) for _ in range(3)] == [True, True, True]
    closed = SluiceLimiter(connection=SluiceConnection(dead, timeout=0.2, on_unavailable="closed"))
    assert not await admitted(closed, auth)


def test_proxy_loads_the_instance_by_name() -> None:
    # What `litellm_settings: callbacks: ["sluice_litellm.proxy_limiter"]` resolves to.
    from litellm.proxy.types_utils.utils import get_instance_fn

    import sluice_litellm

    assert get_instance_fn("sluice_litellm.proxy_limiter") is sluice_litellm.proxy_limiter
