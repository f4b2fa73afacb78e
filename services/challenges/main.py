"""Composition root of the challenges service: `python -m services.challenges.main`."""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import timedelta
from pathlib import Path

from libs.platform.service_main import Runtime, Wiring, run_service

SERVICE = "challenges"
# Which services receive which of our events (outbox routing). The rules service starts judging an account when it
# is activated (with the snapshotted rule set) and stops when its status leaves an active phase (ADR 0050).
EVENT_ROUTES: dict[str, tuple[str, ...]] = {
    "AccountActivated": ("rules",),
    "AccountStatusChanged": ("rules",),
    # A chargeback flags the user for review in identity (issue 5; ADR 0057).
    "ChargebackOpened": ("identity",),
    "ChargebackClosed": ("identity",),
    # A funded account stepped up its size: rules judges it by the rule set at the new size (ADR 0054).
    "AccountScaled": ("rules",),
}


@dataclass
class Adapters:
    """The outside world, replaceable by tests (each None is built from settings)."""

    payments: object | None = None
    platform: object | None = None
    users: object | None = None
    mailer: object | None = None
    notifier: object | None = None
    kyc: object | None = None  # identity's GetKyc (funding, ADR 0046)


@dataclass
class Background:
    """What runs next to the gRPC server: the provisioning worker (the outbox relay is the platform's)."""

    worker: object | None = None
    worker_in_process: bool = True  # False: a provisioning_main process runs the worker (ADR 0059)
    billing: object | None = None  # the subscription billing job (grace expiry, cancelling after the evaluation)
    credentials_sweep: object | None = None  # erases sealed platform passwords revealed or past retention (ADR 0045)
    closers: list = field(default_factory=list)


