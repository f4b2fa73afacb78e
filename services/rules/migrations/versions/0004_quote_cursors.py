"""Quote cursors (ADR 0068): per symbol, the latest applied quote, so that a quote no longer writes the row of every
account holding its symbol; and a change sequence on risk states, so that the group commit keeps the directory of
who holds what in memory, reading only the rows changed since its last batch.

An account's current state is its snapshot plus the stored applied quotes of its held symbols after the snapshot's
event, up to max(its own last event, the cursors of its held symbols). Existing rows were touched by every quote,
so they already describe every applied quote: the cursors start at the latest applied quote of each symbol, which no
account's state lies beyond. One row per listed instrument is seeded so that a writer's FOR SHARE on the cursors of
the symbols it holds always finds a row to lock.

Revision ID: rules_0004
Revises: rules_0003
"""

import sqlalchemy as sa
from alembic import op

from libs.domain.instruments import INSTRUMENTS

revision = "rules_0004"
down_revision = "rules_0003"
branch_labels = None
depends_on = None

SCHEMA = "rules"


def upgrade() -> None:
    op.create_table(
        "quote_cursors",
        sa.Column("symbol", sa.String(16), primary_key=True),
        sa.Column("quote_at", sa.DateTime(timezone=True), nullable=True),
        sa.Column("quote_row", sa.BigInteger(), nullable=True),
        schema=SCHEMA,
    )
    seeded = sa.table("quote_cursors", sa.column("symbol", sa.String), schema=SCHEMA)
    op.bulk_insert(seeded, [{"symbol": symbol} for symbol in sorted(INSTRUMENTS)])
    op.execute(
        """
        UPDATE rules.quote_cursors AS c SET quote_at = q.exchange_at, quote_row = q.id
        FROM (
            SELECT DISTINCT ON (symbol) symbol, e.exchange_at, e.id
            FROM rules.trade_events AS e, unnest(e.symbols) AS symbol
            WHERE e.event_type = 'quote' AND e.outcome = 'applied'
            ORDER BY symbol, e.exchange_at DESC, e.id DESC
        ) AS q
        WHERE c.symbol = q.symbol
        """
    )

    # Every insert and update of a risk state takes the next number, whoever writes it (a trigger, so no writer can
    # forget, and no column default, which the schema check could not compare): the group commit reads the rows
    # changed since the last number it saw.
    op.execute("CREATE SEQUENCE rules.risk_state_changes")
    op.add_column("risk_states", sa.Column("change_seq", sa.BigInteger(), nullable=True), schema=SCHEMA)
    op.execute("UPDATE rules.risk_states SET change_seq = nextval('rules.risk_state_changes')")
    op.alter_column("risk_states", "change_seq", nullable=False, schema=SCHEMA)
    op.create_index("ix_risk_states_change_seq", "risk_states", ["change_seq"], schema=SCHEMA)
    # A late quote also re-evaluates the accounts flat now whose state was saved after it (a breach's liquidation
    # closed a position held at the quote's instant): found through this index.
    op.create_index(
        "ix_risk_states_flat_saved",
        "risk_states",
        ["saved_event_at"],
        schema=SCHEMA,
        postgresql_where=sa.text("held_symbols = '{}'"),
    )
    op.execute(
        """
        CREATE FUNCTION rules.risk_state_changed() RETURNS trigger LANGUAGE plpgsql AS $$
        BEGIN
            NEW.change_seq := nextval('rules.risk_state_changes');
            RETURN NEW;
        END
        $$
        """
    )
    op.execute(
        "CREATE TRIGGER risk_state_changed BEFORE INSERT OR UPDATE ON rules.risk_states "
        "FOR EACH ROW EXECUTE FUNCTION rules.risk_state_changed()"
    )
    # Whether quotes judge an account is its status in monitored_accounts: a change of it, by any writer, moves the
    # risk state's version (and so its change number), so caches and the directory of holders learn it.
    op.execute(
        """
        CREATE FUNCTION rules.monitoring_status_changed() RETURNS trigger LANGUAGE plpgsql AS $$
        BEGIN
            UPDATE rules.risk_states SET state_version = state_version + 1 WHERE account_id = NEW.account_id;
            RETURN NULL;
        END
        $$
        """
    )
    op.execute(
        "CREATE TRIGGER monitoring_status_changed AFTER UPDATE OF status ON rules.monitored_accounts "
        "FOR EACH ROW WHEN (OLD.status IS DISTINCT FROM NEW.status) "
        "EXECUTE FUNCTION rules.monitoring_status_changed()"
    )


def downgrade() -> None:
    op.execute("DROP TRIGGER monitoring_status_changed ON rules.monitored_accounts")
    op.execute("DROP FUNCTION rules.monitoring_status_changed()")
    op.execute("DROP TRIGGER risk_state_changed ON rules.risk_states")
    op.execute("DROP FUNCTION rules.risk_state_changed()")
    op.drop_index("ix_risk_states_flat_saved", "risk_states", schema=SCHEMA)
    op.drop_index("ix_risk_states_change_seq", "risk_states", schema=SCHEMA)
    op.drop_column("risk_states", "change_seq", schema=SCHEMA)
    op.execute("DROP SEQUENCE rules.risk_state_changes")
    # The old code reads last_event_* alone: move every holder's last event to the cursors it stands behind, which
    # is what the old code's touch would have written.
    op.execute(
        """
        UPDATE rules.risk_states AS s SET last_event_at = c.quote_at, last_event_row = c.quote_row
        FROM (
            SELECT DISTINCT ON (s2.account_id) s2.account_id, c2.quote_at, c2.quote_row
            FROM rules.risk_states AS s2 JOIN rules.quote_cursors AS c2 ON c2.symbol = ANY(s2.held_symbols)
            WHERE c2.quote_row IS NOT NULL
            ORDER BY s2.account_id, c2.quote_at DESC, c2.quote_row DESC
        ) AS c
        WHERE s.account_id = c.account_id
            AND (s.last_event_row IS NULL OR (c.quote_at, c.quote_row) > (s.last_event_at, s.last_event_row))
        """
    )
    op.drop_table("quote_cursors", schema=SCHEMA)
