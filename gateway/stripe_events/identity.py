"""Stripe Identity events (identity.verification_session.*) -> IdentityService.ApplyKycVerificationEvent."""

from __future__ import annotations

from typing import Any

from fastapi import Request


async def forward(event: dict[str, Any], payload: bytes, request: Request) -> None:
    raise NotImplementedError("KYC events are wired by the KYC work (issue 4)")