def build_wire(adapters: Adapters | None = None, background: Background | None = None, settings=None):
    """`settings` (ChallengesSettings) replaces the environment's; tests pass their stand-ins' addresses."""
    adapters = adapters or Adapters()
    given_settings = settings
    background = background if background is not None else Background()

    def wire(runtime: Runtime) -> Wiring:
        from dynasty.challenges.v1 import challenges_service_pb2_grpc
        from libs.platform.email_selection import EmailChoice, email_sender
        from libs.platform.master_key_selection import MasterKeyChoice, envelope_cipher
        from services.challenges.adapters.grpc.servicer import ChallengesServicer, PurchaseHandlers
        from services.challenges.adapters.identity_kyc import IdentityKycDirectory
        from services.challenges.adapters.inbox_handlers import rules_event_handlers
        from services.challenges.adapters.notices import IdentityUserDirectory, RedisNotifier
        from services.challenges.adapters.payout_events import payout_event_handlers
        from services.challenges.adapters.sealing import EnvelopeSealer
        from services.challenges.adapters.sql.credentials_unit_of_work import SqlAlchemyCredentialsUnitOfWork
        from services.challenges.adapters.sql.funding_unit_of_work import SqlAlchemyFundingUnitOfWork
        from services.challenges.adapters.sql.unit_of_work import SqlAlchemyChallengesUnitOfWork
        from services.challenges.adapters.stripe.payments import StripePayments
        from services.challenges.adapters.yourpropfirm.client import YourPropFirmClient
        from services.challenges.application.accept_funded_agreement import AcceptFundedAgreementHandler
        from services.challenges.application.cancel_subscription import CancelSubscriptionHandler
        from services.challenges.application.change_account_standing import ChangeAccountStandingHandler
        from services.challenges.application.create_order import CreateOrderHandler
        from services.challenges.application.create_program_version import CreateProgramVersionHandler
        from services.challenges.application.create_reset_order import CreateResetOrderHandler
        from services.challenges.application.enforce_subscription_billing import EnforceSubscriptionBilling
        from services.challenges.application.erase_platform_credentials import ErasePlatformCredentials
        from services.challenges.application.fund_account import FundAccountHandler
        from services.challenges.application.get_account import GetAccountHandler
        from services.challenges.application.get_funded_agreement import GetFundedAgreementHandler
        from services.challenges.application.get_order import GetOrderHandler
        from services.challenges.application.get_program import GetProgramHandler
        from services.challenges.application.list_accounts import ListAccountsHandler
        from services.challenges.application.list_programs import ListProgramsHandler
        from services.challenges.application.provision_accounts import ProvisionAccountsWorker
        from services.challenges.application.record_payment_event import RecordPaymentEventHandler
        from services.challenges.application.refund_account import RefundAccountHandler
        from services.challenges.application.reveal_platform_credentials import RevealPlatformCredentialsHandler
        from services.challenges.application.use_free_retry import UseFreeRetryHandler
        from services.challenges.domain.funded_agreement import FundedAgreement
        from services.challenges.settings import ChallengesSettings

        settings = given_settings or ChallengesSettings(DATABASE_URL=runtime.settings.database_url)

        def uow() -> SqlAlchemyChallengesUnitOfWork:
            return SqlAlchemyChallengesUnitOfWork(
                runtime.sessions, schema=SERVICE, source=SERVICE, clock=runtime.clock, routes=EVENT_ROUTES
            )

        def funding_uow() -> SqlAlchemyFundingUnitOfWork:
            return SqlAlchemyFundingUnitOfWork(
                runtime.sessions, schema=SERVICE, source=SERVICE, clock=runtime.clock, routes=EVENT_ROUTES
            )

        def credentials_uow() -> SqlAlchemyCredentialsUnitOfWork:
            return SqlAlchemyCredentialsUnitOfWork(
                runtime.sessions, schema=SERVICE, source=SERVICE, clock=runtime.clock, routes=EVENT_ROUTES
            )

        # The platform passwords' envelope key (ADR 0045): KMS in AWS, a local key in the devstack and tests.
        sealer = EnvelopeSealer(
            envelope_cipher(
                MasterKeyChoice(
                    kms_key_id=settings.challenges_kms_key_id,
                    local_key=settings.challenges_master_key,
                    key_file=settings.challenges_master_key_file,
                    aws_region=settings.aws_region,
                    aws_endpoint_url=settings.aws_endpoint_url,
                )
            )
        )
        credentials_retention = timedelta(days=settings.challenges_credentials_retention_days)
        reveal_window = timedelta(seconds=settings.challenges_credentials_reveal_window_seconds)
        app_base = settings.challenges_public_base_url.rstrip("/")

        # Read once at start: a missing or empty agreement file stops the service rather than fund on nothing.
        agreement = FundedAgreement.publish(
            settings.challenges_funded_agreement_version,
            Path(settings.challenges_funded_agreement_file).read_text(encoding="utf-8"),
        )
        kyc = adapters.kyc
        if kyc is None:
            kyc = IdentityKycDirectory(
                runtime.settings.target_for("identity"), timeout=settings.challenges_identity_timeout_seconds
            )
            background.closers.append(kyc.close)
        payments = adapters.payments or StripePayments(settings.stripe_api_key, base=settings.stripe_api_base)
        platform = adapters.platform
        if platform is None:
            platform = YourPropFirmClient(
                settings.yourpropfirm_api_base,
                settings.yourpropfirm_api_key,
                timeout_seconds=settings.yourpropfirm_timeout_seconds,
            )
            background.closers.append(platform.close)
        users = adapters.users
        if users is None:
            users = IdentityUserDirectory(runtime.settings.target_for("identity"))
            background.closers.append(users.close)
        mailer = adapters.mailer or email_sender(
            EmailChoice(
                backend=settings.challenges_email_backend,
                sender=settings.challenges_mail_from,
                mail_dir=Path(settings.challenges_mail_dir),
                aws_region=settings.aws_region,
                aws_endpoint_url=settings.aws_endpoint_url,
                ses_configuration_set=settings.challenges_ses_configuration_set,
            )
        )
        notifier = adapters.notifier or RedisNotifier(runtime.redis)
        worker = ProvisionAccountsWorker(
            credentials_uow,
            platform,
            mailer,
            notifier,
            runtime.clock,
            sealer=sealer,
            reveal_url=lambda account_id: f"{app_base}/accounts/{account_id}/credentials",
            retention=credentials_retention,
            poll_seconds=settings.challenges_provisioning_poll_seconds,
            concurrency=settings.challenges_provisioning_concurrency,
        )
        background.worker = worker
        background.worker_in_process = settings.challenges_provisioning_in_process
        background.billing = EnforceSubscriptionBilling(
            uow, payments, runtime.clock, poll_seconds=settings.challenges_billing_poll_seconds
        )
        background.credentials_sweep = ErasePlatformCredentials(
            credentials_uow,
            runtime.clock,
            retention=credentials_retention,
            reveal_window=reveal_window,
            poll_seconds=settings.challenges_credentials_sweep_seconds,
        )
        servicer = ChallengesServicer(
            list_programs=ListProgramsHandler(uow),
            get_program=GetProgramHandler(uow),
            create_program_version=CreateProgramVersionHandler(uow, runtime.clock),
            purchases=PurchaseHandlers(
                create_order=CreateOrderHandler(uow, payments, users, runtime.clock),
                get_order=GetOrderHandler(uow),
                record_payment_event=RecordPaymentEventHandler(
                    uow,
                    payments,
                    runtime.clock,
                    on_account_created=worker.wake,
                    subscription_grace=timedelta(days=settings.challenges_subscription_grace_days),
                ),
                list_accounts=ListAccountsHandler(uow),
                get_account=GetAccountHandler(uow),
                change_standing=ChangeAccountStandingHandler(uow, runtime.clock),
                refund_account=RefundAccountHandler(uow, payments, runtime.clock),
                create_reset_order=CreateResetOrderHandler(uow, payments, runtime.clock),
                use_free_retry=UseFreeRetryHandler(uow, runtime.clock, on_reset=worker.wake),
                cancel_subscription=CancelSubscriptionHandler(uow, payments, runtime.clock),
                webhook_secret=lambda: settings.stripe_webhook_secret,
                get_funded_agreement=GetFundedAgreementHandler(agreement),
                accept_funded_agreement=AcceptFundedAgreementHandler(funding_uow, runtime.clock, agreement),
                fund_account=FundAccountHandler(
                    funding_uow, runtime.clock, kyc, agreement, notifier, on_reset=worker.wake
                ),
                reveal_platform_credentials=RevealPlatformCredentialsHandler(
                    credentials_uow, sealer, runtime.clock, reveal_window=reveal_window
                ),
            ),
        )

        def register(server) -> list[str]:
            challenges_service_pb2_grpc.add_ChallengesServiceServicer_to_server(servicer, server)
            return ["dynasty.challenges.v1.ChallengesService"]

        handlers = {**rules_event_handlers(EVENT_ROUTES), **payout_event_handlers(EVENT_ROUTES)}
        return Wiring(register=register, event_handlers=handlers)

    return wire


# The default wiring, for callers (tests, tools) that build the server themselves.
wire = build_wire()


def main() -> None:
    from services.challenges.settings import ChallengesSettings

    # The provisioning worker runs beside the outbox relay; the platform's serving loop starts and stops both.
    background = Background()
    run_service(
        SERVICE,
        build_wire(None, background),
        settings_class=ChallengesSettings,
        loops=lambda: [
            *([background.worker] if background.worker_in_process else []),
            background.billing,
            background.credentials_sweep,
        ],
        closers=lambda: background.closers,
    )


__all__ = ["build_wire", "main", "wire"]

if __name__ == "__main__":
    main()
