"""Replay every scenario (the shared ones beside the checkout and ours) and compare it with its ``expect``."""

from __future__ import annotations

import json
from decimal import Decimal
from pathlib import Path

import pytest

from services.rules.replay import replay_text
from tests.acceptance.scenario_expectations import mismatches

SHARED_SCENARIOS = Path(__file__).resolve().parents[2] / ".." / "shared" / "scenarios"
OWN_SCENARIOS = Path(__file__).resolve().parent / "scenarios"


def _scenario_files(folder: Path) -> list[Path]:
    return sorted(folder.glob("*.json"))


def test_the_shared_scenarios_are_there_to_replay() -> None:
    assert len(_scenario_files(SHARED_SCENARIOS)) >= 6


@pytest.mark.parametrize(
    "path", _scenario_files(SHARED_SCENARIOS) + _scenario_files(OWN_SCENARIOS), ids=lambda path: path.stem
)
def test_scenario_replays_to_its_expectation(path: Path) -> None:
    text = path.read_text(encoding="utf-8")
    expect = json.loads(text, parse_float=Decimal)["expect"]
    result = replay_text(text)
    assert mismatches(expect, result) == [], json.dumps(result, indent=1, default=str)
