"""Idempotency keys for commands: a replay returns the stored response; the same key with other parameters is
refused (Stripe's rule). The key is stored in the same transaction as the change it guards.
"""

from __future__ import annotations

from sqlalchemy import select
from sqlalchemy.dialects.postgresql import insert
from sqlalchemy.ext.asyncio import AsyncSession

from libs.domain.errors import AlreadyExists, InvalidArgument
from libs.platform.tables import platform_tables


class SqlAlchemyIdempotencyStore:
    def __init__(self, session: AsyncSession, schema: str) -> None:
        self._session = session
        self._table = platform_tables(schema)["idempotency_keys"]

    async def recall(self, key: str, operation: str, params_fingerprint: str) -> dict | None:
        if not key or len(key) > 255:
            raise InvalidArgument("an idempotency key of 1 to 255 characters is required", field="request_id")
        t = self._table
        # FOR UPDATE: a concurrent first use of the same key waits here until the other transaction ends.
        row = (
            await self._session.execute(
                select(t.c.fingerprint, t.c.response)
                .where(t.c.key == key, t.c.operation == operation)
                .with_for_update()
            )
        ).first()
        if row is None:
            return None
        if row.fingerprint != params_fingerprint:
            raise AlreadyExists(
                "this idempotency key was already used with different parameters",
                reason="ALREADY_EXISTS",
                request_id=key,
            )
        return row.response

    async def remember(self, key: str, operation: str, params_fingerprint: str, response: dict) -> None:
        await self._session.execute(
            insert(self._table).values(key=key, operation=operation, fingerprint=params_fingerprint, response=response)
        )
