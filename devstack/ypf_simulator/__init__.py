"""A stand-in for YourPropFirm's trading platform API: provisioning, trading data, enforcement and signed webhooks.

YourPropFirm's trading-data API is not public, so the wire format this simulator speaks is the contract our
adapters are written against; docs/integrations.md ("YourPropFirm") describes it field by field. Production code
never imports this package; the devstack starts it as `python -m devstack.ypf_simulator`.
"""
