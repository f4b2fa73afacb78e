"""SQLAlchemy repositories for identity: rows to domain values explicitly, one session per unit of work."""

from __future__ import annotations

from datetime import datetime
from uuid import UUID

from sqlalchemy import and_, func, or_, select, update
from sqlalchemy.dialects.postgresql import insert
from sqlalchemy.exc import IntegrityError
from sqlalchemy.ext.asyncio import AsyncSession

from libs.domain.errors import AlreadyExists, ConcurrencyConflict, InvalidArgument
from libs.domain.ids import new_uuid
from services.identity.adapters.sql import tables as t
from services.identity.application.ports import TotpEnrolment
from services.identity.domain.login_events import LoginEvent, LoginOutcome
from services.identity.domain.review_flags import ReviewFlag, ReviewFlagReason, ReviewFlagStatus
from services.identity.domain.sessions import MfaChallenge, RefreshTokenState, Session
from services.identity.domain.signing_keys import SigningKey
from services.identity.domain.tax_profile import TaxForm, TaxProfile
from services.identity.domain.user import KycStatus, Role, User, UserStatus


def _row_to_user(row) -> User:
    return User(
        user_id=row.user_id,
        email=row.email,
        role=Role(row.role),
        status=UserStatus(row.status),
        created_at=row.created_at,
        updated_at=row.updated_at,
        email_verified_at=row.email_verified_at,
        status_reason=row.status_reason,
        mfa_enabled=row.mfa_enabled,
        kyc_status=KycStatus(row.kyc_status),
        version=row.row_version,
    )


def _user_values(user: User) -> dict:
    return {
        "email": user.email,
        "role": user.role.value,
        "status": user.status.value,
        "status_reason": user.status_reason,
        "email_verified_at": user.email_verified_at,
        "mfa_enabled": user.mfa_enabled,
        "kyc_status": user.kyc_status.value,
        "updated_at": user.updated_at,
        "row_version": user.version,
    }


class SqlAlchemyUserRepository:
    def __init__(self, session: AsyncSession, track) -> None:
        self._session = session
        self._track = track
        self._loaded_versions: dict[UUID, int] = {}

    def _hand_out(self, row) -> User | None:
        if row is None:
            return None
        user = _row_to_user(row)
        self._loaded_versions[user.user_id] = user.version
        self._track(user)
        return user

    async def get(self, user_id: UUID, *, for_update: bool = False) -> User | None:
        query = select(t.users).where(t.users.c.user_id == user_id)
        if for_update:
            query = query.with_for_update()
        return self._hand_out((await self._session.execute(query)).first())

    async def get_by_email(self, email: str, *, for_update: bool = False) -> User | None:
        query = select(t.users).where(t.users.c.email == email.lower())
        if for_update:
            query = query.with_for_update()
        return self._hand_out((await self._session.execute(query)).first())

    async def add(self, user: User, password_hash: str) -> None:
        try:
            async with self._session.begin_nested():
                await self._session.execute(
                    t.users.insert().values(user_id=user.user_id, created_at=user.created_at, **_user_values(user))
                )
                await self._session.execute(
                    t.credentials.insert().values(
                        user_id=user.user_id, password_hash=password_hash, updated_at=user.created_at
                    )
                )
        except IntegrityError:
            raise AlreadyExists("this email is registered already", reason="EMAIL_TAKEN") from None
        self._loaded_versions[user.user_id] = user.version
        self._track(user)

    async def save(self, user: User) -> None:
        expected = self._loaded_versions.get(user.user_id)
        result = await self._session.execute(
            update(t.users)
            .where(t.users.c.user_id == user.user_id, t.users.c.row_version == expected)
            .values(**_user_values(user))
        )
        if result.rowcount != 1:
            raise ConcurrencyConflict(f"user {user.user_id} was changed by someone else; retry")
        self._loaded_versions[user.user_id] = user.version

    async def password_hash(self, user_id: UUID) -> str | None:
        query = select(t.credentials.c.password_hash).where(t.credentials.c.user_id == user_id)
        return (await self._session.execute(query)).scalar()

    async def set_password_hash(self, user_id: UUID, password_hash: str, at: datetime) -> None:
        await self._session.execute(
            update(t.credentials)
            .where(t.credentials.c.user_id == user_id)
            .values(password_hash=password_hash, updated_at=at)
        )

    async def list(self, *, status, role, email_contains, after_key, limit, flagged_for_review=False) -> list[User]:
        u = t.users
        query = select(u)
        if flagged_for_review:
            f = t.review_flags
            query = query.where(
                select(f.c.flag_id)
                .where(f.c.user_id == u.c.user_id, f.c.status == ReviewFlagStatus.OPEN.value)
                .exists()
            )
        if status is not None:
            query = query.where(u.c.status == status.value)
        if role is not None:
            query = query.where(u.c.role == role.value)
        if email_contains:
            escaped = email_contains.replace("\\", "\\\\").replace("%", "\\%").replace("_", "\\_")
            query = query.where(u.c.email.like(f"%{escaped}%", escape="\\"))
        if after_key:
            created, _, user_id = after_key.partition("|")
            try:
                after_created, after_id = datetime.fromisoformat(created), UUID(user_id)
            except ValueError:
                raise InvalidArgument("page_token is not a token this service issued", field="page_token") from None
            query = query.where(
                or_(u.c.created_at > after_created, and_(u.c.created_at == after_created, u.c.user_id > after_id))
            )
        query = query.order_by(u.c.created_at, u.c.user_id).limit(limit)
        return [_row_to_user(row) for row in await self._session.execute(query)]


