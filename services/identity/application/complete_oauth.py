"""Command: finish an OAuth / OIDC sign-in: spend the state, exchange the code, verify the id_token, find or
create the account (domain/oauth.py decides), then sign in as a password login would (status, staff IP allow-list,
country block-list, TOTP challenge when enrolled). Every outcome is in the login history and the audit log.

An account created here is verified at once (the provider vouched for the address) and gets an argon2id hash of a
random secret nobody knows as its password, so a password login to it costs what any other does (same timing) and
can never succeed until the user sets a password.
"""

from __future__ import annotations

import secrets
from collections.abc import Callable, Mapping
from dataclasses import dataclass

from libs.domain.clock import Clock
from libs.domain.errors import FailedPrecondition, PermissionDenied, Unauthenticated
from libs.domain.ids import new_uuid
from services.identity.application.common import (
    ClientInfo,
    SessionTokens,
    audit_entry,
    digest,
    new_opaque_token,
    open_session,
)
from services.identity.application.kyc_ports import KycUnitOfWork, OAuthStateStore, OidcClient
from services.identity.application.ports import AccessTokenIssuer, Geolocator, PasswordHasher
from services.identity.application.start_oauth import provider_named
from services.identity.domain.ip_controls import country_blocked, ip_allowed
from services.identity.domain.login_events import LoginEvent, LoginOutcome, device_fingerprint
from services.identity.domain.oauth import LinkDecision, OAuthProvider, decide_link
from services.identity.domain.sessions import MFA_CHALLENGE_LIFETIME, MfaChallenge
from services.identity.domain.user import User, UserStatus

AMR = ("oauth",)


@dataclass(frozen=True)
class CompleteOAuth:
    provider: str
    code: str
    state: str
    client: ClientInfo


@dataclass(frozen=True)
class OAuthSignIn:
    session: SessionTokens | None
    mfa_token: str | None
    created: bool

    @property
    def mfa_required(self) -> bool:
        return self.session is None


def _state_refused() -> Unauthenticated:
    return Unauthenticated("this sign-in has expired or was used already; start again", reason="OAUTH_STATE_INVALID")


