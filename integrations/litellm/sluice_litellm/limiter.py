"""SluiceLimiter: per-key, per-team and per-user rpm and tpm for a LiteLLM proxy, shared by every replica.

    # config.yaml
    litellm_settings:
      callbacks: ["sluice_litellm.proxy_limiter"]   # reads SLUICE_URL, SLUICE_TIMEOUT, SLUICE_ON_UNAVAILABLE
                                                  # and, for rediss://, SLUICE_SSL_CA_CERTS, ...

LiteLLM loads `module.instance` with `get_instance_fn` (proxy/types_utils/utils.py): the module
is imported and its attribute used as the callback, so `sluice_litellm.proxy_limiter` is a ready
instance. Per request (`async_pre_call_hook`), one RL.ALL admits the request against every limit
the caller has (the key's `rpm_limit`/`tpm_limit`, the team's `team_rpm_limit`/`team_tpm_limit`,
the user's `user_rpm_limit`/`user_tpm_limit`, all on `user_api_key_dict`), all or nothing:
1 request for each rpm limit and the prompt's token count for each tpm limit. When the response's
usage is known, RL.ADJUST settles each tpm key by (total tokens - reserved); a failed call gives
the reserved tokens back. A refusal is LiteLLM's own 429 (`ProxyRateLimitError`, an
HTTPException the proxy answers with its headers): `retry-after` (seconds) and
`x-ratelimit-{api_key|team|user}-{remaining|limit}-{requests|tokens}`, the names LiteLLM's
parallel_request_limiter_v3 uses; admitted responses carry the same remaining/limit headers.

Limits are named policies whose names say what they are (`litellm-rpm-60-per-60000ms`), created
with RL.POLICY SET the first time a process needs one (and again if Sluice restarted without
them): every replica creates the same policy under the same name.
"""

from __future__ import annotations

import logging
import math
import os
import time
import uuid
from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any

import redis.exceptions

from litellm.integrations.custom_logger import CustomLogger

from .connection import OnUnavailable, SluiceConnection, SluiceUnavailable

log = logging.getLogger("sluice_litellm")

RESERVATION_KEY = "sluice_limiter"
WINDOW_MS = 60_000
# (descriptor in header names, attribute of the id on user_api_key_dict, rpm attribute, tpm attribute)
SCOPES = (
    ("api_key", ("api_key", "token"), "rpm_limit", "tpm_limit"),
    ("team", ("team_id",), "team_rpm_limit", "team_tpm_limit"),
    ("user", ("user_id",), "user_rpm_limit", "user_tpm_limit"),
)


@dataclass(frozen=True)
class Limit:
    scope: str  # api_key | team | user
    subject: str  # the key hash, team id or user id
    kind: str  # requests | tokens
    limit: int

    @property
    def key(self) -> str:
        unit = "rpm" if self.kind == "requests" else "tpm"
        return f"litellm:{self.scope}:{self.subject}:{unit}"

    def policy(self, window_ms: int) -> str:
        unit = "rpm" if self.kind == "requests" else "tpm"
        return f"litellm-{unit}-{self.limit}-per-{window_ms}ms"


