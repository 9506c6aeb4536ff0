"""Deployment ids: the fixture is what LiteLLM's Router assigns, the package's rule reproduces it,
and what the plugin sends Sluice carries the Router's ids and no credential."""

from __future__ import annotations

import copy
import json
import os
import pathlib

import pytest

from sluice_litellm import derive_deployment_id, routing_view

FIXTURE = json.loads((pathlib.Path(__file__).parent / "fixtures" / "deployment_ids.json").read_text())


def _resolved(params: dict, environ: dict) -> dict:
    return {
        key: environ[value[len("os.environ/"):]] if isinstance(value, str) and value.startswith("os.environ/") else value
        for key, value in params.items()
    }


def test_fixture_is_what_the_installed_litellm_assigns(monkeypatch: pytest.MonkeyPatch) -> None:
    from litellm import Router

    for name, value in FIXTURE["environ"].items():
        monkeypatch.setenv(name, value)
    entries = [case["entry"] for case in FIXTURE["cases"]]
    router = Router(model_list=copy.deepcopy(entries))
    assert [entry["model_info"]["id"] for entry in router.registry().all()] == [case["id"] for case in FIXTURE["cases"]]


def test_rule_reproduces_every_vector() -> None:
    for case in FIXTURE["cases"]:
        entry = case["entry"]
        params = _resolved(entry["litellm_params"], FIXTURE["environ"])
        assert derive_deployment_id(entry["model_name"], params) == case["id"], entry


def test_environment_value_changes_the_id() -> None:
    # LiteLLM resolves os.environ/ before hashing: the reference itself does not name the deployment.
    case = next(c for c in FIXTURE["cases"] if "os.environ/SLUICE_FIXTURE_API_KEY" in json.dumps(c["entry"]))
    entry = case["entry"]
    assert derive_deployment_id(entry["model_name"], entry["litellm_params"]) != case["id"]
    other = _resolved(entry["litellm_params"], {"SLUICE_FIXTURE_API_KEY": "another-value"})
    assert derive_deployment_id(entry["model_name"], other) != case["id"]


def test_routing_view_keeps_numbers_and_drops_credentials() -> None:
    entry = {
        "model_name": "gpt-4o",
        "litellm_params": {
            "model": "azure/gpt-4o-eu",
            "api_key": "sk-live-secret",
            "aws_secret_access_key": "aws-secret",
            "aws_access_key_id": "AKIA-secret",
            "azure_ad_token": "ad-token-secret",
            "vertex_credentials": "{\"private_key\": \"secret\"}",
            "client_secret": "client-secret",
            "api_base": "https://user:pw-secret@eu.example/openai?api-key=query-secret",
            "api_version": "2024-10-21",
            "rpm": 600,
            "tpm": "100000",
            "weight": 2,
            "order": 1,
            "max_parallel_requests": 20,
            "tags": ["eu"],
            "input_cost_per_token": 2.5e-06,
            "max_tokens": 512,
        },
        "model_info": {"id": "eu-1", "max_input_tokens": 128000, "secret_note": "model-info-secret"},
    }
    view = routing_view(entry)
    text = json.dumps(view)
    for secret in ("sk-live", "aws-secret", "AKIA", "ad-token", "private_key", "client-secret", "pw-secret", "query-secret", "model-info-secret"):
        assert secret not in text
    assert view["litellm_params"] == {
        "model": "azure/gpt-4o-eu",
        "api_base": "https://eu.example/openai",
        "api_version": "2024-10-21",
        "rpm": 600,
        "tpm": "100000",
        "weight": 2,
        "order": 1,
        "max_parallel_requests": 20,
        "tags": ["eu"],
        "input_cost_per_token": 2.5e-06,
    }
    assert view["model_info"] == {"id": "eu-1", "max_input_tokens": 128000}


def test_routing_view_of_a_router_entry_carries_its_id(monkeypatch: pytest.MonkeyPatch) -> None:
    from litellm import Router

    monkeypatch.setenv("SLUICE_TEST_KEY", "sk-env-secret")
    router = Router(
        model_list=[
            {"model_name": "g", "litellm_params": {"model": "openai/gpt-4o", "api_key": "os.environ/SLUICE_TEST_KEY", "rpm": 5}},
        ]
    )
    (entry,) = router.registry().all()
    view = routing_view(entry)
    assert view["model_info"]["id"] == entry["model_info"]["id"]
    assert "sk-env-secret" not in json.dumps(view)
    assert os.environ["SLUICE_TEST_KEY"] == "sk-env-secret"
