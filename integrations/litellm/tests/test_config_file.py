"""One LiteLLM config.yaml, read by Sluice (`--config`) and by LiteLLM (PyYAML, as its proxy reads
it): the same deployment ids on both sides, so a plugin that sends nothing (send_registry=False)
routes a Router built from the same file."""

from __future__ import annotations

import asyncio

import pytest
import yaml
from litellm import Router

from sluice_litellm import SluiceConnection, SluiceRouting
from sluice_litellm.connection import reply_map

from .conftest import start_daemon

# No model_info.id anywhere: every id is derived, from the values as each side reads them.
# Integral floats (1.0, 600.0), exponents, numeric strings, os.environ/ references (LiteLLM
# hashes the resolved values, credentials included), tags, a nested mapping, non-ASCII text.
CONFIG = """
model_list:
  - model_name: gpt-4o
    litellm_params:
      model: azure/gpt-4o-eu
      api_base: os.environ/SLUICE_CFG_API_BASE
      api_key: os.environ/SLUICE_CFG_API_KEY
      api_version: "2024-10-21"
      rpm: 600
      tpm: 100000
      weight: 1.0
      timeout: 600.0
      input_cost_per_token: 0.0000025
      output_cost_per_token: 1.0e-05
      tags: [eu, paid]
      mock_response: "from eu"
  - model_name: gpt-4o
    litellm_params:
      model: openai/gpt-4o
      api_key: sk-plain-secret
      rpm: "60"
      weight: 3
      max_parallel_requests: 20
      extra_headers: {x-team: "équipe", x-ratio: 1.50}
      mock_response: "from us"
  - model_name: mini
    litellm_params:
      model: openai/gpt-4o-mini
      weight: 0.5
      temperature: .5
      mock_response: "mini"
router_settings:
  routing_strategy: simple-shuffle
"""
ENVIRON = {"SLUICE_CFG_API_BASE": "https://eu.example/openai", "SLUICE_CFG_API_KEY": "sk-env-secret"}


@pytest.fixture()
def same_file(monkeypatch: pytest.MonkeyPatch):
    for name, value in ENVIRON.items():
        monkeypatch.setenv(name, value)  # the daemon inherits them, as LiteLLM's process has them
    daemon = start_daemon(CONFIG)
    yield daemon, yaml.safe_load(CONFIG)
    daemon.stop()


def sluice_ids(url: str, group: str) -> list[str]:
    return sorted(str(reply_map(row)["id"]) for row in SluiceConnection(url).call("ROUTE.LIST", group))


def test_sluice_and_litellm_derive_the_same_ids(same_file) -> None:
    daemon, config = same_file
    router = Router(model_list=config["model_list"])
    for group in ("gpt-4o", "mini"):
        litellm_ids = sorted(e["model_info"]["id"] for e in router.registry().all() if e["model_name"] == group)
        assert len(litellm_ids) == {"gpt-4o": 2, "mini": 1}[group]
        assert sluice_ids(daemon.url, group) == litellm_ids, group


async def test_a_plugin_that_sends_nothing_routes_the_same_file(same_file) -> None:
    daemon, config = same_file
    router = Router(model_list=config["model_list"], num_retries=0)
    # Every pick must be Sluice's (see test_routing_daemon.routed).
    router.register_plugin(SluiceRouting(url=daemon.url, send_registry=False, timeout=30, on_unavailable="closed"))
    replies = await asyncio.gather(
        *(router.acompletion(model="gpt-4o", messages=[{"role": "user", "content": "hi"}]) for _ in range(20))
    )
    served = {r._hidden_params["model_id"] for r in replies}
    assert served <= set(sluice_ids(daemon.url, "gpt-4o")) and served
    rows = [reply_map(row) for row in SluiceConnection(daemon.url).call("ROUTE.LIST", "gpt-4o")]
    assert sum(int(row["rpm_used"]) for row in rows) == 20
    assert "secret" not in repr(rows)
