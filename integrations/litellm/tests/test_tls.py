"""The plugin and the limiter over TLS (`rediss://`) to the daemon's own TLS listener (daemon/src/tls.ts).

The daemon is started with `--tls-port` and a server certificate for `localhost` signed by a test
CA made here with openssl (tests/certificates.py). What is checked: the CA named as an argument,
in the URL's query (redis-py's `ssl_ca_certs`) or in SLUICE_SSL_CA_CERTS; picks and limits over
TLS; the host name checked by default; a client certificate when Sluice requires one; and each
mistake (wrong CA, no CA, plain URL to the TLS port, TLS to the plain port, a name the
certificate does not give, no client certificate) failing with what to do, while on_unavailable
decides what the request gets.
"""

from __future__ import annotations

import asyncio
import logging
from collections.abc import Iterator
from urllib.parse import quote

import litellm
import pytest
from litellm import Router

from sluice_litellm import SluiceConnection, SluiceLimiter, SluiceRouting, SluiceUnavailable, parse_url
from sluice_litellm.connection import reply_map

from .certificates import Certificates
from .conftest import deployment, start_daemon
from .daemon import Daemon
from .test_limiter import admitted, key, unique

MESSAGES = [{"role": "user", "content": "Say hello"}]


@pytest.fixture(scope="module")
def tls_daemon(certificates: Certificates) -> Iterator[Daemon]:
    started = start_daemon(tls=certificates)
    yield started
    started.stop()


@pytest.fixture(scope="module")
def mutual_tls_daemon(certificates: Certificates) -> Iterator[Daemon]:
    """A daemon with tls-ca-cert-file: TLS clients must show a certificate signed by the test CA."""
    started = start_daemon(tls=certificates, client_certificates=True)
    yield started
    started.stop()


def with_query(url: str, **settings: object) -> str:
    return url + "/?" + "&".join(f"{name}={quote(str(value))}" for name, value in settings.items())


def unavailable_reason(connection: SluiceConnection) -> str:
    with pytest.raises(SluiceUnavailable) as failed:
        connection.call("PING")
    assert not connection.available
    return str(failed.value)


# -- the CA, from each place it can be named -----------------------------------------------------------


def test_the_ca_as_an_argument_in_the_url_or_in_the_environment(
    tls_daemon: Daemon, certificates: Certificates, monkeypatch: pytest.MonkeyPatch
) -> None:
    ca = str(certificates.ca)
    as_argument = SluiceConnection(tls_daemon.tls_url, ssl_ca_certs=ca)
    in_url = SluiceConnection(with_query(tls_daemon.tls_url, ssl_ca_certs=ca))
    monkeypatch.setenv("SLUICE_SSL_CA_CERTS", ca)
    from_environment = SluiceConnection(tls_daemon.tls_url)
    for connection in (as_argument, in_url, from_environment):
        assert connection.call("PING") in ("PONG", True)
        assert asyncio.run(connection.acall("PING")) in ("PONG", True)
        # The connection Sluice sees arrived on its TLS port.
        assert f"laddr=127.0.0.1:{tls_daemon.tls_port}" in connection.call("CLIENT", "INFO")
        connection.close()


async def test_the_routing_plugin_picks_over_rediss(tls_daemon: Daemon, certificates: Certificates) -> None:
    router = Router(model_list=[deployment("tls-a", "tls"), deployment("tls-b", "tls")])
    # timeout=5: the 20 concurrent first picks open 20 TLS connections (20 handshakes); this test is
    # about TLS, not about how fast a busy CI machine makes them.
    plugin = SluiceRouting(url=with_query(tls_daemon.tls_url, ssl_ca_certs=certificates.ca), on_unavailable="closed", timeout=5)
    router.register_plugin(plugin)
    responses = await asyncio.gather(*(router.acompletion(model="tls", messages=MESSAGES) for _ in range(20)))
    assert {response._hidden_params["model_id"] for response in responses} <= {"tls-a", "tls-b"}
    sync_response = router.completion(model="tls", messages=MESSAGES)
    assert sync_response._hidden_params["model_id"] in ("tls-a", "tls-b")
    # on_unavailable="closed": a pick Sluice did not make would have raised. Over TLS the plugin
    # registered the group and settled every lease with its latency (the plain port shows it).
    plain = SluiceConnection(tls_daemon.url)
    for _ in range(100):
        rows = [reply_map(row) for row in plain.call("ROUTE.LIST", "tls")]
        if plugin.open_leases == 0 and all(int(row["in_flight"]) == 0 for row in rows):
            break
        await asyncio.sleep(0.05)
    assert {str(row["id"]) for row in rows} == {"tls-a", "tls-b"}
    assert all(int(row["in_flight"]) == 0 for row in rows) and plugin.open_leases == 0
    assert any(row["latency_ms"] is not None for row in rows)
    assert plugin.connection.available


