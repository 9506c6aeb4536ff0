"""SluiceRouting: every deployment pick of a litellm.Router made by Sluice (ROUTE.PICK / ROUTE.DONE).

    router.register_plugin(SluiceRouting(url="redis://sluice:6380"))

Registration finds the Router it was registered with, sends Sluice the Router's model_list
without credentials (ROUTE.SET per group) and its router settings (ROUTE.SETTINGS SET), and adds
the outcome logger to `litellm.callbacks`. A pick sends the request's group, messages (Sluice
counts them and reserves the tokens in the same step), tags and the deployments this request
already failed on (EXCLUDE); it returns the Router's own model_list entry for the id Sluice
chose, so credentials never leave the process. The lease Sluice answers with travels in the
request's metadata (`metadata["sluice_leases"][deployment_id]`), which LiteLLM hands to every
callback of the attempt; the outcome logger sends ROUTE.DONE with the status, latency, time to
first token and the usage tokens. A cancelled request is settled when its asyncio task ends
(status 499); a lease nobody settles expires on Sluice after its TTL.

LiteLLM 1.110.2 facts this relies on (litellm/ is the installed package):
- the plugin API: types/router.py `CustomRoutingStrategyBase`; router_rust/core.py
  `RustCore.register_plugin` (`set_custom_routing_strategy` is its deprecated alias) stores the
  plugin and reads `plugin.get_available_deployment` once, from inside `register_plugin`: that is
  where the plugin learns its Router (`_core_owner`, the Router facade, router.py).
- picks: `_pre_route` calls `async_get_available_deployment(model=, messages=, input=,
  specific_deployment=, request_kwargs=request)`; the request's `metadata` dict is the one the
  attempt's callbacks see as `kwargs["litellm_params"]["metadata"]`, and the same dict across
  retries, where `metadata["previous_models"]` lists the failed attempts (router_rust/invoke/walk.py
  `log_retry_into`, one `deployment_id` each).
- outcomes: integrations/custom_logger.py `async_post_call_success_deployment_hook` and
  `async_post_call_failure_deployment_hook` run once per attempt, inline (non-streaming success,
  any failure); `async_log_success_event` runs after the response is returned, and for a stream
  when it is consumed (usage and `completion_start_time` then known); sync calls get
  `log_success_event` / `log_failure_event`; a cancelled call gets no callback at all.
"""

from __future__ import annotations

import asyncio
import copy
import json
import random
import sys
import time
import weakref
from collections.abc import Mapping
from dataclasses import dataclass, field
from datetime import datetime
from typing import TYPE_CHECKING, Any

import redis.exceptions

import litellm
from litellm.integrations.custom_logger import CustomLogger
from litellm.types.router import CustomRoutingStrategyBase, RouterRateLimitError

from .connection import OnUnavailable, SluiceConnection, SluiceUnavailable, log, reply_map
from .deployments import ROUTING_SETTINGS, routing_view

if TYPE_CHECKING:
    from litellm import Router

LEASES_KEY = "sluice_leases"
# Status for a request that ended without an outcome from the provider (cancelled by the caller):
# nginx's "client closed request". No cooldown rule counts it (4xx other than 401/404/408/429).
CANCELLED_STATUS = 499
# A finished, non-streaming request whose outcome callbacks have not settled its lease by then is
# settled as cancelled (a LiteLLM path that skips the callbacks), instead of waiting for the TTL.
UNSETTLED_GRACE_SECONDS = 30.0
_REGISTRATION_FRAMES = ("register_plugin", "set_custom_routing_strategy", "_custom_sync_pick")

# Leases picked in this process and not settled yet, for every plugin instance. One table and one
# outcome logger for the process, because LiteLLM may hand an event to only one CustomLogger of a
# class; whichever receives it settles the lease through the plugin that picked it.
_OPEN: dict[str, tuple["_OpenLease", "SluiceRouting"]] = {}
# Sluice forgets a lease after its TTL (default 600000 ms); so does this table, looking every
# SWEEP_EVERY picks, so a stream nobody reads to the end does not stay here for ever.
DEFAULT_LEASE_TTL_MS = 600_000
SWEEP_EVERY = 1024
_picks_since_sweep = 0


