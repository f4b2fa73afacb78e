"""Which client IP, User-Agent and country the gateway believes and passes on."""

from __future__ import annotations

from types import SimpleNamespace

import pytest
from starlette.requests import Request

from gateway.client import client_country, client_ip


def request(headers: dict[str, str], peer: str = "198.51.100.7") -> Request:
    scope = {
        "type": "http",
        "method": "GET",
        "path": "/",
        "headers": [(k.lower().encode(), v.encode()) for k, v in headers.items()],
        "client": (peer, 5000),
        "app": SimpleNamespace(),
    }
    return Request(scope)


def test_without_trusted_proxies_forwarded_for_is_ignored():
    assert client_ip(request({"X-Forwarded-For": "6.6.6.6"}), 0) == "198.51.100.7"


@pytest.mark.parametrize(
    ("forwarded", "proxies", "expected"),
    [
        ("203.0.113.5", 1, "203.0.113.5"),
        ("6.6.6.6, 203.0.113.5", 1, "203.0.113.5"),  # the client prepended a lie; the proxy appended the truth
        ("6.6.6.6, 203.0.113.5, 130.176.0.1", 2, "203.0.113.5"),  # CloudFront then the ALB
        ("2001:db8::1", 1, "2001:db8::1"),
        ("not-an-ip", 1, "198.51.100.7"),
        ("", 1, "198.51.100.7"),
        ("203.0.113.5", 2, "198.51.100.7"),  # fewer hops than proxies: it did not come through them
    ],
)
def test_with_trusted_proxies_the_outermost_proxys_view_counts(forwarded, proxies, expected):
    headers = {"X-Forwarded-For": forwarded} if forwarded else {}
    assert client_ip(request(headers), proxies) == expected


@pytest.mark.parametrize(("header", "expected"), [("US", "US"), ("cz", "CZ"), ("XXX", ""), ("1A", ""), ("", "")])
def test_the_country_comes_from_cloudfront_when_well_formed(header, expected):
    assert client_country(request({"CloudFront-Viewer-Country": header} if header else {})) == expected
