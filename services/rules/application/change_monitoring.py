"""AccountStatusChanged from challenges: stop judging an account that left trading, resume one reinstated.

A stopped account's events are still stored (the record stays complete), but not applied.
"""

from __future__ import annotations

import logging
import uuid

from services.rules.application.monitored_account import MONITORING, STOPPED
from services.rules.application.ports import MonitoringStore

log = logging.getLogger(__name__)
TRADING_STATUSES = frozenset({"phase_1", "phase_2", "funded"})


async def change_monitoring(store: MonitoringStore, account_id: uuid.UUID, status: str, attempt: int) -> str:
    account = await store.get_account(account_id, for_update=True)
    if account is None:
        log.info("status %s for account %s we never monitored: nothing to do", status, account_id)
        return "unknown"
    if attempt < account.attempt:
        return "stale"  # a status of an attempt already replaced by a reset
    wanted = MONITORING if status in TRADING_STATUSES else STOPPED
    if wanted != account.status:
        await store.set_status(account_id, wanted)
    return wanted
