"""Pure adapter pieces with no I/O: envelope encryption, link tokens, argon2, the country table, the mailbox."""

from datetime import UTC, datetime, timedelta

import pytest

from libs.domain.errors import InvalidArgument
from libs.platform.crypto import DecryptionFailed, EnvelopeCipher, LocalMasterKey
from libs.platform.mailbox import LocalMailbox, read_mailbox
from services.identity.adapters.argon2_hasher import Argon2PasswordHasher
from services.identity.adapters.geo.geolocator import CidrTableGeolocator
from services.identity.adapters.tokens import HmacLinkTokens

NOW = datetime(2026, 11, 24, 12, tzinfo=UTC)


def test_envelope_encryption_round_trips_and_binds_its_context_and_master_key():
    master = LocalMasterKey(b"k" * 32)
    cipher = EnvelopeCipher(master)
    sealed = cipher.encrypt_text("123456789", context="tax:a")
    assert cipher.decrypt_text(sealed, context="tax:a") == "123456789"
    assert sealed != cipher.encrypt_text("123456789", context="tax:a")  # a fresh data key and nonce each time
    with pytest.raises(DecryptionFailed):
        cipher.decrypt_text(sealed, context="tax:b")
    with pytest.raises(DecryptionFailed):
        EnvelopeCipher(LocalMasterKey(b"o" * 32)).decrypt_text(sealed, context="tax:a")
    version, wrapped, nonce, body = sealed.split(".")
    tampered = ".".join((version, wrapped, nonce, body[:-2] + ("A" if body[-2] != "A" else "B") + body[-1]))
    with pytest.raises(DecryptionFailed):
        cipher.decrypt_text(tampered, context="tax:a")


def test_the_master_key_file_is_created_once_with_owner_only_permissions(tmp_path):
    path = tmp_path / "keys" / "master.key"
    first = LocalMasterKey.from_file(path)
    assert oct(path.stat().st_mode & 0o777) == "0o600"
    sealed = EnvelopeCipher(first).encrypt_text("x", context="c")
    assert EnvelopeCipher(LocalMasterKey.from_file(path)).decrypt_text(sealed, context="c") == "x"


def test_link_tokens_expire_and_refuse_another_purpose_or_key():
    links = HmacLinkTokens(b"s" * 32)
    token = links.sign(purpose="verify-email", subject="u1", token_id="t1", expires_at=NOW + timedelta(hours=1))
    assert links.open(token, purpose="verify-email", now=NOW) == ("u1", "t1")
    with pytest.raises(InvalidArgument) as expired:
        links.open(token, purpose="verify-email", now=NOW + timedelta(hours=1))
    assert expired.value.reason == "TOKEN_EXPIRED"
    for bad in (
        lambda: links.open(token, purpose="reset-password", now=NOW),
        lambda: HmacLinkTokens(b"t" * 32).open(token, purpose="verify-email", now=NOW),
        lambda: links.open("garbage", purpose="verify-email", now=NOW),
    ):
        with pytest.raises(InvalidArgument):
            bad()


async def test_argon2id_verifies_the_right_password_only_and_flags_weaker_hashes():
    hasher = Argon2PasswordHasher(time_cost=1, memory_kib=1024, parallelism=1)
    stored = await hasher.hash("correct horse battery")
    assert stored.startswith("$argon2id$")
    assert await hasher.verify(stored, "correct horse battery")
    assert not await hasher.verify(stored, "wrong horse battery")
    assert not await hasher.verify("not a hash", "x")
    stronger = Argon2PasswordHasher(time_cost=2, memory_kib=2048, parallelism=1)
    assert stronger.needs_rehash(stored) and not hasher.needs_rehash(stored)


def test_country_from_the_edge_header_first_then_the_table():
    geo = CidrTableGeolocator()
    assert geo.country("1.0.0.1", "cz") == "CZ"
    assert geo.country("1.0.0.1", None) == "AU"  # APNIC's 1.0.0.0/24
    assert geo.country("127.0.0.1", None) is None
    assert geo.country("2001:db8::1", None) is None
    assert geo.country("junk", "") is None


async def test_the_local_mailbox_writes_readable_eml_files(tmp_path):
    box = LocalMailbox(tmp_path, "Dynasty <no-reply@dynasty.local>")
    await box.send("a@example.com", "Hello", "first")
    await box.send("b@example.com", "Hi", "second")
    assert [m.get_content().strip() for m in read_mailbox(tmp_path)] == ["first", "second"]
    assert [m["Subject"] for m in read_mailbox(tmp_path, to="b@example.com")] == ["Hi"]
    assert not list(tmp_path.glob(".*.tmp"))