class CompleteOAuthHandler:
    def __init__(
        self,
        uow: Callable[[], KycUnitOfWork],
        clock: Clock,
        providers: Mapping[str, OAuthProvider],
        oidc: OidcClient,
        states: OAuthStateStore,
        issuer: AccessTokenIssuer,
        hasher: PasswordHasher,
        geolocator: Geolocator,
        *,
        blocked_countries: frozenset[str],
    ) -> None:
        self._uow = uow
        self._clock = clock
        self._providers = providers
        self._oidc = oidc
        self._states = states
        self._issuer = issuer
        self._hasher = hasher
        self._geo = geolocator
        self._blocked = blocked_countries

    async def __call__(self, cmd: CompleteOAuth) -> OAuthSignIn:
        provider = provider_named(self._providers, cmd.provider)
        if not cmd.state or not cmd.code:
            raise _state_refused()
        pending = await self._states.take(cmd.state)  # spent now, whatever happens next
        if pending is None or pending.provider != provider.name:
            raise _state_refused()
        client = cmd.client
        country = self._geo.country(client.ip, client.country)
        if country_blocked(country, self._blocked):
            raise PermissionDenied("sign-in is not available in your country", reason="COUNTRY_BLOCKED")
        identity = await self._oidc.exchange_code(
            provider,
            code=cmd.code,
            redirect_uri=pending.redirect_uri,
            code_verifier=pending.code_verifier,
            nonce=pending.nonce,
        )

        async with self._uow() as uow:
            linked_id = await uow.oauth_identities.user_for(provider.name, identity.subject)
            user = await uow.users.get(linked_id) if linked_id else None
            if user is None and identity.email:
                user = await uow.users.get_by_email(identity.email)
        decision = decide_link(
            identity,
            already_linked=linked_id is not None,
            account_exists=user is not None,
            account_email_verified=bool(user and user.email_verified),
        )
        unusable_password = (
            await self._hasher.hash(secrets.token_urlsafe(32)) if decision is LinkDecision.CREATE else None
        )

        now = self._clock.now()
        async with self._uow() as uow:
            if decision is LinkDecision.CREATE:
                user = User.register(new_uuid(), identity.email, now)
                user.verify_email(now)
                await uow.users.add(user, unusable_password)
                await uow.oauth_identities.link(provider.name, identity.subject, user.user_id, identity.email, now)
                await self._audit(uow, user, client, "user.registered_oauth", provider, now)
            elif decision is LinkDecision.LINK_EXISTING:
                await uow.oauth_identities.link(provider.name, identity.subject, user.user_id, identity.email, now)
                await self._audit(uow, user, client, "oauth.linked", provider, now)
            else:
                await uow.oauth_identities.touch(provider.name, identity.subject, now)
            refusal = await self._refusal(uow, user, client)
            if refusal is not None:
                outcome, error = refusal
                await self._record(uow, user, client, country, outcome, now, False, "login.refused", provider)
                await uow.commit()  # a new link stays: the identity is the user's, only this sign-in is refused
                raise error
            new_device, _ = await uow.login_history.remember_device(
                user.user_id, device_fingerprint(client.user_agent), now
            )
            if user.mfa_enabled:
                mfa_token = new_opaque_token()
                await uow.mfa.add_challenge(
                    MfaChallenge(
                        token_hash=digest(mfa_token),
                        user_id=user.user_id,
                        amr=AMR,
                        expires_at=now + MFA_CHALLENGE_LIFETIME,
                        consumed_at=None,
                        failed_attempts=0,
                    ),
                    now,
                )
                result = OAuthSignIn(session=None, mfa_token=mfa_token, created=decision is LinkDecision.CREATE)
                outcome = LoginOutcome.MFA_REQUIRED
            else:
                tokens = await open_session(uow, self._issuer, user, amr=AMR, mfa_at=None, client=client, now=now)
                result = OAuthSignIn(session=tokens, mfa_token=None, created=decision is LinkDecision.CREATE)
                outcome = LoginOutcome.OK
            await self._record(uow, user, client, country, outcome, now, new_device, "login.succeeded", provider)
            await uow.commit()
        return result

    async def _refusal(self, uow: KycUnitOfWork, user: User, client: ClientInfo):
        if user.status is UserStatus.SUSPENDED:
            return LoginOutcome.SUSPENDED, PermissionDenied("account suspended", reason="ACCOUNT_SUSPENDED")
        if user.status is UserStatus.TERMINATED:
            return LoginOutcome.TERMINATED, PermissionDenied("account terminated", reason="ACCOUNT_TERMINATED")
        if user.status is not UserStatus.ACTIVE:
            return LoginOutcome.NOT_VERIFIED, FailedPrecondition(
                "confirm your email address first", reason="EMAIL_NOT_VERIFIED"
            )
        if user.role.is_staff and not ip_allowed(client.ip, await uow.allow_lists.get(user.user_id)):
            return LoginOutcome.IP_NOT_ALLOWED, PermissionDenied(
                "sign-in from this network is not allowed", reason="IP_NOT_ALLOWED"
            )
        return None

    async def _audit(self, uow, user: User, client: ClientInfo, action: str, provider: OAuthProvider, now) -> None:
        await uow.audit.append(
            audit_entry(
                at=now,
                actor_id=str(user.user_id),
                actor_role=user.role.value,
                ip=client.ip,
                action=action,
                subject_id=str(user.user_id),
                after={"provider": provider.name, **user.summary()},
            )
        )

    async def _record(self, uow, user, client, country, outcome, now, new_device, action, provider) -> None:
        await uow.login_history.record(
            LoginEvent(
                user_id=user.user_id,
                occurred_at=now,
                ip=client.ip,
                user_agent=client.user_agent,
                country=country,
                outcome=outcome,
                new_device=new_device,
            )
        )
        await uow.audit.append(
            audit_entry(
                at=now,
                actor_id=str(user.user_id),
                actor_role=user.role.value,
                ip=client.ip,
                action=action,
                subject_id=str(user.user_id),
                after={"outcome": outcome.value, "method": "oauth", "provider": provider.name, "country": country},
            )
        )
