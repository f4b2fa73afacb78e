"""The rules service's own settings (DYNASTY_*), on top of what every service reads."""

from __future__ import annotations

from libs.platform.settings import ServiceSettings


class RulesSettings(ServiceSettings):
    # DYNASTY_YOURPROPFIRM_*: the names the devstack sets and production reads from Secrets Manager.
    yourpropfirm_api_base: str = "http://127.0.0.1:8090"
    yourpropfirm_api_key: str = "ypf_devstack_client_key"
    yourpropfirm_webhook_secret: str | None = None
    yourpropfirm_timeout_seconds: float = 5.0
    rules_enforcement_poll_seconds: float = 0.5
    # The reconciliation poller's period (GET /client/v1/events and the latest quotes); 0 turns it off.
    rules_reconciliation_poll_seconds: float = 1.0
    # How often idle accounts are checked for a due boundary (flat-by, EOD snapshot, day roll); 0 turns it off.
    rules_clock_tick_seconds: float = 15.0
    # Group commit of IngestTradeEvents (ADR 0061): at most this many events per transaction, and how long the first
    # waiting event may wait for others; 0 events turns batching off (every event its own transaction).
    rules_batch_max_events: int = 256
    # With the reorder hold-back below collecting the events of each few milliseconds, a long linger only adds
    # latency: 2 ms measured p99 97 ms at 800 events/s where 10 ms gave 123 ms (docs/performance.md).
    rules_batch_max_wait_ms: float = 2.0
    # Reorder hold-back (ADR 0067): a request waits this long after arrival (at most twice as long while an earlier
    # exchange time that arrived after it is still waiting), so events delivered a few ms out of exchange-time order
    # by concurrent clients are sorted into one batch instead of one arriving late (a replay from a snapshot); 0 = off.
    rules_batch_reorder_ms: float = 20.0
    # Young-generation threshold of the cyclic garbage collector (libs/platform/gc_tuning.py): its full traversals of
    # the cached account states were the monitoring p99; 0 keeps Python's defaults.
    rules_gc_young_threshold: int = 50_000
