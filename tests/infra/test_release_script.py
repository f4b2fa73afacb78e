"""infra/scripts/release.sh, the steps CD runs, against a stand-in for the AWS CLI (tests/infra/fake_aws.py).

What is checked is what a release depends on: every service gets a new task definition revision that
differs from the running one only in the image, named by digest; a service ECS rolled back fails the
release; a failed migration stops it; and a rollback returns each service to the revision recorded
before the release.
"""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

import pytest

REPO_ROOT = Path(__file__).resolve().parents[2]
RELEASE = REPO_ROOT / "infra" / "scripts" / "release.sh"
FAKE_AWS = Path(__file__).with_name("fake_aws.py")
REPOSITORY_URL = "123456789012.dkr.ecr.us-east-1.amazonaws.com/dynasty-prod-backend"
OLD_DIGEST = "sha256:" + "0" * 64
NEW_DIGEST = "sha256:" + "a" * 64
SERVICES = ["identity", "gateway"]
READ_ONLY_FIELDS = {
    "taskDefinitionArn",
    "revision",
    "status",
    "requiresAttributes",
    "compatibilities",
    "registeredAt",
    "registeredBy",
}


def arn(family: str, revision: int) -> str:
    return f"arn:aws:ecs:us-east-1:123456789012:task-definition/{family}:{revision}"


def task_definition(family: str, revision: int, command: list[str]) -> dict:
    return {
        "taskDefinitionArn": arn(family, revision),
        "family": family,
        "revision": revision,
        "status": "ACTIVE",
        "requiresAttributes": [{"name": "ecs.capability.secrets.asm.environment-variables"}],
        "compatibilities": ["EC2", "FARGATE"],
        "registeredAt": "2026-11-20T10:00:00Z",
        "registeredBy": "arn:aws:sts::123456789012:assumed-role/terraform",
        "cpu": "512",
        "memory": "1024",
        "containerDefinitions": [
            {"name": "app", "image": f"{REPOSITORY_URL}@{OLD_DIGEST}", "command": command},
            {"name": "sidecar", "image": "public.ecr.aws/aws-observability/aws-otel-collector:v0.40.0"},
        ],
    }


class Release:
    def __init__(self, root: Path):
        self.root = root
        self.state_file = root / "aws-state.json"
        self.log_file = root / "aws-calls.log"
        bin_dir = root / "bin"
        bin_dir.mkdir()
        shim = bin_dir / "aws"
        shim.write_text(f'#!/bin/sh\nexec "{sys.executable}" "{FAKE_AWS}" "$@"\n')
        shim.chmod(0o755)
        self.environment = {
            "PATH": f"{bin_dir}{os.pathsep}{os.environ['PATH']}",
            "FAKE_AWS_STATE": str(self.state_file),
            "FAKE_AWS_LOG": str(self.log_file),
            "AWS_REGION": "us-east-1",
            "CLUSTER": "dynasty-prod",
            "REPOSITORY": "dynasty-prod-backend",
            "SERVICES": " ".join(SERVICES),
            "MIGRATING_SERVICES": "identity",
            "SUBNETS": "subnet-a,subnet-b",
            "SECURITY_GROUP": "sg-app",
            "IMAGE_DIGEST": NEW_DIGEST,
            "GIT_SHA": "abc123",
            "STATE_DIR": str(root),
        }
        families = {
            f"dynasty-prod-{name}": {"7": task_definition(f"dynasty-prod-{name}", 7, [name])} for name in SERVICES
        }
        families["dynasty-prod-migrate-identity"] = {
            "1": task_definition(
                "dynasty-prod-migrate-identity", 1, ["python", "-m", "libs.platform.migrate", "identity"]
            )
        }
        self.write_state(
            {
                "task_definitions": families,
                "running": {name: arn(f"dynasty-prod-{name}", 7) for name in SERVICES},
                "tags": [{"key": "Project", "value": "dynasty"}],
                "migration_exit_codes": {},
            }
        )

    def write_state(self, state: dict) -> None:
        self.state_file.write_text(json.dumps(state))

    def state(self) -> dict:
        return json.loads(self.state_file.read_text())

    def update_state(self, **changes) -> None:
        self.write_state(self.state() | changes)

    def calls(self) -> list[list[str]]:
        return [json.loads(line) for line in self.log_file.read_text().splitlines()]

    def run(self, step: str) -> subprocess.CompletedProcess[str]:
        return subprocess.run(
            ["bash", str(RELEASE), step], env=self.environment, capture_output=True, text=True, timeout=60
        )


