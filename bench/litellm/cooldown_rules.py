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
import litellm
from litellm import Router
class StatusError(Exception):
    """A provider error with this HTTP status (LiteLLM raises it as a MockException)."""

    def __init__(self, code): super().__init__(f"mock {code}"); self.status_code = code
    def __reduce__(self): return (StatusError, (self.status_code,))
MOCK = {429: "litellm.RateLimitError", 500: "litellm.InternalServerError"}
async def case(code, n, af, failures):
    bad = MOCK.get(code, StatusError(code))
    ml=[{"model_name":"g","litellm_params":{"model":"openai/gpt-4o","api_key":"x","mock_response": bad if i == 0 else "ok"},"model_info":{"id":f"d{i}"}} for i in range(n)]
    kw = {} if af is None else {"allowed_fails": af}
    r = Router(model_list=ml, num_retries=0, cooldown_time=30, **kw)
    failed = 0; tries = 0
    while failed < failures and tries < 200:
        tries += 1
        try: await r.acompletion(model="g", messages=[{"role":"user","content":"hi"}])
        except Exception: failed += 1
    await asyncio.sleep(0.3)
    got = await r.health().cooldowns.async_get_active_cooldowns(model_ids=[f"d{i}" for i in range(n)], parent_otel_span=None)
    return "d0" in [g[0] for g in got]
async def main() -> None:
    for code in (429, 500, 503, 401, 404, 408, 400):
        for n in (1, 2):
            for af in (None, 1):
                counts = [0, 1, 2, 3] if af else [0, 1]
                res = [f"{f}:{'C' if await case(code, n, af, f) else '-'}" for f in counts[1:]]
                print(code, f"group={n}", f"allowed_fails={af}", " ".join(res), flush=True)
asyncio.run(main())
