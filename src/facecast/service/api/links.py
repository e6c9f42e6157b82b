"""The base URL signed links are built on, never taken from an unchecked ``Host`` header.

A link carrying a signature must point at this server: otherwise anyone who can make a request
with ``Host: evil.example`` gets a working signature handed to their own host. So the base is
``FACECAST_PUBLIC_URL`` when set; else the request's own base when its host is trusted (loopback
names, the address the connection arrived at, or ``FACECAST_ALLOWED_HOSTS``); else the address
the connection really arrived at.
"""

from __future__ import annotations

from fastapi import Request

from facecast.service.settings import Settings

#: Host names that always mean this machine.
LOOPBACK_HOSTS = ("localhost", "127.0.0.1", "::1")


def host_matches(host: str, patterns: list[str]) -> bool:
    """Whether ``host`` (no port) is one of ``patterns`` (``*.example.com`` covers sub-domains)."""
    host = host.lower().strip("[]")
    for pattern in patterns:
        pattern = pattern.lower().strip("[]")
        if pattern == "*" or host == pattern:
            return True
        if pattern.startswith("*.") and host.endswith(pattern[1:]):
            return True
    return False


def _hostname(host_header: str) -> str:
    if host_header.startswith("["):  # [::1]:8000
        return host_header[1 : host_header.find("]")] if "]" in host_header else host_header
    return host_header.rsplit(":", 1)[0] if host_header.count(":") == 1 else host_header


def public_base_url(request: Request, settings: Settings) -> str:
    """Where clients reach this server, for links that carry a signature (no trailing slash)."""
    if settings.public_url:
        return settings.public_url.rstrip("/")
    server = request.scope.get("server")  # (address, port) of the socket the request came in on
    trusted = [*LOOPBACK_HOSTS, *settings.allowed_host_list]
    if server:
        trusted.append(str(server[0]))
    if host_matches(_hostname(request.headers.get("host", "")), trusted):
        return str(request.base_url).rstrip("/")
    if server:
        address, port = str(server[0]), int(server[1])
        shown = f"[{address}]" if ":" in address else address
        return f"{request.url.scheme}://{shown}:{port}"
    return str(request.base_url).rstrip("/")
