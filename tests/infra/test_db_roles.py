"""The per-service database roles that infra/scripts/bootstrap_db_roles.py creates in Aurora.

The SQL is the aurora module's template, run here against the real PostgreSQL of the test suite: a
service role may build and use tables in its own schema and touches nothing else. The password is
set as a SCRAM-SHA-256 verifier computed by the script, checked against RFC 7677's worked example
and against what PostgreSQL stores.
"""

from __future__ import annotations

import base64
import hashlib
import hmac
import uuid
from pathlib import Path

import psycopg
import pytest
from sqlalchemy.engine import make_url

from infra.scripts.bootstrap_db_roles import (
    database_url,
    role_name,
    scram_sha256_verifier,
    set_password_statement,
    split_sql_statements,
)
from libs.platform.db import sync_url

TEMPLATE = Path(__file__).resolve().parents[2] / "infra/terraform/modules/aurora/sql/service_role.sql.tftpl"


def render(service: str, database: str) -> str:
    """What Terraform's templatefile() makes of the template (it has no other interpolation)."""
    text = TEMPLATE.read_text()
    assert text.count("${") == text.count("${service}") + text.count("${database}")
    return text.replace("${service}", service).replace("${database}", database)


def conninfo(url: str) -> str:
    return make_url(sync_url(url)).set(drivername="postgresql").render_as_string(hide_password=False)


def test_the_template_splits_into_statements_with_the_do_block_whole():
    statements = split_sql_statements(render("identity", "dynasty"))
    assert statements[0].startswith("DO $$") and statements[0].endswith("$$")
    assert "CREATE ROLE identity_svc LOGIN;" in statements[0]
    assert not any(statement.rstrip().endswith(";") for statement in statements)
    assert any(
        statement.startswith("CREATE SCHEMA IF NOT EXISTS identity AUTHORIZATION identity_svc")
        for statement in statements
    )


def test_an_unterminated_script_is_refused():
    with pytest.raises(ValueError, match="ends inside"):
        split_sql_statements("DO $$\nBEGIN\n  SELECT 1;\n")


def test_the_scram_verifier_matches_rfc_7677():
    # RFC 7677 section 3: user "user", password "pencil", this salt and nonce, 4096 iterations.
    salt = base64.b64decode("W22ZaJ0SNY7soEsUEjb6gQ==")
    verifier = scram_sha256_verifier("pencil", salt, 4096)
    _, iterations_and_salt, keys = verifier.split("$")
    assert iterations_and_salt == "4096:W22ZaJ0SNY7soEsUEjb6gQ=="
    stored_key, server_key = (base64.b64decode(key) for key in keys.split(":"))
    auth_message = (
        b"n=user,r=rOprNGfwEbeRWgbNEkqO,"
        b"r=rOprNGfwEbeRWgbNEkqO%hvYDpWUa2RaTCAfuxFIlj)hNlF$k0,s=W22ZaJ0SNY7soEsUEjb6gQ==,i=4096,"
        b"c=biws,r=rOprNGfwEbeRWgbNEkqO%hvYDpWUa2RaTCAfuxFIlj)hNlF$k0"
    )
    server_signature = hmac.new(server_key, auth_message, hashlib.sha256).digest()
    assert base64.b64encode(server_signature).decode() == "6rriTRBi23WpRR/wtup+mMhUZUn/dB5nLTJRsjl95G4="
    salted = hashlib.pbkdf2_hmac("sha256", b"pencil", salt, 4096)
    client_key = hmac.new(salted, b"Client Key", hashlib.sha256).digest()
    client_signature = hmac.new(stored_key, auth_message, hashlib.sha256).digest()
    proof = bytes(a ^ b for a, b in zip(client_key, client_signature, strict=True))
    assert base64.b64encode(proof).decode() == "dHzbZapWIk4jUhN+Ute9ytag9zjfMHgsqmmiz7AndVQ="


def test_the_database_url_escapes_the_password_and_carries_no_ssl_keyword():
    url = database_url("payouts", "a/b+c=d", "writer.example", "dynasty")
    assert url == "postgresql://payouts_svc:a%2Fb%2Bc%3Dd@writer.example:5432/dynasty"


@pytest.fixture
def probe_service(database_url: str):
    """A throwaway service name whose role and schema are removed afterwards."""
    service = f"probe{uuid.uuid4().hex[:8]}"
    other_schema = f"other{uuid.uuid4().hex[:8]}"
    with psycopg.connect(conninfo(database_url), autocommit=True) as admin:
        database = admin.execute("SELECT current_database()").fetchone()[0]
        admin.execute(f"CREATE SCHEMA {other_schema}")
        admin.execute(f"CREATE TABLE {other_schema}.secrets (value text)")
        yield admin, service, database, other_schema
        admin.execute(f"DROP SCHEMA IF EXISTS {other_schema} CASCADE")
        if admin.execute("SELECT 1 FROM pg_roles WHERE rolname = %s", (role_name(service),)).fetchone():
            # DROP OWNED removes the role's schema and revokes its grant on the database.
            admin.execute(f"DROP OWNED BY {role_name(service)} CASCADE")
            admin.execute(f"DROP ROLE {role_name(service)}")


def test_a_service_role_owns_its_schema_and_nothing_else(probe_service):
    admin, service, database, other_schema = probe_service
    for statement in split_sql_statements(render(service, database)):
        admin.execute(statement)
    # Running it twice (a password rotation re-runs the script) changes nothing.
    for statement in split_sql_statements(render(service, database)):
        admin.execute(statement)

    with admin.transaction(force_rollback=True):
        admin.execute(f"SET LOCAL ROLE {role_name(service)}")
        admin.execute(f"CREATE TABLE {service}.accounts (id int primary key)")
        admin.execute(f"INSERT INTO {service}.accounts VALUES (1)")
        assert admin.execute(f"SELECT count(*) FROM {service}.accounts").fetchone() == (1,)
    # Unqualified names resolve in the service's own schema once it logs in.
    settings = admin.execute("SELECT rolconfig FROM pg_roles WHERE rolname = %s", (role_name(service),)).fetchone()
    assert settings == ([f"search_path={service}"],)

    for forbidden in (
        f"SELECT * FROM {other_schema}.secrets",
        "CREATE TABLE public.stray (id int)",
        f"CREATE SCHEMA {service}_extra",
    ):
        with pytest.raises(psycopg.errors.InsufficientPrivilege), admin.transaction(force_rollback=True):
            admin.execute(f"SET LOCAL ROLE {role_name(service)}")
            admin.execute(forbidden)


def test_postgresql_stores_the_scram_verifier_as_given(probe_service):
    admin, service, database, _ = probe_service
    for statement in split_sql_statements(render(service, database)):
        admin.execute(statement)
    verifier = scram_sha256_verifier("correct horse battery staple")
    admin.execute(set_password_statement(service, verifier))
    stored = admin.execute("SELECT rolpassword FROM pg_authid WHERE rolname = %s", (role_name(service),)).fetchone()
    # A string PostgreSQL did not recognise as a verifier would have been hashed as a plain password.
    assert stored == (verifier,)