@dataclass
class _OpenLease:
    lease: str
    deployment_id: str
    picked_at: float  # time.monotonic()
    stream: bool
    settled: bool = field(default=False)


class SluiceRouting(CustomRoutingStrategyBase):
    """LiteLLM routing plugin: Sluice picks, LiteLLM calls, Sluice hears how it went."""

    def __init__(
        self,
        url: str | None = None,
        *,
        connection: SluiceConnection | None = None,
        timeout: float = 0.5,
        on_unavailable: OnUnavailable = "litellm",
        send_registry: bool = True,
        lease_ttl_ms: int | None = None,
        wait_ms: int | None = None,
        priority: int | None = None,
        ssl_ca_certs: str | None = None,
        ssl_certfile: str | None = None,
        ssl_keyfile: str | None = None,
        ssl_check_hostname: bool | None = None,
    ) -> None:
        """
        url: `redis://[user:password@]host[:port]` or `rediss://...` (default: $SLUICE_URL).
        ssl_ca_certs, ssl_certfile, ssl_keyfile, ssl_check_hostname: TLS to Sluice, as for
            SluiceConnection (also from the URL's query, e.g. `rediss://sluice:6390/?ssl_ca_certs=/ca.pem`).
        on_unavailable: while Sluice does not answer, "litellm" picks with LiteLLM's own strategy
            (a private Router over the same model_list, per process), "open" picks at random by
            weight among the group's deployments, "closed" refuses the request (503).
        send_registry: send the Router's model_list and settings at registration (and again when
            they change). False when Sluice loads the same config.yaml itself.
        lease_ttl_ms / wait_ms / priority: ROUTE.PICK's TTL, WAIT and PRIORITY.
        """
        self.connection = connection or SluiceConnection(
            url,
            timeout=timeout,
            on_unavailable=on_unavailable,
            ssl_ca_certs=ssl_ca_certs,
            ssl_certfile=ssl_certfile,
            ssl_keyfile=ssl_keyfile,
            ssl_check_hostname=ssl_check_hostname,
        )
        self.send_registry = send_registry
        self.lease_ttl_ms = lease_ttl_ms
        self.wait_ms = wait_ms
        self.priority = priority
        self._router_ref: weakref.ReferenceType[Router] | None = None
        self._sent_version: int | None = None
        self._shadow: Router | None = None
        self._shadow_version: int | None = None
        self.outcomes = OUTCOMES

    # -- registration ----------------------------------------------------------------------------

    def __getattribute__(self, name: str) -> Any:
        # RustCore.register_plugin reads this attribute once, from inside register_plugin: the
        # moment the plugin can learn which Router it now serves.
        if name == "get_available_deployment" and object.__getattribute__(self, "_router_ref") is None:
            router = _registering_router(sys._getframe(1))
            if router is not None:
                object.__getattribute__(self, "attach")(router)
        return object.__getattribute__(self, name)

    def attach(self, router: Router) -> None:
        """Bind to `router` (register_plugin does this by itself), send it to Sluice, add the outcome logger.

        A Sluice that does not answer is not an error here (the registry is sent at the first pick
        that reaches it); a Sluice that answers with an error (no ROUTE.* commands, a deployment it
        refuses) is: it raises from register_plugin, so a misconfiguration shows at start-up.
        """
        self._router_ref = weakref.ref(router)
        if self.outcomes not in litellm.callbacks:
            litellm.callbacks.append(self.outcomes)
        if self.send_registry:
            try:
                self.sync_registry()
            except SluiceUnavailable:
                pass  # sent at the first pick that reaches Sluice

    @property
    def router(self) -> Router:
        router = self._router_ref() if self._router_ref is not None else None
        if router is None:
            raise RuntimeError("SluiceRouting is not registered with a live Router: call router.register_plugin(plugin)")
        return router

    def registry_commands(self) -> list[tuple[Any, ...]]:
        """ROUTE.SET per group (credential-free entries) and ROUTE.SETTINGS SET, for the current Router."""
        groups: dict[str, list[str]] = {}
        for entry in self.router.registry().all():
            view = routing_view(entry)
            groups.setdefault(str(view["model_name"]), []).append(json.dumps(view, separators=(",", ":")))
        # REPLACE: each group becomes exactly this Router's deployments. Sluice keeps groups across
        # restarts (its snapshot), so a deployment since removed from model_list must go, not stay
        # to be picked; the deployments that remain keep their live state.
        commands: list[tuple[Any, ...]] = [("ROUTE.SET", group, "REPLACE", *entries) for group, entries in groups.items()]
        commands.append(("ROUTE.SETTINGS", "SET", json.dumps(router_settings(self.router), separators=(",", ":"), default=str)))
        return commands

    def sync_registry(self) -> None:
        """Send the Router's deployments and settings to Sluice (once per registry version)."""
        version = self.router.registry().version
        replies = self.connection.pipeline_call(self.registry_commands())
        errors = [reply for reply in replies if isinstance(reply, Exception)]
        if errors:
            raise errors[0]
        self._sent_version = version

    def _registry_is_current(self) -> bool:
        return not self.send_registry or self._sent_version == self.router.registry().version

    # -- picks -----------------------------------------------------------------------------------

    async def async_get_available_deployment(
        self,
        model: str,
        messages: list[dict[str, str]] | None = None,
        input: str | list[object] | None = None,
        specific_deployment: bool | None = False,
        request_kwargs: dict[str, object] | None = None,
    ) -> dict[str, Any]:  # type: ignore[override]  # the base declares None; LiteLLM reads the entry
        request = request_kwargs if request_kwargs is not None else {}
        if specific_deployment:
            return self._specific(model)
        try:
            if not self._registry_is_current():
                await asyncio.get_running_loop().run_in_executor(None, self.sync_registry)
            reply = await self.connection.acall(*self.pick_command(model, messages, input, request))
        except SluiceUnavailable:
            return await self._unavailable_pick_async(model, messages, input, request)
        except redis.exceptions.ResponseError as error:
            raise refusal(model, error) from None
        return self._accept(reply, request, asyncio.current_task())

    def get_available_deployment(
        self,
        model: str,
        messages: list[dict[str, str]] | None = None,
        input: str | list[object] | None = None,
        specific_deployment: bool | None = False,
        request_kwargs: dict[str, object] | None = None,
    ) -> dict[str, Any]:  # type: ignore[override]
        request = request_kwargs if request_kwargs is not None else {}
        if specific_deployment:
            return self._specific(model)
        try:
            if not self._registry_is_current():
                self.sync_registry()
            reply = self.connection.call(*self.pick_command(model, messages, input, request))
        except SluiceUnavailable:
            return self._unavailable_pick(model, messages, input, request)
        except redis.exceptions.ResponseError as error:
            raise refusal(model, error) from None
        return self._accept(reply, request, None)

    def pick_command(
        self, model: str, messages: Any, input: Any, request: Mapping[str, Any]
    ) -> list[Any]:
        command: list[Any] = ["ROUTE.PICK", model]
        if messages:
            command += ["CHAT", json.dumps(messages, default=str)]
        elif input:
            # Embeddings: counted as one user message of the input text.
            text = input if isinstance(input, str) else "\n".join(str(item) for item in input)
            command += ["CHAT", json.dumps([{"role": "user", "content": text}])]
        tags = request_tags(request)
        if tags:
            command += ["TAGS", *tags]
        excluded = excluded_deployments(request)
        if excluded:
            command += ["EXCLUDE", *excluded]
        if self.lease_ttl_ms is not None:
            command += ["TTL", str(self.lease_ttl_ms)]
        if self.wait_ms is not None:
            command += ["WAIT", str(self.wait_ms)]
            if self.priority is not None:
                command += ["PRIORITY", str(self.priority)]
        return command

    def _accept(self, reply: Any, request: dict[str, Any], task: asyncio.Task[Any] | None) -> dict[str, Any]:
        picked = reply_map(reply)
        deployment_id = str(picked["deployment"])
        lease = str(picked["lease"])
        entry = self.router.registry().deployment_dict(deployment_id)
        if entry is None:
            # Sluice knows a deployment this Router does not (another replica's model_list).
            self._release_now(lease, CANCELLED_STATUS)
            raise RuntimeError(
                f"Sluice picked deployment {deployment_id!r}, which this Router's model_list does not have"
            )
        open_lease = _OpenLease(lease, deployment_id, time.monotonic(), bool(request.get("stream")))
        _OPEN[lease] = (open_lease, self)
        _sweep_expired()
        metadata_bucket(request).setdefault(LEASES_KEY, {})[deployment_id] = lease
        if task is not None:
            task.add_done_callback(lambda done: self._on_task_done(open_lease, done))
        return entry

    def _specific(self, model: str) -> dict[str, Any]:
        # A request naming one deployment (LiteLLM's specific_deployment) is not routed.
        entry = self.router.registry().deployment_dict(model)
        if entry is None:
            raise ValueError(f"no deployment with id {model!r}")
        return entry

    # -- while Sluice does not answer --------------------------------------------------------------

    async def _unavailable_pick_async(self, model: str, messages: Any, input: Any, request: dict[str, Any]) -> dict[str, Any]:
        mode = self.connection.on_unavailable
        if mode == "litellm":
            shadow = self._shadow_router()
            if shadow is not None:
                picked = await shadow.async_get_available_deployment(
                    model=model, messages=messages, input=input, request_kwargs=dict(request)
                )
                return self._own_entry(picked)
        return self._unavailable_pick(model, messages, input, request)

    def _unavailable_pick(self, model: str, messages: Any, input: Any, request: dict[str, Any]) -> dict[str, Any]:
        mode = self.connection.on_unavailable
        if mode == "closed":
            raise litellm.ServiceUnavailableError(
                message=f"Sluice at {self.connection.address} is unavailable and on_unavailable='closed'",
                llm_provider="sluice",
                model=model,
            )
        if mode == "litellm":
            shadow = self._shadow_router()
            if shadow is not None:
                picked = shadow.get_available_deployment(model=model, messages=messages, input=input, request_kwargs=dict(request))
                return self._own_entry(picked)
        return self._weighted_random(model, request)

    def _own_entry(self, picked: Mapping[str, Any]) -> dict[str, Any]:
        entry = self.router.registry().deployment_dict(str(picked["model_info"]["id"]))
        if entry is None:
            raise RuntimeError("LiteLLM's fallback pick named a deployment this Router does not have")
        return entry

    def _shadow_router(self) -> Router | None:
        """A private litellm.Router over the same model_list and settings: LiteLLM's own routing."""
        version = self.router.registry().version
        if self._shadow is None or self._shadow_version != version:
            try:
                self._shadow = litellm.Router(
                    model_list=copy.deepcopy(list(self.router.registry().all())), **shadow_settings(self.router)
                )
                self._shadow_version = version
            except Exception as error:  # noqa: BLE001  # falls back to a weighted random pick
                log.warning("cannot build LiteLLM's own router for on_unavailable='litellm' (%s); picking at random", error)
                return None
        return self._shadow

    def _weighted_random(self, model: str, request: Mapping[str, Any]) -> dict[str, Any]:
        """on_unavailable='open': simple-shuffle by weight, else rpm, else tpm, over the group."""
        excluded = set(excluded_deployments(request))
        candidates = [
            entry
            for entry in self.router.registry().deployments(model)
            if str((entry.get("model_info") or {}).get("id")) not in excluded
        ] or list(self.router.registry().deployments(model))
        if not candidates:
            raise ValueError(f"no deployments for model group {model!r}")
        for field_name in ("weight", "rpm", "tpm"):
            weights = [_number((entry.get("litellm_params") or {}).get(field_name)) for entry in candidates]
            if any(weight > 0 for weight in weights):
                return random.choices(candidates, weights=weights)[0]
        return random.choice(candidates)

    # -- settling --------------------------------------------------------------------------------

    def done_command(self, open_lease: _OpenLease, outcome: Outcome) -> list[Any]:
        command: list[Any] = ["ROUTE.DONE", open_lease.lease]
        if outcome.status is not None and outcome.status != 200:
            command += ["STATUS", str(outcome.status)]
        latency_ms = outcome.latency_ms
        if latency_ms is None:
            latency_ms = (time.monotonic() - open_lease.picked_at) * 1000
        command += ["LATENCY", str(max(0, round(latency_ms)))]
        if outcome.ttft_ms is not None:
            command += ["TTFT", str(max(0, round(outcome.ttft_ms)))]
        if outcome.input_tokens is not None and outcome.output_tokens is not None:
            command += ["INPUT", str(outcome.input_tokens), "OUTPUT", str(outcome.output_tokens)]
        return command

    async def _send_done(self, open_lease: _OpenLease, outcome: Outcome) -> None:
        try:
            await self.connection.acall(*self.done_command(open_lease, outcome))
        except (SluiceUnavailable, redis.exceptions.RedisError) as error:
            log.debug("ROUTE.DONE %s not sent (%s); the lease expires by its TTL", open_lease.lease, error)

    def _send_done_sync(self, open_lease: _OpenLease, outcome: Outcome) -> None:
        try:
            self.connection.call(*self.done_command(open_lease, outcome))
        except (SluiceUnavailable, redis.exceptions.RedisError) as error:
            log.debug("ROUTE.DONE %s not sent (%s); the lease expires by its TTL", open_lease.lease, error)

    def _release_now(self, lease: str, status: int) -> None:
        try:
            self.connection.call("ROUTE.DONE", lease, "STATUS", str(status))
        except (SluiceUnavailable, redis.exceptions.RedisError):
            pass

    def _on_task_done(self, open_lease: _OpenLease, task: asyncio.Task[Any]) -> None:
        if open_lease.settled:
            return
        loop = task.get_loop()
        if task.cancelled():
            loop.create_task(settle_async(open_lease.lease, Outcome(status=CANCELLED_STATUS)))
        elif not open_lease.stream:
            # The outcome callbacks may still be on their way (async_log_success_event runs after
            # the response is returned); settle only what they leave behind.
            loop.call_later(
                UNSETTLED_GRACE_SECONDS,
                lambda: open_lease.settled
                or loop.create_task(settle_async(open_lease.lease, Outcome(status=CANCELLED_STATUS))),
            )

    @property
    def open_leases(self) -> int:
        """Leases this plugin picked and nobody settled yet."""
        return sum(1 for _, plugin in list(_OPEN.values()) if plugin is self)


