"""The body of every service's migrations/env.py: run migrations inside the service's own schema."""

from __future__ import annotations

from alembic import context
from sqlalchemy import create_engine, pool, text


def run(schema: str) -> None:
    config = context.config
    url = config.get_main_option("sqlalchemy.url")
    engine = create_engine(url, poolclass=pool.NullPool)
    with engine.connect() as connection:
        # Serialise concurrent migrators (several replicas starting at once) on this schema.
        connection.execute(text("SELECT pg_advisory_lock(hashtext(:k))"), {"k": f"migrate:{schema}"})
        connection.execute(text(f'CREATE SCHEMA IF NOT EXISTS "{schema}"'))
        connection.execute(text(f'SET search_path TO "{schema}"'))
        connection.commit()
        context.configure(
            connection=connection,
            version_table_schema=schema,
            include_schemas=False,
            transaction_per_migration=True,
        )
        with context.begin_transaction():
            context.run_migrations()
        connection.commit()
        connection.execute(text("SELECT pg_advisory_unlock(hashtext(:k))"), {"k": f"migrate:{schema}"})
        connection.commit()
    engine.dispose()
