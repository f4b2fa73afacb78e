"""The identity service over real gRPC (in-process server, real PostgreSQL and Redis): the wire shapes, status codes,
ErrorInfo (including RESOURCE_EXHAUSTED with retry_after_seconds), caller metadata, and KYC and OAuth where nothing
is configured."""

import json
import time

import grpc
import pytest

from devstack.stack import free_port
from dynasty.identity.v1 import identity_service_pb2 as pb
from dynasty.identity.v1 import identity_service_pb2_grpc as pb_grpc
from libs.platform.grpc_errors import error_info
from libs.platform.mailbox import read_mailbox
from libs.platform.service_main import build_server
from services.identity.main import wire
from tests.integration.identity.conftest import PASSWORD, identity_test_settings, link_token


@pytest.fixture
async def stub(database_url, redis_url, mail_dir):
    settings = identity_test_settings(database_url, redis_url, mail_dir, grpc_port=free_port())
    server, _relay, sender, engine = await build_server("identity", settings, wire)
    await server.start()
    channel = grpc.aio.insecure_channel(f"127.0.0.1:{server.port}")
    yield pb_grpc.IdentityServiceStub(channel)
    await channel.close()
    await server.stop()
    await sender.close()
    await engine.dispose()


async def rpc_error(awaitable) -> grpc.aio.AioRpcError:
    with pytest.raises(grpc.aio.AioRpcError) as info:
        await awaitable
    return info.value


def bearer(session: pb.Session):
    return (("authorization", f"Bearer {session.access_token}"),)


async def signed_in_over_grpc(stub, mail_dir, email: str) -> pb.Session:
    await stub.Register(pb.RegisterRequest(email=email, password=PASSWORD), timeout=10)
    await stub.VerifyEmail(pb.VerifyEmailRequest(token=link_token(mail_dir, email)), timeout=10)
    return (await stub.Login(pb.LoginRequest(email=email, password=PASSWORD), timeout=10)).session


async def test_register_verify_login_and_get_me_over_grpc(stub, mail_dir, unique):
    email = f"grpc-{unique}@example.com"
    client = pb.ClientContext(ip="198.18.0.9", user_agent="grpc-test")
    first = await stub.Register(pb.RegisterRequest(email=email, password=PASSWORD, client=client), timeout=10)
    again = await stub.Register(pb.RegisterRequest(email=email, password=PASSWORD, client=client), timeout=10)
    assert first.message == again.message
    verified = await stub.VerifyEmail(pb.VerifyEmailRequest(token=link_token(mail_dir, email)), timeout=10)
    assert verified.user.status == pb.USER_STATUS_ACTIVE and verified.user.kyc_status == pb.KYC_STATUS_NOT_STARTED
    login = await stub.Login(pb.LoginRequest(email=email, password=PASSWORD, client=client), timeout=10)
    assert login.session.token_type == "Bearer" and not login.mfa_required
    me = await stub.GetMe(pb.GetMeRequest(), metadata=bearer(login.session), timeout=10)
    assert me.user.email == email and me.user.role == pb.ROLE_TRADER
    jwks = await stub.GetJwks(pb.GetJwksRequest(), timeout=10)
    assert jwks.max_age_seconds == 300 and all(k["alg"] == "ES256" for k in json.loads(jwks.jwks_json)["keys"])
    assert len(read_mailbox(mail_dir, to=email)) == 2


async def test_wrong_credentials_are_unauthenticated_and_throttling_is_resource_exhausted(stub, unique):
    request = pb.LoginRequest(email=f"nobody-{unique}@example.com", password="x" * 12)
    error = await rpc_error(stub.Login(request, timeout=10))
    assert error.code() is grpc.StatusCode.UNAUTHENTICATED
    assert error_info(error).reason == "INVALID_CREDENTIALS"
    for _ in range(4):
        await rpc_error(stub.Login(request, timeout=10))
    throttled = await rpc_error(stub.Login(request, timeout=10))
    assert throttled.code() is grpc.StatusCode.RESOURCE_EXHAUSTED
    info = error_info(throttled)
    assert info.reason == "TOO_MANY_ATTEMPTS" and int(info.metadata["retry_after_seconds"]) >= 1


