"""One Router process for the four-process test: registers SluiceRouting, waits for "go <epoch>",
sends its requests at once, prints how each ended as JSON."""

import asyncio
import json
import os
import sys
import time
import warnings

os.environ.setdefault("LITELLM_LOCAL_MODEL_COST_MAP", "True")
warnings.filterwarnings("ignore")


async def main(url: str, requests: int, rpm: int) -> None:
    from litellm import Router

    from sluice_litellm import SluiceRouting

    router = Router(
        model_list=[
            {
                "model_name": "shared-rpm",
                "litellm_params": {"model": "openai/gpt-4o", "api_key": "sk-not-a-key", "rpm": rpm, "mock_response": "ok"},
                "model_info": {"id": "the-only-deployment"},
            }
        ],
        num_retries=0,
    )
    # on_unavailable="closed": a pick that times out is refused (503), never served by LiteLLM's own
    # routing behind Sluice's back, so the count below is Sluice's decision alone. The 30 s timeout:
    # 40 requests at once keep this process's event loop busy for longer than the default 0.5 s
    # (4 such processes on 2 cores), which would otherwise read as Sluice not answering; 5 s was
    # not enough on a machine at load 15 (78 picks refused as 503).
    router.register_plugin(SluiceRouting(url=url, timeout=30.0, on_unavailable="closed"))
    print("ready", flush=True)
    start_at = float(sys.stdin.readline().split()[1])
    await asyncio.sleep(max(0.0, start_at - time.time()))

    async def one() -> dict:
        try:
            response = await router.acompletion(model="shared-rpm", messages=[{"role": "user", "content": "hi"}])
            return {"served": response._hidden_params.get("model_id"), "at": time.time()}
        except Exception as error:  # noqa: BLE001  # a refusal is an outcome
            return {"served": None, "status": getattr(error, "status_code", None), "error": type(error).__name__, "at": time.time()}

    outcomes = await asyncio.gather(*(one() for _ in range(requests)))
    await asyncio.sleep(0.5)  # let the outcome callbacks send their ROUTE.DONE
    print(json.dumps(outcomes), flush=True)


if __name__ == "__main__":
    asyncio.run(main(sys.argv[1], int(sys.argv[2]), int(sys.argv[3])))
