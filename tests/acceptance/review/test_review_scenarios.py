"""Independent review of the rules engine against shared/rules-spec.md.

Each JSON file beside this one pins one rule or boundary of the spec with figures computed by hand (the file's
``note`` shows the arithmetic); it is replayed through the replay module and compared with its ``expect`` block
by the same matcher as the shared scenarios. The D files were disputed (the engine disagreed with the spec)
until the engine was fixed and ADRs 0015, 0018 and 0019 settled the readings.

The refusal cases run ``python -m services.rules.replay``'s ``main`` on files the replay must refuse: exit 2 and
one line on stderr that names the problem and, for an event, its index.
"""

from __future__ import annotations

import copy
import json
from datetime import datetime
from decimal import Decimal
from pathlib import Path
from typing import Any

import pytest

from services.rules.replay import EXIT_REFUSED, main, replay_text
from tests.acceptance.scenario_expectations import mismatches

REVIEW_SCENARIOS = sorted(Path(__file__).resolve().parent.glob("*.json"))


def test_the_review_scenarios_are_there() -> None:
    assert len(REVIEW_SCENARIOS) >= 40


@pytest.mark.parametrize("path", REVIEW_SCENARIOS, ids=lambda path: path.stem)
def test_review_scenario_replays_to_its_hand_computed_expectation(path: Path) -> None:
    text = path.read_text(encoding="utf-8")
    expect = json.loads(text, parse_float=Decimal)["expect"]
    result = replay_text(text)
    assert mismatches(expect, result) == [], json.dumps(result, indent=1, default=str)


@pytest.mark.parametrize("path", REVIEW_SCENARIOS, ids=lambda path: path.stem)
def test_review_scenario_timeline_is_in_time_order_with_offsets_and_decimal_strings(path: Path) -> None:
    # shared/scenarios/README.md: entries "in time order", `at` with an offset, decimal figures as strings.
    result = replay_text(path.read_text(encoding="utf-8"))
    instants = [datetime.fromisoformat(entry["at"]) for entry in result["timeline"]]
    assert all(instant.utcoffset() is not None for instant in instants)
    assert instants == sorted(instants)
    for name in ("balance", "equity", "floor", "high_water_mark"):
        assert isinstance(result[name], str)
        Decimal(result[name])


# -- refusals ------------------------------------------------------------------------------------------------
_VALID: dict[str, Any] = {
    "name": "refusal base",
    "rule_set": {
        "start_balance": "50000.00",
        "drawdown": {"mode": "static", "max_loss": "2000.00", "lock": {"kind": "none"}},
    },
    "events": [
        {"type": "fill", "at": "2026-02-03T09:00:00-06:00", "symbol": "ES", "side": "buy", "qty": 1, "price": "5000"},
        {"type": "mark", "at": "2026-02-03T09:05:00-06:00", "symbol": "ES", "price": "5001.25"},
        {"type": "withdrawal", "at": "2026-02-03T09:10:00-06:00", "amount": "100.00"},
    ],
}


def _with_event_change(index: int, **changes: Any) -> str:
    document = copy.deepcopy(_VALID)
    event = document["events"][index]
    for name, value in changes.items():
        if value is None:
            del event[name]
        else:
            event[name] = value
    return json.dumps(document)


# (case id, file text, words the one stderr line must contain)
REFUSALS = [
    ("malformed_json", '{"name": "x", "rule_set": {', ["malformed json"]),
    ("missing_price", _with_event_change(0, price=None), ["event 0", "price"]),
    ("missing_at", _with_event_change(1, at=None), ["event 1", "at"]),
    ("unknown_symbol", _with_event_change(1, symbol="ZZ"), ["event 1", "zz"]),
    ("non_decimal_amount", _with_event_change(2, amount="12,50"), ["event 2", "12,50"]),
    ("non_decimal_price", _with_event_change(1, price="abc"), ["event 1", "abc"]),
    ("timestamp_without_offset", _with_event_change(1, at="2026-02-03T09:05:00"), ["event 1", "offset"]),
    ("zero_quantity", _with_event_change(0, qty=0), ["event 0", "qty"]),
    ("negative_quantity", _with_event_change(0, qty=-1), ["event 0", "qty"]),
    ("events_out_of_time_order", _with_event_change(2, at="2026-02-03T08:00:00-06:00"), ["event 2", "order"]),
    ("non_decimal_fee", _with_event_change(0, fee="two"), ["event 0", "two"]),
    ("unknown_event_type", _with_event_change(1, type="quote"), ["event 1", "quote"]),
    ("unknown_side", _with_event_change(0, side="long"), ["event 0", "long"]),
    ("treasury_quote_on_a_decimal_instrument", _with_event_change(1, price="5001-08"), ["event 1", "5001-08"]),
]


@pytest.mark.parametrize(
    ("text", "words"), [(text, words) for _, text, words in REFUSALS], ids=[r[0] for r in REFUSALS]
)
def test_replay_refuses_a_bad_file_with_one_line_naming_the_problem(
    tmp_path: Path, capsys: pytest.CaptureFixture[str], text: str, words: list[str]
) -> None:
    path = tmp_path / "scenario.json"
    path.write_text(text, encoding="utf-8")
    assert main([str(path)]) == EXIT_REFUSED == 2
    captured = capsys.readouterr()
    assert captured.out == ""
    lines = captured.err.strip().splitlines()
    assert len(lines) == 1, captured.err
    for word in words:
        assert word in lines[0].lower(), lines[0]


def test_the_refusal_base_file_itself_replays(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    # Guards the refusal cases: each differs from a file the replay accepts by exactly one defect.
    path = tmp_path / "scenario.json"
    path.write_text(json.dumps(_VALID), encoding="utf-8")
    assert main([str(path)]) == 0
    result = json.loads(capsys.readouterr().out)
    # 1 ES long from 5000 marked 5001.25 (+62.50), then 100 withdrawn: balance 49900, equity 49962.50.
    assert Decimal(result["balance"]) == Decimal("49900.00")
    assert Decimal(result["equity"]) == Decimal("49962.50")
