"""What every Stripe route shares, through the official SDK: auth, errors, idempotency, lists, expansion."""

from __future__ import annotations

import httpx
import pytest
import stripe

from devstack.stripe_standin.forms import parse_form
from tests.integration.standins.conftest import Standin


def test_bracketed_form_keys_decode_to_nested_dicts_and_lists() -> None:
    raw = (
        "metadata[plan]=50k&line_items[0][price]=price_1&line_items[0][quantity]=2"
        "&line_items[1][price_data][unit_amount]=500&expand[]=customer&expand[]=payment_intent&empty="
    )
    assert parse_form(raw) == {
        "metadata": {"plan": "50k"},
        "line_items": [{"price": "price_1", "quantity": "2"}, {"price_data": {"unit_amount": "500"}}],
        "expand": ["customer", "payment_intent"],
        "empty": "",
    }


def test_a_key_that_is_not_a_test_secret_key_is_refused_in_stripes_shape(standin: Standin) -> None:
    live = stripe.StripeClient("sk_live_nope1234", base_addresses={"api": standin.url}, max_network_retries=0)
    with pytest.raises(stripe.AuthenticationError) as refused:
        live.v1.customers.list()
    assert refused.value.http_status == 401
    assert "Invalid API Key provided" in refused.value.user_message
    anonymous = httpx.get(f"{standin.url}/v1/customers")
    assert anonymous.status_code == 401
    assert set(anonymous.json()["error"]) >= {"type", "message"}


def test_the_same_idempotency_key_replays_the_first_answer(client: stripe.StripeClient) -> None:
    params = {"email": "a@dynasty.test", "metadata": {"user_id": "u1"}}
    first = client.v1.customers.create(params=params, options={"idempotency_key": "order-1-customer"})
    again = client.v1.customers.create(params=params, options={"idempotency_key": "order-1-customer"})

    assert again.id == first.id
    assert again.last_response.headers["Idempotent-Replayed"] == "true"
    assert len(client.v1.customers.list(params={"email": "a@dynasty.test"}).data) == 1


def test_the_same_idempotency_key_with_other_params_is_an_idempotency_error(client: stripe.StripeClient) -> None:
    client.v1.customers.create(params={"email": "a@dynasty.test"}, options={"idempotency_key": "k-1"})
    with pytest.raises(stripe.IdempotencyError) as refused:
        client.v1.customers.create(params={"email": "b@dynasty.test"}, options={"idempotency_key": "k-1"})
    assert refused.value.http_status == 400
    assert refused.value.error.type == "idempotency_error"
    assert client.v1.customers.list(params={"email": "b@dynasty.test"}).data == []


def test_a_refusal_is_replayed_too_so_a_retry_cannot_turn_it_into_a_success(client: stripe.StripeClient) -> None:
    for _attempt in range(2):
        with pytest.raises(stripe.InvalidRequestError) as refused:
            client.v1.prices.create(
                params={"currency": "usd", "unit_amount": 100, "product": "prod_missing"},
                options={"idempotency_key": "price-k"},
            )
        assert refused.value.code == "resource_missing" and refused.value.param == "product"


def test_lists_page_newest_first_with_starting_after_and_ending_before(client: stripe.StripeClient) -> None:
    created = [client.v1.customers.create(params={"name": f"c{i}"}).id for i in range(5)]
    newest_first = list(reversed(created))

    page = client.v1.customers.list(params={"limit": 2})
    assert [c.id for c in page.data] == newest_first[:2] and page.has_more
    page = client.v1.customers.list(params={"limit": 2, "starting_after": page.data[-1].id})
    assert [c.id for c in page.data] == newest_first[2:4] and page.has_more
    assert [c.id for c in client.v1.customers.list(params={"limit": 100}).auto_paging_iter()] == newest_first
    before = client.v1.customers.list(params={"limit": 2, "ending_before": newest_first[3]})
    assert [c.id for c in before.data] == newest_first[1:3]
    with pytest.raises(stripe.InvalidRequestError):
        client.v1.customers.list(params={"limit": 101})


def test_expand_replaces_ids_with_objects_including_nested_paths(client: stripe.StripeClient) -> None:
    product = client.v1.products.create(params={"name": "$50K Evaluation"})
    price = client.v1.prices.create(params={"currency": "usd", "unit_amount": 16500, "product": product.id})

    plain = client.v1.prices.retrieve(price.id)
    expanded = client.v1.prices.retrieve(price.id, params={"expand": ["product"]})
    listed = client.v1.prices.list(params={"product": product.id, "expand": ["data.product"]})

    assert plain.product == product.id
    assert isinstance(expanded.product, stripe.Product) and expanded.product.name == "$50K Evaluation"
    assert listed.data[0].product.id == product.id


def test_update_merges_metadata_and_an_empty_value_unsets_a_key(client: stripe.StripeClient) -> None:
    customer = client.v1.customers.create(params={"metadata": {"a": "1", "b": "2"}})
    updated = client.v1.customers.update(customer.id, params={"metadata": {"b": "", "c": "3"}})
    assert updated.metadata.to_dict() == {"a": "1", "c": "3"}
    deleted = client.v1.customers.delete(customer.id)
    assert deleted.deleted is True
    assert client.v1.customers.retrieve(customer.id).deleted is True
    with pytest.raises(stripe.InvalidRequestError) as missing:
        client.v1.customers.update(customer.id, params={"name": "x"})
    assert missing.value.http_status == 404 and missing.value.code == "resource_missing"


def test_healthz_answers_without_a_key(standin: Standin) -> None:
    assert httpx.get(f"{standin.url}/healthz").json() == {"status": "ok"}


def test_a_parameter_of_the_wrong_shape_is_a_400_not_a_crash(client: stripe.StripeClient, standin: Standin) -> None:
    product = client.v1.products.create(params={"name": "Reset"})
    reply = httpx.post(
        f"{standin.url}/v1/prices",
        data={"currency": "usd", "unit_amount": "100", "product": product.id, "recurring": "monthly"},
        headers={"Authorization": "Bearer sk_test_x"},
    )
    assert reply.status_code == 400
    assert reply.json()["error"]["type"] == "invalid_request_error"
    assert "wrong shape" in reply.json()["error"]["message"]
    assert client.v1.prices.list().data == []


def test_a_request_refused_halfway_leaves_nothing_behind(client: stripe.StripeClient) -> None:
    # The product is written before its default price is validated; the refusal must undo it, as on Stripe.
    with pytest.raises(stripe.InvalidRequestError):
        client.v1.products.create(
            params={"name": "Half made", "default_price_data": {"currency": "usd", "unit_amount": "not-a-number"}}
        )
    assert client.v1.products.list().data == []
    assert client.v1.events.list().data == []
