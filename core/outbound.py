"""Outgoing HTTP to an address a person chose (a PostHog host typed into `/posthog connect`) stays on the public
internet, so that nobody can point this service at its own network: a cloud metadata service, the database, the
service's own ports.

The address is checked when each connection is opened, after DNS: a name that passed a check once and later
resolves to 127.0.0.1 (DNS rebinding) is refused all the same, and so is every hop of a redirect. Operators who
run PostHog on their own network set POSTHOG_ALLOW_PRIVATE_HOSTS.
"""

from __future__ import annotations

import ipaddress
import socket

import aiohttp


class AddressRefused(OSError):
    """A connection to an address that is not on the public internet was refused before it was opened."""


def refusal(address: str) -> str | None:
    """Why this IP address may not be connected to (loopback, private, link-local, multicast, reserved,
    unspecified; IPv4-mapped IPv6 judged as its IPv4 address), or None when it is a public address."""
    ip = ipaddress.ip_address(address.split("%", 1)[0])  # an IPv6 scope ("fe80::1%eth0") is not part of it
    if isinstance(ip, ipaddress.IPv6Address) and ip.ipv4_mapped:
        ip = ip.ipv4_mapped
    if ip.is_global and not ip.is_multicast:
        return None
    return f"{ip} is on a private network"


def _public_socket(addr_info: tuple) -> socket.socket:
    family, kind, proto, _canonical_name, sockaddr = addr_info
    reason = refusal(sockaddr[0])
    if reason:
        raise AddressRefused(reason)
    return socket.socket(family=family, type=kind, proto=proto)


def outbound_connector(*, allow_private: bool) -> aiohttp.TCPConnector:
    """A connector whose every connection is checked by `refusal`, unless private addresses are allowed."""
    return aiohttp.TCPConnector(socket_factory=None if allow_private else _public_socket)


def refused_address(exc: BaseException) -> AddressRefused | None:
    """The refusal behind an aiohttp connection error, if that is what it was."""
    os_error = getattr(exc, "os_error", None)
    return os_error if isinstance(os_error, AddressRefused) else None
