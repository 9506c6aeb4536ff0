"""TLS to Sluice (`rediss://`): where the settings come from, what is checked before any call, and
what a failed handshake means.

A setting has redis-py's name and meaning (`ssl_ca_certs`, `ssl_certfile`, `ssl_keyfile`,
`ssl_check_hostname`, ... as `redis.SSLConnection` takes them) and comes from, first to last:
- an argument of SluiceConnection, SluiceRouting or SluiceLimiter;
- the URL's query, parsed by redis-py's own `parse_url` (what `redis.from_url` does):
  `rediss://sluice:6390/?ssl_ca_certs=/etc/sluice/ca.pem`;
- the environment, `SLUICE_` and the name in capitals (`SLUICE_SSL_CA_CERTS`), parsed the same way.
An argument and the URL that disagree on a setting is an error (give it once). The defaults are
redis-py's: the system's CA certificates, the server's certificate required, and its host name
checked (`ssl_check_hostname` is passed as True unless given, also to a redis-py 5, whose default
was False). Files are read once when the connection is made, so a missing CA file or a key that
does not match its certificate is an error at start-up, not a Sluice that seems unavailable.
"""

from __future__ import annotations

import os
import ssl
from collections.abc import Mapping
from typing import Any
from urllib.parse import parse_qs, urlencode

import redis.connection

# The TLS settings of redis-py's SSLConnection that its sync and asyncio clients both take.
TLS_SETTINGS: tuple[str, ...] = (
    "ssl_ca_certs",
    "ssl_ca_path",
    "ssl_ca_data",
    "ssl_certfile",
    "ssl_keyfile",
    "ssl_password",
    "ssl_cert_reqs",
    "ssl_check_hostname",
    "ssl_min_version",
    "ssl_ciphers",
    "ssl_include_verify_flags",
    "ssl_exclude_verify_flags",
)
# Besides them the URL's query may carry `db`, as for redis-py (it wins over the path).
QUERY_SETTINGS: tuple[str, ...] = ("db", *TLS_SETTINGS)
CERT_REQS = ("none", "optional", "required")


def environment_name(setting: str) -> str:
    return f"SLUICE_{setting.upper()}"


def query_settings(url: str, query: str) -> dict[str, Any]:
    """The settings in a URL's query, typed as redis-py types them; other names are refused."""
    given = parse_qs(query)
    unknown = [name for name in given if name not in QUERY_SETTINGS]
    if unknown:
        raise ValueError(
            f"a Sluice URL's query takes db and the TLS settings ({', '.join(TLS_SETTINGS)}), not {', '.join(map(repr, unknown))}"
            " (the per-call timeout is the timeout argument or SLUICE_TIMEOUT)"
        )
    if not given:
        return {}
    try:
        parsed = redis.connection.parse_url(url)
    except ValueError as error:
        raise ValueError(f"not a Sluice URL: {error}") from None
    return {name: parsed[name] for name in given if name in parsed}


def _from_environment(setting: str, environ: Mapping[str, str]) -> Any:
    """`SLUICE_SSL_...`, parsed as the same setting in a URL's query would be."""
    value = environ.get(environment_name(setting))
    if not value:
        return None
    try:
        return redis.connection.parse_url("rediss://sluice/?" + urlencode({setting: value})).get(setting)
    except ValueError as error:
        raise ValueError(f"{environment_name(setting)}={value!r}: {error}") from None


def tls_settings(
    tls: bool,
    from_url: Mapping[str, Any],
    arguments: Mapping[str, Any],
    environ: Mapping[str, str] = os.environ,
) -> dict[str, Any]:
    """The TLS settings a client is built with, checked; {} for a plain `redis://` connection."""
    settings: dict[str, Any] = {}
    for name in TLS_SETTINGS:
        argument, in_url = arguments.get(name), from_url.get(name)
        if argument is not None and in_url is not None and argument != in_url:
            raise ValueError(f"{name} is given twice, as an argument ({argument!r}) and in the URL ({in_url!r}): give it once")
        value = argument if argument is not None else in_url
        if value is None and tls:
            value = _from_environment(name, environ)
        if value is not None:
            settings[name] = value
    if not tls:
        if settings:
            raise ValueError(
                f"{', '.join(settings)} apply to TLS: the URL must start with rediss:// and name Sluice's tls-port"
            )
        return {}
    settings.setdefault("ssl_check_hostname", True)
    _check(settings)
    return settings


