"""Money on the wire: dynasty.common.v1.Money {units, nanos, currency_code} <-> libs.domain.money.Money."""

from __future__ import annotations

from libs.domain.errors import InvalidArgument
from libs.domain.money import Money, MoneyError


def money_to_proto(money: Money, message_cls):
    units, nanos = money.to_units_nanos()
    return message_cls(units=units, nanos=nanos, currency_code=money.currency.value)


def money_from_proto(message, *, field: str) -> Money:
    if not message.currency_code:
        raise InvalidArgument(f"{field}.currency_code is required", field=f"{field}.currency_code")
    try:
        return Money.from_units_nanos(message.units, message.nanos, message.currency_code)
    except (MoneyError, ValueError) as exc:
        raise InvalidArgument(f"{field}: {exc}", field=field) from None