@dataclass(frozen=True)
class Outcome:
    status: int | None = None  # None or 200: success
    latency_ms: float | None = None
    ttft_ms: float | None = None
    input_tokens: int | None = None
    output_tokens: int | None = None


def _sweep_expired() -> None:
    global _picks_since_sweep
    _picks_since_sweep += 1
    if _picks_since_sweep < SWEEP_EVERY:
        return
    _picks_since_sweep = 0
    now = time.monotonic()
    for lease, (open_lease, plugin) in list(_OPEN.items()):
        ttl_seconds = (plugin.lease_ttl_ms or DEFAULT_LEASE_TTL_MS) / 1000
        if now - open_lease.picked_at > ttl_seconds:
            _OPEN.pop(lease, None)


def _take(lease: str | None) -> tuple[_OpenLease, SluiceRouting] | None:
    """The open lease and its plugin, now marked settled; None when something settled it already."""
    if lease is None:
        return None
    taken = _OPEN.pop(lease, None)
    if taken is None or taken[0].settled:
        return None
    taken[0].settled = True
    return taken


async def settle_async(lease: str | None, outcome: Outcome) -> None:
    taken = _take(lease)
    if taken is not None:
        await taken[1]._send_done(taken[0], outcome)


def settle(lease: str | None, outcome: Outcome) -> None:
    taken = _take(lease)
    if taken is not None:
        taken[1]._send_done_sync(taken[0], outcome)


