"""Country of a sign-in: the edge's header (CloudFront-Viewer-Country, forwarded by the gateway) when present,
else the shipped IPv4 table built from the regional internet registries' delegation files (ipv4_country.csv.gz:
first,last,country as integers, sorted, non-overlapping). IPv6 and unlisted addresses give None."""

from __future__ import annotations

import bisect
import gzip
import ipaddress
import re
from importlib import resources

_COUNTRY = re.compile(r"^[A-Z]{2}$")


class CidrTableGeolocator:
    def __init__(self) -> None:
        raw = resources.files("services.identity.adapters.geo").joinpath("ipv4_country.csv.gz").read_bytes()
        starts, ends, countries = [], [], []
        for line in gzip.decompress(raw).decode("ascii").splitlines():
            if not line or line.startswith("#"):
                continue
            first, last, country = line.split(",")
            starts.append(int(first))
            ends.append(int(last))
            countries.append(country)
        self._starts, self._ends, self._countries = starts, ends, countries

    def country(self, ip: str | None, edge_country: str | None) -> str | None:
        header = (edge_country or "").strip().upper()
        if _COUNTRY.fullmatch(header):
            return header
        if not ip:
            return None
        try:
            address = ipaddress.ip_address(ip)
        except ValueError:
            return None
        if address.version != 4:
            return None
        value = int(address)
        index = bisect.bisect_right(self._starts, value) - 1
        if index >= 0 and value <= self._ends[index]:
            return self._countries[index]
        return None