class SqlAlchemySessionRepository:
    def __init__(self, session: AsyncSession) -> None:
        self._session = session

    async def add(self, session: Session) -> None:
        await self._session.execute(
            t.sessions.insert().values(
                session_id=session.session_id,
                user_id=session.user_id,
                amr=list(session.amr),
                mfa_at=session.mfa_at,
                ip=session.ip,
                user_agent=session.user_agent,
                created_at=session.created_at,
                expires_at=session.expires_at,
            )
        )

    async def get(self, session_id: UUID) -> Session | None:
        row = (await self._session.execute(select(t.sessions).where(t.sessions.c.session_id == session_id))).first()
        if row is None:
            return None
        return Session(
            session_id=row.session_id,
            user_id=row.user_id,
            amr=tuple(row.amr),
            mfa_at=row.mfa_at,
            ip=row.ip,
            user_agent=row.user_agent,
            created_at=row.created_at,
            expires_at=row.expires_at,
            revoked_at=row.revoked_at,
            revoke_reason=row.revoke_reason,
        )

    async def set_mfa(self, session_id: UUID, amr: tuple[str, ...], mfa_at: datetime) -> None:
        await self._session.execute(
            update(t.sessions).where(t.sessions.c.session_id == session_id).values(amr=list(amr), mfa_at=mfa_at)
        )

    async def revoke(self, session_id: UUID, at: datetime, reason: str) -> bool:
        result = await self._session.execute(
            update(t.sessions)
            .where(t.sessions.c.session_id == session_id, t.sessions.c.revoked_at.is_(None))
            .values(revoked_at=at, revoke_reason=reason)
        )
        await self._revoke_tokens([session_id], at)
        return result.rowcount == 1

    async def revoke_all_for_user(self, user_id: UUID, at: datetime, reason: str) -> list[UUID]:
        rows = await self._session.execute(
            update(t.sessions)
            .where(t.sessions.c.user_id == user_id, t.sessions.c.revoked_at.is_(None))
            .values(revoked_at=at, revoke_reason=reason)
            .returning(t.sessions.c.session_id)
        )
        revoked = [row.session_id for row in rows]
        await self._revoke_tokens(revoked, at)
        return revoked

    async def _revoke_tokens(self, family_ids: list[UUID], at: datetime) -> None:
        if family_ids:
            await self._session.execute(
                update(t.refresh_tokens)
                .where(t.refresh_tokens.c.family_id.in_(family_ids), t.refresh_tokens.c.revoked_at.is_(None))
                .values(revoked_at=at)
            )

    async def add_refresh_token(self, *, token_hash, family_id, user_id, rotated_from, issued_at, expires_at) -> None:
        await self._session.execute(
            t.refresh_tokens.insert().values(
                token_hash=token_hash,
                family_id=family_id,
                user_id=user_id,
                rotated_from=rotated_from,
                issued_at=issued_at,
                expires_at=expires_at,
            )
        )

    async def get_refresh_token(self, token_hash: str) -> RefreshTokenState | None:
        r, s = t.refresh_tokens, t.sessions
        query = (
            select(r, s.c.revoked_at.label("family_revoked_at"))
            .join(s, s.c.session_id == r.c.family_id)
            .where(r.c.token_hash == token_hash)
            .with_for_update(of=s)  # lock the family: concurrent refreshes of one session take turns
        )
        row = (await self._session.execute(query)).first()
        if row is None:
            return None
        return RefreshTokenState(
            token_hash=row.token_hash,
            family_id=row.family_id,
            user_id=row.user_id,
            expires_at=row.expires_at,
            rotated_at=row.rotated_at,
            revoked_at=row.revoked_at,
            family_revoked=row.family_revoked_at is not None,
        )

    async def mark_rotated(self, token_hash: str, at: datetime) -> None:
        await self._session.execute(
            update(t.refresh_tokens).where(t.refresh_tokens.c.token_hash == token_hash).values(rotated_at=at)
        )


