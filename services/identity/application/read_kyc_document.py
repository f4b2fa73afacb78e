"""Query: a reviewer opens a KYC document (support, admin). Reading personal documents is itself audited."""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from uuid import UUID

from libs.domain.clock import Clock
from libs.domain.errors import InvalidArgument, NotFound
from services.identity.application.common import Actor, audit_entry, require_staff
from services.identity.application.kyc_ports import KycDocument, KycUnitOfWork, ObjectStorage, SealingCipher
from services.identity.application.upload_kyc_document import document_context


@dataclass(frozen=True)
class ReadKycDocument:
    actor: Actor
    document_id: str


class ReadKycDocumentHandler:
    def __init__(
        self, uow: Callable[[], KycUnitOfWork], clock: Clock, cipher: SealingCipher, storage: ObjectStorage
    ) -> None:
        self._uow = uow
        self._clock = clock
        self._cipher = cipher
        self._storage = storage

    async def __call__(self, query: ReadKycDocument) -> tuple[KycDocument, bytes]:
        require_staff(query.actor)
        try:
            document_id = UUID(query.document_id)
        except ValueError:
            raise InvalidArgument("a document id (UUID) is required", field="document_id") from None
        now = self._clock.now()
        async with self._uow() as uow:
            document = await uow.kyc.get_document(document_id)
            if document is None:
                raise NotFound(f"document {document_id} not found", reason="KYC_DOCUMENT_NOT_FOUND")
            await uow.audit.append(
                audit_entry(
                    at=now,
                    actor_id=query.actor.actor_id,
                    actor_role=query.actor.role,
                    ip=query.actor.ip,
                    action="kyc.document_read",
                    subject_id=str(document.user_id),
                    after={"document_id": str(document_id)},
                )
            )
            await uow.commit()
        sealed = await self._storage.get(document.object_key)
        plaintext = self._cipher.decrypt(
            sealed.decode("ascii"), context=document_context(document.user_id, document_id)
        )
        return document, plaintext
