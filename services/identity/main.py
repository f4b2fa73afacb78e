"""Composition root of the identity service: `python -m services.identity.main`.

`python -m services.identity.main rotate-signing-key [--emergency]` rotates the token-signing key (runbook
docs/runbooks/identity-key-rotation.md).
"""

from __future__ import annotations

import asyncio
import sys
from dataclasses import dataclass
from datetime import timedelta

from redis.asyncio import Redis
from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker

from libs.domain.clock import Clock
from libs.platform.service_main import Runtime, Wiring, run_service
from libs.platform.settings import IdentitySettings

SERVICE = "identity"
EVENT_ROUTES: dict[str, tuple[str, ...]] = {}  # no consumer of identity events yet
# A KYC document is up to 10 MiB (application/upload_kyc_document.MAX_DOCUMENT_BYTES) and travels whole in one
# message (UploadKycDocument, GetKycDocument); gRPC refuses messages over 4 MiB unless the server says otherwise.
MAX_MESSAGE_BYTES = 12 * 1024 * 1024


@dataclass
class IdentityComponents:
    use_cases: object  # IdentityUseCases
    rotate_signing_key: object  # RotateSigningKeyHandler
    jwks: object  # GetJwksHandler: the service's own JWK Set source
    uow: object
    issuer: object  # JwtAccessTokenIssuer


def identity_settings(runtime: Runtime) -> IdentitySettings:
    if isinstance(runtime.settings, IdentitySettings):
        return runtime.settings
    return IdentitySettings(DATABASE_URL=runtime.settings.database_url, REDIS_URL=runtime.settings.redis_url)


def build_identity(
    settings: IdentitySettings,
    sessions: async_sessionmaker[AsyncSession],
    clock: Clock,
    redis: Redis,
) -> IdentityComponents:
    from services.identity.adapters import composition
    from services.identity.adapters.geo.geolocator import CidrTableGeolocator
    from services.identity.adapters.grpc.servicer import IdentityUseCases
    from services.identity.adapters.oidc_client import HttpxOidcClient
    from services.identity.adapters.redis_oauth_state import RedisOAuthStateStore
    from services.identity.adapters.redis_revocations import RedisRevocations
    from services.identity.adapters.redis_throttle import RedisLoginThrottle
    from services.identity.adapters.sql.unit_of_work import SqlAlchemyIdentityUnitOfWork
    from services.identity.adapters.tokens import Es256SigningKeyFactory, HmacLinkTokens, JwtAccessTokenIssuer
    from services.identity.application.apply_kyc_verification_event import ApplyKycVerificationEventHandler
    from services.identity.application.change_role import ChangeRoleHandler
    from services.identity.application.clear_review_flag import ClearReviewFlagHandler
    from services.identity.application.complete_mfa_login import CompleteMfaLoginHandler
    from services.identity.application.complete_oauth import CompleteOAuthHandler
    from services.identity.application.confirm_totp import ConfirmTotpHandler
    from services.identity.application.create_kyc_session import CreateKycSessionHandler
    from services.identity.application.enroll_totp import EnrollTotpHandler
    from services.identity.application.ensure_signing_key import EnsureSigningKeyHandler
    from services.identity.application.get_jwks import GetJwksHandler
    from services.identity.application.get_kyc import GetKycHandler
    from services.identity.application.get_me import GetMeHandler
    from services.identity.application.get_tax_profile import GetTaxProfileHandler
    from services.identity.application.get_user import GetUserHandler
    from services.identity.application.list_login_events import ListLoginEventsHandler
    from services.identity.application.list_users import ListUsersHandler
    from services.identity.application.login import LoginHandler
    from services.identity.application.logout import LogoutHandler
    from services.identity.application.logout_everywhere import LogoutEverywhereHandler
    from services.identity.application.read_kyc_document import ReadKycDocumentHandler
    from services.identity.application.refresh_session import RefreshSessionHandler
    from services.identity.application.register import RegisterHandler
    from services.identity.application.reinstate_user import ReinstateUserHandler
    from services.identity.application.review_kyc import ReviewKycHandler
    from services.identity.application.rotate_signing_key import RotateSigningKeyHandler
    from services.identity.application.set_ip_allow_list import SetIpAllowListHandler
    from services.identity.application.set_tax_profile import SetTaxProfileHandler
    from services.identity.application.start_oauth import StartOAuthHandler
    from services.identity.application.step_up import StepUpHandler
    from services.identity.application.suspend_user import SuspendUserHandler
    from services.identity.application.terminate_user import TerminateUserHandler
    from services.identity.application.upload_kyc_document import UploadKycDocumentHandler
    from services.identity.application.verify_email import VerifyEmailHandler
    from services.identity.domain.ip_controls import parse_country_list

    def uow() -> SqlAlchemyIdentityUnitOfWork:
        return SqlAlchemyIdentityUnitOfWork(sessions, schema=SERVICE, source=SERVICE, clock=clock, routes=EVENT_ROUTES)

    master = composition.master_key(settings)
    cipher = composition.cipher(settings, master)
    hasher = composition.password_hasher(settings)
    email = composition.email_sender(settings)
    geolocator = CidrTableGeolocator()
    revocations = RedisRevocations(redis)
    throttle = RedisLoginThrottle(redis)
    link_tokens = HmacLinkTokens(master.derive("identity:link-tokens"))
    key_factory = Es256SigningKeyFactory(cipher)
    ensure_key = EnsureSigningKeyHandler(uow, clock, key_factory)
    issuer = JwtAccessTokenIssuer(ensure_key, cipher, revoked_before=revocations.revoked_before)
    blocked = parse_country_list(settings.identity_blocked_countries)
    get_jwks = GetJwksHandler(uow, clock, ensure_key)
    providers = composition.oauth_providers(settings)
    oidc = HttpxOidcClient()
    oauth_states = RedisOAuthStateStore(redis)
    storage = composition.object_storage(settings)
    kyc_verifier = composition.identity_verifier(settings)

    use_cases = IdentityUseCases(
        register=RegisterHandler(
            uow,
            clock,
            hasher,
            link_tokens,
            email,
            geolocator,
            blocked_countries=blocked,
            public_base_url=settings.identity_public_base_url,
            verification_ttl=timedelta(hours=settings.identity_verification_ttl_hours),
        ),
        verify_email=VerifyEmailHandler(uow, clock, link_tokens),
        login=LoginHandler(uow, clock, hasher, issuer, throttle, email, geolocator, blocked_countries=blocked),
        complete_mfa_login=CompleteMfaLoginHandler(uow, clock, issuer, cipher, throttle),
        refresh_session=RefreshSessionHandler(uow, clock, issuer, revocations),
        logout=LogoutHandler(uow, clock, revocations),
        logout_everywhere=LogoutEverywhereHandler(uow, clock, revocations),
        get_jwks=get_jwks,
        enroll_totp=EnrollTotpHandler(uow, clock, cipher),
        confirm_totp=ConfirmTotpHandler(uow, clock, cipher),
        step_up=StepUpHandler(uow, clock, issuer, cipher, throttle),
        get_me=GetMeHandler(uow),
        list_login_events=ListLoginEventsHandler(uow),
        set_tax_profile=SetTaxProfileHandler(uow, clock, cipher),
        get_tax_profile=GetTaxProfileHandler(uow),
        list_users=ListUsersHandler(uow),
        get_user=GetUserHandler(uow),
        suspend_user=SuspendUserHandler(uow, clock, revocations),
        reinstate_user=ReinstateUserHandler(uow, clock, revocations),
        terminate_user=TerminateUserHandler(uow, clock, revocations),
        change_role=ChangeRoleHandler(uow, clock, revocations),
        set_ip_allow_list=SetIpAllowListHandler(uow, clock),
        start_oauth=StartOAuthHandler(
            providers, oidc, oauth_states, state_ttl_seconds=settings.identity_oauth_state_ttl_seconds
        ),
        complete_oauth=CompleteOAuthHandler(
            uow, clock, providers, oidc, oauth_states, issuer, hasher, geolocator, blocked_countries=blocked
        ),
        create_kyc_session=CreateKycSessionHandler(uow, clock, kyc_verifier),
        get_kyc=GetKycHandler(uow, clock),
        apply_kyc_verification_event=ApplyKycVerificationEventHandler(uow, clock, kyc_verifier),
        review_kyc=ReviewKycHandler(uow, clock),
        upload_kyc_document=UploadKycDocumentHandler(uow, clock, cipher, storage),
        read_kyc_document=ReadKycDocumentHandler(uow, clock, cipher, storage),
        clear_review_flag=ClearReviewFlagHandler(uow, clock),
    )
    return IdentityComponents(
        use_cases=use_cases,
        rotate_signing_key=RotateSigningKeyHandler(uow, clock, key_factory, issuer),
        jwks=get_jwks,
        uow=uow,
        issuer=issuer,
    )


