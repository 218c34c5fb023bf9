"""An in-process fake of the few Stripe endpoints Tally uses, served over real HTTP
so the official SDK talks to it exactly as it talks to api.stripe.com.

It honours `Idempotency-Key` the way Stripe does (the same key replays the first
response, without doing the work again), answers the test payment methods with
Stripe's semantics, and counts the charges it really made.
"""

from __future__ import annotations

import asyncio
import secrets
import socket
import threading
import time
from collections import Counter
from typing import Any
from urllib.parse import parse_qs

import uvicorn
from starlette.applications import Starlette
from starlette.requests import Request
from starlette.responses import JSONResponse
from starlette.routing import Route

CARDS = {
    "pm_card_visa": ("visa", "4242", None),
    "pm_card_chargeDeclined": ("visa", "0002", ("card_declined", "generic_decline")),
    "pm_card_insufficientFunds": ("visa", "9995", ("card_declined", "insufficient_funds")),
    "pm_card_authenticationRequired": ("visa", "3184", ("authentication_required", None)),
}


def _form(body: bytes) -> dict[str, Any]:
    """Stripe's form encoding: metadata[key]=value, payment_method_types[0]=card."""
    out: dict[str, Any] = {}
    for key, values in parse_qs(body.decode(), keep_blank_values=True).items():
        if "[" in key:
            head, rest = key.split("[", 1)
            out.setdefault(head, {})[rest.rstrip("]")] = values[-1]
        else:
            out[key] = values[-1]
    return out


