"""Sluice for LiteLLM: a routing plugin for litellm.Router and a rate-limit callback for the proxy."""

from .connection import SluiceAddress, SluiceConnection, SluiceUnavailable, parse_url
from .deployments import derive_deployment_id, routing_view
from .routing import SluiceOutcomes, SluiceRouting

__all__ = [
    "SluiceAddress",
    "SluiceConnection",
    "SluiceOutcomes",
    "SluiceRouting",
    "SluiceUnavailable",
    "derive_deployment_id",
    "parse_url",
    "routing_view",
]

from .limiter import SluiceLimiter, proxy_limiter  # noqa: E402  # after routing: both import litellm

__all__ += ["SluiceLimiter", "proxy_limiter"]
