"""Command: the user sends a document a reviewer asked for (case in needs_review).

The bytes are envelope-encrypted here (a data key per document, wrapped by the master key; the context binds the
ciphertext to this user and document) before they reach object storage, so neither the bucket nor a copy of it
holds a readable document; in AWS the bucket's SSE-KMS is a second layer, not the only one. The sealed object is
written before the row that names it is committed: a failed commit leaves an unreferenced, unreadable object (a
lifecycle rule removes those), never a row pointing at nothing.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass

from libs.domain.clock import Clock
from libs.domain.errors import FailedPrecondition, InvalidArgument
from libs.domain.ids import new_uuid
from services.identity.application.common import Actor, audit_entry, require_signed_in
from services.identity.application.kyc_ports import KycDocument, KycUnitOfWork, ObjectStorage, SealingCipher

MAX_DOCUMENT_BYTES = 10 * 1024 * 1024
DOCUMENT_KINDS = frozenset({"id_document", "proof_of_address", "selfie", "other"})
CONTENT_TYPES = frozenset({"image/jpeg", "image/png", "application/pdf"})


@dataclass(frozen=True)
class UploadKycDocument:
    actor: Actor
    kind: str
    content_type: str
    content: bytes


def document_context(user_id, document_id) -> str:
    return f"kyc-document:{user_id}:{document_id}"


class UploadKycDocumentHandler:
    def __init__(
        self, uow: Callable[[], KycUnitOfWork], clock: Clock, cipher: SealingCipher, storage: ObjectStorage
    ) -> None:
        self._uow = uow
        self._clock = clock
        self._cipher = cipher
        self._storage = storage

    async def __call__(self, cmd: UploadKycDocument) -> KycDocument:
        user_id = require_signed_in(cmd.actor)
        if cmd.kind not in DOCUMENT_KINDS:
            raise InvalidArgument(f"kind must be one of {sorted(DOCUMENT_KINDS)}", field="kind")
        if cmd.content_type not in CONTENT_TYPES:
            raise InvalidArgument(f"content_type must be one of {sorted(CONTENT_TYPES)}", field="content_type")
        if not cmd.content or len(cmd.content) > MAX_DOCUMENT_BYTES:
            raise InvalidArgument(f"a document is 1 byte to {MAX_DOCUMENT_BYTES} bytes", field="content")
        async with self._uow() as uow:
            case = await uow.kyc.get(user_id)
        if case is None or not case.accepts_documents():
            raise FailedPrecondition(
                "documents are taken only when a reviewer has asked for them", reason="KYC_DOCUMENT_NOT_REQUESTED"
            )
        now = self._clock.now()
        document = KycDocument(
            document_id=new_uuid(),
            user_id=user_id,
            kind=cmd.kind,
            content_type=cmd.content_type,
            size_bytes=len(cmd.content),
            object_key="",
            uploaded_at=now,
        )
        key = f"kyc/{user_id}/{document.document_id}"
        sealed = self._cipher.encrypt(cmd.content, context=document_context(user_id, document.document_id))
        await self._storage.put(key, sealed.encode("ascii"), content_type="application/vnd.dynasty.envelope")
        document = KycDocument(**{**document.__dict__, "object_key": key})
        async with self._uow() as uow:
            await uow.kyc.add_document(document)
            await uow.audit.append(
                audit_entry(
                    at=now,
                    actor_id=cmd.actor.actor_id,
                    actor_role=cmd.actor.role,
                    ip=cmd.actor.ip,
                    action="kyc.document_uploaded",
                    subject_id=str(user_id),
                    after={
                        "document_id": str(document.document_id),
                        "kind": document.kind,
                        "content_type": document.content_type,
                        "size_bytes": document.size_bytes,
                    },
                )
            )
            await uow.commit()
        return document