def wire(runtime: Runtime) -> Wiring:
    from dynasty.identity.v1 import identity_service_pb2_grpc
    from services.identity.adapters.grpc.servicer import IdentityServicer
    from services.identity.adapters.inbox_handlers import challenges_event_handlers

    if runtime.redis is None:
        raise SystemExit("identity needs Redis (REDIS_URL): throttling and token revocation live there")
    components = build_identity(identity_settings(runtime), runtime.sessions, runtime.clock, runtime.redis)
    servicer = IdentityServicer(components.use_cases)

    def register(server) -> list[str]:
        identity_service_pb2_grpc.add_IdentityServiceServicer_to_server(servicer, server)
        return ["dynasty.identity.v1.IdentityService"]

    return Wiring(
        register=register,
        event_handlers=challenges_event_handlers(),
        jwks_source=components.jwks,
        max_message_bytes=MAX_MESSAGE_BYTES,
    )


async def _rotate_signing_key(emergency: bool):
    from libs.domain.clock import SystemClock
    from libs.platform.db import create_engine, session_factory
    from libs.platform.redis import create_redis
    from services.identity.application.common import SYSTEM_ACTOR_ID, Actor
    from services.identity.application.rotate_signing_key import RotateSigningKey

    settings = IdentitySettings()
    engine = create_engine(settings.database_url, SERVICE, pool_size=1)
    redis = create_redis(settings.redis_url or "redis://127.0.0.1:6379/0")
    try:
        components = build_identity(settings, session_factory(engine), SystemClock(), redis)
        return await components.rotate_signing_key(
            RotateSigningKey(actor=Actor(SYSTEM_ACTOR_ID, "system"), emergency=emergency)
        )
    finally:
        await redis.aclose()
        await engine.dispose()


def main() -> None:
    if sys.argv[1:2] == ["rotate-signing-key"]:
        from libs.platform.protogen import ensure_generated

        ensure_generated()
        rotation = asyncio.run(_rotate_signing_key(emergency="--emergency" in sys.argv[2:]))
        print(
            f"new signing key {rotation.kid} signs from {rotation.activates_at.isoformat()}; "
            f"previous key {rotation.previous_kid or '-'} retires then"
        )
        return
    run_service(SERVICE, wire)


if __name__ == "__main__":
    main()
