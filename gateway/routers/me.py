"""/v1/me: the caller's own profile, login history and tax profile (identity answers)."""

from __future__ import annotations

from typing import Annotated

from fastapi import APIRouter, Query, Request
from pydantic import BaseModel, Field

from gateway.auth import CurrentUser, SignedIn
from gateway.identity_models import (
    TAX_FORMS,
    LoginEventList,
    TaxFormName,
    TaxProfileOut,
    UserOut,
    code_of,
    login_event_out,
    tax_profile_out,
    user_out,
)
from gateway.routers.identity_calls import identity_rpc

router = APIRouter(prefix="/v1/me", tags=["me"])


class TaxProfileIn(BaseModel):
    form: TaxFormName
    legal_name: str = Field(min_length=1, max_length=200)
    tin: str = Field(min_length=4, max_length=32, description="SSN/EIN (W-9) or foreign TIN (W-8BEN); shown masked")
    country: str = Field(pattern=r"^[A-Z]{2}$", examples=["US"])
    address: str = Field(min_length=1, max_length=500)


def _pb():
    from dynasty.identity.v1 import identity_service_pb2 as pb

    return pb


@router.get("", response_model=UserOut, summary="The caller's profile")
async def get_me(request: Request, claims: CurrentUser) -> UserOut:
    # CurrentUser, not SignedIn: staff who have not enrolled TOTP yet still need to see who they are.
    reply = await identity_rpc(request, "GetMe", _pb().GetMeRequest(), claims)
    return user_out(reply.user)


@router.get("/logins", response_model=LoginEventList, summary="The caller's login history, newest first")
async def my_logins(
    request: Request,
    claims: SignedIn,
    page_size: Annotated[int, Query(ge=1, le=200)] = 50,
    page_token: Annotated[str, Query(max_length=512)] = "",
) -> LoginEventList:
    pb = _pb()
    reply = await identity_rpc(
        request, "ListLoginEvents", pb.ListLoginEventsRequest(page_size=page_size, page_token=page_token), claims
    )
    return LoginEventList(
        events=[login_event_out(e) for e in reply.events], next_page_token=reply.next_page_token or None
    )


@router.put("/tax-profile", response_model=TaxProfileOut, summary="Record the caller's W-9 or W-8BEN details")
async def set_tax_profile(request: Request, claims: SignedIn, body: TaxProfileIn) -> TaxProfileOut:
    pb = _pb()
    reply = await identity_rpc(
        request,
        "SetTaxProfile",
        pb.SetTaxProfileRequest(
            form=code_of(TAX_FORMS, body.form),
            legal_name=body.legal_name,
            tin=body.tin,
            country=body.country,
            address=body.address,
        ),
        claims,
    )
    return tax_profile_out(reply.tax_profile)


@router.get("/tax-profile", response_model=TaxProfileOut, summary="The caller's tax profile, TIN masked")
async def get_tax_profile(request: Request, claims: SignedIn) -> TaxProfileOut:
    reply = await identity_rpc(request, "GetTaxProfile", _pb().GetTaxProfileRequest(), claims)
    return tax_profile_out(reply.tax_profile)
