"""The Idempotency-Key check every key-requiring challenges use case shares: 1 to 255 characters, refused naming
the field otherwise (before anything is read or written)."""

from __future__ import annotations

import pytest

from libs.domain.errors import InvalidArgument
from services.challenges.application.idempotency_key import MAX_IDEMPOTENCY_KEY, require_idempotency_key


@pytest.mark.parametrize("key", ["", "k" * (MAX_IDEMPOTENCY_KEY + 1)])
def test_an_empty_or_too_long_key_is_refused_naming_the_field(key):
    with pytest.raises(InvalidArgument) as refused:
        require_idempotency_key(key)
    assert refused.value.field == "request_id"
    assert "1 to 255 characters" in str(refused.value)


@pytest.mark.parametrize("key", ["k", "k" * MAX_IDEMPOTENCY_KEY])
def test_keys_of_1_to_255_characters_pass(key):
    require_idempotency_key(key)
