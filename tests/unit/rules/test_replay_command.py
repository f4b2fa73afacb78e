"""The replay command: prints the result JSON, and refuses bad files with exit 2 and one line naming the
problem."""

from __future__ import annotations

import copy
import json
import subprocess
import sys
from pathlib import Path

import pytest

from services.rules.replay import main
from tests.acceptance.scenario_expectations import mismatches

REPO = Path(__file__).resolve().parents[3]

GOOD = {
    "name": "refusal base",
    "rule_set": {
        "start_balance": "50000.00",
        "drawdown": {"mode": "static", "max_loss": "2000.00", "lock": {"kind": "none"}},
    },
    "events": [
        {
            "type": "fill",
            "at": "2026-02-02T09:00:00-06:00",
            "symbol": "ES",
            "side": "buy",
            "qty": 1,
            "price": "5000",
        },
        {"type": "mark", "at": "2026-02-02T09:05:00-06:00", "symbol": "ES", "price": "5001.25"},
    ],
}


def _write(tmp_path: Path, document: object) -> Path:
    path = tmp_path / "scenario.json"
    path.write_text(document if isinstance(document, str) else json.dumps(document), encoding="utf-8")
    return path


def test_a_good_file_prints_the_result_and_exits_zero(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    assert main([str(_write(tmp_path, GOOD))]) == 0
    result = json.loads(capsys.readouterr().out)
    assert result["equity"] == "50062.50"
    assert result["positions"] == [{"symbol": "ES", "qty": 1, "avg_price": "5000"}]


def _broken(path: tuple, value: object) -> dict:
    document = copy.deepcopy(GOOD)
    target = document
    for key in path[:-1]:
        target = target[key]
    if value is KeyError:
        del target[path[-1]]
    else:
        target[path[-1]] = value
    return document


@pytest.mark.parametrize(
    ("document", "words"),
    [
        ('{"rule_set": {', ["malformed JSON", "line 1"]),
        (_broken(("events", 1, "price"), KeyError), ["event 1", "price"]),
        (_broken(("events", 0, "symbol"), "XX"), ["event 0", "unknown symbol", "XX"]),
        (_broken(("events", 1, "price"), "12,5"), ["event 1", "not a decimal"]),
        (_broken(("events", 1, "at"), "2026-02-02T09:05:00"), ["event 1", "no UTC offset"]),
        (_broken(("events", 0, "qty"), 0), ["event 0", "positive"]),
        (_broken(("events", 0, "qty"), -2), ["event 0", "positive"]),
        (_broken(("events", 1, "at"), "2026-02-02T08:59:00-06:00"), ["event 1", "earlier", "time order"]),
        (
            _broken(("rule_set", "drawdown", "max_loss"), "lots"),
            ["rule_set.drawdown.max_loss", "not a decimal"],
        ),
        (_broken(("rule_set", "start_balance"), KeyError), ["rule_set.start_balance", "missing"]),
        (_broken(("rule_set", "drawdown", "mode"), "trailing"), ["rule_set.drawdown.mode", "static"]),
    ],
    ids=[
        "malformed",
        "missing-field",
        "unknown-symbol",
        "non-decimal",
        "no-offset",
        "zero-qty",
        "negative-qty",
        "out-of-order",
        "bad-rule-amount",
        "missing-rule-field",
        "bad-enum",
    ],
)
def test_a_refused_file_exits_two_with_one_line_naming_the_problem(
    tmp_path: Path, capsys: pytest.CaptureFixture[str], document: object, words: list[str]
) -> None:
    assert main([str(_write(tmp_path, document))]) == 2
    captured = capsys.readouterr()
    assert captured.out == ""
    lines = captured.err.strip().splitlines()
    assert len(lines) == 1
    for word in words:
        assert word in lines[0]


def test_the_module_runs_as_a_command_without_traceback(tmp_path: Path) -> None:
    path = _write(tmp_path, _broken(("events", 0, "symbol"), "XX"))
    completed = subprocess.run(
        [sys.executable, "-m", "services.rules.replay", str(path)],
        cwd=REPO,
        capture_output=True,
        text=True,
        check=False,
    )
    assert completed.returncode == 2
    assert "Traceback" not in completed.stderr
    assert completed.stderr.count("\n") == 1


def test_the_expectation_matcher_reports_a_wrong_figure_and_a_missing_entry() -> None:
    result = {"balance": "100.00", "timeline": [{"kind": "eod", "at": "2026-02-02T16:00:00-06:00"}]}
    assert mismatches({"balance": "100"}, result) == []
    assert mismatches({"timeline_contains": [{"kind": "eod", "at": "2026-02-02T22:00:00+00:00"}]}, result) == []
    assert mismatches({"balance": "100.01"}, result) != []
    assert mismatches({"timeline_contains": [{"kind": "breach"}]}, result) != []
    assert mismatches({"timeline_excludes": [{"kind": "eod"}]}, result) != []
