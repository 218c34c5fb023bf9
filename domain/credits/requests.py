"""What a consumption (or a reservation) asks for, and the checks of its input
made before anything is read: shared by `consume.py` and `reservations.py`."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

import orjson

from domain.credits import accounts, rules
from domain.errors import ValidationError

MAX_METADATA_BYTES = 4096


@dataclass(frozen=True, slots=True)
class ConsumeRequest:
    customer: str
    module: str
    action: str
    quantity: int
    request_id: str
    metadata: dict[str, Any] | None = None


def validate(req: ConsumeRequest) -> ConsumeRequest:
    accounts.check_ref(req.customer)
    if not isinstance(req.request_id, str) or not 0 < len(req.request_id) <= 128:
        raise ValidationError("requestId must be 1-128 characters", field="requestId")
    if not isinstance(req.action, str) or not 0 < len(req.action) <= 64:
        raise ValidationError("action must be 1-64 characters", field="action")
    if not isinstance(req.module, str) or not 0 < len(req.module) <= 32:
        raise ValidationError("module must be 1-32 characters", field="module")
    rules.quantity(req.quantity)
    if req.metadata is not None:
        if not isinstance(req.metadata, dict):
            raise ValidationError("metadata must be a JSON object", field="metadata")
        if len(orjson.dumps(req.metadata)) > MAX_METADATA_BYTES:
            raise ValidationError(
                f"metadata must be at most {MAX_METADATA_BYTES} bytes", field="metadata"
            )
    return req
