"""What an audit record says: who did what to which subject, when, from where, and the before/after figures."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime
from typing import Any


@dataclass(frozen=True)
class AuditEntry:
    occurred_at: datetime
    actor_id: str
    actor_role: str
    ip: str | None
    action: str
    subject_type: str
    subject_id: str
    before: Any
    after: Any
