"""Command: register with email and password.

The answer is the same whether the email is new or known (no account enumeration), and so is the work: the
password is hashed either way, so the timing does not tell either. A known email gets a mail saying someone tried.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from datetime import timedelta

from libs.domain.clock import Clock
from libs.domain.errors import AlreadyExists, PermissionDenied
from libs.domain.ids import new_uuid
from services.identity.application.common import ClientInfo, audit_entry
from services.identity.application.ports import EmailSender, Geolocator, IdentityUnitOfWork, LinkTokens, PasswordHasher
from services.identity.domain.ip_controls import country_blocked
from services.identity.domain.password_policy import check_password
from services.identity.domain.user import User, UserStatus, normalise_email

ACKNOWLEDGEMENT = "Check your email: we sent a link to confirm the address."
VERIFY_PURPOSE = "verify-email"


@dataclass(frozen=True)
class Register:
    email: str
    password: str
    client: ClientInfo


class RegisterHandler:
    def __init__(
        self,
        uow: Callable[[], IdentityUnitOfWork],
        clock: Clock,
        hasher: PasswordHasher,
        link_tokens: LinkTokens,
        email: EmailSender,
        geolocator: Geolocator,
        *,
        blocked_countries: frozenset[str],
        public_base_url: str,
        verification_ttl: timedelta,
    ) -> None:
        self._uow = uow
        self._clock = clock
        self._hasher = hasher
        self._links = link_tokens
        self._email = email
        self._geo = geolocator
        self._blocked = blocked_countries
        self._base_url = public_base_url.rstrip("/")
        self._ttl = verification_ttl

    async def __call__(self, cmd: Register) -> str:
        email = normalise_email(cmd.email)
        password = check_password(cmd.password, email=email)
        if country_blocked(self._geo.country(cmd.client.ip, cmd.client.country), self._blocked):
            raise PermissionDenied("registration is not available in your country", reason="COUNTRY_BLOCKED")
        password_hash = await self._hasher.hash(password)  # done for a known email too: equal timing
        now = self._clock.now()
        async with self._uow() as uow:
            existing = await uow.users.get_by_email(email)
            if existing is None:
                user = User.register(new_uuid(), email, now)
                try:
                    await uow.users.add(user, password_hash)
                except AlreadyExists:
                    # A concurrent registration of the same email won: answer as for a known one.
                    existing = await uow.users.get_by_email(email)
                else:
                    await uow.audit.append(
                        audit_entry(
                            at=now,
                            actor_id=str(user.user_id),
                            actor_role="anonymous",
                            ip=cmd.client.ip,
                            action="user.registered",
                            subject_id=str(user.user_id),
                            after=user.summary(),
                        )
                    )
                    await uow.commit()
                    await self._send_verification(user, now)
                    return ACKNOWLEDGEMENT
            await uow.audit.append(
                audit_entry(
                    at=now,
                    actor_id="anonymous",
                    actor_role="anonymous",
                    ip=cmd.client.ip,
                    action="user.registration_repeated",
                    subject_id=str(existing.user_id),
                )
            )
            await uow.commit()
        if existing.status is UserStatus.PENDING_VERIFICATION:
            # Never verified: most likely the owner lost the first mail. A new link helps them and tells no one else
            # anything (the answer is the same). The password given now is not used: the first one stands.
            await self._send_verification(existing, now)
            return ACKNOWLEDGEMENT
        await self._email.send(
            email,
            "Someone tried to register with your email",
            "Someone (maybe you) tried to create a Dynasty Futures account with this address, which already has "
            "one. If it was you, sign in or reset your password. If not, you can ignore this mail: nothing changed.",
        )
        return ACKNOWLEDGEMENT

    async def _send_verification(self, user: User, now) -> None:
        token = self._links.sign(
            purpose=VERIFY_PURPOSE, subject=str(user.user_id), token_id=new_uuid().hex, expires_at=now + self._ttl
        )
        await self._email.send(
            user.email,
            "Confirm your email address",
            "Welcome to Dynasty Futures. Confirm your address by opening this link:\n\n"
            f"{self._base_url}/verify-email?token={token}\n\n"
            f"or paste this code in the app: {token}\n\nThe link works once and expires in "
            f"{int(self._ttl.total_seconds() // 3600)} hours.",
        )
