"""Posts a webhook delivery, calling only the addresses the shop may call (docs/webhooks.md).

The endpoint's host is resolved here, every address it resolves to is checked
(shop.domain.webhooks.address_allowed), and the connection is made to the address that was checked —
never resolved a second time — so a name that resolves to a public address for the check and to
127.0.0.1 or 169.254.169.254 for the connection (DNS rebinding) reaches nothing. TLS still checks the
certificate against the host's name. Redirects are not followed: a 3xx is a failed delivery.
"""

from __future__ import annotations

import http.client
import socket
import ssl
from collections.abc import Callable, Mapping
from dataclasses import dataclass
from urllib.parse import urlsplit

from shop.domain.webhooks import address_allowed

Resolver = Callable[[str, int], list[str]]


class DeliveryFailed(Exception):
    """The endpoint could not be reached, or refused to be (its address is not allowed)."""


@dataclass(frozen=True)
class Answer:
    status: int


def resolve(host: str, port: int) -> list[str]:
    return sorted({str(info[4][0]) for info in socket.getaddrinfo(host, port, type=socket.SOCK_STREAM)})


class _PinnedHTTPConnection(http.client.HTTPConnection):
    def __init__(self, host: str, address: str, port: int, timeout: float):
        super().__init__(host, port, timeout=timeout)
        self._address = address

    def connect(self) -> None:
        self.sock = socket.create_connection((self._address, self.port), self.timeout)


class _PinnedHTTPSConnection(http.client.HTTPSConnection):
    def __init__(self, host: str, address: str, port: int, timeout: float, context: ssl.SSLContext):
        super().__init__(host, port, timeout=timeout, context=context)
        self._address, self._tls = address, context

    def connect(self) -> None:
        sock = socket.create_connection((self._address, self.port), self.timeout)
        self.sock = self._tls.wrap_socket(sock, server_hostname=self.host)


class WebhookSender:
    def __init__(self, allowed_hosts: tuple[str, ...] = (), timeout: float = 10.0, resolver: Resolver = resolve,
                 tls: ssl.SSLContext | None = None):
        self._allowed = {host.lower() for host in allowed_hosts}
        self._timeout = timeout
        self._resolve = resolver
        self._tls = tls or ssl.create_default_context()

    def check(self, url: str) -> str:
        """The address to connect to for `url`, if the shop may call it (else DeliveryFailed)."""
        parts = urlsplit(url)
        host = (parts.hostname or "").lower()
        port = parts.port or (443 if parts.scheme == "https" else 80)
        try:
            addresses = self._resolve(host, port)
        except OSError as error:
            raise DeliveryFailed(f"cannot resolve {host}: {error}") from error
        if not addresses:
            raise DeliveryFailed(f"{host} resolves to no address")
        if host not in self._allowed:
            refused = [address for address in addresses if not address_allowed(address)]
            if refused:
                raise DeliveryFailed(f"{host} resolves to {refused[0]}, which is not a public internet address")
        return addresses[0]

    def post(self, url: str, body: bytes, headers: Mapping[str, str]) -> Answer:
        parts = urlsplit(url)
        address = self.check(url)
        host = parts.hostname or ""
        port = parts.port or (443 if parts.scheme == "https" else 80)
        connection: http.client.HTTPConnection = (
            _PinnedHTTPSConnection(host, address, port, self._timeout, self._tls) if parts.scheme == "https"
            else _PinnedHTTPConnection(host, address, port, self._timeout))
        path = (parts.path or "/") + (f"?{parts.query}" if parts.query else "")
        try:
            connection.request("POST", path, body=body, headers={**headers, "Content-Type": "application/json",
                                                                   "User-Agent": "TiendaHibrida-Webhooks/1"})
            response = connection.getresponse()
            response.read(64 * 1024)
            return Answer(response.status)
        except (OSError, http.client.HTTPException) as error:
            raise DeliveryFailed(f"{type(error).__name__}: {error}") from error
        finally:
            connection.close()
