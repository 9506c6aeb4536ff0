"""Key authentication for the proxy test: two keys, each with its own rpm limit (LiteLLM's
`general_settings: custom_auth`, so the test needs no database for its keys)."""

from litellm.proxy._types import UserAPIKeyAuth

RPM_LIMITS = {"sk-key-a": 3, "sk-key-b": 5}


async def user_api_key_auth(request: object, api_key: str) -> UserAPIKeyAuth:
    if api_key not in RPM_LIMITS:
        raise Exception("unknown key")
    return UserAPIKeyAuth(api_key=api_key, rpm_limit=RPM_LIMITS[api_key])
