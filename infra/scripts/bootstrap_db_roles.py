"""Create each service's login role and schema in Aurora and put its DATABASE_URL in Secrets Manager.

Run once after the first `terraform apply` of an environment (docs/infrastructure.md, bootstrapping
step 9), and again to rotate a service's password:

    python infra/scripts/bootstrap_db_roles.py --terraform-dir infra/terraform/envs/prod [SERVICE ...]

It needs the AWS CLI and Terraform with the environment's backend initialised. The SQL comes from
the aurora module (output `service_role_sql`) and runs as the RDS-managed master user through the
RDS Data API, so no bastion or network path into the isolated subnets is needed. The password is
set as a SCRAM-SHA-256 verifier computed here: neither the SQL text nor PostgreSQL's DDL log ever
holds it. It reaches only Secrets Manager, passed on standard input rather than the command line.
"""

from __future__ import annotations

import argparse
import base64
import hashlib
import hmac
import json
import secrets
import subprocess
import sys
from urllib.parse import quote

SCRAM_ITERATIONS = 4096


def split_sql_statements(sql: str) -> list[str]:
    """Split a script into statements on top-level semicolons; dollar-quoted bodies stay whole.

    The Data API runs one statement per call.
    """
    statements: list[str] = []
    current: list[str] = []
    in_dollar_quote = False
    for line in sql.splitlines():
        stripped = line.strip()
        if not in_dollar_quote and (not stripped or stripped.startswith("--")):
            continue
        current.append(line)
        # `$$` toggles: DO $$ ... $$; opens on one line and closes on a later one.
        if line.count("$$") % 2 == 1:
            in_dollar_quote = not in_dollar_quote
        if not in_dollar_quote and stripped.endswith(";"):
            statements.append("\n".join(current).strip().removesuffix(";"))
            current = []
    if in_dollar_quote or any(part.strip() for part in current):
        raise ValueError("the SQL ends inside a statement or a dollar-quoted body")
    return statements


def scram_sha256_verifier(password: str, salt: bytes | None = None, iterations: int = SCRAM_ITERATIONS) -> str:
    """The verifier PostgreSQL stores for a SCRAM-SHA-256 password (RFC 5802, RFC 7677)."""
    salt = secrets.token_bytes(16) if salt is None else salt
    salted = hashlib.pbkdf2_hmac("sha256", password.encode(), salt, iterations)
    client_key = hmac.new(salted, b"Client Key", hashlib.sha256).digest()
    stored_key = hashlib.sha256(client_key).digest()
    server_key = hmac.new(salted, b"Server Key", hashlib.sha256).digest()

    def b64(raw: bytes) -> str:
        return base64.b64encode(raw).decode()

    return f"SCRAM-SHA-256${iterations}:{b64(salt)}${b64(stored_key)}:{b64(server_key)}"


def role_name(service: str) -> str:
    return f"{service}_svc"


def set_password_statement(service: str, verifier: str) -> str:
    if "'" in verifier:
        raise ValueError("a SCRAM verifier never contains a quote")
    return f"ALTER ROLE {role_name(service)} PASSWORD '{verifier}'"


def database_url(service: str, password: str, host: str, database: str, port: int = 5432) -> str:
    # No sslmode in the URL: asyncpg rejects it as a keyword; the tasks set PGSSLMODE=require instead.
    return f"postgresql://{role_name(service)}:{quote(password, safe='')}@{host}:{port}/{database}"


def _run(command: list[str], stdin: str | None = None) -> str:
    completed = subprocess.run(command, input=stdin, capture_output=True, text=True, check=False)
    if completed.returncode != 0:
        raise SystemExit(f"{command[0]} {command[1]} failed: {completed.stderr.strip()}")
    return completed.stdout


def _execute(outputs: dict, database: str, sql: str) -> None:
    _run(
        [
            "aws",
            "rds-data",
            "execute-statement",
            "--resource-arn",
            outputs["aurora_cluster_arn"]["value"],
            "--secret-arn",
            outputs["aurora_master_user_secret_arn"]["value"],
            "--database",
            database,
            "--sql",
            sql,
        ]
    )


def bootstrap(outputs: dict, services: list[str], database: str) -> None:
    role_sql = outputs["service_role_sql"]["value"]
    url_secrets = outputs["service_database_url_secret_arns"]["value"]
    host = outputs["aurora_writer_endpoint"]["value"]
    for service in services:
        for statement in split_sql_statements(role_sql[service]):
            _execute(outputs, database, statement)
        password = secrets.token_urlsafe(32)
        _execute(outputs, database, set_password_statement(service, scram_sha256_verifier(password)))
        request = {"SecretId": url_secrets[service], "SecretString": database_url(service, password, host, database)}
        _run(
            ["aws", "secretsmanager", "put-secret-value", "--cli-input-json", "file:///dev/stdin"],
            stdin=json.dumps(request),
        )
        print(f"{service}: role {role_name(service)} ready, DATABASE_URL stored in {url_secrets[service]}")


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument(
        "--terraform-dir", required=True, help="an initialised environment, e.g. infra/terraform/envs/prod"
    )
    parser.add_argument("--database", default="dynasty", help="the database holding the service schemas")
    parser.add_argument("services", nargs="*", help="services to (re)create; all of them when omitted")
    args = parser.parse_args(argv)

    outputs = json.loads(_run(["terraform", f"-chdir={args.terraform_dir}", "output", "-json"]))
    services = args.services or sorted(outputs["service_role_sql"]["value"])
    unknown = set(services) - set(outputs["service_role_sql"]["value"])
    if unknown:
        parser.error(f"unknown services: {', '.join(sorted(unknown))}")
    bootstrap(outputs, services, args.database)
    return 0


if __name__ == "__main__":
    sys.exit(main())