async def test_the_proxy_limiter_over_rediss_from_its_environment(
    tls_daemon: Daemon, certificates: Certificates, monkeypatch: pytest.MonkeyPatch
) -> None:
    # As a proxy runs it: `sluice_litellm.proxy_limiter` reads SLUICE_* when first used.
    monkeypatch.setenv("SLUICE_URL", tls_daemon.tls_url)
    monkeypatch.setenv("SLUICE_SSL_CA_CERTS", str(certificates.ca))
    monkeypatch.setenv("SLUICE_ON_UNAVAILABLE", "closed")
    limiter = SluiceLimiter()
    auth = key(api_key=unique("tls"), rpm_limit=3)
    assert [await admitted(limiter, auth) for _ in range(5)] == [True, True, True, False, False]
    assert limiter.connection.address.tls and limiter.connection.available


def test_concurrent_first_calls_build_one_ssl_context(
    tls_daemon: Daemon, certificates: Certificates, monkeypatch: pytest.MonkeyPatch
) -> None:
    # redis-py's asyncio client builds a context (loading the system's CA store) per connection;
    # the connection shares one across its pool (share_ssl_context).
    import ssl

    connection = SluiceConnection(tls_daemon.tls_url, ssl_ca_certs=str(certificates.ca), timeout=10)
    built: list[ssl.SSLContext] = []
    create = ssl.create_default_context

    def counted(*args: object, **kwargs: object) -> ssl.SSLContext:
        built.append(create(*args, **kwargs))  # type: ignore[arg-type]
        return built[-1]

    monkeypatch.setattr(ssl, "create_default_context", counted)

    async def burst() -> list[object]:
        return list(await asyncio.gather(*(connection.acall("CLIENT", "ID") for _ in range(10))))

    ids = asyncio.run(burst())
    assert len(set(ids)) > 1, "the burst opened several connections"
    assert len(built) == 1


# -- mistakes, each with what to do ------------------------------------------------------------------


def test_a_wrong_ca_says_to_name_the_right_one(tls_daemon: Daemon, certificates: Certificates) -> None:
    reason = unavailable_reason(SluiceConnection(tls_daemon.tls_url, ssl_ca_certs=str(certificates.other_ca)))
    assert "CERTIFICATE_VERIFY_FAILED" in reason
    assert "not signed by the CA given (ssl_ca_certs)" in reason and "tls-cert-file" in reason


