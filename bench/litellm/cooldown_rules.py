"""LiteLLM's cooldown rules, measured: which failures cool a deployment down, after how many.

For each status, a group of 1 or 2 deployments whose first deployment (d0) fails with that status
(`mock_response`, offline) and, in the 2-deployment group, a second one that succeeds; with
`allowed_fails` unset and set to 1. Prints one line per case: after N failures of d0, `C` if d0
is cooling down, `-` if not. `cooldown_time` is 30 s so nothing expires during a case.

Run: bench/litellm/setup.sh && bench/.cache/litellm-venv/bin/python bench/litellm/cooldown_rules.py
"""

import asyncio
import os
import warnings

os.environ.setdefault("LITELLM_LOCAL_MODEL_COST_MAP", "True")
warnings.filterwarnings("ignore")

from litellm import Router  # noqa: E402

STATUSES = (429, 500, 503, 401, 404, 408, 400)
# LiteLLM's own mock strings for the statuses it has one for; other statuses raise as a MockException.
MOCK_STRINGS = {429: "litellm.RateLimitError", 500: "litellm.InternalServerError"}


class StatusError(Exception):
    """A provider error with this HTTP status."""

    def __init__(self, status: int) -> None:
        super().__init__(f"mock {status}")
        self.status_code = status

    def __reduce__(self) -> tuple:  # the Router deep-copies its model_list
        return (StatusError, (self.status_code,))


async def cooled_after(status: int, group_size: int, allowed_fails: int | None, failures: int) -> bool:
    """Whether d0 is cooling down once it has failed `failures` times."""
    failing = MOCK_STRINGS.get(status, StatusError(status))
    model_list = [
        {
            "model_name": "g",
            "litellm_params": {"model": "openai/gpt-4o", "api_key": "sk-none", "mock_response": failing if i == 0 else "ok"},
            "model_info": {"id": f"d{i}"},
        }
        for i in range(group_size)
    ]
    extra = {} if allowed_fails is None else {"allowed_fails": allowed_fails}
    router = Router(model_list=model_list, num_retries=0, cooldown_time=30, **extra)
    failed = attempts = 0
    while failed < failures and attempts < 200:
        attempts += 1
        try:
            await router.acompletion(model="g", messages=[{"role": "user", "content": "hi"}])
        except Exception:  # noqa: BLE001  # the failure under test
            failed += 1
    await asyncio.sleep(0.3)  # cooldowns are recorded by the failure callbacks
    ids = [f"d{i}" for i in range(group_size)]
    active = await router.health().cooldowns.async_get_active_cooldowns(model_ids=ids, parent_otel_span=None)
    return "d0" in [cooldown[0] for cooldown in active]


async def main() -> None:
    for status in STATUSES:
        for group_size in (1, 2):
            for allowed_fails in (None, 1):
                counts = (1, 2, 3) if allowed_fails is not None else (1,)
                marks = [f"{n}:{'C' if await cooled_after(status, group_size, allowed_fails, n) else '-'}" for n in counts]
                print(status, f"group={group_size}", f"allowed_fails={allowed_fails}", " ".join(marks), flush=True)


if __name__ == "__main__":
    asyncio.run(main())
