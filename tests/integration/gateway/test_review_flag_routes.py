"""The review-flag routes (ADR 0057): what the gateway asks identity and how it shows the answer; a blank reason is a
400 that reaches no one. The roles allowed are in test_role_matrix.py."""

from __future__ import annotations

import uuid

from tests.integration.gateway.test_identity_routes import last_call

FLAG_ID = "00000000-0000-4000-8000-0000000f1a90"


def support(keys) -> dict[str, str]:
    token = keys.mint(f"support-{uuid.uuid4().hex[:6]}", "support", amr=("pwd", "otp"))
    return {"Authorization": f"Bearer {token}"}


async def test_the_user_list_filters_on_open_review_flags_and_says_who_is_flagged(http, upstream, keys):
    reply = await http.get("/v1/admin/users", params={"flagged_for_review": "true"}, headers=support(keys))
    assert reply.status_code == 200, reply.text
    request, _ = last_call(upstream, "ListUsers")
    assert request.flagged_for_review is True
    assert reply.json()["users"][0]["flagged_for_review"] is False  # the canned user has no flag
    await http.get("/v1/admin/users", headers=support(keys))
    request, _ = last_call(upstream, "ListUsers")
    assert request.flagged_for_review is False


async def test_one_user_comes_with_review_flags(http, upstream, keys):
    reply = await http.get("/v1/admin/users/00000000-0000-4000-8000-000000000001", headers=support(keys))
    assert reply.status_code == 200, reply.text
    assert reply.json()["review_flags"] == [] and reply.json()["flagged_for_review"] is False


async def test_clearing_a_flag_forwards_the_reason_and_returns_the_cleared_flag(http, upstream, keys):
    reply = await http.post(
        f"/v1/admin/users/abc-123/review-flags/{FLAG_ID}/clear",
        json={"reason": "dispute won; customer confirmed the purchase"},
        headers=support(keys),
    )
    assert reply.status_code == 200, reply.text
    request, _ = last_call(upstream, "ClearReviewFlag")
    assert (request.user_id, request.flag_id, request.reason) == (
        "abc-123",
        FLAG_ID,
        "dispute won; customer confirmed the purchase",
    )
    flag = reply.json()
    assert flag["status"] == "cleared" and flag["id"] == FLAG_ID
    assert flag["evidence"] == {"amount": "549.00", "currency": "USD"}
    assert flag["clear_reason"] == "dispute won; customer confirmed the purchase"
    assert flag["cleared_at"] is not None


async def test_clearing_without_a_reason_is_a_400_that_reaches_no_one(http, upstream, keys):
    before = len(upstream.identity.calls)
    reply = await http.post(
        f"/v1/admin/users/abc-123/review-flags/{FLAG_ID}/clear", json={"reason": ""}, headers=support(keys)
    )
    assert reply.status_code == 400 and reply.json()["errors"][0]["field"] == "reason"
    assert len(upstream.identity.calls) == before
