"""A local stand-in for the parts of the Stripe API that Dynasty Futures uses.

It speaks Stripe's wire format (form-encoded requests with bracketed keys, JSON objects with Stripe's ids and
shapes, Stripe's error body, signed webhooks), so the official `stripe` SDK pointed at it through
`StripeClient(base_addresses={"api": ...})` is the code under test. Anything under /_standin/ is not Stripe: it is
the test-control surface that plays the customer's part (paying, failing, disputing, verifying an identity) and the
misbehaviour knobs for webhook delivery. docs/integrations.md lists what is and is not implemented.
"""
