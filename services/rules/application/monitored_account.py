"""An account under monitoring as the use cases see it: who it is, the rule set in force, its last risk state."""

from __future__ import annotations

import uuid
from dataclasses import dataclass
from datetime import datetime

MONITORING = "monitoring"
STOPPED = "stopped"  # failed, suspended or closed in challenges: events are stored, not judged


@dataclass
class MonitoredAccount:
    account_id: uuid.UUID
    platform_account_id: str
    user_id: str
    program_id: str
    phase: str
    attempt: int
    rule_set: dict
    status: str
    snapshot: dict | None
    last_event_at: datetime | None
    last_event_row: int | None