class SluiceOutcomes(CustomLogger):
    """The outcome logger (one per process): one ROUTE.DONE per attempt, whichever callback comes first."""

    # Inline, once per attempt: a non-streaming success, every failed attempt.
    async def async_post_call_success_deployment_hook(self, request_data: dict, response: Any, call_type: Any) -> Any:
        if not request_data.get("stream"):
            await settle_async(lease_of(request_data), Outcome(status=200, **usage_of(response)))
        return None

    async def async_post_call_failure_deployment_hook(
        self, request_data: Mapping[str, object], exception: Exception, call_type: Any, fallback_depth: int | None = None
    ) -> None:
        await settle_async(lease_of(request_data), Outcome(status=status_of(exception)))

    # After the response (streams: once consumed), with LiteLLM's own timings.
    async def async_log_success_event(self, kwargs: dict, response_obj: Any, start_time: Any, end_time: Any) -> None:
        await settle_async(lease_of(kwargs), success_outcome(kwargs, response_obj, start_time, end_time))

    async def async_log_failure_event(self, kwargs: dict, response_obj: Any, start_time: Any, end_time: Any) -> None:
        await settle_async(lease_of(kwargs), failure_outcome(kwargs, start_time, end_time))

    # Router.completion (sync).
    def log_success_event(self, kwargs: dict, response_obj: Any, start_time: Any, end_time: Any) -> None:
        settle(lease_of(kwargs), success_outcome(kwargs, response_obj, start_time, end_time))

    def log_failure_event(self, kwargs: dict, response_obj: Any, start_time: Any, end_time: Any) -> None:
        settle(lease_of(kwargs), failure_outcome(kwargs, start_time, end_time))


