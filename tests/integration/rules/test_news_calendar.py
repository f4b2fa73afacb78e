"""The news calendar from CSV or iCalendar: restricted tiers open news windows in rule sets with a news block, so a
fill inside one is a conduct violation with the release named; other tiers restrict nothing; a bad row or event
refuses the file and imports nothing."""

from __future__ import annotations

import hashlib
from datetime import UTC, timedelta
from zoneinfo import ZoneInfo

import grpc
import pytest

from tests.integration.rules.conftest import Rules, rule_set


async def import_csv(rules: Rules, text: str, role: str = "admin", tiers: tuple[int, ...] = ()):
    from dynasty.rules.v1 import rules_service_pb2 as pb

    return await rules.stub().ImportNewsCalendar(
        pb.ImportNewsCalendarRequest(csv=text, restricted_tiers=list(tiers)), metadata=rules.auth(role=role)
    )


def iso(at) -> str:
    return at.astimezone(UTC).isoformat()


async def test_a_fill_inside_a_restricted_release_window_is_a_news_violation(rules: Rules):
    cpi = rules.start + timedelta(minutes=10)
    minor = rules.start + timedelta(minutes=20)
    reply = await import_csv(rules, f"at,title,instruments,tier\n{iso(cpi)},CPI,ES;NQ,1\n{iso(minor)},Redbook,*,3\n")
    assert (reply.imported, reply.restricted) == (2, 1)
    audit = await rules.query("SELECT action, after FROM rules.audit_log WHERE action = 'news_calendar.imported'")
    assert audit and audit[-1]["after"]["events"] >= 2

    account_id, platform_account, user_id = await rules.activate(
        rules=rule_set(news={"before_seconds": 120, "after_seconds": 120})
    )
    await rules.ingest(rules.platform.trade(platform_account, cpi + timedelta(seconds=30), "ES", "buy", 1, "5000.00"))
    await rules.ingest(rules.platform.trade(platform_account, minor, "ES", "sell", 1, "5000.00"))

    violations = await rules.violations(account_id, user_id)
    assert [(v.rule, v.severity) for v in violations] == [("news", "conduct")]
    assert "CPI" in violations[0].evidence_json


async def test_a_bad_calendar_is_refused_whole_and_only_admins_import(rules: Rules):
    at = iso(rules.start)
    with pytest.raises(grpc.aio.AioRpcError) as refused:
        await import_csv(rules, f"at,title,instruments,tier\n{at},NFP,*,1\n{at},FOMC,ES,7\n")
    assert refused.value.code() == grpc.StatusCode.INVALID_ARGUMENT and "line 3" in refused.value.details()
    nfp = await rules.query(
        "SELECT count(*) AS n FROM rules.news_events WHERE title = 'NFP' AND at = :at", at=rules.start
    )
    assert nfp[0]["n"] == 0
    for bad, problem in [("when,what\n", "header"), (f"at,title,instruments,tier\n{at},X,XYZ,1\n", "instruments")]:
        with pytest.raises(grpc.aio.AioRpcError) as refused:
            await import_csv(rules, bad)
        assert problem in refused.value.details()
    with pytest.raises(grpc.aio.AioRpcError) as refused:
        await import_csv(rules, "at,title,instruments,tier\n", role="support")
    assert refused.value.code() == grpc.StatusCode.PERMISSION_DENIED


def ics_time(at) -> str:
    return at.astimezone(UTC).strftime("%Y%m%dT%H%M%SZ")


def ics(*events: str) -> str:
    lines = ["BEGIN:VCALENDAR", "VERSION:2.0", "PRODID:-//Economic Calendar Export//EN", "METHOD:PUBLISH"]
    for body in events:
        lines += ["BEGIN:VEVENT", *[line.strip() for line in body.strip().splitlines()], "END:VEVENT"]
    return "\r\n".join([*lines, "END:VCALENDAR"]) + "\r\n"


async def import_ics(rules: Rules, text: str, role: str = "admin", tiers: tuple[int, ...] = (), csv: str = ""):
    from dynasty.rules.v1 import rules_service_pb2 as pb

    return await rules.stub().ImportNewsCalendar(
        pb.ImportNewsCalendarRequest(
            format=pb.NEWS_CALENDAR_FORMAT_ICS, ics=text, csv=csv, restricted_tiers=list(tiers)
        ),
        metadata=rules.auth(role=role),
    )


