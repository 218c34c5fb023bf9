"""Top-ups: `purchaseCredits` issues an invoice through the payments flow (the
customer's provider charges it like any other); the credits arrive when it is
paid, once, whichever way it got paid (`collection.settle` calls `grant_paid` in
the paying transaction; the sweep catches invoices paid any other way)."""

from __future__ import annotations

from datetime import datetime

from tortoise.transactions import in_transaction

from db.credit_models import CreditPurchase, CreditWallet
from db.invoice_models import Invoice
from db.models import Customer
from domain.credits import accounts, lots
from domain.credits.accounts import Account
from domain.credits.ledger_writer import Book
from domain.credits.wallets import on_wallet
from domain.errors import NotFoundError, ValidationError
from domain.ids import new_id
from domain.invoicing.service import create_invoice
from domain.money import normalise_currency
from domain.tenancy.access import Permission, Principal, Role

MAX_PURCHASE = 100_000_000


class NoCreditPrice(ValidationError):
    code = "NO_CREDIT_PRICE"


async def purchase_credits(
    principal: Principal,
    customer: str,
    credits: int,
    *,
    currency: str | None = None,
    expires_at: datetime | None = None,
) -> CreditPurchase:
    principal.require(Permission.CREDITS_PURCHASE)
    if not isinstance(credits, int) or not 0 < credits <= MAX_PURCHASE:
        raise ValidationError(f"credits must be 1-{MAX_PURCHASE:,}", field="credits")
    account = await accounts.load_account(principal.tenant_id, customer)
    if principal.customer_id is not None and account.customer_id != principal.customer_id:
        raise NotFoundError(f"no customer {customer}", field="customerId")  # not theirs
    if expires_at is not None and expires_at <= account.now:
        raise ValidationError("expiresAt must be in the future", field="expiresAt")
    row = await Customer.get(id=account.customer_id).only("id", "currency")
    code = normalise_currency(currency or row.currency)
    unit = (account.settings.unit_prices or {}).get(code)
    if unit is None:
        raise NoCreditPrice(
            f"the tenant sells no credits in {code} (set creditSettings.unitPrices)",
            field="currency",
        )
    wallet_id = await accounts.ensure_wallet(account)
    # The invoice is the tenant's own doing, whoever asked for the top-up.
    issuer = Principal(principal.tenant_id, Role.ADMIN, principal.key_id)
    async with in_transaction():
        invoice = await create_invoice(
            issuer,
            {
                "customer_id": account.customer_public_id,
                "currency": code,
                "items": [
                    {
                        "description": f"{credits:,} credits",
                        "quantity": credits,
                        "unit_price": {"currency": code, "amount_minor": unit},
                    }
                ],
                "finalize": True,
            },
            billing_reason="credit_purchase",
        )
        purchase = await CreditPurchase.create(
            public_id=new_id("credit_purchase"),
            tenant_id=principal.tenant_id,
            wallet_id=wallet_id,
            customer_id=account.customer_id,
            invoice_id=invoice.id,
            credits=credits,
            expires_at=expires_at,
            status="pending",
            created_at=account.now,
        )
        if invoice.status == "paid":  # the customer's balance covered it
            await grant_paid(invoice.id)
            await purchase.refresh_from_db()
    return purchase


async def grant_paid(invoice_id: int) -> bool:
    """Credit a paid top-up once (inside the paying transaction). Returns whether
    it granted."""
    purchase = (
        await CreditPurchase.filter(invoice_id=invoice_id, status="pending")
        .select_related("customer")
        .first()
    )
    if purchase is None:
        return False
    account = await accounts.load_account(purchase.tenant_id, purchase.customer.public_id)

    async def grant(book: Book, account: Account, wallet: CreditWallet) -> bool:
        claimed = await CreditPurchase.filter(id=purchase.id, status="pending").update(
            status="granted", granted_at=account.now
        )
        if claimed:
            await lots.add_lot(
                book,
                wallet,
                account.customer_public_id,
                "purchase",
                purchase.credits,
                expires_at=purchase.expires_at,
                entry_kind="purchase",
                settings=account.settings,
                reason=f"top-up {purchase.public_id}",
            )
        return bool(claimed)

    return bool(await on_wallet(account, grant))


async def grant_paid_sweep(limit: int = 500) -> int:
    """Top-ups whose invoice got paid by a path that does not call `grant_paid`
    (a credit note, say)."""
    ids = (
        await Invoice.filter(status="paid", credit_purchase__status="pending")
        .limit(limit)
        .values_list("id", flat=True)
    )
    granted = 0
    for invoice_id in ids:
        async with in_transaction():
            granted += await grant_paid(invoice_id)
    return granted
