"""The payload of `recordReads`: per-read outcomes, like `ingestUsageEvents`'s."""

from __future__ import annotations

import enum
from typing import Any

import strawberry

from domain.royalties.reads import ReadsReport
from schema.common import ValidationError, result_union


@strawberry.enum
class RoyaltyReadStatus(enum.StrEnum):
    ACCEPTED = "ACCEPTED"
    DUPLICATE = "DUPLICATE"
    REJECTED = "REJECTED"


@strawberry.type
class RoyaltyReadResult:
    index: int = strawberry.field(description="The read's position in `reads`, from 0.")
    request_id: str | None
    status: RoyaltyReadStatus
    error: ValidationError | None = strawberry.field(
        description="Why it was refused (UNKNOWN_WORK, PERIOD_CLOSED, REQUEST_ID_CONFLICT, …)."
    )


@strawberry.type
class RecordReadsSuccess:
    accepted: int
    duplicates: int = strawberry.field(description="Sent before with the same body: unchanged.")
    rejected: int = strawberry.field(description="Refused; nothing of them is stored.")
    results: list[RoyaltyReadResult] = strawberry.field(
        description="Each read that was not accepted, in the order sent (a clean batch: none)."
    )


def reads_view(report: ReadsReport) -> RecordReadsSuccess:
    def error(e: Any) -> ValidationError | None:
        return None if e is None else ValidationError(code=e.code, message=e.message, field=e.field)

    return RecordReadsSuccess(
        accepted=report.count("ACCEPTED"),
        duplicates=report.count("DUPLICATE"),
        rejected=report.count("REJECTED"),
        results=[
            RoyaltyReadResult(
                index=o.index,
                request_id=o.request_id,
                status=RoyaltyReadStatus(o.status),
                error=error(o.error),
            )
            for o in report.outcomes
            if o.status != "ACCEPTED"
        ],
    )


RecordReadsResult = result_union("RecordReadsResult", RecordReadsSuccess)