# -- reading LiteLLM's request and callback shapes ------------------------------------------------


def metadata_bucket(request: dict[str, Any]) -> dict[str, Any]:
    """The request's metadata dict (LiteLLM uses `litellm_metadata` on some endpoints)."""
    for name in ("litellm_metadata", "metadata"):
        bucket = request.get(name)
        if isinstance(bucket, dict):
            return bucket
    bucket = {}
    request["metadata"] = bucket
    return bucket


def request_tags(request: Mapping[str, Any]) -> list[str]:
    for source in (request.get("metadata"), request.get("litellm_metadata"), request):
        if isinstance(source, Mapping) and isinstance(source.get("tags"), list):
            return [str(tag) for tag in source["tags"]]
    return []


def excluded_deployments(request: Mapping[str, Any]) -> list[str]:
    """Deployments this request must not be sent to again: its failed attempts."""
    ids: list[str] = []
    for name in ("_excluded_deployment_ids", "_retry_skipped_deployment_ids"):
        value = request.get(name)
        if isinstance(value, (list, tuple)):
            ids += [str(item) for item in value]
    for bucket_name in ("metadata", "litellm_metadata"):
        bucket = request.get(bucket_name)
        if isinstance(bucket, Mapping):
            for record in bucket.get("previous_models") or ():
                deployment_id = record.get("deployment_id") if isinstance(record, Mapping) else None
                if deployment_id:
                    ids.append(str(deployment_id))
    return list(dict.fromkeys(ids))


