"""Order proposals from other agents: ``POST /v1/proposals`` (idempotent by ``Idempotency-Key``) and
``GET /v1/orders/{id}`` to follow one. Nothing is sent without a human decision in the Approvals inbox."""

from __future__ import annotations

from datetime import datetime
from typing import Annotated, Literal

from fastapi import APIRouter, Depends, Header
from fastapi.responses import JSONResponse
from pydantic import BaseModel, Field

from api.errors import ERROR_RESPONSES, ApiError
from api.security import Services, token_with
from services.core.idempotency import IdempotencyStore, digest
from services.core.tokens import AccessToken
from services.trading.orders import Order
from services.trading.proposals import (
    MAX_ORDERS,
    ExternalBatch,
    ExternalOrder,
    NotYours,
    propose_external,
    proposed_order,
)

router = APIRouter(prefix="/v1", tags=["orders"], responses=ERROR_RESPONSES)
Proposer = Annotated[AccessToken, Depends(token_with("orders:propose"))]
Price = Annotated[float, Field(gt=0, allow_inf_nan=False)]


class OrderIn(BaseModel):
    """One proposed order."""

    symbol: str = Field(min_length=1, max_length=32, examples=["AAPL"])
    side: Literal["buy", "sell"]
    quantity: Price
    order_type: Literal["market", "limit"] = "market"
    limit_price: Price | None = Field(None, description="required for a limit order")
    proposal_id: str | None = Field(None, max_length=64, description="your id of this order (unique per batch)")
    rationale: str = Field("", max_length=4000, description="why this order (shown to the approver)")


class ProposalIn(BaseModel):
    """A batch of orders another agent proposes, with its rationale."""

    source: str = Field(min_length=1, max_length=40, description="the proposer, lower case",
                        examples=["agent-platform"])
    rationale: str = Field(min_length=1, max_length=4000, description="why these orders (shown to the approver)")
    orders: list[OrderIn] = Field(min_length=1, max_length=MAX_ORDERS)


class CheckOut(BaseModel):
    """One risk check with its value and limit."""

    name: str
    passed: bool
    value: float | str | None
    limit: float | str | None
    detail: str = ""


class OrderOut(BaseModel):
    """An order as its proposer may follow it."""

    id: str
    status: str = Field(description="pending_approval approved submitting submitted partially_filled filled "
                                    "rejected expired cancelled failed")
    source: str
    run_id: str
    proposal_id: str
    symbol: str
    side: str
    order_type: str
    quantity: float
    limit_price: float | None
    reference_price: float = Field(description="the console's latest stored price the gate used")
    notional: float
    checks_pass: bool = Field(description="false: an approver cannot approve it as it stands")
    checks: list[CheckOut]
    approvals_needed: int
    filled_quantity: float
    average_price: float | None
    created_at: datetime
    expires_at: datetime
    updated_at: datetime


class ProposalOut(BaseModel):
    """Where the batch landed: the run id it is filed under and each order, pending approval."""

    run_id: str
    source: str
    orders: list[OrderOut]


def _order(order: Order) -> OrderOut:
    fields = {name: getattr(order, name) for name in OrderOut.model_fields if name not in ("checks", "checks_pass")}
    return OrderOut(**fields, checks_pass=order.checks_pass, checks=[CheckOut(**c) for c in order.checks])


@router.post("/proposals", response_model=ProposalOut, status_code=201, summary="Propose orders for approval")
def propose(body: ProposalIn, token: Proposer, services: Services,
            idempotency_key: Annotated[str | None, Header(max_length=200, description=(
                "same key and body: the same answer; another body: 409"))] = None) -> JSONResponse:
    """File the orders as pending proposals after the console's risk gate (at its own prices), marked with their
    source, in the Approvals inbox. Nothing is sent until a person approves."""
    batch = ExternalBatch(body.source, body.rationale, [ExternalOrder(**o.model_dump()) for o in body.orders])

    def compute(batch_id: str | None = None) -> dict:
        prices = services.prices
        run_id, created = propose_external(services.engine, services.orders, services.orders.book, prices.quote,
                                           prices.dataset_for, token, batch, batch_id)
        return ProposalOut(run_id=run_id, source=body.source, orders=[_order(o) for o in created]).model_dump(
            mode="json")

    if idempotency_key is None:
        return JSONResponse(compute(), status_code=201)
    scope = f"proposals:{token.owner}"
    answer, replayed = IdempotencyStore(services.engine).run(
        scope, idempotency_key, digest(body.model_dump(mode="json")),
        lambda: compute(digest([scope, idempotency_key])[:12]))
    return JSONResponse(answer, status_code=201, headers={"Idempotent-Replayed": "true" if replayed else "false"})


@router.get("/orders/{order_id}", response_model=OrderOut, summary="Follow an order you proposed")
def get_order(order_id: str, token: Proposer, services: Services) -> OrderOut:
    """The order's state, fills and checks (only orders this token's owner proposed)."""
    try:
        return _order(proposed_order(services.orders, token, order_id))
    except NotYours as error:
        raise ApiError(404, "not_found", str(error)) from None
