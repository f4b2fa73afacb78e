"""/v1/orders: a trader buys a challenge. The answer carries Stripe Checkout's URL; payment arrives by webhook."""

from __future__ import annotations

from typing import Annotated

from fastapi import APIRouter, Depends, Request

from gateway.auth import require_role
from gateway.challenges_models import OrderIn, OrderOut, order_out
from gateway.routers.challenges_calls import IdempotencyKey, challenges_rpc
from libs.platform.auth import Claims

router = APIRouter(prefix="/v1/orders", tags=["orders"])
Trader = Annotated[Claims, Depends(require_role("trader"))]
Reader = Annotated[Claims, Depends(require_role("trader", "support", "admin"))]


@router.post(
    "",
    response_model=OrderOut,
    status_code=201,
    summary="Order a challenge and get its Stripe Checkout URL",
    responses={
        409: {"description": "The program version is retired, or the key was used with other parameters"},
        404: {"description": "No such program"},
    },
)
async def create_order(
    request: Request,
    body: OrderIn,
    claims: Trader,
    idempotency_key: IdempotencyKey,
) -> OrderOut:
    from dynasty.challenges.v1 import challenges_service_pb2 as pb

    reply = await challenges_rpc(
        request,
        "CreateOrder",
        pb.CreateOrderRequest(
            request_id=idempotency_key,
            program_id=body.program_id,
            program_version=body.program_version or 0,
            promotion_code=body.promotion_code or "",
            success_url=body.success_url,
            cancel_url=body.cancel_url,
        ),
        claims,
    )
    return order_out(reply.order)


@router.get("/{order_id}", response_model=OrderOut, summary="One of the caller's orders (staff: any)")
async def get_order(request: Request, order_id: str, claims: Reader) -> OrderOut:
    from dynasty.challenges.v1 import challenges_service_pb2 as pb

    reply = await challenges_rpc(request, "GetOrder", pb.GetOrderRequest(order_id=order_id), claims)
    return order_out(reply.order, reply.account_id)
