"""The catalogue use cases over real PostgreSQL: seeded tiers, new versions, idempotency, optimistic checks, audit."""

import asyncio
from datetime import UTC, datetime

import pytest
from sqlalchemy import text

from libs.domain.clock import FixedClock
from libs.domain.errors import AlreadyExists, ConcurrencyConflict, InvalidArgument, PermissionDenied
from libs.domain.money import Money
from libs.platform.audit import verify_chain
from libs.platform.db import create_engine, session_factory
from services.challenges.adapters.sql.unit_of_work import SqlAlchemyChallengesUnitOfWork
from services.challenges.application.create_program_version import (
    Actor,
    CreateProgramVersion,
    CreateProgramVersionHandler,
)
from services.challenges.application.get_program import GetProgram, GetProgramHandler
from services.challenges.application.list_programs import ListPrograms, ListProgramsHandler
from services.challenges.domain.program import ProgramNotFound, VersionStatus
from services.challenges.domain.rule_set import InvalidRuleSet
from tests.unit.challenges.factories import rule_set

CLOCK = FixedClock(datetime(2026, 11, 24, 12, 0, tzinfo=UTC))
ADMIN = Actor(actor_id="admin-1", role="admin", ip="203.0.113.7")
SEEDED = ["eval-5k", "eval-10k", "eval-25k", "eval-50k", "eval-100k", "eval-200k"]


@pytest.fixture
async def sessions(database_url):
    engine = create_engine(database_url, "challenges")
    yield session_factory(engine)
    await engine.dispose()


@pytest.fixture
def uow(sessions):
    return lambda: SqlAlchemyChallengesUnitOfWork(sessions, schema="challenges", source="challenges", clock=CLOCK)


def command(program_id: str, request_id: str, **overrides) -> CreateProgramVersion:
    base = dict(
        request_id=request_id,
        program_id=program_id,
        expected_current_version=None,
        name="Static 50K",
        account_size=Money.of("50000.00"),
        price=Money.of("199.00"),
        profit_split="0.90",
        phases=[("phase_1", rule_set())],
        actor=ADMIN,
    )
    base.update(overrides)
    return CreateProgramVersion(**base)


async def test_the_six_seeded_tiers_are_listed_smallest_first(uow):
    page = await ListProgramsHandler(uow)(ListPrograms(page_size=200))
    ids = [p.program_id for p in page.programs if p.program_id in SEEDED]
    assert ids == SEEDED
    fifty = next(p for p in page.programs if p.program_id == "eval-50k")
    assert fifty.terms.price == Money.of("249.00")
    phase_1, phase_2, funded = fifty.terms.phases
    assert phase_1.rule_set["profit_target"] == {"amount": "4000.00"}  # 8%
    assert phase_2.rule_set["profit_target"] == {"amount": "2500.00"}  # 5%
    assert phase_1.rule_set["drawdown"]["max_loss"] == "4000.00"  # 8%
    assert phase_1.rule_set["daily_loss_limit"]["amount"] == "2000.00"  # 4%
    assert phase_1.rule_set["consistency"]["max_ratio"] == "0.40"
    assert funded.rule_set["profit_target"] is None


async def test_pages_follow_on_without_gaps_or_repeats(uow):
    handler = ListProgramsHandler(uow)
    seen, after = [], None
    while True:
        page = await handler(ListPrograms(page_size=2, after_key=after))
        seen += [p.program_id for p in page.programs]
        if page.next_after_key is None:
            break
        after = page.next_after_key
    assert len(seen) == len(set(seen))
    assert [s for s in seen if s in SEEDED] == SEEDED


async def test_an_unknown_program_is_not_found_and_a_malformed_id_is_invalid(uow):
    with pytest.raises(ProgramNotFound):
        await GetProgramHandler(uow)(GetProgram("no-such-program"))
    with pytest.raises(InvalidArgument) as info:
        await GetProgramHandler(uow)(GetProgram("Not A Slug!"))
    assert info.value.field == "program_id"