def test_no_ca_says_how_to_name_one(tls_daemon: Daemon, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.delenv("SLUICE_SSL_CA_CERTS", raising=False)
    reason = unavailable_reason(SluiceConnection(tls_daemon.tls_url))
    assert "ssl_ca_certs=/path/ca.pem" in reason and "SLUICE_SSL_CA_CERTS" in reason


async def test_a_wrong_ca_applies_on_unavailable_and_is_logged_once(
    tls_daemon: Daemon, certificates: Certificates, caplog: pytest.LogCaptureFixture
) -> None:
    caplog.set_level(logging.WARNING, logger="sluice_litellm")
    wrong = with_query(tls_daemon.tls_url, ssl_ca_certs=certificates.other_ca)
    closed = Router(model_list=[deployment("w-a", "wrong"), deployment("w-b", "wrong")], num_retries=0)
    closed.register_plugin(SluiceRouting(url=wrong, on_unavailable="closed"))
    for _ in range(3):
        with pytest.raises(litellm.ServiceUnavailableError, match="on_unavailable='closed'"):
            await closed.acompletion(model="wrong", messages=MESSAGES)
    opened = Router(model_list=[deployment("w-a", "wrong"), deployment("w-b", "wrong")])
    opened.register_plugin(SluiceRouting(url=wrong, on_unavailable="open"))
    for _ in range(3):
        response = await opened.acompletion(model="wrong", messages=MESSAGES)
        assert response._hidden_params["model_id"] in ("w-a", "w-b")
    warnings = [record.getMessage() for record in caplog.records if "is unavailable" in record.getMessage()]
    assert len(warnings) == 2, warnings  # once per plugin (each has its own connection), not per request
    assert all("not signed by the CA given (ssl_ca_certs)" in message for message in warnings)
    assert "on_unavailable=closed" in warnings[0] and "on_unavailable=open" in warnings[1]
    # Nothing was registered through the failed handshakes.
    assert "wrong" not in SluiceConnection(tls_daemon.url).call("ROUTE.GROUPS")


def test_a_plain_url_to_the_tls_port_says_to_use_rediss(tls_daemon: Daemon) -> None:
    reason = unavailable_reason(SluiceConnection(f"redis://127.0.0.1:{tls_daemon.tls_port}"))
    assert "the URL must start with rediss://" in reason


def test_tls_to_the_plain_port_says_it_is_not_tls(tls_daemon: Daemon, certificates: Certificates) -> None:
    reason = unavailable_reason(SluiceConnection(f"rediss://localhost:{tls_daemon.port}", ssl_ca_certs=str(certificates.ca)))
    assert "does not answer with TLS" in reason and "tls-port" in reason


def test_the_host_name_is_checked_by_default(tls_daemon: Daemon, certificates: Certificates) -> None:
    # The certificate names localhost only: 127.0.0.1 is refused, as redis-py refuses it by default.
    by_address = f"rediss://127.0.0.1:{tls_daemon.tls_port}"
    reason = unavailable_reason(SluiceConnection(by_address, ssl_ca_certs=str(certificates.ca)))
    assert "does not name the host" in reason and "ssl_check_hostname=false" in reason
    unchecked = SluiceConnection(with_query(by_address, ssl_ca_certs=certificates.ca, ssl_check_hostname="false"))
    assert unchecked.call("PING") in ("PONG", True)
    assert SluiceConnection(by_address, ssl_ca_certs=str(certificates.ca), ssl_check_hostname=False).call("PING") in ("PONG", True)


# -- client certificates (Sluice's tls-ca-cert-file) ------------------------------------------------


def test_a_client_certificate_when_sluice_requires_one(mutual_tls_daemon: Daemon, certificates: Certificates) -> None:
    ca = str(certificates.ca)
    reason = unavailable_reason(SluiceConnection(mutual_tls_daemon.tls_url, ssl_ca_certs=ca))
    assert "requires a client certificate" in reason and "ssl_certfile and ssl_keyfile" in reason
    stranger = SluiceConnection(
        mutual_tls_daemon.tls_url, ssl_ca_certs=ca, ssl_certfile=str(certificates.other_ca), ssl_keyfile=str(certificates.other_ca_key)
    )
    assert "must be signed by the CA in its tls-ca-cert-file" in unavailable_reason(stranger)
    as_arguments = SluiceConnection(
        mutual_tls_daemon.tls_url, ssl_ca_certs=ca, ssl_certfile=str(certificates.client_cert), ssl_keyfile=str(certificates.client_key)
    )
    in_url = SluiceConnection(
        with_query(mutual_tls_daemon.tls_url, ssl_ca_certs=ca, ssl_certfile=certificates.client_cert, ssl_keyfile=certificates.client_key)
    )
    for connection in (as_arguments, in_url):
        assert connection.call("PING") in ("PONG", True)
        assert asyncio.run(connection.acall("PING")) in ("PONG", True)


async def test_the_routing_plugin_with_a_client_certificate(mutual_tls_daemon: Daemon, certificates: Certificates) -> None:
    router = Router(model_list=[deployment("m-a", "mtls")])
    router.register_plugin(
        SluiceRouting(
            url=mutual_tls_daemon.tls_url,
            on_unavailable="closed",
            ssl_ca_certs=str(certificates.ca),
            ssl_certfile=str(certificates.client_cert),
            ssl_keyfile=str(certificates.client_key),
        )
    )
    response = await router.acompletion(model="mtls", messages=MESSAGES)
    assert response._hidden_params["model_id"] == "m-a"


# -- settings checked before any call ---------------------------------------------------------------


def test_tls_settings_in_the_url_are_read_as_redis_py_reads_them(certificates: Certificates) -> None:
    address = parse_url(
        f"rediss://app:secret@sluice:6390/1?ssl_ca_certs={quote(str(certificates.ca))}&ssl_check_hostname=no&db=3&ssl_password=pw"
    )
    assert (address.host, address.port, address.db) == ("sluice", 6390, 3)  # query db wins over the path, as in redis-py
    assert address.query == {"ssl_ca_certs": str(certificates.ca), "ssl_check_hostname": False, "ssl_password": "pw"}
    assert "pw" not in repr(address) and "secret" not in str(address) and "ssl_" not in str(address)
    assert parse_url("rediss://sluice:6390/").query == {}


@pytest.mark.parametrize(
    ("url", "arguments", "message"),
    [
        ("redis://sluice/?ssl_ca_certs={ca}", {}, "apply to TLS: the URL must start with rediss://"),
        ("redis://sluice", {"ssl_ca_certs": "{ca}"}, "apply to TLS: the URL must start with rediss://"),
        ("rediss://sluice/?socket_timeout=3", {}, "not 'socket_timeout'"),
        ("rediss://sluice/?ssl_check_hostname=maybe&ssl_ca_certs={ca}", {}, None),
        ("rediss://sluice", {"ssl_ca_certs": "/no/such/ca.pem"}, "ssl_ca_certs /no/such/ca.pem: no such file"),
        ("rediss://sluice/?ssl_ca_certs={ca}", {"ssl_ca_certs": "{other}"}, "ssl_ca_certs is given twice"),
        ("rediss://sluice", {"ssl_keyfile": "{key}"}, "ssl_keyfile is given without ssl_certfile"),
        ("rediss://sluice/?ssl_cert_reqs=none", {}, "give ssl_check_hostname=false with it"),
        ("rediss://sluice/?ssl_cert_reqs=sometimes", {}, "ssl_cert_reqs must be one of none, optional, required"),
        ("rediss://sluice", {"ssl_certfile": "{cert}", "ssl_keyfile": "{other_key}"}, "cannot load the client certificate"),
        ("rediss://sluice", {"ssl_ca_certs": "{key}"}, "cannot load the CA certificates given"),
        ("rediss://sluice/?ssl_ca_path={ca}", {}, "ssl_ca_path .*: not a directory"),
    ],
)
def test_tls_settings_are_checked_when_the_connection_is_made(
    certificates: Certificates, url: str, arguments: dict[str, str], message: str | None
) -> None:
    files = {
        "ca": str(certificates.ca),
        "other": str(certificates.other_ca),
        "cert": str(certificates.client_cert),
        "key": str(certificates.client_key),
        "other_key": str(certificates.other_ca_key),
    }
    url = url.format(**files)
    arguments = {name: value.format(**files) for name, value in arguments.items()}
    if message is None:
        # redis-py's to_bool: anything but 0/F/FALSE/N/NO is True, so "maybe" checks the host name.
        assert SluiceConnection(url, **arguments).tls_settings["ssl_check_hostname"] is True
        return
    with pytest.raises(ValueError, match=message):
        SluiceConnection(url, **arguments)


def test_environment_tls_settings_apply_to_rediss_only(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("SLUICE_SSL_CA_CERTS", "/no/such/ca.pem")
    assert SluiceConnection("redis://sluice").tls_settings == {}
    with pytest.raises(ValueError, match="no such file"):
        SluiceConnection("rediss://sluice")
