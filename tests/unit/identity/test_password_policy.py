"""NIST 800-63B password rules: length, the shipped common-password list, no composition rules."""

import pytest
from hypothesis import given
from hypothesis import strategies as st

from libs.domain.errors import InvalidArgument
from services.identity.domain.password_policy import MAX_LENGTH, MIN_LENGTH, check_password, common_passwords


def test_the_shipped_list_has_at_least_ten_thousand_lower_cased_entries():
    passwords = common_passwords()
    assert len(passwords) >= 10_000
    assert {"password", "123456", "qwerty"} <= passwords
    assert all(p == p.lower() for p in passwords)


@pytest.mark.parametrize("common", ["1qaz2wsx3edc", "QWERTY123456", "123456qwerty"])
def test_long_but_common_passwords_are_refused_whatever_their_case(common):
    with pytest.raises(InvalidArgument) as info:
        check_password(common)
    assert info.value.reason == "PASSWORD_COMMON"


def test_lengths_at_the_edges():
    assert check_password("a" * MIN_LENGTH + "b")
    with pytest.raises(InvalidArgument):
        check_password("x" * (MIN_LENGTH - 1))
    assert check_password("y" * MAX_LENGTH)
    with pytest.raises(InvalidArgument):
        check_password("y" * (MAX_LENGTH + 1))


def test_the_email_itself_is_not_a_password():
    with pytest.raises(InvalidArgument):
        check_password("Someone@Example.com", email="someone@example.com")


@given(st.text(alphabet=st.characters(codec="utf-8", exclude_categories=("Cs",)), min_size=MIN_LENGTH, max_size=60))
def test_no_composition_rule_any_long_uncommon_text_is_accepted(text):
    from unicodedata import normalize

    normalised = normalize("NFKC", text)
    if MIN_LENGTH <= len(normalised) <= MAX_LENGTH and normalised.lower() not in common_passwords():
        assert check_password(text) == normalised