async def news_rows(rules: Rules, *titles: str) -> list[dict]:
    return await rules.query(
        "SELECT title, at, instruments, tier, restricted FROM rules.news_events WHERE title = ANY(:titles) ORDER BY at",
        titles=list(titles),
    )


async def test_an_ics_calendar_opens_news_windows_like_the_csv_one_and_is_audited(rules: Rules, unique):
    fomc = rules.start + timedelta(minutes=10)
    claims = rules.start + timedelta(minutes=40)
    fomc_title, claims_title = f"USD - FOMC Statement {unique}", f"USD - Unemployment Claims {unique}"
    text = ics(
        f"""
        UID:fomc-{unique}@calendar.example
        DTSTAMP:20270226T120000Z
        DTSTART:{ics_time(fomc)}
        SUMMARY:{fomc_title}
        DESCRIPTION:Forecast: 4.25%\\nPrevious: 4.25%
        CATEGORIES:USD,High Impact Expected
        X-DYNASTY-INSTRUMENTS:ES;NQ
        """,
        f"""
        UID:claims-{unique}@calendar.example
        DTSTART;TZID=America/Chicago:{claims.astimezone(ZoneInfo("America/Chicago")).strftime("%Y%m%dT%H%M%S")}
        SUMMARY:{claims_title}
        CATEGORIES:USD,Medium Impact Expected
        """,
    )

    reply = await import_ics(rules, text)

    assert (reply.imported, reply.restricted) == (2, 1)
    stored = await news_rows(rules, fomc_title, claims_title)
    assert [(r["title"], r["at"], r["instruments"], r["tier"], r["restricted"]) for r in stored] == [
        (fomc_title, fomc, ["ES", "NQ"], 1, True),
        (claims_title, claims, None, 2, False),
    ]
    audit = await rules.query(
        "SELECT after FROM rules.audit_log WHERE action = 'news_calendar.imported' ORDER BY id DESC LIMIT 1"
    )
    assert audit[0]["after"]["format"] == "ics" and audit[0]["after"]["events"] == 2
    assert audit[0]["after"]["sha256"] == hashlib.sha256(text.encode()).hexdigest()

    account_id, platform_account, user_id = await rules.activate(
        rules=rule_set(news={"before_seconds": 120, "after_seconds": 120})
    )
    await rules.ingest(rules.platform.trade(platform_account, fomc + timedelta(seconds=30), "ES", "buy", 1, "5000.00"))
    await rules.ingest(rules.platform.trade(platform_account, claims, "ES", "sell", 1, "5000.00"))

    violations = await rules.violations(account_id, user_id)
    assert [(v.rule, v.severity) for v in violations] == [("news", "conduct")]
    assert fomc_title in violations[0].evidence_json


async def test_a_bad_ics_event_refuses_the_whole_calendar_naming_event_line_and_field(rules: Rules, unique):
    good, bad = f"USD - CPI {unique}", f"USD - PPI {unique}"
    audits_before = await rules.query(
        "SELECT count(*) AS n FROM rules.audit_log WHERE action = 'news_calendar.imported'"
    )
    text = ics(
        f"UID:good-{unique}@x\nDTSTART:{ics_time(rules.start)}\nSUMMARY:{good}\nCATEGORIES:High",
        f"UID:bad-{unique}@x\nSUMMARY:{bad}\nCATEGORIES:High",
    )

    with pytest.raises(grpc.aio.AioRpcError) as refused:
        await import_ics(rules, text)

    assert refused.value.code() == grpc.StatusCode.INVALID_ARGUMENT
    assert f"event 2, line 11 (UID bad-{unique}@x): DTSTART is missing" in refused.value.details()
    assert await news_rows(rules, good, bad) == []
    audits_after = await rules.query(
        "SELECT count(*) AS n FROM rules.audit_log WHERE action = 'news_calendar.imported'"
    )
    assert audits_after[0]["n"] == audits_before[0]["n"]


