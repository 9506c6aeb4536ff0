"""One Sluice address, a per-call timeout, and what to do while Sluice does not answer.

A call that cannot reach Sluice (refused, reset, timed out) marks it unavailable: callers then get
`SluiceUnavailable` at once, without waiting on the network, until `retry_interval` has passed and
one call tries again. Over TLS (`rediss://`, settings in tls.py) a failed handshake is unavailability
too, logged with what it most likely means (an unknown CA, a host name the certificate does not
name, a plain port, a missing client certificate) and what to do. The switch is logged once each way ("unavailable", "available again"), so a
Sluice restart costs a few log lines, not one per request. A reply error (`-ERR ...`,
`-NODEPLOYMENT ...`) is an answer, not unavailability: it reaches the caller as
`redis.exceptions.ResponseError`. redis-py's own retries are off: the per-call timeout is the
most a call waits, and the caller's on_unavailable decides what happens next.
"""

from __future__ import annotations

import asyncio
import logging
import os
import threading
import time
import weakref
from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import Any, Literal
from urllib.parse import unquote, urlsplit

import redis
import redis.asyncio
import redis.exceptions
from redis.asyncio.retry import Retry as AsyncRetry
from redis.backoff import NoBackoff
from redis.retry import Retry as SyncRetry

from .tls import explain, query_settings, tls_settings

OnUnavailable = Literal["open", "closed", "litellm"]
ON_UNAVAILABLE_CHOICES: tuple[str, ...] = ("open", "closed", "litellm")
DEFAULT_URL = "redis://127.0.0.1:6380"

log = logging.getLogger("sluice_litellm")


class SluiceUnavailable(Exception):
    """Sluice did not answer (or was marked unavailable a moment ago and is not retried yet)."""


@dataclass(frozen=True)
class SluiceAddress:
    host: str
    port: int
    username: str | None
    password: str | None
    tls: bool
    db: int
    # The URL's query settings (TLS ones; may hold ssl_password, so never shown).
    query: Mapping[str, Any] = field(default_factory=dict, repr=False, compare=False)

    def __str__(self) -> str:  # never the password
        scheme = "rediss" if self.tls else "redis"
        user = f"{self.username}@" if self.username else ""
        return f"{scheme}://{user}{self.host}:{self.port}"


def parse_url(url: str) -> SluiceAddress:
    """`redis://[user[:password]@]host[:port][/db][?setting=value&...]` or `rediss://...` (TLS).

    Port defaults to 6380. The query takes `db` and redis-py's TLS settings (`ssl_ca_certs`, ...),
    parsed as `redis.from_url` parses them (tls.py)."""
    try:
        parts = urlsplit(url)
        port = parts.port
    except ValueError as error:
        raise ValueError(f"not a Sluice URL: {url!r} ({error})") from None
    if parts.scheme not in ("redis", "rediss"):
        raise ValueError(f"a Sluice URL starts with redis:// or rediss://, not {url!r}")
    if not parts.hostname:
        raise ValueError(f"a Sluice URL needs a host: {url!r}")
    path = parts.path.strip("/")
    if path and not path.isdigit():
        raise ValueError(f"the path of a Sluice URL is a database number, not {path!r}")
    query = query_settings(url, parts.query)
    db = query.pop("db", None)
    return SluiceAddress(
        host=parts.hostname,
        port=port if port is not None else 6380,
        username=unquote(parts.username) if parts.username else None,
        password=unquote(parts.password) if parts.password is not None else None,
        tls=parts.scheme == "rediss",
        db=db if db is not None else int(path) if path else 0,
        query=query,
    )


