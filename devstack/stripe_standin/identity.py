"""Stripe Identity VerificationSessions: create, retrieve, list, cancel, redact, and the controls that play the user.

Stripe's lifecycle: requires_input -> (user submits) processing -> verified, or back to requires_input with a
`last_error`; canceled only from requires_input; redaction of a finished session. The controls under
/_standin/identity/ make the transitions Stripe's verification backend would make, with the same webhooks.
"""

from __future__ import annotations

from typing import Any

from devstack.stripe_standin.api import Call, State, list_of
from devstack.stripe_standin.errors import StripeError
from devstack.stripe_standin.store import new_id

KIND = "identity.verification_session"
TYPES = ("document", "id_number", "verification_flow")
# Stripe's documented last_error codes; the control refuses others so tests cannot drift from what Stripe sends.
LAST_ERROR_CODES = {
    "abandoned": "The user abandoned the verification.",
    "consent_declined": "The user declined to be verified by Stripe.",
    "country_not_supported": "The document's issuing country is not supported.",
    "device_not_supported": "The user's device does not support verification.",
    "document_expired": "The provided identity document has expired.",
    "document_type_not_supported": "The provided identity document is not one of the allowed types.",
    "document_unverified_other": "Stripe could not verify the provided identity document.",
    "id_number_insufficient_document_data": "The document does not contain enough data to check the id number.",
    "id_number_mismatch": "The id number does not match the name and date of birth.",
    "id_number_unverified_other": "Stripe could not verify the provided id number.",
    "selfie_document_missing_photo": "The document does not contain a photo of a face.",
    "selfie_face_mismatch": "The selfie does not match the face on the document.",
    "selfie_manipulated": "The selfie appears to have been manipulated.",
    "selfie_unverified_other": "Stripe could not verify the selfie.",
    "under_supported_age": "The user is under the minimum supported age.",
}
DEFAULT_OUTPUTS = {
    "first_name": "Jenny",
    "last_name": "Rosen",
    "dob": {"day": 1, "month": 1, "year": 1990},
    "address": {
        "line1": "1234 Main Street",
        "line2": None,
        "city": "San Francisco",
        "state": "CA",
        "postal_code": "94111",
        "country": "US",
    },
    "id_number_type": None,
    "email": None,
    "phone": None,
}


def create(state: State, call: Call) -> dict[str, Any]:
    kind = call.get("type") or ("verification_flow" if call.get("verification_flow") else None)
    if kind is None:
        raise StripeError(400, "Missing required param: type.", code="parameter_missing", param="type")
    if kind not in TYPES:
        message = f"Invalid type: must be one of {', '.join(TYPES)}"
        raise StripeError(400, message, code="parameter_invalid", param="type")
    session_id = new_id("vs_")
    session = {
        "id": session_id,
        "object": KIND,
        "client_reference_id": call.get("client_reference_id"),
        "client_secret": f"{session_id}_secret_{new_id('', 24)}",
        "created": state.now(),
        "last_error": None,
        "last_verification_report": None,
        "livemode": False,
        "metadata": call.metadata(),
        "options": call.get("options") or {},
        "provided_details": call.get("provided_details"),
        "redaction": None,
        "related_customer": call.get("related_customer"),
        "related_person": None,
        "status": "requires_input",
        "type": kind,
        "url": f"{state.public_url}/_standin/identity/verify/{session_id}",
        "verification_flow": call.get("verification_flow"),
        "verified_outputs": None,
        "_return_url": call.get("return_url"),
    }
    state.store.put(session)
    state.emit("identity.verification_session.created", session)
    return session


def retrieve(state: State, call: Call) -> dict[str, Any]:
    return state.load(call.path["id"], KIND, "verification session")


def list_sessions(state: State, call: Call) -> dict[str, Any]:
    status = call.get("status")
    reference = call.get("client_reference_id")
    return list_of(
        state,
        KIND,
        call,
        lambda s: (
            (status is None or s["status"] == status) and (reference is None or s["client_reference_id"] == reference)
        ),
    )