async def test_staff_rpcs_refuse_a_trader_and_a_logged_out_token_is_refused(stub, mail_dir, unique):
    session = await signed_in_over_grpc(stub, mail_dir, f"grpc-trader-{unique}@example.com")
    error = await rpc_error(stub.ListUsers(pb.ListUsersRequest(), metadata=bearer(session), timeout=10))
    assert error.code() is grpc.StatusCode.PERMISSION_DENIED
    anonymous = await rpc_error(stub.GetMe(pb.GetMeRequest(), timeout=10))
    assert anonymous.code() is grpc.StatusCode.UNAUTHENTICATED
    await stub.Logout(pb.LogoutRequest(refresh_token=session.refresh_token), metadata=bearer(session), timeout=10)
    after = await rpc_error(stub.GetMe(pb.GetMeRequest(), metadata=bearer(session), timeout=10))
    assert after.code() is grpc.StatusCode.UNAUTHENTICATED


async def test_kyc_needs_a_caller_and_an_unconfigured_oauth_provider_is_not_found(stub, mail_dir, unique):
    error = await rpc_error(stub.GetKyc(pb.GetKycRequest(), timeout=10))
    assert error.code() is grpc.StatusCode.UNAUTHENTICATED
    session = await signed_in_over_grpc(stub, mail_dir, f"grpc-kyc-{unique}@example.com")
    case = (await stub.GetKyc(pb.GetKycRequest(), metadata=bearer(session), timeout=10)).kyc_case
    assert case.status == pb.KYC_STATUS_NOT_STARTED and not case.verification_session_id
    # No Stripe key in these settings: KYC is unavailable, said plainly, and nothing changes.
    error = await rpc_error(stub.CreateKycSession(pb.CreateKycSessionRequest(), metadata=bearer(session), timeout=10))
    assert error.code() is grpc.StatusCode.FAILED_PRECONDITION and error_info(error).reason == "KYC_UNAVAILABLE"
    # No client id for Google in these settings and no devstack override: the provider does not exist here.
    request = pb.StartOAuthRequest(provider="google", redirect_uri="https://app.example.com/cb")
    error = await rpc_error(stub.StartOAuth(request, timeout=10))
    assert error.code() is grpc.StatusCode.NOT_FOUND and error_info(error).reason == "OAUTH_PROVIDER_UNKNOWN"


async def test_totp_tax_profile_login_history_and_step_up_over_grpc(stub, mail_dir, unique):
    import pyotp

    session = await signed_in_over_grpc(stub, mail_dir, f"grpc-mfa-{unique}@example.com")
    me = bearer(session)
    enrolment = await stub.EnrollTotp(pb.EnrollTotpRequest(), metadata=me, timeout=10)
    totp = pyotp.TOTP(enrolment.secret)
    confirmed = await stub.ConfirmTotp(pb.ConfirmTotpRequest(totp_code=totp.now()), metadata=me, timeout=10)
    assert len(confirmed.recovery_codes) == 10
    stepped = await stub.StepUp(pb.StepUpRequest(totp_code=totp.at(time.time() + 30)), metadata=me, timeout=10)
    assert stepped.access_token and stepped.access_token_expires_at.seconds > time.time()

    profile = await stub.SetTaxProfile(
        pb.SetTaxProfileRequest(
            form=pb.TAX_FORM_W8BEN, legal_name="Jan Novak", tin="7501011234", country="CZ", address="Praha 1"
        ),
        metadata=me,
        timeout=10,
    )
    assert profile.tax_profile.tin_masked == "*****1234" and profile.tax_profile.form == pb.TAX_FORM_W8BEN
    bad = await rpc_error(
        stub.SetTaxProfile(pb.SetTaxProfileRequest(form=pb.TAX_FORM_W9, legal_name="x"), metadata=me, timeout=10)
    )
    assert bad.code() is grpc.StatusCode.INVALID_ARGUMENT

    challenge = await stub.Login(pb.LoginRequest(email=f"grpc-mfa-{unique}@example.com", password=PASSWORD))
    assert challenge.mfa_required and not challenge.HasField("session")
    finished = await stub.CompleteMfaLogin(
        pb.CompleteMfaLoginRequest(mfa_token=challenge.mfa_token, recovery_code=confirmed.recovery_codes[0]),
        timeout=10,
    )
    first_page = await stub.ListLoginEvents(
        pb.ListLoginEventsRequest(page_size=1), metadata=bearer(finished.session), timeout=10
    )
    assert [e.outcome for e in first_page.events] == ["ok"] and first_page.next_page_token
    second_page = await stub.ListLoginEvents(
        pb.ListLoginEventsRequest(page_size=5, page_token=first_page.next_page_token),
        metadata=bearer(finished.session),
        timeout=10,
    )
    assert [e.outcome for e in second_page.events] == ["mfa_required", "ok"]
