"""OAuth / OIDC sign-in: provider configs, PKCE, and the rule that decides whose account a provider identity is.

Linking rule (ADR 0038): a provider identity (provider, subject) already linked signs in its user. Otherwise it may
be linked to an existing account only when the provider asserts the email is verified AND our account's email is
verified too: an unverified account with that address may have been pre-registered by someone else (account
pre-hijacking), and an unverified provider email proves nothing. With no account for the email, a verified provider
email creates a new, verified account; an unverified one is refused.
"""

from __future__ import annotations

import base64
import hashlib
from dataclasses import dataclass
from enum import StrEnum

from libs.domain.errors import FailedPrecondition, InvalidArgument

PKCE_METHOD = "S256"


@dataclass(frozen=True)
class OAuthProvider:
    name: str  # "google", "apple", "devstack": the path segment of the gateway's routes
    issuer: str
    client_id: str
    client_secret: str | None
    scopes: tuple[str, ...]
    response_mode: str = "query"  # Apple: "form_post" when email or name is asked for
    token_auth_method: str = "client_secret_basic"  # or "client_secret_post" (Apple)


@dataclass(frozen=True)
class ProviderIdentity:
    """What a verified id_token says about the user."""

    provider: str
    subject: str
    email: str | None
    email_verified: bool


class LinkDecision(StrEnum):
    SIGN_IN_LINKED = "sign_in_linked"  # (provider, subject) known already
    LINK_EXISTING = "link_existing"
    CREATE = "create"


def pkce_challenge(verifier: str) -> str:
    """RFC 7636 S256: BASE64URL(SHA256(ASCII(verifier))) without padding."""
    if not 43 <= len(verifier) <= 128:
        raise InvalidArgument("a PKCE verifier has 43 to 128 characters", field="code_verifier")
    digest = hashlib.sha256(verifier.encode("ascii")).digest()
    return base64.urlsafe_b64encode(digest).rstrip(b"=").decode("ascii")


def truthy_claim(value: object) -> bool:
    """Google sends email_verified as a JSON boolean, Apple as the string "true"."""
    return value is True or (isinstance(value, str) and value.strip().lower() == "true")


def decide_link(
    identity: ProviderIdentity, *, already_linked: bool, account_exists: bool, account_email_verified: bool
) -> LinkDecision:
    if already_linked:
        return LinkDecision.SIGN_IN_LINKED
    if not identity.email or not identity.email_verified:
        raise FailedPrecondition(
            "the provider did not confirm this email address; sign in with your password instead",
            reason="OAUTH_EMAIL_NOT_VERIFIED",
        )
    if not account_exists:
        return LinkDecision.CREATE
    if not account_email_verified:
        raise FailedPrecondition(
            "an account with this email is waiting for its email to be confirmed; confirm it first, then link",
            reason="ACCOUNT_EMAIL_NOT_VERIFIED",
        )
    return LinkDecision.LINK_EXISTING
