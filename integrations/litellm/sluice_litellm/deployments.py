"""What of a LiteLLM model_list entry Sluice receives, and how LiteLLM names an entry without an id.

Only the fields Sluice routes on leave the process (an allowlist, not a denylist: a credential
field LiteLLM adds tomorrow is still never sent). The router keeps the credentials; Sluice keeps
the numbers.
"""

from __future__ import annotations

import hashlib
import json
from collections.abc import Mapping
from typing import Any
from urllib.parse import urlsplit, urlunsplit

# litellm_params fields Sluice routes on (route-protocol.md, "Deployment fields Sluice keeps").
ROUTING_PARAMS = (
    "model",
    "api_base",
    "api_version",
    "region_name",
    "rpm",
    "tpm",
    "weight",
    "order",
    "max_parallel_requests",
    "tags",
    "input_cost_per_token",
    "output_cost_per_token",
    "max_input_tokens",
    "max_budget",
    "budget_duration",
    "cooldown_time",
)
# model_info fields Sluice routes on.
ROUTING_MODEL_INFO = (
    "id",
    "input_cost_per_token",
    "output_cost_per_token",
    "max_input_tokens",
    "cooldown_time",
)
# router_settings Sluice applies (route-protocol.md, "Router settings").
ROUTING_SETTINGS = (
    "routing_strategy",
    "routing_strategy_args",
    "allowed_fails",
    "allowed_fails_policy",
    "cooldown_time",
    "disable_cooldowns",
    "fallbacks",
    "context_window_fallbacks",
    "default_fallbacks",
    "max_fallbacks",
    "model_group_alias",
    "enable_pre_call_checks",
    "enable_tag_filtering",
    "default_max_parallel_requests",
    "provider_budget_config",
)


def derive_deployment_id(model_name: str, litellm_params: Mapping[str, Any]) -> str:
    """The id LiteLLM 1.110.2 gives an entry without `model_info.id`.

    `litellm.router_api.deployment_id`: sha256 (hex) of the UTF-8 concatenation of the model
    name, then each litellm_params key and value in the order given: a string as it is, a dict as
    `json.dumps` writes it (default separators, ASCII escapes), anything else as Python's `str()`
    writes it (`60`, `2.5e-06`, `True`, `None`, `['eu', 'paid']`). `os.environ/NAME` values are
    resolved before hashing, so the id depends on the variable's value. `model_info` is not part of
    it: two entries with the same name and params get the same id. Sluice's config loader follows
    the same rule (tests/fixtures/deployment_ids.json holds LiteLLM's own answers).
    """
    parts = [model_name]
    for key, value in litellm_params.items():
        for item in (key, value):
            if isinstance(item, str):
                parts.append(item)
            elif isinstance(item, dict):
                parts.append(json.dumps(item, default=_qualified_type_name))
            else:
                parts.append(str(item))
    return hashlib.sha256("".join(parts).encode()).hexdigest()


def _qualified_type_name(value: object) -> str:
    # What LiteLLM writes for a value json cannot encode inside a dict.
    return f"{type(value).__module__}.{type(value).__qualname__}"


def routing_view(entry: Mapping[str, Any]) -> dict[str, Any]:
    """The entry as Sluice receives it: model_name, the routing fields, and no credential."""
    params: Mapping[str, Any] = entry.get("litellm_params") or {}
    info: Mapping[str, Any] = entry.get("model_info") or {}
    kept_params = {name: params[name] for name in ROUTING_PARAMS if params.get(name) is not None}
    if isinstance(kept_params.get("api_base"), str):
        kept_params["api_base"] = url_without_credentials(kept_params["api_base"])
    kept_info = {name: info[name] for name in ROUTING_MODEL_INFO if info.get(name) is not None}
    view: dict[str, Any] = {"model_name": entry.get("model_name"), "litellm_params": kept_params}
    if kept_info:
        view["model_info"] = kept_info
    return view


def url_without_credentials(url: str) -> str:
    """`url` without a user:password part or a query string (where providers put keys)."""
    try:
        parts = urlsplit(url)
    except ValueError:
        return url
    if not parts.scheme or not parts.netloc:
        return url
    host = parts.netloc.rsplit("@", 1)[-1]
    return urlunsplit((parts.scheme, host, parts.path, "", ""))
