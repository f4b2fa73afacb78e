"""What each Stripe event means for orders and accounts (the adapter's translation; a tolerant reader)."""

from __future__ import annotations

from uuid import uuid4

from libs.domain.money import Money
from services.challenges.adapters.stripe.payments import to_notice
from services.challenges.application.record_payment_event import NoticeKind

ORDER = uuid4()


def event(event_type: str, obj: dict) -> dict:
    return {"id": "evt_1", "type": event_type, "data": {"object": obj}}


def test_a_paid_checkout_session_pays_the_order_it_names():
    notice = to_notice(
        event(
            "checkout.session.completed",
            {"mode": "payment", "payment_status": "paid", "payment_intent": "pi_1", "amount_total": 24900,
             "currency": "usd", "metadata": {"order_id": str(ORDER)}},
        )
    )  # fmt: skip
    assert (notice.kind, notice.order_id, notice.payment_intent_id) == (NoticeKind.PAYMENT_SUCCEEDED, ORDER, "pi_1")
    assert notice.amount == Money.of("249.00")


def test_an_unpaid_checkout_session_and_unknown_types_are_ignored():
    unpaid = {"mode": "payment", "payment_status": "unpaid", "metadata": {"order_id": str(ORDER)}}
    assert to_notice(event("checkout.session.completed", unpaid)).kind is NoticeKind.IGNORED
    assert to_notice(event("customer.created", {"id": "cus_1"})).kind is NoticeKind.IGNORED


def test_a_payment_intent_names_the_order_from_its_metadata_and_a_decline_its_code():
    ok = to_notice(
        event("payment_intent.succeeded", {"id": "pi_2", "amount_received": 100, "currency": "usd",
                                           "metadata": {"order_id": str(ORDER)}})
    )  # fmt: skip
    assert (ok.order_id, ok.payment_intent_id, ok.amount) == (ORDER, "pi_2", Money.of("1.00"))
    declined = to_notice(
        event("payment_intent.payment_failed", {"id": "pi_3", "last_payment_error": {"code": "card_declined"},
                                                "metadata": {"order_id": str(ORDER)}})
    )  # fmt: skip
    assert (declined.kind, declined.failure_reason) == (NoticeKind.PAYMENT_FAILED, "card_declined")


def test_only_a_full_refund_refunds_and_disputes_name_their_payment():
    partial = to_notice(event("charge.refunded", {"refunded": False, "payment_intent": "pi_1"}))
    assert partial.kind is NoticeKind.IGNORED
    full = to_notice(event("charge.refunded", {"refunded": True, "payment_intent": "pi_1"}))
    assert (full.kind, full.payment_intent_id) == (NoticeKind.REFUNDED, "pi_1")
    won = to_notice(event("charge.dispute.closed", {"status": "won", "payment_intent": {"id": "pi_1"}}))
    assert (won.kind, won.payment_intent_id, won.dispute_won) == (NoticeKind.DISPUTE_CLOSED, "pi_1", True)


def test_a_malformed_order_id_or_amount_is_not_guessed():
    notice = to_notice(
        event("payment_intent.succeeded", {"id": "pi_4", "amount_received": 1.5, "currency": "usd",
                                           "metadata": {"order_id": "not-a-uuid"}})
    )  # fmt: skip
    assert notice.order_id is None and notice.amount is None


def test_a_subscription_update_counts_only_when_it_changed_when_the_subscription_ends():
    order_id = uuid4()
    subscription = {"id": "sub_1", "metadata": {"order_id": str(order_id)}, "cancel_at": 1767225600}
    scheduled = event("customer.subscription.updated", subscription)
    scheduled["data"]["previous_attributes"] = {"cancel_at_period_end": False, "cancel_at": None}
    notice = to_notice(scheduled)
    assert notice.kind is NoticeKind.SUBSCRIPTION_UPDATED and notice.order_id == order_id
    assert notice.subscription_id == "sub_1" and notice.cancel_at.timestamp() == 1767225600
    undone = event("customer.subscription.updated", {**subscription, "cancel_at": None})
    undone["data"]["previous_attributes"] = {"cancel_at_period_end": True}
    assert to_notice(undone).kind is NoticeKind.SUBSCRIPTION_UPDATED and to_notice(undone).cancel_at is None
    # A renewal's update (the period moved) says nothing about the end: ignored, so a late one cannot undo a cancel.
    renewal = event("customer.subscription.updated", {**subscription, "cancel_at": None})
    renewal["data"]["previous_attributes"] = {"items": {"current_period_end": 1764547200}}
    assert to_notice(renewal).kind is NoticeKind.IGNORED