class SqlAlchemyMfaRepository:
    def __init__(self, session: AsyncSession) -> None:
        self._session = session

    async def get_totp(self, user_id: UUID, *, for_update: bool = False) -> TotpEnrolment | None:
        query = select(t.totp_secrets).where(t.totp_secrets.c.user_id == user_id)
        if for_update:
            query = query.with_for_update()
        row = (await self._session.execute(query)).first()
        if row is None:
            return None
        return TotpEnrolment(
            user_id=row.user_id,
            secret_ciphertext=row.secret_ciphertext,
            confirmed_at=row.confirmed_at,
            last_used_step=row.last_used_step,
        )

    async def put_pending_totp(self, user_id: UUID, secret_ciphertext: str, at: datetime) -> None:
        statement = insert(t.totp_secrets).values(user_id=user_id, secret_ciphertext=secret_ciphertext, created_at=at)
        await self._session.execute(
            statement.on_conflict_do_update(
                index_elements=[t.totp_secrets.c.user_id],
                set_={"secret_ciphertext": secret_ciphertext, "created_at": at, "last_used_step": None},
                where=t.totp_secrets.c.confirmed_at.is_(None),
            )
        )

    async def confirm_totp(self, user_id: UUID, at: datetime, step: int) -> None:
        await self._session.execute(
            update(t.totp_secrets)
            .where(t.totp_secrets.c.user_id == user_id)
            .values(confirmed_at=at, last_used_step=step)
        )

    async def remove_totp(self, user_id: UUID) -> None:
        await self._session.execute(t.totp_secrets.delete().where(t.totp_secrets.c.user_id == user_id))
        await self._session.execute(t.recovery_codes.delete().where(t.recovery_codes.c.user_id == user_id))

    async def record_totp_step(self, user_id: UUID, step: int) -> None:
        await self._session.execute(
            update(t.totp_secrets).where(t.totp_secrets.c.user_id == user_id).values(last_used_step=step)
        )

    async def replace_recovery_codes(self, user_id: UUID, code_hashes: list[str], at: datetime) -> None:
        await self._session.execute(t.recovery_codes.delete().where(t.recovery_codes.c.user_id == user_id))
        await self._session.execute(
            t.recovery_codes.insert(),
            [{"code_id": new_uuid(), "user_id": user_id, "code_hash": h, "created_at": at} for h in code_hashes],
        )

    async def use_recovery_code(self, user_id: UUID, code_hash: str, at: datetime) -> bool:
        rc = t.recovery_codes
        result = await self._session.execute(
            update(rc)
            .where(rc.c.user_id == user_id, rc.c.code_hash == code_hash, rc.c.used_at.is_(None))
            .values(used_at=at)
        )
        return result.rowcount == 1

    async def add_challenge(self, challenge: MfaChallenge, created_at: datetime) -> None:
        await self._session.execute(
            t.mfa_challenges.insert().values(
                token_hash=challenge.token_hash,
                user_id=challenge.user_id,
                amr=list(challenge.amr),
                created_at=created_at,
                expires_at=challenge.expires_at,
                failed_attempts=challenge.failed_attempts,
            )
        )

    async def get_challenge(self, token_hash: str) -> MfaChallenge | None:
        query = select(t.mfa_challenges).where(t.mfa_challenges.c.token_hash == token_hash).with_for_update()
        row = (await self._session.execute(query)).first()
        if row is None:
            return None
        return MfaChallenge(
            token_hash=row.token_hash,
            user_id=row.user_id,
            amr=tuple(row.amr),
            expires_at=row.expires_at,
            consumed_at=row.consumed_at,
            failed_attempts=row.failed_attempts,
        )

    async def consume_challenge(self, token_hash: str, at: datetime) -> None:
        await self._session.execute(
            update(t.mfa_challenges).where(t.mfa_challenges.c.token_hash == token_hash).values(consumed_at=at)
        )

    async def count_challenge_failure(self, token_hash: str) -> None:
        c = t.mfa_challenges
        await self._session.execute(
            update(c).where(c.c.token_hash == token_hash).values(failed_attempts=c.c.failed_attempts + 1)
        )


