"""SQLAlchemy repositories for KYC cases (with their Stripe events, notes and documents) and OAuth identities."""

from __future__ import annotations

from datetime import datetime
from uuid import UUID

from sqlalchemy import select, update
from sqlalchemy.dialects.postgresql import insert
from sqlalchemy.ext.asyncio import AsyncSession

from libs.domain.errors import ConcurrencyConflict
from services.identity.adapters.sql import kyc_tables as k
from services.identity.adapters.sql import tables as t
from services.identity.application.kyc_ports import KycDocument, StoredStripeEvent
from services.identity.domain.kyc import KycCase, ReviewNote
from services.identity.domain.user import KycStatus


class SqlAlchemyKycRepository:
    def __init__(self, session: AsyncSession, track) -> None:
        self._session = session
        self._track = track
        self._loaded: dict[UUID, int] = {}
        self._notes_saved: dict[UUID, int] = {}

    async def _hand_out(self, row) -> KycCase | None:
        if row is None:
            return None
        notes = [
            ReviewNote(at=n.created_at, reviewer_id=n.reviewer_id, decision=n.decision, text=n.text)
            for n in await self._session.execute(
                select(k.kyc_notes).where(k.kyc_notes.c.user_id == row.user_id).order_by(k.kyc_notes.c.note_id)
            )
        ]
        case = KycCase(
            user_id=row.user_id,
            status=KycStatus(row.status),
            updated_at=row.updated_at,
            verification_session_id=row.verification_session_id,
            attempts=row.attempts,
            last_event_at=row.last_event_at,
            last_event_rank=row.last_event_rank,
            last_error_code=row.last_error_code,
            notes=notes,
            version=row.row_version,
        )
        self._loaded[case.user_id] = case.version
        self._notes_saved[case.user_id] = len(notes)
        self._track(case)
        return case

    async def get(self, user_id: UUID, *, for_update: bool = False) -> KycCase | None:
        query = select(k.kyc_cases).where(k.kyc_cases.c.user_id == user_id)
        if for_update:
            query = query.with_for_update()
        return await self._hand_out((await self._session.execute(query)).first())

    async def get_by_session(self, verification_session_id: str, *, for_update: bool = False) -> KycCase | None:
        query = select(k.kyc_cases).where(k.kyc_cases.c.verification_session_id == verification_session_id)
        if for_update:
            query = query.with_for_update()
        return await self._hand_out((await self._session.execute(query)).first())

    def _values(self, case: KycCase) -> dict:
        return {
            "status": case.status.value,
            "verification_session_id": case.verification_session_id,
            "attempts": case.attempts,
            "last_event_at": case.last_event_at,
            "last_event_rank": case.last_event_rank,
            "last_error_code": case.last_error_code,
            "updated_at": case.updated_at,
            "row_version": case.version,
        }

    async def add(self, case: KycCase) -> None:
        await self._session.execute(
            k.kyc_cases.insert().values(user_id=case.user_id, created_at=case.updated_at, **self._values(case))
        )
        self._loaded[case.user_id] = case.version
        self._notes_saved[case.user_id] = 0
        self._track(case)
        await self._save_notes(case)
        await self._mirror_status(case)

    async def save(self, case: KycCase) -> None:
        expected = self._loaded.get(case.user_id)
        result = await self._session.execute(
            update(k.kyc_cases)
            .where(k.kyc_cases.c.user_id == case.user_id, k.kyc_cases.c.row_version == expected)
            .values(**self._values(case))
        )
        if result.rowcount != 1:
            raise ConcurrencyConflict(f"the KYC case of {case.user_id} was changed by someone else; retry")
        self._loaded[case.user_id] = case.version
        await self._save_notes(case)
        await self._mirror_status(case)

    async def _save_notes(self, case: KycCase) -> None:
        saved = self._notes_saved.get(case.user_id, 0)
        for note in case.notes[saved:]:  # notes are append-only
            await self._session.execute(
                k.kyc_notes.insert().values(
                    user_id=case.user_id,
                    reviewer_id=note.reviewer_id,
                    decision=note.decision,
                    text=note.text,
                    created_at=note.at,
                )
            )
        self._notes_saved[case.user_id] = len(case.notes)

    async def _mirror_status(self, case: KycCase) -> None:
        # users.kyc_status is what user listings show; bumping row_version makes a concurrent save of the user,
        # loaded before this change, fail its optimistic check instead of writing the old status back.
        await self._session.execute(
            update(t.users)
            .where(t.users.c.user_id == case.user_id, t.users.c.kyc_status != case.status.value)
            .values(kyc_status=case.status.value, row_version=t.users.c.row_version + 1)
        )

    async def record_event(self, event: StoredStripeEvent) -> bool:
        result = await self._session.execute(
            insert(k.kyc_stripe_events)
            .values(
                stripe_event_id=event.stripe_event_id,
                event_type=event.event_type,
                verification_session_id=event.verification_session_id,
                event_created_at=event.event_created_at,
                verdict=event.verdict,
                received_at=event.received_at,
            )
            .on_conflict_do_nothing(index_elements=["stripe_event_id"])
        )
        return result.rowcount == 1

    async def set_event_verdict(self, stripe_event_id: str, verdict: str) -> None:
        await self._session.execute(
            update(k.kyc_stripe_events)
            .where(k.kyc_stripe_events.c.stripe_event_id == stripe_event_id)
            .values(verdict=verdict)
        )

    async def add_document(self, document: KycDocument) -> None:
        await self._session.execute(
            k.kyc_documents.insert().values(
                document_id=document.document_id,
                user_id=document.user_id,
                kind=document.kind,
                content_type=document.content_type,
                size_bytes=document.size_bytes,
                object_key=document.object_key,
                uploaded_at=document.uploaded_at,
            )
        )

    async def get_document(self, document_id: UUID) -> KycDocument | None:
        row = (
            await self._session.execute(select(k.kyc_documents).where(k.kyc_documents.c.document_id == document_id))
        ).first()
        if row is None:
            return None
        return KycDocument(
            document_id=row.document_id,
            user_id=row.user_id,
            kind=row.kind,
            content_type=row.content_type,
            size_bytes=row.size_bytes,
            object_key=row.object_key,
            uploaded_at=row.uploaded_at,
        )


class SqlAlchemyOAuthIdentityRepository:
    def __init__(self, session: AsyncSession) -> None:
        self._session = session

    async def user_for(self, provider: str, subject: str) -> UUID | None:
        o = k.oauth_identities
        query = select(o.c.user_id).where(o.c.provider == provider, o.c.subject == subject)
        return (await self._session.execute(query)).scalar()

    async def link(self, provider: str, subject: str, user_id: UUID, email: str | None, at: datetime) -> None:
        await self._session.execute(
            k.oauth_identities.insert().values(
                provider=provider, subject=subject, user_id=user_id, email_at_link=email, linked_at=at, last_used_at=at
            )
        )

    async def touch(self, provider: str, subject: str, at: datetime) -> None:
        o = k.oauth_identities
        await self._session.execute(
            update(o).where(o.c.provider == provider, o.c.subject == subject).values(last_used_at=at)
        )
