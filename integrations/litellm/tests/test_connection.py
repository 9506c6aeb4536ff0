"""Connection settings: the URL, the per-call timeout, unavailability logged once per switch, recovery."""

from __future__ import annotations

import asyncio
import logging
import time

import pytest

from sluice_litellm import SluiceConnection, SluiceUnavailable, parse_url

from .conftest import free_port, start_daemon


def test_parse_url_forms() -> None:
    plain = parse_url("redis://sluice.internal")
    assert (plain.host, plain.port, plain.username, plain.password, plain.tls, plain.db) == (
        "sluice.internal", 6380, None, None, False, 0,
    )
    full = parse_url("rediss://app:p%40ss%3Aword@10.0.0.5:7000/2")
    assert (full.host, full.port, full.username, full.password, full.tls, full.db) == (
        "10.0.0.5", 7000, "app", "p@ss:word", True, 2,
    )
    password_only = parse_url("redis://:secret@localhost:6380")
    assert (password_only.username, password_only.password) == (None, "secret")
    assert "secret" not in str(password_only) and "p@ss" not in str(full)


@pytest.mark.parametrize(
    "url", ["http://localhost:6380", "localhost:6380", "redis://", "redis://host:notaport", "redis://host/abc"]
)
def test_parse_url_refuses(url: str) -> None:
    with pytest.raises(ValueError):
        parse_url(url)


def test_settings_are_checked() -> None:
    with pytest.raises(ValueError, match="on_unavailable"):
        SluiceConnection("redis://localhost", on_unavailable="sometimes")  # type: ignore[arg-type]
    with pytest.raises(ValueError, match="timeout"):
        SluiceConnection("redis://localhost", timeout=0)


def test_url_from_environment(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("SLUICE_URL", "redis://from-env:1234")
    assert SluiceConnection().address.host == "from-env"


def test_reply_errors_are_answers_not_unavailability(daemon) -> None:
    connection = SluiceConnection(daemon.url)
    import redis.exceptions

    with pytest.raises(redis.exceptions.ResponseError):
        connection.call("RL.HIT", "k", "POLICY", "no-such-policy-here")
    assert connection.available
    assert connection.call("PING") in ("PONG", True)


def test_unavailable_logged_once_then_recovers_by_itself(caplog: pytest.LogCaptureFixture) -> None:
    port = free_port()
    connection = SluiceConnection(f"redis://127.0.0.1:{port}", timeout=0.2, retry_interval=0.3)
    caplog.set_level(logging.WARNING, logger="sluice_litellm")
    for _ in range(5):
        with pytest.raises(SluiceUnavailable):
            connection.call("PING")
    # While resting, calls fail at once instead of waiting on the network.
    started = time.monotonic()
    with pytest.raises(SluiceUnavailable):
        connection.call("PING")
    assert time.monotonic() - started < 0.05
    down = [r for r in caplog.records if "unavailable" in r.getMessage()]
    assert len(down) == 1 and not connection.available

    daemon = start_daemon(port=port)
    try:
        time.sleep(0.35)
        assert connection.call("PING") in ("PONG", True)
        assert connection.call("PING") in ("PONG", True)
        assert connection.available
        up = [r for r in caplog.records if "available again" in r.getMessage()]
        assert len(up) == 1
    finally:
        daemon.stop()


def test_async_calls_share_the_state(daemon) -> None:
    connection = SluiceConnection(daemon.url)

    async def run() -> list[object]:
        return list(await asyncio.gather(*(connection.acall("PING") for _ in range(20))))

    assert all(reply in ("PONG", True) for reply in asyncio.run(run()))


def test_async_timeout_marks_unavailable() -> None:
    # A listener that accepts and never answers: the per-call timeout decides.
    import socket

    listener = socket.socket()
    listener.bind(("127.0.0.1", 0))
    listener.listen(8)
    port = listener.getsockname()[1]
    try:
        connection = SluiceConnection(f"redis://127.0.0.1:{port}", timeout=0.2)
        started = time.monotonic()
        with pytest.raises(SluiceUnavailable):
            asyncio.run(connection.acall("PING"))
        assert 0.15 < time.monotonic() - started < 2
        assert not connection.available
    finally:
        listener.close()