def _row_to_key(row) -> SigningKey:
    return SigningKey(
        kid=row.kid,
        algorithm=row.algorithm,
        private_key_ciphertext=row.private_key_ciphertext,
        public_jwk=dict(row.public_jwk),
        created_at=row.created_at,
        activates_at=row.activates_at,
        retired_at=row.retired_at,
    )


class SqlAlchemySigningKeyRepository:
    def __init__(self, session: AsyncSession) -> None:
        self._session = session

    async def signing_at(self, now: datetime) -> SigningKey | None:
        k = t.signing_keys
        query = (
            select(k)
            .where(k.c.activates_at <= now, or_(k.c.retired_at.is_(None), k.c.retired_at > now))
            .order_by(k.c.activates_at.desc())
            .limit(1)
        )
        row = (await self._session.execute(query)).first()
        return _row_to_key(row) if row else None

    async def newest(self) -> SigningKey | None:
        query = select(t.signing_keys).where(t.signing_keys.c.retired_at.is_(None)).with_for_update()
        row = (await self._session.execute(query)).first()
        return _row_to_key(row) if row else None

    async def add(self, key: SigningKey) -> bool:
        try:
            async with self._session.begin_nested():
                await self._session.execute(
                    t.signing_keys.insert().values(
                        kid=key.kid,
                        algorithm=key.algorithm,
                        private_key_ciphertext=key.private_key_ciphertext,
                        public_jwk=key.public_jwk,
                        created_at=key.created_at,
                        activates_at=key.activates_at,
                    )
                )
        except IntegrityError:
            return False  # another key became current first (the one-current-key index)
        return True

    async def retire(self, kid: str, at: datetime) -> None:
        await self._session.execute(update(t.signing_keys).where(t.signing_keys.c.kid == kid).values(retired_at=at))

    async def published(self, retired_since: datetime) -> list[SigningKey]:
        k = t.signing_keys
        query = (
            select(k)
            .where(or_(k.c.retired_at.is_(None), k.c.retired_at > retired_since))
            .order_by(k.c.created_at.desc())
        )
        return [_row_to_key(row) for row in await self._session.execute(query)]


