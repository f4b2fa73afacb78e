"""Demo users for the devstack (`make up` calls this; production never does): an admin with TOTP and a trader.

Idempotent: run it on every start; existing users are left as they are, and the admin's TOTP secret is read back
(decrypted) so `make up` can print it for an authenticator app. The passwords are development-only constants.
"""

from __future__ import annotations

from dataclasses import dataclass

from libs.domain.clock import SystemClock
from libs.domain.ids import new_uuid
from libs.platform.crypto import DecryptionFailed
from libs.platform.db import create_engine, session_factory
from libs.platform.settings import IdentitySettings
from services.identity.adapters import composition
from services.identity.adapters.sql.unit_of_work import SqlAlchemyIdentityUnitOfWork
from services.identity.application.common import SYSTEM_ACTOR_ID, audit_entry
from services.identity.application.complete_mfa_login import totp_context
from services.identity.domain.totp import new_secret, step_at
from services.identity.domain.user import Role, User

ADMIN_EMAIL = "admin@dynasty.local"
ADMIN_PASSWORD = "dynasty-admin-dev-only"
TRADER_EMAIL = "trader@dynasty.local"
TRADER_PASSWORD = "dynasty-trader-dev-only"


def _readable_secret(cipher, enrolment, user_id) -> str | None:
    if enrolment is None or enrolment.confirmed_at is None:
        return None
    try:
        return cipher.decrypt_text(enrolment.secret_ciphertext, context=totp_context(user_id))
    except DecryptionFailed:
        return None


@dataclass(frozen=True)
class DemoUsers:
    admin_user_id: str
    admin_email: str
    admin_password: str
    admin_totp_secret: str  # base32, for an authenticator app (or pyotp.TOTP(secret).now())
    trader_user_id: str
    trader_email: str
    trader_password: str


async def seed_demo_users(settings: IdentitySettings | None = None) -> DemoUsers:
    """Create (once) admin@dynasty.local with TOTP and trader@dynasty.local, both active and verified."""
    settings = settings or IdentitySettings()
    engine = create_engine(settings.database_url, "identity", pool_size=1)
    clock = SystemClock()
    cipher = composition.cipher(settings)
    hasher = composition.password_hasher(settings)
    sessions = session_factory(engine)

    def uow() -> SqlAlchemyIdentityUnitOfWork:
        return SqlAlchemyIdentityUnitOfWork(sessions, schema="identity", source="identity", clock=clock)

    async def ensure_user(email: str, password: str, role: Role) -> User:
        async with uow() as work:
            existing = await work.users.get_by_email(email)
            if existing is not None:
                return existing
            now = clock.now()
            user = User.register(new_uuid(), email, now, role=role)
            user.verify_email(now)
            await work.users.add(user, await hasher.hash(password))
            await work.audit.append(
                audit_entry(
                    at=now,
                    actor_id=SYSTEM_ACTOR_ID,
                    actor_role="system",
                    ip=None,
                    action="user.seeded",
                    subject_id=str(user.user_id),
                    after=user.summary(),
                )
            )
            await work.commit()
            return user

    try:
        admin = await ensure_user(ADMIN_EMAIL, ADMIN_PASSWORD, Role.ADMIN)
        trader = await ensure_user(TRADER_EMAIL, TRADER_PASSWORD, Role.TRADER)
        async with uow() as work:
            enrolment = await work.mfa.get_totp(admin.user_id, for_update=True)
            secret = _readable_secret(cipher, enrolment, admin.user_id)
            if secret is None:
                if enrolment is not None:
                    # Sealed under a master key that is gone (its key file was deleted): enrol the demo admin anew.
                    await work.mfa.remove_totp(admin.user_id)
                now = clock.now()
                secret = new_secret()
                await work.mfa.put_pending_totp(
                    admin.user_id, cipher.encrypt_text(secret, context=totp_context(admin.user_id)), now
                )
                # Mark a step well in the past as used, so the very next code the developer types is accepted.
                await work.mfa.confirm_totp(admin.user_id, now, step_at(now) - 10)
                user = await work.users.get(admin.user_id, for_update=True)
                user.set_mfa_enabled(True, now)
                await work.users.save(user)
                await work.audit.append(
                    audit_entry(
                        at=now,
                        actor_id=SYSTEM_ACTOR_ID,
                        actor_role="system",
                        ip=None,
                        action="mfa.totp_enabled",
                        subject_id=str(admin.user_id),
                        after={"mfa_enabled": True, "seeded": True},
                    )
                )
                await work.commit()
    finally:
        await engine.dispose()
    return DemoUsers(
        admin_user_id=str(admin.user_id),
        admin_email=ADMIN_EMAIL,
        admin_password=ADMIN_PASSWORD,
        admin_totp_secret=secret,
        trader_user_id=str(trader.user_id),
        trader_email=TRADER_EMAIL,
        trader_password=TRADER_PASSWORD,
    )