class SluiceLimiter(CustomLogger):
    """LiteLLM proxy callback: RL.ALL before the call, RL.ADJUST after it."""

    def __init__(
        self,
        url: str | None = None,
        *,
        connection: SluiceConnection | None = None,
        timeout: float = 0.5,
        on_unavailable: OnUnavailable = "open",
        window_ms: int = WINDOW_MS,
        algo: str = "sliding",
        ssl_ca_certs: str | None = None,
        ssl_certfile: str | None = None,
        ssl_keyfile: str | None = None,
        ssl_check_hostname: bool | None = None,
    ) -> None:
        """on_unavailable: "open" admits while Sluice does not answer, "closed" refuses (429);
        "litellm" admits too (LiteLLM's own limiters, if configured, still apply).
        ssl_*: TLS to Sluice, as for SluiceConnection; in a proxy, from the URL's query or the
        environment (SLUICE_SSL_CA_CERTS, SLUICE_SSL_CERTFILE, SLUICE_SSL_KEYFILE)."""
        super().__init__()
        self._url = url
        self._timeout = timeout
        self._on_unavailable: OnUnavailable = on_unavailable
        self._connection = connection
        self._tls_arguments = {
            "ssl_ca_certs": ssl_ca_certs,
            "ssl_certfile": ssl_certfile,
            "ssl_keyfile": ssl_keyfile,
            "ssl_check_hostname": ssl_check_hostname,
        }
        self.window_ms = window_ms
        self.algo = algo
        self._policies_set: set[str] = set()
        self._reservations: dict[str, tuple[list[Limit], int]] = {}

    @property
    def connection(self) -> SluiceConnection:
        # Built at first use, so that an instance created at import (proxy_limiter) reads the
        # environment the proxy runs with.
        if self._connection is None:
            self._connection = SluiceConnection(
                self._url or os.environ.get("SLUICE_URL"),
                timeout=float(os.environ.get("SLUICE_TIMEOUT", self._timeout)),
                on_unavailable=os.environ.get("SLUICE_ON_UNAVAILABLE", self._on_unavailable),  # type: ignore[arg-type]
                **self._tls_arguments,
            )
        return self._connection

    # -- what applies ------------------------------------------------------------------------------

    @staticmethod
    def limits_for(user_api_key_dict: Any) -> list[Limit]:
        limits: list[Limit] = []
        for scope, id_attributes, rpm_attribute, tpm_attribute in SCOPES:
            subject = next((getattr(user_api_key_dict, name, None) for name in id_attributes if getattr(user_api_key_dict, name, None)), None)
            if not subject:
                continue
            for kind, attribute in (("requests", rpm_attribute), ("tokens", tpm_attribute)):
                value = getattr(user_api_key_dict, attribute, None)
                if isinstance(value, (int, float)) and not isinstance(value, bool) and value > 0:
                    limits.append(Limit(scope, str(subject), kind, int(value)))
        return limits

    @staticmethod
    def prompt_tokens(data: Mapping[str, Any]) -> int:
        import litellm

        model = str(data.get("model") or "")
        try:
            if data.get("messages"):
                return int(litellm.token_counter(model=model, messages=data["messages"]))
            if data.get("input"):
                text = data["input"] if isinstance(data["input"], str) else " ".join(map(str, data["input"]))
                return int(litellm.token_counter(model=model, text=text))
            if data.get("prompt"):
                return int(litellm.token_counter(model=model, text=str(data["prompt"])))
        except Exception:  # noqa: BLE001  # an unknown model still gets a count of 1
            return 1
        return 1

    # -- admission ---------------------------------------------------------------------------------

    def _ensure_policies(self, limits: list[Limit]) -> list[tuple[Any, ...]]:
        commands = []
        for limit in limits:
            name = limit.policy(self.window_ms)
            if name not in self._policies_set:
                commands.append(("RL.POLICY", "SET", name, "LIMIT", str(limit.limit), "PER", str(self.window_ms), "ALGO", self.algo))
        return commands

    async def _rl_all(self, limits: list[Limit], costs: list[int]) -> list[int]:
        connection = self.connection
        for attempt in range(2):
            for command in self._ensure_policies(limits):
                await connection.acall(*command)
                self._policies_set.add(str(command[2]))
            args: list[Any] = ["RL.ALL", str(len(limits))]
            for limit, cost in zip(limits, costs):
                args += [limit.key, limit.policy(self.window_ms), str(cost)]
            try:
                return [int(value) for value in await connection.acall(*args)]
            except redis.exceptions.ResponseError as error:
                if "unknown POLICY" in str(error) and attempt == 0:
                    self._policies_set.clear()  # Sluice restarted without them
                    continue
                raise
        raise AssertionError("unreachable")

    async def async_pre_call_hook(self, user_api_key_dict: Any, cache: Any, data: dict, call_type: Any) -> dict | None:
        limits = self.limits_for(user_api_key_dict)
        if not limits:
            return data
        tokens = max(1, self.prompt_tokens(data)) if any(limit.kind == "tokens" for limit in limits) else 0
        costs = [1 if limit.kind == "requests" else tokens for limit in limits]
        try:
            reply = await self._rl_all(limits, costs)
        except SluiceUnavailable:
            if self.connection.on_unavailable == "closed":
                raise _rate_limit_error(
                    "rate limits cannot be checked: Sluice is unavailable", {"retry-after": "1"}
                ) from None
            return data
        allowed, refusing_index, retry_after_ms = reply[0], reply[1], reply[2]
        remaining = reply[3:]
        headers = _headers(limits, remaining)
        if not allowed:
            refusing = limits[refusing_index]
            retry_seconds = max(1, math.ceil(retry_after_ms / 1000)) if retry_after_ms >= 0 else math.ceil(self.window_ms / 1000)
            headers["retry-after"] = str(retry_seconds)
            raise _rate_limit_error(
                f"Rate limit exceeded for {refusing.scope}: {refusing.subject}. Limit type: "
                f"{refusing.kind}. Current limit: {refusing.limit}, Remaining: {remaining[refusing_index]}. "
                f"Retry after {retry_seconds} s.",
                headers,
                descriptor_key=refusing.scope,
            )
        reservation = uuid.uuid4().hex
        token_limits = [limit for limit in limits if limit.kind == "tokens"]
        if token_limits:
            self._reservations[reservation] = (token_limits, tokens)
        metadata = data.setdefault("metadata", {}) if isinstance(data.get("metadata", {}), dict) else {}
        metadata[RESERVATION_KEY] = {"id": reservation, "headers": headers, "at": time.time()}
        return data

    # -- settling ----------------------------------------------------------------------------------

    async def _settle(self, reservation: Mapping[str, Any] | None, used_tokens: int | None) -> None:
        if not isinstance(reservation, Mapping):
            return
        taken = self._reservations.pop(str(reservation.get("id")), None)
        if taken is None:
            return
        token_limits, reserved = taken
        delta = (used_tokens if used_tokens is not None else 0) - reserved
        if delta == 0:
            return
        for limit in token_limits:
            try:
                await self.connection.acall("RL.ADJUST", limit.key, limit.policy(self.window_ms), str(delta))
            except (SluiceUnavailable, redis.exceptions.RedisError) as error:
                log.debug("RL.ADJUST %s not sent: %s", limit.key, error)

    async def async_post_call_success_hook(self, data: dict, user_api_key_dict: Any, response: Any) -> Any:
        if not data.get("stream"):
            await self._settle(_reservation(data), _total_tokens(response))
        return None

    async def async_log_success_event(self, kwargs: dict, response_obj: Any, start_time: Any, end_time: Any) -> None:
        # Streams: usage is known once the stream is consumed.
        await self._settle(_reservation(kwargs), _total_tokens(response_obj))

    async def async_post_call_failure_hook(
        self, request_data: dict, original_exception: Exception, user_api_key_dict: Any, traceback_str: str | None = None
    ) -> None:
        # The request was made (its rpm stays spent); its tokens were not used.
        await self._settle(_reservation(request_data), 0)
        return None

    async def async_post_call_response_headers_hook(
        self, data: dict, user_api_key_dict: Any, response: Any, request_headers: dict | None = None, litellm_call_info: dict | None = None
    ) -> dict[str, str] | None:
        reservation = _reservation(data)
        headers = reservation.get("headers") if isinstance(reservation, Mapping) else None
        return dict(headers) if isinstance(headers, Mapping) else None