async def test_a_new_version_retires_the_previous_one_which_stays_readable(uow, unique):
    create = CreateProgramVersionHandler(uow, CLOCK)
    first = await create(command(f"p-{unique}", f"r1-{unique}"))
    second = await create(command(f"p-{unique}", f"r2-{unique}", price=Money.of("179.00"), expected_current_version=1))
    assert (first.version, second.version) == (1, 2)
    current = await GetProgramHandler(uow)(GetProgram(f"p-{unique}"))
    assert current.version == 2 and current.terms.price == Money.of("179.00")
    old = await GetProgramHandler(uow)(GetProgram(f"p-{unique}", 1))
    assert old.status is VersionStatus.RETIRED and old.terms.price == Money.of("199.00")


async def test_a_retried_request_returns_the_same_version_and_publishes_nothing_more(uow, unique):
    create = CreateProgramVersionHandler(uow, CLOCK)
    first = await create(command(f"p-{unique}", f"r-{unique}"))
    again = await create(command(f"p-{unique}", f"r-{unique}"))
    assert again.version_id == first.version_id
    current = await GetProgramHandler(uow)(GetProgram(f"p-{unique}"))
    assert current.version == 1


async def test_the_same_key_with_other_parameters_is_refused(uow, unique):
    create = CreateProgramVersionHandler(uow, CLOCK)
    await create(command(f"p-{unique}", f"r-{unique}"))
    with pytest.raises(AlreadyExists):
        await create(command(f"p-{unique}", f"r-{unique}", price=Money.of("1.00")))


async def test_a_stale_expected_version_is_refused(uow, unique):
    create = CreateProgramVersionHandler(uow, CLOCK)
    await create(command(f"p-{unique}", f"r1-{unique}"))
    await create(command(f"p-{unique}", f"r2-{unique}"))
    with pytest.raises(ConcurrencyConflict):
        await create(command(f"p-{unique}", f"r3-{unique}", expected_current_version=1))


async def test_two_admins_racing_on_one_version_one_wins_and_the_other_is_told(uow, unique):
    create = CreateProgramVersionHandler(uow, CLOCK)
    await create(command(f"p-{unique}", f"r0-{unique}"))
    results = await asyncio.gather(
        create(command(f"p-{unique}", f"ra-{unique}", expected_current_version=1, name="A")),
        create(command(f"p-{unique}", f"rb-{unique}", expected_current_version=1, name="B")),
        return_exceptions=True,
    )
    assert sorted(type(r).__name__ for r in results) == ["ConcurrencyConflict", "ProgramVersion"]
    current = await GetProgramHandler(uow)(GetProgram(f"p-{unique}"))
    assert current.version == 2


async def test_only_an_admin_may_publish(uow, unique):
    with pytest.raises(PermissionDenied):
        await CreateProgramVersionHandler(uow, CLOCK)(
            command(f"p-{unique}", f"r-{unique}", actor=Actor("u-1", "support"))
        )
    with pytest.raises(ProgramNotFound):
        await GetProgramHandler(uow)(GetProgram(f"p-{unique}"))


async def test_an_invalid_rule_set_is_refused_and_changes_nothing(uow, sessions, unique):
    bad = rule_set()
    bad["drawdown"]["mode"] = "sideways"
    with pytest.raises(InvalidRuleSet) as info:
        await CreateProgramVersionHandler(uow, CLOCK)(command(f"p-{unique}", f"r-{unique}", phases=[("phase_1", bad)]))
    assert info.value.field == "phases[0].rule_set.drawdown.mode"
    async with sessions() as s:
        rows = (
            await s.execute(
                text("SELECT count(*) FROM challenges.programs WHERE program_id = :p"), {"p": f"p-{unique}"}
            )
        ).scalar_one()
    assert rows == 0


async def test_publishing_is_audited_in_an_intact_hash_chain(uow, sessions, unique):
    await CreateProgramVersionHandler(uow, CLOCK)(command(f"p-{unique}", f"r-{unique}"))
    async with sessions() as s:
        row = (
            await s.execute(
                text("SELECT actor_id, ip, action, after FROM challenges.audit_log WHERE subject_id = :p"),
                {"p": f"p-{unique}"},
            )
        ).one()
        assert (row.actor_id, row.ip, row.action) == ("admin-1", "203.0.113.7", "program.version.published")
        assert row.after["price"] == "199.00"
        assert await verify_chain(s, "challenges") is None
        with pytest.raises(Exception, match="append-only"):
            await s.execute(text("UPDATE challenges.audit_log SET actor_id = 'mallory'"))
