"""The challenges service's own settings (DYNASTY_*), on top of what every service reads."""

from __future__ import annotations

from pathlib import Path

from pydantic import AliasChoices, Field

from libs.platform.settings import ServiceSettings

# The agreement shipped with the code (ADR 0046); an operator may point at another file and name its version.
DEFAULT_FUNDED_AGREEMENT = Path(__file__).parent / "agreements" / "funded-trader-agreement.md"


class ChallengesSettings(ServiceSettings):
    stripe_api_key: str = "sk_test_devstack"
    stripe_api_base: str | None = None  # None: api.stripe.com; the devstack gives the stand-in's address
    stripe_webhook_secret: str | None = None
    # DYNASTY_YOURPROPFIRM_*: the names the devstack sets and production reads from Secrets Manager.
    yourpropfirm_api_base: str = "http://127.0.0.1:8090"
    yourpropfirm_api_key: str = "ypf_devstack_client_key"
    yourpropfirm_timeout_seconds: float = 5.0
    # The devstack sets identity's mail folder for every process; credentials land in the same folder by default.
    challenges_mail_dir: str = Field(
        default=".data/devstack/mail",
        validation_alias=AliasChoices("DYNASTY_CHALLENGES_MAIL_DIR", "DYNASTY_IDENTITY_MAIL_DIR"),
    )
    challenges_mail_from: str = "Dynasty Futures <accounts@dynasty.local>"
    # Where credentials mail goes: the local mailbox above (devstack, tests) or SES in production, chosen by
    # libs/platform/email_selection.py as for identity. The region comes from AWS_REGION (set by the ECS task); the
    # endpoint is None in production and moto's server in tests. The configuration set requires TLS to the
    # recipient's mail server (infra/terraform/modules/notifications).
    challenges_email_backend: str = "local"  # local | ses
    challenges_ses_configuration_set: str | None = None
    aws_region: str | None = Field(default=None, validation_alias=AliasChoices("DYNASTY_AWS_REGION", "AWS_REGION"))
    aws_endpoint_url: str | None = None  # DYNASTY_AWS_ENDPOINT_URL
    challenges_provisioning_poll_seconds: float = 0.5
    challenges_provisioning_concurrency: int = 8
    # False: the service does not run the provisioning worker; `python -m services.challenges.provisioning_main`
    # does, in its own process, woken by PostgreSQL NOTIFY (ADR 0059).
    challenges_provisioning_in_process: bool = True
    # Monthly programs (ADR 0051): how long trading continues after a failed subscription payment, and how often the
    # billing job looks for expired grace periods and evaluations still billed after they ended.
    # Refused at start-up unless positive: a zero grace would suspend on the first failed payment, a zero poll spin.
    challenges_subscription_grace_days: float = Field(default=3.0, gt=0)
    challenges_billing_poll_seconds: float = Field(default=60.0, gt=0)
    # The funded-trader agreement in force (ADR 0046): its version name and the file holding its text; the SHA-256 of
    # the text is computed at start and published with it (GET /v1/funded-agreement). A new text needs a new version
    # name, and then every trader not yet funded accepts it again. The identity address is DYNASTY_IDENTITY_TARGET
    # (ServiceSettings); funding asks identity's GetKyc there, with this deadline.
    challenges_funded_agreement_version: str = Field(default="2026-11", min_length=1, max_length=32)
    challenges_funded_agreement_file: str = str(DEFAULT_FUNDED_AGREEMENT)
    challenges_identity_timeout_seconds: float = Field(default=5.0, gt=0)
    # The trader's platform password is kept sealed, not mailed (ADR 0045). The envelope's master key: a KMS key in
    # AWS (DYNASTY_CHALLENGES_KMS_KEY_ID), else a base64 key, else a key file created on first use (devstack, tests);
    # the service and a separate provisioning process must read the same one. Chosen by
    # libs/platform/master_key_selection.py, as for identity.
    challenges_kms_key_id: str | None = None
    challenges_master_key: str | None = None
    challenges_master_key_file: str = ".data/devstack/challenges/master.key"
    # An unrevealed password is erased after this long; a revealed one may be revealed again by its trader for this
    # many seconds after the first reveal (a response lost by a flaky client), then it is erased (0: at once). The
    # sweep erases what is due this often.
    challenges_credentials_retention_days: float = Field(default=7.0, gt=0)
    challenges_credentials_reveal_window_seconds: float = Field(default=60.0, ge=0, le=600)
    challenges_credentials_sweep_seconds: float = Field(default=300.0, gt=0)
    # Where the trader's app is: the credentials mail links to <this>/accounts/<id>/credentials.
    challenges_public_base_url: str = "http://127.0.0.1:8080"