class FakeStripe:
    def __init__(self) -> None:
        self.api_key_seen: set[str] = set()
        self.idempotent: dict[str, tuple[int, dict[str, Any]]] = {}
        self.charges: Counter[str] = Counter()  # idempotency key → real charges made
        self.intents: dict[str, dict[str, Any]] = {}
        self.refunds: list[dict[str, Any]] = []
        # Every refund request received, by idempotency key (replays and failures too).
        self.refund_requests: Counter[str] = Counter()
        self.canceled: list[str] = []  # PaymentIntents canceled, in order
        self.fail_next: int = 0  # answer 500 to the next N requests (a Stripe outage)
        self.intent_delay = 0.0  # seconds a PaymentIntent takes to answer
        self.in_flight: Counter[str] = Counter()  # Stripe customer → intents being answered
        self.max_in_flight = 0
        self.same_customer_overlap = False
        # Connect transfers made (by id), and every transfer request by idempotency key.
        self.transfers: dict[str, dict[str, Any]] = {}
        self.transfer_requests: Counter[str] = Counter()
        self.idempotent_params: dict[str, dict[str, Any]] = {}
        self.app = Starlette(
            routes=[
                Route("/v1/customers", self.customers, methods=["POST"]),
                Route("/v1/payment_methods/{pm}/attach", self.attach, methods=["POST"]),
                Route("/v1/payment_intents", self.payment_intents, methods=["POST"]),
                Route("/v1/refunds", self.create_refund, methods=["POST"]),
                Route("/v1/payment_intents/{pi}/cancel", self.cancel_intent, methods=["POST"]),
                Route("/v1/transfers", self.create_transfer, methods=["POST"]),
            ]
        )
        self.port = _free_port()
        self.url = f"http://127.0.0.1:{self.port}"
        self._server = uvicorn.Server(
            uvicorn.Config(self.app, host="127.0.0.1", port=self.port, log_level="warning")
        )
        self._thread = threading.Thread(target=self._server.run, daemon=True)

    def start(self) -> FakeStripe:
        self._thread.start()
        for _ in range(200):
            if self._server.started:
                return self
            time.sleep(0.02)
        raise RuntimeError("fake Stripe did not start")

    def stop(self) -> None:
        self._server.should_exit = True
        self._thread.join(5)

    async def _handle(
        self, request: Request, work: Any, *, strict_idempotency: bool = False
    ) -> JSONResponse:
        """`strict_idempotency` follows Stripe's rules to the letter (the endpoints that
        ask for it): a key replayed with other parameters is refused, and a request
        refused with a 4xx leaves no result under its key, so it may be sent again."""
        auth = request.headers.get("authorization", "")
        if not auth.startswith("Bearer sk_"):
            return JSONResponse(
                {"error": {"type": "invalid_request_error", "message": "Invalid API Key"}}, 401
            )
        self.api_key_seen.add(auth[7:])
        if self.fail_next > 0:
            self.fail_next -= 1
            return JSONResponse({"error": {"type": "api_error", "message": "outage"}}, 500)
        key = request.headers.get("idempotency-key")
        params = _form(await request.body())
        if key and key in self.idempotent:
            if strict_idempotency and self.idempotent_params.get(key) != params:
                return JSONResponse(
                    {
                        "error": {
                            "type": "idempotency_error",
                            "message": "Keys for idempotent requests can only be used with"
                            " the same parameters they were first used with.",
                        }
                    },
                    400,
                )
            status, body = self.idempotent[key]
            return JSONResponse(body, status, headers={"Idempotent-Replayed": "true"})
        status, body = work(params, request, key)
        if key and not (strict_idempotency and 400 <= status < 500):
            self.idempotent[key] = (status, body)
            self.idempotent_params[key] = params
        return JSONResponse(body, status)

    async def customers(self, request: Request) -> JSONResponse:
        def work(params: dict[str, Any], request: Request, key: str | None) -> tuple[int, dict]:
            return 200, {"id": "cus_" + secrets.token_hex(7), "object": "customer", **params}

        return await self._handle(request, work)

    async def attach(self, request: Request) -> JSONResponse:
        pm = request.path_params["pm"]

        def work(params: dict[str, Any], request: Request, key: str | None) -> tuple[int, dict]:
            if pm not in CARDS:
                return 400, {
                    "error": {
                        "type": "invalid_request_error",
                        "code": "resource_missing",
                        "message": f"No such PaymentMethod: '{pm}'",
                    }
                }
            brand, last4, _ = CARDS[pm]
            return 200, {
                "id": pm,
                "object": "payment_method",
                "type": "card",
                "customer": params.get("customer"),
                "card": {"brand": brand, "last4": last4, "exp_month": 12, "exp_year": 2034},
            }

        return await self._handle(request, work)

    async def payment_intents(self, request: Request) -> JSONResponse:
        customer = _form(await request.body()).get("customer", "")
        self.in_flight[customer] += 1
        self.same_customer_overlap |= self.in_flight[customer] > 1
        self.max_in_flight = max(self.max_in_flight, sum(self.in_flight.values()))
        try:
            if self.intent_delay:
                await asyncio.sleep(self.intent_delay)
            return await self._intent(request)
        finally:
            self.in_flight[customer] -= 1

    async def _intent(self, request: Request) -> JSONResponse:
        def work(params: dict[str, Any], request: Request, key: str | None) -> tuple[int, dict]:
            pm = params.get("payment_method", "")
            intent = {
                "id": "pi_" + secrets.token_hex(8),
                "object": "payment_intent",
                "amount": int(params["amount"]),
                "currency": params["currency"],
                "customer": params.get("customer"),
                "payment_method": pm,
                "metadata": params.get("metadata", {}),
                "client_secret": None,
                "last_payment_error": None,
            }
            intent["client_secret"] = intent["id"] + "_secret_" + secrets.token_hex(4)
            self.intents[intent["id"]] = intent
            _, _, failure = CARDS.get(pm, ("", "", ("card_declined", "generic_decline")))
            off_session = params.get("off_session") == "true"
            if failure is None:
                self.charges[key or intent["id"]] += 1
                intent["status"] = "succeeded"
                return 200, intent
            code, decline = failure
            if code == "authentication_required" and not off_session:
                intent["status"] = "requires_action"
                intent["next_action"] = {"type": "use_stripe_sdk"}
                return 200, intent
            error = {
                "type": "card_error",
                "code": code,
                "decline_code": decline,
                "message": "Your card was declined."
                if code == "card_declined"
                else "This payment requires authentication.",
            }
            intent["status"] = "requires_payment_method"
            intent["last_payment_error"] = error
            return 402, {"error": {**error, "payment_intent": intent}}

        return await self._handle(request, work)

    def complete_authentication(self, intent_id: str) -> bool:
        """The customer finishes 3-D Secure in the browser: the intent succeeds (and
        charges) unless it was canceled first. The caller sends the webhook."""
        intent = self.intents[intent_id]
        if intent["status"] not in ("requires_action", "requires_payment_method"):
            return False
        intent["status"], intent["last_payment_error"] = "succeeded", None
        self.charges[intent_id] += 1
        return True

    async def cancel_intent(self, request: Request) -> JSONResponse:
        pi = request.path_params["pi"]

        def work(params: dict[str, Any], request: Request, key: str | None) -> tuple[int, dict]:
            intent = self.intents.get(pi)
            if intent is None:
                return 404, {"error": {"type": "invalid_request_error", "code": "resource_missing"}}
            if intent["status"] in ("succeeded", "canceled", "processing"):
                return 400, {
                    "error": {
                        "type": "invalid_request_error",
                        "code": "payment_intent_unexpected_state",
                        "message": f"You cannot cancel this PaymentIntent because it has a"
                        f" status of {intent['status']}.",
                        "payment_intent": intent,
                    }
                }
            intent["status"] = "canceled"
            self.canceled.append(pi)
            return 200, intent

        return await self._handle(request, work)

    async def create_refund(self, request: Request) -> JSONResponse:
        self.refund_requests[request.headers.get("idempotency-key", "")] += 1

        def work(params: dict[str, Any], request: Request, key: str | None) -> tuple[int, dict]:
            intent = self.intents.get(params.get("payment_intent", ""))
            if intent is None or intent["status"] != "succeeded":
                return 400, {
                    "error": {
                        "type": "invalid_request_error",
                        "code": "charge_not_refundable",
                        "message": "This PaymentIntent has no successful charge.",
                    }
                }
            refund = {
                "id": "re_" + secrets.token_hex(8),
                "object": "refund",
                "amount": int(params["amount"]),
                "payment_intent": intent["id"],
                "status": "succeeded",
            }
            self.refunds.append(refund)
            return 200, refund

        return await self._handle(request, work)

    async def create_transfer(self, request: Request) -> JSONResponse:
        """A Connect transfer: to a destination `acct_missing…` it fails as Stripe's
        "No such destination" (a 400, not kept under the idempotency key)."""
        self.transfer_requests[request.headers.get("idempotency-key", "")] += 1

        def work(params: dict[str, Any], request: Request, key: str | None) -> tuple[int, dict]:
            destination = params.get("destination", "")
            if not destination.startswith("acct_") or destination.startswith("acct_missing"):
                return 400, {
                    "error": {
                        "type": "invalid_request_error",
                        "code": "resource_missing",
                        "param": "destination",
                        "message": f"No such destination: '{destination}'",
                    }
                }
            transfer = {
                "id": "tr_" + secrets.token_hex(8),
                "object": "transfer",
                "amount": int(params["amount"]),
                "currency": params["currency"],
                "destination": destination,
                "description": params.get("description"),
                "metadata": params.get("metadata", {}),
                "reversed": False,
            }
            self.transfers[transfer["id"]] = transfer
            return 200, transfer

        return await self._handle(request, work, strict_idempotency=True)


def _free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])
