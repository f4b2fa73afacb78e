from datetime import UTC, datetime
from uuid import uuid4

import pytest

from libs.domain.clock import FixedClock
from libs.domain.errors import ConcurrencyConflict, InvalidArgument
from libs.domain.ids import ProgramId
from libs.domain.money import Money
from services.challenges.domain.program import Program, ProgramVersionPublished, build_terms
from services.challenges.domain.rule_set import InvalidRuleSet
from tests.unit.challenges.factories import rule_set, terms_kwargs

CLOCK = FixedClock(datetime(2026, 11, 24, 15, 0, tzinfo=UTC))


def test_publishing_the_first_version_records_an_event_with_the_figures():
    program = Program.new(ProgramId("eval-50k"))
    version = program.publish(
        build_terms(**terms_kwargs()), version_id=uuid4(), expected_current_version=None, clock=CLOCK
    )
    assert version.version == 1 and program.current_version == 1
    [event] = program.pull_events()
    assert isinstance(event, ProgramVersionPublished)
    assert event.previous_version is None and event.price == Money.of("249.00")
    assert event.occurred_at == CLOCK.now()
    assert program.pull_events() == []


def test_a_stale_expected_version_is_a_conflict_and_changes_nothing():
    program = Program(program_id=ProgramId("eval-50k"), current_version=3, version=3)
    with pytest.raises(ConcurrencyConflict):
        program.publish(build_terms(**terms_kwargs()), version_id=uuid4(), expected_current_version=2, clock=CLOCK)
    assert program.current_version == 3 and program.pull_events() == []


def test_phases_must_start_with_phase_one_and_keep_their_order():
    with pytest.raises(InvalidArgument) as info:
        build_terms(**terms_kwargs(phases=[("funded", rule_set()), ("phase_1", rule_set())]))
    assert info.value.field == "phases"
    with pytest.raises(InvalidArgument):
        build_terms(**terms_kwargs(phases=[("phase_1", rule_set()), ("phase_1", rule_set())]))


def test_a_rule_set_must_start_at_the_account_size():
    with pytest.raises(InvalidRuleSet) as info:
        build_terms(**terms_kwargs(phases=[("phase_1", rule_set(start="25000.00"))]))
    assert info.value.field == "phases[0].rule_set.start_balance"


def test_an_invalid_rule_set_names_its_phase_and_field():
    bad = rule_set()
    bad["drawdown"]["max_loss"] = "-5"
    with pytest.raises(InvalidRuleSet) as info:
        build_terms(**terms_kwargs(phases=[("phase_1", rule_set()), ("phase_2", bad)]))
    assert info.value.field == "phases[1].rule_set.drawdown.max_loss"


@pytest.mark.parametrize(
    ("field", "value"),
    [("price", Money.of("0")), ("account_size", Money.of("-1")), ("name", ""), ("profit_split", "1.2")],
)
def test_nonsense_terms_are_refused_naming_the_field(field, value):
    with pytest.raises(InvalidArgument) as info:
        build_terms(**terms_kwargs(**{field: value}))
    assert info.value.field == field
