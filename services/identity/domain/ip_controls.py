"""IP controls: staff allow-lists (CIDR ranges) and the country block-list, as pure checks."""

from __future__ import annotations

import ipaddress
from collections.abc import Iterable

from libs.domain.errors import InvalidArgument

MAX_ALLOW_LIST_ENTRIES = 50


def parse_cidrs(raw: Iterable[str]) -> list[str]:
    """Normalised, de-duplicated networks ("203.0.113.7/24" becomes "203.0.113.0/24"), or InvalidArgument."""
    networks: list[str] = []
    for index, text in enumerate(raw):
        try:
            network = ipaddress.ip_network((text or "").strip(), strict=False)
        except ValueError:
            raise InvalidArgument(f"{text!r} is not a CIDR range", field=f"cidrs[{index}]") from None
        if str(network) not in networks:
            networks.append(str(network))
    if len(networks) > MAX_ALLOW_LIST_ENTRIES:
        raise InvalidArgument(f"at most {MAX_ALLOW_LIST_ENTRIES} ranges", field="cidrs")
    return networks


def ip_allowed(ip: str | None, cidrs: Iterable[str]) -> bool:
    """An empty list allows everything; a non-empty list allows only addresses inside it (no address: refused)."""
    ranges = [ipaddress.ip_network(c) for c in cidrs]
    if not ranges:
        return True
    if not ip:
        return False
    try:
        address = ipaddress.ip_address(ip)
    except ValueError:
        return False
    return any(address in network for network in ranges)


def parse_country_list(raw: str) -> frozenset[str]:
    return frozenset(code.strip().upper() for code in (raw or "").split(",") if code.strip())


def country_blocked(country: str | None, blocked: frozenset[str]) -> bool:
    return bool(country) and country.upper() in blocked