class SqlAlchemyLoginHistory:
    def __init__(self, session: AsyncSession) -> None:
        self._session = session

    async def record(self, event: LoginEvent) -> None:
        await self._session.execute(
            t.login_events.insert().values(
                user_id=event.user_id,
                occurred_at=event.occurred_at,
                ip=event.ip,
                user_agent=(event.user_agent or None) and event.user_agent[:512],
                country=event.country,
                succeeded=event.succeeded,
                outcome=event.outcome.value,
                new_device=event.new_device,
            )
        )

    async def list(self, user_id: UUID, *, before_id: int | None, limit: int) -> list[LoginEvent]:
        e = t.login_events
        query = select(e).where(e.c.user_id == user_id)
        if before_id is not None:
            query = query.where(e.c.event_id < before_id)
        query = query.order_by(e.c.event_id.desc()).limit(limit)
        return [
            LoginEvent(
                user_id=row.user_id,
                occurred_at=row.occurred_at,
                ip=row.ip,
                user_agent=row.user_agent,
                country=row.country,
                outcome=LoginOutcome(row.outcome),
                new_device=row.new_device,
                event_id=row.event_id,
            )
            for row in await self._session.execute(query)
        ]

    async def remember_device(self, user_id: UUID, device_hash: str, at: datetime) -> tuple[bool, bool]:
        d = t.known_devices
        known = (await self._session.execute(select(func.count()).where(d.c.user_id == user_id))).scalar_one()
        inserted = await self._session.execute(
            insert(d)
            .values(user_id=user_id, device_hash=device_hash, first_seen_at=at, last_seen_at=at)
            .on_conflict_do_update(index_elements=[d.c.user_id, d.c.device_hash], set_={"last_seen_at": at})
            .returning(d.c.first_seen_at)
        )
        is_new = inserted.scalar_one() == at
        return is_new, known > (0 if is_new else 1)


class SqlAlchemyIpAllowListRepository:
    def __init__(self, session: AsyncSession) -> None:
        self._session = session

    async def get(self, user_id: UUID) -> list[str]:
        a = t.ip_allow_list
        query = select(a.c.cidr).where(a.c.user_id == user_id).order_by(a.c.cidr)
        return list((await self._session.execute(query)).scalars())

    async def replace(self, user_id: UUID, cidrs: list[str], at: datetime) -> None:
        await self._session.execute(t.ip_allow_list.delete().where(t.ip_allow_list.c.user_id == user_id))
        if cidrs:
            await self._session.execute(
                t.ip_allow_list.insert(), [{"user_id": user_id, "cidr": c, "created_at": at} for c in cidrs]
            )


class SqlAlchemyTaxProfileRepository:
    def __init__(self, session: AsyncSession) -> None:
        self._session = session

    async def get(self, user_id: UUID) -> TaxProfile | None:
        row = (await self._session.execute(select(t.tax_profiles).where(t.tax_profiles.c.user_id == user_id))).first()
        if row is None:
            return None
        return TaxProfile(
            user_id=row.user_id,
            form=TaxForm(row.form),
            legal_name=row.legal_name,
            tin_last4=row.tin_last4,
            country=row.country,
            address=row.address,
            updated_at=row.updated_at,
        )

    async def put(self, profile: TaxProfile, tin_ciphertext: str) -> None:
        values = {
            "form": profile.form.value,
            "legal_name": profile.legal_name,
            "tin_ciphertext": tin_ciphertext,
            "tin_last4": profile.tin_last4,
            "country": profile.country,
            "address": profile.address,
            "updated_at": profile.updated_at,
        }
        await self._session.execute(
            insert(t.tax_profiles)
            .values(user_id=profile.user_id, **values)
            .on_conflict_do_update(index_elements=[t.tax_profiles.c.user_id], set_=values)
        )

    async def tin_ciphertext(self, user_id: UUID) -> str | None:
        query = select(t.tax_profiles.c.tin_ciphertext).where(t.tax_profiles.c.user_id == user_id)
        return (await self._session.execute(query)).scalar()


class SqlAlchemyVerificationTokenLedger:
    def __init__(self, session: AsyncSession) -> None:
        self._session = session

    async def spend(self, token_id: str, user_id: UUID, at: datetime) -> bool:
        result = await self._session.execute(
            insert(t.used_verification_tokens)
            .values(token_id=token_id, user_id=user_id, used_at=at)
            .on_conflict_do_nothing(index_elements=[t.used_verification_tokens.c.token_id])
        )
        return result.rowcount == 1


