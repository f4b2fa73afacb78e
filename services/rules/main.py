"""Composition root of the rules service: `python -m services.rules.main`.

Serves RulesService (ingestion, risk state, violations, quarantine) and the event inbox (AccountActivated and
AccountStatusChanged from challenges); beside the gRPC server run the outbox relay (AccountBreached and
AccountPhasePassed to challenges), the enforcement worker (flatten and disable on YourPropFirm, notices) and the
reconciliation poller (what webhooks missed).
"""

from __future__ import annotations

from dataclasses import dataclass, field

from libs.platform.service_main import Runtime, Wiring, run_service

SERVICE = "rules"


@dataclass
class Adapters:
    """The outside world, replaceable by tests (each None is built from settings)."""

    platform: object | None = None
    notices: object | None = None


@dataclass
class Background:
    """What runs beside the gRPC server: the enforcement worker and (unless turned off) the reconciliation poller."""

    worker: object | None = None
    poller: object | None = None
    ticker: object | None = None
    news: object | None = None
    group_commit: object | None = None  # the IngestTradeEvents batcher (its counters are read by the benchmark)
    batches: object | None = None  # the batch handler (its late-event counters are read by the benchmark)
    closers: list = field(default_factory=list)


def build_wire(
    adapters: Adapters | None = None, background: Background | None = None, settings=None, *, tune_gc: bool = False
):
    """`tune_gc`: set the process's garbage collector for latency (the service's own process only; tests build
    servers inside the test process)."""
    adapters = adapters or Adapters()
    given_settings = settings
    background = background if background is not None else Background()

    def wire(runtime: Runtime) -> Wiring:
        from dynasty.rules.v1 import rules_service_pb2_grpc
        from libs.platform.gc_tuning import tune_for_latency
        from services.rules.adapters.clock_ticker import ClockTicker
        from services.rules.adapters.enforcement_worker import EnforcementWorker
        from services.rules.adapters.grpc.servicer import RulesServicer
        from services.rules.adapters.inbox_handlers import challenges_event_handlers
        from services.rules.adapters.news_calendar import NewsCalendarRefresher
        from services.rules.adapters.news_ics import parse_ics_calendar
        from services.rules.adapters.notices import RedisNotices
        from services.rules.adapters.sql.unit_of_work import SqlMonitoringUnitOfWork
        from services.rules.adapters.yourpropfirm.enforcement import YourPropFirmEnforcement
        from services.rules.adapters.yourpropfirm.reconciliation import ReconciliationPoller
        from services.rules.application.group_commit import GroupCommit
        from services.rules.application.import_news_calendar import ImportNewsCalendarHandler
        from services.rules.application.ingest_batch import IngestBatchHandler
        from services.rules.application.ingest_trade_events import IngestTradeEventsHandler
        from services.rules.application.queries import (
            GetRiskStateHandler,
            ListQuarantinedHandler,
            ListViolationsHandler,
        )
        from services.rules.application.replay_account import ReplayAccountHandler
        from services.rules.application.review_violation import ReviewViolationHandler
        from services.rules.application.risk_cache import RiskCache
        from services.rules.settings import RulesSettings

        settings = given_settings or RulesSettings(DATABASE_URL=runtime.settings.database_url)
        if tune_gc:
            tune_for_latency(settings.rules_gc_young_threshold)

        def uow() -> SqlMonitoringUnitOfWork:
            return SqlMonitoringUnitOfWork(runtime.sessions)

        platform = adapters.platform
        if platform is None:
            platform = YourPropFirmEnforcement(
                settings.yourpropfirm_api_base,
                settings.yourpropfirm_api_key,
                timeout_seconds=settings.yourpropfirm_timeout_seconds,
            )
            background.closers.append(platform.close)
        notices = adapters.notices or RedisNotices(runtime.redis)
        worker = EnforcementWorker(
            runtime.sessions, platform, notices, poll_seconds=settings.rules_enforcement_poll_seconds
        )
        background.worker = worker
        ingest = IngestTradeEventsHandler(uow, notices, on_enforcement=worker.wake)
        submit_events = None
        if settings.rules_batch_max_events > 0:
            batches = IngestBatchHandler(uow, ingest, RiskCache(), notices, on_enforcement=worker.wake)
            group_commit = GroupCommit(
                batches.handle,
                ingest.handle,
                max_events=settings.rules_batch_max_events,
                max_wait=settings.rules_batch_max_wait_ms / 1000,
                hold_back=settings.rules_batch_reorder_ms / 1000,
            )
            background.closers.append(group_commit.stop)
            background.group_commit = group_commit
            background.batches = batches
            submit_events = group_commit.submit
        if settings.rules_reconciliation_poll_seconds > 0:
            poller = ReconciliationPoller(
                runtime.sessions,
                settings.yourpropfirm_api_base,
                settings.yourpropfirm_api_key,
                ingest,
                poll_seconds=settings.rules_reconciliation_poll_seconds,
                timeout_seconds=settings.yourpropfirm_timeout_seconds,
            )
            background.poller = poller
            background.closers.append(poller.close)
        if settings.rules_clock_tick_seconds > 0:
            background.ticker = ClockTicker(ingest, runtime.clock, period_seconds=settings.rules_clock_tick_seconds)
        news = NewsCalendarRefresher(runtime.sessions)
        background.news = news
        servicer = RulesServicer(
            ingest=ingest,
            get_risk_state=GetRiskStateHandler(uow),
            list_violations=ListViolationsHandler(uow),
            list_quarantined=ListQuarantinedHandler(uow),
            replay_account=ReplayAccountHandler(uow),
            review_violation=ReviewViolationHandler(uow, runtime.clock, on_enforcement=worker.wake),
            import_news=ImportNewsCalendarHandler(
                uow, runtime.clock, on_imported=news.load, ics_parser=parse_ics_calendar
            ),
            webhook_secret=lambda: settings.yourpropfirm_webhook_secret,
            submit_events=submit_events,
        )

        def register(server) -> list[str]:
            rules_service_pb2_grpc.add_RulesServiceServicer_to_server(servicer, server)
            return ["dynasty.rules.v1.RulesService"]

        return Wiring(
            register=register,
            event_handlers=challenges_event_handlers(),
            # Thousands of calls a second: the batch they feed carries its own span; a server span each is overhead.
            untraced_methods=["/dynasty.rules.v1.RulesService/IngestTradeEvents"],
        )

    return wire


# The default wiring, for callers (tests, tools) that build the server themselves.
wire = build_wire()


def main() -> None:
    from services.rules.settings import RulesSettings

    # The enforcement worker, the reconciliation poller, the clock ticker and the news loop run beside the relay.
    background = Background()

    def loops() -> list:
        return [b for b in (background.worker, background.poller, background.ticker, background.news) if b is not None]

    run_service(
        SERVICE,
        build_wire(None, background, tune_gc=True),
        settings_class=RulesSettings,
        loops=loops,
        closers=lambda: background.closers,
    )


__all__ = ["build_wire", "main", "wire"]

if __name__ == "__main__":
    main()
