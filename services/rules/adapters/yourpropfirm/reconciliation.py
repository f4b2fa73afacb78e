"""The reconciliation poller: reads what webhooks may have missed and feeds it to the same ingestion.

- Account events: GET /client/v1/events?after_cursor=N (trade, position, account envelopes, exactly the webhook
  bodies), from the cursor stored in rules.platform_cursors, page by page; the cursor moves on only after the page
  was ingested, so a crash re-reads a page and deduplication by event id makes that harmless.
- Prices: GET /client/v1/quotes/latest for the symbols monitored accounts hold, each quote ingested under an id
  derived from its symbol and timestamp, so a quote also delivered by webhook (or read twice) is applied once.

Both run every `poll_seconds`; with webhooks healthy they find nothing new. Calls go through
libs/platform/yourpropfirm_http.py like every other YourPropFirm call.
"""

from __future__ import annotations

import asyncio
import json
import logging

import httpx
from sqlalchemy import func, select
from sqlalchemy.dialects.postgresql import insert
from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker

from libs.domain.errors import InvalidArgument
from libs.platform.yourpropfirm_http import YourPropFirmHttp, json_object
from services.rules.adapters.sql.tables import monitored_accounts, platform_cursors, risk_states
from services.rules.adapters.yourpropfirm.envelopes import parse_envelope
from services.rules.application.ingest_trade_events import IngestTradeEventsHandler
from services.rules.application.monitored_account import MONITORING

log = logging.getLogger(__name__)
EVENTS_CURSOR = "yourpropfirm:events"
PAGE = 500


class ReconciliationPoller:
    def __init__(
        self,
        sessions: async_sessionmaker[AsyncSession],
        base_url: str,
        client_key: str,
        ingest: IngestTradeEventsHandler,
        *,
        poll_seconds: float = 2.0,
        timeout_seconds: float = 5.0,
        transport: httpx.AsyncBaseTransport | None = None,
    ) -> None:
        self._sessions = sessions
        self._ingest = ingest
        self._poll_seconds = poll_seconds
        self._http = YourPropFirmHttp(base_url, client_key, timeout_seconds=timeout_seconds, transport=transport)
        self._stopping = asyncio.Event()
        # One cursor per platform address: a platform's event log numbers its own events.
        self._cursor_name = f"{EVENTS_CURSOR}:{base_url.rstrip('/')}"[:64]

    async def close(self) -> None:
        await self._http.close()

    def stop(self) -> None:
        self._stopping.set()

    async def run(self) -> None:
        while not self._stopping.is_set():
            try:
                await self.run_once()
            except Exception:  # the poller must outlive a platform or database outage
                log.exception("reconciliation pass failed")
            try:
                await asyncio.wait_for(self._stopping.wait(), timeout=self._poll_seconds)
            except TimeoutError:
                pass

    async def run_once(self) -> int:
        """One pass; returns how many events were read (new or not)."""
        return await self._events() + await self._quotes()

    async def _get(self, path: str, params: dict) -> dict:
        reply = await self._http.get(path, params)  # YourPropFirmCallFailed ends this pass; the next one retries
        reply.raise_for_status()
        return json_object(reply)

    async def _events(self) -> int:
        read = 0
        while True:
            cursor = await self._cursor()
            page = await self._get(
                "/client/v1/events", {"after_cursor": cursor, "limit": PAGE, "types": "trade,position,account"}
            )
            envelopes = page.get("events", [])
            await self._feed(envelopes)
            read += len(envelopes)
            await self._save_cursor(int(page.get("nextCursor") or cursor))
            if not page.get("hasMore"):
                return read

    async def _quotes(self) -> int:
        async with self._sessions() as session:
            held = (
                (
                    await session.execute(
                        select(func.unnest(risk_states.c.held_symbols))
                        .select_from(
                            risk_states.join(
                                monitored_accounts, monitored_accounts.c.account_id == risk_states.c.account_id
                            )
                        )
                        .where(monitored_accounts.c.status == MONITORING)
                        .distinct()
                    )
                )
                .scalars()
                .all()
            )
        if not held:
            return 0
        quotes = (await self._get("/client/v1/quotes/latest", {"symbols": ",".join(sorted(held))})).get("quotes", [])
        envelopes = [
            {
                "id": f"poll:quote:{quote['symbol']}:{quote['timestamp']}",
                "type": "quote",
                "accountId": None,
                "sequence": None,
                "cursor": None,
                "occurredAt": quote["timestamp"],
                "data": {"quotes": [quote]},
            }
            for quote in quotes
            if quote.get("symbol") and quote.get("timestamp")
        ]
        await self._feed(envelopes)
        return len(envelopes)

    async def _feed(self, envelopes: list[dict]) -> None:
        events = []
        for index, envelope in enumerate(envelopes):
            body = json.dumps(envelope).encode()
            try:
                events.append(parse_envelope(body, index))
            except InvalidArgument as refused:
                log.warning("reconciliation skipped a malformed event: %s", refused.message)
        if events:
            await self._ingest.handle(events)

    async def _cursor(self) -> int:
        async with self._sessions() as session:
            found = await session.execute(
                select(platform_cursors.c.cursor).where(platform_cursors.c.name == self._cursor_name)
            )
            return found.scalar_one_or_none() or 0

    async def _save_cursor(self, cursor: int) -> None:
        async with self._sessions() as session, session.begin():
            await session.execute(
                insert(platform_cursors)
                .values(name=self._cursor_name, cursor=cursor)
                .on_conflict_do_update(
                    index_elements=[platform_cursors.c.name], set_={"cursor": cursor, "updated_at": func.now()}
                )
            )
