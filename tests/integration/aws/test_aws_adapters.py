"""The production AWS adapters (SES, S3 with SSE-KMS, KMS master key) against moto in server mode: a real HTTP
endpoint speaking AWS's wire protocols, so boto3 serialises, signs and parses exactly as it does against AWS and
the code under test is ours (ADR 0043)."""

from __future__ import annotations

import uuid
from email import message_from_string, policy

import boto3
import pytest
from botocore.exceptions import ClientError
from moto.core import DEFAULT_ACCOUNT_ID
from moto.server import ThreadedMotoServer
from moto.ses.models import ses_backends

from libs.platform.aws_email import SesEmailSender
from libs.platform.aws_kms import KmsMasterKey
from libs.platform.aws_storage import S3ObjectStorage
from libs.platform.crypto import DecryptionFailed, EnvelopeCipher
from libs.platform.object_storage import ObjectNotFound
from libs.platform.settings import IdentitySettings
from services.identity.adapters import composition

REGION = "us-east-1"
SENDER = "Dynasty Futures <no-reply@dynasty.example>"


@pytest.fixture(scope="module")
def endpoint():
    with pytest.MonkeyPatch.context() as env:
        # Fake credentials, so nothing here can ever reach a real AWS account, whatever the developer's shell has.
        for name in ("AWS_PROFILE", "AWS_CONFIG_FILE", "AWS_SHARED_CREDENTIALS_FILE"):
            env.delenv(name, raising=False)
        env.setenv("AWS_ACCESS_KEY_ID", "testing")
        env.setenv("AWS_SECRET_ACCESS_KEY", "testing")
        env.setenv("AWS_SESSION_TOKEN", "testing")
        env.setenv("AWS_REGION", REGION)
        env.setenv("AWS_DEFAULT_REGION", REGION)
        server = ThreadedMotoServer(ip_address="127.0.0.1", port=0, verbose=False)
        server.start()
        host, port = server.get_host_and_port()
        try:
            yield f"http://{host}:{port}"
        finally:
            server.stop()


def client(endpoint: str, service: str):
    return boto3.session.Session().client(service, region_name=REGION, endpoint_url=endpoint)


def sent_raw_messages() -> list:
    return ses_backends[DEFAULT_ACCOUNT_ID][REGION].sent_messages


@pytest.fixture(scope="module")
def kms_key_id(endpoint):
    return client(endpoint, "kms").create_key(Description="identity master key")["KeyMetadata"]["KeyId"]


@pytest.fixture(scope="module")
def kms_mac_key_id(endpoint):
    answer = client(endpoint, "kms").create_key(KeySpec="HMAC_256", KeyUsage="GENERATE_VERIFY_MAC")
    return answer["KeyMetadata"]["KeyId"]


@pytest.fixture
def bucket(endpoint):
    name = f"dynasty-identity-{uuid.uuid4().hex[:12]}"
    client(endpoint, "s3").create_bucket(Bucket=name)
    return name


# -- SES ---------------------------------------------------------------------------------------------------------


async def test_ses_sends_the_mime_message_to_the_recipient_from_a_verified_sender(endpoint):
    ses = client(endpoint, "sesv2")
    ses.create_email_identity(EmailIdentity="no-reply@dynasty.example")  # SES refuses unverified senders
    ses.create_configuration_set(ConfigurationSetName="identity-mail")
    sender = SesEmailSender(ses, SENDER, configuration_set="identity-mail")
    link = f"https://app.dynasty.example/verify-email?token={uuid.uuid4().hex}"
    before = len(sent_raw_messages())

    await sender.send("trader@example.com", "Confirm your email", f"Welcome.\n\nConfirm here: {link}\n")

    sent = sent_raw_messages()[before:]
    assert len(sent) == 1
    # moto lists the Destination and the MIME To header separately; the only recipient is the trader.
    assert set(sent[0].destinations) == {"trader@example.com"}
    message = message_from_string(sent[0].raw_data, policy=policy.default)
    assert message["To"] == "trader@example.com"
    assert message["From"] == SENDER
    assert message["Subject"] == "Confirm your email"
    assert link in message.get_content()


async def test_ses_refuses_a_sender_that_was_never_verified(endpoint):
    sender = SesEmailSender(client(endpoint, "sesv2"), "Nobody <nobody@unverified.example>")
    before = len(sent_raw_messages())

    with pytest.raises(ClientError) as refused:
        await sender.send("trader@example.com", "Confirm your email", "body")

    assert refused.value.response["Error"]["Code"] == "MessageRejected"
    assert len(sent_raw_messages()) == before


# -- S3 with SSE-KMS ---------------------------------------------------------------------------------------------


async def test_s3_round_trip_stores_an_envelope_under_sse_kms(endpoint, bucket, kms_key_id):
    s3 = client(endpoint, "s3")
    storage = S3ObjectStorage(s3, bucket, kms_key_id=kms_key_id)
    cipher = EnvelopeCipher(KmsMasterKey(client(endpoint, "kms"), kms_key_id))
    document = b"%PDF-1.7 passport scan of Jane Trader, number X1234567"
    sealed = cipher.encrypt(document, context="kyc-document:u1:d1").encode("ascii")

    await storage.put("kyc/u1/d1", sealed, content_type="application/vnd.dynasty.envelope")

    head = s3.head_object(Bucket=bucket, Key="kyc/u1/d1")
    assert head["ServerSideEncryption"] == "aws:kms"
    assert head["SSEKMSKeyId"].endswith(kms_key_id)
    assert head["ContentType"] == "application/vnd.dynasty.envelope"
    at_rest = s3.get_object(Bucket=bucket, Key="kyc/u1/d1")["Body"].read()
    assert b"X1234567" not in at_rest and b"Jane Trader" not in at_rest
    read_back = await storage.get("kyc/u1/d1")
    assert read_back == sealed
    assert cipher.decrypt(read_back.decode("ascii"), context="kyc-document:u1:d1") == document


