"""A stand-in for the few AWS CLI calls infra/scripts/release.sh makes, for tests on a machine with no AWS.

It keeps ECS's side of the conversation in a JSON file (FAKE_AWS_STATE): task definitions by family,
which revision each service runs, what migration tasks exit with, and which services ECS's circuit
breaker will roll back. Every call is appended to FAKE_AWS_LOG, one JSON list of arguments a line.
Only the arguments the script uses are understood; anything else fails loudly.
"""

from __future__ import annotations

import json
import os
import sys
from pathlib import Path

ACCOUNT = "123456789012"
REGION = "us-east-1"


def option(args: list[str], name: str) -> str:
    return args[args.index(name) + 1]


def task_definition_arn(family: str, revision: int) -> str:
    return f"arn:aws:ecs:{REGION}:{ACCOUNT}:task-definition/{family}:{revision}"


def family_and_revision(reference: str) -> tuple[str, int | None]:
    name = reference.rsplit("/", 1)[-1]
    if ":" in name:
        family, revision = name.split(":")
        return family, int(revision)
    return name, None


def main(args: list[str]) -> int:
    state_path = Path(os.environ["FAKE_AWS_STATE"])
    state = json.loads(state_path.read_text())
    with open(os.environ["FAKE_AWS_LOG"], "a") as log:
        log.write(json.dumps(args) + "\n")

    service, command = args[0], args[1]
    if (service, command) == ("sts", "get-caller-identity"):
        print(ACCOUNT)
    elif (service, command) == ("ecs", "describe-task-definition"):
        family, revision = family_and_revision(option(args, "--task-definition"))
        revisions = state["task_definitions"][family]
        definition = revisions[str(revision)] if revision else revisions[max(revisions, key=int)]
        if "--query" in args:  # --query tags
            print(json.dumps(state.get("tags", [])))
        else:
            print(json.dumps({"taskDefinition": definition, "tags": state.get("tags", [])}))
    elif (service, command) == ("ecs", "register-task-definition"):
        rendered = json.loads(Path(option(args, "--cli-input-json").removeprefix("file://")).read_text())
        revisions = state["task_definitions"].setdefault(rendered["family"], {})
        revision = max((int(r) for r in revisions), default=0) + 1
        stored = dict(rendered, revision=revision, taskDefinitionArn=task_definition_arn(rendered["family"], revision))
        revisions[str(revision)] = stored
        state.setdefault("registered", []).append(rendered)
        print(stored["taskDefinitionArn"])
    elif (service, command) == ("ecs", "update-service"):
        name, arn = option(args, "--service"), option(args, "--task-definition")
        state.setdefault("updates", []).append([name, arn])
        if name not in state.get("roll_back", []):
            state["running"][name] = arn
    elif (service, command) == ("ecs", "wait"):
        pass
    elif (service, command) == ("ecs", "describe-services"):
        name = option(args, "--services")
        query = option(args, "--query")
        if "rolloutState" in query:
            print("COMPLETED" if name not in state.get("roll_back", []) else "FAILED")
        else:
            print(state["running"][name])
    elif (service, command) == ("ecs", "run-task"):
        family, _ = family_and_revision(option(args, "--task-definition"))
        task = f"arn:aws:ecs:{REGION}:{ACCOUNT}:task/dynasty-prod/{family}"
        state.setdefault("tasks", {})[task] = state["migration_exit_codes"].get(family, 0)
        print(task)
    elif (service, command) == ("ecs", "describe-tasks"):
        task = option(args, "--tasks")
        query = option(args, "--query")
        print("STOPPED" if "lastStatus" in query else state["tasks"][task])
    else:
        print(f"fake aws does not know: {' '.join(args)}", file=sys.stderr)
        return 2
    state_path.write_text(json.dumps(state))
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
