"""Misbehaviour on request: every knob POST /_sim/config can turn, with its default (a well-behaved platform).

API knobs act on /client/v1/* calls (never on /healthz or /_sim/*); webhook knobs act on deliveries. Rates are
probabilities in [0, 1] drawn from one seeded generator, so a test that sets `seed` gets the same misbehaviour
every run; `fail_next_calls` is the deterministic way to fail exactly N calls.
"""

from __future__ import annotations

import random
from dataclasses import asdict, dataclass, field, fields, replace
from typing import Any

ERROR_MODES = ("before", "after")


@dataclass
class SimConfig:
    # -- API calls -------------------------------------------------------------------------------------------------
    error_rate: float = 0.0  # share of calls answered with error_status
    fail_next_calls: int = 0  # the next N calls are answered with error_status, whatever error_rate says
    error_status: int = 503
    # "before": the call is refused and changes nothing. "after": it is carried out and its answer is lost (a 5xx
    # instead), the case only an idempotent retry handles.
    error_mode: str = "before"
    slow_rate: float = 0.0  # share of calls answered only after slow_seconds
    slow_seconds: float = 0.0
    # -- webhooks --------------------------------------------------------------------------------------------------
    duplicate_rate: float = 0.0  # share of events delivered twice (same id, same body, each signed afresh)
    drop_rate: float = 0.0  # share of events never delivered (a gap; the reconciliation GETs still have them)
    reorder_window: int = 1  # > 1: collect up to this many events, then deliver them in a different order
    reorder_wait_seconds: float = 0.3  # how long to wait for a window to fill before sending what it has
    delay_seconds: float = 0.0  # before each delivery
    paused: bool = False  # hold every delivery until unpaused
    event_types: list[str] = field(default_factory=lambda: ["*"])  # types sent ("*" = all); all are stored
    retry_base_seconds: float = 1.0
    retry_max_seconds: float = 30.0
    max_attempts: int = 8
    timeout_seconds: float = 10.0
    # -- the simulated exchange ------------------------------------------------------------------------------------
    clock_offset_seconds: float = 0.0  # added to the wall clock for exchange timestamps
    seed: int | None = None

    rng: random.Random = field(default_factory=random.Random, repr=False, compare=False)

    def wants(self, event_type: str) -> bool:
        return "*" in self.event_types or event_type in self.event_types

    def chance(self, rate: float) -> bool:
        return rate > 0 and self.rng.random() < rate

    def public(self) -> dict[str, Any]:
        shown = asdict(self)
        shown.pop("rng")
        return shown

    def update(self, changes: dict[str, Any]) -> None:
        """All or nothing: a refused change leaves every knob as it was."""
        candidate = replace(self)
        known = {f.name for f in fields(self)} - {"rng"}
        for name, value in changes.items():
            if name not in known:
                raise ValueError(f"unknown knob: {name}")
            current = getattr(self, name)
            if name == "seed":
                value = None if value is None else int(value)
            elif isinstance(current, list):
                if not isinstance(value, list) or not all(isinstance(v, str) for v in value):
                    raise ValueError(f"{name} must be a list of event types")
            elif isinstance(current, bool):
                if not isinstance(value, bool):
                    raise ValueError(f"{name} must be true or false")
            elif isinstance(current, int):
                value = int(value)
            elif isinstance(current, float):
                value = float(value)  # durations and probabilities, never money
            elif isinstance(current, str):
                value = str(value)
            setattr(candidate, name, value)
        for rate in ("error_rate", "slow_rate", "duplicate_rate", "drop_rate"):
            if not 0 <= getattr(candidate, rate) <= 1:
                raise ValueError(f"{rate} must be between 0 and 1")
        if candidate.error_mode not in ERROR_MODES:
            raise ValueError(f"error_mode must be one of {', '.join(ERROR_MODES)}")
        if not 500 <= candidate.error_status <= 599:
            raise ValueError("error_status must be a 5xx status")
        if candidate.reorder_window < 1 or candidate.max_attempts < 1 or candidate.fail_next_calls < 0:
            raise ValueError("reorder_window >= 1, max_attempts >= 1 and fail_next_calls >= 0")
        for name in changes:
            setattr(self, name, getattr(candidate, name))
        if "seed" in changes and self.seed is not None:
            self.rng.seed(self.seed)
