"""Command: sign in with email and password.

Order matters for what an attacker can learn: throttling first (before any hashing work), then the password, and
only after a correct password anything that depends on the account (verification, suspension, allow-list, MFA).
Wrong password and unknown email raise the same InvalidCredentials after the same argon2 work (a dummy hash).
Support and admin users without TOTP get a session whose amr lacks "otp": the gateway lets them only enrol.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from datetime import datetime

from libs.domain.clock import Clock
from libs.domain.errors import FailedPrecondition, InvalidArgument, PermissionDenied
from services.identity.application.common import (
    ClientInfo,
    LoginResult,
    audit_entry,
    digest,
    new_opaque_token,
    open_session,
)
from services.identity.application.ports import (
    AccessTokenIssuer,
    EmailSender,
    Geolocator,
    IdentityUnitOfWork,
    LoginThrottle,
    PasswordHasher,
)
from services.identity.domain.errors import InvalidCredentials, TooManyAttempts
from services.identity.domain.ip_controls import country_blocked, ip_allowed
from services.identity.domain.login_events import LoginEvent, LoginOutcome, device_fingerprint
from services.identity.domain.password_policy import MAX_LENGTH, normalise_password
from services.identity.domain.sessions import MFA_CHALLENGE_LIFETIME, MfaChallenge
from services.identity.domain.user import User, UserStatus, normalise_email


def _refusal(status: UserStatus) -> tuple[LoginOutcome, Exception] | None:
    """Why a correct password still does not sign this account in (a fresh exception per call)."""
    if status is UserStatus.PENDING_VERIFICATION:
        return LoginOutcome.NOT_VERIFIED, FailedPrecondition(
            "confirm your email address first", reason="EMAIL_NOT_VERIFIED"
        )
    if status is UserStatus.SUSPENDED:
        return LoginOutcome.SUSPENDED, PermissionDenied("account suspended", reason="ACCOUNT_SUSPENDED")
    if status is UserStatus.TERMINATED:
        return LoginOutcome.TERMINATED, PermissionDenied("account terminated", reason="ACCOUNT_TERMINATED")
    return None


@dataclass(frozen=True)
class Login:
    email: str
    password: str
    client: ClientInfo


def throttle_key(email: str) -> str:
    """Per-account throttling keys on the email's digest, known or not, so locking reveals nothing."""
    return "login:" + digest(email)


