"""Connecting to ZooKeeper: settings, host-string parsing and a started kazoo client."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Literal

from kazoo.client import KazooClient
from kazoo.exceptions import KazooException
from kazoo.handlers.threading import KazooTimeoutError

AuthScheme = Literal["none", "digest", "sasl"]


class ZkConnectionError(Exception):
    """The ZooKeeper connection could not be established (message names the hosts)."""


@dataclass(frozen=True)
class ZkConnectionSettings:
    """How to reach and authenticate to ZooKeeper.

    `hosts` is `host:port[,host:port...][/chroot]`, optionally prefixed with `zk://`.
    `tls_*` are PEM file paths; TLS is on when `tls_ca` or `tls_cert` is given.
    """

    hosts: str
    auth: AuthScheme = "none"
    username: str | None = None
    password: str | None = None
    tls_ca: str | None = None
    tls_cert: str | None = None
    tls_key: str | None = None
    timeout: float = 30.0

    @property
    def use_tls(self) -> bool:
        return bool(self.tls_ca or self.tls_cert)


def normalize_hosts(hosts: str) -> str:
    """Strip an optional `zk://` prefix; kazoo understands `h:p,h:p/chroot` itself."""
    hosts = hosts.strip()
    if hosts.startswith("zk://"):
        hosts = hosts[len("zk://") :]
    if not hosts or hosts.startswith("/"):
        raise ZkConnectionError(
            f"ZooKeeper hosts {hosts!r}: expected host:port[,host:port][/chroot]"
        )
    return hosts


def _auth_arguments(settings: ZkConnectionSettings) -> dict:
    if settings.auth == "none":
        return {}
    if not settings.username or settings.password is None:
        raise ZkConnectionError(f"auth {settings.auth!r} needs both a username and a password")
    if settings.auth == "digest":
        return {"auth_data": [("digest", f"{settings.username}:{settings.password}")]}
    if settings.auth == "sasl":
        return {
            "sasl_options": {
                "mechanism": "DIGEST-MD5",
                "username": settings.username,
                "password": settings.password,
            }
        }
    raise ZkConnectionError(f"auth {settings.auth!r}: expected none, digest or sasl")


def _tls_arguments(settings: ZkConnectionSettings) -> dict:
    if not settings.use_tls:
        return {}
    return {
        "use_ssl": True,
        "ca": settings.tls_ca,
        "certfile": settings.tls_cert,
        "keyfile": settings.tls_key,
        "verify_certs": settings.tls_ca is not None,
    }


def make_client(settings: ZkConnectionSettings) -> KazooClient:
    """A configured, not yet started kazoo client."""
    return KazooClient(
        hosts=normalize_hosts(settings.hosts),
        timeout=settings.timeout,
        connection_retry={"max_tries": -1, "delay": 0.2, "max_delay": 2.0},
        **_auth_arguments(settings),
        **_tls_arguments(settings),
    )


def connect(settings: ZkConnectionSettings) -> KazooClient:
    """Start a kazoo client (auth added at connect, so it is re-sent on every reconnect).

    Raises ZkConnectionError with the hosts in the message when the server is unreachable
    or rejects the credentials.
    """
    client = make_client(settings)
    try:
        client.start(timeout=settings.timeout)
    except (KazooTimeoutError, KazooException, OSError) as exc:
        client.stop()
        client.close()
        reason = str(exc) or type(exc).__name__
        raise ZkConnectionError(
            f"cannot connect to ZooKeeper at {settings.hosts}: {reason}"
        ) from exc
    return client


def disconnect(client: KazooClient) -> None:
    """Stop and close a client, ignoring errors of an already broken connection."""
    try:
        client.stop()
    finally:
        client.close()
