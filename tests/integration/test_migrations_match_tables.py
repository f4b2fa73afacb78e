"""Every service's migrations build exactly the schema its tables.py describes (ADR 0065).

The adapters query through the SQLAlchemy Core tables in services/<name>/adapters/sql; production gets its schema
from Alembic. If the two drift (a column added to tables.py without a migration, or a migration built from tables.py
that changes whenever tables.py does) the code is tested against one schema and runs against another. Each test
migrates a fresh database of its own to head and runs Alembic's autogenerate comparison against the service's
metadata plus the platform tables (outbox, inbox, audit log, idempotency keys) that every schema carries: no
differences allowed, beyond the few objects listed below that tables.py deliberately does not declare.
"""

from __future__ import annotations

import importlib
import uuid

import psycopg
import pytest
from alembic.autogenerate import compare_metadata
from alembic.migration import MigrationContext
from sqlalchemy import Column, Integer, MetaData, create_engine, inspect, pool

from libs.platform.db import sync_url
from libs.platform.migrate import SERVICES, downgrade, upgrade
from libs.platform.tables import platform_tables

# The modules whose import registers each service's tables on its metadata.
TABLE_MODULES = {
    "identity": ("services.identity.adapters.sql.tables", "services.identity.adapters.sql.kyc_tables"),
    "challenges": ("services.challenges.adapters.sql.tables",),
    "rules": ("services.rules.adapters.sql.tables",),
    "payouts": (),
}

# Database objects a migration creates on purpose that tables.py does not declare, with the reason. Anything else
# the comparison finds is drift.
DATABASE_ONLY_INDEXES = {
    # GIN over an array: only the planner uses it (for `held_symbols && :symbols`), the adapters never name it.
    ("rules", "ix_risk_states_held_symbols"),
}


def expected_metadata(service: str) -> MetaData:
    combined = MetaData(schema=service)
    for table in platform_tables(service).values():
        table.to_metadata(combined)
    for module_name in TABLE_MODULES[service]:
        module = importlib.import_module(module_name)
        for table in module.metadata.tables.values():
            if table.key not in combined.tables:
                table.to_metadata(combined)
    return combined


@pytest.fixture
def fresh_database(database_url):
    """A database of the test's own on the same server: migrations start from nothing, not from the shared one."""
    name = f"migcheck_{uuid.uuid4().hex[:12]}"
    with psycopg.connect(database_url, autocommit=True) as conn:
        conn.execute(f'CREATE DATABASE "{name}"')
    base = database_url.partition("?")[0].rpartition("/")[0]
    yield f"{base}/{name}"
    with psycopg.connect(database_url, autocommit=True) as conn:
        conn.execute(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')


def schema_differences(url: str, service: str, expected: MetaData | None = None) -> list:
    engine = create_engine(sync_url(url), poolclass=pool.NullPool)
    expected = expected if expected is not None else expected_metadata(service)
    # Once tables.py declares one of the database-only indexes it is compared like any other.
    declared = {index.name for table in expected.tables.values() for index in table.indexes}

    def include_name(name, type_, parent_names):
        if type_ == "schema":
            return name == service
        if type_ == "table":
            return name != "alembic_version"
        if type_ == "index":
            return (service, name) not in DATABASE_ONLY_INDEXES or name in declared
        return True

    try:
        with engine.connect() as connection:
            context = MigrationContext.configure(
                connection,
                opts={
                    "include_schemas": True,
                    "include_name": include_name,
                    "compare_type": True,
                    "compare_server_default": True,
                },
            )
            return compare_metadata(context, expected)
    finally:
        engine.dispose()


def flatten(differences: list) -> list[tuple]:
    # compare_metadata nests column modifications in lists; everything else is a tuple.
    flat: list[tuple] = []
    for difference in differences:
        flat.extend(difference if isinstance(difference, list) else [difference])
    return flat


def is_database_only(difference: tuple) -> bool:
    """Something the database enforces that a query-view tables.py does not declare (never a contradiction)."""
    kind = difference[0]
    if kind in {"remove_fk", "remove_index", "remove_constraint"}:
        return True
    # ("modify_default", schema, table, column, existing, database default, declared default)
    return kind == "modify_default" and difference[-1] is None


@pytest.mark.parametrize("service", SERVICES)
def test_migrating_to_head_builds_the_tables_and_columns_the_adapters_declare(fresh_database, service):
    upgrade(service, fresh_database)

    differences = flatten(schema_differences(fresh_database, service))

    # Every table and column the adapters declare exists with that type, nullability and default. Identity's and
    # challenges' tables.py are query views that leave foreign keys, some indexes and defaults to the migrations,
    # so for them only those database-only extras are tolerated.
    contradictions = [d for d in differences if not is_database_only(d)]
    assert contradictions == [], f"{service}: migrations and tables.py disagree: {contradictions}"


@pytest.mark.parametrize("service", ["rules", "payouts"])
def test_the_services_whose_tables_py_is_complete_match_it_object_for_object(fresh_database, service):
    # rules (and payouts, platform tables only) declare every index, unique constraint and default in tables.py:
    # there nothing may differ but the listed database-only indexes.
    upgrade(service, fresh_database)

    assert flatten(schema_differences(fresh_database, service)) == []


def test_the_comparison_notices_a_column_the_migrations_never_created(fresh_database):
    # Proves the check above can fail: a column declared in tables.py but never migrated is reported.
    upgrade("rules", fresh_database)
    expected = expected_metadata("rules")
    expected.tables["rules.news_events"].append_column(Column("drift_probe", Integer))

    differences = schema_differences(fresh_database, "rules", expected)

    assert [(d[0], d[2], d[3].name) for d in differences] == [("add_column", "news_events", "drift_probe")]


def test_rules_0002_downgrades_to_the_platform_tables_and_upgrades_again(fresh_database):
    upgrade("rules", fresh_database, "rules_0002")
    engine = create_engine(sync_url(fresh_database), poolclass=pool.NullPool)
    try:
        with engine.connect() as connection:
            created = set(inspect(connection).get_table_names(schema="rules"))
        assert {"monitored_accounts", "trade_events", "news_events", "violations"} <= created

        downgrade("rules", fresh_database, "rules_0001")
        with engine.connect() as connection:
            left = set(inspect(connection).get_table_names(schema="rules"))
        assert left == {"alembic_version", "outbox", "inbox", "audit_log", "idempotency_keys"}

        upgrade("rules", fresh_database, "rules_0002")
        with engine.connect() as connection:
            again = inspect(connection)
            assert set(again.get_table_names(schema="rules")) == created
            assert "ix_risk_states_held_symbols" in {i["name"] for i in again.get_indexes("risk_states", "rules")}
    finally:
        engine.dispose()


def test_rules_0004_downgrades_to_touched_rows_and_upgrades_again(fresh_database):
    # The quote cursors' migration (ADR 0068) undoes cleanly (its tables, column, triggers and sequence) and builds
    # the same schema again.
    upgrade("rules", fresh_database)
    engine = create_engine(sync_url(fresh_database), poolclass=pool.NullPool)
    try:
        downgrade("rules", fresh_database, "rules_0003")
        with engine.connect() as connection:
            assert "quote_cursors" not in inspect(connection).get_table_names(schema="rules")
            assert "change_seq" not in {c["name"] for c in inspect(connection).get_columns("risk_states", "rules")}
        upgrade("rules", fresh_database)
        assert flatten(schema_differences(fresh_database, "rules")) == []
    finally:
        engine.dispose()