def _row_to_flag(row) -> ReviewFlag:
    return ReviewFlag(
        flag_id=row.flag_id,
        user_id=row.user_id,
        reason=ReviewFlagReason(row.reason),
        source=row.source,
        source_ref=row.source_ref,
        evidence=dict(row.evidence),
        raised_at=row.raised_at,
        status=ReviewFlagStatus(row.status),
        cleared_at=row.cleared_at,
        cleared_by=row.cleared_by,
        clear_reason=row.clear_reason,
        version=row.row_version,
    )


def _flag_values(flag: ReviewFlag) -> dict:
    return {
        "evidence": dict(flag.evidence),
        "status": flag.status.value,
        "cleared_at": flag.cleared_at,
        "cleared_by": flag.cleared_by,
        "clear_reason": flag.clear_reason,
        "row_version": flag.version,
    }


class SqlAlchemyReviewFlagRepository:
    def __init__(self, session: AsyncSession) -> None:
        self._session = session
        self._loaded_versions: dict[UUID, int] = {}

    def _hand_out(self, row) -> ReviewFlag | None:
        if row is None:
            return None
        flag = _row_to_flag(row)
        self._loaded_versions[flag.flag_id] = flag.version
        return flag

    async def add(self, flag: ReviewFlag) -> bool:
        """False when the user already has a flag for this reason and reference (nothing is written)."""
        f = t.review_flags
        result = await self._session.execute(
            insert(f)
            .values(
                flag_id=flag.flag_id,
                user_id=flag.user_id,
                reason=flag.reason.value,
                source=flag.source,
                source_ref=flag.source_ref,
                raised_at=flag.raised_at,
                **_flag_values(flag),
            )
            .on_conflict_do_nothing(constraint="review_flags_user_reason_ref_key")
            .returning(f.c.flag_id)
        )
        if result.first() is None:
            return False
        self._loaded_versions[flag.flag_id] = flag.version
        return True

    async def get(self, flag_id: UUID, *, for_update: bool = False) -> ReviewFlag | None:
        query = select(t.review_flags).where(t.review_flags.c.flag_id == flag_id)
        if for_update:
            query = query.with_for_update()
        return self._hand_out((await self._session.execute(query)).first())

    async def find(
        self, user_id: UUID, reason: ReviewFlagReason, source_ref: str, *, for_update: bool = False
    ) -> ReviewFlag | None:
        f = t.review_flags
        query = select(f).where(f.c.user_id == user_id, f.c.reason == reason.value, f.c.source_ref == source_ref)
        if for_update:
            query = query.with_for_update()
        return self._hand_out((await self._session.execute(query)).first())

    async def for_user(self, user_id: UUID) -> list[ReviewFlag]:
        f = t.review_flags
        query = select(f).where(f.c.user_id == user_id).order_by(f.c.raised_at.desc(), f.c.flag_id)
        return [_row_to_flag(row) for row in await self._session.execute(query)]

    async def users_with_open_flags(self, user_ids: list[UUID]) -> set[UUID]:
        if not user_ids:
            return set()
        f = t.review_flags
        query = (
            select(f.c.user_id).where(f.c.user_id.in_(user_ids), f.c.status == ReviewFlagStatus.OPEN.value).distinct()
        )
        return set((await self._session.execute(query)).scalars())

    async def save(self, flag: ReviewFlag) -> None:
        f = t.review_flags
        expected = self._loaded_versions.get(flag.flag_id)
        result = await self._session.execute(
            update(f).where(f.c.flag_id == flag.flag_id, f.c.row_version == expected).values(**_flag_values(flag))
        )
        if result.rowcount != 1:
            raise ConcurrencyConflict(f"review flag {flag.flag_id} was changed by someone else; retry")
        self._loaded_versions[flag.flag_id] = flag.version
