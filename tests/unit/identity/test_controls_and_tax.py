"""IP allow-lists, country block-list, tax details validation and masking."""

from datetime import UTC, datetime
from uuid import uuid4

import pytest

from libs.domain.errors import InvalidArgument
from services.identity.domain.ip_controls import country_blocked, ip_allowed, parse_cidrs, parse_country_list
from services.identity.domain.tax_profile import TaxForm, TaxProfile, validate_tax_details


def test_cidrs_normalise_and_bind():
    cidrs = parse_cidrs(["203.0.113.7/24", "2001:db8::1/64", "203.0.113.0/24"])
    assert cidrs == ["203.0.113.0/24", "2001:db8::/64"]
    assert ip_allowed("203.0.113.200", cidrs) and ip_allowed("2001:db8::42", cidrs)
    assert not ip_allowed("198.51.100.1", cidrs) and not ip_allowed(None, cidrs) and not ip_allowed("junk", cidrs)
    assert ip_allowed("198.51.100.1", [])
    with pytest.raises(InvalidArgument) as info:
        parse_cidrs(["10.0.0.0/8", "not-a-range"])
    assert info.value.field == "cidrs[1]"


def test_country_block_list():
    blocked = parse_country_list(" kp, IR ,,")
    assert blocked == {"KP", "IR"}
    assert country_blocked("kp", blocked) and not country_blocked("CZ", blocked) and not country_blocked(None, blocked)


def test_a_w9_needs_nine_digits_in_the_us_and_is_masked_to_the_last_four():
    details = validate_tax_details(TaxForm.W9, " Jane ", "123-45-6789", "us", "1 Main St")
    assert (details.tin, details.country, details.legal_name) == ("123456789", "US", "Jane")
    profile = TaxProfile(uuid4(), TaxForm.W9, "Jane", details.tin_last4, "US", "1 Main St", datetime.now(UTC))
    assert profile.tin_masked == "*****6789"
    for tin, country, field in (("12345678", "US", "tin"), ("123456789", "CZ", "country")):
        with pytest.raises(InvalidArgument) as info:
            validate_tax_details(TaxForm.W9, "Jane", tin, country, "1 Main St")
        assert info.value.field == field


def test_a_w8ben_is_foreign_only():
    assert validate_tax_details(TaxForm.W8BEN, "Jan", "cz 7501011234", "CZ", "Praha").tin == "CZ 7501011234"
    with pytest.raises(InvalidArgument):
        validate_tax_details(TaxForm.W8BEN, "Jan", "7501011234", "US", "Praha")
    with pytest.raises(InvalidArgument):
        validate_tax_details(None, "Jan", "7501011234", "CZ", "Praha")
