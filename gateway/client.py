"""What the gateway saw of the client (IP, User-Agent, edge country), and the metadata every upstream call carries.

The client IP is the socket peer unless the gateway is told how many proxies in front of it append to
X-Forwarded-For; then it is the address the outermost trusted proxy saw (the first hop we can vouch for). Entries
further left were written by the client and could say anything.
"""

from __future__ import annotations

import ipaddress

from fastapi import Request

from libs.platform.auth import Claims
from libs.platform.grpc_errors import (
    AUTHORIZATION_HEADER,
    CLIENT_IP_HEADER,
    COUNTRY_HEADER,
    USER_AGENT_HEADER,
)
from libs.platform.logging import REQUEST_ID_HEADER, request_id_var

MAX_USER_AGENT = 512


def _valid_ip(value: str) -> str | None:
    try:
        return str(ipaddress.ip_address(value.strip()))
    except ValueError:
        return None


def client_ip(request: Request, trusted_proxy_count: int) -> str:
    peer = request.client.host if request.client else ""
    if trusted_proxy_count <= 0:
        return peer
    hops = [h for h in request.headers.get("x-forwarded-for", "").split(",") if h.strip()]
    if len(hops) < trusted_proxy_count:
        return peer  # not through the proxies we were told about: only the socket is known
    return _valid_ip(hops[-trusted_proxy_count]) or peer


def client_country(request: Request) -> str:
    country = request.headers.get("cloudfront-viewer-country", "").strip().upper()
    return country if len(country) == 2 and country.isalpha() else ""


def user_agent(request: Request) -> str:
    return request.headers.get("user-agent", "")[:MAX_USER_AGENT]


def client_context(request: Request):
    """The ClientContext message identity takes on sign-in RPCs."""
    from dynasty.identity.v1 import identity_service_pb2 as pb

    return pb.ClientContext(
        ip=client_ip(request, request.app.state.settings.trusted_proxy_count),
        user_agent=user_agent(request),
        country=client_country(request),
    )


def call_metadata(request: Request, claims: Claims | None = None) -> tuple[tuple[str, str], ...]:
    """Request id and client facts always; the caller's verified access token when the route has one."""
    md = [
        (REQUEST_ID_HEADER, request_id_var.get()),
        (CLIENT_IP_HEADER, client_ip(request, request.app.state.settings.trusted_proxy_count)),
        (USER_AGENT_HEADER, "".join(c for c in user_agent(request) if " " <= c <= "~")),  # metadata is ASCII
    ]
    country = client_country(request)
    if country:
        md.append((COUNTRY_HEADER, country))
    if claims is not None:
        md.append((AUTHORIZATION_HEADER, f"Bearer {claims.token}"))
    return tuple(md)
