"""Fixtures: a Sluice daemon from this repository, started per test module on a free port."""

from __future__ import annotations

import os
import warnings
from collections.abc import Iterator

# Offline: LiteLLM fetches its model cost map from the network at import unless told not to.
os.environ.setdefault("LITELLM_LOCAL_MODEL_COST_MAP", "True")
warnings.filterwarnings("ignore", category=DeprecationWarning)

import pytest  # noqa: E402

from .certificates import Certificates, make_certificates  # noqa: E402
from .daemon import Daemon, free_port, start_daemon  # noqa: E402,F401  (tests import these from here)


@pytest.fixture(scope="module")
def daemon() -> Iterator[Daemon]:
    started = start_daemon()
    yield started
    started.stop()


@pytest.fixture(scope="session")
def certificates(tmp_path_factory: pytest.TempPathFactory) -> Certificates:
    """A test CA, a server certificate for `localhost`, a client certificate, and a wrong CA."""
    return make_certificates(tmp_path_factory.mktemp("certificates"))


@pytest.fixture(autouse=True)
def clean_callbacks() -> Iterator[None]:
    """Leave litellm.callbacks as the test found it (the plugin adds its outcome logger)."""
    import litellm

    before = list(litellm.callbacks)
    yield
    litellm.callbacks[:] = before


def deployment(id: str, group: str = "g", reply: object = "ok", **params: object) -> dict:
    """A model_list entry with a fixed id, a mocked reply and a credential the tests look for."""
    return {
        "model_name": group,
        "litellm_params": {"model": "openai/gpt-4o", "api_key": f"sk-secret-{id}", "mock_response": reply, **params},
        "model_info": {"id": id},
    }

