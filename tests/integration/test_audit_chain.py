"""The audit log's hash chain detects a record changed behind the application's back."""

from datetime import UTC, datetime

import psycopg
from sqlalchemy import text

from libs.domain.audit import AuditEntry
from libs.platform.audit import SqlAlchemyAuditLog, verify_chain
from libs.platform.db import create_engine, session_factory, sync_url
from libs.platform.tables import create_platform_tables


def entry(n: int) -> AuditEntry:
    return AuditEntry(
        occurred_at=datetime(2026, 11, 24, 12, n, tzinfo=UTC),
        actor_id="admin-1",
        actor_role="admin",
        ip="198.51.100.1",
        action="account.suspended",
        subject_type="account",
        subject_id=f"acct-{n}",
        before={"state": "phase_1"},
        after={"state": "suspended"},
    )


async def test_tampering_with_a_record_breaks_the_chain_from_there(database_url, unique):
    schema = f"audit_{unique}"
    from sqlalchemy import create_engine as create_sync_engine

    with psycopg.connect(database_url) as conn:
        conn.execute(f'CREATE SCHEMA "{schema}"')
    sync_engine = create_sync_engine(sync_url(database_url))
    with sync_engine.begin() as conn:
        create_platform_tables(conn, schema)
    sync_engine.dispose()
    engine = create_engine(database_url, schema)
    sessions = session_factory(engine)
    try:
        async with sessions() as s:
            for n in range(3):
                await SqlAlchemyAuditLog(s, schema).append(entry(n))
            await s.commit()
            assert await verify_chain(s, schema) is None
        # Someone with database superuser rights disables the guard and edits record 2.
        with psycopg.connect(database_url) as conn:
            conn.execute(f'ALTER TABLE "{schema}".audit_log DISABLE TRIGGER audit_log_append_only')
            conn.execute(f"UPDATE \"{schema}\".audit_log SET actor_id = 'mallory' WHERE subject_id = 'acct-1'")
        async with sessions() as s:
            broken_at = await verify_chain(s, schema)
            second = (
                await s.execute(text(f"SELECT id FROM \"{schema}\".audit_log WHERE subject_id = 'acct-1'"))
            ).scalar_one()
        assert broken_at == second
    finally:
        await engine.dispose()
        with psycopg.connect(database_url) as conn:
            conn.execute(f'DROP SCHEMA "{schema}" CASCADE')
