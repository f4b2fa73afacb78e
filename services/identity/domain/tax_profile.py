"""A payee's tax details (W-9 for US persons, W-8BEN for foreign persons). The TIN leaves here only masked."""

from __future__ import annotations

import re
from dataclasses import dataclass
from datetime import datetime
from enum import StrEnum
from uuid import UUID

from libs.domain.errors import InvalidArgument


class TaxForm(StrEnum):
    W9 = "w9"
    W8BEN = "w8ben"


_COUNTRY = re.compile(r"^[A-Z]{2}$")
_FOREIGN_TIN = re.compile(r"^[A-Z0-9./ -]{4,30}$")


@dataclass(frozen=True)
class TaxDetails:
    form: TaxForm
    legal_name: str
    tin: str  # normalised, in the clear: only ever held in memory between the request and the cipher
    country: str
    address: str

    @property
    def tin_last4(self) -> str:
        return self.tin[-4:]


@dataclass(frozen=True)
class TaxProfile:
    user_id: UUID
    form: TaxForm
    legal_name: str
    tin_last4: str
    country: str
    address: str
    updated_at: datetime

    @property
    def tin_masked(self) -> str:
        return "*****" + self.tin_last4


def validate_tax_details(form: TaxForm | None, legal_name: str, tin: str, country: str, address: str) -> TaxDetails:
    if form is None:
        raise InvalidArgument("the tax form (W-9 or W-8BEN) is required", field="form")
    name = (legal_name or "").strip()
    if not name or len(name) > 200:
        raise InvalidArgument("the legal name is required (at most 200 characters)", field="legal_name")
    where = (country or "").strip().upper()
    if not _COUNTRY.fullmatch(where):
        raise InvalidArgument("the country is an ISO 3166 alpha-2 code", field="country")
    postal = (address or "").strip()
    if not postal or len(postal) > 500:
        raise InvalidArgument("the address is required (at most 500 characters)", field="address")
    raw = (tin or "").strip().upper()
    if form is TaxForm.W9:
        if where != "US":
            raise InvalidArgument("a W-9 is for US persons: the country must be US", field="country")
        digits = raw.replace("-", "").replace(" ", "")
        if not (len(digits) == 9 and digits.isdigit()):
            raise InvalidArgument("a W-9 TIN (SSN or EIN) has nine digits", field="tin")
        normalised = digits
    else:
        if where == "US":
            raise InvalidArgument("a W-8BEN is for foreign persons: the country cannot be US", field="country")
        if not _FOREIGN_TIN.fullmatch(raw):
            raise InvalidArgument("a foreign TIN has 4 to 30 letters, digits or separators", field="tin")
        normalised = raw
    return TaxDetails(form=form, legal_name=name, tin=normalised, country=where, address=postal)