async def test_an_unknown_tier_and_text_that_is_not_ics_are_refused(rules: Rules, unique):
    unknown_tier = ics(f"UID:t-{unique}@x\nDTSTART:{ics_time(rules.start)}\nSUMMARY:T {unique}\nX-DYNASTY-TIER:9")
    for text, problem in [
        (unknown_tier, f"event 1, line 5 (UID t-{unique}@x): X-DYNASTY-TIER must be 1, 2 or 3, got '9'"),
        ("at,title,instruments,tier\n", "not an iCalendar (RFC 5545) calendar"),
    ]:
        with pytest.raises(grpc.aio.AioRpcError) as refused:
            await import_ics(rules, text)
        assert refused.value.code() == grpc.StatusCode.INVALID_ARGUMENT
        assert problem in refused.value.details()
    assert await news_rows(rules, f"T {unique}") == []


async def test_the_format_decides_which_field_is_read_and_only_admins_import_ics(rules: Rules, unique):
    from dynasty.rules.v1 import rules_service_pb2 as pb

    calendar = ics(f"UID:f-{unique}@x\nDTSTART:{ics_time(rules.start)}\nSUMMARY:F {unique}\nCATEGORIES:Low")
    row = f"{iso(rules.start)},C {unique},*,3\n"
    cases = [
        # ICS chosen but the CSV field filled as well: which one was meant is not ours to guess.
        (pb.ImportNewsCalendarRequest(format=pb.NEWS_CALENDAR_FORMAT_ICS, ics=calendar, csv="x"), "csv is set"),
        # No format (CSV, as before the field existed) with a calendar in ics.
        (pb.ImportNewsCalendarRequest(csv=f"at,title,instruments,tier\n{row}", ics=calendar), "ics is set"),
        (pb.ImportNewsCalendarRequest(format=pb.NEWS_CALENDAR_FORMAT_ICS), "the ics calendar is empty"),
        (pb.ImportNewsCalendarRequest(format=7, ics=calendar), "format must be one of csv, ics"),
        (pb.ImportNewsCalendarRequest(format=pb.NEWS_CALENDAR_FORMAT_ICS, ics=calendar, restricted_tiers=[4]), "tiers"),
    ]
    for request, problem in cases:
        with pytest.raises(grpc.aio.AioRpcError) as refused:
            await rules.stub().ImportNewsCalendar(request, metadata=rules.auth(role="admin"))
        assert refused.value.code() == grpc.StatusCode.INVALID_ARGUMENT, problem
        assert problem in refused.value.details()
    assert await news_rows(rules, f"F {unique}", f"C {unique}") == []

    with pytest.raises(grpc.aio.AioRpcError) as refused:
        await import_ics(rules, calendar, role="support")
    assert refused.value.code() == grpc.StatusCode.PERMISSION_DENIED

    explicit_csv = await rules.stub().ImportNewsCalendar(
        pb.ImportNewsCalendarRequest(format=pb.NEWS_CALENDAR_FORMAT_CSV, csv=f"at,title,instruments,tier\n{row}"),
        metadata=rules.auth(role="admin"),
    )
    assert (explicit_csv.imported, explicit_csv.restricted) == (1, 0)


async def test_a_large_recurring_calendar_is_written_whole_past_postgresqls_parameter_limit(rules: Rules, unique):
    # 20 daily series of 350 releases: 7,000 rows of 5 values are 35,000 bind parameters, more than one statement
    # may carry (32,767); the import must still land whole, in one transaction. Tier 3 restricts nothing, so other
    # tests' news windows are untouched.
    series = [
        f"UID:fix-{n}-{unique}@x\nDTSTART:{ics_time(rules.start + timedelta(minutes=n))}\nRRULE:FREQ=DAILY;COUNT=350\n"
        f"SUMMARY:Fixing {n} {unique}\nCATEGORIES:Low"
        for n in range(20)
    ]

    reply = await import_ics(rules, ics(*series))

    assert (reply.imported, reply.restricted) == (7000, 0)
    stored = await rules.query(
        "SELECT count(*) AS n, min(at) AS first, max(at) AS last FROM rules.news_events WHERE title LIKE :t",
        t=f"Fixing % {unique}",
    )
    assert (stored[0]["n"], stored[0]["first"], stored[0]["last"]) == (
        7000,
        rules.start,
        rules.start + timedelta(days=349, minutes=19),
    )
