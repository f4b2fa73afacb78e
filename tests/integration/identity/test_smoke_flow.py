"""Register, verify, sign in, refresh, and the token verifies with the gateway's verifier."""

from services.identity.application.refresh_session import RefreshSession
from tests.integration.identity.conftest import client, signed_in


async def test_a_new_user_registers_verifies_signs_in_and_the_token_verifies(identity, mail_dir, verifier, unique):
    user, session = await signed_in(identity, mail_dir, f"smoke-{unique}@example.com")
    claims = await verifier.verify(session.access_token)
    assert claims.user_id == str(user.user_id)
    assert claims.role == "trader"
    assert claims.amr == ("pwd",)
    rotated = await identity.use_cases.refresh_session(RefreshSession(session.refresh_token, client()))
    assert rotated.refresh_token != session.refresh_token
    assert (await verifier.verify(rotated.access_token)).session_id == str(session.session_id)
