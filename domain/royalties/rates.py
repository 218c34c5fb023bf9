"""The tenant's royalty exchange rates (one table per period, recorded by an admin;
nothing is fetched from the network) and its royalty settings.

A statement converts each sale currency into the payee's payout currency at the rate
recorded for the statement's period, so a period's rates are frozen once a royalty
run has started for it.
"""

from __future__ import annotations

from typing import Any

from db.models import Tenant
from db.royalty_models import RoyaltyExchangeRate
from domain import clock
from domain.errors import ValidationError
from domain.money import money_from_input, normalise_currency
from domain.royalties.balances import ExchangeRate
from domain.royalties.period_guard import require_no_run_in_progress, require_open
from domain.royalties.settings import RoyaltyPeriod, RoyaltySettings
from domain.tenancy.access import Permission, Principal
from domain.unit_of_work import operation

MAX_RATES = 200


def _pick(item: dict[str, Any], camel: str, snake: str) -> Any:
    return item.get(camel, item.get(snake))


def _clean_rates(rates: Any) -> list[ExchangeRate]:
    if not isinstance(rates, list) or not rates:
        raise ValidationError("give at least one rate", field="rates")
    if len(rates) > MAX_RATES:
        raise ValidationError(f"at most {MAX_RATES} rates a call", field="rates")
    parsed: dict[tuple[str, str], ExchangeRate] = {}
    for i, item in enumerate(rates):
        where = f"rates[{i}]"
        if not isinstance(item, dict):
            raise ValidationError("a rate is {fromCurrency, toCurrency, rate}", field=where)
        source = normalise_currency(
            _pick(item, "fromCurrency", "from_currency"), field=f"{where}.fromCurrency"
        )
        target = normalise_currency(
            _pick(item, "toCurrency", "to_currency"), field=f"{where}.toCurrency"
        )
        if source == target:
            raise ValidationError(
                "a rate converts between two currencies", field=f"{where}.toCurrency"
            )
        if (source, target) in parsed:
            raise ValidationError(
                f"{source} → {target} is given twice", field=where, code="DUPLICATE_RATE"
            )
        try:
            parsed[(source, target)] = ExchangeRate(source, target, item.get("rate"))
        except ValidationError as error:
            error.field = f"{where}.rate"
            raise
    return list(parsed.values())


@operation
async def set_exchange_rates(
    principal: Principal, period: str, rates: list[dict[str, Any]]
) -> list[RoyaltyExchangeRate]:
    """Record (or correct) the period's rates, each `1 fromCurrency = rate toCurrency`;
    rates not named stay as they are. Returns every rate of the period."""
    principal.require(Permission.ROYALTIES_MANAGE)
    name = str(RoyaltyPeriod.parse(period))
    wanted = _clean_rates(rates)
    await require_open(principal.tenant_id, RoyaltyPeriod.parse(name))
    existing = {
        (r.from_currency, r.to_currency): r
        for r in await RoyaltyExchangeRate.filter(
            tenant_id=principal.tenant_id, period=name
        ).select_for_update()
    }
    now = clock.now()
    new = []
    for rate in wanted:
        text = format(rate.rate, "f")
        row = existing.get((rate.from_currency, rate.to_currency))
        if row is None:
            new.append(
                RoyaltyExchangeRate(
                    tenant_id=principal.tenant_id,
                    period=name,
                    from_currency=rate.from_currency,
                    to_currency=rate.to_currency,
                    rate=text,
                    updated_at=now,
                )
            )
        elif row.rate != text:
            row.rate, row.updated_at = text, now
            await row.save(update_fields=["rate", "updated_at"])
    if new:
        await RoyaltyExchangeRate.bulk_create(new)
    return await list_rates(principal, name)


async def list_rates(principal: Principal, period: str) -> list[RoyaltyExchangeRate]:
    principal.require(Permission.ROYALTIES_MANAGE)
    name = str(RoyaltyPeriod.parse(period))
    return await RoyaltyExchangeRate.filter(tenant_id=principal.tenant_id, period=name).order_by(
        "from_currency", "to_currency"
    )


async def royalty_settings(principal: Principal) -> RoyaltySettings:
    principal.require(Permission.ROYALTIES_MANAGE)
    stored = await Tenant.filter(id=principal.tenant_id).values_list("royalty_settings", flat=True)
    return RoyaltySettings.of(stored[0] if stored else None)


@operation
async def update_royalty_settings(principal: Principal, raw: dict[str, Any]) -> RoyaltySettings:
    """Change the settings named in `raw` (poolRate, thresholdMinor, thresholdCurrency,
    readEventCode, or the threshold as a money input {currency, amount_minor | amount});
    the others keep their current values."""
    principal.require(Permission.ROYALTIES_MANAGE)
    await require_no_run_in_progress(principal.tenant_id)
    raw = dict(raw)
    threshold = raw.pop("threshold", None)
    if threshold is not None:
        money = money_from_input(
            currency=threshold.get("currency"),
            amount_minor=threshold.get("amount_minor", threshold.get("amountMinor")),
            amount=threshold.get("amount"),
            field="threshold",
        )
        raw["thresholdMinor"], raw["thresholdCurrency"] = money.amount_minor, money.currency
    tenant = await Tenant.select_for_update().get(id=principal.tenant_id)
    current = RoyaltySettings.of(tenant.royalty_settings)
    merged = {
        "poolRate": current.pool_rate,
        "thresholdMinor": current.threshold_minor,
        "thresholdCurrency": current.threshold_currency,
        "readEventCode": current.read_event_code,
        **{k: v for k, v in raw.items() if v is not None},
    }
    if "thresholdCurrency" in raw and raw["thresholdCurrency"] is not None:
        merged["thresholdCurrency"] = normalise_currency(
            raw["thresholdCurrency"], field="thresholdCurrency"
        )
    settings = RoyaltySettings.parse(merged)
    tenant.royalty_settings = settings.stored()
    tenant.updated_at = clock.now()
    await tenant.save(update_fields=["royalty_settings", "updated_at"])
    return settings