class LoginHandler:
    def __init__(
        self,
        uow: Callable[[], IdentityUnitOfWork],
        clock: Clock,
        hasher: PasswordHasher,
        issuer: AccessTokenIssuer,
        throttle: LoginThrottle,
        email: EmailSender,
        geolocator: Geolocator,
        *,
        blocked_countries: frozenset[str],
    ) -> None:
        self._uow = uow
        self._clock = clock
        self._hasher = hasher
        self._issuer = issuer
        self._throttle = throttle
        self._email = email
        self._geo = geolocator
        self._blocked = blocked_countries

    async def __call__(self, cmd: Login) -> LoginResult:
        try:
            email = normalise_email(cmd.email)
        except InvalidArgument:
            email = (cmd.email or "").strip().lower()[:320]  # no account has it; fail below like any unknown email
        password = normalise_password(cmd.password or "")[: MAX_LENGTH + 1]
        client = cmd.client
        country = self._geo.country(client.ip, client.country)
        if country_blocked(country, self._blocked):
            await self._record(None, client, country, LoginOutcome.COUNTRY_BLOCKED)
            raise PermissionDenied("sign-in is not available in your country", reason="COUNTRY_BLOCKED")
        key = throttle_key(email)
        wait = await self._throttle.retry_after(key, client.ip)
        if wait > 0:
            raise TooManyAttempts(wait)

        async with self._uow() as uow:
            user = await uow.users.get_by_email(email)
            stored_hash = await uow.users.password_hash(user.user_id) if user else None
        if user is None or stored_hash is None:
            await self._hasher.verify_dummy(password)
            await self._throttle.record_failure(key, client.ip)
            await self._record(None, client, country, LoginOutcome.UNKNOWN_EMAIL, audit_action="login.failed", key=key)
            raise InvalidCredentials()
        if not await self._hasher.verify(stored_hash, password):
            await self._throttle.record_failure(key, client.ip)
            await self._record(user, client, country, LoginOutcome.BAD_PASSWORD, audit_action="login.failed")
            raise InvalidCredentials()
        await self._throttle.clear_account(key)

        refusal = _refusal(user.status)
        if refusal is not None:
            outcome, error = refusal
            await self._record(user, client, country, outcome, audit_action="login.refused")
            raise error
        if user.role.is_staff:
            async with self._uow() as uow:
                allowed = ip_allowed(client.ip, await uow.allow_lists.get(user.user_id))
            if not allowed:
                await self._record(user, client, country, LoginOutcome.IP_NOT_ALLOWED, audit_action="login.refused")
                raise PermissionDenied("sign-in from this network is not allowed", reason="IP_NOT_ALLOWED")

        now = self._clock.now()
        async with self._uow() as uow:
            if self._hasher.needs_rehash(stored_hash):  # parameters were raised since this hash was made
                await uow.users.set_password_hash(user.user_id, await self._hasher.hash(password), now)
            new_device, had_devices = await uow.login_history.remember_device(
                user.user_id, device_fingerprint(client.user_agent), now
            )
            if user.mfa_enabled:
                mfa_token = new_opaque_token()
                await uow.mfa.add_challenge(
                    MfaChallenge(
                        token_hash=digest(mfa_token),
                        user_id=user.user_id,
                        amr=("pwd",),
                        expires_at=now + MFA_CHALLENGE_LIFETIME,
                        consumed_at=None,
                        failed_attempts=0,
                    ),
                    now,
                )
                result = LoginResult(session=None, mfa_token=mfa_token)
                outcome = LoginOutcome.MFA_REQUIRED
            else:
                tokens = await open_session(uow, self._issuer, user, amr=("pwd",), mfa_at=None, client=client, now=now)
                result = LoginResult(session=tokens)
                outcome = LoginOutcome.OK
            await self._write_event(uow, user, client, country, outcome, now, new_device, "login.succeeded")
            await uow.commit()
        if new_device and had_devices:
            await self._email.send(user.email, "New sign-in to your account", _new_device_body(client, country, now))
        return result

    async def _record(
        self,
        user: User | None,
        client: ClientInfo,
        country: str | None,
        outcome: LoginOutcome,
        *,
        audit_action: str | None = None,
        key: str = "",
    ) -> None:
        now = self._clock.now()
        async with self._uow() as uow:
            await self._write_event(uow, user, client, country, outcome, now, False, audit_action, key)
            await uow.commit()

    async def _write_event(
        self,
        uow: IdentityUnitOfWork,
        user: User | None,
        client: ClientInfo,
        country: str | None,
        outcome: LoginOutcome,
        now: datetime,
        new_device: bool,
        audit_action: str | None,
        key: str = "",
    ) -> None:
        await uow.login_history.record(
            LoginEvent(
                user_id=user.user_id if user else None,
                occurred_at=now,
                ip=client.ip,
                user_agent=client.user_agent,
                country=country,
                outcome=outcome,
                new_device=new_device,
            )
        )
        if audit_action is not None:
            # An unknown email is audited under its digest: the attempt is on record, the address is not.
            await uow.audit.append(
                audit_entry(
                    at=now,
                    actor_id=str(user.user_id) if user else "anonymous",
                    actor_role=user.role.value if user else "anonymous",
                    ip=client.ip,
                    action=audit_action,
                    subject_type="user" if user else "login_attempt",
                    subject_id=str(user.user_id) if user else key,
                    after={"outcome": outcome.value, "country": country, "new_device": new_device},
                )
            )


def _new_device_body(client: ClientInfo, country: str | None, at: datetime) -> str:
    return (
        "Your Dynasty Futures account was signed in to from a device we had not seen before.\n\n"
        f"When: {at.isoformat()}\nIP: {client.ip or 'unknown'}\nCountry: {country or 'unknown'}\n"
        f"Device: {client.user_agent or 'unknown'}\n\n"
        "If this was not you, sign out everywhere and change your password at once."
    )