async def test_s3_missing_object_and_unsafe_key(endpoint, bucket, kms_key_id):
    storage = S3ObjectStorage(client(endpoint, "s3"), bucket, kms_key_id=kms_key_id)

    with pytest.raises(ObjectNotFound):
        await storage.get("kyc/u1/never-stored")
    with pytest.raises(ValueError):
        await storage.put("kyc/../escape", b"x", content_type="application/octet-stream")


# -- KMS master key ----------------------------------------------------------------------------------------------


def test_kms_envelope_round_trip_and_wrong_context_refused(endpoint, kms_key_id):
    cipher = EnvelopeCipher(KmsMasterKey(client(endpoint, "kms"), kms_key_id))

    stored = cipher.encrypt_text("123-45-6789", context="tax:user-1")

    assert "123-45-6789" not in stored
    assert cipher.decrypt_text(stored, context="tax:user-1") == "123-45-6789"
    with pytest.raises(DecryptionFailed):
        cipher.decrypt_text(stored, context="tax:user-2")
    # KMS itself binds the context (not only the AES-GCM layer above it): the wrapped data key alone is refused.
    master = KmsMasterKey(client(endpoint, "kms"), kms_key_id)
    wrapped = master.wrap(b"d" * 32, "tax:user-1")
    with pytest.raises(DecryptionFailed):
        master.unwrap(wrapped, "tax:user-2")


def test_kms_refuses_an_altered_wrapped_key_and_another_master_key(endpoint, kms_key_id):
    kms = client(endpoint, "kms")
    master = KmsMasterKey(kms, kms_key_id)
    wrapped = master.wrap(b"k" * 32, "totp:user-1")
    altered = wrapped[:-1] + bytes([wrapped[-1] ^ 1])
    other_key_id = kms.create_key(Description="another service's key")["KeyMetadata"]["KeyId"]

    with pytest.raises(DecryptionFailed):
        master.unwrap(altered, "totp:user-1")
    # AWS answers IncorrectKeyException here (mapped to DecryptionFailed); moto answers AccessDeniedException,
    # which the adapter deliberately lets through as it is (a permission fault, not a bad ciphertext). Either way
    # the key does not come back.
    with pytest.raises((DecryptionFailed, ClientError)):
        KmsMasterKey(kms, other_key_id).unwrap(wrapped, "totp:user-1")
    assert master.unwrap(wrapped, "totp:user-1") == b"k" * 32


def test_kms_derive_is_stable_per_purpose_and_differs_between_purposes(endpoint, kms_key_id, kms_mac_key_id):
    master = KmsMasterKey(client(endpoint, "kms"), kms_key_id, mac_key_id=kms_mac_key_id)

    link_key = master.derive("identity:link-tokens")

    assert len(link_key) == 32
    assert master.derive("identity:link-tokens") == link_key
    assert master.derive("identity:something-else") != link_key


# -- composition -------------------------------------------------------------------------------------------------


def aws_settings(endpoint: str, **values) -> IdentitySettings:
    return IdentitySettings(DATABASE_URL="sqlite://", aws_endpoint_url=endpoint, **values)


async def test_composition_builds_the_aws_adapters_when_settings_ask_for_them(
    endpoint, bucket, kms_key_id, kms_mac_key_id
):
    settings = aws_settings(
        endpoint,
        identity_email_backend="ses",
        identity_kms_key_id=kms_key_id,
        identity_kms_mac_key_id=kms_mac_key_id,
        identity_object_storage_bucket=bucket,
    )
    assert settings.aws_region == REGION  # from AWS_REGION

    master = composition.master_key(settings)
    storage = composition.object_storage(settings)
    assert isinstance(master, KmsMasterKey)
    assert isinstance(composition.email_sender(settings), SesEmailSender)
    assert isinstance(storage, S3ObjectStorage)

    # Built from settings alone, they reach the endpoint and the key the settings name.
    cipher = composition.cipher(settings, master)
    await storage.put("kyc/u2/d1", cipher.encrypt(b"scan", context="c").encode(), content_type="image/png")
    head = client(endpoint, "s3").head_object(Bucket=bucket, Key="kyc/u2/d1")
    assert head["SSEKMSKeyId"].endswith(kms_key_id)
    assert cipher.decrypt((await storage.get("kyc/u2/d1")).decode(), context="c") == b"scan"


def test_composition_reads_the_endpoint_and_region_from_the_environment(endpoint, monkeypatch):
    monkeypatch.setenv("DYNASTY_AWS_ENDPOINT_URL", endpoint)
    monkeypatch.setenv("DYNASTY_AWS_REGION", "eu-west-2")

    settings = IdentitySettings(DATABASE_URL="sqlite://")

    assert settings.aws_endpoint_url == endpoint
    assert settings.aws_region == "eu-west-2"  # the explicit setting wins over the task's AWS_REGION
    assert composition.aws_client(settings, "kms").meta.region_name == "eu-west-2"


def test_composition_refuses_kms_without_the_hmac_key_and_unknown_email_backends(endpoint, kms_key_id):
    with pytest.raises(SystemExit, match="DYNASTY_IDENTITY_KMS_MAC_KEY_ID"):
        composition.master_key(aws_settings(endpoint, identity_kms_key_id=kms_key_id))
    with pytest.raises(SystemExit, match="smtp"):
        composition.email_sender(aws_settings(endpoint, identity_email_backend="smtp"))