def lease_of(kwargs: Mapping[str, Any]) -> str | None:
    """The lease of the attempt these callback kwargs describe."""
    params = kwargs.get("litellm_params")
    sources = [params, kwargs] if isinstance(params, Mapping) else [kwargs]
    deployment_id = None
    leases = None
    for source in sources:
        for bucket_name in ("metadata", "litellm_metadata"):
            bucket = source.get(bucket_name)
            if isinstance(bucket, Mapping) and isinstance(bucket.get(LEASES_KEY), Mapping):
                leases = bucket[LEASES_KEY]
                if deployment_id is None and isinstance(bucket.get("model_info"), Mapping):
                    deployment_id = bucket["model_info"].get("id")
        info = source.get("model_info")
        if isinstance(info, Mapping) and info.get("id") is not None:
            deployment_id = info["id"]
            break
    if leases is None or deployment_id is None:
        return None
    lease = leases.get(str(deployment_id))
    return str(lease) if lease is not None else None


def status_of(exception: BaseException | None) -> int:
    if isinstance(exception, litellm.Timeout):
        return 408
    code = getattr(exception, "status_code", None)
    if isinstance(code, int) and not isinstance(code, bool) and 100 <= code <= 599:
        return code
    return 500


def usage_of(response: Any) -> dict[str, int]:
    usage = getattr(response, "usage", None)
    if usage is None and isinstance(response, Mapping):
        usage = response.get("usage")
    prompt = getattr(usage, "prompt_tokens", None) if usage is not None else None
    completion = getattr(usage, "completion_tokens", None) if usage is not None else None
    if isinstance(usage, Mapping):
        prompt, completion = usage.get("prompt_tokens"), usage.get("completion_tokens")
    if isinstance(prompt, int) and isinstance(completion, int):
        return {"input_tokens": prompt, "output_tokens": completion}
    return {}