class SluiceConnection:
    """Sync and async clients for one Sluice, sharing one availability state."""

    def __init__(
        self,
        url: str | None = None,
        *,
        timeout: float = 0.5,
        on_unavailable: OnUnavailable = "open",
        retry_interval: float = 1.0,
        ssl_ca_certs: str | None = None,
        ssl_certfile: str | None = None,
        ssl_keyfile: str | None = None,
        ssl_check_hostname: bool | None = None,
    ) -> None:
        """
        url: `redis://[user:password@]host[:port][/db]` or `rediss://...?ssl_ca_certs=...` (default:
            $SLUICE_URL, else redis://127.0.0.1:6380).
        ssl_ca_certs: the CA certificate (PEM) that signed Sluice's tls-cert-file, when the system
            does not trust it (self-signed, a private CA). ssl_certfile / ssl_keyfile: this client's
            certificate and key, when Sluice requires them (tls-ca-cert-file). ssl_check_hostname:
            False skips the host name check (default True). Also from the URL's query or
            SLUICE_SSL_* (tls.py).
        """
        if on_unavailable not in ON_UNAVAILABLE_CHOICES:
            raise ValueError(f"on_unavailable must be one of {', '.join(ON_UNAVAILABLE_CHOICES)}, not {on_unavailable!r}")
        if timeout <= 0:
            raise ValueError("timeout must be > 0 seconds")
        self.address = parse_url(url or os.environ.get("SLUICE_URL") or DEFAULT_URL)
        self.tls_settings = tls_settings(
            self.address.tls,
            self.address.query,
            {
                "ssl_ca_certs": ssl_ca_certs,
                "ssl_certfile": ssl_certfile,
                "ssl_keyfile": ssl_keyfile,
                "ssl_check_hostname": ssl_check_hostname,
            },
        )
        self.timeout = timeout
        self.on_unavailable: OnUnavailable = on_unavailable
        self.retry_interval = retry_interval
        self._available = True
        self._retry_at = 0.0
        self._state_lock = threading.Lock()
        self._sync_client: redis.Redis | None = None
        # redis.asyncio clients belong to the event loop that first used them.
        self._async_clients: weakref.WeakKeyDictionary[asyncio.AbstractEventLoop, redis.asyncio.Redis] = (
            weakref.WeakKeyDictionary()
        )

    # -- availability ----------------------------------------------------------------------------

    @property
    def available(self) -> bool:
        return self._available

    def _check_not_resting(self) -> None:
        if not self._available and time.monotonic() < self._retry_at:
            raise SluiceUnavailable(f"Sluice at {self.address} is unavailable")

    def _mark_down(self, error: BaseException) -> None:
        with self._state_lock:
            self._retry_at = time.monotonic() + self.retry_interval
            if self._available:
                self._available = False
                hint = explain(error, self.address.tls, self.tls_settings)
                log.warning(
                    "Sluice at %s is unavailable (%s: %s)%s; on_unavailable=%s until it answers again",
                    self.address,
                    type(error).__name__,
                    error,
                    f": {hint}" if hint else "",
                    self.on_unavailable,
                )

    def _mark_up(self) -> None:
        if self._available:
            return
        with self._state_lock:
            if not self._available:
                self._available = True
                log.warning("Sluice at %s is available again", self.address)

    # -- calls -----------------------------------------------------------------------------------

    def _client_options(self) -> dict[str, Any]:
        a = self.address
        return {
            "host": a.host,
            "port": a.port,
            "username": a.username,
            "password": a.password,
            "ssl": a.tls,
            "db": a.db,
            "socket_timeout": self.timeout,
            "socket_connect_timeout": self.timeout,
            "decode_responses": True,
            **self.tls_settings,
        }

    def _unavailable(self, error: BaseException) -> SluiceUnavailable:
        """Marks Sluice down and says why, with what to do when the cause is a TLS setting."""
        self._mark_down(error)
        hint = explain(error, self.address.tls, self.tls_settings)
        return SluiceUnavailable(f"Sluice at {self.address}: {error}" + (f": {hint}" if hint else ""))

    def call(self, *args: Any) -> Any:
        """One command, synchronously."""
        self._check_not_resting()
        if self._sync_client is None:
            self._sync_client = redis.Redis(**self._client_options(), retry=SyncRetry(NoBackoff(), 0))
        try:
            reply = self._sync_client.execute_command(*args)
        except (redis.exceptions.ConnectionError, redis.exceptions.TimeoutError, OSError) as error:
            raise self._unavailable(error) from error
        self._mark_up()
        return reply

    def pipeline_call(self, commands: list[tuple[Any, ...]]) -> list[Any]:
        """Several commands in one round trip; a reply error is returned in place, not raised."""
        self._check_not_resting()
        if self._sync_client is None:
            self._sync_client = redis.Redis(**self._client_options(), retry=SyncRetry(NoBackoff(), 0))
        try:
            pipe = self._sync_client.pipeline(transaction=False)
            for command in commands:
                pipe.execute_command(*command)
            replies = pipe.execute(raise_on_error=False)
        except (redis.exceptions.ConnectionError, redis.exceptions.TimeoutError, OSError) as error:
            raise self._unavailable(error) from error
        self._mark_up()
        return list(replies)

    async def acall(self, *args: Any) -> Any:
        """One command on the running event loop."""
        self._check_not_resting()
        loop = asyncio.get_running_loop()
        client = self._async_clients.get(loop)
        if client is None:
            client = redis.asyncio.Redis(**self._client_options(), retry=AsyncRetry(NoBackoff(), 0))
            share_ssl_context(client.connection_pool)
            self._async_clients[loop] = client
        try:
            reply = await asyncio.wait_for(client.execute_command(*args), self.timeout)
        except (redis.exceptions.ConnectionError, redis.exceptions.TimeoutError, OSError, asyncio.TimeoutError) as error:
            # str(): redis-py's asyncio errors show only their class in repr().
            raise self._unavailable(error if str(error) else asyncio.TimeoutError(f"no answer within {self.timeout} s")) from error
        self._mark_up()
        return reply

    def close(self) -> None:
        if self._sync_client is not None:
            self._sync_client.close()
            self._sync_client = None


def share_ssl_context(pool: redis.asyncio.ConnectionPool) -> None:
    """All TLS connections of `pool` use one SSL context.

    redis-py's asyncio SSLConnection builds its own context for every connection it opens, and
    building one loads the system's CA store (about 30 ms on a 2-core test machine); a burst of
    concurrent first calls opens a connection each, so 20 of them took 740 ms there, over the
    default 0.5 s timeout. The context holds only the settings, which are the same for the pool.
    """
    base = pool.connection_class
    if not issubclass(base, redis.asyncio.SSLConnection):
        return
    shared: list[Any] = []

    class SharedContextSSLConnection(base):  # type: ignore[misc,valid-type]
        def __init__(self, **kwargs: Any) -> None:
            super().__init__(**kwargs)
            if hasattr(self, "ssl_context"):
                if not shared:
                    shared.append(self.ssl_context)
                self.ssl_context = shared[0]

    pool.connection_class = SharedContextSSLConnection


def reply_map(reply: Any) -> dict[str, Any]:
    """A RESP3 map or a RESP2 flat field/value array as a dict."""
    if isinstance(reply, dict):
        return {str(key): value for key, value in reply.items()}
    if isinstance(reply, (list, tuple)) and len(reply) % 2 == 0:
        return {str(reply[i]): reply[i + 1] for i in range(0, len(reply), 2)}
    raise ValueError(f"expected a map reply, got {reply!r}")