@pytest.fixture
def release(tmp_path: Path) -> Release:
    return Release(tmp_path)


def test_record_current_remembers_the_running_revision_of_every_service(release):
    assert release.run("record-current").returncode == 0
    recorded = (release.root / "previous-task-definitions").read_text().split("\n")
    assert recorded[:2] == [f"identity {arn('dynasty-prod-identity', 7)}", f"gateway {arn('dynasty-prod-gateway', 7)}"]


def test_deploy_registers_a_revision_per_service_that_only_changes_the_image_to_the_digest(release):
    assert release.run("record-current").returncode == 0
    result = release.run("deploy")
    assert result.returncode == 0, result.stderr

    state = release.state()
    registered = {definition["family"]: definition for definition in state["registered"]}
    assert set(registered) == {"dynasty-prod-identity", "dynasty-prod-gateway"}
    for name in SERVICES:
        definition = registered[f"dynasty-prod-{name}"]
        assert not READ_ONLY_FIELDS & set(definition)
        app, sidecar = definition["containerDefinitions"]
        assert app == {"name": "app", "image": f"{REPOSITORY_URL}@{NEW_DIGEST}", "command": [name]}
        assert sidecar["image"].startswith("public.ecr.aws/")  # images from elsewhere are left alone
        assert (definition["cpu"], definition["memory"]) == ("512", "1024")
        assert definition["tags"] == [{"key": "Project", "value": "dynasty"}]
    assert state["updates"] == [[name, arn(f"dynasty-prod-{name}", 8)] for name in SERVICES]


def test_deploy_fails_when_the_circuit_breaker_rolled_a_service_back(release):
    release.update_state(roll_back=["gateway"])
    assert release.run("record-current").returncode == 0
    result = release.run("deploy")
    assert result.returncode != 0
    assert "gateway did not roll out" in result.stderr
    assert "identity did not roll out" not in result.stderr


def test_rollback_returns_every_service_to_its_recorded_revision(release):
    assert release.run("record-current").returncode == 0
    assert release.run("deploy").returncode == 0
    assert release.run("rollback").returncode == 0
    updates = release.state()["updates"]
    assert updates[-2:] == [[name, arn(f"dynasty-prod-{name}", 7)] for name in SERVICES]
    assert release.state()["running"] == {name: arn(f"dynasty-prod-{name}", 7) for name in SERVICES}


def test_rollback_without_a_recorded_release_refuses(release):
    result = release.run("rollback")
    assert result.returncode != 0
    assert "nothing recorded" in result.stderr


def test_migrations_run_on_the_new_image_in_private_subnets(release):
    result = release.run("migrate")
    assert result.returncode == 0, result.stderr
    (migration,) = release.state()["registered"]
    assert migration["family"] == "dynasty-prod-migrate-identity"
    assert migration["containerDefinitions"][0]["image"] == f"{REPOSITORY_URL}@{NEW_DIGEST}"
    (run_task,) = [call for call in release.calls() if call[:2] == ["ecs", "run-task"]]
    network = run_task[run_task.index("--network-configuration") + 1]
    assert "subnets=[subnet-a,subnet-b]" in network
    assert "securityGroups=[sg-app]" in network
    assert "assignPublicIp=DISABLED" in network


def test_a_failed_migration_stops_the_release(release):
    release.update_state(migration_exit_codes={"dynasty-prod-migrate-identity": 3})
    result = release.run("migrate")
    assert result.returncode != 0
    assert "migration of identity failed (exit 3)" in result.stderr


def test_an_unknown_step_is_refused_with_the_list_of_steps(release):
    result = release.run("ship-it")
    assert result.returncode == 2
    assert "build-and-push|record-current|migrate|deploy|smoke-test|rollback" in result.stderr