def _headers(limits: list[Limit], remaining: list[int]) -> dict[str, str]:
    headers: dict[str, str] = {}
    for limit, left in zip(limits, remaining):
        headers[f"x-ratelimit-{limit.scope}-limit-{limit.kind}"] = str(limit.limit)
        headers[f"x-ratelimit-{limit.scope}-remaining-{limit.kind}"] = str(max(0, left))
    return headers


class SluiceRateLimitError(Exception):
    """The 429 raised where LiteLLM's proxy (and FastAPI) is not installed: same fields as HTTPException."""

    def __init__(self, detail: str, headers: dict[str, str]) -> None:
        super().__init__(detail)
        self.status_code = 429
        self.detail = detail
        self.headers = headers


def _rate_limit_error(detail: str, headers: dict[str, str], descriptor_key: str | None = None) -> Exception:
    """LiteLLM's own proxy 429 (ProxyRateLimitError: an HTTPException whose headers the proxy answers with)."""
    try:
        from litellm.proxy.common_utils.proxy_rate_limit_error import ProxyRateLimitError
    except ImportError:  # no proxy extras (fastapi): not running inside a proxy
        return SluiceRateLimitError(detail, headers)
    return ProxyRateLimitError(detail=detail, headers=headers, descriptor_key=descriptor_key)


def _reservation(data: Mapping[str, Any]) -> Mapping[str, Any] | None:
    sources = [data]
    params = data.get("litellm_params")
    if isinstance(params, Mapping):
        sources.append(params)
    for source in sources:
        for bucket_name in ("metadata", "litellm_metadata"):
            bucket = source.get(bucket_name)
            if isinstance(bucket, Mapping) and isinstance(bucket.get(RESERVATION_KEY), Mapping):
                return bucket[RESERVATION_KEY]
    return None


def _total_tokens(response: Any) -> int | None:
    usage = getattr(response, "usage", None)
    if usage is None and isinstance(response, Mapping):
        usage = response.get("usage")
    total = usage.get("total_tokens") if isinstance(usage, Mapping) else getattr(usage, "total_tokens", None)
    return total if isinstance(total, int) else None


# The instance `litellm_settings: callbacks: ["sluice_litellm.proxy_limiter"]` loads.
proxy_limiter = SluiceLimiter()