def _check(settings: Mapping[str, Any]) -> None:
    """Refuses now what redis-py would refuse (or fail on) at the first connection."""
    reqs = settings.get("ssl_cert_reqs")
    if isinstance(reqs, str) and reqs not in CERT_REQS:
        raise ValueError(f"ssl_cert_reqs must be one of {', '.join(CERT_REQS)}, not {reqs!r}")
    if reqs in ("none", ssl.CERT_NONE) and settings.get("ssl_check_hostname"):
        raise ValueError("ssl_cert_reqs=none turns certificate checks off; give ssl_check_hostname=false with it (as redis-py needs)")
    if settings.get("ssl_keyfile") and not settings.get("ssl_certfile"):
        raise ValueError("ssl_keyfile is given without ssl_certfile: give the client certificate too")
    for name, what in (
        ("ssl_ca_certs", "the CA certificate (PEM) that signed Sluice's tls-cert-file"),
        ("ssl_certfile", "this client's certificate (PEM), signed by the CA of Sluice's tls-ca-cert-file"),
        ("ssl_keyfile", "the private key (PEM) of ssl_certfile"),
    ):
        path = settings.get(name)
        if path is not None and not (os.path.isfile(path) and os.access(path, os.R_OK)):
            reason = "no such file" if not os.path.exists(path) else "not a readable file"
            raise ValueError(f"{name} {path}: {reason}; give {what}")
    ca_path = settings.get("ssl_ca_path")
    if ca_path is not None and not os.path.isdir(ca_path):
        raise ValueError(f"ssl_ca_path {ca_path}: not a directory; give a directory of CA certificates (PEM, c_rehash'ed)")
    # Load the files as the handshake will, so a bad PEM or a key that does not match shows now.
    context = ssl.create_default_context()
    if settings.get("ssl_ca_certs") or ca_path or settings.get("ssl_ca_data"):
        try:
            context.load_verify_locations(
                cafile=settings.get("ssl_ca_certs"), capath=ca_path, cadata=settings.get("ssl_ca_data")
            )
        except (ssl.SSLError, ValueError) as error:
            raise ValueError(f"cannot load the CA certificates given ({error}); give PEM certificates") from None
    if settings.get("ssl_certfile"):
        try:
            context.load_cert_chain(settings["ssl_certfile"], settings.get("ssl_keyfile"), settings.get("ssl_password"))
        except ssl.SSLError as error:
            raise ValueError(
                f"cannot load the client certificate {settings['ssl_certfile']} with its key ({error});"
                " give ssl_certfile and the ssl_keyfile that belongs to it (PEM; ssl_password for an encrypted key)"
            ) from None


def explain(error: BaseException, tls: bool, settings: Mapping[str, Any]) -> str | None:
    """What a failed connection most likely means and what to do, for the TLS mistakes one makes."""
    text = str(error)
    if not tls:
        if "Connection closed by server" in text or "reset by peer" in text:
            return "if this port is Sluice's tls-port, the URL must start with rediss://"
        return None
    if "CERTIFICATE_VERIFY_FAILED" in text and "mismatch" in text:
        return (
            "Sluice's certificate does not name the host in the URL: connect with a name or address its"
            " subjectAltName lists, or add this one to the certificate (?ssl_check_hostname=false turns the check off)"
        )
    if "CERTIFICATE_VERIFY_FAILED" in text:
        if settings.get("ssl_ca_certs") or settings.get("ssl_ca_path") or settings.get("ssl_ca_data"):
            return (
                "Sluice's certificate is not signed by the CA given (ssl_ca_certs): give the CA that signed"
                " Sluice's tls-cert-file"
            )
        return (
            "Sluice's certificate is not signed by a CA this system trusts: name the CA that signed Sluice's"
            " tls-cert-file with ssl_ca_certs=/path/ca.pem (an argument, ?ssl_ca_certs= in the URL, or SLUICE_SSL_CA_CERTS)"
        )
    if "WRONG_VERSION_NUMBER" in text or "record layer failure" in text or "packet length too long" in text:
        return "this port does not answer with TLS: it may be Sluice's plain port; use redis:// for it, or rediss:// with its tls-port"
    if "CERTIFICATE_REQUIRED" in text:
        return (
            "Sluice requires a client certificate (its tls-ca-cert-file is set): give ssl_certfile and ssl_keyfile,"
            " a certificate signed by that CA"
        )
    if settings.get("ssl_certfile") and ("Connection closed by server" in text or "reset by peer" in text or "UNKNOWN_CA" in text):
        return "if Sluice requires client certificates, ssl_certfile must be signed by the CA in its tls-ca-cert-file"
    return None
