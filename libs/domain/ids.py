"""Typed identifiers: a ProgramId cannot be passed where an AccountId is expected (type checkers see NewType)."""

from __future__ import annotations

import re
from typing import NewType
from uuid import UUID, uuid4

ProgramId = NewType("ProgramId", str)
ProgramVersionId = NewType("ProgramVersionId", UUID)
UserId = NewType("UserId", UUID)
AccountId = NewType("AccountId", UUID)
OrderId = NewType("OrderId", UUID)
PayoutId = NewType("PayoutId", UUID)


class InvalidIdentifier(ValueError):
    def __init__(self, kind: str, value: str, expected: str) -> None:
        super().__init__(f"{kind} {value!r} is malformed: expected {expected}")
        self.kind = kind
        self.value = value


# Program ids are human-readable slugs (they appear in URLs and receipts), e.g. "eval-50k".
_SLUG = re.compile(r"^[a-z0-9](?:[a-z0-9-]{0,62}[a-z0-9])?$")


def parse_program_id(value: str) -> ProgramId:
    if not isinstance(value, str) or not _SLUG.fullmatch(value):
        raise InvalidIdentifier("program id", str(value), "a lowercase slug of letters, digits and dashes")
    return ProgramId(value)


def parse_uuid(kind: str, value: str) -> UUID:
    try:
        return UUID(str(value))
    except ValueError:
        raise InvalidIdentifier(kind, str(value), "a UUID") from None


def new_uuid() -> UUID:
    return uuid4()