def update(state: State, call: Call) -> dict[str, Any]:
    session = retrieve(state, call)
    if session["status"] != "requires_input":
        raise _wrong_state(session, "updated")
    session["metadata"] = call.metadata(session["metadata"])
    if call.get("type"):
        session["type"] = call.get("type")
    return state.store.put(session)


def cancel(state: State, call: Call) -> dict[str, Any]:
    session = retrieve(state, call)
    if session["status"] != "requires_input":
        raise _wrong_state(session, "canceled")
    session["status"] = "canceled"
    session["url"] = None
    session["client_secret"] = None
    state.store.put(session)
    state.emit("identity.verification_session.canceled", session, {"status": "requires_input"})
    return session


def redact(state: State, call: Call) -> dict[str, Any]:
    session = retrieve(state, call)
    if session["status"] == "processing":
        raise _wrong_state(session, "redacted")
    if session["redaction"] and session["redaction"]["status"] == "redacted":
        return session
    session["redaction"] = {"status": "redacted"}
    session["verified_outputs"] = None
    session["metadata"] = {}
    state.store.put(session)
    state.emit("identity.verification_session.redacted", session)
    return session


def _wrong_state(session: dict[str, Any], verb: str) -> StripeError:
    return StripeError(
        400,
        f"This VerificationSession cannot be {verb} because it has a status of {session['status']}.",
        code="verification_session_unexpected_status" if verb != "canceled" else "session_not_cancelable",
    )


# -- controls: what the user and Stripe's verification backend would do -------------------------------------------
def control_processing(state: State, session_id: str) -> dict[str, Any]:
    session = state.load(session_id, KIND, "verification session")
    if session["status"] != "requires_input":
        raise _wrong_state(session, "submitted")
    return _to_processing(state, session)


def control_verify(state: State, session_id: str, outputs: dict[str, Any] | None) -> dict[str, Any]:
    session = state.load(session_id, KIND, "verification session")
    if session["status"] == "requires_input":  # the user submits first, as on Stripe
        session = _to_processing(state, session)
    if session["status"] != "processing":
        raise _wrong_state(session, "verified")
    session["status"] = "verified"
    session["last_error"] = None
    session["last_verification_report"] = new_id("vr_")
    session["verified_outputs"] = {**DEFAULT_OUTPUTS, **(outputs or {})}
    session["url"] = None
    state.store.put(session)
    state.emit("identity.verification_session.verified", session, {"status": "processing"})
    return session


def control_requires_input(state: State, session_id: str, code: str, reason: str | None) -> dict[str, Any]:
    if code not in LAST_ERROR_CODES:
        raise StripeError(400, f"unknown last_error code {code!r}; Stripe sends one of {', '.join(LAST_ERROR_CODES)}")
    session = state.load(session_id, KIND, "verification session")
    if session["status"] == "requires_input":
        session = _to_processing(state, session)
    if session["status"] != "processing":
        raise _wrong_state(session, "sent back for input")
    session["status"] = "requires_input"
    session["last_error"] = {"code": code, "reason": reason or LAST_ERROR_CODES[code]}
    session["last_verification_report"] = new_id("vr_")
    session["url"] = f"{state.public_url}/_standin/identity/verify/{session['id']}"
    state.store.put(session)
    state.emit("identity.verification_session.requires_input", session, {"status": "processing"})
    return session


def _to_processing(state: State, session: dict[str, Any]) -> dict[str, Any]:
    session["status"] = "processing"
    session["last_error"] = None
    state.store.put(session)
    state.emit("identity.verification_session.processing", session, {"status": "requires_input"})
    return session


ROUTES = [
    ("POST", "/v1/identity/verification_sessions", create),
    ("GET", "/v1/identity/verification_sessions", list_sessions),
    ("GET", "/v1/identity/verification_sessions/{id}", retrieve),
    ("POST", "/v1/identity/verification_sessions/{id}", update),
    ("POST", "/v1/identity/verification_sessions/{id}/cancel", cancel),
    ("POST", "/v1/identity/verification_sessions/{id}/redact", redact),
]