def _elapsed_ms(start: Any, end: Any) -> float | None:
    if isinstance(start, datetime) and isinstance(end, datetime):
        return (end - start).total_seconds() * 1000
    if isinstance(start, (int, float)) and isinstance(end, (int, float)):
        return (end - start) * 1000
    return None


def success_outcome(kwargs: Mapping[str, Any], response: Any, start: Any, end: Any) -> Outcome:
    ttft = _elapsed_ms(start, kwargs.get("completion_start_time")) if kwargs.get("stream") else None
    return Outcome(status=200, latency_ms=_elapsed_ms(start, end), ttft_ms=ttft, **usage_of(response))


def failure_outcome(kwargs: Mapping[str, Any], start: Any, end: Any) -> Outcome:
    return Outcome(status=status_of(kwargs.get("exception")), latency_ms=_elapsed_ms(start, end))


def refusal(model: str, error: redis.exceptions.ResponseError) -> Exception:
    """Sluice's refusal as the error LiteLLM raises when no deployment is available."""
    text = str(error)
    if text.startswith("NODEPLOYMENT"):
        retry_ms = _retry_ms(text)
        raised = RouterRateLimitError(
            model=model,
            cooldown_time=(retry_ms or 0) / 1000,
            enable_pre_call_checks=False,
            cooldown_list=[],
        )
        raised.args = (f"No deployments available for selected model (Sluice: {text})",)
        return raised
    if "no such group" in text:
        return ValueError(f"no deployments for model group {model!r} (Sluice: {text})")
    return error


def _retry_ms(text: str) -> int | None:
    marker = "retry in "
    if marker not in text:
        return None
    digits = text.split(marker, 1)[1].split(" ", 1)[0]
    return int(digits) if digits.isdigit() else None


def _number(value: Any) -> float:
    try:
        return float(value)
    except (TypeError, ValueError):
        return 0.0


def router_settings(router: Router) -> dict[str, Any]:
    """The Router's router_settings that Sluice applies (route-protocol.md), unset ones left out."""
    settings = router.settings()
    values: dict[str, Any] = {}
    for name in ROUTING_SETTINGS:
        if name == "allowed_fails":
            # LiteLLM reads allowed_fails from its global default when the Router was not given one,
            # and its cooldown rules depend on whether it was given (cooldown_handlers.py
            # `_is_allowed_fails_set_on_router`): send only an explicit value.
            value = getattr(router, "explicit_allowed_fails", None)
        elif name == "default_fallbacks":
            continue  # LiteLLM folds them into fallbacks as {"*": [...]}
        elif hasattr(settings, name):
            value = getattr(settings, name)
        else:
            value = getattr(router, name, None)
        if value is not None and value != {} and value != []:
            values[name] = value
    return values


# Settings a private LiteLLM Router (on_unavailable="litellm") is built with: the routing ones;
# fallbacks stay with the Router that runs the request.
_NOT_FOR_SHADOW = ("fallbacks", "context_window_fallbacks", "default_fallbacks", "max_fallbacks", "provider_budget_config")


def shadow_settings(router: Router) -> dict[str, Any]:
    return {name: value for name, value in router_settings(router).items() if name not in _NOT_FOR_SHADOW}


def _registering_router(frame: Any) -> Router | None:
    """The Router whose register_plugin is on the stack, if any (LiteLLM 1.110.2's call shape)."""
    depth = 0
    while frame is not None and depth < 8:
        if frame.f_code.co_name in _REGISTRATION_FRAMES:
            candidate = frame.f_locals.get("self")
            if isinstance(candidate, litellm.Router):
                return candidate
            owner = getattr(candidate, "__dict__", {}).get("_core_owner")
            router = owner() if callable(owner) else None
            if isinstance(router, litellm.Router):
                return router
        frame = frame.f_back
        depth += 1
    return None


OUTCOMES = SluiceOutcomes()
